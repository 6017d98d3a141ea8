//! The probe keys as state transitions: read-only and budget guards, burst confirmation and
//! accounting, the model picker and the prompt editor — and what the probe panel then shows.
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llmtop::base::keymap::Action;
use llmtop::base::pricing::PriceTable;
use llmtop::front::tui::app::{App, BurstState, Effect, Modal};
use llmtop::front::tui::render;
use llmtop::front::tui::theme::Theme;
use llmtop::io::probe::{ProbeResult, Usage};
use llmtop::model::view::{DashboardView, ViewParams};
use llmtop::support::testdata;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOW: f64 = 1_795_687_800.0;

fn app() -> App {
    let store = testdata::store();
    let view = DashboardView::compute(
        &store,
        &PriceTable::builtin(),
        &ViewParams {
            url: "http://127.0.0.1:9100/metrics",
            window: 300.0,
            interval: 1.0,
            columns: 40,
            dialect_signals: &[],
            model_filter: None,
        },
    );
    App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "http://127.0.0.1:9100/".into(),
    )
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| render::render(f, app, NOW)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn result(ok: bool, latency_ms: u64, ttft_ms: u64) -> ProbeResult {
    ProbeResult {
        model: "gpt-4o-mini".into(),
        ok,
        status: Some(if ok { 200 } else { 429 }),
        ttft: ok.then(|| Duration::from_millis(ttft_ms)),
        latency: Duration::from_millis(latency_ms),
        usage: ok.then_some(Usage {
            input: 10,
            cached_input: 0,
            output: 20,
            reasoning: 0,
        }),
        error: (!ok).then(|| "rate limited (429)".to_string()),
        ..ProbeResult::default()
    }
}

#[test]
fn read_only_refuses_every_sending_key_and_says_why() {
    let mut app = app();
    app.settings.read_only = true;
    for action in [
        Action::Probe,
        Action::EditPrompt,
        Action::PickModel,
        Action::Burst,
    ] {
        assert_eq!(app.apply(action, NOW), Effect::None, "{action:?}");
        assert_eq!(app.modal, Modal::None);
        let notice = app.notice.clone().unwrap().0;
        assert!(notice.contains("--read-only"), "{notice}");
    }
    assert!(screen(&app).contains("READ-ONLY"));
}

#[test]
fn probe_budget_stops_probing() {
    let mut app = app();
    app.settings.max_spend_usd = Some(0.01);
    app.probe_spent_usd = 0.009;
    assert_eq!(app.apply(Action::Probe, NOW), Effect::StartProbe);
    app.probe_spent_usd = 0.0100001;
    assert_eq!(app.apply(Action::Probe, NOW), Effect::None);
    assert!(app.notice.clone().unwrap().0.contains("--max-probe-spend"));
    assert_eq!(app.apply(Action::Burst, NOW), Effect::None);
}

#[test]
fn large_burst_asks_first() {
    let mut app = app();
    app.settings.burst_size = 100;
    app.settings.burst_confirm_above = 50;
    assert_eq!(app.apply(Action::Burst, NOW), Effect::None);
    assert_eq!(app.modal, Modal::ConfirmBurst);
    assert!(screen(&app).contains("100 requests at concurrency 4"));
    assert_eq!(app.modal_key(&key('n'), NOW), Effect::None);
    assert_eq!(app.modal, Modal::None);
    app.apply(Action::Burst, NOW);
    assert_eq!(app.modal_key(&key('y'), NOW), Effect::StartBurst);
    app.settings.burst_size = 10;
    assert_eq!(
        app.apply(Action::Burst, NOW),
        Effect::StartBurst,
        "small bursts go at once"
    );
}

#[test]
fn burst_accounting_and_summary() {
    let mut app = app();
    app.settings.burst_size = 4;
    app.burst_started("gpt-4o-mini".into(), NOW - 2.0);
    for (ok, lat, ttft) in [
        (true, 400, 100),
        (true, 800, 300),
        (false, 50, 0),
        (true, 600, 200),
    ] {
        // As the session prices it: a failed request has no usage, so no cost.
        app.burst_result(&result(ok, lat, ttft), ok.then_some(0.001), NOW);
    }
    let b = app.burst.clone().unwrap();
    assert_eq!((b.ok, b.failed, b.done()), (3, 1, 4));
    assert_eq!(b.finished_at, Some(NOW));
    assert_eq!(BurstState::percentile(&b.latencies, 0.5), Some(0.6));
    assert_eq!(BurstState::percentile(&b.latencies, 0.95), Some(0.8));
    assert_eq!(
        BurstState::percentiles(&b.latencies, [0.5, 0.95]),
        [Some(0.6), Some(0.8)]
    );
    // One copy, several ranks: the same as the nearest rank of the sorted values, each.
    let shuffled: Vec<f64> = (0..1001).map(|i| ((i * 7919) % 1001) as f64).collect();
    assert_eq!(
        BurstState::percentiles(&shuffled, [0.01, 0.5, 0.95, 0.99, 1.0]),
        [
            Some(10.0),
            Some(500.0),
            Some(950.0),
            Some(990.0),
            Some(1000.0)
        ]
    );
    assert!((b.cost_usd - 0.003).abs() < 1e-12, "{}", b.cost_usd);
    let text = screen(&app);
    assert!(text.contains("burst done gpt-4o-mini ×4 c4"), "{text}");
    assert!(text.contains("4/4 ok 3 failed 1"), "{text}");
    assert!(text.contains("latency p50 600 ms p95 800 ms"), "{text}");
    assert!(text.contains("1× rate limited (429)"), "{text}");
}

#[test]
fn model_picker_filters_and_picks_or_takes_what_is_typed() {
    let mut app = app();
    assert_eq!(app.apply(Action::PickModel, NOW), Effect::FetchModels);
    assert!(screen(&app).contains("loading /v1/models"));
    app.models_listed(Ok(vec![
        "deepseek-chat".into(),
        "gpt-4o".into(),
        "gpt-4o-mini".into(),
    ]));
    for c in "4o".chars() {
        app.modal_key(&key(c), NOW);
    }
    assert_eq!(app.picker_matches(), ["gpt-4o", "gpt-4o-mini"]);
    app.modal_key(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), NOW);
    app.modal_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), NOW);
    assert_eq!(app.settings.model.as_deref(), Some("gpt-4o-mini"));
    // A gateway without /v1/models: the typed name is used.
    app.apply(Action::PickModel, NOW);
    app.models_listed(Err("HTTP 404".into()));
    for c in "my-model".chars() {
        app.modal_key(&key(c), NOW);
    }
    assert!(screen(&app).contains("cannot list models: HTTP 404"));
    app.modal_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), NOW);
    assert_eq!(app.settings.model.as_deref(), Some("my-model"));
}

#[test]
fn prompt_editor_writes_multi_line_prompts_and_sends_on_enter() {
    let mut app = app();
    app.apply(Action::EditPrompt, NOW);
    let Modal::Editor(start) = &app.modal else {
        panic!("editor not open")
    };
    assert_eq!(
        start, &app.settings.prompt,
        "starts from the current prompt"
    );
    for _ in 0..200 {
        app.modal_key(&KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE), NOW);
    }
    for c in "Hi".chars() {
        app.modal_key(&key(c), NOW);
    }
    app.modal_key(
        &KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL),
        NOW,
    );
    for c in "q?".chars() {
        app.modal_key(&key(c), NOW);
    }
    assert!(!app.quit, "q is text inside the editor");
    let effect = app.modal_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), NOW);
    assert_eq!(effect, Effect::StartProbe);
    assert_eq!(app.settings.prompt, "Hi\nq?");
    // Esc cancels without sending.
    app.apply(Action::EditPrompt, NOW);
    assert_eq!(
        app.modal_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), NOW),
        Effect::None
    );
    assert_eq!(app.modal, Modal::None);
}

#[test]
fn history_scrolls_through_every_probe() {
    let mut app = app();
    let prices = PriceTable::builtin();
    for i in 0..30 {
        app.probe_started("gpt-4o-mini".into(), NOW);
        app.probe_done(&result(i % 5 != 0, 100 + i, 50), &prices);
    }
    assert_eq!(app.history().len(), 30);
    app.apply(Action::History, NOW);
    for _ in 0..100 {
        app.modal_key(&key('j'), NOW);
    }
    assert_eq!(app.modal, Modal::History { scroll: 29 });
    let text = screen(&app);
    assert!(text.contains("Probe history"), "{text}");
    app.modal_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), NOW);
    assert_eq!(app.modal, Modal::None);
}

#[test]
fn tab_focus_enter_expands_and_j_k_select_models() {
    use llmtop::base::keymap::action_for;
    use llmtop::front::tui::app::Panel;
    let mut app = app();
    let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
    let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
    app.apply(action_for(&tab).unwrap(), NOW);
    assert_eq!(app.focus, Panel::Latency);
    app.apply(action_for(&back).unwrap(), NOW);
    app.apply(action_for(&back).unwrap(), NOW);
    assert_eq!(app.focus, Panel::Probe, "Shift-Tab wraps around");
    // Enter shows the focused panel alone; Esc comes back.
    app.focus = Panel::Cost;
    app.apply(
        action_for(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)).unwrap(),
        NOW,
    );
    let text = screen(&app);
    assert!(
        text.contains("Cost burn") && !text.contains("Request rate"),
        "{text}"
    );
    app.apply(Action::CloseOverlay, NOW);
    assert!(screen(&app).contains("Request rate"));
    // j/k/g/G move the model selection and focus the table.
    for c in ['j', 'j', 'j', 'j', 'j'] {
        app.apply(action_for(&key(c)).unwrap(), NOW);
    }
    assert_eq!(app.focus, Panel::Models);
    assert_eq!(
        app.selected_model,
        app.view.models.len() - 1,
        "stops at the last row"
    );
    app.apply(action_for(&key('k')).unwrap(), NOW);
    assert_eq!(app.selected_model, app.view.models.len() - 2);
    app.apply(action_for(&key('g')).unwrap(), NOW);
    assert_eq!(app.selected_model, 0);
    app.apply(
        action_for(&KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)).unwrap(),
        NOW,
    );
    assert_eq!(app.selected_model, app.view.models.len() - 1);
}
