//! `llmtop demo`: the simulated gateway alone, in the foreground.
use std::io::Write;
use std::net::SocketAddr;

use crate::app::cli::DemoArgs;
use crate::io::demo::{self, DemoConfig};

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
        capacity: args.capacity.map(|concurrent| demo::Capacity {
            concurrent,
            service: args.service_time,
        }),
        ..DemoConfig::default()
    };
    let capacity = config.capacity;
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
    if let Some(c) = capacity {
        let _ = writeln!(
            out,
            "  capacity:         {} at once, {} each: {:.1} requests/s at most",
            c.concurrent,
            crate::base::format::seconds(Some(c.service.as_secs_f64())),
            c.requests_per_second()
        );
    }
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
