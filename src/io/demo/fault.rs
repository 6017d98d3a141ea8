//! Fault injection: the `x-llmtop-demo-fault` header grammar and the per-key state behind `fail_first`.
//! A [`super::scenario`] can impose the same faults on every request.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Request header selecting the faults for one request.
pub const FAULT_HEADER: &str = "x-llmtop-demo-fault";
/// Request header grouping requests for `fail_first=N`.
pub const FAULT_KEY_HEADER: &str = "x-llmtop-demo-fault-key";

/// Upper bound for `slow_first_token`, so a typo cannot park a connection for days.
const MAX_SLOW_FIRST_TOKEN_MS: u64 = 600_000;
/// Keys are client-chosen; past this many the counters start over instead of growing without bound.
const MAX_FAIL_FIRST_KEYS: usize = 10_000;

/// What the fault header asked for. Directives combine, e.g. `keepalive;reasoning;slow_first_token=500`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FaultPlan {
    pub status: Option<u16>,
    /// Seconds, for `status=429` and `fail_first`.
    pub retry_after: Option<f64>,
    pub insufficient_quota: bool,
    pub slow_first_token: Option<Duration>,
    pub cut_mid_stream: bool,
    pub error_in_stream: bool,
    pub keepalive: bool,
    pub reasoning: bool,
    pub fail_first: Option<u64>,
    /// Streams stop sending after a few tokens and never finish.
    pub stall_mid_stream: bool,
    /// Garbage lines and non-JSON `data:` events between the real ones.
    pub garbage_sse: bool,
}

impl FaultPlan {
    /// Parses `directive (';' | ',') directive ...`; unknown or malformed directives are errors,
    /// because a silently ignored typo would make a fault test pass for the wrong reason.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut plan = FaultPlan::default();
        for raw in spec.split([';', ',']) {
            let directive = raw.trim();
            if directive.is_empty() {
                continue;
            }
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (directive, None),
            };
            match (name, value) {
                ("status", Some(v)) => {
                    let code: u16 = parse_num(name, v)?;
                    if !(400..=599).contains(&code) {
                        return Err(format!("status={code}: only 400..=599 can be injected"));
                    }
                    plan.status = Some(code);
                }
                ("retry_after", Some(v)) => {
                    let secs: f64 = parse_num(name, v)?;
                    if !(0.0..=86_400.0).contains(&secs) {
                        return Err(format!("retry_after={v}: expected seconds in 0..=86400"));
                    }
                    plan.retry_after = Some(secs);
                }
                ("slow_first_token", Some(v)) => {
                    let ms: u64 = parse_num(name, v)?;
                    plan.slow_first_token =
                        Some(Duration::from_millis(ms.min(MAX_SLOW_FIRST_TOKEN_MS)));
                }
                ("fail_first", Some(v)) => plan.fail_first = Some(parse_num(name, v)?),
                ("insufficient_quota", None) => plan.insufficient_quota = true,
                ("cut_mid_stream", None) => plan.cut_mid_stream = true,
                ("error_in_stream", None) => plan.error_in_stream = true,
                ("keepalive", None) => plan.keepalive = true,
                ("reasoning", None) => plan.reasoning = true,
                ("stall_mid_stream", None) => plan.stall_mid_stream = true,
                ("garbage_sse", None) => plan.garbage_sse = true,
                _ => return Err(format!("unknown {FAULT_HEADER} directive `{directive}`")),
            }
        }
        Ok(plan)
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{name}={value}: not a valid number"))
}

/// How many requests each `x-llmtop-demo-fault-key` has made so far.
#[derive(Debug, Default)]
pub(crate) struct FailFirstCounters(Mutex<HashMap<String, u64>>);

impl FailFirstCounters {
    /// Counts one more request for `key` and returns its 1-based ordinal.
    pub fn hit(&self, key: &str) -> u64 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_FAIL_FIRST_KEYS && !map.contains_key(key) {
            map.clear();
        }
        let n = map.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_directive() {
        let p = FaultPlan::parse("status=429;retry_after=1").unwrap();
        assert_eq!(p.status, Some(429));
        assert_eq!(p.retry_after, Some(1.0));
        let p = FaultPlan::parse(
            " keepalive ; reasoning,slow_first_token=300;cut_mid_stream;error_in_stream;insufficient_quota;fail_first=2;stall_mid_stream;garbage_sse ",
        )
        .unwrap();
        assert!(p.keepalive && p.reasoning && p.cut_mid_stream && p.error_in_stream);
        assert!(p.stall_mid_stream && p.garbage_sse);
        assert!(p.insufficient_quota);
        assert_eq!(p.slow_first_token, Some(Duration::from_millis(300)));
        assert_eq!(p.fail_first, Some(2));
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
    }

    #[test]
    fn rejects_typos_and_bad_values() {
        for bad in [
            "stauts=500",
            "status=200",
            "status=abc",
            "status",
            "keepalive=1",
            "retry_after=-1",
            "slow_first_token=fast",
            "fail_first=-2",
        ] {
            assert!(FaultPlan::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn fail_first_counts_per_key() {
        let c = FailFirstCounters::default();
        assert_eq!(c.hit("a"), 1);
        assert_eq!(c.hit("a"), 2);
        assert_eq!(c.hit("b"), 1);
        assert_eq!(c.hit("a"), 3);
    }
}
