//! The interactive dashboard: what it draws from a session ([`compute_view`]), its theme and
//! terminal modes, and the one event loop ([`event_loop`]) that the live dashboard ([`live`])
//! and the replay ([`replay`]) share.
pub mod app;
pub mod event_loop;
pub mod live;
pub mod picker;
pub mod render;
pub mod replay;
pub mod replay_clock;
pub mod theme;

use std::time::Duration;

use crossterm::event::{Event, KeyEventKind, MouseEventKind};

use crate::base::clock::unix_now;
use crate::model::view::{DashboardView, ViewParams};
use crate::runtime::session::Session;
use app::{App, Effect, Modal};
use theme::{ColorDepth, Theme};

/// How the dashboard looks and behaves, whatever feeds it (the command line's UI flags).
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// The time window the charts show at start.
    pub window: Duration,
    /// `--theme`: a built-in name or a path to a theme file.
    pub theme: Option<String>,
    pub no_color: bool,
    pub ascii: bool,
    pub color_depth: ColorDepth,
    pub no_mouse: bool,
    /// `--bell`: ring the terminal bell when an alert rule starts firing.
    pub bell: bool,
    /// The alert rules the dashboard judges (the built-in defaults and the config file's).
    pub alert_rules: Vec<crate::model::alert::Rule>,
}

/// Computes the view model for the current session and window, from the scrape, or from probe
/// results when the target has no usable /metrics.
pub fn compute_view(
    session: &Session,
    window: f64,
    columns: usize,
    model_filter: Option<&str>,
) -> DashboardView {
    if let Some(fleet) = &session.fleet {
        let url = crate::base::secret::display_url(&session.target.url);
        return fleet.view(&session.prices, &url, window, columns, model_filter);
    }
    let (store, url, interval, signals) = if session.showing_probes() {
        // Probes arrive every few seconds at most; staleness is judged on that scale.
        let signals = crate::io::source::probe_feed::SIGNALS.to_vec();
        (
            &session.probe_feed.store,
            format!("{} (probes)", session.api_base),
            10.0,
            signals,
        )
    } else {
        let signals = session
            .store
            .health
            .dialect
            .as_ref()
            .and_then(|name| session.dialects.iter().find(|d| &d.name == name))
            .map(|d| d.signals())
            .unwrap_or_default();
        let interval = session.target.interval.as_secs_f64();
        (
            &session.store,
            crate::base::secret::display_url(&session.target.url),
            interval,
            signals,
        )
    };
    DashboardView::compute(
        store,
        &session.prices,
        &ViewParams {
            url: &url,
            window,
            interval,
            columns,
            dialect_signals: &signals,
            model_filter,
        },
    )
}

/// The theme in force: `--theme`/`LLMTOP_THEME`, else the config file's `theme`, else `default`;
/// `--no-color`/`NO_COLOR` override all of them.
pub fn choose_theme(ui: &UiOptions, config_theme: Option<&str>) -> anyhow::Result<Theme> {
    let no_color = ui.no_color || std::env::var_os("NO_COLOR").is_some();
    let name = if no_color {
        "mono"
    } else {
        ui.theme.as_deref().or(config_theme).unwrap_or("default")
    };
    Ok(Theme::load(name)?.for_terminal(ui.color_depth.resolve(), ui.ascii))
}

/// Mouse reporting for clicks and the wheel only (xterm modes 1000, 1015 and 1006). Crossterm's
/// `EnableMouseCapture` also asks for every motion, which floods a slow SSH link for nothing.
struct EnableClickAndWheel;

impl crossterm::Command for EnableClickAndWheel {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1015h\x1b[?1006h")
    }
}

/// Turns click and wheel reporting on, and has a panic turn it off again before ratatui's own
/// hook restores the screen.
pub(crate) fn enable_mouse() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        disable_mouse();
        previous(info);
    }));
    if let Err(e) = crossterm::execute!(std::io::stdout(), EnableClickAndWheel) {
        tracing::warn!("cannot enable mouse reporting: {e}");
    }
}

/// Turns mouse reporting off; safe to send when it was never on.
pub(crate) fn disable_mouse() {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
}

/// What a key or mouse event does, the same on the live dashboard and in a replay; `None` for
/// what the dashboard ignores (key releases, unbound keys, mouse motion and button releases).
pub(crate) fn input_effect(app: &mut App, event: &Event) -> Option<Effect> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Release => None,
        Event::Key(key) if app.filter_input.is_some() => Some(app.filter_key(key)),
        Event::Key(key) if app.modal != Modal::None => Some(app.modal_key(key, unix_now())),
        Event::Key(key) => app
            .keymap
            .action_for(key)
            .map(|action| app.apply(action, unix_now())),
        // Motion and release reports carry nothing the dashboard acts on.
        Event::Mouse(mouse)
            if matches!(
                mouse.kind,
                MouseEventKind::Moved | MouseEventKind::Drag(_) | MouseEventKind::Up(_)
            ) =>
        {
            None
        }
        Event::Mouse(mouse) => Some(app.mouse(mouse, unix_now())),
        _ => None,
    }
}

/// Recomputes the view from the session, saying why when it falls back to probe results.
pub(crate) fn refresh_view(app: &mut App, session: &Session, columns: usize) {
    app.showing_probes = session.showing_probes().then(|| {
        let why = session
            .store
            .health
            .last_error
            .as_deref()
            .unwrap_or("no data");
        format!("/metrics: {why}")
    });
    app.view = compute_view(session, app.window, columns, app.filter.as_deref());
}
