//! The three readers: CSV, JSONL and one username per line.
//!
//! Every record of the input becomes exactly one [`Item`]; a reader never
//! panics on bad input.

use std::io::BufRead;

use crate::exit::StartError;

use super::{Format, Item, RawRow, ReadOptions, malformed, validate};

const BOM: &str = "\u{feff}";

/// Where each column of a CSV header goes.
struct CsvColumns {
    username: usize,
    pool: Option<usize>,
    metadata: Vec<(usize, String)>,
}

enum Source<R: BufRead> {
    Csv {
        reader: csv::Reader<R>,
        columns: Option<CsvColumns>,
        record: csv::ByteRecord,
    },
    Lines {
        reader: R,
        json: bool,
        line: u64,
        buf: Vec<u8>,
    },
}

/// Streams [`Item`]s out of any reader; never panics on bad input.
pub struct ItemReader<R: BufRead> {
    source: Source<R>,
    default_pool: Option<String>,
    done: bool,
}

impl<R: BufRead> ItemReader<R> {
    /// Starts reading; for CSV this reads and checks the header. `name` is used
    /// in error messages.
    pub fn new(reader: R, options: &ReadOptions, name: &str) -> Result<Self, StartError> {
        let source = match options.format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(reader);
                let header = reader
                    .byte_headers()
                    .map_err(|e| StartError::Usage(format!("{name}: cannot read CSV header: {e}")))?
                    .clone();
                let columns = if header.is_empty() {
                    None // empty input: no rows
                } else {
                    Some(csv_columns(&header, &options.username_column, name)?)
                };
                Source::Csv {
                    reader,
                    columns,
                    record: csv::ByteRecord::new(),
                }
            }
            Format::Jsonl | Format::Lines => Source::Lines {
                reader,
                json: options.format == Format::Jsonl,
                line: 0,
                buf: Vec::new(),
            },
        };
        Ok(ItemReader {
            source,
            default_pool: options.default_pool.clone(),
            done: false,
        })
    }
}

fn csv_columns(
    header: &csv::ByteRecord,
    username_column: &str,
    name: &str,
) -> Result<CsvColumns, StartError> {
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let text = String::from_utf8_lossy(field);
            let text = if i == 0 {
                text.trim_start_matches(BOM)
            } else {
                &text
            };
            text.trim().to_owned()
        })
        .collect();
    let find = |wanted: &str| names.iter().position(|n| n.eq_ignore_ascii_case(wanted));
    let username = find(username_column).ok_or_else(|| {
        StartError::Usage(format!(
            "{name}: the CSV header has no column {username_column:?} (columns: {}); \
             name the username column with --username-column",
            names.join(", ")
        ))
    })?;
    let metadata = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let is_meta = n.get(..5)?.eq_ignore_ascii_case("meta.") && n.len() > 5;
            is_meta.then(|| (i, n[5..].to_owned()))
        })
        .collect();
    Ok(CsvColumns {
        username,
        pool: find("user_pool_id"),
        metadata,
    })
}

fn csv_item(record: &csv::ByteRecord, columns: &CsvColumns, default_pool: Option<&str>) -> Item {
    let line = record.position().map_or(0, |p| p.line());
    let field = |i: usize| -> Result<String, Item> {
        let bytes = record.get(i).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(|s| s.trim().to_owned())
            .map_err(|_| malformed(line, format!("column {} is not valid UTF-8", i + 1)))
    };
    let parse = || -> Result<RawRow, Item> {
        if record.len() <= columns.username {
            return Err(malformed(
                line,
                format!(
                    "row has {} fields; the username is in column {}",
                    record.len(),
                    columns.username + 1
                ),
            ));
        }
        let username = field(columns.username)?;
        if username.contains(['\n', '\r']) {
            return Err(malformed(
                line,
                "username field spans several lines (an unbalanced quote?)",
            ));
        }
        let pool = columns.pool.map(field).transpose()?;
        let mut metadata = Vec::new();
        for (i, key) in &columns.metadata {
            let value = field(*i)?;
            if !value.is_empty() {
                metadata.push((key.clone(), value));
            }
        }
        Ok(RawRow {
            line,
            username,
            pool,
            metadata,
        })
    };
    match parse() {
        Ok(raw) => validate(raw, default_pool),
        Err(item) => item,
    }
}

fn json_item(line: u64, text: &str, default_pool: Option<&str>) -> Item {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return malformed(line, format!("not valid JSON: {e}")),
    };
    let serde_json::Value::Object(object) = value else {
        return malformed(line, "not a JSON object");
    };
    let username = match object.get("username") {
        Some(serde_json::Value::String(s)) => s.trim().to_owned(),
        Some(_) => return malformed(line, "\"username\" is not a string"),
        None => return malformed(line, "no \"username\" key"),
    };
    let pool = match object.get("user_pool_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => return malformed(line, "\"user_pool_id\" is not a string"),
    };
    let mut metadata = Vec::new();
    match object.get("client_metadata") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let serde_json::Value::String(value) = value else {
                    return malformed(
                        line,
                        format!("client_metadata value for {key:?} is not a string"),
                    );
                };
                metadata.push((key.clone(), value.clone()));
            }
        }
        Some(_) => return malformed(line, "\"client_metadata\" is not an object"),
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

impl<R: BufRead> Iterator for ItemReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        let default_pool = self.default_pool.as_deref();
        match &mut self.source {
            Source::Csv {
                reader,
                columns,
                record,
            } => {
                let columns = columns.as_ref()?;
                loop {
                    match reader.read_byte_record(record) {
                        Ok(false) => {
                            self.done = true;
                            return None;
                        }
                        Ok(true) => {
                            // A line holding nothing at all is not a row.
                            if record.len() == 1 && record[0].is_empty() {
                                continue;
                            }
                            return Some(csv_item(record, columns, default_pool));
                        }
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                                // The stream itself failed: nothing more can be read.
                                self.done = true;
                            }
                            return Some(malformed(line, format!("cannot parse CSV: {e}")));
                        }
                    }
                }
            }
            Source::Lines {
                reader,
                json,
                line,
                buf,
            } => loop {
                buf.clear();
                match reader.read_until(b'\n', buf) {
                    Ok(0) => {
                        self.done = true;
                        return None;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.done = true;
                        return Some(malformed(*line + 1, format!("cannot read input: {e}")));
                    }
                }
                *line += 1;
                let Ok(text) = std::str::from_utf8(buf) else {
                    return Some(malformed(*line, "line is not valid UTF-8"));
                };
                let text = if *line == 1 {
                    text.trim_start_matches(BOM)
                } else {
                    text
                };
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                if *json {
                    return Some(json_item(*line, text, default_pool));
                }
                return Some(validate(
                    RawRow {
                        line: *line,
                        username: text.to_owned(),
                        pool: None,
                        metadata: Vec::new(),
                    },
                    default_pool,
                ));
            },
        }
    }
}
