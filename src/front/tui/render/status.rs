//! The status line: target, dialect, scrape health, freshness and the badges that must not be cut.
use super::*;

pub(super) fn render_status(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool, now: f64) {
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
