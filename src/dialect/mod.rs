//! Gateway dialects as data: tables that map metric families and labels onto canonical signals.
//!
//! A dialect is a TOML table (the built-ins live in `dialects/*.toml` and are embedded at build
//! time); users add their own in the config file in the same format. Detection counts which of a
//! dialect's `detect` families a scrape holds.
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::Deserialize;

use crate::exposition::{Exposition, Labels};
use crate::signal::{CanonicalSample, CanonicalValue, Signal, SignalKind};

/// The model name used for series that carry no model label and whose dialect does not fall
/// back to the target's name: the whole gateway as one.
pub const ALL_MODELS: &str = "";

const BUILTIN_SOURCES: [(&str, &str); 5] = [
    ("seed", include_str!("../../dialects/seed.toml")),
    ("vllm", include_str!("../../dialects/vllm.toml")),
    ("litellm", include_str!("../../dialects/litellm.toml")),
    ("tgi", include_str!("../../dialects/tgi.toml")),
    ("llamacpp", include_str!("../../dialects/llamacpp.toml")),
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

/// A label whose value decides something, e.g. `status` in `["error"]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelMatch {
    pub label: String,
    pub values: Vec<String>,
}

impl LabelMatch {
    fn matches(&self, labels: &Labels<'_>) -> bool {
        labels
            .get(&self.label)
            .is_some_and(|v| self.values.iter().any(|want| want == v))
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
    /// family's base name for histograms.
    pub metric: String,
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
    /// Multiplies values (and histogram bounds) into canonical units, e.g. 0.001 for milliseconds.
    #[serde(default = "one")]
    pub scale: f64,
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
            match (&rule.signal, &rule.by_label) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => anyhow::bail!(
                    "dialect {}: rule for {} needs exactly one of `signal` or `by_label`",
                    self.name,
                    rule.metric
                ),
            }
            anyhow::ensure!(
                rule.scale.is_finite() && rule.scale > 0.0,
                "dialect {}: rule for {} has a scale that is not a positive number",
                self.name,
                rule.metric
            );
            if rule.failed_when.is_some() {
                anyhow::ensure!(
                    rule.signal == Some(Signal::Requests),
                    "dialect {}: `failed_when` only applies to signal = \"requests\" ({})",
                    self.name,
                    rule.metric
                );
            }
            let kinds: Vec<SignalKind> = match (&rule.signal, &rule.by_label) {
                (Some(s), _) => vec![s.kind()],
                (_, Some(b)) => b.signals.values().map(|s| s.kind()).collect(),
                _ => vec![],
            };
            anyhow::ensure!(
                kinds.windows(2).all(|w| w[0] == w[1]),
                "dialect {}: rule for {} mixes histogram and scalar signals",
                self.name,
                rule.metric
            );
        }
        Ok(())
    }

    /// The signals this dialect can produce, for saying on screen what a gateway does not export.
    pub fn signals(&self) -> Vec<Signal> {
        let mut out: Vec<Signal> = Vec::new();
        for rule in &self.rules {
            if let Some(s) = rule.signal {
                out.push(s);
            }
            if let Some(b) = &rule.by_label {
                out.extend(b.signals.values().copied());
            }
            if rule.failed_when.is_some() {
                out.push(Signal::RequestsFailed);
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
            .filter(|family| {
                exposition.family_type(family).is_some()
                    || exposition.samples.iter().any(|s| {
                        s.name == family.as_str()
                            || s.name
                                .strip_prefix(family.as_str())
                                .is_some_and(|rest| rest == "_bucket" || rest == "_count")
                    })
            })
            .count()
    }

    /// Maps one parsed scrape onto canonical samples. `target_name` names series when the
    /// dialect falls back to the target.
    pub fn map(&self, exposition: &Exposition<'_>, target_name: &str) -> Mapped {
        let mut mapped = Mapped::default();
        for rule in &self.rules {
            let model_label = rule.model_label.as_deref().unwrap_or(&self.model_label);
            let model_of = |labels: &Labels<'_>| -> String {
                match labels.get(model_label) {
                    Some(m) if !m.is_empty() => m.to_string(),
                    _ => match self.model_fallback {
                        ModelFallback::All => ALL_MODELS.to_string(),
                        ModelFallback::Target => target_name.to_string(),
                    },
                }
            };
            let is_histogram = match (&rule.signal, &rule.by_label) {
                (Some(s), _) => s.kind() == SignalKind::Histogram,
                (_, Some(b)) => b
                    .signals
                    .values()
                    .next()
                    .is_some_and(|s| s.kind() == SignalKind::Histogram),
                _ => false,
            };
            if is_histogram {
                for hist in exposition.histograms(&rule.metric) {
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
                        series_id: series_id(&rule.metric, &hist.labels),
                        value: CanonicalValue::Histogram {
                            buckets,
                            sum: hist.sum.unwrap_or(f64::NAN) * rule.scale,
                            count,
                        },
                    });
                }
            } else {
                for sample in exposition.samples_named(&rule.metric) {
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
                    let id = series_id(sample.name, &sample.labels);
                    let value = sample.value * rule.scale;
                    if rule
                        .failed_when
                        .as_ref()
                        .is_some_and(|m| m.matches(&sample.labels))
                    {
                        mapped.samples.push(CanonicalSample {
                            signal: Signal::RequestsFailed,
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
pub fn detect<'d>(dialects: &'d [Dialect], exposition: &Exposition<'_>) -> Option<&'d Dialect> {
    dialects
        .iter()
        .map(|d| (d.detection_score(exposition), d))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, _)| *score)
        .map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_dialect_parses() {
        let parsed = builtin();
        assert_eq!(parsed.len(), BUILTIN_SOURCES.len());
        let names: Vec<&str> = parsed.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["seed", "vllm", "litellm", "tgi", "llamacpp"]);
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
}
