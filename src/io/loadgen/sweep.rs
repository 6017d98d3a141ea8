//! `llmtop bench --sweep`: the SLO a step must meet, the bounded search for the largest rate that
//! meets it, and the plain-text chart of the steps. Pure: the runs themselves are the caller's.
use serde_json::{Value, json};

/// A figure an SLO rule bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    /// A quantile of a distribution in the summary (`latency_seconds`, `ttft_seconds`, …).
    Quantile { dist: &'static str, q: &'static str },
    /// Failed requests over done ones.
    ErrorRate,
}

/// One rule, e.g. `p99_latency<=2s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// As the user wrote it, normalised (`p99_latency<=2s`).
    pub text: String,
    figure: Figure,
    /// Seconds, or a fraction for the error rate.
    limit: f64,
    /// `<` rather than `<=`.
    strict: bool,
}

/// A rule's verdict on one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub rule: String,
    pub value: Option<f64>,
    pub limit: f64,
    pub pass: bool,
}

impl Check {
    pub fn to_json(&self) -> Value {
        json!({"rule": self.rule, "value": self.value, "limit": self.limit, "pass": self.pass})
    }
}

/// The SLO of a sweep (`--slo`): every rule must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slo {
    pub rules: Vec<Rule>,
}

const DISTS: [(&str, &str); 4] = [
    ("latency", "latency_seconds"),
    ("ttft", "ttft_seconds"),
    ("tpot", "tpot_seconds"),
    ("itl", "itl_seconds"),
];
const QUANTILES: [&str; 5] = ["p50", "p90", "p95", "p99", "p99_9"];

/// `p99_latency<=2s,ttft_p95<=500ms,error_rate<=1%`. A quantile and a figure in either order
/// (`p95_ttft` = `ttft_p95`); figures: latency, ttft, tpot, itl, error_rate; `<=` or `<`; a
/// bare number is milliseconds (as for `--goodput`), `%` a percentage.
pub fn parse_slo(text: &str) -> Result<Slo, String> {
    let mut rules = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, strict, value) = if let Some((n, v)) = part.split_once("<=") {
            (n, false, v)
        } else if let Some((n, v)) = part.split_once('<') {
            (n, true, v)
        } else {
            return Err(format!(
                "{part:?}: expected FIGURE<=LIMIT, e.g. p99_latency<=2s or error_rate<=1%"
            ));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let (figure, limit) = if name == "error_rate" || name == "errors" {
            let ratio = match value.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
                None => value.parse::<f64>(),
            }
            .map_err(|_| format!("{part:?}: the error rate is a percentage (1%) or a fraction"))?;
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{part:?}: the error rate is between 0% and 100%"));
            }
            (Figure::ErrorRate, ratio)
        } else {
            let mut words = name.split('_');
            let (a, b) = (
                words.next().unwrap_or(""),
                words.collect::<Vec<_>>().join("_"),
            );
            let (q, fig) = if QUANTILES.contains(&a) {
                (a.to_string(), b)
            } else {
                let (fig, q) = name.rsplit_once('_').unwrap_or((&name, ""));
                (q.to_string(), fig.to_string())
            };
            let q = QUANTILES.iter().find(|x| **x == q).ok_or_else(|| {
                format!("{part:?}: name a quantile, p50, p90, p95, p99 or p99_9 (p99_latency)")
            })?;
            let dist = DISTS
                .iter()
                .find(|(short, _)| *short == fig)
                .map(|(_, key)| *key)
                .ok_or_else(|| {
                    format!("{part:?}: the figure is latency, ttft, tpot, itl or error_rate")
                })?;
            let limit = match value.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms > 0.0 => ms / 1000.0,
                Ok(_) => return Err(format!("{part:?}: the limit must be positive")),
                Err(_) => crate::base::format::parse_duration(value)
                    .map_err(|e| format!("{part:?}: {e}"))?
                    .as_secs_f64(),
            };
            (Figure::Quantile { dist, q }, limit)
        };
        rules.push(Rule {
            text: part.replace(' ', ""),
            figure,
            limit,
            strict,
        });
    }
    if rules.is_empty() {
        return Err("give at least one rule, e.g. p99_latency<=2s".into());
    }
    Ok(Slo { rules })
}

impl Slo {
    /// Each rule against one step's summary (the `--format json` object of a run). A figure the
    /// run could not measure (TTFT without `--stream`, any quantile of a run with no success)
    /// fails its rule.
    pub fn check(&self, summary: &Value) -> Vec<Check> {
        self.rules
            .iter()
            .map(|r| {
                let value = match r.figure {
                    Figure::Quantile { dist, q } => summary[dist][q].as_f64(),
                    Figure::ErrorRate => summary["success_rate"].as_f64().map(|s| 1.0 - s),
                };
                let pass = value.is_some_and(|v| if r.strict { v < r.limit } else { v <= r.limit });
                Check {
                    rule: r.text.clone(),
                    value,
                    limit: r.limit,
                    pass,
                }
            })
            .collect()
    }

    /// Whether the rules need streamed requests (TTFT, TPOT, ITL).
    pub fn needs_stream(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.figure, Figure::Quantile { dist, .. } if dist != "latency_seconds"))
    }
}

/// The bounded search: first the throughput the gateway gives a closed loop, then that rate,
/// then halving until a rate passes, then bisection between the highest pass and the lowest
/// fail until they are within `tolerance` of each other or the steps run out.
#[derive(Debug, Clone)]
pub struct Search {
    pub passed: Option<f64>,
    pub failed: Option<f64>,
    pub tolerance: f64,
    pub max_steps: usize,
    pub steps: usize,
    /// Only whole numbers are tried (a concurrency): done when no whole number lies between.
    pub whole: bool,
}

impl Search {
    pub fn new(tolerance: f64, max_steps: usize) -> Self {
        Self {
            passed: None,
            failed: None,
            tolerance,
            max_steps,
            steps: 0,
            whole: false,
        }
    }

    /// The search over whole numbers (a concurrency) from a largest one down.
    pub fn over_whole_numbers(mut self) -> Self {
        self.whole = true;
        self
    }

    /// The next rate to try after a throughput probe that achieved `probe_rps`; `None` = done.
    pub fn next(&self, probe_rps: f64) -> Option<f64> {
        if self.steps >= self.max_steps || probe_rps <= 0.0 {
            return None;
        }
        if self.whole {
            return self.next_whole(probe_rps.floor());
        }
        match (self.passed, self.failed) {
            (None, None) => Some(probe_rps),
            // The SLO holds at the throughput limit: nothing above it can be sent.
            (Some(_), None) => None,
            // Below a 64th of the throughput the gateway fails even nearly idle: stop halving.
            (None, Some(hi)) => Some(hi / 2.0).filter(|r| *r >= probe_rps / 64.0),
            (Some(lo), Some(hi)) => ((hi - lo) / hi > self.tolerance).then_some((lo + hi) / 2.0),
        }
    }

    /// The next whole number: `most` first, then halves until one passes (down to 1), then
    /// the midpoint until passing and failing are neighbours or within the tolerance.
    fn next_whole(&self, most: f64) -> Option<f64> {
        match (self.passed, self.failed) {
            (None, None) => Some(most.max(1.0)),
            (Some(_), None) => None,
            (None, Some(hi)) => Some((hi / 2.0).floor()).filter(|c| *c >= 1.0),
            (Some(lo), Some(hi)) => {
                let mid = ((lo + hi) / 2.0).floor();
                (mid > lo && (hi - lo) / hi > self.tolerance).then_some(mid)
            }
        }
    }

    pub fn record(&mut self, rate: f64, pass: bool) {
        self.steps += 1;
        if pass {
            self.passed = Some(self.passed.map_or(rate, |p| p.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }

    /// The answer as JSON: the largest passing rate, the bracket around the true limit, and
    /// how wide that bracket is relative to the answer.
    pub fn answer_json(&self, probe_rps: f64) -> Value {
        let (verdict, bracket) = match (self.passed, self.failed) {
            (Some(lo), Some(hi)) => ("bracketed", json!([lo, hi])),
            (Some(lo), None) => ("holds_at_throughput_limit", json!([lo, null])),
            (None, Some(hi)) => ("fails_at_every_rate_tried", json!([null, hi])),
            (None, None) => ("no_step_ran", json!([null, null])),
        };
        let width = match (self.passed, self.failed) {
            (Some(lo), Some(hi)) if lo > 0.0 => Some((hi - lo) / lo),
            _ => None,
        };
        json!({
            "max_rate_meeting_slo": self.passed,
            "lowest_failing_rate": self.failed,
            "bracket": bracket,
            "relative_uncertainty": width,
            "verdict": verdict,
            "throughput_probe_rps": probe_rps,
            "steps": self.steps,
        })
    }
}

impl Search {
    /// A concurrency sweep's answer as JSON, beside the rate sweep's (its own field names).
    pub fn concurrency_answer_json(&self, most: usize) -> Value {
        let (verdict, bracket) = match (self.passed, self.failed) {
            (Some(lo), Some(hi)) => ("bracketed", json!([lo, hi])),
            (Some(lo), None) => ("holds_at_most_concurrency_tried", json!([lo, null])),
            (None, Some(hi)) => ("fails_at_every_concurrency_tried", json!([null, hi])),
            (None, None) => ("no_step_ran", json!([null, null])),
        };
        json!({
            "over": "concurrency",
            "max_concurrency_meeting_slo": self.passed.map(|c| c as u64),
            "lowest_failing_concurrency": self.failed.map(|c| c as u64),
            "bracket": bracket,
            "verdict": verdict,
            "most_concurrency_tried": most,
            "steps": self.steps,
        })
    }
}

/// The sweep's answer as a sentence.
pub fn answer_line(answer: &Value) -> String {
    let f = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.1}"));
    let n = |v: &Value| v.as_u64().map_or("–".to_string(), |x| x.to_string());
    if answer["over"] == "concurrency" {
        return match answer["verdict"].as_str() {
            Some("bracketed") => format!(
                "max concurrency meeting the SLO: {} in flight (fails at {})",
                n(&answer["max_concurrency_meeting_slo"]),
                n(&answer["lowest_failing_concurrency"])
            ),
            Some("holds_at_most_concurrency_tried") => format!(
                "the SLO holds at the most concurrency tried: {} in flight (raise -c to find more)",
                n(&answer["max_concurrency_meeting_slo"])
            ),
            Some("fails_at_every_concurrency_tried") => format!(
                "the SLO fails at every concurrency tried, down to {}",
                n(&answer["lowest_failing_concurrency"])
            ),
            _ => "no step ran".to_string(),
        };
    }
    match answer["verdict"].as_str() {
        Some("bracketed") => format!(
            "max rate meeting the SLO: {} req/s (fails at {} req/s; the limit is within +{:.0} % of the answer)",
            f(&answer["max_rate_meeting_slo"]),
            f(&answer["lowest_failing_rate"]),
            answer["relative_uncertainty"].as_f64().unwrap_or(0.0) * 100.0
        ),
        Some("holds_at_throughput_limit") => format!(
            "the SLO holds at the gateway's throughput limit: {} req/s (raise -c to find more)",
            f(&answer["max_rate_meeting_slo"])
        ),
        Some("fails_at_every_rate_tried") => format!(
            "the SLO fails at every rate tried, down to {} req/s",
            f(&answer["lowest_failing_rate"])
        ),
        _ => "no step ran".to_string(),
    }
}

/// Over-saturated: the step finished fewer requests than it asked for, by more than 10 % and by
/// more than Poisson chance explains (three standard deviations of the expected count), so
/// requests queued faster than the gateway finished them.
pub fn saturated(asked: f64, summary: &Value) -> bool {
    let (Some(done), Some(secs)) = (
        summary["requests_done"].as_f64(),
        summary["total_time_seconds"].as_f64(),
    ) else {
        return false;
    };
    let expected = asked * secs;
    let short = expected - done;
    short > expected * 0.1 && short > 3.0 * expected.sqrt()
}

/// One line per step, ordered by rate: a bar for its p99 latency (scaled to the slowest) and
/// its goodput or ok rate, so the knee is visible in a terminal.
/// `label` heads the first column (`rate/s`, `in flight`), shown with `decimals` digits.
pub fn chart(steps: &[(f64, Value)], label: &str, decimals: usize, width: usize) -> String {
    let mut rows: Vec<&(f64, Value)> = steps.iter().collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let p99 = |s: &Value| s["latency_seconds"]["p99"].as_f64();
    let slowest = rows
        .iter()
        .filter_map(|(_, s)| p99(s))
        .fold(0.0_f64, f64::max);
    let mut out = format!(
        "{:>9}  {:<w$}  {:>9}  {:>9}\n",
        label,
        "p99 latency",
        "p99",
        "ok/s",
        w = width
    );
    for (rate, s) in rows {
        let cells = match p99(s) {
            Some(v) if slowest > 0.0 => ((v / slowest) * width as f64).round() as usize,
            _ => 0,
        };
        let ok_rate = s["goodput"]["requests_per_second"].as_f64().or_else(|| {
            let ok = s["requests_ok"].as_f64()?;
            let secs = s["total_time_seconds"].as_f64()?;
            (secs > 0.0).then(|| ok / secs)
        });
        out.push_str(&format!(
            "{:>9.decimals$}  {:<w$}  {:>9}  {:>9}\n",
            rate,
            "#".repeat(cells.min(width)),
            crate::base::format::seconds(p99(s)),
            ok_rate.map_or("–".into(), |r| format!("{r:.1}")),
            w = width
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p99: f64, ttft_p95: Option<f64>, success: f64) -> Value {
        json!({
            "latency_seconds": {"p99": p99},
            "ttft_seconds": {"p95": ttft_p95},
            "success_rate": success,
            "requests_per_second": 10.0,
        })
    }

    #[test]
    fn a_whole_number_search_halves_then_bisects_to_neighbours() {
        let mut search = Search::new(0.05, 10).over_whole_numbers();
        let mut tried = Vec::new();
        while let Some(c) = search.next(64.0) {
            tried.push(c);
            search.record(c, c <= 21.0);
        }
        assert_eq!(tried, [64.0, 32.0, 16.0, 24.0, 20.0, 22.0, 21.0]);
        assert_eq!((search.passed, search.failed), (Some(21.0), Some(22.0)));
        let answer = search.concurrency_answer_json(64);
        assert_eq!(answer["max_concurrency_meeting_slo"], 21);
        assert_eq!(answer["verdict"], "bracketed");
        // Holding at the most tried ends at once; failing at 1 ends there.
        let mut holds = Search::new(0.05, 10).over_whole_numbers();
        holds.record(holds.next(8.0).unwrap(), true);
        assert_eq!(holds.next(8.0), None);
        let mut fails = Search::new(0.05, 10).over_whole_numbers();
        while let Some(c) = fails.next(8.0) {
            fails.record(c, false);
        }
        assert_eq!(fails.failed, Some(1.0));
    }

    #[test]
    fn the_issue_example_parses_and_checks_each_rule() {
        let slo = parse_slo("p99_latency<=2s, ttft_p95<=500ms,error_rate<=1%").unwrap();
        assert_eq!(slo.rules.len(), 3);
        assert!(slo.needs_stream());
        let c = slo.check(&summary(1.5, Some(0.4), 0.995));
        assert!(c.iter().all(|c| c.pass), "{c:?}");
        let c = slo.check(&summary(2.5, Some(0.4), 0.98));
        assert_eq!(
            c.iter().map(|c| c.pass).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert_eq!(c[0].value, Some(2.5));
        assert_eq!(c[0].limit, 2.0);
        assert!((c[2].value.unwrap() - 0.02).abs() < 1e-12);
        // A figure the run did not measure fails.
        let c = slo.check(&summary(1.0, None, 1.0));
        assert!(!c[1].pass && c[1].value.is_none());
        // Either order, a bare number is ms, `<` is strict.
        let slo = parse_slo("p95_ttft<300,latency_p50<=1.5s").unwrap();
        assert!(!slo.check(&summary(1.0, Some(0.3), 1.0))[0].pass);
        assert!(!parse_slo("p99_latency<=2s").unwrap().needs_stream());
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (text, says) in [
            ("p99_latency>=2s", "expected FIGURE<=LIMIT"),
            ("p42_latency<=2s", "quantile"),
            ("p99_speed<=2s", "figure"),
            ("error_rate<=150%", "between"),
            ("p99_latency<=-1", "positive"),
            ("", "at least one"),
        ] {
            let e = parse_slo(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    /// A gateway that meets the SLO below 37 req/s, probed at 80 req/s: 80 fails, 40 fails, 20
    /// passes, then bisection to within 10 %: 30, 35, 37.5 → fail, 36.25 → pass.
    #[test]
    fn the_search_halves_then_bisects_to_the_tolerance() {
        let mut s = Search::new(0.05, 12);
        let mut tried = Vec::new();
        while let Some(rate) = s.next(80.0) {
            tried.push(rate);
            s.record(rate, rate <= 37.0);
        }
        assert_eq!(tried, [80.0, 40.0, 20.0, 30.0, 35.0, 37.5, 36.25]);
        assert_eq!(s.passed, Some(36.25));
        assert_eq!(s.failed, Some(37.5));
        let a = s.answer_json(80.0);
        assert_eq!(a["verdict"], "bracketed");
        assert!(answer_line(&a).starts_with("max rate meeting the SLO: 36.2 req/s (fails at 37.5"));
    }

    #[test]
    fn the_search_is_bounded_and_knows_when_nothing_more_can_be_learned() {
        let mut s = Search::new(0.01, 3);
        while let Some(rate) = s.next(100.0) {
            s.record(rate, false);
        }
        assert_eq!(s.steps, 3);
        assert_eq!(s.answer_json(100.0)["verdict"], "fails_at_every_rate_tried");
        let mut s = Search::new(0.1, 8);
        let first = s.next(50.0).unwrap();
        s.record(first, true);
        assert_eq!(s.next(50.0), None);
        assert!(answer_line(&s.answer_json(50.0)).contains("throughput limit: 50.0"));
    }

    /// 100/s for 10 s: 880 done is within chance (−12 %, but 3σ is 95 requests), 800 is not.
    #[test]
    fn saturation_is_a_shortfall_beyond_chance() {
        let s = |done: u64| json!({"requests_done": done, "total_time_seconds": 10.0});
        assert!(!saturated(100.0, &s(1000)));
        assert!(!saturated(100.0, &s(910)));
        assert!(saturated(100.0, &s(800)));
        assert!(!saturated(5.0, &s(40)), "50 expected, 40 is chance");
    }

    #[test]
    fn the_chart_orders_by_rate_and_scales_bars_to_the_slowest_step() {
        let steps = vec![
            (
                20.0,
                json!({"latency_seconds": {"p99": 0.5}, "requests_ok": 40, "total_time_seconds": 2.0}),
            ),
            (
                10.0,
                json!({"latency_seconds": {"p99": 0.25}, "requests_ok": 20, "total_time_seconds": 2.0}),
            ),
        ];
        let text = chart(&steps, "rate/s", 1, 8);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].trim_start().starts_with("10.0  ####    "),
            "{text}"
        );
        assert!(
            lines[2].trim_start().starts_with("20.0  ########"),
            "{text}"
        );
        assert!(lines[2].trim_end().ends_with("20.0"), "{text}");
    }
}
