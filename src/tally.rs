//! Counting outcomes: what a run (or the whole report) did, as the summary
//! reports it. The report writer keeps one tally for this run and one for
//! the whole report.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cognito::may_pass_later;
use crate::life::{SIGN_OUT_EXCLUDED, SIGN_OUT_NOT_ATTEMPTED, UNKNOWN_PREFIX};
use crate::report::{Meaning, Outcome, Record, ResetBy};

/// Counts kept as records go by.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Tally {
    /// Rows recorded.
    pub rows: u64,
    /// Rows by outcome word.
    pub outcomes: BTreeMap<String, u64>,
    /// Rows by error code (failed, invalid, would_fail, disabled, cancelled
    /// with a code).
    pub error_codes: BTreeMap<String, u64>,
    /// Users signed out (`--global-sign-out`).
    pub signed_out: u64,
    /// Sign-outs that failed, by error code.
    pub sign_out_failed: BTreeMap<String, u64>,
    /// Sign-outs not attempted because the run stopped first (a resume does
    /// them).
    pub sign_outs_not_attempted: u64,
    /// Sign-outs owed by users `--exclude` now lists: not done, still owed.
    pub sign_outs_excluded: u64,
    /// Users left with a working password, by reason (in a dry run: who
    /// would be).
    pub kept_password: BTreeMap<String, u64>,
    /// Dry run: users that `--unresettable disable` would disable.
    pub would_disable: u64,
    /// Federated users (no password in Cognito; reset at their identity provider).
    pub federated: u64,
    /// Users reset whose reset was sent again after a timed-out call (or
    /// without a check, `--resend-unchecked`): they may have had two codes,
    /// the later one valid. Their report rows say so.
    pub maybe_two_codes: u64,
    /// `reset` rows whose reset this run sent and saw succeed.
    pub resets_sent: u64,
    /// `reset` rows whose user a check (or a listing) found
    /// `RESET_REQUIRED` after a reset whose answer was lost: no code is known
    /// to have come from this run.
    pub resets_confirmed: u64,
    /// `reset` rows an earlier run had reset, which this run signed out.
    pub earlier_resets_signed_out: u64,
    /// API calls made for rows.
    pub attempts: u64,
    /// Rows a resume may still finish: cancelled, failed for a reason that
    /// can pass (throttling, timeouts, the per-user attempt limit, a state
    /// that could not be checked), or owing a sign-out.
    pub resumable: u64,
    /// Per pool: codes by channel, the last sign-out (the summary's pools).
    #[serde(skip)]
    pub by_pool: crate::answers::Seen,
}

/// What one row adds to the counts, apart from its calls. A report of
/// millions of rows holds few distinct shapes, so an earlier run's rows are
/// each kept as one of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    /// How the row ended.
    pub outcome: Outcome,
    /// Its error code.
    pub error_code: String,
    /// Whether it was signed out.
    pub signed_out: Option<bool>,
    /// Its sign-out's error code.
    pub sign_out_error: Option<String>,
    /// What it means for the user.
    pub meaning: Meaning,
}

impl Shape {
    /// A record's shape.
    pub fn of(record: &Record) -> Shape {
        Shape {
            outcome: record.outcome,
            error_code: record.error_code.clone(),
            signed_out: record.signed_out,
            sign_out_error: record.sign_out_error.clone(),
            meaning: record.meaning.clone(),
        }
    }
}

impl Tally {
    /// Counts one record.
    pub fn add(&mut self, record: &Record) {
        self.add_parts(
            record.outcome,
            &record.error_code,
            record.signed_out,
            record.sign_out_error.as_deref(),
            &record.meaning,
        );
        self.attempts += u64::from(record.attempts);
        self.by_pool.see(record);
    }

    /// Counts a user as an earlier run of the report left it.
    pub fn add_earlier(&mut self, shape: &Shape) {
        self.add_parts(
            shape.outcome,
            &shape.error_code,
            shape.signed_out,
            shape.sign_out_error.as_deref(),
            &shape.meaning,
        );
    }

    fn add_parts(
        &mut self,
        outcome: Outcome,
        code: &str,
        signed_out: Option<bool>,
        sign_out_error: Option<&str>,
        meaning: &Meaning,
    ) {
        self.add_row(outcome, code, signed_out, sign_out_error);
        if let Some(reason) = &meaning.kept_password {
            *self.kept_password.entry(reason.clone()).or_default() += 1;
        }
        self.would_disable += u64::from(meaning.would_disable);
        self.federated += u64::from(meaning.federated);
        self.maybe_two_codes += u64::from(meaning.maybe_two_codes);
        match meaning.reset_by {
            Some(ResetBy::Sent) => self.resets_sent += 1,
            Some(ResetBy::Confirmed) => self.resets_confirmed += 1,
            Some(ResetBy::Earlier) if signed_out == Some(true) => {
                self.earlier_resets_signed_out += 1
            }
            _ => {}
        }
    }

    fn add_row(
        &mut self,
        outcome: Outcome,
        code: &str,
        signed_out: Option<bool>,
        sign_out_error: Option<&str>,
    ) {
        self.rows += 1;
        *self
            .outcomes
            .entry(outcome.as_str().to_owned())
            .or_default() += 1;
        if !code.is_empty() {
            *self.error_codes.entry(code.to_owned()).or_default() += 1;
        }
        match (signed_out, sign_out_error) {
            (Some(true), _) => self.signed_out += 1,
            (Some(false), Some(SIGN_OUT_NOT_ATTEMPTED)) => self.sign_outs_not_attempted += 1,
            (Some(false), Some(SIGN_OUT_EXCLUDED)) => self.sign_outs_excluded += 1,
            (Some(false), code) => {
                let code = code.unwrap_or_default().to_owned();
                *self.sign_out_failed.entry(code).or_default() += 1;
            }
            _ => {}
        }
        let passing = outcome == Outcome::Failed && may_pass_later(code);
        // A sign-out owed by an excluded user stays owed, but no resume
        // makes it: exclusions stick.
        let owed = signed_out == Some(false) && sign_out_error != Some(SIGN_OUT_EXCLUDED);
        if outcome == Outcome::Cancelled || passing || owed {
            self.resumable += 1;
        }
    }

    /// Rows with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(outcome.as_str()).copied().unwrap_or(0)
    }

    /// Sign-outs that failed.
    pub fn sign_outs_failed(&self) -> u64 {
        self.sign_out_failed.values().sum()
    }

    /// Users left with a working password.
    pub fn kept(&self) -> u64 {
        self.kept_password.values().sum()
    }

    /// Whether the exit code is 1: a row failed or was invalid, or a
    /// sign-out failed.
    pub fn any_failure(&self) -> bool {
        Outcome::ALL
            .into_iter()
            .any(|o| o.is_failure() && self.count(o) > 0)
            || self.sign_outs_failed() > 0
    }

    /// The counts as the operator reads them; `dry_run` words what would
    /// happen as such.
    pub fn render(&self, out: &mut String, dry_run: bool) {
        let words = [
            "found RESET_REQUIRED by a check, no code known from this run",
            "reset earlier, only signed out now",
        ];
        self.render_as(out, dry_run, words);
    }

    /// The whole report's counts, worded for every run of it.
    pub fn render_whole(&self, out: &mut String, dry_run: bool) {
        let words = [
            "found RESET_REQUIRED by a check (a reset whose answer was lost, or sent before)",
            "reset as a report --skip-done named records, signed out by this report's runs",
        ];
        self.render_as(out, dry_run, words);
    }

    fn render_as(&self, out: &mut String, dry_run: bool, [confirmed, earlier]: [&str; 2]) {
        let listed = if self.outcomes.is_empty() {
            "no rows".to_owned()
        } else {
            joined(&self.outcomes)
        };
        out.push_str(&format!("  rows {}: {listed}\n", self.rows));
        if self.resets_confirmed + self.earlier_resets_signed_out > 0 {
            out.push_str(&format!(
                "  of the resets: sent {} · {confirmed} {} · {earlier} {}\n",
                self.resets_sent, self.resets_confirmed, self.earlier_resets_signed_out
            ));
        }
        if !self.error_codes.is_empty() {
            out.push_str(&format!("  errors: {}\n", joined(&self.error_codes)));
        }
        let owed = self.sign_outs_not_attempted + self.sign_outs_excluded;
        if self.signed_out + self.sign_outs_failed() + owed > 0 {
            out.push_str(&format!(
                "  signed out {} · sign-outs failed {} · not attempted (the run stopped) {}",
                self.signed_out,
                self.sign_outs_failed(),
                self.sign_outs_not_attempted
            ));
            if self.sign_outs_excluded > 0 {
                out.push_str(&format!(
                    " · owed by users --exclude lists {}",
                    self.sign_outs_excluded
                ));
            }
            out.push('\n');
        }
        if self.sign_outs_excluded > 0 {
            out.push_str(&format!(
                "  {} excluded users still owe a sign-out that no resume makes (exclusions \
                 stick): sign them out by hand (AdminUserGlobalSignOut; their rows say \
                 signed_out false, sign_out_error {SIGN_OUT_EXCLUDED})\n",
                self.sign_outs_excluded
            ));
        }
        let lines = [
            (self.would_disable, "would be disabled"),
            (
                self.federated,
                "federated users (reset at their identity provider)",
            ),
            (
                self.maybe_two_codes,
                "sent again after a lost answer, so may have had two codes",
            ),
        ];
        for (n, what) in lines {
            if n > 0 {
                out.push_str(&format!("  {what}: {n}\n"));
            }
        }
        self.render_kept(out, dry_run);
    }

    /// The users left with a working password, by cause: those whose state
    /// is unknown may be.
    fn render_kept(&self, out: &mut String, dry_run: bool) {
        for (reason, n) in &self.kept_password {
            let kept = if dry_run {
                "WOULD BE LEFT WITH A WORKING PASSWORD"
            } else if reason.starts_with(UNKNOWN_PREFIX) {
                "MAY BE LEFT WITH A WORKING PASSWORD"
            } else {
                "LEFT WITH A WORKING PASSWORD"
            };
            out.push_str(&format!("  {kept}: {n} ({reason})\n"));
        }
    }
}

fn joined(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_out_failures_and_kept_passwords_are_counted_and_fail_the_run() {
        let mut t = Tally::default();
        let mut r = Record::local(1, "a", "p_1", Outcome::Reset, "", "");
        r.signed_out = Some(true);
        t.add(&r);
        assert!(!t.any_failure());
        r.signed_out = Some(false);
        r.sign_out_error = Some("InternalErrorException".into());
        t.add(&r);
        assert!(t.any_failure(), "a failed sign-out is a failure");
        let mut f = Record::local(
            2,
            "b",
            "p_1",
            Outcome::Failed,
            "InvalidParameterException",
            "",
        );
        f.meaning.kept_password = Some("no verified email or phone".into());
        t.add(&f);
        assert_eq!(t.kept(), 1);
        let mut text = String::new();
        t.render(&mut text, false);
        assert!(text.contains("LEFT WITH A WORKING PASSWORD: 1"), "{text}");
        assert!(
            text.contains("signed out 1 · sign-outs failed 1 · not attempted"),
            "{text}"
        );
    }
}
