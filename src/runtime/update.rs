//! The channel message: everything a source task can tell the session that owns the stores. The
//! producers below never name it; the runtime wraps what they send.
use crate::io::probe::{ProbeEvent, ProbeResult};
use crate::io::source::scrape::ScrapeOutcome;
use crate::runtime::fleet::FleetUpdate;

/// Everything a source can tell the store's owner.
#[derive(Debug)]
pub enum Update {
    /// One scrape of target `target` finished (successfully or not).
    Scrape {
        target: usize,
        outcome: ScrapeOutcome,
    },
    /// A probe streamed some text.
    ProbeProgress(ProbeEvent),
    /// A probe finished.
    ProbeDone(Box<ProbeResult>),
    /// One request of a burst (or of `llmtop bench --tui`) finished.
    BurstDone(Box<ProbeResult>),
    /// `llmtop bench --tui`: the run ended (its count or duration reached, or stopped).
    BenchFinished,
    /// The gateway's model list arrived (or could not be fetched).
    ModelsListed(Result<Vec<String>, String>),
    /// A fleet source's refresh or synchronized scrape (fleet mode).
    Fleet(FleetUpdate),
}
