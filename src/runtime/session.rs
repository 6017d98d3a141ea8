//! One monitoring session: resolves the target and credentials, starts the demo gateway and the
//! scraper, and owns the store that every view reads.
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::base::dialect::Dialect;
use crate::base::pricing::PriceTable;
use crate::base::secret::Secret;
use crate::io::config::{Config, TargetSpec};
use crate::io::demo::{self, DemoConfig, DemoGateway};
use crate::io::source::probe_feed::ProbeFeed;
use crate::io::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::model::store::{StoreLimits, TargetStore};
use crate::runtime::update::Update;

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
    /// Notices about the dashboard alone (where the probe keys go): shown after [`Self::notices`]
    /// on the dashboard, left out of a snapshot.
    pub dashboard_notices: Vec<String>,
    /// The dashboard's key bindings (defaults plus the config file's `[keys]`).
    pub keymap: crate::base::keymap::Keymap,
    /// The config file's `[budget]` section.
    pub budget: crate::model::budget::BudgetConfig,
    /// TLS certificates are not verified (`--insecure`): the dashboard keeps a badge up.
    pub insecure_tls: bool,
    /// `--record FILE`: every scrape and probe result is appended there.
    pub recorder: Option<crate::io::record::Recorder>,
    /// Every scrape outcome also goes here (`bench --tui`: the summary's server view reads the
    /// dashboard's scrapes instead of scraping the gateway a second time).
    pub scrape_tap: Option<tokio::sync::mpsc::Sender<ScrapeOutcome>>,
    /// Fleet mode (`--prometheus`, or several target URLs); `None` for one gateway.
    pub fleet: Option<crate::runtime::fleet::FleetMode>,
}

/// The HTTP client with default TLS (system roots, verified); see [`crate::base::net::http_client`].
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    crate::base::net::default_client()
}

/// Opens `--record FILE` with a header describing this session; no credential goes in.
fn open_recorder(
    path: &std::path::Path,
    target: &ScrapeTarget,
    api_base: &url::Url,
    api_key: Option<&Secret>,
    limits: StoreLimits,
) -> anyhow::Result<crate::io::record::Recorder> {
    use crate::io::record::{self, Header, Scrub};
    let mut scrub = Scrub::new();
    scrub.add_headers(&target.headers);
    scrub.add_url(&target.url);
    scrub.add_url(api_base);
    if let Some(key) = api_key {
        scrub.add(key.expose());
    }
    let header = Header {
        format: record::FORMAT_VERSION,
        llmtop: env!("CARGO_PKG_VERSION").to_string(),
        command: "scrape".to_string(),
        started: crate::base::clock::unix_now(),
        target: crate::base::secret::redact_url(&target.url, crate::base::secret::Reach::File),
        name: target.name.clone(),
        dialect: target.dialect_override.clone(),
        interval_ns: Some(u64::try_from(target.interval.as_nanos()).unwrap_or(u64::MAX)),
        api_base: Some(crate::base::secret::redact_url(
            api_base,
            crate::base::secret::Reach::File,
        )),
        limits: Some(limits.into()),
        redaction: target
            .redactor
            .as_deref()
            .map(crate::io::record::RedactionNote::of),
    };
    record::Recorder::create(path, header, scrub)
}

impl Session {
    /// Resolves everything from the arguments and starts the demo gateway if asked; the scraper
    /// starts with [`Session::start_sources`].
    /// `config` is the one the command loaded (once per run).
    pub async fn new(args: &TargetSpec, config: &Config) -> anyhow::Result<Self> {
        // Fleet mode resolves each target from the command line on its own.
        let cli_args = args;
        let resolved = config.resolve_target(args);
        let args = &resolved;
        let mut notices = Vec::new();
        let mut dashboard_notices = Vec::new();
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
            // Fleet mode through Prometheus: the target stands for the server (never scraped).
            (None, None) if args.prometheus.is_some() => {
                args.prometheus.clone().unwrap_or_default()
            }
            (None, None) => anyhow::bail!("give a target URL, or --demo"),
        };
        let url = scrape::metrics_url(&raw_url)?;
        let (headers, auth_hint) = args.scrape_headers()?;
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
            slots: slots.clamp(2, crate::model::store::MAX_SLOTS),
            max_series: args.max_series,
            max_models: args.max_models,
        };
        if slots > crate::model::store::MAX_SLOTS {
            notices.push("history capped at 1 000 000 scrapes".to_string());
        }
        if args.tls.insecure {
            notices.push(crate::base::net::INSECURE_WARNING.to_string());
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
            redactor: args.redactor(config)?,
        };
        let (api_key, _) = crate::base::credentials::resolve_api_key(
            args.api_key_file.as_deref(),
            args.api_key_env.as_deref(),
        )?;
        let recorder = match &args.record {
            Some(path) => Some(open_recorder(
                path,
                &target,
                &api_base,
                api_key.as_ref(),
                limits,
            )?),
            None => None,
        };
        let (updates_tx, updates) = mpsc::channel(256);
        let client = crate::base::net::http_client(&args.tls)?;
        let fleet = crate::runtime::fleet::FleetMode::from_args(
            cli_args,
            config,
            &client,
            dialects.clone(),
            limits,
        )?;
        if fleet.is_some() && args.api_base.is_none() {
            dashboard_notices.push(crate::runtime::fleet::PROBE_NOTICE.to_string());
        }
        Ok(Self {
            store: TargetStore::new(name, limits),
            probe_feed: ProbeFeed::new(limits),
            target,
            api_base,
            api_key,
            prices: config.price_table(),
            dialects,
            client,
            updates_tx,
            updates,
            demo,
            notices,
            dashboard_notices,
            keymap: config.keymap.clone(),
            budget: config.budget.clone(),
            insecure_tls: args.tls.insecure,
            recorder,
            scrape_tap: None,
            fleet,
        })
    }

    /// A session with no network source, fed by `llmtop replay` and `snapshot --from`; dialects,
    /// prices and keys come from `config` as for a live session.
    pub fn offline(
        target: ScrapeTarget,
        api_base: url::Url,
        limits: StoreLimits,
        config: &Config,
    ) -> anyhow::Result<Self> {
        let (updates_tx, updates) = mpsc::channel(1);
        Ok(Self {
            store: TargetStore::new(target.name.clone(), limits),
            probe_feed: ProbeFeed::new(limits),
            target,
            api_base,
            api_key: None,
            prices: config.price_table(),
            dialects: Arc::new(config.all_dialects()),
            client: http_client()?,
            updates_tx,
            updates,
            demo: None,
            notices: Vec::new(),
            dashboard_notices: Vec::new(),
            keymap: config.keymap.clone(),
            budget: config.budget.clone(),
            insecure_tls: false,
            recorder: None,
            scrape_tap: None,
            fleet: None,
        })
    }

    /// Starts the scraper task.
    pub fn start_sources(&self) {
        if let Some(fleet) = &self.fleet {
            fleet.start(
                self.client.clone(),
                self.dialects.clone(),
                self.prices.clone(),
                self.updates_tx.clone(),
                Update::Fleet,
            );
            return;
        }
        tokio::spawn(scrape::run(
            self.client.clone(),
            self.target.clone(),
            self.dialects.clone(),
            self.updates_tx.clone(),
            |outcome| Update::Scrape { target: 0, outcome },
        ));
    }

    /// Applies one scrape result to the store.
    pub fn apply_scrape(&mut self, outcome: ScrapeOutcome) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.scrape(&outcome);
        }
        if let Some(tap) = &self.scrape_tap {
            // A consumer that fell 64 scrapes behind misses one rather than stalling the screen.
            let _ = tap.try_send(outcome.clone());
        }
        match outcome {
            ScrapeOutcome::Ok(data) => {
                scrape::apply_scrape(&mut self.store, &self.dialects, &data, data.time);
            }
            ScrapeOutcome::Failed { time, error } => self.store.record_failure(time, error),
        }
    }

    /// Feeds a finished probe into the probe source.
    pub fn apply_probe(&mut self, result: &crate::io::probe::ProbeResult) {
        let now = crate::base::clock::unix_now();
        self.apply_probe_at(now, result, crate::io::record::ProbeKind::Probe);
    }

    /// Feeds one finished request of a burst into the probe source.
    pub fn apply_burst(&mut self, result: &crate::io::probe::ProbeResult) {
        let now = crate::base::clock::unix_now();
        self.apply_probe_at(now, result, crate::io::record::ProbeKind::Burst);
    }

    /// Feeds a probe that finished at `time` (a replay passes the recorded time).
    pub fn apply_probe_at(
        &mut self,
        time: f64,
        result: &crate::io::probe::ProbeResult,
        kind: crate::io::record::ProbeKind,
    ) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.probe(time, kind, result);
        }
        let cost = result.cost(&self.prices).map(|c| c.total);
        self.probe_feed.record(time, result, cost);
    }

    /// Keeps the dashboard's alert changes in the recording, if there is one.
    pub fn record_alerts(&mut self, changes: &[crate::model::alert_board::AlertChange]) {
        if let Some(recorder) = self.recorder.as_mut() {
            for change in changes {
                recorder.alert(change);
            }
        }
    }

    /// Whether the dashboard should show probe results instead of the scrape (no usable /metrics).
    pub fn showing_probes(&self) -> bool {
        self.fleet.is_none() && self.store.is_empty() && !self.probe_feed.store.is_empty()
    }

    pub async fn shutdown(self) {
        if let Some(demo) = self.demo {
            demo.shutdown().await;
        }
    }
}
