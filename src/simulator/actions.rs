//! What each operation does once a request is admitted: Cognito's rules for
//! resetting, reading, signing out and disabling users, describing pools
//! and reporting provisioned limits.

use serde_json::{Value, json};

use super::account::Account;
use super::answer::{Answer, fail};
use super::clients;
use super::config::{Config, PoolSettings};
use super::listing;
use super::ops::{Category, Op, default_limit};
use super::pools::Entry;
use super::validate::Params;

/// Carries out an admitted, valid request.
pub(crate) fn apply(config: &Config, account: &mut Account, op: Op, params: &Params) -> Answer {
    if op == Op::GetProvisionedLimit {
        return provisioned_limit(config, params);
    }
    let Account {
        pools,
        emails_sent,
        token_key,
    } = account;
    let Some(pool) = pools.get_mut(&params.pool) else {
        return fail(
            "ResourceNotFoundException",
            format!("User pool {} does not exist.", params.pool),
        );
    };
    match op {
        Op::DescribeUserPool => Answer::Ok(json!({"UserPool": pool.describe()})),
        Op::ListUsers | Op::ListUsersInGroup => listing::list(pool, op, params, token_key),
        Op::ListUserPoolClients => clients::list(pool, params, token_key),
        Op::DescribeUserPoolClient => clients::describe(pool, &params.client_id),
        _ => {
            let settings = pool.settings.clone();
            let read = op == Op::AdminGetUser;
            let Some(entry) = pool.find_or_implicit(&params.username, read) else {
                return fail("UserNotFoundException", "User does not exist.");
            };
            match op {
                Op::AdminGetUser => get_user(entry),
                Op::AdminUserGlobalSignOut => sign_out(entry),
                Op::AdminDisableUser => disable(entry),
                _ => {
                    let cap_reached = config.email_cap.is_some_and(|cap| *emails_sent >= cap);
                    let answer = reset(&settings, entry, cap_reached);
                    if let Reset::Sent(Channel::Email) = answer {
                        *emails_sent += 1;
                    }
                    answer.into()
                }
            }
        }
    }
}

fn get_user(entry: &mut Entry) -> Answer {
    let user = &mut entry.user;
    user.get_calls += 1;
    if let Some((code, message)) = user.scripted(Op::AdminGetUser) {
        return fail(&code, message);
    }
    Answer::Ok(json!({
        "Username": entry.name,
        "UserStatus": user.status,
        "Enabled": user.enabled,
        "UserAttributes": user.attributes(&entry.name, None),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
    }))
}

/// Signs out any user, disabled or in any status: it only revokes tokens.
fn sign_out(entry: &mut Entry) -> Answer {
    let user = &mut entry.user;
    if let Some((code, message)) = user.scripted(Op::AdminUserGlobalSignOut) {
        return fail(&code, message);
    }
    user.sign_outs += 1;
    Answer::Ok(json!({}))
}

/// Disabling an already disabled user succeeds and changes nothing.
fn disable(entry: &mut Entry) -> Answer {
    let user = &mut entry.user;
    if let Some((code, message)) = user.scripted(Op::AdminDisableUser) {
        return fail(&code, message);
    }
    if user.enabled {
        user.enabled = false;
        user.touch();
    }
    user.disables += 1;
    Answer::Ok(json!({}))
}

/// How a reset code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Channel {
    Email,
    Sms,
    /// RESET_REQUIRED users with no verified contact reset without a code.
    None,
}

/// The outcome of AdminResetUserPassword.
#[derive(Debug, PartialEq)]
enum Reset {
    Sent(Channel),
    Refused(String, String),
}

impl From<Reset> for Answer {
    fn from(reset: Reset) -> Answer {
        match reset {
            Reset::Sent(_) => Answer::Ok(json!({})),
            Reset::Refused(code, message) => fail(&code, message),
        }
    }
}

/// The channel the pool's recovery setting picks for the user: the first
/// mechanism, in priority order, the user has verified; failing that, any
/// verified contact (phone first, as Cognito did before the setting).
pub(crate) fn channel(settings: &PoolSettings, email: bool, phone: bool) -> Channel {
    for mechanism in &settings.recovery {
        match mechanism.as_str() {
            "verified_email" if email => return Channel::Email,
            "verified_phone_number" if phone => return Channel::Sms,
            _ => {}
        }
    }
    match (phone, email) {
        (true, _) => Channel::Sms,
        (false, true) => Channel::Email,
        (false, false) => Channel::None,
    }
}

const EMAIL_LIMIT: &str = "Exceeded daily email limit for the operation or the account. If a higher \
    limit is required, please configure your user pool to use your own Amazon SES configuration \
    for sending email.";

/// AdminResetUserPassword's rules, in the order Cognito applies them.
fn reset(settings: &PoolSettings, entry: &mut Entry, email_cap_reached: bool) -> Reset {
    let user = &mut entry.user;
    user.reset_calls += 1;
    if let Some((code, message)) = user.scripted(Op::AdminResetUserPassword) {
        return Reset::Refused(code, message);
    }
    let refuse = |code: &str, message: &str| Reset::Refused(code.to_owned(), message.to_owned());
    if settings.recovery.iter().any(|m| m == "admin_only") {
        return refuse(
            "NotAuthorizedException",
            "Cannot reset password for the user as the user pool's account recovery is admin only.",
        );
    }
    if !user.enabled {
        return refuse("NotAuthorizedException", "User is disabled.");
    }
    if user.status != "CONFIRMED" && user.status != "RESET_REQUIRED" {
        return refuse(
            "NotAuthorizedException",
            "User password cannot be reset in the current state.",
        );
    }
    let channel = channel(settings, user.email_verified, user.phone_verified);
    if channel == Channel::None && user.status == "CONFIRMED" {
        return refuse(
            "InvalidParameterException",
            "Cannot reset password for the user as there is no registered/verified email or phone_number",
        );
    }
    if channel == Channel::Email && email_cap_reached {
        return refuse("LimitExceededException", EMAIL_LIMIT);
    }
    user.status = "RESET_REQUIRED".into();
    user.resets_succeeded += 1;
    user.emails_sent += u64::from(channel == Channel::Email);
    user.sms_sent += u64::from(channel == Channel::Sms);
    user.touch();
    Reset::Sent(channel)
}

/// GetProvisionedLimit: the configured quota of an enforced category (its
/// AWS default when not enforced), the default of any other known category.
pub(crate) fn provisioned_limit(config: &Config, params: &Params) -> Answer {
    let Some(category) = params.category.as_deref() else {
        return fail(
            "InvalidParameterException",
            "LimitDefinition.Attributes must contain Category.",
        );
    };
    let Some(free) = default_limit(category) else {
        return fail(
            "InvalidParameterException",
            format!("{category} is not a valid API category."),
        );
    };
    let enforced = Category::ALL
        .into_iter()
        .find(|c| c.name() == category)
        .and_then(|c| config.quotas.get(c));
    let provisioned = enforced.map_or(i64::from(free), |q| (q.round() as i64).max(1));
    Answer::Ok(limit_json(category, provisioned, free))
}

/// GetProvisionedLimit's answer.
pub(crate) fn limit_json(category: &str, provisioned: i64, free: u32) -> Value {
    json!({"Limit": {
        "LimitDefinition": {"LimitClass": "API_CATEGORY", "Attributes": {"Category": category}},
        "ProvisionedLimitValue": provisioned.min(i64::from(i32::MAX)),
        "FreeLimitValue": free,
    }})
}
