//! The transition table, step by step, without any call.

use super::*;
use crate::cognito::Class;

const REAL: Policy = Policy {
    dry_run: false,
    sign_out: false,
    disable_unreachable: false,
    resend_unchecked: false,
    max_attempts: 3,
    classify: true,
};

fn with(change: impl FnOnce(&mut Policy)) -> Policy {
    let mut p = REAL;
    change(&mut p);
    p
}

fn state(status: &str, enabled: bool, verified: bool) -> UserState {
    UserState {
        status: status.into(),
        enabled,
        email_verified: verified,
        phone_verified: false,
    }
}

fn error(class: Class, code: &str, message: &str) -> Event {
    Event::Err(CallError::local(class, code, message.into()))
}

fn timeout() -> Event {
    error(
        Class::Retryable,
        "Timeout",
        "no response within the attempt timeout",
    )
}

fn denied() -> Event {
    error(Class::RunFatal, "AccessDeniedException", "not authorized")
}

fn unverified_refusal() -> Event {
    error(
        Class::RowFinal,
        "InvalidParameterException",
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    )
}

fn state_refusal() -> Event {
    error(
        Class::RowFinal,
        "NotAuthorizedException",
        "User password cannot be reset in the current state.",
    )
}

fn ok() -> Event {
    Event::Ok(None)
}

fn checked(s: UserState) -> Event {
    Event::Ok(Some(s))
}

fn ending(life: &Life) -> Record {
    assert_eq!(life.step(), Step::Done);
    let row = RowId {
        line: 1,
        username: "u".into(),
        pool: "eu-west-1_P".into(),
    };
    life.record(&row, 0).expect("done rows have a record")
}

/// What the retry driver spent on a call: `failures` failed attempts.
fn failed(failures: u32) -> Spent {
    Spent {
        calls: failures,
        failures,
        request_id: None,
    }
}

#[test]
fn fresh_row_is_reset_and_done() {
    let mut life = Life::new(Start::default(), REAL);
    assert_eq!(life.step(), Step::Reset);
    assert_eq!(life.on(ok()), Effect::None);
    let e = ending(&life);
    assert_eq!(
        (e.outcome, e.signed_out, e.unsettled.intent),
        (Outcome::Reset, None, false)
    );
}

#[test]
fn reset_is_followed_by_sign_out_when_asked() {
    let mut life = Life::new(Start::default(), with(|p| p.sign_out = true));
    life.on(ok());
    assert_eq!(life.step(), Step::SignOut);
    life.on(ok());
    let e = ending(&life);
    assert_eq!((e.outcome, e.signed_out), (Outcome::Reset, Some(true)));
}

#[test]
fn a_lost_answer_is_checked_and_a_confirmed_reset_is_not_sent_again() {
    let mut life = Life::new(Start::default(), with(|p| p.sign_out = true));
    // what the retry driver counts for the lost answer
    life.on(timeout().after(failed(1)));
    assert_eq!(life.step(), Step::Check(CheckFor::Verify));
    assert_eq!(life.attempts().failed, 0, "a check has its own budget");
    life.on(checked(state("RESET_REQUIRED", true, true)));
    assert_eq!(
        life.step(),
        Step::SignOut,
        "a confirmed reset is still signed out"
    );
    life.on(ok());
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Reset);
    assert!(
        e.error_message
            .contains("confirmed by an AdminGetUser check"),
        "{}",
        e.error_message
    );
    assert!(!e.unsettled.intent);
}

#[test]
fn a_check_that_finds_no_reset_sends_again_with_the_reset_budget_kept() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(timeout().after(failed(1)));
    life.on(checked(state("CONFIRMED", true, true)));
    assert_eq!(life.step(), Step::Reset);
    assert_eq!(life.attempts().failed, 1, "the reset's backoff continues");
    life.on(ok());
    assert_eq!(ending(&life).outcome, Outcome::Reset);
}

#[test]
fn lost_answers_that_use_up_the_attempts_keep_the_intent() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(timeout().after(failed(3)));
    let e = ending(&life);
    assert_eq!(
        (e.outcome, e.error_code.as_str()),
        (Outcome::Failed, "Timeout")
    );
    assert!(
        e.unsettled.intent,
        "the reset may have been applied: the journal keeps it"
    );
}

#[test]
fn an_uncertain_row_is_checked_before_any_reset() {
    let start = Start {
        uncertain: true,
        ..Start::default()
    };
    let mut life = Life::new(start, REAL);
    assert_eq!(life.step(), Step::Check(CheckFor::Verify));
    life.on(checked(state("RESET_REQUIRED", true, true)));
    let e = ending(&life);
    assert_eq!((e.outcome, e.unsettled.intent), (Outcome::Reset, false));
}

#[test]
fn a_check_that_cannot_be_made_never_becomes_a_second_reset() {
    let start = Start {
        uncertain: true,
        ..Start::default()
    };
    let mut life = Life::new(start.clone(), REAL);
    life.on(error(Class::Retryable, "InternalErrorException", "oops"));
    let e = ending(&life);
    assert_eq!(
        (e.outcome, e.error_code.as_str()),
        (Outcome::Failed, "StateUnknown")
    );
    assert!(e.unsettled.intent, "the intent stays for the next resume");
    let mut life = Life::new(start, REAL);
    let effect = life.on(denied());
    assert!(
        matches!(effect, Effect::StopRun(_)),
        "a denied check is run-fatal"
    );
    assert!(ending(&life).unsettled.intent);
}

#[test]
fn resend_unchecked_sends_when_the_check_cannot_be_made() {
    let start = Start {
        uncertain: true,
        ..Start::default()
    };
    let mut life = Life::new(start, with(|p| p.resend_unchecked = true));
    assert_eq!(life.on(denied()), Effect::None);
    assert_eq!(life.step(), Step::Reset);
    life.on(ok());
    assert_eq!(ending(&life).outcome, Outcome::Reset);
}

#[test]
fn an_unreachable_user_is_classified_then_disabled_and_signed_out() {
    let policy = with(|p| {
        p.disable_unreachable = true;
        p.sign_out = true;
    });
    let mut life = Life::new(Start::default(), policy);
    life.on(unverified_refusal());
    assert_eq!(life.step(), Step::Check(CheckFor::Classify));
    life.on(checked(state("CONFIRMED", true, false)));
    assert_eq!(life.step(), Step::Disable);
    life.on(ok());
    assert_eq!(life.step(), Step::SignOut);
    life.on(ok());
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Disabled);
    assert_eq!(
        e.error_code, "InvalidParameterException",
        "the reset's refusal"
    );
    assert_eq!(e.signed_out, Some(true));
    assert_eq!(
        e.meaning.kept_password, None,
        "disabled: no working password left"
    );
}

#[test]
fn without_remediation_an_unreachable_user_is_counted_as_keeping_the_password() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(state_refusal());
    life.on(checked(state("FORCE_CHANGE_PASSWORD", true, true)));
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Failed);
    assert_eq!(
        e.meaning.kept_password,
        Some(Unreachable::Status("FORCE_CHANGE_PASSWORD".into()).to_string())
    );
    assert!(
        e.error_message.contains("keeps a working password"),
        "{}",
        e.error_message
    );
}

#[test]
fn a_federated_user_is_signed_out_but_never_disabled() {
    let policy = with(|p| {
        p.disable_unreachable = true;
        p.sign_out = true;
    });
    let mut life = Life::new(Start::default(), policy);
    life.on(state_refusal());
    life.on(checked(state("EXTERNAL_PROVIDER", true, true)));
    assert_eq!(life.step(), Step::SignOut);
    life.on(ok());
    let e = ending(&life);
    assert_eq!((e.outcome, e.signed_out), (Outcome::Failed, Some(true)));
    assert!(e.meaning.federated && e.error_message.contains("identity provider"));
}

#[test]
fn a_disabled_user_is_failed_without_a_check() {
    let mut life = Life::new(Start::default(), with(|p| p.disable_unreachable = true));
    life.on(error(
        Class::RowFinal,
        "NotAuthorizedException",
        "User is disabled.",
    ));
    let e = ending(&life);
    assert_eq!(
        (e.outcome, e.meaning.kept_password.clone()),
        (Outcome::Failed, None)
    );
    assert_eq!(e.attempts, 0, "no call was counted by the table itself");
}

#[test]
fn the_attempt_limit_is_final_for_the_run_and_says_to_resume_later() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(error(
        Class::RowFinal,
        "LimitExceededException",
        "Attempt limit exceeded, please try after some time.",
    ));
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Failed);
    assert!(e.error_message.contains("--resume"), "{}", e.error_message);
}

#[test]
fn a_failed_sign_out_keeps_the_reset_and_names_the_error() {
    let mut life = Life::new(Start::default(), with(|p| p.sign_out = true));
    life.on(ok());
    let effect = life.on(error(Class::Retryable, "InternalErrorException", "oops"));
    assert_eq!(effect, Effect::None);
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Reset);
    assert_eq!(e.signed_out, Some(false));
    assert_eq!(e.sign_out_error.as_deref(), Some("InternalErrorException"));
}

#[test]
fn a_stop_between_reset_and_sign_out_records_the_reset_unsigned() {
    let mut life = Life::new(Start::default(), with(|p| p.sign_out = true));
    life.on(ok());
    life.on(Event::Stopped);
    let e = ending(&life);
    assert_eq!((e.outcome, e.signed_out), (Outcome::Reset, Some(false)));
}

#[test]
fn a_stop_before_the_first_call_is_cancelled_and_keeps_uncertainty() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(Event::Stopped);
    assert_eq!(ending(&life).outcome, Outcome::Cancelled);
    let start = Start {
        uncertain: true,
        ..Start::default()
    };
    let mut life = Life::new(start, REAL);
    life.on(Event::Stopped);
    let e = ending(&life);
    assert_eq!((e.outcome, e.unsettled.intent), (Outcome::Cancelled, true));
}

#[test]
fn a_row_that_owes_its_sign_out_is_only_signed_out() {
    let start = Start {
        owes_sign_out: Some(Earlier::Disabled(RefusalCode::NotAuthorized)),
        ..Start::default()
    };
    let mut life = Life::new(start, with(|p| p.sign_out = true));
    assert_eq!(life.step(), Step::SignOut);
    life.on(ok());
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Disabled);
    assert_eq!(e.error_code, "NotAuthorizedException");
    assert_eq!(e.signed_out, Some(true));
}

#[test]
fn a_dry_run_predicts_from_a_check() {
    let dry = with(|p| {
        p.dry_run = true;
        p.disable_unreachable = true;
    });
    let mut life = Life::new(Start::default(), dry);
    assert_eq!(life.step(), Step::Check(CheckFor::Predict));
    life.on(checked(state("CONFIRMED", true, false)));
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::WouldFail);
    assert_eq!(e.error_code, "InvalidParameterException");
    assert!(
        e.error_message.contains("would disable"),
        "{}",
        e.error_message
    );
    let mut life = Life::new(Start::default(), dry);
    life.on(error(
        Class::RowFinal,
        "UserNotFoundException",
        "User does not exist.",
    ));
    assert_eq!(ending(&life).outcome, Outcome::WouldFail);
}

#[test]
fn a_listed_state_needs_no_check() {
    let listed = |s: UserState| Start {
        known: Some(s),
        ..Start::default()
    };
    let dry = with(|p| p.dry_run = true);
    let life = Life::new(listed(state("CONFIRMED", true, true)), dry);
    assert_eq!(ending(&life).outcome, Outcome::WouldReset);
    // Known unreachable: straight to the remediation, no reset sent.
    let life = Life::new(
        listed(state("FORCE_CHANGE_PASSWORD", true, true)),
        with(|p| p.disable_unreachable = true),
    );
    assert_eq!(life.step(), Step::Disable);
    // Uncertain and listed RESET_REQUIRED: confirmed without any call.
    let start = Start {
        uncertain: true,
        ..listed(state("RESET_REQUIRED", true, true))
    };
    let life = Life::new(start, REAL);
    assert_eq!(ending(&life).outcome, Outcome::Reset);
}

#[test]
fn pool_and_run_fatal_answers_reach_beyond_the_row() {
    let mut life = Life::new(Start::default(), REAL);
    let gone = error(Class::PoolFatal, "ResourceNotFoundException", "no pool");
    assert_eq!(life.on(gone), Effect::PoolGone);
    let mut life = Life::new(Start::default(), REAL);
    assert!(matches!(life.on(denied()), Effect::StopRun(_)));
    // The reset was refused for the whole run: nothing happened to the
    // user, who is left for a resume.
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Cancelled);
    assert!(
        e.error_message.contains("AccessDeniedException"),
        "{}",
        e.error_message
    );
}

/// Regression: a disable whose answer was lost, retried when a SIGTERM
/// came, was recorded "not remediated: not attempted" and its intent
/// dropped; the user, disabled in fact, was never signed out.
#[test]
fn a_disable_sent_before_a_stop_keeps_its_intent() {
    let policy = with(|p| {
        p.disable_unreachable = true;
        p.sign_out = true;
    });
    let mut life = Life::new(Start::default(), policy);
    life.on(unverified_refusal());
    life.on(checked(state("CONFIRMED", true, false)));
    assert_eq!(life.step(), Step::Disable);
    // The retry driver sent it; the answer was lost.
    let sent = Spent {
        calls: 1,
        ..Spent::default()
    };
    life.on(Event::Stopped.after(sent));
    let e = ending(&life);
    assert!(e.unsettled.intent && e.unsettled.disable, "{e:?}");
    assert!(
        !e.error_message.contains("not attempted"),
        "{}",
        e.error_message
    );
}

#[test]
fn regression_timed_out_reset_applied_late_waits_before_its_check_and_says_so_when_sent_again() {
    // A reset that timed out may still be queued on its way: the check
    // waits first; if the check still finds it not applied and the reset is
    // sent again, the record says the user may have had two codes.
    let mut life = Life::new(Start::default(), REAL);
    assert!(!life.settles_first());
    life.on(timeout());
    assert_eq!(life.step(), Step::Check(CheckFor::Verify));
    assert!(life.settles_first());
    life.on(checked(state("CONFIRMED", true, true)));
    assert_eq!(life.step(), Step::Reset);
    life.on(ok());
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Reset);
    assert!(
        e.error_message.contains("the user got two codes"),
        "{}",
        e.error_message
    );
    assert!(e.meaning.maybe_two_codes, "counted in the summary");
    assert!(
        !e.error_message.contains("  "),
        "one sentence: {}",
        e.error_message
    );

    // A 5xx: the service is done with the request; no wait, no note.
    let mut life = Life::new(Start::default(), REAL);
    life.on(error(Class::Retryable, "InternalErrorException", "boom"));
    assert_eq!(life.step(), Step::Check(CheckFor::Verify));
    assert!(!life.settles_first());
    life.on(checked(state("CONFIRMED", true, true)));
    life.on(ok());
    assert!(!ending(&life).error_message.contains("two codes"));
    assert!(!ending(&life).meaning.maybe_two_codes);
}

#[test]
fn regression_a_reset_sent_then_stopped_before_its_check_was_recorded_as_not_attempted() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(timeout());
    assert_eq!(life.step(), Step::Check(CheckFor::Verify));
    life.on(Event::Stopped);
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Cancelled);
    assert!(
        e.error_message.contains("a reset was sent"),
        "{}",
        e.error_message
    );
    assert!(
        !e.error_message.contains("not attempted"),
        "{}",
        e.error_message
    );
    assert!(
        e.unsettled.intent,
        "the intent is kept for the resume's check"
    );
}

/// Regression: a user already RESET_REQUIRED before the run, whose reset
/// from this run lost its answer (under faults), was recorded as reset by
/// this run, as if a code had been sent: the check cannot tell this run's
/// reset from an earlier one.
#[test]
fn regression_a_reset_confirmed_after_a_lost_answer_does_not_claim_the_code_was_this_runs() {
    let mut life = Life::new(Start::default(), REAL);
    life.on(error(Class::Retryable, "InternalErrorException", "boom"));
    life.on(checked(state("RESET_REQUIRED", true, true)));
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Reset);
    assert_eq!(e.meaning.reset_by, Some(crate::report::ResetBy::Confirmed));
    assert!(
        e.error_message
            .contains("confirmed by an AdminGetUser check")
            && e.error_message.contains("or an earlier one"),
        "{}",
        e.error_message
    );
}

/// Regression: a user the listing showed RESET_REQUIRED before the run was
/// recorded `reset` with nothing to say it had been so already.
#[test]
fn regression_a_user_listed_reset_required_before_the_run_is_recorded_as_such() {
    let start = Start {
        known: Some(state("RESET_REQUIRED", true, true)),
        ..Start::default()
    };
    let mut life = Life::new(start, REAL);
    assert_eq!(life.step(), Step::Reset);
    life.on(ok());
    let e = ending(&life);
    assert_eq!(e.outcome, Outcome::Reset);
    assert!(
        e.error_message.contains("RESET_REQUIRED already"),
        "{}",
        e.error_message
    );
}
