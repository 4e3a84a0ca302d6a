//! The intent journal: which rows may have had a reset call sent.
//!
//! The report records outcomes; the journal closes the gap between sending a
//! call and recording its outcome. Before a row's first reset call, the
//! worker appends `{"pool":…,"user":…}` here and waits until it is on stable
//! storage (group commit: one `fdatasync` covers every intent that arrived
//! meanwhile). After `kill -9` or power loss, `--resume` treats every journaled
//! row without a `reset` outcome as uncertain and checks it with
//! `AdminGetUser` before calling again.
//!
//! The first line holds the run's fingerprint (input digest and pools), so a
//! resume can tell that report and journal belong to the same input. When a
//! run ends normally every outcome is in the report, which is then synced,
//! and the journal is cut back to that first line.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::exit::StartError;
use crate::input::row_key;
use crate::report::{cut_torn_line, open_private};

/// Intents waiting for the journal thread at most; a full queue slows workers
/// rather than growing memory.
const QUEUE: usize = 4096;

/// The journal's first line.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    cognito_reset_journal: u32,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Intent<'a> {
    pool: &'a str,
    user: &'a str,
}

/// The journal that belongs to a report: `<report>.journal`.
pub fn path_for(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// What an existing journal holds.
#[derive(Debug, Default)]
pub struct Previous {
    /// The fingerprint of the run that wrote it, if its header was readable.
    pub fingerprint: Option<String>,
    /// Keys ([`row_key`]) of rows that may have had a reset call sent.
    pub intents: HashSet<u64>,
}

/// Reads a journal, tolerating a torn last line. `None` if there is none.
pub fn read(path: &Path) -> Result<Option<Previous>, StartError> {
    let display = path.display().to_string();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StartError::io(display, e)),
    };
    cut_torn_line(path).map_err(|e| StartError::io(&display, e))?;
    let mut previous = Previous::default();
    for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| StartError::io(&display, e))?;
        if i == 0 {
            previous.fingerprint = serde_json::from_slice::<Header>(&line)
                .ok()
                .map(|h| h.fingerprint);
        } else if let Ok(intent) = serde_json::from_slice::<Intent>(&line) {
            previous.intents.insert(row_key(intent.pool, intent.user));
        }
    }
    Ok(Some(previous))
}

type Ack = oneshot::Sender<std::io::Result<()>>;

/// Where workers record intents. Cloneable; the journal thread ends when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Journal {
    /// Sent by workers, received by the journal thread; closes when every
    /// worker and the dispatcher have dropped their clone.
    tx: mpsc::Sender<(Vec<u8>, Ack)>,
}

/// Owns the journal file; [`JournalFile::finish`] cuts it back after a clean run.
pub struct JournalFile {
    path: PathBuf,
    header: Vec<u8>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Opens (appending, for a resume) or starts the journal and its writer thread.
pub fn open(
    path: &Path,
    fingerprint: &str,
    append: bool,
) -> Result<(Journal, JournalFile), StartError> {
    let display = path.display().to_string();
    let mut header = serde_json::to_vec(&Header {
        cognito_reset_journal: 1,
        fingerprint: fingerprint.to_owned(),
    })
    .expect("header serializes");
    header.push(b'\n');
    let mut file = open_private(path, append).map_err(|e| StartError::io(&display, e))?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
    if empty {
        file.write_all(&header)
            .and_then(|_| file.sync_data())
            .map_err(|e| StartError::io(&display, e))?;
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || commit_loop(file, rx))
        .map_err(|e| StartError::io(&display, e))?;
    Ok((
        Journal { tx },
        JournalFile {
            path: path.to_owned(),
            header,
            thread: Some(thread),
        },
    ))
}

/// Group commit: take one intent, then every other already waiting, write
/// them, sync once, acknowledge all.
fn commit_loop(mut file: File, mut rx: mpsc::Receiver<(Vec<u8>, Ack)>) {
    let mut batch: Vec<(Vec<u8>, Ack)> = Vec::new();
    let mut buf = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        buf.clear();
        for (line, _) in &batch {
            buf.extend_from_slice(line);
        }
        let result = file.write_all(&buf).and_then(|_| file.sync_data());
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

impl Journal {
    /// Records that a reset call for this row is about to be sent; returns
    /// once that is on stable storage.
    pub async fn intend(&self, pool: &str, user: &str) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&Intent { pool, user }).expect("intent serializes");
        line.push(b'\n');
        let (ack, done) = oneshot::channel();
        let closed = || std::io::Error::other("journal writer stopped");
        self.tx.send((line, ack)).await.map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }
}

impl JournalFile {
    /// Waits for the writer thread (every [`Journal`] must be dropped first),
    /// then, if `clean` (every outcome is synced into the report), rewrites
    /// the journal as its header plus the rows in `keep`: those whose last
    /// call may have taken effect unseen, which a resume must still check.
    pub fn finish(mut self, clean: bool, keep: &[(String, String)]) -> std::io::Result<()> {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if clean {
            let mut text = self.header.clone();
            for (pool, user) in keep {
                serde_json::to_writer(&mut text, &Intent { pool, user })?;
                text.push(b'\n');
            }
            let mut file = open_private(&self.path, false)?;
            file.write_all(&text)?;
            file.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn intents_survive_and_a_clean_finish_keeps_only_the_header() {
        let dir = std::env::temp_dir().join(format!("cr-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv.journal");
        let (journal, file) = open(&path, "fp1", false).unwrap();
        journal.intend("eu-west-1_P", "alice").await.unwrap();
        journal.intend("eu-west-1_P", "bob").await.unwrap();
        drop(journal);
        // A torn line, as after a crash mid-write.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"pool\":\"eu-we")
            .unwrap();
        let prev = read(&path).unwrap().unwrap();
        assert_eq!(prev.fingerprint.as_deref(), Some("fp1"));
        assert_eq!(prev.intents.len(), 2);
        assert!(prev.intents.contains(&row_key("eu-west-1_P", "alice")));
        file.finish(true, &[("eu-west-1_P".into(), "bob".into())])
            .unwrap();
        let prev = read(&path).unwrap().unwrap();
        assert_eq!(prev.fingerprint.as_deref(), Some("fp1"));
        assert_eq!(prev.intents.len(), 1, "only the uncertain row is kept");
        assert!(prev.intents.contains(&row_key("eu-west-1_P", "bob")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_journal_reads_as_none_and_an_empty_one_as_unknown() {
        let dir = std::env::temp_dir().join(format!("cr-journal-e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read(&dir.join("nope")).unwrap().is_none());
        std::fs::write(dir.join("empty"), b"").unwrap();
        let prev = read(&dir.join("empty")).unwrap().unwrap();
        assert!(prev.fingerprint.is_none() && prev.intents.is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
