//! The cost panel: dollars per hour, spent in the window, and where the prices came from.
use super::*;

pub(super) fn render_cost(
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
