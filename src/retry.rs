//! The retry policy as data: how long to wait before attempt N.
//!
//! Exponential backoff with full jitter, as the AWS SDKs do:
//! `rand(0, min(cap, base · 2^(attempt-1)))`. Pure, so it is unit-tested here;
//! the worker loop in `pool` applies it and also takes a limiter permit for
//! every retry.

use std::time::Duration;

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
