//! The replay's time cursor: where in a recording the dashboard stands, how fast it plays and
//! how the keys move it. Plain state, so the App can hold it.
use std::time::Duration;

/// Playback speeds `<` and `>` step through.
pub const SPEEDS: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];
/// How far `←` and `→` move the cursor, seconds.
pub const SEEK_STEP: f64 = 10.0;

/// The replay's time cursor: where in the recording the dashboard stands, and how it moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayClock {
    /// Unix seconds; every record at or before it has been applied.
    pub cursor: f64,
    /// First and last record of the recording.
    pub start: f64,
    pub end: f64,
    /// Recording seconds per wall second.
    pub speed: u32,
    pub playing: bool,
}

impl ReplayClock {
    pub fn new(start: f64, end: f64, speed: u32) -> Self {
        Self {
            cursor: start,
            start,
            end: end.max(start),
            speed: if SPEEDS.contains(&speed) { speed } else { 1 },
            playing: true,
        }
    }

    /// Moves the cursor by `wall` of real time when playing; stops at the end.
    pub fn advance(&mut self, wall: Duration) {
        if !self.playing {
            return;
        }
        self.cursor = (self.cursor + wall.as_secs_f64() * f64::from(self.speed)).min(self.end);
        if self.cursor >= self.end {
            self.playing = false;
        }
    }

    /// Puts the cursor at `t`, kept inside the recording.
    pub fn seek(&mut self, t: f64) {
        self.cursor = t.clamp(self.start, self.end);
    }

    /// Play or pause; playing again from the very end starts over.
    pub fn toggle(&mut self) {
        if !self.playing && self.cursor >= self.end {
            self.cursor = self.start;
        }
        self.playing = !self.playing;
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed * 2).min(*SPEEDS.last().unwrap_or(&64));
    }

    pub fn slower(&mut self) {
        self.speed = (self.speed / 2).max(1);
    }

    /// `2026-11-26 12:00:03 UTC ×4 ▶ playing (1:05 of 12:00)` for the status line.
    pub fn label(&self) -> String {
        let at = chrono::DateTime::from_timestamp_millis((self.cursor * 1000.0).round() as i64)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| format!("{:.0}", self.cursor));
        let state = if self.playing {
            "▶ playing"
        } else {
            "⏸ paused"
        };
        format!(
            "{at} ×{} {state} ({} of {})",
            self.speed,
            elapsed(self.cursor - self.start),
            elapsed(self.end - self.start)
        )
    }
}

/// `m:ss` or `h:mm:ss`, like a media player's position.
fn elapsed(seconds: f64) -> String {
    let s = seconds.max(0.0).floor() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_says_where_how_fast_and_whether_it_plays() {
        // 2026-11-26 12:00:00 UTC.
        let start = 1_795_694_400.0;
        let mut clock = ReplayClock::new(start, start + 3_725.0, 4);
        clock.seek(start + 65.5);
        assert_eq!(
            clock.label(),
            "2026-11-26 12:01:05 UTC ×4 ▶ playing (1:05 of 1:02:05)"
        );
        clock.toggle();
        clock.seek(start - 10.0);
        assert_eq!(
            clock.label(),
            "2026-11-26 12:00:00 UTC ×4 ⏸ paused (0:00 of 1:02:05)"
        );
        // Play from the very end starts over.
        clock.seek(start + 3_725.0);
        clock.toggle();
        assert!(clock.playing);
        assert_eq!(clock.cursor, start);
        // Speeds outside the steps fall back to ×1.
        assert_eq!(ReplayClock::new(start, start, 3).speed, 1);
    }
}
