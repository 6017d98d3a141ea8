//! The `/metrics` scraper: fetch with a timeout and a body cap, parse, detect the dialect, map to canonical samples.
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use tokio::sync::mpsc;

use crate::base::clock::unix_now;
use crate::base::dialect::{self, Dialect};
use crate::base::exposition;
use crate::base::redact::LabelRedactor;
use crate::base::signal::{CanonicalSample, Signal};
use crate::model::store::TargetStore;

/// How to scrape one target.
#[derive(Clone)]
pub struct ScrapeTarget {
    /// Full URL of the metrics endpoint.
    pub url: url::Url,
    /// Short name shown on screen and used for model-less dialects.
    pub name: String,
    /// Extra headers, auth included. Their values never reach a log or the screen.
    pub headers: HeaderMap,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// `--dialect`: use this one instead of detecting.
    pub dialect_override: Option<String>,
    /// How to say which credential to set when the gateway answers 401/403.
    pub auth_hint: String,
    /// Personal-data labels rewritten in every body before it is parsed or recorded.
    pub redactor: Option<Arc<LabelRedactor>>,
}

/// Without header values, and without the URL's userinfo and query, any of which may hold a
/// credential.
impl std::fmt::Debug for ScrapeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeTarget")
            .field("url", &crate::io::probe::redacted_url(&self.url))
            .field("name", &self.name)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("dialect_override", &self.dialect_override)
            .field("auth_hint", &self.auth_hint)
            .field("redactor", &self.redactor)
            .finish()
    }
}

/// A successful scrape, already mapped to canonical samples.
#[derive(Debug, Clone)]
pub struct ScrapeData {
    pub time: f64,
    pub dialect: Option<String>,
    pub samples: Vec<CanonicalSample>,
    pub families: usize,
    pub skipped_lines: usize,
    pub first_skipped: Option<String>,
    pub rejected_histograms: usize,
    /// What the dialect's `describe` labels said about the upstreams.
    pub descriptions: std::collections::BTreeMap<String, crate::base::dialect::Description>,
    pub bytes: usize,
    pub duration: Duration,
    /// The body as received, kept so `--record` can write exactly what the parser saw.
    pub body: bytes::Bytes,
    /// Samples in the exposition (every raw series, mapped or not).
    pub series: usize,
    /// Where a large body's series come from: the families with the most, most first (filled
    /// only for a large scrape, see [`LARGE_SCRAPE_BYTES`]).
    pub heaviest_families: Vec<(String, usize)>,
}

/// A scrape body this large costs the gateway and llmtop time on every scrape: say so.
pub const LARGE_SCRAPE_BYTES: usize = 10 * 1024 * 1024;
/// Likewise for this many series.
pub const LARGE_SCRAPE_SERIES: usize = 50_000;

/// The warning for a large scrape, naming the families that dominate and the knob; `None` for
/// an ordinary one.
pub fn large_scrape_warning(data: &ScrapeData) -> Option<String> {
    if data.bytes <= LARGE_SCRAPE_BYTES && data.series <= LARGE_SCRAPE_SERIES {
        return None;
    }
    let top: Vec<String> = data
        .heaviest_families
        .iter()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect();
    Some(format!(
        "large scrape: {:.1} MiB, {} series, most from {}; --max-series caps the series followed (or a dialect's only_when narrows them)",
        data.bytes as f64 / (1024.0 * 1024.0),
        data.series,
        top.join(", ")
    ))
}

/// What one scrape attempt produced.
#[derive(Debug, Clone)]
pub enum ScrapeOutcome {
    Ok(Box<ScrapeData>),
    Failed { time: f64, error: String },
}

/// Applies one successful scrape to `store`, stamped `time`: the dialect (kept from earlier
/// scrapes when this one names none), whether it reports failures, the skipped lines (the first
/// one logged), bad bytes and rejected histograms, then the samples. One path for a session's
/// store and each target of a direct fleet. False when no dialect matched: the store records it
/// as a failure and the caller should not merge the samples anywhere.
pub fn apply_scrape(
    store: &mut TargetStore,
    dialects: &[Dialect],
    data: &ScrapeData,
    time: f64,
) -> bool {
    let health = &mut store.health;
    health.dialect = data.dialect.clone().or(health.dialect.take());
    health.reports_failures = health
        .dialect
        .as_ref()
        .and_then(|name| dialects.iter().find(|d| &d.name == name))
        .is_some_and(|d| d.provides(Signal::RequestsFailed));
    health.skipped_lines_last = data.skipped_lines;
    health.skipped_lines_total += data.skipped_lines as u64;
    health.invalid_utf8 = std::str::from_utf8(&data.body).is_err();
    let large = large_scrape_warning(data);
    if let Some(warning) = &large
        && health.large_scrape.is_none()
    {
        // Once, when it starts; the status line keeps saying it while it lasts.
        tracing::warn!("{warning}");
    }
    health.large_scrape = large;
    if let Some(first) = &data.first_skipped {
        tracing::warn!(
            "skipped {} malformed lines, first: {first}",
            data.skipped_lines
        );
    }
    store.ingest(time, &data.samples);
    store.describe(&data.descriptions);
    store.health.rejected_histograms += data.rejected_histograms;
    if data.dialect.is_none() {
        store.record_failure(
            time,
            format!(
                "no known dialect among {} metric families: pass --dialect NAME",
                data.families
            ),
        );
        return false;
    }
    true
}

/// Normalises what a user types into a metrics URL: `host:port`, `http(s)://host:port`
/// (then `/metrics` is assumed) or a full URL.
pub fn metrics_url(input: &str) -> anyhow::Result<url::Url> {
    let mut url = crate::base::net::parse_http_url(input, "target")?;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/metrics");
    }
    Ok(url)
}

/// The origin (`scheme://host:port`) of a URL: the default base of the OpenAI-compatible API.
pub fn origin(url: &url::Url) -> url::Url {
    let mut base = url.clone();
    base.set_path("");
    base.set_query(None);
    base.set_fragment(None);
    base
}

/// Fetches and maps one scrape. Every failure is a plain sentence for the status line.
pub async fn scrape_once(
    client: &reqwest::Client,
    target: &ScrapeTarget,
    dialects: &[Dialect],
    sticky_dialect: &mut Option<String>,
) -> ScrapeOutcome {
    let time = unix_now();
    let started = Instant::now();
    let fail = |error: String| ScrapeOutcome::Failed { time, error };
    let response = crate::base::net::get_with_credentials(
        client,
        &target.url,
        &target.headers,
        "text/plain;version=0.0.4",
        target.timeout,
    )
    .await;
    let response = match response {
        Ok(r) => r,
        Err(crate::base::net::FetchError::Http(e)) => {
            return fail(describe_request_error(&e, target));
        }
        Err(e) => return fail(e.to_string()),
    };
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return fail(format!("HTTP {}: {}", status.as_u16(), target.auth_hint));
    }
    if !status.is_success() {
        return fail(format!("HTTP {status}"));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("text/html") {
        return fail(
            "got an HTML page, not Prometheus metrics: is this the /metrics URL?".to_string(),
        );
    }
    let body = match read_capped(response, target.max_body_bytes, target.timeout).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let body = redact_body(target.redactor.as_deref(), bytes::Bytes::from(body));
    let text = exposition::decode_body(&body);
    let mut data = map_text(time, &text, target, dialects, sticky_dialect);
    data.bytes = body.len();
    data.duration = started.elapsed();
    drop(text);
    data.body = body;
    ScrapeOutcome::Ok(Box::new(data))
}

/// The body with its personal-data labels rewritten: what the parser, the screen and a recording
/// see. Untouched (and not copied) without a redactor or when nothing matched.
pub fn redact_body(redactor: Option<&LabelRedactor>, body: bytes::Bytes) -> bytes::Bytes {
    let Some(redactor) = redactor else {
        return body;
    };
    let rewritten = match redactor.redact(&exposition::decode_body(&body)) {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(text) => Some(text),
    };
    match rewritten {
        None => body,
        Some(text) => bytes::Bytes::from(text),
    }
}

/// Parses a decoded body and maps it with the target's dialect: the part of a scrape after the
/// network, shared by the live scraper and `llmtop replay` so both compute the same samples.
/// `bytes`, `duration` and `body` are left for the caller to fill in.
pub fn map_text(
    time: f64,
    text: &str,
    target: &ScrapeTarget,
    dialects: &[Dialect],
    sticky_dialect: &mut Option<String>,
) -> ScrapeData {
    let parsed = exposition::parse(text);
    let dialect = match &target.dialect_override {
        Some(name) => dialects.iter().find(|d| &d.name == name),
        None => match sticky_dialect {
            Some(name) => dialects.iter().find(|d| &d.name == name),
            None => dialect::detect(dialects, &parsed),
        },
    };
    if let Some(d) = dialect {
        *sticky_dialect = Some(d.name.clone());
    }
    let mapped = dialect
        .map(|d| d.map(&parsed, &target.name))
        .unwrap_or_default();
    let mut families: Vec<&str> = parsed.samples.iter().map(|s| s.name).collect();
    families.sort_unstable();
    let heaviest_families =
        if text.len() > LARGE_SCRAPE_BYTES || parsed.samples.len() > LARGE_SCRAPE_SERIES {
            heaviest(&families)
        } else {
            Vec::new()
        };
    families.dedup();
    ScrapeData {
        time,
        dialect: dialect.map(|d| d.name.clone()),
        samples: mapped.samples,
        families: families.len(),
        skipped_lines: parsed.skipped_count,
        first_skipped: parsed
            .skipped
            .first()
            .map(|s| format!("line {}: {}", s.line_number, s.reason)),
        rejected_histograms: mapped.rejected_histograms,
        descriptions: mapped.descriptions,
        bytes: text.len(),
        duration: Duration::ZERO,
        body: bytes::Bytes::new(),
        series: parsed.samples.len(),
        heaviest_families,
    }
}

/// The three names that occur most in a sorted list of sample names, with their counts.
fn heaviest(sorted_names: &[&str]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for name in sorted_names {
        match counts.last_mut() {
            Some((last, n)) if last == name => *n += 1,
            _ => counts.push((name.to_string(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(3);
    counts
}

/// Reads a body without ever holding more than `cap` bytes of it.
async fn read_capped(
    response: reqwest::Response,
    cap: usize,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) => return Err(format!("body not complete after {timeout:?}")),
            Ok(None) => return Ok(body),
            Ok(Some(Err(e))) => {
                return Err(format!(
                    "connection broke while reading the body: {}",
                    short_error(&e)
                ));
            }
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > cap {
                    return Err(format!(
                        "body larger than the {} MiB limit (raise --max-body-mib)",
                        cap / (1024 * 1024)
                    ));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

fn describe_request_error(e: &reqwest::Error, target: &ScrapeTarget) -> String {
    if e.is_timeout() {
        format!("no answer within {:?}", target.timeout)
    } else if e.is_redirect() {
        "too many redirects".to_string()
    } else if e.is_connect() {
        let cause = short_error(e);
        if cause.contains("certificate") {
            format!(
                "TLS certificate not trusted: {cause} (private CA: --ca-cert PATH; lab only: --insecure)"
            )
        } else {
            format!("cannot connect: {cause}")
        }
    } else {
        format!("request failed: {}", short_error(e))
    }
}

/// The innermost cause of an error, which is the part a person can act on.
fn short_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Scrapes `target` every interval until the receiver goes away; `wrap` turns each outcome into
/// the caller's channel message.
pub async fn run<M: Send + 'static>(
    client: reqwest::Client,
    target: ScrapeTarget,
    dialects: Arc<Vec<Dialect>>,
    updates: mpsc::Sender<M>,
    wrap: impl Fn(ScrapeOutcome) -> M + Send + 'static,
) {
    let mut ticker = tokio::time::interval(target.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sticky = target.dialect_override.clone();
    loop {
        ticker.tick().await;
        let outcome = scrape_once(&client, &target, &dialects, &mut sticky).await;
        if let ScrapeOutcome::Failed { error, .. } = &outcome {
            tracing::warn!(target = %target.name, "scrape failed: {error}");
        }
        if updates.send(wrap(outcome)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 000 series: the warning names the size, the series, the three families behind most of
    /// them and the knob; the health keeps it while it lasts and the status line says so.
    #[test]
    fn a_large_scrape_is_named_with_its_heaviest_families() {
        let mut text = String::from("# TYPE vllm:num_requests_running gauge\n");
        for i in 0..40_000 {
            text.push_str(&format!("vllm_lora_requests_info{{adapter=\"a{i}\"}} 1\n"));
        }
        for i in 0..15_000 {
            text.push_str(&format!("python_gc_objects{{gen=\"{i}\"}} 1\n"));
        }
        for i in 0..5_000 {
            text.push_str(&format!("process_fds{{fd=\"{i}\"}} 1\n"));
        }
        text.push_str("vllm:num_requests_running{model_name=\"m\"} 3\n");
        let target = ScrapeTarget {
            url: url::Url::parse("http://gw:8000/metrics").unwrap(),
            name: "gw".into(),
            headers: HeaderMap::new(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_body_bytes: 64 << 20,
            dialect_override: None,
            auth_hint: String::new(),
            redactor: None,
        };
        let dialects = crate::base::dialect::builtin();
        let data = map_text(1.0, &text, &target, &dialects, &mut None);
        assert_eq!(data.series, 60_001);
        let warning = large_scrape_warning(&data).unwrap();
        assert!(
            warning.contains("60001 series, most from vllm_lora_requests_info (40000), python_gc_objects (15000), process_fds (5000)"),
            "{warning}"
        );
        assert!(warning.contains("--max-series"), "{warning}");
        let mut store = TargetStore::new("gw", crate::model::store::StoreLimits::default());
        apply_scrape(&mut store, &dialects, &data, 1.0);
        assert_eq!(store.health.large_scrape.as_deref(), Some(warning.as_str()));
        assert!(
            crate::model::view::exposition_problems(&store.health)
                .contains(&"large scrape".to_string())
        );
        // An ordinary scrape clears it.
        let small = map_text(
            2.0,
            "vllm:num_requests_running{model_name=\"m\"} 3\n",
            &target,
            &dialects,
            &mut None,
        );
        assert_eq!(large_scrape_warning(&small), None);
        apply_scrape(&mut store, &dialects, &small, 2.0);
        assert_eq!(store.health.large_scrape, None);
    }

    #[test]
    fn debug_shows_no_credential() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-api-key",
            reqwest::header::HeaderValue::from_static("canary-header-7f3a"),
        );
        let target = ScrapeTarget {
            url: url::Url::parse("https://ops:canary-pass-9d@gw:4000/metrics?token=canary-q")
                .unwrap(),
            name: "gw:4000".into(),
            headers,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_body_bytes: 1024,
            dialect_override: None,
            auth_hint: "set --bearer-token-env".into(),
            redactor: None,
        };
        let shown = format!("{target:?}");
        assert!(
            shown.contains("x-api-key") && shown.contains("gw:4000"),
            "{shown}"
        );
        for canary in ["canary-header-7f3a", "canary-pass-9d", "canary-q", "ops"] {
            assert!(!shown.contains(canary), "{canary} in {shown}");
        }
    }

    #[test]
    fn user_input_becomes_a_metrics_url() {
        let cases = [
            ("localhost:4000", "http://localhost:4000/metrics"),
            ("http://gw:4000", "http://gw:4000/metrics"),
            (
                "https://gw.internal:4000/",
                "https://gw.internal:4000/metrics",
            ),
            ("https://gw/custom/prom?x=1", "https://gw/custom/prom?x=1"),
            (
                "http://10.0.0.1:8000/metrics/",
                "http://10.0.0.1:8000/metrics/",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(metrics_url(input).unwrap().as_str(), want, "{input}");
        }
        assert!(metrics_url("").is_err());
        assert!(metrics_url("ftp://x/metrics").is_err());
    }

    #[test]
    fn origin_drops_path_and_query() {
        let url = metrics_url("https://gw:4000/metrics?x=1").unwrap();
        assert_eq!(origin(&url).as_str(), "https://gw:4000/");
    }
}
