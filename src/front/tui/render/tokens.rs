//! The tokens-by-model panel: a pie (braille canvas, or ASCII) with its legend.
use super::*;

pub(super) fn render_tokens(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &DashboardView,
    theme: &Theme,
    stale: bool,
) {
    let total: f64 = view.tokens_by_model.iter().map(|m| m.tokens).sum();
    let extra = vec![Span::styled(
        format!(
            "{} tok in {} ",
            format::compact(total),
            format::window(view.window)
        ),
        theme.dim(),
    )];
    let block = panel(TITLE_TOKENS, extra, theme, stale);
    let no_tokens = [
        Signal::TokensTotal,
        Signal::TokensInput,
        Signal::TokensOutput,
    ]
    .iter()
    .all(|s| view.missing.contains(s));
    if no_tokens {
        return no_source(frame, area, block, "token counts", view, theme);
    }
    if view.tokens_by_model.is_empty() || total <= 0.0 {
        return waiting(frame, area, block, view, theme);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let pie_width = (inner.height * 2).min(inner.width * 2 / 5);
    let [pie_area, legend_area] =
        Layout::horizontal([Constraint::Length(pie_width), Constraint::Fill(1)]).areas(inner);
    let slices = pie_slices(view, theme);
    if theme.ascii {
        render_ascii_pie(frame, pie_area, &slices);
    } else {
        render_pie(frame, pie_area, &slices);
    }
    let mut rows: Vec<Line<'_>> = Vec::new();
    for (i, (name, tokens, color)) in slices.iter().enumerate() {
        let share = tokens / total;
        let swatch = if theme.ascii {
            format!(" {} ", ASCII_SLICES[i % ASCII_SLICES.len()])
        } else {
            " ■ ".to_string()
        };
        let mut spans = vec![
            Span::styled(swatch, Style::new().fg(*color)),
            Span::styled(
                format!("{:>5.1}% ", share * 100.0),
                theme.text().add_modifier(Modifier::BOLD),
            ),
        ];
        // Token counts only where the model name still fits beside them.
        if legend_area.width as usize >= 16 + name.chars().count() {
            spans.push(Span::styled(
                format!("{:>6} ", format::compact(*tokens)),
                theme.dim(),
            ));
        }
        spans.push(Span::styled(name.clone(), theme.text()));
        rows.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(rows), legend_area);
}

/// The largest models get their own slice; the rest share one.
pub(super) fn pie_slices(view: &DashboardView, theme: &Theme) -> Vec<(String, f64, Color)> {
    const MAX_SLICES: usize = 7;
    let mut out = Vec::new();
    for (i, m) in view.tokens_by_model.iter().enumerate() {
        let name = if m.model == ALL_MODELS {
            "all models".to_string()
        } else {
            m.model.clone()
        };
        if i < MAX_SLICES {
            out.push((name, m.tokens, theme.slice(i)));
        } else if let Some(last) = out.get_mut(MAX_SLICES) {
            last.1 += m.tokens;
        } else {
            out.push(("other".to_string(), m.tokens, theme.dim));
        }
    }
    out
}

/// Which slice a point of the unit disc belongs to, clockwise from twelve o'clock like every pie
/// a person has seen; `None` outside the disc.
pub(super) fn slice_at(x: f64, y: f64, bounds: &[f64]) -> Option<usize> {
    if x * x + y * y > 1.0 {
        return None;
    }
    let turn = x.atan2(y).rem_euclid(TAU) / TAU;
    Some(
        bounds
            .iter()
            .position(|b| turn <= *b)
            .unwrap_or(bounds.len().saturating_sub(1)),
    )
}

/// Cumulative shares of the slices, ending at 1.
pub(super) fn slice_bounds(slices: &[(String, f64, Color)]) -> Vec<f64> {
    let total: f64 = slices.iter().map(|s| s.1).sum();
    slices
        .iter()
        .scan(0.0, |acc, s| {
            *acc += s.1 / total;
            Some(*acc)
        })
        .collect()
}

/// The pie with one ASCII character per cell, a different character per slice.
pub(super) fn render_ascii_pie(frame: &mut Frame<'_>, area: Rect, slices: &[(String, f64, Color)]) {
    if area.width < 2 || area.height < 2 || slices.is_empty() {
        return;
    }
    let bounds = slice_bounds(slices);
    let buffer = frame.buffer_mut();
    for j in 0..area.height {
        for i in 0..area.width {
            let x = -1.0 + (f64::from(i) + 0.5) * 2.0 / f64::from(area.width);
            // Rows run top to bottom; the disc's y runs up.
            let y = 1.0 - (f64::from(j) + 0.5) * 2.0 / f64::from(area.height);
            if let Some(slice) = slice_at(x, y, &bounds) {
                let mark = ASCII_SLICES[slice % ASCII_SLICES.len()];
                buffer[(area.x + i, area.y + j)]
                    .set_char(mark)
                    .set_fg(slices[slice].2);
            }
        }
    }
}

pub(super) fn render_pie(frame: &mut Frame<'_>, area: Rect, slices: &[(String, f64, Color)]) {
    if area.width < 2 || area.height < 2 {
        return;
    }
    // Braille gives 2×4 dots per cell; a cell is about twice as tall as wide.
    let dots_x = area.width as usize * 2;
    let dots_y = area.height as usize * 4;
    let mut points: Vec<Vec<(f64, f64)>> = vec![Vec::new(); slices.len()];
    let bounds = slice_bounds(slices);
    for j in 0..dots_y {
        for i in 0..dots_x {
            let x = -1.0 + (i as f64 + 0.5) * 2.0 / dots_x as f64;
            let y = -1.0 + (j as f64 + 0.5) * 2.0 / dots_y as f64;
            if let Some(slice) = slice_at(x, y, &bounds) {
                points[slice].push((x, y));
            }
        }
    }
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([-1.0, 1.0])
        .y_bounds([-1.0, 1.0])
        .paint(move |ctx| {
            for (coords, slice) in points.iter().zip(slices) {
                ctx.draw(&Points {
                    coords,
                    color: slice.2,
                });
            }
        });
    frame.render_widget(canvas, area);
}
