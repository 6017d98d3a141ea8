//! Scrape-parsing throughput: `llmtop::base::exposition` vs `prometheus-parse` 0.2.5
//! on a ~1 MB vLLM body (the fixture repeated with a distinct `engine` label), and what label
//! redaction adds to a parse on a ~1 MB LiteLLM body where every series names a user.
use std::hint::black_box;
use std::io::{BufRead, Cursor};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llmtop::base::exposition::{decode_body, parse};
use prometheus_parse::Scrape;

const VLLM: &str = include_str!("../tests/fixtures/metrics/vllm.prom");
const LITELLM: &str = include_str!("../tests/fixtures/metrics/litellm_budget.prom");
const TARGET_BYTES: usize = 1 << 20;

fn vllm_body() -> String {
    let mut body = String::with_capacity(TARGET_BYTES + VLLM.len());
    let mut engine = 0;
    while body.len() < TARGET_BYTES {
        body.push_str(&VLLM.replace("engine=\"0\"", &format!("engine=\"{engine}\"")));
        engine += 1;
    }
    body
}

/// Benchmarks one body; asserts first that neither parser is quietly skipping lines.
fn bench_body(c: &mut Criterion, group: &str, body: &str) {
    let bytes = body.as_bytes();
    let ours = parse(body);
    assert_eq!(ours.skipped_count, 0, "{:?}", ours.skipped);
    let theirs = Scrape::parse(Cursor::new(bytes).lines()).map(|s| s.samples.len());
    eprintln!(
        "{group}: {} bytes, {} lines; llmtop samples: {}, prometheus-parse samples \
         (histograms grouped): {theirs:?}",
        bytes.len(),
        body.lines().count(),
        ours.samples.len(),
    );
    drop(ours);

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("llmtop_parse_str", |b| {
        b.iter(|| parse(black_box(body)).samples.len())
    });
    // From raw bytes, including UTF-8 validation, so the comparison is like for like.
    g.bench_function("llmtop_decode_and_parse", |b| {
        b.iter(|| {
            let text = decode_body(black_box(bytes));
            parse(&text).samples.len()
        })
    });
    g.bench_function("prometheus_parse", |b| {
        b.iter(|| Scrape::parse(Cursor::new(black_box(bytes)).lines()).map(|s| s.samples.len()))
    });
    g.finish();
}

fn bench_parse(c: &mut Criterion) {
    let body = vllm_body();
    bench_body(c, "parse_vllm_1mb", &body);
    // prometheus-parse drops every `vllm:` line at its first ':' and so does
    // almost no work on the real body; renaming the families makes it parse
    // every line, which is the fair throughput comparison.
    bench_body(
        c,
        "parse_vllm_1mb_no_colons",
        &body.replace("vllm:", "vllm_"),
    );
}

/// Parse alone against redact-then-parse with the recording default (every `user`,
/// `client_ip`, `user_agent`… value hashed), on the same body.
fn bench_redact(c: &mut Criterion) {
    let mut body = String::with_capacity(TARGET_BYTES + LITELLM.len());
    let mut n = 0;
    while body.len() < TARGET_BYTES {
        body.push_str(&LITELLM.replace("user=\"alice\"", &format!("user=\"user{n}@example.com\"")));
        n += 1;
    }
    let redactor = llmtop::base::redact::LabelRedactor::defaults();
    assert!(matches!(redactor.redact(&body), std::borrow::Cow::Owned(_)));
    let mut g = c.benchmark_group("redact_litellm_1mb");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| parse(black_box(&body)).samples.len())
    });
    g.bench_function("redact_and_parse", |b| {
        b.iter(|| {
            let text = redactor.redact(black_box(&body));
            parse(&text).samples.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_redact);
criterion_main!(benches);
