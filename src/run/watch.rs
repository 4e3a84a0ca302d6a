//! While the rows run: the summary file kept current, so that a second
//! terminal can watch a run of many hours, and a stop announced at once
//! with what it still waits for.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::audit::{self, ProgressRecord, Summary};
use crate::pause::{Pauses, time_lost};
use crate::progress::{Stats, Verbosity, say_unless_quiet};
use crate::retry::STOP_GRACE;
use crate::shutdown::Stop;

/// How often the summary file is rewritten while the run goes on.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);
/// The window over which the current pace is measured.
const PACE_WINDOW: Duration = Duration::from_secs(60);

/// What the summary file is rewritten from.
pub struct Keeper {
    /// `--summary`.
    pub path: PathBuf,
    /// The summary as it stood when the rows began (who, what, the pools).
    pub base: Summary,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// The pauses so far.
    pub pauses: Arc<Pauses>,
    /// Rows in the input, when known.
    pub total: Option<u64>,
    /// When the run started.
    pub started: std::time::SystemTime,
}

/// Rewrites the summary file (atomically) every [`SUMMARY_EVERY`] with the
/// counts so far, the pace, the ETA and any pause going on, until `done`.
pub async fn keep_summary(keeper: Keeper, done: CancellationToken) {
    let mut samples: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut failed = false;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep(SUMMARY_EVERY) => {}
        }
        let rows = Stats::get(&keeper.stats.done);
        let now = Instant::now();
        samples.push_back((now, rows));
        while samples.len() > 2 && now - samples[0].0 > PACE_WINDOW {
            samples.pop_front();
        }
        let pace = match (samples.front(), samples.len()) {
            (Some(&(at, from)), 2..) => (rows - from) as f64 / (now - at).as_secs_f64(),
            _ => 0.0,
        };
        let summary = current(&keeper, rows, pace);
        // Said once: the final write says it again, and decides the exit.
        if let Err(e) = audit::write_summary(&keeper.path, &summary)
            && !failed
        {
            failed = true;
            crate::progress::say(&format!(
                "cognito-reset: cannot write the summary {}: {e}",
                crate::progress::escape(&keeper.path.display().to_string())
            ));
        }
    }
}

fn current(keeper: &Keeper, rows: u64, pace: f64) -> Summary {
    let stats = &keeper.stats;
    let mut summary = keeper.base.clone();
    // Still going: no end is claimed.
    let now = crate::clock::now_rfc3339();
    summary.elapsed_seconds = keeper.started.elapsed().map_or(0.0, |d| d.as_secs_f64());
    summary.pauses = keeper.pauses.records(false);
    summary.time_lost_seconds = time_lost(&summary.pauses);
    let eta = keeper
        .total
        .filter(|_| pace > 0.0)
        .map(|total| total.saturating_sub(rows) as f64 / pace);
    summary.progress = Some(ProgressRecord {
        updated_at: now,
        rows_done: rows,
        rows_total: keeper.total,
        reset: Stats::get(&stats.reset),
        failed: Stats::get(&stats.failed),
        disabled: Stats::get(&stats.disabled),
        signed_out: Stats::get(&stats.signed_out),
        in_flight: Stats::get(&stats.in_flight),
        retrying: Stats::get(&stats.retrying),
        waiting: keeper.pauses.waiting(),
        rows_per_second: pace,
        eta_seconds: eta,
    });
    summary
}

/// Once the run begins to stop, says at once how long it waits for the
/// calls still in flight, and what becomes of them.
pub async fn announce_stop(
    stop: Arc<Stop>,
    stats: Arc<Stats>,
    verbosity: Verbosity,
    done: CancellationToken,
) {
    tokio::select! {
        _ = done.cancelled() => return,
        _ = stop.stopped() => {}
    }
    let in_flight = Stats::get(&stats.in_flight);
    if in_flight == 0 {
        return;
    }
    say_unless_quiet(
        verbosity,
        &format!(
            "stopping: waiting up to {} s for {in_flight} calls in flight (a call left \
             unanswered is given up: a reset's journal intent stays, and --resume checks that \
             user before sending anything again)",
            STOP_GRACE.as_secs()
        ),
    );
}
