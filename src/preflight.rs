//! Before the plan: what Cognito says about each pool, the rates, the caller.
//!
//! Every call here goes through the same retry driver as the resets, at the
//! UserPoolRead rate (UserPoolClientRead for the app clients, UserRead for
//! the permission probe). Read-only:
//! nothing is changed before the operator confirms. What makes the run
//! pointless or unsafe stops it here (exit 2) rather than in the report:
//! a pool that does not exist, an endpoint that cannot be reached, a pool
//! whose account recovery is `admin_only` (every reset would be refused).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::answers::Predicted;
use crate::channel::{Channel, Recovery};
use crate::cognito::{AppClient, Aws, CallError, Class, Cognito, Identity, Op, PoolInfo};
use crate::exit::StartError;
use crate::input::region_of_pool;
use crate::limiter::{AUTO_RATE_SHARE, Category, DEFAULT_RATE, Limiters, Rate};
use crate::pool::Pools;
use crate::progress::say;
use crate::retry::{Answer, Attempts, Caller};
use crate::sessions::{self, Unread};

/// Cognito's default sender delivers this many emails a day per account.
pub const COGNITO_DEFAULT_EMAIL_PER_DAY: u64 = 50;
/// A username no pool holds, for the permission probe.
pub const PROBE_USER: &str = "cognito-reset-permission-probe";

/// What the preflight learned of one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolFacts {
    /// The pool id.
    pub id: String,
    /// Its region.
    pub region: String,
    /// DescribeUserPool's answer, when it was permitted.
    pub info: Option<PoolInfo>,
    /// Warnings and notes for the plan.
    pub notes: Vec<String>,
    /// Usernames compared case-insensitively.
    pub folds_case: bool,
    /// The pool's app clients and their token validity; `None` when they
    /// could not be read.
    pub app_clients: Option<Vec<AppClient>>,
}

/// Pools known to the run: regions, clients, case rules. Pools first met
/// mid-run (standard input) are case-sensitive unless described.
pub struct PoolMap {
    aws: Aws,
    region_override: Option<String>,
    facts: BTreeMap<String, PoolFacts>,
    clients: Mutex<BTreeMap<String, Cognito>>,
}

impl PoolMap {
    /// An empty map.
    pub fn new(aws: Aws, region_override: Option<String>) -> PoolMap {
        PoolMap {
            aws,
            region_override,
            facts: BTreeMap::new(),
            clients: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every pool the preflight described, in order.
    pub fn facts(&self) -> impl Iterator<Item = &PoolFacts> {
        self.facts.values()
    }

    /// The regions of the known pools.
    pub fn regions(&self) -> std::collections::BTreeSet<String> {
        self.facts.values().map(|f| f.region.clone()).collect()
    }
}

impl Pools for PoolMap {
    fn case_rule(&self, pool: &str) -> Option<bool> {
        let facts = self.facts.get(pool)?;
        facts.info.as_ref().map(|_| facts.folds_case)
    }

    fn refuses_resets(&self, pool: &str) -> Option<String> {
        let info = self.facts.get(pool)?.info.as_ref()?;
        info.recovery.iter().any(|m| m == "admin_only").then(|| {
            "the pool's account recovery is admin_only: Cognito would refuse every reset \
             (a real run refuses the pool before sending anything)"
                .to_owned()
        })
    }

    fn recovery(&self, pool: &str) -> Option<Recovery> {
        let info = self.facts.get(pool)?.info.as_ref()?;
        Some(Recovery::from_names(&info.recovery))
    }

    fn region_of(&self, pool: &str) -> String {
        self.region_override
            .clone()
            .unwrap_or_else(|| region_of_pool(pool).to_owned())
    }

    fn client(&self, region: &str) -> Cognito {
        let mut clients = self.clients.lock().expect("clients lock");
        clients
            .entry(region.to_owned())
            .or_insert_with(|| self.aws.client(region))
            .clone()
    }
}

/// What the preflight needs to know of the run.
pub struct Ask<'a> {
    /// The pools the run names.
    pub pools: &'a [String],
    /// Distinct users of each pool that the run may reset, when known (for
    /// the email warning).
    pub rows: Option<BTreeMap<String, u64>>,
    /// A dry run.
    pub dry_run: bool,
    /// The endpoint, for messages.
    pub endpoint: &'a str,
    /// Attempts per call (`--max-attempts`).
    pub max_attempts: u32,
    /// A real run: what the dry run of the same input predicted.
    pub predicted: Option<&'a Predicted>,
}

fn unreachable(endpoint: &str, e: &CallError) -> StartError {
    StartError::Aws(format!(
        "cannot reach Cognito at {endpoint} ({}: {}); check the network, --region and \
         --endpoint-url (and that --call-timeout is not too short); nothing was sent that \
         changes anything",
        e.code, e.message
    ))
}

/// Describes every pool; refuses what cannot or must not be reset.
pub async fn describe_pools(
    caller: &Caller,
    map: &mut PoolMap,
    ask: &Ask<'_>,
) -> Result<(), StartError> {
    for (i, pool) in ask.pools.iter().enumerate() {
        let region = map.region_of(pool);
        let client = map.client(&region);
        let answer = describe_one(caller, &region, &client, pool, ask, i == 0).await;
        let mut facts = PoolFacts {
            id: pool.clone(),
            region,
            info: None,
            notes: Vec::new(),
            folds_case: false,
            app_clients: None,
        };
        match answer {
            Answer::Ok(reply) => judge(&mut facts, reply.value, ask)?,
            Answer::Stopped => {
                return Err(StartError::NotConfirmed("stopped before the plan".into()));
            }
            Answer::Err(e) => match e.class {
                Class::Credentials => return Err(refused_credentials(&e)),
                Class::PoolFatal => {
                    return Err(StartError::Aws(format!(
                        "user pool {pool} does not exist ({}: {}); nothing was reset",
                        e.code, e.message
                    )));
                }
                Class::Retryable | Class::Throttled => return Err(unreachable(ask.endpoint, &e)),
                _ => facts.notes.push(format!(
                    "DescribeUserPool is not permitted or failed ({}: {}): the pool's recovery \
                     and email settings were not checked; not knowing whether usernames ignore \
                     case, duplicates are compared case-sensitively and --exclude entries \
                     ignoring case",
                    e.code, e.message
                )),
            },
        }
        app_clients(caller, &client, &mut facts, ask.max_attempts).await?;
        map.facts.insert(pool.clone(), facts);
    }
    shared_email_cap(map, ask);
    Ok(())
}

/// Whether a pool's email goes through Cognito's default sender.
fn default_sender(info: &PoolInfo) -> bool {
    info.email_sending_account
        .as_deref()
        .is_none_or(|a| a == "COGNITO_DEFAULT")
}

/// The default sender's daily cap is the account's in a region, not each
/// pool's: where several pools of a region use it, the plan warns of the
/// codes they may send together.
fn shared_email_cap(map: &mut PoolMap, ask: &Ask<'_>) {
    let Some(rows) = &ask.rows else {
        return;
    };
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in map.facts.values() {
        if f.info.as_ref().is_some_and(default_sender) {
            by_region
                .entry(f.region.clone())
                .or_default()
                .push(f.id.clone());
        }
    }
    for (region, pools) in by_region {
        let total: u64 = pools.iter().filter_map(|p| rows.get(p)).sum();
        if pools.len() < 2 || total <= COGNITO_DEFAULT_EMAIL_PER_DAY {
            continue;
        }
        let note = format!(
            "WARNING: the {} pools of {region} on Cognito's default sender share the account's \
             {COGNITO_DEFAULT_EMAIL_PER_DAY} emails a day: this run may send up to {total} codes \
             across them — more than {COGNITO_DEFAULT_EMAIL_PER_DAY} by email needs them on \
             Amazon SES (the run stops at the daily limit)",
            pools.len()
        );
        for pool in &pools {
            if let Some(f) = map.facts.get_mut(pool) {
                f.notes.push(note.clone());
            }
        }
    }
}

/// Reads the pool's app clients (their token validity bounds its sessions);
/// where that is not permitted, the plan says so and the run goes on.
async fn app_clients(
    caller: &Caller,
    client: &Cognito,
    facts: &mut PoolFacts,
    max_attempts: u32,
) -> Result<(), StartError> {
    match sessions::read(caller, client, &facts.region, &facts.id, max_attempts).await {
        Ok(clients) => facts.app_clients = Some(clients),
        Err(Unread::Failed(e)) => facts.notes.push(sessions::unread_note(&e)),
        Err(Unread::Stopped) => {
            return Err(StartError::NotConfirmed("stopped before the plan".into()));
        }
    }
    Ok(())
}

/// The first call of a run waits this long for an answer: an endpoint that
/// accepts connections and never answers is reported within seconds.
pub const FIRST_CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts at most, the first included, to describe a pool at an endpoint
/// whose first answer did not come in time.
const SILENT_ENDPOINT_ATTEMPTS: u32 = 3;

/// DescribeUserPool through the retry driver. The run's first call
/// (`first`) gets one attempt at [`FIRST_CALL_TIMEOUT`]; if no answer came
/// in time the operator is told at once, and the call is made again at
/// `--call-timeout`, a few times at most.
async fn describe_one(
    caller: &Caller,
    region: &str,
    client: &Cognito,
    pool: &str,
    ask: &Ask<'_>,
    first: bool,
) -> Answer<PoolInfo> {
    let mut budget = Attempts::fresh(ask.max_attempts);
    if first {
        let (answer, _) = caller
            .call(region, Op::DescribePool, Attempts::fresh(1), || {
                client.describe_pool_within(pool, Some(FIRST_CALL_TIMEOUT))
            })
            .await;
        match answer {
            Answer::Err(e) if e.class == Class::Retryable => {
                budget.failed = 1;
                if e.timed_out() {
                    budget.max = budget.max.min(SILENT_ENDPOINT_ATTEMPTS);
                    say(&format!(
                        "cognito-reset: {} is not answering: no answer to DescribeUserPool within \
                         {} s; trying again (at most {} more attempts, each up to --call-timeout)",
                        ask.endpoint,
                        FIRST_CALL_TIMEOUT.as_secs(),
                        budget.max.saturating_sub(1)
                    ));
                }
            }
            answer => return answer,
        }
    }
    let (answer, _) = caller
        .call(region, Op::DescribePool, budget, || {
            client.describe_pool(pool)
        })
        .await;
    answer
}

fn refused_credentials(e: &CallError) -> StartError {
    StartError::Aws(format!(
        "the credentials were refused ({}: {}); renew them (for SSO: aws sso login) and run \
         again; nothing was sent",
        e.code, e.message
    ))
}

/// Reads a pool's settings: refuses `admin_only`, warns of SMS and of the
/// default email sender's daily cap.
fn judge(facts: &mut PoolFacts, info: PoolInfo, ask: &Ask<'_>) -> Result<(), StartError> {
    if info.recovery.iter().any(|m| m == "admin_only") && !ask.dry_run {
        return Err(StartError::Aws(format!(
            "user pool {} has account recovery set to admin_only: AdminResetUserPassword needs \
             self-service account recovery, so every reset would be refused. Set the pool's \
             account recovery to verified email and/or phone (Cognito console: Sign-in → \
             Account recovery), or set passwords with AdminSetUserPassword instead; nothing \
             was reset",
            facts.id
        )));
    }
    if info.recovery.iter().any(|m| m == "admin_only") {
        facts.notes.push(
            "WARNING: account recovery is admin_only: a real run would refuse this pool".into(),
        );
    }
    channel_notes(facts, &info, ask);
    facts.folds_case = info.case_sensitive == Some(false);
    if facts.folds_case {
        facts
            .notes
            .push("usernames are case-insensitive: Alice and alice are one user".into());
    }
    facts.info = Some(info);
    Ok(())
}

/// How many codes go by `channel`, as far as is known before the run: a
/// dry run's own count is in its summary; a real run has the count a dry
/// run of the same input predicted, if its report is at hand.
fn predicted_words(pool: &str, channel: Channel, ask: &Ask<'_>) -> String {
    if ask.dry_run {
        return "counted by this dry run (its summary and report say)".into();
    }
    ask.predicted
        .and_then(|p| p.words(pool, channel))
        .unwrap_or_else(|| "unknown (no dry run of this input at hand)".into())
}

/// Warns where codes go by SMS (recovery by phone first, or users with
/// only a verified phone) and where email goes through Cognito's default
/// sender, with the counts a dry run predicted.
fn channel_notes(facts: &mut PoolFacts, info: &PoolInfo, ask: &Ask<'_>) {
    let pool = facts.id.clone();
    let recovery = Recovery::from_names(&info.recovery);
    let phone_first = recovery.phone_first();
    let sms_predicted = ask
        .predicted
        .and_then(|p| p.count(&pool, Channel::Sms))
        .is_some_and(|n| n > 0);
    let sms_unknown = recovery.allows_sms() && ask.predicted.is_some_and(|p| p.partial(&pool));
    // A dry run that reached every user and predicted no SMS rules SMS out.
    let no_sms = ask
        .predicted
        .is_some_and(|p| !p.partial(&pool) && p.count(&pool, Channel::Sms) == Some(0));
    if (phone_first && !no_sms) || sms_predicted || sms_unknown {
        let why = if recovery.unset() {
            "no recovery setting: Cognito prefers a verified phone"
        } else if phone_first {
            "recovery by phone first"
        } else if sms_predicted {
            "users with only a verified phone"
        } else {
            "the dry run did not reach every user, and the recovery setting allows SMS"
        };
        facts.notes.push(format!(
            "WARNING: codes go by SMS ({why}): {} — Amazon SNS sends them, and a new \
             account's SMS spend limit is 1 USD a month and its SMS sandbox delivers only to \
             verified numbers: past either, codes stop arriving without an error. Check the \
             SNS sandbox and raise the account's SMS spend limit first",
            predicted_words(&pool, Channel::Sms, ask)
        ));
    }
    if default_sender(info) {
        let count = ask
            .rows
            .as_ref()
            .and_then(|r| r.get(&pool))
            .map_or("an unknown number of".into(), |n| format!("up to {n}"));
        facts.notes.push(format!(
            "WARNING: email goes through Cognito's default sender, which delivers at most \
             {COGNITO_DEFAULT_EMAIL_PER_DAY} emails a day per account; this run may send {count} \
             codes, by email {} — more than {COGNITO_DEFAULT_EMAIL_PER_DAY} needs the pool on \
             Amazon SES (the run stops at the daily limit)",
            predicted_words(&pool, Channel::Email, ask)
        ));
    }
}

/// Sets `--rate auto` for each region: 80 % of the provisioned
/// UserAccountRecovery quota when Cognito states one; otherwise the default,
/// adapting to throttles. Returns a line per region saying which.
pub async fn auto_rates(
    caller: &Caller,
    map: &PoolMap,
    limiters: &Arc<Limiters>,
    max_attempts: u32,
) -> Vec<String> {
    let mut lines = Vec::new();
    for region in map.regions() {
        let client = map.client(&region);
        let category = Category::UserAccountRecovery.name();
        let budget = Attempts::fresh(max_attempts);
        let (answer, _) = caller
            .call(&region, Op::ProvisionedLimit, budget, || {
                client.provisioned_limit(category)
            })
            .await;
        let line = match answer {
            Answer::Ok(reply) => {
                let (rate, line) = auto_rate(&region, reply.value);
                limiters.set_region_rate(
                    &region,
                    Category::UserAccountRecovery,
                    Rate::PerSecond(rate),
                );
                line
            }
            Answer::Err(e) => format!(
                "{region}: --rate auto: GetProvisionedLimit gave no quota ({}: {}); starting at \
                 the default {DEFAULT_RATE}/s and adapting to throttles",
                e.code, e.message
            ),
            Answer::Stopped => break,
        };
        lines.push(line);
    }
    lines
}

/// Whether AdminGetUser is permitted, asked with one call for a user no pool
/// holds. `Err` carries the denial.
pub async fn probe_checks(
    caller: &Caller,
    map: &PoolMap,
    pool: &str,
    max_attempts: u32,
) -> Result<(), CallError> {
    let region = map.region_of(pool);
    let client = map.client(&region);
    let budget = Attempts::fresh(max_attempts);
    let (answer, _) = caller
        .call(&region, Op::GetUser, budget, || {
            client.get_user(pool, PROBE_USER)
        })
        .await;
    match answer {
        Answer::Err(e) if e.class == Class::RunFatal => Err(e),
        _ => Ok(()),
    }
}

/// The caller's identity, or why it is not known. One attempt: the audit
/// record wants it, the run does not need it.
pub async fn identity(aws: &Aws, region: &str) -> Result<Identity, String> {
    aws.caller_identity(region).await.map_err(|e| {
        format!(
            "not known: sts:GetCallerIdentity failed ({}: {})",
            e.code, e.message
        )
    })
}

/// The rate `--rate auto` takes from a stated quota, and the line that says
/// how: a share of the quota, never below one call a second (a smaller
/// quota is then exceeded and the throttles slow the run down to it).
fn auto_rate(region: &str, quota: f64) -> (f64, String) {
    let share = quota * AUTO_RATE_SHARE;
    let percent = AUTO_RATE_SHARE * 100.0;
    let stated = format!("the {quota}/s UserAccountRecovery quota that GetProvisionedLimit states");
    if share >= 1.0 {
        let line = format!("{region}: --rate auto = {share:.1}/s ({percent:.0}% of {stated})");
        (share, line)
    } else {
        let line = format!(
            "{region}: --rate auto = 1.0/s, its floor ({percent:.0}% of {stated} would be \
             {share:.2}/s; throttles slow the run down to the quota)"
        );
        (1.0, line)
    }
}

#[cfg(test)]
mod auto_rate_tests {
    use super::auto_rate;

    #[test]
    fn rate_auto_of_a_quota_under_the_floor_says_so_rather_than_a_false_share() {
        let (rate, line) = auto_rate("eu-west-1", 1.0);
        assert_eq!(rate, 1.0);
        assert!(line.contains("its floor"), "{line}");
        assert!(line.contains("would be 0.80/s"), "{line}");
        assert!(!line.contains("= 1.0/s (80%"), "{line}");
        let (_, half) = auto_rate("eu-west-1", 0.5);
        assert!(
            half.contains("the 0.5/s UserAccountRecovery quota"),
            "{half}"
        );
    }

    #[test]
    fn rate_auto_of_a_large_quota_is_its_share() {
        let (rate, line) = auto_rate("eu-west-1", 50.0);
        assert_eq!(rate, 40.0);
        assert!(line.contains("= 40.0/s (80% of the 50/s"), "{line}");
    }
}
