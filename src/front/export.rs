//! The bridge to the tools a team graduates to: Prometheus recording and alerting rules and a
//! Grafana dashboard, their PromQL generated from the same dialect tables fleet mode queries with,
//! so the rules compute the figures llmtop shows and the panels draw what the dashboard draws.
use crate::base::dialect::Dialect;
use crate::base::pricing::{Price, PriceTable};
use crate::base::signal::Signal;
use crate::io::source::queries::{self, Group, QueryBuilder, quote, regex_escape};
use crate::model::alert::{Figure, Op, Quantile, Rule, Scope, Severity};

/// Seconds in an hour: rates per second become burn per hour.
const HOUR: f64 = 3600.0;
/// Prices are per million tokens.
const TOKENS_PER_PRICE_UNIT: f64 = 1e6;
/// A temporary label that keeps a sum's parts apart through `or` (summed away after).
const PART_LABEL: &str = "llmtop_part";
/// The version and date tags a price lookup strips from a model name (`gpt-4o-2024-08-06`,
/// `claude-3-5-sonnet@20241022`, `-latest`), as RE2.
const VERSION_TAG: &str = r"(?:[-@](?:20\d\d-\d\d-\d\d|20\d{6}|\d\d-\d\d|\d{4}|latest))?";

/// The quantiles every latency-like figure is recorded at.
const QUANTILES: [(Quantile, f64, &str); 3] = [
    (Quantile::P50, 0.5, "p50"),
    (Quantile::P95, 0.95, "p95"),
    (Quantile::P99, 0.99, "p99"),
];

/// One price row as the exported cost queries apply it: which models it prices and what a token
/// per second costs per hour.
#[derive(Debug, Clone)]
struct CostRow {
    /// RE2 over the dialect's model label.
    models: String,
    input: f64,
    /// Cached input's price minus the input price: cached tokens are counted in the input too.
    cached_extra: f64,
    output: f64,
}

impl CostRow {
    fn new(models: String, price: &Price) -> Self {
        // Twelve significant digits: 0.000504, not 0.0005040000000000001, in a file people read.
        let per_hour = |usd_per_mtok: f64| {
            let exact = usd_per_mtok * HOUR / TOKENS_PER_PRICE_UNIT;
            format!("{exact:.11e}").parse().unwrap_or(exact)
        };
        Self {
            models,
            input: per_hour(price.input),
            cached_extra: per_hour(price.cached_input.unwrap_or(price.input) - price.input),
            output: per_hour(price.output),
        }
    }
}

/// The PromQL of every canonical figure for one dialect, under one selector.
pub struct FigureQueries<'d> {
    q: QueryBuilder<'d>,
    cost_rows: Vec<CostRow>,
}

impl<'d> FigureQueries<'d> {
    /// `models`: price exactly these names (looked up as llmtop looks them up); `None` prices
    /// every row of the table by a regex over its names, provider prefixes and date tags.
    pub fn new(
        dialect: &'d Dialect,
        selector: &str,
        prices: &PriceTable,
        models: Option<&[String]>,
    ) -> anyhow::Result<Self> {
        let q = QueryBuilder::new(dialect, selector, "instance")?;
        let cost_rows = match models {
            Some(names) => names
                .iter()
                .filter_map(|name| {
                    let price = prices.lookup(name)?;
                    Some(CostRow::new(regex_escape(name), price))
                })
                .collect(),
            None => prices
                .rows()
                .iter()
                .map(|price| {
                    let names: Vec<String> = price.names().map(regex_escape).collect();
                    CostRow::new(
                        format!("(?i)(?:.+/)?(?:{}){VERSION_TAG}", names.join("|")),
                        price,
                    )
                })
                .collect(),
        };
        Ok(Self { q, cost_rows })
    }

    pub fn dialect(&self) -> &Dialect {
        self.q.dialect()
    }

    pub fn provides(&self, signal: Signal) -> bool {
        self.dialect().provides(signal)
    }

    /// Finished requests per second.
    pub fn requests(&self, group: Group, range: &str) -> Option<String> {
        self.q.counter(Signal::Requests, group, range, false)
    }

    /// Failed requests per second; zero where a dialect that reports failures has no failure
    /// series yet (its client library creates them on the first failure), as llmtop counts them.
    pub fn errors(&self, group: Group, range: &str) -> Option<String> {
        let requests = self.requests(group, range)?;
        let failed = self
            .q
            .counter(Signal::RequestsFailed, group, range, false)?;
        Some(format!("({failed} or {requests} * 0)"))
    }

    /// Requests that did not fail, per second.
    pub fn ok(&self, group: Group, range: &str) -> Option<String> {
        let requests = self.requests(group, range)?;
        Some(format!("{requests} - {}", self.errors(group, range)?))
    }

    /// Errors over requests, 0…1.
    pub fn error_rate(&self, group: Group, range: &str) -> Option<String> {
        let requests = self.requests(group, range)?;
        Some(format!("{} / {requests}", self.errors(group, range)?))
    }

    pub fn quantile(&self, signal: Signal, q: f64, group: Group, range: &str) -> Option<String> {
        self.q.quantile(q, signal, group, range)
    }

    /// The bucket rates a heatmap is drawn from (`sum by (le)`), as increases per step.
    pub fn heatmap(&self, signal: Signal, range: &str) -> Option<String> {
        self.q.buckets(signal, Group::Total, range, true)
    }

    /// Tokens per second of one token signal.
    pub fn tokens(&self, signal: Signal, group: Group, range: &str) -> Option<String> {
        self.q.counter(signal, group, range, false)
    }

    /// All tokens per second: the exported total, else input + output (embeddings have no
    /// output), per model as llmtop adds them. `increase` gives tokens over the range instead.
    pub fn tokens_total(&self, group: Group, range: &str, increase: bool) -> Option<String> {
        let of = |s| self.q.counter(s, group, range, increase);
        let split = sum_parts(
            group,
            &[
                (of(Signal::TokensInput), 1.0),
                (of(Signal::TokensOutput), 1.0),
            ],
        );
        match (of(Signal::TokensTotal), split) {
            (Some(total), Some(split)) => Some(format!("({total} or {split})")),
            (total, split) => total.or(split),
        }
    }

    /// USD per hour: the gateway's own spend counter where it has one, else tokens × the price
    /// table, each row pricing its models' input, cached input and output (or, where the
    /// gateway exports only a total, the total at the output price, as llmtop's estimate does).
    pub fn cost_per_hour(&self, group: Group, range: &str) -> Option<String> {
        let by_model = self.cost_by_model(range)?;
        Some(match group {
            Group::Model => by_model,
            _ => format!("sum({by_model})"),
        })
    }

    fn cost_by_model(&self, range: &str) -> Option<String> {
        let spend = self
            .q
            .counter(Signal::SpendUsd, Group::Model, range, false)
            .map(|s| format!("{s} * {HOUR}"));
        let rows: Vec<String> = self
            .cost_rows
            .iter()
            .filter_map(|row| {
                let q = self.q.with_model_regex(&row.models);
                let of = |s| q.counter(s, Group::Model, range, false);
                let split = sum_parts(
                    Group::Model,
                    &[
                        (of(Signal::TokensInput), row.input),
                        (of(Signal::TokensCachedInput), row.cached_extra),
                        (of(Signal::TokensOutput), row.output),
                    ],
                );
                let blended = of(Signal::TokensTotal).map(|t| format!("{t} * {}", row.output));
                match (split, blended) {
                    (Some(s), Some(b)) => Some(format!("({s} or {b})")),
                    (s, b) => s.or(b),
                }
            })
            .collect();
        let priced = (!rows.is_empty()).then(|| rows.join(" or "));
        match (spend, priced) {
            (Some(s), Some(p)) => Some(format!("({s}) or ({p})")),
            (s, p) => s.or(p),
        }
    }

    /// A gauge (in flight, queued, KV cache, cache hit ratio), aggregated as llmtop does.
    pub fn gauge(&self, signal: Signal) -> Option<String> {
        self.q.gauge(signal)
    }

    /// Per upstream (the `model` label), the worst state: 0 healthy, 1 degraded, 2 down.
    pub fn upstream_state(&self) -> Option<String> {
        self.q.gauge_by_model(Signal::UpstreamState)
    }

    /// Fallbacks per second, keyed `from → to`.
    pub fn fallbacks(&self, signal: Signal, range: &str) -> Option<String> {
        self.q.counter(signal, Group::Model, range, false)
    }

    /// Per upstream, the share of its rate-limit window still allowed (0…1).
    pub fn rate_limit_headroom(&self) -> Option<String> {
        let remaining = self.q.gauge_by_model(Signal::RemainingRequests)?;
        let limit = self.q.gauge_by_model(Signal::RpmLimit)?;
        Some(format!("{remaining} / {limit}"))
    }

    /// 1 when the engine is saturated (KV cache ≥ 95 %, or the queue grew by a request or more
    /// over the range, never emptying in its later half, while completions stayed flat), else 0;
    /// as `model::saturation` judges it.
    pub fn saturated(&self, range_seconds: f64) -> Option<String> {
        use crate::model::saturation::{
            CHANCE_SIGMAS, FLAT_THROUGHPUT, KV_SATURATED, QUEUE_GROWTH,
        };
        let range = queries::duration(range_seconds);
        let half_seconds = range_seconds / 2.0;
        let half = queries::duration(half_seconds);
        let kv = self
            .gauge(Signal::KvCacheUsage)
            .map(|kv| format!("({kv} >= bool {KV_SATURATED})"));
        // `saturation::completions_flat` on counts: with L the later half's requests and W the
        // whole range's, the rise is 2L − W and the earlier half W − L.
        let queue = match (
            self.gauge(Signal::Queued),
            self.q.gauge_offset(Signal::Queued, Some(&range)),
            self.requests(Group::Total, &half),
            self.requests(Group::Total, &range),
        ) {
            (Some(now), Some(before), Some(later), Some(whole)) => {
                let l = format!("({later} * {half_seconds})");
                let w = format!("({whole} * {range_seconds})");
                let rise = format!("(2 * {l} - {w})");
                let flat = format!(
                    "clamp_max(({rise} <= bool {:.3} * ({w} - {l})) + ({rise} <= bool {CHANCE_SIGMAS} * sqrt({w})), 1)",
                    FLAT_THROUGHPUT - 1.0
                );
                // Never emptied in the later half: at every step of a subquery over it.
                let never_empty = format!("(min_over_time(({now})[{half}:]) > bool 0)");
                Some(format!(
                    "(({now} - {before}) >= bool {QUEUE_GROWTH}) * {never_empty} * {flat}"
                ))
            }
            _ => None,
        };
        match (kv, queue) {
            (Some(k), Some(q)) => Some(format!("clamp_max({k} + ({q} or vector(0)), 1)")),
            (k, q) => k.or(q),
        }
    }

    /// 1 when decoding runs under a quarter of its median over `window` while requests run.
    pub fn stalled(&self, range_seconds: f64, window_seconds: f64) -> Option<String> {
        use crate::model::saturation::STALL_SHARE;
        let range = queries::duration(range_seconds);
        let output = self.tokens(Signal::TokensOutput, Group::Total, &range)?;
        let running = self.gauge(Signal::InFlight)?;
        let step = queries::duration(window_seconds / 12.0);
        let window = queries::duration(window_seconds);
        Some(format!(
            "({output} < bool {STALL_SHARE} * quantile_over_time(0.5, ({output})[{window}:{step}])) * ({running} > bool 0)"
        ))
    }

    /// `up == 0` for the selected targets: the scrape fails.
    pub fn stale(&self) -> String {
        match self.q.user_matchers() {
            Some(m) => format!("up{m} == 0"),
            None => "up == 0".to_string(),
        }
    }
}

/// `Σ coefficient × part` over the parts that exist, kept apart through `or` by a temporary label
/// so that one absent part does not drop the others (`a + b` would).
fn sum_parts(group: Group, parts: &[(Option<String>, f64)]) -> Option<String> {
    let present: Vec<String> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, (expr, k))| {
            let expr = expr.as_ref()?;
            if *k == 0.0 {
                return None;
            }
            let scaled = if *k == 1.0 {
                expr.clone()
            } else {
                format!("{expr} * {k}")
            };
            Some(format!(
                "label_replace({scaled}, \"{PART_LABEL}\", \"{i}\", \"\", \"\")"
            ))
        })
        .collect();
    match present.len() {
        0 => None,
        _ => Some(match group {
            Group::Model => format!("sum by (model) ({})", present.join(" or ")),
            _ => format!("sum({})", present.join(" or ")),
        }),
    }
}

/// One recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub record: String,
    pub expr: String,
}

/// The recorded name of a figure: `llmtop:error_rate:5m`, `llmtop:error_rate_by_model:5m`.
pub fn record_name(figure: &str, by_model: bool, range: &str) -> String {
    if by_model {
        format!("llmtop:{figure}_by_model:{range}")
    } else {
        format!("llmtop:{figure}:{range}")
    }
}

/// The recording rules of every figure the dialect provides, over `range_seconds`.
pub fn recording_rules(f: &FigureQueries<'_>, range_seconds: f64) -> Vec<Recorded> {
    let range = queries::duration(range_seconds);
    let mut out = Vec::new();
    let mut push = |name: &str, by_model: bool, expr: Option<String>| {
        if let Some(expr) = expr {
            out.push(Recorded {
                record: record_name(name, by_model, &range),
                expr,
            });
        }
    };
    for (group, by_model) in [(Group::Total, false), (Group::Model, true)] {
        push("requests_per_second", by_model, f.requests(group, &range));
        push("errors_per_second", by_model, f.errors(group, &range));
        push("error_rate", by_model, f.error_rate(group, &range));
        for (_, q, tag) in QUANTILES {
            push(
                &format!("{tag}_latency"),
                by_model,
                f.quantile(Signal::LatencySeconds, q, group, &range),
            );
            push(
                &format!("ttft_{tag}"),
                by_model,
                f.quantile(Signal::TtftSeconds, q, group, &range),
            );
        }
        push(
            "tokens_input_per_second",
            by_model,
            f.tokens(Signal::TokensInput, group, &range),
        );
        push(
            "tokens_output_per_second",
            by_model,
            f.tokens(Signal::TokensOutput, group, &range),
        );
        push(
            "tokens_per_second",
            by_model,
            f.tokens_total(group, &range, false),
        );
        push("cost_per_hour", by_model, f.cost_per_hour(group, &range));
    }
    for (_, q, tag) in QUANTILES {
        push(
            &format!("queue_time_{tag}"),
            false,
            f.quantile(Signal::QueueTimeSeconds, q, Group::Total, &range),
        );
    }
    push("saturated", false, f.saturated(range_seconds));
    push(
        "stalled",
        false,
        f.stalled(range_seconds, 10.0 * range_seconds),
    );
    // Gauges are instant: no range in their names.
    for (signal, name) in [
        (Signal::InFlight, "in_flight"),
        (Signal::Queued, "queued"),
        (Signal::KvCacheUsage, "kv_cache_usage"),
        (Signal::CacheHitRatio, "cache_hit_ratio"),
    ] {
        if let Some(expr) = f.gauge(signal) {
            out.push(Recorded {
                record: format!("llmtop:{name}"),
                expr,
            });
        }
    }
    if let Some(expr) = f.upstream_state() {
        out.push(Recorded {
            record: "llmtop:upstream_state".into(),
            expr,
        });
    }
    if let Some(expr) = f.rate_limit_headroom() {
        out.push(Recorded {
            record: "llmtop:rate_limit_headroom".into(),
            expr,
        });
    }
    out
}

/// One `[[alert]]` rule as a Prometheus alerting rule over the recorded figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerting {
    pub alert: String,
    pub expr: String,
    pub for_seconds: f64,
    pub severity: Severity,
    pub summary: String,
    pub description: String,
}

/// The alerting rule for `rule`, or why it has none here (a figure this dialect does not
/// export, or one Prometheus cannot compute).
pub fn alerting_rule(
    rule: &Rule,
    recorded: &[Recorded],
    f: &FigureQueries<'_>,
    range_seconds: f64,
) -> Result<Alerting, String> {
    let range = queries::duration(range_seconds);
    let e = &rule.expr;
    let has = |name: &str| recorded.iter().any(|r| r.record == name);
    let figure_name = match e.figure {
        Figure::Latency(q) => format!("{}_latency", quantile_tag(q)),
        Figure::Ttft(q) => format!("ttft_{}", quantile_tag(q)),
        Figure::QueueTime(q) => format!("queue_time_{}", quantile_tag(q)),
        Figure::ErrorRate => "error_rate".into(),
        Figure::RequestsPerSecond => "requests_per_second".into(),
        Figure::CostPerHour => "cost_per_hour".into(),
        Figure::KvCacheUsage => "kv_cache_usage".into(),
        Figure::Queued => "queued".into(),
        Figure::UpstreamDown => "upstream_state".into(),
        Figure::Saturated => "saturated".into(),
        Figure::Stalled => "stalled".into(),
        Figure::Stale => String::new(),
        Figure::BudgetRunsOut => {
            return Err(
                "budget_runs_out needs llmtop's budget model (monthly budgets, reset dates); \
                 `llmtop check` judges it"
                    .into(),
            );
        }
    };
    let instant = matches!(
        e.figure,
        Figure::KvCacheUsage | Figure::Queued | Figure::UpstreamDown
    );
    let by_model = matches!(e.scope, Scope::EachModel | Scope::Model(_));
    let name = if instant {
        format!("llmtop:{figure_name}")
    } else {
        record_name(&figure_name, by_model, &range)
    };
    let series = match &e.scope {
        Scope::Model(m) => format!("{name}{{model={}}}", quote(m)),
        _ => name.clone(),
    };
    let expr = match (e.figure, e.compare) {
        (Figure::Stale, _) => f.stale(),
        (Figure::UpstreamDown, _) => format!("{series} >= 1.5"),
        (Figure::Saturated | Figure::Stalled, _) => format!("{series} == 1"),
        (_, Some((op, limit))) => format!("{series} {} {limit}", op_text(op)),
        (_, None) => return Err("a comparison is missing".into()),
    };
    if e.figure != Figure::Stale && !has(&name) {
        return Err(format!(
            "the {} dialect exports nothing {figure_name} is computed from",
            f.dialect().name
        ));
    }
    let subject = match (e.figure, &e.scope) {
        (Figure::UpstreamDown, _) => " on {{ $labels.model }}",
        (_, Scope::EachModel | Scope::Model(_)) => " for {{ $labels.model }}",
        _ => "",
    };
    Ok(Alerting {
        alert: alert_name(&rule.name),
        expr,
        for_seconds: rule.for_seconds,
        severity: rule.severity,
        summary: format!("{}: {}", rule.name, rule.text),
        description: if e.compare.is_some() {
            format!(
                "llmtop rule {:?} ({}){subject}: the value is {{{{ $value }}}}",
                rule.name, rule.text
            )
        } else {
            format!("llmtop rule {:?} ({}){subject}", rule.name, rule.text)
        },
    })
}

fn quantile_tag(q: Quantile) -> &'static str {
    match q {
        Quantile::P50 => "p50",
        Quantile::P95 => "p95",
        Quantile::P99 => "p99",
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
    }
}

/// `error rate` → `LlmtopErrorRate`: Prometheus' convention for alert names.
fn alert_name(name: &str) -> String {
    let mut out = String::from("Llmtop");
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// What `llmtop export prometheus-rules` asks for.
pub struct RulesRequest<'a> {
    pub range_seconds: f64,
    pub alerts: &'a [Rule],
    /// The command line, for the file's header.
    pub command: &'a str,
}

/// The rule file (Prometheus' YAML) and a line per `[[alert]]` rule left out, with why.
pub fn prometheus_rules(f: &FigureQueries<'_>, req: &RulesRequest<'_>) -> (String, Vec<String>) {
    let d = f.dialect();
    let recorded = recording_rules(f, req.range_seconds);
    let mut skipped = Vec::new();
    let mut out = format!(
        "# Prometheus rules for the {} dialect ({}), written by llmtop {}:\n#   {}\n\
         # Recording rules: llmtop's figures over {} (llmtop:FIGURE:RANGE, and _by_model with a\n\
         # `model` label), from the same dialect table fleet mode queries with.\n\
         # Alerting rules: the [[alert]] set over those figures.\n",
        d.name,
        d.description,
        env!("CARGO_PKG_VERSION"),
        req.command,
        queries::duration(req.range_seconds),
    );
    let group_name = d.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    out.push_str("groups:\n");
    out.push_str(&format!(
        "  - name: llmtop_{group_name}_figures\n    rules:\n"
    ));
    for r in &recorded {
        out.push_str(&format!(
            "      - record: {}\n        expr: {}\n",
            r.record,
            yaml_string(&r.expr)
        ));
    }
    let mut alerting = Vec::new();
    for rule in req.alerts {
        match alerting_rule(rule, &recorded, f, req.range_seconds) {
            Ok(a) => alerting.push(a),
            Err(why) => skipped.push(format!("{:?} ({}): {why}", rule.name, rule.text)),
        }
    }
    if !alerting.is_empty() || !skipped.is_empty() {
        out.push_str(&format!(
            "  - name: llmtop_{group_name}_alerts\n    rules:\n"
        ));
        for why in &skipped {
            out.push_str(&format!("      # not exported: {why}\n"));
        }
        for a in &alerting {
            out.push_str(&format!(
                "      - alert: {}\n        expr: {}\n",
                a.alert,
                yaml_string(&a.expr)
            ));
            if a.for_seconds > 0.0 {
                out.push_str(&format!(
                    "        for: {}\n",
                    queries::duration(a.for_seconds)
                ));
            }
            out.push_str(&format!(
                "        labels:\n          severity: {}\n        annotations:\n          summary: {}\n          description: {}\n",
                a.severity.as_str(),
                yaml_string(&a.summary),
                yaml_string(&a.description)
            ));
        }
        if alerting.is_empty() {
            // An empty rules list is valid YAML only written as one.
            out.push_str("      []\n");
        }
    }
    (out, skipped)
}

/// What `llmtop export grafana` asks for.
pub struct GrafanaRequest<'a> {
    /// A datasource UID; `None` adds a `datasource` variable chosen on import.
    pub datasource: Option<&'a str>,
    pub title: &'a str,
}

/// The Grafana dashboard JSON (schema version 39): the TUI's panels, each query from the dialect
/// table, only those the dialect can fill.
pub fn grafana(f: &FigureQueries<'_>, req: &GrafanaRequest<'_>) -> serde_json::Value {
    use serde_json::json;
    let ds = match req.datasource {
        Some(uid) => json!({"type": "prometheus", "uid": uid}),
        None => json!({"type": "prometheus", "uid": "${datasource}"}),
    };
    let r = "$__rate_interval";
    let seed = f.dialect().name == "seed";
    let mut panels = Layout::default();
    let target = |expr: String, legend: &str| json!({"expr": expr, "legendFormat": legend, "range": true, "instant": false});
    let quantile_targets = |signal: Signal| -> Vec<serde_json::Value> {
        QUANTILES
            .iter()
            .filter_map(|(_, q, tag)| Some(target(f.quantile(signal, *q, Group::Total, r)?, tag)))
            .collect()
    };

    let mut rate_targets = Vec::new();
    match (f.ok(Group::Total, r), f.errors(Group::Total, r)) {
        (Some(ok), Some(err)) => {
            rate_targets.push(target(ok, "ok"));
            rate_targets.push(target(err, "error"));
        }
        _ => rate_targets.extend(f.requests(Group::Total, r).map(|e| target(e, "requests"))),
    }
    panels.timeseries(
        "Request rate (ok / error)",
        if seed {
            "Requests per second that succeeded and failed (the seed dashboard's request rate, split by outcome)."
        } else {
            "Requests per second that succeeded and failed."
        },
        "reqps",
        12,
        rate_targets,
    );
    panels.timeseries(
        "Error rate",
        "Failed requests over all requests.",
        "percentunit",
        6,
        f.error_rate(Group::Total, r)
            .map(|e| target(e, "error rate"))
            .into_iter()
            .collect(),
    );
    panels.timeseries(
        "Cost burn",
        "USD per hour: the gateway's spend counter where it exports one, else tokens × llmtop's \
         price table (input, cached input and output per model; a total-only gateway is priced \
         at the output price, an upper bound).",
        "currencyUSD",
        6,
        [
            f.cost_per_hour(Group::Total, r)
                .map(|e| target(e, "total $/h")),
            f.cost_per_hour(Group::Model, r)
                .map(|e| target(e, "{{model}}")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    if let Some(expr) = f.heatmap(Signal::LatencySeconds, r) {
        panels.heatmap(
            "Latency heatmap",
            if seed {
                "Requests per latency bucket per step, from the de-cumulated bucket increases \
                 summed by le. The seed dashboard's \"heatmap\" plotted one p95 line from \
                 histogram_quantile without sum by (le): one line per instance and label set, \
                 and no heatmap at all. The quantiles have their own panel."
            } else {
                "Requests per latency bucket per step, from the de-cumulated bucket increases \
                 summed by le (quantiles have their own panel)."
            },
            expr,
        );
    }
    panels.timeseries(
        "Latency p50 / p95 / p99",
        "histogram_quantile over the bucket rates summed by le, so instances and models merge \
         into one distribution.",
        "s",
        12,
        quantile_targets(Signal::LatencySeconds),
    );
    panels.timeseries(
        "Time to first token p50 / p95 / p99",
        "Time to the first streamed token, from the gateway's histogram.",
        "s",
        12,
        quantile_targets(Signal::TtftSeconds),
    );
    if let Some(expr) = f.tokens_total(Group::Model, "$__range", true) {
        panels.pie(
            "Tokens by model",
            "Tokens over the dashboard's time range, per model (the exported total, else input + \
             output).",
            target(expr, "{{model}}"),
        );
    }
    panels.timeseries(
        "Tokens per second",
        "Input and output tokens per second.",
        "short",
        6,
        [
            f.tokens(Signal::TokensInput, Group::Total, r)
                .map(|e| target(e, "input")),
            f.tokens(Signal::TokensOutput, Group::Total, r)
                .map(|e| target(e, "output")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    panels.timeseries(
        "Upstream state",
        "Each upstream deployment behind the router: 0 healthy, 1 degraded, 2 down.",
        "short",
        8,
        f.upstream_state()
            .map(|e| target(e, "{{model}}"))
            .into_iter()
            .collect(),
    );
    panels.timeseries(
        "Fallbacks",
        "Requests moved from one model to another per second, by outcome.",
        "reqps",
        8,
        [
            f.fallbacks(Signal::FallbacksOk, r)
                .map(|e| target(e, "{{model}} ok")),
            f.fallbacks(Signal::FallbacksFailed, r)
                .map(|e| target(e, "{{model}} failed")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    panels.timeseries(
        "Rate-limit headroom",
        "The share of each upstream's requests-per-minute window still allowed.",
        "percentunit",
        8,
        f.rate_limit_headroom()
            .map(|e| target(e, "{{model}}"))
            .into_iter()
            .collect(),
    );
    panels.timeseries(
        "Requests in flight and queued",
        if seed {
            "Requests being processed (the seed dashboard's active requests) and waiting."
        } else {
            "Requests being processed and waiting."
        },
        "short",
        8,
        [
            f.gauge(Signal::InFlight).map(|e| target(e, "in flight")),
            f.gauge(Signal::Queued).map(|e| target(e, "queued")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    panels.timeseries(
        "Queue time p50 / p95 / p99",
        "How long requests waited before the engine or the rate limiter let them through.",
        "s",
        8,
        quantile_targets(Signal::QueueTimeSeconds),
    );
    panels.timeseries(
        "KV cache and prompt cache",
        "The fullest engine's KV-cache use (saturation at 95 %) and the prompt cache hit ratio.",
        "percentunit",
        8,
        [
            f.gauge(Signal::KvCacheUsage)
                .map(|e| target(e, "KV cache used")),
            f.gauge(Signal::CacheHitRatio)
                .map(|e| target(e, "cache hit ratio")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );

    let panels: Vec<serde_json::Value> = panels
        .panels
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p["id"] = json!(i + 1);
            p["datasource"] = ds.clone();
            if let Some(targets) = p["targets"].as_array_mut() {
                for (j, t) in targets.iter_mut().enumerate() {
                    t["refId"] = json!(ref_id(j));
                    t["datasource"] = ds.clone();
                }
            }
            p
        })
        .collect();
    let templating = match req.datasource {
        Some(_) => json!({"list": []}),
        None => json!({"list": [{
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        }]}),
    };
    json!({
        "title": req.title,
        "uid": format!("llmtop-{}", f.dialect().name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")),
        "description": format!(
            "llmtop's dashboard for the {} dialect ({}), written by llmtop {}.",
            f.dialect().name, f.dialect().description, env!("CARGO_PKG_VERSION")
        ),
        "tags": ["llmtop", "llm", f.dialect().name],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "timezone": "",
        "templating": templating,
        "annotations": {"list": []},
        "panels": panels,
    })
}

fn ref_id(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}

/// Panels placed left to right on Grafana's 24-column grid, wrapping.
#[derive(Default)]
struct Layout {
    panels: Vec<serde_json::Value>,
    x: u32,
    y: u32,
}

const PANEL_HEIGHT: u32 = 8;

impl Layout {
    fn place(&mut self, width: u32) -> serde_json::Value {
        if self.x + width > 24 {
            self.x = 0;
            self.y += PANEL_HEIGHT;
        }
        let pos = serde_json::json!({"x": self.x, "y": self.y, "w": width, "h": PANEL_HEIGHT});
        self.x += width;
        pos
    }

    /// A time series panel; nothing when no query exists for this dialect.
    fn timeseries(
        &mut self,
        title: &str,
        description: &str,
        unit: &str,
        width: u32,
        targets: Vec<serde_json::Value>,
    ) {
        if targets.is_empty() {
            return;
        }
        let grid = self.place(width);
        self.panels.push(serde_json::json!({
            "type": "timeseries",
            "title": title,
            "description": description,
            "gridPos": grid,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": targets,
        }));
    }

    fn heatmap(&mut self, title: &str, description: &str, expr: String) {
        let grid = self.place(12);
        self.panels.push(serde_json::json!({
            "type": "heatmap",
            "title": title,
            "description": description,
            "gridPos": grid,
            "fieldConfig": {"defaults": {}, "overrides": []},
            "options": {
                "calculate": false,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                "yAxis": {"unit": "s"},
                "rowsFrame": {"layout": "auto"},
                "tooltip": {"show": true, "yHistogram": true},
            },
            "targets": [{"expr": expr, "format": "heatmap", "legendFormat": "{{le}}",
                         "range": true, "instant": false}],
        }));
    }

    fn pie(&mut self, title: &str, description: &str, target: serde_json::Value) {
        let grid = self.place(6);
        let mut target = target;
        target["instant"] = serde_json::json!(true);
        target["range"] = serde_json::json!(false);
        self.panels.push(serde_json::json!({
            "type": "piechart",
            "title": title,
            "description": description,
            "gridPos": grid,
            "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
            "options": {"pieType": "pie", "legend": {"displayMode": "table", "placement": "right",
                        "values": ["value", "percent"], "showLegend": true},
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}},
            "targets": [target],
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(name: &str) -> Dialect {
        crate::base::dialect::builtin()
            .into_iter()
            .find(|d| d.name == name)
            .unwrap()
    }

    #[test]
    fn seed_recording_rules_are_the_figures_promql() {
        let d = dialect("seed");
        let prices = PriceTable::builtin();
        let models = vec!["deepseek-chat".to_string()];
        let f = FigureQueries::new(&d, "job=\"gw\"", &prices, Some(&models)).unwrap();
        let rules = recording_rules(&f, 300.0);
        let get = |name: &str| {
            rules
                .iter()
                .find(|r| r.record == name)
                .map(|r| r.expr.as_str())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        assert_eq!(
            get("llmtop:requests_per_second:5m"),
            "sum(rate(deepseek_requests_total{job=\"gw\"}[5m]))"
        );
        assert_eq!(
            get("llmtop:error_rate_by_model:5m"),
            "(sum by (model) (rate(deepseek_requests_total{job=\"gw\",status=\"error\"}[5m])) or \
             sum by (model) (rate(deepseek_requests_total{job=\"gw\"}[5m])) * 0) / \
             sum by (model) (rate(deepseek_requests_total{job=\"gw\"}[5m]))"
        );
        assert_eq!(
            get("llmtop:p95_latency:5m"),
            "histogram_quantile(0.95, sum by (le) (rate(deepseek_request_latency_seconds_bucket{job=\"gw\"}[5m])))"
        );
        // deepseek-chat is priced by the row it aliases: 0.14 in, 0.28 out, 0.028 cached per
        // Mtok at the time of writing; the coefficients are those × 3600 / 1e6.
        let price = prices.lookup("deepseek-chat").unwrap();
        let cost = get("llmtop:cost_per_hour_by_model:5m");
        let per_hour = |p: f64| format!("{:.11e}", p * 3600.0 / 1e6).parse::<f64>().unwrap();
        let (k_in, k_out) = (per_hour(price.input), per_hour(price.output));
        let tokens = |t: &str| {
            format!(
                "sum by (model) (rate(deepseek_tokens_total{{job=\"gw\",model=~\"deepseek-chat\",type=\"{t}\"}}[5m]))"
            )
        };
        assert_eq!(
            cost,
            format!(
                "(sum by (model) (label_replace({} * {k_in}, \"llmtop_part\", \"0\", \"\", \"\") or \
                 label_replace({} * {k_out}, \"llmtop_part\", \"2\", \"\", \"\")) or {} * {k_out})",
                tokens("prompt"),
                tokens("completion"),
                tokens("total")
            ),
            "split where the gateway splits, else the total at the output price"
        );
        assert!(!k_in.to_string().contains("0000000"), "{k_in}");
        assert_eq!(
            get("llmtop:in_flight"),
            "sum(deepseek_active_requests{job=\"gw\"})"
        );
        assert_eq!(
            get("llmtop:upstream_state"),
            "max by (model) (label_replace(deepseek_upstream_state{job=\"gw\"}, \"model\", \"$1\", \"upstream\", \"(.*)\"))"
        );
        // No KV cache in the seed dialect: no rule, never a zero.
        assert!(!rules.iter().any(|r| r.record == "llmtop:kv_cache_usage"));
    }

    #[test]
    fn alerts_become_comparisons_of_recorded_figures() {
        let d = dialect("seed");
        let prices = PriceTable::builtin();
        let f = FigureQueries::new(&d, "", &prices, None).unwrap();
        let recorded = recording_rules(&f, 60.0);
        let rule = |text: &str| Rule {
            name: "slow answers".into(),
            text: text.into(),
            expr: crate::model::alert::parse_expr(text).unwrap(),
            for_seconds: 120.0,
            severity: Severity::Warning,
        };
        let a = alerting_rule(&rule("p95_latency > 2s"), &recorded, &f, 60.0).unwrap();
        assert_eq!(a.alert, "LlmtopSlowAnswers");
        assert_eq!(a.expr, "llmtop:p95_latency:1m > 2");
        let a = alerting_rule(&rule("error_rate by model > 5%"), &recorded, &f, 60.0).unwrap();
        assert_eq!(a.expr, "llmtop:error_rate_by_model:1m > 0.05");
        let a = alerting_rule(
            &rule("ttft_p95{model=\"gpt-4o\"} >= 800ms"),
            &recorded,
            &f,
            60.0,
        )
        .unwrap();
        assert_eq!(
            a.expr,
            "llmtop:ttft_p95_by_model:1m{model=\"gpt-4o\"} >= 0.8"
        );
        let a = alerting_rule(&rule("upstream_down"), &recorded, &f, 60.0).unwrap();
        assert_eq!(a.expr, "llmtop:upstream_state >= 1.5");
        assert_eq!(
            alerting_rule(&rule("stale"), &recorded, &f, 60.0)
                .unwrap()
                .expr,
            "up == 0"
        );
        let why = alerting_rule(&rule("kv_cache_usage > 0.9"), &recorded, &f, 60.0).unwrap_err();
        assert!(why.contains("seed dialect exports nothing"), "{why}");
        assert!(alerting_rule(&rule("budget_runs_out < 24h"), &recorded, &f, 60.0).is_err());
    }

    #[test]
    fn the_price_regex_matches_what_lookup_finds() {
        let prices = PriceTable::builtin();
        let d = dialect("seed");
        let f = FigureQueries::new(&d, "", &prices, None).unwrap();
        // RE2 and Rust's regex agree on this subset; anchored as Prometheus anchors.
        for name in [
            "gpt-4o",
            "openai/gpt-4o",
            "gpt-4o-2024-08-06",
            "GPT-4o-Mini",
            "deepseek-chat",
            "deepseek/deepseek-chat",
        ] {
            let found = prices.lookup(name).unwrap();
            let matching: Vec<&CostRow> = f
                .cost_rows
                .iter()
                .filter(|row| anchored(&row.models).is_match(name))
                .collect();
            assert_eq!(matching.len(), 1, "{name} matches {} rows", matching.len());
            let want = found.output * 3600.0 / 1e6;
            assert!(
                (matching[0].output - want).abs() <= 1e-12 * want,
                "{name} is priced by its own row: {} vs {want}",
                matching[0].output
            );
        }
    }

    fn anchored(re: &str) -> regex::Regex {
        regex::Regex::new(&format!("^(?:{re})$")).unwrap()
    }

    #[test]
    fn grafana_panels_have_grid_positions_and_queries() {
        let d = dialect("seed");
        let prices = PriceTable::builtin();
        let f = FigureQueries::new(&d, "", &prices, None).unwrap();
        let dash = grafana(
            &f,
            &GrafanaRequest {
                datasource: Some("prom1"),
                title: "t",
            },
        );
        let panels = dash["panels"].as_array().unwrap();
        let titles: Vec<&str> = panels
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        for want in [
            "Request rate (ok / error)",
            "Latency heatmap",
            "Latency p50 / p95 / p99",
            "Tokens by model",
            "Requests in flight and queued",
        ] {
            assert!(titles.contains(&want), "{want} missing from {titles:?}");
        }
        let heat = panels.iter().find(|p| p["type"] == "heatmap").unwrap();
        assert_eq!(heat["targets"][0]["format"], "heatmap");
        assert!(
            heat["targets"][0]["expr"]
                .as_str()
                .unwrap()
                .starts_with("sum by (le) (increase(deepseek_request_latency_seconds_bucket")
        );
        for p in panels {
            assert_eq!(p["datasource"]["uid"], "prom1");
            let g = &p["gridPos"];
            assert!(g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24);
        }
        // No KV cache panel line for a dialect without one.
        assert!(!dash.to_string().contains("KV cache used"));
    }
}
