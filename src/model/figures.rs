//! The rules behind every figure, as plain numbers in and out: the store-fed figures
//! ([`crate::model::stats`]) and fleet mode's PromQL-fed ones (`runtime::fleet::prom`) both call
//! these, so a rule (what "total tokens" means, how a cost is priced, when a missing failure
//! series means zero) exists once.
use serde::Serialize;

use crate::base::pricing::{Price, TokenCounts};

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

/// Token share of one model over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTokens {
    pub model: String,
    pub tokens: f64,
}

/// Total tokens: the exported total, else input + output. Embedding-only traffic has input and
/// no output: the total is still known. Unknown only when nothing is.
pub fn total_tokens(total: Option<f64>, input: Option<f64>, output: Option<f64>) -> Option<f64> {
    total.or(match (input, output) {
        (None, None) => None,
        (i, o) => Some(i.unwrap_or(0.0) + o.unwrap_or(0.0)),
    })
}

/// Failed requests: the failure series when there is one. Missing is not zero, except that a
/// dialect able to report failures creates the failure series on the first failure: while
/// requests flow, absent means none.
pub fn errors(failed: Option<f64>, reports_failures: bool, requests: Option<f64>) -> Option<f64> {
    failed.or((reports_failures && requests.is_some()).then_some(0.0))
}

/// Errors over requests, in 0…1; unknown without requests.
pub fn error_ratio(errors: Option<f64>, requests: Option<f64>) -> Option<f64> {
    match (errors, requests) {
        (Some(e), Some(r)) if r > 0.0 => Some((e / r).clamp(0.0, 1.0)),
        _ => None,
    }
}

/// One model's tokens over a range (rates or increases), each unknown until seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenMix {
    pub input: Option<f64>,
    pub cached_input: Option<f64>,
    pub output: Option<f64>,
    pub total: Option<f64>,
}

/// What a mix costs at `price`, in the mix's unit (per second for rates, USD for increases):
/// priced by input, cached input and output where the split is known, else the total at the
/// blended price (an estimate, said so by the source).
pub fn priced(price: &Price, mix: &TokenMix) -> Option<(f64, CostSource)> {
    if mix.input.is_some() || mix.output.is_some() {
        let tokens = TokenCounts {
            input: mix.input.unwrap_or(0.0),
            cached_input: mix.cached_input.unwrap_or(0.0),
            output: mix.output.unwrap_or(0.0),
        };
        return Some((price.cost_usd(tokens).total, CostSource::PriceTable));
    }
    mix.total.map(|t| {
        (
            t * price.blended_per_mtok() / 1e6,
            CostSource::BlendedEstimate,
        )
    })
}

/// The source of a sum of costs: an estimate anywhere makes the sum an estimate.
pub fn merge_source(sum: CostSource, part: CostSource) -> CostSource {
    match (sum, part) {
        (CostSource::BlendedEstimate, _) | (_, CostSource::BlendedEstimate) => {
            CostSource::BlendedEstimate
        }
        _ => part,
    }
}

/// The pie's slices: models with tokens, most first, ties by name.
pub fn model_tokens(models: impl IntoIterator<Item = (String, Option<f64>)>) -> Vec<ModelTokens> {
    let mut out: Vec<ModelTokens> = models
        .into_iter()
        .filter_map(|(model, tokens)| {
            let tokens = tokens?;
            (tokens > 0.0).then_some(ModelTokens { model, tokens })
        })
        .collect();
    out.sort_by(|a, b| b.tokens.total_cmp(&a.tokens).then(a.model.cmp(&b.model)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_tokens_fall_back_to_input_plus_output() {
        assert_eq!(total_tokens(Some(7.0), Some(1.0), Some(2.0)), Some(7.0));
        assert_eq!(total_tokens(None, Some(1.0), Some(2.0)), Some(3.0));
        assert_eq!(total_tokens(None, Some(4.0), None), Some(4.0));
        assert_eq!(total_tokens(None, None, None), None);
    }

    #[test]
    fn missing_failures_are_zero_only_where_the_dialect_reports_them() {
        assert_eq!(errors(None, true, Some(5.0)), Some(0.0));
        assert_eq!(errors(None, false, Some(5.0)), None);
        assert_eq!(errors(None, true, None), None);
        assert_eq!(errors(Some(1.0), false, None), Some(1.0));
        assert_eq!(error_ratio(Some(1.0), Some(4.0)), Some(0.25));
        assert_eq!(error_ratio(Some(1.0), Some(0.0)), None);
    }

    #[test]
    fn a_mix_is_priced_by_its_split_else_blended() {
        let price = crate::base::pricing::PriceTable::builtin();
        let price = price.lookup("gpt-4o").expect("gpt-4o is priced");
        let split = TokenMix {
            input: Some(1e6),
            output: Some(1e6),
            ..TokenMix::default()
        };
        let (usd, source) = priced(price, &split).unwrap();
        assert_eq!(source, CostSource::PriceTable);
        assert!((usd - (price.input + price.output)).abs() < 1e-9, "{usd}");
        let blended = TokenMix {
            total: Some(2e6),
            ..TokenMix::default()
        };
        let (usd, source) = priced(price, &blended).unwrap();
        assert_eq!(source, CostSource::BlendedEstimate);
        assert!((usd - 2.0 * price.blended_per_mtok()).abs() < 1e-9, "{usd}");
        assert_eq!(priced(price, &TokenMix::default()), None);
        assert_eq!(
            merge_source(CostSource::PriceTable, CostSource::BlendedEstimate),
            CostSource::BlendedEstimate
        );
        assert_eq!(
            merge_source(CostSource::Unknown, CostSource::PriceTable),
            CostSource::PriceTable
        );
    }
}
