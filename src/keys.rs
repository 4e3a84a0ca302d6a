//! Compact per-user bookkeeping for millions of rows.
//!
//! A user is identified by a 64-bit hash of (pool, username) — [`row_key`] —
//! never by the strings themselves, so that memory stays near 8 bytes a user.
//! A collision between two of five million users has a chance of about one in
//! a million, and would show as a visible `duplicate` or `skipped` row, never
//! as a silent one.
//!
//! [`KeyMap`] maps keys to a small value with one sorted array (binary
//! search) plus a small unsorted buffer of recent inserts, merged in when it
//! grows: about 9 bytes an entry for a `u8` value, where a hash map would
//! take three times that.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// Inserts kept aside before they are merged into the sorted array.
const PENDING_MAX: usize = 64 * 1024;

/// The identity of a (pool, username) pair. `fold` compares usernames
/// case-insensitively (pools whose usernames are not case-sensitive).
pub fn row_key(pool: &str, username: &str, fold: bool) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    pool.hash(&mut hasher);
    if fold {
        // Whole-string lower-casing, as Cognito's does (a final sigma too).
        username.to_lowercase().hash(&mut hasher);
    } else {
        username.hash(&mut hasher);
    }
    hasher.finish()
}

/// A map from keys to small values, compact for millions of entries.
#[derive(Debug, Clone)]
pub struct KeyMap<V: Copy> {
    keys: Vec<u64>,
    values: Vec<V>,
    pending: HashMap<u64, V>,
}

impl<V: Copy> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            keys: Vec::new(),
            values: Vec::new(),
            pending: HashMap::new(),
        }
    }
}

impl<V: Copy> KeyMap<V> {
    /// Sets the value of `key` (a later insert wins).
    pub fn insert(&mut self, key: u64, value: V) {
        if let Ok(i) = self.keys.binary_search(&key) {
            self.values[i] = value;
            return;
        }
        self.pending.insert(key, value);
        if self.pending.len() >= PENDING_MAX {
            self.merge();
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: u64) -> Option<V> {
        if let Some(v) = self.pending.get(&key) {
            return Some(*v);
        }
        let i = self.keys.binary_search(&key).ok()?;
        Some(self.values[i])
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.keys.len() + self.pending.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = V> + '_ {
        self.values.iter().chain(self.pending.values()).copied()
    }

    /// Every (key, value), in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, V)> + '_ {
        let settled = self.keys.iter().copied().zip(self.values.iter().copied());
        settled.chain(self.pending.iter().map(|(k, v)| (*k, *v)))
    }

    /// Merges what is pending, so that every entry has a fixed position
    /// (for a bit set beside the map) until the next insert.
    pub fn settle(&mut self) {
        self.merge();
    }

    /// The position of `key` among the settled entries.
    pub fn position(&self, key: u64) -> Option<usize> {
        self.keys.binary_search(&key).ok()
    }

    /// The settled entries' values, by position.
    pub fn settled_values(&self) -> &[V] {
        &self.values
    }

    /// Merges the pending inserts into the sorted arrays, in place from the
    /// back, so the arrays never exist twice in memory.
    fn merge(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut new: Vec<(u64, V)> = self.pending.drain().collect();
        new.sort_unstable_by_key(|(k, _)| *k);
        let old = self.keys.len();
        let total = old + new.len();
        self.keys.reserve_exact(new.len());
        self.values.reserve_exact(new.len());
        let (pad_key, pad_value) = new[0];
        self.keys.resize(total, pad_key);
        self.values.resize(total, pad_value);
        let (mut i, mut j) = (old, new.len());
        for out in (0..total).rev() {
            if j > 0 && (i == 0 || new[j - 1].0 > self.keys[i - 1]) {
                j -= 1;
                self.keys[out] = new[j].0;
                self.values[out] = new[j].1;
            } else {
                i -= 1;
                self.keys[out] = self.keys[i];
                self.values[out] = self.values[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_makes_case_variants_one_user() {
        assert_eq!(row_key("p_1", "Alice", true), row_key("p_1", "alice", true));
        assert_ne!(
            row_key("p_1", "Alice", false),
            row_key("p_1", "alice", false)
        );
        assert_ne!(
            row_key("p_1", "alice", false),
            row_key("p_2", "alice", false)
        );
    }

    #[test]
    fn a_later_insert_wins_across_merges() {
        let mut map = KeyMap::default();
        let n = PENDING_MAX as u64 * 3 + 17;
        for k in 0..n {
            map.insert(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), (k % 7) as u8);
        }
        for k in (0..n).step_by(5) {
            map.insert(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), 200);
        }
        assert_eq!(map.len() as u64, n);
        for k in 0..n {
            let want = if k % 5 == 0 { 200 } else { (k % 7) as u8 };
            assert_eq!(
                map.get(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                Some(want),
                "{k}"
            );
        }
        assert_eq!(map.get(12345), None);
        assert_eq!(map.values().count() as u64, n);
    }
}
