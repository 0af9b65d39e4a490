//! HTTP plumbing every handler shares: the body type, JSON replies and errors,
//! bounded JSON bodies, 429s for spent budgets, query values and bearer-token checks.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use arena_protocol::lobby::ApiError;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;

/// Why a streamed body stopped before its end (the connection is then cut).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: bytes in hand (nearly every answer), or a stream that is read as
/// it is sent (a replay download, which holds its download slot until its last byte).
#[derive(Debug)]
pub enum Body {
    Full(Full<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BodyError>),
}

impl Body {
    pub fn empty() -> Body {
        Body::from(Bytes::new())
    }

    pub fn stream<B>(body: B) -> Body
    where
        B: hyper::body::Body<Data = Bytes, Error = BodyError> + Send + 'static,
    {
        Body::Stream(body.boxed_unsync())
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::Full(Full::new(bytes))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full).poll_frame(cx).map_err(|never| match never {}),
            Body::Stream(stream) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(full) => full.is_end_stream(),
            Body::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(full) => full.size_hint(),
            Body::Stream(stream) => stream.size_hint(),
        }
    }
}

/// Largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Read a JSON body of at most [`MAX_BODY_BYTES`] that arrives within `deadline`
/// (a body trickled in byte by byte would otherwise hold its connection forever);
/// an empty body reads as `{}`.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>, deadline: Duration) -> Result<T, Response<Body>> {
    let collected = tokio::time::timeout(deadline, Limited::new(req.into_body(), MAX_BODY_BYTES).collect())
        .await
        .map_err(|_| error(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time"))?;
    let body = collected
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, &format!("bodies are limited to {MAX_BODY_BYTES} bytes")))?
        .to_bytes();
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store")
        .body(Body::from(Bytes::from(serde_json::to_vec(value).expect("JSON of our own types"))))
        .expect("json response")
}

/// A JSON error: `{"error": "…"}`.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &ApiError { error: message.to_string(), budget: None })
}

/// 429 for a spent per-client budget: `Retry-After` and a JSON error naming the budget.
pub fn over_budget(budget: &str, message: &str, retry_after: Duration) -> Response<Body> {
    let body = ApiError { error: message.to_string(), budget: Some(budget.to_string()) };
    let mut response = json(StatusCode::TOO_MANY_REQUESTS, &body);
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The first value of `key` in the request's query string.
pub fn query_value<B>(req: &Request<B>, key: &str) -> Option<String> {
    req.uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned()))
}

/// Whether the request's `Authorization: Bearer …` is `expected`.
pub fn bearer_matches<B>(req: &Request<B>, expected: &str) -> bool {
    let given = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    given.is_some_and(|given| same_secret(given, expected))
}

/// Compare in constant time, so a token cannot be guessed byte by byte from timings.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
