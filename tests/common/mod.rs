//! The harness the integration tests share: a scenario (a scratch directory,
//! an in-process simulator and the real binary run against it, started with
//! default signal dispositions), what a run left, and the checks that recur.
#![allow(dead_code, unused_imports)]

mod journal;
mod process;
mod run;
mod scenario;
mod sim;
mod workdir;

pub use journal::*;
pub use process::*;
pub use run::*;
pub use scenario::*;
pub use sim::*;
pub use workdir::*;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use cognito_reset::simulator::{DEFAULT_POOL, Simulator};

/// A command for the binary, aimed at `sim`, in `dir`.
pub fn command(dir: &Path, sim: &Simulator, args: &[&str]) -> tokio::process::Command {
    command_at(dir, &sim.url(), args)
}

/// Runs the binary to the end with the default pool.
pub async fn run(dir: &Path, sim: &Simulator, args: &[&str]) -> Output {
    let mut all = vec!["--user-pool-id", DEFAULT_POOL];
    all.extend_from_slice(args);
    command(dir, sim, &all).output().await.unwrap()
}

/// Reset calls that succeeded for a user of the default pool.
pub fn resets(sim: &Simulator, username: &str) -> u64 {
    sim.state()
        .user(DEFAULT_POOL, username)
        .map_or(0, |u| u.resets_succeeded)
}

pub fn calls(sim: &Simulator, op: &str) -> u64 {
    sim.state().totals().calls.get(op).copied().unwrap_or(0)
}

/// Sign-outs that succeeded for a user of the default pool.
pub fn sign_outs(sim: &Simulator, username: &str) -> u64 {
    sim.state()
        .user(DEFAULT_POOL, username)
        .map_or(0, |u| u.sign_outs)
}

/// The latest report row per username.
pub fn latest(w: &Workdir, report: &str) -> HashMap<String, HashMap<String, String>> {
    w.latest(report)
}

/// Usernames with an intent in a journal.
pub fn intents(w: &Workdir, journal: &str) -> Vec<String> {
    w.intents(journal)
}

/// Waits (at most 30 s) until the report in `w` holds at least `rows` rows.
pub async fn wait_for_rows(w: &Workdir, report: &str, rows: usize) {
    for _ in 0..1500 {
        let text = std::fs::read_to_string(w.path(report)).unwrap_or_default();
        if text.lines().count() > rows {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{report} never reached {rows} rows");
}
