//! Logs go to a file (never to the terminal the dashboard draws on).
use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;

/// Where logs go by default: the platform's state directory (XDG_STATE_HOME on Linux).
pub fn default_log_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "llmtop")?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.cache_dir());
    Some(dir.join("llmtop.log"))
}

/// Starts file logging; the guard must live until exit so buffered lines are written.
/// Returns `None` (and logs nowhere) when the file cannot be opened.
pub fn init(path: Option<PathBuf>) -> Option<WorkerGuard> {
    let path = path.or_else(default_log_path)?;
    let dir = path.parent()?.to_path_buf();
    std::fs::create_dir_all(&dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("LLMTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
