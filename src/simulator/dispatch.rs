//! From an HTTP request's parts to an answer, with no I/O: routes the stats
//! page, STS's Query protocol and Cognito's JSON 1.1 protocol, and turns
//! every outcome into a status, headers and a body. Kept apart from the
//! server so that tests can throw anything at it directly.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::answer::{Answer, ApiError, err, serialization};
use super::canned;
use super::config::OutageMode;
use super::gate::Refusal;
use super::ops::{GET_CALLER_IDENTITY, Op};
use super::sigv4::Signer;
use super::state::State;
use super::sts::{self, XmlReply};

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
    /// `Authorization`, if present and text.
    pub authorization: Option<&'a str>,
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
    /// Send nothing and drop the connection (an injected fault, an
    /// outage).
    pub drop: bool,
    /// Send nothing while the outage lasts, then drop the connection.
    pub held: Option<Held>,
}

/// A request held unanswered by an outage.
#[derive(Debug)]
pub(crate) struct Held {
    /// The region it was signed for, which decides when the outage ends.
    pub region: Option<String>,
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
    let query = request.target.is_none() && form;
    if let Some(reply) = refused(state, request, query, &request_id) {
        return reply;
    }
    if query {
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

/// The answer to a request the gate refuses (counted as a call of its
/// operation, when it names one), in the protocol it came in.
fn refused(state: &State, request: &Request, query: bool, request_id: &str) -> Option<Reply> {
    if state.config.static_answers {
        return None;
    }
    let signer = request.authorization.and_then(Signer::parse);
    let refusal = state.refusal(signer.as_ref())?;
    if let Refusal::Outage(mode @ (OutageMode::Close | OutageMode::Hang)) = refusal {
        let mut reply = json_reply(Answer::Drop, request_id.to_owned());
        if mode == OutageMode::Hang {
            let region = signer.map(|s| s.region);
            reply.held = Some(Held { region });
        }
        return Some(reply);
    }
    if query {
        if sts::is_get_caller_identity(request.body) {
            state.count(GET_CALLER_IDENTITY);
        }
        return Some(xml_reply(
            sts::refused(refusal, request_id),
            request_id.to_owned(),
        ));
    }
    let op = request
        .target
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .and_then(Op::from_name);
    if let Some(op) = op {
        state.arrived(op);
        state.count(op.name());
    }
    Some(refusal_reply(refusal, request_id.to_owned()))
}

fn refusal_reply(refusal: Refusal, request_id: String) -> Reply {
    json_reply(Answer::Err(refusal.error()), request_id)
}

fn query_reply(state: &State, body: &[u8], request_id: String) -> Reply {
    let xml = if state.config.static_answers && sts::is_get_caller_identity(body) {
        state.count_static(None);
        sts::identity(&request_id)
    } else {
        sts::answer(state, body, &request_id)
    };
    xml_reply(xml, request_id)
}

fn xml_reply(xml: XmlReply, request_id: String) -> Reply {
    Reply {
        status: xml.status,
        content_type: "text/xml",
        body: Bytes::from(xml.body),
        error_type: xml.error.map(str::to_owned),
        request_id,
        drop: false,
        held: None,
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
        held: None,
    }
}
