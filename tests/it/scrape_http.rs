//! The scraper against a small local server: LiteLLM's 307 to `/metrics/`, the headers it sends
//! (Accept, --header, bearer token), and plain messages for 401, 404, HTML and oversized bodies.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use llmtop::base::credentials::parse_header;
use llmtop::base::dialect;
use llmtop::io::source::scrape::{ScrapeOutcome, ScrapeTarget, metrics_url, scrape_once};
use reqwest::header::HeaderMap as ReqHeaders;

const SEED: &str = include_str!("../fixtures/metrics/seed.prom");

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn serve() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new()
        // LiteLLM answers /metrics with a 307 to /metrics/.
        .route(
            "/metrics",
            get(|| async { Redirect::temporary("/metrics/") }),
        )
        .route(
            "/metrics/",
            get(move |headers: HeaderMap| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(headers);
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], SEED)
                }
            }),
        )
        .route("/secured", get(|| async { StatusCode::UNAUTHORIZED }))
        .route(
            "/html",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/html")], "<html>login</html>").into_response()
            }),
        )
        .route("/huge", get(|| async { "x".repeat(3 * 1024 * 1024) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

fn target(url: &str, headers: ReqHeaders, auth_hint: &str) -> ScrapeTarget {
    ScrapeTarget {
        url: metrics_url(url).unwrap(),
        name: "t".into(),
        headers,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        max_body_bytes: 1024 * 1024,
        dialect_override: None,
        auth_hint: auth_hint.into(),
        redactor: None,
    }
}

async fn scrape(t: &ScrapeTarget) -> ScrapeOutcome {
    let client = llmtop::runtime::session::http_client().unwrap();
    let dialects = dialect::builtin();
    let mut sticky = None;
    scrape_once(&client, t, &dialects, &mut sticky).await
}

#[tokio::test]
async fn follows_litellm_redirect_and_sends_accept_and_auth_headers() {
    let (host, seen) = serve().await;
    let mut headers = ReqHeaders::new();
    let (name, value) = parse_header("X-Scope-OrgID: team-a").unwrap();
    headers.insert(name, value);
    let (name, value) = parse_header("Authorization: Bearer tok-123").unwrap();
    headers.insert(name, value);
    let t = target(&host, headers, "");
    let ScrapeOutcome::Ok(data) = scrape(&t).await else {
        panic!("scrape failed")
    };
    assert_eq!(data.dialect.as_deref(), Some("seed"));
    assert_eq!(data.skipped_lines, 0);
    assert!(!data.samples.is_empty());
    let seen = seen.lock().unwrap();
    let h = &seen[0];
    assert_eq!(h[header::ACCEPT], "text/plain;version=0.0.4");
    assert_eq!(h["x-scope-orgid"], "team-a");
    // Same host: the redirect keeps the credential.
    assert_eq!(h[header::AUTHORIZATION], "Bearer tok-123");
}

#[tokio::test]
async fn failures_are_plain_sentences() {
    let (host, _) = serve().await;
    let cases = [
        (
            format!("http://{host}/secured"),
            "HTTP 401: set --bearer-token-env VAR",
        ),
        (format!("http://{host}/nothing-here"), "HTTP 404"),
        (
            format!("http://{host}/html"),
            "HTML page, not Prometheus metrics",
        ),
        (
            format!("http://{host}/huge"),
            "body larger than the 1 MiB limit",
        ),
    ];
    for (url, want) in cases {
        let t = target(
            &url,
            ReqHeaders::new(),
            "set --bearer-token-env VAR or --bearer-token-file PATH",
        );
        match scrape(&t).await {
            ScrapeOutcome::Failed { error, .. } => assert!(error.contains(want), "{url}: {error}"),
            ScrapeOutcome::Ok(_) => panic!("{url} should fail"),
        }
    }
}

#[tokio::test]
async fn connection_refused_is_quick_and_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = target(&format!("127.0.0.1:{port}"), ReqHeaders::new(), "");
    let started = std::time::Instant::now();
    let ScrapeOutcome::Failed { error, .. } = scrape(&t).await else {
        panic!("nothing listens there")
    };
    assert!(error.starts_with("cannot connect"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
