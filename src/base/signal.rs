//! The canonical vocabulary: every source's numbers become these signals, and every view reads only these.
use serde::{Deserialize, Serialize};

/// One canonical signal. Dialect tables map gateway metric families onto these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Every finished request, whatever its outcome (counter).
    Requests,
    /// Requests that failed (counter); ok = requests − requests_failed.
    RequestsFailed,
    /// Prompt tokens, cached ones included (counter).
    TokensInput,
    /// Prompt tokens served from a cache (counter).
    TokensCachedInput,
    /// Completion tokens (counter).
    TokensOutput,
    /// Input + output, for gateways that export only a total (counter).
    TokensTotal,
    /// Money spent as the gateway itself accounts it, USD (counter).
    SpendUsd,
    /// End-to-end request latency, seconds (histogram).
    LatencySeconds,
    /// Time to first token, seconds (histogram).
    TtftSeconds,
    /// Inter-token latency, seconds (histogram).
    ItlSeconds,
    /// Requests being processed now (gauge).
    InFlight,
    /// Requests waiting in a queue now (gauge).
    Queued,
    /// Fraction of prompt work served from cache, 0…1 (gauge).
    CacheHitRatio,
    /// Fraction of the engine's KV cache in use, 0…1 (gauge; the fullest engine's).
    KvCacheUsage,
    /// Time a request waited before the engine took it, seconds (histogram).
    QueueTimeSeconds,
    /// Time spent on the prompt (prefill), seconds (histogram).
    PrefillTimeSeconds,
    /// Time spent generating (decode), seconds (histogram).
    DecodeTimeSeconds,
    /// Requests the engine evicted to make room (counter).
    Preemptions,
    /// Requests in the running batch now (gauge).
    BatchSize,
}

/// How a gauge's series add up across raw series and models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaugeAggregate {
    /// Counts of requests add up.
    Sum,
    /// A ratio averages.
    Mean,
    /// A fill level: the fullest one is what saturates.
    Max,
}

/// How a signal's samples behave over time, which decides the PromQL functions that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Counter,
    Histogram,
    Gauge,
}

impl Signal {
    pub const ALL: [Signal; 19] = [
        Signal::Requests,
        Signal::RequestsFailed,
        Signal::TokensInput,
        Signal::TokensCachedInput,
        Signal::TokensOutput,
        Signal::TokensTotal,
        Signal::SpendUsd,
        Signal::LatencySeconds,
        Signal::TtftSeconds,
        Signal::ItlSeconds,
        Signal::InFlight,
        Signal::Queued,
        Signal::CacheHitRatio,
        Signal::KvCacheUsage,
        Signal::QueueTimeSeconds,
        Signal::PrefillTimeSeconds,
        Signal::DecodeTimeSeconds,
        Signal::Preemptions,
        Signal::BatchSize,
    ];

    pub fn kind(self) -> SignalKind {
        match self {
            Signal::LatencySeconds
            | Signal::TtftSeconds
            | Signal::ItlSeconds
            | Signal::QueueTimeSeconds
            | Signal::PrefillTimeSeconds
            | Signal::DecodeTimeSeconds => SignalKind::Histogram,
            Signal::InFlight
            | Signal::Queued
            | Signal::CacheHitRatio
            | Signal::KvCacheUsage
            | Signal::BatchSize => SignalKind::Gauge,
            _ => SignalKind::Counter,
        }
    }

    /// How this gauge's series combine (meaningless for counters and histograms).
    pub fn gauge_aggregate(self) -> GaugeAggregate {
        match self {
            Signal::CacheHitRatio => GaugeAggregate::Mean,
            Signal::KvCacheUsage => GaugeAggregate::Max,
            _ => GaugeAggregate::Sum,
        }
    }

    /// The snake_case name used in dialect tables and output.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Requests => "requests",
            Signal::RequestsFailed => "requests_failed",
            Signal::TokensInput => "tokens_input",
            Signal::TokensCachedInput => "tokens_cached_input",
            Signal::TokensOutput => "tokens_output",
            Signal::TokensTotal => "tokens_total",
            Signal::SpendUsd => "spend_usd",
            Signal::LatencySeconds => "latency_seconds",
            Signal::TtftSeconds => "ttft_seconds",
            Signal::ItlSeconds => "itl_seconds",
            Signal::InFlight => "in_flight",
            Signal::Queued => "queued",
            Signal::CacheHitRatio => "cache_hit_ratio",
            Signal::KvCacheUsage => "kv_cache_usage",
            Signal::QueueTimeSeconds => "queue_time_seconds",
            Signal::PrefillTimeSeconds => "prefill_time_seconds",
            Signal::DecodeTimeSeconds => "decode_time_seconds",
            Signal::Preemptions => "preemptions",
            Signal::BatchSize => "batch_size",
        }
    }
}

/// One canonical value extracted from a scrape, still tied to the raw series it came from so the
/// store can follow each raw counter's resets on its own (PromQL computes rate per series, then sums).
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalSample {
    pub signal: Signal,
    pub model: String,
    /// Identity of the raw series (family + full label set), stable across scrapes.
    pub series_id: u64,
    pub value: CanonicalValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CanonicalValue {
    Scalar(f64),
    /// Cumulative buckets (upper bound in canonical units, count) sorted by bound, plus `_sum`/`_count`.
    Histogram {
        buckets: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    },
}
