//! After the confirmation: the outputs are opened ([`open`]), then the rows
//! run ([`execute`]): the input feeds the bounded queue, the pool works the
//! rows, the writer records them, and progress shows on the terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::check::{Checked, Found};
use super::prepare::{Context, Service};
use super::watch;
use crate::audit::{InputRecord, Summary};
use crate::exit::StartError;
use crate::input::{Description, Exclusions, Input};
use crate::journal::{Header, JournalFile, RunLine, Sticky};
use crate::limiter::Category;
use crate::outputs::{self, Outputs, Want};
use crate::pool::{self, Pipeline, Pools};
use crate::progress::{self, Display, Show, Verbosity};
use crate::resume::Earlier;
use crate::writer::{Finished, Writer};

/// Batches of items waiting between the reader and the dispatcher at most:
/// enough to keep workers busy, few enough that memory does not grow with
/// the input.
pub const ITEM_QUEUE: usize = 4;

/// The run with its outputs open.
pub struct Opened {
    /// What every phase shares.
    pub ctx: Context,
    /// Where the rows come from.
    pub input: Input,
    /// `--exclude`.
    pub exclusions: Exclusions,
    /// Where calls go.
    pub service: Service,
    /// What the report belongs to.
    pub header: Header,
    /// What the preflight found.
    pub found: Found,
    /// What earlier runs of the report left.
    pub earlier: Arc<Earlier>,
    /// The files.
    pub outputs: Outputs,
}

/// What the run did, for its end.
pub struct Ran {
    /// What the writer counted and must keep.
    pub finished: Finished,
    /// The journal file, rewritten once the report is synced.
    pub journal_file: JournalFile,
    /// `--summary`.
    pub summary: Option<std::path::PathBuf>,
    /// Wall time of the execute phase.
    pub elapsed: Duration,
    /// Calls per category made before it (the preflight's).
    pub calls_before: [u64; Category::ALL.len()],
}

/// The run, executed.
pub struct Executed {
    /// What every phase shares.
    pub ctx: Context,
    /// What the audit record says of the input.
    pub input: Description,
    /// What the report belongs to.
    pub header: Header,
    /// What the preflight found.
    pub found: Found,
    /// Where calls went (the simulator lives until the end).
    pub service: Service,
    /// The runs that wrote the report before this one.
    pub earlier_runs: Vec<RunLine>,
    /// What they left (a resume): the whole report's sign-outs.
    pub earlier: Arc<Earlier>,
    /// What the run did.
    pub ran: Ran,
}

/// The audit record's first part, common to the summary a run keeps while
/// it goes on and the one it leaves: who runs, on what, against which pools.
pub fn summary_of(
    ctx: &Context,
    input: Description,
    header: &Header,
    found: &Found,
    earlier_runs: &[RunLine],
) -> Summary {
    let mut summary = Summary::start(&ctx.config, &ctx.line);
    summary.runs = earlier_runs.to_vec();
    summary.runs.push(ctx.line.clone());
    summary.input = InputRecord::new(input, &header.fingerprint);
    summary.pools = found.pool_records();
    summary
}

/// Creates (or, resuming, takes over) the report, the journal and the
/// summary file, before the first call.
pub fn open(c: Checked) -> Result<Opened, StartError> {
    c.input.unchanged()?;
    let sticky = Sticky {
        skip_done: c.earlier.elsewhere_names.clone(),
        exclude: c.exclusions.entries(),
    };
    let want = Want {
        config: &c.ctx.config,
        header: &c.header,
        input: c.input.file(),
        sticky: &sticky,
    };
    let runs = c.claim.earlier_runs();
    let mut provisional = summary_of(&c.ctx, c.input.description(), &c.header, &c.found, &runs);
    provisional.stopped = Some(crate::audit::RUNNING.into());
    let outputs = outputs::open(c.claim, &want, &c.ctx.line, &provisional)?;
    Ok(Opened {
        ctx: c.ctx,
        input: c.input,
        exclusions: c.exclusions,
        service: c.service,
        header: c.header,
        found: c.found,
        earlier: c.earlier,
        outputs,
    })
}

/// Rows in, workers, report out; progress on the terminal.
pub async fn execute(o: Opened) -> Executed {
    let Opened {
        ctx,
        mut input,
        exclusions,
        service,
        header,
        found,
        earlier,
        outputs,
    } = o;
    let description = input.description();
    let journal = outputs.journal.clone();
    let pipeline = pipeline(
        &ctx,
        &mut input,
        exclusions,
        &found,
        &earlier,
        outputs.journal,
    );
    let writer = writer(&ctx, outputs.report, earlier.clone(), journal);
    let show = show(&ctx, &input);
    let (items_tx, items_rx) = mpsc::channel(ITEM_QUEUE);
    input.feed(items_tx, ctx.caller.stop.clone());
    let base = summary_of(
        &ctx,
        description.clone(),
        &header,
        &found,
        &outputs.earlier_runs,
    );
    let watchers = watchers(&ctx, base, show);
    // From here on, refused credentials and outages pause the rows.
    ctx.caller.pauses.arm();
    let started = std::time::Instant::now();
    let calls_before = ctx.stats.snapshot();
    let finished = pool::execute(items_rx, pipeline, writer).await;
    let elapsed = started.elapsed();
    watchers.stop().await;
    Executed {
        ctx,
        input: description,
        header,
        found,
        service,
        earlier_runs: outputs.earlier_runs,
        earlier,
        ran: Ran {
            finished,
            journal_file: outputs.journal_file,
            summary: outputs.summary,
            elapsed,
            calls_before,
        },
    }
}

/// The report writer's inputs.
fn writer(
    ctx: &Context,
    report: crate::report::ReportWriter,
    earlier: Arc<Earlier>,
    journal: Option<crate::journal::Journal>,
) -> Writer {
    Writer {
        report,
        stats: ctx.stats.clone(),
        stop: ctx.stop.clone(),
        max_failure_rate: (!ctx.config.policy.dry_run).then_some(ctx.config.max_failure_rate),
        verbose: ctx.config.verbosity >= Verbosity::Verbose,
        earlier,
        journal,
    }
}

/// The tasks that watch a run: the stop announced, the summary file kept
/// current, and the progress line.
struct Watchers {
    done: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchers {
    /// Stops them once the rows are done, each finishing its last word.
    async fn stop(self) {
        self.done.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn watchers(ctx: &Context, mut base: Summary, show: progress::Show) -> Watchers {
    let done = CancellationToken::new();
    let announce = watch::announce_stop(
        ctx.stop.clone(),
        ctx.stats.clone(),
        ctx.config.verbosity,
        done.clone(),
    );
    let mut tasks = vec![tokio::spawn(announce)];
    if let Some(path) = &ctx.config.summary {
        base.stopped = Some(crate::audit::RUNNING.into());
        let keeper = watch::Keeper {
            path: path.clone(),
            base,
            stats: ctx.stats.clone(),
            pauses: ctx.caller.pauses.clone(),
            total: show.total,
            started: ctx.started_at,
        };
        tasks.push(tokio::spawn(watch::keep_summary(keeper, done.clone())));
    }
    tasks.push(tokio::spawn(progress::show(show, done.clone())));
    Watchers { done, tasks }
}

/// The dispatcher's inputs.
fn pipeline(
    ctx: &Context,
    input: &mut Input,
    exclusions: Exclusions,
    found: &Found,
    earlier: &Arc<Earlier>,
    journal: Option<crate::journal::Journal>,
) -> Pipeline {
    let config = &ctx.config;
    Pipeline {
        policy: crate::life::Policy {
            classify: found.checks_permitted,
            ..config.policy
        },
        concurrency: config.concurrency,
        caller: ctx.caller.clone(),
        pools: found.pools.clone() as Arc<dyn Pools>,
        earlier: earlier.clone(),
        duplicates: input.duplicates(),
        exclusions,
        journal,
        metadata: config.client_metadata.clone(),
        settle: config.call_timeout,
        drain: input.drains(),
    }
}

/// What the progress task shows.
fn show(ctx: &Context, input: &Input) -> Show {
    let config = &ctx.config;
    let display = match config.verbosity {
        Verbosity::Quiet => Display::Quiet,
        _ if std::io::stderr().is_terminal() => Display::Bar,
        _ => Display::Log,
    };
    let p = &config.policy;
    let mut categories = Vec::new();
    if p.dry_run {
        categories.push(Category::UserRead);
    } else {
        categories.push(Category::UserAccountRecovery);
    }
    if !p.dry_run && (p.sign_out || p.disable_unreachable) {
        categories.push(Category::UserUpdate);
    }
    if input.is_listing() {
        categories.push(Category::UserList);
    }
    Show {
        display,
        stats: ctx.stats.clone(),
        total: input.survey().map(|s| s.rows),
        sign_out: p.sign_out,
        categories,
        weather: Some(ctx.caller.pauses.clone() as Arc<dyn crate::progress::Weather>),
    }
}
