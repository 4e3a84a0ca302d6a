//! What the tool prints and records must be safe and true: no secret from
//! the command line, no claim a run cannot make yet, no success that did
//! not happen, no file touched that the run refused. Each test is named
//! after something that once went wrong.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use cognito_reset::simulator::{DEFAULT_POOL, SeedUser};
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A command for the binary in `dir` with no endpoint of its own, started
/// as the harness starts every child.
fn bare(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = child(BIN, dir);
    cmd.args(args);
    cmd.into()
}

fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

fn json(w: &Workdir, name: &str) -> Value {
    serde_json::from_str(&w.read(name)).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_credentials_are_never_printed_or_recorded() {
    let w = Workdir::new("pr-endpoint-secret");
    let sim = simulator(|c| {
        c.users.push(SeedUser {
            fail: Some("TooManyRequestsException".into()),
            ..seed("throttled")
        })
    })
    .await;
    w.write("in.txt", "alice\nthrottled\n");
    let url = sim
        .url()
        .replacen("http://", "http://ops:hunter2secret@", 1);
    let shown = sim.url().replacen("http://", "http://<redacted>@", 1);
    let args = [
        "in.txt",
        "--user-pool-id",
        DEFAULT_POOL,
        "--yes",
        "--max-attempts",
        "1",
        "--summary",
        "s.json",
        "-vv",
    ];
    let out = command_at(&w.dir, &url, &args).output().await.unwrap();
    let printed = both(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert_eq!(resets(&sim, "alice"), 1, "the run reached the endpoint");
    assert!(printed.contains(&format!("endpoint: {shown}")), "{printed}");
    assert!(printed.contains("to resume:"), "{printed}");
    assert!(
        !printed.contains("WARNING: --endpoint-url"),
        "loopback: {printed}"
    );
    let recorded = w.read("s.json") + &w.read("in.report.csv");
    for secret in ["hunter2secret", "ops:"] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
        assert!(!recorded.contains(secret), "{secret} recorded: {recorded}");
    }
    let line = json(&w, "s.json")["command_line"].clone();
    let line: Vec<&str> = line
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a.as_str())
        .collect();
    assert!(line.iter().any(|a| a.starts_with(&shown)), "{line:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_warning_reads_the_host_not_the_user() {
    let w = Workdir::new("pr-endpoint-warning");
    w.write("in.txt", "alice\n");
    let out = bare(
        &w.dir,
        &[
            "in.txt",
            "--user-pool-id",
            DEFAULT_POOL,
            "--dry-run",
            "--max-attempts",
            "1",
            "--call-timeout",
            "2",
            "--endpoint-url=http://127.0.0.1@remote.invalid:9/",
            "--summary",
            "s.json",
        ],
    )
    .output()
    .await
    .unwrap();
    let printed = both(&out);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(
        printed
            .contains("WARNING: --endpoint-url http://<redacted>@remote.invalid:9/ is plain http"),
        "{printed}"
    );
    assert!(!printed.contains("127.0.0.1@"), "{printed}");
    assert!(
        !w.read("s.json").contains("127.0.0.1@"),
        "{}",
        w.read("s.json")
    );
}

#[test]
fn run_ids_are_valid_v4_uuids() {
    for _ in 0..200 {
        let id = cognito_reset::journal::RunLine::now().run;
        let uuid = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        assert_eq!(uuid.hyphenated().to_string(), id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_run_that_exits_non_zero_prints_its_one_line_result() {
    let s = Scenario::new("pr-quiet").file("in.txt", "alice\nmissing-bob\nunverified-carol\n");
    let out = s.run(&["in.txt", "--yes", "--quiet"]).await;
    let err = &out.stderr;
    assert_eq!(out.code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for expected in [
        "cognito-reset: finished with exit 1: ",
        "1 user left with a working password",
        "2 failed",
        "; report in.report.csv",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    s.write("ok.txt", "dave\n");
    let out = s.run(&["ok.txt", "--yes", "--quiet"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "", "exit 0 with --quiet says nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_man_and_completions_to_a_closed_or_full_stdout_fail() {
    let w = Workdir::new("pr-closed-stdout");
    for args in [
        vec!["man"],
        vec!["--help"],
        vec!["-h"],
        vec!["--version"],
        vec!["completions", "bash"],
    ] {
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", "exec \"$0\" \"$@\" >&-", BIN])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = tokio::process::Command::from(sh).output().await.unwrap();
        assert_ne!(out.status.code(), Some(0), "{args:?} >&-: {}", stderr(&out));
        assert!(out.status.code().is_some(), "{args:?} exits, not killed");
        assert!(
            stderr(&out).contains("standard output"),
            "{args:?}: {}",
            stderr(&out)
        );

        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        // `output()` would make standard output a pipe again.
        let child = bare(&w.dir, &args).stdout(full).spawn().unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} >/dev/full: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("standard output"),
            "{args:?}: {}",
            stderr(&out)
        );

        let out = bare(&w.dir, &args).output().await.unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} to a pipe: {}",
            stderr(&out)
        );
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_flags_leave_the_summary_and_say_it_is_an_earlier_runs() {
    let w = Workdir::new("pr-unreadable-flags");
    w.write("in.txt", "alice\n");
    let earlier = "{\n  \"tool\": \"cognito-reset\",\n  \"exit_code\": 0\n}\n";
    for args in [
        vec!["in.txt", "--summary", "s.json", "--bogus"],
        vec!["in.txt", "--format", "xml", "--summary", "s.json"],
        vec!["--summary=s.json", "--yes"],
    ] {
        w.write("s.json", earlier);
        let out = bare(&w.dir, &args).output().await.unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("error:"), "clap's own message: {err}");
        assert!(
            err.contains(
                "the flags could not be read, so no summary was written; s.json still holds \
                 an earlier run's summary"
            ),
            "{args:?}: {err}"
        );
        assert_eq!(w.read("s.json"), earlier, "{args:?}");
    }
    let out = bare(&w.dir, &["in.txt", "--bogus"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("summary"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_runs_summary_claims_no_end() {
    let s = Scenario::new("pr-no-end")
        .sim(|c| c.latency = Duration::from_millis(20))
        .file("in.txt", &users(200));
    let args = ["in.txt", "--yes", "--rate", "20", "--summary", "s.json"];
    let running = s.spawn(&args).await;
    running.wait_for_rows(2).await;
    let live = s.json("s.json");
    assert!(live["ended_at"].is_null(), "while running: {live:#}");
    running.signal(libc::SIGKILL);
    let out = running.finish().await;
    assert_eq!(out.code, None, "killed");
    let left = s.json("s.json");
    assert!(left["ended_at"].is_null(), "killed: {left:#}");
    assert!(left["exit_code"].is_null(), "killed: {left:#}");

    s.write("done.txt", "alice\n");
    let out = s.run(&["done.txt", "--yes", "--summary", "d.json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let done = s.json("d.json");
    let (start, end) = (
        done["started_at"].as_str().unwrap(),
        done["ended_at"].as_str(),
    );
    assert!(end.is_some_and(|end| end >= start), "{done:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_paths_keep_their_mode() {
    let w = Scenario::new("pr-refused-mode").file("in.txt", "alice\n");
    let notes = w.write("notes.txt", "keep me\n");
    let list = w.write("list.txt", "breakglass\n");
    let other = w.write("other.csv", "a,b\n1,2\n");
    let empty = w.write("empty.txt", "");
    for path in [&notes, &list, &other, &empty] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    for args in [
        vec!["in.txt", "--yes", "--summary", "notes.txt"],
        vec![
            "in.txt",
            "--yes",
            "--exclude",
            "list.txt",
            "--summary",
            "list.txt",
        ],
        vec!["in.txt", "--yes", "--report", "other.csv", "--overwrite"],
        vec!["in.txt", "--yes", "--report", "other.csv", "--resume"],
        vec![
            "in.txt",
            "--yes",
            "--exclude",
            "empty.txt",
            "--summary",
            "empty.txt",
        ],
    ] {
        let out = w.run(&args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        for (path, text) in [
            (&notes, "keep me\n"),
            (&list, "breakglass\n"),
            (&other, "a,b\n1,2\n"),
            (&empty, ""),
        ] {
            assert_eq!(std::fs::read_to_string(path).unwrap(), text, "{args:?}");
            assert_eq!(mode(path), 0o644, "{args:?}: {}", path.display());
        }
    }
    assert_eq!(w.calls("AdminResetUserPassword"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn piped_runs_started_together_get_distinct_default_reports() {
    let w = Scenario::new("pr-piped-names");
    // Start both just after a second begins, as two cron jobs would.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into_next = Duration::from_millis(1020) - Duration::from_nanos(now.subsec_nanos().into());
    tokio::time::sleep(into_next).await;
    let mut children = Vec::new();
    for _ in 0..2 {
        children.push(w.spawn_piped(&["-", "--yes"]).await);
    }
    for child in &mut children {
        let mut stdin = child.stdin();
        stdin.write_all(b"username\nalice\n").await.unwrap();
    }
    for child in children {
        let out = child.finish().await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let mut reports: Vec<String> = std::fs::read_dir(&w.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".report.csv"))
        .collect();
    reports.sort();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for name in &reports {
        assert!(name.starts_with("cognito-reset-"), "{name}");
        assert_eq!(w.report(name).len(), 1, "{name}");
    }
    assert_eq!(w.resets("alice"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_off_a_terminal_without_yes_is_refused() {
    let w = Workdir::new("pr-simulate-asks");
    w.write("in.txt", "alice\n");
    let out = bare(&w.dir, &["in.txt", "--simulate"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert!(!w.path("in.report.csv").exists());
    let out = bare(&w.dir, &["in.txt", "--simulate", "--dry-run"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a dry run asks nothing: {}",
        stderr(&out)
    );
    let out = bare(&w.dir, &["in.txt", "--simulate", "--yes"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.report("in.report.csv")[0]["outcome"], "reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_input_has_its_sha256_recorded() {
    let w = Scenario::new("pr-stream-sha");
    let bytes = b"\xef\xbb\xbfusername\r\nalice\r\n\r\nbob\n".to_vec();
    let mut child = w.spawn_piped(&["-", "--yes", "--summary", "s.json"]).await;
    let mut stdin = child.stdin();
    stdin.write_all(&bytes).await.unwrap();
    drop(stdin);
    let out = child.finish().await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let summary = w.json("s.json");
    let expected: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(summary["input"]["source"], "stdin", "{summary:#}");
    assert_eq!(summary["input"]["sha256"], expected.as_str(), "{summary:#}");
    // A stream the run stopped reading has no digest of the whole input.
    let args = [
        "-",
        "--yes",
        "--summary",
        "t.json",
        "--report",
        "t.report.csv",
    ];
    let mut child = w.spawn_piped(&args).await;
    let mut stdin = child.stdin();
    stdin.write_all(b"username\nalice\ncarol\n").await.unwrap();
    child.wait_for_rows(2).await;
    child.signal(libc::SIGTERM);
    let out = child.finish().await;
    assert_eq!(out.code, Some(143), "{}", out.stderr);
    drop(stdin);
    let stopped = w.json("t.json");
    assert!(stopped["input"]["sha256"].is_null(), "{stopped:#}");
}

/// Regression: with `-q` a run that left something to resume printed two
/// lines (the result, then "to resume: …"), though the promise to a cron
/// mail is the result in one line.
#[tokio::test(flavor = "multi_thread")]
async fn quiet_prints_one_line_with_the_resume_command_in_it() {
    let s = Scenario::new("quiet-one-line")
        .sim(|c| {
            c.deny.insert("AdminResetUserPassword".into());
        })
        .file("in.txt", "alice\nbob\n");
    let out = s.run(&["in.txt", "--yes", "-q"]).await;
    out.assert_code(3);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("exit 3"), "{}", out.stderr);
    assert!(lines[0].contains("to resume: "), "{}", out.stderr);
}
