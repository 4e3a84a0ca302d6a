//! A row's life as one state machine: check → reset → sign-out →
//! remediation → recorded.
//!
//! [`Life`] is pure: it never calls anything. The worker in `pool` asks it
//! for the next [`Step`], makes that one call through the retry driver, and
//! hands the answer back as an [`Event`]; [`Life::on`] moves to the next step
//! and says whether the answer concerns the whole run ([`Effect`]). When the
//! step is [`Step::Done`] the row's record is ready. A new step is a new
//! state here, never a new branch in the worker.
//!
//! The transitions, in one table (`→` is the next step):
//!
//! | step | answer | next |
//! |---|---|---|
//! | Check(Predict) | state | Done: `would_reset` / `would_fail` (dry run) |
//! | Check(Verify) | `RESET_REQUIRED` | the reset is confirmed → SignOut or Done `reset` |
//! | Check(Verify) | other state | → Reset |
//! | Check(Verify) | cannot check | Done `failed`/`StateUnknown`, intent kept (→ Reset with `--resend-unchecked`) |
//! | Reset | success | → SignOut or Done `reset` |
//! | Reset | answer lost (timeout, 5xx) | → Check(Verify), while attempts remain |
//! | Reset | refused: no verified contact / wrong state | → Check(Classify) |
//! | Reset | refused otherwise | Done `failed` |
//! | Check(Classify) | unreachable | → Disable (`--unresettable disable`) or Done `failed`, keeps password |
//! | Check(Classify) | federated | → SignOut or Done `failed` (reset belongs at the identity provider) |
//! | Disable | success | → SignOut or Done `disabled` |
//! | SignOut | any | Done, `signed_out` true/false |
//! | any | run stopping | Done `cancelled` (or what the row already achieved) |

use crate::cognito::{
    ATTEMPT_LIMIT_HINT, CallError, Class, RESET_REQUIRED, Unreachable, UserState, Verdict,
    may_be_unreachable,
};
use crate::report::Outcome;

/// How rows are to be treated, from the flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// `--dry-run`: only read, predict.
    pub dry_run: bool,
    /// `--global-sign-out`.
    pub sign_out: bool,
    /// `--unresettable disable`.
    pub disable_unreachable: bool,
    /// `--resend-unchecked`: send again when an earlier reset cannot be checked.
    pub resend_unchecked: bool,
    /// `--max-attempts`: attempts per call, the first included.
    pub max_attempts: u32,
    /// AdminGetUser is permitted: a refused reset is followed by a check of
    /// why, and a reset whose answer was lost by a check whether it applied.
    pub classify: bool,
}

/// What an earlier run of the same report already did to a row that still
/// owes its sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Reset.
    Reset,
    /// Disabled, after the reset was refused with this code.
    Disabled(RefusalCode),
}

/// The two codes with which Cognito refuses to reset an unreachable user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// No verified email or phone.
    InvalidParameter,
    /// A status that cannot be reset.
    NotAuthorized,
}

impl RefusalCode {
    /// The service's code.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::InvalidParameter => "InvalidParameterException",
            RefusalCode::NotAuthorized => "NotAuthorizedException",
        }
    }

    /// From the service's code.
    pub fn parse(code: &str) -> RefusalCode {
        if code == "InvalidParameterException" {
            RefusalCode::InvalidParameter
        } else {
            RefusalCode::NotAuthorized
        }
    }
}

/// What is known of a row before its first call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Start {
    /// An earlier run may have sent a reset whose outcome it never recorded
    /// (it is in the journal), or the journal was lost (`--check-all`).
    pub uncertain: bool,
    /// Its state, as a listing (`--from-pool`, `--from-group`) showed it.
    pub known: Option<UserState>,
    /// An earlier run reset (or disabled) it but its sign-out failed.
    pub owes_sign_out: Option<Earlier>,
    /// An earlier run may have disabled the user without recording it (its
    /// disable intent is in the journal): a user found disabled was disabled
    /// by this tool, and still owes its sign-out.
    pub disable_intent: bool,
}

/// Why a check is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFor {
    /// Dry run: predict what a reset would do.
    Predict,
    /// An earlier reset may have reached the user unseen: was it applied?
    Verify,
    /// A reset was refused: is the user unreachable, federated, disabled?
    Classify,
}

/// The call a row needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `AdminGetUser`.
    Check(CheckFor),
    /// `AdminResetUserPassword` (journaled before it is sent).
    Reset,
    /// `AdminUserGlobalSignOut`.
    SignOut,
    /// `AdminDisableUser`.
    Disable,
    /// Nothing more: the record is ready.
    Done,
}

/// The answer to a step's call, after the retry driver is done with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The call succeeded; a check carries the user's state.
    Ok(Option<UserState>),
    /// The call failed for good, or (a reset) its answer was lost.
    Err(CallError),
    /// The run is stopping; the call was not sent.
    Stopped,
}

/// What an answer means beyond this row.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Nothing more can succeed: stop the run.
    StopRun(CallError),
    /// The row's pool does not exist: fail its other rows without calls.
    PoolGone,
}

/// Attempts spent on the current call, and what every call of the row added up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tries {
    /// Failed attempts of the current call; the retry driver gives up at
    /// `--max-attempts`.
    pub failures: u32,
    /// Calls made for the row so far (every step).
    pub calls: u32,
    /// The service's request id of the row's last call.
    pub request_id: String,
}

/// How a row ended, when [`Life::step`] is [`Step::Done`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// The report's outcome.
    pub outcome: Outcome,
    /// Error code (empty on success).
    pub code: String,
    /// What happened, for a person.
    pub message: String,
    /// With `--global-sign-out`: whether the user was signed out.
    pub signed_out: Option<bool>,
    /// The sign-out's error code.
    pub sign_out_error: Option<String>,
    /// The reset may have reached the user without the outcome being known:
    /// its intent stays in the journal for the next resume to check.
    pub uncertain: bool,
    /// A reset cannot reach the user (or, in a dry run, would not).
    pub unreachable: Option<Unreachable>,
    /// The user is left with a working password, and why (in a dry run:
    /// would be left with one).
    pub kept_password: Option<String>,
    /// A federated user: no password in Cognito to reset.
    pub federated: bool,
    /// An AdminDisableUser was sent (its intent is journaled).
    pub disable_attempted: bool,
    /// Reset, but sent again after a timed-out call or without a check
    /// (`--resend-unchecked`): the user may have had two codes.
    pub maybe_two_codes: bool,
}

/// What the row has achieved so far.
#[derive(Debug, Clone, Default, PartialEq)]
struct Facts {
    /// The reset was sent and succeeded, or a check confirmed it.
    reset: bool,
    /// How the reset was confirmed, when it was not by its own answer.
    confirmed: Option<&'static str>,
    /// An answer was lost after a reset was sent, and no check has settled it.
    unverified_send: bool,
    /// The refusal of a reset that may have met an unreachable user.
    refusal: Option<CallError>,
    unreachable: Option<Unreachable>,
    federated: bool,
    disabled: bool,
    /// The user was found disabled: already locked out.
    locked_out: bool,
    /// Set by an earlier run: the row only owes its sign-out.
    earlier: Option<Earlier>,
    /// An earlier run's disable of this user may have gone through unseen.
    disable_intent: bool,
    /// This run sent an AdminDisableUser.
    disable_attempted: bool,
    /// A disable failed after it may have gone through.
    disable_unsettled: bool,
    /// The reset was sent again without the check that could not be made
    /// (`--resend-unchecked`): the user may have had two codes.
    resent_unchecked: bool,
    /// One of this run's resets timed out: unlike a 5xx or a closed
    /// connection, whose request the service has finished with, the call
    /// may still be queued on its way, so the check waits before it looks.
    timed_out_here: bool,
    /// A check after a timed-out reset found it not applied, so it was sent
    /// again: had the lost call still arrived, the user had two codes.
    resent_after_check: bool,
    signed_out: Option<bool>,
    sign_out_error: Option<String>,
}

/// One row's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Life {
    policy: Policy,
    step: Step,
    facts: Facts,
    /// The reset's own failed attempts, kept across the checks that verify it.
    reset_failures: u32,
    /// Calls made before the current step began: more now means the step's
    /// call was sent (perhaps with its answer lost).
    step_calls: u32,
    tries: Tries,
    ending: Option<Ending>,
}

const CONFIRMED_BY_CHECK: &str = "confirmed by an AdminGetUser check: the user is already \
     RESET_REQUIRED after an earlier call; not called again";
const CONFIRMED_BY_LISTING: &str = "confirmed by the listing: the user is already \
     RESET_REQUIRED after an earlier call; not called again";
const FEDERATED: &str = "federated user (EXTERNAL_PROVIDER): there is no password in Cognito; \
     the reset belongs at the user's identity provider";
const ALREADY_DISABLED: &str =
    "the user is disabled, so already cannot sign in; nothing more was done";

impl Life {
    /// Whether the next step is a check after one of this run's resets
    /// timed out: it should wait a while first, for the timed-out call may
    /// still arrive and be applied after the check has looked.
    pub fn settles_first(&self) -> bool {
        self.step == Step::Check(CheckFor::Verify) && self.facts.timed_out_here
    }

    /// A row's life from what is known before its first call.
    pub fn new(start: Start, policy: Policy) -> Life {
        let mut life = Life {
            policy,
            step: Step::Done,
            facts: Facts {
                unverified_send: start.uncertain,
                disable_intent: start.disable_intent,
                ..Facts::default()
            },
            reset_failures: 0,
            step_calls: 0,
            tries: Tries::default(),
            ending: None,
        };
        if let Some(earlier) = start.owes_sign_out {
            life.facts.earlier = Some(earlier);
            life.facts.reset = earlier == Earlier::Reset;
            life.facts.disabled = earlier != Earlier::Reset;
            life.goto(Step::SignOut);
        } else if policy.dry_run {
            match start.known {
                Some(state) => life.predict(&state),
                None => life.goto(Step::Check(CheckFor::Predict)),
            }
        } else {
            match (start.known, start.uncertain) {
                (Some(state), true) if state.status == RESET_REQUIRED => {
                    life.confirm(CONFIRMED_BY_LISTING)
                }
                (Some(state), _) => life.as_listed(&state),
                (None, true) => life.goto(Step::Check(CheckFor::Verify)),
                (None, false) => life.goto(Step::Reset),
            }
        }
        life
    }

    /// The call the row needs next.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The budget and counters of the current call, for the retry driver.
    pub fn tries(&mut self) -> &mut Tries {
        &mut self.tries
    }

    /// Calls made so far and the last request id.
    pub fn tried(&self) -> &Tries {
        &self.tries
    }

    /// How the row ended; `Some` once the step is [`Step::Done`].
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    /// Takes the answer to the current step's call.
    pub fn on(&mut self, event: Event) -> Effect {
        match self.step {
            Step::Check(CheckFor::Predict) => self.on_predict(event),
            Step::Check(CheckFor::Verify) => self.on_verify(event),
            Step::Check(CheckFor::Classify) => self.on_classify(event),
            Step::Reset => self.on_reset(event),
            Step::Disable => self.on_disable(event),
            Step::SignOut => self.on_sign_out(event),
            Step::Done => Effect::None,
        }
    }

    fn goto(&mut self, step: Step) {
        if self.step == Step::Reset {
            self.reset_failures = self.tries.failures;
        }
        self.tries.failures = if step == Step::Reset {
            self.reset_failures
        } else {
            0
        };
        self.step_calls = self.tries.calls;
        self.step = step;
    }

    /// Whether (and why) a row ending so leaves the user a working password.
    fn kept_password(&self, outcome: Outcome, code: &str) -> Option<String> {
        let f = &self.facts;
        match outcome {
            Outcome::Failed | Outcome::WouldFail if f.unreachable.is_some() => {
                let u = f.unreachable.as_ref().expect("checked");
                let would_disable =
                    outcome == Outcome::WouldFail && self.policy.disable_unreachable;
                (!would_disable).then(|| u.to_string())
            }
            Outcome::Failed
                if !f.federated
                    && !f.locked_out
                    && !matches!(code, "UserNotFoundException" | "ResourceNotFoundException") =>
            {
                Some(format!("not reset: {code}"))
            }
            _ => None,
        }
    }

    fn finish(&mut self, outcome: Outcome, code: &str, message: impl Into<String>) {
        self.goto(Step::Done);
        let kept_password = self.kept_password(outcome, code);
        let mut message = message.into();
        if self.facts.resent_unchecked {
            message = join(
                &message,
                "sent again without a check (--resend-unchecked): the user may have two codes",
            );
        }
        if self.facts.resent_after_check && outcome == Outcome::Reset {
            message = join(
                &message,
                "sent again: a reset timed out and a check found it not applied; had the \
                 timed-out call arrived still later, the user got two codes (the later one counts)",
            );
        }
        self.ending = Some(Ending {
            kept_password,
            outcome,
            code: code.to_owned(),
            message,
            signed_out: self.facts.signed_out,
            sign_out_error: self.facts.sign_out_error.clone(),
            uncertain: self.facts.unverified_send || self.facts.disable_unsettled,
            unreachable: self.facts.unreachable.clone(),
            federated: self.facts.federated,
            disable_attempted: self.facts.disable_attempted || self.facts.disable_intent,
            maybe_two_codes: outcome == Outcome::Reset
                && (self.facts.resent_after_check || self.facts.resent_unchecked),
        });
    }

    /// The row is stopping before its next call: record what it achieved.
    fn stopped(&mut self) -> Effect {
        const NOT_ATTEMPTED: &str = "not attempted: the run stopped before this call";
        if self.step == Step::Disable && self.tries.calls > self.step_calls {
            // A disable was sent and its answer not seen: it may have gone
            // through, so the next resume checks the user first.
            self.facts.disable_attempted = true;
            self.facts.disable_unsettled = true;
            let refusal = self.facts.refusal.clone().expect("a refusal led here");
            let message = format!(
                "{}; AdminDisableUser was sent but its answer not seen before the run stopped: \
                 --resume checks the user",
                refusal.message
            );
            self.finish(Outcome::Failed, &refusal.code, message);
            return Effect::None;
        }
        if self.facts.reset || self.facts.disabled || self.facts.federated {
            if self.step == Step::SignOut {
                self.facts.signed_out = Some(false);
                self.facts.sign_out_error = Some("Cancelled".into());
            }
            self.finish_achieved("the run stopped before the sign-out; --resume signs out");
        } else if self.facts.unverified_send {
            // Still uncertain, so its intent is kept and a resume checks it.
            self.finish(
                Outcome::Cancelled,
                "",
                "a reset was sent but its answer was lost, and the run stopped before checking \
                 whether it went through: --resume checks the user before sending again",
            );
        } else if let Some(refusal) = self.facts.refusal.clone() {
            let message = format!("{}; not remediated: {NOT_ATTEMPTED}", refusal.message);
            self.finish(Outcome::Failed, &refusal.code, message);
        } else {
            self.finish(Outcome::Cancelled, "", NOT_ATTEMPTED);
        }
        Effect::None
    }

    /// Done with what was achieved: reset, disabled or federated.
    fn finish_achieved(&mut self, note: &str) {
        let refusal_code = |f: &Facts| match (&f.refusal, f.earlier) {
            (Some(r), _) => r.code.clone(),
            (None, Some(Earlier::Disabled(code))) => code.as_str().to_owned(),
            _ => String::new(),
        };
        let code = refusal_code(&self.facts);
        if self.facts.disabled {
            let message = match &self.facts.refusal {
                Some(r) => format!("reset refused ({}); the user was disabled", r.message),
                None => "disabled by an earlier run of this report".to_owned(),
            };
            self.finish(Outcome::Disabled, &code, join(&message, note));
        } else if self.facts.federated {
            self.finish(Outcome::Failed, &code, join(FEDERATED, note));
        } else {
            let message = match (self.facts.confirmed, self.facts.earlier) {
                (Some(how), _) => how,
                (None, Some(_)) => "reset by an earlier run of this report",
                (None, None) => "",
            };
            self.finish(Outcome::Reset, "", join(message, note));
        }
    }

    /// After the reset (or disable) is done: sign out if asked, else done.
    fn after_achieved(&mut self) {
        if self.policy.sign_out {
            self.goto(Step::SignOut);
        } else {
            self.finish_achieved("");
        }
    }

    fn confirm(&mut self, how: &'static str) {
        self.facts.reset = true;
        self.facts.unverified_send = false;
        self.facts.confirmed = Some(how);
        self.after_achieved();
    }

    /// A dry run's prediction from a user's state.
    fn predict(&mut self, state: &UserState) {
        let verdict = state.verdict();
        if let Verdict::Unreachable(u) = &verdict {
            self.facts.unreachable = Some(u.clone());
        }
        self.facts.federated = verdict == Verdict::Federated;
        self.facts.locked_out = verdict == Verdict::Disabled;
        let Some((code, message)) = state.predicted_error() else {
            let note = if self.policy.sign_out {
                "would be reset and signed out"
            } else {
                ""
            };
            return self.finish(Outcome::WouldReset, "", note);
        };
        let message = match &verdict {
            Verdict::Federated => FEDERATED.to_owned(),
            Verdict::Unreachable(u) if self.policy.disable_unreachable => {
                format!("{message} ({u}); --unresettable disable would disable the user")
            }
            Verdict::Unreachable(u) => {
                format!("{message} ({u}); the user would keep a working password")
            }
            _ => message.to_owned(),
        };
        self.finish(Outcome::WouldFail, code, message);
    }

    /// A real run, for a user whose state the listing already showed.
    fn as_listed(&mut self, state: &UserState) {
        match state.verdict() {
            Verdict::Resettable => self.goto(Step::Reset),
            verdict => {
                let (code, message) = state.predicted_error().unwrap_or_default();
                let refusal = CallError::local(
                    Class::RowFinal,
                    code,
                    format!("{message} (as listed; no reset sent)"),
                );
                self.facts.refusal = Some(refusal.clone());
                self.classified(verdict, &refusal);
            }
        }
    }

    fn on_predict(&mut self, event: Event) -> Effect {
        match event {
            Event::Ok(state) => {
                self.predict(&state.unwrap_or_default());
                Effect::None
            }
            Event::Err(e) => {
                let effect = run_effect(&e);
                let outcome = if effect == Effect::None {
                    Outcome::WouldFail
                } else {
                    Outcome::Failed
                };
                self.finish(outcome, &e.code, e.message.clone());
                effect
            }
            Event::Stopped => self.stopped(),
        }
    }

    fn on_verify(&mut self, event: Event) -> Effect {
        match event {
            Event::Ok(Some(state)) if state.status == RESET_REQUIRED => {
                self.confirm(CONFIRMED_BY_CHECK);
                Effect::None
            }
            Event::Ok(Some(state)) if !state.enabled && self.facts.disable_intent => {
                // The earlier run's disable went through: finish its work.
                self.facts.unverified_send = false;
                self.facts.disabled = true;
                let refusal = match state.verdict_if_enabled() {
                    Verdict::Unreachable(Unreachable::NoVerifiedContact) => {
                        RefusalCode::InvalidParameter
                    }
                    _ => RefusalCode::NotAuthorized,
                };
                self.facts.earlier = Some(Earlier::Disabled(refusal));
                self.after_achieved();
                Effect::None
            }
            Event::Ok(_) => {
                self.facts.unverified_send = false;
                self.facts.resent_after_check |= self.facts.timed_out_here;
                self.goto(Step::Reset);
                Effect::None
            }
            Event::Err(e) if e.code == "UserNotFoundException" || e.class == Class::PoolFatal => {
                self.facts.unverified_send = false;
                let effect = pool_effect(&e);
                self.finish(Outcome::Failed, &e.code, e.message.clone());
                effect
            }
            Event::Err(_) if self.policy.resend_unchecked => {
                self.facts.unverified_send = false;
                self.facts.resent_unchecked = true;
                self.goto(Step::Reset);
                Effect::None
            }
            Event::Err(e) => {
                let message = format!(
                    "could not check whether an earlier reset reached the user ({}: {}); not sent \
                     again: --resume checks it again, --resend-unchecked sends it",
                    e.code, e.message
                );
                let effect = run_effect(&e);
                self.finish(Outcome::Failed, "StateUnknown", message);
                effect
            }
            Event::Stopped => self.stopped(),
        }
    }

    fn on_reset(&mut self, event: Event) -> Effect {
        let e = match event {
            Event::Ok(_) => {
                self.facts.reset = true;
                self.facts.unverified_send = false;
                self.after_achieved();
                return Effect::None;
            }
            Event::Stopped => return self.stopped(),
            Event::Err(e) => e,
        };
        if e.may_have_applied() {
            self.facts.unverified_send = true;
            self.facts.timed_out_here |= e.code == "Timeout";
            let budget = self.tries.failures < self.policy.max_attempts;
            if budget && self.policy.classify {
                self.goto(Step::Check(CheckFor::Verify));
            } else if budget && self.policy.resend_unchecked {
                self.facts.resent_unchecked = true;
                self.goto(Step::Reset);
            } else if budget {
                let message = format!(
                    "the answer was lost ({}) and AdminGetUser is not permitted to check whether \
                     the reset went through; not sent again: --resume with AdminGetUser allowed \
                     checks it, --resend-unchecked sends it",
                    e.message
                );
                self.finish(Outcome::Failed, &e.code, message);
            } else {
                let message = format!(
                    "gave up after {} attempts; the last answer was lost ({}), so the reset may \
                     have reached the user: --resume checks it",
                    self.tries.failures, e.message
                );
                self.finish(Outcome::Failed, &e.code, message);
            }
            return Effect::None;
        }
        match e.class {
            Class::Throttled => {
                let message = format!(
                    "gave up after {} attempts: {}",
                    self.tries.failures, e.message
                );
                self.finish(Outcome::Failed, &e.code, message);
            }
            Class::RowFinal if e.code == "LimitExceededException" => {
                let message = format!("{} — {ATTEMPT_LIMIT_HINT}", e.message);
                self.finish(Outcome::Failed, &e.code, message);
            }
            Class::RowFinal if may_be_unreachable(&e) && self.policy.classify => {
                self.facts.refusal = Some(e);
                self.goto(Step::Check(CheckFor::Classify));
            }
            Class::RowFinal if e.code == "NotAuthorizedException" => {
                self.facts.locked_out = true;
                let message = format!("{} — {ALREADY_DISABLED}", e.message);
                self.finish(Outcome::Failed, &e.code, message);
            }
            _ => {
                let effect = run_effect(&e);
                self.finish(Outcome::Failed, &e.code, e.message.clone());
                return effect;
            }
        }
        Effect::None
    }

    fn on_classify(&mut self, event: Event) -> Effect {
        let refusal = self.facts.refusal.clone().unwrap_or_else(|| {
            CallError::local(Class::RowFinal, "NotAuthorizedException", String::new())
        });
        match event {
            Event::Ok(state) => {
                let verdict = state.unwrap_or_default().verdict();
                self.classified(verdict, &refusal);
            }
            // The refusal stands; without the state nothing more is safe to do
            // (a federated user must never be disabled).
            Event::Err(e) => {
                let message = format!(
                    "{} (the user's state could not be read: {}: {}; not remediated)",
                    refusal.message, e.code, e.message
                );
                self.finish(Outcome::Failed, &refusal.code, message);
                return run_effect(&e);
            }
            Event::Stopped => return self.stopped(),
        }
        Effect::None
    }

    /// After a refusal, with the user's state known.
    fn classified(&mut self, verdict: Verdict, refusal: &CallError) {
        match verdict {
            Verdict::Federated => {
                self.facts.federated = true;
                self.after_achieved();
            }
            Verdict::Unreachable(u) => {
                self.facts.unreachable = Some(u.clone());
                if self.policy.disable_unreachable {
                    self.goto(Step::Disable);
                } else {
                    let message = format!(
                        "{} — the user keeps a working password ({u}); --unresettable disable \
                         would disable the user",
                        refusal.message
                    );
                    self.finish(Outcome::Failed, &refusal.code, message);
                }
            }
            Verdict::Disabled => {
                self.facts.locked_out = true;
                let message = format!("{} — {ALREADY_DISABLED}", refusal.message);
                self.finish(Outcome::Failed, &refusal.code, message);
            }
            Verdict::Resettable => {
                self.finish(Outcome::Failed, &refusal.code, refusal.message.clone());
            }
        }
    }

    fn on_disable(&mut self, event: Event) -> Effect {
        if event != Event::Stopped {
            self.facts.disable_attempted = true;
        }
        match event {
            Event::Ok(_) => {
                self.facts.disabled = true;
                self.facts.unreachable = None;
                self.after_achieved();
                Effect::None
            }
            Event::Err(e) => {
                // A disable whose answer was lost may have gone through:
                // the next resume checks the user before anything else.
                self.facts.disable_unsettled = e.may_have_applied();
                let refusal = self.facts.refusal.clone().expect("a refusal led here");
                let message = format!(
                    "{} — AdminDisableUser failed ({}: {}), so the user keeps a working password",
                    refusal.message, e.code, e.message
                );
                self.finish(Outcome::Failed, &refusal.code, message);
                run_effect(&e)
            }
            Event::Stopped => self.stopped(),
        }
    }

    fn on_sign_out(&mut self, event: Event) -> Effect {
        match event {
            Event::Ok(_) => {
                self.facts.signed_out = Some(true);
                self.finish_achieved("");
                Effect::None
            }
            Event::Err(e) => {
                self.facts.signed_out = Some(false);
                self.facts.sign_out_error = Some(e.code.clone());
                let note = format!(
                    "the sign-out failed ({}: {}): --resume signs out",
                    e.code, e.message
                );
                self.finish_achieved(&note);
                run_effect(&e)
            }
            Event::Stopped => self.stopped(),
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}; {b}"),
    }
}

/// Stops the run for a run-fatal error; marks a vanished pool.
fn run_effect(e: &CallError) -> Effect {
    match e.class {
        Class::RunFatal => Effect::StopRun(e.clone()),
        _ => pool_effect(e),
    }
}

fn pool_effect(e: &CallError) -> Effect {
    if e.class == Class::PoolFatal {
        Effect::PoolGone
    } else {
        Effect::None
    }
}

#[cfg(test)]
mod tests;
