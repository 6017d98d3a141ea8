//! llmtop against a real Prometheus server: both scrape the same demo gateway at the same time,
//! and `llmtop snapshot`'s figures must match what Prometheus answers for the same PromQL at the
//! same evaluation time (`time=` = the snapshot's `at`).
//!
//! Needs `/usr/bin/prometheus` (Debian's `prometheus` package, 2.42 — the release `src/promql.rs`
//! mirrors). Without it the test is skipped locally and fails on CI (`CI` set): `.ci/run` installs it.
//!
//! Two layers:
//! 1. Same samples, same math: `llmtop::base::promql` run on the raw samples Prometheus returns for the
//!    window must reproduce Prometheus' answers to rounding (1e-9 relative).
//! 2. llmtop's own scrapes: Prometheus and llmtop each scrape every second, but at different
//!    instants (an unknown phase in [0, 1 s)), so their 20 s windows hold different samples. Over
//!    a steady stretch of traffic both `rate()`s estimate the same average, and what separates
//!    them is the requests completed in the sub-second edges one window has and the other lacks:
//!    Poisson noise of at most `sqrt(2 × rate × 1 s)` requests over the window. The tolerances are
//!    derived from that (see [`Tolerances`]) rather than picked until green.
use crate::common;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PROMETHEUS, PrometheusServer, on_ci, tail, unique_dir};
use llmtop::base::promql;
use llmtop::io::demo::{self, DemoConfig};
use serde_json::Value;

/// Label name → value.
pub(crate) type Labels = BTreeMap<String, String>;
/// One series of a range query: its labels and (unix seconds, value) samples.
type Series = (Labels, Vec<(f64, f64)>);

/// The range of every query and llmtop's `--for`.
pub(crate) const WINDOW_SECONDS: f64 = 20.0;
pub(crate) const WINDOW: &str = "20s";
/// Scrape interval of both scrapers.
pub(crate) const INTERVAL_SECONDS: f64 = 1.0;
/// Synthetic request rate of the demo gateway outside bursts: 10 requests per 100 ms tick, the
/// most the simulator is meant for, because the edge noise relative to a rate shrinks as
/// `1 / sqrt(rate)` and a higher rate makes the comparison sharper.
pub(crate) const BASE_RPS: f64 = 100.0;
/// At 100 req/s this seed's first burst (3× traffic) starts 44.8 s after the gateway starts and
/// no error spell happens in the first 90 s (virtual time, which tracks the wall clock): the whole
/// comparison (≈ 30 s) sees steady traffic, so the tolerances measure scrape-phase noise and
/// not a burst edge that one scraper caught and the other did not. If the simulator changes, the
/// steadiness check below says so instead of failing on a tolerance.
pub(crate) const SEED: u64 = 65;
/// How far llmtop may be from Prometheus.
///
/// Both scrapers sample every [`INTERVAL_SECONDS`] at phases that differ by an unknown
/// φ ∈ [0, 1 s), so each window spans 19–20 s of samples, and the two windows differ by the
/// requests completed in their non-shared edges. With samples spanning 20 s vs 19 s that is one
/// whole interval on one side; with both spanning 19 s it is φ at each end. Either way at most
/// `2 × rate × interval` requests are in play, Poisson (completions of a Poisson arrival stream),
/// so the worst-case standard deviation of the rate difference is
/// `σ = sqrt(2 × rate × interval) / (window − interval)`.
///
/// On top of that, one request per window ([`Tolerances::JOIN_REQUESTS`]): a raw series that
/// appears inside the window (a model's first error creates its `status="error"` series) has
/// its first increment extrapolated by Prometheus' zero-point clamp, while llmtop's canonical
/// per-model counter only counts it from its first sample on.
pub(crate) struct Tolerances;

impl Tolerances {
    /// Standard deviations allowed. At 4σ a Gaussian false alarm is ~6e-5 per figure, and σ is
    /// the worst case over the phase (in 5 runs the largest difference was 1.4σ).
    const SIGMAS: f64 = 4.0;
    /// Requests a series joining inside the window may account for differently.
    const JOIN_REQUESTS: f64 = 1.0;

    /// The duration the sampled part of a window surely covers.
    fn sampled_span() -> f64 {
        WINDOW_SECONDS - INTERVAL_SECONDS
    }

    /// Allowed |llmtop − Prometheus| for a rate of `rate` req/s.
    pub(crate) fn rate(rate: f64) -> f64 {
        Self::rate_over(rate, INTERVAL_SECONDS)
    }

    /// [`Tolerances::rate`] when each window edge may differ by `edge` seconds (one scrape
    /// interval; more when one side is also evaluated at a different instant).
    pub(crate) fn rate_over(rate: f64, edge: f64) -> f64 {
        let sigma = (2.0 * rate.max(0.0) * edge).sqrt() / Self::sampled_span();
        Self::SIGMAS * sigma + Self::JOIN_REQUESTS / WINDOW_SECONDS
    }

    /// Allowed |Δ| of `errors / requests`, absolute (errors are ~1.5 % of requests, so a
    /// relative bound would be meaningless): the edge errors, `sqrt(2 × ratio × rate × interval)`,
    /// over the window's requests, plus one joining request.
    pub(crate) fn error_ratio(ratio: f64, rate: f64) -> f64 {
        Self::error_ratio_over(ratio, rate, INTERVAL_SECONDS)
    }

    pub(crate) fn error_ratio_over(ratio: f64, rate: f64, edge: f64) -> f64 {
        let requests = rate * Self::sampled_span();
        let sigma = (2.0 * ratio.max(0.0) * rate * edge).sqrt() / requests;
        Self::SIGMAS * sigma + Self::JOIN_REQUESTS / requests
    }

    /// Allowed |Δ| of `histogram_quantile(q, …)`, from Prometheus' merged bucket rates
    /// (bound, cumulative rate), capped at the width of the bucket the quantile falls in (one
    /// bucket's interpolation error: inside a bucket the true value is unknown anyway).
    ///
    /// The estimate is `lower + width × (q × total − below) / in_bucket`. An edge request below
    /// the bucket's lower bound moves `q × total − below` by `q − 1`, one above it by `q`; with
    /// a fraction `f` of requests above the lower bound that is a compound Poisson sum of
    /// variance `2 × total × interval × ((1 − f)(1 − q)² + f q²)` requests², divided by the
    /// `in_bucket` requests the window holds and scaled by the width.
    pub(crate) fn quantile(q: f64, value: f64, buckets: &[(f64, f64)]) -> f64 {
        Self::quantile_over(q, value, buckets, INTERVAL_SECONDS)
    }

    pub(crate) fn quantile_over(q: f64, value: f64, buckets: &[(f64, f64)], edge: f64) -> f64 {
        let Some(&(_, total)) = buckets.last() else {
            return 0.0;
        };
        let upper = buckets
            .iter()
            .position(|&(bound, _)| value <= bound)
            .unwrap_or(buckets.len() - 1)
            .min(buckets.len().saturating_sub(2));
        let (upper_bound, upper_rate) = buckets[upper];
        let (lower_bound, below) = if upper == 0 {
            (0.0, 0.0)
        } else {
            buckets[upper - 1]
        };
        let width = upper_bound - lower_bound;
        let in_bucket = (upper_rate - below) * Self::sampled_span();
        if total <= 0.0 || in_bucket <= 0.0 {
            return width;
        }
        let f = (total - below) / total;
        let per_request = (1.0 - f) * (1.0 - q).powi(2) + f * q * q;
        let sigma = width * (2.0 * total * edge * per_request).sqrt() / in_bucket;
        (Self::SIGMAS * sigma).min(width)
    }
}

impl PrometheusServer {
    /// `GET /api/v1/…` with query parameters; panics with Prometheus' error and log on failure.
    pub(crate) fn api(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        path: &str,
        params: &[(&str, &str)],
    ) -> Value {
        let url = url::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .expect("a valid API URL");
        let body: Value = rt
            .block_on(async { http.get(url.clone()).send().await?.json().await })
            .unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.log()));
        assert_eq!(body["status"], "success", "GET {url}: {body}");
        body["data"].clone()
    }

    /// An instant query at `time` (RFC 3339): the vector's elements as (labels, value).
    pub(crate) fn query(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        promql: &str,
        time: &str,
    ) -> Vec<(Labels, f64)> {
        let data = self.api(
            rt,
            http,
            "/api/v1/query",
            &[("query", promql), ("time", time)],
        );
        assert_eq!(data["resultType"], "vector", "{promql}: {data}");
        data["result"]
            .as_array()
            .expect("a result array")
            .iter()
            .map(|element| {
                let labels = labels_of(&element["metric"]);
                // Values are strings so that NaN and ±Inf survive JSON.
                let value = element["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{promql}: bad value in {element}"));
                (labels, value)
            })
            .collect()
    }

    /// The raw samples of a range selector at `time`: per series, its labels and (unix s, value).
    pub(crate) fn matrix(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        selector: &str,
        time: &str,
    ) -> Vec<Series> {
        let data = self.api(
            rt,
            http,
            "/api/v1/query",
            &[("query", selector), ("time", time)],
        );
        assert_eq!(data["resultType"], "matrix", "{selector}: {data}");
        data["result"]
            .as_array()
            .expect("a result array")
            .iter()
            .map(|series| {
                let samples = series["values"]
                    .as_array()
                    .expect("a values array")
                    .iter()
                    .map(|pair| {
                        let t = pair[0].as_f64().expect("a sample time");
                        let v = pair[1].as_str().and_then(|s| s.parse::<f64>().ok());
                        (
                            t,
                            v.unwrap_or_else(|| panic!("{selector}: bad sample {pair}")),
                        )
                    })
                    .collect();
                (labels_of(&series["metric"]), samples)
            })
            .collect()
    }

    /// The single value of an aggregated query (`None` when the vector is empty).
    pub(crate) fn scalar(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        promql: &str,
        time: &str,
    ) -> Option<f64> {
        let result = self.query(rt, http, promql, time);
        assert!(result.len() <= 1, "{promql}: more than one element");
        result.first().map(|(_, v)| *v)
    }

    /// Waits until Prometheus reports the target up with at least `samples` scrapes of it.
    pub(crate) fn wait_for_target(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        samples: usize,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let targets = self.api(rt, http, "/api/v1/targets", &[("state", "active")]);
            let up = targets["activeTargets"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t["health"] == "up"));
            let now = now_rfc3339();
            let scrapes = if up {
                self.scalar(rt, http, "count_over_time(up[1m])", &now)
                    .unwrap_or(0.0)
            } else {
                0.0
            };
            if scrapes >= samples as f64 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the demo target is not up in Prometheus after {within:?} \
                 ({scrapes} scrapes): {targets}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until Prometheus holds a scrape newer than `time` (unix seconds), so every scrape
    /// up to `time` has been committed before we query at it.
    pub(crate) fn wait_past(
        &self,
        rt: &tokio::runtime::Runtime,
        http: &reqwest::Client,
        time: f64,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let newest = self.scalar(rt, http, "max(timestamp(up))", &now_rfc3339());
            if newest.is_some_and(|t| t > time) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus has no scrape after {time} within {within:?} (newest {newest:?})\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub(crate) fn labels_of(metric: &Value) -> Labels {
    metric
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Runs `llmtop snapshot` against `metrics_url`, bounded in time; returns its JSON.
pub(crate) fn llmtop_snapshot(metrics_url: &str, extra_args: &[&str]) -> Value {
    let dir = unique_dir("snapshot");
    std::fs::create_dir_all(&dir).expect("create the snapshot temp dir");
    let stdout_path = dir.join("stdout.json");
    let stderr_path = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["snapshot", metrics_url, "--for", WINDOW, "--interval", "1s"])
        .args(["--timeout", "900ms", "--format", "json"])
        .args(extra_args)
        .env("LLMTOP_LOG_FILE", dir.join("llmtop.log"))
        .env_remove("LLMTOP_DIALECT")
        .env_remove("LLMTOP_HEADER")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create stdout file"))
        .stderr(File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .expect("start llmtop");
    let deadline = Instant::now() + Duration::from_secs(WINDOW_SECONDS as u64 + 20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for llmtop") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "llmtop snapshot did not finish in time:\n{}",
                tail(&stderr_path, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = tail(&stderr_path, 30);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "llmtop snapshot failed ({status}):\n{stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("llmtop printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

fn number(v: &Value, what: &str, snapshot: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("llmtop has no number for {what}: {snapshot:#}"))
}

/// A runtime, an HTTP client for Prometheus' API and the demo gateway at [`BASE_RPS`] with
/// [`SEED`]: the steady traffic both comparisons measure.
pub(crate) fn steady_demo() -> (
    tokio::runtime::Runtime,
    reqwest::Client,
    llmtop::io::demo::DemoGateway,
) {
    demo_at(BASE_RPS)
}

/// [`steady_demo`] with `requests_per_second` arrivals instead of [`BASE_RPS`].
pub(crate) fn demo_at(
    requests_per_second: f64,
) -> (
    tokio::runtime::Runtime,
    reqwest::Client,
    llmtop::io::demo::DemoGateway,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");

    let gateway = rt
        .block_on(demo::spawn(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            DemoConfig {
                seed: Some(SEED),
                traffic: true,
                latency_scale: 1.0,
                requests_per_second,
                capacity: None,
            },
        ))
        .expect("start the demo gateway");
    (rt, http, gateway)
}

/// One compared figure: both values, the difference and what was allowed.
struct Row {
    figure: String,
    llmtop: f64,
    prometheus: f64,
    allowed: f64,
}

impl Row {
    fn diff(&self) -> f64 {
        (self.llmtop - self.prometheus).abs()
    }
    fn relative(&self) -> f64 {
        if self.prometheus == 0.0 {
            if self.llmtop == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            self.diff() / self.prometheus.abs()
        }
    }
    fn ok(&self) -> bool {
        self.diff() <= self.allowed
    }
}

#[test]
fn llmtop_matches_prometheus_on_the_same_gateway() {
    if !Path::new(PROMETHEUS).exists() {
        if on_ci() {
            panic!(
                "{PROMETHEUS} is missing on CI: .ci/run should install Debian's `prometheus` \
                 package before the tests (apt-get install -y --no-install-recommends prometheus)"
            );
        }
        eprintln!(
            "SKIPPED llmtop_matches_prometheus_on_the_same_gateway: {PROMETHEUS} not found \
             (apt-get install -y --no-install-recommends prometheus to run it)"
        );
        return;
    }
    let started = Instant::now();
    let (rt, http, gateway) = steady_demo();
    let metrics_url = format!("{}/metrics", gateway.base_url());

    let prometheus = rt.block_on(PrometheusServer::start(
        &http,
        "llmtop-demo",
        &[gateway.addr()],
    ));
    // Three scrapes: Prometheus' data then starts ≥ 2 s before llmtop's first scrape, so its
    // 20 s window is as full as llmtop's (a series starting inside the window would only be
    // extrapolated half an interval back and understate the rate).
    prometheus.wait_for_target(&rt, &http, 3, Duration::from_secs(15));
    let ready_after = started.elapsed();

    let snapshot = llmtop_snapshot(&metrics_url, &[]);
    let at = snapshot["at"]
        .as_str()
        .unwrap_or_else(|| panic!("llmtop snapshot has no `at`: {snapshot:#}"))
        .to_string();
    let at_unix = chrono::DateTime::parse_from_rfc3339(&at)
        .unwrap_or_else(|e| panic!("`at` {at:?} is not RFC 3339: {e}"))
        .timestamp_millis() as f64
        / 1000.0;
    prometheus.wait_past(&rt, &http, at_unix, Duration::from_secs(5));
    let scrapes = snapshot["scrapes"].as_u64().unwrap_or(0);
    assert!(
        scrapes >= WINDOW_SECONDS as u64 - 1,
        "llmtop scraped only {scrapes} times in {WINDOW}: {snapshot:#}"
    );

    let q = |promql: &str| prometheus.scalar(&rt, &http, promql, &at);
    let requests = format!("rate(deepseek_requests_total[{WINDOW}])");
    let errors = format!("rate(deepseek_requests_total{{status=\"error\"}}[{WINDOW}])");
    let buckets = format!("rate(deepseek_request_latency_seconds_bucket[{WINDOW}])");
    let prom = Answers {
        rps: q(&format!("sum({requests})")).expect("Prometheus has a request rate"),
        // No error series in the window at all: the ratio is 0, as llmtop reports it.
        error_ratio: q(&format!("sum({errors}) / sum({requests})")).unwrap_or(0.0),
        p95: q(&format!(
            "histogram_quantile(0.95, sum by (le) ({buckets}))"
        ))
        .expect("Prometheus has a p95"),
        models: prometheus
            .query(&rt, &http, &format!("sum by (model) ({requests})"), &at)
            .into_iter()
            .map(|(labels, v)| (labels.get("model").cloned().unwrap_or_default(), v))
            .collect(),
    };
    let mut prom_buckets: Vec<(f64, f64)> = prometheus
        .query(&rt, &http, &format!("sum by (le) ({buckets})"), &at)
        .into_iter()
        .map(|(labels, v)| (parse_le(&labels), v))
        .collect();
    prom_buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let prom_scrapes = q(&format!("count_over_time(up[{WINDOW}])")).unwrap_or(0.0);
    // Prometheus' own samples of the window, to run llmtop's PromQL functions on them.
    let raw_requests = prometheus.matrix(
        &rt,
        &http,
        &format!("deepseek_requests_total[{WINDOW}]"),
        &at,
    );
    let raw_buckets = prometheus.matrix(
        &rt,
        &http,
        &format!("deepseek_request_latency_seconds_bucket[{WINDOW}]"),
        &at,
    );
    drop(prometheus);
    rt.block_on(gateway.shutdown());

    // Steady traffic is this test's premise (see SEED): a burst would triple the rate.
    assert!(
        (0.8 * BASE_RPS..1.2 * BASE_RPS).contains(&prom.rps),
        "traffic was not steady ({:.1} req/s for a base of {BASE_RPS}): the demo simulator \
         changed and seed {SEED} now has a burst or spell in the window; pick a seed whose \
         first burst starts after ~40 s",
        prom.rps
    );

    // 1. Same samples, same math: llmtop's promql functions on the samples Prometheus holds
    //    must give Prometheus' answers to floating-point rounding.
    let local = local_answers(&raw_requests, &raw_buckets, at_unix);
    // Rounding only: the sums run in another order than Prometheus'.
    let exact = compare(&local, &prom, |_, p| 1e-9 * p.abs().max(1e-3));
    print_rows(
        &format!("llmtop's promql on Prometheus' samples at {at} (must be exact)"),
        &exact,
    );
    let inexact: Vec<&Row> = exact.iter().filter(|r| !r.ok()).collect();
    assert!(
        inexact.is_empty(),
        "llmtop's PromQL functions disagree with Prometheus 2.42 on the same samples: {}",
        describe(&inexact)
    );

    // 2. llmtop's own scrapes against Prometheus' scrapes of the same gateway.
    let totals = &snapshot["totals"];
    let llmtop = Answers {
        rps: number(
            &totals["requests_per_second"],
            "totals.requests_per_second",
            &snapshot,
        ),
        error_ratio: number(&totals["error_ratio"], "totals.error_ratio", &snapshot),
        p95: number(&totals["latency_seconds"]["p95"], "totals p95", &snapshot),
        models: snapshot["models"]
            .as_array()
            .expect("a models array")
            .iter()
            .filter_map(|m| {
                Some((
                    m["model"].as_str()?.to_string(),
                    m["requests_per_second"].as_f64()?,
                ))
            })
            .collect(),
    };
    let rows = compare(&llmtop, &prom, |figure, prometheus| match figure {
        Figure::Rate => Tolerances::rate(prometheus),
        Figure::ErrorRatio => Tolerances::error_ratio(prometheus, prom.rps),
        Figure::P95 => Tolerances::quantile(0.95, prometheus, &prom_buckets),
    });
    print_rows(
        &format!(
            "llmtop snapshot vs Prometheus at {at}: llmtop {scrapes} scrapes in all, Prometheus \
             {prom_scrapes} in the window; target up after {ready_after:.1?}, total {:.1?}",
            started.elapsed()
        ),
        &rows,
    );
    let bucket_text: Vec<String> = prom_buckets
        .iter()
        .map(|(le, v)| format!("{le}:{v:.3}"))
        .collect();
    println!(
        "Prometheus bucket rates (le:req/s): {}",
        bucket_text.join(" ")
    );

    let failed: Vec<&Row> = rows.iter().filter(|r| !r.ok()).collect();
    assert!(
        failed.is_empty(),
        "llmtop differs from Prometheus beyond tolerance on: {}\nsnapshot: {snapshot:#}",
        describe(&failed)
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the comparison took {:?}: over its 60 s budget",
        started.elapsed()
    );
}

/// The figures compared, from either side.
struct Answers {
    rps: f64,
    error_ratio: f64,
    p95: f64,
    models: BTreeMap<String, f64>,
}

#[derive(Clone, Copy)]
enum Figure {
    Rate,
    ErrorRatio,
    P95,
}

/// Rows for every figure; `allowed(kind, prometheus_value)` gives each one's tolerance.
fn compare(ours: &Answers, prom: &Answers, allowed: impl Fn(Figure, f64) -> f64) -> Vec<Row> {
    assert_eq!(
        ours.models.keys().collect::<Vec<_>>(),
        prom.models.keys().collect::<Vec<_>>(),
        "llmtop and Prometheus see different models"
    );
    let row = |figure: String, kind: Figure, ours: f64, prometheus: f64| Row {
        figure,
        llmtop: ours,
        prometheus,
        allowed: allowed(kind, prometheus),
    };
    let mut rows = vec![
        row(
            "total requests_per_second".into(),
            Figure::Rate,
            ours.rps,
            prom.rps,
        ),
        row(
            "total error_ratio".into(),
            Figure::ErrorRatio,
            ours.error_ratio,
            prom.error_ratio,
        ),
        row(
            "total latency_seconds.p95".into(),
            Figure::P95,
            ours.p95,
            prom.p95,
        ),
    ];
    for (model, p) in &prom.models {
        rows.push(row(
            format!("{model} requests_per_second"),
            Figure::Rate,
            ours.models[model],
            *p,
        ));
    }
    rows
}

/// The compared figures computed by `llmtop::base::promql` from Prometheus' raw samples, as the
/// queries do: `rate` per series, then `sum`, `sum by (model)` or `sum by (le)`.
fn local_answers(raw_requests: &[Series], raw_buckets: &[Series], at: f64) -> Answers {
    let rate = |samples: &[(f64, f64)]| promql::rate(samples, at, WINDOW_SECONDS);
    let mut rps = None::<f64>;
    let mut errors = None::<f64>;
    let mut models = BTreeMap::<String, f64>::new();
    for (labels, samples) in raw_requests {
        let Some(r) = rate(samples) else { continue };
        *rps.get_or_insert(0.0) += r;
        if labels.get("status").is_some_and(|s| s == "error") {
            *errors.get_or_insert(0.0) += r;
        }
        *models
            .entry(labels.get("model").cloned().unwrap_or_default())
            .or_insert(0.0) += r;
    }
    let mut by_le = BTreeMap::<String, (f64, f64)>::new();
    for (labels, samples) in raw_buckets {
        let Some(r) = rate(samples) else { continue };
        let le = labels.get("le").cloned().unwrap_or_default();
        by_le.entry(le).or_insert((parse_le(labels), 0.0)).1 += r;
    }
    let merged: Vec<(f64, f64)> = by_le.into_values().collect();
    let rps = rps.expect("Prometheus' samples give a request rate");
    Answers {
        rps,
        error_ratio: errors.map_or(0.0, |e| e / rps),
        p95: promql::histogram_quantile(0.95, &merged),
        models,
    }
}

pub(crate) fn parse_le(labels: &Labels) -> f64 {
    labels
        .get("le")
        .and_then(|le| le.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("a bucket without a numeric le: {labels:?}"))
}

fn print_rows(title: &str, rows: &[Row]) {
    println!("{title}");
    println!(
        "  {:<36} {:>12} {:>12} {:>10} {:>8} {:>10}",
        "figure", "llmtop", "prometheus", "|diff|", "rel", "allowed"
    );
    for r in rows {
        println!(
            "  {:<36} {:>12.6} {:>12.6} {:>10.3e} {:>7.3}% {:>10.3e}{}",
            r.figure,
            r.llmtop,
            r.prometheus,
            r.diff(),
            100.0 * r.relative(),
            r.allowed,
            if r.ok() { "" } else { "  <-- OUT OF TOLERANCE" }
        );
    }
}

fn describe(rows: &[&Row]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{} (llmtop {}, Prometheus {}, allowed ±{})",
                r.figure, r.llmtop, r.prometheus, r.allowed
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
