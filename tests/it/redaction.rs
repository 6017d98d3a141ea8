//! `--redact-labels` through the real binary: a LiteLLM capture with a user, an email-shaped
//! alias, a client IP and a user agent, served on loopback; what `snapshot` prints, what
//! `--record` writes (redacted by default, with a note in the header) and what a replay shows.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use llmtop::io::record::{self, Record};

use crate::common::{fixture, serve};

fn llmtop(args: &[&str]) -> Output {
    let log = std::env::temp_dir().join(format!("llmtop-redact-{}.log", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(args)
        .env("LLMTOP_LOG_FILE", log)
        .env_remove("LLMTOP_URL")
        .env_remove("LLMTOP_CONFIG")
        .env_remove("LLMTOP_REDACT_LABELS")
        .env_remove("LLMTOP_REDACT_MODE")
        .output()
        .expect("run llmtop")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llmtop-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// The budget capture: user `alice` has a budget, and every request series carries her name,
/// `client_ip="10.42.0.17"` and a user agent.
fn litellm() -> String {
    let port = serve(|_| Some((200, fixture("litellm_budget"))));
    format!("http://127.0.0.1:{port}/metrics")
}

fn snapshot(url: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["snapshot", url, "--for", "1s", "--format", "json"];
    args.extend_from_slice(extra);
    let out = llmtop(&args);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (text, json)
}

fn user_budget(json: &serde_json::Value) -> String {
    json["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["scope"] == "user")
        .unwrap_or_else(|| panic!("no user budget: {json}"))["name"]
        .as_str()
        .unwrap()
        .to_string()
}

fn scrape_bodies(path: &Path) -> (record::Header, Vec<String>) {
    let mut header = None;
    let mut bodies = Vec::new();
    for r in record::open(path).unwrap() {
        match r {
            Record::Header(h) => header = header.or(Some(h)),
            Record::Scrape(s) => bodies.push(s.body.to_string()),
            _ => {}
        }
    }
    (header.expect("a header"), bodies)
}

/// Without the flag the user's name is there (so the next assertions can fail); with it, the
/// budget is keyed by `anon-` and ten hex digits and her name is nowhere in the output.
#[test]
fn the_flag_hashes_a_users_name_everywhere_in_a_snapshot() {
    let url = litellm();
    let (_, plain) = snapshot(&url, &[]);
    assert_eq!(user_budget(&plain), "alice");

    let (text, redacted) = snapshot(&url, &["--redact-labels", "user,team_alias"]);
    let name = user_budget(&redacted);
    assert!(name.starts_with("anon-") && name.len() == 15, "{name}");
    assert!(!text.contains("alice"), "{text}");
    assert!(
        !text.contains("\"search\""),
        "team_alias is listed too: {text}"
    );
    // The budget's figures are untouched: redaction renames, it never loses a value.
    let b = redacted["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["scope"] == "user")
        .unwrap();
    assert_eq!(b["remaining_usd"], 12.5);
    assert_eq!(b["max_usd"], 20.0);
    let others = |j: &serde_json::Value| -> Vec<(String, String, serde_json::Value)> {
        j["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["scope"] != "user" && b["scope"] != "team")
            .map(|b| {
                let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
                (s("scope"), s("name"), b["remaining_usd"].clone())
            })
            .collect()
    };
    assert_eq!(
        others(&redacted),
        others(&plain),
        "unlisted labels are kept"
    );
    assert_eq!(others(&plain).len(), 4, "{plain}");

    let bad = llmtop(&[
        "snapshot",
        &url,
        "--for",
        "1s",
        "--redact-labels",
        "user-name",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--redact-labels"),
        "{bad:?}"
    );
}

/// `--record` redacts the default personal-data labels with no flag at all, says so in the
/// header, keeps the other labels, and a snapshot from the file shows the same hashed name;
/// `--redact-labels none` records the body as scraped.
#[test]
fn a_recording_is_redacted_by_default_and_says_so() {
    let url = litellm();
    let file = temp("default.llmrec");
    let f = file.to_str().unwrap();
    let (_, live) = snapshot(&url, &["--record", f]);
    let (header, bodies) = scrape_bodies(&file);
    assert!(!bodies.is_empty());
    for body in &bodies {
        // As label values: the capture's header comment names them in prose, which stays.
        for secret in [
            "alice",
            "10.42.0.17",
            "OpenAI/Python 1.99.9",
            "prod-backend",
        ] {
            assert!(
                !body.contains(&format!("=\"{secret}\"")),
                "{secret} recorded"
            );
        }
        assert!(body.contains("team_alias=\"search\""), "other labels stay");
        assert!(body.contains("user=\"anon-"));
    }
    let note = header.redaction.expect("the header names the redaction");
    assert_eq!(note.mode, "hash");
    for label in ["user", "end_user", "*email*", "client_ip", "user_agent"] {
        assert!(note.labels.iter().any(|l| l == label), "{label}");
    }
    assert!(note.note.contains("--redact-labels none"));

    let hashed = user_budget(&live);
    assert!(
        hashed.starts_with("anon-"),
        "the live view matches the file: {hashed}"
    );
    let out = llmtop(&["snapshot", "--from", f, "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user_budget(&replayed), hashed);

    let raw = temp("raw.llmrec");
    let r = raw.to_str().unwrap();
    snapshot(&url, &["--record", r, "--redact-labels", "none"]);
    let (header, bodies) = scrape_bodies(&raw);
    assert!(header.redaction.is_none());
    assert!(bodies.iter().all(|b| b.contains("user=\"alice\"")));

    // A raw recording can still be shown redacted: replay applies the command's list.
    let out = llmtop(&[
        "snapshot",
        "--from",
        r,
        "--format",
        "json",
        "--redact-labels",
        "user",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("alice"));
}

/// The config file's `[redact]` list in drop mode: the label goes, so the user budget keeps its
/// figures under an empty name (as Prometheus reads a missing label), and nothing else changes.
#[test]
fn the_config_files_list_drops_labels() {
    let url = litellm();
    let config = temp("config.toml");
    std::fs::write(&config, "[redact]\nlabels = [\"user\"]\nmode = \"drop\"\n").unwrap();
    let c = config.to_str().unwrap();
    let (text, json) = snapshot(&url, &["--config", c]);
    assert!(!text.contains("alice"), "{text}");
    assert_eq!(user_budget(&json), "");
    let user = json["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["scope"] == "user")
        .unwrap();
    assert_eq!(user["remaining_usd"], 12.5);
    assert!(
        json["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["scope"] == "team")
    );
    std::fs::write(&config, "[redact]\nlabels = [\"user\"]\nmode = \"shred\"\n").unwrap();
    let out = llmtop(&["snapshot", &url, "--for", "1s", "--config", c]);
    assert!(!out.status.success());
}
