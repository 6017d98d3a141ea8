//! `llmtop discover`: the LLM servers on this machine (or the hosts given), what each is and how
//! to attach to it.
use crate::app::cli::{DiscoverArgs, DiscoverFormat};
use crate::io::config::Config;
use crate::io::discover::{self, Discovery, FoundKind};

pub async fn run(args: &DiscoverArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let options = args.flags.options()?;
    let found = discover::discover(&options, &config.all_dialects()).await;
    match args.format {
        DiscoverFormat::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        DiscoverFormat::Table => print!("{}", table(&found)),
    }
    // Scripts can tell "nothing here" from a list.
    if found.found.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// One line per server found; when none is, every address tried and why it was not one.
pub fn table(d: &Discovery) -> String {
    let mut out = String::new();
    let seconds = d.elapsed_ms as f64 / 1000.0;
    if d.found.is_empty() {
        out.push_str(&format!(
            "no LLM server found ({} addresses tried in {seconds:.2} s):\n",
            d.tried.len()
        ));
        for t in &d.tried {
            out.push_str(&format!(
                "  {:<22} {:<32} {}\n",
                t.address, t.because, t.outcome
            ));
        }
        out.push_str("try the built-in simulated gateway: llmtop --demo\n");
        return out;
    }
    out.push_str(&format!(
        "found {} in {seconds:.2} s ({} addresses tried):\n",
        d.found.len(),
        d.tried.len()
    ));
    for f in &d.found {
        let what = match f.kind {
            FoundKind::Metrics => f.dialect.clone().unwrap_or_default(),
            FoundKind::NeedsAuth => "needs a key".to_string(),
            FoundKind::ProbeOnly => f.server.clone().unwrap_or_else(|| "LLM API".into()),
        };
        let models = if f.models.is_empty() {
            String::new()
        } else {
            format!(" [{}]", f.models.join(", "))
        };
        out.push_str(&format!(
            "  {:<40} {what}{models}\n      {}\n",
            f.url, f.note
        ));
    }
    out
}
