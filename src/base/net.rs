//! The HTTP client every request goes through: which certificates it trusts (`--ca-cert`,
//! `--insecure`) and a redirect policy that never carries credentials to another origin.
//!
//! reqwest itself strips `Authorization`, `Cookie` and `Proxy-Authorization` on a cross-host
//! redirect, but keeps every other header, so an `X-Api-Key` or `X-Scope-OrgID` given with
//! `--header` would follow a redirect anywhere. Here reqwest follows only same-origin redirects
//! (scheme, host and port unchanged) and stops at any other; [`get_with_credentials`] follows those
//! itself without the credentials, and the probe reports them as errors.
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::header::{ACCEPT, HeaderMap, LOCATION};

/// Redirects followed for one request, same-origin and cross-origin together.
pub const MAX_REDIRECTS: usize = 5;

/// Which certificates the client trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Accept any certificate (`--insecure`): for a lab gateway with a self-signed certificate only.
    pub insecure: bool,
    /// Extra trusted CA certificates, PEM (`--ca-cert`), on top of the system's roots.
    pub ca_cert: Option<PathBuf>,
}

/// What the user sees while certificates go unchecked: on stderr, in `snapshot` warnings, on the dashboard.
pub const INSECURE_WARNING: &str = "TLS certificate verification is off (--insecure): anyone on the network path can read the credentials and fake the answers";

/// Same scheme, host and port (a missing port counts as the scheme's default).
pub fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// reqwest follows a redirect only within the origin; at any other it stops and hands the 3xx
/// response back, so no header of ours reaches another host behind our back.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // `previous` holds the first URL too: at the n-th redirect its length is n.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        match attempt.previous().last() {
            Some(previous) if same_origin(previous, attempt.url()) => attempt.follow(),
            _ => attempt.stop(),
        }
    })
}

#[derive(Debug)]
struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many redirects")
    }
}

impl std::error::Error for TooManyRedirects {}

/// The shared client: TLS verified against the system roots plus `--ca-cert`, unless `--insecure`.
/// The HTTP client with default TLS (system roots, verified).
pub fn default_client() -> anyhow::Result<reqwest::Client> {
    http_client(&TlsSettings::default())
}

pub fn http_client(tls: &TlsSettings) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("llmtop/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect_policy())
        .connect_timeout(Duration::from_secs(5));
    if let Some(path) = &tls.ca_cert {
        builder = builder.tls_certs_merge(read_ca_certs(path)?);
    }
    if tls.insecure {
        // Before the dashboard takes the screen, so it stays in the scrollback after exit too.
        eprintln!("llmtop: warning: {INSECURE_WARNING}");
        tracing::warn!("{INSECURE_WARNING}");
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().context("cannot build the HTTP client")
}

/// Every certificate of a PEM file; a file with none is an error, not an empty trust list.
pub fn read_ca_certs(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("--ca-cert: cannot read {}: {}", path.display(), e.kind()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| anyhow::anyhow!("--ca-cert {}: not a PEM certificate file", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--ca-cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
        path.display()
    );
    Ok(certs)
}

/// Why a request with credentials was not sent on.
#[derive(Debug)]
pub enum FetchError {
    Http(reqwest::Error),
    TooManyRedirects,
    /// An https URL redirected to http while credentials were still attached.
    Downgrade {
        to: String,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The innermost cause: reqwest's own text would include the full URL, query and all.
            FetchError::Http(e) => {
                let mut cause: &dyn std::error::Error = e;
                while let Some(next) = cause.source() {
                    cause = next;
                }
                write!(f, "{cause}")
            }
            FetchError::TooManyRedirects => f.write_str("too many redirects"),
            FetchError::Downgrade { to } => write!(
                f,
                "redirected from https to plain http ({to}); not following with credentials"
            ),
        }
    }
}

/// A server address as a user types it: `host:port` (http assumed) or an http(s) URL. `what`
/// names it in the errors ("target", "Prometheus"), which never quote a password typed in it.
pub fn parse_http_url(input: &str, what: &str) -> anyhow::Result<url::Url> {
    let input = input.trim();
    anyhow::ensure!(!input.is_empty(), "the {what} URL is empty");
    let with_scheme = if input.contains("://") {
        input.to_string()
    } else {
        format!("http://{input}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        anyhow::anyhow!(
            "{:?} is not a URL or host:port ({e})",
            crate::base::secret::redact_url_text(input)
        )
    })?;
    let shown = crate::base::secret::display_url(&url);
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "{shown:?}: only http and https {what} URLs work"
    );
    anyhow::ensure!(url.host_str().is_some(), "{shown:?} has no host");
    Ok(url)
}

/// `scheme://host:port` only: a redirect target may carry tokens in its path or query.
pub fn origin_text(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// GET `url` with `credentials` (auth and `--header` values). Same-origin redirects keep them;
/// a redirect to another origin is followed without any of them; https→http with them is refused.
pub async fn get_with_credentials(
    client: &reqwest::Client,
    url: &url::Url,
    credentials: &HeaderMap,
    accept: &str,
    timeout: Duration,
) -> Result<reqwest::Response, FetchError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut url = url.clone();
    let mut sending = credentials.clone();
    let mut hops = 0;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let response = client
            .get(url.clone())
            .headers(sending.clone())
            .header(ACCEPT, accept)
            .timeout(remaining)
            .send()
            .await
            .map_err(FetchError::Http)?;
        if !response.status().is_redirection() {
            return Ok(response);
        }
        let from = response.url().clone();
        // A 3xx without a usable Location (e.g. 304) is an answer for the caller to judge.
        let Some(next) = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| from.join(location).ok())
        else {
            return Ok(response);
        };
        // reqwest's own same-origin hops are capped by the policy; these are the cross-origin ones.
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Err(FetchError::TooManyRedirects);
        }
        if !sending.is_empty() && from.scheme() == "https" && next.scheme() == "http" {
            return Err(FetchError::Downgrade {
                to: origin_text(&next),
            });
        }
        if !same_origin(&from, &next) {
            tracing::info!(
                from = %origin_text(&from),
                to = %origin_text(&next),
                "redirect to another origin: following without credentials"
            );
            sending = HeaderMap::new();
        }
        url = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        assert!(same_origin(&u("http://a:80/x"), &u("http://a/y?z")));
        assert!(same_origin(&u("https://a/x"), &u("https://a:443/")));
        assert!(!same_origin(&u("http://a:8080/"), &u("http://a:8081/")));
        assert!(!same_origin(&u("https://a/"), &u("http://a/")));
        assert!(!same_origin(&u("http://a/"), &u("http://b/")));
        assert!(!same_origin(
            &u("http://a.example/"),
            &u("http://a.example.evil/")
        ));
    }

    #[test]
    fn typed_urls_get_a_scheme_and_errors_hide_the_password() {
        assert_eq!(
            parse_http_url(" gw:4000 ", "target").unwrap().as_str(),
            "http://gw:4000/"
        );
        assert_eq!(
            parse_http_url("", "Prometheus").unwrap_err().to_string(),
            "the Prometheus URL is empty"
        );
        assert_eq!(
            parse_http_url("ftp://bob:hunter2pw@gw/x", "target")
                .unwrap_err()
                .to_string(),
            "\"ftp://bob@gw/x\": only http and https target URLs work"
        );
        // Does not parse (space in the host): the text is quoted with the user info cut out.
        assert_eq!(
            parse_http_url("http://bob:hunter2pw@g w/metrics", "target")
                .unwrap_err()
                .to_string(),
            "\"http://<redacted>@g w/metrics\" is not a URL or host:port (invalid international domain name)"
        );
        assert_eq!(
            crate::base::secret::redact_url_text("a:b@c@host?x=@"),
            "<redacted>@host?x=@"
        );
        assert_eq!(
            crate::base::secret::redact_url_text("host:9/p@q"),
            "host:9/p@q"
        );
    }

    #[tokio::test]
    async fn a_same_origin_loop_is_cut_after_as_many_redirects_as_a_cross_origin_one() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/loop",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { axum::response::Redirect::temporary("/loop") }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = u(&format!("http://{}/loop", listener.local_addr().unwrap()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let client = http_client(&TlsSettings::default()).unwrap();
        let outcome = get_with_credentials(
            &client,
            &url,
            &HeaderMap::new(),
            "*/*",
            Duration::from_secs(5),
        )
        .await;
        let error = outcome.map(|r| r.status()).unwrap_err().to_string();
        assert_eq!(error, "too many redirects");
        // The first request and MAX_REDIRECTS followed, as the cross-origin loop in
        // tests/it/redirect_tls.rs counts them.
        assert_eq!(hits.load(Ordering::SeqCst), MAX_REDIRECTS + 1);
        server.abort();
    }

    #[test]
    fn ca_cert_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("llmtop-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = read_ca_certs(&empty).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let missing = read_ca_certs(&dir.join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
