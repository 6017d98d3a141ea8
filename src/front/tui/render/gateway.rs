//! The Gateway panel: one row per upstream deployment behind a routing gateway — its state as a
//! word, answers per second, error share, cooldowns, where its traffic fell back to, and the
//! rate-limit headroom — the worst first. Drawn only where the gateway exports upstreams.
use super::*;
use crate::model::upstream::{Upstream, UpstreamState};

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

pub(super) fn render_gateway(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let down = view
        .upstreams
        .iter()
        .filter(|u| u.state == UpstreamState::Down)
        .count();
    let extra = if down > 0 {
        vec![Span::styled(
            format!("{down} down "),
            Style::new().fg(theme.error).add_modifier(Modifier::BOLD),
        )]
    } else {
        vec![Span::styled("upstreams ", theme.dim())]
    };
    let block = panel(TITLE_GATEWAY, extra, theme, stale);
    let name_width = view
        .upstreams
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let lines: Vec<Line<'static>> = view
        .upstreams
        .iter()
        .map(|u| row(u, name_width, theme))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
