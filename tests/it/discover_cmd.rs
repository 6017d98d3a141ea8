//! `llmtop discover` against fake servers on loopback ports the test picks: a gateway's metrics,
//! one that needs a key, an OpenAI-compatible API with no /metrics, an Ollama, one that hangs and
//! one that is not an LLM server at all.
use std::process::Command;

use crate::common::{fixture, serve};
use std::time::{Duration, Instant};

/// `llmtop discover ARGS` with no config file, logging to a file.
fn discover(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_llmtop"))
        .arg("discover")
        .args(args)
        .env_remove("LLMTOP_CONFIG")
        .env(
            "LLMTOP_LOG_FILE",
            std::env::temp_dir().join("llmtop-discover.log"),
        )
        .output()
        .expect("run llmtop")
}

#[test]
fn discovery_fingerprints_each_server_and_finishes_in_time() {
    let vllm = serve(|path| match path {
        "/metrics" => Some((200, fixture("vllm"))),
        _ => Some((404, String::new())),
    });
    let litellm_locked = serve(|path| match path {
        "/metrics" => Some((401, "{\"error\":\"Authentication Error\"}".into())),
        _ => Some((404, String::new())),
    });
    let openai_api = serve(|path| match path {
        "/v1/models" => Some((
            200,
            r#"{"object":"list","data":[{"id":"qwen2.5-7b","object":"model"}]}"#.into(),
        )),
        _ => Some((404, String::new())),
    });
    let ollama = serve(|path| match path {
        "/api/version" => Some((200, r#"{"version":"0.12.3"}"#.into())),
        "/api/tags" => Some((200, r#"{"models":[{"name":"llama3.2:3b"}]}"#.into())),
        _ => Some((404, String::new())),
    });
    let hangs = serve(|_| None);
    let node_exporter = serve(|path| match path {
        "/metrics" => Some((200, "# TYPE node_load1 gauge\nnode_load1 0.25\n".into())),
        _ => Some((404, "not found".into())),
    });
    let ports = [
        vllm,
        litellm_locked,
        openai_api,
        ollama,
        hangs,
        node_exporter,
    ]
    .map(|p| p.to_string())
    .join(",");
    let started = Instant::now();
    let out = discover(&[
        "--discover-ports",
        &ports,
        "--no-listening",
        "--format",
        "json",
    ]);
    let wall = started.elapsed();
    assert!(out.status.success(), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The hanging server is cut off by the 300 ms request limit, well inside the 2 s bound.
    assert!(j["elapsed_ms"].as_u64().unwrap() <= 2000, "{j}");
    assert!(wall < Duration::from_secs(10), "{wall:?}");
    let found = j["found"].as_array().unwrap();
    let at = |port: u16| {
        found
            .iter()
            .find(|f| f["url"].as_str().unwrap().contains(&format!(":{port}")))
    };
    let v = at(vllm).unwrap_or_else(|| panic!("{j}"));
    assert_eq!(v["kind"], "metrics");
    assert_eq!(v["dialect"], "vllm");
    assert_eq!(v["url"], format!("http://127.0.0.1:{vllm}/metrics"));
    assert!(!v["models"].as_array().unwrap().is_empty(), "{v}");
    let locked = at(litellm_locked).unwrap();
    assert_eq!(locked["kind"], "needs_auth");
    assert!(
        locked["note"]
            .as_str()
            .unwrap()
            .contains("LITELLM_MASTER_KEY")
    );
    let api = at(openai_api).unwrap();
    assert_eq!(api["kind"], "probe_only");
    assert_eq!(api["models"][0], "qwen2.5-7b");
    let o = at(ollama).unwrap();
    assert_eq!(o["server"], "Ollama 0.12.3");
    assert_eq!(o["models"][0], "llama3.2:3b");
    assert!(at(hangs).is_none() && at(node_exporter).is_none(), "{j}");
    let tried = j["tried"].as_array().unwrap();
    let outcome = |port: u16| {
        tried
            .iter()
            .find(|t| t["address"] == format!("127.0.0.1:{port}"))
            .map(|t| t["outcome"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(outcome(hangs), "did not answer in time");
    assert!(outcome(node_exporter).contains("no LLM dialect"), "{j}");
    assert_eq!(tried.len(), 6, "each port once, no listening sockets: {j}");
}

#[test]
fn nothing_found_says_what_was_tried_and_offers_the_demo() {
    let port = {
        // A port that was free a moment ago: nothing listens there.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = discover(&["--discover-ports", &port.to_string(), "--no-listening"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("no LLM server found (1 addresses tried"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("nothing listening"), "{text}");
    assert!(text.contains("llmtop --demo"), "{text}");
    let out = discover(&["--discover-host", "10.0.0.0/8"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a range"));
}
