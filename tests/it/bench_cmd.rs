//! `llmtop bench` as a user runs it: the real binary against the demo gateway, in this process,
//! on 127.0.0.1. Every run is bounded by [`RUN_BUDGET`].
use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Scratch;
use llmtop::base::pricing::{PriceTable, TokenCounts};
use llmtop::io::demo::{self, DemoConfig, FAULT_HEADER, FAULT_KEY_HEADER};
use serde_json::Value;

const RUN_BUDGET: Duration = Duration::from_secs(20);
const MODEL: &str = "gpt-4o-mini";

/// One demo gateway for the whole file, on a runtime of its own so it serves while tests block.
fn gateway() -> &'static str {
    static GATEWAY: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    &GATEWAY
        .get_or_init(|| {
            let config = DemoConfig {
                seed: Some(5),
                traffic: false,
                // Real streaming with gaps between tokens, but quick.
                latency_scale: 0.05,
                ..DemoConfig::default()
            };
            common::demo_forever(config)
        })
        .1
}

/// `llmtop bench URL --model gpt-4o-mini ARGS`, with a clean environment.
fn command(scratch: &Scratch, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.arg("bench")
        .arg(gateway())
        .args(["--model", MODEL, "--timeout", "10s"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &scratch.0)
        .env("LLMTOP_BENCH_CONFIG", scratch.0.join("config.toml"))
        .env("LLMTOP_LOG_FILE", scratch.0.join("llmtop.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` at most [`RUN_BUDGET`]; returns its exit code.
fn wait(child: &mut Child, what: &str) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > RUN_BUDGET {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} ran longer than {RUN_BUDGET:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs to the end; returns (stdout, stderr), panicking unless it exits 0.
fn bench(args: &[&str]) -> (String, String) {
    let scratch = Scratch::new("bench-cmd");
    let mut child = command(&scratch, args).spawn().expect("llmtop starts");
    let out = reader(child.stdout.take().unwrap());
    let err = reader(child.stderr.take().unwrap());
    let code = wait(&mut child, &format!("bench {args:?}"));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, Some(0), "bench {args:?}\n{out}\n{err}");
    (out, err)
}

fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (out, err) = bench(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}\n{err}"))
}

fn fault_key(name: &str) -> String {
    format!("{FAULT_KEY_HEADER}: bench-{}-{name}", std::process::id())
}

#[test]
fn closed_loop_sends_exactly_n() {
    let j = bench_json(&["-n", "50", "-c", "5"]);
    assert_eq!(j["requests_done"], 50);
    assert_eq!(j["requests_ok"], 50);
    assert_eq!(j["success_rate"], 1.0);
    assert_eq!(j["status_codes"], serde_json::json!({"200": 50}));
    assert_eq!(j["mode"], "closed");
    assert_eq!(j["concurrency"], 5);
    assert_eq!(j["latency_seconds"]["count"], 50);
    assert_eq!(j["interrupted"], false);
    // Not streamed: no TTFT, and unknown is null, never 0.
    assert_eq!(j["ttft_seconds"]["count"], 0);
    assert!(j["ttft_seconds"]["p50"].is_null());
}

#[test]
fn injected_failures_show_in_success_rate_and_status_codes() {
    let all_fail = format!("{FAULT_HEADER}: status=500");
    let j = bench_json(&["-n", "50", "-c", "5", "-H", &all_fail]);
    assert_eq!(j["requests_done"], 50);
    assert_eq!(j["success_rate"], 0.0);
    assert_eq!(j["status_codes"], serde_json::json!({"500": 50}));
    assert_eq!(j["errors"], serde_json::json!({"http": 50}));
    assert_eq!(j["latency_seconds"]["count"], 0);
    assert!(j["latency_seconds"]["p99"].is_null());
    assert!(
        j["error_samples"][0]
            .as_str()
            .unwrap()
            .starts_with("HTTP 500")
    );

    // The first 10 of a key get 429, the rest succeed.
    let key = fault_key("fail-first");
    let j = bench_json(&[
        "-n",
        "50",
        "-c",
        "5",
        "-H",
        &format!("{FAULT_HEADER}: fail_first=10"),
        "-H",
        &key,
    ]);
    assert_eq!(j["requests_failed"], 10);
    assert_eq!(j["success_rate"], 0.8);
    assert_eq!(j["status_codes"], serde_json::json!({"200": 40, "429": 10}));
    assert_eq!(j["errors"], serde_json::json!({"rate_limited": 10}));
}

#[test]
fn total_cost_is_the_sum_of_per_request_costs() {
    let j = bench_json(&["-n", "30", "-c", "6", "--stream"]);
    assert_eq!(j["requests_ok"], 30);
    let tokens = &j["tokens"];
    assert_eq!(tokens["requests_with_usage"], 30);
    assert_eq!(j["requests_with_cost"], 30);
    let count = |k: &str| tokens[k].as_u64().unwrap() as f64;
    assert!(
        count("output") >= 30.0 && count("input") >= 30.0,
        "{tokens}"
    );
    // Cost is linear in tokens at one model's price, so the sum of per-request costs equals the
    // cost of the summed tokens; a dropped, doubled or mis-priced request breaks the equality.
    let prices = PriceTable::builtin();
    let price = prices.lookup(MODEL).expect("the demo model is priced");
    let expected = price
        .cost_usd(TokenCounts {
            input: count("input"),
            cached_input: count("cached_input"),
            output: count("output"),
        })
        .total;
    let got = j["cost_usd"].as_f64().unwrap();
    assert!(expected > 0.0);
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    let per_1k = j["cost_per_1k_requests_usd"].as_f64().unwrap();
    assert!((per_1k - expected * 1000.0 / 30.0).abs() < 1e-9);
    // Streamed: TTFT for every request, TPOT and inter-token gaps too.
    assert_eq!(j["ttft_seconds"]["count"], 30);
    assert!(j["tpot_seconds"]["count"].as_u64().unwrap() > 0);
    assert!(j["itl_seconds"]["count"].as_u64().unwrap() >= 30);
    let ttft = j["ttft_seconds"]["p50"].as_f64().unwrap();
    let e2e = j["latency_seconds"]["p50"].as_f64().unwrap();
    assert!(ttft > 0.0 && ttft < e2e, "{ttft} {e2e}");
}

/// `value` has every key `schema` requires, each of the right JSON type (refs, oneOf followed).
fn conforms(root: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .ok_or_else(|| format!("{path}: dangling $ref {r}"))?;
        return conforms(root, target, value, path);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let passing = options
            .iter()
            .filter(|s| conforms(root, s, value, path).is_ok())
            .count();
        return (passing == 1)
            .then_some(())
            .ok_or_else(|| format!("{path}: {passing} oneOf branches match {value}"));
    }
    let type_ok = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other} in the schema"),
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
        return Err(format!("{path}: {value} is not {types:?}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{path}: {value} not in {options:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        return Err(format!("{path}: {value} is not {c}"));
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap();
        if value.get(key).is_none() {
            return Err(format!("{path}: missing required {key}"));
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
        for (key, sub) in props {
            if let Some(v) = obj.get(key) {
                conforms(root, sub, v, &format!("{path}/{key}"))?;
            }
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            for (key, v) in obj.iter().filter(|(k, _)| !props.contains_key(*k)) {
                conforms(root, extra, v, &format!("{path}/{key}"))?;
            }
        }
    } else if let (Some(extra), Some(obj)) = (
        schema.get("additionalProperties").filter(|v| v.is_object()),
        value.as_object(),
    ) {
        for (key, v) in obj {
            conforms(root, extra, v, &format!("{path}/{key}"))?;
        }
    }
    Ok(())
}

#[test]
fn json_matches_the_documented_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/bench-schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let failing = format!("{FAULT_HEADER}: fail_first=3");
    let key = fault_key("schema");
    let j = bench_json(&[
        "-n",
        "12",
        "-c",
        "3",
        "--stream",
        "--goodput",
        "ttft=30s,e2e=60s",
        "-H",
        &failing,
        "-H",
        &key,
    ]);
    conforms(&schema, &schema, &j, "").unwrap_or_else(|e| panic!("{e}\n{j:#}"));
    // Every top-level key is documented, so nothing undocumented slips into the contract.
    let documented = schema["properties"].as_object().unwrap();
    for key in j.as_object().unwrap().keys() {
        assert!(documented.contains_key(key), "{key} is not in the schema");
    }
    assert_eq!(j["goodput"]["requests_met"], 9);
    assert_eq!(j["goodput"]["fraction"], 0.75);
    // The checker itself rejects a wrong type and a missing key.
    let mut wrong = j.clone();
    wrong["requests_done"] = Value::from("12");
    assert!(conforms(&schema, &schema, &wrong, "").is_err());
    wrong = j.clone();
    wrong["tokens"].as_object_mut().unwrap().remove("output");
    assert!(conforms(&schema, &schema, &wrong, "").is_err());
}

#[test]
fn csv_header_is_stable() {
    let (out, _) = bench(&["-n", "5", "-c", "2", "--format", "csv"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model,mode,stream,concurrency,rate,interrupted,total_time_seconds,requests_done,\
         requests_ok,requests_failed,success_rate,requests_per_second,latency_avg,latency_min,\
         latency_p50,latency_p90,latency_p95,latency_p99,latency_p99_9,latency_max,service_avg,\
         service_p50,service_p99,ttft_avg,ttft_p50,ttft_p95,ttft_p99,tpot_avg,tpot_p50,tpot_p95,\
         tpot_p99,itl_avg,itl_p50,itl_p95,itl_p99,output_tokens_per_second,input_tokens,\
         cached_input_tokens,output_tokens,cost_usd,cost_per_1k_requests_usd,retries,goodput,\
         status_codes,errors"
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row.len(), 45);
    assert_eq!(&row[..4], &[MODEL, "closed", "false", "2"]);
    assert_eq!(row[4], "", "rate is unknown in closed loop: empty, not 0");
    assert_eq!(row[7], "5");
    assert_eq!(row[43], "200:5");
    assert!(lines.next().is_none());
}

#[test]
fn text_summary_is_a_readable_table() {
    let (out, err) = bench(&["-n", "8", "-c", "2", "--stream"]);
    for needle in [
        "Success rate      100.0 %",
        "Requests          8 done, 8 ok, 0 failed",
        "Throughput",
        "Cost              $",
        "Latency",
        "TTFT",
        "Status codes      200: 8",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    // stderr is not a terminal here: plain progress lines, no escape codes.
    assert!(err.contains("8/8"), "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

#[test]
fn open_loop_takes_about_n_over_r() {
    let started = Instant::now();
    let j = bench_json(&["-n", "40", "-c", "40", "--rate", "40", "--seed", "7"]);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(j["mode"], "open");
    assert_eq!(j["rate"], 40.0);
    assert_eq!(j["requests_done"], 40);
    let total = j["total_time_seconds"].as_f64().unwrap();
    // 39 exponential gaps of mean 25 ms: 0.975 s expected, sd ≈ 0.16 s.
    assert!((0.6..3.0).contains(&total), "total {total}");
    assert!(wall < 10.0, "{wall}");
    // Open loop reports service time beside the intended-time latency, never below it.
    let latency = j["latency_seconds"]["avg"].as_f64().unwrap();
    let service = j["service_time_seconds"]["avg"].as_f64().unwrap();
    assert!(latency >= service, "{latency} < {service}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_prints_the_partial_summary_and_exits_130() {
    let scratch = Scratch::new("bench-cmd");
    let mut child = command(
        &scratch,
        &[
            "-n",
            "1000000",
            "-c",
            "2",
            "--duration",
            "60s",
            "--format",
            "json",
        ],
    )
    .spawn()
    .expect("llmtop starts");
    let out = reader(child.stdout.take().unwrap());
    // The first progress line is drawn after the Ctrl-C handler is in place.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("/1000000"), "{first}");
    let err = reader(stderr);
    std::thread::sleep(Duration::from_millis(800));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let code = wait(&mut child, "interrupted bench");
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, Some(130), "{out}\n{err}");
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert_eq!(j["interrupted"], true);
    let done = j["requests_done"].as_u64().unwrap();
    assert!(done > 0 && done < 1_000_000, "{done}");
    assert_eq!(j["requests_ok"], done);
    assert!(j["total_time_seconds"].as_f64().unwrap() < 30.0);
}

/// One run of the library's load generator against a fresh demo gateway (its answers are
/// numbered per gateway, so both transports meet the same answers), as its JSON summary.
async fn library_summary(
    stream: bool,
    headers: &[(String, String)],
    retries: u32,
    concurrency: usize,
    fast_http: bool,
) -> Value {
    use llmtop::io::loadgen::stats::{RunInfo, summary_json};
    use llmtop::io::loadgen::{Interrupt, Plan, execute};
    use llmtop::io::probe::fast::HttpConnection;
    use llmtop::io::probe::{ProbeRequest, RetryPolicy};

    let gw = demo::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        DemoConfig {
            seed: Some(11),
            traffic: false,
            latency_scale: 0.0,
            ..DemoConfig::default()
        },
    )
    .await
    .expect("demo gateway starts");
    let base = url::Url::parse(&gw.base_url()).unwrap();
    let mut template = ProbeRequest::new(base.clone(), MODEL, "")
        .with_stream(stream)
        .with_max_tokens(Some(64))
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_retries: retries,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        });
    for (name, value) in headers {
        template = template.with_header(name, value);
    }
    let client = llmtop::runtime::session::http_client().unwrap();
    // Without this the comparison would pass with both runs on reqwest.
    let prepared = template.prepare().unwrap();
    assert!(HttpConnection::new(client.clone(), &prepared).is_some());
    let plan = Plan {
        template,
        prompts: vec!["Say something about monitoring.".into()],
        requests: Some(24),
        concurrency,
        arrivals: None,
        warmup: 0,
        duration: None,
        seed: None,
        slo: None,
        fast_http,
        threads: None,
        tap: None,
    };
    let info = RunInfo {
        model: MODEL.into(),
        target: base.origin().ascii_serialization(),
        stream,
        concurrency,
        rate: None,
        arrivals: None,
        warmup: 0,
        requests_target: Some(24),
        duration_limit: None,
        max_tokens: 64,
        prompts: 1,
        seed: None,
        slo: None,
    };
    let (_keep, interrupt) = Interrupt::manual();
    let prices = PriceTable::builtin();
    let run = execute(&client, plan, &prices, interrupt, None);
    let out = tokio::time::timeout(RUN_BUDGET, run)
        .await
        .expect("bench run finishes in time");
    gw.shutdown().await;
    summary_json(&info, &out.recorder, out.elapsed, out.interrupted)
}

/// What does not depend on timing: counts, tokens, statuses, errors and cost.
fn countable(mut j: Value) -> Value {
    let mut samples: Vec<String> = j["error_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    samples.sort();
    serde_json::json!({
        "requests_done": j["requests_done"].take(),
        "requests_ok": j["requests_ok"].take(),
        "status_codes": j["status_codes"].take(),
        "no_response": j["no_response"].take(),
        "errors": j["errors"].take(),
        "error_samples": samples,
        "tokens": j["tokens"].take(),
        "requests_with_cost": j["requests_with_cost"].take(),
        "retries": j["retries"].take(),
        "requests_retried": j["requests_retried"].take(),
        "latency_count": j["latency_seconds"]["count"].take(),
        "ttft_count": j["ttft_seconds"]["count"].take(),
        "tpot_count": j["tpot_seconds"]["count"].take(),
        "itl_count": j["itl_seconds"]["count"].take(),
    })
}

/// One comparison: what to send and what both paths must then report.
struct Case {
    stream: bool,
    headers: Vec<(String, String)>,
    retries: u32,
    concurrency: usize,
    ok: u64,
    errors: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_http_path_and_reqwest_path_give_the_same_summary() {
    let fault = |spec: &str| vec![(FAULT_HEADER.to_string(), spec.to_string())];
    let keyed = |spec: &str, key: &str| {
        vec![
            (FAULT_HEADER.to_string(), spec.to_string()),
            (FAULT_KEY_HEADER.to_string(), key.to_string()),
        ]
    };
    let case =
        |stream: bool, headers: Vec<(String, String)>, retries: u32, ok: u64, errors: Value| Case {
            stream,
            headers,
            retries,
            concurrency: 4,
            ok,
            errors,
        };
    let cases = [
        case(false, vec![], 0, 24, serde_json::json!({})),
        case(true, vec![], 0, 24, serde_json::json!({})),
        case(
            true,
            fault("keepalive;reasoning;garbage_sse"),
            0,
            24,
            serde_json::json!({}),
        ),
        case(
            true,
            fault("cut_mid_stream"),
            0,
            0,
            serde_json::json!({"truncated": 24}),
        ),
        case(
            true,
            fault("error_in_stream"),
            0,
            0,
            serde_json::json!({"gateway_error": 24}),
        ),
        case(
            false,
            fault("status=500"),
            1,
            0,
            serde_json::json!({"http": 24}),
        ),
        case(
            false,
            fault("insufficient_quota"),
            1,
            0,
            serde_json::json!({"quota_exhausted": 24}),
        ),
        // Six 429s, one request at a time so which attempt meets them is fixed: the first three
        // requests fail twice (one retry each), the other 21 succeed.
        Case {
            concurrency: 1,
            ..case(
                false,
                keyed("fail_first=6;retry_after=0", "same-summary"),
                1,
                21,
                serde_json::json!({"rate_limited": 3}),
            )
        },
    ];
    for Case {
        stream,
        headers,
        retries,
        concurrency,
        ok,
        errors,
    } in cases
    {
        let what = format!("stream={stream} {headers:?}");
        let fast = library_summary(stream, &headers, retries, concurrency, true).await;
        let slow = library_summary(stream, &headers, retries, concurrency, false).await;
        let (fast_cost, slow_cost) = (fast["cost_usd"].as_f64(), slow["cost_usd"].as_f64());
        let (fast, slow) = (countable(fast), countable(slow));
        assert_eq!(fast, slow, "{what}");
        assert_eq!(fast["requests_done"], 24, "{what}");
        assert_eq!(fast["requests_ok"], ok, "{what}");
        assert_eq!(fast["errors"], errors, "{what}");
        // Summed in whatever order requests finished: equal to the last few bits.
        match (fast_cost, slow_cost) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-12 * a.abs().max(1e-9), "{what}"),
            (a, b) => assert_eq!(a, b, "{what}"),
        }
        if ok == 21 {
            assert_eq!(fast["retries"], 3, "{what}");
            assert_eq!(
                fast["status_codes"],
                serde_json::json!({"200": 21, "429": 3})
            );
        }
        if ok == 24 {
            assert_eq!(fast["tokens"]["requests_with_usage"], 24, "{what}");
            assert!(fast_cost.is_some_and(|c| c > 0.0), "{what}");
        }
    }
}
