//! `cognito-reset verify REPORT [--summary FILE]`: whether a report is as
//! this tool wrote it, and what it holds.
//!
//! The report's hash chain is checked line by line; the last checkpoint of
//! its journal (when the journal is beside it) and the head and record
//! count a summary recorded (with `--summary`) must lie on that chain, so a
//! report cut short is told as well as one changed, added to or reordered.
//! Nothing is written. Exit 0 only if everything holds and a checkpoint
//! vouches for every record; 1 if the report does not verify (the first
//! line that breaks is named); 2 if it cannot be read at all; 3 if it holds
//! together but nothing vouches for its last records.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::VerifyArgs;
use crate::exit::{EXIT_CANNOT_START, EXIT_OK, EXIT_ROW_FAILURES};
use crate::files;
use crate::journal::{self, Checkpoint};
use crate::progress::{escape, print_stdout, say};
use crate::report::{Broken, Chain, Fault, ReportFormat, read_whole};

/// `verify`'s exit code when the chain holds together but no checkpoint
/// (the journal's, or a summary's) vouches for its last records: an edit
/// there with its hashes recomputed, or rows cut from the end, could not
/// be told.
const EXIT_UNVOUCHED: i32 = 3;

/// What a report holds, as verify prints it.
#[derive(Debug, Default)]
struct Held {
    outcomes: BTreeMap<&'static str, u64>,
    first: Option<String>,
    last: Option<String>,
}

/// A checkpoint the report's chain must pass through, and whose it is.
struct Mark {
    whose: String,
    checkpoint: Checkpoint,
    /// Whether the chain passed through it.
    matched: Option<bool>,
    /// The report must end there: the run it marks ended there and no run
    /// is recorded as started since.
    closed: bool,
}

/// Runs `verify`; returns the exit code.
pub fn run(args: &VerifyArgs) -> i32 {
    let path = Path::new(&args.report);
    let shown = escape(&args.report);
    let mut file = match open_report(path, &shown) {
        Ok(file) => file,
        Err(why) => return cannot(&why),
    };
    let mut marks = match marks(path, args.summary.as_deref()) {
        Ok(marks) => marks,
        Err(why) => return cannot(&why),
    };
    let mut held = Held::default();
    let format = ReportFormat::from_path(path);
    let read = read_whole(&mut file, format, |record, chain| {
        *held.outcomes.entry(record.outcome.as_str()).or_default() += 1;
        if held.first.is_none() {
            held.first = Some(record.completed_at.clone());
        }
        held.last = Some(record.completed_at.clone());
        for mark in &mut marks {
            if mark.checkpoint.records == chain.records() {
                mark.matched = Some(mark.checkpoint.head == chain.head_hex());
            }
        }
    });
    let mut out = format!("report: {shown}\n");
    let verdict = match read {
        Ok(whole) => {
            describe(&mut out, &held, &whole.chain, path);
            judge(&mut out, &whole.chain, whole.torn, &marks).map(|()| whole.chain)
        }
        Err(Fault::Io(e)) => return cannot(&format!("{shown}: {e}")),
        Err(Fault::Foreign) => {
            return cannot(&format!(
                "{shown} is not a cognito-reset report (its first line is not a report header)"
            ));
        }
        Err(Fault::Unchained) => {
            Err("it was written before reports were hash-chained, so it cannot be verified".into())
        }
        Err(Fault::Broken { line, why }) => Err(broken(line, why)),
    };
    match verdict {
        Ok(end) => {
            let (text, vouched) = verified(&marks, &end);
            out.push_str(&text);
            let _ = print_stdout(out.as_bytes());
            if vouched { EXIT_OK } else { EXIT_UNVOUCHED }
        }
        Err(why) => {
            out.push_str(&format!("NOT VERIFIED: {why}\n"));
            let _ = print_stdout(out.as_bytes());
            say(&format!("cognito-reset: {shown} does not verify: {why}"));
            EXIT_ROW_FAILURES
        }
    }
}

/// The report, read only. A report always has its header (CSV) or a
/// record (JSONL): an empty file would otherwise pass as a report of
/// nothing.
fn open_report(path: &Path, shown: &str) -> Result<std::fs::File, String> {
    let file = files::inspect(path).map_err(|e| files::explain_reading(path, &e))?;
    if file.metadata().is_ok_and(|m| m.len() == 0) {
        return Err(format!(
            "{shown} is empty: not a cognito-reset report (a report begins with its header)"
        ));
    }
    Ok(file)
}

fn cannot(why: &str) -> i32 {
    say(&format!("cognito-reset: cannot verify: {why}"));
    EXIT_CANNOT_START
}

fn broken(line: u64, why: Broken) -> String {
    match why {
        Broken::Unreadable => format!("line {line} is not a record as cognito-reset writes it"),
        Broken::Chain => format!(
            "line {line} does not follow from the line before it: a record was changed, added, \
             removed or moved there"
        ),
    }
}

/// What a report that verifies is known to be: only what a checkpoint
/// vouches for. Records past the last one hold together, but an edit there
/// with its hashes recomputed, a record added, or rows cut from the end,
/// cannot be told.
/// Says too whether a checkpoint vouches for every record.
fn verified(marks: &[Mark], end: &Chain) -> (String, bool) {
    let last = marks.iter().map(|m| m.checkpoint.records).max();
    if marks.iter().any(|m| m.closed) || last == Some(end.records()) {
        let text = "verified: nothing was changed, added, removed or reordered\n";
        return (text.into(), true);
    }
    let text = match last {
        Some(n) => format!(
            "verified up to record {n}: nothing there was changed, added, removed or \
             reordered; its last run did not end, so the {} record(s) after it hold together \
             but nothing vouches for them (an edit with its hashes recomputed, a record added, \
             or rows cut from its end cannot be told)\n",
            end.records().saturating_sub(n)
        ),
        None => "the chain holds together, but nothing vouches for it: without a checkpoint in \
                 its journal or a summary (--summary), an edit with its hashes recomputed, a \
                 record added, or rows cut from its end cannot be told\n"
            .into(),
    };
    (text, false)
}

/// The checkpoints the chain must pass through: the journal's last, and
/// what a summary recorded.
fn marks(path: &Path, summary: Option<&str>) -> Result<Vec<Mark>, String> {
    let mut marks = Vec::new();
    let journal = journal::path_for(path);
    let previous = journal::read(&journal, |_, _| false).ok().flatten();
    if let Some(previous) = &previous
        && let Some(checkpoint) = previous.checkpoint.clone()
    {
        marks.push(Mark {
            whose: format!("its journal {}", escape(&journal.display().to_string())),
            checkpoint,
            matched: None,
            closed: previous.closed,
        });
    }
    let Some(summary) = summary else {
        return Ok(marks);
    };
    let shown = escape(summary);
    let text = std::fs::read(summary).map_err(|e| format!("--summary {shown}: {e}"))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("--summary {shown} is not a summary ({e})"))?;
    let chain = value.get("report_chain").cloned().unwrap_or_default();
    let checkpoint: Checkpoint = serde_json::from_value(chain).map_err(|_| {
        format!("--summary {shown} records no report chain (a run that did not end, or not a cognito-reset summary)")
    })?;
    // Records beyond the summary's chain are another run's only if the
    // journal names a run started after the summary's.
    let run = value.get("run_id").and_then(|r| r.as_str()).unwrap_or("");
    let runs = previous.map(|p| p.runs).unwrap_or_default();
    let closed = runs
        .iter()
        .position(|r| r.run == run)
        .is_none_or(|i| i + 1 == runs.len());
    marks.push(Mark {
        whose: format!("the summary {shown}"),
        checkpoint,
        matched: None,
        closed,
    });
    Ok(marks)
}

/// What the report holds.
fn describe(out: &mut String, held: &Held, chain: &Chain, path: &Path) {
    out.push_str(&format!(
        "records: {}; last hash {}\n",
        chain.records(),
        chain.head_hex()
    ));
    let outcomes: Vec<String> = held
        .outcomes
        .iter()
        .map(|(o, n)| format!("{o} {n}"))
        .collect();
    if !outcomes.is_empty() {
        out.push_str(&format!("outcomes: {}\n", outcomes.join(" · ")));
    }
    if let (Some(first), Some(last)) = (&held.first, &held.last) {
        out.push_str(&format!(
            "first record completed {}, last {}\n",
            escape(first),
            escape(last)
        ));
    }
    match journal::read(&journal::path_for(path), |_, _| false) {
        Ok(Some(previous)) if !previous.runs.is_empty() => {
            let runs = &previous.runs;
            out.push_str(&format!(
                "runs: {} (the first started {}, the last {})\n",
                runs.len(),
                escape(&runs[0].started),
                escape(&runs[runs.len() - 1].started)
            ));
        }
        _ => out.push_str("runs: unknown (no readable journal beside the report)\n"),
    }
}

/// Whether the chain's end, the file's end and every checkpoint agree.
fn judge(out: &mut String, end: &Chain, torn: bool, marks: &[Mark]) -> Result<(), String> {
    if torn {
        return Err(format!(
            "line after record {} is cut off (a crash mid-write, or the file was cut)",
            end.records()
        ));
    }
    for mark in marks {
        let c = &mark.checkpoint;
        let fits = c.records == 0 || mark.matched == Some(true);
        if !fits && end.records() < c.records {
            return Err(format!(
                "it holds {} records where {} says it held {}: records were removed from its end",
                end.records(),
                mark.whose,
                c.records
            ));
        }
        if !fits {
            return Err(format!(
                "record {} does not have the hash {} holds for it",
                c.records, mark.whose
            ));
        }
        if mark.closed && end.records() > c.records {
            return Err(format!(
                "it holds {} records where {} says its last run ended with {}: records were \
                 added after it ended",
                end.records(),
                mark.whose,
                c.records
            ));
        }
        out.push_str(&format!(
            "{}: {} records, on the chain\n",
            mark.whose, c.records
        ));
    }
    Ok(())
}
