//! The report's hash chain: every record carries, as its last field, the
//! SHA-256 of the previous record's hash followed by the record's own bytes
//! as written (the line without its hash field). The first record's
//! "previous hash" is the hash of the report's beginning: a fixed tag and,
//! for CSV, the header line. A record changed, added, removed or moved
//! breaks the chain at its line; a report cut short is told by the head
//! and record count that the journal and the summary keep.

use sha2::{Digest, Sha256};

/// Tags the beginning of every chain, so that no other file's hashes pass.
const TAG: &[u8] = b"cognito-reset report chain 1\n";
/// Hex digits of a hash.
pub const HASH_LEN: usize = 64;

/// Where a chain stands: the last hash and how many records it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    head: [u8; 32],
    records: u64,
}

impl Chain {
    /// The chain of a report that begins with `header` (the CSV header
    /// line with its line ending; empty for JSONL).
    pub fn start(header: &[u8]) -> Chain {
        let mut h = Sha256::new();
        h.update(TAG);
        h.update(header);
        Chain {
            head: h.finalize().into(),
            records: 0,
        }
    }

    /// Links a record's bytes (its line without the hash field and line
    /// ending); returns its hash as the report writes it.
    pub fn link(&mut self, bytes: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(self.head);
        h.update(bytes);
        self.head = h.finalize().into();
        self.records += 1;
        self.head_hex()
    }

    /// The last hash, hex.
    pub fn head_hex(&self) -> String {
        crate::input::hex(&self.head)
    }

    /// Records linked so far.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Whether `text` is a hash as the report writes it: 64 lower-case hex digits.
pub fn is_hash(text: &[u8]) -> bool {
    text.len() == HASH_LEN && text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hash_covers_the_one_before() {
        let mut a = Chain::start(b"h\n");
        let mut b = Chain::start(b"h\n");
        assert_eq!(a.link(b"one"), b.link(b"one"));
        assert_ne!(a.clone().link(b"two"), b.clone().link(b"tw0"));
        let mut c = Chain::start(b"other\n");
        assert_ne!(c.link(b"one"), Chain::start(b"h\n").link(b"one"));
        assert!(is_hash(a.head_hex().as_bytes()));
        assert_eq!(a.records(), 1);
    }
}
