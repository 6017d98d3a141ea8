//! The status line: target, dialect, scrape health, freshness and the badges that must not be cut.
use super::*;
use crate::model::upstream::UpstreamState;

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
    // Firing alerts right after, before anything a narrow terminal may cut off.
    let firing: Vec<&crate::model::alert_board::Entry> = app.alerts.firing().collect();
    if let Some(worst) = app.alerts.worst() {
        let colour = match worst {
            crate::model::alert::Severity::Critical => theme.error,
            crate::model::alert::Severity::Warning => theme.warn,
        };
        let key = app.keymap.first_label(keymap::Action::Alerts);
        let text = match firing.as_slice() {
            [one] => format!(" ALERT {} ({key}) ", one.name),
            many => format!(" {} ALERTS ({key}) ", many.len()),
        };
        spans.push(badge(text, colour));
        spans.push(Span::styled(" ", base));
    }
    // An 80-column terminal needs the room for the badges after the target: there the target
    // loses `http://` and its usual /metrics path, and the dialect its label.
    let narrow = area.width < 100;
    let url = if narrow {
        short_target(&s.url)
    } else {
        s.url.as_str()
    };
    spans.push(Span::styled(format!("{url} "), base));
    spans.push(Span::styled("│ ", base.fg(theme.dim)));
    let dialect = s.dialect.as_deref().unwrap_or("?");
    spans.push(Span::styled(
        if narrow {
            format!("{dialect} ")
        } else {
            format!("dialect {dialect} ")
        },
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
    // The verdicts of panels a paged or expanded screen may not show.
    let down = app
        .view
        .upstreams
        .iter()
        .filter(|u| u.state == UpstreamState::Down)
        .count();
    let verdicts = [
        (
            down > 0,
            format!(" {down} UPSTREAM{} DOWN ", if down == 1 { "" } else { "S" }),
            theme.error,
        ),
        (
            app.view.saturation.saturated,
            " SATURATED ".into(),
            theme.warn,
        ),
        (app.view.saturation.stalled, " STALLED ".into(), theme.error),
    ];
    for (on, word, colour) in verdicts {
        if on {
            spans.push(Span::raw(" "));
            spans.push(badge(word, colour));
        }
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

/// A target as an 80-column status line shows it: `http://127.0.0.1:4000/metrics` is
/// `127.0.0.1:4000`, `https://gw:4000/metrics` is `https://gw:4000`; any other path stays, as
/// does anything that is not a URL.
fn short_target(url: &str) -> &str {
    // `https://` stays: whether the link is encrypted is worth its eight columns.
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let host = rest.strip_prefix("https://").unwrap_or(rest);
    match rest.strip_suffix("/metrics") {
        Some(shorter) if host.matches('/').count() == 1 => shorter,
        _ => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::short_target;

    #[test]
    fn a_short_target_drops_http_and_a_bare_metrics_path_only() {
        assert_eq!(
            short_target("http://127.0.0.1:4000/metrics"),
            "127.0.0.1:4000"
        );
        assert_eq!(short_target("https://gw:4000/metrics"), "https://gw:4000");
        assert_eq!(
            short_target("https://gw.internal/v1/metrics"),
            "https://gw.internal/v1/metrics"
        );
        assert_eq!(
            short_target("http://h:9090/api/v1/query"),
            "h:9090/api/v1/query"
        );
        assert_eq!(short_target("demo"), "demo");
        assert_eq!(short_target("fleet of 3"), "fleet of 3");
    }
}
