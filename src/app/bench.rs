//! `llmtop bench`: turns the command line into a load plan for [`crate::io::loadgen`], runs it
//! and prints the summary in the format asked for.
use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::app::cli::{BenchArgs, BenchFormat};
use crate::base::credentials;
use crate::io::config::Config;
use crate::io::loadgen::stats::{self, RunInfo};
use crate::io::loadgen::{
    DEFAULT_REQUESTS, EXIT_INTERRUPTED, Interrupt, Plan, execute_recorded, load_prompts, output,
    progress,
};
use crate::io::probe::{ProbeRequest, RetryPolicy};

/// Runs the command; prints the summary on stdout. After Ctrl-C the process exits with 130.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let prices = Config::load(args.config.as_deref())?.price_table();
    let (api_key, _) =
        credentials::resolve_api_key(args.api_key_file.as_deref(), args.api_key_env.as_deref())?;
    let prompts = match &args.prompts {
        Some(path) => load_prompts(path)?,
        None => vec![args.prompt.clone()],
    };
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
        .with_timeout(args.timeout)
        .with_retry(RetryPolicy {
            max_retries: args.retries,
            ..RetryPolicy::default()
        });
    for (name, value) in headers {
        template = template.with_header(name, value);
    }
    let requests = match (args.requests, args.duration) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_REQUESTS),
    };
    let plan = Plan {
        template,
        prompts,
        requests,
        concurrency: args.concurrency,
        rate: args.rate,
        duration: args.duration,
        seed: args.seed,
        slo: args.goodput,
        fast_http: true,
    };
    let info = RunInfo {
        model: args.model.clone(),
        target: api_base.origin().ascii_serialization(),
        stream: args.stream,
        concurrency: args.concurrency,
        rate: args.rate,
        requests_target: requests,
        duration_limit: args.duration,
        max_tokens: args.max_tokens,
        prompts: plan.prompts.len(),
        seed: args.seed,
        slo: args.goodput,
    };
    let client = crate::base::net::http_client(&args.tls.settings())?;
    let interrupt = Interrupt::install()?;
    let progress =
        progress::Progress::new(std::io::stderr().is_terminal(), requests, args.duration);
    let mut record = match &args.record {
        Some(path) => Some(open_record(path, &api_base, scrub)?),
        None => None,
    };
    let outcome = execute_recorded(
        &client,
        plan,
        &prices,
        interrupt,
        Some(progress),
        record.as_mut(),
    )
    .await;
    // Closes the last chunk before the summary is printed.
    drop(record);
    if let Some(gateway) = gateway {
        gateway.shutdown().await;
    }
    let summary = stats::summary_json(
        &info,
        &outcome.recorder,
        outcome.elapsed,
        outcome.interrupted,
    );
    let text = match args.format {
        BenchFormat::Json => serde_json::to_string_pretty(&summary)?,
        BenchFormat::Csv => output::csv(&summary),
        BenchFormat::Text => output::text(&summary),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    if outcome.interrupted {
        let _ = std::io::stderr().flush();
        std::process::exit(EXIT_INTERRUPTED);
    }
    Ok(())
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
