//! One run, start to finish: the only place that knows the order of things.
//!
//! prepare (flags, input survey, simulator, credentials) → preflight (pools,
//! rates, caller, report and resume checks) → plan → confirm → open the
//! outputs → execute → summarise. Everything before the confirmation is
//! read-only: no call that changes anything is sent before the operator said
//! yes, and a run that cannot start leaves no report or journal behind.

use std::io::IsTerminal;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, RunArgs, SimulatorArgs};
use crate::config::{Config, Source, Verbosity};
use crate::exit::{EXIT_OK, EXIT_ROW_FAILURES, StartError};
use crate::input::Item;
use crate::journal::RunLine;
use crate::progress::{self, Display, Show, say};
use crate::session::Session;
use crate::shutdown::Stop;
use crate::simulator::{self, Simulator};
use crate::{pool, session, summary};

/// Batches of items waiting between the reader and the dispatcher at most:
/// enough to keep workers busy, few enough that memory does not grow with
/// the input.
pub const ITEM_QUEUE: usize = 4;
/// Items per batch read from a file. A file never blocks, so the reader
/// hands rows over a batch at a time: one wake-up of the dispatcher per
/// batch, not per row. A stream (a pipe, a terminal) hands over each row as
/// it comes, for the next may be a long time coming.
pub const FILE_BATCH: usize = 256;

/// Runs what the command line asks; returns the process exit code. `stop`
/// is the cancellation `main` wired to the signals.
pub async fn main(cli: Cli, stop: Arc<Stop>) -> i32 {
    match cli.command {
        Some(Command::Simulator(args)) => serve_simulator(args, stop).await,
        Some(Command::Completions { shell }) => crate::cli::completions(shell),
        Some(Command::Man) => crate::cli::man_page(),
        None => run(cli.run, stop).await,
    }
}

async fn serve_simulator(args: Box<SimulatorArgs>, stop: Arc<Stop>) -> i32 {
    let config = match simulator::Config::from_knobs(&args.sim) {
        Ok(c) => c,
        Err(e) => return fail(&StartError::Usage(e)),
    };
    // The simulator answers anyone without credentials: loopback only.
    let loopback = std::net::ToSocketAddrs::to_socket_addrs(args.listen.as_str())
        .map(|mut addrs| addrs.all(|a| a.ip().is_loopback()))
        .unwrap_or(false);
    if !loopback {
        return fail(&StartError::Usage(format!(
            "--listen {}: the simulator listens on a loopback address only (127.0.0.1, ::1, localhost)",
            progress::escape(&args.listen)
        )));
    }
    let sim = match Simulator::start(&args.listen, config).await {
        Ok(sim) => sim,
        Err(e) => return fail(&StartError::io(&args.listen, e)),
    };
    let _ = progress::print_stdout(format!("simulator listening on {}\n", sim.url()).as_bytes());
    stop.stopped().await;
    EXIT_OK
}

/// Says why the run could not start; returns its exit code.
fn fail(e: &StartError) -> i32 {
    say(&format!("cognito-reset: {e}"));
    e.exit_code()
}

fn init_tracing(verbosity: Verbosity) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{Layer, filter};
    let level = match verbosity {
        Verbosity::Quiet => filter::LevelFilter::ERROR,
        Verbosity::Normal => filter::LevelFilter::WARN,
        Verbosity::Verbose => filter::LevelFilter::INFO,
        Verbosity::Calls => filter::LevelFilter::DEBUG,
    };
    let ours = filter::filter_fn(|m| m.target().starts_with("cognito_reset"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(progress::LogWriter)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_filter(level)
        .with_filter(ours);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

async fn run(args: RunArgs, stop: Arc<Stop>) -> i32 {
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            let code = fail(&e);
            summary::write_refused_flags(&args, &e.to_string(), code);
            return code;
        }
    };
    init_tracing(config.verbosity);
    let this_run = RunLine::now();
    summary::write_running(&config, &this_run, false);
    let kept = config.clone();
    // A run that cannot start says so in its summary too.
    let failed = |e: StartError| {
        let (code, why) = stopped_or(&stop, &e);
        summary::write_failure(&kept, &this_run, &why, code);
        code
    };
    let mut session = match Session::prepare(config, this_run.clone(), stop.clone()).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    if let Err(e) = session.preflight().await {
        return failed(e);
    }
    say_unless_quiet(&session.config, &session.plan());
    if let Err(e) = session.confirm().await {
        return failed(e);
    }
    // A signal during the preflight or the plan: nothing was sent, so no
    // report is made for it.
    if stop.is_stopped() {
        return failed(StartError::NotConfirmed("stopped".into()));
    }
    let outputs = match session.open_outputs() {
        Ok(o) => o,
        Err(e) => return failed(e),
    };
    summary::write_running(&session.config, &this_run, true);
    let executed = execute(&mut session, outputs).await;
    session.summarise(executed)
}

/// Says why the run could not start; a signal that arrived meanwhile decides
/// the exit code. Returns the code and the reason.
fn stopped_or(stop: &Stop, e: &StartError) -> (i32, String) {
    match stop.reason() {
        Some(reason) => {
            let why = format!("{reason} before anything was sent");
            say(&format!("cognito-reset: {why}"));
            (reason.exit_code(), why)
        }
        None => (fail(e), e.to_string()),
    }
}

/// Prints unless `--quiet`.
pub fn say_unless_quiet(config: &Config, text: &str) {
    if config.verbosity > Verbosity::Quiet {
        say(text);
    }
}

/// How a run went, for the summary.
pub struct Executed {
    /// What the writer counted and must keep.
    pub finished: pool::FinishedRun,
    /// Wall time of the execute phase.
    pub elapsed: std::time::Duration,
    /// Calls per category made before it (the preflight's).
    pub calls_before: [u64; 5],
}

/// The execute phase: rows in, workers, report out; progress on the terminal.
async fn execute(session: &mut session::Session, outputs: session::Outputs) -> Executed {
    let (items_tx, items_rx) = mpsc::channel(ITEM_QUEUE);
    session.feed(items_tx);
    let progress_done = CancellationToken::new();
    let progress_task = tokio::spawn(progress::show(show_of(session), progress_done.clone()));
    let started = std::time::Instant::now();
    let calls_before = session.stats.snapshot();
    let pipeline = session.pipeline(outputs.journal);
    let finished = pool::execute(items_rx, pipeline, outputs.writer).await;
    let elapsed = started.elapsed();
    progress_done.cancel();
    let _ = progress_task.await;
    Executed {
        finished: pool::FinishedRun {
            finished,
            journal_file: outputs.journal_file,
            summary_file: outputs.summary_file,
        },
        elapsed,
        calls_before,
    }
}

fn show_of(session: &session::Session) -> Show {
    let config = &session.config;
    let display = match config.verbosity {
        Verbosity::Quiet => Display::Quiet,
        _ if std::io::stderr().is_terminal() => Display::Bar,
        _ => Display::Log,
    };
    Show {
        display,
        stats: session.stats.clone(),
        total: session.survey.as_ref().map(|s| s.rows),
        sign_out: config.policy.sign_out,
        categories: session.categories(),
    }
}

/// Reads items on a thread of its own (file and stdin reads block) into the
/// bounded queue, `batch` at a time; the thread ends at the end of the input
/// or when the queue's receiver is gone (the run stopped reading a stream).
pub fn feed_thread(
    reader: impl Iterator<Item = Item> + Send + 'static,
    tx: mpsc::Sender<Vec<Item>>,
    batch: usize,
) {
    let _ = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            let mut reader = reader.peekable();
            while reader.peek().is_some() {
                let items: Vec<Item> = reader.by_ref().take(batch.max(1)).collect();
                if tx.blocking_send(items).is_err() {
                    return;
                }
            }
        });
}

/// Whether confirmation can be asked: a terminal on both ends, and standard
/// input not being the data.
pub fn can_ask(config: &Config) -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && config.source != Source::Stdin
}

/// Exit code for a finished run that was not stopped.
pub fn finished_code(any_failure: bool) -> i32 {
    if any_failure {
        EXIT_ROW_FAILURES
    } else {
        EXIT_OK
    }
}
