//! The survey of an input file before the plan: one pass that counts rows,
//! lists the pools, fingerprints the bytes and notes which users may appear
//! more than once — so the plan can say what the run will do, the preflight
//! can check every pool, and duplicate detection during the run need only
//! remember those few users.
//!
//! Inputs that are not regular files (pipes, `<(…)`, FIFOs, devices) can be
//! read only once: they are not surveyed but streamed.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::digest::Planned;
use super::{Exclusions, Item, ItemReader, ReadOptions, hex};
use crate::exit::StartError;
use crate::keys::row_key;

/// What a first pass over an input file found.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Records in the input (valid or not).
    pub rows: u64,
    /// Rows that passed validation (duplicates included).
    pub valid: u64,
    /// Distinct pools named by valid rows, with their valid row counts.
    pub pools: BTreeMap<String, u64>,
    /// SHA-256 of the input's bytes, hex.
    pub sha256: String,
    /// Keys (username case folded) that occur more than once: only these
    /// rows can be duplicates, whatever each pool's case sensitivity.
    pub repeated: HashSet<u64>,
    /// Distinct users, counting case variants as one.
    pub distinct: u64,
    /// A line longer than 1 MiB ended the input: nothing after it is read.
    pub truncated: bool,
    /// The input names its columns (a CSV header line).
    pub header: bool,
    /// Distinct users `--exclude` lists (case aside), per pool: they get no
    /// call, so no estimate counts them.
    pub excluded: BTreeMap<String, u64>,
    /// The bytes hashed, block by block: the run reads exactly these.
    pub planned: Arc<Planned>,
    /// The file as it stood when it was hashed.
    pub identity: Option<Identity>,
}

/// What tells a file that changed from one that did not, short of reading
/// it: the file it is, its size and its last modification.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Identity {
    /// The identity of an open file, or of what a path names now.
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Whether `other` is the same file, unmodified.
    pub fn same(&self, other: &Identity) -> bool {
        self == other
    }
}

impl Survey {
    /// Distinct users per pool that the run may call, estimated: each
    /// pool's valid rows, less its share of the repeats, less the users
    /// `--exclude` lists.
    pub fn distinct_by_pool(&self) -> BTreeMap<String, u64> {
        let share = self.distinct as f64 / self.valid.max(1) as f64;
        self.pools
            .iter()
            .map(|(pool, rows)| {
                let distinct = (*rows as f64 * share).round() as u64;
                let excluded = self.excluded.get(pool).copied().unwrap_or(0);
                (pool.clone(), distinct.saturating_sub(excluded))
            })
            .collect()
    }
}

/// Whether `path` must be read as a stream (anything but a regular file).
pub fn is_stream(path: &str) -> bool {
    std::fs::metadata(path).map_or(true, |m| !m.is_file())
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    planned: Planned,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.planned.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads a whole input file once, counting the users `exclusions` lists.
/// Keeps 8 bytes per valid row while it reads, and only the repeated keys
/// afterwards.
pub fn survey(
    path: &str,
    options: &ReadOptions,
    exclusions: &Exclusions,
) -> Result<Survey, StartError> {
    let file = std::fs::File::open(path).map_err(|e| StartError::io(path, e))?;
    survey_open(&file, path, options, exclusions)
}

/// [`survey`] of a file already open, read from its start; fails if the
/// file changed while it was read.
pub fn survey_open(
    file: &std::fs::File,
    path: &str,
    options: &ReadOptions,
    exclusions: &Exclusions,
) -> Result<Survey, StartError> {
    let before = file.metadata().map_err(|e| StartError::io(path, e))?;
    let mut survey = read_survey(file, path, options, exclusions)?;
    let after = file.metadata().map_err(|e| StartError::io(path, e))?;
    let identity = Identity::of(&after);
    if !Identity::of(&before).same(&identity)
        || (!survey.planned.open_end && survey.planned.size != identity.len)
    {
        return Err(StartError::Usage(format!(
            "{path} changed while it was read for the plan; nothing was sent: run again once it \
             is written"
        )));
    }
    survey.identity = Some(identity);
    Ok(survey)
}

fn read_survey(
    file: &std::fs::File,
    path: &str,
    options: &ReadOptions,
    exclusions: &Exclusions,
) -> Result<Survey, StartError> {
    let mut hashing = HashingReader {
        inner: file,
        hasher: Sha256::new(),
        planned: Planned::default(),
    };
    let mut survey = Survey::default();
    let mut keys: Vec<u64> = Vec::new();
    let mut excluded: HashSet<u64> = HashSet::new();
    let truncated = {
        let reader = std::io::BufReader::with_capacity(64 * 1024, &mut hashing);
        let mut items = ItemReader::new(reader, options, path)?;
        for item in items.by_ref() {
            survey.rows += 1;
            if let Item::Row(row) = item {
                survey.valid += 1;
                let key = row_key(&row.pool, &row.username, true);
                keys.push(key);
                let listed =
                    !exclusions.is_empty() && exclusions.contains(&row.pool, &row.username, true);
                if listed && excluded.insert(key) {
                    *survey.excluded.entry(row.pool.clone()).or_default() += 1;
                }
                match survey.pools.get_mut(&row.pool) {
                    Some(n) => *n += 1,
                    None => {
                        survey.pools.insert(row.pool, 1);
                    }
                }
            }
        }
        survey.header = items.has_header();
        items.truncated()
    };
    // Whatever the parser left unread (after an I/O error) still counts;
    // past a line over 1 MiB nothing is read, for it may never end.
    if !truncated {
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| StartError::io(path, e))?;
    }
    survey.truncated = truncated;
    hashing.planned.open_end = truncated;
    hashing.planned.finish();
    survey.planned = Arc::new(hashing.planned);
    survey.sha256 = hex(&hashing.hasher.finalize());
    keys.sort_unstable();
    for run in keys.chunk_by(|a, b| a == b) {
        survey.distinct += 1;
        if run.len() > 1 {
            survey.repeated.insert(run[0]);
        }
    }
    Ok(survey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Format;

    #[test]
    fn the_survey_counts_and_finds_the_users_that_repeat() {
        let dir = std::env::temp_dir().join(format!("cr-survey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        std::fs::write(&path, "alice\nAlice\nbob\nhas space\ncarol\n").unwrap();
        let options = ReadOptions {
            format: Format::Lines,
            username_column: "username".into(),
            default_pool: Some("eu-west-1_P".into()),
        };
        let s = survey(path.to_str().unwrap(), &options, &Exclusions::default()).unwrap();
        assert_eq!((s.rows, s.valid, s.distinct), (5, 4, 3));
        assert_eq!(s.repeated.len(), 1);
        assert!(s.repeated.contains(&row_key("eu-west-1_P", "ALICE", true)));
        assert_eq!(s.sha256.len(), 64);
        assert!(!is_stream(path.to_str().unwrap()));
        assert!(is_stream("/dev/null"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
