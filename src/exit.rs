//! Exit codes and the error type for whatever stops a whole run before it starts.
//!
//! Row failures are never errors: they are outcomes in the report. Only what
//! prevents the run from starting, or aborts it, reaches this module.

/// Every row ended `reset`, `disabled`, `skipped`, `excluded`, `duplicate` or
/// `would_reset`, and every sign-out asked for was done.
pub const EXIT_OK: i32 = 0;
/// The run finished but some rows failed or were invalid, a sign-out failed,
/// or users were left with a working password.
pub const EXIT_ROW_FAILURES: i32 = 1;
/// The run could not start: usage, unreadable input, existing report,
/// no credentials, pool missing or not resettable, confirmation refused.
/// Nothing was sent that changes anything.
pub const EXIT_CANNOT_START: i32 = 2;
/// The run was aborted by a run-fatal error or the failure-rate threshold.
pub const EXIT_ABORTED: i32 = 3;
/// The run ended but its audit record (`--summary`) could not be written:
/// what happened is in the report and on stderr, but the record a scheduled
/// job or an auditor reads is missing.
pub const EXIT_NO_RECORD: i32 = 4;
/// A run stopped by signal N exits 128 + N, as shells expect (130 for
/// Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
pub const EXIT_SIGNAL_BASE: i32 = 128;

/// Something that stops the run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Flags that contradict each other or carry bad values.
    #[error("{0}")]
    Usage(String),
    /// An input, report or journal that cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file that failed.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A report already exists and neither --resume nor --overwrite was given.
    #[error(
        "report {0} already exists: pass --resume to continue that run, or --overwrite to start it afresh"
    )]
    ReportExists(String),
    /// The report (and its journal) belong to another input.
    #[error("{0}")]
    ForeignReport(String),
    /// No AWS credentials, or a pool that does not exist, found before any reset.
    #[error("{0}")]
    Aws(String),
    /// The operator did not confirm, or could not be asked.
    #[error("{0}")]
    NotConfirmed(String),
    /// A resume that must not go on: nothing to resume, a report of another
    /// kind, a journal that cannot be trusted.
    #[error("{0}")]
    Refused(String),
    /// Another run holds the report.
    #[error("{0}")]
    Locked(String),
    /// Something found before any reset that makes the whole run pointless
    /// or unsafe (a check that is not permitted): exit 3, not 2.
    #[error("{0}")]
    Aborted(String),
}

impl StartError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Aborted(_) => EXIT_ABORTED,
            _ => EXIT_CANNOT_START,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        StartError::Io {
            path: path.to_string(),
            source,
        }
    }
}
