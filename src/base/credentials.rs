//! Credentials, resolved one way everywhere: extra request headers, the scrape's bearer token and
//! the probe's API key, each from the command line, a variable or a file, never shown.
//!
//! The API key's order, for the dashboard, `llmtop probe` and `llmtop bench` alike:
//! `--api-key-file PATH`, else `--api-key-env VAR` (which must be set), else `$LLMTOP_API_KEY`,
//! else `$OPENAI_API_KEY`, else no key. The scrape's token: `--bearer-token-env VAR`, else
//! `--bearer-token-file PATH`; a `--header 'Authorization: …'` is used as given.
use std::path::{Path, PathBuf};

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::base::secret::Secret;

/// Environment variables the probe's API key is read from when no flag names one, in order.
pub const API_KEY_VARS: [&str; 2] = ["LLMTOP_API_KEY", "OPENAI_API_KEY"];

/// Parses `Name: value` into a header, marked sensitive so it is never printed by `Debug`.
pub fn parse_header(text: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let (name, value) = text
        .split_once(':')
        .with_context(|| "a --header must look like 'Name: value'".to_string())?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("{:?} is not a valid header name", name.trim()))?;
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
        anyhow::anyhow!("the value of header {name} has characters a header cannot hold")
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// `--header 'Name: value'` arguments as a header map (values marked sensitive).
pub fn header_map<S: AsRef<str>>(texts: &[S]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for text in texts {
        let (name, value) = parse_header(text.as_ref())?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// `--header 'Name: value'` arguments as (name, value) pairs for a probe request.
pub fn header_pairs<S: AsRef<str>>(texts: &[S]) -> anyhow::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for text in texts {
        let (name, value) = parse_header(text.as_ref())?;
        let value = value
            .to_str()
            .map_err(|_| anyhow::anyhow!("the value of header {name} is not plain text"))?
            .to_string();
        headers.push((name.as_str().to_string(), value));
    }
    Ok(headers)
}

/// Where the scrape's bearer token comes from.
#[derive(Debug, Clone, Copy)]
pub struct BearerSource<'a> {
    pub env: Option<&'a str>,
    pub file: Option<&'a Path>,
}

/// The scrape's headers (bearer token included) and what to say when they are rejected.
pub fn scrape_headers<S: AsRef<str>>(
    texts: &[S],
    bearer: BearerSource<'_>,
) -> anyhow::Result<(HeaderMap, String)> {
    let mut headers = header_map(texts)?;
    let token = match (bearer.env, bearer.file) {
        (Some(var), _) => Some(Secret::from_env(var).with_context(|| {
            format!("--bearer-token-env {var}: the variable is not set or empty")
        })?),
        (None, Some(path)) => Some(Secret::from_file(path)?),
        (None, None) => None,
    };
    let hint = match (bearer.env, bearer.file) {
        (Some(var), _) => format!("the bearer token in ${var} was rejected"),
        (None, Some(path)) => format!("the bearer token in {} was rejected", path.display()),
        (None, None) if headers.contains_key(AUTHORIZATION) => {
            "the Authorization header given with --header was rejected".to_string()
        }
        (None, None) => "the gateway wants credentials: set --bearer-token-env VAR or --bearer-token-file PATH (or --header 'Authorization: …')".to_string(),
    };
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| anyhow::anyhow!("the bearer token has characters a header cannot hold"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok((headers, hint))
}

/// Where the API key came from, to say which one to fix when the gateway refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Env(String),
    None,
}

impl KeySource {
    /// `the key was read from $VAR`, for an error message after a 401.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(path) => format!("the key was read from {}", path.display()),
            KeySource::Env(var) => format!("the key was read from ${var}"),
            KeySource::None => "no key was sent".to_string(),
        }
    }
}

/// The probe's API key in the documented order (see the module comment), and where it came from.
pub fn resolve_api_key(
    file: Option<&Path>,
    env: Option<&str>,
) -> anyhow::Result<(Option<Secret>, KeySource)> {
    if let Some(path) = file {
        return Ok((
            Some(Secret::from_file(path)?),
            KeySource::File(path.to_path_buf()),
        ));
    }
    if let Some(var) = env {
        let key = Secret::from_env(var)
            .with_context(|| format!("--api-key-env {var}: the variable is not set or empty"))?;
        return Ok((Some(key), KeySource::Env(var.to_string())));
    }
    for var in API_KEY_VARS {
        if let Some(key) = Secret::from_env(var) {
            return Ok((Some(key), KeySource::Env(var.to_string())));
        }
    }
    Ok((None, KeySource::None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_are_sensitive() {
        let (name, value) = parse_header("X-Scope-OrgID:  team-a ").unwrap();
        assert_eq!(name.as_str(), "x-scope-orgid");
        assert_eq!(value.to_str().unwrap(), "team-a");
        assert!(value.is_sensitive());
        assert!(parse_header("no colon").is_err());
        assert_eq!(
            header_pairs(&["A: 1", "b: two"]).unwrap(),
            [
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "two".to_string())
            ]
        );
    }

    #[test]
    fn the_api_key_comes_from_the_file_first_then_the_named_variable() {
        let dir = std::env::temp_dir().join(format!("llmtop-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "from-file-key\n").unwrap();
        let (key, source) = resolve_api_key(Some(&file), Some("LLMTOP_TEST_UNSET_VAR_1")).unwrap();
        assert_eq!(
            key.map(|k| k.expose().to_string()).as_deref(),
            Some("from-file-key")
        );
        assert_eq!(source, KeySource::File(file.clone()));
        let err = resolve_api_key(None, Some("LLMTOP_TEST_UNSET_VAR_1")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--api-key-env LLMTOP_TEST_UNSET_VAR_1: the variable is not set or empty"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_rejected_scrape_names_the_credential_to_fix() {
        let none = BearerSource {
            env: None,
            file: None,
        };
        let (_, hint) = scrape_headers::<&str>(&[], none).unwrap();
        assert!(hint.contains("--bearer-token-env VAR"), "{hint}");
        let (_, hint) = scrape_headers(&["Authorization: Basic x"], none).unwrap();
        assert_eq!(
            hint,
            "the Authorization header given with --header was rejected"
        );
    }
}
