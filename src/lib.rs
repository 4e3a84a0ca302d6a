//! `cognito-reset` forces password resets for many Amazon Cognito users at once.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! cli → config → input ──bounded queue──▶ pool (limiter, retry, journal) ──▶ report
//!                                          │                                  │
//!                                       cognito (the only SDK user)       progress
//! ```
//!
//! `run::execute` wires the stages together; `simulator` is a Cognito-compatible
//! endpoint used by `--simulate` and by the test suite.
#![warn(missing_docs)]

pub mod cli;
pub mod cognito;
pub mod config;
pub mod exit;
pub mod input;
pub mod journal;
pub mod limiter;
pub mod pool;
pub mod progress;
pub mod report;
pub mod retry;
pub mod run;
pub mod simulator;
pub mod summary;
