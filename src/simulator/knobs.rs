//! The simulator's command-line knobs, shared by `--simulate` and the
//! `simulator` subcommand.

use clap::Args;

/// Knobs of the simulator, for `--simulate` and `simulator`.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Simulator")]
pub struct SimKnobs {
    /// JSONL seed of users: username, user_pool_id, status, enabled,
    /// email_verified, phone_verified, groups, fail, fail_message, fail_times.
    #[arg(long = "sim-users", alias = "users", value_name = "FILE")]
    pub users: Option<String>,
    /// Enforced AdminResetUserPassword (UserAccountRecovery) requests per
    /// second; 0 = no quota.
    #[arg(
        long = "sim-quota",
        alias = "quota",
        value_name = "N",
        default_value_t = 30.0
    )]
    pub quota: f64,
    /// Added latency per request, milliseconds.
    #[arg(
        long = "sim-latency-ms",
        alias = "latency-ms",
        value_name = "MS",
        default_value_t = 0
    )]
    pub latency_ms: u64,
    /// Share of requests (0..1) that fail: half answer HTTP 500, half are
    /// carried out and then the connection is dropped before the answer.
    #[arg(
        long = "sim-fault-rate",
        alias = "fault-rate",
        value_name = "P",
        default_value_t = 0.0
    )]
    pub fault_rate: f64,
    /// Emails the account may send (resets of users with a verified email)
    /// before LimitExceededException "Exceeded daily email limit".
    #[arg(long = "sim-email-cap", alias = "email-cap", value_name = "N")]
    pub email_cap: Option<u64>,
    /// EmailSendingAccount reported by DescribeUserPool.
    #[arg(
        long = "sim-email-sender",
        alias = "email-sender",
        value_name = "ACCOUNT",
        default_value = "DEVELOPER"
    )]
    pub email_sender: String,
    /// Operations that answer AccessDeniedException (repeatable), e.g.
    /// AdminResetUserPassword, GetProvisionedLimit.
    #[arg(long = "sim-deny", alias = "deny", value_name = "OPERATION")]
    pub deny: Vec<String>,
    /// Extra pools that exist (repeatable); the default pool and pools named
    /// in the seed always exist, any other answers ResourceNotFoundException.
    #[arg(long = "sim-pool", alias = "pool", value_name = "ID")]
    pub pools: Vec<String>,
    /// Create this many users user000001… in the default pool (for listings).
    #[arg(
        long = "sim-generate",
        alias = "generate",
        value_name = "N",
        default_value_t = 0
    )]
    pub generate: u64,
    /// Seed of the fault injector, for repeatable runs.
    #[arg(
        long = "sim-seed",
        alias = "seed",
        value_name = "N",
        default_value_t = 1
    )]
    pub seed: u64,
}
