//! Reading a recording: records member by member (a torn tail ends it quietly), from a saved
//! position, and the overview (start, end, counts) a replay starts from.
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;

use super::format::*;

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
    /// Dashboard alert changes (fired or resolved).
    pub alerts: usize,
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
        alerts: 0,
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
            Record::Alert(_) => o.alerts += 1,
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
