//! `llmtop replay FILE`: the dashboard on a recording, with a time cursor that plays, pauses,
//! changes speed and seeks. The data path is the live one (see [`crate::runtime::replay::Replay`]); this
//! module only moves the cursor and draws.
use std::time::Instant;

pub use super::replay_clock::ReplayClock;

use super::app::{App, Effect, ProbeState};
use super::event_loop::{self, Feed};
use super::theme::Theme;
use super::{UiOptions, compute_view};
use crate::base::clock::unix_now;
use crate::runtime::replay::{Replay, Replayed};

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
        app.alerts.reset();
    }
    // A recording with alert changes shows them as they were; one without is judged afresh
    // by the rules in force now, on the replayed figures at the cursor's time.
    if replay.overview.alerts > 0 {
        app.alerts.show_recorded(&replay.alerts);
    }
    for item in shown {
        match item {
            Replayed::Probe(result) => app.probe_done(&result, &replay.session.prices),
        }
    }
    app.probe_spent_usd = replay.session.probe_feed.spent_usd;
    Ok(true)
}

/// The App a replay starts with: cursor at the start, playing at `speed`, requests refused.
pub fn new_app(replay: &Replay, window: f64, columns: usize, speed: u32, theme: Theme) -> App {
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
    app.prices = session.prices.clone();
    app.budget_config = session.budget.clone();
    app.replay = Some(ReplayClock::new(
        replay.overview.start,
        replay.overview.end,
        speed,
    ));
    app
}

/// A recording feeding the dashboard: nothing arrives on its own; each frame moves the cursor.
struct ReplayFeed {
    replay: Replay,
    last_tick: Instant,
}

impl Feed for ReplayFeed {
    type Item = std::convert::Infallible;

    fn session(&self) -> &crate::runtime::session::Session {
        &self.replay.session
    }

    async fn next(&mut self) -> Option<Self::Item> {
        std::future::pending().await
    }

    fn handle(&mut self, _app: &mut App, item: Self::Item) -> bool {
        match item {}
    }

    fn apply(&mut self, _app: &mut App, _effect: Effect) -> bool {
        // Replay sends nothing: App refuses the keys that would (see refuse_requests), so the
        // only effect left to act on is a recompute.
        true
    }

    fn ticks_every_frame(&self) -> bool {
        true
    }

    fn before_frame(&mut self, app: &mut App) -> anyhow::Result<bool> {
        let now = Instant::now();
        if let Some(clock) = app.replay.as_mut() {
            clock.advance(now - self.last_tick);
        }
        self.last_tick = now;
        sync(&mut self.replay, app)
    }
}

/// Runs the dashboard on a recording until the user quits, starting at `speed`.
pub async fn run(replay: Replay, ui: &UiOptions, theme: Theme, speed: u32) -> anyhow::Result<()> {
    let mut feed = ReplayFeed {
        replay,
        last_tick: Instant::now(),
    };
    let window = ui.window.as_secs_f64();
    let color_depth = ui.color_depth.resolve();
    event_loop::run(&mut feed, ui.no_mouse, |feed, columns| {
        let replay = &mut feed.replay;
        let mut app = new_app(replay, window, columns, speed, theme);
        app.color_depth = color_depth;
        app.alerts = crate::model::alert_board::AlertBoard::new(ui.alert_rules.clone());
        app.bell = ui.bell;
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
        feed.last_tick = Instant::now();
        Ok(app)
    })
    .await
}
