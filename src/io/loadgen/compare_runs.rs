//! `llmtop bench --compare a.json b.json …`: runs side by side, each against the first, with the
//! changes that are larger than run-to-run noise marked, and the regressions named.
use serde_json::{Value, json};

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// How a figure's noise is estimated from one run's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noise {
    /// The quantile's 95 % interval in `ci95` (from the HDR histogram).
    Interval { dist: &'static str, q: &'static str },
    /// A count over time: Poisson, ±1.96·√n requests.
    Rate,
    /// A share of requests: binomial, ±1.96·√(p(1−p)/n).
    Share,
    /// Not estimated: any change is shown, none is called significant.
    Unknown,
}

struct Figure {
    label: &'static str,
    pointer: &'static str,
    unit: Unit,
    better: Better,
    noise: Noise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    PerSecond,
    Share,
    Usd,
}

const fn q(
    label: &'static str,
    pointer: &'static str,
    dist: &'static str,
    quantile: &'static str,
) -> Figure {
    Figure {
        label,
        pointer,
        unit: Unit::Seconds,
        better: Better::Lower,
        noise: Noise::Interval { dist, q: quantile },
    }
}

const FIGURES: &[Figure] = &[
    Figure {
        label: "requests/s",
        pointer: "/requests_per_second",
        unit: Unit::PerSecond,
        better: Better::Higher,
        noise: Noise::Rate,
    },
    Figure {
        label: "success rate",
        pointer: "/success_rate",
        unit: Unit::Share,
        better: Better::Higher,
        noise: Noise::Share,
    },
    q(
        "latency p50",
        "/latency_seconds/p50",
        "latency_seconds",
        "p50",
    ),
    q(
        "latency p95",
        "/latency_seconds/p95",
        "latency_seconds",
        "p95",
    ),
    q(
        "latency p99",
        "/latency_seconds/p99",
        "latency_seconds",
        "p99",
    ),
    q("TTFT p50", "/ttft_seconds/p50", "ttft_seconds", "p50"),
    q("TTFT p95", "/ttft_seconds/p95", "ttft_seconds", "p95"),
    q("TTFT p99", "/ttft_seconds/p99", "ttft_seconds", "p99"),
    q("TPOT p50", "/tpot_seconds/p50", "tpot_seconds", "p50"),
    q("ITL p50", "/itl_seconds/p50", "itl_seconds", "p50"),
    Figure {
        label: "output tok/s",
        pointer: "/output_tokens_per_second",
        unit: Unit::PerSecond,
        better: Better::Higher,
        noise: Noise::Unknown,
    },
    Figure {
        label: "cost / 1k req",
        pointer: "/cost_per_1k_requests_usd",
        unit: Unit::Usd,
        better: Better::Lower,
        noise: Noise::Unknown,
    },
];

/// The noise interval of a figure in one run, as `[low, high]`.
fn interval(run: &Value, f: &Figure) -> Option<[f64; 2]> {
    let v = run.pointer(f.pointer)?.as_f64()?;
    match f.noise {
        Noise::Interval { dist, q } => {
            let ci = run[dist]["ci95"][q].as_array()?;
            Some([ci.first()?.as_f64()?, ci.get(1)?.as_f64()?])
        }
        Noise::Rate => {
            let n = run["requests_done"].as_f64()?;
            let secs = run["total_time_seconds"].as_f64()?;
            (secs > 0.0).then(|| {
                let d = 1.96 * n.sqrt() / secs;
                [v - d, v + d]
            })
        }
        Noise::Share => {
            let n = run["requests_done"].as_f64()?;
            (n > 0.0).then(|| {
                let d = 1.96 * (v * (1.0 - v) / n).sqrt() + 0.5 / n;
                [v - d, v + d]
            })
        }
        Noise::Unknown => None,
    }
}

/// One figure across the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: &'static str,
    pub values: Vec<Option<f64>>,
    /// Relative change of each run against the first (`None` for the first, or unknown).
    pub changes: Vec<Option<f64>>,
    /// The change is outside both runs' noise intervals.
    pub significant: Vec<bool>,
    /// Significant and in the bad direction.
    pub worse: Vec<bool>,
    unit: Unit,
}

/// Every figure of `runs` (the first is the baseline).
pub fn compare(runs: &[Value]) -> Vec<Row> {
    let Some(base) = runs.first() else {
        return Vec::new();
    };
    FIGURES
        .iter()
        .filter(|f| {
            runs.iter()
                .any(|r| r.pointer(f.pointer).is_some_and(Value::is_number))
        })
        .map(|f| {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.pointer(f.pointer).and_then(Value::as_f64))
                .collect();
            let b = values[0];
            let mut changes = Vec::new();
            let mut significant = Vec::new();
            let mut worse = Vec::new();
            for (i, run) in runs.iter().enumerate() {
                let v = values[i];
                let change = match (i, b, v) {
                    (0, _, _) => None,
                    (_, Some(b), Some(v)) if b != 0.0 => Some((v - b) / b.abs()),
                    _ => None,
                };
                let sig = i > 0
                    && match (interval(base, f), interval(run, f)) {
                        (Some([blo, bhi]), Some([lo, hi])) => lo > bhi || hi < blo,
                        _ => false,
                    };
                let bad = sig
                    && change.is_some_and(|c| match f.better {
                        Better::Higher => c < 0.0,
                        Better::Lower => c > 0.0,
                    });
                changes.push(change);
                significant.push(sig);
                worse.push(bad);
            }
            Row {
                figure: f.label,
                values,
                changes,
                significant,
                worse,
                unit: f.unit,
            }
        })
        .collect()
}

/// Significant regressions larger than `threshold` (a share, 0.05 = 5 %), as sentences.
pub fn regressions(rows: &[Row], names: &[String], threshold: f64) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows {
        for (i, worse) in row.worse.iter().enumerate() {
            if let (true, Some(c)) = (*worse, row.changes[i])
                && c.abs() > threshold
            {
                out.push(format!(
                    "{}: {} {:+.1} % against {} (beyond noise)",
                    names[i],
                    row.figure,
                    c * 100.0,
                    names[0]
                ));
            }
        }
    }
    out
}

fn show(unit: Unit, v: Option<f64>) -> String {
    match (unit, v) {
        (_, None) => "–".into(),
        (Unit::Seconds, v) => crate::base::format::seconds(v),
        (Unit::PerSecond, Some(v)) => format!("{v:.1}"),
        (Unit::Share, v) => crate::base::format::percent(v),
        (Unit::Usd, v) => crate::base::format::usd(v),
    }
}

/// The side-by-side table: a column per run, then for each later run its change against the
/// first, `*` where the change is beyond noise and `!` where that change is for the worse.
pub fn table(rows: &[Row], names: &[String]) -> String {
    let mut header = vec![String::new()];
    header.extend(names.iter().cloned());
    header.extend(names.iter().skip(1).map(|n| format!("Δ {n}")));
    let mut lines: Vec<Vec<String>> = vec![header];
    for row in rows {
        let mut cells = vec![row.figure.to_string()];
        cells.extend(row.values.iter().map(|v| show(row.unit, *v)));
        for i in 1..row.values.len() {
            let mark = if row.worse[i] {
                " !"
            } else if row.significant[i] {
                " *"
            } else {
                "  "
            };
            cells.push(match row.changes[i] {
                Some(c) => format!("{:+.1} %{mark}", c * 100.0),
                None => format!("–{mark}"),
            });
        }
        lines.push(cells);
    }
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out.push_str("* beyond run-to-run noise (95 % intervals from each run's histograms, Poisson for rates, binomial for shares); ! and worse\n");
    out
}

/// `figure,run,value,change,significant,worse`, one row per figure and run.
pub fn csv(rows: &[Row], names: &[String]) -> String {
    let mut out = String::from("figure,run,value,change,significant,worse\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for row in rows {
        for (i, name) in names.iter().enumerate() {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                row.figure,
                name.replace(',', "_"),
                opt(row.values[i]),
                opt(row.changes[i]),
                row.significant[i],
                row.worse[i]
            ));
        }
    }
    out
}

/// The comparison as JSON: `{baseline, runs, rows: [{figure, values, changes, significant, worse}]}`.
pub fn to_json(rows: &[Row], names: &[String]) -> Value {
    json!({
        "baseline": names.first(),
        "runs": names,
        "rows": rows.iter().map(|r| json!({
            "figure": r.figure,
            "values": r.values,
            "changes": r.changes,
            "significant": r.significant,
            "worse": r.worse,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rps: f64, done: u64, p99: f64, ci: [f64; 2]) -> Value {
        json!({
            "requests_per_second": rps,
            "requests_done": done,
            "total_time_seconds": done as f64 / rps,
            "success_rate": 1.0,
            "latency_seconds": {"p99": p99, "ci95": {"p99": ci}},
        })
    }

    #[test]
    fn a_change_inside_the_noise_is_shown_but_not_flagged() {
        let a = run(100.0, 1000, 1.0, [0.9, 1.1]);
        let b = run(102.0, 1000, 1.05, [0.95, 1.15]);
        let rows = compare(&[a, b]);
        let p99 = rows.iter().find(|r| r.figure == "latency p99").unwrap();
        assert!((p99.changes[1].unwrap() - 0.05).abs() < 1e-12);
        assert!(!p99.significant[1] && !p99.worse[1]);
        let rps = rows.iter().find(|r| r.figure == "requests/s").unwrap();
        assert!(!rps.significant[1], "±6.2/s of noise at 1000 requests");
        // TTFT was not measured by either run: no row.
        assert!(rows.iter().all(|r| r.figure != "TTFT p50"));
    }

    #[test]
    fn a_slower_p99_beyond_noise_is_a_regression_over_the_threshold() {
        let a = run(100.0, 1000, 1.0, [0.9, 1.1]);
        let b = run(60.0, 1000, 1.5, [1.3, 1.7]);
        let rows = compare(&[a, b]);
        let names = vec!["a.json".to_string(), "b.json".to_string()];
        let r = regressions(&rows, &names, 0.10);
        assert_eq!(
            r,
            [
                "b.json: requests/s -40.0 % against a.json (beyond noise)",
                "b.json: latency p99 +50.0 % against a.json (beyond noise)"
            ]
        );
        assert!(regressions(&rows, &names, 0.60).is_empty());
        // Faster is significant but never a regression.
        let rows = compare(&[
            run(60.0, 1000, 1.5, [1.3, 1.7]),
            run(100.0, 1000, 1.0, [0.9, 1.1]),
        ]);
        assert!(regressions(&rows, &names, 0.0).is_empty());
        assert!(rows.iter().any(|r| r.significant[1]));
    }
}
