//! Regression tests for what hostile reviews of the binary found: each is
//! named after the failure it guards against.

mod common;

use std::time::Duration;

use cognito_reset::simulator::{DEFAULT_POOL, SeedUser};
use common::*;

/// Regression: with DescribeUserPool denied the pool's case rule is unknown;
/// exclusions were compared case-sensitively, so `KEEP` and `Keep` were reset
/// although `keep` was excluded.
#[tokio::test(flavor = "multi_thread")]
async fn exclusions_hold_whatever_the_case_when_the_pools_case_rule_is_unknown() {
    let s = Scenario::new("rg-exclude-case")
        .sim(|c| {
            c.deny.insert("DescribeUserPool".into());
        })
        .file("in.csv", "username\nKEEP\nKeep\nother\n")
        .file("breakglass.txt", "keep\n");
    let out = s
        .run(&["in.csv", "--yes", "--exclude", "breakglass.txt"])
        .await;
    out.assert_code(0);
    assert_eq!(s.calls("AdminResetUserPassword"), 1, "only `other`");
    assert_eq!(count(&out.rows(), "excluded"), 2);
}

/// Regression: a resume without `--exclude` reset the rows the first run had
/// recorded `excluded`.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_keeps_excluded_what_the_first_run_excluded() {
    let s = Scenario::new("rg-resume-exclude")
        .sim(|c| c.users = vec![failing("broken", "InternalErrorException")])
        .file("in.txt", "breakglass\nbroken\nalice\n")
        .file("ex.txt", "breakglass\n");
    let first = [
        "in.txt",
        "--yes",
        "--exclude",
        "ex.txt",
        "--max-attempts",
        "2",
    ];
    s.run(&first).await.assert_code(1);
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(1);
    assert_eq!(s.resets("breakglass"), 0);
    assert_eq!(out.latest()["breakglass"]["outcome"], "excluded");
}

/// Regression: `--summary` naming the input (or the exclusion list)
/// overwrote it with the summary.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_may_not_be_the_input_or_the_exclusion_list() {
    let s = Scenario::new("rg-summary-input")
        .file("users.csv", "username\nalice\n")
        .file("ex.txt", "bob\n");
    for args in [
        vec!["users.csv", "--yes", "--summary", "users.csv"],
        vec!["users.csv", "--yes", "--summary", "./users.csv"],
        vec![
            "users.csv",
            "--yes",
            "--exclude",
            "ex.txt",
            "--summary",
            "ex.txt",
        ],
    ] {
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    }
    assert_eq!(s.read("users.csv"), "username\nalice\n");
    assert_eq!(s.read("ex.txt"), "bob\n");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: a dry run on an `admin_only` pool predicted `would_reset` for
/// every row; the real run refuses the pool.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_on_an_admin_only_pool_predicts_every_reset_refused() {
    let s = Scenario::new("rg-dry-admin")
        .sim(|c| c.pool_defaults.recovery = vec!["admin_only".into()])
        .file("in.txt", "alice\nbob\n");
    let out = s.run(&["in.txt", "--dry-run"]).await;
    out.assert_code(1);
    let rows = out.rows();
    assert!(
        rows.iter().all(|r| r["outcome"] == "would_fail"),
        "{rows:?}"
    );
    assert!(rows[0]["error_message"].contains("admin_only"), "{rows:?}");
}

/// Regression: a run that could not start wrote nothing to a fresh
/// `--summary` path, so a nightly job found no record of the refusal. (A
/// path holding another run's record keeps it: the refusal is said on
/// stderr and in the exit code.)
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_could_not_start_writes_its_failure_to_the_summary() {
    let s = Scenario::new("rg-summary-fail").file("in.txt", "alice\n");
    let out = s
        .run(&[
            "in.txt",
            "--yes",
            "--summary",
            "s.json",
            "--user-pool-id",
            "us-east-1_Gone",
        ])
        .await;
    out.assert_code(2);
    let summary = out.summary();
    assert_eq!(summary["exit_code"], 2);
    assert!(
        summary["stopped"]
            .as_str()
            .unwrap()
            .contains("could not start"),
        "{summary}"
    );
}

/// Regression: with `AdminDisableUser` denied the run went on calling it for
/// every unreachable user; a permission refused mid-run stops the run.
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_disable_stops_the_run() {
    let input: String = (1..=50).map(|i| format!("unverified-{i:03}\n")).collect();
    let s = Scenario::new("rg-disable-denied")
        .sim(|c| {
            c.deny.insert("AdminDisableUser".into());
        })
        .file("in.txt", &input);
    let out = s
        .run(&[
            "in.txt",
            "--yes",
            "--unresettable",
            "disable",
            "--concurrency",
            "1",
        ])
        .await;
    out.assert_code(3).assert_says("AdminDisableUser");
    assert!(s.calls("AdminDisableUser") <= 2);
}

/// Regression: the simulator dropped a request whose client went away before
/// the answer (a killed run), so "applied but the answer lost" never
/// happened in crash tests; Cognito carries such a request out.
#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_carries_out_a_request_whose_client_went_away() {
    let s = Scenario::new("rg-sim-inflight")
        .sim(|c| c.latency = Duration::from_millis(300))
        .file("in.txt", "alice\n");
    let mut child = s.spawn(&["in.txt", "--yes"]).await;
    s.wait_for_call("AdminResetUserPassword").await;
    child.kill().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.resets("alice"), 1, "the reset reached Cognito");
}

/// Regression: the tool folded case character by character (`ΣΑΣ` became
/// `σασ`) while Cognito folds whole words (`σας`): one user, two resets.
#[tokio::test(flavor = "multi_thread")]
async fn case_folding_matches_cognitos_for_final_sigma() {
    let s = Scenario::new("rg-sigma").file("in.txt", "ΣΑΣ\nσας\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    assert_eq!(s.totals().users_reset_twice, 0);
    assert_eq!(s.calls("AdminResetUserPassword"), 1);
}

/// Regression: a right-to-left override in a username reached the terminal
/// raw with `-v`, able to disguise what is printed.
#[tokio::test(flavor = "multi_thread")]
async fn bidirectional_controls_are_escaped_on_the_terminal() {
    let s = Scenario::new("rg-bidi").file("in.txt", "evil\u{202e}txt.exe\n");
    let out = s.run(&["in.txt", "--yes", "-v"]).await;
    assert!(!out.stderr.contains('\u{202e}'), "{}", out.stderr);
}

/// Regression: simulator knobs given without `--simulate` were silently
/// ignored (a `--sim-deny` test against a real endpoint tested nothing).
#[tokio::test(flavor = "multi_thread")]
async fn simulator_knobs_without_simulate_are_refused() {
    let s = Scenario::new("rg-knobs").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--sim-deny", "AdminGetUser"])
        .await
        .assert_code(2)
        .assert_says("--simulate");
}

/// Regression: an input file of zero bytes exited 0 as if every user had
/// been reset (a failed export looked like success).
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_csv_input_could_not_start() {
    let s = Scenario::new("rg-empty").file("in.csv", "");
    s.run(&["in.csv", "--yes"])
        .await
        .assert_code(2)
        .assert_says("header");
}

/// Regression: the resume hint escaped a control character in `--reason`,
/// so pasting it changed the reason; it must paste back to the same bytes.
#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_pastes_back_to_the_same_arguments() {
    let s = Scenario::new("rg-hint-quote")
        .sim(|c| c.users = vec![failing("broken", "InternalErrorException")])
        .file("in.txt", "broken\n");
    let reason = "INC-1 it's \u{1b}[31mred";
    let out = s
        .run(&["in.txt", "--yes", "--max-attempts", "1", "--reason", reason])
        .await;
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("to resume: "))
        .expect("a hint");
    assert!(!hint.contains('\u{1b}'), "{hint}");
    let script = format!(
        "for a in {}; do printf '%s\\0' \"$a\"; done",
        &hint["to resume: ".len()..]
    );
    let echoed = s.shell("bash", &script).output().await.unwrap();
    let args: Vec<String> = String::from_utf8(echoed.stdout)
        .unwrap()
        .split('\0')
        .map(str::to_owned)
        .collect();
    assert!(args.contains(&reason.to_owned()), "{args:?}");
}

/// Regression: a refused `--overwrite` replaced the running run's journal
/// before it found the report locked (and named its own process); a crash of
/// the running run then meant resets sent twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_overwrite_leaves_the_running_runs_journal_alone() {
    let s = Scenario::new("rg-overwrite-journal")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(200));
    let args = ["in.txt", "--yes", "--rate", "50", "--quiet"];
    let mut first = s.spawn(&args).await;
    let pid = first.pid();
    first.wait_for_rows(5).await;
    let journal = s.read("in.report.csv.journal");
    let out = s.run(&[&args[..], &["--overwrite"]].concat()).await;
    out.assert_code(2).assert_says(&format!("process {pid}"));
    let now = s.read("in.report.csv.journal");
    assert!(
        now.starts_with(&journal[..journal.len().min(200)]),
        "the journal was replaced"
    );
    first.kill().await;
    s.run(&["in.txt", "--yes", "--quiet", "--resume"])
        .await
        .assert_code(0);
    assert_eq!(s.totals().users_reset_twice, 0);
}

/// Regression: `--summary` emptied whatever file it named, another run's
/// report included.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_never_replaces_a_file_that_is_not_a_summary() {
    let s = Scenario::new("rg-summary-clobber")
        .file("a.txt", "alice\n")
        .file("b.txt", "bob\n");
    s.run(&["a.txt", "--yes"]).await.assert_code(0);
    let report = s.read("a.report.csv");
    s.run(&["b.txt", "--yes", "--summary", "a.report.csv"])
        .await
        .assert_code(2);
    assert_eq!(s.read("a.report.csv"), report);
    assert_eq!(s.resets("bob"), 0);
    // An earlier summary is this tool's own: replaced.
    s.run(&["b.txt", "--yes", "--summary", "s.json"])
        .await
        .assert_code(0);
    s.run(&["b.txt", "--yes", "--overwrite", "--summary", "s.json"])
        .await
        .assert_code(0);
}

/// Regression: resuming a `--from-pool` run whose filter no longer lists the
/// users already reset dropped their owed sign-outs (and any reset in flight)
/// and exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_finishes_owed_sign_outs_the_source_no_longer_lists() {
    let s = Scenario::new("rg-owed-listing").sim(|c| {
        c.generate = 40;
        c.users = vec![sign_out_failing("user000001", 3)];
    });
    let args = [
        "--from-pool",
        "--filter",
        "cognito:user_status = \"CONFIRMED\"",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
        "--report",
        "r.csv",
    ];
    s.run(&args).await.assert_code(1);
    assert_eq!(s.sign_outs("user000001"), 0);
    s.run(&[&args[..], &["--resume"]].concat())
        .await
        .assert_code(0);
    assert_eq!(s.sign_outs("user000001"), 1, "the owed sign-out was done");
    assert_eq!(s.resets("user000001"), 1);
}

/// Regression: a run killed right after disabling an unreachable user left
/// no record; the resume found the user disabled, took it for "already
/// locked out" and never signed it out.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_disabled_before_a_crash_is_signed_out_on_resume() {
    let input = "unverified-u\n";
    let s = Scenario::new("rg-disable-crash")
        .sim(|c| {
            c.users = vec![SeedUser {
                enabled: Some(false), // what the killed run's AdminDisableUser did
                ..seed("unverified-u")
            }];
        })
        .file("in.txt", input)
        .file("in.report.csv", SIGN_OUT_REPORT_HEADER);
    let header = journal_header(input).replace("\"sign_out\":false", "\"sign_out\":true");
    let disable =
        format!("{{\"pool\":\"{DEFAULT_POOL}\",\"user\":\"unverified-u\",\"op\":\"disable\"}}\n");
    s.write(
        "in.report.csv.journal",
        &(header + &intent_line("unverified-u") + &disable),
    );
    let args = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--unresettable",
        "disable",
    ];
    let out = s.run(&args).await;
    out.assert_code(0);
    let row = &out.latest()["unverified-u"];
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("disabled", "true")
    );
    assert_eq!(s.sign_outs("unverified-u"), 1);
}

/// Regression: the resume hint put `--report … --resume` after a `--`, where
/// they are read as input file names.
#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_works_after_a_double_dash() {
    let s = Scenario::new("rg-hint-dashdash")
        .sim(|c| {
            c.users = vec![SeedUser {
                fail_times: Some(1),
                ..failing("broken", "InternalErrorException")
            }];
        })
        .file("-list.txt", "broken\n");
    let out = s
        .run(&["--yes", "--max-attempts", "1", "--", "-list.txt"])
        .await;
    out.assert_code(1);
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("to resume: "))
        .expect("a hint");
    let script = format!("exec {}", &hint["to resume: ".len()..]);
    let out = s.shell("bash", &script).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{script}: {}", stderr(&out));
    assert_eq!(s.resets("broken"), 1);
}

/// Regression: a closed standard input (`<&-`) read as an empty list and
/// exited 0, as if every user had been reset.
#[tokio::test(flavor = "multi_thread")]
async fn an_input_with_no_rows_could_not_start() {
    let s = Scenario::new("rg-no-rows").file("in.txt", "\n\n");
    s.run(&["in.txt", "--yes"])
        .await
        .assert_code(2)
        .assert_says("no rows");
    s.run(&["-", "--yes", "--format", "lines", "--report", "r.csv"])
        .await
        .assert_code(2);
    assert!(!s.exists("r.csv"));
}

/// Regression: a symbolic link at `<report>.journal` was silently replaced.
#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_at_the_journal_path_is_refused() {
    let s = Scenario::new("rg-journal-link")
        .file("in.txt", "alice\n")
        .file("victim", "keep\n");
    std::os::unix::fs::symlink(s.path("victim"), s.path("in.report.csv.journal")).unwrap();
    s.run(&["in.txt", "--yes"])
        .await
        .assert_code(2)
        .assert_says("symbolic link");
    assert!(
        std::fs::symlink_metadata(s.path("in.report.csv.journal"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(s.read("victim"), "keep\n");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: after a crash the operator deleted the report and started
/// afresh; the journal's pending intents were dropped without a word and the
/// users in flight got a second reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_with_pending_resets_but_no_report_is_not_dropped_silently() {
    let s = Scenario::new("rg-deleted-report")
        .file("in.txt", "alice\n")
        .file(
            "in.report.csv.journal",
            &(journal_header("alice\n") + &intent_line("alice")),
        );
    s.run(&["in.txt", "--yes"])
        .await
        .assert_code(2)
        .assert_says("journal");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: a signal during the preflight, with `--yes`, left a report of
/// `cancelled` rows (and a journal) that then blocked a plain re-run.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_during_the_preflight_leaves_no_report() {
    let s = Scenario::new("rg-preflight-signal")
        .sim(|c| c.latency = Duration::from_millis(700))
        .file("in.txt", "alice\n");
    let child = s.spawn(&["in.txt", "--yes"]).await;
    s.wait_for_call("DescribeUserPool").await;
    child.signal(libc::SIGINT);
    child.finish().await.assert_code(130);
    assert!(!s.exists("in.report.csv") && !s.exists("in.report.csv.journal"));
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: a directory (or FIFO) given as `--report` was answered
/// "already exists: pass --resume or --overwrite", and both failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_path_that_is_not_a_file_says_to_give_a_file() {
    let s = Scenario::new("rg-report-dir").file("in.txt", "alice\n");
    std::fs::create_dir(s.path("adir")).unwrap();
    let out = s.run(&["in.txt", "--yes", "--report", "adir"]).await;
    out.assert_code(2);
    let err = &out.stderr;
    assert!(
        err.contains("not a regular file") && !err.contains("--overwrite"),
        "{err}"
    );
}

/// Regression: the permission probe's AdminGetUser made its made-up user
/// real in the simulator, and a later `--from-pool` reset it.
#[tokio::test(flavor = "multi_thread")]
async fn the_permission_probe_leaves_no_user_in_a_listing() {
    let s = Scenario::new("rg-probe-listed")
        .sim(|c| c.users = vec![seed("alice")])
        .file("in.txt", "alice\n");
    s.run(&["in.txt", "--dry-run"]).await.assert_code(0);
    let out = s.run(&["--from-pool", "--yes", "--report", "r.csv"]).await;
    out.assert_code(0);
    let users: Vec<String> = out
        .rows()
        .into_iter()
        .map(|r| r["username"].clone())
        .collect();
    assert_eq!(users, ["alice"]);
}

/// Regression: `--region ''` was taken, and the run then said it could not
/// reach Cognito.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_region_is_a_usage_error() {
    let s = Scenario::new("rg-region").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--region", ""])
        .await
        .assert_code(2)
        .assert_says("--region");
}

/// Regression: an unclosed quote mid-CSV, closed by a later row's quote,
/// made the rows between vanish and exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_quote_closed_rows_later_loses_no_row() {
    let s = Scenario::new("rg-late-quote").file(
        "in.csv",
        "username,name\nu1,\"Smith, John\nu2,Doe\nu3,\"Roe, Jane\"\nu4,Poe\n",
    );
    let out = s.run(&["in.csv", "--yes"]).await;
    out.assert_code(1);
    let rows = out.latest();
    for user in ["u2", "u3", "u4"] {
        assert_eq!(rows[user]["outcome"], "reset", "{user}");
    }
    assert_eq!(s.calls("AdminResetUserPassword"), 3);
}

/// Regression: a resume with a new `--exclude` recorded a user it had
/// already reset as `excluded` ("no call made").
#[tokio::test(flavor = "multi_thread")]
async fn a_user_reset_before_being_excluded_stays_reset() {
    let s = Scenario::new("rg-exclude-after")
        .sim(|c| c.users = vec![failing("broken", "InternalErrorException")])
        .file("in.txt", "alice\nbreakglass\nbroken\n")
        .file("bg.txt", "breakglass\n");
    s.run(&[
        "in.txt",
        "--yes",
        "--max-attempts",
        "1",
        "--summary",
        "s.json",
    ])
    .await
    .assert_code(1);
    let resume = [
        "in.txt",
        "--yes",
        "--resume",
        "--exclude",
        "bg.txt",
        "--max-attempts",
        "1",
        "--summary",
        "s.json",
    ];
    let out = s.run(&resume).await;
    out.assert_code(1);
    assert_eq!(out.latest()["breakglass"]["outcome"], "skipped");
    let summary = out.summary();
    assert_eq!(summary["whole_report"]["outcomes"]["reset"], 2, "{summary}");
}

/// Regression: the whole report of a resume left out every earlier row its
/// source did not list again (a filtered listing no longer shows users
/// already reset).
#[tokio::test(flavor = "multi_thread")]
async fn the_whole_report_counts_rows_this_run_did_not_list_again() {
    let s = Scenario::new("rg-whole").sim(|c| c.generate = 5);
    let args = [
        "--from-pool",
        "--filter",
        "cognito:user_status = \"CONFIRMED\"",
        "--yes",
        "--report",
        "r.csv",
        "--summary",
        "s.json",
    ];
    s.run(&args).await.assert_code(0);
    let out = s.run(&[&args[..], &["--resume"]].concat()).await;
    out.assert_code(0);
    let summary = out.summary();
    assert_eq!(summary["whole_report"]["outcomes"]["reset"], 5, "{summary}");
}

/// Regression: `--check-all`, the answer to a deleted journal, failed
/// because the journal it was to replace did not exist.
#[tokio::test(flavor = "multi_thread")]
async fn check_all_resumes_a_report_whose_journal_was_deleted() {
    let s = Scenario::new("rg-check-all")
        .sim(|c| {
            c.users = vec![SeedUser {
                fail_times: Some(1),
                ..failing("broken", "InternalErrorException")
            }];
        })
        .file("in.txt", "alice\nbroken\n");
    s.run(&["in.txt", "--yes", "--max-attempts", "1"])
        .await
        .assert_code(1);
    std::fs::remove_file(s.path("in.report.csv.journal")).unwrap();
    s.run(&["in.txt", "--yes", "--resume", "--check-all"])
        .await
        .assert_code(0);
    assert_eq!(s.resets("broken"), 1);
    assert!(
        s.read("in.report.csv.journal")
            .contains("cognito_reset_journal")
    );
}

/// Regression: a run whose flags were refused, or that was killed before
/// its plan, replaced an earlier run's summary (with "could not start", or
/// with "running … --resume continues it" though nothing had started).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_never_got_going_never_replaces_an_earlier_summary() {
    let earlier = "{\"tool\": \"cognito-reset\", \"exit_code\": 0}";
    let s = Scenario::new("rg-never-going")
        .sim(|c| c.latency = Duration::from_millis(500))
        .file("in.txt", "alice\n")
        .file("s.json", earlier);
    let out = s
        .run(&["in.txt", "--yes", "--rate", "0", "--summary", "s.json"])
        .await;
    out.assert_code(2).assert_says("left as it was");
    assert_eq!(s.read("s.json"), earlier);
    let mut child = s.spawn(&["in.txt", "--yes", "--summary", "s.json"]).await;
    s.wait_for_call("DescribeUserPool").await;
    child.kill().await;
    assert_eq!(s.read("s.json"), earlier);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_resume_aborted_by_max_failure_rate_on_rows_that_had_failed_before() {
    // 250 users that do not exist, then 250 that do: 50 % fail for good.
    let input: String = (1..=250)
        .map(|i| format!("missing-{i}\n"))
        .chain(usernames(250).map(|u| u + "\n"))
        .collect();
    let s = Scenario::new("refail").file("in.txt", &input);
    let args = ["in.txt", "--yes", "--rate", "2000"];
    let first = s
        .run(&[&args[..], &["--max-failure-rate", "100"]].concat())
        .await;
    first.assert_code(1);
    // The resume retries the 250 failed rows first; they fail as before and
    // must not count as this run going wrong.
    let again = s.run(&[&args[..], &["--resume"]].concat()).await;
    again.assert_code(1);
    assert!(
        !again.stderr.contains("--max-failure-rate"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_refused_second_run_replaced_the_summary_of_the_run_that_made_the_report() {
    let s = Scenario::new("sumkeep").file("in.txt", &users(3));
    let args = ["in.txt", "--yes", "--summary", "s.json"];
    s.run(&args).await.assert_code(0);
    let before = s.read("s.json");
    // The report exists: the second run cannot start, and must leave the
    // first run's audit record as it was.
    s.run(&args)
        .await
        .assert_code(2)
        .assert_says("left as it was");
    assert_eq!(s.read("s.json"), before);
    // Nor may a run on another report replace it: it refuses, naming it.
    s.run(&[&args[..], &["--report", "other.csv"]].concat())
        .await
        .assert_code(2)
        .assert_says("in.report.csv");
    assert_eq!(s.read("s.json"), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_overwrite_after_a_kill_sent_the_journaled_resets_again() {
    let s = Scenario::new("owpending").file("in.txt", &users(3));
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    // As a kill -9 leaves it: a reset journaled, its outcome never recorded.
    let journal = s.read("in.report.csv.journal");
    s.write(
        "in.report.csv.journal",
        &(journal + &intent_line("user0004")),
    );
    let sent = s.calls("AdminResetUserPassword");
    s.run(&["in.txt", "--yes", "--overwrite"])
        .await
        .assert_code(2)
        .assert_says("--resume checks them first");
    assert_eq!(s.calls("AdminResetUserPassword"), sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_damaged_outcome_word_was_ignored_and_the_user_reset_again() {
    let s = Scenario::new("damaged").file("in.txt", &users(3));
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    let report = s.read("in.report.csv");
    s.write("in.report.csv", &report.replacen(",reset,", ",rXset,", 1));
    let sent = s.calls("AdminResetUserPassword");
    s.run(&["in.txt", "--yes", "--resume"])
        .await
        .assert_code(2)
        .assert_says("edited or damaged");
    assert_eq!(s.calls("AdminResetUserPassword"), sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_an_empty_exclude_list_protected_nobody_without_a_word() {
    let s = Scenario::new("exempty")
        .file("in.txt", &users(3))
        .file("keep.txt", "");
    s.run(&["in.txt", "--yes", "--exclude", "keep.txt"])
        .await
        .assert_code(2)
        .assert_says("lists no user");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_sigterm_was_ignored_while_opening_an_exclude_fifo_no_one_writes_to() {
    let s = Scenario::new("exfifo")
        .without_pool()
        .file("in.txt", &users(3));
    let fifo = std::ffi::CString::new(s.path("keep.fifo").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let child = s
        .spawn(&["in.txt", "--yes", "--exclude", "keep.fifo"])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.signal(libc::SIGTERM);
    let out = child
        .finish_within(Duration::from_secs(5))
        .await
        .expect("one SIGTERM ends the run");
    out.assert_code(143);
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_directory_as_input_made_a_report_and_exit_1() {
    let s = Scenario::new("dirinput");
    std::fs::create_dir(s.path("adir")).unwrap();
    s.run(&["adir", "--yes", "--format", "lines"])
        .await
        .assert_code(2)
        .assert_says("is a directory");
    assert!(!s.exists("adir.report.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_summary_refused_for_naming_the_report_was_written_there() {
    let s = Scenario::new("sumreport").file("in.txt", &users(2));
    let args = ["in.txt", "--yes", "--report", "x.csv", "--summary", "x.csv"];
    s.run(&args).await.assert_code(2);
    assert!(!s.exists("x.csv"), "nothing left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_exclude_dev_stdin_with_the_input_on_stdin_excluded_every_row() {
    let s = Scenario::new("exstdin")
        .without_pool()
        .file("in.txt", &users(2));
    let input = std::fs::File::open(s.path("in.txt")).unwrap();
    let mut child = s
        .command(&["-", "--yes", "--format", "lines", "--exclude", "/dev/stdin"])
        .await
        .stdin(std::process::Stdio::from(input))
        .spawn()
        .unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}
