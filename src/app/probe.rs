//! `llmtop probe`: send one chat completion through a gateway and print what it measured.
//!
//! The JSON field names are a contract for scripts: `model`, `ok`, `status`, `ttft_seconds`,
//! `latency_seconds`, `tokens` {`input`, `cached_input`, `output`}, `cost_usd`, `retries` and
//! `error` are always present; an unknown value is `null`, never 0.
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::app::cli::{ProbeArgs, ProbeFormat};
use crate::base::format;
use crate::base::pricing::PriceTable;
use crate::io::config::Config;
use crate::io::probe::limit::{ProbeLimiter, ProbeLimits};
use crate::io::probe::models::list_models;
use crate::io::probe::{
    ProbeErrorKind, ProbeRequest, ProbeResult, RetryPolicy, redacted_url, run_probe,
};
use anyhow::Context;

use crate::base::credentials::{self, KeySource};
use crate::base::secret::Secret;
use crate::io::source::scrape;

/// The answer is for a glance, not a transcript; JSON keeps at most this many characters.
pub const MAX_ANSWER_CHARS: usize = 4000;
/// How long the "which models exist" hint after an unknown model may take.
const MODEL_HINT_TIMEOUT: Duration = Duration::from_secs(5);
const MODEL_HINT_COUNT: usize = 20;

/// The API base: `--api-base` as given, else the origin of the URL (in any dashboard form).
pub fn resolve_api_base(url: Option<&str>, api_base: Option<&str>) -> anyhow::Result<url::Url> {
    if let Some(base) = api_base {
        let parsed = url::Url::parse(base.trim()).map_err(|e| {
            anyhow::anyhow!(
                "--api-base {:?} is not a URL ({e})",
                crate::base::secret::redact_url_text(base)
            )
        })?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "--api-base {}: only http and https are supported",
            redacted_url(&parsed)
        );
        return Ok(parsed);
    }
    let url = url.context("give a gateway URL, --api-base, or --demo")?;
    Ok(scrape::origin(&scrape::metrics_url(url)?))
}

/// Runs the command; an `Err` becomes the message on stderr and a failing exit code.
pub async fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    let prices = Config::load(args.config.as_deref())?.price_table();
    let (api_key, key_source) =
        credentials::resolve_api_key(args.api_key_file.as_deref(), args.api_key_env.as_deref())?;
    let headers = credentials::header_pairs(&args.headers)?;
    let gateway = crate::io::demo::spawn_quiet(args.demo).await?;
    let outcome = probe(
        args,
        gateway.as_ref().map(|g| g.base_url()),
        api_key,
        &key_source,
        headers,
        &prices,
    )
    .await;
    if let Some(gateway) = gateway {
        gateway.shutdown().await;
    }
    outcome
}

async fn probe(
    args: &ProbeArgs,
    demo_base: Option<String>,
    api_key: Option<Secret>,
    key_source: &KeySource,
    headers: Vec<(String, String)>,
    prices: &PriceTable,
) -> anyhow::Result<()> {
    let api_base = match demo_base {
        Some(base) => url::Url::parse(&base)?,
        None => resolve_api_base(args.url.as_deref(), args.api_base.as_deref())?,
    };
    let client = crate::base::net::http_client(&args.tls.settings())?;
    let retry = RetryPolicy {
        max_retries: args.retries,
        base_delay: args.retry_delay,
        ..RetryPolicy::default()
    };
    let mut request = ProbeRequest::new(api_base.clone(), &args.model, &args.prompt)
        .with_api_key(api_key.clone())
        .with_stream(args.stream)
        .with_max_tokens(Some(args.max_tokens))
        .with_timeout(args.timeout)
        .with_retry(retry);
    for (name, value) in headers {
        request = request.with_header(name, value);
    }
    let limiter = ProbeLimiter::new(ProbeLimits::new(args.probe_rpm, args.probe_concurrency));
    tracing::info!(
        model = %args.model,
        api_base = %redacted_url(&api_base),
        stream = args.stream,
        "probe starting"
    );
    let permit = limiter.acquire().await;
    let result = run_probe(&client, &request, None).await;
    drop(permit);

    let report = report_json(&result, prices, &api_base, args.stream);
    tracing::info!(
        model = %result.model,
        ok = result.ok,
        status = result.status,
        retries = result.retries,
        latency_ms = result.latency.as_millis() as u64,
        "probe finished"
    );
    let text = match args.format {
        ProbeFormat::Json => serde_json::to_string_pretty(&report)?,
        ProbeFormat::Text => report_text(&report, &result),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    if result.ok {
        return Ok(());
    }
    let mut message = result
        .error
        .clone()
        .unwrap_or_else(|| "the probe failed".to_string());
    if result.error_kind == Some(ProbeErrorKind::Auth) {
        message = format!("{message}; {}", key_source.describe());
    }
    if result.status == Some(404)
        && let Some(hint) = model_hint(&client, &api_base, api_key.as_ref(), &args.model).await
    {
        message = format!("{message}\n{hint}");
    }
    Err(anyhow::anyhow!(message))
}

/// After a 404: the models the gateway does offer, when it says and `model` is not among them.
async fn model_hint(
    client: &reqwest::Client,
    api_base: &url::Url,
    api_key: Option<&Secret>,
    model: &str,
) -> Option<String> {
    let ids = list_models(client, api_base, api_key, MODEL_HINT_TIMEOUT)
        .await
        .ok()?;
    if ids.is_empty() || ids.iter().any(|id| id == model) {
        return None;
    }
    let mut shown: Vec<&str> = ids
        .iter()
        .take(MODEL_HINT_COUNT)
        .map(String::as_str)
        .collect();
    if ids.len() > MODEL_HINT_COUNT {
        shown.push("…");
    }
    Some(format!("the gateway offers: {}", shown.join(", ")))
}

/// Output tokens per second after the first token (the inverse of TPOT).
fn tokens_per_second(result: &ProbeResult) -> Option<f64> {
    let tpot = result.tpot?.as_secs_f64();
    (tpot > 0.0).then(|| 1.0 / tpot)
}

/// The JSON object `--format json` prints.
pub fn report_json(
    result: &ProbeResult,
    prices: &PriceTable,
    api_base: &url::Url,
    stream: bool,
) -> Value {
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    let usage = result.usage;
    let cost = result.cost(prices);
    let answer = crate::io::probe::sse::truncate_chars(&result.answer, MAX_ANSWER_CHARS);
    let answer_truncated = result.text_truncated || answer.len() < result.answer.len();
    json!({
        "model": result.model,
        "ok": result.ok,
        "status": result.status,
        "error": result.error,
        "error_kind": result.error_kind.map(ProbeErrorKind::name),
        "api_base": redacted_url(api_base),
        "stream": stream,
        "ttft_seconds": secs(result.ttft),
        "time_to_first_answer_seconds": secs(result.time_to_first_answer),
        "latency_seconds": result.latency.as_secs_f64(),
        "tpot_seconds": secs(result.tpot),
        "tokens_per_second": tokens_per_second(result),
        "tokens": {
            "input": usage.map(|u| u.input),
            "cached_input": usage.map(|u| u.cached_input),
            "output": usage.map(|u| u.output),
            "reasoning": usage.map(|u| u.reasoning),
        },
        "cost_usd": cost.map(|c| c.total),
        "cost_usd_breakdown": cost.map(|c| json!({
            "input": c.input,
            "cached_input": c.cached_input,
            "output": c.output,
        })),
        "gateway_cost_usd": result.gateway_cost_usd,
        "finish_reason": result.finish_reason,
        "retries": result.retries,
        "keepalives": result.keepalives,
        "answer": answer,
        "answer_truncated": answer_truncated,
    })
}

/// The human summary: three lines of numbers, then the answer.
fn report_text(report: &Value, result: &ProbeResult) -> String {
    let f = |key: &str| report[key].as_f64();
    let t = |key: &str| report["tokens"][key].as_u64();
    let count = |v: Option<u64>| v.map_or_else(|| format::UNKNOWN.to_string(), |n| n.to_string());
    let verdict = if result.ok { "ok" } else { "FAILED" };
    let status = result
        .status
        .map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}"));
    let mode = if report["stream"].as_bool() == Some(true) {
        "streamed"
    } else {
        "not streamed"
    };
    let mut lines = vec![
        format!(
            "{}  {verdict}  {status}  {mode}  {}",
            result.model,
            report["api_base"].as_str().unwrap_or_default()
        ),
        format!(
            "ttft {}  first answer {}  latency {}  tpot {} ({})",
            format::seconds(f("ttft_seconds")),
            format::seconds(f("time_to_first_answer_seconds")),
            format::seconds(f("latency_seconds")),
            format::seconds(f("tpot_seconds")),
            f("tokens_per_second").map_or_else(
                || format::UNKNOWN.to_string(),
                |v| format!("{} tok/s", format::compact(v))
            ),
        ),
        format!(
            "tokens in {} (cached {})  out {} (reasoning {})  finish {}",
            count(t("input")),
            count(t("cached_input")),
            count(t("output")),
            count(t("reasoning")),
            result.finish_reason.as_deref().unwrap_or(format::UNKNOWN),
        ),
        format!(
            "cost {} (gateway {})  retries {}",
            format::usd(f("cost_usd")),
            format::usd(f("gateway_cost_usd")),
            result.retries
        ),
    ];
    let answer = report["answer"].as_str().unwrap_or_default().trim();
    if !answer.is_empty() {
        lines.push(String::new());
        lines.push(answer.to_string());
        if report["answer_truncated"].as_bool() == Some(true) {
            lines.push("[answer cut]".to_string());
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::probe::Usage;

    fn base() -> url::Url {
        url::Url::parse("http://127.0.0.1:4000").unwrap()
    }

    #[test]
    fn api_base_follows_the_dashboard_url_forms() {
        for input in [
            "127.0.0.1:4000",
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/metrics",
            "http://127.0.0.1:4000/v1/chat/completions?x=1",
        ] {
            assert_eq!(
                resolve_api_base(Some(input), None).unwrap().as_str(),
                "http://127.0.0.1:4000/",
                "{input}"
            );
        }
        assert_eq!(
            resolve_api_base(Some("gw:1"), Some("https://api.example/v1"))
                .unwrap()
                .as_str(),
            "https://api.example/v1"
        );
        assert!(resolve_api_base(None, None).is_err());
        assert!(resolve_api_base(Some("ftp://x"), None).is_err());
        let err = resolve_api_base(None, Some("http//user:pw@x?key=q"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw") && !err.contains("key=q"), "{err}");
    }

    #[test]
    fn unknown_values_are_null_never_zero() {
        let result = ProbeResult {
            model: "no-such-model".into(),
            ok: false,
            error: Some("cannot connect".into()),
            error_kind: Some(ProbeErrorKind::Connection),
            latency: Duration::from_millis(3),
            ..ProbeResult::default()
        };
        let j = report_json(&result, &PriceTable::builtin(), &base(), true);
        for key in [
            "status",
            "ttft_seconds",
            "time_to_first_answer_seconds",
            "tpot_seconds",
            "tokens_per_second",
            "cost_usd",
            "cost_usd_breakdown",
            "gateway_cost_usd",
            "finish_reason",
        ] {
            assert!(j[key].is_null(), "{key}: {}", j[key]);
        }
        for key in ["input", "cached_input", "output", "reasoning"] {
            assert!(j["tokens"][key].is_null(), "{key}");
        }
        assert_eq!(j["ok"], false);
        assert_eq!(j["retries"], 0);
        assert_eq!(j["error_kind"], "connection");
        assert_eq!(j["latency_seconds"], 0.003);
    }

    #[test]
    fn cost_uses_the_table_price_split_by_cache() {
        let result = ProbeResult {
            model: "gpt-4o-mini".into(),
            ok: true,
            usage: Some(Usage {
                input: 1000,
                cached_input: 400,
                output: 200,
                reasoning: 0,
            }),
            tpot: Some(Duration::from_millis(20)),
            answer: "x".repeat(MAX_ANSWER_CHARS + 10),
            ..ProbeResult::default()
        };
        let prices = PriceTable::builtin();
        let price = prices.lookup("gpt-4o-mini").unwrap();
        let j = report_json(&result, &prices, &base(), true);
        let expected = (600.0 * price.input
            + 400.0 * price.cached_input.unwrap_or(price.input)
            + 200.0 * price.output)
            / 1e6;
        let got = j["cost_usd"].as_f64().unwrap();
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        let parts = &j["cost_usd_breakdown"];
        let sum: f64 = ["input", "cached_input", "output"]
            .iter()
            .map(|k| parts[k].as_f64().unwrap())
            .sum();
        assert!((sum - got).abs() < 1e-15);
        assert!((j["tokens_per_second"].as_f64().unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(
            j["answer"].as_str().unwrap().chars().count(),
            MAX_ANSWER_CHARS
        );
        assert_eq!(j["answer_truncated"], true);
        let text = report_text(&j, &result);
        assert!(
            text.starts_with("gpt-4o-mini  ok  no response  streamed"),
            "{text}"
        );
        assert!(
            text.contains("tokens in 1000 (cached 400)  out 200"),
            "{text}"
        );
    }

    #[test]
    fn api_base_in_the_report_hides_credentials() {
        let url = url::Url::parse("http://user:pw-secret@127.0.0.1:4000/v1?key=q-secret").unwrap();
        let j = report_json(&ProbeResult::default(), &PriceTable::builtin(), &url, false);
        let shown = j["api_base"].as_str().unwrap();
        assert!(
            !shown.contains("pw-secret") && !shown.contains("q-secret"),
            "{shown}"
        );
    }

    #[test]
    fn debug_of_a_request_with_headers_shows_names_only() {
        let request = ProbeRequest::new(base(), "m", "p").with_header("X-Api-Key", "hdr-secret");
        let shown = format!("{request:?}");
        assert!(
            shown.contains("X-Api-Key") && !shown.contains("hdr-secret"),
            "{shown}"
        );
    }
}
