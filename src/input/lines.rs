//! Physical lines, bounded, for the line-based formats (one username per
//! line, and JSONL), and the one-username-per-line format itself.

use std::io::{self, BufRead};

use super::jsonl::jsonl_item;
use super::source::{Input, MAX_RECORD_BYTES, Next, TOO_LONG};
use super::{Item, RawRow, malformed, validate};

/// What reading one physical line found.
pub(crate) enum Line {
    /// A line, its content (terminator excluded) in the caller's buffer.
    Read,
    /// No more input.
    End,
    /// The line's content passed [`MAX_RECORD_BYTES`]; it was not read to
    /// its end, and the input is not read further.
    TooLong,
    /// The input could not be read.
    Failed(io::Error),
}

/// Reads the next physical line into `buf` (cleared first, terminator
/// dropped). The line starts at `input.line()` as it was before the call.
pub(crate) fn read_line<R: BufRead>(input: &mut Input<R>, buf: &mut Vec<u8>) -> Line {
    buf.clear();
    loop {
        let chunk = match input.fill() {
            Ok(chunk) => chunk,
            Err(e) => return Line::Failed(e),
        };
        if chunk.is_empty() {
            // Bytes after the last terminator still make a line.
            return if buf.is_empty() {
                Line::End
            } else {
                Line::Read
            };
        }
        let end = chunk.iter().position(|&b| b == b'\n' || b == b'\r');
        let content = end.unwrap_or(chunk.len());
        if buf.len() + content > MAX_RECORD_BYTES {
            return Line::TooLong;
        }
        buf.extend_from_slice(&chunk[..content]);
        match end {
            Some(i) => {
                let cr = chunk[i] == b'\r';
                input.consume(i + 1);
                input.end_line(cr);
                return Line::Read;
            }
            None => input.consume(content),
        }
    }
}

/// The next item of a line-based format (`json`: JSONL, else one username
/// per line), blank lines skipped.
pub(crate) fn next_line_item<R: BufRead>(
    input: &mut Input<R>,
    buf: &mut Vec<u8>,
    json: bool,
    default_pool: Option<&str>,
) -> Next {
    loop {
        let line = input.line();
        return match read_line(input, buf) {
            Line::End => Next::End,
            Line::TooLong => Next::Last(malformed(line, TOO_LONG)),
            Line::Failed(e) if super::digest::is_changed(&e) => Next::End,
            Line::Failed(e) => Next::Last(malformed(line, format!("cannot read input: {e}"))),
            Line::Read if is_blank(buf) => continue,
            Line::Read if json => Next::Item(jsonl_item(line, buf, default_pool)),
            Line::Read => Next::Item(lines_item(line, buf, default_pool)),
        };
    }
}

/// Whether a line holds nothing but whitespace, and so is no row: exactly
/// when trimming it, as its username would be, leaves nothing.
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    // The common cases without decoding: all ASCII whitespace, or an ASCII
    // byte that is not.
    match bytes.iter().position(|&b| !(b as char).is_whitespace()) {
        None => true,
        Some(i) if bytes[i].is_ascii() => false,
        Some(_) => std::str::from_utf8(bytes).is_ok_and(|s| s.trim().is_empty()),
    }
}

/// The item for one non-blank line of the one-username-per-line format.
pub(crate) fn lines_item(line: u64, bytes: &[u8], default_pool: Option<&str>) -> Item {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return malformed(line, "line is not valid UTF-8");
    };
    validate(
        RawRow {
            line,
            username: text.trim().to_owned(),
            pool: None,
            metadata: Vec::new(),
        },
        default_pool,
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{code, items, row};
    use super::super::{Format, Item};

    #[test]
    fn plain_lines_skip_blanks_and_trim() {
        let got = items(Format::Lines, b"alice\r\n\n  bob  \n \t \n");
        assert_eq!(got, vec![row(1, "alice"), row(3, "bob")]);
    }

    #[test]
    fn line_numbers_count_lone_cr_endings() {
        let got = items(Format::Lines, b"alice\rbob\r\rcarol");
        assert_eq!(got, vec![row(1, "alice"), row(2, "bob"), row(4, "carol")]);
    }

    #[test]
    fn line_numbers_count_crlf_once_and_mixed_endings() {
        let got = items(Format::Lines, b"a\r\n\r\nb\n\rc\r\r\nd");
        let lines: Vec<u64> = got.iter().map(super::super::test_support::line).collect();
        assert_eq!(lines, [1, 3, 5, 7]);
    }

    #[test]
    fn bom_is_dropped_from_the_first_line() {
        let got = items(Format::Lines, "\u{feff}alice\n".as_bytes());
        assert_eq!(got, vec![row(1, "alice")]);
    }

    #[test]
    fn invalid_utf8_line_is_malformed_and_the_rest_goes_on() {
        let got = items(Format::Lines, b"\xff\xfe\nbob\n");
        assert_eq!(code(&got[0]), "MalformedRow");
        let Item::Invalid(i) = &got[0] else { panic!() };
        assert!(i.message.contains("UTF-8"), "{}", i.message);
        assert_eq!(got[1], row(2, "bob"));
    }

    #[test]
    fn line_over_one_mib_ends_the_input() {
        let mut text = b"alice\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', super::MAX_RECORD_BYTES + 1));
        text.extend_from_slice(b"\nbob\n");
        let got = items(Format::Lines, &text);
        assert_eq!(got.len(), 2, "{:?}", got.get(2));
        assert_eq!(got[0], row(1, "alice"));
        let Item::Invalid(i) = &got[1] else { panic!() };
        assert_eq!((i.line, i.code), (2, "MalformedRow"));
        assert_eq!(
            i.message,
            "longer than 1 MiB; input not read past this line"
        );
    }

    #[test]
    fn line_of_exactly_one_mib_is_read() {
        let mut text = vec![b'x'; super::MAX_RECORD_BYTES];
        text.extend_from_slice(b"\r\nbob");
        let got = items(Format::Lines, &text);
        assert_eq!(code(&got[0]), "InvalidUsername");
        assert_eq!(got[1], row(2, "bob"));
    }
}
