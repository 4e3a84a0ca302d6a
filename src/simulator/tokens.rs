//! Pagination tokens the simulator signs, so that a token it did not issue
//! (or one issued for another listing) is refused: the key a page ended
//! at, and a MAC over it and the listing's scope.

use sha2::{Digest, Sha256};

fn mac(after: &str, scope: &str, key: &[u8; 16]) -> String {
    let mut hash = Sha256::new();
    hash.update(key);
    hash.update(scope.as_bytes());
    hash.update([0]);
    hash.update(after.as_bytes());
    hash.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token to continue after the user with key `after`.
pub(crate) fn seal(after: &str, scope: &str, key: &[u8; 16]) -> String {
    let hex: String = after.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{}", mac(after, scope, key))
}

/// The key a token continues after, if this simulator issued it for `scope`.
pub(crate) fn open(token: &str, scope: &str, key: &[u8; 16]) -> Option<String> {
    let (hex, tag) = token.split_once('.')?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    let after = String::from_utf8(bytes?).ok()?;
    (mac(&after, scope, key) == tag).then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_in_their_own_scope() {
        let key = [7; 16];
        let token = seal("user000060", "a", &key);
        assert_eq!(open(&token, "a", &key).as_deref(), Some("user000060"));
        assert_eq!(open(&token, "b", &key), None);
        assert_eq!(open(&token, "a", &[8; 16]), None);
        assert_eq!(open("user000060", "a", &key), None);
        assert_eq!(open("zz.00", "a", &key), None);
        assert_eq!(open("é.00", "a", &key), None);
    }
}
