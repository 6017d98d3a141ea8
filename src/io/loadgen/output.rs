//! The summary as a readable table (`--format text`) or one CSV row (`--format csv`).
//!
//! Both read the JSON summary, so every format shows the same numbers.
use serde_json::Value;

use crate::base::format;

/// CSV columns, in order: (header, JSON pointer into the summary). A stable contract: columns are
/// only ever appended.
pub const CSV_COLUMNS: &[(&str, &str)] = &[
    ("model", "/model"),
    ("mode", "/mode"),
    ("stream", "/stream"),
    ("concurrency", "/concurrency"),
    ("rate", "/rate"),
    ("interrupted", "/interrupted"),
    ("total_time_seconds", "/total_time_seconds"),
    ("requests_done", "/requests_done"),
    ("requests_ok", "/requests_ok"),
    ("requests_failed", "/requests_failed"),
    ("success_rate", "/success_rate"),
    ("requests_per_second", "/requests_per_second"),
    ("latency_avg", "/latency_seconds/avg"),
    ("latency_min", "/latency_seconds/min"),
    ("latency_p50", "/latency_seconds/p50"),
    ("latency_p90", "/latency_seconds/p90"),
    ("latency_p95", "/latency_seconds/p95"),
    ("latency_p99", "/latency_seconds/p99"),
    ("latency_p99_9", "/latency_seconds/p99_9"),
    ("latency_max", "/latency_seconds/max"),
    ("service_avg", "/service_time_seconds/avg"),
    ("service_p50", "/service_time_seconds/p50"),
    ("service_p99", "/service_time_seconds/p99"),
    ("ttft_avg", "/ttft_seconds/avg"),
    ("ttft_p50", "/ttft_seconds/p50"),
    ("ttft_p95", "/ttft_seconds/p95"),
    ("ttft_p99", "/ttft_seconds/p99"),
    ("tpot_avg", "/tpot_seconds/avg"),
    ("tpot_p50", "/tpot_seconds/p50"),
    ("tpot_p95", "/tpot_seconds/p95"),
    ("tpot_p99", "/tpot_seconds/p99"),
    ("itl_avg", "/itl_seconds/avg"),
    ("itl_p50", "/itl_seconds/p50"),
    ("itl_p95", "/itl_seconds/p95"),
    ("itl_p99", "/itl_seconds/p99"),
    ("output_tokens_per_second", "/output_tokens_per_second"),
    ("input_tokens", "/tokens/input"),
    ("cached_input_tokens", "/tokens/cached_input"),
    ("output_tokens", "/tokens/output"),
    ("cost_usd", "/cost_usd"),
    ("cost_per_1k_requests_usd", "/cost_per_1k_requests_usd"),
    ("retries", "/retries"),
    ("goodput", "/goodput/fraction"),
    ("status_codes", "/status_codes"),
    ("errors", "/errors"),
];

/// The CSV header line.
pub fn csv_header() -> String {
    CSV_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// Header line and one row; an unknown value is an empty field, maps are `key:count;…`.
pub fn csv(summary: &Value) -> String {
    let row: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|(_, pointer)| csv_field(summary.pointer(pointer).unwrap_or(&Value::Null)))
        .collect();
    format!("{}\n{}", csv_header(), row.join(","))
}

/// A sweep's or a rate list's steps: `step,phase,asked_rate,pass` and then [`CSV_COLUMNS`], one
/// row per step (`steps` as in the JSON output's `steps`).
pub fn steps_csv(steps: &[Value]) -> String {
    // A concurrency sweep's steps are asked a concurrency, not a rate: that column instead.
    let asked = if steps.iter().any(|s| s["asked_concurrency"].is_u64()) {
        "asked_concurrency"
    } else {
        "asked_rate"
    };
    let mut out = format!("step,phase,{asked},pass,{}", csv_header());
    for step in steps {
        let mut row = vec![
            csv_field(&step["step"]),
            csv_field(&step["phase"]),
            csv_field(&step[asked]),
            csv_field(&step["pass"]),
        ];
        row.extend(
            CSV_COLUMNS
                .iter()
                .map(|(_, p)| csv_field(step["summary"].pointer(p).unwrap_or(&Value::Null))),
        );
        out.push('\n');
        out.push_str(&row.join(","));
    }
    out
}

/// One line for a finished step: what was asked, what came back, and the SLO's verdict.
pub fn step_line(step: &Value) -> String {
    let s = &step["summary"];
    let f = |p: &str| s.pointer(p).and_then(Value::as_f64);
    let asked = match (
        step["asked_concurrency"].as_u64(),
        step["asked_rate"].as_f64(),
    ) {
        (Some(c), _) => format!("{c} in flight"),
        (None, Some(r)) => format!("{r:.1}/s"),
        (None, None) => "closed loop".to_string(),
    };
    let verdict = match step["pass"].as_bool() {
        Some(true) => "pass".to_string(),
        Some(false) => {
            let failed: Vec<&str> = step["checks"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter(|c| c["pass"] == false)
                        .filter_map(|c| c["rule"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            format!("FAIL {}", failed.join(" "))
        }
        None => String::new(),
    };
    let saturated = if step["saturated"] == true {
        "  over-saturated"
    } else {
        ""
    };
    format!(
        "step {:>2} {:<10} asked {:>11}  got {:>7}/s  p50 {:>8}  p99 {:>8}  ok {:>6}  {verdict}{saturated}",
        step["step"].as_u64().unwrap_or(0),
        step["phase"].as_str().unwrap_or(""),
        asked,
        f("/requests_per_second").map_or("–".into(), |r| format!("{r:.1}")),
        format::seconds(f("/latency_seconds/p50")),
        format::seconds(f("/latency_seconds/p99")),
        format::percent(f("/success_rate")),
    )
    .trim_end()
    .to_string()
}

fn csv_field(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The human table.
pub fn text(s: &Value) -> String {
    let f = |p: &str| s.pointer(p).and_then(Value::as_f64);
    let u = |p: &str| s.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let secs = |p: &str| format::seconds(f(p));
    let mut out = Vec::new();
    let mode = match s["rate"].as_f64() {
        Some(rate) => format!("open loop, {} req/s Poisson", format::compact(rate)),
        None => "closed loop".to_string(),
    };
    out.push(format!(
        "{}  {}  {mode}, concurrency {}{}{}",
        s["model"].as_str().unwrap_or_default(),
        s["target"].as_str().unwrap_or_default(),
        u("/concurrency"),
        if s["stream"] == true {
            ", streamed"
        } else {
            ""
        },
        if s["interrupted"] == true {
            "  (interrupted: partial)"
        } else {
            ""
        },
    ));
    out.push(String::new());
    out.push("Summary".to_string());
    let row = |name: &str, value: String| format!("  {name:<18}{value}");
    out.push(row("Total time", secs("/total_time_seconds")));
    out.push(row(
        "Requests",
        format!(
            "{} done, {} ok, {} failed",
            u("/requests_done"),
            u("/requests_ok"),
            u("/requests_failed")
        ),
    ));
    out.push(row("Success rate", format::percent(f("/success_rate"))));
    out.push(row("Throughput", format::rate(f("/requests_per_second"))));
    out.push(row(
        "Output tokens",
        format!(
            "{} tok/s",
            format::compact_or_unknown(f("/output_tokens_per_second"))
        ),
    ));
    out.push(row(
        "Tokens",
        format!(
            "in {} (cached {})  out {}",
            u("/tokens/input"),
            u("/tokens/cached_input"),
            u("/tokens/output")
        ),
    ));
    out.push(row(
        "Cost",
        format!(
            "{}  ({} per 1k requests)",
            format::usd(f("/cost_usd")),
            format::usd(f("/cost_per_1k_requests_usd"))
        ),
    ));
    if let Some(goodput) = s["goodput"].as_object() {
        out.push(row(
            "Goodput",
            format!(
                "{} ({} met every SLO, {})",
                format::percent(goodput.get("fraction").and_then(Value::as_f64)),
                goodput
                    .get("requests_met")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                format::rate(goodput.get("requests_per_second").and_then(Value::as_f64)),
            ),
        ));
    }
    out.push(row("Retries", u("/retries").to_string()));
    out.push(String::new());
    out.push(format!(
        "  {:<18}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "(successful only)", "avg", "min", "p50", "p90", "p95", "p99", "p99.9", "max", "count"
    ));
    let mut dist = |name: &str, key: &str| {
        let d = &s[key];
        if d["count"].as_u64().unwrap_or(0) == 0 && key != "latency_seconds" {
            return;
        }
        let cell = |k: &str| format::seconds(d[k].as_f64());
        out.push(format!(
            "  {name:<18}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
            cell("avg"),
            cell("min"),
            cell("p50"),
            cell("p90"),
            cell("p95"),
            cell("p99"),
            cell("p99_9"),
            cell("max"),
            d["count"].as_u64().unwrap_or(0),
        ));
    };
    dist("Latency", "latency_seconds");
    if s["mode"] == "open" {
        dist("Service time", "service_time_seconds");
    }
    dist("TTFT", "ttft_seconds");
    dist("TPOT", "tpot_seconds");
    dist("Inter-token", "itl_seconds");
    out.push(String::new());
    let counts = |key: &str| {
        s[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "none".to_string())
    };
    let mut statuses = counts("status_codes");
    if u("/no_response") > 0 {
        statuses.push_str(&format!(", no response: {}", u("/no_response")));
    }
    out.push(row("Status codes", statuses));
    out.push(row("Errors", counts("errors")));
    if let Some(samples) = s["error_samples"].as_array() {
        for sample in samples.iter().filter_map(Value::as_str) {
            out.push(format!("    {sample}"));
        }
    }
    if s["server"].is_object() {
        out.push(String::new());
        out.extend(server_text(s));
    }
    out.join("\n")
}

/// The gateway's own figures beside the client's, with client − server: what the gateway's
/// histograms do not see is the wire, the client and any proxy in between.
fn server_text(s: &Value) -> Vec<String> {
    let srv = &s["server"];
    let url = srv["metrics_url"].as_str().unwrap_or("");
    if let Some(error) = srv["error"].as_str() {
        return vec![format!("Server ({url})  not measured: {error}")];
    }
    let mut out = vec![format!(
        "Server ({url}, {}{})",
        srv["dialect"].as_str().unwrap_or("?"),
        srv["note"]
            .as_str()
            .map_or(String::new(), |n| format!("; {n}"))
    )];
    out.push(format!(
        "  {:<14}{:>12}{:>12}{:>16}",
        "", "client", "server", "client − server"
    ));
    let f = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_f64);
    let line =
        |label: &str, c: Option<f64>, v: Option<f64>, show: &dyn Fn(Option<f64>) -> String| {
            let d = c.zip(v).map(|(c, v)| c - v);
            format!("  {label:<14}{:>12}{:>12}{:>16}", show(c), show(v), show(d))
        };
    // `+ 0.0` turns a -0 difference into 0.
    let count = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}", v + 0.0));
    let rate = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}/s", v + 0.0));
    let secs = |v: Option<f64>| match v {
        Some(v) if v < 0.0 => format!("-{}", format::seconds(Some(-v))),
        v => format::seconds(v),
    };
    out.push(line(
        "Requests",
        f(s, "/requests_done"),
        f(srv, "/requests"),
        &count,
    ));
    out.push(line(
        "Throughput",
        f(s, "/requests_per_second"),
        f(srv, "/requests_per_second"),
        &rate,
    ));
    out.push(line(
        "Errors",
        f(s, "/success_rate").map(|r| 1.0 - r),
        f(srv, "/error_ratio"),
        &|v| format::percent(v),
    ));
    for (label, client, server) in [
        (
            "Latency p50",
            "/latency_seconds/p50",
            "/latency_seconds/p50",
        ),
        (
            "Latency p95",
            "/latency_seconds/p95",
            "/latency_seconds/p95",
        ),
        ("TTFT p50", "/ttft_seconds/p50", "/ttft_seconds/p50"),
        ("TTFT p95", "/ttft_seconds/p95", "/ttft_seconds/p95"),
    ] {
        out.push(line(label, f(s, client), f(srv, server), &secs));
    }
    let mut engine = Vec::new();
    if let Some(q) = f(srv, "/queue_time_seconds/p50") {
        engine.push(format!(
            "queue time p50 {} p95 {}",
            format::seconds(Some(q)),
            format::seconds(f(srv, "/queue_time_seconds/p95"))
        ));
    }
    if let Some(kv) = f(srv, "/kv_cache_usage") {
        engine.push(format!("KV cache {}", format::percent(Some(kv))));
    }
    if let Some(n) = f(srv, "/queued") {
        engine.push(format!("{n:.0} waiting"));
    }
    if !engine.is_empty() {
        out.push(format!("  Engine        {}", engine.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_flattens() {
        let s = json!({
            "model": "a,\"b\"",
            "rate": null,
            "status_codes": {"200": 3, "500": 1},
            "latency_seconds": {"p50": 0.25},
        });
        let out = csv(&s);
        let (header, row) = out.split_once('\n').unwrap();
        assert_eq!(header, csv_header());
        let fields: Vec<&str> = row.split(',').collect();
        assert!(row.starts_with("\"a,\"\"b\"\"\","), "{row}");
        assert!(row.contains("200:3;500:1"), "{row}");
        // The quoted model spans two split pieces.
        assert_eq!(fields.len(), CSV_COLUMNS.len() + 1);
        assert_eq!(fields[15], "0.25");
    }

    #[test]
    fn header_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for (name, pointer) in CSV_COLUMNS {
            assert!(seen.insert(*name), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            assert!(pointer.starts_with('/'));
        }
    }
}
