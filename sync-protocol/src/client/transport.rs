//! The client's view of HTTP: one request in, one response (or a transport error)
//! out. A small trait so tests and the simulator can put fakes and fault injectors
//! between the client and the server.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// A boxed, sendable future, as the object-safe [`Transport`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The HTTP methods the client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One API request. `path` is relative to the server's base URL, for example
/// `/api/v1/sync/push`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// The access token, sent as `Authorization: Bearer …`.
    pub bearer: Option<String>,
    /// A JSON body.
    pub body: Option<Value>,
}

impl Request {
    /// A `POST` of a JSON body.
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self { method: Method::Post, path: path.into(), bearer: None, body: Some(body) }
    }

    /// The same request with a bearer token.
    pub fn with_bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }
}

/// What came back.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    /// The `Retry-After` header, in seconds (429 and 503 carry it).
    pub retry_after: Option<Duration>,
    /// The body as JSON: `null` when empty, a JSON string when it is not JSON.
    pub body: Value,
}

impl Response {
    /// A response with a JSON body and no `Retry-After`.
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, retry_after: None, body }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The stable error code of an error body (`{"error": {"code": …}}`), if any.
    pub fn error_code(&self) -> Option<crate::ErrorCode> {
        self.body.pointer("/error/code").and_then(Value::as_str).map(crate::ErrorCode::parse)
    }
}

/// A request that got no HTTP response. Both kinds are retried; they differ in
/// whether the server may have processed the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request certainly did not reach the server (no connection).
    #[error("the request was not sent: {0}")]
    NotSent(String),
    /// The request may have reached the server, and may have been processed, but no
    /// response came back (timeout, connection reset, response lost).
    #[error("no response came back (the server may have processed the request): {0}")]
    NoResponse(String),
}

/// Sends requests to a landpatrol server.
///
/// Implementations do no retries and no authentication of their own: the
/// [`Client`](super::Client) does both, so a wrapper sees every attempt.
pub trait Transport: Send + Sync {
    /// Sends one request and waits for its response.
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        (**self).send(request)
    }
}

/// The HTTP transport, on `reqwest`.
///
/// The crate enables no TLS backend of `reqwest`: an app that talks HTTPS adds
/// `reqwest` with the TLS feature it wants, which cargo unifies into this one.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    http: reqwest::Client,
    base_url: String,
}

impl ReqwestTransport {
    /// Connect timeout of the default HTTP client.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Whole-request timeout of the default HTTP client.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// A transport to `base_url` (for example `http://127.0.0.1:8080`), with the
    /// default timeouts.
    pub fn new(base_url: impl Into<String>) -> Result<Self, TransportError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .timeout(Self::REQUEST_TIMEOUT)
            .build()
            .map_err(|e| TransportError::NotSent(format!("HTTP client: {e}")))?;
        Ok(Self::with_client(http, base_url))
    }

    /// A transport using a configured `reqwest` client.
    pub fn with_client(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { http, base_url: base_url.into().trim_end_matches('/').to_owned() }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn send_now(&self, request: Request) -> Result<Response, TransportError> {
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = match request.method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
        };
        if let Some(token) = &request.bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder.send().await.map_err(|e| {
            if e.is_connect() || e.is_builder() {
                TransportError::NotSent(e.to_string())
            } else {
                TransportError::NoResponse(e.to_string())
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| TransportError::NoResponse(e.to_string()))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Response { status, retry_after, body })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.send_now(request))
    }
}
