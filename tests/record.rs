//! The record never lies: the report's hash chain, `verify`, and what the
//! report and the summary say after operator moves (exclusions added on a
//! resume, a list that grows, refused runs, a full disk).

mod common;

use std::process::Output;
use std::time::Duration;

use cognito_reset::simulator::SeedUser;
use common::*;

/// A finished real run of `users` with a summary; returns the report text.
async fn finished_run(s: &Scenario, users: &str) -> String {
    s.write("in.txt", users);
    let out = s.run(&["in.txt", "--yes", "--summary", "s.json"]).await;
    assert!(matches!(out.code, Some(0 | 1)), "{}", out.stderr);
    s.read("in.report.csv")
}

/// `cognito-reset verify` on a file of the scenario's directory.
async fn verify(s: &Scenario, args: &[&str]) -> Output {
    let mut cmd: tokio::process::Command = child(BIN, &s.dir).into();
    cmd.arg("verify").args(args).output().await.unwrap()
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

fn reset_required(username: &str) -> SeedUser {
    SeedUser {
        status: Some("RESET_REQUIRED".into()),
        ..seed(username)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_an_untouched_report_and_says_what_it_holds() {
    let s = Scenario::new("verify-ok");
    finished_run(&s, "alice\nbob\nmissing-carol\n").await;
    let out = verify(&s, &["in.report.csv", "--summary", "s.json"]).await;
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
    let s = Scenario::new("verify-edits");
    let original = lines(&finished_run(&s, "alice\nbob\ncarol\ndan\n").await);
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
        s.write("in.report.csv", &joined(&lines));
        let out = verify(&s, &["in.report.csv"]).await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        assert!(
            text.contains("NOT VERIFIED") && text.contains(named),
            "{what}: {text}"
        );
    }
    // Cut after a whole line: only the journal's checkpoint and the
    // summary can tell.
    s.write("in.report.csv", &joined(&original[..3]));
    let out = verify(&s, &["in.report.csv", "--summary", "s.json"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("removed from its end"), "{text}");
    // Cut in the middle of a line.
    let whole = joined(&original);
    s.write("in.report.csv", &whole[..whole.len() - 10]);
    let out = verify(&s, &["in.report.csv"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("cut off"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_fails_on_a_report_whose_summary_head_differs() {
    let s = Scenario::new("verify-summary");
    finished_run(&s, "alice\nbob\n").await;
    let summary = s.read("s.json");
    let value: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let head = value["report_chain"]["head"].as_str().unwrap().to_owned();
    let other = if head.starts_with('0') { "1" } else { "0" };
    s.write(
        "s.json",
        &summary.replace(&head, &format!("{other}{}", &head[1..])),
    );
    let out = verify(&s, &["in.report.csv", "--summary", "s.json"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("record 2 does not have the hash"), "{text}");
}

/// Regression: a row's outcome changed to another valid word was trusted by
/// `--resume`; a user recorded `failed` instead of `reset` was reset again.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_report_is_refused_by_resume_and_nobody_is_reset_twice() {
    let s = Scenario::new("resume-edited");
    let original = lines(&finished_run(&s, "alice\nbob\n").await);
    let mut edited = original.clone();
    edited[1] = edited[1].replacen(",reset,", ",failed,", 1);
    s.write("in.report.csv", &joined(&edited));
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(2).assert_says("line 2");
    // A deleted row, likewise.
    s.write(
        "in.report.csv",
        &joined(&[&original[..1], &original[2..]].concat()),
    );
    s.run(&["in.txt", "--yes", "--resume"]).await.assert_code(2);
    assert_eq!((s.resets("alice"), s.resets("bob")), (1, 1));
}

/// `in.txt` holding `input`, a report with only its header and a journal
/// holding intents for `uncertain`, as a run killed right after sending
/// their resets leaves them (with `--global-sign-out` when `sign_out`).
fn killed_run(s: &Scenario, input: &str, uncertain: &[&str], sign_out: bool) {
    s.write("in.txt", input);
    s.write("in.report.csv", report_header(sign_out));
    let mut journal = journal_header(input);
    if sign_out {
        journal = journal.replace("\"sign_out\":false", "\"sign_out\":true");
    }
    for user in uncertain {
        journal.push_str(&intent_line(user));
    }
    s.write("in.report.csv.journal", &journal);
}

/// Regression: a user already RESET_REQUIRED before the run, whose intent
/// the killed run had journaled (intents are journaled before their calls
/// wait their turn), was recorded reset "after an earlier call" that was
/// never made: 137 of 300 such users in one drill got no code from any run.
/// The row says what is known: perhaps never sent, and no code known.
#[tokio::test(flavor = "multi_thread")]
async fn a_check_confirmed_reset_does_not_claim_a_call_that_may_never_have_been_made() {
    let s = Scenario::new("confirmed-wording").sim(|c| c.users = vec![reset_required("alice")]);
    killed_run(&s, "alice\n", &["alice"], false);
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(0);
    let row = out.row("alice");
    let message = &row["error_message"];
    assert!(!message.contains("after an earlier call"), "{row:?}");
    assert!(message.contains("perhaps never sent"), "{row:?}");
    assert_eq!(s.resets("alice"), 0);
}

/// Regression: after `kill -9`, a resume with `--exclude` recorded the
/// break-glass account `excluded … no call made` and exited 0, although the
/// first run had already reset it; its journal intent was dropped unchecked.
#[tokio::test(flavor = "multi_thread")]
async fn an_exclusion_added_on_resume_does_not_rewrite_a_reset_the_journal_holds() {
    // The killed run's reset reached the break-glass account.
    let s = Scenario::new("exclude-journaled")
        .sim(|c| c.users = vec![reset_required("breakglass")])
        .file("ex.txt", "breakglass\n");
    killed_run(&s, "breakglass\nbob\n", &["breakglass"], false);
    let out = s
        .run(&["in.txt", "--yes", "--resume", "--exclude", "ex.txt"])
        .await;
    out.assert_code(0);
    let row = out.row("breakglass");
    assert_eq!(row["outcome"], "reset", "{row:?}");
    assert!(row["error_message"].contains("--exclude"), "{row:?}");
    let glass = s.user("breakglass");
    assert_eq!(
        (glass.reset_calls, glass.get_calls),
        (0, 1),
        "checked, not called"
    );
    assert!(
        s.intents("in.report.csv.journal").is_empty(),
        "the intent is settled"
    );
}

/// Regression: with `--global-sign-out`, users reset by a killed run and
/// excluded on the resume were recorded `excluded`, exit 0, though they had
/// been reset and never signed out.
#[tokio::test(flavor = "multi_thread")]
async fn an_excluded_user_reset_by_a_killed_run_still_owes_its_sign_out_and_the_exit_says_so() {
    let s = Scenario::new("exclude-owed")
        .sim(|c| c.users = vec![reset_required("breakglass")])
        .file("ex.txt", "breakglass\n");
    killed_run(&s, "breakglass\n", &["breakglass"], true);
    let args = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--exclude",
        "ex.txt",
    ];
    let out = s.run(&args).await;
    out.assert_code(1).assert_says("sign them out by hand");
    let row = out.row("breakglass");
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("reset", "false"),
        "{row:?}"
    );
    assert_eq!(s.sign_outs("breakglass"), 0, "excluded: no new call");
    // The exclusion holds on the next resume without --exclude: still no
    // call, the sign-out still owed.
    let again = ["in.txt", "--yes", "--resume", "--global-sign-out"];
    s.run(&again).await.assert_code(1);
    assert_eq!(s.sign_outs("breakglass"), 0);
    assert_eq!(s.user("breakglass").reset_calls, 0);
}

/// A user whose sign-out failed (`reset, signed_out=false`, the first run
/// exiting 1 with a resume hint), then excluded on the resume: the resume's
/// run, with `--summary s.json`.
async fn owed_sign_out_then_excluded(name: &str) -> (Scenario, Run) {
    let s = Scenario::new(name)
        .sim(|c| {
            c.users = vec![SeedUser {
                fail_operation: Some("AdminUserGlobalSignOut".into()),
                ..failing("alice", "InternalErrorException")
            }];
        })
        .file("in.txt", "alice\nbob\n")
        .file("ex.txt", "alice\n");
    let first = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
    ];
    s.run(&first).await.assert_code(1).assert_says("to resume:");
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
    let out = s.run(&args).await;
    (s, out)
}

/// Regression: a user left `reset, signed_out=false` and then excluded on
/// resume lost its owed sign-out, and its reset disappeared from the whole
/// report's counts.
#[tokio::test(flavor = "multi_thread")]
async fn an_owed_sign_out_excluded_on_resume_stays_owed_and_counted() {
    let (s, out) = owed_sign_out_then_excluded("exclude-owed-signout").await;
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    let row = out.row("alice");
    assert_eq!(
        (row["outcome"].as_str(), row["signed_out"].as_str()),
        ("reset", "false")
    );
    let whole = &out.summary()["whole_report"];
    assert_eq!(whole["outcomes"]["reset"], 2, "{whole}");
    assert_eq!(whole["sign_outs_excluded"], 1, "{whole}");
    assert_eq!(s.sign_outs("alice"), 0, "excluded: no new call");
    assert_eq!(s.resets("alice"), 1);
}

/// Regression: a sign-out owed by a user later excluded counted as
/// resumable, so every run printed "to resume: …", and following it never
/// finished the sign-out (the exclusion sticks): exit 1 and the same hint,
/// forever. The sign-out stays owed (exit 1), but what is said is what can
/// finish it: a sign-out by hand, or a fresh start without the exclusion.
#[tokio::test(flavor = "multi_thread")]
async fn an_owed_sign_out_excluded_gives_no_resume_hint_that_cannot_finish_it() {
    let (_, out) = owed_sign_out_then_excluded("exclude-owed-hint").await;
    out.assert_code(1).assert_says("sign them out by hand");
    assert!(!out.stderr.contains("to resume:"), "{}", out.stderr);
    let whole = &out.summary()["whole_report"];
    assert_eq!(whole["sign_outs_excluded"], 1, "{whole}");
    assert_eq!(whole["resumable"], 0, "{whole}");
}

/// Regression: a resume from standard input with other rows exited 0 while
/// the whole report still held users cancelled by the first run, and
/// printed no resume hint.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_that_leaves_earlier_rows_cancelled_does_not_exit_0() {
    let denied = Scenario::new("stdin-leftover").sim(|c| {
        c.deny.insert("AdminResetUserPassword".into());
    });
    let first = ["-", "--yes", "--report", "r.csv"];
    piped(&denied, &first, "username\nalice\nbob\ncarol\n")
        .await
        .assert_code(3);
    let s = denied.another_sim(|_| {});
    let again = ["-", "--yes", "--report", "r.csv", "--resume"];
    piped(&s, &again, "username\ndan\n")
        .await
        .assert_code(1)
        .assert_says("to resume:");
}

/// Regression: a standard-input run killed part way, then resumed with a
/// different list, exited 0 ("nothing resumable remains"), although the users
/// of the first list that no run reached were never reset: a resume of a
/// stream must be fed the same rows, and rows that leave out users the
/// earlier runs recorded are not them.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_resume_fed_other_rows_than_the_earlier_run_does_not_exit_0() {
    let s = Scenario::new("stdin-other-rows");
    let first = ["-", "--yes", "--report", "r.csv"];
    piped(&s, &first, "username\nalice\nbob\n")
        .await
        .assert_code(0);
    let again = [
        "-",
        "--yes",
        "--report",
        "r.csv",
        "--resume",
        "--summary",
        "s.json",
    ];
    let other = piped(&s, &again, "username\ndan\n").await;
    other
        .assert_code(1)
        .assert_says("did not list 2 users")
        .assert_says("to resume:");
    let summary = other.summary();
    assert_eq!(summary["input"]["earlier_users_not_listed"], 2, "{summary}");
    // The same rows, grown by one: a resume as meant.
    let same = piped(&s, &again, "username\nalice\nbob\ndan\nerin\n").await;
    same.assert_code(0);
    assert_eq!(same.summary()["input"]["earlier_users_not_listed"], 0);
    assert_eq!(s.resets("alice"), 1, "never twice");
}

/// Runs the binary with `input` on its standard input.
async fn piped(s: &Scenario, args: &[&str], input: &str) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut running = s.spawn_piped(args).await;
    let mut stdin = running.stdin();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    running.finish().await
}

/// Regression: `--summary` naming the default report path was refused
/// (exit 2) but the refusal summary was written there, so every later run
/// refused to start ("not a cognito-reset report").
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_refused_for_naming_the_report_leaves_no_file_where_the_report_goes() {
    let s = Scenario::new("summary-at-report").file("in.txt", "alice\n");
    let args = ["in.txt", "--yes", "--summary", "in.report.csv"];
    s.run(&args).await.assert_code(2);
    assert!(!s.exists("in.report.csv"), "nothing where the report goes");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
}

/// Regression: with the disk full before the run, the summary could not be
/// written, yet every user was reset and the exit code was 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_that_cannot_be_written_before_the_run_stops_it_before_any_reset() {
    let s = Scenario::new("summary-full-before").file("in.txt", "alice\nbob\n");
    let mut cmd = s.command(&["in.txt", "--yes", "--summary", "s.json"]).await;
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
    assert_eq!(s.calls("AdminResetUserPassword"), 0, "nothing was sent");
    assert!(!s.exists("in.report.csv"));
}

/// Regression: when the summary's directory was removed during the run, the
/// run exited 0 with no message and no audit record.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_lost_during_the_run_is_said_and_the_exit_is_not_0() {
    let s = Scenario::new("summary-dir-gone")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(60));
    std::fs::create_dir(s.path("audit")).unwrap();
    let args = [
        "in.txt",
        "--yes",
        "--rate",
        "100",
        "--summary",
        "audit/s.json",
    ];
    let running = s.spawn(&args).await;
    running.wait_for_rows(5).await;
    std::fs::remove_dir_all(s.path("audit")).unwrap();
    running
        .finish()
        .await
        .assert_code(4)
        .assert_says("audit/s.json");
}

/// Regression: a second run of the same report, refused because the first
/// holds it, wrote "could not start" over the first run's live summary.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_second_run_leaves_the_live_runs_summary_alone() {
    let s = Scenario::new("summary-two-runs")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(80));
    let args = ["in.txt", "--yes", "--rate", "40", "--summary", "s.json"];
    let mut first = s.spawn(&args).await;
    first.wait_for_rows(3).await;
    let live = s.json("s.json");
    for again in [&args[..], &[&args[..], &["--resume"]].concat()] {
        s.run(again).await.assert_code(2);
        assert_eq!(s.json("s.json")["run_id"], live["run_id"]);
    }
    first.kill().await;
    assert_eq!(s.json("s.json")["run_id"], live["run_id"]);
}

/// Regression: a finished run's input gained a user; `--resume` refused it
/// ("… or choose another --report"), and doing exactly that reset every
/// earlier user again.
#[tokio::test(flavor = "multi_thread")]
async fn a_grown_list_with_skip_done_resets_only_the_new_users() {
    let s = Scenario::new("grown").file("in.txt", "alice\nbob\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    s.write("in.txt", "alice\nbob\ncarol\n");
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    out.assert_code(2).assert_says("--skip-done");
    let args = [
        "in.txt",
        "--yes",
        "--report",
        "grown.report.csv",
        "--skip-done",
        "in.report.csv",
    ];
    let out = s.run(&args).await;
    out.assert_code(0);
    for user in ["alice", "bob"] {
        let row = out.row(user);
        assert_eq!(row["outcome"], "skipped", "{row:?}");
        assert!(row["error_message"].contains("in.report.csv"), "{row:?}");
    }
    assert_eq!(out.row("carol")["outcome"], "reset");
    for user in ["alice", "bob", "carol"] {
        assert_eq!(s.resets(user), 1, "{user}");
    }
    // A resume of the grown report keeps them skipped, even without the flag.
    let again = [
        "in.txt",
        "--yes",
        "--report",
        "grown.report.csv",
        "--resume",
    ];
    s.run(&again).await.assert_code(0);
    assert_eq!((s.resets("alice"), s.resets("bob")), (1, 1));
}

/// A scenario whose first run over `input` reset alice but could not sign
/// her out (two attempts failed): its report owes her sign-out.
async fn alice_owes_a_sign_out(name: &str, input: &str) -> Scenario {
    let s = Scenario::new(name)
        .sim(|c| {
            c.users = vec![sign_out_failing("alice", 2)];
        })
        .file("in.txt", input);
    let first = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
    ];
    s.run(&first).await.assert_code(1);
    s
}

/// `--skip-done` trusts only a report that verifies, and finishes the
/// sign-outs it owes.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_finishes_owed_sign_outs_and_refuses_an_edited_report() {
    let s = alice_owes_a_sign_out("grown-owed", "alice\nbob\n").await;
    s.write("new.txt", "alice\nbob\ncarol\n");
    let grown = [
        "new.txt",
        "--yes",
        "--global-sign-out",
        "--skip-done",
        "in.report.csv",
    ];
    let original = s.read("in.report.csv");
    s.write(
        "in.report.csv",
        &original.replacen(",reset,", ",failed,", 1),
    );
    s.run(&grown).await.assert_code(2).assert_says("line 2");
    s.write("in.report.csv", &original);
    let out = s.run(&grown).await;
    out.assert_code(0);
    let alice = out.row("alice");
    assert_eq!(
        (alice["outcome"].as_str(), alice["signed_out"].as_str()),
        ("reset", "true"),
        "{alice:?}"
    );
    assert_eq!((s.resets("alice"), s.sign_outs("alice")), (1, 1));
    assert_eq!(out.row("bob")["outcome"], "skipped");
    assert_eq!(s.resets("carol"), 1);
}

/// Regression: `--overwrite` of a report that recorded resets reset every
/// earlier user again and erased the record, with no warning in the plan.
#[tokio::test(flavor = "multi_thread")]
async fn overwriting_a_report_with_resets_says_how_many_will_be_reset_again() {
    let s = Scenario::new("overwrite-warns").file("in.txt", "alice\nbob\nmissing-carol\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(1);
    let out = s.run(&["in.txt", "--yes", "--overwrite"]).await;
    out.assert_code(1)
        .assert_says("records 2 users as reset or disabled")
        .assert_says("--skip-done");
}

/// Regression: `kept_password` ignored `cancelled` rows after a stop: 19
/// cancelled users still held their passwords, the summary said 1.
#[tokio::test(flavor = "multi_thread")]
async fn users_left_cancelled_are_counted_as_keeping_their_password() {
    let s = Scenario::new("kept-cancelled")
        .sim(|c| {
            c.deny.insert("AdminResetUserPassword".into());
        })
        .file("in.txt", &users(5));
    let out = s.run(&["in.txt", "--yes", "--summary", "s.json"]).await;
    out.assert_code(3);
    let counts = &out.summary()["counts"];
    assert_eq!(counts["outcomes"]["cancelled"], 5, "{counts}");
    let kept: u64 = counts["kept_password"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(kept, 5, "{counts}");
}

/// Regression: a resume's own counts said `reset 55` where that run sent 14
/// resets, confirmed others with a check and only signed out the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumes_counts_tell_resets_sent_from_confirmed_and_sign_outs_only() {
    let s = Scenario::new("counts-kinds").sim(|c| {
        c.users = vec![
            // The killed run's reset reached her.
            reset_required("alice"),
            sign_out_failing("carol", 2),
        ];
    });
    // alice in flight when a run was killed, bob new.
    killed_run(&s, "alice\nbob\n", &["alice"], true);
    let args = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--summary",
        "s.json",
    ];
    let counts = s.run(&args).await.assert_code(0).summary()["counts"].clone();
    assert_eq!(counts["outcomes"]["reset"], 2, "{counts}");
    assert_eq!(counts["resets_sent"], 1, "bob: {counts}");
    assert_eq!(counts["resets_confirmed"], 1, "alice: {counts}");
    // carol reset, her sign-out failed; the resume only signs her out.
    s.write("c.txt", "carol\n");
    let first = ["c.txt", "--yes", "--global-sign-out", "--max-attempts", "2"];
    s.run(&first).await.assert_code(1);
    let again = [
        "c.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--summary",
        "t.json",
    ];
    let counts = s.run(&again).await.assert_code(0).summary()["counts"].clone();
    assert_eq!(counts["outcomes"]["reset"], 1, "{counts}");
    assert_eq!(counts["resets_sent"], 0, "{counts}");
    assert_eq!(counts["earlier_resets_signed_out"], 1, "{counts}");
    assert_eq!(s.resets("carol"), 1);
}

/// Regression: two quick Ctrl-C left the summary saying `running`, with
/// `exit_code` null.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_leaves_a_summary_that_says_how_the_run_ended() {
    // Calls that take a while: the first signal waits for them.
    let s = Scenario::new("second-signal")
        .sim(|c| c.latency = Duration::from_millis(1500))
        .file("in.txt", &users(200));
    let args = ["in.txt", "--yes", "--rate", "100", "--summary", "s.json"];
    let running = s.spawn(&args).await;
    running.wait_for_rows(2).await;
    running.signal(libc::SIGINT);
    // Apart, so that the two are not merged into one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.signal(libc::SIGINT);
    let out = running.finish().await;
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    let summary = s.json("s.json");
    assert_eq!(summary["exit_code"], 130, "{summary:#}");
    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|w| w.contains("second SIGINT")),
        "{summary:#}"
    );
    assert!(summary["ended_at"].is_string(), "{summary:#}");
}

/// Regression: a resume's estimates took the users already reset and the
/// users --exclude lists off separately, so a user both reset and now
/// excluded counted twice and the plan said "may send up to 1 codes" for a
/// run that sent 2; and users an earlier run excluded (the exclusion sticks)
/// counted as users to call.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumes_estimates_count_each_user_left_out_once() {
    let s = Scenario::new("plan-resume-excluded")
        .file("in.txt", "alice\nbob\ncarol\ndave\nerin\nfrank\n")
        .file("first.txt", "erin\nfrank\n")
        .file("ex.txt", "alice\n");
    // The first run resets alice and excludes erin and frank; bob, carol
    // and dave fail for now.
    let failing = ["bob", "carol", "dave"].map(|u| SeedUser {
        fail_times: Some(1),
        ..failing(u, "InternalErrorException")
    });
    let s = s.sim(|c| c.users = failing.to_vec());
    let first = [
        "in.txt",
        "--yes",
        "--exclude",
        "first.txt",
        "--max-attempts",
        "1",
    ];
    s.run(&first).await.assert_code(1);
    let again = ["in.txt", "--yes", "--resume", "--exclude", "ex.txt"];
    let out = s.run(&again).await;
    out.assert_code(0)
        .assert_says("may send up to 3 codes")
        .assert_says("UserAccountRecovery: 3 calls");
    assert_eq!(s.resets("alice"), 1);
    assert_eq!(s.resets("erin"), 0);
}

/// Regression: the plan's "may send up to N codes" and its call estimates
/// counted the users --exclude lists.
#[tokio::test(flavor = "multi_thread")]
async fn the_plans_estimates_leave_out_excluded_users() {
    let s = Scenario::new("plan-excluded")
        .file("in.txt", "alice\nbob\ncarol\ndave\nerin\n")
        .file("ex.txt", "bob\nDAVE\n");
    let out = s.run(&["in.txt", "--yes", "--exclude", "ex.txt"]).await;
    out.assert_code(0)
        .assert_says("may send up to 3 codes")
        .assert_says("UserAccountRecovery: 3 calls");
    assert_eq!(s.calls("AdminResetUserPassword"), 3);
}

/// Regression: with AdminGetUser denied, a user Cognito would not reset
/// (FORCE_CHANGE_PASSWORD) was recorded as "already disabled" and not
/// counted among those left with a working password.
#[tokio::test(flavor = "multi_thread")]
async fn without_checks_a_refused_user_is_not_called_disabled_and_keeps_the_count() {
    let s = Scenario::new("unchecked-refusal")
        .sim(|c| {
            c.deny.insert("AdminGetUser".into());
        })
        .file("in.txt", "force-change-fred\nalice\n");
    let out = s.run(&["in.txt", "--yes", "--summary", "s.json"]).await;
    out.assert_code(1);
    let fred = out.row("force-change-fred");
    assert_eq!(fred["outcome"], "failed", "{fred:?}");
    assert!(!fred["error_message"].contains("disabled"), "{fred:?}");
    let kept = &out.summary()["counts"]["kept_password"];
    assert_eq!(
        kept.as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_u64())
            .sum::<u64>(),
        1,
        "{kept}"
    );
}

/// Regression: after `kill -9`, the refusal of `--overwrite` said the
/// journal held 141 resets with no recorded outcome where it held 77: it
/// counted every intent, the recorded ones too.
#[tokio::test(flavor = "multi_thread")]
async fn the_journal_figure_in_a_refusal_counts_only_unrecorded_resets() {
    let s = Scenario::new("journal-figure")
        .sim(|c| c.latency = Duration::from_millis(30))
        .file("in.txt", &users(300));
    let args = ["in.txt", "--yes", "--rate", "200", "--concurrency", "16"];
    let mut running = s.spawn(&args).await;
    running.wait_for_rows(40).await;
    running.kill().await;
    let _ = running.finish().await;
    let recorded: std::collections::HashSet<String> = s
        .report("in.report.csv")
        .into_iter()
        .map(|r| r["username"].clone())
        .collect();
    let journaled = s.intents("in.report.csv.journal");
    let unrecorded = journaled.iter().filter(|u| !recorded.contains(*u)).count();
    assert!(unrecorded < journaled.len(), "some were recorded");
    let out = s.run(&["in.txt", "--yes", "--overwrite"]).await;
    out.assert_code(2).assert_says(&format!(
        "holds up to {unrecorded} reset(s) that may have been sent"
    ));
}

/// Regression: a grown list's report was started with `--skip-done`, killed,
/// and resumed without the flag: the users the earlier report had reset
/// and the killed run had not reached yet were reset a second time.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_keeps_skipping_what_its_first_run_skipped() {
    let s = Scenario::new("skip-sticks")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", "alice\nbob\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    // The new users first, alice and bob last.
    s.write("grown.txt", &format!("{}alice\nbob\n", users(300)));
    let grown = [
        "grown.txt",
        "--yes",
        "--rate",
        "20",
        "--report",
        "g.csv",
        "--skip-done",
        "in.report.csv",
    ];
    let mut running = s.spawn(&grown).await;
    running.wait_for_rows(3).await;
    running.kill().await;
    let _ = running.finish().await;
    let resume = [
        "grown.txt",
        "--yes",
        "--rate",
        "500",
        "--report",
        "g.csv",
        "--resume",
    ];
    let out = s.run(&resume).await;
    out.assert_code(0);
    assert_eq!((s.resets("alice"), s.resets("bob")), (1, 1));
    assert_eq!(out.row("alice")["outcome"], "skipped");
}

/// Regression: `verify` of a symbolic link said it refused "to write
/// through it", though verify writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn verify_of_a_symbolic_link_does_not_speak_of_writing() {
    let s = Scenario::new("verify-link");
    finished_run(&s, "alice\n").await;
    std::os::unix::fs::symlink(s.path("in.report.csv"), s.path("link.csv")).unwrap();
    let out = verify(&s, &["link.csv"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("write"), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
}

/// Regression: a list that grew twice (a new report with `--skip-done` of
/// the one before, each time) reset the first users again: the middle
/// report records them `skipped`, reset by the first, and `--skip-done` of
/// it did not count them as done.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_of_a_report_that_skipped_users_counts_them_as_done() {
    let s = Scenario::new("skip-chain")
        .file("a.txt", "alice\nbob\n")
        .file("b.txt", "alice\nbob\ncarol\n")
        .file("c.txt", "alice\nbob\ncarol\ndave\n");
    s.run(&["a.txt", "--yes"]).await.assert_code(0);
    let b = ["b.txt", "--yes", "--skip-done", "a.report.csv"];
    s.run(&b).await.assert_code(0);
    let c = ["c.txt", "--yes", "--skip-done", "b.report.csv"];
    let out = s.run(&c).await;
    out.assert_code(0);
    for user in ["alice", "bob", "carol", "dave"] {
        assert_eq!(s.resets(user), 1, "{user}: never twice");
    }
    assert_eq!(out.row("alice")["outcome"], "skipped");
}

/// Regression: `--skip-done` of a report made without `--global-sign-out`,
/// in a run with it, left the users it skipped signed in, while the plan
/// and summary said every session ended and the run exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_signs_out_the_users_it_skips_when_this_run_signs_out() {
    let s = Scenario::new("skip-sign-out")
        .file("a.txt", "alice\nbob\n")
        .file("b.txt", "alice\nbob\ncarol\n");
    s.run(&["a.txt", "--yes"]).await.assert_code(0);
    let b = [
        "b.txt",
        "--yes",
        "--global-sign-out",
        "--skip-done",
        "a.report.csv",
        "--summary",
        "s.json",
    ];
    let out = s.run(&b).await;
    out.assert_code(0);
    for user in ["alice", "bob", "carol"] {
        assert_eq!(s.resets(user), 1, "{user}: never twice");
        assert_eq!(s.sign_outs(user), 1, "{user}: signed out");
    }
    assert_eq!(out.row("alice")["signed_out"], "true");
    assert_eq!(out.summary()["pools"][0]["not_signed_out"], 0);
}

/// Regression: the run the tool recommends for a grown list (a new report
/// with `--skip-done` of the old one) reset the break-glass account the old
/// report's run excluded: exclusions stick across `--skip-done` too.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_keeps_the_other_reports_exclusions() {
    let s = Scenario::new("skip-exclusions")
        .file("a.txt", "alice\nbreakglass\n")
        .file("bg.txt", "breakglass\n")
        .file("b.txt", "alice\nbreakglass\ncarol\n");
    let a = ["a.txt", "--yes", "--exclude", "bg.txt"];
    s.run(&a).await.assert_code(0);
    let b = ["b.txt", "--yes", "--skip-done", "a.report.csv"];
    let out = s.run(&b).await;
    out.assert_code(0).assert_says("stay excluded");
    assert_eq!(s.resets("breakglass"), 0);
    assert_eq!(out.row("breakglass")["outcome"], "excluded");
    // And on the next grown list, through this report.
    s.write("c.txt", "alice\nbreakglass\ncarol\ndave\n");
    let c = ["c.txt", "--yes", "--skip-done", "b.report.csv"];
    s.run(&c).await.assert_code(0);
    assert_eq!(s.resets("breakglass"), 0);
}

/// Regression: `--skip-done` of a report whose run was killed with resets
/// in flight ignored its journal: the users whose reset was sent but not
/// yet recorded were reset a second time.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_of_a_killed_runs_report_with_resets_in_flight_is_refused() {
    let s = Scenario::new("skip-inflight").sim(|c| c.users = vec![reset_required("alice")]);
    killed_run(&s, "alice\nbob\n", &["alice"], false);
    s.write("new.txt", "alice\nbob\ncarol\n");
    let args = [
        "new.txt",
        "--yes",
        "--report",
        "new.csv",
        "--skip-done",
        "in.report.csv",
    ];
    s.run(&args)
        .await
        .assert_code(2)
        .assert_says("holds up to 1 reset(s) that may have been sent")
        .assert_says("--resume");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: `--skip-done` read a report another run was still writing
/// (and held locked): users that run reset after the read were reset again.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_of_a_report_another_run_holds_is_refused() {
    let s = Scenario::new("skip-live")
        .sim(|c| c.latency = Duration::from_millis(200))
        .file("in.txt", &users(100));
    let mut first = s.spawn(&["in.txt", "--yes", "--rate", "5"]).await;
    first.wait_for_rows(1).await;
    s.write("new.txt", &users(110));
    let args = [
        "new.txt",
        "--yes",
        "--report",
        "new.csv",
        "--skip-done",
        "in.report.csv",
    ];
    let out = s.run(&args).await;
    first.kill().await;
    out.assert_code(2).assert_says("in use by another run");
}

/// Regression: a run with `--skip-done OLD` did not hold OLD, so a resume
/// of OLD started while it ran reset the same users (143 of them, twice):
/// both trusted that the other had not.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_a_skip_done_run_reads_cannot_be_resumed_while_it_runs() {
    let s = Scenario::new("skip-held")
        .sim(|c| c.latency = Duration::from_millis(200))
        .file("in.txt", "alice\nbob\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    s.write("new.txt", &users(50));
    let grown = [
        "new.txt",
        "--yes",
        "--rate",
        "5",
        "--report",
        "new.csv",
        "--skip-done",
        "in.report.csv",
    ];
    let mut running = s.spawn(&grown).await;
    running.wait_for_rows(1).await;
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    running.kill().await;
    out.assert_code(2).assert_says("in use by another run");
}

/// Regression: two runs of different reports started together with one
/// `--summary` both exited 0 (8 times in 10) and the file held only one
/// run's record: each checked the file before either had written it. Now
/// exactly one run takes it and the other refuses before sending anything.
#[tokio::test(flavor = "multi_thread")]
async fn two_runs_started_together_on_one_summary_never_both_take_it() {
    for round in 0..6 {
        let s = Scenario::new(&format!("summary-race-{round}"))
            .file("a.txt", "alice\nbob\n")
            .file("b.txt", "carol\ndave\n");
        let a = s.spawn(&["a.txt", "--yes", "--summary", "s.json"]).await;
        let b = s.spawn(&["b.txt", "--yes", "--summary", "s.json"]).await;
        let (a, b) = (a.finish().await, b.finish().await);
        let mut codes = [a.code, b.code];
        codes.sort();
        assert_eq!(codes, [Some(0), Some(2)], "{}\n{}", a.stderr, b.stderr);
        let (winner, report) = match a.code {
            Some(0) => (&a, "a.report.csv"),
            _ => (&b, "b.report.csv"),
        };
        let summary = s.json("s.json");
        assert!(
            summary["report"]
                .as_str()
                .is_some_and(|r| r.ends_with(report)),
            "{summary}"
        );
        assert_eq!(summary["exit_code"], 0, "{}", winner.stderr);
    }
}

/// Regression: two runs of one input started together could both refuse
/// ("journal … no such file", "journal … already exists"), each having
/// removed or met the other's new journal: one of them must run, with its
/// journal, and the other refuse.
#[tokio::test(flavor = "multi_thread")]
async fn two_runs_creating_one_report_together_leave_one_running_with_its_journal() {
    for round in 0..10 {
        let s = Scenario::new(&format!("report-race-{round}")).file("a.txt", "alice\nbob\n");
        let first = s.spawn(&["a.txt", "--yes"]).await;
        let second = s.spawn(&["a.txt", "--yes"]).await;
        let (first, second) = (first.finish().await, second.finish().await);
        let mut codes = [first.code, second.code];
        codes.sort();
        assert_eq!(
            codes,
            [Some(0), Some(2)],
            "{}\n{}",
            first.stderr,
            second.stderr
        );
        assert!(s.exists("a.report.csv.journal"), "the journal stays");
        assert_eq!(s.resets("alice"), 1);
    }
}

/// Appends to a report a record of its own making, hashed onto the chain
/// as the tool would.
fn forge_record(s: &Scenario, report: &str, row: &str) {
    use sha2::{Digest, Sha256};
    let text = s.read(report);
    let last = text.lines().last().unwrap();
    let prev = &last[last.len() - 64..];
    let prev: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&prev[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut h = Sha256::new();
    h.update(&prev);
    h.update(row.as_bytes());
    let hash: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    s.write(report, &format!("{text}{row},{hash}\n"));
}

/// Regression: a record appended, hash and all, to the report of a run
/// killed with `kill -9` was trusted by `--resume`: a user no run had reset
/// read as reset and was skipped, left with a working password. Nothing
/// vouches for records after the journal's last checkpoint, so a record
/// there that makes a user done without a reset journaled for that user is
/// checked with AdminGetUser first.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_forged_onto_a_killed_runs_report_is_checked_not_trusted() {
    // More users than the run takes up at once: the last one's reset was
    // never intended, let alone sent, when the run is killed.
    let s = Scenario::new("forged-killed").file("in.txt", &users(100));
    let slow = ["in.txt", "--yes", "--rate", "1", "--concurrency", "2"];
    let mut running = s.spawn(&slow).await;
    running.wait_for_rows(1).await;
    running.kill().await;
    let _ = running.finish().await;
    assert_eq!(s.resets("user0100"), 0, "not reached before the kill");
    let row = format!(
        "100,user0100,{},reset,,,1,5,forged,2026-01-01T00:00:00Z",
        cognito_reset::simulator::DEFAULT_POOL
    );
    forge_record(&s, "in.report.csv", &row);
    let out = verify(&s, &["in.report.csv"]).await;
    assert_eq!(out.status.code(), Some(3), "unvouched: {}", stdout(&out));
    let resume = ["in.txt", "--yes", "--resume", "--rate", "500"];
    let out = s.run(&resume).await;
    out.assert_code(0).assert_says("no reset journaled");
    assert_eq!(
        s.resets("user0100"),
        1,
        "checked, found not reset, and reset"
    );
    assert_eq!(s.user("user0100").get_calls, 1, "checked first");
    for user in usernames(99) {
        assert_eq!(s.resets(&user), 1, "{user}: never twice");
    }
}

/// Regression: one record appended, hash and all, to a finished run's
/// report passed `verify` (with the run's own summary too) and `--resume`
/// trusted it: a user left with a working password read as reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_added_after_the_last_run_ended_is_flagged_by_verify_and_resume() {
    let s = Scenario::new("forged-tail");
    finished_run(&s, "alice\nmissing-bob\n").await;
    let row = format!(
        "3,missing-bob,{},reset,,,1,5,forged,2026-01-01T00:00:00Z",
        cognito_reset::simulator::DEFAULT_POOL
    );
    forge_record(&s, "in.report.csv", &row);
    let out = verify(&s, &["in.report.csv"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("added after"), "{}", stdout(&out));
    s.run(&["in.txt", "--yes", "--resume"])
        .await
        .assert_code(2)
        .assert_says("added after");
    // The summary alone says as much, the journal gone.
    std::fs::remove_file(s.path("in.report.csv.journal")).unwrap();
    let out = verify(&s, &["in.report.csv", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("added after"), "{}", stdout(&out));
}

/// Regression: a report cut short and copied without its journal verified
/// as "nothing … removed", and `--skip-done` of the copy reset again the
/// users whose rows were cut; an empty file verified too.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_without_its_journal_is_not_said_whole_nor_trusted_by_skip_done() {
    let s = Scenario::new("cut-copy");
    let original = lines(&finished_run(&s, "alice\nbob\ncarol\n").await);
    s.write("copy.csv", &joined(&original[..2]));
    // Regression: it exited 0 all the same, and an auditor's script read
    // "verified". What nothing vouches for has its own exit code.
    let out = verify(&s, &["copy.csv"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(!text.contains("removed"), "{text}");
    assert!(text.contains("nothing vouches for it"), "{text}");
    assert!(!text.contains("nothing was changed"), "{text}");
    s.write("empty.csv", "");
    let out = verify(&s, &["empty.csv"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("not a cognito-reset report"));
    let args = [
        "in.txt",
        "--yes",
        "--report",
        "again.csv",
        "--skip-done",
        "copy.csv",
    ];
    s.run(&args).await.assert_code(2).assert_says("journal");
    for user in ["alice", "bob", "carol"] {
        assert_eq!(s.resets(user), 1, "{user}");
    }
}

/// Regression: `--overwrite` of a report written before reports were
/// hash-chained gave no warning, and every user it recorded was reset again.
#[tokio::test(flavor = "multi_thread")]
async fn overwriting_an_unchained_report_warns_of_second_codes() {
    let pool = cognito_reset::simulator::DEFAULT_POOL;
    let old = format!(
        "line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at\n\
         1,alice,{pool},reset,,,1,5,r1,2025-01-01T00:00:00Z\n\
         2,bob,{pool},reset,,,1,5,r2,2025-01-01T00:00:01Z\n"
    );
    let s = Scenario::new("overwrite-unchained")
        .file("in.txt", "alice\nbob\n")
        .file("in.report.csv", &old);
    s.run(&["in.txt", "--overwrite"])
        .await
        .assert_code(2)
        .assert_says("records 2 users as reset or disabled");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: a dry run's `--overwrite` replaced a real run's report (its
/// resets became predictions), and a real run's replaced a dry run's.
#[tokio::test(flavor = "multi_thread")]
async fn overwrite_refuses_to_switch_a_report_between_dry_and_real_runs() {
    let s = Scenario::new("overwrite-mode").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--report", "r.csv"])
        .await
        .assert_code(0);
    let dry = ["in.txt", "--dry-run", "--report", "r.csv", "--overwrite"];
    s.run(&dry)
        .await
        .assert_code(2)
        .assert_says("a report belongs to one mode");
    assert!(s.read("r.csv").contains(",reset,"), "the record stays");
    s.run(&["in.txt", "--dry-run", "--report", "d.csv"])
        .await
        .assert_code(0);
    let real = ["in.txt", "--yes", "--report", "d.csv", "--overwrite"];
    s.run(&real)
        .await
        .assert_code(2)
        .assert_says("a report belongs to one mode");
    assert_eq!(s.resets("alice"), 1);
}

/// Regression: with DescribeUserPool denied, the plan said the users an
/// earlier report recorded were skipped, and the run reset those listed in
/// another case again.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_without_the_pools_case_rule_skips_as_the_plan_says() {
    let s = Scenario::new("skip-case")
        .sim(|c| {
            c.deny.insert("DescribeUserPool".into());
        })
        .file("old.txt", "alice\nbob\n");
    s.run(&["old.txt", "--yes"]).await.assert_code(0);
    s.write("new.txt", "ALICE\nBob\ncarol\n");
    let args = ["new.txt", "--yes", "--skip-done", "old.report.csv"];
    let out = s.run(&args).await;
    out.assert_code(0).assert_says("ignoring case");
    assert_eq!((s.resets("alice"), s.resets("bob")), (1, 1));
    assert_eq!(out.row("ALICE")["outcome"], "skipped");
}

/// Regression: after `kill -9` of a paced run, the `--overwrite` refusal
/// said the journal held N resets "sent" whose outcome no row recorded,
/// where most of them were only journaled, waiting their turn: an intent
/// is journaled before its call waits for the rate.
#[tokio::test(flavor = "multi_thread")]
async fn the_overwrite_refusal_does_not_call_journaled_resets_sent() {
    let s = Scenario::new("journal-not-sent")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(200));
    let args = ["in.txt", "--yes", "--rate", "20", "--concurrency", "32"];
    let mut running = s.spawn(&args).await;
    running.wait_for_rows(5).await;
    running.kill().await;
    let _ = running.finish().await;
    let sent = s.calls("AdminResetUserPassword");
    let recorded = s.report("in.report.csv").len() as u64;
    let journaled = s.intents("in.report.csv.journal").len() as u64;
    assert!(
        journaled - recorded > sent - recorded,
        "more journaled than sent"
    );
    let out = s.run(&["in.txt", "--yes", "--overwrite"]).await;
    out.assert_code(2).assert_says("may have been sent");
    assert!(
        !out.stderr.contains("reset(s) sent whose"),
        "{}",
        out.stderr
    );
}

/// Regression: a run given `--exclude` was killed before it reached the
/// break-glass account, and the resume without `--exclude` reset it: the
/// exclusions lived only in the excluded rows, and none had been written.
#[tokio::test(flavor = "multi_thread")]
async fn exclusions_stick_after_a_kill_before_the_excluded_row() {
    let s = killed_excluding_breakglass("exclude-sticks").await;
    let resume = ["in.txt", "--yes", "--rate", "500", "--resume"];
    let out = s.run(&resume).await;
    out.assert_code(0)
        .assert_says("excluded by an earlier run of this report stay excluded");
    assert_eq!(
        s.resets("breakglass"),
        0,
        "the break-glass account was reset"
    );
    assert_eq!(out.row("breakglass")["outcome"], "excluded");
}

/// A run excluding `breakglass` (last of 301 rows), killed before its row.
async fn killed_excluding_breakglass(name: &str) -> Scenario {
    let s = Scenario::new(name)
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &format!("{}breakglass\n", users(300)))
        .file("ex.txt", "breakglass\n");
    let first = ["in.txt", "--yes", "--rate", "20", "--exclude", "ex.txt"];
    let mut running = s.spawn(&first).await;
    running.wait_for_rows(3).await;
    running.kill().await;
    let _ = running.finish().await;
    s
}

/// Regression: a user excluded only by the journal of a killed run (this
/// run without `--exclude`) was recorded "listed in --exclude", and the
/// plan counted that list as this run's `--exclude`.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_excluded_only_by_an_earlier_run_is_not_said_listed_in_exclude() {
    let s = killed_excluding_breakglass("exclude-earlier-said").await;
    let resume = ["in.txt", "--yes", "--rate", "500", "--resume"];
    let out = s.run(&resume).await;
    out.assert_code(0);
    let row = out.row("breakglass");
    assert!(
        row["error_message"].contains("excluded by an earlier run (of this report"),
        "{row:?}"
    );
    assert!(
        !out.stderr.contains("listed in --exclude"),
        "{}",
        out.stderr
    );
}

/// Regression: a user the first run left with a working password, excluded
/// on the resume, vanished from the whole report's "LEFT WITH A WORKING
/// PASSWORD" and the resume exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn excluding_a_user_left_with_a_working_password_does_not_erase_it() {
    let s = Scenario::new("exclude-kept")
        .file("in.txt", "ok-1\nunverified-x\nok-2\n")
        .file("ex.txt", "unverified-x\n");
    s.run(&["in.txt", "--yes", "--global-sign-out"])
        .await
        .assert_code(1);
    let calls_before = s.user("unverified-x").reset_calls;
    let resume = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--resume",
        "--exclude",
        "ex.txt",
        "--summary",
        "s.json",
    ];
    let out = s.run(&resume).await;
    out.assert_code(1)
        .assert_says("LEFT WITH A WORKING PASSWORD");
    let row = out.row("unverified-x");
    assert_eq!(row["outcome"], "failed", "{row:?}");
    let whole = &out.summary()["whole_report"];
    let kept: u64 = whole["kept_password"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(kept, 1, "{whole}");
    let calls = s.user("unverified-x").reset_calls;
    assert_eq!(calls, calls_before, "excluded: no new call");
}

/// Regression: two runs of different reports given one `--summary`: the
/// second replaced the first's live summary, the first then replaced the
/// second's finished one; both exited 0 and no audit record survived.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_recording_a_run_of_another_report_is_never_taken_over() {
    let s = Scenario::new("summary-shared")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(80))
        .file("b.txt", "bob\n");
    let args = ["in.txt", "--yes", "--rate", "40", "--summary", "s.json"];
    let mut first = s.spawn(&args).await;
    first.wait_for_rows(3).await;
    let live = s.json("s.json");
    let other = ["b.txt", "--yes", "--summary", "s.json"];
    let out = s.run(&other).await;
    out.assert_code(2).assert_says("in.report.csv");
    assert_eq!(s.resets("bob"), 0, "refused before anything was sent");
    assert_eq!(s.json("s.json")["run_id"], live["run_id"]);
    first.kill().await;
    let _ = first.finish().await;
    // Killed, its record is still not another report's to replace.
    s.run(&other).await.assert_code(2);
    assert_eq!(s.json("s.json")["run_id"], live["run_id"]);
    // Its own resume takes it over.
    let resume = ["in.txt", "--yes", "--summary", "s.json", "--resume"];
    let out = s.run(&resume).await;
    out.assert_code(0);
    assert_ne!(out.summary()["run_id"], live["run_id"]);
}

/// Regression: a run refused at the start (a pool that does not exist, a
/// resume without its journal, flags refused) replaced the finished run's
/// summary with "could not start", and a run killed before it started left
/// a summary saying "running … --resume continues it" with nothing to
/// resume.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_does_not_start_keeps_the_earlier_runs_summary() {
    let s = Scenario::new("refused-keeps")
        .sim(|c| c.latency = Duration::from_millis(300))
        .file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--summary", "s.json"])
        .await
        .assert_code(0);
    let before = s.read("s.json");
    let gone = ["--user-pool-id", "us-east-1_Gone"];
    let overwrite = [
        &["in.txt", "--yes", "--overwrite", "--summary", "s.json"][..],
        &gone,
    ]
    .concat();
    s.run(&overwrite).await.assert_code(2).assert_says("s.json");
    assert_eq!(s.read("s.json"), before);
    let flags = ["in.txt", "--yes", "--rate", "0", "--summary", "s.json"];
    s.run(&flags).await.assert_code(2);
    assert_eq!(s.read("s.json"), before);
    std::fs::remove_file(s.path("in.report.csv.journal")).unwrap();
    let resume = ["in.txt", "--yes", "--resume", "--summary", "s.json"];
    s.run(&resume).await.assert_code(2).assert_says("s.json");
    assert_eq!(s.read("s.json"), before);
    // A fresh path: killed before its first call, the run leaves no summary.
    s.write("two.txt", "bob\n");
    let mut child = s.spawn(&["two.txt", "--yes", "--summary", "t.json"]).await;
    s.wait_for_call("DescribeUserPool").await;
    child.kill().await;
    let _ = child.finish().await;
    assert!(!s.exists("t.json"), "nothing started, nothing recorded");
    // Refused on a fresh path, the refusal is recorded.
    let refused = [&["two.txt", "--yes", "--summary", "u.json"][..], &gone].concat();
    s.run(&refused).await.assert_code(2);
    assert!(
        s.json("u.json")["stopped"]
            .as_str()
            .unwrap()
            .starts_with("could not start")
    );
}

/// Regression: when the report could no longer grow (a full disk), the
/// summary claimed rows and a report_chain the report did not hold, and
/// stderr blamed only the journal; nothing said the report was incomplete.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_cannot_grow_is_said_incomplete_and_the_summary_counts_what_it_holds() {
    let s = Scenario::new("report-full").file("in.txt", &users(500));
    let args = ["in.txt", "--yes", "--rate", "2000", "--summary", "s.json"];
    let mut cmd = s.command(&args).await;
    // Files may not grow past 20 000 bytes: the report reaches that first.
    unsafe {
        cmd.pre_exec(|| {
            let small = libc::rlimit {
                rlim_cur: 20_000,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &small);
            Ok(())
        });
    }
    let out = cmd.output().await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("incomplete") && err.contains("--resume"),
        "{err}"
    );
    let text = s.read("in.report.csv");
    let whole_lines = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .count() as u64
        - 1;
    let summary = s.json("s.json");
    assert_eq!(
        summary["report_chain"]["records"], whole_lines,
        "{summary:#}"
    );
    assert_eq!(summary["counts"]["rows"], whole_lines, "{summary:#}");
    s.run(&["in.txt", "--yes", "--resume"]).await.assert_code(0);
    assert_eq!(s.calls("AdminResetUserPassword"), 500);
}

/// Regression: the input file was read again after the plan; replaced in
/// the meantime, the run reset a user the plan never listed, missed the
/// planned ones, exited 0 and recorded the old file's hash.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_replaced_after_the_plan_resets_nobody_it_did_not_plan() {
    let s = Scenario::new("input-replaced")
        .sim(|c| c.latency = Duration::from_millis(600))
        .file("in.csv", "username\nalice\nbob\n");
    let args = ["in.csv", "--yes", "--summary", "s.json"];
    let running = s.spawn(&args).await;
    s.wait_for_call("DescribeUserPool").await;
    s.write("in.new", "username\nmallory\n");
    std::fs::rename(s.path("in.new"), s.path("in.csv")).unwrap();
    let out = running.finish().await;
    assert_eq!(s.resets("mallory"), 0, "a user the plan never listed");
    out.assert_code(2).assert_says("in.csv");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

/// Regression: a list rewritten in place while the run read it fed the
/// new rows to the run, which reset them and exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_rewritten_during_the_run_stops_it_before_any_row_not_planned() {
    let planned: String = (0..6000).map(|i| format!("user-{i:06}\n")).collect();
    let other: String = (0..6000).map(|i| format!("evil-{i:06}\n")).collect();
    let s = Scenario::new("input-rewritten").file("in.txt", &planned);
    let args = ["in.txt", "--yes", "--rate", "500", "--summary", "s.json"];
    let running = s.spawn(&args).await;
    running.wait_for_rows(1).await;
    std::fs::write(s.path("in.txt"), &other).unwrap();
    let out = running.finish().await;
    let evil = (0..6000)
        .filter(|i| s.resets(&format!("evil-{i:06}")) > 0)
        .count();
    assert_eq!(evil, 0, "users the plan never listed were reset");
    out.assert_code(3).assert_says("changed since");
    assert!(s.calls("AdminResetUserPassword") < 6000);
    // Regression: the row cut at the changed block was recorded invalid
    // ("cannot read input"), and the plan's rows never read were in no
    // count: the summary's working-password count was short by them.
    let counts = &out.summary()["counts"];
    assert!(counts["outcomes"].get("invalid").is_none(), "{counts}");
    let kept: u64 = counts["kept_password"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    let reset = counts["outcomes"]["reset"].as_u64().unwrap_or(0);
    assert_eq!(kept + reset, 6000, "{counts}");
}

/// Regression: "codes sent by channel" counted a user a check found
/// already reset (the code came from the killed run, not this one).
#[tokio::test(flavor = "multi_thread")]
async fn codes_sent_by_channel_leave_out_resets_a_check_confirmed() {
    let s = Scenario::new("codes-confirmed").sim(|c| c.users = vec![reset_required("alice")]);
    killed_run(&s, "alice\nbob\n", &["alice"], false);
    let args = ["in.txt", "--yes", "--resume", "--summary", "s.json"];
    let summary = s.run(&args).await.assert_code(0).summary();
    let pool = &summary["pools"][0];
    let sent: u64 = pool["codes_by_channel"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sent, 1, "bob's only: {pool:#}");
    assert_eq!(summary["counts"]["resets_confirmed"], 1);
}

/// Regression: a user whose earlier reset could not be checked was counted
/// "LEFT WITH A WORKING PASSWORD (not reset: StateUnknown)", though most
/// such users had been reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_whose_check_failed_is_said_unknown_not_left_unreset() {
    let s = Scenario::new("state-unknown-label").sim(|c| {
        c.users = vec![SeedUser {
            fail_operation: Some("AdminGetUser".into()),
            fail_times: Some(1000),
            ..failing("alice", "InternalErrorException")
        }]
    });
    killed_run(&s, "alice\n", &["alice"], false);
    let args = ["in.txt", "--yes", "--resume", "--max-attempts", "1"];
    let out = s.run(&args).await;
    assert!(
        !out.stderr.contains("not reset: StateUnknown"),
        "{}",
        out.stderr
    );
    out.assert_code(1)
        .assert_says("MAY BE LEFT WITH A WORKING PASSWORD: 1 (unknown:");
}

/// Regression: a `--skip-done` run whose skipped users the earlier report
/// signed out said "no user of the pool was signed out", `locked_out_by`
/// null.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_takes_the_earlier_reports_sign_outs_for_locked_out_by() {
    let s = Scenario::new("skip-done-locked-out").file("in.txt", "alice\n");
    let first = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--summary",
        "a.json",
    ];
    let before = s.run(&first).await.assert_code(0).summary()["pools"][0].clone();
    s.write("new.txt", "alice\n");
    let grown = [
        "new.txt",
        "--yes",
        "--global-sign-out",
        "--skip-done",
        "in.report.csv",
        "--summary",
        "b.json",
    ];
    let out = s.run(&grown).await.assert_code(0).summary();
    let after = &out["pools"][0];
    assert_eq!(after["locked_out_by"], before["locked_out_by"], "{after:#}");
    assert_eq!(s.sign_outs("alice"), 1);
}

/// Regression: without `--global-sign-out`, a `--skip-done` report that
/// owed a sign-out was announced in the plan ("1 owe a sign-out") and then
/// neither done nor said to be left undone.
#[tokio::test(flavor = "multi_thread")]
async fn skip_done_without_sign_out_warns_that_owed_sign_outs_stay_owed() {
    let s = alice_owes_a_sign_out("skip-done-owed-no-sign-out", "alice\n").await;
    s.write("new.txt", "alice\nbob\n");
    let grown = ["new.txt", "--yes", "--skip-done", "in.report.csv"];
    s.run(&grown)
        .await
        .assert_says("1 owe a sign-out, which this run does not make");
    assert_eq!(s.sign_outs("alice"), 0);
}

/// Regression: that user's row in the new report said only `skipped`, so
/// the new report read as if nothing were left to do for her.
#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_row_whose_sign_out_is_still_owed_says_so() {
    let s = alice_owes_a_sign_out("skip-done-owed-row", "alice\n").await;
    s.write("new.txt", "alice\nbob\n");
    let grown = ["new.txt", "--yes", "--skip-done", "in.report.csv"];
    let out = s.run(&grown).await;
    let alice = out.row("alice");
    assert_eq!(alice["outcome"], "skipped");
    assert!(
        alice["error_message"].contains("sign-out failed there and is still owed"),
        "{alice:?}"
    );
}

/// Regression: `--overwrite` warned that every user the report recorded
/// "will be sent a reset again" though `--skip-done` skipped them all.
#[tokio::test(flavor = "multi_thread")]
async fn the_overwrite_warning_leaves_out_users_skip_done_skips() {
    let s = Scenario::new("overwrite-skip-done").file("in.txt", "alice\nbob\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    for ext in ["", ".journal"] {
        let text = s.read(&format!("in.report.csv{ext}"));
        s.write(&format!("old.report.csv{ext}"), &text);
    }
    let args = [
        "in.txt",
        "--yes",
        "--overwrite",
        "--skip-done",
        "old.report.csv",
    ];
    let out = s.run(&args).await;
    out.assert_code(0);
    assert!(!out.stderr.contains("sent a reset again"), "{}", out.stderr);
    assert_eq!((s.resets("alice"), s.resets("bob")), (1, 1));
}

/// Regression: after a resume, the whole report's counts covered only the
/// last run's rows — "sent 215" under "reset 300", failed rows without
/// their error codes, users left with a working password uncounted.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumes_whole_report_counts_every_runs_resets_codes_and_kept_passwords() {
    let s = Scenario::new("whole-counts").sim(|c| {
        c.users = vec![sign_out_failing("carol", 2)];
    });
    let first = [
        "-",
        "--report",
        "r.csv",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
    ];
    piped(&s, &first, "username\nok1\nunverified-x\ncarol\n")
        .await
        .assert_code(1);
    // The resume is fed only carol (owing her sign-out) and a new user.
    let again = [
        "-",
        "--report",
        "r.csv",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--summary",
        "s.json",
    ];
    let run = piped(&s, &again, "username\ncarol\ndan\n").await;
    let summary = run.summary();
    let whole = &summary["whole_report"];
    assert_eq!(whole["outcomes"]["reset"], 3, "{whole}");
    assert_eq!(whole["outcomes"]["failed"], 1, "{whole}");
    assert_eq!(whole["resets_sent"], 3, "ok1, carol, dan: {whole}");
    assert_eq!(whole["earlier_resets_signed_out"], 0, "{whole}");
    assert_eq!(whole["signed_out"], 3, "{whole}");
    assert_eq!(
        whole["error_codes"]["InvalidParameterException"], 1,
        "{whole}"
    );
    assert_eq!(
        whole["kept_password"]["no verified email or phone"], 1,
        "{whole}"
    );
    assert!(whole["attempts"].as_u64().unwrap() >= 6, "{whole}");
    // This run's own counts are still its own.
    let counts = &summary["counts"];
    assert_eq!(counts["resets_sent"], 1, "dan: {counts}");
    assert_eq!(counts["earlier_resets_signed_out"], 1, "carol: {counts}");
}

/// Regression: reaching the account's daily email limit stopped the run at
/// once, leaving users already reset still signed in (their sign-outs "not
/// attempted"); a resume while the limit held sent more refused resets and
/// still left some signed in.
#[tokio::test(flavor = "multi_thread")]
async fn the_daily_email_limit_still_signs_out_every_user_already_reset() {
    let s = Scenario::new("email-cap-sign-outs")
        .sim(|c| {
            c.email_cap = Some(5);
            c.users = usernames(20).map(|u| sign_out_failing(&u, 2)).collect();
        })
        .file("in.txt", &users(20));
    let args = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--concurrency",
        "4",
        "--summary",
        "s.json",
    ];
    let out = s.run(&args).await;
    out.assert_code(3).assert_says("Amazon SES");
    let reset: Vec<String> = usernames(20).filter(|u| s.resets(u) > 0).collect();
    assert_eq!(reset.len(), 5, "{}", out.report_text());
    for user in &reset {
        assert_eq!(s.sign_outs(user), 1, "{user}: {}", out.report_text());
    }
    let counts = &out.summary()["counts"];
    assert_eq!(counts["sign_outs_not_attempted"], 0, "{counts}");
    assert_eq!(counts["outcomes"]["cancelled"], 15, "{counts}");
    // A resume while the limit holds sends no more than the calls in
    // flight when the first refusal came back.
    let before = s.calls("AdminResetUserPassword");
    let again = [
        "in.txt",
        "--yes",
        "--resume",
        "--global-sign-out",
        "--concurrency",
        "4",
    ];
    // Its plan says beforehand that the limit was reached.
    s.run(&again)
        .await
        .assert_code(3)
        .assert_says("reached the daily limit on codes in us-east-1");
    let refused = s.calls("AdminResetUserPassword") - before;
    assert!(refused <= 4, "{refused} resets sent into the limit");
}

/// Regression: a `--from-pool` resume's plan said "N to check with
/// AdminGetUser" and then made no such call: the listing shows each user's
/// state, which settles them.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_resume_does_not_promise_admin_get_user_checks_it_does_not_make() {
    let s = Scenario::new("pool-resume-checks").sim(|c| {
        c.generate = 300;
        c.latency = Duration::from_millis(20);
    });
    let first = ["--from-pool", "--yes", "--report", "r.csv", "--rate", "20"];
    let mut running = s.spawn(&first).await;
    running.wait_for_rows(3).await;
    running.kill().await;
    let _ = running.finish().await;
    let resume = [
        "--from-pool",
        "--yes",
        "--report",
        "r.csv",
        "--rate",
        "500",
        "--resume",
    ];
    let out = s.run(&resume).await;
    out.assert_code(0)
        .assert_says("to check by the state the listing shows");
    assert!(!out.stderr.contains("to check with AdminGetUser"));
    // At most the probes of whether checks are permitted, one a run.
    assert!(s.calls("AdminGetUser") <= 2, "{}", out.stderr);
}

/// Regression: the plan said every user an earlier report records as reset
/// "is skipped", counting users this input does not list at all.
#[tokio::test(flavor = "multi_thread")]
async fn the_skip_done_note_does_not_count_users_this_input_leaves_out_as_skipped() {
    let s = Scenario::new("skip-done-count").file("in.txt", "alice\nbob\ncarol\n");
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    s.write("new.txt", "alice\ndan\n");
    let args = ["new.txt", "--yes", "--skip-done", "in.report.csv"];
    let out = s.run(&args).await;
    out.assert_code(0)
        .assert_says("it records 3 users as reset or disabled; those this input lists are skipped");
    assert!(
        !out.stderr
            .contains("3 users it records as reset or disabled are skipped")
    );
    assert_eq!(out.row("alice")["outcome"], "skipped");
}

/// Regression: a user excluded on a resume, whose journaled reset was
/// checked first, was recorded "no call made" with `attempts` 1.
#[tokio::test(flavor = "multi_thread")]
async fn an_excluded_user_checked_first_is_not_said_to_have_had_no_call() {
    let s = Scenario::new("excluded-checked").file("ex.txt", "alice\n");
    killed_run(&s, "alice\nbob\n", &["alice"], false);
    let resume = ["in.txt", "--yes", "--resume", "--exclude", "ex.txt"];
    let out = s.run(&resume).await;
    out.assert_code(0);
    let alice = out.row("alice");
    assert_eq!(
        (alice["outcome"].as_str(), alice["attempts"].as_str()),
        ("excluded", "1"),
        "{alice:?}"
    );
    assert!(!alice["error_message"].contains("no call"), "{alice:?}");
    assert_eq!(s.resets("alice"), 0);
}

/// Regression: every resume sent another reset to users an earlier run had
/// found federated or disabled; a resume cut short then recorded them
/// `cancelled` (or refused, not signed out), and the whole report lost what
/// the first run had done for them.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_leaves_users_no_reset_can_reach_as_their_run_recorded_them() {
    let s =
        Scenario::new("resume-unresettable").file("in.txt", "alice\nfederated-fay\ndisabled-dan\n");
    let args = ["in.txt", "--yes", "--global-sign-out"];
    s.run(&args).await.assert_code(1);
    let resets = s.calls("AdminResetUserPassword");
    let out = s
        .run(&[&args[..], &["--resume", "--summary", "s.json"]].concat())
        .await;
    assert_eq!(s.calls("AdminResetUserPassword"), resets, "{}", out.stderr);
    let latest = out.latest();
    for user in ["federated-fay", "disabled-dan"] {
        let row = &latest[user];
        assert_eq!(row["outcome"], "skipped", "{row:?}");
        assert!(
            row["error_message"].contains("nothing more to do"),
            "{row:?}"
        );
    }
    let whole = &out.summary()["whole_report"];
    assert_eq!(whole["outcomes"]["failed"], 2, "{whole}");
    assert_eq!(whole["federated"], 1, "{whole}");
    assert_eq!(whole["signed_out"], 2, "alice, federated-fay: {whole}");
    assert!(
        whole["kept_password"].as_object().unwrap().is_empty(),
        "{whole}"
    );
}

/// Regression: after two resumes that only retried a failing sign-out, the
/// whole report said the user's reset came from a report `--skip-done`
/// named (none was), and left out a user whose sign-out still failed.
#[tokio::test(flavor = "multi_thread")]
async fn the_whole_reports_resets_keep_how_each_came_about_across_resumes() {
    let s = Scenario::new("whole-reset-kinds")
        .sim(|c| {
            c.users = vec![
                sign_out_failing("so-once", 2),
                sign_out_failing("so-always", 99),
            ]
        })
        .file("in.txt", "ok-1\nso-once\nso-always\n");
    let args = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "2",
    ];
    s.run(&args).await.assert_code(1);
    let again = [&args[..], &["--resume"]].concat();
    s.run(&again).await.assert_code(1);
    let out = s
        .run(&[&again[..], &["--summary", "s.json"]].concat())
        .await;
    let whole = &out.summary()["whole_report"];
    assert_eq!(whole["outcomes"]["reset"], 3, "{whole}");
    assert_eq!(whole["resets_sent"], 3, "{whole}");
    assert_eq!(whole["earlier_resets_signed_out"], 0, "{whole}");
    assert!(!out.stderr.contains("--skip-done named"), "{}", out.stderr);
    assert_eq!(s.calls("AdminResetUserPassword"), 3);
}

/// Regression: a report edited in place, its chain recomputed, passed a
/// resume given the summary whose chain proved the edit (`verify --summary`
/// refused it), and the resume then replaced that summary.
#[tokio::test(flavor = "multi_thread")]
async fn a_resume_checks_the_report_against_the_summary_it_would_replace() {
    let s = Scenario::new("resume-summary-chain");
    let text = finished_run(&s, "c1\nc2\nunverified-c3\nc4\n").await;
    let summary = s.read("s.json");
    // Edit the refused user's row to `reset` and recompute every hash; the
    // journal's checkpoints are dropped, as an editor would have to.
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut chain = cognito_reset::report::Chain::start(format!("{header}\n").as_bytes());
    let mut edited = format!("{header}\n");
    for line in lines {
        let body = &line[..line.len() - 65];
        let body = match body.contains("unverified-c3") {
            true => {
                let cells: Vec<&str> = body.splitn(7, ',').collect();
                format!(
                    "{},{},{},reset,,,{}",
                    cells[0], cells[1], cells[2], cells[6]
                )
            }
            false => body.to_owned(),
        };
        let hash = chain.link(body.as_bytes());
        edited.push_str(&format!("{body},{hash}\n"));
    }
    s.write("in.report.csv", &edited);
    let journal = s.read("in.report.csv.journal");
    let kept: String = journal
        .lines()
        .filter(|l| !l.contains("\"head\""))
        .map(|l| format!("{l}\n"))
        .collect();
    s.write("in.report.csv.journal", &kept);
    let out = verify(&s, &["in.report.csv", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let resume = ["in.txt", "--yes", "--resume", "--summary", "s.json"];
    s.run(&resume)
        .await
        .assert_code(2)
        .assert_says("the summary --summary names");
    assert_eq!(s.read("s.json"), summary, "the summary was replaced");
}

/// Regression: a second signal replaced the run's live summary with one of
/// zero counts and no progress, presented as the finished record.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_keeps_the_counts_of_the_runs_last_update() {
    let s = Scenario::new("second-signal-counts")
        .sim(|c| c.latency = Duration::from_millis(1500))
        .file("in.txt", &users(2000));
    let args = ["in.txt", "--yes", "--rate", "20", "--summary", "s.json"];
    let running = s.spawn(&args).await;
    // The live record is updated every ten seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(s.exists("s.json") && s.json("s.json")["progress"].is_object()) {
        assert!(tokio::time::Instant::now() < deadline, "no live update");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let live = s.json("s.json");
    running.signal(libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.signal(libc::SIGINT);
    let out = running.finish().await;
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    assert!(
        out.stderr.contains("stopped at once by a second SIGINT"),
        "{}",
        out.stderr
    );
    let summary = s.json("s.json");
    assert_eq!(summary["run_id"], live["run_id"], "{summary:#}");
    assert!(summary["progress"].is_object(), "{summary:#}");
    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|w| w.contains("second SIGINT") && w.contains("last update")),
        "{summary:#}"
    );
    let left: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
