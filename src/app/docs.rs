//! `llmtop completions SHELL` and `llmtop man`: what the binary says about itself.

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
