//! Rows in: CSV, JSONL or one username per line, from a file or stdin.
//!
//! Owns parsing and local validation. Every record of the input (blank lines
//! aside) becomes exactly one [`Item`]: a [`Row`] ready for a call, or an
//! [`Invalid`] that names the problem and its line. Reading is streamed; the
//! only state kept is the header and the current record. Duplicate detection
//! is not done here but in the dispatcher, which sees rows in order.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::exit::StartError;

mod csv;
mod invariants;
mod jsonl;
mod lines;
mod readers;
mod source;
#[cfg(test)]
mod test_support;

#[doc(hidden)]
pub use invariants::check_reader_invariants;
pub use readers::ItemReader;

/// Longest username Cognito accepts (API reference: `Username`).
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest pool id Cognito accepts (API reference: `UserPoolId`).
pub const MAX_POOL_ID_CHARS: usize = 55;

static USERNAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").expect("valid regex"));
// AWS patterns are Java regexes, where `\w` is ASCII.
static POOL_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?-u:[\w-])+_[0-9a-zA-Z]+$").expect("valid regex"));

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
    if !USERNAME_RE.is_match(username) {
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
    if !POOL_ID_RE.is_match(pool) {
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

/// What a first pass over an input file found; shown in the plan.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Records in the input (valid or not).
    pub rows: u64,
    /// Rows that passed validation (duplicates included).
    pub valid: u64,
    /// Distinct pools named by valid rows.
    pub pools: BTreeSet<String>,
    /// SHA-256 of the input's bytes, hex.
    pub sha256: String,
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads a whole input file once to count rows, list pools and fingerprint it.
pub fn survey(path: &str, options: &ReadOptions) -> Result<Survey, StartError> {
    let file = std::fs::File::open(path).map_err(|e| StartError::io(path, e))?;
    let mut hashing = HashingReader {
        inner: file,
        hasher: Sha256::new(),
    };
    let mut survey = Survey::default();
    let truncated = {
        let reader = std::io::BufReader::with_capacity(64 * 1024, &mut hashing);
        let mut items = ItemReader::new(reader, options, path)?;
        for item in items.by_ref() {
            survey.rows += 1;
            if let Item::Row(row) = item {
                survey.valid += 1;
                if !survey.pools.contains(&row.pool) {
                    survey.pools.insert(row.pool);
                }
            }
        }
        items.truncated()
    };
    // Whatever the parser left unread (after a fatal I/O error) still counts;
    // past a line over 1 MiB nothing is read, for it may never end.
    if !truncated {
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| StartError::io(path, e))?;
    }
    survey.sha256 = hex(&hashing.hasher.finalize());
    Ok(survey)
}

/// A compact identity for a (pool, username) pair, for duplicate detection
/// and resume bookkeeping: 8 bytes a row keeps memory flat for millions of
/// rows. Stable within one process only; never written to disk.
pub fn row_key(pool: &str, username: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    pool.hash(&mut hasher);
    username.hash(&mut hasher);
    hasher.finish()
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::test_support::{code, items};
    use super::*;

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
        let survey = survey(path.to_str().unwrap(), &options).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((survey.rows, survey.valid), (2, 1));
        assert_eq!(items(Format::Lines, &text).len(), 2);
    }
}
