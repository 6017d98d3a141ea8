//! OpenAI-compatible chat-completions probe: sends one request, streams it, measures TTFT, tokens and latency.
//!
//! Every timing is measured from the moment [`run_probe`] starts, so retries and their
//! waits are part of what the user would have experienced; [`ProbeResult::final_attempt_at`]
//! says when the attempt that produced the result began, for the gateway's own view.
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::base::secret::Secret;

pub mod fast;
pub mod limit;
pub mod models;
pub mod retry;
pub mod sse;

pub use retry::RetryPolicy;
use sse::{ChatStream, SseDecoder};

/// What to tell a user whose key was refused. Names the credential sources, never the key.
pub const AUTH_HINT: &str = "set LLMTOP_API_KEY or OPENAI_API_KEY, or pass --api-key-file";

/// Error bodies are only read for their message; a gateway streaming megabytes of HTML
/// into an error must not stall the probe.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed completion is small; this bounds memory against a runaway body.
const MAX_COMPLETION_BODY: usize = 8 * 1024 * 1024;
const MAX_MESSAGE_CHARS: usize = 512;

/// What to send.
#[derive(Clone)]
pub struct ProbeRequest {
    /// Origin of the OpenAI-compatible API, e.g. `http://127.0.0.1:8080` (the client appends `/v1/chat/completions`).
    /// A trailing `/` or `/v1` is accepted, and so is a path prefix (`http://host/proxy`).
    pub api_base: url::Url,
    pub model: String,
    pub prompt: String,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    /// Send the limit as `max_completion_tokens` (newer OpenAI reasoning models refuse `max_tokens`).
    pub use_max_completion_tokens: bool,
    /// Sampling temperature; omitted when `None` so the gateway's default applies.
    pub temperature: Option<f32>,
    pub api_key: Option<Secret>,
    /// Bounds the whole probe: connecting, every retry and its wait, and reading the body.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra request headers (`--header`), sent after the key so one can replace `Authorization`.
    /// Their values are never printed by `Debug`.
    pub extra_headers: Vec<(String, String)>,
}

impl ProbeRequest {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A streaming request with no key, no `max_tokens`, the default timeout and retry policy.
    pub fn new(api_base: url::Url, model: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self {
            api_base,
            model: model.into(),
            prompt: prompt.into(),
            stream: true,
            max_tokens: None,
            use_max_completion_tokens: false,
            temperature: None,
            api_key: None,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            extra_headers: Vec::new(),
        }
    }

    /// Names the token limit `max_completion_tokens` instead of `max_tokens`.
    pub fn with_max_completion_tokens(mut self, yes: bool) -> Self {
        self.use_max_completion_tokens = yes;
        self
    }

    pub fn with_temperature(mut self, temperature: Option<f32>) -> Self {
        self.temperature = temperature;
        self
    }

    pub fn with_api_key(mut self, key: Option<Secret>) -> Self {
        self.api_key = key;
        self
    }

    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    pub fn with_max_tokens(mut self, max_tokens: Option<u32>) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adds one request header; a repeated name is sent once per value.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// `{api_base}/v1/chat/completions`, whatever form of base the user typed.
    pub fn chat_completions_url(&self) -> Result<url::Url, String> {
        let base = &self.api_base;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(format!(
                "api base {} is not an http(s) URL",
                redacted_url(base)
            ));
        }
        let mut url = base.clone();
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/');
        let path = if path.ends_with("/chat/completions") {
            path.to_string()
        } else if path.ends_with("/v1") {
            format!("{path}/chat/completions")
        } else {
            format!("{path}/v1/chat/completions")
        };
        url.set_path(&path);
        Ok(url)
    }

    /// The JSON body sent to the gateway.
    pub fn body(&self) -> Value {
        self.body_with_prompt(&self.prompt)
    }

    fn body_with_prompt(&self, prompt: &str) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": self.stream,
        });
        if let Some(map) = body.as_object_mut() {
            if let Some(max) = self.max_tokens {
                let field = if self.use_max_completion_tokens {
                    "max_completion_tokens"
                } else {
                    "max_tokens"
                };
                map.insert(field.into(), max.into());
            }
            if let Some(t) = self.temperature {
                map.insert("temperature".into(), json!(t));
            }
            if self.stream {
                // Without this OpenAI sends no usage at all on streams.
                map.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
        body
    }

    /// Builds the URL, headers and body once, for sending the same request many times
    /// ([`run_prepared`], [`fast::HttpConnection`]). `Err` is a configuration error.
    pub fn prepare(&self) -> Result<PreparedRequest, String> {
        let url = self.chat_completions_url()?;
        // The order reqwest's builder gave them: JSON type, Accept, the key, then `--header`s,
        // each of which replaces any earlier header of its name.
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if self.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let key = self.api_key.as_ref().filter(|key| !key.expose().is_empty());
        if let Some(key) = key {
            let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose()))
                .map_err(|_| "the API key has characters a header cannot hold".to_string())?;
            // Sensitive values are hidden by `HeaderMap`'s Debug and hpack-indexed never.
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut previous: Option<HeaderName> = None;
        for (name, value) in extra_headers(&self.extra_headers).map_err(|f| f.message)? {
            match name {
                Some(name) => {
                    headers.insert(name.clone(), value);
                    previous = Some(name);
                }
                None => {
                    if let Some(name) = &previous {
                        headers.append(name.clone(), value);
                    }
                }
            }
        }
        let body = self.body().to_string().into_bytes();
        Ok(PreparedRequest {
            common: Arc::new(Prepared {
                request: self.clone(),
                url,
                headers,
                key_sent: key.is_some(),
            }),
            body: Bytes::from(body),
        })
    }
}

/// A request ready to send any number of times: URL, headers and JSON body built once.
#[derive(Clone)]
pub struct PreparedRequest {
    common: Arc<Prepared>,
    body: Bytes,
}

/// What every prompt of one [`PreparedRequest`] family shares.
struct Prepared {
    request: ProbeRequest,
    url: url::Url,
    /// Content-Type, Accept, the key (marked sensitive) and the `--header`s.
    headers: HeaderMap,
    key_sent: bool,
}

impl PreparedRequest {
    /// The same request with another prompt; only the body is rebuilt.
    pub fn with_prompt(&self, prompt: &str) -> Self {
        let body = self.common.request.body_with_prompt(prompt).to_string();
        Self {
            common: self.common.clone(),
            body: Bytes::from(body.into_bytes()),
        }
    }

    /// What the request was prepared from (its prompt is the one given to [`ProbeRequest::prepare`]).
    pub fn request(&self) -> &ProbeRequest {
        &self.common.request
    }

    /// `…/v1/chat/completions`.
    pub fn url(&self) -> &url::Url {
        &self.common.url
    }

    /// The exact bytes sent as the body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: only their names are shown.
        f.debug_struct("PreparedRequest")
            .field("request", &self.common.request)
            .field("url", &redacted_url(&self.common.url))
            .field(
                "headers",
                &self
                    .common
                    .headers
                    .keys()
                    .map(HeaderName::as_str)
                    .collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl fmt::Debug for ProbeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base URL is user input and may carry credentials in its userinfo or query.
        f.debug_struct("ProbeRequest")
            .field("api_base", &redacted_url(&self.api_base))
            .field("model", &self.model)
            .field("prompt", &self.prompt)
            .field("stream", &self.stream)
            .field("max_tokens", &self.max_tokens)
            .field("use_max_completion_tokens", &self.use_max_completion_tokens)
            .field("temperature", &self.temperature)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
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
        let usage = self.usage?;
        let price = prices.lookup(&self.model)?;
        Some(price.cost_usd(crate::base::pricing::TokenCounts {
            input: usage.input as f64,
            cached_input: usage.cached_input as f64,
            output: usage.output as f64,
        }))
    }
}

/// Sends one chat completion and measures it. Never panics on anything the gateway sends.
pub async fn run_probe(
    client: &reqwest::Client,
    request: &ProbeRequest,
    events: Option<UnboundedSender<ProbeEvent>>,
) -> ProbeResult {
    let start = Instant::now();
    match request.prepare() {
        Ok(prepared) => run_prepared(client, &prepared, events).await,
        Err(message) => ProbeResult {
            model: request.model.clone(),
            error_kind: Some(ProbeErrorKind::Config),
            error: Some(scrub_request(&message, request)),
            latency: start.elapsed(),
            ..ProbeResult::default()
        },
    }
}

/// [`run_probe`] for a request prepared once and sent many times, through reqwest.
pub async fn run_prepared(
    client: &reqwest::Client,
    prepared: &PreparedRequest,
    events: Option<UnboundedSender<ProbeEvent>>,
) -> ProbeResult {
    run_with(&mut ReqwestTransport(client), prepared, events).await
}

/// Sends an HTTP request and hands back the response head and a body to read.
trait Transport {
    type Body: ReplyBody;

    async fn send(&mut self, prepared: &PreparedRequest) -> Result<Reply<Self::Body>, Failure>;
}

/// A response as the interpretation needs it, whichever client fetched it.
struct Reply<B> {
    status: StatusCode,
    headers: HeaderMap,
    body: B,
}

/// A response body read chunk by chunk; `Err` says why the read broke.
trait ReplyBody {
    async fn chunk(&mut self) -> Result<Option<Bytes>, String>;
}

struct ReqwestTransport<'a>(&'a reqwest::Client);

impl Transport for ReqwestTransport<'_> {
    type Body = reqwest::Response;

    async fn send(&mut self, prepared: &PreparedRequest) -> Result<Reply<Self::Body>, Failure> {
        let url = &prepared.common.url;
        let mut response = self
            .0
            .post(url.clone())
            .headers(prepared.common.headers.clone())
            .body(prepared.body.clone())
            .send()
            .await
            .map_err(|e| Failure::from_send(e, url))?;
        Ok(Reply {
            status: response.status(),
            headers: std::mem::take(response.headers_mut()),
            body: response,
        })
    }
}

impl ReplyBody for reqwest::Response {
    async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        reqwest::Response::chunk(self).await.map_err(describe)
    }
}

/// The retry loop, the deadline and the interpretation of answers, over any transport.
async fn run_with<T: Transport>(
    transport: &mut T,
    prepared: &PreparedRequest,
    events: Option<UnboundedSender<ProbeEvent>>,
) -> ProbeResult {
    let start = Instant::now();
    let request = &prepared.common.request;
    let mut result = ProbeResult {
        model: request.model.clone(),
        ..ProbeResult::default()
    };
    let deadline = start
        .checked_add(request.timeout)
        .map(tokio::time::Instant::from_std);
    let policy = request.retry;

    loop {
        result.final_attempt_at = start.elapsed();
        let mut attempt = Attempt::new(start, events.as_ref());
        let run = attempt_once(&mut attempt, &mut *transport, prepared);
        let finished = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, run).await.ok(),
            None => Some(run.await),
        };
        let outcome = finished
            .unwrap_or_else(|| Err(Failure::timeout(request.timeout, attempt.status.is_some())));
        let failure = match outcome {
            Ok(()) => {
                attempt.finish_into(&mut result);
                result.ok = true;
                break;
            }
            Err(mut failure) => {
                failure.message = scrub_request(&failure.message, request);
                failure
            }
        };
        // A timeout has no retry left by construction; anything after a token would
        // double-bill the user and distort the measurement, so it is final too.
        if let Retry::After(hint) = failure.retry
            && result.retries < policy.max_retries
            && attempt.first_token.is_none()
        {
            let delay = policy.delay(result.retries, hint);
            let fits = deadline.is_none_or(|d| {
                tokio::time::Instant::now()
                    .checked_add(delay)
                    .is_some_and(|wake| wake < d)
            });
            if fits {
                tracing::debug!(
                    retry = result.retries + 1,
                    delay_ms = delay.as_millis() as u64,
                    status = attempt.status,
                    reason = %failure.message,
                    "probe retrying"
                );
                tokio::time::sleep(delay).await;
                result.retries += 1;
                continue;
            }
        }
        attempt.finish_into(&mut result);
        result.ok = false;
        result.error_kind = Some(failure.kind);
        result.error = Some(failure.message);
        break;
    }
    result.latency = start.elapsed();
    // Without a key or `--header`s there is nothing to scrub (and no copy to make per request).
    if request.api_key.is_some() || !request.extra_headers.is_empty() {
        for text in [&mut result.answer, &mut result.reasoning] {
            *text = scrub_request(text, request);
        }
        if let Some(reason) = &mut result.finish_reason {
            *reason = scrub_request(reason, request);
        }
    }
    result
}

/// Measurements of one attempt.
struct Attempt<'a> {
    start: Instant,
    events: Option<&'a UnboundedSender<ProbeEvent>>,
    status: Option<u16>,
    chat: ChatStream,
    first_token: Option<Duration>,
    first_answer: Option<Duration>,
    last_token: Option<Duration>,
    gaps: Vec<Duration>,
    token_events: u32,
    header_cost: Option<f64>,
}

impl<'a> Attempt<'a> {
    fn new(start: Instant, events: Option<&'a UnboundedSender<ProbeEvent>>) -> Self {
        Self {
            start,
            events,
            status: None,
            chat: ChatStream::new(),
            first_token: None,
            first_answer: None,
            last_token: None,
            gaps: Vec::new(),
            token_events: 0,
            header_cost: None,
        }
    }

    /// Records the non-empty deltas of one event that arrived at `at`.
    fn on_deltas(&mut self, at: Duration, deltas: Vec<ProbeEvent>) {
        if deltas.is_empty() {
            return;
        }
        match self.last_token {
            Some(previous) => self.gaps.push(at.saturating_sub(previous)),
            None => self.first_token = Some(at),
        }
        self.last_token = Some(at);
        self.token_events += 1;
        for delta in deltas {
            if matches!(delta, ProbeEvent::Content(_)) && self.first_answer.is_none() {
                self.first_answer = Some(at);
            }
            if let Some(events) = self.events {
                // A closed receiver means the UI stopped listening; the measurement goes on.
                let _ = events.send(delta);
            }
        }
    }

    fn finish_into(self, result: &mut ProbeResult) {
        let chat = self.chat;
        result.status = self.status;
        result.ttft = self.first_token;
        result.time_to_first_answer = self.first_answer;
        result.tpot = match (self.first_token, self.last_token) {
            (Some(first), Some(last)) if self.token_events >= 2 => {
                let tokens = chat
                    .usage
                    .map(|u| u.output)
                    .filter(|&n| n >= 2)
                    .unwrap_or(u64::from(self.token_events));
                let steps = u32::try_from(tokens - 1).unwrap_or(u32::MAX);
                Some(last.saturating_sub(first) / steps)
            }
            _ => None,
        };
        result.inter_token_gaps = self.gaps;
        result.token_events = self.token_events;
        result.usage = chat.usage;
        result.gateway_cost_usd = chat.cost.or(self.header_cost);
        result.answer = chat.answer;
        result.reasoning = chat.reasoning;
        result.text_truncated = chat.text_truncated;
        result.finish_reason = chat.finish_reason;
        result.keepalives = chat.comments;
        result.malformed_chunks = chat.malformed;
    }
}

#[derive(Debug, Clone, Copy)]
enum Retry {
    Never,
    /// Worth another attempt, after the server's hint if it gave one.
    After(Option<Duration>),
}

#[derive(Debug)]
struct Failure {
    kind: ProbeErrorKind,
    message: String,
    retry: Retry,
}

impl Failure {
    fn new(kind: ProbeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry: Retry::Never,
        }
    }

    fn timeout(timeout: Duration, answered: bool) -> Self {
        let stage = if answered {
            "while reading the response"
        } else {
            "before the gateway answered"
        };
        Self::new(
            ProbeErrorKind::Timeout,
            format!("request timed out after {timeout:?} {stage}"),
        )
    }

    fn from_send(error: reqwest::Error, url: &url::Url) -> Self {
        let (kind, retry) = if error.is_builder() || error.is_redirect() {
            (ProbeErrorKind::Config, Retry::Never)
        } else if error.is_timeout() {
            (ProbeErrorKind::Timeout, Retry::After(None))
        } else {
            (ProbeErrorKind::Connection, Retry::After(None))
        };
        let what = if error.is_connect() {
            "cannot connect to"
        } else {
            "request failed to"
        };
        Self {
            kind,
            message: format!("{what} {}: {}", redacted_url(url), describe(error)),
            retry,
        }
    }
}

async fn attempt_once<T: Transport>(
    attempt: &mut Attempt<'_>,
    transport: &mut T,
    prepared: &PreparedRequest,
) -> Result<(), Failure> {
    let Reply {
        status,
        headers,
        body: mut response,
    } = transport.send(prepared).await?;
    attempt.status = Some(status.as_u16());
    if !status.is_success() {
        // A broken error body still leaves the status to report.
        let (body, _) = read_capped(&mut response, MAX_ERROR_BODY).await;
        return Err(status_failure(
            status,
            &headers,
            &body,
            prepared.common.key_sent,
        ));
    }

    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_sse = content_type.contains("text/event-stream");
    let is_json = content_type.contains("json");
    // Some gateways answer a streaming request with one JSON object (and vice versa);
    // read what was sent, not what was asked for.
    if is_sse || (prepared.common.request.stream && !is_json) {
        read_stream(attempt, &mut response).await
    } else {
        attempt.header_cost = headers
            .get("x-litellm-response-cost")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|c| c.is_finite() && *c >= 0.0);
        read_completion(attempt, &mut response).await
    }
}

async fn read_stream(
    attempt: &mut Attempt<'_>,
    response: &mut impl ReplyBody,
) -> Result<(), Failure> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut broken = None;
    loop {
        let read = response.chunk().await;
        // Stamp the read, not the parse: that is when the bytes reached us.
        let at = attempt.start.elapsed();
        let ended = match read {
            Ok(Some(bytes)) => {
                decoder.feed(&bytes, &mut events);
                false
            }
            Ok(None) => {
                decoder.finish(&mut events);
                true
            }
            Err(error) => {
                decoder.finish(&mut events);
                broken = Some(error);
                true
            }
        };
        for event in events.drain(..) {
            let deltas = attempt.chat.apply(event);
            attempt.on_deltas(at, deltas);
        }
        // After `[DONE]` or an error object nothing can change the outcome, and some
        // gateways hold the connection open a while longer.
        if ended || attempt.chat.is_settled() {
            break;
        }
    }
    attempt.chat.malformed += decoder.oversized_lines;
    match attempt.chat.outcome() {
        Ok(()) => Ok(()),
        Err(message) if attempt.chat.error.is_some() => Err(Failure::new(
            ProbeErrorKind::GatewayError,
            format!(
                "gateway error inside 200 stream: {}",
                sse::truncate_chars(&message, MAX_MESSAGE_CHARS)
            ),
        )),
        Err(message) => Err(Failure::new(
            ProbeErrorKind::Truncated,
            match broken {
                Some(cause) => format!("{message} (connection broke: {cause})"),
                None => message,
            },
        )),
    }
}

async fn read_completion(
    attempt: &mut Attempt<'_>,
    response: &mut impl ReplyBody,
) -> Result<(), Failure> {
    let (body, broken) = read_capped(response, MAX_COMPLETION_BODY).await;
    if let Some(cause) = broken {
        return Err(Failure::new(
            ProbeErrorKind::Truncated,
            format!("response body ended early: {cause}"),
        ));
    }
    let at = attempt.start.elapsed();
    let text = String::from_utf8_lossy(&body);
    let Ok(chunk) = sse::parse_chat_chunk(&text) else {
        return Err(Failure::new(
            ProbeErrorKind::Decode,
            format!("response is not a chat completion: {}", snippet(&text)),
        ));
    };
    let deltas = attempt.chat.apply_chunk(chunk);
    attempt.on_deltas(at, deltas);
    if let Some(message) = &attempt.chat.error {
        return Err(Failure::new(
            ProbeErrorKind::GatewayError,
            format!(
                "gateway error inside 200 response: {}",
                sse::truncate_chars(message, MAX_MESSAGE_CHARS)
            ),
        ));
    }
    // A whole completion is complete by definition, finish_reason or not.
    attempt.chat.done = true;
    Ok(())
}

/// `--header` pairs as a map whose values are marked sensitive; a bad pair is a config error.
fn extra_headers(pairs: &[(String, String)]) -> Result<HeaderMap, Failure> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Failure::new(
                ProbeErrorKind::Config,
                format!("{:?} is not a valid header name", name.trim()),
            )
        })?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
            Failure::new(
                ProbeErrorKind::Config,
                format!("the value of header {name} has characters a header cannot hold"),
            )
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// Reads at most `limit` bytes of the body; returns them and, if the read broke, why.
async fn read_capped(response: &mut impl ReplyBody, limit: usize) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if body.len() >= limit {
                    return (body, None);
                }
            }
            Ok(None) => return (body, None),
            Err(error) => return (body, Some(error)),
        }
    }
}

fn status_failure(status: StatusCode, headers: &HeaderMap, body: &[u8], key_sent: bool) -> Failure {
    let code = status.as_u16();
    let text = String::from_utf8_lossy(body);
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let gateway_message = json
        .as_ref()
        .and_then(sse::error_message)
        .map(|m| sse::truncate_chars(m.trim(), MAX_MESSAGE_CHARS).to_string())
        .unwrap_or_else(|| snippet(&text));
    let said = if gateway_message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        gateway_message
    };

    // The client follows redirects only within the origin (crate::base::net), so this one leaves it.
    if status.is_redirection()
        && let Some(to) = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok())
    {
        return Failure::new(
            ProbeErrorKind::Config,
            format!(
                "HTTP {code}: the gateway redirects to another origin ({}); the API key and headers are sent only to the origin given, so use --api-base with that address",
                crate::base::net::origin_text(&to)
            ),
        );
    }
    if matches!(code, 401 | 403) {
        let verdict = if key_sent {
            "gateway rejected the API key"
        } else {
            "gateway requires an API key"
        };
        return Failure::new(
            ProbeErrorKind::Auth,
            format!("{verdict} ({code}): {AUTH_HINT} (gateway said: {said})"),
        );
    }
    if code == 429 {
        let (kind, error_code) = json
            .as_ref()
            .map(sse::error_type_and_code)
            .unwrap_or_default();
        // LiteLLM wraps upstream errors into its message, so the raw body is checked too.
        let quota = [kind.as_deref(), error_code.as_deref()].contains(&Some("insufficient_quota"))
            || text.contains("insufficient_quota");
        if quota {
            return Failure::new(
                ProbeErrorKind::QuotaExhausted,
                format!("HTTP 429 insufficient_quota: {said}"),
            );
        }
    }
    let kind = if code == 429 {
        ProbeErrorKind::RateLimited
    } else {
        ProbeErrorKind::Http
    };
    let retry = if retry::is_retryable_status(code) && !retry::server_forbids_retry(headers) {
        Retry::After(retry::server_retry_hint(headers))
    } else {
        Retry::Never
    };
    Failure {
        kind,
        message: format!("HTTP {code}: {said}"),
        retry,
    }
}

/// A reqwest error's cause chain without the URL (which [`redacted_url`] handles).
pub(crate) fn describe(error: reqwest::Error) -> String {
    describe_chain(&error.without_url())
}

/// An error and its sources, each said once, without the layers that add nothing.
fn describe_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    // The outer layers ("error sending request", hyper's "client error (Connect)") add
    // nothing once the root cause is known.
    while parts.len() > 1
        && (parts[0] == "error sending request" || parts[0].starts_with("client error ("))
    {
        parts.remove(0);
    }
    parts.join(": ")
}

/// A body as a one-line excerpt: whitespace collapsed, length bounded.
fn snippet(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut = sse::truncate_chars(&collapsed, MAX_MESSAGE_CHARS);
    if cut.len() < collapsed.len() {
        format!("{cut}…")
    } else {
        collapsed
    }
}

/// A URL fit for an error message or `Debug`: [`Reach::File`](crate::base::secret::Reach::File).
pub(crate) fn redacted_url(url: &url::Url) -> String {
    crate::base::secret::redact_url(url, crate::base::secret::Reach::File)
}

/// [`scrub`] for the key and every `--header` value long enough to be a credential (a gateway
/// echoing the request's headers in its error body must not put an `X-Api-Key` on screen).
fn scrub_request(text: &str, request: &ProbeRequest) -> String {
    let mut out = match &request.api_key {
        Some(key) => scrub(text, key),
        None => text.to_string(),
    };
    // The demo gateway's own fault-injection headers name faults, never credentials.
    let secret_headers = request
        .extra_headers
        .iter()
        .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("x-llmtop-demo-"));
    for (_, value) in secret_headers {
        for secret in crate::base::secret::header_value_secrets(value) {
            out = scrub(&out, &Secret::new(secret));
        }
    }
    out
}

/// Gateways sometimes echo the key they refused; it must not reach the screen or logs.
fn scrub(text: &str, key: &Secret) -> String {
    let key = key.expose();
    if key.is_empty() || !text.contains(key) {
        return text.to_string();
    }
    text.replace(key, "<redacted>")
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn token_limit_field_and_temperature_are_configurable() {
        let base = url::Url::parse("http://127.0.0.1:1").unwrap();
        let plain = ProbeRequest::new(base.clone(), "m", "hi")
            .with_max_tokens(Some(16))
            .body();
        assert_eq!(plain["max_tokens"], 16);
        assert!(plain.get("max_completion_tokens").is_none());
        assert!(plain.get("temperature").is_none());
        let newer = ProbeRequest::new(base, "m", "hi")
            .with_max_tokens(Some(16))
            .with_max_completion_tokens(true)
            .with_temperature(Some(0.5))
            .body();
        assert_eq!(newer["max_completion_tokens"], 16);
        assert!(newer.get("max_tokens").is_none());
        assert_eq!(newer["temperature"], 0.5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_for(base: &str) -> String {
        let request = ProbeRequest::new(url::Url::parse(base).unwrap(), "m", "p");
        request.chat_completions_url().unwrap().to_string()
    }

    #[test]
    fn api_base_forms_all_reach_chat_completions() {
        for base in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/v1",
            "http://127.0.0.1:8080/v1/",
            "http://127.0.0.1:8080/v1/chat/completions",
        ] {
            assert_eq!(
                url_for(base),
                "http://127.0.0.1:8080/v1/chat/completions",
                "{base}"
            );
        }
        assert_eq!(
            url_for("https://gw.example/proxy/"),
            "https://gw.example/proxy/v1/chat/completions"
        );
        assert_eq!(
            url_for("https://gw.example/proxy/v1"),
            "https://gw.example/proxy/v1/chat/completions"
        );
        assert_eq!(
            url_for("https://gw.example/v1?api-version=1#frag"),
            "https://gw.example/v1/chat/completions?api-version=1"
        );
        let bad = ProbeRequest::new(url::Url::parse("ftp://x/").unwrap(), "m", "p");
        assert!(bad.chat_completions_url().is_err());
    }

    #[test]
    fn body_has_stream_options_only_when_streaming() {
        let request = ProbeRequest::new(url::Url::parse("http://h").unwrap(), "gpt-4o", "hi")
            .with_max_tokens(Some(16));
        let body = request.body();
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["messages"][0]["content"], "hi");
        assert_eq!(body["stream"], true);
        assert_eq!(body["max_tokens"], 16);
        assert_eq!(body["stream_options"]["include_usage"], true);
        let body = request.with_stream(false).with_max_tokens(None).body();
        assert!(body.get("stream_options").is_none());
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn debug_hides_key_and_url_credentials() {
        let request = ProbeRequest::new(
            url::Url::parse("http://user:pw-secret@h/v1?key=q-secret").unwrap(),
            "m",
            "p",
        )
        .with_api_key(Some(Secret::new("sk-secret")));
        let shown = format!("{request:?}");
        for secret in ["sk-secret", "pw-secret", "q-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn status_failures_classify_and_extract_messages() {
        let headers = HeaderMap::new();
        let f = status_failure(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sse/error_429_body.json")),
            true,
        );
        assert_eq!(f.kind, ProbeErrorKind::RateLimited);
        assert_eq!(f.message, "HTTP 429: Rate limit reached for requests");
        assert!(matches!(f.retry, Retry::After(None)));

        let f = status_failure(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sse/error_429_insufficient_quota.json")),
            true,
        );
        assert_eq!(f.kind, ProbeErrorKind::QuotaExhausted);
        assert!(matches!(f.retry, Retry::Never));

        let html = "<html>\n  <body>502   Bad Gateway</body>\n</html>".repeat(50);
        let f = status_failure(StatusCode::BAD_GATEWAY, &headers, html.as_bytes(), false);
        assert!(
            f.message
                .starts_with("HTTP 502: <html> <body>502 Bad Gateway")
        );
        assert!(f.message.chars().count() < MAX_MESSAGE_CHARS + 20);
        assert!(matches!(f.retry, Retry::After(None)));

        for code in [400, 404, 422] {
            let f = status_failure(StatusCode::from_u16(code).unwrap(), &headers, b"", false);
            assert!(matches!(f.retry, Retry::Never), "{code}");
        }
        let f = status_failure(StatusCode::UNAUTHORIZED, &headers, b"", false);
        assert_eq!(f.kind, ProbeErrorKind::Auth);
        assert!(f.message.contains(AUTH_HINT));
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let key = Secret::new("sk-abc");
        assert_eq!(
            scrub("bad key sk-abc (sk-abc)", &key),
            "bad key <redacted> (<redacted>)"
        );
        assert_eq!(scrub("fine", &Secret::new("")), "fine");
    }
}
