//! Rows in, from every source: CSV, JSONL or one username per line from a
//! file or standard input, or the user pool itself (`--from-pool`,
//! `--from-group`).
//!
//! Owns parsing and local validation: every record of the input becomes
//! exactly one [`Item`] — a [`Row`] ready for a call, or an [`Invalid`] that
//! names the problem and its line. Reading is streamed; the only state kept
//! is the header. Also here: the survey of a file before the plan (rows,
//! pools, fingerprint, which users may repeat), [`Duplicates`] for the
//! dispatcher, which sees rows in order, and the `--exclude` list.

use std::sync::LazyLock;

use regex::Regex;

use crate::cognito::UserState;

mod duplicates;
mod exclude;
mod listing;
mod readers;
mod survey;
pub use duplicates::Duplicates;
pub use exclude::Exclusions;
pub use listing::{FirstPage, Lister};
pub use readers::ItemReader;
pub use survey::{Survey, is_stream, survey};

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
        known: None,
    })
}

pub(crate) fn malformed(line: u64, message: impl Into<String>) -> Item {
    Item::Invalid(Invalid {
        line,
        username: String::new(),
        pool: String::new(),
        code: "MalformedRow",
        message: message.into(),
    })
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(format: Format, text: &[u8]) -> Vec<Item> {
        let options = ReadOptions {
            format,
            username_column: "username".into(),
            default_pool: Some("eu-west-1_Default".into()),
        };
        ItemReader::new(text, &options, "test").unwrap().collect()
    }

    fn row(line: u64, username: &str, pool: &str) -> Item {
        Item::Row(Row {
            line,
            username: username.into(),
            pool: pool.into(),
            metadata: vec![],
            known: None,
        })
    }

    fn code(item: &Item) -> &'static str {
        match item {
            Item::Invalid(i) => i.code,
            Item::Row(_) => "ok",
        }
    }

    #[test]
    fn csv_header_is_case_insensitive_and_bom_is_accepted() {
        let got = items(
            Format::Csv,
            "\u{feff}UserName,User_Pool_Id\nalice,\nbob,us-east-1_Other\n".as_bytes(),
        );
        assert_eq!(
            got,
            vec![
                row(2, "alice", "eu-west-1_Default"),
                row(3, "bob", "us-east-1_Other")
            ]
        );
    }

    #[test]
    fn csv_meta_columns_become_client_metadata() {
        let got = items(Format::Csv, b"username,meta.reason,other\nalice,breach,x\n");
        let Item::Row(r) = &got[0] else { panic!() };
        assert_eq!(r.metadata, vec![("reason".into(), "breach".into())]);
    }

    #[test]
    fn csv_line_numbers_follow_multiline_quoted_fields() {
        let got = items(Format::Csv, b"username,note\nalice,\"two\nlines\"\nbob,x\n");
        assert_eq!(got[1], row(4, "bob", "eu-west-1_Default"));
    }

    #[test]
    fn csv_missing_username_column_is_a_start_error() {
        let options = ReadOptions {
            format: Format::Csv,
            username_column: "email".into(),
            default_pool: None,
        };
        let err = ItemReader::new(&b"username\nalice\n"[..], &options, "x.csv")
            .err()
            .unwrap();
        assert!(err.to_string().contains("no column \"email\""), "{err}");
    }

    #[test]
    fn invalid_utf8_and_short_rows_are_malformed_not_fatal() {
        let got = items(
            Format::Csv,
            b"note,username\n\xff\xfe,\xff\nonly\nx,carol\n",
        );
        assert_eq!(code(&got[0]), "MalformedRow");
        assert_eq!(code(&got[1]), "MalformedRow");
        assert_eq!(got[2], row(4, "carol", "eu-west-1_Default"));
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
    fn jsonl_rows_are_parsed_and_bad_lines_named() {
        let got = items(
            Format::Jsonl,
            br#"{"username":"alice","client_metadata":{"k":"v"}}

[1,2]
{"username":5}
{"username":"bob","user_pool_id":"bad"}
{"username":"carol","client_metadata":{"k":1}}
not json
"#,
        );
        let Item::Row(r) = &got[0] else { panic!() };
        assert_eq!((r.line, r.metadata.len()), (1, 1));
        let codes: Vec<_> = got.iter().map(code).collect();
        assert_eq!(
            codes,
            [
                "ok",
                "MalformedRow",
                "MalformedRow",
                "InvalidUserPoolId",
                "MalformedRow",
                "MalformedRow"
            ]
        );
        let Item::Invalid(i) = &got[1] else { panic!() };
        assert_eq!(i.line, 3, "blank lines still count");
    }

    #[test]
    fn plain_lines_skip_blanks_and_trim() {
        let got = items(Format::Lines, b"alice\r\n\n  bob  \n");
        assert_eq!(
            got,
            vec![
                row(1, "alice", "eu-west-1_Default"),
                row(3, "bob", "eu-west-1_Default")
            ]
        );
    }

    #[test]
    fn format_comes_from_the_extension() {
        assert_eq!(Format::from_path("a/b.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_path("x.ndjson"), Some(Format::Jsonl));
        assert_eq!(Format::from_path("x.txt"), Some(Format::Lines));
        assert_eq!(Format::from_path("x"), None);
    }

    #[test]
    fn empty_csv_has_no_rows() {
        assert!(items(Format::Csv, b"").is_empty());
    }
}
