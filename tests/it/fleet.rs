//! Fleet mode end to end: three demo gateways with different traffic, read once through a real
//! Prometheus server (`--prometheus`) and once as three direct targets (`llmtop URL1 URL2 URL3`);
//! both must report the same totals and the same per-instance rows. Plus the API client against
//! a loopback stand-in for Mimir/Thanos/Grafana Cloud (prefix, headers, basic auth, POST).
//!
//! The Prometheus part needs `/usr/bin/prometheus` (Debian's `prometheus`, 2.42); without it the
//! test is skipped locally and fails on CI (`CI` set), like `tests/prometheus_compare.rs`.
//!
//! Tolerances: Prometheus and llmtop scrape every [`INTERVAL`] at phases that differ by an
//! unknown φ ∈ [0, 1 s), so their [`WINDOW`]-second rates see different edge requests: at most
//! `2 × rate × interval` requests, Poisson, so σ = `sqrt(2 × rate × interval) / (window −
//! interval)`. The demo's bursts triple the rate for 8–12 s, so σ is taken at 3× the measured
//! rate, and 4σ is allowed (a Gaussian false alarm ~6e-5 per figure), plus one request per
//! window for a series (a model's first error) that appears inside the window and is
//! extrapolated by Prometheus but counted from its first sample by llmtop. Quantiles may differ
//! by the width of the bucket they fall in: inside a bucket the true value is unknown anyway.
use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PROMETHEUS, PrometheusServer, free_port, on_ci, unique_dir};
use llmtop::base::pricing::PriceTable;
use llmtop::io::demo::{self, DemoConfig, DemoGateway};
use llmtop::io::source::promapi::{self, PromClient, PromConfig, PromError, QueryData};
use llmtop::io::source::scrape::{ScrapeTarget, metrics_url};
use llmtop::model::stats::Figures;
use llmtop::model::store::StoreLimits;
use llmtop::model::table::{FleetInfo, InstanceRow};
use llmtop::model::view::{DashboardView, ViewParams};
use llmtop::runtime::fleet::direct::{self, DirectFleet};
use llmtop::runtime::fleet::prom::{FleetRequest, PromSource};

const INTERVAL: f64 = 1.0;
/// The dashboard window of both modes; the "now" figures span it too (min(now_range, window)).
const WINDOW: f64 = 20.0;
/// Seeds and base request rates of the three gateways: different traffic on each.
const GATEWAYS: [(u64, f64); 3] = [(11, 20.0), (22, 45.0), (33, 80.0)];
const SIGMAS: f64 = 4.0;
const BURST_FACTOR: f64 = 3.0;
const JOIN_REQUESTS: f64 = 1.0;

fn client(http: &reqwest::Client, base: &str) -> PromClient {
    PromClient::new(
        http.clone(),
        PromConfig {
            base: promapi::base_url(base).expect("a base URL"),
            headers: Default::default(),
            basic_auth: None,
            thanos: false,
            timeout: Duration::from_secs(5),
            max_body_bytes: 8 << 20,
        },
    )
}

fn target(addr: SocketAddr) -> ScrapeTarget {
    ScrapeTarget {
        url: metrics_url(&addr.to_string()).expect("a metrics URL"),
        name: addr.to_string(),
        headers: Default::default(),
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(900),
        max_body_bytes: 8 << 20,
        dialect_override: None,
        auth_hint: String::new(),
        redactor: None,
    }
}

/// Allowed |Δ| between two rates of about `rate` requests per second.
fn rate_tolerance(rate: f64) -> f64 {
    let sigma = (2.0 * BURST_FACTOR * rate.max(0.0) * INTERVAL).sqrt() / (WINDOW - INTERVAL);
    SIGMAS * sigma + JOIN_REQUESTS / WINDOW
}

/// Width of the demo histogram bucket `value` falls in (the largest finite one past the end).
fn bucket_width(value: f64) -> f64 {
    // The demo's buckets (src/demo/metrics.rs DEFAULT_BUCKETS).
    const BOUNDS: [f64; 14] = [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];
    let mut lower = 0.0;
    for b in BOUNDS {
        if value <= b {
            return b - lower;
        }
        lower = b;
    }
    // Past the last finite bound histogram_quantile answers that bound.
    2.5
}

fn check(
    label: &str,
    direct: Option<f64>,
    prom: Option<f64>,
    allowed: f64,
    failures: &mut Vec<String>,
) {
    match (direct, prom) {
        (Some(d), Some(p)) => {
            let line = format!(
                "{label}: direct {d:.4} prometheus {p:.4} |Δ| {:.4} allowed {allowed:.4}",
                (d - p).abs()
            );
            eprintln!("{line}");
            if (d - p).abs() > allowed {
                failures.push(line);
            }
        }
        other => failures.push(format!("{label}: missing on one side {other:?}")),
    }
}

fn compare_figures(label: &str, d: &Figures, p: &Figures, failures: &mut Vec<String>) {
    let rps = d.requests_per_second.unwrap_or(0.0);
    check(
        &format!("{label} req/s"),
        d.requests_per_second,
        p.requests_per_second,
        rate_tolerance(rps),
        failures,
    );
    let errors = d.errors_per_second.unwrap_or(0.0);
    check(
        &format!("{label} errors/s"),
        d.errors_per_second,
        p.errors_per_second,
        rate_tolerance(errors),
        failures,
    );
    // Tokens arrive in lumps of one request's tokens; the same edge argument in requests,
    // scaled by the window's tokens per request.
    let per_request = d.tokens_per_second.total.unwrap_or(0.0) / rps.max(1e-9);
    check(
        &format!("{label} tokens/s"),
        d.tokens_per_second.total,
        p.tokens_per_second.total,
        rate_tolerance(rps) * per_request * 2.0,
        failures,
    );
}

fn instances(view: &DashboardView) -> &FleetInfo {
    view.fleet.as_ref().expect("a fleet view")
}

fn row<'a>(info: &'a FleetInfo, name: &str) -> &'a InstanceRow {
    info.instances
        .iter()
        .find(|r| r.instance == name)
        .unwrap_or_else(|| panic!("no row for {name}: {:?}", info.instances))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_direct_targets_agree_on_a_fleet_of_three() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            !on_ci(),
            "{PROMETHEUS} is missing on CI: .ci/run should install Debian's `prometheus`"
        );
        eprintln!("SKIPPED: {PROMETHEUS} not found (apt-get install prometheus to run it)");
        return;
    }
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let mut gateways: Vec<DemoGateway> = Vec::new();
    // The busiest gateway's primary upstream is down (the Gateway panel through PromQL); the
    // quietest exports its queue (below capacity: nothing waits, but the families are there).
    let scenarios = [
        demo::ScenarioSet::from(demo::Scenario::Saturation),
        demo::ScenarioSet::NONE,
        demo::ScenarioSet::from(demo::Scenario::Failover),
    ];
    for ((seed, rps), scenario) in GATEWAYS.into_iter().zip(scenarios) {
        gateways.push(
            demo::spawn_with_scenarios(
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                DemoConfig {
                    seed: Some(seed),
                    traffic: true,
                    latency_scale: 0.0,
                    requests_per_second: rps,
                    capacity: None,
                },
                scenario,
            )
            .await
            .expect("a demo gateway"),
        );
    }
    let addrs: Vec<SocketAddr> = gateways.iter().map(|g| g.addr()).collect();
    let prometheus = PrometheusServer::start(&http, "gateways", &addrs).await;

    // Both sides need samples over the whole window: llmtop starts scraping once Prometheus has
    // scraped every gateway (else Prometheus' window would start late and its rate, extrapolated
    // by half an interval only, would come out low).
    let api = client(&http, &prometheus.base);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = api
            .query("count(up == 1)", llmtop::base::clock::unix_now())
            .await;
        if let Ok(promapi::Answer {
            data: QueryData::Vector(v),
            ..
        }) = &up
            && v.first().is_some_and(|s| s.value == 3.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus does not see three gateways up: {up:?}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // llmtop's own scrapes of the three, ticking every second as `llmtop URL1 URL2 URL3` does.
    let dialects = Arc::new(llmtop::base::dialect::builtin());
    let limits = StoreLimits {
        slots: 600,
        ..StoreLimits::default()
    };
    let mut fleet = DirectFleet::new(
        addrs.iter().map(|a| target(*a)).collect(),
        dialects.clone(),
        limits,
    );
    let prices = PriceTable::builtin();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    // Enough history for full windows on both sides: the window plus a few intervals.
    for _ in 0..(WINDOW as usize + 4) {
        ticker.tick().await;
        let tick = direct::scrape_all(&http, &fleet.targets, &dialects, &mut fleet.sticky).await;
        fleet.apply(tick);
    }
    let eval_t = fleet.aggregate.latest_time().expect("direct scrapes");
    let params = ViewParams {
        url: "direct",
        window: WINDOW,
        interval: INTERVAL,
        columns: 40,
        dialect_signals: &[],
        model_filter: None,
    };
    let direct_view = fleet.view(&prices, &params, None);

    // Prometheus must hold a scrape past eval_t before it is asked about eval_t.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let newest = api.query("min(timestamp(up))", eval_t + 5.0).await;
        if let Ok(promapi::Answer {
            data: QueryData::Vector(v),
            ..
        }) = &newest
            && v.first().is_some_and(|s| s.value > eval_t)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has no scrape past {eval_t}: {newest:?}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let source = PromSource {
        client: api.clone(),
        selector: "{job=\"gateways\"}".to_string(),
        instance_label: "instance".to_string(),
        scrape_interval: INTERVAL,
        refresh: INTERVAL,
    };
    let seed_dialect = source
        .detect_dialect(&dialects, None)
        .await
        .expect("the seed dialect is detected from metric names");
    assert_eq!(seed_dialect.name, "seed");
    let request = FleetRequest {
        window: WINDOW,
        columns: 40,
        model_filter: None,
        drill: None,
    };
    let frame = source
        .refresh(seed_dialect, &prices, &request, eval_t)
        .await;
    let prom_view = &frame.view;
    assert_eq!(
        instances(prom_view).errors,
        Vec::<String>::new(),
        "query errors"
    );
    eprintln!(
        "queries per refresh: {} (budget {})",
        frame.queries_sent,
        llmtop::runtime::fleet::prom::QUERY_BUDGET
    );
    assert!(frame.queries_sent <= llmtop::runtime::fleet::prom::QUERY_BUDGET);
    // The seed dialect has no spend counter, no cached tokens, no KV cache, preemptions or
    // token limits: 27 queries for the monitor's figures, 1 queue gauge and 3 queue-time
    // quantiles, and 11 for the router (success and failure rates, cooldowns, 3 gauges, 4
    // fallback rates and counts, 1 describe).
    assert_eq!(frame.queries_sent, 27 + 4 + 11);
    // The Gateway panel through PromQL says what a direct scrape of the fleet says.
    let names = |v: &llmtop::model::view::DashboardView| -> Vec<(String, String)> {
        v.upstreams
            .iter()
            .map(|u| (u.name.clone(), u.state.name().to_string()))
            .collect()
    };
    // Healthy upstreams order among themselves by error ratio, a few errors in thousands that
    // PromQL's extrapolated window and the direct scrape's window see differently; the states
    // come in the same worst-first order and each upstream has the same state.
    let states = |v: &[(String, String)]| v.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    let by_name = |v: &[(String, String)]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let (prom_rows, direct_rows) = (names(prom_view), names(&direct_view));
    assert_eq!(
        states(&prom_rows),
        states(&direct_rows),
        "states, worst first"
    );
    assert_eq!(
        by_name(&prom_rows),
        by_name(&direct_rows),
        "state of each upstream"
    );
    let down = &prom_view.upstreams[0];
    assert_eq!(
        (down.name.as_str(), down.state.name()),
        ("deepseek-chat", "down")
    );
    assert_eq!(down.provider.as_deref(), Some("deepseek"));
    assert_eq!(down.api_base.as_deref(), Some("https://api.deepseek.com"));
    assert!(
        down.fallback_targets
            .iter()
            .any(|t| t == "claude-sonnet-4-5"),
        "{down:?}"
    );
    assert_eq!(down.rpm_limit, Some(1000.0));
    let targets = |v: &llmtop::model::view::DashboardView| -> Vec<(String, String, bool)> {
        v.fallbacks
            .iter()
            .map(|f| (f.from.clone(), f.to.clone(), f.ok))
            .collect()
    };
    let mut prom_pairs = targets(prom_view);
    let mut direct_pairs = targets(&direct_view);
    prom_pairs.sort();
    direct_pairs.sort();
    assert_eq!(prom_pairs, direct_pairs);
    let fallback_rate = |v: &llmtop::model::view::DashboardView| {
        v.fallbacks.iter().filter_map(|f| f.per_second).sum::<f64>()
    };
    let mut gateway_failures = Vec::new();
    check(
        "fallbacks/s",
        Some(fallback_rate(&direct_view)),
        Some(fallback_rate(prom_view)),
        0.15 * fallback_rate(&direct_view),
        &mut gateway_failures,
    );
    assert!(gateway_failures.is_empty(), "{gateway_failures:?}");
    assert!(
        prom_view.saturation.queued.is_some(),
        "{:?}",
        prom_view.saturation
    );
    assert!(
        prom_view.saturation.queue_time_seconds.p95.is_some(),
        "{:?}",
        prom_view.saturation
    );

    let mut failures = Vec::new();
    compare_figures("fleet", &direct_view.now, &prom_view.now, &mut failures);
    for (q, d, p) in [
        (
            "p50",
            direct_view.now.latency_seconds.p50,
            prom_view.now.latency_seconds.p50,
        ),
        (
            "p95",
            direct_view.now.latency_seconds.p95,
            prom_view.now.latency_seconds.p95,
        ),
        (
            "p99",
            direct_view.now.latency_seconds.p99,
            prom_view.now.latency_seconds.p99,
        ),
    ] {
        let width = bucket_width(d.unwrap_or(0.0)).max(bucket_width(p.unwrap_or(0.0)));
        check(&format!("fleet latency {q}"), d, p, width, &mut failures);
    }
    // Per-instance rows: the same three instances, each matching its own demo's counters as
    // llmtop scraped them directly.
    let direct_rows = instances(&direct_view);
    let prom_rows = instances(prom_view);
    let mut names: Vec<String> = prom_rows
        .instances
        .iter()
        .map(|r| r.instance.clone())
        .collect();
    names.sort();
    let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    want.sort();
    assert_eq!(
        names, want,
        "one row per gateway, named by its instance label"
    );
    let mut sum_rows = 0.0;
    for addr in &addrs {
        let name = addr.to_string();
        let d = row(direct_rows, &name);
        let p = row(prom_rows, &name);
        assert!(!d.down && !p.down, "{name} is up");
        compare_figures(&name, &d.figures, &p.figures, &mut failures);
        sum_rows += p.figures.requests_per_second.unwrap_or(0.0);
    }
    // The fleet total is the sum of its rows, exactly (sums of rates, never averages).
    let total = prom_view.now.requests_per_second.unwrap_or(0.0);
    assert!(
        (sum_rows - total).abs() <= 1e-9 * total.max(1.0),
        "{sum_rows} vs {total}"
    );
    // Different traffic really is different: the busiest gateway shows the highest rate.
    let busiest = row(prom_rows, &addrs[2].to_string())
        .figures
        .requests_per_second
        .unwrap_or(0.0);
    let quietest = row(prom_rows, &addrs[0].to_string())
        .figures
        .requests_per_second
        .unwrap_or(0.0);
    assert!(busiest > 2.0 * quietest, "{busiest} vs {quietest}");
    // The table at fleet level lists the instances.
    assert_eq!(prom_view.models.len(), 3);
    assert_eq!(direct_view.models.len(), 3);
    assert!(
        failures.is_empty(),
        "fleet figures disagree:\n{}",
        failures.join("\n")
    );

    // `snapshot` in both modes over the same window at the same time: the same totals and the
    // same per-instance rows (tolerances as above); models stay models.
    let prom_snap = llmtop::front::report::prometheus_snapshot(
        &source
            .refresh_over(seed_dialect, &prices, &request, eval_t, WINDOW)
            .await
            .view,
        &prometheus.base,
        WINDOW,
        Vec::new(),
    );
    let direct_snap = llmtop::front::report::fleet_snapshot(&fleet, &prices, WINDOW, Vec::new());
    let mut failures = Vec::new();
    compare_figures(
        "snapshot",
        &direct_snap.totals,
        &prom_snap.totals,
        &mut failures,
    );
    let snap_row = |snap: &llmtop::front::report::Snapshot, name: &str| {
        snap.instances
            .as_ref()
            .and_then(|rows| rows.iter().find(|r| r.instance == name).cloned())
            .unwrap_or_else(|| panic!("no snapshot row for {name}"))
    };
    for addr in &addrs {
        let name = addr.to_string();
        let (d, p) = (snap_row(&direct_snap, &name), snap_row(&prom_snap, &name));
        assert!(!d.stale && !p.stale, "{name} is up");
        compare_figures(
            &format!("snapshot {name}"),
            &d.figures,
            &p.figures,
            &mut failures,
        );
    }
    assert!(
        failures.is_empty(),
        "snapshot figures disagree:\n{}",
        failures.join("\n")
    );
    let models = |snap: &llmtop::front::report::Snapshot| -> Vec<String> {
        snap.models.iter().map(|m| m.model.clone()).collect()
    };
    assert_eq!(models(&prom_snap), models(&direct_snap));
    assert!(
        prom_snap.models.len() >= 4,
        "the demo's models, not the instances"
    );
    assert_eq!(prom_snap.instance_label.as_deref(), Some("instance"));
    assert_eq!(direct_snap.instance_label.as_deref(), Some("target"));
    assert_eq!((prom_snap.scrapes, prom_snap.scrape_errors), (0, 0));

    // The command itself: answers at once (Prometheus holds the history), same JSON shape.
    let asked = Instant::now();
    let out = llmtop_ok(
        [
            "snapshot",
            "--prometheus",
            &prometheus.base,
            "--selector",
            "{job=\"gateways\"}",
            "--prometheus-scrape-interval",
            "1s",
            "--for",
            "20s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "no waiting for --for"
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("snapshot JSON");
    assert_eq!(json["dialect"], "seed");
    assert_eq!(json["window_seconds"], 20.0);
    assert_eq!(json["instance_label"], "instance");
    assert_eq!(json["stale"], false);
    let rows = json["instances"].as_array().expect("instances");
    let mut got: Vec<&str> = rows.iter().filter_map(|r| r["instance"].as_str()).collect();
    got.sort();
    let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    // Prometheus sums the rows' rates: the total is their sum exactly.
    let sum: f64 = rows
        .iter()
        .filter_map(|r| r["requests_per_second"].as_f64())
        .sum();
    let total = json["totals"]["requests_per_second"]
        .as_f64()
        .expect("a total rate");
    assert!(
        total > 0.0 && (sum - total).abs() <= 1e-9 * total,
        "{sum} vs {total}"
    );

    // Drill-down: the queries narrowed to one instance give that instance's figures.
    let one = addrs[1].to_string();
    let drilled = source
        .refresh(
            seed_dialect,
            &prices,
            &FleetRequest {
                drill: Some(one.clone()),
                ..request.clone()
            },
            eval_t,
        )
        .await;
    assert_eq!(
        instances(&drilled.view).drilled.as_deref(),
        Some(one.as_str())
    );
    assert_eq!(
        drilled.view.now.requests_per_second,
        row(prom_rows, &one).figures.requests_per_second
    );
    assert!(
        drilled.view.models.len() >= 3,
        "the drilled table lists models"
    );

    // A query the server refuses is an error on screen, not a panic.
    let bad = api.query("sum(", eval_t).await.expect_err("a parse error");
    assert_eq!(bad.error_type(), Some("bad_data"), "{bad}");

    // The dashboard in fleet mode: the instance table, a drill-down, the query count.
    let mut term = pty::Pty::spawn(
        &[
            "--prometheus",
            &prometheus.base,
            "--selector",
            "{job=\"gateways\"}",
            "--prometheus-scrape-interval",
            "1s",
        ],
        160,
        50,
    );
    let names: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let wanted: Vec<&str> = ["Instances", "seed"]
        .into_iter()
        .chain(names.iter().map(String::as_str))
        .collect();
    term.wait_for(&wanted, Duration::from_secs(15));
    term.send(b"g\r");
    term.wait_for(
        &["Esc: fleet", "Models", "deepseek-chat"],
        Duration::from_secs(15),
    );
    term.send(b"q");
    assert!(term.wait_exit(Duration::from_secs(10)), "llmtop exits 0");

    // One gateway goes down: its row turns STALE in both modes while the others go on.
    let down = gateways.pop().expect("three gateways");
    let down_name = down.addr().to_string();
    down.shutdown().await;
    for _ in 0..3 {
        ticker.tick().await;
        let tick = direct::scrape_all(&http, &fleet.targets, &dialects, &mut fleet.sticky).await;
        fleet.apply(tick);
    }
    let direct_view = fleet.view(&prices, &params, None);
    assert!(row(instances(&direct_view), &down_name).down);
    assert!(!row(instances(&direct_view), &addrs[0].to_string()).down);
    assert_eq!(
        direct_view.status.last_error, None,
        "the fleet as a whole is not stale"
    );
    assert!(
        direct_view
            .models
            .iter()
            .any(|m| m.model == format!("{down_name} STALE"))
    );
    assert!(direct_view.now.requests_per_second.is_some_and(|r| r > 0.0));
    let later = fleet.aggregate.latest_time().expect("ticks");
    let frame = source.refresh(seed_dialect, &prices, &request, later).await;
    assert!(
        row(instances(&frame.view), &down_name).down,
        "up == 0 marks it"
    );
    assert!(!row(instances(&frame.view), &addrs[0].to_string()).down);

    for g in gateways {
        g.shutdown().await;
    }
    eprintln!("fleet test took {:?}", started.elapsed());
}

// --- The API client against a loopback stand-in for Mimir, Thanos and Grafana Cloud. ---

#[derive(Debug, Clone, Default)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: String,
    org: Option<String>,
    auth: Option<String>,
}

async fn stand_in() -> (SocketAddr, Arc<std::sync::Mutex<Vec<Seen>>>) {
    use axum::extract::{Request, State};
    let seen: Arc<std::sync::Mutex<Vec<Seen>>> = Default::default();
    async fn handle(
        State(seen): State<Arc<std::sync::Mutex<Vec<Seen>>>>,
        req: Request,
    ) -> axum::response::Response {
        let mut s = {
            let header = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            Seen {
                method: req.method().to_string(),
                path: req.uri().path().to_string(),
                query: req.uri().query().unwrap_or("").to_string(),
                org: header("x-scope-orgid"),
                auth: header("authorization"),
                ..Seen::default()
            }
        };
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        s.body = String::from_utf8_lossy(&body).to_string();
        let error = s.query.contains("bad") || s.body.contains("bad");
        seen.lock().expect("the lock").push(s);
        let (status, text) = if error {
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
            )
        } else {
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a"},"value":[1700000000,"NaN"]}]}}"#,
            )
        };
        axum::response::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(text))
            .expect("a response")
    }
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

#[tokio::test]
async fn the_client_keeps_prefix_headers_auth_and_thanos_flags() {
    let (addr, seen) = stand_in().await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-scope-orgid",
        reqwest::header::HeaderValue::from_static("tenant-1"),
    );
    let client = PromClient::new(
        reqwest::Client::new(),
        PromConfig {
            base: promapi::base_url(&format!("http://{addr}/select/0/prometheus")).expect("a URL"),
            headers,
            basic_auth: Some((
                "12345".into(),
                llmtop::base::secret::Secret::new("glc_token"),
            )),
            thanos: true,
            timeout: Duration::from_secs(3),
            max_body_bytes: 1 << 20,
        },
    );
    let answer = client
        .query("up", 1_700_000_000.0)
        .await
        .expect("an answer");
    let QueryData::Vector(v) = answer.data else {
        panic!("a vector")
    };
    assert!(v[0].value.is_nan());
    let long = format!("sum(up{{job=~\"{}\"}})", "x|".repeat(1500));
    client
        .query(&long, 1_700_000_000.0)
        .await
        .expect("a long query");
    let err = client
        .query("bad(", 1_700_000_000.0)
        .await
        .expect_err("an error");
    assert!(
        matches!(
            err,
            PromError::Api {
                http_status: 400,
                ..
            }
        ),
        "{err:?}"
    );
    let seen = seen.lock().expect("the lock").clone();
    assert_eq!(seen.len(), 3);
    let first = &seen[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/select/0/prometheus/api/v1/query");
    assert_eq!(
        first.query,
        "query=up&time=1700000000.000&timeout=3s&partial_response=true&dedup=true"
    );
    assert_eq!(first.org.as_deref(), Some("tenant-1"));
    // base64("12345:glc_token")
    assert_eq!(first.auth.as_deref(), Some("Basic MTIzNDU6Z2xjX3Rva2Vu"));
    // A long query goes as a form POST, the same parameters in the body.
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].query, "");
    assert!(
        seen[1]
            .body
            .starts_with("query=sum%28up%7Bjob%3D%7E%22x%7Cx%7C"),
        "{}",
        seen[1].body
    );
    assert!(
        seen[1]
            .body
            .ends_with("&timeout=3s&partial_response=true&dedup=true")
    );
}

// --- The dashboard on two direct targets, in a real pseudo-terminal. ---

mod pty {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use portable_pty::{CommandBuilder, PtySize, native_pty_system};

    pub struct Pty {
        parser: Arc<Mutex<vt100::Parser>>,
        writer: Box<dyn Write + Send>,
        child: Box<dyn portable_pty::Child + Send + Sync>,
        _master: Box<dyn portable_pty::MasterPty + Send>,
    }

    impl Pty {
        pub fn spawn(args: &[&str], cols: u16, rows: u16) -> Self {
            let pair = native_pty_system()
                .openpty(PtySize {
                    rows,
                    cols,
                    pixel_width: 0,
                    pixel_height: 0,
                })
                .expect("open a pty");
            let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_llmtop"));
            cmd.args(args);
            cmd.env("TERM", "xterm-256color");
            let log = std::env::temp_dir().join(format!("llmtop-fleet-{}.log", std::process::id()));
            cmd.env("LLMTOP_LOG_FILE", log);
            let child = pair.slave.spawn_command(cmd).expect("spawn llmtop");
            drop(pair.slave);
            let mut reader = pair.master.try_clone_reader().expect("pty reader");
            let writer = pair.master.take_writer().expect("pty writer");
            let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
            let sink = parser.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("the parser").process(&buf[..n]);
                }
            });
            Self {
                parser,
                writer,
                child,
                _master: pair.master,
            }
        }

        pub fn screen(&self) -> String {
            self.parser.lock().expect("the parser").screen().contents()
        }

        pub fn wait_for(&self, what: &[&str], timeout: Duration) -> String {
            let start = Instant::now();
            loop {
                let screen = self.screen();
                if what.iter().all(|w| screen.contains(w)) {
                    return screen;
                }
                assert!(
                    start.elapsed() < timeout,
                    "timed out waiting for {what:?}; screen:\n{screen}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        pub fn send(&mut self, bytes: &[u8]) {
            self.writer.write_all(bytes).expect("write to the pty");
            self.writer.flush().expect("flush the pty");
        }

        pub fn wait_exit(&mut self, timeout: Duration) -> bool {
            let start = Instant::now();
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return status.success();
                }
                if start.elapsed() > timeout {
                    let _ = self.child.kill();
                    return false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn the_dashboard_lists_targets_drills_in_and_marks_a_down_one_stale() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let spawn = |seed: u64, rps: f64| {
        rt.block_on(demo::spawn(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            DemoConfig {
                seed: Some(seed),
                traffic: true,
                latency_scale: 0.0,
                requests_per_second: rps,
                capacity: None,
            },
        ))
        .expect("a demo gateway")
    };
    let a = spawn(5, 10.0);
    let b = spawn(6, 30.0);
    let (name_a, name_b) = (a.addr().to_string(), b.addr().to_string());
    let mut term = pty::Pty::spawn(
        &[
            &name_a,
            &name_b,
            "--interval",
            "500ms",
            "--timeout",
            "400ms",
        ],
        160,
        50,
    );
    let long = Duration::from_secs(15);
    term.wait_for(&["Instances", "instance", &name_a, &name_b], long);
    // g selects the top row of the table; Enter drills into it, Esc goes back.
    term.send(b"g");
    term.send(b"\r");
    let screen = term.wait_for(&["Esc: fleet", "Models"], long);
    assert!(
        screen.contains(&format!("{name_a} · Esc")) || screen.contains(&format!("{name_b} · Esc")),
        "the table names the instance drilled into:\n{screen}"
    );
    term.send(b"\x1b");
    term.wait_for(&["Instances", &name_a, &name_b], long);
    // One target goes down: its row says STALE, the other keeps going.
    rt.block_on(b.shutdown());
    term.wait_for(&[&format!("{name_b} STALE")], long);
    term.send(b"q");
    assert!(term.wait_exit(Duration::from_secs(10)), "llmtop exits 0");
    rt.block_on(a.shutdown());
}

#[test]
fn fleet_flags_parse_and_conflict_as_documented() {
    use clap::Parser;
    use llmtop::app::cli::Cli;
    let cli = Cli::try_parse_from([
        "llmtop",
        "--prometheus",
        "https://mimir.example/prometheus",
        "--selector",
        "{job=\"litellm\"}",
        "--header",
        "X-Scope-OrgID: team-a",
        "--thanos",
        "--instance-label",
        "pod",
    ])
    .expect("fleet flags parse");
    assert_eq!(
        cli.target.prometheus.as_deref(),
        Some("https://mimir.example/prometheus")
    );
    assert_eq!(cli.target.selector.as_deref(), Some("{job=\"litellm\"}"));
    assert!(cli.target.thanos);
    assert_eq!(cli.target.instance_label, "pod");
    let cli =
        Cli::try_parse_from(["llmtop", "gw1:4000", "gw2:4000", "gw3:4000"]).expect("three targets");
    assert_eq!(cli.target.url.as_deref(), Some("gw1:4000"));
    assert_eq!(cli.target.more_urls, ["gw2:4000", "gw3:4000"]);
    // A URL and --prometheus are two different modes; --selector only filters Prometheus.
    assert!(Cli::try_parse_from(["llmtop", "gw:4000", "--prometheus", "http://p:9090"]).is_err());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["127.0.0.1:9", "--selector", "{job=\"x\"}"])
        .env(
            "LLMTOP_LOG_FILE",
            std::env::temp_dir().join("llmtop-fleet-flags.log"),
        )
        .output()
        .expect("run llmtop");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only apply with --prometheus URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        Cli::try_parse_from([
            "llmtop",
            "--prometheus",
            "p:9090",
            "--basic-auth-password-env",
            "X"
        ])
        .is_err(),
        "a password without a user"
    );
}

#[test]
fn record_refuses_fleet_mode_plainly() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
            .args(args)
            .env(
                "LLMTOP_LOG_FILE",
                std::env::temp_dir().join("llmtop-fleet-refuse.log"),
            )
            .output()
            .expect("run llmtop");
        assert!(!out.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let dir = unique_dir("fleet-record");
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("x.llmrec").to_string_lossy().to_string();
    let err = run(&["127.0.0.1:9", "127.0.0.1:10", "--record", &file]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.contains("cannot be recorded yet"), "{err}");
}

#[test]
fn enter_drills_into_the_highlighted_instance_and_esc_comes_back() {
    use llmtop::base::keymap::Action;
    use llmtop::front::tui::app::{App, Effect, Panel};
    use llmtop::front::tui::theme::Theme;
    use llmtop::model::table::SortColumn;
    let store = llmtop::model::store::TargetStore::new("fleet", StoreLimits::default());
    let params = ViewParams {
        url: "direct",
        window: 60.0,
        interval: 1.0,
        columns: 20,
        dialect_signals: &[],
        model_filter: None,
    };
    let mut view = DashboardView::compute(&store, &PriceTable::builtin(), &params);
    let row = |name: &str, rps: f64, down: bool| InstanceRow {
        instance: name.to_string(),
        figures: Figures {
            requests_per_second: Some(rps),
            ..Figures::default()
        },
        down,
    };
    view.fleet = Some(FleetInfo {
        instance_label: "instance".into(),
        instances: vec![
            row("a:1", 1.0, false),
            row("b:1", 9.0, true),
            row("c:1", 5.0, false),
        ],
        drilled: None,
        errors: vec![],
        queries_per_refresh: 0,
    });
    llmtop::model::view::show_instances(&mut view);
    assert_eq!(view.models.len(), 3);
    let mut app = App::new(
        view.clone(),
        Theme::builtin_default(),
        60.0,
        3600.0,
        String::new(),
    );
    app.sort = SortColumn::Requests;
    app.sort_descending = true;
    // Down moves into the table (second row by req/s: c:1), Enter drills into it.
    assert_eq!(app.apply(Action::Down, 0.0), Effect::None);
    assert_eq!(app.focus, Panel::Models);
    assert_eq!(
        app.apply(Action::Expand, 0.0),
        Effect::Drill(Some("c:1".into()))
    );
    assert!(
        !app.expanded,
        "Enter drilled instead of expanding the panel"
    );
    // The top row is the down one; its STALE mark is not part of the name drilled into.
    app.selected_model = 0;
    assert_eq!(
        app.apply(Action::Expand, 0.0),
        Effect::Drill(Some("b:1".into()))
    );
    // Drilled in, Esc goes back to the fleet.
    let mut drilled = view.clone();
    if let Some(f) = drilled.fleet.as_mut() {
        f.drilled = Some("b:1".into());
    }
    app.view = drilled;
    assert_eq!(app.apply(Action::CloseOverlay, 0.0), Effect::Drill(None));
    // Drilled in, the table lists models, so Enter expands the panel as usual.
    assert_eq!(app.apply(Action::Expand, 0.0), Effect::None);
    assert!(app.expanded);
}

// --- Several direct targets: each with its own credentials; `snapshot` over them. ---

/// What a loopback gateway stand-in received: the headers that carry credentials or tenancy.
#[derive(Debug, Clone, Default, PartialEq)]
struct Received {
    auth: Option<String>,
    tenant: Option<String>,
    common: Option<String>,
}

/// Rows against the aggregate of a 4 s snapshot. Each series' rate is extrapolated to the window
/// edges from its own samples (PromQL's rule); a series a target starts inside the window (a
/// model's first error there) is extrapolated alone in its row but only counts from its first
/// sample in the aggregate, where the model already exists. Measured: 0.04–0.8 % on warm demo
/// gateways; 3 % allowed. Without the warm-up it is 12 %: every series starts inside the window.
const SUM_TOLERANCE: f64 = 0.03;

/// A `/metrics` stand-in that records the headers of every request it gets.
async fn recorder() -> (SocketAddr, Arc<std::sync::Mutex<Vec<Received>>>) {
    use axum::extract::{Request, State};
    let seen: Arc<std::sync::Mutex<Vec<Received>>> = Default::default();
    async fn handle(
        State(seen): State<Arc<std::sync::Mutex<Vec<Received>>>>,
        req: Request,
    ) -> &'static str {
        let header = |n: &str| {
            req.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        seen.lock().expect("the lock").push(Received {
            auth: header("authorization"),
            tenant: header("x-tenant"),
            common: header("x-common"),
        });
        "# TYPE up gauge\nup 1\n"
    }
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

/// Runs the real binary (bounded) and returns its stdout; it must succeed.
async fn llmtop_ok(args: Vec<String>) -> String {
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
            .args(&args)
            .env(
                "LLMTOP_LOG_FILE",
                std::env::temp_dir().join("llmtop-fleet-cli.log"),
            )
            .env_remove("LLMTOP_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .output()
            .map(|out| (args, out))
    });
    let (args, out) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("llmtop finishes within 60 s")
        .expect("the blocking task")
        .expect("run llmtop");
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn taken(seen: &Arc<std::sync::Mutex<Vec<Received>>>) -> Vec<Received> {
    std::mem::take(&mut *seen.lock().expect("the lock"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_direct_target_gets_its_own_credentials_and_no_other() {
    let (a, seen_a) = recorder().await;
    let (b, seen_b) = recorder().await;
    let dir = unique_dir("fleet-credentials");
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let write_secret = |name: &str, text: &str| -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a token file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod 600");
        }
        path.to_string_lossy().to_string()
    };
    let token_a = write_secret("a.token", "canary-token-for-a-only\n");
    let token_b = write_secret("b.token", "canary-token-for-b-only\n");
    let token_c = write_secret("c.token", "canary-token-from-the-command-line\n");
    let config = write_secret(
        "llmtop.toml",
        &format!(
            "[[target]]\nname = \"prod-a\"\nurl = \"http://{a}/metrics\"\nheaders = [\"X-Tenant: team-a\"]\n\
             bearer_token_file = \"{token_a}\"\n\n\
             [[target]]\nname = \"prod-b\"\nurl = \"http://{b}/metrics\"\nbearer_token_file = \"{token_b}\"\n\
             dialect = \"vllm\"\n"
        ),
    );
    let snapshot = |targets: &[&str], extra: &[&str]| -> Vec<String> {
        [
            "snapshot",
            "--config",
            &config,
            "--for",
            "1s",
            "--timeout",
            "2s",
        ]
        .iter()
        .chain(targets)
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    let bearer_a = Some("Bearer canary-token-for-a-only".to_string());
    let bearer_b = Some("Bearer canary-token-for-b-only".to_string());
    let bearer_c = Some("Bearer canary-token-from-the-command-line".to_string());

    // Two named targets: each its own token, header and dialect; --header goes to both.
    llmtop_ok(snapshot(
        &["prod-a", "prod-b"],
        &["--header", "X-Common: both"],
    ))
    .await;
    let (got_a, got_b) = (taken(&seen_a), taken(&seen_b));
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both were scraped");
    let want_a = Received {
        auth: bearer_a.clone(),
        tenant: Some("team-a".into()),
        common: Some("both".into()),
    };
    let want_b = Received {
        auth: bearer_b.clone(),
        tenant: None,
        common: Some("both".into()),
    };
    assert!(got_a.iter().all(|r| *r == want_a), "{got_a:?}");
    assert!(got_b.iter().all(|r| *r == want_b), "{got_b:?}");

    // A named target and a plain URL: the URL gets the command line's settings only.
    let url_b = format!("http://{b}/metrics");
    llmtop_ok(snapshot(&["prod-a", &url_b], &[])).await;
    let (got_a, got_b) = (taken(&seen_a), taken(&seen_b));
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both were scraped");
    assert!(
        got_a
            .iter()
            .all(|r| r.auth == bearer_a && r.common.is_none()),
        "{got_a:?}"
    );
    assert!(
        got_b.iter().all(|r| *r == Received::default()),
        "prod-a's token or header reached the plain URL: {got_b:?}"
    );

    // Two plain URLs with --bearer-token-file: the command line's token goes to both.
    let url_a = format!("http://{a}/metrics");
    llmtop_ok(snapshot(
        &[&url_a, &url_b],
        &["--bearer-token-file", &token_c],
    ))
    .await;
    let (got_a, got_b) = (taken(&seen_a), taken(&seen_b));
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both were scraped");
    assert!(got_a.iter().chain(&got_b).all(|r| r.auth == bearer_c));

    // Each target keeps its own dialect too.
    use clap::Parser;
    let cli =
        llmtop::app::cli::Cli::try_parse_from(["llmtop", "prod-a", "prod-b", "--config", &config])
            .expect("parse");
    let loaded =
        llmtop::io::config::Config::load(Some(Path::new(&config))).expect("the config loads");
    let mode = llmtop::runtime::fleet::FleetMode::from_args(
        &(&cli.target).into(),
        &loaded,
        &reqwest::Client::new(),
        Arc::new(llmtop::base::dialect::builtin()),
        StoreLimits::default(),
    )
    .expect("a fleet");
    let Some(llmtop::runtime::fleet::FleetMode::Direct { fleet, .. }) = mode else {
        panic!("two targets make a direct fleet");
    };
    let dialects: Vec<Option<&str>> = fleet
        .targets
        .iter()
        .map(|t| t.dialect_override.as_deref())
        .collect();
    assert_eq!(dialects, [None, Some("vllm")]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every key of a snapshot is in docs/snapshot-schema.json and every required one is there,
/// at the top, in `totals`, in each model and in each instance.
fn documented_in_the_schema(json: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/snapshot-schema.json");
    let text = std::fs::read_to_string(path).expect("the schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let top = keys(&schema["properties"]);
    for key in keys(json) {
        assert!(top.contains(&key), "{key} is not in the schema");
    }
    let figures = names(&schema["$defs"]["figures"]["required"]);
    let mut want: Vec<(String, Vec<String>)> = vec![("".into(), names(&schema["required"]))];
    want.push(("totals".into(), figures.clone()));
    for (def, list) in [("model", "models"), ("instance", "instances")] {
        let own = names(&schema["$defs"][def]["allOf"][1]["required"]);
        let all: Vec<String> = figures.iter().chain(&own).cloned().collect();
        for (i, _) in json[list].as_array().into_iter().flatten().enumerate() {
            want.push((format!("{list}/{i}"), all.clone()));
        }
    }
    for (at, required) in want {
        let obj =
            at.split('/')
                .filter(|p| !p.is_empty())
                .fold(json, |v, p| match p.parse::<usize>() {
                    Ok(i) => &v[i],
                    Err(_) => &v[p],
                });
        let present = keys(obj);
        for key in &required {
            assert!(present.contains(key), "{at}: {key} missing");
        }
        // And nothing undocumented inside a row either.
        if !at.is_empty() {
            for key in &present {
                assert!(required.contains(key), "{at}: {key} is not in the schema");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_of_direct_targets_gives_the_aggregate_and_one_row_per_instance() {
    let mut gateways = Vec::new();
    for (seed, rps) in [(5, 15.0), (6, 40.0)] {
        gateways.push(
            demo::spawn(
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                DemoConfig {
                    seed: Some(seed),
                    traffic: true,
                    latency_scale: 0.0,
                    requests_per_second: rps,
                    capacity: None,
                },
            )
            .await
            .expect("a demo gateway"),
        );
    }
    let names: Vec<String> = gateways.iter().map(|g| g.addr().to_string()).collect();
    // Warm gateways: every model has served requests, so no series starts inside the window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A port nobody listens on: that target is down and its row says so.
    let dead = format!("127.0.0.1:{}", free_port());
    let args = |format: &str| -> Vec<String> {
        let mut v: Vec<String> = [
            "snapshot",
            "--for",
            "4s",
            "--timeout",
            "1s",
            "--format",
            format,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(names.iter().cloned());
        v.push(dead.clone());
        v
    };
    let json: serde_json::Value =
        serde_json::from_str(&llmtop_ok(args("json")).await).expect("snapshot JSON");
    documented_in_the_schema(&json);
    assert_eq!(json["instance_label"], "target");
    assert_eq!(json["dialect"], "seed");
    assert_eq!(json["window_seconds"], 4.0);
    let rows = json["instances"].as_array().expect("an instances array");
    let got: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["instance"].as_str().unwrap_or_default(),
                r["stale"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (names[0].as_str(), false),
            (names[1].as_str(), false),
            (dead.as_str(), true)
        ]
    );
    // The aggregate is the sum of the targets over the same samples, up to PromQL's per-series
    // extrapolation to the window's edges (see SUM_TOLERANCE).
    for field in [
        "requests_per_second",
        "tokens_total_per_second",
        "cost_usd_per_hour",
    ] {
        let value = |v: &serde_json::Value| match field {
            "tokens_total_per_second" => v["tokens_per_second"]["total"].as_f64(),
            f => v[f].as_f64(),
        };
        let sum: f64 = rows.iter().filter_map(value).sum();
        let total = value(&json["totals"]).expect("a total");
        assert!(total > 0.0, "{field}: {total}");
        assert!(
            (sum - total).abs() <= SUM_TOLERANCE * total,
            "{field}: rows sum to {sum}, total {total}"
        );
    }
    assert!(
        rows[2]["requests_per_second"].is_null(),
        "a dead target has no figures"
    );
    assert!(
        json["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w
                .as_str()
                .is_some_and(|w| w.starts_with(&format!("target down: {dead}: ")))),
        "{}",
        json["warnings"]
    );
    // The busier gateway shows the higher rate (40 vs 15 requests/s, bursts aside).
    let rate = |i: usize| rows[i]["requests_per_second"].as_f64().unwrap_or(0.0);
    assert!(rate(1) > rate(0), "{} vs {}", rate(1), rate(0));

    // instances-csv: its own header, one row per target; csv keeps the pinned header.
    let csv = llmtop_ok(args("instances-csv")).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], llmtop::front::report::INSTANCES_CSV_HEADER);
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with(&format!("{},false,", names[0])));
    assert!(
        lines[3].starts_with(&format!("{dead},true,,")),
        "{}",
        lines[3]
    );
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
    let csv = llmtop_ok(args("csv")).await;
    assert_eq!(csv.lines().next(), Some(llmtop::front::report::CSV_HEADER));
    assert!(
        csv.lines()
            .last()
            .is_some_and(|l| l.starts_with("(total),"))
    );
    let table = llmtop_ok(args("table")).await;
    assert!(table.contains(&format!("{dead} STALE")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("target ")), "{table}");
    for g in gateways {
        g.shutdown().await;
    }
}
