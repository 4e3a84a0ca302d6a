//! Raw command-line flags, as clap parses them. `config` turns them into
//! validated settings; nothing here is interpreted.

use clap::{Args, Parser, Subcommand};

use crate::shutdown::ClosedAtStart;
pub use crate::simulator::SimKnobs;

/// Examples shown by `--help`.
const EXAMPLES: &str = "Examples:
  Rehearse on the built-in simulator (no AWS account needed; it asks like a real run):
    cognito-reset users.csv --simulate
  Plan only: validate every row and predict each outcome, change nothing:
    cognito-reset users.csv --user-pool-id eu-west-1_AbC123 --dry-run
  Post-breach forced reset: sign everyone out, disable who a reset cannot reach,
  never touch the break-glass accounts, keep the audit record:
    cognito-reset users.csv --user-pool-id eu-west-1_AbC123 --global-sign-out \\
      --unresettable disable --exclude breakglass.txt --reason INC-1234 --summary run.json
  Every enabled user of a pool, unattended (cron, CI):
    cognito-reset --from-pool --user-pool-id eu-west-1_AbC123 --filter 'status = \"Enabled\"' \\
      --yes --quiet --summary summary.json
  After a crash, Ctrl-C or SIGTERM: continue where it stopped:
    cognito-reset users.csv --user-pool-id eu-west-1_AbC123 --resume

Exit codes: 0 every row reset, disabled, skipped, excluded or a duplicate, and every sign-out done;
1 some rows failed or were invalid, a sign-out failed, or users keep a working password;
2 could not start (nothing was changed); 3 aborted; 4 the summary (audit record) could not
be written; 128+N stopped by signal N
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). The README has the full manual.";

/// Force password resets for many Amazon Cognito users at once.
#[derive(Debug, Parser)]
#[command(
    name = "cognito-reset",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_long_help = EXAMPLES,
    after_help = "Exit codes: 0 every row reset, disabled, skipped, excluded or a duplicate; \
1 some rows failed or were invalid, a sign-out failed, or users keep a working password; \
2 could not start; 3 aborted; 4 the summary could not be written; 128+N stopped by signal N \
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."
)]
pub struct Cli {
    /// Run the built-in Cognito simulator as a server.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The reset run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Cognito simulator (AWS JSON 1.1) for other tools and tests.
    Simulator(Box<SimulatorArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on standard output.
    Man,
    /// Check that a report is as cognito-reset wrote it (its hash chain,
    /// its journal's checkpoint, a summary's record of it) and print what
    /// it holds. Exit 0 only if nothing was changed, added, removed or
    /// reordered; 1 if something was; 2 if it cannot be read; 3 if it holds
    /// together but no journal checkpoint or summary vouches for its end.
    Verify(VerifyArgs),
}

/// `cognito-reset verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The report to check.
    #[arg(value_name = "REPORT")]
    pub report: String,
    /// A summary written by a run of this report (`--summary`): the report
    /// must hold the records it counted, ending in the hash it recorded.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<String>,
}

/// Prints the completion script for `shell`; returns the exit code.
pub fn completions(shell: clap_complete::Shell, closed: ClosedAtStart) -> i32 {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "cognito-reset", &mut out);
    print_output("the completion script", &out, closed)
}

/// Prints the manual page; returns the exit code.
pub fn man_page(closed: ClosedAtStart) -> i32 {
    let command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    if clap_mangen::Man::new(command).render(&mut out).is_err() {
        return crate::exit::EXIT_CANNOT_START;
    }
    print_output("the manual page", &out, closed)
}

/// Prints the output of a command whose output is standard output (the
/// help, the version, the manual page, a completion script); returns the
/// exit code. A standard output closed at start (now `/dev/null`) or one
/// that cannot take the bytes (a full disk) is a failure: nobody got them.
pub fn print_output(what: &str, bytes: &[u8], closed: ClosedAtStart) -> i32 {
    let written = if closed.stdout {
        Err(std::io::Error::other(
            "it was closed when the program started",
        ))
    } else {
        crate::progress::print_stdout(bytes)
    };
    match written {
        Ok(()) => crate::exit::EXIT_OK,
        Err(e) => {
            crate::progress::say(&format!(
                "cognito-reset: cannot write {what} to standard output: {e}"
            ));
            crate::exit::EXIT_CANNOT_START
        }
    }
}

/// `cognito-reset simulator`.
#[derive(Debug, Args)]
pub struct SimulatorArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9229")]
    pub listen: String,
    /// Simulator behaviour.
    #[command(flatten)]
    pub sim: SimKnobs,
}

/// The reset run's flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Input file (.csv, .jsonl/.ndjson, .txt) or - for stdin.
    #[arg(value_name = "INPUT", required_unless_present_any = ["from_pool", "from_group"])]
    pub input: Option<String>,
    /// Input format, when the extension does not say (stdin defaults to csv).
    #[arg(long, value_parser = ["csv", "jsonl", "lines"])]
    pub format: Option<String>,
    /// CSV column holding the username (case-insensitive).
    #[arg(long, default_value = "username", value_name = "NAME")]
    pub username_column: String,
    /// Pool for rows without their own user_pool_id.
    #[arg(long, value_name = "ID")]
    pub user_pool_id: Option<String>,
    /// Reset every user of --user-pool-id (ListUsers), instead of an input file.
    #[arg(long, conflicts_with_all = ["input", "from_group"], requires = "user_pool_id")]
    pub from_pool: bool,
    /// ListUsers filter for --from-pool, e.g. 'status = "Enabled"'.
    #[arg(long, value_name = "EXPR", requires = "from_pool")]
    pub filter: Option<String>,
    /// Reset every user of this group of --user-pool-id (ListUsersInGroup).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "input",
        requires = "user_pool_id"
    )]
    pub from_group: Option<String>,
    /// AWS region for every call (default: the prefix of each pool id).
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send requests to this endpoint instead of AWS's.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Per-row report, CSV or JSONL by extension
    /// [default: <input-stem>.report.csv in the current directory].
    #[arg(long, value_name = "PATH")]
    pub report: Option<String>,
    /// Continue an earlier run from its report: users already reset are skipped.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start the report afresh if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// AdminResetUserPassword calls per second per region (UserAccountRecovery
    /// quota), "auto" (80% of the provisioned quota, else 25 and adapt), or
    /// "unlimited".
    #[arg(long, default_value = "25", value_name = "N|auto")]
    pub rate: String,
    /// AdminGetUser calls per second per region (UserRead quota): dry run,
    /// resume checks.
    #[arg(long, default_value = "100", value_name = "N")]
    pub check_rate: String,
    /// AdminUserGlobalSignOut / AdminDisableUser calls per second per region
    /// (UserUpdate quota).
    #[arg(long, default_value = "20", value_name = "N")]
    pub sign_out_rate: String,
    /// ListUsers / ListUsersInGroup pages per second per region (UserList quota).
    #[arg(long, default_value = "25", value_name = "N")]
    pub list_rate: String,
    /// Calls in flight at most.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub concurrency: usize,
    /// Attempts per call (each step of a row), the first included.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
    /// Change nothing: predict each row's outcome with AdminGetUser.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// ClientMetadata sent with every reset (repeatable); row values win.
    #[arg(long, value_name = "KEY=VALUE")]
    pub client_metadata: Vec<String>,
    /// After a successful reset also call AdminUserGlobalSignOut.
    #[arg(long)]
    pub global_sign_out: bool,
    /// What to do with users a reset cannot reach (no verified email or
    /// phone, FORCE_CHANGE_PASSWORD, ...): "none" leaves them (they keep a
    /// working password; exit 1), "disable" calls AdminDisableUser.
    #[arg(long, value_parser = ["none", "disable"], default_value = "none", value_name = "none|disable")]
    pub unresettable: String,
    /// Usernames never to touch (lines, or CSV/JSONL by extension):
    /// break-glass and service accounts.
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<String>,
    /// An earlier report (repeatable) whose reset or disabled users are
    /// `skipped` by this run — a list that grew: start a new report, and
    /// the users an earlier one reset are not reset again (its owed
    /// sign-outs are finished). The report must verify.
    #[arg(long, value_name = "REPORT")]
    pub skip_done: Vec<String>,
    /// Why this run happens (ticket, incident); recorded in the summary.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// On --resume, send again to rows whose earlier reset cannot be checked
    /// (AdminGetUser denied or failing) instead of leaving them failed.
    #[arg(long, requires = "resume")]
    pub resend_unchecked: bool,
    /// On --resume with a lost journal: check every row not yet reset with
    /// AdminGetUser before sending.
    #[arg(long, requires = "resume")]
    pub check_all: bool,
    /// Abort when more than PCT % of at least 200 attempted rows failed.
    #[arg(long, default_value_t = 50.0, value_name = "PCT")]
    pub max_failure_rate: f64,
    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<String>,
    /// Errors only on stderr (and the result in one line when the exit code is not 0).
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr.
    #[arg(long, short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Per-attempt timeout in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub call_timeout: f64,
    /// How long the run waits for renewed credentials once they are refused
    /// (expired session, SSO, assumed role) before it stops resumably
    /// (e.g. 10m, 90s; 0 stops at once).
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub credentials_wait: String,
    /// How long the run waits for a region that stopped answering (5xx,
    /// timeouts, connection errors across many rows) before it stops
    /// resumably (e.g. 15m, 2m).
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub outage_wait: String,
    /// Run against the built-in simulator; no AWS account needed.
    #[arg(long, conflicts_with = "endpoint_url")]
    pub simulate: bool,
    /// Simulator behaviour (with --simulate).
    #[command(flatten)]
    pub sim: SimKnobs,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_whole_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
