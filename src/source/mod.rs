//! Sources of numbers: each runs as a tokio task and sends [`Update`]s over one channel to the store's owner.
pub mod probe_feed;
pub mod scrape;

use crate::probe::{ProbeEvent, ProbeResult};

/// Everything a source can tell the store's owner.
#[derive(Debug)]
pub enum Update {
    /// One scrape of target `target` finished (successfully or not).
    Scrape {
        target: usize,
        outcome: scrape::ScrapeOutcome,
    },
    /// A probe streamed some text.
    ProbeProgress(ProbeEvent),
    /// A probe finished.
    ProbeDone(Box<ProbeResult>),
    /// One request of a burst finished.
    BurstDone(Box<ProbeResult>),
    /// The gateway's model list arrived (or could not be fetched).
    ModelsListed(Result<Vec<String>, String>),
    /// A fleet source's refresh or synchronized scrape (fleet mode).
    Fleet(crate::fleet::FleetUpdate),
}

/// Current wall-clock time as unix seconds (what every sample is stamped with).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
