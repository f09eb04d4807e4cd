//! One connection of the `uring` strategy: its [`Conn`], the buffers the
//! ring uses for it, and what to submit for it next.

use std::io;
use std::mem;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types::Fd};
use rustix::io::Errno;
use rustix::net::SendFlags;

use super::ops::{self, Op, Staging, token};
use crate::{Conn, Handler, Permit};

/// Where an operation (a connection's receive or send, or the accept) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Idle,
    Running,
    Cancelling,
}

/// One connection, alive until its last operation completed.
pub(super) struct Slot<H> {
    pub(super) generation: u32,
    pub(super) conn: Conn<H>,
    /// Where the connection's receive and send stand.
    pub(super) recv: State,
    send: State,
    /// Close once the operations in flight have completed.
    pub(super) closing: bool,
    /// Bytes received after the `Conn` stopped wanting input.
    pub(super) stash: Vec<u8>,
    /// The peer's EOF arrived (passed on once the stash is fed).
    eof: bool,
    /// Bytes the ring sends from; the first `sent` of them went out.
    staged: Vec<u8>,
    sent: usize,
    stream: TcpStream,
    _permit: Permit,
}

impl<H: Handler> Slot<H> {
    pub(super) fn new(generation: u32, stream: TcpStream, conn: Conn<H>, permit: Permit) -> Self {
        Slot {
            generation,
            conn,
            recv: State::Idle,
            send: State::Idle,
            closing: false,
            stash: Vec::new(),
            eof: false,
            staged: Vec::new(),
            sent: 0,
            stream,
            _permit: permit,
        }
    }

    /// Whether a send may still read from `staged`.
    pub(super) fn sending(&self) -> bool {
        self.send != State::Idle
    }

    /// Gives up the staging buffer without freeing it (a send may still
    /// read from it).
    pub(super) fn leak_staged(&mut self) {
        mem::forget(mem::take(&mut self.staged));
    }

    /// Takes in one receive completion: `res` and the bytes it brought.
    pub(super) fn received(&mut self, res: i32, bytes: &[u8], more: bool) {
        if !more {
            self.recv = State::Idle;
        }
        match res {
            _ if self.closing => {}
            1.. if self.conn.wants_read() && self.stash.is_empty() => self.conn.feed(bytes),
            1.. => self.stash.extend_from_slice(bytes),
            0 => self.eof = true,
            // Cancelled, or the pool was empty for a moment: re-armed if wanted.
            _ if [Errno::CANCELED, Errno::NOBUFS].contains(&Errno::from_raw_os_error(-res)) => {}
            _ => self.fail("recv", res),
        }
    }

    /// Takes in a send completion.
    pub(super) fn sent(&mut self, res: i32) {
        self.send = State::Idle;
        match res {
            1.. => self.sent += res as usize,
            _ if res == -Errno::CANCELED.raw_os_error() => self.closing = true,
            _ => self.fail("send", res),
        }
    }

    fn fail(&mut self, what: &str, res: i32) {
        let error = match res {
            0 => io::ErrorKind::WriteZero.into(),
            _ => io::Error::from_raw_os_error(-res),
        };
        log::debug!("{}: {what}: {error}", self.conn.peer());
        self.closing = true;
    }

    /// Moves the connection on: feeds held-back input, stages output, and
    /// adds to `entries` the send, receive and cancellations to submit.
    /// Returns whether the slot can be freed: closed, nothing in flight.
    ///
    /// A send entry points into `staged`, which is refilled only once the
    /// send completed and lives as long as the slot: the slot must not be
    /// freed before this returns true.
    pub(super) fn step(
        &mut self,
        key: usize,
        recv_multi: bool,
        entries: &mut Vec<squeue::Entry>,
    ) -> bool {
        let fd = Fd(self.stream.as_raw_fd());
        if !self.closing {
            if self.conn.wants_read() && !self.stash.is_empty() {
                self.conn.feed(&mem::take(&mut self.stash));
            }
            if self.eof && self.stash.is_empty() {
                self.conn.finish_input();
            }
            if self.send == State::Idle && self.sent == self.staged.len() {
                self.stage();
            }
            if !self.closing && self.send == State::Idle && self.sent < self.staged.len() {
                let unsent = &self.staged[self.sent..];
                let send = opcode::Send::new(fd, unsent.as_ptr(), unsent.len() as u32)
                    .flags(SendFlags::NOSIGNAL.bits() as i32);
                entries.push(
                    send.build()
                        .user_data(token(Op::Send, key, self.generation)),
                );
                self.send = State::Running;
            }
            let wants_input =
                !self.closing && self.conn.wants_read() && self.stash.is_empty() && !self.eof;
            if wants_input && self.recv == State::Idle {
                let recv = ops::recv(fd, recv_multi);
                entries.push(recv.user_data(token(Op::Recv, key, self.generation)));
                self.recv = State::Running;
            } else if !wants_input && self.recv == State::Running {
                entries.push(ops::cancel(token(Op::Recv, key, self.generation)));
                self.recv = State::Cancelling;
            }
            let unsent = self.sent < self.staged.len() || self.send != State::Idle;
            self.closing |= self.conn.is_finished() && !unsent;
        }
        if self.closing {
            for (op, state) in [(Op::Recv, &mut self.recv), (Op::Send, &mut self.send)] {
                if *state == State::Running {
                    entries.push(ops::cancel(token(op, key, self.generation)));
                    *state = State::Cancelling;
                }
            }
        }
        self.closing && self.recv == State::Idle && self.send == State::Idle
    }

    /// Refills the (fully sent) staging buffer from the `Conn`'s output.
    fn stage(&mut self) {
        self.staged.clear();
        self.sent = 0;
        if self.conn.wants_write()
            && let Err(e) = self.conn.flush_to(&mut Staging(&mut self.staged))
            && e.kind() != io::ErrorKind::WouldBlock
        {
            log::debug!("{}: {e}", self.conn.peer());
            self.closing = true;
        }
        if self.staged.is_empty() {
            // Idle connections cost no buffer memory.
            self.staged = Vec::new();
        }
    }
}
