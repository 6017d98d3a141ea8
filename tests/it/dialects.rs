//! Every built-in dialect against its gateway's exposition: parse → detect → map → two scrapes into
//! a `TargetStore` ten seconds apart, the second with known increments, then the canonical figures
//! checked against numbers worked out by hand in the comments.
//!
//! The scrapes sit exactly on the range boundaries (t0 = eval − range), so PromQL's extrapolation
//! factor is 1: a rate is the increment over 10 s, and `histogram_quantile` sees the per-bucket
//! increments divided by 10, which leaves every quantile equal to the one of the increments.
use llmtop::base::dialect::{self, ALL_MODELS, Dialect};
use llmtop::base::exposition::{Labels, parse};
use llmtop::base::pricing::PriceTable;
use llmtop::base::signal::Signal;
use llmtop::model::stats::{self, Figures};
use llmtop::model::store::{SeriesKey, StoreLimits, TargetStore};

const T0: f64 = 1_767_225_600.0;
const T1: f64 = T0 + 10.0;
const RANGE: f64 = 10.0;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/metrics/{name}.prom",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn has(labels: &Labels<'_>, selector: &[(&str, &str)]) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(*v))
}

/// Rewrites the value of every sample line for which `f` returns a new value; returns how many.
fn edit(text: &str, mut f: impl FnMut(&str, &Labels<'_>, f64) -> Option<f64>) -> (String, usize) {
    let mut out = String::with_capacity(text.len() + 256);
    let mut edited = 0;
    for line in text.lines() {
        let one = parse(line);
        match one
            .samples
            .first()
            .and_then(|s| f(s.name, &s.labels, s.value))
        {
            Some(value) => {
                let (series, _) = line.rsplit_once(' ').expect("a sample line has a value");
                out.push_str(&format!("{series} {value}"));
                edited += 1;
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    (out, edited)
}

/// Adds `delta` to the one sample `name` whose labels include `selector`.
#[track_caller]
fn add(text: &str, name: &str, selector: &[(&str, &str)], delta: f64) -> String {
    let (out, n) = edit(text, |n, l, v| {
        (n == name && has(l, selector)).then_some(v + delta)
    });
    assert_eq!(n, 1, "{name} {selector:?} must name exactly one series");
    out
}

/// Sets the one sample `name` whose labels include `selector` to `value` (gauges).
#[track_caller]
fn set(text: &str, name: &str, selector: &[(&str, &str)], value: f64) -> String {
    let (out, n) = edit(text, |n, l, _| {
        (n == name && has(l, selector)).then_some(value)
    });
    assert_eq!(n, 1, "{name} {selector:?} must name exactly one series");
    out
}

/// Records `n` observations of `value` (in the family's own unit) into the one histogram series of
/// `family` whose labels include `selector`: every bucket with `le >= value`, `_count` and `_sum`.
#[track_caller]
fn observe(text: &str, family: &str, selector: &[(&str, &str)], value: f64, n: f64) -> String {
    let (bucket, count, sum) = (
        format!("{family}_bucket"),
        format!("{family}_count"),
        format!("{family}_sum"),
    );
    let mut counts = 0;
    let (out, _) = edit(text, |name, labels, v| {
        if !has(labels, selector) {
            return None;
        }
        if name == bucket {
            let le: f64 = labels.get("le")?.parse().expect("le parses");
            (value <= le).then_some(v + n)
        } else if name == count {
            counts += 1;
            Some(v + n)
        } else if name == sum {
            Some(v + n * value)
        } else {
            None
        }
    });
    assert_eq!(
        counts, 1,
        "{family} {selector:?} must name exactly one series"
    );
    out
}

#[track_caller]
fn close(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    let tolerance = 1e-9 * expected.abs();
    assert!(
        (a - expected).abs() <= tolerance,
        "expected {expected}, got {a} (off by {})",
        a - expected
    );
}

/// A target scraped twice: `t0` at T0 and `t1` at T1, through detection and the detected dialect.
struct Run {
    dialect: Dialect,
    store: TargetStore,
}

impl Run {
    #[track_caller]
    fn new(expected_dialect: &str, target: &str, t0: &str, t1: &str) -> Self {
        let dialects = dialect::builtin();
        let mut store = TargetStore::new(target, StoreLimits::default());
        let mut detected: Option<Dialect> = None;
        for (time, text) in [(T0, t0), (T1, t1)] {
            let expo = parse(text);
            assert_eq!(expo.skipped_count, 0, "skipped: {:?}", expo.skipped);
            let d = dialect::detect(&dialects, &expo).expect("a dialect is detected");
            assert_eq!(d.name, expected_dialect);
            let mapped = d.map(&expo, target);
            assert_eq!(mapped.rejected_histograms, 0);
            store.ingest(time, &mapped.samples);
            store.describe(&mapped.descriptions);
            detected = Some(d.clone());
        }
        store.health.dialect = Some(expected_dialect.to_string());
        // As the session does: only a dialect with a failure family makes "no failures" a zero.
        store.health.reports_failures = detected
            .as_ref()
            .is_some_and(|d| d.provides(llmtop::base::signal::Signal::RequestsFailed));
        assert_eq!(store.health.rejected_histograms, 0);
        assert_eq!(store.health.resets, 0);
        Self {
            dialect: detected.expect("two scrapes"),
            store,
        }
    }

    fn figures(&self, model: Option<&str>) -> Figures {
        let one;
        let models = match model {
            Some(m) => {
                one = [m];
                Some(&one[..])
            }
            None => None,
        };
        stats::figures(&self.store, &PriceTable::default(), models, T1, RANGE)
    }

    fn rate(&self, signal: Signal, model: &str) -> Option<f64> {
        self.store.sum_rate(signal, Some(&[model]), T1, RANGE)
    }

    fn p95(&self, signal: Signal, model: &str) -> Option<f64> {
        self.store.quantile(0.95, signal, Some(&[model]), T1, RANGE)
    }

    /// The value of one model's gauge at T1 (summed over its raw series, averaged for ratios).
    fn gauge(&self, signal: Signal, model: &str) -> Option<f64> {
        let key = SeriesKey::new(signal, model);
        self.store.samples(&key, T1, T1).last().map(|&(_, v)| v)
    }

    #[track_caller]
    fn provides_exactly(&self, signals: &[Signal]) {
        assert_eq!(self.dialect.signals(), signals, "{}", self.dialect.name);
        for s in Signal::ALL {
            assert_eq!(self.dialect.provides(s), signals.contains(&s), "{s:?}");
        }
    }
}

use Signal::*;

#[test]
fn seed_requests_by_status_tokens_latency_and_gauges() {
    let t0 = fixture("seed");
    let chat = [("model", "deepseek-chat")];
    let mut t1 = add(
        &t0,
        "deepseek_requests_total",
        &[("model", "deepseek-chat"), ("status", "success")],
        30.0,
    );
    t1 = add(
        &t1,
        "deepseek_requests_total",
        &[("model", "deepseek-chat"), ("status", "error")],
        2.0,
    );
    t1 = add(
        &t1,
        "deepseek_requests_total",
        &[("model", "deepseek-reasoner")],
        5.0,
    );
    t1 = add(&t1, "deepseek_tokens_total", &chat, 4800.0);
    t1 = add(
        &t1,
        "deepseek_tokens_total",
        &[("model", "deepseek-reasoner")],
        1500.0,
    );
    // The latency histogram has no model label: it is the whole gateway's.
    t1 = observe(&t1, "deepseek_request_latency_seconds", &[], 0.6, 36.0);
    t1 = observe(&t1, "deepseek_request_latency_seconds", &[], 2.0, 2.0);
    t1 = set(&t1, "deepseek_active_requests", &[], 9.0);
    t1 = set(&t1, "deepseek_cache_hit_ratio", &[], 0.5);
    let run = Run::new("seed", "seed-0", &t0, &t1);

    let f = run.figures(Some("deepseek-chat"));
    close(f.requests_per_second, 3.2); // (30 + 2) / 10
    close(f.errors_per_second, 0.2); // 2 / 10
    close(f.tokens_per_second.total, 480.0);
    assert_eq!(
        f.tokens_per_second.input, None,
        "the seed fixture only has type=\"total\""
    );
    let f = run.figures(Some("deepseek-reasoner"));
    close(f.requests_per_second, 0.5);
    close(f.tokens_per_second.total, 150.0);
    assert_eq!(run.rate(RequestsFailed, "deepseek-reasoner"), None);
    close(run.figures(Some("gpt-4o")).requests_per_second, 0.0);
    // 36 in (0.5, 0.75], 2 in (1, 2.5]: rank 0.95 × 38 = 36.1 falls in (1, 2.5] at 0.1 of its 2.
    close(run.p95(LatencySeconds, ALL_MODELS), 1.0 + 1.5 * 0.1 / 2.0);
    close(run.figures(None).latency_seconds.p95, 1.075);
    close(run.gauge(InFlight, ALL_MODELS), 9.0);
    close(run.gauge(CacheHitRatio, ALL_MODELS), 0.5);
    assert_eq!(run.p95(TtftSeconds, ALL_MODELS), None, "not in this scrape");
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensOutput,
        TokensTotal,
        LatencySeconds,
        TtftSeconds,
        InFlight,
        // The router's, limiter's and queue's families the demo exports (dialects/seed.toml).
        Queued,
        CacheHitRatio,
        QueueTimeSeconds,
        UpstreamState,
        UpstreamSuccesses,
        UpstreamFailures,
        UpstreamCooldowns,
        FallbacksOk,
        FallbacksFailed,
        RemainingRequests,
        RpmLimit,
    ]);
}

const LLAMA: &str = "meta-llama/Llama-3.1-8B-Instruct";

/// vLLM's prefix-cache counters (vllm/v1/metrics/loggers.py), absent from the shared fixture.
fn with_prefix_cache(text: &str) -> String {
    let text = text.trim_end();
    format!(
        "{text}\n\
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.\n\
# TYPE vllm:prefix_cache_queries_total counter\n\
vllm:prefix_cache_queries_total{{engine=\"0\",model_name=\"{LLAMA}\"}} 5.713942e+06\n\
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.\n\
# TYPE vllm:prefix_cache_hits_total counter\n\
vllm:prefix_cache_hits_total{{engine=\"0\",model_name=\"{LLAMA}\"}} 2.147584e+06\n"
    )
}

#[test]
fn vllm_finish_reasons_tokens_prefix_cache_latency_and_queue() {
    let t0 = with_prefix_cache(&fixture("vllm"));
    let m = [("model_name", LLAMA)];
    let reason = |r| [("model_name", LLAMA), ("finished_reason", r)];
    let mut t1 = add(&t0, "vllm:request_success_total", &reason("stop"), 40.0);
    t1 = add(&t1, "vllm:request_success_total", &reason("length"), 3.0);
    t1 = add(&t1, "vllm:request_success_total", &reason("abort"), 2.0);
    t1 = add(&t1, "vllm:prompt_tokens_total", &m, 52_000.0);
    t1 = add(&t1, "vllm:generation_tokens_total", &m, 12_000.0);
    t1 = add(&t1, "vllm:prefix_cache_queries_total", &m, 52_000.0);
    t1 = add(&t1, "vllm:prefix_cache_hits_total", &m, 30_000.0);
    t1 = observe(&t1, "vllm:e2e_request_latency_seconds", &m, 3.0, 40.0);
    t1 = observe(&t1, "vllm:e2e_request_latency_seconds", &m, 12.0, 5.0);
    t1 = observe(&t1, "vllm:time_to_first_token_seconds", &m, 0.03, 45.0);
    t1 = set(&t1, "vllm:num_requests_running", &m, 16.0);
    t1 = set(&t1, "vllm:num_requests_waiting", &m, 5.0);
    let run = Run::new("vllm", "vllm-0", &t0, &t1);

    let f = run.figures(Some(LLAMA));
    close(f.requests_per_second, 4.5); // 45 finished
    close(f.errors_per_second, 0.2); // the 2 aborts
    close(f.tokens_per_second.input, 5200.0);
    close(f.tokens_per_second.output, 1200.0);
    close(f.tokens_per_second.total, 6400.0);
    close(run.rate(TokensCachedInput, LLAMA), 3000.0);
    // 40 in (2.5, 5], 5 in (10, 15]: rank 42.75 lies 2.75 into the 5 of (10, 15].
    close(f.latency_seconds.p95, 10.0 + 5.0 * 2.75 / 5.0);
    // All 45 in (0.02, 0.04]: 0.02 + 0.02 × 0.95.
    close(f.ttft_seconds.p95, 0.039);
    close(run.gauge(InFlight, LLAMA), 16.0);
    close(run.gauge(Queued, LLAMA), 5.0);
    // vllm:kv_cache_usage_perc is a fraction despite its name: 0.4127604166666667 in the capture.
    close(run.gauge(KvCacheUsage, LLAMA), 0.4127604166666667);
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensCachedInput,
        TokensOutput,
        LatencySeconds,
        TtftSeconds,
        ItlSeconds,
        InFlight,
        Queued,
        KvCacheUsage,
        QueueTimeSeconds,
        PrefillTimeSeconds,
        DecodeTimeSeconds,
        Preemptions,
    ]);
}

#[test]
fn litellm_requests_failures_spend_tokens_and_latency() {
    let t0 = fixture("litellm");
    let gpt = [("model", "gpt-4o")];
    let ds = [("model", "deepseek-chat")];
    let status = |model, code| [("requested_model", model), ("status_code", code)];
    let mut t1 = add(
        &t0,
        "litellm_proxy_total_requests_metric_total",
        &status("gpt-4o", "200"),
        30.0,
    );
    t1 = add(
        &t1,
        "litellm_proxy_total_requests_metric_total",
        &status("gpt-4o", "429"),
        2.0,
    );
    t1 = add(
        &t1,
        "litellm_proxy_total_requests_metric_total",
        &status("deepseek-chat", "200"),
        10.0,
    );
    t1 = add(
        &t1,
        "litellm_proxy_failed_requests_metric_total",
        &[("requested_model", "gpt-4o")],
        2.0,
    );
    t1 = add(&t1, "litellm_spend_metric_total", &gpt, 0.35);
    t1 = add(&t1, "litellm_spend_metric_total", &ds, 0.012);
    t1 = add(&t1, "litellm_input_tokens_metric_total", &gpt, 60_000.0);
    t1 = add(&t1, "litellm_input_tokens_metric_total", &ds, 20_000.0);
    t1 = add(&t1, "litellm_output_tokens_metric_total", &gpt, 9_000.0);
    t1 = add(&t1, "litellm_output_tokens_metric_total", &ds, 5_000.0);
    t1 = observe(&t1, "litellm_request_total_latency_metric", &gpt, 2.2, 30.0);
    t1 = observe(&t1, "litellm_request_total_latency_metric", &ds, 4.2, 10.0);
    t1 = observe(
        &t1,
        "litellm_llm_api_time_to_first_token_metric",
        &gpt,
        0.7,
        20.0,
    );
    let run = Run::new("litellm", "litellm-0", &t0, &t1);

    let f = run.figures(Some("gpt-4o"));
    close(f.requests_per_second, 3.2);
    close(f.errors_per_second, 0.2);
    close(f.tokens_per_second.input, 6000.0);
    close(f.tokens_per_second.output, 900.0);
    close(f.tokens_per_second.total, 6900.0);
    close(f.cost_usd, 0.35);
    close(f.cost_usd_per_hour, 0.035 * 3600.0);
    close(f.latency_seconds.p95, 2.0 + 0.5 * 0.95); // all 30 in (2, 2.5]
    close(f.ttft_seconds.p95, 0.5 + 0.5 * 0.95); // all 20 in (0.5, 1]
    let f = run.figures(Some("deepseek-chat"));
    close(f.requests_per_second, 1.0);
    // No failure series for deepseek-chat yet: a dialect that reports failures means none.
    close(f.errors_per_second, 0.0);
    close(f.tokens_per_second.total, 2500.0);
    close(f.cost_usd, 0.012);
    close(f.latency_seconds.p95, 4.0 + 0.5 * 0.95);
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensOutput,
        SpendUsd,
        LatencySeconds,
        TtftSeconds,
        InFlight,
        QueueTimeSeconds,
        UpstreamState,
        UpstreamSuccesses,
        UpstreamFailures,
        UpstreamCooldowns,
        FallbacksOk,
        FallbacksFailed,
        RemainingRequests,
        RemainingTokens,
        RpmLimit,
        TpmLimit,
        BudgetRemainingUsd,
        BudgetMaxUsd,
        BudgetResetHours,
    ]);
}

#[test]
fn tgi_counts_duration_token_sums_and_gauges_under_the_target_name() {
    let t0 = fixture("tgi");
    let mut t1 = add(&t0, "tgi_request_count", &[], 20.0);
    t1 = add(&t1, "tgi_request_success", &[], 18.0);
    t1 = add(&t1, "tgi_request_failure", &[("err", "validation")], 1.0);
    t1 = add(&t1, "tgi_request_failure", &[("err", "overloaded")], 1.0);
    t1 = observe(&t1, "tgi_request_duration", &[], 6.0, 16.0);
    t1 = observe(&t1, "tgi_request_duration", &[], 20.0, 2.0);
    t1 = observe(&t1, "tgi_request_input_length", &[], 1500.0, 18.0);
    t1 = observe(&t1, "tgi_request_generated_tokens", &[], 350.0, 18.0);
    t1 = set(&t1, "tgi_queue_size", &[], 4.0);
    t1 = set(&t1, "tgi_batch_current_size", &[], 11.0);
    let run = Run::new("tgi", "tgi-0", &t0, &t1);
    assert_eq!(
        run.store.models(),
        ["tgi-0"],
        "no model label: the target's name"
    );

    let f = run.figures(Some("tgi-0"));
    close(f.requests_per_second, 2.0);
    close(f.errors_per_second, 0.2);
    close(f.tokens_per_second.input, 2700.0); // 18 × 1500 added to the _sum
    close(f.tokens_per_second.output, 630.0); // 18 × 350
    close(f.tokens_per_second.total, 3330.0);
    // 16 in (5.68, 8.52], 2 in (19.18, 28.76]: rank 17.1 lies 1.1 into the last 2.
    close(
        f.latency_seconds.p95,
        19.175105923288406 + (28.76265888493261 - 19.175105923288406) * 0.55,
    );
    assert_eq!(f.ttft_seconds.p95, None);
    close(run.gauge(InFlight, "tgi-0"), 11.0);
    close(run.gauge(Queued, "tgi-0"), 4.0);
    // tgi_batch_current_size is both the requests in flight and the running batch.
    close(run.gauge(BatchSize, "tgi-0"), 11.0);
    assert!(!run.dialect.provides(TtftSeconds));
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensOutput,
        LatencySeconds,
        InFlight,
        Queued,
        QueueTimeSeconds,
        BatchSize,
    ]);
}

#[test]
fn llamacpp_tokens_with_cached_prompt_and_slot_gauges() {
    let t0 = fixture("llamacpp");
    let mut t1 = add(&t0, "llamacpp:prompt_tokens_total", &[], 3_000.0);
    t1 = add(&t1, "llamacpp:prompt_tokens_cached_total", &[], 9_000.0);
    t1 = add(&t1, "llamacpp:tokens_predicted_total", &[], 2_500.0);
    t1 = set(&t1, "llamacpp:requests_processing", &[], 3.0);
    t1 = set(&t1, "llamacpp:requests_deferred", &[], 1.0);
    let run = Run::new("llamacpp", "llama-0", &t0, &t1);

    let f = run.figures(Some("llama-0"));
    // llama.cpp's prompt counter excludes cache-reused tokens; input is processed + cached.
    close(f.tokens_per_second.input, (3_000.0 + 9_000.0) / 10.0);
    close(run.rate(TokensCachedInput, "llama-0"), 900.0);
    close(f.tokens_per_second.output, 250.0);
    close(f.tokens_per_second.total, 1450.0);
    assert_eq!(f.requests_per_second, None);
    assert_eq!(f.latency_seconds.p95, None);
    close(run.gauge(InFlight, "llama-0"), 3.0);
    close(run.gauge(Queued, "llama-0"), 1.0);
    // Busy slots per decode call, as captured: llama.cpp's running batch.
    close(run.gauge(BatchSize, "llama-0"), 1.73421);
    for missing in [Requests, RequestsFailed, LatencySeconds, TtftSeconds] {
        assert!(!run.dialect.provides(missing), "{missing:?}");
    }
    run.provides_exactly(&[
        TokensInput,
        TokensCachedInput,
        TokensOutput,
        InFlight,
        Queued,
        BatchSize,
    ]);
}

const QWEN: &str = "Qwen/Qwen2.5-72B-Instruct";

#[test]
fn sglang_requests_aborts_tokens_latency_and_per_scheduler_gauges() {
    let t0 = fixture("sglang");
    let m = [("model_name", QWEN)];
    let mut t1 = add(&t0, "sglang:num_requests_total", &m, 25.0);
    t1 = add(&t1, "sglang:num_aborted_requests_total", &m, 1.0);
    t1 = add(&t1, "sglang:prompt_tokens_total", &m, 40_000.0);
    t1 = add(&t1, "sglang:cached_tokens_total", &m, 21_000.0);
    t1 = add(&t1, "sglang:generation_tokens_total", &m, 9_000.0);
    t1 = observe(&t1, "sglang:e2e_request_latency_seconds", &m, 5.0, 20.0);
    t1 = observe(&t1, "sglang:e2e_request_latency_seconds", &m, 30.0, 5.0);
    t1 = observe(&t1, "sglang:time_to_first_token_seconds", &m, 0.5, 25.0);
    t1 = observe(
        &t1,
        "sglang:inter_token_latency_seconds",
        &m,
        0.018,
        9_000.0,
    );
    let dp = |rank| [("model_name", QWEN), ("dp_rank", rank)];
    t1 = set(&t1, "sglang:num_running_reqs", &dp("0"), 44.0);
    t1 = set(&t1, "sglang:num_running_reqs", &dp("1"), 40.0);
    t1 = set(&t1, "sglang:num_queue_reqs", &dp("0"), 1.0);
    t1 = set(&t1, "sglang:num_queue_reqs", &dp("1"), 2.0);
    t1 = set(&t1, "sglang:cache_hit_rate", &dp("0"), 0.5);
    t1 = set(&t1, "sglang:cache_hit_rate", &dp("1"), 0.6);
    t1 = set(&t1, "sglang:token_usage", &dp("0"), 0.97);
    t1 = observe(&t1, "sglang:queue_time_seconds", &dp("0"), 0.15, 100.0);
    let run = Run::new("sglang", "sglang-0", &t0, &t1);
    assert_eq!(run.store.models(), [QWEN]);

    let f = run.figures(Some(QWEN));
    close(f.requests_per_second, 2.5);
    close(f.errors_per_second, 0.1);
    close(f.tokens_per_second.input, 4000.0);
    close(run.rate(TokensCachedInput, QWEN), 2100.0);
    close(f.tokens_per_second.output, 900.0);
    close(f.tokens_per_second.total, 4900.0);
    // 20 in (4, 6], 5 in (20, 40]: rank 23.75 lies 3.75 into the 5 of (20, 40].
    close(f.latency_seconds.p95, 20.0 + 20.0 * 3.75 / 5.0);
    close(f.ttft_seconds.p95, 0.4 + 0.2 * 0.95); // all 25 in (0.4, 0.6]
    close(run.p95(ItlSeconds, QWEN), 0.015 + 0.005 * 0.95); // all in (0.015, 0.02]
    // Two data-parallel schedulers: counts add up, the cache hit rate is their mean.
    close(run.gauge(InFlight, QWEN), 44.0 + 40.0);
    close(run.gauge(Queued, QWEN), 1.0 + 2.0);
    close(run.gauge(CacheHitRatio, QWEN), (0.5 + 0.6) / 2.0);
    // KV use per scheduler is 0.97 and 0.58: the fullest one is what saturates.
    close(run.gauge(KvCacheUsage, QWEN), 0.97);
    // 100 new waits, all in (0.1, 0.2]: p95 is 0.1 + 0.1 × 0.95.
    close(run.p95(QueueTimeSeconds, QWEN), 0.195);
    let sat = llmtop::model::saturation::saturation(&run.store, T1, RANGE, RANGE);
    assert!(sat.saturated, "{sat:?}");
    assert_eq!(sat.reasons, ["KV cache 97% full"]);
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensCachedInput,
        TokensOutput,
        LatencySeconds,
        TtftSeconds,
        ItlSeconds,
        InFlight,
        Queued,
        CacheHitRatio,
        KvCacheUsage,
        QueueTimeSeconds,
    ]);
}

const MINI: &str = "gpt-4o-mini";
const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const EMBED: &str = "text-embedding-3-small";

#[test]
fn otel_genai_counts_from_histograms_errors_by_error_type_and_token_sums() {
    let t0 = fixture("otel_genai");
    let ok = |model, response| {
        [
            ("gen_ai_request_model", model),
            ("gen_ai_response_model", response),
        ]
    };
    let failed = |model| [("gen_ai_request_model", model), ("error_type", "_OTHER")];
    let tokens = |model, ty| [("gen_ai_request_model", model), ("gen_ai_token_type", ty)];
    let (dur, usage) = (
        "gen_ai_server_request_duration_seconds",
        "gen_ai_client_token_usage_token",
    );
    let mini_ok = ok(MINI, "gpt-4o-mini-2024-07-18");
    let mut t1 = observe(&t0, dur, &mini_ok, 2.0, 30.0);
    t1 = observe(&t1, dur, &failed(MINI), 0.5, 3.0);
    t1 = observe(&t1, dur, &ok(CLAUDE, CLAUDE), 6.0, 8.0);
    t1 = observe(&t1, dur, &failed(CLAUDE), 40.0, 1.0);
    t1 = observe(&t1, dur, &ok(EMBED, EMBED), 0.2, 50.0);
    t1 = observe(&t1, usage, &tokens(MINI, "input"), 1500.0, 30.0);
    t1 = observe(&t1, usage, &tokens(MINI, "cached_input"), 1200.0, 10.0);
    t1 = observe(&t1, usage, &tokens(MINI, "output"), 300.0, 30.0);
    t1 = observe(&t1, usage, &tokens(CLAUDE, "input"), 4000.0, 8.0);
    t1 = observe(&t1, usage, &tokens(CLAUDE, "output"), 600.0, 8.0);
    t1 = observe(&t1, usage, &tokens(EMBED, "input"), 400.0, 50.0);
    let ttft = "gen_ai_server_time_to_first_token_seconds";
    t1 = observe(&t1, ttft, &mini_ok, 0.3, 20.0);
    t1 = observe(&t1, ttft, &ok(CLAUDE, CLAUDE), 1.2, 6.0);
    t1 = observe(
        &t1,
        "gen_ai_server_time_per_output_token_seconds",
        &mini_ok,
        0.012,
        20.0,
    );
    let run = Run::new("otel_genai", "envoy-ai-gw", &t0, &t1);
    assert_eq!(run.store.models(), [CLAUDE, MINI, EMBED]);
    // Each provider as an upstream, failures by error_type: Bedrock 8 + 1 failed, OpenAI
    // 30 + 3 failed (gpt-4o-mini) + 50 (embeddings); the worse error share first.
    let moved = llmtop::model::upstream::fallbacks(&run.store, T1, RANGE);
    let ups = llmtop::model::upstream::upstreams(&run.store, &moved, T1, RANGE);
    let names: Vec<&str> = ups.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["aws.bedrock", "openai"]);
    close(ups[0].requests_per_second, 0.9);
    close(ups[0].errors_per_second, 0.1);
    close(ups[1].requests_per_second, 8.3);
    close(ups[1].errors_per_second, 0.3);

    let f = run.figures(Some(MINI));
    close(f.requests_per_second, 3.3); // _count: 30 ok + 3 with error_type
    close(f.errors_per_second, 0.3);
    close(f.tokens_per_second.input, 4500.0); // _sum: 30 × 1500
    close(run.rate(TokensCachedInput, MINI), 1200.0);
    close(f.tokens_per_second.output, 900.0);
    close(f.tokens_per_second.total, 5400.0);
    // 3 in (0.32, 0.64], 30 in (1.28, 2.56]: rank 31.35 lies 28.35 into the 30.
    close(f.latency_seconds.p95, 1.28 + 1.28 * 28.35 / 30.0);
    close(f.ttft_seconds.p95, 0.25 + 0.25 * 0.95); // all 20 in (0.25, 0.5]
    close(run.p95(ItlSeconds, MINI), 0.01 + 0.015 * 0.95); // all 20 in (0.01, 0.025]
    let f = run.figures(Some(CLAUDE));
    close(f.requests_per_second, 0.9);
    close(f.errors_per_second, 0.1);
    close(f.tokens_per_second.total, 3200.0 + 480.0);
    // 8 in (5.12, 10.24], 1 in (20.48, 40.96]: rank 8.55 lies 0.55 into the last 1.
    close(f.latency_seconds.p95, 20.48 + 20.48 * 0.55);
    close(f.ttft_seconds.p95, 1.0 + 1.5 * 0.95);
    let f = run.figures(Some(EMBED));
    close(f.requests_per_second, 5.0);
    close(f.errors_per_second, 0.0);
    close(f.tokens_per_second.input, 2000.0);
    assert_eq!(
        f.tokens_per_second.output, None,
        "embeddings have no output tokens"
    );
    close(f.latency_seconds.p95, 0.16 + 0.16 * 0.95);
    for missing in [SpendUsd, InFlight, Queued, CacheHitRatio] {
        assert!(!run.dialect.provides(missing), "{missing:?}");
    }
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensCachedInput,
        TokensOutput,
        TokensTotal,
        LatencySeconds,
        TtftSeconds,
        ItlSeconds,
        UpstreamRequests,
        UpstreamFailures,
    ]);
}

#[test]
fn otel_genai_maps_the_semantic_convention_client_names_too() {
    // An application instrumented with the GenAI semantic conventions: gen_ai.client.operation.duration
    // (s) and gen_ai.client.token.usage ({token}, an annotation dropped in the Prometheus name).
    let scrape = |ok: u32, failed: u32, input: u32, output: u32| {
        format!(
            "# TYPE gen_ai_client_operation_duration_seconds histogram\n\
gen_ai_client_operation_duration_seconds_bucket{{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\",le=\"1.28\"}} {ok}\n\
gen_ai_client_operation_duration_seconds_bucket{{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\",le=\"+Inf\"}} {ok}\n\
gen_ai_client_operation_duration_seconds_sum{{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\"}} {ok}\n\
gen_ai_client_operation_duration_seconds_count{{gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\"}} {ok}\n\
gen_ai_client_operation_duration_seconds_bucket{{error_type=\"timeout\",gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\",le=\"1.28\"}} 0\n\
gen_ai_client_operation_duration_seconds_bucket{{error_type=\"timeout\",gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\",le=\"+Inf\"}} {failed}\n\
gen_ai_client_operation_duration_seconds_sum{{error_type=\"timeout\",gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\"}} {}\n\
gen_ai_client_operation_duration_seconds_count{{error_type=\"timeout\",gen_ai_operation_name=\"chat\",gen_ai_request_model=\"mistral-small\"}} {failed}\n\
# TYPE gen_ai_client_token_usage histogram\n\
gen_ai_client_token_usage_bucket{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"input\",le=\"+Inf\"}} {ok}\n\
gen_ai_client_token_usage_sum{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"input\"}} {input}\n\
gen_ai_client_token_usage_count{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"input\"}} {ok}\n\
gen_ai_client_token_usage_bucket{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"output\",le=\"+Inf\"}} {ok}\n\
gen_ai_client_token_usage_sum{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"output\"}} {output}\n\
gen_ai_client_token_usage_count{{gen_ai_request_model=\"mistral-small\",gen_ai_token_type=\"output\"}} {ok}\n",
            failed * 30
        )
    };
    let run = Run::new(
        "otel_genai",
        "app",
        &scrape(100, 4, 90_000, 20_000),
        &scrape(140, 6, 126_000, 28_000),
    );
    let f = run.figures(Some("mistral-small"));
    close(f.requests_per_second, (40.0 + 2.0) / 10.0);
    close(f.errors_per_second, 0.2);
    close(f.tokens_per_second.input, 3600.0);
    close(f.tokens_per_second.output, 800.0);
    // 40 in (0, 1.28], 2 above the last finite bound: rank 39.9 stays in the first bucket.
    close(f.latency_seconds.p95, 1.28 * 39.9 / 40.0);
}

#[test]
fn kong_requests_tokens_cost_and_millisecond_latencies() {
    let t0 = fixture("kong");
    let gpt = |consumer| [("ai_model", "gpt-4o"), ("consumer", consumer)];
    let mistral = |cache| {
        [
            ("ai_model", "mistral-large-latest"),
            ("cache_status", cache),
        ]
    };
    let with = |s: [(&'static str, &'static str); 2], ty| [s[0], s[1], ("token_type", ty)];
    let mut t1 = t0.clone();
    for (series, requests, prompt, completion, cost) in [
        (gpt("checkout-svc"), 12.0, 24_000.0, 3_000.0, Some(0.09)),
        (gpt("support-bot"), 20.0, 40_000.0, 5_000.0, Some(0.15)),
        (mistral(""), 6.0, 6_000.0, 1_200.0, Some(0.02)),
        (mistral("hit"), 4.0, 4_000.0, 800.0, None),
    ] {
        t1 = add(&t1, "kong_ai_llm_requests_total", &series, requests);
        t1 = add(
            &t1,
            "kong_ai_llm_tokens_total",
            &with(series, "prompt_tokens"),
            prompt,
        );
        t1 = add(
            &t1,
            "kong_ai_llm_tokens_total",
            &with(series, "completion_tokens"),
            completion,
        );
        t1 = add(
            &t1,
            "kong_ai_llm_tokens_total",
            &with(series, "total_tokens"),
            prompt + completion,
        );
        if let Some(cost) = cost {
            t1 = add(&t1, "kong_ai_llm_cost_total", &series, cost);
        }
    }
    let (latency, ttft) = (
        "kong_ai_llm_provider_latency_ms",
        "kong_ai_llm_ttft_latency_ms",
    );
    t1 = observe(&t1, latency, &gpt("checkout-svc"), 1800.0, 12.0);
    t1 = observe(&t1, latency, &gpt("support-bot"), 4200.0, 20.0);
    t1 = observe(&t1, latency, &mistral(""), 2600.0, 6.0);
    t1 = observe(&t1, ttft, &gpt("checkout-svc"), 1800.0, 12.0);
    t1 = observe(&t1, ttft, &gpt("support-bot"), 700.0, 20.0);
    t1 = observe(&t1, ttft, &mistral(""), 2600.0, 6.0);
    let run = Run::new("kong", "kong-dp-0", &t0, &t1);
    // Each provider as an upstream: every request counted, the outcome not (errors unknown).
    let moved = llmtop::model::upstream::fallbacks(&run.store, T1, RANGE);
    let ups = llmtop::model::upstream::upstreams(&run.store, &moved, T1, RANGE);
    let names: Vec<&str> = ups.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["anthropic", "mistral", "openai"]);
    close(ups[0].requests_per_second, 0.0);
    close(ups[1].requests_per_second, 1.0); // 6 + 4 mistral requests
    close(ups[2].requests_per_second, 3.2); // 12 + 20 gpt-4o requests
    assert_eq!(
        ups[2].errors_per_second, None,
        "Kong does not say which failed"
    );
    assert_eq!(
        run.store.models(),
        [
            "claude-3-5-sonnet-20241022",
            "gpt-4o",
            "mistral-large-latest"
        ]
    );

    let f = run.figures(Some("gpt-4o"));
    close(f.requests_per_second, 3.2);
    close(f.tokens_per_second.input, 6400.0);
    close(f.tokens_per_second.output, 800.0);
    close(f.tokens_per_second.total, 7200.0); // Kong's own total_tokens
    close(f.cost_usd, 0.09 + 0.15);
    close(f.cost_usd_per_hour, 0.024 * 3600.0);
    // Milliseconds × 0.001: 12 in (1.5, 2] s, 20 in (4, 4.5] s; rank 30.4 lies 18.4 into the 20.
    close(f.latency_seconds.p95, 4.0 + 0.5 * 18.4 / 20.0);
    // 20 in (0.5, 1] s, 12 in (1.5, 2] s: rank 30.4 lies 10.4 into the 12.
    close(f.ttft_seconds.p95, 1.5 + 0.5 * 10.4 / 12.0);
    let f = run.figures(Some("mistral-large-latest"));
    close(f.requests_per_second, 1.0); // semantic-cache hits count as requests
    close(f.tokens_per_second.input, 1000.0);
    close(f.tokens_per_second.total, 1200.0);
    close(f.cost_usd, 0.02);
    close(f.latency_seconds.p95, 2.5 + 0.5 * 0.95);
    close(
        run.figures(Some("claude-3-5-sonnet-20241022"))
            .requests_per_second,
        0.0,
    );
    // Kong exports no failed-request family per model.
    assert_eq!(run.rate(RequestsFailed, "gpt-4o"), None);
    for missing in [
        RequestsFailed,
        TokensCachedInput,
        InFlight,
        Queued,
        CacheHitRatio,
    ] {
        assert!(!run.dialect.provides(missing), "{missing:?}");
    }
    run.provides_exactly(&[
        Requests,
        TokensInput,
        TokensOutput,
        TokensTotal,
        SpendUsd,
        LatencySeconds,
        TtftSeconds,
        ItlSeconds,
        UpstreamRequests,
    ]);
}

#[test]
fn kong_documented_unprefixed_names_map_the_same_way() {
    // Kong's docs print the families without the kong_ prefix its exporter adds.
    let t0 = fixture("kong").replace("kong_ai_llm_", "ai_llm_");
    let series = [("ai_model", "gpt-4o"), ("consumer", "support-bot")];
    let t1 = add(&t0, "ai_llm_requests_total", &series, 20.0);
    let t1 = add(&t1, "ai_llm_cost_total", &series, 0.15);
    let t1 = observe(&t1, "ai_llm_provider_latency_ms", &series, 4200.0, 20.0);
    let run = Run::new("kong", "kong-dp-0", &t0, &t1);
    let f = run.figures(Some("gpt-4o"));
    close(f.requests_per_second, 2.0);
    close(f.cost_usd, 0.15);
    close(f.latency_seconds.p95, 4.0 + 0.5 * 0.95);
}

#[test]
fn every_fixture_is_detected_as_its_own_dialect_and_by_no_other() {
    let all = dialect::builtin();
    for (fixture_name, expected) in [
        ("seed", "seed"),
        ("vllm", "vllm"),
        ("litellm", "litellm"),
        ("tgi", "tgi"),
        ("llamacpp", "llamacpp"),
        ("sglang", "sglang"),
        ("otel_genai", "otel_genai"),
        ("kong", "kong"),
    ] {
        let text = fixture(fixture_name);
        let expo = parse(&text);
        assert_eq!(expo.skipped_count, 0, "{fixture_name}: {:?}", expo.skipped);
        let got = dialect::detect(&all, &expo).map(|d| d.name.as_str());
        assert_eq!(got, Some(expected), "{fixture_name}");
        // No other dialect recognises a single family of this scrape.
        let others: Vec<Dialect> = all.iter().filter(|d| d.name != expected).cloned().collect();
        assert!(
            dialect::detect(&others, &expo).is_none(),
            "{fixture_name} also looks like {:?}",
            dialect::detect(&others, &expo).map(|d| &d.name)
        );
    }
}

#[test]
fn the_new_fixtures_carry_no_created_samples_and_full_histograms() {
    for (name, histograms) in [
        (
            "sglang",
            [
                "sglang:e2e_request_latency_seconds",
                "sglang:time_to_first_token_seconds",
            ],
        ),
        (
            "otel_genai",
            [
                "gen_ai_server_request_duration_seconds",
                "gen_ai_client_token_usage_token",
            ],
        ),
        (
            "kong",
            [
                "kong_ai_llm_provider_latency_ms",
                "kong_ai_llm_ttft_latency_ms",
            ],
        ),
    ] {
        let text = fixture(name);
        let expo = parse(&text);
        assert_eq!(
            expo.created_ignored, 0,
            "{name}: none of these exporters writes _created"
        );
        for family in histograms {
            let series = expo.histograms(family);
            assert!(!series.is_empty(), "{name}: {family}");
            for h in series {
                let (last_le, last_count) = *h.buckets.last().expect("buckets");
                assert!(last_le.is_infinite(), "{name}: {family} has +Inf");
                assert_eq!(
                    h.count,
                    Some(last_count),
                    "{name}: {family} _count = +Inf bucket"
                );
                assert!(h.sum.is_some(), "{name}: {family} has _sum");
            }
        }
    }
}

/// The README's example: an in-house gateway described by a user dialect table.
const ACME_DIALECT: &str = r#"
name = "acme"
description = "ACME in-house LLM router"
detect = ["acme_llm_requests_total", "acme_llm_latency_ms"]
model_label = "llm"

[[map]]
metric = "acme_llm_requests_total"
signal = "requests"
failed_when = { label = "outcome", values = ["failure", "timeout"] }

[[map]]
metric = "acme_llm_tokens_total"
by_label = { label = "direction", signals = { in = "tokens_input", out = "tokens_output" } }

[[map]]
metric = "acme_llm_cost_usd_total"
signal = "spend_usd"

[[map]]
metric = "acme_llm_latency_ms"
signal = "latency_seconds"
scale = 0.001

[[map]]
metric = "acme_llm_inflight"
signal = "in_flight"
"#;

/// One scrape of the in-house gateway: `slow` of acme-large's calls took 5–10 s, the rest 0.5–1 s.
fn acme_scrape(ok: u32, failed: u32, timeout: u32, slow: u32, cost: f64, inflight: u32) -> String {
    let calls = ok + failed + timeout;
    let fast = calls - slow;
    let (tokens_in, tokens_out, latency_sum) = (ok * 2000, ok * 300, fast * 700 + slow * 6500);
    format!(
        "# HELP acme_llm_requests_total LLM calls by model and outcome.\n\
# TYPE acme_llm_requests_total counter\n\
acme_llm_requests_total{{llm=\"acme-large\",outcome=\"success\"}} {ok}\n\
acme_llm_requests_total{{llm=\"acme-large\",outcome=\"failure\"}} {failed}\n\
acme_llm_requests_total{{llm=\"acme-large\",outcome=\"timeout\"}} {timeout}\n\
acme_llm_requests_total{{llm=\"acme-small\",outcome=\"success\"}} 20411\n\
# TYPE acme_llm_tokens_total counter\n\
acme_llm_tokens_total{{llm=\"acme-large\",direction=\"in\"}} {tokens_in}\n\
acme_llm_tokens_total{{llm=\"acme-large\",direction=\"out\"}} {tokens_out}\n\
# TYPE acme_llm_cost_usd_total counter\n\
acme_llm_cost_usd_total{{llm=\"acme-large\"}} {cost}\n\
# TYPE acme_llm_latency_ms histogram\n\
acme_llm_latency_ms_bucket{{llm=\"acme-large\",le=\"500\"}} 0\n\
acme_llm_latency_ms_bucket{{llm=\"acme-large\",le=\"1000\"}} {fast}\n\
acme_llm_latency_ms_bucket{{llm=\"acme-large\",le=\"5000\"}} {fast}\n\
acme_llm_latency_ms_bucket{{llm=\"acme-large\",le=\"10000\"}} {calls}\n\
acme_llm_latency_ms_bucket{{llm=\"acme-large\",le=\"+Inf\"}} {calls}\n\
acme_llm_latency_ms_sum{{llm=\"acme-large\"}} {latency_sum}\n\
acme_llm_latency_ms_count{{llm=\"acme-large\"}} {calls}\n\
# TYPE acme_llm_inflight gauge\n\
acme_llm_inflight {inflight}\n"
    )
}

#[test]
fn a_user_dialect_maps_an_in_house_gateway() {
    let acme = Dialect::from_toml_str(ACME_DIALECT).expect("the README example parses");
    // User dialects are listed before the built-ins (as the config loader does).
    let mut dialects = vec![acme];
    dialects.extend(dialect::builtin());
    let t0 = acme_scrape(9120, 31, 4, 12, 41.25, 6);
    let t1 = acme_scrape(9170, 33, 5, 16, 41.75, 9);
    let mut store = TargetStore::new("acme", StoreLimits::default());
    for (time, text) in [(T0, &t0), (T1, &t1)] {
        let expo = parse(text);
        assert_eq!(expo.skipped_count, 0, "{:?}", expo.skipped);
        let d = dialect::detect(&dialects, &expo).expect("detected");
        assert_eq!(d.name, "acme");
        store.ingest(time, &d.map(&expo, "acme").samples);
    }
    store.health.dialect = Some("acme".to_string());
    let f = stats::figures(
        &store,
        &PriceTable::default(),
        Some(&["acme-large"]),
        T1,
        RANGE,
    );
    close(f.requests_per_second, (50.0 + 2.0 + 1.0) / 10.0);
    close(f.errors_per_second, (2.0 + 1.0) / 10.0); // failure + timeout
    close(f.tokens_per_second.input, 50.0 * 2000.0 / 10.0);
    close(f.tokens_per_second.output, 50.0 * 300.0 / 10.0);
    close(f.cost_usd, 0.5);
    // 53 calls: 49 in (0.5, 1] s, 4 in (5, 10] s; rank 50.35 lies 1.35 into the 4 of (5, 10].
    close(f.latency_seconds.p95, 5.0 + 5.0 * 1.35 / 4.0);
    // No llm label on the gauge: the whole gateway's.
    let inflight = SeriesKey::new(InFlight, ALL_MODELS);
    close(store.samples(&inflight, T1, T1).last().map(|s| s.1), 9.0);
    close(
        stats::figures(
            &store,
            &PriceTable::default(),
            Some(&["acme-small"]),
            T1,
            RANGE,
        )
        .requests_per_second,
        0.0,
    );
}

/// vLLM 0.11 exports the per-token latency twice (new name and deprecated twin, same buckets):
/// the dialect's `alternatives` read the first present only, so 400 gaps are 400, not 800. A
/// release with only the old name is still read through it, and a user dialect can say the same.
#[test]
fn vllm_reads_one_of_the_renamed_itl_families_never_both() {
    let vllm = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "vllm")
        .expect("the vllm dialect");
    let both = fixture("vllm_both_itl");
    let itl = |text: &str| -> Vec<(u64, f64)> {
        vllm.map(&parse(text), "gw")
            .samples
            .iter()
            .filter(|s| s.signal == Signal::ItlSeconds)
            .map(|s| match &s.value {
                llmtop::base::signal::CanonicalValue::Histogram { count, .. } => {
                    (s.series_id, *count)
                }
                other => panic!("ITL is a histogram, got {other:?}"),
            })
            .collect()
    };
    let read = itl(&both);
    assert_eq!(read.len(), 1, "one series, from one family: {read:?}");
    assert_eq!(read[0].1, 400.0);
    // Through the store: the ITL quantile is that of the one family's buckets.
    let mut store = TargetStore::new("gw", StoreLimits::default());
    let samples = vllm.map(&parse(&both), "gw").samples;
    store.ingest(T0, &samples);
    let later: String = both
        .lines()
        .map(|l| {
            if l.starts_with("vllm:inter_token_latency_seconds_count")
                || l.starts_with("vllm:time_per_output_token_seconds_count")
            {
                l.replace(" 400.0", " 800.0")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    store.ingest(T1, &vllm.map(&parse(&later), "gw").samples);
    assert!(store.has_signal(Signal::ItlSeconds));
    // Only the old name (vLLM ≤ 0.10): read through the alternative.
    let old_only: String = both
        .lines()
        .filter(|l| !l.contains("vllm:inter_token_latency_seconds"))
        .collect::<Vec<_>>()
        .join("\n");
    let read_old = itl(&old_only);
    assert_eq!(read_old.len(), 1);
    assert_eq!(read_old[0].1, 400.0);
    assert_ne!(
        read_old[0].0, read[0].0,
        "each family is its own raw series"
    );
    // Neither: nothing, and no error.
    let neither: String = old_only
        .lines()
        .filter(|l| !l.contains("time_per_output_token"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(itl(&neither).is_empty());
    // The format is the user's too, and checked.
    let user = Dialect::from_toml_str(
        "name = \"u\"\ndetect = [\"a_total\"]\n[[map]]\nmetric = \"a_total\"\nalternatives = [\"b_total\"]\nsignal = \"requests\"\n",
    )
    .expect("a user dialect with alternatives");
    let mapped = user.map(&parse("a_total 3\nb_total 5\n"), "gw").samples;
    assert_eq!(mapped.len(), 1);
    assert!(matches!(mapped[0].value, llmtop::base::signal::CanonicalValue::Scalar(v) if v == 3.0));
    let mapped = user.map(&parse("b_total 5\n"), "gw").samples;
    assert!(matches!(mapped[0].value, llmtop::base::signal::CanonicalValue::Scalar(v) if v == 5.0));
    let bad = "name = \"u\"\ndetect = [\"a_total\"]\n[[map]]\nmetric = \"a_total\"\nalternatives = [\"a_total\"]\nsignal = \"requests\"\n";
    let err = format!("{:#}", Dialect::from_toml_str(bad).unwrap_err());
    assert!(
        err.contains("lists an empty alternative or itself"),
        "{err}"
    );
}

/// SGLang with `--tp 2 --enable-metrics-for-all-schedulers` writes each scheduler gauge once per
/// tensor-parallel rank: the dialect's `replica_label` reads rank 0's, so 12 running requests are
/// 12, not 24, while the tokenizer's counters (no tp_rank) are read as they are.
#[test]
fn sglang_tensor_parallel_ranks_are_counted_once() {
    let t0 = fixture("sglang_tp2");
    let t1 = add(
        &t0,
        "sglang:num_requests_total",
        &[("model_name", QWEN)],
        30.0,
    );
    let run = Run::new("sglang", "sglang-0", &t0, &t1);
    close(run.gauge(InFlight, QWEN), 12.0);
    close(run.gauge(Queued, QWEN), 3.0);
    close(run.gauge(KvCacheUsage, QWEN), 0.71);
    close(run.rate(Requests, QWEN), 3.0);
    // Without the rule the ranks would add up: the same scrape through a dialect without it.
    let mut plain = run.dialect.clone();
    plain.replica_label = None;
    let doubled: f64 = plain
        .map(&parse(&t1), "sglang-0")
        .samples
        .iter()
        .filter(|s| s.signal == InFlight)
        .map(|s| match s.value {
            llmtop::base::signal::CanonicalValue::Scalar(v) => v,
            _ => 0.0,
        })
        .sum();
    close(Some(doubled), 24.0);
}

/// The failover the seed gateway's author worries about, as LiteLLM reports it: gpt-4o's
/// deployment failed six times and is down after a cooldown, deepseek-chat answered its six
/// requests as the fallback, claude-sonnet has 99 of 100 requests a minute left. The proxy's own
/// counters call those six gpt-4o requests successful; the upstream rows say what happened.
#[test]
fn litellm_upstreams_fallbacks_and_rate_limit_headroom() {
    use llmtop::model::upstream::{UpstreamState, fallbacks, upstreams};
    let t1 = fixture("litellm_failover");
    // The scrape before: every counter at 0, the gauges as now.
    let (t0, zeroed) = edit(&t1, |name, _, _| name.ends_with("_total").then_some(0.0));
    assert_eq!(zeroed, 10);
    let run = Run::new("litellm", "litellm-0", &t0, &t1);
    assert_eq!(
        run.store.models(),
        ["claude-sonnet", "gpt-4o"],
        "upstreams are not models"
    );
    let rows = upstreams(&run.store, &fallbacks(&run.store, T1, RANGE), T1, RANGE);
    let names: Vec<&str> = rows.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["gpt-4o", "claude-sonnet", "deepseek-chat"],
        "the down one first"
    );
    let gpt = &rows[0];
    assert_eq!(gpt.state, UpstreamState::Down);
    close(gpt.requests_per_second, 0.6); // 6 failed answers in 10 s, none successful
    close(gpt.errors_per_second, 0.6);
    close(gpt.error_ratio, 1.0);
    close(gpt.cooldowns, 1.0);
    close(gpt.fallbacks_per_second, 0.6);
    assert_eq!(gpt.fallback_targets, ["deepseek-chat"]);
    // `describe`: provider and API base from the state gauge's labels, the model group from
    // the headroom gauge's.
    assert_eq!(gpt.provider.as_deref(), Some("openai"));
    assert_eq!(gpt.api_base.as_deref(), Some("https://api.openai.com/v1"));
    assert_eq!(
        gpt.model, None,
        "no headroom series names gpt-4o's model group"
    );
    let claude = &rows[1];
    assert_eq!(claude.model.as_deref(), Some("claude-sonnet"));
    assert_eq!(claude.provider.as_deref(), Some("anthropic"));
    assert_eq!(claude.state, UpstreamState::Healthy);
    close(claude.requests_per_second, 4.0);
    close(claude.errors_per_second, 0.0);
    close(claude.remaining_requests, 99.0);
    close(claude.rpm_limit, 100.0);
    close(claude.remaining_tokens, 79_000.0);
    close(claude.tpm_limit, 80_000.0);
    let deepseek = &rows[2];
    close(deepseek.requests_per_second, 0.6);
    close(deepseek.error_ratio, 0.0);
    assert_eq!(
        deepseek.rpm_limit, None,
        "no limit configured is unknown, never 0"
    );
    let moved = fallbacks(&run.store, T1, RANGE);
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].from.as_str(), moved[0].to.as_str(), moved[0].ok),
        ("gpt-4o", "deepseek-chat", true)
    );
    close(moved[0].per_second, 0.6);
    close(moved[0].count, 6.0);
    // In the snapshot's JSON, over the window.
    let snap = llmtop::front::report::snapshot(
        &run.store,
        &PriceTable::builtin(),
        "gw",
        RANGE,
        Vec::new(),
    );
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["upstreams"][0]["name"], "gpt-4o");
    assert_eq!(json["upstreams"][0]["state"], "down");
    assert_eq!(json["upstreams"][0]["cooldowns"], 1.0);
    assert_eq!(json["upstreams"][1]["remaining_requests"], 99.0);
    assert_eq!(json["upstreams"][2]["rpm_limit"], serde_json::Value::Null);
    let f = &json["fallbacks"][0];
    assert_eq!(
        (&f["from"], &f["to"], &f["count"], &f["ok"]),
        (
            &"gpt-4o".into(),
            &"deepseek-chat".into(),
            &6.0.into(),
            &true.into()
        )
    );
    close(f["per_second"].as_f64(), 0.6);
}

/// LiteLLM's budget gauges (tests/fixtures/metrics/litellm_budget.prom): what is left, the maximum
/// and the hours to the reset per team, organisation, key, user and provider, keyed `scope:name`;
/// a team without a budget (+Inf, no maximum) is left out, and none of them is a model.
#[test]
fn litellm_budgets_per_team_key_user_org_and_provider() {
    let text = fixture("litellm_budget");
    let run = Run::new("litellm", "litellm", &text, &text);
    assert!(
        run.store.models().iter().all(|m| !m.contains(':')),
        "{:?}",
        run.store.models()
    );
    // At $10/h for the whole gateway: key prod-backend's $99.50 last 9.95 h at most.
    let budgets = llmtop::model::budget::gateway_budgets(&run.store, Some(10.0), T1);
    let get = |scope: &str, name: &str| {
        budgets
            .iter()
            .find(|b| b.scope == scope && b.name == name)
            .unwrap_or_else(|| panic!("no {scope}:{name} in {budgets:#?}"))
    };
    let search = get("team", "search");
    close(search.remaining_usd, 123.45);
    close(search.max_usd, 500.0);
    close(search.resets_in_hours, 36.5);
    close(search.runs_out_in_seconds, 123.45 / 10.0 * 3600.0);
    assert!(
        !budgets.iter().any(|b| b.name == "research"),
        "no budget set"
    );
    let org = get("org", "acme");
    close(org.remaining_usd, 623.45);
    close(org.max_usd, 1000.0);
    close(org.resets_in_hours, 300.0);
    let prod = get("api_key", "prod-backend");
    close(prod.remaining_usd, 99.5);
    close(prod.max_usd, 100.0);
    close(prod.resets_in_hours, 168.0);
    close(prod.runs_out_in_seconds, 9.95 * 3600.0);
    let batch = get("api_key", "batch-jobs");
    close(batch.remaining_usd, 0.0);
    close(batch.max_usd, 50.0);
    assert_eq!(batch.resets_in_hours, None);
    assert_eq!(batch.runs_out_in_seconds, Some(0.0), "spent");
    let alice = get("user", "alice");
    close(alice.remaining_usd, 12.5);
    close(alice.max_usd, 20.0);
    close(alice.resets_in_hours, 4.25);
    let openai = get("provider", "openai");
    close(openai.remaining_usd, 250.0);
    assert_eq!(openai.max_usd, None);
    // Soonest first: the spent key, then alice's $12.50, then prod-backend's $99.50.
    let order: Vec<String> = budgets
        .iter()
        .map(|b| format!("{}:{}", b.scope, b.name))
        .collect();
    assert_eq!(
        order[..3],
        ["api_key:batch-jobs", "user:alice", "api_key:prod-backend"]
    );
    // With nothing being spent no budget has a run-out time, except the spent one.
    let idle = llmtop::model::budget::gateway_budgets(&run.store, Some(0.0), T1);
    assert!(
        idle.iter()
            .all(|b| b.runs_out_in_seconds.is_none() || b.name == "batch-jobs")
    );
}
