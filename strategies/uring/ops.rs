//! The ring-facing pieces of the `uring` strategy: what a completion's
//! `user_data` names, queueing submissions, the shared receive buffer pool,
//! the staging transport sends are copied into, and feature detection.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use io_uring::types::Fd;
use io_uring::{IoUring, Probe, opcode, squeue};

use crate::Transport;

/// The kind of a ring operation, kept in the low byte of its `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// The listener's (multishot) accept.
    Accept,
    /// The poll on the shutdown fd.
    Shutdown,
    /// Buffers handed (back) to the kernel's pool.
    Provide,
    /// A cancellation request; its own completion carries nothing.
    Cancel,
    /// A connection's (multishot) receive.
    Recv,
    /// A connection's send of its staged bytes.
    Send,
}

const OPS: [Op; 6] = [
    Op::Accept,
    Op::Shutdown,
    Op::Provide,
    Op::Cancel,
    Op::Recv,
    Op::Send,
];

/// Generations wrap at 24 bits: `user_data` is kind (8 bits), slot (32 bits)
/// and the slot's generation (24 bits), so a completion can never be taken
/// for one of a later connection in the same slot.
pub(super) const GENERATION_MASK: u32 = (1 << 24) - 1;

/// The `user_data` of operation `op` for `slot` in its `generation`.
pub(super) fn token(op: Op, slot: usize, generation: u32) -> u64 {
    let kind = OPS.iter().position(|&o| o == op).unwrap_or(0) as u64;
    kind | (slot as u64 & 0xffff_ffff) << 8 | u64::from(generation & GENERATION_MASK) << 40
}

/// The operation, slot and generation a `user_data` names.
pub(super) fn untoken(data: u64) -> Option<(Op, usize, u32)> {
    let op = *OPS.get((data & 0xff) as usize)?;
    Some((op, (data >> 8 & 0xffff_ffff) as usize, (data >> 40) as u32))
}

/// Queues `entry`, submitting what is queued first if the queue is full.
///
/// # Safety
/// Every buffer `entry` points to must stay alive, unmoved and untouched
/// until the operation's last completion has been reaped.
pub(super) unsafe fn push(ring: &mut IoUring, entry: &squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: the caller keeps the entry's buffers valid for the whole
        // operation (this function's contract).
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// The provided-buffer group receives take their buffers from.
const GROUP: u16 = 0;
/// Bytes per receive buffer.
const BUF_SIZE: usize = 16 * 1024;
/// Buffers in the pool: 4 MiB shared by every connection.
const BUF_COUNT: u16 = 256;

/// The receive buffer pool: one allocation the kernel picks buffers from
/// whenever data arrives, so a connection waiting for input holds no buffer.
pub(super) struct BufPool {
    mem: Box<[u8]>,
}

impl BufPool {
    pub(super) fn new() -> Self {
        BufPool {
            mem: vec![0; BUF_SIZE * usize::from(BUF_COUNT)].into_boxed_slice(),
        }
    }

    /// An entry handing `count` buffers from `first` to the kernel; the
    /// whole pool with `(0, BUF_COUNT)`. The pool must outlive every
    /// receive that may pick one of them.
    pub(super) fn provide(&mut self, first: u16, count: u16) -> squeue::Entry {
        let start = self.mem[usize::from(first) * BUF_SIZE..].as_mut_ptr();
        opcode::ProvideBuffers::new(start, BUF_SIZE as i32, count, GROUP, first)
            .build()
            .user_data(token(Op::Provide, 0, 0))
    }

    /// Gives up the memory without freeing it, for when receives into it
    /// may still be in flight.
    pub(super) fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.mem));
    }

    /// All buffers.
    pub(super) fn provide_all(&mut self) -> squeue::Entry {
        self.provide(0, BUF_COUNT)
    }

    /// The first `len` bytes of buffer `id`, filled by a completed receive.
    pub(super) fn get(&self, id: u16, len: usize) -> &[u8] {
        let start = usize::from(id) * BUF_SIZE;
        &self.mem[start..start + len.min(BUF_SIZE)]
    }
}

/// A receive on `fd` taking its buffer from the pool; multishot if asked.
pub(super) fn recv(fd: Fd, multishot: bool) -> squeue::Entry {
    if multishot {
        opcode::RecvMulti::new(fd, GROUP).build()
    } else {
        opcode::Recv::new(fd, std::ptr::null_mut(), BUF_SIZE as u32)
            .buf_group(GROUP)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
    }
}

/// A request to cancel the operation whose `user_data` is `target`.
pub(super) fn cancel(target: u64) -> squeue::Entry {
    opcode::AsyncCancel::new(target)
        .build()
        .user_data(token(Op::Cancel, 0, 0))
}

/// Most bytes staged per connection for one send.
const STAGING_CAP: usize = 64 * 1024;

/// A [`Transport`] that copies what a `Conn` sends into the connection's
/// staging buffer, which the ring then owns while it sends from it. Full
/// (`WouldBlock`) at [`STAGING_CAP`]; never read from.
pub(super) struct Staging<'a>(pub(super) &'a mut Vec<u8>);

impl Staging<'_> {
    fn room(&self, want: usize) -> io::Result<usize> {
        match STAGING_CAP.saturating_sub(self.0.len()).min(want) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            room => Ok(room),
        }
    }
}

impl Transport for Staging<'_> {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.room(bytes.len())?;
        self.0.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    /// Reads the file straight into the staging buffer: one copy, not two.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let start = self.0.len();
        self.0.resize(start + self.room(len)?, 0);
        let read = file.read_at(&mut self.0[start..], offset);
        self.0.truncate(start + *read.as_ref().unwrap_or(&0));
        read
    }
}

/// What the running kernel's io_uring offers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Features {
    /// Multishot accept (Linux 5.19).
    pub accept_multi: bool,
    /// Multishot receive (Linux 6.0).
    pub recv_multi: bool,
}

/// Checks that `ring` has everything the strategy needs.
pub(super) fn features(ring: &IoUring) -> Result<Features, String> {
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("cannot probe io_uring operations (Linux 5.6+ needed): {e}"))?;
    let needed = [
        (opcode::Accept::CODE, "accept"),
        (opcode::Recv::CODE, "recv"),
        (opcode::Send::CODE, "send"),
        (opcode::PollAdd::CODE, "poll"),
        (opcode::AsyncCancel::CODE, "cancel"),
        (opcode::ProvideBuffers::CODE, "provided buffers"),
    ];
    if let Some((_, name)) = needed.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(format!("io_uring lacks {name} (Linux 5.7+ needed)"));
    }
    if !ring.params().is_feature_ext_arg() {
        return Err("io_uring cannot wait with a timeout (Linux 5.11+ needed)".into());
    }
    // Multishot flags cannot be probed; opcodes that arrived in the same
    // release stand in for them.
    Ok(Features {
        accept_multi: probe.is_supported(opcode::Socket::CODE),
        recv_multi: probe.is_supported(opcode::SendZc::CODE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for op in OPS {
            let data = token(op, 123_456, GENERATION_MASK);
            assert_eq!(untoken(data), Some((op, 123_456, GENERATION_MASK)));
        }
        assert_eq!(untoken(0xff), None);
    }

    #[test]
    fn staging_fills_to_its_cap() {
        let mut buf = Vec::new();
        let mut staging = Staging(&mut buf);
        assert_eq!(staging.write(&[1; 40_000]).ok(), Some(40_000));
        assert_eq!(staging.write(&[2; 40_000]).ok(), Some(STAGING_CAP - 40_000));
        assert!(staging.write(&[3]).is_err());
        assert!(staging.read(&mut [0; 4]).is_err());
    }
}
