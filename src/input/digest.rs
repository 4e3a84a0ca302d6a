//! The SHA-256 of a stream (standard input, a pipe, a FIFO), computed as it
//! is read: a stream is read once, so its bytes are hashed on their way to
//! the parser, exactly as they come — byte-order mark, line endings and all
//! — and the audit record reads the digest when the run ends. Also here:
//! the bytes of a file as its survey hashed them ([`Planned`]), which the
//! run's reader checks block by block before it hands any of them on
//! ([`Verified`]), so that the rows that run are the rows confirmed.

use std::io::Read;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::hex;

/// The digest of a stream so far, shared by its reader (on a thread of its
/// own) and the audit record.
#[derive(Clone, Default)]
pub struct StreamDigest(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    hasher: Sha256,
    ended: bool,
}

impl StreamDigest {
    /// The SHA-256 of every byte of the stream, hex, once it has been read
    /// to its end; `None` before (a run that stopped before the end of its
    /// stream has no digest of the whole input to give).
    pub fn sha256(&self) -> Option<String> {
        let state = self.0.lock().ok()?;
        state.ended.then(|| hex(&state.hasher.clone().finalize()))
    }

    /// `read`, its bytes hashed into this digest as they are read.
    pub fn reading<R: Read>(&self, read: R) -> Hashing<R> {
        Hashing {
            inner: read,
            digest: self.clone(),
        }
    }
}

impl std::fmt::Debug for StreamDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StreamDigest").field(&self.sha256()).finish()
    }
}

impl PartialEq for StreamDigest {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A reader that hashes exactly the bytes it hands over.
pub struct Hashing<R> {
    inner: R,
    digest: StreamDigest,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut state) = self.digest.0.lock() {
            if n == 0 && !buf.is_empty() {
                state.ended = true;
            } else {
                state.hasher.update(&buf[..n]);
            }
        }
        Ok(n)
    }
}

/// Bytes per block a file's reader checks before it hands them on: small
/// enough that a change is caught near where it is, large enough that the
/// digests kept are a few bytes per kilobyte of input.
pub const BLOCK: usize = 16 * 1024;

/// A file's bytes as its survey read them: their size and the SHA-256 of
/// every [`BLOCK`] from the start.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// Bytes read.
    pub size: u64,
    /// Digest of each block, the last one possibly short.
    blocks: Vec<[u8; 32]>,
    /// The survey stopped reading early (a line over 1 MiB): bytes past
    /// `size` were never read, by the survey or by the run.
    pub open_end: bool,
    current: Sha256,
    filled: usize,
}

impl Planned {
    /// Hashes the next bytes read.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (BLOCK - self.filled).min(bytes.len());
            self.current.update(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == BLOCK {
                self.seal();
            }
        }
    }

    /// The last bytes were read.
    pub fn finish(&mut self) {
        if self.filled > 0 {
            self.seal();
        }
    }

    fn seal(&mut self) {
        let digest = std::mem::take(&mut self.current).finalize();
        self.blocks.push(digest.into());
        self.filled = 0;
    }
}

/// A file read again for the run, each block checked against its planned
/// digest before any of its bytes is handed on. A block that differs, or a
/// file that ends early or runs on past its planned size, is an error, and
/// so is every read after it.
pub struct Verified<R> {
    inner: R,
    plan: std::sync::Arc<Planned>,
    block: Vec<u8>,
    pos: usize,
    index: usize,
    failed: Option<String>,
}

impl<R: Read> Verified<R> {
    /// Reads `inner` from its start against `plan`.
    pub fn new(inner: R, plan: std::sync::Arc<Planned>) -> Self {
        Verified {
            inner,
            plan,
            block: Vec::new(),
            pos: 0,
            index: 0,
            failed: None,
        }
    }

    /// The next planned block, read and checked; empty at the planned end.
    fn next_block(&mut self) -> Result<(), String> {
        let offset = self.index as u64 * BLOCK as u64;
        let want = self.plan.size.saturating_sub(offset).min(BLOCK as u64) as usize;
        self.block.clear();
        self.pos = 0;
        // One byte more than planned at the end tells a file that grew.
        let limit = if want < BLOCK && !self.plan.open_end {
            want + 1
        } else {
            want
        };
        (&mut self.inner)
            .take(limit as u64)
            .read_to_end(&mut self.block)
            .map_err(|e| format!("cannot read it again: {e}"))?;
        if self.block.len() > want {
            return Err(format!(
                "it holds more than the {} bytes hashed",
                self.plan.size
            ));
        }
        if want == 0 {
            return Ok(());
        }
        let same = self.plan.blocks.get(self.index).is_some_and(|d| {
            self.block.len() == want && Sha256::digest(&self.block).as_slice() == d
        });
        if !same {
            return Err(format!(
                "its bytes from offset {offset} are not the ones hashed"
            ));
        }
        self.index += 1;
        Ok(())
    }
}

/// Why a file's reader stopped: its bytes are no longer those the plan
/// read. The run's stop says so; a reader meeting it ends the input, with
/// no record of the row it was in the middle of.
#[derive(Debug)]
pub struct Changed(pub String);

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Changed {}

/// Whether a read failed because the file changed since the plan.
pub fn is_changed(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Changed>())
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = &self.failed {
            return Err(std::io::Error::other(Changed(why.clone())));
        }
        if self.pos == self.block.len()
            && let Err(why) = self.next_block()
        {
            self.block.clear();
            self.failed = Some(why.clone());
            return Err(std::io::Error::other(Changed(why)));
        }
        let n = (self.block.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_has_a_digest_once_read_to_its_end() {
        let digest = StreamDigest::default();
        let mut reader = std::io::BufReader::with_capacity(3, digest.reading(&b"abcdefg"[..]));
        let mut first = [0u8; 4];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(digest.sha256(), None, "not read to its end");
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        assert_eq!(digest.sha256(), Some(hex(&Sha256::digest(b"abcdefg"))));
    }

    fn planned(bytes: &[u8]) -> std::sync::Arc<Planned> {
        let mut plan = Planned::default();
        for chunk in bytes.chunks(1000) {
            plan.update(chunk);
        }
        plan.finish();
        std::sync::Arc::new(plan)
    }

    #[test]
    fn the_planned_bytes_read_through_and_any_change_is_an_error() {
        let bytes: Vec<u8> = (0..BLOCK * 2 + 77).map(|i| (i % 251) as u8).collect();
        let plan = planned(&bytes);
        let mut out = Vec::new();
        Verified::new(&bytes[..], plan.clone())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, bytes);
        let mut changed = bytes.clone();
        changed[BLOCK + 5] ^= 1;
        let mut grown = bytes.clone();
        grown.push(b'x');
        for other in [changed, grown, bytes[..BLOCK + 9].to_vec()] {
            let mut out = Vec::new();
            let got = Verified::new(&other[..], plan.clone()).read_to_end(&mut out);
            assert!(got.is_err());
            assert!(out.len() % BLOCK == 0, "nothing of a block that differs");
            assert!(bytes.starts_with(&out));
        }
    }
}
