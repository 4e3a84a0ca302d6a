//! The worker pool: dispatch, pacing, retries, cancellation.
//!
//! One dispatcher reads [`Item`]s in input order from a bounded queue, settles
//! what needs no call (invalid, duplicate, skipped, cancelled) and starts a
//! worker per row while fewer than `--concurrency` are in flight. Each worker
//! takes a region limiter permit before *every* call, retries with backoff,
//! and sends exactly one [`Record`] to the report writer, the only task that
//! touches the report.
//!
//! Stopping is passed in as [`Stop`]: Ctrl-C, a run-fatal error or the
//! failure-rate threshold cancel it; dispatching stops at once, calls in
//! flight finish and are recorded, and the rest of the input drains as
//! `cancelled` without calls.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cognito::{Aws, CallError, Class, Cognito, fatal_hint};
use crate::input::{Item, Row, region_of_pool, row_key};
use crate::journal::Journal;
use crate::limiter::{Limiter, Rate};
use crate::progress::Stats;
use crate::report::{Outcome, Record, ReportWriter};
use crate::retry::Backoff;
use crate::summary::Tally;

/// Records waiting for the writer at most.
const RECORD_QUEUE: usize = 1024;
/// Failure-rate aborts only after this many attempted rows (SPEC §2).
pub const FAILURE_RATE_MIN_ROWS: u64 = 200;

/// What each row's call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// AdminResetUserPassword.
    Reset,
    /// AdminGetUser only, predicting the reset's outcome.
    DryRun,
}

/// How rows are processed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reset or predict.
    pub mode: Mode,
    /// Also call AdminUserGlobalSignOut after a successful reset.
    pub sign_out: bool,
    /// Attempts per row, the first included.
    pub max_attempts: u32,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// `--client-metadata`, sent with every reset (row values win).
    pub client_metadata: Vec<(String, String)>,
    /// Abort when more than this percentage of attempted rows failed.
    pub max_failure_rate: f64,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// Ctrl-C.
    Interrupted,
    /// A run-fatal error.
    Fatal {
        /// The error code.
        code: String,
        /// The service's message.
        message: String,
    },
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

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Interrupted => write!(f, "interrupted"),
            StopReason::Fatal { code, message } => {
                write!(f, "{code}: {message} — {}", fatal_hint(code))
            }
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

/// The run's cancellation, with the first reason given.
#[derive(Debug, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: OnceLock<StopReason>,
}

impl Stop {
    /// Stops the run; the first reason is the one kept.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
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

/// A region's client and pace.
pub struct RegionCtx {
    /// The client.
    pub cognito: Cognito,
    /// The pace.
    pub limiter: Limiter,
}

/// Clients and limiters by region, made on first use for regions that the
/// plan did not know about (stdin input).
pub struct Regions {
    aws: Aws,
    rate: Rate,
    region_override: Option<String>,
    map: Mutex<HashMap<String, Arc<RegionCtx>>>,
}

impl Regions {
    /// `rate` applies to regions met later; `region_override` is `--region`.
    pub fn new(aws: Aws, rate: Rate, region_override: Option<String>) -> Regions {
        Regions {
            aws,
            rate,
            region_override,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The region a pool's calls go to.
    pub fn region_of<'a>(&'a self, pool: &'a str) -> &'a str {
        self.region_override
            .as_deref()
            .unwrap_or_else(|| region_of_pool(pool))
    }

    /// The context for a region, made at `rate` if new.
    pub fn region(&self, region: &str, rate: Rate) -> Arc<RegionCtx> {
        let mut map = self.map.lock().expect("regions lock");
        map.entry(region.to_owned())
            .or_insert_with(|| {
                Arc::new(RegionCtx {
                    cognito: self.aws.client(region),
                    limiter: Limiter::new(rate),
                })
            })
            .clone()
    }

    /// The context for a pool's region.
    pub fn for_pool(&self, pool: &str) -> Arc<RegionCtx> {
        self.region(self.region_of(pool), self.rate)
    }
}

/// What the previous run left, for `--resume`.
#[derive(Debug, Default)]
pub struct ResumeState {
    /// Rows whose latest outcome is `reset`/`skipped`: never called again.
    pub done: HashSet<u64>,
    /// Rows that may have had a call sent without a recorded outcome.
    pub uncertain: Uncertain,
}

/// Which rows must be checked with AdminGetUser before a reset.
#[derive(Debug, Default)]
pub enum Uncertain {
    /// None (a fresh run).
    #[default]
    None,
    /// These keys.
    Keys(HashSet<u64>),
    /// Every row (the journal was lost).
    All,
}

impl ResumeState {
    fn is_uncertain(&self, key: u64) -> bool {
        match &self.uncertain {
            Uncertain::None => false,
            Uncertain::Keys(keys) => keys.contains(&key),
            Uncertain::All => true,
        }
    }
}

/// Everything the workers share.
pub struct Pipeline {
    /// How rows are processed.
    pub settings: Settings,
    /// Clients and limiters.
    pub regions: Regions,
    /// From an earlier run.
    pub resume: ResumeState,
    /// Intent journal (real resets only).
    pub journal: Option<Journal>,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// Cancellation.
    pub stop: Arc<Stop>,
    /// `-v`: name every row that did not succeed on stderr as it ends.
    pub verbose: bool,
}

struct Ctx {
    pipeline: Pipeline,
    /// Pools found not to exist; their rows fail without calls.
    dead_pools: Mutex<HashSet<String>>,
}

/// What the writer reports when the run is over.
pub struct Finished {
    /// Counts.
    pub tally: Tally,
    /// The report, for a final sync.
    pub writer: ReportWriter,
    /// Rows whose last call may have taken effect unseen: they stay in the journal.
    pub uncertain: Vec<(String, String)>,
    /// A report write error, if one happened (the run was stopped).
    pub write_error: Option<String>,
}

/// Runs every item through the pool and the report writer.
pub async fn execute(
    mut items: mpsc::Receiver<Item>,
    pipeline: Pipeline,
    writer: ReportWriter,
) -> Finished {
    let stop = pipeline.stop.clone();
    let stats = pipeline.stats.clone();
    let concurrency = pipeline.settings.concurrency.max(1);
    let guard_rate =
        (pipeline.settings.mode == Mode::Reset).then_some(pipeline.settings.max_failure_rate);
    let (records, record_rx) = mpsc::channel(RECORD_QUEUE);
    let writer_task = tokio::spawn(write_records(
        record_rx,
        writer,
        stats.clone(),
        stop.clone(),
        guard_rate,
        pipeline.verbose,
    ));
    let ctx = Arc::new(Ctx {
        pipeline,
        dead_pools: Mutex::new(HashSet::new()),
    });
    // Each running worker holds one permit; acquiring them all at the end
    // waits for the last one.
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut seen: HashSet<u64> = HashSet::new();
    while let Some(item) = items.recv().await {
        let row = match item {
            Item::Invalid(i) => {
                let record = Record::local(
                    i.line,
                    &i.username,
                    &i.pool,
                    Outcome::Invalid,
                    i.code,
                    &i.message,
                );
                let _ = records.send(record).await;
                continue;
            }
            Item::Row(row) => row,
        };
        let key = row_key(&row.pool, &row.username);
        let settled = if !seen.insert(key) {
            Some((
                Outcome::Duplicate,
                "",
                "same user pool and username as an earlier row".to_owned(),
            ))
        } else if ctx.pipeline.resume.done.contains(&key) {
            Some((
                Outcome::Skipped,
                "",
                "already reset by an earlier run of this report".to_owned(),
            ))
        } else {
            None
        };
        if let Some((outcome, code, message)) = settled {
            let record = Record::local(row.line, &row.username, &row.pool, outcome, code, &message);
            let _ = records.send(record).await;
            continue;
        }
        let permit = tokio::select! {
            biased;
            _ = stop.stopped() => None,
            permit = slots.clone().acquire_owned() => permit.ok(),
        };
        let Some(permit) = permit else {
            let _ = records.send(cancelled(&row, &stop, None, 0)).await;
            continue;
        };
        let ctx = ctx.clone();
        let records = records.clone();
        tokio::spawn(async move {
            let record = work(&row, key, &ctx).await;
            let _ = records.send(record).await;
            drop(permit);
        });
    }
    let _ = slots.acquire_many(concurrency as u32).await;
    drop(records);
    writer_task.await.expect("report writer does not panic")
}

/// The report writer: the only task that writes the report.
async fn write_records(
    mut rx: mpsc::Receiver<Record>,
    mut writer: ReportWriter,
    stats: Arc<Stats>,
    stop: Arc<Stop>,
    max_failure_rate: Option<f64>,
    verbose: bool,
) -> Finished {
    let mut tally = Tally::default();
    let mut uncertain = Vec::new();
    let mut write_error = None;
    let (mut attempted, mut failed) = (0u64, 0u64);
    while let Some(record) = rx.recv().await {
        if write_error.is_none()
            && let Err(e) = writer.write(&record)
        {
            let message = format!("cannot write the report {}: {e}", writer.path());
            stop.stop(StopReason::Fatal {
                code: "ReportError".into(),
                message: message.clone(),
            });
            write_error = Some(message);
        }
        tally.add(&record);
        if verbose && record.outcome.is_failure() {
            eprintln!(
                "line {}: {} {}: {} {}",
                record.line,
                record.username,
                record.outcome.as_str(),
                record.error_code,
                record.error_message
            );
        }
        if record.uncertain {
            uncertain.push((record.user_pool_id.clone(), record.username.clone()));
        }
        Stats::bump(&stats.done);
        match record.outcome {
            Outcome::Reset | Outcome::WouldReset => Stats::bump(&stats.reset),
            Outcome::Failed | Outcome::WouldFail => Stats::bump(&stats.failed),
            _ => {}
        }
        if matches!(record.outcome, Outcome::Reset | Outcome::Failed) {
            attempted += 1;
            failed += u64::from(record.outcome == Outcome::Failed);
            if let Some(threshold) = max_failure_rate
                && attempted >= FAILURE_RATE_MIN_ROWS
                && failed as f64 * 100.0 > threshold * attempted as f64
                && !stop.is_stopped()
            {
                stop.stop(StopReason::FailureRate {
                    failed,
                    attempted,
                    threshold,
                });
            }
        }
    }
    Finished {
        tally,
        writer,
        uncertain,
        write_error,
    }
}

fn cancelled(row: &Row, stop: &Stop, last: Option<&CallError>, attempts: u32) -> Record {
    let why = match stop.reason() {
        Some(StopReason::Interrupted) | None => "not attempted: the run was interrupted".to_owned(),
        Some(reason) => format!("not attempted: the run was aborted ({reason})"),
    };
    let mut record = Record::local(
        row.line,
        &row.username,
        &row.pool,
        Outcome::Cancelled,
        last.map_or("", |e| e.code.as_str()),
        &why,
    );
    record.attempts = attempts;
    record
}

/// A row stopped before its next call; what it did so far stays on record.
fn cancel_row(
    row: &Row,
    stop: &Stop,
    last: Option<&CallError>,
    record: Record,
    started: Instant,
    uncertain: bool,
) -> Record {
    let mut r = cancelled(row, stop, last, record.attempts);
    r.request_id = record.request_id;
    r.duration_ms = started.elapsed().as_millis() as u64;
    r.uncertain = uncertain;
    r
}

fn ended(
    mut record: Record,
    outcome: Outcome,
    code: &str,
    message: &str,
    started: Instant,
) -> Record {
    record.outcome = outcome;
    record.error_code = code.to_owned();
    record.error_message = message.to_owned();
    record.duration_ms = started.elapsed().as_millis() as u64;
    record.completed_at = crate::report::now_rfc3339();
    record
}

/// Merges `--client-metadata` with the row's own (row values win).
fn metadata(global: &[(String, String)], row: &[(String, String)]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = global
        .iter()
        .filter(|(k, _)| !row.iter().any(|(rk, _)| rk == k))
        .cloned()
        .collect();
    merged.extend(row.iter().cloned());
    merged
}

/// One row, from first call to outcome.
async fn work(row: &Row, key: u64, ctx: &Ctx) -> Record {
    let p = &ctx.pipeline;
    let settings = &p.settings;
    let region = p.regions.for_pool(&row.pool);
    let started = Instant::now();
    let dry_run = settings.mode == Mode::DryRun;
    let metadata = metadata(&settings.client_metadata, &row.metadata);
    let mut record = Record::local(row.line, &row.username, &row.pool, Outcome::Failed, "", "");
    // Check with AdminGetUser before the next reset: the previous run or
    // the previous attempt may have reset the user without our seeing it.
    let mut check_first = !dry_run && p.resume.is_uncertain(key);
    let mut journaled = false;
    let mut failures = 0u32;
    let mut last: Option<CallError> = None;
    loop {
        if failures > 0 {
            if failures >= settings.max_attempts {
                let e = last.expect("a failure was recorded");
                let outcome = if dry_run {
                    Outcome::WouldFail
                } else {
                    Outcome::Failed
                };
                let message = format!("gave up after {} attempts: {}", failures, e.message);
                record.uncertain = check_first;
                return ended(record, outcome, &e.code, &message, started);
            }
            Stats::bump(&p.stats.retrying);
            let wait = settings.backoff.delay(failures);
            let stopped = tokio::select! {
                _ = p.stop.stopped() => true,
                _ = tokio::time::sleep(wait) => false,
            };
            p.stats
                .retrying
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if stopped {
                return cancel_row(row, &p.stop, last.as_ref(), record, started, check_first);
            }
        }
        if ctx
            .dead_pools
            .lock()
            .expect("dead pools")
            .contains(&row.pool)
        {
            return ended(
                record,
                if dry_run {
                    Outcome::WouldFail
                } else {
                    Outcome::Failed
                },
                "ResourceNotFoundException",
                "the user pool does not exist (an earlier call for this pool said so)",
                started,
            );
        }
        let sent = tokio::select! {
            biased;
            _ = p.stop.stopped() => {
                return cancel_row(row, &p.stop, last.as_ref(), record, started, check_first);
            }
            sent = region.limiter.acquire() => sent,
        };
        record.attempts += 1;
        Stats::bump(&p.stats.calls);
        let result = if dry_run || check_first {
            match region.cognito.get_user(&row.pool, &row.username).await {
                Ok((state, request_id)) => {
                    region.limiter.succeeded(sent);
                    record.request_id = request_id;
                    if dry_run {
                        return match state.predicted_error() {
                            None => ended(record, Outcome::WouldReset, "", "", started),
                            Some((code, message)) => {
                                ended(record, Outcome::WouldFail, code, message, started)
                            }
                        };
                    }
                    if state.status == "RESET_REQUIRED" {
                        let message = "confirmed by an AdminGetUser check: the user is already \
                                       RESET_REQUIRED after an earlier call; not called again";
                        return ended(record, Outcome::Reset, "", message, started);
                    }
                    check_first = false;
                    continue;
                }
                Err(e) if dry_run => Err(e),
                Err(e) => {
                    record.request_id = e.request_id.clone();
                    match e.class {
                        // A check that failed transiently is retried: giving up
                        // on it could send a second reset.
                        Class::Throttled | Class::Retryable => {
                            if e.class == Class::Throttled {
                                region.limiter.throttled(sent);
                                Stats::bump(&p.stats.throttled);
                            } else {
                                region.limiter.succeeded(sent);
                            }
                            failures += 1;
                            last = Some(e);
                        }
                        // The state cannot be checked (not permitted, no such
                        // user): the reset itself decides.
                        _ => {
                            region.limiter.succeeded(sent);
                            check_first = false;
                        }
                    }
                    continue;
                }
            }
        } else {
            if !journaled && let Some(journal) = &p.journal {
                if let Err(e) = journal.intend(&row.pool, &row.username).await {
                    let message = format!("cannot write the intent journal: {e}");
                    p.stop.stop(StopReason::Fatal {
                        code: "JournalError".into(),
                        message: message.clone(),
                    });
                    record.attempts -= 1;
                    return ended(record, Outcome::Failed, "JournalError", &message, started);
                }
                journaled = true;
            }
            region
                .cognito
                .reset(&row.pool, &row.username, &metadata)
                .await
        };
        match result {
            Ok(request_id) => {
                region.limiter.succeeded(sent);
                record.request_id = request_id;
                if settings.sign_out {
                    sign_out(row, &region, settings, &p.stats, &mut record).await;
                }
                return ended(record, Outcome::Reset, "", "", started);
            }
            Err(e) => {
                record.request_id = e.request_id.clone();
                let final_outcome = if dry_run {
                    Outcome::WouldFail
                } else {
                    Outcome::Failed
                };
                match e.class {
                    Class::Throttled => {
                        region.limiter.throttled(sent);
                        Stats::bump(&p.stats.throttled);
                    }
                    Class::Retryable => {
                        region.limiter.succeeded(sent);
                        check_first = !dry_run && e.may_have_applied();
                    }
                    Class::RowFinal => {
                        region.limiter.succeeded(sent);
                        return ended(record, final_outcome, &e.code, &e.message, started);
                    }
                    Class::PoolFatal => {
                        ctx.dead_pools
                            .lock()
                            .expect("dead pools")
                            .insert(row.pool.clone());
                        return ended(record, final_outcome, &e.code, &e.message, started);
                    }
                    Class::RunFatal => {
                        p.stop.stop(StopReason::Fatal {
                            code: e.code.clone(),
                            message: e.message.clone(),
                        });
                        return ended(record, Outcome::Failed, &e.code, &e.message, started);
                    }
                }
                failures += 1;
                last = Some(e);
            }
        }
    }
}

/// AdminUserGlobalSignOut after a successful reset, retried like a reset.
async fn sign_out(
    row: &Row,
    region: &RegionCtx,
    settings: &Settings,
    stats: &Stats,
    record: &mut Record,
) {
    let mut failures = 0;
    loop {
        let sent = region.limiter.acquire().await;
        record.attempts += 1;
        Stats::bump(&stats.calls);
        match region
            .cognito
            .global_sign_out(&row.pool, &row.username)
            .await
        {
            Ok(request_id) => {
                region.limiter.succeeded(sent);
                record.request_id = request_id;
                record.signed_out = Some(true);
                return;
            }
            Err(e) => {
                if e.class == Class::Throttled {
                    region.limiter.throttled(sent);
                    Stats::bump(&stats.throttled);
                }
                failures += 1;
                let transient = matches!(e.class, Class::Throttled | Class::Retryable);
                if !transient || failures >= settings.max_attempts {
                    record.signed_out = Some(false);
                    record.sign_out_error = Some(e.code);
                    return;
                }
                tokio::time::sleep(settings.backoff.delay(failures)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_metadata_wins_over_global() {
        let g = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ];
        let r = vec![("b".to_owned(), "3".to_owned())];
        assert_eq!(
            metadata(&g, &r),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "3".to_owned())
            ]
        );
    }
}
