//! The audit record: the run's summary as JSON (`--summary`, mode 0600) —
//! who ran what, when, on which list, against which pools, why, and with
//! what result — how it is written while a run goes on and when it ends,
//! how another run's summary is recognised (so that it is never replaced by
//! a run that has no claim to it: only a run that starts replaces a summary,
//! never one of another report), and the command line as recorded.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::RunArgs;
use crate::config::Config;
use crate::journal::RunLine;
pub use crate::pause::PauseRecord;
use crate::progress::{escape, say};
use crate::tally::Tally;

mod command;

pub use command::{command_line, resume_command};

/// Where the rows came from.
#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    /// `file`, `stream`, `stdin`, `pool` or `group`.
    pub source: String,
    /// The file, pool or group.
    pub path: Option<String>,
    /// SHA-256 of the input's bytes: a file's; a stream's, as it was read,
    /// once read to its end.
    pub sha256: Option<String>,
    /// Records in a file.
    pub rows: Option<u64>,
    /// What the report belongs to.
    pub fingerprint: String,
    /// A resume of a stream read to its end: the users the earlier runs of
    /// the report recorded that its rows did not list. Not 0: the rows
    /// were not the earlier runs' (exit 1). `null` otherwise.
    pub earlier_users_not_listed: Option<u64>,
}

/// One pool, as the preflight found it.
#[derive(Debug, Clone, Serialize)]
pub struct PoolRecord {
    /// The pool id.
    pub id: String,
    /// Its region.
    pub region: String,
    /// Account recovery mechanisms, by priority.
    pub recovery: Option<Vec<String>>,
    /// `EmailSendingAccount` (absent means `COGNITO_DEFAULT`).
    pub email_sending_account: Option<String>,
    /// Whether usernames are case-sensitive.
    pub case_sensitive: Option<bool>,
    /// What the preflight noted.
    pub notes: Vec<String>,
    /// Its app clients, where its codes went, when its users are out.
    #[serde(flatten)]
    pub answers: crate::answers::PoolAnswers,
}

/// Calls of one category.
#[derive(Debug, Clone, Serialize)]
pub struct CallsRecord {
    /// Calls sent.
    pub calls: u64,
    /// Of those, answered TooManyRequestsException.
    pub throttled: u64,
    /// The rate asked for, per region (`null`: unlimited).
    pub rate_per_second: Option<f64>,
    /// Calls per second achieved over the run.
    pub achieved_per_second: f64,
}

/// The run's summary: the audit record.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `cognito-reset`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// This run's id (each resume has its own).
    pub run_id: String,
    /// Every run that wrote the report, this one last.
    pub runs: Vec<RunLine>,
    /// When this run started (RFC 3339 UTC).
    pub started_at: String,
    /// When it ended; `null` while it goes on (a run that was killed
    /// leaves it so).
    pub ended_at: Option<String>,
    /// The command line, ClientMetadata values removed, endpoint credentials
    /// redacted.
    pub command_line: Vec<String>,
    /// `--reason`.
    pub reason: Option<String>,
    /// `reset` or `dry_run`.
    pub mode: String,
    /// Where the rows came from.
    pub input: InputRecord,
    /// The pools, as the preflight found them.
    pub pools: Vec<PoolRecord>,
    /// The regions called.
    pub regions: Vec<String>,
    /// The caller (`sts:GetCallerIdentity`), or why it is not known.
    pub caller: serde_json::Value,
    /// The report.
    pub report: String,
    /// Where the report's hash chain ended with this run: the last
    /// record's hash and the records in the report (`cognito-reset verify
    /// REPORT --summary FILE` holds the report to it). `null` until the run
    /// ends.
    pub report_chain: Option<crate::journal::Checkpoint>,
    /// This run's rows.
    pub counts: Tally,
    /// A resume: every row of the report as it stands after this run (a row
    /// this run skipped counts as what the earlier run did to it).
    pub whole_report: Option<Tally>,
    /// Calls per category.
    pub calls: BTreeMap<String, CallsRecord>,
    /// Wall time of the run, seconds.
    pub elapsed_seconds: f64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The process exit code; `null` while the run has not ended (a run
    /// that was killed leaves it so).
    pub exit_code: Option<i32>,
    /// Every pause of dispatch: credentials refused, a region out.
    pub pauses: Vec<PauseRecord>,
    /// Wall time during which at least one pause went on, seconds.
    pub time_lost_seconds: f64,
    /// While the run goes on: how far it got; `null` once it has ended.
    pub progress: Option<ProgressRecord>,
}

/// How far a run that goes on has got (the summary file is rewritten with
/// it about every ten seconds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProgressRecord {
    /// When this was written (RFC 3339 UTC).
    pub updated_at: String,
    /// Rows recorded in the report so far.
    pub rows_done: u64,
    /// Rows in the input, when known.
    pub rows_total: Option<u64>,
    /// Rows reset so far (`would_reset` in a dry run).
    pub reset: u64,
    /// Rows failed so far.
    pub failed: u64,
    /// Rows disabled so far.
    pub disabled: u64,
    /// Users signed out so far.
    pub signed_out: u64,
    /// Calls sent and not yet answered.
    pub in_flight: u64,
    /// Calls waiting for their retry.
    pub retrying: u64,
    /// Calls waiting for a pause to end.
    pub waiting: u64,
    /// Rows recorded per second over the last minute.
    pub rows_per_second: f64,
    /// Seconds left at that pace, when the total is known and rows move.
    pub eta_seconds: Option<f64>,
}

impl Summary {
    /// What is known of a run from its flags alone, before anything else.
    pub fn start(config: &Config, run: &RunLine) -> Summary {
        let (source, path) = config.source.named();
        let mut summary = Summary::bare(run, source, path);
        summary.reason.clone_from(&config.reason);
        summary.mode = if config.policy.dry_run {
            "dry_run"
        } else {
            "reset"
        }
        .into();
        summary.report = config.report.display().to_string();
        summary
    }

    /// What is known of a run whose flags could not even be checked.
    fn from_args(args: &RunArgs, run: &RunLine) -> Summary {
        let (source, path) = if args.from_pool {
            ("pool", args.user_pool_id.clone())
        } else if args.from_group.is_some() {
            ("group", args.from_group.clone())
        } else if args.input.as_deref() == Some("-") {
            ("stdin", None)
        } else {
            ("file", args.input.clone())
        };
        let mut summary = Summary::bare(run, source, path);
        summary.reason.clone_from(&args.reason);
        summary.mode = if args.dry_run { "dry_run" } else { "reset" }.into();
        summary.report = args.report.clone().unwrap_or_default();
        summary
    }

    fn bare(run: &RunLine, source: &str, path: Option<String>) -> Summary {
        Summary {
            tool: "cognito-reset".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            run_id: run.run.clone(),
            runs: vec![run.clone()],
            started_at: run.started.clone(),
            ended_at: None,
            command_line: command_line(),
            reason: None,
            mode: "reset".into(),
            input: InputRecord {
                source: source.into(),
                path,
                sha256: None,
                rows: None,
                fingerprint: String::new(),
                earlier_users_not_listed: None,
            },
            pools: Vec::new(),
            regions: Vec::new(),
            caller: serde_json::json!({ "error": "not asked" }),
            report: String::new(),
            report_chain: None,
            counts: Tally::default(),
            whole_report: None,
            calls: BTreeMap::new(),
            elapsed_seconds: 0.0,
            stopped: None,
            exit_code: None,
            pauses: Vec::new(),
            time_lost_seconds: 0.0,
            progress: None,
        }
    }
}

impl Summary {
    /// The summary as the operator reads it on stderr.
    pub fn render(&self) -> String {
        let s = self;
        let mode = if s.mode == "dry_run" {
            "DRY RUN"
        } else {
            "RESET PASSWORDS"
        };
        let mut out = format!(
            "summary: {mode} — {} in {:.1}s, exit {}\n",
            if s.stopped.is_some() {
                "stopped"
            } else {
                "finished"
            },
            s.elapsed_seconds,
            s.exit_code.unwrap_or_default()
        );
        let dry_run = s.mode == "dry_run";
        s.counts.render(&mut out, dry_run);
        if let Some(whole) = &s.whole_report {
            out.push_str(&format!(
                "  the whole report after {} runs:\n",
                s.runs.len()
            ));
            let mut text = String::new();
            whole.render_whole(&mut text, dry_run);
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        for pool in s.pools.iter().filter(|p| !p.answers.lines.is_empty()) {
            out.push_str(&format!("  pool {}:\n", pool.id));
            for line in &pool.answers.lines {
                out.push_str(&format!("    {line}\n"));
            }
        }
        let calls: Vec<String> = s
            .calls
            .iter()
            .map(|(c, r)| {
                format!(
                    "{c} {} ({} throttled, {:.1}/s)",
                    r.calls, r.throttled, r.achieved_per_second
                )
            })
            .collect();
        if !calls.is_empty() {
            out.push_str(&format!("  calls: {}\n", calls.join(" · ")));
        }
        s.render_pauses(&mut out);
        out.push_str(&format!("  report: {}", escape(&s.report)));
        if let Some(stopped) = &s.stopped {
            out.push_str(&format!("\n  stopped: {stopped}"));
        }
        out
    }

    /// The run's result in one line, for `--quiet` runs that did not end
    /// with exit 0: what went wrong, and where the report is.
    pub fn result_line(&self) -> String {
        use crate::report::Outcome;
        let c = &self.counts;
        let dry_run = self.mode == "dry_run";
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let code = self
            .exit_code
            .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        let mut parts = Vec::new();
        if c.kept() > 0 {
            let left = if dry_run { "would be left" } else { "left" };
            let users = plural(c.kept(), "user", "users");
            parts.push(format!("{users} {left} with a working password"));
        }
        for (outcome, words) in [
            (Outcome::Failed, "failed"),
            (Outcome::WouldFail, "would fail"),
            (Outcome::Invalid, "invalid"),
            (Outcome::Cancelled, "cancelled"),
        ] {
            if c.count(outcome) > 0 {
                parts.push(format!("{} {words}", c.count(outcome)));
            }
        }
        if c.sign_outs_failed() > 0 {
            let failed = plural(c.sign_outs_failed(), "sign-out", "sign-outs");
            parts.push(format!("{failed} failed"));
        }
        let ended = match &self.stopped {
            Some(why) => format!("stopped with exit {code} ({why})"),
            None => format!("finished with exit {code}"),
        };
        let found = if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join(", "))
        };
        format!(
            "cognito-reset: {ended}{found}; report {}",
            escape(&self.report)
        )
    }

    /// The pauses of dispatch, one line each, and the time they cost.
    fn render_pauses(&self, out: &mut String) {
        for p in &self.pauses {
            let region = p.region.as_deref().unwrap_or("every region");
            out.push_str(&format!(
                "  paused ({}, {region}): from {} for {:.0}s, {} calls refused meanwhile; {} ({})\n",
                crate::pause::cause_name(p.cause),
                p.started_at,
                p.seconds,
                p.calls_refused,
                p.outcome,
                escape(&p.why)
            ));
        }
        if !self.pauses.is_empty() {
            out.push_str(&format!(
                "  time lost to pauses: {:.0}s\n",
                self.time_lost_seconds
            ));
        }
    }
}

impl InputRecord {
    /// The record of an input as it was read, and what its report belongs to.
    pub fn new(input: crate::input::Description, fingerprint: &str) -> InputRecord {
        InputRecord {
            sha256: input.digest(),
            source: input.source.into(),
            path: input.path,
            rows: input.rows,
            fingerprint: fingerprint.to_owned(),
            earlier_users_not_listed: None,
        }
    }
}

/// While a run goes on, its summary file says so.
pub const RUNNING: &str = "running: this run has not ended; if it is no longer running it was \
     killed, and its report and journal say how far it got (--resume continues it)";

/// The first bytes of the file at `path`, if one can be read there.
fn head_of(path: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = crate::files::inspect(path).ok()?;
    let mut head = Vec::new();
    let _ = file.take(64 * 1024).read_to_end(&mut head);
    Some(head)
}

/// Whether `head` starts a summary of this tool's.
fn is_summary(head: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(head)
        .map(|v| v.get("tool").and_then(|t| t.as_str()) == Some("cognito-reset"))
        .unwrap_or(false)
        || String::from_utf8_lossy(head).contains("\"tool\": \"cognito-reset\"")
}

/// Refuses to empty an existing file that is not a summary of this tool's
/// (another run's report, a user list): `--summary` never destroys data.
pub fn check_replaceable(path: &std::path::Path) -> Result<(), crate::exit::StartError> {
    let Some(head) = head_of(path) else {
        return Ok(());
    };
    if head.is_empty() || is_summary(&head) {
        Ok(())
    } else {
        Err(crate::exit::StartError::Usage(format!(
            "--summary {} is an existing file that is not a cognito-reset summary; refusing to \
             replace it (give a new path)",
            escape(&path.display().to_string())
        )))
    }
}

/// Flags that could not be read at all write no summary: the path is not
/// known for sure. When the arguments (`args`, the program first) name one,
/// says so, so that an earlier run's summary there is not read as this
/// run's.
pub fn say_flags_unread(args: impl IntoIterator<Item = String>) {
    let mut args = args.into_iter().skip(1);
    let mut named = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--summary" {
            named = args.next();
        } else if let Some(path) = arg.strip_prefix("--summary=") {
            named = Some(path.to_owned());
        }
    }
    let Some(path) = named.filter(|p| !p.is_empty()) else {
        return;
    };
    let shown = escape(&path);
    let held = head_of(std::path::Path::new(&path)).is_some_and(|head| is_summary(&head));
    say(&if held {
        format!(
            "cognito-reset: the flags could not be read, so no summary was written; {shown} \
             still holds an earlier run's summary"
        )
    } else {
        format!("cognito-reset: the flags could not be read, so no summary was written to {shown}")
    });
}

/// Whose record a summary file holds, as a run that wants to write there
/// sees it.
enum Holder {
    /// No run's record: no file, an empty one, the record of a run that
    /// could not start, or this run's own.
    Free,
    /// The record of a run of this run's report (or of a report it does not
    /// name).
    SameReport,
    /// The record of a run of another report, described.
    OtherReport(String),
    /// Not a summary of this tool's.
    Foreign,
}

/// Who holds the summary at `path`, for the run `run_id` of `report`.
fn holder(path: &std::path::Path, run_id: &str, report: &std::path::Path) -> Holder {
    let Some(head) = head_of(path) else {
        return Holder::Free;
    };
    if head.is_empty() {
        return Holder::Free;
    }
    let Some(theirs) = read_summary(path) else {
        return if is_summary(&head) {
            Holder::SameReport
        } else {
            Holder::Foreign
        };
    };
    let field = |name: &str| {
        theirs
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    if field("run_id") == run_id || field("stopped").starts_with("could not start") {
        return Holder::Free;
    }
    let recorded = std::path::Path::new(field("report"));
    if recorded.as_os_str().is_empty() || crate::config::same_file(recorded, report) {
        return Holder::SameReport;
    }
    Holder::OtherReport(describe_run(&theirs, recorded))
}

/// Another report's run, as a refusal names it: which, and whether it is
/// still running (it holds its report) or how it ended.
fn describe_run(theirs: &serde_json::Value, report: &std::path::Path) -> String {
    let field = |name: &str| {
        theirs
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    let live = crate::files::inspect(report)
        .and_then(|f| crate::files::try_lock(&f))
        .is_ok_and(|free| !free);
    let state = match theirs.get("exit_code").and_then(|c| c.as_i64()) {
        _ if live => "still running (it holds that report)".to_owned(),
        Some(code) => format!("ended {} with exit {code}", field("ended_at")),
        None => "killed before it ended (its summary says running)".to_owned(),
    };
    format!(
        "the audit record of run {} of the report {}, {state}",
        escape(field("run_id")),
        escape(&report.display().to_string())
    )
}

/// Checks, before a run starts, that it may make `path` its summary: a
/// file that is not a summary is never emptied, and the record of a run of
/// another report — live, finished or killed — is never replaced (the
/// record of an earlier run of this run's own report is: a resume or an
/// overwrite carries it on).
pub fn check_claim(
    path: &std::path::Path,
    report: &std::path::Path,
) -> Result<(), crate::exit::StartError> {
    match holder(path, "", report) {
        Holder::Foreign => check_replaceable(path),
        Holder::OtherReport(who) => Err(crate::exit::StartError::Refused(format!(
            "--summary {} holds {who}; a run never replaces the record of another report's \
             run: give this run its own --summary path",
            escape(&path.display().to_string())
        ))),
        Holder::Free | Holder::SameReport => Ok(()),
    }
}

/// The report chain a summary of an earlier run of `report` recorded at
/// `path`, if it holds one: a resume checks the report against it before
/// the summary is replaced.
pub fn earlier_chain(
    path: &std::path::Path,
    report: &std::path::Path,
) -> Option<crate::journal::Checkpoint> {
    if !matches!(holder(path, "", report), Holder::SameReport) {
        return None;
    }
    let chain = read_summary(path)?.get("report_chain")?.clone();
    serde_json::from_value(chain).ok()
}

/// Writes the summary of a run that did not start (refused, declined,
/// stopped before anything was sent) where it holds no run's record;
/// otherwise leaves the file exactly as it was and says so: a run that did
/// nothing never destroys or misstates another run's audit record.
fn write_unstarted(path: &std::path::Path, summary: &Summary) {
    let report = std::path::Path::new(&summary.report);
    let shown = escape(&path.display().to_string());
    let kept = match holder(path, &summary.run_id, report) {
        Holder::Free if crate::files::check_writable(path).is_ok() => {
            let _ = write_summary(path, summary);
            return;
        }
        Holder::Free => return,
        Holder::SameReport => "the record of an earlier run of this report".to_owned(),
        Holder::OtherReport(who) => who,
        Holder::Foreign => "a file that is not a cognito-reset summary".to_owned(),
    };
    say(&format!(
        "cognito-reset: this run did not start, so --summary {shown} is left as it was: it \
         still holds {kept}"
    ));
}

/// An existing summary of this tool's, as JSON.
fn read_summary(path: &std::path::Path) -> Option<serde_json::Value> {
    use std::io::Read;
    let file = crate::files::inspect(path).ok()?;
    let mut text = Vec::new();
    file.take(4 << 20).read_to_end(&mut text).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    (value.get("tool").and_then(|t| t.as_str()) == Some("cognito-reset")).then_some(value)
}

/// Whether the summary at `path` is this run's own: the run started.
fn is_own(path: &std::path::Path, run_id: &str) -> bool {
    read_summary(path).is_some_and(|s| s.get("run_id").and_then(|v| v.as_str()) == Some(run_id))
}

/// The summary of a run that a second signal ended at once: it says so,
/// with the exit code, rather than "running" for ever. A run stopped so
/// before it started records that it could not start, where it may.
pub fn write_ended_at_once(config: &Config, run: &RunLine, signal: i32) {
    let Some(path) = &config.summary else { return };
    let name = crate::shutdown::signal_name(signal);
    let code = crate::exit::EXIT_SIGNAL_BASE + signal;
    let mut summary = Summary::start(config, run);
    if !is_own(path, &run.run) || !journaled(config, run) {
        let why = format!("stopped by a second {name} before anything was sent");
        failed(&mut summary, &why, code);
        return write_unstarted(path, &summary);
    }
    // The run's own live record keeps its counts as of its last update.
    let Some(mut live) = read_summary(path) else {
        return;
    };
    live["ended_at"] = crate::clock::now_rfc3339().into();
    live["stopped"] = format!(
        "stopped by a second {name}: the run ended at once, without waiting for its calls in \
         flight; the counts here are those of its last update (progress), its report and \
         journal say how far it got (--resume checks and continues it)"
    )
    .into();
    live["exit_code"] = code.into();
    let _ = stage_summary(path, &live).and_then(|s| s.commit());
}

/// Whether the run's journal names it: the run opened its report.
fn journaled(config: &Config, run: &RunLine) -> bool {
    let journal = crate::journal::path_for(&config.report);
    crate::journal::read(&journal, |_, _| false)
        .ok()
        .flatten()
        .is_some_and(|j| j.runs.iter().any(|r| r.run == run.run))
}

/// Writes the summary of a run that could not start (exit 2 or 3), where no
/// other run's record is (see [`write_unstarted`]).
pub fn write_failure(config: &Config, run: &RunLine, why: &str, code: i32) {
    let Some(path) = &config.summary else { return };
    let mut summary = Summary::start(config, run);
    failed(&mut summary, why, code);
    write_unstarted(path, &summary);
}

/// The same for a run whose flags were refused.
pub fn write_refused_flags(args: &RunArgs, why: &str, code: i32) {
    let Some(path) = args.summary.as_deref().filter(|p| !p.is_empty()) else {
        return;
    };
    // A summary path refused for naming another of the run's files (the
    // report as it would be, given or by default) is not written either: a
    // refused run leaves nothing where a report is expected.
    let summary = std::path::Path::new(path);
    let others = crate::config::files_named(args);
    let named = |(name, other): &(&str, std::path::PathBuf)| {
        *name != "--summary" && crate::config::same_file(other, summary)
    };
    if others.iter().any(named) {
        return;
    }
    let mut summary = Summary::from_args(args, &RunLine::now());
    failed(&mut summary, why, code);
    write_unstarted(std::path::Path::new(path), &summary);
}

fn failed(summary: &mut Summary, why: &str, code: i32) {
    summary.ended_at = Some(crate::clock::now_rfc3339());
    summary.stopped = Some(format!("could not start: {why}"));
    summary.exit_code = Some(code);
    summary.caller = serde_json::json!({ "error": "not asked: the run could not start" });
}

/// Writes a summary where it belongs, atomically: a private file beside it,
/// synced, renamed over it. A reader never sees half of one.
pub fn write_summary(path: &std::path::Path, summary: &Summary) -> std::io::Result<()> {
    stage_summary(path, summary)?.commit()
}

/// A summary written beside `path` and synced, to replace it only once
/// the run holds its other files: a run that cannot open them leaves the
/// file at `path` as it was.
pub fn stage_summary(
    path: &std::path::Path,
    summary: &impl Serialize,
) -> std::io::Result<crate::files::Staged> {
    let mut json = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    json.push(b'\n');
    crate::files::stage(path, &json)
}
