//! The simulated account's data that operations read and change: its user
//! pools with their users, the account-wide count of reset emails (for the
//! daily cap) and the key its pagination tokens are signed with. `state`
//! keeps it behind its lock; `actions` acts on it.

use std::collections::HashMap;

use super::pools::Pool;

/// What operations act on.
pub(crate) struct Account {
    pub pools: HashMap<String, Pool>,
    /// Reset codes sent by email, account-wide, for the daily cap.
    pub emails_sent: u64,
    /// Key of the pagination tokens this simulator issues.
    pub token_key: [u8; 16],
}

impl Account {
    /// An account holding `pools`, with a fresh token key.
    pub(crate) fn new(pools: HashMap<String, Pool>) -> Account {
        Account {
            pools,
            emails_sent: 0,
            token_key: rand::random(),
        }
    }
}
