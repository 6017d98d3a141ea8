//! `llmtop check`: a gateway's health judged by the alert rules over one window, as exit status
//! 0 (ok), 1 (warning) or 2 (critical) and one line per rule, for cron and deploy pipelines.
use crate::app::cli::{CheckArgs, CheckFormat};
use crate::model::alert::{self, Severity, Verdict};

/// Exit status when the worst firing rule is a warning.
pub const EXIT_WARNING: i32 = 1;
/// Exit status when a critical rule fires.
pub const EXIT_CRITICAL: i32 = 2;

/// Exit status when the check itself could not be done (a bad rule, an unreadable file):
/// Nagios' UNKNOWN, so it is never read as a warning.
pub const EXIT_UNKNOWN: i32 = 3;

/// Collects for `--for` (or reads the recording's window), judges every rule, prints, exits.
pub async fn run(args: &CheckArgs) -> anyhow::Result<()> {
    match judge(args).await {
        Ok(0) => Ok(()),
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("llmtop: {e:#}");
            std::process::exit(EXIT_UNKNOWN);
        }
    }
}

/// The rules in force: `--rules FILE` or the config file's `[[alert]]` set, after the built-in
/// defaults unless `--no-default-rules` or `alert_defaults = false` turns them off.
pub fn alert_rules(
    config: &crate::io::config::Config,
    rules_file: Option<&std::path::Path>,
    no_default_rules: bool,
) -> anyhow::Result<Vec<alert::Rule>> {
    let mut rules = match rules_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            crate::io::config::parse_alerts(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?
        }
        None => config.alerts.clone(),
    };
    if !no_default_rules && !config.alert_defaults_off {
        rules.splice(0..0, alert::defaults());
    }
    anyhow::ensure!(
        !rules.is_empty(),
        "no rules: give --rules FILE or drop --no-default-rules"
    );
    Ok(rules)
}

/// The rules the dashboard judges: the config file's, after the built-in defaults unless
/// `alert_defaults = false`; none at all is a board that says so.
pub fn dashboard_rules(config: &crate::io::config::Config) -> Vec<alert::Rule> {
    alert_rules(config, None, false).unwrap_or_default()
}

/// Everything but the exit: the exit status to leave with.
async fn judge(args: &CheckArgs) -> anyhow::Result<i32> {
    let config = crate::io::config::Config::load(args.target.config.as_deref())?;
    let rules = alert_rules(&config, args.rules.as_deref(), args.no_default_rules)?;
    let snap = crate::app::snapshot::collect(
        &args.target,
        args.from.as_deref(),
        args.at.as_deref(),
        args.collect_for,
    )
    .await?;
    let input = crate::front::report::alert_input(&snap);
    let verdicts: Vec<Verdict> = rules.iter().map(|r| alert::judge(r, &input)).collect();
    let worst = verdicts
        .iter()
        .filter(|v| v.firing)
        .map(|v| v.severity)
        .max();
    let (status, code) = match worst {
        None => ("ok", 0),
        Some(Severity::Warning) => ("warning", EXIT_WARNING),
        Some(Severity::Critical) => ("critical", EXIT_CRITICAL),
    };
    let text = match args.format {
        CheckFormat::Text => {
            let mut out = format!(
                "{} {} over {}: {} rules, {} firing\n",
                status.to_ascii_uppercase(),
                snap.target,
                crate::base::format::window(snap.window_seconds),
                verdicts.len(),
                verdicts.iter().filter(|v| v.firing).count()
            );
            for v in &verdicts {
                out.push_str(&v.line());
                out.push('\n');
            }
            out
        }
        CheckFormat::Json => {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "status": status,
                    "exit_code": code,
                    "target": snap.target,
                    "window_seconds": snap.window_seconds,
                    "rules": verdicts,
                }))?
            )
        }
    };
    crate::app::write_output(None, &text)?;
    Ok(code)
}
