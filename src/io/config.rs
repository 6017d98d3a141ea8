//! The config file (`$XDG_CONFIG_HOME/llmtop/config.toml` or `--config PATH`): user dialects for
//! in-house gateways, price rows that override the built-in table, named targets and key bindings.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::base::dialect::{self, Dialect};
use crate::base::keymap::{Keymap, Rebinding};
use crate::base::pricing::PriceTable;
use crate::base::secret;

/// What the config file adds to the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from; `None` when no file exists.
    pub path: Option<PathBuf>,
    pub dialects: Vec<Dialect>,
    pub prices: Option<PriceTable>,
    /// Named targets, so `llmtop prod` means a URL with its headers and credentials.
    pub targets: Vec<NamedTarget>,
    /// The dashboard's key bindings: the defaults with `[keys]` laid over them.
    pub keymap: Keymap,
    /// `theme = "nord"`: used when neither `--theme` nor `LLMTOP_THEME` names one.
    pub theme: Option<String>,
    /// `[budget]`: monthly USD budgets for the gateway and per model.
    pub budget: crate::model::budget::BudgetConfig,
    /// `[redact]`: labels whose values are hashed or dropped before anything sees them.
    pub redact: crate::base::redact::RedactConfig,
    /// `[[alert]]` rules, parsed.
    pub alerts: Vec<crate::model::alert::Rule>,
    /// `alert_defaults = false`: the built-in rules are left out.
    pub alert_defaults_off: bool,
}

/// One `[[alert]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertSpec {
    name: String,
    expr: toml::Spanned<String>,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    severity: Option<crate::model::alert::Severity>,
}

/// Parses the `[[alert]]` tables of `text`; an error names the rule, its line and column.
pub fn parse_alerts(text: &str) -> anyhow::Result<Vec<crate::model::alert::Rule>> {
    #[derive(Deserialize)]
    struct OnlyAlerts {
        #[serde(default)]
        alert: Vec<AlertSpec>,
    }
    let file: OnlyAlerts = toml::from_str(text)?;
    alerts_of(text, file.alert)
}

fn alerts_of(text: &str, specs: Vec<AlertSpec>) -> anyhow::Result<Vec<crate::model::alert::Rule>> {
    let mut rules = Vec::new();
    for spec in specs {
        // The expression's first character: one past the opening quote.
        let start = spec.expr.span().start + 1;
        let line = text[..start.min(text.len())].matches('\n').count() + 1;
        let line_start = text[..start.min(text.len())]
            .rfind('\n')
            .map_or(0, |p| p + 1);
        let expr_text = spec.expr.get_ref().clone();
        let expr = crate::model::alert::parse_expr(&expr_text).map_err(|e| {
            anyhow::anyhow!(
                "[[alert]] {:?}, line {line}, column {}: {}",
                spec.name,
                start - line_start + e.column,
                e.message
            )
        })?;
        let for_seconds = match &spec.for_ {
            None => 0.0,
            Some(d) => crate::base::format::parse_duration(d)
                .map_err(|e| anyhow::anyhow!("[[alert]] {:?}: for = {d:?}: {e}", spec.name))?
                .as_secs_f64(),
        };
        rules.push(crate::model::alert::Rule {
            name: spec.name,
            text: expr_text,
            expr,
            for_seconds,
            severity: spec
                .severity
                .unwrap_or(crate::model::alert::Severity::Warning),
        });
    }
    Ok(rules)
}

/// A `[[target]]` of the config file. Secrets are named by variable or file, never written inline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTarget {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<crate::base::secret::HeaderLine>,
    pub bearer_token_env: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub api_base: Option<String>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub dialect: Option<String>,
    pub model: Option<String>,
}

/// Where to scrape and how to authenticate, as the command line (or a caller) states it: plain
/// data, so the layers below the command line never see its parser's types.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    /// A metrics URL in any of the dashboard's forms, or the name of a `[[target]]`.
    pub url: Option<String>,
    /// More direct targets (fleet mode).
    pub more_urls: Vec<String>,
    /// Fleet mode through this Prometheus-compatible server.
    pub prometheus: Option<String>,
    pub selector: Option<String>,
    pub instance_label: String,
    pub prometheus_scrape_interval: Duration,
    pub thanos: bool,
    pub basic_auth_user: Option<String>,
    pub basic_auth_password_env: Option<String>,
    pub basic_auth_password_file: Option<PathBuf>,
    /// Start the built-in demo gateway and attach to it.
    pub demo: bool,
    pub interval: Duration,
    pub timeout: Duration,
    pub headers: Vec<crate::base::secret::HeaderLine>,
    pub bearer_token_env: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub dialect: Option<String>,
    pub api_base: Option<String>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub model: Option<String>,
    pub history: Duration,
    pub max_series: usize,
    pub max_models: usize,
    pub max_body_mib: usize,
    /// `--record FILE`.
    pub record: Option<PathBuf>,
    pub tls: crate::base::net::TlsSettings,
}

impl TargetSpec {
    /// The label redactor: the config's `[redact]` (with `--redact-labels` / `--redact-mode`
    /// laid over it by [`Config::with_redaction_flags`]), else the built-in personal-data list
    /// when recording.
    pub fn redactor(
        &self,
        config: &Config,
    ) -> anyhow::Result<Option<std::sync::Arc<crate::base::redact::LabelRedactor>>> {
        crate::base::redact::resolve(&config.redact, self.record.is_some())
            .map(|r| r.map(std::sync::Arc::new))
            .map_err(|e| anyhow::anyhow!("--redact-labels: {e}"))
    }

    /// The scrape's headers and bearer token, resolved (see [`crate::base::credentials`]).
    pub fn scrape_headers(&self) -> anyhow::Result<(reqwest::header::HeaderMap, String)> {
        crate::base::credentials::scrape_headers(
            &self.headers,
            crate::base::credentials::BearerSource {
                env: self.bearer_token_env.as_deref(),
                file: self.bearer_token_file.as_deref(),
            },
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    theme: Option<String>,
    #[serde(default)]
    dialect: Vec<toml::Table>,
    #[serde(default)]
    price: Vec<toml::Table>,
    #[serde(default)]
    target: Vec<NamedTarget>,
    #[serde(default)]
    budget: crate::model::budget::BudgetConfig,
    #[serde(default)]
    redact: crate::base::redact::RedactConfig,
    #[serde(default)]
    alert: Vec<AlertSpec>,
    alert_defaults: Option<bool>,
    /// `action = "key"` or `action = ["key", …]`; spans give error messages their line.
    #[serde(default)]
    keys: std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>,
}

/// The `[keys]` entries in file order, each with its line.
fn rebindings(
    text: &str,
    keys: std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>,
) -> anyhow::Result<Vec<Rebinding>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut out = Vec::new();
    for (action, value) in keys {
        let line = line_of(action.span().start);
        let bad = || {
            anyhow::anyhow!(
                "line {line}: [keys] {} must be a key (\"q\") or a list of keys ([\"q\", \"ctrl-c\"])",
                action.get_ref()
            )
        };
        let keys = match value.into_inner() {
            toml::Value::String(k) => vec![k],
            toml::Value::Array(list) => list
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(k) => Ok(k),
                    _ => Err(bad()),
                })
                .collect::<anyhow::Result<_>>()?,
            _ => return Err(bad()),
        };
        out.push(Rebinding {
            action: action.into_inner(),
            keys,
            line,
        });
    }
    out.sort_by_key(|r| r.line);
    Ok(out)
}

/// What `--print-config-template` prints: every section, commented out, with the defaults.
pub fn template() -> String {
    format!(
        r#"# llmtop config file: {path} (or --config PATH / LLMTOP_CONFIG).
# Everything here is commented out; uncomment what you need. Flags and LLMTOP_* variables win
# over this file.

# Colour theme when neither --theme nor LLMTOP_THEME names one: default, light, gruvbox, nord,
# high-contrast, mono, or a path to a .toml theme file.
# theme = "nord"
# alert_defaults = false   # `llmtop check` without its built-in rules (see [[alert]] below)

# Named targets: `llmtop prod` scrapes this URL with these headers and credentials. Secrets are
# named by variable or file, never written here.
# [[target]]
# name = "prod"
# url = "https://gw.internal:4000"
# headers = ["X-Scope-OrgID: team-a"]
# bearer_token_env = "PROD_METRICS_TOKEN"   # or bearer_token_file = "/run/secrets/metrics"
# api_base = "https://gw.internal:4000"
# api_key_env = "PROD_LLM_KEY"              # or api_key_file = "/run/secrets/llm-key"
# dialect = "litellm"
# model = "gpt-4o-mini"

# A dialect for an in-house gateway (README.md, "An in-house gateway", lists every key).
# [[dialect]]
# name = "acme"
# description = "ACME in-house LLM router"
# detect = ["acme_llm_requests_total"]
# model_label = "llm"
# [[dialect.map]]
# metric = "acme_llm_requests_total"
# signal = "requests"
# failed_when = {{ label = "outcome", values = ["failure", "timeout"] }}

# Price rows (USD per 1M tokens) that override or extend the built-in table.
# [[price]]
# provider = "acme"
# model = "acme-large"
# aliases = ["acme-l"]
# input = 1.00
# cached_input = 0.10
# output = 4.00
# as_of = "2026-11"
# checked = "2026-12-01"   # when the row was last compared with its source (stale after 180 days)
# source = "internal rate card"

# Monthly budgets (USD, calendar month in UTC): the Cost panel and `snapshot` show what is left
# and when it runs out at this pace, beside the budgets the gateway exports (LiteLLM).
# [budget]
# monthly_usd = 500
# [budget.models]
# "gpt-4o" = 200

# Labels with personal data (users, emails, client IPs): their values are hashed ("anon-…",
# with a key that is random per run and never stored) or dropped before they are parsed, shown,
# recorded or exported. "default" stands for the built-in list, which `--record` uses when
# nothing is set here; "none" turns it off. `--redact-labels` overrides this.
# [redact]
# labels = ["default", "team_alias"]
# mode = "hash"   # or "drop"

# Alert rules, judged by `llmtop check` (exit 0 ok, 1 warning, 2 critical). An expr is a
# figure, then optionally `by model` or {{model="NAME"}}, then a comparison such as `> 2s`,
# `>= 5%`, `< 24h`; figures: p50/p95/p99_latency, ttft_p50/p95/p99, error_rate,
# requests_per_second, cost_per_hour, kv_cache_usage, queued, queue_time_p95, budget_runs_out,
# and the conditions upstream_down, saturated, stalled, stale (no comparison).
# (`alert_defaults = false` at the top of the file leaves out the built-in rules.)
# [[alert]]
# name = "slow gpt-4o"
# expr = 'p95_latency{{model="gpt-4o"}} > 2s'
# for = "2m"
# severity = "critical"   # or "warning"

# Dashboard keys: action = "key" or ["key", …]. A listed action gets exactly these keys (its
# defaults go); a key may belong to one action only. Keys: one character ("q", "P" for Shift-p,
# "?"), "ctrl-c", "shift-tab", "esc", "enter", "tab", "space", "up", "down", "left", "right",
# "home", "end", "pageup", "pagedown", "backspace", "delete", "f1"…"f12". The defaults:
# [keys]
{keys}"#,
        path = default_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/llmtop/config.toml".into()),
        keys = Keymap::template(),
    )
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
        if let (Some(what), Some(mode)) = (config.inline_secret(), secret::open_to_others(&path)) {
            // Like an inline api_key, a credential others can read is refused, not just noted.
            anyhow::bail!(
                "config file {} holds a credential ({what}) and other users can access it (mode {mode:04o}): run `chmod 600 {}`, or name the secret with bearer_token_file / bearer_token_env instead",
                path.display(),
                path.display()
            );
        }
        config.path = Some(path);
        Ok(config)
    }

    /// The first credential written into the file itself, named without its value.
    pub fn inline_secret(&self) -> Option<String> {
        self.targets.iter().find_map(|t| {
            if secret::url_has_credentials(&t.url) {
                return Some(format!("the url of target {:?}", t.name));
            }
            t.headers
                .iter()
                .filter_map(|h| h.split_once(':'))
                .find(|(name, _)| secret::is_credential_header(name))
                .map(|(name, _)| format!("header {} of target {:?}", name.trim(), t.name))
        })
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
        let keymap = Keymap::with_rebindings(&rebindings(text, file.keys)?)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let prices = if file.price.is_empty() {
            None
        } else {
            Some(PriceTable::from_toml_str(text)?)
        };
        if let Some(problem) = file.budget.problem() {
            anyhow::bail!("{problem}");
        }
        Ok(Self {
            path: None,
            dialects,
            prices,
            targets: file.target,
            keymap,
            theme: file.theme,
            budget: file.budget,
            redact: file.redact,
            alerts: alerts_of(text, file.alert)?,
            alert_defaults_off: file.alert_defaults == Some(false),
        })
    }

    /// `--redact-labels` / `--redact-mode` laid over the file's `[redact]`, for the commands
    /// that read a recording (whose redaction the config carries).
    pub fn with_redaction_flags(
        mut self,
        labels: Option<&[String]>,
        mode: Option<crate::base::redact::RedactMode>,
    ) -> Self {
        self.redact = self.redact.with_flags(labels, mode);
        self
    }

    /// When the positional URL names a `[[target]]`, the target's settings fill in whatever the
    /// command line and environment left unset (flags > env > file > defaults); headers add up.
    pub fn resolve_target(&self, args: &TargetSpec) -> TargetSpec {
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

/// A found endpoint to keep as a `[[target]]` of the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget<'a> {
    /// The name wanted; `-2`, `-3`, … is added when the file already has it.
    pub name: &'a str,
    pub url: &'a str,
    pub dialect: Option<&'a str>,
    /// The variable holding the bearer token, by name (the value never enters the file).
    pub bearer_token_env: Option<&'a str>,
}

/// Appends `target` to the config file at `path` (created with its directory if absent) and
/// returns the name it got. The file must still load afterwards, or nothing is written. A file
/// that names a credential is left readable by its owner only (mode 600), as the loader wants.
pub fn append_target(path: &Path, target: &NewTarget<'_>) -> anyhow::Result<String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => anyhow::bail!("cannot read {}: {}", path.display(), e.kind()),
    };
    let taken: Vec<String> = Config::from_toml_str(&existing)
        .with_context(|| format!("{} does not load, so it is left as it is", path.display()))?
        .targets
        .into_iter()
        .map(|t| t.name)
        .collect();
    let name = std::iter::once(target.name.to_string())
        .chain((2..).map(|n| format!("{}-{n}", target.name)))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| target.name.to_string());
    let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
    let mut block = format!(
        "\n[[target]]\nname = {}\nurl = {}\n",
        quote(&name),
        quote(target.url)
    );
    if let Some(d) = target.dialect {
        block.push_str(&format!("dialect = {}\n", quote(d)));
    }
    if let Some(var) = target.bearer_token_env {
        block.push_str(&format!("bearer_token_env = {}\n", quote(var)));
    }
    let text = format!("{existing}{block}");
    Config::from_toml_str(&text).context("the new [[target]] would not load")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {}", dir.display(), e.kind()))?;
    }
    std::fs::write(path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.kind()))?;
    #[cfg(unix)]
    if target.bearer_token_env.is_some() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("cannot chmod 600 {}: {}", path.display(), e.kind()))?;
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_endpoint_is_appended_as_a_target_that_loads() {
        let dir = std::env::temp_dir().join(format!("llmtop-append-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("config.toml");
        let new = NewTarget {
            name: "litellm-4000",
            url: "http://127.0.0.1:4000/metrics",
            dialect: Some("litellm"),
            bearer_token_env: Some("LITELLM_MASTER_KEY"),
        };
        assert_eq!(append_target(&path, &new).unwrap(), "litellm-4000");
        // The same name again gets a suffix; the file keeps loading.
        assert_eq!(append_target(&path, &new).unwrap(), "litellm-4000-2");
        let config = Config::load(Some(&path)).unwrap();
        let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["litellm-4000", "litellm-4000-2"]);
        assert_eq!(
            config.targets[0].bearer_token_env.as_deref(),
            Some("LITELLM_MASTER_KEY")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A file that does not load is left alone.
        std::fs::write(&path, "this is = = not toml").unwrap();
        assert!(append_target(&path, &new).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "this is = = not toml"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

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

    #[cfg(unix)]
    #[test]
    fn a_credential_in_a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("llmtop-config-perm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let set_mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let secret = dir.join("secret.toml");
        std::fs::write(
            &secret,
            "[[target]]\nname = \"prod\"\nurl = \"gw:4000\"\nheaders = [\"Authorization: Bearer canary-config-77\"]\n",
        )
        .unwrap();
        set_mode(&secret, 0o644);
        let err = format!("{:#}", Config::load(Some(&secret)).unwrap_err());
        assert!(
            err.contains("header Authorization of target \"prod\"") && err.contains("mode 0644"),
            "{err}"
        );
        assert!(err.contains("chmod 600"), "{err}");
        assert!(
            !err.contains("canary-config-77"),
            "the value itself is never shown: {err}"
        );
        set_mode(&secret, 0o640);
        assert!(
            Config::load(Some(&secret)).is_err(),
            "group-readable counts too"
        );
        set_mode(&secret, 0o600);
        let config = Config::load(Some(&secret)).unwrap();
        assert_eq!(config.targets[0].headers.len(), 1);

        // The same permissions are fine when nothing secret is inside.
        let plain = dir.join("plain.toml");
        std::fs::write(
            &plain,
            "[[target]]\nname = \"p\"\nurl = \"https://gw:4000\"\nheaders = [\"X-Scope-OrgID: a\"]\nbearer_token_file = \"/run/token\"\n",
        )
        .unwrap();
        set_mode(&plain, 0o644);
        assert!(Config::load(Some(&plain)).is_ok());
        // A password in the URL is a credential as well.
        std::fs::write(
            &plain,
            "[[target]]\nname = \"p\"\nurl = \"https://u:pw@gw:4000\"\n",
        )
        .unwrap();
        let err = format!("{:#}", Config::load(Some(&plain)).unwrap_err());
        assert!(err.contains("the url of target \"p\""), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_section_rebinds_and_names_the_line_of_a_mistake() {
        use crate::base::keymap::Action;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let config =
            Config::from_toml_str("[keys]\nquit = [\"Q\", \"ctrl-c\"]\nprobe = \"P\"\n").unwrap();
        let shift = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
        assert_eq!(config.keymap.action_for(&shift('Q')), Some(Action::Quit));
        assert_eq!(config.keymap.action_for(&shift('P')), Some(Action::Probe));
        let plain_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(config.keymap.action_for(&plain_q), None);
        assert_eq!(Config::from_toml_str("").unwrap().keymap, Keymap::default());

        let err = |text: &str| format!("{:#}", Config::from_toml_str(text).unwrap_err());
        let e = err("# keys\n\n[keys]\nquit = \"Q\"\nprobee = \"x\"\n");
        assert!(e.starts_with("line 5: unknown action \"probee\""), "{e}");
        let e = err("[keys]\nprobe = \"ctrl-\"\n");
        assert!(
            e.starts_with("line 2: probe: cannot read key \"ctrl-\""),
            "{e}"
        );
        let e = err("[keys]\nprobe = 3\n");
        assert!(e.starts_with("line 2: [keys] probe must be a key"), "{e}");
        let e = err("[keys]\nprobe = \"q\"\n");
        assert!(
            e.contains("key \"q\" is bound to both quit (by default) and probe"),
            "{e}"
        );
    }

    #[test]
    fn the_template_is_a_valid_config_and_its_keys_section_works_uncommented() {
        let template = template();
        let config = Config::from_toml_str(&template).unwrap();
        assert!(config.targets.is_empty() && config.dialects.is_empty());
        // Uncommenting every line gives a valid file: the examples are real syntax.
        let uncommented: String = template
            .lines()
            .filter(|l| {
                let Some(rest) = l.strip_prefix("# ") else {
                    return false;
                };
                rest.starts_with('[')
                    || rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        let config =
            Config::from_toml_str(&uncommented).unwrap_or_else(|e| panic!("{e:#}\n{uncommented}"));
        assert_eq!(config.targets[0].name, "prod");
        assert_eq!(config.dialects[0].name, "acme");
        assert_eq!(
            config.keymap,
            Keymap::default(),
            "the template shows the defaults"
        );
    }

    #[test]
    fn missing_default_file_is_fine_but_a_missing_explicit_one_is_not() {
        assert!(Config::load(Some(Path::new("/nonexistent/llmtop.toml"))).is_err());
    }

    #[test]
    fn readme_rebinding_example_is_accepted() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let example = readme
            .split_once("**Rebinding.**")
            .and_then(|(_, rest)| rest.split_once("```toml\n"))
            .and_then(|(_, rest)| rest.split_once("```"))
            .map(|(toml, _)| toml)
            .expect("README.md has the [keys] example");
        let config = Config::from_toml_str(example)
            .unwrap_or_else(|e| panic!("the README's [keys] example is refused: {e}"));
        let km = &config.keymap;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |c: char, m: KeyModifiers| KeyEvent::new(KeyCode::Char(c), m);
        assert_eq!(
            km.action_for(&key('P', KeyModifiers::SHIFT)),
            Some(crate::base::keymap::Action::Probe)
        );
        assert_eq!(km.action_for(&key('p', KeyModifiers::NONE)), None);
    }
}
