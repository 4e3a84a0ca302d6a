//! The simulator's command-line knobs, shared by `--simulate` and the
//! `simulator` subcommand. Clap only parses them; `load` validates them and
//! turns them into a [`Config`](super::Config).

use clap::Args;

/// Knobs of the simulator, for `--simulate` and `simulator`. Every long
/// name also works without its `sim-` prefix.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Simulator")]
pub struct SimKnobs {
    /// JSONL seed of users: username, user_pool_id, status, enabled,
    /// email_verified, phone_verified, groups, fail, fail_message,
    /// fail_times, fail_operation.
    #[arg(long = "sim-users", alias = "users", value_name = "FILE")]
    pub users: Option<String>,
    /// UserAccountRecovery quota (AdminResetUserPassword), requests per
    /// second; 0 = not enforced [default: 30].
    #[arg(long = "sim-quota", alias = "quota", value_name = "N")]
    pub quota: Option<f64>,
    /// UserRead quota (AdminGetUser); 0 = not enforced [default: 120].
    #[arg(long = "sim-read-quota", alias = "read-quota", value_name = "N")]
    pub read_quota: Option<f64>,
    /// UserUpdate quota (AdminUserGlobalSignOut, AdminDisableUser); 0 = not
    /// enforced [default: 25].
    #[arg(long = "sim-update-quota", alias = "update-quota", value_name = "N")]
    pub update_quota: Option<f64>,
    /// UserList quota (ListUsers, ListUsersInGroup); 0 = not enforced
    /// [default: 30].
    #[arg(long = "sim-list-quota", alias = "list-quota", value_name = "N")]
    pub list_quota: Option<f64>,
    /// UserPoolRead quota (DescribeUserPool, GetProvisionedLimit); 0 = not
    /// enforced [default: 15].
    #[arg(
        long = "sim-pool-read-quota",
        alias = "pool-read-quota",
        value_name = "N"
    )]
    pub pool_read_quota: Option<f64>,
    /// UserPoolClientRead quota (ListUserPoolClients,
    /// DescribeUserPoolClient); 0 = not enforced [default: 15].
    #[arg(
        long = "sim-client-read-quota",
        alias = "client-read-quota",
        value_name = "N"
    )]
    pub client_read_quota: Option<f64>,
    /// Enforce no quota at all (the per-category quota knobs still apply).
    #[arg(long = "sim-no-quotas", alias = "no-quotas")]
    pub no_quotas: bool,
    /// Added latency per request, milliseconds (at most 60000).
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
    /// Emails the account may send (resets whose code goes by email) before
    /// LimitExceededException "Exceeded daily email limit".
    #[arg(long = "sim-email-cap", alias = "email-cap", value_name = "N")]
    pub email_cap: Option<u64>,
    /// EmailSendingAccount of the pools: COGNITO_DEFAULT, DEVELOPER, or
    /// absent (no EmailConfiguration.EmailSendingAccount) [default:
    /// COGNITO_DEFAULT].
    #[arg(
        long = "sim-email-sender",
        alias = "email-sender",
        value_name = "ACCOUNT"
    )]
    pub email_sender: Option<String>,
    /// Account recovery of the pools: comma list of verified_email,
    /// verified_phone_number in priority order, or admin_only [default:
    /// verified_email,verified_phone_number].
    #[arg(long = "sim-recovery", alias = "recovery", value_name = "LIST")]
    pub recovery: Option<String>,
    /// Make the pools' usernames case-sensitive (default: case-insensitive,
    /// as new pools are).
    #[arg(long = "sim-case-sensitive", alias = "case-sensitive")]
    pub case_sensitive: bool,
    /// Groups that exist in the pools, comma list (groups named by seeded
    /// users exist too).
    #[arg(long = "sim-groups", alias = "groups", value_name = "LIST")]
    pub groups: Option<String>,
    /// Operations that answer AccessDeniedException (repeatable or comma
    /// list), e.g. AdminResetUserPassword, GetProvisionedLimit,
    /// GetCallerIdentity.
    #[arg(
        long = "sim-deny",
        alias = "deny",
        value_name = "OPERATION",
        value_delimiter = ','
    )]
    pub deny: Vec<String>,
    /// Extra pools that exist (repeatable), with the settings above; the
    /// default pool and pools named in seeds always exist, any other
    /// answers ResourceNotFoundException.
    #[arg(long = "sim-pool", alias = "pool", value_name = "ID")]
    pub pools: Vec<String>,
    /// JSONL of pools, one a line: id, recovery, case_sensitive,
    /// email_sender, groups, clients (unset fields take the settings
    /// above; a pool without clients has one, app, with Cognito's token
    /// validity defaults).
    #[arg(long = "sim-pools", alias = "pools", value_name = "FILE")]
    pub pools_file: Option<String>,
    /// Create this many users user000001… in the default pool (for
    /// listings; at most 1000000).
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
    /// Benchmark mode: answer every well-formed request with success at
    /// once, keeping no state and enforcing no quota.
    #[arg(long = "sim-static", alias = "static")]
    pub static_answers: bool,
    /// Seconds (fractions allowed) an access key id stays valid after the
    /// simulator first sees it; later requests signed with it answer
    /// ExpiredTokenException. A new key id starts its own lifetime.
    #[arg(
        long = "sim-token-lifetime",
        alias = "token-lifetime",
        value_name = "SECS"
    )]
    pub token_lifetime: Option<f64>,
    /// While FILE exists, every request answers ExpiredTokenException
    /// (STS: ExpiredToken) and changes nothing.
    #[arg(
        long = "sim-expired-while",
        alias = "expired-while",
        value_name = "FILE"
    )]
    pub expired_while: Option<String>,
    /// While FILE exists, every request answers UnrecognizedClientException
    /// (STS: InvalidClientTokenId) and changes nothing.
    #[arg(
        long = "sim-invalid-token-while",
        alias = "invalid-token-while",
        value_name = "FILE"
    )]
    pub invalid_token_while: Option<String>,
    /// An outage: AFTER+FOR, durations from the simulator's start (e.g.
    /// 5s+30s; repeatable). While it lasts requests meet
    /// --sim-outage-mode and nothing is applied.
    #[arg(long = "sim-outage", alias = "outage", value_name = "AFTER+FOR")]
    pub outages: Vec<String>,
    /// An outage that lasts while FILE exists.
    #[arg(long = "sim-outage-while", alias = "outage-while", value_name = "FILE")]
    pub outage_while: Option<String>,
    /// What requests meet during an outage: 500 (InternalErrorException),
    /// close (the connection closed, no answer) or hang (no answer until
    /// the outage ends, then closed) [default: 500].
    #[arg(long = "sim-outage-mode", alias = "outage-mode", value_name = "MODE")]
    pub outage_mode: Option<String>,
    /// Only requests signed for this region (SigV4 credential scope) meet
    /// the outages (repeatable or comma list) [default: every request].
    #[arg(
        long = "sim-outage-region",
        alias = "outage-region",
        value_name = "REGION",
        value_delimiter = ','
    )]
    pub outage_regions: Vec<String>,
}
