//! Layer 4, the front ends: the interactive dashboard and the headless reports. Both read the
//! model; neither imports the other.
pub mod export;
pub mod report;
pub mod tui;
