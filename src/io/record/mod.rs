//! Record & replay: `--record FILE` appends every scrape body, scrape error, probe and bench result
//! to a compressed file; `llmtop replay` and `snapshot --from` feed it back through the same
//! parse → dialect → store path as a live session, so every figure comes out as it did live.
//!
//! The file is a series of independent gzip members, each holding JSON Lines (one [`Record`] per
//! line): `zcat FILE | jq` reads it. A member is closed once it is [`FLUSH_EVERY`] old (by the
//! next record, or by the dashboard's 1 s clock through [`Recorder::flush_if_due`]) or holds
//! [`FLUSH_BYTES`], so a crash loses at most the last ~10 s of records, and a later `--record` on the same file first drops such a torn tail, then appends a
//! new header and goes on.
pub mod format;
pub mod reader;
pub mod writer;

pub use format::*;
pub use reader::*;
pub use writer::*;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use crate::io::probe::{ProbeErrorKind, ProbeResult, Usage};

    use super::format::test_header as header;

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
            crate::base::secret::redact_url(&url, crate::base::secret::Reach::File),
            "https://gw:4000/metrics?token=redacted&x=redacted"
        );
        let plain = url::Url::parse("http://127.0.0.1:9/metrics").unwrap();
        assert_eq!(
            crate::base::secret::redact_url(&plain, crate::base::secret::Reach::File),
            "http://127.0.0.1:9/metrics"
        );
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
