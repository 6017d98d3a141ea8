//! `llmtop [URL…]`: the live dashboard on a gateway, a fleet or the built-in demo.
use crate::app::cli::Cli;
use crate::front::tui::{self, app::ProbeSettings, live::TuiOptions};
use crate::io::config::Config;
use crate::io::probe::limit::{ProbeLimiter, ProbeLimits};
use crate::runtime::session::Session;

/// Loads the config once, starts the session and runs the dashboard until the user quits.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    let t = &cli.target;
    let config = Config::load(t.config.as_deref())?;
    let session = Session::new(&t.into(), &config).await?;
    let ui: tui::UiOptions = (&cli.ui).into();
    let theme = tui::choose_theme(&ui, config.theme.as_deref())?;
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
    };
    tui::live::run(session, &ui, options).await
}
