//! `llmtop check` as a deploy pipeline runs it: the real binary, the demo gateway on loopback
//! answering the test's own requests healthy, slow or failing, and the exit status that says so.
use std::process::{Command, Output};

use llmtop::io::demo::{DemoConfig, FAULT_HEADER};

fn llmtop(args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("llmtop-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(args)
        .env_remove("LLMTOP_CONFIG")
        .env("LLMTOP_LOG_FILE", dir.join("llmtop.log"))
        .env("LLMTOP_BENCH_CONFIG", dir.join("none.toml"))
        .output()
        .expect("run llmtop")
}

fn rules(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("llmtop-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("none.toml"), "").unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

const RULES: &str = r#"
[[alert]]
name = "errors"
expr = "error_rate > 5%"
severity = "critical"

[[alert]]
name = "slow"
expr = "p95_latency by model > 1s"
severity = "warning"
"#;

/// A quiet demo gateway, `check` over a window in which the test sends 30 requests over 2 s
/// (so the gateway's series have samples before and after them) with the given fault header
/// (none, slow, failing): the exit status and the verdict lines.
fn judged(fault: Option<&str>) -> (Option<i32>, String) {
    let (_runtime, url) = crate::common::demo_forever(DemoConfig {
        seed: Some(2),
        traffic: false,
        latency_scale: 0.0,
        ..DemoConfig::default()
    });
    let file = rules("rules.toml", RULES);
    let check = {
        let url = url.clone();
        std::thread::spawn(move || {
            llmtop(&[
                "check",
                &format!("{url}/metrics"),
                "--for",
                "5s",
                "--rules",
                &file,
                "--no-default-rules",
            ])
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let header = fault.map(|f| format!("{FAULT_HEADER}: {f}"));
    let mut args = vec![
        "bench",
        &url,
        "--model",
        "gpt-4o-mini",
        "-n",
        "30",
        "-c",
        "40",
        "--rate",
        "15",
        "--metrics",
        "none",
    ];
    if let Some(h) = &header {
        args.extend(["-H", h.as_str()]);
    }
    let sent = llmtop(&args);
    assert!(sent.status.success(), "{sent:?}");
    let out = check.join().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn healthy_traffic_exits_0() {
    let (code, out) = judged(None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK "), "{out}");
    assert!(out.contains("OK errors [error_rate > 5%]: 0.00 %"), "{out}");
}

#[test]
fn slow_answers_exit_1_and_name_the_model() {
    let (code, out) = judged(Some("slow_first_token=1500"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("WARNING slow [p95_latency by model > 1s]"),
        "{out}"
    );
    assert!(out.contains("(gpt-4o-mini)"), "{out}");
}

#[test]
fn failing_answers_exit_2() {
    let (code, out) = judged(Some("status=500"));
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("CRITICAL errors [error_rate > 5%]: 100.0 %"),
        "{out}"
    );
}

/// No gateway at all is critical (stale); a bad rule is an error with its line and column, and
/// exit 3 (Nagios' UNKNOWN), never mistaken for a warning.
#[test]
fn unreachable_is_critical_and_a_bad_rule_is_unknown() {
    let out = llmtop(&["check", "127.0.0.1:9", "--for", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CRITICAL gateway stale [stale]"));

    let bad = rules(
        "bad.toml",
        "[[alert]]\nname = \"typo\"\nexpr = \"p95_latency > 2 parsecs\"\n",
    );
    let out = llmtop(&["check", "127.0.0.1:9", "--rules", &bad]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[[alert]] \"typo\", line 3, column 25: unit \"parsecs\""),
        "{err}"
    );

    let out = llmtop(&[
        "check",
        "--from",
        &format!(
            "{}/tests/fixtures/record/format1-demo.llmrec",
            env!("CARGO_MANIFEST_DIR")
        ),
        "--for",
        "30s",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["status"], "ok");
    assert_eq!(j["rules"].as_array().unwrap().len(), 8);
    assert_eq!(j["rules"][2]["expr"], "error_rate > 5%");
}
