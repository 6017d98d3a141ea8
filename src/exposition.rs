//! Prometheus text-format (0.0.4) parser: zero-copy over the scrape body, one bad line skipped and counted.
// INTERFACE STUB — being implemented. Signatures are the contract.
use std::borrow::Cow;

/// Declared `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

/// The label pairs of one sample, in exposition order, values unescaped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels<'a>(pub Vec<(&'a str, Cow<'a, str>)>);

impl<'a> Labels<'a> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub labels: Labels<'a>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SkippedLine {
    pub line_number: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSeries<'a> {
    pub labels: Labels<'a>,
    pub buckets: Vec<(f64, f64)>,
    pub sum: Option<f64>,
    pub count: Option<f64>,
}

#[derive(Debug, Default)]
pub struct Exposition<'a> {
    pub samples: Vec<Sample<'a>>,
    pub types: Vec<(&'a str, MetricType)>,
    pub skipped_count: usize,
    pub skipped: Vec<SkippedLine>,
}

impl<'a> Exposition<'a> {
    pub fn family_type(&self, family: &str) -> Option<MetricType> {
        self.types.iter().find(|(n, _)| *n == family).map(|(_, t)| *t)
    }
    pub fn samples_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Sample<'a>> + 's {
        self.samples.iter().filter(move |s| s.name == name)
    }
    pub fn histograms(&self, _family: &str) -> Vec<HistogramSeries<'a>> {
        todo!()
    }
}

pub fn decode_body(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

pub fn parse(_text: &str) -> Exposition<'_> {
    todo!()
}
