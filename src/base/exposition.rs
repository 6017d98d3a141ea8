//! Prometheus text-format (0.0.4) parser: zero-copy over the scrape body, one bad line skipped and counted.
//!
//! Gateways are scraped every frame, so the parser borrows every name and label
//! value from the body and only allocates one labels `Vec` per sample (plus a
//! `String` for the rare label value that needs unescaping). A malformed line
//! never costs the whole scrape: it is counted, a few are kept for the UI, and
//! parsing resumes at the next line.
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

/// Longer lines are skipped: real exporters stay far below this (litellm's
/// widest series is ~600 bytes), and it bounds the work a hostile line can cause.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Label pairs allowed on one sample before the line is skipped.
pub const MAX_LABELS_PER_SAMPLE: usize = 128;
/// Samples kept per scrape; later sample lines are skipped so memory stays bounded.
pub const MAX_SAMPLES: usize = 1 << 21;
/// How many `SkippedLine`s are kept verbatim (all of them are still counted).
pub const MAX_SKIPPED_KEPT: usize = 20;

/// Declared `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricType {
    /// The keyword used on a `# TYPE` line. OpenMetrics' `unknown` is accepted as untyped.
    pub fn from_keyword(word: &str) -> Option<MetricType> {
        Some(match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" | "unknown" => MetricType::Untyped,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }
}

/// The label pairs of one sample, in exposition order, values unescaped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels<'a>(pub Vec<(&'a str, Cow<'a, str>)>);

impl<'a> Labels<'a> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_ref())
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
    /// `*_created` samples dropped. prometheus_client (vLLM, LiteLLM, most Python
    /// exporters) emits one per counter/histogram series; the value is a Unix
    /// creation time, not a measurement, and would double the series count.
    /// Any name ending in `_created` is treated this way, and so is its `# TYPE`.
    pub created_ignored: usize,
}

impl<'a> Exposition<'a> {
    pub fn family_type(&self, family: &str) -> Option<MetricType> {
        self.types
            .iter()
            .find(|(n, _)| *n == family)
            .map(|(_, t)| *t)
    }
    pub fn samples_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Sample<'a>> + 's {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// Groups `family_bucket`/`_sum`/`_count` samples into one series per label
    /// set (ignoring `le` and label order), in order of first appearance.
    ///
    /// Lines of different series may interleave. Buckets come back sorted by
    /// bound; when a bound repeats (`le="1"` and `le="1.0"`, or a repeated line)
    /// the later line wins, matching how a re-emitted series would overwrite.
    /// Buckets whose `le` is missing, unparsable or NaN are dropped because
    /// they cannot be placed on the axis.
    pub fn histograms(&self, family: &str) -> Vec<HistogramSeries<'a>> {
        enum Part {
            Bucket,
            Sum,
            Count,
        }
        let mut out: Vec<HistogramSeries<'a>> = Vec::new();
        // Sorted (name, value) pairs so label order on the line does not split a series.
        let mut index: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
        let mut key: Vec<(&str, &str)> = Vec::new();
        for s in &self.samples {
            let part = match s.name.strip_prefix(family) {
                Some("_bucket") => Part::Bucket,
                Some("_sum") => Part::Sum,
                Some("_count") => Part::Count,
                _ => continue,
            };
            key.clear();
            key.extend(
                s.labels
                    .0
                    .iter()
                    .filter(|(k, _)| *k != "le")
                    .map(|(k, v)| (*k, v.as_ref())),
            );
            key.sort_unstable();
            let i = match index.get(&key) {
                Some(&i) => i,
                None => {
                    out.push(HistogramSeries {
                        labels: Labels(
                            s.labels
                                .0
                                .iter()
                                .filter(|(k, _)| *k != "le")
                                .cloned()
                                .collect(),
                        ),
                        buckets: Vec::new(),
                        sum: None,
                        count: None,
                    });
                    index.insert(key.clone(), out.len() - 1);
                    out.len() - 1
                }
            };
            let Some(series) = out.get_mut(i) else {
                continue;
            };
            match part {
                Part::Bucket => {
                    let bound = s.labels.get("le").and_then(|le| parse_float(le.trim()));
                    if let Some(bound) = bound.filter(|b| !b.is_nan()) {
                        series.buckets.push((bound, s.value));
                    }
                }
                Part::Sum => series.sum = Some(s.value),
                Part::Count => series.count = Some(s.value),
            }
        }
        for series in &mut out {
            // Stable sort keeps line order among equal bounds, so "later wins" holds.
            series.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            series.buckets.dedup_by(|later, kept| {
                if later.0 == kept.0 {
                    *kept = *later;
                    true
                } else {
                    false
                }
            });
        }
        out
    }

    /// Writes the exposition back as text format 0.0.4: all `# TYPE` lines
    /// first (the format only requires them before the family's first sample),
    /// then every sample. `parse(&e.render())` yields the same samples, except that a line
    /// within a few bytes of [`MAX_LINE_BYTES`] can outgrow it (`1` is written `1.0`) and is
    /// then skipped as too long.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.samples.len() * 64 + self.types.len() * 32);
        for (name, ty) in &self.types {
            let _ = writeln!(out, "# TYPE {name} {}", ty.as_str());
        }
        for s in &self.samples {
            render_sample(&mut out, s);
        }
        out
    }
}

/// Appends one sample line (with trailing newline), escaping label values.
pub fn render_sample(out: &mut String, s: &Sample<'_>) {
    out.push_str(s.name);
    if !s.labels.0.is_empty() {
        out.push('{');
        for (i, (k, v)) in s.labels.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    let v = s.value;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Debug is the shortest representation that round-trips, and uses an
        // exponent for extreme magnitudes where Display would print 300 digits.
        let _ = write!(out, "{v:?}");
    }
    if let Some(ts) = s.timestamp_ms {
        let _ = write!(out, " {ts}");
    }
    out.push('\n');
}

/// Lossy UTF-8 view of a scrape body: borrowed when the body is valid, so one
/// stray byte only damages the line it sits on. A leading BOM is dropped
/// because it would otherwise make the first line unparsable.
pub fn decode_body(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // `from_utf8_lossy` validates chunk by chunk and cost more than the whole
    // parse on a valid body; `from_utf8` has a word-at-a-time ASCII fast path.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Parses a whole scrape. Never fails: malformed lines land in `skipped`.
pub fn parse(text: &str) -> Exposition<'_> {
    let mut p = Parser {
        expo: Exposition {
            // Typical sample lines are 80–600 bytes; a modest guess avoids most
            // regrowth without over-committing on label-heavy bodies.
            samples: Vec::with_capacity((text.len() / 128).min(MAX_SAMPLES)),
            ..Exposition::default()
        },
        seen_types: HashMap::new(),
        scratch: Vec::new(),
        prev_name: "",
    };
    for (i, line) in text.split('\n').enumerate() {
        p.line(line, i + 1);
    }
    p.expo
}

struct Parser<'a> {
    expo: Exposition<'a>,
    // Repeated `# TYPE` lines must not cost a linear scan of `types` each time.
    seen_types: HashMap<&'a str, MetricType>,
    // Labels are collected here and copied out into an exactly-sized Vec, so a
    // sample costs one allocation instead of several regrowths.
    scratch: Vec<(&'a str, Cow<'a, str>)>,
    prev_name: &'a str,
}

impl<'a> Parser<'a> {
    fn skip(&mut self, line_number: usize, reason: &str) {
        self.expo.skipped_count += 1;
        if self.expo.skipped.len() < MAX_SKIPPED_KEPT {
            self.expo.skipped.push(SkippedLine {
                line_number,
                reason: reason.to_owned(),
            });
        }
    }

    fn line(&mut self, line: &'a str, n: usize) {
        if line.len() > MAX_LINE_BYTES {
            self.skip(n, "line too long");
            return;
        }
        let b = line.as_bytes();
        let mut end = b.len();
        while end > 0 && matches!(b[end - 1], b' ' | b'\t' | b'\r') {
            end -= 1;
        }
        let start = skip_blank(b, 0);
        if start >= end {
            return;
        }
        let Some(line) = line.get(..end) else {
            return;
        };
        if b[start] == b'#' {
            if let Err(reason) = self.comment(line, start + 1) {
                self.skip(n, reason);
            }
            return;
        }
        if self.expo.samples.len() >= MAX_SAMPLES {
            self.skip(n, "sample limit reached");
            return;
        }
        let parsed = parse_sample(line, start, self.prev_name, &mut self.scratch);
        if let Ok((name, _, _)) = parsed {
            self.prev_name = name;
        }
        match parsed {
            Ok((name, _, _)) if name.ends_with("_created") => {
                self.scratch.clear();
                self.expo.created_ignored += 1;
            }
            Ok((name, value, timestamp_ms)) => {
                let labels = if self.scratch.is_empty() {
                    Vec::new()
                } else {
                    self.scratch.drain(..).collect()
                };
                self.expo.samples.push(Sample {
                    name,
                    labels: Labels(labels),
                    value,
                    timestamp_ms,
                });
            }
            Err(reason) => {
                self.scratch.clear();
                self.skip(n, reason);
            }
        }
    }

    /// `# TYPE` is the only comment with meaning for us; `# HELP` and anything
    /// else is ignored without validation since it carries no sample data.
    fn comment(&mut self, line: &'a str, after_hash: usize) -> Result<(), &'static str> {
        let b = line.as_bytes();
        let i = skip_blank(b, after_hash);
        let (keyword, i) = token(line, i);
        if keyword != "TYPE" {
            return Ok(());
        }
        let (name, i) = token(line, skip_blank(b, i));
        if name.is_empty() {
            return Err("TYPE line without metric name");
        }
        if !is_metric_name(name) {
            return Err("invalid metric name in TYPE line");
        }
        let (word, i) = token(line, skip_blank(b, i));
        let ty = MetricType::from_keyword(word).ok_or("unknown metric type in TYPE line")?;
        if skip_blank(b, i) != b.len() {
            return Err("unexpected text after TYPE line");
        }
        if name.ends_with("_created") {
            return Ok(());
        }
        match self.seen_types.entry(name) {
            Entry::Occupied(e) if *e.get() != ty => Err("conflicting TYPE for metric"),
            Entry::Occupied(_) => Ok(()),
            Entry::Vacant(e) => {
                e.insert(ty);
                self.expo.types.push((name, ty));
                Ok(())
            }
        }
    }
}

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        if alpha {
            t[c] = NAME_START | NAME_CHAR | LABEL_START | LABEL_CHAR;
        } else if b.is_ascii_digit() {
            t[c] = NAME_CHAR | LABEL_CHAR;
        } else if b == b':' {
            t[c] = NAME_START | NAME_CHAR;
        }
        c += 1;
    }
    t
};

#[inline]
fn class(b: u8, mask: u8) -> bool {
    CLASS[b as usize] & mask != 0
}

fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && class(b[0], NAME_START) && b.iter().all(|&c| class(c, NAME_CHAR))
}

#[inline]
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The run of non-blank bytes at `i`, and the index just after it.
#[inline]
fn token(line: &str, i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] != b' ' && b[j] != b'\t' {
        j += 1;
    }
    // Blanks are ASCII, so both ends are char boundaries; `get` just keeps this panic-free.
    (line.get(i..j).unwrap_or(""), j)
}

/// Go's ParseFloat spellings that exporters emit: `NaN`, `+Inf`, `-Inf`, `Inf`,
/// exponents. Rust's parser accepts all of them case-insensitively.
#[inline]
fn parse_float(s: &str) -> Option<f64> {
    fast_decimal(s.as_bytes()).or_else(|| s.parse().ok())
}

/// Powers of ten that are exact in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path for the short decimals that dominate scrapes ("4826.0",
/// "0.005", "5.713942e+06"): with a mantissa ≤ 2^53 and |exponent| ≤ 22 both
/// operands are exact, so one multiply/divide is correctly rounded. Anything
/// else returns `None` and goes to the general parser.
#[inline]
fn fast_decimal(b: &[u8]) -> Option<f64> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut exp: i32 = 0;
    let mut seen_dot = false;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            // 19 digits always fit in a u64; longer ones take the slow path.
            if digits == 19 {
                return None;
            }
            mantissa = mantissa * 10 + u64::from(c - b'0');
            digits += 1;
            exp -= i32::from(seen_dot);
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        let mut e: i32 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - exp_start == 3 {
                break;
            }
            e = e * 10 + i32::from(c - b'0');
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        exp += if exp_neg { -e } else { e };
    }
    if i != b.len() || mantissa > 1 << 53 {
        return None;
    }
    let m = mantissa as f64;
    let v = if exp >= 0 {
        m * *POW10.get(exp as usize)?
    } else {
        m / *POW10.get(exp.unsigned_abs() as usize)?
    };
    Some(if neg { -v } else { v })
}

/// Index of the first `x` or `y` byte at or after `i` (or `b.len()`), eight
/// bytes at a time: label values (model names, API-key hashes) are the longest
/// runs the parser has to scan byte by byte otherwise.
#[inline]
fn find_either(b: &[u8], mut i: usize, x: u8, y: u8) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let (xs, ys) = (LO * u64::from(x), LO * u64::from(y));
    while let Some(Ok(word)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let w = u64::from_le_bytes(word);
        let (p, q) = (w ^ xs, w ^ ys);
        // Classic has-zero-byte test; its lowest set bit is always exact,
        // which is the only bit used.
        let hit = ((p.wrapping_sub(LO) & !p) | (q.wrapping_sub(LO) & !q)) & HI;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != x && b[i] != y {
        i += 1;
    }
    i
}

/// Parses a sample line from `start` (its first non-blank byte). Labels are left
/// in `scratch` so the caller can drop `_created` samples without allocating.
///
/// `prev_name` is the previous sample's (already validated) name: families put
/// their lines together, so a prefix compare usually replaces the byte scan.
fn parse_sample<'a>(
    line: &'a str,
    start: usize,
    prev_name: &str,
    scratch: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<(&'a str, f64, Option<i64>), &'static str> {
    let b = line.as_bytes();
    let len = b.len();
    let mut i = start;
    let rest = b.get(start..).unwrap_or_default();
    if !prev_name.is_empty()
        && rest.starts_with(prev_name.as_bytes())
        && rest
            .get(prev_name.len())
            .is_none_or(|&c| !class(c, NAME_CHAR))
    {
        i += prev_name.len();
    } else {
        if !class(b[i], NAME_START) {
            return Err("invalid metric name");
        }
        i += 1;
        while i < len && class(b[i], NAME_CHAR) {
            i += 1;
        }
    }
    let name = line.get(start..i).ok_or("invalid metric name")?;
    let after_name = i;
    i = skip_blank(b, i);
    let mut has_labels = false;
    if i < len && b[i] == b'{' {
        has_labels = true;
        i = parse_labels(line, i + 1, scratch)?;
    }
    let value_start = skip_blank(b, i);
    if value_start == len {
        return Err("missing value");
    }
    // Without a label set the value must be blank-separated, or `foo-1` would parse.
    if !has_labels && value_start == after_name {
        return Err("invalid metric name");
    }
    let (value_text, i) = token(line, value_start);
    let value = parse_float(value_text).ok_or("invalid value")?;
    let i = skip_blank(b, i);
    // An OpenMetrics exemplar after the value or timestamp (`# {trace_id="…"} 0.5 1.7e9`)
    // describes one observation, not the series: it is dropped.
    let mut len = line
        .get(i..)
        .and_then(|rest| rest.find("# {"))
        .map_or(len, |p| i + p);
    while len > i && matches!(b[len - 1], b' ' | b'\t') {
        len -= 1;
    }
    let timestamp_ms = if i < len {
        let (ts, i) = token(line, i);
        // `<`, not `!=`: blanks before a dropped exemplar run past `len`.
        if skip_blank(b, i) < len {
            return Err("unexpected text after timestamp");
        }
        Some(ts.parse::<i64>().map_err(|_| "invalid timestamp")?)
    } else {
        None
    };
    Ok((name, value, timestamp_ms))
}

/// Parses `name="value",...}` starting just after `{`; returns the index after `}`.
/// Blanks around tokens and a trailing comma are accepted, as in Prometheus' own parser.
fn parse_labels<'a>(
    line: &'a str,
    mut i: usize,
    scratch: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<usize, &'static str> {
    let b = line.as_bytes();
    let len = b.len();
    loop {
        i = skip_blank(b, i);
        match b.get(i) {
            None => return Err("unterminated label set"),
            Some(b'}') => return Ok(i + 1),
            Some(&c) if class(c, LABEL_START) => {}
            Some(_) => return Err("invalid label name"),
        }
        if scratch.len() >= MAX_LABELS_PER_SAMPLE {
            return Err("too many labels");
        }
        let name_start = i;
        i += 1;
        while i < len && class(b[i], LABEL_CHAR) {
            i += 1;
        }
        let name = line.get(name_start..i).ok_or("invalid label name")?;
        i = skip_blank(b, i);
        if b.get(i) != Some(&b'=') {
            return Err("expected '=' after label name");
        }
        i = skip_blank(b, i + 1);
        if b.get(i) != Some(&b'"') {
            return Err("label value must be quoted");
        }
        i += 1;
        let value_start = i;
        i = find_either(b, i, b'"', b'\\');
        let value = match b.get(i) {
            Some(b'"') => {
                let v = line.get(value_start..i).ok_or("invalid label value")?;
                i += 1;
                Cow::Borrowed(v)
            }
            Some(_) => {
                let (v, next) = unescape(line, value_start, i)?;
                i = next;
                Cow::Owned(v)
            }
            None => return Err("unterminated label value"),
        };
        // Prometheus rejects these; silently keeping one would make `get` ambiguous.
        if scratch.iter().any(|(k, _)| *k == name) {
            return Err("duplicate label name");
        }
        scratch.push((name, value));
        i = skip_blank(b, i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            None => return Err("unterminated label set"),
            Some(_) => return Err("expected ',' or '}' after label value"),
        }
    }
}

/// Slow path for a label value containing a backslash at `i`. Only the three
/// escapes the format defines are accepted; anything else is a malformed line.
fn unescape(line: &str, value_start: usize, mut i: usize) -> Result<(String, usize), &'static str> {
    let b = line.as_bytes();
    let mut out = String::with_capacity(i - value_start + 16);
    let mut seg = value_start;
    loop {
        match b.get(i) {
            None => return Err("unterminated label value"),
            Some(b'"') => {
                out.push_str(line.get(seg..i).ok_or("invalid label value")?);
                return Ok((out, i + 1));
            }
            Some(b'\\') => {
                out.push_str(line.get(seg..i).ok_or("invalid label value")?);
                out.push(match b.get(i + 1) {
                    Some(b'\\') => '\\',
                    Some(b'"') => '"',
                    Some(b'n') => '\n',
                    None => return Err("unterminated label value"),
                    Some(_) => return Err("invalid escape in label value"),
                });
                i += 2;
                seg = i;
            }
            Some(_) => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Sample<'_> {
        let e = parse(text);
        assert_eq!(e.skipped, vec![], "unexpected skips for {text:?}");
        assert_eq!(e.samples.len(), 1, "{text:?}");
        e.samples
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!())
    }

    fn skip_reason(text: &str) -> String {
        let e = parse(text);
        assert_eq!(e.samples, vec![], "{text:?} should not yield samples");
        assert_eq!(e.skipped_count, 1, "{text:?}");
        e.skipped[0].reason.clone()
    }

    fn pairs<'l>(l: &'l Labels<'_>) -> Vec<(&'l str, &'l str)> {
        l.0.iter().map(|(k, v)| (*k, v.as_ref())).collect()
    }

    #[test]
    fn plain_sample_without_labels() {
        let s = one("http_requests 1027\n");
        assert_eq!(s.name, "http_requests");
        assert_eq!(s.labels, Labels::default());
        assert_eq!(s.value, 1027.0);
        assert_eq!(s.timestamp_ms, None);
    }

    #[test]
    fn sample_with_labels_in_order() {
        let s = one(r#"req_total{method="post",code="200"} 1027 1395066363000"#);
        assert_eq!(s.name, "req_total");
        assert_eq!(pairs(&s.labels), vec![("method", "post"), ("code", "200")]);
        assert_eq!(s.labels.get("code"), Some("200"));
        assert_eq!(s.labels.get("nope"), None);
        assert_eq!(s.value, 1027.0);
        assert_eq!(s.timestamp_ms, Some(1_395_066_363_000));
    }

    #[test]
    fn colon_metric_names() {
        let s = one(r#"vllm:prompt_tokens_total{engine="0"} 5.713942e+06"#);
        assert_eq!(s.name, "vllm:prompt_tokens_total");
        assert_eq!(s.value, 5_713_942.0);
        assert_eq!(
            one("llamacpp:requests_processing 2").name,
            "llamacpp:requests_processing"
        );
        assert_eq!(one(":leading_colon 1").name, ":leading_colon");
    }

    #[test]
    fn label_value_escapes_are_unescaped() {
        let s = one(r#"m{path="C:\\dir\\x",q="say \"hi\"",multi="a\nb"} 1"#);
        assert_eq!(s.labels.get("path"), Some(r"C:\dir\x"));
        assert_eq!(s.labels.get("q"), Some(r#"say "hi""#));
        assert_eq!(s.labels.get("multi"), Some("a\nb"));
        assert!(s.labels.0.iter().all(|(_, v)| matches!(v, Cow::Owned(_))));
        let s = one(r#"m{a="\\"} 1"#);
        assert_eq!(s.labels.get("a"), Some("\\"));
        let s = one(r#"m{a="\"",b="x"} 1"#);
        assert_eq!(pairs(&s.labels), vec![("a", "\""), ("b", "x")]);
    }

    #[test]
    fn values_without_escapes_borrow_the_body() {
        let text = String::from(r#"m{a="plain",b="with \"esc\""} 1"#);
        let e = parse(&text);
        let range = text.as_ptr() as usize..text.as_ptr() as usize + text.len();
        let s = &e.samples[0];
        assert!(range.contains(&(s.name.as_ptr() as usize)));
        match &s.labels.0[0].1 {
            Cow::Borrowed(v) => assert!(range.contains(&(v.as_ptr() as usize))),
            Cow::Owned(_) => panic!("plain value was copied"),
        }
        assert!(matches!(s.labels.0[1].1, Cow::Owned(_)));
    }

    #[test]
    fn label_values_with_structural_characters() {
        let s = one(r#"m{a="x,y",b="k=v",c="{}",d="}",e="{",f="has space # not comment"} 3"#);
        assert_eq!(
            pairs(&s.labels),
            vec![
                ("a", "x,y"),
                ("b", "k=v"),
                ("c", "{}"),
                ("d", "}"),
                ("e", "{"),
                ("f", "has space # not comment")
            ]
        );
        assert_eq!(s.value, 3.0);
        let s = one(r#"m{a="",b="ünïcödé ✓"} 1"#);
        assert_eq!(pairs(&s.labels), vec![("a", ""), ("b", "ünïcödé ✓")]);
    }

    #[test]
    fn special_float_values() {
        assert!(one("m NaN").value.is_nan());
        assert_eq!(one("m +Inf").value, f64::INFINITY);
        assert_eq!(one("m Inf").value, f64::INFINITY);
        assert_eq!(one("m -Inf").value, f64::NEG_INFINITY);
        assert_eq!(one("m 5.713942e+06").value, 5_713_942.0);
        assert_eq!(
            one("m 1.7672628004182355e+09").value,
            1.767_262_800_418_235_5e9
        );
        assert_eq!(one("m 1E-3").value, 0.001);
        assert_eq!(one("m -0.5").value, -0.5);
        assert_eq!(one("m +12").value, 12.0);
        assert_eq!(one("m .5").value, 0.5);
        assert_eq!(one("m 943.6543433607068").value, 943.654_343_360_706_8);
        assert_eq!(one("m 123456789012345").value, 123_456_789_012_345.0);
        // 16+ digits falls back to the general parser, still correctly rounded.
        assert_eq!(
            one("m 12345678901234567890").value,
            1.234_567_890_123_456_8e19
        );
        assert_eq!(skip_reason("m 1,5"), "invalid value");
        assert_eq!(skip_reason("m 0x10"), "invalid value");
        assert_eq!(skip_reason("m NaNa"), "invalid value");
    }

    #[test]
    fn optional_timestamps() {
        assert_eq!(
            one("m 1 1700000000000").timestamp_ms,
            Some(1_700_000_000_000)
        );
        assert_eq!(one("m 1 -5").timestamp_ms, Some(-5));
        assert_eq!(one("m{a=\"b\"} 2\t42").timestamp_ms, Some(42));
        assert_eq!(one("m 1").timestamp_ms, None);
        assert_eq!(skip_reason("m 1 1.5"), "invalid timestamp");
        assert_eq!(skip_reason("m 1 99999999999999999999"), "invalid timestamp");
        assert_eq!(skip_reason("m 1 2 3"), "unexpected text after timestamp");
    }

    #[test]
    fn help_type_and_other_comments() {
        let text = "# HELP m Some help with \\n escapes and \"quotes\"\n\
                    # TYPE m counter\n\
                    # just a comment\n\
                    #\n\
                    #TYPE g gauge\n\
                    # TYPE h histogram\n\
                    # TYPE s summary\n\
                    # TYPE u untyped\n\
                    # TYPE o unknown\n\
                    # HELP\n\
                    # EOF\n\
                    m 1\n";
        let e = parse(text);
        assert_eq!(e.skipped, vec![]);
        assert_eq!(e.samples.len(), 1);
        assert_eq!(
            e.types,
            vec![
                ("m", MetricType::Counter),
                ("g", MetricType::Gauge),
                ("h", MetricType::Histogram),
                ("s", MetricType::Summary),
                ("u", MetricType::Untyped),
                ("o", MetricType::Untyped),
            ]
        );
        assert_eq!(e.family_type("m"), Some(MetricType::Counter));
        assert_eq!(e.family_type("nope"), None);
    }

    #[test]
    fn bad_type_lines_are_skipped_and_duplicates_tolerated() {
        let e = parse(
            "# TYPE a counter\n# TYPE a counter\n# TYPE a gauge\n# TYPE b info\n# TYPE\n# TYPE 9x gauge\n# TYPE c gauge extra\n",
        );
        assert_eq!(e.types, vec![("a", MetricType::Counter)]);
        assert_eq!(e.skipped_count, 5);
        let reasons: Vec<_> = e
            .skipped
            .iter()
            .map(|s| (s.line_number, s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (3, "conflicting TYPE for metric"),
                (4, "unknown metric type in TYPE line"),
                (5, "TYPE line without metric name"),
                (6, "invalid metric name in TYPE line"),
                (7, "unexpected text after TYPE line"),
            ]
        );
    }

    #[test]
    fn blank_lines_crlf_and_trailing_whitespace() {
        let text = "\r\n# TYPE m gauge\r\nm{a=\"1\"} 1 \t\r\n\n   \n\t\nm{a=\"2\"} 2\r\n  m{a=\"3\"} 3\nm 4 17 \r\n";
        let e = parse(text);
        assert_eq!(e.skipped, vec![]);
        let got: Vec<_> = e
            .samples
            .iter()
            .map(|s| (s.labels.get("a"), s.value, s.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("1"), 1.0, None),
                (Some("2"), 2.0, None),
                (Some("3"), 3.0, None),
                (None, 4.0, Some(17))
            ]
        );
        assert_eq!(e.family_type("m"), Some(MetricType::Gauge));
        assert!(parse("").samples.is_empty());
        assert_eq!(parse("\n\n\r\n").skipped_count, 0);
    }

    #[test]
    fn created_samples_are_ignored_and_counted() {
        let text = "# TYPE x_total counter\n\
                    x_total{a=\"1\"} 5\n\
                    # TYPE x_created gauge\n\
                    x_created{a=\"1\"} 1.7672628004182355e+09\n\
                    h_created 1.7e9\n";
        let e = parse(text);
        assert_eq!(e.skipped_count, 0);
        assert_eq!(e.created_ignored, 2);
        assert_eq!(e.samples.len(), 1);
        assert_eq!(e.samples[0].name, "x_total");
        assert_eq!(e.types, vec![("x_total", MetricType::Counter)]);
        assert_eq!(e.family_type("x_created"), None);
    }

    #[test]
    fn empty_label_set_and_blank_tolerance_inside_braces() {
        let s = one("m{} 7");
        assert_eq!(s.labels, Labels::default());
        assert_eq!(s.value, 7.0);
        assert_eq!(one("m{ } 7").labels, Labels::default());
        assert_eq!(one("m {a=\"1\"} 7").labels.get("a"), Some("1"));
        let s = one("m{ a = \"1\" , b=\"2\", } 8");
        assert_eq!(pairs(&s.labels), vec![("a", "1"), ("b", "2")]);
        // A closing brace may touch the value, as in Prometheus' parser.
        assert_eq!(one("m{a=\"1\"}9").value, 9.0);
    }

    #[test]
    fn malformed_lines_each_skipped_with_reason() {
        let cases = [
            ("9metric 1", "invalid metric name"),
            ("m-x 1", "invalid metric name"),
            ("{a=\"1\"} 1", "invalid metric name"),
            ("m", "missing value"),
            ("m{a=\"1\"}", "missing value"),
            ("m{a=\"1\"", "unterminated label set"),
            ("m{a=\"1} 1", "unterminated label value"),
            ("m{a=\"1\\", "unterminated label value"),
            ("m{a=1} 1", "label value must be quoted"),
            ("m{a} 1", "expected '=' after label name"),
            ("m{1a=\"x\"} 1", "invalid label name"),
            ("m{a:b=\"x\"} 1", "expected '=' after label name"),
            (
                "m{a=\"x\" b=\"y\"} 1",
                "expected ',' or '}' after label value",
            ),
            ("m{a=\"x\",a=\"y\"} 1", "duplicate label name"),
            ("m{a=\"\\t\"} 1", "invalid escape in label value"),
            ("m{,} 1", "invalid label name"),
            ("m abc", "invalid value"),
        ];
        for (line, reason) in cases {
            assert_eq!(skip_reason(line), reason, "{line:?}");
        }
    }

    #[test]
    fn one_bad_line_costs_only_itself() {
        let text = "a 1\nb{x=\"unterminated} 2\nc 3\n\u{FFFD}bad 4\nd{y=\"ok\"} 5\n";
        let e = parse(text);
        let names: Vec<_> = e.samples.iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["a", "c", "d"]);
        assert_eq!(e.skipped_count, 2);
        assert_eq!(
            e.skipped,
            vec![
                SkippedLine {
                    line_number: 2,
                    reason: "unterminated label value".into()
                },
                SkippedLine {
                    line_number: 4,
                    reason: "invalid metric name".into()
                },
            ]
        );
    }

    #[test]
    fn skipped_list_is_capped_but_all_are_counted() {
        let mut text = String::new();
        for _ in 0..50 {
            text.push_str("bad line here\nok 1\n");
        }
        let e = parse(&text);
        assert_eq!(e.samples.len(), 50);
        assert_eq!(e.skipped_count, 50);
        assert_eq!(e.skipped.len(), MAX_SKIPPED_KEPT);
        assert_eq!(e.skipped[19].line_number, 39);
    }

    #[test]
    fn hostile_sizes_are_bounded() {
        let long = format!("m{{a=\"{}\"}} 1\nok 2\n", "x".repeat(MAX_LINE_BYTES));
        let e = parse(&long);
        assert_eq!(e.skipped[0].reason, "line too long");
        assert_eq!(e.samples.len(), 1);
        let mut many = String::from("m{");
        for i in 0..=MAX_LABELS_PER_SAMPLE {
            many.push_str(&format!("l{i}=\"v\","));
        }
        many.push_str("} 1");
        assert_eq!(skip_reason(&many), "too many labels");
        let mut exact = String::from("m{");
        for i in 0..MAX_LABELS_PER_SAMPLE {
            exact.push_str(&format!("l{i}=\"v\","));
        }
        exact.push_str("} 1");
        assert_eq!(one(&exact).labels.0.len(), MAX_LABELS_PER_SAMPLE);
    }

    #[test]
    fn histogram_grouping_with_interleaved_series() {
        let text = r#"# TYPE lat histogram
lat_sum{route="/b"} 9.5
lat_bucket{route="/a",le="+Inf"} 4
lat_bucket{le="0.1",route="/b"} 1
lat_bucket{route="/a",le="0.5"} 3
lat_count{route="/a"} 4
lat_bucket{route="/a",le="0.1"} 1
lat_bucket{route="/b",le="+Inf"} 2
lat_sum{route="/a"} 1.25
lat_bucket{route="/a",le="1e-2"} 0
lat_count{route="/b"} 2
lat_bucket{route="/a",le="0.5"} 3.5
lat_bucket{route="/a",le="0.50"} 3.25
lat_bucket{route="/a"} 99
lat_bucket{route="/a",le="NaN"} 99
lat_bucket{route="/a",le="oops"} 99
latency_bucket{route="/a",le="1"} 99
lat_bucket_total{route="/a",le="1"} 99
"#;
        let e = parse(text);
        assert_eq!(e.skipped_count, 0);
        let h = e.histograms("lat");
        assert_eq!(h.len(), 2);
        assert_eq!(pairs(&h[0].labels), vec![("route", "/b")]);
        assert_eq!(h[0].buckets, vec![(0.1, 1.0), (f64::INFINITY, 2.0)]);
        assert_eq!(h[0].sum, Some(9.5));
        assert_eq!(h[0].count, Some(2.0));
        assert_eq!(pairs(&h[1].labels), vec![("route", "/a")]);
        // Duplicate bound 0.5 (three spellings): the last line wins.
        assert_eq!(
            h[1].buckets,
            vec![(0.01, 0.0), (0.1, 1.0), (0.5, 3.25), (f64::INFINITY, 4.0)]
        );
        assert_eq!(h[1].sum, Some(1.25));
        assert_eq!(h[1].count, Some(4.0));
        assert!(e.histograms("nope").is_empty());
    }

    #[test]
    fn histogram_label_order_does_not_split_series() {
        let text = "h_bucket{a=\"1\",b=\"2\",le=\"1\"} 1\nh_bucket{le=\"+Inf\",b=\"2\",a=\"1\"} 2\nh_count{b=\"2\",a=\"1\"} 2\n";
        let e = parse(text);
        let h = e.histograms("h");
        assert_eq!(h.len(), 1);
        assert_eq!(pairs(&h[0].labels), vec![("a", "1"), ("b", "2")]);
        assert_eq!(h[0].buckets, vec![(1.0, 1.0), (f64::INFINITY, 2.0)]);
        assert_eq!(h[0].sum, None);
        assert_eq!(h[0].count, Some(2.0));
    }

    #[test]
    fn histogram_without_labels_and_colon_family() {
        let text = "vllm:x_bucket{le=\"0.5\"} 1\nvllm:x_bucket{le=\"Inf\"} 3\nvllm:x_sum 1.5\nvllm:x_count 3\n";
        let e = parse(text);
        let h = e.histograms("vllm:x");
        assert_eq!(
            h,
            vec![HistogramSeries {
                labels: Labels::default(),
                buckets: vec![(0.5, 1.0), (f64::INFINITY, 3.0)],
                sum: Some(1.5),
                count: Some(3.0),
            }]
        );
    }

    #[test]
    fn decode_body_is_zero_copy_when_valid_and_lossy_otherwise() {
        let body = b"m 1\n";
        assert!(matches!(decode_body(body), Cow::Borrowed("m 1\n")));
        assert!(matches!(
            decode_body(b"\xEF\xBB\xBFm 1\n"),
            Cow::Borrowed("m 1\n")
        ));
        let bad = b"a{x=\"\xff\"} 1\nb 2\n\xfe 3\n";
        let text = decode_body(bad);
        assert!(matches!(text, Cow::Owned(_)));
        let e = parse(&text);
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[0].labels.get("x"), Some("\u{FFFD}"));
        assert_eq!(e.samples[1].name, "b");
        assert_eq!(e.skipped_count, 1);
        assert_eq!(e.skipped[0].line_number, 3);
    }

    #[test]
    fn render_round_trips() {
        let text = "# TYPE m counter\n# TYPE h histogram\nm{a=\"x\\\\y\",b=\"q\\\"\",c=\"l\\nl\"} 5.713942e+06 1700000000000\nm{} 0\nh_bucket{le=\"+Inf\"} 3\nn -Inf\nn +Inf\nbig 1e300\ntiny 5e-324\n";
        let e = parse(text);
        assert_eq!(e.skipped_count, 0);
        let rendered = e.render();
        assert_eq!(
            rendered,
            "# TYPE m counter\n# TYPE h histogram\nm{a=\"x\\\\y\",b=\"q\\\"\",c=\"l\\nl\"} 5713942.0 1700000000000\nm 0.0\nh_bucket{le=\"+Inf\"} 3.0\nn -Inf\nn +Inf\nbig 1e300\ntiny 5e-324\n"
        );
        let again = parse(&rendered);
        assert_eq!(again.samples, e.samples);
        assert_eq!(again.types, e.types);
        let mut nan = String::new();
        render_sample(
            &mut nan,
            &Sample {
                name: "n",
                labels: Labels::default(),
                value: f64::NAN,
                timestamp_ms: None,
            },
        );
        assert_eq!(nan, "n NaN\n");
    }

    #[test]
    fn metric_type_keywords() {
        for t in [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Summary,
            MetricType::Untyped,
        ] {
            assert_eq!(MetricType::from_keyword(t.as_str()), Some(t));
        }
        assert_eq!(MetricType::from_keyword("Counter"), None);
    }

    #[test]
    fn fast_float_path_matches_std_parser() {
        let cases = [
            "0",
            "-0",
            "+0",
            "1",
            "4826.0",
            "0.005",
            "0.00015000000000000001",
            "5.713942e+06",
            "1.495305e+06",
            "795.919725",
            "13.440475000000001",
            "9007199254740992",
            "9007199254740993",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "123.456e-5",
            "1E3",
            ".5",
            "5.",
            "-7.25",
            "+3e+2",
            "1e",
            "1e+",
            ".",
            "-",
            "",
            "1.2.3",
            "1e1234",
            "1e-400",
            "0.1e1",
            "1234567890123456789",
            "12345678901234567890",
            "00000000000000000001",
            "3.0e-007",
            "NaN",
            "+Inf",
            "-Inf",
            "Inf",
            "infinity",
            "0x1p3",
            "1_000",
        ];
        for c in cases {
            let want = c.parse::<f64>().ok();
            let got = parse_float(c);
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{c:?}");
            if let Some(fast) = fast_decimal(c.as_bytes()) {
                assert_eq!(
                    Some(fast.to_bits()),
                    want.map(f64::to_bits),
                    "fast path {c:?}"
                );
            }
        }
        assert_eq!(fast_decimal(b"4826.0"), Some(4826.0));
        assert_eq!(fast_decimal(b"1.7672628004182355e+09"), None);
    }

    #[test]
    fn swar_scan_matches_byte_scan() {
        let text = b"abcdefgh\\ijklmnopqrstuvwx\"yz0123456789\xc3\xa9\"\x80\xff\x22\x5c";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let b = &text[..end];
                let naive = (start..end)
                    .find(|&i| b[i] == b'"' || b[i] == b'\\')
                    .unwrap_or(end);
                assert_eq!(find_either(b, start, b'"', b'\\'), naive, "{start}..{end}");
                let newline = (start..end).find(|&i| b[i] == b'z').unwrap_or(end);
                assert_eq!(find_either(b, start, b'z', b'z'), newline);
            }
        }
    }

    #[test]
    fn repeated_metric_name_shortcut_is_exact() {
        let e = parse("ab_c 1\nab_cd 2\nab_c{x=\"1\"} 3\nab_c 4\nab 5\nab_c:x 6\nab_c\t7\n");
        let got: Vec<_> = e.samples.iter().map(|s| (s.name, s.value)).collect();
        assert_eq!(
            got,
            vec![
                ("ab_c", 1.0),
                ("ab_cd", 2.0),
                ("ab_c", 3.0),
                ("ab_c", 4.0),
                ("ab", 5.0),
                ("ab_c:x", 6.0),
                ("ab_c", 7.0)
            ]
        );
        assert_eq!(parse("ab 1\nab-x 2\n").skipped_count, 1);
    }

    /// Deterministic garbage built from the grammar's own characters: the parser
    /// must never panic, and must account for every non-blank, non-comment line.
    #[test]
    fn never_panics_on_garbage() {
        let alphabet: &[u8] = b"ab_:9{}=\",\\ \t\r\n#.+-eInfNa\xc3\xa9\xe2\x9c\x93";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 200) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let text = decode_body(&bytes);
            let e = parse(&text);
            let sample_lines = text
                .split('\n')
                .map(|l| {
                    l.trim_end_matches([' ', '\t', '\r'])
                        .trim_start_matches([' ', '\t'])
                })
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count();
            assert_eq!(
                e.samples.len() + e.created_ignored + e.skipped_count,
                sample_lines,
                "{text:?}"
            );
        }
    }
}
