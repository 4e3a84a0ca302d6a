//! What a row read back from a report means: the [`Meaning`] its life gave
//! it when it was written, recovered from its columns and the words its
//! message was written with (the same constants), so that a resume counts an
//! earlier run's rows as that run counted them.

use super::{
    ALREADY_DISABLED, CONFIRMED_PREFIX, EXCLUDED_AFTER_FAILURE, FEDERATED, KEEPS,
    KEPT_FAILED_THEN_EXCLUDED, LOST_ANSWER_CANCELLED, RESENT_AFTER_CHECK, RESENT_UNCHECKED,
    UNKNOWN_STATE_KEPT, WOULD_DISABLE, WOULD_KEEP,
};
use crate::cognito::means_no_user;
use crate::report::{Meaning, Outcome, Record, ResetBy};

/// Whether a `failed` row is final for its user, who holds no password a
/// reset could end: federated, or already disabled. A resume leaves it be.
pub fn unresettable(record: &Record) -> bool {
    let message = record.error_message.as_str();
    record.outcome == Outcome::Failed
        && (message.starts_with(FEDERATED) || message.contains(ALREADY_DISABLED))
}

/// The meaning of a record read back from a report.
pub fn meaning_of(record: &Record) -> Meaning {
    let message = record.error_message.as_str();
    let code = record.error_code.as_str();
    let federated = message.starts_with(FEDERATED);
    let mut meaning = Meaning {
        federated,
        ..Meaning::default()
    };
    match record.outcome {
        Outcome::Reset => {
            meaning.reset_by = Some(reset_by(message));
            meaning.maybe_two_codes =
                message.contains(RESENT_UNCHECKED) || message.contains(RESENT_AFTER_CHECK);
        }
        Outcome::Failed if federated || message.contains(ALREADY_DISABLED) => {}
        Outcome::Failed if means_no_user(code) => {}
        Outcome::Failed => meaning.kept_password = Some(kept_after_failure(code, message)),
        Outcome::Cancelled if message.starts_with(LOST_ANSWER_CANCELLED) => {
            meaning.kept_password = Some(
                "maybe not reset: a reset's answer was lost and the run stopped before checking"
                    .into(),
            );
        }
        Outcome::Cancelled => {
            meaning.kept_password = Some("not reset: the run stopped first".into())
        }
        Outcome::WouldFail if message.ends_with(WOULD_DISABLE) => meaning.would_disable = true,
        Outcome::WouldFail if message.ends_with(WOULD_KEEP) => {
            meaning.kept_password = unreachable_named(message, WOULD_KEEP);
        }
        _ => {}
    }
    meaning
}

fn reset_by(message: &str) -> ResetBy {
    if message.starts_with(CONFIRMED_PREFIX) {
        ResetBy::Confirmed
    } else if message.starts_with("reset by an earlier run") {
        ResetBy::Earlier
    } else {
        ResetBy::Sent
    }
}

/// Why a user whose row failed keeps a working password, worded as the
/// run that wrote the row worded it.
fn kept_after_failure(code: &str, message: &str) -> String {
    if code == EXCLUDED_AFTER_FAILURE {
        return KEPT_FAILED_THEN_EXCLUDED.into();
    }
    if code == "StateUnknown" {
        return UNKNOWN_STATE_KEPT.into();
    }
    message
        .find(KEEPS)
        .map(|at| &message[at + KEEPS.len()..])
        .and_then(|rest| rest.find(')').map(|end| rest[..end].to_owned()))
        .unwrap_or_else(|| format!("not reset: {code}"))
}

/// A dry run's "(why); the user would keep a working password".
fn unreachable_named(message: &str, tail: &str) -> Option<String> {
    let head = message.strip_suffix(tail)?.strip_suffix("); ")?;
    let open = head.rfind(" (")?;
    Some(head[open + 2..].to_owned())
}

/// What a `skipped` row says was done to its user earlier: reset or
/// disabled (by an earlier run, or as another report records), or `None`
/// (found federated or already disabled: no reset).
pub fn skipped_as(record: &Record) -> Option<Outcome> {
    let message = record.error_message.as_str();
    [Outcome::Reset, Outcome::Disabled].into_iter().find(|o| {
        message
            .strip_prefix(o.as_str())
            .is_some_and(|rest| rest.starts_with(" by "))
    })
}
