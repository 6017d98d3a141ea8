//! The gateway's own view of a bench run: its `/metrics` scraped while the bench runs, reduced to
//! the same figures as the client's, with the difference (queueing in the gateway versus time on
//! the wire and in the client).
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::base::credentials::KeySource;
use crate::base::dialect::Dialect;
use crate::base::signal::Signal;
use crate::io::config::TargetSpec;
use crate::io::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::model::store::{StoreLimits, TargetStore};

/// How often the gateway is scraped during a run.
const INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for the baseline scrape before the run, and for the closing one after it.
const WAIT: Duration = Duration::from_secs(3);

/// Where the server's view comes from (`--metrics`).
pub enum MetricsChoice {
    /// `--metrics none`.
    Off,
    /// The target's `/metrics`, used only when it answers with a known dialect.
    Default(url::Url),
    /// `--metrics URL`: a failure is reported.
    Given(url::Url),
}

impl MetricsChoice {
    /// `--metrics URL|none`, or the API's own `/metrics` when the flag is absent.
    pub fn from_flag(flag: Option<&str>, api_base: &url::Url) -> anyhow::Result<Self> {
        Ok(match flag {
            Some(m) if m.eq_ignore_ascii_case("none") => MetricsChoice::Off,
            Some(m) => MetricsChoice::Given(scrape::metrics_url(m)?),
            None => MetricsChoice::Default(default_url(api_base)),
        })
    }

    pub fn url(&self) -> Option<&url::Url> {
        match self {
            MetricsChoice::Off => None,
            MetricsChoice::Default(u) | MetricsChoice::Given(u) => Some(u),
        }
    }
}

/// `/metrics` on the API's origin: where gateways export them.
pub fn default_url(api_base: &url::Url) -> url::Url {
    let mut url = api_base.clone();
    url.set_path("/metrics");
    url.set_query(None);
    url
}

/// A scraper running beside the bench, and the store it fills.
pub struct ServerWatch {
    url: url::Url,
    outcomes: mpsc::Receiver<ScrapeOutcome>,
    store: TargetStore,
    dialects: Arc<Vec<Dialect>>,
    /// The baseline scrape's time (unix seconds).
    started: Option<f64>,
    last_error: Option<String>,
    /// Stops the watch's own scraper when dropped; `None` when another scraper feeds it.
    _stop: Option<watch::Sender<()>>,
}

/// Starts scraping and waits for a first good scrape to count from. `None` when the default
/// `/metrics` does not answer as a gateway (then the summary has `server: null`).
pub async fn start(
    choice: MetricsChoice,
    spec: TargetSpec,
    client: reqwest::Client,
    dialects: Arc<Vec<Dialect>>,
) -> anyhow::Result<Option<ServerWatch>> {
    let (url, explicit) = match choice {
        MetricsChoice::Off => return Ok(None),
        MetricsChoice::Default(u) => (u, false),
        MetricsChoice::Given(u) => (u, true),
    };
    let (headers, auth_hint) = spec.scrape_headers()?;
    let target = ScrapeTarget {
        name: url.host_str().unwrap_or("gateway").to_string(),
        url: url.clone(),
        headers,
        interval: INTERVAL,
        timeout: Duration::from_secs(5),
        max_body_bytes: spec.max_body_mib.saturating_mul(1024 * 1024),
        dialect_override: spec.dialect.clone(),
        auth_hint,
        redactor: None,
    };
    let (tx, outcomes) = mpsc::channel(64);
    let (stop, mut stopped) = watch::channel(());
    let scraper = scrape::run(client, target.clone(), dialects.clone(), tx, |o| o);
    tokio::spawn(async move {
        tokio::select! {
            _ = scraper => {}
            _ = stopped.changed() => {}
        }
    });
    let watch = ServerWatch {
        url,
        outcomes,
        store: TargetStore::new(target.name.clone(), limits()),
        dialects,
        started: None,
        last_error: None,
        _stop: Some(stop),
    };
    Ok(watch.first_scrape(explicit).await)
}

/// A watch fed by another scraper of the same `/metrics` (the `--tui` dashboard's), so the
/// gateway is scraped once, not twice; waits for its first good scrape as [`start`] does.
pub async fn fed(
    choice: MetricsChoice,
    outcomes: mpsc::Receiver<ScrapeOutcome>,
    dialects: Arc<Vec<Dialect>>,
) -> Option<ServerWatch> {
    let (url, explicit) = match choice {
        MetricsChoice::Off => return None,
        MetricsChoice::Default(u) => (u, false),
        MetricsChoice::Given(u) => (u, true),
    };
    let watch = ServerWatch {
        store: TargetStore::new(url.host_str().unwrap_or("gateway").to_string(), limits()),
        url,
        outcomes,
        dialects,
        started: None,
        last_error: None,
        _stop: None,
    };
    watch.first_scrape(explicit).await
}

/// The store's limits: an hour of one-second scrapes of a gateway's usual size.
fn limits() -> StoreLimits {
    StoreLimits {
        slots: crate::model::store::MAX_SLOTS.min(86_400),
        max_series: 10_000,
        max_models: 50,
    }
}

impl ServerWatch {
    /// Waits up to [`WAIT`] for a first good scrape to count from; `None` when the default
    /// `/metrics` does not answer as a gateway (an explicit `--metrics` is kept, to report
    /// its error).
    async fn first_scrape(mut self, explicit: bool) -> Option<ServerWatch> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.started.is_none() {
            match tokio::time::timeout_at(deadline, self.outcomes.recv()).await {
                Ok(Some(outcome)) => {
                    if let Some(t) = self.apply(outcome) {
                        self.started = Some(t);
                    }
                }
                Ok(None) | Err(_) => break,
            }
            if self.last_error.is_some() && !explicit {
                // The default guess did not answer as a gateway: say nothing more about it.
                return None;
            }
        }
        if self.started.is_none() && !explicit {
            return None;
        }
        Some(self)
    }
}

impl ServerWatch {
    /// Applies one outcome; the scrape's time when it was good.
    fn apply(&mut self, outcome: ScrapeOutcome) -> Option<f64> {
        match outcome {
            ScrapeOutcome::Ok(data) => {
                let ok = scrape::apply_scrape(&mut self.store, &self.dialects, &data, data.time);
                if ok {
                    self.last_error = None;
                    Some(data.time)
                } else {
                    self.last_error = self.store.health.last_error.clone();
                    None
                }
            }
            ScrapeOutcome::Failed { time, error } => {
                self.store.record_failure(time, error.clone());
                self.last_error = Some(error);
                None
            }
        }
    }

    /// Keeps the store fed while the bench runs (in a `select!` beside it; never returns).
    pub async fn follow(&mut self) {
        while let Some(outcome) = self.outcomes.recv().await {
            self.apply(outcome);
        }
        std::future::pending::<()>().await;
    }

    /// The newest good scrape: where the next step's window starts. Every request of earlier
    /// steps is in it, since [`Self::report`] waited for a scrape after each step ended.
    pub fn baseline(&self) -> Option<f64> {
        self.store.latest_time()
    }

    /// Waits for a scrape taken after `ended` (unix seconds) so the counters hold every request,
    /// then reduces the window since `baseline` to the server's figures for `model` (all models
    /// when the gateway does not name it) beside the client's `summary`.
    pub async fn report(
        &mut self,
        baseline: Option<f64>,
        ended: f64,
        model: &str,
        client_elapsed: f64,
        summary: &Value,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.store.latest_time().is_none_or(|t| t < ended) {
            match tokio::time::timeout_at(deadline, self.outcomes.recv()).await {
                Ok(Some(outcome)) => {
                    self.apply(outcome);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let shown = crate::base::secret::display_url(&self.url);
        let (Some(started), Some(end)) = (baseline.or(self.started), self.store.latest_time())
        else {
            return json!({
                "metrics_url": shown,
                "error": self.last_error.clone().unwrap_or_else(|| "no scrape answered".into()),
            });
        };
        if end <= started || self.last_error.is_some() && end < ended {
            return json!({
                "metrics_url": shown,
                "error": self.last_error.clone().unwrap_or_else(|| "no scrape after the run".into()),
            });
        }
        let store = &self.store;
        // A hair wider than the scrapes apart, so the baseline sample is inside the range.
        let range = (end - started) + 1e-3;
        let named = store.models().iter().any(|m| m == model);
        let only: Vec<&str> = if named { vec![model] } else { Vec::new() };
        let only = named.then_some(only.as_slice());
        // Exact counts between the two scrapes, so a short run still has figures (a rate needs
        // two samples of a series that the run itself may have created).
        let requests = store.counted(Signal::Requests, only, started, end);
        let failed = store.counted(Signal::RequestsFailed, only, started, end);
        let quantiles = |signal: Signal| {
            let buckets = store.bucket_counted(signal, only, started, end);
            let at = |q: f64| {
                buckets
                    .as_ref()
                    .map(|b| crate::base::promql::histogram_quantile(q, b))
                    .filter(|v| v.is_finite())
            };
            json!({"p50": at(0.5), "p95": at(0.95), "p99": at(0.99)})
        };
        let latency = quantiles(Signal::LatencySeconds);
        let ttft = quantiles(Signal::TtftSeconds);
        let error_ratio = match (requests, failed) {
            (Some(r), Some(f)) if r > 0.0 => Some(f / r),
            (Some(r), None) if r > 0.0 && store.health.reports_failures => Some(0.0),
            _ => None,
        };
        let saturation = crate::model::saturation::saturation(store, end, range, range);
        let per_second = |n: Option<f64>| {
            n.filter(|_| client_elapsed > 0.0)
                .map(|n| n / client_elapsed)
        };
        let client = |p: &str| summary.pointer(p).and_then(Value::as_f64);
        let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
        json!({
            "metrics_url": shown,
            "dialect": store.health.dialect,
            "model": named.then_some(model),
            "window_seconds": end - started,
            "requests": requests,
            "requests_failed": failed,
            "requests_per_second": per_second(requests),
            "error_ratio": error_ratio,
            "latency_seconds": latency,
            "ttft_seconds": ttft,
            "queue_time_seconds": saturation.queue_time_seconds,
            "kv_cache_usage": saturation.kv_cache_usage,
            "in_flight": saturation.in_flight,
            "queued": saturation.queued,
            "client_minus_server": {
                "requests": minus(client("/requests_done"), requests),
                "latency_p50_seconds": minus(client("/latency_seconds/p50"), latency["p50"].as_f64()),
                "latency_p95_seconds": minus(client("/latency_seconds/p95"), latency["p95"].as_f64()),
                "ttft_p50_seconds": minus(client("/ttft_seconds/p50"), ttft["p50"].as_f64()),
                "ttft_p95_seconds": minus(client("/ttft_seconds/p95"), ttft["p95"].as_f64()),
            },
            "note": if named { Value::Null } else { json!("the gateway does not name this model: the figures are of all its traffic") },
        })
    }
}

/// The `/metrics` scrape's credentials: the bench's `-H` headers, and its API key as the bearer
/// token when the metrics are on the API's own origin (LiteLLM takes its master key there).
pub fn spec(
    headers: &[crate::base::secret::HeaderLine],
    key_source: &KeySource,
    same_origin: bool,
    tls: crate::base::net::TlsSettings,
) -> TargetSpec {
    let (env, file) = match (same_origin, key_source) {
        (true, KeySource::Env(var)) => (Some(var.clone()), None),
        (true, KeySource::File(path)) => (None, Some(path.clone())),
        _ => (None, None),
    };
    TargetSpec {
        headers: headers.to_vec(),
        bearer_token_env: env,
        bearer_token_file: file,
        interval: INTERVAL,
        timeout: Duration::from_secs(5),
        max_body_mib: 32,
        tls,
        ..TargetSpec::default()
    }
}
