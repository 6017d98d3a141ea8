//! The gateway's upstreams: each deployment behind the router with its state, answers, cooldowns
//! and rate-limit headroom, and the fallbacks from one model to another — what a failover router
//! (LiteLLM's) knows and a request count alone hides.
use serde::Serialize;

use crate::base::dialect::{Description, FALLBACK_ARROW};
use crate::base::signal::Signal;
use crate::model::figures;
use crate::model::store::TargetStore;

/// An upstream deployment's state as the router reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    Down,
    Degraded,
    #[default]
    Unknown,
    Healthy,
}

impl UpstreamState {
    /// LiteLLM's `litellm_deployment_state`: 0 healthy, 1 partial outage, 2 complete outage.
    pub fn from_gauge(v: Option<f64>) -> Self {
        match v {
            Some(v) if v >= 1.5 => UpstreamState::Down,
            Some(v) if v >= 0.5 => UpstreamState::Degraded,
            Some(_) => UpstreamState::Healthy,
            None => UpstreamState::Unknown,
        }
    }

    /// The name in JSON and CSV: `healthy`, `degraded`, `down`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            UpstreamState::Down => "down",
            UpstreamState::Degraded => "degraded",
            UpstreamState::Unknown => "unknown",
            UpstreamState::Healthy => "healthy",
        }
    }

    /// The word the dashboard shows (a word, never colour alone).
    pub fn word(self) -> &'static str {
        match self {
            UpstreamState::Down => "DOWN",
            UpstreamState::Degraded => "DEGRADED",
            UpstreamState::Unknown => "–",
            UpstreamState::Healthy => "ok",
        }
    }
}

/// One upstream deployment over a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Upstream {
    pub name: String,
    /// What the dialect's `describe` labels say it runs, and where: `null` where none does.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub api_base: Option<String>,
    pub state: UpstreamState,
    pub requests_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    /// Times it was taken out of rotation in the range.
    pub cooldowns: Option<f64>,
    /// Requests per second moved away from it to a fallback (answered or not).
    pub fallbacks_per_second: Option<f64>,
    /// Where its fallbacks went, busiest first.
    #[serde(skip)]
    pub fallback_targets: Vec<String>,
    pub rpm_limit: Option<f64>,
    pub remaining_requests: Option<f64>,
    pub tpm_limit: Option<f64>,
    pub remaining_tokens: Option<f64>,
    /// Answers per second over the window, one point per chart column (oldest first), for the
    /// full-screen view; empty until [`with_history`] fills it.
    #[serde(skip)]
    pub history: Vec<f64>,
    /// Failed answers per second at the same points.
    #[serde(skip)]
    pub error_history: Vec<f64>,
}

impl Upstream {
    /// The share of its request limit left this minute (of the token limit where only that is
    /// known); `None` when neither is exported.
    pub fn headroom_share(&self) -> Option<f64> {
        let share = |r: Option<f64>, l: Option<f64>| match (r, l) {
            (Some(r), Some(l)) if l > 0.0 => Some((r / l).clamp(0.0, 1.0)),
            _ => None,
        };
        share(self.remaining_requests, self.rpm_limit)
            .or_else(|| share(self.remaining_tokens, self.tpm_limit))
    }
}

/// What the Gateway table is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpstreamSort {
    /// Down, degraded, then by error share (the order [`upstreams`] returns).
    #[default]
    Worst,
    Name,
    Requests,
    Errors,
    /// The least rate-limit headroom first.
    Headroom,
}

impl UpstreamSort {
    pub const ALL: [UpstreamSort; 5] = [
        UpstreamSort::Worst,
        UpstreamSort::Name,
        UpstreamSort::Requests,
        UpstreamSort::Errors,
        UpstreamSort::Headroom,
    ];

    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            UpstreamSort::Worst => "worst",
            UpstreamSort::Name => "name",
            UpstreamSort::Requests => "req/s",
            UpstreamSort::Errors => "errors",
            UpstreamSort::Headroom => "headroom",
        }
    }

    /// The natural direction: names A→Z, the worst, busiest, most failing and least headroom
    /// first. `reversed` flips it.
    pub fn sort(self, rows: &mut [Upstream], reversed: bool) {
        let num = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
        match self {
            // `upstreams` returns this order; a stable sort on nothing keeps it.
            UpstreamSort::Worst => {}
            UpstreamSort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            UpstreamSort::Requests => rows
                .sort_by(|a, b| num(b.requests_per_second).total_cmp(&num(a.requests_per_second))),
            UpstreamSort::Errors => {
                rows.sort_by(|a, b| num(b.error_ratio).total_cmp(&num(a.error_ratio)))
            }
            UpstreamSort::Headroom => rows.sort_by(|a, b| {
                let h = |u: &Upstream| u.headroom_share().unwrap_or(f64::INFINITY);
                h(a).total_cmp(&h(b))
            }),
        }
        if reversed {
            rows.reverse();
        }
    }
}

/// Fills each upstream's [`Upstream::history`]: answers (and failures) per second at `columns`
/// points across `[eval_t - window, eval_t]`, each a rate over `range`.
pub fn with_history(
    store: &TargetStore,
    rows: &mut [Upstream],
    eval_t: f64,
    window: f64,
    columns: usize,
    range: f64,
) {
    let step = window / columns.max(1) as f64;
    for u in rows {
        let one = [u.name.as_str()];
        let mut answers = Vec::with_capacity(columns);
        let mut failures = Vec::with_capacity(columns);
        for c in 0..columns {
            let t = eval_t - window + step * (c + 1) as f64;
            let rate = |s| store.sum_rate(s, Some(&one), t, range);
            let ok = rate(Signal::UpstreamSuccesses);
            let failed = rate(Signal::UpstreamFailures);
            let all = rate(Signal::UpstreamRequests).or_else(|| {
                (ok.is_some() || failed.is_some())
                    .then(|| ok.unwrap_or(0.0) + failed.unwrap_or(0.0))
            });
            answers.push(all.unwrap_or(0.0));
            failures.push(failed.unwrap_or(0.0));
        }
        u.history = answers;
        u.error_history = failures;
    }
}

/// Requests moved from one model to another over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fallback {
    pub from: String,
    pub to: String,
    pub per_second: Option<f64>,
    /// How many in the range.
    pub count: Option<f64>,
    /// Whether the fallback answered (`fallbacks_ok`) or failed too.
    pub ok: bool,
}

fn split_pair(key: &str) -> (String, String) {
    match key.split_once(FALLBACK_ARROW) {
        Some((from, to)) => (from.to_string(), to.to_string()),
        None => (key.to_string(), String::new()),
    }
}

/// Every fallback pair over `[eval_t - range, eval_t]`, answered ones first, then by rate.
pub fn fallbacks(store: &TargetStore, eval_t: f64, range: f64) -> Vec<Fallback> {
    let mut out = Vec::new();
    for (signal, ok) in [
        (Signal::FallbacksOk, true),
        (Signal::FallbacksFailed, false),
    ] {
        for key in store.keys_of(signal) {
            let one = [key.model.as_str()];
            out.push(fallback(
                &key.model,
                store.sum_rate(signal, Some(&one), eval_t, range),
                store.sum_increase(signal, Some(&one), eval_t, range),
                ok,
            ));
        }
    }
    sort_fallbacks(&mut out);
    out
}

/// One fallback pair from its series key (`from → to`) and its figures.
pub fn fallback(key: &str, per_second: Option<f64>, count: Option<f64>, ok: bool) -> Fallback {
    let (from, to) = split_pair(key);
    Fallback {
        from,
        to,
        per_second,
        count,
        ok,
    }
}

/// Answered fallbacks first, then the busiest, then by name.
pub fn sort_fallbacks(rows: &mut [Fallback]) {
    rows.sort_by(|a, b| {
        b.ok.cmp(&a.ok)
            .then(
                b.per_second
                    .unwrap_or(0.0)
                    .total_cmp(&a.per_second.unwrap_or(0.0)),
            )
            .then(a.from.cmp(&b.from))
            .then(a.to.cmp(&b.to))
    });
}

/// What a source measured of one upstream over a range, before the rules below make a row of
/// it: rates per second, cooldowns as a count, the gauges' latest values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamNumbers {
    pub successes: Option<f64>,
    pub failures: Option<f64>,
    /// All answers, where the gateway counts them in one family (Kong, OpenTelemetry).
    pub requests: Option<f64>,
    pub cooldowns: Option<f64>,
    pub state: Option<f64>,
    pub rpm_limit: Option<f64>,
    pub remaining_requests: Option<f64>,
    pub tpm_limit: Option<f64>,
    pub remaining_tokens: Option<f64>,
}

/// One row from its numbers: the one place the rules live, for a scrape's store and for
/// Prometheus alike. `counts_failures` says the gateway counts failures somewhere (so a missing
/// failure series is 0 rather than unknown); `moved` is [`fallbacks`] over the same range.
pub fn assemble(
    name: String,
    n: UpstreamNumbers,
    counts_failures: bool,
    moved: &[Fallback],
    described: Option<&Description>,
) -> Upstream {
    // All answers where the gateway counts them, else successes plus failures (LiteLLM).
    let requests = n.requests.or(match (n.successes, n.failures) {
        (None, None) => None,
        (o, f) => Some(o.unwrap_or(0.0) + f.unwrap_or(0.0)),
    });
    let counts_failures = n.successes.is_some() || counts_failures;
    let errors = figures::errors(n.failures, counts_failures, requests);
    let away: Vec<&Fallback> = moved.iter().filter(|f| f.from == name).collect();
    let fallbacks_per_second =
        (!away.is_empty()).then(|| away.iter().filter_map(|f| f.per_second).sum::<f64>());
    let described = described.cloned().unwrap_or_default();
    Upstream {
        model: described.model,
        provider: described.provider,
        api_base: described.api_base,
        state: UpstreamState::from_gauge(n.state),
        requests_per_second: requests,
        errors_per_second: errors,
        error_ratio: figures::error_ratio(errors, requests),
        cooldowns: n.cooldowns,
        fallbacks_per_second,
        fallback_targets: away.iter().map(|f| f.to.clone()).collect(),
        rpm_limit: n.rpm_limit,
        remaining_requests: n.remaining_requests,
        tpm_limit: n.tpm_limit,
        remaining_tokens: n.remaining_tokens,
        name,
        ..Upstream::default()
    }
}

/// Down, degraded, then by error ratio, then by name: the worst first.
pub fn sort_worst_first(rows: &mut [Upstream]) {
    rows.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(
                b.error_ratio
                    .unwrap_or(0.0)
                    .total_cmp(&a.error_ratio.unwrap_or(0.0)),
            )
            .then(a.name.cmp(&b.name))
    });
}

/// Every upstream over `[eval_t - range, eval_t]`, the worst first. `moved` is [`fallbacks`]
/// over the same range (computed once by the caller, who shows it too).
pub fn upstreams(
    store: &TargetStore,
    moved: &[Fallback],
    eval_t: f64,
    range: f64,
) -> Vec<Upstream> {
    // A missing failure series is 0 only where the gateway shows it counts failures: a
    // success series beside it, or failures seen for another upstream.
    let has_failures = !store.keys_of(Signal::UpstreamFailures).is_empty();
    let mut out: Vec<Upstream> = store
        .upstreams()
        .into_iter()
        .map(|name| {
            let one = [name.as_str()];
            let rate = |s| store.sum_rate(s, Some(&one), eval_t, range);
            let gauge = |s| store.gauge_latest_of(s, &name);
            let numbers = UpstreamNumbers {
                successes: rate(Signal::UpstreamSuccesses),
                failures: rate(Signal::UpstreamFailures),
                requests: rate(Signal::UpstreamRequests),
                cooldowns: store.sum_increase(Signal::UpstreamCooldowns, Some(&one), eval_t, range),
                state: gauge(Signal::UpstreamState),
                rpm_limit: gauge(Signal::RpmLimit),
                remaining_requests: gauge(Signal::RemainingRequests),
                tpm_limit: gauge(Signal::TpmLimit),
                remaining_tokens: gauge(Signal::RemainingTokens),
            };
            let described = store.description(&name).cloned();
            assemble(name, numbers, has_failures, moved, described.as_ref())
        })
        .collect();
    sort_worst_first(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_state_becomes_a_word() {
        assert_eq!(UpstreamState::from_gauge(Some(0.0)), UpstreamState::Healthy);
        assert_eq!(
            UpstreamState::from_gauge(Some(1.0)),
            UpstreamState::Degraded
        );
        assert_eq!(UpstreamState::from_gauge(Some(2.0)), UpstreamState::Down);
        assert_eq!(UpstreamState::from_gauge(None), UpstreamState::Unknown);
        assert!(
            UpstreamState::Down < UpstreamState::Healthy,
            "the worst sorts first"
        );
        assert_eq!(
            split_pair("gpt-4o → deepseek-chat"),
            ("gpt-4o".into(), "deepseek-chat".into())
        );
    }
}
