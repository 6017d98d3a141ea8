//! The live dashboard: a session's scrapes and probes feed the event loop, and the probe keys
//! send requests through the gateway.
use std::time::Duration;

use super::app::{App, Effect, ProbeSettings};
use super::event_loop::{self, Feed};
use super::theme::Theme;
use super::{UiOptions, compute_view};
use crate::base::clock::unix_now;
use crate::base::signal::Signal;
use crate::io::probe::{self, ProbeRequest};
use crate::runtime::session::Session;
use crate::runtime::update::Update;

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
    /// `llmtop bench --tui`: the bench whose results arrive as burst results.
    pub bench: Option<BenchLine>,
}

/// What the bench line shows before any result: the model, the planned requests (0 = bounded
/// by a duration) and the concurrency.
#[derive(Debug, Clone)]
pub struct BenchLine {
    pub model: String,
    pub requests: usize,
    pub concurrency: usize,
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

/// What the live feed produces: a source's update, or the `--probe-every` timer.
pub(crate) enum LiveItem {
    Update(Update),
    ProbeTimer,
}

/// A live session feeding the dashboard.
struct LiveFeed {
    session: Session,
    options: TuiOptions,
    /// A steady synthetic probe; without --probe-every the timer never fires.
    probe_timer: tokio::time::Interval,
    /// A recording that stops (disk full) says so once on screen; the dashboard goes on.
    recording_failure_shown: bool,
}

impl Feed for LiveFeed {
    type Item = LiveItem;

    fn session(&self) -> &Session {
        &self.session
    }

    fn alerts_changed(&mut self, changes: &[crate::model::alert_board::AlertChange]) {
        self.session.record_alerts(changes);
    }

    async fn next(&mut self) -> Option<LiveItem> {
        let timed = self.options.probe_every.is_some();
        tokio::select! {
            update = self.session.updates.recv() => update.map(LiveItem::Update),
            _ = self.probe_timer.tick(), if timed => Some(LiveItem::ProbeTimer),
        }
    }

    fn handle(&mut self, app: &mut App, item: LiveItem) -> bool {
        let session = &mut self.session;
        match item {
            LiveItem::ProbeTimer => {
                if app.refuse_requests().is_none() && !app.probe_running() {
                    start_probe(session, app, &self.options);
                }
                false
            }
            LiveItem::Update(Update::Scrape { outcome, .. }) => {
                session.apply_scrape(outcome);
                true
            }
            LiveItem::Update(Update::ProbeProgress(event)) => {
                app.probe_progress(event);
                false
            }
            LiveItem::Update(Update::ProbeDone(result)) => {
                session.apply_probe(&result);
                app.probe_spent_usd = session.probe_feed.spent_usd;
                app.probe_done(&result, &session.prices);
                true
            }
            LiveItem::Update(Update::BurstDone(result)) => {
                session.apply_burst(&result);
                app.probe_spent_usd = session.probe_feed.spent_usd;
                let cost = result.cost(&session.prices).map(|c| c.total);
                app.burst_result(&result, cost, unix_now());
                true
            }
            LiveItem::Update(Update::BenchFinished) => {
                app.burst_finished(unix_now());
                app.set_notice(
                    "bench finished: q prints its summary".to_string(),
                    unix_now(),
                );
                true
            }
            LiveItem::Update(Update::ModelsListed(result)) => {
                app.models_listed(result);
                false
            }
            LiveItem::Update(Update::Fleet(update)) => {
                if let Some(fleet) = session.fleet.as_mut() {
                    fleet.apply(update);
                }
                true
            }
        }
    }

    fn apply(&mut self, app: &mut App, effect: Effect) -> bool {
        let session = &mut self.session;
        match effect {
            Effect::None => false,
            Effect::Recompute => true,
            Effect::StartProbe => {
                start_probe(session, app, &self.options);
                false
            }
            Effect::StartBurst => {
                start_burst(session, app, &self.options);
                false
            }
            Effect::FetchModels => {
                fetch_models(session, self.options.timeout);
                false
            }
            Effect::Drill(instance) => {
                if let Some(fleet) = session.fleet.as_mut() {
                    fleet.set_drill(instance);
                }
                true
            }
        }
    }

    fn each_second(&mut self, app: &mut App) {
        if let Some(recorder) = self.session.recorder.as_mut() {
            recorder.flush_if_due();
            if let Some(error) = &recorder.error
                && !self.recording_failure_shown
            {
                app.set_notice(format!("recording stopped: {error}"), unix_now());
                self.recording_failure_shown = true;
            }
        }
    }
}

/// Runs the dashboard on a live session until the user quits; the session shuts down after.
pub async fn run(session: Session, ui: &UiOptions, options: TuiOptions) -> anyhow::Result<()> {
    let mut probe_timer = tokio::time::interval(
        options
            .probe_every
            .unwrap_or(Duration::from_secs(86_400 * 365)),
    );
    probe_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    probe_timer.tick().await;
    let mut feed = LiveFeed {
        session,
        options,
        probe_timer,
        recording_failure_shown: false,
    };
    let window = ui.window.as_secs_f64();
    let color_depth = ui.color_depth.resolve();
    let (alert_rules, bell) = (ui.alert_rules.clone(), ui.bell);
    let result = event_loop::run(&mut feed, ui.no_mouse, |feed, columns| {
        let session = &feed.session;
        session.start_sources();
        let history = session.store.limits().slots as f64 * session.target.interval.as_secs_f64();
        let mut app = App::new(
            compute_view(session, window, columns, None),
            feed.options.theme.clone(),
            window,
            history,
            session.api_base.to_string(),
        );
        app.settings = feed.options.settings.clone();
        app.keymap = session.keymap.clone();
        app.prices = session.prices.clone();
        app.budget_config = session.budget.clone();
        app.color_depth = color_depth;
        app.insecure_tls = session.insecure_tls;
        app.alerts = crate::model::alert_board::AlertBoard::new(alert_rules.clone());
        app.bell = bell;
        for notice in session.notices.iter().chain(&session.dashboard_notices) {
            app.set_notice(notice.clone(), unix_now());
        }
        if let Some(bench) = &feed.options.bench {
            app.bench_started(
                bench.model.clone(),
                bench.requests,
                bench.concurrency,
                unix_now(),
            );
        }
        Ok(app)
    })
    .await;
    feed.session.shutdown().await;
    result
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
        let key = app
            .keymap
            .first_label(crate::base::keymap::Action::PickModel);
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
        let result =
            crate::io::probe::models::list_models(&client, &base, key.as_ref(), timeout).await;
        let _ = updates.send(Update::ModelsListed(result)).await;
    });
}
