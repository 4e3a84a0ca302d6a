//! The report: one [`Record`] per row, the only file the run's outcomes go
//! to, and the one type a row's result has from the row's life to the
//! report, the resume reader and the tallies.
//!
//! The columns are derived from the record in one place, [`Column`]: their
//! names, their order, how each is written as text (CSV) or as JSON, and how
//! each is read back. Adding a column is a field of [`Record`] and a variant
//! of [`Column`]. Writing (CSV or JSONL by extension, mode 0600, appended in
//! batches the writer task flushes) is in `file`; reading an earlier report
//! back is in `read`.

use std::borrow::Cow;
use std::path::Path;

pub use crate::channel::Channel;

mod chain;
mod file;
mod read;

pub use chain::Chain;
pub use file::{HASH_COLUMN, ReportWriter, escape_controls, header_bytes};
pub use read::{Broken, Fault, FirstLine, Reader, Whole, complete_len, judge_header, read_whole};

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The reset call succeeded (or an earlier one was confirmed by a check).
    Reset,
    /// The service refused, or retries ran out.
    Failed,
    /// The row failed local validation; no call.
    Invalid,
    /// The (pool, username) appeared earlier in the input; no call.
    Duplicate,
    /// Already reset by an earlier run of this report (`--resume`); no call.
    Skipped,
    /// Dry run: the reset would succeed.
    WouldReset,
    /// Dry run: the reset would fail.
    WouldFail,
    /// Not attempted because the run was interrupted or aborted.
    Cancelled,
    /// A reset cannot reach the user (no verified contact, a status that
    /// cannot be reset), so with `--unresettable disable` the user was disabled.
    Disabled,
    /// Listed in `--exclude`; no call of any kind.
    Excluded,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 10] = [
        Outcome::Reset,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Duplicate,
        Outcome::Skipped,
        Outcome::WouldReset,
        Outcome::WouldFail,
        Outcome::Cancelled,
        Outcome::Disabled,
        Outcome::Excluded,
    ];

    /// The word written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reset => "reset",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped => "skipped",
            Outcome::WouldReset => "would_reset",
            Outcome::WouldFail => "would_fail",
            Outcome::Cancelled => "cancelled",
            Outcome::Disabled => "disabled",
            Outcome::Excluded => "excluded",
        }
    }

    /// Parses a report word.
    pub fn parse(word: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word)
    }

    /// Whether the user is known to be locked out (reset or disabled), so a
    /// resume must not reset again.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Reset | Outcome::Skipped | Outcome::Disabled)
    }

    /// Whether the row was a dry run's prediction.
    pub fn is_dry_run(self) -> bool {
        matches!(self, Outcome::WouldReset | Outcome::WouldFail)
    }

    /// Whether this outcome makes the exit code 1.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::Invalid | Outcome::WouldFail
        )
    }
}

/// What a record means for the user beyond its columns: what the tallies
/// count. Not written: `life::meaning_of` reads it back from a record's
/// columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Meaning {
    /// The user is left with a working password, and why (in a dry run:
    /// would be left with one).
    pub kept_password: Option<String>,
    /// A federated user: no password in Cognito to reset.
    pub federated: bool,
    /// Dry run: `--unresettable disable` would disable the user.
    pub would_disable: bool,
    /// Reset, but sent again after a lost answer or without a check: the
    /// user may have had two codes.
    pub maybe_two_codes: bool,
    /// A `reset` row: how the user came to be reset.
    pub reset_by: Option<ResetBy>,
}

impl Meaning {
    /// A row that only finished a reset an earlier row made (its sign-out)
    /// keeps how that reset came about.
    pub fn finishing(&mut self, earlier: &Meaning) {
        if self.reset_by == Some(ResetBy::Earlier) && earlier.reset_by.is_some() {
            self.reset_by = earlier.reset_by;
            self.maybe_two_codes |= earlier.maybe_two_codes;
        }
    }
}

/// How a `reset` row's user came to be reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetBy {
    /// This run sent the reset and saw it succeed.
    Sent,
    /// A check (or a listing) found the user `RESET_REQUIRED` after a reset
    /// whose answer was lost: no code is known to have come from this run.
    Confirmed,
    /// An earlier run reset the user; this run only finished the row (its
    /// sign-out).
    Earlier,
}

/// What the intent journal must keep of a row. Not written to the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unsettled {
    /// A reset or disable may have reached the user without its outcome
    /// being known: its intent stays for the next resume to check.
    pub intent: bool,
    /// An AdminDisableUser was journaled for the row.
    pub disable: bool,
}

/// One row's result: one line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Input line where the row starts (or position in a pool listing).
    pub line: u64,
    /// The username, as read.
    pub username: String,
    /// The pool, as read or defaulted.
    pub user_pool_id: String,
    /// How the row ended.
    pub outcome: Outcome,
    /// Service or local error code; empty on success.
    pub error_code: String,
    /// What went wrong, for a person; empty on success.
    pub error_message: String,
    /// API calls made for this row.
    pub attempts: u32,
    /// From the first attempt to the outcome.
    pub duration_ms: u64,
    /// The service's request id of the last call.
    pub request_id: String,
    /// RFC 3339 UTC.
    pub completed_at: String,
    /// With `--global-sign-out`: whether the sign-out succeeded.
    pub signed_out: Option<bool>,
    /// With `--global-sign-out`: the sign-out's error code, if any.
    pub sign_out_error: Option<String>,
    /// The channel the row's code took: predicted for a dry run's
    /// `would_reset` row (the only rows whose report shows it); for a
    /// real run's `reset` row, as far as the user's contacts were read.
    pub channel: Option<Channel>,
    /// What the tallies count (not written).
    pub meaning: Meaning,
    /// What the journal keeps (not written).
    pub unsettled: Unsettled,
}

impl Record {
    /// A record with no call made, stamped now.
    pub fn local(
        line: u64,
        username: &str,
        pool: &str,
        outcome: Outcome,
        code: &str,
        message: &str,
    ) -> Record {
        Record {
            line,
            username: username.to_owned(),
            user_pool_id: pool.to_owned(),
            outcome,
            error_code: code.to_owned(),
            error_message: message.to_owned(),
            attempts: 0,
            duration_ms: 0,
            request_id: String::new(),
            completed_at: crate::clock::now_rfc3339(),
            signed_out: None,
            sign_out_error: None,
            channel: None,
            meaning: Meaning::default(),
            unsettled: Unsettled::default(),
        }
    }
}

/// One column of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `line`.
    Line,
    /// `username`.
    Username,
    /// `user_pool_id`.
    UserPoolId,
    /// `outcome`.
    Outcome,
    /// `error_code`.
    ErrorCode,
    /// `error_message`.
    ErrorMessage,
    /// `attempts`.
    Attempts,
    /// `duration_ms`.
    DurationMs,
    /// `request_id`.
    RequestId,
    /// `completed_at`.
    CompletedAt,
    /// `signed_out` (`--global-sign-out`).
    SignedOut,
    /// `sign_out_error` (`--global-sign-out`).
    SignOutError,
    /// `channel` (dry run).
    Channel,
}

/// A column's value, typed as JSONL writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// A whole number.
    Number(u64),
    /// A flag; `None` is an empty cell (CSV) or an absent key (JSONL).
    Flag(Option<bool>),
    /// Text that may be absent: an empty cell (CSV) or an absent key (JSONL).
    Optional(Option<&'a str>),
}

impl Value<'_> {
    /// The value as a CSV cell.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Text(t) => Cow::Borrowed(t),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Flag(Some(true)) => Cow::Borrowed("true"),
            Value::Flag(Some(false)) => Cow::Borrowed("false"),
            Value::Flag(None) => Cow::Borrowed(""),
            Value::Optional(t) => Cow::Borrowed(t.unwrap_or_default()),
        }
    }
}

/// The columns every report has, in order.
pub const COLUMNS: [Column; 10] = [
    Column::Line,
    Column::Username,
    Column::UserPoolId,
    Column::Outcome,
    Column::ErrorCode,
    Column::ErrorMessage,
    Column::Attempts,
    Column::DurationMs,
    Column::RequestId,
    Column::CompletedAt,
];
/// Columns added by `--global-sign-out`.
pub const SIGN_OUT_COLUMNS: [Column; 2] = [Column::SignedOut, Column::SignOutError];

impl Column {
    /// The column's name in the header (CSV) and as a key (JSONL).
    pub fn name(self) -> &'static str {
        match self {
            Column::Line => "line",
            Column::Username => "username",
            Column::UserPoolId => "user_pool_id",
            Column::Outcome => "outcome",
            Column::ErrorCode => "error_code",
            Column::ErrorMessage => "error_message",
            Column::Attempts => "attempts",
            Column::DurationMs => "duration_ms",
            Column::RequestId => "request_id",
            Column::CompletedAt => "completed_at",
            Column::SignedOut => "signed_out",
            Column::SignOutError => "sign_out_error",
            Column::Channel => "channel",
        }
    }

    /// The column's value in a record.
    pub fn get(self, r: &Record) -> Value<'_> {
        let text = |s: &str| Value::Text(Cow::Owned(s.to_owned()));
        match self {
            Column::Line => Value::Number(r.line),
            Column::Username => Value::Text(Cow::Borrowed(&r.username)),
            Column::UserPoolId => Value::Text(Cow::Borrowed(&r.user_pool_id)),
            Column::Outcome => text(r.outcome.as_str()),
            Column::ErrorCode => Value::Text(Cow::Borrowed(&r.error_code)),
            Column::ErrorMessage => Value::Text(Cow::Borrowed(&r.error_message)),
            Column::Attempts => Value::Number(u64::from(r.attempts)),
            Column::DurationMs => Value::Number(r.duration_ms),
            Column::RequestId => Value::Text(Cow::Borrowed(&r.request_id)),
            Column::CompletedAt => Value::Text(Cow::Borrowed(&r.completed_at)),
            Column::SignedOut => Value::Flag(r.signed_out),
            Column::SignOutError => Value::Optional(r.sign_out_error.as_deref()),
            Column::Channel => Value::Optional(r.channel.map(Channel::as_str)),
        }
    }

    /// Sets the column's value in a record from its text (a CSV cell, or a
    /// JSONL value written as text). `false` when the text is not a value
    /// the tool writes in this column.
    pub fn set(self, r: &mut Record, text: &str) -> bool {
        // A number that does not parse reads as 0, so that a reused record
        // keeps nothing of the row before.
        let number = |t: &str, n: &mut u64| {
            *n = t.parse().unwrap_or(0);
            t.parse::<u64>().is_ok()
        };
        match self {
            Column::Line => number(text, &mut r.line),
            Column::Username => set_text(&mut r.username, text),
            Column::UserPoolId => set_text(&mut r.user_pool_id, text),
            Column::Outcome => Outcome::parse(text).map(|o| r.outcome = o).is_some(),
            Column::ErrorCode => set_text(&mut r.error_code, text),
            Column::ErrorMessage => set_text(&mut r.error_message, text),
            Column::Attempts => {
                r.attempts = text.parse().unwrap_or(0);
                text.parse::<u32>().is_ok()
            }
            Column::DurationMs => number(text, &mut r.duration_ms),
            Column::RequestId => set_text(&mut r.request_id, text),
            Column::CompletedAt => set_text(&mut r.completed_at, text),
            Column::SignedOut => {
                r.signed_out = match text {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                matches!(text, "true" | "false" | "")
            }
            Column::SignOutError => {
                r.sign_out_error = (!text.is_empty()).then(|| text.to_owned());
                true
            }
            Column::Channel => {
                r.channel = Channel::parse(text);
                r.channel.is_some() || text.is_empty()
            }
        }
    }
}

fn set_text(field: &mut String, text: &str) -> bool {
    text.clone_into(field);
    true
}

/// Which columns a report has beyond those every report has: the sign-out
/// columns (`--global-sign-out`), then the channel column (a dry run's
/// report written by a version that predicts channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `signed_out`, `sign_out_error`.
    pub sign_out: bool,
    /// `channel`.
    pub channel: bool,
}

impl Layout {
    /// Every layout a report of this tool's may have, so that a header is
    /// recognised whichever it is.
    pub const ALL: [Layout; 4] = [
        Layout::new(false, false),
        Layout::new(true, false),
        Layout::new(false, true),
        Layout::new(true, true),
    ];

    /// A layout.
    pub const fn new(sign_out: bool, channel: bool) -> Layout {
        Layout { sign_out, channel }
    }

    /// The layout a run writes: the channel column is a dry run's.
    pub fn of_run(sign_out: bool, dry_run: bool) -> Layout {
        Layout::new(sign_out, dry_run)
    }

    /// Its columns, in order.
    pub fn columns(self) -> Vec<Column> {
        let mut columns = COLUMNS.to_vec();
        if self.sign_out {
            columns.extend(SIGN_OUT_COLUMNS);
        }
        if self.channel {
            columns.push(Column::Channel);
        }
        columns
    }
}

/// A real run's report, with or without the sign-out columns.
impl From<bool> for Layout {
    fn from(sign_out: bool) -> Layout {
        Layout::new(sign_out, false)
    }
}

/// The columns of a report of this layout (a `bool`: a real run's, with or
/// without the sign-out columns).
pub fn layout(layout: impl Into<Layout>) -> Vec<Column> {
    layout.into().columns()
}

/// The header line of a CSV report.
pub fn csv_header(layout: impl Into<Layout>) -> Vec<&'static str> {
    layout
        .into()
        .columns()
        .into_iter()
        .map(Column::name)
        .collect()
}

/// The report's encoding, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// `.csv` (and anything not JSONL).
    Csv,
    /// `.jsonl` / `.ndjson`.
    Jsonl,
}

impl ReportFormat {
    /// JSONL for `.jsonl`/`.ndjson`, CSV otherwise.
    pub fn from_path(path: &Path) -> ReportFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson") => {
                ReportFormat::Jsonl
            }
            _ => ReportFormat::Csv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_words_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("nope"), None);
    }

    #[test]
    fn every_column_reads_back_what_it_wrote() {
        let mut r = Record::local(7, "alice", "eu-west-1_P", Outcome::Reset, "", "m");
        r.attempts = 3;
        r.signed_out = Some(false);
        r.sign_out_error = Some("InternalErrorException".into());
        let mut back = Record::local(0, "", "", Outcome::Failed, "x", "");
        back.completed_at.clear();
        r.channel = Some(Channel::Sms);
        for column in Layout::new(true, true).columns() {
            let text = column.get(&r).text().into_owned();
            assert!(column.set(&mut back, &text), "{column:?}");
        }
        assert_eq!(back, r);
    }
}
