//! Server-sent-events decoding for streamed chat completions.
//!
//! Two layers: [`SseDecoder`] turns arbitrary byte chunks into SSE events, and
//! [`ChatStream`] interprets those events as OpenAI-style `chat.completion.chunk`s
//! (DeepSeek and LiteLLM variants included). Neither knows about time or the network,
//! so both are tested byte by byte without a server.
use serde_json::Value;

use super::{ProbeEvent, Usage};

/// How much answer or reasoning text is kept; a probe needs the gist, not a novel.
pub const MAX_STORED_TEXT: usize = 64 * 1024;

/// Longest line the decoder buffers. A gateway that never sends a newline must not
/// be able to make the probe eat memory.
pub const MAX_LINE: usize = 1024 * 1024;

/// One decoded server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEvent {
    /// A dispatched event: its `data:` lines joined by `\n`, and its `event:` name if any.
    Message { event: Option<String>, data: String },
    /// A `:` comment line, which gateways use as keep-alive.
    Comment(String),
}

/// Incremental SSE decoder: feed it whatever the socket delivers, in any split.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line not yet terminated. Kept as bytes because a read can end inside
    /// a multi-byte UTF-8 character.
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// The previous chunk ended in `\r`; a `\n` opening the next one completes that
    /// line break rather than starting an empty line (which would dispatch an event).
    after_cr: bool,
    /// The current line outgrew [`MAX_LINE`] and is being dropped up to its end.
    discarding: bool,
    seen_first_line: bool,
    /// Lines dropped because they exceeded [`MAX_LINE`].
    pub oversized_lines: u32,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `chunk`, appending every event it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_partial(&rest[..i]);
            self.end_line(out);
            if rest[i] == b'\r' {
                match rest.get(i + 1) {
                    Some(b'\n') => rest = &rest[i + 2..],
                    Some(_) => rest = &rest[i + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[i + 1..];
            }
        }
        self.push_partial(rest);
    }

    /// Flushes what is left when the body ends. Lenient on purpose: a gateway that omits
    /// the final blank line still gets its last event read.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() || self.discarding {
            self.end_line(out);
        }
        self.dispatch(out);
        self.after_cr = false;
    }

    fn push_partial(&mut self, bytes: &[u8]) {
        if self.discarding {
            return;
        }
        if self.line.len() + bytes.len() > MAX_LINE {
            self.discarding = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if std::mem::take(&mut self.discarding) {
            self.oversized_lines += 1;
            return;
        }
        let bytes = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&bytes);
        let mut line: &str = &text;
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        self.process_line(line, out);
        // Reuse the allocation for the next line.
        self.line = bytes;
        self.line.clear();
    }

    fn process_line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            out.push(SseEvent::Comment(
                comment.strip_prefix(' ').unwrap_or(comment).to_string(),
            ));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` only matter for EventSource reconnection, which a
            // one-shot probe never does; unknown fields are ignored per the spec.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if std::mem::take(&mut self.has_data) {
            out.push(SseEvent::Message {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
    }
}

/// What one chat chunk (or a whole non-streamed completion) carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatChunk {
    /// Non-empty text deltas in arrival order.
    pub deltas: Vec<ProbeEvent>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// `usage.cost` (LiteLLM), USD.
    pub cost: Option<f64>,
    /// The gateway's message when the object is an error rather than a chunk.
    pub error: Option<String>,
}

/// A `data:` payload that is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedChunk;

/// Interprets one chat-completion JSON object: a streamed `chat.completion.chunk`
/// (`choices[].delta`) or a whole `chat.completion` (`choices[].message`).
pub fn parse_chat_chunk(data: &str) -> Result<ChatChunk, MalformedChunk> {
    match typed_chat_chunk(data) {
        Some(chunk) => Ok(chunk),
        None => general_chat_chunk(data),
    }
}

/// [`parse_chat_chunk`] for a body as it arrived: the usual completion is read from the bytes
/// (serde_json checks the UTF-8 of the strings it reads), so only an unusual one pays for a
/// lossy copy of the whole body first.
pub fn parse_chat_bytes(body: &[u8]) -> Result<ChatChunk, MalformedChunk> {
    if let Some(chunk) = typed_chat_chunk_from(body) {
        return Ok(chunk);
    }
    match std::str::from_utf8(body) {
        // The typed reading already failed on these very bytes.
        Ok(text) => general_chat_chunk(text),
        // Invalid UTF-8 may be all that stopped it: the lossy text gets both readings.
        Err(_) => parse_chat_chunk(&String::from_utf8_lossy(body)),
    }
}

/// The reading of any JSON object through a `Value` tree: error objects and unusual shapes.
fn general_chat_chunk(data: &str) -> Result<ChatChunk, MalformedChunk> {
    let value: Value = serde_json::from_str(data).map_err(|_| MalformedChunk)?;
    if !value.is_object() {
        return Err(MalformedChunk);
    }
    Ok(interpret_chat_value(&value))
}

/// The usual chunk or completion read straight into typed fields, without a `Value` tree (a
/// third of the CPU a load test spends per small answer). `None` for anything it does not type
/// exactly (error objects, numbers sent as strings, no `choices`, ...), which
/// [`interpret_chat_value`] then reads; where both read a payload they agree.
fn typed_chat_chunk(data: &str) -> Option<ChatChunk> {
    typed_chat_chunk_from(data.as_bytes())
}

fn typed_chat_chunk_from(data: &[u8]) -> Option<ChatChunk> {
    // Derived structs also accept JSON arrays; only objects are chunks.
    if data.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let typed: TypedChunk<'_> = serde_json::from_slice(data).ok()?;
    if typed.error.0 || typed.object == Some("error") {
        return None;
    }
    let mut chunk = ChatChunk::default();
    for choice in typed.choices? {
        if choice.index.unwrap_or(0) != 0 {
            continue;
        }
        // As in `interpret_chat_value`: `delta` if present (even null), else `message`.
        let slot = match choice.delta {
            Slot::Absent => choice.message,
            delta => delta,
        };
        match slot {
            Slot::Absent => continue,
            Slot::Null => {}
            Slot::Message(message) => {
                let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
                let reasoning =
                    non_empty(message.reasoning_content).or_else(|| non_empty(message.reasoning));
                if let Some(text) = reasoning {
                    chunk.deltas.push(ProbeEvent::Reasoning(text));
                }
                if let Some(text) = non_empty(message.content) {
                    chunk.deltas.push(ProbeEvent::Content(text));
                }
            }
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            chunk.finish_reason = Some(reason);
        }
    }
    if let Some(usage) = typed.usage {
        let (hit, miss) = (
            usage.prompt_cache_hit_tokens,
            usage.prompt_cache_miss_tokens,
        );
        let cached_openai = usage.prompt_tokens_details.and_then(|d| d.cached_tokens);
        chunk.usage = Some(Usage {
            input: usage
                .prompt_tokens
                .or_else(|| Some(hit?.saturating_add(miss?)))
                .unwrap_or(0),
            cached_input: cached_openai.unwrap_or(0).max(hit.unwrap_or(0)),
            output: usage.completion_tokens.unwrap_or(0),
            reasoning: usage
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        });
        chunk.cost = usage.cost.filter(|c| c.is_finite());
    }
    Some(chunk)
}

#[derive(serde::Deserialize)]
struct TypedChunk<'a> {
    #[serde(default)]
    error: Present,
    #[serde(default, borrow)]
    object: Option<&'a str>,
    choices: Option<Vec<TypedChoice>>,
    #[serde(default)]
    usage: Option<TypedUsage>,
}

#[derive(serde::Deserialize)]
struct TypedChoice {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    delta: Slot,
    #[serde(default)]
    message: Slot,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(serde::Deserialize)]
struct TypedMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(serde::Deserialize)]
struct TypedUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
    #[serde(default)]
    prompt_cache_miss_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<TypedCached>,
    #[serde(default)]
    completion_tokens_details: Option<TypedReasoning>,
    #[serde(default)]
    cost: Option<f64>,
}

#[derive(serde::Deserialize)]
struct TypedCached {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(serde::Deserialize)]
struct TypedReasoning {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

/// Whether a key was there at all, whatever its value (null included).
#[derive(Default)]
struct Present(bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Present(true))
    }
}

/// `delta`/`message`: absent, null and an object are three different things to the reading.
#[derive(Default)]
enum Slot {
    #[default]
    Absent,
    Null,
    Message(TypedMessage),
}

impl<'de> serde::Deserialize<'de> for Slot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<TypedMessage>::deserialize(deserializer)?.map_or(Slot::Null, Slot::Message))
    }
}

fn interpret_chat_value(value: &Value) -> ChatChunk {
    let mut chunk = ChatChunk {
        error: error_message(value),
        ..ChatChunk::default()
    };
    if chunk.error.is_some() {
        return chunk;
    }
    for choice in value
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // The probe asks for one choice; should a gateway send more, mixing their text
        // would produce nonsense, so only the first is kept.
        if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
            continue;
        }
        let Some(delta) = choice.get("delta").or_else(|| choice.get("message")) else {
            continue;
        };
        // DeepSeek says `reasoning_content`; vLLM and OpenRouter say `reasoning`.
        let reasoning = non_empty_str(delta.get("reasoning_content"))
            .or_else(|| non_empty_str(delta.get("reasoning")));
        if let Some(text) = reasoning {
            chunk.deltas.push(ProbeEvent::Reasoning(text.to_string()));
        }
        if let Some(text) = non_empty_str(delta.get("content")) {
            chunk.deltas.push(ProbeEvent::Content(text.to_string()));
        }
        if let Some(reason) = non_empty_str(choice.get("finish_reason")) {
            chunk.finish_reason = Some(reason.to_string());
        }
    }
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        chunk.usage = Some(parse_usage(usage));
        chunk.cost = usage.get("cost").and_then(number).filter(|c| c.is_finite());
    }
    chunk
}

fn non_empty_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Accepts numbers and numeric strings: gateways are not consistent about either.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn count(value: Option<&Value>) -> Option<u64> {
    let v = value?;
    v.as_u64().or_else(|| {
        number(v)
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Normalises the OpenAI and DeepSeek usage shapes.
pub fn parse_usage(usage: &Value) -> Usage {
    let hit = count(usage.get("prompt_cache_hit_tokens"));
    let miss = count(usage.get("prompt_cache_miss_tokens"));
    let cached_openai = count(
        usage
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")),
    );
    let input = count(usage.get("prompt_tokens"))
        .or_else(|| Some(hit?.saturating_add(miss?)))
        .unwrap_or(0);
    Usage {
        input,
        // DeepSeek sends both shapes, sometimes with `cached_tokens` stuck at 0; the
        // larger one is the one that was actually filled in.
        cached_input: cached_openai.unwrap_or(0).max(hit.unwrap_or(0)),
        output: count(usage.get("completion_tokens")).unwrap_or(0),
        reasoning: count(
            usage
                .get("completion_tokens_details")
                .and_then(|d| d.get("reasoning_tokens")),
        )
        .unwrap_or(0),
    }
}

/// The human message of an error object, in the shapes gateways use:
/// `{"error":{"message"}}`, `{"error":"..."}`, vLLM's `{"object":"error","message"}`,
/// FastAPI's `{"detail":"..."}`.
pub fn error_message(value: &Value) -> Option<String> {
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = match error {
            Value::String(s) => s.clone(),
            Value::Object(_) => match error.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => error.to_string(),
            },
            other => other.to_string(),
        };
        return Some(message);
    }
    if value.get("object").and_then(Value::as_str) == Some("error") {
        return Some(
            value
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_string),
        );
    }
    if value.get("choices").is_none()
        && let Some(detail) = value.get("detail").and_then(Value::as_str)
    {
        return Some(detail.to_string());
    }
    None
}

/// The `type` and `code` of an `{"error":{...}}` object, for deciding whether to retry.
pub fn error_type_and_code(value: &Value) -> (Option<String>, Option<String>) {
    let Some(error) = value.get("error") else {
        return (None, None);
    };
    let field = |name: &str| match error.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    (field("type"), field("code"))
}

/// Why a stream did not end properly.
pub const STREAM_ENDED_EARLY: &str = "stream ended before finish_reason";

/// Accumulated state of one streamed chat completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatStream {
    pub answer: String,
    pub reasoning: String,
    /// Stored text hit [`MAX_STORED_TEXT`]; the deltas were still reported.
    pub text_truncated: bool,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub cost: Option<f64>,
    /// An error object the gateway sent inside the stream.
    pub error: Option<String>,
    /// `data: [DONE]` arrived.
    pub done: bool,
    /// `data:` payloads that were neither JSON objects nor `[DONE]`; skipped.
    pub malformed: u32,
    /// `:` comment lines (keep-alives).
    pub comments: u32,
    /// Data events interpreted, `[DONE]` excluded.
    pub chunks: u32,
}

impl ChatStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one SSE event; returns the non-empty text deltas it carried.
    /// Events after `[DONE]` or an error are ignored: the answer is already settled.
    pub fn apply(&mut self, event: SseEvent) -> Vec<ProbeEvent> {
        if self.is_settled() {
            return Vec::new();
        }
        let (name, data) = match event {
            SseEvent::Comment(_) => {
                self.comments += 1;
                return Vec::new();
            }
            SseEvent::Message { event, data } => (event, data),
        };
        if data.trim() == "[DONE]" {
            self.done = true;
            return Vec::new();
        }
        self.chunks += 1;
        let is_error_event = name.as_deref() == Some("error");
        match parse_chat_chunk(&data) {
            Ok(mut chunk) => {
                if is_error_event && chunk.error.is_none() {
                    chunk.error = Some(truncate_chars(data.trim(), 512).to_string());
                }
                self.apply_chunk(chunk)
            }
            Err(MalformedChunk) if is_error_event => {
                self.error = Some(truncate_chars(data.trim(), 512).to_string());
                Vec::new()
            }
            Err(MalformedChunk) => {
                self.malformed += 1;
                Vec::new()
            }
        }
    }

    /// Folds an already-parsed chunk (or non-streamed completion) into the state.
    pub fn apply_chunk(&mut self, chunk: ChatChunk) -> Vec<ProbeEvent> {
        if let Some(message) = chunk.error {
            self.error = Some(message);
            return Vec::new();
        }
        for delta in &chunk.deltas {
            match delta {
                ProbeEvent::Content(text) => {
                    push_capped(&mut self.answer, text, &mut self.text_truncated)
                }
                ProbeEvent::Reasoning(text) => {
                    push_capped(&mut self.reasoning, text, &mut self.text_truncated)
                }
            }
        }
        if chunk.finish_reason.is_some() {
            self.finish_reason = chunk.finish_reason;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        if chunk.cost.is_some() {
            self.cost = chunk.cost;
        }
        chunk.deltas
    }

    /// Nothing more will change the outcome: `[DONE]` or an error arrived.
    pub fn is_settled(&self) -> bool {
        self.done || self.error.is_some()
    }

    /// Verdict once the body has ended: `Err` with the reason if the request failed.
    pub fn outcome(&self) -> Result<(), String> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.done || self.finish_reason.is_some() {
            Ok(())
        } else {
            Err(STREAM_ENDED_EARLY.to_string())
        }
    }
}

fn push_capped(dst: &mut String, text: &str, truncated: &mut bool) {
    let room = MAX_STORED_TEXT.saturating_sub(dst.len());
    if text.len() <= room {
        dst.push_str(text);
    } else {
        dst.push_str(truncate_bytes(text, room));
        *truncated = true;
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The first `max` chars of `s`.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITELLM: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse/litellm_stream_usage.txt"
    ));
    const DEEPSEEK: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse/deepseek_reasoner_keepalive.txt"
    ));
    const TRUNCATED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse/truncated_crlf_no_done.txt"
    ));
    const ERROR_IN_200: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse/error_inside_200_stream.txt"
    ));
    const FIXTURES: [&str; 4] = [LITELLM, DEEPSEEK, TRUNCATED, ERROR_IN_200];

    fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    fn interpret(events: Vec<SseEvent>) -> (ChatStream, Vec<ProbeEvent>) {
        let mut stream = ChatStream::new();
        let mut deltas = Vec::new();
        for event in events {
            deltas.extend(stream.apply(event));
        }
        (stream, deltas)
    }

    fn run(text: &str) -> (ChatStream, Vec<ProbeEvent>) {
        interpret(decode_chunks([text.as_bytes()]))
    }

    #[test]
    fn every_two_way_split_of_every_fixture_decodes_the_same() {
        for fixture in FIXTURES {
            let bytes = fixture.as_bytes();
            let whole = decode_chunks([bytes]);
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                assert_eq!(decode_chunks([a, b]), whole, "split at byte {i}");
            }
        }
    }

    #[test]
    fn byte_at_a_time_and_uneven_splits_decode_the_same() {
        for fixture in FIXTURES {
            let bytes = fixture.as_bytes();
            let whole = run(fixture);
            assert_eq!(interpret(decode_chunks(bytes.chunks(1))), whole);
            for size in [2, 3, 5, 7, 13, 64] {
                assert_eq!(interpret(decode_chunks(bytes.chunks(size))), whole);
            }
            // Irregular splits from a fixed LCG, so a failure is reproducible.
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut rest = bytes;
            let mut chunks = Vec::new();
            while !rest.is_empty() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let n = ((seed >> 33) as usize % 40 + 1).min(rest.len());
                let (head, tail) = rest.split_at(n);
                chunks.push(head);
                rest = tail;
            }
            assert_eq!(interpret(decode_chunks(chunks)), whole);
        }
    }

    #[test]
    fn a_multibyte_character_split_across_reads_survives() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"héllo → 世界\"}}]}\n\n";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            let (stream, _) = interpret(decode_chunks([a, b]));
            assert_eq!(stream.answer, "héllo → 世界", "split at byte {i}");
        }
    }

    #[test]
    fn litellm_fixture_yields_text_usage_and_cost() {
        let (stream, deltas) = run(LITELLM);
        assert_eq!(stream.answer, "Hello from a mocked gpt-4o");
        assert_eq!(stream.reasoning, "");
        assert_eq!(deltas.len(), 9);
        assert_eq!(stream.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            stream.usage,
            Some(Usage {
                input: 8,
                cached_input: 0,
                output: 9,
                reasoning: 0
            })
        );
        assert_eq!(stream.cost, Some(0.00011));
        assert!(stream.done);
        assert_eq!(stream.malformed, 0);
        assert_eq!(stream.outcome(), Ok(()));
    }

    #[test]
    fn deepseek_fixture_separates_reasoning_and_skips_keepalives() {
        let (stream, deltas) = run(DEEPSEEK);
        assert_eq!(stream.comments, 2);
        assert_eq!(stream.reasoning, "12345 plus 67890 is 80235.");
        assert_eq!(stream.answer, "80235");
        // The empty first delta and the empty final `content` are not tokens.
        assert_eq!(
            deltas,
            vec![
                ProbeEvent::Reasoning("12345 plus 67890".into()),
                ProbeEvent::Reasoning(" is 80235.".into()),
                ProbeEvent::Content("80235".into()),
            ]
        );
        assert_eq!(
            stream.usage,
            Some(Usage {
                input: 18,
                cached_input: 0,
                output: 11,
                reasoning: 6
            })
        );
        assert_eq!(stream.cost, None);
        assert_eq!(stream.outcome(), Ok(()));
    }

    #[test]
    fn truncated_crlf_stream_fails_with_the_reason() {
        let (stream, _) = run(TRUNCATED);
        assert_eq!(stream.answer, "Hello");
        assert!(!stream.done);
        assert_eq!(stream.outcome(), Err(STREAM_ENDED_EARLY.to_string()));
    }

    #[test]
    fn error_object_inside_a_200_stream_fails_with_its_message() {
        let (stream, _) = run(ERROR_IN_200);
        assert_eq!(stream.answer, "Par");
        assert_eq!(
            stream.outcome(),
            Err("upstream provider overloaded".to_string())
        );
    }

    #[test]
    fn comments_are_not_data_and_lines_end_three_ways() {
        let events = decode_chunks([b": ping\r\ndata: a\rdata: b\n\r\n:\n\ndata:c\n\n".as_slice()]);
        assert_eq!(
            events,
            vec![
                SseEvent::Comment("ping".into()),
                SseEvent::Message {
                    event: None,
                    data: "a\nb".into()
                },
                SseEvent::Comment(String::new()),
                SseEvent::Message {
                    event: None,
                    data: "c".into()
                },
            ]
        );
    }

    #[test]
    fn multi_line_data_and_event_names() {
        let events =
            decode_chunks([b"event: error\ndata: {\"a\":\ndata: 1}\nid: 7\n\n".as_slice()]);
        assert_eq!(
            events,
            vec![SseEvent::Message {
                event: Some("error".into()),
                data: "{\"a\":\n1}".into()
            }]
        );
        let (stream, _) = interpret(events);
        assert_eq!(stream.outcome(), Err("{\"a\":\n1}".to_string()));
    }

    #[test]
    fn bom_and_missing_final_blank_line_are_tolerated() {
        let (stream, _) = run(
            "\u{feff}data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}",
        );
        assert_eq!(stream.answer, "x");
        assert_eq!(stream.outcome(), Ok(()));
    }

    #[test]
    fn malformed_json_is_counted_and_skipped() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
                    data: {not json\n\n\
                    data: 42\n\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\n";
        let (stream, _) = run(text);
        assert_eq!(stream.answer, "ab");
        assert_eq!(stream.malformed, 2);
        assert_eq!(stream.outcome(), Ok(()));
    }

    #[test]
    fn done_without_finish_reason_is_complete_and_later_events_are_ignored() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n";
        let (stream, _) = run(text);
        assert_eq!(stream.answer, "a");
        assert_eq!(stream.outcome(), Ok(()));
    }

    #[test]
    fn openai_usage_shape_with_cache_and_reasoning() {
        let usage: Value = serde_json::from_str(
            r#"{"prompt_tokens":120,"completion_tokens":40,"prompt_tokens_details":{"cached_tokens":96},
                "completion_tokens_details":{"reasoning_tokens":25}}"#,
        )
        .unwrap();
        assert_eq!(
            parse_usage(&usage),
            Usage {
                input: 120,
                cached_input: 96,
                output: 40,
                reasoning: 25
            }
        );
    }

    #[test]
    fn deepseek_usage_shape_with_cache_hits() {
        let usage: Value = serde_json::from_str(
            r#"{"prompt_tokens":100,"completion_tokens":5,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}"#,
        )
        .unwrap();
        assert_eq!(parse_usage(&usage).cached_input, 64);
        let only_split: Value =
            serde_json::from_str(r#"{"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}"#)
                .unwrap();
        assert_eq!(parse_usage(&only_split).input, 100);
    }

    #[test]
    fn non_streamed_completion_uses_message() {
        let chunk = parse_chat_chunk(
            r#"{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi",
                "reasoning_content":"think"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(
            chunk.deltas,
            vec![
                ProbeEvent::Reasoning("think".into()),
                ProbeEvent::Content("hi".into())
            ]
        );
        assert_eq!(chunk.finish_reason.as_deref(), Some("length"));
        assert_eq!(chunk.usage.map(|u| u.output), Some(2));
    }

    #[test]
    fn error_shapes() {
        let msg = |s: &str| error_message(&serde_json::from_str::<Value>(s).unwrap());
        assert_eq!(
            msg(r#"{"error":{"message":"boom"}}"#).as_deref(),
            Some("boom")
        );
        assert_eq!(msg(r#"{"error":"plain"}"#).as_deref(), Some("plain"));
        assert_eq!(
            msg(r#"{"object":"error","message":"vllm"}"#).as_deref(),
            Some("vllm")
        );
        assert_eq!(
            msg(r#"{"detail":"Not Found"}"#).as_deref(),
            Some("Not Found")
        );
        assert_eq!(msg(r#"{"error":null,"choices":[]}"#), None);
        let quota: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sse/error_429_insufficient_quota.json"
        )))
        .unwrap();
        assert_eq!(
            error_type_and_code(&quota),
            (
                Some("insufficient_quota".into()),
                Some("insufficient_quota".into())
            )
        );
    }

    #[test]
    fn stored_text_is_capped_on_a_char_boundary() {
        let mut stream = ChatStream::new();
        let big = "é".repeat(MAX_STORED_TEXT);
        let deltas = stream.apply_chunk(ChatChunk {
            deltas: vec![ProbeEvent::Content(big.clone())],
            ..ChatChunk::default()
        });
        assert_eq!(deltas, vec![ProbeEvent::Content(big)]);
        assert!(stream.answer.len() <= MAX_STORED_TEXT);
        assert!(stream.text_truncated);
    }

    #[test]
    fn an_endless_line_is_dropped_not_buffered() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        let junk = vec![b'x'; 64 * 1024];
        decoder.feed(b"data: ", &mut out);
        for _ in 0..(MAX_LINE / junk.len() + 2) {
            decoder.feed(&junk, &mut out);
        }
        assert!(decoder.line.len() <= MAX_LINE);
        decoder.feed(b"\n\ndata: ok\n\n", &mut out);
        assert_eq!(decoder.oversized_lines, 1);
        assert_eq!(
            out,
            vec![SseEvent::Message {
                event: None,
                data: "ok".into()
            }]
        );
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    /// Where the typed reading answers, it must say what the `Value` reading says.
    fn agrees(data: &str) -> bool {
        let generic = serde_json::from_str::<Value>(data)
            .ok()
            .filter(Value::is_object)
            .map(|v| interpret_chat_value(&v));
        match typed_chat_chunk(data) {
            Some(typed) => {
                assert_eq!(Some(typed), generic, "{data}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn typed_reading_takes_the_usual_shapes_and_agrees() {
        let usual = [
            r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":7,"total_tokens":23}}"#,
            r#"{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"think","content":""}}]}"#,
            r#"{"choices":[{"delta":{"reasoning":"vllm","content":null}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2},"cost":0.0012}}"#,
            r#"{"choices":[],"usage":{"prompt_cache_hit_tokens":6,"prompt_cache_miss_tokens":3,"completion_tokens":1}}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"other"}},{"index":0,"delta":{"content":"mine"}}]}"#,
            r#"{"choices":[{"index":0,"delta":null,"message":{"content":"ignored"},"finish_reason":"length"}]}"#,
            r#"{"choices":[{"index":0,"finish_reason":"stop"}],"usage":null}"#,
            r#"{"choices":[{"index":0,"message":{"content":"tab\t\"quoted\" é"}}],"object":null}"#,
        ];
        for data in usual {
            assert!(agrees(data), "typed reading gave up on {data}");
        }
        // Left to the general reading, which knows these shapes.
        let unusual = [
            r#"{"error":{"message":"boom","type":"server_error"}}"#,
            r#"{"error":null,"choices":[]}"#,
            r#"{"object":"error","message":"bad"}"#,
            r#"{"detail":"Not Found"}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":"12","completion_tokens":3}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12.0}}"#,
            r#"{"choices":[{"index":0,"delta":"text"}]}"#,
            r#"{"choices":{"index":0}}"#,
            r#"{"choices":[],"usage":{"cost":"0.5"}}"#,
            r#"[{"choices":[]}]"#,
            "not json",
        ];
        for data in unusual {
            assert!(!agrees(data), "typed reading should leave {data} alone");
        }
    }

    #[test]
    fn a_body_read_as_bytes_reads_as_its_lossy_text_does() {
        let bodies: [&[u8]; 7] = [
            br#"{"choices":[{"index":0,"message":{"content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
            b"{\"choices\":[{\"index\":0,\"message\":{\"content\":\"bad \xff byte\"},\"finish_reason\":\"stop\"}]}",
            b" \n\t{\"choices\":[{\"message\":{\"content\":\"spaced\"}}]}",
            br#"{"error":{"message":"boom"}}"#,
            br#"{"object":"err\u006fr","message":"escaped"}"#,
            br#"[{"choices":[]}]"#,
            b"\xef\xbb\xbf{\"choices\":[]}",
        ];
        for body in bodies {
            let text = String::from_utf8_lossy(body);
            assert_eq!(parse_chat_bytes(body), parse_chat_chunk(&text), "{text}");
        }
        let replaced = parse_chat_bytes(bodies[1]).unwrap();
        assert_eq!(
            replaced.deltas,
            vec![ProbeEvent::Content("bad \u{fffd} byte".into())]
        );
    }

    #[test]
    fn edge_shapes_read_the_same_whichever_reading_takes_them() {
        for data in [
            r#"{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"con\u0074ent":"esc"}}]}"#,
            r#"{"choices":[{"index":0,"message":null,"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":null,"delta":{"content":"x"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":null,"prompt_tokens_details":null}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":18446744073709551615}}"#,
            r#"{"choices":[],"usage":{"prompt_cache_hit_tokens":18446744073709551615,"prompt_cache_miss_tokens":2}}"#,
            r#"{"choices":[],"usage":{"cost":1e308,"completion_tokens":1}}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":""}],"error":false}"#,
            r#"{"object":"err\u006fr","message":"escaped"}"#,
            r#"  {"choices":[{"delta":{"reasoning_content":"","reasoning":"r"}}]}"#,
        ] {
            // Agreement is asserted inside when the typed reading answers at all.
            let _ = agrees(data);
            let chunk = parse_chat_chunk(data);
            assert!(chunk.is_ok(), "{data}");
        }
    }

    #[test]
    fn both_readings_give_the_same_chunk_for_the_recorded_streams() {
        let mut typed = 0;
        for text in [
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/deepseek_reasoner_keepalive.txt"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/litellm_stream_usage.txt"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/error_inside_200_stream.txt"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/truncated_crlf_no_done.txt"
            )),
        ] {
            for line in text.lines() {
                if let Some(data) = line.strip_prefix("data:").map(str::trim)
                    && agrees(data)
                {
                    typed += 1;
                }
            }
        }
        assert!(typed >= 10, "{typed}");
    }
}
