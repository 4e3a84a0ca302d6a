//! The first phase: what can be read before any call. The input is opened
//! (a file surveyed, a stream's header read), the `--exclude` list read, the
//! simulator started (`--simulate`), credentials loaded, and the shared
//! machinery of the run made: the limiters, the counters, the retry driver.

use std::sync::Arc;
use std::time::SystemTime;

use crate::cognito::{Aws, Connection};
use crate::config::Config;
use crate::endpoint;
use crate::exit::StartError;
use crate::input::{Exclusions, Input};
use crate::journal::{Header, RunLine};
use crate::limiter::Limiters;
use crate::pause::{Pauses, Settings};
use crate::progress::{Stats, escape, say};
use crate::retry::Caller;
use crate::shutdown::{Stop, blocking};
use crate::simulator::Simulator;

/// What every phase of a run shares, made once here.
pub struct Context {
    /// The checked flags.
    pub config: Config,
    /// The run's cancellation.
    pub stop: Arc<Stop>,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// The retry driver.
    pub caller: Arc<Caller>,
    /// One limiter per (region, category).
    pub limiters: Arc<Limiters>,
    /// This run, as the journal and the audit record name it.
    pub line: RunLine,
    /// When it started.
    pub started_at: SystemTime,
}

/// Where calls go.
pub struct Service {
    /// The SDK configuration, credentials loaded.
    pub aws: Aws,
    /// Where calls go, for messages.
    pub endpoint: String,
    /// The in-process simulator (`--simulate`), kept alive for the run.
    pub simulator: Option<Simulator>,
}

/// The run, prepared.
pub struct Prepared {
    /// What every phase shares.
    pub ctx: Context,
    /// Where the rows come from.
    pub input: Input,
    /// `--exclude`.
    pub exclusions: Exclusions,
    /// Where calls go.
    pub service: Service,
    /// What the report belongs to.
    pub header: Header,
}

/// Reads what can be read before any call.
pub async fn prepare(
    config: Config,
    line: RunLine,
    stop: Arc<Stop>,
) -> Result<Prepared, StartError> {
    // The exclusions first: the survey of a file counts the users they list.
    let exclusions = read_exclusions(&config, &stop).await?;
    let input = {
        let (source, options) = (config.source.clone(), config.read.clone());
        let listed = exclusions.clone();
        blocking(&stop, move || Input::open(&source, &options, &listed)).await?
    };
    let default_pool = config.read.default_pool.as_deref();
    let service = connect(&config, &input.pools(default_pool)).await?;
    let header = Header::new(
        &input.fingerprint(default_pool),
        config.policy.dry_run,
        config.policy.sign_out,
    );
    let limiters = Arc::new(Limiters::new(config.rates));
    let stats = Arc::new(Stats::default());
    let caller = Arc::new(Caller {
        backoff: config.backoff,
        limiters: limiters.clone(),
        stop: stop.clone(),
        stats: stats.clone(),
        in_flight: tokio::sync::Semaphore::new(config.concurrency.max(1)),
        pauses: Arc::new(pauses(&config, &service)),
    });
    let ctx = Context {
        config,
        stop,
        stats,
        caller,
        limiters,
        line,
        started_at: SystemTime::now(),
    };
    Ok(Prepared {
        ctx,
        input,
        exclusions,
        service,
        header,
    })
}

/// The pauses' settings, and where renewed credentials come from.
fn pauses(config: &Config, service: &Service) -> Pauses {
    let pauses = Pauses::new(Settings {
        credentials_wait: config.credentials_wait,
        outage_wait: config.outage_wait,
        profile: config.profile.clone(),
        concurrency: config.concurrency,
    });
    pauses.renew_with(service.aws.clone());
    pauses
}

/// The `--exclude` list, read without holding up the signals (it may be a
/// FIFO no one writes to). An empty list is refused: it is most likely a
/// failed export, and would protect nobody.
async fn read_exclusions(config: &Config, stop: &Stop) -> Result<Exclusions, StartError> {
    let Some(path) = config.exclude.clone() else {
        return Ok(Exclusions::default());
    };
    let column = config.read.username_column.clone();
    let read = {
        let path = path.clone();
        blocking(stop, move || Exclusions::read(&path, &column)).await?
    };
    if read.is_empty() {
        return Err(StartError::Usage(format!(
            "--exclude {} lists no user: an empty list is most likely a failed export, and \
             would protect nobody (give the accounts to keep, or leave --exclude out)",
            escape(&path)
        )));
    }
    Ok(read)
}

/// Starts the simulator (`--simulate`, serving the pools the run names, so
/// any well-formed pool id rehearses the real command line) and loads
/// credentials from the standard chain (dummy ones for the simulator).
async fn connect(config: &Config, pools: &[String]) -> Result<Service, StartError> {
    let simulator = match &config.simulate {
        Some(sim_config) => {
            let mut sim_config = sim_config.clone();
            for pool in pools {
                sim_config.add_pool(pool);
            }
            let sim = Simulator::start("127.0.0.1:0", sim_config)
                .await
                .map_err(|e| StartError::io("the simulator", e))?;
            Some(sim)
        }
        None => None,
    };
    let endpoint = simulator
        .as_ref()
        .map(|s| format!("the built-in simulator at {}", s.url()))
        .or(config.endpoint_url.as_deref().map(endpoint::shown))
        .unwrap_or_else(|| "AWS".into());
    warn_plain_http(config);
    let aws = Aws::load(&Connection {
        profile: config.profile.clone(),
        endpoint_url: simulator
            .as_ref()
            .map(Simulator::url)
            .or(config.endpoint_url.clone()),
        dummy_credentials: simulator.is_some(),
        attempt_timeout: config.call_timeout,
    })
    .await?;
    Ok(Service {
        aws,
        endpoint,
        simulator,
    })
}

/// Credentials would sign requests in the clear.
fn warn_plain_http(config: &Config) {
    let Some(url) = &config.endpoint_url else {
        return;
    };
    if endpoint::plain_and_remote(url) {
        say(&format!(
            "cognito-reset: WARNING: --endpoint-url {} is plain http and not loopback: \
             requests (signed with your credentials) travel unencrypted",
            escape(&endpoint::shown(url))
        ));
    }
}
