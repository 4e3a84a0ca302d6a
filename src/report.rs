//! The report: one record per row, the only file the run's outcomes go to.
//!
//! Owns the record type, the outcome words, the columns, and writing (CSV or
//! JSONL by extension, mode 0600, appended in batches that the writer task
//! flushes by time and by count). Reading an earlier report back is
//! `resume`'s. Only the writer task in `pool` holds a [`ReportWriter`];
//! workers send it records.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cognito::Unreachable;

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

    /// Whether the row was a real run's (not a dry run's) outcome.
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

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out: Option<bool>,
    /// With `--global-sign-out`: the sign-out's error code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_out_error: Option<String>,
    /// Not written: the row's last reset call may have taken effect unseen
    /// (a timeout, a dropped connection), so a later resume must check it
    /// before calling again. Kept in the journal across a clean finish.
    #[serde(skip)]
    pub uncertain: bool,
    /// Not written: why the user keeps (or, in a dry run, would keep) a
    /// working password, when a reset cannot reach them.
    #[serde(skip)]
    pub unreachable: Option<Unreachable>,
    /// Not written: why the user is left with a working password, if so.
    #[serde(skip)]
    pub kept_password: Option<String>,
    /// Not written: a federated user.
    #[serde(skip)]
    pub federated: bool,
    /// Not written: the user's key (pool, username), for the journal.
    #[serde(skip)]
    pub key: u64,
    /// Not written: an AdminDisableUser was journaled for the row.
    #[serde(skip)]
    pub disable_attempted: bool,
    /// Not written: reset, but the user may have had two codes.
    #[serde(skip)]
    pub maybe_two_codes: bool,
    /// Not written: for a `skipped` row, what the earlier run recorded.
    #[serde(skip)]
    pub earlier: Option<crate::resume::Done>,
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
            completed_at: now_rfc3339(),
            signed_out: None,
            sign_out_error: None,
            uncertain: false,
            unreachable: None,
            kept_password: None,
            federated: false,
            key: 0,
            disable_attempted: false,
            maybe_two_codes: false,
            earlier: None,
        }
    }
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The report's columns, in order.
pub const COLUMNS: [&str; 10] = [
    "line",
    "username",
    "user_pool_id",
    "outcome",
    "error_code",
    "error_message",
    "attempts",
    "duration_ms",
    "request_id",
    "completed_at",
];
/// Columns added by `--global-sign-out`.
pub const SIGN_OUT_COLUMNS: [&str; 2] = ["signed_out", "sign_out_error"];

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

/// The header line of a CSV report.
pub fn csv_header(sign_out: bool) -> Vec<&'static str> {
    let mut header: Vec<&str> = COLUMNS.to_vec();
    if sign_out {
        header.extend(SIGN_OUT_COLUMNS);
    }
    header
}

/// What a new report starts with: the CSV header line (a JSONL report has
/// none).
pub fn header_bytes(path: &Path, sign_out: bool) -> Vec<u8> {
    match ReportFormat::from_path(path) {
        ReportFormat::Csv => {
            let mut line = csv_header(sign_out).join(",").into_bytes();
            line.push(b'\n');
            line
        }
        ReportFormat::Jsonl => Vec::new(),
    }
}

/// Appends records to the report. Writes are buffered; the writer task calls
/// [`ReportWriter::flush`] by time and by count, so an outcome reaches the
/// file within a fraction of a second without a system call per row.
pub struct ReportWriter {
    sign_out: bool,
    csv: Option<csv::Writer<File>>,
    jsonl: Option<BufWriter<File>>,
    path: String,
}

impl ReportWriter {
    /// Writes to `file`: opened, locked, positioned at its end, its header
    /// already there.
    pub fn new(file: File, path: &Path, sign_out: bool) -> std::io::Result<ReportWriter> {
        let mut writer = ReportWriter {
            sign_out,
            csv: None,
            jsonl: None,
            path: crate::progress::escape(&path.display().to_string()),
        };
        match ReportFormat::from_path(path) {
            ReportFormat::Csv => {
                let csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .buffer_capacity(64 * 1024)
                    .from_writer(file);
                writer.csv = Some(csv);
            }
            ReportFormat::Jsonl => writer.jsonl = Some(BufWriter::with_capacity(64 * 1024, file)),
        }
        Ok(writer)
    }

    /// Writes one record into the buffer.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        if let Some(csv) = &mut self.csv {
            let line = record.line.to_string();
            let attempts = record.attempts.to_string();
            let duration = record.duration_ms.to_string();
            let mut fields: Vec<&str> = vec![
                &line,
                &record.username,
                &record.user_pool_id,
                record.outcome.as_str(),
                &record.error_code,
                &record.error_message,
                &attempts,
                &duration,
                &record.request_id,
                &record.completed_at,
            ];
            if self.sign_out {
                fields.push(match record.signed_out {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                });
                fields.push(record.sign_out_error.as_deref().unwrap_or(""));
            }
            csv.write_record(&fields)?;
        } else if let Some(file) = &mut self.jsonl {
            serde_json::to_writer(&mut *file, record)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Hands everything written so far to the OS.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match (&mut self.csv, &mut self.jsonl) {
            (Some(csv), _) => csv.flush(),
            (_, Some(file)) => file.flush(),
            _ => Ok(()),
        }
    }

    /// Forces everything written so far to stable storage.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.flush()?;
        match (&self.csv, &self.jsonl) {
            (Some(csv), _) => csv.get_ref().sync_data(),
            (_, Some(file)) => file.get_ref().sync_data(),
            _ => Ok(()),
        }
    }

    /// The report's path, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(username: &str, outcome: Outcome) -> Record {
        Record::local(1, username, "eu-west-1_P", outcome, "", "")
    }

    #[test]
    fn outcome_words_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("nope"), None);
    }

    #[test]
    fn csv_report_has_the_header_and_sign_out_columns_when_asked() {
        let dir = std::env::temp_dir().join(format!("cr-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for sign_out in [false, true] {
            let path = dir.join(format!("r{sign_out}.csv"));
            let file = crate::files::create_with(&path, &header_bytes(&path, sign_out)).unwrap();
            let mut w = ReportWriter::new(file, &path, sign_out).unwrap();
            let mut r = record("alice", Outcome::Reset);
            r.signed_out = sign_out.then_some(true);
            w.write(&r).unwrap();
            w.sync().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            assert!(header.starts_with("line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at"));
            assert_eq!(header.ends_with(",signed_out,sign_out_error"), sign_out);
            assert_eq!(lines.next().unwrap().ends_with(",true,"), sign_out);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
