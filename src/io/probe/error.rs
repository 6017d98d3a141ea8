//! How a failed attempt is described: the failure and whether to retry, the HTTP status verdicts, error chains and the scrubbing that keeps keys out of messages.
use super::*;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Retry {
    Never,
    /// Worth another attempt, after the server's hint if it gave one.
    After(Option<Duration>),
}

#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: ProbeErrorKind,
    pub(crate) message: String,
    pub(crate) retry: Retry,
}

impl Failure {
    pub(crate) fn new(kind: ProbeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry: Retry::Never,
        }
    }

    pub(crate) fn timeout(timeout: Duration, answered: bool) -> Self {
        let stage = if answered {
            "while reading the response"
        } else {
            "before the gateway answered"
        };
        Self::new(
            ProbeErrorKind::Timeout,
            format!("request timed out after {timeout:?} {stage}"),
        )
    }

    pub(crate) fn from_send(error: reqwest::Error, url: &url::Url) -> Self {
        let (kind, retry) = if error.is_builder() || error.is_redirect() {
            (ProbeErrorKind::Config, Retry::Never)
        } else if error.is_timeout() {
            (ProbeErrorKind::Timeout, Retry::After(None))
        } else {
            (ProbeErrorKind::Connection, Retry::After(None))
        };
        let what = if error.is_connect() {
            "cannot connect to"
        } else {
            "request failed to"
        };
        Self {
            kind,
            message: format!("{what} {}: {}", redacted_url(url), describe(error)),
            retry,
        }
    }
}

pub(crate) fn status_failure(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    key_sent: bool,
) -> Failure {
    let code = status.as_u16();
    let text = String::from_utf8_lossy(body);
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let gateway_message = json
        .as_ref()
        .and_then(sse::error_message)
        .map(|m| sse::truncate_chars(m.trim(), MAX_MESSAGE_CHARS).to_string())
        .unwrap_or_else(|| snippet(&text));
    let said = if gateway_message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        gateway_message
    };

    // The client follows redirects only within the origin (crate::base::net), so this one leaves it.
    if status.is_redirection()
        && let Some(to) = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok())
    {
        return Failure::new(
            ProbeErrorKind::Config,
            format!(
                "HTTP {code}: the gateway redirects to another origin ({}); the API key and headers are sent only to the origin given, so use --api-base with that address",
                crate::base::net::origin_text(&to)
            ),
        );
    }
    if matches!(code, 401 | 403) {
        let verdict = if key_sent {
            "gateway rejected the API key"
        } else {
            "gateway requires an API key"
        };
        return Failure::new(
            ProbeErrorKind::Auth,
            format!("{verdict} ({code}): {AUTH_HINT} (gateway said: {said})"),
        );
    }
    if code == 429 {
        let (kind, error_code) = json
            .as_ref()
            .map(sse::error_type_and_code)
            .unwrap_or_default();
        // LiteLLM wraps upstream errors into its message, so the raw body is checked too.
        let quota = [kind.as_deref(), error_code.as_deref()].contains(&Some("insufficient_quota"))
            || text.contains("insufficient_quota");
        if quota {
            return Failure::new(
                ProbeErrorKind::QuotaExhausted,
                format!("HTTP 429 insufficient_quota: {said}"),
            );
        }
    }
    let kind = if code == 429 {
        ProbeErrorKind::RateLimited
    } else {
        ProbeErrorKind::Http
    };
    let retry = if retry::is_retryable_status(code) && !retry::server_forbids_retry(headers) {
        Retry::After(retry::server_retry_hint(headers))
    } else {
        Retry::Never
    };
    Failure {
        kind,
        message: format!("HTTP {code}: {said}"),
        retry,
    }
}

/// A reqwest error's cause chain without the URL (which [`redacted_url`] handles).
pub(crate) fn describe(error: reqwest::Error) -> String {
    describe_chain(&error.without_url())
}

/// An error and its sources, each said once, without the layers that add nothing.
pub(crate) fn describe_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    // The outer layers ("error sending request", hyper's "client error (Connect)") add
    // nothing once the root cause is known.
    while parts.len() > 1
        && (parts[0] == "error sending request" || parts[0].starts_with("client error ("))
    {
        parts.remove(0);
    }
    parts.join(": ")
}

/// A body as a one-line excerpt: whitespace collapsed, length bounded.
pub(crate) fn snippet(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut = sse::truncate_chars(&collapsed, MAX_MESSAGE_CHARS);
    if cut.len() < collapsed.len() {
        format!("{cut}…")
    } else {
        collapsed
    }
}

/// A URL fit for an error message or `Debug`: [`Reach::File`](crate::base::secret::Reach::File).
pub(crate) fn redacted_url(url: &url::Url) -> String {
    crate::base::secret::redact_url(url, crate::base::secret::Reach::File)
}

/// [`scrub`] for the key and every `--header` value long enough to be a credential (a gateway
/// echoing the request's headers in its error body must not put an `X-Api-Key` on screen).
pub(crate) fn scrub_request(text: &str, request: &ProbeRequest) -> String {
    let mut out = match &request.api_key {
        Some(key) => scrub(text, key),
        None => text.to_string(),
    };
    // The demo gateway's own fault-injection headers name faults, never credentials.
    let secret_headers = request
        .extra_headers
        .iter()
        .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("x-llmtop-demo-"));
    for (_, value) in secret_headers {
        for secret in crate::base::secret::header_value_secrets(value) {
            out = scrub(&out, &Secret::new(secret));
        }
    }
    out
}

/// Gateways sometimes echo the key they refused; it must not reach the screen or logs.
pub(crate) fn scrub(text: &str, key: &Secret) -> String {
    let key = key.expose();
    if key.is_empty() || !text.contains(key) {
        return text.to_string();
    }
    text.replace(key, "<redacted>")
}
