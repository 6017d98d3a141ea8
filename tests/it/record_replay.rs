//! Record & replay end to end: recordings made from the demo gateway over loopback replay to the
//! very figures the live session computed (snapshot JSON and every dashboard panel), credentials
//! never reach the file, a file cut mid-chunk still replays what came before, and the replay
//! keys move the time cursor as documented.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use clap::Parser;
use llmtop::app::cli::{Cli, Command as Sub};
use llmtop::front::tui::compute_view;
use llmtop::io::record::{self, Record};
use llmtop::runtime::replay::Replay;
use llmtop::runtime::session::Session;
use llmtop::runtime::update::Update;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llmtop-record-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn llmtop(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.args(args)
        .env("LLMTOP_LOG_FILE", temp("llmtop.log"))
        .env_remove("LLMTOP_API_KEY")
        .env_remove("OPENAI_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run llmtop");
    assert!(
        out.status.success(),
        "llmtop {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn records(path: &Path) -> Vec<Record<'static>> {
    let mut reader = record::open(path).unwrap();
    let all: Vec<_> = reader.by_ref().collect();
    assert_eq!(reader.torn, None, "{}", path.display());
    all
}

fn decompressed(path: &Path) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The real binary: a live `snapshot --record`, then `snapshot --from` at the recording's end
/// prints the same JSON, byte for byte; CSV and table work from a file too.
#[test]
fn snapshot_from_a_recording_equals_the_live_snapshot() {
    let file = temp("snapshot.llmrec");
    let f = file.to_str().unwrap();
    let live = llmtop(
        &[
            "snapshot",
            "--demo",
            "--for",
            "3s",
            "--interval",
            "500ms",
            "--record",
            f,
        ],
        &[],
    );
    let replayed = llmtop(
        &["snapshot", "--from", f, "--at", "end", "--for", "3s"],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&replayed.stdout),
        String::from_utf8_lossy(&live.stdout)
    );
    let live = json(&live);
    assert!(live["scrapes"].as_u64().unwrap() >= 5, "{live:#}");
    assert!(live["totals"]["requests_per_second"].as_f64().unwrap() > 0.0);

    // The header describes the session; one scrape record per successful scrape.
    let all = records(&file);
    let Record::Header(h) = &all[0] else {
        panic!("no header first: {:?}", all[0]);
    };
    assert_eq!(h.format, record::FORMAT_VERSION);
    assert_eq!(h.llmtop, env!("CARGO_PKG_VERSION"));
    assert_eq!(h.command, "scrape");
    assert_eq!(h.name, "demo");
    assert_eq!(h.dialect, None);
    assert_eq!(h.interval_ns, Some(500_000_000));
    assert_eq!(Some(h.target.as_str()), live["target"].as_str());
    let scrapes = all
        .iter()
        .filter(|r| matches!(r, Record::Scrape(_)))
        .count();
    assert_eq!(scrapes as u64, live["scrapes"].as_u64().unwrap());

    // --at relative to the start, and the other formats.
    let csv = llmtop(
        &[
            "snapshot", "--from", f, "--at", "+1s", "--for", "1s", "--format", "csv",
        ],
        &[],
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(csv.lines().next(), Some(llmtop::front::report::CSV_HEADER));
    assert!(csv.lines().last().unwrap().starts_with("(total),"), "{csv}");
    let out = temp("table.txt");
    llmtop(
        &[
            "snapshot",
            "--from",
            f,
            "--format",
            "table",
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let table = std::fs::read_to_string(&out).unwrap();
    assert!(table.contains("dialect seed"), "{table}");
}

fn session_args(record: &Path) -> llmtop::app::cli::TargetArgs {
    let cli = Cli::try_parse_from([
        "llmtop",
        "--demo",
        "--interval",
        "200ms",
        "--record",
        record.to_str().unwrap(),
    ])
    .unwrap();
    assert!(cli.command.is_none());
    cli.target
}

/// What the live session showed at one instant.
struct Seen {
    time: f64,
    snapshot: serde_json::Value,
    view: llmtop::model::view::DashboardView,
    probe_figures: serde_json::Value,
}

fn snapshot_json(session: &Session, window: f64) -> serde_json::Value {
    let snap = llmtop::front::report::snapshot(
        &session.store,
        &session.prices,
        session.target.url.as_str(),
        window,
        Vec::new(),
    );
    serde_json::to_value(snap).unwrap()
}

fn probe_figures(session: &Session, t: f64) -> serde_json::Value {
    let f =
        llmtop::model::stats::figures(&session.probe_feed.store, &session.prices, None, t, 60.0);
    serde_json::json!({
        "figures": f,
        "spent": session.probe_feed.spent_usd,
        "slots": session.probe_feed.store.len(),
    })
}

fn probe(ok: bool, latency_ms: u64) -> llmtop::io::probe::ProbeResult {
    llmtop::io::probe::ProbeResult {
        model: "gpt-4o-mini".into(),
        ok,
        status: Some(if ok { 200 } else { 503 }),
        ttft: Some(Duration::from_nanos(123_456_789)),
        latency: Duration::from_millis(latency_ms),
        usage: ok.then_some(llmtop::io::probe::Usage {
            input: 120,
            cached_input: 20,
            output: 48,
            reasoning: 0,
        }),
        answer: "fine".into(),
        ..Default::default()
    }
}

/// The library path the dashboard uses: a live session records while it scrapes the demo
/// gateway over loopback; at every scrape it notes the snapshot, the whole dashboard view and the
/// probe source's figures. Replaying to each of those instants — forwards, then backwards,
/// which rebuilds from the start — gives exactly the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reproduces_every_panel_at_every_instant() {
    let file = temp("session.llmrec");
    let mut session = crate::common::session(&session_args(&file)).await.unwrap();
    session.start_sources();
    let (window, columns) = (300.0, 40);
    let mut seen = Vec::new();
    let mut probes = 0;
    while seen.len() < 8 {
        let update = tokio::time::timeout(Duration::from_secs(10), session.updates.recv())
            .await
            .expect("a scrape within 10 s")
            .expect("channel open");
        let Update::Scrape { outcome, .. } = update else {
            continue;
        };
        session.apply_scrape(outcome);
        // Probes land between scrapes, as `p` or --probe-every would put them. Stamped 1 ms
        // after the scrape (not "now"), so the next scrape — stamped when its request starts,
        // 200 ms later — cannot fall before them however slow this thread is.
        let after_scrape = session.store.latest_time().unwrap() + 1e-3;
        if seen.len() == 3 || seen.len() == 5 {
            let result = probe(seen.len() == 3, 400 + seen.len() as u64);
            session.apply_probe_at(after_scrape, &result, record::ProbeKind::Probe);
            probes += 1;
        }
        if seen.len() == 4 {
            session.apply_probe_at(after_scrape, &probe(true, 900), record::ProbeKind::Burst);
            probes += 1;
        }
        let time = session.store.latest_time().unwrap();
        let t = session
            .probe_feed
            .store
            .latest_time()
            .unwrap_or(time)
            .max(time);
        seen.push(Seen {
            time: t,
            snapshot: snapshot_json(&session, window),
            view: compute_view(&session, window, columns, None),
            probe_figures: probe_figures(&session, t),
        });
    }
    assert!(seen.last().unwrap().snapshot["scrapes"].as_u64().unwrap() >= 8);
    session.shutdown().await;

    let all = records(&file);
    let recorded_probes = all.iter().filter(|r| matches!(r, Record::Probe(_))).count();
    assert_eq!(recorded_probes, probes);

    let mut replay = Replay::open(&file, &crate::common::default_config()).unwrap();
    let order: Vec<usize> = (0..seen.len()).chain((0..seen.len()).rev()).collect();
    let mut rewinds = 0;
    for i in order {
        let s = &seen[i];
        let (rewound, _) = replay.seek(s.time).unwrap();
        rewinds += usize::from(rewound);
        let r = &replay.session;
        assert_eq!(
            snapshot_json(r, window),
            s.snapshot,
            "snapshot at instant {i}"
        );
        // Debug text, not ==: the heatmap holds NaN for empty cells, and NaN != NaN. Debug
        // prints every f64 in its shortest round-trip form, so equal text means equal bits.
        assert_eq!(
            format!("{:?}", compute_view(r, window, columns, None)),
            format!("{:?}", s.view),
            "view at instant {i}"
        );
        assert_eq!(
            probe_figures(r, s.time),
            s.probe_figures,
            "probes at instant {i}"
        );
    }
    assert_eq!(rewinds, seen.len() - 1, "every step back rebuilds");
    assert!(
        replay.session.recorder.is_none(),
        "a replay records nothing"
    );

    // The probe panel replays too: the two `p` probes (not the burst request) in its history,
    // newest first; going back to the start empties it again.
    let theme = llmtop::front::tui::theme::Theme::load("mono").unwrap();
    let mut app = llmtop::front::tui::replay::new_app(&replay, window, columns, 1, theme.clone());
    let mut clock = app.replay.unwrap();
    clock.seek(seen.last().unwrap().time);
    app.replay = Some(clock);
    llmtop::front::tui::replay::sync(&mut replay, &mut app).unwrap();
    let history: Vec<(bool, Duration)> = app.history().iter().map(|p| (p.ok, p.latency)).collect();
    assert_eq!(
        history,
        vec![
            (false, Duration::from_millis(405)),
            (true, Duration::from_millis(403))
        ]
    );
    assert_eq!(app.probe_spent_usd, replay.session.probe_feed.spent_usd);
    clock.seek(clock.start);
    app.replay = Some(clock);
    llmtop::front::tui::replay::sync(&mut replay, &mut app).unwrap();
    assert!(app.history().is_empty());

    // Checkpoints: a replay that keeps one before every record (a short spacing on this short
    // recording) seeks back and forth, resuming from the nearest one, and every figure and the
    // probe panel equal a rebuild of a fresh replay from the start to the same instant.
    let mut fast = Replay::open(&file, &crate::common::default_config())
        .unwrap()
        .with_checkpoint_spacing(0.0);
    let mut fast_app =
        llmtop::front::tui::replay::new_app(&fast, window, columns, 1, theme.clone());
    let mut instants = Vec::new();
    for i in [7, 2, 5, 0, 6, 1, 3, 4, 7, 3] {
        instants.push(seen[i].time);
        if i + 1 < seen.len() {
            // Between two scrapes, where a probe may be the last record applied.
            instants.push((seen[i].time + seen[i + 1].time) / 2.0);
        }
    }
    let mut restores = 0;
    for (n, &t) in instants.iter().enumerate() {
        let mut clock = fast_app.replay.unwrap();
        clock.seek(t);
        fast_app.replay = Some(clock);
        // A step back with checkpoints held resumes from one (each lies at or before `t`).
        restores += usize::from(t < fast.applied_to && fast.checkpoint_stats().0 > 0);
        llmtop::front::tui::replay::sync(&mut fast, &mut fast_app).unwrap();
        let mut scratch = Replay::open(&file, &crate::common::default_config()).unwrap();
        let mut scratch_app =
            llmtop::front::tui::replay::new_app(&scratch, window, columns, 1, theme.clone());
        let mut clock = scratch_app.replay.unwrap();
        clock.seek(t);
        scratch_app.replay = Some(clock);
        llmtop::front::tui::replay::sync(&mut scratch, &mut scratch_app).unwrap();
        let (f, s) = (&fast.session, &scratch.session);
        assert_eq!(
            snapshot_json(f, window),
            snapshot_json(s, window),
            "snapshot, seek {n}"
        );
        assert_eq!(
            format!("{:?}", compute_view(f, window, columns, None)),
            format!("{:?}", compute_view(s, window, columns, None)),
            "view, seek {n}"
        );
        assert_eq!(probe_figures(f, t), probe_figures(s, t), "probes, seek {n}");
        let panel = |a: &llmtop::front::tui::app::App| -> Vec<(bool, Duration)> {
            a.history().iter().map(|p| (p.ok, p.latency)).collect()
        };
        assert_eq!(
            panel(&fast_app),
            panel(&scratch_app),
            "probe panel, seek {n}"
        );
        assert_eq!(fast_app.probe_spent_usd, scratch_app.probe_spent_usd);
    }
    // One was taken before each record but the first (header, 8 scrapes, 3 probes); the
    // memory budget thinned them (each holds ~6 MiB of preallocated store rings).
    let (held, bytes) = fast.checkpoint_stats();
    assert!((2..all.len()).contains(&held), "{held} checkpoints");
    assert!(
        bytes <= llmtop::runtime::replay::CHECKPOINT_BUDGET_BYTES,
        "{bytes} bytes"
    );
    assert!(restores > 0);
}

/// Credentials in the URL, the bearer token, extra headers and the API key never reach the file;
/// the header keeps a redacted URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_is_ever_written() {
    let gateway = llmtop::io::demo::spawn(
        "127.0.0.1:0".parse().unwrap(),
        llmtop::io::demo::DemoConfig::default(),
    )
    .await
    .unwrap();
    let base = gateway.base_url();
    let port = base.rsplit(':').next().unwrap().to_string();
    let url =
        format!("http://scraper:canary-url-pass@127.0.0.1:{port}/metrics?token=canary-url-query");
    let file = temp("canary.llmrec");
    let bench_file = temp("canary-bench.llmrec");
    let (f, bf) = (
        file.to_str().unwrap().to_string(),
        bench_file.to_str().unwrap().to_string(),
    );
    let base_for_bench = base.clone();
    let snapshot = tokio::task::spawn_blocking(move || {
        let env = [
            ("CANARY_BEARER", "canary-bearer-token"),
            ("LLMTOP_API_KEY", "sk-canary-api-key"),
        ];
        let snap = llmtop(
            &[
                "snapshot",
                &url,
                "--for",
                "2s",
                "--interval",
                "500ms",
                "--bearer-token-env",
                "CANARY_BEARER",
                "-H",
                "X-Canary: canary-header-value",
                "--record",
                &f,
            ],
            &env,
        );
        llmtop(
            &[
                "bench",
                &base_for_bench,
                "--model",
                "gpt-4o-mini",
                "-n",
                "6",
                "-c",
                "2",
                "-H",
                "X-Canary: canary-header-value",
                "--format",
                "json",
                "--record",
                &bf,
            ],
            &env,
        );
        snap
    })
    .await
    .unwrap();
    gateway.shutdown().await;
    let snapshot = json(&snapshot);
    assert!(snapshot["scrapes"].as_u64().unwrap() >= 3, "{snapshot:#}");

    for path in [&file, &bench_file] {
        let text = decompressed(path);
        for canary in [
            "canary-url-pass",
            "canary-url-query",
            "canary-bearer-token",
            "canary-header-value",
            "sk-canary-api-key",
            "Bearer",
        ] {
            assert!(!text.contains(canary), "{canary} in {}", path.display());
        }
        // Nor in the compressed bytes (a stored, uncompressed block would show it).
        let raw = std::fs::read(path).unwrap();
        assert!(!raw.windows(6).any(|w| w == b"canary"));
    }
    let Record::Header(h) = &records(&file)[0] else {
        panic!("no header");
    };
    assert_eq!(
        h.target,
        format!("http://127.0.0.1:{port}/metrics?token=redacted")
    );
    // The bench file: a header, then one record per request.
    let bench = records(&bench_file);
    let Record::Header(bh) = &bench[0] else {
        panic!("no header");
    };
    assert_eq!(bh.command, "bench");
    assert_eq!(bh.interval_ns, None);
    let results: Vec<_> = bench
        .iter()
        .filter_map(|r| match r {
            Record::Bench(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|b| b.ok && b.usage.is_some()));
}

/// A file cut in the middle of its last chunk (a crash) replays every record before the cut;
/// recording to it again drops the torn chunk and appends after the good ones.
#[test]
fn a_file_cut_mid_chunk_replays_everything_before_it() {
    let whole = temp("whole.llmrec");
    let w = whole.to_str().unwrap();
    llmtop(
        &[
            "snapshot",
            "--demo",
            "--for",
            "2s",
            "--interval",
            "250ms",
            "--record",
            w,
        ],
        &[],
    );
    let original = records(&whole);
    let Record::Header(header) = original[0].clone() else {
        panic!("no header");
    };
    let scrape_times: Vec<f64> = original
        .iter()
        .filter_map(|r| match r {
            Record::Scrape(s) => Some(s.t),
            _ => None,
        })
        .collect();
    assert!(scrape_times.len() >= 6, "{}", scrape_times.len());

    // The same records, one chunk each, so the cut (100 bytes: more than a gzip trailer, less
    // than one compressed scrape) falls inside the last scrape's chunk.
    let chunked = temp("chunked.llmrec");
    {
        let mut rec =
            record::Recorder::create(&chunked, header.clone(), record::Scrub::new()).unwrap();
        for r in &original[1..] {
            rec.write(r);
            rec.flush();
        }
    }
    let len = std::fs::metadata(&chunked).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&chunked)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let mut reader = record::open(&chunked).unwrap();
    let survived: Vec<_> = reader.by_ref().collect();
    assert!(reader.torn.is_some());
    assert_eq!(survived, original[..original.len() - 1].to_vec());

    // Replaying the cut file to its end = replaying the whole one to the second-to-last scrape.
    let before_last = scrape_times[scrape_times.len() - 2];
    let mut cut = Replay::open(&chunked, &crate::common::default_config()).unwrap();
    assert_eq!(cut.overview.end, before_last);
    cut.seek(f64::INFINITY).unwrap();
    let mut full = Replay::open(&whole, &crate::common::default_config()).unwrap();
    full.seek(before_last).unwrap();
    assert_eq!(
        snapshot_json(&cut.session, 2.0),
        snapshot_json(&full.session, 2.0)
    );
    let out = llmtop(
        &[
            "snapshot",
            "--from",
            chunked.to_str().unwrap(),
            "--for",
            "2s",
        ],
        &[],
    );
    let warnings = json(&out)["warnings"].to_string();
    assert!(warnings.contains("recording ends early"), "{warnings}");

    // Appending repairs the tail first: the file reads cleanly, two sessions in it.
    {
        let _rec = record::Recorder::create(&chunked, header, record::Scrub::new()).unwrap();
    }
    let after = records(&chunked);
    assert_eq!(after.len(), original.len() - 1 + 1);
    assert!(matches!(after.last(), Some(Record::Header(_))));
}

/// `snapshot --from` needs no URL; --at without --from is refused.
#[test]
fn snapshot_from_needs_no_target_and_at_needs_from() {
    let parsed = Cli::try_parse_from(["llmtop", "snapshot", "--from", "x.llmrec", "--at", "+90s"]);
    let Ok(Cli {
        command: Some(Sub::Snapshot(s)),
        ..
    }) = parsed
    else {
        panic!("{parsed:?}");
    };
    assert_eq!(s.at.as_deref(), Some("+90s"));
    assert!(Cli::try_parse_from(["llmtop", "snapshot", "gw:4000", "--at", "end"]).is_err());
    let refused = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["snapshot", "--demo", "--at", "end"])
        .env("LLMTOP_LOG_FILE", temp("llmtop.log"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--at needs --from"));
    assert!(Cli::try_parse_from(["llmtop", "snapshot"]).is_err());
    assert!(Cli::try_parse_from(["llmtop", "replay", "x.llmrec", "--speed", "3"]).is_err());
    assert!(Cli::try_parse_from(["llmtop", "replay", "x.llmrec", "--speed", "8"]).is_ok());
}

fn key(code: crossterm::event::KeyCode) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(code, crossterm::event::KeyModifiers::NONE)
}

/// The replay keys through the real binding table and App: Space, `<`/`>`, ←/→, PgUp/PgDn and
/// g/G move the cursor and change the speed as documented; the store follows the cursor; the
/// keys that would send requests are refused with a notice.
#[test]
fn replay_keys_move_the_cursor_and_send_nothing() {
    use crossterm::event::KeyCode;
    use llmtop::front::tui::app::Effect;
    let file = temp("keys.llmrec");
    let f = file.to_str().unwrap();
    llmtop(
        &[
            "snapshot",
            "--demo",
            "--for",
            "2s",
            "--interval",
            "250ms",
            "--record",
            f,
        ],
        &[],
    );
    let mut replay = Replay::open(&file, &crate::common::default_config()).unwrap();
    let (start, end) = (replay.overview.start, replay.overview.end);
    assert!(end - start > 1.5 && end - start < 3.0, "{start} {end}");
    let theme = llmtop::front::tui::theme::Theme::load("mono").unwrap();
    let mut app = llmtop::front::tui::replay::new_app(&replay, 60.0, 40, 1, theme);
    let press = |app: &mut llmtop::front::tui::app::App, code: KeyCode| {
        let action = app.keymap.action_for(&key(code)).expect("bound");
        app.apply(action, 0.0)
    };
    let clock = |app: &llmtop::front::tui::app::App| app.replay.unwrap();
    assert_eq!(clock(&app).cursor, start);
    assert_eq!(clock(&app).speed, 1);
    assert!(clock(&app).playing);

    press(&mut app, KeyCode::Char(' '));
    assert!(!clock(&app).playing);
    press(&mut app, KeyCode::Char(' '));
    assert!(clock(&app).playing);

    for want in [2, 4, 8, 16, 32, 64, 64] {
        press(&mut app, KeyCode::Char('>'));
        assert_eq!(clock(&app).speed, want);
    }
    for want in [32, 16, 8, 4, 2, 1, 1] {
        press(&mut app, KeyCode::Char('<'));
        assert_eq!(clock(&app).speed, want);
    }

    // Playing moves the cursor by wall time × speed and stops at the end.
    let mut c = app.replay.unwrap();
    c.speed = 4;
    c.advance(Duration::from_millis(250));
    assert_eq!(c.cursor, start + 1.0);
    c.advance(Duration::from_secs(10));
    assert_eq!(c.cursor, end);
    assert!(!c.playing);

    // G to the end, g to the start; ←/→ by 10 s and PgUp/PgDn by a window, kept inside.
    assert_eq!(press(&mut app, KeyCode::Char('G')), Effect::Recompute);
    assert_eq!(clock(&app).cursor, end);
    llmtop::front::tui::replay::sync(&mut replay, &mut app).unwrap();
    assert_eq!(replay.session.store.latest_time(), Some(end));
    let all_scrapes = replay.session.store.health.scrapes_ok;

    press(&mut app, KeyCode::Char('g'));
    assert_eq!(clock(&app).cursor, start);
    llmtop::front::tui::replay::sync(&mut replay, &mut app).unwrap();
    assert_eq!(replay.session.store.latest_time(), Some(start));
    assert_eq!(replay.session.store.health.scrapes_ok, 1);

    press(&mut app, KeyCode::Right);
    assert_eq!(
        clock(&app).cursor,
        end,
        "10 s forward is past the 2 s recording"
    );
    llmtop::front::tui::replay::sync(&mut replay, &mut app).unwrap();
    assert_eq!(replay.session.store.health.scrapes_ok, all_scrapes);
    press(&mut app, KeyCode::Left);
    assert_eq!(clock(&app).cursor, start);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(clock(&app).cursor, end);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(clock(&app).cursor, start);

    // p and b send nothing in a replay.
    for code in [KeyCode::Char('p'), KeyCode::Char('b')] {
        assert_eq!(press(&mut app, code), Effect::None);
        let (notice, _) = app.notice.clone().unwrap();
        assert!(notice.contains("replay is read-only"), "{notice}");
    }
}

/// On a live dashboard the replay keys do not move anything; they say where they work.
#[test]
fn replay_keys_on_a_live_dashboard_explain_themselves() {
    use crossterm::event::KeyCode;
    let file = temp("live-keys.llmrec");
    llmtop(
        &[
            "snapshot",
            "--demo",
            "--for",
            "1s",
            "--record",
            file.to_str().unwrap(),
        ],
        &[],
    );
    let replay = Replay::open(&file, &crate::common::default_config()).unwrap();
    let theme = llmtop::front::tui::theme::Theme::load("mono").unwrap();
    // The same App with no time cursor is what the live dashboard runs.
    let mut app = llmtop::front::tui::replay::new_app(&replay, 300.0, 40, 1, theme);
    app.replay = None;
    for code in [
        KeyCode::Char(' '),
        KeyCode::Char('>'),
        KeyCode::Left,
        KeyCode::PageDown,
    ] {
        let action = app.keymap.action_for(&key(code)).unwrap();
        app.apply(action, 0.0);
        let (notice, _) = app.notice.clone().unwrap();
        assert!(notice.contains("llmtop replay FILE"), "{notice}");
        assert!(app.replay.is_none());
    }
    // g keeps its live meaning: the first model of the table.
    app.selected_model = 3;
    app.apply(
        app.keymap.action_for(&key(KeyCode::Char('g'))).unwrap(),
        0.0,
    );
    assert_eq!(app.selected_model, 0);
}

/// The real binary in a pseudo-terminal: `llmtop replay FILE` shows REPLAY with the cursor time
/// and speed; Space pauses, `>` doubles the speed, G goes to the end (the last scrape's count
/// shows), p is refused, q quits with status 0.
#[test]
fn replay_in_a_terminal() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let file = temp("pty.llmrec");
    let f = file.to_str().unwrap();
    let live = llmtop(
        &[
            "snapshot",
            "--demo",
            "--for",
            "2s",
            "--interval",
            "250ms",
            "--record",
            f,
        ],
        &[],
    );
    let scrapes = json(&live)["scrapes"].as_u64().unwrap();

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_llmtop"));
    cmd.args(["replay", f, "--no-mouse"]);
    cmd.env("TERM", "xterm-256color");
    cmd.env("LLMTOP_LOG_FILE", temp("pty.log"));
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(40, 160, 0)));
    let sink = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    let wait_for = |what: &str| {
        let start = Instant::now();
        loop {
            let screen = parser.lock().unwrap().screen().contents();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let screen = wait_for("REPLAY");
    assert!(screen.contains(" UTC ×1 "), "{screen}");
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    };
    send(b" ");
    wait_for("paused");
    send(b">");
    wait_for("×2 ⏸ paused");
    send(b"G");
    wait_for(&format!("scrapes {scrapes} "));
    send(b"p");
    wait_for("replay is read-only");
    send(b"q");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "replay did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

/// A file written by the first format (llmtop snapshot --demo --for 3s --interval 1s --record,
/// kept in tests/fixtures/record) still reads and replays to the figures its live snapshot
/// printed, whatever fields later formats add.
#[test]
fn a_format_1_recording_still_replays_to_its_live_figures() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record/format1-demo.llmrec");
    let all = records(&fixture);
    let Record::Header(h) = &all[0] else {
        panic!("{:?}", all[0]);
    };
    assert_eq!((h.format, h.name.as_str()), (1, "demo"));
    assert_eq!(all.len(), 5, "header and four scrapes");
    let snap = json(&llmtop(
        &[
            "snapshot",
            "--from",
            fixture.to_str().unwrap(),
            "--for",
            "3s",
        ],
        &[],
    ));
    // The live snapshot's own figures, printed when the fixture was recorded.
    assert_eq!(snap["scrapes"], 4);
    assert_eq!(snap["dialect"], "seed");
    assert_eq!(snap["at"], "2026-11-26T14:34:47.378+00:00");
    let deepseek = snap["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "deepseek-chat")
        .unwrap();
    assert_eq!(deepseek["requests_per_second"], 2.5);
    assert_eq!(
        deepseek["tokens_per_second"],
        serde_json::json!({"input": 333.0, "output": 154.5, "total": 487.5})
    );
    assert_eq!(
        deepseek["latency_seconds"],
        serde_json::json!({"p50": 1.5625, "p95": 2.40625, "p99": 2.48125})
    );
}
