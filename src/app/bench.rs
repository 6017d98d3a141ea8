//! `llmtop bench`: turns the command line into a load plan for [`crate::io::loadgen`], runs it
//! and prints the summary in the format asked for.
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use crate::app::cli::{BenchArgs, BenchFormat, SweepOver};
use crate::base::credentials;
use crate::io::config::Config;
use crate::io::loadgen::schedule::RateShape;
use crate::io::loadgen::stats::{self, RunInfo};
use crate::io::loadgen::sweep::{self, Slo};
use crate::io::loadgen::{
    ArrivalPlan, DEFAULT_REQUESTS, EXIT_INTERRUPTED, Interrupt, Plan, execute_recorded,
    load_prompts, output, progress,
};
use crate::io::probe::{ProbeRequest, RetryPolicy};

/// Everything a run's steps share: what to send, where, with which client, prices and file.
struct Bench<'a> {
    args: &'a BenchArgs,
    template: ProbeRequest,
    prompts: Vec<crate::io::loadgen::workload::Prompt>,
    api_base: url::Url,
    prices: crate::base::pricing::PriceTable,
    client: reqwest::Client,
    record: Option<crate::io::record::Recorder>,
    /// The gateway's `/metrics`, scraped beside each step (`--metrics`).
    server: Option<crate::app::bench_server::ServerWatch>,
    /// `--tui`: every result also goes to the dashboard.
    tap: Option<tokio::sync::mpsc::UnboundedSender<crate::io::probe::ProbeResult>>,
}

/// One step's result: its summary, and whether Ctrl-C cut it short.
struct StepRun {
    summary: serde_json::Value,
    interrupted: bool,
}

impl Bench<'_> {
    /// A sweep or a rate list: several steps, each [`STEP_DURATION`] unless `-n`/`--duration`.
    fn multi_step(&self) -> bool {
        self.args.sweep || self.args.rate.len() > 1
    }

    /// `-n` (with its default), or none with `--duration`; a sweep's steps default to 10 s.
    fn requests(&self) -> Option<u64> {
        match (self.args.requests, self.args.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) if self.multi_step() => None,
            (None, None) => Some(DEFAULT_REQUESTS),
        }
    }

    fn duration(&self) -> Option<std::time::Duration> {
        match (self.args.requests, self.args.duration) {
            (None, None) if self.multi_step() => Some(STEP_DURATION),
            (_, d) => d,
        }
    }

    /// Runs one step: closed loop when `arrivals` is `None`.
    async fn step(&mut self, arrivals: Option<ArrivalPlan>, interrupt: Interrupt) -> StepRun {
        let concurrency = self.args.concurrency;
        self.step_at(arrivals, concurrency, interrupt).await
    }

    /// [`Bench::step`] with `concurrency` requests at most in flight instead of `-c`.
    async fn step_at(
        &mut self,
        arrivals: Option<ArrivalPlan>,
        concurrency: usize,
        interrupt: Interrupt,
    ) -> StepRun {
        let args = self.args;
        let requests = self.requests();
        let duration = self.duration();
        let plan = Plan {
            template: self.template.clone(),
            prompts: self.prompts.clone(),
            requests,
            concurrency,
            arrivals,
            warmup: args.warmup,
            duration,
            seed: args.seed,
            slo: args.goodput,
            fast_http: true,
            threads: args.threads,
            tap: self.tap.clone(),
        };
        let rate = arrivals.and_then(|a| match a.shape {
            RateShape::Constant(r) => Some(r),
            RateShape::Ramp { .. } => None,
        });
        let info = RunInfo {
            model: args.model.clone(),
            target: self.api_base.origin().ascii_serialization(),
            stream: args.stream,
            concurrency,
            rate,
            requests_target: requests,
            duration_limit: duration,
            max_tokens: args.max_tokens,
            prompts: plan.prompts.len(),
            seed: args.seed,
            slo: args.goodput,
            arrivals,
            warmup: args.warmup,
        };
        // The dashboard owns the terminal under --tui: no progress line on stderr.
        let progress = (!args.tui)
            .then(|| progress::Progress::new(std::io::stderr().is_terminal(), requests, duration));
        let baseline = self.server.as_ref().and_then(|w| w.baseline());
        let run = execute_recorded(
            &self.client,
            plan,
            &self.prices,
            interrupt,
            progress,
            self.record.as_mut(),
        );
        let outcome = match self.server.as_mut() {
            Some(watch) => tokio::select! {
                outcome = run => outcome,
                () = watch.follow() => unreachable!("follow never returns"),
            },
            None => run.await,
        };
        let mut summary = stats::summary_json(
            &info,
            &outcome.recorder,
            outcome.elapsed,
            outcome.interrupted,
        );
        let lengths = |l: Option<crate::io::loadgen::workload::Lengths>| {
            l.map(|l| serde_json::json!({"mean": l.mean, "stddev": l.stddev}))
        };
        summary["lengths"] = serde_json::json!({
            "input_tokens": lengths(args.input_tokens),
            "output_tokens": lengths(args.output_tokens),
            "ignore_eos": args.ignore_eos,
        });
        summary["server"] = match self.server.as_mut() {
            Some(watch) => {
                watch
                    .report(
                        baseline,
                        crate::base::clock::unix_now(),
                        &args.model,
                        outcome.elapsed.as_secs_f64(),
                        &summary,
                    )
                    .await
            }
            None => serde_json::Value::Null,
        };
        StepRun {
            summary,
            interrupted: outcome.interrupted,
        }
    }
}

/// How long each step of a sweep or a rate list runs when neither `-n` nor `--duration` is given.
pub const STEP_DURATION: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the command; prints the summary on stdout. After Ctrl-C the process exits with 130.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if !args.compare.is_empty() {
        return compare(args);
    }
    let config = Config::load(args.config.as_deref())?;
    let prices = config.price_table();
    let (api_key, key_source) =
        credentials::resolve_api_key(args.api_key_file.as_deref(), args.api_key_env.as_deref())?;
    let prompts: Vec<crate::io::loadgen::workload::Prompt> = match &args.prompts {
        Some(path) => load_prompts(path)?.into_iter().map(Into::into).collect(),
        None => vec![args.prompt.clone().into()],
    };
    // Drawn lengths: every prompt (from the file, or synthetic) gets its own limit.
    let prompts = match (args.input_tokens, args.output_tokens) {
        (None, None) => prompts,
        (input, output) => {
            let seed = args.seed.unwrap_or(0x11_70_b0);
            let count = args
                .requests
                .map_or(crate::io::loadgen::workload::MAX_DISTINCT, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                })
                .max(prompts.len());
            let drawn =
                crate::io::loadgen::workload::synthetic(&args.prompt, input, output, count, seed);
            if input.is_some() || args.prompts.is_none() {
                drawn
            } else {
                // A prompts file keeps every text; the texts and the drawn limits go round
                // together, as many as the longer of the two.
                (0..drawn.len().max(prompts.len()))
                    .map(|i| crate::io::loadgen::workload::Prompt {
                        text: prompts[i % prompts.len()].text.clone(),
                        max_tokens: drawn[i % drawn.len()].max_tokens,
                    })
                    .collect()
            }
        }
    };
    if let Some(slo) = &args.slo
        && slo.needs_stream()
        && !args.stream
    {
        anyhow::bail!(
            "--slo names TTFT, TPOT or ITL, which only a streamed run measures: add --stream"
        );
    }
    let headers = credentials::header_pairs(&args.headers)?;
    let gateway = crate::io::demo::spawn_quiet(args.demo).await?;
    let api_base = match &gateway {
        Some(g) => url::Url::parse(&g.base_url())?,
        None => crate::app::probe::resolve_api_base(args.url.as_deref(), args.api_base.as_deref())?,
    };
    // Whatever authenticates the requests must never reach a --record file.
    let mut scrub = crate::io::record::Scrub::new();
    if let Some(key) = &api_key {
        scrub.add(key.expose());
    }
    for (_, value) in &headers {
        scrub.add(value);
    }
    let mut template = ProbeRequest::new(api_base.clone(), &args.model, "")
        .with_api_key(api_key)
        .with_stream(args.stream)
        .with_max_tokens(Some(args.max_tokens))
        .with_ignore_eos(args.ignore_eos)
        .with_timeout(args.timeout)
        .with_retry(RetryPolicy {
            max_retries: args.retries,
            ..RetryPolicy::default()
        });
    for (name, value) in headers {
        template = template.with_header(name, value);
    }
    let client = crate::base::net::http_client(&args.tls.settings())?;
    let interrupt = Interrupt::install()?;
    let record = match &args.record {
        Some(path) => Some(open_record(path, &api_base, scrub)?),
        None => None,
    };
    // Under --tui the dashboard scrapes `/metrics` and hands its scrapes to the server view.
    let server = if args.tui {
        None
    } else {
        use crate::app::bench_server::{self, MetricsChoice};
        let choice = MetricsChoice::from_flag(args.metrics.as_deref(), &api_base)?;
        let same_origin = choice
            .url()
            .is_some_and(|u| u.origin() == api_base.origin());
        let spec = bench_server::spec(&args.headers, &key_source, same_origin, args.tls.settings());
        bench_server::start(
            choice,
            spec,
            client.clone(),
            Arc::new(config.all_dialects()),
        )
        .await?
    };
    let mut bench = Bench {
        args,
        template,
        prompts,
        api_base,
        prices,
        client,
        record,
        server,
        tap: None,
    };
    if args.tui {
        anyhow::ensure!(
            args.rate.len() <= 1,
            "--tui shows one run: give one --rate (or a ramp), not a list"
        );
        let (text, interrupted) = live(&mut bench, &config, key_source).await?;
        drop(bench);
        if let Some(gateway) = gateway {
            gateway.shutdown().await;
        }
        println!("{text}");
        if interrupted {
            let _ = std::io::stdout().flush();
            std::process::exit(EXIT_INTERRUPTED);
        }
        return Ok(());
    }
    let (text, interrupted) = if args.sweep && args.sweep_over == SweepOver::Concurrency {
        sweep_concurrency(&mut bench, &interrupt).await?
    } else if args.sweep {
        sweep(&mut bench, &interrupt).await?
    } else if args.rate.len() > 1 {
        rate_steps(&mut bench, &interrupt).await?
    } else {
        let arrivals = single_arrivals(args);
        let run = bench.step(arrivals, interrupt.clone()).await;
        (summary_text(args.format, &run.summary)?, run.interrupted)
    };
    // Closes the last chunk before the summary is printed.
    drop(bench);
    if let Some(gateway) = gateway {
        gateway.shutdown().await;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    if interrupted {
        let _ = std::io::stderr().flush();
        std::process::exit(EXIT_INTERRUPTED);
    }
    Ok(())
}

/// Exit status of `--compare --fail-on-regression` when a run regressed.
pub const EXIT_REGRESSION: i32 = 1;

/// `--compare a.json b.json …`: reads the summaries, prints the table; with
/// `--fail-on-regression`, names each regression on stderr and exits 1.
fn compare(args: &BenchArgs) -> anyhow::Result<()> {
    use crate::io::loadgen::compare_runs;
    let mut runs = Vec::new();
    let mut names = Vec::new();
    for path in &args.compare {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let run: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a bench --format json summary: {e}",
                path.display()
            )
        })?;
        anyhow::ensure!(
            run.get("steps").is_none(),
            "{} holds several steps (a --rate list or --sweep): compare single runs",
            path.display()
        );
        anyhow::ensure!(
            run.get("requests_done").is_some(),
            "{} is not a bench --format json summary (no requests_done)",
            path.display()
        );
        runs.push(run);
        names.push(path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().to_string(),
        ));
    }
    let rows = compare_runs::compare(&runs);
    let text = match args.format {
        BenchFormat::Json => serde_json::to_string_pretty(&compare_runs::to_json(&rows, &names))?,
        BenchFormat::Csv => compare_runs::csv(&rows, &names),
        BenchFormat::Text => compare_runs::table(&rows, &names),
    };
    {
        let mut out = std::io::stdout().lock();
        write!(out, "{text}")?;
        if !text.ends_with('\n') {
            writeln!(out)?;
        }
        out.flush()?;
    }
    if let Some(threshold) = args.fail_on_regression {
        let found = compare_runs::regressions(&rows, &names, threshold);
        if !found.is_empty() {
            for line in &found {
                eprintln!("regression: {line}");
            }
            std::process::exit(EXIT_REGRESSION);
        }
    }
    Ok(())
}

/// `--tui`: the dashboard on the target's `/metrics` (or `--metrics`), with the run's results
/// on its bench line, while the run goes; the summary once the user quits.
async fn live(
    bench: &mut Bench<'_>,
    config: &Config,
    key_source: crate::base::credentials::KeySource,
) -> anyhow::Result<(String, bool)> {
    use crate::front::tui::{self, app::ProbeSettings, live};
    use crate::runtime::update::Update;
    let args = bench.args;
    let mut ui: tui::UiOptions = (&args.ui).into();
    ui.alert_rules = crate::app::check::dashboard_rules(config);
    let theme = tui::choose_theme(&ui, config.theme.as_deref())?;
    // `--metrics none` drops the summary's server section; the dashboard still needs a source.
    let metrics = crate::app::bench_server::MetricsChoice::from_flag(
        args.metrics.as_deref(),
        &bench.api_base,
    )?
    .url()
    .cloned()
    .unwrap_or_else(|| crate::app::bench_server::default_url(&bench.api_base));
    let same_origin = metrics.origin() == bench.api_base.origin();
    let mut spec = crate::app::bench_server::spec(
        &args.headers,
        &key_source,
        same_origin,
        args.tls.settings(),
    );
    spec.url = Some(metrics.to_string());
    spec.api_base = Some(bench.api_base.to_string());
    spec.model = Some(args.model.clone());
    spec.history = std::time::Duration::from_secs(3600);
    spec.max_series = 10_000;
    spec.max_models = 50;
    let mut session = crate::runtime::session::Session::new(&spec, config).await?;
    // The summary's server view reads the dashboard's own scrapes: one scraper, not two.
    let choice = crate::app::bench_server::MetricsChoice::from_flag(
        args.metrics.as_deref(),
        &bench.api_base,
    )?;
    let scrapes = match choice {
        crate::app::bench_server::MetricsChoice::Off => None,
        _ => {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            session.scrape_tap = Some(tx);
            Some(rx)
        }
    };
    let dialects = Arc::new(config.all_dialects());
    let updates = session.updates_tx.clone();
    let (tap, mut results) = tokio::sync::mpsc::unbounded_channel();
    bench.tap = Some(tap);
    let forward = {
        let updates = updates.clone();
        tokio::spawn(async move {
            while let Some(result) = results.recv().await {
                if updates
                    .send(Update::BurstDone(Box::new(result)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    let options = live::TuiOptions {
        theme,
        settings: ProbeSettings {
            model: Some(args.model.clone()),
            // The bench is the load: the probe and burst keys stay off meanwhile.
            read_only: true,
            ..ProbeSettings::default()
        },
        probe_every: None,
        timeout: args.timeout,
        max_tokens: args.max_tokens,
        max_completion_tokens: false,
        temperature: None,
        limiter: crate::io::probe::limit::ProbeLimiter::new(
            crate::io::probe::limit::ProbeLimits::new(None, Some(1)),
        ),
        bench: Some(live::BenchLine {
            model: args.model.clone(),
            requests: bench
                .requests()
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            concurrency: args.concurrency,
        }),
    };
    let (stop, interrupt) = Interrupt::manual();
    let arrivals = single_arrivals(args);
    let run = async {
        if let Some(scrapes) = scrapes {
            bench.server = crate::app::bench_server::fed(choice, scrapes, dialects).await;
        }
        let run = bench.step(arrivals, interrupt).await;
        let _ = updates.send(Update::BenchFinished).await;
        run
    };
    let dashboard = async {
        let shown = live::run(session, &ui, options).await;
        // Quitting the dashboard ends the run; a finished run ignores it.
        stop.send_replace(true);
        shown
    };
    let (run, shown) = tokio::join!(run, dashboard);
    bench.tap = None;
    forward.abort();
    shown?;
    Ok((summary_text(args.format, &run.summary)?, run.interrupted))
}

/// A single run's summary in the format asked for.
fn summary_text(format: BenchFormat, summary: &serde_json::Value) -> anyhow::Result<String> {
    Ok(match format {
        BenchFormat::Json => serde_json::to_string_pretty(summary)?,
        BenchFormat::Csv => output::csv(summary),
        BenchFormat::Text => output::text(summary),
    })
}

/// An open loop at a constant rate, with the run's burstiness.
fn at_rate(args: &BenchArgs, rate: f64) -> ArrivalPlan {
    ArrivalPlan {
        shape: RateShape::Constant(rate),
        burstiness: args.burstiness,
    }
}

/// The open loop of a single run: `--ramp-up`, one `--rate`, or none (closed loop).
fn single_arrivals(args: &BenchArgs) -> Option<ArrivalPlan> {
    let shape = match (
        args.ramp_up,
        args.ramp_from,
        args.ramp_to,
        args.rate.first(),
    ) {
        (Some(kind), Some(from), Some(to), _) => RateShape::Ramp { kind, from, to },
        (_, _, _, Some(&r)) => RateShape::Constant(r),
        _ => return None,
    };
    Some(ArrivalPlan {
        shape,
        burstiness: args.burstiness,
    })
}

/// A step as the JSON output lists it.
fn step_json(
    step: usize,
    phase: &str,
    asked: Option<f64>,
    slo: Option<&Slo>,
    summary: serde_json::Value,
) -> serde_json::Value {
    let checks = slo.map(|s| s.check(&summary));
    let pass = checks.as_ref().map(|c| c.iter().all(|c| c.pass));
    serde_json::json!({
        "step": step,
        "phase": phase,
        "asked_rate": asked,
        "pass": pass,
        "checks": checks.map(|c| c.iter().map(|c| c.to_json()).collect::<Vec<_>>()),
        "saturated": asked.is_some_and(|r| sweep::saturated(r, &summary)),
        "summary": summary,
    })
}

/// Prints a finished step's line: on stdout for the text format (it is the report), on stderr
/// otherwise (stdout is one JSON or CSV document).
fn announce(args: &BenchArgs, step: &serde_json::Value) {
    let line = output::step_line(step);
    if args.format == BenchFormat::Text {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    } else {
        eprintln!("{line}");
    }
}

/// The whole report of a multi-step run in the format asked for.
fn steps_report(
    args: &BenchArgs,
    steps: &[serde_json::Value],
    sweep: Option<serde_json::Value>,
) -> anyhow::Result<String> {
    Ok(match args.format {
        BenchFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "schema_version": stats::SCHEMA_VERSION,
            "slo": args.slo.as_ref().map(|s| s.rules.iter().map(|r| r.text.clone()).collect::<Vec<_>>()),
            "sweep": sweep,
            "steps": steps,
        }))?,
        BenchFormat::Csv => output::steps_csv(steps),
        BenchFormat::Text => {
            // A concurrency sweep charts its steps by requests in flight, a rate sweep by rate.
            let by = if steps.iter().any(|s| s["asked_concurrency"].is_u64()) {
                "asked_concurrency"
            } else {
                "asked_rate"
            };
            let open: Vec<(f64, serde_json::Value)> = steps
                .iter()
                .filter_map(|s| Some((s[by].as_f64()?, s["summary"].clone())))
                .collect();
            let (label, decimals) = if by == "asked_concurrency" {
                ("in flight", 0)
            } else {
                ("rate/s", 1)
            };
            let mut text = format!("\n{}", sweep::chart(&open, label, decimals, 32));
            if let Some(answer) = &sweep {
                text.push('\n');
                text.push_str(&sweep::answer_line(answer));
            }
            text
        }
    })
}

/// `--rate 5,10,20`: one open-loop step per rate, in the order given.
async fn rate_steps(
    bench: &mut Bench<'_>,
    interrupt: &Interrupt,
) -> anyhow::Result<(String, bool)> {
    let args = bench.args;
    let mut steps = Vec::new();
    let mut interrupted = false;
    for (i, &rate) in args.rate.iter().enumerate() {
        let run = bench
            .step(Some(at_rate(args, rate)), interrupt.clone())
            .await;
        let step = step_json(i + 1, "rate", Some(rate), args.slo.as_ref(), run.summary);
        announce(args, &step);
        steps.push(step);
        if run.interrupted {
            interrupted = true;
            break;
        }
    }
    Ok((steps_report(args, &steps, None)?, interrupted))
}

/// `--sweep`: the throughput probe, then the bounded search of [`sweep::Search`].
async fn sweep(bench: &mut Bench<'_>, interrupt: &Interrupt) -> anyhow::Result<(String, bool)> {
    let args = bench.args;
    let Some(slo) = args.slo.clone() else {
        anyhow::bail!("--sweep needs --slo");
    };
    let mut steps = Vec::new();
    let probe = bench.step(None, interrupt.clone()).await;
    let probe_rps = probe.summary["requests_per_second"].as_f64().unwrap_or(0.0);
    let step = step_json(0, "throughput", None, Some(&slo), probe.summary);
    announce(args, &step);
    steps.push(step);
    let mut search = sweep::Search::new(
        args.sweep_tolerance,
        usize::try_from(args.sweep_steps).unwrap_or(8),
    );
    let mut interrupted = probe.interrupted;
    while !interrupted && let Some(rate) = search.next(probe_rps) {
        let run = bench
            .step(Some(at_rate(args, rate)), interrupt.clone())
            .await;
        interrupted = run.interrupted;
        let step = step_json(steps.len(), "search", Some(rate), Some(&slo), run.summary);
        announce(args, &step);
        // A step cut short by Ctrl-C says nothing about the rate.
        if !interrupted {
            search.record(rate, step["pass"] == true);
        }
        steps.push(step);
    }
    let answer = search.answer_json(probe_rps);
    Ok((steps_report(args, &steps, Some(answer))?, interrupted))
}

/// `--sweep --sweep-over concurrency`: closed-loop steps from `-c` down, halving until one
/// meets the SLO, then bisecting over whole numbers of requests in flight.
async fn sweep_concurrency(
    bench: &mut Bench<'_>,
    interrupt: &Interrupt,
) -> anyhow::Result<(String, bool)> {
    let args = bench.args;
    let Some(slo) = args.slo.clone() else {
        anyhow::bail!("--sweep needs --slo");
    };
    let most = args.concurrency;
    let mut search = sweep::Search::new(
        args.sweep_tolerance,
        usize::try_from(args.sweep_steps).unwrap_or(8),
    )
    .over_whole_numbers();
    let mut steps: Vec<serde_json::Value> = Vec::new();
    let mut interrupted = false;
    while !interrupted && let Some(c) = search.next(most as f64) {
        let concurrency = c as usize;
        let run = bench.step_at(None, concurrency, interrupt.clone()).await;
        interrupted = run.interrupted;
        let mut step = step_json(steps.len() + 1, "search", None, Some(&slo), run.summary);
        step["asked_concurrency"] = serde_json::json!(concurrency);
        announce(args, &step);
        if !interrupted {
            search.record(c, step["pass"] == true);
        }
        steps.push(step);
    }
    let answer = search.concurrency_answer_json(most);
    Ok((steps_report(args, &steps, Some(answer))?, interrupted))
}

/// Opens `--record` for a bench run; the API key and header values are scrubbed from every line.
pub fn open_record(
    path: &Path,
    api_base: &url::Url,
    mut scrub: crate::io::record::Scrub,
) -> anyhow::Result<crate::io::record::Recorder> {
    use crate::io::record::{self, Header};
    scrub.add_url(api_base);
    let header = Header {
        format: record::FORMAT_VERSION,
        llmtop: env!("CARGO_PKG_VERSION").to_string(),
        command: "bench".to_string(),
        started: crate::base::clock::unix_now(),
        target: crate::base::secret::redact_url(api_base, crate::base::secret::Reach::File),
        name: api_base.host_str().unwrap_or("gateway").to_string(),
        dialect: None,
        interval_ns: None,
        api_base: Some(crate::base::secret::redact_url(
            api_base,
            crate::base::secret::Reach::File,
        )),
        limits: None,
        // A bench records request results, which carry no labels.
        redaction: None,
    };
    record::Recorder::create(path, header, scrub)
}
