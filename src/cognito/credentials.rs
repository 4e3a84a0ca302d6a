//! Where the credentials that sign every call come from, and how they are
//! renewed while a run goes on.
//!
//! The SDK's own identity cache keeps credentials without an expiry for a
//! quarter of an hour, and its providers cache the parsed profile files for
//! their life, so that an `aws sso login` or a rewritten credentials file in
//! another terminal would never reach a running process. So the tool keeps
//! [`Keys`]: credentials cached until shortly before they expire, read from
//! a chain that [`Keys::renew`] rebuilds from scratch (profiles, SSO caches,
//! role credentials read again). The SDK's cache stays on (asking a provider
//! for every call costs some 8 % of the calls a second at an unlimited
//! rate) but is handed credentials that it keeps for [`HANDED_FOR`] at most
//! ([`cache`]), so that renewed credentials sign calls within seconds. Every load is bounded by [`LOAD_TIMEOUT`]: a `credential_process`,
//! an SSO portal or an instance-metadata service that does not answer must
//! not hold the run up in silence.
//!
//! `--profile` wins over credentials in the environment, as in the AWS CLI:
//! given a profile, only that profile is read.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_types::region::Region;

/// How long one load of credentials may take (a `credential_process`, an
/// SSO portal, instance metadata). The SDK's own cache allows 5 s.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the SDK's identity cache keeps the credentials it is handed
/// (less [`CACHE_BUFFER`]): renewed credentials are in use this soon.
pub const HANDED_FOR: Duration = Duration::from_secs(3);
/// How long before the expiry it is told the SDK's cache asks again.
const CACHE_BUFFER: Duration = Duration::from_secs(1);
/// Credentials that expire sooner than this are loaded again first.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Longest credential error message kept: one readable line.
const MESSAGE_MAX: usize = 400;

/// Where credentials come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Fixed credentials (the simulator checks none).
    Fixed(Credentials),
    /// The standard chain, or only the named profile (`--profile`).
    Chain {
        /// `--profile`.
        profile: Option<String>,
        /// The region the chain's own calls (SSO, STS) go to.
        region: Option<Region>,
    },
}

/// Credentials, cached, renewable.
#[derive(Debug)]
pub struct Keys {
    source: Source,
    chain: Mutex<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    /// One load at a time: the others wait for its result.
    loading: tokio::sync::Mutex<()>,
}

impl Keys {
    /// Keys read from `source`; nothing is loaded yet.
    pub async fn new(source: Source) -> Arc<Keys> {
        let chain = build(&source).await;
        Arc::new(Keys {
            source,
            chain: Mutex::new(chain),
            cached: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads credentials from the chain as it is (once, bounded by
    /// [`LOAD_TIMEOUT`]) and keeps them.
    pub async fn load(&self) -> Result<Credentials, String> {
        let chain = self.chain.lock().expect("credentials chain").clone();
        let mut given_up = GivenUp(true);
        let loaded = tokio::time::timeout(LOAD_TIMEOUT, chain.provide_credentials()).await;
        given_up.0 = loaded.is_err();
        match loaded {
            Ok(Ok(credentials)) => {
                *self.cached.lock().expect("credentials") = Some(credentials.clone());
                Ok(credentials)
            }
            Ok(Err(e)) => Err(one_line(&e)),
            Err(_) => Err(format!(
                "no credentials within {} s: a credential_process, an SSO portal or the \
                 instance metadata service is not answering",
                LOAD_TIMEOUT.as_secs()
            )),
        }
    }

    /// Forgets the credentials and the chain, builds the chain afresh (so
    /// that profiles, SSO caches and role credentials are read again) and
    /// loads from it.
    pub async fn renew(&self) -> Result<(), String> {
        let _one = self.loading.lock().await;
        let chain = build(&self.source).await;
        *self.chain.lock().expect("credentials chain") = chain;
        *self.cached.lock().expect("credentials") = None;
        self.load().await.map(|_| ())
    }

    /// Whether the credentials in use came from environment variables,
    /// which a running process cannot see renewed.
    pub fn from_environment(&self) -> bool {
        // The standard chain reads the environment first; `--profile` does not.
        let chain = matches!(self.source, Source::Chain { profile: None, .. });
        chain && keys_in_environment()
    }

    /// The credentials to sign with: the cached ones while they are fresh,
    /// else loaded again (old ones still valid are kept if that fails).
    async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(fresh) = self.fresh(REFRESH_BEFORE) {
            return Ok(fresh);
        }
        let _one = self.loading.lock().await;
        if let Some(fresh) = self.fresh(REFRESH_BEFORE) {
            return Ok(fresh);
        }
        match self.load().await {
            Ok(credentials) => Ok(credentials),
            Err(why) => self
                .fresh(Duration::ZERO)
                .ok_or_else(|| CredentialsError::provider_error(Readable(why))),
        }
    }

    /// The credentials as handed to the SDK: expiring within [`HANDED_FOR`],
    /// so that its cache asks again soon.
    async fn handed(&self) -> Result<Credentials, CredentialsError> {
        let mut credentials = self.get().await?;
        let soon = SystemTime::now() + HANDED_FOR;
        let expiry = credentials.expiry().map_or(soon, |e| e.min(soon));
        *credentials.expiry_mut() = Some(expiry);
        Ok(credentials)
    }

    /// The cached credentials, if they expire no sooner than `margin`.
    fn fresh(&self, margin: Duration) -> Option<Credentials> {
        let cached = self.cached.lock().expect("credentials");
        let c = cached.as_ref()?;
        match c.expiry() {
            None => Some(c.clone()),
            Some(at) if at > SystemTime::now() + margin => Some(c.clone()),
            Some(_) => None,
        }
    }
}

/// The SDK's view of [`Keys`].
#[derive(Debug, Clone)]
pub struct Renewable(pub Arc<Keys>);

impl ProvideCredentials for Renewable {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.0.handed())
    }
}

async fn build(source: &Source) -> SharedCredentialsProvider {
    match source {
        Source::Fixed(credentials) => SharedCredentialsProvider::new(credentials.clone()),
        Source::Chain {
            profile: Some(profile),
            region,
        } => {
            let config = ProviderConfig::default().with_region(region.clone());
            SharedCredentialsProvider::new(
                ProfileFileCredentialsProvider::builder()
                    .configure(&config)
                    .profile_name(profile)
                    .build(),
            )
        }
        Source::Chain {
            profile: None,
            region,
        } => {
            let mut builder = DefaultCredentialsChain::builder();
            if let Some(region) = region {
                builder = builder.region(region.clone());
            }
            SharedCredentialsProvider::new(builder.build().await)
        }
    }
}

/// The SDK's identity cache for [`Renewable`] credentials: it asks again
/// a second before what it was handed expires, and never gives up on a
/// load before [`LOAD_TIMEOUT`] has said why.
pub fn cache() -> aws_sdk_cognitoidentityprovider::config::SharedIdentityCache {
    aws_config::identity::IdentityCache::lazy()
        .buffer_time(CACHE_BUFFER)
        .load_timeout(LOAD_TIMEOUT + Duration::from_secs(1))
        .build()
}

/// A message that is already readable, as an error.
#[derive(Debug)]
struct Readable(String);

impl std::fmt::Display for Readable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Readable {}

/// An error and its causes as one line, without repeats, clipped: what an
/// operator reads, never a dump of a request.
pub fn one_line(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        let text = without_helper_output(&e.to_string())
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let mut line = parts.join(": ");
    if line.len() > MESSAGE_MAX {
        let mut end = MESSAGE_MAX;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push('…');
    }
    line
}

/// The credentials error somewhere in an error's causes, if there is one.
pub fn credentials_error<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a CredentialsError> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<CredentialsError>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The profile the credentials are to come from, and what named it:
/// `--profile`, or else `AWS_PROFILE` when no keys in the environment come
/// before it in the chain.
pub fn named_profile(flag: Option<&str>) -> Option<(&'static str, String)> {
    if let Some(profile) = flag {
        return Some(("--profile", profile.to_owned()));
    }
    if keys_in_environment() {
        return None;
    }
    let profile = std::env::var("AWS_PROFILE").ok().filter(|v| !v.is_empty());
    profile.map(|profile| ("AWS_PROFILE", profile))
}

/// Whether keys are set in the environment, which the standard chain reads
/// first.
fn keys_in_environment() -> bool {
    std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty())
}

/// Whether `profile` (named by `named_by`) is defined in the AWS config or
/// credentials file; `Err` names the files looked in.
pub async fn check_profile(named_by: &str, profile: &str) -> Result<(), String> {
    use aws_types::os_shim_internal::{Env, Fs};
    let env = Env::real();
    let set = aws_config::profile::load(&Fs::real(), &env, &Default::default(), None).await;
    if set.is_ok_and(|s| s.get_profile(profile).is_some()) {
        return Ok(());
    }
    let file =
        |var: &str, default: &str| env.get(var).unwrap_or_else(|_| format!("~/.aws/{default}"));
    Err(format!(
        "{named_by} {}: no such profile in {} or {}; nothing was sent",
        crate::progress::escape(profile),
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ))
}

/// An error's text without what a `credential_process` printed on its
/// standard error, which the SDK appends: a helper run with `set -x`, or
/// one that prints a token it could not use, fills it with secrets, and the
/// text goes to standard error, the summary and the report's rows.
fn without_helper_output(text: &str) -> std::borrow::Cow<'_, str> {
    match text.find("Stderr:") {
        Some(at) => std::borrow::Cow::Owned(format!(
            "{}(its standard error is left out: it may hold secrets)",
            &text[..at]
        )),
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// A load of credentials, until it has ended: given up on (timed out, or
/// dropped with the run), it ends the processes it may have started. The
/// SDK starts a `credential_process` and does not end it when its load is
/// dropped; a helper that hangs would go on holding what it holds (a
/// terminal prompt, a lock) after the run.
struct GivenUp(bool);

impl Drop for GivenUp {
    fn drop(&mut self) {
        if self.0 {
            end_helpers();
        }
    }
}

/// Asks every process descended from this one to end (SIGTERM). This
/// process starts none but the credential helpers. Reads `/proc`; where
/// there is none, nothing is done.
fn end_helpers() {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let mut parent = std::collections::HashMap::new();
    for entry in dir.flatten() {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok());
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok();
        if let (Some(pid), Some(ppid)) = (pid, stat.as_deref().and_then(parent_of)) {
            parent.insert(pid, ppid);
        }
    }
    let descends = |mut pid: u32| {
        // Bounded: a parent table read while processes come and go may
        // hold a loop.
        for _ in 0..64 {
            match parent.get(&pid) {
                Some(&p) if p == me => return true,
                Some(&p) if p > 1 => pid = p,
                _ => return false,
            }
        }
        false
    };
    for &pid in parent.keys() {
        if pid != me
            && descends(pid)
            && let Ok(pid) = i32::try_from(pid)
        {
            // SAFETY: kill(2) with a pid read from /proc and a constant
            // signal touches no memory of this process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// The parent's pid from a `/proc/PID/stat` line. The command name (in
/// parentheses) may hold spaces and parentheses: the fields after it
/// follow its last `)`.
fn parent_of(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_reads_as_one_short_line() {
        let inner = std::io::Error::other("connection refused\n  at line 2");
        let outer = CredentialsError::provider_error(inner);
        let line = one_line(&outer);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("connection refused at line 2"), "{line}");
        let leaky = CredentialsError::provider_error(Readable(
            "external process exited with code exit status: 7. Stderr: TOKEN=abc".into(),
        ));
        let line = one_line(&leaky);
        assert!(!line.contains("TOKEN=abc"), "{line}");
        assert!(line.contains("exit status: 7"), "{line}");
        let long = CredentialsError::provider_error(Readable("x".repeat(2000)));
        assert!(one_line(&long).chars().count() <= MESSAGE_MAX + 1);
    }

    #[tokio::test]
    async fn fixed_keys_load_and_renew() {
        let keys = Keys::new(Source::Fixed(Credentials::new(
            "A", "B", None, None, "test",
        )))
        .await;
        assert_eq!(keys.load().await.unwrap().access_key_id(), "A");
        keys.renew().await.unwrap();
        let handed = keys.handed().await.unwrap();
        assert_eq!(handed.access_key_id(), "A");
        assert!(handed.expiry().unwrap() <= SystemTime::now() + HANDED_FOR);
        assert!(!keys.from_environment());
    }

    #[tokio::test]
    async fn expired_keys_are_not_handed_out() {
        let keys = Keys::new(Source::Fixed(Credentials::new("A", "B", None, None, "t"))).await;
        let past = SystemTime::now() - Duration::from_secs(60);
        *keys.cached.lock().unwrap() = Some(Credentials::new("OLD", "B", None, Some(past), "t"));
        assert!(keys.fresh(Duration::ZERO).is_none());
        // Loaded again from the chain instead.
        assert_eq!(keys.get().await.unwrap().access_key_id(), "A");
    }

    #[test]
    fn a_parent_is_read_past_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(parent_of("42 (sleep) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("42 (a) b) (c) R 9 1 1"), Some(9));
        assert_eq!(parent_of("garbage"), None);
    }
}
