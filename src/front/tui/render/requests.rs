//! The request-rate panel: ok and error requests per second over the window.
use super::*;

pub(super) fn render_requests(
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
