//! The shared harness's own guarantees: each test is named after a way the
//! tests once went wrong because of the harness, not the binary.

mod common;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;

/// Set in the copy of this test binary that ignores the signals.
const PROBE: &str = "COGNITO_RESET_TESTS_SIGNAL_PROBE";

/// The signals `nohup` and a shell without job control leave ignored.
const INHERITED: [i32; 4] = [libc::SIGINT, libc::SIGHUP, libc::SIGTERM, libc::SIGQUIT];

/// A signal mask (`SigIgn`, `SigBlk`, …) of a process, from `/proc`.
fn mask(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

fn has(mask: u64, signal: i32) -> bool {
    mask & (1 << (signal - 1)) != 0
}

/// Regression: under `nohup cargo test`, or `cargo test &` from a shell
/// without job control, the test process ignores SIGHUP or SIGINT; the
/// binary's children inherited that, the binary rightly kept the signal
/// ignored, and the tests that stop a run with it saw the run carry on to exit
/// 0 where 129 or 130 was due. The check runs in a copy of this test binary
/// that ignores and blocks those signals, so that no other test's children
/// are disturbed.
#[tokio::test(flavor = "multi_thread")]
async fn children_inherited_the_ignored_sigint_and_sighup_of_a_nohup_or_background_cargo_test() {
    if std::env::var_os(PROBE).is_some() {
        return probe().await;
    }
    let name =
        "children_inherited_the_ignored_sigint_and_sighup_of_a_nohup_or_background_cargo_test";
    let mut copy = std::process::Command::new(std::env::current_exe().unwrap());
    copy.args([name, "--exact", "--nocapture"]).env(PROBE, "1");
    // SAFETY: only signal(), sigemptyset(), sigaddset() and sigprocmask()
    // between fork and exec, on a sigset of the closure's own stack.
    unsafe {
        copy.pre_exec(|| {
            let mut blocked: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut blocked);
            for sig in INHERITED {
                libc::signal(sig, libc::SIG_IGN);
                libc::sigaddset(&mut blocked, sig);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
            Ok(())
        });
    }
    let out = tokio::process::Command::from(copy).output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("1 passed"), "the copy ran no test: {said}");
}

/// In a process that ignores and blocks [`INHERITED`]: the binary started by
/// the harness has them at their default, unblocked, and stops on SIGINT.
async fn probe() {
    let own = mask("self", "SigIgn");
    assert!(INHERITED.iter().all(|s| has(own, *s)), "{own:x}");
    let s = Scenario::new("harness-signals");
    let args = ["-", "--yes", "--format", "lines", "--report", "r.csv"];
    let mut run = s.spawn_piped(&args).await;
    let mut stdin = run.stdin();
    stdin.write_all(b"alice\n").await.unwrap();
    stdin.flush().await.unwrap();
    run.wait_for_rows(1).await;
    let pid = run.pid().to_string();
    let (ignored, blocked) = (mask(&pid, "SigIgn"), mask(&pid, "SigBlk"));
    for sig in INHERITED {
        assert!(!has(ignored, sig), "signal {sig} ignored: {ignored:x}");
        assert!(!has(blocked, sig), "signal {sig} blocked: {blocked:x}");
    }
    run.signal(libc::SIGINT);
    let out = run
        .finish_within(Duration::from_secs(5))
        .await
        .expect("SIGINT stops the run");
    drop(stdin);
    out.assert_code(130);
}
