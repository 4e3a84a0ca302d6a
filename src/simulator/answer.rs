//! What an operation answers, before it becomes HTTP: a result, a service
//! error, or nothing at all (the connection is dropped).

use hyper::StatusCode;
use serde_json::Value;

/// A service error: HTTP status, `__type` and message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Ok(Value),
    Err(ApiError),
    /// Carried out, then the connection is dropped before any answer.
    Drop,
}

/// A client error (HTTP 400), the status of every modelled Cognito error.
pub(crate) fn err(code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: code.to_owned(),
        message: message.into(),
    }
}

/// [`err`] as an [`Answer`].
pub(crate) fn fail(code: &str, message: impl Into<String>) -> Answer {
    Answer::Err(err(code, message))
}

/// InvalidParameterException, Cognito's answer to most bad input.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    err("InvalidParameterException", message)
}

/// SerializationException: the body is not the JSON the operation takes.
pub(crate) fn serialization(message: impl Into<String>) -> ApiError {
    err("SerializationException", message)
}

impl Answer {
    /// The error code, `ok` or `drop`: for tests.
    #[cfg(test)]
    pub(crate) fn code(&self) -> String {
        match self {
            Answer::Ok(_) => "ok".into(),
            Answer::Err(e) => e.code.clone(),
            Answer::Drop => "drop".into(),
        }
    }
}
