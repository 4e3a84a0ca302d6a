//! The record never lies: the report's hash chain, `verify`, and what the
//! report and the summary say after operator moves (exclusions added on a
//! resume, a list that grows, refused runs, a full disk).

mod common;

use std::process::Output;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;

/// A finished real run of `users` with a summary; returns the report text.
async fn finished_run(
    w: &Workdir,
    sim: &cognito_reset::simulator::Simulator,
    users: &str,
) -> String {
    w.write("in.txt", users);
    let out = run(&w.dir, sim, &["in.txt", "--yes", "--summary", "s.json"]).await;
    let finished = matches!(out.status.code(), Some(0 | 1));
    assert!(finished, "{}", stderr(&out));
    w.read("in.report.csv")
}

/// `cognito-reset verify` on a file of the workdir.
async fn verify(w: &Workdir, args: &[&str]) -> Output {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    tokio::process::Command::new(BIN)
        .current_dir(&w.dir)
        .args(&all)
        .output()
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The report's lines, the header first.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn joined(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_an_untouched_report_and_says_what_it_holds() {
    let w = Workdir::new("verify-ok");
    let sim = simulator(|_| {}).await;
    finished_run(&w, &sim, "alice\nbob\nmissing-carol\n").await;
    let out = verify(&w, &["in.report.csv", "--summary", "s.json"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("records: 3"), "{text}");
    assert!(text.contains("outcomes: failed 1 · reset 2"), "{text}");
    assert!(text.contains("runs: 1"), "{text}");
    assert!(text.contains("first record completed"), "{text}");
    assert!(text.contains("verified: nothing was changed"), "{text}");
}

/// Each edit an auditor must be able to tell from the original, and the
/// line verify names for it.
#[tokio::test(flavor = "multi_thread")]
async fn verify_fails_naming_the_line_on_every_kind_of_edit() {
    let w = Workdir::new("verify-edits");
    let sim = simulator(|_| {}).await;
    let original = lines(&finished_run(&w, &sim, "alice\nbob\ncarol\ndan\n").await);
    let changed = {
        let mut l = original.clone();
        l[2] = l[2].replacen(",reset,", ",failed,", 1);
        l
    };
    let deleted = [&original[..2], &original[3..]].concat();
    let inserted = [&original[..3], &original[2..]].concat();
    let reordered = {
        let mut l = original.clone();
        l.swap(2, 3);
        l
    };
    let cases: [(&str, Vec<String>, &str); 4] = [
        ("a changed outcome", changed, "line 3 "),
        ("a deleted row", deleted, "line 3 "),
        ("an inserted row", inserted, "line 4 "),
        ("reordered rows", reordered, "line 3 "),
    ];
    for (what, lines, named) in cases {
        w.write("in.report.csv", &joined(&lines));
        let out = verify(&w, &["in.report.csv"]).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        assert!(
            text.contains("NOT VERIFIED") && text.contains(named),
            "{what}: {text}"
        );
    }
    // Cut after a whole line: only the journal's checkpoint and the
    // summary can tell.
    w.write("in.report.csv", &joined(&original[..3]));
    let out = verify(&w, &["in.report.csv", "--summary", "s.json"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("removed from its end"), "{text}");
    // Cut in the middle of a line.
    let whole = joined(&original);
    w.write("in.report.csv", &whole[..whole.len() - 10]);
    let out = verify(&w, &["in.report.csv"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("cut off"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_fails_on_a_report_whose_summary_head_differs() {
    let w = Workdir::new("verify-summary");
    let sim = simulator(|_| {}).await;
    finished_run(&w, &sim, "alice\nbob\n").await;
    let summary = w.read("s.json");
    let value: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let head = value["report_chain"]["head"].as_str().unwrap().to_owned();
    let other = if head.starts_with('0') { "1" } else { "0" };
    w.write(
        "s.json",
        &summary.replace(&head, &format!("{other}{}", &head[1..])),
    );
    let out = verify(&w, &["in.report.csv", "--summary", "s.json"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("record 2 does not have the hash"), "{text}");
}

/// Regression: a row's outcome changed to another valid word was trusted by
/// `--resume`; a user recorded `failed` instead of `reset` was reset again.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_report_is_refused_by_resume_and_nobody_is_reset_twice() {
    let w = Workdir::new("resume-edited");
    let sim = simulator(|_| {}).await;
    let original = lines(&finished_run(&w, &sim, "alice\nbob\n").await);
    let mut edited = original.clone();
    edited[1] = edited[1].replacen(",reset,", ",failed,", 1);
    w.write("in.report.csv", &joined(&edited));
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    // A deleted row, likewise.
    w.write(
        "in.report.csv",
        &joined(&[&original[..1], &original[2..]].concat()),
    );
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(resets(&sim, "alice"), 1);
    assert_eq!(resets(&sim, "bob"), 1);
}

/// A report with only its header and a journal holding intents for
/// `uncertain`, as a run killed right after sending their resets leaves them.
fn killed_run(w: &Workdir, input: &str, uncertain: &[&str], sign_out: bool) {
    w.write("in.txt", input);
    w.write("in.report.csv", &report_header(sign_out));
    let mut journal = journal_header(input);
    if sign_out {
        journal = journal.replace("\"sign_out\":false", "\"sign_out\":true");
    }
    for user in uncertain {
        journal.push_str(&intent_line(user));
    }
    w.write("in.report.csv.journal", &journal);
}

/// Regression: after `kill -9`, a resume with `--exclude` recorded the
/// break-glass account `excluded … no call made` and exited 0, although the
/// first run had already reset it; its journal intent was dropped unchecked.
#[tokio::test(flavor = "multi_thread")]
async fn an_exclusion_added_on_resume_does_not_rewrite_a_reset_the_journal_holds() {
    let w = Workdir::new("exclude-journaled");
    let sim = simulator(|c| {
        // The killed run's reset reached her.
        let mut glass = seed("breakglass");
        glass.status = Some("RESET_REQUIRED".into());
        c.users = vec![glass];
    })
    .await;
    killed_run(&w, "breakglass\nbob\n", &["breakglass"], false);
    w.write("ex.txt", "breakglass\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--exclude", "ex.txt"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = &latest(&w, "in.report.csv")["breakglass"];
    assert_eq!(row["outcome"], "reset", "{row:?}");
    assert!(row["error_message"].contains("--exclude"), "{row:?}");
    let glass = sim.state().user(DEFAULT_POOL, "breakglass").unwrap();
    assert_eq!(
        (glass.reset_calls, glass.get_calls),
        (0, 1),
        "checked, not called"
    );
    assert!(
        intents(&w, "in.report.csv.journal").is_empty(),
        "the intent is settled"
    );
}

/// Regression: with `--global-sign-out`, users reset by a killed run and
/// excluded on the resume were recorded `excluded`, exit 0, though they had
/// been reset and never signed out.
#[tokio::test(flavor = "multi_thread")]
async fn an_excluded_user_reset_by_a_killed_run_still_owes_its_sign_out_and_the_exit_says_so() {
    let w = Workdir::new("exclude-owed");
    let sim = simulator(|c| {
        let mut glass = seed("breakglass");
        glass.status = Some("RESET_REQUIRED".into());
        c.users = vec![glass];
    })
    .await;
    killed_run(&w, "breakglass\n", &["breakglass"], true);
    w.write("ex.txt", "breakglass\n");
    let args = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--exclude",
        "ex.txt",
    ];
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("to resume:"), "{}", stderr(&out));
    let row = &latest(&w, "in.report.csv")["breakglass"];
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("reset", "false"),
        "{row:?}"
    );
    assert_eq!(sign_outs(&sim, "breakglass"), 0, "excluded: no new call");
    // Without the exclusion, a resume signs the user out, never resets again.
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--global-sign-out"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sign_outs(&sim, "breakglass"), 1);
    assert_eq!(
        sim.state()
            .user(DEFAULT_POOL, "breakglass")
            .unwrap()
            .reset_calls,
        0
    );
}

/// Regression: a user left `reset, signed_out=false` and then excluded on
/// resume lost its owed sign-out, and its reset disappeared from the whole
/// report's counts.
#[tokio::test(flavor = "multi_thread")]
async fn an_owed_sign_out_excluded_on_resume_stays_owed_and_counted() {
    let w = Workdir::new("exclude-owed-signout");
    let sim = simulator(|c| {
        let mut u = seed("alice");
        u.fail = Some("InternalErrorException".into());
        u.fail_operation = Some("AdminUserGlobalSignOut".into());
        c.users = vec![u];
    })
    .await;
    w.write("in.txt", "alice\nbob\n");
    let first = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
    ];
    let out = run(&w.dir, &sim, &first).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    w.write("ex.txt", "alice\n");
    let args = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--exclude",
        "ex.txt",
        "--summary",
        "s.json",
    ];
    let out = run(&w.dir, &sim, &args).await;
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let row = &latest(&w, "in.report.csv")["alice"];
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("reset", "false")
    );
    let summary: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    let whole = &summary["whole_report"];
    assert_eq!(whole["outcomes"]["reset"], 2, "{whole}");
    assert_eq!(whole["sign_outs_excluded"], 1, "{whole}");
    assert_eq!(whole["resumable"], 1, "{whole}");
    assert_eq!(sign_outs(&sim, "alice"), 0, "excluded: no new call");
    assert_eq!(resets(&sim, "alice"), 1);
}

/// Regression: a resume from standard input with other rows exited 0 while
/// the whole report still held users cancelled by the first run, and
/// printed no resume hint.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_that_leaves_earlier_rows_cancelled_does_not_exit_0() {
    let w = Workdir::new("stdin-leftover");
    let denied = simulator(|c| {
        c.deny.insert("AdminResetUserPassword".into());
    })
    .await;
    let first = ["-", "--yes", "--report", "r.csv"];
    let out = piped(&w, &denied, &first, "username\nalice\nbob\ncarol\n").await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let sim = simulator(|_| {}).await;
    let again = ["-", "--yes", "--report", "r.csv", "--resume"];
    let out = piped(&w, &sim, &again, "username\ndan\n").await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("to resume:"), "{}", stderr(&out));
}

/// Runs the binary with `input` on its standard input.
async fn piped(
    w: &Workdir,
    sim: &cognito_reset::simulator::Simulator,
    args: &[&str],
    input: &str,
) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut all = vec!["--user-pool-id", DEFAULT_POOL];
    all.extend_from_slice(args);
    let mut child = command(&w.dir, sim, &all)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

/// Regression: `--summary` naming the default report path was refused
/// (exit 2) but the refusal summary was written there, so every later run
/// refused to start ("not a cognito-reset report").
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_refused_for_naming_the_report_leaves_no_file_where_the_report_goes() {
    let w = Workdir::new("summary-at-report");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--summary", "in.report.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        !w.path("in.report.csv").exists(),
        "nothing where the report goes"
    );
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Regression: with the disk full before the run, the summary could not be
/// written, yet every user was reset and the exit code was 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_that_cannot_be_written_before_the_run_stops_it_before_any_reset() {
    let w = Workdir::new("summary-full-before");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\nbob\n");
    let mut cmd = command(
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
    );
    // Files may not grow past 1 KiB: the report and the journal fit, the
    // summary does not, as on a nearly full disk.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let small = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &small);
            Ok(())
        });
    }
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("s.json"), "{}", stderr(&out));
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0, "nothing was sent");
    assert!(!w.path("in.report.csv").exists());
}

/// Regression: when the summary's directory was removed during the run, the
/// run exited 0 with no message and no audit record.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_lost_during_the_run_is_said_and_the_exit_is_not_0() {
    let w = Workdir::new("summary-dir-gone");
    let sim = simulator(|c| c.latency = std::time::Duration::from_millis(20)).await;
    w.write("in.txt", &users(60));
    std::fs::create_dir(w.path("audit")).unwrap();
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "100",
        "--summary",
        "audit/s.json",
    ];
    let child = command(&w.dir, &sim, &args).spawn().unwrap();
    wait_for_rows(&w, "in.report.csv", 5).await;
    std::fs::remove_dir_all(w.path("audit")).unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("audit/s.json"), "{}", stderr(&out));
}

/// Regression: a second run of the same report, refused because the first
/// holds it, wrote "could not start" over the first run's live summary.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_second_run_leaves_the_live_runs_summary_alone() {
    let w = Workdir::new("summary-two-runs");
    let sim = simulator(|c| c.latency = std::time::Duration::from_millis(20)).await;
    w.write("in.txt", &users(80));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "40",
        "--summary",
        "s.json",
    ];
    let mut first = command(&w.dir, &sim, &args).spawn().unwrap();
    wait_for_rows(&w, "in.report.csv", 3).await;
    let live: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    for again in [&args[..], &[&args[..], &["--resume"]].concat()] {
        let out = command(&w.dir, &sim, again).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let now: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
        assert_eq!(now["run_id"], live["run_id"], "{now}");
    }
    first.kill().await.unwrap();
    let now: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(now["run_id"], live["run_id"], "{now}");
}
