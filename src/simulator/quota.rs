//! Request-rate quotas: one token bucket per category, each holding one
//! second's worth of requests, refilled continuously, as Cognito's quotas
//! are rates per second with a burst of about a second.

use std::time::Instant;

use super::config::Quotas;
use super::ops::Category;

/// One category's bucket.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        // A quota under 1/s still lets one request through now and then.
        let capacity = rate.max(1.0);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
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

/// The buckets of every enforced category.
#[derive(Debug)]
pub(crate) struct Buckets {
    buckets: [Option<Bucket>; Category::ALL.len()],
}

impl Buckets {
    pub(crate) fn new(quotas: &Quotas) -> Buckets {
        let now = Instant::now();
        Buckets {
            buckets: Category::ALL.map(|c| {
                quotas
                    .get(c)
                    .filter(|rate| rate.is_finite() && *rate > 0.0)
                    .map(|rate| Bucket::new(rate, now))
            }),
        }
    }

    /// Whether a request of `category` is within its quota (and counts it).
    pub(crate) fn admit(&mut self, category: Category) -> bool {
        match &mut self.buckets[category.index()] {
            Some(bucket) => bucket.take(Instant::now()),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_holds_one_seconds_worth_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut b = Bucket::new(5.0, start);
        let admitted = (0..8).filter(|_| b.take(start)).count();
        assert_eq!(admitted, 5);
        assert!(!b.take(start + Duration::from_millis(100)));
        assert!(b.take(start + Duration::from_millis(300)));
    }

    #[test]
    fn categories_are_enforced_separately() {
        let mut q = Quotas::none();
        q.user_read = Some(1.0);
        let mut b = Buckets::new(&q);
        assert!(b.admit(Category::UserRead));
        assert!(!b.admit(Category::UserRead));
        assert!((0..100).all(|_| b.admit(Category::UserAccountRecovery)));
    }
}
