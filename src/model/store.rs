//! The one store: fixed-capacity ring buffers of canonical series per target, queried through
//! PromQL-named functions (`rate`, `increase`, `histogram_quantile`, heatmap cells).
//!
//! Every raw counter is followed on its own (its resets, its disappearance), and only its
//! reset-corrected increments are added into the canonical (signal, model) series. A canonical
//! counter is therefore monotonic by construction, which makes `sum(rate(raw))` equal to
//! `rate(canonical)` between samples and keeps memory independent of a gateway's label cardinality.
use std::collections::{BTreeMap, HashMap};

use crate::base::dialect::Description;
use crate::base::promql;
use crate::base::signal::{CanonicalSample, CanonicalValue, GaugeAggregate, Signal, SignalKind};

/// Sizes that bound the store's memory.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Scrape slots kept per target (history length = slots × interval).
    pub slots: usize,
    /// Raw series followed per target; beyond it new series are dropped and counted.
    pub max_series: usize,
    /// Distinct models kept per target; further models are folded into [`OTHER_MODELS`], which
    /// bounds memory when a gateway's model label explodes.
    pub max_models: usize,
}

/// Most slots a store keeps, whatever it is asked for: `--history` is capped here, and so is a
/// recording's header, which is outside input (a larger count would allocate beyond any memory).
pub const MAX_SLOTS: usize = 1_000_000;

/// The model name that collects every model beyond [`StoreLimits::max_models`].
pub const OTHER_MODELS: &str = "(other models)";

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            slots: 3600,
            max_series: 10_000,
            max_models: 50,
        }
    }
}

/// A canonical series' identity within one target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub signal: Signal,
    pub model: String,
}

impl SeriesKey {
    pub fn new(signal: Signal, model: impl Into<String>) -> Self {
        Self {
            signal,
            model: model.into(),
        }
    }
}

/// Scrape health of one target, shown on the status line and in `snapshot` warnings.
#[derive(Debug, Clone, Default)]
pub struct TargetHealth {
    pub dialect: Option<String>,
    /// The dialect can report failed requests, so no failure series while requests flow means
    /// none failed (prometheus_client creates a labelled series on its first increment).
    pub reports_failures: bool,
    /// Time of the last successful scrape (unix seconds).
    pub last_ok: Option<f64>,
    /// Time of the last attempt, successful or not.
    pub last_attempt: Option<f64>,
    /// Why the last attempt failed; `None` once a scrape succeeds again.
    pub last_error: Option<String>,
    pub scrapes_ok: u64,
    pub scrapes_failed: u64,
    /// Malformed lines skipped in the latest scrape and in all scrapes.
    pub skipped_lines_last: usize,
    pub skipped_lines_total: u64,
    /// Scrapes in which counters went backwards (gateway restarts), and when the last was.
    pub resets: u64,
    pub last_reset: Option<f64>,
    /// Raw series dropped because the series cap was reached (latest scrape).
    pub dropped_series: usize,
    /// Histogram series refused (no +Inf bucket, bounds changed), latest scrape.
    pub rejected_histograms: usize,
    /// Distinct models folded into "(other models)" because the model cap was reached.
    pub folded_models: usize,
    /// Samples of the latest scrape that repeated a series already in it (same name and
    /// labels); the first of each was kept, as Prometheus does.
    pub duplicate_series: usize,
    /// Raw series in the latest scrape, and how many of them were not in the one before.
    pub series_last: usize,
    pub new_series_last: usize,
    /// Consecutive scrapes in which most series were new: label values that change every scrape.
    pub churning_scrapes: u64,
    /// The latest scrape's body had bytes that are not UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: bool,
    /// The latest scrape was large enough to matter (size, series, the families behind it).
    pub large_scrape: Option<String>,
}

/// Per-bucket counts of one canonical histogram at one slot.
#[derive(Debug, Clone)]
struct HistogramSeries {
    bounds: Vec<f64>,
    /// `slots × bounds.len()` cumulative counts, NaN where the series was absent.
    counts: Vec<f64>,
    current: Vec<f64>,
    current_sum: f64,
    current_count: f64,
    sums: Vec<f64>,
    totals: Vec<f64>,
}

#[derive(Debug, Clone)]
struct ScalarSeries {
    values: Vec<f64>,
    /// Running reset-corrected total (counters only).
    current: f64,
}

/// What the store remembers of a raw series between scrapes.
#[derive(Debug, Clone)]
struct RawState {
    last: Vec<f64>,
    last_seen: u64,
}

/// All history of one target.
#[derive(Debug, Clone)]
pub struct TargetStore {
    pub name: String,
    pub health: TargetHealth,
    limits: StoreLimits,
    times: Vec<f64>,
    /// Slots written so far; slot `n` lives at index `n % limits.slots`.
    next_slot: u64,
    scalars: BTreeMap<SeriesKey, ScalarSeries>,
    histograms: BTreeMap<SeriesKey, HistogramSeries>,
    raw: HashMap<(Signal, u64), RawState>,
    /// Every model name admitted so far (bounded by `max_models`).
    admitted_models: std::collections::BTreeSet<String>,
    folded_models: std::collections::BTreeSet<String>,
    /// What the labels said about each upstream (model, provider, API base); at most
    /// `max_series` entries.
    descriptions: BTreeMap<String, Description>,
}

/// Raw series unseen for this many scrapes are forgotten (their next value starts afresh).
const RAW_FORGET_AFTER: u64 = 600;
/// After this many consecutive scrapes in which most series are new, the target is churning.
pub const CHURN_SCRAPES: u64 = 3;

impl TargetStore {
    pub fn new(name: impl Into<String>, limits: StoreLimits) -> Self {
        let limits = StoreLimits {
            slots: limits.slots.clamp(2, MAX_SLOTS),
            max_series: limits.max_series.max(1),
            max_models: limits.max_models.max(1),
        };
        Self {
            name: name.into(),
            health: TargetHealth::default(),
            limits,
            times: vec![f64::NAN; limits.slots],
            next_slot: 0,
            scalars: BTreeMap::new(),
            histograms: BTreeMap::new(),
            raw: HashMap::new(),
            admitted_models: Default::default(),
            folded_models: Default::default(),
            descriptions: BTreeMap::new(),
        }
    }

    /// Takes what a scrape's labels said about its upstreams: newer words win, field by field.
    /// New keys beyond `max_series` are ignored, so label churn cannot grow it without bound.
    pub fn describe(&mut self, found: &BTreeMap<String, Description>) {
        for (key, description) in found {
            let room = self.descriptions.len() < self.limits.max_series;
            match self.descriptions.get_mut(key) {
                Some(known) => known.update(description),
                None if room => {
                    self.descriptions.insert(key.clone(), description.clone());
                }
                None => {}
            }
        }
    }

    /// What the labels said about one upstream, if anything.
    pub fn description(&self, key: &str) -> Option<&Description> {
        self.descriptions.get(key)
    }

    /// The model name a sample is stored under: itself, or "(other models)" past the cap.
    fn admit_model(&mut self, model: &str) -> String {
        if self.admitted_models.contains(model) {
            return model.to_string();
        }
        if self.admitted_models.len() < self.limits.max_models {
            self.admitted_models.insert(model.to_string());
            return model.to_string();
        }
        // The fold list is only for the count on screen; cap it too.
        if self.folded_models.len() < 10_000 {
            self.folded_models.insert(model.to_string());
        }
        OTHER_MODELS.to_string()
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn index(&self, slot: u64) -> usize {
        (slot % self.limits.slots as u64) as usize
    }

    /// Oldest and one-past-newest slot still held.
    fn slot_span(&self) -> (u64, u64) {
        let held = self.next_slot.min(self.limits.slots as u64);
        (self.next_slot - held, self.next_slot)
    }

    /// Number of scrapes held.
    pub fn len(&self) -> usize {
        let (a, b) = self.slot_span();
        (b - a) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.next_slot == 0
    }

    /// Time of the newest sample, if any.
    pub fn latest_time(&self) -> Option<f64> {
        (self.next_slot > 0).then(|| self.times[self.index(self.next_slot - 1)])
    }

    /// Time of the oldest sample still held.
    pub fn oldest_time(&self) -> Option<f64> {
        let (a, b) = self.slot_span();
        (b > a).then(|| self.times[self.index(a)])
    }

    /// Slots whose time lies in `[start, end]`, oldest first.
    fn slots_between(&self, start: f64, end: f64) -> std::ops::Range<u64> {
        let (a, b) = self.slot_span();
        let first = partition_point(a, b, |s| self.times[self.index(s)] < start);
        let last = partition_point(first, b, |s| self.times[self.index(s)] <= end);
        first..last
    }

    /// Records one successful scrape taken at `time`.
    pub fn ingest(&mut self, time: f64, samples: &[CanonicalSample]) {
        if let Some(prev) = self.latest_time()
            && time <= prev
        {
            // Out-of-order or duplicate timestamps would break every range query; keep order.
            return;
        }
        let slot = self.next_slot;
        let first_scrape = slot == 0;
        let idx = self.index(slot);
        self.times[idx] = time;
        self.next_slot += 1;
        let slots = self.limits.slots;

        let mut counter_deltas: BTreeMap<SeriesKey, f64> = BTreeMap::new();
        let mut gauge_values: BTreeMap<SeriesKey, (f64, usize, f64, f64)> = BTreeMap::new();
        let mut hist_deltas: BTreeMap<SeriesKey, (Vec<f64>, Vec<f64>, f64, f64)> = BTreeMap::new();
        let mut dropped = 0usize;
        let mut rejected = 0usize;
        let mut resets = 0u64;
        let mut duplicates = 0usize;
        let mut seen: std::collections::HashSet<(Signal, u64)> =
            std::collections::HashSet::with_capacity(samples.len());
        // Gauges keep no per-series state, so only counters and histograms can be new or absent.
        let present: std::collections::HashSet<(Signal, u64)> = samples
            .iter()
            .filter(|s| s.signal.kind() != SignalKind::Gauge)
            .map(|s| (s.signal, s.series_id))
            .collect();
        let new_series = present.iter().filter(|k| !self.raw.contains_key(k)).count();
        if self.raw.len() + new_series > self.limits.max_series {
            self.forget_absent_raw(&present);
        }

        for sample in samples {
            let raw_key = (sample.signal, sample.series_id);
            if !seen.insert(raw_key) {
                // A second sample of a series within one scrape would read as a reset (or
                // double a gauge); keep the first, as Prometheus does.
                duplicates += 1;
                continue;
            }
            let model = self.admit_model(&sample.model);
            let key = SeriesKey::new(sample.signal, model);
            match (&sample.value, sample.signal.kind()) {
                (CanonicalValue::Scalar(v), SignalKind::Gauge) => {
                    if v.is_finite() {
                        let e = gauge_values.entry(key).or_insert((
                            0.0,
                            0,
                            f64::NEG_INFINITY,
                            f64::INFINITY,
                        ));
                        e.0 += v;
                        e.1 += 1;
                        e.2 = e.2.max(*v);
                        e.3 = e.3.min(*v);
                    }
                }
                (CanonicalValue::Scalar(v), SignalKind::Counter) => {
                    if !v.is_finite() {
                        continue;
                    }
                    let known_series = self.scalars.contains_key(&key);
                    let delta = match self.raw.get_mut(&raw_key) {
                        Some(state) => {
                            let last = state.last[0];
                            state.last[0] = *v;
                            state.last_seen = slot;
                            if *v >= last {
                                *v - last
                            } else {
                                resets += 1;
                                *v
                            }
                        }
                        None => {
                            if self.raw.len() >= self.limits.max_series {
                                dropped += 1;
                                continue;
                            }
                            self.raw.insert(
                                raw_key,
                                RawState {
                                    last: vec![*v],
                                    last_seen: slot,
                                },
                            );
                            // A series seen for the first time sets the starting level of a new
                            // canonical series; joining an existing one it only counts from now on,
                            // as PromQL's rate only counts increments between its own samples.
                            if first_scrape || !known_series {
                                *v
                            } else {
                                0.0
                            }
                        }
                    };
                    *counter_deltas.entry(key).or_insert(0.0) += delta;
                }
                (
                    CanonicalValue::Histogram {
                        buckets,
                        sum,
                        count,
                    },
                    SignalKind::Histogram,
                ) => {
                    let bounds: Vec<f64> = buckets.iter().map(|b| b.0).collect();
                    let counts: Vec<f64> = buckets.iter().map(|b| b.1).collect();
                    if let Some(existing) = self.histograms.get(&key)
                        && existing.bounds != bounds
                    {
                        rejected += 1;
                        continue;
                    }
                    if let Some((b, ..)) = hist_deltas.get(&key)
                        && *b != bounds
                    {
                        rejected += 1;
                        continue;
                    }
                    let known_series = self.histograms.contains_key(&key);
                    let mut now = counts.clone();
                    now.push(*sum);
                    now.push(*count);
                    let delta: Vec<f64> = match self.raw.get_mut(&raw_key) {
                        Some(state) if state.last.len() == now.len() => {
                            let reset = now[now.len() - 1] < state.last[now.len() - 1]
                                || now
                                    .iter()
                                    .zip(&state.last)
                                    .take(counts.len())
                                    .any(|(n, l)| n < l);
                            let d = if reset {
                                resets += 1;
                                now.clone()
                            } else {
                                now.iter().zip(&state.last).map(|(n, l)| n - l).collect()
                            };
                            state.last = now;
                            state.last_seen = slot;
                            d
                        }
                        _ => {
                            if self.raw.len() >= self.limits.max_series
                                && !self.raw.contains_key(&raw_key)
                            {
                                dropped += 1;
                                continue;
                            }
                            let d = if first_scrape || !known_series {
                                now.clone()
                            } else {
                                vec![0.0; now.len()]
                            };
                            self.raw.insert(
                                raw_key,
                                RawState {
                                    last: now,
                                    last_seen: slot,
                                },
                            );
                            d
                        }
                    };
                    let n = counts.len();
                    let entry = hist_deltas
                        .entry(key)
                        .or_insert_with(|| (bounds.clone(), vec![0.0; n], 0.0, 0.0));
                    for (acc, d) in entry.1.iter_mut().zip(&delta[..n]) {
                        *acc += d;
                    }
                    // A missing _sum is NaN; keep the count usable and let the sum be unknown.
                    entry.2 += delta[n];
                    entry.3 += delta[n + 1];
                }
                _ => rejected += 1,
            }
        }

        // Scalars: write this slot for every series, NaN where the series is absent (stale).
        for (key, delta) in &counter_deltas {
            match self.scalar_series(key) {
                Some(series) => series.current += delta,
                None => dropped += 1,
            }
        }
        for (key, (total, n, max, min)) in &gauge_values {
            let Some(series) = self.scalar_series(key) else {
                dropped += 1;
                continue;
            };
            series.current = match key.signal.gauge_aggregate() {
                GaugeAggregate::Sum => *total,
                GaugeAggregate::Mean => total / *n as f64,
                GaugeAggregate::Max => *max,
                GaugeAggregate::Min => *min,
            };
        }
        for (key, series) in self.scalars.iter_mut() {
            let present = counter_deltas.contains_key(key) || gauge_values.contains_key(key);
            series.values[idx] = if present { series.current } else { f64::NAN };
        }

        let written_histograms: std::collections::BTreeSet<SeriesKey> =
            hist_deltas.keys().cloned().collect();
        for (key, (bounds, deltas, dsum, dcount)) in hist_deltas {
            if !self.histograms.contains_key(&key) {
                if self.scalars.len() + self.histograms.len() >= self.limits.max_series {
                    dropped += 1;
                    continue;
                }
                let n = bounds.len();
                self.histograms.insert(
                    key.clone(),
                    HistogramSeries {
                        bounds,
                        counts: vec![f64::NAN; slots * n],
                        current: vec![0.0; n],
                        current_sum: 0.0,
                        current_count: 0.0,
                        sums: vec![f64::NAN; slots],
                        totals: vec![f64::NAN; slots],
                    },
                );
            }
            if let Some(h) = self.histograms.get_mut(&key) {
                let n = h.bounds.len();
                for (c, d) in h.current.iter_mut().zip(&deltas) {
                    *c += d;
                }
                h.current_sum += dsum;
                h.current_count += dcount;
                h.counts[idx * n..(idx + 1) * n].copy_from_slice(&h.current);
                h.sums[idx] = h.current_sum;
                h.totals[idx] = h.current_count;
            }
        }
        for (key, h) in self.histograms.iter_mut() {
            if !written_histograms.contains(key) {
                let n = h.bounds.len();
                h.counts[idx * n..(idx + 1) * n].fill(f64::NAN);
                h.sums[idx] = f64::NAN;
                h.totals[idx] = f64::NAN;
            }
        }

        self.raw
            .retain(|_, state| slot.saturating_sub(state.last_seen) <= RAW_FORGET_AFTER);

        let health = &mut self.health;
        health.last_ok = Some(time);
        health.last_attempt = Some(time);
        health.last_error = None;
        health.scrapes_ok += 1;
        health.dropped_series = dropped;
        health.rejected_histograms = rejected;
        health.folded_models = self.folded_models.len();
        health.duplicate_series = duplicates;
        health.series_last = present.len();
        health.new_series_last = if first_scrape { 0 } else { new_series };
        // Churn is most series new, scrape after scrape; one new model is not churn.
        if !first_scrape && new_series * 2 > present.len() && new_series > 0 {
            health.churning_scrapes += 1;
        } else {
            health.churning_scrapes = 0;
        }
        if health.churning_scrapes >= CHURN_SCRAPES {
            // The series of past scrapes will not come back: stop following them now rather
            // than after RAW_FORGET_AFTER scrapes, so memory stays at one scrape's worth.
            self.raw.retain(|key, _| present.contains(key));
        }
        // One restart resets every counter at once: count scrapes that saw resets, not series.
        if resets > 0 && !first_scrape {
            health.resets += 1;
            health.last_reset = Some(time);
        }
    }

    /// Forgets raw series absent from the scrape being ingested. Only done when its new series
    /// would not fit under the cap: under label churn the cap would otherwise fill with series
    /// that never come back, and every current series would be dropped for [`RAW_FORGET_AFTER`]
    /// scrapes.
    fn forget_absent_raw(&mut self, present: &std::collections::HashSet<(Signal, u64)>) {
        self.raw.retain(|key, _| present.contains(key));
    }

    /// The scalar series for `key`, created (all NaN) if the series cap allows; `None` past the cap.
    fn scalar_series(&mut self, key: &SeriesKey) -> Option<&mut ScalarSeries> {
        if !self.scalars.contains_key(key)
            && self.scalars.len() + self.histograms.len() >= self.limits.max_series
        {
            return None;
        }
        let slots = self.limits.slots;
        Some(
            self.scalars
                .entry(key.clone())
                .or_insert_with(|| ScalarSeries {
                    values: vec![f64::NAN; slots],
                    current: 0.0,
                }),
        )
    }

    /// Records a failed scrape: the data stays, the target turns stale.
    pub fn record_failure(&mut self, time: f64, error: impl Into<String>) {
        self.health.last_attempt = Some(time);
        self.health.last_error = Some(error.into());
        self.health.scrapes_failed += 1;
    }

    /// Models with at least one series, sorted; the whole-gateway series ("") is not listed.
    pub fn models(&self) -> Vec<String> {
        let mut models: Vec<String> = self
            .scalars
            .keys()
            .chain(self.histograms.keys())
            // Deployments and fallback pairs are upstreams, budgets are scopes: not models.
            .filter(|k| !k.signal.is_upstream() && !k.signal.is_budget())
            .map(|k| k.model.clone())
            .filter(|m| !m.is_empty())
            .collect();
        models.sort();
        models.dedup();
        models
    }

    /// The upstream deployments the store holds anything of (fallback pairs excluded), sorted.
    pub fn upstreams(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .scalars
            .keys()
            .filter(|k| {
                k.signal.is_upstream()
                    && !matches!(k.signal, Signal::FallbacksOk | Signal::FallbacksFailed)
            })
            .map(|k| k.model.clone())
            .filter(|m| !m.is_empty())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The latest value of one key's gauge (per-model [`TargetStore::gauge_latest`]).
    pub fn gauge_latest_of(&self, signal: Signal, model: &str) -> Option<f64> {
        let (_, end) = self.slot_span();
        if end == 0 {
            return None;
        }
        let idx = self.index(end - 1);
        let v = self.scalars.get(&SeriesKey::new(signal, model))?.values[idx];
        (!v.is_nan()).then_some(v)
    }

    /// Keys of every series of `signal`, any model.
    pub fn keys_of(&self, signal: Signal) -> Vec<SeriesKey> {
        match signal.kind() {
            SignalKind::Histogram => self
                .histograms
                .keys()
                .filter(|k| k.signal == signal)
                .cloned()
                .collect(),
            _ => self
                .scalars
                .keys()
                .filter(|k| k.signal == signal)
                .cloned()
                .collect(),
        }
    }

    pub fn has_signal(&self, signal: Signal) -> bool {
        !self.keys_of(signal).is_empty()
    }

    /// Present samples of a scalar series in `[start, end]`.
    pub fn samples(&self, key: &SeriesKey, start: f64, end: f64) -> Vec<(f64, f64)> {
        let Some(series) = self.scalars.get(key) else {
            return Vec::new();
        };
        self.slots_between(start, end)
            .filter_map(|s| {
                let i = self.index(s);
                let v = series.values[i];
                (!v.is_nan()).then_some((self.times[i], v))
            })
            .collect()
    }

    /// PromQL `rate(key[range])` evaluated at `eval_t`.
    pub fn rate(&self, key: &SeriesKey, eval_t: f64, range: f64) -> Option<f64> {
        promql::rate(&self.samples(key, eval_t - range, eval_t), eval_t, range)
    }

    /// PromQL `increase(key[range])` evaluated at `eval_t`.
    pub fn increase(&self, key: &SeriesKey, eval_t: f64, range: f64) -> Option<f64> {
        promql::increase(&self.samples(key, eval_t - range, eval_t), eval_t, range)
    }

    /// `sum(rate(signal[range]))` over the given models (all when `models` is `None`).
    /// `None` when no series of the signal has two samples in range.
    pub fn sum_rate(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        eval_t: f64,
        range: f64,
    ) -> Option<f64> {
        self.sum_over(signal, models, |k| self.rate(k, eval_t, range))
    }

    /// `sum(increase(signal[range]))` over the given models.
    pub fn sum_increase(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        eval_t: f64,
        range: f64,
    ) -> Option<f64> {
        self.sum_over(signal, models, |k| self.increase(k, eval_t, range))
    }

    /// PromQL's `sum(…)`: adds what `per_series` gives for each series of `signal` among `models`;
    /// `None` (no data) when it gives nothing for any of them — an empty sum is not 0.
    fn sum_over(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        per_series: impl Fn(&SeriesKey) -> Option<f64>,
    ) -> Option<f64> {
        let values: Vec<f64> = self
            .keys_of(signal)
            .iter()
            .filter(|k| models.is_none_or(|ms| ms.contains(&k.model.as_str())))
            .filter_map(per_series)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// The newest present value of a gauge, aggregated over models as the signal demands.
    pub fn gauge_latest(&self, signal: Signal) -> Option<f64> {
        let (_, end) = self.slot_span();
        if end == 0 {
            return None;
        }
        let idx = self.index(end - 1);
        let values: Vec<f64> = self
            .keys_of(signal)
            .iter()
            .filter_map(|k| self.scalars.get(k))
            .map(|s| s.values[idx])
            .filter(|v| !v.is_nan())
            .collect();
        if values.is_empty() {
            return None;
        }
        let total: f64 = values.iter().sum();
        Some(match signal.gauge_aggregate() {
            GaugeAggregate::Sum => total,
            GaugeAggregate::Mean => total / values.len() as f64,
            GaugeAggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            GaugeAggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        })
    }

    /// Present per-slot bucket vectors of a histogram in `[start, end]`: (time, cumulative counts).
    fn histogram_samples(&self, key: &SeriesKey, start: f64, end: f64) -> Vec<(f64, &[f64])> {
        let Some(h) = self.histograms.get(key) else {
            return Vec::new();
        };
        let n = h.bounds.len();
        self.slots_between(start, end)
            .filter_map(|s| {
                let i = self.index(s);
                (!h.totals[i].is_nan()).then(|| (self.times[i], &h.counts[i * n..(i + 1) * n]))
            })
            .collect()
    }

    /// `sum by (le) (rate(signal_bucket[range]))` over the given models: (bound, rate) sorted by bound.
    pub fn bucket_rates(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        eval_t: f64,
        range: f64,
    ) -> Option<Vec<(f64, f64)>> {
        self.sum_by_bound(signal, models, eval_t - range, eval_t, |series| {
            promql::rate(series, eval_t, range)
        })
    }

    /// How much a counter grew from the scrape at `from` to the one at `to`, exactly, over the
    /// given models: each series' rises between consecutive samples (a drop is a restart, the
    /// new value counts whole), plus the whole first value of a series born after `from` (a
    /// model's first request creates it). Unlike PromQL's `increase`, nothing is extrapolated:
    /// both ends are real scrapes. `None` when the signal has no series.
    pub fn counted(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        from: f64,
        to: f64,
    ) -> Option<f64> {
        self.sum_over(signal, models, |k| {
            self.scalars
                .contains_key(k)
                .then(|| growth(&self.samples(k, from, to), from))
        })
    }

    /// [`TargetStore::counted`] for every bucket of a histogram, merged by bound:
    /// (bound, count) sorted by bound, ready for `histogram_quantile`.
    pub fn bucket_counted(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        from: f64,
        to: f64,
    ) -> Option<Vec<(f64, f64)>> {
        self.sum_by_bound(signal, models, from, to, |series| {
            Some(growth(series, from))
        })
    }

    /// `sum by (le)` of what `per_bucket` makes of each bucket's samples in `[from, to]`, over
    /// the histograms of the given models; `None` when it makes nothing of any.
    fn sum_by_bound(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        from: f64,
        to: f64,
        per_bucket: impl Fn(&[(f64, f64)]) -> Option<f64>,
    ) -> Option<Vec<(f64, f64)>> {
        let mut merged: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        let mut any = false;
        for key in self.keys_of(signal) {
            if models.is_some_and(|ms| !ms.contains(&key.model.as_str())) {
                continue;
            }
            let Some(h) = self.histograms.get(&key) else {
                continue;
            };
            let samples = self.histogram_samples(&key, from, to);
            for (b, bound) in h.bounds.iter().enumerate() {
                let series: Vec<(f64, f64)> = samples.iter().map(|(t, c)| (*t, c[b])).collect();
                if let Some(v) = per_bucket(&series) {
                    any = true;
                    let e = merged.entry(order_key(*bound)).or_insert((*bound, 0.0));
                    e.1 += v;
                }
            }
        }
        any.then(|| merged.into_values().collect())
    }

    /// `histogram_quantile(q, sum by (le) (rate(signal_bucket[range])))`; `None` when there is no
    /// data or the quantile is undefined (no observations: NaN is "unknown", not zero).
    pub fn quantile(
        &self,
        q: f64,
        signal: Signal,
        models: Option<&[&str]>,
        eval_t: f64,
        range: f64,
    ) -> Option<f64> {
        self.quantile_bound(q, signal, models, eval_t, range)
            .map(|(v, _)| v)
    }

    /// [`TargetStore::quantile`] and whether it is only a lower bound (the rank fell in `+Inf`:
    /// the true value lies above the highest finite bound).
    pub fn quantile_bound(
        &self,
        q: f64,
        signal: Signal,
        models: Option<&[&str]>,
        eval_t: f64,
        range: f64,
    ) -> Option<(f64, bool)> {
        let buckets = self.bucket_rates(signal, models, eval_t, range)?;
        let v = promql::histogram_quantile(q, &buckets);
        (!v.is_nan()).then(|| (v, promql::quantile_is_lower_bound(q, &buckets)))
    }

    /// The latency heatmap: for each of `columns` equal time steps ending at `end`, the increase
    /// of every bucket over the step, de-cumulated (Grafana's heatmap). Models are merged by `le`.
    pub fn heatmap(
        &self,
        signal: Signal,
        models: Option<&[&str]>,
        start: f64,
        end: f64,
        columns: usize,
    ) -> Option<Heatmap> {
        let keys: Vec<SeriesKey> = self
            .keys_of(signal)
            .into_iter()
            .filter(|k| models.is_none_or(|ms| ms.contains(&k.model.as_str())))
            .collect();
        if keys.is_empty() || columns == 0 || end <= start {
            return None;
        }
        let mut bounds: Vec<f64> = keys
            .iter()
            .filter_map(|k| self.histograms.get(k))
            .flat_map(|h| h.bounds.iter().copied())
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let step = (end - start) / columns as f64;
        let mut cells = vec![vec![f64::NAN; bounds.len()]; columns];
        for key in &keys {
            let Some(h) = self.histograms.get(key) else {
                continue;
            };
            let n = h.bounds.len();
            let positions: Vec<usize> = h
                .bounds
                .iter()
                .filter_map(|b| bounds.iter().position(|x| x == b))
                .collect();
            // The cumulative counts at each column edge: the newest sample at or before the edge.
            let edge_value = |edge: f64| -> Option<&[f64]> {
                let range = self.slots_between(f64::NEG_INFINITY, edge);
                range.rev().take(4).find_map(|s| {
                    let i = self.index(s);
                    (!h.totals[i].is_nan()).then(|| &h.counts[i * n..(i + 1) * n])
                })
            };
            // Before history begins, a column starts from the oldest sample inside it.
            let first_inside = |left: f64, right: f64| -> Option<&[f64]> {
                self.slots_between(left, right).find_map(|s| {
                    let i = self.index(s);
                    (!h.totals[i].is_nan()).then(|| &h.counts[i * n..(i + 1) * n])
                })
            };
            for (col, column) in cells.iter_mut().enumerate() {
                let left = start + step * col as f64;
                let right = left + step;
                let a = edge_value(left).or_else(|| first_inside(left, right));
                let (Some(a), Some(b)) = (a, edge_value(right)) else {
                    continue;
                };
                let increases: Vec<(f64, f64)> = h
                    .bounds
                    .iter()
                    .zip(a.iter().zip(b))
                    .map(|(bound, (x, y))| (*bound, (y - x).max(0.0)))
                    .collect();
                let de_cumulated = promql::heatmap_cells(&increases);
                for (pos, v) in positions.iter().zip(de_cumulated) {
                    let cell = &mut column[*pos];
                    *cell = if cell.is_nan() { v } else { *cell + v };
                }
            }
        }
        Some(Heatmap { bounds, cells })
    }

    /// Bytes held by the ring buffers (the part of memory that grows with history and series).
    pub fn memory_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        let scalars: usize = self.scalars.values().map(|s| s.values.len() * f).sum();
        let hists: usize = self
            .histograms
            .values()
            .map(|h| (h.counts.len() + h.sums.len() + h.totals.len() + 3 * h.bounds.len()) * f)
            .sum();
        let raw: usize = self.raw.values().map(|r| r.last.len() * f + 48).sum();
        self.times.len() * f + scalars + hists + raw
    }

    /// Number of canonical series and raw series followed.
    pub fn series_counts(&self) -> (usize, usize) {
        (self.scalars.len() + self.histograms.len(), self.raw.len())
    }
}

/// A heatmap: `cells[column][bucket]` observations per bucket (NaN = no data), buckets by bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub bounds: Vec<f64>,
    pub cells: Vec<Vec<f64>>,
}

fn order_key(bound: f64) -> u64 {
    // Total order on f64 as a map key: flip the bits so negative numbers sort first.
    let bits = bound.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// First slot in `[lo, hi)` for which `before` is false (slots where it holds come first).
fn partition_point(mut lo: u64, mut hi: u64, before: impl Fn(u64) -> bool) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One counter series' growth over its samples in a window starting at the scrape at `from`.
fn growth(samples: &[(f64, f64)], from: f64) -> f64 {
    let born = samples
        .first()
        .filter(|(t, _)| *t > from)
        .map_or(0.0, |(_, v)| *v);
    born + samples
        .windows(2)
        .map(|w| {
            if w[1].1 >= w[0].1 {
                w[1].1 - w[0].1
            } else {
                w[1].1
            }
        })
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(signal: Signal, model: &str, id: u64, v: f64) -> CanonicalSample {
        CanonicalSample {
            signal,
            model: model.into(),
            series_id: id,
            value: CanonicalValue::Scalar(v),
        }
    }

    /// Scrapes at 0, 1, 2: model a counts 10 → 13 → 20, model b is born at 1 with 4 and resets
    /// to 1 at 2; its histogram is born at 2. Exactly 10 + 4 + 1 requests grew, nothing
    /// extrapolated; a's share alone is 10; the buckets count the born histogram whole.
    #[test]
    fn counted_is_the_exact_growth_between_two_scrapes() {
        let mut t = TargetStore::new("t", StoreLimits::default());
        let hist = |k: f64| CanonicalSample {
            signal: Signal::LatencySeconds,
            model: "b".into(),
            series_id: 7,
            value: CanonicalValue::Histogram {
                buckets: vec![(0.1, k), (1.0, 2.0 * k), (f64::INFINITY, 2.0 * k)],
                sum: k,
                count: 2.0 * k,
            },
        };
        t.ingest(0.0, &[counter(Signal::Requests, "a", 1, 10.0)]);
        t.ingest(
            1.0,
            &[
                counter(Signal::Requests, "a", 1, 13.0),
                counter(Signal::Requests, "b", 2, 4.0),
            ],
        );
        t.ingest(
            2.0,
            &[
                counter(Signal::Requests, "a", 1, 20.0),
                counter(Signal::Requests, "b", 2, 1.0),
                hist(3.0),
            ],
        );
        assert_eq!(t.counted(Signal::Requests, None, 0.0, 2.0), Some(15.0));
        assert_eq!(
            t.counted(Signal::Requests, Some(&["a"]), 0.0, 2.0),
            Some(10.0)
        );
        assert_eq!(
            t.counted(Signal::Requests, Some(&["a"]), 1.0, 2.0),
            Some(7.0)
        );
        assert_eq!(t.counted(Signal::RequestsFailed, None, 0.0, 2.0), None);
        assert_eq!(
            t.bucket_counted(Signal::LatencySeconds, None, 0.0, 2.0),
            Some(vec![(0.1, 3.0), (1.0, 6.0), (f64::INFINITY, 6.0)])
        );
    }

    #[test]
    fn sum_of_raw_counters_survives_one_series_resetting() {
        let mut t = TargetStore::new("t", StoreLimits::default());
        // Two raw series feed one canonical series; the second resets between t=20 and t=30.
        let steps = [
            (0.0, 100.0, 50.0),
            (10.0, 110.0, 60.0),
            (20.0, 120.0, 70.0),
            (30.0, 130.0, 5.0),
        ];
        for (time, a, b) in steps {
            t.ingest(
                time,
                &[
                    counter(Signal::Requests, "m", 1, a),
                    counter(Signal::Requests, "m", 2, b),
                ],
            );
        }
        let key = SeriesKey::new(Signal::Requests, "m");
        let samples = t.samples(&key, 0.0, 30.0);
        assert_eq!(
            samples,
            vec![(0.0, 150.0), (10.0, 170.0), (20.0, 190.0), (30.0, 205.0)]
        );
        assert_eq!(t.health.resets, 1);
        assert_eq!(t.health.last_reset, Some(30.0));
    }

    #[test]
    fn a_series_absent_from_a_scrape_is_stale_not_zero() {
        let mut t = TargetStore::new("t", StoreLimits::default());
        t.ingest(0.0, &[counter(Signal::Requests, "m", 1, 1.0)]);
        t.ingest(1.0, &[]);
        t.ingest(2.0, &[counter(Signal::Requests, "m", 1, 3.0)]);
        let key = SeriesKey::new(Signal::Requests, "m");
        assert_eq!(t.samples(&key, 0.0, 2.0), vec![(0.0, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn ring_keeps_exactly_its_capacity() {
        let limits = StoreLimits {
            slots: 4,
            max_series: 10,
            max_models: 10,
        };
        let mut t = TargetStore::new("t", limits);
        for i in 0..10 {
            t.ingest(i as f64, &[counter(Signal::Requests, "m", 1, i as f64)]);
        }
        let key = SeriesKey::new(Signal::Requests, "m");
        assert_eq!(t.len(), 4);
        assert_eq!(t.oldest_time(), Some(6.0));
        assert_eq!(
            t.samples(&key, 0.0, 100.0),
            vec![(6.0, 6.0), (7.0, 7.0), (8.0, 8.0), (9.0, 9.0)]
        );
    }

    #[test]
    fn series_cap_drops_and_counts_new_series() {
        let limits = StoreLimits {
            slots: 8,
            max_series: 2,
            max_models: 10,
        };
        let mut t = TargetStore::new("t", limits);
        let samples: Vec<CanonicalSample> = (0..5)
            .map(|i| counter(Signal::Requests, &format!("m{i}"), i, 1.0))
            .collect();
        t.ingest(0.0, &samples);
        assert_eq!(t.series_counts(), (2, 2));
        assert_eq!(t.health.dropped_series, 3);
    }

    #[test]
    fn models_past_the_cap_fold_into_other() {
        let limits = StoreLimits {
            slots: 8,
            max_series: 100,
            max_models: 2,
        };
        let mut t = TargetStore::new("t", limits);
        let samples: Vec<CanonicalSample> = (0..5)
            .map(|i| counter(Signal::Requests, &format!("m{i}"), i, 10.0))
            .collect();
        t.ingest(0.0, &samples);
        assert_eq!(
            t.models(),
            vec![OTHER_MODELS.to_string(), "m0".into(), "m1".into()]
        );
        assert_eq!(t.health.folded_models, 3);
        let other = SeriesKey::new(Signal::Requests, OTHER_MODELS);
        assert_eq!(t.samples(&other, 0.0, 0.0), vec![(0.0, 30.0)]);
    }

    #[test]
    fn memory_does_not_grow_once_the_ring_is_full() {
        let limits = StoreLimits {
            slots: 16,
            max_series: 100,
            max_models: 10,
        };
        let mut t = TargetStore::new("t", limits);
        let hist = |k: f64| CanonicalSample {
            signal: Signal::LatencySeconds,
            model: "m".into(),
            series_id: 9,
            value: CanonicalValue::Histogram {
                buckets: vec![(0.1, k), (1.0, 2.0 * k), (f64::INFINITY, 3.0 * k)],
                sum: k,
                count: 3.0 * k,
            },
        };
        let mut at_full = 0;
        for i in 0..200 {
            t.ingest(
                i as f64,
                &[counter(Signal::Requests, "m", 1, i as f64), hist(i as f64)],
            );
            if i == 15 {
                at_full = t.memory_bytes();
            }
        }
        assert_eq!(t.memory_bytes(), at_full);
    }

    #[test]
    fn histogram_quantile_over_merged_models() {
        let mut t = TargetStore::new("t", StoreLimits::default());
        let hist = |model: &str, id: u64, k: f64| CanonicalSample {
            signal: Signal::LatencySeconds,
            model: model.into(),
            series_id: id,
            value: CanonicalValue::Histogram {
                buckets: vec![
                    (0.1, 1.0 * k),
                    (0.5, 3.0 * k),
                    (1.0, 4.0 * k),
                    (f64::INFINITY, 4.0 * k),
                ],
                sum: k,
                count: 4.0 * k,
            },
        };
        // Two models with identical shapes: merged quantile equals each one's.
        for step in 0..=8 {
            let time = 15.0 * step as f64;
            let k = step as f64;
            t.ingest(time, &[hist("a", 1, k), hist("b", 2, 2.0 * k)]);
        }
        let merged = t
            .quantile(0.5, Signal::LatencySeconds, None, 120.0, 60.0)
            .unwrap();
        let only_a = t
            .quantile(0.5, Signal::LatencySeconds, Some(&["a"]), 120.0, 60.0)
            .unwrap();
        assert!((merged - 0.3).abs() < 1e-9, "{merged}");
        assert!((only_a - 0.3).abs() < 1e-9, "{only_a}");
        let heat = t
            .heatmap(Signal::LatencySeconds, None, 60.0, 120.0, 4)
            .unwrap();
        // Each 15 s column: a adds (1,2,1,0), b adds twice that.
        assert_eq!(heat.cells[3], vec![3.0, 6.0, 3.0, 0.0]);
    }
}
