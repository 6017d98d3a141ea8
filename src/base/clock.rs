//! Wall-clock time as every sample, record and status line stamps it: unix seconds as `f64`.

/// Current wall-clock time as unix seconds (what every sample is stamped with).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A unix time as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{t}"))
}
