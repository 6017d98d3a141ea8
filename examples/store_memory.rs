//! Store memory under load: the LiteLLM fixture scaled to ~2 000 series, scraped every second for
//! hours of simulated time through the real parser, dialect and store. Prints one row per hour.
//!
//! Run with `bench/memory.sh` (or `cargo run --release --example store_memory -- HOURS`).
use std::time::Instant;

use llmtop::base::dialect;
use llmtop::base::exposition;
use llmtop::model::store::{StoreLimits, TargetStore};

const FIXTURE: &str = include_str!("../tests/fixtures/metrics/litellm.prom");
const TARGET_SERIES: usize = 2_000;

/// One sample line split around its value, so each scrape can print a new value cheaply.
struct Line {
    head: String,
    base: f64,
    grows: bool,
}

fn template() -> (Vec<String>, Vec<Line>) {
    let mut comments = Vec::new();
    let mut samples = Vec::new();
    for line in FIXTURE.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            comments.push(line.to_string());
            continue;
        }
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(base) = value.parse::<f64>() else {
            continue;
        };
        // Gauges stay put; counters and histogram parts grow by one per scrape, which keeps
        // every histogram cumulative.
        let grows = !head.contains("_created") && !head.starts_with("litellm_remaining");
        samples.push(Line {
            head: head.to_string(),
            base,
            grows,
        });
    }
    let copies = TARGET_SERIES.div_ceil(samples.len().max(1));
    let mut scaled = Vec::with_capacity(copies * samples.len());
    for copy in 0..copies {
        for s in &samples {
            // A distinct key per copy: more raw series, same models (as real key churn looks).
            let head = s.head.replacen(
                "hashed_api_key=\"",
                &format!("hashed_api_key=\"k{copy}-"),
                1,
            );
            let head = if head == s.head && copy > 0 {
                match head.find('{') {
                    Some(i) => format!("{}{{copy=\"{copy}\",{}", &head[..i], &head[i + 1..]),
                    None => format!("{head}{{copy=\"{copy}\"}}"),
                }
            } else {
                head
            };
            scaled.push(Line {
                head,
                base: s.base,
                grows: s.grows,
            });
        }
    }
    (comments, scaled)
}

fn body(comments: &[String], lines: &[Line], scrape: u64) -> String {
    let mut out = String::with_capacity(lines.len() * 200);
    for c in comments {
        out.push_str(c);
        out.push('\n');
    }
    for l in lines {
        let v = if l.grows {
            l.base + scrape as f64
        } else {
            l.base
        };
        out.push_str(&l.head);
        out.push(' ');
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let hours: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let (comments, lines) = template();
    let dialects = dialect::builtin();
    let Some(litellm) = dialects.iter().find(|d| d.name == "litellm") else {
        eprintln!("the litellm dialect is missing");
        std::process::exit(1);
    };
    let mut store = TargetStore::new("litellm", StoreLimits::default());
    let first = body(&comments, &lines, 0);
    let parsed = exposition::parse(&first);
    println!(
        "exposition: {} samples ({} bytes) per scrape; store: {} slots, series cap {}",
        parsed.samples.len(),
        first.len(),
        store.limits().slots,
        store.limits().max_series
    );
    println!(
        "| simulated uptime | scrapes | canonical series | raw series | store bytes | store MiB | process RSS MiB | wall s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let per_hour = 3600u64;
    for scrape in 0..hours * per_hour {
        let text = body(&comments, &lines, scrape);
        let parsed = exposition::parse(&text);
        let mapped = litellm.map(&parsed, "litellm");
        store.ingest(1_795_687_200.0 + scrape as f64, &mapped.samples);
        if (scrape + 1) % per_hour == 0 {
            let (canonical, raw) = store.series_counts();
            let bytes = store.memory_bytes();
            println!(
                "| {} h | {} | {} | {} | {} | {:.2} | {} | {:.1} |",
                (scrape + 1) / per_hour,
                scrape + 1,
                canonical,
                raw,
                bytes,
                bytes as f64 / (1024.0 * 1024.0),
                rss_kib()
                    .map(|k| format!("{:.1}", k as f64 / 1024.0))
                    .unwrap_or_else(|| "–".into()),
                started.elapsed().as_secs_f64()
            );
        }
    }
}
