//! The files a run writes — the report, its journal, the summary — claimed
//! before the plan and taken over after the confirmation.
//!
//! [`claim`] runs before the plan and writes nothing: a resume's report is
//! this tool's, for this input and mode, and held by no other run; a fresh
//! run's report does not exist yet (or, `--overwrite`, is this tool's and
//! not the input); the journal's path is safe; every output path is
//! writable. [`open`] runs after the confirmation: it takes the report's
//! lock before it touches the journal, then creates (or takes over) the
//! journal, the report and the summary; what cannot be opened stops the run
//! and leaves nothing new behind.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::audit::{self, Summary};
use crate::config::Config;
use crate::exit::StartError;
use crate::files::{self, Open};
use crate::journal::{self, Header, Journal, JournalFile, RunLine, Sticky};
use crate::progress::escape;
use crate::report::{Chain, Layout, ReportWriter, header_bytes};
use crate::resume::{self, Expect, Opened};

/// How the report is taken for this run.
pub enum Claim {
    /// `--resume`: opened, verified and locked before the plan.
    Resume(Opened),
    /// `--overwrite` of this tool's existing report, which records this
    /// many users as reset or disabled.
    Overwrite(usize),
    /// A report created now.
    New,
}

impl Claim {
    /// The runs that wrote the report before this one.
    pub fn earlier_runs(&self) -> Vec<RunLine> {
        match self {
            Claim::Resume(opened) => opened.runs.clone(),
            _ => Vec::new(),
        }
    }
}

/// What the claim is checked against.
pub struct Want<'a> {
    /// The checked flags.
    pub config: &'a Config,
    /// What the report belongs to.
    pub header: &'a Header,
    /// The file the rows are read from, if any (never to be overwritten).
    pub input: Option<&'a str>,
    /// The reports whose done users the report skips (`--skip-done`) and
    /// the users it excludes (`--exclude`), now and on earlier runs: kept in
    /// its journal for every resume.
    pub sticky: &'a Sticky,
}

impl Want<'_> {
    fn expect(&self) -> Expect<'_> {
        Expect {
            header: self.header,
            sign_out: self.config.policy.sign_out,
            check_all: self.config.check_all,
            // Opening the report reads no records; the check phase reads
            // them against the summary's chain.
            summary_chain: None,
        }
    }
}

/// The files a run writes, opened after the confirmation.
pub struct Outputs {
    /// The report, locked, positioned for appending.
    pub report: ReportWriter,
    /// The journal (real runs).
    pub journal: Option<Journal>,
    /// The journal file, rewritten when the run ends.
    pub journal_file: JournalFile,
    /// `--summary`, its provisional summary written before the first call.
    pub summary: Option<PathBuf>,
    /// The runs that wrote the report before this one.
    pub earlier_runs: Vec<RunLine>,
}

fn shown(path: &Path) -> String {
    escape(&path.display().to_string())
}

/// Checks, before the plan and without writing anything, that the run may
/// write where it is asked to; a resume's report is opened and locked.
pub fn claim(want: &Want) -> Result<Claim, StartError> {
    let config = want.config;
    let report = &config.report;
    let claim = if config.resume {
        Claim::Resume(resume::open(report, &want.expect())?)
    } else if std::fs::symlink_metadata(report).is_ok_and(|m| !m.is_file()) {
        let what = if files::is_symlink(report) {
            "a symbolic link; refusing to write through it"
        } else {
            "not a regular file (a directory, FIFO or device)"
        };
        return Err(StartError::Usage(format!(
            "--report {} is {what}: give the path of a report file",
            shown(report)
        )));
    } else if files::exists(report) && !config.overwrite {
        return Err(StartError::ReportExists(shown(report)));
    } else if files::exists(report) {
        // --overwrite empties only this tool's own report.
        let file = resume::settled(report, resume::Purpose::Overwrite)?;
        check_not_input(&file, report, want.input)?;
        resume::check_ours(&file, report)?;
        Claim::Overwrite(resume::overwritten(report, config.policy.dry_run)?)
    } else {
        files::check_writable(report).map_err(StartError::Usage)?;
        Claim::New
    };
    if let Some(summary) = &config.summary {
        files::check_writable(summary).map_err(StartError::Usage)?;
        audit::check_claim(summary, report)?;
    }
    check_journal_path(config)?;
    Ok(claim)
}

/// The journal's path: never a symbolic link; for a new report, no
/// journal of another run with resets it never recorded.
fn check_journal_path(config: &Config) -> Result<(), StartError> {
    let path = journal::path_for(&config.report);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(StartError::Usage(format!(
                "{} is a symbolic link; refusing to write through it (remove it)",
                shown(&path)
            )));
        }
        Ok(m) if !m.is_file() => {
            return Err(StartError::Usage(format!(
                "{} is not a regular file",
                shown(&path)
            )));
        }
        _ => {}
    }
    // A journal without its report: a run whose report is gone. (Beside
    // an existing report, --overwrite checked it as history.)
    if config.resume || files::exists(&config.report) {
        return Ok(());
    }
    let pending = resume::unrecorded_intents(&config.report);
    if pending == 0 {
        return Ok(());
    }
    Err(StartError::Refused(format!(
        "{} holds up to {pending} reset(s) that may have been sent by an earlier run whose \
         report is gone: put the report back and --resume (the journal says whom to check); \
         or delete the journal to start afresh (every user is then sent a reset again)",
        shown(&path)
    )))
}

/// Creates (or, resuming, takes over) the report, the journal and the
/// summary file (given `provisional` to hold until the run ends), before
/// the first call. What cannot be opened stops the run and leaves nothing
/// new behind.
pub fn open(
    claim: Claim,
    want: &Want,
    this_run: &RunLine,
    provisional: &Summary,
) -> Result<Outputs, StartError> {
    let mut created: Vec<PathBuf> = Vec::new();
    let result = open_all(claim, want, this_run, provisional, &mut created);
    if result.is_err() {
        for path in created {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

fn open_all(
    claim: Claim,
    want: &Want,
    this_run: &RunLine,
    provisional: &Summary,
    created: &mut Vec<PathBuf>,
) -> Result<Outputs, StartError> {
    let config = want.config;
    let (report_path, journal_path) = (&config.report, journal::path_for(&config.report));
    let explain = |p: &Path, e: std::io::Error| StartError::Usage(files::explain(p, &e));
    let staged = stage_summary(config, provisional)?;
    // The report's lock comes first: nothing another run holds (its
    // journal above all) is touched before this run holds the report.
    let taken = take_report(claim, want)?;
    let creating = lock_new(&taken, report_path)?;
    // Then the journal, then a new report: a report never exists without
    // its journal.
    let how = match &taken {
        // A lost journal (resumed with --check-all) starts over.
        Taken::Resumed(opened) if opened.journal_lost => Open::Truncate,
        Taken::Resumed(_) => Open::Existing,
        Taken::Overwritten(_) => Open::Truncate,
        Taken::New => {
            // A journal without its report holds no intent (checked
            // before the plan): a run that died before its first call.
            let _ = std::fs::remove_file(&journal_path);
            created.push(journal_path.clone());
            Open::CreateNew
        }
    };
    let earlier_runs = match &taken {
        Taken::Resumed(opened) => opened.runs.clone(),
        _ => Vec::new(),
    };
    let intents = !config.policy.dry_run;
    let (journal, journal_file) = journal::open(
        &journal_path,
        how,
        want.header,
        &earlier_runs,
        this_run,
        intents,
        want.sticky,
    )
    .map_err(|e| explain(&journal_path, e))?;
    let layout = Layout::of_run(config.policy.sign_out, config.policy.dry_run);
    let (file, chain) = report_file(taken, report_path, layout, created)?;
    drop(creating);
    let report =
        ReportWriter::new(file, report_path, layout, chain).map_err(|e| explain(report_path, e))?;
    let summary = commit_summary(config, staged)?;
    Ok(Outputs {
        report,
        journal,
        journal_file,
        summary,
        earlier_runs,
    })
}

/// A new report has no lock to take yet: two runs creating it at once take
/// turns under its directory's lock (held until the report is made and
/// locked), and the later finds it made.
fn lock_new(taken: &Taken, path: &Path) -> Result<Option<File>, StartError> {
    if !matches!(taken, Taken::New) {
        return Ok(None);
    }
    let dir = files::lock_dir(path).map_err(|e| StartError::Usage(files::explain(path, &e)))?;
    if files::exists(path) {
        return Err(StartError::ReportExists(shown(path)));
    }
    Ok(Some(dir))
}

/// The report as this run takes it.
enum Taken {
    Resumed(Opened),
    Overwritten(File),
    New,
}

fn take_report(claim: Claim, want: &Want) -> Result<Taken, StartError> {
    let path = &want.config.report;
    Ok(match claim {
        Claim::Resume(opened) => Taken::Resumed(opened),
        Claim::Overwrite(_) if files::exists(path) => {
            let explain = |e: std::io::Error| StartError::Usage(files::explain(path, &e));
            let file = lock(files::hold(path).map_err(explain)?, path)?;
            check_not_input(&file, path, want.input)?;
            resume::check_ours(&file, path)?;
            files::make_private(&file).map_err(explain)?;
            Taken::Overwritten(file)
        }
        Claim::Overwrite(_) | Claim::New => Taken::New,
    })
}

/// `--summary`, its provisional summary written beside it before anything
/// else is opened, so that a run killed at any moment from its start on
/// never leaves an earlier run's summary looking like its own. A summary
/// that cannot be written (a full disk, a directory gone) stops the run
/// here, before anything is sent: the audit record is part of the run.
fn stage_summary(
    config: &Config,
    provisional: &Summary,
) -> Result<Option<files::Staged>, StartError> {
    let Some(path) = &config.summary else {
        return Ok(None);
    };
    audit::check_claim(path, &config.report)?;
    audit::stage_summary(path, provisional)
        .map(Some)
        .map_err(|e| no_summary(path, &e))
}

/// The provisional summary takes its place once the report and the journal
/// are open: a run that could not open them leaves the file as it was.
fn commit_summary(
    config: &Config,
    staged: Option<files::Staged>,
) -> Result<Option<PathBuf>, StartError> {
    let (Some(path), Some(staged)) = (&config.summary, staged) else {
        return Ok(None);
    };
    // Two runs that passed the claim's first check together must not both
    // take the file: the check again and the rename run under the
    // directory's lock, and this run holds its report by now, so a run
    // that comes later finds this one's record and refuses.
    let _dir = files::lock_dir(path).map_err(|e| no_summary(path, &e))?;
    audit::check_claim(path, &config.report)?;
    staged.commit().map_err(|e| no_summary(path, &e))?;
    Ok(Some(path.clone()))
}

fn no_summary(path: &Path, e: &std::io::Error) -> StartError {
    StartError::Usage(format!(
        "cannot write the summary {}: {e}; the audit record is part of the run, so nothing \
         was sent (free disk space or choose another --summary)",
        shown(path)
    ))
}

/// The report file, ready for appending, and where its hash chain stands:
/// a resumed one (an empty one, a run killed as it created it, gets its
/// header), an overwritten one emptied down to its header, or a new one
/// created with it.
fn report_file(
    taken: Taken,
    path: &Path,
    layout: Layout,
    created: &mut Vec<PathBuf>,
) -> Result<(File, Chain), StartError> {
    let io = |e| StartError::io(shown(path), e);
    let header = header_bytes(path, layout);
    let fresh = Chain::start(&header);
    match taken {
        Taken::Resumed(opened) => {
            let mut file = opened.file;
            files::make_private(&file).map_err(io)?;
            if file.metadata().map_err(io)?.len() == 0 {
                file.write_all(&header).map_err(io)?;
                return Ok((file, fresh));
            }
            Ok((file, opened.chain))
        }
        Taken::Overwritten(mut file) => {
            file.set_len(0)
                .and_then(|_| file.write_all(&header))
                .map_err(io)?;
            Ok((file, fresh))
        }
        Taken::New => {
            let file = files::create_with(path, &header).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StartError::ReportExists(shown(path)),
                _ => StartError::Usage(files::explain(path, &e)),
            })?;
            created.push(path.to_owned());
            Ok((lock(file, path)?, fresh))
        }
    }
}

fn lock(file: File, path: &Path) -> Result<File, StartError> {
    match files::try_lock(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(resume::locked(path, &journal::path_for(path))),
        Err(e) => Err(StartError::io(shown(path), e)),
    }
}

/// `--overwrite` must never empty the input itself.
fn check_not_input(report: &File, path: &Path, input: Option<&str>) -> Result<(), StartError> {
    use std::os::unix::fs::MetadataExt;
    let Some(input) = input else {
        return Ok(());
    };
    let (Ok(a), Ok(b)) = (report.metadata(), std::fs::metadata(input)) else {
        return Ok(());
    };
    if a.dev() == b.dev() && a.ino() == b.ino() {
        return Err(StartError::Usage(format!(
            "--report {} is the input file; refusing to overwrite it",
            shown(path)
        )));
    }
    Ok(())
}
