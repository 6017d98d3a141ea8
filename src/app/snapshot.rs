//! `llmtop snapshot`: collect for a while (or read a recording), then print one summary in the
//! format asked for.
use std::path::Path;
use std::time::Duration;

use crate::app::cli::{SnapshotArgs, SnapshotFormat};
use crate::front::report;
use crate::io::config::Config;
use crate::runtime::replay::Replay;
use crate::runtime::session::Session;
use crate::runtime::update::Update;

/// Collects for `--for`, then prints one summary.
pub async fn snapshot(args: &SnapshotArgs) -> anyhow::Result<()> {
    let snap = collect(
        &args.target,
        args.from.as_deref(),
        args.at.as_deref(),
        args.collect_for,
    )
    .await?;
    write_snapshot(args, &snap)
}

/// The snapshot of a target collected for `collect_for`, or of the window of a recording
/// (`from`) ending at `at`: what `snapshot` prints and `cost` re-prices.
pub async fn collect(
    target: &crate::app::cli::TargetArgs,
    from: Option<&Path>,
    at: Option<&str>,
    collect_for: Duration,
) -> anyhow::Result<report::Snapshot> {
    // clap's `requires` lets `--demo --at` through; a live snapshot has no past to go to.
    anyhow::ensure!(
        at.is_none() || from.is_some(),
        "--at needs --from FILE (a live snapshot always ends now)"
    );
    let config = Config::load(target.config.as_deref())?.with_redaction_flags(
        target.redact.redact_labels.as_deref(),
        target.redact.redact_mode,
    );
    let mut snap = gather(target, from, at, collect_for, &config).await?;
    with_config_budgets(&mut snap, &config);
    Ok(snap)
}

/// The config file's `[budget]` beside the gateway's, at the snapshot's pace (its totals), as
/// of its newest sample.
fn with_config_budgets(snap: &mut report::Snapshot, config: &Config) {
    if config.budget.is_empty() {
        return;
    }
    let at = snap
        .at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(crate::base::clock::unix_now, |t| t.timestamp() as f64);
    let pace_of = |model: &str| {
        snap.models
            .iter()
            .find(|m| m.model == model)
            .and_then(|m| m.figures.cost_usd_per_hour)
    };
    let mine = crate::model::budget::config_budgets(
        &config.budget,
        snap.totals.cost_usd_per_hour,
        pace_of,
        at,
    );
    snap.budgets.extend(mine);
    crate::model::budget::sort_soonest_first(&mut snap.budgets);
}

async fn gather(
    target: &crate::app::cli::TargetArgs,
    from: Option<&Path>,
    at: Option<&str>,
    collect_for: Duration,
    config: &Config,
) -> anyhow::Result<report::Snapshot> {
    if let Some(path) = from {
        return snapshot_from(path, at.unwrap_or("end"), collect_for.as_secs_f64(), config);
    }
    let mut session = Session::new(&target.into(), config).await?;
    if let Some(fleet) = session.fleet.take() {
        let snap = fleet_snapshot(&mut session, fleet, collect_for).await;
        session.shutdown().await;
        return snap;
    }
    session.start_sources();
    let deadline = tokio::time::Instant::now() + collect_for;
    // The first scrape happens at once; the last one lands at or just before the deadline.
    loop {
        match tokio::time::timeout_at(deadline + Duration::from_millis(50), session.updates.recv())
            .await
        {
            Ok(Some(Update::Scrape { outcome, .. })) => session.apply_scrape(outcome),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    let shown = crate::base::secret::display_url(&session.target.url);
    let snap = report::snapshot(
        &session.store,
        &session.prices,
        &shown,
        collect_for.as_secs_f64(),
        session.notices.clone(),
    );
    session.shutdown().await;
    Ok(snap)
}

/// Fleet mode's snapshot. Several direct targets: scraped together for `--for`, like one
/// target. Prometheus: it already holds the history, so one refresh asks for the last `--for`
/// at once (no waiting), every figure over that whole window.
async fn fleet_snapshot(
    session: &mut Session,
    fleet: crate::runtime::fleet::FleetMode,
    collect_for: Duration,
) -> anyhow::Result<report::Snapshot> {
    use crate::runtime::fleet::{FleetMode, FleetUpdate};
    let window = collect_for.as_secs_f64();
    // Dashboard-only notices (where the probe keys go) stay out: a snapshot sends no probe.
    let notices = session.notices.clone();
    match fleet {
        FleetMode::Prometheus {
            source,
            dialect_override,
            ..
        } => {
            let target = crate::base::secret::display_url(&source.client.config().base);
            let request = crate::runtime::fleet::prom::FleetRequest {
                window,
                columns: 60,
                model_filter: None,
                drill: None,
            };
            let now = crate::base::clock::unix_now();
            let view = match source
                .detect_dialect(&session.dialects, dialect_override.as_deref())
                .await
            {
                Ok(d) => {
                    source
                        .refresh_over(d, &session.prices, &request, now, window.max(1.0))
                        .await
                        .view
                }
                Err(e) => anyhow::bail!("{target}: {e}"),
            };
            let mut snap = report::prometheus_snapshot(&view, &target, window, notices);
            snap.cost_comparison = report::cost_comparison(&view.traffic, &session.prices);
            Ok(snap)
        }
        FleetMode::Direct {
            mut fleet,
            interval,
            drill,
        } => {
            let direct = FleetMode::Direct {
                fleet: fleet.clone(),
                interval,
                drill,
            };
            direct.start(
                session.client.clone(),
                session.dialects.clone(),
                session.prices.clone(),
                session.updates_tx.clone(),
                Update::Fleet,
            );
            let deadline = tokio::time::Instant::now() + collect_for;
            loop {
                match tokio::time::timeout_at(
                    deadline + Duration::from_millis(50),
                    session.updates.recv(),
                )
                .await
                {
                    Ok(Some(Update::Fleet(FleetUpdate::Scrape(tick)))) => fleet.apply(*tick),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            Ok(report::fleet_snapshot(
                &fleet,
                &session.prices,
                window,
                notices,
            ))
        }
    }
}

/// Prints or saves a snapshot in the format asked for.
fn write_snapshot(args: &SnapshotArgs, snap: &report::Snapshot) -> anyhow::Result<()> {
    let text = match args.format {
        SnapshotFormat::Json => format!("{}\n", serde_json::to_string_pretty(snap)?),
        SnapshotFormat::Csv => report::to_csv(snap),
        SnapshotFormat::Table => report::to_table(snap),
        SnapshotFormat::InstancesCsv => report::to_instances_csv(snap),
        SnapshotFormat::UpstreamsCsv => report::to_upstreams_csv(snap),
    };
    crate::app::write_output(args.output.as_deref(), &text)
}

/// `llmtop snapshot --from FILE --at TIME --for W`: the snapshot of the window ending at TIME.
fn snapshot_from(
    path: &Path,
    at: &str,
    window_seconds: f64,
    config: &Config,
) -> anyhow::Result<crate::front::report::Snapshot> {
    let mut replay = Replay::open(path, config)?;
    let (start, end) = (replay.overview.start, replay.overview.end);
    let t = crate::runtime::replay::parse_at(at, start, end)?;
    replay.seek(t)?;
    let mut warnings = replay.session.notices.clone();
    if t < start || t > end {
        warnings.push(format!(
            "--at lies outside the recording ({} to {})",
            crate::base::clock::rfc3339(start),
            crate::base::clock::rfc3339(end)
        ));
    }
    let session = &replay.session;
    Ok(crate::front::report::snapshot(
        &session.store,
        &session.prices,
        session.target.url.as_str(),
        window_seconds,
        warnings,
    ))
}
