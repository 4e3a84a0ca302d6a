//! One run, start to finish: the only place that knows the order of things.
//!
//! flags → settings → (simulator) → survey of the input → report/journal
//! checks → credentials → preflight and rates → plan → confirmation →
//! pipeline → summary → exit code. Everything before the confirmation is
//! read-only: no reset call can be sent before the operator said yes.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, RunArgs, SimulatorArgs};
use crate::cognito::{Aws, Class, Connection};
use crate::config::{Config, RateSpec, Source, Verbosity};
use crate::exit::{
    EXIT_ABORTED, EXIT_CANNOT_START, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROW_FAILURES, StartError,
};
use crate::input::{Item, ItemReader, Row, Survey, region_of_pool};
use crate::limiter::{AUTO_RATE_SHARE, DEFAULT_RATE, Limiter, Rate};
use crate::pool::{Pipeline, Regions, ResumeState, Stop, StopReason, Uncertain};
use crate::progress::{Display, Stats};
use crate::report::ReportWriter;
use crate::simulator::{self, Simulator};
use crate::summary::Summary;
use crate::{input, journal, pool, progress, report};

/// Items waiting between the reader and the dispatcher at most: enough to
/// keep workers busy, small enough that memory does not grow with the input.
const ITEM_QUEUE: usize = 1024;
/// Cognito's default sender delivers this many emails a day per account.
pub const COGNITO_DEFAULT_EMAIL_PER_DAY: u64 = 50;
/// ListUsers pages per second: each page holds up to 60 users, so this feeds
/// far more rows than any reset rate while leaving the UserList quota to others.
const LIST_PAGES_PER_SECOND: f64 = 5.0;

/// Parses nothing, runs everything; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let result = match cli.command {
        Some(Command::Simulator(args)) => serve_simulator(args).await,
        None => run(cli.run).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cognito-reset: {e}");
            EXIT_CANNOT_START
        }
    }
}

async fn serve_simulator(args: SimulatorArgs) -> Result<i32, StartError> {
    let config = simulator::Config::from_knobs(&args.sim).map_err(StartError::Usage)?;
    let sim = Simulator::start(&args.listen, config)
        .await
        .map_err(|e| StartError::io(&args.listen, e))?;
    println!("simulator listening on {}", sim.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(EXIT_OK)
}

fn say(config: &Config, text: impl AsRef<str>) {
    if config.verbosity >= Verbosity::Normal {
        eprintln!("{}", text.as_ref());
    }
}

/// The fingerprint a report's journal keeps, to tell a foreign input.
fn fingerprint(config: &Config, survey: Option<&Survey>) -> String {
    let pool = config.read.default_pool.as_deref().unwrap_or("-");
    match (&config.source, survey) {
        (Source::File(_), Some(s)) => format!("sha256:{} pool:{pool}", s.sha256),
        (Source::Pool { pool, filter }, _) => {
            format!("pool:{pool} filter:{}", filter.as_deref().unwrap_or(""))
        }
        (Source::Group { pool, group }, _) => format!("pool:{pool} group:{group}"),
        _ => format!("stdin pool:{pool}"),
    }
}

/// The command line to continue this run.
fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args()
        .filter(|a| a != "--overwrite" && a != "--resume")
        .collect();
    args.push("--resume".into());
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

fn format_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", seconds)
    }
}

async fn run(args: RunArgs) -> Result<i32, StartError> {
    let config = Config::from_args(&args)?;
    let dry_run = config.settings.mode == pool::Mode::DryRun;
    let sim = match &config.simulate {
        Some(sim_config) => Some(
            Simulator::start("127.0.0.1:0", sim_config.clone())
                .await
                .map_err(|e| StartError::io("simulator", e))?,
        ),
        None => None,
    };

    // The input, surveyed once when it is a file: rows, pools, fingerprint.
    let survey = match &config.source {
        Source::File(path) => Some(input::survey(path, &config.read)?),
        _ => None,
    };
    let fingerprint = fingerprint(&config, survey.as_ref());

    // The report: refuse to clobber; on --resume, learn what is done.
    let report_path = config.report.clone();
    let report_display = report_path.display().to_string();
    let journal_path = journal::path_for(&report_path);
    let exists = report_path.exists();
    if exists && !config.resume && !config.overwrite {
        return Err(StartError::ReportExists(report_display));
    }
    let append = config.resume && exists;
    let mut resume = ResumeState::default();
    let mut resume_note = None;
    if append {
        let previous = report::read_previous(&report_path)?;
        if previous.records > 0 && previous.sign_out_columns != config.settings.sign_out {
            return Err(StartError::ForeignReport(format!(
                "{report_display} was written {} --global-sign-out; resume with the same flags",
                if previous.sign_out_columns {
                    "with"
                } else {
                    "without"
                }
            )));
        }
        match journal::read(&journal_path)? {
            Some(j) => {
                if let Some(theirs) = &j.fingerprint
                    && *theirs != fingerprint
                {
                    return Err(StartError::ForeignReport(format!(
                        "{report_display} belongs to a different input or pool \
                         (journal fingerprint {theirs}, this run {fingerprint}); \
                         resume with the original input, or choose another --report"
                    )));
                }
                let uncertain: std::collections::HashSet<u64> = j
                    .intents
                    .into_iter()
                    .filter(|k| !previous.done.contains(k))
                    .collect();
                resume_note = Some(format!(
                    "resume: {} users already reset; {} to check with AdminGetUser before any call{}",
                    previous.done.len(),
                    uncertain.len(),
                    if previous.torn_line_removed {
                        "; a torn last line was cut"
                    } else {
                        ""
                    }
                ));
                resume.uncertain = Uncertain::Keys(uncertain);
            }
            None if !dry_run => {
                resume_note = Some(format!(
                    "resume: {} users already reset; the journal {} is missing, so every other \
                     row is checked with AdminGetUser before its reset",
                    previous.done.len(),
                    journal_path.display()
                ));
                resume.uncertain = Uncertain::All;
            }
            None => {}
        }
        resume.done = previous.done;
    }

    // AWS (or the simulator).
    let connection = Connection {
        profile: config.profile.clone(),
        endpoint_url: sim
            .as_ref()
            .map(Simulator::url)
            .or(config.endpoint_url.clone()),
        dummy_credentials: sim.is_some(),
        attempt_timeout: config.call_timeout,
    };
    let aws = Aws::load(&connection).await?;
    let mut pools: BTreeSet<String> = survey.as_ref().map(|s| s.pools.clone()).unwrap_or_default();
    if survey.is_none()
        && let Some(pool) = &config.read.default_pool
    {
        pools.insert(pool.clone());
    }
    let region_of = |pool: &str| -> String {
        config
            .region
            .clone()
            .unwrap_or_else(|| region_of_pool(pool).to_owned())
    };
    let regions: BTreeSet<String> = pools.iter().map(|p| region_of(p)).collect();

    // Rates, per region.
    let mut lines = Vec::new();
    let fallback_rate = match config.rate {
        RateSpec::Fixed(r) => r,
        RateSpec::Auto => Rate::PerSecond(DEFAULT_RATE),
    };
    let region_map = Regions::new(aws.clone(), fallback_rate, config.region.clone());
    let mut rate_sum = 0.0;
    for region in &regions {
        let rate = match config.rate {
            RateSpec::Fixed(r) => r,
            RateSpec::Auto => match aws.client(region).recovery_rate_limit().await {
                Ok(limit) => {
                    let rate = (limit * AUTO_RATE_SHARE).max(1.0);
                    lines.push(format!(
                        "  rate {region}: auto = {rate:.1}/s (80% of the provisioned {limit:.0}/s UserAccountRecovery quota)"
                    ));
                    Rate::PerSecond(rate)
                }
                Err(e) => {
                    lines.push(format!(
                        "  rate {region}: auto unavailable (GetProvisionedLimit: {}: {}); using the default {DEFAULT_RATE}/s",
                        e.code, e.message
                    ));
                    Rate::PerSecond(DEFAULT_RATE)
                }
            },
        };
        if let Rate::PerSecond(r) = rate {
            rate_sum += r;
        }
        region_map.region(region, rate);
    }

    // Preflight: each pool exists, and how it sends email.
    let rows_to_call = survey
        .as_ref()
        .map(|s| s.valid.saturating_sub(resume.done.len() as u64));
    for pool in &pools {
        let cognito = aws.client(&region_of(pool));
        match cognito.describe_pool(pool).await {
            Ok(info) => {
                if info.email_sending_account.as_deref() == Some("COGNITO_DEFAULT") && !dry_run {
                    let many = rows_to_call.is_none_or(|n| n > COGNITO_DEFAULT_EMAIL_PER_DAY);
                    if many {
                        lines.push(format!(
                            "  WARNING {pool}: sends email with Cognito's default sender, which delivers \
                             at most {COGNITO_DEFAULT_EMAIL_PER_DAY} emails a day per account; a bulk reset \
                             needs Amazon SES (the run stops when the daily limit is hit)"
                        ));
                    }
                }
            }
            Err(e) if e.class == Class::PoolFatal => {
                return Err(StartError::Aws(format!(
                    "user pool {pool} does not exist ({}: {}); nothing was reset",
                    e.code, e.message
                )));
            }
            Err(e) if e.class == Class::RunFatal => lines.push(format!(
                "  note {pool}: DescribeUserPool is not permitted ({}); email configuration not checked",
                e.code
            )),
            Err(e) => lines.push(format!(
                "  note {pool}: DescribeUserPool failed ({}: {}); email configuration not checked",
                e.code, e.message
            )),
        }
    }

    // The plan.
    let verb = if dry_run {
        "DRY RUN (AdminGetUser only, nothing changes)"
    } else {
        "RESET PASSWORDS"
    };
    let mut plan = vec![format!("plan: {verb}")];
    match &config.source {
        Source::File(path) => {
            let s = survey.as_ref().expect("files are surveyed");
            plan.push(format!(
                "  input: {path}: {} rows, {} valid, {} invalid",
                s.rows,
                s.valid,
                s.rows - s.valid
            ));
        }
        Source::Stdin => plan.push("  input: stdin (row count known as it is read)".into()),
        Source::Pool { pool, filter } => plan.push(format!(
            "  input: every user of {pool}{}",
            filter
                .as_ref()
                .map(|f| format!(" matching {f}"))
                .unwrap_or_default()
        )),
        Source::Group { pool, group } => {
            plan.push(format!("  input: every user of group {group} in {pool}"))
        }
    }
    plan.push(format!(
        "  pools: {}",
        if pools.is_empty() {
            "none".into()
        } else {
            pools.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    ));
    plan.push(format!(
        "  regions: {}",
        if regions.is_empty() {
            "none".into()
        } else {
            regions.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    ));
    let rate_text = match config.rate {
        RateSpec::Fixed(Rate::PerSecond(r)) => format!("{r}/s per region"),
        RateSpec::Fixed(Rate::Unlimited) => "unlimited".into(),
        RateSpec::Auto => "auto".into(),
    };
    plan.push(format!(
        "  rate: {rate_text}, concurrency {}, max attempts {}",
        config.settings.concurrency, config.settings.max_attempts
    ));
    plan.extend(lines);
    if let Some(note) = &resume_note {
        plan.push(format!("  {note}"));
    }
    match (rows_to_call, rate_sum > 0.0) {
        (Some(n), true) => plan.push(format!(
            "  estimated duration: {} ({n} calls at {rate_sum:.1}/s)",
            format_duration(n as f64 / rate_sum)
        )),
        (Some(n), false) => plan.push(format!("  estimated duration: {n} calls, unpaced")),
        (None, _) => plan.push("  estimated duration: unknown until the input is read".into()),
    }
    plan.push(format!(
        "  report: {report_display}{}",
        if append { " (appending)" } else { "" }
    ));
    if let Some(sim) = &sim {
        plan.push(format!("  endpoint: built-in simulator at {}", sim.url()));
    }
    say(&config, plan.join("\n"));

    // Confirmation: no reset call before the answer.
    if !dry_run && config.simulate.is_none() && !config.yes {
        let interactive = std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal()
            && config.source != Source::Stdin;
        if !interactive {
            return Err(StartError::NotConfirmed(
                "not on a terminal, so cannot ask for confirmation: pass --yes to reset without asking"
                    .into(),
            ));
        }
        if !ask("Reset these users' passwords?") {
            return Err(StartError::NotConfirmed(
                "not confirmed; nothing was reset".into(),
            ));
        }
    }

    // Files: report, journal.
    let writer = ReportWriter::open(&report_path, append, config.settings.sign_out)?;
    let journal = if dry_run {
        None
    } else {
        Some(journal::open(&journal_path, &fingerprint, append)?)
    };
    let (journal_handle, journal_file) = match journal {
        Some((h, f)) => (Some(h), Some(f)),
        None => (None, None),
    };

    // Ctrl-C: first stops dispatching, second exits at once.
    let stop = Arc::new(Stop::default());
    {
        let stop = stop.clone();
        let quiet = config.verbosity == Verbosity::Quiet;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop(StopReason::Interrupted);
                if !quiet {
                    eprintln!(
                        "\ninterrupted: finishing calls in flight, recording the rest as cancelled \
                         (Ctrl-C again to exit at once)"
                    );
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(EXIT_INTERRUPTED);
                }
            }
        });
    }

    // Rows in.
    let (items_tx, items_rx) = mpsc::channel(ITEM_QUEUE);
    match &config.source {
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| StartError::io(path, e))?;
            let reader = std::io::BufReader::with_capacity(64 * 1024, file);
            feed(ItemReader::new(reader, &config.read, path)?, items_tx);
        }
        Source::Stdin => {
            let reader = std::io::BufReader::new(std::io::stdin());
            feed(ItemReader::new(reader, &config.read, "stdin")?, items_tx);
        }
        Source::Pool { pool, .. } | Source::Group { pool, .. } => {
            let (group, filter) = match &config.source {
                Source::Group { group, .. } => (Some(group.clone()), None),
                Source::Pool { filter, .. } => (None, filter.clone()),
                _ => (None, None),
            };
            tokio::spawn(list_users(
                region_map.for_pool(pool).cognito.clone(),
                pool.clone(),
                group,
                filter,
                items_tx,
                stop.clone(),
                config.settings.max_attempts,
            ));
        }
    }

    let stats = Arc::new(Stats::default());
    let display = if config.verbosity == Verbosity::Quiet {
        Display::Quiet
    } else if std::io::stderr().is_terminal() && config.verbosity == Verbosity::Normal {
        Display::Bar
    } else {
        Display::Log
    };
    let progress_done = CancellationToken::new();
    let progress_task = tokio::spawn(progress::show(
        display,
        stats.clone(),
        survey.as_ref().map(|s| s.rows),
        progress_done.clone(),
    ));

    let started = Instant::now();
    let pipeline = Pipeline {
        settings: config.settings.clone(),
        regions: region_map,
        resume,
        journal: journal_handle,
        stats: stats.clone(),
        stop: stop.clone(),
        verbose: config.verbosity == Verbosity::Verbose,
    };
    let mut finished = pool::execute(items_rx, pipeline, writer).await;
    let elapsed = started.elapsed();
    progress_done.cancel();
    let _ = progress_task.await;

    // Every outcome is in the report: sync it, then shrink the journal.
    let synced = finished.write_error.is_none() && finished.writer.sync().is_ok();
    if let Some(journal_file) = journal_file
        && let Err(e) = journal_file.finish(synced, &finished.uncertain)
    {
        eprintln!("cognito-reset: warning: cannot rewrite the journal: {e}");
    }

    let reason = stop.reason().cloned();
    let code = match &reason {
        Some(StopReason::Interrupted) => EXIT_INTERRUPTED,
        Some(_) => EXIT_ABORTED,
        None if finished.tally.any_failure() => EXIT_ROW_FAILURES,
        None => EXIT_OK,
    };
    let mut summary = Summary::new(
        finished.tally.clone(),
        Stats::get(&stats.throttled),
        elapsed,
    );
    summary.dry_run = dry_run;
    summary.stopped = reason.as_ref().map(ToString::to_string);
    summary.exit_code = code;
    summary.report = report_display;
    say(&config, summary.render());
    if let Some(reason) = &reason {
        if !matches!(reason, StopReason::Interrupted) {
            eprintln!("cognito-reset: aborted: {reason}");
        }
        eprintln!("to resume: {}", resume_command());
    }
    if let Some(path) = &config.summary {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serializes");
        if let Err(e) = std::fs::write(path, json) {
            eprintln!(
                "cognito-reset: cannot write the summary {}: {e}",
                path.display()
            );
        }
    }
    Ok(code)
}

/// Reads items on a thread of its own (file and stdin reads block) into the
/// bounded queue; the thread ends at end of input or when the pipeline is gone.
fn feed<R: BufRead + Send + 'static>(reader: ItemReader<R>, tx: mpsc::Sender<Item>) {
    std::thread::spawn(move || {
        for item in reader {
            if tx.blocking_send(item).is_err() {
                return;
            }
        }
    });
}

/// Streams a pool's (or group's) users into the queue, page by page, paced
/// and retried like any other call. A listing that cannot go on stops the run.
async fn list_users(
    cognito: crate::cognito::Cognito,
    pool: String,
    group: Option<String>,
    filter: Option<String>,
    tx: mpsc::Sender<Item>,
    stop: Arc<Stop>,
    max_attempts: u32,
) {
    let limiter = Limiter::new(Rate::PerSecond(LIST_PAGES_PER_SECOND));
    let backoff = crate::retry::Backoff::default();
    let mut token = None;
    let mut position = 0u64;
    loop {
        let mut failures = 0;
        let page = loop {
            if stop.is_stopped() {
                return;
            }
            let sent = limiter.acquire().await;
            match cognito
                .list_users(&pool, group.as_deref(), filter.as_deref(), token.clone())
                .await
            {
                Ok(page) => break page,
                Err(e) => {
                    if e.class == Class::Throttled {
                        limiter.throttled(sent);
                    }
                    failures += 1;
                    let transient = matches!(e.class, Class::Throttled | Class::Retryable);
                    if !transient || failures >= max_attempts {
                        stop.stop(StopReason::Fatal {
                            code: e.code,
                            message: format!("listing the users of {pool} failed: {}", e.message),
                        });
                        return;
                    }
                    tokio::time::sleep(backoff.delay(failures)).await;
                }
            }
        };
        for username in page.usernames {
            position += 1;
            let item = Item::Row(Row {
                line: position,
                username,
                pool: pool.clone(),
                metadata: Vec::new(),
            });
            if tx.send(item).await.is_err() {
                return;
            }
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(4.04), "4.0s");
        assert_eq!(format_duration(125.0), "2m05s");
        assert_eq!(format_duration(20000.0), "5h33m20s");
    }
}
