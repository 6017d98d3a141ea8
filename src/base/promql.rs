//! PromQL's math, mirrored exactly: extrapolated rate/increase/delta, histogram_quantile, heatmap cells.
//!
//! llmtop computes locally what a Prometheus server would answer, so a number on screen can be
//! checked against a Grafana panel. The reference is **Prometheus 2.42** (what CI's promtool runs;
//! `tests/fixtures/promql-vectors.json` holds its answers):
//!
//! * Range selection is closed on both ends, `[eval - range, eval]`, as in every 2.x release
//!   (3.0 made the left end open).
//! * `extrapolatedRate` applies the counter zero-point clamp to the raw gap between the range start
//!   and the first sample *before* the 1.1 × average-interval threshold decides between
//!   extrapolating to the boundary and extending by half an interval. Prometheus ≥ 2.51
//!   (PR 13725) swapped that order: threshold first, then clamp to the zero point. The two agree
//!   unless a counter starts inside the window; for a series 10, 20, 30 at 90 s/105 s/120 s,
//!   `increase([1m])` at 120 s is 30 here and 25 on ≥ 2.51.
//! * `bucketQuantile` forces monotonicity with a running maximum only; newer releases also snap
//!   bucket counts within 1e-12 of each other before that, which 2.42 does not.
//!
//! Timestamps are taken in seconds and converted to Prometheus' integer milliseconds before
//! anything else, so range membership and the durations fed into the extrapolation are
//! bit-for-bit what Prometheus computes instead of carrying `t - range` float error.

/// `rate()` at `eval_t` over `[eval_t - range, eval_t]`; samples are (unix seconds, value), sorted by time.
///
/// `None` when fewer than two samples fall in the range (Prometheus drops the series).
pub fn rate(samples: &[(f64, f64)], eval_t: f64, range: f64) -> Option<f64> {
    at_eval(samples, eval_t, range, true, true)
}

/// `increase()` at `eval_t` over `[eval_t - range, eval_t]`.
pub fn increase(samples: &[(f64, f64)], eval_t: f64, range: f64) -> Option<f64> {
    at_eval(samples, eval_t, range, true, false)
}

/// `delta()` at `eval_t` over `[eval_t - range, eval_t]`: for gauges, so no reset correction,
/// no zero-point clamp, and the result may be negative.
pub fn delta(samples: &[(f64, f64)], eval_t: f64, range: f64) -> Option<f64> {
    at_eval(samples, eval_t, range, false, false)
}

/// Prometheus' `extrapolatedRate` over the samples in `[range_start, range_end]` (both inclusive,
/// seconds); samples outside the range are ignored. `is_counter` enables reset correction and the
/// zero-point clamp; `is_rate` divides by the range length.
///
/// `None` when fewer than two samples fall in the range, or when they share one timestamp
/// (Prometheus never stores that; dividing by a zero interval would only yield NaN or ∞).
pub fn extrapolated_rate(
    samples: &[(f64, f64)],
    range_start: f64,
    range_end: f64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if !range_start.is_finite() || !range_end.is_finite() {
        return None;
    }
    extrapolated_rate_ms(
        samples,
        to_ms(range_start),
        to_ms(range_end),
        is_counter,
        is_rate,
    )
}

/// Per-bucket `rate()` of a classic histogram, i.e. what `rate(x_bucket[range])` returns, from
/// snapshots `(unix seconds, [(upper bound, cumulative count)])` sorted by time.
///
/// A bucket whose series has fewer than two samples in range is left out, exactly as Prometheus
/// drops it before `histogram_quantile` sees it. Output is sorted by bound.
pub fn bucket_rates<B: AsRef<[(f64, f64)]>>(
    snapshots: &[(f64, B)],
    eval_t: f64,
    range: f64,
) -> Vec<(f64, f64)> {
    per_bucket(snapshots, |series| rate(series, eval_t, range))
}

/// Per-bucket `increase()` of a classic histogram (the input of a Grafana heatmap column); see
/// [`bucket_rates`].
pub fn bucket_increases<B: AsRef<[(f64, f64)]>>(
    snapshots: &[(f64, B)],
    eval_t: f64,
    range: f64,
) -> Vec<(f64, f64)> {
    per_bucket(snapshots, |series| increase(series, eval_t, range))
}

/// `histogram_quantile(q, …)` over (upper bound, cumulative count) pairs in any order.
///
/// Special cases, as Prometheus: `q < 0` → -∞, `q > 1` → +∞; NaN when `q` is NaN, when there is no
/// +Inf bucket, fewer than two buckets, or zero observations. A NaN bound also yields NaN (Go's
/// sort leaves its position undefined, so no answer would be meaningful).
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.iter().any(|(bound, _)| bound.is_nan()) {
        return f64::NAN;
    }
    let mut buckets = buckets.to_vec();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets
        .last()
        .is_none_or(|&(bound, _)| bound != f64::INFINITY)
    {
        return f64::NAN;
    }
    // Duplicate bounds arise when series differing only in dropped labels meet; Prometheus sums them.
    buckets.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    // Scrapes are not atomic, so a higher bucket can briefly lag a lower one; the binary search
    // below needs non-decreasing counts.
    let mut max = buckets[0].1;
    for bucket in &mut buckets[1..] {
        if bucket.1 > max {
            max = bucket.1;
        } else if bucket.1 < max {
            bucket.1 = max;
        }
    }

    let n = buckets.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_sort_search(n - 1, |i| buckets[i].1 >= rank);

    if b == n - 1 {
        // The +Inf bucket has no width to interpolate in; the highest finite bound is the best
        // statement Prometheus can make.
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let bucket_end = buckets[b].0;
    let mut count = buckets[b].1;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Whether [`histogram_quantile`] of these buckets is only a lower bound: the rank falls in the
/// `+Inf` bucket, so PromQL answers with the highest finite bound and the true value is somewhere
/// above it. False where the quantile is unknown.
pub fn quantile_is_lower_bound(q: f64, buckets: &[(f64, f64)]) -> bool {
    if !(0.0..=1.0).contains(&q) || buckets.iter().any(|(bound, _)| bound.is_nan()) {
        return false;
    }
    // The same preparation as histogram_quantile: sorted, duplicate bounds summed, counts made
    // non-decreasing, so the answer is about the bucket its search lands in.
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut sorted {
        max = max.max(bucket.1);
        bucket.1 = max;
    }
    let n = sorted.len();
    if n < 2 || sorted[n - 1].0 != f64::INFINITY || sorted[n - 1].1 <= 0.0 {
        return false;
    }
    q * sorted[n - 1].1 > sorted[n - 2].1
}

/// Grafana's heatmap cells from per-bucket increases (cumulative, any order): de-cumulated, sorted by bound.
///
/// Cell `i` is `max(0, inc_i - inc_(i-1))`; see [`heatmap_column`] for the bound of each cell.
pub fn heatmap_cells(bucket_increases: &[(f64, f64)]) -> Vec<f64> {
    heatmap_column(bucket_increases)
        .into_iter()
        .map(|(_, cell)| cell)
        .collect()
}

/// [`heatmap_cells`] paired with each cell's upper bound, so a renderer can label rows.
pub fn heatmap_column(bucket_increases: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = bucket_increases.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut previous = 0.0;
    sorted
        .into_iter()
        .map(|(bound, increase)| {
            // Per-bucket extrapolation can leave a higher bucket marginally below a lower one;
            // a negative cell would render as nonsense, so it is shown as empty.
            let cell = (increase - previous).max(0.0);
            previous = increase;
            (bound, cell)
        })
        .collect()
}

fn at_eval(
    samples: &[(f64, f64)],
    eval_t: f64,
    range: f64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if !eval_t.is_finite() || !range.is_finite() {
        return None;
    }
    // Prometheus subtracts the range in milliseconds from the evaluation timestamp in milliseconds.
    let end = to_ms(eval_t);
    let start = end.saturating_sub(to_ms(range));
    extrapolated_rate_ms(samples, start, end, is_counter, is_rate)
}

fn to_ms(seconds: f64) -> i64 {
    // `as` saturates, so absurd timestamps cannot wrap around into the range.
    (seconds * 1000.0).round() as i64
}

fn extrapolated_rate_ms(
    samples: &[(f64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if range_end <= range_start {
        return None;
    }
    let lo = samples.partition_point(|&(t, _)| to_ms(t) < range_start);
    let hi = samples.partition_point(|&(t, _)| to_ms(t) <= range_end);
    // `get` rather than indexing: unsorted input could put `lo` past `hi`.
    let window = samples.get(lo..hi)?;
    let (&(first_t, first_v), &(last_t, last_v)) = (window.first()?, window.last()?);
    if window.len() < 2 {
        return None;
    }
    let (first_t, last_t) = (to_ms(first_t), to_ms(last_t));
    if last_t == first_t {
        return None;
    }

    let mut result = last_v - first_v;
    if is_counter {
        let mut previous = first_v;
        for &(_, value) in &window[1..] {
            if value < previous {
                // A reset: the counter restarted from zero, so everything before it still counts.
                result += previous;
            }
            previous = value;
        }
    }

    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled_interval / (window.len() - 1) as f64;

    // 2.42 order: clamp to the zero point first, then apply the threshold (see the module docs).
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // Extrapolating further back than where the slope reaches zero would invent a negative
        // counter value.
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    // A first/last sample within ~one interval of the boundary means the series likely continues
    // past it; a larger gap means it starts or ends inside the range, so guess half an interval.
    let threshold = average_interval * 1.1;
    let mut extrapolate_to = sampled_interval;
    extrapolate_to += if duration_to_start < threshold {
        duration_to_start
    } else {
        average_interval / 2.0
    };
    extrapolate_to += if duration_to_end < threshold {
        duration_to_end
    } else {
        average_interval / 2.0
    };

    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Go's `sort.Search`: the smallest `i` in `[0, n)` with `f(i)`, or `n`. Mirrored step for step
/// rather than using `partition_point`, so NaN counts probe the same elements as in Prometheus.
fn go_sort_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = i + (j - i) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}

fn per_bucket<B: AsRef<[(f64, f64)]>>(
    snapshots: &[(f64, B)],
    compute: impl Fn(&[(f64, f64)]) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut bounds: Vec<f64> = snapshots
        .iter()
        .flat_map(|(_, buckets)| buckets.as_ref().iter().map(|&(bound, _)| bound))
        .filter(|bound| !bound.is_nan())
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();

    let mut series = Vec::with_capacity(snapshots.len());
    bounds
        .into_iter()
        .filter_map(|bound| {
            series.clear();
            // A bucket missing from a snapshot is a missing sample for that bucket's series, just
            // like a scrape that lacked the `le` line.
            series.extend(snapshots.iter().filter_map(|(t, buckets)| {
                buckets
                    .as_ref()
                    .iter()
                    .find(|&&(b, _)| b == bound)
                    .map(|&(_, count)| (*t, count))
            }));
            compute(&series).map(|value| (bound, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_quantile_in_the_inf_bucket_is_only_a_lower_bound() {
        // 90 observations up to 1 s, 10 above 10 s: p95 falls in +Inf, p50 does not.
        let buckets = [(1.0, 90.0), (10.0, 90.0), (f64::INFINITY, 100.0)];
        assert_eq!(histogram_quantile(0.95, &buckets), 10.0);
        assert!(quantile_is_lower_bound(0.95, &buckets));
        assert!(!quantile_is_lower_bound(0.5, &buckets));
        assert!(
            !quantile_is_lower_bound(0.9, &buckets),
            "rank 90 is the top finite bucket's"
        );
        // Unknown quantiles are not bounds either.
        assert!(!quantile_is_lower_bound(
            0.95,
            &[(f64::INFINITY, 0.0), (1.0, 0.0)]
        ));
        assert!(!quantile_is_lower_bound(f64::NAN, &buckets));
        // Out of order, a duplicate bound and a lagging bucket: prepared as PromQL prepares them.
        let messy = [
            (f64::INFINITY, 100.0),
            (1.0, 50.0),
            (1.0, 40.0),
            (10.0, 85.0),
        ];
        assert!(quantile_is_lower_bound(0.95, &messy));
        assert!(!quantile_is_lower_bound(0.9, &messy));
    }

    use super::*;

    const INF: f64 = f64::INFINITY;

    /// Samples every `step` seconds from t=0; `None` is a missed scrape.
    fn series(step: f64, values: &[Option<f64>]) -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64 * step, v)))
            .collect()
    }

    /// Deterministic xorshift so failures reproduce without a seed dance.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn fewer_than_two_samples_in_range_is_none() {
        let s = series(15.0, &[Some(1.0), Some(2.0)]);
        assert_eq!(rate(&s, 100.0, 60.0), None);
        assert_eq!(increase(&[(120.0, 5.0)], 120.0, 60.0), None);
        assert_eq!(rate(&[], 120.0, 60.0), None);
    }

    #[test]
    fn range_is_inclusive_at_both_ends() {
        // Samples exactly on eval-range and on eval both count, as in Prometheus 2.x.
        let s = [(60.0, 0.0), (120.0, 6.0)];
        assert_eq!(increase(&s, 120.0, 60.0), Some(6.0));
        assert_eq!(increase(&[(59.999, 0.0), (120.0, 6.0)], 120.0, 60.0), None);
    }

    #[test]
    fn extrapolation_follows_2_42_order_not_2_51() {
        let s = series(
            15.0,
            &[
                None,
                None,
                None,
                None,
                None,
                None,
                Some(10.0),
                Some(20.0),
                Some(30.0),
            ],
        );
        let got = increase(&s, 120.0, 60.0).unwrap_or(f64::NAN);
        assert!(
            (got - 30.0).abs() < 1e-12,
            "2.42 gives 30 (≥2.51 gives 25), got {got}"
        );
    }

    #[test]
    fn delta_is_signed_and_not_reset_corrected() {
        let s = series(
            15.0,
            &[Some(40.0), Some(30.0), Some(20.0), Some(10.0), Some(0.0)],
        );
        assert_eq!(delta(&s, 60.0, 60.0), Some(-40.0));
        assert_eq!(increase(&s, 60.0, 60.0).map(|v| v >= 0.0), Some(true));
    }

    #[test]
    fn rate_never_negative_across_resets() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..500 {
            let mut value = rng.below(100) as f64;
            let mut samples = Vec::new();
            for i in 0..40 {
                if rng.below(8) == 0 {
                    continue; // missed scrape
                }
                if rng.below(6) == 0 {
                    value = rng.below(5) as f64; // process restart
                } else {
                    value += rng.below(20) as f64 * 0.5;
                }
                samples.push((i as f64 * 15.0 + rng.below(3) as f64, value));
            }
            for eval in (0..=600).step_by(7) {
                for range in [30.0, 60.0, 120.0, 300.0] {
                    let eval = eval as f64;
                    for got in [rate(&samples, eval, range), increase(&samples, eval, range)]
                        .into_iter()
                        .flatten()
                    {
                        assert!(
                            got >= 0.0,
                            "negative {got} at eval {eval} range {range}: {samples:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn quantile_within_bucket_bounds() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..500 {
            let finite = 1 + rng.below(8) as usize;
            let mut bound: f64 = if rng.below(4) == 0 { -1.0 } else { 0.005 };
            let mut count = 0.0;
            let mut buckets = Vec::new();
            for _ in 0..finite {
                count += rng.below(50) as f64;
                buckets.push((bound, count));
                bound = bound.abs() * 2.5 + 0.01;
            }
            buckets.push((INF, count + rng.below(10) as f64));
            let total = buckets[finite].1;
            for step in 0..=100 {
                let q = step as f64 / 100.0;
                let got = histogram_quantile(q, &buckets);
                if total == 0.0 {
                    assert!(got.is_nan());
                    continue;
                }
                if q == 0.0 && buckets[0].1 == 0.0 {
                    // Rank 0 in an empty lowest bucket interpolates 0/0: NaN, as in Prometheus.
                    assert!(
                        got.is_nan() || got == buckets[0].0,
                        "q=0 gave {got} for {buckets:?}"
                    );
                    continue;
                }
                // The bucket holding the rank, found by a plain scan independent of the code under test.
                let rank = q * total;
                let b = buckets
                    .iter()
                    .position(|&(_, c)| c >= rank)
                    .unwrap_or(finite);
                let (lower, upper) = match b {
                    _ if b == finite => (buckets[finite - 1].0, buckets[finite - 1].0),
                    0 if buckets[0].0 <= 0.0 => (buckets[0].0, buckets[0].0),
                    0 => (0.0, buckets[0].0),
                    _ => (buckets[b - 1].0, buckets[b].0),
                };
                // `start + width * 1.0` may round one ulp past the end, in Prometheus too.
                let slack = 1e-12 * upper.abs().max(1.0);
                assert!(
                    got >= lower - slack && got <= upper + slack,
                    "q={q} gave {got}, outside bucket [{lower}, {upper}] for {buckets:?}"
                );
            }
        }
    }

    #[test]
    fn quantile_monotone_in_q() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..500 {
            // Shuffled and occasionally non-monotonic counts: the running max must still give a
            // monotone answer.
            let mut buckets: Vec<(f64, f64)> = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, INF]
                .iter()
                .scan(0.0, |count, &bound| {
                    *count += rng.below(30) as f64;
                    Some((bound, *count))
                })
                .collect();
            if rng.below(3) == 0 {
                let i = rng.below(6) as usize;
                buckets[i].1 += 40.0;
            }
            buckets.reverse();
            let mut previous = f64::NEG_INFINITY;
            for step in 0..=200 {
                let q = step as f64 / 200.0;
                let got = histogram_quantile(q, &buckets);
                if got.is_nan() {
                    continue;
                }
                assert!(
                    got >= previous,
                    "q={q} gave {got} < {previous} for {buckets:?}"
                );
                previous = got;
            }
        }
    }

    #[test]
    fn quantile_special_cases() {
        let b = [(0.1, 10.0), (INF, 20.0)];
        assert!(histogram_quantile(f64::NAN, &b).is_nan());
        assert!(histogram_quantile(0.5, &[]).is_nan());
        assert!(histogram_quantile(0.5, &[(f64::NAN, 1.0), (INF, 2.0)]).is_nan());
        // Duplicate bounds are summed before anything else.
        let dup = [(0.1, 5.0), (INF, 10.0), (0.1, 5.0), (INF, 10.0)];
        assert_eq!(histogram_quantile(0.25, &dup), histogram_quantile(0.25, &b));
    }

    #[test]
    fn bucket_rates_match_single_series_rate_and_drop_sparse_buckets() {
        let snapshots: Vec<(f64, Vec<(f64, f64)>)> = (0..=8)
            .map(|i| {
                let i = i as f64;
                let mut buckets = vec![(0.5, 2.0 * i), (INF, 3.0 * i)];
                if i == 8.0 {
                    buckets.push((1.0, 1.0)); // a bucket seen only once
                }
                (i * 15.0, buckets)
            })
            .collect();
        let rates = bucket_rates(&snapshots, 120.0, 60.0);
        let inf_series: Vec<(f64, f64)> =
            (0..=8).map(|i| (i as f64 * 15.0, 3.0 * i as f64)).collect();
        assert_eq!(rates.len(), 2, "{rates:?}");
        assert_eq!(rates[0].0, 0.5);
        assert_eq!(
            rates[1],
            (INF, rate(&inf_series, 120.0, 60.0).unwrap_or(f64::NAN))
        );
        let increases = bucket_increases(&snapshots, 120.0, 60.0);
        assert_eq!(increases[0], (0.5, 8.0));
    }

    #[test]
    fn heatmap_clamps_negative_cells_and_keeps_bounds() {
        let column = heatmap_column(&[(INF, 9.0), (1.0, 10.0), (0.5, 4.0)]);
        assert_eq!(column, vec![(0.5, 4.0), (1.0, 6.0), (INF, 0.0)]);
        assert_eq!(heatmap_cells(&[]), Vec::<f64>::new());
    }
}
