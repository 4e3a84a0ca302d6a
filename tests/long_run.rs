//! Long runs keep their promises: weather that passes by itself (expired
//! credentials, a region that goes away for a while, an endpoint that stops
//! answering) never becomes failed rows, and the operator sees what happens.
//! Each test drives the real binary against the simulator.

mod common;

use common::*;

/// Regression: a CSV holding its header and no row was refused (exit 2) as
/// if it were a failed export, while a listing that matches nobody is
/// nothing to do.
#[tokio::test(flavor = "multi_thread")]
async fn a_csv_with_only_its_header_was_refused_as_empty() {
    let w = Workdir::new("lr-header-only");
    let sim = simulator(|_| {}).await;
    w.write("in.csv", "username\n");
    let out = run(&w.dir, &sim, &["in.csv", "--yes", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("rows 0: no rows"), "{}", stderr(&out));
    assert!(w.report("in.report.csv").is_empty());
    let summary: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["counts"]["rows"], 0);
    // The same header on standard input.
    let mut cmd = command(
        &w.dir,
        &sim,
        &[
            "-",
            "--user-pool-id",
            cognito_reset::simulator::DEFAULT_POOL,
            "--yes",
            "--report",
            "r.csv",
        ],
    );
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"username\n").await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(w.report("r.csv").is_empty());
    // A zero-byte file is still no list at all.
    w.write("empty.csv", "");
    let out = run(&w.dir, &sim, &["empty.csv", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!w.path("empty.report.csv").exists());
}

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cognito_reset::simulator::{
    Config, DEFAULT_POOL, OutageMode, OutageWindow, PoolSettings, Simulator,
};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

/// A run of the binary whose stderr is read as it comes, each line with
/// when it came.
struct Watched {
    child: tokio::process::Child,
    started: Instant,
    lines: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Watched {
    fn spawn(mut cmd: tokio::process::Command) -> Watched {
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut read = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = read.next_line().await {
                sink.lock().unwrap().push((started.elapsed(), line));
            }
        });
        Watched {
            child,
            started,
            lines,
        }
    }

    /// When the first line holding `needle` came; waits for it (at most
    /// `within`).
    async fn line(&self, needle: &str, within: Duration) -> Duration {
        loop {
            let found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| l.contains(needle))
                .map(|(at, _)| *at);
            if let Some(at) = found {
                return at;
            }
            assert!(
                self.started.elapsed() < within,
                "no line with {needle:?} within {within:?}:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|(at, l)| format!("[{:.1}s] {l}\n", at.as_secs_f64()))
            .collect()
    }

    /// Waits for the exit (at most `within`); its code and when it came.
    async fn exit(&mut self, within: Duration) -> (Option<i32>, Duration) {
        let status = tokio::time::timeout(within, self.child.wait()).await;
        let status =
            status.unwrap_or_else(|_| panic!("still running after {within:?}:\n{}", self.text()));
        // Let the reader take the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status.unwrap().code(), self.started.elapsed())
    }
}

/// A simulator with Cognito's default reset quota off and `change` made.
async fn sim(change: impl FnOnce(&mut Config)) -> Simulator {
    simulator(change).await
}

fn summary(w: &Workdir, name: &str) -> Value {
    serde_json::from_str(&w.read(name)).unwrap()
}

fn schema() -> jsonschema::Validator {
    let path = format!("{}/schema/summary.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().build(&schema).unwrap()
}

fn assert_valid(value: &Value) {
    let validator = schema();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

/// Every user of `names` reset exactly once, no row failed, the last
/// report row of each `reset` (or `skipped`: reset by an earlier run).
fn every_user_reset_once(w: &Workdir, sim: &Simulator, report: &str, names: &[String]) {
    let latest = latest(w, report);
    for name in names {
        assert_eq!(
            resets(sim, name),
            1,
            "{name} reset {} times",
            resets(sim, name)
        );
        let outcome = latest[name]["outcome"].as_str();
        assert!(
            ["reset", "skipped"].contains(&outcome),
            "{:?}",
            latest[name]
        );
    }
    assert_eq!(sim.state().totals().users_reset_twice, 0);
    let failed = w
        .report(report)
        .into_iter()
        .filter(|r| r["outcome"] == "failed")
        .count();
    assert_eq!(failed, 0, "no row failed");
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("user{i:04}")).collect()
}

fn no_row_failed_for_credentials(w: &Workdir, report: &str) {
    for row in w.report(report) {
        assert!(
            ![
                "ExpiredTokenException",
                "UnrecognizedClientException",
                "CredentialsError"
            ]
            .contains(&row["error_code"].as_str()),
            "{row:?}"
        );
        assert_ne!(row["outcome"], "failed", "{row:?}");
    }
}

/// The command for a run whose credentials come from a credentials file
/// (the default profile), not from the environment.
fn with_credentials_file(
    dir: &Path,
    sim: &Simulator,
    file: &Path,
    args: &[&str],
) -> tokio::process::Command {
    let mut all = vec!["--user-pool-id", DEFAULT_POOL];
    all.extend_from_slice(args);
    let mut cmd = command(dir, sim, &all);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", file);
    cmd
}

fn credentials(key: &str) -> String {
    format!("[default]\naws_access_key_id = {key}\naws_secret_access_key = not-a-secret\n")
}

async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what} not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Credentials expiring mid-run (the session's key dies, as an SSO or
/// assumed-role session does) and renewed by rewriting the credentials
/// file: the run waits, reads them afresh, and finishes; nobody is failed.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_expiring_mid_run_and_renewed_within_the_wait() {
    let w = Workdir::new("lr-renewed");
    let sim = sim(|c| c.token_lifetime = Some(Duration::from_secs(3))).await;
    let users = names(400);
    w.write("in.txt", &users.join("\n"));
    let file = w.write("credentials", &credentials("AKIDFIRST"));
    let args = [
        "in.txt",
        "--yes",
        "--rate",
        "100",
        "--credentials-wait",
        "60s",
        "--summary",
        "s.json",
    ];
    let mut run = Watched::spawn(with_credentials_file(&w.dir, &sim, &file, &args));
    // The operator renews the session whenever it expires.
    let mut renewed = 0;
    let mut seen = 0;
    loop {
        if let Ok(Some(_)) = run.child.try_wait() {
            break;
        }
        let expired = sim.state().totals().expired_token;
        if expired > seen {
            seen = expired;
            renewed += 1;
            w.write(
                "credentials",
                &credentials(&format!("AKIDRENEWED{renewed}")),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, _) = run.exit(Duration::from_secs(5)).await;
    assert_eq!(code, Some(0), "{}", run.text());
    assert!(renewed >= 1, "the key expired mid-run");
    run.line("the credentials expired at", Duration::ZERO).await;
    run.line("the credentials are accepted again", Duration::ZERO)
        .await;
    every_user_reset_once(&w, &sim, "in.report.csv", &users);
    let s = summary(&w, "s.json");
    assert_valid(&s);
    let pauses = s["pauses"].as_array().unwrap();
    assert!(!pauses.is_empty());
    for p in pauses {
        assert_eq!(
            (p["cause"].as_str(), p["outcome"].as_str()),
            (Some("credentials"), Some("resumed")),
            "{p}"
        );
        assert!(p["calls_refused"].as_u64().unwrap() >= 1);
    }
    assert!(s["time_lost_seconds"].as_f64().unwrap() > 0.0);
}

/// Credentials that are not renewed within --credentials-wait: the run stops
/// (exit 3), the rows it did not finish are cancelled (none failed for
/// credentials), and a resume with valid credentials finishes every user
/// once.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_not_renewed_stop_the_run_resumably() {
    let w = Workdir::new("lr-not-renewed");
    let expired = w.path("expired");
    let flag = expired.clone();
    let sim = sim(move |c| c.expired_while = Some(flag)).await;
    let users = names(300);
    w.write("in.txt", &users.join("\n"));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "50",
        "--credentials-wait",
        "3s",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    wait_for_rows(&w, "in.report.csv", 20).await;
    std::fs::write(&expired, "").unwrap();
    let (code, took) = run.exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{}", run.text());
    let shut = run.line("the credentials expired at", Duration::ZERO).await;
    assert!(
        took - shut < Duration::from_secs(10),
        "stopped about 3 s after the refusal:\n{}",
        run.text()
    );
    run.line("--credentials-wait 3 s", Duration::ZERO).await;
    run.line("to resume: ", Duration::ZERO).await;
    no_row_failed_for_credentials(&w, "in.report.csv");
    let cancelled = w
        .report("in.report.csv")
        .iter()
        .filter(|r| r["outcome"] == "cancelled")
        .count();
    assert!(cancelled > 0);
    std::fs::remove_file(&expired).unwrap();
    let resumed = run_args(&w, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    every_user_reset_once(&w, &sim, "in.report.csv", &users);
}

/// `--credentials-wait 0` stops at the first refusal.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_wait_zero_stops_at_once() {
    let w = Workdir::new("lr-wait-zero");
    let expired = w.path("expired");
    let flag = expired.clone();
    let sim = sim(move |c| c.expired_while = Some(flag)).await;
    w.write("in.txt", &names(200).join("\n"));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "50",
        "--credentials-wait",
        "0",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    wait_for_rows(&w, "in.report.csv", 10).await;
    std::fs::write(&expired, "").unwrap();
    let (code, _) = run.exit(Duration::from_secs(15)).await;
    assert_eq!(code, Some(3), "{}", run.text());
    no_row_failed_for_credentials(&w, "in.report.csv");
}

async fn run_args(w: &Workdir, sim: &Simulator, args: &[&str]) -> std::process::Output {
    run(&w.dir, sim, args).await
}

/// An outage of `mode` from 2 s to 10 s after the simulator starts, during
/// a 600-user run at 100 resets/s: the region pauses, nobody fails, every
/// user is reset once, and the summary tells the pause.
async fn outage_passes(name: &str, mode: OutageMode, extra: &[&str]) {
    let w = Workdir::new(name);
    let window = OutageWindow {
        after: Duration::from_secs(2),
        lasting: Duration::from_secs(8),
    };
    let sim = sim(move |c| {
        c.outages = vec![window];
        c.outage_mode = mode;
    })
    .await;
    let users = names(600);
    w.write("in.txt", &users.join("\n"));
    let mut args = vec![
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "100",
        "--summary",
        "s.json",
    ];
    args.extend_from_slice(extra);
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    let (code, took) = run.exit(Duration::from_secs(45)).await;
    assert_eq!(code, Some(0), "{}", run.text());
    assert!(
        sim.state().totals().refused_by_outage > 0,
        "the outage came during the run"
    );
    run.line("us-east-1: unreachable since", Duration::ZERO)
        .await;
    run.line("us-east-1: answering again after", Duration::ZERO)
        .await;
    every_user_reset_once(&w, &sim, "in.report.csv", &users);
    assert!(!run.text().contains("to resume"), "{}", run.text());
    let s = summary(&w, "s.json");
    assert_valid(&s);
    let pauses = s["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 1, "{pauses:#?}");
    assert_eq!(pauses[0]["cause"], "outage");
    assert_eq!(pauses[0]["region"], "us-east-1");
    assert_eq!(pauses[0]["outcome"], "resumed");
    eprintln!("{name}: exit 0 in {took:?}; pause {}", pauses[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_answering_500_pauses_the_region_and_nobody_fails() {
    outage_passes("lr-outage-500", OutageMode::Error500, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_closing_connections_pauses_the_region_and_nobody_fails() {
    outage_passes("lr-outage-close", OutageMode::Close, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_holding_calls_unanswered_pauses_the_region_and_nobody_fails() {
    outage_passes("lr-outage-hang", OutageMode::Hang, &["--call-timeout", "2"]).await;
}

/// An outage longer than --outage-wait: the run stops (exit 3), the rows
/// not done are cancelled (none failed), a reset whose answer was lost keeps
/// its intent, and a resume once the service is back finishes every user
/// once.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_longer_than_the_wait_stops_resumably() {
    let w = Workdir::new("lr-outage-long");
    let down = w.path("down");
    let flag = down.clone();
    let sim = sim(move |c| c.outage_while = Some(flag)).await;
    let users = names(300);
    w.write("in.txt", &users.join("\n"));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "50",
        "--outage-wait",
        "3s",
        "--summary",
        "s.json",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    wait_for_rows(&w, "in.report.csv", 20).await;
    std::fs::write(&down, "").unwrap();
    let (code, _) = run.exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{}", run.text());
    run.line("--outage-wait 3 s", Duration::ZERO).await;
    run.line("to resume: ", Duration::ZERO).await;
    let rows = w.report("in.report.csv");
    assert!(
        rows.iter().all(|r| r["outcome"] != "failed"),
        "no row failed"
    );
    assert!(rows.iter().any(|r| r["outcome"] == "cancelled"));
    let s = summary(&w, "s.json");
    assert_valid(&s);
    assert_eq!(s["pauses"][0]["outcome"], "stopped");
    assert_eq!(s["exit_code"], 3);
    std::fs::remove_file(&down).unwrap();
    let resumed = run_args(&w, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    every_user_reset_once(&w, &sim, "in.report.csv", &users);
}

const REGIONS: [&str; 3] = ["us-east-1_East1", "eu-west-1_West1", "ap-south-1_South1"];

/// Three regions in one process, one of them out: the other two finish at
/// their pace while it waits; a second terminal reading --summary sees the
/// progress and the pause going on; once the region answers again its rows
/// finish, every user once. Regression: the rows of the region that was out
/// took one row slot after another while they waited, until the other
/// regions had none left and stalled.
#[tokio::test(flavor = "multi_thread")]
async fn a_region_out_took_every_row_slot_and_stalled_the_others() {
    let w = Workdir::new("lr-regions");
    let down = w.path("down");
    let per_region = 150;
    let sim = three_regions(&w, per_region, &down).await;
    let args = [
        "in.csv",
        "--yes",
        "--rate",
        "30",
        "--outage-wait",
        "2m",
        "--summary",
        "s.json",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    wait_for_rows(&w, "in.report.csv", 15).await;
    std::fs::write(&down, "").unwrap();
    let out_at = Instant::now();
    run.line("eu-west-1: unreachable since", Duration::from_secs(30))
        .await;
    // A second terminal: the summary file says how far the run got and
    // that eu-west-1 is paused.
    watch_the_pause(&w).await;
    // The two other regions finish while eu-west-1 is still out, at their
    // own pace (30/s each: 150 users in 5 s, with room for a busy machine).
    let others = |w: &Workdir| {
        w.report("in.report.csv")
            .iter()
            .filter(|r| r["user_pool_id"] != REGIONS[1] && r["outcome"] == "reset")
            .count()
    };
    until(
        "the other regions finished",
        Duration::from_secs(30),
        || others(&w) == 2 * per_region,
    )
    .await;
    assert!(down.exists());
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "the run waits for eu-west-1"
    );
    let finished_in = out_at.elapsed();
    let pace = pace_of(&w, |r| r["user_pool_id"] != REGIONS[1]);
    std::fs::remove_file(&down).unwrap();
    let (code, _) = run.exit(Duration::from_secs(60)).await;
    assert_eq!(code, Some(0), "{}", run.text());
    for (i, row) in latest(&w, "in.report.csv") {
        assert_eq!(row["outcome"], "reset", "{i}: {row:?}");
    }
    assert_eq!(sim.state().totals().users_reset, 450);
    assert_eq!(sim.state().totals().users_reset_twice, 0);
    let s = summary(&w, "s.json");
    assert_valid(&s);
    assert!(s["progress"].is_null());
    let pauses = s["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 1, "{pauses:#?}");
    assert_eq!(
        (pauses[0]["region"].as_str(), pauses[0]["outcome"].as_str()),
        (Some("eu-west-1"), Some("resumed"))
    );
    eprintln!(
        "the other regions finished {finished_in:?} after eu-west-1 went out, {pace:.1} resets/s"
    );
    assert!(pace > 40.0, "two regions at 30/s each: {pace:.1}/s");
}

/// A simulator serving a pool in each of [`REGIONS`], eu-west-1 out while
/// `down` exists, and `in.csv` with `per_region` users of each, mixed.
async fn three_regions(w: &Workdir, per_region: usize, down: &Path) -> Simulator {
    let flag = down.to_path_buf();
    let sim = sim(move |c| {
        c.outage_while = Some(flag);
        c.outage_regions = vec!["eu-west-1".into()];
        for pool in REGIONS {
            c.pools.insert(pool.into(), PoolSettings::default());
        }
    })
    .await;
    let mut csv = String::from("username,user_pool_id\n");
    for i in 0..per_region * 3 {
        csv.push_str(&format!("user{i:04},{}\n", REGIONS[i % 3]));
    }
    w.write("in.csv", &csv);
    sim
}

/// Reads `s.json` as a second terminal would until it shows eu-west-1's
/// pause going on, and checks what it says.
async fn watch_the_pause(w: &Workdir) {
    let mut seen = Value::Null;
    until(
        "a summary with the pause in progress",
        Duration::from_secs(25),
        || {
            seen = serde_json::from_str(
                &std::fs::read_to_string(w.path("s.json")).unwrap_or_default(),
            )
            .unwrap_or(Value::Null);
            seen["pauses"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["outcome"] == "in_progress"))
        },
    )
    .await;
    assert_valid(&seen);
    assert!(seen["exit_code"].is_null());
    assert!(
        seen["progress"]["rows_done"].as_u64().unwrap() > 0,
        "{seen:#}"
    );
    assert_eq!(seen["progress"]["rows_total"], 450);
    assert_eq!(seen["pauses"][0]["region"], "eu-west-1");
}

/// Rows reset per second among the report's rows that `pick` picks, from
/// the first completion to the last.
fn pace_of(w: &Workdir, pick: impl Fn(&std::collections::HashMap<String, String>) -> bool) -> f64 {
    let at: Vec<f64> = w
        .report("in.report.csv")
        .iter()
        .filter(|r| pick(r) && r["outcome"] == "reset")
        .map(|r| {
            let t = humantime::parse_rfc3339(&r["completed_at"]).unwrap();
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        })
        .collect();
    let span =
        at.iter().cloned().fold(f64::MIN, f64::max) - at.iter().cloned().fold(f64::MAX, f64::min);
    at.len() as f64 / span.max(1e-3)
}

/// A scratch directory holding `in.txt` and an AWS config file of
/// profiles, and a simulator.
struct Profiled {
    w: Workdir,
    sim: Simulator,
    config: std::path::PathBuf,
}

impl Profiled {
    async fn new(name: &str, users: &str) -> Profiled {
        let w = Workdir::new(name);
        let sim = sim(|_| {}).await;
        w.write("in.txt", users);
        let config = profiles(&w);
        Profiled { w, sim, config }
    }

    /// The binary over `in.txt` in the default pool, with `args`, reading
    /// the profiles.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut all = vec!["--user-pool-id", DEFAULT_POOL, "in.txt"];
        all.extend_from_slice(args);
        let mut cmd = command(&self.w.dir, &self.sim, &all);
        cmd.env("AWS_CONFIG_FILE", &self.config);
        cmd
    }
}

/// An AWS config file in the scratch directory with a profile whose
/// `credential_process` leaves a mark when it runs, one that hangs, and one
/// that fails with a secret on its standard error.
fn profiles(w: &Workdir) -> std::path::PathBuf {
    let mark = w.path("staging-used");
    w.write(
        "config",
        &format!(
            "[profile staging]\nregion = us-east-1\ncredential_process = touch {} && printf \
             '{{\"Version\": 1, \"AccessKeyId\": \"AKIDSTAGING\", \"SecretAccessKey\": \"x\"}}'\n\
             [profile hangs]\nregion = us-east-1\ncredential_process = sh -c 'echo $$ > {}; \
             exec sleep 20'\n\
             [profile leaks]\nregion = us-east-1\ncredential_process = sh -c 'echo \
             TOKEN=SECRETVALUE9999 >&2; exit 7'\n",
            mark.display(),
            w.path("hanging.pid").display()
        ),
    )
}

/// Regression: with keys in the environment, `--profile staging` was
/// ignored and the environment's keys signed every call.
#[tokio::test(flavor = "multi_thread")]
async fn the_environment_keys_signed_calls_despite_profile() {
    let p = Profiled::new("lr-profile", "alice\nbob\n").await;
    let out = p
        .command(&["--yes", "--report", "a.csv"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !p.w.path("staging-used").exists(),
        "without --profile the environment's keys sign"
    );
    let args = ["--yes", "--report", "b.csv", "--profile", "staging"];
    let out = p.command(&args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        p.w.path("staging-used").exists(),
        "--profile staging wins over the environment"
    );
}

/// A profile that does not exist is named, and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_profile_is_named_and_refused() {
    let p = Profiled::new("lr-no-profile", "alice\n").await;
    let out = p
        .command(&["--yes", "--profile", "prod"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--profile prod: no such profile"), "{err}");
    assert!(
        err.contains(&p.config.display().to_string()),
        "names the file: {err}"
    );
    assert!(p.sim.state().totals().calls.is_empty(), "nothing was sent");
    assert!(!p.w.path("in.report.csv").exists());
}

/// Regression: `AWS_PROFILE` naming a profile that does not exist (and no
/// keys in the environment) ended in a message about the instance metadata
/// service, which the operator never asked for. It is refused by name, as
/// `--profile` is.
#[tokio::test(flavor = "multi_thread")]
async fn aws_profile_naming_a_missing_profile_is_named_not_blamed_on_instance_metadata() {
    let p = Profiled::new("lr-no-env-profile", "alice\n").await;
    let mut cmd = p.command(&["--yes"]);
    cmd.env("AWS_PROFILE", "prod")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("AWS_PROFILE prod: no such profile"), "{err}");
    assert!(!err.to_lowercase().contains("metadata"), "{err}");
    assert!(p.sim.state().totals().calls.is_empty(), "nothing was sent");
    // With keys in the environment, they sign and AWS_PROFILE is not read.
    let mut cmd = p.command(&["--yes"]);
    cmd.env("AWS_PROFILE", "prod");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Regression: a failing `credential_process` had its standard error (which
/// a helper run with `set -x` fills with its secrets) copied into standard
/// error, the summary and every `cancelled` row of the report.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_credential_process_s_standard_error_is_not_repeated() {
    let p = Profiled::new("lr-leaky-process", "alice\n").await;
    let args = ["--yes", "--profile", "leaks", "--summary", "s.json"];
    let out = p.command(&args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("SECRETVALUE9999"), "{err}");
    assert!(
        err.contains("standard error"),
        "says what was left out: {err}"
    );
    // Regression: the advice said to set --profile, which was given.
    assert!(err.contains("check the profile leaks"), "{err}");
    let summary = std::fs::read_to_string(p.w.path("s.json")).unwrap_or_default();
    assert!(!summary.contains("SECRETVALUE9999"), "{summary}");
}

/// Regression: a `credential_process` that never ends held the run at its
/// start in silence. Now the wait is bounded and said in one line.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_credential_process_held_the_start_in_silence() {
    let p = Profiled::new("lr-hanging-process", "alice\n").await;
    let cmd = p.command(&["--yes", "--profile", "hangs"]);
    let mut run = Watched::spawn(cmd);
    let (code, took) = run.exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(2), "{}", run.text());
    assert!(took < Duration::from_secs(20), "{took:?}");
    let text = run.text();
    let line = text
        .lines()
        .find(|l| l.contains("no AWS credentials"))
        .expect(&text);
    assert!(line.contains("no credentials within 10 s"), "{line}");
    for dump in ["Request {", "headers", "HeaderMap", "x-amz"] {
        assert!(!text.contains(dump), "no debug dump: {text}");
    }
    assert!(p.sim.state().totals().calls.is_empty());
    // Regression: the process given up on was left running after the run
    // ended, holding whatever it holds (a terminal prompt, a lock).
    let pid = std::fs::read_to_string(p.w.path("hanging.pid")).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    let state = std::fs::read_to_string(&stat).unwrap_or_default();
    // Gone from /proc (reaped) or a zombie: ended. Only a live state is
    // running.
    let running = state
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'));
    assert!(!running, "the credential_process still runs: {state}");
}

/// Regression: an endpoint that accepts connections and never answers gave
/// 84 s of silence before exit 2. The first call now says so within a few
/// seconds.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_endpoint_at_the_start_gave_84_seconds_of_silence() {
    let w = Workdir::new("lr-silent-start");
    let window = OutageWindow {
        after: Duration::ZERO,
        lasting: Duration::from_secs(600),
    };
    let sim = sim(move |c| {
        c.outages = vec![window];
        c.outage_mode = OutageMode::Hang;
    })
    .await;
    w.write("in.txt", "alice\n");
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--call-timeout",
        "2",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    let said = run.line("is not answering", Duration::from_secs(10)).await;
    assert!(said < Duration::from_secs(6), "said after {said:?}");
    let (code, took) = run.exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(2), "{}", run.text());
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(!w.path("in.report.csv").exists());
}

/// Regression: SIGTERM with calls hanging waited for each call's timeout in
/// silence (longer than a CI runner's grace before SIGKILL), and the calls
/// given up at the stop were then taken for an outage. Now a line says at
/// once what the stop waits for, the wait is capped, the unanswered resets
/// keep their journal intents, and a resume finishes every user once.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_hanging_calls_waited_in_silence() {
    let w = Workdir::new("lr-sigterm-hang");
    let down = w.path("down");
    let flag = down.clone();
    let sim = sim(move |c| {
        c.outage_while = Some(flag);
        c.outage_mode = OutageMode::Hang;
    })
    .await;
    let users = names(300);
    w.write("in.txt", &users.join("\n"));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "50",
        "--summary",
        "s.json",
    ];
    let mut run = Watched::spawn(command(&w.dir, &sim, &args));
    wait_for_rows(&w, "in.report.csv", 20).await;
    std::fs::write(&down, "").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let signalled = run.started.elapsed();
    signal(&run.child, libc::SIGTERM);
    let said = run
        .line("stopping: waiting up to 5 s for", Duration::from_secs(30))
        .await;
    assert!(
        said - signalled < Duration::from_secs(1),
        "said {:?} after the signal",
        said - signalled
    );
    run.line("--resume checks that user", Duration::ZERO).await;
    let (code, took) = run.exit(Duration::from_secs(20)).await;
    assert_eq!(code, Some(143), "{}", run.text());
    assert!(
        took - signalled < Duration::from_secs(8),
        "exited {:?} after the signal",
        took - signalled
    );
    let s = summary(&w, "s.json");
    assert_eq!(
        s["pauses"].as_array().unwrap().len(),
        0,
        "calls given up at a stop are no outage: {s:#}"
    );
    assert!(
        !intents(&w, "in.report.csv.journal").is_empty(),
        "unanswered resets keep their intents"
    );
    no_row_failed_for_credentials(&w, "in.report.csv");
    std::fs::remove_file(&down).unwrap();
    let resumed = run_args(&w, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    every_user_reset_once(&w, &sim, "in.report.csv", &users);
}
