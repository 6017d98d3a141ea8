//! Drawing: a pure function of (app state, view model, current time) → frame.
use std::f64::consts::TAU;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::{self, Marker};
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Points};
use ratatui::widgets::{
    Axis, Block, Chart, Clear, Dataset, GraphType, Paragraph, Row, Sparkline, Table, Wrap,
};
use tui_big_text::{BigText, PixelSize};

use crate::base::dialect::ALL_MODELS;
use crate::base::format::{self, UNKNOWN};
use crate::base::signal::Signal;
use crate::model::stats::CostSource;
use crate::front::tui::app::{
    App, BurstState, Modal, Panel, ProbeState, ProbeSummary, ScreenLayout,
};
use crate::base::keymap;
use crate::model::table::SortColumn;
use crate::front::tui::theme::Theme;
use crate::model::view::DashboardView;

/// Smallest terminal the dashboard draws into; below it a message says what is needed.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;
/// Width of the latency figures beside the heatmap, and of its bound labels.
const LATENCY_FIGURES_WIDTH: u16 = 20;
const HEATMAP_LABEL_WIDTH: u16 = 7;

/// The panel titles, also what end-to-end tests look for.
pub const TITLE_REQUESTS: &str = "Request rate";
pub const TITLE_LATENCY: &str = "Latency";
pub const TITLE_TOKENS: &str = "Tokens by model";
pub const TITLE_ERRORS: &str = "Error rate";
pub const TITLE_COST: &str = "Cost burn";
pub const TITLE_PROBE: &str = "Probe";
pub const TITLE_MODELS: &str = "Models";
pub const TITLE_INSTANCES: &str = "Instances";

/// How many time columns the charts and heatmap get for a terminal this wide.
pub fn chart_columns(width: u16) -> usize {
    let latency_inner = (width / 2).saturating_sub(2);
    latency_inner
        .saturating_sub(LATENCY_FIGURES_WIDTH + HEATMAP_LABEL_WIDTH)
        .max(10) as usize
}

/// Whether the data is too old to be called live.
pub fn is_stale(view: &DashboardView, now: f64) -> bool {
    match view.status.last_ok {
        None => view.status.last_error.is_some(),
        Some(t) => view.status.last_error.is_some() || now - t > 3.0 * view.interval.max(1.0),
    }
}

pub fn render(frame: &mut Frame<'_>, app: &App, now: f64) {
    render_with_layout(frame, app, now);
}

/// Draws the frame and says where each panel went, for the mouse.
pub fn render_with_layout(frame: &mut Frame<'_>, app: &App, now: f64) -> ScreenLayout {
    let layout = draw(frame, app, now);
    if app.theme.ascii {
        asciify(frame.buffer_mut());
    }
    layout
}

fn draw(frame: &mut Frame<'_>, app: &App, now: f64) -> ScreenLayout {
    // A frozen display is a picture of one moment, ages included; a replay shows the moment of
    // its cursor. Notices were stamped with the wall clock, so the footer keeps it.
    let wall = now;
    let now = match &app.replay {
        _ if app.frozen => app.frozen_at,
        Some(clock) => clock.cursor,
        None => now,
    };
    let area = frame.area();
    let theme = &app.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}×{}\nneed at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.text())
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            area,
        );
        return ScreenLayout::default();
    }
    let view = &app.view;
    let stale = is_stale(view, now);
    if app.expanded {
        // One panel on the whole screen, between the status line and the footer.
        let [status, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        render_status(frame, status, app, stale, now);
        render_panel(frame, app.focus, body, app, stale, now);
        render_footer(frame, footer, app, wall);
        render_overlays(frame, area, app);
        return ScreenLayout {
            model_rows: (app.focus == Panel::Models).then(|| model_rows(body, app)),
            panels: vec![(app.focus, body)],
        };
    }
    let probe_height = match area.height {
        h if h >= 50 => 8,
        h if h >= 30 => 6,
        _ => 4,
    };
    // The model table grows with the models, within a share of the screen that keeps the charts.
    let table_height = (app.view.models.len().max(1) as u16 + 3)
        .min(area.height / 4)
        .max(4);
    let [status, top, middle, table, probe, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(table_height),
        Constraint::Length(probe_height),
        Constraint::Length(1),
    ])
    .areas(area);
    render_status(frame, status, app, stale, now);
    let [requests, latency] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [tokens, errors, cost] = Layout::horizontal([
        Constraint::Percentage(36),
        Constraint::Percentage(30),
        Constraint::Percentage(34),
    ])
    .areas(middle);
    let places = [
        (Panel::Requests, requests),
        (Panel::Latency, latency),
        (Panel::Tokens, tokens),
        (Panel::Errors, errors),
        (Panel::Cost, cost),
        (Panel::Models, table),
        (Panel::Probe, probe),
    ];
    for (panel, rect) in places {
        render_panel(frame, panel, rect, app, stale, now);
    }
    if let Some((_, rect)) = places.iter().find(|(p, _)| *p == app.focus) {
        highlight_border(frame, *rect, theme);
    }
    render_footer(frame, footer, app, wall);
    render_overlays(frame, area, app);
    ScreenLayout {
        panels: places.to_vec(),
        model_rows: Some(model_rows(table, app)),
    }
}

/// The model table's data rows inside its panel, and the first model shown: the table scrolls
/// to keep the selected model in sight.
fn model_rows(panel: Rect, app: &App) -> (Rect, usize) {
    // Inside the border, below the header row.
    let rows = Rect {
        x: panel.x.saturating_add(1),
        y: panel.y.saturating_add(2),
        width: panel.width.saturating_sub(2),
        height: panel.height.saturating_sub(3),
    };
    let first = if app.focus == Panel::Models {
        let selected = app
            .selected_model
            .min(app.view.models.len().saturating_sub(1));
        selected.saturating_sub(usize::from(rows.height).saturating_sub(1))
    } else {
        0
    };
    (rows, first)
}

/// Box-drawing borders in plain ASCII, for `--ascii`.
const ASCII_BORDER: symbols::border::Set<'static> = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Sparkline bars in ASCII, lowest to highest.
const ASCII_BARS: symbols::bar::Set<'static> = symbols::bar::Set {
    full: "#",
    seven_eighths: "#",
    three_quarters: "+",
    five_eighths: "+",
    half: ":",
    three_eighths: ":",
    one_quarter: ".",
    one_eighth: ".",
    empty: " ",
};

/// Heatmap shades, least to most.
const SHADES: [&str; 6] = ["░", "▒", "▓", "▓", "█", "█"];
const ASCII_SHADES: [&str; 6] = [".", ":", "+", "*", "#", "@"];

/// Pie slices under `--ascii`: one character per slice, the same in the legend.
const ASCII_SLICES: [char; 8] = ['#', '*', '+', 'o', '=', '%', '@', 'x'];

/// A bordered block, with ASCII borders under `--ascii`.
fn bordered<'a>(theme: &Theme) -> Block<'a> {
    let block = Block::bordered();
    if theme.ascii {
        block.border_set(ASCII_BORDER)
    } else {
        block
    }
}

/// What an ASCII terminal shows for a symbol drawn by code that knows nothing of `--ascii`
/// (chart axes, arrows, dashes, gateway-supplied names).
fn ascii_stand_in(symbol: &str) -> &'static str {
    let Some(c) = symbol.chars().next() else {
        return " ";
    };
    match c {
        '─' | '━' | '═' | '╌' | '┄' | '–' | '—' | '−' => "-",
        '│' | '┃' | '║' | '╎' | '┆' | '▏' | '▕' => "|",
        '\u{2500}'..='\u{257f}' => "+",
        '░' | '·' | '…' | '\u{2800}'..='\u{28ff}' => ".",
        '▒' => ":",
        '\u{2580}'..='\u{259f}' | '■' => "#",
        '•' | '◌' => "*",
        '×' | '✗' => "x",
        '✓' => "+",
        '←' => "<",
        '→' => ">",
        '↑' => "^",
        '↓' => "v",
        '⚠' => "!",
        'µ' | 'μ' => "u",
        _ => "?",
    }
}

/// Replaces every non-ASCII symbol left in the frame, so `--ascii` holds for every cell.
fn asciify(buffer: &mut ratatui::buffer::Buffer) {
    for cell in buffer.content.iter_mut() {
        if !cell.symbol().is_ascii() {
            let stand_in = ascii_stand_in(cell.symbol());
            cell.set_symbol(stand_in);
        }
    }
}

fn render_overlays(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    match &app.modal {
        Modal::None => {}
        Modal::Editor(text) => render_editor(frame, area, text, theme),
        Modal::Picker { .. } => render_picker(frame, area, app),
        Modal::ConfirmBurst => render_confirm(frame, area, app),
        Modal::History { scroll } => render_history(frame, area, app, *scroll),
    }
    if app.show_help {
        render_help(frame, area, app);
    }
}

fn render_panel(frame: &mut Frame<'_>, panel: Panel, rect: Rect, app: &App, stale: bool, now: f64) {
    let (view, theme) = (&app.view, &app.theme);
    match panel {
        Panel::Requests => render_requests(frame, rect, view, theme, stale),
        Panel::Latency => render_latency(frame, rect, view, theme, stale),
        Panel::Tokens => render_tokens(frame, rect, view, theme, stale),
        Panel::Errors => render_errors(frame, rect, view, theme, stale),
        Panel::Cost => render_cost(frame, rect, view, theme, stale),
        Panel::Models => render_models(frame, rect, app, stale),
        Panel::Probe => render_probe(frame, rect, app, now),
    }
}

/// Marks the focused panel: its border (title included) in the accent colour, bold.
fn highlight_border(frame: &mut Frame<'_>, rect: Rect, theme: &Theme) {
    let style = Style::new().fg(theme.accent).add_modifier(Modifier::BOLD);
    let buffer = frame.buffer_mut();
    let area = rect.intersection(buffer.area);
    if area.width < 2 || area.height < 2 {
        return;
    }
    let (right, bottom) = (area.right() - 1, area.bottom() - 1);
    for x in area.left()..area.right() {
        buffer[(x, area.top())].set_style(style);
        buffer[(x, bottom)].set_style(style);
    }
    for y in area.top()..area.bottom() {
        buffer[(area.left(), y)].set_style(style);
        buffer[(right, y)].set_style(style);
    }
}

/// A centred box of at most `width`×`height`, cleared, with a titled border.
fn dialog<'a>(
    frame: &mut Frame<'_>,
    area: Rect,
    width: u16,
    height: u16,
    title: &'a str,
    theme: &Theme,
) -> (Rect, Block<'a>) {
    let width = width.min(area.width.saturating_sub(2));
    let height = height.min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let block = bordered(theme)
        .title(Line::from(Span::styled(
            format!(" {title} "),
            theme.title(),
        )))
        .border_style(Style::new().fg(theme.accent))
        .style(Style::new().bg(theme.help_bg));
    (rect, block)
}

fn render_editor(frame: &mut Frame<'_>, area: Rect, text: &str, theme: &Theme) {
    let (rect, block) = dialog(frame, area, 80, 12, "Probe prompt", theme);
    let block = block.title_bottom(Line::from(Span::styled(
        " Enter send · Ctrl-J new line · Esc cancel ",
        theme.dim(),
    )));
    let mut shown = text.to_string();
    shown.push('▏');
    frame.render_widget(
        Paragraph::new(shown)
            .style(theme.text())
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

fn render_picker(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let Modal::Picker {
        models,
        error,
        typed,
        selected,
    } = &app.modal
    else {
        return;
    };
    let (rect, block) = dialog(frame, area, 60, 18, "Probe model", theme);
    let block = block.title_bottom(Line::from(Span::styled(
        " type to filter · ↑/↓ · Enter pick (or use what you typed) · Esc ",
        theme.dim(),
    )));
    let mut lines = vec![Line::from(vec![
        Span::styled("model: ", theme.dim()),
        Span::styled(format!("{typed}▏"), theme.text()),
    ])];
    match models {
        None => lines.push(Line::from(Span::styled(
            "loading /v1/models …",
            theme.dim(),
        ))),
        Some(_) => {
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(
                    format!("cannot list models: {e}"),
                    Style::new().fg(theme.error),
                )));
                lines.push(Line::from(Span::styled(
                    "type a model name and press Enter",
                    theme.dim(),
                )));
            }
            let matches = app.picker_matches();
            let room = rect.height.saturating_sub(4) as usize;
            let first = selected.saturating_sub(room.saturating_sub(1));
            for (i, m) in matches.iter().enumerate().skip(first).take(room) {
                let style = if i == *selected {
                    Style::new().fg(theme.badge_fg).bg(theme.accent)
                } else {
                    theme.text()
                };
                lines.push(Line::from(Span::styled(format!(" {m} "), style)));
            }
            if matches.is_empty() && error.is_none() {
                lines.push(Line::from(Span::styled(
                    "no listed model matches: Enter uses what you typed",
                    theme.dim(),
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn render_confirm(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let (rect, block) = dialog(frame, area, 64, 5, "Send a burst?", theme);
    let s = &app.settings;
    let text = vec![
        Line::from(Span::styled(
            format!(
                "{} requests at concurrency {} (above --burst-confirm-above {})",
                s.burst_size, s.burst_concurrency, s.burst_confirm_above
            ),
            theme.text(),
        )),
        Line::from(vec![
            Span::styled("y", Style::new().fg(theme.key).add_modifier(Modifier::BOLD)),
            Span::styled(" sends · any other key cancels", theme.dim()),
        ]),
    ];
    frame.render_widget(Paragraph::new(text).block(block), rect);
}

fn render_history(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: usize) {
    let theme = &app.theme;
    let history = app.history();
    let (rect, block) = dialog(
        frame,
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(4),
        "Probe history (newest first)",
        theme,
    );
    let block = block.title_bottom(Line::from(Span::styled(
        " ↑/↓ j/k scroll · g/G ends · Esc closes ",
        theme.dim(),
    )));
    if history.is_empty() {
        frame.render_widget(
            Paragraph::new("no probes yet: press p")
                .style(theme.dim())
                .block(block),
            rect,
        );
        return;
    }
    let lines: Vec<Line<'_>> = history
        .iter()
        .skip(scroll)
        .map(|p| probe_line(p, theme))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn panel<'a>(title: &'a str, extra: Vec<Span<'a>>, theme: &Theme, stale: bool) -> Block<'a> {
    let mut spans = vec![Span::styled(format!(" {title} "), theme.title())];
    spans.extend(extra);
    if stale {
        spans.push(Span::styled(
            " STALE ",
            Style::new().fg(theme.badge_fg).bg(theme.stale),
        ));
    }
    bordered(theme)
        .border_style(if stale {
            Style::new().fg(theme.stale)
        } else {
            theme.border()
        })
        .title(Line::from(spans))
}

fn render_status(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool, now: f64) {
    let theme = &app.theme;
    let s = &app.view.status;
    let base = Style::new().fg(theme.status_fg).bg(theme.status_bg);
    let badge = |text: String, bg: Color| {
        Span::styled(
            text,
            Style::new()
                .fg(theme.badge_fg)
                .bg(bg)
                .add_modifier(Modifier::BOLD),
        )
    };
    let mut spans = vec![Span::styled(
        " llmtop ",
        base.add_modifier(Modifier::BOLD).fg(theme.accent),
    )];
    // First, so a narrow terminal cannot cut it off.
    if app.insecure_tls {
        spans.push(badge(" INSECURE TLS ".into(), theme.error));
        spans.push(Span::styled(" ", base));
    }
    spans.push(Span::styled(format!("{} ", s.url), base));
    spans.push(Span::styled("│ ", base.fg(theme.dim)));
    spans.push(Span::styled(
        format!("dialect {} ", s.dialect.as_deref().unwrap_or("?")),
        base,
    ));
    spans.push(Span::styled("│ ", base.fg(theme.dim)));
    let age = s.last_ok.map(|t| (now - t).max(0.0));
    if let Some(clock) = &app.replay {
        // In place of LIVE: where the cursor is, how fast and whether it moves.
        spans.push(badge(" REPLAY ".into(), theme.accent));
        spans.push(Span::styled(format!(" {} ", clock.label()), base));
        spans.push(Span::styled("│ ", base.fg(theme.dim)));
    }
    match (stale, age) {
        (false, Some(a)) => {
            if app.replay.is_none() {
                spans.push(badge(" LIVE ".into(), theme.ok));
            }
            spans.push(Span::styled(
                format!(" {} ago ", format::seconds(Some(a))),
                base,
            ));
        }
        (true, Some(a)) => {
            spans.push(badge(" STALE ".into(), theme.stale));
            spans.push(Span::styled(
                format!(" data {} old ", format::seconds(Some(a))),
                base,
            ));
        }
        (_, None) if s.last_error.is_some() => spans.push(badge(" NO DATA ".into(), theme.stale)),
        (_, None) => spans.push(badge(" WAITING FOR FIRST SCRAPE ".into(), theme.warn)),
    }
    if app.frozen {
        spans.push(Span::raw(" "));
        let key = app.keymap.first_label(keymap::Action::Freeze);
        spans.push(badge(format!(" FROZEN ({key} resumes) "), theme.accent));
    }
    if s.restarted_at.is_some() {
        spans.push(Span::raw(" "));
        spans.push(badge(" RESTARTED ".into(), theme.warn));
    }
    // The reason for staleness matters more than the counters after it, which may be cut off.
    if let Some(error) = &s.last_error {
        spans.push(Span::styled(format!(" {error}"), base.fg(theme.error)));
    }
    spans.push(Span::styled(" │ ", base.fg(theme.dim)));
    spans.push(Span::styled(format!("scrapes {} ", s.scrapes_ok), base));
    let err_style = if s.scrapes_failed > 0 {
        base.fg(theme.error)
    } else {
        base
    };
    spans.push(Span::styled(
        format!("errors {} ", s.scrapes_failed),
        err_style,
    ));
    let skip_style = if s.skipped_lines > 0 {
        base.fg(theme.warn)
    } else {
        base
    };
    spans.push(Span::styled(
        format!("skipped {} ", s.skipped_lines),
        skip_style,
    ));
    if s.dropped_series > 0 {
        spans.push(Span::styled(
            format!("dropped series {} ", s.dropped_series),
            base.fg(theme.warn),
        ));
    }
    for problem in &s.exposition_problems {
        spans.push(Span::styled(format!("{problem} "), base.fg(theme.warn)));
    }
    spans.push(Span::styled(
        format!("│ window {}", format::window(app.window)),
        base,
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

fn axis_labels(window: f64) -> Vec<Line<'static>> {
    vec![
        Line::from(format!("-{}", format::window(window))),
        Line::from(format!("-{}", format::window(window / 2.0))),
        Line::from("now"),
    ]
}

fn render_requests(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let ok_now = view
        .now
        .requests_per_second
        .map(|r| r - view.now.errors_per_second.unwrap_or(0.0));
    let extra = vec![
        Span::styled(
            format!("ok {} ", format::rate(ok_now)),
            Style::new().fg(theme.ok),
        ),
        Span::styled(
            format!("err {} ", format::rate(view.now.errors_per_second)),
            Style::new().fg(theme.error),
        ),
    ];
    let block = panel(TITLE_REQUESTS, extra, theme, stale);
    if view.missing.contains(&Signal::Requests) {
        return no_source(frame, area, block, "requests", view, theme);
    }
    if view.rate_ok.is_empty() {
        return waiting(frame, area, block, view, theme);
    }
    let max = view
        .rate_ok
        .iter()
        .zip(&view.rate_error)
        .map(|((_, a), (_, b))| a.max(*b))
        .fold(0.0_f64, f64::max)
        .max(0.1)
        * 1.15;
    let datasets = vec![
        Dataset::default()
            .name("ok")
            .marker(if theme.ascii {
                Marker::Custom('*')
            } else {
                Marker::Braille
            })
            .graph_type(GraphType::Line)
            .style(Style::new().fg(theme.ok))
            .data(&view.rate_ok),
        Dataset::default()
            .name("error")
            .marker(if theme.ascii {
                Marker::Custom('x')
            } else {
                Marker::Braille
            })
            .graph_type(GraphType::Line)
            .style(Style::new().fg(theme.error))
            .data(&view.rate_error),
    ];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([-view.window, 0.0])
                .labels(axis_labels(view.window))
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max])
                .labels(vec![
                    Line::from("0"),
                    Line::from(format!("{}/s", format::compact(max))),
                ])
                .style(theme.dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

fn no_source(
    frame: &mut Frame<'_>,
    area: Rect,
    block: Block<'_>,
    what: &str,
    view: &DashboardView,
    theme: &Theme,
) {
    let dialect = view.status.dialect.as_deref().unwrap_or("this gateway");
    let text = format!("{what}: not exported by {dialect}");
    frame.render_widget(
        Paragraph::new(text)
            .style(theme.dim())
            .block(block)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn waiting(
    frame: &mut Frame<'_>,
    area: Rect,
    block: Block<'_>,
    view: &DashboardView,
    theme: &Theme,
) {
    let text = if view.status.last_ok.is_none() {
        "waiting for the first scrape…"
    } else {
        "collecting: rates need two scrapes…"
    };
    frame.render_widget(Paragraph::new(text).style(theme.dim()).block(block), area);
}

fn render_latency(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let block = panel(
        TITLE_LATENCY,
        vec![Span::styled("heatmap · quantiles ", theme.dim())],
        theme,
        stale,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [heat_area, figures_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(LATENCY_FIGURES_WIDTH),
    ])
    .areas(inner);
    // Figures: p50/p95/p99 of latency and TTFT over the "now" range.
    let q = &view.now.latency_seconds;
    let t = &view.now.ttft_seconds;
    let label = |s: &'static str| Span::styled(s, theme.dim());
    let value = |v: Option<f64>, c: Color| {
        Span::styled(
            format!("{:>9}", format::seconds(v)),
            Style::new().fg(c).add_modifier(Modifier::BOLD),
        )
    };
    let mut lines = vec![Line::from(label(" latency"))];
    if view.missing.contains(&Signal::LatencySeconds) {
        lines.push(Line::from(label("  not exported")));
    } else {
        lines.push(Line::from(vec![label("  p50 "), value(q.p50, theme.p50)]));
        lines.push(Line::from(vec![label("  p95 "), value(q.p95, theme.p95)]));
        lines.push(Line::from(vec![label("  p99 "), value(q.p99, theme.p99)]));
    }
    lines.push(Line::from(label(" time to first token")));
    if view.missing.contains(&Signal::TtftSeconds) {
        let dialect = view.status.dialect.as_deref().unwrap_or("gateway");
        lines.push(Line::from(label("  not exported by")));
        lines.push(Line::from(Span::styled(
            format!("  {dialect}"),
            theme.dim(),
        )));
    } else {
        lines.push(Line::from(vec![label("  p50 "), value(t.p50, theme.p50)]));
        lines.push(Line::from(vec![label("  p95 "), value(t.p95, theme.p95)]));
        lines.push(Line::from(vec![label("  p99 "), value(t.p99, theme.p99)]));
    }
    let mut gauges = Vec::new();
    if let Some(v) = view.in_flight {
        gauges.push(format!("in flight {}", format::compact(v)));
    }
    if let Some(v) = view.queued {
        gauges.push(format!("queued {}", format::compact(v)));
    }
    for g in gauges {
        lines.push(Line::from(Span::styled(format!(" {g}"), theme.text())));
    }
    frame.render_widget(Paragraph::new(lines), figures_area);
    match &view.heatmap {
        Some(h) if !h.bounds.is_empty() => render_heatmap(frame, heat_area, h, theme),
        _ if view.missing.contains(&Signal::LatencySeconds) => {
            let dialect = view.status.dialect.as_deref().unwrap_or("this gateway");
            frame.render_widget(
                Paragraph::new(format!("latency histogram: not exported by {dialect}"))
                    .style(theme.dim())
                    .wrap(Wrap { trim: true }),
                heat_area,
            );
        }
        _ => frame.render_widget(
            Paragraph::new("no latency data yet").style(theme.dim()),
            heat_area,
        ),
    }
}

fn render_heatmap(
    frame: &mut Frame<'_>,
    area: Rect,
    heatmap: &crate::model::store::Heatmap,
    theme: &Theme,
) {
    if area.height < 2 || area.width <= HEATMAP_LABEL_WIDTH {
        return;
    }
    let rows_available = (area.height - 1) as usize;
    // Drop buckets that stay empty at the low and high end so the rows go where the data is.
    let used = |b: usize| {
        heatmap
            .cells
            .iter()
            .any(|col| col.get(b).is_some_and(|v| *v > 0.0))
    };
    let n = heatmap.bounds.len();
    let lo = (0..n).find(|&b| used(b)).unwrap_or(0);
    let hi = (0..n)
        .rev()
        .find(|&b| used(b))
        .unwrap_or(n.saturating_sub(1));
    let buckets: Vec<usize> = (lo.saturating_sub(1)..=hi.min(n - 1)).collect();
    let group = buckets.len().div_ceil(rows_available).max(1);
    let groups: Vec<&[usize]> = buckets.chunks(group).collect();
    let max = heatmap
        .cells
        .iter()
        .flat_map(|col| col.iter())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let columns = heatmap.cells.len();
    let width = (area.width - HEATMAP_LABEL_WIDTH) as usize;
    let shades = if theme.ascii { ASCII_SHADES } else { SHADES };
    let mut lines = Vec::with_capacity(groups.len() + 1);
    for g in groups.iter().rev() {
        let top = g
            .last()
            .map(|&b| heatmap.bounds[b])
            .unwrap_or(f64::INFINITY);
        let mut spans = vec![Span::styled(
            format!("{:>6} ", format::bound(top)),
            theme.dim(),
        )];
        for x in 0..width {
            // Columns map onto the width (equal when the view was computed for this width).
            let c = x * columns / width.max(1);
            let v: f64 = g
                .iter()
                .filter_map(|&b| heatmap.cells.get(c).and_then(|col| col.get(b)))
                .filter(|v| v.is_finite())
                .sum();
            if v <= 0.0 || max <= 0.0 {
                spans.push(Span::raw(" "));
            } else {
                let level = (((v / max).sqrt() * 6.0).ceil() as usize).clamp(1, 6) - 1;
                spans.push(Span::styled(
                    shades[level],
                    Style::new().fg(theme.heat[level]),
                ));
            }
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{:>6} ", ""), theme.dim()),
        Span::styled("← older   bucket counts   now →", theme.dim()),
    ]));
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_tokens(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let total: f64 = view.tokens_by_model.iter().map(|m| m.tokens).sum();
    let extra = vec![Span::styled(
        format!(
            "{} tok in {} ",
            format::compact(total),
            format::window(view.window)
        ),
        theme.dim(),
    )];
    let block = panel(TITLE_TOKENS, extra, theme, stale);
    let no_tokens = [
        Signal::TokensTotal,
        Signal::TokensInput,
        Signal::TokensOutput,
    ]
    .iter()
    .all(|s| view.missing.contains(s));
    if no_tokens {
        return no_source(frame, area, block, "token counts", view, theme);
    }
    if view.tokens_by_model.is_empty() || total <= 0.0 {
        return waiting(frame, area, block, view, theme);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let pie_width = (inner.height * 2).min(inner.width * 2 / 5);
    let [pie_area, legend_area] =
        Layout::horizontal([Constraint::Length(pie_width), Constraint::Fill(1)]).areas(inner);
    let slices = pie_slices(view, theme);
    if theme.ascii {
        render_ascii_pie(frame, pie_area, &slices);
    } else {
        render_pie(frame, pie_area, &slices);
    }
    let mut rows: Vec<Line<'_>> = Vec::new();
    for (i, (name, tokens, color)) in slices.iter().enumerate() {
        let share = tokens / total;
        let swatch = if theme.ascii {
            format!(" {} ", ASCII_SLICES[i % ASCII_SLICES.len()])
        } else {
            " ■ ".to_string()
        };
        let mut spans = vec![
            Span::styled(swatch, Style::new().fg(*color)),
            Span::styled(
                format!("{:>5.1}% ", share * 100.0),
                theme.text().add_modifier(Modifier::BOLD),
            ),
        ];
        // Token counts only where the model name still fits beside them.
        if legend_area.width as usize >= 16 + name.chars().count() {
            spans.push(Span::styled(
                format!("{:>6} ", format::compact(*tokens)),
                theme.dim(),
            ));
        }
        spans.push(Span::styled(name.clone(), theme.text()));
        rows.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(rows), legend_area);
}

/// The largest models get their own slice; the rest share one.
fn pie_slices(view: &DashboardView, theme: &Theme) -> Vec<(String, f64, Color)> {
    const MAX_SLICES: usize = 7;
    let mut out = Vec::new();
    for (i, m) in view.tokens_by_model.iter().enumerate() {
        let name = if m.model == ALL_MODELS {
            "all models".to_string()
        } else {
            m.model.clone()
        };
        if i < MAX_SLICES {
            out.push((name, m.tokens, theme.slice(i)));
        } else if let Some(last) = out.get_mut(MAX_SLICES) {
            last.1 += m.tokens;
        } else {
            out.push(("other".to_string(), m.tokens, theme.dim));
        }
    }
    out
}

/// Which slice a point of the unit disc belongs to, clockwise from twelve o'clock like every pie
/// a person has seen; `None` outside the disc.
fn slice_at(x: f64, y: f64, bounds: &[f64]) -> Option<usize> {
    if x * x + y * y > 1.0 {
        return None;
    }
    let turn = x.atan2(y).rem_euclid(TAU) / TAU;
    Some(
        bounds
            .iter()
            .position(|b| turn <= *b)
            .unwrap_or(bounds.len().saturating_sub(1)),
    )
}

/// Cumulative shares of the slices, ending at 1.
fn slice_bounds(slices: &[(String, f64, Color)]) -> Vec<f64> {
    let total: f64 = slices.iter().map(|s| s.1).sum();
    slices
        .iter()
        .scan(0.0, |acc, s| {
            *acc += s.1 / total;
            Some(*acc)
        })
        .collect()
}

/// The pie with one ASCII character per cell, a different character per slice.
fn render_ascii_pie(frame: &mut Frame<'_>, area: Rect, slices: &[(String, f64, Color)]) {
    if area.width < 2 || area.height < 2 || slices.is_empty() {
        return;
    }
    let bounds = slice_bounds(slices);
    let buffer = frame.buffer_mut();
    for j in 0..area.height {
        for i in 0..area.width {
            let x = -1.0 + (f64::from(i) + 0.5) * 2.0 / f64::from(area.width);
            // Rows run top to bottom; the disc's y runs up.
            let y = 1.0 - (f64::from(j) + 0.5) * 2.0 / f64::from(area.height);
            if let Some(slice) = slice_at(x, y, &bounds) {
                let mark = ASCII_SLICES[slice % ASCII_SLICES.len()];
                buffer[(area.x + i, area.y + j)]
                    .set_char(mark)
                    .set_fg(slices[slice].2);
            }
        }
    }
}

fn render_pie(frame: &mut Frame<'_>, area: Rect, slices: &[(String, f64, Color)]) {
    if area.width < 2 || area.height < 2 {
        return;
    }
    // Braille gives 2×4 dots per cell; a cell is about twice as tall as wide.
    let dots_x = area.width as usize * 2;
    let dots_y = area.height as usize * 4;
    let mut points: Vec<Vec<(f64, f64)>> = vec![Vec::new(); slices.len()];
    let bounds = slice_bounds(slices);
    for j in 0..dots_y {
        for i in 0..dots_x {
            let x = -1.0 + (i as f64 + 0.5) * 2.0 / dots_x as f64;
            let y = -1.0 + (j as f64 + 0.5) * 2.0 / dots_y as f64;
            if let Some(slice) = slice_at(x, y, &bounds) {
                points[slice].push((x, y));
            }
        }
    }
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([-1.0, 1.0])
        .y_bounds([-1.0, 1.0])
        .paint(move |ctx| {
            for (coords, slice) in points.iter().zip(slices) {
                ctx.draw(&Points {
                    coords,
                    color: slice.2,
                });
            }
        });
    frame.render_widget(canvas, area);
}

fn render_errors(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let block = panel(
        TITLE_ERRORS,
        vec![Span::styled("% of requests ", theme.dim())],
        theme,
        stale,
    );
    if view.missing.contains(&Signal::Requests) {
        return no_source(frame, area, block, "requests", view, theme);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let ratio = view.now.error_ratio;
    let color = match ratio {
        None => theme.dim,
        Some(r) if r < 0.01 => theme.ok,
        Some(r) if r < 0.05 => theme.warn,
        Some(_) => theme.error,
    };
    let big = match ratio {
        None => UNKNOWN.to_string(),
        Some(r) if r * 100.0 < 10.0 => format!("{:.1}%", r * 100.0),
        Some(r) => format!("{:.0}%", r * 100.0),
    };
    let [big_area, detail_area, spark_area] = Layout::vertical([
        Constraint::Length(if inner.height >= 9 { 4 } else { 1 }),
        Constraint::Length(2),
        Constraint::Fill(1),
    ])
    .areas(inner);
    // The big digits are drawn with quadrant blocks, which --ascii rules out.
    if big_area.height >= 4 && inner.width >= 20 && !theme.ascii {
        let text = BigText::builder()
            .pixel_size(PixelSize::Quadrant)
            .style(Style::new().fg(color))
            .lines(vec![Line::from(big)])
            .centered()
            .build();
        frame.render_widget(text, big_area);
    } else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                big,
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ))
            .alignment(Alignment::Center),
            big_area,
        );
    }
    let detail = vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", format::rate(view.now.errors_per_second)),
                Style::new().fg(theme.error),
            ),
            Span::styled(
                format!("of {}", format::rate(view.now.requests_per_second)),
                theme.dim(),
            ),
        ]),
        Line::from(Span::styled(
            format!(
                "{} over {}",
                format::percent(view.over_window.error_ratio),
                format::window(view.window)
            ),
            theme.dim(),
        )),
    ];
    frame.render_widget(
        Paragraph::new(detail).alignment(Alignment::Center),
        detail_area,
    );
    if spark_area.height > 0 && !view.error_ratio.is_empty() {
        // Sparkline bars are integers: basis points keep two decimals of a percentage.
        let width = spark_area.width as usize;
        let data: Vec<u64> = view
            .error_ratio
            .iter()
            .skip(view.error_ratio.len().saturating_sub(width))
            .map(|(_, r)| (r * 10_000.0).round() as u64)
            .collect();
        frame.render_widget(
            Sparkline::default()
                .bar_set(if theme.ascii {
                    ASCII_BARS
                } else {
                    symbols::bar::NINE_LEVELS
                })
                .data(&data)
                .style(Style::new().fg(theme.error)),
            spark_area,
        );
    }
}

fn render_cost(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let block = panel(TITLE_COST, vec![], theme, stale);
    let now = &view.now;
    let w = &view.over_window;
    let label = |s: String| Span::styled(format!("{s:<19}"), theme.dim());
    let big = Style::new().fg(theme.accent).add_modifier(Modifier::BOLD);
    let per_hour = now.cost_usd_per_hour;
    let mut lines = vec![
        Line::from(vec![
            label("$/hour now".into()),
            Span::styled(format::usd(per_hour), big),
        ]),
        Line::from(vec![
            label(format!("spent ({})", format::window(view.window))),
            Span::styled(format::usd(w.cost_usd), theme.text()),
        ]),
        Line::from(vec![
            label("month at this pace".into()),
            Span::styled(format::usd(per_hour.map(|h| h * 730.0)), theme.text()),
        ]),
        Line::from(""),
    ];
    let source = match now.cost_source {
        CostSource::GatewaySpend => "source: the gateway's spend counter",
        CostSource::PriceTable => "source: tokens × price table",
        CostSource::BlendedEstimate => "estimate: total tokens × output price",
        CostSource::Unknown => "no cost data: no tokens or no price",
    };
    lines.push(Line::from(Span::styled(source, theme.dim())));
    for warning in &view.cost_warnings {
        lines.push(Line::from(Span::styled(
            format!("⚠ {warning}"),
            Style::new().fg(theme.warn),
        )));
    }
    if let Some(ratio) = view.cache_hit_ratio {
        lines.push(Line::from(vec![
            label("cache hit ratio".into()),
            Span::styled(format::percent(Some(ratio)), theme.text()),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

fn render_models(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool) {
    let theme = &app.theme;
    let view = &app.view;
    let order = if app.sort_descending { "↓" } else { "↑" };
    let mut extra = vec![Span::styled(
        format!("sorted by {} {order} ", sort_label(app.sort)),
        theme.dim(),
    )];
    if let Some(f) = &view.filter {
        extra.push(Span::styled(
            format!("filter /{f} ({} match) ", view.filter_matches),
            Style::new().fg(theme.warn),
        ));
    }
    // Fleet mode lists instances here (Enter drills into one); drilled, the instance's models.
    let instances = view
        .fleet
        .as_ref()
        .is_some_and(|f| f.table_lists_instances());
    if let Some(f) = view.fleet.as_ref() {
        if let Some(d) = &f.drilled {
            extra.push(Span::styled(format!("{d} · Esc: fleet "), theme.dim()));
        } else if !f.errors.is_empty() {
            extra.push(Span::styled(
                format!("{} ", f.errors.join("; ")),
                Style::new().fg(theme.error),
            ));
        }
    }
    let title = if instances {
        TITLE_INSTANCES
    } else {
        TITLE_MODELS
    };
    let block = panel(title, extra, theme, stale);
    let rows_data = crate::model::table::table_order(&view.models, app.sort, app.sort_descending);
    let header_style = theme.dim().add_modifier(Modifier::BOLD);
    // Columns in the order they are dropped last-first as the table narrows; the model name
    // keeps at least MODEL_MIN cells, because a row without its name means nothing.
    const MODEL_MIN: u16 = 18;
    const WIDTHS: [u16; 10] = [0, 7, 8, 9, 9, 9, 9, 9, 10, 9];
    const PRIORITY: [usize; 9] = [1, 2, 4, 9, 3, 5, 6, 7, 8];
    const HEADERS: [&str; 10] = [
        "model",
        "req/s",
        "err %",
        "p50",
        "p95",
        "p99",
        "TTFT p95",
        "tok/s in",
        "tok/s out",
        "$/h",
    ];
    let inner_width = area.width.saturating_sub(2);
    let mut budget = inner_width.saturating_sub(MODEL_MIN);
    let mut shown = vec![0usize];
    for col in PRIORITY {
        // Each column also costs the one-cell gap the table puts between columns.
        if budget > WIDTHS[col] {
            budget -= WIDTHS[col] + 1;
            shown.push(col);
        }
    }
    shown.sort_unstable();
    let header = Row::new(shown.iter().map(|&i| {
        let style = if SortColumn::ALL[i] == app.sort {
            header_style.fg(theme.accent)
        } else {
            header_style
        };
        let name = if i == 0 && instances {
            "instance"
        } else {
            HEADERS[i]
        };
        Span::styled(name, style)
    }));
    let selected = (app.focus == Panel::Models).then_some(app.selected_model);
    let (_, first) = model_rows(area, app);
    let rows: Vec<Row<'_>> = rows_data
        .iter()
        .enumerate()
        .skip(first)
        .map(|(index, m)| {
            let f = &m.figures;
            let err_style = match f.error_ratio {
                Some(r) if r >= 0.05 => Style::new().fg(theme.error),
                Some(r) if r >= 0.01 => Style::new().fg(theme.warn),
                _ => theme.text(),
            };
            let cell = |i: usize| -> Span<'static> {
                match i {
                    0 => Span::styled(m.model.clone(), theme.text()),
                    1 => Span::styled(
                        format::compact_or_unknown(f.requests_per_second),
                        theme.text(),
                    ),
                    2 => Span::styled(format::percent(f.error_ratio), err_style),
                    3 => Span::styled(
                        format::seconds(f.latency_seconds.p50),
                        Style::new().fg(theme.p50),
                    ),
                    4 => Span::styled(
                        format::seconds(f.latency_seconds.p95),
                        Style::new().fg(theme.p95),
                    ),
                    5 => Span::styled(
                        format::seconds(f.latency_seconds.p99),
                        Style::new().fg(theme.p99),
                    ),
                    6 => Span::styled(format::seconds(f.ttft_seconds.p95), theme.text()),
                    7 => Span::styled(
                        format::compact_or_unknown(f.tokens_per_second.input),
                        theme.text(),
                    ),
                    8 => Span::styled(
                        format::compact_or_unknown(f.tokens_per_second.output),
                        theme.text(),
                    ),
                    _ => Span::styled(
                        format::usd(f.cost_usd_per_hour),
                        Style::new().fg(theme.accent),
                    ),
                }
            };
            let row = Row::new(shown.iter().map(|&i| cell(i)).collect::<Vec<_>>());
            if selected == Some(index) {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    if rows.is_empty() {
        let text = match &view.filter {
            Some(f) => format!(
                "no model matches /{f} — press {} then Esc to clear",
                app.keymap.first_label(keymap::Action::Filter)
            ),
            None => "no per-model data yet".to_string(),
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()).block(block), area);
        return;
    }
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|&i| {
            if i == 0 {
                Constraint::Min(MODEL_MIN)
            } else {
                Constraint::Length(WIDTHS[i])
            }
        })
        .collect();
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn sort_label(column: SortColumn) -> &'static str {
    match column {
        SortColumn::Model => "model",
        SortColumn::Requests => "req/s",
        SortColumn::ErrorRatio => "error %",
        SortColumn::P50 => "p50",
        SortColumn::P95 => "p95",
        SortColumn::P99 => "p99",
        SortColumn::TtftP95 => "TTFT p95",
        SortColumn::TokensIn => "tokens in",
        SortColumn::TokensOut => "tokens out",
        SortColumn::Cost => "$/h",
    }
}

fn probe_line(p: &ProbeSummary, theme: &Theme) -> Line<'static> {
    let (mark, color) = if p.ok {
        ("✓", theme.ok)
    } else {
        ("✗", theme.error)
    };
    let status = p
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| UNKNOWN.to_string());
    let mut spans = vec![
        Span::styled(
            format!("{mark} {status} "),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{} ", p.model), theme.text()),
        Span::styled("TTFT ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(p.ttft.map(|d| d.as_secs_f64()))),
            Style::new().fg(theme.p50),
        ),
        Span::styled("total ", theme.dim()),
        Span::styled(
            format!("{} ", format::seconds(Some(p.latency.as_secs_f64()))),
            theme.text(),
        ),
        Span::styled("tokens ", theme.dim()),
        Span::styled(
            format!(
                "{}→{} ",
                p.input_tokens
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| UNKNOWN.into()),
                p.output_tokens
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| UNKNOWN.into())
            ),
            theme.text(),
        ),
        Span::styled(
            format!(
                "{} ",
                format::rate(p.tokens_per_second()).replace("/s", " tok/s")
            ),
            theme.dim(),
        ),
        Span::styled(
            format!("{} ", format::usd(p.cost_usd)),
            Style::new().fg(theme.accent),
        ),
    ];
    if let Some(gw) = p.gateway_cost_usd {
        spans.push(Span::styled(
            format!("(gateway {}) ", format::usd(Some(gw))),
            theme.dim(),
        ));
    }
    if p.retries > 0 {
        spans.push(Span::styled(
            format!("retries {} ", p.retries),
            Style::new().fg(theme.warn),
        ));
    }
    if let Some(e) = &p.error {
        spans.push(Span::styled(e.clone(), Style::new().fg(theme.error)));
    }
    Line::from(spans)
}

fn render_probe(frame: &mut Frame<'_>, area: Rect, app: &App, now: f64) {
    let theme = &app.theme;
    let mut extra = vec![Span::styled(format!("{} ", app.api_base), theme.dim())];
    if let Some(m) = &app.settings.model {
        extra.push(Span::styled(format!("model {m} "), theme.text()));
    }
    if app.probe_spent_usd > 0.0 {
        let budget = app
            .settings
            .max_spend_usd
            .map(|m| format!(" of {}", format::usd(Some(m))))
            .unwrap_or_default();
        extra.push(Span::styled(
            format!("spent {}{budget} ", format::usd(Some(app.probe_spent_usd))),
            theme.dim(),
        ));
    }
    if app.settings.read_only {
        extra.push(Span::styled(
            " READ-ONLY ",
            Style::new().fg(theme.badge_fg).bg(theme.warn),
        ));
    }
    if let Some(why) = &app.showing_probes {
        extra.push(Span::styled(
            format!(" panels show probe results — {why} "),
            Style::new().fg(theme.badge_fg).bg(theme.accent),
        ));
    }
    let block = panel(TITLE_PROBE, extra, theme, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(b) = &app.burst {
        lines.extend(burst_lines(b, theme, inner.width, now));
    }
    let answer: Option<&str> = match &app.probe {
        ProbeState::Idle => {
            lines.push(Line::from(vec![
                Span::styled("press ", theme.dim()),
                Span::styled(
                    app.keymap.first_label(keymap::Action::Probe),
                    Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    " to send a probe prompt through the gateway and measure TTFT, tokens and cost",
                    theme.dim(),
                ),
            ]));
            None
        }
        ProbeState::Running {
            model,
            started_at,
            answer,
            reasoning_chars,
        } => {
            let mut spans = vec![
                Span::styled(
                    "◌ probing ",
                    Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("{model} "), theme.text()),
                Span::styled(
                    format::seconds(Some((now - started_at).max(0.0))),
                    theme.dim(),
                ),
            ];
            if *reasoning_chars > 0 {
                spans.push(Span::styled(
                    format!("  reasoning… {reasoning_chars} chars"),
                    theme.dim(),
                ));
            }
            lines.push(Line::from(spans));
            Some(answer.as_str())
        }
        ProbeState::Done(p) => {
            lines.push(probe_line(p, theme));
            Some(p.answer.as_str())
        }
    };
    if let Some(text) = answer.filter(|t| !t.is_empty()) {
        // Show the end of the answer: that is where a streaming probe is.
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let room = (inner.width as usize).saturating_mul(2).max(10);
        let start = flat
            .char_indices()
            .rev()
            .nth(room.saturating_sub(1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let tail = if start > 0 {
            format!("…{}", &flat[start..])
        } else {
            flat
        };
        lines.push(Line::from(Span::styled(tail, theme.text())));
    }
    for p in app
        .probe_history
        .iter()
        .take(inner.height.saturating_sub(lines.len() as u16 + 1) as usize)
    {
        let mut line = probe_line(p, theme);
        line = line.style(theme.dim());
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn burst_lines(b: &BurstState, theme: &Theme, width: u16, now: f64) -> Vec<Line<'static>> {
    let done = b.done();
    let elapsed = b.finished_at.unwrap_or(now) - b.started_at;
    let bar_width = (width as usize).saturating_sub(60).clamp(10, 40);
    let filled = (done * bar_width)
        .checked_div(b.total)
        .unwrap_or(0)
        .min(bar_width);
    let (full, empty) = if theme.ascii {
        ("#", ".")
    } else {
        ("█", "░")
    };
    let bar = format!(
        "{}{}",
        full.repeat(filled),
        empty.repeat(bar_width - filled)
    );
    let rate = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    let state = if b.finished_at.is_some() {
        "burst done"
    } else {
        "burst"
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{state} "),
            Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!("{} ×{} c{} ", b.model, b.total, b.concurrency),
            theme.text(),
        ),
        Span::styled(bar, Style::new().fg(theme.accent)),
        Span::styled(format!(" {done}/{} ", b.total), theme.text()),
        Span::styled(format!("ok {} ", b.ok), Style::new().fg(theme.ok)),
        Span::styled(
            format!("failed {} ", b.failed),
            Style::new().fg(if b.failed > 0 { theme.error } else { theme.dim }),
        ),
        Span::styled(
            format!("{:.1} req/s {} ", rate, format::seconds(Some(elapsed))),
            theme.dim(),
        ),
    ])];
    let p = |v: &[f64], q| format::seconds(BurstState::percentile(v, q));
    let mut summary = vec![
        Span::styled("latency p50 ", theme.dim()),
        Span::styled(
            format!("{} ", p(&b.latencies, 0.5)),
            Style::new().fg(theme.p50),
        ),
        Span::styled("p95 ", theme.dim()),
        Span::styled(
            format!("{} ", p(&b.latencies, 0.95)),
            Style::new().fg(theme.p95),
        ),
        Span::styled("TTFT p50 ", theme.dim()),
        Span::styled(format!("{} ", p(&b.ttfts, 0.5)), Style::new().fg(theme.p50)),
        Span::styled("p95 ", theme.dim()),
        Span::styled(
            format!("{} ", p(&b.ttfts, 0.95)),
            Style::new().fg(theme.p95),
        ),
        Span::styled("cost ", theme.dim()),
        Span::styled(
            format!("{} ", format::usd(Some(b.cost_usd))),
            Style::new().fg(theme.accent),
        ),
    ];
    if b.retries > 0 {
        summary.push(Span::styled(
            format!("retries {} ", b.retries),
            Style::new().fg(theme.warn),
        ));
    }
    if let Some((reason, n)) = b.errors.iter().max_by_key(|(_, n)| **n) {
        summary.push(Span::styled(
            format!("{n}× {reason}"),
            Style::new().fg(theme.error),
        ));
    }
    lines.push(Line::from(summary));
    lines
}

fn render_footer(frame: &mut Frame<'_>, area: Rect, app: &App, now: f64) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    if let Some(input) = &app.filter_input {
        spans.push(Span::styled(
            " filter models: /",
            Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!("{input}▏"), theme.text()));
        spans.push(Span::styled("  Enter apply · Esc clear", theme.dim()));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    for (keys, short) in app.keymap.footer_hints() {
        spans.push(Span::styled(
            format!(" {keys} "),
            Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!("{short} "), theme.dim()));
    }
    if let Some((text, until)) = &app.notice
        && now < *until
    {
        spans.push(Span::styled(
            format!(" │ {text}"),
            Style::new().fg(theme.warn),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_help(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let (theme, scroll) = (&app.theme, app.help_scroll);
    // The keys in force, rebound ones included.
    let all_rows = app.keymap.help_rows();
    let total = all_rows.len();
    // On a short terminal the list scrolls (j/k or arrows) instead of being cut.
    let room = area.height.saturating_sub(4) as usize;
    let first = scroll.min(total.saturating_sub(room.max(1)));
    let rows_data: Vec<_> = all_rows.into_iter().skip(first).collect();
    let more = first + room < total;
    let width = 96.min(area.width.saturating_sub(4));
    let height = (rows_data.len() as u16 + 6).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let rows: Vec<Row<'_>> = rows_data
        .into_iter()
        .map(|(keys, help)| {
            Row::new(vec![
                Span::styled(
                    keys,
                    Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
                ),
                Span::styled(help, theme.text()),
            ])
        })
        .collect();
    let block = bordered(theme)
        .title(Line::from(Span::styled(" Help — keys ", theme.title())))
        .title_bottom(Line::from(Span::styled(
            {
                let key = |a| app.keymap.first_label(a);
                let close = format!(
                    "{} or {} closes",
                    key(keymap::Action::ToggleHelp),
                    key(keymap::Action::CloseOverlay)
                );
                if more || first > 0 {
                    let (down, up) = (key(keymap::Action::Down), key(keymap::Action::Up));
                    format!(" {down}/{up} scroll · {close} ")
                } else {
                    format!(" {close} ")
                }
            },
            theme.dim(),
        )))
        .border_style(Style::new().fg(theme.accent))
        .style(Style::new().bg(theme.help_bg));
    let table = Table::new(rows, [Constraint::Length(14), Constraint::Fill(1)]).block(block);
    frame.render_widget(table, rect);
}
