//! The error-rate panel: the big number and its sparkline.
use super::*;

pub(super) fn render_errors(
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
