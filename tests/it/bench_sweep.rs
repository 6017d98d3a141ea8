//! `llmtop bench --sweep` and `--rate` lists through the real binary, against a demo gateway
//! on 127.0.0.1 whose capacity is a stated number: 4 requests at once, 50 ms each, so at most
//! 80 requests per second; and `--compare` on fixed summaries.
use std::process::Command;
use std::sync::OnceLock;

use llmtop::io::demo::{Capacity, DemoConfig};
use serde_json::Value;

const CAPACITY_RPS: f64 = 80.0;

fn gateway() -> &'static str {
    static GATEWAY: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    &GATEWAY
        .get_or_init(|| {
            crate::common::demo_forever(DemoConfig {
                seed: Some(9),
                traffic: false,
                capacity: Some(Capacity {
                    concurrent: 4,
                    service: std::time::Duration::from_millis(50),
                }),
                ..DemoConfig::default()
            })
        })
        .1
}

/// `llmtop bench GATEWAY --model gpt-4o-mini ARGS`: (exit code, stdout, stderr). Each run is
/// bounded by its own steps (at most 1 + --sweep-steps of --duration each).
fn bench(args: &[&str]) -> (Option<i32>, String, String) {
    bench_at(gateway(), args)
}

fn bench_at(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = std::env::temp_dir().join(format!("llmtop-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("none.toml"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .arg("bench")
        .arg(url)
        .args([
            "--model",
            "gpt-4o-mini",
            "--max-tokens",
            "4",
            "--timeout",
            "10s",
        ])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("LLMTOP_BENCH_CONFIG", dir.join("none.toml"))
        .env("LLMTOP_LOG_FILE", dir.join("llmtop.log"))
        .output()
        .expect("llmtop runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The throughput probe finds the stated capacity, and the search ends within one step of it:
/// the largest passing rate is below capacity but within the M/D/4 queue's knee (≥ 50 %), and
/// the bracket around it is no wider than the tolerance asked for.
#[test]
fn the_sweep_finds_a_stated_capacity_within_one_step() {
    let (code, out, err) = bench(&[
        "--sweep",
        "--slo",
        "p99_latency<=150ms,error_rate<=1%",
        "-c",
        "64",
        "--duration",
        "2s",
        "--sweep-steps",
        "7",
        "--sweep-tolerance",
        "10%",
        "--seed",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps[0]["phase"], "throughput");
    assert!(steps[0]["asked_rate"].is_null());
    let probe = j["sweep"]["throughput_probe_rps"].as_f64().unwrap();
    assert!(
        (CAPACITY_RPS * 0.85..=CAPACITY_RPS * 1.02).contains(&probe),
        "throughput probe {probe} req/s for a capacity of {CAPACITY_RPS}"
    );
    assert!(steps.len() <= 8, "bounded: {}", steps.len());
    let answer = j["sweep"]["max_rate_meeting_slo"]
        .as_f64()
        .unwrap_or_else(|| panic!("{j}"));
    assert!(
        (CAPACITY_RPS * 0.5..=CAPACITY_RPS * 1.02).contains(&answer),
        "answer {answer}"
    );
    match j["sweep"]["verdict"].as_str() {
        Some("bracketed") => {
            let failing = j["sweep"]["lowest_failing_rate"].as_f64().unwrap();
            assert!(failing > answer);
            // Within one step: the tolerance, unless the steps ran out first.
            if steps.len() < 8 {
                assert!((failing - answer) / failing <= 0.10, "{answer}..{failing}");
            }
        }
        Some("holds_at_throughput_limit") => assert_eq!(answer, probe),
        other => panic!("verdict {other:?}: {j}"),
    }
    // Every search step was checked against both rules and says so; one line each on stderr.
    for step in &steps[1..] {
        assert_eq!(step["checks"].as_array().unwrap().len(), 2, "{step}");
        assert!(step["pass"].is_boolean());
    }
    assert_eq!(
        err.lines().filter(|l| l.starts_with("step ")).count(),
        steps.len(),
        "{err}"
    );
    assert_eq!(
        j["slo"],
        serde_json::json!(["p99_latency<=150ms", "error_rate<=1%"])
    );
}

/// A rate list runs one step per rate; CSV has one row per step, with the columns of a single
/// run after `step,phase,asked_rate,pass`; the text report ends with the chart.
#[test]
fn a_rate_list_runs_one_step_per_rate() {
    let (code, out, err) = bench(&["--rate", "10,20", "-n", "10", "--format", "csv"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("step,phase,asked_rate,pass,model,mode,"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("1,rate,10.0,,gpt-4o-mini,open,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("2,rate,20.0,,gpt-4o-mini,open,"),
        "{}",
        lines[2]
    );

    let (code, out, err) = bench(&["--rate", "10,20", "-n", "10", "--slo", "p99_latency<=5s"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("step  1 rate       asked      10.0/s"),
        "{out}"
    );
    assert!(lines[0].ends_with("pass"), "{out}");
    assert!(out.contains("   rate/s  p99 latency"), "{out}");
}

/// A ramp and a burstiness are echoed in the summary; a bad SLO or a TTFT rule without
/// streaming is refused before anything is sent.
#[test]
fn ramps_burstiness_and_bad_slos() {
    let (code, out, err) = bench(&[
        "--ramp-up",
        "linear",
        "--ramp-from",
        "20",
        "--ramp-to",
        "60",
        "-n",
        "30",
        "--burstiness",
        "2",
        "--warmup",
        "5",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["mode"], "open");
    assert!(j["rate"].is_null());
    assert_eq!(
        j["ramp"],
        serde_json::json!({"kind": "linear", "from": 20.0, "to": 60.0})
    );
    assert_eq!(j["burstiness"], 2.0);
    assert_eq!(j["warmup_requests"], 5);
    assert_eq!(j["requests_done"], 30, "the warm-up is not counted");

    let (code, _, err) = bench(&["--sweep", "--slo", "ttft_p95<=1s"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("add --stream"), "{err}");
    let (code, _, err) = bench(&["--sweep", "--slo", "p99_speed<=1s"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("latency, ttft, tpot, itl or error_rate"),
        "{err}"
    );
    let (code, _, err) = bench(&["--sweep"]);
    assert_eq!(code, Some(2), "{err}");
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/bench/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Three fixed runs: a rerun of the first changes nothing beyond noise, the slow one is flagged
/// `!` on latency and TTFT; the exact table is pinned. `--fail-on-regression` exits 1 and names
/// each regression, or 0 when the threshold is above them.
#[test]
fn compare_prints_the_exact_table_and_gates_on_regressions() {
    let (before, rerun, after) = (fixture("before"), fixture("rerun"), fixture("after"));
    let (code, out, err) = bench(&["--compare", &before, &rerun, &after]);
    assert_eq!(code, Some(0), "{err}");
    crate::common::assert_snapshot("bench_compare_table", &out);

    let (code, out, _) = bench(&["--compare", &before, &rerun, "--format", "json"]);
    assert_eq!(code, Some(0));
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["baseline"], "before.json");
    let rows = j["rows"].as_array().unwrap();
    assert!(
        rows.iter().all(|r| r["significant"][1] == false),
        "a rerun is noise: {j}"
    );

    let (code, _, err) = bench(&["--compare", &before, &after, "--fail-on-regression", "10%"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("regression: after.json: TTFT p50 +147.0 % against before.json"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 6, "{err}");
    let (code, _, err) = bench(&["--compare", &before, &after, "--fail-on-regression", "200%"]);
    assert_eq!(code, Some(0), "{err}");

    let (code, _, err) = bench(&["--compare", &before, "/nonexistent.json"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot read /nonexistent.json"), "{err}");
}

/// The gateway's own count agrees with the client's exactly: the scrape before the run and the
/// first after it bracket every request. `--metrics none` turns it off; a metrics URL that does
/// not answer is reported, and the run's own figures still come out.
#[test]
fn the_server_side_view_counts_what_the_client_sent() {
    // Its own gateway: the other tests' requests would be counted too.
    let (_runtime, url) = crate::common::demo_forever(DemoConfig {
        seed: Some(4),
        traffic: false,
        capacity: Some(Capacity {
            concurrent: 4,
            service: std::time::Duration::from_millis(50),
        }),
        ..DemoConfig::default()
    });
    let (code, out, err) = bench_at(&url, &["-n", "60", "-c", "8", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let srv = &j["server"];
    assert_eq!(srv["dialect"], "seed", "{srv}");
    assert_eq!(srv["model"], "gpt-4o-mini");
    assert_eq!(srv["requests"], 60.0, "{srv}");
    assert_eq!(srv["client_minus_server"]["requests"], 0.0);
    let (client, server) = (
        j["requests_per_second"].as_f64().unwrap(),
        srv["requests_per_second"].as_f64().unwrap(),
    );
    assert!((client - server).abs() < 1e-9, "{client} vs {server}");
    assert_eq!(srv["error_ratio"], 0.0);
    // 8 in flight on 4 slots of 50 ms: about 100 ms each, seen by both sides.
    let p50 = srv["latency_seconds"]["p50"].as_f64().unwrap();
    assert!((0.05..0.25).contains(&p50), "server p50 {p50}");

    let (code, out, _) = bench(&["-n", "5", "--metrics", "none", "--format", "json"]);
    assert_eq!(code, Some(0));
    assert!(serde_json::from_str::<Value>(&out).unwrap()["server"].is_null());

    let (code, out, err) = bench(&["-n", "5", "--metrics", "127.0.0.1:9", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["requests_done"], 5);
    assert_eq!(j["server"]["metrics_url"], "http://127.0.0.1:9/metrics");
    assert!(
        j["server"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{j}"
    );
}

/// Fixed lengths give exact token counts: 20 requests of 30-word prompts (the demo counts
/// 3 + 4 + ⌈30·4/3⌉ = 47 tokens each, OpenAI's rule of thumb) and 40 output tokens with ignore_eos (the demo, like vLLM,
/// then writes exactly the limit); the summary echoes what was asked.
#[test]
fn input_and_output_lengths_shape_every_request() {
    let (code, out, err) = bench(&[
        "-n",
        "20",
        "--input-tokens",
        "30",
        "--output-tokens",
        "40",
        "--ignore-eos",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["tokens"]["input"], 20 * 47, "{}", j["tokens"]);
    assert_eq!(j["tokens"]["output"], 20 * 40, "{}", j["tokens"]);
    assert_eq!(
        j["lengths"],
        serde_json::json!({"input_tokens": {"mean": 30.0, "stddev": 0.0}, "output_tokens": {"mean": 40.0, "stddev": 0.0}, "ignore_eos": true})
    );
    let (code, _, err) = bench(&["-n", "1", "--output-tokens", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("1 to 1000000"), "{err}");
}

/// `--sweep-over concurrency` against 4 slots of 200 ms: a closed loop of C clients waits
/// ⌈C/4⌉ service times, so p99 ≤ 500 ms (100 ms from either side, room for a loaded machine)
/// holds up to 8 in flight and fails from 9. The search goes 32, 16, 8 (passes), 12, 10, 9
/// and stops with the two neighbours.
#[test]
fn a_concurrency_sweep_finds_the_most_requests_in_flight_within_the_slo() {
    static SLOW: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    let slow = &SLOW
        .get_or_init(|| {
            crate::common::demo_forever(DemoConfig {
                seed: Some(9),
                traffic: false,
                capacity: Some(Capacity {
                    concurrent: 4,
                    service: std::time::Duration::from_millis(200),
                }),
                ..DemoConfig::default()
            })
        })
        .1;
    let bench = |args: &[&str]| bench_at(slow, args);
    let (code, out, err) = bench(&[
        "--sweep",
        "--sweep-over",
        "concurrency",
        "--slo",
        "p99_latency<=500ms",
        "-c",
        "32",
        "--duration",
        "1500ms",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let asked: Vec<u64> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["asked_concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(asked, [32, 16, 8, 12, 10, 9], "{err}");
    let sweep = &j["sweep"];
    assert_eq!(sweep["over"], "concurrency");
    assert_eq!(sweep["verdict"], "bracketed", "{sweep}");
    assert_eq!(sweep["max_concurrency_meeting_slo"], 8, "{sweep}");
    assert_eq!(sweep["lowest_failing_concurrency"], 9, "{sweep}");
    assert!(
        err.contains("step  3 search     asked 8 in flight"),
        "{err}"
    );
    // The CSV names the column for what was asked.
    let (code, csv, err) = bench(&[
        "--sweep",
        "--sweep-over",
        "concurrency",
        "--slo",
        "p99_latency<=500ms",
        "-c",
        "4",
        "--duration",
        "1s",
        "--format",
        "csv",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        csv.starts_with("step,phase,asked_concurrency,pass,"),
        "{csv}"
    );
    assert!(
        csv.lines().nth(1).unwrap().starts_with("1,search,4,true,"),
        "{csv}"
    );
}
