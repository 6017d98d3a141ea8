//! Spending budgets: what the gateway says is left per team, API key, user, organisation,
//! customer and provider (LiteLLM), and the monthly budgets of the config file — each with when
//! it runs out at this pace.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::base::signal::Signal;
use crate::model::store::TargetStore;

/// The config file's `[budget]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// USD a calendar month (UTC) may cost, for the whole gateway.
    #[serde(default)]
    pub monthly_usd: Option<f64>,
    /// USD a month per model, by the name the gateway reports (`[budget.models]`).
    #[serde(default)]
    pub models: BTreeMap<String, f64>,
}

impl BudgetConfig {
    /// A budget must be a positive, finite amount.
    pub fn problem(&self) -> Option<String> {
        let bad = |v: f64| !(v.is_finite() && v > 0.0);
        if self.monthly_usd.is_some_and(bad) {
            return Some("[budget] monthly_usd must be a positive number of USD".into());
        }
        self.models
            .iter()
            .find(|(_, v)| bad(**v))
            .map(|(m, _)| format!("[budget.models] {m:?} must be a positive number of USD"))
    }

    pub fn is_empty(&self) -> bool {
        self.monthly_usd.is_none() && self.models.is_empty()
    }
}

/// One budget and its outlook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// `team`, `org`, `api_key`, `user`, `customer`, `provider` (from the gateway), or
    /// `monthly` / `model` (from the config file).
    pub scope: String,
    pub name: String,
    /// USD left; for a config budget, projected: the month's budget less this month's spend at
    /// the current pace. Negative once overspent.
    pub remaining_usd: Option<f64>,
    pub max_usd: Option<f64>,
    /// When it runs out at this pace (RFC 3339); `null` when nothing is being spent, or when a
    /// monthly budget lasts the month.
    pub runs_out_at: Option<String>,
    /// The same, in seconds from now (0: already spent).
    pub runs_out_in_seconds: Option<f64>,
    /// The gateway's own count of hours until the budget resets.
    pub resets_in_hours: Option<f64>,
    /// The spend rate the outlook assumes, USD/hour. A gateway scope's own spend is not
    /// exported, so its outlook assumes the whole gateway's pace: the soonest it can run out.
    pub pace_usd_per_hour: Option<f64>,
}

/// The gateway's budgets from the store's latest scrape, with their outlook at `pace_usd_per_hour`
/// (the whole gateway's), soonest to run out first. A scope without a budget (remaining `+Inf`,
/// no maximum) is left out.
pub fn gateway_budgets(
    store: &TargetStore,
    pace_usd_per_hour: Option<f64>,
    now: f64,
) -> Vec<Budget> {
    let mut keys: Vec<String> = [
        Signal::BudgetRemainingUsd,
        Signal::BudgetMaxUsd,
        Signal::BudgetResetHours,
    ]
    .into_iter()
    .flat_map(|s| store.keys_of(s))
    .map(|k| k.model)
    .collect();
    keys.sort();
    keys.dedup();
    let mut out: Vec<Budget> = keys
        .into_iter()
        .filter_map(|key| {
            let latest = |s| {
                store
                    .gauge_latest_of(s, &key)
                    .filter(|v: &f64| v.is_finite())
            };
            let (remaining, max) = (
                latest(Signal::BudgetRemainingUsd),
                latest(Signal::BudgetMaxUsd),
            );
            if remaining.is_none() && max.is_none() {
                return None;
            }
            let (scope, name) = key.split_once(':').unwrap_or(("budget", key.as_str()));
            let (runs_out_at, runs_out_in_seconds) = outlook(remaining, pace_usd_per_hour, now);
            Some(Budget {
                scope: scope.to_string(),
                name: name.to_string(),
                remaining_usd: remaining,
                max_usd: max,
                runs_out_at,
                runs_out_in_seconds,
                resets_in_hours: latest(Signal::BudgetResetHours),
                pace_usd_per_hour,
            })
        })
        .collect();
    sort_soonest_first(&mut out);
    out
}

/// The config file's monthly budgets at the current pace: the whole gateway's
/// (`pace_total`) and each model's (`pace_of`). The month so far is assumed to have run at this
/// pace, which is what "at this pace" means for a monthly budget.
pub fn config_budgets(
    config: &BudgetConfig,
    pace_total: Option<f64>,
    pace_of: impl Fn(&str) -> Option<f64>,
    now: f64,
) -> Vec<Budget> {
    let Some((month_start, month_end)) = month_bounds(now) else {
        return Vec::new();
    };
    let one = |scope: &str, name: &str, max: f64, pace: Option<f64>| {
        let hours_in = (now - month_start) / 3600.0;
        let remaining = pace.map(|p| max - p * hours_in);
        let at = pace
            .filter(|p| *p > 0.0)
            .map(|p| month_start + max / p * 3600.0)
            .filter(|t| *t < month_end);
        Budget {
            scope: scope.to_string(),
            name: name.to_string(),
            remaining_usd: remaining,
            max_usd: Some(max),
            runs_out_at: at.and_then(rfc3339),
            runs_out_in_seconds: at.map(|t| (t - now).max(0.0)),
            resets_in_hours: Some((month_end - now) / 3600.0),
            pace_usd_per_hour: pace,
        }
    };
    let mut out = Vec::new();
    if let Some(max) = config.monthly_usd {
        out.push(one("monthly", "all models", max, pace_total));
    }
    for (model, max) in &config.models {
        out.push(one("model", model, *max, pace_of(model)));
    }
    sort_soonest_first(&mut out);
    out
}

/// The soonest to run out first, then those that do not, by scope and name.
pub fn sort_soonest_first(budgets: &mut [Budget]) {
    budgets.sort_by(|a, b| {
        let key = |x: &Budget| x.runs_out_in_seconds.unwrap_or(f64::INFINITY);
        key(a)
            .total_cmp(&key(b))
            .then_with(|| a.scope.cmp(&b.scope))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// When `remaining` USD run out at `pace` USD/hour from `now`.
fn outlook(remaining: Option<f64>, pace: Option<f64>, now: f64) -> (Option<String>, Option<f64>) {
    match (remaining, pace) {
        (Some(r), _) if r <= 0.0 => (rfc3339(now), Some(0.0)),
        (Some(r), Some(p)) if p > 0.0 => {
            let seconds = r / p * 3600.0;
            (rfc3339(now + seconds), Some(seconds))
        }
        _ => (None, None),
    }
}

fn rfc3339(t: f64) -> Option<String> {
    chrono::DateTime::from_timestamp(t.floor() as i64, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The UTC calendar month holding `now`: its first and last instant, unix seconds.
fn month_bounds(now: f64) -> Option<(f64, f64)> {
    use chrono::Datelike;
    let day = chrono::DateTime::from_timestamp(now.floor() as i64, 0)?.date_naive();
    let start = day.with_day(1)?;
    let next = if start.month() == 12 {
        chrono::NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?
    } else {
        chrono::NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)?
    };
    let unix = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp() as f64)
    };
    Some((unix(start)?, unix(next)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T00:00:00Z.
    const DEC_3: f64 = 1_796_256_000.0;

    #[test]
    fn a_monthly_budget_runs_out_when_the_month_at_this_pace_reaches_it() {
        let config = BudgetConfig {
            monthly_usd: Some(500.0),
            models: [("gpt-4o".to_string(), 100.0)].into(),
        };
        // $5/h for the whole gateway since Dec 1 (48 h): $240 spent, $260 left, and $500 reached
        // after 100 h, on Dec 5 at 04:00; gpt-4o at $2/h reaches $100 after 50 h, Dec 3 02:00.
        let b = config_budgets(
            &config,
            Some(5.0),
            |m| (m == "gpt-4o").then_some(2.0),
            DEC_3,
        );
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].scope.as_str(), b[0].name.as_str()),
            ("model", "gpt-4o")
        );
        assert_eq!(b[0].runs_out_at.as_deref(), Some("2026-12-03T02:00:00Z"));
        assert_eq!(b[0].runs_out_in_seconds, Some(7200.0));
        assert_eq!(b[0].remaining_usd, Some(4.0));
        assert_eq!(b[1].runs_out_at.as_deref(), Some("2026-12-05T04:00:00Z"));
        assert_eq!(b[1].remaining_usd, Some(260.0));
        // 29 days to the reset at the end of December.
        assert_eq!(b[1].resets_in_hours, Some(29.0 * 24.0));
        // At $0.50/h the month costs $372: it lasts, no run-out date.
        let b = config_budgets(&config, Some(0.5), |_| None, DEC_3);
        let monthly = b.iter().find(|x| x.scope == "monthly").unwrap();
        assert_eq!(monthly.runs_out_at, None);
        // A model with no spend known has no outlook.
        let gpt = b.iter().find(|x| x.name == "gpt-4o").unwrap();
        assert_eq!(
            (gpt.remaining_usd, gpt.runs_out_at.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn a_budget_must_be_a_positive_amount() {
        let mut config = BudgetConfig {
            monthly_usd: Some(0.0),
            ..BudgetConfig::default()
        };
        assert!(config.problem().unwrap().contains("monthly_usd"));
        config.monthly_usd = Some(10.0);
        config.models.insert("m".into(), -1.0);
        assert!(config.problem().unwrap().contains("\"m\""));
        config.models.clear();
        assert_eq!(config.problem(), None);
    }

    #[test]
    fn an_overspent_budget_has_run_out_now() {
        assert_eq!(outlook(Some(-3.0), Some(1.0), DEC_3).1, Some(0.0));
        assert_eq!(outlook(Some(10.0), Some(4.0), DEC_3).1, Some(9000.0));
        assert_eq!(outlook(Some(10.0), Some(0.0), DEC_3), (None, None));
        assert_eq!(outlook(None, Some(1.0), DEC_3), (None, None));
    }
}
