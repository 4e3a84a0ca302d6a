//! The end-to-end pipeline against the simulator: the real binary, the real
//! SDK over HTTP, judged by the report and by what the service saw.

mod common;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn mixed_input_gives_the_exact_report() {
    let w = Workdir::new("mixed");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.csv",
        "Username,user_pool_id,meta.reason\n\
         alice,,x\n\
         missing-bob,,x\n\
         disabled-carol,,x\n\
         alice,,x\n\
         has space,,x\n\
         dan,bad-pool,x\n\
         \"eve\nnewline\",,x\n\
         unverified-fay,,x\n",
    );
    let out = run(&w.dir, &sim, &["in.csv", "--yes", "--rate", "1000"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut rows = w.report("in.report.csv");
    rows.sort_by_key(|r| r["line"].parse::<u64>().unwrap());
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["line"].as_str(),
                r["username"].as_str(),
                r["outcome"].as_str(),
                r["error_code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2", "alice", "reset", ""),
            ("3", "missing-bob", "failed", "UserNotFoundException"),
            ("4", "disabled-carol", "failed", "NotAuthorizedException"),
            ("5", "alice", "duplicate", ""),
            ("6", "has space", "invalid", "InvalidUsername"),
            ("7", "dan", "invalid", "InvalidUserPoolId"),
            ("8", "", "invalid", "MalformedRow"),
            (
                "10",
                "unverified-fay",
                "failed",
                "InvalidParameterException"
            ),
        ]
    );
    for r in &rows {
        let called = ["reset", "failed"].contains(&r["outcome"].as_str());
        // A refusal that may mean an unreachable user is followed by a check.
        let checked = r["username"] == "unverified-fay";
        let attempts = match (called, checked) {
            (false, _) => "0",
            (true, false) => "1",
            (true, true) => "2",
        };
        assert_eq!(r["attempts"], attempts, "{r:?}");
        assert_eq!(!r["request_id"].is_empty(), called, "{r:?}");
        assert!(r["completed_at"].ends_with('Z'), "{r:?}");
        assert_eq!(r["user_pool_id"].is_empty(), r["line"] == "8", "{r:?}");
    }
    assert_eq!(resets(&sim, "alice"), 1);
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 4);
    let err = stderr(&out);
    assert!(err.contains("plan: RESET PASSWORDS"), "{err}");
    assert!(err.contains("summary:"), "{err}");
    assert!(!err.contains("test-secret-not-real"));
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonl_report_has_the_same_keys() {
    let w = Workdir::new("jsonl");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.jsonl",
        "{\"username\":\"alice\",\"client_metadata\":{\"k\":\"secret-meta\"}}\n[]\n",
    );
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.jsonl",
            "--yes",
            "--report",
            "out.jsonl",
            "--client-metadata",
            "g=global-secret",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = w.read("out.jsonl");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    // The ten columns, and the hash that chains the records.
    assert_eq!(keys.len(), 11, "{keys:?}");
    let first = text.lines().next().unwrap();
    assert!(
        first.contains(",\"hash\":\"") && first.ends_with("\"}"),
        "{first}"
    );
    assert!(!text.contains("secret-meta") && !stderr(&out).contains("global-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_below_rate_still_resets_every_row() {
    let w = Workdir::new("quota");
    let sim = simulator(|c| c.quotas.user_account_recovery = Some(40.0)).await;
    w.write("in.txt", &users(150));
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "200", "--summary", "s.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 150);
    assert!(rows.iter().all(|r| r["outcome"] == "reset"));
    for i in 1..=150 {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1);
    }
    let summary: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(summary["counts"]["outcomes"]["reset"], 150);
    assert_eq!(
        summary["calls"]["UserAccountRecovery"]["throttled"],
        sim.state().totals().throttled
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_fatal_error_stops_with_few_calls_and_exit_3() {
    let w = Workdir::new("fatal");
    let sim = simulator(|c| {
        c.deny.insert("AdminResetUserPassword".into());
    })
    .await;
    w.write("in.txt", &users(500));
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "1000", "--concurrency", "4"],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let calls = calls(&sim, "AdminResetUserPassword");
    assert!(calls <= 8, "{calls} calls after a run-fatal error");
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 500, "every row is in the report");
    let cancelled = rows.iter().filter(|r| r["outcome"] == "cancelled").count();
    assert!(cancelled >= 490, "{cancelled}");
    let err = stderr(&out);
    assert!(
        err.contains("AccessDeniedException") && err.contains("IAM"),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_email_limit_aborts_the_run() {
    let w = Workdir::new("emailcap");
    let sim = simulator(|c| c.email_cap = Some(5)).await;
    w.write("in.txt", &users(50));
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "1000", "--concurrency", "1"],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("Amazon SES"));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_input_is_read_and_reported() {
    use tokio::io::AsyncWriteExt;
    let w = Workdir::new("stdin");
    let sim = simulator(|_| {}).await;
    let mut child = command(
        &w.dir,
        &sim,
        &[
            "-",
            "--user-pool-id",
            DEFAULT_POOL,
            "--yes",
            "--report",
            "r.csv",
            "--rate",
            "1000",
        ],
    )
    .stdin(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"username\nalice\nbob\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("r.csv");
    assert_eq!(rows.len(), 2);
    assert_eq!(resets(&sim, "bob"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_report_is_refused() {
    let w = Workdir::new("exists");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    w.write("in.report.csv", "keep me\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--overwrite"));
    assert_eq!(w.read("in.report.csv"), "keep me\n");
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
    // --overwrite empties only this tool's own report, never another file.
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--overwrite"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.read("in.report.csv"), "keep me\n");
    std::fs::remove_file(w.path("in.report.csv")).unwrap();
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--overwrite"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.report("in.report.csv").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_yes_off_a_terminal_is_refused_before_any_reset() {
    let w = Workdir::new("noyes");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\nbob\n");
    let out = run(&w.dir, &sim, &["in.txt"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
    assert!(!w.path("in.report.csv").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_errors_are_retried_and_checked_before_a_second_reset() {
    let w = Workdir::new("transient");
    let sim = simulator(|c| {
        let mut flaky = seed("flaky");
        flaky.fail = Some("InternalErrorException".into());
        flaky.fail_times = Some(2);
        let mut limited = seed("limited");
        limited.fail = Some("LimitExceededException".into());
        limited.fail_message = Some("Attempt limit exceeded, please try after some time.".into());
        limited.fail_times = Some(1);
        let mut stuck = seed("stuck");
        stuck.fail = Some("LimitExceededException".into());
        stuck.fail_message = Some("Attempt limit exceeded, please try after some time.".into());
        c.users = vec![flaky, limited, stuck];
    })
    .await;
    w.write("in.txt", "flaky\nlimited\nstuck\nalice\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "1000", "--max-attempts", "3"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    let row = |u: &str| rows.iter().find(|r| r["username"] == u).unwrap().clone();
    // Two 500s, each followed by an AdminGetUser check, then the reset.
    assert_eq!(row("flaky")["outcome"], "reset");
    assert_eq!(row("flaky")["attempts"], "5");
    assert_eq!(
        sim.state().user(DEFAULT_POOL, "flaky").unwrap().get_calls,
        2
    );
    // The per-user attempt limit is final for the run: retrying only burns
    // the user's codes. The row says to resume after an hour.
    for user in ["limited", "stuck"] {
        assert_eq!(row(user)["outcome"], "failed");
        assert_eq!(row(user)["error_code"], "LimitExceededException");
        assert_eq!(row(user)["attempts"], "1");
        assert!(row(user)["error_message"].contains("--resume"));
    }
    assert_eq!(row("alice")["outcome"], "reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_faults_never_lose_a_row_or_reset_twice() {
    let w = Workdir::new("faults");
    let sim = simulator(|c| c.fault_rate = 0.3).await;
    w.write("in.txt", &users(200));
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "2000", "--max-attempts", "10"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sim.state().totals().faults > 20);
    for i in 1..=200 {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1, "user{i:04}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_pool_stops_before_any_reset() {
    let w = Workdir::new("nopool");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.csv",
        "username,user_pool_id\nalice,\nbob,eu-west-1_Gone\n",
    );
    let out = run(&w.dir, &sim, &["in.csv", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("eu-west-1_Gone does not exist"));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_that_vanishes_fails_its_rows_without_more_calls() {
    let w = Workdir::new("poolfatal");
    // The first call, whichever row makes it, finds the pool gone (as if
    // deleted mid-run); rows waiting meanwhile must not call after it.
    let sim = simulator(|c| {
        c.users = (1..=20)
            .map(|i| {
                let mut user = seed(&format!("user{i:04}"));
                user.fail = Some("ResourceNotFoundException".into());
                user
            })
            .collect();
    })
    .await;
    w.write("in.txt", &users(20));
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "1000", "--concurrency", "1"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 1);
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "failed" && r["error_code"] == "ResourceNotFoundException")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_rate_aborts_after_enough_rows() {
    let w = Workdir::new("failrate");
    let sim = simulator(|_| {}).await;
    let input: String = (1..=400).map(|i| format!("missing-{i}\n")).collect();
    w.write("in.txt", &input);
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--rate",
            "2000",
            "--concurrency",
            "2",
            "--max-failure-rate",
            "50",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-failure-rate"),
        "{}",
        stderr(&out)
    );
    let calls = calls(&sim, "AdminResetUserPassword");
    assert!((200..=204).contains(&calls), "{calls}");
    let rows = w.report("in.report.csv");
    assert_eq!(rows.len(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_auto_uses_the_provisioned_limit_or_falls_back() {
    let w = Workdir::new("auto");
    let sim = simulator(|c| c.quotas.user_account_recovery = Some(50.0)).await;
    w.write("in.txt", "alice\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "auto", "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--rate auto = 40.0/s"),
        "{}",
        stderr(&out)
    );
    let sim = simulator(|c| {
        c.deny.insert("GetProvisionedLimit".into());
    })
    .await;
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "auto", "--overwrite"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("GetProvisionedLimit gave no quota") && err.contains("AccessDeniedException"),
        "{err}"
    );
    assert!(err.contains("starting at the default 25/s"), "{err}");
    assert_eq!(resets(&sim, "alice"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_warns_about_the_default_email_sender() {
    let w = Workdir::new("sender");
    let sim = simulator(|c| c.pool_defaults.email_sender = Some("COGNITO_DEFAULT".into())).await;
    w.write("in.txt", &users(60));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--rate", "1000"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("Amazon SES"), "{}", stderr(&out));
    let sim = simulator(|c| {
        c.deny.insert("DescribeUserPool".into());
    })
    .await;
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "1000", "--overwrite"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("DescribeUserPool is not permitted"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_predicts_without_changing_anything() {
    let w = Workdir::new("dry");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.txt",
        "alice\nmissing-bob\ndisabled-carol\nunconfirmed-dan\nunverified-eve\n",
    );
    let out = run(&w.dir, &sim, &["in.txt", "--dry-run", "-v"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // -v names each row that would fail.
    assert!(
        stderr(&out).contains("line 2: missing-bob would_fail: UserNotFoundException"),
        "{}",
        stderr(&out)
    );
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
    let dry = w.report("in.dry-run.report.csv");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(1));
    let real = w.report("in.report.csv");
    for r in &real {
        let d = dry.iter().find(|d| d["username"] == r["username"]).unwrap();
        let predicted = if r["outcome"] == "reset" {
            "would_reset"
        } else {
            "would_fail"
        };
        assert_eq!(d["outcome"], predicted, "{r:?}");
        assert_eq!(d["error_code"], r["error_code"], "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn global_sign_out_follows_each_reset() {
    let w = Workdir::new("signout");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\nmissing-bob\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--global-sign-out"]).await;
    assert_eq!(out.status.code(), Some(1));
    let rows = w.report("in.report.csv");
    let alice = rows.iter().find(|r| r["username"] == "alice").unwrap();
    assert_eq!(alice["signed_out"], "true");
    assert_eq!(alice["sign_out_error"], "");
    assert_eq!(alice["attempts"], "2");
    let bob = rows
        .iter()
        .find(|r| r["username"] == "missing-bob")
        .unwrap();
    assert_eq!(bob["signed_out"], "");
    assert_eq!(
        sim.state().user(DEFAULT_POOL, "alice").unwrap().sign_outs,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn from_pool_streams_every_matching_user() {
    let w = Workdir::new("frompool");
    let sim = simulator(|c| {
        c.generate = 130;
        let mut off = seed("zz-disabled");
        off.enabled = Some(false);
        c.users = vec![off];
    })
    .await;
    let out = run(
        &w.dir,
        &sim,
        &[
            "--from-pool",
            "--filter",
            "status = \"Enabled\"",
            "--yes",
            "--rate",
            "2000",
            "--report",
            "r.csv",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("r.csv");
    assert_eq!(rows.len(), 130);
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "reset").count(), 130);
    assert_eq!(resets(&sim, "zz-disabled"), 0);
    assert_eq!(calls(&sim, "ListUsers"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_group_resets_only_the_group() {
    let w = Workdir::new("fromgroup");
    let sim = simulator(|c| {
        let mut a = seed("a");
        a.groups = vec!["staff".into()];
        let mut b = seed("b");
        b.groups = vec!["staff".into(), "ops".into()];
        c.users = vec![a, b, seed("c")];
    })
    .await;
    let out = run(
        &w.dir,
        &sim,
        &["--from-group", "staff", "--yes", "--report", "r.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.report("r.csv").len(), 2);
    assert_eq!(
        (resets(&sim, "a"), resets(&sim, "b"), resets(&sim, "c")),
        (1, 1, 0)
    );
    assert_eq!(calls(&sim, "ListUsersInGroup"), 1);
}
