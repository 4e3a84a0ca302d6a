//! One user as the simulator keeps it: Cognito's view of the user (status,
//! enabled, verified contacts, groups, dates) plus the counts of what was
//! done to it, which tests judge runs by.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::config::SeedUser;
use super::ops::Op;

/// Seconds since the Unix epoch, to the millisecond, as Cognito's dates are.
pub(crate) fn now() -> f64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    ms as f64 / 1000.0
}

/// An error a seed scripts for one operation on one user.
#[derive(Debug, Clone, PartialEq)]
struct Script {
    op: Op,
    code: String,
    message: String,
    /// Failures left; `None` = always.
    times: Option<u32>,
}

/// One user as the simulator sees it, with what was done to it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    /// UserStatus.
    pub status: String,
    /// Enabled.
    pub enabled: bool,
    /// `email_verified`.
    pub email_verified: bool,
    /// `phone_number_verified`.
    pub phone_verified: bool,
    /// Whether the user has an `email` attribute at all.
    pub has_email: bool,
    /// Whether the user has a `phone_number` attribute at all.
    pub has_phone: bool,
    /// The `email` a seed gave (else `<username>@example.com`).
    pub email: Option<String>,
    /// The `phone_number` a seed gave (else `+15555550100`).
    pub phone_number: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
    /// AdminResetUserPassword calls received for this user (past the quota).
    pub reset_calls: u64,
    /// Of those, the ones that succeeded.
    pub resets_succeeded: u64,
    /// AdminGetUser calls that reached the user.
    pub get_calls: u64,
    /// AdminUserGlobalSignOut calls that succeeded.
    pub sign_outs: u64,
    /// AdminDisableUser calls that succeeded.
    pub disables: u64,
    /// Reset codes sent by email.
    pub emails_sent: u64,
    /// Reset codes sent by SMS.
    pub sms_sent: u64,
    /// Successful resets that sent no code (a RESET_REQUIRED user with no
    /// verified contact).
    pub resets_without_code: u64,
    /// `UserCreateDate`, seconds since the epoch.
    pub created: f64,
    /// `UserLastModifiedDate`, seconds since the epoch.
    pub modified: f64,
    #[serde(skip)]
    fail: Option<Script>,
    /// Made real by a read alone (AdminGetUser of a name nobody seeded):
    /// not listed, for reading a user creates nothing.
    #[serde(skip)]
    pub(crate) only_read: bool,
}

impl User {
    /// A user that existed when the simulator started.
    pub(crate) fn new(status: &str, created: f64) -> User {
        User {
            status: status.into(),
            enabled: true,
            email_verified: true,
            phone_verified: false,
            has_email: true,
            has_phone: false,
            email: None,
            phone_number: None,
            groups: Vec::new(),
            reset_calls: 0,
            resets_succeeded: 0,
            get_calls: 0,
            sign_outs: 0,
            disables: 0,
            emails_sent: 0,
            sms_sent: 0,
            resets_without_code: 0,
            created,
            modified: created,
            fail: None,
            only_read: false,
        }
    }

    /// The user a seed line describes.
    pub(crate) fn seeded(seed: &SeedUser, created: f64) -> User {
        let mut user = User::new(seed.status.as_deref().unwrap_or("CONFIRMED"), created);
        user.enabled = seed.enabled.unwrap_or(true);
        user.has_email = seed.email != Some(None);
        user.email = seed.email.clone().flatten();
        user.email_verified = seed.email_verified.unwrap_or(user.has_email);
        user.phone_verified = seed.phone_verified.unwrap_or(false);
        user.has_phone = match &seed.phone_number {
            None => user.phone_verified,
            Some(number) => number.is_some(),
        };
        user.phone_number = seed.phone_number.clone().flatten();
        user.groups = seed.groups.clone();
        user.fail = seed.fail.clone().map(|code| Script {
            op: seed
                .fail_operation
                .as_deref()
                .and_then(Op::from_name)
                .unwrap_or(Op::AdminResetUserPassword),
            message: seed.fail_message.clone().unwrap_or_else(|| code.clone()),
            code,
            times: seed.fail_times,
        });
        user
    }

    /// A user not in the seed, by the demo prefixes of `key` (the username
    /// as the pool compares it); `None` = does not exist.
    pub(crate) fn implicit(key: &str, created: f64) -> Option<User> {
        let mut user = User::new("CONFIRMED", created);
        if key.starts_with("missing-") {
            return None;
        } else if key.starts_with("disabled-") {
            user.enabled = false;
        } else if key.starts_with("unconfirmed-") {
            user.status = "UNCONFIRMED".into();
        } else if key.starts_with("unverified-") {
            user.email_verified = false;
        } else if key.starts_with("force-change-") {
            user.status = "FORCE_CHANGE_PASSWORD".into();
        } else if key.starts_with("federated-") {
            user.status = "EXTERNAL_PROVIDER".into();
        }
        Some(user)
    }

    /// Marks the user changed: `UserLastModifiedDate` moves forward, even
    /// within the same millisecond.
    pub(crate) fn touch(&mut self) {
        self.modified = now().max(self.modified + 0.001);
    }

    /// The scripted error for `op`, if one is left; uses it up.
    pub(crate) fn scripted(&mut self, op: Op) -> Option<(String, String)> {
        let script = self.fail.as_mut().filter(|s| s.op == op)?;
        let answer = (script.code.clone(), script.message.clone());
        match &mut script.times {
            None => {}
            Some(0) => {
                self.fail = None;
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.fail = None;
                }
            }
        }
        Some(answer)
    }

    /// Whether a code can go to the user's email: it has one, verified.
    pub(crate) fn verified_email(&self) -> bool {
        self.has_email && self.email_verified
    }

    /// Whether a code can go to the user's phone: it has one, verified.
    pub(crate) fn verified_phone(&self) -> bool {
        self.has_phone && self.phone_verified
    }

    /// One attribute's value, as the user listed as `username` has it; a
    /// contact's `…_verified` comes with the contact, and only with it.
    pub(crate) fn attribute(&self, username: &str, name: &str) -> Option<String> {
        match name {
            "sub" => Some(sub(username)),
            "email" if self.has_email => Some(
                self.email
                    .clone()
                    .unwrap_or_else(|| format!("{username}@example.com")),
            ),
            "email_verified" if self.has_email => Some(self.email_verified.to_string()),
            "phone_number" if self.has_phone => Some(
                self.phone_number
                    .clone()
                    .unwrap_or_else(|| "+15555550100".into()),
            ),
            "phone_number_verified" if self.has_phone => Some(self.phone_verified.to_string()),
            _ => None,
        }
    }

    /// `Attributes` / `UserAttributes`: every attribute the user has, or
    /// only those named in `wanted`.
    pub(crate) fn attributes(&self, username: &str, wanted: Option<&[String]>) -> Value {
        let names = [
            "sub",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
        ];
        let attrs: Vec<Value> = names
            .iter()
            .filter(|n| wanted.is_none_or(|w| w.iter().any(|x| x == *n)))
            .filter_map(|n| {
                self.attribute(username, n)
                    .map(|v| json!({"Name": n, "Value": v}))
            })
            .collect();
        Value::Array(attrs)
    }

    /// The user as ListUsers and ListUsersInGroup show it.
    pub(crate) fn listing(&self, username: &str, wanted: Option<&[String]>) -> Value {
        json!({
            "Username": username,
            "Enabled": self.enabled,
            "UserStatus": self.status,
            "Attributes": self.attributes(username, wanted),
            "UserCreateDate": self.created,
            "UserLastModifiedDate": self.modified,
        })
    }
}

/// A stable UUID-shaped `sub` for a username.
fn sub(username: &str) -> String {
    let digest = Sha256::digest(username.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_prefixes_give_their_states() {
        let t = 1.0;
        assert!(User::implicit("missing-bob", t).is_none());
        assert!(!User::implicit("disabled-x", t).unwrap().enabled);
        assert_eq!(
            User::implicit("unconfirmed-x", t).unwrap().status,
            "UNCONFIRMED"
        );
        assert!(!User::implicit("unverified-x", t).unwrap().email_verified);
        assert_eq!(
            User::implicit("force-change-x", t).unwrap().status,
            "FORCE_CHANGE_PASSWORD"
        );
        assert_eq!(
            User::implicit("federated-x", t).unwrap().status,
            "EXTERNAL_PROVIDER"
        );
        assert_eq!(User::implicit("alice", t).unwrap().status, "CONFIRMED");
    }

    #[test]
    fn touch_moves_the_modified_date_forward_every_time() {
        let mut user = User::new("CONFIRMED", now() + 10.0);
        let before = user.modified;
        user.touch();
        assert!(user.modified > before);
        assert_eq!(user.created, before);
    }

    #[test]
    fn sub_is_stable_and_uuid_shaped() {
        let a = sub("alice");
        assert_eq!(a, sub("alice"));
        assert_ne!(a, sub("bob"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
