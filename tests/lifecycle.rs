//! A row's life on every path: sign-outs, resumes that are themselves
//! interrupted, checks that cannot be made, lost journals, signals. Each
//! test is named after a failure it guards against, and is judged by what the
//! simulator saw.

mod common;

use std::time::Duration;

use cognito_reset::simulator::SeedUser;
use common::*;

fn base(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["in.txt", "--yes", "--quiet"];
    args.extend_from_slice(extra);
    args
}

fn with_resume(mut args: Vec<&'static str>) -> Vec<&'static str> {
    args.push("--resume");
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_sign_outs_then_resumed_every_reset_user_is_signed_out() {
    let n = 400;
    let s = Scenario::new("kill-signout")
        .sim(|c| c.latency = Duration::from_millis(3))
        .file("in.txt", &users(n));
    let args = base(&[
        "--global-sign-out",
        "--rate",
        "2000",
        "--sign-out-rate",
        "2000",
    ]);
    let mut seed = 7u64;
    for round in 0..3 {
        let run_args = if round == 0 {
            args.clone()
        } else {
            with_resume(args.clone())
        };
        let mut child = s.spawn(&run_args).await;
        child.wait_for_rows(0).await;
        tokio::time::sleep(Duration::from_millis(next(&mut seed) % 150)).await;
        child.kill().await;
    }
    s.run(&with_resume(args)).await.assert_code(0);
    for user in usernames(n) {
        assert_eq!(s.resets(&user), 1, "{user}");
        assert!(s.sign_outs(&user) >= 1, "{user} was never signed out");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_with_checks_denied_refuses_before_anything_is_sent() {
    let s = Scenario::new("check-denied").sim(|c| {
        c.deny.insert("AdminGetUser".into());
    });
    crashed_report(&s, "alice\nbob\ncarol\n", &["alice", "bob"]);
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(3);
    let err = &out.stderr;
    assert!(
        err.contains("AdminGetUser") && err.contains("--resend-unchecked"),
        "{err}"
    );
    assert_eq!(s.calls("AdminResetUserPassword"), 0, "nothing was sent");
    assert_eq!(s.intents("in.report.csv.journal"), ["alice", "bob"]);
    // The operator chooses to send again.
    s.run(&["in.txt", "--yes", "--resume", "--resend-unchecked"])
        .await
        .assert_code(0);
    for user in ["alice", "bob", "carol"] {
        assert_eq!(s.resets(user), 1, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_beside_an_emptied_journal_refuses_and_check_all_resets_nobody_twice() {
    let n = 300;
    let s = Scenario::new("emptied")
        .sim(|c| c.latency = Duration::from_millis(5))
        .file("in.txt", &users(n));
    let args = base(&["--rate", "1500", "--concurrency", "16"]);
    let mut child = s.spawn(&args).await;
    child.wait_for_rows(20).await;
    child.kill().await;
    s.write("in.report.csv.journal", "");
    let report_before = s.read("in.report.csv");
    s.run(&with_resume(args.clone()))
        .await
        .assert_code(2)
        .assert_says("--check-all");
    assert_eq!(
        s.read("in.report.csv"),
        report_before,
        "refused before touching anything"
    );
    let mut check_all = with_resume(args);
    check_all.push("--check-all");
    s.run(&check_all).await.assert_code(0);
    for user in usernames(n) {
        assert_eq!(s.resets(&user), 1, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_stopped_before_its_uncertain_rows_keeps_their_intents() {
    let late = ["user0290", "user0295", "user0300"];
    let s = Scenario::new("resume-stopped").sim(|c| {
        // The killed run's resets reached these users.
        c.users = late
            .iter()
            .map(|u| SeedUser {
                status: Some("RESET_REQUIRED".into()),
                ..seed(u)
            })
            .collect();
    });
    crashed_report(&s, &users(300), &late);
    let args = base(&["--rate", "100", "--concurrency", "4"]);
    let child = s.spawn(&with_resume(args)).await;
    child.wait_for_rows(10).await;
    child.signal(libc::SIGINT);
    child.finish().await.assert_code(130);
    assert_eq!(
        s.intents("in.report.csv.journal"),
        late,
        "an interrupted resume keeps every earlier unresolved intent"
    );
    s.run(&with_resume(base(&["--rate", "2000"])))
        .await
        .assert_code(0);
    for user in late {
        let u = s.user(user);
        assert_eq!(
            u.reset_calls, 0,
            "{user}: confirmed by a check, never sent twice"
        );
    }
    assert_eq!(s.resets("user0001"), 1);
    assert!(s.intents("in.report.csv.journal").is_empty());
}

async fn graceful_stop_by(sig: i32, code: i32) {
    let s = Scenario::new(&format!("signal-{sig}"))
        .sim(|c| c.latency = Duration::from_millis(10))
        .file("in.txt", &users(300));
    let child = s.spawn(&base(&["--rate", "100"])).await;
    child.wait_for_rows(10).await;
    child.signal(sig);
    let out = child.finish().await;
    out.assert_code(code).assert_says("--resume");
    let rows = out.rows();
    assert_eq!(rows.len(), 300, "every row is in the report");
    let reset = count(&rows, "reset");
    let cancelled = count(&rows, "cancelled");
    assert!(
        reset > 0 && cancelled > 0 && reset + cancelled == 300,
        "{reset} {cancelled}"
    );
    s.run(&with_resume(base(&["--rate", "2000"])))
        .await
        .assert_code(0);
    for user in usernames(300) {
        assert_eq!(s.resets(&user), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_gracefully_with_every_row_reported() {
    graceful_stop_by(libc::SIGTERM, 143).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_stops_gracefully_with_every_row_reported() {
    graceful_stop_by(libc::SIGHUP, 129).await;
}

/// Regression: SIGQUIT (Ctrl-\\ on a terminal) killed the run without a
/// word, no resume command and a summary still saying "running".
#[tokio::test(flavor = "multi_thread")]
async fn sigquit_stops_gracefully_with_every_row_reported() {
    graceful_stop_by(libc::SIGQUIT, 131).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_ignored_at_start_stays_ignored() {
    let s = Scenario::new("nohup")
        .sim(|c| c.latency = Duration::from_millis(5))
        .file("in.txt", &users(60));
    // As nohup does: the signal is ignored before the program starts. The
    // shell starts with it at its default, as every child of the tests does.
    let line = s.command_line(&base(&["--rate", "100"])).await;
    let script = format!("trap '' HUP; exec {line}");
    let child = s.shell("sh", &script).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, libc::SIGHUP);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.report("in.report.csv").len(), 60);
    assert!(
        s.report("in.report.csv")
            .iter()
            .all(|r| r["outcome"] == "reset")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_with_the_report_readable() {
    let s = Scenario::new("second-signal")
        .sim(|c| c.latency = Duration::from_millis(400))
        .file("in.txt", &users(200));
    let child = s.spawn(&base(&["--rate", "1000"])).await;
    // Past the preflight's calls, with resets in flight.
    child.wait_for_rows(0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.signal(libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(50)).await;
    child.signal(libc::SIGTERM);
    let started = std::time::Instant::now();
    let out = child.finish().await;
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "did not exit at once"
    );
    out.assert_code(128 + libc::SIGTERM);
    // Readable: every line parses; a resume finishes the job.
    let _ = out.rows();
    s.run(&with_resume(base(&["--rate", "2000"])))
        .await
        .assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_and_sign_out_each_run_at_their_own_rate() {
    // Rates low enough for a loaded machine to keep up with both: one
    // shared budget would take 10 s for the 200 calls (10/s each); two take
    // 5 s and the run's fixed costs, so only sharing can fail the test.
    let s = Scenario::new("category-rates").file("in.txt", &users(100));
    let out = s
        .run(&[
            "in.txt",
            "--yes",
            "--global-sign-out",
            "--rate",
            "20",
            "--sign-out-rate",
            "20",
            "--summary",
            "s.json",
        ])
        .await;
    out.assert_code(0);
    let summary = out.summary();
    for category in ["UserAccountRecovery", "UserUpdate"] {
        let achieved = summary["calls"][category]["achieved_per_second"]
            .as_f64()
            .unwrap();
        assert!(achieved > 12.5, "{category}: {achieved}/s");
    }
}
