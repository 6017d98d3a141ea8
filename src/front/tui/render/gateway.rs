//! The Gateway panel: one row per upstream deployment behind a routing gateway — its state as a
//! word, answers per second, error share, cooldowns, where its traffic fell back to, and the
//! rate-limit headroom — the worst first, or as the sort keys order it while it has the focus.
//! Full screen, each row gets its answers per second over the window beneath it. Drawn only
//! where the gateway exports upstreams.
use super::*;
use crate::model::upstream::{Upstream, UpstreamSort, UpstreamState};

/// Eight levels of a sparkline, lowest first; the ASCII theme's stand-ins.
const SPARKS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
const ASCII_SPARKS: [&str; 8] = ["_", ".", "-", "~", "=", "+", "*", "#"];

/// One upstream's answers per second across the window, scaled to its own peak, failures in
/// the error colour; `width` cells (the history resampled onto them).
fn history_line(u: &Upstream, indent: usize, width: usize, theme: &Theme) -> Line<'static> {
    let sparks = if theme.ascii { ASCII_SPARKS } else { SPARKS };
    let n = u.history.len();
    let peak = u.history.iter().copied().fold(0.0_f64, f64::max);
    let mut spans = vec![Span::raw(" ".repeat(indent))];
    if n == 0 || width == 0 {
        return Line::from(spans);
    }
    for x in 0..width {
        let i = x * n / width;
        let v = u.history[i];
        let failed = u.error_history.get(i).copied().unwrap_or(0.0);
        if v <= 0.0 || peak <= 0.0 {
            spans.push(Span::styled(" ", theme.dim()));
            continue;
        }
        let level = ((v / peak * 8.0).ceil() as usize).clamp(1, 8) - 1;
        let style = if failed * 2.0 >= v {
            Style::new().fg(theme.error)
        } else if failed > 0.0 {
            Style::new().fg(theme.warn)
        } else {
            Style::new().fg(theme.ok)
        };
        spans.push(Span::styled(sparks[level], style));
    }
    spans.push(Span::styled(
        format!(" peak {}", format::rate(Some(peak))),
        theme.dim(),
    ));
    Line::from(spans)
}

/// `99/100 rpm`, `79k/80k tpm`, or what is known of it.
fn headroom(remaining: Option<f64>, limit: Option<f64>, unit: &str) -> Option<String> {
    match (remaining, limit) {
        (None, None) => None,
        (r, l) => Some(format!("{}/{} {unit}", format::count(r), format::count(l))),
    }
}

/// `100%`, `12%`, `0.4%`: the error share in at most four characters.
fn share(ratio: Option<f64>) -> String {
    match ratio {
        None => UNKNOWN.to_string(),
        Some(r) if r * 100.0 >= 10.0 => format!("{:.0}%", r * 100.0),
        Some(r) => format!("{:.1}%", r * 100.0),
    }
}

/// One deployment: state, name, answers/s and error share, then what only matters when present:
/// where its traffic fell back to, cooldowns, and the rate-limit headroom.
fn row(u: &Upstream, name_width: usize, theme: &Theme) -> Line<'static> {
    let state_style = match u.state {
        UpstreamState::Down => Style::new().fg(theme.error).add_modifier(Modifier::BOLD),
        UpstreamState::Degraded => Style::new().fg(theme.warn).add_modifier(Modifier::BOLD),
        UpstreamState::Healthy => Style::new().fg(theme.ok),
        UpstreamState::Unknown => theme.dim(),
    };
    let mut spans = vec![
        Span::styled(format!(" {:<8} ", u.state.word()), state_style),
        Span::styled(format!("{:<name_width$} ", u.name), theme.text()),
        Span::styled(
            format!(
                "{:>7} {:>5}",
                format::rate(u.requests_per_second),
                share(u.error_ratio)
            ),
            theme.text(),
        ),
    ];
    if let Some(f) = u.fallbacks_per_second {
        spans.push(Span::styled(
            format!(
                " → {} {}",
                u.fallback_targets.join(", "),
                format::rate(Some(f))
            ),
            Style::new().fg(theme.warn),
        ));
    }
    if let Some(c) = u.cooldowns.filter(|c| *c > 0.0) {
        spans.push(Span::styled(
            format!(" cooldown {c:.0}"),
            Style::new().fg(theme.warn),
        ));
    }
    for h in [
        headroom(u.remaining_requests, u.rpm_limit, "rpm"),
        headroom(u.remaining_tokens, u.tpm_limit, "tpm"),
    ]
    .into_iter()
    .flatten()
    {
        spans.push(Span::styled(format!(" {h}"), theme.dim()));
    }
    Line::from(spans)
}

pub(super) fn render_gateway(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool) {
    let (view, theme) = (&app.view, &app.theme);
    let down = view
        .upstreams
        .iter()
        .filter(|u| u.state == UpstreamState::Down)
        .count();
    let mut extra = if down > 0 {
        vec![Span::styled(
            format!("{down} down "),
            Style::new().fg(theme.error).add_modifier(Modifier::BOLD),
        )]
    } else {
        vec![Span::styled("upstreams ", theme.dim())]
    };
    let sorted_by_hand = app.gateway_sort != UpstreamSort::default() || app.gateway_sort_reversed;
    if sorted_by_hand || app.focus == Panel::Gateway {
        let order = if app.gateway_sort_reversed {
            "↑"
        } else {
            "↓"
        };
        extra.push(Span::styled(
            format!("sorted by {} {order} ", app.gateway_sort.label()),
            theme.dim(),
        ));
    }
    let block = panel(TITLE_GATEWAY, extra, theme, stale);
    let name_width = view
        .upstreams
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let mut rows = view.upstreams.clone();
    app.gateway_sort.sort(&mut rows, app.gateway_sort_reversed);
    let full_screen = app.expanded && app.focus == Panel::Gateway;
    let inner_width = usize::from(block.inner(area).width);
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(rows.len() * 2 + 1);
    for u in &rows {
        lines.push(row(u, name_width, theme));
        if full_screen {
            // Under the name, as wide as the panel leaves after the peak label.
            let indent = 10;
            let width = inner_width.saturating_sub(indent + 16);
            lines.push(history_line(u, indent, width, theme));
        }
    }
    if full_screen {
        lines.push(Line::from(Span::styled(
            format!(
                " answers/s over the last {}, each row scaled to its own peak; red where half failed",
                format::window(view.window)
            ),
            theme.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
