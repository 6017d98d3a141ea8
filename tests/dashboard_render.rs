//! The whole dashboard rendered into ratatui's TestBackend from the fixed data set, pinned by
//! insta snapshots, plus exact checks of what the panels must say.
use std::time::Duration;

use llmtop::dialect;
use llmtop::pricing::PriceTable;
use llmtop::probe::{ProbeResult, Usage};
use llmtop::testdata;
use llmtop::tui::app::App;
use llmtop::tui::render;
use llmtop::tui::theme::Theme;
use llmtop::tui::view::{DashboardView, ViewParams};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app_for(width: u16) -> (App, f64) {
    let store = testdata::store();
    let prices = PriceTable::builtin();
    let signals = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "seed")
        .map(|d| d.signals())
        .unwrap_or_default();
    let view = DashboardView::compute(
        &store,
        &prices,
        &ViewParams {
            url: "http://127.0.0.1:9100/metrics",
            window: 300.0,
            interval: testdata::INTERVAL,
            columns: render::chart_columns(width),
            dialect_signals: &signals,
        },
    );
    let mut app = App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "http://127.0.0.1:9100/".into(),
    );
    let now = store.latest_time().unwrap() + 0.4;
    // One finished probe so the probe panel shows its measurements.
    app.probe_started("deepseek-chat".into(), now - 2.0);
    let result = ProbeResult {
        model: "deepseek-chat".into(),
        ok: true,
        status: Some(200),
        ttft: Some(Duration::from_millis(212)),
        latency: Duration::from_millis(1430),
        usage: Some(Usage {
            input: 24,
            cached_input: 0,
            output: 87,
            reasoning: 0,
        }),
        answer: "Monitoring turns guesses into numbers you can act on.".into(),
        finish_reason: Some("stop".into()),
        ..ProbeResult::default()
    };
    app.probe_done(&result, &prices);
    (app, now)
}

fn draw(app: &App, now: f64, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render::render(f, app, now)).unwrap();
    terminal
}

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
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

#[test]
fn dashboard_120x40() {
    let (app, now) = app_for(120);
    let terminal = draw(&app, now, 120, 40);
    let text = screen_text(&terminal);
    for title in [
        render::TITLE_REQUESTS,
        render::TITLE_LATENCY,
        render::TITLE_TOKENS,
        render::TITLE_ERRORS,
        render::TITLE_COST,
        render::TITLE_PROBE,
    ] {
        assert!(text.contains(title), "missing panel {title}\n{text}");
    }
    assert!(text.contains("dialect seed"), "{text}");
    assert!(text.contains("LIVE"), "{text}");
    // The probe: 87 output tokens after a 212 ms TTFT in 1.43 s = 86 / 1.218 s ≈ 70.6 tok/s,
    // 24 × $0.14/M + 87 × $0.28/M = $0.00002772.
    assert!(text.contains("TTFT 212 ms"), "{text}");
    assert!(text.contains("24→87"), "{text}");
    assert!(text.contains("70.6 tok/s"), "{text}");
    assert!(text.contains("$0.000028"), "{text}");
    insta::assert_snapshot!("dashboard_120x40", text);
}

#[test]
fn help_overlay_lists_every_binding() {
    let (mut app, now) = app_for(120);
    app.show_help = true;
    let text = screen_text(&draw(&app, now, 120, 40));
    for (keys, help) in llmtop::tui::keys::help_rows() {
        assert!(text.contains(&keys), "help lacks {keys}\n{text}");
        assert!(text.contains(help), "help lacks {help}\n{text}");
    }
}

#[test]
fn stale_target_keeps_numbers_and_says_stale() {
    let (mut app, now) = app_for(120);
    app.view.status.last_error = Some("cannot connect: Connection refused (os error 111)".into());
    let later = now + 30.0;
    let text = screen_text(&draw(&app, later, 120, 40));
    assert!(text.contains("STALE"), "{text}");
    assert!(text.contains("data 30.4 s old"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    // The last good numbers are still there.
    assert!(text.contains("$/hour now"), "{text}");
    assert!(!text.contains("$/hour now          –"), "{text}");
}

#[test]
fn tiny_terminal_says_what_it_needs() {
    let (app, now) = app_for(40);
    let text = screen_text(&draw(&app, now, 40, 10));
    assert!(text.contains("terminal too small"), "{text}");
    assert!(text.contains("need at least 60×20"), "{text}");
}
