//! The recording's file format: the header and the record types as they are written (JSON
//! Lines), with the conversions to and from the in-memory types.
use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::io::probe::{ProbeErrorKind, ProbeResult, Usage};
use crate::model::store::StoreLimits;

/// Version of the record layout; a reader refuses files of a newer major layout.
pub const FORMAT_VERSION: u32 = 1;
/// Age at which the open member is closed and written: by the next record, or by the caller's
/// clock through [`Recorder::flush_if_due`], so a slow `--interval` cannot stretch what a crash
/// loses.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// ... or once it holds this many bytes of uncompressed records.
pub const FLUSH_BYTES: usize = 1024 * 1024;
/// A member larger than this when decompressed is not one llmtop wrote; reading stops there.
pub(crate) const MAX_MEMBER_BYTES: u64 = 256 * 1024 * 1024;

/// Store limits of the recording session, so a replay keeps exactly as much history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLimits {
    pub slots: usize,
    pub max_series: usize,
    pub max_models: usize,
}

impl From<StoreLimits> for RecordedLimits {
    fn from(l: StoreLimits) -> Self {
        Self {
            slots: l.slots,
            max_series: l.max_series,
            max_models: l.max_models,
        }
    }
}

impl From<RecordedLimits> for StoreLimits {
    fn from(l: RecordedLimits) -> Self {
        Self {
            slots: l.slots,
            max_series: l.max_series,
            max_models: l.max_models,
        }
    }
}

/// First record of every recording session (a file appended to holds several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// Version of the llmtop that wrote it.
    pub llmtop: String,
    /// `scrape` (the dashboard or `snapshot`) or `bench`.
    pub command: String,
    /// Unix seconds when recording started.
    pub started: f64,
    /// Metrics URL (or API base for bench), user, password and query values redacted.
    pub target: String,
    /// Short target name; dialects without a model label name the model after it.
    pub name: String,
    /// `--dialect` when given; `None` means the dialect was detected from the first bodies.
    pub dialect: Option<String>,
    /// Scrape interval, nanoseconds (`None` for bench).
    pub interval_ns: Option<u64>,
    /// OpenAI-compatible API base of the probes, redacted like `target`.
    pub api_base: Option<String>,
    pub limits: Option<RecordedLimits>,
    /// Labels whose values were redacted before the bodies were written (absent when none were,
    /// and in files from before redaction existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<RedactionNote>,
}

/// What a recording's redaction did, so whoever replays it knows why values read `anon-…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionNote {
    /// The label names (with `*` wildcards) whose values were replaced.
    pub labels: Vec<String>,
    /// `hash` or `drop`.
    pub mode: String,
    /// A sentence for a human reading the file.
    pub note: String,
}

impl RedactionNote {
    pub fn of(redactor: &crate::base::redact::LabelRedactor) -> Self {
        let how = match redactor.mode() {
            crate::base::redact::RedactMode::Hash => {
                "replaced by anon-<hash> (a keyed hash whose key was random and never stored)"
            }
            crate::base::redact::RedactMode::Drop => "removed with their labels",
        };
        Self {
            labels: redactor.patterns().to_vec(),
            mode: redactor.mode().as_str().to_string(),
            note: format!(
                "values of these labels were {how} before the bodies were recorded; pass --redact-labels none to record them as scraped"
            ),
        }
    }
}

/// One successful scrape: the body exactly as the parser saw it (decoded to text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrapeRecord<'a> {
    /// Unix seconds the scrape was stamped with (its samples' time).
    pub t: f64,
    /// Body size on the wire, bytes.
    pub bytes: usize,
    /// Fetch + parse time, nanoseconds.
    pub duration_ns: u64,
    /// The dialect it was mapped with live (informational; replay detects again the same way).
    pub dialect: Option<String>,
    pub body: Cow<'a, str>,
}

/// Token usage as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl From<Usage> for UsageRecord {
    fn from(u: Usage) -> Self {
        Self {
            input: u.input,
            cached_input: u.cached_input,
            output: u.output,
            reasoning: u.reasoning,
        }
    }
}

impl From<UsageRecord> for Usage {
    fn from(u: UsageRecord) -> Self {
        Self {
            input: u.input,
            cached_input: u.cached_input,
            output: u.output,
            reasoning: u.reasoning,
        }
    }
}

/// Which key or timer sent a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// `p`, the prompt editor or `--probe-every`.
    Probe,
    /// One request of a `b` burst.
    Burst,
}

/// One finished probe. Durations are integer nanoseconds so a replay rebuilds them bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub t: f64,
    pub kind: ProbeKind,
    pub model: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub ttft_ns: Option<u64>,
    pub time_to_first_answer_ns: Option<u64>,
    pub latency_ns: u64,
    pub tpot_ns: Option<u64>,
    pub usage: Option<UsageRecord>,
    pub gateway_cost_usd: Option<f64>,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub retries: u32,
    pub token_events: u32,
    pub answer: String,
}

/// One finished `llmtop bench` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub t: f64,
    pub ok: bool,
    pub status: Option<u16>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub latency_ns: u64,
    pub service_ns: u64,
    pub ttft_ns: Option<u64>,
    pub tpot_ns: Option<u64>,
    pub itl_ns: Vec<u64>,
    pub usage: Option<UsageRecord>,
    pub cost_usd: Option<f64>,
    pub retries: u32,
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record<'a> {
    Header(Header),
    Scrape(ScrapeRecord<'a>),
    ScrapeError {
        t: f64,
        error: String,
    },
    Probe(ProbeRecord),
    Bench(BenchRecord),
    /// A dashboard alert rule started or stopped firing.
    Alert(crate::model::alert_board::AlertChange),
    /// A record type from a newer llmtop; skipped.
    #[serde(other)]
    Unknown,
}

impl Record<'_> {
    /// The record's time, unix seconds (`None` for kinds without one).
    pub fn time(&self) -> Option<f64> {
        match self {
            Record::Header(h) => Some(h.started),
            Record::Scrape(s) => Some(s.t),
            Record::ScrapeError { t, .. } => Some(*t),
            Record::Probe(p) => Some(p.t),
            Record::Bench(b) => Some(b.t),
            Record::Alert(a) => Some(a.t),
            Record::Unknown => None,
        }
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ProbeRecord {
    pub fn from_result(t: f64, kind: ProbeKind, r: &ProbeResult) -> Self {
        Self {
            t,
            kind,
            model: r.model.clone(),
            ok: r.ok,
            status: r.status,
            ttft_ns: r.ttft.map(nanos),
            time_to_first_answer_ns: r.time_to_first_answer.map(nanos),
            latency_ns: nanos(r.latency),
            tpot_ns: r.tpot.map(nanos),
            usage: r.usage.map(UsageRecord::from),
            gateway_cost_usd: r.gateway_cost_usd,
            finish_reason: r.finish_reason.clone(),
            error: r.error.clone(),
            error_kind: r.error_kind.map(|k| k.name().to_string()),
            retries: r.retries,
            token_events: r.token_events,
            answer: r.answer.clone(),
        }
    }

    /// The result as the dashboard saw it (only what the panels and the probe source use).
    pub fn to_result(&self) -> ProbeResult {
        ProbeResult {
            model: self.model.clone(),
            ok: self.ok,
            status: self.status,
            ttft: self.ttft_ns.map(Duration::from_nanos),
            time_to_first_answer: self.time_to_first_answer_ns.map(Duration::from_nanos),
            latency: Duration::from_nanos(self.latency_ns),
            tpot: self.tpot_ns.map(Duration::from_nanos),
            usage: self.usage.map(Usage::from),
            gateway_cost_usd: self.gateway_cost_usd,
            finish_reason: self.finish_reason.clone(),
            error: self.error.clone(),
            error_kind: self.error_kind.as_deref().and_then(error_kind_named),
            retries: self.retries,
            token_events: self.token_events,
            answer: self.answer.clone(),
            ..ProbeResult::default()
        }
    }
}

fn error_kind_named(name: &str) -> Option<ProbeErrorKind> {
    use ProbeErrorKind::*;
    [
        Config,
        Connection,
        Timeout,
        Auth,
        RateLimited,
        QuotaExhausted,
        Http,
        GatewayError,
        Truncated,
        Decode,
    ]
    .into_iter()
    .find(|k| k.name() == name)
}

impl BenchRecord {
    pub fn from_sample(t: f64, s: &crate::io::loadgen::stats::Sample) -> Self {
        Self {
            t,
            ok: s.ok,
            status: s.status,
            error_kind: s.error_kind.map(|k| k.name().to_string()),
            error: s.error.clone(),
            latency_ns: nanos(s.latency),
            service_ns: nanos(s.service),
            ttft_ns: s.ttft.map(nanos),
            tpot_ns: s.tpot.map(nanos),
            itl_ns: s.itl.iter().copied().map(nanos).collect(),
            usage: s.usage.map(UsageRecord::from),
            cost_usd: s.cost,
            retries: s.retries,
        }
    }
}

/// A recording header for unit tests: a one-second snapshot of `http://gw:4000/metrics`.
#[cfg(test)]
pub(crate) fn test_header() -> Header {
    Header {
        format: FORMAT_VERSION,
        llmtop: "test".into(),
        command: "snapshot".into(),
        started: 100.0,
        target: "http://gw:4000/metrics".into(),
        name: "gw".into(),
        dialect: None,
        interval_ns: Some(1_000_000_000),
        api_base: None,
        limits: None,
        redaction: None,
    }
}
