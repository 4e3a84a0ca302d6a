//! Counting outcomes, and the end-of-run summary (stderr and `--summary` JSON).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::report::{Outcome, Record};

/// Counts kept by the report writer as records go by.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    /// Rows by outcome word.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Rows by error code (failed, invalid, would_fail, cancelled with a code).
    pub error_codes: BTreeMap<String, u64>,
    /// Rows recorded.
    pub rows: u64,
    /// API calls made for rows.
    pub attempts: u64,
}

impl Tally {
    /// Counts one record.
    pub fn add(&mut self, record: &Record) {
        *self.outcomes.entry(record.outcome.as_str()).or_default() += 1;
        if !record.error_code.is_empty() && record.outcome != Outcome::Reset {
            *self
                .error_codes
                .entry(record.error_code.clone())
                .or_default() += 1;
        }
        self.rows += 1;
        self.attempts += u64::from(record.attempts);
    }

    /// Rows with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(outcome.as_str()).copied().unwrap_or(0)
    }

    /// Whether any row failed or was invalid (exit code 1).
    pub fn any_failure(&self) -> bool {
        Outcome::ALL
            .into_iter()
            .any(|o| o.is_failure() && self.count(o) > 0)
    }
}

/// The run's summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Counts.
    #[serde(flatten)]
    pub tally: Tally,
    /// Calls answered with TooManyRequestsException.
    pub throttled_calls: u64,
    /// Wall time of the run phase, seconds.
    pub elapsed_seconds: f64,
    /// API calls per second achieved.
    pub calls_per_second: f64,
    /// Rows per second achieved.
    pub rows_per_second: f64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The process exit code.
    pub exit_code: i32,
    /// The report file.
    pub report: String,
}

impl Summary {
    /// Builds the summary.
    pub fn new(tally: Tally, throttled_calls: u64, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Summary {
            calls_per_second: tally.attempts as f64 / secs,
            rows_per_second: tally.rows as f64 / secs,
            tally,
            throttled_calls,
            elapsed_seconds: elapsed.as_secs_f64(),
            dry_run: false,
            stopped: None,
            exit_code: 0,
            report: String::new(),
        }
    }

    /// The human summary for stderr.
    pub fn render(&self) -> String {
        let mut out = String::from("summary:");
        for (outcome, n) in &self.tally.outcomes {
            out.push_str(&format!(" {outcome}={n}"));
        }
        if self.tally.rows == 0 {
            out.push_str(" no rows");
        }
        out.push('\n');
        if !self.tally.error_codes.is_empty() {
            out.push_str("  errors:");
            for (code, n) in &self.tally.error_codes {
                out.push_str(&format!(" {code}={n}"));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "  calls={} throttled={} elapsed={:.1}s rate={:.1} calls/s ({:.1} rows/s)\n  report: {}\n",
            self.tally.attempts,
            self.throttled_calls,
            self.elapsed_seconds,
            self.calls_per_second,
            self.rows_per_second,
            self.report
        ));
        if let Some(stopped) = &self.stopped {
            out.push_str(&format!("  stopped: {stopped}\n"));
        }
        out
    }
}
