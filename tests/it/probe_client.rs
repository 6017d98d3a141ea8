//! The probe client against a scripted mock gateway on 127.0.0.1: fixtures byte-for-byte, in slow pieces, and failing.
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmtop::base::secret::Secret;
use llmtop::io::probe::{
    ProbeErrorKind, ProbeEvent, ProbeRequest, ProbeResult, RetryPolicy, Usage, run_probe,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LITELLM: &[u8] = include_bytes!("../fixtures/sse/litellm_stream_usage.txt");
const DEEPSEEK: &[u8] = include_bytes!("../fixtures/sse/deepseek_reasoner_keepalive.txt");
const TRUNCATED: &[u8] = include_bytes!("../fixtures/sse/truncated_crlf_no_done.txt");
const ERROR_IN_200: &[u8] = include_bytes!("../fixtures/sse/error_inside_200_stream.txt");
const RATE_LIMITED: &[u8] = include_bytes!("../fixtures/sse/error_429_body.json");
const NO_QUOTA: &[u8] = include_bytes!("../fixtures/sse/error_429_insufficient_quota.json");
const UNKNOWN_MODEL: &str = include_str!("../fixtures/sse/litellm_error_unknown_model.txt");

const CANARY: &str = "sk-canary-DO-NOT-LEAK-123";
/// No test may hang CI, whatever the client does.
const TEST_BUDGET: Duration = Duration::from_secs(20);

#[derive(Clone)]
enum Part {
    Bytes(Vec<u8>),
    Pause(Duration),
}

/// One scripted HTTP response; each connection gets the next one.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    head_delay: Duration,
    parts: Vec<Part>,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: &[u8]) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            head_delay: Duration::ZERO,
            parts: vec![Part::Bytes(body.to_vec())],
        }
    }

    fn sse(body: &[u8]) -> Self {
        Self::new(200, "text/event-stream", body)
    }

    fn json(status: u16, body: &[u8]) -> Self {
        Self::new(status, "application/json", body)
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn parts(mut self, parts: Vec<Part>) -> Self {
        self.parts = parts;
        self
    }
}

/// `bytes` cut into `size`-byte writes with `pause` after each.
fn pieces(bytes: &[u8], size: usize, pause: Duration) -> Vec<Part> {
    bytes
        .chunks(size)
        .flat_map(|c| [Part::Bytes(c.to_vec()), Part::Pause(pause)])
        .collect()
}

#[derive(Debug, Clone)]
struct Recorded {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

struct Mock {
    base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Mock {
    fn url(&self, suffix: &str) -> url::Url {
        url::Url::parse(&format!("{}{suffix}", self.base)).unwrap()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(replies: Vec<Reply>) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    tokio::spawn(async move {
        let mut replies = replies.into_iter();
        while let Ok((socket, _)) = listener.accept().await {
            let reply = replies.next().unwrap_or_else(|| {
                Reply::json(500, br#"{"error":{"message":"mock has no more replies"}}"#)
            });
            tokio::spawn(answer(socket, reply, log.clone()));
        }
    });
    Mock { base, requests }
}

async fn answer(mut socket: TcpStream, reply: Reply, log: Arc<Mutex<Vec<Recorded>>>) {
    let _ = socket.set_nodelay(true);
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match socket.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    log.lock().unwrap().push(Recorded {
        request_line,
        headers,
        body: buf[head_end..head_end + length].to_vec(),
    });

    tokio::time::sleep(reply.head_delay).await;
    // No Content-Length: the body runs until close, so every write reaches the client as sent.
    let mut head = format!("HTTP/1.1 {} Mock\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for part in reply.parts {
        match part {
            Part::Bytes(bytes) => {
                if socket.write_all(&bytes).await.is_err() || socket.flush().await.is_err() {
                    return;
                }
            }
            Part::Pause(pause) => tokio::time::sleep(pause).await,
        }
    }
    let _ = socket.shutdown().await;
}

fn client() -> reqwest::Client {
    // A proxy from the environment must not intercept 127.0.0.1.
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

/// Runs the probe, collecting the streamed events, within [`TEST_BUDGET`].
async fn probe(request: &ProbeRequest) -> (ProbeResult, Vec<ProbeEvent>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = tokio::time::timeout(TEST_BUDGET, run_probe(&client(), request, Some(tx)))
        .await
        .expect("probe finished within the test budget");
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (result, events)
}

fn text_of(events: &[ProbeEvent], want_content: bool) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ProbeEvent::Content(t) if want_content => Some(t.as_str()),
            ProbeEvent::Reasoning(t) if !want_content => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn litellm_stream_byte_for_byte_measures_text_usage_and_cost() {
    let mock = serve(vec![Reply::sse(LITELLM)]).await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "Say hello").with_max_tokens(Some(32));
    let (result, events) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.status, Some(200));
    assert_eq!(result.model, "gpt-4o");
    assert_eq!(result.answer, "Hello from a mocked gpt-4o");
    assert_eq!(result.reasoning, "");
    assert_eq!(result.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        result.usage,
        Some(Usage {
            input: 8,
            cached_input: 0,
            output: 9,
            reasoning: 0
        })
    );
    assert_eq!(result.gateway_cost_usd, Some(0.00011));
    assert_eq!(result.error, None);
    assert_eq!(result.retries, 0);
    assert_eq!(events.len(), 9);
    assert_eq!(text_of(&events, true), result.answer);
    assert_eq!(result.token_events, 9);
    assert_eq!(result.inter_token_gaps.len(), 8);
    let ttft = result.ttft.expect("ttft");
    assert_eq!(result.time_to_first_answer, Some(ttft));
    assert!(ttft <= result.latency);
    assert!(result.tpot.is_some());

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(sent.header("authorization"), None, "no key, no header");
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(
        body["messages"],
        serde_json::json!([{"role": "user", "content": "Say hello"}])
    );
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 32);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn litellm_stream_in_tiny_delayed_pieces_gives_the_same_result() {
    let mock = serve(vec![Reply::sse(LITELLM).parts(pieces(
        LITELLM,
        7,
        Duration::from_millis(1),
    ))])
    .await;
    let request = ProbeRequest::new(mock.url("/"), "gpt-4o", "Say hello");
    let (result, events) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.answer, "Hello from a mocked gpt-4o");
    assert_eq!(text_of(&events, true), result.answer);
    assert_eq!(result.usage.map(|u| (u.input, u.output)), Some((8, 9)));
    assert_eq!(result.gateway_cost_usd, Some(0.00011));
    assert_eq!(result.malformed_chunks, 0);
    // Tokens came in separate reads, so the gaps are real and TPOT is positive.
    assert!(result.tpot.is_some_and(|t| t > Duration::ZERO));
}

#[tokio::test]
async fn deepseek_keepalives_and_a_pause_do_not_start_ttft() {
    let pause = Duration::from_millis(200);
    let keepalives = b": keep-alive\n\n: keep-alive\n\n";
    assert!(DEEPSEEK.starts_with(keepalives));
    let mut parts = vec![Part::Bytes(keepalives.to_vec()), Part::Pause(pause)];
    parts.extend(pieces(
        &DEEPSEEK[keepalives.len()..],
        16,
        Duration::from_millis(1),
    ));
    let mock = serve(vec![Reply::sse(DEEPSEEK).parts(parts)]).await;
    let request = ProbeRequest::new(mock.url("/v1/"), "deepseek-reasoner", "12345+67890?")
        .with_api_key(Some(Secret::new("sk-test")));
    let (result, events) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.keepalives, 2);
    let ttft = result.ttft.expect("ttft");
    assert!(
        ttft >= pause,
        "ttft {ttft:?} started before the first token"
    );
    let first_answer = result.time_to_first_answer.expect("answer");
    assert!(first_answer >= ttft);
    assert!(result.latency >= first_answer);
    assert_eq!(result.reasoning, "12345 plus 67890 is 80235.");
    assert_eq!(result.answer, "80235");
    assert_eq!(text_of(&events, false), result.reasoning);
    assert_eq!(text_of(&events, true), result.answer);
    assert!(matches!(events.last(), Some(ProbeEvent::Content(_))));
    assert_eq!(result.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        result.usage,
        Some(Usage {
            input: 18,
            cached_input: 0,
            output: 11,
            reasoning: 6
        })
    );
    assert_eq!(result.gateway_cost_usd, None);
    // Two reasoning deltas and one answer delta: two gaps.
    assert_eq!(result.token_events, 3);
    assert_eq!(result.inter_token_gaps.len(), 2);
    assert!(result.tpot.is_some());

    let requests = mock.requests();
    assert_eq!(
        requests[0].request_line,
        "POST /v1/chat/completions HTTP/1.1"
    );
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-test"));
}

#[tokio::test]
async fn keepalive_only_stream_has_no_ttft_and_fails() {
    let mock = serve(vec![Reply::sse(b": keep-alive\n\n: keep-alive\n\n")]).await;
    let request = ProbeRequest::new(mock.url(""), "m", "p");
    let (result, events) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.ttft, None);
    assert_eq!(result.keepalives, 2);
    assert!(events.is_empty());
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Truncated));
}

#[tokio::test]
async fn truncated_stream_is_a_failed_request_with_the_reason() {
    let mock = serve(vec![Reply::sse(TRUNCATED), Reply::sse(LITELLM)]).await;
    let request = ProbeRequest::new(mock.url(""), "deepseek-chat", "p").with_retry(fast_retries(2));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.status, Some(200));
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Truncated));
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("stream ended before finish_reason")),
        "{result:?}"
    );
    assert_eq!(result.answer, "Hello");
    assert!(result.ttft.is_some());
    assert_eq!(result.finish_reason, None);
    assert_eq!(result.retries, 0, "tokens had streamed: no retry");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn error_inside_200_stream_fails_with_the_gateway_message() {
    let mock = serve(vec![Reply::sse(ERROR_IN_200), Reply::sse(LITELLM)]).await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p").with_retry(fast_retries(2));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.status, Some(200));
    assert_eq!(result.error_kind, Some(ProbeErrorKind::GatewayError));
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("upstream provider overloaded")),
        "{result:?}"
    );
    assert_eq!(result.answer, "Par");
    assert_eq!(result.retries, 0);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_honoured_then_succeeds() {
    let mock = serve(vec![
        Reply::json(429, RATE_LIMITED).header("Retry-After", "1"),
        Reply::sse(LITELLM),
    ])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p");
    let (result, _) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.retries, 1);
    assert_eq!(result.status, Some(200));
    assert!(
        result.latency >= Duration::from_millis(950),
        "{:?}",
        result.latency
    );
    assert!(result.final_attempt_at >= Duration::from_millis(950));
    assert!(result.ttft.is_some_and(|t| t >= result.final_attempt_at));
    assert_eq!(result.answer, "Hello from a mocked gpt-4o");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_ms_takes_precedence_over_retry_after() {
    let mock = serve(vec![
        Reply::json(503, br#"{"error":{"message":"warming up"}}"#)
            .header("retry-after-ms", "20")
            .header("Retry-After", "30"),
        Reply::sse(LITELLM),
    ])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p");
    let (result, _) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.retries, 1);
    assert!(
        result.latency < Duration::from_secs(5),
        "{:?}",
        result.latency
    );
}

#[tokio::test]
async fn insufficient_quota_is_never_retried() {
    let mock = serve(vec![
        Reply::json(429, NO_QUOTA).header("Retry-After", "0"),
        Reply::sse(LITELLM),
    ])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p").with_retry(fast_retries(3));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.retries, 0);
    assert_eq!(result.status, Some(429));
    assert_eq!(result.error_kind, Some(ProbeErrorKind::QuotaExhausted));
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("You exceeded your current quota")),
        "{result:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

fn assert_no_canary(result: &ProbeResult, request: &ProbeRequest) {
    let fields = [
        Some(result.model.as_str()),
        Some(result.answer.as_str()),
        Some(result.reasoning.as_str()),
        result.finish_reason.as_deref(),
        result.error.as_deref(),
    ];
    for field in fields.into_iter().flatten() {
        assert!(!field.contains(CANARY), "leaked in a field: {field}");
    }
    assert!(!format!("{result:?}").contains(CANARY));
    assert!(!format!("{request:?}").contains(CANARY));
}

#[tokio::test]
async fn rejected_key_names_the_credential_and_never_leaks_it() {
    // Real gateways echo the refused key back; the probe must not pass it on.
    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {CANARY}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    for status in [401u16, 403] {
        let mock = serve(vec![
            Reply::json(status, echo.as_bytes()),
            Reply::sse(LITELLM),
        ])
        .await;
        let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p")
            .with_api_key(Some(Secret::new(CANARY)))
            .with_retry(fast_retries(2));
        let (result, _) = probe(&request).await;

        assert!(!result.ok);
        assert_eq!(result.status, Some(status));
        assert_eq!(result.retries, 0);
        assert_eq!(result.error_kind, Some(ProbeErrorKind::Auth));
        let error = result.error.clone().unwrap_or_default();
        assert!(
            error.contains(&format!(
                "gateway rejected the API key ({status}): set LLMTOP_API_KEY or OPENAI_API_KEY, or pass --api-key-file"
            )),
            "{error}"
        );
        assert!(
            error.contains("Incorrect API key provided: <redacted>"),
            "{error}"
        );
        assert_no_canary(&result, &request);

        let requests = mock.requests();
        assert_eq!(requests.len(), 1);
        let bearer = format!("Bearer {CANARY}");
        assert_eq!(requests[0].header("authorization"), Some(bearer.as_str()));
    }
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn retried_server_error_echoing_the_key_never_logs_it() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded, so a thread default covers the whole probe.
    let _guard = tracing::subscriber::set_default(subscriber);

    let echo = format!(r#"{{"error":{{"message":"upstream refused key {CANARY}"}}}}"#);
    let mock = serve(vec![
        Reply::json(500, echo.as_bytes()),
        Reply::json(500, echo.as_bytes()),
    ])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p")
        .with_api_key(Some(Secret::new(CANARY)))
        .with_retry(fast_retries(1));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.retries, 1);
    assert_no_canary(&result, &request);
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(logs.contains("probe retrying"), "{logs}");
    assert!(!logs.contains(CANARY), "{logs}");
}

#[tokio::test]
async fn unknown_model_400_reports_the_gateway_message_without_retry() {
    let (body, status_line) = UNKNOWN_MODEL.trim_end().split_once('\n').unwrap();
    assert_eq!(status_line, "HTTP 400");
    let mock = serve(vec![Reply::json(400, body.as_bytes()), Reply::sse(LITELLM)]).await;
    let request = ProbeRequest::new(mock.url(""), "nope-model", "p").with_retry(fast_retries(2));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.status, Some(400));
    assert_eq!(result.retries, 0);
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Http));
    let error = result.error.unwrap_or_default();
    assert!(error.starts_with("HTTP 400: "), "{error}");
    assert!(
        error.contains("Invalid model name passed in model=nope-model"),
        "{error}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit() {
    let bad = br#"{"error":{"message":"bad upstream"}}"#;
    let mock = serve(vec![
        Reply::json(502, bad),
        Reply::json(502, bad),
        Reply::json(502, bad),
        Reply::sse(LITELLM),
    ])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p").with_retry(fast_retries(2));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.retries, 2);
    assert_eq!(result.status, Some(502));
    assert_eq!(result.error.as_deref(), Some("HTTP 502: bad upstream"));
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn connection_refused_is_an_error_value_and_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let request = ProbeRequest::new(base, "gpt-4o", "p").with_retry(fast_retries(1));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.status, None);
    assert_eq!(result.retries, 1);
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Connection));
    let error = result.error.unwrap_or_default();
    assert!(error.contains("cannot connect to"), "{error}");
    assert!(error.contains(&addr.to_string()), "{error}");
}

#[tokio::test]
async fn timeout_bounds_a_stalled_stream_and_keeps_what_arrived() {
    let first = LITELLM.split(|&b| b == b'\n').next().unwrap();
    let mut opening = first.to_vec();
    opening.extend_from_slice(b"\n\n");
    let mock = serve(vec![Reply::sse(LITELLM).parts(vec![
        Part::Bytes(opening),
        Part::Pause(Duration::from_secs(10)),
    ])])
    .await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p")
        .with_timeout(Duration::from_millis(400))
        .with_retry(fast_retries(2));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Timeout));
    let error = result.error.clone().unwrap_or_default();
    assert!(error.contains("timed out after 400ms"), "{error}");
    assert!(result.latency >= Duration::from_millis(400));
    assert!(
        result.latency < Duration::from_secs(3),
        "{:?}",
        result.latency
    );
    assert_eq!(result.answer, "Hel");
    assert!(result.ttft.is_some());
    assert_eq!(result.retries, 0);
}

#[tokio::test]
async fn timeout_before_headers_covers_retries_too() {
    let mut slow = Reply::sse(LITELLM);
    slow.head_delay = Duration::from_secs(10);
    let mock = serve(vec![slow.clone(), slow]).await;
    let request = ProbeRequest::new(mock.url(""), "gpt-4o", "p")
        .with_timeout(Duration::from_millis(300))
        .with_retry(fast_retries(3));
    let (result, _) = probe(&request).await;

    assert!(!result.ok);
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Timeout));
    assert_eq!(result.status, None);
    assert!(
        result.latency < Duration::from_secs(3),
        "{:?}",
        result.latency
    );
}

#[tokio::test]
async fn non_streaming_completion_is_measured_the_same_way() {
    let completion = br#"{"id":"x","object":"chat.completion","model":"deepseek-reasoner",
        "choices":[{"index":0,"message":{"role":"assistant","content":"80235","reasoning_content":"add them"},
        "finish_reason":"stop"}],
        "usage":{"prompt_tokens":100,"completion_tokens":12,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36,
        "completion_tokens_details":{"reasoning_tokens":7}}}"#;
    let mock = serve(vec![
        Reply::json(200, completion).header("x-litellm-response-cost", "0.00042"),
    ])
    .await;
    let request = ProbeRequest::new(mock.url("/v1"), "deepseek-reasoner", "p").with_stream(false);
    let (result, events) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.answer, "80235");
    assert_eq!(result.reasoning, "add them");
    assert_eq!(result.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        result.usage,
        Some(Usage {
            input: 100,
            cached_input: 64,
            output: 12,
            reasoning: 7
        })
    );
    assert_eq!(result.gateway_cost_usd, Some(0.00042));
    assert!(result.ttft.is_some());
    assert_eq!(result.time_to_first_answer, result.ttft);
    assert_eq!(
        events,
        vec![
            ProbeEvent::Reasoning("add them".into()),
            ProbeEvent::Content("80235".into())
        ]
    );

    let sent = &mock.requests()[0];
    assert_eq!(sent.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(sent.header("accept"), Some("application/json"));
    let body = sent.json();
    assert_eq!(body["stream"], false);
    assert!(body.get("stream_options").is_none());
}

#[tokio::test]
async fn json_answer_to_a_streaming_request_is_still_read() {
    let completion =
        br#"{"choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
    let mock = serve(vec![Reply::json(200, completion)]).await;
    let request = ProbeRequest::new(mock.url(""), "m", "p");
    let (result, _) = probe(&request).await;

    assert!(result.ok, "{result:?}");
    assert_eq!(result.answer, "hi");
    assert_eq!(result.usage.map(|u| u.output), Some(1));
}

#[tokio::test]
async fn every_api_base_form_reaches_v1_chat_completions() {
    let forms = ["", "/", "/v1", "/v1/"];
    let mock = serve(forms.iter().map(|_| Reply::sse(LITELLM)).collect()).await;
    for form in forms {
        let request = ProbeRequest::new(mock.url(form), "gpt-4o", "p");
        let (result, _) = probe(&request).await;
        assert!(result.ok, "{form}: {result:?}");
    }
    for sent in mock.requests() {
        assert_eq!(sent.request_line, "POST /v1/chat/completions HTTP/1.1");
    }
}
