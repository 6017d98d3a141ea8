//! PromQL's math, mirrored exactly: extrapolated rate/increase, histogram_quantile, heatmap cells.
// INTERFACE STUB — being implemented. Signatures are the contract.

/// `rate()` at `eval_t` over `[eval_t - range, eval_t]`; samples are (unix seconds, value), sorted by time.
pub fn rate(_samples: &[(f64, f64)], _eval_t: f64, _range: f64) -> Option<f64> {
    todo!()
}

/// `increase()` at `eval_t` over `[eval_t - range, eval_t]`.
pub fn increase(_samples: &[(f64, f64)], _eval_t: f64, _range: f64) -> Option<f64> {
    todo!()
}

/// `histogram_quantile(q, …)` over (upper bound, cumulative count) pairs in any order.
pub fn histogram_quantile(_q: f64, _buckets: &[(f64, f64)]) -> f64 {
    todo!()
}

/// Grafana's heatmap cells from per-bucket increases (cumulative, any order): de-cumulated, sorted by bound.
pub fn heatmap_cells(_bucket_increases: &[(f64, f64)]) -> Vec<f64> {
    todo!()
}
