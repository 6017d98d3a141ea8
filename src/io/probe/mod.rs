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

mod error;
mod request;
mod result;

use error::*;
pub(crate) use error::{describe, redacted_url};
pub use request::*;
pub use result::*;

pub use retry::RetryPolicy;
use sse::{ChatStream, SseDecoder};

/// The prompt a probe sends unless told otherwise (`p`, `llmtop probe`, `llmtop bench`).
pub const DEFAULT_PROMPT: &str = "Reply with one short sentence about monitoring.";
/// Requests a burst (`b`) sends, how many at once, and above how many it asks first.
pub const DEFAULT_BURST_SIZE: usize = 20;
pub const DEFAULT_BURST_CONCURRENCY: usize = 4;
pub const DEFAULT_BURST_CONFIRM_ABOVE: usize = 50;

/// What to tell a user whose key was refused. Names the credential sources, never the key.
pub const AUTH_HINT: &str = "set LLMTOP_API_KEY or OPENAI_API_KEY, or pass --api-key-file";

/// Error bodies are only read for their message; a gateway streaming megabytes of HTML
/// into an error must not stall the probe.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed completion is small; this bounds memory against a runaway body.
const MAX_COMPLETION_BODY: usize = 8 * 1024 * 1024;
const MAX_MESSAGE_CHARS: usize = 512;

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

    let content_type = headers.get(CONTENT_TYPE).map_or(&[][..], |v| v.as_bytes());
    let is_sse = contains_ignoring_case(content_type, b"text/event-stream");
    let is_json = contains_ignoring_case(content_type, b"json");
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
    let Ok(chunk) = sse::parse_chat_bytes(&body) else {
        return Err(Failure::new(
            ProbeErrorKind::Decode,
            format!(
                "response is not a chat completion: {}",
                snippet(&String::from_utf8_lossy(&body))
            ),
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

/// ASCII case-insensitive substring test, without lowering a copy of the header per request.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
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

/// Reads at most `limit` bytes of the body; returns them and, if the read broke, why. A body
/// that arrives as one chunk (a small completion, usually) is kept as it came, without a copy.
async fn read_capped(response: &mut impl ReplyBody, limit: usize) -> (Bytes, Option<String>) {
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    let mut broken = None;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                let held = joined.as_ref().map_or(first.len(), Vec::len);
                let room = limit.saturating_sub(held);
                let kept = bytes.slice(..bytes.len().min(room));
                let kept_len = kept.len();
                match &mut joined {
                    Some(body) => body.extend_from_slice(&kept),
                    None if first.is_empty() => first = kept,
                    None => {
                        let mut body = Vec::with_capacity(first.len() + kept.len());
                        body.extend_from_slice(&first);
                        body.extend_from_slice(&kept);
                        joined = Some(body);
                    }
                }
                if held + kept_len >= limit {
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => {
                broken = Some(error);
                break;
            }
        }
    }
    (joined.map_or(first, Bytes::from), broken)
}

#[cfg(test)]
mod body_tests {
    use super::*;

    /// Hands out fixed chunks, then ends or breaks.
    struct Chunks(std::collections::VecDeque<Result<Bytes, String>>);

    impl ReplyBody for Chunks {
        async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
            self.0.pop_front().transpose()
        }
    }

    fn read(
        chunks: &[Result<&'static str, &'static str>],
        limit: usize,
    ) -> (String, Option<String>) {
        let mut body = Chunks(
            chunks
                .iter()
                .map(|c| {
                    c.map(|s| Bytes::from_static(s.as_bytes()))
                        .map_err(str::to_string)
                })
                .collect(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (bytes, broken) = runtime.block_on(read_capped(&mut body, limit));
        (String::from_utf8(bytes.to_vec()).unwrap(), broken)
    }

    #[test]
    fn content_types_match_whatever_their_case() {
        assert!(contains_ignoring_case(
            b"Text/Event-Stream; charset=utf-8",
            b"text/event-stream"
        ));
        assert!(contains_ignoring_case(b"APPLICATION/JSON", b"json"));
        assert!(!contains_ignoring_case(b"text/plain", b"json"));
        assert!(!contains_ignoring_case(b"", b"json"));
        assert!(contains_ignoring_case(b"", b""));
    }

    #[test]
    fn capped_reads_join_chunks_stop_at_the_limit_and_say_why_a_read_broke() {
        assert_eq!(read(&[], 8), (String::new(), None));
        assert_eq!(read(&[Ok("abc")], 8), ("abc".into(), None));
        assert_eq!(
            read(&[Ok("abc"), Ok("de"), Ok("f")], 8),
            ("abcdef".into(), None)
        );
        assert_eq!(read(&[Ok("abcdefghij")], 4), ("abcd".into(), None));
        // The chunk after the limit is never asked for.
        assert_eq!(
            read(&[Ok("abc"), Ok("defgh"), Err("unread")], 5),
            ("abcde".into(), None)
        );
        assert_eq!(
            read(&[Ok("ab"), Err("connection reset")], 8),
            ("ab".into(), Some("connection reset".into()))
        );
        assert_eq!(read(&[Ok(""), Ok("xy")], 8), ("xy".into(), None));
    }

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
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/error_429_body.json"
            )),
            true,
        );
        assert_eq!(f.kind, ProbeErrorKind::RateLimited);
        assert_eq!(f.message, "HTTP 429: Rate limit reached for requests");
        assert!(matches!(f.retry, Retry::After(None)));

        let f = status_failure(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/error_429_insufficient_quota.json"
            )),
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
