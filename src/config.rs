//! Validated settings: the second stage after `cli`'s raw flags.
//!
//! Everything that can be wrong with the flags alone is found here, before
//! any file is opened or any call made; the result is a [`Config`] that the
//! rest of the program trusts.

use std::path::PathBuf;

use crate::cli::RunArgs;
use crate::exit::StartError;
use crate::input::{Format, ReadOptions, check_pool_id};
use crate::limiter::Rate;
use crate::pool::{Mode, Settings};
use crate::retry::Backoff;
use crate::simulator;

/// Where rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file.
    File(String),
    /// Standard input.
    Stdin,
    /// Every user of a pool (ListUsers), optionally filtered.
    Pool {
        /// The pool.
        pool: String,
        /// ListUsers filter.
        filter: Option<String>,
    },
    /// Every user of a group (ListUsersInGroup).
    Group {
        /// The pool.
        pool: String,
        /// The group.
        group: String,
    },
}

/// The rate asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateSpec {
    /// A fixed ceiling.
    Fixed(Rate),
    /// 80 % of GetProvisionedLimit's answer, per region.
    Auto,
}

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Plan, progress, summary.
    Normal,
    /// More detail.
    Verbose,
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
    /// `--rate`.
    pub rate: RateSpec,
    /// How rows are processed.
    pub settings: Settings,
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
    pub call_timeout: std::time::Duration,
}

fn usage(message: impl Into<String>) -> StartError {
    StartError::Usage(message.into())
}

/// Parses `--rate`.
pub fn parse_rate(text: &str) -> Result<RateSpec, StartError> {
    match text {
        "auto" => Ok(RateSpec::Auto),
        "unlimited" => Ok(RateSpec::Fixed(Rate::Unlimited)),
        _ => match text.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(RateSpec::Fixed(Rate::PerSecond(r))),
            _ => Err(usage(format!(
                "--rate {text:?}: expected a positive number, \"auto\" or \"unlimited\""
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

fn utc_stamp() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    now.replace(['-', ':'], "")
}

impl Config {
    /// Checks the flags.
    pub fn from_args(args: &RunArgs) -> Result<Config, StartError> {
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
        if let Some(pool) = &args.user_pool_id {
            check_pool_id(pool).map_err(|m| usage(format!("--user-pool-id: {m}")))?;
        }
        let source = if args.from_pool {
            Source::Pool {
                pool: default_pool.clone().unwrap_or_default(),
                filter: args.filter.clone(),
            }
        } else if let Some(group) = &args.from_group {
            Source::Group {
                pool: default_pool.clone().unwrap_or_default(),
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
        };
        let format = match (&args.format, &source) {
            (Some(f), _) => match f.as_str() {
                "jsonl" => Format::Jsonl,
                "lines" => Format::Lines,
                _ => Format::Csv,
            },
            (None, Source::File(path)) => Format::from_path(path).ok_or_else(|| {
                usage(format!(
                    "{path}: cannot tell the format from the extension; pass --format csv|jsonl|lines"
                ))
            })?,
            (None, _) => Format::Csv,
        };
        if args.concurrency == 0 {
            return Err(usage("--concurrency must be at least 1"));
        }
        if args.max_attempts == 0 {
            return Err(usage("--max-attempts must be at least 1"));
        }
        if !(0.0..=100.0).contains(&args.max_failure_rate) {
            return Err(usage("--max-failure-rate must be between 0 and 100"));
        }
        if !(args.call_timeout > 0.0 && args.call_timeout.is_finite()) {
            return Err(usage("--call-timeout must be a positive number of seconds"));
        }
        let dry = if args.dry_run { ".dry-run" } else { "" };
        let report = match &args.report {
            Some(path) => PathBuf::from(path),
            None => {
                let stem = match &source {
                    Source::File(path) => std::path::Path::new(path)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "input".into()),
                    Source::Stdin => format!("cognito-reset-{}", utc_stamp()),
                    Source::Pool { pool, .. } => pool.clone(),
                    Source::Group { pool, group } => format!("{pool}-{group}"),
                };
                PathBuf::from(format!("{stem}{dry}.report.csv"))
            }
        };
        let verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
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
            rate: parse_rate(&args.rate)?,
            settings: Settings {
                mode: if args.dry_run {
                    Mode::DryRun
                } else {
                    Mode::Reset
                },
                sign_out: args.global_sign_out && !args.dry_run,
                max_attempts: args.max_attempts,
                backoff: Backoff::default(),
                concurrency: args.concurrency,
                client_metadata: parse_metadata(&args.client_metadata)?,
                max_failure_rate: args.max_failure_rate,
            },
            yes: args.yes,
            summary: args.summary.as_ref().map(PathBuf::from),
            verbosity,
            simulate,
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            call_timeout: std::time::Duration::from_secs_f64(args.call_timeout),
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
    fn bad_flags_are_usage_errors() {
        assert!(config(&["x.csv", "--rate", "0"]).is_err());
        assert!(config(&["x.csv", "--rate", "fast"]).is_err());
        assert!(config(&["x.csv", "--concurrency", "0"]).is_err());
        assert!(config(&["x.dat"]).is_err());
        assert!(config(&["x.csv", "--user-pool-id", "nounderscore"]).is_err());
        assert!(config(&["x.csv", "--client-metadata", "novalue"]).is_err());
        assert!(config(&["x.csv", "--resume", "--overwrite"]).is_err());
    }

    #[test]
    fn rate_words_are_understood() {
        assert_eq!(parse_rate("auto").unwrap(), RateSpec::Auto);
        assert_eq!(
            parse_rate("12.5").unwrap(),
            RateSpec::Fixed(Rate::PerSecond(12.5))
        );
        assert_eq!(
            parse_rate("unlimited").unwrap(),
            RateSpec::Fixed(Rate::Unlimited)
        );
    }
}
