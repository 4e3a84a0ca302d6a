//! Exit codes (SPEC §8) and the error type for whatever stops a whole run.
//!
//! Row failures are never errors: they are outcomes in the report. Only what
//! prevents the run from starting, or aborts it, reaches this module.

/// Every row ended `reset`, `skipped`, `duplicate` or `would_reset`.
pub const EXIT_OK: i32 = 0;
/// The run finished but some rows failed or were invalid.
pub const EXIT_ROW_FAILURES: i32 = 1;
/// The run could not start: usage, unreadable input, existing report,
/// no credentials, confirmation refused. Nothing was reset.
pub const EXIT_CANNOT_START: i32 = 2;
/// The run was aborted by a run-fatal error or the failure-rate threshold.
pub const EXIT_ABORTED: i32 = 3;
/// The run was interrupted (Ctrl-C); 128 + SIGINT, as shells expect.
pub const EXIT_INTERRUPTED: i32 = 130;

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
}

impl StartError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        StartError::Io {
            path: path.to_string(),
            source,
        }
    }
}
