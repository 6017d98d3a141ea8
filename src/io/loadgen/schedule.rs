//! Open-loop arrival schedules: when each request is meant to be sent, as offsets from the start.
//!
//! Inter-arrival gaps are gamma-distributed with shape `burstiness` and mean `1 / rate`, as vLLM's
//! `bench serve` defines it: 1 is Poisson, below 1 burstier, above 1 steadier (the coefficient
//! of variation is `1 / sqrt(burstiness)`). A ramp moves the rate from one value to another,
//! linearly or exponentially, over the requests of the run (`-n`) or over its `--duration`.
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Gamma};

/// How the rate moves during a ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RampKind {
    /// `from + (to − from)·p`.
    Linear,
    /// `from·(to / from)^p`: equal ratios in equal steps, as a capacity search wants.
    Exponential,
}

impl RampKind {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(Self::Linear),
            "exponential" | "exp" => Ok(Self::Exponential),
            _ => Err(format!("{text:?}: the ramp is linear or exponential")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Exponential => "exponential",
        }
    }
}

/// The rate over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateShape {
    Constant(f64),
    Ramp { kind: RampKind, from: f64, to: f64 },
}

impl RateShape {
    /// The rate at progress `p` (0 at the start, 1 at the end of the run).
    pub fn at(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        match *self {
            Self::Constant(r) => r,
            Self::Ramp {
                kind: RampKind::Linear,
                from,
                to,
            } => from + (to - from) * p,
            Self::Ramp {
                kind: RampKind::Exponential,
                from,
                to,
            } => from * (to / from).powf(p),
        }
    }
}

/// What progress through the run is measured in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    Requests(u64),
    Time(Duration),
}

/// The intended send offsets of an open-loop run, in order. Endless unless the span ends it.
#[derive(Debug, Clone)]
pub struct Arrivals {
    shape: RateShape,
    burstiness: f64,
    span: Option<Span>,
    rng: StdRng,
    index: u64,
    at: f64,
}

impl Arrivals {
    /// `burstiness` must be positive and finite; rates positive and finite (checked by the
    /// command line's parsers).
    pub fn new(shape: RateShape, burstiness: f64, span: Option<Span>, seed: u64) -> Self {
        Self {
            shape,
            burstiness,
            span,
            rng: StdRng::seed_from_u64(seed),
            index: 0,
            at: 0.0,
        }
    }

    fn progress(&self) -> f64 {
        match self.span {
            Some(Span::Requests(n)) if n > 1 => self.index as f64 / (n - 1) as f64,
            Some(Span::Time(d)) if !d.is_zero() => self.at / d.as_secs_f64(),
            _ => 0.0,
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if let Some(Span::Requests(n)) = self.span
            && self.index >= n
        {
            return None;
        }
        if self.index > 0 {
            let rate = self.shape.at(self.progress());
            // Mean 1/rate: shape k, scale 1/(rate·k).
            let gap = Gamma::new(self.burstiness, 1.0 / (rate * self.burstiness))
                .map(|g| g.sample(&mut self.rng))
                .unwrap_or(1.0 / rate);
            self.at += gap.clamp(0.0, 86_400.0);
        }
        if let Some(Span::Time(d)) = self.span
            && self.at >= d.as_secs_f64()
        {
            return None;
        }
        self.index += 1;
        Some(Duration::from_secs_f64(self.at))
    }
}

/// `--burstiness`: a positive, finite gamma shape.
pub fn parse_burstiness(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(k) if k.is_finite() && k > 0.0 => Ok(k),
        _ => Err(format!(
            "{text:?}: burstiness is a positive number (1 = Poisson, < 1 burstier, > 1 steadier)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(a: Arrivals) -> Vec<f64> {
        let t: Vec<f64> = a.map(|d| d.as_secs_f64()).collect();
        t.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn mean_cv(x: &[f64]) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt() / mean)
    }

    /// 20 000 gaps at 10/s: the mean gap is 0.1 s whatever the burstiness, and the coefficient
    /// of variation is 1/√k — 1 for Poisson, 2 for k = 0.25, 0.5 for k = 4 (within 5 %).
    #[test]
    fn burstiness_keeps_the_rate_and_sets_the_spread() {
        for (k, want_cv) in [(1.0, 1.0), (0.25, 2.0), (4.0, 0.5)] {
            let a = Arrivals::new(
                RateShape::Constant(10.0),
                k,
                Some(Span::Requests(20_001)),
                7,
            );
            let (mean, cv) = mean_cv(&gaps(a));
            assert!((mean - 0.1).abs() < 0.1 * 0.05, "k={k}: mean gap {mean}");
            assert!((cv - want_cv).abs() < want_cv * 0.05, "k={k}: cv {cv}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = |seed| {
            Arrivals::new(
                RateShape::Constant(5.0),
                1.0,
                Some(Span::Requests(50)),
                seed,
            )
            .collect::<Vec<_>>()
        };
        assert_eq!(a(3), a(3));
        assert_ne!(a(3), a(4));
        assert_eq!(a(3).len(), 50);
        assert_eq!(a(3)[0], Duration::ZERO, "the first request goes at once");
    }

    /// A linear ramp from 2/s to 20/s over 60 s: the arrivals in each 10 s slice follow the
    /// integral of the rate (each slice's expected count within 15 %), and the run ends at 60 s.
    #[test]
    fn a_linear_ramp_over_time_sends_what_the_rate_integrates_to() {
        let shape = RateShape::Ramp {
            kind: RampKind::Linear,
            from: 2.0,
            to: 20.0,
        };
        let mut slices = [0u32; 6];
        let mut runs = 0;
        for seed in 0..20 {
            runs += 1;
            for t in Arrivals::new(shape, 1.0, Some(Span::Time(Duration::from_secs(60))), seed) {
                let slice = (t.as_secs_f64() / 10.0) as usize;
                slices[slice.min(5)] += 1;
            }
        }
        for (i, &n) in slices.iter().enumerate() {
            // ∫ over [10i, 10i+10] of 2 + 18·t/60 dt.
            let (a, b) = (10.0 * i as f64, 10.0 * i as f64 + 10.0);
            let want = 2.0 * (b - a) + 0.15 * (b * b - a * a);
            let got = n as f64 / runs as f64;
            assert!(
                (got - want).abs() < want * 0.15,
                "slice {i}: {got} vs {want}"
            );
        }
    }

    /// An exponential ramp over 1 000 requests, steady gaps (k = 1000): the gap near the start is
    /// 1/1 s, in the middle 1/10 s and at the end 1/100 s.
    #[test]
    fn an_exponential_ramp_over_requests_multiplies_the_rate_evenly() {
        let shape = RateShape::Ramp {
            kind: RampKind::Exponential,
            from: 1.0,
            to: 100.0,
        };
        let g = gaps(Arrivals::new(shape, 1000.0, Some(Span::Requests(1001)), 1));
        assert_eq!(g.len(), 1000);
        let near = |got: f64, want: f64| (got - want).abs() < want * 0.1;
        assert!(near(g[0], 1.0), "{}", g[0]);
        assert!(near(g[499], 0.1), "{}", g[499]);
        assert!(near(g[999], 0.01), "{}", g[999]);
        assert_eq!(shape.at(0.5), 10.0);
    }

    #[test]
    fn bad_shapes_are_refused_with_the_reason() {
        assert!(parse_burstiness("0").is_err());
        assert!(parse_burstiness("-1").is_err());
        assert!(parse_burstiness("inf").is_err());
        assert_eq!(parse_burstiness("0.5"), Ok(0.5));
        assert!(RampKind::parse("quadratic").is_err());
        assert_eq!(RampKind::parse("exp"), Ok(RampKind::Exponential));
    }
}
