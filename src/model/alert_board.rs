//! Alert rules over time, as the dashboard holds them: each rule pending from the first moment it
//! holds, firing once it has held for its `for`, resolved when it stops; the transitions are what
//! a recording keeps and a replay shows.
use serde::{Deserialize, Serialize};

use crate::model::alert::{self, Input, Rule, Severity, Unit, Verdict};

/// Where one rule stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Does not hold.
    Ok,
    /// The figure is not measured here: it can neither fire nor pass.
    Unknown,
    /// Holds since this time (unix seconds), not yet for its `for`.
    Pending { since: f64 },
    /// Firing since this time: it has held for its whole `for`.
    Firing { since: f64 },
}

/// One rule on the board: its phase and the verdict last judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub expr: String,
    pub severity: Severity,
    pub for_seconds: f64,
    pub phase: Phase,
    /// The value that decided the last verdict, its unit, its threshold and subject.
    pub value: Option<f64>,
    pub unit: Unit,
    pub threshold: Option<f64>,
    pub subject: Option<String>,
}

impl Entry {
    pub fn firing(&self) -> bool {
        matches!(self.phase, Phase::Firing { .. })
    }
}

/// A rule starting or stopping to fire, as a recording keeps it (JSON field names are a
/// contract of the file format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertChange {
    /// When it changed, unix seconds.
    pub t: f64,
    pub name: String,
    pub expr: String,
    pub severity: Severity,
    /// Fired (`true`) or resolved.
    pub firing: bool,
    /// When it started firing (for a resolution: when the spell began).
    pub since: f64,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub subject: Option<String>,
}

/// Every rule's phase, judged on each new set of figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertBoard {
    rules: Vec<Rule>,
    pub entries: Vec<Entry>,
    /// The board shows a recording's alert changes instead of judging (a replay of a file
    /// that has them): the rules then are the recording session's.
    pub recorded: bool,
}

impl AlertBoard {
    pub fn new(rules: Vec<Rule>) -> Self {
        let entries = rules
            .iter()
            .map(|r| Entry {
                name: r.name.clone(),
                expr: r.text.clone(),
                severity: r.severity,
                for_seconds: r.for_seconds,
                phase: Phase::Unknown,
                value: None,
                unit: r.expr.figure.unit(),
                threshold: r.expr.compare.map(|(_, limit)| limit),
                subject: None,
            })
            .collect();
        Self {
            rules,
            entries,
            recorded: false,
        }
    }

    /// Judges every rule on `input` at time `t` and returns the rules that started or stopped
    /// firing. Time only moves forward here: a replay that seeks back starts a fresh board.
    pub fn update(&mut self, input: &Input, t: f64) -> Vec<AlertChange> {
        let mut changes = Vec::new();
        for (rule, entry) in self.rules.iter().zip(&mut self.entries) {
            let verdict: Verdict = alert::judge(rule, input);
            entry.value = verdict.value;
            entry.threshold = verdict.threshold;
            entry.subject = verdict.subject.clone();
            let before = entry.phase;
            entry.phase = match (verdict.firing, before) {
                (false, _) if verdict.unknown => Phase::Unknown,
                (false, _) => Phase::Ok,
                (true, Phase::Firing { since }) => Phase::Firing { since },
                (true, Phase::Pending { since }) if t - since >= rule.for_seconds => {
                    Phase::Firing { since: t }
                }
                (true, Phase::Pending { since }) => Phase::Pending { since },
                (true, _) if rule.for_seconds <= 0.0 => Phase::Firing { since: t },
                (true, _) => Phase::Pending { since: t },
            };
            let change = |firing: bool, since: f64| AlertChange {
                t,
                name: entry.name.clone(),
                expr: entry.expr.clone(),
                severity: entry.severity,
                firing,
                since,
                value: entry.value,
                threshold: entry.threshold,
                subject: entry.subject.clone(),
            };
            match (before, entry.phase) {
                (Phase::Firing { .. }, Phase::Firing { .. }) => {}
                (_, Phase::Firing { since }) => changes.push(change(true, since)),
                (Phase::Firing { since }, _) => changes.push(change(false, since)),
                _ => {}
            }
        }
        changes
    }

    /// Shows a recording's alert state: `changes` are the latest change of each rule up to the
    /// replay's cursor, in the order the rules first appeared.
    pub fn show_recorded(&mut self, changes: &[AlertChange]) {
        self.recorded = true;
        self.entries = changes
            .iter()
            .map(|c| Entry {
                name: c.name.clone(),
                expr: c.expr.clone(),
                severity: c.severity,
                for_seconds: 0.0,
                phase: if c.firing {
                    Phase::Firing { since: c.since }
                } else {
                    Phase::Ok
                },
                value: c.value,
                unit: alert::parse_expr(&c.expr).map_or(Unit::Count, |e| e.figure.unit()),
                threshold: c.threshold,
                subject: c.subject.clone(),
            })
            .collect();
    }

    /// A fresh board with the same rules (a replay seeking back).
    pub fn reset(&mut self) {
        *self = Self::new(std::mem::take(&mut self.rules));
    }

    pub fn firing(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.firing())
    }

    /// The worst severity firing now.
    pub fn worst(&self) -> Option<Severity> {
        self.firing().map(|e| e.severity).max()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The latest change of each rule (by name and expression), first appearance first: what a
/// replay's board shows at its cursor.
pub fn latest_changes(state: &mut Vec<AlertChange>, change: AlertChange) {
    match state
        .iter_mut()
        .find(|c| c.name == change.name && c.expr == change.expr)
    {
        Some(slot) => *slot = change,
        None => state.push(change),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alert::{Values, parse_expr};

    fn rule(text: &str, for_seconds: f64) -> Rule {
        Rule {
            name: "error rate".into(),
            text: text.into(),
            expr: parse_expr(text).unwrap(),
            for_seconds,
            severity: Severity::Warning,
        }
    }

    fn errors(ratio: Option<f64>) -> Input {
        Input {
            total: Values {
                error_ratio: ratio,
                ..Values::default()
            },
            ..Input::default()
        }
    }

    #[test]
    fn a_rule_fires_after_holding_for_its_for_and_resolves_when_it_stops() {
        let mut board = AlertBoard::new(vec![rule("error_rate > 5%", 10.0)]);
        assert_eq!(board.entries[0].phase, Phase::Unknown);
        assert!(board.update(&errors(Some(0.01)), 100.0).is_empty());
        assert_eq!(board.entries[0].phase, Phase::Ok);
        // Holds from 101 on: pending, not firing, until 10 s have passed.
        assert!(board.update(&errors(Some(0.2)), 101.0).is_empty());
        assert_eq!(board.entries[0].phase, Phase::Pending { since: 101.0 });
        assert!(board.update(&errors(Some(0.3)), 110.5).is_empty());
        let fired = board.update(&errors(Some(0.25)), 111.0);
        assert_eq!(fired.len(), 1);
        assert!(fired[0].firing);
        assert_eq!(fired[0].since, 111.0);
        assert_eq!(fired[0].value, Some(0.25));
        assert_eq!(fired[0].threshold, Some(0.05));
        assert_eq!(board.worst(), Some(Severity::Warning));
        // Still firing: no new change, the start kept.
        assert!(board.update(&errors(Some(0.3)), 112.0).is_empty());
        assert_eq!(board.entries[0].phase, Phase::Firing { since: 111.0 });
        let resolved = board.update(&errors(Some(0.0)), 113.0);
        assert_eq!(resolved.len(), 1);
        assert!(!resolved[0].firing);
        assert_eq!(resolved[0].since, 111.0);
        assert_eq!(board.worst(), None);
    }

    #[test]
    fn a_spell_shorter_than_for_never_fires_and_unknown_is_not_ok() {
        let mut board = AlertBoard::new(vec![rule("error_rate > 5%", 10.0)]);
        board.update(&errors(Some(0.2)), 0.0);
        board.update(&errors(Some(0.01)), 5.0);
        assert!(board.update(&errors(Some(0.2)), 9.0).is_empty());
        assert_eq!(
            board.entries[0].phase,
            Phase::Pending { since: 9.0 },
            "the pause started the clock again"
        );
        board.update(&errors(None), 30.0);
        assert_eq!(board.entries[0].phase, Phase::Unknown);
        // `for = 0` fires at once.
        let mut now = AlertBoard::new(vec![rule("error_rate > 5%", 0.0)]);
        assert_eq!(now.update(&errors(Some(0.2)), 1.0).len(), 1);
    }

    #[test]
    fn recorded_changes_replace_the_rules() {
        let mut board = AlertBoard::new(vec![rule("error_rate > 5%", 0.0)]);
        let fired = board.update(&errors(Some(0.2)), 1.0);
        let mut state = Vec::new();
        for c in fired {
            latest_changes(&mut state, c);
        }
        let mut replayed = AlertBoard::default();
        replayed.show_recorded(&state);
        assert!(replayed.recorded);
        assert_eq!(replayed.entries[0].phase, Phase::Firing { since: 1.0 });
        assert_eq!(replayed.entries[0].unit, Unit::Ratio);
        let resolved = board.update(&errors(Some(0.0)), 2.0);
        for c in resolved {
            latest_changes(&mut state, c);
        }
        assert_eq!(state.len(), 1, "one rule, its latest change");
        replayed.show_recorded(&state);
        assert_eq!(replayed.entries[0].phase, Phase::Ok);
    }
}
