//! What the binary tells people about itself: `--help` (pinned), shell completions and the man page.
use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(args)
        .output()
        .expect("run llmtop");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn help_is_pinned() {
    // A fixed width keeps the wrapping independent of the terminal running the tests.
    let out = Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .arg("--help")
        // Help shows the current value of every LLMTOP_* variable: run with none set.
        .env_clear()
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    crate::common::assert_snapshot("cli_docs__help", &String::from_utf8_lossy(&out.stdout));
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run(&["completions", shell]);
        assert!(script.contains("llmtop"), "{shell}");
        assert!(
            script.contains("probe-every"),
            "{shell} completes the flags"
        );
    }
}

#[test]
fn man_page_renders() {
    let page = run(&["man"]);
    assert!(page.contains(".TH llmtop 1"), "{page}");
    assert!(
        page.contains("probe\\-every") || page.contains("probe-every"),
        "{page}"
    );
}

#[test]
fn theme_items_print_without_a_target() {
    let items = run(&["--print-theme-items"]);
    assert_eq!(
        items.lines().count(),
        llmtop::front::tui::theme::ITEMS.len()
    );
    assert!(items.lines().any(|l| l == "heat_6"));
}
