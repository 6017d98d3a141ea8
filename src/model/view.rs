//! The dashboard's view model: everything the panels draw, computed from the store once per new
//! data or view change (never per frame), so rendering is a cheap pure function of it.
use crate::base::dialect::ALL_MODELS;
use crate::base::pricing::PriceTable;
use crate::base::signal::Signal;
use crate::model::stats::{self, Figures, ModelFigures};
use crate::model::store::{Heatmap, TargetStore};

/// One point of a time chart: seconds relative to the newest sample (≤ 0), value.
pub type ChartPoint = (f64, f64);

pub use crate::model::figures::ModelTokens;

/// What the status line says about the target.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub target: String,
    pub url: String,
    pub dialect: Option<String>,
    pub last_ok: Option<f64>,
    pub last_error: Option<String>,
    pub scrapes_ok: u64,
    pub scrapes_failed: u64,
    pub skipped_lines: u64,
    pub dropped_series: usize,
    pub folded_models: usize,
    /// A counter reset inside the window: the gateway restarted.
    pub restarted_at: Option<f64>,
    /// Short names of what is wrong with the exposition itself (churn, duplicates, bad bytes),
    /// which the numbers alone would hide.
    pub exposition_problems: Vec<String>,
}

/// Everything the dashboard draws.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardView {
    pub status: StatusView,
    pub window: f64,
    pub interval: f64,
    /// Time of the newest sample; `None` before the first successful scrape.
    pub eval_t: Option<f64>,
    pub rate_ok: Vec<ChartPoint>,
    pub rate_error: Vec<ChartPoint>,
    pub error_ratio: Vec<ChartPoint>,
    /// Figures over the short "now" range.
    pub now: Figures,
    /// Figures over the whole window.
    pub over_window: Figures,
    pub heatmap: Option<Heatmap>,
    pub tokens_by_model: Vec<ModelTokens>,
    pub in_flight: Option<f64>,
    pub queued: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
    /// Engine saturation over the "now" range (KV cache, queue time, preemptions, verdicts).
    pub saturation: crate::model::saturation::Saturation,
    /// The upstream deployments behind a routing gateway over the "now" range, worst first;
    /// empty where the gateway exports none.
    pub upstreams: Vec<crate::model::upstream::Upstream>,
    /// Fallbacks from one model to another over the "now" range.
    pub fallbacks: Vec<crate::model::upstream::Fallback>,
    /// Signals the current dialect cannot provide (panels say so instead of showing zeros).
    pub missing: Vec<Signal>,
    pub cost_warnings: Vec<String>,
    /// Per-model figures over the "now" range (the model table), filtered.
    pub models: Vec<ModelFigures>,
    /// The model filter in force and how many models it matched.
    pub filter: Option<String>,
    pub filter_matches: usize,
    /// Fleet mode: the instance table and what it is drilled into; `None` for one gateway.
    pub fleet: Option<crate::model::table::FleetInfo>,
    /// Each model's tokens and requests over the window, for the cost comparison.
    pub traffic: crate::model::compare::Volume,
    /// The budgets the gateway exports, soonest to run out (at the gateway's pace now) first.
    pub budgets: Vec<crate::model::budget::Budget>,
}

/// Inputs that are not in the store.
#[derive(Debug, Clone)]
pub struct ViewParams<'a> {
    pub url: &'a str,
    pub window: f64,
    pub interval: f64,
    /// Columns of the time charts and heatmap.
    pub columns: usize,
    /// Signals the active dialect maps (empty before detection).
    pub dialect_signals: &'a [Signal],
    /// Only models whose name contains this (case-insensitive) are counted.
    pub model_filter: Option<&'a str>,
}

/// The status line's names for problems in the last exposition; `snapshot` warnings say the same
/// at length.
pub fn exposition_problems(health: &crate::model::store::TargetHealth) -> Vec<String> {
    let mut problems = Vec::new();
    if health.churning_scrapes >= crate::model::store::CHURN_SCRAPES {
        problems.push("series churn".to_string());
    }
    if health.duplicate_series > 0 {
        problems.push(format!("duplicate series {}", health.duplicate_series));
    }
    if health.invalid_utf8 {
        problems.push("not UTF-8".to_string());
    }
    if health.large_scrape.is_some() {
        problems.push("large scrape".to_string());
    }
    problems
}

impl DashboardView {
    /// The data is stale at `now`: the last scrape failed, or none succeeded for three
    /// intervals.
    pub fn is_stale(&self, now: f64) -> bool {
        match self.status.last_ok {
            None => self.status.last_error.is_some(),
            Some(t) => self.status.last_error.is_some() || now - t > 3.0 * self.interval.max(1.0),
        }
    }

    pub fn compute(store: &TargetStore, prices: &PriceTable, params: &ViewParams<'_>) -> Self {
        let health = &store.health;
        let window = params.window;
        let eval_t = store.latest_time();
        let status = StatusView {
            target: store.name.clone(),
            url: params.url.to_string(),
            dialect: health.dialect.clone(),
            last_ok: health.last_ok,
            last_error: health.last_error.clone(),
            scrapes_ok: health.scrapes_ok,
            scrapes_failed: health.scrapes_failed,
            skipped_lines: health.skipped_lines_total,
            dropped_series: health.dropped_series,
            folded_models: health.folded_models,
            restarted_at: match (health.last_reset, eval_t) {
                (Some(r), Some(t)) if t - r <= window => Some(r),
                _ => None,
            },
            exposition_problems: exposition_problems(health),
        };
        let missing: Vec<Signal> = if params.dialect_signals.is_empty() {
            Vec::new()
        } else {
            Signal::ALL
                .into_iter()
                .filter(|s| !params.dialect_signals.contains(s))
                .collect()
        };
        let filtered: Option<Vec<String>> = params.model_filter.map(|f| {
            let needle = f.to_lowercase();
            store
                .models()
                .into_iter()
                .filter(|m| m.to_lowercase().contains(&needle))
                .collect()
        });
        let filter_refs: Option<Vec<&str>> = filtered
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        let only = filter_refs.as_deref();
        let filter = params.model_filter.map(str::to_string);
        let filter_matches = filtered.as_ref().map_or(0, Vec::len);
        let Some(eval_t) = eval_t else {
            return Self {
                status,
                window,
                interval: params.interval,
                eval_t: None,
                rate_ok: Vec::new(),
                rate_error: Vec::new(),
                error_ratio: Vec::new(),
                now: Figures::default(),
                over_window: Figures::default(),
                heatmap: None,
                tokens_by_model: Vec::new(),
                in_flight: None,
                queued: None,
                cache_hit_ratio: None,
                saturation: Default::default(),
                upstreams: Vec::new(),
                fallbacks: Vec::new(),
                missing,
                cost_warnings: Vec::new(),
                models: Vec::new(),
                filter,
                filter_matches,
                fleet: None,
                traffic: crate::model::compare::Volume::observed(window, Vec::new()),
                budgets: Vec::new(),
            };
        };
        let columns = params.columns.max(2);
        let step = window / columns as f64;
        // Each chart point is rate(x[range]) at the column's right edge, as a Grafana panel with
        // $__rate_interval would draw it: never shorter than a few scrape intervals.
        let range = step.max(3.0 * params.interval);
        let mut rate_ok = Vec::with_capacity(columns);
        let mut rate_error = Vec::with_capacity(columns);
        let mut error_ratio = Vec::with_capacity(columns);
        for c in 0..columns {
            let t = eval_t - window + step * (c + 1) as f64;
            let x = t - eval_t;
            let all = store.sum_rate(Signal::Requests, only, t, range);
            let err = stats::error_rate(store, only, t, range, all);
            if let Some(all) = all {
                let err = err.unwrap_or(0.0).min(all);
                rate_ok.push((x, (all - err).max(0.0)));
                rate_error.push((x, err));
                if all > 0.0 {
                    error_ratio.push((x, err / all));
                }
            }
        }
        let now_range = stats::now_range(params.interval).min(window);
        let now_figures = stats::window_figures(store, prices, only, eval_t, now_range);
        let now_pace = now_figures.totals.cost_usd_per_hour;
        let over_window = stats::figures(store, prices, only, eval_t, window);
        let tokens_by_model = tokens_by_model(store, only, eval_t, window);
        let fallbacks = crate::model::upstream::fallbacks(store, eval_t, now_range);
        let mut upstreams = crate::model::upstream::upstreams(store, &fallbacks, eval_t, now_range);
        crate::model::upstream::with_history(store, &mut upstreams, eval_t, window, columns, range);
        let heatmap = store.heatmap(
            Signal::LatencySeconds,
            only,
            eval_t - window,
            eval_t,
            columns,
        );
        Self {
            status,
            window,
            interval: params.interval,
            eval_t: Some(eval_t),
            rate_ok,
            rate_error,
            error_ratio,
            now: now_figures.totals,
            over_window,
            heatmap,
            tokens_by_model,
            in_flight: store.gauge_latest(Signal::InFlight),
            queued: store.gauge_latest(Signal::Queued),
            cache_hit_ratio: store.gauge_latest(Signal::CacheHitRatio),
            saturation: crate::model::saturation::saturation(store, eval_t, now_range, window),
            fallbacks,
            upstreams,
            missing,
            cost_warnings: now_figures.warnings,
            models: now_figures.models,
            filter,
            filter_matches,
            fleet: None,
            traffic: crate::model::compare::observed_traffic(store, only, eval_t, window),
            budgets: crate::model::budget::gateway_budgets(store, now_pace, eval_t),
        }
    }
}

/// Tokens per model over the window: total tokens where exported, else input + output.
fn tokens_by_model(
    store: &TargetStore,
    only: Option<&[&str]>,
    eval_t: f64,
    window: f64,
) -> Vec<ModelTokens> {
    let mut models: Vec<String> = store
        .models()
        .into_iter()
        .filter(|m| only.is_none_or(|o| o.contains(&m.as_str())))
        .collect();
    if only.is_none()
        && store
            .keys_of(Signal::TokensTotal)
            .iter()
            .chain(store.keys_of(Signal::TokensInput).iter())
            .any(|k| k.model == ALL_MODELS)
    {
        models.push(ALL_MODELS.to_string());
    }
    crate::model::figures::model_tokens(models.into_iter().map(|model| {
        let one = [model.as_str()];
        let inc = |s| store.sum_increase(s, Some(&one), eval_t, window);
        let tokens = crate::model::figures::total_tokens(
            inc(Signal::TokensTotal),
            inc(Signal::TokensInput),
            inc(Signal::TokensOutput),
        );
        (model, tokens)
    }))
}

/// Puts the instance rows into the view's table at fleet level.
pub fn show_instances(view: &mut DashboardView) {
    if let Some(info) = &view.fleet
        && info.table_lists_instances()
    {
        view.models = info
            .instances
            .iter()
            .map(crate::model::table::InstanceRow::as_table_row)
            .collect();
    }
}

/// The instance under the table's selection at fleet level, if any.
pub fn selected_instance(
    view: &DashboardView,
    sort: crate::model::table::SortColumn,
    descending: bool,
    selected: usize,
) -> Option<String> {
    let info = view.fleet.as_ref()?;
    if !info.table_lists_instances() {
        return None;
    }
    crate::model::table::table_order(&view.models, sort, descending)
        .get(selected)?
        .instance
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_each_exposition_problem() {
        let mut health = crate::model::store::TargetHealth::default();
        assert!(exposition_problems(&health).is_empty());
        health.churning_scrapes = crate::model::store::CHURN_SCRAPES;
        health.duplicate_series = 3;
        health.invalid_utf8 = true;
        assert_eq!(
            exposition_problems(&health),
            ["series churn", "duplicate series 3", "not UTF-8"]
        );
        health.churning_scrapes = crate::model::store::CHURN_SCRAPES - 1;
        assert_eq!(exposition_problems(&health).len(), 2);
    }
}
