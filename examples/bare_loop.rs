//! The ceiling the benchmark compares the tool with: the same AWS SDK making
//! the same `AdminResetUserPassword` calls with the same client settings
//! (retries off, the same timeouts) and bounded concurrency, and nothing
//! else: no limiter, no journal, no report, no retries.
//!
//! ```text
//! cargo run --release --example bare_loop -- USERS_FILE ENDPOINT_URL POOL_ID [CONCURRENCY]
//! ```
//!
//! Prints one line: `calls=N ok=N elapsed=SECONDS calls_per_second=R`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider as cip;
use aws_sdk_cognitoidentityprovider::config::{Credentials, Region};

struct Args {
    users: Vec<String>,
    endpoint: String,
    pool: String,
    concurrency: usize,
}

fn args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.len() < 3 {
        return Err("usage: bare_loop USERS_FILE ENDPOINT_URL POOL_ID [CONCURRENCY]".into());
    }
    let text = std::fs::read_to_string(&argv[0]).map_err(|e| format!("{}: {e}", argv[0]))?;
    let concurrency = match argv.get(3) {
        Some(n) => n.parse().map_err(|_| format!("bad concurrency {n}"))?,
        None => 64,
    };
    Ok(Args {
        users: text.lines().map(str::to_owned).collect(),
        endpoint: argv[1].clone(),
        pool: argv[2].clone(),
        concurrency,
    })
}

async fn client(endpoint: &str, pool: &str) -> cip::Client {
    let region = pool.split('_').next().unwrap_or("us-east-1").to_owned();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(30))
        .build();
    let base = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("BARE", "BARE", None, None, "bare"))
        .load()
        .await;
    let config = cip::config::Builder::from(&base)
        .region(Region::new(region))
        .build();
    cip::Client::from_conf(config)
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let client = client(&args.endpoint, &args.pool).await;
    let users = Arc::new(args.users);
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, users, next, ok, pool) = (
            client.clone(),
            users.clone(),
            next.clone(),
            ok.clone(),
            args.pool.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(user) = users.get(i) else { break };
                let sent = client
                    .admin_reset_user_password()
                    .user_pool_id(&pool)
                    .username(user)
                    .send()
                    .await;
                if sent.is_ok() {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let calls = users.len();
    println!(
        "calls={calls} ok={} elapsed={elapsed:.3} calls_per_second={:.1}",
        ok.load(Ordering::Relaxed),
        calls as f64 / elapsed
    );
}
