//! The dashboard's table and the snapshot's instance rows: the sort column, the fleet part of a
//! view (one row per gateway instance) and the one order both drawing and selection use.
use std::cmp::Ordering;

use crate::model::stats::{Figures, ModelFigures};

/// The model table's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Model,
    Requests,
    ErrorRatio,
    P50,
    P95,
    P99,
    TtftP95,
    TokensIn,
    TokensOut,
    Cost,
}

impl SortColumn {
    pub const ALL: [SortColumn; 10] = [
        SortColumn::Model,
        SortColumn::Requests,
        SortColumn::ErrorRatio,
        SortColumn::P50,
        SortColumn::P95,
        SortColumn::P99,
        SortColumn::TtftP95,
        SortColumn::TokensIn,
        SortColumn::TokensOut,
        SortColumn::Cost,
    ];

    /// The column after this one (the `s` key), wrapping around.
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    /// The value a row sorts by; `None` (unknown) always sorts last.
    pub fn key(self, f: &crate::model::stats::Figures) -> Option<f64> {
        match self {
            SortColumn::Model => None,
            SortColumn::Requests => f.requests_per_second,
            SortColumn::ErrorRatio => f.error_ratio,
            SortColumn::P50 => f.latency_seconds.p50,
            SortColumn::P95 => f.latency_seconds.p95,
            SortColumn::P99 => f.latency_seconds.p99,
            SortColumn::TtftP95 => f.ttft_seconds.p95,
            SortColumn::TokensIn => f.tokens_per_second.input,
            SortColumn::TokensOut => f.tokens_per_second.output,
            SortColumn::Cost => f.cost_usd_per_hour,
        }
    }
}

/// What a row of the instance table says after the instance name when the instance is down.
pub const DOWN_MARK: &str = " STALE";

/// One gateway instance's figures over the "now" range.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub instance: String,
    pub figures: Figures,
    /// The last scrape of it failed (direct) or `up` is 0 (Prometheus).
    pub down: bool,
}

impl InstanceRow {
    /// The row as the table draws it: the model column holds the instance name.
    pub fn as_table_row(&self) -> ModelFigures {
        ModelFigures {
            model: if self.down {
                format!("{}{DOWN_MARK}", self.instance)
            } else {
                self.instance.clone()
            },
            figures: self.figures.clone(),
            instance: Some(self.instance.clone()),
        }
    }
}

/// The fleet part of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetInfo {
    /// `instance`, `pod`, or `target` for direct targets.
    pub instance_label: String,
    pub instances: Vec<InstanceRow>,
    /// The instance drilled into; `None` at fleet level (the table lists instances).
    pub drilled: Option<String>,
    /// Query or scrape errors of this refresh, in plain words.
    pub errors: Vec<String>,
    /// Queries the last refresh sent (0 for direct targets).
    pub queries_per_refresh: usize,
}

impl FleetInfo {
    /// At fleet level the table lists instances.
    pub fn table_lists_instances(&self) -> bool {
        self.drilled.is_none()
    }
}

/// The table's rows in the order the dashboard draws them: by `sort`, an unknown value below
/// every known one (so last when descending, first when ascending), ties by name. One function
/// for drawing and for Enter, so the highlighted row is the one drilled.
pub fn table_order(
    rows: &[ModelFigures],
    sort: SortColumn,
    descending: bool,
) -> Vec<&ModelFigures> {
    let mut out: Vec<&ModelFigures> = rows.iter().collect();
    out.sort_by(|a, b| {
        let ord = match sort {
            SortColumn::Model => a.model.cmp(&b.model),
            col => match (col.key(&a.figures), col.key(&b.figures)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => Ordering::Equal,
            },
        };
        let ord = if descending { ord.reverse() } else { ord };
        ord.then_with(|| a.model.cmp(&b.model))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, rps: Option<f64>, down: bool) -> InstanceRow {
        InstanceRow {
            instance: name.into(),
            figures: Figures {
                requests_per_second: rps,
                ..Figures::default()
            },
            down,
        }
    }

    #[test]
    fn the_selection_names_the_drawn_row() {
        let rows: Vec<ModelFigures> = [
            row("a:1", Some(1.0), false),
            row("b:1", Some(9.0), true),
            row("c:1", None, false),
            row("d:1", Some(5.0), false),
        ]
        .iter()
        .map(InstanceRow::as_table_row)
        .collect();
        let order: Vec<&str> = table_order(&rows, SortColumn::Requests, true)
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        assert_eq!(order, ["b:1 STALE", "d:1", "a:1", "c:1"]);
        let names: Vec<&str> = table_order(&rows, SortColumn::Model, false)
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        assert_eq!(names, ["a:1", "b:1 STALE", "c:1", "d:1"]);
    }
}
