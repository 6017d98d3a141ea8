//! `GET {api_base}/v1/models`: the model ids a gateway offers, for the model picker and for
//! hinting at the right name when a probe asks for an unknown one.
use std::time::Duration;

use reqwest::header::ACCEPT;
use serde_json::Value;

use super::{AUTH_HINT, describe, redacted_url, sse};
use crate::base::secret::Secret;

/// Model lists are small (OpenRouter's, the largest known, is a few hundred KiB).
const MAX_BODY: usize = 8 * 1024 * 1024;
/// More ids than anyone can pick from; the rest are dropped.
const MAX_MODELS: usize = 10_000;
/// Longer "ids" are garbage, not model names.
const MAX_ID_CHARS: usize = 256;
const MAX_MESSAGE_CHARS: usize = 300;

/// `{api_base}/v1/models`, accepting the same base forms as the chat client
/// (origin, trailing `/`, `/v1`, a path prefix, or even the chat completions URL).
pub fn models_url(api_base: &url::Url) -> Result<url::Url, String> {
    if !matches!(api_base.scheme(), "http" | "https") || api_base.cannot_be_a_base() {
        return Err(format!(
            "api base {} is not an http(s) URL",
            redacted_url(api_base)
        ));
    }
    let mut url = api_base.clone();
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/chat/completions").unwrap_or(path);
    let path = path.strip_suffix("/models").unwrap_or(path);
    let path = if path.ends_with("/v1") {
        format!("{path}/models")
    } else {
        format!("{path}/v1/models")
    };
    url.set_path(&path);
    Ok(url)
}

/// Lists the gateway's model ids in the order it sends them, without duplicates.
///
/// Every error is one sentence fit for a status line; it never contains the key.
pub async fn list_models(
    client: &reqwest::Client,
    api_base: &url::Url,
    api_key: Option<&Secret>,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let key = api_key.filter(|k| !k.expose().is_empty());
    let scrub_key = |text: String| match key {
        Some(k) if text.contains(k.expose()) => text.replace(k.expose(), "<redacted>"),
        _ => text,
    };
    let url = models_url(api_base)?;
    let shown = redacted_url(&url);
    let fetch = async {
        let mut builder = client.get(url.clone()).header(ACCEPT, "application/json");
        if let Some(key) = key {
            builder = builder.bearer_auth(key.expose());
        }
        let mut response = builder.send().await.map_err(|e| {
            let what = if e.is_connect() {
                "cannot connect to"
            } else {
                "request failed to"
            };
            format!("{what} {shown}: {}", describe(e))
        })?;
        let status = response.status();
        let mut body = Vec::new();
        let mut broken = None;
        loop {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    body.extend_from_slice(&bytes);
                    if body.len() > MAX_BODY {
                        return Err(format!(
                            "the model list at {shown} is larger than {} MiB",
                            MAX_BODY / (1024 * 1024)
                        ));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    broken = Some(describe(e));
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&body);
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let said = json
                .as_ref()
                .and_then(sse::error_message)
                .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
            let said = sse::truncate_chars(said.trim(), MAX_MESSAGE_CHARS).to_string();
            let code = status.as_u16();
            if matches!(code, 401 | 403) {
                let verdict = if key.is_some() {
                    "gateway rejected the API key"
                } else {
                    "gateway requires an API key"
                };
                return Err(format!(
                    "{verdict} ({code}): {AUTH_HINT} (gateway said: {said})"
                ));
            }
            let said = if said.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_string()
            } else {
                said
            };
            return Err(format!("HTTP {code} from {shown}: {said}"));
        }
        if let Some(cause) = broken {
            return Err(format!("the model list from {shown} broke off: {cause}"));
        }
        match json.as_ref().map(model_ids) {
            Some(Some(ids)) => Ok(ids),
            _ => Err(format!(
                "{shown} did not answer with an OpenAI model list: {}",
                sse::truncate_chars(
                    &text.split_whitespace().collect::<Vec<_>>().join(" "),
                    MAX_MESSAGE_CHARS
                )
            )),
        }
    };
    match tokio::time::timeout(timeout, fetch).await {
        Ok(result) => result.map_err(scrub_key),
        Err(_) => Err(format!(
            "listing models at {shown} timed out after {timeout:?}"
        )),
    }
}

/// The ids of an OpenAI list (`{"object":"list","data":[{"id":...}]}`); a bare array of
/// model objects or of strings is accepted too. `None` when the shape is something else.
pub fn model_ids(value: &Value) -> Option<Vec<String>> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => map.get("data")?.as_array()?,
        _ => return None,
    };
    let mut ids: Vec<String> = Vec::new();
    for item in items {
        let id = match item {
            Value::String(s) => s.as_str(),
            Value::Object(m) => match m.get("id").and_then(Value::as_str) {
                Some(id) => id,
                None => continue,
            },
            _ => continue,
        };
        let id = id.trim();
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS || ids.iter().any(|x| x == id) {
            continue;
        }
        ids.push(id.to_string());
        if ids.len() >= MAX_MODELS {
            break;
        }
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse/litellm_models.json"
    ));
    const CANARY: &str = "sk-canary-DO-NOT-LEAK-123";
    const BUDGET: Duration = Duration::from_secs(10);

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn base(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    /// Answers every connection with `status` and `body`; returns the base URL and the
    /// request heads it saw.
    async fn serve(status: u16, body: &'static str) -> (url::Url, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = base(&format!("http://{}", listener.local_addr().unwrap()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (url, seen)
    }

    #[test]
    fn models_url_accepts_every_base_form() {
        for b in [
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/",
            "http://127.0.0.1:4000/v1",
            "http://127.0.0.1:4000/v1/",
            "http://127.0.0.1:4000/v1/models",
            "http://127.0.0.1:4000/v1/chat/completions",
        ] {
            assert_eq!(
                models_url(&base(b)).unwrap().as_str(),
                "http://127.0.0.1:4000/v1/models",
                "{b}"
            );
        }
        assert_eq!(
            models_url(&base("https://gw.example/proxy"))
                .unwrap()
                .as_str(),
            "https://gw.example/proxy/v1/models"
        );
        assert!(models_url(&base("ftp://gw.example/")).is_err());
    }

    #[test]
    fn model_ids_reads_list_shapes_and_rejects_others() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(
            model_ids(&fixture),
            Some(vec!["deepseek-chat".to_string(), "gpt-4o".to_string()])
        );
        let bare =
            serde_json::json!([{"id": "a"}, "b", {"id": " a "}, {"name": "x"}, 3, {"id": ""}]);
        assert_eq!(
            model_ids(&bare),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(model_ids(&serde_json::json!({"models": []})), None);
        assert_eq!(model_ids(&serde_json::json!("gpt-4o")), None);
    }

    #[tokio::test]
    async fn lists_the_litellm_fixture_and_sends_the_key() {
        let (url, seen) = serve(200, FIXTURE).await;
        let key = Secret::new("sk-test-key");
        let ids = tokio::time::timeout(BUDGET, list_models(&client(), &url, Some(&key), BUDGET))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids, ["deepseek-chat", "gpt-4o"]);
        let head = seen.lock().unwrap()[0].clone();
        assert!(head.starts_with("GET /v1/models HTTP/1.1\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: bearer sk-test-key"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn errors_name_the_fix_and_never_the_key() {
        let (url, _) = serve(
            401,
            r#"{"error":{"message":"Invalid key sk-canary-DO-NOT-LEAK-123","type":"auth"}}"#,
        )
        .await;
        let key = Secret::new(CANARY);
        let err = list_models(&client(), &url, Some(&key), BUDGET)
            .await
            .unwrap_err();
        assert!(err.contains("LLMTOP_API_KEY"), "{err}");
        assert!(err.contains("Invalid key <redacted>"), "{err}");
        assert!(!err.contains(CANARY), "{err}");

        let (url, _) = serve(502, "<html>bad gateway</html>").await;
        let err = list_models(&client(), &url, None, BUDGET)
            .await
            .unwrap_err();
        assert!(err.starts_with("HTTP 502 from http://127.0.0.1:"), "{err}");
        assert!(err.ends_with("<html>bad gateway</html>"), "{err}");

        let (url, _) = serve(200, r#"{"object":"list"}"#).await;
        let err = list_models(&client(), &url, None, BUDGET)
            .await
            .unwrap_err();
        assert!(
            err.contains("did not answer with an OpenAI model list"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unreachable_and_silent_gateways_fail_in_time() {
        // A port that was free a moment ago: connection refused.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = base(&format!("http://127.0.0.1:{port}"));
        let err = list_models(&client(), &url, None, BUDGET)
            .await
            .unwrap_err();
        assert!(err.starts_with("cannot connect to"), "{err}");

        // Accepts and never answers: the timeout bounds the call.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = base(&format!("http://{}", listener.local_addr().unwrap()));
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let started = std::time::Instant::now();
        let err = list_models(&client(), &url, None, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.contains("timed out after 200ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        hold.abort();
    }

    #[tokio::test]
    async fn lists_the_demo_gateway_catalog() {
        let config = crate::io::demo::DemoConfig {
            seed: Some(1),
            traffic: false,
            latency_scale: 0.0,
            ..crate::io::demo::DemoConfig::default()
        };
        let gw = crate::io::demo::spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), config)
            .await
            .unwrap();
        let url = base(&format!("{}/v1", gw.base_url()));
        let ids = list_models(&client(), &url, None, BUDGET).await.unwrap();
        assert_eq!(ids, crate::io::demo::MODEL_IDS);
        gw.shutdown().await;
    }
}
