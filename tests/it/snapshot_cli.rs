//! `llmtop snapshot` as scripts use it: the real binary against the built-in demo gateway over
//! real loopback HTTP, and against targets that fail.
use std::process::Command;
use std::time::Duration;

fn snapshot(args: &[&str]) -> (serde_json::Value, std::process::Output) {
    let log = std::env::temp_dir().join(format!("llmtop-snapshot-{}.log", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .arg("snapshot")
        .args(args)
        .env("LLMTOP_LOG_FILE", log)
        .output()
        .expect("run llmtop");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (value, output)
}

fn is_number_or_null(v: &serde_json::Value) -> bool {
    v.is_null() || v.is_f64() || v.is_u64() || v.is_i64()
}

#[test]
fn demo_snapshot_has_models_rates_and_latency() {
    let (json, output) = snapshot(&["--demo", "--for", "4s", "--format", "json"]);
    assert!(output.status.success());
    assert_eq!(json["dialect"], "seed");
    assert_eq!(json["window_seconds"], 4.0);
    assert!(
        json["target"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let models = json["models"].as_array().unwrap();
    let busy: Vec<&serde_json::Value> = models
        .iter()
        .filter(|m| m["requests_per_second"].as_f64().is_some_and(|r| r > 0.0))
        .collect();
    assert!(
        busy.len() >= 3,
        "fewer than 3 models with traffic: {json:#}"
    );
    let totals = &json["totals"];
    assert!(totals.get("model").is_none());
    assert!(totals["requests_per_second"].as_f64().unwrap() > 0.0);
    let p95 = totals["latency_seconds"]["p95"]
        .as_f64()
        .expect("finite p95");
    assert!(p95.is_finite() && p95 > 0.0 && p95 <= 10.0, "{p95}");
    // Every field the contract names is there, as a number or null.
    for m in models.iter().chain(std::iter::once(totals)) {
        for field in [
            "requests_per_second",
            "errors_per_second",
            "error_ratio",
            "cost_usd_per_hour",
        ] {
            assert!(is_number_or_null(&m[field]), "{field} in {m}");
        }
        for q in ["p50", "p95", "p99"] {
            assert!(is_number_or_null(&m["latency_seconds"][q]));
        }
        for t in ["input", "output", "total"] {
            assert!(is_number_or_null(&m["tokens_per_second"][t]));
        }
    }
    assert!(json["warnings"].is_array());
}

#[test]
fn unreachable_target_gives_nulls_and_a_warning_not_zeros() {
    // Bind then drop a listener: the port is free and nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let (json, output) = snapshot(&[&url, "--for", "2s", "--timeout", "1s"]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(output.status.success());
    assert_eq!(json["target"], format!("http://127.0.0.1:{port}/metrics"));
    assert!(json["totals"]["requests_per_second"].is_null());
    assert!(json["totals"]["latency_seconds"]["p95"].is_null());
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("cannot connect"), "{warnings}");
}

#[test]
fn csv_and_table_formats_and_output_file() {
    let dir = std::env::temp_dir().join(format!("llmtop-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_path = dir.join("s.csv");
    let status = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args([
            "snapshot", "--demo", "--for", "3s", "--format", "csv", "--output",
        ])
        .arg(&csv_path)
        .env("LLMTOP_LOG_FILE", dir.join("log"))
        .status()
        .unwrap();
    assert!(status.success());
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    // The header is a contract: columns are only ever appended.
    assert_eq!(
        lines.next().unwrap(),
        "model,requests_per_second,errors_per_second,error_ratio,latency_p50_seconds,latency_p95_seconds,latency_p99_seconds,ttft_p50_seconds,ttft_p95_seconds,ttft_p99_seconds,tokens_input_per_second,tokens_output_per_second,tokens_total_per_second,cost_usd_per_hour,cost_usd,cost_source"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.last().unwrap().starts_with("(total),"), "{csv}");
    assert!(rows.iter().all(|r| r.split(',').count() == 16), "{csv}");
    let out = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["snapshot", "--demo", "--for", "2s", "--format", "table"])
        .env("LLMTOP_LOG_FILE", dir.join("log"))
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("dialect seed"), "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("model"),
        "{table}"
    );
    assert!(table.contains("(total)"), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
