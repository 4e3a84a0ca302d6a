//! The worker pool: dispatch, row lives, and the one writer.
//!
//! One dispatcher reads [`Item`]s in input order from a bounded queue,
//! gathers what is known of each row before any call (invalid, a duplicate,
//! done or excluded by an earlier run, listed in `--exclude`, its listed
//! state, an uncertain earlier reset) and gives it to the row's [`Life`]:
//! a row that needs no call is done at once; the others are handed through a
//! bounded queue to twice `--concurrency` long-lived workers. Rows
//! whose first call is a reset are gathered, up to `--concurrency` of them,
//! and their intents journaled in one write and one sync before they start,
//! while the batch before waits for room in the queue. A
//! worker drives one row's [`Life`] at a time — each step one call through the retry
//! driver — and every row sends exactly one [`Record`](crate::report::Record) to the report
//! writer, the only task that touches the report.
//!
//! A row whose region is out (see `pause`) when it comes up is held by the
//! dispatcher without a slot until the region answers again, so that the
//! other regions' rows keep the slots (`parked`).
//!
//! Stopping is passed in as [`Stop`]. Once it fires no call is sent; calls
//! in flight finish and are recorded; rows not yet called are recorded
//! `cancelled` — a file's remaining rows are drained quickly without calls,
//! while a stream (standard input, a listing) is not read further: rows never
//! read are not in the report, and a stream that never ends cannot hold the
//! run up.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::channel::Recovery;
use crate::cognito::{CallError, CallResult, Class, Cognito, Op};
use crate::input::{Duplicates, Excluded, Exclusions, Item, Row};
use crate::journal::{Intended, Journal, Syncing};
use crate::keys::row_key;
use crate::life::{Answered, Effect, Event, Life, Policy, RowId, Start, Step};
use crate::report::Outcome;
use crate::resume::{Done, Earlier};
use crate::retry::{Answer, Attempts, Caller};
use crate::shutdown::{Stop, StopReason};
use crate::writer::{Finished, Recorded, Writer, write_records};

mod parked;

use parked::Parked;

/// Records waiting for the writer at most.
const RECORD_QUEUE: usize = 1024;
/// Rows in progress per `--concurrency` slot (calls in flight are bounded by
/// the retry driver).
const ROWS_PER_CALL: usize = 2;
/// Batches of intents syncing at most while the dispatcher goes on
/// gathering: on a disk whose syncs now and then take tens of milliseconds,
/// waiting for each batch before writing the next one let the workers run
/// dry. Rows journaled but not yet called stay bounded (they are checked on
/// a resume after a crash).
const SYNCS_AHEAD: usize = 4;

/// Per-pool facts the dispatcher needs, from the preflight.
pub trait Pools: Send + Sync {
    /// Whether the pool compares usernames case-insensitively, when known.
    fn case_rule(&self, pool: &str) -> Option<bool>;

    /// Whether users of the pool are told apart ignoring case (duplicates,
    /// resume): only when the pool says so, for folding where the pool does
    /// not could leave a real user unreset.
    fn folds_case(&self, pool: &str) -> bool {
        self.case_rule(pool) == Some(true)
    }

    /// Whether `--exclude` entries match ignoring case: unless the pool says
    /// it is case-sensitive, for an exclusion missed resets a break-glass
    /// account.
    fn excludes_ignoring_case(&self, pool: &str) -> bool {
        self.case_rule(pool) != Some(false)
    }
    /// Whether users another report (`--skip-done`) records are matched
    /// ignoring case: unless the pool says it is case-sensitive, for where
    /// Cognito folds case, `ALICE` is the `alice` that report reset, and a
    /// missed match sends her a second code. The plan's count and the run
    /// both match through this.
    fn skips_ignoring_case(&self, pool: &str) -> bool {
        self.case_rule(pool) != Some(false)
    }

    /// Why every reset in the pool would be refused, if it would (account
    /// recovery `admin_only`): a dry run predicts that without calls.
    fn refuses_resets(&self, _pool: &str) -> Option<String> {
        None
    }

    /// The pool's account recovery order, when known: where codes go.
    fn recovery(&self, _pool: &str) -> Option<Recovery> {
        None
    }

    /// The region a pool's calls go to.
    fn region_of(&self, pool: &str) -> String;
    /// The client for a region.
    fn client(&self, region: &str) -> Cognito;
}

/// Everything the dispatcher and the workers share.
pub struct Pipeline {
    /// How rows are treated.
    pub policy: Policy,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// The retry driver (limiters, cancellation, counters).
    pub caller: Arc<Caller>,
    /// Pools: case rules, regions, clients.
    pub pools: Arc<dyn Pools>,
    /// What earlier runs of this report left.
    pub earlier: Arc<Earlier>,
    /// Users seen earlier in the input.
    pub duplicates: Duplicates,
    /// `--exclude`.
    pub exclusions: Exclusions,
    /// The intent journal (real runs only).
    pub journal: Option<Journal>,
    /// `--client-metadata` (row values win).
    pub metadata: Vec<(String, String)>,
    /// How long a check after a timed-out reset waits first
    /// (`--call-timeout`: the call had that long to arrive; it gets as long
    /// again).
    pub settle: std::time::Duration,
    /// Whether the source may be drained after a stop (a file), or must not
    /// be read further (a stream or a listing).
    pub drain: bool,
}

struct Ctx {
    settle: std::time::Duration,
    caller: Arc<Caller>,
    pools: Arc<dyn Pools>,
    journal: Option<Journal>,
    metadata: Vec<(String, String)>,
    /// Pools found not to exist; their rows fail without calls.
    gone: Mutex<HashSet<String>>,
    /// Regions whose daily limit on codes refused a reset, with the first
    /// refusal: their rows send no more resets, and the run stops at its end.
    capped: Mutex<HashMap<String, CallError>>,
}

/// Runs every item through the pool and the report writer.
pub async fn execute(
    items: mpsc::Receiver<Vec<Item>>,
    mut pipeline: Pipeline,
    writer: Writer,
) -> Finished {
    let (records, record_rx) = mpsc::channel(RECORD_QUEUE);
    let writer_task = tokio::spawn(write_records(record_rx, writer));
    // Rows in progress: twice the calls in flight, so that rows waiting for
    // their journal intent or a backoff do not leave call slots idle.
    let rows = pipeline.concurrency.max(1).saturating_mul(ROWS_PER_CALL);
    let (queue, taken) = mpsc::channel(pipeline.concurrency.max(1));
    let taken = Arc::new(tokio::sync::Mutex::new(taken));
    let ctx = Arc::new(Ctx {
        settle: pipeline.settle,
        caller: pipeline.caller.clone(),
        pools: pipeline.pools.clone(),
        journal: pipeline.journal.take(),
        metadata: std::mem::take(&mut pipeline.metadata),
        gone: Mutex::new(HashSet::new()),
        capped: Mutex::new(HashMap::new()),
    });
    let workers: Vec<_> = (0..rows)
        .map(|_| tokio::spawn(worker(taken.clone(), ctx.clone(), records.clone())))
        .collect();
    let mut d = Dispatcher {
        stop: pipeline.caller.stop.clone(),
        caller: pipeline.caller.clone(),
        p: pipeline,
        ctx,
        queue,
        records,
        seen_earlier: HashSet::new(),
        parked: Parked::default(),
        gathered: Vec::new(),
        syncing: VecDeque::new(),
    };
    d.run(items).await;
    let ctx = d.ctx.clone();
    // The queue closes: each worker ends once it finds it empty.
    drop(d);
    for w in workers {
        let _ = w.await;
    }
    stop_if_capped(&ctx);
    drop(ctx);
    writer_task.await.expect("the report writer does not panic")
}

/// The note of a row an earlier run of the report excluded.
const EXCLUDED_EARLIER: &str =
    "excluded by an earlier run (of this report, or of a report --skip-done names)";

/// Stops the run, once every row is recorded, when a daily limit on codes
/// refused resets: it ends as a run-fatal error does, with its hint.
fn stop_if_capped(ctx: &Ctx) {
    let capped = ctx.capped.lock().expect("capped regions");
    if let Some(e) = capped.values().next() {
        ctx.caller.stop.stop(StopReason::Fatal {
            hint: crate::cognito::fatal_hint(&e.code).to_owned(),
            code: e.code.clone(),
            message: format!("{}: {}", Op::Reset.name(), e.message),
        });
    }
}

/// The dispatcher's state: rows in, workers out, records to the writer.
struct Dispatcher {
    p: Pipeline,
    ctx: Arc<Ctx>,
    stop: Arc<Stop>,
    /// Rows handed to the workers, not yet taken by one.
    queue: mpsc::Sender<Pending>,
    /// Sent by the dispatcher and every worker, received by the writer;
    /// closes when the dispatcher and the last worker drop their clones.
    records: mpsc::Sender<Recorded>,
    /// Keys of rows an earlier run left owing something that this run's
    /// source has handed over.
    seen_earlier: HashSet<u64>,
    /// Rows not yet started whose region is out.
    parked: Parked<Pending>,
    /// The retry driver, whose pauses say which regions are out.
    caller: Arc<Caller>,
    /// Rows whose first call is a reset, gathered so that one write and one
    /// sync of the journal covers all their intents.
    gathered: Vec<Pending>,
    /// Batches gathered before, oldest first, each started once its intents
    /// are synced: a slow sync does not hold the next batches' writes up.
    syncing: VecDeque<(Syncing, Vec<Pending>)>,
}

impl Dispatcher {
    async fn run(&mut self, mut items: mpsc::Receiver<Vec<Item>>) {
        // The rest of the batch being dispatched.
        let mut batch = Vec::new().into_iter();
        let mut reopened = self.caller.pauses.reopened();
        loop {
            let stopping = !self.p.drain && self.stop.is_stopped();
            match batch.next() {
                _ if stopping => break,
                Some(item) => self.dispatch(item).await,
                None => {
                    if let Ok(items) = items.try_recv() {
                        batch = items.into_iter();
                        continue;
                    }
                    self.start_journaled().await;
                    let held = !self.parked.is_empty();
                    batch = tokio::select! {
                        biased;
                        _ = self.stop.stopped(), if !self.p.drain => break,
                        _ = reopened.changed(), if held => {
                            self.unpark().await;
                            Vec::new().into_iter()
                        }
                        items = items.recv() => match items {
                            Some(items) => items.into_iter(),
                            None => break,
                        },
                    };
                }
            }
        }
        // A stream is not read further; what it already handed over is recorded.
        items.close();
        for item in batch {
            self.cancel(item).await;
        }
        while let Some(batch) = items.recv().await {
            for item in batch {
                self.cancel(item).await;
            }
        }
        if !self.stop.is_stopped() {
            for row in self.leftovers() {
                self.dispatch(Item::Row(row)).await;
            }
        }
        self.wait_parked(reopened).await;
        self.start_journaled().await;
    }

    /// Rows held while their region is out: started once it answers again,
    /// or recorded `cancelled` when the run stops first.
    async fn wait_parked(&mut self, mut reopened: tokio::sync::watch::Receiver<u64>) {
        while !self.parked.is_empty() {
            self.unpark().await;
            if self.parked.is_empty() {
                break;
            }
            self.start_journaled().await;
            tokio::select! {
                _ = self.stop.stopped() => break,
                _ = reopened.changed() => {}
            }
        }
        for pending in self.parked.take_all() {
            let record = cancelled(pending, &self.stop);
            let _ = self.records.send(record).await;
        }
    }

    /// Starts the held rows whose region answers again.
    async fn unpark(&mut self) {
        let pauses = self.caller.pauses.clone();
        for pending in self.parked.take_open(|region| pauses.is_out(region)) {
            self.start(pending).await;
        }
    }

    /// Records an item the run will not work on.
    async fn cancel(&mut self, item: Item) {
        if let Some(pending) = self.settle(item).await {
            let record = cancelled(pending, &self.stop);
            let _ = self.records.send(record).await;
        }
    }

    /// Settles an item, or starts a worker for it once a slot is free.
    async fn dispatch(&mut self, item: Item) {
        let Some(pending) = self.settle(item).await else {
            return;
        };
        if !self.parked.is_empty() {
            self.unpark().await;
        }
        let region = self.ctx.pools.region_of(&pending.row.pool);
        let pending = match self.caller.pauses.is_out(&region) && !self.stop.is_stopped() {
            true => match self.parked.park(&region, pending) {
                Ok(()) => return,
                Err(full) => full,
            },
            false => pending,
        };
        self.start(pending).await;
    }

    /// Starts a worker for a row once a slot is free; a row whose first call
    /// is a reset first has its intent journaled with others'.
    async fn start(&mut self, pending: Pending) {
        let first_reset = pending.life.step() == Step::Reset && !pending.life.settles_first();
        if first_reset && self.ctx.journal.is_some() && !self.stop.is_stopped() {
            self.gathered.push(pending);
            if self.gathered.len() >= self.p.concurrency.max(1) {
                self.journal_gathered().await;
            }
            return;
        }
        self.launch(pending).await;
    }

    /// Hands the gathered rows' intents to the journal in one write, then
    /// starts the batches before it whose intents are synced, waiting for
    /// the oldest only when [`SYNCS_AHEAD`] are syncing.
    async fn journal_gathered(&mut self) {
        let rows = std::mem::take(&mut self.gathered);
        let ctx = self.ctx.clone();
        match &ctx.journal {
            Some(journal) if !rows.is_empty() && !self.stop.is_stopped() => {
                let intents = rows
                    .iter()
                    .map(|p| (p.row.pool.as_str(), p.row.username.as_str()));
                let synced = journal.intend_resets(intents).await;
                self.syncing.push_back((synced, rows));
            }
            // Stopped: the rows are recorded cancelled, nothing journaled.
            _ => {
                for pending in rows {
                    self.launch(pending).await;
                }
            }
        }
        loop {
            let ahead = self.syncing.len() > SYNCS_AHEAD;
            let ready = match self.syncing.front_mut() {
                Some((oldest, _)) => ahead || oldest.is_known(),
                None => false,
            };
            if !ready {
                break;
            }
            self.launch_synced().await;
        }
    }

    /// Starts the oldest syncing batch once its intents are synced. Rows
    /// whose intents could not be synced try again one by one, and fail as
    /// the journal says, without a call.
    async fn launch_synced(&mut self) {
        let Some((synced, mut rows)) = self.syncing.pop_front() else {
            return;
        };
        let journaled = synced.synced().await.is_ok();
        for pending in &mut rows {
            pending.journaled.reset = journaled;
        }
        self.launch_all(rows).await;
    }

    /// Starts every gathered row once its intent is synced: before the
    /// dispatcher waits for anything else, so that no row is held up.
    async fn start_journaled(&mut self) {
        if !self.gathered.is_empty() {
            self.journal_gathered().await;
        }
        while !self.syncing.is_empty() {
            self.launch_synced().await;
        }
    }

    /// Hands a row to the workers once the queue has room; a row the run
    /// stopped before is recorded `cancelled`.
    async fn launch(&mut self, pending: Pending) {
        let permit = tokio::select! {
            biased;
            _ = self.stop.stopped() => None,
            permit = self.queue.reserve() => permit.ok(),
        };
        match permit {
            Some(permit) => permit.send(pending),
            None => {
                let record = cancelled(pending, &self.stop);
                let _ = self.records.send(record).await;
            }
        }
    }

    /// Hands rows to the workers as many at a time as the queue has room
    /// for: the dispatcher waits once for a batch, not once per row.
    async fn launch_all(&mut self, rows: Vec<Pending>) {
        let mut rows = rows.into_iter();
        while rows.len() > 0 {
            let room = rows.len().min(self.queue.max_capacity());
            let permits = tokio::select! {
                biased;
                _ = self.stop.stopped() => None,
                permits = self.queue.reserve_many(room) => permits.ok(),
            };
            let Some(permits) = permits else {
                for pending in rows {
                    let record = cancelled(pending, &self.stop);
                    let _ = self.records.send(record).await;
                }
                return;
            };
            for (permit, pending) in permits.zip(rows.by_ref()) {
                permit.send(pending);
            }
        }
    }

    /// Rows an earlier run left owing something (a reset or disable in
    /// flight, a sign-out) that this run's source did not hand over — a
    /// filtered listing no longer lists users already reset: finished all
    /// the same.
    fn leftovers(&self) -> Vec<Row> {
        let e = &self.p.earlier;
        let pending = e.uncertain.iter().map(|(k, p)| (k, &p.pool, &p.user));
        let owed = e.owed.iter().map(|(k, (pool, user))| (k, pool, user));
        let mut rows: Vec<Row> = pending
            .chain(owed)
            .filter(|(k, _, _)| !self.seen_earlier.contains(k))
            .map(|(_, pool, user)| Row {
                line: 0,
                username: user.clone(),
                pool: pool.clone(),
                metadata: Vec::new(),
                known: None,
            })
            .collect();
        rows.sort_by(|a, b| (&a.pool, &a.username).cmp(&(&b.pool, &b.username)));
        rows.dedup_by(|a, b| a.pool == b.pool && a.username == b.username);
        rows
    }

    /// Gives the row's life what is known of it before any call; records a
    /// row that needs no call, and returns the others.
    async fn settle(&mut self, item: Item) -> Option<Pending> {
        let (row, key, start) = match item {
            Item::Invalid(i) => {
                let start = Start {
                    invalid: Some((i.code.to_owned(), i.message.clone())),
                    ..Start::default()
                };
                let row = Row {
                    line: i.line,
                    username: i.username,
                    pool: i.pool,
                    metadata: Vec::new(),
                    known: None,
                };
                (row, 0, start)
            }
            Item::Row(row) => {
                let key = row_key(&row.pool, &row.username, self.p.pools.folds_case(&row.pool));
                let start = self.start_of(&row, key);
                (row, key, start)
            }
        };
        let life = Life::new(start, self.p.policy);
        let journaled = Journaled::default();
        let pending = Pending {
            row,
            key,
            life,
            journaled,
        };
        if pending.life.step() != Step::Done {
            return Some(pending);
        }
        let record = pending.record(0);
        let _ = self.records.send(record).await;
        None
    }

    /// What is known of a row before its first call.
    fn start_of(&mut self, row: &Row, key: u64) -> Start {
        let p = &mut self.p;
        let e = &p.earlier;
        if e.uncertain.contains_key(&key) || e.owed.contains_key(&key) {
            self.seen_earlier.insert(key);
        }
        let folded = row_key(&row.pool, &row.username, true);
        let duplicate_of = p.duplicates.earlier(row.line, folded, key);
        let done = e.done.get(key).filter(|d| d.is_settled());
        let pending = e.uncertain.get(&key);
        let exclude_fold = p.pools.excludes_ignoring_case(&row.pool);
        let excluded = match p.exclusions.why(&row.pool, &row.username, exclude_fold) {
            Some(Excluded::Listed) => Some("listed in --exclude"),
            Some(Excluded::Earlier) => Some(EXCLUDED_EARLIER),
            None if e.done.get(key).is_some_and(Done::is_excluded) => Some(EXCLUDED_EARLIER),
            None => None,
        };
        // What another report (--skip-done) records, where this one says
        // nothing of the user.
        let skip_key = row_key(
            &row.pool,
            &row.username,
            p.pools.skips_ignoring_case(&row.pool),
        );
        let elsewhere = e
            .elsewhere
            .get(skip_key)
            .filter(|_| done.is_none() && pending.is_none());
        let recorded_in = elsewhere.and_then(|(_, i)| e.elsewhere_names.get(usize::from(i)));
        let done = done.or(elsewhere.map(|(d, _)| d));
        // A sign-out owed elsewhere is finished only when this run signs out;
        // a run that signs out also signs out the users another report
        // reset without one.
        let unsigned_elsewhere = |d: &Done| recorded_in.is_some() && d.signed_out().is_none();
        let owes = |d: &Done| {
            let owed = d.owes_sign_out() || unsigned_elsewhere(d);
            owed && (recorded_in.is_none() || p.policy.sign_out)
        };
        Start {
            invalid: None,
            duplicate_of,
            done_earlier: done.filter(|d| !owes(d)).map(Done::earlier),
            recorded_in: recorded_in.cloned(),
            excluded,
            failed_earlier: e
                .done
                .get(key)
                .is_some_and(|d| d.outcome() == Outcome::Failed),
            pool_refuses: p.pools.refuses_resets(&row.pool),
            uncertain: done.is_none() && (e.check_all || pending.is_some()),
            known: row.known.clone(),
            owes_sign_out: done.filter(owes).map(Done::earlier),
            sign_out_left_owed: done.is_some_and(|d| d.owes_sign_out() && !owes(&d)),
            disable_intent: pending.is_some_and(|i| i.disable),
            recovery: p.pools.recovery(&row.pool),
        }
    }
}

/// A row that needs calls, and its life so far.
struct Pending {
    row: Row,
    /// The user's key (pool, username, by the pool's case rule).
    key: u64,
    life: Life,
    /// Which of its intents are already in the journal.
    journaled: Journaled,
}

impl Pending {
    /// The row's record, once its life is done.
    fn record(&self, duration_ms: u64) -> Recorded {
        let row = &self.row;
        let id = RowId {
            line: row.line,
            username: row.username.clone(),
            pool: row.pool.clone(),
        };
        let record = self
            .life
            .record(&id, duration_ms)
            .expect("a finished life has a record");
        Recorded {
            key: self.key,
            record,
        }
    }
}

/// A row that the run stopped before any call.
fn cancelled(mut pending: Pending, stop: &Stop) -> Recorded {
    let event = match stop.reason() {
        Some(
            reason @ (StopReason::Fatal { .. }
            | StopReason::FailureRate { .. }
            | StopReason::WaitedOut(_)),
        ) => Event::Aborted(reason.to_string()),
        _ => Event::Stopped,
    };
    pending.life.on(event);
    pending.record(0)
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

/// A worker: takes rows from the queue one at a time until it is closed
/// and empty. Long-lived, so that a row costs no task of its own.
async fn worker(
    taken: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    ctx: Arc<Ctx>,
    records: mpsc::Sender<Recorded>,
) {
    loop {
        let next = taken.lock().await.recv().await;
        let Some(pending) = next else {
            return;
        };
        let stop = &ctx.caller.stop;
        let record = match stop.is_stopped() {
            true => cancelled(pending, stop),
            false => work(pending, &ctx).await,
        };
        let _ = records.send(record).await;
    }
}

/// One row, from its first call to its record.
async fn work(mut pending: Pending, ctx: &Ctx) -> Recorded {
    let started = Instant::now();
    let row = &pending.row;
    let region = ctx.pools.region_of(&row.pool);
    let call = Call {
        ctx,
        row,
        region: &region,
        cognito: ctx.pools.client(&region),
        metadata: metadata(&ctx.metadata, &row.metadata),
    };
    let life = &mut pending.life;
    let journaled = &mut pending.journaled;
    while life.step() != Step::Done {
        let step = life.step();
        let answer = if life.settles_first() && !call.settle().await {
            Event::Stopped.into()
        } else {
            call.make(step, life.attempts(), journaled).await
        };
        match life.on(answer) {
            Effect::None => {}
            // Already noted by `Call::watched` when the answer came.
            Effect::PoolGone => {}
            Effect::StopRun(e) => ctx.caller.stop.stop(StopReason::Fatal {
                hint: crate::cognito::fatal_hint(&e.code).to_owned(),
                code: e.code,
                message: format!("{}: {}", step_op(step).name(), e.message),
            }),
        }
    }
    pending.record(started.elapsed().as_millis() as u64)
}

fn step_op(step: Step) -> Op {
    match step {
        Step::Check(_) => Op::GetUser,
        Step::SignOut => Op::SignOut,
        Step::Disable => Op::Disable,
        Step::Reset | Step::Done => Op::Reset,
    }
}

/// Which of a row's intents are already in the journal.
#[derive(Default)]
struct Journaled {
    reset: bool,
    disable: bool,
}

/// What one row needs to make its calls.
struct Call<'a> {
    ctx: &'a Ctx,
    row: &'a Row,
    region: &'a str,
    cognito: Cognito,
    metadata: Vec<(String, String)>,
}

impl Call<'_> {
    /// Makes the call a step needs, through the retry driver, within the
    /// attempts its life allows.
    async fn make(&self, step: Step, budget: Attempts, journaled: &mut Journaled) -> Answered {
        let (pool, user) = (self.row.pool.as_str(), self.row.username.as_str());
        if let Some(e) = self.pool_gone() {
            return Event::Err(e).into();
        }
        let caller = &self.ctx.caller;
        let c = &self.cognito;
        let (region, op, gone) = (self.region, step_op(step), || self.pool_gone());
        // The SDK's send futures are boxed: inline, their kilobytes of state
        // would be part of every row's future and copied whenever it moves.
        let (answer, spent) = match step {
            Step::Check(_) => {
                let (answer, spent) = caller
                    .call_unless(region, op, budget, gone, || {
                        Box::pin(self.watched(c.get_user(pool, user)))
                    })
                    .await;
                return event(answer, Some).after(spent);
            }
            Step::Reset => {
                if let Some(e) = self.capped() {
                    return Event::Err(e).into();
                }
                if let Err(e) = self.journal(&mut journaled.reset, Intended::Reset).await {
                    return Event::Err(e).into();
                }
                let meta = &self.metadata;
                // Asked again once the call holds its slot: a refusal that
                // came back meanwhile sends no more resets into the limit.
                let refused = || gone().or_else(|| self.capped());
                caller
                    .call_unless(region, op, budget, refused, || {
                        Box::pin(self.watched(c.reset(pool, user, meta)))
                    })
                    .await
            }
            Step::SignOut => {
                caller
                    .call_unless(region, op, budget, gone, || {
                        Box::pin(self.watched(c.global_sign_out(pool, user)))
                    })
                    .await
            }
            Step::Disable => {
                let intent = self.journal(&mut journaled.disable, Intended::Disable);
                if let Err(e) = intent.await {
                    return Event::Err(e).into();
                }
                caller
                    .call_unless(region, op, budget, gone, || {
                        Box::pin(self.watched(c.disable_user(pool, user)))
                    })
                    .await
            }
            Step::Done => return Event::Stopped.into(),
        };
        event(answer, |()| None).after(spent)
    }

    /// Sends a call; an answer saying the pool does not exist (or that the
    /// region's daily limit on codes is reached) is noted at once, while the
    /// call still holds its slot, so that no other row's attempt for the
    /// pool (no other reset in the region) is sent after it.
    async fn watched<T>(&self, sent: impl Future<Output = CallResult<T>>) -> CallResult<T> {
        let answer = sent.await;
        match &answer {
            Err(e) if e.class == Class::PoolFatal => {
                let mut gone = self.ctx.gone.lock().expect("gone pools");
                gone.insert(self.row.pool.clone());
            }
            Err(e) if e.class == Class::DailyLimit => {
                let mut capped = self.ctx.capped.lock().expect("capped regions");
                capped
                    .entry(self.region.to_owned())
                    .or_insert_with(|| e.clone());
            }
            _ => {}
        }
        answer
    }

    /// The row's region may send no more codes today (another row's reset
    /// was refused so): the same refusal, without a call.
    fn capped(&self) -> Option<CallError> {
        let capped = self.ctx.capped.lock().expect("capped regions");
        capped.get(self.region).cloned()
    }

    /// Waits before a check after a timed-out reset; `false` if the run
    /// stopped meanwhile.
    async fn settle(&self) -> bool {
        let stop = &self.ctx.caller.stop;
        tokio::select! {
            _ = stop.stopped() => false,
            _ = tokio::time::sleep(self.ctx.settle) => true,
        }
    }

    /// The row's pool was found not to exist (by another row's call).
    fn pool_gone(&self) -> Option<CallError> {
        let gone = self.ctx.gone.lock().expect("gone pools");
        gone.contains(&self.row.pool).then(|| {
            CallError::local(
                Class::PoolFatal,
                "ResourceNotFoundException",
                "the user pool does not exist (an earlier call for this pool said so)".into(),
            )
        })
    }

    /// Records the row's intent before its first reset (or disable) is sent.
    async fn journal(&self, journaled: &mut bool, what: Intended) -> Result<(), CallError> {
        let Some(journal) = &self.ctx.journal else {
            return Ok(());
        };
        if *journaled {
            return Ok(());
        }
        journal
            .intend(&self.row.pool, &self.row.username, what)
            .await
            .map_err(|e| {
                CallError::local(
                    Class::RunFatal,
                    "JournalError",
                    format!("cannot write the intent journal, so nothing can be sent safely: {e}"),
                )
            })?;
        *journaled = true;
        Ok(())
    }
}

fn event<T>(
    answer: Answer<T>,
    state: impl FnOnce(T) -> Option<crate::cognito::UserState>,
) -> Event {
    match answer {
        Answer::Ok(reply) => Event::Ok(state(reply.value)),
        Answer::Err(e) => Event::Err(e),
        Answer::Stopped => Event::Stopped,
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
