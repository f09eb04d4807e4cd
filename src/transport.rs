//! The byte pipe under a connection: a socket, or anything that moves bytes
//! like one.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;

/// What a [`crate::Conn`] needs from the thing it talks through.
///
/// Implemented for `&TcpStream`, so blocking and readiness-based strategies
/// pass their socket as is. Errors follow `std::io`: `WouldBlock` on a
/// non-blocking socket with nothing to do, `Ok(0)` from `read` at end of input.
pub trait Transport {
    /// Reads into `buf`, like [`Read::read`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes from `buf`, like [`Write::write`].
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Sends up to `len` bytes of `file` from `offset`; returns how many were
    /// sent. The default reads a chunk into memory and writes it; sockets
    /// override it with `sendfile(2)`, which never copies into user space.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut chunk = vec![0; len.min(64 * 1024)];
        let n = file.read_at(&mut chunk, offset)?;
        if n == 0 {
            return Ok(0);
        }
        self.write(&chunk[..n])
    }
}

impl Transport for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut offset = offset;
        Ok(rustix::fs::sendfile(*self, file, Some(&mut offset), len)?)
    }
}
