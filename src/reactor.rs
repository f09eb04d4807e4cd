//! The shared event loop of readiness-based strategies (epoll, and every
//! other "wait until a socket is ready, then do non-blocking IO" model).
//!
//! A strategy supplies a [`Poller`], the one piece that differs between
//! epoll, poll and select; [`Reactor`] does the rest: accepting, driving
//! [`Conn`]s, interest updates, the idle sweep, pausing the listener at the
//! connection limit, and the graceful drain on shutdown.

use std::io;
use std::mem;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::accept::{Accepted, Acceptor, Incoming};
use crate::conn::Conn;
use crate::handler::Service;
use crate::limits::Permit;
use crate::strategy::ServeContext;

/// Which readiness a registration asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interest {
    /// Wake when readable (or hung up).
    pub read: bool,
    /// Wake when writable.
    pub write: bool,
}

impl Interest {
    /// Readable only.
    pub const READ: Interest = Interest {
        read: true,
        write: false,
    };
    /// Readable and writable.
    pub const BOTH: Interest = Interest {
        read: true,
        write: true,
    };
}

/// One readiness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The token the fd was registered with.
    pub token: usize,
    /// Readable, hung up or in error: a read will not block.
    pub readable: bool,
    /// Writable, hung up or in error: a write will not block.
    pub writable: bool,
}

/// An OS readiness mechanism: the only part that differs between epoll, poll
/// and select.
pub trait Poller {
    /// Starts watching `fd` under `token`.
    fn register(&mut self, fd: BorrowedFd<'_>, token: usize, interest: Interest) -> io::Result<()>;
    /// Changes what `fd` is watched for.
    fn reregister(
        &mut self,
        fd: BorrowedFd<'_>,
        token: usize,
        interest: Interest,
    ) -> io::Result<()>;
    /// Stops watching `fd`.
    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()>;
    /// Waits for readiness, at most `timeout` (`None`: no limit), replacing
    /// the contents of `events`.
    fn wait(&mut self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;
    /// Edge-triggered pollers report each readiness change once; the reactor
    /// then registers every socket for both directions once and remembers
    /// readiness itself.
    fn is_edge_triggered(&self) -> bool {
        false
    }
    /// Told after each turn of the loop whether any bytes moved or any
    /// connection was accepted. Only a poller that does not really wait (the
    /// `nonblocking` strategy's) needs it, to back off while idle.
    fn note_progress(&mut self, progressed: bool) {
        let _ = progressed;
    }
}

/// The token the reactor registers its listening socket under.
pub const LISTENER: usize = usize::MAX;
/// The token the reactor registers the shutdown fd under.
pub const SHUTDOWN: usize = usize::MAX - 1;
/// Connections accepted per wake-up before other work gets a turn.
const ACCEPT_BATCH: usize = 256;
/// Reads per connection per turn, so one fast sender cannot starve the rest.
const READS_PER_TURN: usize = 16;
/// How soon a listener paused at the connection limit is tried again, when
/// the freed place belongs to another thread's connection.
const LIMIT_RECHECK: Duration = Duration::from_millis(20);

struct Entry<H> {
    stream: TcpStream,
    conn: Conn<H>,
    /// What the poller watches for (level-triggered pollers only).
    interest: Interest,
    /// Readiness seen and not used up yet.
    readable: bool,
    writable: bool,
    _permit: Permit,
}

/// The event loop: one thread, non-blocking sockets, a [`Poller`].
///
/// It deregisters every fd before closing it, so a poller may keep raw fds.
pub struct Reactor<'a, S: Service, P: Poller> {
    poller: P,
    listener: &'a TcpListener,
    acceptor: Acceptor<'a>,
    service: &'a S,
    cx: &'a ServeContext,
    conns: Slab<Entry<S::Handler>>,
    events: Vec<Event>,
    /// Tokens with readiness left over after their turn.
    carry_over: Vec<usize>,
    scratch: Vec<u8>,
    /// While accepting is paused: when to try again.
    accept_retry: Option<Instant>,
    /// The listener is deregistered while accepting is paused.
    listener_paused: bool,
    /// Set once shutdown began: when the grace period ends.
    grace_deadline: Option<Instant>,
    next_sweep: Instant,
    /// Whether this turn of the loop moved any bytes or accepted anyone.
    progressed: bool,
}

impl<'a, S: Service, P: Poller> Reactor<'a, S, P> {
    /// A reactor serving `service` on `listener` through `poller`.
    pub fn new(poller: P, listener: &'a TcpListener, service: &'a S, cx: &'a ServeContext) -> Self {
        Reactor {
            poller,
            listener,
            acceptor: cx.acceptor(listener, true),
            service,
            cx,
            conns: Slab::new(),
            events: Vec::with_capacity(1024),
            carry_over: Vec::new(),
            scratch: vec![0; 64 * 1024],
            accept_retry: None,
            listener_paused: false,
            grace_deadline: None,
            next_sweep: Instant::now(),
            progressed: false,
        }
    }

    /// Runs until shutdown has been requested and every connection finished,
    /// or the grace period ran out.
    pub fn run(mut self) -> io::Result<()> {
        self.poller
            .register(self.listener.as_fd(), LISTENER, Interest::READ)?;
        self.poller
            .register(self.cx.shutdown().fd(), SHUTDOWN, Interest::READ)?;
        loop {
            let timeout = self.next_timeout();
            match self.poller.wait(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut accept_now = false;
            for i in 0..self.events.len() {
                let event = self.events[i];
                match event.token {
                    LISTENER => accept_now = true,
                    SHUTDOWN => self.begin_shutdown(),
                    token => self.on_event(event, token),
                }
            }
            for token in mem::take(&mut self.carry_over) {
                self.drive(token);
            }
            let now = Instant::now();
            if self.accept_retry.is_some_and(|at| now >= at) {
                accept_now = true;
            }
            if accept_now && self.grace_deadline.is_none() {
                self.accept()?;
            }
            if now >= self.next_sweep {
                self.sweep_idle(now);
            }
            self.poller.note_progress(mem::take(&mut self.progressed));
            if let Some(deadline) = self.grace_deadline {
                if self.conns.is_empty() {
                    return Ok(());
                }
                if now >= deadline {
                    log::warn!(
                        "grace period over: closing {} connection(s)",
                        self.conns.len()
                    );
                    return Ok(());
                }
            }
        }
    }

    fn on_event(&mut self, event: Event, token: usize) {
        if let Some(entry) = self.conns.get_mut(token) {
            entry.readable |= event.readable;
            entry.writable |= event.writable;
            self.drive(token);
        }
    }

    /// Moves bytes for one connection as far as readiness allows.
    fn drive(&mut self, token: usize) {
        let edge = self.poller.is_edge_triggered();
        let Some(entry) = self.conns.get_mut(token) else {
            return;
        };
        let mut reads = 0;
        let keep = loop {
            if entry.writable && entry.conn.wants_write() {
                let queued = entry.conn.queued_output();
                let flushed = entry.conn.flush_to(&mut &entry.stream);
                self.progressed |= entry.conn.queued_output() != queued;
                match flushed {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => entry.writable = false,
                    Err(e) => {
                        log::debug!("{}: {e}", entry.conn.peer());
                        break false;
                    }
                }
            }
            if entry.conn.is_finished() {
                break false;
            }
            if !(entry.readable && entry.conn.wants_read()) {
                break true;
            }
            if reads == READS_PER_TURN {
                self.carry_over.push(token);
                break true;
            }
            reads += 1;
            let read = entry.conn.read_from(&mut &entry.stream, &mut self.scratch);
            self.progressed |= read.is_ok();
            match read {
                // A short read drained the socket; under level triggering the
                // poller says when more arrives, saving a read that would
                // only return EAGAIN. Edge triggering must read to EAGAIN.
                Ok(n) if n == 0 || (!edge && n < self.scratch.len()) => entry.readable = false,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => entry.readable = false,
                Err(e) => {
                    log::debug!("{}: {e}", entry.conn.peer());
                    break false;
                }
            }
        };
        if !keep {
            self.close(token);
        } else if !edge {
            let wanted = Interest {
                read: entry.conn.wants_read(),
                write: entry.conn.wants_write(),
            };
            if wanted != entry.interest {
                entry.interest = wanted;
                if let Err(e) = self.poller.reregister(entry.stream.as_fd(), token, wanted) {
                    log::warn!("{}: cannot update interest: {e}", entry.conn.peer());
                    self.close(token);
                }
            }
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        if self.accept_retry.take().is_some() && self.listener_paused {
            self.poller
                .register(self.listener.as_fd(), LISTENER, Interest::READ)?;
            self.listener_paused = false;
        }
        for _ in 0..ACCEPT_BATCH {
            match self.acceptor.accept()? {
                Accepted::Conn(incoming) => {
                    self.progressed = true;
                    self.add(incoming);
                }
                Accepted::WouldBlock => return Ok(()),
                Accepted::AtLimit => return self.pause_accepting(Instant::now() + LIMIT_RECHECK),
                Accepted::Paused(until) => return self.pause_accepting(until),
            }
        }
        // More clients may be waiting; an edge-triggered poller will not say
        // so again, so come back on the next turn.
        self.accept_retry = Some(Instant::now());
        Ok(())
    }

    fn pause_accepting(&mut self, until: Instant) -> io::Result<()> {
        // A readable listener we do not accept from would wake a
        // level-triggered poller in a busy loop, so stop watching it.
        // Deregistering rather than changing its interest also works for
        // registrations that cannot be modified (EPOLLEXCLUSIVE).
        if !self.listener_paused {
            self.poller.deregister(self.listener.as_fd())?;
            self.listener_paused = true;
        }
        self.accept_retry = Some(until);
        Ok(())
    }

    fn add(&mut self, incoming: Incoming) {
        let Incoming {
            stream,
            peer,
            permit,
        } = incoming;
        let conn = self.cx.new_conn(self.service.new_handler(peer), peer);
        let interest = if self.poller.is_edge_triggered() {
            Interest::BOTH
        } else {
            Interest::READ
        };
        let slot = self.conns.vacant_entry();
        let token = slot.key();
        if let Err(e) = self.poller.register(stream.as_fd(), token, interest) {
            log::warn!("{peer}: cannot watch the connection: {e}");
            return;
        }
        slot.insert(Entry {
            stream,
            conn,
            interest,
            readable: false,
            // A new socket's send buffer is empty: a greeting can go at once.
            writable: true,
            _permit: permit,
        });
        self.drive(token);
    }

    fn close(&mut self, token: usize) {
        let entry = self.conns.remove(token);
        let _ = self.poller.deregister(entry.stream.as_fd());
        if self.accept_retry.is_some() && self.grace_deadline.is_none() {
            // A place under the limit just opened up.
            self.accept_retry = Some(Instant::now());
        }
    }

    fn begin_shutdown(&mut self) {
        if self.grace_deadline.is_some() {
            return;
        }
        self.grace_deadline = Some(Instant::now() + self.cx.limits().grace);
        if !self.listener_paused {
            let _ = self.poller.deregister(self.listener.as_fd());
        }
        let _ = self.poller.deregister(self.cx.shutdown().fd());
        self.accept_retry = None;
        let tokens: Vec<usize> = self.conns.iter().map(|(token, _)| token).collect();
        for token in tokens {
            if let Some(entry) = self.conns.get_mut(token) {
                entry.conn.finish_input();
            }
            self.drive(token);
        }
    }

    fn sweep_idle(&mut self, now: Instant) {
        let Some(idle) = self.cx.limits().idle_timeout else {
            self.next_sweep = now + Duration::from_secs(3600);
            return;
        };
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, entry)| entry.conn.idle_for(now) >= idle)
            .map(|(token, _)| token)
            .collect();
        for token in expired {
            log::debug!("{}: idle timeout", self.conns[token].conn.peer());
            self.close(token);
        }
        self.next_sweep = now + (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    }

    fn next_timeout(&self) -> Option<Duration> {
        if !self.carry_over.is_empty() {
            return Some(Duration::ZERO);
        }
        let wake_at = [
            Some(self.next_sweep),
            self.accept_retry,
            self.grace_deadline,
        ]
        .into_iter()
        .flatten()
        .min()?;
        Some(wake_at.saturating_duration_since(Instant::now()))
    }
}
