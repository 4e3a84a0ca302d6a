//! `cognito-reset`: guard the standard streams, parse, wire the signals,
//! run, exit. Everything else is in the library.

use std::sync::Arc;

use cognito_reset::exit::EXIT_CANNOT_START;
use cognito_reset::shutdown::{self, STOP_SIGNALS, Stop};
use tokio::signal::unix::{SignalKind, signal};

/// Runs as the binary is loaded, before the Rust runtime reopens closed
/// standard streams on `/dev/null`: only then can a closed standard output
/// be told from one sent to `/dev/null` (`man >&-` must fail, not print
/// into nothing and exit 0).
#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android", target_os = "freebsd"),
    unsafe(link_section = ".init_array")
)]
#[cfg_attr(
    target_vendor = "apple",
    unsafe(link_section = "__DATA,__mod_init_func")
)]
static NOTE_CLOSED_STREAMS: extern "C" fn() = {
    extern "C" fn note() {
        shutdown::note_closed_streams();
    }
    note
};

/// Small blocks from mimalloc, large ones from the system allocator (see
/// `allocator`).
#[global_allocator]
static ALLOCATOR: cognito_reset::allocator::Split = cognito_reset::allocator::Split;

fn main() {
    let closed = shutdown::guard_standard_streams();
    shutdown::ignore_file_size_signal();
    // Asked before any handler is installed: a signal ignored at start
    // (SIGHUP under nohup) stays ignored.
    let ignored: Vec<i32> = STOP_SIGNALS
        .into_iter()
        .filter(|s| shutdown::ignored_at_start(*s))
        .collect();
    let cli = match cognito_reset::run::parse(closed) {
        Ok(cli) => cli,
        Err(code) => std::process::exit(code),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            cognito_reset::progress::say(&format!(
                "cognito-reset: cannot start the async runtime: {e}"
            ));
            std::process::exit(EXIT_CANNOT_START);
        }
    };
    let stop = Arc::new(Stop::default());
    runtime.block_on(listen(stop.clone(), &ignored));
    // On a worker thread, not the main thread that `block_on` polls: waking
    // that thread costs a system call and a context switch every time.
    let code = runtime.block_on(async move {
        match tokio::spawn(cognito_reset::run::main(cli, stop, closed)).await {
            Ok(code) => code,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    });
    // Do not wait for a reader blocked on standard input or a FIFO.
    runtime.shutdown_background();
    std::process::exit(code);
}

/// The first stop signal stops the run gracefully; a second exits at once
/// (the report is flushed row by row, so it stays readable).
async fn listen(stop: Arc<Stop>, ignored: &[i32]) {
    for number in STOP_SIGNALS {
        if ignored.contains(&number) {
            continue;
        }
        let Ok(mut stream) = signal(SignalKind::from_raw(number)) else {
            continue;
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if !stop.signalled(number) {
                    stop.exit_now(number);
                }
            }
        });
    }
}
