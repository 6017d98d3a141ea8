//! Gateway dialects as data: tables that map metric families and labels onto canonical signals.
//!
//! A dialect is a TOML table (the built-ins live in `dialects/*.toml` and are embedded at build
//! time); users add their own in the config file in the same format. Detection counts which of a
//! dialect's `detect` families a scrape holds; on a tie the dialect listed first wins, so a user
//! dialect (listed before the built-ins) beats a built-in that matches as well.
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::Deserialize;

use crate::base::exposition::{Exposition, Labels};
use crate::base::signal::{CanonicalSample, CanonicalValue, Signal, SignalKind};

/// Between the two names of a fallback series' key: `gpt-4o → deepseek-chat`.
pub const FALLBACK_ARROW: &str = " → ";

/// The model name used for series that carry no model label and whose dialect does not fall
/// back to the target's name: the whole gateway as one.
pub const ALL_MODELS: &str = "";

const BUILTIN_SOURCES: [(&str, &str); 11] = [
    (
        "seed",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/seed.toml")),
    ),
    (
        "vllm",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/vllm.toml")),
    ),
    (
        "litellm",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dialects/litellm.toml"
        )),
    ),
    (
        "tgi",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/tgi.toml")),
    ),
    (
        "llamacpp",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dialects/llamacpp.toml"
        )),
    ),
    (
        "sglang",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/sglang.toml")),
    ),
    (
        "otel_genai",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dialects/otel_genai.toml"
        )),
    ),
    (
        "kong",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/kong.toml")),
    ),
    (
        "nim",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/nim.toml")),
    ),
    (
        "triton",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/triton.toml")),
    ),
    (
        "trtllm",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dialects/trtllm.toml")),
    ),
];

/// What to call a series that has no model label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFallback {
    /// One series for the whole gateway (shown as "all models").
    #[default]
    All,
    /// The target's own name (single-model servers such as TGI).
    Target,
}

/// A label whose value decides something, e.g. `status` in `["error"]`. Without `values` the label
/// only has to be present with a non-empty value (OpenTelemetry's `error_type` on failures).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelMatch {
    pub label: String,
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

impl LabelMatch {
    fn matches(&self, labels: &Labels<'_>) -> bool {
        labels.get(&self.label).is_some_and(|v| match &self.values {
            Some(values) => values.iter().any(|want| want == v),
            None => !v.is_empty(),
        })
    }
}

/// Which series of a histogram family a rule reads as a plain counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistogramPart {
    /// `<family>_sum`: e.g. the tokens of OpenTelemetry's `gen_ai.client.token.usage` histogram.
    Sum,
    /// `<family>_count`: e.g. the requests behind a duration histogram.
    Count,
}

impl HistogramPart {
    fn suffix(self) -> &'static str {
        match self {
            HistogramPart::Sum => "_sum",
            HistogramPart::Count => "_count",
        }
    }
}

/// Labels that say more about an upstream than its name: which model it runs, its provider and
/// where its API lives. Each field names the label to read (LiteLLM's `api_provider`, …).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Describe {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub api_base: Option<String>,
}

/// What a scrape's labels said about one upstream (or model): `None` where no label did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub api_base: Option<String>,
}

impl Description {
    /// `other`'s fields where it has them, ours elsewhere.
    pub fn update(&mut self, other: &Description) {
        for (mine, theirs) in [
            (&mut self.model, &other.model),
            (&mut self.provider, &other.provider),
            (&mut self.api_base, &other.api_base),
        ] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// Splits one family into several signals by a label's value (e.g. `type="prompt"` → tokens_input).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByLabel {
    pub label: String,
    pub signals: BTreeMap<String, Signal>,
}

/// One row of a dialect table: a metric family and the signal it feeds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRule {
    /// The sample name for counters and gauges (with `_total` where the gateway writes it), the
    /// family's base name for histograms (also when `part` reads its `_sum` or `_count`).
    pub metric: String,
    /// Other names of the same family (a release renamed it): the first of `metric`, then these,
    /// that a scrape holds is read, and only that one, so a release exporting both old and new
    /// names is never counted twice.
    #[serde(default)]
    pub alternatives: Vec<String>,
    #[serde(default)]
    pub signal: Option<Signal>,
    #[serde(default)]
    pub by_label: Option<ByLabel>,
    /// For `requests`: samples whose label matches also count as `requests_failed`.
    #[serde(default)]
    pub failed_when: Option<LabelMatch>,
    /// Only samples whose label matches are taken.
    #[serde(default)]
    pub only_when: Option<LabelMatch>,
    /// Overrides the dialect's model label for this family.
    #[serde(default)]
    pub model_label: Option<String>,
    /// For fallbacks: the label naming where the traffic went; the series is keyed
    /// `model → target` (e.g. `gpt-4o → deepseek-chat`).
    #[serde(default)]
    pub target_label: Option<String>,
    /// For budgets: the scope the series belong to (`team`, `api_key`, `user`); they are keyed
    /// `scope:name`, the name from the model label.
    #[serde(default)]
    pub scope: Option<String>,
    /// Multiplies values (and histogram bounds) into canonical units, e.g. 0.001 for milliseconds.
    #[serde(default = "one")]
    pub scale: f64,
    /// Reads `metric` (a histogram family's base name) through its `_sum` or `_count` series, as a
    /// counter signal: the only way to get token or request counts out of a gateway that exports
    /// them solely as histograms.
    #[serde(default)]
    pub part: Option<HistogramPart>,
    /// Labels that describe the series' upstream (model, provider, api_base), shown beside it.
    #[serde(default)]
    pub describe: Option<Describe>,
}

impl MapRule {
    /// `metric`, then its `alternatives`, in order of preference.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.metric.as_str()).chain(self.alternatives.iter().map(String::as_str))
    }

    /// The name this scrape is read through: the first of [`MapRule::names`] it holds; `None`
    /// when it holds none. A rule without alternatives always reads `metric`.
    fn present_name<'r>(&'r self, exposition: &Exposition<'_>) -> Option<&'r str> {
        if self.alternatives.is_empty() {
            return Some(&self.metric);
        }
        self.names().find(|name| holds_family(exposition, name))
    }

    /// The signals this rule can produce (before `failed_when`).
    fn target_signals(&self) -> Vec<Signal> {
        match (&self.signal, &self.by_label) {
            (Some(s), _) => vec![*s],
            (_, Some(b)) => b.signals.values().copied().collect(),
            _ => vec![],
        }
    }
}

fn one() -> f64 {
    1.0
}

/// A complete dialect table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub detect: Vec<String>,
    #[serde(default = "default_model_label")]
    pub model_label: String,
    #[serde(default)]
    pub model_fallback: ModelFallback,
    /// A label whose ranks repeat rank 0's numbers (SGLang writes one copy of each scheduler
    /// gauge per tensor-parallel rank with `--enable-metrics-for-all-schedulers`): only series
    /// without it, or with the value `0`, are read, so a total is counted once, not per rank.
    #[serde(default)]
    pub replica_label: Option<String>,
    #[serde(rename = "map")]
    pub rules: Vec<MapRule>,
}

fn default_model_label() -> String {
    "model".to_string()
}

/// The result of mapping one scrape.
#[derive(Debug, Default)]
pub struct Mapped {
    pub samples: Vec<CanonicalSample>,
    /// Histogram series whose bounds could not be used (e.g. no `+Inf` bucket).
    pub rejected_histograms: usize,
    /// What `describe` rules' labels said, by series key (upstream name).
    pub descriptions: BTreeMap<String, Description>,
}

impl Dialect {
    /// Parses one dialect table and checks that every rule names exactly one way to a signal.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        let dialect: Dialect = toml::from_str(text)?;
        dialect.validate()?;
        Ok(dialect)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.name.is_empty(), "a dialect needs a name");
        anyhow::ensure!(
            !self.detect.is_empty(),
            "dialect {}: `detect` must name at least one family",
            self.name
        );
        for rule in &self.rules {
            let (name, metric) = (&self.name, &rule.metric);
            match (&rule.signal, &rule.by_label) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => anyhow::bail!(
                    "dialect {name}: rule for {metric} needs exactly one of `signal` or `by_label`"
                ),
            }
            anyhow::ensure!(
                rule.alternatives
                    .iter()
                    .all(|alt| !alt.is_empty() && alt != metric),
                "dialect {name}: rule for {metric} lists an empty alternative or itself"
            );
            anyhow::ensure!(
                rule.scale.is_finite() && rule.scale > 0.0,
                "dialect {name}: rule for {metric} has a scale that is not a positive number"
            );
            if rule.failed_when.is_some() {
                anyhow::ensure!(
                    rule.signal.and_then(Signal::failed_twin).is_some(),
                    "dialect {name}: `failed_when` only applies to signal = \"requests\" or \"upstream_requests\" ({metric})"
                );
            }
            if rule.describe.is_some() {
                anyhow::ensure!(
                    rule.target_label.is_none(),
                    "dialect {name}: rule for {metric} has `describe` and `target_label`; a \
                     fallback pair is not an upstream to describe"
                );
            }
            for m in [&rule.failed_when, &rule.only_when].into_iter().flatten() {
                anyhow::ensure!(
                    m.values.as_ref().is_none_or(|v| !v.is_empty()),
                    "dialect {name}: rule for {metric} matches label {} against an empty `values` \
                     list, which matches nothing (leave `values` out to match any non-empty value)",
                    m.label
                );
            }
            let kinds: Vec<SignalKind> = rule.target_signals().iter().map(|s| s.kind()).collect();
            anyhow::ensure!(
                kinds.windows(2).all(|w| w[0] == w[1]),
                "dialect {name}: rule for {metric} mixes histogram and scalar signals"
            );
            if let Some(part) = rule.part {
                anyhow::ensure!(
                    kinds.iter().all(|k| *k == SignalKind::Counter),
                    "dialect {name}: rule for {metric} reads a histogram's {} as a counter, so it \
                     can only feed counter signals",
                    part.suffix()
                );
                anyhow::ensure!(
                    !rule.names().any(|name| {
                        ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|suffix| name.ends_with(suffix))
                    }),
                    "dialect {name}: rule for {metric} with `part` must name the histogram family \
                     without its _bucket/_sum/_count suffix"
                );
            }
        }
        Ok(())
    }

    /// The signals this dialect can produce, for saying on screen what a gateway does not export.
    pub fn signals(&self) -> Vec<Signal> {
        let mut out: Vec<Signal> = Vec::new();
        for rule in &self.rules {
            out.extend(rule.target_signals());
            if rule.failed_when.is_some()
                && let Some(failed) = rule.signal.and_then(Signal::failed_twin)
            {
                out.push(failed);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn provides(&self, signal: Signal) -> bool {
        self.signals().contains(&signal)
    }

    /// How many of this dialect's `detect` families the scrape holds.
    fn detection_score(&self, exposition: &Exposition<'_>) -> usize {
        self.detect
            .iter()
            .filter(|family| holds_family(exposition, family))
            .count()
    }

    /// Maps one parsed scrape onto canonical samples. `target_name` names series when the
    /// dialect falls back to the target.
    pub fn map(&self, exposition: &Exposition<'_>, target_name: &str) -> Mapped {
        let mut mapped = Mapped::default();
        for rule in &self.rules {
            let Some(metric) = rule.present_name(exposition) else {
                continue;
            };
            let is_replica = |labels: &Labels<'_>| {
                self.replica_label
                    .as_deref()
                    .is_some_and(|l| labels.get(l).is_some_and(|rank| rank != "0"))
            };
            let model_label = rule.model_label.as_deref().unwrap_or(&self.model_label);
            let model_of = |labels: &Labels<'_>| -> String {
                let model = match labels.get(model_label) {
                    Some(m) if !m.is_empty() => m.to_string(),
                    _ => match self.model_fallback {
                        ModelFallback::All => ALL_MODELS.to_string(),
                        ModelFallback::Target => target_name.to_string(),
                    },
                };
                match (&rule.target_label, &rule.scope) {
                    (Some(to), _) => {
                        format!("{model}{FALLBACK_ARROW}{}", labels.get(to).unwrap_or("?"))
                    }
                    (None, Some(scope)) => format!("{scope}:{model}"),
                    (None, None) => model,
                }
            };
            let is_histogram = rule.part.is_none()
                && rule
                    .target_signals()
                    .first()
                    .is_some_and(|s| s.kind() == SignalKind::Histogram);
            if is_histogram {
                for hist in exposition.histograms(metric) {
                    if is_replica(&hist.labels) {
                        continue;
                    }
                    if rule
                        .only_when
                        .as_ref()
                        .is_some_and(|m| !m.matches(&hist.labels))
                    {
                        continue;
                    }
                    let Some(signal) = rule_signal(rule, &hist.labels) else {
                        continue;
                    };
                    let has_inf = hist.buckets.last().is_some_and(|(le, _)| le.is_infinite());
                    if hist.buckets.len() < 2 || !has_inf {
                        mapped.rejected_histograms += 1;
                        continue;
                    }
                    let buckets: Vec<(f64, f64)> = hist
                        .buckets
                        .iter()
                        .map(|&(le, count)| (le * rule.scale, count))
                        .collect();
                    let count = hist
                        .count
                        .or_else(|| buckets.last().map(|b| b.1))
                        .unwrap_or(0.0);
                    mapped.samples.push(CanonicalSample {
                        signal,
                        model: model_of(&hist.labels),
                        series_id: series_id(metric, &hist.labels),
                        value: CanonicalValue::Histogram {
                            buckets,
                            sum: hist.sum.unwrap_or(f64::NAN) * rule.scale,
                            count,
                        },
                    });
                }
            } else {
                let sample_name = match rule.part {
                    Some(part) => format!("{metric}{}", part.suffix()),
                    None => metric.to_string(),
                };
                for sample in exposition.samples_named(&sample_name) {
                    if is_replica(&sample.labels) {
                        continue;
                    }
                    if rule
                        .only_when
                        .as_ref()
                        .is_some_and(|m| !m.matches(&sample.labels))
                    {
                        continue;
                    }
                    let Some(signal) = rule_signal(rule, &sample.labels) else {
                        continue;
                    };
                    let model = model_of(&sample.labels);
                    if let Some(describe) = &rule.describe {
                        describe_into(&mut mapped.descriptions, &model, describe, &sample.labels);
                    }
                    let id = series_id(sample.name, &sample.labels);
                    let value = sample.value * rule.scale;
                    if let Some(failed) = signal.failed_twin().filter(|_| {
                        rule.failed_when
                            .as_ref()
                            .is_some_and(|m| m.matches(&sample.labels))
                    }) {
                        mapped.samples.push(CanonicalSample {
                            signal: failed,
                            model: model.clone(),
                            series_id: id,
                            value: CanonicalValue::Scalar(value),
                        });
                    }
                    mapped.samples.push(CanonicalSample {
                        signal,
                        model,
                        series_id: id,
                        value: CanonicalValue::Scalar(value),
                    });
                }
            }
        }
        mapped
    }
}

fn describe_into(
    out: &mut BTreeMap<String, Description>,
    key: &str,
    describe: &Describe,
    labels: &Labels<'_>,
) {
    let read = |label: &Option<String>| {
        label
            .as_deref()
            .and_then(|l| labels.get(l))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let found = Description {
        model: read(&describe.model),
        provider: read(&describe.provider),
        api_base: read(&describe.api_base),
    };
    if found != Description::default() {
        out.entry(key.to_string()).or_default().update(&found);
    }
}

/// Whether a scrape holds `family`: a `# TYPE` line for it, or a sample of it (a histogram by
/// its `_bucket`, `_count` or `_sum`).
fn holds_family(exposition: &Exposition<'_>, family: &str) -> bool {
    exposition.family_type(family).is_some()
        || exposition.samples.iter().any(|s| {
            s.name == family
                || s.name
                    .strip_prefix(family)
                    .is_some_and(|rest| rest == "_bucket" || rest == "_count" || rest == "_sum")
        })
}

fn rule_signal(rule: &MapRule, labels: &Labels<'_>) -> Option<Signal> {
    match (&rule.signal, &rule.by_label) {
        (Some(s), _) => Some(*s),
        (_, Some(by)) => labels
            .get(&by.label)
            .and_then(|v| by.signals.get(v))
            .copied(),
        _ => None,
    }
}

/// A stable identity for a raw series: its family and every label except `le`, in a fixed order.
fn series_id(metric: &str, labels: &Labels<'_>) -> u64 {
    let mut pairs: Vec<(&str, &str)> = labels
        .0
        .iter()
        .filter(|(k, _)| *k != "le")
        .map(|(k, v)| (*k, v.as_ref()))
        .collect();
    pairs.sort_unstable();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    metric.hash(&mut hasher);
    pairs.hash(&mut hasher);
    hasher.finish()
}

/// The dialects llmtop knows without any configuration.
pub fn builtin() -> Vec<Dialect> {
    BUILTIN_SOURCES
        .iter()
        .filter_map(|(name, text)| match Dialect::from_toml_str(text) {
            Ok(d) => Some(d),
            Err(e) => {
                // Only reachable if a shipped table is broken; a unit test guards every one.
                tracing::error!("built-in dialect {name} does not parse: {e:#}");
                None
            }
        })
        .collect()
}

/// Picks the dialect whose `detect` families the scrape holds most of; `None` if none matches.
/// On a tie the earlier dialect in `dialects` wins (user dialects come before the built-ins).
pub fn detect<'d>(dialects: &'d [Dialect], exposition: &Exposition<'_>) -> Option<&'d Dialect> {
    let mut best: Option<(usize, &Dialect)> = None;
    for d in dialects {
        let score = d.detection_score(exposition);
        if score > 0 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, d));
        }
    }
    best.map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_dialect_parses() {
        let parsed = builtin();
        assert_eq!(parsed.len(), BUILTIN_SOURCES.len());
        let names: Vec<&str> = parsed.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "seed",
                "vllm",
                "litellm",
                "tgi",
                "llamacpp",
                "sglang",
                "otel_genai",
                "kong",
                "nim",
                "triton",
                "trtllm"
            ]
        );
    }

    #[test]
    fn a_rule_with_both_signal_and_by_label_is_refused() {
        let text = r#"
name = "bad"
detect = ["x_total"]
[[map]]
metric = "x_total"
signal = "requests"
by_label = { label = "t", signals = { a = "tokens_input" } }
"#;
        let err = Dialect::from_toml_str(text).unwrap_err().to_string();
        assert!(err.contains("exactly one of"), "{err}");
    }

    #[test]
    fn an_unknown_signal_name_is_refused() {
        let text =
            "name = \"bad\"\ndetect = [\"x\"]\n[[map]]\nmetric = \"x\"\nsignal = \"requestz\"\n";
        assert!(Dialect::from_toml_str(text).is_err());
    }
    fn one_rule(rule: &str) -> anyhow::Result<Dialect> {
        Dialect::from_toml_str(&format!(
            "name = \"t\"\ndetect = [\"x\"]\n[[map]]\n{rule}\n"
        ))
    }

    #[test]
    fn part_only_feeds_counters_and_takes_the_family_base_name() {
        let err = one_rule("metric = \"x\"\npart = \"sum\"\nsignal = \"latency_seconds\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("counter signals"), "{err}");
        let err = one_rule("metric = \"x_sum\"\npart = \"sum\"\nsignal = \"tokens_input\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("without its _bucket/_sum/_count suffix"),
            "{err}"
        );
        assert!(one_rule("metric = \"x\"\npart = \"total\"\nsignal = \"requests\"").is_err());
        let ok = one_rule("metric = \"x\"\npart = \"count\"\nsignal = \"requests\"").unwrap();
        assert_eq!(ok.rules[0].part, Some(HistogramPart::Count));
    }

    #[test]
    fn an_empty_values_list_is_refused() {
        let err = one_rule(
            "metric = \"x\"\nsignal = \"requests\"\nfailed_when = { label = \"s\", values = [] }",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("empty `values`"), "{err}");
    }

    #[test]
    fn part_reads_sum_and_count_and_a_valueless_match_means_present() {
        let d = Dialect::from_toml_str(
            r#"
name = "t"
detect = ["d_seconds"]
model_label = "m"
[[map]]
metric = "d_seconds"
part = "count"
signal = "requests"
failed_when = { label = "error_type" }
[[map]]
metric = "tok"
part = "sum"
by_label = { label = "type", signals = { input = "tokens_input" } }
"#,
        )
        .unwrap();
        let text = "d_seconds_bucket{m=\"a\",le=\"+Inf\"} 7\nd_seconds_sum{m=\"a\"} 3.5\n\
                    d_seconds_count{m=\"a\"} 7\nd_seconds_count{m=\"a\",error_type=\"\"} 4\n\
                    d_seconds_count{m=\"a\",error_type=\"_OTHER\"} 2\n\
                    tok_sum{m=\"a\",type=\"input\"} 1200\ntok_count{m=\"a\",type=\"input\"} 9\n";
        let expo = crate::base::exposition::parse(text);
        let mapped = d.map(&expo, "target");
        let got: Vec<(Signal, f64)> = mapped
            .samples
            .iter()
            .map(|s| match s.value {
                CanonicalValue::Scalar(v) => (s.signal, v),
                CanonicalValue::Histogram { .. } => panic!("a part rule yields scalars"),
            })
            .collect();
        assert_eq!(
            got,
            [
                (Signal::Requests, 7.0),
                // An empty error_type is no error.
                (Signal::Requests, 4.0),
                (Signal::RequestsFailed, 2.0),
                (Signal::Requests, 2.0),
                (Signal::TokensInput, 1200.0),
            ]
        );
        assert!(mapped.samples.iter().all(|s| s.model == "a"));
    }

    #[test]
    fn on_a_tie_the_first_dialect_wins() {
        let table = |name: &str| {
            Dialect::from_toml_str(&format!(
                "name = \"{name}\"\ndetect = [\"x_total\"]\n[[map]]\nmetric = \"x_total\"\nsignal = \"requests\"\n"
            ))
            .unwrap()
        };
        let dialects = [table("user"), table("builtin")];
        let expo = crate::base::exposition::parse("x_total 1\n");
        assert_eq!(
            detect(&dialects, &expo).map(|d| d.name.as_str()),
            Some("user")
        );
        assert!(detect(&dialects, &crate::base::exposition::parse("y_total 1\n")).is_none());
    }

    #[test]
    fn describe_reads_labels_beside_the_upstream_and_newer_words_win() {
        let d = Dialect::from_toml_str(
            r#"
name = "gw"
detect = ["up_state"]
[[map]]
metric = "up_state"
model_label = "upstream"
signal = "upstream_state"
describe = { provider = "prov", api_base = "base" }
"#,
        )
        .unwrap();
        let text =
            "up_state{upstream=\"a\",prov=\"openai\",base=\"\"} 0\nup_state{upstream=\"b\"} 2\n";
        let mapped = d.map(&crate::base::exposition::parse(text), "t");
        assert_eq!(mapped.descriptions.len(), 1, "b has no describing label");
        let a = &mapped.descriptions["a"];
        assert_eq!(a.provider.as_deref(), Some("openai"));
        assert_eq!(a.api_base, None, "an empty label says nothing");
        let mut known = a.clone();
        known.update(&Description {
            api_base: Some("https://x".into()),
            ..Description::default()
        });
        assert_eq!(known.provider.as_deref(), Some("openai"));
        assert_eq!(known.api_base.as_deref(), Some("https://x"));
        let err = Dialect::from_toml_str(
            r#"
name = "gw"
detect = ["f_total"]
[[map]]
metric = "f_total"
model_label = "from"
target_label = "to"
signal = "fallbacks_ok"
describe = { provider = "p" }
"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`describe` and `target_label`"),
            "{err}"
        );
        let unknown = Dialect::from_toml_str(
            "name = \"gw\"\ndetect = [\"x\"]\n[[map]]\nmetric = \"x\"\nsignal = \"upstream_state\"\ndescribe = { region = \"r\" }\n",
        );
        assert!(
            unknown.is_err(),
            "describe knows model, provider and api_base only"
        );
    }
}
