//! Layer 1, the model: the store of canonical series, the figures computed from it and the view
//! model every front end draws. Plain data and math: no tokio, no ratatui, no clap.
pub mod alert;
pub mod alert_board;
pub mod budget;
pub mod compare;
pub mod figures;
pub mod saturation;
pub mod stats;
pub mod store;
pub mod table;
pub mod upstream;
pub mod view;
