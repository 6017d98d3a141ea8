//! The replay engine: a session fed from a recording up to a time cursor, through the same parse →
//! dialect → store path as a live session, with checkpoints so a seek back is quick. `llmtop
//! replay` moves its cursor; `snapshot --from` seeks it once.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::base::dialect::Dialect;
use crate::io::config::Config;
use crate::io::probe::ProbeResult;
use crate::io::record::{
    Header, Overview, ProbeKind, Record, RecordReader, open, open_at, overview,
};
use crate::io::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::model::alert_board::AlertChange;
use crate::model::store::StoreLimits;
use crate::runtime::session::Session;

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
    alerts: Vec<AlertChange>,
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
    /// Each recorded alert rule's latest change up to `applied_to`: the dashboard's alert
    /// state as it was recorded.
    pub alerts: Vec<AlertChange>,
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

fn replay_target(header: &Header, config: &Config) -> anyhow::Result<ScrapeTarget> {
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
        // The config file's `[redact]` (or the command's `--redact-labels`): a recording made
        // before redaction existed, or with `none`, is redacted on the way to the screen.
        redactor: crate::base::redact::resolve(&config.redact, false)
            .map_err(|e| anyhow::anyhow!("[redact]: {e}"))?
            .map(std::sync::Arc::new),
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
    pub fn open(path: &Path, config: &Config) -> anyhow::Result<Self> {
        let overview = overview(path)?;
        anyhow::ensure!(
            overview.header.command != "bench",
            "{} is a bench recording: it holds request results, no dashboard data",
            path.display()
        );
        let config = config.clone();
        let target = replay_target(&overview.header, &config)?;
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
            alerts: Vec::new(),
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
        if let Some(r) = &replay.overview.header.redaction {
            // The dashboard's alone: a snapshot from the file should read like the live one.
            let shown: Vec<&str> = r.labels.iter().take(4).map(String::as_str).collect();
            let more = match r.labels.len().saturating_sub(shown.len()) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            replay.session.dashboard_notices.push(format!(
                "recorded with the values of {}{more} {}",
                shown.join(", "),
                if r.mode == "drop" {
                    "dropped"
                } else {
                    "hashed"
                }
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
        self.target = replay_target(&self.overview.header, &self.config)?;
        self.sticky = self.target.dialect_override.clone();
        self.applied_to = f64::NEG_INFINITY;
        self.max_applied = f64::NEG_INFINITY;
        self.probes.clear();
        self.alerts.clear();
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
        self.alerts = cp.alerts.clone();
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
            alerts: self.alerts.clone(),
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
                let body = match &self.target.redactor {
                    Some(r) => r.redact(&s.body),
                    None => std::borrow::Cow::Borrowed(&*s.body),
                };
                let mut data =
                    scrape::map_text(s.t, &body, &self.target, &self.dialects, &mut self.sticky);
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
            Record::Alert(change) => {
                crate::model::alert_board::latest_changes(&mut self.alerts, change);
                None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::record::{RecordedLimits, Recorder, Scrub};

    use crate::io::record::format::test_header as header;

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
        let replay = Replay::open(&path, &Config::default()).unwrap();
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
}
