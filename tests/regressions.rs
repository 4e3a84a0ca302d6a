//! Regression tests for what hostile reviews of the binary found: each is
//! named after the failure it guards against.

mod common;

use std::time::Duration;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;

/// Regression: with DescribeUserPool denied the pool's case rule is unknown;
/// exclusions were compared case-sensitively, so `KEEP` and `Keep` were reset
/// although `keep` was excluded.
#[tokio::test(flavor = "multi_thread")]
async fn exclusions_hold_whatever_the_case_when_the_pools_case_rule_is_unknown() {
    let w = Workdir::new("rg-exclude-case");
    let sim = simulator(|c| {
        c.deny.insert("DescribeUserPool".into());
    })
    .await;
    w.write("in.csv", "username\nKEEP\nKeep\nother\n");
    w.write("breakglass.txt", "keep\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.csv", "--yes", "--exclude", "breakglass.txt"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 1, "only `other`");
    let rows = w.report("in.report.csv");
    assert_eq!(
        rows.iter().filter(|r| r["outcome"] == "excluded").count(),
        2
    );
}

/// Regression: a resume without `--exclude` reset the rows the first run had
/// recorded `excluded`.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_keeps_excluded_what_the_first_run_excluded() {
    let w = Workdir::new("rg-resume-exclude");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        c.users = vec![broken];
    })
    .await;
    w.write("in.txt", "breakglass\nbroken\nalice\n");
    w.write("ex.txt", "breakglass\n");
    let first = [
        "in.txt",
        "--yes",
        "--exclude",
        "ex.txt",
        "--max-attempts",
        "2",
    ];
    let out = run(&w.dir, &sim, &first).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(resets(&sim, "breakglass"), 0);
    let last = latest(&w, "in.report.csv");
    assert_eq!(last["breakglass"]["outcome"], "excluded");
}

/// Regression: `--summary` naming the input (or the exclusion list)
/// overwrote it with the summary.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_may_not_be_the_input_or_the_exclusion_list() {
    let w = Workdir::new("rg-summary-input");
    let sim = simulator(|_| {}).await;
    w.write("users.csv", "username\nalice\n");
    w.write("ex.txt", "bob\n");
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
        let out = run(&w.dir, &sim, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(w.read("users.csv"), "username\nalice\n");
    assert_eq!(w.read("ex.txt"), "bob\n");
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

/// Regression: a dry run on an `admin_only` pool predicted `would_reset` for
/// every row; the real run refuses the pool.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_on_an_admin_only_pool_predicts_every_reset_refused() {
    let w = Workdir::new("rg-dry-admin");
    let sim = simulator(|c| c.pool_defaults.recovery = vec!["admin_only".into()]).await;
    w.write("in.txt", "alice\nbob\n");
    let out = run(&w.dir, &sim, &["in.txt", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = w.report("in.dry-run.report.csv");
    assert!(
        rows.iter().all(|r| r["outcome"] == "would_fail"),
        "{rows:?}"
    );
    assert!(rows[0]["error_message"].contains("admin_only"), "{rows:?}");
}

/// Regression: a run that could not start left an earlier run's summary in
/// place, so a nightly job read yesterday's success.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_could_not_start_writes_its_failure_to_the_summary() {
    let w = Workdir::new("rg-summary-fail");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = command(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--overwrite",
            "--summary",
            "s.json",
            "--user-pool-id",
            "us-east-1_Gone",
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(s["exit_code"], 2);
    assert!(
        s["stopped"].as_str().unwrap().contains("could not start"),
        "{s}"
    );
}

/// Regression: with `AdminDisableUser` denied the run went on calling it for
/// every unreachable user; a permission refused mid-run stops the run.
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_disable_stops_the_run() {
    let w = Workdir::new("rg-disable-denied");
    let sim = simulator(|c| {
        c.deny.insert("AdminDisableUser".into());
    })
    .await;
    let input: String = (1..=50).map(|i| format!("unverified-{i:03}\n")).collect();
    w.write("in.txt", &input);
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--unresettable",
            "disable",
            "--concurrency",
            "1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AdminDisableUser"),
        "{}",
        stderr(&out)
    );
    assert!(calls(&sim, "AdminDisableUser") <= 2);
}

/// Regression: the simulator dropped a request whose client went away before
/// the answer (a killed run), so "applied but the answer lost" never
/// happened in crash tests; Cognito carries such a request out.
#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_carries_out_a_request_whose_client_went_away() {
    let sim = simulator(|c| c.latency = Duration::from_millis(300)).await;
    let w = Workdir::new("rg-sim-inflight");
    w.write("in.txt", "alice\n");
    let mut child = command(
        &w.dir,
        &sim,
        &["--user-pool-id", DEFAULT_POOL, "in.txt", "--yes"],
    )
    .spawn()
    .unwrap();
    for _ in 0..300 {
        if calls(&sim, "AdminResetUserPassword") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(resets(&sim, "alice"), 1, "the reset reached Cognito");
}

/// Regression: the tool folded case character by character (`ΣΑΣ` became
/// `σασ`) while Cognito folds whole words (`σας`): one user, two resets.
#[tokio::test(flavor = "multi_thread")]
async fn case_folding_matches_cognitos_for_final_sigma() {
    let w = Workdir::new("rg-sigma");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "ΣΑΣ\nσας\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sim.state().totals().users_reset_twice, 0);
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 1);
}

/// Regression: a right-to-left override in a username reached the terminal
/// raw with `-v`, able to disguise what is printed.
#[tokio::test(flavor = "multi_thread")]
async fn bidirectional_controls_are_escaped_on_the_terminal() {
    let w = Workdir::new("rg-bidi");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "evil\u{202e}txt.exe\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "-v"]).await;
    assert!(!stderr(&out).contains('\u{202e}'), "{}", stderr(&out));
}

/// Regression: simulator knobs given without `--simulate` were silently
/// ignored (a `--sim-deny` test against a real endpoint tested nothing).
#[tokio::test(flavor = "multi_thread")]
async fn simulator_knobs_without_simulate_are_refused() {
    let w = Workdir::new("rg-knobs");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--sim-deny", "AdminGetUser"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--simulate"), "{}", stderr(&out));
}

/// Regression: an input file of zero bytes exited 0 as if every user had
/// been reset (a failed export looked like success).
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_csv_input_could_not_start() {
    let w = Workdir::new("rg-empty");
    let sim = simulator(|_| {}).await;
    w.write("in.csv", "");
    let out = run(&w.dir, &sim, &["in.csv", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("header"), "{}", stderr(&out));
}

/// Regression: the resume hint escaped a control character in `--reason`,
/// so pasting it changed the reason; it must paste back to the same bytes.
#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_pastes_back_to_the_same_arguments() {
    let w = Workdir::new("rg-hint-quote");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        c.users = vec![broken];
    })
    .await;
    w.write("in.txt", "broken\n");
    let reason = "INC-1 it's \u{1b}[31mred";
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--max-attempts", "1", "--reason", reason],
    )
    .await;
    let err = stderr(&out);
    let hint = err
        .lines()
        .find(|l| l.starts_with("to resume: "))
        .expect("a hint");
    assert!(!hint.contains('\u{1b}'), "{hint}");
    let script = format!(
        "for a in {}; do printf '%s\\0' \"$a\"; done",
        &hint["to resume: ".len()..]
    );
    let echoed = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
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
    let w = Workdir::new("rg-overwrite-journal");
    let sim = simulator(|c| c.latency = Duration::from_millis(20)).await;
    w.write("in.txt", &users(200));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "50",
        "--quiet",
    ];
    let first = command(&w.dir, &sim, &args).spawn().unwrap();
    let pid = first.id().unwrap();
    wait_for_rows(&w, "in.report.csv", 5).await;
    let journal = w.read("in.report.csv.journal");
    let mut overwrite = args.to_vec();
    overwrite.push("--overwrite");
    let out = command(&w.dir, &sim, &overwrite).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("process {pid}")),
        "{}",
        stderr(&out)
    );
    let now = w.read("in.report.csv.journal");
    assert!(
        now.starts_with(&journal[..journal.len().min(200)]),
        "the journal was replaced"
    );
    let mut first = first;
    first.kill().await.unwrap();
    let resume = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--quiet",
        "--resume",
    ];
    let out = command(&w.dir, &sim, &resume).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sim.state().totals().users_reset_twice, 0);
}

/// Regression: `--summary` emptied whatever file it named, another run's
/// report included.
#[tokio::test(flavor = "multi_thread")]
async fn the_summary_never_replaces_a_file_that_is_not_a_summary() {
    let w = Workdir::new("rg-summary-clobber");
    let sim = simulator(|_| {}).await;
    w.write("a.txt", "alice\n");
    w.write("b.txt", "bob\n");
    let out = run(&w.dir, &sim, &["a.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = w.read("a.report.csv");
    let out = run(
        &w.dir,
        &sim,
        &["b.txt", "--yes", "--summary", "a.report.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.read("a.report.csv"), report);
    assert_eq!(resets(&sim, "bob"), 0);
    // An earlier summary is this tool's own: replaced.
    let out = run(&w.dir, &sim, &["b.txt", "--yes", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &w.dir,
        &sim,
        &["b.txt", "--yes", "--overwrite", "--summary", "s.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Regression: resuming a `--from-pool` run whose filter no longer lists the
/// users already reset dropped their owed sign-outs (and any reset in flight)
/// and exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_finishes_owed_sign_outs_the_source_no_longer_lists() {
    let w = Workdir::new("rg-owed-listing");
    let sim = simulator(|c| {
        c.generate = 40;
        let mut stuck = seed("user000001");
        stuck.fail = Some("InternalErrorException".into());
        stuck.fail_operation = Some("AdminUserGlobalSignOut".into());
        stuck.fail_times = Some(3);
        c.users = vec![stuck];
    })
    .await;
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
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(sign_outs(&sim, "user000001"), 0);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = run(&w.dir, &sim, &resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        sign_outs(&sim, "user000001"),
        1,
        "the owed sign-out was done"
    );
    assert_eq!(resets(&sim, "user000001"), 1);
}

/// Regression: a run killed right after disabling an unreachable user left
/// no record; the resume found the user disabled, took it for "already
/// locked out" and never signed it out.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_disabled_before_a_crash_is_signed_out_on_resume() {
    let w = Workdir::new("rg-disable-crash");
    let sim = simulator(|c| {
        let mut u = seed("unverified-u");
        u.enabled = Some(false); // what the killed run's AdminDisableUser did
        c.users = vec![u];
    })
    .await;
    let input = "unverified-u\n";
    w.write("in.txt", input);
    w.write("in.report.csv", &report_header(true));
    let header = journal_header(input).replace("\"sign_out\":false", "\"sign_out\":true");
    let disable =
        format!("{{\"pool\":\"{DEFAULT_POOL}\",\"user\":\"unverified-u\",\"op\":\"disable\"}}\n");
    w.write(
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
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = &latest(&w, "in.report.csv")["unverified-u"];
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("disabled", "true")
    );
    assert_eq!(sign_outs(&sim, "unverified-u"), 1);
}

/// Regression: the resume hint put `--report … --resume` after a `--`, where
/// they are read as input file names.
#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_works_after_a_double_dash() {
    let w = Workdir::new("rg-hint-dashdash");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        broken.fail_times = Some(1);
        c.users = vec![broken];
    })
    .await;
    w.write("-list.txt", "broken\n");
    let url = sim.url();
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "--endpoint-url",
        &url,
        "--yes",
        "--max-attempts",
        "1",
        "--",
        "-list.txt",
    ];
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.current_dir(&w.dir)
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let hint = err
        .lines()
        .find(|l| l.starts_with("to resume: "))
        .expect("a hint");
    let script = format!("exec {}", &hint["to resume: ".len()..]);
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&w.dir)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{script}: {}", stderr(&out));
    assert_eq!(resets(&sim, "broken"), 1);
}

/// Regression: a closed standard input (`<&-`) read as an empty list and
/// exited 0, as if every user had been reset.
#[tokio::test(flavor = "multi_thread")]
async fn an_input_with_no_rows_could_not_start() {
    let w = Workdir::new("rg-no-rows");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "\n\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no rows"), "{}", stderr(&out));
    let out = run(
        &w.dir,
        &sim,
        &["-", "--yes", "--format", "lines", "--report", "r.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!w.path("r.csv").exists());
}

/// Regression: a symbolic link at `<report>.journal` was silently replaced.
#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_at_the_journal_path_is_refused() {
    let w = Workdir::new("rg-journal-link");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    w.write("victim", "keep\n");
    std::os::unix::fs::symlink(w.path("victim"), w.path("in.report.csv.journal")).unwrap();
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(w.path("in.report.csv.journal"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(w.read("victim"), "keep\n");
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

/// Regression: after a crash the operator deleted the report and started
/// afresh; the journal's pending intents were dropped without a word and the
/// users in flight got a second reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_with_pending_resets_but_no_report_is_not_dropped_silently() {
    let w = Workdir::new("rg-deleted-report");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    w.write(
        "in.report.csv.journal",
        &(journal_header("alice\n") + &intent_line("alice")),
    );
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("journal"), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

/// Regression: a signal during the preflight, with `--yes`, left a report of
/// `cancelled` rows (and a journal) that then blocked a plain re-run.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_during_the_preflight_leaves_no_report() {
    let w = Workdir::new("rg-preflight-signal");
    let sim = simulator(|c| c.latency = Duration::from_millis(700)).await;
    w.write("in.txt", "alice\n");
    let child = command(
        &w.dir,
        &sim,
        &["--user-pool-id", DEFAULT_POOL, "in.txt", "--yes"],
    )
    .spawn()
    .unwrap();
    for _ in 0..300 {
        if calls(&sim, "DescribeUserPool") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!w.path("in.report.csv").exists() && !w.path("in.report.csv.journal").exists());
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

/// Regression: a directory (or FIFO) given as `--report` was answered
/// "already exists: pass --resume or --overwrite", and both failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_path_that_is_not_a_file_says_to_give_a_file() {
    let w = Workdir::new("rg-report-dir");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    std::fs::create_dir(w.path("adir")).unwrap();
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--report", "adir"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not a regular file") && !err.contains("--overwrite"),
        "{err}"
    );
}

/// Regression: the permission probe's AdminGetUser made its made-up user
/// real in the simulator, and a later `--from-pool` reset it.
#[tokio::test(flavor = "multi_thread")]
async fn the_permission_probe_leaves_no_user_in_a_listing() {
    let w = Workdir::new("rg-probe-listed");
    let sim = simulator(|c| c.users = vec![seed("alice")]).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&w.dir, &sim, &["--from-pool", "--yes", "--report", "r.csv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let users: Vec<String> = w
        .report("r.csv")
        .into_iter()
        .map(|r| r["username"].clone())
        .collect();
    assert_eq!(users, ["alice"]);
}

/// Regression: `--region ''` was taken, and the run then said it could not
/// reach Cognito.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_region_is_a_usage_error() {
    let w = Workdir::new("rg-region");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--region", ""]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--region"), "{}", stderr(&out));
}

/// Regression: an unclosed quote mid-CSV, closed by a later row's quote,
/// made the rows between vanish and exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_quote_closed_rows_later_loses_no_row() {
    let w = Workdir::new("rg-late-quote");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.csv",
        "username,name\nu1,\"Smith, John\nu2,Doe\nu3,\"Roe, Jane\"\nu4,Poe\n",
    );
    let out = run(&w.dir, &sim, &["in.csv", "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = latest(&w, "in.report.csv");
    for user in ["u2", "u3", "u4"] {
        assert_eq!(rows[user]["outcome"], "reset", "{user}");
    }
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 3);
}

/// Regression: a resume with a new `--exclude` recorded a user it had
/// already reset as `excluded` ("no call made").
#[tokio::test(flavor = "multi_thread")]
async fn a_user_reset_before_being_excluded_stays_reset() {
    let w = Workdir::new("rg-exclude-after");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        c.users = vec![broken];
    })
    .await;
    w.write("in.txt", "alice\nbreakglass\nbroken\n");
    w.write("bg.txt", "breakglass\n");
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--max-attempts",
            "1",
            "--summary",
            "s.json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
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
    let out = run(&w.dir, &sim, &resume).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        latest(&w, "in.report.csv")["breakglass"]["outcome"],
        "skipped"
    );
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(s["whole_report"]["outcomes"]["reset"], 2, "{s}");
}

/// Regression: the whole report of a resume left out every earlier row its
/// source did not list again (a filtered listing no longer shows users
/// already reset).
#[tokio::test(flavor = "multi_thread")]
async fn the_whole_report_counts_rows_this_run_did_not_list_again() {
    let w = Workdir::new("rg-whole");
    let sim = simulator(|c| c.generate = 5).await;
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
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = run(&w.dir, &sim, &resume).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(s["whole_report"]["outcomes"]["reset"], 5, "{s}");
}

/// Regression: `--check-all`, the answer to a deleted journal, failed
/// because the journal it was to replace did not exist.
#[tokio::test(flavor = "multi_thread")]
async fn check_all_resumes_a_report_whose_journal_was_deleted() {
    let w = Workdir::new("rg-check-all");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        broken.fail_times = Some(1);
        c.users = vec![broken];
    })
    .await;
    w.write("in.txt", "alice\nbroken\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--max-attempts", "1"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::fs::remove_file(w.path("in.report.csv.journal")).unwrap();
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--check-all"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(resets(&sim, "broken"), 1);
    assert!(
        w.read("in.report.csv.journal")
            .contains("cognito_reset_journal")
    );
}

/// Regression: a run whose flags were refused, or that was killed before
/// its plan, left an earlier run's summary in place, looking like its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_never_got_going_never_leaves_an_earlier_summary() {
    let w = Workdir::new("rg-never-going");
    let sim = simulator(|c| c.latency = Duration::from_millis(500)).await;
    w.write("in.txt", "alice\n");
    let earlier = "{\"tool\": \"cognito-reset\", \"exit_code\": 0}";
    w.write("s.json", earlier);
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--rate", "0", "--summary", "s.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(s["exit_code"], 2, "{s}");
    let mut child = command(
        &w.dir,
        &sim,
        &[
            "--user-pool-id",
            DEFAULT_POOL,
            "in.txt",
            "--yes",
            "--summary",
            "s.json",
        ],
    )
    .spawn()
    .unwrap();
    for _ in 0..300 {
        if calls(&sim, "DescribeUserPool") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert!(s["exit_code"].is_null(), "{s}");
    assert!(s["stopped"].as_str().unwrap().starts_with("running"), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_resume_aborted_by_max_failure_rate_on_rows_that_had_failed_before() {
    let w = Workdir::new("refail");
    let sim = simulator(|_| {}).await;
    // 250 users that do not exist, then 250 that do: 50 % fail for good.
    let input: String = (1..=250)
        .map(|i| format!("missing-{i}\n"))
        .chain((1..=250).map(|i| format!("user{i:04}\n")))
        .collect();
    w.write("in.txt", &input);
    let args = ["in.txt", "--yes", "--rate", "2000"];
    let first = run(
        &w.dir,
        &sim,
        &[&args[..], &["--max-failure-rate", "100"]].concat(),
    )
    .await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    // The resume retries the 250 failed rows first; they fail as before and
    // must not count as this run going wrong.
    let again = run(&w.dir, &sim, &[&args[..], &["--resume"]].concat()).await;
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("--max-failure-rate"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_refused_second_run_replaced_the_summary_of_the_run_that_made_the_report() {
    let w = Workdir::new("sumkeep");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(3));
    let args = ["in.txt", "--yes", "--summary", "s.json"];
    let first = run(&w.dir, &sim, &args).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let before = std::fs::read_to_string(w.dir.join("s.json")).unwrap();
    // The report exists: the second run cannot start, and must leave the
    // first run's audit record as it was.
    let second = run(&w.dir, &sim, &args).await;
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("left as it is"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        std::fs::read_to_string(w.dir.join("s.json")).unwrap(),
        before
    );
    // A run on another report may replace it.
    let third = run(
        &w.dir,
        &sim,
        &[&args[..], &["--report", "other.csv"]].concat(),
    )
    .await;
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let after = std::fs::read_to_string(w.dir.join("s.json")).unwrap();
    assert!(after.contains("other.csv"), "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_overwrite_after_a_kill_sent_the_journaled_resets_again() {
    let w = Workdir::new("owpending");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(3));
    let first = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // As a kill -9 leaves it: a reset journaled, its outcome never recorded.
    let journal = w.dir.join("in.report.csv.journal");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(&format!(
        "{{\"pool\":\"{DEFAULT_POOL}\",\"user\":\"user0004\"}}\n"
    ));
    std::fs::write(&journal, text).unwrap();
    let sent = calls(&sim, "AdminResetUserPassword");
    let again = run(&w.dir, &sim, &["in.txt", "--yes", "--overwrite"]).await;
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("--resume checks them first"),
        "{}",
        stderr(&again)
    );
    assert_eq!(calls(&sim, "AdminResetUserPassword"), sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_damaged_outcome_word_was_ignored_and_the_user_reset_again() {
    let w = Workdir::new("damaged");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(3));
    let first = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = w.dir.join("in.report.csv");
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&report, text.replacen(",reset,", ",rXset,", 1)).unwrap();
    let sent = calls(&sim, "AdminResetUserPassword");
    let again = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("edited or damaged"),
        "{}",
        stderr(&again)
    );
    assert_eq!(calls(&sim, "AdminResetUserPassword"), sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_an_empty_exclude_list_protected_nobody_without_a_word() {
    let w = Workdir::new("exempty");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(3));
    w.write("keep.txt", "");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--exclude", "keep.txt"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lists no user"), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_sigterm_was_ignored_while_opening_an_exclude_fifo_no_one_writes_to() {
    let w = Workdir::new("exfifo");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(3));
    let fifo = std::ffi::CString::new(w.dir.join("keep.fifo").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let child = command(&w.dir, &sim, &["in.txt", "--yes", "--exclude", "keep.fifo"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("one SIGTERM ends the run")
        .unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_directory_as_input_made_a_report_and_exit_1() {
    let w = Workdir::new("dirinput");
    let sim = simulator(|_| {}).await;
    std::fs::create_dir(w.dir.join("adir")).unwrap();
    let out = run(&w.dir, &sim, &["adir", "--yes", "--format", "lines"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    assert!(!w.dir.join("adir.report.csv").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_a_summary_refused_for_naming_the_report_was_written_there() {
    let w = Workdir::new("sumreport");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(2));
    let args = ["in.txt", "--yes", "--report", "x.csv", "--summary", "x.csv"];
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!w.dir.join("x.csv").exists(), "nothing left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn regression_exclude_dev_stdin_with_the_input_on_stdin_excluded_every_row() {
    let w = Workdir::new("exstdin");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &users(2));
    let mut child = command(
        &w.dir,
        &sim,
        &["-", "--yes", "--format", "lines", "--exclude", "/dev/stdin"],
    )
    .stdin(std::process::Stdio::from(
        std::fs::File::open(w.dir.join("in.txt")).unwrap(),
    ))
    .spawn()
    .unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}
