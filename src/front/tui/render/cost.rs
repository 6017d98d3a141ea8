//! The cost panel: dollars per hour, spent in the window, the cheapest alternative and where the
//! prices came from; full screen, the window's traffic priced on every model of the table.
use super::*;
use crate::model::compare::{CompareRow, Comparison};

pub(super) fn render_cost(frame: &mut Frame<'_>, area: Rect, app: &App, stale: bool, at: f64) {
    let (view, theme) = (&app.view, &app.theme);
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
    ];
    // The cheapest alternative for the same tokens, in one line.
    let cheapest = app.cost_comparison(at).and_then(|c| {
        let current = c.current().and_then(|r| r.usd_per_month);
        c.cheapest().cloned().map(|r| (r, current))
    });
    if let Some((row, current)) = cheapest {
        let saving = match (row.usd_per_month, current) {
            (Some(there), Some(here)) if here > 0.0 => {
                format!(" ({:+.0} %)", (there - here) / here * 100.0)
            }
            _ => String::new(),
        };
        lines.push(Line::from(vec![
            label("cheapest elsewhere".into()),
            Span::styled(
                format!(
                    "{} {}/mo{saving}",
                    row.model,
                    format::usd(row.usd_per_month)
                ),
                theme.text(),
            ),
        ]));
    }
    // The budget that runs out first, and when.
    if let Some(b) = app.budgets(at).first() {
        let left = match (b.remaining_usd, b.max_usd) {
            (Some(r), Some(m)) => format!("{} of {}", format::usd(Some(r)), format::usd(Some(m))),
            (Some(r), None) => format!("{} left", format::usd(Some(r))),
            (None, Some(m)) => format!("{} a month", format::usd(Some(m))),
            (None, None) => UNKNOWN.to_string(),
        };
        let when = match b.runs_out_in_seconds {
            Some(0.0) => "spent".to_string(),
            Some(s) => format!("out in {}", format::span(s)),
            None if b.scope == "monthly" || b.scope == "model" => "lasts the month".into(),
            None => "no spend to project".into(),
        };
        let style = match b.runs_out_in_seconds {
            Some(s) if s < 86_400.0 => Style::new().fg(theme.error),
            Some(s) if s < 7.0 * 86_400.0 => Style::new().fg(theme.warn),
            _ => theme.text(),
        };
        lines.push(Line::from(vec![
            label(format!("budget {}:{}", b.scope, b.name)),
            Span::styled(format!("{left} · {when}"), style),
        ]));
    }
    lines.push(Line::from(""));
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

/// The Cost panel on the whole screen: the window's traffic (or the selected model's) priced on
/// every model of the price table, cheapest first, the current mix marked, against a baseline.
pub(super) fn render_cost_comparison(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    stale: bool,
    now: f64,
) {
    let theme = &app.theme;
    let comparison = app.cost_comparison(now);
    let scope = match (app.cost_selected_only, app.selected_model_name()) {
        (true, Some(m)) => format!("{m}'s traffic "),
        _ => "all traffic ".to_string(),
    };
    let baseline = comparison
        .as_ref()
        .and_then(|c| c.baseline.clone())
        .unwrap_or_else(|| "–".into());
    let key = |a| app.keymap.first_label(a);
    let mut title = vec![
        Span::styled(format!("comparison · {scope}"), theme.text()),
        Span::styled(format!("· baseline {baseline} "), theme.dim()),
    ];
    // The keys fit in the title of a wide screen; the help lists them everywhere.
    if area.width >= 120 {
        title.push(Span::styled(
            format!(
                "· {} baseline · {} all/selected ",
                key(keymap::Action::CostBaseline),
                key(keymap::Action::CostScope)
            ),
            theme.dim(),
        ));
    }
    let block = panel(TITLE_COST, title, theme, stale);
    let Some(c) = comparison else {
        let text = "no tokens counted in the window yet: nothing to price";
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim())).block(block),
            area,
        );
        return;
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [head, table_area, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(c.volume.describe(), theme.text())),
        head,
    );
    // Under 120 columns: the model, its month, and how it compares; the rest full width.
    let wide = table_area.width >= 118;
    let name_width = c
        .rows
        .iter()
        .map(|r| r.model.chars().count() + 13)
        .max()
        .unwrap_or(14)
        .clamp(14, 60) as u16;
    let (titles, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "model",
                "provider",
                "$/hour",
                "$/month",
                "$/MTok",
                "× base",
                "savings",
                "Δ $/month",
                "price as of",
            ],
            vec![
                Constraint::Length(name_width),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(10),
                Constraint::Length(11),
                Constraint::Fill(2),
            ],
        )
    } else {
        (
            vec!["model", "$/month", "× base", "savings", "Δ $/month"],
            vec![
                Constraint::Fill(1),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(10),
            ],
        )
    };
    let header = Row::new(titles).style(theme.dim());
    let rows: Vec<Row> = c
        .rows
        .iter()
        .map(|r| comparison_row(r, &c, theme, wide))
        .collect();
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        table_area,
    );
    let hidden = c
        .rows
        .len()
        .saturating_sub(usize::from(table_area.height.saturating_sub(1)));
    let mut notes = vec![Span::styled("▸ where it runs now", theme.dim())];
    if hidden > 0 {
        notes.push(Span::styled(
            format!(" · {hidden} dearer rows below the screen"),
            theme.dim(),
        ));
    }
    if c.rows.iter().any(|r| r.estimate) {
        notes.push(Span::styled(
            " · ~ unsplit tokens at the output price",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(notes)), foot);
}

fn comparison_row<'a>(r: &CompareRow, c: &Comparison, theme: &Theme, wide: bool) -> Row<'a> {
    let is_baseline = c.baseline.as_deref() == Some(r.model.as_str());
    let name = match (r.current, is_baseline) {
        (true, _) => format!("▸ {}", r.model),
        (false, true) => format!("  {} (baseline)", r.model),
        (false, false) => format!("  {}", r.model),
    };
    let tilde = if r.estimate { "~" } else { "" };
    let cells = vec![
        name,
        r.provider.clone().unwrap_or_default(),
        format!("{}{tilde}", format::usd(r.usd_per_hour)),
        match r.usd_per_month {
            Some(m) => format!("{}{tilde}", format::usd(Some(m))),
            None => r.reason.clone().unwrap_or_else(|| UNKNOWN.into()),
        },
        format::usd(r.usd_per_mtok_blended),
        r.ratio_to_baseline
            .map_or_else(|| UNKNOWN.into(), |x| format!("{x:.2}×")),
        r.savings_percent
            .map_or_else(|| UNKNOWN.into(), |p| format!("{p:+.1} %")),
        r.savings_usd_per_month.map_or_else(
            || UNKNOWN.into(),
            // The change in the monthly bill of moving there: the opposite of the saving.
            |d| format::usd_change(-d),
        ),
        match (&r.price_as_of, r.price_possibly_stale) {
            _ if r.current && r.price_possibly_stale => "a price possibly stale".into(),
            _ if r.current => String::new(),
            (Some(d), true) => format!("{d} possibly stale"),
            (Some(d), false) => d.clone(),
            (None, _) => "undated".into(),
        },
    ];
    let style = if r.current {
        Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)
    } else {
        theme.text()
    };
    let cells: Vec<String> = if wide {
        cells
    } else {
        // model, $/month, × base, savings, Δ $/month
        [0, 3, 5, 6, 7].iter().map(|&i| cells[i].clone()).collect()
    };
    Row::new(cells).style(style)
}
