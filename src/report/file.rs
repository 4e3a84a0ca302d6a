//! Appending records to the report file. Writes are buffered; the writer
//! task calls [`ReportWriter::flush`] by time and by count, so an outcome
//! reaches the file within a fraction of a second without a system call
//! per row.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{Column, Record, ReportFormat, Value, csv_header, layout};

/// What a new report starts with: the CSV header line (a JSONL report has
/// none).
pub fn header_bytes(path: &Path, sign_out: bool) -> Vec<u8> {
    match ReportFormat::from_path(path) {
        ReportFormat::Csv => {
            let mut line = csv_header(sign_out).join(",").into_bytes();
            line.push(b'\n');
            line
        }
        ReportFormat::Jsonl => Vec::new(),
    }
}

/// The report file, opened for appending.
pub struct ReportWriter {
    columns: Vec<Column>,
    csv: Option<csv::Writer<File>>,
    jsonl: Option<BufWriter<File>>,
    path: String,
}

impl ReportWriter {
    /// Writes to `file`: opened, locked, positioned at its end, its header
    /// already there.
    pub fn new(file: File, path: &Path, sign_out: bool) -> std::io::Result<ReportWriter> {
        let mut writer = ReportWriter {
            columns: layout(sign_out),
            csv: None,
            jsonl: None,
            path: crate::progress::escape(&path.display().to_string()),
        };
        match ReportFormat::from_path(path) {
            ReportFormat::Csv => {
                let csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .buffer_capacity(64 * 1024)
                    .from_writer(file);
                writer.csv = Some(csv);
            }
            ReportFormat::Jsonl => writer.jsonl = Some(BufWriter::with_capacity(64 * 1024, file)),
        }
        Ok(writer)
    }

    /// Writes one record into the buffer.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        if let Some(csv) = &mut self.csv {
            let values: Vec<Value> = self.columns.iter().map(|c| c.get(record)).collect();
            csv.write_record(values.iter().map(|v| v.text().into_owned()))?;
        } else if let Some(file) = &mut self.jsonl {
            write_json(file, &self.columns, record)?;
        }
        Ok(())
    }

    /// Hands everything written so far to the OS.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match (&mut self.csv, &mut self.jsonl) {
            (Some(csv), _) => csv.flush(),
            (_, Some(file)) => file.flush(),
            _ => Ok(()),
        }
    }

    /// Forces everything written so far to stable storage.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.flush()?;
        match (&self.csv, &self.jsonl) {
            (Some(csv), _) => csv.get_ref().sync_data(),
            (_, Some(file)) => file.get_ref().sync_data(),
            _ => Ok(()),
        }
    }

    /// The report's path, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// One JSON object per line, its keys in column order; an empty flag or
/// optional text is left out.
fn write_json(out: &mut impl Write, columns: &[Column], record: &Record) -> std::io::Result<()> {
    let mut first = true;
    out.write_all(b"{")?;
    for column in columns {
        let value = column.get(record);
        if matches!(value, Value::Flag(None) | Value::Optional(None)) {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        serde_json::to_writer(&mut *out, column.name())?;
        out.write_all(b":")?;
        match value {
            Value::Text(t) => serde_json::to_writer(&mut *out, &*t)?,
            Value::Number(n) => write!(out, "{n}")?,
            Value::Flag(Some(b)) => write!(out, "{b}")?,
            Value::Optional(Some(t)) => serde_json::to_writer(&mut *out, t)?,
            Value::Flag(None) | Value::Optional(None) => {}
        }
    }
    out.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

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
            let mut w = ReportWriter::new(file, &path, sign_out).unwrap();
            let mut r = record("alice", Outcome::Reset);
            r.signed_out = sign_out.then_some(true);
            w.write(&r).unwrap();
            w.sync().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            assert!(header.starts_with("line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at"));
            assert_eq!(header.ends_with(",signed_out,sign_out_error"), sign_out);
            assert_eq!(lines.next().unwrap().ends_with(",true,"), sign_out);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn jsonl_keys_follow_the_columns_and_leave_out_what_is_empty() {
        let mut r = record("a\"b", Outcome::Reset);
        r.completed_at = "t".into();
        r.signed_out = Some(true);
        let mut out = Vec::new();
        write_json(&mut out, &layout(true), &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"line\":1,\"username\":\"a\\\"b\",\"user_pool_id\":\"eu-west-1_P\",\"outcome\":\"reset\",\
             \"error_code\":\"\",\"error_message\":\"\",\"attempts\":0,\"duration_ms\":0,\
             \"request_id\":\"\",\"completed_at\":\"t\",\"signed_out\":true}\n"
        );
    }
}
