//! The real binary in a real pseudo-terminal: `--demo`, wait for data, `?`, `q`; the screen shows
//! the panels and the help, the process exits 0 and the terminal is restored.
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Pty {
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote, for checks on escape sequences themselves.
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(args: &[&str], cols: u16, rows: u16, env: &[(&str, &str)]) -> Self {
        let system = native_pty_system();
        let pair = system
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_llmtop"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        let log = std::env::temp_dir().join(format!("llmtop-e2e-{}.log", std::process::id()));
        cmd.env("LLMTOP_LOG_FILE", log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn llmtop");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (sink, raw_sink) = (parser.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
                raw_sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            parser,
            raw,
            writer,
            child,
            master: pair.master,
        }
    }

    fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
        self.parser
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(rows, cols);
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "llmtop did not exit within {timeout:?}; screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn demo_dashboard_help_and_quit_restore_the_terminal() {
    let mut pty = Pty::spawn(&["--demo"], 120, 40, &[]);
    // Rates need two scrapes; by the sixth the panels carry numbers.
    pty.wait_for("LIVE", Duration::from_secs(20));
    let screen = pty.wait_for("scrapes 6 ", Duration::from_secs(30));
    assert!(
        !screen.contains("ok –"),
        "request rate still unknown after 6 scrapes:\n{screen}"
    );
    assert!(screen.contains("source: tokens × price table"), "{screen}");
    for title in [
        "Request rate",
        "Latency",
        "Tokens by model",
        "Error rate",
        "Cost burn",
        "Probe",
    ] {
        assert!(screen.contains(title), "missing {title}:\n{screen}");
    }
    {
        let parser = pty.parser.lock().unwrap();
        assert!(
            parser.screen().alternate_screen(),
            "the dashboard draws on the alternate screen"
        );
    }
    pty.send(b"?");
    let screen = pty.wait_for("Help — keys", Duration::from_secs(5));
    assert!(screen.contains("quit"), "{screen}");
    pty.send(b"q");
    let status = pty.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    // Give the reader thread a moment to take in the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    let parser = pty.parser.lock().unwrap();
    let screen = parser.screen();
    assert!(
        !screen.alternate_screen(),
        "alternate screen left on after exit"
    );
    assert!(!screen.hide_cursor(), "cursor left hidden after exit");
}

#[test]
fn probe_key_measures_a_real_request_through_the_demo() {
    let mut pty = Pty::spawn(&["--demo", "--model", "gpt-4o-mini"], 120, 40, &[]);
    pty.wait_for("LIVE", Duration::from_secs(20));
    pty.send(b"p");
    // A finished probe prints its status and TTFT in the probe panel.
    let screen = pty.wait_for("✓ 200 gpt-4o-mini", Duration::from_secs(20));
    assert!(screen.contains("TTFT"), "{screen}");
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
}

/// `llmtop bench --tui`: the run's requests count up on the bench line beside the gateway's
/// panels; when it is done, q leaves the dashboard and the summary (with the server's view)
/// is printed on the restored terminal, exit 0. Quitting mid-run keeps a partial summary, 130.
#[test]
fn bench_tui_shows_the_run_live_and_prints_the_summary_after() {
    let args = [
        "bench",
        "--demo",
        "--model",
        "gpt-4o-mini",
        "-n",
        "40",
        "-c",
        "4",
        "--max-tokens",
        "8",
        "--tui",
    ];
    let mut pty = Pty::spawn(&args, 120, 40, &[]);
    let screen = pty.wait_for("bench done gpt-4o-mini ×40 c4", Duration::from_secs(40));
    assert!(screen.contains("40/40 ok 40 failed 0"), "{screen}");
    assert!(
        screen.contains("READ-ONLY"),
        "the probe keys are off during a bench: {screen}"
    );
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(15)).success());
    let screen = pty.screen();
    assert!(
        screen.contains("Requests          40 done, 40 ok, 0 failed"),
        "{screen}"
    );
    assert!(screen.contains("client − server"), "{screen}");

    let mut long = args.to_vec();
    long[5] = "100000";
    let mut pty = Pty::spawn(&long, 120, 40, &[]);
    pty.wait_for("bench gpt-4o-mini ×100000", Duration::from_secs(30));
    // At least 8 answered before quitting: the count moves faster than the screen is polled,
    // so read it rather than wait for one exact number.
    let started = Instant::now();
    loop {
        let screen = pty.screen();
        let ok = screen
            .split("/100000 ok ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if ok >= 8 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "fewer than 8 answered in 30 s:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pty.send(b"q");
    let status = pty.wait_exit(Duration::from_secs(15));
    assert_eq!(status.exit_code(), 130);
    assert!(pty.screen().contains("interrupted"), "{}", pty.screen());
}

/// A gateway with no /metrics at all: `--probe-every` keeps synthetic probes running and the
/// panels show their latency, TTFT and cost.
#[test]
fn probe_every_fills_the_panels_without_metrics() {
    use std::io::BufRead;
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(["demo", "--port", "0", "--no-traffic"])
        .env(
            "LLMTOP_LOG_FILE",
            std::env::temp_dir().join("llmtop-e2e-demo.log"),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the demo gateway");
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(demo.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    // Keep draining the demo's stdout so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = first.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    // /no-metrics answers 404: the scrape fails, the probes carry the dashboard.
    let url = format!("{base}/no-metrics");
    let mut pty = Pty::spawn(
        &[
            &url,
            "--api-base",
            &base,
            "--probe-every",
            "300ms",
            "--model",
            "gpt-4o-mini",
            "--interval",
            "1s",
        ],
        120,
        40,
        &[],
    );
    let screen = pty.wait_for("panels show probe results", Duration::from_secs(20));
    assert!(screen.contains("HTTP 404"), "{screen}");
    // After a few probes the latency quantiles and the cost are numbers, not dashes.
    let start = Instant::now();
    let screen = loop {
        let s = pty.screen();
        if s.contains("source: tokens × price table") && !s.contains("p50         –") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "panels stayed empty:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(screen.contains("dialect probe"), "{screen}");
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
    let _ = demo.kill();
    let _ = demo.wait();
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut pty = Pty::spawn(&["--demo"], 100, 30, &[]);
    pty.wait_for("LIVE", Duration::from_secs(20));
    let pid = pty.child.process_id().expect("child pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = pty.wait_exit(Duration::from_secs(10));
    assert!(exit.success(), "SIGTERM is a clean exit: {exit:?}");
    std::thread::sleep(Duration::from_millis(200));
    let parser = pty.parser.lock().unwrap();
    assert!(
        !parser.screen().alternate_screen(),
        "alternate screen left on after SIGTERM"
    );
    assert!(
        !parser.screen().hide_cursor(),
        "cursor left hidden after SIGTERM"
    );
    assert_eq!(
        parser.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "mouse reporting left on after SIGTERM"
    );
}

#[test]
fn f_freezes_the_display_while_collection_goes_on() {
    let mut pty = Pty::spawn(&["--demo"], 120, 40, &[]);
    pty.wait_for("scrapes 2 ", Duration::from_secs(20));
    pty.send(b"f");
    let frozen = pty.wait_for("FROZEN", Duration::from_secs(5));
    let scrapes = |s: &str| -> u64 {
        let i = s.find("scrapes ").expect("status line") + 8;
        s[i..].split_whitespace().next().unwrap().parse().unwrap()
    };
    let at_freeze = scrapes(&frozen);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        scrapes(&pty.screen()),
        at_freeze,
        "the frozen display must not move"
    );
    pty.send(b"f");
    // Unfrozen, the display catches up with what was collected meanwhile.
    let start = Instant::now();
    loop {
        let s = pty.screen();
        if !s.contains("FROZEN") && scrapes(&s) >= at_freeze + 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "did not catch up:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn resizing_down_to_20x5_and_back_never_breaks() {
    let mut pty = Pty::spawn(&["--demo"], 200, 60, &[]);
    pty.wait_for("LIVE", Duration::from_secs(20));
    for (cols, rows) in [(120, 40), (80, 24), (40, 12), (20, 5)] {
        pty.resize(cols, rows);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            pty.child.try_wait().unwrap().is_none(),
            "exited at {cols}x{rows}"
        );
    }
    pty.wait_for("too small", Duration::from_secs(5));
    pty.resize(200, 60);
    let screen = pty.wait_for("Request rate", Duration::from_secs(5));
    assert!(screen.contains("Cost burn"), "{screen}");
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
}

/// Colour SGR parameters (30–38, 40–48, 90–97, 100–107) in everything the program wrote; 39 and
/// 49, "default colour", are the absence of colour and not counted.
fn colour_parameters(raw: &[u8]) -> Vec<u32> {
    let text = String::from_utf8_lossy(raw);
    let mut found = Vec::new();
    let mut rest = &text[..];
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('m') {
            found.extend(
                rest[..end]
                    .split(';')
                    .filter_map(|p| p.parse::<u32>().ok())
                    .filter(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107)),
            );
        }
    }
    found
}

fn run_briefly(env: &[(&str, &str)]) -> Vec<u8> {
    let mut pty = Pty::spawn(&["--demo"], 120, 40, env);
    pty.wait_for("scrapes 2 ", Duration::from_secs(20));
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
    pty.raw.lock().unwrap().clone()
}

#[test]
fn no_color_emits_no_colour_escapes() {
    // The check itself must see colour where there is some.
    assert!(
        !colour_parameters(&run_briefly(&[])).is_empty(),
        "the default theme draws colour"
    );
    let params = colour_parameters(&run_briefly(&[("NO_COLOR", "1")]));
    assert!(
        params.is_empty(),
        "colour SGR parameters under NO_COLOR: {params:?}"
    );
}

#[test]
fn the_mouse_is_captured_while_running_and_released_on_exit() {
    let mut pty = Pty::spawn(&["--demo"], 120, 40, &[]);
    pty.wait_for("LIVE", Duration::from_secs(20));
    {
        let parser = pty.parser.lock().unwrap();
        // Clicks and the wheel only: no motion reports to flood a slow link.
        assert_eq!(
            parser.screen().mouse_protocol_mode(),
            vt100::MouseProtocolMode::PressRelease
        );
        assert_eq!(
            parser.screen().mouse_protocol_encoding(),
            vt100::MouseProtocolEncoding::Sgr
        );
    }
    // Wheel up (SGR button 64) over the request-rate chart, cell 20,6: the window halves.
    pty.send(b"\x1b[<64;20;6M");
    pty.wait_for("window 150s", Duration::from_secs(5));
    // A click on the latency panel focuses it; Enter then shows it full screen.
    pty.send(b"\x1b[<0;90;6M\x1b[<0;90;6m");
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"\r");
    let start = Instant::now();
    while pty.screen().contains("Request rate") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the clicked latency panel did not expand:\n{}",
            pty.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pty.screen().contains("┌ Latency"), "{}", pty.screen());
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        pty.parser.lock().unwrap().screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "mouse reporting left on after q"
    );
}

#[test]
fn no_mouse_leaves_selection_to_the_terminal() {
    let mut pty = Pty::spawn(&["--demo"], 120, 40, &[("LLMTOP_NO_MOUSE", "true")]);
    pty.wait_for("LIVE", Duration::from_secs(20));
    assert_eq!(
        pty.parser.lock().unwrap().screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None
    );
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
}

/// `llmtop` with no argument on a machine with two gateways: the picker lists both with their
/// dialect, ↓ and Enter attach to the second, and the dashboard runs on it.
#[test]
fn no_argument_finds_the_gateways_and_the_picker_attaches() {
    let (_rt_a, a) = crate::common::demo_forever(llmtop::io::demo::DemoConfig::default());
    let (_rt_b, b) = crate::common::demo_forever(llmtop::io::demo::DemoConfig::default());
    let port = |url: &str| {
        url.rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string()
    };
    let ports = format!("{},{}", port(&a), port(&b));
    let home = crate::common::unique_dir("picker-config");
    let home_str = home.to_string_lossy().to_string();
    let mut pty = Pty::spawn(
        &["--discover-ports", &ports, "--no-listening"],
        120,
        30,
        &[("XDG_CONFIG_HOME", &home_str)],
    );
    let screen = pty.wait_for("pick one", Duration::from_secs(20));
    assert!(screen.contains("found 2 LLM servers"), "{screen}");
    assert!(screen.contains("seed metrics"), "{screen}");
    let second = format!("http://127.0.0.1:{}/metrics", port(&b));
    assert!(screen.contains(&second), "{screen}");
    pty.send(b"\x1b[B");
    // `s` keeps the highlighted one as a named target of the config file.
    pty.send(b"s");
    let name = format!("seed-{}", port(&b));
    pty.wait_for(
        &format!("saved as [[target]] {name}"),
        Duration::from_secs(10),
    );
    let saved = std::fs::read_to_string(home.join("llmtop").join("config.toml")).unwrap();
    assert!(saved.contains(&format!("name = \"{name}\"")), "{saved}");
    assert!(saved.contains(&format!("url = \"{second}\"")), "{saved}");
    pty.send(b"\r");
    let screen = pty.wait_for("LIVE", Duration::from_secs(20));
    assert!(
        screen.contains(&port(&b)),
        "attached to the second: {screen}"
    );
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());
}

/// A rule that the demo's traffic breaks within seconds: the status line names it once it has
/// held for its `for`, `--bell` rings BEL once, `a` lists it as firing with the quiet rule OK,
/// the recording keeps the change, and `llmtop replay` shows the recorded state (not the rules
/// of the config it runs with).
#[test]
fn an_alert_fires_on_screen_rings_the_bell_and_replays_from_the_recording() {
    let dir = crate::common::unique_dir("alerts-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        r#"alert_defaults = false

[[alert]]
name = "traffic flows"
expr = "requests_per_second > 1"
for = "2s"
severity = "critical"

[[alert]]
name = "all failing"
expr = "error_rate > 99%"
"#,
    )
    .unwrap();
    let record = dir.join("alerts.llmrec");
    let (config_arg, record_arg) = (
        config.to_str().unwrap().to_string(),
        record.to_str().unwrap().to_string(),
    );
    let mut pty = Pty::spawn(
        &[
            "--demo",
            "--config",
            &config_arg,
            "--bell",
            "--record",
            &record_arg,
        ],
        120,
        40,
        &[],
    );
    let screen = pty.wait_for(" ALERT traffic flows (a) ", Duration::from_secs(30));
    assert!(screen.contains("LIVE"), "{screen}");
    std::thread::sleep(Duration::from_millis(300));
    {
        let raw = pty.raw.lock().unwrap();
        let bells = raw.iter().filter(|b| **b == 0x07).count();
        assert!(
            !raw.windows(2).any(|w| w == b"\x1b]"),
            "no OSC sequence, so every BEL is the bell"
        );
        assert_eq!(bells, 1, "one rule started firing: one bell");
    }
    pty.send(b"a");
    let screen = pty.wait_for("Alerts: 1 firing", Duration::from_secs(5));
    let line = |needle: &str| {
        screen
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle}:\n{screen}"))
            .to_string()
    };
    let fired = line("requests_per_second > 1");
    assert!(
        fired.contains("FIRING") && fired.contains("since"),
        "{fired}"
    );
    assert!(line("error_rate > 99%").contains("OK"), "{screen}");
    pty.send(b"\x1b");
    // Apart, or the terminal reads ESC q as Alt-q.
    std::thread::sleep(Duration::from_millis(200));
    pty.send(b"q");
    assert!(pty.wait_exit(Duration::from_secs(10)).success());

    let changes: Vec<_> = llmtop::io::record::open(&record)
        .unwrap()
        .filter_map(|r| match r {
            llmtop::io::record::Record::Alert(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].name, "traffic flows");
    assert!(changes[0].firing);
    assert!(changes[0].value.is_some_and(|v| v > 1.0));

    // The replay runs with the built-in rules only: the board is the recording's all the same.
    let plain = dir.join("plain.toml");
    std::fs::write(&plain, "").unwrap();
    let mut replay = Pty::spawn(
        &["replay", &record_arg, "--config", plain.to_str().unwrap()],
        120,
        40,
        &[],
    );
    replay.wait_for("REPLAY", Duration::from_secs(10));
    replay.send(b"G");
    replay.wait_for(" ALERT traffic flows (a) ", Duration::from_secs(10));
    replay.send(b"a");
    let screen = replay.wait_for("Alerts as recorded: 1 firing", Duration::from_secs(5));
    assert!(screen.contains("requests_per_second > 1"), "{screen}");
    replay.send(b"\x1b");
    std::thread::sleep(Duration::from_millis(200));
    replay.send(b"q");
    assert!(replay.wait_exit(Duration::from_secs(10)).success());
    let _ = std::fs::remove_dir_all(&dir);
}
