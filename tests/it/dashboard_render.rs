//! The whole dashboard rendered into ratatui's TestBackend from the fixed data set, pinned by
//! insta snapshots, plus exact checks of what the panels must say.
use std::time::Duration;

use llmtop::base::dialect;
use llmtop::base::pricing::PriceTable;
use llmtop::front::tui::app::App;
use llmtop::front::tui::render;
use llmtop::front::tui::theme::Theme;
use llmtop::io::probe::{ProbeResult, Usage};
use llmtop::model::view::{DashboardView, ViewParams};
use llmtop::support::testdata;
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
            model_filter: None,
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
    crate::common::assert_snapshot("dashboard_render__dashboard_120x40", &text);
}

#[test]
fn help_overlay_lists_every_binding() {
    let (mut app, now) = app_for(120);
    app.show_help = true;
    let text = screen_text(&draw(&app, now, 120, 40));
    for (keys, help) in llmtop::base::keymap::help_rows() {
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

fn view_with_filter(filter: Option<&str>) -> DashboardView {
    let store = testdata::store();
    let prices = PriceTable::builtin();
    DashboardView::compute(
        &store,
        &prices,
        &ViewParams {
            url: "http://127.0.0.1:9100/metrics",
            window: 300.0,
            interval: testdata::INTERVAL,
            columns: 40,
            dialect_signals: &[],
            model_filter: filter,
        },
    )
}

#[test]
fn model_filter_narrows_every_panel() {
    let all = view_with_filter(None);
    let gpt = view_with_filter(Some("GPT"));
    assert_eq!(gpt.filter_matches, 2);
    let names: Vec<&str> = gpt.models.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(names, ["gpt-4o", "gpt-4o-mini"]);
    let pie: Vec<&str> = gpt
        .tokens_by_model
        .iter()
        .map(|m| m.model.as_str())
        .collect();
    assert_eq!(pie, ["gpt-4o", "gpt-4o-mini"]);
    // Totals are the sum of the filtered models, not of the whole gateway.
    let sum: f64 = gpt
        .models
        .iter()
        .filter_map(|m| m.figures.requests_per_second)
        .sum();
    let total = gpt.now.requests_per_second.unwrap();
    assert!((total - sum).abs() < 1e-9, "{total} vs {sum}");
    assert!(total < all.now.requests_per_second.unwrap());
    // The request-rate chart follows the filter too.
    let last = |v: &DashboardView| v.rate_ok.last().unwrap().1 + v.rate_error.last().unwrap().1;
    assert!(
        last(&gpt) < 0.6 * last(&all),
        "{} vs {}",
        last(&gpt),
        last(&all)
    );
    let none = view_with_filter(Some("no-such-model"));
    assert_eq!(none.filter_matches, 0);
    assert!(none.models.is_empty());
    assert_eq!(none.now.requests_per_second, None);
}

#[test]
fn sort_keys_cycle_and_reverse_the_model_table() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use llmtop::base::keymap::action_for;
    use llmtop::model::table::SortColumn;
    let (mut app, now) = app_for(120);
    let order = |app: &App, now: f64| -> Vec<String> {
        let text = screen_text(&draw(app, now, 120, 40));
        let mut seen: Vec<(usize, String)> = app
            .view
            .models
            .iter()
            .filter_map(|m| {
                text.find(&format!("│{:<20}", m.model))
                    .map(|i| (i, m.model.clone()))
            })
            .collect();
        seen.sort();
        seen.into_iter().map(|(_, m)| m).collect()
    };
    assert_eq!(
        order(&app, now),
        [
            "deepseek-chat",
            "gpt-4o-mini",
            "gpt-4o",
            "deepseek-reasoner"
        ]
    );
    let s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
    // req/s → error % → p50
    for _ in 0..2 {
        app.apply(action_for(&s).unwrap(), now);
    }
    assert_eq!(app.sort, SortColumn::P50);
    assert_eq!(
        order(&app, now),
        [
            "deepseek-reasoner",
            "gpt-4o",
            "deepseek-chat",
            "gpt-4o-mini"
        ]
    );
    let shift_s = KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT);
    app.apply(action_for(&shift_s).unwrap(), now);
    assert_eq!(
        order(&app, now),
        [
            "gpt-4o-mini",
            "deepseek-chat",
            "gpt-4o",
            "deepseek-reasoner"
        ]
    );
}

#[test]
fn filter_prompt_takes_every_key_until_enter() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use llmtop::base::keymap::{Action, action_for};
    use llmtop::front::tui::app::Effect;
    let (mut app, now) = app_for(120);
    let slash = KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE);
    assert_eq!(action_for(&slash), Some(Action::Filter));
    app.apply(Action::Filter, now);
    for c in "mini".chars().chain(std::iter::once('q')) {
        app.filter_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    assert!(!app.quit, "q typed into the prompt must not quit");
    let text = screen_text(&draw(&app, now, 120, 40));
    assert!(text.contains("filter models: /miniq"), "{text}");
    app.filter_key(&KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    let effect = app.filter_key(&KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(effect, Effect::Recompute);
    assert_eq!(app.filter.as_deref(), Some("mini"));
    assert!(app.filter_input.is_none());
}

#[test]
fn dashboard_at_80x24_and_200x60_in_default_and_mono() {
    for (width, height) in [(80u16, 24u16), (200, 60)] {
        for theme in ["default", "mono"] {
            let (mut app, now) = app_for(width);
            app.theme = Theme::load(theme).unwrap();
            let terminal = draw(&app, now, width, height);
            let text = screen_text(&terminal);
            for title in [
                render::TITLE_REQUESTS,
                render::TITLE_LATENCY,
                render::TITLE_ERRORS,
                render::TITLE_COST,
            ] {
                assert!(
                    text.contains(title),
                    "{width}x{height} {theme}: missing {title}\n{text}"
                );
            }
            if theme == "mono" {
                let buffer = terminal.backend().buffer();
                let coloured = buffer.content().iter().any(|c| {
                    c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset
                });
                assert!(!coloured, "mono theme drew a colour at {width}x{height}");
            }
            crate::common::assert_snapshot(
                &format!("dashboard_render__dashboard_{width}x{height}_{theme}"),
                &text,
            );
            if width == 80 && theme == "default" {
                // The second page: the model table, the probe.
                app.focus = llmtop::front::tui::app::Panel::Models;
                let text = screen_text(&draw(&app, now, width, height));
                assert!(text.contains(render::TITLE_MODELS), "{text}");
                assert!(text.contains(render::TITLE_PROBE), "{text}");
                crate::common::assert_snapshot("dashboard_render__dashboard_80x24_page2", &text);
            }
        }
    }
}

#[test]
fn help_scrolls_on_a_24_row_terminal_to_reach_every_binding() {
    use llmtop::base::keymap::{Action, help_rows};
    let (mut app, now) = app_for(80);
    app.apply(Action::ToggleHelp, now);
    let mut seen = String::new();
    for _ in 0..help_rows().len() {
        seen.push_str(&screen_text(&draw(&app, now, 80, 24)));
        app.apply(Action::Down, now);
    }
    assert!(seen.contains("j/k scroll"), "{seen}");
    for (keys, _) in help_rows() {
        assert!(seen.contains(&keys), "help never showed {keys}");
    }
    assert_eq!(
        app.selected_model, 0,
        "j scrolls the help, not the table, while help is open"
    );
}

fn draw_with_layout(app: &mut App, now: f64, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut layout = Default::default();
    terminal
        .draw(|f| layout = render::render_with_layout(f, app, now))
        .unwrap();
    app.layout = layout;
    terminal
}

fn mouse(
    kind: crossterm::event::MouseEventKind,
    column: u16,
    row: u16,
) -> crossterm::event::MouseEvent {
    crossterm::event::MouseEvent {
        kind,
        column,
        row,
        modifiers: crossterm::event::KeyModifiers::NONE,
    }
}

#[test]
fn a_click_focuses_the_panel_under_it_and_the_wheel_zooms() {
    use crossterm::event::{MouseButton, MouseEventKind};
    use llmtop::front::tui::app::{Effect, Modal, Panel};
    let (mut app, now) = app_for(120);
    let terminal = draw_with_layout(&mut app, now, 120, 40);
    let text = screen_text(&terminal);
    let line = |y: usize| text.lines().nth(y).unwrap().to_string();
    // At 120×40 the top row of panels starts under the status line: request rate on the left
    // half, latency on the right.
    assert!(line(1).starts_with("┌ Request rate"), "{}", line(1));
    let right_half: String = line(1).chars().skip(60).collect();
    assert!(right_half.starts_with("┌ Latency"), "{}", line(1));
    let click =
        |app: &mut App, x, y| app.mouse(&mouse(MouseEventKind::Down(MouseButton::Left), x, y), now);
    assert_eq!(click(&mut app, 90, 5), Effect::None);
    assert_eq!(app.focus, Panel::Latency);
    assert_eq!(click(&mut app, 59, 5), Effect::None);
    assert_eq!(app.focus, Panel::Requests);
    // The status line and the footer are no panel: focus stays.
    click(&mut app, 10, 0);
    click(&mut app, 10, 39);
    assert_eq!(app.focus, Panel::Requests);
    // The focused panel's border is redrawn in the accent colour.
    app.focus = Panel::Latency;
    let terminal = draw_with_layout(&mut app, now, 120, 40);
    let cell = &terminal.backend().buffer()[(60, 1)];
    assert_eq!(cell.fg, app.theme.accent);

    // Wheel up over a chart zooms in like `+` (300 s → 150 s), down zooms out like `-`.
    assert_eq!(app.window, 300.0);
    let wheel = |app: &mut App, kind, x, y| app.mouse(&mouse(kind, x, y), now);
    assert_eq!(
        wheel(&mut app, MouseEventKind::ScrollUp, 30, 5),
        Effect::Recompute
    );
    assert_eq!(app.window, 150.0);
    assert_eq!(
        wheel(&mut app, MouseEventKind::ScrollDown, 90, 15),
        Effect::Recompute
    );
    assert_eq!(
        wheel(&mut app, MouseEventKind::ScrollDown, 90, 15),
        Effect::Recompute
    );
    assert_eq!(app.window, 600.0);

    // While a dialog is open the mouse does nothing.
    app.modal = Modal::ConfirmBurst;
    assert_eq!(
        wheel(&mut app, MouseEventKind::ScrollUp, 30, 5),
        Effect::None
    );
    click(&mut app, 30, 5);
    assert_eq!((app.window, app.focus), (600.0, Panel::Latency));
    app.modal = Modal::None;
    // Over the help overlay the wheel scrolls the help, not the window.
    app.show_help = true;
    wheel(&mut app, MouseEventKind::ScrollDown, 60, 20);
    assert_eq!((app.help_scroll, app.window), (1, 600.0));
}

#[test]
fn the_wheel_scrolls_the_model_table_and_a_click_picks_a_row() {
    use crossterm::event::{MouseButton, MouseEventKind};
    use llmtop::front::tui::app::{Page, Panel};
    let (mut app, now) = app_for(80);
    // Twelve more models, quieter than the four of the data set, so the table must scroll.
    let quiet = app.view.models[0].clone();
    for i in 1..=12 {
        let mut row = quiet.clone();
        row.model = format!("zz-model-{i:02}");
        row.figures.requests_per_second = Some(0.5 - f64::from(i) * 0.01);
        app.view.models.push(row);
    }
    // At 80×24 the model table is on the second page, with 14 of the 16 models in sight:
    // rows 3–16 under its border and header.
    draw_with_layout(&mut app, now, 80, 24);
    assert_eq!(app.layout.page, Some(Page::Traffic));
    assert_eq!(app.layout.model_rows, None);
    app.apply(llmtop::base::keymap::Action::NextPage, now);
    draw_with_layout(&mut app, now, 80, 24);
    assert_eq!(app.layout.page, Some(Page::Detail));
    let (rows, first) = app.layout.model_rows.unwrap();
    assert_eq!((rows.y, rows.height, first), (3, 14, 0));
    assert_eq!(app.layout.panel_at(40, rows.y), Some(Panel::Models));
    for _ in 0..15 {
        app.mouse(&mouse(MouseEventKind::ScrollDown, 40, rows.y + 1), now);
    }
    assert_eq!(app.window, 300.0, "the wheel over the table does not zoom");
    assert_eq!((app.focus, app.selected_model), (Panel::Models, 15));
    let text = screen_text(&draw_with_layout(&mut app, now, 80, 24));
    let table: Vec<&str> = text.lines().skip(3).take(14).collect();
    // Sorted by req/s: deepseek-chat, gpt-4o-mini, gpt-4o, deepseek-reasoner, then the quiet
    // ones. The table has scrolled two rows to keep the selected (last) model in sight.
    assert!(table[0].starts_with("│gpt-4o "), "{text}");
    assert!(table[13].starts_with("│zz-model-12 "), "{text}");
    assert_eq!(app.layout.model_rows.unwrap().1, 2);
    // A click on the first visible row picks that model.
    app.mouse(&mouse(MouseEventKind::Down(MouseButton::Left), 10, 3), now);
    assert_eq!(app.selected_model, 2);
    app.mouse(&mouse(MouseEventKind::ScrollUp, 10, 3), now);
    assert_eq!(app.selected_model, 1);
}

/// 80×24, the default SSH terminal, shows two pages: the charts with room to read them, and
/// the tables with the probe. `n` switches, Tab walks through both, a probe shows its page,
/// and a screen tall enough for everything says so instead of paging.
#[test]
fn a_short_terminal_pages_between_the_charts_and_the_tables() {
    use llmtop::base::keymap::Action;
    use llmtop::front::tui::app::{Effect, Page, Panel};
    let (mut app, now) = app_for(80);
    let text = screen_text(&draw_with_layout(&mut app, now, 80, 24));
    let footer = text.lines().last().unwrap().to_string();
    assert!(footer.starts_with(" n page 1/2 charts "), "{footer}");
    // The request-rate chart has 7 plot rows above its axis; the latency panel shows every
    // quantile of latency and TTFT.
    let plot_rows = text
        .lines()
        .skip(2)
        .take_while(|l| !l.contains('└'))
        .count();
    assert_eq!(plot_rows, 7, "{text}");
    for figure in [
        "p50    821 ms",
        "p99    8.11 s",
        "p50    155 ms",
        "p99    1.76 s",
    ] {
        assert!(text.contains(figure), "{figure}\n{text}");
    }
    assert!(!text.contains(render::TITLE_MODELS), "{text}");
    // Tab from the cost panel goes on to the model table, on page two.
    app.focus = Panel::Cost;
    app.apply(Action::FocusNext, now);
    assert_eq!(app.focus, Panel::Models);
    let text = screen_text(&draw_with_layout(&mut app, now, 80, 24));
    assert_eq!(app.layout.page, Some(Page::Detail));
    assert!(text.contains("┌ Models"), "{text}");
    assert!(
        text.contains("│deepseek-reasoner "),
        "all four models\n{text}"
    );
    assert!(text.contains("TTFT 212 ms"), "the probe's answer\n{text}");
    assert!(!text.contains(render::TITLE_REQUESTS), "{text}");
    let footer = text.lines().last().unwrap().to_string();
    assert!(
        footer.starts_with(" n page 2/2 models · gateway · probe "),
        "{footer}"
    );
    app.apply(Action::NextPage, now);
    assert_eq!(app.focus, Panel::Requests);
    // A probe fired from the charts page streams where it can be seen.
    draw_with_layout(&mut app, now, 80, 24);
    assert_eq!(app.apply(Action::Probe, now), Effect::StartProbe);
    assert_eq!(app.focus, Panel::Probe);
    // 120×40 has room for every panel: no pages, and `n` says why nothing moved.
    app.focus = Panel::Requests;
    let text = screen_text(&draw_with_layout(&mut app, now, 120, 40));
    assert_eq!(app.layout.page, None);
    assert!(text.contains("┌ Models") && text.contains(render::TITLE_REQUESTS));
    app.apply(Action::NextPage, now);
    assert_eq!(app.focus, Panel::Requests);
    let text = screen_text(&draw_with_layout(&mut app, now, 120, 40));
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("every panel is on screen; the dashboard has pages below 34 rows"),
        "{text}"
    );
}

#[test]
fn ascii_dashboard_at_80x24_draws_only_ascii() {
    use llmtop::front::tui::theme::ColorDepth;
    for (width, height, help) in [(80u16, 24u16, false), (120, 40, false), (120, 40, true)] {
        let (mut app, now) = app_for(width);
        app.theme = Theme::builtin_default().for_terminal(ColorDepth::TrueColor, true);
        app.show_help = help;
        let terminal = draw(&app, now, width, height);
        let buffer = terminal.backend().buffer();
        for y in 0..height {
            for x in 0..width {
                let symbol = buffer[(x, y)].symbol();
                assert!(
                    symbol.is_ascii(),
                    "{width}x{height}: {symbol:?} at {x},{y}\n{}",
                    screen_text(&terminal)
                );
            }
        }
        let text = screen_text(&terminal);
        let title = if help {
            "+ Help - keys"
        } else {
            "+ Request rate"
        };
        assert!(text.contains(title), "{text}");
        // Below 34 rows the model table is on the second page; the help covers it.
        if !help {
            assert_eq!(
                text.contains("| Models") || text.contains("+ Models"),
                height >= render::COMPACT_HEIGHT,
                "{text}"
            );
        }
        if width == 120 && !help {
            // The pie and its legend use the same ASCII mark per model.
            assert!(text.contains(" # "), "{text}");
            assert!(text.contains("TTFT 212 ms"), "{text}");
        }
        if (width, height) == (80, 24) {
            crate::common::assert_snapshot("dashboard_render__dashboard_80x24_ascii", &text);
        }
    }
}

#[test]
fn rebound_keys_show_in_the_footer_and_the_help() {
    use llmtop::base::keymap::{Keymap, Rebinding};
    let (mut app, now) = app_for(120);
    app.keymap = Keymap::with_rebindings(&[Rebinding {
        action: "probe".into(),
        keys: vec!["P".into()],
        line: 0,
    }])
    .unwrap();
    let text = screen_text(&draw(&app, now, 120, 40));
    let footer = text.lines().last().unwrap();
    assert!(footer.contains(" P probe "), "{footer}");
    assert!(!footer.contains(" p probe "), "{footer}");
    app.show_help = true;
    let text = screen_text(&draw(&app, now, 120, 40));
    assert!(
        text.contains("│P              send one probe prompt"),
        "{text}"
    );
}

#[test]
fn t_keeps_the_colour_depth_and_ascii_of_the_terminal() {
    use llmtop::base::keymap::Action;
    use llmtop::front::tui::theme::ColorDepth;
    use ratatui::style::Color;
    let (mut app, now) = app_for(120);
    app.color_depth = ColorDepth::Ansi16;
    app.theme = Theme::builtin_default().for_terminal(ColorDepth::Ansi16, true);
    for _ in 0..llmtop::front::tui::theme::BUILTIN.len() {
        app.apply(Action::CycleTheme, now);
        let t = &app.theme;
        assert!(t.ascii, "{} lost --ascii", t.name);
        for c in [
            t.text,
            t.dim,
            t.accent,
            t.help_bg,
            t.status_bg,
            t.heat[0],
            t.slices[7],
        ] {
            assert!(
                !matches!(c, Color::Rgb(..) | Color::Indexed(16..)),
                "theme {}: {c:?} is not one of the 16 colours",
                t.name
            );
        }
    }
    assert_eq!(app.theme.name, "default");
}

/// LiteLLM after a failover (tests/fixtures/metrics/litellm_failover.prom): the Gateway panel
/// beside the model table names the down deployment, its cooldown, where its traffic went and
/// the rate-limit headroom left — where the proxy's own counters showed six healthy requests.
#[test]
fn the_gateway_panel_names_the_down_deployment_and_its_fallback() {
    use llmtop::base::exposition::parse;
    use llmtop::model::store::{StoreLimits, TargetStore};
    let path = format!(
        "{}/tests/fixtures/metrics/litellm_failover.prom",
        env!("CARGO_MANIFEST_DIR")
    );
    let after = std::fs::read_to_string(path).unwrap();
    // The scrape 10 s before: every counter still at 0.
    let before: String = after
        .lines()
        .map(|l| match l.split_once("_total{") {
            Some(_) if !l.starts_with('#') => {
                let (series, _) = l.rsplit_once(' ').unwrap();
                format!("{series} 0\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let litellm = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "litellm")
        .unwrap();
    let mut store = TargetStore::new("litellm", StoreLimits::default());
    for (t, text) in [(1000.0, &before), (1010.0, &after)] {
        store.ingest(t, &litellm.map(&parse(text), "litellm").samples);
    }
    store.health.dialect = Some("litellm".into());
    let signals = litellm.signals();
    let view = DashboardView::compute(
        &store,
        &PriceTable::builtin(),
        &ViewParams {
            url: "http://127.0.0.1:4000/metrics",
            window: 300.0,
            interval: 10.0,
            columns: render::chart_columns(120),
            dialect_signals: &signals,
            model_filter: None,
        },
    );
    let app = App::new(
        view,
        Theme::builtin_default(),
        300.0,
        3600.0,
        "http://127.0.0.1:4000/".into(),
    );
    let terminal = draw(&app, 1010.4, 200, 40);
    let text = screen_text(&terminal);
    if std::env::var_os("LLMTOP_PRINT_SCREEN").is_some() {
        println!("{text}");
    }
    assert!(text.contains(render::TITLE_GATEWAY), "{text}");
    assert!(text.contains("1 down"), "{text}");
    let status = text.lines().next().unwrap();
    assert!(status.contains(" 1 UPSTREAM DOWN "), "{status}");
    let gpt = text
        .lines()
        .skip(1)
        .find(|l| l.contains("DOWN"))
        .unwrap_or_else(|| panic!("no DOWN row\n{text}"));
    assert!(gpt.contains("gpt-4o"), "{gpt}");
    assert!(gpt.contains("cooldown 1"), "{gpt}");
    // Over the 40 s "now" range (4 scrape intervals) the 6 fallbacks of the last 10 s are 0.15/s.
    assert!(gpt.contains("→ deepseek-chat 0.15/s"), "{gpt}");
    assert!(gpt.contains("100%"), "{gpt}");
    let claude = text
        .lines()
        .find(|l| l.contains("claude-sonnet") && l.contains("rpm"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(claude.contains("99/100 rpm"), "{claude}");
    // At 80×24 the Gateway panel is on the second page, under the model table, and the
    // status line says an upstream is down on either page.
    let mut app = app;
    app.focus = llmtop::front::tui::app::Panel::Gateway;
    let small = screen_text(&draw(&app, 1010.4, 80, 24));
    let gpt = small
        .lines()
        .skip(1)
        .find(|l| l.contains("DOWN"))
        .unwrap_or_else(|| panic!("no DOWN row\n{small}"));
    assert!(
        gpt.contains("gpt-4o") && gpt.contains("deepseek-chat"),
        "{small}"
    );
    assert!(
        small.lines().next().unwrap().contains("1 UPSTREAM DOWN"),
        "{small}"
    );
    crate::common::assert_snapshot("dashboard_render__gateway_80x24", &small);
    app.focus = llmtop::front::tui::app::Panel::Requests;
    let charts = screen_text(&draw(&app, 1010.4, 80, 24));
    assert!(
        charts.lines().next().unwrap().contains("1 UPSTREAM DOWN"),
        "{charts}"
    );
    // Tab reaches it after the model table, and Enter shows it on the whole screen.
    use llmtop::base::keymap::Action;
    use llmtop::front::tui::app::Panel;
    let mut order = Vec::new();
    for _ in 0..8 {
        app.apply(Action::FocusNext, 1010.4);
        order.push(app.focus);
    }
    let after_models = order
        .iter()
        .position(|p| *p == Panel::Models)
        .map(|i| order[i + 1]);
    assert_eq!(after_models, Some(Panel::Gateway), "{order:?}");
    while app.focus != Panel::Gateway {
        app.apply(Action::FocusNext, 1010.4);
    }
    app.apply(Action::Expand, 1010.4);
    let full = screen_text(&draw(&app, 1010.4, 120, 40));
    assert!(
        full.contains(render::TITLE_GATEWAY) && full.contains("DOWN"),
        "{full}"
    );
    assert!(
        !full.contains("Models sorted by"),
        "only the Gateway panel: {full}"
    );
    // Without upstreams the table keeps the whole row, and Tab skips the Gateway panel.
    let (mut plain, now) = app_for(120);
    assert!(!screen_text(&draw(&plain, now, 120, 40)).contains(render::TITLE_GATEWAY));
    for _ in 0..8 {
        plain.apply(Action::FocusNext, now);
        assert_ne!(plain.focus, Panel::Gateway);
    }
}

/// A saturated or stalled engine is said in words in the Latency panel's title, so even an
/// 80×24 terminal shows it.
#[test]
fn saturation_verdicts_are_in_the_latency_title_at_any_size() {
    let (mut app, now) = app_for(80);
    let plain = screen_text(&draw(&app, now, 80, 24));
    assert!(
        !plain.contains("SATURATED") && !plain.contains("STALLED"),
        "{plain}"
    );
    app.view.saturation.saturated = true;
    app.view.saturation.stalled = true;
    let text = screen_text(&draw(&app, now, 80, 24));
    let title = text
        .lines()
        .find(|l| l.contains(render::TITLE_LATENCY))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(title.contains("SATURATED"), "{title}");
    assert!(text.contains("STALLED"), "{text}");
}

/// Enter on the Cost panel: the window's traffic priced on every model, cheapest first, the
/// current mix marked; `B` moves the baseline, `o` prices only the selected model's traffic;
/// the compact panel names the cheapest alternative.
#[test]
fn the_cost_panel_full_screen_compares_the_traffic_on_every_model() {
    use llmtop::base::keymap::Action;
    use llmtop::front::tui::app::Panel;
    let (mut app, now) = app_for(200);
    // A price table of its own, so new rows in prices.toml leave the screens alone.
    app.prices = llmtop::base::pricing::PriceTable::from_toml_str(COMPARISON_PRICES).unwrap();
    // The compact panel's one line.
    let text = screen_text(&draw(&app, now, 200, 60));
    let line = text
        .lines()
        .find(|l| l.contains("cheapest elsewhere"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("deepseek-v4-flash"), "{line}");
    app.focus = Panel::Cost;
    app.apply(Action::Expand, now);
    for (width, height) in [(80u16, 24u16), (200, 60)] {
        let text = screen_text(&draw(&app, now, width, height));
        assert!(text.contains("baseline current mix"), "{text}");
        let current = text
            .lines()
            .find(|l| l.contains("▸ current mix"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(current.contains("1.00×"), "{current}");
        crate::common::assert_snapshot(
            &format!("dashboard_render__cost_comparison_{width}x{height}"),
            &text,
        );
    }
    // The same tokens: the current row's $/month is the Cost panel's month at this pace only
    // in kind (window vs now range), but its ratio to itself is 1 and the cheapest row is first.
    let c = app.cost_comparison(now).unwrap();
    assert_eq!(c.rows[0].model, "deepseek-v4-flash", "{:?}", c.rows[0]);
    // B: the cheapest row becomes the baseline, then the next.
    app.apply(Action::CostBaseline, now);
    assert_eq!(app.cost_baseline.as_deref(), Some("deepseek-v4-flash"));
    let c = app.cost_comparison(now).unwrap();
    assert_eq!(c.baseline.as_deref(), Some("deepseek-v4-flash"));
    let first = &c.rows[0];
    assert!((first.ratio_to_baseline.unwrap() - 1.0).abs() < 1e-12);
    app.apply(Action::CostBaseline, now);
    assert_ne!(app.cost_baseline.as_deref(), Some("deepseek-v4-flash"));
    // o: only the selected model's traffic (the table's first row, deepseek-chat).
    app.apply(Action::CostScope, now);
    let c = app.cost_comparison(now).unwrap();
    let sources: Vec<&str> = c.volume.sources.iter().map(|s| s.model.as_str()).collect();
    assert_eq!(sources, ["deepseek-chat"]);
    let text = screen_text(&draw(&app, now, 200, 60));
    assert!(
        text.contains("comparison · deepseek-chat's traffic"),
        "{text}"
    );
}

/// The comparison test's price table: five rows of prices.toml as of 2026-12-03.
const COMPARISON_PRICES: &str = r#"
[[price]]
provider = "deepseek"
model = "deepseek-v4-flash"
aliases = ["deepseek-chat", "deepseek-reasoner"]
input = 0.14
cached_input = 0.0028
output = 0.28
as_of = "2026-05"
source = "https://api-docs.deepseek.com/quick_start/pricing"
[[price]]
provider = "openai"
model = "gpt-4o"
input = 2.50
cached_input = 1.25
output = 10.00
as_of = "2026-05"
[[price]]
provider = "openai"
model = "gpt-4o-mini"
input = 0.15
cached_input = 0.075
output = 0.60
as_of = "2026-05"
[[price]]
provider = "anthropic"
model = "claude-sonnet-4-5"
input = 3.00
cached_input = 0.30
output = 15.00
as_of = "2026-03"
checked = "2026-12-03"
[[price]]
provider = "google"
model = "gemini-2.5-flash"
input = 0.30
output = 2.50
as_of = "2026-03"
"#;

/// The fixed data set judged by three rules: the request rate's fires once it has held for its
/// `for`, the p95 one is pending, the KV cache is not measured by the seed dialect. The status
/// line names the firing rule and its key; `a` lists every rule with its value, threshold and
/// when it started.
#[test]
fn a_firing_alert_is_on_the_status_line_and_the_alerts_overlay_says_since_when() {
    use llmtop::model::alert::{Rule, Severity, parse_expr};
    use llmtop::model::alert_board::{AlertBoard, Phase};
    let rule = |name: &str, text: &str, for_seconds: f64, severity| Rule {
        name: name.into(),
        text: text.into(),
        expr: parse_expr(text).unwrap(),
        for_seconds,
        severity,
    };
    let (mut app, now) = app_for(120);
    let rps = app
        .view
        .now
        .requests_per_second
        .expect("the data set has traffic");
    assert!(rps > 1.0, "{rps}");
    app.alerts = AlertBoard::new(vec![
        rule("busy", "requests_per_second > 1", 60.0, Severity::Critical),
        rule("slow", "p95_latency > 1ms", 600.0, Severity::Warning),
        rule(
            "KV cache full",
            "kv_cache_usage > 0.95",
            0.0,
            Severity::Warning,
        ),
    ]);
    app.bell = true;
    // The first judgement starts both spells; 61 s later the rate rule has held for its minute.
    assert!(app.judge_alerts(now - 61.0).is_empty());
    assert!(!app.bell_due);
    let changes = app.judge_alerts(now);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].name, "busy");
    assert!(changes[0].firing);
    assert_eq!(changes[0].since, now);
    assert!(app.bell_due, "--bell rings for a new firing rule");
    assert_eq!(
        app.alerts.entries[1].phase,
        Phase::Pending { since: now - 61.0 }
    );
    assert_eq!(app.alerts.entries[2].phase, Phase::Unknown);

    let text = screen_text(&draw(&app, now + 2.0, 120, 40));
    let status = text.lines().next().unwrap();
    assert!(status.contains(" ALERT busy (a) "), "{status}");

    app.apply(llmtop::base::keymap::Action::Alerts, now);
    let text = screen_text(&draw(&app, now + 2.0, 120, 40));
    assert!(text.contains("Alerts: 1 firing"), "{text}");
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
            .to_string()
    };
    let busy = line("requests_per_second > 1");
    assert!(busy.contains("FIRING"), "{busy}");
    assert!(busy.contains("critical"), "{busy}");
    assert!(busy.contains(&format!("{rps:.2} (limit 1.00)")), "{busy}");
    assert!(busy.contains("since "), "{busy}");
    assert!(busy.contains("(2.00 s)"), "firing for 2 s: {busy}");
    let slow = line("p95_latency > 1ms");
    assert!(slow.contains("PENDING"), "{slow}");
    assert!(slow.contains("holding 63.0 s of 10m00s"), "{slow}");
    let kv = line("kv_cache_usage");
    assert!(
        kv.contains("N/A") && kv.contains("not measured here"),
        "{kv}"
    );
    crate::common::assert_snapshot("dashboard_render__alerts_overlay", &text);
    // j scrolls the list, a closes it again.
    let key = |c| {
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        )
    };
    app.modal_key(&key('j'), now);
    assert_eq!(
        app.modal,
        llmtop::front::tui::app::Modal::Alerts { scroll: 1 }
    );
    app.modal_key(&key('a'), now);
    assert_eq!(app.modal, llmtop::front::tui::app::Modal::None);
}
