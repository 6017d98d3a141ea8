//! Several direct targets (`llmtop URL1 URL2 …`): each scraped into its own store, plus one
//! aggregate store fed by every target's raw series at the same tick.
//!
//! The aggregate follows each target's raw counters and bucket counters on their own (a series'
//! identity includes the target) and adds their reset-corrected increments, so its rate is the
//! sum of the targets' rates and its histograms are merged bucket by bucket — quantiles are
//! computed from the merged buckets, never averaged.
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::base::clock::unix_now;
use crate::base::dialect::Dialect;
use crate::base::pricing::PriceTable;
use crate::base::signal::{CanonicalSample, Signal};
use crate::io::source::scrape::{self, ScrapeOutcome, ScrapeTarget};
use crate::model::store::{StoreLimits, TargetStore};
use crate::model::view::{DashboardView, ViewParams};

use crate::model::table::{FleetInfo, InstanceRow};

/// The per-target stores and their aggregate.
#[derive(Debug, Clone)]
pub struct DirectFleet {
    pub targets: Vec<ScrapeTarget>,
    pub stores: Vec<TargetStore>,
    pub aggregate: TargetStore,
    /// Each target's detected dialect, kept between scrapes.
    pub sticky: Vec<Option<String>>,
    pub dialects: Arc<Vec<Dialect>>,
}

/// One tick's scrapes of every target, in target order.
#[derive(Debug, Clone)]
pub struct FleetScrape {
    pub time: f64,
    pub outcomes: Vec<ScrapeOutcome>,
}

/// Scrapes every target at once (each bounded by its own timeout).
pub async fn scrape_all(
    client: &reqwest::Client,
    targets: &[ScrapeTarget],
    dialects: &[Dialect],
    sticky: &mut [Option<String>],
) -> FleetScrape {
    let time = unix_now();
    let futures = targets
        .iter()
        .zip(sticky.iter_mut())
        .map(|(t, s)| scrape::scrape_once(client, t, dialects, s));
    let outcomes = futures_util::future::join_all(futures).await;
    FleetScrape { time, outcomes }
}

/// A raw series' identity within the aggregate: its own identity and its target's.
fn fleet_series_id(target: usize, series_id: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.hash(&mut h);
    series_id.hash(&mut h);
    h.finish()
}

impl DirectFleet {
    pub fn new(
        targets: Vec<ScrapeTarget>,
        dialects: Arc<Vec<Dialect>>,
        limits: StoreLimits,
    ) -> Self {
        let stores = targets
            .iter()
            .map(|t| TargetStore::new(t.name.clone(), limits))
            .collect();
        let sticky = targets.iter().map(|t| t.dialect_override.clone()).collect();
        // The aggregate follows every target's raw series, so its series cap scales with them.
        let aggregate_limits = StoreLimits {
            max_series: limits.max_series.saturating_mul(targets.len().max(1)),
            ..limits
        };
        Self {
            stores,
            aggregate: TargetStore::new("fleet", aggregate_limits),
            targets,
            sticky,
            dialects,
        }
    }

    fn reports_failures(&self, dialect: Option<&String>) -> bool {
        dialect
            .and_then(|name| self.dialects.iter().find(|d| &d.name == name))
            .is_some_and(|d| d.provides(Signal::RequestsFailed))
    }

    /// Applies one tick: each target's store gets its own scrape, the aggregate every
    /// successful target's samples at the tick's time.
    pub fn apply(&mut self, tick: FleetScrape) {
        let mut merged: Vec<CanonicalSample> = Vec::new();
        let mut described = std::collections::BTreeMap::new();
        let mut dialect = None;
        for (i, outcome) in tick.outcomes.into_iter().enumerate() {
            let Some(store) = self.stores.get_mut(i) else {
                continue;
            };
            match outcome {
                ScrapeOutcome::Ok(data) => {
                    // Stamped with the tick, like the aggregate, so a row and the total are
                    // evaluated over the same samples.
                    if !scrape::apply_scrape(store, &self.dialects, &data, tick.time) {
                        continue;
                    }
                    let d = store.health.dialect.clone();
                    dialect = dialect.or(d);
                    described.extend(data.descriptions.clone());
                    merged.extend(data.samples.into_iter().map(|mut s| {
                        s.series_id = fleet_series_id(i, s.series_id);
                        s
                    }));
                }
                ScrapeOutcome::Failed { time, error } => store.record_failure(time, error),
            }
        }
        if dialect.is_none() && merged.is_empty() {
            // Every target down: the aggregate keeps its last numbers and turns stale.
            let errors = self.errors();
            self.aggregate.record_failure(
                tick.time,
                errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "no target answered".into()),
            );
            return;
        }
        let reports = self.reports_failures(dialect.as_ref());
        let health = &mut self.aggregate.health;
        health.dialect = dialect.or(health.dialect.take());
        health.reports_failures = reports;
        self.aggregate.ingest(tick.time, &merged);
        self.aggregate.describe(&described);
    }

    /// Each down target's error, named.
    pub fn errors(&self) -> Vec<String> {
        self.stores
            .iter()
            .filter_map(|s| {
                s.health
                    .last_error
                    .as_ref()
                    .map(|e| format!("{}: {e}", s.name))
            })
            .collect()
    }

    /// The dashboard view: the aggregate (or one drilled target) with the instance table.
    pub fn view(
        &self,
        prices: &PriceTable,
        params: &ViewParams<'_>,
        drill: Option<&str>,
    ) -> DashboardView {
        let drilled = drill.and_then(|name| self.stores.iter().find(|s| s.name == name));
        let store = drilled.unwrap_or(&self.aggregate);
        let mut view = DashboardView::compute(store, prices, params);
        let eval_t = self.aggregate.latest_time();
        let now_range = crate::model::stats::now_range(params.interval).min(params.window);
        let instances = self
            .stores
            .iter()
            .map(|s| InstanceRow {
                instance: s.name.clone(),
                figures: eval_t
                    .map(|t| crate::model::stats::figures(s, prices, None, t, now_range))
                    .unwrap_or_default(),
                down: s.health.last_error.is_some(),
            })
            .collect();
        let errors = self.errors();
        if drilled.is_none() {
            // One down target must not make the whole fleet look stale; its row says so.
            view.status.last_error = self.aggregate.health.last_error.clone();
            view.status.target = format!("{} targets", self.stores.len());
        }
        view.fleet = Some(FleetInfo {
            instance_label: "target".to_string(),
            instances,
            drilled: drilled.map(|s| s.name.clone()),
            errors,
            queries_per_refresh: 0,
        });
        crate::model::view::show_instances(&mut view);
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> ScrapeTarget {
        ScrapeTarget {
            url: url::Url::parse(&format!("http://{name}/metrics")).unwrap(),
            name: name.to_string(),
            headers: Default::default(),
            interval: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(1),
            max_body_bytes: 1 << 20,
            dialect_override: None,
            auth_hint: String::new(),
            redactor: None,
        }
    }

    /// Each target's store keeps the same books as a one-gateway session's (they share
    /// `scrape::apply_scrape`): bad bytes, rejected histograms, skipped lines, the dialect.
    #[test]
    fn a_targets_store_keeps_the_sessions_books() {
        let dialects = Arc::new(crate::base::dialect::builtin());
        let mut fleet = DirectFleet::new(
            vec![target("a:1"), target("b:1")],
            dialects,
            StoreLimits::default(),
        );
        let data = |dialect: Option<&str>| {
            Box::new(scrape::ScrapeData {
                time: 10.0,
                dialect: dialect.map(str::to_string),
                samples: Vec::new(),
                families: 3,
                skipped_lines: 2,
                first_skipped: Some("bad line".into()),
                rejected_histograms: 1,
                descriptions: Default::default(),
                bytes: 4,
                duration: std::time::Duration::from_millis(1),
                body: bytes::Bytes::from_static(b"\xff\xfe ok"),
                series: 5,
                heaviest_families: Vec::new(),
            })
        };
        fleet.apply(FleetScrape {
            time: 11.0,
            outcomes: vec![
                ScrapeOutcome::Ok(data(Some("seed"))),
                ScrapeOutcome::Ok(data(None)),
            ],
        });
        let a = &fleet.stores[0].health;
        assert!(a.invalid_utf8);
        assert_eq!(a.rejected_histograms, 1);
        assert_eq!(a.skipped_lines_total, 2);
        assert_eq!(a.dialect.as_deref(), Some("seed"));
        assert!(a.last_error.is_none());
        let b = &fleet.stores[1].health;
        assert_eq!(
            b.last_error.as_deref(),
            Some("no known dialect among 3 metric families: pass --dialect NAME")
        );
    }
}
