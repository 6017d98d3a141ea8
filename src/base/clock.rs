//! Wall-clock time as every sample, record and status line stamps it: unix seconds as `f64`.

/// Current wall-clock time as unix seconds (what every sample is stamped with).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
