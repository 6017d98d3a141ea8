//! `llmtop cost`: what a stated volume, or the traffic a gateway (or a recording) shows, would
//! cost on every model of the price table.

use crate::app::cli::{CostArgs, CostFormat, VolumePer};
use crate::front::report;
use crate::io::config::Config;
use crate::model::compare::{self, CompareOptions, Period, Volume};

pub async fn run(args: &CostArgs) -> anyhow::Result<()> {
    let config = Config::load(args.target.config.as_deref())?.with_redaction_flags(
        args.target.redact.redact_labels.as_deref(),
        args.target.redact.redact_mode,
    );
    let prices = config.price_table();
    let (volume, warnings) = match args.tokens {
        Some(tokens) => {
            let period = match args.per {
                VolumePer::Month => Period::Month,
                VolumePer::Day => Period::Day,
            };
            let volume = Volume::stated(period, tokens, args.input_share, args.cached_share);
            (volume, Vec::new())
        }
        None => observed(args).await?,
    };
    let options = CompareOptions {
        models: args.models.clone(),
        baseline: args.baseline.clone(),
        today: Some(chrono::Utc::now().date_naive()),
    };
    let comparison = compare::compare(&volume, &prices, &options).map_err(anyhow::Error::msg)?;
    let mut text = match args.format {
        CostFormat::Json => format!("{}\n", serde_json::to_string_pretty(&comparison)?),
        CostFormat::Csv => report::comparison_csv(&comparison),
        CostFormat::Table => report::comparison_table(&comparison),
    };
    if args.format == CostFormat::Table {
        for w in &warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
    } else {
        // Machine formats stay clean; the reasons go where people read them.
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    crate::app::write_output(args.output.as_deref(), &text)
}

/// The traffic of the target (or recording) over `--for`, as `snapshot` collects it.
async fn observed(args: &CostArgs) -> anyhow::Result<(Volume, Vec<String>)> {
    let snap = crate::app::snapshot::collect(
        &args.target,
        args.from.as_deref(),
        args.at.as_deref(),
        args.collect_for,
    )
    .await?;
    let Some(comparison) = snap.cost_comparison else {
        anyhow::bail!(
            "{}: no tokens counted over {} — nothing to price (a longer --for, or --tokens N for a stated volume)",
            snap.target,
            crate::base::format::window(args.collect_for.as_secs_f64())
        );
    };
    let volume = match &args.only {
        Some(model) => {
            let only = comparison.volume.only(model);
            anyhow::ensure!(
                !only.sources.is_empty(),
                "--only {model}: no such model in the traffic (seen: {})",
                comparison
                    .volume
                    .sources
                    .iter()
                    .map(|s| s.model.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            only
        }
        None => comparison.volume,
    };
    Ok((volume, snap.warnings))
}
