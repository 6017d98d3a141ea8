//! Entry point: parse the command line, pick the mode, run it.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use llmtop::app::cli::{Cli, Command};
use llmtop::app::commands;
use llmtop::base::logging;
use llmtop::front::tui;

/// Whether a flag is on: given on the command line, or its variable set to a true-like value —
/// the same words clap's `BoolishValueParser` accepts for every boolean flag's variable.
fn asked(flag: &str, var: &str) -> bool {
    std::env::args().skip(1).any(|a| a == flag)
        || std::env::var(var).is_ok_and(|v| {
            ["1", "true", "yes", "y", "on", "t"].contains(&v.to_ascii_lowercase().as_str())
        })
}

fn main() -> ExitCode {
    // Answered before parsing: they need no target, which the parser would otherwise demand.
    if asked("--print-theme-items", "LLMTOP_PRINT_THEME_ITEMS") {
        for item in llmtop::front::tui::theme::ITEMS {
            println!("{item}");
        }
        return ExitCode::SUCCESS;
    }
    if asked("--print-config-template", "LLMTOP_PRINT_CONFIG_TEMPLATE") {
        print!("{}", llmtop::io::config::template());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    let log_file = match &cli.command {
        Some(Command::Snapshot(s)) => s.target.log_file.clone(),
        Some(Command::Replay(r)) => r.log_file.clone(),
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
                let session = llmtop::runtime::session::Session::new(&cli.target).await?;
                let t = &cli.target;
                let config_theme = llmtop::io::config::Config::load(t.config.as_deref())?.theme;
                let theme = tui::choose_theme(&cli.ui, config_theme.as_deref())?;
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
                    limiter: llmtop::io::probe::limit::ProbeLimiter::new(
                        llmtop::io::probe::limit::ProbeLimits::new(t.probe_rpm, t.probe_concurrency),
                    ),
                };
                tui::run(session, &cli.ui, options).await
            }
            Some(Command::Demo(args)) => commands::demo(&args).await,
            Some(Command::Snapshot(args)) => commands::snapshot(&args).await,
            Some(Command::Completions { shell }) => commands::completions(shell),
            Some(Command::Man) => commands::man(),
            Some(Command::Probe(args)) => llmtop::app::probe::run(&args).await,
            Some(Command::Bench(args)) => llmtop::io::loadgen::run(&args).await,
            Some(Command::Replay(args)) => tui::replay::run(&args).await,
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
