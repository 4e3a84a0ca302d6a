//! Which rows repeat a user seen earlier in the input.
//!
//! A user is the same when the pool is the same and the username is equal —
//! compared case-insensitively in pools whose usernames are not
//! case-sensitive (Cognito's default for new pools), where `Alice` and
//! `alice` are one person who must not get two reset emails.

use std::collections::{HashMap, HashSet};

/// The dispatcher's memory of the users seen so far.
#[derive(Debug)]
pub enum Duplicates {
    /// A surveyed file: only the users the survey saw more than once need
    /// remembering (by case-folded key).
    Repeated {
        /// Case-folded keys that occur more than once.
        folded: HashSet<u64>,
        /// Of those, key → line of the first row.
        first: HashMap<u64, u64>,
    },
    /// A stream: every user is remembered (key → line of the first row).
    All(HashMap<u64, u64>),
    /// A listing: Cognito's usernames are unique.
    Unique,
}

impl Duplicates {
    /// For a file surveyed beforehand.
    pub fn from_survey(repeated: HashSet<u64>) -> Duplicates {
        Duplicates::Repeated {
            folded: repeated,
            first: HashMap::new(),
        }
    }

    /// The line of an earlier row for the same user, if there was one;
    /// otherwise remembers this row. `key` is the user's key under the
    /// pool's case rule, `folded` the case-folded key.
    pub fn earlier(&mut self, line: u64, folded: u64, key: u64) -> Option<u64> {
        let first = match self {
            Duplicates::Repeated { folded: f, first } if f.contains(&folded) => first,
            Duplicates::All(first) => first,
            _ => return None,
        };
        match first.get(&key) {
            Some(earlier) => Some(*earlier),
            None => {
                first.insert(key, line);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_row_is_the_original_and_later_ones_name_it() {
        for mut d in [
            Duplicates::from_survey(HashSet::from([7])),
            Duplicates::All(HashMap::new()),
        ] {
            assert_eq!(d.earlier(2, 7, 70), None);
            assert_eq!(d.earlier(3, 8, 80), None);
            assert_eq!(d.earlier(5, 7, 70), Some(2));
            assert_eq!(d.earlier(6, 7, 71), None, "same folded key, other user");
            assert_eq!(d.earlier(9, 7, 70), Some(2));
        }
        assert_eq!(Duplicates::Unique.earlier(1, 1, 1), None);
    }
}
