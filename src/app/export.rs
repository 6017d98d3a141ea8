//! `llmtop export grafana` and `llmtop export prometheus-rules`: the dashboard's panels and the
//! alert rules, handed to the tools a team graduates to.
use crate::app::cli::{ExportArgs, ExportCommon, ExportWhat};
use crate::base::dialect::Dialect;
use crate::front::export::{self, FigureQueries, GrafanaRequest, RulesRequest};
use crate::io::config::Config;

pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    match &args.what {
        ExportWhat::Grafana(g) => {
            let (config, dialect) = load(&g.common)?;
            let f = figures(&g.common, &config, &dialect)?;
            let title = g
                .title
                .clone()
                .unwrap_or_else(|| format!("llmtop — {}", dialect.name));
            let dashboard = export::grafana(
                &f,
                &GrafanaRequest {
                    datasource: g.datasource.as_deref(),
                    title: &title,
                },
            );
            let text = format!("{}\n", serde_json::to_string_pretty(&dashboard)?);
            crate::app::write_output(g.common.output.as_deref(), &text)
        }
        ExportWhat::PrometheusRules(r) => {
            let (config, dialect) = load(&r.common)?;
            let f = figures(&r.common, &config, &dialect)?;
            let alerts =
                crate::app::check::alert_rules(&config, r.rules.as_deref(), r.no_default_rules)?;
            let range = crate::io::source::queries::duration(r.range.as_secs_f64());
            let command = format!(
                "llmtop export prometheus-rules --dialect {} --range {range}{}",
                dialect.name,
                if r.common.selector.is_empty() {
                    String::new()
                } else {
                    format!(" --selector '{}'", r.common.selector)
                }
            );
            let (text, skipped) = export::prometheus_rules(
                &f,
                &RulesRequest {
                    range_seconds: r.range.as_secs_f64(),
                    alerts: &alerts,
                    command: &command,
                },
            );
            for why in &skipped {
                eprintln!("llmtop: alert rule {why}; left out of the rule file");
            }
            crate::app::write_output(r.common.output.as_deref(), &text)
        }
    }
}

fn load(common: &ExportCommon) -> anyhow::Result<(Config, Dialect)> {
    let config = Config::load(common.config.as_deref())?;
    let dialects = config.all_dialects();
    let Some(dialect) = dialects.iter().find(|d| d.name == common.dialect).cloned() else {
        let names: Vec<&str> = dialects.iter().map(|d| d.name.as_str()).collect();
        anyhow::bail!(
            "unknown dialect {:?}; known: {}",
            common.dialect,
            names.join(", ")
        );
    };
    Ok((config, dialect))
}

fn figures<'d>(
    common: &ExportCommon,
    config: &Config,
    dialect: &'d Dialect,
) -> anyhow::Result<FigureQueries<'d>> {
    FigureQueries::new(
        dialect,
        &common.selector,
        &config.price_table(),
        common.models.as_deref(),
    )
}
