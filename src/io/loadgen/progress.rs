//! Live progress on stderr: a redrawn one-line bar on a terminal, plain periodic lines otherwise.
use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use super::stats::Recorder;
use crate::base::format;

/// A terminal is redrawn at most this often (10×/s).
const TTY_PERIOD: Duration = Duration::from_millis(100);
/// A log file or pipe gets a line this often.
const PLAIN_PERIOD: Duration = Duration::from_secs(2);
/// "Current" request rate is measured over about this long.
const RATE_WINDOW: Duration = Duration::from_secs(2);
const BAR_WIDTH: usize = 24;

/// Progress state; one per run.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    requests: Option<u64>,
    duration: Option<Duration>,
    /// (elapsed, done) at recent draws, for the current rate.
    history: VecDeque<(Duration, u64)>,
}

impl Progress {
    pub fn new(tty: bool, requests: Option<u64>, duration: Option<Duration>) -> Self {
        Self {
            tty,
            requests,
            duration,
            history: VecDeque::new(),
        }
    }

    pub fn period(&self) -> Duration {
        if self.tty { TTY_PERIOD } else { PLAIN_PERIOD }
    }

    /// Draws the current state; `last` ends the bar's line on a terminal.
    pub fn draw(&mut self, rec: &Recorder, elapsed: Duration, last: bool) {
        let line = self.line(rec, elapsed);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}{}", if last { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    /// The one-line status: bar, done/total, current req/s, p95 and failures so far.
    pub fn line(&mut self, rec: &Recorder, elapsed: Duration) -> String {
        self.history.push_back((elapsed, rec.done));
        while self
            .history
            .front()
            .is_some_and(|(at, _)| elapsed.saturating_sub(*at) > RATE_WINDOW)
            && self.history.len() > 2
        {
            self.history.pop_front();
        }
        let rate = match self.history.front() {
            Some((at, done)) if elapsed > *at => {
                Some((rec.done - done) as f64 / (elapsed - *at).as_secs_f64())
            }
            _ => None,
        };
        let by_count = self.requests.map(|n| rec.done as f64 / n.max(1) as f64);
        let by_time = self
            .duration
            .map(|d| elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9));
        let fraction = match (by_count, by_time) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(0.0),
        }
        .clamp(0.0, 1.0);
        let filled = (fraction * BAR_WIDTH as f64).round() as usize;
        let total = self.requests.map_or_else(String::new, |n| format!("/{n}"));
        format!(
            "[{}{}] {}{total}  {}  {}  p95 {}  failed {}",
            "#".repeat(filled),
            ".".repeat(BAR_WIDTH - filled),
            rec.done,
            format::seconds(Some(elapsed.as_secs_f64())),
            format::rate(rate),
            format::seconds(rec.latency.quantile(0.95)),
            rec.done - rec.ok,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_count_rate_and_bar() {
        let mut p = Progress::new(false, Some(100), None);
        let mut rec = Recorder::default();
        let _ = p.line(&rec, Duration::from_secs(1));
        rec.done = 50;
        rec.ok = 48;
        let line = p.line(&rec, Duration::from_secs(2));
        assert!(
            line.starts_with(&format!("[{}{}] 50/100", "#".repeat(12), ".".repeat(12))),
            "{line}"
        );
        assert!(line.contains("50.0/s"), "{line}");
        assert!(line.contains("failed 2"), "{line}");
        assert_eq!(p.period(), PLAIN_PERIOD);
        assert_eq!(Progress::new(true, None, None).period(), TTY_PERIOD);
    }
}
