//! llmtop against a real Prometheus server: both scrape the same demo gateway at the same time,
//! and `llmtop snapshot`'s figures must match what Prometheus answers for the same PromQL at the
//! same evaluation time (`time=` = the snapshot's `at`).
//!
//! Needs `/usr/bin/prometheus` (Debian's `prometheus` package, 2.42 — the release `src/promql.rs`
//! mirrors). Without it the test is skipped locally and fails on CI (`CI` set): `.ci/run` installs it.
//!
//! Why the figures can differ at all: Prometheus and llmtop each scrape every second, but at
//! different instants (an unknown phase in [0, 1 s)), so their 20 s windows hold different samples.
//! Over a steady stretch of traffic both `rate()`s estimate the same average, and what separates
//! them is the requests that completed in the sub-second edges one window has and the other lacks:
//! Poisson noise of about `sqrt(rate × 1 s)` requests, divided by the window. The tolerances below
//! are derived from that (see [`Tolerances`]) rather than picked until green.
use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use llmtop::demo::{self, DemoConfig};
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// The range of every query and llmtop's `--for`.
const WINDOW_SECONDS: f64 = 20.0;
const WINDOW: &str = "20s";
/// Scrape interval of both scrapers.
const INTERVAL_SECONDS: f64 = 1.0;
/// Synthetic request rate of the demo gateway outside bursts.
const BASE_RPS: f64 = 50.0;
/// At 50 req/s this seed's first burst (3× traffic) starts 44.8 s after the gateway starts and no
/// error spell happens in the first 90 s (virtual time, which tracks the wall clock): the whole
/// comparison (≈ 25–30 s) sees steady traffic, so the tolerances measure scrape-phase noise and
/// not a burst edge that one scraper caught and the other did not. If the simulator changes, the
/// steadiness check below says so instead of failing on a tolerance.
const SEED: u64 = 65;
/// `prometheus_client`'s default buckets, which the demo gateway exports.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How far llmtop may be from Prometheus.
///
/// A window holds `N = rate × 20 s` requests; the two windows differ by the requests inside
/// about one scrape interval at each end, which is Poisson with standard deviation
/// `σ ≈ sqrt(rate × 1 s)`, so the rates differ by about `σ / 20 s`. Every rate is allowed
/// [`Tolerances::SIGMAS`] of that plus [`Tolerances::RATE_RELATIVE`] for everything that is not
/// Poisson (the demo completes requests in 100 ms batches, the windows span 19–20 s).
struct Tolerances;

impl Tolerances {
    /// Standard deviations of the edge noise allowed. 5σ: a false alarm about once in 10⁶
    /// comparisons for Gaussian noise; the observed differences stay under 2σ.
    const SIGMAS: f64 = 5.0;
    /// Plus this much relative error on every rate.
    const RATE_RELATIVE: f64 = 0.01;
    /// Error ratio, absolute: errors are ~1.5 % of requests, so a relative bound is meaningless;
    /// the ratio moves by `Δerrors / N`, and the edges hold at most a couple of errors out of
    /// ~1000 requests.
    const ERROR_RATIO_ABSOLUTE: f64 = 0.005;
    /// p95, as a fraction of the width of the bucket Prometheus' p95 falls in: histogram_quantile
    /// interpolates linearly inside that bucket, so a few requests more or less in it move the
    /// estimate in proportion to the bucket's width, not to the value.
    const P95_BUCKET_FRACTION: f64 = 0.2;

    /// Allowed |llmtop − Prometheus| for a rate of about `rate` req/s.
    fn rate(rate: f64) -> f64 {
        let sigma_requests = (rate.max(0.0) * INTERVAL_SECONDS).sqrt();
        Self::SIGMAS * sigma_requests / WINDOW_SECONDS + Self::RATE_RELATIVE * rate
    }
}

/// True on CI, where a missing Prometheus is an error of `.ci/run`, not a reason to skip.
fn on_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

fn unique_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("llmtop-{tag}-{}-{nanos}", std::process::id()))
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A Prometheus server in its own temp dir; killed (and the dir removed) on every path, panics
/// included.
struct PrometheusServer {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl PrometheusServer {
    fn log(&self) -> String {
        tail(&self.dir.join("prometheus.log"), 30)
    }

    /// Starts Prometheus scraping `target` (host:port) every second and waits for `/-/ready`.
    /// Retries on another port if the chosen one was taken between probing and binding.
    fn start(rt: &tokio::runtime::Runtime, http: &reqwest::Client, target: SocketAddr) -> Self {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = unique_dir("prometheus");
            std::fs::create_dir_all(dir.join("data")).expect("create the Prometheus temp dir");
            // scrape_timeout must not exceed scrape_interval; honor_timestamps keeps its default
            // (the demo exports no timestamps, so every sample is stamped with its scrape's start).
            let config = format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1m\n\
                 scrape_configs:\n  - job_name: llmtop-demo\n    static_configs:\n      - targets: ['{target}']\n"
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
                let ready = rt.block_on(async {
                    http.get(format!("{}/-/ready", server.base))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                });
                if ready {
                    return server;
                }
                assert!(
                    Instant::now() < deadline,
                    "Prometheus not ready within 20 s:\n{}",
                    server.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("Prometheus did not start in 3 attempts; last one {last_log}");
    }

    /// `GET /api/v1/…` with query parameters; panics with Prometheus' error and log on failure.
    fn api(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        path: &str,
        params: &[(&str, &str)],
    ) -> Value {
        let url = url::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .expect("a valid API URL");
        let body: Value = rt
            .block_on(async { http.get(url.clone()).send().await?.json().await })
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log()));
        assert_eq!(body["status"], "success", "GET {url}: {body}");
        body["data"].clone()
    }

    /// An instant query at `time` (RFC 3339): the vector's elements as (labels, value).
    fn query(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        promql: &str,
        time: &str,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let data = self.api(
            rt,
            http,
            "/api/v1/query",
            &[("query", promql), ("time", time)],
        );
        assert_eq!(data["resultType"], "vector", "{promql}: {data}");
        data["result"]
            .as_array()
            .expect("a result array")
            .iter()
            .map(|element| {
                let labels = element["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                // Values are strings so that NaN and ±Inf survive JSON.
                let value = element["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{promql}: bad value in {element}"));
                (labels, value)
            })
            .collect()
    }

    /// The single value of an aggregated query (`None` when the vector is empty).
    fn scalar(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        promql: &str,
        time: &str,
    ) -> Option<f64> {
        let result = self.query(rt, http, promql, time);
        assert!(result.len() <= 1, "{promql}: more than one element");
        result.first().map(|(_, v)| *v)
    }

    /// Waits until Prometheus reports the target up with at least `samples` scrapes of it.
    fn wait_for_target(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        samples: usize,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let targets = self.api(rt, http, "/api/v1/targets", &[("state", "active")]);
            let up = targets["activeTargets"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t["health"] == "up"));
            let now = now_rfc3339();
            let scrapes = if up {
                self.scalar(rt, http, "count_over_time(up[1m])", &now)
                    .unwrap_or(0.0)
            } else {
                0.0
            };
            if scrapes >= samples as f64 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the demo target is not up in Prometheus after {within:?} \
                 ({scrapes} scrapes): {targets}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until Prometheus holds a scrape newer than `time` (unix seconds), so every scrape
    /// up to `time` has been committed before we query at it.
    fn wait_past(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        time: f64,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let newest = self.scalar(rt, http, "max(timestamp(up))", &now_rfc3339());
            if newest.is_some_and(|t| t > time) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus has no scrape after {time} within {within:?} (newest {newest:?})\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Runs `llmtop snapshot` against `metrics_url`, bounded in time; returns its JSON.
fn llmtop_snapshot(metrics_url: &str) -> Value {
    let dir = unique_dir("snapshot");
    std::fs::create_dir_all(&dir).expect("create the snapshot temp dir");
    let stdout_path = dir.join("stdout.json");
    let stderr_path = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["snapshot", metrics_url, "--for", WINDOW, "--interval", "1s"])
        .args(["--timeout", "900ms", "--format", "json"])
        .env("LLMTOP_LOG_FILE", dir.join("llmtop.log"))
        .env_remove("LLMTOP_DIALECT")
        .env_remove("LLMTOP_HEADER")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create stdout file"))
        .stderr(File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .expect("start llmtop");
    let deadline = Instant::now() + Duration::from_secs(WINDOW_SECONDS as u64 + 20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for llmtop") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "llmtop snapshot did not finish in time:\n{}",
                tail(&stderr_path, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = tail(&stderr_path, 30);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "llmtop snapshot failed ({status}):\n{stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("llmtop printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

fn number(v: &Value, what: &str, snapshot: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("llmtop has no number for {what}: {snapshot:#}"))
}

/// The width of the bucket `value` falls in (the top finite bucket for +Inf's clamp).
fn bucket_width(value: f64) -> f64 {
    let upper = BUCKETS
        .iter()
        .position(|&b| value <= b)
        .unwrap_or(BUCKETS.len() - 1);
    let lower = if upper == 0 { 0.0 } else { BUCKETS[upper - 1] };
    BUCKETS[upper] - lower
}

/// One compared figure: both values, the difference and what was allowed.
struct Row {
    figure: String,
    llmtop: f64,
    prometheus: f64,
    allowed: f64,
}

impl Row {
    fn diff(&self) -> f64 {
        (self.llmtop - self.prometheus).abs()
    }
    fn relative(&self) -> f64 {
        if self.prometheus == 0.0 {
            if self.llmtop == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            self.diff() / self.prometheus.abs()
        }
    }
    fn ok(&self) -> bool {
        self.diff() <= self.allowed
    }
}

#[test]
fn llmtop_matches_prometheus_on_the_same_gateway() {
    if !Path::new(PROMETHEUS).exists() {
        if on_ci() {
            panic!(
                "{PROMETHEUS} is missing on CI: .ci/run should install Debian's `prometheus` \
                 package before the tests (apt-get install -y --no-install-recommends prometheus)"
            );
        }
        eprintln!(
            "SKIPPED llmtop_matches_prometheus_on_the_same_gateway: {PROMETHEUS} not found \
             (apt-get install -y --no-install-recommends prometheus to run it)"
        );
        return;
    }
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");

    let gateway = rt
        .block_on(demo::spawn(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            DemoConfig {
                seed: Some(SEED),
                traffic: true,
                latency_scale: 1.0,
                requests_per_second: BASE_RPS,
            },
        ))
        .expect("start the demo gateway");
    let metrics_url = format!("{}/metrics", gateway.base_url());

    let prometheus = PrometheusServer::start(&rt, &http, gateway.addr());
    // Three scrapes: Prometheus' data then starts ≥ 2 s before llmtop's first scrape, so its
    // 20 s window is as full as llmtop's (a series starting inside the window would only be
    // extrapolated half an interval back and understate the rate).
    prometheus.wait_for_target(&rt, &http, 3, Duration::from_secs(15));
    let ready_after = started.elapsed();

    let snapshot = llmtop_snapshot(&metrics_url);
    let at = snapshot["at"]
        .as_str()
        .unwrap_or_else(|| panic!("llmtop snapshot has no `at`: {snapshot:#}"))
        .to_string();
    let at_unix = chrono::DateTime::parse_from_rfc3339(&at)
        .unwrap_or_else(|e| panic!("`at` {at:?} is not RFC 3339: {e}"))
        .timestamp_millis() as f64
        / 1000.0;
    prometheus.wait_past(&rt, &http, at_unix, Duration::from_secs(5));
    let scrapes = snapshot["scrapes"].as_u64().unwrap_or(0);
    assert!(
        scrapes >= WINDOW_SECONDS as u64 - 1,
        "llmtop scraped only {scrapes} times in {WINDOW}: {snapshot:#}"
    );

    let q = |promql: &str| prometheus.scalar(&rt, &http, promql, &at);
    let prom_rps = q(&format!("sum(rate(deepseek_requests_total[{WINDOW}]))"))
        .expect("Prometheus has a request rate");
    let prom_error_ratio = q(&format!(
        "sum(rate(deepseek_requests_total{{status=\"error\"}}[{WINDOW}])) \
         / sum(rate(deepseek_requests_total[{WINDOW}]))"
    ))
    // No error series yet in the window: the ratio is 0, as llmtop reports it.
    .unwrap_or(0.0);
    let prom_p95 = q(&format!(
        "histogram_quantile(0.95, sum by (le) (rate(deepseek_request_latency_seconds_bucket[{WINDOW}])))"
    ))
    .expect("Prometheus has a p95");
    let prom_models: BTreeMap<String, f64> = prometheus
        .query(
            &rt,
            &http,
            &format!("sum by (model) (rate(deepseek_requests_total[{WINDOW}]))"),
            &at,
        )
        .into_iter()
        .map(|(labels, v)| (labels.get("model").cloned().unwrap_or_default(), v))
        .collect();
    let prom_scrapes = q(&format!("count_over_time(up[{WINDOW}])")).unwrap_or(0.0);
    let prom_buckets = prometheus.query(
        &rt,
        &http,
        &format!("sum by (le) (rate(deepseek_request_latency_seconds_bucket[{WINDOW}]))"),
        &at,
    );
    drop(prometheus);
    rt.block_on(gateway.shutdown());

    let totals = &snapshot["totals"];
    let llmtop_rps = number(
        &totals["requests_per_second"],
        "totals.requests_per_second",
        &snapshot,
    );
    // Steady traffic is this test's premise (see SEED): a burst would triple the rate.
    assert!(
        (0.6 * BASE_RPS..1.4 * BASE_RPS).contains(&prom_rps),
        "traffic was not steady ({prom_rps:.1} req/s for a base of {BASE_RPS}): the demo \
         simulator changed and seed {SEED} now has a burst or spell in the window; pick a seed \
         whose first burst starts after ~40 s"
    );

    let mut rows = vec![
        Row {
            figure: "total requests_per_second".into(),
            llmtop: llmtop_rps,
            prometheus: prom_rps,
            allowed: Tolerances::rate(prom_rps),
        },
        Row {
            figure: "total error_ratio".into(),
            llmtop: number(&totals["error_ratio"], "totals.error_ratio", &snapshot),
            prometheus: prom_error_ratio,
            allowed: Tolerances::ERROR_RATIO_ABSOLUTE,
        },
        Row {
            figure: "total latency p95 (s)".into(),
            llmtop: number(&totals["latency_seconds"]["p95"], "totals p95", &snapshot),
            prometheus: prom_p95,
            allowed: Tolerances::P95_BUCKET_FRACTION * bucket_width(prom_p95),
        },
    ];
    let llmtop_models: BTreeMap<String, f64> = snapshot["models"]
        .as_array()
        .expect("a models array")
        .iter()
        .filter_map(|m| {
            Some((
                m["model"].as_str()?.to_string(),
                m["requests_per_second"].as_f64()?,
            ))
        })
        .collect();
    assert_eq!(
        llmtop_models.keys().collect::<Vec<_>>(),
        prom_models.keys().collect::<Vec<_>>(),
        "llmtop and Prometheus see different models"
    );
    for (model, prom) in &prom_models {
        rows.push(Row {
            figure: format!("{model} requests_per_second"),
            llmtop: llmtop_models[model],
            prometheus: *prom,
            allowed: Tolerances::rate(*prom),
        });
    }

    println!(
        "prometheus_compare: at {at}, window {WINDOW}, llmtop {scrapes} scrapes, Prometheus \
         {prom_scrapes} scrapes in the window; ready after {ready_after:.1?}, total {:.1?}",
        started.elapsed()
    );
    println!(
        "{:<36} {:>12} {:>12} {:>10} {:>8} {:>10}",
        "figure", "llmtop", "prometheus", "|diff|", "rel", "allowed"
    );
    for r in &rows {
        println!(
            "{:<36} {:>12.5} {:>12.5} {:>10.5} {:>7.2}% {:>10.5}{}",
            r.figure,
            r.llmtop,
            r.prometheus,
            r.diff(),
            100.0 * r.relative(),
            r.allowed,
            if r.ok() { "" } else { "  <-- OUT OF TOLERANCE" }
        );
    }
    let buckets: Vec<String> = prom_buckets
        .iter()
        .map(|(labels, v)| format!("le={}:{v:.3}", labels.get("le").map_or("?", |s| s.as_str())))
        .collect();
    println!("prometheus bucket rates: {}", buckets.join(" "));

    let failed: Vec<&Row> = rows.iter().filter(|r| !r.ok()).collect();
    assert!(
        failed.is_empty(),
        "llmtop differs from Prometheus beyond tolerance on: {}\nsnapshot: {snapshot:#}",
        failed
            .iter()
            .map(|r| format!(
                "{} (llmtop {}, Prometheus {}, allowed ±{})",
                r.figure, r.llmtop, r.prometheus, r.allowed
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the comparison took {:?}: over its 60 s budget",
        started.elapsed()
    );
}
