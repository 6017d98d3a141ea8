//! Scenarios a monitor must get right: a gateway restart (counter reset), a failed scrape (STALE
//! with the last good numbers), a model that disappears, and unknown values that stay unknown.
use llmtop::base::dialect;
use llmtop::base::exposition;
use llmtop::base::pricing::PriceTable;
use llmtop::base::signal::Signal;
use llmtop::model::stats;
use llmtop::model::store::{StoreLimits, TargetStore};
use llmtop::model::view::{DashboardView, ViewParams};

fn seed_body(requests: &[(&str, f64, f64)]) -> String {
    let mut out = String::from("# TYPE deepseek_requests_total counter\n");
    for (model, ok, err) in requests {
        out.push_str(&format!(
            "deepseek_requests_total{{model=\"{model}\",status=\"success\"}} {ok}\n"
        ));
        out.push_str(&format!(
            "deepseek_requests_total{{model=\"{model}\",status=\"error\"}} {err}\n"
        ));
    }
    out
}

fn ingest(store: &mut TargetStore, t: f64, body: &str) {
    let dialects = dialect::builtin();
    let parsed = exposition::parse(body);
    let d = dialect::detect(&dialects, &parsed).expect("seed detected");
    store.health.dialect = Some(d.name.clone());
    store.health.reports_failures = d.provides(llmtop::base::signal::Signal::RequestsFailed);
    store.ingest(t, &d.map(&parsed, "t").samples);
}

fn view(store: &TargetStore, window: f64) -> DashboardView {
    DashboardView::compute(
        store,
        &PriceTable::builtin(),
        &ViewParams {
            url: "http://127.0.0.1:1/metrics",
            window,
            interval: 1.0,
            columns: 20,
            dialect_signals: &[],
            model_filter: None,
        },
    )
}

#[test]
fn restart_is_flagged_and_never_a_negative_or_spiking_rate() {
    let mut store = TargetStore::new("t", StoreLimits::default());
    // 9 ok + 1 error per second; the gateway restarts between t=10 and t=11 (counters from 0).
    for i in 0..=20 {
        let t = i as f64;
        let n = if i <= 10 {
            i as f64
        } else {
            (i - 11) as f64 + 1.0
        };
        ingest(
            &mut store,
            t,
            &seed_body(&[("m", 9.0 * n + 900.0 * f64::from(i <= 10), n)]),
        );
    }
    assert_eq!(
        store.health.resets, 1,
        "one restart, however many series it resets"
    );
    assert_eq!(store.health.last_reset, Some(11.0));
    let f = stats::figures(&store, &PriceTable::builtin(), None, 20.0, 20.0);
    // PromQL: increase with reset correction over 0..20 = 20 increments of 10/s, rate = 10/s.
    let rps = f.requests_per_second.unwrap();
    assert!((rps - 10.0).abs() < 1e-9, "{rps}");
    let ratio = f.error_ratio.unwrap();
    assert!((ratio - 0.1).abs() < 1e-9, "{ratio}");
    let v = view(&store, 60.0);
    assert_eq!(v.status.restarted_at, Some(11.0));
    assert!(
        v.rate_ok
            .iter()
            .chain(&v.rate_error)
            .all(|(_, r)| *r >= 0.0 && *r <= 10.0 + 1e-9)
    );
}

#[test]
fn failed_scrape_keeps_the_last_good_numbers() {
    let mut store = TargetStore::new("t", StoreLimits::default());
    for i in 0..=10 {
        ingest(
            &mut store,
            i as f64,
            &seed_body(&[("m", 4.0 * i as f64, i as f64)]),
        );
    }
    let before = stats::figures(&store, &PriceTable::builtin(), None, 10.0, 10.0);
    store.record_failure(15.0, "cannot connect: Connection refused");
    assert_eq!(store.latest_time(), Some(10.0));
    let after = stats::figures(
        &store,
        &PriceTable::builtin(),
        None,
        store.latest_time().unwrap(),
        10.0,
    );
    assert_eq!(before, after);
    assert_eq!(after.requests_per_second, Some(5.0));
    assert_eq!(
        store.health.last_error.as_deref(),
        Some("cannot connect: Connection refused")
    );
    assert_eq!(store.health.last_ok, Some(10.0));
    assert_eq!(store.health.scrapes_failed, 1);
}

#[test]
fn a_model_gone_from_the_scrape_is_stale_not_zero() {
    let mut store = TargetStore::new("t", StoreLimits::default());
    for i in 0..=10 {
        let mut models = vec![("a", 2.0 * i as f64, 0.0)];
        if i <= 5 {
            models.push(("b", 3.0 * i as f64, 0.0));
        }
        ingest(&mut store, i as f64, &seed_body(&models));
    }
    // Over the last 4 s, b has no samples at all: unknown, not 0 req/s.
    let b = stats::figures(&store, &PriceTable::builtin(), Some(&["b"]), 10.0, 4.0);
    assert_eq!(b.requests_per_second, None);
    assert_eq!(b.error_ratio, None);
    // Over 10 s, b's samples up to t=5 still count (as PromQL's range vector does).
    let b10 = stats::figures(&store, &PriceTable::builtin(), Some(&["b"]), 10.0, 10.0);
    assert!(b10.requests_per_second.unwrap() > 0.0);
}

#[test]
fn zero_traffic_error_ratio_is_unknown_not_zero() {
    let mut store = TargetStore::new("t", StoreLimits::default());
    for i in 0..=5 {
        ingest(&mut store, i as f64, &seed_body(&[("m", 100.0, 0.0)]));
    }
    let f = stats::figures(&store, &PriceTable::builtin(), None, 5.0, 5.0);
    assert_eq!(f.requests_per_second, Some(0.0));
    assert_eq!(f.error_ratio, None, "0/0 is not 0 %");
    assert!(!store.has_signal(Signal::LatencySeconds));
    assert_eq!(f.latency_seconds.p95, None);
}
