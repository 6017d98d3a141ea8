//! Engine saturation: how full the engine is (requests running and waiting, KV cache), how long
//! requests wait for it and how often it evicts, plus the two verdicts an operator wants at a
//! glance at 3 a.m.: *saturated* (more load will only queue) and *stalled* (decoding has all but
//! stopped while requests run). Every figure is `None` where the gateway does not export it.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::base::signal::Signal;
use crate::model::stats::{self, Quantiles};
use crate::model::store::TargetStore;

/// KV-cache use at or above this is saturation: new requests wait for memory, or preempt others.
pub const KV_SATURATED: f64 = 0.95;
/// A queue that grows by at least this many requests over the range, while completions stay
/// flat, is saturation.
pub const QUEUE_GROWTH: f64 = 1.0;
/// Completions "stay flat" when the second half of the range completes at most this much more
/// than the first, or no more than chance explains ([`CHANCE_SIGMAS`]).
pub const FLAT_THROUGHPUT: f64 = 1.1;
/// Completions are counts: the two halves of a steady gateway's range differ by about
/// √(earlier + later) by chance alone (Poisson), which at a dozen requests a second over 10 s
/// halves is 13 %. A rise within this many of those is not a rise, so a saturated gateway at low
/// traffic does not flicker in and out of SATURATED.
pub const CHANCE_SIGMAS: f64 = 3.0;

/// Whether completions stayed flat from the `earlier` to the `later` half of a range (counts of
/// requests): they rose by at most [`FLAT_THROUGHPUT`] or by no more than chance explains.
pub fn completions_flat(earlier: f64, later: f64) -> bool {
    let rise = later - earlier;
    rise <= (FLAT_THROUGHPUT - 1.0) * earlier || rise <= CHANCE_SIGMAS * (earlier + later).sqrt()
}
/// Decoding is stalled below this share of its recent median throughput.
pub const STALL_SHARE: f64 = 0.25;
/// Points of the window the recent median decode throughput is taken over.
const MEDIAN_POINTS: usize = 12;

/// The saturation figures of one gateway (or fleet) over the "now" range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Saturation {
    /// Requests being processed now.
    pub in_flight: Option<f64>,
    /// Requests waiting now.
    pub queued: Option<f64>,
    /// KV cache in use, 0…1, the fullest engine's.
    pub kv_cache_usage: Option<f64>,
    /// Time requests waited before the engine took them.
    pub queue_time_seconds: Quantiles,
    pub preemptions_per_second: Option<f64>,
    /// KV cache ≥ 95 %, or the queue grows, never emptying in the range's later half, while
    /// completions stay flat.
    pub saturated: bool,
    /// Decode throughput under a quarter of its recent median while requests run.
    pub stalled: bool,
    /// Why `saturated` or `stalled` is set, in words; empty when neither is.
    #[serde(skip)]
    pub reasons: Vec<String>,
}

impl Saturation {
    /// Whether the gateway exports anything of it (else the dashboard shows nothing).
    pub fn is_known(&self) -> bool {
        self.in_flight.is_some()
            || self.queued.is_some()
            || self.kv_cache_usage.is_some()
            || self.queue_time_seconds.p95.is_some()
            || self.preemptions_per_second.is_some()
    }
}

/// Saturation by the KV cache alone: at or above [`KV_SATURATED`]. The one verdict that needs no
/// history, so fleet mode (Prometheus) can judge it from an instant query too.
pub fn judge_kv_cache(s: &mut Saturation) {
    if let Some(kv) = s.kv_cache_usage
        && kv >= KV_SATURATED
    {
        s.saturated = true;
        s.reasons.push(format!("KV cache {:.0}% full", kv * 100.0));
    }
}

/// A gauge summed over its models at each scrape time in `[start, end]`.
fn gauge_history(store: &TargetStore, signal: Signal, start: f64, end: f64) -> Vec<(f64, f64)> {
    let mut by_time: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for key in store.keys_of(signal) {
        for (t, v) in store.samples(&key, start, end) {
            let e = by_time.entry(t.to_bits()).or_insert((t, 0.0));
            e.1 += v;
        }
    }
    let mut out: Vec<(f64, f64)> = by_time.into_values().collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// The saturation figures at `eval_t` over `range`, with the stall judged against the median
/// decode throughput of the `window` before.
pub fn saturation(store: &TargetStore, eval_t: f64, range: f64, window: f64) -> Saturation {
    let mut s = Saturation {
        in_flight: store.gauge_latest(Signal::InFlight),
        queued: store.gauge_latest(Signal::Queued),
        kv_cache_usage: store.gauge_latest(Signal::KvCacheUsage),
        queue_time_seconds: stats::quantiles(store, Signal::QueueTimeSeconds, None, eval_t, range),
        preemptions_per_second: store.sum_rate(Signal::Preemptions, None, eval_t, range),
        ..Saturation::default()
    };
    judge_kv_cache(&mut s);
    let queue = gauge_history(store, Signal::Queued, eval_t - range, eval_t);
    if let (Some(first), Some(last)) = (queue.first(), queue.last()) {
        let half = range / 2.0;
        let earlier = store.sum_rate(Signal::Requests, None, eval_t - half, half);
        let later = store.sum_rate(Signal::Requests, None, eval_t, half);
        let flat =
            matches!((earlier, later), (Some(e), Some(l)) if completions_flat(e * half, l * half));
        // A healthy engine's queue comes and goes (0, 2, 0, 1): a reading that happens to end
        // higher than it began is not saturation. A saturated one never catches up.
        let never_empty = queue
            .iter()
            .filter(|(t, _)| *t >= eval_t - half)
            .all(|(_, v)| *v > 0.0);
        if last.1 - first.1 >= QUEUE_GROWTH && never_empty && flat {
            s.saturated = true;
            s.reasons.push(format!(
                "queue {:.0} → {:.0} while completions stay flat",
                first.1, last.1
            ));
        }
    }
    let running = s.in_flight.is_some_and(|n| n > 0.0);
    if running && let Some(now) = store.sum_rate(Signal::TokensOutput, None, eval_t, range) {
        let step = window / MEDIAN_POINTS as f64;
        let recent: Vec<f64> = (1..=MEDIAN_POINTS)
            .filter_map(|i| {
                let t = eval_t - window + step * i as f64;
                store.sum_rate(Signal::TokensOutput, None, t, range.max(step))
            })
            .filter(|r| *r > 0.0)
            .collect();
        if let Some(m) = median(recent)
            && now < STALL_SHARE * m
        {
            s.stalled = true;
            s.reasons.push(format!(
                "decoding at {:.0} tok/s, {:.0}% of its recent median",
                now,
                100.0 * now / m
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::signal::{CanonicalSample, CanonicalValue};
    use crate::model::store::StoreLimits;

    fn scalar(signal: Signal, id: u64, v: f64) -> CanonicalSample {
        CanonicalSample {
            signal,
            model: "m".into(),
            series_id: id,
            value: CanonicalValue::Scalar(v),
        }
    }

    /// Ten scrapes 1 s apart: requests complete at 5/s throughout; the queue and decode
    /// throughput follow `queue(i)` and `tokens_per_s(i)`.
    fn store_with(
        queue: impl Fn(usize) -> f64,
        kv: f64,
        tokens_per_s: impl Fn(usize) -> f64,
    ) -> TargetStore {
        store_completing(queue, kv, tokens_per_s, |_| 5.0)
    }

    /// [`store_with`] with requests completing at `completions_per_s(i)` in second `i`.
    fn store_completing(
        queue: impl Fn(usize) -> f64,
        kv: f64,
        tokens_per_s: impl Fn(usize) -> f64,
        completions_per_s: impl Fn(usize) -> f64,
    ) -> TargetStore {
        let mut store = TargetStore::new("gw", StoreLimits::default());
        let mut tokens = 0.0;
        let mut completed = 0.0;
        for i in 0..60 {
            tokens += tokens_per_s(i);
            if i > 0 {
                completed += completions_per_s(i);
            }
            let samples = vec![
                scalar(Signal::Requests, 1, completed),
                scalar(Signal::TokensOutput, 2, tokens),
                scalar(Signal::Queued, 3, queue(i)),
                scalar(Signal::InFlight, 4, 8.0),
                scalar(Signal::KvCacheUsage, 5, kv),
                scalar(Signal::KvCacheUsage, 6, kv / 2.0),
            ];
            store.ingest(1000.0 + i as f64, &samples);
        }
        store
    }

    #[test]
    fn a_full_kv_cache_is_saturation_and_the_fullest_engine_counts() {
        let s = saturation(&store_with(|_| 0.0, 0.96, |_| 100.0), 1059.0, 10.0, 60.0);
        assert_eq!(s.kv_cache_usage, Some(0.96), "the max of 0.96 and 0.48");
        assert!(s.saturated && !s.stalled, "{s:?}");
        assert_eq!(s.reasons, ["KV cache 96% full"]);
        let calm = saturation(&store_with(|_| 0.0, 0.5, |_| 100.0), 1059.0, 10.0, 60.0);
        assert!(
            !calm.saturated && !calm.stalled && calm.reasons.is_empty(),
            "{calm:?}"
        );
        assert_eq!(calm.in_flight, Some(8.0));
        assert_eq!(calm.queued, Some(0.0));
        assert_eq!(
            calm.preemptions_per_second, None,
            "not exported is unknown, not 0"
        );
    }

    #[test]
    fn a_queue_growing_at_flat_throughput_is_saturation() {
        let s = saturation(
            &store_with(|i| i.saturating_sub(50) as f64, 0.5, |_| 100.0),
            1059.0,
            10.0,
            60.0,
        );
        assert!(s.saturated, "{s:?}");
        assert_eq!(s.reasons, ["queue 0 → 9 while completions stay flat"]);
    }

    #[test]
    fn completions_are_flat_unless_they_rise_beyond_ten_percent_and_chance() {
        // A dozen a second over 10 s halves: 20 more is within chance (3·√260 ≈ 48), 60 is not.
        assert!(completions_flat(120.0, 140.0));
        assert!(!completions_flat(120.0, 180.0));
        // Ten thousand: chance allows 434, the 10 % allows 1000.
        assert!(completions_flat(10_000.0, 11_000.0));
        assert!(!completions_flat(10_000.0, 11_001.0));
        assert!(completions_flat(0.0, 0.0));
        assert!(completions_flat(50.0, 10.0), "falling is flat");
    }

    #[test]
    fn a_queue_that_comes_and_goes_is_not_saturation() {
        // 0, 1, 0, 2, 0, 1, … ending on 3: it grew over the range, but it keeps emptying.
        let comes_and_goes = |i: usize| match i {
            59 => 3.0,
            i if i % 2 == 0 => 0.0,
            i => (i % 3) as f64,
        };
        let s = saturation(
            &store_with(comes_and_goes, 0.5, |_| 100.0),
            1059.0,
            10.0,
            60.0,
        );
        assert!(!s.saturated && s.reasons.is_empty(), "{s:?}");
        // The same ending on a queue that stayed up through the later half is.
        let backed_up = |i: usize| {
            if i >= 54 {
                (i - 53) as f64
            } else {
                comes_and_goes(i)
            }
        };
        let s = saturation(&store_with(backed_up, 0.5, |_| 100.0), 1059.0, 10.0, 60.0);
        assert!(s.saturated, "{s:?}");
    }

    #[test]
    fn a_queue_growing_while_completions_rise_beyond_chance_is_not_saturation() {
        let queue = |i: usize| i.saturating_sub(50) as f64;
        // 12/s, then 14/s in the range's later half: a rise of 10 in 60, chance.
        let wobble = saturation(
            &store_completing(queue, 0.5, |_| 100.0, |i| if i >= 55 { 14.0 } else { 12.0 }),
            1059.0,
            10.0,
            60.0,
        );
        assert!(wobble.saturated, "{wobble:?}");
        // 5/s, then 50/s: the engine is taking more, so the queue is only arrivals ahead of it.
        let rising = saturation(
            &store_completing(queue, 0.5, |_| 100.0, |i| if i >= 55 { 50.0 } else { 5.0 }),
            1059.0,
            10.0,
            60.0,
        );
        assert!(!rising.saturated && rising.reasons.is_empty(), "{rising:?}");
    }

    #[test]
    fn decoding_far_below_its_median_while_requests_run_is_a_stall() {
        let s = saturation(
            &store_with(|_| 0.0, 0.5, |i| if i >= 50 { 10.0 } else { 100.0 }),
            1059.0,
            10.0,
            60.0,
        );
        assert!(s.stalled && !s.saturated, "{s:?}");
        assert_eq!(
            s.reasons,
            ["decoding at 10 tok/s, 10% of its recent median"]
        );
    }
}
