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
    /// Show every alert rule and where it stands.
    Alerts,
    /// Switch to the next built-in theme.
    CycleTheme,
    /// Freeze the display while collection goes on.
    Freeze,
    FocusNext,
    FocusPrev,
    /// Show the focused panel on the whole screen, or go back.
    Expand,
    /// Switch to the other page of the compact layout (terminals too short for every panel).
    NextPage,
    /// The cost comparison's baseline: the next row, cheapest first, then the current mix.
    CostBaseline,
    /// The cost comparison: all traffic, or only the selected model's.
    CostScope,
    Down,
    Up,
    /// First model; in `llmtop replay`, the recording's start.
    Top,
    /// Last model; in `llmtop replay`, the recording's end.
    Bottom,
    /// Replay: play or pause.
    ReplayPause,
    /// Replay: half the speed.
    ReplaySlower,
    /// Replay: double the speed.
    ReplayFaster,
    /// Replay: move the cursor back / forward by `SEEK_STEP` of the replay clock.
    SeekBack,
    SeekForward,
    /// Replay: move the cursor back / forward by one time window.
    SeekBackWindow,
    SeekForwardWindow,
}

/// Keys with a name, spelled as the config file spells them (the first name is the canonical one).
const NAMED: &[(&str, KeyCode)] = &[
    ("space", KeyCode::Char(' ')),
    ("esc", KeyCode::Esc),
    ("enter", KeyCode::Enter),
    ("tab", KeyCode::Tab),
    ("shift-tab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
];

/// Other spellings people write for the same keys.
const ALIASES: &[(&str, KeyCode)] = &[
    ("escape", KeyCode::Esc),
    ("return", KeyCode::Enter),
    ("backtab", KeyCode::BackTab),
    ("shift+tab", KeyCode::BackTab),
    ("del", KeyCode::Delete),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
];

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
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }

    /// How the key is written in the config file: `q`, `ctrl-c`, `esc`, `shift-tab`, `down`.
    pub fn spec(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("f{n}"),
            code => NAMED.iter().find(|(_, k)| *k == code).map_or_else(
                || format!("{code:?}").to_lowercase(),
                |(n, _)| n.to_string(),
            ),
        };
        if self.ctrl {
            format!("ctrl-{base}")
        } else {
            base
        }
    }

    /// Reads a key as the config file writes it. A single character stands for itself (`P` is
    /// Shift-p); names are case-insensitive; `ctrl-` and `shift-` prefixes are understood.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "cannot read key {spec:?}: give one character (\"q\", \"P\", \"?\"), \"ctrl-<char>\", \"shift-<letter>\", \"f1\"…\"f12\" or one of {}",
                NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        };
        let mut chars = spec.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return match c {
                '↑' => Ok(Self::code(KeyCode::Up)),
                '↓' => Ok(Self::code(KeyCode::Down)),
                '←' => Ok(Self::code(KeyCode::Left)),
                '→' => Ok(Self::code(KeyCode::Right)),
                c if c.is_whitespace() || c.is_control() => Err(bad()),
                c => Ok(Self::char(c)),
            };
        }
        let lower = spec.to_lowercase();
        let prefixed = |p: &str| -> Option<&str> {
            let head = spec.get(..p.len())?;
            let plus = p.replace('-', "+");
            (head.eq_ignore_ascii_case(p) || head.eq_ignore_ascii_case(&plus))
                .then(|| &spec[p.len()..])
        };
        if let Some(rest) = prefixed("ctrl-") {
            let mut chars = rest.chars();
            return match (chars.next(), chars.next()) {
                // Terminals send Ctrl with a letter as the lower-case letter plus CONTROL.
                (Some(c), None) if c.is_ascii_alphanumeric() => {
                    Ok(Self::ctrl(c.to_ascii_lowercase()))
                }
                _ if rest.eq_ignore_ascii_case("space") => Ok(Self::ctrl(' ')),
                _ => Err(bad()),
            };
        }
        if let Some(rest) = prefixed("shift-") {
            let mut chars = rest.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => {
                    Ok(Self::char(c.to_ascii_uppercase()))
                }
                _ if rest.eq_ignore_ascii_case("tab") => Ok(Self::code(KeyCode::BackTab)),
                _ => Err(bad()),
            };
        }
        if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
            && (1..=12).contains(&n)
        {
            return Ok(Self::code(KeyCode::F(n)));
        }
        NAMED
            .iter()
            .chain(ALIASES)
            .find(|(n, _)| *n == lower)
            .map(|(_, code)| Self::code(*code))
            .ok_or_else(bad)
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
///
/// Adding a binding: add an [`Action`] variant, handle it in `App::apply`, and add one row to
/// [`BINDINGS`] (name, default keys, help text, footer hint). The name is what `[keys]` in the
/// config file uses; the help overlay, the footer, the config template and the README check all
/// follow from the row.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The action's name in the config file's `[keys]` section (snake_case, unique).
    pub name: &'static str,
    /// The default keys.
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// One or two words for the footer; empty keeps the binding out of the footer.
    pub hint: &'static str,
}

/// The default key bindings, in the order help lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        name: "quit",
        keys: &[Key::char('q'), Key::ctrl('c')],
        action: Action::Quit,
        help: "quit",
        hint: "quit",
    },
    Binding {
        name: "help",
        keys: &[Key::char('?')],
        action: Action::ToggleHelp,
        help: "show or hide this help",
        hint: "help",
    },
    Binding {
        name: "close",
        keys: &[Key::code(KeyCode::Esc)],
        action: Action::CloseOverlay,
        help: "close the help overlay, a dialog or the full-screen panel",
        hint: "",
    },
    Binding {
        name: "probe",
        keys: &[Key::char('p')],
        action: Action::Probe,
        help: "send one probe prompt through the gateway, measure it",
        hint: "probe",
    },
    Binding {
        name: "edit_prompt",
        keys: &[Key::char('i')],
        action: Action::EditPrompt,
        help: "edit the probe prompt (Enter sends, Ctrl-J new line, Esc cancels)",
        hint: "prompt",
    },
    Binding {
        name: "pick_model",
        keys: &[Key::char('m')],
        action: Action::PickModel,
        help: "pick the probe model from the gateway's /v1/models, or type one",
        hint: "model",
    },
    Binding {
        name: "burst",
        keys: &[Key::char('b')],
        action: Action::Burst,
        help: "fire a burst of probes (--burst-size at --burst-concurrency)",
        hint: "burst",
    },
    Binding {
        name: "history",
        keys: &[Key::char('h')],
        action: Action::History,
        help: "probe history (↑/↓ scroll, Esc closes)",
        hint: "history",
    },
    Binding {
        name: "alerts",
        keys: &[Key::char('a')],
        action: Action::Alerts,
        help: "alerts: every rule, firing or pending since when, its value and threshold",
        // The status line names the key whenever a rule fires; the footer has no room to spare.
        hint: "",
    },
    Binding {
        name: "focus_next",
        keys: &[Key::code(KeyCode::Tab)],
        action: Action::FocusNext,
        help: "focus the next panel",
        hint: "",
    },
    Binding {
        name: "focus_prev",
        keys: &[Key::code(KeyCode::BackTab)],
        action: Action::FocusPrev,
        help: "focus the previous panel",
        hint: "",
    },
    Binding {
        name: "next_page",
        keys: &[Key::char('n')],
        action: Action::NextPage,
        help: "switch pages on a terminal under 34 rows: charts / tables, probe",
        hint: "",
    },
    Binding {
        name: "cost_baseline",
        keys: &[Key::char('B')],
        action: Action::CostBaseline,
        help: "cost comparison: next baseline (cheapest first, then the current mix)",
        hint: "",
    },
    Binding {
        name: "cost_scope",
        keys: &[Key::char('o')],
        action: Action::CostScope,
        help: "cost comparison: all traffic, or only the selected model's",
        hint: "",
    },
    Binding {
        name: "expand",
        keys: &[Key::code(KeyCode::Enter), Key::char('e')],
        action: Action::Expand,
        help: "show the focused panel full screen, or go back",
        hint: "expand",
    },
    Binding {
        name: "down",
        keys: &[Key::char('j'), Key::code(KeyCode::Down)],
        action: Action::Down,
        help: "next model in the table",
        hint: "",
    },
    Binding {
        name: "up",
        keys: &[Key::char('k'), Key::code(KeyCode::Up)],
        action: Action::Up,
        help: "previous model in the table",
        hint: "",
    },
    Binding {
        name: "top",
        keys: &[Key::char('g')],
        action: Action::Top,
        help: "first model in the table (in replay: go to the recording's start)",
        hint: "",
    },
    Binding {
        name: "bottom",
        keys: &[Key::char('G')],
        action: Action::Bottom,
        help: "last model in the table (in replay: go to the recording's end)",
        hint: "",
    },
    Binding {
        name: "freeze",
        keys: &[Key::char('f')],
        action: Action::Freeze,
        help: "freeze the display (data keeps being collected); f again to resume",
        hint: "freeze",
    },
    Binding {
        name: "theme",
        keys: &[Key::char('t')],
        action: Action::CycleTheme,
        help: "next colour theme (default, light, gruvbox, nord, high-contrast, mono)",
        hint: "theme",
    },
    Binding {
        name: "zoom_in",
        keys: &[Key::char('+')],
        action: Action::ZoomIn,
        help: "zoom in: shorter time window (down to 1 minute)",
        hint: "zoom",
    },
    Binding {
        name: "zoom_out",
        keys: &[Key::char('-')],
        action: Action::ZoomOut,
        help: "zoom out: longer time window (up to the history kept)",
        hint: "",
    },
    Binding {
        name: "zoom_reset",
        keys: &[Key::char('=')],
        action: Action::ZoomReset,
        help: "back to the starting time window",
        hint: "",
    },
    Binding {
        name: "filter",
        keys: &[Key::char('/')],
        action: Action::Filter,
        help: "filter models by name (Enter applies, Esc clears)",
        hint: "filter",
    },
    Binding {
        name: "sort",
        keys: &[Key::char('s')],
        action: Action::SortNext,
        help: "sort the model table (the Gateway panel when focused) by the next column",
        hint: "sort",
    },
    Binding {
        name: "sort_reverse",
        keys: &[Key::char('S')],
        action: Action::SortReverse,
        help: "reverse that table's sort order",
        hint: "",
    },
    Binding {
        name: "replay_pause",
        keys: &[Key::char(' ')],
        action: Action::ReplayPause,
        help: "replay: play or pause",
        hint: "",
    },
    Binding {
        name: "replay_slower",
        keys: &[Key::char('<')],
        action: Action::ReplaySlower,
        help: "replay: half the speed (down to ×1)",
        hint: "",
    },
    Binding {
        name: "replay_faster",
        keys: &[Key::char('>')],
        action: Action::ReplayFaster,
        help: "replay: double the speed (up to ×64)",
        hint: "",
    },
    Binding {
        name: "seek_back",
        keys: &[Key::code(KeyCode::Left)],
        action: Action::SeekBack,
        help: "replay: 10 s back",
        hint: "",
    },
    Binding {
        name: "seek_forward",
        keys: &[Key::code(KeyCode::Right)],
        action: Action::SeekForward,
        help: "replay: 10 s forward",
        hint: "",
    },
    Binding {
        name: "seek_back_window",
        keys: &[Key::code(KeyCode::PageUp)],
        action: Action::SeekBackWindow,
        help: "replay: one time window back",
        hint: "",
    },
    Binding {
        name: "seek_forward_window",
        keys: &[Key::code(KeyCode::PageDown)],
        action: Action::SeekForwardWindow,
        help: "replay: one time window forward",
        hint: "",
    },
];

/// The bindings in force: the default table with the config file's `[keys]` laid over it.
/// Rows stay in table order, so help and footer list actions where the table puts them.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    /// The keys of each row of [`BINDINGS`], same index.
    keys: Vec<Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self {
            keys: BINDINGS.iter().map(|b| b.keys.to_vec()).collect(),
        }
    }
}

/// One `action = keys` entry of the config file's `[keys]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebinding {
    pub action: String,
    pub keys: Vec<String>,
    /// Line in the config file, for error messages (1-based; 0 when unknown).
    pub line: usize,
}

impl Keymap {
    /// The default table with `rebindings` applied: each named action gets exactly the keys given
    /// (its defaults are dropped). Fails, naming the line and the key, on an unknown action, a key
    /// that cannot be read, an empty list, or a key that would end up bound to two actions.
    pub fn with_rebindings(rebindings: &[Rebinding]) -> Result<Self, String> {
        let mut map = Self::default();
        let mut rebound = vec![false; BINDINGS.len()];
        for r in rebindings {
            let at = if r.line > 0 {
                format!("line {}: ", r.line)
            } else {
                String::new()
            };
            let Some(row) = BINDINGS.iter().position(|b| b.name == r.action) else {
                let names: Vec<&str> = BINDINGS.iter().map(|b| b.name).collect();
                return Err(format!(
                    "{at}unknown action {:?} in [keys]; actions are: {}",
                    r.action,
                    names.join(", ")
                ));
            };
            if r.keys.is_empty() {
                return Err(format!(
                    "{at}{} = []: give at least one key (an action cannot be left without one)",
                    r.action
                ));
            }
            let mut keys = Vec::new();
            for spec in &r.keys {
                let key = Key::parse(spec).map_err(|e| format!("{at}{}: {e}", r.action))?;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            map.keys[row] = keys;
            rebound[row] = true;
        }
        // A key bound twice would silently do only the first action; refuse it instead.
        for (i, keys) in map.keys.iter().enumerate() {
            for key in keys {
                if let Some(j) = (i + 1..map.keys.len()).find(|&j| map.keys[j].contains(key)) {
                    let origin = |row: usize| {
                        if rebound[row] {
                            BINDINGS[row].name.to_string()
                        } else {
                            format!("{} (by default)", BINDINGS[row].name)
                        }
                    };
                    return Err(format!(
                        "[keys]: key {:?} is bound to both {} and {}; give one of them other keys",
                        key.spec(),
                        origin(i),
                        origin(j)
                    ));
                }
            }
        }
        Ok(map)
    }

    /// The action bound to a key press, if any.
    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        self.keys
            .iter()
            .position(|keys| keys.iter().any(|k| k.matches(event)))
            .map(|row| BINDINGS[row].action)
    }

    /// The keys bound to an action.
    pub fn keys_for(&self, action: Action) -> &[Key] {
        BINDINGS
            .iter()
            .position(|b| b.action == action)
            .map_or(&[], |row| &self.keys[row])
    }

    /// The first key of an action, as people read it, for hints such as "press p".
    pub fn first_label(&self, action: Action) -> String {
        self.keys_for(action)
            .first()
            .map(Key::label)
            .unwrap_or_default()
    }

    /// `(keys, description)` rows for the help overlay, in table order.
    pub fn help_rows(&self) -> Vec<(String, &'static str)> {
        BINDINGS
            .iter()
            .zip(&self.keys)
            .map(|(b, keys)| {
                let keys: Vec<String> = keys.iter().map(Key::label).collect();
                (keys.join(" / "), b.help)
            })
            .collect()
    }

    /// `(keys, hint)` pairs for the footer.
    pub fn footer_hints(&self) -> Vec<(String, &'static str)> {
        BINDINGS
            .iter()
            .zip(&self.keys)
            .filter(|(b, _)| !b.hint.is_empty())
            .map(|(b, keys)| {
                let keys: Vec<String> = keys.iter().map(Key::label).collect();
                (keys.join("/"), b.hint)
            })
            .collect()
    }

    /// The `[keys]` section of the config template: every action with its default keys, commented.
    pub fn template() -> String {
        let mut out = String::new();
        for b in BINDINGS {
            let keys: Vec<String> = b.keys.iter().map(|k| format!("{:?}", k.spec())).collect();
            let value = if keys.len() == 1 {
                keys[0].clone()
            } else {
                format!("[{}]", keys.join(", "))
            };
            let entry = format!("{} = {value}", b.name);
            out.push_str(&format!("# {entry:<32} # {}\n", b.help));
        }
        out
    }
}

/// The action the default table binds to a key press, if any.
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    Keymap::default().action_for(event)
}

/// `(keys, description)` rows of the default table, for the README's key list.
pub fn help_rows() -> Vec<(String, &'static str)> {
    Keymap::default().help_rows()
}

/// `(keys, hint)` pairs of the default table.
pub fn footer_hints() -> Vec<(String, &'static str)> {
    Keymap::default().footer_hints()
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

    fn rebind(action: &str, keys: &[&str]) -> Rebinding {
        Rebinding {
            action: action.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            line: 7,
        }
    }

    #[test]
    fn keys_parse_as_the_config_writes_them() {
        let cases = [
            ("q", Key::char('q')),
            ("P", Key::char('P')),
            ("?", Key::char('?')),
            ("ctrl-c", Key::ctrl('c')),
            ("Ctrl-C", Key::ctrl('c')),
            ("ctrl+x", Key::ctrl('x')),
            ("shift-g", Key::char('G')),
            ("shift-tab", Key::code(KeyCode::BackTab)),
            ("Esc", Key::code(KeyCode::Esc)),
            ("escape", Key::code(KeyCode::Esc)),
            ("space", Key::char(' ')),
            ("PageDown", Key::code(KeyCode::PageDown)),
            ("left", Key::code(KeyCode::Left)),
            ("←", Key::code(KeyCode::Left)),
            ("f5", Key::code(KeyCode::F(5))),
        ];
        for (spec, key) in cases {
            assert_eq!(Key::parse(spec), Ok(key), "{spec}");
        }
        for bad in [
            "", " ", "ctrl-", "ctrl-??", "alt-x", "f13", "hyper", "shift-1",
        ] {
            let err = Key::parse(bad).unwrap_err();
            assert!(err.contains(&format!("cannot read key {bad:?}")), "{err}");
        }
    }

    #[test]
    fn every_default_key_round_trips_through_its_config_spelling() {
        for b in BINDINGS {
            for k in b.keys {
                assert_eq!(Key::parse(&k.spec()), Ok(*k), "{}", k.spec());
                assert_eq!(Key::parse(&k.label()), Ok(*k), "{}", k.label());
            }
        }
    }

    #[test]
    fn action_names_are_unique_snake_case() {
        for (i, b) in BINDINGS.iter().enumerate() {
            assert!(
                b.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                b.name
            );
            assert!(
                BINDINGS[i + 1..].iter().all(|o| o.name != b.name),
                "{} named twice",
                b.name
            );
            assert!(
                BINDINGS[i + 1..].iter().all(|o| o.action != b.action),
                "{:?} has two rows",
                b.action
            );
        }
    }

    #[test]
    fn rebinding_replaces_an_actions_keys() {
        let map =
            Keymap::with_rebindings(&[rebind("quit", &["Q", "ctrl-q"]), rebind("probe", &["P"])])
                .unwrap();
        let key = |c: char, m: KeyModifiers| KeyEvent::new(KeyCode::Char(c), m);
        assert_eq!(
            map.action_for(&key('Q', KeyModifiers::SHIFT)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&key('q', KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(map.action_for(&key('q', KeyModifiers::NONE)), None);
        assert_eq!(map.action_for(&key('c', KeyModifiers::CONTROL)), None);
        assert_eq!(
            map.action_for(&key('P', KeyModifiers::SHIFT)),
            Some(Action::Probe)
        );
        assert_eq!(map.action_for(&key('p', KeyModifiers::NONE)), None);
        // Untouched actions keep their defaults.
        assert_eq!(
            map.action_for(&key('f', KeyModifiers::NONE)),
            Some(Action::Freeze)
        );
        let rows = map.help_rows();
        assert_eq!(rows[0], ("Q / Ctrl-Q".to_string(), "quit"));
        assert!(map.footer_hints().contains(&("P".to_string(), "probe")));
        assert_eq!(map.first_label(Action::Probe), "P");
        assert_eq!(map.help_rows().len(), BINDINGS.len());
    }

    #[test]
    fn bad_rebindings_are_refused_with_the_line_and_key() {
        let err = Keymap::with_rebindings(&[rebind("probee", &["x"])]).unwrap_err();
        assert!(
            err.starts_with(
                "line 7: unknown action \"probee\" in [keys]; actions are: quit, help,"
            ),
            "{err}"
        );
        let err = Keymap::with_rebindings(&[rebind("probe", &["ctrl-"])]).unwrap_err();
        assert!(
            err.starts_with("line 7: probe: cannot read key \"ctrl-\""),
            "{err}"
        );
        let err = Keymap::with_rebindings(&[rebind("probe", &[])]).unwrap_err();
        assert!(
            err.starts_with("line 7: probe = []: give at least one key"),
            "{err}"
        );
        // q stays quit's by default: binding it to probe as well is a conflict.
        let err = Keymap::with_rebindings(&[rebind("probe", &["q"])]).unwrap_err();
        assert_eq!(
            err,
            "[keys]: key \"q\" is bound to both quit (by default) and probe; give one of them other keys"
        );
        let err = Keymap::with_rebindings(&[rebind("freeze", &["x"]), rebind("probe", &["x"])])
            .unwrap_err();
        assert!(
            err.contains("key \"x\" is bound to both probe and freeze"),
            "{err}"
        );
        // Moving quit off q frees it for probe.
        assert!(
            Keymap::with_rebindings(&[rebind("quit", &["ctrl-c"]), rebind("probe", &["q"])])
                .is_ok()
        );
    }

    #[test]
    fn the_template_lists_every_action_with_its_default_keys() {
        let t = Keymap::template();
        assert_eq!(t.lines().count(), BINDINGS.len());
        assert!(t.starts_with("# quit = [\"q\", \"ctrl-c\"]"), "{t}");
        assert!(t.contains("# focus_prev = \"shift-tab\""), "{t}");
        assert!(t.contains("# down = [\"j\", \"down\"]"), "{t}");
    }

    #[test]
    fn readme_key_table_matches_the_bindings() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let table = readme
            .split_once("| key | action |\n|---|---|\n")
            .map(|(_, rest)| rest)
            .expect("README.md has the key table");
        let listed: Vec<&str> = table.lines().take_while(|l| l.starts_with("| `")).collect();
        let expected: Vec<String> = help_rows()
            .into_iter()
            .map(|(keys, help)| format!("| `{keys}` | {help} |"))
            .collect();
        assert_eq!(
            listed, expected,
            "README.md's key table differs from BINDINGS (paste the expected rows)"
        );
    }
}
