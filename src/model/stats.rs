//! The figures every view shows — request and error rates, latency and TTFT quantiles, token
//! rates, cost — computed from the store for one model or the whole gateway over one range.
use serde::Serialize;

use crate::base::dialect::ALL_MODELS;
use crate::base::pricing::{PriceTable, TokenCounts};
use crate::base::signal::Signal;
use crate::model::store::TargetStore;

/// p50 / p95 / p99 of a histogram signal; `None` = not computable (no data, not exported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TokenRates {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub total: Option<f64>,
}

/// Where a cost figure came from, so the screen can say whether it is an estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// The gateway's own spend counter.
    GatewaySpend,
    /// Input/output tokens × the price table.
    PriceTable,
    /// Total tokens × a blended price: the gateway does not split input from output.
    BlendedEstimate,
    #[default]
    Unknown,
}

/// The figures of one model (or of all models) over one range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub requests_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    pub latency_seconds: Quantiles,
    pub ttft_seconds: Quantiles,
    pub tokens_per_second: TokenRates,
    pub cost_usd_per_hour: Option<f64>,
    /// Dollars spent over the range.
    pub cost_usd: Option<f64>,
    pub cost_source: CostSource,
}

/// One model's figures, with its name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelFigures {
    pub model: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Figures for every model and for the whole gateway, plus what could not be computed and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowFigures {
    pub models: Vec<ModelFigures>,
    pub totals: Figures,
    pub warnings: Vec<String>,
}

/// The range used for "now" figures: long enough for several samples at any interval.
pub fn now_range(interval_seconds: f64) -> f64 {
    (4.0 * interval_seconds).max(30.0)
}

fn quantiles(
    store: &TargetStore,
    signal: Signal,
    models: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> Quantiles {
    let q = |q| store.quantile(q, signal, models, eval_t, range);
    Quantiles {
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
    }
}

/// `sum(rate(requests_failed[range]))` given the request rate over the same range.
///
/// A dialect that can report failures only creates the failure series on the first failure
/// (prometheus_client labels appear on first use): while requests flow, absent means none. A
/// dialect with no failure family at all (Kong) leaves errors unknown, never 0.
pub fn error_rate(
    store: &TargetStore,
    models: Option<&[&str]>,
    eval_t: f64,
    range: f64,
    requests: Option<f64>,
) -> Option<f64> {
    let can_fail = store.health.reports_failures && store.has_signal(Signal::Requests);
    store
        .sum_rate(Signal::RequestsFailed, models, eval_t, range)
        .or((can_fail && requests.is_some()).then_some(0.0))
}

/// Figures for `models` (all when `None`) from `eval_t - range` to `eval_t`.
pub fn figures(
    store: &TargetStore,
    prices: &PriceTable,
    models: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> Figures {
    let rate = |s| store.sum_rate(s, models, eval_t, range);
    let requests = rate(Signal::Requests);
    let errors = error_rate(store, models, eval_t, range, requests);
    let error_ratio = match (errors, requests) {
        (Some(e), Some(r)) if r > 0.0 => Some((e / r).clamp(0.0, 1.0)),
        _ => None,
    };
    let input = rate(Signal::TokensInput);
    let output = rate(Signal::TokensOutput);
    let total = rate(Signal::TokensTotal).or(match (input, output) {
        (None, None) => None,
        // Embedding-only traffic has input and no output: the total is still known.
        (i, o) => Some(i.unwrap_or(0.0) + o.unwrap_or(0.0)),
    });
    let (cost_usd_per_hour, cost_usd, cost_source) = cost(store, prices, models, eval_t, range);
    Figures {
        requests_per_second: requests,
        errors_per_second: errors,
        error_ratio,
        latency_seconds: quantiles(store, Signal::LatencySeconds, models, eval_t, range),
        ttft_seconds: quantiles(store, Signal::TtftSeconds, models, eval_t, range),
        tokens_per_second: TokenRates {
            input,
            output,
            total,
        },
        cost_usd_per_hour,
        cost_usd,
        cost_source,
    }
}

/// Cost per hour and over the range, from the gateway's spend counter when it has one, else
/// from tokens × prices, summed per model (each model has its own price).
fn cost(
    store: &TargetStore,
    prices: &PriceTable,
    models: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> (Option<f64>, Option<f64>, CostSource) {
    if store.has_signal(Signal::SpendUsd) {
        let per_second = store.sum_rate(Signal::SpendUsd, models, eval_t, range);
        let spent = store.sum_increase(Signal::SpendUsd, models, eval_t, range);
        return (
            per_second.map(|r| r * 3600.0),
            spent,
            CostSource::GatewaySpend,
        );
    }
    let all = store.models();
    let chosen: Vec<&str> = match models {
        Some(ms) => ms.to_vec(),
        None => all.iter().map(String::as_str).collect(),
    };
    let mut per_hour = None::<f64>;
    let mut spent = None::<f64>;
    let mut source = CostSource::Unknown;
    for model in chosen {
        let Some((h, s, src)) = model_cost(store, prices, model, eval_t, range) else {
            continue;
        };
        *per_hour.get_or_insert(0.0) += h;
        *spent.get_or_insert(0.0) += s.unwrap_or(0.0);
        source = match (source, src) {
            (CostSource::BlendedEstimate, _) | (_, CostSource::BlendedEstimate) => {
                CostSource::BlendedEstimate
            }
            _ => src,
        };
    }
    (per_hour, spent, source)
}

/// One model's $/hour and $ over the range; `None` when it has no price or no token data.
fn model_cost(
    store: &TargetStore,
    prices: &PriceTable,
    model: &str,
    eval_t: f64,
    range: f64,
) -> Option<(f64, Option<f64>, CostSource)> {
    if model == ALL_MODELS {
        return None;
    }
    let price = prices.lookup(model)?;
    let one = [model];
    let rate = |s| store.sum_rate(s, Some(&one), eval_t, range);
    let inc = |s| store.sum_increase(s, Some(&one), eval_t, range);
    let split = |f: &dyn Fn(Signal) -> Option<f64>| -> Option<f64> {
        let input = f(Signal::TokensInput);
        let output = f(Signal::TokensOutput);
        if input.is_none() && output.is_none() {
            return None;
        }
        let tokens = TokenCounts {
            input: input.unwrap_or(0.0),
            cached_input: f(Signal::TokensCachedInput).unwrap_or(0.0),
            output: output.unwrap_or(0.0),
        };
        Some(price.cost_usd(tokens).total)
    };
    if let Some(per_second) = split(&rate) {
        return Some((per_second * 3600.0, split(&inc), CostSource::PriceTable));
    }
    let blended = price.blended_per_mtok() / 1e6;
    let per_second = rate(Signal::TokensTotal)? * blended;
    let spent = inc(Signal::TokensTotal).map(|t| t * blended);
    Some((per_second * 3600.0, spent, CostSource::BlendedEstimate))
}

/// The warning for models that moved tokens but have no price, so the cost leaves them out;
/// `None` when every such model is priced. Only meaningful when the gateway reports no spend.
pub fn unpriced_warning(models: &[ModelFigures], prices: &PriceTable) -> Option<String> {
    let unpriced: Vec<&str> = models
        .iter()
        .filter(|m| prices.lookup(&m.model).is_none())
        .filter(|m| m.figures.tokens_per_second.total.is_some())
        .map(|m| m.model.as_str())
        .collect();
    (!unpriced.is_empty()).then(|| {
        format!(
            "no price for {}: cost excludes them (add a [[price]] row in the config)",
            unpriced.join(", ")
        )
    })
}

/// Figures for each model and the whole gateway, with warnings for what is missing.
/// `only` restricts both the rows and the totals to those models (`None` = every model).
pub fn window_figures(
    store: &TargetStore,
    prices: &PriceTable,
    only: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> WindowFigures {
    let models: Vec<ModelFigures> = store
        .models()
        .into_iter()
        .filter(|m| only.is_none_or(|o| o.contains(&m.as_str())))
        .map(|model| ModelFigures {
            figures: figures(store, prices, Some(&[model.as_str()]), eval_t, range),
            model,
        })
        .collect();
    let totals = figures(store, prices, only, eval_t, range);
    let mut warnings = Vec::new();
    if !store.has_signal(Signal::SpendUsd) {
        warnings.extend(unpriced_warning(&models, prices));
        if totals.cost_source == CostSource::BlendedEstimate {
            warnings.push(
                "cost is an estimate: the gateway exports only total tokens, priced at each model's output price"
                    .to_string(),
            );
        }
    }
    WindowFigures {
        models,
        totals,
        warnings,
    }
}
