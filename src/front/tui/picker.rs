//! The first-run picker: the LLM servers discovery found on this machine, one line each with
//! what it is; arrow keys (or j/k) choose, Enter attaches, `s` keeps it as a named target of the
//! config file, q or Esc leaves.
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::front::tui::theme::Theme;
use crate::io::discover::Found;

/// Draws the list with `selected` highlighted.
pub fn render(
    frame: &mut ratatui::Frame<'_>,
    found: &[Found],
    selected: usize,
    message: Option<&str>,
    theme: &Theme,
) {
    let area = frame.area();
    let [head, list, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " llmtop ",
                Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    "found {} LLM servers on this machine: pick one",
                    found.len()
                ),
                theme.text(),
            ),
        ])),
        head,
    );
    let block = Block::bordered().border_style(theme.dim());
    let inner = block.inner(list);
    frame.render_widget(block, list);
    let mut lines = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let (url, what) = (&f.url, f.summary());
        let style = if i == selected {
            Style::new()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            theme.text()
        };
        let mark = if i == selected { "▸ " } else { "  " };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark}{url}"), style),
            Span::styled(format!("  {what}"), theme.dim()),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            height: inner.height,
            ..inner
        },
    );
    let footer = match message {
        Some(m) => Span::styled(format!(" {m}"), Style::new().fg(theme.warn)),
        None => Span::styled(
            " ↑/↓ choose · Enter attach · s save as a [[target]] · q/Esc leave",
            theme.dim(),
        ),
    };
    frame.render_widget(Paragraph::new(footer), foot);
}

/// Shows the picker until Enter (the index chosen) or q / Esc / Ctrl-C (`None`). The terminal
/// is restored on every way out.
///
/// `save` keeps the highlighted server in the config file and says where (or why not).
pub fn pick(
    found: &[Found],
    theme: &Theme,
    save: &dyn Fn(&Found) -> Result<String, String>,
) -> anyhow::Result<Option<usize>> {
    let mut terminal = ratatui::try_init()?;
    let outcome = (|| -> anyhow::Result<Option<usize>> {
        let mut selected = 0usize;
        let mut message: Option<String> = None;
        loop {
            terminal.draw(|f| render(f, found, selected, message.as_deref(), theme))?;
            let Event::Key(key) = event::read()? else {
                continue;
            };
            if key.kind != KeyEventKind::Press {
                continue;
            }
            // Any other key puts the key hints back.
            message = None;
            match key.code {
                KeyCode::Enter => return Ok(Some(selected)),
                KeyCode::Esc | KeyCode::Char('q') => return Ok(None),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(None);
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    selected = (selected + 1).min(found.len().saturating_sub(1));
                }
                KeyCode::Up | KeyCode::Char('k') => selected = selected.saturating_sub(1),
                KeyCode::Char('s') => {
                    message = found.get(selected).map(|f| match save(f) {
                        Ok(done) => done,
                        Err(why) => format!("not saved: {why}"),
                    });
                    continue;
                }
                _ => {}
            }
        }
    })();
    ratatui::restore();
    outcome
}
