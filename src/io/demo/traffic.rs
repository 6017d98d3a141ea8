//! Synthetic load: a seeded, tick-driven simulation of gateway traffic feeding the same metrics as real requests.
//!
//! The simulation runs on virtual time (one tick = 100 ms) rather than the wall clock, so a given
//! seed always produces the same sequence of requests, whatever the scheduler does.
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::metrics::{Metrics, Observation};
use super::models::{CATALOG, ModelProfile};
use super::scenario::{Scenario, ScenarioSet, ScenarioSwitch};

pub(crate) const TICK: Duration = Duration::from_millis(100);
const TICK_SECS: f64 = 0.1;

const BURST_FACTOR: f64 = 3.0;
const CACHE_RATIO_RANGE: (f64, f64) = (0.3, 0.6);
/// Chance per tick that an error spell starts: about one every two minutes.
const SPELL_START_P: f64 = TICK_SECS / 120.0;
/// Requests per second the gateway takes under the `saturation` scenario; the rest queue.
pub(crate) const SATURATION_CAPACITY_RPS: f64 = 12.0;
/// Under `saturation`, a request arriving to this many waiting is refused at once (a 429 from
/// the limiter), so the queue and the memory it holds stay bounded.
pub(crate) const MAX_QUEUE: usize = 2000;

/// Median × lognormal noise: latencies and lengths are right-skewed, never negative.
pub(crate) fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    median * (sigma * z).exp()
}

/// Knuth's method; λ stays below ~10 per tick, where it is exact and cheap.
fn poisson(rng: &mut impl Rng, lambda: f64) -> u64 {
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p: f64 = rng.random();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn pick_model(rng: &mut impl Rng) -> &'static ModelProfile {
    let total: f64 = CATALOG.iter().map(|m| m.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for m in &CATALOG {
        if x < m.weight {
            return m;
        }
        x -= m.weight;
    }
    &CATALOG[0]
}

struct Pending {
    done_at: f64,
    obs: Observation,
}

/// An outage-like stretch where one model fails far more often than usual.
struct Spell {
    model: &'static str,
    until: f64,
    error_p: f64,
}

pub(crate) struct Simulator {
    rng: StdRng,
    now: f64,
    base_rps: f64,
    in_flight: Vec<Pending>,
    next_burst_at: f64,
    burst_until: f64,
    spell: Option<Spell>,
    cache_ratio: f64,
    /// Under `saturation`: arrivals waiting for capacity, with their arrival time.
    waiting: std::collections::VecDeque<(f64, &'static ModelProfile)>,
    /// Requests the capacity allows to start, carried between ticks.
    start_credit: f64,
}

impl Simulator {
    pub fn new(seed: u64, base_rps: f64, cache_ratio: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        // First burst early enough that someone trying `--demo` sees one within a minute.
        let next_burst_at = rng.random_range(20.0..45.0);
        Simulator {
            rng,
            now: 0.0,
            base_rps: base_rps.max(0.0),
            in_flight: Vec::new(),
            next_burst_at,
            burst_until: 0.0,
            spell: None,
            cache_ratio: cache_ratio.clamp(CACHE_RATIO_RANGE.0, CACHE_RATIO_RANGE.1),
            waiting: std::collections::VecDeque::new(),
            start_credit: 0.0,
        }
    }

    /// Advances virtual time by one tick: starts new requests, completes due ones, drifts the gauges.
    pub fn step(&mut self, metrics: &Metrics, scenarios: ScenarioSet) {
        self.now += TICK_SECS;
        self.update_burst();
        self.update_spell();

        let rate = if self.now < self.burst_until {
            self.base_rps * BURST_FACTOR
        } else {
            self.base_rps
        };
        let saturated = scenarios.contains(Scenario::Saturation);
        let failover = scenarios.contains(Scenario::Failover);
        // Without saturation nothing waits (a queue left from it starts at once) and each
        // arrival starts as it comes, in the order a seed has always produced.
        let mut waits = if saturated {
            Vec::new()
        } else {
            self.start_waiting(false, metrics)
        };
        let arrivals = poisson(&mut self.rng, rate * TICK_SECS);
        for _ in 0..arrivals {
            let profile = pick_model(&mut self.rng);
            if saturated {
                self.waiting.push_back((self.now, profile));
            } else {
                let obs = self.synthesize(profile);
                self.in_flight.push(Pending {
                    done_at: self.now + obs.latency,
                    obs,
                });
            }
        }
        if saturated {
            waits.extend(self.start_waiting(true, metrics));
        }
        metrics.set_queue(self.waiting.len() as u64, &waits);

        let now = self.now;
        let (mut done, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|p| p.done_at <= now);
        self.in_flight = still;
        done.sort_by(|a, b| a.done_at.total_cmp(&b.done_at));
        for p in &done {
            metrics.record_at(&p.obs, p.done_at, failover);
        }
        metrics.set_synthetic_active(self.in_flight.len() as u64);

        // Mean-reverting random walk so the ratio wanders but stays plausible.
        let z: f64 = self.rng.sample(StandardNormal);
        let mid = (CACHE_RATIO_RANGE.0 + CACHE_RATIO_RANGE.1) / 2.0;
        self.cache_ratio = (self.cache_ratio + 0.008 * z + 0.01 * (mid - self.cache_ratio))
            .clamp(CACHE_RATIO_RANGE.0, CACHE_RATIO_RANGE.1);
        // Two decimals, like the seed exporter's `0.42`.
        metrics.set_cache_hit_ratio((self.cache_ratio * 100.0).round() / 100.0);
    }

    /// Starts the requests that may start now: all of them, or under `saturation` as many as
    /// the capacity allows (the queue refusing arrivals beyond [`MAX_QUEUE`]). Returns how long
    /// each started request waited.
    fn start_waiting(&mut self, saturated: bool, metrics: &Metrics) -> Vec<f64> {
        let allowed = if saturated {
            let per_tick = SATURATION_CAPACITY_RPS * TICK_SECS;
            // Idle capacity does not pile up into a later burst.
            self.start_credit = (self.start_credit + per_tick).min(per_tick + 1.0);
            self.start_credit.floor() as usize
        } else {
            self.start_credit = 0.0;
            self.waiting.len()
        };
        let mut waits = Vec::new();
        for _ in 0..allowed {
            let Some((arrived, profile)) = self.waiting.pop_front() else {
                break;
            };
            let wait = self.now - arrived;
            let mut obs = self.synthesize(profile);
            // The wait is over: the request is served from now, and its client saw both.
            let done_at = self.now + obs.latency;
            obs.latency += wait;
            obs.ttft = obs.ttft.map(|t| t + wait);
            if saturated {
                self.start_credit -= 1.0;
            }
            waits.push(wait);
            self.in_flight.push(Pending { done_at, obs });
        }
        while self.waiting.len() > MAX_QUEUE {
            if let Some((_, profile)) = self.waiting.pop_back() {
                let refused = Observation {
                    model: profile.id,
                    success: false,
                    latency: 0.002,
                    ttft: None,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                };
                metrics.record_at(&refused, self.now, false);
            }
        }
        waits
    }

    fn update_burst(&mut self) {
        if self.now >= self.next_burst_at {
            self.burst_until = self.now + self.rng.random_range(8.0..12.0);
            self.next_burst_at = self.now + self.rng.random_range(50.0..70.0);
        }
    }

    fn update_spell(&mut self) {
        if self.spell.as_ref().is_some_and(|s| self.now >= s.until) {
            self.spell = None;
        }
        if self.spell.is_none() && self.rng.random_bool(SPELL_START_P) {
            let model = pick_model(&mut self.rng).id;
            self.spell = Some(Spell {
                model,
                until: self.now + self.rng.random_range(5.0..15.0),
                error_p: self.rng.random_range(0.15..0.4),
            });
        }
    }

    fn synthesize(&mut self, profile: &'static ModelProfile) -> Observation {
        let error_p = match &self.spell {
            Some(s) if s.model == profile.id => s.error_p,
            _ => profile.error_rate,
        };
        let rng = &mut self.rng;
        if rng.random_bool(error_p.clamp(0.0, 1.0)) {
            // Most failures are quick rejections; some are upstream timeouts past the top bucket.
            let latency = if rng.random_bool(0.15) {
                rng.random_range(5.0..12.0)
            } else {
                lognormal(rng, 0.15, 0.6)
            };
            return Observation {
                model: profile.id,
                success: false,
                latency,
                ttft: None,
                prompt_tokens: 0,
                completion_tokens: 0,
            };
        }
        let ttft = lognormal(rng, profile.ttft_median, profile.ttft_sigma).clamp(0.03, 5.0);
        let completion = lognormal(rng, profile.completion_median, 0.6)
            .round()
            .clamp(1.0, 8192.0);
        let gap = rng.random_range(profile.token_gap.0..profile.token_gap.1);
        let prompt = lognormal(rng, profile.prompt_median, 0.8)
            .round()
            .clamp(5.0, 64_000.0);
        Observation {
            model: profile.id,
            success: true,
            latency: ttft + completion * gap,
            ttft: Some(ttft),
            prompt_tokens: prompt as u64,
            completion_tokens: completion as u64,
        }
    }
}

/// Ticks the simulator until the gateway shuts down.
pub(crate) async fn run(
    mut sim: Simulator,
    metrics: Arc<Metrics>,
    scenarios: ScenarioSwitch,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(TICK);
    // After a stall, carry on at the normal pace rather than replaying the missed ticks in a burst.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => sim.step(&metrics, scenarios.get()),
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without_created(text: &str) -> String {
        text.lines()
            .filter(|l| !l.contains("_created"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    fn run_steps(seed: u64, steps: usize) -> Metrics {
        let metrics = Metrics::new(0.45);
        let mut sim = Simulator::new(seed, 20.0, 0.45);
        for _ in 0..steps {
            sim.step(&metrics, ScenarioSet::NONE);
        }
        metrics
    }

    #[test]
    fn same_seed_same_traffic() {
        let a = without_created(&run_steps(7, 600).render());
        let b = without_created(&run_steps(7, 600).render());
        let c = without_created(&run_steps(8, 600).render());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn traffic_has_the_intended_shape() {
        // Five virtual minutes: enough for bursts, every model, and a stable error rate.
        let text = run_steps(42, 3000).render();
        let mut total = 0.0;
        let mut errors = 0.0;
        for m in &CATALOG {
            let ok = sample(
                &text,
                &format!(
                    "deepseek_requests_total{{model=\"{}\",status=\"success\"}}",
                    m.id
                ),
            );
            let err = sample(
                &text,
                &format!(
                    "deepseek_requests_total{{model=\"{}\",status=\"error\"}}",
                    m.id
                ),
            );
            assert!(ok > 0.0, "{} never succeeded", m.id);
            total += ok + err;
            errors += err;
            let count = sample(
                &text,
                &format!(
                    "deepseek_request_latency_seconds_count{{model=\"{}\"}}",
                    m.id
                ),
            );
            let inf = sample(
                &text,
                &format!(
                    "deepseek_request_latency_seconds_bucket{{model=\"{}\",le=\"+Inf\"}}",
                    m.id
                ),
            );
            assert_eq!(count, ok + err);
            assert_eq!(inf, count);
            let prompt = sample(
                &text,
                &format!(
                    "deepseek_tokens_total{{model=\"{}\",type=\"prompt\"}}",
                    m.id
                ),
            );
            let completion = sample(
                &text,
                &format!(
                    "deepseek_tokens_total{{model=\"{}\",type=\"completion\"}}",
                    m.id
                ),
            );
            let all = sample(
                &text,
                &format!("deepseek_tokens_total{{model=\"{}\",type=\"total\"}}", m.id),
            );
            assert_eq!(all, prompt + completion);
        }
        // ~20 req/s for 300 s plus bursts, minus what is still in flight.
        assert!((5000.0..9000.0).contains(&total), "total {total}");
        let error_rate = errors / total;
        assert!(
            (0.005..0.08).contains(&error_rate),
            "error rate {error_rate}"
        );
        let ratio = sample(&text, "deepseek_cache_hit_ratio");
        assert!((0.3..=0.6).contains(&ratio), "ratio {ratio}");
        assert!(sample(&text, "deepseek_active_requests") > 0.0);
    }

    #[test]
    fn counters_never_decrease() {
        let metrics = Metrics::new(0.45);
        let mut sim = Simulator::new(3, 20.0, 0.45);
        let mut last = 0.0;
        for _ in 0..50 {
            for _ in 0..10 {
                sim.step(&metrics, ScenarioSet::NONE);
            }
            let sum = requests_total(&metrics.render());
            assert!(sum >= last);
            last = sum;
        }
        assert!(last > 0.0);
    }

    /// Every request finished so far: the sum of `deepseek_requests_total` over its series.
    fn requests_total(text: &str) -> f64 {
        text.lines()
            .filter(|l| l.starts_with("deepseek_requests_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    fn run_with(scenario: Scenario, seed: u64, steps: usize) -> (Simulator, Metrics) {
        let metrics = Metrics::new(0.45);
        let mut sim = Simulator::new(seed, 20.0, 0.45);
        for _ in 0..steps {
            sim.step(&metrics, scenario.into());
        }
        (sim, metrics)
    }

    #[test]
    fn saturation_queues_while_throughput_stays_at_capacity() {
        // One virtual minute at 20 req/s (and bursts) against a capacity of 12 req/s.
        let (sim, metrics) = run_with(Scenario::Saturation, 11, 600);
        let text = metrics.render_with(ScenarioSet::from(Scenario::Saturation).extensions());
        let started = sample(&text, "deepseek_queue_time_seconds_count");
        // Capacity allows 12 a second: 720 in 60 s, plus the one request of carried credit.
        assert!((700.0..=721.0).contains(&started), "started {started}");
        let queued = sample(&text, "deepseek_queued_requests");
        assert_eq!(queued, sim.waiting.len() as f64);
        assert!(queued > 300.0, "the rest wait: {queued}");
        let mean_wait = sample(&text, "deepseek_queue_time_seconds_sum") / started;
        assert!(mean_wait > 5.0, "waits grow: {mean_wait}");
        // A request leaves the queue to be served: completions run at the capacity, not
        // slowed by the growing wait (which only its client's latency carries).
        let mut sim = sim;
        let before = requests_total(&metrics.render());
        for _ in 0..300 {
            sim.step(&metrics, Scenario::Saturation.into());
        }
        let per_second = (requests_total(&metrics.render()) - before) / 30.0;
        assert!(
            (11.0..=13.0).contains(&per_second),
            "completions per second under saturation: {per_second}"
        );
        // Without the scenario the queue families are not exported, and the queue drains.
        sim.step(&metrics, ScenarioSet::NONE);
        assert!(sim.waiting.is_empty());
        assert!(!metrics.render().contains("deepseek_queued_requests"));
    }

    #[test]
    fn failover_moves_the_primary_along_the_chain() {
        let (_, metrics) = run_with(Scenario::Failover, 12, 1200);
        let text = metrics.render_with(ScenarioSet::from(Scenario::Failover).extensions());
        assert_eq!(
            sample(
                &text,
                "deepseek_upstream_state{upstream=\"deepseek-chat\",provider=\"deepseek\",api_base=\"https://api.deepseek.com\"}"
            ),
            2.0
        );
        let to = |target: &str| {
            sample(
                &text,
                &format!(
                    "deepseek_fallbacks_total{{from=\"deepseek-chat\",to=\"{target}\",result=\"ok\"}}"
                ),
            )
        };
        assert!(to("claude-sonnet-4-5") > 100.0, "{text}");
        assert!(to("gpt-4o") > 100.0, "claude's 300 RPM run out");
        let refused = sample(
            &text,
            "deepseek_upstream_responses_total{upstream=\"deepseek-chat\",provider=\"deepseek\",status=\"error\"}",
        );
        let primary = sample(
            &text,
            "deepseek_requests_total{model=\"deepseek-chat\",status=\"success\"}",
        ) + sample(
            &text,
            "deepseek_requests_total{model=\"deepseek-chat\",status=\"error\"}",
        );
        assert_eq!(
            refused, primary,
            "every primary request was refused upstream"
        );
        let remaining = sample(
            &text,
            "deepseek_ratelimit_remaining_requests{upstream=\"claude-sonnet-4-5\"}",
        );
        assert!(
            remaining < 30.0,
            "claude's headroom is nearly gone: {remaining}"
        );
        // Two virtual minutes, one cooldown per 5 s.
        let cooldowns = sample(
            &text,
            "deepseek_upstream_cooldowns_total{upstream=\"deepseek-chat\",provider=\"deepseek\"}",
        );
        assert!((23.0..=25.0).contains(&cooldowns), "cooldowns {cooldowns}");
    }

    #[test]
    fn without_a_router_scenario_the_exposition_is_the_seeds() {
        let text = run_steps(7, 100).render();
        for family in [
            "deepseek_upstream",
            "deepseek_fallbacks",
            "deepseek_ratelimit",
            "deepseek_queue",
        ] {
            assert!(
                !text.contains(family),
                "{family} leaked into the plain demo"
            );
        }
    }

    #[test]
    fn bursts_triple_the_rate() {
        let mut sim = Simulator::new(1, 20.0, 0.45);
        let metrics = Metrics::new(0.45);
        let mut burst_ticks = 0;
        for _ in 0..1200 {
            sim.step(&metrics, ScenarioSet::NONE);
            if sim.now < sim.burst_until {
                burst_ticks += 1;
            }
        }
        // Two minutes contain at least one ~10 s burst and at most three.
        assert!((80..=400).contains(&burst_ticks), "{burst_ticks}");
    }
}
