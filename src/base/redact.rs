//! Label redaction: replaces the values of personal-data labels (users, emails, client IPs …) in a
//! scrape body before anything parses, shows, records or exports it.
//!
//! The body is rewritten as text, not re-rendered from a parse, so a recording keeps every other
//! byte (comments, order, malformed lines) and a replay counts the same skipped lines.
use std::borrow::Cow;
use std::hash::BuildHasher;

/// Labels redacted by default when a session records (`--record`) and no list is given:
/// LiteLLM's per-user labels and anything that names a person, an address or a device.
pub const DEFAULT_LABELS: &[&str] = &[
    "user",
    "end_user",
    "*user_id",
    "*email*",
    "customer",
    "customer_id",
    "api_key_alias",
    "user_agent",
    "client_ip",
    "ip",
    "*_ip",
    "*ip_address",
    "remote_addr",
];

/// The prefix of a hashed value; a value already in this form is left alone, so redacting a
/// redacted recording again changes nothing.
pub const HASH_PREFIX: &str = "anon-";
/// Hex digits of a hashed value: 40 bits, so a few thousand users do not collide.
const HASH_DIGITS: usize = 10;

/// What becomes of a redacted label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RedactMode {
    /// The value becomes `anon-` and 10 hex digits of a keyed hash: the same user keeps the same
    /// name within a session (so per-user series stay apart), but the key is random per process
    /// and never stored, so a guessed email cannot be hashed to find it.
    #[default]
    Hash,
    /// The label is removed; series that differed only by it become one.
    Drop,
}

impl RedactMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RedactMode::Hash => "hash",
            RedactMode::Drop => "drop",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hash" => Ok(RedactMode::Hash),
            "drop" => Ok(RedactMode::Drop),
            _ => Err(format!("{text:?}: the redaction mode is hash or drop")),
        }
    }
}

/// Rewrites the named labels of an exposition. Names may hold `*` (any run of characters).
pub struct LabelRedactor {
    patterns: Vec<String>,
    mode: RedactMode,
    key: std::hash::RandomState,
}

/// The key is never shown: it is what keeps hashed values from being reversed.
impl std::fmt::Debug for LabelRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelRedactor")
            .field("patterns", &self.patterns)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A malformed line is kept as a line that is still malformed (so it is still skipped and
/// counted) but no longer holds whatever personal data it may have carried.
pub const MALFORMED_LINE: &str = "<malformed line with labels, redacted>";

impl LabelRedactor {
    /// `patterns` is a list of label names (with `*` wildcards); an empty name is refused.
    pub fn new(patterns: &[String], mode: RedactMode) -> Result<Self, String> {
        let mut clean: Vec<String> = Vec::new();
        for p in patterns {
            let p = p.trim();
            if p.is_empty() {
                return Err("an empty label name in the redaction list".to_string());
            }
            if !p
                .bytes()
                .all(|b| b == b'*' || b == b'_' || b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "{p:?} is not a label name (letters, digits, _ and * only)"
                ));
            }
            if !clean.iter().any(|c| c == p) {
                clean.push(p.to_string());
            }
        }
        Ok(Self {
            patterns: clean,
            mode,
            key: std::hash::RandomState::new(),
        })
    }

    /// The default list, hashed.
    pub fn defaults() -> Self {
        let names: Vec<String> = DEFAULT_LABELS.iter().map(|s| s.to_string()).collect();
        Self {
            patterns: names,
            mode: RedactMode::Hash,
            key: std::hash::RandomState::new(),
        }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn mode(&self) -> RedactMode {
        self.mode
    }

    /// Whether a label of this name is redacted.
    pub fn applies_to(&self, label: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| glob(p.as_bytes(), label.as_bytes()))
    }

    /// The stand-in for one value (hash mode).
    pub fn hashed(&self, value: &str) -> String {
        if is_hashed(value) {
            return value.to_string();
        }
        let h = self.key.hash_one(value);
        let mut out = String::with_capacity(HASH_PREFIX.len() + HASH_DIGITS);
        out.push_str(HASH_PREFIX);
        out.push_str(&format!("{:016x}", h)[..HASH_DIGITS]);
        out
    }

    /// The body with every redacted label's value replaced (or the label removed). Borrowed when
    /// nothing had to change.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // Label names and values repeat on every line: decide and hash each once per body.
        let mut memo = Memo::default();
        let mut edits = Vec::new();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let start = line_start;
            line_start += line.len();
            let body = line.trim_start_matches([' ', '\t']);
            if body.starts_with('#') || !body.contains('{') {
                continue;
            }
            if self.line_edits(line, &mut edits, &mut memo).is_err() {
                edits.clear();
                edits.push(Edit {
                    from: 0,
                    to: line.trim_end_matches(['\n', '\r']).len(),
                    with: MALFORMED_LINE.into(),
                });
            }
            if edits.is_empty() {
                continue;
            }
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..start]);
            let mut at = 0;
            for e in &edits {
                buf.push_str(&line[at..e.from]);
                buf.push_str(&e.with);
                at = e.to;
            }
            buf.push_str(&line[at..]);
            copied = line_start;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut buf) => {
                buf.push_str(&text[copied..]);
                Cow::Owned(buf)
            }
        }
    }

    /// The replacements in one sample line, in order: every label set on it (the series' and an
    /// OpenMetrics exemplar's). `Err` when a label set does not parse.
    fn line_edits<'t>(
        &self,
        line: &'t str,
        edits: &mut Vec<Edit>,
        memo: &mut Memo<'t>,
    ) -> Result<(), ()> {
        edits.clear();
        let mut i = 0;
        while let Some(open) = line[i..].find('{').map(|p| i + p) {
            i = self.label_set(line, open + 1, edits, memo)?;
        }
        Ok(())
    }

    /// Scans `name="value",…}` from `i` (just after `{`); returns the index after `}`.
    fn label_set<'t>(
        &self,
        line: &'t str,
        mut i: usize,
        edits: &mut Vec<Edit>,
        memo: &mut Memo<'t>,
    ) -> Result<usize, ()> {
        let b = line.as_bytes();
        let blank = |b: &[u8], mut i: usize| {
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            i
        };
        loop {
            i = blank(b, i);
            match b.get(i) {
                Some(b'}') => return Ok(i + 1),
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
                _ => return Err(()),
            }
            let pair_start = i;
            while matches!(b.get(i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_') {
                i += 1;
            }
            let name = line.get(pair_start..i).ok_or(())?;
            i = blank(b, i);
            if b.get(i) != Some(&b'=') {
                return Err(());
            }
            i = blank(b, i + 1);
            if b.get(i) != Some(&b'"') {
                return Err(());
            }
            let value_start = i + 1;
            i = value_start;
            loop {
                match b.get(i) {
                    None | Some(b'\n') => return Err(()),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            let value_end = i;
            i += 1;
            let after_value = i;
            i = blank(b, i);
            let ends = match b.get(i) {
                Some(b',') => {
                    i += 1;
                    false
                }
                Some(b'}') => true,
                _ => return Err(()),
            };
            let applies = *memo
                .names
                .entry(name)
                .or_insert_with(|| self.applies_to(name));
            if applies {
                let raw = line.get(value_start..value_end).ok_or(())?;
                edits.push(match self.mode {
                    RedactMode::Hash => Edit {
                        from: value_start,
                        to: value_end,
                        with: Cow::Owned(
                            memo.values
                                .entry(raw)
                                .or_insert_with(|| self.hashed(raw))
                                .clone(),
                        ),
                    },
                    // The comma goes with the pair; a trailing comma left before `}` is valid.
                    RedactMode::Drop => Edit {
                        from: pair_start,
                        to: if ends { after_value } else { i },
                        with: Cow::Borrowed(""),
                    },
                });
            }
            if ends {
                return Ok(i + 1);
            }
        }
    }
}

/// What one body has already decided: which label names are redacted, and each value's hash.
#[derive(Default)]
struct Memo<'t> {
    names: std::collections::HashMap<&'t str, bool>,
    values: std::collections::HashMap<&'t str, String>,
}

struct Edit {
    from: usize,
    to: usize,
    with: Cow<'static, str>,
}

fn is_hashed(value: &str) -> bool {
    value.strip_prefix(HASH_PREFIX).is_some_and(|hex| {
        hex.len() == HASH_DIGITS
            && hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob(rest, &name[skip..])),
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

/// How a session's redaction was asked for: the `--redact-labels` flag (`None` when absent),
/// the config file's `[redact]` section, and whether the session records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Label names (with `*` wildcards); `"default"` stands for [`DEFAULT_LABELS`].
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub mode: Option<RedactMode>,
}

impl RedactConfig {
    /// The command line's `--redact-labels` / `--redact-mode` over the file's: each flag given
    /// replaces the file's value.
    pub fn with_flags(mut self, labels: Option<&[String]>, mode: Option<RedactMode>) -> Self {
        if let Some(labels) = labels {
            self.labels = labels.to_vec();
        }
        if mode.is_some() {
            self.mode = mode;
        }
        self
    }
}

/// The redactor a session uses, or none: `config` (the file's `[redact]` with the flags over
/// it). `none` turns redaction off, even for a recording; `default` expands to
/// [`DEFAULT_LABELS`]. With no list, a recording session redacts [`DEFAULT_LABELS`] so no
/// personal data lands in a file.
pub fn resolve(config: &RedactConfig, recording: bool) -> Result<Option<LabelRedactor>, String> {
    let listed: Option<&[String]> = (!config.labels.is_empty()).then_some(&config.labels[..]);
    let mode = config.mode.unwrap_or_default();
    let names: Vec<String> = match listed {
        None if recording => DEFAULT_LABELS.iter().map(|s| s.to_string()).collect(),
        None => return Ok(None),
        Some(list) => {
            let split: Vec<&str> = list
                .iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if split.iter().any(|s| s.eq_ignore_ascii_case("none")) {
                if split.len() > 1 {
                    return Err("--redact-labels none cannot be combined with label names".into());
                }
                return Ok(None);
            }
            split
                .iter()
                .flat_map(|s| {
                    if s.eq_ignore_ascii_case("default") {
                        DEFAULT_LABELS.iter().map(|d| d.to_string()).collect()
                    } else {
                        vec![s.to_string()]
                    }
                })
                .collect()
        }
    };
    if names.is_empty() {
        return Ok(None);
    }
    LabelRedactor::new(&names, mode).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(names: &[&str], mode: RedactMode) -> LabelRedactor {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        LabelRedactor::new(&names, mode).unwrap()
    }

    #[test]
    fn a_hashed_value_is_stable_within_a_redactor_and_shaped_anon_hex() {
        let r = redactor(&["user"], RedactMode::Hash);
        let a = r.hashed("alice@example.com");
        assert_eq!(a, r.hashed("alice@example.com"));
        assert_ne!(a, r.hashed("bob@example.com"));
        assert!(is_hashed(&a), "{a}");
        assert_eq!(a.len(), 15);
        // Hashing a hashed value is a no-op, so redacting a redacted recording changes nothing.
        assert_eq!(r.hashed(&a), a);
        // Another process (another key) gives another name: the key is what protects the value.
        let other = redactor(&["user"], RedactMode::Hash);
        assert_ne!(other.hashed("alice@example.com"), a);
    }

    #[test]
    fn hash_mode_replaces_only_the_named_labels_and_keeps_every_other_byte() {
        let r = redactor(&["end_user", "*email*"], RedactMode::Hash);
        let text = "# HELP x user=\"not a label\"\n# TYPE x counter\nx{model=\"gpt-4o\",end_user=\"alice\", user_email = \"a@b.c\"} 3 1700000000\ny 1\n";
        let out = r.redact(text);
        let h_alice = r.hashed("alice");
        let h_mail = r.hashed("a@b.c");
        assert_eq!(
            out,
            format!(
                "# HELP x user=\"not a label\"\n# TYPE x counter\nx{{model=\"gpt-4o\",end_user=\"{h_alice}\", user_email = \"{h_mail}\"}} 3 1700000000\ny 1\n"
            )
        );
        let parsed = crate::base::exposition::parse(&out);
        assert_eq!(parsed.skipped_count, 0);
        assert_eq!(
            parsed.samples[0].labels.get("end_user"),
            Some(h_alice.as_str())
        );
        assert_eq!(parsed.samples[0].labels.get("model"), Some("gpt-4o"));
    }

    #[test]
    fn nothing_to_redact_borrows_the_body() {
        let r = redactor(&["user"], RedactMode::Hash);
        let text = "x{model=\"a\"} 1\n# TYPE y gauge\ny 2";
        assert!(matches!(r.redact(text), Cow::Borrowed(_)));
    }

    #[test]
    fn drop_mode_removes_the_pair_and_the_line_still_parses() {
        let r = redactor(&["user", "client_ip"], RedactMode::Drop);
        let text = "a{user=\"u1\",model=\"m\"} 1\nb{model=\"m\",user=\"u2\"} 2\nc{user=\"u3\"} 3\nd{client_ip=\"10.0.0.1\", model=\"m\", user=\"x\"} 4\n";
        let out = r.redact(text);
        assert_eq!(
            out,
            "a{model=\"m\"} 1\nb{model=\"m\",} 2\nc{} 3\nd{ model=\"m\", } 4\n"
        );
        let parsed = crate::base::exposition::parse(&out);
        assert_eq!(parsed.skipped_count, 0);
        assert!(
            parsed
                .samples
                .iter()
                .all(|s| s.labels.get("user").is_none())
        );
    }

    #[test]
    fn escaped_quotes_and_braces_inside_values_do_not_confuse_the_scan() {
        let r = redactor(&["user"], RedactMode::Hash);
        let text = "a{path=\"{x}\",user=\"say \\\"hi\\\" \\\\ }\"} 1\n";
        let out = r.redact(text);
        let expected = format!(
            "a{{path=\"{{x}}\",user=\"{}\"}} 1\n",
            r.hashed("say \\\"hi\\\" \\\\ }")
        );
        assert_eq!(out, expected);
        assert_eq!(crate::base::exposition::parse(&out).skipped_count, 0);
    }

    #[test]
    fn an_exemplars_labels_are_redacted_too() {
        let r = redactor(&["user"], RedactMode::Hash);
        let text = "h_bucket{le=\"1\"} 3 # {user=\"alice\",trace_id=\"t1\"} 0.5 1700000000\n";
        let out = r.redact(text);
        assert!(!out.contains("alice"), "{out}");
        assert!(out.contains("trace_id=\"t1\""));
    }

    #[test]
    fn a_malformed_line_with_labels_is_replaced_but_still_counted_as_skipped() {
        let r = redactor(&["user"], RedactMode::Hash);
        let text =
            "ok 1\nbad{user=\"alice@example.com\" 1\nbad2{user=alice} 2\nfine{user=\"x\"} 3\n";
        let before = crate::base::exposition::parse(text).skipped_count;
        let out = r.redact(text);
        assert!(!out.contains("alice"), "{out}");
        assert_eq!(crate::base::exposition::parse(&out).skipped_count, before);
        assert_eq!(before, 2);
        assert!(out.starts_with("ok 1\n<malformed line"));
    }

    #[test]
    fn globs_match_the_default_families_of_names() {
        let r = LabelRedactor::defaults();
        for name in [
            "user",
            "end_user",
            "user_email",
            "email",
            "user_api_key_user_id",
            "client_ip",
            "requester_ip_address",
            "user_agent",
            "api_key_alias",
        ] {
            assert!(r.applies_to(name), "{name}");
        }
        for name in [
            "model",
            "team",
            "hashed_api_key",
            "model_id",
            "zip",
            "le",
            "pipeline",
        ] {
            assert!(!r.applies_to(name), "{name}");
        }
    }

    #[test]
    fn resolve_takes_the_flag_then_the_file_then_the_recording_default() {
        let file = RedactConfig {
            labels: vec!["team".into()],
            mode: Some(RedactMode::Drop),
        };
        let none = RedactConfig::default();
        let flags = |labels: &[&str], mode| {
            let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            none.clone().with_flags(Some(&labels), mode)
        };
        // Nothing asked, not recording: no redaction.
        assert!(resolve(&none, false).unwrap().is_none());
        // Recording: the defaults, hashed.
        let r = resolve(&none, true).unwrap().unwrap();
        assert_eq!(r.patterns().len(), DEFAULT_LABELS.len());
        assert_eq!(r.mode(), RedactMode::Hash);
        // The file's list and mode.
        let r = resolve(&file, false).unwrap().unwrap();
        assert_eq!(r.patterns(), ["team"]);
        assert_eq!(r.mode(), RedactMode::Drop);
        // The flag wins; commas split; `default` expands; duplicates go.
        let flag = vec!["user,default".to_string(), "org_id".to_string()];
        let over = file.clone().with_flags(Some(&flag), Some(RedactMode::Hash));
        let r = resolve(&over, false).unwrap().unwrap();
        assert_eq!(r.patterns().len(), DEFAULT_LABELS.len() + 1);
        assert!(r.applies_to("org_id") && !r.applies_to("team"));
        assert_eq!(r.mode(), RedactMode::Hash);
        // A mode flag alone keeps the file's list.
        let r = resolve(
            &file.clone().with_flags(None, Some(RedactMode::Hash)),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.patterns(), r.mode()),
            (&["team".to_string()][..], RedactMode::Hash)
        );
        // `none` turns off even a recording's default.
        assert!(resolve(&flags(&["none"], None), true).unwrap().is_none());
        assert!(resolve(&flags(&["none,user"], None), true).is_err());
        assert!(resolve(&flags(&["user-name"], None), false).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let r = LabelRedactor::defaults();
        let shown = format!("{r:?}");
        assert!(
            shown.contains("patterns") && !shown.contains("RandomState") && !shown.contains("k0"),
            "{shown}"
        );
    }
}
