//! Replays every input under `tests/fuzz_corpus/` through the fuzz targets' own property checks.
//!
//! `fuzz/` runs `llmtop::support::fuzzing::{exposition, sse}` under libFuzzer; this test calls the same
//! functions on the checked-in seeds and on every crash the fuzzer ever found, so a fixed bug
//! stays fixed under plain `cargo test`.
use std::path::{Path, PathBuf};

use llmtop::support::fuzzing::{self, ExpositionReport, SseReport};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

fn file<'a>(files: &'a [(PathBuf, Vec<u8>)], name: &str) -> &'a [u8] {
    files
        .iter()
        .find(|(path, _)| path.file_name().is_some_and(|n| n == name))
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_else(|| panic!("corpus file {name} is missing"))
}

#[test]
fn every_exposition_corpus_input_keeps_its_properties() {
    let files = corpus("exposition");
    assert!(files.len() >= 4, "only {} exposition inputs", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|(path, bytes)| {
            fuzzing::exposition(bytes)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The hand-written seed pins what the harness actually parsed, so an empty parse
    // cannot pass as "no property broken".
    assert_eq!(
        fuzzing::exposition(file(&files, "seed-escapes-histogram.prom")),
        Ok(ExpositionReport {
            samples: 12,
            skipped: 1,
            types: 2,
            histogram_series: 1,
        })
    );
}

#[test]
fn every_sse_corpus_input_keeps_its_properties() {
    let files = corpus("sse");
    assert!(files.len() >= 6, "only {} sse inputs", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|(path, bytes)| {
            fuzzing::sse(bytes)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    assert_eq!(
        fuzzing::sse(file(&files, "seed-split-crlf-bom.bin")),
        Ok(SseReport {
            chunks: 4,
            messages: 1,
            comments: 1,
        })
    );
    // The DeepSeek capture: 2 keep-alives, and its data events including `[DONE]`.
    let deepseek = fuzzing::sse(file(&files, "seed-deepseek_reasoner_keepalive.bin"));
    assert_eq!(deepseek.map(|r| (r.chunks, r.comments)), Ok((1, 2)));
}
