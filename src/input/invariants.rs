//! What every reader promises on any bytes at all, as one check shared by
//! the property tests, the fuzz targets and the replay of the fuzz corpus.
//!
//! Not part of the tool's interface: public only so that those can call it.

use std::io::BufRead;

use super::source::TOO_LONG;
use super::{Format, Item, ItemReader, ReadOptions, check_pool_id, check_username};
use crate::exit::StartError;

/// The pool rows get when they name none, in these checks.
const DEFAULT_POOL: &str = "eu-west-1_Default";

/// A header naming every column the CSV reader uses, put before arbitrary
/// bytes so that they reach the rows instead of failing as a header.
const CSV_HEADER: &[u8] = b"username,user_pool_id,meta.k,note\n";

/// How many physical lines `bytes` has: each LF, CRLF or lone CR ends one,
/// and bytes after the last ending make one more.
fn physical_lines(bytes: &[u8]) -> u64 {
    let mut lines = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i += 1,
            b'\r' | b'\n' => {}
            _ if i + 1 == bytes.len() => {}
            _ => {
                i += 1;
                continue;
            }
        }
        lines += 1;
        i += 1;
    }
    lines
}

/// Reads `bytes` as `format` and panics, saying why, unless:
/// the reader neither panics nor fails other than with a usage error (CSV
/// header only); items come in strictly increasing line order, each on a line
/// of the input (so at most one item a physical line); rows pass validation;
/// invalid items carry a known code and a message; an item for a line over
/// 1 MiB is the last; and the items do not depend on how the reads split the
/// bytes. CSV is also read after a header that names every column in use.
pub fn check_reader_invariants(format: Format, bytes: &[u8]) {
    check_items(format, bytes);
    if format == Format::Csv {
        check_items(format, &[CSV_HEADER, bytes].concat());
    }
}

fn check_items(format: Format, bytes: &[u8]) {
    let whole = read(format, bytes);
    // One byte a read: every line ending, quote and BOM split across reads.
    let trickled = read(format, std::io::BufReader::with_capacity(1, bytes));
    assert_eq!(whole, trickled, "items depend on how the input is read");
    let Some(items) = whole else { return };
    let lines = physical_lines(bytes);
    let mut last = 0;
    for (i, item) in items.iter().enumerate() {
        let line = match item {
            Item::Row(row) => {
                assert!(check_username(&row.username).is_ok(), "row {row:?}");
                assert!(check_pool_id(&row.pool).is_ok(), "row {row:?}");
                row.line
            }
            Item::Invalid(invalid) => {
                let codes = [
                    "InvalidUsername",
                    "InvalidUserPoolId",
                    "MissingUserPoolId",
                    "MalformedRow",
                ];
                assert!(codes.contains(&invalid.code), "{invalid:?}");
                assert!(!invalid.message.is_empty(), "{invalid:?}");
                let too_long = invalid.message == TOO_LONG;
                assert!(!too_long || i + 1 == items.len(), "items after {invalid:?}");
                invalid.line
            }
        };
        assert!(line > last, "line {line} after line {last}: {items:?}");
        assert!(line <= lines, "line {line} of {lines}: {items:?}");
        last = line;
    }
}

/// The items, or `None` for a usage error (a bad CSV header).
fn read(format: Format, reader: impl BufRead) -> Option<Vec<Item>> {
    let options = ReadOptions {
        format,
        username_column: "username".into(),
        default_pool: Some(DEFAULT_POOL.into()),
    };
    match ItemReader::new(reader, &options, "fuzz") {
        Ok(items) => Some(items.collect()),
        Err(StartError::Usage(message)) => {
            assert_eq!(format, Format::Csv, "{message}");
            None
        }
        Err(e) => panic!("not a usage error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::physical_lines;

    #[test]
    fn physical_lines_count_every_ending_once() {
        assert_eq!(physical_lines(b""), 0);
        assert_eq!(physical_lines(b"a"), 1);
        assert_eq!(physical_lines(b"\n"), 1);
        assert_eq!(physical_lines(b"a\r\nb"), 2);
        assert_eq!(physical_lines(b"a\r\rb\n"), 3);
        assert_eq!(physical_lines(b"\n\r"), 2);
        assert_eq!(physical_lines(b"\r\n\r\n"), 2);
    }
}
