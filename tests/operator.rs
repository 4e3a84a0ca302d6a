//! Operator mistakes, odd files and hostile streams, through the real
//! binary: each test is named after something that once went wrong.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread")]
async fn resume_with_no_report_at_the_path_is_refused_and_starts_nothing() {
    let s = Scenario::new("op-noreport").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--resume"])
        .await
        .assert_code(2)
        .assert_says("nothing to resume");
    assert!(!s.exists("in.report.csv") && !s.exists("in.report.csv.journal"));
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_pointed_at_a_file_that_is_not_a_report_leaves_it_untouched() {
    let precious = "username\nalice\nbob\n\"torn";
    let s = Scenario::new("op-notreport")
        .file("in.txt", "alice\n")
        .file("users.csv", precious);
    s.run(&["in.txt", "--yes", "--resume", "--report", "users.csv"])
        .await
        .assert_code(2);
    assert_eq!(s.read("users.csv"), precious);
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_planted_at_the_report_or_summary_is_refused() {
    let s = Scenario::new("op-symlink")
        .file("in.txt", "alice\n")
        .file("victim", "keep\n");
    std::os::unix::fs::symlink(s.path("victim"), s.path("r.csv")).unwrap();
    std::os::unix::fs::symlink(s.path("victim"), s.path("s.json")).unwrap();
    for args in [
        vec!["in.txt", "--yes", "--report", "r.csv"],
        vec!["in.txt", "--yes", "--report", "r.csv", "--overwrite"],
        vec![
            "in.txt",
            "--yes",
            "--report",
            "ok.csv",
            "--summary",
            "s.json",
        ],
    ] {
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("symbolic link") || out.stderr.contains("exists"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(s.read("victim"), "keep\n");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    assert!(
        !s.exists("ok.csv"),
        "a run that could not start leaves nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_is_private_and_an_unwritable_one_stops_the_run_before_any_reset() {
    let s = Scenario::new("op-summary").file("in.txt", "alice\n");
    s.run(&["in.txt", "--yes", "--summary", "s.json"])
        .await
        .assert_code(0);
    let mode = std::fs::metadata(s.path("s.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    s.run(&[
        "in.txt",
        "--yes",
        "--overwrite",
        "--summary",
        "no/such/dir/s.json",
    ])
    .await
    .assert_code(2);
    assert_eq!(s.calls("AdminResetUserPassword"), 1, "only the first run's");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_metadata_values_never_appear_in_the_resume_hint_or_any_output() {
    let s = Scenario::new("op-secret")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(200));
    let child = s
        .spawn(&[
            "in.txt",
            "--yes",
            "--rate",
            "50",
            "-vv",
            "--client-metadata",
            "token=s3cret-value",
            "--summary",
            "s.json",
        ])
        .await;
    child.wait_for_rows(5).await;
    child.signal(libc::SIGINT);
    let out = child.finish().await;
    out.assert_code(130);
    let err = &out.stderr;
    assert!(
        err.contains("to resume:") && err.contains("token=<value removed>"),
        "{err}"
    );
    for text in [
        err.clone(),
        s.read("s.json"),
        s.read("in.report.csv"),
        s.read("in.report.csv.journal"),
    ] {
        assert!(!text.contains("s3cret-value"), "{text}");
        assert!(!text.contains("test-secret-not-real"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_in_usernames_are_escaped_on_the_terminal() {
    let s = Scenario::new("op-escape").file("in.jsonl", "{\"username\":\"evil\\u001b[2Jx y\"}\n");
    let out = s.run(&["in.jsonl", "--yes", "-v"]).await;
    out.assert_code(1);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    out.assert_says("\\u{1b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_numbers_are_usage_errors_not_panics() {
    let s = Scenario::new("op-numbers").file("in.txt", "alice\n");
    for (flag, value) in [
        ("--call-timeout", "1e300"),
        ("--call-timeout", "NaN"),
        ("--rate", "-1"),
        ("--check-rate", "inf"),
        ("--concurrency", "99999999999999"),
        ("--max-attempts", "0"),
        ("--max-failure-rate", "101"),
    ] {
        let out = s.run(&["in.txt", "--yes", flag, value]).await;
        assert_eq!(out.code, Some(2), "{flag} {value}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_filter_is_refused_rather_than_listing_every_user() {
    let s = Scenario::new("op-emptyfilter").sim(|c| c.users = vec![seed("a"), seed("b")]);
    for filter in ["", "  "] {
        let args = [
            "--from-pool",
            "--filter",
            filter,
            "--yes",
            "--report",
            "r.csv",
        ];
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{filter:?}: {}", out.stderr);
        assert!(out.stderr.contains("--filter is empty"), "{}", out.stderr);
        assert!(!s.exists("r.csv"));
    }
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    assert_eq!(s.calls("ListUsers"), 0);
}

/// Regression: `--filter` with an input file or `--from-group` was accepted
/// and ignored: every user was reset, including those the filter left out,
/// and the summary's command line showed the filter.
#[tokio::test(flavor = "multi_thread")]
async fn a_filter_that_cannot_apply_is_refused_not_ignored() {
    let s = Scenario::new("op-filter-ignored")
        .sim(|c| c.users = vec![seed("alice"), seed("bob")])
        .file("in.txt", "alice\nbob\n");
    let filter = "username = \"alice\"";
    for source in [&["in.txt"][..], &["--from-group", "staff"][..]] {
        let mut args = source.to_vec();
        args.extend(["--filter", filter, "--yes", "--report", "r.csv"]);
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{source:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("--filter narrows --from-pool only"),
            "{}",
            out.stderr
        );
        assert!(!s.exists("r.csv"));
    }
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stderr_loses_no_row_and_keeps_the_exit_code() {
    let s = Scenario::new("op-stderr").file("in.txt", &format!("{}has space\n", users(300)));
    let line = s
        .command_line(&["in.txt", "--yes", "-v", "--rate", "2000"])
        .await;
    let script = format!("exec {line} 2>&- 1>&-");
    let out = s.shell("sh", &script).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "an invalid row: exit 1");
    assert_eq!(s.report("in.report.csv").len(), 301);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_run_reading_a_standard_input_that_never_closes() {
    let s = Scenario::new("op-stdin");
    let mut child = s
        .spawn_piped(&["-", "--yes", "--report", "r.csv", "--format", "lines"])
        .await;
    let mut stdin = child.stdin();
    stdin.write_all(b"alice\nbob\n").await.unwrap();
    stdin.flush().await.unwrap();
    child.wait_for_rows(2).await;
    child.signal(libc::SIGINT);
    let out = child
        .finish_within(Duration::from_secs(5))
        .await
        .expect("stopped although standard input stays open");
    drop(stdin);
    out.assert_code(130);
    let err = &out.stderr;
    assert!(
        err.contains("--report r.csv") && err.contains("pipe the same rows"),
        "{err}"
    );
    assert_eq!(s.resets("alice") + s.resets("bob"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_of_a_standard_input_run_names_the_report() {
    let s = Scenario::new("op-stdin-hint")
        .sim(|c| c.users = vec![failing("broken", "InternalErrorException")]);
    let mut child = s
        .spawn_piped(&["-", "--yes", "--format", "lines", "--max-attempts", "2"])
        .await;
    let mut stdin = child.stdin();
    stdin.write_all(b"alice\nbroken\n").await.unwrap();
    drop(stdin);
    let out = child.finish().await;
    out.assert_code(1);
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("to resume:"))
        .expect("a hint");
    assert!(
        hint.contains("--report=cognito-reset-") && hint.contains("--resume"),
        "{hint}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_on_one_report_the_second_is_refused_naming_the_first() {
    let s = Scenario::new("op-lock")
        .sim(|c| c.latency = Duration::from_millis(10))
        .file("in.txt", &users(200));
    let args = ["in.txt", "--yes", "--rate", "100", "--quiet"];
    let first = s.spawn(&args).await;
    let pid = first.pid();
    first.wait_for_rows(0).await;
    s.run(&[&args[..], &["--resume"]].concat())
        .await
        .assert_code(2)
        .assert_says(&format!("process {pid}"));
    first.finish().await.assert_code(0);
    for user in usernames(200) {
        assert_eq!(s.resets(&user), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_report_is_not_resumed_by_a_real_run_or_another_input() {
    let s = Scenario::new("op-dry")
        .file("a.txt", "alice\n")
        .file("b.txt", "bob\n");
    s.run(&["a.txt", "--dry-run", "--report", "r.csv"])
        .await
        .assert_code(0);
    let dry = s.read("r.csv");
    for args in [
        vec!["a.txt", "--yes", "--resume", "--report", "r.csv"],
        vec!["b.txt", "--dry-run", "--resume", "--report", "r.csv"],
    ] {
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    }
    assert_eq!(s.read("r.csv"), dry);
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_listing_could_not_start_and_leaves_nothing_behind() {
    let s = Scenario::new("op-listing").sim(|c| c.users = vec![seed("a")]);
    for args in [
        vec![
            "--from-pool",
            "--filter",
            "nonsense",
            "--yes",
            "--report",
            "r.csv",
        ],
        vec!["--from-group", "nosuchgroup", "--yes", "--report", "r.csv"],
    ] {
        let out = s.run(&args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        let err = &out.stderr;
        assert!(err.contains("refused to list"), "{err}");
        assert!(!err.contains("to resume"), "{err}");
        assert!(!err.to_lowercase().contains("credential"), "{err}");
        assert!(!s.exists("r.csv") && !s.exists("r.csv.journal"));
    }
    let out = s.run(&["--from-pool", "--yes", "--report", "r.csv"]).await;
    assert_eq!(
        out.code,
        Some(0),
        "the corrected command runs: {}",
        out.stderr
    );
}

/// Regression: under `ulimit -f` the kernel's SIGXFSZ killed the run
/// (exit 153) mid-write, leaving `*.tmp` files and a summary saying it was
/// still running; the file-size limit is a write error like a full disk.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_size_limit_ends_the_run_through_its_write_failure_path() {
    let s = Scenario::new("op-fsize").file("in.txt", &users(200));
    let mut cmd = s.command(&["in.txt", "--yes", "--summary", "s.json"]).await;
    // The harness gives the child default signal dispositions: SIGXFSZ
    // kills unless the program itself ignores it.
    unsafe {
        cmd.pre_exec(|| {
            let small = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &small);
            Ok(())
        });
    }
    let out = cmd.output().await.unwrap();
    let code = out.status.code();
    assert!(matches!(code, Some(2..=4)), "{code:?}: {}", stderr(&out));
    let left: Vec<String> = std::fs::read_dir(&s.dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Regression: `--summary d/../in.report.csv` named the report, which did
/// not exist yet, by another spelling: the paths were not seen to be one
/// file, the summary was written where the report goes, and every later
/// run refused that file.
#[tokio::test(flavor = "multi_thread")]
async fn a_summary_naming_the_future_report_by_another_spelling_is_refused() {
    let s = Scenario::new("op-alias").file("in.txt", "alice\n");
    std::fs::create_dir(s.path("d")).unwrap();
    let out = s
        .run(&["in.txt", "--yes", "--summary", "d/../in.report.csv"])
        .await;
    out.assert_code(2).assert_says("the same file");
    assert!(!s.exists("in.report.csv"), "nothing where the report goes");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
}
