//! `cognito-reset` forces password resets for many Amazon Cognito users at once.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! cli → config → input ──bounded queue──▶ pool ──records──▶ writer ──▶ report
//!                  │                        │ (a row's life: life)
//!            (survey, listing)        retry (one driver) → limiter (region × category)
//!                                           │
//!                                        cognito (the only SDK user)
//! ```
//!
//! `run` names the phases (prepare → preflight → plan → confirm → execute →
//! summarise) and `session` carries a run's state through them. `journal`
//! and `resume` make runs crash-safe; `files` opens every output the one
//! safe way; `progress` owns the terminal; `shutdown` is the cancellation
//! `main` wires to the signals; `simulator` is a Cognito-compatible endpoint
//! used by `--simulate` and by the test suite.
#![warn(missing_docs)]

pub mod cli;
pub mod cognito;
pub mod config;
pub mod exit;
pub mod files;
pub mod input;
pub mod journal;
pub mod keys;
pub mod life;
pub mod limiter;
pub mod plan;
pub mod pool;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod resume;
pub mod retry;
pub mod run;
pub mod session;
pub mod shutdown;
pub mod simulator;
pub mod summary;
pub mod writer;
