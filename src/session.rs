//! A run's state across its phases, and each phase as a method: `run`
//! calls them in order. Before [`Session::open_outputs`] nothing is
//! written and nothing that changes a user is sent.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::cognito::{Aws, Connection, Identity, Listing, UserPage};
use crate::config::{Config, RateSpec, Source};
use crate::exit::StartError;
use crate::files::{self, Open};
use crate::input::{
    Duplicates, Exclusions, FirstPage, Item, ItemReader, Lister, Survey, is_stream,
};
use crate::journal::{self, Header, Journal, JournalFile, RunLine};
use crate::keys::row_key;
use crate::limiter::{Category, Limiters};
use crate::pool::{Pipeline, Pools};
use crate::preflight::{self, Ask, PROBE_USER, PoolMap};
use crate::progress::{Stats, escape, say};
use crate::report::ReportWriter;
use crate::resume::{self, Earlier, Expect, Opened};
use crate::retry::Caller;
use crate::shutdown::Stop;
use crate::simulator::Simulator;
use crate::writer::Writer;

/// A stream's reader, its header and first row already read.
pub struct StreamReader {
    first: Option<Item>,
    rest: ItemReader<Box<dyn BufRead + Send + Sync>>,
}

impl Iterator for StreamReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.first.take().or_else(|| self.rest.next())
    }
}

/// Everything a run knows between its phases.
pub struct Session {
    /// The checked flags.
    pub config: Config,
    /// The run's cancellation.
    pub stop: Arc<Stop>,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// The retry driver.
    pub caller: Arc<Caller>,
    /// One limiter per (region, category).
    pub limiters: Arc<Limiters>,
    /// A file's survey.
    pub survey: Option<Survey>,
    /// A stream's reader.
    stream: Option<StreamReader>,
    exclusions: Exclusions,
    /// The in-process simulator (`--simulate`), kept alive for the run.
    _sim: Option<Simulator>,
    aws: Aws,
    /// Pools named before the run.
    pool_ids: Vec<String>,
    /// Pools, after the preflight.
    pools: Option<Arc<PoolMap>>,
    /// Lines for the plan.
    notes: Vec<String>,
    /// The caller, for the audit record.
    pub identity: Result<Identity, String>,
    listing: Option<(Lister, UserPage)>,
    resume: Option<Opened>,
    /// What earlier runs left.
    pub earlier: Arc<Earlier>,
    /// What the report belongs to.
    pub header: Header,
    /// This run.
    pub run: RunLine,
    /// The runs that wrote the report before this one.
    pub earlier_runs: Vec<RunLine>,
    /// When it started.
    pub started_at: SystemTime,
    /// Where calls go, for messages.
    pub endpoint: String,
}

/// How the report is taken for this run.
enum Report {
    /// `--resume`: opened, verified and locked before the plan.
    Resumed(File),
    /// `--overwrite` of this tool's report: locked, to be emptied.
    Overwritten(File),
    /// Created now.
    New,
}

/// The files a run writes, opened after the confirmation.
pub struct Outputs {
    /// The report writer task's inputs.
    pub writer: Writer,
    /// The journal (real runs).
    pub journal: Option<Journal>,
    /// The journal file, rewritten when the run ends.
    pub journal_file: JournalFile,
    /// `--summary`, created before the first call.
    pub summary_file: Option<File>,
}

/// Runs blocking work (reading a file, opening a FIFO) without holding up
/// the signals: a stop ends the wait.
async fn blocking<T: Send + 'static>(
    stop: &Stop,
    work: impl FnOnce() -> Result<T, StartError> + Send + 'static,
) -> Result<T, StartError> {
    let task = tokio::task::spawn_blocking(work);
    tokio::select! {
        _ = stop.stopped() => Err(StartError::NotConfirmed("stopped".into())),
        result = task => result.unwrap_or_else(|e| Err(StartError::Usage(format!("reading the input failed: {e}")))),
    }
}

/// The `--exclude` list, read without holding up the signals (it may be a
/// FIFO no one writes to). An empty list is refused: it is most likely a
/// failed export, and would protect nobody.
async fn read_exclusions(config: &Config, stop: &Stop) -> Result<Exclusions, StartError> {
    let Some(path) = config.exclude.clone() else {
        return Ok(Exclusions::default());
    };
    let column = config.read.username_column.clone();
    let read = {
        let path = path.clone();
        blocking(stop, move || Exclusions::read(&path, &column)).await?
    };
    if read.is_empty() {
        return Err(StartError::Usage(format!(
            "--exclude {} lists no user: an empty list is most likely a failed export, and \
             would protect nobody (give the accounts to keep, or leave --exclude out)",
            escape(&path)
        )));
    }
    Ok(read)
}

impl Session {
    /// Reads what can be read before any call: the input (surveyed when it
    /// is a file, its header when a stream), the exclusions; starts the
    /// simulator; loads credentials.
    pub async fn prepare(
        config: Config,
        run: RunLine,
        stop: Arc<Stop>,
    ) -> Result<Session, StartError> {
        let (survey, stream) = read_input(&config, &stop).await?;
        let exclusions = read_exclusions(&config, &stop).await?;
        let pool_ids: Vec<String> = match &survey {
            Some(s) => s.pools.keys().cloned().collect(),
            None => config.read.default_pool.iter().cloned().collect(),
        };
        let sim = start_simulator(&config, &pool_ids).await?;
        let endpoint = sim
            .as_ref()
            .map(|s| format!("the built-in simulator at {}", s.url()))
            .or(config.endpoint_url.clone())
            .unwrap_or_else(|| "AWS".into());
        warn_plain_http(&config);
        let aws = connect(&config, sim.as_ref()).await?;
        let limiters = Arc::new(Limiters::new(config.rates));
        let stats = Arc::new(Stats::default());
        let caller = Arc::new(Caller {
            backoff: config.backoff,
            max_attempts: config.policy.max_attempts,
            limiters: limiters.clone(),
            stop: stop.clone(),
            stats: stats.clone(),
            in_flight: tokio::sync::Semaphore::new(config.concurrency.max(1)),
        });
        let header = Header::new(
            &fingerprint(&config, survey.as_ref()),
            config.policy.dry_run,
            config.policy.sign_out,
        );
        Ok(Session {
            run,
            started_at: SystemTime::now(),
            earlier_runs: Vec::new(),
            config,
            stop,
            stats,
            caller,
            limiters,
            survey,
            stream,
            exclusions,
            _sim: sim,
            aws,
            pool_ids,
            pools: None,
            notes: Vec::new(),
            identity: Err("not asked".into()),
            listing: None,
            resume: None,
            earlier: Arc::new(Earlier::default()),
            header,
            endpoint,
        })
    }
}

/// Loads credentials from the standard chain (dummy ones for the simulator).
async fn connect(config: &Config, sim: Option<&Simulator>) -> Result<Aws, StartError> {
    Aws::load(&Connection {
        profile: config.profile.clone(),
        endpoint_url: sim.map(Simulator::url).or(config.endpoint_url.clone()),
        dummy_credentials: sim.is_some(),
        attempt_timeout: config.call_timeout,
    })
    .await
}

/// The message for an input that holds no row: a failed export must not
/// look like a run that reset everyone.
fn no_rows(name: &str) -> StartError {
    StartError::Usage(format!(
        "{} holds no rows (a CSV input needs its header line and at least one row); nothing to do",
        escape(name)
    ))
}

/// Opens a stream (standard input, a FIFO) and reads its header and first
/// row, on a thread of its own: the header tells its columns, the first row
/// that it is not empty.
async fn open_stream(
    stop: &Stop,
    name: String,
    options: crate::input::ReadOptions,
    open: impl FnOnce() -> Result<Box<dyn BufRead + Send + Sync>, StartError> + Send + 'static,
) -> Result<StreamReader, StartError> {
    blocking(stop, move || {
        let mut reader = ItemReader::new(open()?, &options, &name)?;
        let first = reader.next().ok_or_else(|| no_rows(&name))?;
        Ok(StreamReader {
            first: Some(first),
            rest: reader,
        })
    })
    .await
}

/// Surveys a file; opens a stream and reads its header.
async fn read_input(
    config: &Config,
    stop: &Stop,
) -> Result<(Option<Survey>, Option<StreamReader>), StartError> {
    let options = config.read.clone();
    match &config.source {
        Source::File(path) if !is_stream(path) => {
            let path = path.clone();
            let survey = blocking(stop, move || {
                let survey = crate::input::survey(&path, &options)?;
                if survey.rows == 0 {
                    return Err(no_rows(&path));
                }
                Ok(survey)
            })
            .await?;
            Ok((Some(survey), None))
        }
        Source::File(path) if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) => {
            Err(StartError::Usage(format!(
                "{} is a directory, not an input file",
                escape(path)
            )))
        }
        Source::File(path) => {
            let name = path.clone();
            let path = path.clone();
            let open = move || -> Result<Box<dyn BufRead + Send + Sync>, StartError> {
                let file = File::open(&path).map_err(|e| StartError::io(escape(&path), e))?;
                Ok(Box::new(std::io::BufReader::with_capacity(64 * 1024, file)))
            };
            Ok((None, Some(open_stream(stop, name, options, open).await?)))
        }
        Source::Stdin => {
            let open = || -> Result<Box<dyn BufRead + Send + Sync>, StartError> {
                Ok(Box::new(std::io::BufReader::with_capacity(
                    64 * 1024,
                    std::io::stdin(),
                )))
            };
            let name = "standard input".to_owned();
            Ok((None, Some(open_stream(stop, name, options, open).await?)))
        }
        Source::Pool { .. } | Source::Group { .. } => Ok((None, None)),
    }
}

/// With `--simulate`, serves the pools the run names, so any well-formed
/// pool id rehearses the real command line.
async fn start_simulator(
    config: &Config,
    pools: &[String],
) -> Result<Option<Simulator>, StartError> {
    let Some(sim_config) = &config.simulate else {
        return Ok(None);
    };
    let mut sim_config = sim_config.clone();
    for pool in pools {
        sim_config.add_pool(pool);
    }
    let sim = Simulator::start("127.0.0.1:0", sim_config)
        .await
        .map_err(|e| StartError::io("the simulator", e))?;
    Ok(Some(sim))
}

/// Credentials would sign requests in the clear.
fn warn_plain_http(config: &Config) {
    let Some(url) = &config.endpoint_url else {
        return;
    };
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://") else {
        return;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    if !loopback {
        say(&format!(
            "cognito-reset: WARNING: --endpoint-url {} is plain http and not loopback: \
             requests (signed with your credentials) travel unencrypted",
            escape(url)
        ));
    }
}

/// What a report belongs to: the input's fingerprint and the pool.
fn fingerprint(config: &Config, survey: Option<&Survey>) -> String {
    let pool = config.read.default_pool.as_deref().unwrap_or("-");
    match (&config.source, survey) {
        (Source::File(_), Some(s)) => format!("sha256:{} pool:{pool}", s.sha256),
        (Source::Pool { pool, filter }, _) => {
            format!("pool:{pool} filter:{}", filter.as_deref().unwrap_or(""))
        }
        (Source::Group { pool, group }, _) => format!("pool:{pool} group:{group}"),
        _ => format!("stream pool:{pool}"),
    }
}

impl Session {
    /// The pools, after the preflight.
    pub fn pools(&self) -> Arc<PoolMap> {
        self.pools.clone().expect("the preflight ran")
    }

    /// The categories this run calls, for the progress line.
    pub fn categories(&self) -> Vec<Category> {
        let p = &self.config.policy;
        let mut categories = Vec::new();
        if p.dry_run {
            categories.push(Category::UserRead);
        } else {
            categories.push(Category::UserAccountRecovery);
        }
        if !p.dry_run && (p.sign_out || p.disable_unreachable) {
            categories.push(Category::UserUpdate);
        }
        if self.listing.is_some() {
            categories.push(Category::UserList);
        }
        categories
    }

    /// What Cognito says before anything is sent: the report and resume
    /// checks, the pools, the rates, the caller, the listing's first page.
    pub async fn preflight(&mut self) -> Result<(), StartError> {
        self.check_report()?;
        let mut map = PoolMap::new(self.aws.clone(), self.config.region.clone());
        let ask = Ask {
            pools: &self.pool_ids,
            rows: self.survey.as_ref().map(Survey::distinct_by_pool),
            dry_run: self.config.policy.dry_run,
            endpoint: &self.endpoint,
        };
        preflight::describe_pools(&self.caller, &mut map, &ask).await?;
        if self.config.recovery_rate == RateSpec::Auto {
            let lines = preflight::auto_rates(&self.caller, &map, &self.limiters).await;
            self.notes.extend(lines);
        }
        let region = map
            .regions()
            .into_iter()
            .next()
            .unwrap_or_else(|| "us-east-1".into());
        self.identity = preflight::identity(&self.aws, &region).await;
        self.pools = Some(Arc::new(map));
        self.first_page().await?;
        self.read_earlier()?;
        self.probe().await
    }

    /// Before anything else: a resume's report is this tool's, for this
    /// input and mode, and held by no other run; a fresh run's report does
    /// not exist yet; every output path is writable.
    fn check_report(&mut self) -> Result<(), StartError> {
        let report = self.config.report.clone();
        if self.config.resume {
            let expect = Expect {
                header: &self.header,
                sign_out: self.config.policy.sign_out,
                check_all: self.config.check_all,
            };
            self.resume = Some(resume::open(&report, &expect)?);
        } else if std::fs::symlink_metadata(&report).is_ok_and(|m| !m.is_file()) {
            let shown = escape(&report.display().to_string());
            let what = if files::is_symlink(&report) {
                "a symbolic link; refusing to write through it"
            } else {
                "not a regular file (a directory, FIFO or device)"
            };
            return Err(StartError::Usage(format!(
                "--report {shown} is {what}: give the path of a report file"
            )));
        } else if !self.config.overwrite && files::exists(&report) {
            return Err(StartError::ReportExists(escape(
                &report.display().to_string(),
            )));
        } else if files::exists(&report) {
            // --overwrite empties only this tool's own report.
            let file = files::open(&report, Open::Existing)
                .map_err(|e| StartError::Usage(files::explain(&report, &e)))?;
            self.check_not_input(&file, &report)?;
            resume::check_ours(&file, &report)?;
        } else {
            files::check_writable(&report).map_err(StartError::Usage)?;
        }
        if let Some(summary) = &self.config.summary {
            files::check_writable(summary).map_err(StartError::Usage)?;
            crate::summary::check_replaceable(summary)?;
        }
        self.check_journal_path()?;
        if self.config.check_all && self.resume.as_ref().is_some_and(|r| !r.journal_lost) {
            self.notes
                .push("--check-all: every user not yet reset is checked before sending".into());
        }
        Ok(())
    }

    /// The journal's path: never a symbolic link; for a new report, no
    /// journal of another run with resets it never recorded.
    fn check_journal_path(&self) -> Result<(), StartError> {
        let path = journal::path_for(&self.config.report);
        let shown = escape(&path.display().to_string());
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StartError::Usage(format!(
                    "{shown} is a symbolic link; refusing to write through it (remove it)"
                )));
            }
            Ok(m) if !m.is_file() => {
                return Err(StartError::Usage(format!("{shown} is not a regular file")));
            }
            _ => {}
        }
        let report_exists = files::exists(&self.config.report);
        if self.config.resume || (report_exists && !self.config.overwrite) {
            return Ok(());
        }
        let pending = journal::read(&path, |_, _| true)
            .ok()
            .flatten()
            .map_or(0, |j| j.intents.len());
        if pending == 0 {
            return Ok(());
        }
        if report_exists {
            // A run holding the report is still writing its journal: say so.
            let file = files::open(&self.config.report, Open::Existing)
                .map_err(|e| StartError::Usage(files::explain(&self.config.report, &e)))?;
            drop(self.lock(file, &self.config.report)?);
        }
        let why = if report_exists {
            "whose outcome no report row records (a run was killed or stopped with calls in \
             flight): --resume checks them first; --overwrite would send them again"
        } else {
            "by an earlier run whose report is gone: put the report back and --resume (the \
             journal says whom to check)"
        };
        Err(StartError::Refused(format!(
            "{shown} holds {pending} reset(s) sent {why}; or delete the journal to start afresh \
             (every user is then sent a reset again)"
        )))
    }

    /// A listing's first page: Cognito refusing it stops the run here.
    async fn first_page(&mut self) -> Result<(), StartError> {
        let (pool, listing) = match &self.config.source {
            Source::Pool { pool, filter } => (
                pool.clone(),
                Listing::Pool {
                    filter: filter.clone(),
                },
            ),
            Source::Group { pool, group } => (pool.clone(), Listing::Group(group.clone())),
            _ => return Ok(()),
        };
        let pools = self.pools();
        let region = pools.region_of(&pool);
        let lister = Lister {
            caller: self.caller.clone(),
            cognito: pools.client(&region),
            region,
            pool: pool.clone(),
            listing,
        };
        match lister.first_page().await {
            FirstPage::Page(page) => {
                self.listing = Some((lister, page));
                Ok(())
            }
            FirstPage::Refused(e) => Err(StartError::Aws(format!(
                "Cognito refused to list the users of {pool}: {}: {}; nothing was sent",
                e.code,
                escape(&e.message)
            ))),
            FirstPage::Stopped => Err(StartError::NotConfirmed("stopped".into())),
        }
    }

    /// A resume: what the earlier runs left, keyed by each pool's case rule.
    fn read_earlier(&mut self) -> Result<(), StartError> {
        let Some(opened) = &mut self.resume else {
            return Ok(());
        };
        let pools = self.pools.clone().expect("the preflight ran");
        let expect = Expect {
            header: &self.header,
            sign_out: self.config.policy.sign_out,
            check_all: self.config.check_all,
        };
        let key = |pool: &str, user: &str| row_key(pool, user, pools.folds_case(pool));
        let earlier = resume::read(opened, &self.config.report, &expect, key)?;
        let mut note = format!(
            "resume: {} users already done; {} to check with AdminGetUser before any call",
            earlier.done.values().filter(|d| d.is_done()).count(),
            if earlier.check_all {
                "every other".to_owned()
            } else {
                earlier.uncertain.len().to_string()
            }
        );
        if earlier.torn_line {
            note.push_str("; a torn last line (from a crash) was cut off");
        }
        self.notes.push(note);
        self.earlier = Arc::new(earlier);
        Ok(())
    }

    /// Checks that AdminGetUser is permitted where the run depends on it,
    /// before anything is sent.
    async fn probe(&mut self) -> Result<(), StartError> {
        let p = self.config.policy;
        let must_verify = self.earlier.check_all || !self.earlier.uncertain.is_empty();
        let Some(pool) = self.pool_ids.first().cloned() else {
            return Ok(());
        };
        let pool = match self.earlier.uncertain.values().next() {
            Some(pending) => pending.pool.clone(),
            None => pool,
        };
        let pools = self.pools();
        let Err(e) = preflight::probe_checks(&self.caller, &pools, &pool, PROBE_USER).await else {
            return Ok(());
        };
        let why = format!(
            "cognito-idp:AdminGetUser is not permitted ({}: {})",
            e.code, e.message
        );
        if must_verify && !p.dry_run && !p.resend_unchecked {
            return Err(StartError::Aborted(format!(
                "{why}: the users whose earlier reset was never recorded cannot be checked, and \
                 are never reset a second time on a guess. Allow AdminGetUser and --resume, or \
                 pass --resend-unchecked to send those users a reset again; nothing was sent"
            )));
        }
        if p.dry_run || p.disable_unreachable {
            let purpose = if p.dry_run {
                "--dry-run predicts each row with it"
            } else {
                "--unresettable disable needs it to tell federated users (never disabled) apart"
            };
            return Err(StartError::Usage(format!(
                "{why}: {purpose}; nothing was sent"
            )));
        }
        // Not needed to reset: without it a refused reset is reported as the
        // service's refusal, without finding out why.
        self.config.policy.classify = false;
        self.notes.push(format!(
            "{why}: a reset Cognito refuses is reported without reading the user's state (who \
             has no verified contact, who is federated); a reset whose answer is lost is \
             reported failed rather than sent again unchecked"
        ));
        Ok(())
    }
}

impl Session {
    /// The plan, as the operator reads it before confirming.
    pub fn plan(&self) -> String {
        crate::plan::render(self)
    }

    /// Notes gathered for the plan.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Whether a listing is the source.
    pub fn listing(&self) -> bool {
        self.listing.is_some()
    }

    /// Users excluded.
    pub fn excluded(&self) -> usize {
        self.exclusions.len()
    }

    /// Asks `[y/N]` on a terminal; off a terminal, `--yes` is needed. Dry
    /// runs and the simulator never ask.
    pub async fn confirm(&self) -> Result<(), StartError> {
        let c = &self.config;
        if c.policy.dry_run || c.simulate.is_some() || c.yes {
            return Ok(());
        }
        if !crate::run::can_ask(c) {
            return Err(StartError::NotConfirmed(
                "not on a terminal (or standard input is the data), so cannot ask for \
                 confirmation: pass --yes to reset without asking; nothing was sent"
                    .into(),
            ));
        }
        // The answer is read on a thread of its own, so that a signal at
        // the prompt stops the run at once.
        let answer = blocking(&self.stop, || {
            Ok(crate::progress::ask("Reset these users' passwords?"))
        })
        .await?;
        if answer {
            Ok(())
        } else {
            Err(StartError::NotConfirmed(
                "not confirmed; nothing was sent".into(),
            ))
        }
    }

    /// Creates (or, resuming, takes over) the report, the journal and the
    /// summary file, before the first call. What cannot be opened stops the
    /// run and leaves nothing new behind.
    pub fn open_outputs(&mut self) -> Result<Outputs, StartError> {
        let report_path = self.config.report.clone();
        let journal_path = journal::path_for(&report_path);
        let mut created: Vec<std::path::PathBuf> = Vec::new();
        let result = self.open_outputs_in(&report_path, &journal_path, &mut created);
        if result.is_err() {
            for path in created {
                let _ = std::fs::remove_file(path);
            }
        }
        result
    }

    fn open_outputs_in(
        &mut self,
        report_path: &std::path::Path,
        journal_path: &std::path::Path,
        created: &mut Vec<std::path::PathBuf>,
    ) -> Result<Outputs, StartError> {
        let explain =
            |p: &std::path::Path, e: std::io::Error| StartError::Usage(files::explain(p, &e));
        let summary_file = self.open_summary(created)?;
        // The report's lock comes first: nothing another run holds (its
        // journal above all) is touched before this run holds the report.
        let mut journal_lost = false;
        let report = match self.resume.take() {
            Some(opened) => {
                self.earlier_runs.clone_from(&opened.runs);
                journal_lost = opened.journal_lost;
                Report::Resumed(opened.file)
            }
            None if self.config.overwrite && files::exists(report_path) => {
                Report::Overwritten(self.existing_report(report_path)?)
            }
            None => Report::New,
        };
        // Then the journal, then a new report: a report never exists
        // without its journal.
        let how = match &report {
            // A lost journal (resumed with --check-all) starts over.
            Report::Resumed(_) if journal_lost => Open::Truncate,
            Report::Resumed(_) => Open::Existing,
            Report::Overwritten(_) => Open::Truncate,
            Report::New => {
                // A journal without its report holds no intent (checked
                // before the plan): a run that died before its first call.
                let _ = std::fs::remove_file(journal_path);
                created.push(journal_path.to_owned());
                Open::CreateNew
            }
        };
        let dry_run = self.config.policy.dry_run;
        let runs = self.earlier_runs.clone();
        let (journal, journal_file) =
            journal::open(journal_path, how, &self.header, &runs, &self.run, !dry_run)
                .map_err(|e| explain(journal_path, e))?;
        let report = self.report_file(report, report_path, created)?;
        let report = ReportWriter::new(report, report_path, self.config.policy.sign_out)
            .map_err(|e| explain(report_path, e))?;
        let writer = Writer {
            report,
            stats: self.stats.clone(),
            stop: self.stop.clone(),
            max_failure_rate: (!dry_run).then_some(self.config.max_failure_rate),
            verbose: self.config.verbosity >= crate::config::Verbosity::Verbose,
            earlier: self.earlier.clone(),
        };
        Ok(Outputs {
            writer,
            journal,
            journal_file,
            summary_file,
        })
    }

    /// `--summary`, emptied and given a provisional summary now: a run that
    /// dies leaves no earlier run's summary looking like its own.
    fn open_summary(
        &self,
        created: &mut Vec<std::path::PathBuf>,
    ) -> Result<Option<File>, StartError> {
        let Some(path) = &self.config.summary else {
            return Ok(None);
        };
        let explain = |e: std::io::Error| StartError::Usage(files::explain(path, &e));
        crate::summary::check_replaceable(path)?;
        let existed = files::exists(path);
        let f = files::open(path, Open::Truncate).map_err(explain)?;
        if !existed {
            created.push(path.clone());
        }
        let provisional = f.try_clone().map_err(explain)?;
        let summary = self.provisional_summary();
        crate::summary::write_summary(provisional, &summary, &self.config.summary);
        Ok(Some(f))
    }

    /// An existing report `--overwrite` may empty: locked, this tool's, not
    /// the input.
    fn existing_report(&self, path: &std::path::Path) -> Result<File, StartError> {
        let file = files::open(path, Open::Existing)
            .map_err(|e| StartError::Usage(files::explain(path, &e)))?;
        let file = self.lock(file, path)?;
        self.check_not_input(&file, path)?;
        resume::check_ours(&file, path)?;
        Ok(file)
    }

    /// The report file, ready for appending: a resumed one (an empty one, a
    /// run killed as it created it, gets its header), an overwritten one
    /// emptied down to its header, or a new one created with it.
    fn report_file(
        &self,
        report: Report,
        path: &std::path::Path,
        created: &mut Vec<std::path::PathBuf>,
    ) -> Result<File, StartError> {
        let shown = escape(&path.display().to_string());
        let io = |e| StartError::io(&shown, e);
        let header = crate::report::header_bytes(path, self.config.policy.sign_out);
        match report {
            Report::Resumed(mut file) => {
                if file.metadata().map_err(io)?.len() == 0 {
                    file.write_all(&header).map_err(io)?;
                }
                Ok(file)
            }
            Report::Overwritten(mut file) => {
                file.set_len(0)
                    .and_then(|_| file.write_all(&header))
                    .map_err(io)?;
                Ok(file)
            }
            Report::New => {
                let file = files::create_with(path, &header).map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => StartError::ReportExists(shown.clone()),
                    _ => StartError::Usage(files::explain(path, &e)),
                })?;
                created.push(path.to_owned());
                self.lock(file, path)
            }
        }
    }

    fn lock(&self, file: File, path: &std::path::Path) -> Result<File, StartError> {
        match files::try_lock(&file) {
            Ok(true) => Ok(file),
            Ok(false) => Err(resume::locked(path, &journal::path_for(path))),
            Err(e) => Err(StartError::io(escape(&path.display().to_string()), e)),
        }
    }

    /// `--overwrite` must never empty the input itself.
    fn check_not_input(&self, report: &File, path: &std::path::Path) -> Result<(), StartError> {
        use std::os::unix::fs::MetadataExt;
        let Source::File(input) = &self.config.source else {
            return Ok(());
        };
        let (Ok(a), Ok(b)) = (report.metadata(), std::fs::metadata(input)) else {
            return Ok(());
        };
        if a.dev() == b.dev() && a.ino() == b.ino() {
            return Err(StartError::Usage(format!(
                "--report {} is the input file; refusing to overwrite it",
                escape(&path.display().to_string())
            )));
        }
        Ok(())
    }
}

impl Session {
    /// Starts feeding rows into the queue: a file or stream on a thread of
    /// its own, a listing as a task.
    pub fn feed(&mut self, tx: mpsc::Sender<Vec<Item>>) {
        if let Some((lister, first)) = self.listing.take() {
            tokio::spawn(lister.feed(first, tx));
            return;
        }
        if let Some(reader) = self.stream.take() {
            crate::run::feed_thread(reader, tx, 1);
            return;
        }
        let Source::File(path) = &self.config.source else {
            return;
        };
        let opened = File::open(path)
            .map_err(|e| StartError::io(escape(path), e))
            .and_then(|f| {
                ItemReader::new(
                    std::io::BufReader::with_capacity(64 * 1024, f),
                    &self.config.read,
                    path,
                )
            });
        match opened {
            Ok(reader) => crate::run::feed_thread(reader, tx, crate::run::FILE_BATCH),
            Err(e) => say(&format!("cognito-reset: {e}")),
        }
    }

    /// The dispatcher's inputs.
    pub fn pipeline(&mut self, journal: Option<Journal>) -> Pipeline {
        let duplicates = match (&self.config.source, self.survey.as_mut()) {
            (Source::Pool { .. } | Source::Group { .. }, _) => Duplicates::Unique,
            (_, Some(s)) => Duplicates::from_survey(std::mem::take(&mut s.repeated)),
            (_, None) => Duplicates::All(Default::default()),
        };
        Pipeline {
            policy: self.config.policy,
            concurrency: self.config.concurrency,
            caller: self.caller.clone(),
            pools: self.pools() as Arc<dyn Pools>,
            earlier: self.earlier.clone(),
            duplicates,
            exclusions: std::mem::take(&mut self.exclusions),
            journal,
            metadata: self.config.client_metadata.clone(),
            settle: self.config.call_timeout,
            drain: matches!(self.config.source, Source::File(_)) && self.survey.is_some(),
        }
    }

    /// The pools the run named, with their regions.
    pub fn pool_regions(&self) -> BTreeSet<(String, String)> {
        let pools = self.pools();
        self.pool_ids
            .iter()
            .map(|p| (p.clone(), pools.region_of(p)))
            .collect()
    }
}
