//! The figures every view shows — request and error rates, latency and TTFT quantiles, token
//! rates, cost — computed from the store for one model or the whole gateway over one range.
use serde::Serialize;

use crate::base::dialect::ALL_MODELS;
use crate::base::pricing::PriceTable;
use crate::base::signal::Signal;
use crate::model::figures;
use crate::model::store::TargetStore;

/// p50 / p95 / p99 of a histogram signal; `None` = not computable (no data, not exported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// The quantile fell in the `+Inf` bucket: the number is the highest finite bound and the
    /// true value lies above it (shown as `≥ 10 s`). In JSON only when true, beside the number.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub p50_at_least: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub p95_at_least: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub p99_at_least: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TokenRates {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub total: Option<f64>,
}

pub use crate::model::figures::CostSource;

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
    /// The row's label: a model's name, or in fleet mode an instance's (with its STALE mark).
    pub model: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// In fleet mode, the instance the row stands for (what Enter drills into); `None` for a
    /// model. Never part of the JSON.
    #[serde(skip)]
    pub instance: Option<String>,
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

/// p50, p95 and p99 of a histogram signal, each marked where it is only a lower bound.
pub fn quantiles(
    store: &TargetStore,
    signal: Signal,
    models: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> Quantiles {
    let q = |q| store.quantile_bound(q, signal, models, eval_t, range);
    let (p50, p95, p99) = (q(0.5), q(0.95), q(0.99));
    Quantiles {
        p50: p50.map(|(v, _)| v),
        p95: p95.map(|(v, _)| v),
        p99: p99.map(|(v, _)| v),
        p50_at_least: p50.is_some_and(|(_, b)| b),
        p95_at_least: p95.is_some_and(|(_, b)| b),
        p99_at_least: p99.is_some_and(|(_, b)| b),
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
    figures::errors(
        store.sum_rate(Signal::RequestsFailed, models, eval_t, range),
        can_fail,
        requests,
    )
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
    let error_ratio = figures::error_ratio(errors, requests);
    let input = rate(Signal::TokensInput);
    let output = rate(Signal::TokensOutput);
    let total = figures::total_tokens(rate(Signal::TokensTotal), input, output);
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
        source = figures::merge_source(source, src);
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
    let mix = |f: &dyn Fn(Signal) -> Option<f64>, split: bool| figures::TokenMix {
        input: if split { f(Signal::TokensInput) } else { None },
        cached_input: if split {
            f(Signal::TokensCachedInput)
        } else {
            None
        },
        output: if split { f(Signal::TokensOutput) } else { None },
        total: if split { None } else { f(Signal::TokensTotal) },
    };
    // Priced by the split where the gateway exports it, else the total at the blended price;
    // the amount spent is priced the same way as the rate.
    let split = rate(Signal::TokensInput).is_some() || rate(Signal::TokensOutput).is_some();
    let (per_second, source) = figures::priced(price, &mix(&rate, split))?;
    let spent = figures::priced(price, &mix(&inc, split)).map(|(usd, _)| usd);
    Some((per_second * 3600.0, spent, source))
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
            instance: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::signal::{CanonicalSample, CanonicalValue};
    use crate::model::store::StoreLimits;

    fn latency(count_fast: f64, count_all: f64) -> CanonicalSample {
        CanonicalSample {
            signal: Signal::LatencySeconds,
            model: "m".into(),
            series_id: 1,
            value: CanonicalValue::Histogram {
                buckets: vec![
                    (1.0, count_fast),
                    (10.0, count_fast),
                    (f64::INFINITY, count_all),
                ],
                sum: 0.0,
                count: count_all,
            },
        }
    }

    /// 90 of 100 new requests under 1 s, 10 beyond the last bound: p50 is known, p95 and p99 are
    /// only "at least 10 s", in the figures and in the JSON beside the number.
    #[test]
    fn quantiles_beyond_the_last_bound_are_marked_lower_bounds() {
        let mut store = TargetStore::new("gw", StoreLimits::default());
        store.ingest(100.0, &[latency(0.0, 0.0)]);
        store.ingest(110.0, &[latency(90.0, 100.0)]);
        let q = quantiles(&store, Signal::LatencySeconds, None, 110.0, 10.0);
        assert!((q.p50.unwrap() - 1.0 * 50.0 / 90.0).abs() < 1e-9, "{q:?}");
        assert!(!q.p50_at_least);
        assert_eq!((q.p95, q.p95_at_least), (Some(10.0), true));
        assert_eq!((q.p99, q.p99_at_least), (Some(10.0), true));
        let json = serde_json::to_value(q).unwrap();
        assert_eq!(json["p95_at_least"], true);
        assert!(
            json.get("p50_at_least").is_none(),
            "only where it is a bound: {json}"
        );
    }
}
