//! Entry point: parse the command line, pick the mode, run it.
#![forbid(unsafe_code)]
fn main() {}
