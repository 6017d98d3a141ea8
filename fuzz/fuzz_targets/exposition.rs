//! Fuzzes the exposition parser: decode_body, parse, render round trip, histograms.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = llmtop::support::fuzzing::exposition(data) {
        panic!("exposition property broken: {violation}");
    }
});
