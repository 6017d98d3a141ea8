//! Every integration test in one binary: one link of the crate instead of one per file (the
//! test build was most of `cargo test`'s time). Each module is one former test file; `common` is
//! their shared scaffolding (scratch directories, the long-lived demo gateway, Prometheus).
mod architecture;
mod bench_cmd;
mod bench_sweep;
mod check_cmd;
mod cli_docs;
mod common;
mod cost_cmd;
mod dashboard_render;
mod demo_gateway;
mod dialects;
mod discover_cmd;
mod e2e_pty;
mod engines;
mod exports;
mod exposition_fixtures;
mod fault_scenarios;
mod fleet;
mod fuzz_regressions;
mod probe_client;
mod probe_cmd;
mod prometheus_compare;
mod promql_vectors;
mod properties;
mod record_replay;
mod redaction;
mod redirect_tls;
mod scrape_http;
mod secret_canary;
mod snapshot_cli;
mod staleness;
mod tui_probe;
