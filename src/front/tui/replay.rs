//! `llmtop replay FILE`: the dashboard on a recording, with a time cursor that plays, pauses,
//! changes speed and seeks. The data path is the live one (see [`crate::io::record::Replay`]); this
//! module only moves the cursor and draws.
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;

use crate::app::cli::ReplayArgs;
use crate::io::record::{Replay, Replayed};
use crate::base::clock::unix_now;
use crate::front::tui::app::{App, ProbeState};
use crate::front::tui::{compute_view, render};

/// Playback speeds `<` and `>` step through.
pub const SPEEDS: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];
/// How far `←` and `→` move the cursor, seconds.
pub const SEEK_STEP: f64 = 10.0;

/// The replay's time cursor: where in the recording the dashboard stands, and how it moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayClock {
    /// Unix seconds; every record at or before it has been applied.
    pub cursor: f64,
    /// First and last record of the recording.
    pub start: f64,
    pub end: f64,
    /// Recording seconds per wall second.
    pub speed: u32,
    pub playing: bool,
}

impl ReplayClock {
    pub fn new(start: f64, end: f64, speed: u32) -> Self {
        Self {
            cursor: start,
            start,
            end: end.max(start),
            speed: if SPEEDS.contains(&speed) { speed } else { 1 },
            playing: true,
        }
    }

    /// Moves the cursor by `wall` of real time when playing; stops at the end.
    pub fn advance(&mut self, wall: Duration) {
        if !self.playing {
            return;
        }
        self.cursor = (self.cursor + wall.as_secs_f64() * f64::from(self.speed)).min(self.end);
        if self.cursor >= self.end {
            self.playing = false;
        }
    }

    /// Puts the cursor at `t`, kept inside the recording.
    pub fn seek(&mut self, t: f64) {
        self.cursor = t.clamp(self.start, self.end);
    }

    /// Play or pause; playing again from the very end starts over.
    pub fn toggle(&mut self) {
        if !self.playing && self.cursor >= self.end {
            self.cursor = self.start;
        }
        self.playing = !self.playing;
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed * 2).min(*SPEEDS.last().unwrap_or(&64));
    }

    pub fn slower(&mut self) {
        self.speed = (self.speed / 2).max(1);
    }

    /// `2026-11-26 12:00:03 UTC ×4 ▶ playing (1:05 of 12:00)` for the status line.
    pub fn label(&self) -> String {
        let at = chrono::DateTime::from_timestamp_millis((self.cursor * 1000.0).round() as i64)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| format!("{:.0}", self.cursor));
        let state = if self.playing {
            "▶ playing"
        } else {
            "⏸ paused"
        };
        format!(
            "{at} ×{} {state} ({} of {})",
            self.speed,
            elapsed(self.cursor - self.start),
            elapsed(self.end - self.start)
        )
    }
}

/// `m:ss` or `h:mm:ss`, like a media player's position.
fn elapsed(seconds: f64) -> String {
    let s = seconds.max(0.0).floor() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Brings the dashboard to the clock's cursor: applies the recording up to it (rebuilding from
/// the start when the cursor went back) and shows the probes it passed. True when anything changed.
pub fn sync(replay: &mut Replay, app: &mut App) -> anyhow::Result<bool> {
    let Some(clock) = app.replay else {
        return Ok(false);
    };
    if clock.cursor == replay.applied_to {
        return Ok(false);
    }
    let (rewound, shown) = replay.seek(clock.cursor)?;
    if rewound {
        // The probe panel starts over with the store, as it did when the recording began.
        app.probe = ProbeState::Idle;
        app.probe_history.clear();
    }
    for item in shown {
        match item {
            Replayed::Probe(result) => app.probe_done(&result, &replay.session.prices),
        }
    }
    app.probe_spent_usd = replay.session.probe_feed.spent_usd;
    Ok(true)
}

/// Opens the recording and runs the dashboard on it until the user quits.
pub async fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let mut replay = Replay::open(&args.file, args.config.as_deref())?;
    let config_theme = crate::io::config::Config::load(args.config.as_deref())?.theme;
    let theme = super::choose_theme(&args.ui, config_theme.as_deref())?;
    let mut terminal = ratatui::try_init()?;
    // Mouse as on the live dashboard (see `tui::run`): clicks and the wheel, off on every exit.
    let mouse = !args.ui.no_mouse;
    if mouse {
        super::enable_mouse();
    }
    let result = event_loop(&mut terminal, &mut replay, args, theme).await;
    if mouse {
        super::disable_mouse();
    }
    ratatui::try_restore()?;
    result
}

/// The App a replay starts with: cursor at the start, playing at `speed`, requests refused.
pub fn new_app(
    replay: &Replay,
    window: f64,
    columns: usize,
    speed: u32,
    theme: crate::front::tui::theme::Theme,
) -> App {
    let session = &replay.session;
    let history = session.store.limits().slots as f64 * session.target.interval.as_secs_f64();
    let mut app = App::new(
        compute_view(session, window, columns, None),
        theme,
        window,
        history,
        session.api_base.to_string(),
    );
    app.keymap = session.keymap.clone();
    app.replay = Some(ReplayClock::new(
        replay.overview.start,
        replay.overview.end,
        speed,
    ));
    app
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    replay: &mut Replay,
    args: &ReplayArgs,
    theme: crate::front::tui::theme::Theme,
) -> anyhow::Result<()> {
    let mut columns = render::chart_columns(terminal.size()?.width);
    let window = args.ui.window.as_secs_f64();
    let mut app = new_app(replay, window, columns, args.speed, theme);
    app.color_depth = args.ui.color_depth.resolve();
    app.set_notice(
        format!(
            "replaying {} (Space pause, < > speed, ← → seek, g G start/end)",
            replay.path().display()
        ),
        unix_now(),
    );
    for notice in &replay.session.notices {
        app.set_notice(notice.clone(), unix_now());
    }
    sync(replay, &mut app)?;
    app.view = compute_view(&replay.session, app.window, columns, app.filter.as_deref());
    let mut events = EventStream::new();
    let mut frame_tick = tokio::time::interval(super::FRAME_INTERVAL);
    frame_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Notices expire and the paused screen still needs a redraw now and then.
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let mut last_tick = Instant::now();
    let mut dirty = true;
    let mut stale_view = false;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                let event = event?;
                if let Event::Resize(width, _) = event {
                    columns = render::chart_columns(width);
                    stale_view = true;
                } else if super::input_effect(&mut app, &event).is_some() {
                    // Replay sends nothing: App refuses the keys that would (see
                    // refuse_requests), so the only effect left to act on is a recompute.
                    stale_view = true;
                }
                dirty = true;
            }
            _ = terminate.recv() => app.quit = true,
            _ = clock.tick() => dirty = true,
            _ = frame_tick.tick() => {
                let now = Instant::now();
                if let Some(clock) = app.replay.as_mut() {
                    clock.advance(now - last_tick);
                }
                last_tick = now;
                if sync(replay, &mut app)? {
                    stale_view = true;
                    dirty = true;
                }
                if stale_view && !app.frozen {
                    super::refresh_view(&mut app, &replay.session, columns);
                    stale_view = false;
                    dirty = true;
                }
                if dirty {
                    let mut layout = Default::default();
                    terminal.draw(|f| layout = render::render_with_layout(f, &app, unix_now()))?;
                    app.layout = layout;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_says_where_how_fast_and_whether_it_plays() {
        // 2026-11-26 12:00:00 UTC.
        let start = 1_795_694_400.0;
        let mut clock = ReplayClock::new(start, start + 3_725.0, 4);
        clock.seek(start + 65.5);
        assert_eq!(
            clock.label(),
            "2026-11-26 12:01:05 UTC ×4 ▶ playing (1:05 of 1:02:05)"
        );
        clock.toggle();
        clock.seek(start - 10.0);
        assert_eq!(
            clock.label(),
            "2026-11-26 12:00:00 UTC ×4 ⏸ paused (0:00 of 1:02:05)"
        );
        // Play from the very end starts over.
        clock.seek(start + 3_725.0);
        clock.toggle();
        assert!(clock.playing);
        assert_eq!(clock.cursor, start);
        // Speeds outside the steps fall back to ×1.
        assert_eq!(ReplayClock::new(start, start, 3).speed, 1);
    }
}
