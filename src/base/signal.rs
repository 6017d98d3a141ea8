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
}

/// How a signal's samples behave over time, which decides the PromQL functions that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Counter,
    Histogram,
    Gauge,
}

impl Signal {
    pub const ALL: [Signal; 13] = [
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
    ];

    pub fn kind(self) -> SignalKind {
        match self {
            Signal::LatencySeconds | Signal::TtftSeconds | Signal::ItlSeconds => {
                SignalKind::Histogram
            }
            Signal::InFlight | Signal::Queued | Signal::CacheHitRatio => SignalKind::Gauge,
            _ => SignalKind::Counter,
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
