//! A client for the Prometheus HTTP API (`/api/v1/query`, `query_range`, `series`, label values),
//! as served by Prometheus, Thanos, Mimir/Cortex, VictoriaMetrics and Grafana Cloud.
//!
//! Differences between those servers are configuration, not code: a path prefix in the base URL
//! (`/prometheus`, `/select/0/prometheus`), extra headers (`X-Scope-OrgID`), basic auth, and
//! Thanos' `dedup` / `partial_response` parameters. Every failure becomes a [`PromError`] whose
//! `Display` is a sentence fit for the status line.
use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Deserialize;

use crate::base::secret::Secret;

/// Prometheus refuses range queries with more points than this per series.
pub const MAX_POINTS: f64 = 11_000.0;

/// Above this many bytes of encoded parameters a query goes as a POST form: long PromQL in a URL
/// trips proxies' request-line limits (Grafana posts for the same reason).
const POST_ABOVE_BYTES: usize = 2_000;

/// Label name → value of one series.
pub type Labels = BTreeMap<String, String>;

/// How to reach one Prometheus-compatible server.
#[derive(Clone)]
pub struct PromConfig {
    /// Base URL, path prefix included (`https://mimir/prometheus`); `api/v1/…` is appended.
    pub base: url::Url,
    /// Extra headers (`X-Scope-OrgID`, `Authorization`); values are marked sensitive.
    pub headers: HeaderMap,
    /// User and password for HTTP basic auth (Grafana Cloud).
    pub basic_auth: Option<(String, Secret)>,
    /// Send Thanos' `dedup=true` and `partial_response=true`.
    pub thanos: bool,
    /// Client-side limit per request; also sent as the server-side `timeout` parameter.
    pub timeout: Duration,
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for PromConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values and the password stay out of Debug; only their names are shown.
        let header_names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("PromConfig")
            .field("base", &self.base.as_str())
            .field("headers", &header_names)
            .field(
                "basic_auth_user",
                &self.basic_auth.as_ref().map(|(u, _)| u.as_str()),
            )
            .field("thanos", &self.thanos)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Normalises a Prometheus base URL: http or https (`host:port` means http), no query, the path
/// kept as a prefix and ending in `/` so that `api/v1/query` joins under it. A URL pasted with
/// `/api/v1/…` or a `/graph` UI path is cut back to its prefix.
pub fn base_url(input: &str) -> anyhow::Result<url::Url> {
    let mut url = crate::base::net::parse_http_url(input, "Prometheus")?;
    let mut path = url.path().to_string();
    for tail in ["/api/v1/", "/graph", "/query"] {
        if let Some(at) = path.find(tail) {
            path.truncate(at);
        }
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub time: f64,
    pub value: f64,
}

/// One series of a range query (or of a range selector at an instant).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

/// The `data` of a query answer, by `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Vector(Vec<Sample>),
    Matrix(Vec<RangeSeries>),
    Scalar { time: f64, value: f64 },
    String { time: f64, value: String },
}

/// A successful answer and the warnings the server attached (e.g. Thanos' partial responses).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub data: T,
    pub warnings: Vec<String>,
}

/// Why a request to the Prometheus API did not produce data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    /// The server answered with `"status": "error"`.
    #[error("{}", describe_api_error(.error_type, .message))]
    Api {
        http_status: u16,
        error_type: String,
        message: String,
    },
    #[error("HTTP {0}: {1}")]
    Http(u16, String),
    #[error(
        "HTTP {0}: the server wants credentials (check --basic-auth-user/--basic-auth-password-env or --header)"
    )]
    Auth(u16),
    #[error("no answer within {0:?} (raise --timeout, or shorten the window)")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("answer larger than the {0} MiB limit (raise --max-body-mib)")]
    TooLarge(usize),
    #[error("not a Prometheus API answer: {0}")]
    Decode(String),
}

impl PromError {
    /// `bad_data` & co., for callers that react to a kind of error.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            PromError::Api { error_type, .. } => Some(error_type),
            _ => None,
        }
    }
}

fn describe_api_error(error_type: &str, message: &str) -> String {
    let hint = if message.contains("exceeded maximum resolution") {
        " — the window has too many points for its step: llmtop keeps the step above window/11000, so a proxy in between lowered the limit"
    } else if error_type == "timeout" {
        " — the server gave up: shorten the window or narrow --selector"
    } else if message.contains("many-to-many") || message.contains("duplicate series") {
        " — the selector matches series that differ only in dropped labels"
    } else {
        ""
    };
    format!("Prometheus {error_type}: {message}{hint}")
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    /// Prometheus ≥ 2.45 splits notes into `infos`; they are kept with the warnings.
    #[serde(default)]
    infos: Vec<String>,
}

/// Parses a sample value: the API sends numbers as strings so that `NaN`, `+Inf` and `-Inf` survive JSON.
pub fn parse_value(text: &str) -> Result<f64, PromError> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        other => other
            .parse::<f64>()
            .map_err(|_| PromError::Decode(format!("{other:?} is not a sample value"))),
    }
}

/// `[time, "value"]` as sent in vectors, matrices and scalars.
fn parse_pair(pair: &serde_json::Value) -> Result<(f64, f64), PromError> {
    let bad = || PromError::Decode(format!("{pair} is not a [time, \"value\"] pair"));
    let arr = pair.as_array().ok_or_else(bad)?;
    let [time, value] = arr.as_slice() else {
        return Err(bad());
    };
    let time = time.as_f64().ok_or_else(bad)?;
    let value = parse_value(value.as_str().ok_or_else(bad)?)?;
    Ok((time, value))
}

fn parse_labels(metric: Option<&serde_json::Value>) -> Result<Labels, PromError> {
    let Some(metric) = metric else {
        return Ok(Labels::new());
    };
    let obj = metric
        .as_object()
        .ok_or_else(|| PromError::Decode(format!("{metric} is not a label set")))?;
    obj.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|v| (k.clone(), v.to_string()))
                .ok_or_else(|| PromError::Decode(format!("label {k} is not a string")))
        })
        .collect()
}

/// Checks the envelope of any API answer and returns its `data`. A non-2xx status without a
/// JSON error body (a proxy's HTML page) becomes [`PromError::Http`].
pub fn parse_envelope(
    http_status: u16,
    body: &[u8],
) -> Result<Answer<serde_json::Value>, PromError> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) => {
            if http_status == 401 || http_status == 403 {
                return Err(PromError::Auth(http_status));
            }
            if !(200..300).contains(&http_status) {
                let text = String::from_utf8_lossy(body);
                let excerpt: String = text.trim().chars().take(160).collect();
                return Err(PromError::Http(http_status, excerpt));
            }
            return Err(PromError::Decode(e.to_string()));
        }
    };
    let mut warnings = envelope.warnings;
    warnings.extend(envelope.infos);
    if envelope.status != "success" {
        return Err(PromError::Api {
            http_status,
            error_type: envelope.error_type.unwrap_or_else(|| "error".to_string()),
            message: envelope.error.unwrap_or_default(),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| PromError::Decode("a success answer without data".to_string()))?;
    Ok(Answer { data, warnings })
}

/// Parses the answer of `/api/v1/query` or `/api/v1/query_range`.
pub fn parse_query(http_status: u16, body: &[u8]) -> Result<Answer<QueryData>, PromError> {
    let answer = parse_envelope(http_status, body)?;
    let data = &answer.data;
    let result_type = data["resultType"].as_str().unwrap_or("");
    let result = &data["result"];
    let list = || {
        result
            .as_array()
            .ok_or_else(|| PromError::Decode(format!("a {result_type} without a result list")))
    };
    let parsed = match result_type {
        "vector" => QueryData::Vector(
            list()?
                .iter()
                .map(|el| {
                    let (time, value) = parse_pair(&el["value"])?;
                    Ok(Sample {
                        labels: parse_labels(el.get("metric"))?,
                        time,
                        value,
                    })
                })
                .collect::<Result<_, PromError>>()?,
        ),
        "matrix" => QueryData::Matrix(
            list()?
                .iter()
                .map(|el| {
                    let points = el["values"]
                        .as_array()
                        .map(|vs| vs.iter().map(parse_pair).collect::<Result<Vec<_>, _>>())
                        .transpose()?
                        .unwrap_or_default();
                    Ok(RangeSeries {
                        labels: parse_labels(el.get("metric"))?,
                        points,
                    })
                })
                .collect::<Result<_, PromError>>()?,
        ),
        "scalar" => {
            let (time, value) = parse_pair(result)?;
            QueryData::Scalar { time, value }
        }
        "string" => {
            let bad = || PromError::Decode(format!("{result} is not a string result"));
            let arr = result.as_array().ok_or_else(bad)?;
            let time = arr.first().and_then(|t| t.as_f64()).ok_or_else(bad)?;
            let value = arr.get(1).and_then(|v| v.as_str()).ok_or_else(bad)?;
            QueryData::String {
                time,
                value: value.to_string(),
            }
        }
        other => return Err(PromError::Decode(format!("unknown resultType {other:?}"))),
    };
    Ok(Answer {
        data: parsed,
        warnings: answer.warnings,
    })
}

/// Parses `/api/v1/series`: a list of label sets.
pub fn parse_series(http_status: u16, body: &[u8]) -> Result<Answer<Vec<Labels>>, PromError> {
    let answer = parse_envelope(http_status, body)?;
    let list = answer
        .data
        .as_array()
        .ok_or_else(|| PromError::Decode("series data is not a list".to_string()))?
        .iter()
        .map(|m| parse_labels(Some(m)))
        .collect::<Result<_, _>>()?;
    Ok(Answer {
        data: list,
        warnings: answer.warnings,
    })
}

/// Parses `/api/v1/label/<name>/values`: a list of strings.
pub fn parse_label_values(http_status: u16, body: &[u8]) -> Result<Answer<Vec<String>>, PromError> {
    let answer = parse_envelope(http_status, body)?;
    let list = answer
        .data
        .as_array()
        .ok_or_else(|| PromError::Decode("label values are not a list".to_string()))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| PromError::Decode(format!("{v} is not a label value")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Answer {
        data: list,
        warnings: answer.warnings,
    })
}

/// The step of a range query over `[start, end]`: at least `wanted`, whole seconds, and never so
/// small that a series would have more than [`MAX_POINTS`] points.
pub fn safe_step(start: f64, end: f64, wanted: f64) -> f64 {
    let span = (end - start).max(0.0);
    let floor = (span / (MAX_POINTS - 1.0)).ceil();
    wanted.max(floor).max(1.0).ceil()
}

/// A Prometheus API client bound to one server.
#[derive(Clone)]
pub struct PromClient {
    http: reqwest::Client,
    config: PromConfig,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromClient")
            .field("config", &self.config)
            .finish()
    }
}

impl PromClient {
    pub fn new(http: reqwest::Client, config: PromConfig) -> Self {
        Self { http, config }
    }

    pub fn config(&self) -> &PromConfig {
        &self.config
    }

    /// The URL of an API path under the base (prefix kept).
    pub fn endpoint(&self, path: &str) -> Result<url::Url, PromError> {
        self.config
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| PromError::Decode(format!("cannot build the URL for {path}: {e}")))
    }

    /// Sends one API request with `params` (plus the server-side timeout and Thanos' flags) and
    /// returns the status and the body, capped.
    async fn call(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<(u16, Vec<u8>), PromError> {
        let url = self.endpoint(path)?;
        let mut all: Vec<(&str, String)> = params.to_vec();
        let query_call = path.contains("query");
        if query_call {
            all.push((
                "timeout",
                format!("{}s", self.config.timeout.as_secs().max(1)),
            ));
        }
        if self.config.thanos {
            all.push(("partial_response", "true".to_string()));
            if query_call {
                all.push(("dedup", "true".to_string()));
            }
        }
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let request = if encoded.len() > POST_ABOVE_BYTES && path != "api/v1/series" {
            self.http
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encoded)
        } else {
            let mut url = url;
            url.set_query(Some(&encoded));
            self.http.get(url)
        };
        let mut request = request
            .headers(self.config.headers.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(self.config.timeout);
        if let Some((user, password)) = &self.config.basic_auth {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request.send().await.map_err(|e| self.request_error(&e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.request_error(&e))?;
            if body.len() + chunk.len() > self.config.max_body_bytes {
                return Err(PromError::TooLarge(
                    self.config.max_body_bytes / (1024 * 1024),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn request_error(&self, e: &reqwest::Error) -> PromError {
        if e.is_timeout() {
            return PromError::Timeout(self.config.timeout);
        }
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        PromError::Connect(cause.to_string())
    }

    /// `GET /api/v1/query`: `expr` evaluated at `time` (unix seconds).
    pub async fn query(&self, expr: &str, time: f64) -> Result<Answer<QueryData>, PromError> {
        let (status, body) = self
            .call(
                "api/v1/query",
                &[("query", expr.to_string()), ("time", format_time(time))],
            )
            .await?;
        parse_query(status, &body)
    }

    /// `GET /api/v1/query_range` over `[start, end]` every `step` seconds (raised by
    /// [`safe_step`] when needed).
    pub async fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Answer<Vec<RangeSeries>>, PromError> {
        let step = safe_step(start, end, step);
        let (status, body) = self
            .call(
                "api/v1/query_range",
                &[
                    ("query", expr.to_string()),
                    ("start", format_time(start)),
                    ("end", format_time(end)),
                    ("step", format!("{step}")),
                ],
            )
            .await?;
        let answer = parse_query(status, &body)?;
        match answer.data {
            QueryData::Matrix(series) => Ok(Answer {
                data: series,
                warnings: answer.warnings,
            }),
            other => Err(PromError::Decode(format!(
                "query_range answered with {} instead of a matrix",
                result_type_name(&other)
            ))),
        }
    }

    /// `GET /api/v1/series` for the given selectors over `[start, end]`.
    pub async fn series(
        &self,
        matchers: &[&str],
        start: f64,
        end: f64,
    ) -> Result<Answer<Vec<Labels>>, PromError> {
        let mut params: Vec<(&str, String)> = matchers
            .iter()
            .map(|m| ("match[]", m.to_string()))
            .collect();
        params.push(("start", format_time(start)));
        params.push(("end", format_time(end)));
        let (status, body) = self.call("api/v1/series", &params).await?;
        parse_series(status, &body)
    }

    /// `GET /api/v1/label/__name__/values`, restricted to series matching `matcher` if given.
    pub async fn metric_names(
        &self,
        matcher: Option<&str>,
    ) -> Result<Answer<Vec<String>>, PromError> {
        let params: Vec<(&str, String)> = matcher
            .map(|m| vec![("match[]", m.to_string())])
            .unwrap_or_default();
        let (status, body) = self.call("api/v1/label/__name__/values", &params).await?;
        parse_label_values(status, &body)
    }
}

fn result_type_name(data: &QueryData) -> &'static str {
    match data {
        QueryData::Vector(_) => "a vector",
        QueryData::Matrix(_) => "a matrix",
        QueryData::Scalar { .. } => "a scalar",
        QueryData::String { .. } => "a string",
    }
}

/// Unix seconds with millisecond precision, as the API accepts them.
fn format_time(t: f64) -> String {
    format!("{:.3}", t)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers written after the shapes in the Prometheus HTTP API documentation
    // (prometheus.io/docs/prometheus/latest/querying/api/#expression-query-result-formats).

    #[test]
    fn a_vector_with_nan_and_infinities() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"instance":"a:4000","job":"gw"},"value":[1435781451.781,"1.5"]},
            {"metric":{"instance":"b:4000"},"value":[1435781451.781,"NaN"]},
            {"metric":{"instance":"c:4000"},"value":[1435781451.781,"+Inf"]},
            {"metric":{"instance":"d:4000"},"value":[1435781451.781,"-Inf"]},
            {"metric":{},"value":[1435781451.781,"2e-3"]}]}}"#;
        let answer = parse_query(200, body).unwrap();
        let QueryData::Vector(v) = answer.data else {
            panic!("not a vector")
        };
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].labels["instance"], "a:4000");
        assert_eq!(v[0].labels["job"], "gw");
        assert_eq!(v[0].time, 1435781451.781);
        assert_eq!(v[0].value, 1.5);
        assert!(v[1].value.is_nan());
        assert_eq!(v[2].value, f64::INFINITY);
        assert_eq!(v[3].value, f64::NEG_INFINITY);
        assert!(v[4].labels.is_empty());
        assert_eq!(v[4].value, 0.002);
        assert!(answer.warnings.is_empty());
    }

    #[test]
    fn a_matrix_of_two_series() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},
             "values":[[1435781430.781,"1"],[1435781445.781,"1"],[1435781460.781,"1"]]},
            {"metric":{"__name__":"up","job":"node","instance":"localhost:9091"},
             "values":[[1435781430.781,"0"],[1435781445.781,"0"],[1435781460.781,"NaN"]]}]}}"#;
        let answer = parse_query(200, body).unwrap();
        let QueryData::Matrix(m) = answer.data else {
            panic!("not a matrix")
        };
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].points,
            vec![
                (1435781430.781, 1.0),
                (1435781445.781, 1.0),
                (1435781460.781, 1.0)
            ]
        );
        assert_eq!(m[1].labels["job"], "node");
        assert_eq!(m[1].points[1], (1435781445.781, 0.0));
        assert!(m[1].points[2].1.is_nan());
    }

    #[test]
    fn a_scalar_and_a_string() {
        let scalar = parse_query(
            200,
            br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#,
        )
        .unwrap();
        assert_eq!(
            scalar.data,
            QueryData::Scalar {
                time: 1_700_000_000.0,
                value: 42.0
            }
        );
        let string = parse_query(
            200,
            br#"{"status":"success","data":{"resultType":"string","result":[1700000000,"hi"]}}"#,
        )
        .unwrap();
        assert_eq!(
            string.data,
            QueryData::String {
                time: 1_700_000_000.0,
                value: "hi".into()
            }
        );
    }

    #[test]
    fn bad_data_is_an_api_error_with_its_type() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error: unexpected \")\""}"#;
        let err = parse_query(400, body).unwrap_err();
        assert_eq!(err.error_type(), Some("bad_data"));
        assert_eq!(
            err.to_string(),
            "Prometheus bad_data: invalid parameter \"query\": 1:6: parse error: unexpected \")\""
        );
    }

    #[test]
    fn the_11000_points_limit_is_explained() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#;
        let err = parse_query(400, body).unwrap_err();
        assert_eq!(err.error_type(), Some("bad_data"));
        let text = err.to_string();
        assert!(
            text.starts_with("Prometheus bad_data: exceeded maximum resolution of 11,000 points"),
            "{text}"
        );
        assert!(text.contains("window/11000"), "{text}");
    }

    #[test]
    fn a_server_timeout_is_an_api_error() {
        let body = br#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
        let err = parse_query(503, body).unwrap_err();
        assert_eq!(
            err,
            PromError::Api {
                http_status: 503,
                error_type: "timeout".into(),
                message: "query timed out in expression evaluation".into()
            }
        );
        assert!(err.to_string().contains("shorten the window"));
    }

    #[test]
    fn warnings_and_infos_are_kept() {
        let body = br#"{"status":"success","warnings":["partial response: store 10.0.0.1:10901 unavailable"],"infos":["PromQL info: metric might not be a counter"],"data":{"resultType":"vector","result":[]}}"#;
        let answer = parse_query(200, body).unwrap();
        assert_eq!(answer.data, QueryData::Vector(vec![]));
        assert_eq!(
            answer.warnings,
            vec![
                "partial response: store 10.0.0.1:10901 unavailable".to_string(),
                "PromQL info: metric might not be a counter".to_string()
            ]
        );
    }

    #[test]
    fn a_proxy_page_and_an_auth_wall_are_http_errors() {
        assert_eq!(
            parse_query(502, b"<html><body>Bad Gateway</body></html>").unwrap_err(),
            PromError::Http(502, "<html><body>Bad Gateway</body></html>".into())
        );
        assert_eq!(
            parse_query(401, b"Unauthorized").unwrap_err(),
            PromError::Auth(401)
        );
        assert!(matches!(
            parse_query(200, b"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"x\"]}]}}").unwrap_err(),
            PromError::Decode(_)
        ));
    }

    #[test]
    fn series_and_label_values() {
        let series = parse_series(
            200,
            br#"{"status":"success","data":[{"__name__":"up","job":"prometheus","instance":"localhost:9090"},{"__name__":"process_start_time_seconds","job":"prometheus","instance":"localhost:9090"}]}"#,
        )
        .unwrap();
        assert_eq!(series.data.len(), 2);
        assert_eq!(series.data[1]["__name__"], "process_start_time_seconds");
        let names = parse_label_values(
            200,
            br#"{"status":"success","data":["deepseek_requests_total","up"]}"#,
        )
        .unwrap();
        assert_eq!(names.data, vec!["deepseek_requests_total", "up"]);
    }

    #[test]
    fn base_urls_keep_their_prefix() {
        let cases = [
            ("localhost:9090", "http://localhost:9090/"),
            ("http://prom:9090/", "http://prom:9090/"),
            (
                "https://mimir.example/prometheus",
                "https://mimir.example/prometheus/",
            ),
            (
                "http://vmselect:8481/select/0/prometheus",
                "http://vmselect:8481/select/0/prometheus/",
            ),
            (
                "http://prom:9090/api/v1/query?query=up",
                "http://prom:9090/",
            ),
            ("http://prom:9090/graph?g0.expr=up", "http://prom:9090/"),
        ];
        for (input, want) in cases {
            let base = base_url(input).unwrap();
            assert_eq!(base.as_str(), want, "{input}");
            assert_eq!(
                base.join("api/v1/query").unwrap().as_str(),
                format!("{want}api/v1/query")
            );
        }
        assert!(base_url("ftp://x").is_err());
        assert!(base_url(" ").is_err());
    }

    #[test]
    fn steps_stay_under_the_points_limit() {
        assert_eq!(safe_step(0.0, 300.0, 2.5), 3.0);
        assert_eq!(safe_step(0.0, 300.0, 0.1), 1.0);
        // 30 days at a 1 s step would be 2.6 M points: raised to 236 s (10 985 points).
        let step = safe_step(0.0, 30.0 * 86_400.0, 1.0);
        assert_eq!(step, 236.0);
        assert!(30.0 * 86_400.0 / step + 1.0 <= MAX_POINTS);
    }

    #[test]
    fn debug_never_shows_header_values_or_the_password() {
        let mut headers = HeaderMap::new();
        headers.insert("x-scope-orgid", HeaderValue::from_static("tenant-canary"));
        let config = PromConfig {
            base: base_url("http://prom:9090").unwrap(),
            headers,
            basic_auth: Some(("12345".into(), Secret::new("glc_canary_password"))),
            thanos: false,
            timeout: Duration::from_secs(10),
            max_body_bytes: 1024,
        };
        let text = format!("{config:?}");
        assert!(text.contains("x-scope-orgid"), "{text}");
        assert!(!text.contains("tenant-canary"), "{text}");
        assert!(!text.contains("glc_canary_password"), "{text}");
    }
}
