//! Test support shared by the integration tests that run a real Prometheus server
//! (`tests/prometheus_compare.rs`, `tests/fleet.rs`): temp dirs, free ports, and the server itself;
//! and the scratch dirs and long-lived demo gateway of the binary tests (`probe_cmd`, `bench_cmd`).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Debian's `prometheus` package (2.42, the release `src/promql.rs` follows).
pub const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Prometheus' rule checker, from the same Debian package.
pub const PROMTOOL: &str = "/usr/bin/promtool";

/// True on CI, where a missing Prometheus is an error of `.ci/run`, not a reason to skip.
pub fn on_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

pub fn unique_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("llmtop-{tag}-{}-{nanos}", std::process::id()))
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A Prometheus server in its own temp dir; killed (and the dir removed) on every path, panics
/// included.
pub struct PrometheusServer {
    child: Child,
    dir: PathBuf,
    pub base: String,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl PrometheusServer {
    pub fn log(&self) -> String {
        tail(&self.dir.join("prometheus.log"), 30)
    }

    /// Starts Prometheus scraping `targets` (host:port) every second as job `job` and waits for
    /// `/-/ready`. Retries on another port if the chosen one was taken between probing and binding.
    pub async fn start(http: &reqwest::Client, job: &str, targets: &[SocketAddr]) -> Self {
        Self::start_with_rules(http, job, targets, None).await
    }

    /// [`PrometheusServer::start`] with a rule file loaded and evaluated every second.
    pub async fn start_with_rules(
        http: &reqwest::Client,
        job: &str,
        targets: &[SocketAddr],
        rules: Option<&Path>,
    ) -> Self {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = unique_dir("prometheus");
            std::fs::create_dir_all(dir.join("data")).expect("create the Prometheus temp dir");
            let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            // scrape_timeout must not exceed scrape_interval; honor_timestamps keeps its default
            // (the demo exports no timestamps, so every sample is stamped with its scrape's start).
            let rule_files = match rules {
                Some(path) => {
                    std::fs::copy(path, dir.join("rules.yml")).expect("copy the rule file");
                    "rule_files: ['rules.yml']\n"
                }
                None => "",
            };
            let config = format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: {}\n\
                 {rule_files}scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                if rules.is_some() { "1s" } else { "1m" },
                list.join(", ")
            );
            std::fs::write(dir.join("prometheus.yml"), config).expect("write prometheus.yml");
            let port = free_port();
            let log = File::create(dir.join("prometheus.log")).expect("create the Prometheus log");
            let child = Command::new(PROMETHEUS)
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone the log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {PROMETHEUS}: {e}"));
            let mut server = PrometheusServer {
                child,
                dir,
                base: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(status)) = server.child.try_wait() {
                    last_log = format!("exited with {status}:\n{}", server.log());
                    break;
                }
                let ready = http
                    .get(format!("{}/-/ready", server.base))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return server;
                }
                assert!(
                    Instant::now() < deadline,
                    "Prometheus not ready within 20 s:\n{}",
                    server.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("Prometheus did not start in 3 attempts; last one {last_log}");
    }
}

/// A scratch directory holding an empty `config.toml` (so the user's own price overrides stay out
/// of the arithmetic), removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "llmtop-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        std::fs::write(dir.join("config.toml"), "").expect("write an empty config");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A demo gateway (`config`) on a runtime of its own that is never shut down, so it serves while
/// tests block on the real binary; returns the runtime (keep it alive) and the base URL.
pub fn demo_forever(config: llmtop::io::demo::DemoConfig) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let gw = runtime
        .block_on(llmtop::io::demo::spawn(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            config,
        ))
        .expect("demo gateway starts");
    let base = gw.base_url();
    std::mem::forget(gw);
    (runtime, base)
}

/// An insta snapshot kept under `tests/snapshots/` with the name it had when each test file was
/// its own binary (`dashboard_render__dashboard_120x40`), so folding the tests into one binary
/// changed no snapshot file.
pub fn assert_snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A session as the dashboard starts one: the config file loaded once (from `--config` or the
/// default place), then the session from the command line's target flags.
pub async fn session(
    args: &llmtop::app::cli::TargetArgs,
) -> anyhow::Result<llmtop::runtime::session::Session> {
    let config = llmtop::io::config::Config::load(args.config.as_deref())?;
    llmtop::runtime::session::Session::new(&args.into(), &config).await
}

/// The config a command sees when no `--config` is given.
pub fn default_config() -> llmtop::io::config::Config {
    llmtop::io::config::Config::load(None).expect("the default config loads")
}

/// A tiny HTTP/1.1 server on 127.0.0.1: `answer(path)` gives status and body; `None` hangs.
pub fn serve(answer: fn(&str) -> Option<(u16, String)>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                match answer(&path) {
                    Some((status, body)) => {
                        let mut s = stream;
                        let _ = write!(
                            s,
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    None => std::thread::sleep(Duration::from_secs(30)),
                }
            });
        }
    });
    port
}

/// A metrics fixture's text (`tests/fixtures/metrics/NAME.prom`).
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/metrics/{name}.prom",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}
