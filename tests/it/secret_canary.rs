//! Canary secrets through every output path: an API key (environment), a bearer token (file) and a
//! header value (`--header`) are really sent, and none of them ever appears on stdout, stderr, the
//! dashboard screen, the log file at trace level, a `--record` file, any other file the process
//! writes under its HOME, or the `Debug` of the structs that hold them.
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

const API_KEY: &str = "sk-canary-7f3a9c1e5b-apikey";
const TOKEN: &str = "canary-bearer-5d2b8e4f61";
const HEADER_VALUE: &str = "canary-header-9a6c3d7b20";
/// The distinctive middle of each canary: a truncated or re-quoted copy still contains it.
/// A password written into the target URL (reqwest sends it as basic auth).
const URL_PASSWORD: &str = "urlpw-3e8d1c0a77";
const CORES: [&str; 4] = ["7f3a9c1e5b", "5d2b8e4f61", "9a6c3d7b20", "3e8d1c0a77"];
const SEED: &str = include_str!("../fixtures/metrics/seed.prom");

/// A private HOME for one run: logs, state, config and records land here and are all scanned.
struct Sandbox {
    dir: PathBuf,
    token_file: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("llmtop-canary-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        let token_file = dir.join("secrets").join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        Self { dir, token_file }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmtop"));
        cmd.args(args);
        self.environment(|k, v| {
            cmd.env(k, v);
        });
        for var in [
            "OPENAI_API_KEY",
            "LLMTOP_API_KEY_FILE",
            "LLMTOP_CONFIG",
            "LLMTOP_INSECURE",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn environment(&self, mut set: impl FnMut(&str, &Path)) {
        set("HOME", &self.dir);
        set("XDG_STATE_HOME", &self.dir.join("state"));
        set("XDG_CONFIG_HOME", &self.dir.join("config"));
        set("XDG_CACHE_HOME", &self.dir.join("cache"));
        set("XDG_DATA_HOME", &self.dir.join("data"));
        set("LLMTOP_LOG_FILE", &self.dir.join("llmtop.log"));
        set("LLMTOP_LOG", Path::new("trace"));
        set("LLMTOP_API_KEY", Path::new(API_KEY));
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert_clean(&format!("stdout of {args:?}"), &out.stdout);
        assert_clean(&format!("stderr of {args:?}"), &out.stderr);
        out
    }

    /// Every file the runs left, except the secret files themselves.
    fn assert_files_clean(&self) {
        let mut stack = vec![self.dir.clone()];
        let mut scanned = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path != self.dir.join("secrets") {
                        stack.push(path);
                    }
                } else {
                    assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
                    scanned += 1;
                }
            }
        }
        assert!(scanned >= 1, "no file was written at all");
        assert!(
            std::fs::read_to_string(self.path("llmtop.log"))
                .unwrap()
                .len()
                > 100,
            "the trace log is being written"
        );
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for core in CORES {
        assert!(
            !text.contains(core),
            "a canary ({core}) leaked into {what}:\n{text}"
        );
    }
    assert!(!text.contains("panicked"), "{what} has a panic:\n{text}");
}

/// A gateway that demands the canaries, then answers; error routes echo every request header back,
/// as careless gateways do, to check that echoes are scrubbed too.
struct Hostile {
    addr: SocketAddr,
    /// (path, Authorization, X-Canary) of each request.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    _runtime: tokio::runtime::Runtime,
}

fn echo(headers: &HeaderMap) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("; ")
}

fn hostile() -> Hostile {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let record = seen.clone();
    let addr = runtime.block_on(async move {
        let app = Router::new()
            .route(
                "/metrics",
                get(|headers: HeaderMap| async move {
                    if headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())
                        != Some(format!("Bearer {TOKEN}").as_bytes())
                    {
                        return (StatusCode::UNAUTHORIZED, echo(&headers)).into_response();
                    }
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], SEED).into_response()
                }),
            )
            .route(
                "/echo/metrics",
                get(|headers: HeaderMap| async move {
                    (StatusCode::UNAUTHORIZED, echo(&headers)).into_response()
                }),
            )
            .route(
                "/v1/chat/completions",
                post(|headers: HeaderMap| async move {
                    let body = serde_json::json!({
                        "error": {"message": format!("refused: {}", echo(&headers)), "type": "invalid_request_error"}
                    });
                    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
                }),
            )
            .route(
                "/v1/models",
                get(|headers: HeaderMap| async move {
                    (StatusCode::UNAUTHORIZED, echo(&headers)).into_response()
                }),
            )
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let record = record.clone();
                    async move {
                        let entry = {
                            let get = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                                    .unwrap_or_default()
                            };
                            (req.uri().path().to_string(), get("authorization"), get("x-canary"))
                        };
                        record.lock().unwrap().push(entry);
                        next.run(req).await
                    }
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    });
    Hostile {
        addr,
        seen,
        _runtime: runtime,
    }
}

const CANARY_HEADER: &str = "X-Canary: canary-header-9a6c3d7b20";

#[test]
fn snapshot_in_every_format_and_its_error_paths() {
    let sandbox = Sandbox::new("snapshot");
    let gateway = hostile();
    let token = sandbox.token_file.to_str().unwrap().to_string();
    let url = format!("http://{}/metrics", gateway.addr);
    for format in ["json", "csv", "table"] {
        let record = sandbox.path(&format!("snapshot-{format}.record"));
        let out = sandbox.run(&[
            "snapshot",
            &url,
            "--for",
            "1s",
            "--format",
            format,
            "-H",
            CANARY_HEADER,
            "--bearer-token-file",
            &token,
            "--record",
            record.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("gpt-4o"),
            "{format}: the scrape worked:\n{stdout}"
        );
        assert!(std::fs::metadata(&record).unwrap().len() > 0);
    }
    let replayed = sandbox.run(&[
        "snapshot",
        "--from",
        sandbox.path("snapshot-json.record").to_str().unwrap(),
    ]);
    assert!(replayed.status.success(), "{replayed:?}");
    // The secrets were really sent: the test would notice a leak, not a missing send.
    {
        let seen = gateway.seen.lock().unwrap();
        assert!(seen.len() >= 3);
        assert!(
            seen.iter()
                .all(|(_, auth, canary)| auth == &format!("Bearer {TOKEN}")
                    && canary == HEADER_VALUE)
        );
    }
    // 401 with every header echoed in the body, and the bearer token from the environment.
    let echo_url = format!("http://{}/echo/metrics", gateway.addr);
    let out = sandbox
        .command(&["snapshot", &echo_url, "--for", "1s", "-H", CANARY_HEADER])
        .args(["--bearer-token-env", "CANARY_TOKEN"])
        .env("CANARY_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_clean("stdout of the 401 snapshot", &out.stdout);
    assert_clean("stderr of the 401 snapshot", &out.stderr);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["warnings"]
            .to_string()
            .contains("HTTP 401: the bearer token in $CANARY_TOKEN was rejected"),
        "{json}"
    );
    // A password in the URL: sent as basic auth (refused here), shown nowhere.
    let with_password = format!("http://ops:{URL_PASSWORD}@{}/metrics", gateway.addr);
    let out = sandbox.run(&["snapshot", &with_password, "--for", "1s"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["target"],
        format!("http://ops@{}/metrics", gateway.addr)
    );
    assert!(json["warnings"].to_string().contains("HTTP 401"), "{json}");
    assert!(
        gateway
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|(_, auth, _)| auth.starts_with("Basic ")),
        "the URL's credentials were sent"
    );
    // A header the command line refuses must not be echoed in the refusal either.
    let out = sandbox.run(&[
        "snapshot",
        &url,
        "--for",
        "1s",
        "-H",
        "X-Canary canary-header-9a6c3d7b20",
    ]);
    assert!(!out.status.success());
    sandbox.assert_files_clean();
}

#[test]
fn probe_success_and_error_paths() {
    let sandbox = Sandbox::new("probe");
    for format in ["text", "json"] {
        for stream in [false, true] {
            let mut args = vec![
                "probe",
                "--demo",
                "--model",
                "gpt-4o-mini",
                "--format",
                format,
                "-H",
                CANARY_HEADER,
            ];
            if stream {
                args.push("--stream");
            }
            let out = sandbox.run(&args);
            assert!(out.status.success(), "{out:?}");
        }
    }
    // The demo's 401 and an unknown model (404, then the model list is fetched with the key).
    let out = sandbox.run(&[
        "probe",
        "--demo",
        "--model",
        "gpt-4o-mini",
        "-H",
        CANARY_HEADER,
        "-H",
        "x-llmtop-demo-fault: status=401",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );
    let out = sandbox.run(&[
        "probe",
        "--demo",
        "--model",
        "no-such-model",
        "-H",
        CANARY_HEADER,
    ]);
    assert!(!out.status.success());
    // A gateway that echoes the key and every header in its error body.
    let gateway = hostile();
    let base = format!("http://{}", gateway.addr);
    for format in ["text", "json"] {
        let out = sandbox.run(&[
            "probe",
            "--api-base",
            &base,
            "--model",
            "m",
            "--format",
            format,
            "-H",
            CANARY_HEADER,
            "--retries",
            "0",
        ]);
        assert!(!out.status.success());
        let both = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            both.contains("x-canary: <redacted>")
                && both.contains("authorization: Bearer <redacted>"),
            "the echo reached the report, scrubbed:\n{both}"
        );
    }
    let seen = gateway.seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|(path, auth, canary)| path == "/v1/chat/completions"
                && auth == &format!("Bearer {API_KEY}")
                && canary == HEADER_VALUE)
    );
    drop(seen);
    sandbox.assert_files_clean();
}

#[test]
fn bench_outputs_and_record_file() {
    let sandbox = Sandbox::new("bench");
    let record = sandbox.path("bench.record");
    let record = record.to_str().unwrap();
    for format in ["text", "json", "csv"] {
        let out = sandbox.run(&[
            "bench",
            "--demo",
            "--model",
            "gpt-4o-mini",
            "-n",
            "4",
            "-c",
            "2",
            "--stream",
            "--format",
            format,
            "-H",
            CANARY_HEADER,
            "--record",
            record,
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let out = sandbox.run(&[
        "bench",
        "--demo",
        "--model",
        "gpt-4o-mini",
        "-n",
        "3",
        "-H",
        CANARY_HEADER,
        "-H",
        "x-llmtop-demo-fault: status=401",
        "--record",
        record,
    ]);
    assert!(
        out.status.success(),
        "a bench reports failures, it does not fail: {out:?}"
    );
    let gateway = hostile();
    let base = format!("http://{}", gateway.addr);
    let out = sandbox.run(&[
        "bench",
        "--api-base",
        &base,
        "--model",
        "m",
        "-n",
        "2",
        "--format",
        "json",
        "-H",
        CANARY_HEADER,
        "--record",
        record,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::metadata(record).unwrap().len() > 0);
    sandbox.assert_files_clean();
}

/// The dashboard in a real pty: scrape with the token and header, a probe with the key (`p`), help.
#[test]
fn dashboard_screen_and_record_file() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let sandbox = Sandbox::new("tui");
    let record = sandbox.path("tui.record");
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.args([
        "--demo",
        "--model",
        "gpt-4o-mini",
        "--interval",
        "500ms",
        "-H",
        CANARY_HEADER,
    ]);
    cmd.arg("--bearer-token-file");
    cmd.arg(&sandbox.token_file);
    cmd.arg("--record");
    cmd.arg(&record);
    cmd.env("TERM", "xterm-256color");
    sandbox.environment(|k, v| cmd.env(k, v));
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let raw = Arc::new(Mutex::new(Vec::new()));
    let parser = Arc::new(Mutex::new(vt100::Parser::new(40, 160, 0)));
    let (raw_sink, screen_sink) = (raw.clone(), parser.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            raw_sink.lock().unwrap().extend_from_slice(&buf[..n]);
            screen_sink.lock().unwrap().process(&buf[..n]);
        }
    });
    let wait_for = |what: &str| {
        let start = Instant::now();
        loop {
            let screen = parser.lock().unwrap().screen().contents();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("LIVE");
    writer.write_all(b"p").unwrap();
    writer.flush().unwrap();
    wait_for("✓ 200");
    writer.write_all(b"?").unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_clean(
        "the screen",
        parser.lock().unwrap().screen().contents().as_bytes(),
    );
    writer.write_all(b"?q").unwrap();
    writer.flush().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "llmtop did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_clean("everything written to the terminal", &raw.lock().unwrap());
    assert!(
        std::fs::metadata(&record).unwrap().len() > 0,
        "the record was written"
    );
    sandbox.assert_files_clean();
}

/// `Debug` of what holds the secrets: the parsed command line, the config, the session's target,
/// the key, and a probe request.
#[tokio::test]
async fn debug_output_of_the_structs_that_hold_secrets() {
    use clap::Parser;
    let sandbox = Sandbox::new("debug");
    let key_file = sandbox.path("secrets/key");
    std::fs::write(&key_file, API_KEY).unwrap();
    let config_path = sandbox.path("config.toml");
    std::fs::write(
        &config_path,
        format!("[[target]]\nname = \"prod\"\nurl = \"127.0.0.1:9\"\nheaders = [\"{CANARY_HEADER}\", \"Authorization: Bearer {TOKEN}\"]\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cli = llmtop::app::cli::Cli::try_parse_from([
        "llmtop",
        "prod",
        "--config",
        config_path.to_str().unwrap(),
        "-H",
        "X-Other: canary-header-9a6c3d7b20",
        "--api-key-file",
        key_file.to_str().unwrap(),
    ])
    .unwrap();
    assert_clean("Debug of the command line", format!("{cli:?}").as_bytes());
    let config = llmtop::io::config::Config::load(Some(&config_path)).unwrap();
    assert_clean("Debug of the config", format!("{config:?}").as_bytes());
    let resolved = config.resolve_target(&(&cli.target).into());
    assert_clean(
        "Debug of the resolved target",
        format!("{resolved:?}").as_bytes(),
    );

    let session = crate::common::session(&cli.target).await.unwrap();
    // The secrets are in there, ready to be sent.
    assert_eq!(session.api_key.as_ref().unwrap().expose(), API_KEY);
    assert_eq!(
        session.target.headers.get("authorization").unwrap(),
        &format!("Bearer {TOKEN}")
    );
    assert_eq!(
        session.target.headers.get("x-canary").unwrap(),
        HEADER_VALUE
    );
    assert_clean(
        "Debug of the scrape target",
        format!("{:?}", session.target).as_bytes(),
    );
    assert_clean(
        "Debug of the API key",
        format!(
            "{:?} {}",
            session.api_key,
            session.api_key.as_ref().unwrap()
        )
        .as_bytes(),
    );
    let request = llmtop::io::probe::ProbeRequest::new(session.api_base.clone(), "m", "hi")
        .with_api_key(session.api_key.clone())
        .with_header("X-Canary", HEADER_VALUE);
    assert_clean(
        "Debug of a probe request",
        format!("{request:?}").as_bytes(),
    );
    session.shutdown().await;
}
