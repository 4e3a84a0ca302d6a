//! What refuses a request before the service looks at it: an outage
//! (`--sim-outage`, `--sim-outage-while`, for every region or those of
//! `--sim-outage-region`), then the caller's credentials, expired
//! (`--sim-token-lifetime`, `--sim-expired-while`) or not recognised
//! (`--sim-invalid-token-while`). A refused request changes nothing; the
//! gate only counts it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use hyper::StatusCode;

use super::answer::{ApiError, err};
use super::config::{Config, OutageMode};
use super::sigv4::Signer;

/// Why a request is refused at the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The caller's security token has expired.
    ExpiredToken,
    /// The caller's security token is not one the service knows.
    InvalidToken,
    /// The service is down.
    Outage(OutageMode),
}

impl Refusal {
    /// The answer in Cognito's JSON protocol.
    pub(crate) fn error(self) -> ApiError {
        match self {
            Refusal::ExpiredToken => err(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
            Refusal::InvalidToken => err(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Refusal::Outage(_) => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalErrorException".into(),
                message: "Internal server error".into(),
            },
        }
    }
}

/// The gate's memory: when the service started, when each access key was
/// first seen, and counts.
#[derive(Debug)]
pub(crate) struct Gate {
    started: Instant,
    first_seen: Mutex<HashMap<String, Instant>>,
    expired: AtomicU64,
    invalid: AtomicU64,
    outage: AtomicU64,
}

/// Whether the file a `…-while` knob names exists now.
fn present(path: Option<&Path>) -> bool {
    path.is_some_and(|p| std::fs::symlink_metadata(p).is_ok())
}

impl Gate {
    /// A gate whose outage windows count from now.
    pub(crate) fn new() -> Gate {
        Gate {
            started: Instant::now(),
            first_seen: Mutex::new(HashMap::new()),
            expired: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            outage: AtomicU64::new(0),
        }
    }

    /// The refusal for a request signed by `signer` (if signed), counted.
    pub(crate) fn check(&self, config: &Config, signer: Option<&Signer>) -> Option<Refusal> {
        let region = signer.map(|s| s.region.as_str());
        let refusal = if self.outage_now(config, region) {
            Refusal::Outage(config.outage_mode)
        } else {
            self.credentials(config, signer)?
        };
        let counter = match refusal {
            Refusal::ExpiredToken => &self.expired,
            Refusal::InvalidToken => &self.invalid,
            Refusal::Outage(_) => &self.outage,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Some(refusal)
    }

    /// Whether the service is down, now, for a request signed for `region`
    /// (`None`: unsigned).
    pub(crate) fn outage_now(&self, config: &Config, region: Option<&str>) -> bool {
        let affected = config.outage_regions.is_empty()
            || region.is_some_and(|r| config.outage_regions.iter().any(|o| o == r));
        if !affected {
            return false;
        }
        let elapsed = self.started.elapsed();
        config.outages.iter().any(|w| w.covers(elapsed)) || present(config.outage_while.as_deref())
    }

    fn credentials(&self, config: &Config, signer: Option<&Signer>) -> Option<Refusal> {
        if present(config.invalid_token_while.as_deref()) {
            return Some(Refusal::InvalidToken);
        }
        if present(config.expired_while.as_deref()) {
            return Some(Refusal::ExpiredToken);
        }
        let lifetime = config.token_lifetime?;
        let key = &signer?.access_key;
        let now = Instant::now();
        let mut seen = self
            .first_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Renewed credentials come with a new key, which starts its own life.
        let first = *seen.entry(key.clone()).or_insert(now);
        (now.duration_since(first) >= lifetime).then_some(Refusal::ExpiredToken)
    }

    /// Requests refused as signed with an expired token.
    pub(crate) fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// Requests refused as signed with a token the service does not know.
    pub(crate) fn invalid(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }

    /// Requests refused by an outage, whatever the mode.
    pub(crate) fn outage(&self) -> u64 {
        self.outage.load(Ordering::Relaxed)
    }
}
