//! The HTTP/1.1 server: accepts connections, bounds what a client can make
//! it hold (connections, header and body size, time to send headers or a
//! body, idle keep-alive time), adds the configured latency and hands each
//! request to `dispatch`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::answer::{Answer, ApiError};
use super::dispatch::{self, Reply, json_reply};
use super::state::State;

/// What one client can make the server hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Time to send a request's headers, and how long an idle keep-alive
    /// connection is kept (the wait for the next request's headers).
    pub header_timeout: Duration,
    /// Time to send a request's body.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1024 * 1024,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(20),
            max_connections: 1024,
        }
    }
}

/// Largest request head (request line and headers), bytes.
const MAX_HEAD: usize = 64 * 1024;

/// A request the service function could not answer: the connection is
/// dropped, as the fault injector and slow clients want.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection dropped by the simulator")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    serve_with(listener, state, shutdown, Limits::default()).await;
}

/// [`serve`] with explicit limits.
pub(crate) async fn serve_with(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: CancellationToken,
    limits: Limits,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors or similar: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| handle(state.clone(), limits, request));
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

async fn handle(
    state: Arc<State>,
    limits: Limits,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let hopeless = declared.is_some_and(|n| n > (limits.max_body + DRAIN) as u64);
    if hopeless {
        return Ok(too_large(&state, limits));
    }
    let body =
        match tokio::time::timeout(limits.body_timeout, read_body(body, limits.max_body)).await {
            Ok(Ok(Some(body))) => body,
            Ok(Ok(None)) => return Ok(too_large(&state, limits)),
            // A body that never arrives, or a broken connection.
            Ok(Err(_)) | Err(_) => return Err(Dropped),
        };
    // Carried out on a task of its own: Cognito applies a request whose
    // client has gone away (a killed run), and so must the simulator, or a
    // crash test never meets "applied, but the answer lost".
    let shared = state.clone();
    let task = tokio::spawn(async move {
        let path = parts.uri.path();
        let latency = state.config.latency;
        if !latency.is_zero() && !state.config.static_answers && path != "/_sim/stats" {
            tokio::time::sleep(latency).await;
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        dispatch::respond(
            &state,
            &dispatch::Request {
                method: &parts.method,
                path,
                target: header("x-amz-target"),
                content_type: header("content-type"),
                authorization: header("authorization"),
                body: &body,
            },
        )
    });
    let reply = task.await.map_err(|_| Dropped)?;
    if let Some(held) = &reply.held {
        // Never applied: the gate refused it before the service saw it.
        while shared.outage_now(held.region.as_deref()) {
            tokio::time::sleep(HOLD_POLL).await;
        }
        return Err(Dropped);
    }
    if reply.drop {
        return Err(Dropped);
    }
    Ok(response(reply, false))
}

/// How often a request held by an outage looks whether it is over.
const HOLD_POLL: Duration = Duration::from_millis(20);

/// Bytes of an oversized body read and thrown away before answering, so
/// the answer is not lost to a reset from closing on unread data.
const DRAIN: usize = 4 * 1024 * 1024;

/// The body, or `None` when it is larger than `max` (what came beyond it,
/// up to [`DRAIN`] bytes, is read and discarded, never kept).
async fn read_body(mut body: Incoming, max: usize) -> Result<Option<Bytes>, hyper::Error> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= max {
            kept.extend_from_slice(&data);
        } else if total > max + DRAIN {
            break;
        }
    }
    Ok((total <= max).then(|| Bytes::from(kept)))
}

/// The answer to a body over the limit; the connection is closed after it,
/// since the rest of the body is never read.
fn too_large(state: &State, limits: Limits) -> Response<Full<Bytes>> {
    let error = ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "RequestEntityTooLargeException".into(),
        message: format!("Request body exceeds {} bytes.", limits.max_body),
    };
    response(json_reply(Answer::Err(error), state.request_id()), true)
}

fn response(reply: Reply, close: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Ok(id) = HeaderValue::from_str(&reply.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    // Scripted error codes come from seeds; one that is not header-safe is
    // still answered, in the body.
    if let Some(Ok(code)) = reply.error_type.map(|c| HeaderValue::from_str(&c)) {
        headers.insert("x-amzn-errortype", code);
    }
    if close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
