//! Starting processes for the tests: the binary under test (or a shell that
//! runs it) with an environment of its own and the signal dispositions a
//! terminal gives, whatever the test process itself inherited.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cognito-reset");

/// Signals a child starts with at their default disposition. `nohup cargo
/// test` ignores SIGHUP and a background `cargo test &` SIGINT; the tool
/// rightly keeps a signal ignored at start, so a child inheriting that would
/// survive the very signal a test sends it.
pub const DEFAULT_SIGNALS: [i32; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGPIPE,
];

/// Makes `cmd`'s child start with [`DEFAULT_SIGNALS`] at their default
/// disposition and no signal blocked.
pub fn default_signals(cmd: &mut Command) -> &mut Command {
    // SAFETY: between fork and exec the closure makes only async-signal-safe
    // calls (signal, sigemptyset, sigprocmask) on memory of its own stack,
    // and builds its errors from errno without allocating.
    unsafe {
        cmd.pre_exec(|| {
            for sig in DEFAULT_SIGNALS {
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Dummy credentials and nothing from the developer's AWS set-up.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTONLY")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// `program` in `dir`, with the clean environment and default signals, no
/// standard input, and its output captured.
pub fn child(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    default_signals(&mut cmd);
    cmd
}

/// The binary with `args` alone (no endpoint, no pool), where the tests run.
pub fn bin(args: &[&str]) -> tokio::process::Command {
    let mut cmd = child(BIN, Path::new("."));
    cmd.args(args);
    cmd.into()
}

/// A command for the binary, aimed at the endpoint `url`, in `dir`.
pub fn command_at(dir: &Path, url: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = child(BIN, dir);
    cmd.args(args).args(["--endpoint-url", url]);
    cmd.into()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Sends `signal` to the process `pid`.
pub fn signal_pid(pid: u32, signal: i32) {
    // SAFETY: kill() on a pid the test spawned and has not reaped.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Sends `signal` to a running child.
pub fn signal(child: &tokio::process::Child, signal: i32) {
    signal_pid(child.id().expect("the child is running"), signal);
}

/// `arg` quoted for `sh`.
pub fn sh_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}
