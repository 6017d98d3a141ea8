//! Secrets (API keys, bearer tokens) that can be used but never printed, logged or shown by `Debug`.
use std::fmt;

/// A credential value. `Debug` and `Display` print `<redacted>`; only [`Secret::expose`] yields the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for building a request header. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from a file, trimming the trailing newline editors add.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read secret file {}: {}", path.display(), e.kind())
        })?;
        let value = text.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!value.is_empty(), "secret file {} is empty", path.display());
        Ok(Self(value))
    }

    /// Reads a secret from an environment variable; `None` when unset or empty.
    pub fn from_env(var: &str) -> Option<Self> {
        std::env::var(var).ok().filter(|v| !v.is_empty()).map(Self)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A header as typed, `Name: value` (`--header`, a config file's `headers`). The value is often a
/// credential, so `Debug` shows only the name.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct HeaderLine(String);

impl HeaderLine {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the colon, trimmed.
    pub fn name(&self) -> &str {
        self.0.split_once(':').map_or("", |(name, _)| name.trim())
    }
}

impl From<String> for HeaderLine {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for HeaderLine {
    fn from(text: &str) -> Self {
        Self(text.to_string())
    }
}

impl std::ops::Deref for HeaderLine {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for HeaderLine {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for HeaderLine {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for HeaderLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}: <redacted>\"", self.name())
    }
}

/// Shortest header value treated as a possible secret when scrubbing text: shorter ones (`1`,
/// `team-a`) cannot hide a credential, and replacing them would mangle ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// The parts of a header value to keep out of any text: the whole value, and for
/// `Scheme credential` values (`Bearer sk-…`, `Basic …`) the credential alone, if long enough.
pub fn header_value_secrets(value: &str) -> Vec<&str> {
    let value = value.trim();
    let mut parts = vec![value];
    if let Some((_, credential)) = value.split_once(' ') {
        parts.push(credential.trim());
    }
    parts.retain(|p| p.len() >= MIN_SECRET_LEN);
    parts
}

/// A URL as it may be shown: without a password, and with the values of credential-named query
/// parameters (`?token=…`, `?api_key=…`) replaced; everything else as given.
pub fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(None);
    }
    if shown
        .query_pairs()
        .any(|(name, _)| is_credential_header(&name))
    {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_credential_header(&name) {
                    "redacted".to_string()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Whether a header is a credential by its name: `Authorization`, cookies, and the usual API-key
/// and token headers (`X-Api-Key`, `api-key`, `X-Auth-Token`, …).
pub fn is_credential_header(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "cookie2"
    ) || ["key", "token", "secret", "password", "auth", "session"]
        .iter()
        .any(|word| name.contains(word))
}

/// Whether a URL carries a credential: a password in it, or a query parameter named like one.
pub fn url_has_credentials(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return false;
    };
    url.password().is_some()
        || url
            .query_pairs()
            .any(|(name, _)| is_credential_header(&name))
}

/// Permission bits that let users other than the owner read or write `path` (unix); `None`
/// when only the owner can, or where the platform has no such bits.
pub fn open_to_others(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_debug_without_their_value() {
        let h = HeaderLine::from("X-Api-Key: canary-hl-1");
        assert_eq!(format!("{h:?}"), "\"X-Api-Key: <redacted>\"");
        assert_eq!(
            format!("{:?}", vec![h.clone()]),
            "[\"X-Api-Key: <redacted>\"]"
        );
        assert_eq!(h.name(), "X-Api-Key");
        assert_eq!(&*h, "X-Api-Key: canary-hl-1");
        assert_eq!(
            format!("{:?}", HeaderLine::from("garbage")),
            "\": <redacted>\""
        );
    }

    #[test]
    fn header_values_to_scrub() {
        assert_eq!(
            header_value_secrets("Bearer sk-abcdef123"),
            ["Bearer sk-abcdef123", "sk-abcdef123"]
        );
        assert_eq!(header_value_secrets(" key-12345678 "), ["key-12345678"]);
        assert_eq!(header_value_secrets("team-a"), Vec::<&str>::new());
        assert_eq!(header_value_secrets("Basic abc"), ["Basic abc"]);
    }

    #[test]
    fn shown_urls_lose_passwords_and_token_parameters() {
        let show = |u: &str| display_url(&url::Url::parse(u).unwrap());
        assert_eq!(show("https://gw:4000/metrics"), "https://gw:4000/metrics");
        assert_eq!(
            show("https://ops:pw-123@gw:4000/metrics"),
            "https://ops@gw:4000/metrics"
        );
        assert_eq!(
            show("http://gw/metrics?format=prom&api_key=sk-1"),
            "http://gw/metrics?format=prom&api_key=redacted"
        );
        assert_eq!(show("http://gw/metrics?x=1"), "http://gw/metrics?x=1");
    }

    #[test]
    fn credential_headers_are_recognised_by_name() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "api-key",
            "X-Auth-Token",
            "x-goog-api-key",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in ["X-Scope-OrgID", "Accept", "User-Agent", "X-Tenant"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn urls_with_credentials_are_recognised() {
        assert!(url_has_credentials("https://u:pw@gw:4000/metrics"));
        assert!(url_has_credentials("https://gw/metrics?api_key=x"));
        assert!(url_has_credentials("https://gw/metrics?token=x"));
        assert!(!url_has_credentials("https://u@gw/metrics"));
        assert!(!url_has_credentials("https://gw/metrics?format=prom"));
        assert!(!url_has_credentials("gw:4000"));
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("sk-canary-123");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(s.expose(), "sk-canary-123");
    }
}
