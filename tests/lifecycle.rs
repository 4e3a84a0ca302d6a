//! A row's life on every path: sign-outs, resumes that are themselves
//! interrupted, checks that cannot be made, lost journals, signals. Each
//! test is named after a failure it guards against, and is judged by what the
//! simulator saw.

mod common;

use std::time::Duration;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;

fn base(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["--user-pool-id", DEFAULT_POOL, "in.txt", "--yes", "--quiet"];
    args.extend_from_slice(extra);
    args
}

fn with_resume(mut args: Vec<&'static str>) -> Vec<&'static str> {
    args.push("--resume");
    args
}

/// A report with only its header and a journal holding intents for
/// `uncertain`, as a run killed right after sending their resets leaves them.
fn crashed_report(w: &Workdir, input: &str, uncertain: &[&str]) {
    w.write("in.txt", input);
    w.write("in.report.csv", &report_header(false));
    let mut journal = journal_header(input);
    for user in uncertain {
        journal.push_str(&intent_line(user));
    }
    w.write("in.report.csv.journal", &journal);
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_sign_outs_then_resumed_every_reset_user_is_signed_out() {
    let w = Workdir::new("kill-signout");
    let sim = simulator(|c| c.latency = Duration::from_millis(3)).await;
    let n = 400;
    w.write("in.txt", &users(n));
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
        let mut child = command(&w.dir, &sim, &run_args).spawn().unwrap();
        wait_for_rows(&w, "in.report.csv", 0).await;
        tokio::time::sleep(Duration::from_millis(next(&mut seed) % 150)).await;
        child.kill().await.unwrap();
    }
    let out = command(&w.dir, &sim, &with_resume(args))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for i in 1..=n {
        let user = format!("user{i:04}");
        assert_eq!(resets(&sim, &user), 1, "{user}");
        assert!(sign_outs(&sim, &user) >= 1, "{user} was never signed out");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_with_checks_denied_refuses_before_anything_is_sent() {
    let w = Workdir::new("check-denied");
    let sim = simulator(|c| {
        c.deny.insert("AdminGetUser".into());
    })
    .await;
    crashed_report(&w, "alice\nbob\ncarol\n", &["alice", "bob"]);
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("AdminGetUser") && err.contains("--resend-unchecked"),
        "{err}"
    );
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0, "nothing was sent");
    assert_eq!(intents(&w, "in.report.csv.journal"), ["alice", "bob"]);
    // The operator chooses to send again.
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--resend-unchecked"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for user in ["alice", "bob", "carol"] {
        assert_eq!(resets(&sim, user), 1, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_beside_an_emptied_journal_refuses_and_check_all_resets_nobody_twice() {
    let w = Workdir::new("emptied");
    let sim = simulator(|c| c.latency = Duration::from_millis(5)).await;
    let n = 300;
    w.write("in.txt", &users(n));
    let args = base(&["--rate", "1500", "--concurrency", "16"]);
    let mut child = command(&w.dir, &sim, &args).spawn().unwrap();
    wait_for_rows(&w, "in.report.csv", 20).await;
    child.kill().await.unwrap();
    w.write("in.report.csv.journal", "");
    let report_before = w.read("in.report.csv");
    let out = command(&w.dir, &sim, &with_resume(args.clone()))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--check-all"), "{}", stderr(&out));
    assert_eq!(
        w.read("in.report.csv"),
        report_before,
        "refused before touching anything"
    );
    let mut check_all = with_resume(args);
    check_all.push("--check-all");
    let out = command(&w.dir, &sim, &check_all).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for i in 1..=n {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1, "user{i:04}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_stopped_before_its_uncertain_rows_keeps_their_intents() {
    let w = Workdir::new("resume-stopped");
    let late = ["user0290", "user0295", "user0300"];
    let sim = simulator(|c| {
        // The killed run's resets reached these users.
        c.users = late
            .iter()
            .map(|u| {
                let mut s = seed(u);
                s.status = Some("RESET_REQUIRED".into());
                s
            })
            .collect();
    })
    .await;
    crashed_report(&w, &users(300), &late);
    let args = base(&["--rate", "100", "--concurrency", "4"]);
    let child = command(&w.dir, &sim, &with_resume(args.clone()))
        .spawn()
        .unwrap();
    wait_for_rows(&w, "in.report.csv", 10).await;
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        intents(&w, "in.report.csv.journal"),
        late,
        "an interrupted resume keeps every earlier unresolved intent"
    );
    let out = command(&w.dir, &sim, &with_resume(base(&["--rate", "2000"])))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for user in late {
        let u = sim.state().user(DEFAULT_POOL, user).unwrap();
        assert_eq!(
            u.reset_calls, 0,
            "{user}: confirmed by a check, never sent twice"
        );
    }
    assert_eq!(resets(&sim, "user0001"), 1);
    assert!(intents(&w, "in.report.csv.journal").is_empty());
}

async fn graceful_stop_by(sig: i32, code: i32) {
    let w = Workdir::new(&format!("signal-{sig}"));
    let sim = simulator(|c| c.latency = Duration::from_millis(10)).await;
    w.write("in.txt", &users(300));
    let args = base(&["--rate", "100"]);
    let child = command(&w.dir, &sim, &args).spawn().unwrap();
    wait_for_rows(&w, "in.report.csv", 10).await;
    signal(&child, sig);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 300, "every row is in the report");
    let reset = rows.iter().filter(|r| r["outcome"] == "reset").count();
    let cancelled = rows.iter().filter(|r| r["outcome"] == "cancelled").count();
    assert!(
        reset > 0 && cancelled > 0 && reset + cancelled == 300,
        "{reset} {cancelled}"
    );
    let out = command(&w.dir, &sim, &with_resume(base(&["--rate", "2000"])))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for i in 1..=300 {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1);
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

#[tokio::test(flavor = "multi_thread")]
async fn sighup_ignored_at_start_stays_ignored() {
    let w = Workdir::new("nohup");
    let sim = simulator(|c| c.latency = Duration::from_millis(5)).await;
    w.write("in.txt", &users(60));
    // As nohup does: the signal is ignored before the program starts.
    let mut script = format!("trap '' HUP; exec {BIN}");
    for arg in base(&["--rate", "100"]) {
        script.push(' ');
        script.push_str(arg);
    }
    script.push_str(" --endpoint-url ");
    script.push_str(&sim.url());
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(&script).current_dir(&w.dir);
    sh.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTONLY")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(std::process::Stdio::piped());
    let child = tokio::process::Command::from(sh).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, libc::SIGHUP);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.report("in.report.csv").len(), 60);
    assert!(
        w.report("in.report.csv")
            .iter()
            .all(|r| r["outcome"] == "reset")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_with_the_report_readable() {
    let w = Workdir::new("second-signal");
    let sim = simulator(|c| c.latency = Duration::from_millis(400)).await;
    w.write("in.txt", &users(200));
    let child = command(&w.dir, &sim, &base(&["--rate", "1000"]))
        .spawn()
        .unwrap();
    // Past the preflight's calls, with resets in flight.
    wait_for_rows(&w, "in.report.csv", 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(50)).await;
    signal(&child, libc::SIGTERM);
    let started = std::time::Instant::now();
    let out = child.wait_with_output().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "did not exit at once"
    );
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        stderr(&out)
    );
    // Readable: every line parses; a resume finishes the job.
    let _ = w.report("in.report.csv");
    let out = command(&w.dir, &sim, &with_resume(base(&["--rate", "2000"])))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_and_sign_out_each_run_at_their_own_rate() {
    let w = Workdir::new("category-rates");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(300));
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--global-sign-out",
            "--rate",
            "100",
            "--sign-out-rate",
            "100",
            "--summary",
            "s.json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    // Sharing one budget, each would get about half of it.
    for category in ["UserAccountRecovery", "UserUpdate"] {
        let achieved = s["calls"][category]["achieved_per_second"]
            .as_f64()
            .unwrap();
        assert!(achieved > 75.0, "{category}: {achieved}/s");
    }
}
