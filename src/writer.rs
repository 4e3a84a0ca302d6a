//! The report writer task: the only task that writes the report.
//!
//! Workers and the dispatcher send it one [`Recorded`] row each. It writes
//! them in batches (flushed every [`FLUSH_EVERY`] records, and at the latest
//! [`FLUSH_AFTER`] after the oldest unflushed one, so an outcome reaches the
//! file within a fraction of a second), counts them, watches the failure
//! rate, names failed rows with `-v`, and learns which journal intents the
//! run resolved and which it must keep.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::journal::{Checkpoint, Journal, Pending};
use crate::progress::{Stats, escape};
use crate::report::{Outcome, Record, ReportWriter, ResetBy};
use crate::resume::{Done, Earlier};
use crate::shutdown::{Stop, StopReason};
use crate::tally::Tally;

/// A row's record, with the user's key (pool and username, by the pool's
/// case rule; 0 for a row that names no user for sure).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The user's key.
    pub key: u64,
    /// The record.
    pub record: Record,
}

/// Records written between two flushes at most.
pub const FLUSH_EVERY: u64 = 1024;
/// How long a written record may wait for its flush at most.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// How often the report is synced and its chain's head checkpointed in
/// the journal while records come.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// Records taken from the queue at a time.
const TAKE_AT_ONCE: usize = 256;
/// How long the writer waits, after taking what was queued, before it
/// looks again: at thousands of rows a second, being woken for every
/// record cost each row a task wake-up (and often a thread's), while a
/// record waits at most this much longer to be written.
const LINGER: Duration = Duration::from_millis(2);
/// Failure-rate aborts only after this many attempted rows, so that a few
/// early failures cannot abort a large run.
pub const FAILURE_RATE_MIN_ROWS: u64 = 200;

/// What the writer task needs.
pub struct Writer {
    /// The report.
    pub report: ReportWriter,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// The run's cancellation (a write error or the failure rate stops it).
    pub stop: Arc<Stop>,
    /// `--max-failure-rate` (real runs only).
    pub max_failure_rate: Option<f64>,
    /// `-v`: name every row that did not succeed as it ends.
    pub verbose: bool,
    /// What earlier runs left: their unresolved intents.
    pub earlier: Arc<Earlier>,
    /// The intent journal, for checkpoints of the report's chain (real runs).
    pub journal: Option<Journal>,
}

/// What the writer reports when the run is over.
pub struct Finished {
    /// This run's counts.
    pub tally: Tally,
    /// The whole report's counts (skipped rows as what they were).
    pub whole: Tally,
    /// The report, for a final sync.
    pub report: ReportWriter,
    /// Intents the journal must keep: rows without a final outcome.
    pub keep: Vec<Pending>,
    /// A report write error, if one happened (the run was stopped): then
    /// `tally` counts only the records the report holds.
    pub write_error: Option<String>,
    /// Users the earlier runs of the report recorded that this run's rows
    /// did not list (each recorded again only as a leftover, or not at
    /// all). A resume of a stream read to its end lists them all, unless it
    /// was fed other rows.
    pub earlier_not_listed: u64,
}

fn bump_stats(stats: &Stats, record: &Record) {
    Stats::bump(&stats.done);
    match record.outcome {
        Outcome::Reset | Outcome::WouldReset => Stats::bump(&stats.reset),
        Outcome::Disabled => Stats::bump(&stats.disabled),
        Outcome::Failed | Outcome::WouldFail => Stats::bump(&stats.failed),
        _ => {}
    }
    match record.signed_out {
        Some(true) => Stats::bump(&stats.signed_out),
        Some(false) => Stats::bump(&stats.sign_out_failed),
        None => {}
    }
}

/// Watches the share of attempted rows that failed.
struct FailureRate {
    threshold: Option<f64>,
    attempted: u64,
    failed: u64,
}

impl FailureRate {
    /// Counts a row. A row that failed in an earlier run of the report and
    /// fails again is not counted: a resume retries those rows first, and
    /// failures already known say nothing about this run going wrong.
    fn add(&mut self, outcome: Outcome, failed_before: bool, stop: &Stop) {
        let Some(threshold) = self.threshold else {
            return;
        };
        if failed_before && outcome == Outcome::Failed {
            return;
        }
        if !matches!(
            outcome,
            Outcome::Reset | Outcome::Failed | Outcome::Disabled
        ) {
            return;
        }
        self.attempted += 1;
        self.failed += u64::from(outcome == Outcome::Failed);
        if self.attempted >= FAILURE_RATE_MIN_ROWS
            && self.failed as f64 * 100.0 > threshold * self.attempted as f64
            && !stop.is_stopped()
        {
            stop.stop(StopReason::FailureRate {
                failed: self.failed,
                attempted: self.attempted,
                threshold,
            });
        }
    }
}

/// Whether an earlier run of the report recorded this row's user as failed.
fn failed_before(earlier: &Earlier, key: u64) -> bool {
    key != 0
        && earlier
            .done
            .get(key)
            .is_some_and(|done| done.outcome() == Outcome::Failed)
}

/// Whether a record settles its row's intent: the row has a final outcome.
fn settles(record: &Record) -> bool {
    !record.unsettled.intent && record.outcome != Outcome::Cancelled
}

/// What an earlier run did to the user of a row this run skipped or
/// excluded: the whole report counts that.
fn done_before(earlier: &Earlier, recorded: &Recorded) -> Option<Done> {
    let skipped = matches!(
        recorded.record.outcome,
        Outcome::Skipped | Outcome::Excluded
    );
    let done = earlier.done.get(recorded.key).filter(|d| d.is_settled());
    done.filter(|_| skipped && recorded.key != 0)
}

/// A record as the whole report counts it: a reset an earlier run of the
/// report sent, which this run only signed out, counts as that run's reset.
fn as_whole<'a>(earlier: &Earlier, recorded: &'a Recorded) -> std::borrow::Cow<'a, Record> {
    let record = &recorded.record;
    let before = earlier.done_meaning(recorded.key);
    match before.filter(|_| record.meaning.reset_by == Some(ResetBy::Earlier)) {
        Some(before) => {
            let mut record = record.clone();
            record.meaning.finishing(before);
            std::borrow::Cow::Owned(record)
        }
        None => std::borrow::Cow::Borrowed(record),
    }
}

/// Writes every record it receives until every sender is gone.
pub async fn write_records(mut rx: mpsc::Receiver<Recorded>, w: Writer) -> Finished {
    let Writer {
        report,
        stats,
        stop,
        max_failure_rate,
        verbose,
        earlier,
        journal,
    } = w;
    let mut guard = FailureRate {
        threshold: max_failure_rate,
        attempted: 0,
        failed: 0,
    };
    let mut out = Output::new(report, journal);
    let mut books = Books::new(earlier);
    books.mark_durable(out.report.durable().records());
    let mut batch = Vec::with_capacity(TAKE_AT_ONCE);
    loop {
        let taken = tokio::select! {
            biased;
            taken = rx.recv_many(&mut batch, TAKE_AT_ONCE) => taken,
            () = out.flush_due() => {
                out.flush(&stop);
                books.mark_durable(out.report.durable().records());
                continue;
            }
        };
        if taken == 0 {
            break;
        }
        for recorded in batch.drain(..) {
            let record = &recorded.record;
            out.write(record, &stop);
            bump_stats(&stats, record);
            let failed_before = failed_before(&books.earlier, recorded.key);
            guard.add(record.outcome, failed_before, &stop);
            if verbose && record.outcome.is_failure() {
                name_failure(record);
            }
            books.note(&recorded);
        }
        books.mark_durable(out.report.durable().records());
        if taken < TAKE_AT_ONCE {
            tokio::time::sleep(LINGER).await;
        }
    }
    out.flush(&stop);
    books.mark_durable(out.report.durable().records());
    finished(out, books)
}

/// What the run wrote: the counts, the intents to keep, the report. A
/// report that could not be written holds only what was synced: the counts
/// say that much, no more.
fn finished(out: Output, books: Books) -> Finished {
    let durable = books.durable.clone();
    let (tally, whole, keep, earlier_not_listed) = books.close();
    let tally = match out.error {
        Some(_) => durable.unwrap_or_default(),
        None => tally,
    };
    Finished {
        tally,
        whole,
        report: out.report,
        keep,
        earlier_not_listed,
        write_error: out.error,
    }
}

/// What the writer learns as records go by: the counts, and which journal
/// intents the run resolved and which it must keep.
struct Books {
    earlier: Arc<Earlier>,
    /// This run's counts.
    tally: Tally,
    /// The whole report's.
    whole: Tally,
    /// One bit per user of the earlier report: recorded again by this run.
    seen: Vec<u64>,
    /// Of those, the ones recorded again only as leftovers (line 0): an
    /// owed call this run's rows did not list.
    leftovers: u64,
    /// Earlier intents this run settled.
    resolved: HashSet<u64>,
    /// This run's own unsettled intents.
    keep_now: Vec<Pending>,
    /// This run's counts when the report last took its records, and its
    /// records then.
    durable: Option<Tally>,
    durable_records: u64,
}

impl Books {
    fn new(earlier: Arc<Earlier>) -> Books {
        Books {
            seen: vec![0u64; earlier.done.settled_values().len().div_ceil(64)],
            leftovers: 0,
            earlier,
            tally: Tally::default(),
            whole: Tally::default(),
            resolved: HashSet::new(),
            keep_now: Vec::new(),
            durable: None,
            durable_records: u64::MAX,
        }
    }

    /// After the report took more records (a flush succeeded), the counts
    /// so far are what it holds.
    fn mark_durable(&mut self, records: u64) {
        if records != self.durable_records {
            self.durable_records = records;
            self.durable = Some(self.tally.clone());
        }
    }

    fn note(&mut self, recorded: &Recorded) {
        let (key, record) = (recorded.key, &recorded.record);
        self.tally.add(record);
        match done_before(&self.earlier, recorded) {
            Some(done) => self.whole.add_earlier(&self.earlier.shapes.of(done)),
            None => self.whole.add(&as_whole(&self.earlier, recorded)),
        }
        if mark_seen(&mut self.seen, &self.earlier, recorded) && record.line == 0 {
            self.leftovers += 1;
        }
        if self.earlier.uncertain.contains_key(&key) && settles(record) {
            self.resolved.insert(key);
        }
        if record.unsettled.intent {
            self.keep_now.push(pending_of(record));
        }
    }

    /// This run's counts, the whole report's, the intents to keep, and the
    /// earlier users this run's rows did not list.
    fn close(mut self) -> (Tally, Tally, Vec<Pending>, u64) {
        // The whole report: the users this run did not record again count
        // as the earlier runs left them.
        let done = self.earlier.done.settled_values();
        let mut unseen = 0;
        for (i, done) in done.iter().enumerate() {
            if self.seen[i / 64] & (1 << (i % 64)) == 0 {
                self.whole.add_earlier(&self.earlier.shapes.of(*done));
                unseen += 1;
            }
        }
        self.whole.attempts += self.earlier.attempts;
        let keep = keep(&self.earlier.uncertain, &self.resolved, self.keep_now);
        (self.tally, self.whole, keep, unseen + self.leftovers)
    }
}

/// `-v`: names a row that did not succeed as it ends.
fn name_failure(record: &Record) {
    tracing::info!(
        "line {}: {} {}: {} {}",
        record.line,
        escape(&record.username),
        record.outcome.as_str(),
        record.error_code,
        escape(&record.error_message)
    );
}

/// The journal intent a row without a final outcome keeps.
fn pending_of(record: &Record) -> Pending {
    Pending {
        pool: record.user_pool_id.clone(),
        user: record.username.clone(),
        disable: record.unsettled.disable,
    }
}

/// The report as the writer task fills it: written records wait in its
/// buffer until a flush is due by count or by time.
struct Output {
    report: ReportWriter,
    /// Where checkpoints of the report's chain go (real runs).
    journal: Option<Journal>,
    /// When the last checkpoint was made.
    checkpointed: Instant,
    /// Records written since the last flush.
    unflushed: u64,
    /// When the oldest of those was written.
    oldest: Option<Instant>,
    /// The first write error; nothing is written after it.
    error: Option<String>,
}

impl Output {
    fn new(report: ReportWriter, journal: Option<Journal>) -> Output {
        Output {
            report,
            journal,
            checkpointed: Instant::now(),
            unflushed: 0,
            oldest: None,
            error: None,
        }
    }

    fn write(&mut self, record: &Record, stop: &Stop) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.report.write(record) {
            return self.failed(&e, stop);
        }
        self.unflushed += 1;
        self.oldest.get_or_insert_with(Instant::now);
        if self.unflushed >= FLUSH_EVERY {
            self.flush(stop);
        }
    }

    /// Resolves when the oldest unflushed record has waited [`FLUSH_AFTER`].
    async fn flush_due(&self) {
        match self.oldest {
            Some(oldest) => tokio::time::sleep_until(oldest + FLUSH_AFTER).await,
            None => std::future::pending().await,
        }
    }

    fn flush(&mut self, stop: &Stop) {
        self.unflushed = 0;
        self.oldest = None;
        if self.error.is_none()
            && let Err(e) = self.report.flush()
        {
            self.failed(&e, stop);
        }
        if self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint(stop);
        }
    }

    /// Makes the records written so far durable, then records in the
    /// journal where the chain stands: a report later found shorter than
    /// that was cut.
    fn checkpoint(&mut self, stop: &Stop) {
        self.checkpointed = Instant::now();
        let Some(journal) = &self.journal else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.report.sync() {
            return self.failed(&e, stop);
        }
        let chain = self.report.chain();
        journal.checkpoint(&Checkpoint {
            head: chain.head_hex(),
            records: chain.records(),
            end: false,
        });
    }

    fn failed(&mut self, e: &std::io::Error, stop: &Stop) {
        let message = format!("cannot write the report {}: {e}", self.report.path());
        stop.stop(StopReason::Fatal {
            code: "ReportError".into(),
            message: message.clone(),
            hint: crate::cognito::fatal_hint("ReportError").into(),
        });
        // What the report holds is then exactly what it took whole.
        let _ = self.report.cut_to_durable();
        self.error = Some(message);
    }
}

/// Marks the earlier report's user this record is about as recorded again;
/// says whether it was not marked before.
fn mark_seen(seen: &mut [u64], earlier: &Earlier, recorded: &Recorded) -> bool {
    let outcome = recorded.record.outcome;
    if recorded.key == 0 || matches!(outcome, Outcome::Invalid | Outcome::Duplicate) {
        return false;
    }
    let Some(i) = earlier.done.position(recorded.key) else {
        return false;
    };
    let fresh = seen[i / 64] & (1 << (i % 64)) == 0;
    seen[i / 64] |= 1 << (i % 64);
    fresh
}

/// The intents to keep: earlier ones this run did not settle, and this run's
/// own unsettled ones.
fn keep(
    earlier: &HashMap<u64, Pending>,
    resolved: &HashSet<u64>,
    now: Vec<Pending>,
) -> Vec<Pending> {
    let mut keep: Vec<Pending> = earlier
        .iter()
        .filter(|(k, _)| !resolved.contains(k))
        .map(|(_, pending)| pending.clone())
        .collect();
    keep.extend(now);
    keep.sort();
    keep.dedup();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Chain;

    #[test]
    fn earlier_intents_stay_unless_this_run_settled_them() {
        let pair = |u: &str| Pending {
            pool: "eu-west-1_P".to_owned(),
            user: u.to_owned(),
            disable: false,
        };
        let earlier = HashMap::from([(1, pair("a")), (2, pair("b"))]);
        let resolved = HashSet::from([1]);
        let keep = keep(&earlier, &resolved, vec![pair("c"), pair("b")]);
        assert_eq!(keep, vec![pair("b"), pair("c")]);
    }

    #[test]
    fn a_cancelled_or_uncertain_row_does_not_settle_its_intent() {
        let mut r = Record::local(1, "a", "eu-west-1_P", Outcome::Reset, "", "");
        assert!(settles(&r));
        r.outcome = Outcome::Cancelled;
        assert!(!settles(&r));
        r.outcome = Outcome::Failed;
        r.unsettled.intent = true;
        assert!(!settles(&r));
    }

    #[tokio::test]
    async fn an_outcome_reaches_the_file_within_the_flush_time_while_the_run_goes_on() {
        let dir = std::env::temp_dir().join(format!("cr-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv");
        let header = crate::report::header_bytes(&path, false);
        let file = crate::files::create_with(&path, &header).unwrap();
        let writer = Writer {
            report: ReportWriter::new(file, &path, false, Chain::start(&header)).unwrap(),
            stats: Arc::new(Stats::default()),
            stop: Arc::new(Stop::default()),
            max_failure_rate: None,
            verbose: false,
            earlier: Arc::new(Earlier::default()),
            journal: None,
        };
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(write_records(rx, writer));
        let record = Record::local(1, "alice", "eu-west-1_P", Outcome::Reset, "", "");
        tx.send(Recorded { key: 1, record }).await.unwrap();
        let written = || std::fs::read_to_string(&path).unwrap().contains("alice");
        tokio::time::sleep(FLUSH_AFTER * 3).await;
        assert!(written(), "flushed by time, the channel still open");
        drop(tx);
        let finished = task.await.unwrap();
        assert_eq!(finished.tally.rows, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
