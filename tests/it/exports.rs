//! `llmtop export` against the real tools: every dialect's rule file passes `promtool check rules`;
//! a real Prometheus scraping the demo gateway with the seed rules loaded records the figures
//! `llmtop snapshot` measures (within `prometheus_compare`'s tolerances), fires the exported
//! alert when the demo's failover scenario takes an upstream down, and answers every query of
//! the exported Grafana dashboard with data; on a demo that saturates, the recorded `saturated`
//! and `stalled` verdicts are llmtop's own.
//!
//! Needs Debian's `prometheus` package (`prometheus` and `promtool`); skipped without it locally,
//! a failure on CI, where `.ci/run` installs it.
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{PROMETHEUS, PROMTOOL, PrometheusServer, Scratch, on_ci};
use crate::prometheus_compare::{
    INTERVAL_SECONDS, Tolerances, WINDOW, WINDOW_SECONDS, demo_at, llmtop_snapshot, now_rfc3339,
    parse_le, steady_demo,
};
use llmtop::io::demo::{Scenario, ScenarioSet};
use serde_json::Value;

fn llmtop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(args)
        .env_remove("LLMTOP_SELECTOR")
        .stdin(Stdio::null())
        .output()
        .expect("run llmtop")
}

/// Whether the Prometheus tools are here; on CI their absence is a failure.
fn tools_present(test: &str) -> bool {
    for tool in [PROMETHEUS, PROMTOOL] {
        if !Path::new(tool).exists() {
            assert!(
                !on_ci(),
                "{tool} is missing on CI: .ci/run installs Debian's `prometheus` package"
            );
            eprintln!("SKIPPED {test}: {tool} not found (apt-get install prometheus)");
            return false;
        }
    }
    true
}

#[test]
fn every_dialects_rule_file_passes_promtool() {
    if !tools_present("every_dialects_rule_file_passes_promtool") {
        return;
    }
    let scratch = Scratch::new("rules-all");
    let config = scratch.path("config.toml");
    // Every figure, per model and for one model, so each alert form meets promtool too.
    let alerts = scratch.path("alerts.toml");
    std::fs::write(
        &alerts,
        r#"
[[alert]]
name = "slow"
expr = "p95_latency by model > 2s"
for = "1m"
[[alert]]
name = "slow first token on gpt-4o"
expr = 'ttft_p99{model="gpt-4o"} >= 800ms'
severity = "critical"
[[alert]]
name = "burn"
expr = "cost_per_hour > 50"
[[alert]]
name = "queue"
expr = "queue_time_p95 > 1s"
[[alert]]
name = "stalled"
expr = "stalled"
"#,
    )
    .unwrap();
    for dialect in llmtop::base::dialect::builtin() {
        let path = scratch.path(&format!("{}.yml", dialect.name));
        let out = llmtop(&[
            "export",
            "prometheus-rules",
            "--dialect",
            &dialect.name,
            "--config",
            config.to_str().unwrap(),
            "--selector",
            "job=\"llm\"",
            "-o",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}: {}",
            dialect.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("- record: llmtop:requests_per_second:5m")
                || !dialect.provides(llmtop::base::signal::Signal::Requests),
            "{}: no request rate recorded:\n{text}",
            dialect.name
        );
        let with_alerts = scratch.path(&format!("{}-alerts.yml", dialect.name));
        let out = llmtop(&[
            "export",
            "prometheus-rules",
            "--dialect",
            &dialect.name,
            "--config",
            config.to_str().unwrap(),
            "--rules",
            alerts.to_str().unwrap(),
            "--range",
            "2m",
            "-o",
            with_alerts.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for file in [&path, &with_alerts] {
            let check = Command::new(PROMTOOL)
                .args(["check", "rules"])
                .arg(file)
                .output()
                .expect("run promtool");
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
            assert!(
                check.status.success() && said.contains("SUCCESS"),
                "promtool refuses the {} rules ({}):\n{said}\n{}",
                dialect.name,
                file.display(),
                std::fs::read_to_string(file).unwrap_or_default()
            );
        }
    }
}

/// A Grafana dashboard model's required fields, as Grafana's import checks them.
fn check_dashboard_model(d: &Value) {
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion"
    );
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "title");
    assert!(
        d["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.len() <= 40),
        "uid"
    );
    let panels = d["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut ids = std::collections::BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("a panel title");
        assert!(
            ids.insert(p["id"].as_u64().expect("a panel id")),
            "{title}: id reused"
        );
        assert!(p["type"].as_str().is_some(), "{title}: type");
        for k in ["x", "y", "w", "h"] {
            assert!(p["gridPos"][k].as_u64().is_some(), "{title}: gridPos.{k}");
        }
        assert!(
            p["gridPos"]["x"].as_u64().unwrap() + p["gridPos"]["w"].as_u64().unwrap() <= 24,
            "{title}: wider than the grid"
        );
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(p["datasource"]["uid"], "llmtop-test", "{title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no targets");
        for t in targets {
            assert!(
                t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{title}: expr"
            );
            assert!(t["refId"].as_str().is_some(), "{title}: refId");
            assert_eq!(t["datasource"]["uid"], "llmtop-test", "{title}");
        }
    }
}

/// Exports the seed dialect's rules at `--range` [`WINDOW`] (plus `extra` export flags, with the
/// scratch dir's config) and starts a Prometheus that loads them and scrapes `gateway`; returns
/// once it has scraped it three times.
fn prometheus_with_seed_rules(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    gateway: &llmtop::io::demo::DemoGateway,
    scratch: &Scratch,
    extra: &[&str],
) -> PrometheusServer {
    let config = scratch.path("config.toml");
    let rules = scratch.path("rules.yml");
    let mut args = vec![
        "export",
        "prometheus-rules",
        "--dialect",
        "seed",
        "--range",
        WINDOW,
        "--config",
        config.to_str().unwrap(),
        "-o",
        rules.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = llmtop(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prometheus = rt.block_on(PrometheusServer::start_with_rules(
        http,
        "llmtop-demo",
        &[gateway.addr()],
        Some(&rules),
    ));
    prometheus.wait_for_target(rt, http, 3, Duration::from_secs(15));
    prometheus
}

/// An `llmtop snapshot` of `metrics_url` over [`WINDOW`] and its instant (RFC 3339 and unix
/// seconds), once `prometheus` holds a scrape after it, so a query at that instant sees every
/// scrape the snapshot saw.
fn snapshot_seen_by(
    prometheus: &PrometheusServer,
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    metrics_url: &str,
    config: &Path,
) -> (Value, String, f64) {
    let snapshot = llmtop_snapshot(metrics_url, &["--config", config.to_str().unwrap()]);
    let at = snapshot["at"]
        .as_str()
        .expect("the snapshot's at")
        .to_string();
    let at_unix = chrono::DateTime::parse_from_rfc3339(&at)
        .expect("at is RFC 3339")
        .timestamp_millis() as f64
        / 1000.0;
    prometheus.wait_past(rt, http, at_unix + 1.0, Duration::from_secs(5));
    (snapshot, at, at_unix)
}

#[test]
fn exported_rules_and_panels_against_a_real_prometheus() {
    if !tools_present("exported_rules_and_panels_against_a_real_prometheus") {
        return;
    }
    let started = Instant::now();
    let (rt, http, gateway) = steady_demo();
    let metrics_url = format!("{}/metrics", gateway.base_url());

    let scratch = Scratch::new("rules-prom");
    let config = scratch.path("config.toml");
    let alerts = scratch.path("alerts.toml");
    std::fs::write(
        &alerts,
        r#"
[[alert]]
name = "upstream gone"
expr = "upstream_down"
for = "2s"
severity = "critical"
[[alert]]
name = "half failing"
expr = "error_rate > 50%"
"#,
    )
    .unwrap();
    let prometheus = prometheus_with_seed_rules(
        &rt,
        &http,
        &gateway,
        &scratch,
        &["--rules", alerts.to_str().unwrap(), "--no-default-rules"],
    );
    let (snapshot, at, at_unix) = snapshot_seen_by(&prometheus, &rt, &http, &metrics_url, &config);
    let q = |promql: &str| prometheus.scalar(&rt, &http, promql, &at);
    let recorded = |name: &str| {
        q(&format!("llmtop:{name}:{WINDOW}"))
            .unwrap_or_else(|| panic!("no llmtop:{name}:{WINDOW} at {at}\n{}", prometheus.log()))
    };
    // The rules were evaluated at their own instant, up to a second before `at`: each window
    // edge may differ by that much more than between two scrapers.
    let evaluated = q(&format!("timestamp(llmtop:requests_per_second:{WINDOW})"))
        .expect("the rule's evaluation time");
    let shift = (at_unix - evaluated).clamp(0.0, 1.0);
    let edge = INTERVAL_SECONDS + shift;
    let eval_time = chrono::DateTime::from_timestamp_millis((evaluated * 1000.0) as i64)
        .expect("a time")
        .to_rfc3339();
    let buckets = |family: &str| {
        let mut b: Vec<(f64, f64)> = prometheus
            .query(
                &rt,
                &http,
                &format!("sum by (le) (rate({family}_bucket[{WINDOW}]))"),
                &eval_time,
            )
            .into_iter()
            .map(|(labels, v)| (parse_le(&labels), v))
            .collect();
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        b
    };
    let latency_buckets = buckets("deepseek_request_latency_seconds");
    let ttft_buckets = buckets("deepseek_time_to_first_token_seconds");

    let totals = &snapshot["totals"];
    let ours = |path: &[&str]| {
        let mut v = totals;
        for p in path {
            v = &v[*p];
        }
        v.as_f64()
            .unwrap_or_else(|| panic!("llmtop has no totals.{}: {snapshot:#}", path.join(".")))
    };
    let rps = recorded("requests_per_second");
    let rate_share = Tolerances::rate_over(rps, edge) / rps;
    let mut rows: Vec<(String, f64, f64, f64)> = vec![
        (
            "requests_per_second".into(),
            ours(&["requests_per_second"]),
            rps,
            Tolerances::rate_over(rps, edge),
        ),
        (
            "error_rate".into(),
            ours(&["error_ratio"]),
            recorded("error_rate"),
            Tolerances::error_ratio_over(recorded("error_rate"), rps, edge),
        ),
    ];
    for (tag, q_value) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let latency = recorded(&format!("{tag}_latency"));
        rows.push((
            format!("{tag}_latency"),
            ours(&["latency_seconds", tag]),
            latency,
            Tolerances::quantile_over(q_value, latency, &latency_buckets, edge),
        ));
        let ttft = recorded(&format!("ttft_{tag}"));
        rows.push((
            format!("ttft_{tag}"),
            ours(&["ttft_seconds", tag]),
            ttft,
            Tolerances::quantile_over(q_value, ttft, &ttft_buckets, edge),
        ));
    }
    // Tokens and dollars ride on the same requests, each carrying a different amount: the
    // relative edge noise of the request count, doubled for the spread of tokens per request.
    for (figure, path) in [
        ("tokens_per_second", vec!["tokens_per_second", "total"]),
        ("cost_per_hour", vec!["cost_usd_per_hour"]),
    ] {
        let value = recorded(figure);
        rows.push((figure.into(), ours(&path), value, 2.0 * rate_share * value));
    }
    let by_model = prometheus.query(
        &rt,
        &http,
        &format!("llmtop:requests_per_second_by_model:{WINDOW}"),
        &at,
    );
    assert!(!by_model.is_empty(), "no per-model request rates recorded");
    for (labels, value) in by_model {
        let model = labels.get("model").cloned().unwrap_or_default();
        let mine = snapshot["models"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["model"] == model.as_str()))
            .and_then(|m| m["requests_per_second"].as_f64())
            .unwrap_or_else(|| panic!("llmtop has no {model}: {snapshot:#}"));
        rows.push((
            format!("{model} requests_per_second"),
            mine,
            value,
            Tolerances::rate_over(value, edge),
        ));
    }
    println!(
        "recording rules at {eval_time} (llmtop at {at}, shift {shift:.3} s) vs llmtop snapshot:"
    );
    println!(
        "  {:<34} {:>12} {:>12} {:>10} {:>10}",
        "figure", "llmtop", "rule", "|diff|", "allowed"
    );
    let mut failed = Vec::new();
    for (figure, mine, rule, allowed) in &rows {
        let diff = (mine - rule).abs();
        println!("  {figure:<34} {mine:>12.6} {rule:>12.6} {diff:>10.3e} {allowed:>10.3e}");
        if diff > *allowed {
            failed.push(format!(
                "{figure}: llmtop {mine}, rule {rule}, allowed ±{allowed}"
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "recorded figures differ from llmtop's: {}\nsnapshot: {snapshot:#}",
        failed.join("; ")
    );

    // The failover scenario takes deepseek-chat down: the exported alert fires after its 2 s,
    // and the one for half the requests failing does not.
    gateway
        .scenarios()
        .set(ScenarioSet::from(Scenario::Failover).with(Scenario::Saturation));
    let firing = |name: &str| {
        prometheus
            .query(
                &rt,
                &http,
                &format!("ALERTS{{alertname=\"{name}\",alertstate=\"firing\"}}"),
                &now_rfc3339(),
            )
            .into_iter()
            .next()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        if let Some((labels, _)) = firing("LlmtopUpstreamGone") {
            break labels;
        }
        assert!(
            Instant::now() < deadline,
            "LlmtopUpstreamGone did not fire within 20 s of the failover scenario\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(alert.get("severity").map(String::as_str), Some("critical"));
    assert_eq!(
        alert.get("model").map(String::as_str),
        Some("deepseek-chat")
    );
    assert!(
        firing("LlmtopHalfFailing").is_none(),
        "a healthy error rate fired"
    );

    // Every query of the exported dashboard answers with data, under Grafana's variables.
    let out = llmtop(&[
        "export",
        "grafana",
        "--dialect",
        "seed",
        "--datasource",
        "llmtop-test",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dashboard: Value = serde_json::from_slice(&out.stdout).expect("dashboard JSON");
    check_dashboard_model(&dashboard);
    let queries: Vec<(String, String)> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |t| {
                    let expr = t["expr"]
                        .as_str()
                        .unwrap_or("")
                        .replace("$__rate_interval", WINDOW)
                        .replace("$__range", "1m");
                    (format!("{title} / {}", t["legendFormat"]), expr)
                })
        })
        .collect();
    // Fallback and queue series are born with the scenario: wait until each has two samples.
    let deadline = Instant::now() + Duration::from_secs(30);
    let empty = loop {
        let now = now_rfc3339();
        let empty: Vec<&str> = queries
            .iter()
            .filter(|(_, expr)| prometheus.query(&rt, &http, expr, &now).is_empty())
            .map(|(what, _)| what.as_str())
            .collect();
        if empty.is_empty() || Instant::now() > deadline {
            break empty.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        empty.is_empty(),
        "Grafana panel queries without data: {empty:?}"
    );
    println!(
        "{} panel queries answered; whole test {:.1?}",
        queries.len(),
        started.elapsed()
    );
    drop(prometheus);
    rt.block_on(gateway.shutdown());
}

/// Arrivals a second for the saturation test: the scenario serves 12, so the queue grows by
/// about 8 a second and stays far below its cap of 2000 (where refusals would count as
/// completions and the throughput would rise again) for the whole test.
const SATURATED_ARRIVALS: f64 = 20.0;

#[test]
fn the_recorded_saturation_verdicts_are_llmtops_own() {
    if !tools_present("the_recorded_saturation_verdicts_are_llmtops_own") {
        return;
    }
    let (rt, http, gateway) = demo_at(SATURATED_ARRIVALS);
    let started = Instant::now();
    let metrics_url = format!("{}/metrics", gateway.base_url());

    let scratch = Scratch::new("rules-saturation");
    let config = scratch.path("config.toml");
    let prometheus = prometheus_with_seed_rules(&rt, &http, &gateway, &scratch, &[]);
    // Saturation sets in on a gateway that was keeping up, as it does in life: from the switch
    // on, requests start at the capacity's pace while the arrivals go on, so completions settle
    // at it and the queue grows. The queue's families are born with the scenario; the window
    // starts after.
    std::thread::sleep(Duration::from_secs(8).saturating_sub(started.elapsed()));
    gateway
        .scenarios()
        .set(ScenarioSet::from(Scenario::Saturation));
    let switched = Instant::now();
    std::thread::sleep(Duration::from_secs(2));

    let (snapshot, at, _) = snapshot_seen_by(&prometheus, &rt, &http, &metrics_url, &config);
    assert!(switched.elapsed().as_secs_f64() > WINDOW_SECONDS);
    // Said with a failure: how flat the window was, the later half's completion rate over the
    // whole window's (1.0 is flat; "flat" allows a rise of 10 % or 3 standard deviations).
    let later_over_whole = prometheus.scalar(
        &rt,
        &http,
        &format!(
            "sum(rate(deepseek_requests_total[{}s])) / sum(rate(deepseek_requests_total[{WINDOW}]))",
            WINDOW_SECONDS / 2.0
        ),
        &at,
    );
    let verdict = |name: &str| {
        let ours = snapshot["saturation"][name].as_bool();
        let rule = prometheus.scalar(&rt, &http, &format!("llmtop:{name}:{WINDOW}"), &at);
        println!("{name}: llmtop {ours:?}, rule {rule:?}");
        (ours, rule)
    };
    assert_eq!(
        verdict("saturated"),
        (Some(true), Some(1.0)),
        "saturated, llmtop and the rule (later half / whole completion rate \
         {later_over_whole:?})\nsnapshot: {snapshot:#}\n{}",
        prometheus.log()
    );
    // Tokens still flow at the capacity's rate: not stalled, by either.
    let (ours, rule) = verdict("stalled");
    assert_eq!(ours, Some(false), "snapshot: {snapshot:#}");
    assert_eq!(rule, Some(0.0), "the stalled rule");
    drop(prometheus);
    rt.block_on(gateway.shutdown());
}
