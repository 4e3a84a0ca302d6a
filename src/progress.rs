//! The only owner of the terminal while a run is under way.
//!
//! Workers and the report writer bump the atomics in [`Stats`]; the progress
//! task samples them: an indicatif bar on a terminal, one log line every
//! [`LOG_EVERY`] off a terminal (cron, CI), nothing with `--quiet`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// Interval between progress lines when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Live counters, written by workers and the writer, read by the progress task.
#[derive(Debug, Default)]
pub struct Stats {
    /// Rows recorded in the report.
    pub done: AtomicU64,
    /// Rows recorded `reset` (or `would_reset`).
    pub reset: AtomicU64,
    /// Rows recorded `failed` (or `would_fail`).
    pub failed: AtomicU64,
    /// Rows waiting to retry.
    pub retrying: AtomicU64,
    /// API calls sent.
    pub calls: AtomicU64,
    /// Calls answered with TooManyRequestsException.
    pub throttled: AtomicU64,
}

impl Stats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar on the terminal.
    Bar,
    /// A line every [`LOG_EVERY`].
    Log,
    /// Nothing.
    Quiet,
}

/// Shows progress until `done` is cancelled. `total` is the row count when known.
pub async fn show(
    display: Display,
    stats: Arc<Stats>,
    total: Option<u64>,
    done: CancellationToken,
) {
    let started = Instant::now();
    let line = |stats: &Stats| {
        let calls = Stats::get(&stats.calls);
        format!(
            "reset {} · failed {} · retrying {} · throttled {} · {:.1} calls/s",
            Stats::get(&stats.reset),
            Stats::get(&stats.failed),
            Stats::get(&stats.retrying),
            Stats::get(&stats.throttled),
            calls as f64 / started.elapsed().as_secs_f64().max(1e-3)
        )
    };
    match display {
        Display::Quiet => done.cancelled().await,
        Display::Log => loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(LOG_EVERY) => {}
            }
            let rows = Stats::get(&stats.done);
            let of = total.map(|t| format!("/{t}")).unwrap_or_default();
            eprintln!(
                "progress: {rows}{of} rows · {} · {:.0}s",
                line(&stats),
                started.elapsed().as_secs_f64()
            );
        },
        Display::Bar => {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if total.is_some() {
                "{bar:30.cyan/blue} {pos}/{len} rows · eta {eta} · {msg}"
            } else {
                "{spinner} {pos} rows · {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            loop {
                bar.set_position(Stats::get(&stats.done));
                bar.set_message(line(&stats));
                tokio::select! {
                    _ = done.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            bar.set_position(Stats::get(&stats.done));
            bar.finish_and_clear();
        }
    }
}
