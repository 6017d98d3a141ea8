//! OpenAI-compatible chat-completions probe: sends one request, streams it, measures TTFT, tokens and latency.
// INTERFACE STUB — being implemented. Types and signatures are the contract.
use std::time::Duration;

use crate::secret::Secret;

pub mod sse;

/// What to send.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// Origin of the OpenAI-compatible API, e.g. `http://127.0.0.1:8080` (the client appends `/v1/chat/completions`).
    pub api_base: url::Url,
    pub model: String,
    pub prompt: String,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

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
#[derive(Debug, Clone)]
pub enum ProbeEvent {
    /// Answer text as it streams (`content`).
    Content(String),
    /// Reasoning text as it streams (`reasoning_content`).
    Reasoning(String),
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
}

/// Sends one chat completion and measures it. Never panics on anything the gateway sends.
pub async fn run_probe(
    _client: &reqwest::Client,
    _request: &ProbeRequest,
    _events: Option<tokio::sync::mpsc::UnboundedSender<ProbeEvent>>,
) -> ProbeResult {
    todo!()
}
