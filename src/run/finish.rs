//! The last phase: the report made durable, the journal's promise kept,
//! the summary printed and written as the audit record, the command that
//! resumes the run printed when something is left, and the exit code.

use std::collections::BTreeMap;

use super::check::Found;
use super::execute::{Executed, Ran, summary_of};
use super::prepare::Context;
use crate::audit::{self, CallsRecord, Summary, resume_command};
use crate::exit::{EXIT_NO_RECORD, EXIT_OK, EXIT_ROW_FAILURES};
use crate::journal::{Checkpoint, JournalFile};
use crate::limiter::{Category, Rate};
use crate::progress::{Verbosity, escape, say, say_unless_quiet};
use crate::shutdown::StopReason;
use crate::writer::Finished;

/// Ends the run; returns its exit code.
pub fn finish(e: Executed) -> i32 {
    let Executed {
        ctx,
        input,
        header,
        found,
        service,
        earlier_runs,
        earlier,
        ran,
    } = e;
    // The simulator (`--simulate`) answers until the run is over.
    let _simulator = service.simulator;
    let Ran {
        mut finished,
        journal_file,
        summary: summary_path,
        elapsed,
        calls_before,
    } = ran;
    make_durable(&mut finished, journal_file);
    let stopped = ctx.stop.reason().cloned();
    let read_once = matches!(input.source, "stdin" | "stream");
    // A stream is read again only by a resume fed the same rows: rows that
    // leave out users the report recorded are other rows, and the users of
    // the earlier stream that no run reached are in no row.
    let unlisted = (read_once && stopped.is_none() && !earlier_runs.is_empty())
        .then_some(finished.earlier_not_listed);
    let (resumable, owed) = outstanding(&finished, unlisted);
    let code = match &stopped {
        Some(reason) => reason.exit_code(),
        None if finished.tally.any_failure() || owed => EXIT_ROW_FAILURES,
        None => EXIT_OK,
    };
    let mut summary = summary_of(&ctx, input, &header, &found, &earlier_runs);
    summary.input.earlier_users_not_listed = unlisted;
    say_other_rows(unlisted);
    record_counts(&mut summary, &finished, &found, !earlier_runs.is_empty());
    count_unread(&mut summary, stopped.as_ref());
    answer(&mut summary.pools, &found, &finished.tally, &earlier, &ctx);
    let region = found.pools.regions().into_iter().next().unwrap_or_default();
    summary.calls = calls_record(&ctx, &region, elapsed.as_secs_f64(), calls_before);
    record_end(&mut summary, &ctx, stopped.as_ref(), code);
    say_incomplete(&mut summary, &finished);
    say_unless_quiet(ctx.config.verbosity, &summary.render());
    let hint = (stopped.is_some() || (resumable && !ctx.config.policy.dry_run))
        .then(|| resume_hint(&ctx, read_once));
    say_the_end(&ctx, &summary, stopped.as_ref(), hint);
    match summary_path.map(|path| (audit::write_summary(&path, &summary), path)) {
        Some((Err(e), path)) => {
            say(&format!(
                "cognito-reset: cannot write the summary {}: {e}; the run's audit record is \
                 missing (the report holds every row)",
                escape(&path.display().to_string())
            ));
            lost_record(code)
        }
        _ => code,
    }
}

/// The summary's counts: who called, what each row came to, the report's
/// chain at its end, and the whole report's counts when it spans runs.
fn record_counts(summary: &mut Summary, finished: &Finished, found: &Found, resumed: bool) {
    summary.regions = found.pools.regions().into_iter().collect();
    summary.caller = match &found.identity {
        Ok(id) => serde_json::to_value(id).unwrap_or_default(),
        Err(why) => serde_json::json!({ "error": why }),
    };
    summary.counts = finished.tally.clone();
    // A report that could not be written: only what it holds is recorded.
    let chain = match finished.write_error {
        Some(_) => finished.report.durable(),
        None => finished.report.chain(),
    };
    summary.report_chain = Some(Checkpoint {
        head: chain.head_hex(),
        records: chain.records(),
        // A summary's chain is always its run's end: verify reads it so.
        end: false,
    });
    let complete = finished.write_error.is_none();
    summary.whole_report = (resumed && complete).then(|| finished.whole.clone());
}

/// Whether a resume would finish something the whole report holds, and
/// whether anything is owed at all (a sign-out excluded users owe, which
/// only a hand can make): exit 0 means neither.
fn outstanding(finished: &Finished, unlisted: Option<u64>) -> (bool, bool) {
    let resumable = finished.whole.resumable > 0
        || !finished.keep.is_empty()
        || unlisted.is_some_and(|n| n > 0);
    (
        resumable,
        resumable || finished.whole.sign_outs_excluded > 0,
    )
}

/// A file that changed under the run: the plan's rows past the change were
/// never read, so no row records them, and their users keep a working
/// password. This run's counts say so (a resume, the file put back, reads
/// them).
fn count_unread(summary: &mut Summary, stopped: Option<&StopReason>) {
    let changed = matches!(stopped, Some(StopReason::Fatal { code, .. }) if code == crate::input::INPUT_CHANGED);
    let Some(planned) = summary.input.rows.filter(|_| changed) else {
        return;
    };
    let unread = planned.saturating_sub(summary.counts.rows);
    if unread > 0 {
        let why = "not reset: the input changed before these rows were read".to_owned();
        *summary.counts.kept_password.entry(why).or_default() += unread;
    }
}

/// A stream resume fed rows that leave out users the report recorded.
fn say_other_rows(unlisted: Option<u64>) {
    let Some(n) = unlisted.filter(|n| *n > 0) else {
        return;
    };
    say(&format!(
        "cognito-reset: the rows of this resume did not list {n} users the earlier runs of \
         the report recorded, so they are not the rows those runs read: users of that input \
         that no run reached are in no row — pipe the earlier run's rows again with --resume \
         (a grown list: start a new --report with --skip-done naming this one)"
    ));
}

/// A report that could not be written is incomplete: said plainly, with
/// what it holds and how the rest is recovered.
fn say_incomplete(summary: &mut Summary, finished: &Finished) {
    let Some(error) = &finished.write_error else {
        return;
    };
    let note = format!(
        "the report is incomplete ({}): it holds {} records, and the summary counts only \
         those; the journal keeps every reset sent, so --resume recovers the rest once the \
         report can grow again",
        escape(error),
        finished.report.durable().records()
    );
    say(&format!("cognito-reset: {note}"));
    summary.stopped = Some(match summary.stopped.take() {
        Some(why) => format!("{why}; {note}"),
        None => note,
    });
}

/// How the run ended: when, why it stopped, its exit code, its pauses.
fn record_end(summary: &mut Summary, ctx: &Context, stopped: Option<&StopReason>, code: i32) {
    summary.elapsed_seconds = ctx.started_at.elapsed().map_or(0.0, |d| d.as_secs_f64());
    summary.ended_at = Some(crate::clock::now_rfc3339());
    summary.stopped = stopped.map(|r| r.to_string());
    summary.exit_code = Some(code);
    summary.pauses = ctx.caller.pauses.records(true);
    summary.time_lost_seconds = crate::pause::time_lost(&summary.pauses);
}

/// The exit code of a run whose audit record could not be written: one that
/// would have said all was well (or only that rows failed) must not.
fn lost_record(code: i32) -> i32 {
    if code == EXIT_OK || code == EXIT_ROW_FAILURES {
        EXIT_NO_RECORD
    } else {
        code
    }
}

/// The summary's answers per pool: where the codes went, when the users
/// are out (from the whole report's last sign-out).
fn answer(
    pools: &mut [crate::audit::PoolRecord],
    found: &super::check::Found,
    tally: &crate::tally::Tally,
    earlier: &crate::resume::Earlier,
    ctx: &Context,
) {
    let policy = &ctx.config.policy;
    for pool in pools {
        let clients = found
            .pools
            .facts()
            .find(|f| f.id == pool.id)
            .and_then(|f| f.app_clients.as_deref());
        let seen = crate::answers::Found {
            seen: tally.by_pool.pool(&pool.id),
            earlier: earlier.sign_outs.pool(&pool.id),
            sign_out: policy.sign_out,
            dry_run: policy.dry_run,
        };
        pool.answers.after(clients, seen);
    }
}

/// Makes the report durable, then keeps the journal's promise: it is
/// rewritten without the intents this run resolved only once every outcome
/// is on disk; otherwise it keeps everything it had.
fn make_durable(finished: &mut Finished, journal_file: JournalFile) {
    let synced = finished.write_error.is_none() && finished.report.sync().is_ok();
    let chain = finished.report.chain();
    let checkpoint = Checkpoint {
        head: chain.head_hex(),
        records: chain.records(),
        end: true,
    };
    if synced && let Err(e) = journal_file.finish(&checkpoint, &finished.keep) {
        say(&format!(
            "cognito-reset: warning: cannot rewrite the journal: {e} (it keeps every \
             intent; a resume checks them)"
        ));
    }
}

/// A quiet run says nothing when all went well, and one line otherwise,
/// the command that resumes it included: a cron mail is then never empty
/// when something needs a look. Otherwise: why it stopped, how to resume.
fn say_the_end(
    ctx: &Context,
    summary: &Summary,
    stopped: Option<&StopReason>,
    hint: Option<Vec<String>>,
) {
    if ctx.config.verbosity != Verbosity::Quiet {
        return say_what_is_left(stopped, hint);
    }
    if summary.exit_code == Some(EXIT_OK) {
        return;
    }
    let mut line = summary.result_line();
    if let Some(hint) = &hint {
        line = format!("{line}; {}", hint.join(" "));
    }
    say(&line);
}

fn say_what_is_left(stopped: Option<&StopReason>, hint: Option<Vec<String>>) {
    if let Some(reason) = stopped
        && !matches!(reason, StopReason::Signal(_))
    {
        say(&format!("cognito-reset: aborted: {reason}"));
    }
    if let Some(hint) = hint {
        say(&hint.join("\n  "));
    }
}

/// Calls per category: all of them, and the rate achieved while the rows
/// ran (`before`: the preflight's calls, made before that).
fn calls_record(
    ctx: &Context,
    region: &str,
    secs: f64,
    before: [u64; Category::ALL.len()],
) -> BTreeMap<String, CallsRecord> {
    let stats = &ctx.stats;
    Category::ALL
        .into_iter()
        .filter(|c| stats.calls(*c) > 0)
        .map(|c| {
            let rate = match ctx.limiters.rate(region, c) {
                Rate::PerSecond(r) => Some(r),
                Rate::Unlimited => None,
            };
            let record = CallsRecord {
                calls: stats.calls(c),
                throttled: stats.throttles(c),
                rate_per_second: rate,
                achieved_per_second: (stats.calls(c) - before[c.index()]) as f64 / secs.max(1e-9),
            };
            (c.name().to_owned(), record)
        })
        .collect()
}

/// The command that resumes the run, then what it cannot carry over.
fn resume_hint(ctx: &Context, read_once: bool) -> Vec<String> {
    let report = ctx.config.report.display().to_string();
    let mut hint = vec![format!("to resume: {}", resume_command(&report))];
    if !ctx.config.client_metadata.is_empty() {
        hint.push("(give the --client-metadata values again in place of <value removed>)".into());
    }
    if ctx
        .config
        .endpoint_url
        .as_deref()
        .is_some_and(crate::endpoint::has_credentials)
    {
        hint.push("(give the --endpoint-url credentials again in place of <redacted>)".into());
    }
    if read_once {
        hint.push("(pipe the same rows to it again: the input was read as a stream)".into());
    }
    hint
}
