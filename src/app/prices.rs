//! `llmtop prices`: the price table in force, filtered by name, with each row's date and whether
//! it may be stale.
use serde::Serialize;

use crate::app::cli::{PricesArgs, PricesFormat};
use crate::base::pricing::Price;
use crate::io::config::Config;

/// One row as `--format json` prints it: the `[[price]]` fields and the staleness verdict.
#[derive(Serialize)]
struct PriceRow<'a> {
    provider: &'a str,
    model: &'a str,
    aliases: &'a [String],
    input: f64,
    cached_input: Option<f64>,
    output: f64,
    as_of: Option<&'a str>,
    checked: Option<&'a str>,
    source: Option<&'a str>,
    possibly_stale: bool,
}

pub fn run(args: &PricesArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let table = config.price_table();
    let today = chrono::Utc::now().date_naive();
    let needle = args.filter.as_deref().map(str::to_lowercase);
    let rows: Vec<&Price> = table
        .rows()
        .iter()
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.names().any(|name| name.to_lowercase().contains(n))
                    || p.provider.to_lowercase().contains(n)
            })
        })
        .collect();
    let text = match args.format {
        PricesFormat::Json => {
            let json: Vec<PriceRow> = rows
                .iter()
                .map(|p| PriceRow {
                    provider: &p.provider,
                    model: &p.model,
                    aliases: &p.aliases,
                    input: p.input,
                    cached_input: p.cached_input,
                    output: p.output,
                    as_of: p.as_of.as_deref(),
                    checked: p.checked.as_deref(),
                    source: p.source.as_deref(),
                    possibly_stale: p.possibly_stale(today),
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&json)?)
        }
        PricesFormat::Table => table_text(&rows, today),
    };
    anyhow::ensure!(
        !rows.is_empty() || args.filter.is_none(),
        "no price row matches {:?} (llmtop prices lists them all)",
        args.filter.as_deref().unwrap_or_default()
    );
    print!("{text}");
    Ok(())
}

fn table_text(rows: &[&Price], today: chrono::NaiveDate) -> String {
    // Cents always, finer digits only where the price has them: $0.30, $0.0028, $15.00.
    let dollars = |v: f64| {
        let fine = format!("{v:.6}");
        let trimmed = fine.trim_end_matches('0');
        let decimals = trimmed.split_once('.').map_or(0, |(_, d)| d.len()).max(2);
        format!("${v:.decimals$}")
    };
    let mut lines: Vec<[String; 7]> = vec![[
        "model".into(),
        "provider".into(),
        "input".into(),
        "cached".into(),
        "output".into(),
        "as of".into(),
        "checked".into(),
    ]];
    for p in rows {
        let stale = if p.possibly_stale(today) {
            " (possibly stale)"
        } else {
            ""
        };
        lines.push([
            p.model.clone(),
            p.provider.clone(),
            dollars(p.input),
            p.cached_input.map(dollars).unwrap_or_else(|| "–".into()),
            dollars(p.output),
            p.as_of.clone().unwrap_or_default(),
            format!("{}{stale}", p.checked.as_deref().unwrap_or("–")),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("USD per 1M tokens\n");
    for row in &lines {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
