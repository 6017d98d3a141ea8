//! The load generator behind `llmtop bench`: load-test an OpenAI-compatible gateway and summarise latency, TTFT, tokens and cost.
//!
//! Closed loop by default (C workers, each sending its next request when the previous one
//! finishes); `--rate R` is an open loop with Poisson arrivals, still at most C in flight, whose
//! latency is measured from the intended send time so a stalled gateway cannot hide its queue
//! (no coordinated omission). The JSON shape is documented in `docs/bench-schema.json`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::base::pricing::PriceTable;
use crate::io::probe::fast::HttpConnection;
use crate::io::probe::{PreparedRequest, ProbeRequest, ProbeResult, run_prepared, run_probe};

pub mod compare_runs;
pub mod output;
pub mod progress;
pub mod schedule;
pub mod stats;
pub mod sweep;
pub mod workload;

use stats::{Recorder, Sample};

/// Exit code after Ctrl-C, as shells report a SIGINT death.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Requests sent when neither `-n` nor `--duration` is given.
pub const DEFAULT_REQUESTS: u64 = 1000;
/// Largest prompts file read.
const MAX_PROMPTS_BYTES: u64 = 64 * 1024 * 1024;

/// Service-level objectives for goodput: a request counts when it succeeded and met each one set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slo {
    pub ttft: Option<Duration>,
    pub tpot: Option<Duration>,
    /// End to end, from the intended send time.
    pub e2e: Option<Duration>,
}

impl Slo {
    pub fn met_by(&self, sample: &Sample) -> bool {
        let within = |limit: Option<Duration>, value: Option<Duration>| match limit {
            None => true,
            Some(limit) => value.is_some_and(|v| v <= limit),
        };
        sample.ok
            && within(self.ttft, sample.ttft)
            && within(self.tpot, sample.tpot)
            && within(self.e2e, Some(sample.latency))
    }

    pub fn to_json(&self) -> Value {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        json!({
            "ttft_seconds": secs(self.ttft),
            "tpot_seconds": secs(self.tpot),
            "e2e_seconds": secs(self.e2e),
        })
    }
}

/// `ttft=500ms,tpot=50ms,e2e=2s` (a bare number is milliseconds, as in vLLM; `e2el` = `e2e`).
pub fn parse_goodput(text: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once(['=', ':'])
            .ok_or_else(|| format!("{part:?}: expected key=duration, e.g. ttft=500ms"))?;
        let value = value.trim();
        let limit = match value.parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms > 0.0 => Duration::from_secs_f64(ms / 1000.0),
            Ok(_) => return Err(format!("{part:?}: the limit must be positive")),
            Err(_) => crate::base::format::parse_duration(value)?,
        };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "ttft" => &mut slo.ttft,
            "tpot" => &mut slo.tpot,
            "e2e" | "e2el" => &mut slo.e2e,
            other => {
                return Err(format!(
                    "unknown goodput key {other:?}: use ttft, tpot or e2e"
                ));
            }
        };
        *slot = Some(limit);
    }
    if slo == Slo::default() {
        return Err("give at least one of ttft=, tpot=, e2e=".to_string());
    }
    Ok(slo)
}

/// A request rate: a positive, finite number per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of requests per second"
        )),
    }
}

/// Prompts from a JSON Lines file: each non-blank line a JSON string or an object with `"prompt"`.
pub fn load_prompts(path: &Path) -> anyhow::Result<Vec<String>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_PROMPTS_BYTES,
        "{} is larger than {} MiB",
        path.display(),
        MAX_PROMPTS_BYTES >> 20
    );
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_prompts(&text).with_context(|| format!("in {}", path.display()))
}

fn parse_prompts(text: &str) -> anyhow::Result<Vec<String>> {
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("line {} is not JSON", i + 1))?;
        let prompt = match &value {
            Value::String(s) => s.clone(),
            Value::Object(map) => map
                .get("prompt")
                .and_then(Value::as_str)
                .with_context(|| format!("line {}: no \"prompt\" string", i + 1))?
                .to_string(),
            _ => anyhow::bail!(
                "line {}: expected a string or an object with \"prompt\"",
                i + 1
            ),
        };
        prompts.push(prompt);
    }
    anyhow::ensure!(!prompts.is_empty(), "no prompts");
    Ok(prompts)
}

/// What to send, how much and how fast.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every request is this one with the prompt replaced.
    pub template: ProbeRequest,
    /// Used in turn: request `i` sends `prompts[i % len]`, with its own completion limit when
    /// it has one.
    pub prompts: Vec<workload::Prompt>,
    /// `None` = until `duration` or Ctrl-C.
    pub requests: Option<u64>,
    pub concurrency: usize,
    /// Open loop at this rate (or ramp) and burstiness; `None` = closed loop.
    pub arrivals: Option<ArrivalPlan>,
    /// Requests sent first and left out of every figure (a cold cache, new connections).
    pub warmup: u64,
    pub duration: Option<Duration>,
    pub seed: Option<u64>,
    pub slo: Option<Slo>,
    /// The closed loop sends plain-`http://` requests over one connection per worker
    /// ([`HttpConnection`]) rather than the shared reqwest client; results are the same, the
    /// CPU per request about half. https, proxied and open-loop runs always use reqwest.
    pub fast_http: bool,
    /// Threads of the closed loop; `None` = one per CPU.
    pub threads: Option<usize>,
    /// Every counted request's full result is also sent here (`bench --tui` shows them live).
    pub tap: Option<mpsc::UnboundedSender<ProbeResult>>,
}

/// An open loop's arrivals: the rate over the run and the gamma shape of the gaps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalPlan {
    pub shape: schedule::RateShape,
    pub burstiness: f64,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub recorder: Recorder,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Resolves once when the user asks to stop (SIGINT / Ctrl-C), or never. Clones see the same
/// Ctrl-C, so each step of a sweep can hold one.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Listens for Ctrl-C from now on (the handler is in place when this returns).
    pub fn install() -> anyhow::Result<Self> {
        let (tx, rx) = watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut sigint = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
            tokio::spawn(async move {
                if sigint.recv().await.is_some() {
                    tx.send_replace(true);
                }
                // A second Ctrl-C means "now": no summary.
                if sigint.recv().await.is_some() {
                    std::process::exit(EXIT_INTERRUPTED);
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tx.send_replace(true);
            }
        });
        Ok(Self(rx))
    }

    /// A trigger under the caller's control, for tests and embedding.
    pub fn manual() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs the plan to its end (count, duration) or until `interrupt`; requests in flight at an
/// interrupt are abandoned and not counted.
pub async fn execute(
    client: &reqwest::Client,
    plan: Plan,
    prices: &PriceTable,
    interrupt: Interrupt,
    progress: Option<progress::Progress>,
) -> Outcome {
    execute_recorded(client, plan, prices, interrupt, progress, None).await
}

/// [`execute`], appending every finished request to `record` (`--record`) as it arrives.
pub async fn execute_recorded(
    client: &reqwest::Client,
    plan: Plan,
    prices: &PriceTable,
    mut interrupt: Interrupt,
    mut progress: Option<progress::Progress>,
    mut record: Option<&mut crate::io::record::Recorder>,
) -> Outcome {
    let start = Instant::now();
    let deadline = plan.duration.and_then(|d| start.checked_add(d));
    let limit = plan
        .requests
        .map_or(u64::MAX, |n| n.saturating_add(plan.warmup));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Dropped when this function returns: the closed loop's threads keep their runtimes (and the
    // connections those drive) alive until then.
    let (_release, released) = watch::channel(());
    // Every sender holds a clone, so the channel closing is how this task learns that all are
    // done; samples travel on it only when `--record` needs them here.
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    // Built once per prompt, not per request; a request that cannot be built is left to
    // `run_probe`, which reports why for every request.
    let prepared = plan.template.prepare().ok().map(|first| {
        plan.prompts
            .iter()
            .map(|p| {
                first.with_prompt_and_limit(&p.text, p.max_tokens.or(first.request().max_tokens))
            })
            .collect()
    });
    let template_price = prices.lookup(&plan.template.model).cloned();
    let shared = Arc::new(Shared {
        client: client.clone(),
        prepared,
        fast_http: plan.fast_http,
        template: plan.template,
        prompts: plan.prompts,
        prices: prices.clone(),
        template_price,
        tally: Tally::new(plan.slo),
        forward: record.is_some(),
        warmup: plan.warmup,
        measured_from: std::sync::OnceLock::new(),
        tap: plan.tap,
    });

    match plan.arrivals {
        None => {
            let workers = u64::try_from(plan.concurrency)
                .unwrap_or(u64::MAX)
                .min(limit);
            let closed = ClosedLoop {
                shared: shared.clone(),
                issued: Arc::new(AtomicU64::new(0)),
                limit,
                threads: plan.threads,
                deadline,
            };
            closed.spawn(workers, &tx, &stop_rx, &released);
        }
        Some(arrivals) => {
            let (shared, tx, mut stop) = (shared.clone(), tx.clone(), stop_rx.clone());
            let seed = plan.seed.unwrap_or_else(rand::random);
            let concurrency = plan.concurrency;
            // A ramp runs over the measured requests, or over the duration.
            let span = match (plan.requests, plan.duration) {
                (Some(n), _) => Some(schedule::Span::Requests(n.saturating_add(plan.warmup))),
                (None, Some(d)) => Some(schedule::Span::Time(d)),
                (None, None) => None,
            };
            tokio::spawn(async move {
                let schedule =
                    schedule::Arrivals::new(arrivals.shape, arrivals.burstiness, span, seed);
                let slots = Arc::new(Semaphore::new(concurrency));
                for (index, offset) in (0..limit).zip(schedule) {
                    let intended = start + offset;
                    if deadline.is_some_and(|d| intended >= d) {
                        break;
                    }
                    let permit = tokio::select! {
                        _ = tokio::time::sleep_until(intended) => {
                            tokio::select! {
                                p = slots.clone().acquire_owned() => p,
                                _ = stopped(&mut stop) => break,
                            }
                        }
                        _ = stopped(&mut stop) => break,
                    };
                    let Ok(permit) = permit else { break };
                    let (shared, tx, mut stop) = (shared.clone(), tx.clone(), stop.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            sample = shared.send(index, intended, None) => {
                                shared.finish(index, index, sample, &tx);
                            }
                            _ = stopped(&mut stop) => {}
                        }
                        drop(permit);
                    });
                }
            });
        }
    }
    drop(tx);

    let mut interrupted = false;
    let mut ticker = tokio::time::interval(
        progress
            .as_ref()
            .map_or(Duration::from_secs(3600), |p| p.period()),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            sample = rx.recv() => match sample {
                Some(sample) => {
                    if let Some(file) = record.as_deref_mut() {
                        file.bench(crate::base::clock::unix_now(), &sample);
                    }
                }
                None => break,
            },
            _ = ticker.tick() => {
                if let Some(p) = progress.as_mut() {
                    p.draw(&shared.tally.merged(), start.elapsed(), false);
                }
            }
            _ = interrupt.wait(), if !interrupted => {
                interrupted = true;
                stop_tx.send_replace(true);
            }
        }
    }
    // Rates are over the measured part: from the first request after the warm-up.
    let elapsed = shared
        .measured_from
        .get()
        .map_or_else(|| start.elapsed(), |from| from.elapsed());
    // The channel closed, so every sender has finished and tallied.
    let recorder = shared.tally.merged();
    if let Some(p) = progress.as_mut() {
        p.draw(&recorder, elapsed, true);
    }
    Outcome {
        recorder,
        elapsed,
        interrupted,
    }
}

/// Most shards a run counts into; each recorder holds about 1 MiB of histograms.
const MAX_TALLY_SHARDS: usize = 4;

/// Where finished requests are counted: a few recorders, each behind its own mutex. A request is
/// tallied on the thread that finished it, so no task is woken per request (a channel to one
/// collector cost a cross-thread wake-up each time: a third of the CPU at 10k requests/s), and
/// with a shard per runtime thread two threads seldom want the same lock.
struct Tally {
    shards: Vec<Mutex<Recorder>>,
    slo: Option<Slo>,
}

impl Tally {
    fn new(slo: Option<Slo>) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            shards: (0..threads.min(MAX_TALLY_SHARDS))
                .map(|_| Mutex::new(Recorder::default()))
                .collect(),
            slo,
        }
    }

    fn record(&self, key: u64, sample: &Sample) {
        let shard = usize::try_from(key % self.shards.len() as u64).unwrap_or(0);
        // A panic elsewhere cannot leave a recorder half-updated: `record` only adds.
        let mut recorder = self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        recorder.record(sample, self.slo.as_ref());
    }

    /// Everything counted so far, as one recorder.
    fn merged(&self) -> Recorder {
        let mut total = Recorder::default();
        for shard in &self.shards {
            total.merge(&shard.lock().unwrap_or_else(PoisonError::into_inner));
        }
        total
    }
}

/// Closed-loop workers one thread serves before another is started (up to one per CPU).
/// Measured against nginx on 127.0.0.1 with 2 CPUs, 3–4 interleaved rounds of 50 000 requests
/// (after the body stopped being copied and re-validated per request): one thread beats two by
/// 5–20 % at -c 50 and -c 100, a second thread mostly taking CPU from the server and adding
/// wake-ups; two win at -c 200 and -c 400, where one thread's poll loop over that many
/// connections gets long. One thread answers about 80 000 small completions a second, more
/// than any LLM gateway serves, so a second one is only worth its cost for many connections.
const WORKERS_PER_THREAD: u64 = 128;

/// What the closed loop's workers share.
#[derive(Clone)]
struct ClosedLoop {
    shared: Arc<Shared>,
    /// Requests handed out so far; the next request's number.
    issued: Arc<AtomicU64>,
    limit: u64,
    threads: Option<usize>,
    deadline: Option<Instant>,
}

impl ClosedLoop {
    /// Starts `workers` workers on single-threaded runtimes (one per [`WORKERS_PER_THREAD`]
    /// workers, at most one per CPU, or `--threads`), each on its own thread,
    /// as oha does: a request, its connection's task and its tally then mostly stay on one
    /// thread, where a work-stealing runtime kept waking the other thread. Workers that cannot
    /// get a thread run on the caller's runtime.
    ///
    /// The threads share the caller's client, so a connection one runtime opened may serve
    /// another's request: each runtime runs until `released` closes, not just until its own
    /// workers end, or a request still on its connection would fail ("dispatch task is gone").
    fn spawn(
        &self,
        workers: u64,
        tx: &mpsc::UnboundedSender<Sample>,
        stop: &watch::Receiver<bool>,
        released: &watch::Receiver<()>,
    ) {
        let threads = match self.threads {
            Some(n) => u64::try_from(n).unwrap_or(1),
            None => {
                let cpus =
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
                workers
                    .div_ceil(WORKERS_PER_THREAD)
                    .min(u64::try_from(cpus).unwrap_or(1))
            }
        }
        .clamp(1, workers.max(1));
        for thread in 0..threads {
            // Worker w runs on thread w % threads.
            let ids = move || (thread..workers).step_by(usize::try_from(threads).unwrap_or(1));
            let mine = (self.clone(), tx.clone(), stop.clone(), released.clone());
            let started = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
                .and_then(|runtime| {
                    std::thread::Builder::new()
                        .name(format!("llmtop-bench-{thread}"))
                        .spawn(move || {
                            let (closed, tx, stop, mut released) = mine;
                            runtime.block_on(async move {
                                let mut set = tokio::task::JoinSet::new();
                                for worker in ids() {
                                    set.spawn(closed.clone().work(
                                        worker,
                                        tx.clone(),
                                        stop.clone(),
                                    ));
                                }
                                // The collector learns that every worker is done when the
                                // last sender is gone.
                                drop(tx);
                                while set.join_next().await.is_some() {}
                                // Never sent: resolves when the sender is dropped.
                                let _ = released.changed().await;
                            });
                        })
                        .ok()
                });
            if started.is_none() {
                for worker in ids() {
                    tokio::spawn(self.clone().work(worker, tx.clone(), stop.clone()));
                }
            }
        }
    }

    /// One worker: sends the next request as soon as its previous one finished.
    async fn work(
        self,
        worker: u64,
        tx: mpsc::UnboundedSender<Sample>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut connection = self.shared.connection();
        // One waiter for the whole run rather than one registered and removed per request.
        let stop = stopped(&mut stop);
        tokio::pin!(stop);
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let index = self.issued.fetch_add(1, Ordering::Relaxed);
            if index >= self.limit {
                break;
            }
            let sent = Instant::now();
            tokio::select! {
                biased;
                () = &mut stop => break,
                sample = self.shared.send(index, sent, connection.as_mut()) => {
                    if !self.shared.finish(worker, index, sample, &tx) {
                        break;
                    }
                }
            }
        }
    }
}

/// Resolves once the run is told to stop; never if the sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What every sender needs.
struct Shared {
    client: reqwest::Client,
    /// `template` with each prompt, ready to send; `None` if the template cannot be built.
    prepared: Option<Vec<PreparedRequest>>,
    fast_http: bool,
    template: ProbeRequest,
    prompts: Vec<workload::Prompt>,
    prices: PriceTable,
    /// The template model's price row, looked up once instead of once per request.
    template_price: Option<crate::base::pricing::Price>,
    tally: Tally,
    /// `--record` is on: every sample also goes to the collecting task.
    forward: bool,
    /// Requests `0..warmup` are sent but not counted.
    warmup: u64,
    /// When the first counted request was meant to go out (with a warm-up).
    measured_from: std::sync::OnceLock<Instant>,
    tap: Option<mpsc::UnboundedSender<ProbeResult>>,
}

impl Shared {
    /// Counts finished request `index` under `key` (worker or request number, picking the
    /// shard) and hands it to the collecting task if `--record` wants it; false once nobody
    /// listens. A warm-up request is dropped here.
    fn finish(
        &self,
        key: u64,
        index: u64,
        sample: Sample,
        tx: &mpsc::UnboundedSender<Sample>,
    ) -> bool {
        if index < self.warmup {
            return true;
        }
        self.tally.record(key, &sample);
        !self.forward || tx.send(sample).is_ok()
    }

    /// A closed-loop worker's own connection, when the fast path applies.
    fn connection(&self) -> Option<HttpConnection> {
        let first = self.prepared.as_ref()?.first()?;
        self.fast_http
            .then(|| HttpConnection::new(self.client.clone(), first))
            .flatten()
    }

    /// Sends request `index` (planned for `intended`) over `connection` if given, else through
    /// the shared client, and reduces its result.
    async fn send(
        &self,
        index: u64,
        intended: Instant,
        connection: Option<&mut HttpConnection>,
    ) -> Sample {
        if self.warmup > 0 && index == self.warmup {
            let _ = self.measured_from.set(intended);
        }
        let slot = usize::try_from(index % self.prompts.len() as u64).unwrap_or(0);
        let result = match (self.prepared.as_ref().and_then(|p| p.get(slot)), connection) {
            (Some(prepared), Some(connection)) => connection.run(prepared, None).await,
            (Some(prepared), None) => run_prepared(&self.client, prepared, None).await,
            (None, _) => {
                let prompt = &self.prompts[slot];
                let request = ProbeRequest {
                    prompt: prompt.text.clone(),
                    max_tokens: prompt.max_tokens.or(self.template.max_tokens),
                    ..self.template.clone()
                };
                run_probe(&self.client, &request, None).await
            }
        };
        let latency = Instant::now().saturating_duration_since(intended);
        if let Some(tap) = &self.tap
            && index >= self.warmup
        {
            let _ = tap.send(result.clone());
        }
        let price = match &self.template_price {
            Some(p) if result.model == self.template.model => Some(p),
            _ => self.prices.lookup(&result.model),
        };
        to_sample(&result, latency, self.template.stream, price)
    }
}

/// `latency` is from the intended send time; TTFT, TPOT and ITL only mean something when
/// streamed. `price` is the row of the result's model, when the table has one.
fn to_sample(
    result: &ProbeResult,
    latency: Duration,
    stream: bool,
    price: Option<&crate::base::pricing::Price>,
) -> Sample {
    let output = result
        .usage
        .map(|u| u.output)
        .or_else(|| (result.token_events > 0).then_some(u64::from(result.token_events)));
    let ttft = if stream { result.ttft } else { None };
    let cost = result
        .gateway_cost_usd
        .or_else(|| result.cost_at(price?).map(|c| c.total));
    Sample {
        ok: result.ok,
        status: result.status,
        error_kind: result.error_kind,
        error: result.error.clone(),
        latency,
        service: result.latency,
        ttft,
        tpot: Sample::vllm_tpot(result.latency, ttft, output),
        itl: if stream {
            result.inter_token_gaps.clone()
        } else {
            Vec::new()
        },
        usage: result.usage,
        cost,
        retries: result.retries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::probe::Usage;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn goodput_parses_durations_and_bare_milliseconds() {
        let slo = parse_goodput("ttft=500ms, e2e=2s,tpot=40").unwrap();
        assert_eq!(slo.ttft, Some(ms(500)));
        assert_eq!(slo.e2e, Some(ms(2000)));
        assert_eq!(slo.tpot, Some(ms(40)));
        assert_eq!(parse_goodput("e2el:1s").unwrap().e2e, Some(ms(1000)));
        for bad in ["", "ttft", "ttfb=1s", "ttft=soon", "ttft=0", "ttft=-5"] {
            assert!(parse_goodput(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slo_needs_success_and_every_limit() {
        let slo = parse_goodput("ttft=100ms,e2e=1s").unwrap();
        let good = Sample {
            ok: true,
            ttft: Some(ms(100)),
            latency: ms(900),
            ..Sample::default()
        };
        assert!(slo.met_by(&good));
        assert!(!slo.met_by(&Sample {
            ok: false,
            ..good.clone()
        }));
        assert!(!slo.met_by(&Sample {
            ttft: None,
            ..good.clone()
        }));
        assert!(!slo.met_by(&Sample {
            latency: ms(1001),
            ..good.clone()
        }));
    }

    #[test]
    fn rate_must_be_positive() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        for bad in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prompts_file_accepts_strings_and_objects() {
        let p = parse_prompts("\"a\"\n\n{\"prompt\": \"b\", \"id\": 2}\n").unwrap();
        assert_eq!(p, ["a", "b"]);
        assert!(parse_prompts("").is_err());
        let err = format!("{:#}", parse_prompts("\"a\"\n{\"text\": 1}").unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        assert!(parse_prompts("[1]").is_err());
    }

    #[test]
    fn samples_prefer_gateway_cost_and_drop_stream_only_timings() {
        let prices = PriceTable::builtin();
        let result = ProbeResult {
            model: "gpt-4o-mini".into(),
            ok: true,
            status: Some(200),
            ttft: Some(ms(100)),
            latency: ms(1100),
            usage: Some(Usage {
                input: 100,
                cached_input: 0,
                output: 11,
                reasoning: 0,
            }),
            inter_token_gaps: vec![ms(10); 3],
            ..ProbeResult::default()
        };
        let s = to_sample(&result, ms(1500), true, prices.lookup(&result.model));
        assert_eq!(s.tpot, Some(ms(100)));
        assert_eq!(s.itl.len(), 3);
        assert_eq!(s.latency, ms(1500));
        let table = result.cost(&prices).unwrap().total;
        assert_eq!(s.cost, Some(table));
        let s = to_sample(
            &ProbeResult {
                gateway_cost_usd: Some(0.25),
                ..result.clone()
            },
            ms(1100),
            false,
            prices.lookup(&result.model),
        );
        assert_eq!(s.cost, Some(0.25));
        assert!(s.ttft.is_none() && s.tpot.is_none() && s.itl.is_empty());
    }

    #[tokio::test]
    async fn closed_and_open_loops_send_exactly_n() {
        use crate::io::demo::{self, DemoConfig};
        use std::net::SocketAddr;
        let gw = demo::spawn(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            DemoConfig {
                seed: Some(3),
                traffic: false,
                latency_scale: 0.0,
                ..DemoConfig::default()
            },
        )
        .await
        .unwrap();
        let base = url::Url::parse(&gw.base_url()).unwrap();
        let client = crate::base::net::default_client().unwrap();
        // A warm-up is sent on top of -n and left out of the count.
        for (rate, warmup) in [(None, 0), (Some(200.0), 0), (None, 4), (Some(200.0), 5)] {
            let arrivals = rate.map(|r| ArrivalPlan {
                shape: schedule::RateShape::Constant(r),
                burstiness: 1.0,
            });
            let plan = Plan {
                template: ProbeRequest::new(base.clone(), "gpt-4o-mini", "")
                    .with_max_tokens(Some(8))
                    .with_timeout(Duration::from_secs(10)),
                prompts: vec!["a".into(), "b".into()],
                requests: Some(12),
                concurrency: 3,
                arrivals,
                warmup,
                duration: None,
                seed: Some(1),
                slo: None,
                fast_http: true,
                // Three workers on two threads: one thread's connections may serve the other's.
                threads: Some(2),
                tap: None,
            };
            let (_keep, interrupt) = Interrupt::manual();
            let out = execute(&client, plan, &PriceTable::builtin(), interrupt, None).await;
            assert_eq!(out.recorder.done, 12, "{rate:?}");
            assert_eq!(out.recorder.ok, 12, "{rate:?}");
            assert!(!out.interrupted);
        }
        gw.shutdown().await;
    }
}
