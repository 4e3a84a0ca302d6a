//! A row's life as one state machine: check → reset → sign-out →
//! remediation → recorded.
//!
//! [`Life`] is pure: it never calls anything. The worker in `pool` asks it
//! for the next [`Step`] and the [`Attempts`] that step may still use, makes
//! that one call through the retry driver, and hands the answer back with
//! what the call spent; [`Life::on`] moves to the next step and says whether
//! the answer concerns the whole run ([`Effect`]). When the step is
//! [`Step::Done`], [`Life::record`] is the row's record. A new step is a new
//! state here, never a new branch in the worker. Rows that need no call
//! (invalid, duplicate, done earlier, excluded) go through it too: they are
//! done from the start.
//!
//! The transitions, in one table (`→` is the next step); [`Life::on`] is
//! this table as a `match`, row for row:
//!
//! | step | answer | next |
//! |---|---|---|
//! | any | run stopping | Done `cancelled` (or what the row already achieved) |
//! | Check(Predict) | state | Done: `would_reset` / `would_fail` (dry run) |
//! | Check(Predict) | error | Done `would_fail` (`failed` if it concerns the run) |
//! | Check(Verify) | `RESET_REQUIRED` | the reset is confirmed → SignOut or Done `reset` |
//! | Check(Verify) | disabled, an earlier disable journaled | the disable is confirmed → SignOut or Done `disabled` |
//! | Check(Verify) | other state | → Reset |
//! | Check(Verify) | no such user, no such pool | Done `failed` |
//! | Check(Verify) | cannot check | Done `failed`/`StateUnknown`, intent kept (→ Reset with `--resend-unchecked`) |
//! | Reset | success | → SignOut or Done `reset` |
//! | Reset | answer lost (timeout, 5xx) | → Check(Verify), while attempts remain |
//! | Reset | refused: no verified contact / wrong state | → Check(Classify) |
//! | Reset | refused otherwise | Done `failed` |
//! | Check(Classify) | unreachable | → Disable (`--unresettable disable`) or Done `failed`, keeps password |
//! | Check(Classify) | federated | → SignOut or Done `failed` (reset belongs at the identity provider) |
//! | Check(Classify) | cannot check | Done `failed` with the refusal, not remediated |
//! | Disable | success | → SignOut or Done `disabled` |
//! | Disable | error | Done `failed`, keeps password (intent kept if it may have applied) |
//! | SignOut | any | Done, `signed_out` true/false |
//!
//! Before the first call ([`Life::new`]): invalid, duplicate, done by an
//! earlier run (`skipped`), excluded, and a pool that refuses every reset
//! (dry run) are Done at once; a row owing only its sign-out starts at
//! SignOut; a state already known (a listing) or an uncertain earlier reset
//! decides where the rest start.

use crate::channel::{Channel, Recovery};
use crate::cognito::{
    ATTEMPT_LIMIT_HINT, CallError, Class, RESET_REQUIRED, Refusal, RefusalCode, Unreachable,
    UserState, Verdict, means_no_user,
};
use crate::report::{Meaning, Outcome, Record, ResetBy, Unsettled};
use crate::retry::{Attempts, Spent};

/// How a reason starts when whether the user keeps a working password is
/// not known (an earlier reset that could not be checked): the summary
/// says "may be left" for it.
pub const UNKNOWN_PREFIX: &str = "unknown:";
/// Where a message names why a user keeps a working password: `… (why)`;
/// the report is read back by it.
const KEEPS: &str = "keeps a working password (";
/// What a row left by the daily limit on codes says: a resume's plan warns
/// of the limit from it.
pub const DAILY_LIMIT_REACHED: &str = "no more codes can be sent in this region today";

/// The sign-out error code of a row whose sign-out the run stopped before
/// attempting (a resume does it).
pub const SIGN_OUT_NOT_ATTEMPTED: &str = "Cancelled";
/// The sign-out error code of a row whose sign-out is owed but which
/// `--exclude` now lists: no call is made, and the sign-out stays owed.
pub const SIGN_OUT_EXCLUDED: &str = "Excluded";
/// The error code of a `failed` row whose user an earlier run failed to
/// reset and `--exclude` now lists: no call is made, the user keeps a
/// working password.
pub const EXCLUDED_AFTER_FAILURE: &str = "Excluded";

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

/// What an earlier run of the same report already did to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Reset.
    Reset,
    /// Disabled, after the reset was refused with this code.
    Disabled(RefusalCode),
    /// Failed for good, the user holding no password a reset could end:
    /// federated (no password in Cognito) or already disabled.
    Unresettable,
}

impl Earlier {
    fn outcome(self) -> Outcome {
        match self {
            Earlier::Reset => Outcome::Reset,
            Earlier::Disabled(_) => Outcome::Disabled,
            Earlier::Unresettable => Outcome::Failed,
        }
    }
}

/// What is known of a row before its first call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Start {
    /// The row failed local validation: its code and message.
    pub invalid: Option<(String, String)>,
    /// The line where the same user appeared earlier in the input.
    pub duplicate_of: Option<u64>,
    /// An earlier run of the report reset or disabled the user and owes
    /// nothing more.
    pub done_earlier: Option<Earlier>,
    /// The report (`--skip-done`) whose earlier run did what `done_earlier`
    /// or `owes_sign_out` says; `None`: this report.
    pub recorded_in: Option<String>,
    /// Why the user is never to be touched (`--exclude`, or an earlier run
    /// that excluded it).
    pub excluded: Option<&'static str>,
    /// The latest row an earlier run of the report wrote for the user is
    /// `failed`: excluded now, the user stays recorded as not reset.
    pub failed_earlier: bool,
    /// Why every reset in the row's pool would be refused (account recovery
    /// `admin_only`): a dry run predicts it without calls.
    pub pool_refuses: Option<String>,
    /// An earlier run may have sent a reset whose outcome it never recorded
    /// (it is in the journal), or the journal was lost (`--check-all`).
    pub uncertain: bool,
    /// Its state, as a listing (`--from-pool`, `--from-group`) showed it.
    pub known: Option<UserState>,
    /// An earlier run reset (or disabled) it but its sign-out failed.
    pub owes_sign_out: Option<Earlier>,
    /// Its sign-out, owed by the report `--skip-done` named, is left owed:
    /// this run makes no sign-outs.
    pub sign_out_left_owed: bool,
    /// An earlier run may have disabled the user without recording it (its
    /// disable intent is in the journal): a user found disabled was disabled
    /// by this tool, and still owes its sign-out.
    pub disable_intent: bool,
    /// The pool's account recovery order, when known: with the user's
    /// contacts, where the code goes.
    pub recovery: Option<Recovery>,
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
    /// `AdminDisableUser` (journaled before it is sent).
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
    /// The run was aborted for this reason; the call was not sent.
    Aborted(String),
}

/// An answer and what its call spent of the step's attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The answer.
    pub event: Event,
    /// Attempts made, failed attempts, the last request id.
    pub spent: Spent,
}

impl From<Event> for Answered {
    fn from(event: Event) -> Answered {
        Answered {
            event,
            spent: Spent::default(),
        }
    }
}

impl Event {
    /// This answer, after a call that spent `spent`.
    pub fn after(self, spent: Spent) -> Answered {
        Answered { event: self, spent }
    }
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

/// Who the row is about, for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowId {
    /// Line of the input where the row starts (or position in a listing).
    pub line: u64,
    /// The username, as read.
    pub username: String,
    /// The pool, as read or defaulted.
    pub pool: String,
}

/// What the row achieved for the user.
#[derive(Debug, Clone, Default, PartialEq)]
struct Achieved {
    /// The reset was sent and succeeded, or a check confirmed it.
    reset: bool,
    /// How the reset was confirmed, when it was not by its own answer.
    confirmed: Option<&'static str>,
    disabled: bool,
    federated: bool,
    /// The user was found disabled: already locked out.
    locked_out: bool,
    /// Set by an earlier run: the row only owes its sign-out.
    earlier: Option<Earlier>,
}

/// Calls whose effect on the user is not known.
#[derive(Debug, Clone, Default, PartialEq)]
struct Doubts {
    /// A reset was sent and its answer lost, and no check has settled it.
    reset_sent: bool,
    /// One of this run's resets timed out: unlike a 5xx or a closed
    /// connection, whose request the service has finished with, the call
    /// may still be queued on its way, so the check waits before it looks.
    timed_out_here: bool,
    /// This run sent a reset whose answer was lost.
    sent_here: bool,
    /// An earlier run's disable of this user may have gone through unseen.
    disable_intent: bool,
    /// This run sent an AdminDisableUser.
    disable_sent: bool,
    /// A disable failed after it may have gone through.
    disable_unsettled: bool,
}

/// Why the user may have had two codes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Resent {
    /// Sent again without the check that could not be made
    /// (`--resend-unchecked`).
    unchecked: bool,
    /// A check after a timed-out reset found it not applied, so it was sent
    /// again: had the lost call still arrived, the user had two codes.
    after_check: bool,
}

/// What the row knows so far.
#[derive(Debug, Clone, Default, PartialEq)]
struct Facts {
    achieved: Achieved,
    doubts: Doubts,
    resent: Resent,
    /// The refusal of a reset that may have met an unreachable user.
    refusal: Option<CallError>,
    unreachable: Option<Unreachable>,
    signed_out: Option<bool>,
    sign_out_error: Option<String>,
    /// Why the user is never to be touched, when an earlier run left it
    /// something to settle: only checks (reads) are made for it, and what
    /// the earlier run did stays on the record.
    excluded: Option<&'static str>,
    /// The pool's recovery order, when known.
    recovery: Option<Recovery>,
    /// Where a code goes, from the user's contacts as last read.
    channel: Option<Channel>,
    /// The report whose earlier run did what this row builds on (`None`:
    /// this one).
    recorded_in: Option<String>,
    /// A listing showed the user RESET_REQUIRED before any call of this run.
    listed_reset_required: bool,
}

/// The attempt budget: [`Life`] alone owns it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Budget {
    /// Failed attempts of the current step.
    failed: u32,
    /// The reset's own failed attempts, kept across the checks that verify it.
    reset_failed: u32,
    /// Calls made for the row so far (every step).
    calls: u32,
    /// Calls made before the current step began: more now means the step's
    /// call was sent (perhaps with its answer lost).
    step_calls: u32,
    /// The service's request id of the row's last call.
    request_id: String,
}

/// How the row ended.
#[derive(Debug, Clone, PartialEq)]
struct Ended {
    outcome: Outcome,
    code: String,
    message: String,
}

/// One row's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Life {
    policy: Policy,
    step: Step,
    facts: Facts,
    budget: Budget,
    ended: Option<Ended>,
}

const CONFIRMED_BY_CHECK: &str = "confirmed by an AdminGetUser check: the user is already \
     RESET_REQUIRED, by the earlier run's reset (journaled before it waited its turn, so perhaps \
     never sent) or from before that run: no code is known to have come from either; not called \
     again";
const CONFIRMED_AFTER_LOST_ANSWER: &str = "confirmed by an AdminGetUser check: the user is \
     RESET_REQUIRED after this run's reset lost its answer — that reset or an earlier one put the \
     user there, so no code is known to have come from this run; not sent again";
const CONFIRMED_BY_LISTING: &str = "confirmed by the listing: the user is already \
     RESET_REQUIRED, by the earlier run's reset (journaled before it waited its turn, so perhaps \
     never sent) or from before that run: no code is known to have come from either; not called \
     again";
/// How every row a check or listing confirmed begins, in this version's
/// words and in earlier ones'.
const CONFIRMED_PREFIX: &str = "confirmed by ";
const FEDERATED: &str = "federated user (EXTERNAL_PROVIDER): there is no password in Cognito; \
     the reset belongs at the user's identity provider";
const ALREADY_DISABLED: &str =
    "the user is disabled, so already cannot sign in; nothing more was done";
const NOT_ATTEMPTED: &str = "not attempted: the run stopped before this call";
const FAILED_THEN_EXCLUDED: &str = "an earlier run of this report failed to reset the user (its \
     row there says why), so the user keeps a working password";
/// Why a user failed earlier and excluded now keeps a working password.
const KEPT_FAILED_THEN_EXCLUDED: &str = "not reset by an earlier run, then excluded";
/// Why a user whose check failed may keep a working password.
const UNKNOWN_STATE_KEPT: &str = "unknown: an earlier reset may have reached the user, the \
     check failed (StateUnknown; --resume checks again)";
const LOST_ANSWER_CANCELLED: &str = "a reset was sent but its answer was lost, and the run \
     stopped before checking whether it went through: --resume checks the user before sending \
     again";
const RESENT_UNCHECKED: &str =
    "sent again without a check (--resend-unchecked): the user may have two codes";
const RESENT_AFTER_CHECK: &str = "sent again: a reset timed out and a check found it not \
     applied; had the timed-out call arrived still later, the user got two codes (the later one \
     counts)";
/// A dry run's unreachable user, as `--unresettable` decides.
const WOULD_DISABLE: &str = "--unresettable disable would disable the user";
const WOULD_KEEP: &str = "the user would keep a working password";

impl Life {
    /// A row's life from what is known before its first call.
    pub fn new(start: Start, policy: Policy) -> Life {
        let mut life = Life {
            policy,
            step: Step::Done,
            facts: Facts {
                doubts: Doubts {
                    reset_sent: start.uncertain,
                    disable_intent: start.disable_intent,
                    ..Doubts::default()
                },
                recovery: start.recovery,
                channel: start
                    .known
                    .as_ref()
                    .map(|state| Channel::predict(state, start.recovery)),
                ..Facts::default()
            },
            budget: Budget::default(),
            ended: None,
        };
        life.facts.recorded_in.clone_from(&start.recorded_in);
        if !life.settled(&start) {
            life.first_step(start);
        }
        life
    }

    /// Rows that need no call: done at once. `false` if the row needs calls.
    fn settled(&mut self, start: &Start) -> bool {
        if let Some((code, message)) = &start.invalid {
            self.finish(Outcome::Invalid, code, message.clone());
        } else if let Some(line) = start.duplicate_of {
            let why = format!("same user as line {line}; no call made");
            self.finish(Outcome::Duplicate, "", why);
        } else if let Some(done) = start.done_earlier {
            let mut why = format!("{} by {}", done.outcome().as_str(), self.by_whom());
            if done == Earlier::Unresettable {
                why.push_str(
                    ": federated or disabled, the user holds no password a reset could end; \
                     nothing more to do",
                );
            }
            if start.sign_out_left_owed {
                // Only a run with --global-sign-out finishes it.
                why.push_str(
                    "; its sign-out failed there and is still owed: a run with \
                     --global-sign-out signs the user out",
                );
            }
            self.finish(Outcome::Skipped, "", why);
        } else if let Some(why) = start.excluded.filter(|_| !has_history(start)) {
            if start.failed_earlier {
                // History is never rewritten: the earlier run left the user
                // a working password, and the exclusion does not change it.
                let why = format!("{why}; no call made; {FAILED_THEN_EXCLUDED}");
                self.finish(Outcome::Failed, EXCLUDED_AFTER_FAILURE, why);
            } else {
                self.finish(Outcome::Excluded, "", format!("{why}; no call made"));
            }
        } else if let Some(why) = start.pool_refuses.as_ref().filter(|_| self.policy.dry_run) {
            self.finish(Outcome::WouldFail, "NotAuthorizedException", why.clone());
        } else {
            return false;
        }
        true
    }

    /// Where a row that needs calls starts.
    fn first_step(&mut self, start: Start) {
        self.facts.excluded = start.excluded;
        let listed_not_applied = start
            .known
            .as_ref()
            .is_some_and(|s| s.status != RESET_REQUIRED);
        if start.excluded.is_some() && start.owes_sign_out.is_none() && listed_not_applied {
            // The listing shows the earlier reset never applied.
            self.not_applied();
        } else if let Some(earlier) = start.owes_sign_out {
            self.facts.achieved.earlier = Some(earlier);
            self.facts.achieved.reset = earlier == Earlier::Reset;
            self.facts.achieved.disabled = earlier != Earlier::Reset;
            if self.facts.excluded.is_some() {
                self.after_achieved();
            } else {
                self.goto(Step::SignOut);
            }
        } else if self.policy.dry_run {
            match start.known {
                Some(state) => {
                    self.predict(&state);
                }
                None => self.goto(Step::Check(CheckFor::Predict)),
            }
        } else {
            match (start.known, start.uncertain) {
                (Some(state), true) if state.status == RESET_REQUIRED => {
                    self.confirm(CONFIRMED_BY_LISTING);
                }
                (Some(state), _) => {
                    self.as_listed(&state);
                }
                (None, true) => self.goto(Step::Check(CheckFor::Verify)),
                (None, false) => self.goto(Step::Reset),
            }
        }
    }

    /// The call the row needs next.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The attempts the current step's call may still make.
    pub fn attempts(&self) -> Attempts {
        Attempts {
            failed: self.budget.failed,
            max: self.policy.max_attempts,
        }
    }

    /// Whether the next step is a check after one of this run's resets
    /// timed out: it should wait a while first, for the timed-out call may
    /// still arrive and be applied after the check has looked.
    pub fn settles_first(&self) -> bool {
        self.step == Step::Check(CheckFor::Verify) && self.facts.doubts.timed_out_here
    }

    /// Takes the answer to the current step's call: the transition table.
    pub fn on(&mut self, answer: impl Into<Answered>) -> Effect {
        let Answered { event, spent } = answer.into();
        self.spend(&spent);
        // Every state read says where a code would go.
        if let Event::Ok(Some(state)) = &event {
            self.facts.channel = Some(Channel::predict(state, self.facts.recovery));
        }
        use CheckFor::{Classify, Predict, Verify};
        match (self.step, event) {
            (Step::Done, _) => Effect::None,
            (_, Event::Stopped) => self.stopped(None),
            (_, Event::Aborted(why)) => self.stopped(Some(why)),
            (Step::Check(Predict), Event::Ok(state)) => self.predict(&state.unwrap_or_default()),
            (Step::Check(Predict), Event::Err(e)) => self.unpredictable(e),
            (Step::Check(Verify), Event::Ok(Some(s))) if s.status == RESET_REQUIRED => {
                let how = if self.facts.doubts.sent_here {
                    CONFIRMED_AFTER_LOST_ANSWER
                } else {
                    CONFIRMED_BY_CHECK
                };
                self.confirm(how)
            }
            (Step::Check(Verify), Event::Ok(Some(s)))
                if !s.enabled && self.facts.doubts.disable_intent =>
            {
                self.disable_went_through(&s)
            }
            (Step::Check(Verify), Event::Ok(_)) => self.not_applied(),
            (Step::Check(Verify), Event::Err(e))
                if e.user_not_found() || e.class == Class::PoolFatal =>
            {
                self.gone(e)
            }
            (Step::Check(Verify), Event::Err(_))
                if self.policy.resend_unchecked && self.facts.excluded.is_none() =>
            {
                self.resend_unchecked()
            }
            (Step::Check(Verify), Event::Err(e)) => self.unverifiable(e),
            (Step::Reset, Event::Ok(_)) => self.reset_succeeded(),
            (Step::Reset, Event::Err(e)) if e.may_have_applied() => self.answer_lost(e),
            (Step::Reset, Event::Err(e)) => self.reset_refused(e),
            (Step::Check(Classify), Event::Ok(state)) => {
                let refusal = self.refusal();
                self.classified(state.unwrap_or_default().verdict(), &refusal)
            }
            (Step::Check(Classify), Event::Err(e)) => self.unclassifiable(e),
            (Step::Disable, Event::Ok(_)) => self.disabled(),
            (Step::Disable, Event::Err(e)) => self.disable_failed(e),
            (Step::SignOut, Event::Ok(_)) => self.signed_out(),
            (Step::SignOut, Event::Err(e)) => self.sign_out_failed(e),
        }
    }

    /// The row's record, once the step is [`Step::Done`].
    pub fn record(&self, row: &RowId, duration_ms: u64) -> Option<Record> {
        let ended = self.ended.as_ref()?;
        let f = &self.facts;
        let mut record = Record::local(
            row.line,
            &row.username,
            &row.pool,
            ended.outcome,
            &ended.code,
            &ended.message,
        );
        record.attempts = self.budget.calls;
        record.request_id.clone_from(&self.budget.request_id);
        record.duration_ms = duration_ms;
        if self.policy.sign_out {
            record.signed_out = f.signed_out;
            record.sign_out_error.clone_from(&f.sign_out_error);
        }
        record.channel = match ended.outcome {
            Outcome::WouldReset => f.channel,
            // A code this run sent (or found sent): unknown unless read.
            Outcome::Reset if f.achieved.earlier.is_none() => {
                Some(f.channel.unwrap_or(Channel::Unknown))
            }
            _ => None,
        };
        let kept_password = self.kept_password(ended.outcome, &ended.code);
        record.meaning = Meaning {
            would_disable: ended.outcome == Outcome::WouldFail
                && f.unreachable.is_some()
                && kept_password.is_none(),
            kept_password,
            federated: f.achieved.federated,
            maybe_two_codes: ended.outcome == Outcome::Reset
                && (f.resent.after_check || f.resent.unchecked),
            reset_by: (ended.outcome == Outcome::Reset).then_some(
                match (f.achieved.earlier, f.achieved.confirmed) {
                    (Some(_), _) => ResetBy::Earlier,
                    (None, Some(_)) => ResetBy::Confirmed,
                    (None, None) => ResetBy::Sent,
                },
            ),
        };
        record.unsettled = Unsettled {
            intent: f.doubts.reset_sent || f.doubts.disable_unsettled,
            disable: f.doubts.disable_sent || f.doubts.disable_intent,
        };
        Some(record)
    }

    fn spend(&mut self, spent: &Spent) {
        self.budget.calls += spent.calls;
        self.budget.failed += spent.failures;
        if let Some(id) = &spent.request_id {
            self.budget.request_id.clone_from(id);
        }
    }

    fn goto(&mut self, step: Step) {
        let b = &mut self.budget;
        if self.step == Step::Reset {
            b.reset_failed = b.failed;
        }
        b.failed = if step == Step::Reset {
            b.reset_failed
        } else {
            0
        };
        b.step_calls = b.calls;
        self.step = step;
    }

    /// Whether (and why) a row ending so leaves the user a working password
    /// (or may: a user whose check failed is counted on the safe side).
    fn kept_password(&self, outcome: Outcome, code: &str) -> Option<String> {
        let f = &self.facts;
        match (outcome, &f.unreachable) {
            (Outcome::Failed, None) if code == EXCLUDED_AFTER_FAILURE => {
                Some(KEPT_FAILED_THEN_EXCLUDED.into())
            }
            (Outcome::Failed | Outcome::WouldFail, Some(u)) => {
                let would_disable =
                    outcome == Outcome::WouldFail && self.policy.disable_unreachable;
                (!would_disable).then(|| u.to_string())
            }
            (Outcome::Failed, None) if code == "StateUnknown" => Some(UNKNOWN_STATE_KEPT.into()),
            (Outcome::Failed, None)
                if !f.achieved.federated && !f.achieved.locked_out && !means_no_user(code) =>
            {
                Some(format!("not reset: {code}"))
            }
            (Outcome::Cancelled, _) if f.doubts.reset_sent => Some(
                "maybe not reset: a reset's answer was lost and the run stopped before checking"
                    .into(),
            ),
            (Outcome::Cancelled, _) => Some("not reset: the run stopped first".into()),
            _ => None,
        }
    }

    fn finish(&mut self, outcome: Outcome, code: &str, message: impl Into<String>) -> Effect {
        self.goto(Step::Done);
        let mut message = message.into();
        if self.facts.resent.unchecked {
            message = join(&message, RESENT_UNCHECKED);
        }
        if self.facts.listed_reset_required && outcome == Outcome::Reset {
            message = join(
                &message,
                "the listing showed the user RESET_REQUIRED already, before this run's call: \
                 the code this run sent replaces an earlier one",
            );
        }
        if self.facts.resent.after_check && outcome == Outcome::Reset {
            message = join(&message, RESENT_AFTER_CHECK);
        }
        self.ended = Some(Ended {
            outcome,
            code: code.to_owned(),
            message,
        });
        Effect::None
    }

    /// Done, with an effect beyond the row.
    fn finish_with(&mut self, outcome: Outcome, e: &CallError, message: String) -> Effect {
        self.finish(outcome, &e.code, message);
        run_effect(e)
    }
}

impl Life {
    /// The row is stopping before its next call: record what it achieved.
    fn stopped(&mut self, aborted: Option<String>) -> Effect {
        let not_attempted = match &aborted {
            Some(reason) => format!("not attempted: the run was aborted ({reason})"),
            None => NOT_ATTEMPTED.to_owned(),
        };
        let f = &self.facts;
        if self.step == Step::Disable && self.budget.calls > self.budget.step_calls {
            // A disable was sent and its answer not seen: it may have gone
            // through, so the next resume checks the user first.
            self.facts.doubts.disable_sent = true;
            self.facts.doubts.disable_unsettled = true;
            let refusal = self.refusal();
            let kept = match &self.facts.unreachable {
                Some(u) => {
                    format!(" — the user {KEEPS}{u}) unless it went through")
                }
                None => String::new(),
            };
            let message = format!(
                "{}{kept}; AdminDisableUser was sent but its answer not seen before the run \
                 stopped: --resume checks the user",
                refusal.message
            );
            return self.finish(Outcome::Failed, &refusal.code, message);
        }
        if f.achieved.reset || f.achieved.disabled || f.achieved.federated {
            if self.step == Step::SignOut {
                self.facts.signed_out = Some(false);
                self.facts.sign_out_error = Some(SIGN_OUT_NOT_ATTEMPTED.into());
            }
            self.finish_achieved("the run stopped before the sign-out; --resume signs out")
        } else if f.doubts.reset_sent {
            // Still uncertain, so its intent is kept and a resume checks it.
            self.finish(Outcome::Cancelled, "", LOST_ANSWER_CANCELLED)
        } else if let Some(refusal) = f.refusal.clone() {
            let message = format!("{}; not remediated: {not_attempted}", refusal.message);
            self.finish(Outcome::Failed, &refusal.code, message)
        } else {
            self.finish(Outcome::Cancelled, "", not_attempted)
        }
    }

    /// Done with what was achieved: reset, disabled or federated.
    fn finish_achieved(&mut self, note: &str) -> Effect {
        let a = &self.facts.achieved;
        let code = match (&self.facts.refusal, a.earlier) {
            (Some(r), _) => r.code.clone(),
            (None, Some(Earlier::Disabled(code))) => code.as_str().to_owned(),
            _ => String::new(),
        };
        if a.disabled {
            let message = match &self.facts.refusal {
                Some(r) => format!("reset refused ({}); the user was disabled", r.message),
                None => format!("disabled by {}", self.by_whom()),
            };
            self.finish(Outcome::Disabled, &code, join(&message, note))
        } else if a.federated {
            self.finish(Outcome::Failed, &code, join(FEDERATED, note))
        } else {
            let message = match (a.confirmed, a.earlier) {
                (Some(how), _) => how.to_owned(),
                (None, Some(_)) => format!("reset by {}", self.by_whom()),
                (None, None) => String::new(),
            };
            self.finish(Outcome::Reset, "", join(&message, note))
        }
    }

    /// Who did what an earlier run did: this report's or another's.
    fn by_whom(&self) -> String {
        match &self.facts.recorded_in {
            Some(report) => format!(
                "an earlier run, as {} records (--skip-done)",
                crate::progress::escape(report)
            ),
            None => "an earlier run of this report".to_owned(),
        }
    }

    /// After the reset (or disable) is done: sign out if asked, else done.
    /// An excluded user gets no new call: a sign-out it owes stays owed.
    fn after_achieved(&mut self) -> Effect {
        if let Some(why) = self.facts.excluded {
            let note = if self.policy.sign_out {
                self.facts.signed_out = Some(false);
                self.facts.sign_out_error = Some(SIGN_OUT_EXCLUDED.into());
                format!(
                    "{why}: not signed out, the sign-out is still owed (an exclusion holds on \
                     every resume of this report: sign the user out by hand if it must be)"
                )
            } else {
                format!("{why}: no further call")
            };
            return self.finish_achieved(&note);
        }
        if self.policy.sign_out {
            self.goto(Step::SignOut);
            Effect::None
        } else {
            self.finish_achieved("")
        }
    }

    fn confirm(&mut self, how: &'static str) -> Effect {
        self.facts.achieved.reset = true;
        self.facts.achieved.confirmed = Some(how);
        self.facts.doubts.reset_sent = false;
        self.after_achieved()
    }

    /// The refusal that led to a check or a disable.
    fn refusal(&self) -> CallError {
        self.facts.refusal.clone().unwrap_or_else(|| {
            CallError::local(Class::RowFinal, "NotAuthorizedException", String::new())
        })
    }

    /// A dry run's prediction from a user's state.
    fn predict(&mut self, state: &UserState) -> Effect {
        let verdict = state.verdict();
        if let Verdict::Unreachable(u) = &verdict {
            self.facts.unreachable = Some(u.clone());
        }
        self.facts.achieved.federated = verdict == Verdict::Federated;
        self.facts.achieved.locked_out = verdict == Verdict::Disabled;
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
                format!("{message} ({u}); {WOULD_DISABLE}")
            }
            Verdict::Unreachable(u) => {
                format!("{message} ({u}); {WOULD_KEEP}")
            }
            _ => message.to_owned(),
        };
        self.finish(Outcome::WouldFail, code, message)
    }

    /// A dry run whose check failed.
    fn unpredictable(&mut self, e: CallError) -> Effect {
        let outcome = match run_effect(&e) {
            Effect::None => Outcome::WouldFail,
            _ => Outcome::Failed,
        };
        let message = e.message.clone();
        self.finish_with(outcome, &e, message)
    }

    /// A real run, for a user whose state the listing already showed.
    fn as_listed(&mut self, state: &UserState) -> Effect {
        match state.verdict() {
            Verdict::Resettable => {
                self.facts.listed_reset_required = state.status == RESET_REQUIRED;
                self.goto(Step::Reset);
                Effect::None
            }
            verdict => {
                let (code, message) = state.predicted_error().unwrap_or_default();
                let refusal = CallError::local(
                    Class::RowFinal,
                    code,
                    format!("{message} (as listed; no reset sent)"),
                );
                self.facts.refusal = Some(refusal.clone());
                self.classified(verdict, &refusal)
            }
        }
    }
}

impl Life {
    /// A check found the user disabled, and an earlier run had journaled a
    /// disable: it went through; finish its work.
    fn disable_went_through(&mut self, state: &UserState) -> Effect {
        self.facts.doubts.reset_sent = false;
        self.facts.achieved.disabled = true;
        let code = match state.verdict_if_enabled() {
            Verdict::Unreachable(Unreachable::NoVerifiedContact) => RefusalCode::InvalidParameter,
            _ => RefusalCode::NotAuthorized,
        };
        self.facts.achieved.earlier = Some(Earlier::Disabled(code));
        self.after_achieved()
    }

    /// A check found the reset not applied: send it (an excluded user is
    /// left as it is).
    fn not_applied(&mut self) -> Effect {
        self.facts.doubts.reset_sent = false;
        if let Some(why) = self.facts.excluded {
            let message = format!(
                "{why}; an earlier run's reset was checked first: it had not reached the user"
            );
            return self.finish(Outcome::Excluded, "", message);
        }
        self.facts.resent.after_check |= self.facts.doubts.timed_out_here;
        self.goto(Step::Reset);
        Effect::None
    }

    /// The user (or the pool) does not exist.
    fn gone(&mut self, e: CallError) -> Effect {
        self.facts.doubts.reset_sent = false;
        let effect = pool_effect(&e);
        self.finish(Outcome::Failed, &e.code, e.message.clone());
        effect
    }

    fn resend_unchecked(&mut self) -> Effect {
        self.facts.doubts.reset_sent = false;
        self.facts.resent.unchecked = true;
        self.goto(Step::Reset);
        Effect::None
    }

    /// A check that cannot be made never becomes a second reset on a guess.
    fn unverifiable(&mut self, e: CallError) -> Effect {
        let message = format!(
            "could not check whether an earlier reset reached the user ({}: {}); not sent \
             again: --resume checks it again, --resend-unchecked sends it",
            e.code, e.message
        );
        self.finish(Outcome::Failed, "StateUnknown", message);
        run_effect(&e)
    }

    fn reset_succeeded(&mut self) -> Effect {
        self.facts.achieved.reset = true;
        self.facts.doubts.reset_sent = false;
        self.after_achieved()
    }

    /// The reset's answer was lost: it may have been applied.
    fn answer_lost(&mut self, e: CallError) -> Effect {
        self.facts.doubts.reset_sent = true;
        self.facts.doubts.sent_here = true;
        self.facts.doubts.timed_out_here |= e.timed_out();
        let budget = self.budget.failed < self.policy.max_attempts;
        if budget && self.policy.classify {
            self.goto(Step::Check(CheckFor::Verify));
            return Effect::None;
        }
        if budget && self.policy.resend_unchecked {
            self.facts.resent.unchecked = true;
            self.goto(Step::Reset);
            return Effect::None;
        }
        let message = if budget {
            format!(
                "the answer was lost ({}) and AdminGetUser is not permitted to check whether \
                 the reset went through; not sent again: --resume with AdminGetUser allowed \
                 checks it, --resend-unchecked sends it",
                e.message
            )
        } else {
            format!(
                "gave up after {} attempts; the last answer was lost ({}), so the reset may \
                 have reached the user: --resume checks it",
                self.budget.failed, e.message
            )
        };
        self.finish(Outcome::Failed, &e.code, message)
    }

    /// The reset was refused, or retries ran out.
    fn reset_refused(&mut self, e: CallError) -> Effect {
        let refusal = e.refusal();
        if e.class == Class::Throttled {
            let message = format!(
                "gave up after {} attempts: {}",
                self.budget.failed, e.message
            );
            self.finish(Outcome::Failed, &e.code, message)
        } else if e.attempt_limit() {
            let message = format!("{} — {ATTEMPT_LIMIT_HINT}", e.message);
            self.finish(Outcome::Failed, &e.code, message)
        } else if matches!(refusal, Some(Refusal::NoVerifiedContact | Refusal::State))
            && self.policy.classify
        {
            self.facts.refusal = Some(e);
            self.goto(Step::Check(CheckFor::Classify));
            Effect::None
        } else if refusal == Some(Refusal::Disabled) {
            self.facts.achieved.locked_out = true;
            let message = format!("{} — {ALREADY_DISABLED}", e.message);
            self.finish(Outcome::Failed, &e.code, message)
        } else if refusal == Some(Refusal::State) {
            // Without AdminGetUser there is no telling why: the user is not
            // known to be locked out, and keeps a working password.
            let message = format!(
                "{} — AdminGetUser is not permitted, so why is not known; the user keeps a \
                 working password",
                e.message
            );
            self.finish(Outcome::Failed, &e.code, message)
        } else if e.class == Class::DailyLimit {
            // No code can be sent in the region today; the user, untouched,
            // is left for a resume, and the run finishes what needs no code.
            let message = format!(
                "not done: the reset was refused ({}: {}): {DAILY_LIMIT_REACHED}; nothing \
                 happened to the user",
                e.code, e.message
            );
            self.finish(Outcome::Cancelled, "", message)
        } else if e.class == Class::RunFatal {
            // Refused for the whole run (permissions, the daily email limit):
            // nothing happened to the user, who is left for a resume.
            let message = format!(
                "not done: the reset was refused ({}: {}) and the run stopped; nothing happened \
                 to the user",
                e.code, e.message
            );
            self.finish(Outcome::Cancelled, "", message);
            run_effect(&e)
        } else {
            let message = e.message.clone();
            self.finish_with(Outcome::Failed, &e, message)
        }
    }

    /// After a refusal, with the user's state known.
    fn classified(&mut self, verdict: Verdict, refusal: &CallError) -> Effect {
        match verdict {
            Verdict::Federated => {
                self.facts.achieved.federated = true;
                self.after_achieved()
            }
            Verdict::Unreachable(u) if self.policy.disable_unreachable => {
                self.facts.unreachable = Some(u);
                self.goto(Step::Disable);
                Effect::None
            }
            Verdict::Unreachable(u) => {
                let message = format!(
                    "{} — the user {KEEPS}{u}); --unresettable disable would disable the user",
                    refusal.message
                );
                self.facts.unreachable = Some(u);
                self.finish(Outcome::Failed, &refusal.code, message)
            }
            Verdict::Disabled => {
                self.facts.achieved.locked_out = true;
                let message = format!("{} — {ALREADY_DISABLED}", refusal.message);
                self.finish(Outcome::Failed, &refusal.code, message)
            }
            Verdict::Resettable => {
                self.finish(Outcome::Failed, &refusal.code, refusal.message.clone())
            }
        }
    }

    /// The refusal stands; without the state nothing more is safe to do (a
    /// federated user must never be disabled).
    fn unclassifiable(&mut self, e: CallError) -> Effect {
        let refusal = self.refusal();
        let message = format!(
            "{} (the user's state could not be read: {}: {}; not remediated)",
            refusal.message, e.code, e.message
        );
        self.finish(Outcome::Failed, &refusal.code, message);
        run_effect(&e)
    }

    fn disabled(&mut self) -> Effect {
        self.facts.doubts.disable_sent = true;
        self.facts.achieved.disabled = true;
        self.facts.unreachable = None;
        self.after_achieved()
    }

    fn disable_failed(&mut self, e: CallError) -> Effect {
        // A disable whose answer was lost may have gone through: the next
        // resume checks the user before anything else.
        self.facts.doubts.disable_sent = true;
        self.facts.doubts.disable_unsettled = e.may_have_applied();
        let refusal = self.refusal();
        let message = format!(
            "{} — AdminDisableUser failed ({}: {}), so the user keeps a working password",
            refusal.message, e.code, e.message
        );
        self.finish(Outcome::Failed, &refusal.code, message);
        run_effect(&e)
    }

    fn signed_out(&mut self) -> Effect {
        self.facts.signed_out = Some(true);
        self.finish_achieved("")
    }

    fn sign_out_failed(&mut self, e: CallError) -> Effect {
        self.facts.signed_out = Some(false);
        self.facts.sign_out_error = Some(e.code.clone());
        let note = format!(
            "the sign-out failed ({}: {}): --resume signs out",
            e.code, e.message
        );
        self.finish_achieved(&note);
        run_effect(&e)
    }
}

/// Whether an earlier run left the row something to settle: a reset or
/// disable it may have sent, or a sign-out it owes.
fn has_history(start: &Start) -> bool {
    start.uncertain || start.disable_intent || start.owes_sign_out.is_some()
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}; {b}"),
    }
}

/// Stops the run for a run-fatal error (or refused credentials the retry
/// driver did not wait out); marks a vanished pool.
fn run_effect(e: &CallError) -> Effect {
    match e.class {
        Class::RunFatal | Class::Credentials => Effect::StopRun(e.clone()),
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

mod read_back;
pub use read_back::{meaning_of, skipped_as, unresettable};

#[cfg(test)]
mod tests;
