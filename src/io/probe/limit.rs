//! Client-side limits for probes: requests per minute and requests in flight.
//!
//! Probes cost the user money and load the gateway they watch, so every probe, burst request
//! and model listing first takes a [`Permit`] from one shared [`ProbeLimiter`].
//!
//! The rate is a token bucket kept as a "theoretical arrival time" (GCRA): each caller reserves
//! the next free start slot under a short lock and then sleeps until it, so callers start in the
//! order they asked, exactly `60 s / rpm` apart once the burst allowance is used up, and no lock
//! is held while anyone waits. The concurrency cap is a tokio [`Semaphore`], taken *before* the
//! rate slot: a caller that had to wait for a free slot cannot then start together with others
//! whose rate slots went by while they were blocked, which would break the spacing.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits themselves. `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeLimits {
    /// Requests started per minute, at most.
    pub rpm: Option<u32>,
    /// Requests in flight at once, at most.
    pub concurrency: Option<usize>,
    /// Requests that may start back to back before the rpm spacing applies (at least 1).
    pub burst: u32,
}

impl ProbeLimits {
    /// `rpm` requests per minute, evenly spaced (burst 1), and at most `concurrency` in flight.
    pub fn new(rpm: Option<u32>, concurrency: Option<usize>) -> Self {
        Self {
            rpm,
            concurrency,
            burst: 1,
        }
    }

    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }
}

/// The token bucket's arithmetic, free of any clock so it can be checked exactly.
#[derive(Debug, Clone)]
pub struct RateSchedule {
    /// Time between starts once the burst is used up: `60 s / rpm`.
    interval: Duration,
    /// How far ahead of its theoretical time a start may happen: `(burst − 1) × interval`.
    tolerance: Duration,
    /// When the next start would be due if requests came evenly; `None` before the first one.
    next_due: Option<Instant>,
}

impl RateSchedule {
    /// `None` when `rpm` is 0 (a caller should treat that as "no rate limit").
    pub fn new(rpm: u32, burst: u32) -> Option<Self> {
        if rpm == 0 {
            return None;
        }
        let interval = Duration::from_secs(60) / rpm;
        Some(Self {
            interval,
            tolerance: interval.saturating_mul(burst.max(1) - 1),
            next_due: None,
        })
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves the earliest start allowed for a request asking at `now` and returns it.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let due = self.next_due.map_or(now, |d| d.max(now));
        let start = due
            .checked_sub(self.tolerance)
            .map_or(now, |early| early.max(now));
        self.next_due = Some(due + self.interval);
        start
    }
}

#[derive(Debug)]
struct Inner {
    limits: ProbeLimits,
    schedule: Option<Mutex<RateSchedule>>,
    slots: Option<Arc<Semaphore>>,
}

/// Shared limiter; cloning is cheap and every clone draws from the same limits.
#[derive(Debug, Clone)]
pub struct ProbeLimiter {
    inner: Arc<Inner>,
}

/// Leave to run one request; dropping it frees the concurrency slot.
#[derive(Debug)]
#[must_use = "the concurrency slot is released as soon as the permit is dropped"]
pub struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl ProbeLimiter {
    pub fn new(limits: ProbeLimits) -> Self {
        let schedule = limits
            .rpm
            .and_then(|rpm| RateSchedule::new(rpm, limits.burst))
            .map(Mutex::new);
        let slots = limits
            .concurrency
            .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))));
        Self {
            inner: Arc::new(Inner {
                limits,
                schedule,
                slots,
            }),
        }
    }

    /// No limits at all.
    pub fn unlimited() -> Self {
        Self::new(ProbeLimits::default())
    }

    pub fn limits(&self) -> ProbeLimits {
        self.inner.limits
    }

    /// Requests that could start right now without waiting for a concurrency slot
    /// (`None` when concurrency is unlimited).
    pub fn available(&self) -> Option<usize> {
        self.inner.slots.as_ref().map(|s| s.available_permits())
    }

    /// Waits for a concurrency slot, then for the next rate slot. Cancel-safe: dropping the
    /// future gives the concurrency slot back (a reserved rate slot goes unused).
    pub async fn acquire(&self) -> Permit {
        let slot = match &self.inner.slots {
            // The semaphore is never closed, so this cannot fail; an error would mean "no limit".
            Some(slots) => slots.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(schedule) = &self.inner.schedule {
            let start = schedule
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .reserve(Instant::now());
            tokio::time::sleep_until(start).await;
        }
        Permit { _slot: slot }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn schedule_spaces_starts_exactly_sixty_seconds_over_rpm() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(30, 1).unwrap();
        assert_eq!(s.interval(), 2 * SEC);
        // Five requests asking at the same instant start 2 s apart, in order.
        let starts: Vec<_> = (0..5).map(|_| s.reserve(t0)).collect();
        let offsets: Vec<_> = starts.iter().map(|t| *t - t0).collect();
        assert_eq!(offsets, [0, 2, 4, 6, 8].map(|n| n * SEC));
        // A request arriving long after the queue drained starts at once, and spacing resumes from it.
        let late = t0 + 60 * SEC;
        assert_eq!(s.reserve(late), late);
        assert_eq!(s.reserve(late + SEC), late + 2 * SEC);
        // An idle bucket does not bank credit beyond its burst (1 here).
        let later = late + 600 * SEC;
        assert_eq!(s.reserve(later), later);
        assert_eq!(s.reserve(later), later + 2 * SEC);
    }

    #[test]
    fn schedule_allows_the_burst_then_spaces() {
        let t0 = Instant::now();
        let mut s = RateSchedule::new(60, 3).unwrap();
        let offsets: Vec<_> = (0..6).map(|_| s.reserve(t0) - t0).collect();
        assert_eq!(offsets, [0, 0, 0, 1, 2, 3].map(|n| n * SEC));
        // Odd rates divide exactly to the nanosecond.
        let s = RateSchedule::new(7, 1).unwrap();
        assert_eq!(s.interval(), Duration::from_nanos(60_000_000_000 / 7));
        assert!(RateSchedule::new(0, 1).is_none());
    }

    #[test]
    fn concurrency_cap_is_exact() {
        let limiter = ProbeLimiter::new(ProbeLimits::new(None, Some(2)));
        let a = limiter
            .acquire()
            .now_or_never()
            .expect("first slot is free");
        let b = limiter
            .clone()
            .acquire()
            .now_or_never()
            .expect("second slot is free");
        assert_eq!(limiter.available(), Some(0));
        // A third must wait, through any clone, until one of the two is dropped.
        assert!(limiter.acquire().now_or_never().is_none());
        assert!(limiter.clone().acquire().now_or_never().is_none());
        drop(a);
        let c = limiter.acquire().now_or_never().expect("a slot was freed");
        assert!(limiter.acquire().now_or_never().is_none());
        drop((b, c));
        assert_eq!(limiter.available(), Some(2));
    }

    #[test]
    fn cancelled_waiter_gives_its_place_back() {
        let limiter = ProbeLimiter::new(ProbeLimits::new(None, Some(1)));
        let held = limiter.acquire().now_or_never().unwrap();
        let mut waiting = Box::pin(limiter.acquire());
        assert!((&mut waiting).now_or_never().is_none());
        drop(waiting);
        drop(held);
        assert!(limiter.acquire().now_or_never().is_some());
    }

    #[test]
    fn unlimited_never_waits() {
        let limiter = ProbeLimiter::unlimited();
        let permits: Vec<_> = (0..1000)
            .map(|_| limiter.acquire().now_or_never().expect("no limit"))
            .collect();
        assert_eq!(permits.len(), 1000);
        assert_eq!(limiter.available(), None);
    }

    /// The async path honours the schedule on a real clock (the crate's tokio has no
    /// `test-util`, so no paused time). Sleeps never end early, so the lower bounds are exact;
    /// the upper bound only guards against a stuck limiter.
    #[tokio::test]
    async fn acquire_waits_for_the_rate_slot_and_holds_the_cap() {
        let limiter = ProbeLimiter::new(ProbeLimits::new(Some(1200), Some(2)));
        let interval = Duration::from_millis(50);
        let t0 = Instant::now();
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
                tokio::spawn(async move {
                    let _permit = limiter.acquire().await;
                    let started = Instant::now();
                    let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    started
                })
            })
            .collect();
        let mut starts = Vec::new();
        for task in tasks {
            let started = tokio::time::timeout(10 * SEC, task)
                .await
                .expect("limiter finished in time")
                .unwrap();
            starts.push(started);
        }
        starts.sort();
        // The k-th start is never earlier than k intervals after the first request asked.
        for (k, start) in starts.iter().enumerate() {
            assert!(
                *start - t0 >= interval * k as u32,
                "start {k}: {:?}",
                *start - t0
            );
        }
        // Holding 300 ms with two slots: the third start waited for the first to finish.
        assert!(starts[2] - t0 >= Duration::from_millis(300));
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(starts[4] - t0 < 5 * SEC);
    }
}
