//! The record never lies: the report's hash chain, `verify`, and what the
//! report and the summary say after operator moves (exclusions added on a
//! resume, a list that grows, refused runs, a full disk).

mod common;

use std::process::Output;

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
