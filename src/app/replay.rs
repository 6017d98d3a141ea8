//! `llmtop replay FILE`: the dashboard on a `--record` file.
use crate::app::cli::ReplayArgs;
use crate::front::tui;
use crate::io::config::Config;
use crate::runtime::replay::Replay;

/// Loads the config once (dialects, prices, keys, theme), opens the recording and runs the
/// dashboard on it until the user quits.
pub async fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?.with_redaction_flags(
        args.redact.redact_labels.as_deref(),
        args.redact.redact_mode,
    );
    let replay = Replay::open(&args.file, &config)?;
    let mut ui: tui::UiOptions = (&args.ui).into();
    ui.alert_rules = crate::app::check::dashboard_rules(&config);
    let theme = tui::choose_theme(&ui, config.theme.as_deref())?;
    tui::replay::run(replay, &ui, theme, args.speed).await
}
