//! The demo gateway as a real HTTP peer on 127.0.0.1: seed-dialect /metrics, OpenAI endpoints, fault injection.
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use llmtop::io::demo::{self, DemoConfig, DemoGateway, FAULT_HEADER, FAULT_KEY_HEADER, MODEL_IDS};
use serde_json::{Value, json};

const SEED_PROM: &str = include_str!("../fixtures/metrics/seed.prom");
const SEED_FAMILIES: [&str; 5] = [
    "deepseek_requests",
    "deepseek_request_latency_seconds",
    "deepseek_tokens",
    "deepseek_active_requests",
    "deepseek_cache_hit_ratio",
];
const TTFT_FAMILY: &str = "deepseek_time_to_first_token_seconds";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Traffic off and no artificial latency unless a test needs it: exact counts, fast runs.
async fn quiet_gateway() -> DemoGateway {
    gateway(false, 0.0).await
}

async fn gateway(traffic: bool, latency_scale: f64) -> DemoGateway {
    let config = DemoConfig {
        seed: Some(7),
        traffic,
        latency_scale,
        ..DemoConfig::default()
    };
    demo::spawn(loopback(), config)
        .await
        .expect("demo gateway starts")
}

fn client() -> reqwest::Client {
    // Proxies from the environment must never see loopback test traffic.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

async fn scrape(c: &reqwest::Client, gw: &DemoGateway) -> (String, String) {
    let resp = c
        .get(format!("{}/metrics", gw.base_url()))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (ctype, resp.text().await.expect("metrics body"))
}

async fn metrics(c: &reqwest::Client, gw: &DemoGateway) -> String {
    scrape(c, gw).await.1
}

/// Series (name plus label set, as printed) → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line has a value");
            (
                series.to_owned(),
                value.parse().expect("sample value parses"),
            )
        })
        .collect()
}

fn value(text: &str, series: &str) -> f64 {
    samples(text).get(series).copied().unwrap_or(0.0)
}

fn requests(model: &str, status: &str) -> String {
    format!("deepseek_requests_total{{model=\"{model}\",status=\"{status}\"}}")
}

fn tokens(model: &str, kind: &str) -> String {
    format!("deepseek_tokens_total{{model=\"{model}\",type=\"{kind}\"}}")
}

fn header_lines<'a>(text: &'a str, kind: &str) -> BTreeSet<&'a str> {
    text.lines().filter(|l| l.starts_with(kind)).collect()
}

fn chat(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello to the dashboard"}],
    })
}

async fn post(
    c: &reqwest::Client,
    gw: &DemoGateway,
    body: &Value,
    fault: Option<&str>,
) -> reqwest::Response {
    let mut req = c
        .post(format!("{}/v1/chat/completions", gw.base_url()))
        .bearer_auth("sk-demo")
        .json(body);
    if let Some(fault) = fault {
        req = req.header(FAULT_HEADER, fault);
    }
    req.send().await.expect("chat request")
}

#[derive(Debug, PartialEq)]
enum Event {
    Comment(String),
    Data(Value),
    Done,
}

fn parse_sse(body: &str) -> Vec<Event> {
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            if let Some(comment) = l.strip_prefix(':') {
                Event::Comment(comment.trim().to_owned())
            } else if let Some(data) = l.strip_prefix("data: ") {
                if data == "[DONE]" {
                    Event::Done
                } else {
                    Event::Data(serde_json::from_str(data).expect("SSE data is JSON"))
                }
            } else {
                panic!("unexpected SSE line {l:?}")
            }
        })
        .collect()
}

fn data(events: &[Event]) -> Vec<&Value> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data(v) => Some(v),
            _ => None,
        })
        .collect()
}

fn delta_text<'a>(chunk: &'a Value, field: &str) -> Option<&'a str> {
    chunk["choices"][0]["delta"][field]
        .as_str()
        .filter(|s| !s.is_empty())
}

fn finish_reasons(chunks: &[&Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .map(str::to_owned)
        .collect()
}

async fn stream_events(resp: reqwest::Response) -> Vec<Event> {
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap_or_default();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    parse_sse(&resp.text().await.expect("stream body"))
}

/// Reads a stream to its end, noting when the first non-empty `content` delta arrived.
async fn first_content_after(mut resp: reqwest::Response, started: Instant) -> Option<Duration> {
    let mut buf = String::new();
    let mut first = None;
    while let Some(bytes) = resp.chunk().await.expect("stream chunk") {
        buf.push_str(&String::from_utf8_lossy(&bytes));
        if first.is_none() {
            let found = buf
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .any(|v| delta_text(&v, "content").is_some());
            if found {
                first = Some(started.elapsed());
            }
        }
    }
    first
}

#[tokio::test]
async fn metrics_speak_the_seed_dialect() {
    let gw = gateway(true, 0.0).await;
    let c = client();
    // Fire one real request so the TTFT family has a child even if no synthetic one finished yet.
    assert_eq!(
        post(&c, &gw, &chat("gpt-4o", false), None).await.status(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let (ctype, text) = loop {
        let (ctype, text) = scrape(&c, &gw).await;
        if text.contains("deepseek_tokens_created{") || Instant::now() > deadline {
            break (ctype, text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");

    let ours_only_seed = |kind: &str| -> BTreeSet<&str> {
        header_lines(&text, kind)
            .into_iter()
            .filter(|l| !l.contains(TTFT_FAMILY))
            .collect()
    };
    assert_eq!(ours_only_seed("# TYPE"), header_lines(SEED_PROM, "# TYPE"));
    assert_eq!(ours_only_seed("# HELP"), header_lines(SEED_PROM, "# HELP"));
    for family in SEED_FAMILIES {
        assert!(text.contains(&format!(" {family}")), "{family} missing");
    }
    assert!(text.contains(&format!("# TYPE {TTFT_FAMILY} histogram\n")));
    assert!(text.contains(&format!("# TYPE {TTFT_FAMILY}_created gauge\n")));
    let ttft_help = header_lines(&text, &format!("# HELP {TTFT_FAMILY} "));
    assert!(ttft_help.iter().any(|l| l.contains("extension")));

    // prometheus_client prints every value as a Python float: `990.0`, `1.79e+09`, never `990`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let v = line.rsplit_once(' ').map(|(_, v)| v).unwrap_or_default();
        assert!(
            v == "+Inf" || v.contains('.') || v.contains("e+") || v.contains("e-"),
            "not Python-float formatted: {line}"
        );
    }
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("valid exposition");
    assert!(!parsed.samples.is_empty());

    // Histograms: the default buckets, cumulative, `+Inf` equal to `_count`; tokens add up.
    let all = samples(&text);
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5",
        "5.0", "7.5", "10.0", "+Inf",
    ];
    let mut checked = 0;
    for family in ["deepseek_request_latency_seconds", TTFT_FAMILY] {
        for model in MODEL_IDS {
            let count_key = format!("{family}_count{{model=\"{model}\"}}");
            let Some(count) = all.get(&count_key) else {
                continue;
            };
            let buckets: Vec<f64> = les
                .iter()
                .map(|le| all[&format!("{family}_bucket{{model=\"{model}\",le=\"{le}\"}}")])
                .collect();
            assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{family} {model}");
            assert_eq!(buckets.last(), Some(count));
            checked += 1;
        }
    }
    assert!(checked >= 2);
    for model in MODEL_IDS {
        assert_eq!(
            value(&text, &tokens(model, "total")),
            value(&text, &tokens(model, "prompt")) + value(&text, &tokens(model, "completion"))
        );
    }
    let ratio = value(&text, "deepseek_cache_hit_ratio");
    assert!((0.3..=0.6).contains(&ratio), "{ratio}");
    gw.shutdown().await;
}

#[tokio::test]
async fn counters_grow_between_scrapes() {
    let gw = gateway(true, 0.0).await;
    let c = client();
    let total = |s: &HashMap<String, f64>| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with("deepseek_requests_total{"))
            .map(|(_, v)| v)
            .sum()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = samples(&metrics(&c, &gw).await);
    let deadline = Instant::now() + Duration::from_secs(5);
    let second = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let s = samples(&metrics(&c, &gw).await);
        if total(&s) > total(&first) || Instant::now() > deadline {
            break s;
        }
    };
    assert!(
        total(&second) > total(&first),
        "no synthetic traffic counted"
    );
    for (series, before) in &first {
        let monotonic = series.starts_with("deepseek_requests_total")
            || series.starts_with("deepseek_tokens_total")
            || series.contains("_bucket{")
            || series.contains("_count{")
            || series.contains("_sum{");
        if monotonic {
            let after = second.get(series).copied().unwrap_or(-1.0);
            assert!(after >= *before, "{series} went from {before} to {after}");
        }
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn real_request_is_counted_exactly_once() {
    let gw = quiet_gateway().await;
    let c = client();
    let before = metrics(&c, &gw).await;
    assert_eq!(value(&before, &requests("gpt-4o", "success")), 0.0);

    let resp = post(&c, &gw, &chat("gpt-4o", false), None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("completion JSON");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    let prompt = usage["prompt_tokens"].as_f64().expect("prompt_tokens");
    let completion = usage["completion_tokens"]
        .as_f64()
        .expect("completion_tokens");
    assert_eq!(usage["total_tokens"].as_f64(), Some(prompt + completion));
    assert!(usage["prompt_tokens_details"]["cached_tokens"].is_u64());
    assert!(usage.get("prompt_cache_hit_tokens").is_none());

    let after = metrics(&c, &gw).await;
    assert_eq!(value(&after, &requests("gpt-4o", "success")), 1.0);
    assert_eq!(value(&after, &requests("gpt-4o", "error")), 0.0);
    assert_eq!(value(&after, &tokens("gpt-4o", "prompt")), prompt);
    assert_eq!(value(&after, &tokens("gpt-4o", "completion")), completion);
    assert_eq!(
        value(&after, &tokens("gpt-4o", "total")),
        prompt + completion
    );
    assert_eq!(
        value(
            &after,
            "deepseek_request_latency_seconds_count{model=\"gpt-4o\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&after, &format!("{TTFT_FAMILY}_count{{model=\"gpt-4o\"}}")),
        1.0
    );
    assert_eq!(value(&after, "deepseek_active_requests"), 0.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn streaming_has_the_openai_shape() {
    let gw = gateway(false, 0.02).await;
    let c = client();
    let mut body = chat("gpt-4o-mini", true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream_events(post(&c, &gw, &body, None).await).await;
    let chunks = data(&events);

    assert_eq!(events.last(), Some(&Event::Done));
    assert_eq!(events.iter().filter(|e| **e == Event::Done).count(), 1);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let id = &chunks[0]["id"];
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == *id)
    );
    let contents: Vec<&str> = chunks
        .iter()
        .filter_map(|c| delta_text(c, "content"))
        .collect();
    assert!(contents.len() > 1, "word-by-word deltas expected");
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let finish_pos = chunks
        .iter()
        .position(|c| c["choices"][0]["finish_reason"] == "stop")
        .expect("finish chunk");

    let usage_chunk = chunks.last().expect("usage chunk");
    assert_eq!(finish_pos, chunks.len() - 2);
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = &usage_chunk["usage"];
    assert_eq!(
        usage["completion_tokens"].as_u64(),
        Some(contents.len() as u64)
    );
    let prompt = usage["prompt_tokens"].as_u64().expect("prompt_tokens");
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(prompt + contents.len() as u64)
    );
    assert!(usage["prompt_tokens_details"]["cached_tokens"].is_u64());

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("gpt-4o-mini", "success")), 1.0);
    assert_eq!(
        value(&text, &tokens("gpt-4o-mini", "completion")),
        contents.len() as f64
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn streaming_without_include_usage_has_no_usage_chunk() {
    let gw = quiet_gateway().await;
    let c = client();
    let events = stream_events(post(&c, &gw, &chat("deepseek-chat", true), None).await).await;
    let chunks = data(&events);
    assert_eq!(events.last(), Some(&Event::Done));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(
        chunks.last().map(|c| &c["choices"][0]["finish_reason"]),
        Some(&json!("stop"))
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn slow_first_token_delays_the_first_content_chunk() {
    let gw = quiet_gateway().await;
    let c = client();

    let started = Instant::now();
    let resp = post(&c, &gw, &chat("gpt-4o", true), Some("slow_first_token=300")).await;
    let slow = first_content_after(resp, started)
        .await
        .expect("content arrives");
    assert!(slow >= Duration::from_millis(300), "{slow:?}");
    assert!(slow < Duration::from_secs(3), "{slow:?}");

    // The control proves the delay comes from the fault, not from the setup.
    let started = Instant::now();
    let resp = post(&c, &gw, &chat("gpt-4o", true), None).await;
    let fast = first_content_after(resp, started)
        .await
        .expect("content arrives");
    assert!(fast < Duration::from_millis(300), "{fast:?}");

    let text = metrics(&c, &gw).await;
    let ttft_sum = value(&text, &format!("{TTFT_FAMILY}_sum{{model=\"gpt-4o\"}}"));
    assert!(ttft_sum >= 0.3, "{ttft_sum}");
    gw.shutdown().await;
}

#[tokio::test]
async fn max_tokens_is_honoured() {
    let gw = quiet_gateway().await;
    let c = client();
    let mut body = chat("gpt-4o", false);
    body["max_tokens"] = json!(3);
    let resp: Value = post(&c, &gw, &body, None).await.json().await.expect("JSON");
    assert_eq!(resp["usage"]["completion_tokens"], 3);
    assert_eq!(resp["choices"][0]["finish_reason"], "length");

    let mut body = chat("claude-sonnet-4-5", true);
    body["max_completion_tokens"] = json!(4);
    let events = stream_events(post(&c, &gw, &body, None).await).await;
    let chunks = data(&events);
    let contents = chunks
        .iter()
        .filter(|c| delta_text(c, "content").is_some())
        .count();
    assert_eq!(contents, 4);
    assert_eq!(finish_reasons(&chunks), ["length"]);
    gw.shutdown().await;
}

#[tokio::test]
async fn rate_limit_fault_sends_retry_after() {
    let gw = quiet_gateway().await;
    let c = client();
    let resp = post(
        &c,
        &gw,
        &chat("deepseek-chat", true),
        Some("status=429;retry_after=1"),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["retry-after-ms"], "1000");
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"].is_string());

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("deepseek-chat", "error")), 1.0);
    assert_eq!(value(&text, &requests("deepseek-chat", "success")), 0.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn status_faults_return_openai_errors() {
    let gw = quiet_gateway().await;
    let c = client();
    let resp = post(&c, &gw, &chat("gpt-4o", false), Some("status=500")).await;
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "server_error");

    let resp = post(&c, &gw, &chat("gpt-4o", false), Some("status=401")).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let resp = post(&c, &gw, &chat("gpt-4o", false), Some("insufficient_quota")).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert_eq!(body["error"]["code"], "insufficient_quota");

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("gpt-4o", "error")), 3.0);
    assert_eq!(
        value(
            &text,
            "deepseek_request_latency_seconds_count{model=\"gpt-4o\"}"
        ),
        3.0
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn cut_mid_stream_ends_without_finish_or_done() {
    let gw = quiet_gateway().await;
    let c = client();
    let mut body = chat("deepseek-chat", true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream_events(post(&c, &gw, &body, Some("cut_mid_stream")).await).await;
    let chunks = data(&events);
    assert!(!events.contains(&Event::Done));
    assert!(finish_reasons(&chunks).is_empty());
    assert!(chunks.iter().any(|c| delta_text(c, "content").is_some()));
    assert!(chunks.iter().all(|c| c["usage"].is_null()));

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("deepseek-chat", "error")), 1.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn error_in_stream_sends_an_error_object_then_ends() {
    let gw = quiet_gateway().await;
    let c = client();
    let events =
        stream_events(post(&c, &gw, &chat("gpt-4o", true), Some("error_in_stream")).await).await;
    let chunks = data(&events);
    assert!(!events.contains(&Event::Done));
    let last = chunks.last().expect("some data");
    assert_eq!(last["error"]["type"], "server_error");
    assert!(last["error"]["message"].is_string());
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("error").is_none())
    );
    assert!(finish_reasons(&chunks).is_empty());

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("gpt-4o", "error")), 1.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn keepalive_comments_precede_the_first_token() {
    let gw = gateway(false, 0.05).await;
    let c = client();
    let events = stream_events(post(&c, &gw, &chat("gpt-4o", true), Some("keepalive")).await).await;
    let first_data = events
        .iter()
        .position(|e| matches!(e, Event::Data(_)))
        .expect("data");
    assert!(first_data >= 1);
    assert!(
        events[..first_data]
            .iter()
            .all(|e| *e == Event::Comment("keep-alive".into()))
    );
    assert_eq!(events.last(), Some(&Event::Done));
    gw.shutdown().await;
}

#[tokio::test]
async fn reasoning_fault_streams_reasoning_before_content() {
    let gw = quiet_gateway().await;
    let c = client();
    let mut body = chat("gpt-4o", true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream_events(post(&c, &gw, &body, Some("reasoning")).await).await;
    let chunks = data(&events);
    assert_eq!(events.last(), Some(&Event::Done));

    let reasoning: Vec<usize> = (0..chunks.len())
        .filter(|&i| delta_text(chunks[i], "reasoning_content").is_some())
        .collect();
    let content: Vec<usize> = (0..chunks.len())
        .filter(|&i| delta_text(chunks[i], "content").is_some())
        .collect();
    assert!(!reasoning.is_empty() && !content.is_empty());
    assert!(reasoning.last() < content.first());

    let usage = &chunks.last().expect("usage chunk")["usage"];
    let prompt = usage["prompt_tokens"].as_u64().expect("prompt");
    let hit = usage["prompt_cache_hit_tokens"].as_u64().expect("hit");
    let miss = usage["prompt_cache_miss_tokens"].as_u64().expect("miss");
    assert_eq!(hit + miss, prompt);
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"].as_u64(),
        Some(hit)
    );
    assert_eq!(
        usage["completion_tokens_details"]["reasoning_tokens"].as_u64(),
        Some(reasoning.len() as u64)
    );
    assert_eq!(
        usage["completion_tokens"].as_u64(),
        Some((reasoning.len() + content.len()) as u64)
    );

    // The plain answer carries the reasoning in the message, DeepSeek style.
    let resp: Value = post(&c, &gw, &chat("deepseek-reasoner", false), None)
        .await
        .json()
        .await
        .expect("JSON");
    let message = &resp["choices"][0]["message"];
    assert!(
        !message["reasoning_content"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert!(resp["usage"]["prompt_cache_miss_tokens"].is_u64());
    gw.shutdown().await;
}

#[tokio::test]
async fn fail_first_rejects_the_first_n_per_key() {
    let gw = quiet_gateway().await;
    let c = client();
    let send = |key: &'static str| {
        let c = c.clone();
        let url = format!("{}/v1/chat/completions", gw.base_url());
        async move {
            c.post(url)
                .header(FAULT_HEADER, "fail_first=2;retry_after=0.2")
                .header(FAULT_KEY_HEADER, key)
                .json(&chat("gpt-4o-mini", false))
                .send()
                .await
                .expect("chat request")
        }
    };
    let first = send("alpha").await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "1");
    assert_eq!(first.headers()["retry-after-ms"], "200");
    let body: Value = first.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(send("alpha").await.status(), 429);
    assert_eq!(send("alpha").await.status(), 200);
    assert_eq!(send("alpha").await.status(), 200);
    assert_eq!(send("beta").await.status(), 429);

    let text = metrics(&c, &gw).await;
    assert_eq!(value(&text, &requests("gpt-4o-mini", "error")), 3.0);
    assert_eq!(value(&text, &requests("gpt-4o-mini", "success")), 2.0);
    gw.shutdown().await;
}

#[tokio::test]
async fn unknown_model_is_404_and_not_counted() {
    let gw = quiet_gateway().await;
    let c = client();
    let resp = post(&c, &gw, &chat("nope-model", false), None).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("error JSON");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nope-model")
    );
    assert!(!metrics(&c, &gw).await.contains("nope-model"));
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_400_with_an_error_body() {
    let gw = quiet_gateway().await;
    let c = client();
    let url = format!("{}/v1/chat/completions", gw.base_url());
    let malformed = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"model\": \"gpt-4o\", \"messages\": [")
        .send()
        .await
        .expect("request");
    let missing_messages = c
        .post(&url)
        .json(&json!({"model": "gpt-4o"}))
        .send()
        .await
        .expect("request");
    let bad_fault = post(&c, &gw, &chat("gpt-4o", false), Some("status=42O")).await;
    let unknown_fault = post(&c, &gw, &chat("gpt-4o", false), Some("explode")).await;
    for resp in [malformed, missing_messages, bad_fault, unknown_fault] {
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.expect("error JSON");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].is_string());
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn models_lists_the_five_models() {
    let gw = quiet_gateway().await;
    let c = client();
    let body: Value = c
        .get(format!("{}/v1/models", gw.base_url()))
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("models JSON");
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().expect("data array");
    let ids: BTreeSet<&str> = data.iter().filter_map(|m| m["id"].as_str()).collect();
    let want: BTreeSet<&str> = [
        "deepseek-chat",
        "deepseek-reasoner",
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet-4-5",
    ]
    .into();
    assert_eq!(ids, want);
    assert_eq!(MODEL_IDS.into_iter().collect::<BTreeSet<_>>(), want);
    for m in data {
        assert_eq!(m["object"], "model");
        assert!(m["created"].is_u64());
        assert!(m["owned_by"].is_string());
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_stops_serving() {
    let gw = gateway(true, 1.0).await;
    let c = client();
    let base = gw.base_url();
    let pending = post(
        &c,
        &gw,
        &chat("gpt-4o", true),
        Some("slow_first_token=30000"),
    )
    .await;
    assert_eq!(pending.status(), 200);

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), gw.shutdown())
        .await
        .expect("shutdown is bounded");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The open stream ended early instead of holding the server for 30 s.
    let rest = tokio::time::timeout(Duration::from_secs(2), pending.text()).await;
    assert!(rest.is_ok());
    assert!(c.get(format!("{base}/metrics")).send().await.is_err());
}
