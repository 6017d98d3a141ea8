//! A plain-`http://` transport for `llmtop bench`: one HTTP/1.1 connection owned by each worker, as oha does.
//!
//! reqwest's shared pool, redirect and URL layers cost about as much CPU per request as a small
//! gateway's whole answer; a worker that owns its connection and sends prebuilt bytes needs none
//! of them. What this path cannot do the same way (https, proxies, credentials in the URL,
//! redirects) goes through reqwest, and the answer is read by the same code either way, so a
//! result does not depend on which path fetched it.
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use reqwest::header::{HOST, HeaderMap, HeaderValue, USER_AGENT};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;

use super::{
    Failure, Prepared, PreparedRequest, ProbeErrorKind, ProbeEvent, ProbeResult, Reply, ReplyBody,
    ReqwestTransport, Retry, Transport, describe_chain, redacted_url, run_with,
};

/// The same bound `crate::base::net::http_client` gives reqwest.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// What reqwest sends as `User-Agent` (`crate::base::net::http_client`).
const USER_AGENT_VALUE: &str = concat!("llmtop/", env!("CARGO_PKG_VERSION"));
/// reqwest sends through a proxy named by any of these; this path cannot.
const PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// One worker's connection to a plain-http gateway, opened on first use and again whenever the
/// gateway closed it. Sends requests of the [`PreparedRequest`] family it was made for; any
/// other request, and every request after a redirect, goes through `client`.
pub struct HttpConnection {
    client: reqwest::Client,
    family: Arc<Prepared>,
    host: String,
    port: u16,
    /// Origin-form request target: path and query.
    uri: hyper::Uri,
    /// The prepared headers plus `Host` and `User-Agent`, as reqwest would add them.
    headers: HeaderMap,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The gateway answered with a redirect reqwest follows (same origin), so from then on
    /// reqwest sends everything.
    redirected: bool,
}

impl HttpConnection {
    /// `None` when the request needs reqwest: not `http://`, credentials in the URL, or a
    /// proxy configured in the environment.
    pub fn new(client: reqwest::Client, prepared: &PreparedRequest) -> Option<Self> {
        let url = &prepared.common.url;
        let proxied = PROXY_VARS
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        if proxied {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(name) => name.to_string(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let port = url.port_or_known_default()?;
        let uri: hyper::Uri = url[url::Position::BeforePath..].parse().ok()?;
        let mut headers = prepared.common.headers.clone();
        if !headers.contains_key(HOST) {
            // Bracketed IPv6 and a non-default port, as hyper-util writes it for reqwest.
            let authority = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str()?),
                None => url.host_str()?.to_string(),
            };
            headers.insert(HOST, HeaderValue::from_str(&authority).ok()?);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        }
        Some(Self {
            client,
            family: prepared.common.clone(),
            host,
            port,
            uri,
            headers,
            sender: None,
            redirected: false,
        })
    }

    /// [`super::run_prepared`] over this connection: the same retries, deadline and verdicts.
    pub async fn run(
        &mut self,
        prepared: &PreparedRequest,
        events: Option<UnboundedSender<ProbeEvent>>,
    ) -> ProbeResult {
        run_with(self, prepared, events).await
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let url = &self.family.url;
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(Failure {
                    kind: ProbeErrorKind::Connection,
                    message: format!(
                        "cannot connect to {}: tcp connect error: {error}",
                        redacted_url(url)
                    ),
                    retry: Retry::After(None),
                });
            }
            Err(_) => {
                return Err(Failure {
                    kind: ProbeErrorKind::Timeout,
                    message: format!(
                        "cannot connect to {}: tcp connect error: connection timed out after {CONNECT_TIMEOUT:?}",
                        redacted_url(url)
                    ),
                    retry: Retry::After(None),
                });
            }
        };
        // Small requests and answers: waiting to coalesce them only adds latency (reqwest too).
        let _ = stream.set_nodelay(true);
        // One flattened write per request instead of a writev of head and body: for a few
        // hundred bytes the copy is cheaper than the vectored call (bench/speed.sh, README).
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| self.send_failure(&error))?;
        // The connection's errors reach the request waiting on it; nothing to do with them here.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn send_failure(&self, error: &hyper::Error) -> Failure {
        Failure {
            kind: ProbeErrorKind::Connection,
            message: format!(
                "request failed to {}: {}",
                redacted_url(&self.family.url),
                describe_chain(error)
            ),
            retry: Retry::After(None),
        }
    }

    async fn via_reqwest(&self, prepared: &PreparedRequest) -> Result<Reply<FastBody>, Failure> {
        let reply = ReqwestTransport(&self.client).send(prepared).await?;
        Ok(Reply {
            status: reply.status,
            headers: reply.headers,
            body: FastBody::Reqwest(reply.body),
        })
    }
}

impl Transport for HttpConnection {
    type Body = FastBody;

    async fn send(&mut self, prepared: &PreparedRequest) -> Result<Reply<FastBody>, Failure> {
        if self.redirected || !Arc::ptr_eq(&self.family, &prepared.common) {
            return self.via_reqwest(prepared).await;
        }
        // A kept-alive connection the gateway closed meanwhile gets one fresh retry, as
        // reqwest's pool does for a request that was never written.
        for _ in 0..2 {
            let (mut sender, reused) = match self.sender.take() {
                Some(sender) if !sender.is_closed() => (sender, true),
                _ => (self.connect().await?, false),
            };
            if sender.ready().await.is_err() {
                if reused {
                    continue;
                }
                return Err(Failure {
                    kind: ProbeErrorKind::Connection,
                    message: format!(
                        "request failed to {}: connection closed before the request was sent",
                        redacted_url(&self.family.url)
                    ),
                    retry: Retry::After(None),
                });
            }
            let mut request = hyper::Request::new(Full::new(prepared.body.clone()));
            *request.method_mut() = hyper::Method::POST;
            *request.uri_mut() = self.uri.clone();
            *request.headers_mut() = self.headers.clone();
            match sender.send_request(request).await {
                Ok(response) => {
                    self.sender = Some(sender);
                    let (head, body) = response.into_parts();
                    // Only a redirect reqwest would follow is handed over: sending the POST
                    // again for one it would hand back unfollowed would reach the gateway twice.
                    if follows_redirect(&self.family.url, &head) {
                        self.redirected = true;
                        return self.via_reqwest(prepared).await;
                    }
                    return Ok(Reply {
                        status: head.status,
                        headers: head.headers,
                        body: FastBody::Hyper(body),
                    });
                }
                Err(error) if reused && error.is_canceled() => continue,
                Err(error) => return Err(self.send_failure(&error)),
            }
        }
        Err(Failure {
            kind: ProbeErrorKind::Connection,
            message: format!(
                "request failed to {}: the gateway closed every connection before the request was sent",
                redacted_url(&self.family.url)
            ),
            retry: Retry::After(None),
        })
    }
}

/// Whether reqwest, with [`crate::base::net::redirect_policy`], would follow this answer: a
/// redirect status it follows, with a `Location` in the same origin.
fn follows_redirect(url: &url::Url, head: &hyper::http::response::Parts) -> bool {
    let followed = matches!(head.status.as_u16(), 301 | 302 | 303 | 307 | 308);
    followed
        && head
            .headers
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())
            .is_some_and(|next| crate::base::net::same_origin(url, &next))
}

impl fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The headers hold the key: not shown.
        f.debug_struct("HttpConnection")
            .field("url", &redacted_url(&self.family.url))
            .field("connected", &self.sender.is_some())
            .field("redirected", &self.redirected)
            .finish()
    }
}

/// A body read from this connection, or from reqwest after a redirect.
pub(super) enum FastBody {
    Hyper(Incoming),
    Reqwest(reqwest::Response),
}

impl ReplyBody for FastBody {
    async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            FastBody::Reqwest(response) => ReplyBody::chunk(response).await,
            FastBody::Hyper(body) => loop {
                match body.frame().await {
                    None => return Ok(None),
                    Some(Ok(frame)) => {
                        // Trailers carry nothing the probe reads.
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                    // Worded as reqwest words it, so a broken stream reads the same either way.
                    Some(Err(error)) => {
                        return Err(format!(
                            "error decoding response body: {}",
                            describe_chain(&error)
                        ));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::probe::{ProbeRequest, RetryPolicy, run_prepared};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::post;

    const COMPLETION: &str = r#"{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;

    /// `/v1/chat/completions` answers on a connection it then closes; `/same/...` redirects
    /// there; `/away/...` redirects to another origin.
    async fn gateway() -> (String, tokio::task::JoinHandle<()>) {
        async fn answer() -> impl IntoResponse {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONNECTION, "close"),
                ],
                COMPLETION,
            )
        }
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(answer))
            .route(
                "/same/v1/chat/completions",
                post(|| async {
                    let mut h = AxumHeaders::new();
                    h.insert(header::LOCATION, "/v1/chat/completions".parse().unwrap());
                    (StatusCode::TEMPORARY_REDIRECT, h)
                }),
            )
            .route(
                "/away/v1/chat/completions",
                post(|| async {
                    let mut h = AxumHeaders::new();
                    h.insert(
                        header::LOCATION,
                        "http://127.0.0.2:9/v1/chat/completions".parse().unwrap(),
                    );
                    (StatusCode::FOUND, h)
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (base, server)
    }

    fn prepared(base: &str) -> PreparedRequest {
        ProbeRequest::new(url::Url::parse(base).unwrap(), "gpt-4o-mini", "hi")
            .with_stream(false)
            .with_timeout(Duration::from_secs(5))
            .with_retry(RetryPolicy::NONE)
            .prepare()
            .unwrap()
    }

    #[tokio::test]
    async fn reconnects_after_the_gateway_closes_the_connection() {
        let (base, server) = gateway().await;
        let client = crate::base::net::default_client().unwrap();
        let request = prepared(&base);
        let mut connection = HttpConnection::new(client, &request).unwrap();
        for _ in 0..3 {
            let result = connection.run(&request.with_prompt("again"), None).await;
            assert!(result.ok, "{:?}", result.error);
            assert_eq!(result.status, Some(200));
            assert_eq!(result.usage.map(|u| (u.input, u.output)), Some((3, 1)));
            assert_eq!(result.answer, "ok");
        }
        server.abort();
    }

    #[tokio::test]
    async fn redirects_end_as_the_reqwest_path_ends_them() {
        let (base, server) = gateway().await;
        let client = crate::base::net::default_client().unwrap();
        for path in ["/same", "/away"] {
            let request = prepared(&format!("{base}{path}"));
            let mut connection = HttpConnection::new(client.clone(), &request).unwrap();
            let fast = connection.run(&request, None).await;
            let slow = run_prepared(&client, &request, None).await;
            assert_eq!(
                (
                    fast.ok,
                    fast.status,
                    fast.error_kind,
                    &fast.error,
                    fast.usage
                ),
                (
                    slow.ok,
                    slow.status,
                    slow.error_kind,
                    &slow.error,
                    slow.usage
                ),
                "{path}"
            );
            assert_eq!(connection.redirected, path == "/same", "{path}");
            // The same-origin redirect is followed; the other is refused, as `probe` refuses it.
            assert_eq!(fast.ok, path == "/same", "{path}: {:?}", fast.error);
        }
        server.abort();
    }

    /// A raw HTTP/1.1 server: hands every request it reads (head and body, as text) to the
    /// returned receiver and answers it with `answer(n)` for the n-th request; `None` keeps the
    /// connection open without answering more. Each connection serves requests until the answer
    /// says `Connection: close`.
    async fn raw_server(
        answer: fn(usize) -> &'static str,
    ) -> (
        String,
        tokio::sync::mpsc::UnboundedReceiver<String>,
        tokio::task::JoinHandle<()>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let served = served.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + length {
                            let mut chunk = [0u8; 4096];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body =
                            String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
                        buf.drain(..head_end + length);
                        let _ = tx.send(format!("{head}{body}"));
                        let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let reply = answer(n);
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        if reply.contains("Connection: close") {
                            return;
                        }
                    }
                });
            }
        });
        (base, rx, server)
    }

    const CLOSE_OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 125\r\nConnection: close\r\n\r\n{\"choices\":[{\"index\":0,\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}";

    /// Header lines of a captured request, lower-cased names, sorted; the body after them.
    fn normalised(request: &str) -> (String, Vec<String>, String) {
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap().to_string();
        let mut headers: Vec<String> = lines
            .map(|l| {
                let (name, value) = l.split_once(':').unwrap();
                format!("{}:{}", name.to_ascii_lowercase(), value.trim())
            })
            .collect();
        headers.sort();
        (start, headers, body.to_string())
    }

    #[tokio::test]
    async fn sends_the_bytes_reqwest_sends() {
        assert_eq!(CLOSE_OK.split("\r\n\r\n").nth(1).unwrap().len(), 125);
        let (base, mut seen, server) = raw_server(|_| CLOSE_OK).await;
        let client = crate::base::net::default_client().unwrap();
        let request = ProbeRequest::new(
            url::Url::parse(&format!("{base}/gw?v=1")).unwrap(),
            "m",
            "hi",
        )
        .with_api_key(Some(crate::base::secret::Secret::new("sk-test")))
        .with_header("X-Org", "a")
        .with_header("x-org", "b")
        .with_header("Accept", "application/x-custom")
        .with_timeout(Duration::from_secs(5))
        .with_retry(RetryPolicy::NONE)
        .prepare()
        .unwrap();
        let mut connection = HttpConnection::new(client.clone(), &request).unwrap();
        let fast = connection.run(&request, None).await;
        let slow = run_prepared(&client, &request, None).await;
        assert!(fast.ok && slow.ok, "{:?} {:?}", fast.error, slow.error);
        let fast = normalised(&seen.recv().await.unwrap());
        let slow = normalised(&seen.recv().await.unwrap());
        assert_eq!(fast, slow);
        let port = base.rsplit(':').next().unwrap();
        assert_eq!(fast.0, "POST /gw/v1/chat/completions?v=1 HTTP/1.1");
        assert!(
            fast.1.contains(&format!("host:127.0.0.1:{port}")),
            "{:?}",
            fast.1
        );
        assert!(fast.1.contains(&"authorization:Bearer sk-test".to_string()));
        assert!(fast.1.contains(&"accept:application/x-custom".to_string()));
        assert!(fast.1.contains(&"x-org:a".to_string()) && fast.1.contains(&"x-org:b".to_string()));
        server.abort();
    }

    #[tokio::test]
    async fn a_redirect_reqwest_would_not_follow_is_sent_once() {
        // Another origin, and no Location at all: reqwest hands both back unfollowed.
        fn answer(n: usize) -> &'static str {
            if n.is_multiple_of(2) {
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:9/v1/chat/completions\r\nContent-Length: 0\r\n\r\n"
            } else {
                "HTTP/1.1 300 Multiple Choices\r\nContent-Length: 0\r\n\r\n"
            }
        }
        let (base, mut seen, server) = raw_server(answer).await;
        let client = crate::base::net::default_client().unwrap();
        let request = prepared(&base);
        let mut connection = HttpConnection::new(client.clone(), &request).unwrap();
        let mut posts = 0;
        for (run, status) in [(0, 302), (1, 300)] {
            let result = connection.run(&request, None).await;
            assert_eq!((result.ok, result.status), (false, Some(status)), "{run}");
            while seen.try_recv().is_ok() {
                posts += 1;
            }
            assert_eq!(posts, run + 1, "{run}: the POST went out more than once");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_body_left_unread_does_not_desync_the_next_request() {
        // `[DONE]` and then the chunked body stays open: the probe stops reading there.
        fn answer(n: usize) -> &'static str {
            if n == 0 {
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n62\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n\r\n"
            } else {
                CLOSE_OK
            }
        }
        let (base, mut seen, server) = raw_server(answer).await;
        let client = crate::base::net::default_client().unwrap();
        let stream = ProbeRequest::new(url::Url::parse(&base).unwrap(), "m", "hi")
            .with_timeout(Duration::from_secs(5))
            .with_retry(RetryPolicy::NONE)
            .prepare()
            .unwrap();
        let mut connection = HttpConnection::new(client, &stream).unwrap();
        let first = connection.run(&stream, None).await;
        assert_eq!(
            (first.ok, first.answer.as_str()),
            (true, "first"),
            "{:?}",
            first.error
        );
        let second = tokio::time::timeout(Duration::from_secs(10), connection.run(&stream, None))
            .await
            .unwrap();
        assert_eq!(
            (second.ok, second.answer.as_str()),
            (true, "ok"),
            "{:?}",
            second.error
        );
        assert_eq!(second.usage.map(|u| u.input), Some(3));
        let mut posts = 0;
        while seen.try_recv().is_ok() {
            posts += 1;
        }
        assert_eq!(posts, 2);
        server.abort();
    }

    #[tokio::test]
    async fn a_stalled_gateway_ends_in_a_timeout() {
        // Nothing at all, then a head whose body never completes, then a whole answer: which
        // must not be read as the rest of that body on a connection still in use.
        fn answer(n: usize) -> &'static str {
            match n {
                0 => "",
                1 => {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"choi"
                }
                _ => CLOSE_OK,
            }
        }
        let (base, _seen, server) = raw_server(answer).await;
        let client = crate::base::net::default_client().unwrap();
        let request = ProbeRequest::new(url::Url::parse(&base).unwrap(), "m", "hi")
            .with_stream(false)
            .with_timeout(Duration::from_millis(300))
            .with_retry(RetryPolicy::NONE)
            .prepare()
            .unwrap();
        let mut connection = HttpConnection::new(client, &request).unwrap();
        for (run, status) in [(0, None), (1, Some(200))] {
            let result =
                tokio::time::timeout(Duration::from_secs(10), connection.run(&request, None))
                    .await
                    .unwrap();
            assert_eq!(
                (result.ok, result.status, result.error_kind),
                (false, status, Some(ProbeErrorKind::Timeout)),
                "{run}: {:?}",
                result.error
            );
        }
        let result = connection.run(&request, None).await;
        assert_eq!(
            (result.ok, result.answer.as_str()),
            (true, "ok"),
            "{:?}",
            result.error
        );
        server.abort();
    }

    #[test]
    fn https_proxies_and_url_credentials_stay_on_reqwest() {
        let client = reqwest::Client::new();
        for base in ["https://127.0.0.1:1", "http://user:pw@127.0.0.1:1"] {
            assert!(
                HttpConnection::new(client.clone(), &prepared(base)).is_none(),
                "{base}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let request = ProbeRequest::new(
            url::Url::parse("http://127.0.0.1:1/v1?key=q-secret").unwrap(),
            "m",
            "p",
        )
        .with_api_key(Some(crate::base::secret::Secret::new("sk-secret")))
        .with_header("X-Api-Key", "hdr-secret-value")
        .prepare()
        .unwrap();
        let connection = HttpConnection::new(reqwest::Client::new(), &request);
        let shown = format!("{request:?} {connection:?}");
        for secret in ["sk-secret", "q-secret", "hdr-secret-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("HttpConnection"), "{shown}");
    }
}
