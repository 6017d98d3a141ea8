//! The `?` overlay: every binding from the key table, scrolling on short terminals.
use super::*;

pub(super) fn render_help(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let (theme, scroll) = (&app.theme, app.help_scroll);
    // The keys in force, rebound ones included.
    let all_rows = app.keymap.help_rows();
    let total = all_rows.len();
    // On a short terminal the list scrolls (j/k or arrows) instead of being cut.
    let room = area.height.saturating_sub(4) as usize;
    let first = scroll.min(total.saturating_sub(room.max(1)));
    let rows_data: Vec<_> = all_rows.into_iter().skip(first).collect();
    let more = first + room < total;
    let width = 96.min(area.width.saturating_sub(4));
    let height = (rows_data.len() as u16 + 6).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let rows: Vec<Row<'_>> = rows_data
        .into_iter()
        .map(|(keys, help)| {
            Row::new(vec![
                Span::styled(
                    keys,
                    Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
                ),
                Span::styled(help, theme.text()),
            ])
        })
        .collect();
    let block = bordered(theme)
        .title(Line::from(Span::styled(" Help — keys ", theme.title())))
        .title_bottom(Line::from(Span::styled(
            {
                let key = |a| app.keymap.first_label(a);
                let close = format!(
                    "{} or {} closes",
                    key(keymap::Action::ToggleHelp),
                    key(keymap::Action::CloseOverlay)
                );
                if more || first > 0 {
                    let (down, up) = (key(keymap::Action::Down), key(keymap::Action::Up));
                    format!(" {down}/{up} scroll · {close} ")
                } else {
                    format!(" {close} ")
                }
            },
            theme.dim(),
        )))
        .border_style(Style::new().fg(theme.accent))
        .style(Style::new().bg(theme.help_bg));
    let table = Table::new(rows, [Constraint::Length(14), Constraint::Fill(1)]).block(block);
    frame.render_widget(table, rect);
}
