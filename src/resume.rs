//! `--resume`: what an earlier run of the same report left, and the checks
//! that make sure it is that report.
//!
//! Nothing is touched before it is known to be this tool's report for this
//! input and this mode: [`open`] checks the report's header and the journal's
//! fingerprint, and takes the report's lock, before anything is cut or
//! appended. A report that is missing is "nothing to resume" — a resume never
//! starts afresh, because that is how a user gets two resets (a resume from
//! the wrong directory). A journal that is missing, empty or unreadable beside
//! a report is never read as "nothing was in flight": the resume refuses
//! unless `--check-all` says to check every row not yet done.
//!
//! [`read`] then learns, per user, what is done (reset or disabled, and
//! whether the sign-out is still owed) and which rows had a reset sent whose
//! outcome was never recorded (intents without a final outcome).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::cognito::RefusalCode;
use crate::exit::StartError;
use crate::files;
use crate::journal::{self, Checkpoint, Header, Pending, RunLine};
use crate::keys::KeyMap;
use crate::life::Earlier as Owed;
use crate::report::{
    Broken, Chain, Fault, FirstLine, Layout, Meaning, Outcome, Reader, Record, ReportFormat,
    header_bytes, judge_header, read_whole,
};
use crate::tally::Shape;

/// The longest report header this reads.
const MAX_HEADER: u64 = 64 * 1024;

/// The latest outcome an earlier run recorded for a user, with what a resume
/// needs of it packed into a byte, and what the row counts as: a report of
/// millions of rows stays small in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    bits: u8,
    /// The row's [`Shape`] among the report's [`Shapes`] ([`NO_SHAPE`]: not
    /// kept).
    shape: u16,
}

/// A [`Done`] whose row's shape is not kept (another report's).
const NO_SHAPE: u16 = u16::MAX;

/// Bits 0–3: the outcome's position in [`Outcome::ALL`].
const OUTCOME: u8 = 0x0f;
const SIGNED_OUT: u8 = 0x10;
const SIGN_OUT_FAILED: u8 = 0x20;
const INVALID_PARAMETER: u8 = 0x40;
/// A `failed` row final for its user ([`crate::life::unresettable`]).
const UNRESETTABLE: u8 = 0x80;

impl Done {
    /// From a report row.
    pub fn new(outcome: Outcome, code: &str, signed_out: Option<bool>) -> Done {
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(1);
        let mut bits = index as u8 & OUTCOME;
        if RefusalCode::parse(code) == RefusalCode::InvalidParameter {
            bits |= INVALID_PARAMETER;
        }
        match signed_out {
            Some(true) => bits |= SIGNED_OUT,
            Some(false) => bits |= SIGN_OUT_FAILED,
            None => {}
        }
        Done {
            bits,
            shape: NO_SHAPE,
        }
    }

    /// With the row's shape.
    fn shaped(self, shape: u16) -> Done {
        Done { shape, ..self }
    }

    /// The outcome recorded.
    pub fn outcome(self) -> Outcome {
        Outcome::ALL
            .get(usize::from(self.bits & OUTCOME))
            .copied()
            .unwrap_or(Outcome::Failed)
    }

    /// Whether the user is done (reset or disabled).
    pub fn is_done(self) -> bool {
        matches!(
            self.outcome(),
            Outcome::Reset | Outcome::Disabled | Outcome::Skipped
        )
    }

    /// Whether a resume has nothing more to do for the user: done, or
    /// failed for good (federated, already disabled) and signed out as
    /// asked.
    pub fn is_settled(self) -> bool {
        self.is_done() || (self.bits & UNRESETTABLE != 0 && self.signed_out() != Some(false))
    }

    /// Whether an earlier run excluded the user: a resume keeps it so, with
    /// or without `--exclude`.
    pub fn is_excluded(self) -> bool {
        self.outcome() == Outcome::Excluded
    }

    /// What was done.
    pub fn earlier(self) -> Owed {
        match (self.outcome(), self.bits & INVALID_PARAMETER != 0) {
            (Outcome::Disabled, true) => Owed::Disabled(RefusalCode::InvalidParameter),
            (Outcome::Disabled, false) => Owed::Disabled(RefusalCode::NotAuthorized),
            (Outcome::Failed, _) if self.bits & UNRESETTABLE != 0 => Owed::Unresettable,
            _ => Owed::Reset,
        }
    }

    /// Whether it is done and its sign-out failed and is still owed.
    pub fn owes_sign_out(self) -> bool {
        self.is_done() && self.bits & SIGN_OUT_FAILED != 0
    }

    /// Whether the user was signed out (`None`: not asked).
    pub fn signed_out(self) -> Option<bool> {
        if self.bits & SIGNED_OUT != 0 {
            Some(true)
        } else if self.bits & SIGN_OUT_FAILED != 0 {
            Some(false)
        } else {
            None
        }
    }

    /// The refusal code of a disabled user (empty otherwise): the code its
    /// row recorded.
    pub fn code(self) -> &'static str {
        match self.earlier() {
            Owed::Disabled(code) if self.outcome() == Outcome::Disabled => code.as_str(),
            _ => "",
        }
    }
}

/// The distinct [`Shape`]s of a report's rows, each kept once.
#[derive(Debug, Default)]
pub struct Shapes {
    list: Vec<Shape>,
    index: HashMap<Shape, u16>,
}

/// Shapes kept as they are; past this many, error codes and reasons are
/// counted together (a report would need that many distinct ones).
const SHAPES_EXACT: usize = 60_000;

impl Shapes {
    /// The index of a shape, kept if new.
    fn intern(&mut self, shape: Shape) -> u16 {
        let shape = match self.list.len() < SHAPES_EXACT {
            true => shape,
            false => lumped(shape),
        };
        if let Some(i) = self.index.get(&shape) {
            return *i;
        }
        if self.list.len() >= usize::from(NO_SHAPE) {
            return NO_SHAPE;
        }
        let i = self.list.len() as u16;
        self.list.push(shape.clone());
        self.index.insert(shape, i);
        i
    }

    /// What a user's latest row counts as: its shape, or as much as its
    /// [`Done`] tells when its shape was not kept.
    pub fn of(&self, done: Done) -> std::borrow::Cow<'_, Shape> {
        match self.list.get(usize::from(done.shape)) {
            Some(shape) => std::borrow::Cow::Borrowed(shape),
            None => std::borrow::Cow::Owned(Shape {
                outcome: done.outcome(),
                error_code: done.code().to_owned(),
                signed_out: done.signed_out(),
                sign_out_error: None,
                meaning: Default::default(),
            }),
        }
    }
}

/// A shape with its error codes and reasons counted together.
fn lumped(shape: Shape) -> Shape {
    let other = |s: &String| match s.is_empty() {
        true => String::new(),
        false => "OtherCode".to_owned(),
    };
    let mut meaning = shape.meaning;
    meaning.kept_password = meaning
        .kept_password
        .map(|_| "not reset: other reasons".to_owned());
    Shape {
        error_code: other(&shape.error_code),
        sign_out_error: shape.sign_out_error.as_ref().map(other),
        meaning,
        ..shape
    }
}

/// A report opened for resuming: verified, locked, not yet read.
pub struct Opened {
    /// The report, locked for this run, positioned for appending.
    pub file: File,
    /// Where its hash chain stands: at its header until [`read`] reads it,
    /// then after its last record, for this run's records to go on from.
    pub chain: Chain,
    /// The runs that wrote it so far.
    pub runs: Vec<RunLine>,
    /// The journal could not be read: every row not done is checked
    /// (`--check-all`).
    pub journal_lost: bool,
    /// Where the journal last saw the report's chain, its records then on
    /// stable storage.
    pub checkpoint: Option<Checkpoint>,
    /// That checkpoint closed the report: its last run ended there and no
    /// run started since.
    pub closed: bool,
    /// The reports whose done users earlier runs of the report skipped
    /// (`--skip-done`): a resume skips them too.
    pub skip_done: Vec<String>,
    /// The users earlier runs of the report excluded (`--exclude`): a
    /// resume excludes them too.
    pub exclude: Vec<(String, String)>,
}

/// What the earlier runs left.
#[derive(Debug, Default)]
pub struct Earlier {
    /// Users' latest outcomes, by key.
    pub done: KeyMap<Done>,
    /// What those latest rows count as.
    pub shapes: Shapes,
    /// API calls the earlier runs made for rows.
    pub attempts: u64,
    /// Users whose reset (or disable) may have been sent without its outcome
    /// recorded: checked before any call. Key → the journal's record.
    pub uncertain: HashMap<u64, Pending>,
    /// Users reset (or disabled) whose sign-out failed: key → (pool,
    /// username), so that a resume finishes them even when its source no
    /// longer lists them.
    pub owed: HashMap<u64, (String, String)>,
    /// Every row not done is checked first (`--check-all`).
    pub check_all: bool,
    /// Records read.
    pub records: u64,
    /// A torn last line (a crash mid-write) was cut off.
    pub torn_line: bool,
    /// Per pool, the last sign-out (or disable) the earlier runs recorded.
    pub sign_outs: crate::answers::Seen,
    /// Users other reports (`--skip-done`) record as done: key → what was
    /// done and which of `elsewhere_names` says so.
    pub elsewhere: KeyMap<(Done, u8)>,
    /// The reports `--skip-done` named, as given.
    pub elsewhere_names: Vec<String>,
    /// Those reports, held under a shared lock for the run.
    pub elsewhere_held: Vec<File>,
    /// Per region, when the latest row refused by the daily limit on codes
    /// was written.
    pub daily_limit: std::collections::BTreeMap<String, String>,
    /// Users a record after the last checkpoint made done with no reset or
    /// disable journaled for them: nothing vouches for such a record, so
    /// they are checked first.
    pub unbacked: u64,
    /// While reading: the records after the last checkpoint that make a
    /// user done, to hold against the journal's intents.
    unvouched: Vec<(u64, Pending)>,
}

/// What the run expects the report to be.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The journal header this run would write.
    pub header: &'a Header,
    /// `--global-sign-out`.
    pub sign_out: bool,
    /// `--check-all`.
    pub check_all: bool,
    /// The chain the summary of an earlier run (the one `--summary` names)
    /// recorded: the report must pass through it.
    pub summary_chain: Option<Checkpoint>,
}

fn shown(path: &Path) -> String {
    crate::progress::escape(&path.display().to_string())
}

/// Opens the report at `path` for a resume: it must exist, be this tool's
/// report for this input and mode, and be held by no other run.
pub fn open(path: &Path, expect: &Expect) -> Result<Opened, StartError> {
    if !files::exists(path) {
        return Err(StartError::Refused(format!(
            "nothing to resume: there is no report at {} (resume from the directory of the first \
             run, or pass its --report PATH); a resume never starts afresh",
            shown(path)
        )));
    }
    // Held, not yet written: a refused resume leaves the file as it was.
    let mut file = files::hold(path).map_err(|e| StartError::Refused(files::explain(path, &e)))?;
    let journal_path = journal::path_for(path);
    if !files::try_lock(&file).map_err(|e| StartError::io(shown(path), e))? {
        return Err(locked(path, &journal_path));
    }
    let (sign_out_columns, channel_column) = check_header(&mut file, path)?;
    let previous = journal::read(&journal_path, |_, _| false).ok().flatten();
    let (runs, header, checkpoint, skip_done, closed, exclude) = match previous {
        Some(p) => (
            p.runs,
            p.header,
            p.checkpoint,
            p.skip_done,
            p.closed,
            p.exclude,
        ),
        None => Default::default(),
    };
    let journal_lost = match &header {
        Some(h) => {
            check_journal(h, expect, path)?;
            false
        }
        None => lost_journal(expect, path, &journal_path)?,
    };
    if sign_out_columns.is_some_and(|s| s != expect.sign_out) {
        return Err(mode_mismatch(path, expect.sign_out));
    }
    let dry_run = expect.header.mode == "dry_run";
    if channel_column.is_some_and(|c| c != dry_run) {
        return Err(without_channel(path));
    }
    file.seek(SeekFrom::End(0))
        .map_err(|e| StartError::io(shown(path), e))?;
    Ok(Opened {
        file,
        chain: Chain::start(&header_bytes(
            path,
            Layout::of_run(expect.sign_out, dry_run),
        )),
        runs,
        journal_lost,
        checkpoint,
        closed,
        skip_done,
        exclude,
    })
}

/// The error for a report another run holds, naming that run's process.
pub fn locked(path: &Path, journal_path: &Path) -> StartError {
    let holder = journal::read(journal_path, |_, _| false)
        .ok()
        .flatten()
        .and_then(|j| j.runs.last().cloned())
        .map(|r| format!(" (process {}, started {})", r.pid, r.started))
        .unwrap_or_default();
    StartError::Locked(format!(
        "{} is in use by another run{holder}; one run at a time per report: wait for it to end, \
         or stop it and then --resume",
        shown(path)
    ))
}

fn mode_mismatch(path: &Path, sign_out: bool) -> StartError {
    StartError::Refused(format!(
        "{} was written {} --global-sign-out; resume with the same flags",
        shown(path),
        if sign_out { "without" } else { "with" }
    ))
}

/// Checks that an existing file is this tool's report, before `--overwrite`
/// empties it.
pub fn check_ours(file: &File, path: &Path) -> Result<(), StartError> {
    let mut file = file
        .try_clone()
        .map_err(|e| StartError::io(shown(path), e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| StartError::io(shown(path), e))?;
    match check_header(&mut file, path) {
        // An older report of this tool's may be started afresh.
        Err(_) if is_unchained(&mut file) => Ok(()),
        result => result.map(|_| ()),
    }
}

fn is_unchained(file: &mut File) -> bool {
    let mut first = Vec::new();
    let read = file.seek(SeekFrom::Start(0)).and_then(|_| {
        BufReader::new(&mut *file)
            .take(MAX_HEADER)
            .read_until(b'\n', &mut first)
    });
    read.is_ok() && judge_header(&first, ReportFormat::Csv) == FirstLine::Unchained
}

/// A dry run's report from before the channel column: its rows cannot be
/// continued in the same columns.
fn without_channel(path: &Path) -> StartError {
    StartError::Refused(format!(
        "{} is a dry run's report written by an earlier version of cognito-reset, without the \
         channel column; a dry run changes nothing: start it afresh with --overwrite",
        shown(path)
    ))
}

/// Whether a report has the sign-out columns and the channel column.
type Columns = (Option<bool>, Option<bool>);

/// Checks the report's first line; returns whether it has the sign-out
/// columns and the channel column (CSV), `None` when the file says nothing
/// (empty, or JSONL).
fn check_header(file: &mut File, path: &Path) -> Result<Columns, StartError> {
    let mut first = Vec::new();
    BufReader::new(&mut *file)
        .take(MAX_HEADER)
        .read_until(b'\n', &mut first)
        .map_err(|e| StartError::io(shown(path), e))?;
    match judge_header(&first, ReportFormat::from_path(path)) {
        FirstLine::Chained { sign_out, channel } => Ok((sign_out, channel)),
        FirstLine::Unchained => Err(unchained(path)),
        FirstLine::Foreign => Err(foreign(path)),
    }
}

fn foreign(path: &Path) -> StartError {
    StartError::Refused(format!(
        "{} is not a cognito-reset report (its first line is not a report header); \
         nothing was changed: pass the right --report",
        shown(path)
    ))
}

/// A report written before reports were hash-chained cannot be verified.
pub fn unchained(path: &Path) -> StartError {
    StartError::Refused(format!(
        "{} was written by an earlier version of cognito-reset, before reports were \
         hash-chained, so it cannot be verified and is not trusted; nothing was changed. \
         Finish that run with the version that wrote it, or start a new report (its users \
         are sent a reset again unless they are excluded)",
        shown(path)
    ))
}

/// A report whose chain breaks: it was changed after it was written.
pub fn broken(path: &Path, line: u64, why: Broken) -> StartError {
    let what = match why {
        Broken::Unreadable => "is not a record as cognito-reset writes it",
        Broken::Chain => {
            "does not follow from the line before it (a record was changed, added, removed \
             or moved there)"
        }
    };
    StartError::Refused(format!(
        "{} line {line} {what}: the report was edited or damaged, so what was done to its \
         users is unknown; nothing was changed. Restore the report (`cognito-reset verify` \
         checks it), or start a new one",
        shown(path)
    ))
}

/// The error for a report that cannot be read as this tool's report.
pub fn fault(path: &Path, fault: Fault) -> StartError {
    match fault {
        Fault::Io(e) => StartError::io(shown(path), e),
        Fault::Foreign => foreign(path),
        Fault::Unchained => unchained(path),
        Fault::Broken { line, why } => broken(path, line, why),
    }
}

/// The report reader's invariants on any bytes, in both formats: no panic,
/// at most one record per line. Shared by the fuzz target and the corpus
/// replay.
#[doc(hidden)]
pub fn check_report_reader_invariants(data: &[u8]) {
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    let (first, _) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => data.split_at(i + 1),
        None => (data, &[][..]),
    };
    for format in [ReportFormat::Csv, ReportFormat::Jsonl] {
        let _ = judge_header(first, format);
        let mut reader = Reader::new(format, first, true);
        let mut rows = 0;
        for line in data.split(|b| *b == b'\n') {
            if let Ok(record) = reader.next(line) {
                rows += 1;
                let _ = Done::new(record.outcome, &record.error_code, record.signed_out);
            }
        }
        assert!(rows <= lines, "{rows} rows from {lines} lines");
    }
}

fn check_journal(header: &Header, expect: &Expect, path: &Path) -> Result<(), StartError> {
    let want = expect.header;
    if header.mode != want.mode {
        return Err(one_mode(path, header.mode == "dry_run"));
    }
    if header.fingerprint != want.fingerprint {
        return Err(StartError::ForeignReport(format!(
            "{} belongs to a different input or pool (its journal says {}, this run is {}); \
             resume with the original input — or, if the list grew, start a new --report and \
             pass --skip-done with this one, so that the users it reset are not reset again",
            shown(path),
            header.fingerprint,
            want.fingerprint
        )));
    }
    if header.sign_out != want.sign_out {
        return Err(mode_mismatch(path, want.sign_out));
    }
    Ok(())
}

/// A journal that is missing, empty or unreadable: refused unless every row
/// is to be checked.
fn lost_journal(expect: &Expect, path: &Path, journal_path: &Path) -> Result<bool, StartError> {
    if expect.header.mode == "dry_run" {
        return Err(StartError::Refused(format!(
            "{} has no readable journal ({}), so there is no telling which input it belongs to; \
             start the dry run afresh with --overwrite",
            shown(path),
            shown(journal_path)
        )));
    }
    if !expect.check_all {
        return Err(StartError::Refused(format!(
            "the journal {} beside the report is missing, empty or unreadable, so there is no \
             telling which users had a reset in flight when the earlier run stopped; pass \
             --check-all to check every user not yet reset with AdminGetUser before sending",
            shown(journal_path)
        )));
    }
    Ok(true)
}

/// Whether an outcome could only have come from the other mode: a dry run
/// never resets or disables, a real run never predicts.
fn other_mode(outcome: Outcome, dry_run: bool) -> bool {
    if dry_run {
        matches!(outcome, Outcome::Reset | Outcome::Disabled)
    } else {
        outcome.is_dry_run()
    }
}

/// Notes one report row: the latest row for a user says what is true now.
fn note(earlier: &mut Earlier, seen: &Record, key: u64) {
    earlier.sign_outs.see_sign_out(seen);
    if seen.outcome == Outcome::Cancelled
        && seen
            .error_message
            .contains(crate::life::DAILY_LIMIT_REACHED)
    {
        let region = crate::input::region_of_pool(&seen.user_pool_id);
        let at = earlier.daily_limit.entry(region.to_owned()).or_default();
        if seen.completed_at > *at {
            at.clone_from(&seen.completed_at);
        }
    }
    let outcome = seen.outcome;
    let owes =
        matches!(outcome, Outcome::Reset | Outcome::Disabled) && seen.signed_out == Some(false);
    if owes {
        earlier
            .owed
            .insert(key, (seen.user_pool_id.clone(), seen.username.clone()));
    } else if !matches!(outcome, Outcome::Skipped | Outcome::Duplicate) {
        earlier.owed.remove(&key);
    }
    // A skipped row says the user was done when it was written (by this
    // report's earlier row, which says more, or by a report --skip-done
    // named); a duplicate says nothing new; an invalid row names no user
    // for sure.
    let unknown = earlier.done.get(key).is_none();
    let says = match outcome {
        Outcome::Skipped => unknown,
        Outcome::Duplicate | Outcome::Invalid => false,
        _ => true,
    };
    if says {
        let mut shape = Shape::of(seen);
        shape.meaning = crate::life::meaning_of(seen);
        if let Some(before) = earlier.done_meaning(key) {
            shape.meaning.finishing(before);
        }
        let shape = earlier.shapes.intern(shape);
        let mut done = Done::new(outcome, &seen.error_code, seen.signed_out).shaped(shape);
        if crate::life::unresettable(seen) {
            done.bits |= UNRESETTABLE;
        }
        earlier.done.insert(key, done);
    }
}

impl Earlier {
    /// What a user's latest row counts for, when it says the user is done.
    pub fn done_meaning(&self, key: u64) -> Option<&Meaning> {
        let done = self.done.get(key).filter(|d| d.is_done())?;
        self.shapes
            .list
            .get(usize::from(done.shape))
            .map(|s| &s.meaning)
    }
}

/// The users (exact keys) whose latest row in the report at `path` is a
/// final outcome: nothing of theirs can still be in flight. `None` when the
/// report cannot be read as this tool's.
pub fn recorded_outcomes(path: &Path) -> Option<std::collections::HashSet<u64>> {
    let mut file = files::inspect(path).ok()?;
    let mut latest: HashMap<u64, bool> = HashMap::new();
    read_whole(&mut file, ReportFormat::from_path(path), |record, _| {
        let key = crate::keys::row_key(&record.user_pool_id, &record.username, false);
        let in_flight = record.outcome == Outcome::Cancelled
            || (record.outcome == Outcome::Failed && may_have_been_sent(&record.error_code));
        latest.insert(key, !in_flight);
    })
    .ok()?;
    Some(
        latest
            .into_iter()
            .filter(|(_, f)| *f)
            .map(|(k, _)| k)
            .collect(),
    )
}

/// Per pool, the users an earlier run of the report at `path` reset,
/// disabled or excluded, leaving out those `listed` names (this run's
/// `--exclude`, which the input's survey already left out): users a resume
/// does not call. Counted by key, sorted and deduplicated at the end: 8
/// bytes a user.
pub fn left_out_by_pool(
    path: &Path,
    listed: impl Fn(&str, &str) -> bool,
) -> std::collections::BTreeMap<String, u64> {
    let mut keys: HashMap<String, Vec<u64>> = HashMap::new();
    let Ok(mut file) = files::inspect(path) else {
        return Default::default();
    };
    let read = read_whole(&mut file, ReportFormat::from_path(path), |record, _| {
        let excluded_after_failure = record.outcome == Outcome::Failed
            && record.error_code == crate::life::EXCLUDED_AFTER_FAILURE;
        let left_out = excluded_after_failure
            || matches!(
                record.outcome,
                Outcome::Reset | Outcome::Disabled | Outcome::Excluded
            );
        if !left_out || listed(&record.user_pool_id, &record.username) {
            return;
        }
        let key = crate::keys::row_key(&record.user_pool_id, &record.username, true);
        match keys.get_mut(&record.user_pool_id) {
            Some(pool) => pool.push(key),
            None => {
                keys.insert(record.user_pool_id.clone(), vec![key]);
            }
        }
    });
    if read.is_err() {
        return Default::default();
    }
    keys.into_iter()
        .map(|(pool, mut keys)| {
            keys.sort_unstable();
            keys.dedup();
            (pool, keys.len() as u64)
        })
        .collect()
}

/// Whether a failed row's code says its reset may have gone out unseen.
fn may_have_been_sent(code: &str) -> bool {
    code == "StateUnknown"
        || crate::cognito::classify(code, "", 0) == crate::cognito::Class::Retryable
}

/// What an earlier report is read for, as history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `--skip-done`: its done users are skipped.
    SkipDone,
    /// `--overwrite`: it is emptied and started afresh.
    Overwrite,
}

/// Opens an earlier report as settled history, for `--skip-done` and
/// `--overwrite` alike: no run holds it (it is not still being written),
/// and its journal holds no reset that may have been sent without a row
/// recording its outcome (a killed run's users, who would otherwise be
/// sent a second reset). The file is returned read-only, share-locked.
pub fn settled(path: &Path, purpose: Purpose) -> Result<File, StartError> {
    let file =
        files::inspect(path).map_err(|e| StartError::Usage(files::explain_reading(path, &e)))?;
    let journal_path = journal::path_for(path);
    if !files::try_lock_shared(&file).map_err(|e| StartError::io(shown(path), e))? {
        return Err(locked(path, &journal_path));
    }
    let pending = unrecorded_intents(path);
    if pending > 0 {
        return Err(in_flight(path, pending, purpose));
    }
    Ok(file)
}

/// The resets the journal beside the report at `path` holds whose users no
/// report row records with a final outcome. An intent is journaled before
/// its call waits its turn, so these are resets that may have been sent,
/// not resets known to have been.
pub fn unrecorded_intents(path: &Path) -> usize {
    let recorded = recorded_outcomes(path);
    let unrecorded = |pool: &str, user: &str| {
        recorded
            .as_ref()
            .is_none_or(|r| !r.contains(&crate::keys::row_key(pool, user, false)))
    };
    journal::read(&journal::path_for(path), unrecorded)
        .ok()
        .flatten()
        .map_or(0, |j| j.intents.len())
}

/// The refusal of a report whose journal holds resets that may have been
/// sent unrecorded.
pub fn in_flight(path: &Path, pending: usize, purpose: Purpose) -> StartError {
    let journal_path = shown(&journal::path_for(path));
    let report = shown(path);
    let what = match purpose {
        Purpose::Overwrite => "--overwrite would send them again; or delete the journal to \
                               start afresh (every user is then sent a reset again)"
            .to_owned(),
        Purpose::SkipDone => format!(
            "--skip-done would take them for not reset and send them again: finish that \
             run first (--resume with --report {report}), then --skip-done its report"
        ),
    };
    StartError::Refused(format!(
        "{journal_path} holds up to {pending} reset(s) that may have been sent (journaled \
         before sending) whose outcome no report row records (a run was killed or stopped \
         with calls in flight): --resume checks them first; {what}"
    ))
}

/// What `--overwrite` of the settled report at `path` discards: how many
/// users it records as reset or disabled (each gets a second code),
/// counted from its rows whether its chain holds or not, so that a report
/// from before the chain, or an edited one, still warns. A report of the
/// other mode (a dry run's for a real run, or the reverse) is refused, as
/// a resume refuses it: a report belongs to one mode.
pub fn overwritten(path: &Path, dry_run: bool) -> Result<usize, StartError> {
    let file = files::inspect(path).map_err(|e| StartError::io(shown(path), e))?;
    let rows = loose::Rows::read(file, ReportFormat::from_path(path))
        .map_err(|e| StartError::io(shown(path), e))?;
    let journal = journal::read(&journal::path_for(path), |_, _| false)
        .ok()
        .flatten()
        .and_then(|j| j.header);
    let theirs = match journal {
        Some(h) => Some(h.mode == "dry_run"),
        None => rows.dry_run,
    };
    if let Some(theirs) = theirs
        && theirs != dry_run
    {
        return Err(one_mode(path, theirs));
    }
    Ok(rows.done)
}

/// A report written in the other mode.
fn one_mode(path: &Path, dry_run: bool) -> StartError {
    let theirs = if dry_run { "a dry run" } else { "a real run" };
    StartError::Refused(format!(
        "{} was written by {theirs}; a report belongs to one mode: choose another --report",
        shown(path)
    ))
}

/// The users another report (`--skip-done`) records as done (reset or
/// disabled, and whether each still owes its sign-out), keyed by `key`.
/// Only settled history is trusted ([`settled`]), with its journal beside
/// it (without it, neither rows cut from its end nor resets in flight can
/// be told), and only if it verifies: its chain, and the journal's
/// checkpoint. `sign_outs` notes the report's sign-outs, as a resume
/// notes its own report's: the users it skips were signed out then.
pub fn done_in(
    path: &Path,
    key: impl Fn(&str, &str) -> u64,
    sign_outs: &mut crate::answers::Seen,
) -> Result<DoneIn, StartError> {
    let named = |e: StartError| StartError::Refused(format!("--skip-done: {e}"));
    let mut file = settled(path, Purpose::SkipDone).map_err(named)?;
    let journal_path = journal::path_for(path);
    let journal = journal::read(&journal_path, |_, _| false).ok().flatten();
    let Some(journal) = journal.filter(|j| j.header.is_some()) else {
        return Err(named(StartError::Refused(format!(
            "{} has no readable journal beside it ({}), so neither rows cut from its end nor \
             resets sent without a row can be told, and users it no longer shows would be \
             reset again; nothing was sent. Put the journal back beside the report",
            shown(path),
            shown(&journal_path)
        ))));
    };
    let mut passes = Passes::new(journal.checkpoint.as_ref(), journal.closed);
    let mut done = KeyMap::default();
    let whole = read_whole(&mut file, ReportFormat::from_path(path), |record, chain| {
        passes.see(chain);
        sign_outs.see_sign_out(record);
        let k = key(&record.user_pool_id, &record.username);
        // A skipped row says what an earlier row (or another report) did;
        // that row, where this report holds it, says more.
        let outcome = match record.outcome {
            Outcome::Skipped if done.get(k).is_none() => crate::life::skipped_as(record),
            Outcome::Reset | Outcome::Disabled => Some(record.outcome),
            _ => None,
        };
        if let Some(outcome) = outcome {
            done.insert(k, Done::new(outcome, &record.error_code, record.signed_out));
        }
    })
    .map_err(|f| named(fault(path, f)))?;
    passes
        .check(path, &whole.chain, "its journal")
        .map_err(named)?;
    done.settle();
    Ok(DoneIn {
        done,
        exclude: journal.exclude,
        held: file,
    })
}

/// What another report (`--skip-done`) records.
pub struct DoneIn {
    /// The users it records as reset or disabled (its own or, skipped, as
    /// the reports it named record them).
    pub done: KeyMap<Done>,
    /// The users its runs excluded: they stay excluded.
    pub exclude: Vec<(String, String)>,
    /// The report, under a shared lock: while the run holds it, no run can
    /// resume that report and reset again the users this run skips.
    pub held: File,
}

/// Reads the rows of the report, up to its last complete line, checking
/// its chain; notes each row.
fn read_rows(
    opened: &mut Opened,
    path: &Path,
    dry_run: bool,
    summary: Option<&Checkpoint>,
    key: &impl Fn(&str, &str) -> u64,
    earlier: &mut Earlier,
) -> Result<u64, StartError> {
    let format = ReportFormat::from_path(path);
    let mut wrong_mode = false;
    let mut passes = Passes::new(opened.checkpoint.as_ref(), opened.closed);
    let mut summarized = Passes::new(summary, false);
    // Records up to here are vouched for (a journal's checkpoint, or the
    // summary --summary names); a dry run journals no calls to hold the
    // rest against, nor does a lost journal.
    let vouched = [opened.checkpoint.as_ref(), summary]
        .into_iter()
        .flatten()
        .map(|c| c.records)
        .max()
        .unwrap_or(0);
    let hold = !dry_run && !opened.journal_lost;
    let whole = read_whole(&mut opened.file, format, |record, chain| {
        earlier.records += 1;
        earlier.attempts += u64::from(record.attempts);
        wrong_mode |= other_mode(record.outcome, dry_run);
        let key = key(&record.user_pool_id, &record.username);
        if hold && earlier.records > vouched {
            hold_against_journal(earlier, record, key);
        }
        note(earlier, record, key);
        passes.see(chain);
        summarized.see(chain);
    })
    .map_err(|f| fault(path, f))?;
    passes.check(path, &whole.chain, "its journal")?;
    summarized.check(path, &whole.chain, "the summary --summary names")?;
    earlier.torn_line = whole.torn;
    if whole.complete > 0 {
        opened.chain = whole.chain;
    }
    if wrong_mode {
        return Err(StartError::Refused(format!(
            "{} holds {} outcomes; a report belongs to one mode: choose another --report",
            shown(path),
            if dry_run { "real-run" } else { "dry-run" }
        )));
    }
    Ok(whole.complete)
}

/// Notes a record nothing vouches for yet that makes its user done: the
/// journal must hold the reset (or disable) it records.
fn hold_against_journal(earlier: &mut Earlier, record: &Record, key: u64) {
    let claims = matches!(record.outcome, Outcome::Reset | Outcome::Disabled);
    if claims && !earlier.done.get(key).is_some_and(Done::is_done) {
        let pending = Pending {
            pool: record.user_pool_id.clone(),
            user: record.username.clone(),
            disable: record.outcome == Outcome::Disabled,
        };
        earlier.unvouched.push((key, pending));
    }
}

/// The users of unvouched records with no intent journaled for them: not
/// taken as done, but checked before any call.
fn check_unbacked(earlier: &mut Earlier, unvouched: HashMap<u64, Pending>, backed: &HashSet<u64>) {
    for (key, pending) in unvouched {
        if backed.contains(&key) {
            continue;
        }
        earlier
            .done
            .insert(key, Done::new(Outcome::Cancelled, "", None));
        earlier.owed.remove(&key);
        earlier.uncertain.insert(key, pending);
        earlier.unbacked += 1;
    }
}

/// Whether a report's chain passes through a checkpoint (the journal's or a
/// summary's): the record numbered as the checkpoint says has its hash.
pub struct Passes<'a> {
    checkpoint: Option<&'a Checkpoint>,
    matched: Option<bool>,
    closed: bool,
}

impl<'a> Passes<'a> {
    /// Watches for `checkpoint`, if there is one; `closed`: the report must
    /// end there (its last run ended there and none started since).
    pub fn new(checkpoint: Option<&'a Checkpoint>, closed: bool) -> Passes<'a> {
        Passes {
            checkpoint,
            matched: None,
            closed,
        }
    }

    /// Sees the chain after one more record.
    pub fn see(&mut self, chain: &Chain) {
        if let Some(c) = self.checkpoint
            && c.records == chain.records()
        {
            self.matched = Some(c.head == chain.head_hex());
        }
    }

    /// The error, if the report (whose chain ended at `end`) does not pass
    /// through the checkpoint `whose` names.
    pub fn check(&self, path: &Path, end: &Chain, whose: &str) -> Result<(), StartError> {
        let Some(c) = self.checkpoint else {
            return Ok(());
        };
        let on_chain = c.records == 0 || self.matched == Some(true);
        let what = if on_chain && self.closed && end.records() > c.records {
            format!(
                "holds {} records where {whose} says its last run ended with {} (records \
                 were added after it ended)",
                end.records(),
                c.records
            )
        } else if on_chain {
            return Ok(());
        } else if end.records() < c.records {
            format!(
                "holds {} records where {whose} says it held {} (rows were removed from its end)",
                end.records(),
                c.records
            )
        } else {
            format!(
                "record {} does not have the hash {whose} holds for it (the report was \
                 changed)",
                c.records
            )
        };
        Err(StartError::Refused(format!(
            "{} {what}: what was done to its users is unknown; nothing was changed. Restore \
             the report (`cognito-reset verify` checks it), or start a new one",
            shown(path)
        )))
    }
}

/// Reads what the earlier runs left. `key` gives a user's key (pool,
/// username), folding case where the pool does. Cuts a torn last line off
/// the report, so that appending starts on a fresh line.
pub fn read(
    opened: &mut Opened,
    path: &Path,
    expect: &Expect,
    key: impl Fn(&str, &str) -> u64,
) -> Result<Earlier, StartError> {
    let io = |e| StartError::io(shown(path), e);
    let mut earlier = Earlier {
        check_all: opened.journal_lost,
        ..Earlier::default()
    };
    let dry_run = expect.header.mode == "dry_run";
    let summary = expect.summary_chain.as_ref();
    let complete = read_rows(opened, path, dry_run, summary, &key, &mut earlier)?;
    earlier.done.settle();
    if earlier.torn_line {
        opened.file.set_len(complete).map_err(io)?;
    }
    opened.file.seek(SeekFrom::End(0)).map_err(io)?;
    let unvouched: HashMap<u64, Pending> =
        std::mem::take(&mut earlier.unvouched).into_iter().collect();
    let mut backed = HashSet::new();
    let done = &earlier.done;
    let not_done = |p: &str, u: &str| {
        let k = key(p, u);
        if unvouched.contains_key(&k) {
            backed.insert(k);
        }
        !done.get(k).is_some_and(Done::is_done)
    };
    if let Ok(Some(j)) = journal::read(&journal::path_for(path), not_done) {
        earlier.uncertain = j
            .intents
            .into_iter()
            .map(|pending| (key(&pending.pool, &pending.user), pending))
            .collect();
    }
    check_unbacked(&mut earlier, unvouched, &backed);
    Ok(earlier)
}

mod loose;
#[cfg(test)]
mod tests;
