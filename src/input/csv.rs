//! CSV: a small RFC 4180 tokenizer over bytes, the header, and rows.
//!
//! Our own tokenizer rather than the `csv` crate's, because rows must carry
//! the physical line they start on whatever the line endings (the crate
//! counts only LF), a record must be bounded while it is read, and a quote
//! left open must cost one row, not the rest of the file.
//!
//! Reading is two passes over one record. [`read_record`] finds where the
//! record ends (the first line ending outside quotes), counting line endings
//! inside quoted fields, and keeps its raw bytes; [`Fields`] then splits the
//! complete record into fields. Both walk the same [`step`] function, so they
//! cannot disagree about what is quoted. Only the columns in use are
//! unquoted, decoded and checked.
//!
//! Leniency: a quote inside an unquoted field (`ab"c`) is data, and so is
//! anything after a closing quote up to the next comma (`"ab"c` is `abc`),
//! as most CSV readers do; neither loses or merges a row. But a quoted field
//! that spans lines and is followed by more text after its closing quote is
//! taken for what it almost always is — a quote left open, closed by
//! another row's quote further down — and handled as a quote never closed:
//! the row where it opened is malformed and the lines after it are read
//! again. A row with more fields than the header (an unquoted comma in a
//! value) is malformed too: its columns cannot be trusted to name the user.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

use crate::exit::StartError;

use super::lines::is_blank;
use super::source::{Input, MAX_RECORD_BYTES, Next, TOO_LONG};
use super::{Item, RawRow, malformed, malformed_for, validate};

/// Where the tokenizer is within a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// In a field that did not start with a quote.
    Unquoted,
    /// Inside quotes.
    Quoted,
    /// Just after a quote inside quotes: an escaped quote or the closing one.
    QuoteInQuoted,
}

/// What a byte did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Part of a field (or of its quoting).
    Data,
    /// The comma that ends a field.
    FieldEnd,
    /// The line ending (its first byte) that ends the record.
    RecordEnd,
    /// The quote that opens a quoted field.
    OpenQuote,
}

/// The tokenizer: the state after `byte`, and what `byte` was.
fn step(state: State, byte: u8) -> (State, Step) {
    match (state, byte) {
        (State::Quoted, b'"') => (State::QuoteInQuoted, Step::Data),
        (State::Quoted, _) => (State::Quoted, Step::Data),
        (State::QuoteInQuoted, b'"') => (State::Quoted, Step::Data),
        (_, b',') => (State::FieldStart, Step::FieldEnd),
        (_, b'\n' | b'\r') => (State::FieldStart, Step::RecordEnd),
        (State::FieldStart, b'"') => (State::Quoted, Step::OpenQuote),
        _ => (State::Unquoted, Step::Data),
    }
}

/// How reading one record ended; its raw bytes are in the caller's buffer.
pub(crate) enum Record {
    /// A complete record starting on `line`.
    Read { line: u64 },
    /// No more input.
    End,
    /// The record starting on `line` passed [`MAX_RECORD_BYTES`].
    TooLong { line: u64 },
    /// The input ended inside the quoted field opened at byte `at` of the
    /// record, on line `quote_line`; the buffer holds the record to the end.
    OpenQuote {
        line: u64,
        quote_line: u64,
        at: usize,
    },
    /// The input could not be read while reading the record on `line`.
    Failed { line: u64, error: std::io::Error },
}

/// Where a record is while [`read_record`] reads it.
struct Scan {
    state: State,
    /// Line endings met inside quotes and not yet told to the input.
    lines: u64,
    prev_cr: bool,
    quote_line: u64,
    quote_at: usize,
    /// A line ending was met since the last quote opened.
    quote_spans: bool,
    /// A quoted field that spanned lines was followed by text after its
    /// closing quote: a quote left open, closed by a later row's quote.
    late_close: bool,
}

/// Reads the next record's raw bytes (terminator dropped) into `raw`.
pub(crate) fn read_record<R: BufRead>(input: &mut Input<R>, raw: &mut Vec<u8>) -> Record {
    raw.clear();
    let line = input.line();
    let mut scan = Scan {
        state: State::FieldStart,
        lines: 0,
        prev_cr: false,
        quote_line: line,
        quote_at: 0,
        quote_spans: false,
        late_close: false,
    };
    loop {
        // Where this read starts: line breaks in earlier reads are counted.
        let here = input.line();
        let chunk = match input.fill() {
            Ok(chunk) => chunk,
            Err(error) => return Record::Failed { line, error },
        };
        if chunk.is_empty() {
            return match scan.state {
                _ if raw.is_empty() => Record::End,
                _ if scan.late_close => scan.open_quote(line),
                State::Quoted => scan.open_quote(line),
                _ => Record::Read { line },
            };
        }
        let end = scan.chunk(chunk, here, raw.len());
        let content = end.unwrap_or(chunk.len());
        if raw.len() + content > MAX_RECORD_BYTES {
            return Record::TooLong { line };
        }
        raw.extend_from_slice(&chunk[..content]);
        let cr = end.map(|i| chunk[i] == b'\r');
        if end.is_some() && scan.late_close {
            // Its line ending is left unread: the lines read again end
            // with it, as they did in the input.
            input.consume(content);
            input.count_lines(std::mem::take(&mut scan.lines));
            return scan.open_quote(line);
        }
        input.consume(end.map_or(content, |i| i + 1));
        input.count_lines(std::mem::take(&mut scan.lines));
        if let Some(cr) = cr {
            input.end_line(cr);
            return Record::Read { line };
        }
    }
}

impl Scan {
    /// The record of a row starting on `line` whose quote never closed.
    fn open_quote(&self, line: u64) -> Record {
        Record::OpenQuote {
            line,
            quote_line: self.quote_line,
            at: self.quote_at,
        }
    }

    /// Walks `chunk` (which starts on `line`, `offset` bytes into the record)
    /// up to the record's end, if it is in the chunk.
    fn chunk(&mut self, chunk: &[u8], line: u64, offset: usize) -> Option<usize> {
        for (i, &byte) in chunk.iter().enumerate() {
            let (next, what) = step(self.state, byte);
            if self.state == State::QuoteInQuoted
                && next == State::Unquoted
                && self.quote_spans
                && !self.late_close
            {
                self.late_close = true;
            }
            match what {
                Step::RecordEnd => return Some(i),
                Step::OpenQuote if !self.late_close => {
                    self.quote_line = line + self.lines;
                    self.quote_at = offset + i;
                    self.quote_spans = false;
                }
                // A line ending kept inside quotes; CRLF counts once.
                Step::Data if byte == b'\r' || (byte == b'\n' && !self.prev_cr) => {
                    self.lines += 1;
                    self.quote_spans = true;
                }
                _ => {}
            }
            self.prev_cr = byte == b'\r';
            self.state = next;
        }
        None
    }
}

/// The fields of a complete record, raw (quotes and escapes as written).
pub(crate) struct Fields<'a> {
    raw: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Fields {
            raw,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let mut state = State::FieldStart;
        for (i, &byte) in self.raw[start..].iter().enumerate() {
            let (next, what) = step(state, byte);
            if what == Step::FieldEnd {
                self.pos = start + i + 1;
                return Some(&self.raw[start..start + i]);
            }
            state = next;
        }
        self.done = true;
        Some(&self.raw[start..])
    }
}

/// A raw field's value: quotes removed and `""` made `"`.
pub(crate) fn unquote(field: &[u8]) -> Cow<'_, [u8]> {
    let Some(rest) = field.strip_prefix(b"\"") else {
        return Cow::Borrowed(field);
    };
    let mut out = Vec::with_capacity(rest.len());
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == b'"' {
            if rest.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            // The closing quote; what follows it is data.
            out.extend_from_slice(&rest[i + 1..]);
            break;
        }
        out.push(rest[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// A column in use: its position (from 0) and its name in the header.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    index: usize,
    name: String,
}

impl Column {
    fn describe(&self) -> String {
        format!("column {} ({:?})", self.index + 1, self.name)
    }
}

/// Where each column of a CSV header goes.
#[derive(Debug)]
pub(crate) struct Columns {
    /// Fields in the header.
    count: usize,
    username: Column,
    pool: Option<Column>,
    /// ClientMetadata columns and their keys, in column order.
    metadata: Vec<(Column, String)>,
}

/// Reads the header: the first record that is not blank. `None` when the
/// input has no record at all (and so no rows).
pub(crate) fn read_header<R: BufRead>(
    input: &mut Input<R>,
    raw: &mut Vec<u8>,
    username_column: &str,
    name: &str,
) -> Result<Option<Columns>, StartError> {
    let usage = |message: String| StartError::Usage(format!("{name}: {message}"));
    loop {
        match read_record(input, raw) {
            Record::End => return Ok(None),
            Record::Read { .. } if is_blank(raw) => continue,
            Record::Read { .. } => {
                return header_columns(raw, username_column)
                    .map(Some)
                    .map_err(usage);
            }
            Record::TooLong { .. } => {
                return Err(usage("the CSV header is longer than 1 MiB".into()));
            }
            Record::OpenQuote { quote_line, .. } => {
                return Err(usage(format!(
                    "the CSV header has a quote, opened on line {quote_line}, that is never closed"
                )));
            }
            Record::Failed { error, .. } => {
                return Err(usage(format!("cannot read CSV header: {error}")));
            }
        }
    }
}

/// Header names match whatever their case.
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// A header field's name: unquoted, decoded, trimmed.
fn header_name(field: &[u8]) -> String {
    String::from_utf8_lossy(&unquote(field)).trim().to_owned()
}

/// Sets `slot` to `column`, or says which two columns both claim it.
fn claim(slot: &mut Option<Column>, column: Column, what: &str) -> Result<(), String> {
    match slot {
        Some(first) => Err(ambiguous(first, &column, what)),
        None => {
            *slot = Some(column);
            Ok(())
        }
    }
}

fn ambiguous(first: &Column, second: &Column, what: &str) -> String {
    format!(
        "the CSV header has two {what} columns, {} and {}; keep one",
        first.describe(),
        second.describe()
    )
}

fn header_columns(raw: &[u8], username_column: &str) -> Result<Columns, String> {
    let mut username = None;
    let mut pool = None;
    let mut metadata: Vec<(Column, String)> = Vec::new();
    // Key to its place in `metadata`: a header may have many columns.
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut count = 0;
    for (index, field) in Fields::new(raw).enumerate() {
        count = index + 1;
        let name = header_name(field);
        let column = || Column {
            index,
            name: name.clone(),
        };
        if same_name(&name, username_column) {
            claim(&mut username, column(), &format!("{username_column:?}"))?;
        }
        if same_name(&name, "user_pool_id") {
            claim(&mut pool, column(), "\"user_pool_id\"")?;
        }
        if let Some(key) = meta_key(&name) {
            if let Some(&first) = keys.get(key) {
                let what = format!("client metadata {key:?}");
                return Err(ambiguous(&metadata[first].0, &column(), &what));
            }
            keys.insert(key.to_owned(), metadata.len());
            metadata.push((column(), key.to_owned()));
        }
    }
    let Some(username) = username else {
        return Err(format!(
            "the CSV header has no column {username_column:?} (columns: {}); \
             name the username column with --username-column",
            list_names(raw)
        ));
    };
    Ok(Columns {
        count,
        username,
        pool,
        metadata,
    })
}

impl Columns {
    /// The last column in use: an extra field before it shifts it.
    fn last_used(&self) -> usize {
        let meta = self.metadata.iter().map(|(c, _)| c.index);
        let pool = self.pool.iter().map(|c| c.index);
        meta.chain(pool).fold(self.username.index, usize::max)
    }
}

/// The ClientMetadata key of a `meta.KEY` column name.
fn meta_key(name: &str) -> Option<&str> {
    let prefix = name.get(..5)?;
    let key = &name[5..];
    (prefix.eq_ignore_ascii_case("meta.") && !key.is_empty()).then_some(key)
}

/// The header's names for a message, the first few only.
fn list_names(raw: &[u8]) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<String> = Fields::new(raw).take(SHOWN + 1).map(header_name).collect();
    if names.len() > SHOWN {
        names[SHOWN] = "…".into();
    }
    names.join(", ")
}

/// The CSV rows after the header.
pub(crate) struct CsvRows {
    /// `None`: the input had no header, so it has no rows.
    columns: Option<Columns>,
    /// The current record's raw bytes.
    raw: Vec<u8>,
}

impl CsvRows {
    /// Reads the header and gets ready for the rows.
    pub(crate) fn start<R: BufRead>(
        input: &mut Input<R>,
        username_column: &str,
        name: &str,
    ) -> Result<Self, StartError> {
        let mut raw = Vec::new();
        let columns = read_header(input, &mut raw, username_column, name)?;
        Ok(CsvRows { columns, raw })
    }

    /// Whether the input had a header line (a CSV with a header and no row
    /// is an empty list, not a missing one).
    pub(crate) fn has_header(&self) -> bool {
        self.columns.is_some()
    }

    /// The next row's item.
    pub(crate) fn next<R: BufRead>(
        &mut self,
        input: &mut Input<R>,
        default_pool: Option<&str>,
    ) -> Next {
        let Some(columns) = &self.columns else {
            return Next::End;
        };
        loop {
            return match read_record(input, &mut self.raw) {
                Record::End => Next::End,
                Record::Read { .. } if is_blank(&self.raw) => continue,
                Record::Read { line } => {
                    Next::Item(row_item(line, &self.raw, columns, default_pool))
                }
                Record::TooLong { line } => Next::Last(malformed(line, TOO_LONG)),
                Record::Failed { error, .. } if super::digest::is_changed(&error) => Next::End,
                Record::Failed { line, error } => {
                    Next::Last(malformed(line, format!("cannot read input: {error}")))
                }
                Record::OpenQuote {
                    line,
                    quote_line,
                    at,
                } => Next::Item(recover(input, &mut self.raw, line, quote_line, at)),
            };
        }
    }
}

/// The input ended inside quotes opened at byte `at` of `raw`, on
/// `quote_line`: the record is malformed, and every line after the one where
/// the quote opened is read again, as if that line had ended the record.
/// (Read again, those lines cannot end inside quotes: in quotes, every quote
/// in them was half of a `""`, so each quoted field they open closes at once.)
fn recover<R: BufRead>(
    input: &mut Input<R>,
    raw: &mut Vec<u8>,
    line: u64,
    quote_line: u64,
    at: usize,
) -> Item {
    let rest = &raw[at..];
    if let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        let crlf = rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n');
        let tail = raw.split_off(at + i + if crlf { 2 } else { 1 });
        input.push_back(tail, quote_line + 1);
    }
    malformed(
        line,
        format!("a quote opened on line {quote_line} is never closed"),
    )
}

/// A row's raw fields in the columns in use.
#[derive(Default)]
struct UsedFields<'a> {
    count: usize,
    /// Fields up to the last one that is not empty: trailing empty fields
    /// (`alice,,`) do not count against the header.
    filled: usize,
    username: Option<&'a [u8]>,
    pool: Option<&'a [u8]>,
    metadata: Vec<(&'a (Column, String), &'a [u8])>,
}

/// Picks the columns in use out of a record, in one pass.
fn used_fields<'a>(raw: &'a [u8], columns: &'a Columns) -> UsedFields<'a> {
    let mut used = UsedFields::default();
    let mut metadata = columns.metadata.iter().peekable();
    for (index, field) in Fields::new(raw).enumerate() {
        used.count = index + 1;
        if !field.iter().all(u8::is_ascii_whitespace) {
            used.filled = index + 1;
        }
        if index == columns.username.index {
            used.username = Some(field);
        }
        if columns.pool.as_ref().is_some_and(|c| c.index == index) {
            used.pool = Some(field);
        }
        if let Some(meta) = metadata.next_if(|(c, _)| c.index == index) {
            used.metadata.push((meta, field));
        }
    }
    used
}

/// A used field's value, trimmed; `Err` names the column that is not text.
fn text(field: &[u8], column: &Column) -> Result<String, String> {
    match String::from_utf8(unquote(field).into_owned()) {
        Ok(s) => Ok(s.trim().to_owned()),
        Err(_) => Err(format!("{} is not valid UTF-8", column.describe())),
    }
}

/// The item for one non-blank record after the header.
fn row_item(line: u64, raw: &[u8], columns: &Columns, default_pool: Option<&str>) -> Item {
    let used = used_fields(raw, columns);
    if used.filled > columns.count && columns.last_used() > 0 {
        return malformed(
            line,
            format!(
                "row has {} fields; the header has {} (an unquoted comma in a value?): its \
                 columns cannot be trusted to name the user",
                used.filled, columns.count
            ),
        );
    }
    let Some(field) = used.username else {
        return malformed(
            line,
            format!(
                "row has {} fields; the username is in column {}",
                used.count,
                columns.username.index + 1
            ),
        );
    };
    let username = match text(field, &columns.username) {
        Ok(u) if u.contains(['\n', '\r']) => {
            return malformed(
                line,
                "username field spans several lines (an unbalanced quote?)",
            );
        }
        Ok(u) => u,
        Err(message) => return malformed(line, message),
    };
    // From here on the username is known: an invalid row keeps it.
    let pool = match (used.pool, &columns.pool) {
        (Some(field), Some(column)) => match text(field, column) {
            Ok(pool) => Some(pool),
            Err(message) => return malformed_for(line, username, message),
        },
        _ => None,
    };
    let mut metadata = Vec::new();
    for ((column, key), field) in used.metadata {
        match text(field, column) {
            Ok(value) if value.is_empty() => {}
            Ok(value) => metadata.push((key.clone(), value)),
            Err(message) => return malformed_for(line, username, message),
        }
    }
    validate(
        RawRow {
            line,
            username,
            pool,
            metadata,
        },
        default_pool,
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        DEFAULT_POOL, code, invalid, items, items_trickled, line, options, row,
    };
    use super::super::{Format, Item, ItemReader, Row};
    use super::MAX_RECORD_BYTES;

    fn start_error(text: &[u8], username_column: &str) -> String {
        let mut options = options(Format::Csv);
        options.username_column = username_column.into();
        match ItemReader::new(text, &options, "x.csv") {
            Ok(_) => panic!("expected a start error"),
            Err(e) => e.to_string(),
        }
    }

    fn lines(got: &[Item]) -> Vec<u64> {
        got.iter().map(line).collect()
    }

    #[test]
    fn csv_header_is_case_insensitive_and_bom_is_accepted() {
        let got = items(
            Format::Csv,
            "\u{feff}UserName,User_Pool_Id\nalice,\nbob,us-east-1_Other\n".as_bytes(),
        );
        let bob = Item::Row(Row {
            line: 3,
            username: "bob".into(),
            pool: "us-east-1_Other".into(),
            metadata: vec![],
            known: None,
        });
        assert_eq!(got, vec![row(2, "alice"), bob]);
    }

    #[test]
    fn header_names_are_unquoted_and_trimmed() {
        let got = items(Format::Csv, b"note ,\" Username \"\r\nx,alice\r\n");
        assert_eq!(got, vec![row(2, "alice")]);
    }

    #[test]
    fn username_column_option_picks_another_column() {
        let mut options = options(Format::Csv);
        options.username_column = "Email".into();
        let got: Vec<Item> = ItemReader::new(&b"username,email\nx,alice\n"[..], &options, "t")
            .unwrap()
            .collect();
        assert_eq!(got, vec![row(2, "alice")]);
    }

    #[test]
    fn csv_meta_columns_become_client_metadata() {
        let got = items(
            Format::Csv,
            b"username,meta.reason,other,META.Ticket\nalice,breach,x,\"T-1\"\nbob,,x,\n",
        );
        let Item::Row(r) = &got[0] else { panic!() };
        let want = [("reason", "breach"), ("Ticket", "T-1")];
        let want: Vec<(String, String)> = want.map(|(k, v)| (k.into(), v.into())).into();
        assert_eq!(r.metadata, want);
        assert_eq!(got[1], row(3, "bob"), "empty values are left out");
    }

    #[test]
    fn csv_missing_username_column_is_a_start_error() {
        let err = start_error(b"username\nalice\n", "email");
        assert!(err.contains("no column \"email\""), "{err}");
        assert!(err.contains("columns: username"), "{err}");
    }

    #[test]
    fn two_username_columns_are_ambiguous() {
        let err = start_error(b"username,note,USERNAME\nalice,x,bob\n", "username");
        assert!(err.contains("x.csv"), "{err}");
        assert!(err.contains("column 1 (\"username\")"), "{err}");
        assert!(err.contains("column 3 (\"USERNAME\")"), "{err}");
    }

    #[test]
    fn two_pool_columns_are_ambiguous() {
        let err = start_error(b"user_pool_id,username, User_Pool_ID\n", "username");
        assert!(err.contains("column 1 (\"user_pool_id\")"), "{err}");
        assert!(err.contains("column 3 (\"User_Pool_ID\")"), "{err}");
    }

    #[test]
    fn two_identical_meta_columns_are_ambiguous() {
        let err = start_error(b"meta.k,username,META.k\n", "username");
        assert!(err.contains("\"k\""), "{err}");
        assert!(err.contains("column 1 (\"meta.k\")"), "{err}");
        assert!(err.contains("column 3 (\"META.k\")"), "{err}");
        let got = items(Format::Csv, b"meta.k,username,meta.K\nv,alice,w\n");
        assert_eq!(code(&got[0]), "ok", "keys differing in case are two keys");
    }

    #[test]
    fn csv_line_numbers_follow_multiline_quoted_fields() {
        let got = items(Format::Csv, b"username,note\nalice,\"two\nlines\"\nbob,x\n");
        assert_eq!(got, vec![row(2, "alice"), row(4, "bob")]);
    }

    #[test]
    fn line_numbers_count_lone_cr_endings() {
        let got = items(
            Format::Csv,
            b"username,note\ralice,\"a\rb\"\r\rbob,x\rcarol",
        );
        assert_eq!(got, vec![row(2, "alice"), row(5, "bob"), row(6, "carol")]);
    }

    #[test]
    fn line_numbers_count_crlf_once_inside_and_outside_quotes() {
        let got = items(
            Format::Csv,
            b"username,note\r\nalice,\"a\r\nb\r\n\"\r\n\r\nbob,\"\n\r\"\r\ncarol\r\n",
        );
        assert_eq!(lines(&got), [2, 6, 9]);
    }

    #[test]
    fn empty_quoted_username_is_an_invalid_row() {
        let got = items(Format::Csv, b"username,note\n\"\"\n\"\",x\n,x\n");
        assert_eq!(lines(&got), [2, 3, 4]);
        for item in &got {
            let i = invalid(item);
            assert_eq!(
                (i.code, i.message.as_str()),
                ("InvalidUsername", "username is empty")
            );
        }
    }

    #[test]
    fn blank_lines_are_not_rows() {
        let got = items(Format::Csv, b"\n \nusername\n\n\t\r\n\ralice\n  \n");
        assert_eq!(got, vec![row(7, "alice")]);
    }

    #[test]
    fn empty_csv_has_no_rows() {
        assert!(items(Format::Csv, b"").is_empty());
        assert!(items(Format::Csv, b"\n\r\n").is_empty());
        assert!(items(Format::Csv, b"username\r\n").is_empty());
    }

    #[test]
    fn open_quote_at_eof_names_the_line_it_opened_on_and_keeps_later_rows() {
        let got = items(
            Format::Csv,
            b"username,note\nalice,x\nbob,\"oops\ncarol,x\r\ndave,x",
        );
        let bad = invalid(&got[1]);
        assert_eq!((bad.line, bad.code), (3, "MalformedRow"));
        assert!(bad.message.contains("opened on line 3"), "{}", bad.message);
        assert_eq!(
            got,
            vec![
                row(2, "alice"),
                got[1].clone(),
                row(4, "carol"),
                row(5, "dave")
            ]
        );
    }

    #[test]
    fn open_quote_after_a_multiline_field_reads_again_after_the_quote_line() {
        let got = items(Format::Csv, b"username,a,b\nbob,\"x\ny\",\"z\r\ncarol\n");
        let bad = invalid(&got[0]);
        assert_eq!(bad.line, 2, "the row starts on line 2");
        assert!(bad.message.contains("opened on line 3"), "{}", bad.message);
        assert_eq!(got[1..], [row(4, "carol")]);
    }

    /// Found by fuzzing (csv_reader): the line of a quote opened after a
    /// quoted line break that came in an earlier read was counted from the
    /// record's start, so the message named the wrong line and recovery read
    /// again from there.
    #[test]
    fn regression_open_quote_line_counts_line_breaks_from_earlier_reads() {
        let text = b"username,note\n\"x\ny\",\"\nz";
        for got in [items(Format::Csv, text), items_trickled(Format::Csv, text)] {
            let bad = invalid(&got[0]);
            assert_eq!(bad.line, 2);
            assert!(bad.message.contains("opened on line 3"), "{}", bad.message);
            assert_eq!(got[1..], [row(4, "z")]);
        }
    }

    #[test]
    fn open_quote_on_the_last_line_is_one_invalid_row() {
        let got = items(Format::Csv, b"username\nalice\n\"bob");
        assert_eq!(lines(&got), [2, 3]);
        assert_eq!(code(&got[1]), "MalformedRow");
    }

    #[test]
    fn open_quote_in_the_header_is_a_start_error() {
        let err = start_error(b"username,\"note\nalice,x\n", "username");
        assert!(err.contains("opened on line 1"), "{err}");
    }

    #[test]
    fn quote_inside_an_unquoted_field_is_data() {
        let got = items(Format::Csv, b"username,note\nab\"c,x\"y\nbob,\"q\"r,s\n");
        assert_eq!(got, vec![row(2, "ab\"c"), row(3, "bob")]);
    }

    /// Regression: a quote left open mid-file was closed by a later row's
    /// quote; the rows between vanished and a username pieced together from
    /// two rows was reset.
    #[test]
    fn a_quote_closed_rows_later_is_taken_for_one_left_open() {
        let got = items(
            Format::Csv,
            b"username,name\nu1,\"Smith, John\nu2,Doe\nu3,\"Roe, Jane\"\nu4,Poe\n",
        );
        let got: Vec<(u64, &str)> = got.iter().map(|i| (line(i), code(i))).collect();
        assert_eq!(
            got,
            [(2, "MalformedRow"), (3, "ok"), (4, "ok"), (5, "ok")],
            "u1's row is malformed; u2, u3 and u4 are read"
        );
    }

    /// Regression: an unquoted comma in a value shifted the columns, and the
    /// user named by the wrong column was reset.
    #[test]
    fn a_row_with_more_fields_than_the_header_is_malformed() {
        let got = items(
            Format::Csv,
            b"name,username\nSmith, John,u1\nDoe,u2\nRoe,u3,,\n",
        );
        let codes: Vec<&str> = got.iter().map(code).collect();
        assert_eq!(
            codes,
            ["MalformedRow", "ok", "ok"],
            "trailing empty fields are fine"
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_data() {
        let got = items(Format::Csv, b"username\n\"a,\"\"b\"c\"d\n");
        assert_eq!(got, vec![row(2, "a,\"bc\"d")]);
    }

    #[test]
    fn username_spanning_lines_is_malformed_without_a_username() {
        let got = items(Format::Csv, b"username\n\"eve\nnewline\"\nbob\n");
        let bad = invalid(&got[0]);
        assert_eq!(
            (bad.line, bad.code, bad.username.as_str()),
            (2, "MalformedRow", "")
        );
        assert_eq!(got[1], row(4, "bob"));
    }

    #[test]
    fn invalid_utf8_and_short_rows_are_malformed_not_fatal() {
        let got = items(
            Format::Csv,
            b"note,username\n\xff\xfe,\xff\nonly\nx,carol\n",
        );
        let bad = invalid(&got[0]);
        assert_eq!(bad.code, "MalformedRow");
        assert!(
            bad.message.contains("column 2 (\"username\")"),
            "{}",
            bad.message
        );
        assert!(invalid(&got[1]).message.contains("1 fields"));
        assert_eq!(got[2], row(4, "carol"));
    }

    #[test]
    fn invalid_utf8_in_an_ignored_column_keeps_the_row_valid() {
        let got = items(Format::Csv, b"username,note\nalice,\xff\"\xfe\n");
        assert_eq!(got, vec![row(2, "alice")]);
    }

    #[test]
    fn invalid_utf8_in_the_pool_column_names_it_and_keeps_the_username() {
        let got = items(
            Format::Csv,
            b"username,user_pool_id,meta.k\nalice,\xff,\nbob,,\xfe\n",
        );
        let bad = invalid(&got[0]);
        assert_eq!((bad.code, bad.username.as_str()), ("MalformedRow", "alice"));
        assert!(
            bad.message.contains("column 2 (\"user_pool_id\")"),
            "{}",
            bad.message
        );
        let bad = invalid(&got[1]);
        assert_eq!(bad.username, "bob");
        assert!(
            bad.message.contains("column 3 (\"meta.k\")"),
            "{}",
            bad.message
        );
    }

    #[test]
    fn row_pool_overrides_the_default_and_empty_uses_it() {
        let got = items(
            Format::Csv,
            b"username,user_pool_id\nalice,\"\"\nbob, us-east-1_X \n",
        );
        assert_eq!(got[0], row(2, "alice"));
        let Item::Row(bob) = &got[1] else { panic!() };
        assert_eq!(bob.pool, "us-east-1_X");
        assert_ne!(bob.pool, DEFAULT_POOL);
    }

    #[test]
    fn record_over_one_mib_ends_the_input() {
        let mut text = b"username,note\nalice,x\nbob,\"".to_vec();
        // Short lines, but one record: the bound is on the record.
        text.extend(b"abc\n".repeat(MAX_RECORD_BYTES / 4 + 1));
        text.extend_from_slice(b"\"\ncarol,x\n");
        let got = items(Format::Csv, &text);
        assert_eq!(got.len(), 2, "{:?}", got.get(2));
        assert_eq!(got[0], row(2, "alice"));
        let bad = invalid(&got[1]);
        assert_eq!((bad.line, bad.code), (3, "MalformedRow"));
        assert_eq!(
            bad.message,
            "longer than 1 MiB; input not read past this line"
        );
    }

    #[test]
    fn record_of_exactly_one_mib_is_read() {
        let mut text = b"username,note\nalice,".to_vec();
        text.resize(14 + MAX_RECORD_BYTES, b'x');
        text.extend_from_slice(b"\r\nbob,x");
        assert_eq!(
            items(Format::Csv, &text),
            vec![row(2, "alice"), row(3, "bob")]
        );
    }

    #[test]
    fn header_over_one_mib_is_a_start_error() {
        let mut text = b"username,".to_vec();
        text.resize(MAX_RECORD_BYTES + 1, b'x');
        let err = start_error(&text, "username");
        assert!(err.contains("header is longer than 1 MiB"), "{err}");
    }
}
