//! One run of the binary: the child while it runs, and what it left once it
//! ended (exit code, output, and its report and summary as it left them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::process::signal_pid;
use super::workdir::{ReportRow, by_user, csv_rows, is_regular, row};

/// A file the run names, and its text as the run left it (if any).
struct Left {
    name: String,
    text: Option<String>,
}

impl Left {
    fn read(dir: &Path, name: &Option<String>) -> Option<Left> {
        let name = name.clone()?;
        let path = dir.join(&name);
        let text = if is_regular(&path) {
            std::fs::read_to_string(&path).ok()
        } else {
            None
        };
        Some(Left { name, text })
    }

    #[track_caller]
    fn text<'a>(left: &'a Option<Left>, what: &str) -> &'a str {
        let left = left
            .as_ref()
            .unwrap_or_else(|| panic!("the run names no {what}"));
        left.text
            .as_deref()
            .unwrap_or_else(|| panic!("the run left no {what} at {}", left.name))
    }
}

/// A run that ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    report: Option<Left>,
    summary: Option<Left>,
}

impl Run {
    fn new(output: Output, dir: &Path, report: &Option<String>, summary: &Option<String>) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            report: Left::read(dir, report),
            summary: Left::read(dir, summary),
        }
    }

    /// Asserts the exit code, showing what the run printed if it differs.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "{}", self.stderr);
        self
    }

    /// Asserts that standard error says `text`, showing it if not.
    #[track_caller]
    pub fn assert_says(&self, text: &str) -> &Run {
        assert!(self.stderr.contains(text), "{}", self.stderr);
        self
    }

    /// The report's text as the run left it.
    #[track_caller]
    pub fn report_text(&self) -> &str {
        Left::text(&self.report, "report")
    }

    /// The report's rows (a CSV report) as the run left them.
    #[track_caller]
    pub fn rows(&self) -> Vec<ReportRow> {
        csv_rows(self.report_text())
    }

    /// The first report row for `username`.
    #[track_caller]
    pub fn row(&self, username: &str) -> ReportRow {
        row(&self.rows(), username).clone()
    }

    /// The latest report row per username.
    #[track_caller]
    pub fn latest(&self) -> HashMap<String, ReportRow> {
        by_user(self.rows())
    }

    /// The summary as the run left it.
    #[track_caller]
    pub fn summary(&self) -> serde_json::Value {
        serde_json::from_str(Left::text(&self.summary, "summary")).unwrap()
    }
}

/// A run still going.
pub struct Running {
    pub child: tokio::process::Child,
    dir: PathBuf,
    report: Option<String>,
    summary: Option<String>,
}

impl Running {
    pub(super) fn new(
        child: tokio::process::Child,
        dir: &Path,
        report: Option<String>,
        summary: Option<String>,
    ) -> Running {
        Running {
            child,
            dir: dir.to_owned(),
            report,
            summary,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the child is running")
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: i32) {
        signal_pid(self.pid(), signal);
    }

    /// The child's standard input, when it was started with one to write to.
    pub fn stdin(&mut self) -> tokio::process::ChildStdin {
        self.child.stdin.take().expect("a piped standard input")
    }

    /// Waits (at most 30 s) until the run's report holds more than `rows`
    /// rows, so that a signal sent next finds the run past its preflight,
    /// whatever the machine's load.
    pub async fn wait_for_rows(&self, rows: usize) {
        let report = self.report.as_deref().expect("the run names its report");
        super::workdir::wait_for_rows_in(&self.dir, report, rows).await
    }

    /// SIGKILL, and the child reaped.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Waits for the child to end.
    pub async fn finish(self) -> Run {
        let output = self.child.wait_with_output().await.unwrap();
        Run::new(output, &self.dir, &self.report, &self.summary)
    }

    /// Waits at most `limit` for the child to end.
    pub async fn finish_within(self, limit: Duration) -> Option<Run> {
        let waited = tokio::time::timeout(limit, self.child.wait_with_output()).await;
        let output = waited.ok()?.unwrap();
        Some(Run::new(output, &self.dir, &self.report, &self.summary))
    }
}
