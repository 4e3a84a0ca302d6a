//! One JSON object per line: `username`, `user_pool_id`, `client_metadata`.
//!
//! The object is read entry by entry with a visitor of our own rather than
//! into a `serde_json::Value`, for two reasons: a `Value` keeps only the last
//! of two equal keys (and a repeated key must make the row invalid, not pick
//! a winner silently), and a row that is invalid must still say whose row it
//! was, so whatever username was read before a problem is kept.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Item, RawRow, malformed, malformed_for, validate};

/// What was read from one line, as far as reading got.
#[derive(Default)]
struct JsonRow {
    /// The line held an object (even if it broke off later).
    object: bool,
    username: Option<String>,
    pool: Option<String>,
    metadata: Vec<(String, String)>,
    /// The first thing wrong, in reading order.
    problem: Option<String>,
}

impl JsonRow {
    fn problem(&mut self, message: String) {
        self.problem.get_or_insert(message);
    }
}

/// The item for one non-blank line of JSONL.
pub(crate) fn jsonl_item(line: u64, bytes: &[u8], default_pool: Option<&str>) -> Item {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return malformed(line, "line is not valid UTF-8");
    };
    let mut row = JsonRow::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = RowSeed(&mut row)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = parsed {
        // Broken JSON outranks whatever was found before the break.
        let message = if row.object || e.classify() != serde_json::error::Category::Data {
            format!("not valid JSON: {e}")
        } else {
            "not a JSON object".to_owned()
        };
        row.problem = Some(message);
    }
    if row.problem.is_none() && row.username.is_none() {
        row.problem("no \"username\" key".into());
    }
    let username = row.username.unwrap_or_default();
    match row.problem {
        Some(message) => malformed_for(line, username, message),
        None => validate(
            RawRow {
                line,
                username,
                pool: row.pool,
                metadata: row.metadata,
            },
            default_pool,
        ),
    }
}

/// What a value was, for the keys that want a string.
enum Scalar {
    Str(String),
    Null,
    Other,
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// Reads the row object into a [`JsonRow`] that outlives a failure.
struct RowSeed<'a>(&'a mut JsonRow);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let row = self.0;
        row.object = true;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                row.problem(format!("duplicate key {key:?}"));
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match key.as_str() {
                "username" => match map.next_value()? {
                    Scalar::Str(s) => row.username = Some(s.trim().to_owned()),
                    _ => row.problem("\"username\" is not a string".into()),
                },
                "user_pool_id" => match map.next_value()? {
                    Scalar::Str(s) => row.pool = Some(s.trim().to_owned()),
                    Scalar::Null => {}
                    Scalar::Other => row.problem("\"user_pool_id\" is not a string".into()),
                },
                "client_metadata" => map.next_value_seed(MetadataSeed(&mut *row))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            seen.insert(key);
        }
        Ok(())
    }
}

/// Reads `client_metadata` (an object of strings, or null) into the row.
struct MetadataSeed<'a>(&'a mut JsonRow);

impl MetadataSeed<'_> {
    fn not_an_object<E>(self) -> Result<(), E> {
        self.0
            .problem("\"client_metadata\" is not an object".into());
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for MetadataSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let row = self.0;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            if !seen.insert(key.clone()) {
                row.problem(format!("duplicate key {key:?} in client_metadata"));
                continue;
            }
            match value {
                Scalar::Str(value) => row.metadata.push((key, value)),
                _ => row.problem(format!("client_metadata value for {key:?} is not a string")),
            }
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_an_object()
    }
}

#[cfg(test)]
mod tests {
    use super::super::source::MAX_RECORD_BYTES;
    use super::super::test_support::{code, invalid, items, row};
    use super::super::{Format, Item};

    /// The one item of a one-line input.
    fn one(text: &str) -> Item {
        let mut got = items(Format::Jsonl, text.as_bytes());
        assert_eq!(got.len(), 1, "{got:?}");
        got.remove(0)
    }

    #[track_caller]
    fn assert_malformed(text: &str, username: &str, message: &str) {
        let item = one(text);
        let bad = invalid(&item);
        assert_eq!(
            (bad.code, bad.username.as_str()),
            ("MalformedRow", username),
            "{text}"
        );
        assert!(bad.message.contains(message), "{text}: {}", bad.message);
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
        let want = [
            "ok",
            "MalformedRow",
            "MalformedRow",
            "InvalidUserPoolId",
            "MalformedRow",
            "MalformedRow",
        ];
        assert_eq!(codes, want);
        assert_eq!(invalid(&got[1]).line, 3, "blank lines still count");
        assert_eq!(invalid(&got[1]).message, "not a JSON object");
    }

    #[test]
    fn jsonl_repeated_username_key_is_invalid() {
        let text = r#"{"username":"alice","username":"mallory"}"#;
        assert_malformed(text, "alice", "duplicate key \"username\"");
    }

    #[test]
    fn jsonl_repeated_key_inside_client_metadata_is_invalid() {
        let text = r#"{"username":"alice","client_metadata":{"k":"a","k":"b"}}"#;
        assert_malformed(text, "alice", "duplicate key \"k\" in client_metadata");
    }

    #[test]
    fn jsonl_repeated_key_of_any_name_is_invalid() {
        assert_malformed(
            r#"{"x":1,"username":"al","x":[2]}"#,
            "al",
            "duplicate key \"x\"",
        );
        let text = r#"{"username":"al","client_metadata":{},"client_metadata":null}"#;
        assert_malformed(text, "al", "duplicate key \"client_metadata\"");
        // An escaped key is the same key.
        assert_malformed(
            r#"{"username":"al","userna\u006de":"b"}"#,
            "al",
            "duplicate key",
        );
    }

    #[test]
    fn jsonl_invalid_row_keeps_the_username_it_could_read() {
        assert_malformed(
            r#"{"username":"bob","user_pool_id":5}"#,
            "bob",
            "\"user_pool_id\" is not a string",
        );
        assert_malformed(
            r#"{"user_pool_id":5,"username":" bob "}"#,
            "bob",
            "not a string",
        );
        let text = r#"{"username":"bob","client_metadata":{"k":{"n":1}}}"#;
        assert_malformed(
            text,
            "bob",
            "client_metadata value for \"k\" is not a string",
        );
        assert_malformed(
            r#"{"username":"bob","client_metadata":[1]}"#,
            "bob",
            "not an object",
        );
        // A line cut off after its username (its opening brace escaped).
        assert_malformed("\u{7b}\"username\":\"bob\",", "bob", "not valid JSON");
        assert_malformed(r#"{"username":"bob"} {}"#, "bob", "not valid JSON");
    }

    #[test]
    fn jsonl_without_a_string_username_is_malformed() {
        assert_malformed(r#"{"user":"bob"}"#, "", "no \"username\" key");
        assert_malformed(r#"{"username":null}"#, "", "\"username\" is not a string");
        assert_malformed(r#""bob""#, "", "not a JSON object");
        assert_malformed("{\"username\":\"b\u{0}\"}", "", "not valid JSON");
    }

    #[test]
    fn jsonl_null_pool_and_metadata_are_absent() {
        let item =
            one(r#" {"username":"alice","user_pool_id":null,"client_metadata":null,"x":{}} "#);
        assert_eq!(item, row(1, "alice"));
    }

    #[test]
    fn jsonl_line_numbers_count_cr_endings_and_blank_lines() {
        let got = items(
            Format::Jsonl,
            b"\r\n{\"username\":\"a\"}\r\r \t\n{\"username\":\"b\"}\r",
        );
        assert_eq!(got, vec![row(2, "a"), row(5, "b")]);
    }

    #[test]
    fn jsonl_invalid_utf8_line_is_malformed() {
        let got = items(
            Format::Jsonl,
            b"{\"username\":\"\xff\"}\n{\"username\":\"b\"}\n",
        );
        assert!(invalid(&got[0]).message.contains("UTF-8"));
        assert_eq!(got[1], row(2, "b"));
    }

    #[test]
    fn jsonl_deep_nesting_is_malformed_not_a_crash() {
        let deep = format!("{{\"username\":\"a\",\"x\":{}}}", "[".repeat(100_000));
        assert_malformed(&deep, "a", "not valid JSON");
    }

    #[test]
    fn jsonl_line_over_one_mib_ends_the_input() {
        let mut text = b"{\"username\":\"a\"}\n{\"username\":\"".to_vec();
        text.resize(text.len() + MAX_RECORD_BYTES, b'x');
        text.extend_from_slice(b"\"}\n{\"username\":\"b\"}\n");
        let got = items(Format::Jsonl, &text);
        assert_eq!(got.len(), 2);
        assert_eq!(invalid(&got[1]).line, 2);
    }
}
