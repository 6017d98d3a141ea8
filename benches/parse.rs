//! Scrape-parsing throughput: `llmtop::exposition` vs `prometheus-parse` 0.2.5
//! on a ~1 MB vLLM body (the fixture repeated with a distinct `engine` label).
use std::hint::black_box;
use std::io::{BufRead, Cursor};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llmtop::exposition::{decode_body, parse};
use prometheus_parse::Scrape;

const VLLM: &str = include_str!("../tests/fixtures/metrics/vllm.prom");
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

fn bench_parse(c: &mut Criterion) {
    let body = vllm_body();
    let bytes = body.as_bytes();
    // Fail loudly rather than benchmark a parser that is quietly skipping lines.
    let ours = parse(&body);
    assert_eq!(ours.skipped_count, 0, "{:?}", ours.skipped);
    let theirs = Scrape::parse(Cursor::new(bytes).lines()).map(|s| s.samples.len());
    eprintln!(
        "input: {} bytes, {} lines; llmtop samples: {}, prometheus-parse samples: {:?}",
        bytes.len(),
        body.lines().count(),
        ours.samples.len(),
        theirs
    );
    drop(ours);

    let mut g = c.benchmark_group("parse_vllm_1mb");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("llmtop_parse_str", |b| {
        b.iter(|| parse(black_box(&body)).samples.len())
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

criterion_group!(benches, bench_parse);
criterion_main!(benches);
