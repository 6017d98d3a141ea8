//! Seek-back time of `llmtop replay` on a one-hour synthetic recording (the LiteLLM fixture with
//! growing counters, scraped every second, a probe every minute): the same seeks with
//! checkpoints disabled (every step back rebuilds from the start, as before checkpoints) and
//! with the default checkpoints.
//!
//! Run with `bench/replay_seek.sh` (or `cargo run --release --example replay_seek -- MINUTES`).
use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

use llmtop::io::probe::{ProbeResult, Usage};
use llmtop::io::record::{self, Header, ProbeKind, Record, Recorder, ScrapeRecord, Scrub};
use llmtop::runtime::replay::Replay;

const FIXTURE: &str = include_str!("../tests/fixtures/metrics/litellm.prom");
const START: f64 = 1_795_687_200.0;

/// The fixture with every counter and histogram part grown by `scrape` (gauges stay put).
fn body(scrape: u64) -> String {
    let mut out = String::with_capacity(FIXTURE.len() + 1024);
    for line in FIXTURE.lines() {
        let grown = line
            .rsplit_once(' ')
            .filter(|(head, _)| {
                !line.starts_with('#')
                    && !head.contains("_created")
                    && !head.starts_with("litellm_remaining")
            })
            .and_then(|(head, v)| Some((head, v.parse::<f64>().ok()?)));
        match grown {
            Some((head, v)) => out.push_str(&format!("{head} {}", v + scrape as f64)),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn write_recording(path: &Path, seconds: u64) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path);
    let header = Header {
        format: record::FORMAT_VERSION,
        llmtop: env!("CARGO_PKG_VERSION").into(),
        command: "scrape".into(),
        started: START,
        target: "http://127.0.0.1:4000/metrics".into(),
        name: "litellm".into(),
        dialect: None,
        interval_ns: Some(1_000_000_000),
        api_base: None,
        limits: None,
        redaction: None,
    };
    let mut rec = Recorder::create(path, header, Scrub::new())?;
    for s in 0..seconds {
        let text = body(s);
        let t = START + s as f64;
        rec.write(&Record::Scrape(ScrapeRecord {
            t,
            bytes: text.len(),
            duration_ns: 2_000_000,
            dialect: Some("litellm".into()),
            body: Cow::Owned(text),
        }));
        if s % 60 == 30 {
            let probe = ProbeResult {
                model: "gpt-4o-mini".into(),
                ok: s % 300 != 30,
                status: Some(200),
                latency: Duration::from_millis(400 + s % 97),
                usage: Some(Usage {
                    input: 100,
                    output: 40,
                    ..Default::default()
                }),
                ..Default::default()
            };
            rec.probe(t + 0.5, ProbeKind::Probe, &probe);
        }
    }
    drop(rec);
    Ok(())
}

/// Plays to the end, then times each seek; returns the seconds each took.
fn seeks(path: &Path, checkpoints: bool, targets: &[(&str, f64)]) -> anyhow::Result<Vec<f64>> {
    let mut replay = Replay::open(path, &llmtop::io::config::Config::default())?;
    if !checkpoints {
        replay = replay.with_checkpoint_spacing(f64::INFINITY);
    }
    let started = Instant::now();
    replay.seek(replay.overview.end)?;
    let (held, bytes) = replay.checkpoint_stats();
    println!(
        "  checkpoints {}: play to the end {:.2} s, {held} checkpoints, {:.1} MiB",
        if checkpoints { "on" } else { "off" },
        started.elapsed().as_secs_f64(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    let mut out = Vec::new();
    for (_, t) in targets {
        // From the end each time, as a user pressing ← or g after watching to the end.
        replay.seek(replay.overview.end)?;
        let started = Instant::now();
        replay.seek(*t)?;
        out.push(started.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let minutes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(60);
    let path =
        std::env::temp_dir().join(format!("llmtop-replay-seek-{}.llmrec", std::process::id()));
    let made = Instant::now();
    write_recording(&path, minutes * 60)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "recording: {minutes} min, 1 s scrapes of {} bytes, {:.1} MiB on disk, written in {:.1} s",
        body(0).len(),
        size as f64 / (1024.0 * 1024.0),
        made.elapsed().as_secs_f64()
    );
    let end = START + (minutes * 60 - 1) as f64;
    let targets = [
        ("end - 10 s (one ←)", end - 10.0),
        ("middle", START + (minutes * 30) as f64),
        ("start + 10 s", START + 10.0),
    ];
    let before = seeks(&path, false, &targets)?;
    let after = seeks(&path, true, &targets)?;
    println!("| seek back from the end to | without checkpoints | with checkpoints |");
    println!("|---|---|---|");
    for (((name, _), b), a) in targets.iter().zip(&before).zip(&after) {
        println!("| {name} | {:.3} s | {:.3} s |", b, a);
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}
