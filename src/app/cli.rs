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
    /// With no target: where to look for one.
    #[command(flatten)]
    pub discover: DiscoverFlags,
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
    /// Open the dashboard on a `--record` file: play/pause, speed, seek; nothing is sent anywhere.
    Replay(Box<ReplayArgs>),
    /// What this traffic would cost on other models: observed (URL, --demo, --from) or stated (--tokens).
    Cost(Box<CostArgs>),
    /// List the price table (built in, with the config file's rows over it).
    Prices(PricesArgs),
    /// Find the LLM servers on this machine: well-known ports and listening sockets, fingerprinted.
    Discover(DiscoverArgs),
    /// Judge a gateway's health by the alert rules over a window and exit 0 (ok), 1 (warning)
    /// or 2 (critical): one line per rule, for cron and deploy pipelines.
    Check(Box<CheckArgs>),
    /// Print a Grafana dashboard or Prometheus rule file for a dialect: the same panels, figures
    /// and alert rules, their PromQL from the dialect table.
    Export(ExportArgs),
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
    // Required by the subcommands that take a target (their `mut_args`); the dashboard with none
    // finds what runs on the machine.
    #[arg(env = "LLMTOP_URL")]
    pub url: Option<String>,

    /// More metrics endpoints (or [[target]] names): several direct targets shown as one fleet,
    /// with a per-target table.
    #[arg(
        value_name = "MORE_URLS",
        env = "LLMTOP_MORE_URLS",
        value_delimiter = ' ',
        requires = "url"
    )]
    pub more_urls: Vec<String>,

    /// Fleet mode: read the gateways through this Prometheus-compatible server (Prometheus,
    /// Thanos, Mimir/Cortex with its /prometheus prefix, VictoriaMetrics, Grafana Cloud).
    #[arg(long, value_name = "URL", env = "LLMTOP_PROMETHEUS", conflicts_with_all = ["url", "demo"])]
    pub prometheus: Option<String>,

    /// Fleet mode: label matchers every query gets, e.g. '{job="litellm"}'.
    #[arg(
        long,
        value_name = "MATCHERS",
        env = "LLMTOP_SELECTOR",
        requires = "prometheus"
    )]
    pub selector: Option<String>,

    /// Fleet mode: the label that names a gateway instance (instance, or pod on Kubernetes).
    #[arg(
        long,
        value_name = "LABEL",
        env = "LLMTOP_INSTANCE_LABEL",
        default_value = "instance"
    )]
    pub instance_label: String,

    /// Fleet mode: how often Prometheus scrapes the gateways; rates span at least 4 of these and
    /// the dashboard refreshes no faster.
    #[arg(long, value_name = "D", env = "LLMTOP_PROMETHEUS_SCRAPE_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub prometheus_scrape_interval: Duration,

    /// Fleet mode: send Thanos' dedup=true and partial_response=true with every query.
    #[arg(long, env = "LLMTOP_THANOS", requires = "prometheus", value_parser = clap::builder::BoolishValueParser::new())]
    pub thanos: bool,

    /// Fleet mode: HTTP basic auth user (Grafana Cloud: the instance ID).
    #[arg(
        long,
        value_name = "USER",
        env = "LLMTOP_BASIC_AUTH_USER",
        requires = "prometheus"
    )]
    pub basic_auth_user: Option<String>,

    /// Fleet mode: read the basic auth password (Grafana Cloud: an access token) from this
    /// environment variable.
    #[arg(
        long,
        value_name = "VAR",
        env = "LLMTOP_BASIC_AUTH_PASSWORD_ENV",
        conflicts_with = "basic_auth_password_file",
        requires = "basic_auth_user"
    )]
    pub basic_auth_password_env: Option<String>,

    /// Fleet mode: read the basic auth password from this file.
    #[arg(
        long,
        value_name = "PATH",
        env = "LLMTOP_BASIC_AUTH_PASSWORD_FILE",
        requires = "basic_auth_user"
    )]
    pub basic_auth_password_file: Option<PathBuf>,

    /// Start the built-in simulated gateway on 127.0.0.1 and attach to it.
    #[arg(long, env = "LLMTOP_DEMO", conflicts_with = "url", value_parser = clap::builder::BoolishValueParser::new())]
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
    pub headers: Vec<crate::base::secret::HeaderLine>,

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
        default_value = crate::io::probe::DEFAULT_PROMPT
    )]
    pub probe_prompt: String,

    /// Send a probe this often, for synthetic monitoring (works even without /metrics).
    #[arg(long, value_name = "D", env = "LLMTOP_PROBE_EVERY", value_parser = parse_duration)]
    pub probe_every: Option<Duration>,

    /// Most completion tokens a probe asks for.
    #[arg(long, env = "LLMTOP_PROBE_MAX_TOKENS", default_value_t = 128)]
    pub probe_max_tokens: u32,

    /// Send the probe's token limit as `max_completion_tokens` (newer OpenAI models) instead of `max_tokens`.
    #[arg(long, env = "LLMTOP_MAX_COMPLETION_TOKENS", value_parser = clap::builder::BoolishValueParser::new())]
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
    #[arg(long, env = "LLMTOP_READ_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    pub read_only: bool,

    /// Stop probing once this session's probes have cost this many dollars.
    #[arg(long, value_name = "USD", env = "LLMTOP_MAX_PROBE_SPEND")]
    pub max_probe_spend: Option<f64>,

    /// Requests one burst (`b`) sends.
    #[arg(long, env = "LLMTOP_BURST_SIZE", default_value_t = crate::io::probe::DEFAULT_BURST_SIZE)]
    pub burst_size: usize,

    /// Requests of a burst in flight at once.
    #[arg(long, env = "LLMTOP_BURST_CONCURRENCY", default_value_t = crate::io::probe::DEFAULT_BURST_CONCURRENCY)]
    pub burst_concurrency: usize,

    /// Ask before sending a burst larger than this.
    #[arg(long, env = "LLMTOP_BURST_CONFIRM_ABOVE", default_value_t = crate::io::probe::DEFAULT_BURST_CONFIRM_ABOVE)]
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

    /// Append every scrape (raw body, timestamp), scrape error and probe result to this file
    /// (gzip-compressed JSON Lines; credentials are never written). Replay it with `llmtop replay`.
    #[arg(long, value_name = "FILE", env = "LLMTOP_RECORD")]
    pub record: Option<PathBuf>,

    #[command(flatten)]
    pub redact: RedactArgs,

    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Which labels' values never reach the screen, a recording or an export.
#[derive(Debug, Clone, Default, Args)]
pub struct RedactArgs {
    /// Hash (or drop) the values of these labels in every scrape before anything parses, shows,
    /// records or exports them: comma-separated names, `*` as a wildcard, `default` for the
    /// built-in personal-data list (user, end_user, *email*, client_ip, …), `none` for nothing.
    /// Without it, the config file's [redact] list applies, and a --record session uses `default`.
    #[arg(
        long,
        value_name = "LABELS",
        env = "LLMTOP_REDACT_LABELS",
        value_delimiter = ','
    )]
    pub redact_labels: Option<Vec<String>>,

    /// What redaction does to a value: `hash` (anon-…, the same within a run) or `drop` (the
    /// label goes).
    #[arg(long, value_name = "MODE", env = "LLMTOP_REDACT_MODE", value_parser = parse_redact_mode)]
    pub redact_mode: Option<crate::base::redact::RedactMode>,
}

fn parse_redact_mode(text: &str) -> Result<crate::base::redact::RedactMode, String> {
    crate::base::redact::RedactMode::parse(text)
}

/// Which TLS certificates to trust; shared by the dashboard, `snapshot`, `probe` and `bench`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Do not verify TLS certificates (a lab gateway with a self-signed certificate); shows a warning.
    #[arg(long, env = "LLMTOP_INSECURE", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,

    /// Also trust the CA certificate(s) in this PEM file (a private CA), on top of the system's.
    #[arg(long, value_name = "PATH", env = "LLMTOP_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl TlsArgs {
    pub fn settings(&self) -> crate::base::net::TlsSettings {
        crate::base::net::TlsSettings {
            insecure: self.insecure,
            ca_cert: self.ca_cert.clone(),
        }
    }
}

/// Dashboard-only settings.
#[derive(Debug, Clone, Args)]
pub struct UiArgs {
    /// Time window shown on screen.
    #[arg(long, env = "LLMTOP_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub window: Duration,

    /// Colour theme: default, light, gruvbox, nord, high-contrast, mono, or a path to a .toml theme
    /// [default: the config file's `theme`, else default].
    #[arg(long, env = "LLMTOP_THEME")]
    pub theme: Option<String>,

    /// No colours at all (also when NO_COLOR is set to anything).
    #[arg(long, env = "LLMTOP_NO_COLOR", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_color: bool,

    /// Print the names of every theme item, one per line, and exit.
    #[arg(long, env = "LLMTOP_PRINT_THEME_ITEMS", value_parser = clap::builder::BoolishValueParser::new())]
    pub print_theme_items: bool,

    /// Print a fully commented config file (targets, dialects, prices, keys) and exit.
    #[arg(long, env = "LLMTOP_PRINT_CONFIG_TEMPLATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub print_config_template: bool,

    /// Draw with ASCII only: no braille, block or box-drawing glyphs (poor terminals and fonts).
    #[arg(long, env = "LLMTOP_ASCII", value_parser = clap::builder::BoolishValueParser::new())]
    pub ascii: bool,

    /// Colours the terminal shows; auto reads COLORTERM, then TERM.
    #[arg(long, env = "LLMTOP_COLOR_DEPTH", value_enum, default_value_t = crate::front::tui::theme::ColorDepth::Auto)]
    pub color_depth: crate::front::tui::theme::ColorDepth,

    /// Leave the mouse to the terminal (text selection) instead of click-to-focus and wheel zoom.
    #[arg(long, env = "LLMTOP_NO_MOUSE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_mouse: bool,

    /// Ring the terminal bell when an alert rule starts firing.
    #[arg(long, env = "LLMTOP_BELL", value_parser = clap::builder::BoolishValueParser::new())]
    pub bell: bool,
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
    #[arg(long, env = "LLMTOP_DEMO_NO_TRAFFIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_traffic: bool,
    /// Misbehave on purpose: a fault scenario such as flapping, slow or huge-body; combine with +
    /// (e.g. flapping+series-churn). --list-scenarios names them all.
    #[arg(long, value_name = "NAME[+NAME…]", env = "LLMTOP_DEMO_SCENARIO", default_value = "none", value_parser = parse_scenarios)]
    pub scenario: crate::io::demo::ScenarioSet,
    /// Print every fault scenario with what it does, and exit.
    #[arg(long, env = "LLMTOP_DEMO_LIST_SCENARIOS", value_parser = clap::builder::BoolishValueParser::new())]
    pub list_scenarios: bool,
    /// Serve at most N chat requests at once, each holding its slot for --service-time; the
    /// rest queue. The gateway's throughput limit is then N / service-time, a known number for
    /// `llmtop bench --sweep` to find.
    #[arg(long, value_name = "N", env = "LLMTOP_DEMO_CAPACITY", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub capacity: Option<usize>,
    /// How long each request holds its --capacity slot.
    #[arg(long, value_name = "D", env = "LLMTOP_DEMO_SERVICE_TIME", default_value = "100ms", value_parser = parse_duration, requires = "capacity")]
    pub service_time: Duration,
}

fn parse_scenarios(text: &str) -> Result<crate::io::demo::ScenarioSet, String> {
    text.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    /// One JSON object (fields documented in README.md).
    Json,
    /// A header line and one row per model plus a `(total)` row.
    Csv,
    /// An aligned table for people.
    Table,
    /// A header line (instance, stale, then csv's columns after model) and one row per gateway
    /// instance in fleet mode; one row for the target otherwise.
    InstancesCsv,
    /// A header line and one row per upstream deployment behind a routing gateway (LiteLLM):
    /// state, rates, cooldowns, fallbacks and rate-limit headroom; only the header elsewhere.
    UpstreamsCsv,
}

#[derive(Debug, Clone, Args)]
// With --from the recording is the target, so the URL is not required then. (`mut_args`, not
// `mut_arg`: the latter moves the argument to the end and so reorders the positionals.)
#[command(mut_args(|a| if a.get_id() == "url" { a.required_unless_present_any(["from", "demo", "prometheus"]) } else { a }))]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Compute the snapshot from this `--record` file instead of scraping (see --at).
    #[arg(
        long,
        value_name = "FILE",
        env = "LLMTOP_FROM",
        conflicts_with = "demo"
    )]
    pub from: Option<PathBuf>,
    /// With --from: end of the window (default: end), as RFC 3339, unix seconds, start, end,
    /// +90s (after the recording's start) or -5m (before its end).
    #[arg(long, value_name = "TIME", env = "LLMTOP_AT", requires = "from")]
    pub at: Option<String>,
    /// How long to collect before printing (with --from: the window ending at --at).
    #[arg(long = "for", env = "LLMTOP_FOR", default_value = "10s", value_parser = parse_duration)]
    pub collect_for: Duration,
    /// Output format.
    #[arg(long, env = "LLMTOP_FORMAT", value_enum, default_value_t = SnapshotFormat::Json)]
    pub format: SnapshotFormat,
    /// Write the output to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE", env = "LLMTOP_OUTPUT")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(mut_args(|a| if a.get_id() == "url" { a.required_unless_present_any(["from", "demo", "prometheus"]) } else { a }))]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Judge this `--record` file's window instead of scraping (see --at).
    #[arg(
        long,
        value_name = "FILE",
        env = "LLMTOP_CHECK_FROM",
        conflicts_with = "demo"
    )]
    pub from: Option<PathBuf>,
    /// With --from: end of the window (as for `snapshot --at`).
    #[arg(long, value_name = "TIME", env = "LLMTOP_CHECK_AT", requires = "from")]
    pub at: Option<String>,
    /// How long to collect before judging (with --from: the window ending at --at).
    #[arg(long = "for", env = "LLMTOP_CHECK_FOR", default_value = "30s", value_parser = parse_duration)]
    pub collect_for: Duration,
    /// A TOML file of `[[alert]]` rules, used instead of the config file's.
    #[arg(long, value_name = "FILE", env = "LLMTOP_CHECK_RULES")]
    pub rules: Option<PathBuf>,
    /// Leave out the built-in rules (stale, upstream down, error rate, slow p95, KV cache,
    /// saturation, budget); only the file's are judged.
    #[arg(long, env = "LLMTOP_CHECK_NO_DEFAULT_RULES", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_default_rules: bool,
    /// `text`: one Nagios-style line per rule; `json`: {status, exit_code, rules: […]}.
    #[arg(long, env = "LLMTOP_CHECK_FORMAT", value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub what: ExportWhat,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ExportWhat {
    /// An importable Grafana dashboard (JSON): request rate, latency heatmap and quantiles,
    /// TTFT, tokens by model, error rate, cost burn, gateway health and saturation.
    Grafana(GrafanaExportArgs),
    /// A Prometheus rule file (YAML): recording rules for llmtop's figures and alerting rules
    /// for the [[alert]] set.
    PrometheusRules(RulesExportArgs),
}

/// What both exports read: the dialect, the series to select, the prices.
#[derive(Debug, Clone, Args)]
pub struct ExportCommon {
    /// The dialect whose table the PromQL comes from (seed, litellm, vllm, tgi, …, or a
    /// [[dialect]] of the config file).
    #[arg(long, value_name = "NAME", env = "LLMTOP_EXPORT_DIALECT")]
    pub dialect: String,
    /// Label matchers added to every query, e.g. 'job="litellm"'.
    #[arg(
        long,
        value_name = "MATCHERS",
        env = "LLMTOP_EXPORT_SELECTOR",
        default_value = ""
    )]
    pub selector: String,
    /// Price exactly these models (as llmtop looks them up); without it, every price row is
    /// matched by a regex over its names, provider prefixes and date tags.
    #[arg(
        long,
        value_name = "MODEL[,MODEL…]",
        env = "LLMTOP_EXPORT_MODELS",
        value_delimiter = ','
    )]
    pub models: Option<Vec<String>>,
    /// Config file with user dialects, price rows and [[alert]] rules.
    #[arg(long, value_name = "PATH", env = "LLMTOP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", env = "LLMTOP_EXPORT_OUTPUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct GrafanaExportArgs {
    #[command(flatten)]
    pub common: ExportCommon,
    /// The Prometheus datasource's UID; without it the dashboard asks for one on import.
    #[arg(long, value_name = "UID", env = "LLMTOP_EXPORT_DATASOURCE")]
    pub datasource: Option<String>,
    /// The dashboard's title (default: "llmtop — DIALECT").
    #[arg(long, value_name = "TEXT", env = "LLMTOP_EXPORT_TITLE")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RulesExportArgs {
    #[command(flatten)]
    pub common: ExportCommon,
    /// The range every recorded rate and quantile spans (llmtop:FIGURE:RANGE).
    #[arg(long, env = "LLMTOP_EXPORT_RANGE", default_value = "5m", value_parser = parse_duration)]
    pub range: Duration,
    /// A TOML file of [[alert]] rules, used instead of the config file's.
    #[arg(long, value_name = "FILE", env = "LLMTOP_EXPORT_RULES")]
    pub rules: Option<PathBuf>,
    /// Leave out the built-in alert rules.
    #[arg(long, env = "LLMTOP_EXPORT_NO_DEFAULT_RULES", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_default_rules: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepOver {
    Rate,
    Concurrency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostFormat {
    /// The volume, one aligned line per model (cheapest first), then what moving each model's
    /// traffic would do.
    Table,
    /// One JSON object: volume, baseline, rows, moves (field names are a contract).
    Json,
    /// A header line and one row per model.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VolumePer {
    Month,
    Day,
}

#[derive(Debug, Clone, Args)]
// A stated volume (--tokens) or a recording (--from) needs no target.
#[command(mut_args(|a| if a.get_id() == "url" { a.required_unless_present_any(["from", "tokens", "demo", "prometheus"]) } else { a }))]
pub struct CostArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Price a stated volume instead of observed traffic: 10M, 500K, 1.5B tokens per month
    /// (per day with --per day). A target given as well is not scraped.
    #[arg(long, value_name = "N", env = "LLMTOP_COST_TOKENS", value_parser = parse_tokens, conflicts_with = "from")]
    pub tokens: Option<f64>,
    /// The period of --tokens; a month of a daily volume is 30 days.
    #[arg(long, value_enum, env = "LLMTOP_COST_PER", default_value_t = VolumePer::Month, requires = "tokens")]
    pub per: VolumePer,
    /// The share of --tokens that are prompt (input) tokens, 0…1; the rest are output.
    #[arg(long, value_name = "SHARE", env = "LLMTOP_COST_INPUT_SHARE", default_value_t = 0.75, value_parser = parse_share, requires = "tokens")]
    pub input_share: f64,
    /// The share of the input tokens served from a prompt cache, 0…1.
    #[arg(long, value_name = "SHARE", env = "LLMTOP_COST_CACHED_SHARE", default_value_t = 0.0, value_parser = parse_share, requires = "tokens")]
    pub cached_share: f64,
    /// Compare only these models (as the price table names them, aliases too); default: every row.
    #[arg(
        long,
        value_name = "A,B,C",
        env = "LLMTOP_COST_MODELS",
        value_delimiter = ','
    )]
    pub models: Vec<String>,
    /// The row ratios and savings are against: a model, or "current mix" (the default for
    /// observed traffic; for --tokens the first of --models, else the dearest row).
    #[arg(long, value_name = "MODEL", env = "LLMTOP_COST_BASELINE")]
    pub baseline: Option<String>,
    /// Observed traffic: only this source model's tokens (what moving it alone would cost).
    #[arg(
        long,
        value_name = "MODEL",
        env = "LLMTOP_COST_ONLY",
        conflicts_with = "tokens"
    )]
    pub only: Option<String>,
    /// Re-price the window of this `--record` file instead of scraping (see --at).
    #[arg(
        long,
        value_name = "FILE",
        env = "LLMTOP_COST_FROM",
        conflicts_with = "demo"
    )]
    pub from: Option<PathBuf>,
    /// With --from: end of the window (default: end), as `snapshot --at` takes it.
    #[arg(long, value_name = "TIME", env = "LLMTOP_COST_AT", requires = "from")]
    pub at: Option<String>,
    /// How long to observe (with --from: the window ending at --at).
    #[arg(long = "for", env = "LLMTOP_COST_FOR", default_value = "30s", value_parser = parse_duration)]
    pub collect_for: Duration,
    /// Output format.
    #[arg(long, value_enum, env = "LLMTOP_COST_FORMAT", default_value_t = CostFormat::Table)]
    pub format: CostFormat,
    /// Write the output to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE", env = "LLMTOP_COST_OUTPUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PricesFormat {
    /// Aligned columns, one row per model.
    Table,
    /// A JSON array of rows (the `[[price]]` fields plus `possibly_stale`).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PricesArgs {
    /// Only rows whose model, alias or provider contains this (case-insensitive).
    #[arg(env = "LLMTOP_PRICES_FILTER")]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, env = "LLMTOP_PRICES_FORMAT", default_value_t = PricesFormat::Table)]
    pub format: PricesFormat,
    /// Config file whose [[price]] rows apply (default: $XDG_CONFIG_HOME/llmtop/config.toml).
    #[arg(long, env = "LLMTOP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscoverFormat {
    /// One line per server found (and, when none is, every address tried).
    Table,
    /// One JSON object: found, tried, elapsed_ms.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub flags: DiscoverFlags,
    /// Output format.
    #[arg(long, value_enum, env = "LLMTOP_DISCOVER_FORMAT", default_value_t = DiscoverFormat::Table)]
    pub format: DiscoverFormat,
    /// Config file whose [[dialect]] tables join the built-in ones.
    #[arg(long, env = "LLMTOP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where discovery looks: `llmtop discover`, and `llmtop` with no target.
#[derive(Debug, Clone, Args)]
pub struct DiscoverFlags {
    /// Probe this host too (repeatable, or comma-separated); 127.0.0.1 is always probed. One
    /// host is one address: discovery never scans a range.
    #[arg(
        long = "discover-host",
        value_name = "HOST",
        env = "LLMTOP_DISCOVER_HOST",
        value_delimiter = ','
    )]
    pub hosts: Vec<String>,
    /// Try these ports instead of the well-known ones (4000, 8000, 30000, 8080, 3000, 8002,
    /// 11434, 8100, 9901).
    #[arg(
        long = "discover-ports",
        value_name = "P,Q",
        env = "LLMTOP_DISCOVER_PORTS",
        value_delimiter = ','
    )]
    pub ports: Vec<u16>,
    /// Do not try the ports of local listening sockets (/proc/net/tcp).
    #[arg(long, env = "LLMTOP_DISCOVER_NO_LISTENING", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_listening: bool,
}

impl DiscoverFlags {
    /// The discovery these flags ask for; refuses anything that looks like a range.
    pub fn options(&self) -> anyhow::Result<crate::io::discover::DiscoverOptions> {
        let mut options = crate::io::discover::DiscoverOptions::default();
        for host in &self.hosts {
            anyhow::ensure!(
                !host.contains('/') && !host.contains('*'),
                "--discover-host {host:?}: give one host name or address, not a range"
            );
            if !options.hosts.contains(host) {
                options.hosts.push(host.clone());
            }
        }
        if !self.ports.is_empty() {
            options.ports = self.ports.clone();
        }
        options.listening = !self.no_listening;
        Ok(options)
    }
}

fn parse_tokens(text: &str) -> Result<f64, String> {
    crate::base::format::parse_tokens(text)
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "{text:?} is not a share between 0 and 1 (e.g. 0.75)"
        )),
    }
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
    #[arg(long, env = "LLMTOP_DEMO", conflicts_with_all = ["url", "api_base"], value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,

    /// Model to ask for, as the gateway names it.
    #[arg(long, env = "LLMTOP_MODEL")]
    pub model: String,

    /// Prompt to send.
    #[arg(
        long,
        env = "LLMTOP_PROBE_PROMPT",
        default_value = crate::io::probe::DEFAULT_PROMPT
    )]
    pub prompt: String,

    /// Stream the answer (server-sent events): measures time to first token and per-token time.
    #[arg(long, env = "LLMTOP_PROBE_STREAM", value_parser = clap::builder::BoolishValueParser::new())]
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

    /// Read the API key from this environment variable (after --api-key-file, before the defaults).
    #[arg(
        long,
        value_name = "VAR",
        env = "LLMTOP_API_KEY_ENV",
        conflicts_with = "api_key_file"
    )]
    pub api_key_env: Option<String>,

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
    pub headers: Vec<crate::base::secret::HeaderLine>,

    /// Most probe requests started per minute (default: no limit).
    #[arg(long, value_name = "N", env = "LLMTOP_PROBE_RPM", value_parser = clap::value_parser!(u32).range(1..))]
    pub probe_rpm: Option<u32>,

    /// Most probe requests in flight at once (default: no limit).
    #[arg(long, value_name = "N", env = "LLMTOP_PROBE_CONCURRENCY", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub probe_concurrency: Option<usize>,

    /// Config file with price rows (default: ~/.config/llmtop/config.toml).
    #[arg(long, value_name = "PATH", env = "LLMTOP_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Gateway: host:port, http(s)://host:port or a full URL; the API base is its origin unless --api-base.
    #[arg(env = "LLMTOP_BENCH_URL", required_unless_present_any = ["demo", "api_base", "compare"])]
    pub url: Option<String>,

    /// Benchmark a temporary built-in demo gateway on 127.0.0.1.
    #[arg(long, env = "LLMTOP_BENCH_DEMO", conflicts_with_all = ["url", "api_base"], value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,

    /// Model to ask for, as the gateway names it.
    #[arg(
        long,
        env = "LLMTOP_BENCH_MODEL",
        required_unless_present = "compare",
        default_value = ""
    )]
    pub model: String,

    /// Compare the --format json summaries of earlier runs, each against the first: a column
    /// per run, the change, and `*` where it is beyond run-to-run noise. Sends nothing.
    #[arg(long, value_name = "FILE.json", num_args = 2.., env = "LLMTOP_BENCH_COMPARE", value_delimiter = ',', conflicts_with_all = ["demo", "sweep"])]
    pub compare: Vec<PathBuf>,

    /// With --compare: exit 1 when a later run is worse than the first by more than P% on any
    /// figure, beyond noise (a CI gate).
    #[arg(long, value_name = "P%", env = "LLMTOP_BENCH_FAIL_ON_REGRESSION", value_parser = parse_regression_percent, requires = "compare")]
    pub fail_on_regression: Option<f64>,

    /// Requests to send (default: 1000, or no limit with --duration).
    #[arg(short = 'n', long = "requests", value_name = "N", env = "LLMTOP_BENCH_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,

    /// Requests in flight at once, at most.
    #[arg(short = 'c', long, value_name = "C", env = "LLMTOP_BENCH_CONCURRENCY", default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub concurrency: usize,

    /// Threads the closed loop runs on, each a single-threaded runtime with its share of the
    /// -c workers (default: one per 128 workers, at most one per CPU).
    #[arg(long, value_name = "N", env = "LLMTOP_BENCH_THREADS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Option<usize>,

    /// Open loop: start requests at this many per second on average (Poisson arrivals unless
    /// --burstiness), still at most C in flight. A list (5,10,20) runs one step per rate and
    /// prints a line for each.
    #[arg(long, value_name = "R[,R…]", env = "LLMTOP_BENCH_RATE", value_delimiter = ',', value_parser = crate::io::loadgen::parse_rate)]
    pub rate: Vec<f64>,

    /// Gamma shape of the open loop's inter-arrival gaps, as vLLM defines it: 1 = Poisson,
    /// below 1 burstier, above 1 steadier (same mean rate).
    #[arg(long, value_name = "K", env = "LLMTOP_BENCH_BURSTINESS", default_value_t = 1.0, value_parser = crate::io::loadgen::schedule::parse_burstiness)]
    pub burstiness: f64,

    /// Open loop whose rate moves from --ramp-from to --ramp-to over the run (its -n requests,
    /// else its --duration): linear or exponential.
    #[arg(long, value_name = "KIND", env = "LLMTOP_BENCH_RAMP_UP", value_parser = crate::io::loadgen::schedule::RampKind::parse, requires_all = ["ramp_from", "ramp_to"], conflicts_with = "rate")]
    pub ramp_up: Option<crate::io::loadgen::schedule::RampKind>,

    /// The ramp's first rate, requests per second.
    #[arg(long, value_name = "R", env = "LLMTOP_BENCH_RAMP_FROM", value_parser = crate::io::loadgen::parse_rate, requires = "ramp_up")]
    pub ramp_from: Option<f64>,

    /// The ramp's last rate, requests per second.
    #[arg(long, value_name = "R", env = "LLMTOP_BENCH_RAMP_TO", value_parser = crate::io::loadgen::parse_rate, requires = "ramp_up")]
    pub ramp_to: Option<f64>,

    /// Find the largest request rate that meets --slo: a closed-loop throughput probe at -c,
    /// then open-loop steps at that rate, halving until one passes, then bisecting; each step
    /// runs -n requests or --duration (default 10s). One line per step, then the answer.
    #[arg(long, env = "LLMTOP_BENCH_SWEEP", value_parser = clap::builder::BoolishValueParser::new(), requires = "slo", conflicts_with_all = ["rate", "ramp_up"])]
    pub sweep: bool,

    /// What a step must meet, e.g. 'p99_latency<=2s,ttft_p95<=500ms,error_rate<=1%'
    /// (quantiles p50 p90 p95 p99 p99_9 of latency, ttft, tpot, itl; error_rate in %). With
    /// --rate steps, each step is checked and marked.
    #[arg(long, value_name = "RULES", env = "LLMTOP_BENCH_SLO", value_parser = crate::io::loadgen::sweep::parse_slo)]
    pub slo: Option<crate::io::loadgen::sweep::Slo>,

    /// What --sweep searches: the request rate (open loop, the default) or the concurrency
    /// (closed loop, from -c down: the most requests in flight that still meet --slo).
    #[arg(long, value_enum, env = "LLMTOP_BENCH_SWEEP_OVER", default_value_t = SweepOver::Rate, requires = "sweep")]
    pub sweep_over: SweepOver,

    /// Most steps of a --sweep after the throughput probe.
    #[arg(long, value_name = "N", env = "LLMTOP_BENCH_SWEEP_STEPS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub sweep_steps: u64,

    /// A --sweep stops when the passing and failing rates are within this share of each other.
    #[arg(long, value_name = "P%", env = "LLMTOP_BENCH_SWEEP_TOLERANCE", default_value = "5%", value_parser = parse_percent)]
    pub sweep_tolerance: f64,

    /// Synthetic prompts of about MEAN[:STDDEV] tokens each (normal; common words, one token
    /// each in GPT-style tokenizers), up to 1000 distinct ones used in turn, instead of --prompt.
    #[arg(long, value_name = "MEAN[:SD]", env = "LLMTOP_BENCH_INPUT_TOKENS", value_parser = crate::io::loadgen::workload::parse_lengths, conflicts_with = "prompts")]
    pub input_tokens: Option<crate::io::loadgen::workload::Lengths>,

    /// Each request's completion limit drawn from MEAN[:STDDEV] tokens instead of --max-tokens;
    /// add --ignore-eos where the server honours it so the output is that long.
    #[arg(long, value_name = "MEAN[:SD]", env = "LLMTOP_BENCH_OUTPUT_TOKENS", value_parser = crate::io::loadgen::workload::parse_lengths)]
    pub output_tokens: Option<crate::io::loadgen::workload::Lengths>,

    /// Send `ignore_eos: true` (vLLM, SGLang): generate exactly the completion limit. Other
    /// servers may refuse the field.
    #[arg(long, env = "LLMTOP_BENCH_IGNORE_EOS", value_parser = clap::builder::BoolishValueParser::new())]
    pub ignore_eos: bool,

    /// Scrape the gateway's Prometheus metrics while the run goes and put its own figures
    /// (requests, errors, latency and TTFT from its histograms, queue time, KV cache) beside the
    /// client's: a URL, or `none`. Default: the target's /metrics, used when it answers as a
    /// known gateway.
    #[arg(long, value_name = "URL|none", env = "LLMTOP_BENCH_METRICS")]
    pub metrics: Option<String>,

    /// Show the run live in the dashboard's panels (the bench's requests on the bench line and,
    /// with no /metrics, in the charts; the gateway's /metrics beside them); q or Ctrl-C ends it
    /// and prints the summary (partial, exit 130, if the run had not finished).
    #[arg(long, env = "LLMTOP_BENCH_TUI", value_parser = clap::builder::BoolishValueParser::new(), conflicts_with_all = ["sweep", "compare"])]
    pub tui: bool,

    #[command(flatten)]
    pub ui: UiArgs,

    /// Send this many requests first and leave them out of every figure (cold caches, new
    /// connections); rates are measured from the first counted request.
    #[arg(
        long,
        value_name = "N",
        env = "LLMTOP_BENCH_WARMUP",
        default_value_t = 0
    )]
    pub warmup: u64,

    /// Stop sending after this long (requests in flight still finish).
    #[arg(long, value_name = "D", env = "LLMTOP_BENCH_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Prompt every request sends.
    #[arg(
        long,
        env = "LLMTOP_BENCH_PROMPT",
        default_value = crate::io::probe::DEFAULT_PROMPT,
        conflicts_with = "prompts"
    )]
    pub prompt: String,

    /// JSON Lines file of prompts, used in turn: each line a JSON string or an object with "prompt".
    #[arg(long, value_name = "FILE.jsonl", env = "LLMTOP_BENCH_PROMPTS")]
    pub prompts: Option<PathBuf>,

    /// Stream the answers (server-sent events): needed for TTFT, TPOT and inter-token latency.
    #[arg(long, env = "LLMTOP_BENCH_STREAM", value_parser = clap::builder::BoolishValueParser::new())]
    pub stream: bool,

    /// Most completion tokens each request asks for.
    #[arg(long, env = "LLMTOP_BENCH_MAX_TOKENS", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Output format of the summary.
    #[arg(long, env = "LLMTOP_BENCH_FORMAT", value_enum, default_value_t = BenchFormat::Text)]
    pub format: BenchFormat,

    /// Base URL of the OpenAI-compatible API (default: the URL's origin).
    #[arg(long, env = "LLMTOP_BENCH_API_BASE")]
    pub api_base: Option<String>,

    /// Read the API key from this file (default: $LLMTOP_API_KEY, then $OPENAI_API_KEY).
    #[arg(long, value_name = "PATH", env = "LLMTOP_BENCH_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Read the API key from this environment variable (after --api-key-file, before the defaults).
    #[arg(
        long,
        value_name = "VAR",
        env = "LLMTOP_BENCH_API_KEY_ENV",
        conflicts_with = "api_key_file"
    )]
    pub api_key_env: Option<String>,

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
    pub headers: Vec<crate::base::secret::HeaderLine>,

    /// Service-level objectives for goodput, e.g. ttft=500ms,tpot=50ms,e2e=2s.
    #[arg(long, value_name = "SLOS", env = "LLMTOP_BENCH_GOODPUT", value_parser = crate::io::loadgen::parse_goodput)]
    pub goodput: Option<crate::io::loadgen::Slo>,

    /// Seed for the open-loop arrival times (default: from entropy).
    #[arg(long, env = "LLMTOP_BENCH_SEED")]
    pub seed: Option<u64>,

    /// Config file with price rows (default: ~/.config/llmtop/config.toml).
    #[arg(long, value_name = "PATH", env = "LLMTOP_BENCH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Append every request's result to this file (the `--record` format; no credentials).
    #[arg(long, value_name = "FILE", env = "LLMTOP_BENCH_RECORD")]
    pub record: Option<PathBuf>,

    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// A file written with --record.
    #[arg(value_name = "FILE", env = "LLMTOP_REPLAY_FILE")]
    pub file: PathBuf,

    /// Config file with user dialects, price rows and keys, as for the live dashboard.
    #[arg(long, value_name = "PATH", env = "LLMTOP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Playback speed to start at: 1, 2, 4, 8, 16, 32 or 64 (`<` and `>` change it).
    #[arg(long, env = "LLMTOP_REPLAY_SPEED", default_value_t = 1, value_parser = parse_speed)]
    pub speed: u32,

    /// Write logs here (default: the platform's state directory).
    #[arg(long, env = "LLMTOP_LOG_FILE")]
    pub log_file: Option<PathBuf>,

    #[command(flatten)]
    pub redact: RedactArgs,

    #[command(flatten)]
    pub ui: UiArgs,
}

/// `10%` or `10`: a share of at least 0 (`0%` fails on any regression beyond noise).
fn parse_regression_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.trim_end_matches('%').trim().parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p / 100.0),
        _ => Err(format!("{text:?}: give a percentage, e.g. 10%")),
    }
}

/// `5%` or `0.05`: a share, above 0 and below 1.
fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "{text:?}: give a percentage between 0% and 100%, e.g. 5%"
        )),
    }
}

fn parse_speed(text: &str) -> Result<u32, String> {
    match text.trim().trim_start_matches(['x', '×']).parse::<u32>() {
        Ok(n) if n.is_power_of_two() && n <= 64 => Ok(n),
        _ => Err(format!(
            "{text:?}: the speed is one of 1, 2, 4, 8, 16, 32, 64"
        )),
    }
}

pub use crate::base::format::parse_duration;

/// `llmtop bench --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    /// A readable table.
    Text,
    /// One JSON object, shaped as `docs/bench-schema.json` says.
    Json,
    /// A header line and one row; the column list is stable.
    Csv,
}

impl From<&TargetArgs> for crate::io::config::TargetSpec {
    fn from(a: &TargetArgs) -> Self {
        Self {
            url: a.url.clone(),
            more_urls: a.more_urls.clone(),
            prometheus: a.prometheus.clone(),
            selector: a.selector.clone(),
            instance_label: a.instance_label.clone(),
            prometheus_scrape_interval: a.prometheus_scrape_interval,
            thanos: a.thanos,
            basic_auth_user: a.basic_auth_user.clone(),
            basic_auth_password_env: a.basic_auth_password_env.clone(),
            basic_auth_password_file: a.basic_auth_password_file.clone(),
            demo: a.demo,
            interval: a.interval,
            timeout: a.timeout,
            headers: a.headers.clone(),
            bearer_token_env: a.bearer_token_env.clone(),
            bearer_token_file: a.bearer_token_file.clone(),
            dialect: a.dialect.clone(),
            api_base: a.api_base.clone(),
            api_key_env: a.api_key_env.clone(),
            api_key_file: a.api_key_file.clone(),
            model: a.model.clone(),
            history: a.history,
            max_series: a.max_series,
            max_models: a.max_models,
            max_body_mib: a.max_body_mib,
            record: a.record.clone(),
            tls: a.tls.settings(),
        }
    }
}

impl From<&UiArgs> for crate::front::tui::UiOptions {
    fn from(a: &UiArgs) -> Self {
        Self {
            window: a.window,
            theme: a.theme.clone(),
            no_color: a.no_color,
            ascii: a.ascii,
            color_depth: a.color_depth,
            no_mouse: a.no_mouse,
            bell: a.bell,
            alert_rules: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `LLMTOP_DEMO=1` must work like `LLMTOP_DEMO=true`: every on/off flag's variable takes the
    /// usual words for yes and no, and refuses anything else rather than guessing.
    #[test]
    fn every_boolean_variable_takes_one_and_zero_yes_and_no() {
        fn walk(cmd: &clap::Command, checked: &mut usize) {
            for arg in cmd.get_arguments() {
                if !matches!(arg.get_action(), clap::ArgAction::SetTrue) || arg.get_env().is_none()
                {
                    continue;
                }
                // The flag's own value parser, applied the way clap applies it to the variable.
                let probe = clap::Command::new("probe").arg(
                    clap::Arg::new("value")
                        .value_parser(arg.get_value_parser().clone())
                        .required(true),
                );
                let parse = |text: &str| {
                    probe
                        .clone()
                        .try_get_matches_from(["probe", text])
                        .ok()
                        .and_then(|m| m.get_one::<bool>("value").copied())
                };
                for (text, want) in [("1", true), ("yes", true), ("true", true), ("0", false)] {
                    assert_eq!(parse(text), Some(want), "--{} from {text:?}", arg.get_id());
                }
                assert_eq!(parse("no"), Some(false), "--{}", arg.get_id());
                assert_eq!(parse("maybe"), None, "--{}", arg.get_id());
                *checked += 1;
            }
            for sub in cmd.get_subcommands() {
                walk(sub, checked);
            }
        }
        let mut checked = 0;
        walk(&Cli::command(), &mut checked);
        assert!(checked >= 16, "only {checked} boolean flags found");
    }

    /// Every flag of every command can also be set from an `LLMTOP_*` variable.
    #[test]
    fn every_flag_reads_an_llmtop_environment_variable() {
        fn walk(cmd: &clap::Command, path: &str, offenders: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional() || id == "help" || id == "version" {
                    continue;
                }
                match arg.get_env().and_then(|e| e.to_str()) {
                    Some(var) if var.starts_with("LLMTOP_") => {}
                    other => offenders.push(format!(
                        "{path} --{} (env {other:?})",
                        arg.get_long().unwrap_or(id)
                    )),
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), offenders);
            }
        }
        let mut offenders = Vec::new();
        walk(&Cli::command(), "llmtop", &mut offenders);
        assert!(
            offenders.is_empty(),
            "flags without an LLMTOP_* env var: {offenders:#?}"
        );
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
    fn subcommands_need_a_target_and_the_dashboard_finds_one() {
        // With no target the dashboard looks for one on the machine (issue 15) ...
        let bare = Cli::try_parse_from(["llmtop"]).unwrap();
        assert!(bare.command.is_none() && bare.target.url.is_none());
        // ... while the headless commands still need to be told what to read.
        assert!(Cli::try_parse_from(["llmtop", "snapshot"]).is_err());
        assert!(Cli::try_parse_from(["llmtop", "cost"]).is_err());
        assert!(Cli::try_parse_from(["llmtop", "cost", "--tokens", "1M"]).is_ok());
        assert!(
            Cli::try_parse_from(["llmtop", "snapshot", "--prometheus", "http://p:9090"]).is_ok()
        );
        assert!(Cli::try_parse_from(["llmtop", "--demo"]).is_ok());
        assert!(
            Cli::try_parse_from(["llmtop", "gw:4000", "--header", "X-A: b", "-H", "X-B: c"])
                .is_ok()
        );
        let cli = Cli::try_parse_from(["llmtop", "snapshot", "--demo", "--for", "5s"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Snapshot(_))));
    }
    #[test]
    fn theme_from_the_file_is_used_only_when_no_flag_names_one() {
        use clap::Parser;
        let config = crate::io::config::Config::from_toml_str("theme = \"nord\"\n").unwrap();
        assert_eq!(config.theme.as_deref(), Some("nord"));
        let plain = Cli::try_parse_from(["llmtop", "--demo"]).unwrap();
        let chosen =
            crate::front::tui::choose_theme(&(&plain.ui).into(), config.theme.as_deref()).unwrap();
        let flagged = Cli::try_parse_from(["llmtop", "--demo", "--theme", "gruvbox"]).unwrap();
        let overridden =
            crate::front::tui::choose_theme(&(&flagged.ui).into(), config.theme.as_deref())
                .unwrap();
        if std::env::var_os("NO_COLOR").is_none() {
            assert_eq!(chosen.name, "nord");
            assert_eq!(overridden.name, "gruvbox");
        }
        assert_eq!(
            crate::io::config::Config::from_toml_str("").unwrap().theme,
            None
        );
    }

    #[test]
    fn named_targets_fill_in_what_flags_leave_unset() {
        use clap::Parser;
        let config = crate::io::config::Config::from_toml_str(
            r#"
[[target]]
name = "prod"
url = "https://gw.internal:4000"
headers = ["X-Scope-OrgID: team-a"]
bearer_token_env = "PROD_METRICS_TOKEN"
api_key_env = "PROD_LLM_KEY"
model = "gpt-4o-mini"
"#,
        )
        .unwrap();
        let cli = Cli::try_parse_from(["llmtop", "prod", "-H", "X-Extra: 1", "--model", "gpt-4o"])
            .unwrap();
        let t = config.resolve_target(&(&cli.target).into());
        assert_eq!(t.url.as_deref(), Some("https://gw.internal:4000"));
        assert_eq!(t.headers, ["X-Scope-OrgID: team-a", "X-Extra: 1"]);
        assert_eq!(t.bearer_token_env.as_deref(), Some("PROD_METRICS_TOKEN"));
        assert_eq!(t.api_key_env.as_deref(), Some("PROD_LLM_KEY"));
        assert_eq!(
            t.model.as_deref(),
            Some("gpt-4o"),
            "the flag wins over the file"
        );
        // A URL that is not a target name passes through untouched.
        let cli = Cli::try_parse_from(["llmtop", "gw:4000"]).unwrap();
        assert_eq!(
            config.resolve_target(&(&cli.target).into()).url.as_deref(),
            Some("gw:4000")
        );
        // Secrets are never inline.
        let inline = "[[target]]\nname = \"x\"\nurl = \"h:1\"\napi_key = \"sk-1\"\n";
        assert!(crate::io::config::Config::from_toml_str(inline).is_err());
    }
}
