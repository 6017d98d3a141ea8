//! Headless output: the `snapshot` JSON object (field names are a contract for users' scripts).
use serde::Serialize;

use crate::pricing::PriceTable;
use crate::stats::{self, Figures, ModelFigures};
use crate::store::TargetStore;

/// The JSON object `llmtop snapshot --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub target: String,
    pub dialect: Option<String>,
    pub window_seconds: f64,
    /// RFC 3339 time of the newest sample.
    pub at: Option<String>,
    pub scrapes: u64,
    pub scrape_errors: u64,
    pub skipped_lines: u64,
    pub models: Vec<ModelFigures>,
    pub totals: Figures,
    pub warnings: Vec<String>,
}

/// Builds the snapshot of the newest `window_seconds` of the store.
pub fn snapshot(
    store: &TargetStore,
    prices: &PriceTable,
    target: &str,
    window_seconds: f64,
    mut warnings: Vec<String>,
) -> Snapshot {
    let health = &store.health;
    let eval_t = store.latest_time();
    let figures = eval_t.map(|t| stats::window_figures(store, prices, None, t, window_seconds));
    if let Some(error) = &health.last_error {
        warnings.push(format!("last scrape failed: {error}"));
    }
    if store.len() < 2 {
        warnings.push(format!(
            "only {} successful scrape(s): rates need at least two",
            store.len()
        ));
    }
    if health.skipped_lines_total > 0 {
        warnings.push(format!(
            "{} malformed metric lines skipped",
            health.skipped_lines_total
        ));
    }
    if health.dropped_series > 0 {
        warnings.push(format!(
            "{} series dropped: the series cap was reached",
            health.dropped_series
        ));
    }
    if health.folded_models > 0 {
        warnings.push(format!(
            "{} models beyond the model cap are counted as \"(other models)\" (raise --max-models)",
            health.folded_models
        ));
    }
    if health.resets > 0 {
        warnings.push(format!(
            "{} counter reset(s) seen: the gateway restarted",
            health.resets
        ));
    }
    let (models, totals) = match figures {
        Some(f) => {
            warnings.extend(f.warnings);
            (f.models, f.totals)
        }
        None => (Vec::new(), Figures::default()),
    };
    Snapshot {
        target: target.to_string(),
        dialect: health.dialect.clone(),
        window_seconds,
        at: eval_t.and_then(|t| {
            chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
                .map(|d| d.to_rfc3339())
        }),
        scrapes: health.scrapes_ok,
        scrape_errors: health.scrapes_failed,
        skipped_lines: health.skipped_lines_total,
        models,
        totals,
        warnings,
    }
}
