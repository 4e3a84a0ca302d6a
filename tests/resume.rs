//! Crash safety and resume, judged by the simulator's own per-user counts.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;

fn latest_outcomes(w: &Workdir, report: &str) -> HashMap<String, String> {
    w.report(report)
        .into_iter()
        .map(|r| (r["username"].clone(), r["outcome"].clone()))
        .collect()
}

/// A small deterministic generator, so a failing sequence can be replayed.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_never_resets_anyone_twice_or_misses_anyone() {
    let w = Workdir::new("kill9");
    // Latency keeps calls in flight at the moment of each kill.
    let sim = simulator(|c| c.latency = Duration::from_millis(5)).await;
    let n = 1500;
    w.write("in.txt", &users(n));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "1500",
        "--concurrency",
        "16",
        "--quiet",
    ];
    let mut seed = std::process::id() as u64;
    let mut kills = Vec::new();
    for round in 0..6 {
        let mut cmd_args = args.to_vec();
        if round > 0 {
            cmd_args.push("--resume");
        }
        let mut child = command(&w.dir, &sim, &cmd_args).spawn().unwrap();
        let after = next(&mut seed) % 300;
        kills.push(after);
        wait_for_rows(&w, "in.report.csv", 0).await;
        tokio::time::sleep(Duration::from_millis(after)).await;
        child.kill().await.unwrap(); // SIGKILL
    }
    let mut final_args = args.to_vec();
    final_args.push("--resume");
    let out = command(&w.dir, &sim, &final_args).output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "kills at {kills:?} ms: {}",
        stderr(&out)
    );
    let latest = latest_outcomes(&w, "in.report.csv");
    for i in 1..=n {
        let user = format!("user{i:04}");
        assert_eq!(resets(&sim, &user), 1, "{user}: kills at {kills:?} ms");
        let outcome = latest.get(&user).map(String::as_str);
        assert!(
            matches!(outcome, Some("reset" | "skipped")),
            "{user}: {outcome:?}"
        );
    }
    assert_eq!(sim.state().totals().users_reset_twice, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_cancels_the_rest_and_resume_completes() {
    let w = Workdir::new("sigint");
    let sim = simulator(|c| c.latency = Duration::from_millis(10)).await;
    w.write("in.txt", &users(300));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "100",
    ];
    let child = command(&w.dir, &sim, &args).spawn().unwrap();
    wait_for_rows(&w, "in.report.csv", 10).await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("to resume:") && err.contains("--resume"),
        "{err}"
    );
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 300, "every row is in the report");
    let cancelled = rows.iter().filter(|r| r["outcome"] == "cancelled").count();
    let reset = rows.iter().filter(|r| r["outcome"] == "reset").count();
    assert!(
        cancelled > 100 && reset > 0 && cancelled + reset == 300,
        "{cancelled} {reset}"
    );

    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = command(&w.dir, &sim, &resume).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let latest = latest_outcomes(&w, "in.report.csv");
    for i in 1..=300 {
        let user = format!("user{i:04}");
        assert_eq!(resets(&sim, &user), 1, "{user}");
        assert!(["reset", "skipped"].contains(&latest[&user].as_str()));
    }
    assert_eq!(
        w.report("in.report.csv")
            .iter()
            .filter(|r| r["outcome"] == "skipped")
            .count(),
        reset
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn journaled_user_already_reset_is_confirmed_by_a_check_not_called_again() {
    let w = Workdir::new("gap");
    let sim = simulator(|c| {
        // The killed run's call reached the service; its outcome never reached the report.
        let mut alice = seed("alice");
        alice.status = Some("RESET_REQUIRED".into());
        c.users = vec![alice];
    })
    .await;
    let input = "alice\nbob\n";
    w.write("in.txt", input);
    w.write("in.report.csv", &report_header(false));
    w.write(
        "in.report.csv.journal",
        &(journal_header(input) + &intent_line("alice")),
    );
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let alice = sim.state().user(DEFAULT_POOL, "alice").unwrap();
    assert_eq!((alice.reset_calls, alice.get_calls), (0, 1));
    assert_eq!(resets(&sim, "bob"), 1);
    let rows = w.report("in.report.csv");
    let row = rows.iter().find(|r| r["username"] == "alice").unwrap();
    assert_eq!(row["outcome"], "reset");
    assert!(
        row["error_message"].contains("confirmed by an AdminGetUser check"),
        "{row:?}"
    );
    // After a clean finish the journal holds its header and the run's line,
    // and no intent.
    let journal = w.read("in.report.csv.journal");
    assert!(!journal.contains("\"user\""), "{journal}");
}

#[tokio::test(flavor = "multi_thread")]
async fn torn_last_line_and_empty_journal_are_handled() {
    let w = Workdir::new("torn");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(5));
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0));
    // A crash mid-write, and a journal that never got its header.
    let mut report = w.read("in.report.csv");
    report.push_str("6,user0006,us-east-1_SimPool1,res");
    w.write("in.report.csv", &report);
    w.write("in.report.csv.journal", "");
    // An empty journal is never read as "nothing was in flight".
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--check-all"), "{}", stderr(&out));
    assert_eq!(
        w.read("in.report.csv"),
        report,
        "refused before touching the report"
    );
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--check-all"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 10);
    assert!(rows[5..].iter().all(|r| r["outcome"] == "skipped"));
    for i in 1..=5 {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_from_another_input_is_refused() {
    let w = Workdir::new("foreign");
    let sim = simulator(|_| {}).await;
    w.write("a.txt", "alice\n");
    w.write("b.txt", "bob\n");
    let out = run(&w.dir, &sim, &["a.txt", "--yes", "--report", "r.csv"]).await;
    assert_eq!(out.status.code(), Some(0));
    let out = run(
        &w.dir,
        &sim,
        &["b.txt", "--yes", "--report", "r.csv", "--resume"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("different input"), "{}", stderr(&out));
    assert_eq!(resets(&sim, "bob"), 0);
    // A different pool is foreign too.
    let out = command(
        &w.dir,
        &sim,
        &[
            "a.txt",
            "--yes",
            "--report",
            "r.csv",
            "--resume",
            "--user-pool-id",
            "us-east-1_Other",
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn report_and_journal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new("private");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0));
    for f in ["in.report.csv", "in.report.csv.journal"] {
        let mode = std::fs::metadata(w.path(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

/// Regression: a run killed as it created its report left the file empty; the
/// resume appended rows without a header, and every later resume refused the
/// report as "not a cognito-reset report".
#[tokio::test(flavor = "multi_thread")]
async fn resume_of_a_report_killed_before_its_header_writes_the_header() {
    let w = Workdir::new("empty-report");
    let sim = simulator(|_| {}).await;
    let input = "alice\nbob\n";
    w.write("in.txt", input);
    w.write("in.report.csv", "");
    w.write("in.report.csv.journal", &journal_header(input));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(w.read("in.report.csv").starts_with("line,username,"));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(resets(&sim, "alice"), 1);
}

/// Regression: a journal left without its report (a run killed between
/// creating the two, before any call) blocked every fresh run.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_without_its_report_does_not_block_a_fresh_run() {
    let w = Workdir::new("lone-journal");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    w.write("in.report.csv.journal", "{\"cognito_reset_journal\":2}\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(resets(&sim, "alice"), 1);
}
