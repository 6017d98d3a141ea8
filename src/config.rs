//! The config file (`$XDG_CONFIG_HOME/llmtop/config.toml` or `--config PATH`): user dialects for
//! in-house gateways and price rows that override the built-in table.
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::dialect::{self, Dialect};
use crate::pricing::PriceTable;

/// What the config file adds to the built-in defaults.
#[derive(Debug, Default)]
pub struct Config {
    /// Where it was read from; `None` when no file exists.
    pub path: Option<PathBuf>,
    pub dialects: Vec<Dialect>,
    pub prices: Option<PriceTable>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    dialect: Vec<toml::Table>,
    #[serde(default)]
    price: Vec<toml::Table>,
}

/// The platform's config file location (e.g. `~/.config/llmtop/config.toml`).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "llmtop").map(|d| d.config_dir().join("config.toml"))
}

impl Config {
    /// Reads `explicit` (which must exist) or the default location (which may be absent).
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(Self::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config = Self::from_toml_str(&text)
            .with_context(|| format!("config file {}", path.display()))?;
        config.path = Some(path);
        Ok(config)
    }

    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        let file: ConfigFile = toml::from_str(text)?;
        let mut dialects = Vec::new();
        for (i, table) in file.dialect.into_iter().enumerate() {
            // Each [[dialect]] table has exactly the format of a built-in dialect file.
            let one = toml::to_string(&table)?;
            let d = Dialect::from_toml_str(&one)
                .with_context(|| format!("[[dialect]] number {}", i + 1))?;
            dialects.push(d);
        }
        let prices = if file.price.is_empty() {
            None
        } else {
            Some(PriceTable::from_toml_str(text)?)
        };
        Ok(Self {
            path: None,
            dialects,
            prices,
        })
    }

    /// User dialects first (a user dialect replaces a built-in one of the same name), then the built-ins.
    pub fn all_dialects(&self) -> Vec<Dialect> {
        let mut all = self.dialects.clone();
        all.extend(
            dialect::builtin()
                .into_iter()
                .filter(|b| !self.dialects.iter().any(|u| u.name == b.name)),
        );
        all
    }

    /// The built-in price table with the user's rows laid over it.
    pub fn price_table(&self) -> PriceTable {
        match &self.prices {
            Some(user) => PriceTable::builtin().with_overrides(user.clone()),
            None => PriceTable::builtin(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[dialect]]
name = "acme"
description = "ACME in-house gateway"
detect = ["acme_llm_requests_total"]
model_label = "llm"

[[dialect.map]]
metric = "acme_llm_requests_total"
signal = "requests"
failed_when = { label = "outcome", values = ["failure", "timeout"] }

[[dialect.map]]
metric = "acme_llm_latency_ms"
signal = "latency_seconds"
scale = 0.001

[[price]]
provider = "acme"
model = "acme-large"
input = 1.0
output = 2.0
"#;

    #[test]
    fn user_dialects_and_prices_are_added() {
        let config = Config::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(config.dialects.len(), 1);
        let all = config.all_dialects();
        assert_eq!(all[0].name, "acme");
        assert!(all.iter().any(|d| d.name == "seed"));
        let prices = config.price_table();
        assert_eq!(prices.lookup("acme-large").map(|p| p.output), Some(2.0));
        assert!(prices.lookup("gpt-4o").is_some(), "built-in rows stay");
    }

    #[test]
    fn a_broken_dialect_says_which() {
        let bad = "[[dialect]]\nname = \"x\"\ndetect = [\"a\"]\n[[dialect.map]]\nmetric = \"a\"\n";
        let err = format!("{:#}", Config::from_toml_str(bad).unwrap_err());
        assert!(err.contains("[[dialect]] number 1"), "{err}");
    }

    #[test]
    fn missing_default_file_is_fine_but_a_missing_explicit_one_is_not() {
        assert!(Config::load(Some(Path::new("/nonexistent/llmtop.toml"))).is_err());
    }
}
