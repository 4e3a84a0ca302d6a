//! The end-to-end pipeline against the simulator: the real binary, the real
//! SDK over HTTP, judged by the report and by what the service saw.

mod common;

use cognito_reset::simulator::SeedUser;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn mixed_input_gives_the_exact_report() {
    let s = Scenario::new("mixed").file(
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
    let out = s.run(&["in.csv", "--yes", "--rate", "1000"]).await;
    out.assert_code(1);
    let mut rows = out.rows();
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
    assert_eq!(s.resets("alice"), 1);
    assert_eq!(s.calls("AdminResetUserPassword"), 4);
    let err = &out.stderr;
    assert!(err.contains("plan: RESET PASSWORDS"), "{err}");
    assert!(err.contains("summary:"), "{err}");
    assert!(!err.contains("test-secret-not-real"));
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonl_report_has_the_same_keys() {
    let s = Scenario::new("jsonl").file(
        "in.jsonl",
        "{\"username\":\"alice\",\"client_metadata\":{\"k\":\"secret-meta\"}}\n[]\n",
    );
    let out = s
        .run(&[
            "in.jsonl",
            "--yes",
            "--report",
            "out.jsonl",
            "--client-metadata",
            "g=global-secret",
        ])
        .await;
    out.assert_code(1);
    let text = out.report_text();
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
    assert!(!text.contains("secret-meta") && !out.stderr.contains("global-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_below_rate_still_resets_every_row() {
    let s = Scenario::new("quota")
        .sim(|c| c.quotas.user_account_recovery = Some(40.0))
        .file("in.txt", &users(150));
    let out = s
        .run(&["in.txt", "--yes", "--rate", "200", "--summary", "s.json"])
        .await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows.len(), 150);
    assert!(rows.iter().all(|r| r["outcome"] == "reset"));
    for user in usernames(150) {
        assert_eq!(s.resets(&user), 1);
    }
    let summary = out.summary();
    assert_eq!(summary["counts"]["outcomes"]["reset"], 150);
    assert_eq!(
        summary["calls"]["UserAccountRecovery"]["throttled"],
        s.totals().throttled
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_fatal_error_stops_with_few_calls_and_exit_3() {
    let s = Scenario::new("fatal")
        .sim(|c| {
            c.deny.insert("AdminResetUserPassword".into());
        })
        .file("in.txt", &users(500));
    let out = s
        .run(&["in.txt", "--yes", "--rate", "1000", "--concurrency", "4"])
        .await;
    out.assert_code(3);
    let calls = s.calls("AdminResetUserPassword");
    assert!(calls <= 8, "{calls} calls after a run-fatal error");
    let rows = out.rows();
    assert_eq!(rows.len(), 500, "every row is in the report");
    let cancelled = count(&rows, "cancelled");
    assert!(cancelled >= 490, "{cancelled}");
    let err = &out.stderr;
    assert!(
        err.contains("AccessDeniedException") && err.contains("IAM"),
        "{err}"
    );
    assert!(err.contains("--resume"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_email_limit_aborts_the_run() {
    let s = Scenario::new("emailcap")
        .sim(|c| c.email_cap = Some(5))
        .file("in.txt", &users(50));
    s.run(&["in.txt", "--yes", "--rate", "1000", "--concurrency", "1"])
        .await
        .assert_code(3)
        .assert_says("Amazon SES");
    assert_eq!(s.calls("AdminResetUserPassword"), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_input_is_read_and_reported() {
    use tokio::io::AsyncWriteExt;
    let s = Scenario::new("stdin");
    let mut child = s
        .spawn_piped(&["-", "--yes", "--report", "r.csv", "--rate", "1000"])
        .await;
    let mut stdin = child.stdin();
    stdin.write_all(b"username\nalice\nbob\n").await.unwrap();
    drop(stdin);
    let out = child.finish().await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(s.resets("bob"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_report_is_refused() {
    let s = Scenario::new("exists")
        .file("in.txt", "alice\n")
        .file("in.report.csv", "keep me\n");
    s.run(&["in.txt", "--yes"])
        .await
        .assert_code(2)
        .assert_says("--overwrite");
    assert_eq!(s.read("in.report.csv"), "keep me\n");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    // --overwrite empties only this tool's own report, never another file.
    s.run(&["in.txt", "--yes", "--overwrite"])
        .await
        .assert_code(2);
    assert_eq!(s.read("in.report.csv"), "keep me\n");
    std::fs::remove_file(s.path("in.report.csv")).unwrap();
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    let out = s.run(&["in.txt", "--yes", "--overwrite"]).await;
    out.assert_code(0);
    assert_eq!(out.rows().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_yes_off_a_terminal_is_refused_before_any_reset() {
    let s = Scenario::new("noyes").file("in.txt", "alice\nbob\n");
    s.run(&["in.txt"]).await.assert_code(2).assert_says("--yes");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    assert!(!s.exists("in.report.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_errors_are_retried_and_checked_before_a_second_reset() {
    let limit = "Attempt limit exceeded, please try after some time.";
    let s = Scenario::new("transient")
        .sim(|c| {
            c.users = vec![
                SeedUser {
                    fail_times: Some(2),
                    ..failing("flaky", "InternalErrorException")
                },
                SeedUser {
                    fail_message: Some(limit.into()),
                    fail_times: Some(1),
                    ..failing("limited", "LimitExceededException")
                },
                SeedUser {
                    fail_message: Some(limit.into()),
                    ..failing("stuck", "LimitExceededException")
                },
            ];
        })
        .file("in.txt", "flaky\nlimited\nstuck\nalice\n");
    let out = s
        .run(&["in.txt", "--yes", "--rate", "1000", "--max-attempts", "3"])
        .await;
    out.assert_code(1);
    let row = |u: &str| out.row(u);
    // Two 500s, each followed by an AdminGetUser check, then the reset.
    assert_eq!(row("flaky")["outcome"], "reset");
    assert_eq!(row("flaky")["attempts"], "5");
    assert_eq!(s.user("flaky").get_calls, 2);
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
    let s = Scenario::new("faults")
        .sim(|c| c.fault_rate = 0.3)
        .file("in.txt", &users(200));
    s.run(&["in.txt", "--yes", "--rate", "2000", "--max-attempts", "10"])
        .await
        .assert_code(0);
    assert!(s.totals().faults > 20);
    for user in usernames(200) {
        assert_eq!(s.resets(&user), 1, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_pool_stops_before_any_reset() {
    let s = Scenario::new("nopool").file(
        "in.csv",
        "username,user_pool_id\nalice,\nbob,eu-west-1_Gone\n",
    );
    s.run(&["in.csv", "--yes"])
        .await
        .assert_code(2)
        .assert_says("eu-west-1_Gone does not exist");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_that_vanishes_fails_its_rows_without_more_calls() {
    // The first call, whichever row makes it, finds the pool gone (as if
    // deleted mid-run); rows waiting meanwhile must not call after it.
    let s = Scenario::new("poolfatal")
        .sim(|c| {
            c.users = usernames(20)
                .map(|u| failing(&u, "ResourceNotFoundException"))
                .collect();
        })
        .file("in.txt", &users(20));
    let out = s
        .run(&["in.txt", "--yes", "--rate", "1000", "--concurrency", "1"])
        .await;
    out.assert_code(1);
    assert_eq!(s.calls("AdminResetUserPassword"), 1);
    let rows = out.rows();
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "failed" && r["error_code"] == "ResourceNotFoundException")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_rate_aborts_after_enough_rows() {
    let input: String = (1..=400).map(|i| format!("missing-{i}\n")).collect();
    let s = Scenario::new("failrate").file("in.txt", &input);
    let out = s
        .run(&[
            "in.txt",
            "--yes",
            "--rate",
            "2000",
            "--concurrency",
            "2",
            "--max-failure-rate",
            "50",
        ])
        .await;
    out.assert_code(3).assert_says("--max-failure-rate");
    let calls = s.calls("AdminResetUserPassword");
    assert!((200..=204).contains(&calls), "{calls}");
    assert_eq!(out.rows().len(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_auto_uses_the_provisioned_limit_or_falls_back() {
    let s = Scenario::new("auto")
        .sim(|c| c.quotas.user_account_recovery = Some(50.0))
        .file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--rate", "auto", "--dry-run"])
        .await
        .assert_code(0)
        .assert_says("--rate auto = 40.0/s");
    let s = s.another_sim(|c| {
        c.deny.insert("GetProvisionedLimit".into());
    });
    let out = s
        .run(&["in.txt", "--yes", "--rate", "auto", "--overwrite"])
        .await;
    out.assert_code(0);
    let err = &out.stderr;
    assert!(
        err.contains("GetProvisionedLimit gave no quota") && err.contains("AccessDeniedException"),
        "{err}"
    );
    assert!(err.contains("starting at the default 25/s"), "{err}");
    assert_eq!(s.resets("alice"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_warns_about_the_default_email_sender() {
    let s = Scenario::new("sender")
        .sim(|c| c.pool_defaults.email_sender = Some("COGNITO_DEFAULT".into()))
        .file("in.txt", &users(60));
    s.run(&["in.txt", "--yes", "--rate", "1000"])
        .await
        .assert_code(0)
        .assert_says("Amazon SES");
    let s = s.another_sim(|c| {
        c.deny.insert("DescribeUserPool".into());
    });
    s.run(&["in.txt", "--yes", "--rate", "1000", "--overwrite"])
        .await
        .assert_code(0)
        .assert_says("DescribeUserPool is not permitted");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_predicts_without_changing_anything() {
    let s = Scenario::new("dry").file(
        "in.txt",
        "alice\nmissing-bob\ndisabled-carol\nunconfirmed-dan\nunverified-eve\n",
    );
    let out = s.run(&["in.txt", "--dry-run", "-v"]).await;
    out.assert_code(1);
    // -v names each row that would fail.
    out.assert_says("line 2: missing-bob would_fail: UserNotFoundException");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    let dry = out.rows();
    let out = s.run(&["in.txt", "--yes"]).await;
    out.assert_code(1);
    let real = out.rows();
    for r in &real {
        let d = row(&dry, &r["username"]);
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
    let s = Scenario::new("signout").file("in.txt", "alice\nmissing-bob\n");
    let out = s.run(&["in.txt", "--yes", "--global-sign-out"]).await;
    out.assert_code(1);
    let alice = out.row("alice");
    assert_eq!(alice["signed_out"], "true");
    assert_eq!(alice["sign_out_error"], "");
    assert_eq!(alice["attempts"], "2");
    let bob = out.row("missing-bob");
    assert_eq!(bob["signed_out"], "");
    assert_eq!(s.user("alice").sign_outs, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_pool_streams_every_matching_user() {
    let s = Scenario::new("frompool").sim(|c| {
        c.generate = 130;
        c.users = vec![SeedUser {
            enabled: Some(false),
            ..seed("zz-disabled")
        }];
    });
    let out = s
        .run(&[
            "--from-pool",
            "--filter",
            "status = \"Enabled\"",
            "--yes",
            "--rate",
            "2000",
            "--report",
            "r.csv",
        ])
        .await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows.len(), 130);
    assert_eq!(count(&rows, "reset"), 130);
    assert_eq!(s.resets("zz-disabled"), 0);
    assert_eq!(s.calls("ListUsers"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_group_resets_only_the_group() {
    let s = Scenario::new("fromgroup").sim(|c| {
        let a = SeedUser {
            groups: vec!["staff".into()],
            ..seed("a")
        };
        let b = SeedUser {
            groups: vec!["staff".into(), "ops".into()],
            ..seed("b")
        };
        c.users = vec![a, b, seed("c")];
    });
    let out = s
        .run(&["--from-group", "staff", "--yes", "--report", "r.csv"])
        .await;
    out.assert_code(0);
    assert_eq!(out.rows().len(), 2);
    assert_eq!((s.resets("a"), s.resets("b"), s.resets("c")), (1, 1, 0));
    assert_eq!(s.calls("ListUsersInGroup"), 1);
}
