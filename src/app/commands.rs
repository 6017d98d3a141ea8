//! The headless commands: `llmtop demo` (the simulated gateway alone) and `llmtop snapshot`.
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::app::cli::{DemoArgs, SnapshotArgs, SnapshotFormat};
use crate::io::demo::{self, DemoConfig};
use crate::front::report;
use crate::runtime::session::Session;
use crate::runtime::update::Update;

/// Runs the demo gateway in the foreground until Ctrl-C or SIGTERM.
pub async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    if args.list_scenarios {
        let mut out = std::io::stdout();
        let _ = out.write_all(demo::scenario::list().as_bytes());
        let _ = out.flush();
        return Ok(());
    }
    let config = DemoConfig {
        seed: args.seed,
        traffic: !args.no_traffic,
        ..DemoConfig::default()
    };
    let gateway =
        demo::spawn_with_scenarios(SocketAddr::new(args.bind, args.port), config, args.scenario)
            .await?;
    let base = gateway.base_url();
    // A closed stdout (a script that read the first line and left) must not stop the gateway.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "llmtop demo gateway listening on {base}");
    let _ = writeln!(out, "  metrics:          {base}/metrics");
    let _ = writeln!(out, "  chat completions: {base}/v1/chat/completions");
    let _ = writeln!(out, "  models:           {base}/v1/models");
    if !args.scenario.is_empty() {
        let _ = writeln!(out, "  fault scenario:   {}", args.scenario);
    }
    let _ = writeln!(out, "Ctrl-C stops it.");
    let _ = out.flush();
    wait_for_shutdown_signal().await;
    gateway.shutdown().await;
    Ok(())
}

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes a completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = <crate::app::cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "llmtop", &mut std::io::stdout());
    Ok(())
}

/// Writes the man page.
pub fn man() -> anyhow::Result<()> {
    let command = <crate::app::cli::Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
    Ok(())
}

/// Collects for `--for`, then prints one summary.
pub async fn snapshot(args: &SnapshotArgs) -> anyhow::Result<()> {
    // clap's `requires` lets `--demo --at` through; a live snapshot has no past to go to.
    anyhow::ensure!(
        args.at.is_none() || args.from.is_some(),
        "--at needs --from FILE (a live snapshot always ends now)"
    );
    if let Some(path) = &args.from {
        let snap = crate::io::record::snapshot_from(
            path,
            args.at.as_deref().unwrap_or("end"),
            args.collect_for.as_secs_f64(),
            args.target.config.as_deref(),
        )?;
        return write_snapshot(args, &snap);
    }
    let mut session = Session::new(&args.target).await?;
    if let Some(fleet) = session.fleet.take() {
        let snap = fleet_snapshot(&mut session, fleet, args).await?;
        write_snapshot(args, &snap)?;
        session.shutdown().await;
        return Ok(());
    }
    session.start_sources();
    let deadline = tokio::time::Instant::now() + args.collect_for;
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
    let target = crate::base::secret::display_url(&session.target.url);
    let snap = report::snapshot(
        &session.store,
        &session.prices,
        &target,
        args.collect_for.as_secs_f64(),
        session.notices.clone(),
    );
    write_snapshot(args, &snap)?;
    session.shutdown().await;
    Ok(())
}

/// Fleet mode's snapshot. Several direct targets: scraped together for `--for`, like one
/// target. Prometheus: it already holds the history, so one refresh asks for the last `--for`
/// at once (no waiting), every figure over that whole window.
async fn fleet_snapshot(
    session: &mut Session,
    fleet: crate::runtime::fleet::FleetMode,
    args: &SnapshotArgs,
) -> anyhow::Result<report::Snapshot> {
    use crate::runtime::fleet::{FleetMode, FleetUpdate};
    let window = args.collect_for.as_secs_f64();
    // The probe keys' notice is about the dashboard; a snapshot sends no probe.
    let notices: Vec<String> = session
        .notices
        .iter()
        .filter(|n| n.as_str() != crate::runtime::fleet::PROBE_NOTICE)
        .cloned()
        .collect();
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
            Ok(report::prometheus_snapshot(&view, &target, window, notices))
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
            );
            let deadline = tokio::time::Instant::now() + args.collect_for;
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
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => {
            let mut out = std::io::stdout();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
