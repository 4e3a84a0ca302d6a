//! The simulated service's state and the path every Cognito request takes
//! through it: count, authorize (`deny`), throttle (per-category quotas),
//! validate, inject faults, then carry out the operation.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hyper::StatusCode;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::{Map, Value};

use super::account::Account;
use super::actions;
use super::answer::{Answer, ApiError, fail};
use super::config::{Config, DEFAULT_POOL};
use super::gate::{Gate, Refusal};
use super::ops::{GET_CALLER_IDENTITY, Op};
use super::pools::Pool;
use super::quota::Buckets;
use super::sigv4::Signer;
use super::users::{User, now};
use super::validate;

/// Totals for `GET /_sim/stats` and tests.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    /// Requests per operation (every request, throttled ones included).
    pub calls: BTreeMap<String, u64>,
    /// Requests answered TooManyRequestsException.
    pub throttled: u64,
    /// Of those, per quota category (`UserAccountRecovery`, `UserRead`, …).
    pub throttled_by_category: BTreeMap<String, u64>,
    /// Faults injected.
    pub faults: u64,
    /// Users with at least one successful reset.
    pub users_reset: u64,
    /// Users with more than one successful reset.
    pub users_reset_twice: u64,
    /// Users with at least one successful AdminUserGlobalSignOut.
    pub users_signed_out: u64,
    /// Users with at least one successful AdminDisableUser.
    pub users_disabled: u64,
    /// Successful resets whose code went by email.
    pub codes_by_email: u64,
    /// Successful resets whose code went by SMS.
    pub codes_by_sms: u64,
    /// Successful resets that sent no code (RESET_REQUIRED users with no
    /// verified contact).
    pub resets_without_code: u64,
    /// When the first AdminResetUserPassword request arrived, in
    /// milliseconds since the Unix epoch (for time-to-first-call figures).
    pub first_reset_unix_ms: Option<u64>,
    /// Requests answered ExpiredTokenException (STS: ExpiredToken).
    pub expired_token: u64,
    /// Requests answered UnrecognizedClientException (STS:
    /// InvalidClientTokenId).
    pub invalid_token: u64,
    /// Requests refused by an outage (answered HTTP 500, closed or held,
    /// per the outage mode); none of them was applied.
    pub refused_by_outage: u64,
    /// When the first request of any kind arrived (Cognito or STS, well
    /// formed or not; the stats page aside), in milliseconds since the Unix
    /// epoch: a resume's first calls are checks and preflight, not resets.
    pub first_call_unix_ms: Option<u64>,
}

/// Stores now (milliseconds since the Unix epoch) in `slot` unless a time is
/// already there; checked first so that every later request costs one load.
fn keep_first_time(slot: &AtomicU64) {
    if slot.load(Ordering::Relaxed) != 0 {
        return;
    }
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64);
    let _ = slot.compare_exchange(0, ms.max(1), Ordering::Relaxed, Ordering::Relaxed);
}

/// What changes under the lock.
struct Inner {
    account: Account,
    buckets: Buckets,
    rng: StdRng,
    totals: Totals,
}

/// The simulated service's state.
pub struct State {
    pub(crate) config: Config,
    inner: Mutex<Inner>,
    requests: AtomicU64,
    /// Calls per operation in benchmark mode, counted without the lock
    /// (the last slot is GetCallerIdentity).
    static_calls: [AtomicU64; Op::ALL.len() + 1],
    /// [`Totals::first_reset_unix_ms`], 0 until then.
    first_reset_ms: AtomicU64,
    gate: Gate,
    /// [`Totals::first_call_unix_ms`], 0 until then.
    first_call_ms: AtomicU64,
}

impl State {
    /// A fresh service.
    pub fn new(config: Config) -> State {
        let pools = if config.static_answers {
            HashMap::new()
        } else {
            initial_pools(&config)
        };
        State {
            inner: Mutex::new(Inner {
                account: Account::new(pools),
                buckets: Buckets::new(&config.quotas),
                rng: StdRng::seed_from_u64(config.seed),
                totals: Totals::default(),
            }),
            requests: AtomicU64::new(0),
            static_calls: Default::default(),
            first_reset_ms: AtomicU64::new(0),
            gate: Gate::new(),
            first_call_ms: AtomicU64::new(0),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics under the lock; if something ever did, the state
        // is still consistent enough to keep answering.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh `x-amzn-requestid`.
    pub(crate) fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        format!("00000000-0000-4000-8000-{:012x}", n & 0xffff_ffff_ffff)
    }

    /// A user's record, if the user exists (implicit users only once
    /// touched); case-insensitive pools find any spelling.
    pub fn user(&self, pool: &str, username: &str) -> Option<User> {
        let inner = self.lock();
        inner
            .account
            .pools
            .get(pool)?
            .find(username)
            .map(|e| e.user.clone())
    }

    /// Every seeded or touched user of a pool, with its username as stored.
    pub fn users(&self, pool: &str) -> Vec<(String, User)> {
        let inner = self.lock();
        inner
            .account
            .pools
            .get(pool)
            .map(|p| {
                p.entries()
                    .map(|e| (e.name.clone(), e.user.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Totals so far.
    pub fn totals(&self) -> Totals {
        let inner = self.lock();
        let mut totals = inner.totals.clone();
        for entry in inner.account.pools.values().flat_map(Pool::entries) {
            let user = &entry.user;
            totals.users_reset += u64::from(user.resets_succeeded > 0);
            totals.users_reset_twice += u64::from(user.resets_succeeded > 1);
            totals.users_signed_out += u64::from(user.sign_outs > 0);
            totals.users_disabled += u64::from(user.disables > 0);
            totals.codes_by_email += user.emails_sent;
            totals.codes_by_sms += user.sms_sent;
            totals.resets_without_code += user.resets_without_code;
        }
        let names = Op::ALL
            .iter()
            .map(|op| op.name())
            .chain([GET_CALLER_IDENTITY]);
        for (name, count) in names.zip(&self.static_calls) {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                *totals.calls.entry(name.to_owned()).or_default() += count;
            }
        }
        let first = self.first_reset_ms.load(Ordering::Relaxed);
        totals.first_reset_unix_ms = (first > 0).then_some(first);
        totals.expired_token = self.gate.expired();
        totals.invalid_token = self.gate.invalid();
        totals.refused_by_outage = self.gate.outage();
        let first = self.first_call_ms.load(Ordering::Relaxed);
        totals.first_call_unix_ms = (first > 0).then_some(first);
        totals
    }

    /// Why a request signed by `signer` is refused before the service
    /// looks at it, if it is (counted).
    pub(crate) fn refusal(&self, signer: Option<&Signer>) -> Option<Refusal> {
        self.gate.check(&self.config, signer)
    }

    /// Whether the service is down now for a request signed for `region`.
    pub(crate) fn outage_now(&self, region: Option<&str>) -> bool {
        self.gate.outage_now(&self.config, region)
    }

    /// Notes the arrival of a request for `op` (only the first reset's time
    /// is kept).
    pub(crate) fn arrived(&self, op: Op) {
        if op == Op::AdminResetUserPassword {
            keep_first_time(&self.first_reset_ms);
        }
    }

    /// Notes the arrival of a request other than the stats page (only the
    /// first one's time is kept).
    pub(crate) fn request_arrived(&self) {
        keep_first_time(&self.first_call_ms);
    }

    /// Counts a call that bypasses the lock (benchmark mode).
    pub(crate) fn count_static(&self, op: Option<Op>) {
        let slot = op.map_or(Op::ALL.len(), Op::index);
        self.static_calls[slot].fetch_add(1, Ordering::Relaxed);
        if let Some(op) = op {
            self.arrived(op);
        }
    }

    /// Counts a call under the lock.
    pub(crate) fn count(&self, name: &str) {
        *self.lock().totals.calls.entry(name.to_owned()).or_default() += 1;
    }

    /// One Cognito request, its body already a JSON object.
    pub(crate) fn call(&self, op: Op, body: &Map<String, Value>) -> Answer {
        self.arrived(op);
        let params = validate::parse(op, body);
        let mut inner = self.lock();
        *inner.totals.calls.entry(op.name().to_owned()).or_default() += 1;
        match &params {
            // The body could not even be read as the operation's input.
            Err(e) if e.code == "SerializationException" => return Answer::Err(e.clone()),
            _ => {}
        }
        if self.config.deny.contains(op.name()) {
            return Answer::Err(access_denied(op, body));
        }
        if !inner.buckets.admit(op.category()) {
            let category = op.category().name().to_owned();
            inner.totals.throttled += 1;
            *inner
                .totals
                .throttled_by_category
                .entry(category)
                .or_default() += 1;
            return fail("TooManyRequestsException", "Too many requests");
        }
        let params = match params {
            Ok(p) => p,
            Err(e) => return Answer::Err(e),
        };
        let (fault, drop_after) = self.roll_fault(&mut inner);
        if fault && !drop_after {
            return Answer::Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalErrorException".into(),
                message: "Internal error (injected)".into(),
            });
        }
        let answer = actions::apply(&self.config, &mut inner.account, op, &params);
        if drop_after { Answer::Drop } else { answer }
    }

    /// Whether this request fails, and if so whether it is carried out and
    /// its connection dropped (rather than answered HTTP 500).
    fn roll_fault(&self, inner: &mut Inner) -> (bool, bool) {
        let rate = self.config.fault_rate;
        if !(rate > 0.0 && rate <= 1.0 && inner.rng.random_bool(rate)) {
            return (false, false);
        }
        inner.totals.faults += 1;
        (true, inner.rng.random_bool(0.5))
    }
}

fn access_denied(op: Op, body: &Map<String, Value>) -> ApiError {
    let pool = body
        .get("UserPoolId")
        .and_then(Value::as_str)
        .unwrap_or("*");
    let region = pool.split_once('_').map_or("us-east-1", |(r, _)| r);
    let action = format!("cognito-idp:{}", op.name());
    super::answer::err(
        "AccessDeniedException",
        format!(
            "User: arn:aws:iam::000000000000:user/simulator is not authorized to perform: {action} \
             on resource: arn:aws:cognito-idp:{region}:000000000000:userpool/{pool} \
             because no identity-based policy allows the {action} action"
        ),
    )
}

/// The pools and users that exist when the simulator starts.
fn initial_pools(config: &Config) -> HashMap<String, Pool> {
    let created = now();
    let mut pools = HashMap::new();
    let ensure = |pools: &mut HashMap<String, Pool>, id: &str| {
        if !pools.contains_key(id) {
            let settings = config
                .settings_of(id)
                .unwrap_or(&config.pool_defaults)
                .clone();
            let mut pool = Pool::new(id, settings, created);
            pool.clients = config.clients_of(id);
            pools.insert(id.to_owned(), pool);
        }
    };
    ensure(&mut pools, DEFAULT_POOL);
    for id in config.pools.keys() {
        ensure(&mut pools, id);
    }
    for seed in &config.users {
        let id = seed.user_pool_id.as_deref().unwrap_or(DEFAULT_POOL);
        ensure(&mut pools, id);
    }
    if let Some(pool) = pools.get_mut(DEFAULT_POOL) {
        for i in 1..=config.generate {
            pool.insert(&format!("user{i:06}"), User::new("CONFIRMED", created));
        }
    }
    for seed in &config.users {
        let id = seed.user_pool_id.as_deref().unwrap_or(DEFAULT_POOL);
        if let Some(pool) = pools.get_mut(id) {
            pool.insert(&seed.username, User::seeded(seed, created));
        }
    }
    pools
}
