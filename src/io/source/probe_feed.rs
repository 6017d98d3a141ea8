//! Probe results as a source of their own: every finished probe updates cumulative counters and
//! histograms per model, ingested into a store like any scrape, so the latency, TTFT, error and
//! cost panels work against a gateway that exports no `/metrics` at all (synthetic monitoring).
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use crate::base::signal::{CanonicalSample, CanonicalValue, Signal};
use crate::io::probe::ProbeResult;
use crate::model::store::{StoreLimits, TargetStore};

/// Latency buckets for probe measurements, seconds (Prometheus client defaults, stretched to a minute
/// because LLM requests are slow).
pub const BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
];

/// The name the probe source goes by on screen (status line "dialect probe").
pub const SOURCE_NAME: &str = "probe";

/// The signals probe results can provide.
pub const SIGNALS: [Signal; 7] = [
    Signal::Requests,
    Signal::RequestsFailed,
    Signal::TokensInput,
    Signal::TokensCachedInput,
    Signal::TokensOutput,
    Signal::LatencySeconds,
    Signal::TtftSeconds,
];

#[derive(Debug, Clone, Default)]
struct ModelTotals {
    requests: f64,
    failed: f64,
    latency: Histogram,
    ttft: Histogram,
    input: f64,
    cached_input: f64,
    output: f64,
}

#[derive(Debug, Clone)]
struct Histogram {
    counts: [f64; BUCKETS.len() + 1],
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0.0; BUCKETS.len() + 1],
            sum: 0.0,
        }
    }
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (count, bound) in self
            .counts
            .iter_mut()
            .zip(BUCKETS.iter().chain([f64::INFINITY].iter()))
        {
            if v <= *bound {
                *count += 1.0;
            }
        }
        self.sum += v;
    }

    fn value(&self) -> CanonicalValue {
        let buckets = BUCKETS
            .iter()
            .chain([f64::INFINITY].iter())
            .zip(self.counts)
            .map(|(b, c)| (*b, c))
            .collect();
        CanonicalValue::Histogram {
            buckets,
            sum: self.sum,
            count: self.counts[BUCKETS.len()],
        }
    }
}

/// Cumulative probe statistics per model and the store they are ingested into.
#[derive(Debug, Clone)]
pub struct ProbeFeed {
    pub store: TargetStore,
    totals: BTreeMap<String, ModelTotals>,
    /// Dollars the session's probes have cost (price table, or the gateway's `usage.cost`).
    pub spent_usd: f64,
}

fn series_id(model: &str, signal: Signal) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    model.hash(&mut h);
    signal.hash(&mut h);
    h.finish()
}

impl ProbeFeed {
    pub fn new(limits: StoreLimits) -> Self {
        let mut store = TargetStore::new(SOURCE_NAME, limits);
        store.health.dialect = Some(SOURCE_NAME.to_string());
        store.health.reports_failures = true;
        Self {
            store,
            totals: BTreeMap::new(),
            spent_usd: 0.0,
        }
    }

    /// Adds one finished probe at `time` (unix seconds) and what it cost.
    pub fn record(&mut self, time: f64, result: &ProbeResult, cost_usd: Option<f64>) {
        let totals = self.totals.entry(result.model.clone()).or_default();
        totals.requests += 1.0;
        if !result.ok {
            totals.failed += 1.0;
        }
        if result.ok {
            totals.latency.observe(result.latency.as_secs_f64());
        }
        if let Some(ttft) = result.ttft {
            totals.ttft.observe(ttft.as_secs_f64());
        }
        if let Some(u) = result.usage {
            totals.input += u.input as f64;
            totals.cached_input += u.cached_input as f64;
            totals.output += u.output as f64;
        }
        self.spent_usd += result.gateway_cost_usd.or(cost_usd).unwrap_or(0.0);
        let mut samples = Vec::new();
        for (model, t) in &self.totals {
            let scalar = |signal: Signal, v: f64| CanonicalSample {
                signal,
                model: model.clone(),
                series_id: series_id(model, signal),
                value: CanonicalValue::Scalar(v),
            };
            samples.push(scalar(Signal::Requests, t.requests));
            samples.push(scalar(Signal::RequestsFailed, t.failed));
            samples.push(scalar(Signal::TokensInput, t.input));
            samples.push(scalar(Signal::TokensCachedInput, t.cached_input));
            samples.push(scalar(Signal::TokensOutput, t.output));
            for (signal, h) in [
                (Signal::LatencySeconds, &t.latency),
                (Signal::TtftSeconds, &t.ttft),
            ] {
                samples.push(CanonicalSample {
                    signal,
                    model: model.clone(),
                    series_id: series_id(model, signal),
                    value: h.value(),
                });
            }
        }
        // Two probes finishing in the same instant still get distinct, ordered slots.
        let time = match self.store.latest_time() {
            Some(last) if time <= last => last + 1e-3,
            _ => time,
        };
        self.store.ingest(time, &samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::pricing::PriceTable;
    use crate::io::probe::Usage;
    use std::time::Duration;

    fn result(model: &str, ok: bool, latency_ms: u64, ttft_ms: u64, out: u64) -> ProbeResult {
        ProbeResult {
            model: model.into(),
            ok,
            status: Some(if ok { 200 } else { 500 }),
            ttft: ok.then(|| Duration::from_millis(ttft_ms)),
            latency: Duration::from_millis(latency_ms),
            usage: ok.then_some(Usage {
                input: 100,
                cached_input: 0,
                output: out,
                reasoning: 0,
            }),
            ..ProbeResult::default()
        }
    }

    #[test]
    fn probes_become_rates_quantiles_and_cost() {
        let mut feed = ProbeFeed::new(StoreLimits::default());
        // One probe every 10 s for 100 s: 9 fast ok, the 10th fails.
        for i in 0..=10 {
            let ok = i != 10;
            feed.record(
                1000.0 + 10.0 * i as f64,
                &result("gpt-4o-mini", ok, 400, 120, 50),
                None,
            );
        }
        let f =
            crate::model::stats::figures(&feed.store, &PriceTable::builtin(), None, 1100.0, 100.0);
        // 10 requests over 100 s (the first sample sets the baseline).
        assert!((f.requests_per_second.unwrap() - 0.1).abs() < 1e-9);
        assert!((f.error_ratio.unwrap() - 0.1).abs() < 1e-9);
        // All latencies fall in the (0.25, 0.5] bucket.
        let p50 = f.latency_seconds.p50.unwrap();
        assert!(p50 > 0.25 && p50 <= 0.5, "{p50}");
        let ttft = f.ttft_seconds.p95.unwrap();
        assert!(ttft > 0.1 && ttft <= 0.25, "{ttft}");
        // 9 × (100 in × $0.15/M + 50 out × $0.60/M) over 100 s, per hour.
        let per_hour = 9.0 * (100.0 * 0.15 + 50.0 * 0.60) / 1e6 / 100.0 * 3600.0;
        assert!((f.cost_usd_per_hour.unwrap() - per_hour).abs() < 1e-12);
    }

    #[test]
    fn simultaneous_results_keep_distinct_slots() {
        let mut feed = ProbeFeed::new(StoreLimits::default());
        feed.record(5.0, &result("m", true, 100, 50, 5), Some(0.01));
        feed.record(5.0, &result("m", true, 100, 50, 5), Some(0.01));
        assert_eq!(feed.store.len(), 2);
        assert!((feed.spent_usd - 0.02).abs() < 1e-12);
    }
}
