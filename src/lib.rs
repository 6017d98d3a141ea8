//! llmtop: htop for LLM gateways — the library behind the `llmtop` binary.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod dialect;
pub mod exposition;
pub mod fleet;
pub mod format;
/// Property harnesses for `fuzz/` and `tests/fuzz_regressions.rs`; not part of the API.
#[doc(hidden)]
pub mod fuzzing;
pub mod loadgen;
pub mod logging;
pub mod net;
pub mod pricing;
pub mod probe;
pub mod probe_cmd;
pub mod promql;
pub mod record;
pub mod report;
pub mod secret;
pub mod session;
pub mod signal;
pub mod source;
pub mod stats;
pub mod store;
pub mod testdata;
pub mod tui;
