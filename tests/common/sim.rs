//! The service's side of a test: a simulator without quotas, the users it is
//! seeded with, and generated usernames.

use cognito_reset::simulator::{Config, DEFAULT_POOL, Quotas, SeedUser, Simulator};

/// The simulator's configuration the tests start from: no quota.
pub fn quota_free() -> Config {
    Config {
        quotas: Quotas::none(),
        ..Config::default()
    }
}

/// A simulator with no quota and the given changes.
pub async fn simulator(change: impl FnOnce(&mut Config)) -> Simulator {
    let mut config = quota_free();
    change(&mut config);
    Simulator::start("127.0.0.1:0", config).await.unwrap()
}

/// Reset calls that succeeded for a user of the default pool.
pub fn resets(sim: &Simulator, username: &str) -> u64 {
    let user = sim.state().user(DEFAULT_POOL, username);
    user.map_or(0, |u| u.resets_succeeded)
}

/// Sign-outs that succeeded for a user of the default pool.
pub fn sign_outs(sim: &Simulator, username: &str) -> u64 {
    let user = sim.state().user(DEFAULT_POOL, username);
    user.map_or(0, |u| u.sign_outs)
}

/// Requests for operation `op`, throttled ones included.
pub fn calls(sim: &Simulator, op: &str) -> u64 {
    sim.state().totals().calls.get(op).copied().unwrap_or(0)
}

pub fn seed(username: &str) -> SeedUser {
    SeedUser {
        username: username.into(),
        ..SeedUser::default()
    }
}

/// A user whose every reset call answers the error `code`.
pub fn failing(username: &str, code: &str) -> SeedUser {
    SeedUser {
        fail: Some(code.into()),
        ..seed(username)
    }
}

/// A user whose sign-out fails `times` times (a transient error), then
/// passes.
pub fn sign_out_failing(username: &str, times: u32) -> SeedUser {
    SeedUser {
        fail_operation: Some("AdminUserGlobalSignOut".into()),
        fail_times: Some(times),
        ..failing(username, "InternalErrorException")
    }
}

/// `n` usernames user0001…
pub fn usernames(n: usize) -> impl Iterator<Item = String> {
    (1..=n).map(|i| format!("user{i:04}"))
}

/// `n` usernames user0001…, one a line.
pub fn users(n: usize) -> String {
    usernames(n).map(|u| u + "\n").collect()
}

/// A small deterministic generator, so a failing sequence can be replayed.
pub fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}
