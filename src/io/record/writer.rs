//! Writing a recording: the scrubber that keeps every credential out, and the appending,
//! member-by-member [`Recorder`].
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::format::*;
use super::reader::RecordReader;
use crate::base::secret::Secret;
use crate::io::probe::ProbeResult;
use crate::io::source::scrape::ScrapeOutcome;

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

    pub(crate) fn apply<'a>(&self, line: &'a str) -> Cow<'a, str> {
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
    pub(crate) member_started: Instant,
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

    pub fn alert(&mut self, change: &crate::model::alert_board::AlertChange) {
        self.write(&Record::Alert(change.clone()));
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
