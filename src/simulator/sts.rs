//! STS GetCallerIdentity on the simulator's endpoint, so a client pointed at
//! it with a shared endpoint URL can check its credentials. STS speaks the
//! AWS Query protocol: a form-encoded POST answered in XML.

use hyper::StatusCode;

use super::gate::Refusal;
use super::ops::GET_CALLER_IDENTITY;
use super::state::State;

const VERSION: &str = "2011-06-15";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The identity every caller has.
pub(crate) const ARN: &str = "arn:aws:iam::000000000000:user/simulator";
const ACCOUNT: &str = "000000000000";
const USER_ID: &str = "AIDASIMULATOR00000000";

/// An XML answer: status, body, and the error code if it is one.
pub(crate) struct XmlReply {
    pub status: StatusCode,
    pub body: String,
    pub error: Option<&'static str>,
}

/// Answers one Query-protocol request.
pub(crate) fn answer(state: &State, body: &[u8], request_id: &str) -> XmlReply {
    let form = parse_form(body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(action) = field("Action") else {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "Missing Action",
            request_id,
        );
    };
    if action != GET_CALLER_IDENTITY || field("Version") != Some(VERSION) {
        let version = field("Version").unwrap_or("");
        let message = format!("Could not find operation {action} for version {version}");
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &message,
            request_id,
        );
    }
    state.count(GET_CALLER_IDENTITY);
    if state.config.deny.contains(GET_CALLER_IDENTITY) {
        let message = format!(
            "User: {ARN} is not authorized to perform: sts:GetCallerIdentity because no \
             identity-based policy allows the sts:GetCallerIdentity action"
        );
        return error(StatusCode::FORBIDDEN, "AccessDenied", &message, request_id);
    }
    identity(request_id)
}

/// STS's answer to a request the gate refuses, as real STS words it.
pub(crate) fn refused(refusal: Refusal, request_id: &str) -> XmlReply {
    match refusal {
        Refusal::ExpiredToken => error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The security token included in the request is expired",
            request_id,
        ),
        Refusal::InvalidToken => error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            request_id,
        ),
        Refusal::Outage(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            request_id,
        ),
    }
}

/// The answer benchmark mode gives any well-formed Query request.
pub(crate) fn identity(request_id: &str) -> XmlReply {
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">\n  <GetCallerIdentityResult>\n    \
         <Arn>{ARN}</Arn>\n    <UserId>{USER_ID}</UserId>\n    <Account>{ACCOUNT}</Account>\n  \
         </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  \
         </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        escape(request_id)
    );
    XmlReply {
        status: StatusCode::OK,
        body,
        error: None,
    }
}

fn error(status: StatusCode, code: &'static str, message: &str, request_id: &str) -> XmlReply {
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
         <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
         <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        escape(message),
        escape(request_id)
    );
    XmlReply {
        status,
        body,
        error: Some(code),
    }
}

/// Whether benchmark mode should answer this body with an identity.
pub(crate) fn is_get_caller_identity(body: &[u8]) -> bool {
    let form = parse_form(body);
    form.iter()
        .any(|(k, v)| k == "Action" && v == GET_CALLER_IDENTITY)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|pair| hex_pair(pair[0], pair[1]));
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_escapes_and_junk() {
        let form = parse_form(b"Action=GetCallerIdentity&Version=2011%2D06%2D15&x=a+b&%zz=%4");
        assert_eq!(form[0], ("Action".into(), "GetCallerIdentity".into()));
        assert_eq!(form[1], ("Version".into(), "2011-06-15".into()));
        assert_eq!(form[2], ("x".into(), "a b".into()));
        assert_eq!(form[3], ("%zz".into(), "%4".into()));
    }

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(
            escape("<a & 'b'>\u{1}"),
            "&lt;a &amp; &apos;b&apos;&gt;\u{fffd}"
        );
    }
}
