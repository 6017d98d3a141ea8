//! Fault scenarios: the demo gateway misbehaving on purpose (flapping, 503s, slow or huge bodies,
//! malformed or churning metrics, rate-limit storms, broken streams), switchable at runtime.
//!
//! `llmtop demo --scenario NAME[+NAME…]` turns them on from the command line; tests hold a
//! [`ScenarioSwitch`] (from [`super::DemoGateway::scenarios`]) and flip it between scrapes, so a
//! good scrape can be taken first and the fault applied after it.
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::Shared;
use super::fault::FaultPlan;

/// How long the `slow` scenario makes `/metrics` wait before answering.
pub const SLOW_RESPONSE: Duration = Duration::from_secs(30);
/// Size of the `huge-body` scenario's `/metrics` body.
pub const HUGE_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Extra series the `cardinality` scenario adds to every scrape (one model each).
pub const CARDINALITY_SERIES: usize = 50_000;
/// Malformed lines the `malformed` scenario mixes into every scrape.
pub const MALFORMED_LINES: usize = 5;
/// The `counter-reset` scenario restarts the gateway's counters on the first scrape after it is
/// switched on and then on every this many scrapes.
pub const RESET_EVERY: u64 = 5;
/// Default length of each down and up phase of `flapping`.
pub const DEFAULT_FLAP_HALF_PERIOD: Duration = Duration::from_secs(5);
/// `Retry-After` seconds the `rate-limit-storm` scenario sends with every 429.
pub const STORM_RETRY_AFTER: f64 = 2.0;

/// One way for the demo gateway to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    Flapping,
    Metrics503,
    Slow,
    CutBody,
    Malformed,
    HugeBody,
    NonUtf8,
    CounterReset,
    SeriesChurn,
    Cardinality,
    RedirectLoop,
    Unauthorized,
    Forbidden,
    Html,
    OpenMetrics,
    DuplicateSeries,
    RateLimitStorm,
    StalledStream,
    Disconnect,
    GarbageSse,
    Failover,
    Saturation,
}

impl Scenario {
    /// Every scenario, in the order `--list-scenarios` prints them.
    pub const ALL: [Scenario; 22] = [
        Scenario::Flapping,
        Scenario::Metrics503,
        Scenario::Slow,
        Scenario::CutBody,
        Scenario::Malformed,
        Scenario::HugeBody,
        Scenario::NonUtf8,
        Scenario::CounterReset,
        Scenario::SeriesChurn,
        Scenario::Cardinality,
        Scenario::RedirectLoop,
        Scenario::Unauthorized,
        Scenario::Forbidden,
        Scenario::Html,
        Scenario::OpenMetrics,
        Scenario::DuplicateSeries,
        Scenario::RateLimitStorm,
        Scenario::StalledStream,
        Scenario::Disconnect,
        Scenario::GarbageSse,
        Scenario::Failover,
        Scenario::Saturation,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Flapping => "flapping",
            Scenario::Metrics503 => "metrics-503",
            Scenario::Slow => "slow",
            Scenario::CutBody => "cut-body",
            Scenario::Malformed => "malformed",
            Scenario::HugeBody => "huge-body",
            Scenario::NonUtf8 => "non-utf8",
            Scenario::CounterReset => "counter-reset",
            Scenario::SeriesChurn => "series-churn",
            Scenario::Cardinality => "cardinality",
            Scenario::RedirectLoop => "redirect-loop",
            Scenario::Unauthorized => "unauthorized",
            Scenario::Forbidden => "forbidden",
            Scenario::Html => "html",
            Scenario::OpenMetrics => "openmetrics",
            Scenario::DuplicateSeries => "duplicate-series",
            Scenario::RateLimitStorm => "rate-limit-storm",
            Scenario::StalledStream => "stalled-stream",
            Scenario::Disconnect => "disconnect",
            Scenario::GarbageSse => "garbage-sse",
            Scenario::Failover => "failover",
            Scenario::Saturation => "saturation",
        }
    }

    /// One line on what the gateway does.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Flapping => {
                "goes down and up every 5 s: new connections are closed at once, open ones hang up"
            }
            Scenario::Metrics503 => "/metrics answers 503 Service Unavailable",
            Scenario::Slow => "/metrics answers after 30 s",
            Scenario::CutBody => "/metrics body breaks off in the middle of a line",
            Scenario::Malformed => "5 malformed lines mixed into the good ones",
            Scenario::HugeBody => "/metrics body padded to 64 MiB",
            Scenario::NonUtf8 => "bytes that are not UTF-8 in a comment and a label value",
            Scenario::CounterReset => {
                "counters drop to 0 (a restart) when switched on, then every 5th scrape"
            }
            Scenario::SeriesChurn => "a replica label on every series changes every scrape",
            Scenario::Cardinality => "50 000 extra series, one new model each",
            Scenario::RedirectLoop => "/metrics redirects to itself forever",
            Scenario::Unauthorized => "every request answers 401 Unauthorized",
            Scenario::Forbidden => "every request answers 403 Forbidden",
            Scenario::Html => "/metrics answers an HTML login page (text/html)",
            Scenario::OpenMetrics => {
                "/metrics in OpenMetrics format: _total counters, _created, exemplars, # EOF"
            }
            Scenario::DuplicateSeries => {
                "every counter and gauge series appears twice, the copy with another value"
            }
            Scenario::RateLimitStorm => "every chat completion answers 429 with Retry-After: 2",
            Scenario::StalledStream => "chat streams stop sending after 3 tokens and never end",
            Scenario::Disconnect => "chat streams hang up after 3 tokens",
            Scenario::GarbageSse => {
                "chat streams carry garbage lines and non-JSON data: events between the real ones"
            }
            Scenario::Failover => {
                "deepseek-chat is down: the router falls back to claude-sonnet-4-5 until its 300 RPM \
                 run out, then to gpt-4o; cooldowns every 5 s (exports the router's families)"
            }
            Scenario::Saturation => {
                "the gateway completes at most 12 req/s: the rest queue, queue time and latency \
                 grow while throughput stays flat (exports the queue's families)"
            }
        }
    }

    fn bit(self) -> u32 {
        // `ALL` lists every variant once, so the position is a stable, unique bit.
        let pos = Scenario::ALL.iter().position(|s| *s == self).unwrap_or(0);
        1 << pos
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Scenario::ALL
            .iter()
            .copied()
            .find(|sc| sc.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown scenario {s:?}; known: {} (combine with +, see --list-scenarios)",
                    Scenario::ALL.map(Scenario::name).join(", ")
                )
            })
    }
}

/// A set of scenarios, written `a+b+c` (`none` or empty = the well-behaved gateway).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScenarioSet(u32);

impl ScenarioSet {
    pub const NONE: ScenarioSet = ScenarioSet(0);

    pub fn contains(self, s: Scenario) -> bool {
        self.0 & s.bit() != 0
    }
    pub fn with(self, s: Scenario) -> ScenarioSet {
        ScenarioSet(self.0 | s.bit())
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Scenario> {
        Scenario::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The families beyond the seed's that `/metrics` carries under these scenarios.
    pub(crate) fn extensions(self) -> super::metrics::Extensions {
        super::metrics::Extensions {
            router: self.contains(Scenario::Failover),
            queue: self.contains(Scenario::Saturation),
        }
    }

    /// Adds the request faults these scenarios impose on every chat completion.
    pub(crate) fn apply_chat_faults(self, plan: &mut FaultPlan) {
        if self.contains(Scenario::RateLimitStorm) {
            plan.status = Some(429);
            plan.retry_after = Some(STORM_RETRY_AFTER);
        }
        if self.contains(Scenario::StalledStream) {
            plan.stall_mid_stream = true;
        }
        if self.contains(Scenario::Disconnect) {
            plan.cut_mid_stream = true;
        }
        if self.contains(Scenario::GarbageSse) {
            plan.garbage_sse = true;
        }
    }
}

impl From<Scenario> for ScenarioSet {
    fn from(s: Scenario) -> Self {
        ScenarioSet::NONE.with(s)
    }
}

impl fmt::Display for ScenarioSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.iter().map(Scenario::name).collect();
        f.write_str(&names.join("+"))
    }
}

impl FromStr for ScenarioSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = ScenarioSet::NONE;
        for part in s.split('+') {
            let part = part.trim();
            if part.is_empty() || part.eq_ignore_ascii_case("none") {
                continue;
            }
            set = set.with(part.parse()?);
        }
        Ok(set)
    }
}

/// The text `llmtop demo --list-scenarios` prints: one `name  description` line each.
pub fn list() -> String {
    let width = Scenario::ALL
        .iter()
        .map(|s| s.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for s in Scenario::ALL {
        out.push_str(&format!("{:width$}  {}\n", s.name(), s.description()));
    }
    out
}

#[derive(Debug)]
struct SwitchState {
    bits: AtomicU32,
    base: Instant,
    /// Milliseconds after `base` when the set last changed: phases count from there.
    changed_ms: AtomicU64,
    flap_half_ms: AtomicU64,
    /// `/metrics` requests served since the set last changed.
    scrapes: AtomicU64,
}

/// The live scenario set of one demo gateway; clones share it, so a test can flip it while the
/// gateway runs.
#[derive(Debug, Clone)]
pub struct ScenarioSwitch(Arc<SwitchState>);

impl ScenarioSwitch {
    pub fn new(set: ScenarioSet) -> Self {
        ScenarioSwitch(Arc::new(SwitchState {
            bits: AtomicU32::new(set.0),
            base: Instant::now(),
            changed_ms: AtomicU64::new(0),
            flap_half_ms: AtomicU64::new(DEFAULT_FLAP_HALF_PERIOD.as_millis() as u64),
            scrapes: AtomicU64::new(0),
        }))
    }

    pub fn get(&self) -> ScenarioSet {
        ScenarioSet(self.0.bits.load(Ordering::Relaxed))
    }

    /// Replaces the active set; `flapping` starts with a down phase, `counter-reset` with a reset.
    pub fn set(&self, set: impl Into<ScenarioSet>) {
        let set = set.into();
        self.0.scrapes.store(0, Ordering::Relaxed);
        self.0
            .changed_ms
            .store(self.elapsed_ms(), Ordering::Relaxed);
        self.0.bits.store(set.0, Ordering::Relaxed);
        tracing::info!(scenario = %set, "demo scenario changed");
    }

    /// Length of each down and each up phase of `flapping` (tests use a short one).
    pub fn set_flap_half_period(&self, d: Duration) {
        let ms = (d.as_millis() as u64).max(1);
        self.0.flap_half_ms.store(ms, Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        self.0.base.elapsed().as_millis() as u64
    }

    /// Whether the gateway is in a down phase of `flapping` right now.
    pub fn is_down(&self) -> bool {
        if !self.get().contains(Scenario::Flapping) {
            return false;
        }
        let since = self
            .elapsed_ms()
            .saturating_sub(self.0.changed_ms.load(Ordering::Relaxed));
        let half = self.0.flap_half_ms.load(Ordering::Relaxed).max(1);
        (since / half).is_multiple_of(2)
    }

    /// Counts one `/metrics` request and returns its 1-based number since the last change.
    fn next_scrape(&self) -> u64 {
        self.0.scrapes.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Default for ScenarioSwitch {
    fn default() -> Self {
        ScenarioSwitch::new(ScenarioSet::NONE)
    }
}

/// The demo's listener: while `flapping` is down it closes every new connection at once.
pub(crate) struct FlapListener {
    pub inner: TcpListener,
    pub switch: ScenarioSwitch,
}

impl axum::serve::Listener for FlapListener {
    type Io = FlapIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (FlapIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.switch.is_down() {
                        drop(stream);
                        continue;
                    }
                    let io = FlapIo {
                        inner: stream,
                        switch: self.switch.clone(),
                    };
                    return (io, addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::debug!("demo gateway accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection of the demo gateway: reads end (the server hangs up) while `flapping` is down,
/// so a client's pooled keep-alive connection fails like a restarted server's would.
pub(crate) struct FlapIo {
    inner: TcpStream,
    switch: ScenarioSwitch,
}

impl AsyncRead for FlapIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.switch.is_down() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FlapIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Middleware in front of every route: answers for the active scenarios, or passes through.
pub(crate) async fn middleware(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let set = shared.scenarios.get();
    if set.is_empty() {
        return next.run(request).await;
    }
    if set.contains(Scenario::Unauthorized) {
        return auth_error(StatusCode::UNAUTHORIZED);
    }
    if set.contains(Scenario::Forbidden) {
        return auth_error(StatusCode::FORBIDDEN);
    }
    if request.uri().path() != "/metrics" {
        return next.run(request).await;
    }
    metrics(&shared, set, request, next).await
}

fn auth_error(status: StatusCode) -> Response {
    let message = if status == StatusCode::UNAUTHORIZED {
        "Missing or invalid bearer token (demo scenario: unauthorized)"
    } else {
        "This token may not read this resource (demo scenario: forbidden)"
    };
    let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

async fn metrics(shared: &Shared, set: ScenarioSet, request: Request, next: Next) -> Response {
    let scrape = shared.scenarios.next_scrape();
    if set.contains(Scenario::RedirectLoop) {
        let hop: u64 = request
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("hop="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut resp = StatusCode::FOUND.into_response();
        let to = format!("/metrics?hop={}", hop + 1);
        if let Ok(v) = HeaderValue::from_str(&to) {
            resp.headers_mut().insert(LOCATION, v);
        }
        return resp;
    }
    if set.contains(Scenario::Metrics503) {
        let mut resp = (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream metrics exporter unavailable (demo scenario: metrics-503)\n",
        )
            .into_response();
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("5"));
        return resp;
    }
    if set.contains(Scenario::Slow) {
        let mut stop = shared.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(SLOW_RESPONSE) => {}
            _ = stop.wait_for(|s| *s) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
    if set.contains(Scenario::Html) {
        return (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><h1>Sign in to the gateway console</h1>\n<form method=\"post\"><input name=\"user\"><input type=\"password\" name=\"password\"></form></body></html>\n",
        )
            .into_response();
    }
    if set.contains(Scenario::CounterReset) && scrape % RESET_EVERY == 1 {
        shared.metrics.restart();
    }
    let body_scenarios = [
        Scenario::HugeBody,
        Scenario::CutBody,
        Scenario::SeriesChurn,
        Scenario::Cardinality,
        Scenario::Malformed,
        Scenario::DuplicateSeries,
        Scenario::NonUtf8,
        Scenario::OpenMetrics,
    ];
    if !body_scenarios.iter().any(|s| set.contains(*s)) {
        return next.run(request).await;
    }
    let mut text = shared.metrics.render_with(set.extensions());
    if set.contains(Scenario::SeriesChurn) {
        text = add_label(&text, "replica", &format!("r{scrape}"));
    }
    if set.contains(Scenario::DuplicateSeries) {
        text = duplicate_series(&text);
    }
    if set.contains(Scenario::Cardinality) {
        text.reserve(CARDINALITY_SERIES * 64);
        for i in 0..CARDINALITY_SERIES {
            text.push_str(&format!(
                "deepseek_requests_total{{model=\"card-{i:05}\",status=\"success\"}} 1.0\n"
            ));
        }
    }
    if set.contains(Scenario::Malformed) {
        text = mix_malformed(&text);
    }
    let mut content_type = super::metrics::CONTENT_TYPE;
    if set.contains(Scenario::OpenMetrics) {
        text = to_openmetrics(&text, scrape);
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    }
    let mut body = text.into_bytes();
    if set.contains(Scenario::NonUtf8) {
        // Latin-1 bytes where UTF-8 is required: in a comment and in an unmapped label value.
        body.extend_from_slice(b"# HELP demo_build_info Build caf\xe9 \xff\xfe\n");
        body.extend_from_slice(b"# TYPE demo_build_info gauge\n");
        body.extend_from_slice(b"demo_build_info{version=\"1.0-\xe9t\xe9\"} 1.0\n");
    }
    let mut resp = if set.contains(Scenario::HugeBody) {
        Response::new(huge_body(body))
    } else if set.contains(Scenario::CutBody) {
        Response::new(cut_body(body))
    } else {
        Response::new(Body::from(body))
    };
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

/// `name{a="b"} v` → `name{a="b",label="value"} v` for every sample line.
fn add_label(text: &str, label: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            out.push_str(line);
        } else if let Some(close) = line.find('}') {
            out.push_str(&line[..close]);
            out.push_str(&format!(",{label}=\"{value}\""));
            out.push_str(&line[close..]);
        } else if let Some((name, rest)) = line.split_once(' ') {
            out.push_str(&format!("{name}{{{label}=\"{value}\"}} {rest}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Repeats every counter and gauge sample line (not histogram parts) with a value of 0 right
/// after it, as a buggy exporter registering a metric twice would.
fn duplicate_series(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        let histogram_part = ["_bucket", "_sum", "_count", "_created"]
            .iter()
            .any(|suffix| {
                line.split(['{', ' '])
                    .next()
                    .is_some_and(|n| n.ends_with(suffix))
            });
        if line.starts_with('#') || histogram_part {
            continue;
        }
        if let Some((series, _)) = line.rsplit_once(' ') {
            out.push_str(series);
            out.push_str(" 0.0\n");
        }
    }
    out
}

/// Lines no parser may accept; [`MALFORMED_LINES`] of them are spread through the body.
const MALFORMED: [&str; MALFORMED_LINES] = [
    "deepseek_requests_total{model=\"gpt-4o\",status=\"success\" 12",
    "this line is not a metric at all",
    "deepseek_active_requests not-a-number",
    "{model=\"gpt-4o\"} 1",
    "deepseek_tokens_total{model=\"gpt-4o\",type=\"prompt\"} 1 2 3",
];

fn mix_malformed(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let step = (lines.len() / MALFORMED_LINES).max(1);
    let mut out = String::with_capacity(text.len() + 512);
    let mut next_bad = MALFORMED.iter();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if i % step == 0
            && let Some(bad) = next_bad.next()
        {
            out.push_str(bad);
            out.push('\n');
        }
    }
    for bad in next_bad {
        out.push_str(bad);
        out.push('\n');
    }
    out
}

/// Rewrites the seed's text format as OpenMetrics 1.0: counter families lose `_total` on their
/// `# TYPE`/`# HELP`, `_created` samples join their family, buckets carry exemplars, `# EOF` ends it.
fn to_openmetrics(text: &str, scrape: u64) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut exemplar = 0u64;
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("# TYPE ")
            .or_else(|| line.strip_prefix("# HELP "))
        {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if name.ends_with("_created") {
                // OpenMetrics has no separate `_created` family.
                continue;
            }
            let kind = &line[..6];
            let family = name.strip_suffix("_total").unwrap_or(name);
            out.push_str(&format!("{kind} {family} {tail}\n"));
            continue;
        }
        out.push_str(line);
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if name.ends_with("_bucket") {
            exemplar += 1;
            out.push_str(&format!(
                " # {{trace_id=\"demo-{scrape}-{exemplar}\"}} 0.042 1767225600.123"
            ));
        }
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out
}

/// The body, then comment lines up to [`HUGE_BODY_BYTES`], produced as the client reads.
fn huge_body(head: Vec<u8>) -> Body {
    const LINE: &[u8] =
        b"# padding: the huge-body demo scenario pads /metrics with comment lines like this one\n";
    const CHUNK: usize = 64 * 1024;
    let chunk = Bytes::from(LINE.repeat(CHUNK / LINE.len()));
    let remaining = HUGE_BODY_BYTES.saturating_sub(head.len());
    let first = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from(head))]);
    let rest = futures_util::stream::unfold(remaining, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let n = left.min(chunk.len());
            Some((Ok::<_, Infallible>(chunk.slice(..n)), left - n))
        }
    });
    Body::from_stream(futures_util::StreamExt::chain(first, rest))
}

/// Half the body, ending inside a line, then the connection breaks.
fn cut_body(body: Vec<u8>) -> Body {
    let mut cut = body.len() / 2;
    // Land inside a line, never just after its newline.
    while cut > 0 && body.get(cut - 1) == Some(&b'\n') {
        cut -= 1;
    }
    let head = Bytes::from(body).slice(..cut);
    // The pause lets the headers and the first half reach the client before the cut.
    let stream = futures_util::stream::unfold(Some(head), |state| async move {
        match state {
            Some(head) => Some((Ok(head), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Err(io::Error::other("demo scenario cut-body")), None))
            }
        }
    });
    Body::from_stream(futures_util::StreamExt::take(stream, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_combine() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        }
        let set: ScenarioSet = "flapping+series-churn".parse().unwrap();
        assert!(set.contains(Scenario::Flapping) && set.contains(Scenario::SeriesChurn));
        assert!(!set.contains(Scenario::Slow));
        assert_eq!(set.to_string(), "flapping+series-churn");
        assert_eq!("none".parse::<ScenarioSet>(), Ok(ScenarioSet::NONE));
        assert!("flaping".parse::<ScenarioSet>().is_err());
        assert_eq!(list().lines().count(), Scenario::ALL.len());
    }

    #[test]
    fn body_rewrites() {
        let text =
            "# TYPE a_total counter\na_total{m=\"x\"} 3.0\nb 1.0\nh_bucket{le=\"+Inf\"} 2.0\n";
        assert_eq!(
            add_label(text, "replica", "r1"),
            "# TYPE a_total counter\na_total{m=\"x\",replica=\"r1\"} 3.0\nb{replica=\"r1\"} 1.0\nh_bucket{le=\"+Inf\",replica=\"r1\"} 2.0\n"
        );
        assert_eq!(
            duplicate_series(text),
            "# TYPE a_total counter\na_total{m=\"x\"} 3.0\na_total{m=\"x\"} 0.0\nb 1.0\nb 0.0\nh_bucket{le=\"+Inf\"} 2.0\n"
        );
        let om = to_openmetrics(text, 7);
        assert!(om.starts_with("# TYPE a counter\n"), "{om}");
        assert!(om.contains("h_bucket{le=\"+Inf\"} 2.0 # {trace_id=\"demo-7-1\"} 0.042"));
        assert!(om.ends_with("# EOF\n"));
        let mixed = mix_malformed(text);
        assert_eq!(mixed.lines().count(), 4 + MALFORMED_LINES);
    }

    #[test]
    fn flapping_starts_down_and_alternates() {
        let sw = ScenarioSwitch::default();
        assert!(!sw.is_down());
        sw.set_flap_half_period(Duration::from_millis(500));
        sw.set(Scenario::Flapping);
        assert!(sw.is_down());
        std::thread::sleep(Duration::from_millis(600));
        assert!(!sw.is_down());
    }
}
