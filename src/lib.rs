//! llmtop: htop for LLM gateways — the library behind the `llmtop` binary.
#![forbid(unsafe_code)]

pub mod demo;
pub mod exposition;
pub mod probe;
pub mod promql;
pub mod secret;
