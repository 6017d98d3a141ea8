//! `llmtop probe` as a user runs it: the real binary against the demo gateway (in this process,
//! or its own `--demo`) and a tiny echoing mock, all on 127.0.0.1.
use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Scratch;
use llmtop::base::pricing::PriceTable;
use llmtop::io::demo::{DemoConfig, FAULT_HEADER, FAULT_KEY_HEADER};
use serde_json::Value;

const CANARY: &str = "sk-canary-DO-NOT-LEAK-123";
/// No run of the binary may hang the suite, whatever it does.
const RUN_BUDGET: Duration = Duration::from_secs(20);
/// `--timeout` for the probes themselves.
const PROBE_TIMEOUT: &str = "10s";

/// One demo gateway for the whole file, on a runtime of its own so it serves while tests block
/// on the binary. Fault keys make `fail_first` independent between tests.
fn gateway() -> &'static str {
    static GATEWAY: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    &GATEWAY
        .get_or_init(|| {
            let config = DemoConfig {
                seed: Some(11),
                traffic: false,
                // Real streaming with gaps between tokens, but quick.
                latency_scale: 0.5,
                ..DemoConfig::default()
            };
            // Never shut down: it lives as long as the test process.
            common::demo_forever(config)
        })
        .1
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `llmtop probe ARGS` with a clean environment plus `env`, killed after [`RUN_BUDGET`].
fn llmtop(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.arg("probe")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &scratch.0)
        .env("LLMTOP_CONFIG", scratch.path("config.toml"))
        .env("LLMTOP_LOG_FILE", scratch.path("llmtop.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("llmtop starts");
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = pipe(Box::new(child.stdout.take().unwrap()));
    let err = pipe(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_BUDGET {
            let _ = child.kill();
            let _ = child.wait();
            panic!("llmtop probe {args:?} ran longer than {RUN_BUDGET:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// `probe GATEWAY --model MODEL --format json --timeout … --max-tokens 8 [--header FAULT] EXTRA…`
fn probe_json(scratch: &Scratch, model: &str, fault: Option<&str>, extra: &[&str]) -> Run {
    probe_json_max(scratch, model, fault, "8", extra)
}

fn probe_json_max(
    scratch: &Scratch,
    model: &str,
    fault: Option<&str>,
    max_tokens: &str,
    extra: &[&str],
) -> Run {
    let fault_header = fault.map(|f| format!("{FAULT_HEADER}: {f}"));
    let mut args = vec![
        gateway(),
        "--model",
        model,
        "--format",
        "json",
        "--timeout",
        PROBE_TIMEOUT,
        "--max-tokens",
        max_tokens,
    ];
    if let Some(h) = &fault_header {
        args.extend(["--header", h.as_str()]);
    }
    args.extend_from_slice(extra);
    llmtop(scratch, &args, &[])
}

fn f(j: &Value, key: &str) -> f64 {
    j[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {j:#}"))
}

fn tokens(j: &Value, key: &str) -> u64 {
    j["tokens"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("tokens.{key} is not a count: {j:#}"))
}

/// `input − cached` at the input price, cached at the cached price, output at the output price.
fn table_cost(model: &str, j: &Value) -> f64 {
    let table = PriceTable::builtin();
    let price = table.lookup(model).expect("model is priced");
    let (input, cached, output) = (
        tokens(j, "input") as f64,
        tokens(j, "cached_input") as f64,
        tokens(j, "output") as f64,
    );
    ((input - cached) * price.input
        + cached * price.cached_input.unwrap_or(price.input)
        + output * price.output)
        / 1e6
}

#[test]
fn streamed_probe_prints_the_json_contract_with_consistent_numbers() {
    let s = Scratch::new("probe-cmd-success");
    let run = probe_json(&s, "gpt-4o-mini", None, &["--stream"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
    let j = run.json();
    for key in [
        "model",
        "ok",
        "status",
        "ttft_seconds",
        "latency_seconds",
        "tokens",
        "cost_usd",
        "retries",
        "error",
        "time_to_first_answer_seconds",
        "tpot_seconds",
        "tokens_per_second",
        "finish_reason",
        "gateway_cost_usd",
        "cost_usd_breakdown",
        "answer",
    ] {
        assert!(j.get(key).is_some(), "missing {key}: {j:#}");
    }
    assert_eq!(j["model"], "gpt-4o-mini");
    assert_eq!(j["ok"], true);
    assert_eq!(j["status"], 200);
    assert_eq!(j["retries"], 0);
    assert!(j["error"].is_null());
    // The demo sends no cost of its own: unknown, not zero.
    assert!(j["gateway_cost_usd"].is_null());
    let (ttft, first_answer, latency) = (
        f(&j, "ttft_seconds"),
        f(&j, "time_to_first_answer_seconds"),
        f(&j, "latency_seconds"),
    );
    assert!(
        0.0 < ttft && ttft <= first_answer && first_answer <= latency,
        "{j:#}"
    );
    assert!(f(&j, "tpot_seconds") > 0.0 && f(&j, "tokens_per_second") > 0.0);
    assert!(tokens(&j, "input") > 0 && tokens(&j, "output") > 0);
    assert_eq!(tokens(&j, "output"), 8, "max_tokens is honoured");
    assert_eq!(j["finish_reason"], "length");
    let cost = f(&j, "cost_usd");
    assert!(
        (cost - table_cost("gpt-4o-mini", &j)).abs() < 1e-12,
        "{j:#}"
    );
    let parts = &j["cost_usd_breakdown"];
    let sum = f(parts, "input") + f(parts, "cached_input") + f(parts, "output");
    assert!((sum - cost).abs() < 1e-12);
    assert!((f(parts, "output") - 8.0 * 0.60 / 1e6).abs() < 1e-12);
    assert!(!j["answer"].as_str().unwrap().trim().is_empty());
}

#[test]
fn text_format_is_a_summary_then_the_answer() {
    let s = Scratch::new("probe-cmd-text");
    let run = llmtop(
        &s,
        &[
            gateway(),
            "--model",
            "gpt-4o",
            "--max-tokens",
            "6",
            "--timeout",
            PROBE_TIMEOUT,
        ],
        &[],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("gpt-4o  ok  HTTP 200  not streamed  http://127.0.0.1:"),
        "{}",
        run.stdout
    );
    assert!(lines[1].starts_with("ttft "), "{}", run.stdout);
    assert!(lines[2].starts_with("tokens in "), "{}", run.stdout);
    assert!(lines[3].starts_with("cost $"), "{}", run.stdout);
    assert_eq!(lines[4], "");
    assert!(!lines[5].is_empty());
}

#[test]
fn demo_flag_probes_a_temporary_gateway() {
    let s = Scratch::new("probe-cmd-demo");
    let run = llmtop(
        &s,
        &[
            "--demo",
            "--model",
            "deepseek-chat",
            "--stream",
            "--format",
            "json",
            "--max-tokens",
            "5",
        ],
        &[],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!(j["ok"], true);
    assert!(f(&j, "ttft_seconds") <= f(&j, "latency_seconds"));
    assert!((f(&j, "cost_usd") - table_cost("deepseek-chat", &j)).abs() < 1e-12);
}

#[test]
fn slow_first_token_is_measured() {
    let s = Scratch::new("probe-cmd-slow");
    let run = probe_json(
        &s,
        "gpt-4o-mini",
        Some("slow_first_token=400"),
        &["--stream"],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    assert!(f(&j, "ttft_seconds") >= 0.4, "{j:#}");
    assert!(f(&j, "ttft_seconds") <= f(&j, "latency_seconds"));
}

#[test]
fn a_rate_limited_first_attempt_is_retried() {
    let s = Scratch::new("probe-cmd-fail-first");
    let key = format!(
        "{FAULT_KEY_HEADER}: probe-cmd-fail-first-{}",
        std::process::id()
    );
    let run = probe_json(
        &s,
        "gpt-4o-mini",
        // The server's retry-after-ms hint (50 ms) decides the wait.
        Some("fail_first=1;retry_after=0.05"),
        &["--stream", "--retries", "2", "--header", &key],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["retries"], 1);
    assert_eq!(j["status"], 200);
    // Timings include the failed attempt and the wait: what the user experienced.
    assert!(f(&j, "ttft_seconds") >= 0.05, "{j:#}");
}

#[test]
fn a_persistent_500_exhausts_the_retries_and_fails() {
    let s = Scratch::new("probe-cmd-500");
    let run = probe_json(
        &s,
        "gpt-4o-mini",
        Some("status=500"),
        &["--retries", "3", "--retry-delay", "10ms"],
    );
    assert!(!run.ok(), "{}", run.stdout);
    assert_ne!(run.code, None, "exited, not killed");
    let j = run.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["status"], 500);
    assert_eq!(j["retries"], 3);
    assert_eq!(j["error_kind"], "http");
    assert!(
        j["ttft_seconds"].is_null() && j["cost_usd"].is_null() && j["tokens"]["output"].is_null()
    );
    let message = "The server had an error while processing your request";
    assert!(j["error"].as_str().unwrap().contains(message), "{j:#}");
    assert!(
        run.stderr.contains("HTTP 500") && run.stderr.contains(message),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stream_cut_mid_way_is_a_failure_with_the_reason() {
    let s = Scratch::new("probe-cmd-cut");
    let run = probe_json(&s, "gpt-4o-mini", Some("cut_mid_stream"), &["--stream"]);
    assert!(!run.ok(), "{}", run.stdout);
    let j = run.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["status"], 200);
    assert_eq!(j["error_kind"], "truncated");
    assert_eq!(
        j["retries"], 0,
        "a stream that sent tokens is never retried"
    );
    let error = j["error"].as_str().unwrap();
    assert!(
        error.contains("stream ended before finish_reason"),
        "{error}"
    );
    assert!(
        run.stderr.contains("stream ended before finish_reason"),
        "{}",
        run.stderr
    );
    // What did arrive is still measured.
    assert!(f(&j, "ttft_seconds") > 0.0);
    assert!(!j["answer"].as_str().unwrap().is_empty());
}

#[test]
fn an_error_inside_the_stream_reports_the_gateway_message() {
    let s = Scratch::new("probe-cmd-in-stream");
    let run = probe_json(&s, "gpt-4o-mini", Some("error_in_stream"), &["--stream"]);
    assert!(!run.ok(), "{}", run.stdout);
    let j = run.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error_kind"], "gateway_error");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("upstream provider overloaded"),
        "{j:#}"
    );
    assert!(
        run.stderr.contains("upstream provider overloaded"),
        "{}",
        run.stderr
    );
}

#[test]
fn insufficient_quota_is_not_retried() {
    let s = Scratch::new("probe-cmd-quota");
    let run = probe_json(
        &s,
        "gpt-4o-mini",
        Some("insufficient_quota"),
        &["--retries", "3", "--stream"],
    );
    assert!(!run.ok(), "{}", run.stdout);
    let j = run.json();
    assert_eq!(j["retries"], 0);
    assert_eq!(j["status"], 429);
    assert_eq!(j["error_kind"], "quota_exhausted");
    assert!(run.stderr.contains("insufficient_quota"), "{}", run.stderr);
    assert!(
        run.stderr.contains("You exceeded your current quota"),
        "{}",
        run.stderr
    );
}

#[test]
fn keepalive_comments_do_not_count_as_the_first_token() {
    let s = Scratch::new("probe-cmd-keepalive");
    let run = probe_json(
        &s,
        "gpt-4o-mini",
        Some("keepalive;slow_first_token=300"),
        &["--stream"],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    assert!(j["keepalives"].as_u64().unwrap() >= 2, "{j:#}");
    assert!(f(&j, "ttft_seconds") >= 0.3, "{j:#}");
    assert!(tokens(&j, "output") > 0);
}

#[test]
fn reasoning_streams_time_the_first_token_from_the_reasoning() {
    let s = Scratch::new("probe-cmd-reasoning");
    let run = probe_json_max(&s, "deepseek-reasoner", None, "12", &["--stream"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    let (ttft, first_answer) = (f(&j, "ttft_seconds"), f(&j, "time_to_first_answer_seconds"));
    // Six reasoning tokens, with real gaps, come before the answer.
    assert!(ttft < first_answer, "{j:#}");
    assert_eq!(tokens(&j, "reasoning"), 6);
    assert_eq!(tokens(&j, "output"), 12);
    assert!((f(&j, "cost_usd") - table_cost("deepseek-reasoner", &j)).abs() < 1e-12);
    // The answer is the content only, never the reasoning.
    assert!(!j["answer"].as_str().unwrap().is_empty());

    // The `reasoning` fault gives any model the same shape.
    let run = probe_json(&s, "gpt-4o-mini", Some("reasoning"), &["--stream"]);
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    let j = run.json();
    assert!(
        f(&j, "ttft_seconds") < f(&j, "time_to_first_answer_seconds"),
        "{j:#}"
    );
    assert!(tokens(&j, "reasoning") > 0);
}

#[test]
fn an_unknown_model_fails_with_the_gateway_message_and_the_models_offered() {
    let s = Scratch::new("probe-cmd-unknown-model");
    let run = probe_json(&s, "gpt-5-imaginary", None, &["--stream"]);
    assert!(!run.ok(), "{}", run.stdout);
    let j = run.json();
    assert_eq!(j["status"], 404);
    assert_eq!(j["retries"], 0);
    assert!(j["cost_usd"].is_null());
    let said = "The model `gpt-5-imaginary` does not exist or you do not have access to it.";
    assert!(j["error"].as_str().unwrap().contains(said), "{j:#}");
    assert!(run.stderr.contains(said), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the gateway offers: deepseek-chat, deepseek-reasoner, gpt-4o"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_input_fails_before_any_request() {
    let s = Scratch::new("probe-cmd-bad-input");
    let run = llmtop(
        &s,
        &[gateway(), "--model", "gpt-4o", "--header", "no colon here"],
        &[],
    );
    assert!(!run.ok());
    assert!(run.stderr.contains("'Name: value'"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let run = llmtop(&s, &["--model", "gpt-4o"], &[]);
    assert!(!run.ok());
    assert!(
        run.stderr.contains("--demo") || run.stderr.contains("<URL>"),
        "{}",
        run.stderr
    );
    let run = llmtop(&s, &["ftp://127.0.0.1:1", "--model", "gpt-4o"], &[]);
    assert!(!run.ok());
    assert!(run.stderr.contains("only http and https"), "{}", run.stderr);
}

#[test]
fn api_base_replaces_the_origin_of_the_url() {
    let s = Scratch::new("probe-cmd-api-base");
    let api_base = format!("{}/v1", gateway());
    // The URL's origin is a closed port; --api-base must win.
    let run = llmtop(
        &s,
        &[
            "127.0.0.1:1",
            "--api-base",
            &api_base,
            "--model",
            "gpt-4o-mini",
            "--format",
            "json",
            "--max-tokens",
            "4",
        ],
        &[],
    );
    assert!(run.ok(), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["api_base"], format!("{api_base}"));
}

#[test]
fn unreachable_and_slow_gateways_fail_within_their_bounds() {
    let s = Scratch::new("probe-cmd-unreachable");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let run = llmtop(
        &s,
        &[
            &closed,
            "--model",
            "gpt-4o-mini",
            "--format",
            "json",
            "--retries",
            "2",
            "--retry-delay",
            "10ms",
        ],
        &[],
    );
    assert!(!run.ok());
    let j = run.json();
    assert_eq!(j["error_kind"], "connection");
    assert!(j["status"].is_null());
    assert_eq!(j["retries"], 2, "connection failures are retried");
    assert!(run.stderr.contains("cannot connect to"), "{}", run.stderr);

    let started = Instant::now();
    let fault = format!("{FAULT_HEADER}: slow_first_token=5000");
    let run = llmtop(
        &s,
        &[
            gateway(),
            "--model",
            "gpt-4o-mini",
            "--format",
            "json",
            "--stream",
            "--header",
            &fault,
            "--timeout",
            "300ms",
        ],
        &[],
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(!run.ok());
    let j = run.json();
    assert_eq!(j["error_kind"], "timeout");
    assert!(
        f(&j, "latency_seconds") >= 0.3 && f(&j, "latency_seconds") < 3.0,
        "{j:#}"
    );
    assert!(
        run.stderr.contains("timed out after 300ms"),
        "{}",
        run.stderr
    );
}

/// A gateway that refuses every key and echoes it back in the message, as some do.
fn echoing_401() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("authorization:")
                        .then(|| l["authorization:".len()..].trim().to_string())
                })
                .unwrap_or_default();
            log.lock().unwrap().push(auth.clone());
            let body = format!(
                r#"{{"error":{{"message":"Incorrect API key provided: {auth}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
            );
            let reply = format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            use std::io::Write;
            let _ = socket.write_all(reply.as_bytes());
        }
    });
    (base, seen)
}

#[test]
fn canary_key_never_leaks_and_a_401_names_the_variable() {
    let s = Scratch::new("probe-cmd-canary");
    let env = [("LLMTOP_API_KEY", CANARY), ("LLMTOP_LOG", "trace")];
    let fault = format!("{FAULT_HEADER}: status=401");
    let mut runs = Vec::new();
    for format in ["json", "text"] {
        // The demo's 401.
        runs.push(llmtop(
            &s,
            &[
                gateway(),
                "--model",
                "gpt-4o-mini",
                "--format",
                format,
                "--stream",
                "--header",
                &fault,
                "--timeout",
                PROBE_TIMEOUT,
            ],
            &env,
        ));
        // A 401 that echoes the key it was sent.
        let (echo, seen) = echoing_401();
        runs.push(llmtop(
            &s,
            &[
                &echo,
                "--model",
                "gpt-4o-mini",
                "--format",
                format,
                "--timeout",
                PROBE_TIMEOUT,
            ],
            &env,
        ));
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            [format!("Bearer {CANARY}")],
            "the key was sent"
        );
        // A success.
        runs.push(llmtop(
            &s,
            &[
                gateway(),
                "--model",
                "gpt-4o-mini",
                "--format",
                format,
                "--stream",
                "--max-tokens",
                "4",
                "--timeout",
                PROBE_TIMEOUT,
            ],
            &env,
        ));
    }
    // The key from a file, too.
    let key_file = s.path("key");
    std::fs::write(&key_file, format!("{CANARY}\n")).unwrap();
    let (echo, seen) = echoing_401();
    runs.push(llmtop(
        &s,
        &[
            &echo,
            "--model",
            "gpt-4o-mini",
            "--api-key-file",
            key_file.to_str().unwrap(),
            "--timeout",
            PROBE_TIMEOUT,
        ],
        &[("LLMTOP_LOG", "trace")],
    ));
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [format!("Bearer {CANARY}")]
    );

    for (i, run) in runs.iter().enumerate() {
        assert!(
            !run.stdout.contains(CANARY),
            "run {i} stdout: {}",
            run.stdout
        );
        assert!(
            !run.stderr.contains(CANARY),
            "run {i} stderr: {}",
            run.stderr
        );
        let success = i % 3 == 2 && i < 6;
        assert_eq!(run.ok(), success, "run {i}: {}\n{}", run.stdout, run.stderr);
        if !success {
            assert!(
                run.stderr.contains("LLMTOP_API_KEY"),
                "run {i}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("(401)"), "run {i}: {}", run.stderr);
        }
    }
    assert!(
        runs[1]
            .stderr
            .contains("Incorrect API key provided: Bearer <redacted>"),
        "{}",
        runs[1].stderr
    );
    assert!(
        runs[1]
            .stderr
            .contains("the key was read from $LLMTOP_API_KEY"),
        "{}",
        runs[1].stderr
    );
    assert!(
        runs[6].stderr.contains("the key was read from "),
        "{}",
        runs[6].stderr
    );
    assert!(
        runs[0].json()["error"]
            .as_str()
            .unwrap()
            .contains("LLMTOP_API_KEY")
    );
    assert_eq!(runs[2].json()["ok"], true);

    let log = std::fs::read_to_string(s.path("llmtop.log")).expect("the log file was written");
    assert!(log.contains("probe finished"), "{log}");
    assert!(!log.contains(CANARY), "{log}");
}
