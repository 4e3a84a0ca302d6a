//! What a simulator is made of: its quotas, its pools' settings, its seeded
//! users and its fault injection. Plain data; `load` builds it from the
//! command-line knobs and files, `state` brings it to life.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ops::Category;

/// The pool rows go to under `--simulate` when no `--user-pool-id` is given.
pub const DEFAULT_POOL: &str = "us-east-1_SimPool1";

/// Request-rate quotas per API category, requests per second; `None` = not
/// enforced. Each is a token bucket holding one second's worth of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quotas {
    /// AdminResetUserPassword.
    pub user_account_recovery: Option<f64>,
    /// AdminGetUser.
    pub user_read: Option<f64>,
    /// AdminUserGlobalSignOut, AdminDisableUser.
    pub user_update: Option<f64>,
    /// ListUsers, ListUsersInGroup.
    pub user_list: Option<f64>,
    /// DescribeUserPool, GetProvisionedLimit.
    pub user_pool_read: Option<f64>,
    /// ListUserPoolClients, DescribeUserPoolClient.
    pub user_pool_client_read: Option<f64>,
}

impl Quotas {
    /// The quotas of an AWS account nobody has raised: 30, 120, 25, 30, 15,
    /// 15.
    pub fn aws_defaults() -> Quotas {
        Quotas {
            user_account_recovery: Some(30.0),
            user_read: Some(120.0),
            user_update: Some(25.0),
            user_list: Some(30.0),
            user_pool_read: Some(15.0),
            user_pool_client_read: Some(15.0),
        }
    }

    /// No quota enforced at all.
    pub fn none() -> Quotas {
        Quotas {
            user_account_recovery: None,
            user_read: None,
            user_update: None,
            user_list: None,
            user_pool_read: None,
            user_pool_client_read: None,
        }
    }

    pub(crate) fn get(&self, category: Category) -> Option<f64> {
        match category {
            Category::UserAccountRecovery => self.user_account_recovery,
            Category::UserRead => self.user_read,
            Category::UserUpdate => self.user_update,
            Category::UserList => self.user_list,
            Category::UserPoolRead => self.user_pool_read,
            Category::UserPoolClientRead => self.user_pool_client_read,
        }
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas::aws_defaults()
    }
}

/// A pool's settings, as DescribeUserPool reports them and as they change
/// what the pool's operations do.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    /// `AccountRecoverySetting.RecoveryMechanisms` names in priority order:
    /// `verified_email` and/or `verified_phone_number`, or just `admin_only`.
    pub recovery: Vec<String>,
    /// `UsernameConfiguration.CaseSensitive`.
    pub case_sensitive: bool,
    /// `EmailConfiguration.EmailSendingAccount` (`COGNITO_DEFAULT` or
    /// `DEVELOPER`); `None` leaves the field out.
    pub email_sender: Option<String>,
    /// Groups that exist in the pool, besides those its seeded users name.
    pub groups: Vec<String>,
}

impl Default for PoolSettings {
    /// What a pool created today with the console's defaults looks like.
    fn default() -> Self {
        PoolSettings {
            recovery: vec!["verified_email".into(), "verified_phone_number".into()],
            case_sensitive: false,
            email_sender: Some("COGNITO_DEFAULT".into()),
            groups: Vec::new(),
        }
    }
}

/// A unit of token validity, as `TokenValidityUnits` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `seconds`.
    Seconds,
    /// `minutes`.
    Minutes,
    /// `hours`.
    Hours,
    /// `days`.
    Days,
}

impl TimeUnit {
    /// The name `TokenValidityUnits` uses.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
        }
    }

    /// Seconds in one unit.
    pub fn seconds(self) -> u64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3600,
            TimeUnit::Days => 86_400,
        }
    }
}

/// How long a token is valid: a number of units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// How many units.
    pub value: u64,
    /// Which unit.
    pub unit: TimeUnit,
}

impl Validity {
    /// The validity in seconds.
    pub fn seconds(&self) -> u64 {
        self.value.saturating_mul(self.unit.seconds())
    }
}

/// An app client of a pool, as DescribeUserPoolClient reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppClient {
    /// `ClientName`, unique in its pool (the client id derives from it).
    pub name: String,
    /// `RefreshTokenValidity`.
    pub refresh: Validity,
    /// `AccessTokenValidity`.
    pub access: Validity,
    /// `IdTokenValidity`.
    pub id: Validity,
    /// Whether `TokenValidityUnits` is answered; without it the numbers are
    /// in the API's default units: days for refresh, hours for access and
    /// ID tokens.
    pub units: bool,
}

impl Default for AppClient {
    /// An app client with Cognito's default token validity: refresh 30
    /// days, access and ID 60 minutes.
    fn default() -> Self {
        AppClient {
            name: "app".into(),
            refresh: Validity {
                value: 30,
                unit: TimeUnit::Days,
            },
            access: Validity {
                value: 60,
                unit: TimeUnit::Minutes,
            },
            id: Validity {
                value: 60,
                unit: TimeUnit::Minutes,
            },
            units: true,
        }
    }
}

/// A seed file line: one user that exists from the start.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SeedUser {
    /// Required.
    pub username: String,
    /// Default: the default pool.
    pub user_pool_id: Option<String>,
    /// Default CONFIRMED.
    pub status: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default true.
    pub email_verified: Option<bool>,
    /// Default false.
    pub phone_verified: Option<bool>,
    /// Groups the user belongs to (they exist in the user's pool).
    pub groups: Vec<String>,
    /// Every `fail_operation` call on this user answers with this error code …
    pub fail: Option<String>,
    /// … and this message …
    pub fail_message: Option<String>,
    /// … this many times (default: always) …
    pub fail_times: Option<u32>,
    /// … for this operation (default AdminResetUserPassword).
    pub fail_operation: Option<String>,
}

/// The simulator's behaviour.
#[derive(Debug, Clone)]
pub struct Config {
    /// Request-rate quotas per category.
    pub quotas: Quotas,
    /// Added latency per request.
    pub latency: Duration,
    /// Share of Cognito requests that fail (half HTTP 500, half carried out
    /// and then the connection dropped before the answer).
    pub fault_rate: f64,
    /// Emails the account sends before the daily limit.
    pub email_cap: Option<u64>,
    /// Operations answering AccessDeniedException (also `GetCallerIdentity`).
    pub deny: HashSet<String>,
    /// Settings of every pool not listed in `pools`, [`DEFAULT_POOL`] included.
    pub pool_defaults: PoolSettings,
    /// Pools that exist besides [`DEFAULT_POOL`] (which always exists, with
    /// `pool_defaults` unless listed here).
    pub pools: BTreeMap<String, PoolSettings>,
    /// Seeded users; the pools they name exist.
    pub users: Vec<SeedUser>,
    /// Users user000001… generated in the default pool.
    pub generate: u64,
    /// Fault injector seed.
    pub seed: u64,
    /// Benchmark mode: every well-formed request answers success at once,
    /// with no state, no quota and no lock shared between requests.
    pub static_answers: bool,
    /// How long an access key id is good for after its first request;
    /// later requests it signs answer ExpiredTokenException.
    pub token_lifetime: Option<Duration>,
    /// While this file exists, every request answers ExpiredTokenException.
    pub expired_while: Option<PathBuf>,
    /// While this file exists, every request answers
    /// UnrecognizedClientException.
    pub invalid_token_while: Option<PathBuf>,
    /// App clients per pool; a pool not listed has one,
    /// [`AppClient::default`].
    pub clients: BTreeMap<String, Vec<AppClient>>,
    /// Spans of time, from the simulator's start, when the service is down.
    pub outages: Vec<OutageWindow>,
    /// While this file exists, the service is down.
    pub outage_while: Option<PathBuf>,
    /// What a request meets while the service is down.
    pub outage_mode: OutageMode,
    /// Regions (of the SigV4 credential scope) an outage affects; empty:
    /// every request, signed or not.
    pub outage_regions: Vec<String>,
}

/// A span of time when the service is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageWindow {
    /// From the simulator's start to the outage's.
    pub after: Duration,
    /// How long it lasts.
    pub lasting: Duration,
}

impl OutageWindow {
    /// Whether `elapsed` since the start falls within the outage.
    pub(crate) fn covers(&self, elapsed: Duration) -> bool {
        elapsed
            .checked_sub(self.after)
            .is_some_and(|into| into < self.lasting)
    }
}

/// What a request meets while the service is down. Whatever the mode,
/// nothing is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutageMode {
    /// HTTP 500 InternalErrorException.
    #[default]
    Error500,
    /// The connection is closed without an answer.
    Close,
    /// The request is held unanswered while the outage lasts, then its
    /// connection is closed.
    Hang,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            quotas: Quotas::aws_defaults(),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            email_cap: None,
            deny: HashSet::new(),
            pool_defaults: PoolSettings::default(),
            pools: BTreeMap::new(),
            users: Vec::new(),
            generate: 0,
            seed: 1,
            static_answers: false,
            token_lifetime: None,
            expired_while: None,
            invalid_token_while: None,
            clients: BTreeMap::new(),
            outages: Vec::new(),
            outage_while: None,
            outage_mode: OutageMode::Error500,
            outage_regions: Vec::new(),
        }
    }
}

impl Config {
    /// Makes pool `id` exist, with `pool_defaults`, unless it already does.
    pub fn add_pool(&mut self, id: &str) {
        if id != DEFAULT_POOL && !self.pools.contains_key(id) {
            self.pools.insert(id.to_owned(), self.pool_defaults.clone());
        }
    }

    /// The app clients of pool `id`.
    pub(crate) fn clients_of(&self, id: &str) -> Vec<AppClient> {
        self.clients
            .get(id)
            .cloned()
            .unwrap_or_else(|| vec![AppClient::default()])
    }

    /// The settings pool `id` has, if it exists before any seed is read.
    pub(crate) fn settings_of(&self, id: &str) -> Option<&PoolSettings> {
        match self.pools.get(id) {
            Some(settings) => Some(settings),
            None if id == DEFAULT_POOL => Some(&self.pool_defaults),
            None => None,
        }
    }
}
