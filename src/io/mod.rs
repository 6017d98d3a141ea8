//! Layer 2, producers and formats: what makes numbers (scrapes, probes, the Prometheus API, the
//! demo gateway, the load generator), what stores them on disk (recordings) and the config file.
pub mod config;
pub mod demo;
pub mod discover;
pub mod loadgen;
pub mod probe;
pub mod record;
pub mod source;
