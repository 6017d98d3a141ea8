//! Entry point: parse the command line, pick the mode, run it.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use llmtop::app::cli::Cli;
use llmtop::base::logging;

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
    let _log_guard = logging::init(llmtop::app::log_file(&cli));
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
    let result = runtime.block_on(llmtop::app::run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("llmtop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
