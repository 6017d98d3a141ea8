//! Retry policy for probe requests: which failures deserve another attempt, and how long to wait.
use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;

/// Exponential backoff with full jitter, bounded server hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first; 0 disables retrying.
    pub max_retries: u32,
    /// Backoff ceiling before the first retry; it doubles for each further one.
    pub base_delay: Duration,
    /// Ceiling on the computed backoff.
    pub max_delay: Duration,
    /// Ceiling on a server's `retry-after-ms` / `Retry-After` hint, so a gateway
    /// answering "come back in an hour" cannot park the probe.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const NONE: Self = Self {
        max_retries: 0,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        max_retry_after: Duration::ZERO,
    };

    /// The ceiling for retry number `retry` (0-based): `min(max_delay, base * 2^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Full jitter: uniform in `[0, ceiling]`. Probes from many terminals hitting the
    /// same rate-limited gateway must not come back in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// The wait before retry number `retry`: the server's hint when it sent one
    /// (capped), the jittered backoff otherwise.
    pub fn delay(&self, retry: u32, server_hint: Option<Duration>) -> Duration {
        match server_hint {
            Some(hint) => hint.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

/// Statuses worth another attempt: timeouts, conflicts, rate limits, server errors.
/// 429 is further checked for `insufficient_quota` by the caller.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// The server's requested wait: `retry-after-ms` (OpenAI, Azure) first because it is
/// more precise, then `Retry-After` as seconds or an HTTP date.
pub fn server_retry_hint(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(parse_non_negative) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = text("retry-after")?;
    if let Some(secs) = parse_non_negative(value) {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    // A date in the past means "now".
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn parse_non_negative(s: &str) -> Option<f64> {
    // Anything beyond a day is nonsense and would overflow `from_secs_f64` if huge.
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.min(86_400_000.0))
}

/// `x-should-retry: false` is OpenAI's explicit "do not retry this".
pub fn server_forbids_retry(headers: &HeaderMap) -> bool {
    headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_below_it() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_ceiling(0), Duration::from_millis(500));
        assert_eq!(policy.backoff_ceiling(1), Duration::from_secs(1));
        assert_eq!(policy.backoff_ceiling(4), Duration::from_secs(8));
        assert_eq!(policy.backoff_ceiling(40), Duration::from_secs(8));
        for retry in 0..6 {
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= policy.backoff_ceiling(retry));
            }
        }
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "10")]);
        assert_eq!(server_retry_hint(&h), Some(Duration::from_millis(250)));
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(server_retry_hint(&h), Some(Duration::from_secs(2)));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(server_retry_hint(&h), None);
        let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(server_retry_hint(&h), Some(Duration::ZERO));
        let h = headers(&[("retry-after-ms", "-5"), ("retry-after", "1")]);
        assert_eq!(server_retry_hint(&h), Some(Duration::from_secs(1)));
    }

    #[test]
    fn server_hints_are_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            policy.max_retry_after
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 422] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
