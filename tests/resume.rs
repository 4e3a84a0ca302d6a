//! Crash safety and resume, judged by the simulator's own per-user counts.

mod common;

use std::time::Duration;

use cognito_reset::simulator::SeedUser;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_never_resets_anyone_twice_or_misses_anyone() {
    let n = 1500;
    // Latency keeps calls in flight at the moment of each kill.
    let s = Scenario::new("kill9")
        .sim(|c| c.latency = Duration::from_millis(5))
        .file("in.txt", &users(n));
    let args = [
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
        let mut child = s.spawn(&cmd_args).await;
        let after = next(&mut seed) % 300;
        kills.push(after);
        child.wait_for_rows(0).await;
        tokio::time::sleep(Duration::from_millis(after)).await;
        child.kill().await; // SIGKILL
    }
    let out = s.run(&[&args[..], &["--resume"]].concat()).await;
    assert_eq!(out.code, Some(0), "kills at {kills:?} ms: {}", out.stderr);
    let latest = out.latest();
    for user in usernames(n) {
        assert_eq!(s.resets(&user), 1, "{user}: kills at {kills:?} ms");
        let outcome = latest.get(&user).map(|r| r["outcome"].as_str());
        assert!(
            matches!(outcome, Some("reset" | "skipped")),
            "{user}: {outcome:?}"
        );
    }
    assert_eq!(s.totals().users_reset_twice, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_cancels_the_rest_and_resume_completes() {
    let s = Scenario::new("sigint")
        .sim(|c| c.latency = Duration::from_millis(10))
        .file("in.txt", &users(300));
    let args = ["in.txt", "--yes", "--rate", "100"];
    let child = s.spawn(&args).await;
    child.wait_for_rows(10).await;
    child.signal(libc::SIGINT);
    let out = child.finish().await;
    out.assert_code(130);
    let err = &out.stderr;
    assert!(
        err.contains("to resume:") && err.contains("--resume"),
        "{err}"
    );
    let rows = out.rows();
    assert_eq!(rows.len(), 300, "every row is in the report");
    let cancelled = count(&rows, "cancelled");
    let reset = count(&rows, "reset");
    assert!(
        cancelled > 100 && reset > 0 && cancelled + reset == 300,
        "{cancelled} {reset}"
    );

    let out = s.run(&[&args[..], &["--resume"]].concat()).await;
    out.assert_code(0);
    let latest = out.latest();
    for user in usernames(300) {
        assert_eq!(s.resets(&user), 1, "{user}");
        assert!(["reset", "skipped"].contains(&latest[&user]["outcome"].as_str()));
    }
    assert_eq!(count(&out.rows(), "skipped"), reset);
}

#[tokio::test(flavor = "multi_thread")]
async fn journaled_user_already_reset_is_confirmed_by_a_check_not_called_again() {
    let s = Scenario::new("gap").sim(|c| {
        // The killed run's call reached the service; its outcome never reached the report.
        c.users = vec![SeedUser {
            status: Some("RESET_REQUIRED".into()),
            ..seed("alice")
        }];
    });
    crashed_report(&s, "alice\nbob\n", &["alice"]);
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(0);
    let alice = s.user("alice");
    assert_eq!((alice.reset_calls, alice.get_calls), (0, 1));
    assert_eq!(s.resets("bob"), 1);
    let row = out.row("alice");
    assert_eq!(row["outcome"], "reset");
    assert!(
        row["error_message"].contains("confirmed by an AdminGetUser check"),
        "{row:?}"
    );
    // After a clean finish the journal holds its header and the run's line,
    // and no intent.
    let journal = s.read("in.report.csv.journal");
    assert!(!journal.contains("\"user\""), "{journal}");
}

#[tokio::test(flavor = "multi_thread")]
async fn torn_last_line_and_empty_journal_are_handled() {
    let s = Scenario::new("torn").file("in.txt", &users(5));
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    // A crash mid-write, and a journal that never got its header.
    let mut report = s.read("in.report.csv");
    report.push_str("6,user0006,us-east-1_SimPool1,res");
    s.write("in.report.csv", &report);
    s.write("in.report.csv.journal", "");
    // An empty journal is never read as "nothing was in flight".
    s.run(&["in.txt", "--yes", "--resume"])
        .await
        .assert_code(2)
        .assert_says("--check-all");
    assert_eq!(
        s.read("in.report.csv"),
        report,
        "refused before touching the report"
    );
    let out = s.run(&["in.txt", "--yes", "--resume", "--check-all"]).await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows.len(), 10);
    assert!(rows[5..].iter().all(|r| r["outcome"] == "skipped"));
    for user in usernames(5) {
        assert_eq!(s.resets(&user), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_from_another_input_is_refused() {
    let s = Scenario::new("foreign")
        .file("a.txt", "alice\n")
        .file("b.txt", "bob\n");
    s.run(&["a.txt", "--yes", "--report", "r.csv"])
        .await
        .assert_code(0);
    s.run(&["b.txt", "--yes", "--report", "r.csv", "--resume"])
        .await
        .assert_code(2)
        .assert_says("different input");
    assert_eq!(s.resets("bob"), 0);
    // A different pool is foreign too.
    s.run(&[
        "a.txt",
        "--yes",
        "--report",
        "r.csv",
        "--resume",
        "--user-pool-id",
        "us-east-1_Other",
    ])
    .await
    .assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn report_and_journal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scenario::new("private").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    for f in ["in.report.csv", "in.report.csv.journal"] {
        let mode = std::fs::metadata(s.path(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

/// Regression: a run killed as it created its report left the file empty; the
/// resume appended rows without a header, and every later resume refused the
/// report as "not a cognito-reset report".
#[tokio::test(flavor = "multi_thread")]
async fn resume_of_a_report_killed_before_its_header_writes_the_header() {
    let input = "alice\nbob\n";
    let s = Scenario::new("empty-report")
        .file("in.txt", input)
        .file("in.report.csv", "")
        .file("in.report.csv.journal", &journal_header(input));
    s.run(&["in.txt", "--yes", "--resume"]).await.assert_code(0);
    assert!(s.read("in.report.csv").starts_with("line,username,"));
    s.run(&["in.txt", "--yes", "--resume"]).await.assert_code(0);
    assert_eq!(s.resets("alice"), 1);
}

/// Regression: a journal left without its report (a run killed between
/// creating the two, before any call) blocked every fresh run.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_without_its_report_does_not_block_a_fresh_run() {
    let s = Scenario::new("lone-journal")
        .file("in.txt", "alice\n")
        .file("in.report.csv.journal", "{\"cognito_reset_journal\":2}\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    assert_eq!(s.resets("alice"), 1);
}
