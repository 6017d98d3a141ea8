//! OpenAI-compatible HTTP endpoints of the demo gateway: chat completions (plain and SSE), models, metrics.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::Shared;
use super::fault::{FAULT_HEADER, FAULT_KEY_HEADER, FaultPlan};
use super::metrics::{self, Metrics, Observation};
use super::models::{self, CATALOG, ModelProfile};
use super::traffic::lognormal;

/// Content chunks sent before `cut_mid_stream` hangs up.
const CUT_AFTER: usize = 3;
/// Content chunks sent before `error_in_stream` reports its error.
const ERROR_AFTER: usize = 2;
/// Default `Retry-After` for `fail_first` when the header names none.
const DEFAULT_RETRY_AFTER: f64 = 1.0;
const FINGERPRINT: &str = "fp_llmtop_demo";
/// What `garbage_sse` puts before every token event: a non-UTF-8 line, a line without a colon,
/// an unknown field and a `data:` payload that is not JSON (exactly one malformed event).
const GARBAGE: &[u8] = b"\xff\xfe\x00 binary junk\nno colon on this line\nbogus-field: 1\ndata: {\"choices\": [ {\"delta\"\n\n";

const WORDS: &[&str] = &[
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "model",
    "that",
    "answers",
    "with",
    "tokens",
    "streamed",
    "over",
    "time",
    "while",
    "latency",
    "stays",
    "low",
    "and",
    "cache",
    "hits",
    "keep",
    "costs",
    "down",
    "so",
    "every",
    "dashboard",
    "shows",
    "steady",
    "throughput",
    "under",
    "load",
    "when",
    "bursts",
    "arrive",
    "queues",
    "grow",
    "briefly",
    "then",
    "drain",
    "again",
    "as",
    "workers",
    "catch",
    "up",
    "this",
    "answer",
    "is",
    "simulated",
    "for",
    "llmtop",
];

const THOUGHTS: &[&str] = &[
    "first", "consider", "what", "the", "user", "asks", "then", "check", "the", "numbers", "and",
    "plan", "a", "short", "reply", "that", "covers", "it", "maybe", "verify", "once", "more",
];

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<Message>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    /// vLLM's extension: keep generating to the limit.
    #[serde(default)]
    ignore_eos: bool,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

#[derive(Serialize)]
struct UsageBody {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cache_hit_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cache_miss_tokens: Option<u64>,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

#[derive(Serialize)]
struct CompletionBody<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: [CompletionChoice; 1],
    usage: UsageBody,
}

#[derive(Serialize)]
struct CompletionChoice {
    index: u32,
    message: AssistantMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

#[derive(Serialize)]
struct ChunkBody<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice>,
    /// Absent unless `include_usage`; then `null` on every chunk but the usage one, as OpenAI does.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<UsageBody>>,
}

#[derive(Serialize)]
struct ChunkChoice {
    index: u32,
    delta: Value,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// Everything about one answer, decided up front so the plain and streamed paths agree.
struct Answer {
    id: String,
    created: u64,
    model: &'static str,
    /// DeepSeek-reasoner delta shapes (`reasoning_content` alongside `content`).
    reasoning_style: bool,
    reasoning: Vec<String>,
    content: Vec<String>,
    finish_reason: &'static str,
    prompt_tokens: u64,
    cached_tokens: u64,
    deepseek_usage: bool,
    ttft: Duration,
    /// Pause before each token after the first.
    gaps: Vec<Duration>,
}

impl Answer {
    fn completion_tokens(&self) -> u64 {
        (self.reasoning.len() + self.content.len()) as u64
    }

    fn usage(&self) -> UsageBody {
        let completion = self.completion_tokens();
        UsageBody {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: completion,
            total_tokens: self.prompt_tokens + completion,
            prompt_tokens_details: PromptDetails {
                cached_tokens: self.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: self.reasoning.len() as u64,
            },
            prompt_cache_hit_tokens: self.deepseek_usage.then_some(self.cached_tokens),
            prompt_cache_miss_tokens: self
                .deepseek_usage
                .then_some(self.prompt_tokens - self.cached_tokens),
        }
    }

    fn body(&self) -> CompletionBody<'_> {
        CompletionBody {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: self.model,
            system_fingerprint: FINGERPRINT,
            choices: [CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content: self.content.concat(),
                    reasoning_content: self.reasoning_style.then(|| self.reasoning.concat()),
                },
                logprobs: None,
                finish_reason: self.finish_reason,
            }],
            usage: self.usage(),
        }
    }
}

/// Knobs that shape an answer besides the request itself.
struct AnswerSettings {
    latency_scale: f64,
    cache_ratio: f64,
}

fn plan_answer(
    rng: &mut StdRng,
    profile: &'static ModelProfile,
    request: &ChatRequest,
    faults: &FaultPlan,
    settings: &AnswerSettings,
) -> Answer {
    let reasoning_style = profile.reasons || faults.reasoning;
    let mut reasoning_n: usize = if reasoning_style {
        rng.random_range(8..=24)
    } else {
        0
    };
    let mut content_n: usize = rng.random_range(12..=48);
    let mut finish_reason = "stop";
    // OpenAI prefers the newer name when both are sent.
    if let Some(limit) = request.max_completion_tokens.or(request.max_tokens) {
        let limit = limit as usize;
        if request.ignore_eos && reasoning_n + content_n < limit {
            content_n = limit - reasoning_n;
            finish_reason = "length";
        } else if reasoning_n + content_n > limit {
            // Reasoning counts against the budget (as on DeepSeek) but leaves room for an answer.
            reasoning_n = reasoning_n.min(limit / 2);
            content_n = limit - reasoning_n;
            finish_reason = "length";
        }
    }
    let reasoning = sentences(rng, THOUGHTS, reasoning_n);
    let content = sentences(rng, WORDS, content_n);

    let prompt_tokens = estimate_prompt_tokens(&request.messages);
    let cached_tokens = ((prompt_tokens as f64) * settings.cache_ratio * rng.random_range(0.5..1.5))
        .floor()
        .clamp(0.0, prompt_tokens as f64) as u64;

    let scale = settings.latency_scale;
    let ttft = faults.slow_first_token.unwrap_or_else(|| {
        secs(lognormal(rng, profile.ttft_median, profile.ttft_sigma).clamp(0.05, 3.0) * scale)
    });
    let tokens = reasoning.len() + content.len();
    let gaps = (1..tokens)
        .map(|_| secs(rng.random_range(profile.token_gap.0..profile.token_gap.1) * scale))
        .collect();

    Answer {
        id: format!("chatcmpl-demo{:016x}", rng.random::<u64>()),
        created: unix_secs(),
        model: profile.id,
        reasoning_style,
        reasoning,
        content,
        finish_reason,
        prompt_tokens,
        cached_tokens,
        deepseek_usage: profile.owned_by == "deepseek" || faults.reasoning,
        ttft,
        gaps,
    }
}

/// One token per word, sentence-cased, with the leading space a real tokenizer would attach.
fn sentences(rng: &mut StdRng, vocab: &[&str], n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut sentence_left = 0;
    for i in 0..n {
        let start = sentence_left == 0;
        if start {
            sentence_left = rng.random_range(6..=12);
        }
        sentence_left -= 1;
        let word = vocab[rng.random_range(0..vocab.len())];
        let mut piece = String::with_capacity(word.len() + 2);
        if i > 0 {
            piece.push(' ');
        }
        if start {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                piece.extend(first.to_uppercase());
                piece.push_str(chars.as_str());
            }
        } else {
            piece.push_str(word);
        }
        if sentence_left == 0 || i + 1 == n {
            piece.push('.');
            sentence_left = 0;
        }
        out.push(piece);
    }
    out
}

/// Rough OpenAI-style count: ~4/3 tokens per word plus per-message framing.
fn estimate_prompt_tokens(messages: &[Message]) -> u64 {
    let words = |s: &str| s.split_whitespace().count() as u64;
    let per_message = messages.iter().map(|m| {
        let n = match &m.content {
            Some(Content::Text(t)) => words(t),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .map(words)
                .sum(),
            None => 0,
        };
        4 + (n * 4).div_ceil(3)
    });
    3 + per_message.sum::<u64>()
}

fn secs(x: f64) -> Duration {
    Duration::try_from_secs_f64(x).unwrap_or(Duration::ZERO)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One real request in flight. Dropping it unfinished (client gone, shutdown, early return)
/// records an error, so every request that reached a model is counted exactly once.
pub(crate) struct InFlight {
    metrics: Arc<Metrics>,
    /// Read when the request ends: the router treats it as the scenarios are then.
    scenarios: super::ScenarioSwitch,
    model: &'static str,
    started: Instant,
    ttft: Option<f64>,
    done: bool,
}

impl InFlight {
    fn start(metrics: Arc<Metrics>, scenarios: super::ScenarioSwitch, model: &'static str) -> Self {
        metrics.real_request_started();
        InFlight {
            metrics,
            scenarios,
            model,
            started: Instant::now(),
            ttft: None,
            done: false,
        }
    }

    fn first_token(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.started.elapsed().as_secs_f64());
        }
    }

    fn succeed(mut self, prompt_tokens: u64, completion_tokens: u64) {
        self.complete(true, prompt_tokens, completion_tokens);
    }

    fn fail(mut self) {
        self.complete(false, 0, 0);
    }

    fn complete(&mut self, success: bool, prompt_tokens: u64, completion_tokens: u64) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let failover = self.scenarios.get().contains(super::Scenario::Failover);
        self.metrics.real_request_finished(
            &Observation {
                model: self.model,
                success,
                latency: self.started.elapsed().as_secs_f64(),
                ttft: self.ttft,
                prompt_tokens,
                completion_tokens,
            },
            failover,
        );
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.complete(false, 0, 0);
    }
}

fn error_response(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

fn with_retry_after(mut resp: Response, retry_after: Option<f64>) -> Response {
    if let Some(secs) = retry_after {
        let headers = resp.headers_mut();
        // `Retry-After` only takes whole seconds; OpenAI adds the precise value in milliseconds.
        headers.insert(RETRY_AFTER, HeaderValue::from(secs.ceil() as u64));
        headers.insert(
            HeaderName::from_static("retry-after-ms"),
            HeaderValue::from((secs * 1000.0).round() as u64),
        );
    }
    resp
}

fn rate_limited(retry_after: Option<f64>) -> Response {
    let resp = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit reached for requests",
        "rate_limit_error",
        Some("rate_limit_exceeded"),
    );
    with_retry_after(resp, retry_after)
}

fn injected_status(code: u16, retry_after: Option<f64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let resp = match code {
        429 => return rate_limited(retry_after),
        401 => error_response(
            status,
            "Incorrect API key provided: sk-demo****. You can find your API key in your provider's dashboard.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        500 => error_response(
            status,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        c if c >= 500 => error_response(
            status,
            &format!("Injected upstream failure ({code})"),
            "server_error",
            None,
        ),
        _ => error_response(
            status,
            &format!("Injected client error ({code})"),
            "invalid_request_error",
            None,
        ),
    };
    with_retry_after(resp, retry_after)
}

fn insufficient_quota() -> Response {
    error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        Some("insufficient_quota"),
    )
}

fn shutting_down() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "The demo gateway is shutting down.",
        "server_error",
        Some("shutting_down"),
    )
}

fn in_stream_error() -> Value {
    json!({"error": {"message": "upstream provider overloaded", "type": "server_error", "param": null, "code": "overloaded"}})
}

/// `GET /metrics`
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(CONTENT_TYPE, metrics::CONTENT_TYPE)],
        shared
            .metrics
            .render_with(shared.scenarios.get().extensions()),
    )
        .into_response()
}

/// `GET /v1/models`
pub(crate) async fn list_models() -> Response {
    let data: Vec<Value> = CATALOG
        .iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// Anything else: OpenAI's shape for an unknown URL rather than an empty 404.
pub(crate) async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Unknown request URL: {}", uri.path()),
        "invalid_request_error",
        Some("unknown_url"),
    )
}

/// `POST /v1/chat/completions`
pub(crate) async fn completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = if e.is_data() {
                format!("Invalid request body: {e}")
            } else {
                format!("We could not parse the JSON body of your request: {e}")
            };
            return error_response(
                StatusCode::BAD_REQUEST,
                &message,
                "invalid_request_error",
                Some("invalid_json"),
            );
        }
    };
    // Unknown models are rejected before counting: their names are client input and would
    // otherwise become unbounded label values in /metrics.
    let Some(profile) = models::find(&request.model) else {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                request.model
            ),
            "invalid_request_error",
            Some("model_not_found"),
        );
    };
    let faults = match headers.get(FAULT_HEADER).map(|v| v.to_str()) {
        None => FaultPlan::default(),
        Some(Ok(spec)) => match FaultPlan::parse(spec) {
            Ok(plan) => plan,
            Err(msg) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &msg,
                    "invalid_request_error",
                    Some("invalid_fault"),
                );
            }
        },
        Some(Err(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("{FAULT_HEADER} must be ASCII"),
                "invalid_request_error",
                Some("invalid_fault"),
            );
        }
    };
    let mut faults = faults;
    shared.scenarios.get().apply_chat_faults(&mut faults);
    if request.messages.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "[] is too short - 'messages'",
            "invalid_request_error",
            None,
        );
    }
    if request.max_completion_tokens.or(request.max_tokens) == Some(0) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "max_tokens must be at least 1",
            "invalid_request_error",
            Some("integer_below_min_value"),
        );
    }

    let guard = InFlight::start(shared.metrics.clone(), shared.scenarios.clone(), profile.id);

    if let Some(n) = faults.fail_first {
        let key = headers
            .get(FAULT_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if shared.fail_first.hit(key) <= n {
            guard.fail();
            return rate_limited(Some(faults.retry_after.unwrap_or(DEFAULT_RETRY_AFTER)));
        }
    }
    if let Some(code) = faults.status {
        guard.fail();
        return injected_status(code, faults.retry_after);
    }
    if faults.insufficient_quota {
        guard.fail();
        return insufficient_quota();
    }

    if let Some((slots, service)) = &shared.capacity {
        // Waiting for a slot is the queue a capacity search has to find.
        let mut stop = shared.shutdown.subscribe();
        let slot = slots.acquire().await;
        // The semaphore is never closed, so only a shutdown during the service time ends here.
        if slot.is_err() || !pause(*service, &mut stop).await {
            guard.fail();
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting down",
                "server_error",
                None,
            );
        }
    }
    let settings = AnswerSettings {
        latency_scale: shared.latency_scale,
        cache_ratio: shared.metrics.cache_hit_ratio(),
    };
    let answer = plan_answer(
        &mut shared.request_rng(),
        profile,
        &request,
        &faults,
        &settings,
    );
    let stop = shared.shutdown.subscribe();
    if request.stream.unwrap_or(false) {
        let include_usage = request
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let (tx, rx) = mpsc::channel(32);
        let out = Emitter { tx, stop };
        tokio::spawn(stream_answer(out, guard, answer, faults, include_usage));
        sse_response(rx)
    } else {
        respond_plain(stop, guard, answer, faults).await
    }
}

/// Sleeps unless the gateway starts shutting down first; `false` means give up.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if d.is_zero() {
        return !*stop.borrow();
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
}

async fn respond_plain(
    mut stop: watch::Receiver<bool>,
    mut guard: InFlight,
    answer: Answer,
    faults: FaultPlan,
) -> Response {
    if !pause(answer.ttft, &mut stop).await {
        return shutting_down();
    }
    if faults.error_in_stream {
        // Some gateways answer 200 with an error object when the upstream dies mid-generation.
        guard.fail();
        return Json(in_stream_error()).into_response();
    }
    if faults.stall_mid_stream {
        // Headers never come; only the client's timeout (or shutdown) ends the wait.
        let _ = stop.wait_for(|s| *s).await;
        return shutting_down();
    }
    if faults.garbage_sse {
        guard.fail();
        let mut resp = Response::new(Body::from(GARBAGE));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return resp;
    }
    guard.first_token();
    if !pause(answer.gaps.iter().sum(), &mut stop).await {
        return shutting_down();
    }
    let body = answer.body();
    if faults.cut_mid_stream {
        guard.fail();
        // Serialising our own types cannot fail; half a JSON document is the point here.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let half = json.len() / 2;
        let half = Bytes::from(json).slice(..half);
        let mut resp = Response::new(Body::from_stream(futures_util::stream::iter([Ok::<
            _,
            Infallible,
        >(
            half
        )])));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return resp;
    }
    guard.succeed(answer.prompt_tokens, answer.completion_tokens());
    Json(body).into_response()
}

/// Body stream of an SSE response; the producer task ends the response by dropping the sender.
fn sse_response(rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Writes SSE events, noticing a departed client or a shutdown while it waits.
struct Emitter {
    tx: mpsc::Sender<Bytes>,
    stop: watch::Receiver<bool>,
}

impl Emitter {
    async fn send(&mut self, chunk: Bytes) -> bool {
        self.tx.send(chunk).await.is_ok()
    }

    async fn data<T: Serialize>(&mut self, value: &T) -> bool {
        // Serialising our own types cannot fail.
        let json = serde_json::to_string(value).unwrap_or_default();
        self.send(Bytes::from(format!("data: {json}\n\n"))).await
    }

    async fn wait(&mut self, d: Duration) -> bool {
        if d.is_zero() {
            return !self.tx.is_closed() && !*self.stop.borrow();
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.tx.closed() => false,
            _ = self.stop.wait_for(|s| *s) => false,
        }
    }
}

fn chunk<'a>(
    answer: &'a Answer,
    include_usage: bool,
    delta: Value,
    finish_reason: Option<&'static str>,
) -> ChunkBody<'a> {
    ChunkBody {
        id: &answer.id,
        object: "chat.completion.chunk",
        created: answer.created,
        model: answer.model,
        system_fingerprint: FINGERPRINT,
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        }],
        usage: include_usage.then_some(None),
    }
}

/// Streams one answer. Every early return drops `guard`, which counts the request as an error.
async fn stream_answer(
    mut out: Emitter,
    mut guard: InFlight,
    answer: Answer,
    faults: FaultPlan,
    include_usage: bool,
) {
    const KEEPALIVE: &[u8] = b": keep-alive\n\n";
    if faults.keepalive {
        let half = answer.ttft / 2;
        if !out.send(Bytes::from_static(KEEPALIVE)).await
            || !out.wait(half).await
            || !out.send(Bytes::from_static(KEEPALIVE)).await
            || !out.wait(answer.ttft - half).await
        {
            return;
        }
    } else if !out.wait(answer.ttft).await {
        return;
    }

    let style = answer.reasoning_style;
    let role = if style {
        json!({"role": "assistant", "content": null, "reasoning_content": ""})
    } else {
        json!({"role": "assistant", "content": ""})
    };
    if !out.data(&chunk(&answer, include_usage, role, None)).await {
        return;
    }

    let cut_at = faults
        .cut_mid_stream
        .then(|| answer.content.len().min(CUT_AFTER));
    let error_at = faults
        .error_in_stream
        .then(|| answer.content.len().min(ERROR_AFTER));
    let stall_at = faults
        .stall_mid_stream
        .then(|| answer.content.len().min(CUT_AFTER));
    let tokens = answer
        .reasoning
        .iter()
        .map(|t| (true, t))
        .chain(answer.content.iter().map(|t| (false, t)));
    let mut gaps = answer.gaps.iter().copied();
    let mut content_sent = 0;
    for (i, (is_reasoning, piece)) in tokens.enumerate() {
        if i > 0 && !out.wait(gaps.next().unwrap_or_default()).await {
            return;
        }
        let delta = match (is_reasoning, style) {
            (true, _) => json!({"content": null, "reasoning_content": piece}),
            (false, true) => json!({"content": piece, "reasoning_content": null}),
            (false, false) => json!({"content": piece}),
        };
        if faults.garbage_sse && !out.send(Bytes::from_static(GARBAGE)).await {
            return;
        }
        if !out.data(&chunk(&answer, include_usage, delta, None)).await {
            return;
        }
        guard.first_token();
        if !is_reasoning {
            content_sent += 1;
            if stall_at == Some(content_sent) {
                // Connection open, no more events, no end: a hung upstream.
                out.wait(Duration::MAX).await;
                return;
            }
            if error_at == Some(content_sent) {
                out.data(&in_stream_error()).await;
                guard.fail();
                return;
            }
            if cut_at == Some(content_sent) {
                guard.fail();
                return;
            }
        }
    }

    let last = if style {
        json!({"content": "", "reasoning_content": null})
    } else {
        json!({})
    };
    if !out
        .data(&chunk(
            &answer,
            include_usage,
            last,
            Some(answer.finish_reason),
        ))
        .await
    {
        return;
    }
    // Counted before [DONE], so a client that scrapes right after the stream sees it.
    guard.succeed(answer.prompt_tokens, answer.completion_tokens());
    if include_usage {
        let usage = ChunkBody {
            choices: Vec::new(),
            usage: Some(Some(answer.usage())),
            ..chunk(&answer, true, Value::Null, None)
        };
        if !out.data(&usage).await {
            return;
        }
    }
    out.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn request(json: &str) -> ChatRequest {
        serde_json::from_str(json).expect("test request parses")
    }

    fn settings() -> AnswerSettings {
        AnswerSettings {
            latency_scale: 1.0,
            cache_ratio: 0.5,
        }
    }

    #[test]
    fn prompt_tokens_grow_with_the_prompt() {
        let short = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#);
        let parts = request(
            r#"{"model":"gpt-4o","messages":[{"role":"system","content":null},
                {"role":"user","content":[{"type":"text","text":"one two three"},{"type":"image_url"}]}]}"#,
        );
        assert_eq!(estimate_prompt_tokens(&short.messages), 3 + 4 + 2);
        assert_eq!(estimate_prompt_tokens(&parts.messages), 3 + 4 + 4 + 4);
    }

    #[test]
    fn max_tokens_truncates_with_finish_reason_length() {
        let mut rng = StdRng::seed_from_u64(1);
        let profile = models::find("deepseek-reasoner").expect("in catalog");
        let req = request(
            r#"{"model":"deepseek-reasoner","messages":[{"role":"user","content":"x"}],"max_tokens":5}"#,
        );
        let a = plan_answer(&mut rng, profile, &req, &FaultPlan::default(), &settings());
        assert_eq!(a.completion_tokens(), 5);
        assert_eq!(a.reasoning.len(), 2);
        assert_eq!(a.finish_reason, "length");
        assert_eq!(a.gaps.len(), 4);
        let usage = a.usage();
        assert_eq!(
            usage
                .prompt_cache_hit_tokens
                .zip(usage.prompt_cache_miss_tokens),
            Some((a.cached_tokens, a.prompt_tokens - a.cached_tokens))
        );
    }

    #[test]
    fn plain_models_do_not_reason_and_zero_scale_means_no_waiting() {
        let mut rng = StdRng::seed_from_u64(2);
        let profile = models::find("gpt-4o").expect("in catalog");
        let req = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"#);
        let zero = AnswerSettings {
            latency_scale: 0.0,
            cache_ratio: 0.4,
        };
        let a = plan_answer(&mut rng, profile, &req, &FaultPlan::default(), &zero);
        assert!(a.reasoning.is_empty() && !a.reasoning_style);
        assert_eq!(a.finish_reason, "stop");
        assert!((12..=48).contains(&a.content.len()));
        assert!(a.ttft.is_zero() && a.gaps.iter().all(Duration::is_zero));
        assert!(a.usage().prompt_cache_hit_tokens.is_none());
        let text = a.content.concat();
        assert!(text.starts_with(char::is_uppercase) && text.ends_with('.'));
    }
}
