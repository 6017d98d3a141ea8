//! Layer 0, the leaves: vocabulary, formats, secrets, the network client and PromQL math. Nothing
//! here imports another layer of the crate.
pub mod clock;
pub mod credentials;
pub mod dialect;
pub mod exposition;
pub mod format;
pub mod keymap;
pub mod logging;
pub mod net;
pub mod pricing;
pub mod promql;
pub mod redact;
pub mod secret;
pub mod signal;
