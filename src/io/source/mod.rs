//! Sources of numbers: a `/metrics` scraper, probe results as a source of their own, and the
//! Prometheus HTTP API with the PromQL generated from dialect tables. Each hands its results to a
//! channel whose message type the caller chooses.
pub mod probe_feed;
pub mod promapi;
pub mod queries;
pub mod scrape;
