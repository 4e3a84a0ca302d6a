//! Shared test harness: a scratch directory, an in-process simulator, and
//! the real binary run against it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use cognito_reset::simulator::{Config, DEFAULT_POOL, Quotas, SeedUser, Simulator};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cognito-reset");

/// A scratch directory, removed when dropped.
pub struct Workdir {
    pub dir: PathBuf,
}

impl Workdir {
    pub fn new(name: &str) -> Workdir {
        let dir = std::env::temp_dir()
            .join("cognito-reset-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Workdir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// A report read back as one map per row.
    pub fn report(&self, name: &str) -> Vec<HashMap<String, String>> {
        let mut reader = csv::Reader::from_path(self.path(name)).unwrap();
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect()
            })
            .collect()
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A simulator with no quota and the given changes.
pub async fn simulator(change: impl FnOnce(&mut Config)) -> Simulator {
    let mut config = Config {
        quotas: Quotas::none(),
        ..Config::default()
    };
    change(&mut config);
    Simulator::start("127.0.0.1:0", config).await.unwrap()
}

pub fn seed(username: &str) -> SeedUser {
    SeedUser {
        username: username.into(),
        ..SeedUser::default()
    }
}

/// A command for the binary, aimed at `sim`, in `dir`, with dummy credentials
/// and nothing from the developer's AWS set-up.
pub fn command(dir: &Path, sim: &Simulator, args: &[&str]) -> tokio::process::Command {
    command_at(dir, &sim.url(), args)
}

/// A command for the binary, aimed at the endpoint `url`, in `dir`, with
/// dummy credentials and nothing from the developer's AWS set-up.
pub fn command_at(dir: &Path, url: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .args(["--endpoint-url", url])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTONLY")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// Runs the binary to the end with the default pool.
pub async fn run(dir: &Path, sim: &Simulator, args: &[&str]) -> Output {
    let mut all = vec!["--user-pool-id", DEFAULT_POOL];
    all.extend_from_slice(args);
    command(dir, sim, &all).output().await.unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `n` usernames user0001…
pub fn users(n: usize) -> String {
    (1..=n).map(|i| format!("user{i:04}\n")).collect()
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

/// Sends `signal` to a running child.
pub fn signal(child: &tokio::process::Child, signal: i32) {
    let pid = child.id().expect("the child is running") as i32;
    // SAFETY: kill() on a pid we spawned.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Sign-outs that succeeded for a user of the default pool.
pub fn sign_outs(sim: &Simulator, username: &str) -> u64 {
    sim.state()
        .user(DEFAULT_POOL, username)
        .map_or(0, |u| u.sign_outs)
}

/// The latest report row per username.
pub fn latest(w: &Workdir, report: &str) -> HashMap<String, HashMap<String, String>> {
    w.report(report)
        .into_iter()
        .map(|r| (r["username"].clone(), r))
        .collect()
}

/// Usernames with an intent in a journal.
pub fn intents(w: &Workdir, journal: &str) -> Vec<String> {
    let text = std::fs::read_to_string(w.path(journal)).unwrap_or_default();
    let mut users: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("user").and_then(|u| u.as_str()).map(str::to_owned))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// A small deterministic generator, so a failing sequence can be replayed.
pub fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// The first line of the journal a real run over `input` (a file) with the
/// default pool writes: what the report belongs to.
pub fn journal_header(input: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{{\"cognito_reset_journal\":2,\"fingerprint\":\"sha256:{digest} pool:{DEFAULT_POOL}\",\"mode\":\"reset\",\"sign_out\":false}}\n"
    )
}

/// The header line a new CSV report starts with.
pub fn report_header(sign_out: bool) -> String {
    let bytes = cognito_reset::report::header_bytes(Path::new("r.csv"), sign_out);
    String::from_utf8(bytes).unwrap()
}

/// A journal line recording the intent to reset `user` of the default pool.
pub fn intent_line(user: &str) -> String {
    format!("{{\"pool\":\"{DEFAULT_POOL}\",\"user\":\"{user}\"}}\n")
}

/// Waits (at most 30 s) until the report in `w` holds at least `rows` rows,
/// so that a signal sent next finds the run past its preflight, whatever the
/// machine's load.
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
