//! Reading a report back, checking its hash chain line by line: used by
//! `--resume` (what earlier runs did), `--skip-done` and `verify`. Every
//! record is one line; [`Reader::next`] takes one complete line and gives
//! the record it holds, or says what is wrong with it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::chain::{Chain, HASH_LEN, is_hash};
use super::file::HASH_COLUMN;
use super::{COLUMNS, Column, Layout, Outcome, Record, ReportFormat};

/// What a report's first line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstLine {
    /// This tool's chained report; for CSV, its columns (the sign-out
    /// columns or not, the channel column or not) are known.
    Chained {
        /// Whether it has the sign-out columns; `None`: the line does not
        /// tell (JSONL, or an empty file).
        sign_out: Option<bool>,
        /// Whether it has the channel column (a dry run's report); `None`:
        /// the line does not tell.
        channel: Option<bool>,
    },
    /// This tool's report from before reports were hash-chained.
    Unchained,
    /// Not this tool's report.
    Foreign,
}

/// What a report's first line says; `first` is the line with its ending.
pub fn judge_header(first: &[u8], format: ReportFormat) -> FirstLine {
    if first.is_empty() {
        return FirstLine::Chained {
            sign_out: None,
            channel: None,
        };
    }
    let line = String::from_utf8_lossy(first);
    let line = line.trim_end_matches(['\n', '\r']);
    match format {
        ReportFormat::Csv => {
            for layout in Layout::ALL {
                let names: Vec<&str> = layout.columns().into_iter().map(Column::name).collect();
                let plain = names.join(",");
                if line == format!("{plain},{HASH_COLUMN}") {
                    return FirstLine::Chained {
                        sign_out: Some(layout.sign_out),
                        channel: Some(layout.channel),
                    };
                }
                // Reports from before the chain had no channel column.
                if line == plain && !layout.channel {
                    return FirstLine::Unchained;
                }
            }
            FirstLine::Foreign
        }
        ReportFormat::Jsonl => {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                return FirstLine::Foreign;
            };
            if !COLUMNS.iter().all(|c| value.get(c.name()).is_some()) {
                FirstLine::Foreign
            } else if value.get(HASH_COLUMN).is_some() {
                FirstLine::Chained {
                    sign_out: None,
                    channel: None,
                }
            } else {
                FirstLine::Unchained
            }
        }
    }
}

/// Why a line of a report cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// The line is not a record as the tool writes it.
    Unreadable,
    /// Its hash does not follow from the line before it: a record was
    /// changed, added, removed or moved here.
    Chain,
}

/// Reads a report's records one line at a time, checking the chain.
pub struct Reader {
    format: ReportFormat,
    columns: Vec<Column>,
    chain: Chain,
    record: Record,
    csv: csv_core::Reader,
    field: Vec<u8>,
    ends: Vec<usize>,
}

impl Reader {
    /// A reader for a report that began with `header` (the CSV header line
    /// with its ending; empty for JSONL), whose CSV columns are those of
    /// `layout` (a `bool`: a real run's, with or without the sign-out
    /// columns).
    pub fn new(format: ReportFormat, header: &[u8], layout: impl Into<Layout>) -> Reader {
        Reader {
            format,
            columns: layout.into().columns(),
            chain: Chain::start(header),
            record: Record::local(0, "", "", Outcome::Failed, "", ""),
            csv: csv_core::Reader::new(),
            field: vec![0; 1024],
            ends: vec![0; 32],
        }
    }

    /// The record on the next line (`line` without its line ending), or
    /// what is wrong with it. The record is reused from line to line.
    pub fn next(&mut self, line: &[u8]) -> Result<&Record, Broken> {
        let (bytes, hash) = split_hash(line, self.format).ok_or(Broken::Unreadable)?;
        if self.chain.link(&bytes).as_bytes() != hash {
            return Err(Broken::Chain);
        }
        let read = match self.format {
            ReportFormat::Csv => self.read_csv(&bytes),
            ReportFormat::Jsonl => self.read_json(&bytes),
        };
        if read {
            Ok(&self.record)
        } else {
            Err(Broken::Unreadable)
        }
    }

    /// Where the chain stands after the lines read.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Fills the record from one CSV line's cells.
    fn read_csv(&mut self, line: &[u8]) -> bool {
        use csv_core::ReadRecordResult::{InputEmpty, Record};

        self.csv.reset();
        // Cells are never longer than the line; a line with more cells than
        // the report's columns is not one of its records.
        if self.field.len() < line.len() {
            self.field.resize(line.len(), 0);
        }
        self.ends.resize(self.columns.len() + 1, 0);
        let (mut input, mut out, mut ends) = (line, 0, 0);
        loop {
            // Empty input tells the reader the line, and the record, ended.
            let at_end = input.is_empty();
            let (result, n_in, n_out, n_ends) =
                self.csv
                    .read_record(input, &mut self.field[out..], &mut self.ends[ends..]);
            input = &input[n_in..];
            out += n_out;
            ends += n_ends;
            match result {
                Record => return input.is_empty() && self.set_cells(ends),
                InputEmpty if !at_end => {}
                _ => return false,
            }
        }
    }

    fn set_cells(&mut self, n: usize) -> bool {
        if n != self.columns.len() {
            return false;
        }
        let mut start = 0;
        for (i, column) in self.columns.iter().enumerate() {
            let end = self.ends[i];
            let Ok(text) = std::str::from_utf8(&self.field[start..end]) else {
                return false;
            };
            if !column.set(&mut self.record, text) {
                return false;
            }
            start = end;
        }
        true
    }

    /// Fills the record from one JSON object.
    fn read_json(&mut self, bytes: &[u8]) -> bool {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return false;
        };
        let Some(object) = value.as_object() else {
            return false;
        };
        // Every optional key is read, absent or not: the record is reused,
        // and an absent key must not keep the value of the line before.
        let optional = [Column::SignedOut, Column::SignOutError, Column::Channel];
        for column in COLUMNS.into_iter().chain(optional) {
            let text = match object.get(column.name()) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            if !column.set(&mut self.record, &text) {
                return false;
            }
        }
        true
    }
}

/// A line's bytes as hashed, and the hash it carries: CSV `cells,HASH`,
/// JSONL `{...,"hash":"HASH"}` (hashed as the object without that key).
fn split_hash(line: &[u8], format: ReportFormat) -> Option<(Vec<u8>, &[u8])> {
    match format {
        ReportFormat::Csv => {
            let cut = line.len().checked_sub(HASH_LEN + 1)?;
            let (bytes, hash) = (&line[..cut], &line[cut + 1..]);
            (line[cut] == b',' && is_hash(hash)).then(|| (bytes.to_vec(), hash))
        }
        ReportFormat::Jsonl => {
            let suffix = format!(",\"{HASH_COLUMN}\":\"").into_bytes();
            let tail = suffix.len() + HASH_LEN + 2;
            let cut = line.len().checked_sub(tail)?;
            let hash = &line[cut + suffix.len()..line.len() - 2];
            let ok = line[cut..].starts_with(&suffix) && line.ends_with(b"\"}") && is_hash(hash);
            ok.then(|| {
                let mut bytes = line[..cut].to_vec();
                bytes.push(b'}');
                (bytes, hash)
            })
        }
    }
}

/// Why a report file cannot be read as this tool's report.
#[derive(Debug)]
pub enum Fault {
    /// The file could not be read.
    Io(std::io::Error),
    /// Its first line is not a report header of this tool's.
    Foreign,
    /// A report of this tool's from before reports were hash-chained.
    Unchained,
    /// The first line that cannot be trusted (1 = the file's first line).
    Broken {
        /// The line.
        line: u64,
        /// What is wrong with it.
        why: Broken,
    },
}

/// What reading a whole report found.
#[derive(Debug, Clone)]
pub struct Whole {
    /// Where the chain stands after the last complete record.
    pub chain: Chain,
    /// Whether it has the sign-out columns (`None`: it does not tell).
    pub sign_out: Option<bool>,
    /// Whether it has the channel column (`None`: it does not tell).
    pub channel: Option<bool>,
    /// Bytes up to the end of the last complete line: after a crash, a
    /// torn last line follows.
    pub complete: u64,
    /// The file is longer than that.
    pub torn: bool,
}

/// Reads a whole report from its start, checking every line; calls `each`
/// with every record in order, and the chain as it stands after it. Only
/// complete lines are read.
pub fn read_whole(
    file: &mut File,
    format: ReportFormat,
    mut each: impl FnMut(&Record, &Chain),
) -> Result<Whole, Fault> {
    use std::io::BufRead;
    let complete = complete_len(file).map_err(Fault::Io)?;
    let torn = complete < file.metadata().map_err(Fault::Io)?.len();
    file.seek(SeekFrom::Start(0)).map_err(Fault::Io)?;
    let mut lines = std::io::BufReader::with_capacity(256 * 1024, &mut *file).take(complete);
    let mut line = Vec::new();
    lines.read_until(b'\n', &mut line).map_err(Fault::Io)?;
    let (header, mut number) = match format {
        ReportFormat::Csv => (line.clone(), 1),
        ReportFormat::Jsonl => (Vec::new(), 0),
    };
    let (sign_out, channel) = match judge_header(&line, format) {
        FirstLine::Chained { sign_out, channel } => (sign_out, channel),
        FirstLine::Unchained => return Err(Fault::Unchained),
        FirstLine::Foreign => return Err(Fault::Foreign),
    };
    let layout = Layout::new(sign_out.unwrap_or(true), channel.unwrap_or(false));
    let mut reader = Reader::new(format, &header, layout);
    if format == ReportFormat::Csv {
        line.clear();
        lines.read_until(b'\n', &mut line).map_err(Fault::Io)?;
    }
    while !line.is_empty() {
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Err(why) = reader.next(text).map(|_| ()) {
            return Err(Fault::Broken { line: number, why });
        }
        each(&reader.record, &reader.chain);
        line.clear();
        lines.read_until(b'\n', &mut line).map_err(Fault::Io)?;
    }
    Ok(Whole {
        chain: reader.chain().clone(),
        sign_out,
        channel,
        complete,
        torn,
    })
}

/// Length of a file up to and including its last line break.
pub fn complete_len(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut pos = len;
    let mut buf = [0u8; 8192];
    while pos > 0 {
        let start = pos.saturating_sub(buf.len() as u64);
        let n = (pos - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ReportWriter, header_bytes};

    fn written(path: &std::path::Path, records: &[Record]) -> Vec<u8> {
        let header = header_bytes(path, true);
        let file = crate::files::create_with(path, &header).unwrap();
        let mut w = ReportWriter::new(file, path, true, Chain::start(&header)).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.sync().unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_report_reads_back_as_written_in_both_formats() {
        let dir = std::env::temp_dir().join(format!("cr-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Record::local(3, "a,\"b", "eu-west-1_P", Outcome::Failed, "X", "m\nn");
        r.signed_out = Some(false);
        r.sign_out_error = Some("InternalErrorException".into());
        for name in ["r.csv", "r.jsonl"] {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            let bytes = written(&path, &[r.clone(), r.clone()]);
            let format = ReportFormat::from_path(&path);
            let header = header_bytes(&path, true);
            let mut reader = Reader::new(format, &header, true);
            let mut lines = bytes[header.len()..].split(|b| *b == b'\n');
            for _ in 0..2 {
                let got = reader.next(lines.next().unwrap()).unwrap().clone();
                assert_eq!(got.username, r.username, "{name}");
                // CSV keeps the escape it wrote; JSON reads its own back.
                let message = if format == ReportFormat::Csv {
                    "m\\nn"
                } else {
                    "m\nn"
                };
                assert_eq!(got.error_message, message, "{name}");
                assert_eq!(got.sign_out_error, r.sign_out_error, "{name}");
                assert_eq!(got.signed_out, Some(false), "{name}");
            }
            assert_eq!(reader.chain().records(), 2);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Regression: a JSONL row without `signed_out` (a skipped row) read
    /// after one with `signed_out: false` kept that value, so a resume took
    /// the skipped user for one still owing a sign-out.
    #[test]
    fn a_jsonl_row_without_signed_out_does_not_inherit_the_row_before_it() {
        let dir = std::env::temp_dir().join(format!("cr-read-inherit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut owed = Record::local(1, "bob", "eu-west-1_P", Outcome::Reset, "", "");
        owed.signed_out = Some(false);
        let skipped = Record::local(2, "carol", "eu-west-1_P", Outcome::Skipped, "", "");
        let bytes = written(&path, &[owed, skipped]);
        let mut reader = Reader::new(ReportFormat::Jsonl, b"", true);
        let mut lines = bytes.split(|b| *b == b'\n');
        reader.next(lines.next().unwrap()).unwrap();
        let carol = reader.next(lines.next().unwrap()).unwrap();
        assert_eq!((carol.username.as_str(), carol.signed_out), ("carol", None));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn headers_tell_chained_from_older_and_foreign_reports() {
        let old = "line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at\n";
        assert_eq!(
            judge_header(old.as_bytes(), ReportFormat::Csv),
            FirstLine::Unchained
        );
        let new = header_bytes(std::path::Path::new("r.csv"), false);
        assert_eq!(
            judge_header(&new, ReportFormat::Csv),
            FirstLine::Chained {
                sign_out: Some(false),
                channel: Some(false)
            }
        );
        let dry = header_bytes(std::path::Path::new("r.csv"), Layout::new(true, true));
        assert_eq!(
            judge_header(&dry, ReportFormat::Csv),
            FirstLine::Chained {
                sign_out: Some(true),
                channel: Some(true)
            }
        );
        assert_eq!(
            judge_header(b"username\n", ReportFormat::Csv),
            FirstLine::Foreign
        );
    }
}
