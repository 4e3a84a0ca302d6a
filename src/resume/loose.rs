//! A report's rows read without trusting them: what `--overwrite` is about
//! to discard, counted from whatever the file holds (a report from before
//! the hash chain, an edited one), never used to decide who is skipped.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};

use crate::report::{Outcome, ReportFormat};

/// What the rows say.
#[derive(Debug, Default)]
pub struct Rows {
    /// Distinct users with a `reset` or `disabled` row.
    pub done: usize,
    /// Whether the rows are a dry run's (`Some(true)`: predictions or a
    /// channel column) or a real run's (`Some(false)`: resets), if they tell.
    pub dry_run: Option<bool>,
}

impl Rows {
    /// Reads every row it can of a report of this format.
    pub fn read(file: File, format: ReportFormat) -> std::io::Result<Rows> {
        let mut rows = Rows::default();
        let mut done = HashSet::new();
        let mut see = |pool: &str, user: &str, outcome: Option<Outcome>| match outcome {
            Some(Outcome::Reset | Outcome::Disabled) => {
                done.insert((pool.to_owned(), user.to_owned()));
                rows.dry_run.get_or_insert(false);
            }
            Some(o) if o.is_dry_run() => {
                rows.dry_run = Some(true);
            }
            _ => {}
        };
        let channel = match format {
            ReportFormat::Csv => read_csv(file, &mut see)?,
            ReportFormat::Jsonl => read_jsonl(file, &mut see).map(|_| false)?,
        };
        // Only a dry run's report has the channel column.
        if channel {
            rows.dry_run = Some(true);
        }
        rows.done = done.len();
        Ok(rows)
    }
}

/// Reads the rows; returns whether the header has the channel column.
fn read_csv(
    file: File,
    see: &mut impl FnMut(&str, &str, Option<Outcome>),
) -> std::io::Result<bool> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(file));
    let header = reader.headers().map_err(std::io::Error::other)?.clone();
    let at = |name: &str| header.iter().position(|h| h == name);
    let channel = at("channel").is_some();
    let (Some(user), Some(pool), Some(outcome)) =
        (at("username"), at("user_pool_id"), at("outcome"))
    else {
        return Ok(channel);
    };
    for record in reader.records().flatten() {
        let cell = |i: usize| record.get(i).unwrap_or("");
        see(cell(pool), cell(user), Outcome::parse(cell(outcome)));
    }
    Ok(channel)
}

fn read_jsonl(
    file: File,
    see: &mut impl FnMut(&str, &str, Option<Outcome>),
) -> std::io::Result<()> {
    for line in BufReader::new(file).split(b'\n') {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line?) else {
            continue;
        };
        let text = |k: &str| {
            value
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        see(
            &text("user_pool_id"),
            &text("username"),
            Outcome::parse(&text("outcome")),
        );
    }
    Ok(())
}
