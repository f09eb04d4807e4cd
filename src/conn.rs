//! [`Conn`]: one connection's buffers and its handler, the glue every strategy
//! shares. Strategies only accept, wait and move bytes; everything between the
//! socket and the handler happens here, once.

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::buf::{Input, Output};
use crate::handler::{Cx, Flow, Handler};
use crate::limits::Limits;
use crate::transport::Transport;

/// A connection's state between its socket and its [`Handler`].
///
/// Strategies drive it with [`Conn::read_from`] / [`Conn::flush_to`] (or
/// [`Conn::feed`] / [`Conn::finish_input`] when they own the read buffers, as
/// completion-based IO does) and ask [`Conn::wants_read`],
/// [`Conn::wants_write`] and [`Conn::is_finished`] what to wait for next.
/// It enforces the per-connection limits: backpressure at the output's
/// high-water mark, the cap on unconsumed input, idle tracking, and a
/// handler panic closing only this connection.
#[derive(Debug)]
pub struct Conn<H> {
    handler: H,
    peer: SocketAddr,
    /// Input the handler left unconsumed: a partial message.
    pending: Vec<u8>,
    output: Output,
    max_input: usize,
    /// The peer finished sending, or the server is shutting down.
    read_closed: bool,
    /// The handler (or a limit) decided to close once the output is flushed.
    closing: bool,
    /// Close at once, without flushing: the handler panicked.
    broken: bool,
    last_active: Instant,
}

impl<H: Handler> Conn<H> {
    /// Wraps `handler`, serving the connection from `peer`, under `limits`.
    pub fn new(handler: H, peer: SocketAddr, limits: &Limits) -> Self {
        Conn {
            handler,
            peer,
            pending: Vec::new(),
            output: Output::new(limits.output_high_water),
            max_input: limits.max_input,
            read_closed: false,
            closing: false,
            broken: false,
            last_active: Instant::now(),
        }
    }

    /// Runs the handler's [`Handler::on_connect`]. Call once, before any input.
    pub fn start(&mut self) {
        let handler = &mut self.handler;
        let mut cx = Cx {
            input: Input::new(&[], false),
            output: &mut self.output,
        };
        let result = catch_unwind(AssertUnwindSafe(|| handler.on_connect(&mut cx)));
        self.settle(result.map(Ok));
    }

    /// Reads once from `transport` into `scratch` and hands the bytes to the
    /// handler. `Ok(0)` is the end of input. Errors are the transport's,
    /// `WouldBlock` included.
    pub fn read_from<T: Transport + ?Sized>(
        &mut self,
        transport: &mut T,
        scratch: &mut [u8],
    ) -> io::Result<usize> {
        loop {
            match transport.read(scratch) {
                Ok(0) => {
                    self.finish_input();
                    return Ok(0);
                }
                Ok(n) => {
                    self.feed(&scratch[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Hands bytes that arrived to the handler.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.last_active = Instant::now();
        if self.read_closed || self.closing || self.broken {
            return;
        }
        if self.pending.is_empty() {
            // The common case, a whole message per read: the handler reads the
            // caller's buffer directly and only a leftover tail is copied.
            let used = self.call(bytes, false);
            self.pending.extend_from_slice(&bytes[used..]);
        } else {
            self.pending.extend_from_slice(bytes);
            self.call_with_pending(false);
        }
        if self.pending.len() > self.max_input {
            log::debug!(
                "{}: {} bytes without a complete message; closing",
                self.peer,
                self.pending.len()
            );
            self.pending = Vec::new();
            self.closing = true;
        }
    }

    /// Tells the handler no more input will come: the peer sent EOF, or the
    /// server is shutting down and reads no further requests.
    pub fn finish_input(&mut self) {
        if self.read_closed {
            return;
        }
        self.read_closed = true;
        if !self.closing && !self.broken {
            self.call_with_pending(true);
        }
        self.pending = Vec::new();
    }

    /// Sends queued output until it is all gone or the transport would block
    /// (then `Err(WouldBlock)`), calling the handler for more whenever it asked
    /// to be resumed and the output has drained.
    pub fn flush_to<T: Transport + ?Sized>(&mut self, transport: &mut T) -> io::Result<()> {
        loop {
            if !self.output.is_empty() {
                if self.output.send_to(transport)? > 0 {
                    self.last_active = Instant::now();
                }
                if !self.output.is_empty() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
            }
            if self.closing || self.broken || !self.output.take_resume() {
                return Ok(());
            }
            let before = self.pending.len();
            self.call_with_pending(self.read_closed);
            let stalled = self.output.is_empty() && self.pending.len() == before;
            if stalled && self.output.resume_requested() {
                log::warn!(
                    "{}: handler asked to resume but wrote nothing; closing",
                    self.peer
                );
                self.closing = true;
            }
        }
    }

    /// Whether the strategy should read from the peer now. False once input
    /// ended, while closing, and while the output is above its high-water mark
    /// (backpressure).
    pub fn wants_read(&self) -> bool {
        !self.read_closed && !self.closing && !self.broken && !self.output.is_full()
    }

    /// Whether the strategy should call [`Conn::flush_to`]: output is queued,
    /// or the handler waits to write its next chunk.
    pub fn wants_write(&self) -> bool {
        !self.broken && (!self.output.is_empty() || self.output.resume_requested())
    }

    /// Whether the connection is done and its socket should be closed.
    pub fn is_finished(&self) -> bool {
        self.broken
            || (self.output.is_empty()
                && (self.closing || (self.read_closed && !self.output.resume_requested())))
    }

    /// How long since bytes last moved in either direction.
    pub fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_active)
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Bytes queued for sending (for tests and diagnostics).
    pub fn queued_output(&self) -> u64 {
        self.output.len()
    }

    fn call_with_pending(&mut self, eof: bool) {
        let pending = mem::take(&mut self.pending);
        let used = self.call(&pending, eof);
        self.pending = pending;
        self.pending.drain(..used);
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            // Idle connections should cost no buffer memory (C10K).
            self.pending = Vec::new();
        }
    }

    /// Calls `on_input` and returns how many bytes it consumed.
    fn call(&mut self, bytes: &[u8], eof: bool) -> usize {
        let handler = &mut self.handler;
        let mut cx = Cx {
            input: Input::new(bytes, eof),
            output: &mut self.output,
        };
        let result = catch_unwind(AssertUnwindSafe(|| handler.on_input(&mut cx)));
        let used = cx.input.consumed();
        self.settle(result);
        used
    }

    fn settle(&mut self, result: std::thread::Result<Result<Flow, crate::ProtocolError>>) {
        match result {
            Ok(Ok(Flow::Continue)) => {}
            Ok(Ok(Flow::Close)) => self.closing = true,
            Ok(Err(e)) => {
                log::debug!("{}: protocol error: {e}", self.peer);
                self.closing = true;
            }
            Err(_) => {
                // The panic message was already printed by the panic hook.
                log::error!(
                    "{}: handler panicked; closing this connection only",
                    self.peer
                );
                self.broken = true;
            }
        }
    }
}
