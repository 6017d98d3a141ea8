//! Alert rules over the canonical figures: a small expression grammar (`p95_latency > 2s`,
//! `error_rate by model > 5%`, `upstream_down`), its errors with line and column, the built-in
//! defaults, and the verdict of each rule on one set of figures.
use std::fmt;

/// How bad a firing rule is; also `llmtop check`'s exit status (0 ok, 1 warning, 2 critical).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A figure a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Latency(Quantile),
    Ttft(Quantile),
    ErrorRate,
    RequestsPerSecond,
    CostPerHour,
    KvCacheUsage,
    Queued,
    QueueTime(Quantile),
    /// Seconds until the first budget runs out at this pace.
    BudgetRunsOut,
    /// Conditions: true or false, no threshold.
    UpstreamDown,
    Saturated,
    Stalled,
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P95,
    P99,
}

/// What a figure is measured in, for parsing limits and showing values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Ratio,
    PerSecond,
    Usd,
    Count,
    Condition,
}

impl Figure {
    pub fn unit(self) -> Unit {
        match self {
            Figure::Latency(_) | Figure::Ttft(_) | Figure::QueueTime(_) | Figure::BudgetRunsOut => {
                Unit::Seconds
            }
            Figure::ErrorRate | Figure::KvCacheUsage => Unit::Ratio,
            Figure::RequestsPerSecond => Unit::PerSecond,
            Figure::CostPerHour => Unit::Usd,
            Figure::Queued => Unit::Count,
            Figure::UpstreamDown | Figure::Saturated | Figure::Stalled | Figure::Stale => {
                Unit::Condition
            }
        }
    }

    /// Whether `by model` / `{model="…"}` make sense for it.
    pub fn per_model(self) -> bool {
        matches!(
            self,
            Figure::Latency(_)
                | Figure::Ttft(_)
                | Figure::ErrorRate
                | Figure::RequestsPerSecond
                | Figure::CostPerHour
        )
    }

    fn parse(word: &str) -> Option<Figure> {
        let q = |s: &str| match s {
            "p50" => Some(Quantile::P50),
            "p95" => Some(Quantile::P95),
            "p99" => Some(Quantile::P99),
            _ => None,
        };
        // `p95_latency` and `latency_p95` alike.
        let split = |w: &str| -> Option<(String, Quantile)> {
            if let Some((a, b)) = w.split_once('_')
                && let Some(qq) = q(a)
            {
                return Some((b.to_string(), qq));
            }
            let (a, b) = w.rsplit_once('_')?;
            Some((a.to_string(), q(b)?))
        };
        if let Some((name, qq)) = split(word) {
            return match name.as_str() {
                "latency" => Some(Figure::Latency(qq)),
                "ttft" => Some(Figure::Ttft(qq)),
                "queue_time" => Some(Figure::QueueTime(qq)),
                _ => None,
            };
        }
        Some(match word {
            "error_rate" => Figure::ErrorRate,
            "requests_per_second" | "rps" => Figure::RequestsPerSecond,
            "cost_per_hour" => Figure::CostPerHour,
            "kv_cache_usage" => Figure::KvCacheUsage,
            "queued" => Figure::Queued,
            "budget_runs_out" => Figure::BudgetRunsOut,
            "upstream_down" => Figure::UpstreamDown,
            "saturated" => Figure::Saturated,
            "stalled" => Figure::Stalled,
            "stale" => Figure::Stale,
            _ => return None,
        })
    }
}

/// Which models a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Total,
    EachModel,
    Model(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Lt => value < limit,
            Op::Le => value <= limit,
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub figure: Figure,
    pub scope: Scope,
    /// `None` for a condition (`upstream_down`).
    pub compare: Option<(Op, f64)>,
}

/// A parse error at a 1-based column of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

const FIGURES_HELP: &str = "p50/p95/p99_latency, ttft_p50/p95/p99, error_rate, requests_per_second, cost_per_hour, kv_cache_usage, queued, queue_time_p50/p95/p99, budget_runs_out, upstream_down, saturated, stalled, stale";

/// Parses `FIGURE [by model | {model="NAME"}] [OP NUMBER[UNIT]]`.
pub fn parse_expr(text: &str) -> Result<Expr, ExprError> {
    let b = text.as_bytes();
    let mut i = 0;
    let err = |at: usize, m: String| ExprError {
        column: at + 1,
        message: m,
    };
    let skip = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| -> (usize, String) {
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_') {
            *i += 1;
        }
        (start, text[start..*i].to_ascii_lowercase())
    };
    skip(&mut i);
    let (at, name) = word(&mut i);
    if name.is_empty() {
        return Err(err(at, format!("expected a figure: {FIGURES_HELP}")));
    }
    let figure = Figure::parse(&name).ok_or_else(|| {
        err(
            at,
            format!("unknown figure {name:?}; known: {FIGURES_HELP}"),
        )
    })?;
    skip(&mut i);
    let mut scope = Scope::Total;
    if b.get(i) == Some(&b'{') {
        let open = i;
        i += 1;
        skip(&mut i);
        let (at, key) = word(&mut i);
        if key != "model" {
            return Err(err(
                at,
                "only {model=\"NAME\"} selects a part of the traffic".into(),
            ));
        }
        skip(&mut i);
        if b.get(i) != Some(&b'=') {
            return Err(err(i, "expected '=' after model".into()));
        }
        i += 1;
        skip(&mut i);
        if b.get(i) != Some(&b'"') {
            return Err(err(
                i,
                "the model name is quoted: {model=\"gpt-4o\"}".into(),
            ));
        }
        let start = i + 1;
        let Some(len) = text[start..].find('"') else {
            return Err(err(i, "the model name's quote is not closed".into()));
        };
        let model = text[start..start + len].to_string();
        i = start + len + 1;
        skip(&mut i);
        if b.get(i) != Some(&b'}') {
            return Err(err(i, "expected '}'".into()));
        }
        i += 1;
        if !figure.per_model() {
            return Err(err(open, format!("{name} is not kept per model")));
        }
        scope = Scope::Model(model);
    } else if text[i..].to_ascii_lowercase().starts_with("by") {
        let at = i;
        i += 2;
        skip(&mut i);
        let (mat, m) = word(&mut i);
        if m != "model" {
            return Err(err(mat, "expected 'by model'".into()));
        }
        if !figure.per_model() {
            return Err(err(at, format!("{name} is not kept per model")));
        }
        scope = Scope::EachModel;
    }
    skip(&mut i);
    if i == b.len() {
        if figure.unit() != Unit::Condition {
            return Err(err(
                i,
                format!("{name} needs a comparison, e.g. {name} > 2s"),
            ));
        }
        return Ok(Expr {
            figure,
            scope,
            compare: None,
        });
    }
    if figure.unit() == Unit::Condition {
        return Err(err(i, format!("{name} is a condition: nothing follows it")));
    }
    let op_at = i;
    let op = match (b.get(i), b.get(i + 1)) {
        (Some(b'>'), Some(b'=')) => Op::Ge,
        (Some(b'<'), Some(b'=')) => Op::Le,
        (Some(b'>'), _) => Op::Gt,
        (Some(b'<'), _) => Op::Lt,
        _ => return Err(err(op_at, "expected >, >=, < or <=".into())),
    };
    i += if matches!(op, Op::Ge | Op::Le) { 2 } else { 1 };
    skip(&mut i);
    let num_at = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    let number: f64 = text[num_at..i]
        .parse()
        .map_err(|_| err(num_at, "expected a number".into()))?;
    skip(&mut i);
    let unit_at = i;
    let unit = text[i..].trim().to_ascii_lowercase();
    let limit = match (figure.unit(), unit.as_str()) {
        (Unit::Seconds, "ms") => number / 1000.0,
        (Unit::Seconds, "s" | "") => number,
        (Unit::Seconds, "m" | "min") => number * 60.0,
        (Unit::Seconds, "h") => number * 3600.0,
        (Unit::Seconds, "d") => number * 86_400.0,
        (Unit::Ratio, "%") => number / 100.0,
        (Unit::Ratio, "") => number,
        (Unit::PerSecond, "" | "/s") | (Unit::Count, "") => number,
        (Unit::Usd, "" | "$" | "usd" | "$/h") => number,
        (u, other) => {
            let want = match u {
                Unit::Seconds => "ms, s, m, h or d",
                Unit::Ratio => "% or a fraction",
                Unit::PerSecond => "/s or nothing",
                Unit::Usd => "USD per hour, no unit",
                _ => "no unit",
            };
            return Err(err(
                unit_at,
                format!("unit {other:?} does not fit {name}: {want}"),
            ));
        }
    };
    Ok(Expr {
        figure,
        scope,
        compare: Some((op, limit)),
    })
}

/// One rule as the config file states it (`[[alert]]`), parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// The expression as written.
    pub text: String,
    pub expr: Expr,
    /// How long it must hold before it fires (the dashboard; `check` judges its one window).
    pub for_seconds: f64,
    pub severity: Severity,
}

/// The rules every gateway gets unless turned off.
pub fn defaults() -> Vec<Rule> {
    let rule = |name: &str, text: &str, for_seconds: f64, severity: Severity| Rule {
        name: name.to_string(),
        text: text.to_string(),
        expr: parse_expr(text).unwrap_or_else(|e| unreachable!("built-in rule {text}: {e}")),
        for_seconds,
        severity,
    };
    vec![
        rule("gateway stale", "stale", 0.0, Severity::Critical),
        rule("upstream down", "upstream_down", 60.0, Severity::Critical),
        rule("error rate", "error_rate > 5%", 120.0, Severity::Warning),
        rule("error rate", "error_rate > 25%", 60.0, Severity::Critical),
        rule("slow p95", "p95_latency > 10s", 300.0, Severity::Warning),
        rule(
            "KV cache full",
            "kv_cache_usage > 0.95",
            300.0,
            Severity::Warning,
        ),
        rule("saturated", "saturated", 300.0, Severity::Warning),
        rule(
            "budget runs out",
            "budget_runs_out < 24h",
            0.0,
            Severity::Warning,
        ),
    ]
}

/// One model's (or the total's) figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub latency: [Option<f64>; 3],
    pub ttft: [Option<f64>; 3],
    pub error_ratio: Option<f64>,
    pub requests_per_second: Option<f64>,
    pub cost_per_hour: Option<f64>,
}

/// Everything rules are judged on, at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub total: Values,
    pub models: Vec<(String, Values)>,
    pub kv_cache_usage: Option<f64>,
    pub queued: Option<f64>,
    pub queue_time: [Option<f64>; 3],
    pub budget_runs_out_seconds: Option<f64>,
    pub upstreams_down: Vec<String>,
    pub saturated: bool,
    pub stalled: bool,
    pub stale: bool,
}

/// A rule's verdict: firing or not, with the value that decided it and where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub name: String,
    pub expr: String,
    pub severity: Severity,
    pub firing: bool,
    /// The worst value seen (the highest for `>`, the lowest for `<`); `None` for a condition or
    /// when the figure is not measured.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// The model (with `by model`), or the upstreams that are down.
    pub subject: Option<String>,
    /// The figure is not measured here (the rule can neither fire nor pass).
    pub unknown: bool,
    /// The figure's unit, for showing the value.
    #[serde(skip)]
    pub unit: Unit,
}

fn pick(q: Quantile, v: &[Option<f64>; 3]) -> Option<f64> {
    v[match q {
        Quantile::P50 => 0,
        Quantile::P95 => 1,
        Quantile::P99 => 2,
    }]
}

fn value_of(f: Figure, v: &Values) -> Option<f64> {
    match f {
        Figure::Latency(q) => pick(q, &v.latency),
        Figure::Ttft(q) => pick(q, &v.ttft),
        Figure::ErrorRate => v.error_ratio,
        Figure::RequestsPerSecond => v.requests_per_second,
        Figure::CostPerHour => v.cost_per_hour,
        _ => None,
    }
}

/// Judges one rule on `input`.
pub fn judge(rule: &Rule, input: &Input) -> Verdict {
    let e = &rule.expr;
    let mut verdict = Verdict {
        name: rule.name.clone(),
        expr: rule.text.clone(),
        severity: rule.severity,
        firing: false,
        value: None,
        threshold: e.compare.map(|(_, l)| l),
        subject: None,
        unknown: false,
        unit: e.figure.unit(),
    };
    let Some((op, limit)) = e.compare else {
        verdict.firing = match e.figure {
            Figure::UpstreamDown => {
                if !input.upstreams_down.is_empty() {
                    verdict.subject = Some(input.upstreams_down.join(", "));
                }
                !input.upstreams_down.is_empty()
            }
            Figure::Saturated => input.saturated,
            Figure::Stalled => input.stalled,
            Figure::Stale => input.stale,
            _ => false,
        };
        return verdict;
    };
    let candidates: Vec<(Option<String>, Option<f64>)> = match (&e.scope, e.figure) {
        (_, Figure::KvCacheUsage) => vec![(None, input.kv_cache_usage)],
        (_, Figure::Queued) => vec![(None, input.queued)],
        (_, Figure::QueueTime(q)) => vec![(None, pick(q, &input.queue_time))],
        (_, Figure::BudgetRunsOut) => vec![(None, input.budget_runs_out_seconds)],
        (Scope::Total, f) => vec![(None, value_of(f, &input.total))],
        (Scope::EachModel, f) => input
            .models
            .iter()
            .map(|(m, v)| (Some(m.clone()), value_of(f, v)))
            .collect(),
        (Scope::Model(name), f) => input
            .models
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(m, v)| (Some(m.clone()), value_of(f, v)))
            .collect(),
    };
    let worse = |a: f64, b: f64| match op {
        Op::Gt | Op::Ge => a > b,
        Op::Lt | Op::Le => a < b,
    };
    let mut known = false;
    for (subject, value) in candidates {
        let Some(v) = value else { continue };
        known = true;
        let holds = op.holds(v, limit);
        // The firing subject first; among equals, the worst value.
        let better_pick = match verdict.value {
            None => true,
            Some(cur) => (holds && !verdict.firing) || (holds == verdict.firing && worse(v, cur)),
        };
        if better_pick {
            verdict.value = Some(v);
            verdict.subject = subject;
            verdict.firing = holds;
        }
    }
    verdict.unknown = !known;
    verdict
}

/// A figure's value as the screen shows it: `2.30 s`, `12.0 %`, `$4.20/h`.
pub fn show_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Seconds => crate::base::format::seconds(Some(value)),
        Unit::Ratio => crate::base::format::percent(Some(value)),
        Unit::Usd => format!("{}/h", crate::base::format::usd(Some(value))),
        _ => format!("{value:.2}"),
    }
}

/// What rules are judged on, from the figures a snapshot or the dashboard holds: the total and
/// each model over the range, the engine's saturation, the budgets and the upstreams.
pub fn input_of(
    total: &crate::model::stats::Figures,
    models: &[crate::model::stats::ModelFigures],
    saturation: &crate::model::saturation::Saturation,
    budgets: &[crate::model::budget::Budget],
    upstreams: &[crate::model::upstream::Upstream],
    stale: bool,
) -> Input {
    let values = |f: &crate::model::stats::Figures| Values {
        latency: [
            f.latency_seconds.p50,
            f.latency_seconds.p95,
            f.latency_seconds.p99,
        ],
        ttft: [f.ttft_seconds.p50, f.ttft_seconds.p95, f.ttft_seconds.p99],
        error_ratio: f.error_ratio,
        requests_per_second: f.requests_per_second,
        cost_per_hour: f.cost_usd_per_hour,
    };
    let s = saturation;
    Input {
        total: values(total),
        models: models
            .iter()
            .map(|m| (m.model.clone(), values(&m.figures)))
            .collect(),
        kv_cache_usage: s.kv_cache_usage,
        queued: s.queued,
        queue_time: [
            s.queue_time_seconds.p50,
            s.queue_time_seconds.p95,
            s.queue_time_seconds.p99,
        ],
        budget_runs_out_seconds: budgets
            .iter()
            .filter_map(|b| b.runs_out_in_seconds)
            .min_by(f64::total_cmp),
        upstreams_down: upstreams
            .iter()
            .filter(|u| u.state == crate::model::upstream::UpstreamState::Down)
            .map(|u| u.name.clone())
            .collect(),
        saturated: s.saturated,
        stalled: s.stalled,
        stale,
    }
}

impl Verdict {
    /// One Nagios-style line: `CRITICAL error rate (error_rate > 5%): 12.0 % gpt-4o`.
    pub fn line(&self) -> String {
        let unit = self.unit;
        let state = match (self.firing, self.unknown) {
            (true, _) => self.severity.as_str().to_ascii_uppercase(),
            (false, true) => "UNKNOWN".to_string(),
            (false, false) => "OK".to_string(),
        };
        let shown = self
            .value
            .map_or(String::new(), |v| format!(": {}", show_value(unit, v)));
        let subject = self
            .subject
            .as_deref()
            .map_or(String::new(), |s| format!(" ({s})"));
        let unknown = if self.unknown && self.value.is_none() && unit != Unit::Condition {
            ": not measured here"
        } else {
            ""
        };
        format!(
            "{state} {} [{}]{shown}{subject}{unknown}",
            self.name, self.expr
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_examples_parse() {
        let e = parse_expr("p95_latency > 2s").unwrap();
        assert_eq!(e.figure, Figure::Latency(Quantile::P95));
        assert_eq!(e.compare, Some((Op::Gt, 2.0)));
        assert_eq!(
            parse_expr("error_rate > 5%").unwrap().compare,
            Some((Op::Gt, 0.05))
        );
        assert_eq!(
            parse_expr("ttft_p95 > 800ms").unwrap().compare,
            Some((Op::Gt, 0.8))
        );
        assert_eq!(
            parse_expr("cost_per_hour > 50").unwrap().compare,
            Some((Op::Gt, 50.0))
        );
        assert_eq!(parse_expr("upstream_down").unwrap().compare, None);
        assert_eq!(
            parse_expr("kv_cache_usage > 0.95").unwrap().compare,
            Some((Op::Gt, 0.95))
        );
        assert_eq!(
            parse_expr("budget_runs_out < 24h").unwrap().compare,
            Some((Op::Lt, 86_400.0))
        );
        assert_eq!(
            parse_expr("error_rate by model >= 1%").unwrap().scope,
            Scope::EachModel
        );
        assert_eq!(
            parse_expr("p99_latency{model=\"gpt-4o\"} <= 3s")
                .unwrap()
                .scope,
            Scope::Model("gpt-4o".into())
        );
        assert!(defaults().len() >= 6);
    }

    #[test]
    fn bad_rules_say_where_and_why() {
        for (text, column, says) in [
            ("p95_latncy > 2s", 1, "unknown figure"),
            ("p95_latency >> 2s", 14, "expected a number"),
            ("p95_latency = 2s", 13, "expected >"),
            ("p95_latency > 2kg", 16, "unit \"kg\""),
            ("error_rate > 5s", 15, "unit \"s\""),
            ("upstream_down > 1", 15, "condition"),
            ("p95_latency", 12, "needs a comparison"),
            ("kv_cache_usage by model > 0.9", 16, "not kept per model"),
            ("p95_latency{team=\"a\"} > 1s", 13, "only {model"),
            ("p95_latency{model=gpt} > 1s", 19, "quoted"),
        ] {
            let e = parse_expr(text).unwrap_err();
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.message.contains(says), "{text}: {e}");
        }
    }

    fn input() -> Input {
        let v = |p95: f64, err: f64| Values {
            latency: [Some(p95 / 2.0), Some(p95), Some(p95 * 1.2)],
            error_ratio: Some(err),
            requests_per_second: Some(10.0),
            ..Values::default()
        };
        Input {
            total: v(1.5, 0.02),
            models: vec![("a".into(), v(1.0, 0.0)), ("b".into(), v(3.0, 0.10))],
            upstreams_down: vec!["gpt-4o".into()],
            ..Input::default()
        }
    }

    fn rule(text: &str) -> Rule {
        Rule {
            name: "r".into(),
            text: text.into(),
            expr: parse_expr(text).unwrap(),
            for_seconds: 0.0,
            severity: Severity::Critical,
        }
    }

    #[test]
    fn rules_judge_the_total_each_model_or_one() {
        let i = input();
        let total = judge(&rule("p95_latency > 2s"), &i);
        assert!(!total.firing && total.value == Some(1.5) && total.subject.is_none());
        let each = judge(&rule("p95_latency by model > 2s"), &i);
        assert!(each.firing);
        assert_eq!(
            (each.value, each.subject.as_deref()),
            (Some(3.0), Some("b"))
        );
        let one = judge(&rule("error_rate{model=\"a\"} > 5%"), &i);
        assert!(!one.firing && one.value == Some(0.0));
        let down = judge(&rule("upstream_down"), &i);
        assert!(down.firing && down.subject.as_deref() == Some("gpt-4o"));
        let unmeasured = judge(&rule("kv_cache_usage > 0.9"), &i);
        assert!(!unmeasured.firing && unmeasured.unknown);
        assert_eq!(
            each.line(),
            "CRITICAL r [p95_latency by model > 2s]: 3.00 s (b)"
        );
        assert_eq!(
            unmeasured.line(),
            "UNKNOWN r [kv_cache_usage > 0.9]: not measured here"
        );
        assert_eq!(total.line(), "OK r [p95_latency > 2s]: 1.50 s");
    }
}
