//! The interactive dashboard: terminal set-up and the event loop that joins input, data and redraws.
pub mod app;
pub mod keys;
pub mod render;
pub mod theme;
pub mod view;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;

use crate::cli::UiArgs;
use crate::probe::{self, ProbeRequest};
use crate::session::Session;
use crate::signal::Signal;
use crate::source::{Update, unix_now};
use app::{App, Effect};
use theme::Theme;
use view::{DashboardView, ViewParams};

/// Redraws are capped at this rate however fast data or keys arrive.
const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// Computes the view model for the current session and window.
pub fn compute_view(
    session: &Session,
    window: f64,
    columns: usize,
    model_filter: Option<&str>,
) -> DashboardView {
    let signals: Vec<Signal> = session
        .store
        .health
        .dialect
        .as_ref()
        .and_then(|name| session.dialects.iter().find(|d| &d.name == name))
        .map(|d| d.signals())
        .unwrap_or_default();
    let url = session.target.url.to_string();
    DashboardView::compute(
        &session.store,
        &session.prices,
        &ViewParams {
            url: &url,
            window,
            interval: session.target.interval.as_secs_f64(),
            columns,
            dialect_signals: &signals,
            model_filter,
        },
    )
}

/// The model a probe asks for: `--model`, else the busiest model the gateway reports.
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

/// Runs the dashboard until the user quits. The terminal is restored on every exit path
/// (ratatui's init installs a panic hook that restores it too).
pub async fn run(
    mut session: Session,
    ui: &UiArgs,
    model: Option<String>,
    prompt: String,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &mut session, ui, model, prompt, timeout).await;
    ratatui::try_restore()?;
    session.shutdown().await;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    session: &mut Session,
    ui: &UiArgs,
    model: Option<String>,
    prompt: String,
    timeout: Duration,
) -> anyhow::Result<()> {
    session.start_sources();
    let mut columns = render::chart_columns(terminal.size()?.width);
    let window = ui.window.as_secs_f64();
    let history = session.store.limits().slots as f64 * session.target.interval.as_secs_f64();
    let mut app = App::new(
        compute_view(session, window, columns, None),
        Theme::builtin_default(),
        window,
        history,
        session.api_base.to_string(),
    );
    for notice in &session.notices {
        app.set_notice(notice.clone(), unix_now());
    }
    let mut events = EventStream::new();
    let mut frame_tick = tokio::time::interval(FRAME_INTERVAL);
    frame_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Ages on the status line change every second even without new data.
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let mut stale_view = false;
    // Draw the splash ("waiting for the first scrape") at once.
    terminal.draw(|f| render::render(f, &app, unix_now()))?;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                match event? {
                    Event::Key(key) if key.kind != KeyEventKind::Release && app.filter_input.is_some() => {
                        if app.filter_key(&key) == Effect::Recompute {
                            stale_view = true;
                        }
                        dirty = true;
                    }
                    Event::Key(key) if key.kind != KeyEventKind::Release => {
                        if let Some(action) = keys::action_for(&key) {
                            match app.apply(action, unix_now()) {
                                Effect::None => {}
                                Effect::Recompute => stale_view = true,
                                Effect::StartProbe => start_probe(session, &mut app, model.as_deref(), &prompt, timeout),
                            }
                            dirty = true;
                        }
                    }
                    Event::Resize(width, _) => {
                        columns = render::chart_columns(width);
                        stale_view = true;
                        dirty = true;
                    }
                    _ => {}
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
                    Update::ProbeDone(result) => app.probe_done(&result, &session.prices),
                }
                dirty = true;
            }
            _ = clock.tick() => dirty = true,
            _ = frame_tick.tick() => {
                if stale_view {
                    app.view = compute_view(session, app.window, columns, app.filter.as_deref());
                    stale_view = false;
                }
                if dirty {
                    terminal.draw(|f| render::render(f, &app, unix_now()))?;
                    dirty = false;
                }
            }
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}

fn start_probe(
    session: &Session,
    app: &mut App,
    model: Option<&str>,
    prompt: &str,
    timeout: Duration,
) {
    let now = unix_now();
    let Some(model) = probe_model(session, model, app.window) else {
        app.set_notice("no model known yet: pass --model NAME", now);
        return;
    };
    let mut request =
        ProbeRequest::new(session.api_base.clone(), model.clone(), prompt.to_string());
    request.stream = true;
    request.max_tokens = Some(128);
    request.api_key = session.api_key.clone();
    request.timeout = timeout;
    app.probe_started(model, now);
    let client = session.client.clone();
    let updates = session.updates_tx.clone();
    tokio::spawn(async move {
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
