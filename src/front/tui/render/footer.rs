//! The footer: the notice of the moment, or the keys that matter now.
use super::*;

pub(super) fn render_footer(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    page: Option<Page>,
    now: f64,
) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    if let Some(input) = &app.filter_input {
        spans.push(Span::styled(
            " filter models: /",
            Style::new().fg(theme.key).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!("{input}▏"), theme.text()));
        spans.push(Span::styled("  Enter apply · Esc clear", theme.dim()));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let key_style = Style::new().fg(theme.key).add_modifier(Modifier::BOLD);
    // First, so a narrow terminal cannot cut them off: the page and the notice of the moment.
    if let Some(page) = page {
        let key = app.keymap.first_label(keymap::Action::NextPage);
        spans.push(Span::styled(format!(" {key} "), key_style));
        spans.push(Span::styled(
            format!("page {}/{} {} ", page.number(), Page::COUNT, page.label()),
            theme.text(),
        ));
    }
    if let Some((text, until)) = &app.notice
        && now < *until
    {
        spans.push(Span::styled(
            format!(" {text} │"),
            Style::new().fg(theme.warn),
        ));
    }
    for (keys, short) in app.keymap.footer_hints() {
        spans.push(Span::styled(format!(" {keys} "), key_style));
        spans.push(Span::styled(format!("{short} "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
