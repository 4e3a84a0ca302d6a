//! Pauses: weather that passes by itself must not become failed rows.
//!
//! Two kinds of gate stand before every attempt the retry driver makes,
//! before it takes a call slot or a limiter permit: one for the whole run
//! (the credentials) and one per region (an outage). While a gate is shut,
//! attempts wait at it holding nothing and spending nothing of their
//! budget; one of them at a time — the one waiting longest — goes through
//! as a probe, backing off between probes ([`CREDENTIALS_PROBE_CAP`],
//! [`OUTAGE_PROBE_CAP`]); the first answer from the service opens the gate
//! again and the waiting attempts go on at their limiters' pace.
//!
//! - **Credentials.** A call refused for its credentials (expired or invalid
//!   token, a provider that cannot load) did nothing to the user. The gate
//!   shuts run-wide; each probe first reads the credentials afresh from the
//!   chain, so that `aws sso login` in another terminal is enough.
//! - **Outage.** A region is out when its calls fail as retryable (5xx,
//!   timeouts, connection errors) at least [`OUTAGE_FAILURES`] times from at
//!   least [`OUTAGE_CALLS`] different calls (fewer at a concurrency below
//!   two), with no answer from the service since the first of them. A call
//!   that kept failing while others were answered does not count: one
//!   user's failures remain that row's, spent against `--max-attempts`.
//!
//! A gate shut for longer than its wait (`--credentials-wait`,
//! `--outage-wait`) stops the run resumably. The operator is told when a
//! gate shuts, every minute while it stays shut, and when it opens; every
//! pause is kept for the summary.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::{rfc3339, spoken, time_of_day};
use crate::cognito::{Aws, CallError};
use crate::progress::{Weather, say};
use crate::shutdown::{Stop, StopReason};

/// `--credentials-wait` unless given.
pub const DEFAULT_CREDENTIALS_WAIT: Duration = Duration::from_secs(10 * 60);
/// `--outage-wait` unless given.
pub const DEFAULT_OUTAGE_WAIT: Duration = Duration::from_secs(15 * 60);
/// The first probe after a gate shuts.
pub const FIRST_PROBE: Duration = Duration::from_secs(1);
/// How much longer each probe after a failed one waits.
const PROBE_GROWTH: f64 = 1.5;
/// Longest wait between credential renewals.
pub const CREDENTIALS_PROBE_CAP: Duration = Duration::from_secs(15);
/// Longest wait between probes of a region that is out.
pub const OUTAGE_PROBE_CAP: Duration = Duration::from_secs(30);
/// How often the operator is reminded of a pause that goes on.
pub const TELL_EVERY: Duration = Duration::from_secs(60);
/// Retryable failures, with no answer in between, that make a region out.
pub const OUTAGE_FAILURES: u32 = 6;
/// Different calls those failures must come from.
pub const OUTAGE_CALLS: usize = 3;

/// Why dispatch paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The credentials were refused or could not be loaded.
    Credentials,
    /// A region's calls failed as retryable across many rows.
    Outage,
}

/// The cause as the summary names it.
pub fn cause_name(cause: Cause) -> &'static str {
    match cause {
        Cause::Credentials => "credentials",
        Cause::Outage => "outage",
    }
}

/// How the pauses behave, from the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--credentials-wait`.
    pub credentials_wait: Duration,
    /// `--outage-wait`.
    pub outage_wait: Duration,
    /// `--profile`, for the advice.
    pub profile: Option<String>,
    /// `--concurrency`.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            credentials_wait: DEFAULT_CREDENTIALS_WAIT,
            outage_wait: DEFAULT_OUTAGE_WAIT,
            profile: None,
            concurrency: 32,
        }
    }
}

/// One pause, as the summary records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PauseRecord {
    /// `credentials` or `outage`.
    pub cause: Cause,
    /// The region that was out; `null` for credentials (every region waits).
    pub region: Option<String>,
    /// When the first refused (or failed) call came (RFC 3339 UTC).
    pub started_at: String,
    /// When dispatch went on again, or the run ended; `null` while it lasts.
    pub ended_at: Option<String>,
    /// How long it lasted (so far), seconds.
    pub seconds: f64,
    /// Calls refused (or failed) while it lasted.
    pub calls_refused: u64,
    /// The error that started it: code and message.
    pub why: String,
    /// `resumed`, `stopped` (the run ended during it) or `in_progress`.
    pub outcome: String,
}

/// A shut gate.
#[derive(Debug)]
struct Shut {
    since: SystemTime,
    since_at: Instant,
    why: String,
    /// The last error seen meanwhile (a failed probe, a renewal).
    last: String,
    refused: u64,
    probing: Option<u64>,
    failed_probes: u32,
    next_probe: Instant,
    next_ticket: u64,
    waiting: BTreeSet<u64>,
    told: Instant,
}

/// Failures since the region last answered.
#[derive(Debug, Default)]
struct Streak {
    failures: u32,
    calls: HashSet<u64>,
    first: Option<(SystemTime, Instant)>,
}

#[derive(Debug, Default)]
struct State {
    streak: Streak,
    shut: Option<Shut>,
}

/// One gate: the run's credentials, or one region.
#[derive(Debug)]
struct Gate {
    cause: Cause,
    region: Option<String>,
    /// Answers from the service so far: a call's first failure notes it, so
    /// that a call failing while others are answered can be told apart.
    answers: AtomicU64,
    /// The gate is shut; read without the lock by every attempt.
    shut: AtomicBool,
    /// Failures are being counted since the last answer.
    streaking: AtomicBool,
    state: Mutex<State>,
    changed: Notify,
}

/// What a call keeps between its attempts: who it is, and how many answers
/// the region had given when it first failed.
#[derive(Debug)]
pub struct Watch {
    id: u64,
    first_failed: Option<u64>,
}

/// An attempt let through the gates.
pub struct Pass<'a> {
    pauses: &'a Pauses,
    region: Arc<Gate>,
    probes_credentials: bool,
    probes_region: bool,
}

/// What a failure costs the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// An attempt of its budget: the failure is the row's.
    Spent,
    /// Nothing: the failure is the weather's; the attempt is made again
    /// once the gate lets it through.
    Free,
}

/// Every gate of the run, and the pauses so far.
pub struct Pauses {
    settings: Settings,
    /// Pauses act only once the rows run: before, a refusal or an outage
    /// is the preflight's to report.
    armed: AtomicBool,
    credentials: Arc<Gate>,
    regions: Mutex<BTreeMap<String, Arc<Gate>>>,
    history: Mutex<Vec<PauseRecord>>,
    aws: OnceLock<Aws>,
    calls: AtomicU64,
    /// Counts the regions found answering again, for the dispatcher's rows
    /// held while their region was out.
    reopened: tokio::sync::watch::Sender<u64>,
}

impl Default for Pauses {
    fn default() -> Self {
        Pauses::new(Settings::default())
    }
}

impl Shut {
    fn new(since: SystemTime, since_at: Instant, why: String) -> Shut {
        let now = Instant::now();
        Shut {
            since,
            since_at,
            last: why.clone(),
            why,
            refused: 0,
            probing: None,
            failed_probes: 0,
            next_probe: now + FIRST_PROBE,
            next_ticket: 0,
            waiting: BTreeSet::new(),
            told: now,
        }
    }

    /// A probe failed: the next one waits longer, up to `cap`.
    fn probe_failed(&mut self, cap: Duration) {
        self.probing = None;
        self.failed_probes += 1;
        // Half as long again each time: an outage that ends is noticed
        // within a third of its length, and one that lasts costs a call
        // every `cap`.
        let wait = FIRST_PROBE.mul_f64(PROBE_GROWTH.powi(self.failed_probes.min(30) as i32));
        self.next_probe = Instant::now() + wait.min(cap);
    }

    /// Whether the operator is due a reminder (and marks it given).
    fn remind(&mut self) -> bool {
        let due = self.told.elapsed() >= TELL_EVERY;
        if due {
            self.told = Instant::now();
        }
        due
    }

    fn record(&self, cause: Cause, region: Option<String>, outcome: &str) -> PauseRecord {
        let ended = outcome != "in_progress";
        PauseRecord {
            cause,
            region,
            started_at: rfc3339(self.since),
            ended_at: ended.then(|| rfc3339(SystemTime::now())),
            seconds: self.since_at.elapsed().as_secs_f64(),
            calls_refused: self.refused,
            why: self.why.clone(),
            outcome: outcome.into(),
        }
    }
}

/// Where an attempt stands at a shut gate.
enum Turn {
    Open,
    Probe,
    Wait(Instant),
    Expired,
}

/// An attempt's place in the queue at a shut gate; leaves it when dropped.
struct Ticket<'a> {
    gate: &'a Gate,
    /// The shut it queues at (told apart by when it began) and its number.
    at: Option<(Instant, u64)>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some((since, id)) = self.at.take() {
            let mut state = self.gate.state.lock().expect("gate");
            if let Some(shut) = state.shut.as_mut().filter(|s| s.since_at == since) {
                shut.waiting.remove(&id);
            }
        }
    }
}

impl Gate {
    fn new(cause: Cause, region: Option<String>) -> Arc<Gate> {
        Arc::new(Gate {
            cause,
            region,
            answers: AtomicU64::new(0),
            shut: AtomicBool::new(false),
            streaking: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        })
    }

    /// Waits until the gate is open (`Some(false)`) or it is this attempt's
    /// turn to probe (`Some(true)`); `None` when the run stops, or is
    /// stopped here because the gate stayed shut longer than `wait`.
    async fn enter(&self, wait: Duration, stop: &Stop, pauses: &Pauses) -> Option<bool> {
        let mut ticket = Ticket {
            gate: self,
            at: None,
        };
        loop {
            // The open gate every attempt finds: no waiter is registered
            // (a lock on the gate's list of waiters, shared by every
            // attempt) when nothing will be waited for.
            if ticket.at.is_none() && !self.shut.load(Ordering::Acquire) {
                return Some(false);
            }
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake = match self.turn(&mut ticket, wait) {
                Turn::Open => return Some(false),
                Turn::Probe => return Some(true),
                Turn::Expired => {
                    stop.stop(pauses.expired(self));
                    return None;
                }
                Turn::Wait(at) => at,
            };
            tokio::select! {
                _ = stop.stopped() => return None,
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    fn turn(&self, ticket: &mut Ticket<'_>, wait: Duration) -> Turn {
        if !self.shut.load(Ordering::Acquire) && ticket.at.is_none() {
            return Turn::Open;
        }
        let mut state = self.state.lock().expect("gate");
        let Some(shut) = state.shut.as_mut() else {
            return Turn::Open;
        };
        let id = match ticket.at {
            Some((since, id)) if since == shut.since_at => id,
            _ => {
                shut.next_ticket += 1;
                shut.waiting.insert(shut.next_ticket);
                ticket.at = Some((shut.since_at, shut.next_ticket));
                shut.next_ticket
            }
        };
        let now = Instant::now();
        let deadline = shut.since_at + wait;
        if now >= deadline {
            return Turn::Expired;
        }
        let first = shut.waiting.first() == Some(&id);
        if shut.probing.is_none() && now >= shut.next_probe && first {
            shut.waiting.remove(&id);
            ticket.at = None;
            shut.probing = Some(id);
            return Turn::Probe;
        }
        match shut.probing {
            None => Turn::Wait(shut.next_probe.min(deadline)),
            Some(_) => Turn::Wait(deadline),
        }
    }

    /// A probe that came to no verdict (the run stopped, another gate held
    /// it): the next waiting attempt may probe.
    fn release_probe(&self) {
        let mut state = self.state.lock().expect("gate");
        if let Some(shut) = state.shut.as_mut() {
            shut.probing = None;
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// The service answered: the gate opens. Returns the pause it ends.
    fn answered(&self) -> Option<PauseRecord> {
        self.answers.fetch_add(1, Ordering::AcqRel);
        if !self.shut.load(Ordering::Acquire) && !self.streaking.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock().expect("gate");
        state.streak = Streak::default();
        self.streaking.store(false, Ordering::Release);
        let shut = state.shut.take()?;
        self.shut.store(false, Ordering::Release);
        drop(state);
        self.changed.notify_waiters();
        Some(shut.record(self.cause, self.region.clone(), "resumed"))
    }

    /// The pause in progress, if the gate is shut.
    fn current(&self) -> Option<PauseRecord> {
        let state = self.state.lock().expect("gate");
        let shut = state.shut.as_ref()?;
        Some(shut.record(self.cause, self.region.clone(), "in_progress"))
    }

    fn waiting(&self) -> usize {
        let state = self.state.lock().expect("gate");
        state.shut.as_ref().map_or(0, |s| s.waiting.len())
    }
}

fn why(e: &CallError) -> String {
    if e.message.is_empty() {
        e.code.clone()
    } else {
        format!("{}: {}", e.code, e.message)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.probes_credentials {
            self.pauses.credentials.release_probe();
        }
        if self.probes_region {
            self.region.release_probe();
        }
    }
}

impl Pauses {
    /// The gates, open, not yet armed.
    pub fn new(settings: Settings) -> Pauses {
        Pauses {
            settings,
            armed: AtomicBool::new(false),
            credentials: Gate::new(Cause::Credentials, None),
            regions: Mutex::new(BTreeMap::new()),
            history: Mutex::new(Vec::new()),
            aws: OnceLock::new(),
            calls: AtomicU64::new(0),
            reopened: tokio::sync::watch::Sender::new(0),
        }
    }

    /// From now on, refused credentials and outages pause instead of
    /// failing: the rows are about to run.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Whether pauses act.
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    /// Where renewed credentials come from.
    pub fn renew_with(&self, aws: Aws) {
        let _ = self.aws.set(aws);
    }

    /// A new call's watch.
    pub fn watch(&self) -> Watch {
        Watch {
            id: self.calls.fetch_add(1, Ordering::Relaxed),
            first_failed: None,
        }
    }

    fn region(&self, region: &str) -> Arc<Gate> {
        let mut regions = self.regions.lock().expect("regions");
        // Asked before every attempt: no key is allocated once the region has its gate.
        if let Some(gate) = regions.get(region) {
            return gate.clone();
        }
        regions
            .entry(region.to_owned())
            .or_insert_with(|| Gate::new(Cause::Outage, Some(region.to_owned())))
            .clone()
    }

    /// Waits until an attempt in `region` may go: the credentials gate,
    /// then the region's. A credentials probe first reads the credentials
    /// afresh. `None`: the run is stopping; nothing may be sent.
    pub async fn pass(&self, region: &str, stop: &Stop) -> Option<Pass<'_>> {
        let gate = self.region(region);
        let mut pass = Pass {
            pauses: self,
            region: gate.clone(),
            probes_credentials: false,
            probes_region: false,
        };
        if !self.armed() {
            return Some(pass);
        }
        let wait = self.settings.credentials_wait;
        loop {
            pass.probes_credentials = self.credentials.enter(wait, stop, self).await?;
            if !pass.probes_credentials {
                break;
            }
            match self.renew().await {
                Ok(()) => break,
                Err(why) => self.renewal_failed(&mut pass, why),
            }
        }
        pass.probes_region = gate.enter(self.settings.outage_wait, stop, self).await?;
        Some(pass)
    }

    async fn renew(&self) -> Result<(), String> {
        match self.aws.get() {
            Some(aws) => aws.renew_credentials().await,
            None => Ok(()),
        }
    }

    fn renewal_failed(&self, pass: &mut Pass<'_>, why: String) {
        pass.probes_credentials = false;
        let gate = &self.credentials;
        let mut state = gate.state.lock().expect("gate");
        let tell = state.shut.as_mut().and_then(|shut| {
            shut.last = format!("renewing them failed: {why}");
            shut.probe_failed(CREDENTIALS_PROBE_CAP);
            shut.remind().then(|| self.credentials_reminder(shut))
        });
        drop(state);
        gate.changed.notify_waiters();
        if let Some(text) = tell {
            say(&text);
        }
    }

    /// The service answered (a success, a refusal of the user, a throttle):
    /// whatever the attempt probed is open again.
    pub fn answered(&self, mut pass: Pass<'_>) {
        pass.probes_credentials = false;
        pass.probes_region = false;
        for gate in [&self.credentials, &pass.region] {
            if let Some(ended) = gate.answered() {
                self.ended(ended);
            }
        }
    }

    fn ended(&self, ended: PauseRecord) {
        say(&self.resumed(&ended));
        self.history.lock().expect("pauses").push(ended);
        self.reopened.send_modify(|n| *n += 1);
    }

    /// Whether `region` is out: its gate is shut.
    pub fn is_out(&self, region: &str) -> bool {
        let regions = self.regions.lock().expect("regions");
        regions
            .get(region)
            .is_some_and(|g| g.shut.load(Ordering::Acquire))
    }

    /// Changes whenever a region is found answering again.
    pub fn reopened(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reopened.subscribe()
    }
}

impl Pauses {
    /// A call refused for its credentials: it did nothing. The gate shuts
    /// (or stays shut); the attempt waits at it and is made again.
    pub fn refused(&self, mut pass: Pass<'_>, e: &CallError) {
        if e.code != "CredentialsError" {
            // The service itself refused: the region is reachable.
            pass.probes_region = false;
            if let Some(ended) = pass.region.answered() {
                self.ended(ended);
            }
        }
        let probe = std::mem::take(&mut pass.probes_credentials);
        let gate = &self.credentials;
        let mut state = gate.state.lock().expect("gate");
        let tell = match state.shut.as_mut() {
            Some(shut) => {
                shut.refused += 1;
                shut.last = why(e);
                if probe {
                    shut.probe_failed(CREDENTIALS_PROBE_CAP);
                }
                shut.remind().then(|| self.credentials_reminder(shut))
            }
            None => {
                let mut shut = Shut::new(SystemTime::now(), Instant::now(), why(e));
                shut.refused = 1;
                let text = self.credentials_shut(&shut);
                state.shut = Some(shut);
                gate.shut.store(true, Ordering::Release);
                Some(text)
            }
        };
        drop(state);
        gate.changed.notify_waiters();
        if let Some(text) = tell {
            say(&text);
        }
    }

    /// A call failed as retryable (5xx, timeout, connection): the row's
    /// failure, unless its region is out (then it is made again once the
    /// region answers). Enough such failures across calls shut the region.
    pub fn failed(&self, mut pass: Pass<'_>, watch: &mut Watch, e: &CallError) -> Cost {
        if std::mem::take(&mut pass.probes_credentials) {
            self.credentials.release_probe();
        }
        let probe = std::mem::take(&mut pass.probes_region);
        if !self.armed() {
            return Cost::Spent;
        }
        let gate = pass.region.clone();
        let mut state = gate.state.lock().expect("gate");
        let (cost, tell) = match state.shut.as_mut() {
            Some(shut) => {
                shut.refused += 1;
                shut.last = why(e);
                if probe {
                    shut.probe_failed(OUTAGE_PROBE_CAP);
                }
                let tell = shut.remind().then(|| self.outage_reminder(&gate, shut));
                (Cost::Free, tell)
            }
            None => (Cost::Spent, self.count(&gate, &mut state, watch, e)),
        };
        drop(state);
        gate.changed.notify_waiters();
        if let Some(text) = tell {
            say(&text);
        }
        cost
    }

    /// Counts a failure of a region that is not (yet) out; shuts it when
    /// the failures say the region, not a user, is the trouble.
    fn count(
        &self,
        gate: &Gate,
        state: &mut State,
        watch: &mut Watch,
        e: &CallError,
    ) -> Option<String> {
        let answers = gate.answers.load(Ordering::Acquire);
        if *watch.first_failed.get_or_insert(answers) != answers {
            // Others were answered while this call kept failing.
            return None;
        }
        let streak = &mut state.streak;
        streak.failures += 1;
        streak.calls.insert(watch.id);
        let (since, since_at) = *streak
            .first
            .get_or_insert((SystemTime::now(), Instant::now()));
        gate.streaking.store(true, Ordering::Release);
        let calls = OUTAGE_CALLS.min(2 * self.settings.concurrency.max(1));
        if streak.failures < OUTAGE_FAILURES || streak.calls.len() < calls {
            return None;
        }
        let mut shut = Shut::new(since, since_at, why(e));
        shut.refused = u64::from(streak.failures);
        let text = self.outage_shut(gate, &shut);
        state.shut = Some(shut);
        gate.shut.store(true, Ordering::Release);
        Some(text)
    }

    /// Why the run stops: `gate` stayed shut longer than its wait.
    fn expired(&self, gate: &Gate) -> StopReason {
        let state = gate.state.lock().expect("gate");
        let Some(shut) = state.shut.as_ref() else {
            return StopReason::WaitedOut("a pause outlasted its wait".into());
        };
        let at = time_of_day(shut.since);
        StopReason::WaitedOut(match &gate.region {
            None => format!(
                "the credentials were refused from {at} and not renewed within \
                 --credentials-wait {} ({} calls refused; last: {}): renew them, then --resume",
                spoken(self.settings.credentials_wait),
                shut.refused,
                shut.last
            ),
            Some(region) => format!(
                "{region} was unreachable from {at} for longer than --outage-wait {} ({} calls \
                 failed; last: {}): --resume once it answers again",
                spoken(self.settings.outage_wait),
                shut.refused,
                shut.last
            ),
        })
    }
}

impl Pauses {
    fn left(&self, shut: &Shut, wait: Duration) -> String {
        spoken(wait.saturating_sub(shut.since_at.elapsed()))
    }

    fn advice(&self) -> String {
        if self
            .aws
            .get()
            .is_some_and(Aws::credentials_from_environment)
        {
            return "they come from environment variables, which a running process cannot see \
                    renewed: stop the run (Ctrl-C) and --resume it with fresh ones"
                .into();
        }
        match &self.settings.profile {
            Some(p) => format!("renew them (e.g. `aws sso login --profile {p}`)"),
            None => "renew them (e.g. `aws sso login`, or new keys for the profile)".into(),
        }
    }

    fn credentials_shut(&self, shut: &Shut) -> String {
        let lower = shut.why.to_ascii_lowercase();
        let verb = if shut.why.starts_with("CredentialsError") {
            "could not be loaded"
        } else if lower.contains("expired") {
            "expired"
        } else {
            "were refused"
        };
        let wait = self.settings.credentials_wait;
        let waits = if wait.is_zero() {
            "--credentials-wait 0: the run stops".to_owned()
        } else {
            format!(
                "the run waits (up to {}, --credentials-wait); Ctrl-C stops it resumably",
                spoken(wait)
            )
        };
        format!(
            "cognito-reset: the credentials {verb} at {} ({}); {}; {waits}",
            time_of_day(shut.since),
            shut.why,
            self.advice()
        )
    }

    fn credentials_reminder(&self, shut: &Shut) -> String {
        format!(
            "cognito-reset: still waiting for valid credentials: refused since {}, {} calls \
             refused, {} left; last: {}; {}",
            time_of_day(shut.since),
            shut.refused,
            self.left(shut, self.settings.credentials_wait),
            shut.last,
            self.advice()
        )
    }

    fn outage_shut(&self, gate: &Gate, shut: &Shut) -> String {
        let region = gate.region.as_deref().unwrap_or_default();
        format!(
            "cognito-reset: {region}: unreachable since {}, {} calls failed (last: {}); \
             dispatch to {region} paused, one call at a time checks whether it is back; \
             waiting ({} left, --outage-wait)",
            time_of_day(shut.since),
            shut.refused,
            shut.last,
            self.left(shut, self.settings.outage_wait)
        )
    }

    fn outage_reminder(&self, gate: &Gate, shut: &Shut) -> String {
        format!(
            "cognito-reset: {}: unreachable since {}, {} calls failed; waiting ({} left)",
            gate.region.as_deref().unwrap_or_default(),
            time_of_day(shut.since),
            shut.refused,
            self.left(shut, self.settings.outage_wait)
        )
    }

    fn resumed(&self, ended: &PauseRecord) -> String {
        let after = spoken(Duration::from_secs_f64(ended.seconds));
        match &ended.region {
            None => format!(
                "cognito-reset: the credentials are accepted again after {after}; the run goes on"
            ),
            Some(region) => {
                format!("cognito-reset: {region}: answering again after {after}; the run goes on")
            }
        }
    }

    fn gates(&self) -> Vec<Arc<Gate>> {
        let regions = self.regions.lock().expect("regions");
        std::iter::once(self.credentials.clone())
            .chain(regions.values().cloned())
            .collect()
    }

    /// Every pause so far; one still going on is `in_progress`, or, once
    /// the run has ended (`ended`), `stopped`.
    pub fn records(&self, ended: bool) -> Vec<PauseRecord> {
        let mut records = self.history.lock().expect("pauses").clone();
        for gate in self.gates() {
            if let Some(mut current) = gate.current() {
                if ended {
                    current.outcome = "stopped".into();
                    current.ended_at = Some(rfc3339(SystemTime::now()));
                }
                records.push(current);
            }
        }
        records.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        records
    }

    /// The pauses going on, for the progress display.
    pub fn status(&self) -> Option<String> {
        let lines: Vec<String> = self
            .gates()
            .iter()
            .filter_map(|gate| {
                let state = gate.state.lock().expect("gate");
                let shut = state.shut.as_ref()?;
                let (what, wait) = match &gate.region {
                    None => (
                        "credentials refused".to_owned(),
                        self.settings.credentials_wait,
                    ),
                    Some(r) => (format!("{r} unreachable"), self.settings.outage_wait),
                };
                Some(format!(
                    "PAUSED: {what} since {} ({} calls refused, {} waiting, {} left)",
                    time_of_day(shut.since),
                    shut.refused,
                    shut.waiting.len(),
                    self.left(shut, wait)
                ))
            })
            .collect();
        (!lines.is_empty()).then(|| lines.join(" · "))
    }

    /// Attempts waiting at shut gates.
    pub fn waiting(&self) -> u64 {
        self.gates().iter().map(|g| g.waiting() as u64).sum()
    }
}

/// Wall time during which at least one pause went on, seconds.
pub fn time_lost(records: &[PauseRecord]) -> f64 {
    let mut spans: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| {
            let start = humantime::parse_rfc3339(&r.started_at).ok()?;
            let start = start
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            Some((start, start + r.seconds))
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut lost = 0.0;
    let mut reach = f64::MIN;
    for (start, end) in spans {
        let from = start.max(reach);
        if end > from {
            lost += end - from;
        }
        reach = reach.max(end);
    }
    lost
}

impl Weather for Pauses {
    fn status(&self) -> Option<String> {
        Pauses::status(self)
    }

    fn waiting(&self) -> u64 {
        Pauses::waiting(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::Class;

    fn armed(outage_wait: Duration) -> Arc<Pauses> {
        let pauses = Pauses::new(Settings {
            outage_wait,
            credentials_wait: outage_wait,
            ..Settings::default()
        });
        pauses.arm();
        Arc::new(pauses)
    }

    fn error(class: Class, code: &str) -> CallError {
        CallError::local(class, code, "oops".into())
    }

    async fn fail(p: &Pauses, stop: &Stop, watch: &mut Watch) -> Cost {
        let pass = p.pass("r", stop).await.unwrap();
        p.failed(
            pass,
            watch,
            &error(Class::Retryable, "InternalErrorException"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_region_is_out_after_failures_of_several_calls_with_no_answer() {
        let (p, stop) = (armed(DEFAULT_OUTAGE_WAIT), Stop::default());
        let mut calls: Vec<Watch> = (0..3).map(|_| p.watch()).collect();
        for round in 0..2 {
            for (i, watch) in calls.iter_mut().enumerate() {
                let cost = fail(&p, &stop, watch).await;
                let last = round == 1 && i == 2;
                assert_eq!(
                    cost,
                    Cost::Spent,
                    "failures before the region is out are spent"
                );
                assert_eq!(p.status().is_some(), last, "round {round} call {i}");
            }
        }
        // Calls already in flight that fail now spend nothing.
        let pass = Pass {
            pauses: &p,
            region: p.region("r"),
            probes_credentials: false,
            probes_region: false,
        };
        let e = error(Class::Retryable, "Timeout");
        assert_eq!(p.failed(pass, &mut calls[0], &e), Cost::Free);
        assert_eq!(p.records(false)[0].calls_refused, 7);
    }

    #[tokio::test(start_paused = true)]
    async fn one_user_failing_while_others_are_answered_is_not_an_outage() {
        let (p, stop) = (armed(DEFAULT_OUTAGE_WAIT), Stop::default());
        let mut lone = p.watch();
        assert_eq!(fail(&p, &stop, &mut lone).await, Cost::Spent);
        p.answered(p.pass("r", &stop).await.unwrap());
        for _ in 0..20 {
            assert_eq!(fail(&p, &stop, &mut lone).await, Cost::Spent);
        }
        let mut others: Vec<Watch> = (0..2).map(|_| p.watch()).collect();
        for watch in &mut others {
            for _ in 0..3 {
                fail(&p, &stop, watch).await;
            }
        }
        assert!(
            p.status().is_none(),
            "the lone call's failures do not count"
        );
        // Another region is not concerned either way.
        let pass = p.pass("other", &stop).await.unwrap();
        assert!(!pass.probes_region);
    }

    async fn shut_region(p: &Pauses, stop: &Stop) {
        let mut calls: Vec<Watch> = (0..3).map(|_| p.watch()).collect();
        for _ in 0..2 {
            for watch in &mut calls {
                fail(p, stop, watch).await;
            }
        }
        assert!(p.status().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn one_probe_at_a_time_and_the_first_answer_opens() {
        let (p, stop) = (armed(DEFAULT_OUTAGE_WAIT), Arc::new(Stop::default()));
        shut_region(&p, &stop).await;
        let passed = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (p, stop, passed) = (p.clone(), stop.clone(), passed.clone());
            tasks.push(tokio::spawn(async move {
                let pass = p.pass("r", &stop).await.unwrap();
                let probe = pass.probes_region;
                passed.fetch_add(1, Ordering::SeqCst);
                if probe {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    p.answered(pass);
                }
                probe
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            passed.load(Ordering::SeqCst),
            0,
            "nobody before the first probe"
        );
        assert_eq!(p.waiting(), 3);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(passed.load(Ordering::SeqCst), 1, "one probe");
        let mut probes = 0;
        for task in tasks {
            probes += u32::from(task.await.unwrap());
        }
        assert_eq!(probes, 1);
        let records = p.records(true);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].outcome, "resumed");
        assert_eq!(records[0].region.as_deref(), Some("r"));
        assert!(p.status().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probes_back_off_to_the_cap() {
        let (p, stop) = (armed(Duration::from_secs(3600)), Stop::default());
        shut_region(&p, &stop).await;
        let started = Instant::now();
        let mut at = Vec::new();
        let mut watch = p.watch();
        for _ in 0..10 {
            let pass = p.pass("r", &stop).await.unwrap();
            assert!(pass.probes_region);
            at.push(started.elapsed().as_secs());
            p.failed(pass, &mut watch, &error(Class::Retryable, "Timeout"));
        }
        assert_eq!(at, [1, 2, 4, 8, 13, 20, 32, 49, 74, 104]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_longer_than_its_wait_stops_the_run() {
        let (p, stop) = (armed(Duration::from_secs(5)), Stop::default());
        shut_region(&p, &stop).await;
        let mut watch = p.watch();
        while let Some(pass) = p.pass("r", &stop).await {
            p.failed(pass, &mut watch, &error(Class::Retryable, "Timeout"));
        }
        let Some(StopReason::WaitedOut(why)) = stop.reason() else {
            panic!("{:?}", stop.reason());
        };
        assert!(why.contains("--outage-wait 5 s"), "{why}");
        assert_eq!(p.records(true)[0].outcome, "stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn refused_credentials_shut_every_region_until_a_probe_passes() {
        let (p, stop) = (armed(DEFAULT_CREDENTIALS_WAIT), Stop::default());
        let pass = p.pass("a", &stop).await.unwrap();
        p.refused(pass, &error(Class::Credentials, "ExpiredTokenException"));
        let started = Instant::now();
        let pass = p.pass("b", &stop).await.unwrap();
        assert!(pass.probes_credentials && !pass.probes_region);
        assert_eq!(started.elapsed(), FIRST_PROBE);
        p.answered(pass);
        let records = p.records(true);
        assert_eq!(
            (records[0].cause, records[0].calls_refused),
            (Cause::Credentials, 1)
        );
        assert!(
            p.pass("a", &stop)
                .await
                .is_some_and(|p| !p.probes_credentials)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_wait_zero_stops_at_once() {
        let p = Arc::new(Pauses::new(Settings {
            credentials_wait: Duration::ZERO,
            ..Settings::default()
        }));
        p.arm();
        let stop = Stop::default();
        let pass = p.pass("a", &stop).await.unwrap();
        p.refused(pass, &error(Class::Credentials, "ExpiredTokenException"));
        assert!(p.pass("a", &stop).await.is_none());
        assert!(matches!(stop.reason(), Some(StopReason::WaitedOut(_))));
    }

    #[test]
    fn time_lost_counts_overlapping_pauses_once() {
        let record = |start: &str, seconds: f64| PauseRecord {
            cause: Cause::Outage,
            region: None,
            started_at: start.into(),
            ended_at: None,
            seconds,
            calls_refused: 0,
            why: String::new(),
            outcome: "resumed".into(),
        };
        let records = [
            record("2026-01-01T00:00:00Z", 30.0),
            record("2026-01-01T00:00:10Z", 30.0),
            record("2026-01-01T00:10:00Z", 5.0),
        ];
        assert!((time_lost(&records) - 45.0).abs() < 1e-6);
    }
}
