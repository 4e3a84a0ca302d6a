//! A user pool: its settings, its groups and its users, and how it compares
//! usernames (case-insensitive pools fold them; the spelling a user was
//! created with is kept and shown).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde_json::{Value, json};

use super::config::{AppClient, PoolSettings};
use super::users::User;

/// A user and the spelling of its username.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub user: User,
}

/// One user pool.
#[derive(Debug)]
pub(crate) struct Pool {
    pub id: String,
    pub settings: PoolSettings,
    /// `CreationDate`, also every pre-existing user's `UserCreateDate`.
    pub created: f64,
    /// App clients, in the order they were created.
    pub clients: Vec<AppClient>,
    /// By key: the username itself, or folded to lower case in a
    /// case-insensitive pool. Ordered, so listings page stably.
    users: BTreeMap<String, Entry>,
    groups: BTreeSet<String>,
}

impl Pool {
    pub(crate) fn new(id: &str, settings: PoolSettings, created: f64) -> Pool {
        let groups = settings.groups.iter().cloned().collect();
        Pool {
            id: id.to_owned(),
            settings,
            created,
            clients: vec![AppClient::default()],
            users: BTreeMap::new(),
            groups,
        }
    }

    /// How the pool compares `username`.
    pub(crate) fn key(&self, username: &str) -> String {
        if self.settings.case_sensitive {
            username.to_owned()
        } else {
            username.to_lowercase()
        }
    }

    /// Adds (or replaces) a user; the groups it names come to exist.
    pub(crate) fn insert(&mut self, username: &str, user: User) {
        self.groups.extend(user.groups.iter().cloned());
        let entry = Entry {
            name: username.to_owned(),
            user,
        };
        self.users.insert(self.key(username), entry);
    }

    /// The user, if it has been seeded or touched.
    pub(crate) fn find(&self, username: &str) -> Option<&Entry> {
        self.users.get(&self.key(username))
    }

    /// The user, made real if it exists only by the demo prefixes; `None`
    /// when no such user exists. `read` says the request only reads it.
    pub(crate) fn find_or_implicit(&mut self, username: &str, read: bool) -> Option<&mut Entry> {
        let key = self.key(username);
        if !self.users.contains_key(&key) {
            let mut user = User::implicit(&key, self.created)?;
            user.only_read = read;
            self.users.insert(
                key.clone(),
                Entry {
                    name: username.to_owned(),
                    user,
                },
            );
        }
        let entry = self.users.get_mut(&key)?;
        entry.user.only_read &= read;
        Some(entry)
    }

    /// Every seeded or touched user, by key.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.users.values()
    }

    /// Users whose key sorts after `after` (all when `None`), with their keys.
    pub(crate) fn after(&self, after: Option<&str>) -> impl Iterator<Item = (&String, &Entry)> {
        let start = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        self.users.range::<str, _>((start, Bound::Unbounded))
    }

    pub(crate) fn has_group(&self, group: &str) -> bool {
        self.groups.contains(group)
    }

    /// The region, the part of the id before `_`.
    pub(crate) fn region(&self) -> &str {
        self.id.split_once('_').map_or("us-east-1", |(r, _)| r)
    }

    /// DescribeUserPool's `UserPool`.
    pub(crate) fn describe(&self) -> Value {
        let mechanisms: Vec<Value> = self
            .settings
            .recovery
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"Name": name, "Priority": i + 1}))
            .collect();
        let mut email = json!({});
        if let Some(sender) = &self.settings.email_sender {
            email["EmailSendingAccount"] = Value::String(sender.clone());
        }
        json!({
            "Id": self.id,
            "Name": self.id,
            "Arn": format!("arn:aws:cognito-idp:{}:000000000000:userpool/{}", self.region(), self.id),
            "AccountRecoverySetting": {"RecoveryMechanisms": mechanisms},
            "EmailConfiguration": email,
            "UsernameConfiguration": {"CaseSensitive": self.settings.case_sensitive},
            "CreationDate": self.created,
            "LastModifiedDate": self.created,
            "EstimatedNumberOfUsers": self.users.len(),
        })
    }
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;

    fn pool(case_sensitive: bool) -> Pool {
        let settings = PoolSettings {
            case_sensitive,
            ..PoolSettings::default()
        };
        Pool::new("us-east-1_Test", settings, 1.0)
    }

    #[test]
    fn case_insensitive_pool_finds_alice_as_Alice() {
        let mut p = pool(false);
        p.insert("alice", User::new("CONFIRMED", 1.0));
        assert_eq!(p.find("Alice").unwrap().name, "alice");
        assert_eq!(p.find_or_implicit("ALICE", false).unwrap().name, "alice");
        assert_eq!(p.entries().count(), 1);
    }

    #[test]
    fn case_sensitive_pool_keeps_alice_and_Alice_apart() {
        let mut p = pool(true);
        p.insert("alice", User::new("CONFIRMED", 1.0));
        assert!(p.find("Alice").is_none());
        assert_eq!(p.find_or_implicit("Alice", false).unwrap().name, "Alice");
        assert_eq!(p.entries().count(), 2);
    }

    #[test]
    fn implicit_user_keeps_the_spelling_first_seen() {
        let mut p = pool(false);
        p.find_or_implicit("Bob", false);
        assert_eq!(p.find("bob").unwrap().name, "Bob");
        assert!(p.find_or_implicit("Missing-Carol", false).is_none());
    }

    #[test]
    fn describe_reports_recovery_in_priority_order() {
        let mut p = pool(false);
        p.settings.recovery = vec!["verified_phone_number".into(), "verified_email".into()];
        p.settings.email_sender = None;
        let d = p.describe();
        let m = &d["AccountRecoverySetting"]["RecoveryMechanisms"];
        assert_eq!(
            m[0],
            json!({"Name": "verified_phone_number", "Priority": 1})
        );
        assert_eq!(m[1], json!({"Name": "verified_email", "Priority": 2}));
        assert!(d["EmailConfiguration"].get("EmailSendingAccount").is_none());
        assert_eq!(d["UsernameConfiguration"]["CaseSensitive"], false);
    }
}
