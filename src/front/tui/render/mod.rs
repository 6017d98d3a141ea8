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
use crate::base::keymap;
use crate::base::signal::Signal;
use crate::front::tui::app::{
    App, BurstState, Modal, Page, Panel, ProbeState, ProbeSummary, ScreenLayout,
};
use crate::front::tui::theme::Theme;
use crate::model::stats::CostSource;
use crate::model::table::SortColumn;
use crate::model::view::DashboardView;

mod cost;
mod errors;
mod footer;
mod gateway;
mod help;
mod latency;
mod models;
mod overlays;
mod probe;
mod requests;
mod status;
mod tokens;

use cost::*;
use errors::*;
use footer::*;
use gateway::*;
use help::*;
use latency::*;
use models::*;
use overlays::*;
use probe::*;
use requests::*;
use status::*;
use tokens::*;

/// Smallest terminal the dashboard draws into; below it a message says what is needed.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;
pub use crate::front::tui::app::COMPACT_HEIGHT;
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
pub const TITLE_GATEWAY: &str = "Gateway";

/// How many time columns the charts and heatmap get for a terminal this wide.
pub fn chart_columns(width: u16) -> usize {
    let latency_inner = (width / 2).saturating_sub(2);
    latency_inner
        .saturating_sub(LATENCY_FIGURES_WIDTH + HEATMAP_LABEL_WIDTH)
        .max(10) as usize
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
    let stale = view.is_stale(now);
    let page = (area.height < COMPACT_HEIGHT).then(|| app.focus.page());
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
        // One panel on the screen: no page to name.
        render_footer(frame, footer, app, None, wall);
        render_overlays(frame, area, app, now);
        return ScreenLayout {
            model_rows: (app.focus == Panel::Models).then(|| model_rows(body, app)),
            panels: vec![(app.focus, body)],
            page,
        };
    }
    let [status, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let places = match page {
        None => every_panel(body, app),
        Some(Page::Traffic) => traffic_page(body),
        Some(Page::Detail) => detail_page(body, app),
    };
    render_status(frame, status, app, stale, now);
    for &(panel, rect) in &places {
        render_panel(frame, panel, rect, app, stale, now);
    }
    if let Some((_, rect)) = places.iter().find(|(p, _)| *p == app.focus) {
        highlight_border(frame, *rect, theme);
    }
    render_footer(frame, footer, app, page, wall);
    render_overlays(frame, area, app, now);
    let model_rows = places
        .iter()
        .find(|(p, _)| *p == Panel::Models)
        .map(|(_, r)| model_rows(*r, app));
    ScreenLayout {
        panels: places,
        model_rows,
        page,
    }
}

/// The charts: request rate and latency over tokens, errors and cost.
fn chart_rows(top: Rect, middle: Rect) -> [(Panel, Rect); 5] {
    let [requests, latency] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [tokens, errors, cost] = Layout::horizontal([
        Constraint::Percentage(36),
        Constraint::Percentage(30),
        Constraint::Percentage(34),
    ])
    .areas(middle);
    [
        (Panel::Requests, requests),
        (Panel::Latency, latency),
        (Panel::Tokens, tokens),
        (Panel::Errors, errors),
        (Panel::Cost, cost),
    ]
}

/// A table's height for its rows (border and header included), within `most`.
fn table_height(rows: usize, most: u16) -> u16 {
    (rows.max(1) as u16).saturating_add(3).min(most).max(4)
}

/// The whole dashboard on one screen: charts, then the tables, then the probe.
fn every_panel(body: Rect, app: &App) -> Vec<(Panel, Rect)> {
    let probe_height = if body.height >= 48 { 8 } else { 6 };
    // The tables grow with their rows, within a share of the screen that keeps the charts.
    let rows = app.view.models.len().max(app.view.upstreams.len());
    let tables = table_height(rows, (body.height + 2) / 4);
    let [top, middle, table, probe] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(tables),
        Constraint::Length(probe_height),
    ])
    .areas(body);
    let mut places = chart_rows(top, middle).to_vec();
    if app.view.upstreams.is_empty() {
        places.push((Panel::Models, table));
    } else {
        // A routing gateway's upstreams share the table's row, beside the models.
        let [models, gateway] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(table);
        places.push((Panel::Models, models));
        places.push((Panel::Gateway, gateway));
    }
    places.push((Panel::Probe, probe));
    places
}

/// Page one of the compact layout: the charts with the whole height.
fn traffic_page(body: Rect) -> Vec<(Panel, Rect)> {
    let [top, middle] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(body);
    chart_rows(top, middle).to_vec()
}

/// Page two of the compact layout: the model table, the Gateway panel (below it, or beside it
/// on a wide terminal), each as tall as its rows, and the probe with the rest for its answer.
fn detail_page(body: Rect, app: &App) -> Vec<(Panel, Rect)> {
    const PROBE_LEAST: u16 = 5;
    let tables = body.height.saturating_sub(PROBE_LEAST);
    let (models, upstreams) = (app.view.models.len(), app.view.upstreams.len());
    let stacked = upstreams > 0 && body.width < 120;
    let (models_height, gateway_height) = if stacked {
        // Its rows have no header above them.
        let gateway = (upstreams as u16).saturating_add(2).min(tables / 2).max(3);
        (table_height(models, tables - gateway), gateway)
    } else {
        (table_height(models.max(upstreams), tables), 0)
    };
    let [models_row, gateway_row, probe] = Layout::vertical([
        Constraint::Length(models_height),
        Constraint::Length(gateway_height),
        Constraint::Fill(1),
    ])
    .areas(body);
    let mut places = Vec::with_capacity(3);
    if upstreams == 0 {
        places.push((Panel::Models, models_row));
    } else if stacked {
        places.push((Panel::Models, models_row));
        places.push((Panel::Gateway, gateway_row));
    } else {
        let [models, gateway] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(models_row);
        places.push((Panel::Models, models));
        places.push((Panel::Gateway, gateway));
    }
    places.push((Panel::Probe, probe));
    places
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

fn render_overlays(frame: &mut Frame<'_>, area: Rect, app: &App, now: f64) {
    let theme = &app.theme;
    match &app.modal {
        Modal::Alerts { scroll } => render_alerts(frame, area, app, *scroll, now),
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
        Panel::Cost if app.expanded => render_cost_comparison(frame, rect, app, stale, now),
        Panel::Cost => render_cost(frame, rect, app, stale, now),
        Panel::Models => render_models(frame, rect, app, stale),
        Panel::Gateway => render_gateway(frame, rect, app, stale),
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

fn axis_labels(window: f64) -> Vec<Line<'static>> {
    vec![
        Line::from(format!("-{}", format::window(window))),
        Line::from(format!("-{}", format::window(window / 2.0))),
        Line::from("now"),
    ]
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
