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
    /// Named targets, so `llmtop prod` means a URL with its headers and credentials.
    pub targets: Vec<NamedTarget>,
}

/// A `[[target]]` of the config file. Secrets are named by variable or file, never written inline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTarget {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<String>,
    pub bearer_token_env: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub api_base: Option<String>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub dialect: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    dialect: Vec<toml::Table>,
    #[serde(default)]
    price: Vec<toml::Table>,
    #[serde(default)]
    target: Vec<NamedTarget>,
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
            targets: file.target,
        })
    }

    /// When the positional URL names a `[[target]]`, the target's settings fill in whatever the
    /// command line and environment left unset (flags > env > file > defaults); headers add up.
    pub fn resolve_target(&self, args: &crate::cli::TargetArgs) -> crate::cli::TargetArgs {
        let Some(t) = args
            .url
            .as_deref()
            .and_then(|name| self.targets.iter().find(|t| t.name == name))
        else {
            return args.clone();
        };
        let mut out = args.clone();
        out.url = Some(t.url.clone());
        out.headers = t.headers.iter().chain(&args.headers).cloned().collect();
        if out.bearer_token_env.is_none() && out.bearer_token_file.is_none() {
            out.bearer_token_env = t.bearer_token_env.clone();
            out.bearer_token_file = t.bearer_token_file.clone();
        }
        out.api_base = out.api_base.or(t.api_base.clone());
        if out.api_key_env.is_none() && out.api_key_file.is_none() {
            out.api_key_env = t.api_key_env.clone();
            out.api_key_file = t.api_key_file.clone();
        }
        out.dialect = out.dialect.or(t.dialect.clone());
        out.model = out.model.or(t.model.clone());
        out
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
    fn named_targets_fill_in_what_flags_leave_unset() {
        use clap::Parser;
        let config = Config::from_toml_str(
            r#"
[[target]]
name = "prod"
url = "https://gw.internal:4000"
headers = ["X-Scope-OrgID: team-a"]
bearer_token_env = "PROD_METRICS_TOKEN"
api_key_env = "PROD_LLM_KEY"
model = "gpt-4o-mini"
"#,
        )
        .unwrap();
        let cli = crate::cli::Cli::try_parse_from([
            "llmtop",
            "prod",
            "-H",
            "X-Extra: 1",
            "--model",
            "gpt-4o",
        ])
        .unwrap();
        let t = config.resolve_target(&cli.target);
        assert_eq!(t.url.as_deref(), Some("https://gw.internal:4000"));
        assert_eq!(t.headers, ["X-Scope-OrgID: team-a", "X-Extra: 1"]);
        assert_eq!(t.bearer_token_env.as_deref(), Some("PROD_METRICS_TOKEN"));
        assert_eq!(t.api_key_env.as_deref(), Some("PROD_LLM_KEY"));
        assert_eq!(
            t.model.as_deref(),
            Some("gpt-4o"),
            "the flag wins over the file"
        );
        // A URL that is not a target name passes through untouched.
        let cli = crate::cli::Cli::try_parse_from(["llmtop", "gw:4000"]).unwrap();
        assert_eq!(
            config.resolve_target(&cli.target).url.as_deref(),
            Some("gw:4000")
        );
        // Secrets are never inline.
        let inline = "[[target]]\nname = \"x\"\nurl = \"h:1\"\napi_key = \"sk-1\"\n";
        assert!(Config::from_toml_str(inline).is_err());
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
