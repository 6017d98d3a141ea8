//! The NVIDIA serving stacks (NIM for LLMs, Triton Inference Server, TensorRT-LLM's trtllm-serve)
//! against their fixtures: detection, then two scrapes ten seconds apart into a `TargetStore`, the
//! second with known increments, and every mapped signal checked against a figure worked out by
//! hand in the comments.
//!
//! The scrapes sit on the range boundaries (t0 = eval − range), so a rate is the increment over
//! 10 s and `histogram_quantile` works on the bucket increments alone: the fixture's history
//! cancels out and every quantile is the one of the observations added here.
use llmtop::base::dialect::{self, Dialect};
use llmtop::base::exposition::{Labels, MetricType, parse};
use llmtop::base::pricing::PriceTable;
use llmtop::base::signal::{CanonicalValue, Signal};
use llmtop::model::stats::{self, Figures};
use llmtop::model::store::{SeriesKey, StoreLimits, TargetStore};

use Signal::*;

const T0: f64 = 1_767_225_600.0;
const T1: f64 = T0 + 10.0;
const RANGE: f64 = 10.0;
const NEW: [&str; 3] = ["nim", "triton", "trtllm"];

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/metrics/{name}.prom",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Replaces the value of every sample line for which `f` gives a new one; returns the text and
/// how many lines changed.
fn rewrite(
    text: &str,
    mut f: impl FnMut(&str, &Labels<'_>, f64) -> Option<f64>,
) -> (String, usize) {
    let mut changed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let one = parse(line);
            let new = one
                .samples
                .first()
                .and_then(|s| f(s.name, &s.labels, s.value));
            match new {
                Some(value) => {
                    changed += 1;
                    let (series, _) = line.rsplit_once(' ').expect("a sample has a value");
                    format!("{series} {value}")
                }
                None => line.to_string(),
            }
        })
        .collect();
    (lines.join("\n") + "\n", changed)
}

fn matches(labels: &Labels<'_>, selector: &[(&str, &str)]) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(*v))
}

/// Adds `delta` to the one series of `name` whose labels include `selector`.
#[track_caller]
fn bump(text: &str, name: &str, selector: &[(&str, &str)], delta: f64) -> String {
    let (out, n) = rewrite(text, |n, l, v| {
        (n == name && matches(l, selector)).then_some(v + delta)
    });
    assert_eq!(n, 1, "{name} {selector:?} names exactly one series");
    out
}

/// Sets the one series of `name` whose labels include `selector` (a gauge) to `value`.
#[track_caller]
fn put(text: &str, name: &str, selector: &[(&str, &str)], value: f64) -> String {
    let (out, n) = rewrite(text, |n, l, _| {
        (n == name && matches(l, selector)).then_some(value)
    });
    assert_eq!(n, 1, "{name} {selector:?} names exactly one series");
    out
}

/// Records `n` observations of `value` (in the family's own unit) in the one histogram series of
/// `family` whose labels include `selector`: every bucket with `le >= value`, `_count`, `_sum`.
#[track_caller]
fn record(text: &str, family: &str, selector: &[(&str, &str)], value: f64, n: f64) -> String {
    let bucket = format!("{family}_bucket");
    let count = format!("{family}_count");
    let sum = format!("{family}_sum");
    let mut counts = 0;
    let (out, _) = rewrite(text, |name, labels, v| {
        if !matches(labels, selector) {
            return None;
        }
        if name == bucket {
            let le: f64 = labels.get("le")?.parse().expect("le is a number");
            (value <= le).then_some(v + n)
        } else if name == count {
            counts += 1;
            Some(v + n)
        } else if name == sum {
            Some(v + value * n)
        } else {
            None
        }
    });
    assert_eq!(counts, 1, "{family} {selector:?} names exactly one series");
    out
}

#[track_caller]
fn exact(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!(
        (a - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "expected {expected}, got {a}"
    );
}

/// A target scraped at T0 and T1 through detection and the detected dialect.
struct Scraped {
    dialect: Dialect,
    store: TargetStore,
}

impl Scraped {
    #[track_caller]
    fn new(expected: &str, t0: &str, t1: &str) -> Self {
        let all = dialect::builtin();
        let mut store = TargetStore::new(format!("{expected}-0"), StoreLimits::default());
        let mut chosen = None;
        for (time, text) in [(T0, t0), (T1, t1)] {
            let expo = parse(text);
            assert_eq!(expo.skipped_count, 0, "skipped: {:?}", expo.skipped);
            let d = dialect::detect(&all, &expo).expect("a dialect is detected");
            assert_eq!(d.name, expected);
            let mapped = d.map(&expo, &format!("{expected}-0"));
            assert_eq!(mapped.rejected_histograms, 0);
            store.ingest(time, &mapped.samples);
            chosen = Some(d.clone());
        }
        let dialect = chosen.expect("two scrapes");
        store.health.dialect = Some(dialect.name.clone());
        store.health.reports_failures = dialect.provides(RequestsFailed);
        assert_eq!(store.health.resets, 0);
        Self { dialect, store }
    }

    fn figures(&self, model: Option<&str>) -> Figures {
        match model {
            Some(m) => stats::figures(&self.store, &PriceTable::default(), Some(&[m]), T1, RANGE),
            None => stats::figures(&self.store, &PriceTable::default(), None, T1, RANGE),
        }
    }

    fn rate(&self, signal: Signal, model: &str) -> Option<f64> {
        self.store.sum_rate(signal, Some(&[model]), T1, RANGE)
    }

    fn p95(&self, signal: Signal, model: &str) -> Option<f64> {
        self.store.quantile(0.95, signal, Some(&[model]), T1, RANGE)
    }

    /// One model's gauge at T1, its raw series combined as the signal says (sum, max, mean).
    fn gauge(&self, signal: Signal, model: &str) -> Option<f64> {
        let key = SeriesKey::new(signal, model);
        self.store.samples(&key, T1, T1).last().map(|&(_, v)| v)
    }

    #[track_caller]
    fn provides_exactly(&self, signals: &[Signal]) {
        assert_eq!(self.dialect.signals(), signals, "{}", self.dialect.name);
    }
}

const NIM_MODEL: &str = "meta/llama-3.1-8b-instruct";

#[test]
fn nim_success_and_failure_counters_tokens_latency_and_gauges() {
    let t0 = fixture("nim");
    let m = [("model_name", NIM_MODEL)];
    // 43 requests finished with stop or length, 2 with another reason (abort).
    let mut t1 = bump(&t0, "request_success_total", &m, 43.0);
    t1 = bump(&t1, "request_failure_total", &m, 2.0);
    t1 = bump(
        &t1,
        "request_finish_total",
        &[("finished_reason", "stop")],
        40.0,
    );
    t1 = bump(
        &t1,
        "request_finish_total",
        &[("finished_reason", "length")],
        3.0,
    );
    t1 = bump(
        &t1,
        "request_finish_total",
        &[("finished_reason", "abort")],
        2.0,
    );
    t1 = bump(&t1, "prompt_tokens_total", &m, 52_000.0);
    t1 = bump(&t1, "generation_tokens_total", &m, 12_000.0);
    t1 = record(&t1, "e2e_request_latency_seconds", &m, 3.0, 40.0);
    t1 = record(&t1, "e2e_request_latency_seconds", &m, 12.0, 5.0);
    t1 = record(&t1, "time_to_first_token_seconds", &m, 0.03, 45.0);
    // One observation per token after each request's first.
    t1 = record(
        &t1,
        "time_per_output_token_seconds",
        &m,
        0.02,
        12_000.0 - 45.0,
    );
    t1 = put(&t1, "num_requests_running", &m, 16.0);
    t1 = put(&t1, "num_requests_waiting", &m, 5.0);
    let run = Scraped::new("nim", &t0, &t1);
    assert_eq!(run.store.models(), [NIM_MODEL]);

    let f = run.figures(Some(NIM_MODEL));
    // success + failure = every finished request: (43 + 2) / 10 s.
    exact(f.requests_per_second, 4.5);
    exact(f.errors_per_second, 0.2);
    exact(f.tokens_per_second.input, 5200.0);
    exact(f.tokens_per_second.output, 1200.0);
    exact(f.tokens_per_second.total, 6400.0);
    // 40 in (2.5, 5], 5 in (10, 15]: rank 0.95 × 45 = 42.75 lies 2.75 into the 5 of (10, 15].
    exact(f.latency_seconds.p95, 10.0 + 5.0 * 2.75 / 5.0);
    // All 45 in (0.02, 0.04]: 0.02 + 0.02 × 0.95.
    exact(f.ttft_seconds.p95, 0.039);
    // All 11955 in (0.01, 0.025]: 0.01 + 0.015 × 0.95.
    exact(run.p95(ItlSeconds, NIM_MODEL), 0.02425);
    exact(run.gauge(InFlight, NIM_MODEL), 16.0);
    exact(run.gauge(Queued, NIM_MODEL), 5.0);
    // Unchanged from the fixture: 1769 of 1920 blocks.
    exact(run.gauge(KvCacheUsage, NIM_MODEL), 1769.0 / 1920.0);
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensOutput,
        LatencySeconds,
        TtftSeconds,
        ItlSeconds,
        InFlight,
        Queued,
        KvCacheUsage,
    ]);
}

const LLAMA: &str = "llama3_8b_instruct";
const MISTRAL: &str = "mistral_7b_instruct";

#[test]
fn triton_requests_by_reason_ttft_in_milliseconds_and_trtllm_backend_gauges() {
    let t0 = fixture("triton");
    let a = [("model", LLAMA)];
    let b = [("model", MISTRAL)];
    let fail = |model, reason| [("model", model), ("reason", reason)];
    let kind = |model, label, value| [("model", model), (label, value)];
    let mut t1 = bump(&t0, "nv_inference_request_success", &a, 50.0);
    t1 = bump(
        &t1,
        "nv_inference_request_failure",
        &fail(LLAMA, "BACKEND"),
        1.0,
    );
    t1 = bump(
        &t1,
        "nv_inference_request_failure",
        &fail(LLAMA, "CANCELED"),
        3.0,
    );
    t1 = bump(&t1, "nv_inference_request_success", &b, 20.0);
    t1 = bump(
        &t1,
        "nv_inference_request_failure",
        &fail(MISTRAL, "REJECTED"),
        1.0,
    );
    // The cumulative microsecond counters move too; no signal reads them.
    t1 = bump(
        &t1,
        "nv_inference_request_duration_us",
        &a,
        54.0 * 4_200_000.0,
    );
    t1 = bump(&t1, "nv_inference_queue_duration_us", &a, 54.0 * 350.0);
    // First responses in whole milliseconds: llama 40 at 180 ms and 10 at 1500 ms, mistral 20 at 80.
    let first = "nv_inference_first_response_histogram_ms";
    t1 = record(&t1, first, &a, 180.0, 40.0);
    t1 = record(&t1, first, &a, 1500.0, 10.0);
    t1 = record(&t1, first, &b, 80.0, 20.0);
    // Tokens of every executed request (the rejected one never ran).
    let input = |m| [("model", m), ("response_metric_type", "total_input_tokens")];
    let output = |m| {
        [
            ("model", m),
            ("response_metric_type", "total_output_tokens"),
        ]
    };
    t1 = record(&t1, "nv_llm_input_token_len", &input(LLAMA), 800.0, 54.0);
    t1 = record(&t1, "nv_llm_output_token_len", &output(LLAMA), 300.0, 54.0);
    t1 = record(&t1, "nv_llm_input_token_len", &input(MISTRAL), 400.0, 20.0);
    t1 = record(
        &t1,
        "nv_llm_output_token_len",
        &output(MISTRAL),
        150.0,
        20.0,
    );
    t1 = put(&t1, "nv_inference_pending_request_count", &a, 4.0);
    t1 = put(&t1, "nv_inference_pending_request_count", &b, 1.0);
    let requests = "nv_trt_llm_request_metrics";
    t1 = put(
        &t1,
        requests,
        &kind(LLAMA, "request_type", "scheduled"),
        40.0,
    );
    t1 = put(&t1, requests, &kind(LLAMA, "request_type", "waiting"), 7.0);
    t1 = put(&t1, requests, &kind(LLAMA, "request_type", "active"), 47.0);
    t1 = put(
        &t1,
        requests,
        &kind(MISTRAL, "request_type", "scheduled"),
        14.0,
    );
    t1 = put(
        &t1,
        requests,
        &kind(MISTRAL, "request_type", "waiting"),
        2.0,
    );
    t1 = put(
        &t1,
        requests,
        &kind(MISTRAL, "request_type", "active"),
        16.0,
    );
    let kv = "nv_trt_llm_kv_cache_block_metrics";
    t1 = put(
        &t1,
        kv,
        &kind(MISTRAL, "kv_cache_block_type", "fraction"),
        0.75,
    );
    let run = Scraped::new("triton", &t0, &t1);
    assert_eq!(run.store.models(), [LLAMA, MISTRAL]);

    let f = run.figures(Some(LLAMA));
    // 50 successes + 1 backend failure + 3 cancelled, over 10 s; the 4 failures are errors.
    exact(f.requests_per_second, 5.4);
    exact(f.errors_per_second, 0.4);
    // _sum of the token histograms: 54 × 800 and 54 × 300 tokens.
    exact(f.tokens_per_second.input, 4320.0);
    exact(f.tokens_per_second.output, 1620.0);
    // × 0.001: 40 in (0.1, 0.5] s, 10 in (0.5, 2] s; rank 47.5 lies 7.5 into the 10 of (0.5, 2].
    exact(f.ttft_seconds.p95, 0.5 + 1.5 * 7.5 / 10.0);
    let f = run.figures(Some(MISTRAL));
    exact(f.requests_per_second, 2.1); // 20 + 1 rejected
    exact(f.errors_per_second, 0.1);
    exact(f.tokens_per_second.input, 800.0);
    exact(f.tokens_per_second.output, 300.0);
    // All 20 in the first bucket, (0, 0.1] s: 0.1 × 0.95.
    exact(f.ttft_seconds.p95, 0.095);
    exact(run.figures(None).requests_per_second, 7.5);
    // Triton's own pending requests plus the ones waiting inside the engine.
    exact(run.gauge(Queued, LLAMA), 4.0 + 7.0);
    exact(run.gauge(Queued, MISTRAL), 1.0 + 2.0);
    exact(run.gauge(InFlight, LLAMA), 40.0);
    exact(run.gauge(BatchSize, LLAMA), 40.0);
    exact(run.gauge(InFlight, MISTRAL), 14.0);
    exact(run.gauge(KvCacheUsage, LLAMA), 3265.0 / 5102.0);
    exact(run.gauge(KvCacheUsage, MISTRAL), 0.75);
    // Only cumulative microsecond counters: no latency or queue-time distribution.
    assert_eq!(f.latency_seconds.p95, None);
    assert_eq!(run.p95(QueueTimeSeconds, LLAMA), None);
    run.provides_exactly(&[
        Requests,
        RequestsFailed,
        TokensInput,
        TokensOutput,
        TtftSeconds,
        InFlight,
        Queued,
        KvCacheUsage,
        BatchSize,
    ]);
}

#[test]
fn triton_scales_milliseconds_and_reads_no_microsecond_counter() {
    let text = fixture("triton");
    let expo = parse(&text);
    let triton = dialect::builtin()
        .into_iter()
        .find(|d| d.name == "triton")
        .expect("built in");
    let samples = triton.map(&expo, "triton-0").samples;
    let ttft: Vec<_> = samples.iter().filter(|s| s.signal == TtftSeconds).collect();
    assert_eq!(ttft.len(), 2, "one TTFT histogram per model");
    assert_eq!(ttft[0].model, LLAMA);
    let CanonicalValue::Histogram {
        buckets,
        sum,
        count,
    } = &ttft[0].value
    else {
        panic!("TTFT is a histogram");
    };
    // le 100/500/2000/5000 ms × 0.001, and the 1 746 190 ms of the _sum as seconds.
    let bounds: Vec<f64> = buckets.iter().map(|b| b.0).collect();
    assert_eq!(bounds, [0.1, 0.5, 2.0, 5.0, f64::INFINITY]);
    let counts: Vec<f64> = buckets.iter().map(|b| b.1).collect();
    assert_eq!(counts, [1204.0, 5215.0, 5986.0, 6019.0, 6021.0]);
    exact(Some(*sum), 1746.19);
    assert_eq!(*count, 6021.0);
    // The µs families have no canonical signal, so no rule reads one (and none is mis-scaled).
    for rule in &triton.rules {
        assert!(
            rule.names().all(|n| !n.ends_with("_us")),
            "{} is a cumulative µs counter",
            rule.metric
        );
    }
    for name in [
        "nv_inference_request_duration_us",
        "nv_inference_queue_duration_us",
        "nv_inference_compute_infer_duration_us",
    ] {
        assert!(
            expo.samples_named(name).count() == 2,
            "{name} is in the fixture"
        );
    }
}

const TRT_MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

#[test]
fn trtllm_finish_reasons_http_errors_tokens_phases_and_iteration_gauges() {
    let t0 = fixture("trtllm");
    let m = [("model_name", TRT_MODEL)];
    let reason = |r| [("model_name", TRT_MODEL), ("finished_reason", r)];
    let mut t1 = bump(&t0, "trtllm_request_success_total", &reason("stop"), 30.0);
    t1 = bump(&t1, "trtllm_request_success_total", &reason("length"), 5.0);
    t1 = bump(
        &t1,
        "trtllm_request_success_total",
        &reason("cancelled"),
        2.0,
    );
    t1 = bump(&t1, "trtllm_request_success_total", &reason("timeout"), 1.0);
    t1 = bump(
        &t1,
        "trtllm_request_error_total",
        &[("http_code", "400")],
        2.0,
    );
    t1 = bump(&t1, "trtllm_prompt_tokens_total", &m, 20_000.0);
    t1 = bump(&t1, "trtllm_prompt_cached_tokens_total", &m, 8_000.0);
    t1 = bump(&t1, "trtllm_generation_tokens_total", &m, 7_600.0);
    t1 = record(&t1, "trtllm_e2e_request_latency_seconds", &m, 1.2, 30.0);
    t1 = record(&t1, "trtllm_e2e_request_latency_seconds", &m, 6.0, 8.0);
    t1 = record(&t1, "trtllm_time_to_first_token_seconds", &m, 0.05, 38.0);
    t1 = record(&t1, "trtllm_time_per_output_token_seconds", &m, 0.02, 38.0);
    t1 = record(&t1, "trtllm_request_queue_time_seconds", &m, 0.1, 38.0);
    t1 = record(&t1, "trtllm_request_prefill_time_seconds", &m, 0.03, 38.0);
    t1 = record(&t1, "trtllm_request_decode_time_seconds", &m, 1.8, 38.0);
    t1 = put(&t1, "trtllm_num_requests_running", &m, 40.0);
    t1 = put(&t1, "trtllm_num_requests_waiting", &m, 3.0);
    t1 = put(&t1, "trtllm_num_scheduled_requests", &m, 40.0);
    t1 = put(&t1, "trtllm_kv_cache_utilization", &m, 0.8);
    let run = Scraped::new("trtllm", &t0, &t1);
    assert_eq!(run.store.models(), [TRT_MODEL]);

    let f = run.figures(Some(TRT_MODEL));
    // 38 finished + 2 refused with HTTP 400, over 10 s.
    exact(f.requests_per_second, 4.0);
    // cancelled 2 + timeout 1 + the 2 HTTP errors.
    exact(f.errors_per_second, 0.5);
    exact(f.tokens_per_second.input, 2000.0);
    exact(f.tokens_per_second.output, 760.0);
    exact(run.rate(TokensCachedInput, TRT_MODEL), 800.0);
    // 30 in (1, 1.5], 8 in (5, 10]: rank 0.95 × 38 = 36.1 lies 6.1 into the 8 of (5, 10].
    exact(f.latency_seconds.p95, 5.0 + 5.0 * 6.1 / 8.0);
    // All 38 in (0.04, 0.06]: 0.04 + 0.02 × 0.95.
    exact(f.ttft_seconds.p95, 0.059);
    // (0.01, 0.025]: 0.01 + 0.015 × 0.95.
    exact(run.p95(ItlSeconds, TRT_MODEL), 0.02425);
    // The first bucket, (0, 0.3]: 0.3 × 0.95.
    exact(run.p95(QueueTimeSeconds, TRT_MODEL), 0.285);
    // (0.025, 0.05]: 0.025 + 0.025 × 0.95.
    exact(run.p95(PrefillTimeSeconds, TRT_MODEL), 0.04875);
    // (1.5, 2]: 1.5 + 0.5 × 0.95.
    exact(run.p95(DecodeTimeSeconds, TRT_MODEL), 1.975);
    exact(run.gauge(InFlight, TRT_MODEL), 40.0);
    exact(run.gauge(Queued, TRT_MODEL), 3.0);
    exact(run.gauge(BatchSize, TRT_MODEL), 40.0);
    exact(run.gauge(KvCacheUsage, TRT_MODEL), 0.8);
    // Unchanged from the fixture: 61 503 reused of 61 503 + 106 012 blocks.
    exact(
        run.gauge(CacheHitRatio, TRT_MODEL),
        61_503.0 / (61_503.0 + 106_012.0),
    );
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
        PrefillTimeSeconds,
        DecodeTimeSeconds,
        BatchSize,
    ]);
}

#[test]
fn each_new_fixture_is_its_own_dialect_and_no_other_sees_a_family() {
    let all = dialect::builtin();
    for name in NEW {
        let text = fixture(name);
        let expo = parse(&text);
        assert_eq!(expo.skipped_count, 0, "{name}: {:?}", expo.skipped);
        assert_eq!(
            dialect::detect(&all, &expo).map(|d| d.name.as_str()),
            Some(name)
        );
        let others: Vec<Dialect> = all.iter().filter(|d| d.name != name).cloned().collect();
        assert!(
            dialect::detect(&others, &expo).is_none(),
            "{name} also looks like {:?}",
            dialect::detect(&others, &expo).map(|d| &d.name)
        );
    }
}

#[test]
fn vllm_stays_vllm_and_no_existing_fixture_changes_dialect() {
    let all = dialect::builtin();
    let before: Vec<Dialect> = all
        .iter()
        .filter(|d| !NEW.contains(&d.name.as_str()))
        .cloned()
        .collect();
    let vllm = fixture("vllm");
    let expo = parse(&vllm);
    assert_eq!(
        dialect::detect(&all, &expo).map(|d| d.name.as_str()),
        Some("vllm")
    );
    // NIM's unprefixed names are not vLLM's vllm:* ones, in either direction.
    let nim: Vec<Dialect> = all.iter().filter(|d| d.name == "nim").cloned().collect();
    assert!(dialect::detect(&nim, &expo).is_none());
    let vllm_only: Vec<Dialect> = all.iter().filter(|d| d.name == "vllm").cloned().collect();
    assert!(dialect::detect(&vllm_only, &parse(&fixture("nim"))).is_none());

    let dir = format!("{}/tests/fixtures/metrics", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the fixture dir") {
        let path = entry.expect("an entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.extension().is_none_or(|e| e != "prom") || NEW.contains(&stem) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a fixture");
        let expo = parse(&text);
        let old = dialect::detect(&before, &expo).map(|d| d.name.clone());
        let new = dialect::detect(&all, &expo).map(|d| d.name.clone());
        assert_eq!(new, old, "{stem}");
        seen += 1;
    }
    assert!(seen >= 11, "only {seen} fixtures read");
}

#[test]
fn the_new_fixtures_have_comments_first_and_consistent_histograms() {
    for name in NEW {
        let text = fixture(name);
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("# ") && !first.starts_with("# HELP") && !first.starts_with("# TYPE"),
            "{name} opens with its sources"
        );
        assert!(text.contains("not a capture"), "{name} says what it is");
        let expo = parse(&text);
        assert_eq!(
            expo.created_ignored, 0,
            "{name}: none of these writes _created"
        );
        let families: Vec<&str> = expo
            .types
            .iter()
            .filter(|(_, t)| *t == MetricType::Histogram)
            .map(|(n, _)| *n)
            .collect();
        assert!(!families.is_empty(), "{name} has histograms");
        for family in families {
            let series = expo.histograms(family);
            assert!(!series.is_empty(), "{name}: {family}");
            for h in series {
                let (last_le, last) = *h.buckets.last().expect("buckets");
                assert!(last_le.is_infinite(), "{name}: {family} ends at +Inf");
                assert_eq!(h.count, Some(last), "{name}: {family} +Inf = _count");
                assert!(h.sum.is_some(), "{name}: {family} has _sum");
                assert!(
                    h.buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{name}: {family} buckets are cumulative"
                );
            }
        }
    }
}
