//! The terminal as the operator sees it, through a pseudo-terminal: the
//! plan, the confirmation prompt, the progress bar with its counts and rates,
//! the summary.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// A pseudo-terminal: the master side for the test, the slave for the child.
fn pty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 160,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty with valid out-pointers and a valid winsize.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: openpty returned two open descriptors that we now own.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Runs the binary with `args` (all of them) on a terminal, answering
/// `answer` at the prompt; returns everything the terminal showed and the
/// exit code.
fn on_terminal(dir: &std::path::Path, args: &[String], answer: &str) -> (String, Option<i32>) {
    let (mut master, slave) = pty();
    let mut cmd = child(BIN, dir);
    cmd.args(args)
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child's side is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut answered = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        while let Ok(chunk) = rx.try_recv() {
            seen.extend(chunk);
        }
        if !answered && String::from_utf8_lossy(&seen).contains("[y/N]") {
            master.write_all(answer.as_bytes()).unwrap();
            answered = true;
        }
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            while let Ok(chunk) = rx.try_recv() {
                seen.extend(chunk);
            }
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&seen)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (String::from_utf8_lossy(&seen).into_owned(), code)
}

/// A run of the scenario with `args` on a terminal, off the async runtime.
async fn on_screen(s: &Scenario, args: &[&str], answer: &str) -> (String, Option<i32>) {
    let args = s.full_args(args).await;
    let dir = s.dir.clone();
    let answer = answer.to_owned();
    tokio::task::spawn_blocking(move || on_terminal(&dir, &args, &answer))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_sees_the_plan_confirms_and_watches_the_bar() {
    let s = Scenario::new("tty-yes").file("in.txt", &users(250));
    let args = [
        "in.txt",
        "--global-sign-out",
        "--rate",
        "100",
        "--sign-out-rate",
        "100",
    ];
    let (screen, code) = on_screen(&s, &args, "y\n").await;
    assert_eq!(code, Some(0), "{screen}");
    for expected in [
        "plan: RESET PASSWORDS",
        "estimated duration",
        "Reset these users' passwords? [y/N]",
        "rows · eta",
        "signed out",
        "resets/s",
        "sign-outs/s",
        "summary: RESET PASSWORDS",
        "signed out 250",
    ] {
        assert!(
            screen.contains(expected),
            "missing {expected:?} in:\n{screen}"
        );
    }
    assert_eq!(s.resets("user0250"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn answering_no_sends_nothing_and_leaves_nothing() {
    let s = Scenario::new("tty-no").file("in.txt", &users(5));
    let (screen, code) = on_screen(&s, &["in.txt"], "n\n").await;
    assert_eq!(code, Some(2), "{screen}");
    assert!(screen.contains("not confirmed"), "{screen}");
    assert_eq!(s.calls("AdminResetUserPassword"), 0);
    assert!(!s.exists("in.report.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_lines_print_above_the_bar_and_quiet_prints_only_errors() {
    let s = Scenario::new("tty-verbose").file("in.txt", &format!("{}missing-zed\n", users(100)));
    let args = ["in.txt", "--yes", "-v", "--rate", "100"];
    let (screen, code) = on_screen(&s, &args, "").await;
    assert_eq!(code, Some(1), "{screen}");
    let line = screen
        .lines()
        .find(|l| l.contains("missing-zed"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        line.contains("line 101: missing-zed failed: UserNotFoundException"),
        "{line:?}"
    );
    assert!(
        screen.contains("rows · eta"),
        "the bar is shown too: {screen}"
    );
    // A report of its own: overwriting one that records resets would ask.
    let quiet = ["in.txt", "--yes", "--quiet", "--report", "q.report.csv"];
    let (screen, code) = on_screen(&s, &quiet, "").await;
    assert_eq!(code, Some(1), "{screen}");
    assert_eq!(
        screen.trim(),
        "cognito-reset: finished with exit 1: 1 failed; report q.report.csv",
        "--quiet prints the result line only"
    );
}

/// Regression: `--overwrite` of a report that recorded resets reset every
/// earlier user again without a word; on a terminal it now asks, `--yes`
/// or not, and the answer no sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn overwriting_a_report_with_resets_asks_on_a_terminal_even_with_yes() {
    let s = Scenario::new("tty-overwrite").file("in.txt", &users(3));
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    let args = ["in.txt", "--yes", "--overwrite"];
    let (screen, code) = on_screen(&s, &args, "n\n").await;
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("records 3 users as reset or disabled")
            && screen.contains("Reset 3 users again, with a second code? [y/N]"),
        "{screen}"
    );
    assert_eq!(s.resets("user0001"), 1, "nothing sent again");
}

/// Regression: answering N at a resume's prompt replaced the finished
/// run's summary ("reset 2", exit 0) with "could not start: not confirmed",
/// destroying the audit record of what was done.
#[tokio::test(flavor = "multi_thread")]
async fn answering_no_to_a_resume_keeps_the_finished_runs_summary() {
    let s = Scenario::new("term-no-keeps").file("in.txt", "alice\nbob\n");
    s.run(&["in.txt", "--yes", "--summary", "s.json"])
        .await
        .assert_code(0);
    let before = s.read("s.json");
    let args = ["in.txt", "--resume", "--summary", "s.json"];
    let (screen, code) = on_screen(&s, &args, "n\n").await;
    assert_eq!(code, Some(2), "{screen}");
    assert_eq!(
        s.read("s.json"),
        before,
        "the finished run's record is kept"
    );
    assert!(screen.contains("s.json"), "{screen}");
}
