//! Property harnesses shared by the `cargo fuzz` targets (`fuzz/`) and `tests/it/fuzz_regressions.rs`.
//!
//! Each harness takes arbitrary bytes and returns `Err` describing the first broken property, so
//! the fuzz target (which panics on `Err`) and the regression test over the checked-in corpus
//! judge an input by exactly the same rules. Nothing here is used by the binary.
use crate::base::exposition::{
    self, Exposition, HistogramSeries, MAX_LABELS_PER_SAMPLE, MAX_LINE_BYTES, MAX_SKIPPED_KEPT,
    Sample,
};
use crate::io::probe::ProbeEvent;
use crate::io::probe::sse::{self, ChatStream, MAX_STORED_TEXT, SseDecoder, SseEvent};

/// Histogram families checked per input; every family costs a pass over all samples, and a
/// hostile input could name thousands.
const MAX_FAMILIES_CHECKED: usize = 32;

/// Chunk lengths an SSE input may prescribe before its stream starts (see [`sse_stream`]).
const MAX_SSE_CUTS: usize = 16;

/// What an exposition input contained, for tests that pin a corpus file's exact content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpositionReport {
    pub samples: usize,
    pub skipped: usize,
    pub types: usize,
    pub histogram_series: usize,
}

/// What an SSE input decoded to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SseReport {
    pub chunks: usize,
    pub messages: usize,
    pub comments: usize,
}

/// Decodes `data` as a scrape body, parses it, and checks:
///
/// * `decode_body` is lossless on valid UTF-8 (BOM aside) and equals `from_utf8_lossy` otherwise;
/// * line accounting: accepted samples never outnumber sample lines, and every sample line is
///   either accepted, dropped as `_created`, or counted as skipped;
/// * every accepted name, label set and `# TYPE` is well formed;
/// * `render` → `parse` gives back every sample bit for bit (NaN as NaN), and skips exactly
///   the re-rendered lines that outgrew [`MAX_LINE_BYTES`];
/// * `histograms` returns sorted, deduplicated, NaN-free bounds, no more buckets than bucket
///   lines, and the same series after the round trip.
pub fn exposition(data: &[u8]) -> Result<ExpositionReport, String> {
    let text = exposition::decode_body(data);
    check_decode(data, &text)?;
    let e = exposition::parse(&text);
    check_line_accounting(&text, &e)?;
    check_well_formed(&e)?;
    let rendered = e.render();
    let again = exposition::parse(&rendered);
    check_round_trip(&e, &again)?;
    let histogram_series = check_histograms(&e, &again)?;
    Ok(ExpositionReport {
        samples: e.samples.len(),
        skipped: e.skipped_count,
        types: e.types.len(),
        histogram_series,
    })
}

fn check_decode(data: &[u8], text: &str) -> Result<(), String> {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let want = String::from_utf8_lossy(body);
    if text != want {
        return Err("decode_body differs from a lossy decode of the body".into());
    }
    Ok(())
}

/// How the parser must see one physical line, computed independently of it.
enum LineClass {
    Blank,
    Comment,
    Sample,
    TooLong,
}

fn classify(line: &str) -> LineClass {
    if line.len() > MAX_LINE_BYTES {
        return LineClass::TooLong;
    }
    let trimmed = line
        .trim_end_matches([' ', '\t', '\r'])
        .trim_start_matches([' ', '\t']);
    if trimmed.is_empty() {
        LineClass::Blank
    } else if trimmed.starts_with('#') {
        LineClass::Comment
    } else {
        LineClass::Sample
    }
}

fn check_line_accounting(text: &str, e: &Exposition<'_>) -> Result<(), String> {
    let (mut lines, mut samples, mut comments, mut too_long) = (0, 0, 0, 0);
    for line in text.split('\n') {
        lines += 1;
        match classify(line) {
            LineClass::Blank => {}
            LineClass::Comment => comments += 1,
            LineClass::Sample => samples += 1,
            LineClass::TooLong => too_long += 1,
        }
    }
    let accepted = e.samples.len() + e.created_ignored;
    if accepted > samples {
        return Err(format!(
            "{accepted} samples accepted from {samples} sample lines"
        ));
    }
    // Sample lines are accepted or skipped; comment lines may be skipped too (a bad `# TYPE`).
    let accounted = accepted + e.skipped_count;
    if accounted < samples + too_long || accounted > samples + too_long + comments {
        return Err(format!(
            "{accounted} lines accounted for, expected {} sample lines plus at most {comments} comments",
            samples + too_long
        ));
    }
    if e.skipped.len() != e.skipped_count.min(MAX_SKIPPED_KEPT) {
        return Err(format!(
            "{} skipped lines kept of {}",
            e.skipped.len(),
            e.skipped_count
        ));
    }
    let numbers: Vec<usize> = e.skipped.iter().map(|s| s.line_number).collect();
    if numbers.windows(2).any(|w| w[0] >= w[1]) || numbers.iter().any(|&n| n == 0 || n > lines) {
        return Err(format!("skipped line numbers out of order: {numbers:?}"));
    }
    Ok(())
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_well_formed(e: &Exposition<'_>) -> Result<(), String> {
    for s in &e.samples {
        if !is_metric_name(s.name) || s.name.ends_with("_created") {
            return Err(format!("accepted sample name {:?}", s.name));
        }
        let labels = &s.labels.0;
        if labels.len() > MAX_LABELS_PER_SAMPLE {
            return Err(format!("{} labels on {:?}", labels.len(), s.name));
        }
        for (i, (k, _)) in labels.iter().enumerate() {
            if !is_label_name(k) {
                return Err(format!("accepted label name {k:?}"));
            }
            if labels[..i].iter().any(|(other, _)| other == k) {
                return Err(format!("duplicate label {k:?} accepted"));
            }
        }
    }
    for (i, (name, _)) in e.types.iter().enumerate() {
        if !is_metric_name(name) || name.ends_with("_created") {
            return Err(format!("accepted TYPE name {name:?}"));
        }
        if e.types[..i].iter().any(|(other, _)| other == name) {
            return Err(format!("TYPE {name:?} listed twice"));
        }
    }
    Ok(())
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_sample(a: &Sample<'_>, b: &Sample<'_>) -> bool {
    a.name == b.name
        && a.labels == b.labels
        && same_f64(a.value, b.value)
        && a.timestamp_ms == b.timestamp_ms
}

/// Whether a sample's rendered line stays within the parser's line limit.
fn render_fits(s: &Sample<'_>) -> bool {
    let mut line = String::new();
    exposition::render_sample(&mut line, s);
    line.len() - 1 <= MAX_LINE_BYTES
}

/// `again` must be `parse(original.render())`.
fn check_round_trip(original: &Exposition<'_>, again: &Exposition<'_>) -> Result<(), String> {
    if again.types != original.types {
        return Err(format!(
            "TYPE lines changed: {:?} -> {:?}",
            original.types, again.types
        ));
    }
    // `1` is rendered `1.0`, so a line at the limit can grow past it and is then skipped.
    let kept: Vec<&Sample<'_>> = original.samples.iter().filter(|s| render_fits(s)).collect();
    let grown = original.samples.len() - kept.len();
    if again.skipped_count != grown || again.created_ignored != 0 {
        return Err(format!(
            "re-parse skipped {} lines ({} `_created`), expected {grown}: {:?}",
            again.skipped_count, again.created_ignored, again.skipped
        ));
    }
    if again.samples.len() != kept.len() {
        return Err(format!(
            "{} samples rendered, {} parsed back",
            kept.len(),
            again.samples.len()
        ));
    }
    for (a, b) in kept.iter().zip(&again.samples) {
        if !same_sample(a, b) {
            let mut line = String::new();
            exposition::render_sample(&mut line, a);
            return Err(format!(
                "sample changed by render -> parse: {a:?} -> {b:?} via {line:?}"
            ));
        }
    }
    Ok(())
}

fn same_histograms(a: &[HistogramSeries<'_>], b: &[HistogramSeries<'_>]) -> bool {
    let same_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => same_f64(x, y),
        (None, None) => true,
        _ => false,
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.labels == y.labels
                && same_opt(x.sum, y.sum)
                && same_opt(x.count, y.count)
                && x.buckets.len() == y.buckets.len()
                && x.buckets
                    .iter()
                    .zip(&y.buckets)
                    .all(|(p, q)| same_f64(p.0, q.0) && same_f64(p.1, q.1))
        })
}

/// Returns how many histogram series the checked families held.
fn check_histograms(original: &Exposition<'_>, again: &Exposition<'_>) -> Result<usize, String> {
    let mut families: Vec<&str> = Vec::new();
    for s in &original.samples {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| s.name.strip_suffix(suffix));
        if let Some(family) = family
            && !families.contains(&family)
        {
            families.push(family);
            if families.len() == MAX_FAMILIES_CHECKED {
                break;
            }
        }
    }
    let all_fit = again.samples.len() == original.samples.len();
    let mut series_total = 0;
    for family in families {
        let series = original.histograms(family);
        series_total += series.len();
        let bucket_lines = original
            .samples
            .iter()
            .filter(|s| s.name.strip_prefix(family) == Some("_bucket"))
            .count();
        let buckets: usize = series.iter().map(|h| h.buckets.len()).sum();
        if buckets > bucket_lines {
            return Err(format!(
                "{family}: {buckets} buckets from {bucket_lines} bucket lines"
            ));
        }
        for h in &series {
            if h.labels.get("le").is_some() {
                return Err(format!("{family}: series keeps its `le` label"));
            }
            let bounds_ok = h.buckets.iter().all(|b| !b.0.is_nan())
                && h.buckets.windows(2).all(|w| w[0].0 < w[1].0);
            if !bounds_ok {
                return Err(format!("{family}: bounds not strictly increasing"));
            }
        }
        if all_fit && !same_histograms(&series, &again.histograms(family)) {
            return Err(format!("{family}: histograms changed by render -> parse"));
        }
    }
    Ok(series_total)
}

/// Splits an SSE fuzz input into chunk lengths and the stream: the first byte (mod 17) says how
/// many of the following bytes are chunk lengths (0 feeds an empty chunk); the rest of the input
/// is the stream, and whatever the lengths leave over is the last chunk.
pub fn sse_stream(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = (n as usize % (MAX_SSE_CUTS + 1)).min(rest.len());
    let (lengths, stream) = rest.split_at(n);
    (lengths.iter().map(|&l| l as usize).collect(), stream)
}

/// The chunks `lengths` cut `stream` into, the remainder last.
pub fn cut<'a>(stream: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(lengths.len() + 1);
    let mut rest = stream;
    for &len in lengths {
        let (head, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

/// Runs a fresh decoder over `chunks`: the events, and how many oversized lines it dropped.
pub fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<SseEvent>, u32) {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut out);
    }
    decoder.finish(&mut out);
    (out, decoder.oversized_lines)
}

/// Feeds the stream of an SSE input (see [`sse_stream`]) whole, in the input's own chunks and
/// one byte at a time, and checks:
///
/// * all three give the same events and the same oversized-line count;
/// * no event carries a line break it should have ended at (`\r` anywhere, `\n` outside `data`);
/// * no more events than lines;
/// * [`ChatStream`] stays within its text cap, reports only non-empty deltas, counts every
///   comment before it settles, and its outcome agrees with its state.
pub fn sse(data: &[u8]) -> Result<SseReport, String> {
    let (lengths, stream) = sse_stream(data);
    let whole = decode([stream]);
    let chunks = cut(stream, &lengths);
    let split = decode(chunks.iter().copied());
    if split != whole {
        return Err(format!(
            "chunks {:?} decode differently from the whole stream: {:?} vs {:?}",
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            split,
            whole
        ));
    }
    let bytewise = decode(stream.chunks(1));
    if bytewise != whole {
        return Err(format!(
            "one byte at a time decodes differently: {bytewise:?} vs {whole:?}"
        ));
    }
    let (events, _) = whole;
    check_events(stream, &events)?;
    check_chat_stream(&events)?;
    // The payload parser also sees whatever JSON-ish text the fuzzer builds.
    let _ = sse::parse_chat_chunk(&String::from_utf8_lossy(stream));
    Ok(SseReport {
        chunks: chunks.len(),
        messages: events
            .iter()
            .filter(|e| matches!(e, SseEvent::Message { .. }))
            .count(),
        comments: events
            .iter()
            .filter(|e| matches!(e, SseEvent::Comment(_)))
            .count(),
    })
}

fn check_events(stream: &[u8], events: &[SseEvent]) -> Result<(), String> {
    let breaks = stream.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    if events.len() > breaks + 1 {
        return Err(format!(
            "{} events from {} line breaks",
            events.len(),
            breaks
        ));
    }
    for event in events {
        let ok = match event {
            SseEvent::Comment(text) => !text.contains(['\r', '\n']),
            SseEvent::Message { event, data } => {
                !data.contains('\r') && event.as_deref().is_none_or(|e| !e.contains(['\r', '\n']))
            }
        };
        if !ok {
            return Err(format!("event carries a line break: {event:?}"));
        }
    }
    Ok(())
}

fn check_chat_stream(events: &[SseEvent]) -> Result<(), String> {
    let mut stream = ChatStream::new();
    let mut comments_before_settled = 0u32;
    for event in events {
        if !stream.is_settled() && matches!(event, SseEvent::Comment(_)) {
            comments_before_settled += 1;
        }
        for delta in stream.apply(event.clone()) {
            let (ProbeEvent::Content(text) | ProbeEvent::Reasoning(text)) = &delta;
            if text.is_empty() {
                return Err("empty delta reported".into());
            }
        }
        if stream.answer.len() > MAX_STORED_TEXT || stream.reasoning.len() > MAX_STORED_TEXT {
            return Err("stored text outgrew its cap".into());
        }
    }
    if stream.comments != comments_before_settled {
        return Err(format!(
            "{} comments counted, {comments_before_settled} arrived before settling",
            stream.comments
        ));
    }
    let expect_ok = stream.error.is_none() && (stream.done || stream.finish_reason.is_some());
    if stream.outcome().is_ok() != expect_ok {
        return Err(format!(
            "outcome {:?} contradicts {stream:?}",
            stream.outcome()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::exposition::{Labels, parse};

    #[test]
    fn round_trip_check_catches_a_changed_value_label_or_type() {
        let e = parse("# TYPE m counter\nm{a=\"x\"} 1.5 7\n");
        let rendered = e.render();
        let good = parse(&rendered);
        assert_eq!(check_round_trip(&e, &good), Ok(()));
        let value = parse("# TYPE m counter\nm{a=\"x\"} 1.25 7\n");
        assert!(check_round_trip(&e, &value).is_err());
        let label = parse("# TYPE m counter\nm{a=\"y\"} 1.5 7\n");
        assert!(check_round_trip(&e, &label).is_err());
        let stamp = parse("# TYPE m counter\nm{a=\"x\"} 1.5\n");
        assert!(check_round_trip(&e, &stamp).is_err());
        let ty = parse("# TYPE m gauge\nm{a=\"x\"} 1.5 7\n");
        assert!(check_round_trip(&e, &ty).is_err());
        let lost = parse("# TYPE m counter\n");
        assert!(check_round_trip(&e, &lost).is_err());
    }

    #[test]
    fn nan_matches_nan_but_signed_zeros_differ() {
        assert!(same_f64(f64::NAN, -f64::NAN));
        assert!(!same_f64(0.0, -0.0));
        assert!(!same_f64(1.0, f64::NAN));
    }

    #[test]
    fn line_accounting_catches_an_extra_or_missing_sample() {
        let text = "a 1\nb 2\n# TYPE c gauge\n";
        let mut e = parse(text);
        assert_eq!(check_line_accounting(text, &e), Ok(()));
        let extra = e.samples[0].clone();
        e.samples.push(extra);
        assert!(check_line_accounting(text, &e).is_err());
        e.samples.truncate(1);
        assert!(check_line_accounting(text, &e).is_err());
    }

    #[test]
    fn well_formed_check_catches_bad_names() {
        let mut e = parse("m{a=\"1\"} 1\n");
        assert_eq!(check_well_formed(&e), Ok(()));
        e.samples[0].labels = Labels(vec![("a", "1".into()), ("a", "2".into())]);
        assert!(check_well_formed(&e).is_err());
        e.samples[0].labels = Labels::default();
        e.samples[0].name = "9m";
        assert!(check_well_formed(&e).is_err());
    }

    #[test]
    fn a_line_that_outgrows_the_limit_when_rendered_is_expected_to_be_skipped() {
        // `1` renders as `1.0`: the line is accepted at exactly the limit, then two bytes too long.
        let pad = MAX_LINE_BYTES - "m{a=\"\"} 1".len();
        let line = format!("m{{a=\"{}\"}} 1\nn 2\n", "x".repeat(pad));
        let report = exposition(line.as_bytes());
        assert_eq!(
            report,
            Ok(ExpositionReport {
                samples: 2,
                skipped: 0,
                types: 0,
                histogram_series: 0
            })
        );
        let e = parse(&line);
        let again = parse("n 2.0\n");
        assert!(check_round_trip(&e, &again).is_err());
    }

    #[test]
    fn split_plan_reads_lengths_then_stream() {
        assert_eq!(sse_stream(b""), (vec![], &b""[..]));
        assert_eq!(sse_stream(b"\x02\x03\x00data"), (vec![3, 0], &b"data"[..]));
        // 19 % 17 = 2 lengths.
        assert_eq!(sse_stream(b"\x13ab"), (vec![97, 98], &b""[..]));
        assert_eq!(
            cut(b"abcdef", &[2, 0, 9]),
            vec![&b"ab"[..], b"", b"cdef", b""]
        );
    }

    #[test]
    fn event_check_catches_a_line_break_inside_an_event() {
        let bad = [SseEvent::Comment("a\rb".into())];
        assert!(check_events(b"a\rb\n", &bad).is_err());
        let ok = [SseEvent::Message {
            event: None,
            data: "a\nb".into(),
        }];
        assert_eq!(check_events(b"data: a\ndata: b\n\n", &ok), Ok(()));
        assert!(check_events(b"", &[ok[0].clone(), ok[0].clone()]).is_err());
    }

    #[test]
    fn sse_harness_reports_what_it_decoded() {
        let input = b"\x02\x05\x01: ping\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\r\n\r\n";
        assert_eq!(
            sse(input),
            Ok(SseReport {
                chunks: 3,
                messages: 1,
                comments: 1
            })
        );
    }
}
