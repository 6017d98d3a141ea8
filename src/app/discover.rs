//! `llmtop discover`: the LLM servers on this machine (or the hosts given), what each is and how
//! to attach to it.
use crate::app::cli::{DiscoverArgs, DiscoverFormat};
use crate::io::config::Config;
use crate::io::discover::{self, Discovery};

pub async fn run(args: &DiscoverArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let options = args.flags.options()?;
    let found = discover::discover(&options, &config.all_dialects()).await;
    match args.format {
        DiscoverFormat::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        DiscoverFormat::Table => print!("{}", table(&found)),
    }
    // Scripts can tell "nothing here" from a list: exit 1, after the list of what was tried.
    anyhow::ensure!(!found.found.is_empty(), "no LLM server found");
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
        out.push_str(&format!(
            "  {:<40} {}\n      {}\n",
            f.url,
            f.summary(),
            f.note
        ));
    }
    out
}
