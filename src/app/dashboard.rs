//! `llmtop [URL…]`: the live dashboard on a gateway, a fleet or the built-in demo.
use crate::app::cli::Cli;
use crate::front::tui::picker;
use crate::front::tui::{self, app::ProbeSettings, live::TuiOptions};
use crate::io::config::Config;
use crate::io::discover::{self, Found, FoundKind};
use crate::io::probe::limit::{ProbeLimiter, ProbeLimits};
use crate::runtime::session::Session;

/// Loads the config once, starts the session and runs the dashboard until the user quits.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.target.config.as_deref())?.with_redaction_flags(
        cli.target.redact.redact_labels.as_deref(),
        cli.target.redact.redact_mode,
    );
    let mut ui: tui::UiOptions = (&cli.ui).into();
    ui.alert_rules = crate::app::check::dashboard_rules(&config);
    let theme = tui::choose_theme(&ui, config.theme.as_deref())?;
    let mut chosen = cli.target.clone();
    if chosen.url.is_none() && !chosen.demo && chosen.prometheus.is_none() {
        match first_run(cli, &config, &theme).await? {
            Some(found) => attach_to(&mut chosen, &found),
            None => return Ok(()),
        }
    }
    let t = &chosen;
    let session = Session::new(&t.into(), &config).await?;
    let options = TuiOptions {
        theme,
        settings: ProbeSettings {
            model: t.model.clone(),
            prompt: t.probe_prompt.clone(),
            read_only: t.read_only,
            max_spend_usd: t.max_probe_spend,
            burst_size: t.burst_size,
            burst_concurrency: t.burst_concurrency,
            burst_confirm_above: t.burst_confirm_above,
        },
        probe_every: t.probe_every,
        timeout: t.timeout,
        max_tokens: t.probe_max_tokens,
        max_completion_tokens: t.max_completion_tokens,
        temperature: t.temperature,
        limiter: ProbeLimiter::new(ProbeLimits::new(t.probe_rpm, t.probe_concurrency)),
        bench: None,
    };
    tui::live::run(session, &ui, options).await
}

/// `llmtop` with no target: what runs on this machine. One server is attached to at once;
/// several are offered in a picker; none is an error that says what was tried.
async fn first_run(
    cli: &Cli,
    config: &Config,
    theme: &crate::front::tui::theme::Theme,
) -> anyhow::Result<Option<Found>> {
    let options = cli.discover.options()?;
    eprintln!(
        "llmtop: no target given; looking for LLM servers on {} …",
        options.hosts.join(", ")
    );
    let found = discover::discover(&options, &config.all_dialects()).await;
    match found.found.len() {
        0 => {
            eprint!("{}", crate::app::discover::table(&found));
            anyhow::bail!(
                "no LLM server found: give its URL (llmtop URL), --discover-host HOST, or --demo"
            )
        }
        1 => {
            let one = found.found.into_iter().next();
            if let Some(f) = &one {
                eprintln!("llmtop: attaching to {} ({})", f.url, f.summary());
            }
            Ok(one)
        }
        _ => {
            let path = cli
                .target
                .config
                .clone()
                .or_else(crate::io::config::default_path);
            let save = |f: &Found| -> Result<String, String> {
                let path = path
                    .as_deref()
                    .ok_or("no config directory on this system (give --config FILE)")?;
                let name = target_name(f);
                let needs_key = f.kind == FoundKind::NeedsAuth;
                let saved = crate::io::config::append_target(
                    path,
                    &crate::io::config::NewTarget {
                        name: &name,
                        url: &f.url,
                        dialect: f.dialect.as_deref(),
                        bearer_token_env: needs_key.then_some(LITELLM_KEY),
                    },
                )
                .map_err(|e| format!("{e:#}"))?;
                Ok(format!(
                    "saved as [[target]] {saved} in {} (llmtop {saved})",
                    path.display()
                ))
            };
            Ok(picker::pick(&found.found, theme, &save)?.and_then(|i| found.found.get(i).cloned()))
        }
    }
}

/// The target arguments for a found server: its URL; probes for an API without metrics; the
/// LiteLLM master key, by name, for metrics that need one (when it is set and no credential is
/// given).
fn attach_to(t: &mut crate::app::cli::TargetArgs, found: &Found) {
    t.url = Some(found.url.clone());
    match found.kind {
        FoundKind::ProbeOnly if t.probe_every.is_none() => {
            t.probe_every = Some(std::time::Duration::from_secs(10));
        }
        FoundKind::NeedsAuth
            if t.bearer_token_env.is_none()
                && t.bearer_token_file.is_none()
                && std::env::var_os(LITELLM_KEY).is_some() =>
        {
            t.bearer_token_env = Some(LITELLM_KEY.to_string());
        }
        _ => {}
    }
}

/// The variable LiteLLM's own docs keep the proxy's master key in.
const LITELLM_KEY: &str = "LITELLM_MASTER_KEY";

/// A target's name from what was found: its dialect (or server) and port, `vllm-8000`.
fn target_name(found: &Found) -> String {
    let port = url::Url::parse(&found.url)
        .ok()
        .and_then(|u| u.port_or_known_default())
        .map_or_else(String::new, |p| format!("-{p}"));
    let kind = found
        .dialect
        .clone()
        .or_else(|| {
            found
                .server
                .as_deref()
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_lowercase)
        })
        .unwrap_or_else(|| "gateway".into());
    format!("{kind}{port}")
}
