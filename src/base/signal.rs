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
    /// An upstream deployment's state: 0 healthy, 1 degraded, 2 down (gauge, keyed by deployment).
    UpstreamState,
    /// Requests an upstream answered, whatever the outcome (counter, keyed by deployment or
    /// provider); for gateways that count them without splitting successes from failures.
    UpstreamRequests,
    /// Answers an upstream gave successfully (counter, keyed by deployment).
    UpstreamSuccesses,
    /// Answers an upstream failed (counter, keyed by deployment).
    UpstreamFailures,
    /// Times the router took an upstream out of rotation (counter, keyed by deployment).
    UpstreamCooldowns,
    /// Requests moved to a fallback that answered (counter, keyed by `from → to`).
    FallbacksOk,
    /// Requests moved to a fallback that failed too (counter, keyed by `from → to`).
    FallbacksFailed,
    /// Requests an upstream still allows in its rate-limit window (gauge, keyed by deployment).
    RemainingRequests,
    /// Tokens an upstream still allows in its rate-limit window (gauge, keyed by deployment).
    RemainingTokens,
    /// An upstream's requests-per-minute limit (gauge, keyed by deployment).
    RpmLimit,
    /// An upstream's tokens-per-minute limit (gauge, keyed by deployment).
    TpmLimit,
    /// USD left of a spending budget (gauge, keyed `scope:name`, e.g. `team:search`; may go
    /// negative when the scope overspent).
    BudgetRemainingUsd,
    /// A spending budget's maximum, USD (gauge, keyed `scope:name`).
    BudgetMaxUsd,
    /// Hours until a budget resets (gauge, keyed `scope:name`).
    BudgetResetHours,
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
    /// Headroom: the tightest one is what throttles.
    Min,
}

/// How a signal's samples behave over time, which decides the PromQL functions that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Counter,
    Histogram,
    Gauge,
}

impl Signal {
    pub const ALL: [Signal; 33] = [
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
        Signal::UpstreamState,
        Signal::UpstreamRequests,
        Signal::UpstreamSuccesses,
        Signal::UpstreamFailures,
        Signal::UpstreamCooldowns,
        Signal::FallbacksOk,
        Signal::FallbacksFailed,
        Signal::RemainingRequests,
        Signal::RemainingTokens,
        Signal::RpmLimit,
        Signal::TpmLimit,
        Signal::BudgetRemainingUsd,
        Signal::BudgetMaxUsd,
        Signal::BudgetResetHours,
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
            | Signal::BatchSize
            | Signal::UpstreamState
            | Signal::RemainingRequests
            | Signal::RemainingTokens
            | Signal::RpmLimit
            | Signal::TpmLimit
            | Signal::BudgetRemainingUsd
            | Signal::BudgetMaxUsd
            | Signal::BudgetResetHours => SignalKind::Gauge,
            _ => SignalKind::Counter,
        }
    }

    /// How this gauge's series combine (meaningless for counters and histograms).
    pub fn gauge_aggregate(self) -> GaugeAggregate {
        match self {
            Signal::CacheHitRatio => GaugeAggregate::Mean,
            Signal::KvCacheUsage | Signal::UpstreamState | Signal::RpmLimit | Signal::TpmLimit => {
                GaugeAggregate::Max
            }
            Signal::RemainingRequests
            | Signal::RemainingTokens
            | Signal::BudgetRemainingUsd
            | Signal::BudgetResetHours => GaugeAggregate::Min,
            Signal::BudgetMaxUsd => GaugeAggregate::Max,
            _ => GaugeAggregate::Sum,
        }
    }

    /// Whether the signal is about an upstream deployment or a fallback rather than a model: its
    /// series are keyed by deployment (or `from → to`) and never listed as models.
    pub fn is_upstream(self) -> bool {
        matches!(
            self,
            Signal::UpstreamState
                | Signal::UpstreamRequests
                | Signal::UpstreamSuccesses
                | Signal::UpstreamFailures
                | Signal::UpstreamCooldowns
                | Signal::FallbacksOk
                | Signal::FallbacksFailed
                | Signal::RemainingRequests
                | Signal::RemainingTokens
                | Signal::RpmLimit
                | Signal::TpmLimit
        )
    }

    /// Whether the signal is about a spending budget: keyed `scope:name`, never a model.
    pub fn is_budget(self) -> bool {
        matches!(
            self,
            Signal::BudgetRemainingUsd | Signal::BudgetMaxUsd | Signal::BudgetResetHours
        )
    }

    /// The signal a `failed_when` rule also feeds: failed requests for `requests`, failed
    /// answers for `upstream_requests`; `None` for every other signal.
    pub fn failed_twin(self) -> Option<Signal> {
        match self {
            Signal::Requests => Some(Signal::RequestsFailed),
            Signal::UpstreamRequests => Some(Signal::UpstreamFailures),
            _ => None,
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
            Signal::UpstreamState => "upstream_state",
            Signal::UpstreamRequests => "upstream_requests",
            Signal::UpstreamSuccesses => "upstream_successes",
            Signal::UpstreamFailures => "upstream_failures",
            Signal::UpstreamCooldowns => "upstream_cooldowns",
            Signal::FallbacksOk => "fallbacks_ok",
            Signal::FallbacksFailed => "fallbacks_failed",
            Signal::RemainingRequests => "remaining_requests",
            Signal::RemainingTokens => "remaining_tokens",
            Signal::RpmLimit => "rpm_limit",
            Signal::TpmLimit => "tpm_limit",
            Signal::BudgetRemainingUsd => "budget_remaining_usd",
            Signal::BudgetMaxUsd => "budget_max_usd",
            Signal::BudgetResetHours => "budget_reset_hours",
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
