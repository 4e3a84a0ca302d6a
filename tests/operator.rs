//! Operator mistakes, odd files and hostile streams, through the real
//! binary: each test is named after something that once went wrong.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread")]
async fn resume_with_no_report_at_the_path_is_refused_and_starts_nothing() {
    let w = Workdir::new("op-noreport");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--resume"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to resume"),
        "{}",
        stderr(&out)
    );
    assert!(!w.path("in.report.csv").exists() && !w.path("in.report.csv.journal").exists());
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_pointed_at_a_file_that_is_not_a_report_leaves_it_untouched() {
    let w = Workdir::new("op-notreport");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let precious = "username\nalice\nbob\n\"torn";
    w.write("users.csv", precious);
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--yes", "--resume", "--report", "users.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.read("users.csv"), precious);
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_planted_at_the_report_or_summary_is_refused() {
    let w = Workdir::new("op-symlink");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    w.write("victim", "keep\n");
    std::os::unix::fs::symlink(w.path("victim"), w.path("r.csv")).unwrap();
    std::os::unix::fs::symlink(w.path("victim"), w.path("s.json")).unwrap();
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
        let out = run(&w.dir, &sim, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("symbolic link") || stderr(&out).contains("exists"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(w.read("victim"), "keep\n");
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
    assert!(
        !w.path("ok.csv").exists(),
        "a run that could not start leaves nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_is_private_and_an_unwritable_one_stops_the_run_before_any_reset() {
    let w = Workdir::new("op-summary");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mode = std::fs::metadata(w.path("s.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let out = run(
        &w.dir,
        &sim,
        &[
            "in.txt",
            "--yes",
            "--overwrite",
            "--summary",
            "no/such/dir/s.json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        calls(&sim, "AdminResetUserPassword"),
        1,
        "only the first run's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_metadata_values_never_appear_in_the_resume_hint_or_any_output() {
    let w = Workdir::new("op-secret");
    let sim = simulator(|c| c.latency = Duration::from_millis(20)).await;
    w.write("in.txt", &users(200));
    let child = command(
        &w.dir,
        &sim,
        &[
            "--user-pool-id",
            DEFAULT_POOL,
            "in.txt",
            "--yes",
            "--rate",
            "50",
            "-vv",
            "--client-metadata",
            "token=s3cret-value",
            "--summary",
            "s.json",
        ],
    )
    .spawn()
    .unwrap();
    wait_for_rows(&w, "in.report.csv", 5).await;
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("to resume:") && err.contains("token=<value removed>"),
        "{err}"
    );
    for text in [
        err,
        w.read("s.json"),
        w.read("in.report.csv"),
        w.read("in.report.csv.journal"),
    ] {
        assert!(!text.contains("s3cret-value"), "{text}");
        assert!(!text.contains("test-secret-not-real"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_in_usernames_are_escaped_on_the_terminal() {
    let w = Workdir::new("op-escape");
    let sim = simulator(|_| {}).await;
    w.write("in.jsonl", "{\"username\":\"evil\\u001b[2Jx y\"}\n");
    let out = run(&w.dir, &sim, &["in.jsonl", "--yes", "-v"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "{:?}", stderr(&out));
    assert!(stderr(&out).contains("\\u{1b}"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_numbers_are_usage_errors_not_panics() {
    let w = Workdir::new("op-numbers");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    for (flag, value) in [
        ("--call-timeout", "1e300"),
        ("--call-timeout", "NaN"),
        ("--rate", "-1"),
        ("--check-rate", "inf"),
        ("--concurrency", "99999999999999"),
        ("--max-attempts", "0"),
        ("--max-failure-rate", "101"),
    ] {
        let out = run(&w.dir, &sim, &["in.txt", "--yes", flag, value]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stderr_loses_no_row_and_keeps_the_exit_code() {
    let w = Workdir::new("op-stderr");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", &format!("{}has space\n", users(300)));
    let url = sim.url();
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "-v",
        "--rate",
        "2000",
        "--endpoint-url",
        &url,
    ];
    let mut cmd = command_at(&w.dir, &sim.url(), &[]);
    let script = format!("exec {BIN} {} 2>&- 1>&-", args.join(" "));
    let std_cmd = cmd.as_std_mut();
    let envs: Vec<_> = std_cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&w.dir)
        .env_clear()
        .envs(envs)
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(1), "an invalid row: exit 1");
    assert_eq!(w.report("in.report.csv").len(), 301);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_run_reading_a_standard_input_that_never_closes() {
    let w = Workdir::new("op-stdin");
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
            "--format",
            "lines",
        ],
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alice\nbob\n").await.unwrap();
    stdin.flush().await.unwrap();
    wait_for_rows(&w, "r.csv", 2).await;
    signal(&child, libc::SIGINT);
    let out = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("stopped although standard input stays open")
        .unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--report r.csv") && err.contains("pipe the same rows"),
        "{err}"
    );
    assert_eq!(resets(&sim, "alice") + resets(&sim, "bob"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resume_hint_of_a_standard_input_run_names_the_report() {
    let w = Workdir::new("op-stdin-hint");
    let sim = simulator(|c| {
        let mut broken = seed("broken");
        broken.fail = Some("InternalErrorException".into());
        c.users = vec![broken];
    })
    .await;
    let mut child = command(
        &w.dir,
        &sim,
        &[
            "-",
            "--user-pool-id",
            DEFAULT_POOL,
            "--yes",
            "--format",
            "lines",
            "--max-attempts",
            "2",
        ],
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"alice\nbroken\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let hint = err
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
    let w = Workdir::new("op-lock");
    let sim = simulator(|c| c.latency = Duration::from_millis(10)).await;
    w.write("in.txt", &users(200));
    let args = [
        "--user-pool-id",
        DEFAULT_POOL,
        "in.txt",
        "--yes",
        "--rate",
        "100",
        "--quiet",
    ];
    let first = command(&w.dir, &sim, &args).spawn().unwrap();
    let pid = first.id().unwrap();
    wait_for_rows(&w, "in.report.csv", 0).await;
    let mut again = args.to_vec();
    again.push("--resume");
    let out = command(&w.dir, &sim, &again).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("process {pid}")),
        "{}",
        stderr(&out)
    );
    let out = first.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for i in 1..=200 {
        assert_eq!(resets(&sim, &format!("user{i:04}")), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_report_is_not_resumed_by_a_real_run_or_another_input() {
    let w = Workdir::new("op-dry");
    let sim = simulator(|_| {}).await;
    w.write("a.txt", "alice\n");
    w.write("b.txt", "bob\n");
    let out = run(&w.dir, &sim, &["a.txt", "--dry-run", "--report", "r.csv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dry = w.read("r.csv");
    for args in [
        vec!["a.txt", "--yes", "--resume", "--report", "r.csv"],
        vec!["b.txt", "--dry-run", "--resume", "--report", "r.csv"],
    ] {
        let out = run(&w.dir, &sim, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(w.read("r.csv"), dry);
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_listing_could_not_start_and_leaves_nothing_behind() {
    let w = Workdir::new("op-listing");
    let sim = simulator(|c| c.users = vec![seed("a")]).await;
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
        let out = run(&w.dir, &sim, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("refused to list"), "{err}");
        assert!(!err.contains("to resume"), "{err}");
        assert!(!err.to_lowercase().contains("credential"), "{err}");
        assert!(!w.path("r.csv").exists() && !w.path("r.csv.journal").exists());
    }
    let out = run(&w.dir, &sim, &["--from-pool", "--yes", "--report", "r.csv"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "the corrected command runs: {}",
        stderr(&out)
    );
}
