//! Where a run's rows come from, opened: a file surveyed before the plan, a
//! stream read once, or the pool itself. [`Input`] is the one place that
//! tells these apart; the phases of a run only call its methods.
//!
//! A file is opened once: the survey hashes it, and the run reads the same
//! open file again, each block checked against the survey's digests, so the
//! rows that run are the rows the plan counted and the operator confirmed.

use std::fs::File;
use std::io::{BufRead, Seek};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{
    Duplicates, FirstPage, Item, ItemReader, Lister, ReadOptions, StreamDigest, Survey, is_stream,
};
use crate::cognito::{Listing, UserPage};
use crate::exit::StartError;
use crate::progress::{escape, say};
use crate::shutdown::{Stop, StopReason};

/// Items per batch read from a file. A file never blocks, so the reader
/// hands rows over a batch at a time: one wake-up of the dispatcher per
/// batch, not per row. A stream (a pipe, a terminal) hands over each row as
/// it comes, for the next may be a long time coming.
pub const FILE_BATCH: usize = 256;

/// Where rows come from, as the flags name it.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file.
    File(String),
    /// Standard input.
    Stdin,
    /// Every user of a pool (ListUsers), optionally filtered.
    Pool {
        /// The pool.
        pool: String,
        /// ListUsers filter.
        filter: Option<String>,
    },
    /// Every user of a group (ListUsersInGroup).
    Group {
        /// The pool.
        pool: String,
        /// The group.
        group: String,
    },
}

impl Source {
    /// The format a file's extension implies; CSV for standard input and
    /// listings (which need none). `None`: the extension does not tell.
    pub fn format(&self) -> Option<super::Format> {
        match self {
            Source::File(path) => super::Format::from_path(path),
            _ => Some(super::Format::Csv),
        }
    }

    /// The stem of the default report's name: the input file's, or the
    /// pool's (and group's), or for standard input a name stamped `stamp`
    /// (which tells runs started together apart).
    pub fn report_stem(&self, stamp: &str) -> String {
        match self {
            Source::File(path) => std::path::Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "input".into()),
            Source::Stdin => format!("cognito-reset-{stamp}"),
            Source::Pool { pool, .. } => pool.clone(),
            Source::Group { pool, group } => {
                let group: String = group
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || "-_.".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{pool}-{group}")
            }
        }
    }

    /// What the audit record calls the source, and the path, pool or group
    /// it names — as far as the flags tell (a file may turn out a stream).
    pub fn named(&self) -> (&'static str, Option<String>) {
        match self {
            Source::File(p) => ("file", Some(p.clone())),
            Source::Stdin => ("stdin", None),
            Source::Pool { pool, .. } => ("pool", Some(pool.clone())),
            Source::Group { pool, group } => ("group", Some(format!("{pool}/{group}"))),
        }
    }
}

/// A stream's reader, its header and first row already read.
pub struct StreamReader {
    first: Option<Item>,
    rest: ItemReader<Box<dyn BufRead + Send + Sync>>,
}

impl Iterator for StreamReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.first.take().or_else(|| self.rest.next())
    }
}

/// The input, opened.
pub enum Input {
    /// A regular file, surveyed before the plan and read again to run.
    File {
        /// Its path.
        path: String,
        /// The file, open since its survey.
        file: File,
        /// What the survey found.
        survey: Survey,
        /// How to read it.
        options: ReadOptions,
    },
    /// Standard input, a FIFO or a pipe: read once.
    Stream {
        /// Its path (`None`: standard input).
        path: Option<String>,
        /// Its rows.
        reader: StreamReader,
        /// The SHA-256 of its bytes, as they are read.
        digest: StreamDigest,
    },
    /// The pool itself, before its first page.
    Listing {
        /// The pool.
        pool: String,
        /// Which users.
        listing: Listing,
    },
    /// The pool itself, its first page fetched before the plan.
    Listed {
        /// Fetches the pages.
        lister: Lister,
        /// The first page.
        first: UserPage,
    },
}

/// What the audit record says of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// `file`, `stream`, `stdin`, `pool` or `group`.
    pub source: &'static str,
    /// The file, pool or group.
    pub path: Option<String>,
    /// SHA-256 of a file's bytes, surveyed before the run.
    pub sha256: Option<String>,
    /// A stream's digest, computed as it is read.
    pub stream: Option<StreamDigest>,
    /// Records in a file.
    pub rows: Option<u64>,
}

impl Description {
    /// The SHA-256 of the input's bytes as far as it is known now: a
    /// file's, or a stream's once it has been read to its end.
    pub fn digest(&self) -> Option<String> {
        self.sha256
            .clone()
            .or_else(|| self.stream.as_ref().and_then(StreamDigest::sha256))
    }
}

/// The message for an input that holds no record at all (not even a CSV
/// header): a failed export must not look like a run that reset everyone.
/// A CSV with its header and no row is a list that holds nobody: nothing to
/// do, as a listing that matches nobody.
fn no_rows(name: &str) -> StartError {
    StartError::Usage(format!(
        "{} holds no rows, not even a CSV header line: most likely a failed export; cannot \
         start",
        escape(name)
    ))
}

impl Input {
    /// Opens what `source` names: surveys a file, reads a stream's header
    /// and first row. Blocks (a FIFO may have no writer yet): run it where
    /// a signal can still end the wait.
    pub fn open(
        source: &Source,
        options: &ReadOptions,
        exclusions: &super::Exclusions,
    ) -> Result<Input, StartError> {
        match source {
            Source::File(path) if !is_stream(path) => {
                let file = File::open(path).map_err(|e| StartError::io(escape(path), e))?;
                let survey = super::survey_open(&file, path, options, exclusions)?;
                if survey.rows == 0 && !survey.header {
                    return Err(no_rows(path));
                }
                Ok(Input::File {
                    path: path.clone(),
                    file,
                    survey,
                    options: options.clone(),
                })
            }
            Source::File(path) if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) => {
                Err(StartError::Usage(format!(
                    "{} is a directory, not an input file",
                    escape(path)
                )))
            }
            Source::File(path) => {
                let file = File::open(path).map_err(|e| StartError::io(escape(path), e))?;
                let digest = StreamDigest::default();
                let read = std::io::BufReader::with_capacity(64 * 1024, digest.reading(file));
                let reader = open_stream(Box::new(read), options, path)?;
                Ok(Input::Stream {
                    path: Some(path.clone()),
                    reader,
                    digest,
                })
            }
            Source::Stdin => {
                let digest = StreamDigest::default();
                let stdin = digest.reading(std::io::stdin());
                let read = std::io::BufReader::with_capacity(64 * 1024, stdin);
                let reader = open_stream(Box::new(read), options, "standard input")?;
                Ok(Input::Stream {
                    path: None,
                    reader,
                    digest,
                })
            }
            Source::Pool { pool, filter } => Ok(Input::Listing {
                pool: pool.clone(),
                listing: Listing::Pool {
                    filter: filter.clone(),
                },
            }),
            Source::Group { pool, group } => Ok(Input::Listing {
                pool: pool.clone(),
                listing: Listing::Group(group.clone()),
            }),
        }
    }

    /// Whether a file is still the one surveyed: the same file under its
    /// path, of the same size, not modified since. Called after the
    /// confirmation, before anything is sent: a list replaced or edited
    /// while the plan was read is not the list the operator confirmed.
    pub fn unchanged(&self) -> Result<(), StartError> {
        let Input::File {
            path, file, survey, ..
        } = self
        else {
            return Ok(());
        };
        let now = file.metadata().map(|m| super::survey::Identity::of(&m));
        let named = std::fs::metadata(path).map(|m| super::survey::Identity::of(&m));
        let planned = survey.identity.as_ref();
        let same = match (now, named, planned) {
            (Ok(now), Ok(named), Some(planned)) => planned.same(&now) && planned.same(&named),
            _ => false,
        };
        if same {
            return Ok(());
        }
        Err(StartError::Refused(format!(
            "{} was replaced or changed since it was read for the plan: the plan and the \
             confirmation were for its earlier content; nothing was sent: run again to see \
             the plan of the list as it is now",
            escape(path)
        )))
    }

    /// Fetches a listing's first page (before the plan: Cognito refusing the
    /// listing stops the run there); any other input is returned as it is.
    /// `lister` makes the lister for a pool and a listing.
    pub async fn first_page(
        self,
        lister: impl FnOnce(String, Listing) -> Lister,
    ) -> Result<Input, StartError> {
        let Input::Listing { pool, listing } = self else {
            return Ok(self);
        };
        let lister = lister(pool.clone(), listing);
        match lister.first_page().await {
            FirstPage::Page(first) => Ok(Input::Listed { lister, first }),
            FirstPage::Refused(e) => Err(StartError::Aws(format!(
                "Cognito refused to list the users of {pool}: {}: {}; nothing was sent",
                e.code,
                escape(&e.message)
            ))),
            FirstPage::Stopped => Err(StartError::NotConfirmed("stopped".into())),
        }
    }

    /// The pools named before the run: a file's, or the default pool.
    pub fn pools(&self, default_pool: Option<&str>) -> Vec<String> {
        match self {
            Input::File { survey, .. } => survey.pools.keys().cloned().collect(),
            Input::Listing { pool, .. } => vec![pool.clone()],
            Input::Listed { lister, .. } => vec![lister.pool.clone()],
            Input::Stream { .. } => default_pool.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// What a report of this input belongs to.
    pub fn fingerprint(&self, default_pool: Option<&str>) -> String {
        let pool = default_pool.unwrap_or("-");
        match self {
            Input::File { survey, .. } => format!("sha256:{} pool:{pool}", survey.sha256),
            Input::Listing { pool, listing } => listing_fingerprint(pool, listing),
            Input::Listed { lister, .. } => listing_fingerprint(&lister.pool, &lister.listing),
            Input::Stream { .. } => format!("stream pool:{pool}"),
        }
    }

    /// A file's survey.
    pub fn survey(&self) -> Option<&Survey> {
        match self {
            Input::File { survey, .. } => Some(survey),
            _ => None,
        }
    }

    /// Whether the rows come from standard input (then it cannot also
    /// answer a confirmation).
    pub fn is_stdin(&self) -> bool {
        matches!(self, Input::Stream { path: None, .. })
    }

    /// Whether the input can be read only once (a resume needs the same
    /// rows piped again).
    pub fn read_once(&self) -> bool {
        matches!(self, Input::Stream { .. })
    }

    /// Whether the pool itself is listed.
    pub fn is_listing(&self) -> bool {
        matches!(self, Input::Listing { .. } | Input::Listed { .. })
    }

    /// The file the rows are read from, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            Input::File { path, .. } => Some(path),
            Input::Stream { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The plan's line about the input.
    pub fn describe(&self) -> String {
        match self {
            Input::File {
                path, survey: v, ..
            } => format!(
                "input: {}: {} rows, {} valid ({} distinct users, case aside), {} invalid; sha256 {}",
                escape(path),
                v.rows,
                v.valid,
                v.distinct,
                v.rows - v.valid,
                &v.sha256
            ),
            Input::Stream {
                path: Some(path), ..
            } => format!(
                "input: {} (not a regular file: read once as a stream; row count unknown)",
                escape(path)
            ),
            Input::Stream { path: None, .. } => {
                "input: standard input (read once as a stream; row count unknown)".into()
            }
            Input::Listing { pool, listing } => describe_listing(pool, listing),
            Input::Listed { lister, .. } => describe_listing(&lister.pool, &lister.listing),
        }
    }

    /// What the audit record says of the input.
    pub fn description(&self) -> Description {
        let (source, path) = match self {
            Input::File { path, .. } => ("file", Some(path.clone())),
            Input::Stream { path: None, .. } => ("stdin", None),
            Input::Stream { path, .. } => ("stream", path.clone()),
            Input::Listing { pool, listing } => listing_named(pool, listing),
            Input::Listed { lister, .. } => listing_named(&lister.pool, &lister.listing),
        };
        let survey = self.survey();
        let stream = match self {
            Input::Stream { digest, .. } => Some(digest.clone()),
            _ => None,
        };
        Description {
            source,
            path,
            sha256: survey.map(|s| s.sha256.clone()),
            stream,
            rows: survey.map(|s| s.rows),
        }
    }

    /// What the dispatcher remembers to tell duplicates: only the users a
    /// file's survey saw more than once; every user of a stream; nothing
    /// for a listing (Cognito's usernames are unique).
    pub fn duplicates(&mut self) -> Duplicates {
        match self {
            Input::File { survey, .. } => {
                Duplicates::from_survey(std::mem::take(&mut survey.repeated))
            }
            Input::Stream { .. } => Duplicates::All(Default::default()),
            Input::Listing { .. } | Input::Listed { .. } => Duplicates::Unique,
        }
    }

    /// Whether the rows not yet read may be drained after a stop (a file:
    /// each is recorded `cancelled`), or must not be read further (a stream
    /// may never end; a listing would need calls).
    pub fn drains(&self) -> bool {
        matches!(self, Input::File { .. })
    }

    /// Starts feeding rows into the bounded queue: a file or a stream on a
    /// thread of its own, a listing as a task. The feeding ends at the end
    /// of the input or when the queue's receiver is gone.
    /// A file that no longer holds the bytes surveyed stops the run
    /// (`stop`) before any row of the bytes that differ is handed over.
    pub fn feed(self, tx: mpsc::Sender<Vec<Item>>, stop: Arc<Stop>) {
        match self {
            Input::File {
                path,
                file,
                survey,
                options,
            } => match verified(file, &path, survey.planned, stop.clone(), &options) {
                Ok(reader) => feed_thread(reader, tx, FILE_BATCH),
                Err(e) => {
                    say(&format!("cognito-reset: {e}"));
                    stop.stop(changed(&path, &e.to_string()));
                }
            },
            Input::Stream { reader, .. } => feed_thread(reader, tx, 1),
            Input::Listed { lister, first } => {
                tokio::spawn(lister.feed(first, tx));
            }
            Input::Listing { .. } => {}
        }
    }
}

/// The file read again from its start, every block checked against the
/// survey's; the first that differs stops the run.
fn verified(
    mut file: File,
    path: &str,
    planned: Arc<super::digest::Planned>,
    stop: Arc<Stop>,
    options: &ReadOptions,
) -> Result<ItemReader<impl BufRead + Send + 'static>, StartError> {
    file.rewind().map_err(|e| StartError::io(escape(path), e))?;
    let name = path.to_owned();
    let checked = super::digest::Verified::new(file, planned);
    let watched = Watched {
        inner: checked,
        on_error: Box::new(move |why: &str| stop.stop(changed(&name, why))),
    };
    let read = std::io::BufReader::with_capacity(64 * 1024, watched);
    ItemReader::new(read, options, path)
}

/// The code of the stop of a run whose file changed under it.
pub const INPUT_CHANGED: &str = "InputChanged";

/// Why a run stops whose file changed under it.
fn changed(path: &str, why: &str) -> StopReason {
    StopReason::Fatal {
        code: INPUT_CHANGED.into(),
        message: format!(
            "{} changed since it was read for the plan: {why}",
            escape(path)
        ),
        hint: "no row past that point was sent; put the file back as it was and --resume, or \
               start a new report for the new list"
            .into(),
    }
}

/// A reader whose first error stops the run before the parser sees it.
struct Watched<R> {
    inner: R,
    on_error: Box<dyn Fn(&str) + Send>,
}

impl<R: std::io::Read> std::io::Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner
            .read(buf)
            .inspect_err(|e| (self.on_error)(&e.to_string()))
    }
}

/// Reads a stream's header and first row: the header tells its columns,
/// the first row that it is not empty.
fn open_stream(
    read: Box<dyn BufRead + Send + Sync>,
    options: &ReadOptions,
    name: &str,
) -> Result<StreamReader, StartError> {
    let mut reader = ItemReader::new(read, options, name)?;
    let first = reader.next();
    if first.is_none() && !reader.has_header() {
        return Err(no_rows(name));
    }
    Ok(StreamReader {
        first,
        rest: reader,
    })
}

fn listing_fingerprint(pool: &str, listing: &Listing) -> String {
    match listing {
        Listing::Pool { filter } => {
            format!("pool:{pool} filter:{}", filter.as_deref().unwrap_or(""))
        }
        Listing::Group(group) => format!("pool:{pool} group:{group}"),
    }
}

fn listing_named(pool: &str, listing: &Listing) -> (&'static str, Option<String>) {
    match listing {
        Listing::Pool { .. } => ("pool", Some(pool.to_owned())),
        Listing::Group(group) => ("group", Some(format!("{pool}/{group}"))),
    }
}

fn describe_listing(pool: &str, listing: &Listing) -> String {
    match listing {
        Listing::Pool { filter } => format!(
            "input: every user of {pool}{}",
            filter
                .as_ref()
                .map(|f| format!(" matching {}", escape(f)))
                .unwrap_or_default()
        ),
        Listing::Group(group) => {
            format!("input: every user of group {} in {pool}", escape(group))
        }
    }
}

/// Reads items on a thread of its own (file and stdin reads block) into the
/// bounded queue, `batch` at a time; the thread ends at the end of the input
/// or when the queue's receiver is gone (the run stopped reading a stream).
fn feed_thread(
    reader: impl Iterator<Item = Item> + Send + 'static,
    tx: mpsc::Sender<Vec<Item>>,
    batch: usize,
) {
    let _ = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            let mut reader = reader.peekable();
            while reader.peek().is_some() {
                let items: Vec<Item> = reader.by_ref().take(batch.max(1)).collect();
                if tx.blocking_send(items).is_err() {
                    return;
                }
            }
        });
}
