//! Fuzzes the SSE decoder and chat-stream interpreter with fuzzer-chosen chunk splits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = llmtop::support::fuzzing::sse(data) {
        panic!("sse property broken: {violation}");
    }
});
