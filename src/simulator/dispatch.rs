//! From an HTTP request's parts to an answer, with no I/O: routes the stats
//! page, STS's Query protocol and Cognito's JSON 1.1 protocol, and turns
//! every outcome into a status, headers and a body. Kept apart from the
//! server so that tests can throw anything at it directly.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::answer::{Answer, ApiError, err, serialization};
use super::canned;
use super::ops::Op;
use super::state::State;
use super::sts;

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const JSON: &str = "application/x-amz-json-1.1";

/// The parts of a request the simulator looks at.
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// `X-Amz-Target`, if present and text.
    pub target: Option<&'a str>,
    /// `Content-Type`, if present and text.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// What to send back.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// `x-amzn-errortype`, for errors.
    pub error_type: Option<String>,
    pub request_id: String,
    /// Send nothing and drop the connection (an injected fault).
    pub drop: bool,
}

/// Answers one request.
pub(crate) fn respond(state: &State, request: &Request) -> Reply {
    let request_id = state.request_id();
    if request.method == Method::GET && request.path == "/_sim/stats" {
        let totals = serde_json::to_value(state.totals()).unwrap_or(Value::Null);
        return json_reply(Answer::Ok(totals), request_id);
    }
    state.request_arrived();
    let form = request.content_type.is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if request.target.is_none() && form {
        return query_reply(state, request.body, request_id);
    }
    let target = request.target.unwrap_or_default();
    let Some(op) = target.strip_prefix(TARGET_PREFIX).and_then(Op::from_name) else {
        let e = err(
            "UnknownOperationException",
            format!("Unknown operation {target:?}"),
        );
        return json_reply(Answer::Err(e), request_id);
    };
    let body = match json_object(request.body) {
        Ok(body) => body,
        Err(e) => {
            if state.config.static_answers {
                state.count_static(Some(op));
            } else {
                state.count(op.name());
            }
            return json_reply(Answer::Err(e), request_id);
        }
    };
    let answer = if state.config.static_answers {
        state.count_static(Some(op));
        canned::answer(state, op, &body)
    } else {
        state.call(op, &body)
    };
    json_reply(answer, request_id)
}

/// The body as a JSON object; an empty body is an empty input.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(serialization("Start of structure or map expected.")),
        Err(_) => Err(serialization("The request body is not valid JSON.")),
    }
}

fn query_reply(state: &State, body: &[u8], request_id: String) -> Reply {
    let xml = if state.config.static_answers && sts::is_get_caller_identity(body) {
        state.count_static(None);
        sts::identity(&request_id)
    } else {
        sts::answer(state, body, &request_id)
    };
    Reply {
        status: xml.status,
        content_type: "text/xml",
        body: Bytes::from(xml.body),
        error_type: xml.error.map(str::to_owned),
        request_id,
        drop: false,
    }
}

/// A JSON 1.1 reply for an answer.
pub(crate) fn json_reply(answer: Answer, request_id: String) -> Reply {
    let (status, body, error_type, drop) = match answer {
        Answer::Ok(value) => (StatusCode::OK, value, None, false),
        Answer::Err(e) => (
            e.status,
            json!({"__type": e.code, "message": e.message}),
            Some(e.code),
            false,
        ),
        Answer::Drop => (StatusCode::OK, Value::Null, None, true),
    };
    Reply {
        status,
        content_type: JSON,
        body: Bytes::from(body.to_string()),
        error_type,
        request_id,
        drop,
    }
}
