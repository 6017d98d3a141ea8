//! Model price table (data in `prices.toml`, overridable from the user's config) and token → USD cost.
//!
//! Prices change more often than code, so they live in a TOML table embedded at build time; a user
//! whose contract differs from list price overrides rows with the same `[[price]]` format.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

const BUILTIN_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/prices.toml"));
const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// One model's list price, USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub provider: String,
    /// Canonical model name, as the provider spells it.
    pub model: String,
    /// Other names gateways report for the same price (older versions, vendor aliases).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub input: f64,
    /// Prompt tokens served from the provider's cache; `None` when no discount is published.
    #[serde(default)]
    pub cached_input: Option<f64>,
    pub output: f64,
    /// When the price took effect, as precisely as the source states it (`2026-05`).
    #[serde(default)]
    pub as_of: Option<String>,
    /// Where the price was read; shown so a user can check it.
    #[serde(default)]
    pub source: Option<String>,
    /// When the row was last compared with its source (`2026-12-03`); a row whose check (or,
    /// without one, whose `as_of`) is older than [`STALE_AFTER_DAYS`] is flagged as possibly stale.
    #[serde(default)]
    pub checked: Option<String>,
}

/// Token counts to price. `f64` because they come from Prometheus counters and extrapolated
/// increases, which are fractional.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenCounts {
    /// ALL prompt tokens, cached ones included (OpenAI's `prompt_tokens` convention).
    pub input: f64,
    /// The part of `input` served from cache.
    pub cached_input: f64,
    pub output: f64,
}

/// Cost in USD, split the way provider invoices split it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostBreakdown {
    /// Uncached prompt tokens.
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
    pub total: f64,
}

impl Price {
    /// Cost of `tokens` at this price.
    ///
    /// Cached tokens are clamped to `[0, input]`: a gateway reporting more cached than total prompt
    /// tokens is inconsistent, and billing the excess would overstate the burn.
    pub fn cost_usd(&self, tokens: TokenCounts) -> CostBreakdown {
        let input_tokens = tokens.input.max(0.0);
        let cached_tokens = tokens.cached_input.clamp(0.0, input_tokens);
        let uncached_tokens = input_tokens - cached_tokens;
        let per_token = |price: f64| price / TOKENS_PER_PRICE_UNIT;

        let input = uncached_tokens * per_token(self.input);
        let cached_input = cached_tokens * per_token(self.cached_input.unwrap_or(self.input));
        let output = tokens.output.max(0.0) * per_token(self.output);
        CostBreakdown {
            input,
            cached_input,
            output,
            total: input + cached_input + output,
        }
    }

    /// USD per 1M tokens for gateways that export only a total token count: the output price.
    ///
    /// Output is the dearest rate, so this is an upper bound, never an understatement; callers must
    /// label the resulting figure an estimate.
    pub fn blended_per_mtok(&self) -> f64 {
        self.output
    }

    /// The row's check (or, without one, the date its price took effect) is older than
    /// [`STALE_AFTER_DAYS`] on `today`; a row with no date at all is possibly stale too.
    pub fn possibly_stale(&self, today: chrono::NaiveDate) -> bool {
        let dated = self
            .checked
            .as_deref()
            .or(self.as_of.as_deref())
            .and_then(start_of);
        dated.is_none_or(|d| (today - d).num_days() > STALE_AFTER_DAYS)
    }

    /// The model name and its aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.model.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A price checked longer ago than this many days is flagged as possibly stale.
pub const STALE_AFTER_DAYS: i64 = 180;

/// The first day a date of `YYYY-MM-DD`, `YYYY-MM` or `YYYY` can mean: a price dated only by its
/// month or year counts from the earliest day, so it is never called fresher than it is.
fn start_of(date: &str) -> Option<chrono::NaiveDate> {
    let parts: Vec<&str> = date.trim().split('-').collect();
    let number = |i: usize, default: u32| -> Option<u32> {
        parts.get(i).map_or(Some(default), |p| p.parse().ok())
    };
    let year = i32::try_from(number(0, 0)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, number(1, 1)?, number(2, 1)?)
}

/// Why a price table was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PriceTableError {
    #[error("price table is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("price row {row} ({model:?}): {problem}")]
    InvalidRow {
        /// 1-based, counting `[[price]]` rows in file order.
        row: usize,
        model: String,
        problem: String,
    },
    #[error("model name {name:?} is listed by both {first:?} and {second:?}")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },
}

/// Rows with unique names (case-insensitive) and an index from every name to its row.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    rows: Vec<Price>,
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct PriceFile {
    // Other top-level keys are ignored so a whole config file can be handed over as is.
    #[serde(default)]
    price: Vec<Price>,
}

impl PriceTable {
    /// The table shipped in `prices.toml`.
    pub fn builtin() -> Self {
        // The embedded file is a build input, not user input; `builtin_table_parses` proves it.
        Self::from_toml_str(BUILTIN_TOML).expect("embedded prices.toml is valid (checked by tests)")
    }

    /// Parses `[[price]]` rows; any other top-level keys are ignored.
    pub fn from_toml_str(text: &str) -> Result<Self, PriceTableError> {
        let file: PriceFile = toml::from_str(text)?;
        Self::from_rows(file.price)
    }

    /// Validates rows (a config loader that deserializes `Vec<Price>` itself ends up here).
    pub fn from_rows(rows: Vec<Price>) -> Result<Self, PriceTableError> {
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            if let Some(problem) = row_problem(row) {
                return Err(PriceTableError::InvalidRow {
                    row: i + 1,
                    model: row.model.clone(),
                    problem,
                });
            }
            for name in row.names() {
                let key = normalize(name);
                match owner.get(&key) {
                    // A row listing its own name twice is harmless.
                    Some(&j) if j == i => {}
                    Some(&j) => {
                        return Err(PriceTableError::DuplicateName {
                            name: name.to_string(),
                            first: rows[j].model.clone(),
                            second: row.model.clone(),
                        });
                    }
                    None => {
                        owner.insert(key, i);
                    }
                }
            }
        }
        Ok(Self {
            rows,
            by_name: owner,
        })
    }

    /// `self` with `overrides` applied: an override row replaces the row of the same model, and
    /// any name (model or alias) an override lists is taken away from the rows of `self`.
    pub fn with_overrides(self, overrides: PriceTable) -> Self {
        let claimed: HashSet<&String> = overrides.by_name.keys().collect();
        let mut rows: Vec<Price> = self
            .rows
            .into_iter()
            .filter(|row| !claimed.contains(&normalize(&row.model)))
            .map(|mut row| {
                row.aliases
                    .retain(|alias| !claimed.contains(&normalize(alias)));
                row
            })
            .collect();
        rows.extend(overrides.rows);
        // Both sides were validated and every collision was removed above, so names are unique.
        let by_name = index(&rows);
        Self { rows, by_name }
    }

    /// The price for a model name as a gateway reports it, case-insensitively:
    ///
    /// 1. the exact model or alias;
    /// 2. the same after dropping `provider/` prefixes (`openai/gpt-4o`, `openrouter/openai/gpt-4o`);
    /// 3. a known name followed by a date or version tag (`gpt-4o-2024-08-06`,
    ///    `claude-sonnet-4-5-20250929`, `claude-sonnet-4-5@20250929`, `gpt-4-0613`, `-latest`).
    ///
    /// Only a date/version tag may follow a known name, so `gpt-4o-mini` never falls back to
    /// `gpt-4o`; where several names fit, the longest wins.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        let name = normalize(model);
        let candidates = prefix_stripped(&name);
        candidates
            .iter()
            .find_map(|candidate| self.by_name.get(*candidate))
            .or_else(|| {
                candidates
                    .iter()
                    .find_map(|candidate| self.dated(candidate))
            })
            .and_then(|&i| self.rows.get(i))
    }

    /// Rows in table order (built-in rows first after [`Self::with_overrides`]).
    pub fn rows(&self) -> &[Price] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn dated(&self, candidate: &str) -> Option<&usize> {
        // Right to left, so the longest known prefix is tried first.
        candidate
            .char_indices()
            .rev()
            .filter(|&(_, c)| c == '-' || c == '@')
            .filter(|&(at, _)| is_version_tag(&candidate[at + 1..]))
            .find_map(|(at, _)| self.by_name.get(&candidate[..at]))
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

fn index(rows: &[Price]) -> HashMap<String, usize> {
    let mut by_name = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        for name in row.names() {
            by_name.entry(normalize(name)).or_insert(i);
        }
    }
    by_name
}

fn row_problem(row: &Price) -> Option<String> {
    if row.model.trim().is_empty() {
        return Some("model is empty".into());
    }
    if row.aliases.iter().any(|alias| alias.trim().is_empty()) {
        return Some("an alias is empty".into());
    }
    let prices = [
        ("input", Some(row.input)),
        ("cached_input", row.cached_input),
        ("output", Some(row.output)),
    ];
    prices.iter().find_map(|&(field, value)| {
        value
            .filter(|v| !(v.is_finite() && *v >= 0.0))
            .map(|v| format!("{field} = {v} is not a price (USD per 1M tokens, ≥ 0)"))
    })
}

/// `name` and each form left after dropping one more leading `segment/`, longest first.
fn prefix_stripped(name: &str) -> Vec<&str> {
    let mut forms = vec![name];
    let mut rest = name;
    while let Some((_, tail)) = rest.split_once('/') {
        forms.push(tail);
        rest = tail;
    }
    forms
}

/// Date or version tags providers append to a model name: `YYYY-MM-DD`, `YYYYMMDD`, `MM-DD`,
/// `MMDD`, `latest`.
fn is_version_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let month_day = |m: &[u8], d: &[u8]| {
        let number = |s: &[u8]| s.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
        digits(m) && digits(d) && (1..=12).contains(&number(m)) && (1..=31).contains(&number(d))
    };
    // Years are pinned to 20xx so a size like `-2048` cannot pass for one.
    let year = |y: &[u8]| digits(y) && y.starts_with(b"20");
    match b.len() {
        10 => b[4] == b'-' && b[7] == b'-' && year(&b[..4]) && month_day(&b[5..7], &b[8..]),
        8 => year(&b[..4]) && month_day(&b[4..6], &b[6..]),
        5 => b[2] == b'-' && month_day(&b[..2], &b[3..]),
        4 => month_day(&b[..2], &b[2..]),
        _ => tag == "latest",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_is_possibly_stale_180_days_after_its_check_or_its_date() {
        let row = |as_of: Option<&str>, checked: Option<&str>| Price {
            provider: "p".into(),
            model: "m".into(),
            aliases: Vec::new(),
            input: 1.0,
            cached_input: None,
            output: 1.0,
            as_of: as_of.map(str::to_string),
            source: None,
            checked: checked.map(str::to_string),
        };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        // 2026-06-06 is 180 days before: not yet; 2026-06-05 is 181.
        assert!(!row(None, Some("2026-06-06")).possibly_stale(today));
        assert!(row(None, Some("2026-06-05")).possibly_stale(today));
        // A check wins over an old price date; a month counts from its first day.
        assert!(!row(Some("2025-01"), Some("2026-12-03")).possibly_stale(today));
        assert!(row(Some("2026-06"), None).possibly_stale(today));
        assert!(!row(Some("2026-07"), None).possibly_stale(today));
        assert!(row(Some("2026"), None).possibly_stale(today));
        assert!(row(None, None).possibly_stale(today));
        assert!(row(Some("soon"), None).possibly_stale(today));
    }

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-12 * want.abs().max(1.0)
    }

    fn model_of(table: &PriceTable, name: &str) -> Option<String> {
        table.lookup(name).map(|p| p.model.clone())
    }

    #[test]
    fn builtin_table_parses() {
        let table = PriceTable::from_toml_str(BUILTIN_TOML).expect("prices.toml parses");
        // Every [[price]] row of the file, none lost.
        let rows = BUILTIN_TOML
            .lines()
            .filter(|l| l.trim() == "[[price]]")
            .count();
        assert!(rows >= 13, "{rows}");
        assert_eq!(table.len(), rows);
        for row in table.rows() {
            assert!(
                row.as_of.as_deref().is_some_and(|s| !s.is_empty()),
                "{} has no as_of",
                row.model
            );
            assert!(
                row.source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("https://")),
                "{} has no source",
                row.model
            );
        }
    }

    #[test]
    fn deepseek_chat_cost_with_cache_hits() {
        let price = PriceTable::builtin()
            .lookup("deepseek-chat")
            .cloned()
            .expect("alias resolves");
        let cost = price.cost_usd(TokenCounts {
            input: 1_000_000.0,
            cached_input: 200_000.0,
            output: 500_000.0,
        });
        assert!(close(cost.input, 0.8 * 0.14), "{cost:?}");
        assert!(close(cost.cached_input, 0.2 * 0.0028), "{cost:?}");
        assert!(close(cost.output, 0.5 * 0.28), "{cost:?}");
        assert!(close(cost.total, 0.25256), "{cost:?}");
    }

    #[test]
    fn cost_without_cached_price_bills_cache_at_input_price() {
        let table = PriceTable::builtin();
        let gemini = table.lookup("gemini-2.5-pro").expect("row exists");
        let cost = gemini.cost_usd(TokenCounts {
            input: 2_000_000.0,
            cached_input: 500_000.0,
            output: 100_000.0,
        });
        assert!(close(cost.input, 1.5 * 1.25), "{cost:?}");
        assert!(close(cost.cached_input, 0.5 * 1.25), "{cost:?}");
        assert!(close(cost.total, 2.5 + 1.0), "{cost:?}");
    }

    #[test]
    fn cost_clamps_inconsistent_counts() {
        let table = PriceTable::builtin();
        let gpt = table.lookup("gpt-4o").expect("row exists");
        let cost = gpt.cost_usd(TokenCounts {
            input: 100_000.0,
            cached_input: 300_000.0,
            output: -5.0,
        });
        assert_eq!(cost.input, 0.0);
        assert!(close(cost.cached_input, 0.1 * 1.25), "{cost:?}");
        assert_eq!(cost.output, 0.0);
        assert_eq!(Price::cost_usd(gpt, TokenCounts::default()).total, 0.0);
    }

    #[test]
    fn blended_is_output_price() {
        let table = PriceTable::builtin();
        assert_eq!(
            table.lookup("claude-opus-4-5").map(Price::blended_per_mtok),
            Some(25.0)
        );
        assert_eq!(
            table.lookup("deepseek-v4-pro").map(Price::blended_per_mtok),
            Some(0.87)
        );
    }

    #[test]
    fn lookup_exact_alias_and_case() {
        let t = PriceTable::builtin();
        assert_eq!(model_of(&t, "gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(model_of(&t, "GPT-4o-Mini").as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            model_of(&t, "deepseek-reasoner").as_deref(),
            Some("deepseek-v4-flash")
        );
        assert_eq!(
            model_of(&t, "claude-3-7-sonnet").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            model_of(&t, " deepseek-v3.2 ").as_deref(),
            Some("deepseek-v3.2")
        );
        assert_eq!(
            model_of(&t, "meta-llama/meta-llama-3.1-70b-instruct-turbo").as_deref(),
            Some("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo")
        );
    }

    #[test]
    fn lookup_strips_provider_prefixes() {
        let t = PriceTable::builtin();
        assert_eq!(model_of(&t, "openai/gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(
            model_of(&t, "deepseek/deepseek-chat").as_deref(),
            Some("deepseek-v4-flash")
        );
        assert_eq!(
            model_of(&t, "openrouter/anthropic/claude-haiku-4-5").as_deref(),
            Some("claude-haiku-4-5")
        );
        assert_eq!(
            model_of(&t, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo").as_deref(),
            Some("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo")
        );
    }

    #[test]
    fn lookup_dated_suffixes() {
        let t = PriceTable::builtin();
        assert_eq!(model_of(&t, "gpt-4o-2024-08-06").as_deref(), Some("gpt-4o"));
        assert_eq!(
            model_of(&t, "gpt-4o-mini-2024-07-18").as_deref(),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            model_of(&t, "openai/gpt-4.1-mini-2025-04-14").as_deref(),
            Some("gpt-4.1-mini")
        );
        assert_eq!(
            model_of(&t, "claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            model_of(&t, "claude-3-5-sonnet-20241022").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            model_of(&t, "claude-sonnet-4-5@20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            model_of(&t, "claude-3-5-sonnet-latest").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(model_of(&t, "gpt-4o-0513").as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn lookup_never_confuses_mini_and_full() {
        let t = PriceTable::builtin();
        assert_eq!(model_of(&t, "gpt-4o-mini").as_deref(), Some("gpt-4o-mini"));
        assert_eq!(model_of(&t, "gpt-4o").as_deref(), Some("gpt-4o"));
        assert_eq!(
            model_of(&t, "gpt-4.1-mini").as_deref(),
            Some("gpt-4.1-mini")
        );
        assert_eq!(model_of(&t, "gpt-4o-nano"), None);
        assert_eq!(model_of(&t, "gpt-4o-mini-tts"), None);
        assert_eq!(model_of(&t, "gpt-4o-2048"), None);
        assert_eq!(model_of(&t, "gpt-4o-2024-13-01"), None);
        assert_eq!(model_of(&t, "gpt-4"), None);
        assert_eq!(model_of(&t, ""), None);
        assert_eq!(model_of(&t, "gemini-2.5-flash-preview-05-20"), None);
    }

    #[test]
    fn overrides_replace_rows_and_claim_names() {
        let user = PriceTable::from_toml_str(
            r#"
            [server]
            listen = "127.0.0.1:9000"

            [[price]]
            provider = "azure"
            model = "gpt-4o"
            input = 2.0
            output = 8.0

            [[price]]
            provider = "deepseek"
            model = "deepseek-chat"
            input = 0.27
            cached_input = 0.07
            output = 1.10
            "#,
        )
        .expect("user table parses");
        let t = PriceTable::builtin().with_overrides(user);

        assert_eq!(
            t.len(),
            PriceTable::builtin().len() + 1,
            "gpt-4o replaced, deepseek-chat added"
        );
        let gpt = t.lookup("openai/gpt-4o-2024-08-06").expect("resolves");
        assert_eq!(
            (gpt.provider.as_str(), gpt.input, gpt.cached_input),
            ("azure", 2.0, None)
        );
        assert_eq!(t.lookup("gpt-4o-mini").map(|p| p.input), Some(0.15));
        assert_eq!(t.lookup("deepseek-chat").map(|p| p.output), Some(1.10));
        // The alias moved to the user row; the built-in row keeps its other names.
        let flash = t.lookup("deepseek-reasoner").expect("still an alias");
        assert_eq!(flash.aliases, vec!["deepseek-reasoner".to_string()]);
        assert_eq!(t.lookup("deepseek-v4-flash").map(|p| p.output), Some(0.28));
    }

    #[test]
    fn bad_tables_are_rejected() {
        let row = |body: &str| format!("[[price]]\nprovider = \"x\"\nmodel = \"m\"\n{body}");
        assert!(matches!(
            PriceTable::from_toml_str("[[price]\n"),
            Err(PriceTableError::Toml(_))
        ));
        assert!(matches!(
            PriceTable::from_toml_str(&row("input = 1.0\nouput = 2.0\n")),
            Err(PriceTableError::Toml(_))
        ));
        assert!(matches!(
            PriceTable::from_toml_str(&row("input = -1.0\noutput = 2.0\n")),
            Err(PriceTableError::InvalidRow { row: 1, .. })
        ));
        assert!(matches!(
            PriceTable::from_toml_str(&row("input = nan\noutput = 2.0\n")),
            Err(PriceTableError::InvalidRow { .. })
        ));
        let twice = format!(
            "{}{}",
            row("input = 1.0\noutput = 2.0\n"),
            row("aliases = [\"M\"]\ninput = 1.0\noutput = 2.0\n")
        );
        assert!(matches!(
            PriceTable::from_toml_str(&twice),
            Err(PriceTableError::DuplicateName { .. })
        ));
        assert!(PriceTable::from_toml_str("").is_ok_and(|t| t.is_empty()));
    }
}
