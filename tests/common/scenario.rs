//! A scenario: a scratch directory with its input files, a simulator (or
//! another endpoint), and the binary run against them as often as a test
//! needs.

use std::ops::Deref;
use std::process::Stdio;
use std::time::Duration;

use cognito_reset::simulator::{Config, DEFAULT_POOL, Simulator, Totals, User};
use tokio::sync::OnceCell;

use super::process::{BIN, child, sh_quote};
use super::run::{Run, Running};
use super::sim::{self, quota_free};
use super::workdir::Workdir;

/// A test's world. It is also its directory: `Workdir`'s methods read and
/// write its files.
pub struct Scenario {
    w: Workdir,
    config: Config,
    sim: OnceCell<Simulator>,
    endpoint: Option<String>,
    pool: bool,
}

impl Deref for Scenario {
    type Target = Workdir;
    fn deref(&self) -> &Workdir {
        &self.w
    }
}

impl Scenario {
    /// A scenario in a fresh directory named after `name`, with a simulator
    /// without quotas, started by the first run, and runs aimed at the
    /// default pool unless their arguments name one.
    pub fn new(name: &str) -> Scenario {
        Scenario::new_sim_in(Workdir::new(name), true)
    }

    /// Changes the simulator's configuration.
    pub fn sim(mut self, change: impl FnOnce(&mut Config)) -> Scenario {
        change(&mut self.config);
        self
    }

    /// Writes a file into the directory.
    pub fn file(self, name: &str, text: &str) -> Scenario {
        self.w.write(name, text);
        self
    }

    /// Runs name no pool unless their arguments do.
    pub fn without_pool(mut self) -> Scenario {
        self.pool = false;
        self
    }

    /// Runs go to `url` instead of a simulator, and name no pool unless
    /// their arguments do (the default pool is the simulator's).
    pub fn endpoint(mut self, url: &str) -> Scenario {
        self.endpoint = Some(url.to_owned());
        self.pool = false;
        self
    }

    /// The same directory with a fresh simulator, configured by `change`.
    pub fn another_sim(self, change: impl FnOnce(&mut Config)) -> Scenario {
        Scenario::new_sim_in(self.w, self.pool).sim(change)
    }

    fn new_sim_in(w: Workdir, pool: bool) -> Scenario {
        Scenario {
            w,
            config: quota_free(),
            sim: OnceCell::new(),
            endpoint: None,
            pool,
        }
    }

    /// The simulator, started if it was not yet.
    pub async fn started(&self) -> &Simulator {
        self.sim
            .get_or_init(|| async {
                Simulator::start("127.0.0.1:0", self.config.clone())
                    .await
                    .unwrap()
            })
            .await
    }

    /// The simulator, which a run has started.
    #[track_caller]
    pub fn simulator(&self) -> &Simulator {
        self.sim
            .get()
            .expect("no run has started the simulator yet")
    }

    /// Where runs are aimed.
    pub async fn url(&self) -> String {
        match &self.endpoint {
            Some(url) => url.clone(),
            None => self.started().await.url(),
        }
    }
}

/// The value of `flag` in `args` (`--flag value` or `--flag=value`).
fn named(args: &[String], flag: &str) -> Option<String> {
    let joined = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&joined).map(str::to_owned)
        }
    })
}

impl Scenario {
    /// What a run is given: the default pool first unless `args` name one,
    /// then `args`, with the endpoint before any `--`.
    pub async fn full_args(&self, args: &[&str]) -> Vec<String> {
        let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        let (options, rest) = args.split_at(split);
        let names_pool = options
            .iter()
            .any(|a| *a == "--user-pool-id" || a.starts_with("--user-pool-id="));
        let mut all = Vec::new();
        if self.pool && !names_pool {
            all.extend(["--user-pool-id".to_owned(), DEFAULT_POOL.to_owned()]);
        }
        all.extend(options.iter().map(|a| a.to_string()));
        all.extend(["--endpoint-url".to_owned(), self.url().await]);
        all.extend(rest.iter().map(|a| a.to_string()));
        all
    }

    /// The report a run with `args` writes: its `--report`, or the one named
    /// after its input (the first argument naming a file here).
    fn report_of(&self, args: &[String]) -> Option<String> {
        named(args, "--report").or_else(|| {
            let input = args
                .iter()
                .find(|a| super::workdir::is_regular(&self.path(a)))?;
            let stem = std::path::Path::new(input).file_stem()?.to_string_lossy();
            let dry = if args.iter().any(|a| a == "--dry-run") {
                ".dry-run"
            } else {
                ""
            };
            Some(format!("{stem}{dry}.report.csv"))
        })
    }

    /// A command for the binary with `args`, as [`Scenario::full_args`] has
    /// them, in the directory, started with default signals.
    pub async fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = child(BIN, &self.dir);
        cmd.args(self.full_args(args).await);
        cmd.into()
    }

    async fn start(&self, args: &[&str], stdin: Stdio) -> Running {
        let all = self.full_args(args).await;
        let mut cmd = self.command(args).await;
        let child = cmd.stdin(stdin).spawn().unwrap();
        Running::new(
            child,
            &self.dir,
            self.report_of(&all),
            named(&all, "--summary"),
        )
    }

    /// Starts a run.
    pub async fn spawn(&self, args: &[&str]) -> Running {
        self.start(args, Stdio::null()).await
    }

    /// Starts a run with a standard input to write to.
    pub async fn spawn_piped(&self, args: &[&str]) -> Running {
        self.start(args, Stdio::piped()).await
    }

    /// Runs the binary to the end.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.spawn(args).await.finish().await
    }

    /// The command line of a run with `args`, quoted for a shell script.
    pub async fn command_line(&self, args: &[&str]) -> String {
        let mut line = sh_quote(BIN);
        for arg in self.full_args(args).await {
            line.push(' ');
            line.push_str(&sh_quote(&arg));
        }
        line
    }

    /// `shell -c script` in the directory, started as the binary is.
    pub fn shell(&self, shell: &str, script: &str) -> tokio::process::Command {
        let mut cmd = child(shell, &self.dir);
        cmd.arg("-c").arg(script);
        cmd.into()
    }
}

/// What the simulator saw, in the default pool.
impl Scenario {
    /// A user's record (the user must exist).
    #[track_caller]
    pub fn user(&self, username: &str) -> User {
        let state = self.simulator().state();
        state.user(DEFAULT_POOL, username).expect("the user exists")
    }

    /// Reset calls that succeeded for a user.
    pub fn resets(&self, username: &str) -> u64 {
        sim::resets(self.simulator(), username)
    }

    /// Sign-outs that succeeded for a user.
    pub fn sign_outs(&self, username: &str) -> u64 {
        sim::sign_outs(self.simulator(), username)
    }

    /// Requests for operation `op`, throttled ones included.
    pub fn calls(&self, op: &str) -> u64 {
        sim::calls(self.simulator(), op)
    }

    pub fn totals(&self) -> Totals {
        self.simulator().state().totals()
    }

    /// Waits (at most 3 s) for a first `op` request, so that a kill or a
    /// signal sent next lands in the middle of it.
    pub async fn wait_for_call(&self, op: &str) {
        for _ in 0..300 {
            if self.calls(op) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
