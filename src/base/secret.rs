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

/// Who may read a URL llmtop writes out, which decides how much of it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The user's own screen, stderr and logs: the password goes, and the value of every
    /// credential-named query or fragment parameter (`?token=`, `?api_key=`, `#access_token=`);
    /// the user name and the rest stay, so the user recognises the URL.
    Screen,
    /// A file others may read (a recording) or an error that may be pasted anywhere: user and
    /// password go, every query value goes, the fragment goes.
    File,
}

/// The one URL redaction policy of llmtop (see [`Reach`]).
pub fn redact_url(url: &url::Url, reach: Reach) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    if reach == Reach::File {
        let _ = shown.set_username("");
        shown.set_fragment(None);
    }
    if shown.query().is_some() {
        let keep = |name: &str| reach == Reach::Screen && !is_credential_header(name);
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let value = if keep(&name) {
                    value.into_owned()
                } else {
                    "redacted".to_string()
                };
                (name.into_owned(), value)
            })
            .collect();
        if pairs.iter().any(|(_, v)| v == "redacted") {
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if let Some(fragment) = shown.fragment().map(str::to_string) {
        let redacted = redact_pairs(&fragment);
        if redacted != fragment {
            shown.set_fragment(Some(&redacted));
        }
    }
    shown.to_string()
}

/// A URL as it may be shown on the user's own screen: [`redact_url`] with [`Reach::Screen`].
pub fn display_url(url: &url::Url) -> String {
    redact_url(url, Reach::Screen)
}

/// `text` that did not parse as a URL, fit to quote in an error: any `user:password@` before the
/// host becomes `<redacted>@`, and credential-named parameters after `?` or `#` lose their value.
pub fn redact_url_text(text: &str) -> String {
    // A text that failed to parse may have lost the `:` of `://`: `//` still starts the authority.
    let authority_start = text.find("//").map_or(0, |i| i + 2);
    let rest = &text[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &text[..authority_start], &rest[at..]),
        None => text.to_string(),
    };
    if let Some(q) = out.find(['?', '#']) {
        let tail = out.split_off(q + 1);
        out.push_str(&redact_pairs(&tail));
    }
    out
}

/// `a=1&token=x` with the value of each credential-named pair replaced (`#` and `&` both split).
fn redact_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for (i, c) in text.char_indices().chain([(text.len(), '&')]) {
        if c != '&' && c != '#' {
            continue;
        }
        let pair = &text[start..i];
        match pair.split_once('=') {
            Some((name, _)) if is_credential_header(name) => {
                out.push_str(name);
                out.push_str("=redacted");
            }
            _ => out.push_str(pair),
        }
        if i < text.len() {
            out.push(c);
        }
        start = i + c.len_utf8();
    }
    out
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

    /// The one table for every URL llmtop shows or writes: userinfo, credential query
    /// parameters, fragments and IPv6 hosts, on screen and in files.
    #[test]
    fn url_redaction_table() {
        use Reach::{File, Screen};
        let cases: [(&str, Reach, &str); 16] = [
            ("https://gw:4000/metrics", Screen, "https://gw:4000/metrics"),
            ("https://gw:4000/metrics", File, "https://gw:4000/metrics"),
            (
                "https://ops:pw-123@gw:4000/metrics",
                Screen,
                "https://ops@gw:4000/metrics",
            ),
            (
                "https://ops:pw-123@gw:4000/metrics",
                File,
                "https://gw:4000/metrics",
            ),
            (
                "http://gw/m?key=sk-1&x=1",
                Screen,
                "http://gw/m?key=redacted&x=1",
            ),
            (
                "http://gw/m?key=sk-1&x=1",
                File,
                "http://gw/m?key=redacted&x=redacted",
            ),
            (
                "http://gw/m?api_key=sk-1",
                Screen,
                "http://gw/m?api_key=redacted",
            ),
            (
                "http://gw/m?api_key=sk-1",
                File,
                "http://gw/m?api_key=redacted",
            ),
            (
                "http://gw/m?token=abc",
                Screen,
                "http://gw/m?token=redacted",
            ),
            ("http://gw/m?x=1", Screen, "http://gw/m?x=1"),
            ("http://gw/m?x=1", File, "http://gw/m?x=redacted"),
            (
                "http://gw/m#access_token=t1&s=2",
                Screen,
                "http://gw/m#access_token=redacted&s=2",
            ),
            ("http://gw/m#access_token=t1", File, "http://gw/m"),
            (
                "http://u:p@[::1]:4000/m?token=t",
                Screen,
                "http://u@[::1]:4000/m?token=redacted",
            ),
            (
                "http://u:p@[::1]:4000/m?token=t",
                File,
                "http://[::1]:4000/m?token=redacted",
            ),
            ("http://[fe80::1]/m", File, "http://[fe80::1]/m"),
        ];
        for (input, reach, expected) in cases {
            let url = url::Url::parse(input).unwrap();
            assert_eq!(redact_url(&url, reach), expected, "{input} {reach:?}");
        }
        let texts = [
            ("http://a:b@g w/metrics", "http://<redacted>@g w/metrics"),
            ("a:b@c@host?x=@", "<redacted>@host?x=@"),
            (
                "ht!tp://u:p@[::1/m?api_key=sk-9&x=1",
                "ht!tp://<redacted>@[::1/m?api_key=redacted&x=1",
            ),
            ("gw host#token=abc", "gw host#token=redacted"),
            ("plain text", "plain text"),
            ("http//user:pw@x?key=q", "http//<redacted>@x?key=redacted"),
            ("host:9/p@q", "host:9/p@q"),
        ];
        for (input, expected) in texts {
            assert_eq!(redact_url_text(input), expected, "{input}");
        }
    }
}
