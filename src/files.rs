//! The files a run writes — report, journal, summary — opened the one safe
//! way: never through a symbolic link (a link planted at the path could
//! redirect user names into someone else's file), created with mode 0600
//! (they hold user names), an existing file never silently replaced, and a
//! rewrite done as write-new-then-rename so a crash leaves the old or the new
//! file, never half of one.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every file the tool writes.
pub const PRIVATE: u32 = 0o600;

/// How to open an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create it; fail if anything is at the path.
    CreateNew,
    /// Open what is there, to read and append; fail if nothing is.
    Existing,
    /// Create it, or empty what is there.
    Truncate,
    /// Create it, or open what is there as it is.
    Create,
}

/// Says what an open error means for an output path, in words an operator
/// can act on.
pub fn explain(path: &Path, e: &std::io::Error) -> String {
    explain_as(path, e, false)
}

/// Says what an open error means for a file only read ([`inspect`]): a
/// symbolic link is not followed, and nothing is written.
pub fn explain_reading(path: &Path, e: &std::io::Error) -> String {
    explain_as(path, e, true)
}

fn explain_as(path: &Path, e: &std::io::Error, reading: bool) -> String {
    let shown = crate::progress::escape(&path.display().to_string());
    // O_NOFOLLOW on a symbolic link fails with ELOOP.
    if e.raw_os_error() == Some(libc::ELOOP) {
        let link = if reading {
            "it is not followed, so that what is read is the file named"
        } else {
            "refusing to write through it"
        };
        return format!("{shown} is a symbolic link; {link} (give the real path)");
    }
    if e.raw_os_error() == Some(libc::ENAMETOOLONG) {
        return format!("{shown}: the name is too long for the file system; choose a shorter path");
    }
    match e.kind() {
        ErrorKind::AlreadyExists => format!("{shown} already exists"),
        ErrorKind::NotFound => format!("{shown}: no such file or directory; check the path"),
        ErrorKind::PermissionDenied if reading => format!("{shown}: permission denied"),
        ErrorKind::PermissionDenied => {
            format!("{shown}: permission denied; choose a path you may write to")
        }
        _ => format!("{shown}: {e}"),
    }
}

/// Opens an output file without following a symbolic link at `path`, for
/// a run that has decided to write it: an existing file is narrowed to
/// mode 0600.
pub fn open(path: &Path, how: Open) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .mode(PRIVATE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    match how {
        Open::CreateNew => options.create_new(true),
        Open::Existing => options.append(true),
        Open::Truncate => options.create(true).truncate(true),
        Open::Create => options.create(true),
    };
    let file = regular(options.open(path)?)?;
    make_private(&file)?;
    Ok(file)
}

/// Opens an existing file only to read it, changing nothing, its mode
/// included: for a file a run looks at before it has decided to write it
/// (a summary it may refuse to replace, a report to check, a journal to
/// read). Never through a symbolic link; never waits for a FIFO's writer.
pub fn inspect(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    regular(options.open(path)?)
}

/// Opens an existing file to read and append, changing nothing, its mode
/// included: for a report a run holds (and locks) before it has decided to
/// write it; [`make_private`] once it has.
pub fn hold(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    regular(options.open(path)?)
}

/// Narrows a file the run writes to mode 0600: one created earlier by
/// someone else keeps its mode otherwise, and it holds user names.
pub fn make_private(file: &File) -> std::io::Result<()> {
    if file.metadata()?.permissions().mode() & 0o777 != PRIVATE {
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE))?;
    }
    Ok(())
}

fn regular(file: File) -> std::io::Result<File> {
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::other("not a regular file"))
    }
}

/// Takes the run's exclusive lock on an open file; `false` if another process
/// holds it. The lock lives as long as the file stays open, and dies with the
/// process whatever way it ends.
pub fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Takes a shared lock on a file only read: `false` if a run holds its
/// exclusive lock (it is still writing the file). Released when the file
/// is closed.
pub fn try_lock_shared(file: &File) -> std::io::Result<bool> {
    match file.try_lock_shared() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Replaces `path` with `bytes` atomically: a new private file beside it,
/// synced, renamed over the old one, the directory synced.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    stage(path, bytes)?.commit()
}

/// Content written to a private file beside its path and synced, waiting
/// to replace it; dropped uncommitted, it leaves the path as it was.
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

/// A temporary name beside `path` that no other writer uses: named for
/// this process (two runs replacing one file never share it) and for this
/// write (a run ended at once by a second signal writes its summary while
/// the run's own last write may still be under way).
fn private_tmp(path: &Path) -> PathBuf {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sibling(path, &format!(".{}.{n}.tmp", std::process::id()))
}

/// Writes `bytes` beside `path`, synced, ready to replace it.
pub fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
    let tmp = private_tmp(path);
    let _ = std::fs::remove_file(&tmp);
    let staged = Staged {
        tmp,
        path: path.to_owned(),
        committed: false,
    };
    let mut file = open(&staged.tmp, Open::CreateNew)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(staged)
}

impl Staged {
    /// Renames the staged content over its path.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        sync_dir(&self.path);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Creates `path` holding `bytes`, atomically and never over anything: the
/// content is written to a private file beside it, synced, then linked to
/// the name (which fails if anything, even a dangling link, is there). A
/// crash leaves either nothing at `path` or the whole content. Returns the
/// file opened for appending.
pub fn create_with(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let tmp = private_tmp(path);
    let _ = std::fs::remove_file(&tmp);
    let mut file = open(&tmp, Open::CreateNew)?;
    let linked = file
        .write_all(bytes)
        .and_then(|_| file.sync_all())
        .and_then(|_| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(path);
    drop(file);
    open(path, Open::Existing)
}

/// The directory holding `path` (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Takes an exclusive lock on the directory holding `path`, waiting for
/// it; held until the returned handle is dropped.
pub fn lock_dir(path: &Path) -> std::io::Result<File> {
    let handle = File::open(dir_of(path))?;
    handle.lock()?;
    Ok(handle)
}

/// Syncs the directory holding `path`, so that a new name in it survives a
/// power loss. Best effort: some file systems refuse.
pub fn sync_dir(path: &Path) {
    if let Ok(d) = File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
}

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Checks, without creating anything, that an output file could be made at
/// `path`: not a symbolic link, not something other than a file, and a
/// writable file or directory. Run before the plan so that nothing is
/// discovered unwritable after the first call.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "{}: {why}",
            crate::progress::escape(&path.display().to_string())
        ))
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return refuse("is a symbolic link; refusing to write through it (give the real path)");
        }
        Ok(m) if !m.is_file() => return refuse("is not a regular file"),
        Ok(_) => return writable(path).or_else(|_| refuse("is not writable")),
        Err(_) => {}
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => writable(dir).or_else(|_| refuse("its directory is not writable")),
        _ => refuse("its directory does not exist"),
    }
}

fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: access() with a valid C string.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether a symbolic link is at `path`.
pub fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether something (a file, a link, even a dangling one) is at `path`.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cr-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_symlink_at_the_path_is_refused_and_its_target_untouched() {
        let dir = scratch("link");
        let target = dir.join("victim");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.join("report.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for how in [Open::CreateNew, Open::Existing, Open::Truncate] {
            let e = open(&link, how).unwrap_err();
            if how != Open::CreateNew {
                assert!(explain(&link, &e).contains("symbolic link"), "{how:?}: {e}");
            }
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn files_are_private_and_a_second_lock_is_refused() {
        let dir = scratch("lock");
        let path = dir.join("r.csv");
        let first = open(&path, Open::CreateNew).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PRIVATE);
        assert!(try_lock(&first).unwrap());
        let second = open(&path, Open::Existing).unwrap();
        assert!(!try_lock(&second).unwrap());
        drop(first);
        assert!(try_lock(&second).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn looking_at_a_file_changes_nothing_until_the_run_writes_it() {
        let dir = scratch("inspect");
        let path = dir.join("s.json");
        std::fs::write(&path, "{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        drop(inspect(&path).unwrap());
        let held = hold(&path).unwrap();
        assert_eq!(mode(), 0o644);
        make_private(&held).unwrap();
        assert_eq!(mode(), PRIVATE);
        let link = dir.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(inspect(&link).is_err() && hold(&link).is_err());
        assert!(inspect(&dir).is_err(), "not a regular file");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn create_with_never_replaces_anything() {
        let dir = scratch("create");
        let path = dir.join("r.csv");
        let mut f = create_with(&path, b"header\n").unwrap();
        f.write_all(b"row\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "header\nrow\n");
        let e = create_with(&path, b"other\n").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink(dir.join("nowhere"), &link).unwrap();
        assert!(
            create_with(&link, b"x").is_err(),
            "not even over a dangling link"
        );
        assert!(!dir.join("nowhere").exists());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PRIVATE);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replace_swaps_the_whole_file() {
        let dir = scratch("replace");
        let path = dir.join("j");
        std::fs::write(&path, "old").unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let dir_left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(dir_left.len(), 1, "no temporary file is left");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
