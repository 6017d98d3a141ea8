//! What a probe sends: the request, its builder methods, and the prepared form the bench sends many times.
use super::*;

/// What to send.
#[derive(Clone)]
pub struct ProbeRequest {
    /// Origin of the OpenAI-compatible API, e.g. `http://127.0.0.1:8080` (the client appends `/v1/chat/completions`).
    /// A trailing `/` or `/v1` is accepted, and so is a path prefix (`http://host/proxy`).
    pub api_base: url::Url,
    pub model: String,
    pub prompt: String,
    pub stream: bool,
    pub max_tokens: Option<u32>,
    /// Send the limit as `max_completion_tokens` (newer OpenAI reasoning models refuse `max_tokens`).
    pub use_max_completion_tokens: bool,
    /// Sampling temperature; omitted when `None` so the gateway's default applies.
    pub temperature: Option<f32>,
    pub api_key: Option<Secret>,
    /// Bounds the whole probe: connecting, every retry and its wait, and reading the body.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Extra request headers (`--header`), sent after the key so one can replace `Authorization`.
    /// Their values are never printed by `Debug`.
    pub extra_headers: Vec<(String, String)>,
    /// Send `ignore_eos: true` (vLLM, SGLang): generate exactly `max_tokens`, for a bench's
    /// output lengths to be what was asked.
    pub ignore_eos: bool,
}

impl ProbeRequest {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A streaming request with no key, no `max_tokens`, the default timeout and retry policy.
    pub fn new(api_base: url::Url, model: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self {
            api_base,
            model: model.into(),
            prompt: prompt.into(),
            stream: true,
            max_tokens: None,
            use_max_completion_tokens: false,
            temperature: None,
            api_key: None,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            extra_headers: Vec::new(),
            ignore_eos: false,
        }
    }

    /// Names the token limit `max_completion_tokens` instead of `max_tokens`.
    pub fn with_max_completion_tokens(mut self, yes: bool) -> Self {
        self.use_max_completion_tokens = yes;
        self
    }

    pub fn with_temperature(mut self, temperature: Option<f32>) -> Self {
        self.temperature = temperature;
        self
    }

    pub fn with_api_key(mut self, key: Option<Secret>) -> Self {
        self.api_key = key;
        self
    }

    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    pub fn with_ignore_eos(mut self, ignore_eos: bool) -> Self {
        self.ignore_eos = ignore_eos;
        self
    }

    pub fn with_max_tokens(mut self, max_tokens: Option<u32>) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adds one request header; a repeated name is sent once per value.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// `{api_base}/v1/chat/completions`, whatever form of base the user typed.
    pub fn chat_completions_url(&self) -> Result<url::Url, String> {
        let base = &self.api_base;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(format!(
                "api base {} is not an http(s) URL",
                redacted_url(base)
            ));
        }
        let mut url = base.clone();
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/');
        let path = if path.ends_with("/chat/completions") {
            path.to_string()
        } else if path.ends_with("/v1") {
            format!("{path}/chat/completions")
        } else {
            format!("{path}/v1/chat/completions")
        };
        url.set_path(&path);
        Ok(url)
    }

    /// The JSON body sent to the gateway.
    pub fn body(&self) -> Value {
        self.body_with_prompt(&self.prompt)
    }

    pub(crate) fn body_with_prompt(&self, prompt: &str) -> Value {
        self.body_for(prompt, self.max_tokens)
    }

    /// The body with `prompt` and this completion limit.
    pub(crate) fn body_for(&self, prompt: &str, max_tokens: Option<u32>) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": self.stream,
        });
        if let Some(map) = body.as_object_mut() {
            if let Some(max) = max_tokens {
                let field = if self.use_max_completion_tokens {
                    "max_completion_tokens"
                } else {
                    "max_tokens"
                };
                map.insert(field.into(), max.into());
            }
            if let Some(t) = self.temperature {
                map.insert("temperature".into(), json!(t));
            }
            if self.ignore_eos {
                map.insert("ignore_eos".into(), json!(true));
            }
            if self.stream {
                // Without this OpenAI sends no usage at all on streams.
                map.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
        body
    }

    /// Builds the URL, headers and body once, for sending the same request many times
    /// ([`run_prepared`], [`fast::HttpConnection`]). `Err` is a configuration error.
    pub fn prepare(&self) -> Result<PreparedRequest, String> {
        let url = self.chat_completions_url()?;
        // The order reqwest's builder gave them: JSON type, Accept, the key, then `--header`s,
        // each of which replaces any earlier header of its name.
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if self.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let key = self.api_key.as_ref().filter(|key| !key.expose().is_empty());
        if let Some(key) = key {
            let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose()))
                .map_err(|_| "the API key has characters a header cannot hold".to_string())?;
            // Sensitive values are hidden by `HeaderMap`'s Debug and hpack-indexed never.
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut previous: Option<HeaderName> = None;
        for (name, value) in extra_headers(&self.extra_headers).map_err(|f| f.message)? {
            match name {
                Some(name) => {
                    headers.insert(name.clone(), value);
                    previous = Some(name);
                }
                None => {
                    if let Some(name) = &previous {
                        headers.append(name.clone(), value);
                    }
                }
            }
        }
        let body = self.body().to_string().into_bytes();
        Ok(PreparedRequest {
            common: Arc::new(Prepared {
                request: self.clone(),
                url,
                headers,
                key_sent: key.is_some(),
            }),
            body: Bytes::from(body),
        })
    }
}

/// A request ready to send any number of times: URL, headers and JSON body built once.
#[derive(Clone)]
pub struct PreparedRequest {
    pub(crate) common: Arc<Prepared>,
    pub(crate) body: Bytes,
}

/// What every prompt of one [`PreparedRequest`] family shares.
pub(crate) struct Prepared {
    pub(crate) request: ProbeRequest,
    pub(crate) url: url::Url,
    /// Content-Type, Accept, the key (marked sensitive) and the `--header`s.
    pub(crate) headers: HeaderMap,
    pub(crate) key_sent: bool,
}

impl PreparedRequest {
    /// The same request with another prompt; only the body is rebuilt.
    pub fn with_prompt(&self, prompt: &str) -> Self {
        self.with_prompt_and_limit(prompt, self.common.request.max_tokens)
    }

    /// The same request with another prompt and completion limit; only the body is rebuilt.
    pub fn with_prompt_and_limit(&self, prompt: &str, max_tokens: Option<u32>) -> Self {
        let body = self.common.request.body_for(prompt, max_tokens).to_string();
        Self {
            common: self.common.clone(),
            body: Bytes::from(body.into_bytes()),
        }
    }

    /// What the request was prepared from (its prompt is the one given to [`ProbeRequest::prepare`]).
    pub fn request(&self) -> &ProbeRequest {
        &self.common.request
    }

    /// `…/v1/chat/completions`.
    pub fn url(&self) -> &url::Url {
        &self.common.url
    }

    /// The exact bytes sent as the body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: only their names are shown.
        f.debug_struct("PreparedRequest")
            .field("request", &self.common.request)
            .field("url", &redacted_url(&self.common.url))
            .field(
                "headers",
                &self
                    .common
                    .headers
                    .keys()
                    .map(HeaderName::as_str)
                    .collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl fmt::Debug for ProbeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The base URL is user input and may carry credentials in its userinfo or query.
        f.debug_struct("ProbeRequest")
            .field("api_base", &redacted_url(&self.api_base))
            .field("model", &self.model)
            .field("prompt", &self.prompt)
            .field("stream", &self.stream)
            .field("max_tokens", &self.max_tokens)
            .field("ignore_eos", &self.ignore_eos)
            .field("use_max_completion_tokens", &self.use_max_completion_tokens)
            .field("temperature", &self.temperature)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
