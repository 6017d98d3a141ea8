//! The model table (or, in fleet mode, the instance table): sortable columns that drop as it narrows.
use super::*;

pub(super) fn render_models(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool) {
    let theme = &app.theme;
    let view = &app.view;
    let order = if app.sort_descending { "↓" } else { "↑" };
    let mut extra = vec![Span::styled(
        format!("sorted by {} {order} ", sort_label(app.sort)),
        theme.dim(),
    )];
    if let Some(f) = &view.filter {
        extra.push(Span::styled(
            format!("filter /{f} ({} match) ", view.filter_matches),
            Style::new().fg(theme.warn),
        ));
    }
    // Fleet mode lists instances here (Enter drills into one); drilled, the instance's models.
    let instances = view
        .fleet
        .as_ref()
        .is_some_and(|f| f.table_lists_instances());
    if let Some(f) = view.fleet.as_ref() {
        if let Some(d) = &f.drilled {
            extra.push(Span::styled(format!("{d} · Esc: fleet "), theme.dim()));
        } else if !f.errors.is_empty() {
            extra.push(Span::styled(
                format!("{} ", f.errors.join("; ")),
                Style::new().fg(theme.error),
            ));
        }
    }
    let title = if instances {
        TITLE_INSTANCES
    } else {
        TITLE_MODELS
    };
    let block = panel(title, extra, theme, stale);
    let rows_data = crate::model::table::table_order(&view.models, app.sort, app.sort_descending);
    let header_style = theme.dim().add_modifier(Modifier::BOLD);
    // Columns in the order they are dropped last-first as the table narrows; the model name
    // keeps at least MODEL_MIN cells, because a row without its name means nothing.
    const MODEL_MIN: u16 = 18;
    const WIDTHS: [u16; 10] = [0, 7, 8, 9, 9, 9, 9, 9, 10, 9];
    const PRIORITY: [usize; 9] = [1, 2, 4, 9, 3, 5, 6, 7, 8];
    const HEADERS: [&str; 10] = [
        "model",
        "req/s",
        "err %",
        "p50",
        "p95",
        "p99",
        "TTFT p95",
        "tok/s in",
        "tok/s out",
        "$/h",
    ];
    let inner_width = area.width.saturating_sub(2);
    let mut budget = inner_width.saturating_sub(MODEL_MIN);
    let mut shown = vec![0usize];
    for col in PRIORITY {
        // Each column also costs the one-cell gap the table puts between columns.
        if budget > WIDTHS[col] {
            budget -= WIDTHS[col] + 1;
            shown.push(col);
        }
    }
    shown.sort_unstable();
    let header = Row::new(shown.iter().map(|&i| {
        let style = if SortColumn::ALL[i] == app.sort {
            header_style.fg(theme.accent)
        } else {
            header_style
        };
        let name = if i == 0 && instances {
            "instance"
        } else {
            HEADERS[i]
        };
        Span::styled(name, style)
    }));
    let selected = (app.focus == Panel::Models).then_some(app.selected_model);
    let (_, first) = model_rows(area, app);
    let rows: Vec<Row<'_>> = rows_data
        .iter()
        .enumerate()
        .skip(first)
        .map(|(index, m)| {
            let f = &m.figures;
            let err_style = match f.error_ratio {
                Some(r) if r >= 0.05 => Style::new().fg(theme.error),
                Some(r) if r >= 0.01 => Style::new().fg(theme.warn),
                _ => theme.text(),
            };
            let cell = |i: usize| -> Span<'static> {
                match i {
                    0 => Span::styled(m.model.clone(), theme.text()),
                    1 => Span::styled(
                        format::compact_or_unknown(f.requests_per_second),
                        theme.text(),
                    ),
                    2 => Span::styled(format::percent(f.error_ratio), err_style),
                    3 => Span::styled(
                        format::quantile_seconds(
                            f.latency_seconds.p50,
                            f.latency_seconds.p50_at_least,
                        ),
                        Style::new().fg(theme.p50),
                    ),
                    4 => Span::styled(
                        format::quantile_seconds(
                            f.latency_seconds.p95,
                            f.latency_seconds.p95_at_least,
                        ),
                        Style::new().fg(theme.p95),
                    ),
                    5 => Span::styled(
                        format::quantile_seconds(
                            f.latency_seconds.p99,
                            f.latency_seconds.p99_at_least,
                        ),
                        Style::new().fg(theme.p99),
                    ),
                    6 => Span::styled(
                        format::quantile_seconds(f.ttft_seconds.p95, f.ttft_seconds.p95_at_least),
                        theme.text(),
                    ),
                    7 => Span::styled(
                        format::compact_or_unknown(f.tokens_per_second.input),
                        theme.text(),
                    ),
                    8 => Span::styled(
                        format::compact_or_unknown(f.tokens_per_second.output),
                        theme.text(),
                    ),
                    _ => Span::styled(
                        format::usd(f.cost_usd_per_hour),
                        Style::new().fg(theme.accent),
                    ),
                }
            };
            let row = Row::new(shown.iter().map(|&i| cell(i)).collect::<Vec<_>>());
            if selected == Some(index) {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    if rows.is_empty() {
        let text = match &view.filter {
            Some(f) => format!(
                "no model matches /{f} — press {} then Esc to clear",
                app.keymap.first_label(keymap::Action::Filter)
            ),
            None => "no per-model data yet".to_string(),
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()).block(block), area);
        return;
    }
    let widths: Vec<Constraint> = shown
        .iter()
        .map(|&i| {
            if i == 0 {
                Constraint::Min(MODEL_MIN)
            } else {
                Constraint::Length(WIDTHS[i])
            }
        })
        .collect();
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

pub(super) fn sort_label(column: SortColumn) -> &'static str {
    match column {
        SortColumn::Model => "model",
        SortColumn::Requests => "req/s",
        SortColumn::ErrorRatio => "error %",
        SortColumn::P50 => "p50",
        SortColumn::P95 => "p95",
        SortColumn::P99 => "p99",
        SortColumn::TtftP95 => "TTFT p95",
        SortColumn::TokensIn => "tokens in",
        SortColumn::TokensOut => "tokens out",
        SortColumn::Cost => "$/h",
    }
}
