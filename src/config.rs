//! Validated settings: the second stage after `cli`'s raw flags.
//!
//! Everything that can be wrong with the flags alone is found here, before
//! any file is opened or any call made; the result is a [`Config`] that the
//! rest of the program trusts.

use std::path::PathBuf;

use std::time::Duration;

use crate::cli::RunArgs;
use crate::exit::StartError;
use crate::input::{Format, ReadOptions, Source, check_pool_id};
use crate::life::Policy;
use crate::limiter::{Category, Rate, Rates};
pub use crate::progress::Verbosity;
use crate::retry::Backoff;
use crate::simulator;

/// `--concurrency` at most: more calls in flight than this only queue up in
/// the limiters.
pub const MAX_CONCURRENCY: usize = 4096;
/// `--max-attempts` at most.
pub const MAX_ATTEMPTS: u32 = 100;
/// `--call-timeout` at most, in seconds.
pub const MAX_CALL_TIMEOUT: f64 = 3600.0;
/// Any rate at most, calls per second: far above any Cognito quota.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Any rate at least, calls per second: one call every 100 s.
pub const MIN_RATE: f64 = 0.01;
/// `--credentials-wait` and `--outage-wait` at most.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The rate asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateSpec {
    /// A fixed ceiling.
    Fixed(Rate),
    /// 80 % of GetProvisionedLimit's answer, per region.
    Auto,
}

/// Everything a run needs to know, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where rows come from.
    pub source: Source,
    /// How to read them.
    pub read: ReadOptions,
    /// The report file.
    pub report: PathBuf,
    /// `--resume`.
    pub resume: bool,
    /// `--overwrite`.
    pub overwrite: bool,
    /// `--rate`, which may be `auto`.
    pub recovery_rate: RateSpec,
    /// The rate of every category (`--rate auto` starts at the default).
    pub rates: Rates,
    /// How rows are treated.
    pub policy: Policy,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// `--client-metadata`, sent with every reset (row values win).
    pub client_metadata: Vec<(String, String)>,
    /// `--max-failure-rate`.
    pub max_failure_rate: f64,
    /// `--yes`.
    pub yes: bool,
    /// `--summary`.
    pub summary: Option<PathBuf>,
    /// Stderr detail.
    pub verbosity: Verbosity,
    /// `--simulate`: the simulator's behaviour.
    pub simulate: Option<simulator::Config>,
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
    /// Per-attempt timeout.
    pub call_timeout: Duration,
    /// `--credentials-wait`.
    pub credentials_wait: Duration,
    /// `--outage-wait`.
    pub outage_wait: Duration,
    /// `--exclude`.
    pub exclude: Option<String>,
    /// `--skip-done`: earlier reports whose done users are skipped.
    pub skip_done: Vec<PathBuf>,
    /// `--reason`.
    pub reason: Option<String>,
    /// `--check-all`.
    pub check_all: bool,
}

fn usage(message: impl Into<String>) -> StartError {
    StartError::Usage(message.into())
}

/// Parses a rate flag: a positive number or "unlimited" (and "auto" for `--rate`).
pub fn parse_rate(flag: &str, text: &str, auto: bool) -> Result<RateSpec, StartError> {
    match text {
        "auto" if auto => Ok(RateSpec::Auto),
        "unlimited" => Ok(RateSpec::Fixed(Rate::Unlimited)),
        _ => match text.trim().parse::<f64>() {
            Ok(r) if (MIN_RATE..=MAX_RATE).contains(&r) => Ok(RateSpec::Fixed(Rate::PerSecond(r))),
            _ => Err(usage(format!(
                "{flag} {}: expected a number of calls per second from {MIN_RATE} to {MAX_RATE}, \
                 or \"unlimited\"{}",
                crate::progress::escape(text),
                if auto { " or \"auto\"" } else { "" }
            ))),
        },
    }
}

fn parse_metadata(pairs: &[String]) -> Result<Vec<(String, String)>, StartError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            // The value is never echoed: it may be a secret.
            _ => Err(usage("--client-metadata expects KEY=VALUE")),
        })
        .collect()
}

/// What tells apart the default reports of standard input: the UTC time to
/// the millisecond and the process id (`20250314T091500.123Z-4242`), so that
/// runs started together (two cron jobs in the same second) never pick the
/// same name and refuse each other.
fn stream_stamp() -> String {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    format!("{}-{}", now.replace(['-', ':'], ""), std::process::id())
}

fn source_of(args: &RunArgs, default_pool: Option<&String>) -> Result<Source, StartError> {
    let pool = || default_pool.cloned().unwrap_or_default();
    if args.filter.as_deref().is_some_and(|f| f.trim().is_empty()) {
        // An unset variable in a scheduled job must not widen the run to
        // every user of the pool.
        return Err(usage(
            "--filter is empty; leave it out to list every user of the pool",
        ));
    }
    if args.filter.is_some() && !args.from_pool {
        // Ignored, it would reset the users the operator filtered out.
        return Err(usage(
            "--filter narrows --from-pool only (ListUsers): an input file or standard input is \
             reset row by row, and a group's listing (ListUsersInGroup) takes no filter; list \
             the users to reset instead",
        ));
    }
    Ok(if args.from_pool {
        Source::Pool {
            pool: pool(),
            filter: args.filter.clone(),
        }
    } else if let Some(group) = &args.from_group {
        Source::Group {
            pool: pool(),
            group: group.clone(),
        }
    } else {
        match args.input.as_deref() {
            Some("-") => Source::Stdin,
            Some(path) => Source::File(path.to_owned()),
            None => {
                return Err(usage(
                    "no INPUT given (a file, -, --from-pool or --from-group)",
                ));
            }
        }
    })
}

fn format_of(args: &RunArgs, source: &Source) -> Result<Format, StartError> {
    match args.format.as_deref() {
        Some("jsonl") => Ok(Format::Jsonl),
        Some("lines") => Ok(Format::Lines),
        Some(_) => Ok(Format::Csv),
        None => source.format().ok_or_else(|| {
            usage(format!(
                "{}: cannot tell the format from the extension; pass --format csv|jsonl|lines",
                crate::progress::escape(&source.named().1.unwrap_or_default())
            ))
        }),
    }
}

fn default_report(source: &Source, dry_run: bool) -> PathBuf {
    let dry = if dry_run { ".dry-run" } else { "" };
    let stem = source.report_stem(&stream_stamp());
    PathBuf::from(format!("{stem}{dry}.report.csv"))
}

fn check_numbers(args: &RunArgs) -> Result<(), StartError> {
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(usage(format!(
            "--concurrency must be between 1 and {MAX_CONCURRENCY}"
        )));
    }
    if !(1..=MAX_ATTEMPTS).contains(&args.max_attempts) {
        return Err(usage(format!(
            "--max-attempts must be between 1 and {MAX_ATTEMPTS}"
        )));
    }
    if args.skip_done.len() > usize::from(u8::MAX) {
        return Err(usage(format!(
            "--skip-done names at most {} reports",
            u8::MAX
        )));
    }
    if !(0.0..=100.0).contains(&args.max_failure_rate) {
        return Err(usage(
            "--max-failure-rate must be a percentage between 0 and 100",
        ));
    }
    if !(args.call_timeout > 0.0 && args.call_timeout <= MAX_CALL_TIMEOUT) {
        return Err(usage(format!(
            "--call-timeout must be a number of seconds above 0 and at most {MAX_CALL_TIMEOUT}"
        )));
    }
    Ok(())
}

/// `--credentials-wait` and `--outage-wait`: human durations (`10m`, `90s`,
/// `0`), at most a day.
fn parse_wait(flag: &str, text: &str) -> Result<Duration, StartError> {
    let parsed = match text.trim() {
        "0" => Ok(Duration::ZERO),
        t => humantime::parse_duration(t),
    };
    match parsed {
        Ok(d) if d <= MAX_WAIT => Ok(d),
        _ => Err(usage(format!(
            "{flag} {}: expected a duration such as 10m, 90s or 0, at most 24h",
            crate::progress::escape(text)
        ))),
    }
}

fn rates_of(args: &RunArgs) -> Result<(RateSpec, Rates), StartError> {
    let recovery = parse_rate("--rate", &args.rate, true)?;
    let mut rates = Rates::default();
    if let RateSpec::Fixed(r) = recovery {
        rates.set(Category::UserAccountRecovery, r);
    }
    for (flag, text, category) in [
        ("--check-rate", &args.check_rate, Category::UserRead),
        ("--sign-out-rate", &args.sign_out_rate, Category::UserUpdate),
        ("--list-rate", &args.list_rate, Category::UserList),
    ] {
        if let RateSpec::Fixed(r) = parse_rate(flag, text, false)? {
            rates.set(category, r);
        }
    }
    Ok((recovery, rates))
}

/// The files a run reads and writes must be distinct: a summary written over
/// the input would destroy the list of users it is resetting.
/// Whether two paths name the same file: the same once `.` parts are
/// dropped and the directory holding each is resolved (`d/../x` is `x`,
/// whether `x` exists yet or not), or the same device and inode.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let normal = |p: &std::path::Path| -> PathBuf {
        let lexical: PathBuf = p
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
        resolved_parent(p).unwrap_or(lexical)
    };
    let identity = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    normal(a) == normal(b) || (identity(a).is_some() && identity(a) == identity(b))
}

/// `p` with the directory holding it resolved (links, `..`), its last part
/// kept as written: a file that does not exist yet is still named
/// one way. `None` when the directory cannot be resolved.
fn resolved_parent(p: &std::path::Path) -> Option<PathBuf> {
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// The files a run with these flags reads and writes, by what the flags call
/// them; the report as it would be (given, or the default), when it can be
/// told.
pub fn files_named(args: &RunArgs) -> Vec<(&'static str, PathBuf)> {
    let report = args.report.as_ref().map(PathBuf::from).or_else(|| {
        let pool = args.user_pool_id.clone();
        let source = source_of(args, pool.as_ref()).ok()?;
        Some(default_report(&source, args.dry_run))
    });
    let journal = report.as_deref().map(crate::journal::path_for);
    [
        ("--report", report),
        ("the report's journal", journal),
        ("--summary", args.summary.as_ref().map(PathBuf::from)),
        (
            "the input",
            // Standard input is the file behind fd 0 (`--exclude /dev/stdin`).
            args.input
                .as_ref()
                .map(|i| PathBuf::from(if i == "-" { "/dev/stdin" } else { i })),
        ),
        ("--exclude", args.exclude.as_ref().map(PathBuf::from)),
    ]
    .into_iter()
    .chain(
        args.skip_done
            .iter()
            .map(|p| ("--skip-done", Some(PathBuf::from(p)))),
    )
    .filter_map(|(name, path)| Some((name, path?)))
    .collect()
}

fn check_distinct(report: &std::path::Path, args: &RunArgs) -> Result<(), StartError> {
    let mut named = files_named(args);
    named.retain(|(name, _)| !matches!(*name, "--report" | "the report's journal"));
    named.insert(
        0,
        ("the report's journal", crate::journal::path_for(report)),
    );
    named.insert(0, ("--report", report.to_path_buf()));
    for (i, (a_name, a)) in named.iter().enumerate() {
        for (b_name, b) in &named[i + 1..] {
            if same_file(a, b) {
                return Err(usage(format!(
                    "{a_name} and {b_name} are the same file ({}); give each its own path",
                    crate::progress::escape(&a.display().to_string())
                )));
            }
        }
    }
    Ok(())
}

/// Word flags that must not be empty or malformed.
fn check_words(args: &RunArgs) -> Result<(), StartError> {
    let region_ok = |r: &str| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if args.region.as_deref().is_some_and(|r| !region_ok(r)) {
        return Err(usage(
            "--region expects an AWS region name such as eu-west-1",
        ));
    }
    if args.summary.as_deref() == Some("") {
        return Err(usage("--summary needs a path"));
    }
    if args.report.as_deref() == Some("") {
        return Err(usage("--report needs a path"));
    }
    if let Some(url) = &args.endpoint_url {
        crate::endpoint::check(url).map_err(usage)?;
    }
    Ok(())
}

/// How rows are treated. Whether refused resets can be classified is only
/// known after the preflight's probe; until then it is assumed.
fn policy_of(args: &RunArgs) -> Policy {
    Policy {
        dry_run: args.dry_run,
        sign_out: args.global_sign_out,
        disable_unreachable: args.unresettable == "disable",
        resend_unchecked: args.resend_unchecked,
        max_attempts: args.max_attempts,
        classify: true,
    }
}

fn verbosity_of(args: &RunArgs) -> Verbosity {
    match (args.quiet, args.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        _ => Verbosity::Calls,
    }
}

/// Simulator knobs only act with `--simulate`: given without it, they would
/// test nothing and say nothing.
fn check_knobs(args: &RunArgs) -> Result<(), StartError> {
    if args.simulate {
        return Ok(());
    }
    let defaults = <crate::cli::Cli as clap::Parser>::try_parse_from(["cognito-reset", "-"])
        .map(|cli| format!("{:?}", cli.run.sim))
        .unwrap_or_default();
    if format!("{:?}", args.sim) != defaults {
        return Err(usage(
            "the --sim-* options configure the built-in simulator and need --simulate",
        ));
    }
    Ok(())
}

impl Config {
    /// Checks the flags.
    pub fn from_args(args: &RunArgs) -> Result<Config, StartError> {
        check_knobs(args)?;
        let simulate = if args.simulate {
            Some(simulator::Config::from_knobs(&args.sim).map_err(usage)?)
        } else {
            None
        };
        let default_pool = args.user_pool_id.clone().or_else(|| {
            simulate
                .as_ref()
                .map(|_| simulator::DEFAULT_POOL.to_owned())
        });
        check_words(args)?;
        if let Some(pool) = &args.user_pool_id {
            check_pool_id(pool).map_err(|m| usage(format!("--user-pool-id: {m}")))?;
        }
        let source = source_of(args, default_pool.as_ref())?;
        let format = format_of(args, &source)?;
        check_numbers(args)?;
        let (recovery_rate, rates) = rates_of(args)?;
        let report = match &args.report {
            Some(path) => PathBuf::from(path),
            None => default_report(&source, args.dry_run),
        };
        check_distinct(&report, args)?;
        Ok(Config {
            read: ReadOptions {
                format,
                username_column: args.username_column.clone(),
                default_pool,
            },
            source,
            report,
            resume: args.resume,
            overwrite: args.overwrite,
            recovery_rate,
            rates,
            policy: policy_of(args),
            concurrency: args.concurrency,
            backoff: Backoff::default(),
            client_metadata: parse_metadata(&args.client_metadata)?,
            max_failure_rate: args.max_failure_rate,
            yes: args.yes,
            summary: args.summary.as_ref().map(PathBuf::from),
            verbosity: verbosity_of(args),
            simulate,
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            call_timeout: Duration::from_secs_f64(args.call_timeout),
            credentials_wait: parse_wait("--credentials-wait", &args.credentials_wait)?,
            outage_wait: parse_wait("--outage-wait", &args.outage_wait)?,
            exclude: args.exclude.clone(),
            skip_done: args.skip_done.iter().map(PathBuf::from).collect(),
            reason: args.reason.clone(),
            check_all: args.check_all,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, StartError> {
        let cli = Cli::try_parse_from(std::iter::once("cognito-reset").chain(args.iter().copied()))
            .map_err(|e| usage(e.to_string()))?;
        Config::from_args(&cli.run)
    }

    #[test]
    fn report_defaults_to_the_input_stem_in_the_current_dir() {
        let c = config(&["some/dir/users.csv", "--user-pool-id", "eu-west-1_A"]).unwrap();
        assert_eq!(c.report, PathBuf::from("users.report.csv"));
        let c = config(&["users.jsonl", "--dry-run", "--simulate"]).unwrap();
        assert_eq!(c.report, PathBuf::from("users.dry-run.report.csv"));
        assert_eq!(c.read.format, Format::Jsonl);
        assert_eq!(
            c.read.default_pool.as_deref(),
            Some(simulator::DEFAULT_POOL)
        );
    }

    #[test]
    fn standard_input_reports_are_named_by_the_millisecond_and_the_process() {
        let c = config(&["-", "--user-pool-id", "eu-west-1_A"]).unwrap();
        let name = c.report.display().to_string();
        let stamp = name
            .strip_prefix("cognito-reset-")
            .and_then(|n| n.strip_suffix(&format!("-{}.report.csv", std::process::id())))
            .unwrap_or_else(|| panic!("{name}"));
        // 20250314T091500.123Z
        assert_eq!(stamp.len(), 20, "{name}");
        assert_eq!(
            (&stamp[8..9], &stamp[15..16], &stamp[19..]),
            ("T", ".", "Z")
        );
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(config(&["x.csv", "--rate", "0"]).is_err());
        assert!(config(&["x.csv", "--rate", "fast"]).is_err());
        assert!(config(&["x.csv", "--rate", "NaN"]).is_err());
        assert!(config(&["x.csv", "--rate", "1e300"]).is_err());
        assert!(config(&["x.csv", "--rate", "1e-300"]).is_err());
        assert!(config(&["x.csv", "--check-rate", "auto"]).is_err());
        assert!(config(&["x.csv", "--sign-out-rate", "-3"]).is_err());
        assert!(config(&["x.csv", "--call-timeout", "1e300"]).is_err());
        assert!(config(&["x.csv", "--call-timeout", "nan"]).is_err());
        assert!(config(&["x.csv", "--concurrency", "100000000"]).is_err());
        assert!(config(&["x.csv", "--max-attempts", "4000000000"]).is_err());
        assert!(config(&["x.csv", "--max-failure-rate", "inf"]).is_err());
        assert!(config(&["x.csv", "--concurrency", "0"]).is_err());
        assert!(config(&["x.csv", "--summary", "x.report.csv"]).is_err());
        assert!(config(&["x.csv", "--report", "./x.csv"]).is_err());
        assert!(config(&["x.csv", "--report", "r.csv", "--summary", "r.csv.journal"]).is_err());
        assert!(config(&["x.dat"]).is_err());
        assert!(config(&["x.csv", "--user-pool-id", "nounderscore"]).is_err());
        assert!(config(&["x.csv", "--client-metadata", "novalue"]).is_err());
        assert!(config(&["x.csv", "--resume", "--overwrite"]).is_err());
        assert!(config(&["x.csv", "--credentials-wait", "soon"]).is_err());
        assert!(config(&["x.csv", "--outage-wait", "-5m"]).is_err());
        assert!(config(&["x.csv", "--outage-wait", "400h"]).is_err());
    }

    #[test]
    fn waits_are_human_durations() {
        let c = config(&["x.csv"]).unwrap();
        assert_eq!(c.credentials_wait, Duration::from_secs(600));
        assert_eq!(c.outage_wait, Duration::from_secs(900));
        let c = config(&["x.csv", "--credentials-wait", "0", "--outage-wait", "90s"]).unwrap();
        assert_eq!(c.credentials_wait, Duration::ZERO);
        assert_eq!(c.outage_wait, Duration::from_secs(90));
    }

    #[test]
    fn rate_words_are_understood() {
        assert_eq!(parse_rate("--rate", "auto", true).unwrap(), RateSpec::Auto);
        assert_eq!(
            parse_rate("--rate", "12.5", true).unwrap(),
            RateSpec::Fixed(Rate::PerSecond(12.5))
        );
        assert_eq!(
            parse_rate("--rate", "unlimited", true).unwrap(),
            RateSpec::Fixed(Rate::Unlimited)
        );
        let c = config(&["x.csv", "--check-rate", "7", "--list-rate", "unlimited"]).unwrap();
        assert_eq!(c.rates.get(Category::UserRead), Rate::PerSecond(7.0));
        assert_eq!(c.rates.get(Category::UserList), Rate::Unlimited);
        assert_eq!(c.rates.get(Category::UserUpdate), Rate::PerSecond(20.0));
        assert_eq!(
            c.rates.get(Category::UserAccountRecovery),
            Rate::PerSecond(25.0)
        );
    }
}
