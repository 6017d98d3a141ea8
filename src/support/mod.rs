//! Test and fuzz support (a fixed data set, property harnesses); not part of the API.
pub mod fuzzing;
pub mod testdata;
