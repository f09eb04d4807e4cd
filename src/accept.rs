//! Accepting connections, with one error policy shared by every strategy.
//!
//! - `ECONNABORTED`, `EPROTO`, `EINTR`, `EPERM`: the failure belongs to one
//!   client that is already gone; retry at once.
//! - `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`: the process or machine is out of
//!   a resource. Retrying at once would spin at 100% CPU (the pending
//!   connection stays in the backlog and the listener stays readable), so
//!   accepting pauses briefly while existing connections keep being served.
//! - Anything else means the listener itself is broken: serving stops with
//!   that error.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::SocketFlags;

use crate::limits::{ConnLimiter, Permit};

/// How long accepting pauses after running out of file descriptors or memory.
pub const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// A connection just accepted, with its place under the connection limit.
#[derive(Debug)]
pub struct Incoming {
    /// The connected socket.
    pub stream: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Held for as long as the connection is open.
    pub permit: Permit,
}

/// What one accept attempt gave.
#[derive(Debug)]
pub enum Accepted {
    /// A new connection.
    Conn(Incoming),
    /// No client is waiting.
    WouldBlock,
    /// At the connection limit: wait until a connection closes.
    AtLimit,
    /// Out of a resource: do not accept again before the given instant.
    Paused(Instant),
}

/// What the policy of this module makes of one failed accept. Shared with
/// strategies that accept without an [`Acceptor`] (io_uring's ring accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptFailure {
    /// The failure belongs to one client that is already gone: accept again.
    Retry,
    /// Out of a resource: pause accepting for [`RESOURCE_BACKOFF`] (logged).
    Backoff,
    /// The listener is broken: stop serving with the error.
    Fatal,
}

impl AcceptFailure {
    /// Classifies an error from accept(2). `EAGAIN` is not a failure and
    /// must be handled before; here it counts as fatal.
    pub fn of(error: &io::Error) -> Self {
        match error.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::CONNABORTED | Errno::PROTO | Errno::INTR | Errno::PERM) => {
                AcceptFailure::Retry
            }
            Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM) => {
                log::warn!(
                    "accept: {error}; pausing accepts for {RESOURCE_BACKOFF:?}, \
                     open connections keep being served"
                );
                AcceptFailure::Backoff
            }
            _ => AcceptFailure::Fatal,
        }
    }
}

/// Accepts from a non-blocking listener, applying the connection limit and the
/// error policy of this module.
#[derive(Debug)]
pub struct Acceptor<'l> {
    listener: &'l TcpListener,
    limiter: ConnLimiter,
    flags: SocketFlags,
    paused_until: Option<Instant>,
}

impl<'l> Acceptor<'l> {
    /// An acceptor on `listener` (which must be non-blocking); accepted sockets
    /// are non-blocking if `nonblocking` is set.
    pub fn new(listener: &'l TcpListener, limiter: ConnLimiter, nonblocking: bool) -> Self {
        let mut flags = SocketFlags::CLOEXEC;
        if nonblocking {
            // accept4 sets O_NONBLOCK in the same syscall.
            flags |= SocketFlags::NONBLOCK;
        }
        Acceptor {
            listener,
            limiter,
            flags,
            paused_until: None,
        }
    }

    /// Tries to accept one connection. An `Err` means the listener is broken.
    pub fn accept(&mut self) -> io::Result<Accepted> {
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return Ok(Accepted::Paused(until));
            }
            self.paused_until = None;
        }
        let Some(permit) = self.limiter.try_acquire() else {
            return Ok(Accepted::AtLimit);
        };
        loop {
            match rustix::net::acceptfrom_with(self.listener, self.flags) {
                Ok((fd, addr)) => {
                    let peer = addr
                        .and_then(|a| SocketAddr::try_from(a).ok())
                        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
                    return Ok(Accepted::Conn(Incoming {
                        stream: TcpStream::from(fd),
                        peer,
                        permit,
                    }));
                }
                Err(Errno::AGAIN) => return Ok(Accepted::WouldBlock),
                Err(e) => {
                    let e = io::Error::from(e);
                    match AcceptFailure::of(&e) {
                        AcceptFailure::Retry => continue,
                        AcceptFailure::Backoff => {
                            let until = Instant::now() + RESOURCE_BACKOFF;
                            self.paused_until = Some(until);
                            return Ok(Accepted::Paused(until));
                        }
                        AcceptFailure::Fatal => return Err(e),
                    }
                }
            }
        }
    }
}
