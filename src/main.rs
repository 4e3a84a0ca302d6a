//! `cognito-reset`: parse, wire the signals, run, exit. Everything else is
//! in the library.

use std::sync::Arc;

use clap::Parser;
use cognito_reset::exit::EXIT_CANNOT_START;
use cognito_reset::shutdown::{self, STOP_SIGNALS, Stop};
use tokio::signal::unix::{SignalKind, signal};

fn main() {
    shutdown::guard_standard_streams();
    // Asked before any handler is installed: a signal ignored at start
    // (SIGHUP under nohup) stays ignored.
    let ignored: Vec<i32> = STOP_SIGNALS
        .into_iter()
        .filter(|s| shutdown::ignored_at_start(*s))
        .collect();
    let cli = cognito_reset::cli::Cli::parse();
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
        match tokio::spawn(cognito_reset::run::main(cli, stop)).await {
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
                    std::process::exit(128 + number);
                }
            }
        });
    }
}
