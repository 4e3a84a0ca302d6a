//! Counting outcomes, and the end of a run: the summary on stderr for the
//! operator, and as JSON (`--summary`, mode 0600) as the audit record — who
//! ran what, when, on which list, against which pools, why, and with what
//! result — plus the command that resumes the run.

use std::collections::BTreeMap;
use std::io::{Seek, Write};

use serde::Serialize;

use crate::cli::RunArgs;
use crate::config::{Config, Source};
use crate::journal::RunLine;
use crate::limiter::{Category, Rate};
use crate::progress::{escape, say};
use crate::report::{Outcome, Record, now_rfc3339};
use crate::run::{Executed, finished_code, say_unless_quiet};
use crate::session::Session;
use crate::shutdown::StopReason;

/// Counts kept by the report writer as records go by.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Tally {
    /// Rows recorded.
    pub rows: u64,
    /// Rows by outcome word.
    pub outcomes: BTreeMap<String, u64>,
    /// Rows by error code (failed, invalid, would_fail, disabled, cancelled
    /// with a code).
    pub error_codes: BTreeMap<String, u64>,
    /// Users signed out (`--global-sign-out`).
    pub signed_out: u64,
    /// Sign-outs that failed, by error code.
    pub sign_out_failed: BTreeMap<String, u64>,
    /// Sign-outs not attempted because the run stopped first (a resume does
    /// them).
    pub sign_outs_not_attempted: u64,
    /// Users left with a working password, by reason (in a dry run: who
    /// would be).
    pub kept_password: BTreeMap<String, u64>,
    /// Dry run: users that `--unresettable disable` would disable.
    pub would_disable: u64,
    /// Federated users (no password in Cognito; reset at their identity provider).
    pub federated: u64,
    /// Users reset whose reset was sent again after a timed-out call (or
    /// without a check, `--resend-unchecked`): they may have had two codes,
    /// the later one valid. Their report rows say so.
    pub maybe_two_codes: u64,
    /// API calls made for rows.
    pub attempts: u64,
    /// Rows a resume may still finish: cancelled, failed for a reason that
    /// can pass (throttling, timeouts, the per-user attempt limit, a state
    /// that could not be checked), or owing a sign-out.
    pub resumable: u64,
}

/// Codes of failures that a later resume may get past.
const PASSING: [&str; 15] = [
    "AccessDeniedException",
    "UnrecognizedClientException",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "CredentialsError",
    "JournalError",
    "ReportError",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalErrorException",
    "Timeout",
    "ConnectionError",
    "StateUnknown",
    "ServiceUnavailable",
    "InternalFailure",
];

impl Tally {
    /// Counts one record.
    pub fn add(&mut self, record: &Record) {
        self.rows += 1;
        *self
            .outcomes
            .entry(record.outcome.as_str().to_owned())
            .or_default() += 1;
        if !record.error_code.is_empty() {
            *self
                .error_codes
                .entry(record.error_code.clone())
                .or_default() += 1;
        }
        match (record.signed_out, &record.sign_out_error) {
            (Some(true), _) => self.signed_out += 1,
            (Some(false), Some(code)) if code == "Cancelled" => self.sign_outs_not_attempted += 1,
            (Some(false), code) => {
                let code = code.clone().unwrap_or_default();
                *self.sign_out_failed.entry(code).or_default() += 1;
            }
            _ => {}
        }
        if let Some(reason) = &record.kept_password {
            *self.kept_password.entry(reason.clone()).or_default() += 1;
        }
        if record.outcome == Outcome::WouldFail
            && record.unreachable.is_some()
            && record.kept_password.is_none()
        {
            self.would_disable += 1;
        }
        self.federated += u64::from(record.federated);
        self.maybe_two_codes += u64::from(record.maybe_two_codes);
        self.attempts += u64::from(record.attempts);
        let passing =
            record.outcome == Outcome::Failed && PASSING.contains(&record.error_code.as_str());
        if record.outcome == Outcome::Cancelled || passing || record.signed_out == Some(false) {
            self.resumable += 1;
        }
    }

    /// Counts one record for the whole report: a `skipped` row counts as
    /// what the earlier run did to it.
    pub fn add_whole(&mut self, record: &Record) {
        match (record.outcome, record.earlier) {
            (Outcome::Skipped | Outcome::Excluded, Some(done)) => {
                let code = match done.earlier() {
                    crate::life::Earlier::Disabled(code) => code.as_str(),
                    crate::life::Earlier::Reset => "",
                };
                let mut was = Record::local(0, "", "", done.outcome(), code, "");
                was.signed_out = done.signed_out();
                self.add(&was);
            }
            _ => self.add(record),
        }
    }

    /// Rows with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(outcome.as_str()).copied().unwrap_or(0)
    }

    /// Sign-outs that failed.
    pub fn sign_outs_failed(&self) -> u64 {
        self.sign_out_failed.values().sum()
    }

    /// Users left with a working password.
    pub fn kept(&self) -> u64 {
        self.kept_password.values().sum()
    }

    /// Whether the exit code is 1: a row failed or was invalid, or a
    /// sign-out failed.
    pub fn any_failure(&self) -> bool {
        Outcome::ALL
            .into_iter()
            .any(|o| o.is_failure() && self.count(o) > 0)
            || self.sign_outs_failed() > 0
    }

    /// The counts as the operator reads them; `dry_run` words what would
    /// happen as such.
    pub fn render(&self, out: &mut String, dry_run: bool) {
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        let listed = if outcomes.is_empty() {
            "no rows".to_owned()
        } else {
            outcomes.join(" · ")
        };
        out.push_str(&format!("  rows {}: {listed}\n", self.rows));
        if !self.error_codes.is_empty() {
            let codes: Vec<String> = self
                .error_codes
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            out.push_str(&format!("  errors: {}\n", codes.join(" · ")));
        }
        if self.signed_out + self.sign_outs_failed() + self.sign_outs_not_attempted > 0 {
            out.push_str(&format!(
                "  signed out {} · sign-outs failed {} · not attempted (the run stopped) {}\n",
                self.signed_out,
                self.sign_outs_failed(),
                self.sign_outs_not_attempted
            ));
        }
        if self.would_disable > 0 {
            out.push_str(&format!("  would be disabled: {}\n", self.would_disable));
        }
        if self.federated > 0 {
            out.push_str(&format!(
                "  federated users (reset at their identity provider): {}\n",
                self.federated
            ));
        }
        if self.maybe_two_codes > 0 {
            out.push_str(&format!(
                "  sent again after a lost answer, so may have had two codes: {}\n",
                self.maybe_two_codes
            ));
        }
        for (reason, n) in &self.kept_password {
            let kept = if dry_run {
                "WOULD BE LEFT WITH A WORKING PASSWORD"
            } else {
                "LEFT WITH A WORKING PASSWORD"
            };
            out.push_str(&format!("  {kept}: {n} ({reason})\n"));
        }
    }
}

/// Where the rows came from.
#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    /// `file`, `stream`, `stdin`, `pool` or `group`.
    pub source: String,
    /// The file, pool or group.
    pub path: Option<String>,
    /// SHA-256 of a file's bytes.
    pub sha256: Option<String>,
    /// Records in a file.
    pub rows: Option<u64>,
    /// What the report belongs to.
    pub fingerprint: String,
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
    /// When it ended.
    pub ended_at: String,
    /// The command line, ClientMetadata values removed.
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
}

impl Summary {
    /// What is known of a run from its flags alone, before anything else.
    pub fn start(config: &Config, run: &RunLine) -> Summary {
        let (source, path) = match &config.source {
            Source::File(p) => ("file", Some(p.clone())),
            Source::Stdin => ("stdin", None),
            Source::Pool { pool, .. } => ("pool", Some(pool.clone())),
            Source::Group { pool, group } => ("group", Some(format!("{pool}/{group}"))),
        };
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
            ended_at: now_rfc3339(),
            command_line: command_line(),
            reason: None,
            mode: "reset".into(),
            input: InputRecord {
                source: source.into(),
                path,
                sha256: None,
                rows: None,
                fingerprint: String::new(),
            },
            pools: Vec::new(),
            regions: Vec::new(),
            caller: serde_json::json!({ "error": "not asked" }),
            report: String::new(),
            counts: Tally::default(),
            whole_report: None,
            calls: BTreeMap::new(),
            elapsed_seconds: 0.0,
            stopped: None,
            exit_code: None,
        }
    }
}

/// While a run goes on, its summary file says so.
pub const RUNNING: &str = "running: this run has not ended; if it is no longer running it was \
     killed, and its report and journal say how far it got (--resume continues it)";

/// Refuses to empty an existing file that is not a summary of this tool's
/// (another run's report, a user list): `--summary` never destroys data.
pub fn check_replaceable(path: &std::path::Path) -> Result<(), crate::exit::StartError> {
    use std::io::Read;
    let Ok(file) = crate::files::open(path, crate::files::Open::Existing) else {
        return Ok(());
    };
    let mut head = Vec::new();
    let _ = file.take(64 * 1024).read_to_end(&mut head);
    let ours = head.is_empty()
        || serde_json::from_slice::<serde_json::Value>(&head)
            .map(|v| v.get("tool").and_then(|t| t.as_str()) == Some("cognito-reset"))
            .unwrap_or(false)
        || String::from_utf8_lossy(&head).contains("\"tool\": \"cognito-reset\"");
    if ours {
        Ok(())
    } else {
        Err(crate::exit::StartError::Usage(format!(
            "--summary {} is an existing file that is not a cognito-reset summary; refusing to \
             replace it (give a new path)",
            escape(&path.display().to_string())
        )))
    }
}

/// Writes `summary` to `path` unless that would replace a file that is not
/// a summary, or cannot be done.
fn write_to(path: &std::path::Path, summary: &Summary) {
    if check_replaceable(path).is_err() || crate::files::check_writable(path).is_err() {
        return;
    }
    if let Ok(file) = crate::files::open(path, crate::files::Open::Truncate) {
        write_summary(file, summary, &Some(path.to_path_buf()));
    }
}

/// The summary file as soon as the flags are checked: the run is going on,
/// so that a run killed at any moment never leaves an earlier run's summary
/// looking like its own. A summary of another run of the same report that
/// this run has no claim to replace (see `records_another_run_of`) is left
/// alone until this run holds the report (`locked`, when it is written
/// again): a run refused because that report is in use or already exists
/// must not destroy the record of the run that made it.
pub fn write_running(config: &Config, run: &RunLine, locked: bool) {
    let Some(path) = &config.summary else { return };
    let mut summary = Summary::start(config, run);
    summary.stopped = Some(RUNNING.into());
    if locked || !records_another_run_of(path, &summary, config) {
        write_to(path, &summary);
    }
}

/// Writes the summary of a run that could not start (exit 2 or 3), so that
/// no earlier run's summary is read as this one's — unless the file records
/// another run of the same report, which it keeps.
pub fn write_failure(config: &Config, run: &RunLine, why: &str, code: i32) {
    let Some(path) = &config.summary else { return };
    let mut summary = Summary::start(config, run);
    failed(&mut summary, why, code);
    if records_another_run_of(path, &summary, config) {
        crate::progress::say(&format!(
            "cognito-reset: --summary {} records another run of the report {}; left as it is",
            escape(&path.display().to_string()),
            escape(&summary.report)
        ));
        return;
    }
    write_to(path, &summary);
}

/// Whether the summary at `path` is that of another run (one that started)
/// of the same report as `ours`, which this run has no claim to replace: it
/// is still running, or this run neither resumes nor overwrites the report.
fn records_another_run_of(path: &std::path::Path, ours: &Summary, config: &Config) -> bool {
    use std::io::Read;
    let Ok(file) = crate::files::open(path, crate::files::Open::Existing) else {
        return false;
    };
    let mut text = Vec::new();
    let _ = file.take(4 << 20).read_to_end(&mut text);
    let Ok(theirs) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return false;
    };
    let field = |name: &str| {
        theirs
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    field("tool") == "cognito-reset"
        && field("report") == ours.report
        && field("run_id") != ours.run_id
        && !field("stopped").starts_with("could not start")
        && (!(config.resume || config.overwrite) || field("stopped") == RUNNING)
}

/// The same for a run whose flags were refused.
pub fn write_refused_flags(args: &RunArgs, why: &str, code: i32) {
    let Some(path) = args.summary.as_deref().filter(|p| !p.is_empty()) else {
        return;
    };
    // A summary path refused for naming another of the run's files is not
    // written either.
    let summary = std::path::Path::new(path);
    let report = args.report.as_deref().map(std::path::PathBuf::from);
    let journal = report.as_deref().map(crate::journal::path_for);
    let input = args.input.as_deref().map(std::path::PathBuf::from);
    if [report, journal, input]
        .iter()
        .flatten()
        .any(|other| crate::config::same_file(other, summary))
    {
        return;
    }
    let mut summary = Summary::from_args(args, &RunLine::now());
    failed(&mut summary, why, code);
    write_to(std::path::Path::new(path), &summary);
}

fn failed(summary: &mut Summary, why: &str, code: i32) {
    summary.stopped = Some(format!("could not start: {why}"));
    summary.exit_code = Some(code);
    summary.caller = serde_json::json!({ "error": "not asked: the run could not start" });
}

/// The command line with every `--client-metadata` value removed.
pub fn command_line() -> Vec<String> {
    let mut out = Vec::new();
    let mut value_next = false;
    for arg in std::env::args_os().map(|a| a.to_string_lossy().into_owned()) {
        let redact = |kv: &str| match kv.split_once('=') {
            Some((k, _)) => format!("{k}=<value removed>"),
            None => "<value removed>".to_owned(),
        };
        if value_next {
            out.push(redact(&arg));
            value_next = false;
        } else if arg == "--client-metadata" {
            out.push(arg);
            value_next = true;
        } else if let Some(kv) = arg.strip_prefix("--client-metadata=") {
            out.push(format!("--client-metadata={}", redact(kv)));
        } else {
            out.push(arg);
        }
    }
    out
}

/// Quotes an argument for a POSIX shell so that pasting the command gives
/// the program the same bytes: plain words as they are, others in single
/// quotes, and anything with a control or invisible character in bash's
/// `$'…'` form, which shows it escaped and pastes back to it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        return arg.to_owned();
    }
    if escape(arg) == arg {
        return format!("'{}'", arg.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if escape(&c.to_string()) != c.to_string() => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The command that continues this run: `--resume` and always `--report`
/// (placed before any `--`), placeholders instead of ClientMetadata values.
pub fn resume_command(report: &str) -> String {
    let line = command_line();
    let cut = line.iter().position(|a| a == "--").unwrap_or(line.len());
    let (flags, rest) = line.split_at(cut);
    let mut args: Vec<String> = flags
        .iter()
        .filter(|a| *a != "--overwrite" && *a != "--resume")
        .cloned()
        .collect();
    let has_report = args
        .iter()
        .any(|a| a == "--report" || a.starts_with("--report="));
    if !has_report {
        // One word, so that a path starting with `-` stays a value.
        args.push(format!("--report={report}"));
    }
    args.push("--resume".into());
    args.extend(rest.iter().cloned());
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a run ended, for its summary.
struct Ended {
    counts: Tally,
    whole: Tally,
    /// Wall time of the execute phase.
    execute_secs: f64,
    /// Calls per category made before it.
    calls_before: [u64; 5],
    stopped: Option<StopReason>,
    code: i32,
}

impl Session {
    fn input_record(&self) -> InputRecord {
        let (source, path) = match &self.config.source {
            Source::File(p) if self.survey.is_some() => ("file", Some(p.clone())),
            Source::File(p) => ("stream", Some(p.clone())),
            Source::Stdin => ("stdin", None),
            Source::Pool { pool, .. } => ("pool", Some(pool.clone())),
            Source::Group { pool, group } => ("group", Some(format!("{pool}/{group}"))),
        };
        InputRecord {
            source: source.into(),
            path,
            sha256: self.survey.as_ref().map(|s| s.sha256.clone()),
            rows: self.survey.as_ref().map(|s| s.rows),
            fingerprint: self.header.fingerprint.clone(),
        }
    }

    fn pool_records(&self) -> Vec<PoolRecord> {
        self.pools()
            .facts()
            .map(|f| PoolRecord {
                id: f.id.clone(),
                region: f.region.clone(),
                recovery: f.info.as_ref().map(|i| i.recovery.clone()),
                email_sending_account: f
                    .info
                    .as_ref()
                    .and_then(|i| i.email_sending_account.clone()),
                case_sensitive: f.info.as_ref().and_then(|i| i.case_sensitive),
                notes: f.notes.clone(),
            })
            .collect()
    }

    /// Calls per category: all of them, and the rate achieved while the rows
    /// ran (`before`: the preflight's calls, made before that).
    fn calls_record(&self, secs: f64, before: [u64; 5]) -> BTreeMap<String, CallsRecord> {
        let region = self
            .pools()
            .regions()
            .into_iter()
            .next()
            .unwrap_or_default();
        Category::ALL
            .into_iter()
            .filter(|c| self.stats.calls(*c) > 0)
            .map(|c| {
                let rate = match self.limiters.rate(&region, c) {
                    Rate::PerSecond(r) => Some(r),
                    Rate::Unlimited => None,
                };
                let record = CallsRecord {
                    calls: self.stats.calls(c),
                    throttled: self.stats.throttles(c),
                    rate_per_second: rate,
                    achieved_per_second: (self.stats.calls(c) - before[c.index()]) as f64
                        / secs.max(1e-9),
                };
                (c.name().to_owned(), record)
            })
            .collect()
    }

    /// Builds the audit record.
    fn summary(&self, ended: Ended) -> Summary {
        let mut summary = Summary::start(&self.config, &self.run);
        summary.runs = self.earlier_runs.clone();
        summary.runs.push(self.run.clone());
        summary.input = self.input_record();
        summary.pools = self.pool_records();
        summary.regions = self.pools().regions().into_iter().collect();
        summary.caller = match &self.identity {
            Ok(id) => serde_json::to_value(id).unwrap_or_default(),
            Err(why) => serde_json::json!({ "error": why }),
        };
        summary.counts = ended.counts;
        summary.whole_report = (!self.earlier_runs.is_empty()).then_some(ended.whole);
        summary.calls = self.calls_record(ended.execute_secs, ended.calls_before);
        summary.elapsed_seconds = self.started_at.elapsed().map_or(0.0, |d| d.as_secs_f64());
        summary.stopped = ended.stopped.map(|r| r.to_string());
        summary.exit_code = Some(ended.code);
        summary
    }

    /// The summary file while the run goes on: parseable, and saying the run
    /// has not ended.
    pub fn provisional_summary(&self) -> Summary {
        let mut summary = Summary::start(&self.config, &self.run);
        summary.runs = self.earlier_runs.clone();
        summary.runs.push(self.run.clone());
        summary.input = self.input_record();
        summary.pools = self.pool_records();
        summary.stopped = Some(RUNNING.into());
        summary
    }

    /// The summarise phase: makes the report durable, keeps the journal's
    /// promise, prints the summary and the resume command, writes the audit
    /// record, and returns the exit code.
    pub fn summarise(&mut self, executed: Executed) -> i32 {
        let Executed {
            finished: run,
            elapsed,
            calls_before,
        } = executed;
        let mut finished = run.finished;
        let synced = finished.write_error.is_none() && finished.report.sync().is_ok();
        // The journal is rewritten only once every outcome is on disk;
        // otherwise it keeps everything it had.
        if synced && let Err(e) = run.journal_file.finish(&finished.keep) {
            say(&format!(
                "cognito-reset: warning: cannot rewrite the journal: {e} (it keeps every \
                 intent; a resume checks them)"
            ));
        }
        let stopped = self.stop.reason().cloned();
        let code = match &stopped {
            Some(reason) => reason.exit_code(),
            None => finished_code(finished.tally.any_failure()),
        };
        let secs = elapsed.as_secs_f64();
        let summary = self.summary(Ended {
            counts: finished.tally.clone(),
            whole: finished.whole.clone(),
            execute_secs: secs,
            calls_before,
            stopped: stopped.clone(),
            code,
        });
        say_unless_quiet(&self.config, &self.render(&summary));
        if let Some(reason) = &stopped
            && !matches!(reason, StopReason::Signal(_))
        {
            say(&format!("cognito-reset: aborted: {reason}"));
        }
        let owed = finished.tally.resumable > 0 || !finished.keep.is_empty();
        if stopped.is_some() || (owed && !self.config.policy.dry_run) {
            self.print_resume_hint();
        }
        if let Some(file) = run.summary_file {
            write_summary(file, &summary, &self.config.summary);
        }
        code
    }

    fn print_resume_hint(&self) {
        let report = self.config.report.display().to_string();
        let mut hint = format!("to resume: {}", resume_command(&report));
        if !self.config.client_metadata.is_empty() {
            hint.push_str(
                "\n  (give the --client-metadata values again in place of <value removed>)",
            );
        }
        if matches!(self.config.source, Source::Stdin) || self.stream_input() {
            hint.push_str("\n  (pipe the same rows to it again: the input was read as a stream)");
        }
        say(&hint);
    }

    fn stream_input(&self) -> bool {
        matches!(self.config.source, Source::File(_)) && self.survey.is_none()
    }

    fn render(&self, s: &Summary) -> String {
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
            whole.render(&mut text, dry_run);
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
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
        out.push_str(&format!("  report: {}", escape(&s.report)));
        if let Some(stopped) = &s.stopped {
            out.push_str(&format!("\n  stopped: {stopped}"));
        }
        out
    }
}

/// Writes a summary into its (open, private) file.
pub fn write_summary(
    mut file: std::fs::File,
    summary: &Summary,
    path: &Option<std::path::PathBuf>,
) {
    let mut json = serde_json::to_vec_pretty(summary).unwrap_or_default();
    json.push(b'\n');
    let result = file
        .set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(&json))
        .and_then(|_| file.sync_data());
    if let Err(e) = result {
        let path = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        say(&format!(
            "cognito-reset: cannot write the summary {}: {e}",
            escape(&path)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_out_failures_and_kept_passwords_are_counted_and_fail_the_run() {
        let mut t = Tally::default();
        let mut r = Record::local(1, "a", "p_1", Outcome::Reset, "", "");
        r.signed_out = Some(true);
        t.add(&r);
        assert!(!t.any_failure());
        r.signed_out = Some(false);
        r.sign_out_error = Some("InternalErrorException".into());
        t.add(&r);
        assert!(t.any_failure(), "a failed sign-out is a failure");
        let mut f = Record::local(
            2,
            "b",
            "p_1",
            Outcome::Failed,
            "InvalidParameterException",
            "",
        );
        f.kept_password = Some("no verified email or phone".into());
        t.add(&f);
        assert_eq!(t.kept(), 1);
        let mut text = String::new();
        t.render(&mut text, false);
        assert!(text.contains("LEFT WITH A WORKING PASSWORD: 1"), "{text}");
        assert!(
            text.contains("signed out 1 · sign-outs failed 1 · not attempted"),
            "{text}"
        );
    }
}
