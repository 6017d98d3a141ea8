//! Finding the LLM servers on this machine: the well-known ports and paths of the gateways and
//! engines llmtop reads, plus the ports of local listening sockets, probed concurrently and
//! briefly, each answer fingerprinted (the dialect of its `/metrics`, else the server behind an
//! OpenAI-compatible or Ollama API). Only the hosts given are probed; never a network range.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::base::dialect::{self, ALL_MODELS, Dialect};

/// The ports the servers llmtop reads listen on by default, and who listens there.
pub const WELL_KNOWN_PORTS: &[(u16, &str)] = &[
    (4000, "LiteLLM"),
    (8000, "vLLM, NIM, TensorRT-LLM"),
    (30000, "SGLang"),
    (8080, "TGI, llama.cpp"),
    (3000, "TGI"),
    (8002, "Triton"),
    (11434, "Ollama"),
    (8100, "Kong status"),
    (9901, "Envoy admin (Envoy AI Gateway)"),
];

/// Where the servers put their Prometheus exposition, tried in this order.
const METRICS_PATHS: &[&str] = &[
    "/metrics",
    "/v1/metrics",
    "/prometheus/metrics",
    "/stats/prometheus",
];

/// How hard discovery may try.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    pub hosts: Vec<String>,
    /// The ports to try on every host (the well-known ones by default).
    pub ports: Vec<u16>,
    /// Also try the ports of sockets listening on this machine (`/proc/net/tcp`), for loopback
    /// hosts.
    pub listening: bool,
    /// Each request's limit.
    pub per_request: Duration,
    /// The whole discovery's limit: what has not answered by then is reported as not answering.
    pub overall: Duration,
    pub max_in_flight: usize,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            hosts: vec!["127.0.0.1".into()],
            ports: WELL_KNOWN_PORTS.iter().map(|(p, _)| *p).collect(),
            listening: true,
            per_request: Duration::from_millis(300),
            overall: Duration::from_secs(2),
            max_in_flight: 16,
        }
    }
}

/// What an endpoint turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundKind {
    /// A Prometheus exposition a dialect reads: attach to it.
    Metrics,
    /// `/metrics` answered 401 or 403: attach with a credential.
    NeedsAuth,
    /// An LLM API without a usable `/metrics`: probes only (`--probe-every`).
    ProbeOnly,
}

/// One LLM server found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// What to give llmtop: the metrics URL, or the API base for probe-only servers.
    pub url: String,
    pub kind: FoundKind,
    /// The dialect its families match (metrics), if any.
    pub dialect: Option<String>,
    /// Models it reports (from the exposition or `/v1/models`), at most 20.
    pub models: Vec<String>,
    /// The server, where it says (Ollama's version, a `Server` header).
    pub server: Option<String>,
    /// What to do with it, in words.
    pub note: String,
}

impl Found {
    /// What it is in one line, models included: `vllm metrics · llama-3.1-8b`.
    pub fn summary(&self) -> String {
        let what = match self.kind {
            FoundKind::Metrics => format!(
                "{} metrics",
                self.dialect.as_deref().unwrap_or("Prometheus")
            ),
            FoundKind::NeedsAuth => {
                "metrics need a key (LITELLM_MASTER_KEY or --bearer-token-env)".into()
            }
            FoundKind::ProbeOnly => format!(
                "{}, no /metrics: probes only",
                self.server.as_deref().unwrap_or("LLM API")
            ),
        };
        if self.models.is_empty() {
            what
        } else {
            format!("{what} · {}", self.models.join(", "))
        }
    }
}

/// One host:port tried and what it said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tried {
    pub address: String,
    /// Why it was tried: the well-known server, or "listening socket".
    pub because: String,
    pub outcome: String,
}

/// Everything discovery did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    pub found: Vec<Found>,
    pub tried: Vec<Tried>,
    pub elapsed_ms: u64,
}

/// Probes every host on every port (and the local listening ones), at most `max_in_flight` at
/// once, within `overall`.
pub async fn discover(options: &DiscoverOptions, dialects: &[Dialect]) -> Discovery {
    let started = Instant::now();
    let client = match reqwest::Client::builder()
        .user_agent(concat!("llmtop/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(options.per_request)
        .connect_timeout(options.per_request)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Discovery {
                found: Vec::new(),
                tried: vec![Tried {
                    address: "-".into(),
                    because: "-".into(),
                    outcome: format!("cannot build an HTTP client: {e}"),
                }],
                elapsed_ms: 0,
            };
        }
    };
    let targets = candidates(options);
    let dialects: Arc<Vec<Dialect>> = Arc::new(dialects.to_vec());
    let gate = Arc::new(tokio::sync::Semaphore::new(options.max_in_flight.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, (host, port, because)) in targets.iter().cloned().enumerate() {
        let (client, dialects, gate) = (client.clone(), dialects.clone(), gate.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (
                i,
                probe_port(&client, &host, port, &dialects).await,
                because,
            )
        });
    }
    let mut results: Vec<Option<(Option<Found>, String)>> = vec![None; targets.len()];
    let deadline = tokio::time::Instant::now() + options.overall;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, set.join_next()).await {
        if let Ok((i, outcome, _)) = joined {
            results[i] = Some(outcome);
        }
    }
    set.abort_all();
    let mut found = Vec::new();
    let mut tried = Vec::new();
    for ((host, port, because), result) in targets.into_iter().zip(results) {
        let outcome = match result {
            Some((f, outcome)) => {
                found.extend(f);
                outcome
            }
            None => format!("no answer within {} s", options.overall.as_secs_f64()),
        };
        tried.push(Tried {
            address: format!("{host}:{port}"),
            because,
            outcome,
        });
    }
    Discovery {
        found,
        tried,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// Every host × port to try, once each, with why.
fn candidates(options: &DiscoverOptions) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for host in &options.hosts {
        let mut ports: Vec<(u16, String)> = options
            .ports
            .iter()
            .map(|p| {
                let who = WELL_KNOWN_PORTS
                    .iter()
                    .find(|(q, _)| q == p)
                    .map_or("asked for", |(_, w)| w);
                (*p, who.to_string())
            })
            .collect();
        if options.listening && is_loopback(host) {
            ports.extend(
                listening_ports()
                    .into_iter()
                    .map(|p| (p, "listening socket".to_string())),
            );
        }
        for (port, because) in ports {
            if seen.insert((host.clone(), port)) {
                out.push((host.clone(), port, because));
            }
        }
    }
    out
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]")
}

/// At most this many listening sockets are tried, the lowest ports first.
const MAX_LISTENING: usize = 64;

/// TCP ports in LISTEN state on a loopback or wildcard address, from `/proc/net/tcp` and
/// `/proc/net/tcp6` (no root needed); none where those files do not exist.
pub fn listening_ports() -> Vec<u16> {
    let mut ports = BTreeSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            ports.extend(parse_listening(&text));
        }
    }
    ports.into_iter().take(MAX_LISTENING).collect()
}

/// The LISTEN sockets of one `/proc/net/tcp{,6}` table bound to loopback or every address.
fn parse_listening(table: &str) -> Vec<u16> {
    const LISTEN: &str = "0A";
    let reachable = |ip: &str| {
        ip.chars().all(|c| c == '0')              // 0.0.0.0 or ::
            || ip == "0100007F"                   // 127.0.0.1
            || ip == "00000000000000000000000001000000" // ::1
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            let (ip, port) = local.split_once(':')?;
            (state == LISTEN && reachable(ip))
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}

/// One host:port: its metrics paths, then the APIs that say what it is.
async fn probe_port(
    client: &reqwest::Client,
    host: &str,
    port: u16,
    dialects: &[Dialect],
) -> (Option<Found>, String) {
    let base = if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };
    let mut answered_http = false;
    for path in METRICS_PATHS {
        let url = format!("{base}{path}");
        let response = match client.get(&url).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return (None, "did not answer in time".into());
            }
            Err(e) if e.is_connect() => return (None, "nothing listening".into()),
            Err(_) => return (None, "not an HTTP server".into()),
        };
        answered_http = true;
        let server = header(&response, "server");
        match response.status().as_u16() {
            401 | 403 => {
                return (
                    Some(Found {
                        url,
                        kind: FoundKind::NeedsAuth,
                        dialect: None,
                        models: Vec::new(),
                        server,
                        note: "metrics need a key: --bearer-token-env VAR (LiteLLM: LITELLM_MASTER_KEY)"
                            .into(),
                    }),
                    "metrics need a key".into(),
                );
            }
            200 => {
                let Ok(body) = response.text().await else {
                    continue;
                };
                let exposition = crate::base::exposition::parse(&body);
                if exposition.samples.is_empty() {
                    continue;
                }
                let Some(d) = dialect::detect(dialects, &exposition) else {
                    return (
                        None,
                        format!("Prometheus metrics at {path}, but no LLM dialect matches"),
                    );
                };
                let models = models_of(d, &exposition);
                let note = format!("attach: llmtop {url}");
                return (
                    Some(Found {
                        url,
                        kind: FoundKind::Metrics,
                        dialect: Some(d.name.clone()),
                        models,
                        server,
                        note,
                    }),
                    format!("{} metrics at {path}", d.name),
                );
            }
            _ => continue,
        }
    }
    if !answered_http {
        return (None, "not an HTTP server".into());
    }
    match api_fingerprint(client, &base).await {
        Some(found) => {
            let outcome = format!(
                "{} without /metrics",
                found.server.as_deref().unwrap_or("an LLM API")
            );
            (Some(found), outcome)
        }
        None => (None, "HTTP, but not an LLM server".into()),
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(60).collect())
}

/// The models a scrape names, as the dialect reads them.
fn models_of(d: &Dialect, exposition: &crate::base::exposition::Exposition<'_>) -> Vec<String> {
    let mapped = d.map(exposition, "target");
    let models: BTreeSet<String> = mapped
        .samples
        .iter()
        .filter(|s| !s.signal.is_upstream() && !s.signal.is_budget())
        .map(|s| s.model.clone())
        .filter(|m| m != ALL_MODELS && m != "target")
        .collect();
    models.into_iter().take(20).collect()
}

/// A server with no usable `/metrics`: Ollama (`/api/version`) or any OpenAI-compatible API
/// (`/v1/models`).
async fn api_fingerprint(client: &reqwest::Client, base: &str) -> Option<Found> {
    let get_json = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let r = client.get(&url).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.json::<serde_json::Value>().await.ok()
        }
    };
    if let Some(version) = get_json("/api/version").await
        && let Some(v) = version.get("version").and_then(|v| v.as_str())
    {
        let models = get_json("/api/tags")
            .await
            .and_then(|t| {
                t.get("models")?.as_array().map(|ms| {
                    ms.iter()
                        .filter_map(|m| m.get("name")?.as_str().map(str::to_string))
                        .take(20)
                        .collect()
                })
            })
            .unwrap_or_default();
        return Some(Found {
            url: base.to_string(),
            kind: FoundKind::ProbeOnly,
            dialect: None,
            models,
            server: Some(format!("Ollama {v}")),
            note: format!("no Prometheus metrics: probe it, llmtop {base} --probe-every 10s"),
        });
    }
    let listed = get_json("/v1/models").await?;
    let data = listed.get("data")?.as_array()?;
    let models = data
        .iter()
        .filter_map(|m| m.get("id")?.as_str().map(str::to_string))
        .take(20)
        .collect();
    Some(Found {
        url: base.to_string(),
        kind: FoundKind::ProbeOnly,
        dialect: None,
        models,
        server: Some("OpenAI-compatible API".into()),
        note: format!("no /metrics: probe it, llmtop {base} --probe-every 10s"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_on_loopback_or_every_address_only() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0FA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0A00020F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0100007F:0FA1 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
";
        // 4000 on 127.0.0.1 and 8080 on 0.0.0.0 listen; 8000 on 10.2.0.15 is not loopback;
        // 4001 is an established connection.
        assert_eq!(parse_listening(tcp), [4000, 8080]);
        let tcp6 =
            "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:7530 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000000000000:2B66 00000000000000000000000000000000:0000 0A 0
";
        assert_eq!(parse_listening(tcp6), [30000, 11110]);
        assert!(parse_listening("garbage\nline without fields\n").is_empty());
    }

    #[test]
    fn each_host_and_port_is_tried_once_and_only_the_hosts_given() {
        let options = DiscoverOptions {
            hosts: vec!["10.0.0.5".into(), "10.0.0.5".into()],
            ports: vec![4000, 4000, 9],
            listening: true,
            ..DiscoverOptions::default()
        };
        let c = candidates(&options);
        assert_eq!(
            c,
            [
                ("10.0.0.5".to_string(), 4000, "LiteLLM".to_string()),
                ("10.0.0.5".to_string(), 9, "asked for".to_string()),
            ],
            "a remote host gets no listening-socket ports"
        );
    }
}
