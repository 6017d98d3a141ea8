//! PromQL for fleet mode, generated from the same dialect tables that map a direct scrape, so one
//! table serves both: each canonical signal becomes a sum over the rules that feed it.
//!
//! A rule's `by_label`, `failed_when` and `only_when` become label matchers, its `part` picks the
//! `_sum`/`_count` series, its `model_label` is copied to `model` with `label_replace`, and its
//! `scale` multiplies counters (and, for histograms, the quantile: linear interpolation commutes
//! with scaling the bounds). Several rules feeding one signal are told apart with a temporary
//! `llmtop_rule` label before `or`, because `rate()` drops the metric name and would otherwise
//! make their series collide.
use crate::base::dialect::{Dialect, FALLBACK_ARROW, LabelMatch, MapRule};
use crate::base::signal::{Signal, SignalKind};

/// The label canonical results carry the model in.
pub const MODEL: &str = "model";

/// The label that tells rules apart inside one expression; summed away before the result.
const RULE_LABEL: &str = "llmtop_rule";

/// Quotes a string as a PromQL string literal.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escapes regex metacharacters so a value matches literally inside `=~`.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A user selector (`{job="litellm"}` or `job="litellm"`) as the matchers inside the braces.
/// Refuses text that would close the braces early or holds a metric name, which would silently
/// change every query.
pub fn selector_matchers(selector: &str) -> anyhow::Result<String> {
    let s = selector.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s)
        .trim();
    let mut in_string = false;
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' | '\'' | '`' => in_string = !in_string,
            '{' | '}' | '[' | ']' | '(' | ')' if !in_string => anyhow::bail!(
                "--selector {selector:?}: only label matchers like {{job=\"litellm\"}} are allowed"
            ),
            _ => {}
        }
    }
    anyhow::ensure!(!in_string, "--selector {selector:?}: an unclosed quote");
    Ok(inner.trim_end_matches(',').to_string())
}

/// Which labels a query keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// One number for everything selected.
    Total,
    /// Per model.
    Model,
    /// Per instance (the instance label is configurable).
    Instance,
    /// Per instance and model: the source of totals, instance rows and model rows at once.
    InstanceModel,
}

/// Builds the PromQL of one dialect under one selector.
#[derive(Debug, Clone)]
pub struct QueryBuilder<'d> {
    dialect: &'d Dialect,
    /// Matchers every selector gets (the user's `--selector`, a drill-down's `instance="…"`).
    matchers: Vec<String>,
    /// The label that names an instance (`instance`, or `pod` on Kubernetes).
    pub instance_label: String,
}

impl<'d> QueryBuilder<'d> {
    pub fn new(dialect: &'d Dialect, selector: &str, instance_label: &str) -> anyhow::Result<Self> {
        let inner = selector_matchers(selector)?;
        Ok(Self {
            dialect,
            matchers: if inner.is_empty() {
                vec![]
            } else {
                vec![inner]
            },
            instance_label: instance_label.to_string(),
        })
    }

    /// The same queries narrowed to one instance (the drill-down).
    pub fn with_instance(&self, instance: &str) -> Self {
        let mut narrowed = self.clone();
        narrowed
            .matchers
            .push(format!("{}={}", self.instance_label, quote(instance)));
        narrowed
    }

    /// The same queries narrowed to models whose name contains `needle` (case-insensitive).
    pub fn with_model_filter(&self, needle: &str) -> Self {
        let mut narrowed = self.clone();
        narrowed.matchers.push(format!(
            "{}=~{}",
            self.dialect.model_label,
            quote(&format!("(?i).*{}.*", regex_escape(needle)))
        ));
        narrowed
    }

    /// The same queries narrowed to models whose name matches `regex` (RE2, anchored by
    /// Prometheus): the exported cost rules select each price row's models this way.
    pub fn with_model_regex(&self, regex: &str) -> Self {
        let mut narrowed = self.clone();
        narrowed
            .matchers
            .push(format!("{}=~{}", self.dialect.model_label, quote(regex)));
        narrowed
    }

    pub fn dialect(&self) -> &Dialect {
        self.dialect
    }

    fn rules_for(&self, signal: Signal) -> Vec<(&'d MapRule, Vec<String>)> {
        let mut out = Vec::new();
        for rule in &self.dialect.rules {
            let mut label_matchers = Vec::new();
            // Rank 0's series, or series without the label: as a direct scrape reads them.
            if let Some(l) = &self.dialect.replica_label {
                label_matchers.push(format!("{l}=~\"0|\""));
            }
            if let Some(m) = &rule.only_when {
                label_matchers.push(match_text(m));
            }
            let feeds = match (&rule.signal, &rule.by_label) {
                (Some(s), _) if *s == signal => true,
                (Some(s), _) if s.failed_twin() == Some(signal) => match &rule.failed_when {
                    Some(m) => {
                        label_matchers.push(match_text(m));
                        true
                    }
                    None => false,
                },
                (None, Some(by)) => {
                    let values: Vec<&String> = by
                        .signals
                        .iter()
                        .filter(|(_, s)| **s == signal)
                        .map(|(v, _)| v)
                        .collect();
                    if values.is_empty() {
                        false
                    } else {
                        label_matchers.push(values_matcher(&by.label, &values));
                        true
                    }
                }
                _ => false,
            };
            if feeds {
                out.push((rule, label_matchers));
            }
        }
        out
    }

    fn selector(&self, metric: &str, rule_matchers: &[String]) -> String {
        let all: Vec<&str> = self
            .matchers
            .iter()
            .chain(rule_matchers)
            .map(String::as_str)
            .collect();
        if all.is_empty() {
            metric.to_string()
        } else {
            format!("{metric}{{{}}}", all.join(","))
        }
    }

    fn group_labels(&self, group: Group) -> Vec<&str> {
        match group {
            Group::Total => vec![],
            Group::Model => vec![MODEL],
            Group::Instance => vec![self.instance_label.as_str()],
            Group::InstanceModel => vec![self.instance_label.as_str(), MODEL],
        }
    }

    /// Wraps the per-rule inner expressions: model label copied to `model` when grouping by
    /// model, rules told apart, then `sum by (…)`.
    fn combine(
        &self,
        parts: Vec<(&MapRule, String)>,
        group: Group,
        extra: Option<&str>,
    ) -> Option<String> {
        self.combine_with("sum", parts, group, extra)
    }

    /// [`QueryBuilder::combine`] with another aggregation (`max by (model)` for a state gauge).
    /// A fallback rule's key is `from → to`, as a scrape keys it: `label_join` of its two labels.
    fn combine_with(
        &self,
        agg: &str,
        parts: Vec<(&MapRule, String)>,
        group: Group,
        extra: Option<&str>,
    ) -> Option<String> {
        if parts.is_empty() {
            return None;
        }
        let mut labels = self.group_labels(group);
        let by_model = labels.contains(&MODEL);
        if let Some(e) = extra {
            labels.push(e);
        }
        let n = parts.len();
        let inner: Vec<String> = parts
            .into_iter()
            .enumerate()
            .map(|(i, (rule, expr))| {
                let model_label = rule
                    .model_label
                    .as_deref()
                    .unwrap_or(&self.dialect.model_label);
                let mut e = expr;
                if by_model && let Some(to) = &rule.target_label {
                    e = format!(
                        "label_join({e}, \"{MODEL}\", {}, {}, {})",
                        quote(FALLBACK_ARROW),
                        quote(model_label),
                        quote(to)
                    );
                } else if by_model && model_label != MODEL {
                    e = format!(
                        "label_replace({e}, \"{MODEL}\", \"$1\", {}, \"(.*)\")",
                        quote(model_label)
                    );
                }
                if n > 1 {
                    e = format!("label_replace({e}, \"{RULE_LABEL}\", \"{i}\", \"\", \"\")");
                }
                e
            })
            .collect();
        let body = inner.join(" or ");
        Some(if labels.is_empty() {
            format!("{agg}({body})")
        } else {
            format!("{agg} by ({}) ({body})", labels.join(", "))
        })
    }

    /// A gauge per model (per upstream for the upstream gauges), aggregated as the signal
    /// demands: the worst state, the tightest headroom.
    pub fn gauge_by_model(&self, signal: Signal) -> Option<String> {
        debug_assert_eq!(signal.kind(), SignalKind::Gauge);
        let parts = self
            .rules_for(signal)
            .into_iter()
            .map(|(rule, m)| {
                let mut e = first_present(rule, |name| self.selector(name, &m));
                if rule.scale != 1.0 {
                    e = format!("{e} * {}", rule.scale);
                }
                (rule, e)
            })
            .collect();
        self.combine_with(aggregation(signal), parts, Group::Model, None)
    }

    /// One query per `describe` rule: `group by (upstream label, described labels…)` of its
    /// family, so the answer's label sets say what each upstream runs and where. Each comes with
    /// the rule, which names the labels to read back.
    pub fn describe(&self) -> Vec<(&'d MapRule, String)> {
        self.dialect
            .rules
            .iter()
            .filter_map(|rule| {
                let d = rule.describe.as_ref()?;
                let model_label = rule
                    .model_label
                    .as_deref()
                    .unwrap_or(&self.dialect.model_label);
                let mut labels = vec![model_label];
                labels.extend(
                    [&d.model, &d.provider, &d.api_base]
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                );
                labels.dedup();
                let expr = first_present(rule, |name| self.selector(name, &[]));
                Some((rule, format!("group by ({}) ({expr})", labels.join(", "))))
            })
            .collect()
    }

    /// `sum by (…) (rate(counter[range]))` — or `increase` when `increase` is set — of a counter
    /// signal; `None` when the dialect does not export it.
    pub fn counter(
        &self,
        signal: Signal,
        group: Group,
        range: &str,
        increase: bool,
    ) -> Option<String> {
        debug_assert_eq!(signal.kind(), SignalKind::Counter);
        let func = if increase { "increase" } else { "rate" };
        let parts = self
            .rules_for(signal)
            .into_iter()
            .map(|(rule, m)| {
                let suffix = match rule.part {
                    Some(crate::base::dialect::HistogramPart::Sum) => "_sum",
                    Some(crate::base::dialect::HistogramPart::Count) => "_count",
                    None => "",
                };
                let mut e = first_present(rule, |name| {
                    format!(
                        "{func}({}[{range}])",
                        self.selector(&format!("{name}{suffix}"), &m)
                    )
                });
                if rule.scale != 1.0 {
                    e = format!("{e} * {}", rule.scale);
                }
                (rule, e)
            })
            .collect();
        self.combine(parts, group, None)
    }

    /// `sum by (…, le) (rate(histogram_bucket[range]))` (or `increase`), the input of
    /// `histogram_quantile` and of the heatmap.
    pub fn buckets(
        &self,
        signal: Signal,
        group: Group,
        range: &str,
        increase: bool,
    ) -> Option<String> {
        debug_assert_eq!(signal.kind(), SignalKind::Histogram);
        let func = if increase { "increase" } else { "rate" };
        let parts = self
            .rules_for(signal)
            .into_iter()
            .map(|(rule, m)| {
                let e = first_present(rule, |name| {
                    format!(
                        "{func}({}[{range}])",
                        self.selector(&format!("{name}_bucket"), &m)
                    )
                });
                (rule, e)
            })
            .collect();
        self.combine(parts, group, Some("le"))
    }

    /// `histogram_quantile(q, sum by (…, le) (rate(histogram_bucket[range])))`, scaled into
    /// canonical units when the rule has a `scale`.
    pub fn quantile(&self, q: f64, signal: Signal, group: Group, range: &str) -> Option<String> {
        let buckets = self.buckets(signal, group, range, false)?;
        let expr = format!("histogram_quantile({q}, {buckets})");
        Some(match self.histogram_scale(signal) {
            Some(s) if s != 1.0 => format!("{expr} * {s}"),
            _ => expr,
        })
    }

    /// The scale of a histogram signal's bounds; `None` when its rules disagree (then the
    /// numbers are shown unscaled and [`QueryBuilder::warnings`] says so).
    pub fn histogram_scale(&self, signal: Signal) -> Option<f64> {
        let scales: Vec<f64> = self
            .rules_for(signal)
            .iter()
            .map(|(r, _)| r.scale)
            .collect();
        let first = *scales.first()?;
        scales.iter().all(|s| *s == first).then_some(first)
    }

    /// A gauge: summed (in flight, queued), averaged (cache hit ratio) or its maximum (KV cache
    /// usage: the fullest engine saturates) over every series.
    pub fn gauge(&self, signal: Signal) -> Option<String> {
        self.gauge_offset(signal, None)
    }

    /// [`QueryBuilder::gauge`] as it was `offset` ago (`offset 5m` on every selector).
    pub fn gauge_offset(&self, signal: Signal, offset: Option<&str>) -> Option<String> {
        debug_assert_eq!(signal.kind(), SignalKind::Gauge);
        let agg = aggregation(signal);
        let parts: Vec<String> = self
            .rules_for(signal)
            .into_iter()
            .map(|(rule, m)| {
                let mut e = first_present(rule, |name| {
                    let selector = self.selector(name, &m);
                    match offset {
                        Some(o) => format!("{selector} offset {o}"),
                        None => selector,
                    }
                });
                if rule.scale != 1.0 {
                    e = format!("{e} * {}", rule.scale);
                }
                e
            })
            .collect();
        match parts.len() {
            0 => None,
            1 => Some(format!("{agg}({})", parts[0])),
            _ => Some(format!(
                "{agg}({})",
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!(
                        "label_replace({p}, \"{RULE_LABEL}\", \"{i}\", \"\", \"\")"
                    ))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        }
    }

    /// The selector used to detect a dialect and to count what a selector matches.
    pub fn user_matchers(&self) -> Option<String> {
        (!self.matchers.is_empty()).then(|| format!("{{{}}}", self.matchers.join(",")))
    }
}

fn values_matcher(label: &str, values: &[&String]) -> String {
    match values {
        [one] => format!("{label}={}", quote(one)),
        many => format!(
            "{label}=~{}",
            quote(
                &many
                    .iter()
                    .map(|v| regex_escape(v))
                    .collect::<Vec<_>>()
                    .join("|")
            )
        ),
    }
}

fn match_text(m: &LabelMatch) -> String {
    match &m.values {
        Some(values) => {
            let refs: Vec<&String> = values.iter().collect();
            values_matcher(&m.label, &refs)
        }
        None => format!("{}!=\"\"", m.label),
    }
}

/// A PromQL duration for `seconds` (whole seconds; at least 1 s).
pub fn duration(seconds: f64) -> String {
    let s = seconds.round().max(1.0) as u64;
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Detects the dialect from metric names (`/api/v1/label/__name__/values`): the dialect whose
/// `detect` families are present most; ties go to the earlier one, as for a scrape.
pub fn detect<'d>(dialects: &'d [Dialect], names: &[String]) -> Option<&'d Dialect> {
    let has = |family: &str| {
        names.iter().any(|n| {
            n == family
                || n.strip_prefix(family)
                    .is_some_and(|rest| matches!(rest, "_bucket" | "_count" | "_total"))
        })
    };
    let mut best: Option<(usize, &Dialect)> = None;
    for d in dialects {
        let score = d.detect.iter().filter(|f| has(f)).count();
        if score > 0 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, d));
        }
    }
    best.map(|(_, d)| d)
}

/// One rule's expression over its names in order of preference: PromQL's `or` keeps a later
/// name's series only where no earlier name has one with the same labels, so a release exporting
/// the old and the new name is read once, as a direct scrape reads it.
/// The PromQL aggregation of a gauge signal: sum (in flight), avg (hit ratio), max (KV cache,
/// upstream state), min (headroom).
fn aggregation(signal: Signal) -> &'static str {
    match signal.gauge_aggregate() {
        crate::base::signal::GaugeAggregate::Sum => "sum",
        crate::base::signal::GaugeAggregate::Mean => "avg",
        crate::base::signal::GaugeAggregate::Max => "max",
        crate::base::signal::GaugeAggregate::Min => "min",
    }
}

fn first_present(rule: &MapRule, expr: impl Fn(&str) -> String) -> String {
    let parts: Vec<String> = rule.names().map(expr).collect();
    match parts.len() {
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" or ")),
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
    fn seed_dialect_queries() {
        let d = dialect("seed");
        let q = QueryBuilder::new(&d, "{job=\"litellm\"}", "instance").unwrap();
        assert_eq!(
            q.counter(Signal::Requests, Group::InstanceModel, "1m", false)
                .unwrap(),
            "sum by (instance, model) (rate(deepseek_requests_total{job=\"litellm\"}[1m]))"
        );
        assert_eq!(
            q.counter(Signal::RequestsFailed, Group::Total, "1m", false)
                .unwrap(),
            "sum(rate(deepseek_requests_total{job=\"litellm\",status=\"error\"}[1m]))"
        );
        assert_eq!(
            q.quantile(0.95, Signal::LatencySeconds, Group::Total, "5m")
                .unwrap(),
            "histogram_quantile(0.95, sum by (le) (rate(deepseek_request_latency_seconds_bucket{job=\"litellm\"}[5m])))"
        );
        assert_eq!(
            q.quantile(0.5, Signal::TtftSeconds, Group::Instance, "30s")
                .unwrap(),
            "histogram_quantile(0.5, sum by (instance, le) (rate(deepseek_time_to_first_token_seconds_bucket{job=\"litellm\"}[30s])))"
        );
        assert_eq!(
            q.counter(Signal::TokensInput, Group::Model, "24h", true)
                .unwrap(),
            "sum by (model) (increase(deepseek_tokens_total{job=\"litellm\",type=\"prompt\"}[24h]))"
        );
        assert_eq!(
            q.counter(Signal::TokensOutput, Group::Model, "5m", true)
                .unwrap(),
            "sum by (model) (increase(deepseek_tokens_total{job=\"litellm\",type=\"completion\"}[5m]))"
        );
        assert_eq!(
            q.buckets(Signal::LatencySeconds, Group::Total, "10s", true)
                .unwrap(),
            "sum by (le) (increase(deepseek_request_latency_seconds_bucket{job=\"litellm\"}[10s]))"
        );
        assert_eq!(
            q.gauge(Signal::InFlight).unwrap(),
            "sum(deepseek_active_requests{job=\"litellm\"})"
        );
        assert_eq!(
            q.gauge(Signal::CacheHitRatio).unwrap(),
            "avg(deepseek_cache_hit_ratio{job=\"litellm\"})"
        );
        // Signals the dialect does not export have no query at all, never a zero.
        assert_eq!(q.counter(Signal::SpendUsd, Group::Total, "1m", false), None);
        assert_eq!(q.gauge(Signal::KvCacheUsage), None);
        assert_eq!(
            q.gauge(Signal::Queued).unwrap(),
            "sum(deepseek_queued_requests{job=\"litellm\"})",
            "the demo's queue family (dialects/seed.toml)"
        );
        // Drill-down and model filter add matchers.
        let one = q
            .with_instance("10.0.0.7:4000")
            .with_model_filter("gpt-4.1");
        assert_eq!(
            one.counter(Signal::Requests, Group::Model, "1m", false)
                .unwrap(),
            "sum by (model) (rate(deepseek_requests_total{job=\"litellm\",instance=\"10.0.0.7:4000\",model=~\"(?i).*gpt-4\\\\.1.*\"}[1m]))"
        );
    }

    /// The Gateway panel through Prometheus: per-upstream gauges under the upstream's label,
    /// the worst state and the tightest headroom; fallbacks keyed `from → to` as a scrape keys
    /// them; `describe` as a `group by` of the labels it names.
    #[test]
    fn litellm_upstream_queries() {
        let d = dialect("litellm");
        let q = QueryBuilder::new(&d, "", "instance").unwrap();
        assert_eq!(
            q.gauge_by_model(Signal::UpstreamState).unwrap(),
            "max by (model) (label_replace(litellm_deployment_state, \"model\", \"$1\", \"litellm_model_name\", \"(.*)\"))"
        );
        assert_eq!(
            q.gauge_by_model(Signal::RemainingRequests).unwrap(),
            "min by (model) (label_replace(litellm_remaining_requests_metric, \"model\", \"$1\", \"litellm_model_name\", \"(.*)\"))"
        );
        assert_eq!(
            q.counter(Signal::FallbacksOk, Group::Model, "1m", true)
                .unwrap(),
            "sum by (model) (label_join(increase(litellm_deployment_successful_fallbacks_total[1m]), \"model\", \" → \", \"requested_model\", \"fallback_model\"))"
        );
        let described: Vec<String> = q.describe().into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            described,
            [
                "group by (litellm_model_name, api_provider, api_base) (litellm_deployment_state)",
                "group by (litellm_model_name, model_group, api_provider, api_base) (litellm_remaining_requests_metric)",
            ]
        );
        assert_eq!(
            dialect("vllm")
                .rules
                .iter()
                .filter(|r| r.describe.is_some())
                .count(),
            0,
            "an engine has no upstreams to describe"
        );
    }

    /// SGLang's tensor-parallel copies stay out of fleet mode's sums as they do in a scrape, and
    /// its KV-cache use is the fullest engine's, not a sum.
    #[test]
    fn sglang_queries_read_rank_0_and_the_fullest_kv_cache() {
        let d = dialect("sglang");
        let q = QueryBuilder::new(&d, "", "instance").unwrap();
        assert_eq!(
            q.gauge(Signal::InFlight).unwrap(),
            "sum(sglang:num_running_reqs{tp_rank=~\"0|\"})"
        );
        assert_eq!(
            q.gauge(Signal::KvCacheUsage).unwrap(),
            "max(sglang:token_usage{tp_rank=~\"0|\"})"
        );
    }

    #[test]
    fn vllm_dialect_queries() {
        let d = dialect("vllm");
        let q = QueryBuilder::new(&d, "", "pod").unwrap();
        assert_eq!(
            q.counter(Signal::Requests, Group::InstanceModel, "1m", false)
                .unwrap(),
            "sum by (pod, model) (label_replace(rate(vllm:request_success_total[1m]), \"model\", \"$1\", \"model_name\", \"(.*)\"))"
        );
        assert_eq!(
            q.counter(Signal::RequestsFailed, Group::Total, "1m", false)
                .unwrap(),
            "sum(rate(vllm:request_success_total{finished_reason=~\"abort|error\"}[1m]))"
        );
        assert_eq!(
            q.quantile(0.99, Signal::LatencySeconds, Group::Total, "5m")
                .unwrap(),
            "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[5m])))"
        );
        // Inter-token latency under its new name or, where only that exists, the old one: `or`
        // keeps the old family's series only where the new one has none, so a release that
        // exports both is read once (it used to be summed, counting every token twice).
        assert_eq!(
            q.quantile(0.5, Signal::ItlSeconds, Group::Total, "1m")
                .unwrap(),
            "histogram_quantile(0.5, sum by (le) (\
             (rate(vllm:inter_token_latency_seconds_bucket[1m]) or \
             rate(vllm:time_per_output_token_seconds_bucket[1m]))))"
        );
        assert_eq!(
            q.counter(Signal::TokensOutput, Group::Model, "24h", true)
                .unwrap(),
            "sum by (model) (label_replace(increase(vllm:generation_tokens_total[24h]), \"model\", \"$1\", \"model_name\", \"(.*)\"))"
        );
        assert_eq!(
            q.gauge(Signal::Queued).unwrap(),
            "sum(vllm:num_requests_waiting)"
        );
        assert_eq!(
            q.with_model_filter("llama")
                .counter(Signal::TokensInput, Group::Total, "30s", false)
                .unwrap(),
            "sum(rate(vllm:prompt_tokens_total{model_name=~\"(?i).*llama.*\"}[30s]))"
        );
    }

    #[test]
    fn scale_and_part_rules() {
        let d = Dialect::from_toml_str(
            r#"
name = "t"
detect = ["d_ms"]
model_label = "m"
[[map]]
metric = "d_ms"
signal = "latency_seconds"
scale = 0.001
[[map]]
metric = "d_ms"
part = "count"
signal = "requests"
failed_when = { label = "error_type" }
[[map]]
metric = "spend_cents_total"
signal = "spend_usd"
scale = 0.01
only_when = { label = "billable", values = ["yes"] }
"#,
        )
        .unwrap();
        let q = QueryBuilder::new(&d, "job=\"x\"", "instance").unwrap();
        assert_eq!(
            q.quantile(0.95, Signal::LatencySeconds, Group::Total, "1m")
                .unwrap(),
            "histogram_quantile(0.95, sum by (le) (rate(d_ms_bucket{job=\"x\"}[1m]))) * 0.001"
        );
        assert_eq!(
            q.counter(Signal::RequestsFailed, Group::Total, "1m", false)
                .unwrap(),
            "sum(rate(d_ms_count{job=\"x\",error_type!=\"\"}[1m]))"
        );
        assert_eq!(
            q.counter(Signal::SpendUsd, Group::Model, "1m", false)
                .unwrap(),
            "sum by (model) (label_replace(rate(spend_cents_total{job=\"x\",billable=\"yes\"}[1m]) * 0.01, \"model\", \"$1\", \"m\", \"(.*)\"))"
        );
    }

    #[test]
    fn selectors_are_checked() {
        assert_eq!(selector_matchers("{job=\"a\"}").unwrap(), "job=\"a\"");
        assert_eq!(
            selector_matchers(" job=\"a\", env=~\"p.*\" ").unwrap(),
            "job=\"a\", env=~\"p.*\""
        );
        assert_eq!(selector_matchers("{job=\"}{\"}").unwrap(), "job=\"}{\"");
        assert!(selector_matchers("{job=\"a\"} or up{").is_err());
        assert!(selector_matchers("job=\"a").is_err());
        assert_eq!(selector_matchers("").unwrap(), "");
    }

    #[test]
    fn durations_and_detection() {
        assert_eq!(duration(30.0), "30s");
        assert_eq!(duration(300.0), "5m");
        assert_eq!(duration(86_400.0), "24h");
        assert_eq!(duration(0.2), "1s");
        let dialects = crate::base::dialect::builtin();
        let names: Vec<String> = [
            "up",
            "vllm:e2e_request_latency_seconds_bucket",
            "vllm:num_requests_running",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            detect(&dialects, &names).map(|d| d.name.as_str()),
            Some("vllm")
        );
        let seed: Vec<String> = [
            "deepseek_requests_total",
            "deepseek_request_latency_seconds_bucket",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            detect(&dialects, &seed).map(|d| d.name.as_str()),
            Some("seed")
        );
        assert!(detect(&dialects, &["up".to_string()]).is_none());
    }
}
