//! The harness the integration tests share: a scenario (a scratch directory,
//! an in-process simulator and the real binary run against it, started with
//! default signal dispositions), what a run left, and the checks that recur.
#![allow(dead_code, unused_imports)]

mod direct;
mod journal;
mod process;
mod run;
mod scenario;
mod sim;
mod workdir;

pub use direct::*;
pub use journal::*;
pub use process::*;
pub use run::*;
pub use scenario::*;
pub use sim::*;
pub use workdir::*;
