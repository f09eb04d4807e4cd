//! The byte buffers between a connection's socket and its handler.

use std::collections::VecDeque;
use std::fs::File;
use std::io;

use crate::transport::Transport;

/// Bytes a connection received that the handler has not consumed yet.
///
/// The handler reads [`Input::bytes`], acts on every whole message at the
/// front, and calls [`Input::consume`] for what it used. What it leaves is
/// kept and handed back, with whatever arrives next, on the next call.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
    consumed: usize,
    eof: bool,
}

impl<'a> Input<'a> {
    /// Input holding `bytes`; `eof` says the peer will send nothing more.
    /// Strategies build these; handler unit tests can too.
    pub fn new(bytes: &'a [u8], eof: bool) -> Self {
        Input {
            bytes,
            consumed: 0,
            eof,
        }
    }

    /// The bytes not consumed yet.
    pub fn bytes(&self) -> &'a [u8] {
        &self.bytes[self.consumed..]
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.consumed == self.bytes.len()
    }

    /// Marks the first `n` unconsumed bytes as used.
    ///
    /// # Panics
    /// If `n` is more than [`Input::bytes`] holds.
    pub fn consume(&mut self, n: usize) {
        assert!(
            n <= self.bytes.len() - self.consumed,
            "consumed past the end of the input"
        );
        self.consumed += n;
    }

    /// How many bytes were consumed during this call.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The peer has finished sending (or the server is shutting down): no
    /// bytes will follow those in [`Input::bytes`].
    pub fn is_eof(&self) -> bool {
        self.eof
    }
}

/// Replies queued for sending: bytes, and file ranges sent without being read
/// into memory.
///
/// The output has a high-water mark. While it holds more than that, the
/// strategy stops reading from the peer, so a client that sends but never reads
/// cannot make the server buffer without bound. Handlers producing a long reply
/// write up to [`Output::room`] and call [`Output::resume_when_drained`].
#[derive(Debug)]
pub struct Output {
    segments: VecDeque<Segment>,
    len: u64,
    high_water: usize,
    resume: bool,
}

#[derive(Debug)]
enum Segment {
    Bytes {
        buf: Vec<u8>,
        sent: usize,
    },
    File {
        file: File,
        offset: u64,
        remaining: u64,
    },
}

impl Output {
    /// An empty output with the given high-water mark, in bytes.
    pub fn new(high_water: usize) -> Self {
        Output {
            segments: VecDeque::new(),
            len: 0,
            high_water,
            resume: false,
        }
    }

    /// Queues a copy of `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len() as u64;
        if let Some(Segment::Bytes { buf, .. }) = self.segments.back_mut() {
            buf.extend_from_slice(bytes);
        } else {
            self.segments.push_back(Segment::Bytes {
                buf: bytes.to_vec(),
                sent: 0,
            });
        }
    }

    /// Queues `bytes` without copying them when nothing else is waiting.
    pub fn write_vec(&mut self, bytes: Vec<u8>) {
        if matches!(self.segments.back(), Some(Segment::Bytes { .. })) {
            self.write(&bytes);
        } else if !bytes.is_empty() {
            self.len += bytes.len() as u64;
            self.segments.push_back(Segment::Bytes {
                buf: bytes,
                sent: 0,
            });
        }
    }

    /// Queues `len` bytes of `file` starting at `offset`. The strategy sends
    /// them straight from the file (with `sendfile(2)` where it can), a chunk
    /// at a time, so a file of any size costs no memory. If the file turns out
    /// shorter than promised, the connection is closed.
    pub fn send_file(&mut self, file: File, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.len += len;
        self.segments.push_back(Segment::File {
            file,
            offset,
            remaining: len,
        });
    }

    /// Bytes queued and not sent yet, file ranges included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is waiting to be sent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many more bytes fit below the high-water mark.
    pub fn room(&self) -> usize {
        (self.high_water as u64).saturating_sub(self.len) as usize
    }

    /// Whether the output is at or above its high-water mark.
    pub fn is_full(&self) -> bool {
        self.len >= self.high_water as u64
    }

    /// Asks for [`crate::Handler::on_input`] to be called again once the output
    /// has drained (to a quarter of the high-water mark), to write the next
    /// chunk of a long reply.
    pub fn resume_when_drained(&mut self) {
        self.resume = true;
    }

    /// Whether [`Output::resume_when_drained`] is pending.
    pub fn resume_requested(&self) -> bool {
        self.resume
    }

    /// Clears and returns the resume request if the output has drained enough.
    pub(crate) fn take_resume(&mut self) -> bool {
        if self.resume && self.len <= (self.high_water / 4) as u64 {
            self.resume = false;
            return true;
        }
        false
    }

    /// Sends queued data until the output is empty or the transport would
    /// block (`Err(WouldBlock)`); returns the bytes sent.
    pub(crate) fn send_to<T: Transport + ?Sized>(&mut self, transport: &mut T) -> io::Result<u64> {
        let mut total = 0u64;
        while let Some(segment) = self.segments.front_mut() {
            let (n, done) = match segment {
                Segment::Bytes { buf, sent } => {
                    let n = match transport.write(&buf[*sent..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => n,
                        Err(e) if total > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    };
                    *sent += n;
                    (n as u64, *sent == buf.len())
                }
                Segment::File {
                    file,
                    offset,
                    remaining,
                } => {
                    let want = (*remaining).min(FILE_CHUNK as u64) as usize;
                    let n = match transport.send_file(file, *offset, want) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "file shrank while being sent",
                            ));
                        }
                        Ok(n) => n,
                        Err(e) if total > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    };
                    *offset += n as u64;
                    *remaining -= n as u64;
                    (n as u64, *remaining == 0)
                }
            };
            total += n;
            self.len -= n;
            if done {
                self.segments.pop_front();
            }
        }
        Ok(total)
    }

    /// Takes everything queued, reading file ranges into memory. For tests and
    /// tools that want the bytes a handler produced; strategies never call it.
    pub fn take_all(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::with_capacity(self.len.min(1 << 20) as usize);
        while let Some(segment) = self.segments.pop_front() {
            match segment {
                Segment::Bytes { buf, sent } => all.extend_from_slice(&buf[sent..]),
                Segment::File {
                    file,
                    offset,
                    remaining,
                } => {
                    let start = all.len();
                    all.resize(start + remaining as usize, 0);
                    std::os::unix::fs::FileExt::read_exact_at(&file, &mut all[start..], offset)?;
                }
            }
        }
        self.len = 0;
        Ok(all)
    }
}

/// The most a single `sendfile` call is asked to send: large enough to keep
/// syscalls few, small enough that one big download does not monopolise an
/// event loop's turn.
const FILE_CHUNK: usize = 256 * 1024;

impl io::Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Output::write(self, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
