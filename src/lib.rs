//! llmtop: htop for LLM gateways — the library behind the `llmtop` binary.
//!
//! The folders are the layers (ARCHITECTURE.md): [`base`] → [`model`] → [`io`] → [`runtime`] →
//! [`front`] → [`app`]. A module imports only from its own layer or the ones below it.
#![forbid(unsafe_code)]

pub mod app;
pub mod base;
pub mod front;
pub mod io;
pub mod model;
pub mod runtime;
/// Fixed data sets and property harnesses for tests, benchmarks and `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod support;
