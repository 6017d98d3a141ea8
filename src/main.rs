//! Entry point: parse the command line, pick the mode, run it.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use llmtop::cli::{Cli, Command};
use llmtop::{commands, logging, tui};

fn main() -> ExitCode {
    // Answered before parsing: it needs no target, which the parser would otherwise demand.
    if std::env::args().skip(1).any(|a| a == "--print-theme-items") {
        for item in llmtop::tui::theme::ITEMS {
            println!("{item}");
        }
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    let log_file = match &cli.command {
        Some(Command::Snapshot(s)) => s.target.log_file.clone(),
        _ => cli.target.log_file.clone(),
    };
    let _log_guard = logging::init(log_file);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("llmtop: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => {
                let session = llmtop::session::Session::new(&cli.target).await?;
                let t = &cli.target;
                let theme = tui::choose_theme(&cli.ui)?;
                let options = tui::TuiOptions {
                    theme,
                    settings: tui::app::ProbeSettings {
                        model: t.model.clone(),
                        prompt: t.probe_prompt.clone(),
                        read_only: t.read_only,
                        max_spend_usd: t.max_probe_spend,
                        burst_size: t.burst_size,
                        burst_concurrency: t.burst_concurrency,
                        burst_confirm_above: t.burst_confirm_above,
                    },
                    probe_every: t.probe_every,
                    timeout: t.timeout,
                    max_tokens: t.probe_max_tokens,
                    max_completion_tokens: t.max_completion_tokens,
                    temperature: t.temperature,
                    limiter: llmtop::probe::limit::ProbeLimiter::new(
                        llmtop::probe::limit::ProbeLimits::new(t.probe_rpm, t.probe_concurrency),
                    ),
                };
                tui::run(session, &cli.ui, options).await
            }
            Some(Command::Demo(args)) => commands::demo(&args).await,
            Some(Command::Snapshot(args)) => commands::snapshot(&args).await,
            Some(Command::Completions { shell }) => commands::completions(shell),
            Some(Command::Man) => commands::man(),
            Some(Command::Probe(args)) => llmtop::probe_cmd::run(&args).await,
            Some(Command::Bench(args)) => llmtop::loadgen::run(&args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("llmtop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
