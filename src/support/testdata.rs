//! A fixed, deterministic data set (seed-dialect expositions over ten minutes) for render
//! snapshots, benchmarks and documentation captures: the same screen every run.
use crate::base::dialect;
use crate::base::exposition;
use crate::model::store::{StoreLimits, TargetStore};

/// Start of the data set (unix seconds): 2026-11-26T10:00:00Z.
pub const START: f64 = 1_795_687_200.0;
/// Seconds between scrapes.
pub const INTERVAL: f64 = 1.0;
/// Scrapes in the data set.
pub const SCRAPES: usize = 600;

const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

struct Model {
    name: &'static str,
    rps: f64,
    error_ratio: f64,
    /// Median latency, seconds.
    median: f64,
    prompt: f64,
    completion: f64,
}

const MODELS: [Model; 4] = [
    Model {
        name: "deepseek-chat",
        rps: 9.0,
        error_ratio: 0.01,
        median: 0.8,
        prompt: 420.0,
        completion: 180.0,
    },
    Model {
        name: "gpt-4o",
        rps: 3.0,
        error_ratio: 0.02,
        median: 1.4,
        prompt: 900.0,
        completion: 250.0,
    },
    Model {
        name: "deepseek-reasoner",
        rps: 1.5,
        error_ratio: 0.0,
        median: 4.0,
        prompt: 300.0,
        completion: 900.0,
    },
    Model {
        name: "gpt-4o-mini",
        rps: 4.0,
        error_ratio: 0.005,
        median: 0.4,
        prompt: 250.0,
        completion: 90.0,
    },
];

/// Cumulative share of requests at or under `le` for a log-logistic latency around `median`.
fn share_under(le: f64, median: f64) -> f64 {
    let k = 3.0;
    1.0 / (1.0 + (median / le).powf(k))
}

/// Running totals of one model, advanced one scrape at a time so every counter stays monotonic.
#[derive(Clone, Default)]
struct Totals {
    ok: f64,
    errors: f64,
    buckets: [f64; BOUNDS.len() + 1],
    latency_sum: f64,
    ttft_buckets: [f64; BOUNDS.len() + 1],
    ttft_sum: f64,
    prompt: f64,
    completion: f64,
}

fn advance(totals: &mut [Totals], t: f64) {
    // A traffic wave, and an error spell with slow upstreams from t=300 s to t=360 s.
    let wave = 1.0 + 0.45 * (t / 90.0).sin();
    let spell = (300.0..360.0).contains(&t);
    for (m, tot) in MODELS.iter().zip(totals.iter_mut()) {
        let requests = (m.rps * wave * 4.0).round() / 4.0;
        let error_ratio = if spell {
            m.error_ratio * 8.0 + 0.02
        } else {
            m.error_ratio
        };
        let errors = (requests * error_ratio * 4.0).round() / 4.0;
        tot.ok += requests - errors;
        tot.errors += errors;
        let median = if spell { m.median * 1.8 } else { m.median };
        for (i, le) in BOUNDS.iter().enumerate() {
            tot.buckets[i] += (requests * share_under(*le, median) * 4.0).round() / 4.0;
            tot.ttft_buckets[i] += (requests * share_under(*le, median / 6.0) * 4.0).round() / 4.0;
        }
        tot.buckets[BOUNDS.len()] += requests;
        tot.ttft_buckets[BOUNDS.len()] += requests;
        tot.latency_sum += requests * median;
        tot.ttft_sum += requests * median / 6.0;
        tot.prompt += (requests * m.prompt).round();
        tot.completion += (requests * m.completion).round();
    }
}

fn render_histogram(out: &mut String, name: &str, help: &str, rows: &[(&str, &[f64], f64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
    for (model, buckets, sum) in rows {
        for (i, le) in BOUNDS.iter().enumerate() {
            out.push_str(&format!(
                "{name}_bucket{{le=\"{le}\",model=\"{model}\"}} {:.1}\n",
                buckets[i]
            ));
        }
        let count = buckets[BOUNDS.len()];
        out.push_str(&format!(
            "{name}_bucket{{le=\"+Inf\",model=\"{model}\"}} {count:.1}\n"
        ));
        out.push_str(&format!("{name}_count{{model=\"{model}\"}} {count:.1}\n"));
        out.push_str(&format!("{name}_sum{{model=\"{model}\"}} {sum:.3}\n"));
    }
}

fn render(totals: &[Totals], t: f64) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP deepseek_requests_total Total requests\n# TYPE deepseek_requests_total counter\n",
    );
    for (m, tot) in MODELS.iter().zip(totals) {
        out.push_str(&format!(
            "deepseek_requests_total{{model=\"{}\",status=\"success\"}} {:.1}\n",
            m.name, tot.ok
        ));
        if tot.errors > 0.0 {
            out.push_str(&format!(
                "deepseek_requests_total{{model=\"{}\",status=\"error\"}} {:.1}\n",
                m.name, tot.errors
            ));
        }
    }
    let latency: Vec<(&str, &[f64], f64)> = MODELS
        .iter()
        .zip(totals)
        .map(|(m, tot)| (m.name, &tot.buckets[..], tot.latency_sum))
        .collect();
    render_histogram(
        &mut out,
        "deepseek_request_latency_seconds",
        "Request latency",
        &latency,
    );
    let ttft: Vec<(&str, &[f64], f64)> = MODELS
        .iter()
        .zip(totals)
        .map(|(m, tot)| (m.name, &tot.ttft_buckets[..], tot.ttft_sum))
        .collect();
    render_histogram(
        &mut out,
        "deepseek_time_to_first_token_seconds",
        "Time to first token",
        &ttft,
    );
    out.push_str(
        "# HELP deepseek_tokens_total Tokens used\n# TYPE deepseek_tokens_total counter\n",
    );
    for (m, tot) in MODELS.iter().zip(totals) {
        for (kind, v) in [
            ("prompt", tot.prompt),
            ("completion", tot.completion),
            ("total", tot.prompt + tot.completion),
        ] {
            out.push_str(&format!(
                "deepseek_tokens_total{{model=\"{}\",type=\"{kind}\"}} {v:.1}\n",
                m.name
            ));
        }
    }
    out.push_str(
        "# HELP deepseek_active_requests Active requests\n# TYPE deepseek_active_requests gauge\n",
    );
    out.push_str(&format!(
        "deepseek_active_requests {:.1}\n",
        (12.0 + (t / 30.0).sin() * 5.0).round()
    ));
    out.push_str(
        "# HELP deepseek_cache_hit_ratio Cache hit ratio\n# TYPE deepseek_cache_hit_ratio gauge\n",
    );
    out.push_str("deepseek_cache_hit_ratio 0.42\n");
    out
}

/// Every exposition of the data set, oldest first.
pub fn expositions() -> Vec<String> {
    let mut totals = vec![Totals::default(); MODELS.len()];
    (0..SCRAPES)
        .map(|i| {
            let t = i as f64 * INTERVAL;
            advance(&mut totals, t);
            render(&totals, t)
        })
        .collect()
}

/// The whole data set ingested into a store named `demo`, through the real parser and dialect.
pub fn store() -> TargetStore {
    let dialects = dialect::builtin();
    let mut store = TargetStore::new("demo", StoreLimits::default());
    for (i, text) in expositions().iter().enumerate() {
        let parsed = exposition::parse(text);
        let d = dialect::detect(&dialects, &parsed).map(|d| d.name.clone());
        let mapped = dialects
            .iter()
            .find(|x| Some(&x.name) == d.as_ref())
            .map(|x| x.map(&parsed, "demo"))
            .unwrap_or_default();
        store.health.reports_failures = d.is_some();
        store.health.dialect = d;
        store.ingest(START + i as f64 * INTERVAL, &mapped.samples);
    }
    store
}
