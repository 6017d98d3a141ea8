//! What the same traffic would cost on other models: a window's observed token mix (or a stated
//! volume) re-priced on every row of the price table, against a baseline.
//!
//! The seed's question, answered from real traffic: input, cached input and output tokens are
//! priced separately at each target's own rates, so a prompt-heavy mix and an output-heavy one
//! rank models differently, as they do on an invoice.
use serde::Serialize;

use crate::base::dialect::ALL_MODELS;
use crate::base::pricing::{Price, PriceTable, TokenCounts};
use crate::base::signal::Signal;
use crate::model::store::TargetStore;

/// A month at a measured pace: 365 × 24 / 12 hours, as the Cost panel's "month at this pace".
pub const HOURS_PER_MONTH: f64 = 730.0;
/// A month of a stated daily volume: 30 days, as the seed's ROI line reckons it.
pub const DAYS_PER_MONTH: f64 = 30.0;
/// The name of the row that prices the traffic where it runs now.
pub const CURRENT_MIX: &str = "current mix";

/// What a volume is measured over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Observed traffic over `seconds`.
    Window,
    /// A stated volume per day.
    Day,
    /// A stated volume per month.
    Month,
}

/// One source model's tokens and requests over the volume's period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceTraffic {
    pub model: String,
    /// Every prompt token, cached ones included.
    pub input_tokens: f64,
    /// The part of `input_tokens` served from a cache.
    pub cached_input_tokens: f64,
    pub output_tokens: f64,
    /// Tokens the gateway counts only as a total (no input/output split); priced at each
    /// target's output price, an upper bound, and the row says it is an estimate.
    pub unsplit_tokens: f64,
    pub requests: Option<f64>,
}

impl SourceTraffic {
    /// Every token it moved: input (cached included), output and unsplit.
    pub fn tokens(&self) -> f64 {
        self.input_tokens + self.output_tokens + self.unsplit_tokens
    }

    /// What this traffic costs at `price`, and whether part of it is an estimate.
    fn cost_at(&self, price: &Price) -> (f64, bool) {
        let split = price
            .cost_usd(TokenCounts {
                input: self.input_tokens,
                cached_input: self.cached_input_tokens,
                output: self.output_tokens,
            })
            .total;
        let unsplit = self.unsplit_tokens * price.blended_per_mtok() / 1e6;
        (split + unsplit, self.unsplit_tokens > 0.0)
    }
}

/// The traffic to price: the sources and the period they cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    pub period: Period,
    /// The window observed (`period` = window); 0 for a stated volume.
    pub seconds: f64,
    pub input_tokens: f64,
    pub cached_input_tokens: f64,
    pub output_tokens: f64,
    pub unsplit_tokens: f64,
    pub requests: Option<f64>,
    pub sources: Vec<SourceTraffic>,
}

impl Volume {
    /// Observed traffic over `seconds`.
    pub fn observed(seconds: f64, sources: Vec<SourceTraffic>) -> Self {
        Self::new(Period::Window, seconds, sources)
    }

    /// A stated volume: `tokens` per day or month, `input_share` of them prompt tokens and
    /// `cached_share` of those from a cache.
    pub fn stated(period: Period, tokens: f64, input_share: f64, cached_share: f64) -> Self {
        let input = tokens * input_share.clamp(0.0, 1.0);
        let source = SourceTraffic {
            model: "stated volume".into(),
            input_tokens: input,
            cached_input_tokens: input * cached_share.clamp(0.0, 1.0),
            output_tokens: tokens - input,
            unsplit_tokens: 0.0,
            requests: None,
        };
        Self::new(period, 0.0, vec![source])
    }

    fn new(period: Period, seconds: f64, sources: Vec<SourceTraffic>) -> Self {
        let sum = |f: fn(&SourceTraffic) -> f64| sources.iter().map(f).sum::<f64>();
        // Known only when every source counts them: a partial sum would read as the whole.
        let requests = sources
            .iter()
            .map(|s| s.requests)
            .sum::<Option<f64>>()
            .filter(|_| !sources.is_empty());
        Self {
            period,
            seconds,
            input_tokens: sum(|s| s.input_tokens),
            cached_input_tokens: sum(|s| s.cached_input_tokens),
            output_tokens: sum(|s| s.output_tokens),
            unsplit_tokens: sum(|s| s.unsplit_tokens),
            requests,
            sources,
        }
    }

    /// All of it restricted to one source model (the dashboard's "the selected model's traffic").
    pub fn only(&self, model: &str) -> Self {
        let sources = self
            .sources
            .iter()
            .filter(|s| s.model == model)
            .cloned()
            .collect();
        Self::new(self.period, self.seconds, sources)
    }

    /// What a volume is, in one line: `10.0M tokens a month (7.5M input, 0 cached, 2.5M output)`.
    pub fn describe(&self) -> String {
        use crate::base::format::{compact, window};
        let tokens = self.tokens();
        let period = match self.period {
            Period::Window => format!("in the last {}", window(self.seconds)),
            Period::Day => "a day".to_string(),
            Period::Month => "a month".to_string(),
        };
        let mut line = format!(
            "{} tokens {period} ({} input, {} cached, {} output",
            compact(tokens),
            compact(self.input_tokens),
            compact(self.cached_input_tokens),
            compact(self.output_tokens)
        );
        if self.unsplit_tokens > 0.0 {
            line.push_str(&format!(", {} unsplit", compact(self.unsplit_tokens)));
        }
        line.push(')');
        if let Some(r) = self.requests {
            line.push_str(&format!(", {} requests", compact(r)));
        }
        line
    }

    fn tokens(&self) -> f64 {
        self.input_tokens + self.output_tokens + self.unsplit_tokens
    }

    /// USD of this volume's period → (per hour, per month).
    fn rates(&self, usd: f64) -> (Option<f64>, f64) {
        match self.period {
            Period::Window if self.seconds > 0.0 => {
                let hour = usd / self.seconds * 3600.0;
                (Some(hour), hour * HOURS_PER_MONTH)
            }
            Period::Window => (None, 0.0),
            Period::Day => (Some(usd / 24.0), usd * DAYS_PER_MONTH),
            Period::Month => (Some(usd / HOURS_PER_MONTH), usd),
        }
    }
}

/// One row of the comparison: the traffic priced on one model (or where it runs now).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    /// The target model, or [`CURRENT_MIX`].
    pub model: String,
    pub provider: Option<String>,
    /// The row prices the traffic where it runs now (each source at its own price).
    pub current: bool,
    /// USD for the volume's period (the window, a day or a month); `null` with a reason when
    /// the model has no price.
    pub usd: Option<f64>,
    pub usd_per_hour: Option<f64>,
    pub usd_per_month: Option<f64>,
    /// USD per million tokens of this mix: what one token costs here on average.
    pub usd_per_mtok_blended: Option<f64>,
    /// This row's cost over the baseline's.
    pub ratio_to_baseline: Option<f64>,
    /// What moving from the baseline to this row saves, in % of the baseline (negative: costs
    /// more).
    pub savings_percent: Option<f64>,
    /// The same in USD per month.
    pub savings_usd_per_month: Option<f64>,
    pub price_as_of: Option<String>,
    pub price_source: Option<String>,
    /// When the price row was last compared with its source.
    pub price_checked: Option<String>,
    /// The row's check (or, without one, its date) is older than 180 days.
    pub price_possibly_stale: bool,
    /// Part of the traffic has no input/output split and is priced at the output price.
    pub estimate: bool,
    /// Why a figure is missing or partial.
    pub reason: Option<String>,
}

/// One source model's traffic moved to another model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub usd_per_month_now: Option<f64>,
    pub usd_per_month_there: Option<f64>,
    /// Positive: moving costs more.
    pub delta_usd_per_month: Option<f64>,
}

/// The whole comparison, as `llmtop cost --format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub volume: Volume,
    /// The row the ratios and savings are against.
    pub baseline: Option<String>,
    /// Cheapest first per month; rows without a price last.
    pub rows: Vec<CompareRow>,
    /// Each source model's traffic moved to the cheapest row and to the baseline.
    pub moves: Vec<Move>,
}

impl Comparison {
    /// The cheapest priced row that is not the current mix.
    pub fn cheapest(&self) -> Option<&CompareRow> {
        self.rows.iter().find(|r| !r.current && r.usd.is_some())
    }

    /// The current mix's row (observed traffic only).
    pub fn current(&self) -> Option<&CompareRow> {
        self.rows.iter().find(|r| r.current)
    }
}

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Target models by name as the price table knows them (aliases too); every row when empty.
    pub models: Vec<String>,
    /// The row to compare against: a model, or [`CURRENT_MIX`]. By default the current mix for
    /// observed traffic, else the first of `models`, else the dearest row.
    pub baseline: Option<String>,
    /// Today, for the staleness of prices (`YYYY-MM-DD`); no staleness without it.
    pub today: Option<chrono::NaiveDate>,
}

/// The traffic over `[eval_t - range, eval_t]`, per model, from the store's counters.
pub fn observed_traffic(
    store: &TargetStore,
    only: Option<&[&str]>,
    eval_t: f64,
    range: f64,
) -> Volume {
    let sources = store
        .models()
        .into_iter()
        .filter(|m| m != ALL_MODELS && only.is_none_or(|o| o.contains(&m.as_str())))
        .filter_map(|model| {
            let one = [model.as_str()];
            let inc = |s| store.sum_increase(s, Some(&one), eval_t, range);
            let (input, output) = (inc(Signal::TokensInput), inc(Signal::TokensOutput));
            let split = input.is_some() || output.is_some();
            let unsplit = if split {
                None
            } else {
                inc(Signal::TokensTotal)
            };
            let source = SourceTraffic {
                input_tokens: input.unwrap_or(0.0),
                cached_input_tokens: inc(Signal::TokensCachedInput).unwrap_or(0.0),
                output_tokens: output.unwrap_or(0.0),
                unsplit_tokens: unsplit.unwrap_or(0.0),
                requests: inc(Signal::Requests),
                model,
            };
            (source.tokens() > 0.0).then_some(source)
        })
        .collect();
    Volume::observed(range, sources)
}

/// Prices `volume` on the chosen models. Fails only on a baseline that is not among the rows.
pub fn compare(
    volume: &Volume,
    prices: &PriceTable,
    options: &CompareOptions,
) -> Result<Comparison, String> {
    let observed = volume.period == Period::Window;
    let mut rows = Vec::new();
    if observed {
        rows.push(current_row(volume, prices, options.today));
    }
    if options.models.is_empty() {
        for price in prices.rows() {
            rows.push(model_row(volume, &price.model, Some(price), options.today));
        }
    } else {
        for name in &options.models {
            rows.push(model_row(volume, name, prices.lookup(name), options.today));
        }
    }
    let baseline_name = match &options.baseline {
        Some(b) => Some(
            rows.iter()
                .find(|r| same_model(&r.model, b, prices))
                .map(|r| r.model.clone())
                .ok_or_else(|| {
                    format!(
                        "baseline {b:?} is not among the rows compared (name one of --models, or \"{CURRENT_MIX}\" for observed traffic)"
                    )
                })?,
        ),
        None if observed => Some(CURRENT_MIX.to_string()),
        None if !options.models.is_empty() => options.models.first().cloned(),
        None => rows
            .iter()
            .filter(|r| r.usd.is_some())
            .max_by(|a, b| a.usd.unwrap_or(0.0).total_cmp(&b.usd.unwrap_or(0.0)))
            .map(|r| r.model.clone()),
    };
    let baseline = baseline_name
        .as_deref()
        .and_then(|b| rows.iter().find(|r| r.model == b))
        .and_then(|r| r.usd.zip(r.usd_per_month));
    for row in &mut rows {
        if let (Some((base, base_month)), Some(usd), Some(month)) =
            (baseline, row.usd, row.usd_per_month)
            && base > 0.0
        {
            row.ratio_to_baseline = Some(usd / base);
            row.savings_percent = Some((base - usd) / base * 100.0);
            row.savings_usd_per_month = Some(base_month - month);
        }
    }
    rows.sort_by(|a, b| match (a.usd_per_month, b.usd_per_month) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.model.cmp(&b.model)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.model.cmp(&b.model),
    });
    let mut comparison = Comparison {
        volume: volume.clone(),
        baseline: baseline_name,
        rows,
        moves: Vec::new(),
    };
    if observed {
        comparison.moves = moves(volume, prices, &comparison);
    }
    Ok(comparison)
}

/// Whether a row's name and a name the user typed are the same model.
fn same_model(row: &str, asked: &str, prices: &PriceTable) -> bool {
    if row.eq_ignore_ascii_case(asked) {
        return true;
    }
    match (prices.lookup(row), prices.lookup(asked)) {
        (Some(a), Some(b)) => a.model == b.model,
        _ => false,
    }
}

fn model_row(
    volume: &Volume,
    name: &str,
    price: Option<&Price>,
    today: Option<chrono::NaiveDate>,
) -> CompareRow {
    let Some(price) = price else {
        return CompareRow {
            reason: Some(format!(
                "no price for {name} in the table (add a [[price]] row to the config)"
            )),
            ..empty_row(name)
        };
    };
    let (usd, estimate) = volume
        .sources
        .iter()
        .map(|s| s.cost_at(price))
        .fold((0.0, false), |(sum, est), (usd, e)| (sum + usd, est || e));
    let mut row = priced_row(volume, name, usd, estimate);
    row.provider = Some(price.provider.clone());
    row.price_as_of = price.as_of.clone();
    row.price_source = price.source.clone();
    row.price_checked = price.checked.clone();
    row.price_possibly_stale = today.is_some_and(|t| price.possibly_stale(t));
    row
}

/// Each source at its own model's price; sources without one are left out and named.
fn current_row(
    volume: &Volume,
    prices: &PriceTable,
    today: Option<chrono::NaiveDate>,
) -> CompareRow {
    let mut usd = 0.0;
    let mut estimate = false;
    let mut unpriced = Vec::new();
    let mut stale = false;
    for source in &volume.sources {
        match prices.lookup(&source.model) {
            Some(price) => {
                let (cost, e) = source.cost_at(price);
                usd += cost;
                estimate |= e;
                stale |= today.is_some_and(|t| price.possibly_stale(t));
            }
            None => unpriced.push(source.model.as_str()),
        }
    }
    if !unpriced.is_empty() && unpriced.len() == volume.sources.len() {
        return CompareRow {
            current: true,
            reason: Some(format!("no price for {}", unpriced.join(", "))),
            ..empty_row(CURRENT_MIX)
        };
    }
    let mut row = priced_row(volume, CURRENT_MIX, usd, estimate);
    row.current = true;
    row.price_possibly_stale = stale;
    if !unpriced.is_empty() {
        row.reason = Some(format!(
            "no price for {}: their tokens are left out of this row",
            unpriced.join(", ")
        ));
    }
    row
}

fn priced_row(volume: &Volume, name: &str, usd: f64, estimate: bool) -> CompareRow {
    let (per_hour, per_month) = volume.rates(usd);
    let tokens = volume.tokens();
    CompareRow {
        usd: Some(usd),
        usd_per_hour: per_hour,
        usd_per_month: per_hour.map(|_| per_month),
        usd_per_mtok_blended: (tokens > 0.0).then(|| usd / tokens * 1e6),
        estimate,
        ..empty_row(name)
    }
}

fn empty_row(name: &str) -> CompareRow {
    CompareRow {
        model: name.to_string(),
        provider: None,
        current: false,
        usd: None,
        usd_per_hour: None,
        usd_per_month: None,
        usd_per_mtok_blended: None,
        ratio_to_baseline: None,
        savings_percent: None,
        savings_usd_per_month: None,
        price_as_of: None,
        price_source: None,
        price_checked: None,
        price_possibly_stale: false,
        estimate: false,
        reason: None,
    }
}

/// Each source model moved to the cheapest row and to the baseline model (when it is one).
fn moves(volume: &Volume, prices: &PriceTable, comparison: &Comparison) -> Vec<Move> {
    let mut targets: Vec<&str> = Vec::new();
    if let Some(cheapest) = comparison.cheapest() {
        targets.push(&cheapest.model);
    }
    if let Some(b) = comparison.baseline.as_deref()
        && b != CURRENT_MIX
        && !targets.contains(&b)
    {
        targets.push(b);
    }
    let mut out = Vec::new();
    for source in &volume.sources {
        let month = |price: Option<&Price>| {
            price.and_then(|p| {
                let (per_hour, per_month) = volume.rates(source.cost_at(p).0);
                per_hour.map(|_| per_month)
            })
        };
        let now = month(prices.lookup(&source.model));
        for &to in &targets {
            if same_model(&source.model, to, prices) {
                continue;
            }
            let there = month(prices.lookup(to));
            out.push(Move {
                from: source.model.clone(),
                to: to.to_string(),
                usd_per_month_now: now,
                usd_per_month_there: there,
                delta_usd_per_month: now.zip(there).map(|(n, t)| t - n),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's flat prices (one price per token, input or output).
    fn seed_prices() -> PriceTable {
        PriceTable::from_toml_str(
            r#"
[[price]]
provider = "deepseek"
model = "deepseek-v3.2"
input = 0.42
output = 0.42
[[price]]
provider = "openai"
model = "gpt-4o"
input = 8.0
output = 8.0
[[price]]
provider = "anthropic"
model = "claude-3-5-sonnet"
input = 15.0
output = 15.0
"#,
        )
        .unwrap()
    }

    fn row<'a>(c: &'a Comparison, model: &str) -> &'a CompareRow {
        c.rows.iter().find(|r| r.model == model).unwrap()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// 10 M tokens a month: $4.20, $80.00, $150.00; DeepSeek saves 94.75 % against GPT-4o and
    /// 97.2 % against Claude — the seed's table, and the split does not matter at flat prices.
    #[test]
    fn the_seeds_table_for_ten_million_tokens_a_month() {
        let prices = seed_prices();
        for share in [0.75, 0.5, 0.0] {
            let volume = Volume::stated(Period::Month, 10e6, share, 0.0);
            let options = |baseline: &str| CompareOptions {
                baseline: Some(baseline.into()),
                ..CompareOptions::default()
            };
            let vs_openai = compare(&volume, &prices, &options("gpt-4o")).unwrap();
            assert!(close(row(&vs_openai, "deepseek-v3.2").usd, 4.20));
            assert!(close(row(&vs_openai, "gpt-4o").usd, 80.0));
            assert!(close(row(&vs_openai, "claude-3-5-sonnet").usd, 150.0));
            assert!(close(
                row(&vs_openai, "deepseek-v3.2").savings_percent,
                94.75
            ));
            assert!(close(row(&vs_openai, "gpt-4o").savings_percent, 0.0));
            let vs_claude = compare(&volume, &prices, &options("claude-3-5-sonnet")).unwrap();
            assert!(close(
                row(&vs_claude, "deepseek-v3.2").savings_percent,
                97.2
            ));
            let order: Vec<&str> = vs_claude.rows.iter().map(|r| r.model.as_str()).collect();
            assert_eq!(order, ["deepseek-v3.2", "gpt-4o", "claude-3-5-sonnet"]);
        }
    }

    /// 1 M tokens a day moved from GPT-4o to DeepSeek: 30 days × ($8 − $0.42) = $227.40 a month.
    #[test]
    fn the_seeds_roi_line() {
        let volume = Volume::stated(Period::Day, 1e6, 0.75, 0.0);
        let c = compare(
            &volume,
            &seed_prices(),
            &CompareOptions {
                models: vec!["deepseek-v3.2".into(), "gpt-4o".into()],
                baseline: Some("gpt-4o".into()),
                ..CompareOptions::default()
            },
        )
        .unwrap();
        let deepseek = row(&c, "deepseek-v3.2");
        assert!(
            close(deepseek.savings_usd_per_month, 227.40),
            "{deepseek:?}"
        );
        assert!(close(deepseek.usd, 0.42));
        assert!(close(deepseek.usd_per_month, 12.6));
    }

    /// Input, cached input and output priced separately, by hand: 3 M input of which 1 M cached,
    /// 0.5 M output on model A over an hour, and 1 M unsplit tokens on model B.
    #[test]
    fn observed_traffic_is_repriced_token_kind_by_token_kind() {
        let prices = PriceTable::from_toml_str(
            r#"
[[price]]
provider = "x"
model = "cheap"
input = 1.0
cached_input = 0.1
output = 2.0
[[price]]
provider = "y"
model = "dear"
input = 10.0
output = 30.0
"#,
        )
        .unwrap();
        let volume = Volume::observed(
            3600.0,
            vec![
                SourceTraffic {
                    model: "cheap".into(),
                    input_tokens: 3e6,
                    cached_input_tokens: 1e6,
                    output_tokens: 0.5e6,
                    unsplit_tokens: 0.0,
                    requests: Some(100.0),
                },
                SourceTraffic {
                    model: "unknown-model".into(),
                    unsplit_tokens: 1e6,
                    ..SourceTraffic::default()
                },
            ],
        );
        let c = compare(&volume, &prices, &CompareOptions::default()).unwrap();
        assert_eq!(c.baseline.as_deref(), Some(CURRENT_MIX));
        // Now: cheap at its own price, 2 M × $1 + 1 M × $0.1 + 0.5 M × $2 = $3.10; the unknown
        // model's tokens are left out and named.
        let current = c.current().unwrap();
        assert!(close(current.usd, 3.10), "{current:?}");
        assert!(close(current.usd_per_month, 3.10 * 730.0));
        assert!(current.reason.as_deref().unwrap().contains("unknown-model"));
        // All of it on "cheap": $3.10 + 1 M unsplit at the output price $2 = $5.10, an estimate.
        let cheap = row(&c, "cheap");
        assert!(close(cheap.usd, 5.10) && cheap.estimate, "{cheap:?}");
        // On "dear" (no cached price: cached input at the input price): 3 M × $10 + 0.5 M × $30
        // + 1 M × $30 = $75.
        let dear = row(&c, "dear");
        assert!(close(dear.usd, 75.0), "{dear:?}");
        assert!(close(dear.ratio_to_baseline, 75.0 / 3.10));
        assert!(close(dear.usd_per_mtok_blended, 75.0 / 4.5));
        // Cheapest first, the current mix among them.
        let order: Vec<&str> = c.rows.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(order, [CURRENT_MIX, "cheap", "dear"]);
        // Moving cheap's traffic to dear: $75 − … per hour, × 730.
        let to_dear = c.moves.iter().find(|m| m.to == "dear");
        assert!(
            to_dear.is_none(),
            "dear is neither the cheapest nor the baseline"
        );
        let restricted = volume.only("cheap");
        assert!(close(Some(restricted.input_tokens), 3e6));
        assert_eq!(restricted.sources.len(), 1);
    }

    #[test]
    fn a_model_without_a_price_says_so_and_a_bad_baseline_is_an_error() {
        let volume = Volume::stated(Period::Month, 1e6, 0.5, 0.0);
        let c = compare(
            &volume,
            &seed_prices(),
            &CompareOptions {
                models: vec!["gpt-4o".into(), "nonesuch-7b".into()],
                ..CompareOptions::default()
            },
        )
        .unwrap();
        let none = row(&c, "nonesuch-7b");
        assert_eq!(none.usd, None);
        assert!(none.reason.as_deref().unwrap().contains("no price"));
        assert_eq!(c.rows.last().unwrap().model, "nonesuch-7b");
        assert_eq!(c.baseline.as_deref(), Some("gpt-4o"));
        let err = compare(
            &volume,
            &seed_prices(),
            &CompareOptions {
                baseline: Some("gpt-9".into()),
                ..CompareOptions::default()
            },
        )
        .unwrap_err();
        assert!(err.contains("gpt-9"), "{err}");
    }
}
