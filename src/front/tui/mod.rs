//! The interactive dashboard: terminal set-up and the event loop that joins input, data and redraws.
pub mod app;
pub mod keys;
pub mod render;
pub mod replay;
pub mod theme;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind, MouseEventKind};
use futures_util::StreamExt;

use crate::app::cli::UiArgs;
use crate::io::probe::{self, ProbeRequest};
use crate::runtime::session::Session;
use crate::base::signal::Signal;
use crate::base::clock::unix_now;
use crate::runtime::update::Update;
use app::{App, Effect, Modal, ProbeSettings};
use theme::Theme;
use crate::model::view::{DashboardView, ViewParams};

/// Redraws are capped at this rate however fast data or keys arrive.
const FRAME_INTERVAL: Duration = Duration::from_millis(100);

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

/// What the dashboard needs beyond the session to send probes.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub settings: ProbeSettings,
    pub probe_every: Option<Duration>,
    pub timeout: Duration,
    pub max_tokens: u32,
    pub max_completion_tokens: bool,
    pub temperature: Option<f32>,
    pub theme: Theme,
    /// Client-side rate and concurrency limits shared by every probe the dashboard sends.
    pub limiter: crate::io::probe::limit::ProbeLimiter,
}

/// The model a probe asks for: the chosen one, else the busiest model the gateway reports.
fn probe_model(session: &Session, configured: Option<&str>, window: f64) -> Option<String> {
    if let Some(m) = configured {
        return Some(m.to_string());
    }
    let t = session.store.latest_time()?;
    session
        .store
        .models()
        .into_iter()
        .filter_map(|m| {
            let r = session
                .store
                .sum_rate(Signal::Requests, Some(&[m.as_str()]), t, window)?;
            Some((m, r))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(m, _)| m)
}

/// The theme the flags ask for: mono under `--no-color` or `NO_COLOR` (any value), else `--theme`;
/// its colours mapped once to the terminal's depth, ASCII glyphs under `--ascii`.
/// The theme in force: `--theme`/`LLMTOP_THEME`, else the config file's `theme`, else `default`;
/// `--no-color`/`NO_COLOR` override all of them.
pub fn choose_theme(ui: &UiArgs, config_theme: Option<&str>) -> anyhow::Result<Theme> {
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
fn enable_mouse() {
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
fn disable_mouse() {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
}

/// Runs the dashboard until the user quits. The terminal is restored on every exit path: q and
/// Ctrl-C, SIGTERM (both end the loop), errors, and panics (ratatui's init installs a hook that
/// restores the screen; ours turns the mouse off before it).
pub async fn run(mut session: Session, ui: &UiArgs, options: TuiOptions) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let mouse = !ui.no_mouse;
    if mouse {
        enable_mouse();
    }
    let result = event_loop(&mut terminal, &mut session, ui, options).await;
    if mouse {
        disable_mouse();
    }
    ratatui::try_restore()?;
    session.shutdown().await;
    result
}

/// What a key or mouse event does, the same on the live dashboard and in a replay; `None` for
/// what the dashboard ignores (key releases, unbound keys, mouse motion and button releases).
fn input_effect(app: &mut App, event: &Event) -> Option<Effect> {
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
fn refresh_view(app: &mut App, session: &Session, columns: usize) {
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

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    session: &mut Session,
    ui: &UiArgs,
    options: TuiOptions,
) -> anyhow::Result<()> {
    session.start_sources();
    let mut columns = render::chart_columns(terminal.size()?.width);
    let window = ui.window.as_secs_f64();
    let history = session.store.limits().slots as f64 * session.target.interval.as_secs_f64();
    let mut app = App::new(
        compute_view(session, window, columns, None),
        options.theme.clone(),
        window,
        history,
        session.api_base.to_string(),
    );
    app.settings = options.settings.clone();
    app.keymap = session.keymap.clone();
    app.color_depth = ui.color_depth.resolve();
    app.insecure_tls = session.insecure_tls;
    for notice in &session.notices {
        app.set_notice(notice.clone(), unix_now());
    }
    let mut events = EventStream::new();
    // A recording that stops (disk full) says so once on screen; the dashboard goes on.
    let mut recording_failure_shown = false;
    let mut frame_tick = tokio::time::interval(FRAME_INTERVAL);
    frame_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Ages on the status line change every second even without new data.
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    // A steady synthetic probe; without --probe-every the timer never fires.
    let mut probe_timer = tokio::time::interval(
        options
            .probe_every
            .unwrap_or(Duration::from_secs(86_400 * 365)),
    );
    probe_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    probe_timer.tick().await;
    // SIGTERM (kill, tmux kill-pane, systemd) must leave the terminal usable, like q does.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut dirty = true;
    let mut stale_view = false;
    // Draw the splash ("waiting for the first scrape") at once.
    let mut layout = Default::default();
    terminal.draw(|f| layout = render::render_with_layout(f, &app, unix_now()))?;
    app.layout = layout;
    loop {
        let mut effect = Effect::None;
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                let event = event?;
                if let Event::Resize(width, _) = event {
                    columns = render::chart_columns(width);
                    stale_view = true;
                    dirty = true;
                } else if let Some(e) = input_effect(&mut app, &event) {
                    effect = e;
                    dirty = true;
                }
            }
            update = session.updates.recv() => {
                let Some(update) = update else { break };
                match update {
                    Update::Scrape { outcome, .. } => {
                        session.apply_scrape(outcome);
                        stale_view = true;
                    }
                    Update::ProbeProgress(event) => app.probe_progress(event),
                    Update::ProbeDone(result) => {
                        session.apply_probe(&result);
                        app.probe_spent_usd = session.probe_feed.spent_usd;
                        app.probe_done(&result, &session.prices);
                        stale_view = true;
                    }
                    Update::BurstDone(result) => {
                        session.apply_burst(&result);
                        app.probe_spent_usd = session.probe_feed.spent_usd;
                        let cost = result.cost(&session.prices).map(|c| c.total);
                        app.burst_result(&result, cost, unix_now());
                        stale_view = true;
                    }
                    Update::ModelsListed(result) => app.models_listed(result),
                    Update::Fleet(update) => {
                        if let Some(fleet) = session.fleet.as_mut() {
                            fleet.apply(update);
                        }
                        stale_view = true;
                    }
                }
                dirty = true;
            }
            _ = probe_timer.tick(), if options.probe_every.is_some() => {
                if app.refuse_requests().is_none() && !app.probe_running() {
                    effect = Effect::StartProbe;
                }
            }
            _ = terminate.recv() => app.quit = true,
            _ = clock.tick() => {
                dirty = true;
                if let Some(recorder) = session.recorder.as_mut() {
                    recorder.flush_if_due();
                    if let Some(error) = &recorder.error
                        && !recording_failure_shown
                    {
                        app.set_notice(format!("recording stopped: {error}"), unix_now());
                        recording_failure_shown = true;
                    }
                }
            }
            _ = frame_tick.tick() => {
                if stale_view && !app.frozen {
                    refresh_view(&mut app, session, columns);
                    stale_view = false;
                }
                if dirty {
                    let mut layout = Default::default();
                    terminal.draw(|f| layout = render::render_with_layout(f, &app, unix_now()))?;
                    app.layout = layout;
                    dirty = false;
                }
            }
        }
        match effect {
            Effect::None => {}
            Effect::Recompute => stale_view = true,
            Effect::StartProbe => start_probe(session, &mut app, &options),
            Effect::StartBurst => start_burst(session, &mut app, &options),
            Effect::FetchModels => fetch_models(session, options.timeout),
            Effect::Drill(instance) => {
                if let Some(fleet) = session.fleet.as_mut() {
                    fleet.set_drill(instance);
                }
                stale_view = true;
            }
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}

fn probe_request(
    session: &Session,
    model: String,
    prompt: &str,
    options: &TuiOptions,
) -> ProbeRequest {
    ProbeRequest::new(session.api_base.clone(), model, prompt.to_string())
        .with_stream(true)
        .with_max_tokens(Some(options.max_tokens))
        .with_api_key(session.api_key.clone())
        .with_timeout(options.timeout)
        .with_max_completion_tokens(options.max_completion_tokens)
        .with_temperature(options.temperature)
}

/// The probe model, or a notice saying how to choose one.
fn model_or_notice(session: &Session, app: &mut App, now: f64) -> Option<String> {
    let model = probe_model(session, app.settings.model.as_deref(), app.window);
    if model.is_none() {
        let key = app.keymap.first_label(keys::Action::PickModel);
        app.set_notice(
            format!("no model known yet: press {key} to pick one, or pass --model"),
            now,
        );
    }
    model
}

fn start_probe(session: &Session, app: &mut App, options: &TuiOptions) {
    let now = unix_now();
    let Some(model) = model_or_notice(session, app, now) else {
        return;
    };
    let request = probe_request(session, model.clone(), &app.settings.prompt, options);
    app.probe_started(model, now);
    let client = session.client.clone();
    let updates = session.updates_tx.clone();
    let limiter = options.limiter.clone();
    tokio::spawn(async move {
        let _permit = limiter.acquire().await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forward_updates = updates.clone();
        let forward = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if forward_updates
                    .send(Update::ProbeProgress(event))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let result = probe::run_probe(&client, &request, Some(tx)).await;
        let _ = forward.await;
        let _ = updates.send(Update::ProbeDone(Box::new(result))).await;
    });
}

fn start_burst(session: &Session, app: &mut App, options: &TuiOptions) {
    let now = unix_now();
    let Some(model) = model_or_notice(session, app, now) else {
        return;
    };
    let size = app.settings.burst_size.max(1);
    let concurrency = app.settings.burst_concurrency.clamp(1, size);
    let request = probe_request(session, model.clone(), &app.settings.prompt, options);
    app.burst_started(model, now);
    let client = session.client.clone();
    let updates = session.updates_tx.clone();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let limiter = options.limiter.clone();
    tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..size {
            let Ok(permit) = gate.clone().acquire_owned().await else {
                break;
            };
            let client = client.clone();
            let request = request.clone();
            let updates = updates.clone();
            let limiter = limiter.clone();
            tasks.spawn(async move {
                // The burst's own concurrency, then the session-wide --probe-rpm/--probe-concurrency.
                let limit = limiter.acquire().await;
                let result = probe::run_probe(&client, &request, None).await;
                drop(limit);
                drop(permit);
                let _ = updates.send(Update::BurstDone(Box::new(result))).await;
            });
        }
        while tasks.join_next().await.is_some() {}
    });
}

fn fetch_models(session: &Session, timeout: Duration) {
    let client = session.client.clone();
    let base = session.api_base.clone();
    let key = session.api_key.clone();
    let updates = session.updates_tx.clone();
    tokio::spawn(async move {
        let result = crate::io::probe::models::list_models(&client, &base, key.as_ref(), timeout).await;
        let _ = updates.send(Update::ModelsListed(result)).await;
    });
}
