//! What a probe measured: the result, token usage, streaming progress and the error kinds.
use super::*;

/// Token usage as the gateway reported it, normalised from the OpenAI and DeepSeek shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub input: u64,
    /// Prompt tokens served from cache (OpenAI `cached_tokens`, DeepSeek `prompt_cache_hit_tokens`).
    pub cached_input: u64,
    /// Completion tokens, reasoning included.
    pub output: u64,
    pub reasoning: u64,
}

/// Progress of a running probe, sent to the UI as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeEvent {
    /// Answer text as it streams (`content`).
    Content(String),
    /// Reasoning text as it streams (`reasoning_content`).
    Reasoning(String),
}

/// Why a probe failed, for colouring and grouping; the message is in [`ProbeResult::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeErrorKind {
    /// The request could not be built (bad api base).
    Config,
    /// Connecting or sending failed before any response.
    Connection,
    /// `ProbeRequest::timeout` ran out.
    Timeout,
    /// 401/403.
    Auth,
    /// 429 still failing after retries.
    RateLimited,
    /// 429 `insufficient_quota`: billing, not load; retrying cannot help.
    QuotaExhausted,
    /// Any other non-2xx status.
    Http,
    /// An `{"error":...}` object inside a 200 response.
    GatewayError,
    /// The stream ended or broke before `finish_reason`/`[DONE]`.
    Truncated,
    /// A 200 body that is not a chat completion.
    Decode,
}

impl ProbeErrorKind {
    /// The snake_case name JSON outputs use (`rate_limited`); a contract for scripts.
    pub fn name(self) -> &'static str {
        match self {
            ProbeErrorKind::Config => "config",
            ProbeErrorKind::Connection => "connection",
            ProbeErrorKind::Timeout => "timeout",
            ProbeErrorKind::Auth => "auth",
            ProbeErrorKind::RateLimited => "rate_limited",
            ProbeErrorKind::QuotaExhausted => "quota_exhausted",
            ProbeErrorKind::Http => "http",
            ProbeErrorKind::GatewayError => "gateway_error",
            ProbeErrorKind::Truncated => "truncated",
            ProbeErrorKind::Decode => "decode",
        }
    }
}

/// The measured outcome of one probe request.
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    pub model: String,
    pub ok: bool,
    pub status: Option<u16>,
    /// First non-empty token of any kind (reasoning or content).
    pub ttft: Option<Duration>,
    /// First non-empty answer (`content`) token.
    pub time_to_first_answer: Option<Duration>,
    pub latency: Duration,
    pub usage: Option<Usage>,
    /// `usage.cost` when the gateway sends one (LiteLLM), in USD.
    pub gateway_cost_usd: Option<f64>,
    pub answer: String,
    pub reasoning: String,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
    pub retries: u32,
    pub error_kind: Option<ProbeErrorKind>,
    /// Time between consecutive token-carrying events; events that arrived in the same
    /// network read have a gap of zero.
    pub inter_token_gaps: Vec<Duration>,
    /// Time per output token after the first: `(last token − first token) / (output − 1)`,
    /// using the reported output tokens, or the token-carrying events when usage is missing.
    pub tpot: Option<Duration>,
    /// SSE events (or whole responses) that carried non-empty text.
    pub token_events: u32,
    /// `:` keep-alive comments received.
    pub keepalives: u32,
    /// `data:` payloads that were not JSON; skipped.
    pub malformed_chunks: u32,
    /// `answer` or `reasoning` was cut at [`sse::MAX_STORED_TEXT`].
    pub text_truncated: bool,
    /// When the attempt that produced this result started, from the probe's start.
    pub final_attempt_at: Duration,
}

impl ProbeResult {
    /// What the request cost by the price table, input, cached input and output priced apart;
    /// `None` without usage or without a price for the model.
    pub fn cost(
        &self,
        prices: &crate::base::pricing::PriceTable,
    ) -> Option<crate::base::pricing::CostBreakdown> {
        self.cost_at(prices.lookup(&self.model)?)
    }

    /// What the request cost at `price` (its model's row, looked up once by a caller that
    /// sends the same model many times); `None` without usage.
    pub fn cost_at(
        &self,
        price: &crate::base::pricing::Price,
    ) -> Option<crate::base::pricing::CostBreakdown> {
        let usage = self.usage?;
        Some(price.cost_usd(crate::base::pricing::TokenCounts {
            input: usage.input as f64,
            cached_input: usage.cached_input as f64,
            output: usage.output as f64,
        }))
    }
}
