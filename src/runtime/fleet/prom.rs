//! The Prometheus source: one refresh runs a bounded set of PromQL queries (see [`QUERY_BUDGET`])
//! and turns the answers into the dashboard's own view model plus the per-instance rows, so the
//! panels draw a fleet exactly as they draw one gateway.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt;

use crate::base::dialect::{ALL_MODELS, Dialect};
use crate::base::pricing::PriceTable;
use crate::base::signal::Signal;
use crate::io::source::promapi::{
    PromClient, PromError, QueryData, RangeSeries, Sample, safe_step,
};
use crate::io::source::queries::{Group, MODEL, QueryBuilder, duration};
use crate::model::figures;
use crate::model::stats::{CostSource, Figures, ModelFigures, Quantiles, TokenRates};
use crate::model::store::Heatmap;
use crate::model::table::{FleetInfo, InstanceRow};
use crate::model::view::{ChartPoint, DashboardView, ModelTokens, StatusView};

/// The most queries one refresh sends (fewer when the dialect lacks signals; identical
/// expressions are sent once per refresh):
/// 7 counters per instance and model over the "now" range, 7 per model over the window,
/// 6 fleet quantiles (latency and TTFT p50/p95/p99), 1 p95 per instance, 4 per model
/// (latency p50/p95/p99, TTFT p95), 3 gauges, `up` per instance, 2 range queries for the
/// request chart and 1 for the heatmap; then the engine's saturation (KV cache, queue-time
/// p50/p95/p99, preemptions: 5) and the gateway's upstreams (3 answer rates and cooldowns,
/// 5 gauges, 2 × 2 fallback rates and counts, 1 per `describe` rule, at most 3: 16).
pub const QUERY_BUDGET: usize = 53;

/// Queries in flight at once against the server.
const PARALLEL: usize = 4;

const COUNTERS: [Signal; 7] = [
    Signal::Requests,
    Signal::RequestsFailed,
    Signal::TokensInput,
    Signal::TokensCachedInput,
    Signal::TokensOutput,
    Signal::TokensTotal,
    Signal::SpendUsd,
];

/// What the dashboard asks one refresh to show.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRequest {
    pub window: f64,
    pub columns: usize,
    pub model_filter: Option<String>,
    /// The instance drilled into, if any.
    pub drill: Option<String>,
}

/// Everything one refresh needs besides the request.
#[derive(Debug, Clone)]
pub struct PromSource {
    pub client: PromClient,
    pub selector: String,
    pub instance_label: String,
    /// How often Prometheus scrapes the gateways: rates need ranges of several of these.
    pub scrape_interval: f64,
    /// How often the dashboard refreshes (the view's interval, for staleness).
    pub refresh: f64,
}

/// One refresh's outcome.
#[derive(Debug, Clone)]
pub struct FleetFrame {
    pub view: DashboardView,
    pub request: FleetRequest,
    pub queries_sent: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    NowCounter(usize),
    WindowCounter(usize),
    FleetQuantile(bool, usize),
    InstanceP95,
    ModelQuantile(usize),
    Gauge(usize),
    Up,
    ChartAll,
    ChartFailed,
    Heatmap,
    KvCache,
    QueueQuantile(usize),
    Preemptions,
    UpstreamRate(usize),
    Cooldowns,
    UpstreamGauge(usize),
    /// Fallbacks: answered or not, rate or count.
    Fallback(bool, bool),
    Describe(usize),
}

/// The upstream answer counters, as rates over the "now" range.
const UPSTREAM_RATES: [Signal; 3] = [
    Signal::UpstreamSuccesses,
    Signal::UpstreamFailures,
    Signal::UpstreamRequests,
];
/// The upstream gauges, per upstream.
const UPSTREAM_GAUGES: [Signal; 5] = [
    Signal::UpstreamState,
    Signal::RpmLimit,
    Signal::RemainingRequests,
    Signal::TpmLimit,
    Signal::RemainingTokens,
];
/// At most this many `describe` rules are asked per refresh.
const MAX_DESCRIBE: usize = 3;

const QS: [f64; 3] = [0.5, 0.95, 0.99];
const GAUGES: [Signal; 3] = [Signal::InFlight, Signal::Queued, Signal::CacheHitRatio];

enum Planned {
    Instant(String),
    Range(String, f64, f64, f64),
}

/// The `[time, value]` list of per-(instance, model) values of one counter.
type Grouped = Vec<(String, String, f64)>;

impl PromSource {
    /// Finds the dialect: `--dialect` if given, else by the metric names the selector matches.
    pub async fn detect_dialect<'d>(
        &self,
        dialects: &'d [Dialect],
        forced: Option<&str>,
    ) -> Result<&'d Dialect, String> {
        if let Some(name) = forced {
            return dialects
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| format!("unknown --dialect {name:?}"));
        }
        let matchers = crate::io::source::queries::selector_matchers(&self.selector)
            .map_err(|e| e.to_string())?;
        let matcher = (!matchers.is_empty()).then(|| format!("{{{matchers}}}"));
        let names = self
            .client
            .metric_names(matcher.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        crate::io::source::queries::detect(dialects, &names.data).ok_or_else(|| {
            format!(
                "no known dialect among the {} metric names the selector matches: pass --dialect NAME",
                names.data.len()
            )
        })
    }

    /// Runs one refresh at `eval_t` and builds the view. Query errors are collected and shown,
    /// never fatal: the panels whose queries worked still fill.
    pub async fn refresh(
        &self,
        dialect: &Dialect,
        prices: &PriceTable,
        request: &FleetRequest,
        eval_t: f64,
    ) -> FleetFrame {
        let now_range =
            crate::model::stats::now_range(self.scrape_interval).min(request.window.max(1.0));
        let mut frame = self
            .refresh_over(dialect, prices, request, eval_t, now_range)
            .await;
        crate::model::view::show_instances(&mut frame.view);
        frame
    }

    /// One refresh whose "now" figures (`view.now`, `view.models`, the instance rows) span
    /// `now_range` seconds; `view.models` keeps the models (the dashboard swaps in instances).
    /// `snapshot` asks for its whole window here.
    pub async fn refresh_over(
        &self,
        dialect: &Dialect,
        prices: &PriceTable,
        request: &FleetRequest,
        eval_t: f64,
        now_range: f64,
    ) -> FleetFrame {
        let mut errors: Vec<String> = Vec::new();
        let base = match QueryBuilder::new(dialect, &self.selector, &self.instance_label) {
            Ok(b) => b,
            Err(e) => {
                errors.push(e.to_string());
                return self.frame_with_errors(request, Some(dialect), eval_t, errors);
            }
        };
        let mut builder = match &request.drill {
            Some(i) => base.with_instance(i),
            None => base.clone(),
        };
        if let Some(f) = &request.model_filter {
            builder = builder.with_model_filter(f);
        }
        let window = request.window.max(1.0);
        let now_r = duration(now_range);
        let window_r = duration(window);
        let columns = request.columns.max(2);
        let step = safe_step(eval_t - window, eval_t, window / columns as f64);
        let chart_range = duration((step + self.scrape_interval).max(4.0 * self.scrape_interval));

        let mut plan: Vec<(Key, Planned)> = Vec::new();
        for (i, s) in COUNTERS.iter().enumerate() {
            if let Some(q) = builder.counter(*s, Group::InstanceModel, &now_r, false) {
                plan.push((Key::NowCounter(i), Planned::Instant(q)));
            }
            if let Some(q) = builder.counter(*s, Group::Model, &window_r, true) {
                plan.push((Key::WindowCounter(i), Planned::Instant(q)));
            }
        }
        for (ttft, signal) in [(false, Signal::LatencySeconds), (true, Signal::TtftSeconds)] {
            for (i, q) in QS.iter().enumerate() {
                if let Some(e) = builder.quantile(*q, signal, Group::Total, &now_r) {
                    plan.push((Key::FleetQuantile(ttft, i), Planned::Instant(e)));
                }
            }
        }
        if let Some(e) = builder.quantile(0.95, Signal::LatencySeconds, Group::Instance, &now_r) {
            plan.push((Key::InstanceP95, Planned::Instant(e)));
        }
        let model_quantiles = [
            (0.5, Signal::LatencySeconds),
            (0.95, Signal::LatencySeconds),
            (0.99, Signal::LatencySeconds),
            (0.95, Signal::TtftSeconds),
        ];
        for (i, (q, s)) in model_quantiles.iter().enumerate() {
            if let Some(e) = builder.quantile(*q, *s, Group::Model, &now_r) {
                plan.push((Key::ModelQuantile(i), Planned::Instant(e)));
            }
        }
        for (i, g) in GAUGES.iter().enumerate() {
            if let Some(e) = builder.gauge(*g) {
                plan.push((Key::Gauge(i), Planned::Instant(e)));
            }
        }
        let up_matchers: Vec<String> = builder.user_matchers().into_iter().collect();
        plan.push((
            Key::Up,
            Planned::Instant(format!(
                "max by ({}) (up{})",
                self.instance_label,
                up_matchers.first().map(String::as_str).unwrap_or("")
            )),
        ));
        let chart_start = eval_t - window + step;
        for (key, signal) in [
            (Key::ChartAll, Signal::Requests),
            (Key::ChartFailed, Signal::RequestsFailed),
        ] {
            if let Some(e) = builder.counter(signal, Group::Total, &chart_range, false) {
                plan.push((key, Planned::Range(e, chart_start, eval_t, step)));
            }
        }
        // A column's increase needs two samples: over a step shorter than that, it is taken
        // over the chart range and scaled back to one step (as Grafana's $__rate_interval).
        let heat_range = step.max(4.0 * self.scrape_interval).round().max(1.0);
        if let Some(e) = builder.buckets(
            Signal::LatencySeconds,
            Group::Total,
            &duration(heat_range),
            true,
        ) {
            let e = if heat_range > step {
                format!("{e} * {}", step / heat_range)
            } else {
                e
            };
            plan.push((Key::Heatmap, Planned::Range(e, chart_start, eval_t, step)));
        }

        // Saturation and upstreams, through the same tables.
        if let Some(e) = builder.gauge(Signal::KvCacheUsage) {
            plan.push((Key::KvCache, Planned::Instant(e)));
        }
        for (i, q) in QS.iter().enumerate() {
            if let Some(e) = builder.quantile(*q, Signal::QueueTimeSeconds, Group::Total, &now_r) {
                plan.push((Key::QueueQuantile(i), Planned::Instant(e)));
            }
        }
        if let Some(e) = builder.counter(Signal::Preemptions, Group::Total, &now_r, false) {
            plan.push((Key::Preemptions, Planned::Instant(e)));
        }
        for (i, s) in UPSTREAM_RATES.iter().enumerate() {
            if let Some(e) = builder.counter(*s, Group::Model, &now_r, false) {
                plan.push((Key::UpstreamRate(i), Planned::Instant(e)));
            }
        }
        if let Some(e) = builder.counter(Signal::UpstreamCooldowns, Group::Model, &now_r, true) {
            plan.push((Key::Cooldowns, Planned::Instant(e)));
        }
        for (i, g) in UPSTREAM_GAUGES.iter().enumerate() {
            if let Some(e) = builder.gauge_by_model(*g) {
                plan.push((Key::UpstreamGauge(i), Planned::Instant(e)));
            }
        }
        for (signal, ok) in [
            (Signal::FallbacksOk, true),
            (Signal::FallbacksFailed, false),
        ] {
            for count in [false, true] {
                if let Some(e) = builder.counter(signal, Group::Model, &now_r, count) {
                    plan.push((Key::Fallback(ok, count), Planned::Instant(e)));
                }
            }
        }
        let describe = builder.describe();
        for (i, (_, q)) in describe.iter().take(MAX_DESCRIBE).enumerate() {
            plan.push((Key::Describe(i), Planned::Instant(q.clone())));
        }

        let (answers, sent) = self.run(plan, eval_t).await;
        let mut instant: HashMap<Key, Vec<Sample>> = HashMap::new();
        let mut ranges: HashMap<Key, Vec<RangeSeries>> = HashMap::new();
        for (key, result) in answers {
            match result {
                Ok(Answer::Instant(v)) => {
                    instant.insert(key, v);
                }
                Ok(Answer::Range(m)) => {
                    ranges.insert(key, m);
                }
                Err(e) => {
                    let text = e.to_string();
                    if !errors.contains(&text) {
                        errors.push(text);
                    }
                }
            }
        }

        let label = |s: &Sample, name: &str| s.labels.get(name).cloned().unwrap_or_default();
        let grouped = |key: Key| -> Option<Grouped> {
            instant.get(&key).map(|v| {
                v.iter()
                    .filter(|s| s.value.is_finite())
                    .map(|s| (label(s, &self.instance_label), label(s, MODEL), s.value))
                    .collect()
            })
        };
        let now_counters: Vec<Option<Grouped>> = (0..COUNTERS.len())
            .map(|i| grouped(Key::NowCounter(i)))
            .collect();
        let window_counters: Vec<Option<Grouped>> = (0..COUNTERS.len())
            .map(|i| grouped(Key::WindowCounter(i)))
            .collect();
        let reports_failures = dialect.provides(Signal::RequestsFailed);
        let has_spend = dialect.provides(Signal::SpendUsd);

        // Instances: every name any instance-grouped answer holds, plus `up`.
        let up: BTreeMap<String, f64> = instant
            .get(&Key::Up)
            .map(|v| {
                v.iter()
                    .map(|s| (label(s, &self.instance_label), s.value))
                    .collect()
            })
            .unwrap_or_default();
        let mut instance_names: BTreeSet<String> = up.keys().cloned().collect();
        for g in now_counters.iter().flatten() {
            instance_names.extend(g.iter().map(|(i, _, _)| i.clone()));
        }
        instance_names.remove("");
        let instance_p95: BTreeMap<String, f64> = instant
            .get(&Key::InstanceP95)
            .map(|v| {
                v.iter()
                    .filter(|s| s.value.is_finite())
                    .map(|s| (label(s, &self.instance_label), s.value))
                    .collect()
            })
            .unwrap_or_default();
        let instances: Vec<InstanceRow> = instance_names
            .iter()
            .map(|name| {
                let mut figures = counter_figures(
                    &now_counters,
                    |i, _| i == name,
                    prices,
                    reports_failures,
                    has_spend,
                    1.0,
                );
                figures.latency_seconds.p95 = instance_p95.get(name).copied();
                InstanceRow {
                    instance: name.clone(),
                    figures,
                    down: up.get(name).is_some_and(|v| *v == 0.0),
                }
            })
            .collect();

        // Models: every model the counters know.
        let mut model_names: BTreeSet<String> = BTreeSet::new();
        for g in now_counters.iter().chain(&window_counters).flatten() {
            model_names.extend(g.iter().map(|(_, m, _)| m.clone()));
        }
        let per_model_q = |i: usize| -> BTreeMap<String, f64> {
            instant
                .get(&Key::ModelQuantile(i))
                .map(|v| {
                    v.iter()
                        .filter(|s| s.value.is_finite())
                        .map(|s| (label(s, MODEL), s.value))
                        .collect()
                })
                .unwrap_or_default()
        };
        let model_q: Vec<BTreeMap<String, f64>> = (0..4).map(per_model_q).collect();
        let models: Vec<ModelFigures> = model_names
            .iter()
            .filter(|m| m.as_str() != ALL_MODELS)
            .map(|m| {
                let mut figures = counter_figures(
                    &now_counters,
                    |_, model| model == m,
                    prices,
                    reports_failures,
                    has_spend,
                    1.0,
                );
                figures.latency_seconds = Quantiles {
                    p50: model_q[0].get(m).copied(),
                    p95: model_q[1].get(m).copied(),
                    p99: model_q[2].get(m).copied(),
                    ..Quantiles::default()
                };
                figures.ttft_seconds.p95 = model_q[3].get(m).copied();
                ModelFigures {
                    model: m.clone(),
                    figures,
                    instance: None,
                }
            })
            .collect();

        let scalar = |key: Key| -> Option<f64> {
            let v = instant.get(&key)?;
            v.first().map(|s| s.value).filter(|x| x.is_finite())
        };
        let mut now = counter_figures(
            &now_counters,
            |_, _| true,
            prices,
            reports_failures,
            has_spend,
            1.0,
        );
        now.latency_seconds = Quantiles {
            p50: scalar(Key::FleetQuantile(false, 0)),
            p95: scalar(Key::FleetQuantile(false, 1)),
            p99: scalar(Key::FleetQuantile(false, 2)),
            ..Quantiles::default()
        };
        now.ttft_seconds = Quantiles {
            p50: scalar(Key::FleetQuantile(true, 0)),
            p95: scalar(Key::FleetQuantile(true, 1)),
            p99: scalar(Key::FleetQuantile(true, 2)),
            ..Quantiles::default()
        };
        // Over the window: increases, turned into per-second figures and dollars spent.
        let mut over_window = counter_figures(
            &window_counters,
            |_, _| true,
            prices,
            reports_failures,
            has_spend,
            1.0 / window,
        );
        over_window.cost_usd = over_window.cost_usd_per_hour.map(|h| h / 3600.0 * window);
        now.cost_usd = now.cost_usd_per_hour.map(|h| h / 3600.0 * now_range);

        let tokens_by_model = tokens_by_model(&window_counters);
        let traffic = traffic(&window_counters, window);
        let (rate_ok, rate_error, error_ratio) = charts(
            ranges.get(&Key::ChartAll),
            ranges.get(&Key::ChartFailed),
            reports_failures,
            eval_t,
        );
        let heatmap = ranges.get(&Key::Heatmap).and_then(|m| {
            heatmap(
                m,
                chart_start,
                step,
                columns,
                builder
                    .histogram_scale(Signal::LatencySeconds)
                    .unwrap_or(1.0),
            )
        });
        let cost_warnings: Vec<String> = if has_spend {
            Vec::new()
        } else {
            crate::model::stats::unpriced_warning(&models, prices)
                .into_iter()
                .collect()
        };
        // Saturation: the KV-cache verdict only; the queue's growth and a decode stall need
        // the scrape-by-scrape history a direct scrape keeps.
        let mut saturation = crate::model::saturation::Saturation {
            in_flight: scalar(Key::Gauge(0)),
            queued: scalar(Key::Gauge(1)),
            kv_cache_usage: scalar(Key::KvCache),
            queue_time_seconds: Quantiles {
                p50: scalar(Key::QueueQuantile(0)),
                p95: scalar(Key::QueueQuantile(1)),
                p99: scalar(Key::QueueQuantile(2)),
                ..Quantiles::default()
            },
            preemptions_per_second: scalar(Key::Preemptions),
            ..Default::default()
        };
        crate::model::saturation::judge_kv_cache(&mut saturation);
        let by_model = |key: Key| -> BTreeMap<String, f64> {
            instant
                .get(&key)
                .map(|v| {
                    v.iter()
                        .filter(|s| s.value.is_finite())
                        .map(|s| (label(s, MODEL), s.value))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut fallbacks = Vec::new();
        for ok in [true, false] {
            let rates = by_model(Key::Fallback(ok, false));
            let counts = by_model(Key::Fallback(ok, true));
            let keys: BTreeSet<&String> = rates.keys().chain(counts.keys()).collect();
            for key in keys {
                fallbacks.push(crate::model::upstream::fallback(
                    key,
                    rates.get(key).copied(),
                    counts.get(key).copied(),
                    ok,
                ));
            }
        }
        crate::model::upstream::sort_fallbacks(&mut fallbacks);
        let upstreams = fleet_upstreams(&instant, &describe, by_model, &fallbacks);
        let signals = dialect.signals();
        let missing: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| !signals.contains(s))
            .collect();
        let filter_matches = models.len();
        let view = DashboardView {
            status: StatusView {
                target: request.drill.clone().unwrap_or_else(|| "fleet".to_string()),
                url: self.client.config().base.to_string(),
                dialect: Some(dialect.name.clone()),
                last_ok: errors.is_empty().then_some(eval_t),
                last_error: summary(&errors),
                scrapes_ok: 0,
                scrapes_failed: 0,
                skipped_lines: 0,
                dropped_series: 0,
                folded_models: 0,
                restarted_at: None,
                exposition_problems: Vec::new(),
            },
            window,
            interval: self.refresh,
            eval_t: Some(eval_t),
            rate_ok,
            rate_error,
            error_ratio,
            now,
            over_window,
            heatmap,
            tokens_by_model,
            in_flight: scalar(Key::Gauge(0)),
            queued: scalar(Key::Gauge(1)),
            cache_hit_ratio: scalar(Key::Gauge(2)),
            saturation,
            upstreams,
            fallbacks,
            missing,
            cost_warnings,
            models,
            filter: request.model_filter.clone(),
            filter_matches,
            traffic,
            // Budgets are read from a direct scrape only, so far.
            budgets: Vec::new(),
            fleet: Some(FleetInfo {
                instance_label: self.instance_label.clone(),
                instances,
                drilled: request.drill.clone(),
                errors,
                queries_per_refresh: sent,
            }),
        };
        FleetFrame {
            view,
            request: request.clone(),
            queries_sent: sent,
        }
    }

    /// The view before the first refresh (or when none can run): empty panels, and the
    /// errors on the status line.
    pub fn waiting_view(&self, request: &FleetRequest) -> DashboardView {
        let empty = crate::model::store::TargetStore::new(
            "fleet",
            crate::model::store::StoreLimits::default(),
        );
        let base = self.client.config().base.to_string();
        let mut view = DashboardView::compute(
            &empty,
            &PriceTable::default(),
            &crate::model::view::ViewParams {
                url: &base,
                window: request.window,
                interval: self.refresh,
                columns: request.columns.max(2),
                dialect_signals: &[],
                model_filter: request.model_filter.as_deref(),
            },
        );
        view.status.target = "fleet".to_string();
        view.fleet = Some(FleetInfo {
            instance_label: self.instance_label.clone(),
            instances: Vec::new(),
            drilled: request.drill.clone(),
            errors: Vec::new(),
            queries_per_refresh: 0,
        });
        view
    }

    fn frame_with_errors(
        &self,
        request: &FleetRequest,
        dialect: Option<&Dialect>,
        eval_t: f64,
        errors: Vec<String>,
    ) -> FleetFrame {
        let mut view = self.waiting_view(request);
        view.status.dialect = dialect.map(|d| d.name.clone());
        view.status.last_error = summary(&errors);
        view.status.last_ok = None;
        view.status.scrapes_failed = 1;
        let _ = eval_t;
        if let Some(info) = view.fleet.as_mut() {
            info.errors = errors;
        }
        FleetFrame {
            view,
            request: request.clone(),
            queries_sent: 0,
        }
    }

    /// Sends the planned queries, at most [`PARALLEL`] at once, each distinct expression once.
    async fn run(
        &self,
        plan: Vec<(Key, Planned)>,
        eval_t: f64,
    ) -> (Vec<(Key, Result<Answer, PromError>)>, usize) {
        let mut distinct: Vec<Planned> = Vec::new();
        let mut index_of: Vec<(Key, usize)> = Vec::new();
        for (key, p) in plan {
            let pos = distinct
                .iter()
                .position(|d| same(d, &p))
                .unwrap_or_else(|| {
                    distinct.push(p);
                    distinct.len() - 1
                });
            index_of.push((key, pos));
        }
        let sent = distinct.len();
        let results: Vec<(usize, Result<Answer, PromError>)> =
            futures_util::stream::iter(distinct.into_iter().enumerate())
                .map(|(i, p)| async move {
                    let r = match p {
                        Planned::Instant(q) => {
                            self.client
                                .query(&q, eval_t)
                                .await
                                .and_then(|a| match a.data {
                                    QueryData::Vector(v) => Ok(Answer::Instant(v)),
                                    QueryData::Scalar { time, value } => {
                                        Ok(Answer::Instant(vec![Sample {
                                            labels: Default::default(),
                                            time,
                                            value,
                                        }]))
                                    }
                                    _ => Err(PromError::Decode(format!(
                                        "{q}: not an instant vector"
                                    ))),
                                })
                        }
                        Planned::Range(q, start, end, step) => self
                            .client
                            .query_range(&q, start, end, step)
                            .await
                            .map(|a| Answer::Range(a.data)),
                    };
                    (i, r)
                })
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
        let by_index: HashMap<usize, Result<Answer, PromError>> = results.into_iter().collect();
        let answers = index_of
            .into_iter()
            .filter_map(|(k, i)| by_index.get(&i).map(|r| (k, r.clone())))
            .collect();
        (answers, sent)
    }
}

#[derive(Debug, Clone)]
enum Answer {
    Instant(Vec<Sample>),
    Range(Vec<RangeSeries>),
}

fn same(a: &Planned, b: &Planned) -> bool {
    match (a, b) {
        (Planned::Instant(x), Planned::Instant(y)) => x == y,
        (Planned::Range(x, a1, a2, a3), Planned::Range(y, b1, b2, b3)) => {
            x == y && a1 == b1 && a2 == b2 && a3 == b3
        }
        _ => false,
    }
}

/// The upstream rows from the answers: every name an upstream query holds, assembled by the
/// same rules as a direct scrape's, with what the `describe` queries' label sets say.
fn fleet_upstreams(
    instant: &HashMap<Key, Vec<Sample>>,
    describe: &[(&crate::base::dialect::MapRule, String)],
    by_model: impl Fn(Key) -> BTreeMap<String, f64>,
    fallbacks: &[crate::model::upstream::Fallback],
) -> Vec<crate::model::upstream::Upstream> {
    let rates: Vec<BTreeMap<String, f64>> = (0..UPSTREAM_RATES.len())
        .map(|i| by_model(Key::UpstreamRate(i)))
        .collect();
    let gauges: Vec<BTreeMap<String, f64>> = (0..UPSTREAM_GAUGES.len())
        .map(|i| by_model(Key::UpstreamGauge(i)))
        .collect();
    let cooldowns = by_model(Key::Cooldowns);
    let mut names: BTreeSet<String> = BTreeSet::new();
    for m in rates.iter().chain(&gauges).chain([&cooldowns]) {
        names.extend(m.keys().cloned());
    }
    names.remove("");
    let mut described: BTreeMap<String, crate::base::dialect::Description> = BTreeMap::new();
    for (i, (rule, _)) in describe.iter().take(MAX_DESCRIBE).enumerate() {
        let Some(d) = &rule.describe else { continue };
        let Some(answer) = instant.get(&Key::Describe(i)) else {
            continue;
        };
        let key_label = rule.model_label.as_deref().unwrap_or(MODEL);
        for sample in answer {
            let read = |l: &Option<String>| {
                l.as_ref()
                    .and_then(|l| sample.labels.get(l))
                    .filter(|v| !v.is_empty())
                    .cloned()
            };
            let Some(key) = sample.labels.get(key_label) else {
                continue;
            };
            described
                .entry(key.clone())
                .or_default()
                .update(&crate::base::dialect::Description {
                    model: read(&d.model),
                    provider: read(&d.provider),
                    api_base: read(&d.api_base),
                });
        }
    }
    let counts_failures = !rates[1].is_empty();
    let mut rows: Vec<crate::model::upstream::Upstream> = names
        .into_iter()
        .map(|name| {
            let get = |m: &BTreeMap<String, f64>| m.get(&name).copied();
            let numbers = crate::model::upstream::UpstreamNumbers {
                successes: get(&rates[0]),
                failures: get(&rates[1]),
                requests: get(&rates[2]),
                cooldowns: get(&cooldowns),
                state: get(&gauges[0]),
                rpm_limit: get(&gauges[1]),
                remaining_requests: get(&gauges[2]),
                tpm_limit: get(&gauges[3]),
                remaining_tokens: get(&gauges[4]),
            };
            let d = described.get(&name);
            crate::model::upstream::assemble(name, numbers, counts_failures, fallbacks, d)
        })
        .collect();
    crate::model::upstream::sort_worst_first(&mut rows);
    rows
}

/// Figures from per-(instance, model) counter values: sums over the pairs `keep` accepts.
/// `per_second` turns the values into rates (1 for rates, 1/window for increases).
fn counter_figures(
    counters: &[Option<Grouped>],
    keep: impl Fn(&str, &str) -> bool,
    prices: &PriceTable,
    reports_failures: bool,
    has_spend: bool,
    per_second: f64,
) -> Figures {
    let sum = |i: usize| -> Option<f64> {
        let g = counters.get(i)?.as_ref()?;
        let values: Vec<f64> = g
            .iter()
            .filter(|(inst, m, _)| keep(inst, m))
            .map(|(_, _, v)| *v * per_second)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    let requests = sum(0);
    // Missing is not zero, except that a dialect able to report failures creates the failure
    // series on the first failure: while requests flow, absent means none (as stats::error_rate).
    let errors = figures::errors(sum(1), reports_failures, requests);
    let error_ratio = figures::error_ratio(errors, requests);
    let input = sum(2);
    let output = sum(4);
    let total = figures::total_tokens(sum(5), input, output);
    let (cost, source) = if has_spend {
        (sum(6).map(|r| r * 3600.0), CostSource::GatewaySpend)
    } else {
        priced_cost(counters, &keep, prices, per_second)
    };
    Figures {
        requests_per_second: requests,
        errors_per_second: errors,
        error_ratio,
        latency_seconds: Quantiles::default(),
        ttft_seconds: Quantiles::default(),
        tokens_per_second: TokenRates {
            input,
            output,
            total,
        },
        cost_usd_per_hour: cost,
        cost_usd: None,
        cost_source: source,
    }
}

/// $/hour from token rates × each model's price, as `stats` does for one gateway.
fn priced_cost(
    counters: &[Option<Grouped>],
    keep: &impl Fn(&str, &str) -> bool,
    prices: &PriceTable,
    per_second: f64,
) -> (Option<f64>, CostSource) {
    // model → [input, cached, output, total] rates.
    let mut by_model: BTreeMap<&str, [Option<f64>; 4]> = BTreeMap::new();
    for (slot, idx) in [2usize, 3, 4, 5].iter().enumerate() {
        for (inst, m, v) in counters
            .get(*idx)
            .and_then(|c| c.as_ref())
            .into_iter()
            .flatten()
        {
            if keep(inst, m) {
                let e = by_model.entry(m.as_str()).or_default();
                *e[slot].get_or_insert(0.0) += v * per_second;
            }
        }
    }
    let mut per_hour = None::<f64>;
    let mut source = CostSource::Unknown;
    for (model, [input, cached, output, total]) in by_model {
        if model == ALL_MODELS {
            continue;
        }
        let Some(price) = prices.lookup(model) else {
            continue;
        };
        let mix = figures::TokenMix {
            input,
            cached_input: cached,
            output,
            total,
        };
        let Some((rate, src)) = figures::priced(price, &mix) else {
            continue;
        };
        *per_hour.get_or_insert(0.0) += rate * 3600.0;
        source = figures::merge_source(source, src);
    }
    (per_hour, source)
}

/// Each model's requests and tokens over the window, summed over instances, for the cost
/// comparison: the same split a direct scrape's store gives.
fn traffic(window_counters: &[Option<Grouped>], window: f64) -> crate::model::compare::Volume {
    use crate::model::compare::{SourceTraffic, Volume};
    // model → [requests, input, cached, output, total] increases.
    let mut by_model: BTreeMap<String, [Option<f64>; 5]> = BTreeMap::new();
    for (slot, idx) in [0usize, 2, 3, 4, 5].iter().enumerate() {
        for (_, m, v) in window_counters
            .get(*idx)
            .and_then(|c| c.as_ref())
            .into_iter()
            .flatten()
        {
            *by_model.entry(m.clone()).or_default()[slot].get_or_insert(0.0) += v;
        }
    }
    let sources = by_model
        .into_iter()
        .filter(|(model, _)| model != ALL_MODELS)
        .map(|(model, [requests, input, cached, output, total])| {
            let split = input.is_some() || output.is_some();
            SourceTraffic {
                model,
                input_tokens: input.unwrap_or(0.0),
                cached_input_tokens: cached.unwrap_or(0.0),
                output_tokens: output.unwrap_or(0.0),
                unsplit_tokens: if split { 0.0 } else { total.unwrap_or(0.0) },
                requests,
            }
        })
        .filter(|s| s.tokens() > 0.0)
        .collect();
    Volume::observed(window, sources)
}

fn tokens_by_model(window_counters: &[Option<Grouped>]) -> Vec<ModelTokens> {
    let mut totals: BTreeMap<String, [Option<f64>; 3]> = BTreeMap::new();
    for (slot, idx) in [2usize, 4, 5].iter().enumerate() {
        for (_, m, v) in window_counters
            .get(*idx)
            .and_then(|c| c.as_ref())
            .into_iter()
            .flatten()
        {
            *totals.entry(m.clone()).or_default()[slot].get_or_insert(0.0) += v;
        }
    }
    figures::model_tokens(
        totals
            .into_iter()
            .map(|(model, [i, o, t])| (model, figures::total_tokens(t, i, o))),
    )
}

type Charts = (Vec<ChartPoint>, Vec<ChartPoint>, Vec<ChartPoint>);

/// The request chart from `sum(rate(requests))` and `sum(rate(failed))` range answers.
fn charts(
    all: Option<&Vec<RangeSeries>>,
    failed: Option<&Vec<RangeSeries>>,
    reports_failures: bool,
    eval_t: f64,
) -> Charts {
    let points = |m: Option<&Vec<RangeSeries>>| -> BTreeMap<i64, f64> {
        m.and_then(|v| v.first())
            .map(|s| {
                s.points
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(t, v)| ((t * 1000.0).round() as i64, *v))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = points(all);
    let failed = points(failed);
    let (mut ok, mut err, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for (t_ms, total) in all {
        let x = t_ms as f64 / 1000.0 - eval_t;
        let e = failed
            .get(&t_ms)
            .copied()
            .or(reports_failures.then_some(0.0))
            .unwrap_or(0.0)
            .min(total);
        ok.push((x, (total - e).max(0.0)));
        err.push((x, e));
        if total > 0.0 {
            ratio.push((x, e / total));
        }
    }
    (ok, err, ratio)
}

/// The heatmap from `sum by (le) (increase(bucket[range]))` per step over the window: one
/// column per step, de-cumulated as Grafana does.
fn heatmap(
    series: &[RangeSeries],
    start: f64,
    step: f64,
    columns: usize,
    scale: f64,
) -> Option<Heatmap> {
    let mut by_bound: Vec<(f64, &RangeSeries)> = series
        .iter()
        .filter_map(|s| {
            let le = s.labels.get("le")?;
            let bound = crate::io::source::promapi::parse_value(le).ok()?;
            Some((bound * scale, s))
        })
        .collect();
    if by_bound.is_empty() {
        return None;
    }
    by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bounds: Vec<f64> = by_bound.iter().map(|(b, _)| *b).collect();
    let n_cols = columns.max(1);
    let mut cells = vec![vec![f64::NAN; bounds.len()]; n_cols];
    // Per column: the cumulative increases of every bucket present at that time.
    let mut per_column: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n_cols];
    for (bound, s) in &by_bound {
        for (t, v) in &s.points {
            let col = ((t - start) / step).round();
            if col < 0.0 || col >= n_cols as f64 || !v.is_finite() {
                continue;
            }
            per_column[col as usize].push((*bound, *v));
        }
    }
    for (col, incs) in per_column.iter().enumerate() {
        if incs.is_empty() {
            continue;
        }
        for (bound, cell) in crate::base::promql::heatmap_column(incs) {
            if let Some(pos) = bounds.iter().position(|b| *b == bound) {
                cells[col][pos] = cell;
            }
        }
    }
    Some(Heatmap { bounds, cells })
}

/// The refresh task: one refresh per `refresh` seconds, and at once when the dashboard asks for
/// something else (window, width, filter, drill-down). Detection runs until a dialect is found.
pub async fn run<M: Send + 'static>(
    source: PromSource,
    dialects: std::sync::Arc<Vec<Dialect>>,
    forced: Option<String>,
    prices: PriceTable,
    mut requests: tokio::sync::watch::Receiver<Option<FleetRequest>>,
    updates: tokio::sync::mpsc::Sender<M>,
    wrap: fn(super::FleetUpdate) -> M,
) {
    let mut ticker =
        tokio::time::interval(std::time::Duration::from_secs_f64(source.refresh.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dialect: Option<Dialect> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = requests.changed() => if changed.is_err() { return },
        }
        let Some(request) = requests.borrow_and_update().clone() else {
            // The dashboard has not said what it shows yet.
            continue;
        };
        let now = crate::base::clock::unix_now();
        if dialect.is_none() {
            match source.detect_dialect(&dialects, forced.as_deref()).await {
                Ok(d) => dialect = Some(d.clone()),
                Err(e) => {
                    let frame = source.frame_with_errors(&request, None, now, vec![e]);
                    let update = wrap(super::FleetUpdate::Frame(Box::new(frame)));
                    if updates.send(update).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        let Some(d) = dialect.as_ref() else { continue };
        let frame = source.refresh(d, &prices, &request, now).await;
        if let Some(e) = frame.view.status.last_error.as_ref() {
            tracing::warn!("fleet refresh: {e}");
        }
        let update = wrap(super::FleetUpdate::Frame(Box::new(frame)));
        if updates.send(update).await.is_err() {
            return;
        }
    }
}

/// The status line's account of a refresh's errors: the first in full, and how many more.
fn summary(errors: &[String]) -> Option<String> {
    let first = errors.first()?;
    Some(match errors.len() {
        1 => first.clone(),
        n => format!("{first} (+{} more query errors)", n - 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(rows: &[(&str, &str, f64)]) -> Option<Grouped> {
        Some(
            rows.iter()
                .map(|(i, m, v)| (i.to_string(), m.to_string(), *v))
                .collect(),
        )
    }

    #[test]
    fn figures_are_sums_over_instances_and_models_with_prices() {
        let prices = PriceTable::from_toml_str(
            "[[price]]\nprovider = \"x\"\nmodel = \"m1\"\ninput = 1.0\noutput = 2.0\n",
        )
        .unwrap();
        // requests, failed (absent), input, cached (absent), output, total (absent), spend (absent).
        let counters = vec![
            g(&[("a", "m1", 2.0), ("b", "m1", 3.0), ("b", "m2", 5.0)]),
            None,
            g(&[("a", "m1", 1000.0), ("b", "m1", 3000.0), ("b", "m2", 7.0)]),
            None,
            g(&[("a", "m1", 500.0), ("b", "m1", 500.0)]),
            None,
            None,
        ];
        let all = counter_figures(&counters, |_, _| true, &prices, true, false, 1.0);
        assert_eq!(all.requests_per_second, Some(10.0));
        // The dialect can report failures and none were reported: 0, not unknown.
        assert_eq!(all.errors_per_second, Some(0.0));
        assert_eq!(all.error_ratio, Some(0.0));
        assert_eq!(all.tokens_per_second.input, Some(4007.0));
        assert_eq!(all.tokens_per_second.total, Some(5007.0));
        // m1 only (m2 has no price): (4000 × $1 + 1000 × $2) / 1M per second × 3600.
        let per_hour = all.cost_usd_per_hour.unwrap();
        assert!((per_hour - 0.006 * 3600.0).abs() < 1e-9, "{per_hour}");
        assert_eq!(all.cost_source, CostSource::PriceTable);
        let b = counter_figures(&counters, |i, _| i == "b", &prices, false, false, 1.0);
        assert_eq!(b.requests_per_second, Some(8.0));
        // A dialect without a failure family leaves errors unknown.
        assert_eq!(b.errors_per_second, None);
        let none = counter_figures(&counters, |i, _| i == "zz", &prices, true, false, 1.0);
        assert_eq!(none.requests_per_second, None);
        assert_eq!(none.errors_per_second, None);
    }

    #[test]
    fn charts_align_failures_by_time() {
        let series = |points: &[(f64, f64)]| {
            vec![RangeSeries {
                labels: Default::default(),
                points: points.to_vec(),
            }]
        };
        let all = series(&[(100.0, 10.0), (110.0, 20.0), (120.0, f64::NAN)]);
        let failed = series(&[(110.0, 5.0)]);
        let (ok, err, ratio) = charts(Some(&all), Some(&failed), true, 120.0);
        assert_eq!(ok, vec![(-20.0, 10.0), (-10.0, 15.0)]);
        assert_eq!(err, vec![(-20.0, 0.0), (-10.0, 5.0)]);
        assert_eq!(ratio, vec![(-20.0, 0.0), (-10.0, 0.25)]);
    }

    #[test]
    fn heatmap_columns_are_de_cumulated_by_bound() {
        let bucket = |le: &str, points: &[(f64, f64)]| RangeSeries {
            labels: [("le".to_string(), le.to_string())].into_iter().collect(),
            points: points.to_vec(),
        };
        let series = vec![
            bucket("+Inf", &[(10.0, 6.0), (20.0, 9.0)]),
            bucket("0.5", &[(10.0, 2.0), (20.0, 9.0)]),
            bucket("0.1", &[(10.0, 1.0), (20.0, 4.0)]),
        ];
        let h = heatmap(&series, 10.0, 10.0, 2, 1.0).unwrap();
        assert_eq!(h.bounds, vec![0.1, 0.5, f64::INFINITY]);
        assert_eq!(h.cells, vec![vec![1.0, 1.0, 4.0], vec![4.0, 5.0, 0.0]]);
    }

    #[test]
    fn the_status_line_counts_further_errors() {
        assert_eq!(summary(&[]), None);
        assert_eq!(summary(&["a".into()]).as_deref(), Some("a"));
        assert_eq!(
            summary(&["a".into(), "b".into(), "c".into()]).as_deref(),
            Some("a (+2 more query errors)")
        );
    }
}
