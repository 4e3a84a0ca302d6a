//! The bytes under every reader: physical line numbers, line endings, the
//! byte-order mark, pushed-back bytes and the size bound.
//!
//! A physical line ends at LF, CRLF or a lone CR, whatever the format. The
//! readers scan the buffer they get from [`Input::fill`] themselves and tell
//! the source where lines end; the source owns the line counter, swallows the
//! LF of a CRLF that straddles two reads, and drops a UTF-8 byte-order mark at
//! the very start of the input.

use std::io::{self, BufRead};

use super::Item;

/// Longest line (for CSV: record) a reader holds, terminator excluded. Past
/// it the input ends: no buffer grows without bound on hostile input.
pub(crate) const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The message of the item for a line over [`MAX_RECORD_BYTES`].
pub(crate) const TOO_LONG: &str = "longer than 1 MiB; input not read past this line";

/// What a reader has next.
pub(crate) enum Next {
    /// An item; more may follow.
    Item(Item),
    /// The last item: the input is not read past it.
    Last(Item),
    /// The input is over.
    End,
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// A [`BufRead`] plus the bookkeeping every format needs.
pub(crate) struct Input<R> {
    reader: R,
    /// Bytes to read again before the reader's (a byte-order mark that was
    /// not one, or the tail of a record whose quote never closed).
    replay: Vec<u8>,
    replay_pos: usize,
    /// The reader reported end of input; never ask it again (a terminal
    /// would wait for more).
    eof: bool,
    /// The last line ended with CR: an LF that follows belongs to it.
    skip_lf: bool,
    started: bool,
    /// Physical line of the next unread byte, from 1.
    line: u64,
}

impl<R: BufRead> Input<R> {
    pub(crate) fn new(reader: R) -> Self {
        Input {
            reader,
            replay: Vec::new(),
            replay_pos: 0,
            eof: false,
            skip_lf: false,
            started: false,
            line: 1,
        }
    }

    /// Physical line of the next unread byte.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The next unread bytes; empty at end of input. Never empty otherwise.
    pub(crate) fn fill(&mut self) -> io::Result<&[u8]> {
        if !self.started {
            self.started = true;
            self.strip_bom()?;
        }
        if self.skip_lf {
            if self.fill_any()?.first() == Some(&b'\n') {
                self.consume(1);
            }
            self.skip_lf = false;
        }
        self.fill_any()
    }

    /// Marks `n` bytes of the last [`Input::fill`] as read.
    pub(crate) fn consume(&mut self, n: usize) {
        if self.replay_pos < self.replay.len() {
            self.replay_pos += n;
            if self.replay_pos >= self.replay.len() {
                self.replay = Vec::new();
                self.replay_pos = 0;
            }
        } else {
            self.reader.consume(n);
        }
    }

    /// A line ended with the byte just consumed (`cr`: it was a CR, so an LF
    /// right after it is part of the same ending).
    pub(crate) fn end_line(&mut self, cr: bool) {
        self.line += 1;
        self.skip_lf = cr;
    }

    /// Counts `n` line endings inside a record (in quoted CSV fields) that
    /// the reader keeps as data; no LF is to be skipped after them.
    pub(crate) fn count_lines(&mut self, n: u64) {
        self.line += n;
    }

    /// Reads `bytes` again, as physical line `line`, before anything unread.
    pub(crate) fn push_back(&mut self, mut bytes: Vec<u8>, line: u64) {
        if self.replay_pos < self.replay.len() {
            bytes.extend_from_slice(&self.replay[self.replay_pos..]);
        }
        self.replay = bytes;
        self.replay_pos = 0;
        self.line = line;
        self.skip_lf = false;
    }

    fn fill_any(&mut self) -> io::Result<&[u8]> {
        if self.replay_pos < self.replay.len() {
            return Ok(&self.replay[self.replay_pos..]);
        }
        if self.eof {
            return Ok(&[]);
        }
        // Ask until the reader answers; the answer is then buffered, so the
        // second `fill_buf` below does no I/O.
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => {
                    self.eof = buf.is_empty();
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.eof {
            return Ok(&[]);
        }
        self.reader.fill_buf()
    }

    /// Drops a byte-order mark at the start, even one split across reads;
    /// bytes that only looked like its start are read again.
    fn strip_bom(&mut self) -> io::Result<()> {
        let mut head = Vec::with_capacity(BOM.len());
        while head.len() < BOM.len() {
            let buf = self.fill_any()?;
            let take = (BOM.len() - head.len()).min(buf.len());
            if take == 0 {
                break;
            }
            head.extend_from_slice(&buf[..take]);
            self.consume(take);
            if !BOM.starts_with(&head) {
                break;
            }
        }
        if head != BOM {
            self.push_back(head, 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per read, to split everything.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn drain<R: BufRead>(mut input: Input<R>) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let buf = input.fill().unwrap();
            if buf.is_empty() {
                return out;
            }
            let n = buf.len();
            out.extend_from_slice(buf);
            input.consume(n);
        }
    }

    #[test]
    fn bom_split_across_reads_is_dropped() {
        let reader = io::BufReader::with_capacity(1, Trickle(b"\xef\xbb\xbfab"));
        assert_eq!(drain(Input::new(reader)), b"ab");
    }

    #[test]
    fn bytes_that_only_start_like_a_bom_are_kept() {
        let reader = io::BufReader::with_capacity(1, Trickle(b"\xef\xbbx"));
        assert_eq!(drain(Input::new(reader)), b"\xef\xbbx");
        assert_eq!(drain(Input::new(&b"\xef"[..])), b"\xef");
    }
}
