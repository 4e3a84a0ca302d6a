//! Sessions: how long the tokens of a pool's app clients stay valid, and so
//! when the users of a forced reset are out.
//!
//! A reset ends no session: `AdminResetUserPassword` revokes no token, and a
//! refresh token lives as long as its app client says (30 days by default,
//! up to ten years). `AdminUserGlobalSignOut` (or `AdminDisableUser`)
//! revokes the refresh tokens, but the access and ID tokens already issued
//! stay valid until they expire: the longest access- or ID-token validity
//! among the pool's app clients after the last sign-out, the run's
//! *locked out by*. The preflight reads the app clients here
//! (`ListUserPoolClients`, `DescribeUserPoolClient` at the
//! UserPoolClientRead rate, through the one retry driver).

use std::time::{Duration, SystemTime};

use crate::cognito::{AppClient, CallError, Cognito, Op};
use crate::retry::{Answer, Attempts, Caller};

/// The longest access- or ID-token validity Cognito allows: the bound when
/// the app clients could not be read.
pub const MAX_ACCESS: Duration = Duration::from_secs(86_400);

/// Why a pool's app clients are not known.
#[derive(Debug)]
pub enum Unread {
    /// The run is stopping.
    Stopped,
    /// A call failed (not permitted, or retries ran out).
    Failed(CallError),
}

/// Reads every app client of `pool`: the listing page by page, then each
/// client's description.
pub async fn read(
    caller: &Caller,
    cognito: &Cognito,
    region: &str,
    pool: &str,
    max_attempts: u32,
) -> Result<Vec<AppClient>, Unread> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let budget = Attempts::fresh(max_attempts);
        let (answer, _) = caller
            .call(region, Op::ListClients, budget, || {
                cognito.list_clients(pool, token.clone())
            })
            .await;
        let page = settled(answer)?;
        ids.extend(page.ids);
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    let mut clients = Vec::with_capacity(ids.len());
    for id in ids {
        let budget = Attempts::fresh(max_attempts);
        let (answer, _) = caller
            .call(region, Op::DescribeClient, budget, || {
                cognito.describe_client(pool, &id)
            })
            .await;
        clients.push(settled(answer)?);
    }
    Ok(clients)
}

fn settled<T>(answer: Answer<T>) -> Result<T, Unread> {
    match answer {
        Answer::Ok(reply) => Ok(reply.value),
        Answer::Err(e) => Err(Unread::Failed(e)),
        Answer::Stopped => Err(Unread::Stopped),
    }
}

/// The plan's note for app clients that could not be read.
pub fn unread_note(e: &CallError) -> String {
    format!(
        "the app clients could not be read ({}: {}; cognito-idp:ListUserPoolClients and \
         cognito-idp:DescribeUserPoolClient): their token validity is unknown, so the time \
         users are out is bounded by Cognito's limits (refresh tokens up to 10 years, access \
         and ID tokens up to 1 day)",
        e.code, e.message
    )
}

/// The longest refresh-token validity among `clients`.
pub fn longest_refresh(clients: &[AppClient]) -> Option<Duration> {
    clients.iter().map(|c| c.refresh).max()
}

/// The longest access- or ID-token validity among `clients`: how long a
/// token issued before the last sign-out may still be accepted.
pub fn longest_access(clients: &[AppClient]) -> Option<Duration> {
    clients.iter().map(|c| c.access.max(c.id_token)).max()
}

/// How long after the last sign-out the last token issued before it
/// expires: the longest access/ID validity, Cognito's limit when the app
/// clients are unknown, nothing when the pool has no app client.
pub fn grace(clients: Option<&[AppClient]>) -> Duration {
    match clients {
        Some(c) => longest_access(c).unwrap_or_default(),
        None => MAX_ACCESS,
    }
}

/// A duration in words, in its largest whole unit: "30 days", "1 hour",
/// "90 minutes".
pub fn words(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        0 => (0, "second"),
        _ if s.is_multiple_of(86_400) => (s / 86_400, "day"),
        _ if s.is_multiple_of(3_600) => (s / 3_600, "hour"),
        _ if s.is_multiple_of(60) => (s / 60, "minute"),
        _ => (s, "second"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural}")
}

/// A moment as the operator reads it, rounded up to the minute (a bound
/// stays a bound): "04:17 UTC" on the day of `now`, with the date otherwise.
pub fn clock_words(at: SystemTime, now: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let minute = (secs / 60.0).ceil() as u64 * 60;
    let rounded = SystemTime::UNIX_EPOCH + Duration::from_secs(minute);
    let text = humantime::format_rfc3339_seconds(rounded).to_string();
    let today = humantime::format_rfc3339_seconds(now).to_string();
    let (date, time) = (&text[..10], &text[11..16]);
    if today.starts_with(date) {
        format!("{time} UTC")
    } else {
        format!("{date} {time} UTC")
    }
}

/// "the pool's app client", "the pool's 3 app clients".
fn of_clients(clients: &[AppClient]) -> String {
    match clients.len() {
        1 => "the pool's app client".into(),
        n => format!("the pool's {n} app clients"),
    }
}

/// A moment as it was, to the second: "03:17:42 UTC" on the day of
/// `now`, with the date otherwise.
pub fn moment_words(at: SystemTime, now: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    let today = humantime::format_rfc3339_seconds(now).to_string();
    let (date, time) = (&text[..10], &text[11..19]);
    if today.starts_with(date) {
        format!("{time} UTC")
    } else {
        format!("{date} {time} UTC")
    }
}

/// How the app clients bound a pool's sessions, in words.
fn basis(clients: Option<&[AppClient]>) -> String {
    match clients {
        Some([]) => "the pool has no app client".into(),
        Some(c) => format!(
            "{}, the longest access/ID-token validity of {}",
            words(grace(Some(c))),
            of_clients(c)
        ),
        None => format!(
            "{}, the longest Cognito allows (the app clients could not be read)",
            words(MAX_ACCESS)
        ),
    }
}

/// What the plan says of a pool's sessions: without `--global-sign-out`,
/// that they survive the reset; with it, when tokens issued before the run
/// stop working (`end`: when the run is estimated to end; `None` when that
/// is not known, or for a dry run, whose own end says nothing of a real
/// run's).
pub fn plan_lines(
    clients: Option<&[AppClient]>,
    sign_out: bool,
    end: Option<SystemTime>,
) -> Vec<String> {
    if !sign_out {
        let Some(refresh) = refresh_words(clients) else {
            return Vec::new();
        };
        return vec![format!(
            "WARNING: a reset ends no session: refresh tokens already issued stay valid for \
             {refresh}; add --global-sign-out to revoke them"
        )];
    }
    let Some(end) = end else {
        return vec![format!(
            "sessions: tokens issued before the run stop working after its last sign-out + {}",
            basis(clients)
        )];
    };
    vec![format!(
        "sessions: tokens issued before the run stop working by {} (estimated: the run's end \
         + {})",
        clock_words(end + grace(clients), SystemTime::now()),
        basis(clients)
    )]
}

/// What the summary says of a pool's sessions after a run with
/// `--global-sign-out`: `last` is the pool's last sign-out (or disable) in
/// the whole report, `owed` the users whose sign-out is still owed, `kept`
/// those left with a working password, whom nobody signed out.
pub fn summary_line(
    clients: Option<&[AppClient]>,
    last: Option<SystemTime>,
    owed: u64,
    kept: u64,
) -> String {
    let users = |n: u64| if n == 1 { "user" } else { "users" };
    let kept_words = format!(
        "the {kept} {} who keep a working password (never signed out)",
        users(kept)
    );
    let Some(last) = last else {
        let mut line = String::from("sessions: no user of the pool was signed out");
        if kept > 0 {
            line.push_str(&format!(", including {kept_words}"));
        }
        return line;
    };
    let now = SystemTime::now();
    let mut line = format!(
        "sessions: tokens issued before the run stop working by {} (the last sign-out, {}, + {})",
        clock_words(last + grace(clients), now),
        moment_words(last, now),
        basis(clients)
    );
    if owed > 0 {
        line.push_str(&format!(
            "; NOT for the {owed} {} whose sign-out failed or was not made (--resume signs \
             them out)",
            users(owed)
        ));
    }
    if kept > 0 {
        line.push_str(&format!("; NOT for {kept_words}"));
    }
    line
}

/// How long refresh tokens outlive a reset, in words; `None` for a pool
/// without app clients (no session to end).
fn refresh_words(clients: Option<&[AppClient]>) -> Option<String> {
    Some(match clients {
        Some([]) => return None,
        Some(c) => format!(
            "up to {}, the longest refresh-token validity of {}",
            words(longest_refresh(c).unwrap_or_default()),
            of_clients(c)
        ),
        None => "up to the refresh-token validity of its app clients (not read: 30 days by \
                 default, up to 10 years)"
            .into(),
    })
}

/// What the summary says of a pool's sessions after a run without
/// `--global-sign-out`.
pub fn unended_line(clients: Option<&[AppClient]>) -> Option<String> {
    refresh_words(clients).map(|refresh| {
        format!(
            "sessions NOT ended: refresh tokens issued before the run stay valid for {refresh}: \
             nobody was signed out (--global-sign-out)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(refresh: u64, access: u64, id: u64) -> AppClient {
        AppClient {
            id: "c".into(),
            name: "n".into(),
            refresh: Duration::from_secs(refresh),
            access: Duration::from_secs(access),
            id_token: Duration::from_secs(id),
        }
    }

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(words(Duration::from_secs(30 * 86_400)), "30 days");
        assert_eq!(words(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(words(Duration::from_secs(5_400)), "90 minutes");
        assert_eq!(words(Duration::from_secs(61)), "61 seconds");
    }

    #[test]
    fn the_longest_validity_of_any_client_bounds_the_pool() {
        let clients = [client(86_400, 300, 3_600), client(3_600, 7_200, 600)];
        assert_eq!(longest_refresh(&clients), Some(Duration::from_secs(86_400)));
        assert_eq!(grace(Some(&clients)), Duration::from_secs(7_200));
        assert_eq!(grace(Some(&[])), Duration::ZERO);
        assert_eq!(grace(None), MAX_ACCESS);
    }

    #[test]
    fn moments_round_up_to_the_minute_and_name_another_day() {
        let at = humantime::parse_rfc3339("2030-01-02T04:16:01Z").unwrap();
        assert_eq!(clock_words(at, at), "04:17 UTC");
        let exact = humantime::parse_rfc3339("2030-01-02T04:16:00Z").unwrap();
        assert_eq!(clock_words(exact, at), "04:16 UTC");
        let next_day = at + Duration::from_secs(86_400);
        assert_eq!(clock_words(next_day, at), "2030-01-03 04:17 UTC");
    }

    #[test]
    fn without_sign_out_the_plan_warns_with_the_longest_refresh_validity() {
        let clients = [client(30 * 86_400, 3_600, 3_600), client(3_600, 300, 300)];
        let lines = plan_lines(Some(&clients), false, None);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("up to 30 days"), "{lines:?}");
        assert!(lines[0].contains("--global-sign-out"), "{lines:?}");
        assert!(plan_lines(Some(&[]), false, None).is_empty());
    }
}
