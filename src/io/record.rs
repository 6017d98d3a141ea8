//! Record & replay: `--record FILE` appends every scrape body, scrape error, probe and bench result
//! to a compressed file; `llmtop replay` and `snapshot --from` feed it back through the same
//! parse → dialect → store path as a live session, so every figure comes out as it did live.
//!
//! The file is a series of independent gzip members, each holding JSON Lines (one [`Record`] per
//! line): `zcat FILE | jq` reads it. A member is closed once it is [`FLUSH_EVERY`] old (by the
//! next record, or by the dashboard's 1 s clock through [`Recorder::flush_if_due`]) or holds
//! [`FLUSH_BYTES`], so a crash loses at most the last ~10 s of records, and a later `--record` on the same file first drops such a torn tail, then appends a
//! new header and goes on.
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::io::config::Config;
use crate::base::dialect::Dialect;
use crate::io::probe::{ProbeErrorKind, ProbeResult, Usage};
use crate::base::secret::Secret;
use crate::runtime::session::Session;
use crate::io::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::model::store::StoreLimits;

/// Version of the record layout; a reader refuses files of a newer major layout.
pub const FORMAT_VERSION: u32 = 1;
/// Age at which the open member is closed and written: by the next record, or by the caller's
/// clock through [`Recorder::flush_if_due`], so a slow `--interval` cannot stretch what a crash
/// loses.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// ... or once it holds this many bytes of uncompressed records.
pub const FLUSH_BYTES: usize = 1024 * 1024;
/// A member larger than this when decompressed is not one llmtop wrote; reading stops there.
const MAX_MEMBER_BYTES: u64 = 256 * 1024 * 1024;

/// Store limits of the recording session, so a replay keeps exactly as much history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLimits {
    pub slots: usize,
    pub max_series: usize,
    pub max_models: usize,
}

impl From<StoreLimits> for RecordedLimits {
    fn from(l: StoreLimits) -> Self {
        Self {
            slots: l.slots,
            max_series: l.max_series,
            max_models: l.max_models,
        }
    }
}

impl From<RecordedLimits> for StoreLimits {
    fn from(l: RecordedLimits) -> Self {
        Self {
            slots: l.slots,
            max_series: l.max_series,
            max_models: l.max_models,
        }
    }
}

/// First record of every recording session (a file appended to holds several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// Version of the llmtop that wrote it.
    pub llmtop: String,
    /// `scrape` (the dashboard or `snapshot`) or `bench`.
    pub command: String,
    /// Unix seconds when recording started.
    pub started: f64,
    /// Metrics URL (or API base for bench), user, password and query values redacted.
    pub target: String,
    /// Short target name; dialects without a model label name the model after it.
    pub name: String,
    /// `--dialect` when given; `None` means the dialect was detected from the first bodies.
    pub dialect: Option<String>,
    /// Scrape interval, nanoseconds (`None` for bench).
    pub interval_ns: Option<u64>,
    /// OpenAI-compatible API base of the probes, redacted like `target`.
    pub api_base: Option<String>,
    pub limits: Option<RecordedLimits>,
}

/// One successful scrape: the body exactly as the parser saw it (decoded to text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrapeRecord<'a> {
    /// Unix seconds the scrape was stamped with (its samples' time).
    pub t: f64,
    /// Body size on the wire, bytes.
    pub bytes: usize,
    /// Fetch + parse time, nanoseconds.
    pub duration_ns: u64,
    /// The dialect it was mapped with live (informational; replay detects again the same way).
    pub dialect: Option<String>,
    pub body: Cow<'a, str>,
}

/// Token usage as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl From<Usage> for UsageRecord {
    fn from(u: Usage) -> Self {
        Self {
            input: u.input,
            cached_input: u.cached_input,
            output: u.output,
            reasoning: u.reasoning,
        }
    }
}

impl From<UsageRecord> for Usage {
    fn from(u: UsageRecord) -> Self {
        Self {
            input: u.input,
            cached_input: u.cached_input,
            output: u.output,
            reasoning: u.reasoning,
        }
    }
}

/// Which key or timer sent a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// `p`, the prompt editor or `--probe-every`.
    Probe,
    /// One request of a `b` burst.
    Burst,
}

/// One finished probe. Durations are integer nanoseconds so a replay rebuilds them bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub t: f64,
    pub kind: ProbeKind,
    pub model: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub ttft_ns: Option<u64>,
    pub time_to_first_answer_ns: Option<u64>,
    pub latency_ns: u64,
    pub tpot_ns: Option<u64>,
    pub usage: Option<UsageRecord>,
    pub gateway_cost_usd: Option<f64>,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
    pub error_kind: Option<String>,
    pub retries: u32,
    pub token_events: u32,
    pub answer: String,
}

/// One finished `llmtop bench` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub t: f64,
    pub ok: bool,
    pub status: Option<u16>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub latency_ns: u64,
    pub service_ns: u64,
    pub ttft_ns: Option<u64>,
    pub tpot_ns: Option<u64>,
    pub itl_ns: Vec<u64>,
    pub usage: Option<UsageRecord>,
    pub cost_usd: Option<f64>,
    pub retries: u32,
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record<'a> {
    Header(Header),
    Scrape(ScrapeRecord<'a>),
    ScrapeError {
        t: f64,
        error: String,
    },
    Probe(ProbeRecord),
    Bench(BenchRecord),
    /// A record type from a newer llmtop; skipped.
    #[serde(other)]
    Unknown,
}

impl Record<'_> {
    /// The record's time, unix seconds (`None` for kinds without one).
    pub fn time(&self) -> Option<f64> {
        match self {
            Record::Header(h) => Some(h.started),
            Record::Scrape(s) => Some(s.t),
            Record::ScrapeError { t, .. } => Some(*t),
            Record::Probe(p) => Some(p.t),
            Record::Bench(b) => Some(b.t),
            Record::Unknown => None,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl ProbeRecord {
    pub fn from_result(t: f64, kind: ProbeKind, r: &ProbeResult) -> Self {
        Self {
            t,
            kind,
            model: r.model.clone(),
            ok: r.ok,
            status: r.status,
            ttft_ns: r.ttft.map(nanos),
            time_to_first_answer_ns: r.time_to_first_answer.map(nanos),
            latency_ns: nanos(r.latency),
            tpot_ns: r.tpot.map(nanos),
            usage: r.usage.map(UsageRecord::from),
            gateway_cost_usd: r.gateway_cost_usd,
            finish_reason: r.finish_reason.clone(),
            error: r.error.clone(),
            error_kind: r.error_kind.map(|k| k.name().to_string()),
            retries: r.retries,
            token_events: r.token_events,
            answer: r.answer.clone(),
        }
    }

    /// The result as the dashboard saw it (only what the panels and the probe source use).
    pub fn to_result(&self) -> ProbeResult {
        ProbeResult {
            model: self.model.clone(),
            ok: self.ok,
            status: self.status,
            ttft: self.ttft_ns.map(Duration::from_nanos),
            time_to_first_answer: self.time_to_first_answer_ns.map(Duration::from_nanos),
            latency: Duration::from_nanos(self.latency_ns),
            tpot: self.tpot_ns.map(Duration::from_nanos),
            usage: self.usage.map(Usage::from),
            gateway_cost_usd: self.gateway_cost_usd,
            finish_reason: self.finish_reason.clone(),
            error: self.error.clone(),
            error_kind: self.error_kind.as_deref().and_then(error_kind_named),
            retries: self.retries,
            token_events: self.token_events,
            answer: self.answer.clone(),
            ..ProbeResult::default()
        }
    }
}

fn error_kind_named(name: &str) -> Option<ProbeErrorKind> {
    use ProbeErrorKind::*;
    [
        Config,
        Connection,
        Timeout,
        Auth,
        RateLimited,
        QuotaExhausted,
        Http,
        GatewayError,
        Truncated,
        Decode,
    ]
    .into_iter()
    .find(|k| k.name() == name)
}

impl BenchRecord {
    pub fn from_sample(t: f64, s: &crate::io::loadgen::stats::Sample) -> Self {
        Self {
            t,
            ok: s.ok,
            status: s.status,
            error_kind: s.error_kind.map(|k| k.name().to_string()),
            error: s.error.clone(),
            latency_ns: nanos(s.latency),
            service_ns: nanos(s.service),
            ttft_ns: s.ttft.map(nanos),
            tpot_ns: s.tpot.map(nanos),
            itl_ns: s.itl.iter().copied().map(nanos).collect(),
            usage: s.usage.map(UsageRecord::from),
            cost_usd: s.cost,
            retries: s.retries,
        }
    }
}

/// A URL fit for a file others may read: user and password dropped, every query value replaced.
pub fn redact_url(url: &url::Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    if clean.query().is_some() {
        let pairs: Vec<(String, String)> = clean
            .query_pairs()
            .map(|(k, _)| (k.into_owned(), "redacted".to_string()))
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.set_fragment(None);
    clean.to_string()
}

/// Values that must never reach the file even by accident (an error message quoting a header):
/// every credential of the session. Each is replaced by `<redacted>` before a line is written.
#[derive(Clone, Default)]
pub struct Scrub(Vec<Secret>);

impl Scrub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret; short values are skipped since they would mangle unrelated text.
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.len() >= 6 && !self.0.iter().any(|s| s.expose() == value) {
            self.0.push(Secret::new(value));
        }
        // "Bearer X" / "Basic X": the credential alone may be quoted too.
        if let Some((scheme, rest)) = value.split_once(' ')
            && !scheme.is_empty()
            && rest.trim().len() >= 6
        {
            self.add(rest);
        }
    }

    /// Every header value (all of them: any may carry a credential).
    pub fn add_headers(&mut self, headers: &reqwest::header::HeaderMap) {
        for value in headers.values() {
            if let Ok(text) = value.to_str() {
                self.add(text);
            }
        }
    }

    pub fn add_url(&mut self, url: &url::Url) {
        if let Some(p) = url.password() {
            self.add(p);
        }
        for (_, v) in url.query_pairs() {
            self.add(&v);
        }
    }

    fn apply<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(line);
        for s in &self.0 {
            if out.contains(s.expose()) {
                out = Cow::Owned(out.replace(s.expose(), "<redacted>"));
            }
        }
        out
    }
}

impl std::fmt::Debug for Scrub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrub({} values)", self.0.len())
    }
}

/// Appends records to a recording file.
pub struct Recorder {
    path: PathBuf,
    file: File,
    member: Option<GzEncoder<Vec<u8>>>,
    member_bytes: usize,
    member_started: Instant,
    scrub: Scrub,
    /// The first write error; recording stops there (the session goes on).
    pub error: Option<String>,
    /// Bytes of a torn tail dropped when the file was opened.
    pub dropped_tail: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Opens `path` for appending (creating it), drops a torn last member left by a crash, and
    /// writes `header` at once so even a session that records nothing else leaves a valid file.
    pub fn create(path: &Path, header: Header, scrub: Scrub) -> anyhow::Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the recording file {}", path.display()))?;
        let len = file.metadata()?.len();
        let mut dropped_tail = 0;
        if len > 0 {
            let valid = valid_length(&mut file)?;
            if valid < len {
                file.set_len(valid)
                    .with_context(|| format!("cannot repair {}", path.display()))?;
                dropped_tail = len - valid;
                tracing::warn!(
                    "{}: dropped a torn last chunk of {dropped_tail} bytes before appending",
                    path.display()
                );
            }
        }
        file.seek(SeekFrom::End(0))?;
        let mut recorder = Self {
            path: path.to_path_buf(),
            file,
            member: None,
            member_bytes: 0,
            member_started: Instant::now(),
            scrub,
            error: None,
            dropped_tail,
        };
        recorder.write(&Record::Header(header));
        recorder.flush();
        if let Some(e) = &recorder.error {
            anyhow::bail!("{e}");
        }
        Ok(recorder)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record; closes the member when it is old or large enough.
    pub fn write(&mut self, record: &Record<'_>) {
        if self.error.is_some() {
            return;
        }
        let line = match serde_json::to_string(record) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("cannot encode a record: {e}"));
                return;
            }
        };
        let line = self.scrub.apply(&line);
        let member = self.member.get_or_insert_with(|| {
            // Level 6 is gzip's default: within 10% of 9's size at a third of its CPU.
            GzEncoder::new(Vec::new(), Compression::default())
        });
        if self.member_bytes == 0 {
            self.member_started = Instant::now();
        }
        let result = member
            .write_all(line.as_bytes())
            .and_then(|()| member.write_all(b"\n"));
        if let Err(e) = result {
            self.fail(format!("cannot compress a record: {e}"));
            return;
        }
        self.member_bytes += line.len() + 1;
        if self.member_bytes >= FLUSH_BYTES || self.member_started.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Writes the open member if it is [`FLUSH_EVERY`] old; called on a clock so a quiet session
    /// (a 30 s interval, no probes) still reaches the disk within about 10 s.
    pub fn flush_if_due(&mut self) {
        if self.member_bytes > 0 && self.member_started.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Closes the open member and writes it to the file.
    pub fn flush(&mut self) {
        let Some(member) = self.member.take() else {
            return;
        };
        self.member_bytes = 0;
        let result = member
            .finish()
            .and_then(|bytes| self.file.write_all(&bytes))
            .and_then(|()| self.file.flush());
        if let Err(e) = result {
            self.fail(format!("cannot write {}: {e}", self.path.display()));
        }
    }

    fn fail(&mut self, message: String) {
        tracing::warn!("recording stopped: {message}");
        self.error = Some(message);
        self.member = None;
    }

    /// Records what one scrape attempt produced.
    pub fn scrape(&mut self, outcome: &ScrapeOutcome) {
        let record = match outcome {
            ScrapeOutcome::Ok(data) => Record::Scrape(ScrapeRecord {
                t: data.time,
                bytes: data.bytes,
                duration_ns: nanos(data.duration),
                dialect: data.dialect.clone(),
                body: crate::base::exposition::decode_body(&data.body),
            }),
            ScrapeOutcome::Failed { time, error } => Record::ScrapeError {
                t: *time,
                error: error.clone(),
            },
        };
        self.write(&record);
    }

    pub fn probe(&mut self, t: f64, kind: ProbeKind, result: &ProbeResult) {
        self.write(&Record::Probe(ProbeRecord::from_result(t, kind, result)));
    }

    pub fn bench(&mut self, t: f64, sample: &crate::io::loadgen::stats::Sample) {
        self.write(&Record::Bench(BenchRecord::from_sample(t, sample)));
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Byte length of the complete members at the start of `file` (the rest is a torn tail).
fn valid_length(file: &mut File) -> anyhow::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = RecordReader::new(BufReader::new(file.try_clone()?));
    while reader.next().is_some() {}
    Ok(reader.valid_bytes)
}

/// Reads records member by member; stops quietly at a torn or damaged tail, keeping every
/// complete line decoded before it.
pub struct RecordReader<R: BufRead> {
    input: R,
    /// Records of the current member not yet handed out.
    pending: std::collections::VecDeque<Record<'static>>,
    /// Bytes of the input that formed complete members.
    pub valid_bytes: u64,
    /// Why reading stopped early, if it did.
    pub torn: Option<String>,
    /// Lines that were not a record (damage inside a member) or of unknown type.
    pub skipped: usize,
    done: bool,
    /// Offset of the member `pending` came from, and how many of its records were handed out:
    /// together the [`RecordReader::position`] a replay checkpoint reopens the file at.
    member_start: u64,
    member_index: usize,
}

/// Counts the bytes a member decoder pulls from the file, to know where each member ends.
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            pending: Default::default(),
            valid_bytes: 0,
            torn: None,
            skipped: 0,
            done: false,
            member_start: 0,
            member_index: 0,
        }
    }

    /// Where the next record comes from: the byte offset of its gzip member and how many records
    /// of that member come before it. Members are independent, so [`open_at`] resumes there.
    pub fn position(&self) -> (u64, usize) {
        if self.pending.is_empty() {
            (self.valid_bytes, 0)
        } else {
            (self.member_start, self.member_index)
        }
    }

    /// Decodes the next member into `pending`; false at the end or at damage.
    fn next_member(&mut self) -> bool {
        match self.input.fill_buf() {
            Ok([]) => return false,
            Ok(_) => {}
            Err(e) => {
                self.torn = Some(format!("read error: {e}"));
                return false;
            }
        }
        self.member_start = self.valid_bytes;
        self.member_index = 0;
        let mut counting = Counting {
            inner: &mut self.input,
            consumed: 0,
        };
        let mut text = Vec::new();
        // `bufread::GzDecoder` reads exactly one member and leaves the rest of the input alone.
        let result = flate2::bufread::GzDecoder::new(&mut counting)
            .take(MAX_MEMBER_BYTES)
            .read_to_end(&mut text);
        let consumed = counting.consumed;
        let complete = match result {
            Ok(_) if text.len() as u64 >= MAX_MEMBER_BYTES => {
                self.torn = Some("a chunk larger than any llmtop writes".into());
                false
            }
            Ok(_) => true,
            Err(e) => {
                self.torn = Some(format!("the last chunk is incomplete ({e})"));
                false
            }
        };
        // A torn member still yields every whole line decoded before the cut.
        let mut lines = text.split(|b| *b == b'\n').peekable();
        while let Some(line) = lines.next() {
            let last = lines.peek().is_none();
            if last {
                // Text after the last newline is a cut line (or empty).
                break;
            }
            match serde_json::from_slice::<Record<'static>>(line) {
                Ok(Record::Unknown) | Err(_) => self.skipped += 1,
                Ok(r) => self.pending.push_back(r),
            }
        }
        if complete {
            self.valid_bytes += consumed;
        }
        complete
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Record<'static>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                self.member_index += 1;
                return Some(r);
            }
            if self.done {
                return None;
            }
            if !self.next_member() {
                self.done = true;
            }
        }
    }
}

/// Opens a recording for reading.
pub fn open(path: &Path) -> anyhow::Result<RecordReader<BufReader<File>>> {
    let file = File::open(path)
        .with_context(|| format!("cannot open the recording {}", path.display()))?;
    Ok(RecordReader::new(BufReader::with_capacity(
        256 * 1024,
        file,
    )))
}

/// Opens a recording at a [`RecordReader::position`] taken earlier from the same file.
pub fn open_at(
    path: &Path,
    (offset, skip): (u64, usize),
) -> anyhow::Result<RecordReader<BufReader<File>>> {
    let mut file = File::open(path)
        .with_context(|| format!("cannot open the recording {}", path.display()))?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = RecordReader::new(BufReader::with_capacity(256 * 1024, file));
    reader.valid_bytes = offset;
    for _ in 0..skip {
        if reader.next().is_none() {
            break;
        }
    }
    Ok(reader)
}

/// What a first pass over a recording found.
#[derive(Debug, Clone)]
pub struct Overview {
    pub header: Header,
    /// Time of the first and last record.
    pub start: f64,
    pub end: f64,
    pub scrapes: usize,
    pub scrape_errors: usize,
    pub probes: usize,
    pub bench: usize,
    pub sessions: usize,
    pub torn: Option<String>,
}

/// Reads the whole file once: header, time range and counts.
pub fn overview(path: &Path) -> anyhow::Result<Overview> {
    let mut reader = open(path)?;
    let header = match reader.next() {
        Some(Record::Header(h)) => h,
        Some(_) => anyhow::bail!("{} does not start with a header record", path.display()),
        None => anyhow::bail!(
            "{} is not an llmtop recording{}",
            path.display(),
            reader
                .torn
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        ),
    };
    anyhow::ensure!(
        header.format <= FORMAT_VERSION,
        "{} was written by a newer llmtop (format {}; this one reads up to {FORMAT_VERSION})",
        path.display(),
        header.format
    );
    let mut o = Overview {
        start: header.started,
        end: header.started,
        header,
        scrapes: 0,
        scrape_errors: 0,
        probes: 0,
        bench: 0,
        sessions: 1,
        torn: None,
    };
    let mut first = true;
    for r in reader.by_ref() {
        match &r {
            Record::Header(_) => o.sessions += 1,
            Record::Scrape(_) => o.scrapes += 1,
            Record::ScrapeError { .. } => o.scrape_errors += 1,
            Record::Probe(_) => o.probes += 1,
            Record::Bench(_) => o.bench += 1,
            Record::Unknown => {}
        }
        if let Some(t) = r.time()
            && !matches!(r, Record::Header(_))
        {
            if first {
                o.start = t;
                first = false;
            }
            o.end = o.end.max(t);
        }
    }
    o.torn = reader.torn;
    Ok(o)
}

/// Something a replay step applied that the dashboard shows outside the store.
#[derive(Debug, Clone)]
pub enum Replayed {
    /// A finished `p` probe (`--probe-every` included).
    Probe(Box<ProbeResult>),
}

/// Most checkpoints a replay keeps; past it every other one goes and the spacing doubles.
pub const MAX_CHECKPOINTS: usize = 32;
/// ... and at most this many bytes of store rings across them. The rings are preallocated: a
/// session at the default limits holds ~4.5 MiB (scrape store and probe store), so a replay
/// keeps about 14 checkpoints, spread over the recording.
pub const CHECKPOINT_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// Closest spacing of checkpoints, recorded seconds: a rebuild of this much is instant.
const MIN_CHECKPOINT_SPACING: f64 = 30.0;
/// Probe results a checkpoint hands back on a seek, oldest first: more than the dashboard's probe
/// panel holds (its result plus 200 in history), so the panel comes out as a full rebuild's.
const PROBES_KEPT: usize = 256;

/// The replay's state after a prefix of the file, so a seek back resumes from here instead of
/// reading the file from its start.
#[derive(Clone)]
struct Checkpoint {
    /// Where the first record not applied sits in the file.
    position: (u64, usize),
    /// Latest time among the records applied: usable for any seek to this time or later.
    max_applied: f64,
    store: crate::model::store::TargetStore,
    probe_feed: crate::io::source::probe_feed::ProbeFeed,
    target: ScrapeTarget,
    sticky: Option<String>,
    probes: std::collections::VecDeque<ProbeResult>,
    bytes: usize,
}

/// A recording being replayed: a session fed from the file up to a time cursor.
pub struct Replay {
    path: PathBuf,
    pub overview: Overview,
    config: Config,
    dialects: Arc<Vec<Dialect>>,
    reader: RecordReader<BufReader<File>>,
    /// The next record, read but not yet due.
    next: Option<Record<'static>>,
    target: ScrapeTarget,
    sticky: Option<String>,
    pub session: Session,
    /// Every record at or before this time has been applied.
    pub applied_to: f64,
    /// Latest time among the records applied (the file may go back in time where a session
    /// was appended, so this is not always the last one's).
    max_applied: f64,
    /// Position of `next` in the file (or of the reader's next record when `next` is empty).
    next_position: (u64, usize),
    /// The last `p` probes applied, oldest first, for the dashboard after a checkpoint restore.
    probes: std::collections::VecDeque<ProbeResult>,
    checkpoints: Vec<Checkpoint>,
    /// Recorded seconds between checkpoints; doubles each time the list is thinned.
    spacing: f64,
    /// `spacing` was set by [`Replay::with_checkpoint_spacing`], not from the recording.
    spacing_fixed: bool,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("path", &self.path)
            .field("applied_to", &self.applied_to)
            .finish_non_exhaustive()
    }
}

fn replay_target(header: &Header) -> anyhow::Result<ScrapeTarget> {
    let url = url::Url::parse(&header.target)
        .with_context(|| format!("the recorded target {:?} is not a URL", header.target))?;
    Ok(ScrapeTarget {
        url,
        name: header.name.clone(),
        headers: Default::default(),
        interval: Duration::from_nanos(header.interval_ns.unwrap_or(1_000_000_000).max(1_000_000)),
        timeout: Duration::from_secs(10),
        max_body_bytes: usize::MAX,
        dialect_override: header.dialect.clone(),
        auth_hint: String::new(),
    })
}

fn replay_session(
    header: &Header,
    target: &ScrapeTarget,
    config: &Config,
) -> anyhow::Result<Session> {
    let limits: StoreLimits = header.limits.map(Into::into).unwrap_or_default();
    let api_base = match &header.api_base {
        Some(b) => url::Url::parse(b).unwrap_or_else(|_| scrape::origin(&target.url)),
        None => scrape::origin(&target.url),
    };
    Session::offline(target.clone(), api_base, limits, config)
}

impl Replay {
    /// Reads the recording's overview and prepares an empty session at its start. `config` gives
    /// the dialects and prices, as for a live session.
    pub fn open(path: &Path, config: Option<&Path>) -> anyhow::Result<Self> {
        let overview = overview(path)?;
        anyhow::ensure!(
            overview.header.command != "bench",
            "{} is a bench recording: it holds request results, no dashboard data",
            path.display()
        );
        let config = Config::load(config)?;
        let target = replay_target(&overview.header)?;
        let session = replay_session(&overview.header, &target, &config)?;
        let dialects = session.dialects.clone();
        let mut replay = Self {
            path: path.to_path_buf(),
            reader: open(path)?,
            next: None,
            sticky: target.dialect_override.clone(),
            target,
            session,
            dialects,
            config,
            applied_to: f64::NEG_INFINITY,
            max_applied: f64::NEG_INFINITY,
            next_position: (0, 0),
            probes: Default::default(),
            checkpoints: Vec::new(),
            spacing: ((overview.end - overview.start) / MAX_CHECKPOINTS as f64)
                .max(MIN_CHECKPOINT_SPACING),
            spacing_fixed: false,
            overview,
        };
        if let Some(d) = &replay.overview.header.dialect
            && !replay.dialects.iter().any(|x| &x.name == d)
        {
            replay.session.notices.push(format!(
                "the recording was mapped with dialect {d:?}, unknown here: pass the --config that defines it"
            ));
        }
        if let Some(t) = &replay.overview.torn {
            replay
                .session
                .notices
                .push(format!("recording ends early: {t}"));
        }
        Ok(replay)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts over from an empty session at the beginning of the file.
    fn rewind(&mut self) -> anyhow::Result<()> {
        let notices = std::mem::take(&mut self.session.notices);
        self.session = replay_session(&self.overview.header, &self.target, &self.config)?;
        self.session.notices = notices;
        self.reader = open(&self.path)?;
        self.next = None;
        // An appended session's header may have changed the dialect override on the way.
        self.target = replay_target(&self.overview.header)?;
        self.sticky = self.target.dialect_override.clone();
        self.applied_to = f64::NEG_INFINITY;
        self.max_applied = f64::NEG_INFINITY;
        self.probes.clear();
        Ok(())
    }

    /// Goes back to the latest checkpoint a seek to `t` can start from (every record before it
    /// at or before `t`), or to the start when there is none.
    fn restore(&mut self, t: f64) -> anyhow::Result<()> {
        let Some(cp) = self.checkpoints.iter().rev().find(|c| c.max_applied <= t) else {
            return self.rewind();
        };
        self.reader = open_at(&self.path, cp.position)?;
        self.next = None;
        self.session.store = cp.store.clone();
        self.session.probe_feed = cp.probe_feed.clone();
        self.target = cp.target.clone();
        self.sticky = cp.sticky.clone();
        self.probes = cp.probes.clone();
        self.max_applied = cp.max_applied;
        self.applied_to = cp.max_applied;
        Ok(())
    }

    /// Keeps the state before the record at `position` when the last checkpoint is `spacing`
    /// behind; thins the list when it is full.
    fn maybe_checkpoint(&mut self, position: (u64, usize)) {
        let last = self.checkpoints.last();
        let (last_time, last_position) = last
            .map(|c| (c.max_applied, c.position))
            .unwrap_or((self.overview.start, (0, 0)));
        if !self.max_applied.is_finite()
            || self.max_applied < last_time + self.spacing
            || (last.is_some() && position <= last_position)
        {
            return;
        }
        let bytes =
            self.session.store.memory_bytes() + self.session.probe_feed.store.memory_bytes();
        if self.checkpoints.is_empty() && !self.spacing_fixed {
            // The rings are preallocated, so the first checkpoint's size is every one's: spread
            // as many as the budget holds over the recording instead of thinning later.
            let fit = (CHECKPOINT_BUDGET_BYTES / bytes.max(1)).clamp(2, MAX_CHECKPOINTS);
            let length = self.overview.end - self.overview.start;
            self.spacing = self.spacing.max(length / fit as f64);
        }
        self.checkpoints.push(Checkpoint {
            position,
            max_applied: self.max_applied,
            store: self.session.store.clone(),
            probe_feed: self.session.probe_feed.clone(),
            target: self.target.clone(),
            sticky: self.sticky.clone(),
            probes: self.probes.clone(),
            bytes,
        });
        let held = |cps: &[Checkpoint]| cps.iter().map(|c| c.bytes).sum::<usize>();
        while self.checkpoints.len() > 1
            && (self.checkpoints.len() > MAX_CHECKPOINTS
                || held(&self.checkpoints) > CHECKPOINT_BUDGET_BYTES)
        {
            // Keep the 2nd, 4th, ...: still evenly spaced, now twice as far apart.
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i % 2 == 0
            });
            self.spacing *= 2.0;
        }
    }

    /// Sets the recorded seconds between checkpoints (default: a 32nd of the recording, at
    /// least 30 s); tests use a short one to exercise restores on a short recording.
    pub fn with_checkpoint_spacing(mut self, seconds: f64) -> Self {
        self.spacing = seconds.max(0.0);
        self.spacing_fixed = true;
        self
    }

    /// Number of checkpoints held and their store bytes (for the benchmark and tests).
    pub fn checkpoint_stats(&self) -> (usize, usize) {
        (
            self.checkpoints.len(),
            self.checkpoints.iter().map(|c| c.bytes).sum(),
        )
    }

    /// Applies every record up to and including time `t` (in file order, up to the first one
    /// after `t`). Going back resumes from the nearest checkpoint before `t` (kept while playing
    /// forward), or from the start; the state is the same as a rebuild from the start.
    /// Returns what the dashboard shows besides the store, and whether it started over (then
    /// the caller must forget probe results it showed before: the list then begins with the
    /// last ones applied before the checkpoint, enough to refill the probe panel).
    pub fn seek(&mut self, t: f64) -> anyhow::Result<(bool, Vec<Replayed>)> {
        let mut rewound = false;
        let mut shown = Vec::new();
        // Nothing applied lies after `t` (and the next record does): the state is already `t`'s.
        if t < self.applied_to && t < self.max_applied {
            self.restore(t)?;
            rewound = true;
            shown.extend(
                self.probes
                    .iter()
                    .map(|p| Replayed::Probe(Box::new(p.clone()))),
            );
        }
        loop {
            let record = match self.next.take() {
                Some(r) => r,
                None => {
                    self.next_position = self.reader.position();
                    match self.reader.next() {
                        Some(r) => r,
                        None => break,
                    }
                }
            };
            let time = record.time();
            if time.is_some_and(|rt| rt > t) {
                self.next = Some(record);
                break;
            }
            self.maybe_checkpoint(self.next_position);
            if let Some(r) = self.apply(record) {
                shown.push(r);
            }
            if let Some(rt) = time {
                self.max_applied = self.max_applied.max(rt);
            }
        }
        self.applied_to = t;
        Ok((rewound, shown))
    }

    fn apply(&mut self, record: Record<'static>) -> Option<Replayed> {
        match record {
            // An appended session detects its dialect afresh, as the new process did.
            Record::Header(h) => {
                self.sticky = h.dialect.clone();
                self.target.dialect_override = h.dialect;
                None
            }
            Record::Scrape(s) => {
                let mut data =
                    scrape::map_text(s.t, &s.body, &self.target, &self.dialects, &mut self.sticky);
                data.bytes = s.bytes;
                data.duration = Duration::from_nanos(s.duration_ns);
                self.session.apply_scrape(ScrapeOutcome::Ok(Box::new(data)));
                None
            }
            Record::ScrapeError { t, error } => {
                self.session
                    .apply_scrape(ScrapeOutcome::Failed { time: t, error });
                None
            }
            Record::Probe(p) => {
                let result = p.to_result();
                match p.kind {
                    ProbeKind::Probe => {
                        self.session.apply_probe_at(p.t, &result, ProbeKind::Probe);
                        if self.probes.len() == PROBES_KEPT {
                            self.probes.pop_front();
                        }
                        self.probes.push_back(result.clone());
                        Some(Replayed::Probe(Box::new(result)))
                    }
                    ProbeKind::Burst => {
                        self.session.apply_probe_at(p.t, &result, ProbeKind::Burst);
                        None
                    }
                }
            }
            Record::Bench(_) | Record::Unknown => None,
        }
    }
}

/// Parses `--at`: RFC 3339, unix seconds, `start`, `end`, `+DURATION` (after the start) or
/// `-DURATION` (before the end).
pub fn parse_at(text: &str, start: f64, end: f64) -> anyhow::Result<f64> {
    let text = text.trim();
    let duration = |d: &str| {
        humantime::parse_duration(d.trim())
            .map(|d| d.as_secs_f64())
            .map_err(|e| anyhow::anyhow!("{text:?}: {e}"))
    };
    match text {
        "start" => return Ok(start),
        "end" => return Ok(end),
        _ => {}
    }
    if let Some(rest) = text.strip_prefix('+') {
        return Ok(start + duration(rest)?);
    }
    if let Some(rest) = text.strip_prefix('-') {
        return Ok(end - duration(rest)?);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros() as f64 / 1e6);
    }
    if let Ok(t) = text.parse::<f64>()
        && t.is_finite()
    {
        return Ok(t);
    }
    anyhow::bail!(
        "--at {text:?}: give an RFC 3339 time (2026-01-02T15:04:05Z), unix seconds, start, end, +90s (after the start) or -5m (before the end)"
    )
}

/// `llmtop snapshot --from FILE --at TIME --for W`: the snapshot of the window ending at TIME.
pub fn snapshot_from(
    path: &Path,
    at: &str,
    window_seconds: f64,
    config: Option<&Path>,
) -> anyhow::Result<crate::front::report::Snapshot> {
    let mut replay = Replay::open(path, config)?;
    let (start, end) = (replay.overview.start, replay.overview.end);
    let t = parse_at(at, start, end)?;
    replay.seek(t)?;
    let mut warnings = replay.session.notices.clone();
    if t < start || t > end {
        warnings.push(format!(
            "--at lies outside the recording ({} to {})",
            rfc3339(start),
            rfc3339(end)
        ));
    }
    let session = &replay.session;
    Ok(crate::front::report::snapshot(
        &session.store,
        &session.prices,
        session.target.url.as_str(),
        window_seconds,
        warnings,
    ))
}

/// A unix time as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT_VERSION,
            llmtop: "test".into(),
            command: "snapshot".into(),
            started: 100.0,
            target: "http://gw:4000/metrics".into(),
            name: "gw".into(),
            dialect: None,
            interval_ns: Some(1_000_000_000),
            api_base: None,
            limits: None,
        }
    }

    fn error_record(t: f64) -> Record<'static> {
        Record::ScrapeError {
            t,
            error: format!("e{t}"),
        }
    }

    fn read_all(path: &Path) -> (Vec<Record<'static>>, Option<String>) {
        let mut r = open(path).unwrap();
        let all: Vec<_> = r.by_ref().collect();
        (all, r.torn)
    }

    #[test]
    fn urls_lose_credentials_and_query_values() {
        let url = url::Url::parse("https://bob:hunter2@gw:4000/metrics?token=abc&x=1#f").unwrap();
        assert_eq!(
            redact_url(&url),
            "https://gw:4000/metrics?token=redacted&x=redacted"
        );
        let plain = url::Url::parse("http://127.0.0.1:9/metrics").unwrap();
        assert_eq!(redact_url(&plain), "http://127.0.0.1:9/metrics");
    }

    #[test]
    fn scrub_replaces_header_values_and_bare_tokens() {
        let mut scrub = Scrub::new();
        scrub.add("Bearer tok-123456");
        scrub.add("abc");
        assert_eq!(
            scrub.apply("auth tok-123456 or Bearer tok-123456; abc"),
            "auth <redacted> or <redacted>; abc"
        );
    }

    #[test]
    fn members_round_trip_and_a_torn_tail_keeps_what_came_before() {
        let dir = std::env::temp_dir().join(format!("llmtop-record-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.llmrec");
        let _ = std::fs::remove_file(&path);
        {
            let mut rec = Recorder::create(&path, header(), Scrub::new()).unwrap();
            rec.write(&error_record(101.0));
            rec.write(&error_record(102.0));
            rec.flush();
            rec.write(&error_record(103.0));
        }
        let (all, torn) = read_all(&path);
        assert_eq!(torn, None);
        assert_eq!(all.len(), 4);
        assert_eq!(all[3], error_record(103.0));
        let full = std::fs::metadata(&path).unwrap().len();
        // Cut inside the third member's compressed data (past its 8-byte trailer): the first
        // two (header; 101, 102) survive.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(full - 20).unwrap();
        drop(f);
        let (all, torn) = read_all(&path);
        assert!(torn.is_some());
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[2], error_record(102.0));
        // Appending drops the torn member, then continues after the good ones.
        {
            let mut rec = Recorder::create(&path, header(), Scrub::new()).unwrap();
            assert!(rec.dropped_tail > 0);
            rec.write(&error_record(104.0));
        }
        let (all, torn) = read_all(&path);
        assert_eq!(torn, None);
        let times: Vec<f64> = all.iter().filter_map(Record::time).collect();
        assert_eq!(times, vec![100.0, 101.0, 102.0, 100.0, 104.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reader_reopened_at_a_position_goes_on_with_the_same_records() {
        let dir = std::env::temp_dir().join(format!("llmtop-record-pos-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.llmrec");
        let _ = std::fs::remove_file(&path);
        {
            // Four members: the header (written at once); 101; 102 + 103 + 104; 105.
            let mut rec = Recorder::create(&path, header(), Scrub::new()).unwrap();
            for t in 101..=105 {
                rec.write(&error_record(f64::from(t)));
                if t == 101 || t == 104 {
                    rec.flush();
                }
            }
        }
        let (all, _) = read_all(&path);
        assert_eq!(all.len(), 6);
        let mut reader = open(&path).unwrap();
        let mut positions = Vec::new();
        for _ in 0..all.len() {
            positions.push(reader.position());
            reader.next().unwrap();
        }
        // Each member's first record is at index 0; 103 and 104 follow 102 at 1 and 2.
        let member = |i: usize| positions[i].0;
        assert_eq!(positions[0], (0, 0));
        assert_eq!(positions[1], (member(1), 0));
        assert!(member(1) > 0);
        assert!(member(2) > member(1));
        assert_eq!(positions[3], (member(2), 1));
        assert_eq!(positions[4], (member(2), 2));
        assert_eq!(positions[5], (member(5), 0));
        assert!(member(5) > member(2));
        for (i, &p) in positions.iter().enumerate() {
            let rest: Vec<_> = open_at(&path, p).unwrap().collect();
            assert_eq!(rest, all[i..], "from record {i} at {p:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_quiet_session_reaches_the_disk_on_the_clock() {
        let dir = std::env::temp_dir().join(format!("llmtop-record-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.llmrec");
        let _ = std::fs::remove_file(&path);
        let mut rec = Recorder::create(&path, header(), Scrub::new()).unwrap();
        rec.write(&error_record(101.0));
        rec.flush_if_due();
        assert_eq!(read_all(&path).0.len(), 1, "a fresh member waits");
        // As if the one record had been written FLUSH_EVERY ago and nothing came since.
        rec.member_started = Instant::now().checked_sub(FLUSH_EVERY).unwrap();
        rec.flush_if_due();
        let (all, torn) = read_all(&path);
        assert_eq!(torn, None);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], error_record(101.0));
        drop(rec);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_header_asking_for_endless_history_is_capped() {
        // The header is outside input: a damaged or hand-made one must not size the store.
        let dir = std::env::temp_dir().join(format!("llmtop-record-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("huge.llmrec");
        let _ = std::fs::remove_file(&path);
        let mut h = header();
        h.limits = Some(RecordedLimits {
            slots: usize::MAX / 4,
            max_series: 10,
            max_models: 5,
        });
        drop(Recorder::create(&path, h, Scrub::new()).unwrap());
        let replay = Replay::open(&path, None).unwrap();
        let limits = replay.session.store.limits();
        assert_eq!(limits.slots, crate::model::store::MAX_SLOTS);
        assert_eq!((limits.max_series, limits.max_models), (10, 5));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn at_accepts_absolute_and_relative_forms() {
        let (s, e) = (1_000.0, 2_000.0);
        assert_eq!(parse_at("start", s, e).unwrap(), 1_000.0);
        assert_eq!(parse_at("end", s, e).unwrap(), 2_000.0);
        assert_eq!(parse_at("+90s", s, e).unwrap(), 1_090.0);
        assert_eq!(parse_at("-5m", s, e).unwrap(), 1_700.0);
        assert_eq!(parse_at("1500.5", s, e).unwrap(), 1_500.5);
        assert_eq!(
            parse_at("1970-01-01T00:20:00.250Z", s, e).unwrap(),
            1_200.25
        );
        assert!(parse_at("yesterday", s, e).is_err());
    }

    #[test]
    fn probe_results_round_trip_exactly() {
        let r = ProbeResult {
            model: "m".into(),
            ok: true,
            status: Some(200),
            ttft: Some(Duration::from_nanos(123_456_789)),
            latency: Duration::from_nanos(987_654_321),
            usage: Some(Usage {
                input: 10,
                cached_input: 2,
                output: 30,
                reasoning: 4,
            }),
            error_kind: Some(ProbeErrorKind::RateLimited),
            answer: "hi".into(),
            ..ProbeResult::default()
        };
        let rec = ProbeRecord::from_result(5.0, ProbeKind::Probe, &r);
        let line = serde_json::to_string(&Record::Probe(rec.clone())).unwrap();
        let Record::Probe(back) = serde_json::from_str::<Record<'static>>(&line).unwrap() else {
            panic!("{line}");
        };
        assert_eq!(back, rec);
        let again = back.to_result();
        assert_eq!(again.latency, r.latency);
        assert_eq!(again.ttft, r.ttft);
        assert_eq!(again.usage, r.usage);
        assert_eq!(again.error_kind, Some(ProbeErrorKind::RateLimited));
    }
}
