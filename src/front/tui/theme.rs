//! Colour themes as data: every colour the UI draws with is a named item of a TOML theme.
use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const DEFAULT_THEME: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/default.toml"));

/// The themes shipped in `themes/`, embedded in the binary, in the order `t` cycles them.
pub const BUILTIN: [(&str, &str); 6] = [
    ("default", DEFAULT_THEME),
    (
        "light",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/light.toml")),
    ),
    (
        "gruvbox",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/gruvbox.toml")),
    ),
    (
        "nord",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/nord.toml")),
    ),
    (
        "high-contrast",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/themes/high-contrast.toml"
        )),
    ),
    (
        "mono",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/themes/mono.toml")),
    ),
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
    /// Draw with ASCII only (`--ascii`): no braille, block or box-drawing glyphs.
    pub ascii: bool,
}

/// How many colours the terminal shows; RGB theme colours are mapped down to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorDepth {
    /// From `COLORTERM` and `TERM`.
    #[default]
    Auto,
    /// 24-bit RGB.
    #[value(name = "truecolor")]
    TrueColor,
    /// The xterm 256-colour palette.
    #[value(name = "256")]
    Ansi256,
    /// The 16 ANSI colours.
    #[value(name = "16")]
    Ansi16,
}

impl ColorDepth {
    /// `COLORTERM=truecolor|24bit` → RGB; else a `TERM` with `256color` → 256; else 16.
    pub fn detect(colorterm: Option<&str>, term: Option<&str>) -> Self {
        let colorterm = colorterm.unwrap_or("").to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            Self::TrueColor
        } else if term.is_some_and(|t| t.contains("256color")) {
            Self::Ansi256
        } else {
            Self::Ansi16
        }
    }

    /// `Auto` decided from this process's environment; other choices stay as they are.
    pub fn resolve(self) -> Self {
        match self {
            Self::Auto => Self::detect(
                std::env::var("COLORTERM").ok().as_deref(),
                std::env::var("TERM").ok().as_deref(),
            ),
            other => other,
        }
    }

    /// The colour as this depth can show it.
    pub fn convert(self, color: Color) -> Color {
        match (self, color) {
            (Self::Auto | Self::TrueColor, c) => c,
            (Self::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_256(r, g, b)),
            (Self::Ansi16, Color::Rgb(r, g, b)) => nearest_16(r, g, b),
            (Self::Ansi16, Color::Indexed(i)) if i < 16 => ANSI16[i as usize].0,
            (Self::Ansi16, Color::Indexed(i)) => {
                let (r, g, b) = xterm_rgb(i);
                nearest_16(r, g, b)
            }
            (_, c) => c,
        }
    }
}

/// The levels of the xterm 6×6×6 colour cube (indices 16–231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// The 16 ANSI colours with the classic VGA values used to judge "nearest": terminals' own
/// palettes differ, and these keep pure primaries on the plain (not the bright) colour.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (170, 0, 0)),
    (Color::Green, (0, 170, 0)),
    (Color::Yellow, (170, 85, 0)),
    (Color::Blue, (0, 0, 170)),
    (Color::Magenta, (170, 0, 170)),
    (Color::Cyan, (0, 170, 170)),
    (Color::Gray, (170, 170, 170)),
    (Color::DarkGray, (85, 85, 85)),
    (Color::LightRed, (255, 85, 85)),
    (Color::LightGreen, (85, 255, 85)),
    (Color::LightYellow, (255, 255, 85)),
    (Color::LightBlue, (85, 85, 255)),
    (Color::LightMagenta, (255, 85, 255)),
    (Color::LightCyan, (85, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn distance(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2) as u32;
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)
}

/// The RGB value xterm gives a 256-palette index.
fn xterm_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[i as usize].1,
        16..=231 => {
            let n = i - 16;
            (
                CUBE[(n / 36) as usize],
                CUBE[(n / 6 % 6) as usize],
                CUBE[(n % 6) as usize],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

/// The closest xterm-256 colour: the nearest cube entry or the nearest step of the grey ramp
/// (232–255), whichever is closer. The 16 system colours are left out: terminals redefine them.
pub fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| -> u8 {
        (0..6u8)
            .min_by_key(|&i| (i32::from(CUBE[i as usize]) - i32::from(v)).abs())
            .unwrap_or(0)
    };
    let (lr, lg, lb) = (level(r), level(g), level(b));
    let cube = 16 + 36 * lr + 6 * lg + lb;
    let mean = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
    let grey = 232 + ((mean.saturating_sub(3)) / 10).min(23) as u8;
    let target = (r, g, b);
    if distance(xterm_rgb(grey), target) < distance(xterm_rgb(cube), target) {
        grey
    } else {
        cube
    }
}

/// The closest of the 16 ANSI colours.
pub fn nearest_16(r: u8, g: u8, b: u8) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, rgb)| distance(*rgb, (r, g, b)))
        .map_or(Color::Reset, |(c, _)| *c)
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
            ascii: false,
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
            ascii: false,
        }
    }

    /// The theme as this terminal can draw it: colours mapped to `depth` (once, here, not per
    /// frame) and ASCII-only glyphs when `ascii`.
    pub fn for_terminal(mut self, depth: ColorDepth, ascii: bool) -> Self {
        let c = |color: Color| depth.convert(color);
        for color in [
            &mut self.text,
            &mut self.dim,
            &mut self.border,
            &mut self.title,
            &mut self.accent,
            &mut self.ok,
            &mut self.error,
            &mut self.warn,
            &mut self.stale,
            &mut self.status_bg,
            &mut self.status_fg,
            &mut self.badge_fg,
            &mut self.p50,
            &mut self.p95,
            &mut self.p99,
            &mut self.help_bg,
            &mut self.key,
        ] {
            *color = c(*color);
        }
        for color in self.heat.iter_mut().chain(self.slices.iter_mut()) {
            *color = c(*color);
        }
        self.ascii = ascii;
        self
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
    fn colour_depth_comes_from_colorterm_then_term() {
        use ColorDepth::*;
        assert_eq!(
            ColorDepth::detect(Some("truecolor"), Some("xterm")),
            TrueColor
        );
        assert_eq!(ColorDepth::detect(Some("24bit"), None), TrueColor);
        assert_eq!(ColorDepth::detect(None, Some("xterm-256color")), Ansi256);
        assert_eq!(
            ColorDepth::detect(Some(""), Some("screen-256color")),
            Ansi256
        );
        assert_eq!(ColorDepth::detect(None, Some("xterm")), Ansi16);
        assert_eq!(ColorDepth::detect(None, Some("linux")), Ansi16);
        assert_eq!(ColorDepth::detect(None, None), Ansi16);
        assert_eq!(TrueColor.resolve(), TrueColor);
        assert_eq!(Ansi16.resolve(), Ansi16);
    }

    #[test]
    fn rgb_maps_to_the_nearest_palette_colour() {
        use ColorDepth::*;
        let rgb = |hex: u32| Color::Rgb((hex >> 16) as u8, (hex >> 8) as u8, hex as u8);
        // 256: the cube, or the grey ramp for greys.
        assert_eq!(Ansi256.convert(rgb(0xff0000)), Color::Indexed(196));
        assert_eq!(Ansi256.convert(rgb(0x00ff00)), Color::Indexed(46));
        assert_eq!(Ansi256.convert(rgb(0x5f87af)), Color::Indexed(67));
        assert_eq!(Ansi256.convert(rgb(0x808080)), Color::Indexed(244));
        assert_eq!(Ansi256.convert(rgb(0x1c1c1c)), Color::Indexed(234));
        assert_eq!(Ansi256.convert(rgb(0x000000)), Color::Indexed(16));
        assert_eq!(Ansi256.convert(rgb(0xffffff)), Color::Indexed(231));
        assert_eq!(Ansi256.convert(rgb(0x12325a)), Color::Indexed(23));
        // Names and indices are already within the palette.
        assert_eq!(Ansi256.convert(Color::Red), Color::Red);
        assert_eq!(Ansi256.convert(Color::Indexed(208)), Color::Indexed(208));
        // 16: the nearest ANSI colour.
        assert_eq!(Ansi16.convert(rgb(0xff0000)), Color::Red);
        assert_eq!(Ansi16.convert(rgb(0x00ff00)), Color::Green);
        assert_eq!(Ansi16.convert(rgb(0x808080)), Color::Gray);
        assert_eq!(Ansi16.convert(rgb(0x606060)), Color::DarkGray);
        assert_eq!(Ansi16.convert(rgb(0xc0c0c0)), Color::Gray);
        assert_eq!(Ansi16.convert(rgb(0x1c1c1c)), Color::Black);
        assert_eq!(Ansi16.convert(rgb(0x12325a)), Color::DarkGray);
        assert_eq!(Ansi16.convert(rgb(0x1040c0)), Color::Blue);
        assert_eq!(Ansi16.convert(Color::Indexed(9)), Color::LightRed);
        assert_eq!(Ansi16.convert(Color::Indexed(196)), Color::Red);
        assert_eq!(Ansi16.convert(Color::Indexed(244)), Color::Gray);
        assert_eq!(Ansi16.convert(Color::Reset), Color::Reset);
        assert_eq!(TrueColor.convert(rgb(0x123456)), rgb(0x123456));
    }

    #[test]
    fn a_theme_is_converted_once_for_the_terminal() {
        let t = Theme::builtin_default().for_terminal(ColorDepth::Ansi256, true);
        assert!(t.ascii);
        assert_eq!(t.heat[0], Color::Indexed(23), "#12325a");
        assert_eq!(t.ok, Color::Green, "names stay");
        let t16 = Theme::builtin_default().for_terminal(ColorDepth::Ansi16, false);
        let all = [t16.text, t16.dim, t16.accent, t16.help_bg, t16.status_bg]
            .into_iter()
            .chain(t16.heat)
            .chain(t16.slices);
        for c in all {
            assert!(
                !matches!(c, Color::Rgb(..) | Color::Indexed(16..)),
                "{c:?} is not one of the 16 colours"
            );
        }
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
