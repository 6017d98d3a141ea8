//! What a benchmark measured: bounded-memory histograms and counters, and the summary they make.
//!
//! Percentiles come from HDR histograms in microseconds with 3 significant digits (error
//! ≤ 0.1 %), so memory stays fixed however long the run; min, max and mean are exact.
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use super::Slo;
use crate::io::probe::{ProbeErrorKind, Usage};

/// Largest value a histogram tracks, µs (one hour); longer values are clamped to it.
const MAX_TRACKED_US: u64 = 3_600_000_000;
/// Distinct error messages kept for the summary.
const MAX_ERROR_SAMPLES: usize = 5;
const MAX_ERROR_CHARS: usize = 300;

/// One finished request, reduced to what the summary needs.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub ok: bool,
    pub status: Option<u16>,
    pub error_kind: Option<ProbeErrorKind>,
    pub error: Option<String>,
    /// From the intended send time (open loop) or the send (closed loop) to the end.
    pub latency: Duration,
    /// From the actual send to the end (retries included).
    pub service: Duration,
    pub ttft: Option<Duration>,
    pub tpot: Option<Duration>,
    pub itl: Vec<Duration>,
    pub usage: Option<Usage>,
    /// USD: the gateway's own figure when it sends one, else the price table's.
    pub cost: Option<f64>,
    pub retries: u32,
}

impl Sample {
    /// vLLM's definition: `(e2e − ttft) / (output_tokens − 1)`, for more than one output token.
    pub fn vllm_tpot(
        service: Duration,
        ttft: Option<Duration>,
        output: Option<u64>,
    ) -> Option<Duration> {
        let ttft = ttft?;
        let output = output.filter(|&n| n > 1)?;
        let steps = u32::try_from(output - 1).unwrap_or(u32::MAX);
        Some(service.saturating_sub(ttft) / steps)
    }
}

/// A histogram with exact min, max and sum beside it.
#[derive(Debug, Clone)]
pub struct Dist {
    hist: Histogram<u64>,
    count: u64,
    sum: Duration,
    min: Duration,
    max: Duration,
}

impl Default for Dist {
    fn default() -> Self {
        Self {
            hist: Histogram::new_with_bounds(1, MAX_TRACKED_US, 3)
                .expect("constant histogram bounds are valid"),
            count: 0,
            sum: Duration::ZERO,
            min: Duration::MAX,
            max: Duration::ZERO,
        }
    }
}

impl Dist {
    pub fn record(&mut self, value: Duration) {
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(us);
        self.count += 1;
        self.sum = self.sum.saturating_add(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds everything `other` recorded, as if it had been recorded here.
    pub fn merge(&mut self, other: &Dist) {
        if other.count == 0 {
            return;
        }
        self.hist
            .add(&other.hist)
            .expect("every Dist has the same constant bounds");
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Seconds at quantile `q` (0…1), within the exact min and max; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let us = self.hist.value_at_quantile(q) as f64 / 1e6;
        Some(us.clamp(self.min.as_secs_f64(), self.max.as_secs_f64()))
    }

    /// A 95 % confidence interval of quantile `q` from the histogram alone: the values at the
    /// ranks `n·q ± 1.96·√(n·q·(1−q))` (the binomial spread of how many observations fall below
    /// the true quantile). How far a run's p99 could move in a rerun of the same length.
    pub fn quantile_interval(&self, q: f64) -> Option<[f64; 2]> {
        if self.count == 0 {
            return None;
        }
        let n = self.count as f64;
        let spread = 1.96 * (n * q * (1.0 - q)).sqrt();
        let at = |rank: f64| self.quantile((rank / n).clamp(0.0, 1.0));
        Some([at(n * q - spread - 1.0)?, at(n * q + spread + 1.0)?])
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum.as_secs_f64() / self.count as f64)
    }

    /// `{count, avg, min, max, p50, p90, p95, p99, p99_9}` in seconds, nulls when empty.
    pub fn to_json(&self) -> Value {
        let empty = self.count == 0;
        let exact = |d: Duration| (!empty).then_some(d.as_secs_f64());
        json!({
            "count": self.count,
            "avg": self.mean(),
            "min": exact(self.min),
            "max": exact(self.max),
            "p50": self.quantile(0.50),
            "p90": self.quantile(0.90),
            "p95": self.quantile(0.95),
            "p99": self.quantile(0.99),
            "p99_9": self.quantile(0.999),
            "ci95": {
                "p50": self.quantile_interval(0.50),
                "p95": self.quantile_interval(0.95),
                "p99": self.quantile_interval(0.99),
            },
        })
    }
}

/// Everything recorded so far. Memory does not grow with the number of requests.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub done: u64,
    pub ok: u64,
    /// Successful requests only.
    pub latency: Dist,
    pub service: Dist,
    pub ttft: Dist,
    pub tpot: Dist,
    pub itl: Dist,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    /// Output tokens of successful requests, for throughput.
    pub ok_output_tokens: u64,
    pub requests_with_usage: u64,
    pub cost_usd: f64,
    pub requests_with_cost: u64,
    pub status_codes: BTreeMap<u16, u64>,
    pub no_response: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub retries: u64,
    pub requests_retried: u64,
    pub goodput_met: u64,
}

impl Recorder {
    pub fn record(&mut self, sample: &Sample, slo: Option<&Slo>) {
        self.done += 1;
        match sample.status {
            Some(code) => *self.status_codes.entry(code).or_insert(0) += 1,
            None => self.no_response += 1,
        }
        self.retries += u64::from(sample.retries);
        self.requests_retried += u64::from(sample.retries > 0);
        if let Some(u) = sample.usage {
            self.requests_with_usage += 1;
            self.input_tokens += u.input;
            self.cached_input_tokens += u.cached_input;
            self.output_tokens += u.output;
            self.reasoning_tokens += u.reasoning;
            if sample.ok {
                self.ok_output_tokens += u.output;
            }
        }
        if let Some(cost) = sample.cost.filter(|c| c.is_finite()) {
            self.cost_usd += cost;
            self.requests_with_cost += 1;
        }
        if !sample.ok {
            let kind = sample
                .error_kind
                .map_or_else(|| "unknown".to_string(), |k| k.name().to_string());
            *self.errors.entry(kind).or_insert(0) += 1;
            if let Some(message) = &sample.error
                && self.error_samples.len() < MAX_ERROR_SAMPLES
            {
                let message: String = message.chars().take(MAX_ERROR_CHARS).collect();
                if !self.error_samples.contains(&message) {
                    self.error_samples.push(message);
                }
            }
            return;
        }
        self.ok += 1;
        self.latency.record(sample.latency);
        self.service.record(sample.service);
        if let Some(t) = sample.ttft {
            self.ttft.record(t);
        }
        if let Some(t) = sample.tpot {
            self.tpot.record(t);
        }
        for gap in &sample.itl {
            self.itl.record(*gap);
        }
        if slo.is_some_and(|slo| slo.met_by(sample)) {
            self.goodput_met += 1;
        }
    }
}

impl Recorder {
    /// Adds everything `other` recorded, so per-worker recorders can be summed into one summary.
    /// Error samples keep the first distinct ones up to the same cap.
    pub fn merge(&mut self, other: &Recorder) {
        // Destructured so that a new field cannot be forgotten here.
        let Recorder {
            done,
            ok,
            latency,
            service,
            ttft,
            tpot,
            itl,
            input_tokens,
            cached_input_tokens,
            output_tokens,
            reasoning_tokens,
            ok_output_tokens,
            requests_with_usage,
            cost_usd,
            requests_with_cost,
            status_codes,
            no_response,
            errors,
            error_samples,
            retries,
            requests_retried,
            goodput_met,
        } = other;
        self.done += done;
        self.ok += ok;
        self.latency.merge(latency);
        self.service.merge(service);
        self.ttft.merge(ttft);
        self.tpot.merge(tpot);
        self.itl.merge(itl);
        self.input_tokens += input_tokens;
        self.cached_input_tokens += cached_input_tokens;
        self.output_tokens += output_tokens;
        self.reasoning_tokens += reasoning_tokens;
        self.ok_output_tokens += ok_output_tokens;
        self.requests_with_usage += requests_with_usage;
        self.cost_usd += cost_usd;
        self.requests_with_cost += requests_with_cost;
        for (code, n) in status_codes {
            *self.status_codes.entry(*code).or_insert(0) += n;
        }
        self.no_response += no_response;
        for (kind, n) in errors {
            *self.errors.entry(kind.clone()).or_insert(0) += n;
        }
        for message in error_samples {
            if self.error_samples.len() < MAX_ERROR_SAMPLES && !self.error_samples.contains(message)
            {
                self.error_samples.push(message.clone());
            }
        }
        self.retries += retries;
        self.requests_retried += requests_retried;
        self.goodput_met += goodput_met;
    }
}

/// How the run was set up, echoed in the summary.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub model: String,
    /// Scheme, host and port only: no credentials, path or query.
    pub target: String,
    pub stream: bool,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub requests_target: Option<u64>,
    pub duration_limit: Option<Duration>,
    pub max_tokens: u32,
    pub prompts: usize,
    pub seed: Option<u64>,
    pub slo: Option<Slo>,
    /// The open loop's shape (a constant rate or a ramp) and burstiness; `None` for a closed
    /// loop (or a caller that states only `rate`, taken as Poisson).
    pub arrivals: Option<super::ArrivalPlan>,
    /// Requests sent before the counted ones.
    pub warmup: u64,
}

/// Version of the JSON shape in `docs/bench-schema.json`; bumped only on an incompatible change.
pub const SCHEMA_VERSION: u64 = 1;

/// The `--format json` object (and the source of every other format).
pub fn summary_json(info: &RunInfo, rec: &Recorder, elapsed: Duration, interrupted: bool) -> Value {
    let secs = elapsed.as_secs_f64();
    let per_second = |n: u64| (secs > 0.0).then(|| n as f64 / secs);
    let of_done = |n: u64| (rec.done > 0).then(|| n as f64 / rec.done as f64);
    let cost = (rec.requests_with_cost > 0).then_some(rec.cost_usd);
    let status_codes: Map<String, Value> = rec
        .status_codes
        .iter()
        .map(|(code, n)| (code.to_string(), json!(n)))
        .collect();
    let errors: Map<String, Value> = rec
        .errors
        .iter()
        .map(|(kind, n)| (kind.clone(), json!(n)))
        .collect();
    let goodput = info.slo.as_ref().map(|slo| {
        json!({
            "slo": slo.to_json(),
            "requests_met": rec.goodput_met,
            "fraction": of_done(rec.goodput_met),
            "requests_per_second": per_second(rec.goodput_met),
        })
    });
    let mut summary = json!({
        "schema_version": SCHEMA_VERSION,
        "model": info.model,
        "target": info.target,
        "stream": info.stream,
        "mode": if info.rate.is_some() || info.arrivals.is_some() { "open" } else { "closed" },
        "concurrency": info.concurrency,
        "rate": info.rate,
        "requests_target": info.requests_target,
        "duration_limit_seconds": info.duration_limit.map(|d| d.as_secs_f64()),
        "max_tokens": info.max_tokens,
        "prompts": info.prompts,
        "seed": info.seed,
        "interrupted": interrupted,
        "total_time_seconds": secs,
        "requests_done": rec.done,
        "requests_ok": rec.ok,
        "requests_failed": rec.done - rec.ok,
        "success_rate": of_done(rec.ok),
        "requests_per_second": per_second(rec.done),
        "latency_seconds": rec.latency.to_json(),
        "service_time_seconds": rec.service.to_json(),
        "ttft_seconds": rec.ttft.to_json(),
        "tpot_seconds": rec.tpot.to_json(),
        "itl_seconds": rec.itl.to_json(),
        "output_tokens_per_second": per_second(rec.ok_output_tokens),
        "tokens": {
            "input": rec.input_tokens,
            "cached_input": rec.cached_input_tokens,
            "output": rec.output_tokens,
            "reasoning": rec.reasoning_tokens,
            "requests_with_usage": rec.requests_with_usage,
        },
        "cost_usd": cost,
        "cost_per_1k_requests_usd": cost.filter(|_| rec.done > 0).map(|c| c * 1000.0 / rec.done as f64),
        "requests_with_cost": rec.requests_with_cost,
        "status_codes": status_codes,
        "no_response": rec.no_response,
        "errors": errors,
        "error_samples": rec.error_samples,
        "retries": rec.retries,
        "requests_retried": rec.requests_retried,
        "goodput": goodput,
        "warmup_requests": info.warmup,
    });
    // Outside the macro above, which is at its recursion limit.
    summary["burstiness"] = json!(
        info.arrivals
            .map(|a| a.burstiness)
            .or(info.rate.map(|_| 1.0))
    );
    summary["ramp"] = match info.arrivals.map(|a| a.shape) {
        Some(super::schedule::RateShape::Ramp { kind, from, to }) => {
            json!({"kind": kind.as_str(), "from": from, "to": to})
        }
        _ => Value::Null,
    };
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_are_within_three_digits_and_min_max_exact() {
        let mut d = Dist::default();
        for i in 1..=1000 {
            d.record(Duration::from_micros(i * 1000 + 7));
        }
        let p50 = d.quantile(0.5).unwrap();
        assert!((p50 - 0.500).abs() < 0.0006, "{p50}");
        let p99 = d.quantile(0.99).unwrap();
        assert!((p99 - 0.990).abs() < 0.0011, "{p99}");
        let j = d.to_json();
        assert_eq!(j["min"], 0.001007);
        assert_eq!(j["max"], 1.000007);
        assert_eq!(j["count"], 1000);
        assert!((j["avg"].as_f64().unwrap() - 0.500507).abs() < 1e-9);
        assert!(j["p99_9"].as_f64().unwrap() <= 1.000007);
    }

    /// 1 000 evenly spread values: p50's interval is ±31 ranks (1.96·√250 + 1), p99's ±7 ranks
    /// but cut at the top by the maximum; an empty distribution has none.
    #[test]
    fn quantile_intervals_follow_the_binomial_spread_of_ranks() {
        let mut d = Dist::default();
        for i in 1..=1000 {
            d.record(Duration::from_millis(i));
        }
        let [lo, hi] = d.quantile_interval(0.5).unwrap();
        assert!(
            (lo - 0.469).abs() < 0.002 && (hi - 0.532).abs() < 0.002,
            "{lo} {hi}"
        );
        let [lo, hi] = d.quantile_interval(0.99).unwrap();
        assert!((lo - 0.982).abs() < 0.002 && hi <= 1.0, "{lo} {hi}");
        assert!(Dist::default().quantile_interval(0.5).is_none());
        assert_eq!(d.to_json()["ci95"]["p50"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn zero_and_huge_values_are_recorded_and_empty_is_null() {
        let mut d = Dist::default();
        d.record(Duration::ZERO);
        d.record(Duration::from_secs(10 * 3600));
        assert_eq!(d.count(), 2);
        assert_eq!(d.quantile(0.0), Some(0.0));
        assert_eq!(d.to_json()["max"], 36000.0);
        let empty = Dist::default().to_json();
        for key in ["avg", "min", "max", "p50", "p99_9"] {
            assert!(empty[key].is_null(), "{key}");
        }
        assert_eq!(empty["count"], 0);
    }

    #[test]
    fn tpot_follows_vllm() {
        let t = Sample::vllm_tpot(ms(1100), Some(ms(100)), Some(11));
        assert_eq!(t, Some(ms(100)));
        assert_eq!(Sample::vllm_tpot(ms(1100), Some(ms(100)), Some(1)), None);
        assert_eq!(Sample::vllm_tpot(ms(1100), None, Some(5)), None);
    }

    #[test]
    fn failures_count_by_status_and_kind_but_not_in_latency() {
        let mut rec = Recorder::default();
        let failed = Sample {
            status: Some(500),
            error_kind: Some(ProbeErrorKind::RateLimited),
            error: Some("HTTP 500: boom".into()),
            latency: ms(5),
            ..Sample::default()
        };
        rec.record(&failed, None);
        rec.record(&failed, None);
        let ok = Sample {
            ok: true,
            status: Some(200),
            latency: ms(30),
            service: ms(20),
            usage: Some(Usage {
                input: 10,
                cached_input: 4,
                output: 7,
                reasoning: 0,
            }),
            cost: Some(0.5),
            retries: 1,
            ..Sample::default()
        };
        rec.record(&ok, None);
        let info = RunInfo {
            model: "m".into(),
            target: "http://127.0.0.1:1".into(),
            stream: false,
            concurrency: 2,
            rate: None,
            arrivals: None,
            warmup: 0,
            requests_target: Some(3),
            duration_limit: None,
            max_tokens: 16,
            prompts: 1,
            seed: None,
            slo: None,
        };
        let j = summary_json(&info, &rec, Duration::from_secs(2), false);
        assert_eq!(j["requests_done"], 3);
        assert_eq!(j["requests_failed"], 2);
        assert_eq!(j["status_codes"], json!({"200": 1, "500": 2}));
        assert_eq!(j["errors"], json!({"rate_limited": 2}));
        assert_eq!(j["error_samples"], json!(["HTTP 500: boom"]));
        assert_eq!(j["latency_seconds"]["count"], 1);
        assert_eq!(j["latency_seconds"]["max"], 0.03);
        assert_eq!(j["cost_usd"], 0.5);
        assert!((j["cost_per_1k_requests_usd"].as_f64().unwrap() - 500.0 / 3.0).abs() < 1e-9);
        assert_eq!(j["requests_per_second"], 1.5);
        assert_eq!(j["output_tokens_per_second"], 3.5);
        assert_eq!(j["retries"], 1);
        assert_eq!(j["mode"], "closed");
        assert!(j["goodput"].is_null());
    }

    #[test]
    fn merged_recorders_summarise_like_one() {
        let samples: Vec<Sample> = (1..=9u64)
            .map(|i| Sample {
                ok: i % 3 != 0,
                status: Some(if i % 3 == 0 { 503 } else { 200 }),
                error_kind: (i % 3 == 0).then_some(ProbeErrorKind::Http),
                error: (i % 3 == 0).then(|| format!("HTTP 503: try {i}")),
                latency: ms(i * 10),
                service: ms(i * 5),
                ttft: Some(ms(i)),
                tpot: (i > 4).then_some(ms(2)),
                itl: vec![ms(1); i as usize],
                usage: Some(Usage {
                    input: 10 * i,
                    cached_input: i,
                    output: 3 * i,
                    reasoning: 1,
                }),
                cost: Some(0.25 * i as f64),
                retries: u32::from(i == 4),
            })
            .collect();
        let slo = Slo {
            e2e: Some(ms(50)),
            ..Slo::default()
        };
        let mut whole = Recorder::default();
        let mut parts = [Recorder::default(), Recorder::default()];
        for (i, s) in samples.iter().enumerate() {
            whole.record(s, Some(&slo));
            parts[i % 2].record(s, Some(&slo));
        }
        let mut merged = Recorder::default();
        for part in &parts {
            merged.merge(part);
        }
        let info = RunInfo {
            model: "m".into(),
            target: "http://127.0.0.1:1".into(),
            stream: true,
            concurrency: 2,
            rate: None,
            arrivals: None,
            warmup: 0,
            requests_target: Some(9),
            duration_limit: None,
            max_tokens: 16,
            prompts: 1,
            seed: None,
            slo: Some(slo),
        };
        let a = summary_json(&info, &whole, Duration::from_secs(3), false);
        let mut b = summary_json(&info, &merged, Duration::from_secs(3), false);
        // Shards see failures in another order; the set of messages is what must agree.
        let sorted = |v: &Value| {
            let mut m: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            m.sort();
            m
        };
        assert_eq!(sorted(&a["error_samples"]), sorted(&b["error_samples"]));
        b["error_samples"] = a["error_samples"].clone();
        assert_eq!(a, b);
        assert_eq!(b["requests_done"], 9);
        assert_eq!(b["requests_ok"], 6);
        assert_eq!(b["status_codes"], json!({"200": 6, "503": 3}));
        assert_eq!(b["cost_usd"], 11.25);
        assert_eq!(b["itl_seconds"]["count"], 27);
        assert_eq!(b["goodput"]["requests_met"], 4);
        assert_eq!(b["latency_seconds"]["min"], 0.01);
        assert_eq!(b["latency_seconds"]["max"], 0.08);
    }

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(ProbeErrorKind::QuotaExhausted.name(), "quota_exhausted");
        assert_eq!(ProbeErrorKind::Http.name(), "http");
    }
}
