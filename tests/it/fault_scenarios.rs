//! Every demo fault scenario against the real scraper, store, snapshot and probe client: good data
//! first, then the fault switched on at runtime. Each test checks that the problem is named
//! plainly, the last good numbers are kept (and marked stale when the scrape fails), nothing
//! counted before or during the fault is lost once it clears, and memory stays under the caps.
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use llmtop::app::cli::Cli;
use llmtop::base::signal::Signal;
use llmtop::front::report::{self, Snapshot};
use llmtop::io::demo::{self, DemoConfig, DemoGateway, Scenario, ScenarioSet};
use llmtop::io::probe::{ProbeRequest, RetryPolicy, run_probe};
use llmtop::io::source::scrape::{ScrapeOutcome, scrape_once};
use llmtop::model::store::SeriesKey;
use llmtop::runtime::session::Session;

const MODEL: &str = "gpt-4o";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn quiet_demo() -> DemoConfig {
    DemoConfig {
        seed: Some(5),
        traffic: false,
        latency_scale: 0.0,
        ..DemoConfig::default()
    }
}

/// A demo gateway and a session scraping it, one scrape per call (no timer, so exact counts).
struct Rig {
    gw: DemoGateway,
    session: Session,
    sticky: Option<String>,
    http: reqwest::Client,
}

impl Rig {
    async fn new(scenarios: ScenarioSet, extra: &[&str]) -> Rig {
        let gw = demo::spawn_with_scenarios(loopback(), quiet_demo(), scenarios)
            .await
            .expect("demo starts");
        let url = format!("{}/metrics", gw.base_url());
        let mut argv = vec!["llmtop", url.as_str(), "--history", "60s"];
        if !extra.contains(&"--timeout") {
            argv.extend(["--timeout", "3s"]);
        }
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv).expect("arguments parse");
        let session = crate::common::session(&cli.target)
            .await
            .expect("session starts");
        Rig {
            gw,
            session,
            sticky: None,
            http: reqwest::Client::new(),
        }
    }

    fn set(&self, s: impl Into<ScenarioSet>) {
        self.gw.scenarios().set(s);
    }

    /// One scrape, applied to the store; the error text if it failed.
    async fn scrape(&mut self) -> Option<String> {
        let outcome = scrape_once(
            &self.session.client,
            &self.session.target,
            &self.session.dialects,
            &mut self.sticky,
        )
        .await;
        let error = match &outcome {
            ScrapeOutcome::Failed { error, .. } => Some(error.clone()),
            ScrapeOutcome::Ok(_) => None,
        };
        self.session.apply_scrape(outcome);
        error
    }

    async fn scrape_ok(&mut self) {
        if let Some(e) = self.scrape().await {
            panic!("scrape should succeed, got: {e}");
        }
        assert_eq!(self.session.store.health.last_error, None);
    }

    /// `n` plain chat completions, all of which must succeed.
    async fn chat(&self, n: usize) {
        for _ in 0..n {
            let resp = self
                .http
                .post(format!("{}/v1/chat/completions", self.gw.base_url()))
                .json(&serde_json::json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .expect("chat request");
            assert_eq!(resp.status(), 200);
            resp.bytes().await.expect("chat body");
        }
    }

    /// The canonical request counter of [`MODEL`]: every request the gateway counted since the
    /// first scrape's level, reset-corrected.
    fn requests(&self) -> f64 {
        self.counter(Signal::Requests, MODEL)
    }

    fn counter(&self, signal: Signal, model: &str) -> f64 {
        let samples =
            self.session
                .store
                .samples(&SeriesKey::new(signal, model), f64::MIN, f64::MAX);
        samples.last().map_or(f64::NAN, |s| s.1)
    }

    fn snapshot(&self) -> Snapshot {
        report::snapshot(
            &self.session.store,
            &self.session.prices,
            "test",
            60.0,
            Vec::new(),
        )
    }

    fn warnings(&self) -> String {
        self.snapshot().warnings.join("\n")
    }

    async fn shutdown(self) {
        self.gw.shutdown().await;
    }
}

/// Two good scrapes with 3 + 2 requests, then `scenario` on: the scrape fails with `expect`,
/// the 5 requests and every stored slot are kept and marked stale; with the fault off again the
/// 4 requests made during it are counted too.
async fn failing_scrape_keeps_last_good(scenario: Scenario, extra: &[&str], expect: &str) {
    let mut rig = Rig::new(ScenarioSet::NONE, extra).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.chat(2).await;
    rig.scrape_ok().await;
    assert_eq!(rig.requests(), 5.0);
    let slots = rig.session.store.len();
    let before = rig.snapshot();
    assert!(!before.stale);
    let rps = before.models[0].figures.requests_per_second;
    assert!(rps.is_some_and(|r| r > 0.0), "{rps:?}");

    rig.chat(4).await;
    rig.set(scenario);
    let error = rig.scrape().await.expect("the scrape fails");
    assert!(
        error.contains(expect),
        "{scenario}: {error:?} should name {expect:?}"
    );
    let health = &rig.session.store.health;
    assert_eq!(health.last_error.as_deref(), Some(error.as_str()));
    assert_eq!((health.scrapes_ok, health.scrapes_failed), (2, 1));
    assert_eq!(rig.session.store.len(), slots, "no slot lost or added");
    assert_eq!(rig.requests(), 5.0, "last good numbers kept");
    let snap = rig.snapshot();
    assert!(snap.stale, "{scenario}: snapshot marked stale");
    assert_eq!(
        snap.at, before.at,
        "figures still from the last good scrape"
    );
    assert_eq!(snap.models[0].figures.requests_per_second, rps);
    let warnings = snap.warnings.join("\n");
    assert!(
        warnings.contains(&format!("last scrape failed: {error}")),
        "{warnings}"
    );
    assert!(warnings.contains("stale: the figures are from the last good scrape"));

    rig.set(ScenarioSet::NONE);
    rig.scrape_ok().await;
    assert_eq!(
        rig.requests(),
        9.0,
        "requests made during the fault are not lost"
    );
    assert!(!rig.snapshot().stale);
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_503_is_named_and_last_good_kept() {
    failing_scrape_keeps_last_good(Scenario::Metrics503, &[], "HTTP 503 Service Unavailable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_response_times_out_and_last_good_kept() {
    failing_scrape_keeps_last_good(Scenario::Slow, &["--timeout", "1s"], "no answer within 1s")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_body_is_named_and_last_good_kept() {
    failing_scrape_keeps_last_good(
        Scenario::CutBody,
        &[],
        "connection broke while reading the body",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body_stops_at_the_body_cap() {
    failing_scrape_keeps_last_good(
        Scenario::HugeBody,
        &["--max-body-mib", "8"],
        "body larger than the 8 MiB limit (raise --max-body-mib)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loop_is_named_and_last_good_kept() {
    failing_scrape_keeps_last_good(Scenario::RedirectLoop, &[], "redirect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_names_the_credential() {
    failing_scrape_keeps_last_good(
        Scenario::Unauthorized,
        &[],
        "HTTP 401: the gateway wants credentials",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_names_the_credential() {
    failing_scrape_keeps_last_good(
        Scenario::Forbidden,
        &[],
        "HTTP 403: the gateway wants credentials",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_page_is_named_and_last_good_kept() {
    failing_scrape_keeps_last_good(
        Scenario::Html,
        &[],
        "got an HTML page, not Prometheus metrics",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_fails_while_down_and_recovers_when_up() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    rig.gw
        .scenarios()
        .set_flap_half_period(Duration::from_millis(1500));
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.chat(2).await;
    rig.scrape_ok().await;
    rig.chat(4).await;
    rig.set(Scenario::Flapping);
    // Down first: the pooled connection is hung up on and new ones are closed at once.
    let error = rig.scrape().await.expect("down: the scrape fails");
    assert!(error.starts_with("request failed: "), "{error}");
    assert_eq!(rig.requests(), 5.0);
    assert!(rig.snapshot().stale);
    assert!(rig.gw.scenarios().is_down());
    // Up again after the half period, still flapping: the scrape succeeds and nothing is lost.
    while rig.gw.scenarios().is_down() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.scrape_ok().await;
    assert_eq!(rig.requests(), 9.0);
    assert_eq!(rig.session.store.health.scrapes_failed, 1);
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_skipped_counted_and_named() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.set(Scenario::Malformed);
    rig.chat(2).await;
    rig.scrape_ok().await;
    rig.scrape_ok().await;
    let health = &rig.session.store.health;
    assert_eq!(health.skipped_lines_last, demo::scenario::MALFORMED_LINES);
    assert_eq!(
        health.skipped_lines_total,
        2 * demo::scenario::MALFORMED_LINES as u64
    );
    assert_eq!(
        rig.requests(),
        5.0,
        "the good lines around them still count"
    );
    assert!(
        rig.warnings().contains("10 malformed metric lines skipped"),
        "{}",
        rig.warnings()
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_bytes_are_named_and_the_rest_counts() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    assert!(!rig.session.store.health.invalid_utf8);
    rig.set(Scenario::NonUtf8);
    rig.chat(2).await;
    rig.scrape_ok().await;
    assert!(rig.session.store.health.invalid_utf8);
    assert_eq!(rig.requests(), 5.0);
    assert_eq!(rig.session.store.health.skipped_lines_total, 0);
    let warnings = rig.warnings();
    assert!(
        warnings.contains("the last scrape had bytes that are not UTF-8"),
        "{warnings}"
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_reset_is_named_and_totals_stay_monotonic() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.chat(2).await;
    rig.scrape_ok().await;
    rig.set(Scenario::CounterReset);
    // The first scrape after switching on restarts the exporter: every counter reads 0.
    rig.scrape_ok().await;
    assert_eq!(rig.session.store.health.resets, 1);
    assert_eq!(
        rig.requests(),
        5.0,
        "a reset never takes counted requests away"
    );
    rig.chat(4).await;
    rig.scrape_ok().await;
    assert_eq!(rig.requests(), 9.0, "counting resumes from the new zero");
    assert_eq!(rig.session.store.health.resets, 1);
    let snap = rig.snapshot();
    let rps = snap.models[0].figures.requests_per_second;
    assert!(rps.is_some_and(|r| r > 0.0), "rate across a reset: {rps:?}");
    assert!(
        snap.warnings
            .iter()
            .any(|w| w == "1 counter reset(s) seen: the gateway restarted"),
        "{:?}",
        snap.warnings
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_churn_stays_under_the_series_cap_and_is_named() {
    const CAP: usize = 120;
    let mut rig = Rig::new(ScenarioSet::NONE, &["--max-series", "120"]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.scrape_ok().await;
    let (_, raw_before) = rig.session.store.series_counts();
    let memory_before = rig.session.store.memory_bytes();
    rig.set(Scenario::SeriesChurn);
    for i in 0..40 {
        rig.scrape_ok().await;
        let health = &rig.session.store.health;
        let (_, raw) = rig.session.store.series_counts();
        assert!(
            raw <= CAP,
            "scrape {i}: {raw} raw series over the cap of {CAP}"
        );
        assert_eq!(
            health.dropped_series, 0,
            "scrape {i}: churn must not crowd out current series"
        );
        assert_eq!(
            health.new_series_last, raw_before,
            "scrape {i}: every series is new"
        );
    }
    assert_eq!(rig.requests(), 3.0, "the good scrape's total is kept");
    // Each raw series is remembered with at most its 17 bucket values: a stated, fixed bound.
    let bound = memory_before + CAP * (17 * 8 + 48);
    let memory = rig.session.store.memory_bytes();
    assert!(memory <= bound, "{memory} bytes > {bound}");
    let warnings = rig.warnings();
    assert!(
        warnings.contains(&format!(
            "series churn: {raw_before} of {raw_before} series were new in the last scrape"
        )),
        "{warnings}"
    );
    rig.set(ScenarioSet::NONE);
    rig.scrape_ok().await;
    rig.chat(2).await;
    rig.scrape_ok().await;
    assert_eq!(rig.requests(), 5.0, "stable labels again: counting resumes");
    assert!(!rig.warnings().contains("series churn"));
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cardinality_explosion_is_capped_and_named() {
    let mut rig = Rig::new(
        ScenarioSet::NONE,
        &["--max-series", "1000", "--max-models", "20"],
    )
    .await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.set(Scenario::Cardinality);
    rig.chat(2).await;
    for _ in 0..3 {
        rig.scrape_ok().await;
    }
    let store = &rig.session.store;
    let (canonical, raw) = store.series_counts();
    assert!(raw <= 1000, "{raw} raw series");
    assert!(canonical <= 1000, "{canonical} canonical series");
    assert!(store.models().len() <= 21, "{:?}", store.models().len());
    assert!(
        store
            .models()
            .contains(&llmtop::model::store::OTHER_MODELS.to_string())
    );
    assert!(
        store.health.dropped_series > 40_000,
        "{}",
        store.health.dropped_series
    );
    // 60 slots of history: the ring buffers of at most 1000 series stay under 2 MiB.
    let memory = store.memory_bytes();
    assert!(memory < 2 * 1024 * 1024, "{memory} bytes");
    assert_eq!(rig.requests(), 5.0, "the real model keeps its own series");
    let warnings = rig.warnings();
    assert!(
        warnings.contains("series dropped: the series cap was reached"),
        "{warnings}"
    );
    assert!(
        warnings.contains("counted as \"(other models)\""),
        "{warnings}"
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_parses_like_the_text_format() {
    let mut rig = Rig::new(Scenario::OpenMetrics.into(), &[]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.chat(2).await;
    rig.scrape_ok().await;
    let health = &rig.session.store.health;
    assert_eq!(
        health.skipped_lines_total, 0,
        "# EOF, exemplars and _created are all valid"
    );
    assert_eq!(health.dialect.as_deref(), Some("seed"));
    assert_eq!(health.rejected_histograms, 0);
    assert_eq!(rig.requests(), 5.0);
    let snap = rig.snapshot();
    let latency = snap.models[0].figures.latency_seconds;
    assert!(
        latency.p50.is_some(),
        "histograms with exemplars still give quantiles"
    );
    assert!(
        !snap.warnings.iter().any(|w| w.contains("malformed")),
        "{:?}",
        snap.warnings
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_series_keep_the_first_and_are_named() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    rig.chat(3).await;
    rig.scrape_ok().await;
    rig.set(Scenario::DuplicateSeries);
    rig.chat(2).await;
    rig.scrape_ok().await;
    rig.chat(4).await;
    rig.scrape_ok().await;
    let health = &rig.session.store.health;
    assert_eq!(
        rig.requests(),
        9.0,
        "a 0-valued duplicate is neither a reset nor counted twice"
    );
    assert_eq!(health.resets, 0);
    assert!(health.duplicate_series > 0);
    let warnings = rig.warnings();
    assert!(
        warnings.contains(&format!(
            "{} duplicate series in the last scrape (same name and labels twice): kept the first of each",
            health.duplicate_series
        )),
        "{warnings}"
    );
    rig.shutdown().await;
}

// ---- probe side ----------------------------------------------------------------------------

fn probe(rig: &Rig, stream: bool, timeout: Duration, retries: u32) -> ProbeRequest {
    let base = url::Url::parse(&rig.gw.base_url()).expect("base url");
    ProbeRequest::new(base, MODEL, "hi")
        .with_stream(stream)
        .with_timeout(timeout)
        .with_retry(RetryPolicy {
            max_retries: retries,
            ..RetryPolicy::default()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_honours_retry_after_and_keeps_earlier_probes() {
    let mut rig = Rig::new(ScenarioSet::NONE, &[]).await;
    let client = rig.session.client.clone();
    let good = run_probe(
        &client,
        &probe(&rig, true, Duration::from_secs(10), 1),
        None,
    )
    .await;
    assert!(good.ok, "{:?}", good.error);
    rig.session.apply_probe(&good);
    rig.set(Scenario::RateLimitStorm);
    let started = Instant::now();
    let storm = run_probe(
        &client,
        &probe(&rig, true, Duration::from_secs(10), 1),
        None,
    )
    .await;
    assert!(!storm.ok);
    assert_eq!(storm.status, Some(429));
    assert_eq!(storm.error_kind.map(|k| k.name()), Some("rate_limited"));
    assert_eq!(
        storm.retries, 1,
        "one retry, after the server's Retry-After"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 2 honoured"
    );
    let message = storm.error.clone().unwrap_or_default();
    assert!(message.contains("429"), "{message}");
    rig.session.apply_probe(&storm);
    let feed = &rig.session.probe_feed.store;
    let last = |signal| {
        feed.samples(&SeriesKey::new(signal, MODEL), f64::MIN, f64::MAX)
            .last()
            .map(|s| s.1)
    };
    assert_eq!(last(Signal::Requests), Some(2.0), "the good probe is kept");
    assert_eq!(last(Signal::RequestsFailed), Some(1.0));
    // The storm is on the chat API only: /metrics still answers.
    rig.scrape_ok().await;
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_stream_times_out_with_the_partial_answer() {
    let rig = Rig::new(Scenario::StalledStream.into(), &[]).await;
    let client = rig.session.client.clone();
    let r = run_probe(&client, &probe(&rig, true, Duration::from_secs(2), 0), None).await;
    assert!(!r.ok);
    assert_eq!(r.status, Some(200));
    assert_eq!(
        r.error.as_deref(),
        Some("request timed out after 2s while reading the response")
    );
    assert_eq!(
        r.token_events, 3,
        "the three tokens before the stall are measured"
    );
    assert!(r.ttft.is_some());
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_stream_is_a_truncated_probe() {
    let rig = Rig::new(Scenario::Disconnect.into(), &[]).await;
    let client = rig.session.client.clone();
    let r = run_probe(&client, &probe(&rig, true, Duration::from_secs(5), 0), None).await;
    assert!(!r.ok);
    assert_eq!(r.error_kind.map(|k| k.name()), Some("truncated"));
    assert_eq!(r.token_events, 3);
    let message = r.error.unwrap_or_default();
    assert!(message.contains("stream ended"), "{message}");
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sse_is_skipped_and_the_answer_still_arrives() {
    let rig = Rig::new(Scenario::GarbageSse.into(), &[]).await;
    let client = rig.session.client.clone();
    let r = run_probe(&client, &probe(&rig, true, Duration::from_secs(5), 0), None).await;
    assert!(r.ok, "{:?}", r.error);
    assert!(r.token_events >= 12, "{}", r.token_events);
    assert_eq!(
        r.malformed_chunks, r.token_events,
        "one non-JSON data: event before each token"
    );
    assert!(r.answer.ends_with('.'), "{:?}", r.answer);
    // Without streaming the same scenario is a body that is not JSON.
    let plain = run_probe(
        &client,
        &probe(&rig, false, Duration::from_secs(5), 0),
        None,
    )
    .await;
    assert_eq!(plain.error_kind.map(|k| k.name()), Some("decode"));
    rig.shutdown().await;
}

// ---- the real binary -----------------------------------------------------------------------

/// `llmtop snapshot` against a flapping gateway: the process runs its full `--for`, exits 0 and
/// its JSON names the failures while keeping the numbers of the good scrapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_binary_survives_flapping() {
    let gw = demo::spawn(loopback(), DemoConfig::default())
        .await
        .expect("demo starts");
    gw.scenarios()
        .set_flap_half_period(Duration::from_millis(700));
    gw.scenarios().set(Scenario::Flapping);
    let url = format!("{}/metrics", gw.base_url());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
            .args([
                "snapshot",
                url.as_str(),
                "--for",
                "4s",
                "--interval",
                "250ms",
                "--timeout",
                "1s",
            ])
            .env(
                "LLMTOP_LOG_FILE",
                std::env::temp_dir().join("llmtop-fault-snapshot.log"),
            )
            .output()
    })
    .await
    .expect("join")
    .expect("run llmtop snapshot");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let scrapes = json["scrapes"].as_u64().unwrap_or(0);
    let errors = json["scrape_errors"].as_u64().unwrap_or(0);
    assert!(scrapes >= 2, "good scrapes while up: {json}");
    assert!(errors >= 2, "failed scrapes while down: {json}");
    assert!(json["warnings"].is_array());
    assert!(
        json["models"].as_array().is_some_and(|m| !m.is_empty()),
        "{json}"
    );
    gw.shutdown().await;
}

// ---- the real TUI in a pty -----------------------------------------------------------------

/// The dashboard in a pseudo-terminal, its screen kept up to date by a reader thread.
struct Pty {
    parser: std::sync::Arc<std::sync::Mutex<vt100::Parser>>,
    writer: Box<dyn std::io::Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(args: &[&str]) -> Pty {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let (rows, cols) = (40, 120);
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
        cmd.env(
            "LLMTOP_LOG_FILE",
            std::env::temp_dir().join(format!("llmtop-fault-pty-{}.log", std::process::id())),
        );
        let child = pair.slave.spawn_command(cmd).expect("spawn llmtop");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let parser = std::sync::Arc::new(std::sync::Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let sink = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty {
            parser,
            writer,
            child,
            _master: pair.master,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }
}

/// While the first scrape hangs on the 30 s `slow` gateway, `?` opens the help at once and `q`
/// quits: the scrape never blocks the key loop.
#[test]
fn keys_work_while_a_scrape_hangs() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let gw = runtime
        .block_on(demo::spawn_with_scenarios(
            loopback(),
            quiet_demo(),
            Scenario::Slow.into(),
        ))
        .expect("demo starts");
    let url = format!("{}/metrics", gw.base_url());
    let launched = Instant::now();
    let mut pty = Pty::spawn(&[url.as_str(), "--timeout", "60s"]);
    pty.wait_for("Request rate", Duration::from_secs(15));
    let before = pty.screen();
    assert!(
        before.contains("scrapes 0"),
        "no scrape has finished yet:\n{before}"
    );
    let pressed = Instant::now();
    pty.send(b"?");
    let screen = pty.wait_for("Help — keys", Duration::from_secs(5));
    let took = pressed.elapsed();
    eprintln!("help overlay {took:?} after the key press, scrape still pending");
    assert!(
        launched.elapsed() < demo::scenario::SLOW_RESPONSE,
        "the help must show while the 30 s scrape is still pending"
    );
    assert!(screen.contains("quit"), "{screen}");
    pty.send(b"q");
    let start = Instant::now();
    loop {
        if let Some(status) = pty.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "q did not quit while a scrape hangs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime.block_on(gw.shutdown());
}

#[test]
fn openmetrics_exemplars_are_dropped_not_their_samples() {
    let e = llmtop::base::exposition::parse(
        "h_bucket{le=\"1\"} 3 # {trace_id=\"a b\"} 0.5 1767225600.123\n\
         c_total 4 1700000000000 # {a=\"b\"} 1\n\
         bad 1 # not an exemplar\n",
    );
    assert_eq!(e.samples.len(), 2);
    assert_eq!((e.samples[0].value, e.samples[0].timestamp_ms), (3.0, None));
    assert_eq!(
        (e.samples[1].value, e.samples[1].timestamp_ms),
        (4.0, Some(1_700_000_000_000))
    );
    assert_eq!(e.skipped_count, 1);
}

/// `chat` for another model than [`MODEL`]: `n` completions that must all succeed.
async fn chat_to(rig: &Rig, model: &str, n: usize) {
    for _ in 0..n {
        let resp = rig
            .http
            .post(format!("{}/v1/chat/completions", rig.gw.base_url()))
            .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("chat request");
        assert_eq!(resp.status(), 200);
        resp.bytes().await.expect("chat body");
    }
}

/// `failover` over real HTTP: the down primary, its cooldown and where its requests went, read
/// back through the seed dialect's router families into the snapshot's `upstreams` and
/// `fallbacks`; the client still sees every request answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_names_the_down_upstream_and_its_fallback_target() {
    let mut rig = Rig::new(Scenario::Failover.into(), &[]).await;
    // The first request creates the router's series before the first scrape.
    chat_to(&rig, "deepseek-chat", 1).await;
    rig.scrape_ok().await;
    chat_to(&rig, "deepseek-chat", 3).await;
    chat_to(&rig, "gpt-4o-mini", 2).await;
    rig.scrape_ok().await;
    let json = serde_json::to_value(rig.snapshot()).expect("snapshot serializes");
    let ups = json["upstreams"].as_array().expect("upstreams");
    assert_eq!(ups[0]["name"], "deepseek-chat", "the worst first: {ups:?}");
    assert_eq!(ups[0]["state"], "down");
    assert_eq!(ups[0]["provider"], "deepseek");
    assert_eq!(ups[0]["api_base"], "https://api.deepseek.com");
    assert_eq!(ups[0]["remaining_requests"], 996.0);
    assert_eq!(ups[0]["rpm_limit"], 1000.0);
    // Cooldowns come once per 5 s: the first request's, already in the first scrape, so no
    // increase between the two (PromQL's increase; the fallbacks' 1 → 4 over the same two
    // scrapes extrapolates back to the counter's zero: 3 × 4/3 = 4).
    assert_eq!(ups[0]["cooldowns"], 0.0);
    let claude = ups
        .iter()
        .find(|u| u["name"] == "claude-sonnet-4-5")
        .expect("claude row");
    assert_eq!(claude["state"], "healthy");
    assert_eq!(claude["remaining_requests"], 296.0);
    assert_eq!(claude["rpm_limit"], 300.0);
    assert_eq!(claude["error_ratio"], 0.0);
    let fallbacks = json["fallbacks"].as_array().expect("fallbacks");
    assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
    assert_eq!(fallbacks[0]["from"], "deepseek-chat");
    assert_eq!(fallbacks[0]["to"], "claude-sonnet-4-5");
    assert_eq!(fallbacks[0]["count"], 4.0);
    assert_eq!(fallbacks[0]["ok"], true);
    // The requested model's own counters say every request was answered.
    assert_eq!(rig.counter(Signal::Requests, "deepseek-chat"), 4.0);
    rig.shutdown().await;
}

/// `saturation` over real HTTP with the simulated traffic on: the queue families appear and
/// the snapshot's `saturation` has a queue that grows and queue-time quantiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_exports_a_growing_queue_and_its_wait() {
    // 40 req/s against a capacity of 12: the queue grows by 28 a second on average.
    let config = DemoConfig {
        seed: Some(9),
        latency_scale: 0.0,
        requests_per_second: 40.0,
        ..DemoConfig::default()
    };
    let gw = demo::spawn_with_scenarios(loopback(), config, Scenario::Saturation.into())
        .await
        .expect("demo starts");
    let url = format!("{}/metrics", gw.base_url());
    let cli = Cli::try_parse_from(["llmtop", url.as_str(), "--timeout", "3s"]).expect("parse");
    let mut session = crate::common::session(&cli.target).await.expect("session");
    let mut sticky = None;
    let mut queued = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let outcome = scrape_once(
            &session.client,
            &session.target,
            &session.dialects,
            &mut sticky,
        )
        .await;
        session.apply_scrape(outcome);
        queued.push(
            session
                .store
                .gauge_latest(Signal::Queued)
                .unwrap_or(f64::NAN),
        );
    }
    // Compared end to end (2.4 s apart): arrivals are random, and ticks may bunch on a busy
    // machine.
    assert!(queued[3] > queued[0] + 10.0, "the queue grows: {queued:?}");
    let snap = rig_free_snapshot(&session);
    let sat = &snap["saturation"];
    assert!(sat["queued"].as_f64().is_some_and(|q| q > 0.0), "{sat}");
    assert!(
        sat["queue_time_seconds"]["p95"]
            .as_f64()
            .is_some_and(|p| p > 0.0),
        "{sat}"
    );
    assert!(sat["in_flight"].as_f64().is_some(), "{sat}");
    gw.shutdown().await;
}

fn rig_free_snapshot(session: &Session) -> serde_json::Value {
    let snap = report::snapshot(&session.store, &session.prices, "test", 60.0, Vec::new());
    serde_json::to_value(snap).expect("snapshot serializes")
}
