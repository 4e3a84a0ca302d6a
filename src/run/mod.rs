//! One run, start to finish: the only place that knows the order of things.
//!
//! The phases, each a function from the previous phase's value to its own,
//! so that none can run before the one that produces its input:
//!
//! ```text
//! Config ─prepare─▶ Prepared ─check─▶ Checked ─plan, confirm─▶ (yes)
//!        ─open─▶ Opened ─execute─▶ Executed ─finish─▶ exit code
//! ```
//!
//! `prepare` reads the input, the exclusions and the credentials; `check`
//! claims the report and asks Cognito about the pools, the caller and the
//! listing; `plan` shows what will happen and asks; `execute` opens the
//! outputs and runs the rows; `finish` keeps the record. Everything before
//! the confirmation is read-only: no call that changes anything is sent
//! before the operator said yes, and a run that cannot start leaves no
//! report or journal behind.

use std::sync::Arc;

use crate::audit;
use crate::cli::{Cli, Command, RunArgs, SimulatorArgs};
use crate::config::Config;
use crate::exit::{EXIT_OK, StartError};
use crate::journal::RunLine;
use crate::progress::{self, Verbosity, say, say_unless_quiet};
use crate::shutdown::{ClosedAtStart, Stop};
use crate::simulator::{self, Simulator};

mod check;
mod execute;
mod finish;
mod plan;
mod prepare;
mod watch;

/// Reads the command line; `Err` holds the exit code of a process that
/// has nothing more to do. The help and the version are printed here and
/// checked like any output (clap's own printing ignores a failed write).
/// Flags that cannot be read end with clap's message and exit code, and —
/// since no summary can be written without knowing its path for sure — a
/// line saying that a summary the arguments name is not this run's.
pub fn parse(closed: ClosedAtStart) -> Result<Cli, i32> {
    use clap::error::ErrorKind;
    let e = match <Cli as clap::Parser>::try_parse() {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let text = e.render();
            let text = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                text.ansi().to_string()
            } else {
                text.to_string()
            };
            let what = match e.kind() {
                ErrorKind::DisplayHelp => "the help",
                _ => "the version",
            };
            Err(crate::cli::print_output(what, text.as_bytes(), closed))
        }
        _ => {
            let _ = e.print();
            let args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
            audit::say_flags_unread(args);
            Err(e.exit_code())
        }
    }
}

/// Runs what the command line asks; returns the process exit code. `stop`
/// is the cancellation `main` wired to the signals; `closed`, the standard
/// streams that were closed at start.
pub async fn main(cli: Cli, stop: Arc<Stop>, closed: ClosedAtStart) -> i32 {
    match cli.command {
        Some(Command::Simulator(args)) => serve_simulator(args, stop).await,
        Some(Command::Completions { shell }) => crate::cli::completions(shell, closed),
        Some(Command::Man) => crate::cli::man_page(closed),
        Some(Command::Verify(args)) => crate::verify::run(&args),
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
            audit::write_refused_flags(&args, &e.to_string(), code);
            return code;
        }
    };
    init_tracing(config.verbosity);
    let line = RunLine::now();
    {
        let (config, line) = (config.clone(), line.clone());
        stop.on_exit_now(move |signal| audit::write_ended_at_once(&config, &line, signal));
    }
    let kept = config.clone();
    // A run that cannot start says so in its summary too.
    let failed = |e: StartError| {
        let (code, why) = stopped_or(&stop, &e);
        audit::write_failure(&kept, &line, &why, code);
        code
    };
    let prepared = match prepare::prepare(config, line.clone(), stop.clone()).await {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let checked = match check::check(prepared).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    say_unless_quiet(checked.ctx.config.verbosity, &plan::render(&checked));
    if let Err(e) = plan::confirm(&checked).await {
        return failed(e);
    }
    // A signal during the preflight or the plan: nothing was sent, so no
    // report is made for it.
    if stop.is_stopped() {
        return failed(StartError::NotConfirmed("stopped".into()));
    }
    let opened = match execute::open(checked) {
        Ok(o) => o,
        Err(e) => return failed(e),
    };
    finish::finish(execute::execute(opened).await)
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
