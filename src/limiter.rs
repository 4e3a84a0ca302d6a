//! Pacing: one [`Limiter`] per (region, [`Category`]), taken before every
//! API call.
//!
//! Cognito's request-rate quotas are per account, per region and per category
//! of operation, shared by every pool there and by the application's own live
//! traffic. So a reset and a sign-out do not share one budget: each category
//! has its own limiter with its own rate (`--rate`, `--check-rate`,
//! `--sign-out-rate`, `--list-rate`), each adaptive on its own throttles.
//!
//! Two layers. The ceiling is a `governor` GCRA limiter at `--rate` whose
//! burst is a tenth of a second's worth, so a run starts steadily. Below it
//! an adaptive gate follows the service: each `TooManyRequestsException`
//! cuts the effective rate multiplicatively, and the rate climbs back
//! additively while calls succeed (AIMD, as TCP does).
//!
//! Only a throttle on a call *sent after* the last cut cuts again: calls
//! already in flight when the rate dropped were paced at the old rate, and
//! punishing the new rate for them would collapse it. A throttle that comes
//! before any call succeeded at the new rate means the cut was not enough,
//! so the next cut is deeper.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// Reset calls per second per region when `--rate` is not given: 30/s is
/// Cognito's default UserAccountRecovery quota (not adjustable), shared with
/// the application's own password-recovery traffic; 25 leaves it headroom.
pub const DEFAULT_RATE: f64 = 25.0;
/// Share of the provisioned quota that `--rate auto` uses, leaving the rest
/// to live traffic.
pub const AUTO_RATE_SHARE: f64 = 0.8;
/// Rate kept after a throttle.
const GENTLE_CUT: f64 = 0.9;
/// Rate kept after a throttle that came before any success at the cut rate.
const DEEP_CUT: f64 = 0.7;
/// Share of the current rate regained per second while well below the rate
/// at which the last throttle came: quick recovery from a cut.
const FAST_CLIMB_PER_SEC: f64 = 0.05;
/// Share of the current rate regained per second near that rate: the real
/// quota is close, so it is probed slowly, with few throttles.
const PROBE_CLIMB_PER_SEC: f64 = 0.005;
/// Least climb, calls per second per second, so that a low rate still moves.
const MIN_CLIMB_PER_SEC: f64 = 0.005;
/// Above this share of the rate at the last throttle, the climb probes.
const PROBE_ZONE: f64 = 0.95;
/// A throttle this old says nothing more of the quota: the climb is fast
/// again, up to the ceiling.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// A category of Cognito operations with a request-rate quota of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// `AdminResetUserPassword`.
    UserAccountRecovery,
    /// `AdminGetUser`.
    UserRead,
    /// `AdminUserGlobalSignOut`, `AdminDisableUser`.
    UserUpdate,
    /// `ListUsers`, `ListUsersInGroup`.
    UserList,
    /// `DescribeUserPool`, `GetProvisionedLimit`.
    UserPoolRead,
    /// `ListUserPoolClients`, `DescribeUserPoolClient`.
    UserPoolClientRead,
}

impl Category {
    /// Every category, in the order the plan and summary show them.
    pub const ALL: [Category; 6] = [
        Category::UserAccountRecovery,
        Category::UserRead,
        Category::UserUpdate,
        Category::UserList,
        Category::UserPoolRead,
        Category::UserPoolClientRead,
    ];

    /// Cognito's name for the category.
    pub fn name(self) -> &'static str {
        match self {
            Category::UserAccountRecovery => "UserAccountRecovery",
            Category::UserRead => "UserRead",
            Category::UserUpdate => "UserUpdate",
            Category::UserList => "UserList",
            Category::UserPoolRead => "UserPoolRead",
            Category::UserPoolClientRead => "UserPoolClientRead",
        }
    }

    /// AWS's default quota, requests per second per account and region.
    pub fn aws_default(self) -> f64 {
        match self {
            Category::UserAccountRecovery => 30.0,
            Category::UserRead => 120.0,
            Category::UserUpdate => 25.0,
            Category::UserList => 30.0,
            Category::UserPoolRead | Category::UserPoolClientRead => 15.0,
        }
    }

    /// The tool's default rate: a safe margin under AWS's default, leaving
    /// room for the application's own traffic in the same category.
    pub fn tool_default(self) -> f64 {
        match self {
            Category::UserAccountRecovery => DEFAULT_RATE,
            Category::UserRead => 100.0,
            Category::UserUpdate => 20.0,
            Category::UserList => 25.0,
            Category::UserPoolRead | Category::UserPoolClientRead => 10.0,
        }
    }

    /// The flag that sets this category's rate.
    pub fn flag(self) -> &'static str {
        match self {
            Category::UserAccountRecovery => "--rate",
            Category::UserRead => "--check-rate",
            Category::UserUpdate => "--sign-out-rate",
            Category::UserList => "--list-rate",
            Category::UserPoolRead | Category::UserPoolClientRead => "(fixed)",
        }
    }

    /// Position in [`Category::ALL`], for per-category counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A ceiling on calls per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// At most this many calls per second.
    PerSecond(f64),
    /// No pacing at all (benchmarks against a local endpoint).
    Unlimited,
}

struct Adaptive {
    /// Current effective rate, ≤ ceiling.
    rate: f64,
    /// Earliest instant the next call may go when the gate is engaged.
    next: Instant,
    /// When the rate was last cut; throttles of calls sent until then are old news.
    last_cut: Option<Instant>,
    /// When the rate last climbed.
    last_climb: Instant,
    /// Whether a call sent after the last cut has succeeded.
    success_since_cut: bool,
    /// Cuts so far: a slot reserved before a cut is void and is reserved again
    /// at the new rate.
    cuts: u64,
    /// The rate when the last throttle came: where the real quota probably is.
    throttled_at: f64,
}

/// The pace for one region.
pub struct Limiter {
    ceiling: Option<DefaultDirectRateLimiter>,
    ceiling_rate: f64,
    adaptive: Mutex<Adaptive>,
}

impl Limiter {
    /// A limiter at `rate`.
    pub fn new(rate: Rate) -> Limiter {
        let now = Instant::now();
        let (ceiling, ceiling_rate) = match rate {
            Rate::Unlimited => (None, f64::INFINITY),
            Rate::PerSecond(r) => {
                let r = r.max(0.001);
                let burst = NonZeroU32::new((r / 10.0).ceil().clamp(1.0, 1e6) as u32)
                    .unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(Duration::from_secs_f64(1.0 / r))
                    .expect("positive period")
                    .allow_burst(burst);
                (Some(RateLimiter::direct(quota)), r)
            }
        };
        Limiter {
            ceiling,
            ceiling_rate,
            adaptive: Mutex::new(Adaptive {
                rate: ceiling_rate,
                next: now,
                last_cut: None,
                last_climb: now,
                success_since_cut: true,
                cuts: 0,
                throttled_at: ceiling_rate,
            }),
        }
    }

    /// The rate currently in force (calls per second).
    pub fn current_rate(&self) -> f64 {
        let mut a = self.adaptive.lock().expect("limiter lock");
        self.climb(&mut a, Instant::now());
        a.rate
    }

    /// Climbs back toward the ceiling: quickly up to just under the rate at
    /// which the last throttle came, then slowly, probing for the quota.
    fn climb(&self, a: &mut Adaptive, now: Instant) {
        if a.last_cut
            .is_some_and(|cut| now.saturating_duration_since(cut) > FORGET_AFTER)
        {
            a.throttled_at = self.ceiling_rate;
        }
        let mut secs = now.saturating_duration_since(a.last_climb).as_secs_f64();
        let zone = PROBE_ZONE * a.throttled_at;
        while a.rate < self.ceiling_rate && secs > 0.0 {
            let (share, limit) = if a.rate < zone {
                (FAST_CLIMB_PER_SEC, zone.min(self.ceiling_rate))
            } else {
                (PROBE_CLIMB_PER_SEC, self.ceiling_rate)
            };
            let step = (a.rate * share).max(MIN_CLIMB_PER_SEC);
            let used = ((limit - a.rate) / step).min(secs);
            a.rate = (a.rate + step * used).min(limit);
            secs -= used;
            if used <= 0.0 {
                break;
            }
        }
        a.last_climb = now;
    }

    /// Waits for a permit; returns the instant the call may be sent, which
    /// the caller hands back to [`Limiter::throttled`] if the call is throttled.
    ///
    /// The ceiling comes first and the adaptive gate last, so that no call
    /// already past the gate can leave at a rate that a cut has since lowered.
    pub async fn acquire(&self) -> Instant {
        if let Some(ceiling) = &self.ceiling {
            ceiling.until_ready().await;
        }
        loop {
            let (slot, epoch) = {
                let mut a = self.adaptive.lock().expect("limiter lock");
                let now = Instant::now();
                self.climb(&mut a, now);
                if a.rate >= self.ceiling_rate {
                    // The gate is open: keep its schedule current so that it
                    // starts from now when it engages.
                    a.next = now;
                    return now;
                }
                let slot = a.next.max(now);
                a.next = slot + Duration::from_secs_f64(1.0 / a.rate);
                (slot, a.cuts)
            };
            tokio::time::sleep_until(slot).await;
            if self.adaptive.lock().expect("limiter lock").cuts == epoch {
                return Instant::now();
            }
        }
    }

    /// A call sent at `sent_at` succeeded (or failed for a reason other than
    /// throttling).
    pub fn succeeded(&self, sent_at: Instant) {
        let mut a = self.adaptive.lock().expect("limiter lock");
        if a.last_cut.is_none_or(|cut| sent_at > cut) {
            a.success_since_cut = true;
        }
    }

    /// A call sent at `sent_at` was throttled: cut the rate unless it was
    /// already cut after that call left.
    pub fn throttled(&self, sent_at: Instant) {
        if self.ceiling.is_none() {
            return;
        }
        let mut a = self.adaptive.lock().expect("limiter lock");
        if a.last_cut.is_some_and(|cut| sent_at <= cut) {
            return;
        }
        let now = Instant::now();
        self.climb(&mut a, now);
        let keep = if a.success_since_cut {
            GENTLE_CUT
        } else {
            DEEP_CUT
        };
        let floor = self.ceiling_rate.min(1.0);
        a.throttled_at = a.rate;
        a.rate = (a.rate * keep).max(floor);
        a.last_cut = Some(now);
        a.success_since_cut = false;
        a.cuts += 1;
        a.next = now + Duration::from_secs_f64(1.0 / a.rate);
    }
}

/// The rate of each category, as asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates([Rate; Category::ALL.len()]);

impl Default for Rates {
    fn default() -> Self {
        Rates(Category::ALL.map(|c| Rate::PerSecond(c.tool_default())))
    }
}

impl Rates {
    /// The rate of one category.
    pub fn get(&self, category: Category) -> Rate {
        self.0[category.index()]
    }

    /// Sets the rate of one category.
    pub fn set(&mut self, category: Category, rate: Rate) {
        self.0[category.index()] = rate;
    }
}

/// Every limiter of the run, made on first use: one per (region, category).
/// A region first met mid-run (a row of standard input naming a new pool)
/// gets the same rates as the others.
#[derive(Default)]
pub struct Limiters {
    rates: Mutex<Rates>,
    /// Rates decided for one region only (`--rate auto`).
    overrides: Mutex<HashMap<(String, Category), Rate>>,
    map: Mutex<HashMap<(String, Category), Arc<Limiter>>>,
}

impl Limiters {
    /// Limiters at these rates.
    pub fn new(rates: Rates) -> Limiters {
        Limiters {
            rates: Mutex::new(rates),
            ..Limiters::default()
        }
    }

    /// Sets one region's rate for a category before its limiter is first used.
    pub fn set_region_rate(&self, region: &str, category: Category, rate: Rate) {
        let mut overrides = self.overrides.lock().expect("limiters lock");
        overrides.insert((region.to_owned(), category), rate);
    }

    /// The rate a (region, category) runs at.
    pub fn rate(&self, region: &str, category: Category) -> Rate {
        let overrides = self.overrides.lock().expect("limiters lock");
        match overrides.get(&(region.to_owned(), category)) {
            Some(rate) => *rate,
            None => self.rates.lock().expect("limiters lock").get(category),
        }
    }

    /// The limiter of a (region, category).
    pub fn get(&self, region: &str, category: Category) -> Arc<Limiter> {
        // Every row asks for its limiter: a few entries, found without
        // allocating a key or hashing one.
        let found = self
            .map
            .lock()
            .expect("limiters lock")
            .iter()
            .find_map(|((r, c), limiter)| (r == region && *c == category).then(|| limiter.clone()));
        if let Some(limiter) = found {
            return limiter;
        }
        let rate = self.rate(region, category);
        let mut map = self.map.lock().expect("limiters lock");
        map.entry((region.to_owned(), category))
            .or_insert_with(|| Arc::new(Limiter::new(rate)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn throttle_cuts_and_success_climbs_back() {
        let limiter = Limiter::new(Rate::PerSecond(100.0));
        let sent = limiter.acquire().await;
        limiter.throttled(sent);
        let r = limiter.current_rate();
        assert!((r - 90.0).abs() < 0.5, "{r}");
        // A second throttle of a call sent before the cut changes nothing.
        limiter.throttled(sent);
        assert!((limiter.current_rate() - 90.0).abs() < 0.5);
        // A throttle after the cut, with no success in between, cuts deeper.
        tokio::time::advance(Duration::from_millis(1)).await;
        let sent = limiter.acquire().await;
        limiter.throttled(sent);
        assert!((limiter.current_rate() - 63.0).abs() < 0.5);
        // Quickly back to just under the rate of the last throttle (90)…
        tokio::time::advance(Duration::from_secs(8)).await;
        let r = limiter.current_rate();
        assert!((r - 85.5).abs() < 1.0, "{r}");
        // …then probing slowly: about half a percent a second.
        tokio::time::advance(Duration::from_secs(4)).await;
        let r = limiter.current_rate();
        assert!(r > 86.0 && r < 88.0, "{r}");
        // A throttle long past says nothing more: back to the ceiling.
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(limiter.current_rate(), 100.0);
    }

    /// Regression: against a quota well below the ceiling the rate climbed
    /// back by a fixed call per second every second, so at a 5/s quota one
    /// call in four or five was throttled to the end of the run.
    #[tokio::test(start_paused = true)]
    async fn against_a_low_quota_few_calls_are_throttled() {
        let limiter = Limiter::new(Rate::PerSecond(25.0));
        let quota = 5.0;
        let (mut calls, mut throttled) = (0u32, 0u32);
        // A token bucket of one second's worth, as Cognito enforces.
        let (mut tokens, mut last) = (quota, Instant::now());
        while calls < 2000 {
            // A call at the rate in force (the gate's pacing, without the
            // ceiling's real-time clock).
            let rate = limiter.current_rate();
            tokio::time::advance(Duration::from_secs_f64(1.0 / rate)).await;
            let now = Instant::now();
            tokens = (tokens + now.duration_since(last).as_secs_f64() * quota).min(quota);
            last = now;
            calls += 1;
            if tokens >= 1.0 {
                tokens -= 1.0;
                limiter.succeeded(now);
            } else {
                throttled += 1;
                limiter.throttled(now);
            }
        }
        let share = f64::from(throttled) / f64::from(calls);
        assert!(share < 0.05, "{throttled} of {calls} throttled");
        let rate = limiter.current_rate();
        assert!(rate > 4.0 && rate < 5.5, "settled at {rate}/s");
    }

    #[tokio::test(start_paused = true)]
    async fn cut_rate_paces_calls() {
        let limiter = Limiter::new(Rate::PerSecond(100.0));
        for _ in 0..6 {
            tokio::time::advance(Duration::from_millis(1)).await;
            let sent = limiter.acquire().await;
            limiter.throttled(sent);
        }
        let rate = limiter.current_rate();
        assert!(rate < 20.0, "{rate}");
        let start = limiter.acquire().await;
        for _ in 0..10 {
            limiter.acquire().await;
        }
        // Ten intervals at the cut rate, which climbs by 1/s meanwhile.
        let took = start.elapsed().as_secs_f64();
        assert!(
            took >= 10.0 / (rate + 1.0) && took <= 10.0 / rate + 0.01,
            "took {took} at {rate}/s"
        );
    }

    /// Regression: calls that had already reserved a slot (or passed the gate)
    /// left at the old rate after a cut, so a run against a hidden quota kept
    /// being throttled and collapsed to the floor rate.
    #[tokio::test(start_paused = true)]
    async fn a_cut_slows_calls_already_waiting_for_a_slot() {
        let limiter = std::sync::Arc::new(Limiter::new(Rate::PerSecond(100.0)));
        let first = limiter.acquire().await;
        limiter.throttled(first); // 90/s: the gate is engaged
        let start = Instant::now();
        let waiting: Vec<_> = (0..10)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move { l.acquire().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        limiter.throttled(Instant::now()); // 63/s, before any success
        let mut last = start;
        for w in waiting {
            last = last.max(w.await.unwrap());
        }
        let took = last.duration_since(start).as_secs_f64();
        // At 90/s the ten would be done in about 0.11 s; at 63/s it takes 0.15 s.
        assert!(took > 0.14, "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn categories_of_one_region_have_their_own_limiters_and_rates() {
        let mut rates = Rates::default();
        rates.set(Category::UserRead, Rate::PerSecond(7.0));
        let limiters = Limiters::new(rates);
        limiters.set_region_rate(
            "eu-west-1",
            Category::UserAccountRecovery,
            Rate::PerSecond(3.0),
        );
        let reset = limiters.get("eu-west-1", Category::UserAccountRecovery);
        let read = limiters.get("eu-west-1", Category::UserRead);
        assert!(!Arc::ptr_eq(&reset, &read));
        assert!(Arc::ptr_eq(
            &read,
            &limiters.get("eu-west-1", Category::UserRead)
        ));
        assert_eq!(reset.current_rate(), 3.0);
        assert_eq!(read.current_rate(), 7.0);
        assert_eq!(
            limiters
                .get("us-east-1", Category::UserAccountRecovery)
                .current_rate(),
            25.0
        );
        // A throttle in one category does not slow another.
        let sent = reset.acquire().await;
        reset.throttled(sent);
        assert!(reset.current_rate() < 3.0);
        assert_eq!(read.current_rate(), 7.0);
    }

    #[test]
    fn unlimited_never_cuts() {
        let limiter = Limiter::new(Rate::Unlimited);
        limiter.throttled(Instant::now());
        assert!(limiter.current_rate().is_infinite());
    }
}
