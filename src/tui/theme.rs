//! Colour themes as data: every colour the UI draws with is a named item of a TOML theme.
use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const DEFAULT_THEME: &str = include_str!("../../themes/default.toml");

/// The themes shipped in `themes/`, embedded in the binary, in the order `t` cycles them.
pub const BUILTIN: [(&str, &str); 6] = [
    ("default", DEFAULT_THEME),
    ("light", include_str!("../../themes/light.toml")),
    ("gruvbox", include_str!("../../themes/gruvbox.toml")),
    ("nord", include_str!("../../themes/nord.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// Every item a theme defines, in the order the documentation lists them.
pub const ITEMS: [&str; 31] = [
    "text",
    "dim",
    "border",
    "title",
    "accent",
    "ok",
    "error",
    "warn",
    "stale",
    "status_bg",
    "status_fg",
    "badge_fg",
    "p50",
    "p95",
    "p99",
    "heat_1",
    "heat_2",
    "heat_3",
    "heat_4",
    "heat_5",
    "heat_6",
    "slice_1",
    "slice_2",
    "slice_3",
    "slice_4",
    "slice_5",
    "slice_6",
    "slice_7",
    "slice_8",
    "help_bg",
    "key",
];

#[derive(Debug, Deserialize)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    items: BTreeMap<String, String>,
}

/// Resolved colours, one field per theme item.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Color,
    pub dim: Color,
    pub border: Color,
    pub title: Color,
    pub accent: Color,
    pub ok: Color,
    pub error: Color,
    pub warn: Color,
    pub stale: Color,
    pub status_bg: Color,
    pub status_fg: Color,
    pub badge_fg: Color,
    pub p50: Color,
    pub p95: Color,
    pub p99: Color,
    pub heat: [Color; 6],
    pub slices: [Color; 8],
    pub help_bg: Color,
    pub key: Color,
}

fn parse_color(item: &str, text: &str) -> anyhow::Result<Color> {
    Color::from_str(text.trim()).map_err(|_| {
        anyhow::anyhow!("theme item {item} = {text:?} is not a colour (name, 0-255 or #rrggbb)")
    })
}

impl Theme {
    /// Parses a theme file; every item must be present and valid.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        let file: ThemeFile = toml::from_str(text)?;
        let get = |item: &str| -> anyhow::Result<Color> {
            let value = file
                .items
                .get(item)
                .ok_or_else(|| anyhow::anyhow!("theme {} lacks item {item}", file.name))?;
            parse_color(item, value)
        };
        if let Some(unknown) = file.items.keys().find(|k| !ITEMS.contains(&k.as_str())) {
            anyhow::bail!("theme {}: unknown item {unknown}", file.name);
        }
        Ok(Self {
            name: file.name.clone(),
            text: get("text")?,
            dim: get("dim")?,
            border: get("border")?,
            title: get("title")?,
            accent: get("accent")?,
            ok: get("ok")?,
            error: get("error")?,
            warn: get("warn")?,
            stale: get("stale")?,
            status_bg: get("status_bg")?,
            status_fg: get("status_fg")?,
            badge_fg: get("badge_fg")?,
            p50: get("p50")?,
            p95: get("p95")?,
            p99: get("p99")?,
            heat: [
                get("heat_1")?,
                get("heat_2")?,
                get("heat_3")?,
                get("heat_4")?,
                get("heat_5")?,
                get("heat_6")?,
            ],
            slices: [
                get("slice_1")?,
                get("slice_2")?,
                get("slice_3")?,
                get("slice_4")?,
                get("slice_5")?,
                get("slice_6")?,
                get("slice_7")?,
                get("slice_8")?,
            ],
            help_bg: get("help_bg")?,
            key: get("key")?,
        })
    }

    /// A user theme: only the items it names change; the rest come from the default theme.
    pub fn from_toml_over_default(text: &str) -> anyhow::Result<Self> {
        let user: ThemeFile = toml::from_str(text)?;
        let mut base: ThemeFile = toml::from_str(DEFAULT_THEME)?;
        base.name = user.name;
        base.items.extend(user.items);
        let merged = toml::to_string(&toml::Table::from_iter([
            ("name".to_string(), toml::Value::String(base.name)),
            (
                "items".to_string(),
                toml::Value::Table(
                    base.items
                        .into_iter()
                        .map(|(k, v)| (k, toml::Value::String(v)))
                        .collect(),
                ),
            ),
        ]))?;
        Self::from_toml_str(&merged)
    }

    /// A built-in theme by name, or a theme file by path (which may override only some items).
    pub fn load(name_or_path: &str) -> anyhow::Result<Self> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_toml_str(text);
        }
        let path = std::path::Path::new(name_or_path);
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read theme {}: {e}", path.display()))?;
            return Self::from_toml_over_default(&text)
                .map_err(|e| anyhow::anyhow!("theme {}: {e:#}", path.display()));
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        anyhow::bail!(
            "no theme {name_or_path:?}: built-ins are {}, or give a path to a .toml file",
            names.join(", ")
        )
    }

    /// The built-in theme after `name` in cycling order.
    pub fn next_builtin(name: &str) -> Self {
        let i = BUILTIN
            .iter()
            .position(|(n, _)| *n == name)
            .map_or(0, |i| i + 1);
        let (_, text) = BUILTIN[i % BUILTIN.len()];
        Self::from_toml_str(text).unwrap_or_else(|_| Self::fallback())
    }

    /// The built-in dark theme.
    pub fn builtin_default() -> Self {
        match Self::from_toml_str(DEFAULT_THEME) {
            Ok(t) => t,
            // Unreachable with the shipped file (a unit test parses it); keep the UI usable anyway.
            Err(_) => Self::fallback(),
        }
    }

    fn fallback() -> Self {
        Self {
            name: "fallback".into(),
            text: Color::Reset,
            dim: Color::DarkGray,
            border: Color::DarkGray,
            title: Color::Reset,
            accent: Color::Cyan,
            ok: Color::Green,
            error: Color::Red,
            warn: Color::Yellow,
            stale: Color::Red,
            status_bg: Color::Reset,
            status_fg: Color::Reset,
            badge_fg: Color::Black,
            p50: Color::Green,
            p95: Color::Yellow,
            p99: Color::Red,
            heat: [
                Color::Blue,
                Color::Cyan,
                Color::Green,
                Color::Yellow,
                Color::LightRed,
                Color::Red,
            ],
            slices: [
                Color::Blue,
                Color::Yellow,
                Color::Green,
                Color::Red,
                Color::Cyan,
                Color::Magenta,
                Color::LightBlue,
                Color::Gray,
            ],
            help_bg: Color::Reset,
            key: Color::Cyan,
        }
    }

    pub fn text(&self) -> Style {
        Style::new().fg(self.text)
    }
    pub fn dim(&self) -> Style {
        Style::new().fg(self.dim)
    }
    pub fn title(&self) -> Style {
        Style::new().fg(self.title).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        Style::new().fg(self.border)
    }
    pub fn slice(&self, i: usize) -> Color {
        self.slices[i % self.slices.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_theme_defines_every_item() {
        let theme = Theme::from_toml_str(DEFAULT_THEME).unwrap();
        assert_eq!(theme.name, "default");
        assert_eq!(theme.heat[0], Color::Rgb(0x12, 0x32, 0x5a));
        assert_eq!(theme.ok, Color::Green);
    }

    #[test]
    fn every_shipped_theme_defines_every_item() {
        for (name, text) in BUILTIN {
            let file: ThemeFile = toml::from_str(text).unwrap();
            assert_eq!(file.name, name);
            for item in ITEMS {
                assert!(file.items.contains_key(item), "theme {name} lacks {item}");
            }
            assert_eq!(
                file.items.len(),
                ITEMS.len(),
                "theme {name} has unknown items"
            );
            Theme::from_toml_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let mono = Theme::load("mono").unwrap();
        assert_eq!(mono.ok, Color::Reset);
        assert_eq!(mono.heat[5], Color::Reset);
    }

    #[test]
    fn a_user_theme_may_override_only_some_items() {
        let t =
            Theme::from_toml_over_default("name = \"mine\"\n[items]\nok = \"#00ff00\"\n").unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(t.ok, Color::Rgb(0, 255, 0));
        assert_eq!(t.error, Theme::builtin_default().error);
        let err = Theme::load("no-such-theme").unwrap_err().to_string();
        assert!(
            err.contains("built-ins are default, light, gruvbox, nord, high-contrast, mono"),
            "{err}"
        );
    }

    #[test]
    fn t_cycles_through_every_builtin() {
        let mut name = "default".to_string();
        let mut seen = vec![];
        for _ in 0..BUILTIN.len() {
            name = Theme::next_builtin(&name).name;
            seen.push(name.clone());
        }
        assert_eq!(
            seen,
            [
                "light",
                "gruvbox",
                "nord",
                "high-contrast",
                "mono",
                "default"
            ]
        );
    }

    #[test]
    fn a_missing_or_bad_item_is_named() {
        let err = Theme::from_toml_str("name = \"x\"\n[items]\ntext = \"gray\"\n").unwrap_err();
        assert!(err.to_string().contains("lacks item"), "{err}");
        let bad = DEFAULT_THEME.replace("ok = \"green\"", "ok = \"greenish\"");
        let err = Theme::from_toml_str(&bad).unwrap_err();
        assert!(err.to_string().contains("ok = \"greenish\""), "{err}");
    }
}
