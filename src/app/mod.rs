//! Layer 5, the application: the command line and one module per subcommand. The only layer that
//! reads `clap` types; it turns them into the plain options the layers below take.
pub mod bench;
pub mod bench_server;
pub mod check;
pub mod cli;
pub mod cost;
pub mod dashboard;
pub mod demo;
pub mod discover;
pub mod docs;
pub mod export;
pub mod prices;
pub mod probe;
pub mod replay;
pub mod snapshot;

use cli::{Cli, Command};

/// The log file the command line asks for (each subcommand has its own `--log-file`).
pub fn log_file(cli: &Cli) -> Option<std::path::PathBuf> {
    match &cli.command {
        Some(Command::Snapshot(s)) => s.target.log_file.clone(),
        Some(Command::Cost(c)) => c.target.log_file.clone(),
        Some(Command::Check(c)) => c.target.log_file.clone(),
        Some(Command::Replay(r)) => r.log_file.clone(),
        _ => cli.target.log_file.clone(),
    }
}

/// Writes a headless command's output to `-o FILE`, or to stdout.
pub fn write_output(path: Option<&std::path::Path>, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match path {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        None => dashboard::run(&cli).await,
        Some(Command::Demo(args)) => demo::demo(args).await,
        Some(Command::Snapshot(args)) => snapshot::snapshot(args).await,
        Some(Command::Completions { shell }) => docs::completions(*shell),
        Some(Command::Man) => docs::man(),
        Some(Command::Probe(args)) => probe::run(args).await,
        Some(Command::Bench(args)) => bench::run(args).await,
        Some(Command::Replay(args)) => replay::run(args).await,
        Some(Command::Cost(args)) => cost::run(args).await,
        Some(Command::Prices(args)) => prices::run(args),
        Some(Command::Discover(args)) => discover::run(args).await,
        Some(Command::Check(args)) => check::run(args).await,
        Some(Command::Export(args)) => export::run(args),
    }
}
