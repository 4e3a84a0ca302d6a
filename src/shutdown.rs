//! How a run stops early, and the one cancellation every stage watches.
//!
//! `main` creates the [`Stop`] and wires the signals to it; the library only
//! ever receives it. The first reason given is the one kept: a signal that
//! arrives while the run is already aborting does not change why it stopped.
//! Stopping means: no new call is sent, calls in flight finish and are
//! recorded, every row not yet called is recorded `cancelled`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio_util::sync::CancellationToken;

use crate::exit::{EXIT_SIGNAL_BASE, StartError};

/// The signals that stop a run gracefully: Ctrl-C, a service manager or CI
/// stopping the job, a closed terminal, Ctrl-\ on a terminal.
pub const STOP_SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// A signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT), by number.
    Signal(i32),
    /// A run-fatal error: nothing more can succeed.
    Fatal {
        /// The error code.
        code: String,
        /// The service's (or the local) message.
        message: String,
        /// What the operator should do about it.
        hint: String,
    },
    /// A pause (credentials refused, a region out) lasted longer than its
    /// wait: the run stops, resumably. Says what happened and what to do.
    WaitedOut(String),
    /// Too many rows failed.
    FailureRate {
        /// Failed rows.
        failed: u64,
        /// Attempted rows.
        attempted: u64,
        /// The threshold, percent.
        threshold: f64,
    },
}

impl StopReason {
    /// The exit code this reason gives: 128 + N for signal N, 3 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            StopReason::Signal(n) => EXIT_SIGNAL_BASE + n,
            _ => crate::exit::EXIT_ABORTED,
        }
    }
}

/// The name of a stop signal, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Signal(n) => write!(f, "stopped by {}", signal_name(*n)),
            StopReason::Fatal {
                code,
                message,
                hint,
            } => write!(f, "{code}: {message} — {hint}"),
            StopReason::WaitedOut(why) => f.write_str(why),
            StopReason::FailureRate {
                failed,
                attempted,
                threshold,
            } => write!(
                f,
                "{failed} of {attempted} attempted rows failed, more than --max-failure-rate {threshold}%"
            ),
        }
    }
}

/// What a run says before the process exits at once (a second signal):
/// given the signal, it leaves the record true.
type LastWords = Box<dyn Fn(i32) + Send + Sync>;

/// The run's cancellation, with the first reason given.
#[derive(Default)]
pub struct Stop {
    token: CancellationToken,
    reason: OnceLock<StopReason>,
    signals: AtomicU32,
    last_words: std::sync::Mutex<Option<LastWords>>,
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stop")
            .field("reason", &self.reason.get())
            .finish_non_exhaustive()
    }
}

impl Stop {
    /// Stops the run; the first reason is the one kept.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// A stop signal arrived. Returns `false` when one had arrived before:
    /// the caller then exits at once.
    pub fn signalled(&self, signal: i32) -> bool {
        let first = self.signals.fetch_add(1, Ordering::SeqCst) == 0;
        if first {
            self.stop(StopReason::Signal(signal));
        }
        first
    }

    /// What to do before the process exits at once on a second signal (the
    /// run keeps its summary true); replaces what was set before.
    pub fn on_exit_now(&self, words: impl Fn(i32) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.last_words.lock() {
            *slot = Some(Box::new(words));
        }
    }

    /// A second signal: says the last words, then exits 128 + `signal` at
    /// once.
    pub fn exit_now(&self, signal: i32) -> ! {
        if let Ok(slot) = self.last_words.try_lock()
            && let Some(words) = slot.as_ref()
        {
            words(signal);
        }
        // Said even with --quiet: a cron mail is never empty when the run
        // ended so.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "cognito-reset: stopped at once by a second {}, without waiting for calls in \
             flight; run the same command with --resume: it checks them and continues",
            signal_name(signal)
        );
        std::process::exit(EXIT_SIGNAL_BASE + signal)
    }

    /// Why the run stopped, if it did.
    pub fn reason(&self) -> Option<&StopReason> {
        self.reason.get()
    }

    /// Whether the run is stopping.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run is stopping.
    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// Runs blocking work (reading a file, opening a FIFO, waiting for an
/// answer at the terminal) on a thread of its own, without holding up the
/// signals: a stop ends the wait.
pub async fn blocking<T: Send + 'static>(
    stop: &Stop,
    work: impl FnOnce() -> Result<T, StartError> + Send + 'static,
) -> Result<T, StartError> {
    let task = tokio::task::spawn_blocking(work);
    tokio::select! {
        _ = stop.stopped() => Err(StartError::NotConfirmed("stopped".into())),
        result = task => result.unwrap_or_else(|e| Err(StartError::Usage(format!("reading the input failed: {e}")))),
    }
}

/// Whether `signal` was ignored when the process started (`nohup` ignores
/// SIGHUP; a shell ignores SIGINT for background jobs). Such a signal stays
/// ignored: the operator chose that the run survives it. Must be asked before
/// any handler is installed.
pub fn ignored_at_start(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current
    // disposition into `old`, which is a valid, zeroed sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Which standard streams were closed when the process started. They are
/// open on `/dev/null` since [`guard_standard_streams`]: a command whose
/// output is standard output must refuse, not write into nothing and exit 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosedAtStart {
    /// Standard input (fd 0).
    pub stdin: bool,
    /// Standard output (fd 1).
    pub stdout: bool,
    /// Standard error (fd 2).
    pub stderr: bool,
}

/// Standard streams found closed by [`note_closed_streams`].
static CLOSED_AT_LOAD: [AtomicBool; 3] = [const { AtomicBool::new(false) }; 3];

/// Notes which of file descriptors 0, 1 and 2 are closed. The binary calls
/// it as it is loaded, before the Rust runtime starts: the runtime reopens a
/// closed standard stream on `/dev/null` before `main`, after which it can
/// no longer be told from a stream sent to `/dev/null` on purpose.
pub fn note_closed_streams() {
    for (fd, closed) in CLOSED_AT_LOAD.iter().enumerate() {
        // SAFETY: F_GETFD on any integer is harmless.
        if unsafe { libc::fcntl(fd as i32, libc::F_GETFD) } == -1 {
            closed.store(true, Ordering::SeqCst);
        }
    }
}

/// Ignores SIGXFSZ: past a file-size limit (`ulimit -f`) a write then
/// fails with EFBIG, as on a full disk, and the run ends through its
/// write-failure path (its temporary files removed, its record said),
/// rather than being killed mid-write.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a standard signal's disposition to SIG_IGN.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Makes sure file descriptors 0, 1 and 2 are open (on `/dev/null` if they
/// were closed, as `2>&-` in a cron wrapper does), so that a file opened later
/// can never land on them and receive terminal output. Returns which were
/// closed at start: found closed now, or by [`note_closed_streams`].
pub fn guard_standard_streams() -> ClosedAtStart {
    let mut closed = [false; 3];
    for (fd, closed) in closed.iter_mut().enumerate() {
        *closed = CLOSED_AT_LOAD[fd].load(Ordering::SeqCst);
        let fd = fd as i32;
        // SAFETY: F_GETFD on any integer is harmless; open() of a constant
        // C string with valid flags.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                *closed = true;
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 && null != fd {
                    libc::dup2(null, fd);
                    libc::close(null);
                }
            }
        }
    }
    ClosedAtStart {
        stdin: closed[0],
        stdout: closed[1],
        stderr: closed[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept_and_a_second_signal_is_reported() {
        let stop = Stop::default();
        assert!(stop.signalled(libc::SIGTERM));
        stop.stop(StopReason::FailureRate {
            failed: 1,
            attempted: 2,
            threshold: 1.0,
        });
        assert_eq!(stop.reason(), Some(&StopReason::Signal(libc::SIGTERM)));
        assert!(
            !stop.signalled(libc::SIGINT),
            "the second signal exits at once"
        );
        assert_eq!(stop.reason().unwrap().exit_code(), 143);
        assert!(stop.is_stopped());
    }

    #[test]
    fn signal_exit_codes_are_128_plus_the_signal() {
        assert_eq!(StopReason::Signal(libc::SIGINT).exit_code(), 130);
        assert_eq!(StopReason::Signal(libc::SIGHUP).exit_code(), 129);
    }
}
