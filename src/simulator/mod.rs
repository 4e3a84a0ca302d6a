//! A Cognito-compatible endpoint on loopback (SPEC §9).
//!
//! Speaks the AWS JSON 1.1 protocol (`POST /` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>`; errors as HTTP 400/500
//! with `{"__type", "message"}` and `x-amzn-errortype`), so the real SDK,
//! the AWS CLI or boto3 can talk to it. It applies Cognito's state rules to
//! AdminResetUserPassword, enforces a request-rate quota, injects faults and
//! counts calls per user, so tests can judge a run by what the service saw.
//!
//! Users: every well-formed username exists in a known pool as CONFIRMED with
//! a verified email, unless the seed file says otherwise or its name starts
//! with one of the demo prefixes: `missing-` (does not exist), `disabled-`,
//! `unconfirmed-` (status UNCONFIRMED), `unverified-` (no verified email or
//! phone).
//!
//! `GET /_sim/stats` answers totals as JSON, for tools outside this process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod knobs;
pub use knobs::SimKnobs;

/// The pool rows go to under `--simulate` when no `--user-pool-id` is given.
pub const DEFAULT_POOL: &str = "us-east-1_SimPool1";
/// Cognito's default UserAccountRecovery quota, requests per second.
pub const DEFAULT_RECOVERY_QUOTA: f64 = 30.0;
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// A seed file line.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
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
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Every reset of this user answers with this error code …
    pub fail: Option<String>,
    /// … and this message …
    pub fail_message: Option<String>,
    /// … this many times (default: always).
    pub fail_times: Option<u32>,
}

/// The simulator's behaviour.
#[derive(Debug, Clone)]
pub struct Config {
    /// AdminResetUserPassword requests per second; `None` = no quota.
    pub quota: Option<f64>,
    /// Added latency per request.
    pub latency: Duration,
    /// Share of requests that fail (half 500, half dropped after applying).
    pub fault_rate: f64,
    /// Emails before the daily limit.
    pub email_cap: Option<u64>,
    /// EmailSendingAccount of every pool.
    pub email_sender: String,
    /// Operations answering AccessDeniedException.
    pub deny: HashSet<String>,
    /// Pools that exist besides the default and seeded ones.
    pub pools: Vec<String>,
    /// Seeded users.
    pub users: Vec<SeedUser>,
    /// Users user000001… generated in the default pool.
    pub generate: u64,
    /// Fault injector seed.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            quota: Some(DEFAULT_RECOVERY_QUOTA),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            email_cap: None,
            email_sender: "DEVELOPER".into(),
            deny: HashSet::new(),
            pools: Vec::new(),
            users: Vec::new(),
            generate: 0,
            seed: 1,
        }
    }
}

impl Config {
    /// Makes a pool exist (the run names it).
    pub fn add_pool(&mut self, id: &str) {
        if !self.pools.iter().any(|p| p == id) {
            self.pools.push(id.to_owned());
        }
    }

    /// From the command-line knobs, reading the seed file.
    pub fn from_knobs(knobs: &SimKnobs) -> Result<Config, String> {
        let mut users = Vec::new();
        if let Some(path) = &knobs.users {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let user: SeedUser =
                    serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
                users.push(user);
            }
        }
        if !(0.0..=1.0).contains(&knobs.fault_rate) {
            return Err("--sim-fault-rate must be between 0 and 1".into());
        }
        Ok(Config {
            quota: (knobs.quota > 0.0).then_some(knobs.quota),
            latency: Duration::from_millis(knobs.latency_ms),
            fault_rate: knobs.fault_rate,
            email_cap: knobs.email_cap,
            email_sender: knobs.email_sender.clone(),
            deny: knobs.deny.iter().cloned().collect(),
            pools: knobs.pools.clone(),
            users,
            generate: knobs.generate,
            seed: knobs.seed,
        })
    }
}

/// One user as the simulator sees it, with what was done to it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    /// UserStatus.
    pub status: String,
    /// Enabled.
    pub enabled: bool,
    /// `email_verified`.
    pub email_verified: bool,
    /// `phone_number_verified`.
    pub phone_verified: bool,
    /// Group names.
    pub groups: Vec<String>,
    /// AdminResetUserPassword calls received for this user (past the quota).
    pub reset_calls: u64,
    /// Of those, the ones that succeeded.
    pub resets_succeeded: u64,
    /// AdminGetUser calls.
    pub get_calls: u64,
    /// AdminUserGlobalSignOut calls that succeeded.
    pub sign_outs: u64,
    #[serde(skip)]
    fail: Option<(String, String, Option<u32>)>,
}

impl User {
    fn new(status: &str) -> User {
        User {
            status: status.into(),
            enabled: true,
            email_verified: true,
            phone_verified: false,
            groups: Vec::new(),
            reset_calls: 0,
            resets_succeeded: 0,
            get_calls: 0,
            sign_outs: 0,
            fail: None,
        }
    }

    /// A user not in the seed, by the demo prefixes; `None` = does not exist.
    fn implicit(username: &str) -> Option<User> {
        let mut user = User::new("CONFIRMED");
        if username.starts_with("missing-") {
            return None;
        } else if username.starts_with("disabled-") {
            user.enabled = false;
        } else if username.starts_with("unconfirmed-") {
            user.status = "UNCONFIRMED".into();
        } else if username.starts_with("unverified-") {
            user.email_verified = false;
        }
        Some(user)
    }

    fn attributes(&self, username: &str) -> Value {
        let mut attrs = vec![
            json!({"Name": "sub", "Value": format!("sub-{username}")}),
            json!({"Name": "email", "Value": format!("{username}@example.com")}),
            json!({"Name": "email_verified", "Value": self.email_verified.to_string()}),
        ];
        if self.phone_verified {
            attrs.push(json!({"Name": "phone_number", "Value": "+15555550100"}));
            attrs.push(json!({"Name": "phone_number_verified", "Value": "true"}));
        }
        Value::Array(attrs)
    }
}

/// Totals for `GET /_sim/stats` and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Requests per operation (every request, throttled ones included).
    pub calls: BTreeMap<String, u64>,
    /// Requests answered TooManyRequestsException.
    pub throttled: u64,
    /// Faults injected.
    pub faults: u64,
    /// Users with at least one successful reset.
    pub users_reset: u64,
    /// Users with more than one successful reset.
    pub users_reset_twice: u64,
}

struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Inner {
    pools: HashMap<String, BTreeMap<String, User>>,
    bucket: Option<Bucket>,
    emails_sent: u64,
    requests: u64,
    rng: StdRng,
    totals: Totals,
}

/// The simulated service's state.
pub struct State {
    config: Config,
    inner: Mutex<Inner>,
}

enum Answer {
    Ok(Value),
    Err(StatusCode, String, String),
    Drop,
}

fn err(code: &str, message: impl Into<String>) -> Answer {
    Answer::Err(StatusCode::BAD_REQUEST, code.into(), message.into())
}

impl State {
    /// A fresh service.
    pub fn new(config: Config) -> State {
        let mut pools: HashMap<String, BTreeMap<String, User>> = HashMap::new();
        pools.entry(DEFAULT_POOL.into()).or_default();
        for pool in &config.pools {
            pools.entry(pool.clone()).or_default();
        }
        for i in 1..=config.generate {
            pools
                .entry(DEFAULT_POOL.into())
                .or_default()
                .insert(format!("user{i:06}"), User::new("CONFIRMED"));
        }
        for seed in &config.users {
            let pool = seed.user_pool_id.clone().unwrap_or(DEFAULT_POOL.into());
            let mut user = User::new(seed.status.as_deref().unwrap_or("CONFIRMED"));
            user.enabled = seed.enabled.unwrap_or(true);
            user.email_verified = seed.email_verified.unwrap_or(true);
            user.phone_verified = seed.phone_verified.unwrap_or(false);
            user.groups = seed.groups.clone();
            user.fail = seed.fail.clone().map(|code| {
                let message = seed.fail_message.clone().unwrap_or_else(|| code.clone());
                (code, message, seed.fail_times)
            });
            pools
                .entry(pool)
                .or_default()
                .insert(seed.username.clone(), user);
        }
        let bucket = config.quota.map(|rate| Bucket {
            rate,
            capacity: rate.max(1.0),
            tokens: rate.max(1.0),
            last: Instant::now(),
        });
        State {
            inner: Mutex::new(Inner {
                pools,
                bucket,
                emails_sent: 0,
                requests: 0,
                rng: StdRng::seed_from_u64(config.seed),
                totals: Totals::default(),
            }),
            config,
        }
    }

    /// A user's record, if the user exists (implicit users only once touched).
    pub fn user(&self, pool: &str, username: &str) -> Option<User> {
        let inner = self.inner.lock().expect("sim lock");
        inner.pools.get(pool)?.get(username).cloned()
    }

    /// Every touched or seeded user of a pool.
    pub fn users(&self, pool: &str) -> Vec<(String, User)> {
        let inner = self.inner.lock().expect("sim lock");
        inner
            .pools
            .get(pool)
            .map(|users| users.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Totals so far.
    pub fn totals(&self) -> Totals {
        let inner = self.inner.lock().expect("sim lock");
        let mut totals = inner.totals.clone();
        for users in inner.pools.values() {
            for user in users.values() {
                totals.users_reset += u64::from(user.resets_succeeded > 0);
                totals.users_reset_twice += u64::from(user.resets_succeeded > 1);
            }
        }
        totals
    }

    fn call(&self, op: &str, body: &Value) -> Answer {
        let mut inner = self.inner.lock().expect("sim lock");
        *inner.totals.calls.entry(op.to_owned()).or_default() += 1;
        if self.config.deny.contains(op) {
            return err(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::000000000000:user/sim is not authorized to perform: cognito-idp:{op}"
                ),
            );
        }
        if op == "AdminResetUserPassword"
            && let Some(bucket) = &mut inner.bucket
            && !bucket.take()
        {
            inner.totals.throttled += 1;
            return err("TooManyRequestsException", "Too many requests");
        }
        let fault = self.config.fault_rate > 0.0 && inner.rng.random_bool(self.config.fault_rate);
        let drop_after = fault && inner.rng.random_bool(0.5);
        if fault {
            inner.totals.faults += 1;
            if !drop_after {
                return Answer::Err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalErrorException".into(),
                    "Internal error (injected)".into(),
                );
            }
        }
        let answer = self.apply(&mut inner, op, body);
        if drop_after { Answer::Drop } else { answer }
    }

    fn apply(&self, inner: &mut Inner, op: &str, body: &Value) -> Answer {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
        let pool_id = text("UserPoolId");
        if op == "GetProvisionedLimit" {
            let category = body
                .pointer("/LimitDefinition/Attributes/Category")
                .and_then(Value::as_str)
                .unwrap_or("UserAccountRecovery");
            let value = match category {
                "UserAccountRecovery" => self.config.quota.unwrap_or(DEFAULT_RECOVERY_QUOTA),
                _ => 120.0,
            };
            return Answer::Ok(json!({"Limit": {
                "LimitDefinition": {"LimitClass": "API_CATEGORY", "Attributes": {"Category": category}},
                "ProvisionedLimitValue": value.round() as i64,
                "FreeLimitValue": value.round() as i64,
            }}));
        }
        let Some(pool) = inner.pools.get_mut(pool_id) else {
            return err(
                "ResourceNotFoundException",
                format!("User pool {pool_id} does not exist."),
            );
        };
        match op {
            "DescribeUserPool" => Answer::Ok(json!({"UserPool": {
                "Id": pool_id, "Name": pool_id,
                "EmailConfiguration": {"EmailSendingAccount": self.config.email_sender},
            }})),
            "ListUsers" | "ListUsersInGroup" => list_users(pool, op, body),
            "AdminResetUserPassword" | "AdminGetUser" | "AdminUserGlobalSignOut" => {
                let username = text("Username");
                if !pool.contains_key(username) {
                    match User::implicit(username) {
                        Some(user) if !username.is_empty() => {
                            pool.insert(username.to_owned(), user);
                        }
                        _ => return err("UserNotFoundException", "User does not exist."),
                    }
                }
                let user = pool.get_mut(username).expect("inserted above");
                match op {
                    "AdminGetUser" => {
                        user.get_calls += 1;
                        Answer::Ok(json!({
                            "Username": username,
                            "UserStatus": user.status,
                            "Enabled": user.enabled,
                            "UserAttributes": user.attributes(username),
                            "UserCreateDate": 1.7e9,
                            "UserLastModifiedDate": 1.7e9,
                        }))
                    }
                    "AdminUserGlobalSignOut" => {
                        user.sign_outs += 1;
                        Answer::Ok(json!({}))
                    }
                    _ => {
                        let cap = self.config.email_cap;
                        let reached = cap.is_some_and(|c| inner.emails_sent >= c);
                        let answer = reset(user, reached);
                        if matches!(answer, Answer::Ok(_)) && user.email_verified {
                            inner.emails_sent += 1;
                        }
                        answer
                    }
                }
            }
            _ => err(
                "InvalidAction",
                format!("the simulator does not implement {op}"),
            ),
        }
    }
}

/// AdminResetUserPassword's state rules (as Cognito and moto apply them).
fn reset(user: &mut User, email_cap_reached: bool) -> Answer {
    user.reset_calls += 1;
    if let Some((code, message, times)) = &mut user.fail {
        let code = code.clone();
        let message = message.clone();
        match times {
            Some(0) => user.fail = None,
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    user.fail = None;
                }
                return err(&code, message);
            }
            None => return err(&code, message),
        }
    }
    if !user.enabled {
        return err("NotAuthorizedException", "User is disabled.");
    }
    if user.status != "RESET_REQUIRED" {
        if user.status != "CONFIRMED" {
            return err(
                "NotAuthorizedException",
                "User password cannot be reset in the current state.",
            );
        }
        if !user.email_verified && !user.phone_verified {
            return err(
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            );
        }
    }
    if user.email_verified && email_cap_reached {
        return err(
            "LimitExceededException",
            "Exceeded daily email limit for the operation or the account. If a higher limit is \
             required, please configure your user pool to use your own Amazon SES configuration \
             for sending email.",
        );
    }
    user.status = "RESET_REQUIRED".into();
    user.resets_succeeded += 1;
    Answer::Ok(json!({}))
}

/// Page size when the request names none (ListUsers' maximum is 60).
const LIST_PAGE: usize = 60;

fn list_users(pool: &BTreeMap<String, User>, op: &str, body: &Value) -> Answer {
    let group = body.get("GroupName").and_then(Value::as_str);
    if op == "ListUsersInGroup" {
        let group = group.unwrap_or_default();
        if !pool.values().any(|u| u.groups.iter().any(|g| g == group)) {
            return err("ResourceNotFoundException", "Group not found.");
        }
    }
    let filter = match body.get("Filter").and_then(Value::as_str) {
        Some(f) if !f.trim().is_empty() => match Filter::parse(f) {
            Some(f) => Some(f),
            None => return err("InvalidParameterException", "Error while parsing filter."),
        },
        _ => None,
    };
    let limit = body
        .get("Limit")
        .and_then(Value::as_u64)
        .map_or(LIST_PAGE, |l| (l as usize).clamp(1, LIST_PAGE));
    let token_key = if op == "ListUsers" {
        "PaginationToken"
    } else {
        "NextToken"
    };
    let after = body.get(token_key).and_then(Value::as_str);
    let mut page = Vec::new();
    let mut next = None;
    let range = match after {
        Some(a) => pool.range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        None => pool.range::<str, _>(..),
    };
    for (name, user) in range {
        if group.is_some_and(|g| !user.groups.iter().any(|ug| ug == g)) {
            continue;
        }
        if filter.as_ref().is_some_and(|f| !f.matches(name, user)) {
            continue;
        }
        if page.len() == limit {
            next = page.last().map(|(n, _): &(&String, &User)| (*n).clone());
            break;
        }
        page.push((name, user));
    }
    let users: Vec<Value> = page
        .iter()
        .map(|(name, user)| {
            json!({
                "Username": name,
                "Enabled": user.enabled,
                "UserStatus": user.status,
                "Attributes": user.attributes(name),
            })
        })
        .collect();
    let mut answer = json!({"Users": users});
    if let Some(next) = next {
        answer[token_key] = Value::String(next);
    }
    Answer::Ok(answer)
}

/// ListUsers' filter language: `attribute = "value"` or `attribute ^= "prefix"`.
struct Filter {
    attribute: String,
    prefix: bool,
    value: String,
}

impl Filter {
    fn parse(text: &str) -> Option<Filter> {
        let (attribute, prefix, rest) = if let Some((a, r)) = text.split_once("^=") {
            (a, true, r)
        } else {
            let (a, r) = text.split_once('=')?;
            (a, false, r)
        };
        let value = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
        Some(Filter {
            attribute: attribute.trim().to_owned(),
            prefix,
            value: value.to_owned(),
        })
    }

    fn matches(&self, username: &str, user: &User) -> bool {
        let actual = match self.attribute.as_str() {
            "username" => username.to_owned(),
            "email" => format!("{username}@example.com"),
            "status" => if user.enabled { "Enabled" } else { "Disabled" }.to_owned(),
            "cognito:user_status" => user.status.clone(),
            "sub" => format!("sub-{username}"),
            _ => return false,
        };
        if self.prefix {
            actual.starts_with(&self.value)
        } else {
            actual == self.value
        }
    }
}

/// A request the service function could not answer: the connection is
/// dropped, as the fault injector wants.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection dropped by the simulator")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let respond = |status: StatusCode, body: Value, extra: Option<(&str, String)>| {
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1");
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        Ok(builder
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("valid response"))
    };
    if request.method() == hyper::Method::GET && request.uri().path() == "/_sim/stats" {
        let totals = serde_json::to_value(state.totals()).expect("totals serialize");
        return respond(StatusCode::OK, totals, None);
    }
    let op = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    let body = match request.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let request_id = {
        let mut inner = state.inner.lock().expect("sim lock");
        inner.requests += 1;
        format!("00000000-0000-4000-8000-{:012x}", inner.requests)
    };
    let answer = state.call(&op, &body);
    let (status, value, error_type) = match answer {
        Answer::Drop => return Err(Dropped),
        Answer::Ok(v) => (StatusCode::OK, v, None),
        Answer::Err(status, code, message) => (
            status,
            json!({"__type": code, "message": message}),
            Some(code),
        ),
    };
    let mut response = respond(status, value, Some(("x-amzn-requestid", request_id)))?;
    if let Some(code) = error_type {
        response.headers_mut().insert(
            "x-amzn-errortype",
            code.parse().expect("error codes are header-safe"),
        );
    }
    Ok(response)
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
}

impl Simulator {
    /// Binds `addr` (port 0 for a free one) and serves in the background.
    pub async fn start(addr: &str, config: Config) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(config));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(listener, state.clone(), shutdown.clone()));
        Ok(Simulator {
            addr,
            state,
            shutdown,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service's state, for assertions.
    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Accepts connections until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(state.clone(), request));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(users: Vec<SeedUser>) -> State {
        State::new(Config {
            quota: None,
            users,
            ..Config::default()
        })
    }

    fn code(answer: Answer) -> String {
        match answer {
            Answer::Ok(_) => "ok".into(),
            Answer::Err(_, code, _) => code,
            Answer::Drop => "drop".into(),
        }
    }

    fn reset_of(state: &State, username: &str) -> String {
        code(state.call(
            "AdminResetUserPassword",
            &json!({"UserPoolId": DEFAULT_POOL, "Username": username}),
        ))
    }

    #[test]
    fn reset_applies_the_state_rules() {
        let state = state_with(vec![SeedUser {
            username: "phone-only".into(),
            email_verified: Some(false),
            phone_verified: Some(true),
            ..SeedUser::default()
        }]);
        assert_eq!(reset_of(&state, "alice"), "ok");
        assert_eq!(
            reset_of(&state, "alice"),
            "ok",
            "RESET_REQUIRED resets again, as moto does"
        );
        assert_eq!(
            state.user(DEFAULT_POOL, "alice").unwrap().resets_succeeded,
            2
        );
        assert_eq!(reset_of(&state, "missing-bob"), "UserNotFoundException");
        assert_eq!(reset_of(&state, "disabled-carol"), "NotAuthorizedException");
        assert_eq!(
            reset_of(&state, "unconfirmed-dan"),
            "NotAuthorizedException"
        );
        assert_eq!(
            reset_of(&state, "unverified-eve"),
            "InvalidParameterException"
        );
        assert_eq!(reset_of(&state, "phone-only"), "ok");
        let other = code(state.call(
            "AdminResetUserPassword",
            &json!({"UserPoolId": "eu-west-1_Nope", "Username": "x"}),
        ));
        assert_eq!(other, "ResourceNotFoundException");
    }

    #[test]
    fn scripted_failures_run_out() {
        let state = state_with(vec![SeedUser {
            username: "flaky".into(),
            fail: Some("InternalErrorException".into()),
            fail_times: Some(2),
            ..SeedUser::default()
        }]);
        assert_eq!(reset_of(&state, "flaky"), "InternalErrorException");
        assert_eq!(reset_of(&state, "flaky"), "InternalErrorException");
        assert_eq!(reset_of(&state, "flaky"), "ok");
    }

    #[test]
    fn quota_throttles_beyond_its_bucket() {
        let state = State::new(Config {
            quota: Some(5.0),
            ..Config::default()
        });
        let codes: Vec<String> = (0..8).map(|i| reset_of(&state, &format!("u{i}"))).collect();
        assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 5);
        assert_eq!(state.totals().throttled, 3);
    }

    #[test]
    fn daily_email_cap_is_enforced() {
        let state = State::new(Config {
            quota: None,
            email_cap: Some(1),
            ..Config::default()
        });
        assert_eq!(reset_of(&state, "a"), "ok");
        assert_eq!(reset_of(&state, "b"), "LimitExceededException");
    }

    #[test]
    fn listing_pages_and_filters() {
        let state = State::new(Config {
            generate: 130,
            users: vec![SeedUser {
                username: "zed".into(),
                enabled: Some(false),
                groups: vec!["staff".into()],
                ..SeedUser::default()
            }],
            ..Config::default()
        });
        let Answer::Ok(page) = state.call("ListUsers", &json!({"UserPoolId": DEFAULT_POOL})) else {
            panic!()
        };
        assert_eq!(page["Users"].as_array().unwrap().len(), 60);
        assert_eq!(page["PaginationToken"], "user000060");
        let Answer::Ok(page) = state.call(
            "ListUsers",
            &json!({"UserPoolId": DEFAULT_POOL, "Filter": "status = \"Disabled\""}),
        ) else {
            panic!()
        };
        assert_eq!(page["Users"][0]["Username"], "zed");
        let Answer::Ok(page) = state.call(
            "ListUsersInGroup",
            &json!({"UserPoolId": DEFAULT_POOL, "GroupName": "staff"}),
        ) else {
            panic!()
        };
        assert_eq!(page["Users"].as_array().unwrap().len(), 1);
    }
}
