//! Layer 3, the runtime: a monitoring session, fleet mode and the replay engine own the stores
//! and are the only code that names the channel message ([`update::Update`]).
pub mod fleet;
pub mod replay;
pub mod session;
pub mod update;
