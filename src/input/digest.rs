//! The SHA-256 of a stream (standard input, a pipe, a FIFO), computed as it
//! is read: a stream is read once, so its bytes are hashed on their way to
//! the parser, exactly as they come — byte-order mark, line endings and all
//! — and the audit record reads the digest when the run ends.

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
}
