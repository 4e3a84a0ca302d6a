//! Where a reset code goes: by email, by SMS, or nowhere.
//!
//! Cognito sends the code by the pool's account recovery setting: the first
//! mechanism, in priority order, for which the user has a verified contact
//! (`verified_email` → email, `verified_phone_number` → SMS). A user with no
//! contact the setting names gets it by any verified contact, phone first,
//! as Cognito did before the setting existed (and does for pools without
//! it). A user in `RESET_REQUIRED` without any verified contact is reset
//! without a code. The prediction needs only what `AdminGetUser` (or a
//! listing) shows and `DescribeUserPool`'s `AccountRecoverySetting`.

use crate::cognito::UserState;

/// How a reset code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// By email (Cognito's sender or Amazon SES).
    Email,
    /// By SMS (Amazon SNS).
    Sms,
    /// No code: the user has no verified contact.
    NoCode,
    /// Not known: the user's contacts were not read, or the pool's recovery
    /// order was not known and the user has both.
    Unknown,
}

impl Channel {
    /// Every channel, in the order counts are shown.
    pub const ALL: [Channel; 4] = [
        Channel::Email,
        Channel::Sms,
        Channel::NoCode,
        Channel::Unknown,
    ];

    /// The word written in the report and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::NoCode => "none",
            Channel::Unknown => "unknown",
        }
    }

    /// Parses a report word.
    pub fn parse(word: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == word)
    }

    /// The channel a reset of a user in `state` takes in a pool whose
    /// recovery order is `recovery` (`None`: not known).
    pub fn predict(state: &UserState, recovery: Option<Recovery>) -> Channel {
        let (email, phone) = (state.email_verified, state.phone_verified);
        let fallback = match (phone, email) {
            (true, _) => Channel::Sms,
            (false, true) => Channel::Email,
            (false, false) => return Channel::NoCode,
        };
        let Some(recovery) = recovery else {
            return if email && phone {
                Channel::Unknown
            } else {
                fallback
            };
        };
        for mechanism in recovery.0.into_iter().flatten() {
            match mechanism {
                Mechanism::Email if email => return Channel::Email,
                Mechanism::Phone if phone => return Channel::Sms,
                _ => {}
            }
        }
        fallback
    }
}

/// A recovery mechanism that sends a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `verified_email`.
    Email,
    /// `verified_phone_number`.
    Phone,
}

/// A pool's account recovery order, as far as it sends codes (at most two
/// mechanisms; `admin_only` sends none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery(pub [Option<Mechanism>; 2]);

impl Recovery {
    /// From `AccountRecoverySetting`'s mechanism names, by priority.
    pub fn from_names(names: &[String]) -> Recovery {
        let mut order = names.iter().filter_map(|n| match n.as_str() {
            "verified_email" => Some(Mechanism::Email),
            "verified_phone_number" => Some(Mechanism::Phone),
            _ => None,
        });
        Recovery([order.next(), order.next()])
    }

    /// Whether the first mechanism is the phone: codes go by SMS to every
    /// user with a verified phone. A pool with no recovery setting is
    /// phone first: Cognito then prefers SMS when the phone is verified.
    pub fn phone_first(self) -> bool {
        matches!(self.0[0], Some(Mechanism::Phone) | None)
    }

    /// Whether some user may get a code by SMS: the phone is one of the
    /// mechanisms, or none is named (Cognito then prefers the phone).
    pub fn allows_sms(self) -> bool {
        self.unset() || self.0.contains(&Some(Mechanism::Phone))
    }

    /// Whether the pool names no recovery mechanism at all.
    pub fn unset(self) -> bool {
        self.0[0].is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: bool, phone: bool) -> UserState {
        UserState {
            status: "CONFIRMED".into(),
            enabled: true,
            email_verified: email,
            phone_verified: phone,
        }
    }

    #[test]
    fn the_first_mechanism_with_a_verified_contact_wins() {
        let names =
            |n: &[&str]| Recovery::from_names(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let email_first = Some(names(&["verified_email", "verified_phone_number"]));
        let phone = names(&["verified_phone_number", "verified_email"]);
        let phone_first = Some(phone);
        let cases = [
            (user(true, false), email_first, Channel::Email),
            (user(false, true), email_first, Channel::Sms),
            (user(true, true), email_first, Channel::Email),
            (user(true, true), phone_first, Channel::Sms),
            (user(true, false), phone_first, Channel::Email),
            (user(false, false), email_first, Channel::NoCode),
            // Only email recovery, only a phone: any verified contact.
            (
                user(false, true),
                Some(names(&["verified_email"])),
                Channel::Sms,
            ),
            // No setting at all: phone first.
            (user(true, true), Some(Recovery::default()), Channel::Sms),
            // Not known: only where it matters.
            (user(true, true), None, Channel::Unknown),
            (user(true, false), None, Channel::Email),
        ];
        for (state, recovery, want) in cases {
            assert_eq!(
                Channel::predict(&state, recovery),
                want,
                "{state:?} {recovery:?}"
            );
        }
        assert!(phone.phone_first());
    }

    #[test]
    fn channel_words_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse(""), None);
    }
}
