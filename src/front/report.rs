//! Headless output: the `snapshot` JSON object (field names are a contract for users' scripts).
use serde::Serialize;

use crate::base::pricing::PriceTable;
use crate::model::stats::{self, Figures, ModelFigures};
use crate::model::store::TargetStore;

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
    /// The last scrape failed: the figures are from the last good one (`at`), kept, not live.
    pub stale: bool,
    /// Engine saturation over the last 30 s of the window (the window if shorter): running,
    /// waiting, KV cache, queue time, preemptions, and whether it is saturated or stalled.
    pub saturation: crate::model::saturation::Saturation,
    /// The upstream deployments behind a routing gateway over the window, worst first (empty
    /// where the gateway exports none).
    pub upstreams: Vec<crate::model::upstream::Upstream>,
    /// Fallbacks from one model to another over the window.
    pub fallbacks: Vec<crate::model::upstream::Fallback>,
    /// Spending budgets, soonest to run out first: the gateway's (LiteLLM: per team, key, user,
    /// organisation, customer, provider) at the gateway's pace, and the config file's `[budget]`.
    pub budgets: Vec<crate::model::budget::Budget>,
    /// The window's traffic priced on every model of the price table, against where it runs
    /// now (`llmtop cost` prints the same with its options); `null` before any data.
    pub cost_comparison: Option<crate::model::compare::Comparison>,
    /// Fleet mode only: the label that names an instance (`instance`, `pod`; `target` for
    /// several direct targets). Absent for one gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_label: Option<String>,
    /// Fleet mode only: each gateway instance's figures over the same window. Absent for one
    /// gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<InstanceFigures>>,
}

/// One gateway instance of a fleet snapshot: its name, whether it is down, and the same figures
/// as a model row (over the snapshot's window).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceFigures {
    pub instance: String,
    /// Its last scrape failed (direct targets) or Prometheus' `up` is 0 for it.
    pub stale: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The default comparison of a window's traffic: every priced model against the current mix,
/// prices dated against today. `None` when the window moved no tokens.
pub fn cost_comparison(
    traffic: &crate::model::compare::Volume,
    prices: &PriceTable,
) -> Option<crate::model::compare::Comparison> {
    if traffic.sources.is_empty() {
        return None;
    }
    let options = crate::model::compare::CompareOptions {
        today: Some(chrono::Utc::now().date_naive()),
        ..Default::default()
    };
    crate::model::compare::compare(traffic, prices, &options).ok()
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
        if let (Some(ok), Some(attempt)) = (health.last_ok, health.last_attempt) {
            warnings.push(format!(
                "stale: the figures are from the last good scrape, {:.0} s before the last attempt",
                (attempt - ok).max(0.0)
            ));
        }
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
    if health.duplicate_series > 0 {
        warnings.push(format!(
            "{} duplicate series in the last scrape (same name and labels twice): kept the first of each",
            health.duplicate_series
        ));
    }
    if health.churning_scrapes >= crate::model::store::CHURN_SCRAPES {
        warnings.push(format!(
            "series churn: {} of {} series were new in the last scrape (a label value changes every scrape), so rates over them are lost",
            health.new_series_last, health.series_last
        ));
    }
    if health.invalid_utf8 {
        warnings.push(
            "the last scrape had bytes that are not UTF-8; they were replaced with \u{FFFD}"
                .to_string(),
        );
    }
    if let Some(large) = &health.large_scrape {
        warnings.push(large.clone());
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
    let fallbacks = eval_t
        .map(|t| crate::model::upstream::fallbacks(store, t, window_seconds))
        .unwrap_or_default();
    let pace = totals.cost_usd_per_hour;
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
        stale: health.last_error.is_some() && eval_t.is_some(),
        saturation: eval_t
            .map(|t| {
                let range = stats::now_range(1.0).min(window_seconds);
                crate::model::saturation::saturation(store, t, range, window_seconds)
            })
            .unwrap_or_default(),
        upstreams: eval_t
            .map(|t| crate::model::upstream::upstreams(store, &fallbacks, t, window_seconds))
            .unwrap_or_default(),
        fallbacks,
        budgets: eval_t
            .map(|t| crate::model::budget::gateway_budgets(store, pace, t))
            .unwrap_or_default(),
        cost_comparison: eval_t.and_then(|t| {
            let traffic = crate::model::compare::observed_traffic(store, None, t, window_seconds);
            cost_comparison(&traffic, prices)
        }),
        instance_label: None,
        instances: None,
    }
}

/// Several direct targets: the aggregate (every target's counters added, histograms merged by
/// bucket) as the snapshot's models and totals, and each target as an instance, all evaluated
/// at the aggregate's newest tick over the same window.
pub fn fleet_snapshot(
    fleet: &crate::runtime::fleet::direct::DirectFleet,
    prices: &PriceTable,
    window_seconds: f64,
    mut warnings: Vec<String>,
) -> Snapshot {
    warnings.extend(
        fleet
            .errors()
            .into_iter()
            .map(|e| format!("target down: {e}")),
    );
    let names: Vec<String> = fleet
        .targets
        .iter()
        .map(|t| crate::base::secret::display_url(&t.url))
        .collect();
    let mut snap = snapshot(
        &fleet.aggregate,
        prices,
        &names.join(" "),
        window_seconds,
        warnings,
    );
    let eval_t = fleet.aggregate.latest_time();
    snap.instance_label = Some("target".to_string());
    snap.instances = Some(
        fleet
            .stores
            .iter()
            .map(|s| InstanceFigures {
                instance: s.name.clone(),
                stale: s.health.last_error.is_some(),
                figures: eval_t
                    .map(|t| stats::window_figures(s, prices, None, t, window_seconds).totals)
                    .unwrap_or_default(),
            })
            .collect(),
    );
    snap
}

/// A fleet read through Prometheus: one refresh whose figures span the whole window. Query
/// errors become warnings; `scrapes` is 0 (Prometheus scraped, not llmtop) and
/// `scrape_errors` counts the queries that failed.
pub fn prometheus_snapshot(
    view: &crate::model::view::DashboardView,
    target: &str,
    window_seconds: f64,
    mut warnings: Vec<String>,
) -> Snapshot {
    let info = view.fleet.as_ref();
    let errors = info.map(|i| i.errors.clone()).unwrap_or_default();
    if errors.is_empty() {
        warnings.extend(view.status.last_error.clone());
    }
    warnings.extend(errors.iter().map(|e| format!("query failed: {e}")));
    warnings.extend(view.cost_warnings.iter().cloned());
    Snapshot {
        target: target.to_string(),
        dialect: view.status.dialect.clone(),
        window_seconds,
        at: view.eval_t.and_then(|t| {
            chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
                .map(|d| d.to_rfc3339())
        }),
        scrapes: 0,
        scrape_errors: errors.len() as u64,
        skipped_lines: 0,
        models: view.models.clone(),
        totals: view.now.clone(),
        warnings,
        // Every figure is Prometheus' answer at `at`; nothing is kept from an earlier refresh.
        stale: false,
        saturation: view.saturation.clone(),
        upstreams: view.upstreams.clone(),
        fallbacks: view.fallbacks.clone(),
        budgets: view.budgets.clone(),
        // Priced by the caller, who holds the price table (see [`cost_comparison`]).
        cost_comparison: None,
        instance_label: info.map(|i| i.instance_label.clone()),
        instances: Some(
            info.map(|i| {
                i.instances
                    .iter()
                    .map(|r| InstanceFigures {
                        instance: r.instance.clone(),
                        stale: r.down,
                        figures: r.figures.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ),
    }
}

/// CSV columns, in order. A contract for scripts: new columns are only ever appended.
pub const CSV_HEADER: &str = "model,requests_per_second,errors_per_second,error_ratio,latency_p50_seconds,latency_p95_seconds,latency_p99_seconds,ttft_p50_seconds,ttft_p95_seconds,ttft_p99_seconds,tokens_input_per_second,tokens_output_per_second,tokens_total_per_second,cost_usd_per_hour,cost_usd,cost_source";

fn csv_number(v: Option<f64>) -> String {
    // Empty, not 0, for a value that cannot be computed.
    v.filter(|x| x.is_finite())
        .map(|x| x.to_string())
        .unwrap_or_default()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_row(model: &str, f: &Figures) -> String {
    let source = serde_json::to_value(f.cost_source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    [
        csv_field(model),
        csv_number(f.requests_per_second),
        csv_number(f.errors_per_second),
        csv_number(f.error_ratio),
        csv_number(f.latency_seconds.p50),
        csv_number(f.latency_seconds.p95),
        csv_number(f.latency_seconds.p99),
        csv_number(f.ttft_seconds.p50),
        csv_number(f.ttft_seconds.p95),
        csv_number(f.ttft_seconds.p99),
        csv_number(f.tokens_per_second.input),
        csv_number(f.tokens_per_second.output),
        csv_number(f.tokens_per_second.total),
        csv_number(f.cost_usd_per_hour),
        csv_number(f.cost_usd),
        source,
    ]
    .join(",")
}

/// `--format instances-csv` columns, in order: `csv`'s with `instance,stale` in place of `model`.
/// A contract like [`CSV_HEADER`]: new columns are only ever appended.
pub const INSTANCES_CSV_HEADER: &str = "instance,stale,requests_per_second,errors_per_second,error_ratio,latency_p50_seconds,latency_p95_seconds,latency_p99_seconds,ttft_p50_seconds,ttft_p95_seconds,ttft_p99_seconds,tokens_input_per_second,tokens_output_per_second,tokens_total_per_second,cost_usd_per_hour,cost_usd,cost_source";

/// `--format upstreams-csv` columns, a contract like [`CSV_HEADER`]: new ones only appended.
pub const UPSTREAMS_CSV_HEADER: &str = "name,state,requests_per_second,errors_per_second,error_ratio,cooldowns,fallbacks_per_second,fallback_to,rpm_limit,remaining_requests,tpm_limit,remaining_tokens";

/// One row per upstream deployment (see [`UPSTREAMS_CSV_HEADER`]); unknown values are empty.
pub fn to_upstreams_csv(snap: &Snapshot) -> String {
    let mut out = String::from(UPSTREAMS_CSV_HEADER);
    out.push('\n');
    let targets: std::collections::BTreeMap<&str, Vec<&str>> =
        snap.fallbacks.iter().fold(Default::default(), |mut m, f| {
            m.entry(f.from.as_str()).or_default().push(f.to.as_str());
            m
        });
    for u in &snap.upstreams {
        let state = u.state.name().to_string();
        let to = targets
            .get(u.name.as_str())
            .map(|t| t.join(" "))
            .unwrap_or_default();
        let fields = [
            csv_field(&u.name),
            state,
            csv_number(u.requests_per_second),
            csv_number(u.errors_per_second),
            csv_number(u.error_ratio),
            csv_number(u.cooldowns),
            csv_number(u.fallbacks_per_second),
            csv_field(&to),
            csv_number(u.rpm_limit),
            csv_number(u.remaining_requests),
            csv_number(u.tpm_limit),
            csv_number(u.remaining_tokens),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// One row per fleet instance (`stale` is `true`/`false`); for one gateway, one row for it.
/// The `csv` format keeps its header and gives the aggregate only.
pub fn to_instances_csv(snap: &Snapshot) -> String {
    let mut out = String::from(INSTANCES_CSV_HEADER);
    out.push('\n');
    let single = [InstanceFigures {
        instance: snap.target.clone(),
        stale: snap.stale,
        figures: snap.totals.clone(),
    }];
    let rows = snap.instances.as_deref().unwrap_or(&single);
    for i in rows {
        let row = csv_row(&i.instance, &i.figures);
        // The row starts with the name field; `stale` goes right after it.
        let name = csv_field(&i.instance);
        let rest = row.get(name.len()..).unwrap_or_default();
        out.push_str(&format!("{name},{}{rest}\n", i.stale));
    }
    out
}

/// The snapshot as CSV: the header, one row per model, then a `(total)` row.
pub fn to_csv(snap: &Snapshot) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for m in &snap.models {
        out.push_str(&csv_row(&m.model, &m.figures));
        out.push('\n');
    }
    out.push_str(&csv_row("(total)", &snap.totals));
    out.push('\n');
    out
}

/// The snapshot as an aligned table for a terminal.
pub fn to_table(snap: &Snapshot) -> String {
    use crate::base::format;
    let mut rows: Vec<[String; 9]> = vec![[
        "model".into(),
        "req/s".into(),
        "err %".into(),
        "p50".into(),
        "p95".into(),
        "p99".into(),
        "TTFT p95".into(),
        "tok/s".into(),
        "$/h".into(),
    ]];
    let row = |name: &str, f: &Figures| -> [String; 9] {
        [
            name.to_string(),
            format::compact_or_unknown(f.requests_per_second),
            format::percent(f.error_ratio),
            format::quantile_seconds(f.latency_seconds.p50, f.latency_seconds.p50_at_least),
            format::quantile_seconds(f.latency_seconds.p95, f.latency_seconds.p95_at_least),
            format::quantile_seconds(f.latency_seconds.p99, f.latency_seconds.p99_at_least),
            format::quantile_seconds(f.ttft_seconds.p95, f.ttft_seconds.p95_at_least),
            format::compact_or_unknown(f.tokens_per_second.total),
            format::usd(f.cost_usd_per_hour),
        ]
    };
    rows.extend(snap.models.iter().map(|m| row(&m.model, &m.figures)));
    rows.push(row("(total)", &snap.totals));
    // Fleet mode: a blank line, then the instances under their own heading, same columns.
    if let Some(instances) = &snap.instances {
        let mut heading = row("", &Figures::default());
        heading.iter_mut().for_each(|c| c.clear());
        rows.push(heading);
        let mut names = rows[0].clone();
        names[0] = snap
            .instance_label
            .clone()
            .unwrap_or_else(|| "instance".into());
        rows.push(names);
        rows.extend(instances.iter().map(|i| {
            let name = if i.stale {
                format!("{}{}", i.instance, crate::model::table::DOWN_MARK)
            } else {
                i.instance.clone()
            };
            row(&name, &i.figures)
        }));
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}  dialect {}  window {}  scrapes {}  errors {}\n",
        snap.target,
        snap.dialect.as_deref().unwrap_or("?"),
        format::window(snap.window_seconds),
        snap.scrapes,
        snap.scrape_errors
    );
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = widths[c] - v.chars().count();
                if c == 0 {
                    format!("{v}{}", " ".repeat(pad))
                } else {
                    format!("{}{v}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&upstream_table(snap));
    for w in &snap.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The upstreams and fallbacks under the model table (nothing where the gateway has none): one
/// line per deployment with its state as a word, then one per fallback.
fn upstream_table(snap: &Snapshot) -> String {
    use crate::base::format;
    if snap.upstreams.is_empty() && snap.fallbacks.is_empty() {
        return String::new();
    }
    let width = snap
        .upstreams
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("upstream".len());
    let mut out = format!(
        "\n{:<width$}  {:<8}  {:>7}  {:>7}  {:>9}  {:>9}  {:>9}\n",
        "upstream", "state", "req/s", "err %", "cooldowns", "rpm left", "tpm left"
    );
    let left = |rem: Option<f64>, lim: Option<f64>| match (rem, lim) {
        (None, None) => format::UNKNOWN.to_string(),
        (r, l) => format!("{}/{}", format::count(r), format::count(l)),
    };
    for u in &snap.upstreams {
        let state = u.state.name().to_string();
        out.push_str(&format!(
            "{:<width$}  {:<8}  {:>7}  {:>7}  {:>9}  {:>9}  {:>9}\n",
            u.name,
            state,
            format::compact_or_unknown(u.requests_per_second),
            format::percent(u.error_ratio),
            format::count(u.cooldowns),
            left(u.remaining_requests, u.rpm_limit),
            left(u.remaining_tokens, u.tpm_limit),
        ));
    }
    for f in &snap.fallbacks {
        out.push_str(&format!(
            "fallback {} → {}: {} ({} in the window){}\n",
            f.from,
            f.to,
            format::rate(f.per_second),
            format::count(f.count),
            if f.ok { "" } else { ", failed too" }
        ));
    }
    out
}

/// `llmtop cost --format csv` columns, in order. A contract: new columns are only appended.
pub const COST_CSV_HEADER: &str = "model,provider,current,usd,usd_per_hour,usd_per_month,usd_per_mtok_blended,ratio_to_baseline,savings_percent,savings_usd_per_month,price_as_of,price_source,price_checked,price_possibly_stale,estimate,reason";

/// One CSV row per comparison row, baseline and volume in the JSON only.
pub fn comparison_csv(c: &crate::model::compare::Comparison) -> String {
    let mut out = String::from(COST_CSV_HEADER);
    out.push('\n');
    let num = csv_number;
    let text = |v: &Option<String>| v.as_deref().map(csv_field).unwrap_or_default();
    for r in &c.rows {
        let fields = [
            csv_field(&r.model),
            text(&r.provider),
            r.current.to_string(),
            num(r.usd),
            num(r.usd_per_hour),
            num(r.usd_per_month),
            num(r.usd_per_mtok_blended),
            num(r.ratio_to_baseline),
            num(r.savings_percent),
            num(r.savings_usd_per_month),
            text(&r.price_as_of),
            text(&r.price_source),
            text(&r.price_checked),
            r.price_possibly_stale.to_string(),
            r.estimate.to_string(),
            text(&r.reason),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// The comparison as a table for people: the volume, then one line per row, cheapest first,
/// then what moving each source model's traffic would do.
pub fn comparison_table(c: &crate::model::compare::Comparison) -> String {
    use crate::base::format::usd;
    let mut out = c.volume.describe();
    if let Some(b) = &c.baseline {
        out.push_str(&format!(" · baseline {b}"));
    }
    out.push('\n');
    let mut rows: Vec<[String; 8]> = vec![[
        "model".into(),
        "provider".into(),
        "$/month".into(),
        "$/MTok".into(),
        "× baseline".into(),
        "savings".into(),
        "savings $/month".into(),
        "price as of".into(),
    ]];
    for r in &c.rows {
        let mark = if r.current { "▸ " } else { "  " };
        let as_of = match (&r.price_as_of, r.price_possibly_stale) {
            _ if r.current && r.price_possibly_stale => "a price possibly stale".into(),
            _ if r.current => String::new(),
            (Some(d), true) => format!("{d} (possibly stale)"),
            (Some(d), false) => d.clone(),
            (None, true) => "undated (possibly stale)".into(),
            (None, false) => String::new(),
        };
        let estimate = if r.estimate { " ~" } else { "" };
        rows.push([
            format!("{mark}{}", r.model),
            r.provider.clone().unwrap_or_default(),
            match r.usd_per_month {
                Some(m) => format!("{}{estimate}", usd(Some(m))),
                None => r.reason.clone().unwrap_or_else(|| "–".into()),
            },
            r.usd_per_mtok_blended
                .map_or_else(String::new, |p| usd(Some(p))),
            r.ratio_to_baseline
                .map_or_else(String::new, |x| format!("{x:.2}×")),
            r.savings_percent
                .map_or_else(String::new, |p| format!("{p:.2} %")),
            r.savings_usd_per_month
                .map_or_else(String::new, crate::base::format::signed_usd),
            as_of,
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for m in &c.moves {
        if let Some(delta) = m.delta_usd_per_month {
            out.push_str(&format!(
                "moving {}'s traffic to {}: {}/month ({} → {})\n",
                m.from,
                m.to,
                crate::base::format::usd_change(delta),
                usd(m.usd_per_month_now),
                usd(m.usd_per_month_there)
            ));
        }
    }
    if c.rows.iter().any(|r| r.current) {
        out.push_str("▸ the traffic where it runs now, each model at its own price\n");
    }
    if c.rows.iter().any(|r| r.estimate) {
        out.push_str("~ part of the traffic has no input/output split: priced at the output price, an upper bound\n");
    }
    out
}

/// What the alert rules are judged on, read off a snapshot.
pub fn alert_input(snap: &Snapshot) -> crate::model::alert::Input {
    crate::model::alert::input_of(
        &snap.totals,
        &snap.models,
        &snap.saturation,
        &snap.budgets,
        &snap.upstreams,
        snap.stale || snap.at.is_none(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(instances: Option<Vec<InstanceFigures>>) -> Snapshot {
        Snapshot {
            target: "http://gw:4000/metrics".into(),
            dialect: Some("seed".into()),
            window_seconds: 10.0,
            at: None,
            scrapes: 3,
            scrape_errors: 0,
            skipped_lines: 0,
            models: Vec::new(),
            totals: Figures {
                requests_per_second: Some(2.5),
                ..Figures::default()
            },
            warnings: Vec::new(),
            stale: false,
            saturation: Default::default(),
            upstreams: Vec::new(),
            fallbacks: Vec::new(),
            budgets: Vec::new(),
            cost_comparison: None,
            instance_label: instances.as_ref().map(|_| "pod".to_string()),
            instances,
        }
    }

    #[test]
    fn the_table_lists_upstreams_and_fallbacks_under_the_models() {
        use crate::model::upstream::{Fallback, Upstream, UpstreamState};
        let mut s = snap(None);
        assert!(
            !to_table(&s).contains("upstream"),
            "nothing where there are none"
        );
        s.upstreams.push(Upstream {
            name: "gpt-4o".into(),
            state: UpstreamState::Down,
            requests_per_second: Some(0.6),
            error_ratio: Some(1.0),
            cooldowns: Some(1.0),
            ..Upstream::default()
        });
        s.upstreams.push(Upstream {
            name: "claude-sonnet".into(),
            state: UpstreamState::Healthy,
            remaining_requests: Some(99.0),
            rpm_limit: Some(100.0),
            ..Upstream::default()
        });
        s.fallbacks.push(Fallback {
            from: "gpt-4o".into(),
            to: "deepseek-chat".into(),
            per_second: Some(0.6),
            count: Some(6.0),
            ok: true,
        });
        let csv = to_upstreams_csv(&s);
        assert_eq!(
            csv.lines().collect::<Vec<_>>(),
            [
                UPSTREAMS_CSV_HEADER,
                "gpt-4o,down,0.6,,1,1,,deepseek-chat,,,,",
                "claude-sonnet,healthy,,,,,,,100,99,,",
            ]
        );
        let table = to_table(&s);
        let line = |needle: &str| {
            table
                .lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} line in\n{table}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(line("gpt-4o "), "gpt-4o down 0.60 100.0 % 1 – –");
        assert_eq!(
            line("claude-sonnet"),
            "claude-sonnet healthy – – – 99/100 –"
        );
        assert_eq!(
            line("fallback"),
            "fallback gpt-4o → deepseek-chat: 0.60/s (6 in the window)"
        );
    }

    #[test]
    fn instances_csv_has_a_row_per_instance_with_stale_after_the_name() {
        let rows = vec![
            InstanceFigures {
                instance: "pod,a".into(),
                stale: false,
                figures: Figures {
                    requests_per_second: Some(1.5),
                    ..Figures::default()
                },
            },
            InstanceFigures {
                instance: "pod-b".into(),
                stale: true,
                figures: Figures::default(),
            },
        ];
        let csv = to_instances_csv(&snap(Some(rows)));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], INSTANCES_CSV_HEADER);
        assert_eq!(lines[1], "\"pod,a\",false,1.5,,,,,,,,,,,,,,unknown");
        assert_eq!(lines[2], "pod-b,true,,,,,,,,,,,,,,,unknown");
        assert_eq!(lines.len(), 3);
        // The header is csv's with `instance,stale` in place of `model`.
        assert_eq!(
            INSTANCES_CSV_HEADER.strip_prefix("instance,stale,"),
            CSV_HEADER.strip_prefix("model,")
        );
        // One gateway: one row, its totals.
        let one = to_instances_csv(&snap(None));
        assert_eq!(
            one.lines().nth(1),
            Some("http://gw:4000/metrics,false,2.5,,,,,,,,,,,,,,unknown")
        );
        // The single-target JSON carries no fleet fields.
        let json = serde_json::to_value(snap(None)).unwrap();
        assert!(json.get("instances").is_none() && json.get("instance_label").is_none());
    }
}
