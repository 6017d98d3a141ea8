//! Fleet mode: many gateway instances seen as one, through a Prometheus-compatible server
//! ([`prom`]) or by scraping several targets directly ([`direct`]), with a per-instance table so
//! the one sick replica stands out.
//!
//! Both produce the dashboard's own [`DashboardView`]; at fleet level its table lists instances
//! instead of models (Enter drills into one, Esc goes back), and [`FleetInfo`] says which.
pub mod direct;
pub mod prom;

use crate::io::source::{promapi, queries};
use crate::model::view::DashboardView;

/// Said at start-up in fleet mode without `--api-base`.
pub const PROBE_NOTICE: &str =
    "fleet mode: probe keys go to the first target; set --api-base to probe the load balancer";

/// The fleet a session shows, and how it is fed.
#[derive(Debug)]
pub enum FleetMode {
    /// Through a Prometheus-compatible server; the view arrives ready from the refresh task.
    Prometheus {
        source: prom::PromSource,
        dialect_override: Option<String>,
        latest: Option<Box<prom::FleetFrame>>,
        request: tokio::sync::watch::Sender<Option<prom::FleetRequest>>,
        drill: Option<String>,
    },
    /// Several direct targets, scraped together each interval.
    Direct {
        fleet: direct::DirectFleet,
        interval: std::time::Duration,
        drill: Option<String>,
    },
}

/// What the fleet sources send to the session.
#[derive(Debug)]
pub enum FleetUpdate {
    Frame(Box<prom::FleetFrame>),
    Scrape(Box<direct::FleetScrape>),
}

/// A target's short name in the table: host:port.
pub fn target_name(url: &url::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => "target".to_string(),
    }
}

/// One direct target with its own settings: a `[[target]]` name gets that entry's URL, headers,
/// bearer token and dialect, plus the command line's `--header`/`--bearer-token-*` (which apply
/// to every target); a plain URL gets the command line's only. Never another target's.
pub fn direct_target(
    args: &crate::io::config::TargetSpec,
    config: &crate::io::config::Config,
    dialects: &[crate::base::dialect::Dialect],
    raw: &str,
) -> anyhow::Result<crate::io::source::scrape::ScrapeTarget> {
    let mut own = args.clone();
    own.url = Some(raw.to_string());
    let own = config.resolve_target(&own);
    let url = crate::io::source::scrape::metrics_url(own.url.as_deref().unwrap_or(raw))?;
    if let Some(name) = &own.dialect
        && !dialects.iter().any(|d| &d.name == name)
    {
        anyhow::bail!("{raw}: unknown dialect {name:?}");
    }
    let (headers, auth_hint) = own
        .scrape_headers()
        .map_err(|e| anyhow::anyhow!("{raw}: {e}"))?;
    Ok(crate::io::source::scrape::ScrapeTarget {
        name: target_name(&url),
        url,
        headers,
        interval: own.interval,
        timeout: own.timeout,
        max_body_bytes: own.max_body_mib.saturating_mul(1024 * 1024),
        redactor: own.redactor(config)?,
        dialect_override: own.dialect,
        auth_hint,
    })
}

/// Builds the Prometheus API client's settings from the flags; the password is read here and
/// only ever lives in a [`crate::base::secret::Secret`].
pub fn prom_config(
    args: &crate::io::config::TargetSpec,
    url: &str,
) -> anyhow::Result<promapi::PromConfig> {
    use anyhow::Context as _;
    let headers = crate::base::credentials::header_map(&args.headers)?;
    let password = match (
        &args.basic_auth_password_env,
        &args.basic_auth_password_file,
    ) {
        (Some(var), _) => Some(crate::base::secret::Secret::from_env(var).with_context(|| {
            format!("--basic-auth-password-env {var}: the variable is not set or empty")
        })?),
        (None, Some(path)) => Some(crate::base::secret::Secret::from_file(path)?),
        (None, None) => None,
    };
    let basic_auth = match (&args.basic_auth_user, password) {
        (Some(user), Some(pw)) => Some((user.clone(), pw)),
        (Some(_), None) => anyhow::bail!(
            "--basic-auth-user needs --basic-auth-password-env VAR or --basic-auth-password-file PATH"
        ),
        (None, _) => None,
    };
    Ok(promapi::PromConfig {
        base: promapi::base_url(url)?,
        headers,
        basic_auth,
        thanos: args.thanos,
        timeout: args.timeout,
        max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
    })
}

impl FleetMode {
    /// The fleet the flags ask for, if any: `--prometheus`, or more than one target URL.
    /// `args` are the command line's own (not resolved against the config): each direct target
    /// is resolved on its own, so a credential only ever goes to the target it was set for.
    pub fn from_args(
        args: &crate::io::config::TargetSpec,
        config: &crate::io::config::Config,
        http: &reqwest::Client,
        dialects: std::sync::Arc<Vec<crate::base::dialect::Dialect>>,
        limits: crate::model::store::StoreLimits,
    ) -> anyhow::Result<Option<Self>> {
        anyhow::ensure!(
            args.prometheus.is_some()
                || (args.selector.is_none() && !args.thanos && args.basic_auth_user.is_none()),
            "--selector, --thanos and --basic-auth-user only apply with --prometheus URL"
        );
        let fleet_asked = args.prometheus.is_some() || !args.more_urls.is_empty();
        anyhow::ensure!(
            !(fleet_asked && args.record.is_some()),
            "--record keeps one target; fleet mode (--prometheus, several URLs) cannot be recorded yet"
        );
        if let Some(url) = &args.prometheus {
            // Validated now so a bad selector is a start-up error, not a screen of errors.
            let selector = args.selector.clone().unwrap_or_default();
            queries::selector_matchers(&selector)?;
            let scrape = args.prometheus_scrape_interval.as_secs_f64();
            let source = prom::PromSource {
                client: promapi::PromClient::new(http.clone(), prom_config(args, url)?),
                selector,
                instance_label: args.instance_label.clone(),
                scrape_interval: scrape,
                // Faster than Prometheus scrapes would only repeat the same numbers.
                refresh: args.interval.as_secs_f64().max(scrape),
            };
            let (request, _) = tokio::sync::watch::channel(None);
            return Ok(Some(FleetMode::Prometheus {
                source,
                dialect_override: args.dialect.clone(),
                latest: None,
                request,
                drill: None,
            }));
        }
        if args.more_urls.is_empty() {
            return Ok(None);
        }
        let mut targets: Vec<crate::io::source::scrape::ScrapeTarget> = Vec::new();
        for raw in args.url.iter().chain(&args.more_urls) {
            let mut t = direct_target(args, config, &dialects, raw)?;
            anyhow::ensure!(
                !targets.iter().any(|x| x.url == t.url),
                "{} is given twice",
                crate::base::secret::display_url(&t.url)
            );
            // Rows and drill-down go by name: two paths on one host:port need the path too.
            if targets.iter().any(|x| x.name == t.name) {
                t.name = format!("{}{}", t.name, t.url.path());
            }
            targets.push(t);
        }
        Ok(Some(FleetMode::Direct {
            fleet: direct::DirectFleet::new(targets, dialects, limits),
            interval: args.interval,
            drill: None,
        }))
    }

    /// Starts the task that feeds this fleet; `wrap` turns what it sends into the caller's
    /// channel message.
    pub fn start<M: Send + 'static>(
        &self,
        http: reqwest::Client,
        dialects: std::sync::Arc<Vec<crate::base::dialect::Dialect>>,
        prices: crate::base::pricing::PriceTable,
        updates: tokio::sync::mpsc::Sender<M>,
        wrap: fn(FleetUpdate) -> M,
    ) {
        match self {
            FleetMode::Prometheus {
                source,
                dialect_override,
                request,
                ..
            } => {
                tokio::spawn(prom::run(
                    source.clone(),
                    dialects,
                    dialect_override.clone(),
                    prices,
                    request.subscribe(),
                    updates,
                    wrap,
                ));
            }
            FleetMode::Direct {
                fleet, interval, ..
            } => {
                let targets = fleet.targets.clone();
                let mut sticky = fleet.sticky.clone();
                let interval = *interval;
                tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(interval);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        ticker.tick().await;
                        let tick =
                            direct::scrape_all(&http, &targets, &dialects, &mut sticky).await;
                        let update = wrap(FleetUpdate::Scrape(Box::new(tick)));
                        if updates.send(update).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    }

    /// Applies what a fleet source sent.
    pub fn apply(&mut self, update: FleetUpdate) {
        match (self, update) {
            (FleetMode::Prometheus { latest, .. }, FleetUpdate::Frame(frame)) => {
                *latest = Some(frame);
            }
            (FleetMode::Direct { fleet, .. }, FleetUpdate::Scrape(tick)) => fleet.apply(*tick),
            _ => {}
        }
    }

    /// Drills into one instance (`Some`) or back to the fleet (`None`).
    pub fn set_drill(&mut self, instance: Option<String>) {
        match self {
            FleetMode::Prometheus { drill, .. } | FleetMode::Direct { drill, .. } => {
                *drill = instance
            }
        }
    }

    /// The view for the dashboard. For Prometheus the newest refresh's view; a changed window,
    /// width, filter or drill-down is passed to the refresh task, which answers at once.
    pub fn view(
        &self,
        prices: &crate::base::pricing::PriceTable,
        url: &str,
        window: f64,
        columns: usize,
        model_filter: Option<&str>,
    ) -> DashboardView {
        match self {
            FleetMode::Prometheus {
                source,
                latest,
                request,
                drill,
                ..
            } => {
                let wanted = prom::FleetRequest {
                    window,
                    columns,
                    model_filter: model_filter.map(str::to_string),
                    drill: drill.clone(),
                };
                request.send_if_modified(|current| {
                    let changed = current.as_ref() != Some(&wanted);
                    if changed {
                        *current = Some(wanted.clone());
                    }
                    changed
                });
                match latest {
                    Some(frame) => frame.view.clone(),
                    None => source.waiting_view(&wanted),
                }
            }
            FleetMode::Direct {
                fleet,
                interval,
                drill,
            } => {
                let signals = fleet
                    .aggregate
                    .health
                    .dialect
                    .as_ref()
                    .and_then(|name| fleet.dialects.iter().find(|d| &d.name == name))
                    .map(|d| d.signals())
                    .unwrap_or_default();
                let params = crate::model::view::ViewParams {
                    url,
                    window,
                    interval: interval.as_secs_f64(),
                    columns,
                    dialect_signals: &signals,
                    model_filter,
                };
                fleet.view(prices, &params, drill.as_deref())
            }
        }
    }
}
