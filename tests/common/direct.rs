//! For tests that build their simulator themselves (several at once, or
//! one configured while it runs): the binary run against it, and the
//! waits and reads such tests share. Every child starts as the harness
//! starts every child (`process::child`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use cognito_reset::simulator::{DEFAULT_POOL, Simulator};

use super::process::command_at;
use super::workdir::{ReportRow, Workdir};

/// The binary against `sim`, in `dir`, with `args` as they are.
pub fn command(dir: &Path, sim: &Simulator, args: &[&str]) -> tokio::process::Command {
    command_at(dir, &sim.url(), args)
}

/// Runs the binary against `sim` in `dir` to the end, with the default
/// pool unless the arguments name one.
pub async fn run(dir: &Path, sim: &Simulator, args: &[&str]) -> Output {
    let mut all: Vec<&str> = Vec::new();
    if !args.contains(&"--user-pool-id") {
        all.extend(["--user-pool-id", DEFAULT_POOL]);
    }
    all.extend_from_slice(args);
    command(dir, sim, &all).output().await.unwrap()
}

/// The latest row per username of a report.
pub fn latest(w: &Workdir, report: &str) -> HashMap<String, ReportRow> {
    w.latest(report)
}

/// Usernames with an intent in a journal.
pub fn intents(w: &Workdir, journal: &str) -> Vec<String> {
    w.intents(journal)
}

/// Waits (at most 30 s) until the report holds at least `rows` rows.
pub async fn wait_for_rows(w: &Workdir, report: &str, rows: usize) {
    super::workdir::wait_for_rows_in(&w.dir, report, rows).await
}
