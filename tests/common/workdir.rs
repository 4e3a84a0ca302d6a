//! A test's scratch directory and the files the binary leaves in it, read
//! back as the tests judge them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A report row: column name to value.
pub type ReportRow = HashMap<String, String>;

/// A scratch directory, removed when dropped.
pub struct Workdir {
    pub dir: PathBuf,
}

impl Workdir {
    pub fn new(name: &str) -> Workdir {
        let dir = std::env::temp_dir()
            .join("cognito-reset-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Workdir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// A CSV report read back as one map per row.
    pub fn report(&self, name: &str) -> Vec<ReportRow> {
        csv_rows(&self.read(name))
    }

    /// The latest report row per username.
    pub fn latest(&self, report: &str) -> HashMap<String, ReportRow> {
        by_user(self.report(report))
    }

    /// A JSON file (a summary) read back.
    pub fn json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(name)).unwrap()
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The text of a CSV report as one map per row.
pub fn csv_rows(text: &str) -> Vec<ReportRow> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// The last of `rows` for each username.
pub fn by_user(rows: Vec<ReportRow>) -> HashMap<String, ReportRow> {
    rows.into_iter()
        .map(|r| (r["username"].clone(), r))
        .collect()
}

/// How many of `rows` have `outcome`.
pub fn count(rows: &[ReportRow], outcome: &str) -> usize {
    rows.iter().filter(|r| r["outcome"] == outcome).count()
}

/// The first of `rows` for `username`.
pub fn row<'a>(rows: &'a [ReportRow], username: &str) -> &'a ReportRow {
    rows.iter()
        .find(|r| r["username"] == username)
        .unwrap_or_else(|| panic!("no row for {username}"))
}

/// Whether `path` is a regular file (not a FIFO, a directory or a link).
pub fn is_regular(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Waits (at most 30 s) until the report `report` in `dir` holds at least
/// `rows` rows, so that a signal sent next finds the run past its
/// preflight, whatever the machine's load.
pub async fn wait_for_rows_in(dir: &Path, report: &str, rows: usize) {
    for _ in 0..1500 {
        let text = std::fs::read_to_string(dir.join(report)).unwrap_or_default();
        if text.lines().count() > rows {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{report} never reached {rows} rows");
}
