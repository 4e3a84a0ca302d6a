//! [`ItemReader`]: one iterator over the three formats.
//!
//! The formats' own rules live beside it (`csv`, `jsonl`, `lines`); this
//! file picks one, and owns what they share: the end of the input. An input
//! ends at its last byte, at a line too long to hold, or at an I/O error;
//! after either of the last two the iterator yields one invalid item and
//! stops for good, never reading further.

use std::io::BufRead;

use crate::exit::StartError;

use super::csv::CsvRows;
use super::lines::next_line_item;
use super::source::{Input, Next};
use super::{Format, Item, ReadOptions};

/// How the records of the input are told apart.
enum Kind {
    Csv(CsvRows),
    Jsonl,
    Lines,
}

/// Streams [`Item`]s out of any reader, one per record of the input, blank
/// lines aside; never panics on any bytes, and never holds more than about
/// one record (at most 1 MiB) besides the reader's own buffer.
pub struct ItemReader<R: BufRead> {
    input: Input<R>,
    kind: Kind,
    /// The current line, for the line-based formats.
    buf: Vec<u8>,
    default_pool: Option<String>,
    done: bool,
    truncated: bool,
}

impl<R: BufRead> ItemReader<R> {
    /// Starts reading; for CSV this reads and checks the header. `name` is used
    /// in error messages.
    pub fn new(reader: R, options: &ReadOptions, name: &str) -> Result<Self, StartError> {
        let mut input = Input::new(reader);
        let kind = match options.format {
            Format::Csv => Kind::Csv(CsvRows::start(&mut input, &options.username_column, name)?),
            Format::Jsonl => Kind::Jsonl,
            Format::Lines => Kind::Lines,
        };
        Ok(ItemReader {
            input,
            kind,
            buf: Vec::new(),
            default_pool: options.default_pool.clone(),
            done: false,
            truncated: false,
        })
    }

    /// Whether the input ended at a line (or CSV record) longer than 1 MiB,
    /// so that whatever follows it was never read.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether the input names its columns (a CSV header): such an input
    /// with no row is a list that holds nobody, which is nothing to do,
    /// whereas an input with no record at all is most likely a failed export.
    pub fn has_header(&self) -> bool {
        matches!(&self.kind, Kind::Csv(rows) if rows.has_header())
    }
}

impl<R: BufRead> Iterator for ItemReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        let default_pool = self.default_pool.as_deref();
        let next = match &mut self.kind {
            Kind::Csv(rows) => rows.next(&mut self.input, default_pool),
            Kind::Jsonl => next_line_item(&mut self.input, &mut self.buf, true, default_pool),
            Kind::Lines => next_line_item(&mut self.input, &mut self.buf, false, default_pool),
        };
        match next {
            Next::Item(item) => Some(item),
            Next::Last(item) => {
                self.done = true;
                self.truncated =
                    matches!(&item, Item::Invalid(i) if i.message == super::source::TOO_LONG);
                Some(item)
            }
            Next::End => {
                self.done = true;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, BufReader, Read};

    use super::super::source::MAX_RECORD_BYTES;
    use super::super::test_support::{invalid, options, row};
    use super::super::{Format, Item, ItemReader};

    /// Endless NUL bytes that count how many were read.
    struct Zeros<'a>(&'a mut usize);

    impl Read for Zeros<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            *self.0 += buf.len();
            Ok(buf.len())
        }
    }

    /// Some bytes, then a failure.
    struct Failing(&'static [u8]);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn endless_input_without_a_newline_ends_with_one_invalid_item() {
        for format in [Format::Lines, Format::Jsonl, Format::Csv] {
            let mut read = 0;
            let text: &[u8] = if format == Format::Csv {
                b"username\n"
            } else {
                b""
            };
            let reader = BufReader::new(text.chain(Zeros(&mut read)));
            let mut items = ItemReader::new(reader, &options(format), "zeros").unwrap();
            let got: Vec<Item> = items.by_ref().collect();
            assert!(items.truncated());
            assert_eq!(got.len(), 1, "{format:?}");
            let bad = invalid(&got[0]);
            let line = if format == Format::Csv { 2 } else { 1 };
            assert_eq!((bad.line, bad.code), (line, "MalformedRow"));
            assert_eq!(
                bad.message,
                "longer than 1 MiB; input not read past this line"
            );
            assert!(
                read <= MAX_RECORD_BYTES + 64 * 1024,
                "{format:?} read {read} bytes"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_ends_quickly() {
        let file = std::fs::File::open("/dev/zero").unwrap();
        let got: Vec<Item> = ItemReader::new(BufReader::new(file), &options(Format::Lines), "z")
            .unwrap()
            .collect();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn io_error_is_one_malformed_row_and_the_end() {
        for format in [Format::Lines, Format::Jsonl, Format::Csv] {
            let text: &[u8] = match format {
                Format::Csv => b"username\nalice\n",
                Format::Jsonl => b"{\"username\":\"alice\"}\n",
                Format::Lines => b"alice\n",
            };
            let first = if format == Format::Csv { 2 } else { 1 };
            let reader = BufReader::new(Failing(text));
            let mut items = ItemReader::new(reader, &options(format), "t").unwrap();
            let got: Vec<Item> = items.by_ref().collect();
            assert!(!items.truncated());
            assert_eq!(got.len(), 2, "{format:?}: {got:?}");
            assert_eq!(got[0], row(first, "alice"));
            let bad = invalid(&got[1]);
            assert_eq!((bad.line, bad.code), (first + 1, "MalformedRow"));
            assert!(
                bad.message.starts_with("cannot read input: disk on fire"),
                "{}",
                bad.message
            );
        }
    }

    #[test]
    fn io_error_in_the_csv_header_is_a_start_error() {
        let reader = BufReader::new(Failing(b"user"));
        let err = ItemReader::new(reader, &options(Format::Csv), "t")
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot read CSV header"), "{err}");
    }
}
