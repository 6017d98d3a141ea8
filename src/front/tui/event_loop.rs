//! The dashboard's one event loop, for a live session and a replay alike: terminal input, the
//! feed's data, a one-second clock and redraws capped at [`FRAME_INTERVAL`], scheduled only
//! when there is something to draw. The terminal is
//! restored on every exit path: q and Ctrl-C, SIGTERM (both end the loop), errors, and panics
//! (ratatui's init installs a hook that restores the screen; ours turns the mouse off before it).
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;

use super::app::{App, Effect};
use super::{disable_mouse, enable_mouse, input_effect, refresh_view, render};
use crate::base::clock::unix_now;
use crate::runtime::session::Session;

/// Redraws are capped at this rate however fast data or keys arrive.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

/// What feeds a dashboard: a live session's channel, or a replay's time cursor.
pub(crate) trait Feed {
    /// One piece of data the feed produced.
    type Item;
    /// The session the view is computed from.
    fn session(&self) -> &Session;
    /// Waits for the next piece of data; `None` once the feed has ended.
    async fn next(&mut self) -> Option<Self::Item>;
    /// Applies it; true when the view must be recomputed.
    fn handle(&mut self, app: &mut App, item: Self::Item) -> bool;
    /// Acts on what a key or click asked for; true when the view must be recomputed.
    fn apply(&mut self, app: &mut App, effect: Effect) -> bool;
    /// Once a second (ages on the status line change even without new data).
    fn each_second(&mut self, _app: &mut App) {}
    /// Before each frame; true when the data changed.
    fn before_frame(&mut self, _app: &mut App) -> anyhow::Result<bool> {
        Ok(false)
    }
    /// Whether frames must keep coming with nothing to redraw (a replay moves its own clock
    /// in [`Feed::before_frame`]). A live dashboard wakes only when there is something to draw.
    fn ticks_every_frame(&self) -> bool {
        false
    }
    /// Alert rules started or stopped firing on the view just computed (a live session keeps
    /// them in its recording).
    fn alerts_changed(&mut self, _changes: &[crate::model::alert_board::AlertChange]) {}
}

/// SIGTERM (kill, tmux kill-pane, systemd) must leave the terminal usable, like q does.
struct Terminate {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Terminate {
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            std::future::pending::<()>().await;
        }
    }
}

/// Takes the terminal, runs the loop, gives the terminal back (mouse off first).
pub(crate) async fn run<F: Feed>(
    feed: &mut F,
    no_mouse: bool,
    start: impl FnOnce(&mut F, usize) -> anyhow::Result<App>,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    if !no_mouse {
        enable_mouse();
    }
    let result = match terminal.size() {
        Ok(size) => {
            let columns = render::chart_columns(size.width);
            match start(feed, columns) {
                Ok(app) => drive(&mut terminal, feed, app, columns).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.into()),
    };
    if !no_mouse {
        disable_mouse();
    }
    ratatui::try_restore()?;
    result
}

fn draw(terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> anyhow::Result<()> {
    let mut layout = Default::default();
    terminal.draw(|f| layout = render::render_with_layout(f, app, unix_now()))?;
    app.layout = layout;
    Ok(())
}

/// BEL on the terminal the dashboard draws on: the terminal (or tmux) decides whether it beeps,
/// flashes or marks the window.
fn ring_bell() -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    out.write_all(b"\x07")?;
    out.flush()?;
    Ok(())
}

async fn drive<F: Feed>(
    terminal: &mut ratatui::DefaultTerminal,
    feed: &mut F,
    mut app: App,
    mut columns: usize,
) -> anyhow::Result<()> {
    let mut events = EventStream::new();
    // Once a second for the feed's chores (a recording's flush).
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Ages on the status line change each second: a redraw one second after the last one,
    // so an idle dashboard fed every second draws once per scrape, not twice.
    let age_redraw = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(age_redraw);
    let mut terminate = Terminate::install()?;
    let mut dirty = false;
    let mut stale_view = false;
    // The next frame, only while there is something to draw: an idle loop does not wake 10
    // times a second for nothing.
    let mut next_frame: Option<tokio::time::Instant> = None;
    let mut last_draw = tokio::time::Instant::now();
    let mut last_frame = last_draw;
    // The first screen (the splash "waiting for the first scrape", or the replay's start) at once.
    draw(terminal, &mut app)?;
    loop {
        // A frozen view stays stale on purpose: that alone is no reason to wake.
        let wanted = dirty || (stale_view && !app.frozen) || feed.ticks_every_frame();
        if next_frame.is_none() && wanted {
            next_frame = Some((last_frame + FRAME_INTERVAL).max(tokio::time::Instant::now()));
        }
        let frame_at = next_frame.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                let event = event?;
                if let Event::Resize(width, _) = event {
                    columns = render::chart_columns(width);
                    stale_view = true;
                    dirty = true;
                } else if let Some(effect) = input_effect(&mut app, &event) {
                    stale_view |= feed.apply(&mut app, effect);
                    dirty = true;
                }
            }
            item = feed.next() => {
                let Some(item) = item else { break };
                stale_view |= feed.handle(&mut app, item);
                dirty = true;
            }
            _ = terminate.recv() => app.quit = true,
            _ = second.tick() => feed.each_second(&mut app),
            () = &mut age_redraw => {
                dirty = true;
                age_redraw.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
            }
            () = tokio::time::sleep_until(frame_at), if next_frame.is_some() => {
                next_frame = None;
                last_frame = tokio::time::Instant::now();
                if feed.before_frame(&mut app)? {
                    stale_view = true;
                    dirty = true;
                }
                if stale_view && !app.frozen {
                    refresh_view(&mut app, feed.session(), columns);
                    let now = app.replay.map_or_else(unix_now, |clock| clock.cursor);
                    let changes = app.judge_alerts(now);
                    if !changes.is_empty() {
                        feed.alerts_changed(&changes);
                    }
                    stale_view = false;
                    dirty = true;
                }
                if dirty {
                    draw(terminal, &mut app)?;
                    if std::mem::take(&mut app.bell_due) {
                        ring_bell()?;
                    }
                    dirty = false;
                    last_draw = tokio::time::Instant::now();
                    age_redraw.as_mut().reset(last_draw + Duration::from_secs(1));
                }
            }
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}
