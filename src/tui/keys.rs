//! Key bindings as data: one table drives input handling, the `?` overlay and the README's key list.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask the dashboard to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseOverlay,
    Probe,
    ZoomIn,
    ZoomOut,
    ZoomReset,
    /// Start typing a model filter.
    Filter,
    /// Sort the model table by the next column.
    SortNext,
    /// Flip the model table's sort order.
    SortReverse,
    /// Open the prompt editor.
    EditPrompt,
    /// Pick the probe model from the gateway's list.
    PickModel,
    /// Fire a burst of probes.
    Burst,
    /// Show the probe history.
    History,
    /// Switch to the next built-in theme.
    CycleTheme,
    /// Freeze the display while collection goes on.
    Freeze,
    FocusNext,
    FocusPrev,
    /// Show the focused panel on the whole screen, or go back.
    Expand,
    Down,
    Up,
    Top,
    Bottom,
}

/// One key as written in the table and the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    const fn char(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }
    const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }
    const fn code(code: KeyCode) -> Self {
        Self { code, ctrl: false }
    }

    /// How the key is written for people: `q`, `Ctrl-C`, `Esc`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }

    fn matches(&self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        match (self.code, event.code) {
            // Terminals report letters with Shift as the upper-case char; compare as sent.
            (KeyCode::Char(a), KeyCode::Char(b)) => a == b && ctrl == self.ctrl,
            (a, b) => a == b && ctrl == self.ctrl,
        }
    }
}

/// One row of the binding table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// One or two words for the footer; empty keeps the binding out of the footer.
    pub hint: &'static str,
}

/// The default key bindings, in the order help lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::char('q'), Key::ctrl('c')],
        action: Action::Quit,
        help: "quit",
        hint: "quit",
    },
    Binding {
        keys: &[Key::char('?')],
        action: Action::ToggleHelp,
        help: "show or hide this help",
        hint: "help",
    },
    Binding {
        keys: &[Key::code(KeyCode::Esc)],
        action: Action::CloseOverlay,
        help: "close the help overlay, a dialog or the full-screen panel",
        hint: "",
    },
    Binding {
        keys: &[Key::char('p')],
        action: Action::Probe,
        help: "send one probe prompt through the gateway, measure it",
        hint: "probe",
    },
    Binding {
        keys: &[Key::char('i')],
        action: Action::EditPrompt,
        help: "edit the probe prompt (Enter sends, Ctrl-J new line, Esc cancels)",
        hint: "prompt",
    },
    Binding {
        keys: &[Key::char('m')],
        action: Action::PickModel,
        help: "pick the probe model from the gateway's /v1/models, or type one",
        hint: "model",
    },
    Binding {
        keys: &[Key::char('b')],
        action: Action::Burst,
        help: "fire a burst of probes (--burst-size at --burst-concurrency)",
        hint: "burst",
    },
    Binding {
        keys: &[Key::char('h')],
        action: Action::History,
        help: "probe history (↑/↓ scroll, Esc closes)",
        hint: "history",
    },
    Binding {
        keys: &[Key::code(KeyCode::Tab)],
        action: Action::FocusNext,
        help: "focus the next panel",
        hint: "",
    },
    Binding {
        keys: &[Key::code(KeyCode::BackTab)],
        action: Action::FocusPrev,
        help: "focus the previous panel",
        hint: "",
    },
    Binding {
        keys: &[Key::code(KeyCode::Enter), Key::char('e')],
        action: Action::Expand,
        help: "show the focused panel full screen, or go back",
        hint: "expand",
    },
    Binding {
        keys: &[Key::char('j'), Key::code(KeyCode::Down)],
        action: Action::Down,
        help: "next model in the table",
        hint: "",
    },
    Binding {
        keys: &[Key::char('k'), Key::code(KeyCode::Up)],
        action: Action::Up,
        help: "previous model in the table",
        hint: "",
    },
    Binding {
        keys: &[Key::char('g')],
        action: Action::Top,
        help: "first model in the table",
        hint: "",
    },
    Binding {
        keys: &[Key::char('G')],
        action: Action::Bottom,
        help: "last model in the table",
        hint: "",
    },
    Binding {
        keys: &[Key::char('f')],
        action: Action::Freeze,
        help: "freeze the display (data keeps being collected); f again to resume",
        hint: "freeze",
    },
    Binding {
        keys: &[Key::char('t')],
        action: Action::CycleTheme,
        help: "next colour theme (default, light, gruvbox, nord, high-contrast, mono)",
        hint: "theme",
    },
    Binding {
        keys: &[Key::char('+')],
        action: Action::ZoomIn,
        help: "zoom in: shorter time window (down to 1 minute)",
        hint: "zoom",
    },
    Binding {
        keys: &[Key::char('-')],
        action: Action::ZoomOut,
        help: "zoom out: longer time window (up to the history kept)",
        hint: "",
    },
    Binding {
        keys: &[Key::char('=')],
        action: Action::ZoomReset,
        help: "back to the starting time window",
        hint: "",
    },
    Binding {
        keys: &[Key::char('/')],
        action: Action::Filter,
        help: "filter models by name (Enter applies, Esc clears)",
        hint: "filter",
    },
    Binding {
        keys: &[Key::char('s')],
        action: Action::SortNext,
        help: "sort the model table by the next column",
        hint: "sort",
    },
    Binding {
        keys: &[Key::char('S')],
        action: Action::SortReverse,
        help: "reverse the model table's sort order",
        hint: "",
    },
];

/// The action bound to a key press, if any.
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.action)
}

/// `(keys, description)` rows for the help overlay and the README, generated from the table.
pub fn help_rows() -> Vec<(String, &'static str)> {
    BINDINGS
        .iter()
        .map(|b| {
            let keys: Vec<String> = b.keys.iter().map(Key::label).collect();
            (keys.join(" / "), b.help)
        })
        .collect()
}

/// `(keys, hint)` pairs for the footer, generated from the table.
pub fn footer_hints() -> Vec<(String, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| !b.hint.is_empty())
        .map(|b| {
            let keys: Vec<String> = b.keys.iter().map(Key::label).collect();
            (keys.join("/"), b.hint)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quit_keys() {
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let plain_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(action_for(&q), Some(Action::Quit));
        assert_eq!(action_for(&ctrl_c), Some(Action::Quit));
        assert_eq!(action_for(&plain_c), None);
    }

    #[test]
    fn shifted_symbols_still_match() {
        let plus = KeyEvent::new(KeyCode::Char('+'), KeyModifiers::SHIFT);
        let help = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(action_for(&plus), Some(Action::ZoomIn));
        assert_eq!(action_for(&help), Some(Action::ToggleHelp));
    }

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, k) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(k), "{} bound twice", k.label());
        }
    }

    #[test]
    fn readme_key_table_matches_the_bindings() {
        let readme = include_str!("../../README.md");
        for (keys, help) in help_rows() {
            let row = format!("| `{keys}` | {help} |");
            assert!(readme.contains(&row), "README.md lacks the key row: {row}");
        }
    }
}
