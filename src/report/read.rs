//! Reading a report back: its header, and its rows as [`Record`]s, in
//! either format. Used by `--resume` (what earlier runs did) and never
//! fails on content: a row that cannot be read is skipped, as a torn last
//! line is.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use super::{COLUMNS, Column, Outcome, Record, ReportFormat, csv_header, layout};

/// What a report's first line says: `None` if it is not this tool's;
/// otherwise whether it has the sign-out columns, when the line tells.
pub fn judge_header(first: &[u8], format: ReportFormat) -> Option<Option<bool>> {
    if first.is_empty() {
        return Some(None);
    }
    let line = String::from_utf8_lossy(first);
    let line = line.trim_end_matches(['\n', '\r']);
    match format {
        ReportFormat::Csv if line == csv_header(false).join(",") => Some(Some(false)),
        ReportFormat::Csv if line == csv_header(true).join(",") => Some(Some(true)),
        ReportFormat::Csv => None,
        ReportFormat::Jsonl => {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            COLUMNS
                .iter()
                .all(|c| value.get(c.name()).is_some())
                .then_some(None)
        }
    }
}

/// Reads report rows from `reader` (everything after the header, up to the
/// last complete line), calling `each` for every row that can be read, with
/// whether its outcome is a word the tool writes. The record passed is
/// reused from row to row.
pub fn scan<R: Read>(reader: R, format: ReportFormat, mut each: impl FnMut(&Record, bool)) {
    let columns = layout(true);
    let mut record = Record::local(0, "", "", Outcome::Failed, "", "");
    match format {
        ReportFormat::Csv => {
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(reader);
            for row in csv.records().flatten() {
                let mut known = true;
                for (i, column) in columns.iter().enumerate() {
                    let text = row.get(i).unwrap_or_default();
                    let ok = column.set(&mut record, text);
                    known &= ok || *column != Column::Outcome;
                }
                each(&record, known);
            }
        }
        ReportFormat::Jsonl => {
            for line in BufReader::new(reader).split(b'\n').map_while(Result::ok) {
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
                    continue;
                };
                let mut known = true;
                for column in &columns {
                    let text = match value.get(column.name()) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(serde_json::Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    };
                    let ok = column.set(&mut record, &text);
                    known &= ok || *column != Column::Outcome;
                }
                each(&record, known);
            }
        }
    }
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
