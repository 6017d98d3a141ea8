//! Property tests: exposition round trips, PromQL rate/increase/quantile invariants, and the
//! store's request rates under counter resets.
//!
//! Case counts are kept small (the whole file runs in seconds in a debug build); the fuzz
//! targets in `fuzz/` cover the parser with far more inputs.
use llmtop::base::exposition::{self, MetricType};
use llmtop::base::promql;
use llmtop::base::signal::{CanonicalSample, CanonicalValue, Signal};
use llmtop::model::store::{SeriesKey, StoreLimits, TargetStore};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failure persistence files would land in the source tree; the seed is printed instead.
        failure_persistence: None,
        ..Config::default()
    }
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

// ---------------------------------------------------------------------------------------------
// Exposition round trip

#[derive(Debug, Clone)]
struct GenSample {
    labels: Vec<(String, String)>,
    value: f64,
    /// How the value is spelled in the text: 0 = `{:?}`, 1 = `{:e}`, 2 = `{:E}`; infinities
    /// alternate between `+Inf` and `Inf`.
    spelling: u8,
    timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone)]
struct GenFamily {
    name: String,
    ty: Option<MetricType>,
    help: Option<String>,
    samples: Vec<GenSample>,
}

/// Labels (never `le`), cumulative (bound, count) buckets ending in +Inf, sum, count.
type GenSeries = (Vec<(String, String)>, Vec<(f64, f64)>, f64, f64);

#[derive(Debug, Clone)]
struct GenHistogram {
    family: String,
    series: Vec<GenSeries>,
}

fn metric_type() -> impl Strategy<Value = Option<MetricType>> {
    prop_oneof![
        Just(None),
        Just(Some(MetricType::Counter)),
        Just(Some(MetricType::Gauge)),
        Just(Some(MetricType::Summary)),
        Just(Some(MetricType::Untyped)),
    ]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        2 => (0u32..1_000_000).prop_map(f64::from),
        2 => -1e6f64..1e6,
    ]
}

/// Label names unique within a set; values drawn from the characters that need escaping,
/// the grammar's own punctuation, and some non-ASCII.
fn label_set(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("le belongs to histograms", |n| n != "le"),
        "[a-z0-9 \\\\\"\n{}=,#é→\t]{0,12}",
        0..max,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn gen_sample() -> impl Strategy<Value = GenSample> {
    (
        label_set(5),
        value(),
        0u8..3,
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(labels, value, spelling, timestamp_ms)| GenSample {
            labels,
            value,
            spelling,
            timestamp_ms,
        })
}

fn families() -> impl Strategy<Value = Vec<GenFamily>> {
    proptest::collection::vec(
        (
            "[a-zA-Z0-9_:]{0,10}",
            metric_type(),
            proptest::option::of("[^\n]{0,20}"),
            proptest::collection::vec(gen_sample(), 0..5),
        ),
        0..6,
    )
    .prop_map(|fams| {
        fams.into_iter()
            .enumerate()
            .map(|(i, (suffix, ty, help, samples))| {
                // `m{i}_` keeps names distinct across families and away from the histograms'.
                let mut name = format!("m{i}_{suffix}");
                if name.ends_with("_created") {
                    name.push('x');
                }
                GenFamily {
                    name,
                    ty,
                    help,
                    samples,
                }
            })
            .collect()
    })
}

fn histograms() -> impl Strategy<Value = Vec<GenHistogram>> {
    let series = (
        label_set(3),
        proptest::collection::btree_set(-1000i32..100_000, 1..8),
        proptest::collection::vec(0u32..1000, 8),
        0.0f64..1e6,
    )
        .prop_map(|(labels, bounds, increments, sum)| {
            let mut cumulative = 0.0;
            let mut buckets: Vec<(f64, f64)> = bounds
                .into_iter()
                .zip(&increments)
                .map(|(b, inc)| {
                    cumulative += f64::from(*inc);
                    (f64::from(b) / 1000.0, cumulative)
                })
                .collect();
            buckets.push((f64::INFINITY, cumulative + f64::from(increments[7])));
            let count = buckets[buckets.len() - 1].1;
            (labels, buckets, sum, count)
        });
    proptest::collection::vec(proptest::collection::vec(series, 1..3), 0..3).prop_map(|hs| {
        hs.into_iter()
            .enumerate()
            .map(|(i, mut series)| {
                // Two series with the same labels would merge into one; keep the first.
                let mut seen = Vec::new();
                series.retain(|s| {
                    let new = !seen.contains(&s.0);
                    seen.push(s.0.clone());
                    new
                });
                GenHistogram {
                    family: format!("h{i}_seconds"),
                    series,
                }
            })
            .collect()
    })
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn spell(v: f64, spelling: u8) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        if spelling == 0 { "+Inf" } else { "Inf" }.into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        match spelling {
            0 => format!("{v:?}"),
            1 => format!("{v:e}"),
            _ => format!("{v:E}"),
        }
    }
}

fn write_line(out: &mut String, name: &str, labels: &[(String, String)], value: &str, eol: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        out.push('{');
        out.push_str(&pairs.join(","));
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push_str(eol);
}

/// The generator's own writer, independent of `Exposition::render`: HELP and TYPE lines, the
/// chosen value spellings and line endings.
fn write_text(fams: &[GenFamily], hists: &[GenHistogram], crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    for f in fams {
        if let Some(help) = &f.help {
            out.push_str(&format!("# HELP {} {help}{eol}", f.name));
        }
        if let Some(ty) = f.ty {
            out.push_str(&format!("# TYPE {} {}{eol}", f.name, ty.as_str()));
        }
        for s in &f.samples {
            let mut value = spell(s.value, s.spelling);
            if let Some(ts) = s.timestamp_ms {
                value.push_str(&format!(" {ts}"));
            }
            write_line(&mut out, &f.name, &s.labels, &value, eol);
        }
    }
    for h in hists {
        out.push_str(&format!("# TYPE {} histogram{eol}", h.family));
        for (labels, buckets, sum, count) in &h.series {
            for &(bound, n) in buckets {
                let mut with_le = labels.clone();
                with_le.push(("le".into(), spell(bound, 0)));
                write_line(
                    &mut out,
                    &format!("{}_bucket", h.family),
                    &with_le,
                    &spell(n, 0),
                    eol,
                );
            }
            let sum_name = format!("{}_sum", h.family);
            write_line(&mut out, &sum_name, labels, &spell(*sum, 1), eol);
            let count_name = format!("{}_count", h.family);
            write_line(&mut out, &count_name, labels, &spell(*count, 0), eol);
        }
    }
    out
}

type Flat = Vec<(String, Vec<(String, String)>, f64, Option<i64>)>;

fn expected_samples(fams: &[GenFamily], hists: &[GenHistogram]) -> Flat {
    let mut out = Flat::new();
    for f in fams {
        for s in &f.samples {
            out.push((f.name.clone(), s.labels.clone(), s.value, s.timestamp_ms));
        }
    }
    for h in hists {
        for (labels, buckets, sum, count) in &h.series {
            for &(bound, n) in buckets {
                let mut with_le = labels.clone();
                with_le.push(("le".into(), spell(bound, 0)));
                out.push((format!("{}_bucket", h.family), with_le, n, None));
            }
            out.push((format!("{}_sum", h.family), labels.clone(), *sum, None));
            out.push((format!("{}_count", h.family), labels.clone(), *count, None));
        }
    }
    out
}

fn flatten(e: &exposition::Exposition<'_>) -> Flat {
    e.samples
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.labels
                    .0
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                s.value,
                s.timestamp_ms,
            )
        })
        .collect()
}

fn same_flat(a: &Flat, b: &Flat) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1 == y.1 && same_f64(x.2, y.2) && x.3 == y.3)
}

proptest! {
    #![proptest_config(config(160))]

    /// parse(text) is exactly the generated exposition, and parse(render(parse(text))) is too.
    #[test]
    fn exposition_round_trips(fams in families(), hists in histograms(), crlf in any::<bool>()) {
        let text = write_text(&fams, &hists, crlf);
        let parsed = exposition::parse(&text);
        prop_assert_eq!(parsed.skipped_count, 0, "{:?}\n{}", parsed.skipped, text);
        prop_assert_eq!(parsed.created_ignored, 0);
        let want = expected_samples(&fams, &hists);
        let got = flatten(&parsed);
        prop_assert!(same_flat(&got, &want), "parsed {:?}\nwanted {:?}\n{}", got, want, text);

        let mut want_types: Vec<(String, MetricType)> = fams
            .iter()
            .filter_map(|f| f.ty.map(|t| (f.name.clone(), t)))
            .collect();
        want_types.extend(hists.iter().map(|h| (h.family.clone(), MetricType::Histogram)));
        let got_types: Vec<(String, MetricType)> =
            parsed.types.iter().map(|(n, t)| (n.to_string(), *t)).collect();
        prop_assert_eq!(got_types, want_types);

        for h in &hists {
            let got = parsed.histograms(&h.family);
            prop_assert_eq!(got.len(), h.series.len());
            for (g, (labels, buckets, sum, count)) in got.iter().zip(&h.series) {
                let g_labels: Vec<(String, String)> =
                    g.labels.0.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                prop_assert_eq!(&g_labels, labels);
                prop_assert_eq!(&g.buckets, buckets);
                prop_assert_eq!(g.sum, Some(*sum));
                prop_assert_eq!(g.count, Some(*count));
            }
        }

        let rendered = parsed.render();
        let again = exposition::parse(&rendered);
        prop_assert_eq!(again.skipped_count, 0);
        prop_assert!(same_flat(&flatten(&again), &want), "{}", rendered);
        prop_assert_eq!(&again.types, &parsed.types);
        // Rendering is a fixed point after one pass.
        prop_assert_eq!(again.render(), rendered);
    }
}

// ---------------------------------------------------------------------------------------------
// PromQL rate / increase

/// A counter scraped at increasing millisecond times: (times in ms, values). `resets` decides
/// whether the counter may restart from a lower value between samples.
fn counter(resets: bool) -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
    proptest::collection::vec((1i64..30_000, 0u32..10_000, 0u32..8, 0u32..500), 2..40).prop_map(
        move |steps| {
            let mut t = 1_700_000_000_000i64;
            let mut v = 0.0;
            let mut times = Vec::new();
            let mut values = Vec::new();
            for (gap, inc, reset_roll, restart_at) in steps {
                t += gap;
                if resets && reset_roll == 0 {
                    v = f64::from(restart_at);
                } else {
                    v += f64::from(inc);
                }
                times.push(t);
                values.push(v);
            }
            (times, values)
        },
    )
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

proptest! {
    #![proptest_config(config(256))]

    /// Counter resets never make rate or increase negative, whatever the window.
    #[test]
    fn rate_is_never_negative_across_resets(
        (times, values) in counter(true),
        before in 0i64..60_000,
        after in 0i64..60_000,
        cut in 0usize..40,
    ) {
        let samples: Vec<(f64, f64)> =
            times.iter().zip(&values).map(|(&t, &v)| (secs(t), v)).collect();
        // The window may start anywhere up to sample `cut`, so some runs see only a suffix.
        let first = times[cut.min(times.len() - 1)];
        let eval_ms = times[times.len() - 1] + after;
        let range_ms = eval_ms - first + before;
        let (eval, range) = (secs(eval_ms), secs(range_ms));
        if let Some(r) = promql::rate(&samples, eval, range) {
            prop_assert!(r >= 0.0, "rate {r}");
        }
        if let Some(i) = promql::increase(&samples, eval, range) {
            prop_assert!(i >= 0.0, "increase {i}");
        }
    }

    /// For a counter without resets whose every sample is in the window, increase is
    /// (last − first) scaled by an extrapolation factor between 1 and
    /// min(window / sampled interval, 1 + 2 × 1.1 / (n − 1)), and rate is increase / window.
    #[test]
    fn monotone_counter_rate_is_the_slope_with_bounded_extrapolation(
        (times, values) in counter(false),
        before in prop_oneof![1 => Just(0i64), 3 => 0i64..60_000],
        after in prop_oneof![1 => Just(0i64), 3 => 0i64..60_000],
    ) {
        let samples: Vec<(f64, f64)> =
            times.iter().zip(&values).map(|(&t, &v)| (secs(t), v)).collect();
        let n = times.len();
        let eval_ms = times[n - 1] + after;
        let range_ms = eval_ms - times[0] + before;
        let (eval, range) = (secs(eval_ms), secs(range_ms));
        let raw = values[n - 1] - values[0];
        let increase = promql::increase(&samples, eval, range);
        let rate = promql::rate(&samples, eval, range);
        let (Some(increase), Some(rate)) = (increase, rate) else {
            return Err(TestCaseError::fail("two samples in range must give a value"));
        };
        let sampled_ms = (times[n - 1] - times[0]) as f64;
        let max_factor = (range_ms as f64 / sampled_ms).min(1.0 + 2.2 / (n - 1) as f64);
        let eps = 1e-9 * raw.max(1.0);
        prop_assert!(increase >= raw - eps, "increase {increase} < last-first {raw}");
        prop_assert!(increase <= raw * max_factor + eps,
            "increase {increase} > {raw} × {max_factor}");
        prop_assert!((rate * range - increase).abs() <= eps, "rate {rate} × {range} ≠ {increase}");
        if before == 0 && after == 0 {
            // Samples on both window ends: nothing to extrapolate.
            prop_assert!((increase - raw).abs() <= eps, "{increase} vs {raw}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// histogram_quantile

/// Buckets in arbitrary order with arbitrary (not necessarily cumulative) counts, as a lagging
/// scrape can deliver them, plus the +Inf bucket; at least one count is positive.
fn any_buckets() -> impl Strategy<Value = Vec<(f64, f64)>> {
    (
        proptest::collection::btree_set(-1000i32..100_000, 1..10),
        proptest::collection::vec(0u32..1000, 11),
        any::<u64>(),
    )
        .prop_filter_map("no observations", |(bounds, counts, shuffle)| {
            let mut buckets: Vec<(f64, f64)> = bounds
                .into_iter()
                .zip(&counts)
                .map(|(b, c)| (f64::from(b) / 1000.0, f64::from(*c)))
                .collect();
            buckets.push((f64::INFINITY, f64::from(counts[10])));
            if buckets.iter().all(|b| b.1 == 0.0) {
                return None;
            }
            // Deterministic shuffle from the generated seed: the function takes any order.
            let len = buckets.len();
            let mut s = shuffle;
            for i in (1..len).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                buckets.swap(i, (s % (i as u64 + 1)) as usize);
            }
            Some(buckets)
        })
}

/// Sorted, cumulative buckets with a positive total.
fn cumulative_buckets() -> impl Strategy<Value = Vec<(f64, f64)>> {
    (
        proptest::collection::btree_set(1i32..100_000, 1..10),
        proptest::collection::vec(0u32..1000, 11),
    )
        .prop_filter_map("no observations", |(bounds, increments)| {
            let mut total = 0.0;
            let mut buckets: Vec<(f64, f64)> = bounds
                .into_iter()
                .zip(&increments)
                .map(|(b, inc)| {
                    total += f64::from(*inc);
                    (f64::from(b) / 1000.0, total)
                })
                .collect();
            total += f64::from(increments[10]);
            buckets.push((f64::INFINITY, total));
            (total > 0.0).then_some(buckets)
        })
}

/// Interpolation computes `start + width × fraction`, which can land an ulp or so outside the
/// bucket; Prometheus does the same arithmetic.
fn ulps(x: f64) -> f64 {
    4.0 * f64::EPSILON * x.abs().max(1.0)
}

proptest! {
    #![proptest_config(config(256))]

    /// For q in (0, 1], the quantile is finite, within [min(0, lowest bound), highest finite
    /// bound], and never decreases as q grows.
    #[test]
    fn quantile_is_bounded_and_monotone_in_q(
        buckets in any_buckets(),
        mut qs in proptest::collection::vec(1e-9f64..=1.0, 2..8),
    ) {
        let mut finite: Vec<f64> =
            buckets.iter().map(|b| b.0).filter(|b| b.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let lo = finite[0].min(0.0);
        let hi = finite[finite.len() - 1];
        qs.push(1.0);
        qs.sort_by(f64::total_cmp);
        let mut previous = f64::NEG_INFINITY;
        for q in qs {
            let v = promql::histogram_quantile(q, &buckets);
            prop_assert!(v.is_finite(), "q={q}: {v}");
            prop_assert!(v >= lo - ulps(lo) && v <= hi + ulps(hi), "q={q}: {v} outside [{lo}, {hi}]");
            prop_assert!(v >= previous - ulps(previous), "q={q}: {v} < {previous}");
            previous = v;
        }
    }

    /// With proper cumulative buckets the quantile lies in the bucket holding rank q × total:
    /// between that bucket's lower bound (0 for the first) and its upper bound, or exactly the
    /// highest finite bound when the rank falls in +Inf.
    #[test]
    fn quantile_lies_in_the_bucket_of_its_rank(
        buckets in cumulative_buckets(),
        q in 1e-9f64..=1.0,
    ) {
        let total = buckets[buckets.len() - 1].1;
        let rank = q * total;
        let b = buckets.iter().position(|bk| bk.1 >= rank).unwrap_or(buckets.len() - 1);
        let v = promql::histogram_quantile(q, &buckets);
        if b == buckets.len() - 1 {
            prop_assert_eq!(v, buckets[b - 1].0);
        } else {
            let lower = if b == 0 { 0.0 } else { buckets[b - 1].0 };
            let upper = buckets[b].0;
            prop_assert!(v >= lower - ulps(lower) && v <= upper + ulps(upper),
                "q={q}: {v} outside bucket [{lower}, {upper}]");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Store

/// Scrapes of up to four raw request counters over two models; each counter may restart
/// (gateway restart) or be missing from a scrape (series churn).
fn scrapes() -> impl Strategy<Value = Vec<Vec<(u64, f64)>>> {
    proptest::collection::vec(
        proptest::collection::vec((0u32..6, 0u32..50, 0u32..30), 4),
        2..30,
    )
    .prop_map(|steps| {
        let mut values = [0.0f64; 4];
        steps
            .into_iter()
            .map(|scrape| {
                scrape
                    .into_iter()
                    .enumerate()
                    .filter_map(|(id, (roll, inc, restart_at))| {
                        match roll {
                            0 => values[id] = f64::from(restart_at),
                            _ => values[id] += f64::from(inc),
                        }
                        // Roll 1: the series is absent from this scrape (its value still moves on).
                        (roll != 1).then_some((id as u64, values[id]))
                    })
                    .collect()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(96))]

    /// Whatever resets and churn the raw counters go through, the canonical request counter
    /// never decreases, and no request rate or increase the store reports is negative.
    #[test]
    fn store_request_rates_are_never_negative(scrapes in scrapes(), interval_ms in 1000i64..15_000) {
        let mut store = TargetStore::new(
            "prop",
            StoreLimits { slots: 16, max_series: 100, max_models: 10 },
        );
        let t0 = 1_700_000_000_000i64;
        let mut times = Vec::new();
        for (i, scrape) in scrapes.iter().enumerate() {
            let t = secs(t0 + i as i64 * interval_ms);
            times.push(t);
            let samples: Vec<CanonicalSample> = scrape
                .iter()
                .map(|&(id, v)| CanonicalSample {
                    signal: Signal::Requests,
                    model: if id % 2 == 0 { "gpt-a".into() } else { "gpt-b".into() },
                    series_id: id,
                    value: CanonicalValue::Scalar(v),
                })
                .collect();
            store.ingest(t, &samples);
        }
        let last = times[times.len() - 1];
        for model in ["gpt-a", "gpt-b"] {
            let key = SeriesKey::new(Signal::Requests, model);
            let history = store.samples(&key, f64::NEG_INFINITY, f64::INFINITY);
            prop_assert!(history.windows(2).all(|w| w[1].1 >= w[0].1), "{model}: {history:?}");
        }
        for &eval in &times {
            for range in [secs(2 * interval_ms), 60.0, last - times[0] + 1.0] {
                for model in [None, Some(&["gpt-a"][..]), Some(&["gpt-b"][..])] {
                    if let Some(r) = store.sum_rate(Signal::Requests, model, eval, range) {
                        prop_assert!(r >= 0.0, "rate {r} at {eval} over {range}");
                    }
                    if let Some(i) = store.sum_increase(Signal::Requests, model, eval, range) {
                        prop_assert!(i >= 0.0, "increase {i} at {eval} over {range}");
                    }
                }
            }
        }
    }
}
