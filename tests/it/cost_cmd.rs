//! `llmtop cost` and `llmtop prices` as users run them: the real binary, a stated volume priced
//! from the seed's flat prices, and observed traffic from the built-in demo gateway over loopback.
use std::process::{Command, Output};

fn llmtop(args: &[&str]) -> Output {
    let log = std::env::temp_dir().join(format!("llmtop-cost-{}.log", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .args(args)
        .env("LLMTOP_LOG_FILE", log)
        .env_remove("LLMTOP_URL")
        .env_remove("LLMTOP_CONFIG")
        .output()
        .expect("run llmtop")
}

fn seed_prices() -> String {
    format!(
        "{}/tests/fixtures/prices/seed_flat.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn row<'a>(json: &'a serde_json::Value, model: &str) -> &'a serde_json::Value {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no row {model}: {json}"))
}

fn close(v: &serde_json::Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

/// The seed's table, exactly: 10 M tokens a month at its flat prices.
#[test]
fn the_seeds_comparison_table_from_its_flat_prices() {
    let models = "deepseek-v3.2,gpt-4o,claude-3-5-sonnet";
    let config = seed_prices();
    let base = [
        "cost", "--tokens", "10M", "--models", models, "--config", &config,
    ];
    let out = llmtop(&[&base[..], &["--baseline", "gpt-4o"]].concat());
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = "\
10.0M tokens a month (7.5M input, 0 cached, 2.5M output) · baseline gpt-4o
model                provider   $/month  $/MTok  × baseline  savings   savings $/month  price as of
  deepseek-v3.2      deepseek   $4.20    $0.42   0.05×       94.75 %   $75.80           undated (possibly stale)
  gpt-4o             openai     $80.00   $8.00   1.00×       0.00 %    $0.00            undated (possibly stale)
  claude-3-5-sonnet  anthropic  $150.00  $15.00  1.88×       -87.50 %  −$70.00          undated (possibly stale)
";
    assert_eq!(text, want);

    let out = llmtop(
        &[
            &base[..],
            &["--baseline", "claude-3-5-sonnet", "--format", "json"],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{out:?}");
    let j = json(&out);
    assert_eq!(j["baseline"], "claude-3-5-sonnet");
    assert_eq!(j["volume"]["period"], "month");
    assert!(close(&j["volume"]["input_tokens"], 7.5e6));
    let deepseek = row(&j, "deepseek-v3.2");
    assert!(close(&deepseek["usd"], 4.20), "{deepseek}");
    assert!(close(&deepseek["usd_per_month"], 4.20));
    assert!(close(&deepseek["savings_percent"], 97.2), "{deepseek}");
    assert!(close(&deepseek["usd_per_mtok_blended"], 0.42));
    assert!(close(&row(&j, "gpt-4o")["usd"], 80.0));
    assert!(close(
        &row(&j, "claude-3-5-sonnet")["ratio_to_baseline"],
        1.0
    ));
    // The contract's names, on every row.
    for r in j["rows"].as_array().unwrap() {
        for field in [
            "model",
            "provider",
            "usd",
            "usd_per_month",
            "usd_per_mtok_blended",
            "ratio_to_baseline",
            "savings_percent",
            "price_as_of",
            "price_source",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
    }
    // With equal input and output prices the split does not matter.
    let out = llmtop(&[&base[..], &["--input-share", "0.1", "--format", "json"]].concat());
    let j = json(&out);
    assert!(close(&row(&j, "claude-3-5-sonnet")["usd"], 150.0));
    // Without --baseline a stated volume is compared with the first of --models.
    assert_eq!(j["baseline"], "deepseek-v3.2");
}

/// 1 M tokens a day moved from GPT-4o to DeepSeek: 30 × ($8 − $0.42) = $227.40 a month.
#[test]
fn the_seeds_roi_line_per_day() {
    let config = seed_prices();
    let out = llmtop(&[
        "cost",
        "--tokens",
        "1M",
        "--per",
        "day",
        "--models",
        "deepseek-v3.2,gpt-4o",
        "--baseline",
        "gpt-4o",
        "--config",
        &config,
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], llmtop::front::report::COST_CSV_HEADER);
    assert!(
        lines[1].starts_with(
            "deepseek-v3.2,deepseek,false,0.42,0.017499999999999998,12.6,0.42,0.0525,94.75,227.4,"
        ),
        "{text}"
    );
}

/// Bad requests say what is wrong and exit non-zero: an unknown baseline, a bad volume.
#[test]
fn a_bad_baseline_or_volume_is_refused_with_the_reason() {
    let config = seed_prices();
    let out = llmtop(&[
        "cost",
        "--tokens",
        "10M",
        "--baseline",
        "gpt-9",
        "--config",
        &config,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("baseline \"gpt-9\" is not among the rows"),
        "{err}"
    );
    let out = llmtop(&["cost", "--tokens", "ten"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("token count"));
    let out = llmtop(&["cost", "--tokens", "1M", "--input-share", "1.5"]);
    assert!(!out.status.success());
    // A model the table does not know is a row with no price and a reason, not an error.
    let out = llmtop(&[
        "cost",
        "--tokens",
        "1M",
        "--models",
        "gpt-4o,nonesuch-7b",
        "--config",
        &config,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let j = json(&out);
    let none = row(&j, "nonesuch-7b");
    assert!(none["usd"].is_null(), "{none}");
    assert!(
        none["reason"].as_str().unwrap().contains("no price"),
        "{none}"
    );
}

/// Observed traffic from the demo gateway over loopback: a current-mix row, every other model
/// priced on the same tokens, and the moves of each source model.
#[test]
fn the_demo_traffic_repriced_against_its_current_mix() {
    let out = llmtop(&[
        "cost",
        "--demo",
        "--for",
        "3s",
        "--models",
        "gpt-4o,deepseek-v3.2",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let j = json(&out);
    assert_eq!(j["baseline"], "current mix");
    assert_eq!(j["volume"]["period"], "window");
    assert!(close(&j["volume"]["seconds"], 3.0));
    let sources = j["volume"]["sources"].as_array().unwrap();
    assert!(sources.iter().any(|s| s["model"] == "deepseek-chat"), "{j}");
    let current = row(&j, "current mix");
    assert_eq!(current["current"], true);
    assert!(close(&current["ratio_to_baseline"], 1.0), "{current}");
    // The same tokens on GPT-4o cost more than the demo's mostly-DeepSeek mix.
    let gpt = row(&j, "gpt-4o");
    assert!(gpt["savings_percent"].as_f64().unwrap() < 0.0, "{gpt}");
    assert!(gpt["usd"].as_f64().unwrap() > current["usd"].as_f64().unwrap());
    // Rows are cheapest first per month.
    let months: Vec<f64> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["usd_per_month"].as_f64().unwrap())
        .collect();
    assert!(months.windows(2).all(|w| w[0] <= w[1]), "{months:?}");
    assert!(!j["moves"].as_array().unwrap().is_empty(), "{j}");
    // `--only` prices one source model's traffic (deepseek-chat: the demo's busiest model, so
    // a short, loaded run has it too).
    let out = llmtop(&[
        "cost",
        "--demo",
        "--for",
        "3s",
        "--only",
        "deepseek-chat",
        "--models",
        "deepseek-v3.2",
        "--format",
        "json",
    ]);
    let j = json(&out);
    let sources = j["volume"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{j}");
    assert_eq!(sources[0]["model"], "deepseek-chat");
}

/// `llmtop prices` lists the table in force, filtered, with each row's staleness.
#[test]
fn prices_lists_the_table_filtered_by_name() {
    let out = llmtop(&["prices", "gpt-4o", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let j = json(&out);
    let rows = j.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"gpt-4o") && names.contains(&"gpt-4o-mini"),
        "{names:?}"
    );
    assert!(names.iter().all(|n| n.contains("gpt-4o")), "{names:?}");
    let gpt = rows.iter().find(|r| r["model"] == "gpt-4o").unwrap();
    assert!(gpt["possibly_stale"].is_boolean());
    assert!(gpt["source"].as_str().unwrap().starts_with("https://"));
    let config = seed_prices();
    let out = llmtop(&["prices", "claude-3-5", "--config", &config]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("claude-3-5-sonnet  anthropic  $15.00")),
        "{text}"
    );
    let out = llmtop(&["prices", "no-such-model"]);
    assert!(!out.status.success());
}

/// A `[budget]` in the config file: `snapshot` lists it with when it runs out at the demo's
/// pace; a budget that is not a positive amount stops start-up with the reason.
#[test]
fn a_config_budget_is_in_the_snapshot_with_its_outlook() {
    let dir = std::env::temp_dir().join(format!("llmtop-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[budget]\nmonthly_usd = 1\n\n[budget.models]\n\"deepseek-chat\" = 1000000\n",
    )
    .unwrap();
    let config = config.to_string_lossy().to_string();
    let out = llmtop(&["snapshot", "--demo", "--for", "3s", "--config", &config]);
    assert!(out.status.success(), "{out:?}");
    let j = json(&out);
    let budgets = j["budgets"].as_array().unwrap();
    let monthly = budgets
        .iter()
        .find(|b| b["scope"] == "monthly")
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(monthly["max_usd"], 1.0);
    // The demo burns dollars an hour: one dollar a month is gone in the first hours of it.
    assert!(monthly["runs_out_at"].is_string(), "{monthly}");
    let deepseek = budgets.iter().find(|b| b["scope"] == "model").unwrap();
    assert_eq!(deepseek["name"], "deepseek-chat");
    assert!(
        deepseek["runs_out_at"].is_null(),
        "a million lasts the month: {deepseek}"
    );
    for field in ["scope", "name", "remaining_usd", "max_usd", "runs_out_at"] {
        assert!(monthly.get(field).is_some(), "{field}");
    }
    std::fs::write(dir.join("bad.toml"), "[budget]\nmonthly_usd = -5\n").unwrap();
    let bad = dir.join("bad.toml").to_string_lossy().to_string();
    let out = llmtop(&["snapshot", "--demo", "--for", "1s", "--config", &bad]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("monthly_usd"));
}
