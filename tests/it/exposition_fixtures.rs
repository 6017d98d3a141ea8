//! Real gateway scrapes through `llmtop::base::exposition`, plus a differential check
//! against `prometheus-parse` 0.2.5 whose every known defect is named below.
use std::collections::BTreeMap;
use std::io::{BufRead, Cursor};

use llmtop::base::exposition::{
    Exposition, HistogramSeries, MetricType, Sample, decode_body, parse,
};
use prometheus_parse::{Scrape, Value};

const FIXTURES: [&str; 5] = ["seed", "vllm", "litellm", "tgi", "llamacpp"];
const LLAMA: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/metrics/{name}.prom",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_clean(text: &str) -> Exposition<'_> {
    let e = parse(text);
    assert_eq!(e.skipped_count, 0, "skipped: {:?}", e.skipped);
    assert!(e.skipped.is_empty());
    e
}

fn value_of(e: &Exposition<'_>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let hits: Vec<&Sample<'_>> = e
        .samples_named(name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{name} {labels:?} matched {} samples",
        hits.len()
    );
    hits[0].value
}

fn label_pairs<'l>(s: &'l HistogramSeries<'_>) -> Vec<(&'l str, &'l str)> {
    s.labels.0.iter().map(|(k, v)| (*k, v.as_ref())).collect()
}

#[test]
fn every_fixture_parses_without_skips() {
    // (fixture, samples, `_created` samples ignored, TYPE families kept)
    let expected = [
        ("seed", 26, 8, 5),
        ("vllm", 80, 13, 11),
        ("litellm", 124, 0, 7),
        ("tgi", 260, 0, 10),
        ("llamacpp", 18, 0, 16),
    ];
    for (name, samples, created, types) in expected {
        let text = fixture(name);
        let e = parse_clean(&text);
        assert_eq!(e.samples.len(), samples, "{name}");
        assert_eq!(e.created_ignored, created, "{name}");
        assert_eq!(e.types.len(), types, "{name}");
        assert!(
            e.samples.iter().all(|s| !s.name.ends_with("_created")),
            "{name}"
        );
        assert!(e.samples.iter().all(|s| s.timestamp_ms.is_none()), "{name}");
        // Same bytes through the byte entry point, and through CRLF line endings.
        assert_eq!(
            parse(&decode_body(text.as_bytes())).samples,
            e.samples,
            "{name}"
        );
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(parse_clean(&crlf).samples, e.samples, "{name} CRLF");
        assert_eq!(parse_clean(&e.render()).samples, e.samples, "{name} render");
    }
}

#[test]
fn vllm_colon_families_and_ttft_histogram() {
    let text = fixture("vllm");
    let e = parse_clean(&text);
    let base = [("engine", "0"), ("model_name", LLAMA)];
    assert_eq!(value_of(&e, "vllm:prompt_tokens_total", &base), 5_713_942.0);
    assert_eq!(
        value_of(&e, "vllm:generation_tokens_total", &base),
        1_495_305.0
    );
    assert_eq!(value_of(&e, "vllm:num_requests_running", &base), 14.0);
    assert_eq!(
        value_of(&e, "vllm:kv_cache_usage_perc", &base),
        0.412_760_416_666_666_7
    );
    assert_eq!(
        value_of(
            &e,
            "vllm:request_success_total",
            &[("finished_reason", "abort")]
        ),
        24.0
    );
    assert_eq!(
        value_of(&e, "vllm:engine_sleep_state", &[("sleep_state", "awake")]),
        1.0
    );
    assert_eq!(
        value_of(&e, "http_requests_total", &[("status", "4xx")]),
        37.0
    );
    let prompt = e.samples_named("vllm:prompt_tokens_total").next();
    let labels: Vec<_> = prompt
        .map(|s| s.labels.0.iter().map(|(k, v)| (*k, v.as_ref())).collect())
        .unwrap_or_default();
    assert_eq!(labels, base.to_vec());
    assert_eq!(
        e.family_type("vllm:prompt_tokens_total"),
        Some(MetricType::Counter)
    );
    assert_eq!(
        e.family_type("vllm:num_requests_running"),
        Some(MetricType::Gauge)
    );
    assert_eq!(
        e.family_type("vllm:time_to_first_token_seconds"),
        Some(MetricType::Histogram)
    );
    assert_eq!(e.family_type("vllm:prompt_tokens_created"), None);

    let h = e.histograms("vllm:time_to_first_token_seconds");
    assert_eq!(h.len(), 1);
    assert_eq!(label_pairs(&h[0]), base.to_vec());
    let inf = f64::INFINITY;
    assert_eq!(
        h[0].buckets,
        vec![
            (0.001, 0.0),
            (0.005, 1.0),
            (0.01, 19.0),
            (0.02, 140.0),
            (0.04, 630.0),
            (0.06, 1208.0),
            (0.08, 1746.0),
            (0.1, 2209.0),
            (0.25, 3953.0),
            (0.5, 4603.0),
            (0.75, 4747.0),
            (1.0, 4792.0),
            (2.5, 4825.0),
            (5.0, 4826.0),
            (7.5, 4826.0),
            (10.0, 4826.0),
            (20.0, 4826.0),
            (40.0, 4826.0),
            (80.0, 4826.0),
            (160.0, 4826.0),
            (640.0, 4826.0),
            (2560.0, 4826.0),
            (inf, 4826.0),
        ]
    );
    assert_eq!(h[0].count, Some(4826.0));
    assert_eq!(h[0].sum, Some(795.919_725));

    let p = e.histograms("vllm:request_prompt_tokens");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].buckets.len(), 13);
    assert_eq!(p[0].buckets.last(), Some(&(inf, 4812.0)));
    assert_eq!(p[0].sum, Some(5_964_064.921_786));
    assert_eq!(p[0].count, Some(4812.0));
}

#[test]
fn seed_histogram_and_counters() {
    let text = fixture("seed");
    let e = parse_clean(&text);
    let h = e.histograms("deepseek_request_latency_seconds");
    assert_eq!(h.len(), 1);
    assert!(h[0].labels.0.is_empty());
    assert_eq!(h[0].buckets.len(), 15);
    assert_eq!(
        h[0].buckets,
        vec![
            (0.005, 0.0),
            (0.01, 0.0),
            (0.025, 0.0),
            (0.05, 0.0),
            (0.075, 0.0),
            (0.1, 0.0),
            (0.25, 13.0),
            (0.5, 199.0),
            (0.75, 603.0),
            (1.0, 879.0),
            (2.5, 1155.0),
            (5.0, 1157.0),
            (7.5, 1157.0),
            (10.0, 1157.0),
            (f64::INFINITY, 1157.0),
        ]
    );
    assert_eq!(h[0].sum, Some(943.654_343_360_706_8));
    assert_eq!(h[0].count, Some(1157.0));
    assert_eq!(
        value_of(
            &e,
            "deepseek_requests_total",
            &[("model", "deepseek-chat"), ("status", "error")]
        ),
        7.0
    );
    assert_eq!(
        value_of(&e, "deepseek_tokens_total", &[("model", "gpt-4o")]),
        8183.0
    );
    assert_eq!(value_of(&e, "deepseek_cache_hit_ratio", &[]), 0.42);
    assert_eq!(value_of(&e, "deepseek_active_requests", &[]), 7.0);
    assert_eq!(
        e.family_type("deepseek_requests_total"),
        Some(MetricType::Counter)
    );
}

#[test]
fn litellm_none_labels_and_interleaved_histograms() {
    let text = fixture("litellm");
    let e = parse_clean(&text);
    let rejected = [
        ("status_code", "429"),
        ("user", "None"),
        ("end_user", "None"),
    ];
    assert_eq!(
        value_of(&e, "litellm_proxy_total_requests_metric_total", &rejected),
        17.0
    );
    let s = e
        .samples_named("litellm_proxy_total_requests_metric_total")
        .find(|s| s.labels.get("status_code") == Some("429"));
    assert_eq!(s.and_then(|s| s.labels.get("user_email")), Some("None"));
    assert_eq!(
        s.and_then(|s| s.labels.get("user_agent")),
        Some("OpenAI/Python 1.99.9")
    );
    assert_eq!(
        value_of(&e, "litellm_spend_metric_total", &[("model", "gpt-4o")]),
        13.440_475_000_000_001
    );
    assert_eq!(
        value_of(
            &e,
            "litellm_input_tokens_metric_total",
            &[("model", "gpt-4o")]
        ),
        2_817_550.0
    );

    // `_sum` precedes the buckets here and the two models' series follow each other.
    let h = e.histograms("litellm_request_total_latency_metric");
    assert_eq!(h.len(), 2);
    let got: Vec<_> = h
        .iter()
        .map(|s| {
            (
                s.labels.get("model"),
                s.labels.get("le"),
                s.buckets.len(),
                s.buckets.last().copied(),
                s.sum,
                s.count,
            )
        })
        .collect();
    let inf = f64::INFINITY;
    assert_eq!(
        got,
        vec![
            (
                Some("gpt-4o"),
                None,
                36,
                Some((inf, 1523.0)),
                Some(7_658.120_585),
                Some(1523.0)
            ),
            (
                Some("deepseek-chat"),
                None,
                36,
                Some((inf, 842.0)),
                Some(9_305.136_261),
                Some(842.0)
            ),
        ]
    );
    assert_eq!(h[0].labels.get("user"), Some("None"));
    assert_eq!(h[0].buckets[0].0, 0.005);
    assert!(
        h.iter()
            .all(|s| s.buckets.windows(2).all(|w| w[0].0 < w[1].0))
    );
    let ttft = e.histograms("litellm_llm_api_time_to_first_token_metric");
    assert_eq!(ttft.len(), 1);
    assert_eq!(ttft[0].sum, Some(775.617_453));
    assert_eq!(ttft[0].count, Some(1104.0));
}

#[test]
fn tgi_counters_without_total_suffix() {
    let text = fixture("tgi");
    let e = parse_clean(&text);
    assert_eq!(value_of(&e, "tgi_request_count", &[]), 2431.0);
    assert_eq!(
        e.family_type("tgi_request_count"),
        Some(MetricType::Counter)
    );
    assert_eq!(value_of(&e, "tgi_request_success", &[]), 2398.0);
    assert_eq!(
        value_of(&e, "tgi_request_failure", &[("err", "overloaded")]),
        12.0
    );
    assert_eq!(
        e.family_type("tgi_request_failure"),
        Some(MetricType::Counter)
    );
    assert_eq!(value_of(&e, "tgi_batch_current_max_tokens", &[]), 5847.0);

    let d = e.histograms("tgi_request_duration");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].buckets.len(), 36);
    assert_eq!(d[0].buckets[0], (0.000_150_000_000_000_000_01, 0.0));
    assert_eq!(d[0].buckets[20], (0.498_788_509_511_947_53, 1.0));
    assert_eq!(d[0].buckets[35], (f64::INFINITY, 2398.0));
    assert_eq!(d[0].sum, Some(18_425.636_338));
    assert_eq!(d[0].count, Some(2398.0));
    let input = e.histograms("tgi_request_input_length");
    assert_eq!(input[0].buckets.len(), 101);
    assert_eq!(input[0].sum, Some(3_954_860.134_65));

    assert_eq!(
        e.family_type("tgi_request_skipped_tokens"),
        Some(MetricType::Summary)
    );
    assert_eq!(
        value_of(&e, "tgi_request_skipped_tokens", &[("quantile", "0.99")]),
        2.0
    );
    assert_eq!(
        value_of(&e, "tgi_request_skipped_tokens_sum", &[]),
        298_114.0
    );
    assert_eq!(
        value_of(&e, "tgi_request_skipped_tokens_count", &[]),
        271_352.0
    );
}

#[test]
fn llamacpp_colon_names() {
    let text = fixture("llamacpp");
    let e = parse_clean(&text);
    assert_eq!(
        value_of(&e, "llamacpp:prompt_tokens_total", &[]),
        1_843_220.0
    );
    assert_eq!(
        value_of(&e, "llamacpp:tokens_predicted_total", &[]),
        412_876.0
    );
    assert_eq!(
        value_of(&e, "llamacpp:predicted_tokens_seconds", &[]),
        69.7304
    );
    assert_eq!(
        value_of(
            &e,
            "llamacpp:spec_decode_num_accepted_tokens_per_pos_total",
            &[("position", "1")]
        ),
        61_177.0
    );
    assert_eq!(
        e.family_type("llamacpp:n_tokens_max"),
        Some(MetricType::Counter)
    );
    assert_eq!(
        e.family_type("llamacpp:requests_processing"),
        Some(MetricType::Gauge)
    );
}

// ---------------------------------------------------------------------------
// Differential test against prometheus-parse 0.2.5
// ---------------------------------------------------------------------------

/// A sample in a shape both parsers can produce. `le`/`quantile` are compared
/// as numbers because prometheus-parse only keeps them as `f64`.
#[derive(Debug, Clone)]
struct Flat {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl PartialEq for Flat {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.labels == o.labels
            && (self.value.to_bits() == o.value.to_bits()
                || (self.value.is_nan() && o.value.is_nan()))
    }
}

fn canon_bound(v: f64) -> String {
    format!("{v:?}")
}

fn canon_labels<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs
        .map(|(k, v)| {
            let v = match (k, v.parse::<f64>()) {
                ("le" | "quantile", Ok(f)) => canon_bound(f),
                _ => v.to_owned(),
            };
            (k.to_owned(), v)
        })
        .collect()
}

fn theirs_flat(scrape: &Scrape) -> Vec<Flat> {
    let mut out = Vec::new();
    for s in &scrape.samples {
        let base = || canon_labels(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => out.push(Flat {
                name: s.metric.clone(),
                labels: base(),
                value: *v,
            }),
            Value::Histogram(hs) => {
                for h in hs {
                    let mut labels = base();
                    labels.insert("le".into(), canon_bound(h.less_than));
                    out.push(Flat {
                        name: format!("{}_bucket", s.metric),
                        labels,
                        value: h.count,
                    });
                }
            }
            Value::Summary(qs) => {
                for q in qs {
                    let mut labels = base();
                    labels.insert("quantile".into(), canon_bound(q.quantile));
                    out.push(Flat {
                        name: s.metric.clone(),
                        labels,
                        value: q.count,
                    });
                }
            }
        }
    }
    out
}

fn theirs(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("prometheus-parse: {e}"))
}

/// prometheus-parse defects that make it lose or corrupt a sample we parse
/// correctly. Each is reproduced on its own in `prometheus_parse_defects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Defect {
    /// Its `\w+` name regex stops at ':' so the whole line is silently dropped.
    ColonNameDropped,
    /// Its label regex `[^}]+` stops at the first '}' inside a value: line dropped.
    BraceInValueDropped,
    /// It splits the label set on ',' so the value is cut and the rest discarded.
    CommaInValueCut,
    /// It splits each pair on '=' and discards pairs with more than one.
    EqualsInValueDropped,
    /// It never unescapes `\\`, `\"`, `\n` (and trims every '"' off both ends).
    EscapesNotUnescaped,
}

fn classify(s: &Sample<'_>) -> Option<Defect> {
    let values = || s.labels.0.iter().map(|(_, v)| v.as_ref());
    if s.name.contains(':') {
        Some(Defect::ColonNameDropped)
    } else if values().any(|v| v.contains('}')) {
        Some(Defect::BraceInValueDropped)
    } else if values().any(|v| v.contains(',')) {
        Some(Defect::CommaInValueCut)
    } else if values().any(|v| v.contains('=')) {
        Some(Defect::EqualsInValueDropped)
    } else if values().any(|v| v.contains(['\\', '"', '\n'])) {
        Some(Defect::EscapesNotUnescaped)
    } else {
        None
    }
}

/// Every sample prometheus-parse handles correctly must equal ours exactly;
/// every difference must fall in a documented `Defect` (or be a `_created`
/// series, which we drop on purpose). Returns how many samples hit each defect.
fn differential(text: &str) -> BTreeMap<Defect, usize> {
    let ours = parse(text);
    assert_eq!(ours.skipped_count, 0, "{:?}", ours.skipped);
    let mut their: Vec<Flat> = theirs_flat(&theirs(text))
        .into_iter()
        .filter(|f| !f.name.ends_with("_created"))
        .collect();
    let mut defects = BTreeMap::new();
    let mut corrupted: Vec<(&str, f64)> = Vec::new();
    for s in &ours.samples {
        if let Some(d) = classify(s) {
            *defects.entry(d).or_insert(0) += 1;
            if matches!(
                d,
                Defect::CommaInValueCut
                    | Defect::EqualsInValueDropped
                    | Defect::EscapesNotUnescaped
            ) {
                corrupted.push((s.name, s.value));
            }
            continue;
        }
        let flat = Flat {
            name: s.name.to_owned(),
            labels: canon_labels(s.labels.0.iter().map(|(k, v)| (*k, v.as_ref()))),
            value: s.value,
        };
        match their.iter().position(|t| *t == flat) {
            Some(i) => {
                their.swap_remove(i);
            }
            None => panic!("prometheus-parse disagrees on a clean sample: {flat:?}"),
        }
    }
    // What is left must be the corrupted copies of samples in a mangling category.
    for t in their {
        match corrupted
            .iter()
            .position(|(n, v)| *n == t.name && v.to_bits() == t.value.to_bits())
        {
            Some(i) => {
                corrupted.swap_remove(i);
            }
            None => panic!("prometheus-parse returned a sample we do not have: {t:?}"),
        }
    }
    defects
}

#[test]
fn differential_against_prometheus_parse_on_fixtures() {
    use Defect::*;
    let expected: [(&str, &[(Defect, usize)]); 5] = [
        ("seed", &[]),
        ("vllm", &[(ColonNameDropped, 77)]),
        ("litellm", &[]),
        ("tgi", &[]),
        ("llamacpp", &[(ColonNameDropped, 18)]),
    ];
    assert_eq!(expected.map(|(n, _)| n), FIXTURES);
    for (name, want) in expected {
        let got = differential(&fixture(name));
        assert_eq!(got, want.iter().copied().collect(), "{name}");
    }
}

#[test]
fn differential_classifier_covers_every_defect() {
    use Defect::*;
    let text = r#"# TYPE ok counter
ok{a="1"} 1
vllm:x{a="1"} 2
br{a="}"} 3
co{a="x,y",b="z"} 4
eq{a="k=v",b="z"} 5
es{a="q\"q",b="c:\\d",n="l\nl"} 6
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_sum 0.7
h_count 2
"#;
    let got = differential(text);
    let want = [
        (ColonNameDropped, 1),
        (BraceInValueDropped, 1),
        (CommaInValueCut, 1),
        (EqualsInValueDropped, 1),
        (EscapesNotUnescaped, 1),
    ];
    assert_eq!(got, want.into_iter().collect());
}

/// One-line reproductions of each prometheus-parse defect, with our result alongside.
#[test]
fn prometheus_parse_defects() {
    let get = |scrape: &Scrape, name: &str| -> Vec<BTreeMap<String, String>> {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| {
                s.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .collect()
    };
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };

    // Colon metric names (vLLM, llama.cpp): sample silently dropped.
    let line = "vllm:num_requests_running{engine=\"0\"} 14.0";
    assert!(theirs(line).samples.is_empty());
    assert_eq!(parse(line).samples[0].value, 14.0);

    // Colon histogram: TYPE ignored too, so no histogram at all.
    let text = "# TYPE vllm:ttft histogram\nvllm:ttft_bucket{le=\"+Inf\"} 3\n";
    assert!(theirs(text).samples.is_empty());
    assert_eq!(
        parse(text).histograms("vllm:ttft")[0].buckets,
        vec![(f64::INFINITY, 3.0)]
    );

    // ',' in a label value: value cut, remainder discarded.
    let line = "m{path=\"/a,b\"} 1";
    assert_eq!(get(&theirs(line), "m"), vec![map(&[("path", "/a")])]);
    assert_eq!(parse(line).samples[0].labels.get("path"), Some("/a,b"));

    // '=' in a label value: the whole label disappears.
    let line = "m{q=\"a=b\",x=\"y\"} 1";
    assert_eq!(get(&theirs(line), "m"), vec![map(&[("x", "y")])]);
    assert_eq!(parse(line).samples[0].labels.get("q"), Some("a=b"));

    // '}' in a label value: sample dropped.
    let line = "m{v=\"}\"} 1";
    assert!(theirs(line).samples.is_empty());
    assert_eq!(parse(line).samples[0].labels.get("v"), Some("}"));

    // Escapes are kept raw, and every '"' is trimmed off both ends.
    let line = r#"m{p="C:\\dir",q="\"hi\""} 1"#;
    assert_eq!(
        get(&theirs(line), "m"),
        vec![map(&[("p", r"C:\\dir"), ("q", r#"\"hi\"#)])]
    );
    let ours = parse(line);
    assert_eq!(ours.samples[0].labels.get("p"), Some(r"C:\dir"));
    assert_eq!(ours.samples[0].labels.get("q"), Some("\"hi\""));

    // Empty label set `{}`: sample dropped.
    let line = "m{} 1";
    assert!(theirs(line).samples.is_empty());
    assert_eq!(parse(line).samples.len(), 1);

    // Blank after ',' (valid text format): the label name keeps the blank.
    let line = "m{a=\"1\", b=\"2\"} 1";
    assert_eq!(
        get(&theirs(line), "m"),
        vec![map(&[("a", "1"), (" b", "2")])]
    );
    assert_eq!(parse(line).samples[0].labels.get("b"), Some("2"));

    // Unparsable timestamp silently replaced by "now" instead of rejecting the line.
    let line = "m 1 soon";
    assert_eq!(theirs(line).samples.len(), 1);
    assert_eq!(parse(line).skipped_count, 1);
}

#[test]
fn one_non_utf8_byte_loses_prometheus_parse_the_scrape_but_not_us() {
    let text = fixture("vllm");
    let clean = parse_clean(&text);

    // A stray byte in a HELP line: ours is unaffected, theirs returns Err for everything.
    let mut bytes = text.clone().into_bytes();
    let help = text
        .find("Number of requests")
        .unwrap_or_else(|| unreachable!());
    bytes[help] = 0xFF;
    assert!(Scrape::parse(Cursor::new(&bytes).lines()).is_err());
    let body = decode_body(&bytes);
    let ours = parse_clean(&body);
    assert_eq!(ours.samples, clean.samples);

    // A stray byte inside a label value: that value shows U+FFFD, every line survives.
    let mut bytes = text.clone().into_bytes();
    let at = text.find("Llama-3.1").unwrap_or_else(|| unreachable!());
    bytes[at] = 0xFF;
    assert!(Scrape::parse(Cursor::new(&bytes).lines()).is_err());
    let body = decode_body(&bytes);
    let ours = parse_clean(&body);
    assert_eq!(ours.samples.len(), clean.samples.len());
    assert_eq!(
        ours.samples[0].labels.get("model_name"),
        Some("meta-llama/\u{FFFD}lama-3.1-8B-Instruct")
    );
    assert_eq!(ours.samples[1..], clean.samples[1..]);
}
