//! Rows in, from every source: CSV, JSONL or one username per line from a
//! file or standard input, or the user pool itself (`--from-pool`,
//! `--from-group`).
//!
//! Owns parsing and local validation. Every record of the input (blank lines
//! aside) becomes exactly one [`Item`]: a [`Row`] ready for a call, or an
//! [`Invalid`] that names the problem and its line. Reading is streamed; the
//! only state kept is the header and the current record. Also here: the
//! survey of a file before the plan (rows, pools, fingerprint, which users
//! may repeat), [`Duplicates`] for the dispatcher, which sees rows in order,
//! and the `--exclude` list.

use std::sync::LazyLock;

use regex::Regex;

use crate::cognito::UserState;

mod csv;
mod digest;
mod duplicates;
mod exclude;
mod invariants;
mod jsonl;
mod lines;
mod listing;
mod opened;
mod readers;
mod source;
mod survey;
#[cfg(test)]
mod test_support;

pub use digest::StreamDigest;
pub use duplicates::Duplicates;
pub use exclude::{Excluded, Exclusions};
#[doc(hidden)]
pub use invariants::check_reader_invariants;
pub use listing::{FirstPage, Lister};
pub use opened::{Description, FILE_BATCH, INPUT_CHANGED, Input, Source, StreamReader};
pub use readers::ItemReader;
pub use survey::{Identity, Survey, is_stream, survey, survey_open};

/// Longest username Cognito accepts (API reference: `Username`).
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest pool id Cognito accepts (API reference: `UserPoolId`).
pub const MAX_POOL_ID_CHARS: usize = 55;

/// The API's pattern for usernames; most are ASCII, which [`username_chars_ok`]
/// checks without it.
static USERNAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").expect("valid regex"));

/// Whether every character of a username is a letter, mark, symbol, number
/// or punctuation. Every visible ASCII character is one of those, so only
/// other usernames need the pattern (it was a third of the time spent
/// reading a large file).
fn username_chars_ok(username: &str) -> bool {
    let ascii = !username.is_empty() && username.bytes().all(|b| b.is_ascii_graphic());
    ascii || USERNAME_RE.is_match(username)
}

/// The API's pattern for pool ids, `[\w-]+_[0-9a-zA-Z]+` with an ASCII `\w`
/// (AWS patterns are Java regexes): the part after the last `_` is letters
/// and digits, the part before it letters, digits, `_` and `-`.
fn pool_id_shape_ok(pool: &str) -> bool {
    let Some((head, tail)) = pool.rsplit_once('_') else {
        return false;
    };
    !head.is_empty()
        && !tail.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && tail.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// How the input is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One username per line.
    Lines,
}

impl Format {
    /// The format implied by a file name's extension, if any.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = std::path::Path::new(path)
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "txt" => Some(Format::Lines),
            _ => None,
        }
    }
}

/// How to read rows, independent of where they come from.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The encoding.
    pub format: Format,
    /// CSV header naming the username column (matched case-insensitively).
    pub username_column: String,
    /// Pool for rows that do not name their own.
    pub default_pool: Option<String>,
}

/// A row that passed local validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Line of the input where the row starts (1-based), or position in a listing.
    pub line: u64,
    /// The Cognito username.
    pub username: String,
    /// The pool, from the row or `--user-pool-id`.
    pub pool: String,
    /// ClientMetadata from the row (`meta.KEY` columns / `client_metadata`).
    pub metadata: Vec<(String, String)>,
    /// The user's state, when a listing already said it.
    pub known: Option<UserState>,
}

/// A row that cannot be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// Line of the input where the row starts.
    pub line: u64,
    /// The username as read (possibly empty or malformed).
    pub username: String,
    /// The pool as read or defaulted (possibly empty).
    pub pool: String,
    /// Local error code: `InvalidUsername`, `InvalidUserPoolId`,
    /// `MissingUserPoolId` or `MalformedRow`.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

/// One record of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Ready to be sent.
    Row(Row),
    /// Reported `invalid`, never sent.
    Invalid(Invalid),
}

/// Checks a username against the API's constraints; `Err` says why not.
pub fn check_username(username: &str) -> Result<(), String> {
    let chars = username.chars().count();
    if chars == 0 {
        return Err("username is empty".into());
    }
    if chars > MAX_USERNAME_CHARS {
        return Err(format!(
            "username has {chars} characters; at most {MAX_USERNAME_CHARS} are allowed"
        ));
    }
    if !username_chars_ok(username) {
        return Err(
            "username contains a character Cognito does not allow (spaces, control characters)"
                .into(),
        );
    }
    Ok(())
}

/// Checks a pool id against the API's constraints; `Err` says why not.
pub fn check_pool_id(pool: &str) -> Result<(), String> {
    let chars = pool.chars().count();
    if chars > MAX_POOL_ID_CHARS {
        return Err(format!(
            "user pool id has {chars} characters; at most {MAX_POOL_ID_CHARS} are allowed"
        ));
    }
    if !pool_id_shape_ok(pool) {
        return Err(format!(
            "user pool id {pool:?} is not of the form REGION_ID (e.g. eu-west-1_AbC123)"
        ));
    }
    Ok(())
}

/// The region a pool lives in: the part of its id before the first `_`.
pub fn region_of_pool(pool: &str) -> &str {
    pool.split('_').next().unwrap_or(pool)
}

/// A row as parsed, before validation.
pub(crate) struct RawRow {
    pub(crate) line: u64,
    pub(crate) username: String,
    pub(crate) pool: Option<String>,
    pub(crate) metadata: Vec<(String, String)>,
}

pub(crate) fn validate(raw: RawRow, default_pool: Option<&str>) -> Item {
    let pool = raw
        .pool
        .filter(|p| !p.is_empty())
        .or_else(|| default_pool.map(str::to_owned));
    let invalid = |pool: String, code, message| {
        Item::Invalid(Invalid {
            line: raw.line,
            username: raw.username.clone(),
            pool,
            code,
            message,
        })
    };
    if let Err(message) = check_username(&raw.username) {
        return invalid(pool.unwrap_or_default(), "InvalidUsername", message);
    }
    let Some(pool) = pool else {
        return invalid(
            String::new(),
            "MissingUserPoolId",
            "row has no user_pool_id and no --user-pool-id was given".into(),
        );
    };
    if let Err(message) = check_pool_id(&pool) {
        return invalid(pool, "InvalidUserPoolId", message);
    }
    Item::Row(Row {
        line: raw.line,
        username: raw.username,
        pool,
        metadata: raw.metadata,
        known: None,
    })
}

pub(crate) fn malformed(line: u64, message: impl Into<String>) -> Item {
    malformed_for(line, String::new(), message)
}

/// A malformed row that still says whose it was.
pub(crate) fn malformed_for(line: u64, username: String, message: impl Into<String>) -> Item {
    Item::Invalid(Invalid {
        line,
        username,
        pool: String::new(),
        code: "MalformedRow",
        message: message.into(),
    })
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    // Every report record carries one: a string formatted per byte cost
    // dozens of allocations a row.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::test_support::{code, items};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_fast_checks_agree_with_the_api_patterns(s in "\\PC{0,12}|[ -~]{0,12}|[a-z_-]{0,6}_[A-Za-z0-9-]{0,4}") {
            let username = Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").unwrap();
            let pool = Regex::new(r"^(?-u:[\w-])+_[0-9a-zA-Z]+$").unwrap();
            prop_assert_eq!(username_chars_ok(&s), username.is_match(&s), "username {:?}", s);
            prop_assert_eq!(pool_id_shape_ok(&s), pool.is_match(&s), "pool id {:?}", s);
        }
    }

    #[test]
    fn usernames_are_checked_against_the_api_pattern() {
        assert!(check_username("alice@example.com").is_ok());
        assert!(check_username("Zoë_+1").is_ok());
        assert!(check_username("has space").is_err());
        assert!(check_username("").is_err());
        assert!(check_username(&"a".repeat(128)).is_ok());
        assert!(check_username(&"a".repeat(129)).is_err());
        assert!(check_username("tab\there").is_err());
    }

    #[test]
    fn pool_ids_are_checked_against_the_api_pattern() {
        assert!(check_pool_id("eu-west-1_AbC123").is_ok());
        assert!(check_pool_id("eu-west-1").is_err());
        assert!(check_pool_id("eu-west-1_Ab-C").is_err());
        assert!(check_pool_id(&format!("eu-west-1_{}", "a".repeat(50))).is_err());
        assert_eq!(region_of_pool("eu-west-1_AbC"), "eu-west-1");
    }

    #[test]
    fn rows_without_any_pool_are_invalid() {
        let options = ReadOptions {
            format: Format::Lines,
            username_column: "username".into(),
            default_pool: None,
        };
        let got: Vec<Item> = ItemReader::new(&b"alice\n"[..], &options, "t")
            .unwrap()
            .collect();
        assert_eq!(code(&got[0]), "MissingUserPoolId");
    }

    #[test]
    fn format_comes_from_the_extension() {
        assert_eq!(Format::from_path("a/b.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_path("x.ndjson"), Some(Format::Jsonl));
        assert_eq!(Format::from_path("x.txt"), Some(Format::Lines));
        assert_eq!(Format::from_path("x"), None);
    }

    #[test]
    fn survey_of_a_file_with_a_line_over_one_mib_stops_there() {
        let path = std::env::temp_dir().join(format!("survey-long-{}.txt", std::process::id()));
        let mut text = b"alice\n".to_vec();
        text.resize(text.len() + 3 * 1024 * 1024, b'x');
        std::fs::write(&path, &text).unwrap();
        let options = test_support::options(Format::Lines);
        let survey = survey(path.to_str().unwrap(), &options, &Exclusions::default()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((survey.rows, survey.valid), (2, 1));
        assert_eq!(items(Format::Lines, &text).len(), 2);
    }
}
