//! The latency panel: p50/p95/p99 and TTFT figures beside the latency heatmap.
use super::*;

pub(super) fn render_latency(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    // The verdicts lead the title, in words (never colour alone), so any size shows them.
    let sat = &view.saturation;
    let mut extra = Vec::new();
    for (on, word) in [(sat.saturated, "SATURATED "), (sat.stalled, "STALLED ")] {
        if on {
            extra.push(Span::styled(
                word,
                Style::new().fg(theme.error).add_modifier(Modifier::BOLD),
            ));
        }
    }
    extra.push(Span::styled("heatmap · quantiles ", theme.dim()));
    let block = panel(TITLE_LATENCY, extra, theme, stale);
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
    let value = |v: Option<f64>, at_least: bool, c: Color| {
        Span::styled(
            format!("{:>9}", format::quantile_seconds(v, at_least)),
            Style::new().fg(c).add_modifier(Modifier::BOLD),
        )
    };
    // Too short for latency and TTFT one under the other (an 80×24 terminal): one table with a
    // column each, so TTFT stays on screen.
    let tall_rows = 8 + usize::from(view.in_flight.is_some()) + usize::from(view.queued.is_some());
    if usize::from(figures_area.height) < tall_rows {
        let lat_missing = view.missing.contains(&Signal::LatencySeconds);
        let ttft_missing = view.missing.contains(&Signal::TtftSeconds);
        let cell = |v: Option<f64>, at_least: bool, missing: bool, c: Color| {
            let text = if missing {
                UNKNOWN.to_string()
            } else {
                format::quantile_seconds(v, at_least)
            };
            Span::styled(
                format!("{text:>8}"),
                Style::new().fg(c).add_modifier(Modifier::BOLD),
            )
        };
        let mut lines = vec![Line::from(label("     latency    TTFT"))];
        for (name, (lv, la), (tv, ta), c) in [
            (
                " p50",
                (q.p50, q.p50_at_least),
                (t.p50, t.p50_at_least),
                theme.p50,
            ),
            (
                " p95",
                (q.p95, q.p95_at_least),
                (t.p95, t.p95_at_least),
                theme.p95,
            ),
            (
                " p99",
                (q.p99, q.p99_at_least),
                (t.p99, t.p99_at_least),
                theme.p99,
            ),
        ] {
            lines.push(Line::from(vec![
                label(name),
                cell(lv, la, lat_missing, c),
                cell(tv, ta, ttft_missing, c),
            ]));
        }
        frame.render_widget(Paragraph::new(lines), figures_area);
        render_latency_chart(frame, heat_area, view, theme);
        return;
    }
    let mut lines = vec![Line::from(label(" latency"))];
    if view.missing.contains(&Signal::LatencySeconds) {
        lines.push(Line::from(label("  not exported")));
    } else {
        lines.push(Line::from(vec![
            label("  p50 "),
            value(q.p50, q.p50_at_least, theme.p50),
        ]));
        lines.push(Line::from(vec![
            label("  p95 "),
            value(q.p95, q.p95_at_least, theme.p95),
        ]));
        lines.push(Line::from(vec![
            label("  p99 "),
            value(q.p99, q.p99_at_least, theme.p99),
        ]));
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
        lines.push(Line::from(vec![
            label("  p50 "),
            value(t.p50, t.p50_at_least, theme.p50),
        ]));
        lines.push(Line::from(vec![
            label("  p95 "),
            value(t.p95, t.p95_at_least, theme.p95),
        ]));
        lines.push(Line::from(vec![
            label("  p99 "),
            value(t.p99, t.p99_at_least, theme.p99),
        ]));
    }
    let mut gauges = Vec::new();
    if let Some(v) = view.in_flight {
        gauges.push(format!("in flight {}", format::compact(v)));
    }
    if let Some(v) = view.queued {
        gauges.push(format!("queued {}", format::compact(v)));
    }
    if let Some(kv) = sat.kv_cache_usage {
        gauges.push(format!("KV cache {}", format::percent(Some(kv))));
    }
    if let Some(p95) = sat.queue_time_seconds.p95 {
        let shown = format::quantile_seconds(Some(p95), sat.queue_time_seconds.p95_at_least);
        gauges.push(format!("queue p95 {shown}"));
    }
    if let Some(p) = sat.preemptions_per_second {
        gauges.push(format!("preempt {}/s", format::compact(p)));
    }
    for g in gauges {
        lines.push(Line::from(Span::styled(format!(" {g}"), theme.text())));
    }
    frame.render_widget(Paragraph::new(lines), figures_area);
    render_latency_chart(frame, heat_area, view, theme);
}

/// The heatmap, or what stands in for it before there is one.
fn render_latency_chart(
    frame: &mut Frame<'_>,
    heat_area: Rect,
    view: &DashboardView,
    theme: &Theme,
) {
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

pub(super) fn render_heatmap(
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
