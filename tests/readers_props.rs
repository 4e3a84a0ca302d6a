//! Property tests of the input readers.
//!
//! Any bytes at all keep the readers' invariants (the check shared with the
//! fuzz targets). Inputs generated from a model (rows of fields, quoting with
//! embedded quotes, commas and line breaks, blank lines, LF/CRLF/CR endings
//! mixed) come back as exactly the model's rows on exactly the model's lines.

use cognito_reset::input::{
    Format, Invalid, Item, ItemReader, ReadOptions, Row, check_reader_invariants,
};
use proptest::prelude::*;
use proptest::sample::select;

const DEFAULT_POOL: &str = "eu-west-1_Default";

fn read(format: Format, bytes: &[u8]) -> Vec<Item> {
    let options = ReadOptions {
        format,
        username_column: "username".into(),
        default_pool: Some(DEFAULT_POOL.into()),
    };
    ItemReader::new(bytes, &options, "model").unwrap().collect()
}

// ---- (a) any bytes ----

/// Bytes the readers treat specially, and some text, in any order.
fn noisy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces: Vec<&[u8]> = vec![
        b"\"",
        b"\"\"",
        b",",
        b"\r",
        b"\n",
        b"\r\n",
        b" ",
        b"\t",
        b"a",
        b"bob",
        b"username",
        b"user_pool_id",
        b"meta.k",
        b"eu-west-1_X",
        b"{",
        b"}",
        b":",
        b"[",
        b"]",
        b"null",
        b"1",
        b"\"username\"",
        b"\"client_metadata\"",
        b"\\",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc3\xa9",
        b"\0",
    ];
    prop::collection::vec(select(pieces), 0..200).prop_map(|p| p.concat())
}

fn any_format() -> impl Strategy<Value = Format> {
    select(vec![Format::Csv, Format::Jsonl, Format::Lines])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_keep_the_invariants(format in any_format(), bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_reader_invariants(format, &bytes);
    }

    #[test]
    fn noisy_bytes_keep_the_invariants(format in any_format(), bytes in noisy_bytes()) {
        check_reader_invariants(format, &bytes);
    }
}

// ---- the document being generated ----

/// How a physical line ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Lf,
    CrLf,
    Cr,
}

impl Ending {
    fn bytes(self) -> &'static [u8] {
        match self {
            Ending::Lf => b"\n",
            Ending::CrLf => b"\r\n",
            Ending::Cr => b"\r",
        }
    }
}

fn ending() -> impl Strategy<Value = Ending> {
    select(vec![Ending::Lf, Ending::CrLf, Ending::Cr])
}

/// Line endings in `bytes`, a CRLF counting once.
fn endings(bytes: &[u8]) -> u64 {
    let lone_lf = |i: usize| bytes[i] == b'\n' && (i == 0 || bytes[i - 1] != b'\r');
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'\r' || lone_lf(i))
        .count() as u64
}

/// An input being written line by line, knowing the line it is on.
struct Doc {
    bytes: Vec<u8>,
    line: u64,
    last_cr: bool,
}

impl Doc {
    fn new(bom: bool) -> Self {
        let bytes = if bom {
            b"\xef\xbb\xbf".to_vec()
        } else {
            Vec::new()
        };
        Doc {
            bytes,
            line: 1,
            last_cr: false,
        }
    }

    /// Writes `content` (which may hold line endings itself, never first)
    /// and its ending; returns the line it started on.
    fn push(&mut self, content: &[u8], ending: Option<Ending>) -> u64 {
        let start = self.line;
        let mut ending = ending;
        // After a CR, an empty line ended by LF would read as one CRLF.
        if content.is_empty() && self.last_cr && ending == Some(Ending::Lf) {
            ending = Some(Ending::CrLf);
        }
        self.bytes.extend_from_slice(content);
        self.line += endings(content);
        if let Some(ending) = ending {
            self.bytes.extend_from_slice(ending.bytes());
            self.line += 1;
            self.last_cr = ending == Ending::Cr;
        }
        start
    }
}

/// Lines that are no rows: empty, or whitespace.
fn blank_lines() -> impl Strategy<Value = Vec<(&'static str, Ending)>> {
    prop::collection::vec((select(vec!["", " ", "\t", " \t "]), ending()), 0..3)
}

/// A username Cognito accepts, with the characters CSV and JSON quote.
fn username() -> impl Strategy<Value = String> {
    let chars = vec![
        'a', 'Z', '0', '@', '.', '_', '+', '-', ',', '"', '\'', '\\', 'é', 'ß', '中', '🙂',
    ];
    prop::collection::vec(select(chars), 1..12).prop_map(|c| c.into_iter().collect())
}

fn pool() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(vec!["us-east-1_AbC", "eu-west-2_x9"]).prop_map(String::from))
}

/// Free text: spaces, quotes, commas and line endings of every kind.
fn text() -> impl Strategy<Value = String> {
    let pieces = vec!["x", "Yz", " ", "\"", ",", "\n", "\r\n", "\r", "é", "\t"];
    prop::collection::vec(select(pieces), 0..8).prop_map(|p| p.concat())
}

// ---- (b) CSV ----

/// A cell of a model row.
#[derive(Debug, Clone)]
struct Cell {
    value: Vec<u8>,
    quoted: bool,
}

impl Cell {
    fn encode(&self) -> Vec<u8> {
        let special = |b: &u8| matches!(b, b'"' | b',' | b'\r' | b'\n');
        if !self.quoted && !self.value.iter().any(special) {
            return self.value.clone();
        }
        let mut out = vec![b'"'];
        for &b in &self.value {
            out.extend_from_slice(if b == b'"' {
                b"\"\""
            } else {
                std::slice::from_ref(&b)
            });
        }
        out.push(b'"');
        out
    }
}

#[derive(Debug, Clone)]
struct CsvRow {
    /// `None`: an empty quoted field.
    username: Option<String>,
    pool: Option<String>,
    meta: String,
    /// An ignored column: any bytes, invalid UTF-8 included.
    note: Vec<u8>,
    quoted: [bool; 3],
    ending: Ending,
    blanks_after: Vec<(&'static str, Ending)>,
}

fn csv_row() -> impl Strategy<Value = CsvRow> {
    let note = prop::collection::vec(
        select(vec![b'a', b'"', b',', b'\n', b'\r', b' ', 0xff]),
        0..6,
    );
    (
        prop::option::weighted(0.9, username()),
        pool(),
        text(),
        note,
        any::<[bool; 3]>(),
        ending(),
        blank_lines(),
    )
        .prop_map(
            |(username, pool, meta, note, quoted, ending, blanks_after)| CsvRow {
                username,
                pool,
                meta,
                note,
                quoted,
                ending,
                blanks_after,
            },
        )
}

#[derive(Debug, Clone)]
struct CsvModel {
    bom: bool,
    /// Column order: 0 username, 1 user_pool_id, 2 meta.k, 3 note.
    order: Vec<usize>,
    header_names: [&'static str; 2],
    blanks_before: Vec<(&'static str, Ending)>,
    header_ending: Ending,
    rows: Vec<CsvRow>,
    last_ended: bool,
}

fn csv_model() -> impl Strategy<Value = CsvModel> {
    (
        any::<bool>(),
        Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        (
            select(vec!["username", "UserName", " USERNAME "]),
            select(vec!["user_pool_id", "User_Pool_Id"]),
        ),
        blank_lines(),
        ending(),
        prop::collection::vec(csv_row(), 0..8),
        any::<bool>(),
    )
        .prop_map(
            |(bom, order, names, blanks_before, header_ending, rows, last_ended)| CsvModel {
                bom,
                order,
                header_names: [names.0, names.1],
                blanks_before,
                header_ending,
                rows,
                last_ended,
            },
        )
}

impl CsvModel {
    /// The input, and the items it must read as.
    fn render(&self) -> (Vec<u8>, Vec<Item>) {
        let mut doc = Doc::new(self.bom);
        for (blank, end) in &self.blanks_before {
            doc.push(blank.as_bytes(), Some(*end));
        }
        let names = [self.header_names[0], self.header_names[1], "meta.k", "note"];
        let header: Vec<&str> = self.order.iter().map(|&c| names[c]).collect();
        doc.push(header.join(",").as_bytes(), Some(self.header_ending));
        let mut want = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            let cells = [
                Cell {
                    value: row.username.clone().unwrap_or_default().into_bytes(),
                    quoted: row.quoted[0] || row.username.is_none(),
                },
                Cell {
                    value: row.pool.clone().unwrap_or_default().into_bytes(),
                    quoted: row.quoted[1],
                },
                Cell {
                    value: row.meta.clone().into_bytes(),
                    quoted: row.quoted[2],
                },
                Cell {
                    value: row.note.clone(),
                    quoted: false,
                },
            ];
            let fields: Vec<Vec<u8>> = self.order.iter().map(|&c| cells[c].encode()).collect();
            let last = i + 1 == self.rows.len() && row.blanks_after.is_empty();
            let ending = (!last || self.last_ended).then_some(row.ending);
            let line = doc.push(&fields.join(&b","[..]), ending);
            want.push(row.expected(line));
            for (blank, end) in &row.blanks_after {
                doc.push(blank.as_bytes(), Some(*end));
            }
        }
        (doc.bytes, want)
    }
}

impl CsvRow {
    fn expected(&self, line: u64) -> Item {
        let pool = self.pool.clone().unwrap_or_else(|| DEFAULT_POOL.into());
        let Some(username) = self.username.clone() else {
            return Item::Invalid(Invalid {
                line,
                username: String::new(),
                pool,
                code: "InvalidUsername",
                message: "username is empty".into(),
            });
        };
        let meta = self.meta.trim();
        let metadata = if meta.is_empty() {
            vec![]
        } else {
            vec![("k".into(), meta.into())]
        };
        Item::Row(Row {
            line,
            username,
            pool,
            metadata,
            known: None,
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn csv_model_rows_come_back_exactly(model in csv_model()) {
        let (bytes, want) = model.render();
        prop_assert_eq!(read(Format::Csv, &bytes), want);
        check_reader_invariants(Format::Csv, &bytes);
    }
}

// ---- (c) JSONL and lines ----

/// What a JSONL model row holds.
#[derive(Debug, Clone)]
enum JsonKind {
    /// Well-formed: pool and metadata as given.
    Good,
    /// `user_pool_id` is a number: invalid, but keeps the username.
    NumericPool,
    /// `username` twice: invalid, keeps the first.
    RepeatedUsername,
}

#[derive(Debug, Clone)]
struct JsonRow {
    username: String,
    pool: Option<String>,
    null_pool: bool,
    metadata: Vec<(String, String)>,
    kind: JsonKind,
    pad: (&'static str, &'static str),
    ending: Ending,
    blanks_after: Vec<(&'static str, Ending)>,
}

fn json_row() -> impl Strategy<Value = JsonRow> {
    let metadata = prop::collection::btree_map(username(), text(), 0..3)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    let kind = select(vec![
        JsonKind::Good,
        JsonKind::Good,
        JsonKind::NumericPool,
        JsonKind::RepeatedUsername,
    ]);
    let pad = (select(vec!["", " ", "\t"]), select(vec!["", " ", " \t"]));
    (
        username(),
        pool(),
        any::<bool>(),
        metadata,
        kind,
        pad,
        ending(),
        blank_lines(),
    )
        .prop_map(
            |(username, pool, null_pool, metadata, kind, pad, ending, blanks_after)| JsonRow {
                username,
                pool,
                null_pool,
                metadata,
                kind,
                pad,
                ending,
                blanks_after,
            },
        )
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl JsonRow {
    fn render(&self) -> String {
        let mut entries = vec![format!("\"username\":{}", json_string(&self.username))];
        match (&self.kind, &self.pool) {
            (JsonKind::NumericPool, _) => entries.push("\"user_pool_id\":5".into()),
            (_, Some(pool)) => entries.push(format!("\"user_pool_id\":{}", json_string(pool))),
            (_, None) if self.null_pool => entries.push("\"user_pool_id\":null".into()),
            (_, None) => {}
        }
        if let JsonKind::RepeatedUsername = self.kind {
            entries.push("\"username\":\"other\"".into());
        }
        let metadata: Vec<String> = self
            .metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        entries.push(format!("\"client_metadata\":{{{}}}", metadata.join(",")));
        format!("{}{{{}}}{}", self.pad.0, entries.join(", "), self.pad.1)
    }

    fn expected(&self, line: u64) -> Item {
        let malformed = |message: &str| {
            Item::Invalid(Invalid {
                line,
                username: self.username.clone(),
                pool: String::new(),
                code: "MalformedRow",
                message: message.into(),
            })
        };
        match self.kind {
            JsonKind::NumericPool => malformed("\"user_pool_id\" is not a string"),
            JsonKind::RepeatedUsername => malformed("duplicate key \"username\""),
            JsonKind::Good => Item::Row(Row {
                line,
                username: self.username.clone(),
                pool: self.pool.clone().unwrap_or_else(|| DEFAULT_POOL.into()),
                metadata: self.metadata.clone(),
                known: None,
            }),
        }
    }
}

/// Renders rows one a line after `lead` blank lines, with blank lines
/// between; the expected items.
fn render_lines<T>(
    bom: bool,
    lead: &[(&'static str, Ending)],
    rows: &[T],
    last_ended: bool,
    parts: impl Fn(&T) -> (String, Ending, &[(&'static str, Ending)]),
    expected: impl Fn(&T, u64) -> Item,
) -> (Vec<u8>, Vec<Item>) {
    let mut doc = Doc::new(bom);
    for (blank, end) in lead {
        doc.push(blank.as_bytes(), Some(*end));
    }
    let mut want = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let (text, ending, blanks) = parts(row);
        let last = i + 1 == rows.len() && blanks.is_empty();
        let line = doc.push(text.as_bytes(), (!last || last_ended).then_some(ending));
        want.push(expected(row, line));
        for (blank, end) in blanks {
            doc.push(blank.as_bytes(), Some(*end));
        }
    }
    (doc.bytes, want)
}

#[derive(Debug, Clone)]
struct LineRow {
    username: String,
    pad: (&'static str, &'static str),
    ending: Ending,
    blanks_after: Vec<(&'static str, Ending)>,
}

fn line_row() -> impl Strategy<Value = LineRow> {
    let pad = (select(vec!["", " ", "\t "]), select(vec!["", "  ", "\t"]));
    (username(), pad, ending(), blank_lines()).prop_map(|(username, pad, ending, blanks_after)| {
        LineRow {
            username,
            pad,
            ending,
            blanks_after,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn jsonl_model_rows_come_back_exactly(
        bom in any::<bool>(),
        lead in blank_lines(),
        rows in prop::collection::vec(json_row(), 0..8),
        last_ended in any::<bool>(),
    ) {
        let (bytes, want) = render_lines(
            bom,
            &lead,
            &rows,
            last_ended,
            |r| (r.render(), r.ending, &r.blanks_after[..]),
            |r, line| r.expected(line),
        );
        prop_assert_eq!(read(Format::Jsonl, &bytes), want);
        check_reader_invariants(Format::Jsonl, &bytes);
    }

    #[test]
    fn lines_model_rows_come_back_exactly(
        bom in any::<bool>(),
        lead in blank_lines(),
        rows in prop::collection::vec(line_row(), 0..12),
        last_ended in any::<bool>(),
    ) {
        let (bytes, want) = render_lines(
            bom,
            &lead,
            &rows,
            last_ended,
            |r| (format!("{}{}{}", r.pad.0, r.username, r.pad.1), r.ending, &r.blanks_after[..]),
            |r, line| Item::Row(Row {
                line,
                username: r.username.clone(),
                pool: DEFAULT_POOL.into(),
                metadata: vec![],
                known: None,
            }),
        );
        prop_assert_eq!(read(Format::Lines, &bytes), want);
        check_reader_invariants(Format::Lines, &bytes);
    }
}
