//! Entry point: parse the command line, pick the mode, run it.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use llmtop::cli::{Cli, Command};
use llmtop::{commands, logging, tui};

fn main() -> ExitCode {
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
                tui::run(
                    session,
                    &cli.ui,
                    cli.target.model.clone(),
                    cli.target.probe_prompt.clone(),
                    cli.target.timeout,
                )
                .await
            }
            Some(Command::Demo(args)) => commands::demo(&args).await,
            Some(Command::Snapshot(args)) => commands::snapshot(&args).await,
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
