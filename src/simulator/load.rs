//! Turns the command-line knobs and the files they name into a [`Config`],
//! refusing every value the simulator could not honour with a message that
//! names the knob (or the file and line).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::config::{
    AppClient, Config, OutageMode, OutageWindow, PoolSettings, Quotas, SeedUser, TimeUnit,
    Validity, present,
};
use super::knobs::SimKnobs;
use super::ops::{Op, deniable};
use super::validate::{check_client_name, check_group_name, check_pool_id, check_username};

/// Highest quota a knob accepts, requests per second.
const MAX_QUOTA: f64 = 1_000_000.0;
/// Longest added latency a knob accepts.
const MAX_LATENCY_MS: u64 = 60_000;
/// Most users `--sim-generate` makes (each costs memory for the whole run).
const MAX_GENERATE: u64 = 1_000_000;
/// Longest token lifetime a knob accepts, seconds (ten years).
const MAX_TOKEN_LIFETIME: f64 = 315_360_000.0;
/// Statuses a seed may give a user (Cognito's `UserStatusType`).
pub(crate) const STATUSES: [&str; 8] = [
    "CONFIRMED",
    "RESET_REQUIRED",
    "FORCE_CHANGE_PASSWORD",
    "UNCONFIRMED",
    "EXTERNAL_PROVIDER",
    "ARCHIVED",
    "COMPROMISED",
    "UNKNOWN",
];

impl Config {
    /// From the command-line knobs, reading the seed and pool files.
    pub fn from_knobs(knobs: &SimKnobs) -> Result<Config, String> {
        let fault_rate = knobs.fault_rate;
        if !(0.0..=1.0).contains(&fault_rate) {
            return Err("--sim-fault-rate must be between 0 and 1".into());
        }
        if knobs.latency_ms > MAX_LATENCY_MS {
            return Err(format!("--sim-latency-ms must be at most {MAX_LATENCY_MS}"));
        }
        if knobs.generate > MAX_GENERATE {
            return Err(format!("--sim-generate must be at most {MAX_GENERATE}"));
        }
        let mut config = Config {
            quotas: quotas(knobs)?,
            latency: Duration::from_millis(knobs.latency_ms),
            fault_rate,
            email_cap: knobs.email_cap,
            deny: deny(&knobs.deny)?,
            pool_defaults: pool_defaults(knobs)?,
            pools: BTreeMap::new(),
            users: Vec::new(),
            generate: knobs.generate,
            seed: knobs.seed,
            static_answers: knobs.static_answers,
            token_lifetime: token_lifetime(knobs.token_lifetime)?,
            expired_while: while_file("--sim-expired-while", &knobs.expired_while)?,
            invalid_token_while: while_file(
                "--sim-invalid-token-while",
                &knobs.invalid_token_while,
            )?,
            ..Config::default()
        };
        outages(knobs, &mut config)?;
        refuse_with_static(knobs)?;
        for id in &knobs.pools {
            check_pool_id(id).map_err(|e| format!("--sim-pool {id:?}: {e}"))?;
            config.add_pool(id);
        }
        if let Some(path) = &knobs.pools_file {
            read_pools(path, &mut config)?;
        }
        if let Some(path) = &knobs.users {
            config.users = read_seeds(path)?;
        }
        let seeded: Vec<String> = config
            .users
            .iter()
            .filter_map(|s| s.user_pool_id.clone())
            .collect();
        for pool in &seeded {
            config.add_pool(pool);
        }
        Ok(config)
    }
}

fn token_lifetime(secs: Option<f64>) -> Result<Option<Duration>, String> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s <= MAX_TOKEN_LIFETIME => {
            Ok(Some(Duration::from_secs_f64(s)))
        }
        Some(_) => Err(format!(
            "--sim-token-lifetime must be a number of seconds above 0 and at most {MAX_TOKEN_LIFETIME}"
        )),
    }
}

/// The file a `…-while` knob watches.
fn while_file(name: &str, path: &Option<String>) -> Result<Option<PathBuf>, String> {
    match path {
        Some(p) if p.is_empty() => Err(format!("{name} needs a file name")),
        Some(p) => Ok(Some(PathBuf::from(p))),
        None => Ok(None),
    }
}

/// Benchmark mode keeps no state and shares nothing between requests, so
/// the knobs that need either would silently do nothing there.
fn refuse_with_static(knobs: &SimKnobs) -> Result<(), String> {
    if !knobs.static_answers {
        return Ok(());
    }
    let stateful = [
        ("--sim-deny", !knobs.deny.is_empty()),
        ("--sim-fault-rate", knobs.fault_rate > 0.0),
        ("--sim-latency-ms", knobs.latency_ms > 0),
        ("--sim-email-cap", knobs.email_cap.is_some()),
        ("--sim-users", knobs.users.is_some()),
        ("--sim-generate", knobs.generate > 0),
        ("--sim-token-lifetime", knobs.token_lifetime.is_some()),
        ("--sim-expired-while", knobs.expired_while.is_some()),
        (
            "--sim-invalid-token-while",
            knobs.invalid_token_while.is_some(),
        ),
        ("--sim-outage", !knobs.outages.is_empty()),
        ("--sim-outage-while", knobs.outage_while.is_some()),
    ];
    match stateful.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(format!(
            "{name} cannot be used with --sim-static (benchmark mode answers every request at once)"
        )),
        None => Ok(()),
    }
}

fn outages(knobs: &SimKnobs, config: &mut Config) -> Result<(), String> {
    for text in &knobs.outages {
        let window = parse_outage(text).map_err(|e| format!("--sim-outage {text:?}: {e}"))?;
        config.outages.push(window);
    }
    config.outage_while = while_file("--sim-outage-while", &knobs.outage_while)?;
    let any = !config.outages.is_empty() || config.outage_while.is_some();
    if let Some(mode) = &knobs.outage_mode {
        config.outage_mode = match mode.as_str() {
            "500" => OutageMode::Error500,
            "close" => OutageMode::Close,
            "hang" => OutageMode::Hang,
            _ => {
                return Err(format!(
                    "--sim-outage-mode {mode:?}: not 500, close or hang"
                ));
            }
        };
        if !any {
            return Err("--sim-outage-mode needs --sim-outage or --sim-outage-while".into());
        }
    }
    for region in &knobs.outage_regions {
        let region = region.trim();
        if !is_region(region) {
            return Err(format!(
                "--sim-outage-region {region:?}: not a region name (such as eu-west-1)"
            ));
        }
        config.outage_regions.push(region.to_owned());
    }
    if !config.outage_regions.is_empty() && !any {
        return Err("--sim-outage-region needs --sim-outage or --sim-outage-while".into());
    }
    Ok(())
}

/// `AFTER+FOR`, two durations such as `5s+30s`.
fn parse_outage(text: &str) -> Result<OutageWindow, String> {
    let (after, lasting) = text
        .split_once('+')
        .ok_or("write it AFTER+FOR, such as 5s+30s")?;
    let duration = |part: &str, what: &str| {
        humantime::parse_duration(part.trim()).map_err(|e| format!("{what} {part:?}: {e}"))
    };
    let window = OutageWindow {
        after: duration(after, "AFTER")?,
        lasting: duration(lasting, "FOR")?,
    };
    if window.lasting.is_zero() {
        return Err("FOR must be longer than nothing".into());
    }
    Ok(window)
}

/// Letters, digits and dashes, such as `us-east-1` or `us-gov-west-1`.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn quotas(knobs: &SimKnobs) -> Result<Quotas, String> {
    let base = if knobs.no_quotas {
        Quotas::none()
    } else {
        Quotas::aws_defaults()
    };
    let pick = |name: &str, knob: Option<f64>, base: Option<f64>| match knob {
        None => Ok(base),
        Some(q) if q.is_nan() || !(0.0..=MAX_QUOTA).contains(&q) => Err(format!(
            "{name} must be a number of requests per second between 0 and {MAX_QUOTA}"
        )),
        Some(q) => Ok((q > 0.0).then_some(q)),
    };
    Ok(Quotas {
        user_account_recovery: pick("--sim-quota", knobs.quota, base.user_account_recovery)?,
        user_read: pick("--sim-read-quota", knobs.read_quota, base.user_read)?,
        user_update: pick("--sim-update-quota", knobs.update_quota, base.user_update)?,
        user_list: pick("--sim-list-quota", knobs.list_quota, base.user_list)?,
        user_pool_read: pick(
            "--sim-pool-read-quota",
            knobs.pool_read_quota,
            base.user_pool_read,
        )?,
        user_pool_client_read: pick(
            "--sim-client-read-quota",
            knobs.client_read_quota,
            base.user_pool_client_read,
        )?,
    })
}

fn deny(names: &[String]) -> Result<std::collections::HashSet<String>, String> {
    names
        .iter()
        .map(|name| {
            let name = name.trim();
            if deniable(name) {
                Ok(name.to_owned())
            } else {
                let known: Vec<&str> = super::ops::Op::ALL.iter().map(|op| op.name()).collect();
                Err(format!(
                    "--sim-deny {name:?}: not an operation the simulator answers ({}, GetCallerIdentity)",
                    known.join(", ")
                ))
            }
        })
        .collect()
}

fn pool_defaults(knobs: &SimKnobs) -> Result<PoolSettings, String> {
    let mut settings = PoolSettings {
        case_sensitive: knobs.case_sensitive,
        ..PoolSettings::default()
    };
    if let Some(list) = &knobs.recovery {
        settings.recovery =
            parse_recovery(&split_list(list)).map_err(|e| format!("--sim-recovery: {e}"))?;
    }
    if let Some(sender) = &knobs.email_sender {
        settings.email_sender =
            parse_email_sender(sender).map_err(|e| format!("--sim-email-sender: {e}"))?;
    }
    if let Some(list) = &knobs.groups {
        settings.groups =
            parse_groups(&split_list(list)).map_err(|e| format!("--sim-groups: {e}"))?;
    }
    Ok(settings)
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// RecoveryMechanisms as Cognito accepts them: one or two distinct verified
/// channels in priority order, or `admin_only` alone.
pub(crate) fn parse_recovery(names: &[String]) -> Result<Vec<String>, String> {
    let known = ["verified_email", "verified_phone_number", "admin_only"];
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!("{bad:?} is not one of {}", known.join(", ")));
    }
    match names {
        [] => Err("name at least one recovery mechanism".into()),
        [a, b] if a == b => Err(format!("{a} is listed twice")),
        [_, _] if names.iter().any(|n| n == "admin_only") => {
            Err("admin_only cannot be combined with another mechanism".into())
        }
        [_] | [_, _] => Ok(names.to_vec()),
        _ => Err("at most two recovery mechanisms".into()),
    }
}

pub(crate) fn parse_email_sender(text: &str) -> Result<Option<String>, String> {
    match text {
        "COGNITO_DEFAULT" | "DEVELOPER" => Ok(Some(text.to_owned())),
        "absent" => Ok(None),
        _ => Err(format!(
            "{text:?} is not COGNITO_DEFAULT, DEVELOPER or absent"
        )),
    }
}

fn parse_groups(names: &[String]) -> Result<Vec<String>, String> {
    for name in names {
        check_group_name(name).map_err(|e| format!("group {name:?}: {e}"))?;
    }
    Ok(names.to_vec())
}

/// One line of a `--sim-pools` file; unset fields take the knobs' settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolLine {
    id: String,
    #[serde(default)]
    recovery: Option<Recovery>,
    #[serde(default)]
    case_sensitive: Option<bool>,
    /// Missing: the knobs' setting; `null` or `"absent"`: no field.
    #[serde(default, deserialize_with = "present")]
    email_sender: Option<Option<String>>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// The pool's app clients; missing: one, `app`, with Cognito's defaults.
    #[serde(default)]
    clients: Option<Vec<ClientLine>>,
}

/// One app client in a `--sim-pools` line; unset validities take
/// Cognito's defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientLine {
    name: String,
    #[serde(default)]
    refresh: Option<String>,
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// `false`: answer without `TokenValidityUnits`.
    #[serde(default)]
    units: Option<bool>,
}

/// Seconds a refresh token may be valid: 60 minutes to 10 years.
const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 3600..=315_360_000;
/// Seconds an access or ID token may be valid: 5 minutes to 1 day.
const ACCESS_RANGE: std::ops::RangeInclusive<u64> = 300..=86_400;

impl ClientLine {
    fn client(self) -> Result<AppClient, String> {
        let name = &self.name;
        check_client_name(name).map_err(|e| format!("client name {name:?}: {e}"))?;
        let defaults = AppClient::default();
        let units = self.units.unwrap_or(true);
        let pick = |what: &str,
                    text: Option<&str>,
                    default: Validity,
                    range: &std::ops::RangeInclusive<u64>,
                    bare: TimeUnit| {
            let Some(text) = text else {
                return Ok(default);
            };
            let validity =
                parse_validity(text).map_err(|e| format!("client {name:?} {what}: {e}"))?;
            if !range.contains(&validity.seconds()) {
                return Err(format!(
                    "client {name:?} {what} {text:?}: Cognito allows {} to {} seconds",
                    range.start(),
                    range.end()
                ));
            }
            if !units && validity.seconds() % bare.seconds() != 0 {
                return Err(format!(
                    "client {name:?} {what} {text:?}: without units it must be whole {}",
                    bare.name()
                ));
            }
            Ok(validity)
        };
        Ok(AppClient {
            refresh: pick(
                "refresh",
                self.refresh.as_deref(),
                defaults.refresh,
                &REFRESH_RANGE,
                TimeUnit::Days,
            )?,
            access: pick(
                "access",
                self.access.as_deref(),
                defaults.access,
                &ACCESS_RANGE,
                TimeUnit::Hours,
            )?,
            id: pick(
                "id",
                self.id.as_deref(),
                defaults.id,
                &ACCESS_RANGE,
                TimeUnit::Hours,
            )?,
            units,
            name: self.name,
        })
    }
}

/// `30d`, `10h`, `5m`, `90s` (or with the unit spelt out: `30 days`).
fn parse_validity(text: &str) -> Result<Validity, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("name a unit: s, m, h or d (such as 30d)")?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| "start with a whole number (such as 30d)".to_owned())?;
    let unit = match unit.trim() {
        "s" | "seconds" => TimeUnit::Seconds,
        "m" | "minutes" => TimeUnit::Minutes,
        "h" | "hours" => TimeUnit::Hours,
        "d" | "days" => TimeUnit::Days,
        other => return Err(format!("unit {other:?} is not s, m, h or d")),
    };
    Ok(Validity { value, unit })
}

/// The app clients of a pools-file line: valid, with distinct names (the
/// client id derives from the name).
fn parse_clients(lines: Vec<ClientLine>) -> Result<Vec<AppClient>, String> {
    let mut clients: Vec<AppClient> = Vec::new();
    for line in lines {
        let client = line.client()?;
        if clients.iter().any(|c| c.name == client.name) {
            return Err(format!("client name {:?} is listed twice", client.name));
        }
        clients.push(client);
    }
    Ok(clients)
}

/// RecoveryMechanisms in a pools file: a JSON list or a comma list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Recovery {
    List(Vec<String>),
    Text(String),
}

impl PoolLine {
    fn settings(self, defaults: &PoolSettings) -> Result<PoolSettings, String> {
        check_pool_id(&self.id).map_err(|e| format!("id {:?}: {e}", self.id))?;
        let mut settings = defaults.clone();
        if let Some(recovery) = self.recovery {
            let names = match recovery {
                Recovery::List(names) => names,
                Recovery::Text(text) => split_list(&text),
            };
            settings.recovery = parse_recovery(&names).map_err(|e| format!("recovery: {e}"))?;
        }
        if let Some(case_sensitive) = self.case_sensitive {
            settings.case_sensitive = case_sensitive;
        }
        match self.email_sender {
            None => {}
            Some(None) => settings.email_sender = None,
            Some(Some(text)) => {
                settings.email_sender =
                    parse_email_sender(&text).map_err(|e| format!("email_sender: {e}"))?;
            }
        }
        if let Some(groups) = self.groups {
            settings.groups = parse_groups(&groups)?;
        }
        Ok(settings)
    }
}

/// The most a seed file may hold: some two million seeded users, and a
/// bound on what `/dev/zero` or an endless pipe can make the simulator hold.
const MAX_SEED_BYTES: u64 = 256 << 20;

/// The non-blank lines of a JSONL file, numbered from 1.
fn jsonl_lines(path: &str) -> Result<Vec<(usize, String)>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_SEED_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{path}: {e}"))?;
    if text.len() as u64 > MAX_SEED_BYTES {
        return Err(format!(
            "{path}: larger than {} MiB; seed fewer users, or generate them with --sim-generate",
            MAX_SEED_BYTES >> 20
        ));
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| (i + 1, line.to_owned()))
        .collect())
}

fn read_pools(path: &str, config: &mut Config) -> Result<(), String> {
    for (number, line) in jsonl_lines(path)? {
        let mut parsed: PoolLine =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{number}: {e}"))?;
        let id = parsed.id.clone();
        if let Some(lines) = parsed.clients.take() {
            let clients = parse_clients(lines).map_err(|e| format!("{path}:{number}: {e}"))?;
            config.clients.insert(id.clone(), clients);
        }
        let settings = parsed
            .settings(&config.pool_defaults)
            .map_err(|e| format!("{path}:{number}: {e}"))?;
        // A line for the default pool or a `--sim-pool` replaces its settings.
        config.pools.insert(id, settings);
    }
    Ok(())
}

fn read_seeds(path: &str) -> Result<Vec<SeedUser>, String> {
    let mut users = Vec::new();
    for (number, line) in jsonl_lines(path)? {
        let seed: SeedUser =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{number}: {e}"))?;
        check_seed(&seed).map_err(|e| format!("{path}:{number}: {e}"))?;
        users.push(seed);
    }
    Ok(users)
}

/// A contact a seed gives is well-formed, and one said to be verified
/// exists.
fn check_contacts(seed: &SeedUser) -> Result<(), String> {
    if let Some(Some(email)) = &seed.email {
        let (local, domain) = email.split_once('@').unwrap_or_default();
        if local.is_empty() || domain.is_empty() || email.chars().any(char::is_whitespace) {
            return Err(format!("email {email:?} is not an address"));
        }
    }
    if let Some(Some(phone)) = &seed.phone_number {
        let digits = phone.strip_prefix('+').unwrap_or_default();
        if !(4..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "phone_number {phone:?} is not E.164 (+ and 4 to 15 digits)"
            ));
        }
    }
    if seed.email == Some(None) && seed.email_verified == Some(true) {
        return Err("email_verified is true but email is null".into());
    }
    if seed.phone_number == Some(None) && seed.phone_verified == Some(true) {
        return Err("phone_verified is true but phone_number is null".into());
    }
    Ok(())
}

fn check_seed(seed: &SeedUser) -> Result<(), String> {
    check_username(&seed.username).map_err(|e| format!("username: {e}"))?;
    if let Some(pool) = &seed.user_pool_id {
        check_pool_id(pool).map_err(|e| format!("user_pool_id: {e}"))?;
    }
    if let Some(status) = &seed.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(format!(
            "status {status:?} is not one of {}",
            STATUSES.join(", ")
        ));
    }
    parse_groups(&seed.groups)?;
    check_contacts(seed)?;
    if let Some(op) = &seed.fail_operation
        && Op::from_name(op).is_none()
    {
        return Err(format!(
            "fail_operation {op:?} is not an operation the simulator answers"
        ));
    }
    match &seed.fail {
        Some(code) if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) => Err(
            format!("fail {code:?} is not an error code (letters and digits)"),
        ),
        None if seed.fail_message.is_some()
            || seed.fail_times.is_some()
            || seed.fail_operation.is_some() =>
        {
            Err("fail_message, fail_times and fail_operation need fail".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::config::DEFAULT_POOL;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimKnobs,
    }

    fn knobs(args: &[&str]) -> SimKnobs {
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
            .unwrap()
            .sim
    }

    fn load(args: &[&str]) -> Result<Config, String> {
        Config::from_knobs(&knobs(args))
    }

    fn scratch(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sim-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn knobs_parse_alongside_the_whole_command_line() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_a_new_pool_in_an_untouched_account() {
        let c = load(&[]).unwrap();
        assert_eq!(c.quotas, Quotas::aws_defaults());
        assert_eq!(c.pool_defaults, PoolSettings::default());
        assert!(!c.static_answers);
    }

    #[test]
    fn quota_knobs_set_categories_and_zero_turns_one_off() {
        let c = load(&["--sim-no-quotas", "--sim-read-quota", "7"]).unwrap();
        assert_eq!(c.quotas.user_read, Some(7.0));
        assert_eq!(c.quotas.user_account_recovery, None);
        let c = load(&["--quota", "0", "--sim-list-quota", "2.5"]).unwrap();
        assert_eq!(c.quotas.user_account_recovery, None);
        assert_eq!(c.quotas.user_list, Some(2.5));
        assert_eq!(c.quotas.user_update, Some(25.0));
    }

    #[test]
    fn nonsense_knob_values_are_refused_not_panicked_on() {
        for args in [
            &["--sim-quota", "NaN"][..],
            &["--sim-quota=-1"],
            &["--sim-read-quota", "1e300"],
            &["--sim-pool-read-quota", "inf"],
            &["--sim-fault-rate", "NaN"],
            &["--sim-fault-rate", "1.5"],
            &["--sim-latency-ms", "18446744073709551615"],
            &["--sim-generate", "99999999999"],
            &["--sim-recovery", "verified_email,admin_only"],
            &["--sim-recovery", "verified_email,verified_email"],
            &["--sim-recovery", "email"],
            &["--sim-recovery", ","],
            &["--sim-email-sender", "SES"],
            &["--sim-deny", "DeleteUserPool"],
            &["--sim-pool", "no underscore"],
            &["--sim-groups", "has space"],
            &["--sim-users", "/nonexistent/seed.jsonl"],
            &["--sim-token-lifetime", "0"],
            &["--sim-token-lifetime", "NaN"],
            &["--sim-token-lifetime", "1e12"],
            &["--sim-expired-while", ""],
            &["--sim-static", "--sim-token-lifetime", "5"],
            &["--sim-static", "--sim-invalid-token-while", "/tmp/x"],
            &["--sim-outage", "5s"],
            &["--sim-outage", "5s+0s"],
            &["--sim-outage", "soon+30s"],
            &["--sim-outage", "5s+forever"],
            &["--sim-outage-while", "f", "--sim-outage-mode", "drop"],
            &["--sim-outage-mode", "hang"],
            &["--sim-outage-region", "eu-west-1"],
            &["--sim-outage-while", "f", "--sim-outage-region", "Europe"],
            &["--sim-static", "--sim-outage", "1s+1s"],
        ] {
            let e = load(args).unwrap_err();
            assert!(!e.is_empty(), "{args:?}");
        }
    }

    #[test]
    fn a_seed_file_without_end_is_refused_not_read_until_memory_runs_out() {
        for knob in ["--sim-users", "--sim-pools"] {
            let e = load(&[knob, "/dev/zero"]).unwrap_err();
            assert!(e.contains("larger than 256 MiB"), "{knob}: {e}");
        }
    }

    #[test]
    fn sim_static_refuses_the_knobs_it_would_silently_ignore() {
        for knob in [
            &["--sim-deny", "AdminResetUserPassword"][..],
            &["--sim-fault-rate", "0.5"],
            &["--sim-latency-ms", "10"],
            &["--sim-email-cap", "50"],
            &["--sim-users", "/tmp/seed.jsonl"],
            &["--sim-generate", "5"],
        ] {
            let mut args = vec!["--sim-static"];
            args.extend_from_slice(knob);
            let e = load(&args).unwrap_err();
            assert!(e.contains(knob[0]) && e.contains("--sim-static"), "{e}");
        }
        assert!(load(&["--sim-static"]).is_ok());
    }

    #[test]
    fn credential_knobs_load_with_or_without_their_prefix() {
        let c = load(&[
            "--sim-token-lifetime",
            "1.5",
            "--expired-while",
            "/tmp/expired",
            "--sim-invalid-token-while",
            "/tmp/invalid",
        ])
        .unwrap();
        assert_eq!(c.token_lifetime, Some(Duration::from_millis(1500)));
        assert_eq!(c.expired_while.as_deref(), Some("/tmp/expired".as_ref()));
        assert_eq!(
            c.invalid_token_while.as_deref(),
            Some("/tmp/invalid".as_ref())
        );
        let e = load(&["--sim-static", "--sim-expired-while", "x"]).unwrap_err();
        assert!(
            e.contains("--sim-expired-while") && e.contains("--sim-static"),
            "{e}"
        );
    }

    #[test]
    fn outage_knobs_load_windows_mode_and_regions() {
        let c = load(&[
            "--sim-outage",
            "5s+30s",
            "--outage",
            "2m + 500ms",
            "--sim-outage-while",
            "/tmp/down",
            "--sim-outage-mode",
            "hang",
            "--sim-outage-region",
            "eu-west-1,us-gov-west-1",
            "--outage-region",
            "ap-southeast-2",
        ])
        .unwrap();
        let window = |after, lasting| OutageWindow { after, lasting };
        assert_eq!(
            c.outages,
            [
                window(Duration::from_secs(5), Duration::from_secs(30)),
                window(Duration::from_secs(120), Duration::from_millis(500)),
            ]
        );
        assert_eq!(c.outage_while.as_deref(), Some("/tmp/down".as_ref()));
        assert_eq!(c.outage_mode, OutageMode::Hang);
        assert_eq!(
            c.outage_regions,
            ["eu-west-1", "us-gov-west-1", "ap-southeast-2"]
        );
        assert_eq!(load(&[]).unwrap().outage_mode, OutageMode::Error500);
        let close = load(&["--sim-outage-while", "f", "--sim-outage-mode", "close"]);
        assert_eq!(close.unwrap().outage_mode, OutageMode::Close);
    }

    #[test]
    fn pool_knobs_set_the_default_settings() {
        let c = load(&[
            "--sim-recovery",
            "verified_phone_number, verified_email",
            "--sim-case-sensitive",
            "--sim-email-sender",
            "absent",
            "--sim-groups",
            "staff,admins",
            "--sim-deny",
            "GetCallerIdentity,AdminGetUser",
            "--sim-pool",
            "eu-west-1_Two",
        ])
        .unwrap();
        let d = &c.pool_defaults;
        assert_eq!(d.recovery, ["verified_phone_number", "verified_email"]);
        assert!(d.case_sensitive);
        assert_eq!(d.email_sender, None);
        assert_eq!(d.groups, ["staff", "admins"]);
        assert_eq!(c.pools["eu-west-1_Two"], *d);
        assert!(c.deny.contains("GetCallerIdentity") && c.deny.contains("AdminGetUser"));
    }

    #[test]
    fn pools_file_lines_override_the_defaults() {
        let path = scratch(
            "pools.jsonl",
            "{\"id\": \"eu-west-1_A\", \"recovery\": [\"admin_only\"], \"groups\": [\"g\"]}\n\n\
             {\"id\": \"us-east-1_SimPool1\", \"email_sender\": null, \"case_sensitive\": true}\n\
             {\"id\": \"eu-west-1_B\", \"recovery\": \"verified_phone_number\", \"email_sender\": \"DEVELOPER\"}\n",
        );
        let c = load(&["--sim-pools", &path]).unwrap();
        assert_eq!(c.pools["eu-west-1_A"].recovery, ["admin_only"]);
        assert_eq!(c.pools["eu-west-1_A"].groups, ["g"]);
        assert_eq!(
            c.pools["eu-west-1_A"].email_sender.as_deref(),
            Some("COGNITO_DEFAULT")
        );
        assert_eq!(c.pools[DEFAULT_POOL].email_sender, None);
        assert!(c.pools[DEFAULT_POOL].case_sensitive);
        assert_eq!(
            c.pools["eu-west-1_B"].email_sender.as_deref(),
            Some("DEVELOPER")
        );
        let bad = scratch(
            "bad-pools.jsonl",
            "{\"id\": \"eu-west-1_A\", \"colour\": 1}\n",
        );
        let e = load(&["--sim-pools", &bad]).unwrap_err();
        assert!(e.contains(":1:"), "{e}");
    }

    #[test]
    fn pools_file_gives_pools_their_app_clients() {
        let path = scratch(
            "clients.jsonl",
            "{\"id\": \"eu-west-1_A\", \"clients\": [{\"name\": \"web\", \"refresh\": \"30d\", \"access\": \"1h\", \"id\": \"1h\"}, \
             {\"name\": \"admin\", \"refresh\": \"10 hours\", \"access\": \"5m\", \"id\": \"300s\"}, {\"name\": \"old app\", \"units\": false, \"access\": \"2h\"}]}\n\
             {\"id\": \"eu-west-1_B\"}\n",
        );
        let c = load(&["--sim-pools", &path]).unwrap();
        let clients = &c.clients["eu-west-1_A"];
        assert_eq!(clients.len(), 3);
        assert_eq!(
            clients[1].refresh,
            Validity {
                value: 10,
                unit: TimeUnit::Hours
            }
        );
        assert_eq!(clients[1].id.seconds(), 300);
        assert!(!clients[2].units);
        assert_eq!(clients[2].refresh, AppClient::default().refresh);
        assert_eq!(c.clients_of("eu-west-1_B"), [AppClient::default()]);
        for (i, clients) in [
            r#"[{"name": "web", "refresh": "30m"}]"#,
            r#"[{"name": "web", "refresh": "3651d"}]"#,
            r#"[{"name": "web", "access": "2d"}]"#,
            r#"[{"name": "web", "id": "4m"}]"#,
            r#"[{"name": "web", "access": "1w"}]"#,
            r#"[{"name": "web", "access": "h"}]"#,
            r#"[{"name": "web"}, {"name": "web"}]"#,
            r#"[{"name": "bad/name"}]"#,
            r#"[{"name": ""}]"#,
            r#"[{"name": "web", "units": false, "refresh": "10h"}]"#,
            r#"[{"name": "web", "units": false, "access": "90m"}]"#,
            r#"[{"name": "web", "colour": "blue"}]"#,
        ]
        .iter()
        .enumerate()
        {
            let line = format!("{{\"id\": \"eu-west-1_A\", \"clients\": {clients}}}\n");
            let bad = scratch(&format!("bad-clients-{i}.jsonl"), &line);
            let e = load(&["--sim-pools", &bad]).unwrap_err();
            assert!(e.contains(":1:"), "{clients}: {e}");
        }
        let q = load(&["--sim-client-read-quota", "4"]).unwrap().quotas;
        assert_eq!(q.user_pool_client_read, Some(4.0));
        assert_eq!(
            load(&["--client-read-quota", "0"])
                .unwrap()
                .quotas
                .user_pool_client_read,
            None
        );
    }

    #[test]
    fn seed_file_is_checked_line_by_line() {
        let good = scratch(
            "seed.jsonl",
            "{\"username\": \"a\", \"user_pool_id\": \"eu-west-1_Seeded\", \"status\": \"ARCHIVED\"}\n",
        );
        let c = load(&["--sim-users", &good]).unwrap();
        assert!(c.pools.contains_key("eu-west-1_Seeded"));
        let contacts = scratch(
            "contacts.jsonl",
            "{\"username\": \"p\", \"email\": null, \"phone_verified\": true}\n\
             {\"username\": \"q\", \"email\": \"q@example.org\", \"phone_number\": \"+15550100\"}\n",
        );
        let users = load(&["--sim-users", &contacts]).unwrap().users;
        assert_eq!(users[0].email, Some(None));
        assert_eq!(users[0].phone_number, None, "left out, not null");
        assert_eq!(users[1].email, Some(Some("q@example.org".into())));
        assert_eq!(users[1].phone_number, Some(Some("+15550100".into())));
        for (i, line) in [
            "{\"username\": \"\"}",
            "{\"username\": \"a\", \"status\": \"ASLEEP\"}",
            "{\"username\": \"a\", \"emial_verified\": true}",
            "{\"username\": \"a\", \"fail_times\": 2}",
            "{\"username\": \"a\", \"fail\": \"Bad Code\"}",
            "{\"username\": \"a\", \"fail\": \"X\", \"fail_operation\": \"Nope\"}",
            "{\"username\": \"a\", \"email\": null, \"email_verified\": true}",
            "{\"username\": \"a\", \"phone_number\": null, \"phone_verified\": true}",
            "{\"username\": \"a\", \"email\": \"no-at-sign\"}",
            "{\"username\": \"a\", \"phone_number\": \"555-0100\"}",
            "{\"username\": \"a\", \"email\": 5}",
            "[]",
        ]
        .iter()
        .enumerate()
        {
            let path = scratch(&format!("bad-seed-{i}.jsonl"), &format!("\n{line}\n"));
            let e = load(&["--sim-users", &path]).unwrap_err();
            assert!(e.contains(":2:"), "{line}: {e}");
        }
    }
}
