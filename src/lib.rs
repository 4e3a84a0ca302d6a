//! `cognito-reset` forces password resets for many Amazon Cognito users at once.
//!
//! The modules, from the top (the order of a run) down to the leaves; each
//! imports only modules below it:
//!
//! ```text
//! run (prepare → check → plan → execute → finish)
//!  ├─ outputs (claim and open report, journal, summary)   audit (summary JSON)
//!  ├─ preflight (pools, rates, caller) ──▶ sessions (app clients, token validity)
//!  ├─ answers (codes by channel, locked out by; a dry run's predictions)
//!  ├─ pool (dispatch, workers) ──▶ writer (the one report writer) ──▶ tally
//!  │    └─ life (a row's state machine) ──▶ retry (the one driver) ──▶ limiter
//!  │                                           └─ pause (credentials, outages)
//!  ├─ input (rows from files, streams, listings)   resume (earlier runs)
//!  ├─ journal (intents)   report (the row's record and its columns) ──▶ channel
//!  └─ cognito (the only SDK user; classification)
//! leaves: config, cli, endpoint, files, keys, clock, exit, shutdown, progress
//! ```
//!
//! `verify` is the `verify` command, which checks a report's hash chain.
//! `simulator` is a Cognito-compatible endpoint used by `--simulate` and by
//! the test suite. The README's *Architecture* section says where a row
//! goes and where a new step or output would be added.
#![warn(missing_docs)]

pub mod allocator;
pub mod answers;
pub mod audit;
pub mod channel;
pub mod cli;
pub mod clock;
pub mod cognito;
pub mod config;
pub mod endpoint;
pub mod exit;
pub mod files;
pub mod input;
pub mod journal;
pub mod keys;
pub mod life;
pub mod limiter;
pub mod outputs;
pub mod pause;
pub mod pool;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod resume;
pub mod retry;
pub mod run;
pub mod sessions;
pub mod shutdown;
pub mod simulator;
pub mod tally;
pub mod verify;
pub mod writer;
