//! The intent journal, `<report>.journal`: which rows may have had a reset
//! call sent, and which runs wrote the report.
//!
//! The report records outcomes; the journal closes the gap between sending a
//! call and recording its outcome. Before a row's first reset call its intent
//! is appended here and is on stable storage. Rows whose first call is a
//! reset are journaled by the dispatcher in batches, one write and one sync
//! each ([`Journal::intend_resets`]), so that rows do not wait one by one; a
//! row that comes to a reset or a disable later appends its own and waits
//! (group commit: one `fdatasync` covers the intents of many rows; a row
//! waits at most a millisecond for the others of its batch).
//! After `kill -9` or power loss, `--resume` checks every journaled row
//! without a final outcome with `AdminGetUser` before calling again.
//!
//! The promise: an intent leaves the journal only when its row has a final
//! outcome in the report. The journal is only ever appended to while runs
//! come and go; a run that ends (normally, aborted or stopped by a signal)
//! rewrites it — atomically — without the intents its own rows resolved,
//! keeping every other unresolved intent, earlier ones included. A run that
//! is killed never rewrites it, so everything stays.
//!
//! The first line says what the report belongs to (the input's fingerprint
//! and the mode); then one line per run that wrote to the report (for the
//! audit record, and to name the process holding the report); then intents.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::files::{self, Open};

/// Intents waiting for the journal thread at most; a full queue slows workers
/// rather than growing memory.
const QUEUE: usize = 4096;
/// The journal's format version.
const VERSION: u32 = 2;

/// What a report belongs to: the journal's first line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// The format version.
    pub cognito_reset_journal: u32,
    /// The input's fingerprint: its SHA-256 (or stdin, or the listing) and pools.
    pub fingerprint: String,
    /// `reset` or `dry_run`.
    pub mode: String,
    /// Whether the report has the sign-out columns (`--global-sign-out`).
    #[serde(default)]
    pub sign_out: bool,
}

impl Header {
    /// The header for a run.
    pub fn new(fingerprint: &str, dry_run: bool, sign_out: bool) -> Header {
        Header {
            cognito_reset_journal: VERSION,
            fingerprint: fingerprint.to_owned(),
            mode: if dry_run { "dry_run" } else { "reset" }.to_owned(),
            sign_out,
        }
    }
}

/// One run that wrote to the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunLine {
    /// The run's id.
    pub run: String,
    /// Its process id.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started: String,
}

impl RunLine {
    /// A new run: a random (version 4) UUID, this process, now.
    pub fn now() -> RunLine {
        RunLine {
            run: uuid::Uuid::new_v4().hyphenated().to_string(),
            pid: std::process::id(),
            started: crate::clock::now_rfc3339(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Intent<'a> {
    pool: std::borrow::Cow<'a, str>,
    user: std::borrow::Cow<'a, str>,
    /// `disable` for an AdminDisableUser about to be sent; absent for a reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    op: Option<std::borrow::Cow<'a, str>>,
}

/// A journaled call: what is about to be sent for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intended {
    /// AdminResetUserPassword.
    Reset,
    /// AdminDisableUser.
    Disable,
}

/// Where the report's hash chain stood at a moment its records were on
/// stable storage: a report found shorter than that, or whose chain does
/// not pass through it, was cut or changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// The hash of the report's record number `records`.
    pub head: String,
    /// Records in the report then.
    pub records: u64,
    /// Written as a run ended: until another run starts, the report ends
    /// here, and a record after it was added by something else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

/// A row whose journaled calls have no final outcome yet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pending {
    /// The pool.
    pub pool: String,
    /// The username.
    pub user: String,
    /// A disable was journaled too.
    pub disable: bool,
}

/// The journal that belongs to a report.
pub fn path_for(report: &Path) -> PathBuf {
    files::sibling(report, ".journal")
}

/// What an existing journal holds.
#[derive(Debug, Default)]
pub struct Previous {
    /// What the report belongs to; `None` if the first line was unreadable.
    pub header: Option<Header>,
    /// The runs that wrote the report, oldest first.
    pub runs: Vec<RunLine>,
    /// Rows with intents, in order, each (pool, username) once.
    pub intents: Vec<Pending>,
    /// The last checkpoint of the report's chain.
    pub checkpoint: Option<Checkpoint>,
    /// That checkpoint was written as a run ended and no run started
    /// since: the report must end exactly there.
    pub closed: bool,
    /// The reports (`--skip-done`) whose done users the report skips, as
    /// the runs named them: every resume keeps skipping them.
    pub skip_done: Vec<String>,
    /// The users (pool, username; an empty pool: every pool) the runs
    /// excluded (`--exclude`): every resume keeps excluding them.
    pub exclude: Vec<(String, String)>,
}

/// What a report's runs decided for all of its runs, kept in its journal
/// from the moment a run starts, so that a run killed before it wrote a row
/// still binds every resume.
#[derive(Debug, Default, Clone)]
pub struct Sticky {
    /// The reports whose done users are skipped (`--skip-done`).
    pub skip_done: Vec<String>,
    /// The users never to touch (`--exclude`).
    pub exclude: Vec<(String, String)>,
}

/// The reports a report's runs skip the done users of.
#[derive(Serialize, Deserialize)]
struct SkipDone {
    skip_done: Vec<String>,
}

/// The users a report's runs exclude.
#[derive(Serialize, Deserialize)]
struct Exclude {
    exclude: Vec<(String, String)>,
}

/// Reads a journal, tolerating a torn last line. `Ok(None)` if there is none.
/// `keep` decides which intents are worth keeping (the rows not already
/// final), so that a journal of millions of resolved intents stays small.
pub fn read(
    path: &Path,
    mut keep: impl FnMut(&str, &str) -> bool,
) -> std::io::Result<Option<Previous>> {
    let file = match files::inspect(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut previous = Previous::default();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let reader = BufReader::new(file);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if i == 0 {
            previous.header = serde_json::from_slice::<Header>(&line).ok();
        } else if let Ok(run) = serde_json::from_slice::<RunLine>(&line) {
            previous.runs.push(run);
            previous.closed = false;
        } else if let Ok(checkpoint) = serde_json::from_slice::<Checkpoint>(&line) {
            previous.closed = checkpoint.end;
            previous.checkpoint = Some(checkpoint);
        } else if let Ok(skip) = serde_json::from_slice::<SkipDone>(&line) {
            for report in skip.skip_done {
                if !previous.skip_done.contains(&report) {
                    previous.skip_done.push(report);
                }
            }
        } else if let Ok(listed) = serde_json::from_slice::<Exclude>(&line) {
            for user in listed.exclude {
                if !previous.exclude.contains(&user) {
                    previous.exclude.push(user);
                }
            }
        } else if let Ok(intent) = serde_json::from_slice::<Intent>(&line)
            && keep(&intent.pool, &intent.user)
        {
            let disable = intent.op.as_deref() == Some("disable");
            let key = (intent.pool.into_owned(), intent.user.into_owned());
            match seen.get(&key) {
                Some(&at) => previous.intents[at].disable |= disable,
                None => {
                    seen.insert(key.clone(), previous.intents.len());
                    previous.intents.push(Pending {
                        pool: key.0,
                        user: key.1,
                        disable,
                    });
                }
            }
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

/// Owns the journal file; [`JournalFile::finish`] rewrites it when a run ends.
pub struct JournalFile {
    path: PathBuf,
    /// The header and run lines, kept by every rewrite.
    preamble: Vec<u8>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Opens the journal for a run: a new one for a fresh run, the existing one
/// (appended to) for a resume. Writes the header when the file is new and
/// this run's line, then starts the group-commit thread (real runs only:
/// a dry run sends no reset, so it records no intent).
pub fn open(
    path: &Path,
    how: Open,
    header: &Header,
    earlier_runs: &[RunLine],
    this_run: &RunLine,
    intents: bool,
    sticky: &Sticky,
) -> std::io::Result<(Option<Journal>, JournalFile)> {
    let mut preamble = serde_json::to_vec(header)?;
    preamble.push(b'\n');
    let mut added = sticky_lines(sticky)?;
    preamble.extend_from_slice(&added);
    for run in earlier_runs.iter().chain([this_run]) {
        serde_json::to_writer(&mut preamble, run)?;
        preamble.push(b'\n');
    }
    serde_json::to_writer(&mut added, this_run)?;
    added.push(b'\n');
    let file = match how {
        Open::CreateNew => files::create_with(path, &preamble)?,
        Open::Truncate => {
            files::replace(path, &preamble)?;
            files::open(path, Open::Existing)?
        }
        Open::Existing | Open::Create => append_run(path, &preamble, &added)?,
    };
    let journal_file = JournalFile {
        path: path.to_owned(),
        preamble,
        thread: None,
    };
    if !intents {
        return Ok((None, journal_file));
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || commit_loop(file, rx))?;
    Ok((
        Some(Journal { tx }),
        JournalFile {
            thread: Some(thread),
            ..journal_file
        },
    ))
}

/// The lines that bind every resume: the reports skipped, the users
/// excluded (none when there are none).
fn sticky_lines(sticky: &Sticky) -> std::io::Result<Vec<u8>> {
    let mut lines = Vec::new();
    if !sticky.skip_done.is_empty() {
        let skip = SkipDone {
            skip_done: sticky.skip_done.clone(),
        };
        serde_json::to_writer(&mut lines, &skip)?;
        lines.push(b'\n');
    }
    if !sticky.exclude.is_empty() {
        let listed = Exclude {
            exclude: sticky.exclude.clone(),
        };
        serde_json::to_writer(&mut lines, &listed)?;
        lines.push(b'\n');
    }
    Ok(lines)
}

/// Adds this run's lines (`added`: the reports it skips, the users it
/// excludes, its run line) to
/// an existing journal (the whole preamble when it is empty).
fn append_run(path: &Path, preamble: &[u8], added: &[u8]) -> std::io::Result<File> {
    let mut file = files::open(path, Open::Existing)?;
    let len = file.metadata()?.len();
    let line = if len == 0 {
        preamble.to_vec()
    } else {
        // After a crash mid-write the last line is torn: start a fresh one.
        let mut last = [0u8; 1];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut last, len - 1)?;
        let mut line = if last[0] == b'\n' {
            Vec::new()
        } else {
            vec![b'\n']
        };
        line.extend_from_slice(added);
        line
    };
    file.write_all(&line)?;
    file.sync_data()?;
    Ok(file)
}

/// Group commit: take one intent, then every other already waiting (after a
/// moment's wait when intents are coming fast, see [`BATCH_LINGER`]), write
/// them, sync once, acknowledge all.
fn commit_loop(mut file: File, mut rx: mpsc::Receiver<(Vec<u8>, Ack)>) {
    let mut batch: Vec<(Vec<u8>, Ack)> = Vec::new();
    let mut buf = Vec::new();
    let mut busy = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        if busy {
            std::thread::sleep(BATCH_LINGER);
        }
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        busy = batch.len() > 1;
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

/// When the last sync covered more than one intent, the next waits this
/// long for more before it starts. On a fast disk a sync takes less time
/// than the gap between two rows, so syncing whatever is waiting would cost
/// a sync per row; the moment's wait lets one sync cover many rows at full
/// speed. A paced run's lone intents do not wait.
const BATCH_LINGER: Duration = Duration::from_millis(1);

impl Journal {
    /// Records that a call changing this row's user is about to be sent;
    /// returns once that is on stable storage.
    pub async fn intend(&self, pool: &str, user: &str, what: Intended) -> std::io::Result<()> {
        let intent = Intent {
            pool: pool.into(),
            user: user.into(),
            op: (what == Intended::Disable).then_some("disable".into()),
        };
        let mut line = serde_json::to_vec(&intent)?;
        line.push(b'\n');
        let (ack, done) = oneshot::channel();
        let closed = || std::io::Error::other("journal writer stopped");
        self.tx.send((line, ack)).await.map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }
}

/// Intents handed to the journal thread in one write, not yet known to be
/// on stable storage.
pub struct Syncing {
    ack: Option<oneshot::Receiver<std::io::Result<()>>>,
    /// The outcome, once known.
    known: Option<std::io::Result<()>>,
}

fn writer_stopped() -> std::io::Error {
    std::io::Error::other("journal writer stopped")
}

impl Syncing {
    /// Whether the outcome is known without waiting, so that a caller can
    /// start the rows of a batch already synced while later batches sync.
    pub fn is_known(&mut self) -> bool {
        if self.known.is_none()
            && let Some(ack) = &mut self.ack
        {
            match ack.try_recv() {
                Ok(result) => self.known = Some(result),
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => {
                    self.known = Some(Err(writer_stopped()))
                }
            }
        }
        self.known.is_some()
    }

    /// Returns once the intents are on stable storage, or why they are not.
    pub async fn synced(self) -> std::io::Result<()> {
        if let Some(known) = self.known {
            return known;
        }
        let ack = self.ack.ok_or_else(writer_stopped)?;
        ack.await.map_err(|_| writer_stopped())?
    }
}

impl Journal {
    /// Records that a reset is about to be sent for each of these (pool,
    /// username) rows, in one write and one sync; returns as soon as the
    /// journal thread has them, so that the caller can go on while they sync.
    pub async fn intend_resets<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Syncing {
        let mut lines = Vec::new();
        for (pool, user) in rows {
            let intent = Intent {
                pool: pool.into(),
                user: user.into(),
                op: None,
            };
            if let Err(e) = serde_json::to_writer(&mut lines, &intent) {
                return Syncing {
                    ack: None,
                    known: Some(Err(e.into())),
                };
            }
            lines.push(b'\n');
        }
        let (ack, done) = oneshot::channel();
        let sent = self.tx.send((lines, ack)).await.is_ok();
        Syncing {
            known: (!sent).then(|| Err(writer_stopped())),
            ack: sent.then_some(done),
        }
    }

    /// Records where the report's chain stands, once those records are on
    /// stable storage. Not waited for: a checkpoint lost in a crash only
    /// leaves an earlier one.
    pub fn checkpoint(&self, checkpoint: &Checkpoint) {
        let Ok(mut line) = serde_json::to_vec(checkpoint) else {
            return;
        };
        line.push(b'\n');
        let (ack, _) = oneshot::channel();
        let _ = self.tx.try_send((line, ack));
    }
}

impl JournalFile {
    /// Waits for the writer thread (every [`Journal`] must be dropped first),
    /// then rewrites the journal as its header, its run lines, where the
    /// report's chain stands, and the intents in `keep`: every row without a
    /// final outcome in the report. Call it only once the report is synced.
    pub fn finish<'a>(
        mut self,
        checkpoint: &Checkpoint,
        keep: impl IntoIterator<Item = &'a Pending>,
    ) -> std::io::Result<()> {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let mut text = self.preamble.clone();
        let end = Checkpoint {
            end: true,
            ..checkpoint.clone()
        };
        serde_json::to_writer(&mut text, &end)?;
        text.push(b'\n');
        for pending in keep {
            let mut intent = Intent {
                pool: pending.pool.as_str().into(),
                user: pending.user.as_str().into(),
                op: None,
            };
            serde_json::to_writer(&mut text, &intent)?;
            text.push(b'\n');
            if pending.disable {
                intent.op = Some("disable".into());
                serde_json::to_writer(&mut text, &intent)?;
                text.push(b'\n');
            }
        }
        files::replace(&self.path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(records: u64) -> Checkpoint {
        Checkpoint {
            head: "ab".repeat(32),
            records,
            end: false,
        }
    }

    /// A journal opened for run `id`, with no sticky lists; the first run
    /// (no earlier runs) journals intents.
    fn plain(
        path: &Path,
        how: Open,
        header: &Header,
        earlier: &[RunLine],
        id: &str,
    ) -> (Option<Journal>, JournalFile) {
        let intents = earlier.is_empty();
        open(
            path,
            how,
            header,
            earlier,
            &run(id),
            intents,
            &Sticky::default(),
        )
        .unwrap()
    }

    fn run(id: &str) -> RunLine {
        RunLine {
            run: id.into(),
            pid: 7,
            started: "2026-11-24T00:00:00Z".into(),
        }
    }

    /// An empty directory of its own for one test.
    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cr-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn intents_survive_a_crash_and_a_finish_keeps_only_what_is_unresolved() {
        let dir = scratch("c");
        let path = dir.join("r.csv.journal");
        let header = Header::new("fp1", false, false);
        let (journal, file) = plain(&path, Open::CreateNew, &header, &[], "a");
        let journal = journal.unwrap();
        for (user, what) in [
            ("alice", Intended::Reset),
            ("bob", Intended::Reset),
            ("bob", Intended::Disable),
        ] {
            journal.intend("eu-west-1_P", user, what).await.unwrap();
        }
        drop(journal);
        // A torn line, as after a crash mid-write.
        let mut appending = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        appending.write_all(b"\x7b\"pool\":\"eu-we").unwrap();
        let prev = read(&path, |_, _| true).unwrap().unwrap();
        assert_eq!(prev.header, Some(header.clone()));
        assert_eq!(prev.runs, vec![run("a")]);
        assert_eq!(prev.intents.len(), 2);
        let bob = Pending {
            pool: "eu-west-1_P".into(),
            user: "bob".into(),
            disable: true,
        };
        let only_bob = read(&path, |_, u| u == "bob").unwrap().unwrap();
        let both_as_one = vec![bob.clone()];
        assert_eq!(
            only_bob.intents, both_as_one,
            "both of bob's intents, as one"
        );
        file.finish(&cp(0), [&bob]).unwrap();
        let prev = read(&path, |_, _| true).unwrap().unwrap();
        assert_eq!(prev.runs, vec![run("a")]);
        assert_eq!(prev.intents, vec![bob]);
        // A resume appends its run line and keeps what was there.
        let (_, file) = plain(&path, Open::Existing, &header, &prev.runs, "b");
        let again = read(&path, |_, _| true).unwrap().unwrap();
        assert_eq!(again.runs, vec![run("a"), run("b")]);
        assert_eq!(again.intents.len(), 1);
        file.finish(&cp(2), []).unwrap();
        let last = read(&path, |_, _| true).unwrap().unwrap();
        assert_eq!((last.runs.len(), last.intents.len()), (2, 0));
        let end = Checkpoint { end: true, ..cp(2) };
        assert_eq!(last.checkpoint, Some(end));
        assert!(last.closed, "the run's end closes the chain");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_journal_reads_as_none_and_an_empty_one_has_no_header() {
        let dir = scratch("e");
        assert!(read(&dir.join("nope"), |_, _| true).unwrap().is_none());
        std::fs::write(dir.join("empty"), b"").unwrap();
        let prev = read(&dir.join("empty"), |_, _| true).unwrap().unwrap();
        assert!(prev.header.is_none() && prev.intents.is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
