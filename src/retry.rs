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
//! Cancellation: once the run is stopping no attempt is sent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::cognito::{CallError, CallResult, Class, Op, Reply};
use crate::limiter::Limiters;
use crate::progress::Stats;
use crate::shutdown::Stop;

/// First backoff ceiling: short, because most retries are throttles that the
/// limiter already slows down.
pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
/// Largest backoff: long enough for a throttled account to recover, short
/// enough that a run never looks stuck.
pub const DEFAULT_CAP: Duration = Duration::from_secs(20);

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
    /// their journal intent or a backoff hold none.
    pub in_flight: Semaphore,
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
        loop {
            let failed = budget.failed + spent.failures;
            if failed > 0 && !self.wait(failed).await {
                return Answer::Stopped;
            }
            let (sent, _slot) = tokio::select! {
                biased;
                _ = self.stop.stopped() => return Answer::Stopped,
                got = async {
                    let slot = self.in_flight.acquire().await;
                    (limiter.acquire().await, slot)
                } => got,
            };
            if let Some(e) = refusal() {
                return Answer::Err(e);
            }
            spent.calls += 1;
            self.stats.count_call(category);
            let result = send().await;
            tracing::debug!(
                op = op.name(),
                attempt = failed + 1,
                ok = result.is_ok(),
                code = result.as_ref().err().map(|e| e.code.as_str()),
                "call"
            );
            let e = match result {
                Ok(reply) => {
                    limiter.succeeded(sent);
                    spent.request_id = Some(reply.request_id.clone());
                    return Answer::Ok(reply);
                }
                Err(e) => e,
            };
            if !e.request_id.is_empty() {
                spent.request_id = Some(e.request_id.clone());
            }
            match e.class {
                Class::Throttled => {
                    limiter.throttled(sent);
                    self.stats.count_throttle(category);
                }
                Class::Retryable => limiter.succeeded(sent),
                _ => {
                    limiter.succeeded(sent);
                    return Answer::Err(e);
                }
            }
            spent.failures += 1;
            let lost = e.may_have_applied() && !op.idempotent();
            if lost || budget.failed + spent.failures >= budget.max {
                return Answer::Err(e);
            }
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
