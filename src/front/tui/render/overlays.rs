//! Dialogs and overlays drawn over the panels: the prompt editor, the model picker, the burst confirmation, the probe history, the alerts.
use super::*;

/// A centred box of at most `width`×`height`, cleared, with a titled border.
pub(super) fn dialog<'a>(
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

pub(super) fn render_editor(frame: &mut Frame<'_>, area: Rect, text: &str, theme: &Theme) {
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

pub(super) fn render_picker(frame: &mut Frame<'_>, area: Rect, app: &App) {
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

pub(super) fn render_confirm(frame: &mut Frame<'_>, area: Rect, app: &App) {
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

pub(super) fn render_history(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: usize) {
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

/// `HH:MM:SS` UTC of a unix time.
fn clock_time(t: f64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0)
        .map_or_else(|| "?".into(), |d| d.format("%H:%M:%S").to_string())
}

pub(super) fn render_alerts(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: usize, now: f64) {
    use crate::model::alert::{Severity, Unit, show_value};
    use crate::model::alert_board::Phase;
    let theme = &app.theme;
    let board = &app.alerts;
    let firing = board.firing().count();
    let title = match (board.recorded, firing) {
        (true, n) => format!("Alerts as recorded: {n} firing"),
        (false, 0) => "Alerts: none firing".to_string(),
        (false, n) => format!("Alerts: {n} firing"),
    };
    let (rect, block) = dialog(
        frame,
        area,
        area.width.saturating_sub(4).min(140),
        (board.entries.len().max(1) as u16 + 2).min(area.height.saturating_sub(4)),
        &title,
        theme,
    );
    let block = block.title_bottom(Line::from(Span::styled(
        " ↑/↓ j/k scroll · g/G ends · Esc closes ",
        theme.dim(),
    )));
    if board.is_empty() {
        frame.render_widget(
            Paragraph::new(if board.recorded {
                "the recording holds no alert changes up to here"
            } else {
                "no alert rules: alert_defaults = false and no [[alert]] in the config file"
            })
            .style(theme.dim())
            .block(block),
            rect,
        );
        return;
    }
    let name_width = board
        .entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let expr_width = board
        .entries
        .iter()
        .map(|e| e.expr.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    let lines: Vec<Line<'_>> = board
        .entries
        .iter()
        .skip(scroll)
        .map(|e| {
            let severity_colour = match e.severity {
                Severity::Critical => theme.error,
                Severity::Warning => theme.warn,
            };
            let (state, state_style) = match e.phase {
                Phase::Firing { .. } => (
                    "FIRING ",
                    Style::new()
                        .fg(severity_colour)
                        .add_modifier(Modifier::BOLD),
                ),
                Phase::Pending { .. } => ("PENDING", Style::new().fg(theme.warn)),
                Phase::Ok => ("OK     ", Style::new().fg(theme.ok)),
                Phase::Unknown => ("N/A    ", theme.dim()),
            };
            let value = match (e.value, e.unit) {
                (_, Unit::Condition) => String::new(),
                (Some(v), unit) => {
                    let limit = e
                        .threshold
                        .map(|l| format!(" (limit {})", show_value(unit, l)))
                        .unwrap_or_default();
                    format!("{}{limit}", show_value(unit, v))
                }
                (None, _) if e.phase == Phase::Unknown => "not measured here".to_string(),
                (None, _) => String::new(),
            };
            let when = match e.phase {
                Phase::Firing { since } => format!(
                    "since {} ({})",
                    clock_time(since),
                    format::seconds(Some((now - since).max(0.0)))
                ),
                Phase::Pending { since } => format!(
                    "holding {} of {}",
                    format::seconds(Some((now - since).max(0.0))),
                    format::seconds(Some(e.for_seconds))
                ),
                _ => String::new(),
            };
            let subject = e
                .subject
                .as_deref()
                .map(|s| format!("  {s}"))
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!(" {state} "), state_style),
                Span::styled(
                    format!("{:<8} ", e.severity.as_str()),
                    Style::new().fg(severity_colour),
                ),
                Span::styled(
                    format!("{:<name_width$.name_width$} ", e.name),
                    theme.text(),
                ),
                Span::styled(format!("{:<expr_width$.expr_width$} ", e.expr), theme.dim()),
                Span::styled(format!("{value:<24} "), theme.text()),
                Span::styled(when, theme.text()),
                Span::styled(subject, theme.dim()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
