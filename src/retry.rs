//! The one retry driver: every call the tool makes goes through
//! [`Caller::call`] — resets, checks, sign-outs, disables, listing pages,
//! pool descriptions. Only the operation and its limiter differ.
//!
//! Each attempt holds one of the `--concurrency` slots for calls in flight
//! and waits for its category's limiter permit; a failed attempt
//! waits its backoff (exponential with full jitter, as the AWS SDKs do:
//! `rand(0, min(cap, base · 2^(attempt-1)))`) and the permit again. A
//! throttle slows the category's limiter. Transient failures are retried up
//! to `--max-attempts`; everything else goes back to the caller at once.
//! A reset is not idempotent: when its answer is lost (timeout, dropped
//! connection, 5xx) the reset may have been applied, so the driver returns
//! that answer instead of sending it again, and the row checks first.
//! Before its slot and permit, each attempt passes the pauses' gates
//! (`pause`): while the credentials are refused or its region is out it
//! waits there, holding nothing and spending none of its attempts.
//! Cancellation: once the run is stopping no attempt is sent, and an attempt
//! still unanswered [`STOP_GRACE`] later is given up as lost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::cognito::{CallError, CallResult, Class, Op, Reply};
use crate::limiter::{Category, Limiter, Limiters};
use crate::pause::{Cost, Pass, Pauses, Watch};
use crate::progress::Stats;
use crate::shutdown::Stop;

/// First backoff ceiling: short, because most retries are throttles that the
/// limiter already slows down.
pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
/// Largest backoff: long enough for a throttled account to recover, short
/// enough that a run never looks stuck.
pub const DEFAULT_CAP: Duration = Duration::from_secs(20);
/// How long a stopping run waits for calls in flight: short enough for a
/// CI runner's usual 10 s between SIGTERM and SIGKILL, the report and the
/// journal written in what is left.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Ceiling of the first retry's wait.
    pub base: Duration,
    /// Ceiling of any wait.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: DEFAULT_BASE,
            cap: DEFAULT_CAP,
        }
    }
}

impl Backoff {
    /// Upper bound of the wait before retry number `retry` (1 = first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry number `retry`, given a uniform sample in `[0, 1)`.
    pub fn delay_with(&self, retry: u32, unit: f64) -> Duration {
        self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The wait before retry number `retry`, jittered.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, rand::random_range(0.0..1.0))
    }
}

/// The attempts a call may make. The budget belongs to whoever makes the
/// call — a row's life, or the preflight and the listing, which start each
/// call afresh — and the driver only spends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Failed attempts already spent for the same purpose (a reset sent
    /// again after a check): the backoff goes on from there.
    pub failed: u32,
    /// Failed attempts allowed in all (`--max-attempts`).
    pub max: u32,
}

impl Attempts {
    /// A call with nothing spent yet.
    pub fn fresh(max: u32) -> Attempts {
        Attempts { failed: 0, max }
    }
}

/// What a call spent of its budget.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spent {
    /// Attempts sent.
    pub calls: u32,
    /// Of those, attempts that failed and counted against the budget.
    pub failures: u32,
    /// The service's request id of the last answer that had one.
    pub request_id: Option<String>,
}

/// What a call came to.
#[derive(Debug)]
pub enum Answer<T> {
    /// It succeeded.
    Ok(Reply<T>),
    /// It failed for good, or (a reset) its answer was lost.
    Err(CallError),
    /// The run is stopping: nothing was sent (or sent again).
    Stopped,
}

/// The retry driver, shared by every task that calls Cognito.
pub struct Caller {
    /// Waits between attempts.
    pub backoff: Backoff,
    /// One limiter per (region, category).
    pub limiters: Arc<Limiters>,
    /// The run's cancellation.
    pub stop: Arc<Stop>,
    /// Live counters: calls, throttles and retries per category.
    pub stats: Arc<Stats>,
    /// `--concurrency` permits: one per call in flight. Rows waiting for
    /// their journal intent, a backoff or a pause hold none.
    pub in_flight: Semaphore,
    /// The gates every attempt passes first: credentials, outages.
    pub pauses: Arc<Pauses>,
}

impl Caller {
    /// Makes one call in `region`, retrying as the call's class says, within
    /// `budget`; returns the answer and what it spent.
    pub async fn call<T, F, Fut>(
        &self,
        region: &str,
        op: Op,
        budget: Attempts,
        send: F,
    ) -> (Answer<T>, Spent)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = CallResult<T>>,
    {
        self.call_unless(region, op, budget, || None, send).await
    }

    /// [`Caller::call`], but each attempt asks `refusal` first, once it holds
    /// its slot and permit, whether something learnt meanwhile (another row's
    /// answer) forbids it; if so, that is the answer and nothing is sent.
    pub async fn call_unless<T, F, Fut>(
        &self,
        region: &str,
        op: Op,
        budget: Attempts,
        refusal: impl Fn() -> Option<CallError>,
        mut send: F,
    ) -> (Answer<T>, Spent)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = CallResult<T>>,
    {
        let mut spent = Spent::default();
        let answer = self
            .attempts(region, op, budget, &mut spent, refusal, &mut send)
            .await;
        (answer, spent)
    }

    async fn attempts<T, F, Fut>(
        &self,
        region: &str,
        op: Op,
        budget: Attempts,
        spent: &mut Spent,
        refusal: impl Fn() -> Option<CallError>,
        send: &mut F,
    ) -> Answer<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = CallResult<T>>,
    {
        let category = op.category();
        let limiter = self.limiters.get(region, category);
        let mut watch = self.pauses.watch();
        loop {
            let failed = budget.failed + spent.failures;
            if failed > 0 && !self.wait(failed).await {
                return Answer::Stopped;
            }
            let Some(pass) = self.pass(region).await else {
                return Answer::Stopped;
            };
            let Some((sent, _slot)) = self.slot(&limiter).await else {
                return Answer::Stopped;
            };
            if let Some(e) = refusal() {
                return Answer::Err(e);
            }
            self.stats.count_call(category);
            let result = self.send(send).await;
            tracing::debug!(
                op = op.name(),
                attempt = failed + 1,
                ok = result.is_ok(),
                code = result.as_ref().err().map(|e| e.code.as_str()),
                "call"
            );
            let sent = Sent {
                limiter: &limiter,
                category,
                at: sent,
                pass,
            };
            let e = match self.after(result, sent, &mut watch, spent) {
                After::Return(answer) => return answer,
                After::Again => continue,
                After::Failed(e) => e,
            };
            let lost = e.may_have_applied() && !op.idempotent();
            if lost || budget.failed + spent.failures >= budget.max {
                return Answer::Err(e);
            }
        }
    }

    /// A call slot and the category's permit; `None` if the run stops first.
    async fn slot(&self, limiter: &Limiter) -> Option<(Instant, SemaphorePermit<'_>)> {
        tokio::select! {
            biased;
            _ = self.stop.stopped() => None,
            got = async {
                let slot = self.in_flight.acquire().await.ok()?;
                Some((limiter.acquire().await, slot))
            } => got,
        }
    }

    /// Takes an attempt's result: what it spent, what its limiter and the
    /// pauses learn, and whether the call is over.
    fn after<T>(
        &self,
        result: CallResult<T>,
        sent: Sent<'_, '_>,
        watch: &mut Watch,
        spent: &mut Spent,
    ) -> After<T> {
        let Sent {
            limiter,
            category,
            at,
            pass,
        } = sent;
        let e = match result {
            Ok(reply) => {
                spent.calls += 1;
                limiter.succeeded(at);
                self.pauses.answered(pass);
                spent.request_id = Some(reply.request_id.clone());
                return After::Return(Answer::Ok(reply));
            }
            Err(e) => e,
        };
        let cost = self.judge(&e, pass, watch);
        if e.class == Class::Throttled {
            limiter.throttled(at);
            self.stats.count_throttle(category);
        } else {
            limiter.succeeded(at);
        }
        match cost {
            // Refused before anything happened: not an attempt of the row.
            Some(_) if e.class == Class::Credentials => return After::Again,
            Some(Cost::Spent) => spent.failures += 1,
            Some(Cost::Free) => {}
            None => {}
        }
        spent.calls += 1;
        spent.note(&e);
        match cost {
            None => After::Return(Answer::Err(e)),
            Some(_) => After::Failed(e),
        }
    }

    /// What a failed attempt costs, as its class and the pauses say;
    /// `None` when the error goes back to the caller at once.
    fn judge(&self, e: &CallError, pass: Pass<'_>, watch: &mut Watch) -> Option<Cost> {
        match e.class {
            Class::Throttled => {
                self.pauses.answered(pass);
                Some(Cost::Spent)
            }
            Class::Credentials if self.pauses.armed() => {
                Stats::bump(&self.stats.refused);
                self.pauses.refused(pass, e);
                Some(Cost::Free)
            }
            // Calls given up because the run is stopping say nothing of the
            // service.
            Class::Retryable if self.stop.is_stopped() => Some(Cost::Spent),
            Class::Retryable => {
                let kind = match e.code.as_str() {
                    "Timeout" => &self.stats.timeouts,
                    "ConnectionError" => &self.stats.connection_errors,
                    _ => &self.stats.server_errors,
                };
                Stats::bump(kind);
                Some(self.pauses.failed(pass, watch, e))
            }
            Class::Credentials => None,
            _ => {
                self.pauses.answered(pass);
                None
            }
        }
    }

    /// Waits at the pauses' gates, counted as waiting meanwhile.
    async fn pass(&self, region: &str) -> Option<Pass<'_>> {
        self.pauses.pass(region, &self.stop).await
    }

    /// Sends one attempt, counted in flight. Once the run is stopping, an
    /// attempt still unanswered after [`STOP_GRACE`] is given up as lost
    /// (a reset's intent stays in the journal, and a resume checks it), so
    /// that a stop is never held up by a service that does not answer.
    async fn send<T, F, Fut>(&self, send: &mut F) -> CallResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = CallResult<T>>,
    {
        let _sending = self.stats.sending();
        let grace = async {
            self.stop.stopped().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::select! {
            // In order: the call is polled first, and no random number is
            // drawn for every attempt.
            biased;
            result = send() => result,
            _ = grace => Err(CallError::local(
                Class::Retryable,
                "Timeout",
                format!(
                    "no answer {} s after the run began to stop; given up",
                    STOP_GRACE.as_secs()
                ),
            )),
        }
    }

    /// Waits the backoff before retry number `retry`; `false` if the run
    /// stopped meanwhile.
    async fn wait(&self, retry: u32) -> bool {
        let _retrying = self.stats.retrying();
        tokio::select! {
            _ = self.stop.stopped() => false,
            _ = tokio::time::sleep(self.backoff.delay(retry)) => true,
        }
    }
}

/// An attempt that was sent: its limiter, when, and the pass it went
/// through.
struct Sent<'l, 'p> {
    limiter: &'l Limiter,
    category: Category,
    at: Instant,
    pass: Pass<'p>,
}

/// What an attempt's result means for its call.
enum After<T> {
    /// The call is over.
    Return(Answer<T>),
    /// Made again, nothing spent (refused credentials).
    Again,
    /// Failed, retryable as far as its class goes.
    Failed(CallError),
}

impl Spent {
    /// Keeps the request id of a failed attempt's answer, when it had one.
    fn note(&mut self, e: &CallError) {
        if !e.request_id.is_empty() {
            self.request_id = Some(e.request_id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::default();
        let ms: Vec<u128> = (1..=10).map(|r| b.ceiling(r).as_millis()).collect();
        assert_eq!(
            ms,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]
        );
        assert_eq!(b.ceiling(u32::MAX), DEFAULT_CAP);
    }

    #[test]
    fn jitter_is_full_between_zero_and_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay_with(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay_with(3, 0.5), Duration::from_millis(200));
        for _ in 0..1000 {
            assert!(b.delay(4) <= b.ceiling(4));
        }
    }
}
