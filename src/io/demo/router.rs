//! The demo gateway's failover router and rate limiter: which upstream answered each request,
//! the fallbacks from a down upstream along the seed's chain, cooldowns, and the requests left
//! under each upstream's per-minute limit.
//!
//! The seed gateway puts a rate limiter and a failover router (DeepSeek → Claude → GPT-4o) in
//! front of its upstreams but exports nothing of them; the demo exports what they know under
//! `deepseek_upstream_*`, `deepseek_fallbacks_total` and `deepseek_ratelimit_*` (documented in
//! `dialects/seed.toml`) while the `failover` scenario runs, so the dashboard's Gateway panel has
//! a real peer to read.
use std::collections::VecDeque;

use super::models::CATALOG;

/// The upstream the `failover` scenario takes down: the primary of the seed's chain.
pub(crate) const DOWN_UPSTREAM: &str = "deepseek-chat";
/// Where the router sends the down upstream's requests, in order: the seed's chain after DeepSeek.
pub(crate) const FALLBACK_CHAIN: [&str; 2] = ["claude-sonnet-4-5", "gpt-4o"];
/// A failing upstream is taken out of rotation for this long, once per period (LiteLLM's
/// default `cooldown_time` is 5 s as well).
pub(crate) const COOLDOWN_SECS: f64 = 5.0;
/// The rate limiter's window: requests per minute.
const LIMIT_WINDOW_SECS: f64 = 60.0;
/// An upstream is degraded when, over this span, at least [`DEGRADED_MIN_ANSWERS`] answers
/// came back and at least [`DEGRADED_FAILED_SHARE`] of them failed.
const DEGRADED_SPAN_SECS: f64 = 10.0;
const DEGRADED_MIN_ANSWERS: usize = 5;
const DEGRADED_FAILED_SHARE: f64 = 0.25;

/// Requests per minute each upstream allows. At the demo's 20 req/s, claude-sonnet-4-5 (10 %
/// of the traffic, 120 a minute) has room for its own load but not for deepseek-chat's 540 a
/// minute as well: under `failover` its headroom runs out and the router moves on to gpt-4o.
pub(crate) fn rpm_limit(upstream: &str) -> u64 {
    match upstream {
        "deepseek-chat" => 1000,
        "deepseek-reasoner" => 400,
        "gpt-4o" => 800,
        "gpt-4o-mini" => 600,
        "claude-sonnet-4-5" => 300,
        _ => 500,
    }
}

/// Where a provider's API lives: the `api_base` label beside `provider`.
pub(crate) fn api_base(provider: &str) -> &'static str {
    match provider {
        "deepseek" => "https://api.deepseek.com",
        "openai" => "https://api.openai.com/v1",
        "anthropic" => "https://api.anthropic.com",
        _ => "",
    }
}

/// The upstream's health as `deepseek_upstream_state` encodes it (LiteLLM's encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Healthy = 0,
    Degraded = 1,
    Down = 2,
}

/// What the router did with one request: `(from, to, answered)` when it fell back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routed {
    /// The upstream that answered (or failed last).
    pub served_by: &'static str,
    pub fallback: Option<(&'static str, &'static str, bool)>,
    /// The down upstream failed and was put into cooldown by this request.
    pub cooled_down: Option<&'static str>,
    /// Answers to count: `(upstream, ok)`, the down upstream's refusal first.
    pub answers: Vec<(&'static str, bool)>,
}

#[derive(Debug)]
struct UpstreamState {
    name: &'static str,
    /// Times requests were sent to it, within the rate-limit window.
    sent: VecDeque<f64>,
    /// Answers within the degraded span: when, and whether they succeeded.
    recent: VecDeque<(f64, bool)>,
    last_cooldown: Option<f64>,
}

/// The router's memory: bounded by the requests of one minute.
#[derive(Debug)]
pub(crate) struct Router {
    upstreams: Vec<UpstreamState>,
}

impl Default for Router {
    fn default() -> Self {
        Router {
            upstreams: CATALOG
                .iter()
                .map(|m| UpstreamState {
                    name: m.id,
                    sent: VecDeque::new(),
                    recent: VecDeque::new(),
                    last_cooldown: None,
                })
                .collect(),
        }
    }
}

impl Router {
    fn state(&mut self, name: &str) -> Option<&mut UpstreamState> {
        self.upstreams.iter_mut().find(|u| u.name == name)
    }

    fn forget_before(&mut self, now: f64) {
        for u in &mut self.upstreams {
            while u
                .sent
                .front()
                .is_some_and(|t| *t <= now - LIMIT_WINDOW_SECS)
            {
                u.sent.pop_front();
            }
            while u
                .recent
                .front()
                .is_some_and(|(t, _)| *t <= now - DEGRADED_SPAN_SECS)
            {
                u.recent.pop_front();
            }
        }
    }

    /// Requests `upstream` may still take this minute (0 at or over its limit).
    pub fn remaining(&self, upstream: &str) -> u64 {
        let sent = self
            .upstreams
            .iter()
            .find(|u| u.name == upstream)
            .map_or(0, |u| u.sent.len() as u64);
        rpm_limit(upstream).saturating_sub(sent)
    }

    /// Healthy, degraded (a quarter of its recent answers failed) or down (`failover` on and it
    /// is the chain's primary).
    pub fn health(&self, upstream: &str, failover: bool) -> Health {
        if failover && upstream == DOWN_UPSTREAM {
            return Health::Down;
        }
        let Some(u) = self.upstreams.iter().find(|u| u.name == upstream) else {
            return Health::Healthy;
        };
        let failed = u.recent.iter().filter(|(_, ok)| !ok).count();
        if u.recent.len() >= DEGRADED_MIN_ANSWERS
            && failed as f64 >= DEGRADED_FAILED_SHARE * u.recent.len() as f64
        {
            Health::Degraded
        } else {
            Health::Healthy
        }
    }

    fn answer(&mut self, upstream: &'static str, ok: bool, now: f64) {
        if let Some(u) = self.state(upstream) {
            u.sent.push_back(now);
            u.recent.push_back((now, ok));
        }
    }

    /// Routes one finished request for `model` at `now` (seconds on the caller's clock).
    /// `success` is how the request ended for the client; under `failover` the down upstream
    /// refuses it and the first upstream of [`FALLBACK_CHAIN`] with headroom takes it (the last
    /// one when none has any: a limiter that queues rather than refuses).
    pub fn route(
        &mut self,
        model: &'static str,
        success: bool,
        now: f64,
        failover: bool,
    ) -> Routed {
        self.forget_before(now);
        if !(failover && model == DOWN_UPSTREAM) {
            self.answer(model, success, now);
            return Routed {
                served_by: model,
                fallback: None,
                cooled_down: None,
                answers: vec![(model, success)],
            };
        }
        self.answer(model, false, now);
        let cooled_down = self.state(model).and_then(|u| {
            let due = u.last_cooldown.is_none_or(|t| now - t >= COOLDOWN_SECS);
            due.then(|| {
                u.last_cooldown = Some(now);
                u.name
            })
        });
        let last = FALLBACK_CHAIN[FALLBACK_CHAIN.len() - 1];
        let target = FALLBACK_CHAIN
            .into_iter()
            .find(|t| self.remaining(t) > 0)
            .unwrap_or(last);
        self.answer(target, success, now);
        Routed {
            served_by: target,
            fallback: Some((model, target, success)),
            cooled_down,
            answers: vec![(model, false), (target, success)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_failover_each_model_is_its_own_upstream() {
        let mut r = Router::default();
        let routed = r.route("gpt-4o", true, 1.0, false);
        assert_eq!(routed.served_by, "gpt-4o");
        assert_eq!(routed.fallback, None);
        assert_eq!(routed.answers, vec![("gpt-4o", true)]);
        assert_eq!(r.remaining("gpt-4o"), 799);
        assert_eq!(r.health(DOWN_UPSTREAM, false), Health::Healthy);
    }

    #[test]
    fn the_down_primary_falls_back_along_the_chain_as_headroom_runs_out() {
        let mut r = Router::default();
        // 300 requests a minute fit claude-sonnet-4-5; the 301st goes on to gpt-4o.
        for i in 0..300 {
            let routed = r.route(DOWN_UPSTREAM, true, 1.0 + i as f64 * 0.01, true);
            assert_eq!(
                routed.fallback,
                Some((DOWN_UPSTREAM, "claude-sonnet-4-5", true))
            );
        }
        assert_eq!(r.remaining("claude-sonnet-4-5"), 0);
        let routed = r.route(DOWN_UPSTREAM, false, 5.0, true);
        assert_eq!(routed.fallback, Some((DOWN_UPSTREAM, "gpt-4o", false)));
        assert_eq!(
            routed.answers,
            vec![(DOWN_UPSTREAM, false), ("gpt-4o", false)]
        );
        assert_eq!(r.health(DOWN_UPSTREAM, true), Health::Down);
        // A minute later the window has emptied.
        r.route("gpt-4o", true, 70.0, true);
        assert_eq!(r.remaining("claude-sonnet-4-5"), 300);
    }

    #[test]
    fn cooldowns_come_once_per_period() {
        let mut r = Router::default();
        let cooled: Vec<bool> = [0.0, 1.0, 4.9, 5.0, 9.0, 10.5]
            .iter()
            .map(|t| r.route(DOWN_UPSTREAM, true, *t, true).cooled_down.is_some())
            .collect();
        assert_eq!(cooled, vec![true, false, false, true, false, true]);
    }

    #[test]
    fn a_quarter_failed_recently_is_degraded() {
        let mut r = Router::default();
        for (i, ok) in [true, true, true, false, true].iter().enumerate() {
            r.route("gpt-4o-mini", *ok, i as f64, false);
        }
        assert_eq!(r.health("gpt-4o-mini", false), Health::Healthy, "1 of 5");
        r.route("gpt-4o-mini", false, 5.0, false);
        assert_eq!(r.health("gpt-4o-mini", false), Health::Degraded, "2 of 6");
        // Ten seconds on, those answers are forgotten.
        r.route("gpt-4o-mini", true, 16.0, false);
        assert_eq!(r.health("gpt-4o-mini", false), Health::Healthy);
    }
}
