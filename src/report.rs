//! The report: one record per row, the only file the run's outcomes go to.
//!
//! Owns the record type, the outcome words and exit-relevant counts (SPEC §6),
//! writing (CSV or JSONL by extension, appended and flushed per record, mode
//! 0600) and reading an earlier report back for `--resume`. Only the writer
//! task in `pool` holds a [`ReportWriter`]; workers send it records.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::StartError;
use crate::input::row_key;

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
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Reset,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Duplicate,
        Outcome::Skipped,
        Outcome::WouldReset,
        Outcome::WouldFail,
        Outcome::Cancelled,
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
        }
    }

    /// Parses a report word.
    pub fn parse(word: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word)
    }

    /// Whether the user is known to be reset, so a resume must not call again.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Reset | Outcome::Skipped)
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
        }
    }
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The report's columns, in order (SPEC §6).
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

/// Opens a file for writing with mode 0600, creating it if needed; `append`
/// keeps what is there, otherwise it is emptied.
pub fn open_private(path: &Path, append: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .mode(0o600)
        .open(path)?;
    // A file created earlier by someone else keeps its mode; narrow it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Appends records to the report; one write and flush per record.
pub struct ReportWriter {
    format: ReportFormat,
    sign_out: bool,
    csv: Option<csv::Writer<File>>,
    jsonl: Option<File>,
    path: String,
}

impl ReportWriter {
    /// Opens the report. `append` continues an existing file (its header is
    /// already there); otherwise the file is started afresh with a header.
    pub fn open(path: &Path, append: bool, sign_out: bool) -> Result<ReportWriter, StartError> {
        let display = path.display().to_string();
        let file = open_private(path, append).map_err(|e| StartError::io(&display, e))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let format = ReportFormat::from_path(path);
        let mut writer = ReportWriter {
            format,
            sign_out,
            csv: None,
            jsonl: None,
            path: display.clone(),
        };
        match format {
            ReportFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(file);
                if empty {
                    let mut header: Vec<&str> = COLUMNS.to_vec();
                    if sign_out {
                        header.extend(SIGN_OUT_COLUMNS);
                    }
                    csv.write_record(&header)
                        .and_then(|_| Ok(csv.flush()?))
                        .map_err(|e| StartError::io(&display, e.into()))?;
                }
                writer.csv = Some(csv);
            }
            ReportFormat::Jsonl => writer.jsonl = Some(file),
        }
        Ok(writer)
    }

    /// Writes one record and flushes it to the OS.
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
            csv.flush()?;
        } else if let Some(file) = &mut self.jsonl {
            let mut line = serde_json::to_vec(record)?;
            line.push(b'\n');
            file.write_all(&line)?;
        }
        Ok(())
    }

    /// Forces everything written so far to stable storage.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if let Some(csv) = &mut self.csv {
            csv.flush()?;
            csv.get_ref().sync_data()?;
        } else if let Some(file) = &self.jsonl {
            file.sync_data()?;
        }
        Ok(())
    }

    /// The report's path, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The report's encoding.
    pub fn format(&self) -> ReportFormat {
        self.format
    }
}

/// What an earlier report says, for `--resume`.
#[derive(Debug, Default)]
pub struct Previous {
    /// Keys ([`row_key`]) whose latest outcome is `reset` or `skipped`.
    pub done: HashSet<u64>,
    /// Records read.
    pub records: u64,
    /// Whether a torn last line (from a crash) was cut off.
    pub torn_line_removed: bool,
    /// Whether the report was written with the sign-out columns.
    pub sign_out_columns: bool,
}

/// Cuts a torn final line (no trailing newline) off a file, so that appending
/// starts on a fresh line. Returns whether anything was cut.
pub fn cut_torn_line(path: &Path) -> std::io::Result<bool> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    // Walk back from the end to the last newline.
    let mut pos = len;
    let mut buf = [0u8; 8192];
    loop {
        let start = pos.saturating_sub(buf.len() as u64);
        let n = (pos - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep == len {
                return Ok(false);
            }
            file.set_len(keep)?;
            return Ok(true);
        }
        if start == 0 {
            file.set_len(0)?;
            return Ok(true);
        }
        pos = start;
    }
}

/// Reads an earlier report (after cutting a torn last line).
pub fn read_previous(path: &Path) -> Result<Previous, StartError> {
    let display = path.display().to_string();
    let io = |e| StartError::io(&display, e);
    let mut previous = Previous {
        torn_line_removed: cut_torn_line(path).map_err(io)?,
        ..Previous::default()
    };
    let file = File::open(path).map_err(io)?;
    let mut latest: HashMap<u64, bool> = HashMap::new();
    let mut note = |pool: &str, username: &str, outcome: Option<Outcome>| {
        if let Some(outcome) = outcome {
            latest.insert(row_key(pool, username), outcome.is_done());
        }
    };
    match ReportFormat::from_path(path) {
        ReportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::new(file));
            let header = reader.headers().map_err(|e| io(e.into()))?.clone();
            previous.sign_out_columns = header.iter().any(|h| h == SIGN_OUT_COLUMNS[0]);
            if !header.is_empty() && header.iter().take(COLUMNS.len()).ne(COLUMNS) {
                return Err(StartError::ForeignReport(format!(
                    "{display} is not a cognito-reset report (unexpected header)"
                )));
            }
            for record in reader.records().flatten() {
                previous.records += 1;
                let field = |i| record.get(i).unwrap_or_default();
                note(field(2), field(1), Outcome::parse(field(3)));
            }
        }
        ReportFormat::Jsonl => {
            for line in BufReader::new(file).lines() {
                let line = line.map_err(io)?;
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                previous.records += 1;
                previous.sign_out_columns |= value.get("signed_out").is_some();
                let text = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                note(
                    text("user_pool_id"),
                    text("username"),
                    Outcome::parse(text("outcome")),
                );
            }
        }
    }
    previous.done = latest
        .into_iter()
        .filter_map(|(k, done)| done.then_some(k))
        .collect();
    Ok(previous)
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
    fn csv_report_has_the_spec_header_and_mode_0600() {
        let dir = std::env::temp_dir().join(format!("cr-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv");
        let mut w = ReportWriter::open(&path, false, false).unwrap();
        w.write(&record("alice", Outcome::Reset)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at\n"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn latest_outcome_wins_and_torn_line_is_cut() {
        let dir = std::env::temp_dir().join(format!("cr-prev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["r.csv", "r.jsonl"] {
            let path = dir.join(name);
            let mut w = ReportWriter::open(&path, false, false).unwrap();
            w.write(&record("alice", Outcome::Failed)).unwrap();
            w.write(&record("alice", Outcome::Reset)).unwrap();
            w.write(&record("bob", Outcome::Reset)).unwrap();
            w.write(&record("bob", Outcome::Failed)).unwrap();
            w.write(&record("carol", Outcome::Skipped)).unwrap();
            drop(w);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(b"7,dave,eu-west-1_P,res").unwrap();
            let prev = read_previous(&path).unwrap();
            assert!(prev.torn_line_removed);
            assert_eq!(prev.records, 5);
            let mut done: Vec<u64> = prev.done.into_iter().collect();
            done.sort();
            let mut want = vec![
                row_key("eu-west-1_P", "alice"),
                row_key("eu-west-1_P", "carol"),
            ];
            want.sort();
            assert_eq!(done, want);
            assert!(std::fs::read(&path).unwrap().ends_with(b"\n"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
