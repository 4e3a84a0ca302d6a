//! A Cognito-compatible endpoint on loopback, for `--simulate`, the
//! `simulator` subcommand and the test suite.
//!
//! It speaks the AWS JSON 1.1 protocol (`POST /` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>`; errors as HTTP 4xx/5xx
//! with `{"__type", "message"}` and `x-amzn-errortype`; every answer with
//! `x-amzn-requestid`), so the real SDK, the AWS CLI or boto3 can talk to
//! it, and STS GetCallerIdentity in the Query protocol on the same address.
//! It enforces Cognito's per-category request-rate quotas, validates input
//! as the API does, applies Cognito's rules per pool settings and user
//! state, injects faults, and counts what was done to every user so tests
//! can judge a run by what the service saw.
//!
//! Users: every well-formed username exists in every pool as CONFIRMED with
//! a verified email, unless a seed says otherwise or it starts with a demo
//! prefix: `missing-` (does not exist), `disabled-`, `unconfirmed-`,
//! `unverified-` (no verified email or phone), `force-change-`
//! (FORCE_CHANGE_PASSWORD), `federated-` (EXTERNAL_PROVIDER). Such users
//! become real (listed, counted) once a request touches them.
//!
//! `GET /_sim/stats` answers [`Totals`] as JSON, for tools outside this
//! process.
//!
//! Files: `config` (what a simulator is made of), `knobs` and `load` (the
//! command line), `ops` (operations and quota categories), `quota`,
//! `validate` and `filter` (input checks), `sigv4` (who signed a request)
//! and `gate` (outages and credentials, before anything else), `users`,
//! `pools`, `account` (the data operations change), `state` (the request
//! path), `actions`, `listing` and `clients` (what operations do; `tokens`
//! signs their pages), `sts`, `canned` (benchmark mode), `dispatch`
//! (routing, no I/O) and `http` (the server). Files import each other in
//! one direction only: this one imports its children, never the reverse
//! (tests aside).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod account;
mod actions;
mod answer;
mod canned;
mod clients;
mod config;
mod dispatch;
mod filter;
mod gate;
mod http;
mod knobs;
mod listing;
mod load;
mod ops;
mod pools;
mod quota;
mod sigv4;
mod state;
mod sts;
mod tokens;
mod users;
mod validate;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod tests;

pub use config::{
    AppClient, Config, DEFAULT_POOL, OutageMode, OutageWindow, PoolSettings, Quotas, SeedUser,
    TimeUnit, Validity,
};
pub use http::serve;
pub use knobs::SimKnobs;
pub use state::{State, Totals};
pub use users::User;

/// A running simulator; dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
}

impl Simulator {
    /// Binds `addr` (port 0 for a free one) and serves in the background.
    pub async fn start(addr: &str, config: Config) -> std::io::Result<Simulator> {
        Simulator::start_with(addr, config, http::Limits::default()).await
    }

    /// [`Simulator::start`] with explicit server limits.
    pub(crate) async fn start_with(
        addr: &str,
        config: Config,
        limits: http::Limits,
    ) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(config));
        let shutdown = CancellationToken::new();
        tokio::spawn(http::serve_with(
            listener,
            state.clone(),
            shutdown.clone(),
            limits,
        ));
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
