//! Command-line definitions. Every flag can also be set with an `LLMTOP_*` environment variable.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// htop for LLM gateways: live request rate, latency heatmap, TTFT, tokens, errors and cost burn.
#[derive(Debug, Parser)]
#[command(name = "llmtop", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
#[command(
    after_help = "Examples:\n  llmtop --demo                         dashboard on the built-in simulated gateway\n  llmtop gateway.internal:4000          dashboard on a gateway's /metrics\n  llmtop snapshot --demo --for 5s       one JSON object for scripts\n  llmtop demo --port 8080               run the simulated gateway alone"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the built-in simulated gateway alone (OpenAI-compatible API + /metrics).
    Demo(DemoArgs),
    /// Collect for a while, then print one machine-readable summary and exit.
    Snapshot(Box<SnapshotArgs>),
    /// Send one chat completion through a gateway and print what it measured (TTFT, tokens, cost).
    Probe(Box<ProbeArgs>),
    /// Load-test a gateway: N chat completions at concurrency C (or R/s), then latency, TTFT, tokens and cost.
    Bench(Box<BenchArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `llmtop man > llmtop.1`.
    Man,
}

/// Where to scrape and how to authenticate; shared by the dashboard and `snapshot`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Metrics endpoint: host:port, http(s)://host:port (then /metrics is assumed), a full URL, or
    /// the name of a [[target]] in the config file.
    #[arg(env = "LLMTOP_URL", required_unless_present = "demo")]
    pub url: Option<String>,

    /// Start the built-in simulated gateway on 127.0.0.1 and attach to it.
    #[arg(long, env = "LLMTOP_DEMO", conflicts_with = "url")]
    pub demo: bool,

    /// Time between scrapes.
    #[arg(long, env = "LLMTOP_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Give up on a scrape or probe after this long.
    #[arg(long, env = "LLMTOP_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Extra header for the scrape, 'Name: value' (repeatable).
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        env = "LLMTOP_HEADER",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,

    /// Read the scrape's bearer token from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        env = "LLMTOP_BEARER_TOKEN_ENV",
        conflicts_with = "bearer_token_file"
    )]
    pub bearer_token_env: Option<String>,

    /// Read the scrape's bearer token from this file.
    #[arg(long, value_name = "PATH", env = "LLMTOP_BEARER_TOKEN_FILE")]
    pub bearer_token_file: Option<PathBuf>,

    /// Use this dialect instead of detecting it (seed, vllm, litellm, tgi, llamacpp).
    #[arg(long, env = "LLMTOP_DIALECT")]
    pub dialect: Option<String>,

    /// Base URL of the OpenAI-compatible API for probes (default: the target's origin).
    #[arg(long, env = "LLMTOP_API_BASE")]
    pub api_base: Option<String>,

    /// Read the probe's API key from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        env = "LLMTOP_API_KEY_ENV",
        conflicts_with = "api_key_file"
    )]
    pub api_key_env: Option<String>,

    /// Read the probe's API key from this file (default: $LLMTOP_API_KEY, then $OPENAI_API_KEY).
    #[arg(long, value_name = "PATH", env = "LLMTOP_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Model the probe asks for (default: the busiest model the gateway reports).
    #[arg(long, env = "LLMTOP_MODEL")]
    pub model: Option<String>,

    /// Prompt the `p` key sends.
    #[arg(
        long,
        env = "LLMTOP_PROBE_PROMPT",
        default_value = "Reply with one short sentence about monitoring."
    )]
    pub probe_prompt: String,

    /// Send a probe this often, for synthetic monitoring (works even without /metrics).
    #[arg(long, value_name = "D", env = "LLMTOP_PROBE_EVERY", value_parser = parse_duration)]
    pub probe_every: Option<Duration>,

    /// Most completion tokens a probe asks for.
    #[arg(long, env = "LLMTOP_PROBE_MAX_TOKENS", default_value_t = 128)]
    pub probe_max_tokens: u32,

    /// Send the probe's token limit as `max_completion_tokens` (newer OpenAI models) instead of `max_tokens`.
    #[arg(long, env = "LLMTOP_MAX_COMPLETION_TOKENS")]
    pub max_completion_tokens: bool,

    /// Sampling temperature for probes (default: the gateway's).
    #[arg(long, env = "LLMTOP_TEMPERATURE")]
    pub temperature: Option<f32>,

    /// Probe requests started per minute, at most (p, b and --probe-every together).
    #[arg(long, env = "LLMTOP_PROBE_RPM")]
    pub probe_rpm: Option<u32>,

    /// Probe requests in flight at once, at most.
    #[arg(long, env = "LLMTOP_PROBE_CONCURRENCY")]
    pub probe_concurrency: Option<usize>,

    /// Disable every key that sends a request to the gateway (p, i, b, m).
    #[arg(long, env = "LLMTOP_READ_ONLY")]
    pub read_only: bool,

    /// Stop probing once this session's probes have cost this many dollars.
    #[arg(long, value_name = "USD", env = "LLMTOP_MAX_PROBE_SPEND")]
    pub max_probe_spend: Option<f64>,

    /// Requests one burst (`b`) sends.
    #[arg(long, env = "LLMTOP_BURST_SIZE", default_value_t = 20)]
    pub burst_size: usize,

    /// Requests of a burst in flight at once.
    #[arg(long, env = "LLMTOP_BURST_CONCURRENCY", default_value_t = 4)]
    pub burst_concurrency: usize,

    /// Ask before sending a burst larger than this.
    #[arg(long, env = "LLMTOP_BURST_CONFIRM_ABOVE", default_value_t = 50)]
    pub burst_confirm_above: usize,

    /// How much history to keep in memory.
    #[arg(long, env = "LLMTOP_HISTORY", default_value = "1h", value_parser = parse_duration)]
    pub history: Duration,

    /// Most raw series followed per target; beyond it new series are dropped and counted.
    #[arg(long, env = "LLMTOP_MAX_SERIES", default_value_t = 10_000)]
    pub max_series: usize,

    /// Most distinct models kept; further models are counted together as "(other models)".
    #[arg(long, env = "LLMTOP_MAX_MODELS", default_value_t = 50)]
    pub max_models: usize,

    /// Largest /metrics body accepted, MiB.
    #[arg(long, env = "LLMTOP_MAX_BODY_MIB", default_value_t = 32)]
    pub max_body_mib: usize,

    /// Config file with user dialects and price rows (default: ~/.config/llmtop/config.toml).
    #[arg(long, value_name = "PATH", env = "LLMTOP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Write logs here (default: the platform's state directory, e.g. ~/.local/state/llmtop/llmtop.log).
    #[arg(long, env = "LLMTOP_LOG_FILE")]
    pub log_file: Option<PathBuf>,
}

/// Dashboard-only settings.
#[derive(Debug, Clone, Args)]
pub struct UiArgs {
    /// Time window shown on screen.
    #[arg(long, env = "LLMTOP_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub window: Duration,

    /// Colour theme: default, light, gruvbox, nord, high-contrast, mono, or a path to a .toml theme.
    #[arg(long, env = "LLMTOP_THEME", default_value = "default")]
    pub theme: String,

    /// No colours at all (also when NO_COLOR is set to anything).
    #[arg(long, env = "LLMTOP_NO_COLOR")]
    pub no_color: bool,

    /// Print the names of every theme item, one per line, and exit.
    #[arg(long)]
    pub print_theme_items: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Port to listen on (0 = any free port).
    #[arg(long, env = "LLMTOP_DEMO_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind; keep the loopback default unless you mean to expose it.
    #[arg(long, env = "LLMTOP_DEMO_BIND", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Seed for reproducible synthetic traffic.
    #[arg(long, env = "LLMTOP_DEMO_SEED")]
    pub seed: Option<u64>,
    /// Serve only real requests, no synthetic traffic.
    #[arg(long, env = "LLMTOP_DEMO_NO_TRAFFIC")]
    pub no_traffic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    /// One JSON object (fields documented in README.md).
    Json,
    /// A header line and one row per model plus a `(total)` row.
    Csv,
    /// An aligned table for people.
    Table,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to collect before printing.
    #[arg(long = "for", env = "LLMTOP_FOR", default_value = "10s", value_parser = parse_duration)]
    pub collect_for: Duration,
    /// Output format.
    #[arg(long, env = "LLMTOP_FORMAT", value_enum, default_value_t = SnapshotFormat::Json)]
    pub format: SnapshotFormat,
    /// Write the output to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE", env = "LLMTOP_OUTPUT")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    /// A short human summary, then the answer.
    Text,
    /// One JSON object (field names are a stable contract).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Gateway: host:port, http(s)://host:port or a full URL; the API base is its origin unless --api-base.
    #[arg(env = "LLMTOP_URL", required_unless_present_any = ["demo", "api_base"])]
    pub url: Option<String>,

    /// Probe a temporary built-in demo gateway on 127.0.0.1.
    #[arg(long, env = "LLMTOP_DEMO", conflicts_with_all = ["url", "api_base"])]
    pub demo: bool,

    /// Model to ask for, as the gateway names it.
    #[arg(long, env = "LLMTOP_MODEL")]
    pub model: String,

    /// Prompt to send.
    #[arg(
        long,
        env = "LLMTOP_PROBE_PROMPT",
        default_value = "Reply with one short sentence about monitoring."
    )]
    pub prompt: String,

    /// Stream the answer (server-sent events): measures time to first token and per-token time.
    #[arg(long, env = "LLMTOP_PROBE_STREAM")]
    pub stream: bool,

    /// Output format.
    #[arg(long, env = "LLMTOP_PROBE_FORMAT", value_enum, default_value_t = ProbeFormat::Text)]
    pub format: ProbeFormat,

    /// Most completion tokens to ask for.
    #[arg(long, env = "LLMTOP_PROBE_MAX_TOKENS", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Base URL of the OpenAI-compatible API (default: the URL's origin).
    #[arg(long, env = "LLMTOP_API_BASE")]
    pub api_base: Option<String>,

    /// Read the API key from this file (default: $LLMTOP_API_KEY, then $OPENAI_API_KEY).
    #[arg(long, value_name = "PATH", env = "LLMTOP_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Give up after this long, retries and their waits included.
    #[arg(long, env = "LLMTOP_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Extra attempts after a 429, 5xx or connection failure (never after insufficient_quota).
    #[arg(long, env = "LLMTOP_PROBE_RETRIES", default_value_t = 2)]
    pub retries: u32,

    /// Backoff before the first retry when the gateway sends no Retry-After; doubles per retry.
    #[arg(long, value_name = "D", env = "LLMTOP_PROBE_RETRY_DELAY", default_value = "500ms", value_parser = parse_duration)]
    pub retry_delay: Duration,

    /// Extra request header, 'Name: value' (repeatable).
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        env = "LLMTOP_PROBE_HEADER",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,

    /// Most probe requests started per minute (default: no limit).
    #[arg(long, value_name = "N", env = "LLMTOP_PROBE_RPM", value_parser = clap::value_parser!(u32).range(1..))]
    pub probe_rpm: Option<u32>,

    /// Most probe requests in flight at once (default: no limit).
    #[arg(long, value_name = "N", env = "LLMTOP_PROBE_CONCURRENCY", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub probe_concurrency: Option<usize>,

    /// Config file with price rows (default: ~/.config/llmtop/config.toml).
    #[arg(long, value_name = "PATH", env = "LLMTOP_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Gateway: host:port, http(s)://host:port or a full URL; the API base is its origin unless --api-base.
    #[arg(env = "LLMTOP_BENCH_URL", required_unless_present_any = ["demo", "api_base"])]
    pub url: Option<String>,

    /// Benchmark a temporary built-in demo gateway on 127.0.0.1.
    #[arg(long, env = "LLMTOP_BENCH_DEMO", conflicts_with_all = ["url", "api_base"])]
    pub demo: bool,

    /// Model to ask for, as the gateway names it.
    #[arg(long, env = "LLMTOP_BENCH_MODEL")]
    pub model: String,

    /// Requests to send (default: 1000, or no limit with --duration).
    #[arg(short = 'n', long = "requests", value_name = "N", env = "LLMTOP_BENCH_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Requests in flight at once, at most.
    #[arg(short = 'c', long, value_name = "C", env = "LLMTOP_BENCH_CONCURRENCY", default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub concurrency: usize,

    /// Open loop: start requests at this many per second on average (Poisson arrivals), still at most C in flight.
    #[arg(long, value_name = "R", env = "LLMTOP_BENCH_RATE", value_parser = crate::loadgen::parse_rate)]
    pub rate: Option<f64>,

    /// Stop sending after this long (requests in flight still finish).
    #[arg(long, value_name = "D", env = "LLMTOP_BENCH_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Prompt every request sends.
    #[arg(
        long,
        env = "LLMTOP_BENCH_PROMPT",
        default_value = "Reply with one short sentence about monitoring.",
        conflicts_with = "prompts"
    )]
    pub prompt: String,

    /// JSON Lines file of prompts, used in turn: each line a JSON string or an object with "prompt".
    #[arg(long, value_name = "FILE.jsonl", env = "LLMTOP_BENCH_PROMPTS")]
    pub prompts: Option<PathBuf>,

    /// Stream the answers (server-sent events): needed for TTFT, TPOT and inter-token latency.
    #[arg(long, env = "LLMTOP_BENCH_STREAM")]
    pub stream: bool,

    /// Most completion tokens each request asks for.
    #[arg(long, env = "LLMTOP_BENCH_MAX_TOKENS", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Output format of the summary.
    #[arg(long, env = "LLMTOP_BENCH_FORMAT", value_enum, default_value_t = crate::loadgen::BenchFormat::Text)]
    pub format: crate::loadgen::BenchFormat,

    /// Base URL of the OpenAI-compatible API (default: the URL's origin).
    #[arg(long, env = "LLMTOP_BENCH_API_BASE")]
    pub api_base: Option<String>,

    /// Read the API key from this file (default: $LLMTOP_API_KEY, then $OPENAI_API_KEY).
    #[arg(long, value_name = "PATH", env = "LLMTOP_BENCH_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Give up on one request after this long, retries included.
    #[arg(long, env = "LLMTOP_BENCH_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Extra attempts per request after a 429, 5xx or connection failure.
    #[arg(long, env = "LLMTOP_BENCH_RETRIES", default_value_t = 0)]
    pub retries: u32,

    /// Extra request header, 'Name: value' (repeatable).
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        env = "LLMTOP_BENCH_HEADER",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,

    /// Service-level objectives for goodput, e.g. ttft=500ms,tpot=50ms,e2e=2s.
    #[arg(long, value_name = "SLOS", env = "LLMTOP_BENCH_GOODPUT", value_parser = crate::loadgen::parse_goodput)]
    pub goodput: Option<crate::loadgen::Slo>,

    /// Seed for the open-loop arrival times (default: from entropy).
    #[arg(long, env = "LLMTOP_BENCH_SEED")]
    pub seed: Option<u64>,

    /// Config file with price rows (default: ~/.config/llmtop/config.toml).
    #[arg(long, value_name = "PATH", env = "LLMTOP_BENCH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Parses `500ms`, `1s`, `5m`, `1h` (and combinations such as `1m30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 500ms, 1s, 5m or 1h ({e})"))?;
    if d.is_zero() {
        return Err(format!("{text:?}: a duration must be longer than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn target_or_demo_is_required() {
        assert!(Cli::try_parse_from(["llmtop"]).is_err());
        assert!(Cli::try_parse_from(["llmtop", "--demo"]).is_ok());
        assert!(
            Cli::try_parse_from(["llmtop", "gw:4000", "--header", "X-A: b", "-H", "X-B: c"])
                .is_ok()
        );
        let cli = Cli::try_parse_from(["llmtop", "snapshot", "--demo", "--for", "5s"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Snapshot(_))));
    }
}
