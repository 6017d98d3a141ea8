//! Fleet mode: many gateway instances seen as one, through a Prometheus-compatible server
//! ([`prom`]) or by scraping several targets directly ([`direct`]), with a per-instance table so
//! the one sick replica stands out.
//!
//! Both produce the dashboard's own [`DashboardView`]; at fleet level its table lists instances
//! instead of models (Enter drills into one, Esc goes back), and [`FleetInfo`] says which.
pub mod direct;
pub mod prom;

use std::cmp::Ordering;

use crate::io::source::{promapi, queries};
use crate::model::stats::{Figures, ModelFigures};
use crate::front::tui::app::SortColumn;
use crate::model::view::DashboardView;

/// Said at start-up in fleet mode without `--api-base`.
pub const PROBE_NOTICE: &str =
    "fleet mode: probe keys go to the first target; set --api-base to probe the load balancer";

/// What a row of the instance table says after the instance name when the instance is down.
pub const DOWN_MARK: &str = " STALE";

/// One gateway instance's figures over the "now" range.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub instance: String,
    pub figures: Figures,
    /// The last scrape of it failed (direct) or `up` is 0 (Prometheus).
    pub down: bool,
}

impl InstanceRow {
    /// The row as the table draws it: the model column holds the instance name.
    pub fn as_table_row(&self) -> ModelFigures {
        ModelFigures {
            model: if self.down {
                format!("{}{DOWN_MARK}", self.instance)
            } else {
                self.instance.clone()
            },
            figures: self.figures.clone(),
        }
    }
}

/// The fleet part of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetInfo {
    /// `instance`, `pod`, or `target` for direct targets.
    pub instance_label: String,
    pub instances: Vec<InstanceRow>,
    /// The instance drilled into; `None` at fleet level (the table lists instances).
    pub drilled: Option<String>,
    /// Query or scrape errors of this refresh, in plain words.
    pub errors: Vec<String>,
    /// Queries the last refresh sent (0 for direct targets).
    pub queries_per_refresh: usize,
}

impl FleetInfo {
    /// At fleet level the table lists instances.
    pub fn table_lists_instances(&self) -> bool {
        self.drilled.is_none()
    }
}

/// Puts the instance rows into the view's table at fleet level.
pub fn show_instances(view: &mut DashboardView) {
    if let Some(info) = &view.fleet
        && info.table_lists_instances()
    {
        view.models = info
            .instances
            .iter()
            .map(InstanceRow::as_table_row)
            .collect();
    }
}

/// The table's rows in the order the dashboard draws them: by `sort`, an unknown value below
/// every known one (so last when descending, first when ascending), ties by name. One function
/// for drawing and for Enter, so the highlighted row is the one drilled.
pub fn table_order(
    rows: &[ModelFigures],
    sort: SortColumn,
    descending: bool,
) -> Vec<&ModelFigures> {
    let mut out: Vec<&ModelFigures> = rows.iter().collect();
    out.sort_by(|a, b| {
        let ord = match sort {
            SortColumn::Model => a.model.cmp(&b.model),
            col => match (col.key(&a.figures), col.key(&b.figures)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => Ordering::Equal,
            },
        };
        let ord = if descending { ord.reverse() } else { ord };
        ord.then_with(|| a.model.cmp(&b.model))
    });
    out
}

/// The instance under the table's selection at fleet level, if any.
pub fn selected_instance(
    view: &DashboardView,
    sort: SortColumn,
    descending: bool,
    selected: usize,
) -> Option<String> {
    let info = view.fleet.as_ref()?;
    if !info.table_lists_instances() {
        return None;
    }
    let row = table_order(&view.models, sort, descending)
        .get(selected)
        .map(|r| r.model.clone())?;
    Some(row.strip_suffix(DOWN_MARK).unwrap_or(&row).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, rps: Option<f64>, down: bool) -> InstanceRow {
        InstanceRow {
            instance: name.into(),
            figures: Figures {
                requests_per_second: rps,
                ..Figures::default()
            },
            down,
        }
    }

    #[test]
    fn the_selection_names_the_drawn_row() {
        let rows: Vec<ModelFigures> = [
            row("a:1", Some(1.0), false),
            row("b:1", Some(9.0), true),
            row("c:1", None, false),
            row("d:1", Some(5.0), false),
        ]
        .iter()
        .map(InstanceRow::as_table_row)
        .collect();
        let order: Vec<&str> = table_order(&rows, SortColumn::Requests, true)
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        assert_eq!(order, ["b:1 STALE", "d:1", "a:1", "c:1"]);
        let names: Vec<&str> = table_order(&rows, SortColumn::Model, false)
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        assert_eq!(names, ["a:1", "b:1 STALE", "c:1", "d:1"]);
    }
}

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
    args: &crate::app::cli::TargetArgs,
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
    let (headers, auth_hint) =
        crate::runtime::session::scrape_headers(&own).map_err(|e| anyhow::anyhow!("{raw}: {e}"))?;
    Ok(crate::io::source::scrape::ScrapeTarget {
        name: target_name(&url),
        url,
        headers,
        interval: own.interval,
        timeout: own.timeout,
        max_body_bytes: own.max_body_mib.saturating_mul(1024 * 1024),
        dialect_override: own.dialect,
        auth_hint,
    })
}

/// Builds the Prometheus API client's settings from the flags; the password is read here and
/// only ever lives in a [`crate::base::secret::Secret`].
pub fn prom_config(
    args: &crate::app::cli::TargetArgs,
    url: &str,
) -> anyhow::Result<promapi::PromConfig> {
    use anyhow::Context as _;
    let mut headers = reqwest::header::HeaderMap::new();
    for h in &args.headers {
        let (name, value) = crate::runtime::session::parse_header(h)?;
        headers.append(name, value);
    }
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
        args: &crate::app::cli::TargetArgs,
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

    /// Starts the task that feeds this fleet.
    pub fn start(
        &self,
        http: reqwest::Client,
        dialects: std::sync::Arc<Vec<crate::base::dialect::Dialect>>,
        prices: crate::base::pricing::PriceTable,
        updates: tokio::sync::mpsc::Sender<crate::runtime::update::Update>,
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
                        let update =
                            crate::runtime::update::Update::Fleet(FleetUpdate::Scrape(Box::new(tick)));
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
