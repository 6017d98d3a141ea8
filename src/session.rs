//! One monitoring session: resolves the target and credentials, starts the demo gateway and the
//! scraper, and owns the store that every view reads.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;

use crate::cli::TargetArgs;
use crate::config::Config;
use crate::demo::{self, DemoConfig, DemoGateway};
use crate::dialect::Dialect;
use crate::pricing::PriceTable;
use crate::secret::Secret;
use crate::source::Update;
use crate::source::probe_feed::ProbeFeed;
use crate::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::store::{StoreLimits, TargetStore};

/// Environment variables the probe's API key is read from, in order.
pub const API_KEY_VARS: [&str; 2] = ["LLMTOP_API_KEY", "OPENAI_API_KEY"];

/// A running session: the store plus the channel its sources feed.
pub struct Session {
    pub store: TargetStore,
    pub target: ScrapeTarget,
    pub api_base: url::Url,
    pub api_key: Option<Secret>,
    pub prices: PriceTable,
    pub dialects: Arc<Vec<Dialect>>,
    pub client: reqwest::Client,
    pub updates_tx: mpsc::Sender<Update>,
    pub updates: mpsc::Receiver<Update>,
    pub demo: Option<DemoGateway>,
    /// Probe results as a source of their own.
    pub probe_feed: ProbeFeed,
    /// Problems found at start-up that the user should see (e.g. an unknown --dialect).
    pub notices: Vec<String>,
}

/// Parses `Name: value` into a header, marked sensitive so it is never printed by `Debug`.
pub fn parse_header(text: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = text
        .split_once(':')
        .with_context(|| "a --header must look like 'Name: value'".to_string())?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("{:?} is not a valid header name", name.trim()))?;
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
        anyhow::anyhow!("the value of header {name} has characters a header cannot hold")
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// The HTTP client every source shares: TLS verified, bounded redirects, identifiable agent.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("llmtop/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("cannot build the HTTP client")
}

fn scrape_headers(args: &TargetArgs) -> anyhow::Result<(HeaderMap, String)> {
    let mut headers = HeaderMap::new();
    for h in &args.headers {
        let (name, value) = parse_header(h)?;
        headers.append(name, value);
    }
    let token = match (&args.bearer_token_env, &args.bearer_token_file) {
        (Some(var), _) => Some(Secret::from_env(var).with_context(|| {
            format!("--bearer-token-env {var}: the variable is not set or empty")
        })?),
        (None, Some(path)) => Some(Secret::from_file(path)?),
        (None, None) => None,
    };
    let hint = match (&args.bearer_token_env, &args.bearer_token_file) {
        (Some(var), _) => format!("the bearer token in ${var} was rejected"),
        (None, Some(path)) => format!("the bearer token in {} was rejected", path.display()),
        (None, None) if headers.contains_key(AUTHORIZATION) => {
            "the Authorization header given with --header was rejected".to_string()
        }
        (None, None) => "the gateway wants credentials: set --bearer-token-env VAR or --bearer-token-file PATH (or --header 'Authorization: …')".to_string(),
    };
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| anyhow::anyhow!("the bearer token has characters a header cannot hold"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok((headers, hint))
}

fn api_key(args: &TargetArgs) -> anyhow::Result<Option<Secret>> {
    if let Some(path) = &args.api_key_file {
        return Secret::from_file(path).map(Some);
    }
    if let Some(var) = &args.api_key_env {
        return Secret::from_env(var)
            .map(Some)
            .with_context(|| format!("--api-key-env {var}: the variable is not set or empty"));
    }
    Ok(API_KEY_VARS.iter().find_map(|v| Secret::from_env(v)))
}

impl Session {
    /// Resolves everything from the arguments and starts the demo gateway if asked; the scraper
    /// starts with [`Session::start_sources`].
    pub async fn new(args: &TargetArgs) -> anyhow::Result<Self> {
        let config = Config::load(args.config.as_deref())?;
        let resolved = config.resolve_target(args);
        let args = &resolved;
        let mut notices = Vec::new();
        let demo = if args.demo {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            Some(
                demo::spawn(addr, DemoConfig::default())
                    .await
                    .context("cannot start the built-in demo gateway")?,
            )
        } else {
            None
        };
        let raw_url = match (&demo, &args.url) {
            (Some(d), _) => format!("{}/metrics", d.base_url()),
            (None, Some(u)) => u.clone(),
            (None, None) => anyhow::bail!("give a target URL, or --demo"),
        };
        let url = scrape::metrics_url(&raw_url)?;
        let (headers, auth_hint) = scrape_headers(args)?;
        let dialects = Arc::new(config.all_dialects());
        if let Some(name) = &args.dialect
            && !dialects.iter().any(|d| &d.name == name)
        {
            let known: Vec<&str> = dialects.iter().map(|d| d.name.as_str()).collect();
            anyhow::bail!("unknown --dialect {name:?}; known: {}", known.join(", "));
        }
        let api_base = match &args.api_base {
            Some(b) => {
                url::Url::parse(b).with_context(|| format!("--api-base {b:?} is not a URL"))?
            }
            None => scrape::origin(&url),
        };
        let name = match &demo {
            Some(_) => "demo".to_string(),
            None => url.host_str().unwrap_or("target").to_string(),
        };
        let slots = (args.history.as_secs_f64() / args.interval.as_secs_f64()).ceil() as usize;
        let limits = StoreLimits {
            slots: slots.clamp(2, 1_000_000),
            max_series: args.max_series,
            max_models: args.max_models,
        };
        if slots > 1_000_000 {
            notices.push("history capped at 1 000 000 scrapes".to_string());
        }
        let target = ScrapeTarget {
            url,
            name: name.clone(),
            headers,
            interval: args.interval,
            timeout: args.timeout,
            max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
            dialect_override: args.dialect.clone(),
            auth_hint,
        };
        let (updates_tx, updates) = mpsc::channel(256);
        Ok(Self {
            store: TargetStore::new(name, limits),
            probe_feed: ProbeFeed::new(limits),
            target,
            api_base,
            api_key: api_key(args)?,
            prices: config.price_table(),
            dialects,
            client: http_client()?,
            updates_tx,
            updates,
            demo,
            notices,
        })
    }

    /// Starts the scraper task.
    pub fn start_sources(&self) {
        tokio::spawn(scrape::run(
            self.client.clone(),
            0,
            self.target.clone(),
            self.dialects.clone(),
            self.updates_tx.clone(),
        ));
    }

    /// Applies one scrape result to the store.
    pub fn apply_scrape(&mut self, outcome: ScrapeOutcome) {
        match outcome {
            ScrapeOutcome::Ok(data) => {
                let health = &mut self.store.health;
                health.dialect = data.dialect.clone().or(health.dialect.take());
                health.reports_failures = health
                    .dialect
                    .as_ref()
                    .and_then(|name| self.dialects.iter().find(|d| &d.name == name))
                    .is_some_and(|d| d.provides(crate::signal::Signal::RequestsFailed));
                health.skipped_lines_last = data.skipped_lines;
                health.skipped_lines_total += data.skipped_lines as u64;
                if let Some(first) = &data.first_skipped {
                    tracing::warn!(
                        "skipped {} malformed lines, first: {first}",
                        data.skipped_lines
                    );
                }
                self.store.ingest(data.time, &data.samples);
                self.store.health.rejected_histograms += data.rejected_histograms;
                if data.dialect.is_none() {
                    self.store.record_failure(
                        data.time,
                        format!(
                            "no known dialect among {} metric families: pass --dialect NAME",
                            data.families
                        ),
                    );
                }
            }
            ScrapeOutcome::Failed { time, error } => self.store.record_failure(time, error),
        }
    }

    /// Feeds a finished probe into the probe source.
    pub fn apply_probe(&mut self, result: &crate::probe::ProbeResult) {
        let cost = result.cost(&self.prices).map(|c| c.total);
        self.probe_feed
            .record(crate::source::unix_now(), result, cost);
    }

    /// Whether the dashboard should show probe results instead of the scrape (no usable /metrics).
    pub fn showing_probes(&self) -> bool {
        self.store.is_empty() && !self.probe_feed.store.is_empty()
    }

    pub async fn shutdown(self) {
        if let Some(demo) = self.demo {
            demo.shutdown().await;
        }
    }
}
