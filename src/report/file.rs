//! Appending records to the report file, each line linked into the hash
//! chain. Writes are buffered; the writer task calls [`ReportWriter::flush`]
//! by time and by count, so an outcome reaches the file within a fraction
//! of a second without a system call per row.
//!
//! Every record is one line: control characters in a cell are written as
//! JSON escapes (`\n`, `\u001b`), in CSV as in JSONL, so no cell ever
//! holds a line break.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::chain::Chain;
use super::{Column, Layout, Record, ReportFormat, Value, csv_header};

/// The name of the chain's column, the last of every line.
pub const HASH_COLUMN: &str = "hash";

/// What a new report of this layout starts with (a `bool`: a real run's,
/// with or without the sign-out columns): the CSV header line (a JSONL
/// report has none).
pub fn header_bytes(path: &Path, layout: impl Into<Layout>) -> Vec<u8> {
    match ReportFormat::from_path(path) {
        ReportFormat::Csv => {
            let mut names = csv_header(layout);
            names.push(HASH_COLUMN);
            let mut line = names.join(",").into_bytes();
            line.push(b'\n');
            line
        }
        ReportFormat::Jsonl => Vec::new(),
    }
}

/// Control characters written as JSON writes them, everything else as it is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The report file, opened for appending.
pub struct ReportWriter {
    columns: Vec<Column>,
    format: ReportFormat,
    file: BufWriter<File>,
    /// Encodes CSV cells (quoting where needed).
    cells: csv_core::Writer,
    chain: Chain,
    /// Where the chain stood at the last flush that succeeded: what the
    /// report holds, whatever happens to the records after it.
    durable: Chain,
    /// The report's length then.
    durable_len: u64,
    /// Its length with every record written so far (buffered included).
    len: u64,
    path: String,
    /// Scratch for one cell's encoding, kept between records so that a
    /// record costs no allocation of its own for it.
    cell: Vec<u8>,
    /// Scratch for a number cell's digits.
    digits: String,
}

impl ReportWriter {
    /// Writes to `file`: opened, locked, positioned at its end, its header
    /// (of this layout) already there; `chain` is where its records' chain
    /// stands.
    pub fn new(
        file: File,
        path: &Path,
        layout: impl Into<Layout>,
        chain: Chain,
    ) -> std::io::Result<ReportWriter> {
        let len = file.metadata()?.len();
        let cells = csv_core::WriterBuilder::new()
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        Ok(ReportWriter {
            columns: layout.into().columns(),
            format: ReportFormat::from_path(path),
            file: BufWriter::with_capacity(64 * 1024, file),
            cells,
            durable: chain.clone(),
            durable_len: len,
            len,
            chain,
            path: crate::progress::escape(&path.display().to_string()),
            cell: Vec::new(),
            digits: String::new(),
        })
    }

    /// Writes one record into the buffer.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = match self.format {
            ReportFormat::Csv => self.csv_line(record)?,
            ReportFormat::Jsonl => json_line(&self.columns, record),
        };
        let hash = self.chain.link(&line);
        match self.format {
            ReportFormat::Csv => {
                line.push(b',');
                line.extend_from_slice(hash.as_bytes());
            }
            ReportFormat::Jsonl => {
                line.pop();
                line.extend_from_slice(format!(",\"{HASH_COLUMN}\":\"{hash}\"}}").as_bytes());
            }
        }
        line.push(b'\n');
        self.len += line.len() as u64;
        self.file.write_all(&line)
    }

    /// One record's CSV cells, joined, without a line ending.
    fn csv_line(&mut self, record: &Record) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::with_capacity(256);
        let buf = &mut self.cell;
        for (i, column) in self.columns.iter().enumerate() {
            let value = column.get(record);
            let text = match &value {
                Value::Text(t) => escape_controls(t),
                Value::Number(n) => {
                    use std::fmt::Write as _;
                    self.digits.clear();
                    let _ = write!(self.digits, "{n}");
                    Cow::Borrowed(self.digits.as_str())
                }
                other => other.text(),
            };
            // A quoted cell is at most twice as long, plus its quotes and
            // what comes after it.
            buf.resize(text.len() * 2 + 4, 0);
            if i > 0 {
                let (_, n) = self.cells.delimiter(buf);
                line.extend_from_slice(&buf[..n]);
            }
            let (_, _, n) = self.cells.field(text.as_bytes(), buf);
            line.extend_from_slice(&buf[..n]);
        }
        buf.resize(4, 0);
        let (_, n) = self.cells.terminator(buf);
        line.extend_from_slice(&buf[..n]);
        line.pop();
        Ok(line)
    }

    /// Hands everything written so far to the OS.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.durable = self.chain.clone();
        self.durable_len = self.len;
        Ok(())
    }

    /// After a write failed: drops what is buffered and cuts the report
    /// back to the records it last took whole, so that it holds exactly
    /// what [`ReportWriter::durable`] says (a torn line included, nothing
    /// is left half-written). The journal keeps the intents of the rows
    /// cut: a resume checks them.
    pub fn cut_to_durable(&mut self) -> std::io::Result<()> {
        let spare = BufWriter::with_capacity(0, self.file.get_ref().try_clone()?);
        let (file, _) = std::mem::replace(&mut self.file, spare).into_parts();
        file.set_len(self.durable_len)?;
        file.sync_data()?;
        self.chain = self.durable.clone();
        self.len = self.durable_len;
        Ok(())
    }

    /// Forces everything written so far to stable storage.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.file.get_ref().sync_data()
    }

    /// Where the chain stood at the last flush that succeeded (at the start
    /// before any): the records the report is known to hold.
    pub fn durable(&self) -> &Chain {
        &self.durable
    }

    /// Where the chain stands: its head and the records it covers.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The report's path, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// One JSON object, its keys in column order; an empty flag or optional
/// text is left out.
fn json_line(columns: &[Column], record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for column in columns {
        let value = column.get(record);
        if matches!(value, Value::Flag(None) | Value::Optional(None)) {
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, column.name());
        out.push(b':');
        let _ = match value {
            Value::Text(t) => serde_json::to_writer(&mut out, &*t),
            Value::Number(n) => serde_json::to_writer(&mut out, &n),
            Value::Flag(Some(b)) => serde_json::to_writer(&mut out, &b),
            Value::Optional(Some(t)) => serde_json::to_writer(&mut out, t),
            Value::Flag(None) | Value::Optional(None) => Ok(()),
        };
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;
    use crate::report::chain::Chain;

    fn record(username: &str, outcome: Outcome) -> Record {
        Record::local(1, username, "eu-west-1_P", outcome, "", "")
    }

    #[test]
    fn csv_report_has_the_header_and_sign_out_columns_when_asked() {
        let dir = std::env::temp_dir().join(format!("cr-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for sign_out in [false, true] {
            let path = dir.join(format!("r{sign_out}.csv"));
            let file = crate::files::create_with(&path, &header_bytes(&path, sign_out)).unwrap();
            let chain = Chain::start(&header_bytes(&path, sign_out));
            let mut w = ReportWriter::new(file, &path, sign_out, chain).unwrap();
            let mut r = record("alice", Outcome::Reset);
            r.signed_out = sign_out.then_some(true);
            w.write(&r).unwrap();
            w.sync().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            assert!(header.starts_with("line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at"));
            assert_eq!(
                header.ends_with(",signed_out,sign_out_error,hash"),
                sign_out
            );
            let row = lines.next().unwrap();
            let (cells, hash) = row.rsplit_once(',').unwrap();
            assert!(super::super::chain::is_hash(hash.as_bytes()), "{row}");
            assert_eq!(cells.ends_with(",true,"), sign_out);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn jsonl_keys_follow_the_columns_and_leave_out_what_is_empty() {
        let mut r = record("a\"b", Outcome::Reset);
        r.completed_at = "t".into();
        r.signed_out = Some(true);
        assert_eq!(
            String::from_utf8(json_line(&Layout::from(true).columns(), &r)).unwrap(),
            "{\"line\":1,\"username\":\"a\\\"b\",\"user_pool_id\":\"eu-west-1_P\",\"outcome\":\"reset\",\
             \"error_code\":\"\",\"error_message\":\"\",\"attempts\":0,\"duration_ms\":0,\
             \"request_id\":\"\",\"completed_at\":\"t\",\"signed_out\":true}"
        );
    }

    #[test]
    fn control_characters_in_a_csv_cell_are_escaped_and_nothing_else_is() {
        assert_eq!(escape_controls("a\\b,\"c\""), "a\\b,\"c\"");
        assert_eq!(escape_controls("x\ny\u{1b}[0m"), "x\\ny\\u001b[0m");
    }
}
