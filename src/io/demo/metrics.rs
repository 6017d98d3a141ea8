//! Demo gateway metrics: shared counters/histograms and their exposition in the seed exporter's exact dialect.
//!
//! The seed exporter is Python `prometheus_client`, so this mirrors its `generate_latest`: series in
//! first-use order, `_created` samples split into trailing gauge families, and floats printed with
//! `floatToGoString` (Python `repr`, switched to Go-style exponents above 1e6).
use std::fmt::{self, Write as _};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::models::CATALOG;
use super::router::{self, Router};

/// `prometheus_client`'s default histogram buckets; `+Inf` is implicit.
pub(crate) const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// What `prometheus_client` serves for the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const TTFT_HELP: &str =
    "Time to first token (llmtop demo extension, not emitted by the seed exporter)";
/// The router's and limiter's families, exported while the `failover` scenario runs.
const UPSTREAM_STATE_HELP: &str =
    "Upstream health: 0 healthy, 1 degraded, 2 down (llmtop demo extension)";
const UPSTREAM_RESPONSES_HELP: &str =
    "Answers from each upstream by status (llmtop demo extension)";
const UPSTREAM_COOLDOWNS_HELP: &str =
    "Times an upstream was taken out of rotation (llmtop demo extension)";
const FALLBACKS_HELP: &str =
    "Requests moved from one upstream to another, by result (llmtop demo extension)";
const RPM_LIMIT_HELP: &str =
    "Requests per minute the rate limiter allows an upstream (llmtop demo extension)";
const REMAINING_HELP: &str =
    "Requests an upstream may still take this minute (llmtop demo extension)";
/// The limiter's queue, exported while the `saturation` scenario runs.
const QUEUED_HELP: &str = "Requests waiting for the gateway (llmtop demo extension)";
const QUEUE_TIME_HELP: &str =
    "Time requests waited before the gateway took them (llmtop demo extension)";

/// One finished request, synthetic or real. Seconds for durations.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    pub model: &'static str,
    pub success: bool,
    pub latency: f64,
    /// `None` when no token was ever produced (most errors).
    pub ttft: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Non-cumulative, one slot per bucket plus `+Inf`; cumulated at render time.
    buckets: [u64; DEFAULT_BUCKETS.len() + 1],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        // `le` is inclusive, as in prometheus_client.
        let slot = DEFAULT_BUCKETS
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(DEFAULT_BUCKETS.len());
        self.buckets[slot] += 1;
        self.count += 1;
        self.sum += value;
    }
}

#[derive(Debug)]
struct Series<V> {
    label_values: Vec<&'static str>,
    created: f64,
    value: V,
}

/// A labelled metric family whose children appear on first use, like `Metric.labels(...)`.
#[derive(Debug)]
struct Family<V> {
    label_names: &'static [&'static str],
    series: Vec<Series<V>>,
}

impl<V: Default> Family<V> {
    fn new(label_names: &'static [&'static str]) -> Self {
        Family {
            label_names,
            series: Vec::new(),
        }
    }

    fn child(&mut self, label_values: &[&'static str]) -> &mut V {
        // Linear scan: a handful of models × statuses, and it keeps first-use order for free.
        let pos = match self
            .series
            .iter()
            .position(|s| s.label_values == label_values)
        {
            Some(pos) => pos,
            None => {
                self.series.push(Series {
                    label_values: label_values.to_vec(),
                    created: unix_now(),
                    value: V::default(),
                });
                self.series.len() - 1
            }
        };
        &mut self.series[pos].value
    }
}

#[derive(Debug)]
struct State {
    requests: Family<u64>,
    latency: Family<Histogram>,
    tokens: Family<u64>,
    ttft: Family<Histogram>,
    synthetic_active: u64,
    real_active: u64,
    cache_hit_ratio: f64,
    router: Router,
    upstream_responses: Family<u64>,
    upstream_cooldowns: Family<u64>,
    fallbacks: Family<u64>,
    queued: u64,
    queue_time: Family<Histogram>,
}

/// All demo metrics behind one lock, so a scrape always sees a consistent snapshot.
#[derive(Debug)]
pub(crate) struct Metrics {
    state: Mutex<State>,
    /// Zero of the clock real requests are routed on (the simulator routes on its own).
    epoch: Instant,
}

/// The families beyond the seed's that one `/metrics` answer carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// The router's and limiter's (`failover`).
    pub router: bool,
    /// The queue's (`saturation`).
    pub queue: bool,
}

impl Metrics {
    pub fn new(cache_hit_ratio: f64) -> Self {
        Metrics {
            state: Mutex::new(State {
                requests: Family::new(&["model", "status"]),
                latency: Family::new(&["model"]),
                tokens: Family::new(&["model", "type"]),
                ttft: Family::new(&["model"]),
                synthetic_active: 0,
                real_active: 0,
                cache_hit_ratio,
                router: Router::default(),
                upstream_responses: Family::new(&["upstream", "provider", "status"]),
                upstream_cooldowns: Family::new(&["upstream", "provider"]),
                fallbacks: Family::new(&["from", "to", "result"]),
                queued: 0,
                queue_time: Family::new(&[]),
            }),
            epoch: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters half-written in a way that
        // matters for a demo, so keep serving rather than cascading the panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a finished request, routed at `now` on the caller's clock (seconds), with the
    /// primary upstream down when `failover` is on.
    pub fn record_at(&self, obs: &Observation, now: f64, failover: bool) {
        record_into(&mut self.lock(), obs, now, failover);
    }

    #[cfg(test)]
    pub fn record(&self, obs: &Observation) {
        self.record_at(obs, 0.0, false);
    }

    /// The limiter's queue: how many wait now, and how long the ones just taken waited.
    pub fn set_queue(&self, waiting: u64, waits: &[f64]) {
        let mut st = self.lock();
        st.queued = waiting;
        let h = st.queue_time.child(&[]);
        for w in waits {
            h.observe(*w);
        }
    }

    pub fn real_request_started(&self) {
        self.lock().real_active += 1;
    }

    /// Records a real request and leaves the active gauge in one step, so no scrape sees one without the other.
    pub fn real_request_finished(&self, obs: &Observation, failover: bool) {
        let now = self.epoch.elapsed().as_secs_f64();
        let mut st = self.lock();
        record_into(&mut st, obs, now, failover);
        st.real_active = st.real_active.saturating_sub(1);
    }

    pub fn set_synthetic_active(&self, n: u64) {
        self.lock().synthetic_active = n;
    }

    pub fn set_cache_hit_ratio(&self, ratio: f64) {
        self.lock().cache_hit_ratio = ratio;
    }

    /// What a process restart does to the exporter: every counter and histogram back to 0
    /// (series stay registered, as exporters that pre-register their labels do).
    pub fn restart(&self) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let now = unix_now();
        for s in st
            .requests
            .series
            .iter_mut()
            .chain(st.tokens.series.iter_mut())
            .chain(st.upstream_responses.series.iter_mut())
            .chain(st.upstream_cooldowns.series.iter_mut())
            .chain(st.fallbacks.series.iter_mut())
        {
            s.value = 0;
            s.created = now;
        }
        for s in st
            .latency
            .series
            .iter_mut()
            .chain(st.ttft.series.iter_mut())
            .chain(st.queue_time.series.iter_mut())
        {
            s.value = Histogram::default();
            s.created = now;
        }
    }

    pub fn cache_hit_ratio(&self) -> f64 {
        self.lock().cache_hit_ratio
    }

    /// The full `/metrics` body of the seed's families.
    #[cfg(test)]
    pub fn render(&self) -> String {
        self.render_with(Extensions::default())
    }

    /// The full `/metrics` body, with the extension families asked for.
    pub fn render_with(&self, extensions: Extensions) -> String {
        let st = self.lock();
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = render_into(&mut out, &st);
        if extensions.router {
            let _ = render_router(&mut out, &st);
        }
        if extensions.queue {
            let _ = render_queue(&mut out, &st);
        }
        out
    }
}

fn provider(upstream: &str) -> &'static str {
    CATALOG
        .iter()
        .find(|m| m.id == upstream)
        .map_or("", |m| m.owned_by)
}

fn record_into(st: &mut State, obs: &Observation, now: f64, failover: bool) {
    let routed = st.router.route(obs.model, obs.success, now, failover);
    for (upstream, ok) in &routed.answers {
        let status = if *ok { "success" } else { "error" };
        *st.upstream_responses
            .child(&[upstream, provider(upstream), status]) += 1;
    }
    if let Some(upstream) = routed.cooled_down {
        *st.upstream_cooldowns.child(&[upstream, provider(upstream)]) += 1;
    }
    if let Some((from, to, ok)) = routed.fallback {
        let result = if ok { "ok" } else { "failed" };
        *st.fallbacks.child(&[from, to, result]) += 1;
    }
    let status = if obs.success { "success" } else { "error" };
    *st.requests.child(&[obs.model, status]) += 1;
    st.latency.child(&[obs.model]).observe(obs.latency);
    if obs.success || obs.prompt_tokens + obs.completion_tokens > 0 {
        *st.tokens.child(&[obs.model, "prompt"]) += obs.prompt_tokens;
        *st.tokens.child(&[obs.model, "completion"]) += obs.completion_tokens;
        *st.tokens.child(&[obs.model, "total"]) += obs.prompt_tokens + obs.completion_tokens;
    }
    if let Some(ttft) = obs.ttft {
        st.ttft.child(&[obs.model]).observe(ttft);
    }
}

fn render_into(out: &mut String, st: &State) -> fmt::Result {
    counter(out, "deepseek_requests", "Total requests", &st.requests)?;
    histogram(
        out,
        "deepseek_request_latency_seconds",
        "Request latency",
        &st.latency,
    )?;
    counter(out, "deepseek_tokens", "Tokens used", &st.tokens)?;
    gauge(
        out,
        "deepseek_active_requests",
        "Active requests",
        (st.synthetic_active + st.real_active) as f64,
    )?;
    gauge(
        out,
        "deepseek_cache_hit_ratio",
        "Cache hit ratio",
        st.cache_hit_ratio,
    )?;
    // Registered last so the seed's five families keep the seed's order.
    histogram(
        out,
        "deepseek_time_to_first_token_seconds",
        TTFT_HELP,
        &st.ttft,
    )
}

fn render_router(out: &mut String, st: &State) -> fmt::Result {
    let failover = true;
    labelled_gauge(
        out,
        "deepseek_upstream_state",
        UPSTREAM_STATE_HELP,
        &["upstream", "provider", "api_base"],
        CATALOG.iter().map(|m| {
            let health = st.router.health(m.id, failover);
            (
                vec![m.id, m.owned_by, router::api_base(m.owned_by)],
                health as u8 as f64,
            )
        }),
    )?;
    counter(
        out,
        "deepseek_upstream_responses",
        UPSTREAM_RESPONSES_HELP,
        &st.upstream_responses,
    )?;
    counter(
        out,
        "deepseek_upstream_cooldowns",
        UPSTREAM_COOLDOWNS_HELP,
        &st.upstream_cooldowns,
    )?;
    counter(out, "deepseek_fallbacks", FALLBACKS_HELP, &st.fallbacks)?;
    labelled_gauge(
        out,
        "deepseek_ratelimit_rpm_limit",
        RPM_LIMIT_HELP,
        &["upstream"],
        CATALOG
            .iter()
            .map(|m| (vec![m.id], router::rpm_limit(m.id) as f64)),
    )?;
    labelled_gauge(
        out,
        "deepseek_ratelimit_remaining_requests",
        REMAINING_HELP,
        &["upstream"],
        CATALOG
            .iter()
            .map(|m| (vec![m.id], st.router.remaining(m.id) as f64)),
    )
}

fn render_queue(out: &mut String, st: &State) -> fmt::Result {
    gauge(
        out,
        "deepseek_queued_requests",
        QUEUED_HELP,
        st.queued as f64,
    )?;
    histogram(
        out,
        "deepseek_queue_time_seconds",
        QUEUE_TIME_HELP,
        &st.queue_time,
    )
}

fn labelled_gauge<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    label_names: &[&str],
    rows: impl Iterator<Item = (Vec<&'a str>, f64)>,
) -> fmt::Result {
    writeln!(out, "# HELP {name} {}", escape_help(help))?;
    writeln!(out, "# TYPE {name} gauge")?;
    for (values, value) in rows {
        let labels = label_set(label_names, &values, None);
        writeln!(out, "{name}{labels} {}", go_float(value))?;
    }
    Ok(())
}

/// `name` is the prometheus_client metric name, i.e. without `_total`.
fn counter(out: &mut String, name: &str, help: &str, fam: &Family<u64>) -> fmt::Result {
    writeln!(out, "# HELP {name}_total {}", escape_help(help))?;
    writeln!(out, "# TYPE {name}_total counter")?;
    for s in &fam.series {
        let labels = label_set(fam.label_names, &s.label_values, None);
        writeln!(out, "{name}_total{labels} {}", go_float(s.value as f64))?;
    }
    created_family(out, name, help, fam)
}

fn histogram(out: &mut String, name: &str, help: &str, fam: &Family<Histogram>) -> fmt::Result {
    writeln!(out, "# HELP {name} {}", escape_help(help))?;
    writeln!(out, "# TYPE {name} histogram")?;
    for s in &fam.series {
        let h = &s.value;
        let mut cumulative = 0;
        for (slot, n) in h.buckets.iter().enumerate() {
            cumulative += n;
            let le = DEFAULT_BUCKETS
                .get(slot)
                .map_or_else(|| "+Inf".to_owned(), |b| go_float(*b));
            let labels = label_set(fam.label_names, &s.label_values, Some(&le));
            writeln!(out, "{name}_bucket{labels} {}", go_float(cumulative as f64))?;
        }
        let labels = label_set(fam.label_names, &s.label_values, None);
        writeln!(out, "{name}_count{labels} {}", go_float(h.count as f64))?;
        writeln!(out, "{name}_sum{labels} {}", go_float(h.sum))?;
    }
    created_family(out, name, help, fam)
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) -> fmt::Result {
    writeln!(out, "# HELP {name} {}", escape_help(help))?;
    writeln!(out, "# TYPE {name} gauge")?;
    writeln!(out, "{name} {}", go_float(value))
}

/// prometheus_client emits no `_created` family at all while a labelled metric has no children.
fn created_family<V>(out: &mut String, name: &str, help: &str, fam: &Family<V>) -> fmt::Result {
    if fam.series.is_empty() {
        return Ok(());
    }
    writeln!(out, "# HELP {name}_created {}", escape_help(help))?;
    writeln!(out, "# TYPE {name}_created gauge")?;
    for s in &fam.series {
        let labels = label_set(fam.label_names, &s.label_values, None);
        writeln!(out, "{name}_created{labels} {}", go_float(s.created))?;
    }
    Ok(())
}

fn label_set(names: &[&str], values: &[&str], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', r"\\").replace('\n', r"\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('\n', r"\n")
        .replace('"', r#"\""#)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Python's `repr(float)`: shortest round-trip digits, scientific outside `1e-4 <= |x| < 1e16`.
pub(crate) fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` yields the shortest round-trip digits, e.g. `1.7956840684237692e9`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    // Position of the decimal point relative to the start of `digits`.
    let point = exp + 1;
    let body = if x == 0.0 {
        "0.0".to_owned()
    } else if !(-3..=16).contains(&point) {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{head}{frac}e{esign}{:02}", exp.abs())
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// prometheus_client's `floatToGoString`, used for every sample value and `le`.
pub(crate) fn go_float(x: f64) -> String {
    if x == f64::INFINITY {
        return "+Inf".to_owned();
    }
    if x == f64::NEG_INFINITY {
        return "-Inf".to_owned();
    }
    if x.is_nan() {
        return "NaN".to_owned();
    }
    let s = py_repr(x);
    match s.find('.') {
        // Go switches to exponents sooner than Python does.
        Some(dot) if x > 0.0 && dot > 6 => {
            let mantissa = format!("{}.{}{}", &s[..1], &s[1..dot], &s[dot + 1..]);
            let mantissa = mantissa.trim_end_matches(['0', '.']);
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/seed.prom"
    ));

    #[test]
    fn floats_format_like_prometheus_client() {
        let cases: &[(f64, &str)] = &[
            (990.0, "990.0"),
            (7.0, "7.0"),
            (0.0, "0.0"),
            (0.42, "0.42"),
            (0.005, "0.005"),
            (10.0, "10.0"),
            (943.6543433607068, "943.6543433607068"),
            (204613.0, "204613.0"),
            (1.7956840684237692e9, "1.7956840684237692e+09"),
            (1.795684068431111e9, "1.795684068431111e+09"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1000000.5, "1.0000005e+06"),
            (999999.0, "999999.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e16, "1.5e+16"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (x, want) in cases {
            assert_eq!(go_float(*x), *want, "formatting {x:?}");
        }
        assert_eq!(py_repr(1e15), "1000000000000000.0");
        assert_eq!(py_repr(1e16), "1e+16");
    }

    fn obs(model: &'static str, success: bool, latency: f64) -> Observation {
        Observation {
            model,
            success,
            latency,
            ttft: success.then_some(latency / 4.0),
            prompt_tokens: if success { 100 } else { 0 },
            completion_tokens: if success { 20 } else { 0 },
        }
    }

    #[test]
    fn fresh_metrics_have_headers_but_no_labelled_samples() {
        let text = Metrics::new(0.42).render();
        assert!(text.contains("# TYPE deepseek_requests_total counter\n"));
        assert!(!text.contains("deepseek_requests_created"));
        assert!(text.contains("deepseek_active_requests 0.0\n"));
        assert!(text.contains("deepseek_cache_hit_ratio 0.42\n"));
    }

    #[test]
    fn help_and_type_lines_match_the_seed_for_its_families() {
        let m = Metrics::new(0.4);
        m.record(&obs("gpt-4o", true, 0.3));
        let text = m.render();
        let header = |l: &&str| l.starts_with("# ");
        let ours: Vec<&str> = text
            .lines()
            .filter(header)
            .filter(|l| !l.contains("time_to_first_token"))
            .collect();
        let seed: Vec<&str> = SEED.lines().filter(header).collect();
        assert_eq!(ours, seed);
        assert!(text.contains(
            "# HELP deepseek_time_to_first_token_seconds Time to first token (llmtop demo extension"
        ));
    }

    #[test]
    fn histograms_are_cumulative_and_consistent() {
        let m = Metrics::new(0.4);
        for (i, lat) in [0.004, 0.005, 0.3, 1.0, 2.0, 12.0].iter().enumerate() {
            m.record(&obs("deepseek-chat", i % 2 == 0, *lat));
        }
        let text = m.render();
        let bucket = |le: &str| {
            let key = format!(
                "deepseek_request_latency_seconds_bucket{{model=\"deepseek-chat\",le=\"{le}\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(key.as_str()))
                .unwrap_or_else(|| panic!("no bucket {le}"))
                .to_owned()
        };
        assert_eq!(bucket("0.005"), "2.0");
        assert_eq!(bucket("0.25"), "2.0");
        assert_eq!(bucket("1.0"), "4.0");
        assert_eq!(bucket("10.0"), "5.0");
        assert_eq!(bucket("+Inf"), "6.0");
        assert!(
            text.contains("deepseek_request_latency_seconds_count{model=\"deepseek-chat\"} 6.0\n")
        );
        assert!(
            text.contains(
                "deepseek_requests_total{model=\"deepseek-chat\",status=\"success\"} 3.0\n"
            )
        );
        assert!(
            text.contains(
                "deepseek_requests_total{model=\"deepseek-chat\",status=\"error\"} 3.0\n"
            )
        );
        assert!(
            text.contains("deepseek_tokens_total{model=\"deepseek-chat\",type=\"total\"} 360.0\n")
        );
        assert!(
            text.contains(
                "deepseek_time_to_first_token_seconds_count{model=\"deepseek-chat\"} 3.0\n"
            )
        );
        assert!(text.contains("# TYPE deepseek_request_latency_seconds_created gauge\n"));
    }

    #[test]
    fn real_requests_move_the_active_gauge() {
        let m = Metrics::new(0.4);
        m.set_synthetic_active(5);
        m.real_request_started();
        assert!(m.render().contains("deepseek_active_requests 6.0\n"));
        m.real_request_finished(&obs("gpt-4o", true, 0.2), false);
        let text = m.render();
        assert!(text.contains("deepseek_active_requests 5.0\n"));
        assert!(
            text.contains("deepseek_requests_total{model=\"gpt-4o\",status=\"success\"} 1.0\n")
        );
    }
}
