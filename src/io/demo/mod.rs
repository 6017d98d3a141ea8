//! The built-in simulated LLM gateway: OpenAI-compatible chat completions plus seed-dialect `/metrics`.
//!
//! `llmtop --demo` points the dashboard at it, and tests use it as a real HTTP peer on loopback.
//! Endpoints: `GET /metrics`, `GET /v1/models`, `POST /v1/chat/completions` (with fault injection
//! through the [`FAULT_HEADER`] request header, see [`FAULT_KEY_HEADER`] for `fail_first`), and
//! whole-gateway misbehaviour through a [`Scenario`] set switchable at runtime.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod chat;
mod fault;
mod metrics;
mod models;
mod router;
pub mod scenario;
mod traffic;

pub use fault::{FAULT_HEADER, FAULT_KEY_HEADER};
pub use models::MODEL_IDS;
pub use scenario::{Scenario, ScenarioSet, ScenarioSwitch};

/// How long [`DemoGateway::shutdown`] lets open connections finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Seed for the synthetic traffic and the generated answers; `None` = from entropy.
    pub seed: Option<u64>,
    /// Generate background traffic; `false` = only real requests move the metrics (exact tests).
    pub traffic: bool,
    /// Multiplier for answer timing (TTFT and per-token gaps); `0.0` = no sleeps at all.
    /// `slow_first_token` faults are not scaled.
    pub latency_scale: f64,
    /// Average synthetic request rate outside bursts.
    pub requests_per_second: f64,
    /// A stated capacity: at most this many chat requests are served at once, each holding its
    /// slot for a fixed time, the rest wait for one. `None` = no limit.
    pub capacity: Option<Capacity>,
}

/// `llmtop demo --capacity N --service-time D`: a gateway whose throughput limit is a known
/// number, `concurrent / service` requests per second, so a capacity search can be checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub concurrent: usize,
    pub service: Duration,
}

impl Capacity {
    /// The most requests per second it can finish.
    pub fn requests_per_second(&self) -> f64 {
        self.concurrent as f64 / self.service.as_secs_f64().max(1e-9)
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: None,
            traffic: true,
            latency_scale: 1.0,
            requests_per_second: 20.0,
            capacity: None,
        }
    }
}

/// State shared by the HTTP handlers and the traffic task.
pub(crate) struct Shared {
    metrics: Arc<metrics::Metrics>,
    latency_scale: f64,
    seed: u64,
    request_seq: AtomicU64,
    fail_first: fault::FailFirstCounters,
    scenarios: ScenarioSwitch,
    /// Flipped to `true` once; everything that waits also watches it.
    shutdown: watch::Sender<bool>,
    /// The stated capacity's slots and service time.
    capacity: Option<(tokio::sync::Semaphore, Duration)>,
}

impl Shared {
    /// A per-request generator: reproducible for a fixed seed and request order.
    fn request_rng(&self) -> StdRng {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed) + 1;
        StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// A running demo gateway. Dropping it does not stop it; call [`DemoGateway::shutdown`].
pub struct DemoGateway {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<std::io::Result<()>>,
    traffic: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DemoGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoGateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DemoGateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// The live scenario set: flip it to make the running gateway misbehave (or behave again).
    pub fn scenarios(&self) -> &ScenarioSwitch {
        &self.shared.scenarios
    }
    /// Stops accepting, ends open streams and the traffic task, and waits (briefly) for both.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        let server = self.server;
        let abort = server.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
            tracing::warn!(addr = %self.addr, "demo gateway did not drain in time; aborting");
            abort.abort();
        }
        if let Some(traffic) = self.traffic {
            let abort = traffic.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, traffic).await.is_err() {
                abort.abort();
            }
        }
        tracing::debug!(addr = %self.addr, "demo gateway stopped");
    }
}

/// Binds `addr` (port 0 = a free port), starts the HTTP server and the synthetic traffic, returns at once.
pub async fn spawn(addr: SocketAddr, config: DemoConfig) -> anyhow::Result<DemoGateway> {
    spawn_with_scenarios(addr, config, ScenarioSet::NONE).await
}

/// [`spawn`], misbehaving as `scenarios` says from the first request on.
pub async fn spawn_with_scenarios(
    addr: SocketAddr,
    config: DemoConfig,
    scenarios: ScenarioSet,
) -> anyhow::Result<DemoGateway> {
    anyhow::ensure!(
        config.latency_scale.is_finite() && config.latency_scale >= 0.0,
        "latency_scale must be a finite number >= 0, got {}",
        config.latency_scale
    );
    anyhow::ensure!(
        config.requests_per_second.is_finite() && config.requests_per_second >= 0.0,
        "requests_per_second must be a finite number >= 0, got {}",
        config.requests_per_second
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the demo gateway to {addr}"))?;
    let addr = listener.local_addr()?;

    let seed = config.seed.unwrap_or_else(|| rand::rng().random());
    const INITIAL_CACHE_RATIO: f64 = 0.45;
    let switch = ScenarioSwitch::new(scenarios);
    let metrics = Arc::new(metrics::Metrics::new(INITIAL_CACHE_RATIO));
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        // With a stated capacity the service time is the whole answer time, so the limit is
        // exactly concurrent / service.
        latency_scale: if config.capacity.is_some() {
            0.0
        } else {
            config.latency_scale
        },
        seed,
        request_seq: AtomicU64::new(0),
        fail_first: fault::FailFirstCounters::default(),
        scenarios: switch.clone(),
        shutdown,
        capacity: config
            .capacity
            .map(|c| (tokio::sync::Semaphore::new(c.concurrent.max(1)), c.service)),
    });

    let app = Router::new()
        .route("/metrics", get(chat::metrics))
        .route("/v1/models", get(chat::list_models))
        .route("/v1/chat/completions", post(chat::completions))
        .fallback(chat::not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            scenario::middleware,
        ))
        .with_state(shared.clone());
    let listener = scenario::FlapListener {
        inner: listener,
        switch: shared.scenarios.clone(),
    };
    let mut stop = shared.shutdown.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });

    let traffic = config.traffic.then(|| {
        let sim = traffic::Simulator::new(seed, config.requests_per_second, INITIAL_CACHE_RATIO);
        tokio::spawn(traffic::run(
            sim,
            metrics,
            switch,
            shared.shutdown.subscribe(),
        ))
    });
    tracing::info!(%addr, seed, traffic = config.traffic, %scenarios, "demo gateway listening");
    Ok(DemoGateway {
        addr,
        shared,
        server,
        traffic,
    })
}

/// With `wanted`: a demo gateway on a free loopback port that serves only real requests (no
/// synthetic traffic), for `llmtop probe --demo` and `llmtop bench --demo`.
pub async fn spawn_quiet(wanted: bool) -> anyhow::Result<Option<DemoGateway>> {
    if !wanted {
        return Ok(None);
    }
    let config = DemoConfig {
        traffic: false,
        ..DemoConfig::default()
    };
    let gateway = spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .context("cannot start the built-in demo gateway")?;
    Ok(Some(gateway))
}
