//! Credentials and redirects, and TLS trust: two loopback servers on different ports are two
//! origins; a third serves HTTPS with a certificate from a CA made here with rcgen.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::Redirect;
use axum::routing::{get, post};
use llmtop::base::credentials::parse_header;
use llmtop::base::dialect;
use llmtop::base::net::{self, TlsSettings};
use llmtop::base::secret::Secret;
use llmtop::io::probe::{ProbeErrorKind, ProbeRequest, run_probe};
use llmtop::io::source::scrape::{ScrapeOutcome, ScrapeTarget, metrics_url, scrape_once};
use reqwest::header::HeaderMap as ReqHeaders;
use tokio_rustls::rustls;

const SEED: &str = include_str!("../fixtures/metrics/seed.prom");

/// Every request a server got: path and headers.
type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

const CREDENTIALS: [&str; 4] = [
    "Authorization: Bearer tok-redirect-1",
    "X-Api-Key: key-redirect-2",
    "X-Scope-OrgID: team-redirect-3",
    "Cookie: session=cookie-redirect-4",
];

fn credential_headers() -> ReqHeaders {
    let mut headers = ReqHeaders::new();
    for h in CREDENTIALS {
        let (name, value) = parse_header(h).unwrap();
        headers.insert(name, value);
    }
    headers
}

/// Names of the credential headers a recorded request carried.
fn carried(headers: &HeaderMap) -> Vec<&'static str> {
    ["authorization", "x-api-key", "x-scope-orgid", "cookie"]
        .into_iter()
        .filter(|name| headers.contains_key(*name))
        .collect()
}

/// A server that records every request; `routes` adds redirects, `/metrics` serves the seed fixture.
async fn serve_recording(routes: Router) -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let app = with_recording(routes, seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

fn with_recording(routes: Router, seen: Seen) -> Router {
    routes
        .route(
            "/metrics",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], SEED) }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push((req.uri().path().to_string(), req.headers().clone()));
                    next.run(req).await
                }
            },
        ))
}

/// Reserves a loopback port for a server started later (B must exist before A names it).
async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn start(listener: tokio::net::TcpListener, routes: Router, seen: Seen) {
    let app = with_recording(routes, seen);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

fn target(url: &str, headers: ReqHeaders) -> ScrapeTarget {
    ScrapeTarget {
        url: metrics_url(url).unwrap(),
        name: "t".into(),
        headers,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        max_body_bytes: 1024 * 1024,
        dialect_override: None,
        auth_hint: "hint".into(),
        redactor: None,
    }
}

async fn scrape_with(client: &reqwest::Client, t: &ScrapeTarget) -> ScrapeOutcome {
    let dialects = dialect::builtin();
    let mut sticky = None;
    scrape_once(client, t, &dialects, &mut sticky).await
}

async fn scrape(t: &ScrapeTarget) -> ScrapeOutcome {
    scrape_with(&llmtop::runtime::session::http_client().unwrap(), t).await
}

fn error_of(outcome: &ScrapeOutcome) -> &str {
    match outcome {
        ScrapeOutcome::Failed { error, .. } => error,
        ScrapeOutcome::Ok(_) => panic!("the scrape succeeded"),
    }
}

fn samples_of(outcome: &ScrapeOutcome) -> usize {
    match outcome {
        ScrapeOutcome::Ok(data) => data.samples.len(),
        ScrapeOutcome::Failed { error, .. } => panic!("the scrape failed: {error}"),
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_carries_no_credential() {
    let (b, seen_b) = serve_recording(Router::new()).await;
    let to_b = format!("http://127.0.0.1:{}/metrics", b.port());
    let (a, seen_a) = serve_recording(Router::new().route(
        "/elsewhere",
        get(move || {
            let to_b = to_b.clone();
            async move { Redirect::temporary(&to_b) }
        }),
    ))
    .await;
    let url = format!("http://127.0.0.1:{}/elsewhere", a.port());

    // Control: reqwest's own policy drops Authorization and Cookie but forwards custom headers.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let response = plain
        .get(&url)
        .headers(credential_headers())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        carried(&seen_b.lock().unwrap()[0].1),
        ["x-api-key", "x-scope-orgid"],
        "reqwest alone leaks the custom headers"
    );
    seen_a.lock().unwrap().clear();
    seen_b.lock().unwrap().clear();

    let outcome = scrape(&target(&url, credential_headers())).await;
    assert!(samples_of(&outcome) > 0, "the redirect was followed");
    let at_a = seen_a.lock().unwrap().clone();
    assert_eq!(at_a.len(), 1);
    assert_eq!(
        carried(&at_a[0].1),
        ["authorization", "x-api-key", "x-scope-orgid", "cookie"],
        "the origin asked for gets them all"
    );
    let at_b = seen_b.lock().unwrap().clone();
    assert_eq!(at_b.len(), 1);
    assert_eq!(at_b[0].0, "/metrics");
    assert_eq!(carried(&at_b[0].1), Vec::<&str>::new());
    assert_eq!(
        at_b[0].1.get("accept").unwrap(),
        "text/plain;version=0.0.4",
        "non-credential headers still go"
    );
}

#[tokio::test]
async fn a_same_origin_redirect_keeps_the_credentials() {
    let (a, seen_a) = serve_recording(
        Router::new().route("/old", get(|| async { Redirect::permanent("/metrics") })),
    )
    .await;
    let outcome = scrape(&target(
        &format!("http://127.0.0.1:{}/old", a.port()),
        credential_headers(),
    ))
    .await;
    assert!(samples_of(&outcome) > 0);
    let seen = seen_a.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/old", "/metrics"]);
    assert_eq!(
        seen[1].1.get("x-api-key").unwrap(),
        "key-redirect-2",
        "same origin, same headers"
    );
    assert_eq!(
        carried(&seen[1].1),
        ["authorization", "x-api-key", "x-scope-orgid", "cookie"]
    );
}

#[tokio::test]
async fn credentials_dropped_once_stay_dropped_on_the_way_back() {
    // A /start → B /bounce → A /metrics: A must not get them back from B's redirect.
    let (listener_a, a) = bind().await;
    let (listener_b, b) = bind().await;
    let seen_a: Seen = Arc::default();
    let seen_b: Seen = Arc::default();
    let to_b = format!("http://127.0.0.1:{}/bounce", b.port());
    let to_a = format!("http://127.0.0.1:{}/metrics", a.port());
    start(
        listener_a,
        Router::new().route(
            "/start",
            get(move || {
                let to_b = to_b.clone();
                async move { Redirect::temporary(&to_b) }
            }),
        ),
        seen_a.clone(),
    );
    start(
        listener_b,
        Router::new().route(
            "/bounce",
            get(move || {
                let to_a = to_a.clone();
                async move { Redirect::temporary(&to_a) }
            }),
        ),
        seen_b.clone(),
    );
    let outcome = scrape(&target(
        &format!("http://127.0.0.1:{}/start", a.port()),
        credential_headers(),
    ))
    .await;
    assert!(samples_of(&outcome) > 0);
    let seen = seen_a.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, "/metrics");
    assert_eq!(carried(&seen[1].1), Vec::<&str>::new());
    assert_eq!(carried(&seen_b.lock().unwrap()[0].1), Vec::<&str>::new());
}

#[tokio::test]
async fn a_cross_origin_redirect_loop_ends_with_a_plain_message() {
    let (listener_a, a) = bind().await;
    let (listener_b, b) = bind().await;
    let seen_a: Seen = Arc::default();
    let seen_b: Seen = Arc::default();
    let loop_to = |port: u16| {
        let to = format!("http://127.0.0.1:{port}/loop");
        Router::new().route(
            "/loop",
            get(move || {
                let to = to.clone();
                async move { Redirect::temporary(&to) }
            }),
        )
    };
    start(listener_a, loop_to(b.port()), seen_a.clone());
    start(listener_b, loop_to(a.port()), seen_b.clone());
    let outcome = scrape(&target(
        &format!("http://127.0.0.1:{}/loop", a.port()),
        ReqHeaders::new(),
    ))
    .await;
    assert_eq!(error_of(&outcome), "too many redirects");
    let requests = seen_a.lock().unwrap().len() + seen_b.lock().unwrap().len();
    assert_eq!(requests, net::MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn the_probe_refuses_a_redirect_to_another_origin() {
    let (b, seen_b) = serve_recording(Router::new()).await;
    let to_b = format!("http://127.0.0.1:{}/v1/chat/completions", b.port());
    let (a, _) = serve_recording(Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let to_b = to_b.clone();
            async move { Redirect::temporary(&to_b) }
        }),
    ))
    .await;
    let base = url::Url::parse(&format!("http://127.0.0.1:{}", a.port())).unwrap();
    let request = ProbeRequest::new(base, "gpt-4o-mini", "hi")
        .with_api_key(Some(Secret::new("sk-redirect-probe-5")))
        .with_header("X-Api-Key", "key-redirect-6")
        .with_timeout(Duration::from_secs(5));
    let client = llmtop::runtime::session::http_client().unwrap();
    let result = run_probe(&client, &request, None).await;
    assert!(!result.ok);
    assert_eq!(result.status, Some(307));
    assert_eq!(result.error_kind, Some(ProbeErrorKind::Config));
    let error = result.error.unwrap();
    assert!(
        error.contains(&format!("another origin (http://127.0.0.1:{})", b.port())),
        "{error}"
    );
    assert!(error.contains("--api-base"), "{error}");
    assert_eq!(seen_b.lock().unwrap().len(), 0, "nothing was sent to B");
}

/// A CA and a certificate for 127.0.0.1 / localhost signed by it: (CA PEM, server config).
fn test_pki() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "llmtop test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca_cert.pem(), config)
}

/// Accepts TCP, then TLS; a failed handshake (the client refused the certificate) is skipped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS server (with `/metrics` and `/to-http` → `plain_metrics`); returns its port and the CA PEM.
async fn serve_tls(plain_metrics: String) -> (u16, String) {
    let (ca_pem, config) = test_pki();
    let (tcp, addr) = bind().await;
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let app = with_recording(
        Router::new().route(
            "/to-http",
            get(move || {
                let to = plain_metrics.clone();
                async move { Redirect::temporary(&to) }
            }),
        ),
        Seen::default(),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr.port(), ca_pem)
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("llmtop-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn tls_is_verified_unless_a_ca_is_given_or_insecure_is_explicit() {
    let (port, ca_pem) = serve_tls(String::new()).await;
    let url = format!("https://127.0.0.1:{port}/metrics");
    let t = target(&url, ReqHeaders::new());

    let verified = net::http_client(&TlsSettings::default()).unwrap();
    let outcome = scrape_with(&verified, &t).await;
    let error = error_of(&outcome);
    assert!(
        error.starts_with("TLS certificate not trusted: invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(error.contains("--ca-cert PATH"), "{error}");

    let ca_path = write_temp("ca.pem", &ca_pem);
    let with_ca = net::http_client(&TlsSettings {
        insecure: false,
        ca_cert: Some(ca_path.clone()),
    })
    .unwrap();
    assert!(samples_of(&scrape_with(&with_ca, &t).await) > 0);

    let insecure = net::http_client(&TlsSettings {
        insecure: true,
        ca_cert: None,
    })
    .unwrap();
    assert!(samples_of(&scrape_with(&insecure, &t).await) > 0);
}

#[tokio::test]
async fn https_to_http_is_refused_while_credentials_are_attached() {
    let (b, seen_b) = serve_recording(Router::new()).await;
    let (port, ca_pem) = serve_tls(format!("http://127.0.0.1:{}/metrics", b.port())).await;
    let ca_path = write_temp("ca-downgrade.pem", &ca_pem);
    let client = net::http_client(&TlsSettings {
        insecure: false,
        ca_cert: Some(ca_path),
    })
    .unwrap();
    let url = format!("https://127.0.0.1:{port}/to-http");
    let outcome = scrape_with(&client, &target(&url, credential_headers())).await;
    assert_eq!(
        error_of(&outcome),
        format!(
            "redirected from https to plain http (http://127.0.0.1:{}); not following with credentials",
            b.port()
        )
    );
    assert_eq!(seen_b.lock().unwrap().len(), 0);
    // Without credentials there is nothing to protect: the redirect is followed.
    let outcome = scrape_with(&client, &target(&url, ReqHeaders::new())).await;
    assert!(samples_of(&outcome) > 0);
    assert_eq!(seen_b.lock().unwrap().len(), 1);
}

/// The flags through the real binary: --insecure warns on stderr and in the JSON, --ca-cert trusts.
#[test]
fn snapshot_flags_insecure_and_ca_cert() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, ca_pem) = runtime.block_on(serve_tls(String::new()));
    let ca_path = write_temp("ca-cli.pem", &ca_pem);
    let url = format!("https://127.0.0.1:{port}/metrics");
    let log = write_temp("cli.log", "");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
            .args(["snapshot", &url, "--for", "1s", "--timeout", "2s"])
            .args(extra)
            .env("LLMTOP_LOG_FILE", &log)
            .env_remove("LLMTOP_INSECURE")
            .env_remove("LLMTOP_CA_CERT")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (json, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (json, stderr) = run(&[]);
    assert_eq!(json["scrapes"], 0);
    assert!(
        json["warnings"]
            .to_string()
            .contains("TLS certificate not trusted"),
        "{json}"
    );
    assert_eq!(stderr, "");

    let (json, stderr) = run(&["--insecure"]);
    assert!(json["scrapes"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(json["warnings"][0].as_str().unwrap(), net::INSECURE_WARNING);
    assert_eq!(
        stderr,
        format!("llmtop: warning: {}\n", net::INSECURE_WARNING)
    );

    let (json, stderr) = run(&["--ca-cert", ca_path.to_str().unwrap()]);
    assert!(json["scrapes"].as_u64().unwrap() >= 1, "{json}");
    let warnings = json["warnings"].to_string();
    assert!(
        !warnings.contains("TLS") && !warnings.contains("insecure"),
        "{warnings}"
    );
    assert_eq!(stderr, "");
    runtime.shutdown_background();
}

/// `--insecure` keeps a badge at the front of the status line, where a narrow terminal cannot cut it.
#[test]
fn the_insecure_badge_leads_the_status_line() {
    use llmtop::front::tui::{app::App, render, theme::Theme};
    use llmtop::model::view;
    let store = llmtop::support::testdata::store();
    let prices = llmtop::base::pricing::PriceTable::builtin();
    let view = view::DashboardView::compute(
        &store,
        &prices,
        &view::ViewParams {
            url: "https://gw:4000/metrics",
            window: 300.0,
            interval: llmtop::support::testdata::INTERVAL,
            columns: render::chart_columns(80),
            dialect_signals: &[],
            model_filter: None,
        },
    );
    let mut app = App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "https://gw:4000/".into(),
    );
    let now = store.latest_time().unwrap() + 0.4;
    let status_line = |app: &App| {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| render::render(f, app, now)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .find(|line| line.starts_with(" llmtop "))
            .unwrap()
    };
    assert!(
        // At 80 columns the usual /metrics path is left out; the scheme stays.
        status_line(&app).starts_with(" llmtop https://gw:4000 │"),
        "{}",
        status_line(&app)
    );
    app.insecure_tls = true;
    assert!(
        status_line(&app).starts_with(" llmtop  INSECURE TLS  https://gw:4000 │"),
        "{}",
        status_line(&app)
    );
}

/// The real binary in a pty: `--insecure` reaches the dashboard's status line.
#[test]
fn the_dashboard_shows_the_insecure_badge() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.args(["--demo", "--insecure"]);
    cmd.env("TERM", "xterm-256color");
    cmd.env("LLMTOP_LOG_FILE", write_temp("pty.log", ""));
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(30, 120, 0)));
    let sink = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    let start = std::time::Instant::now();
    let screen = loop {
        let screen = parser.lock().unwrap().screen().contents();
        if screen.contains("LIVE") {
            break screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no data on screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = screen.lines().find(|l| l.starts_with(" llmtop ")).unwrap();
    assert!(
        status.starts_with(" llmtop  INSECURE TLS  http://127.0.0.1:"),
        "{status}"
    );
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "llmtop did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
