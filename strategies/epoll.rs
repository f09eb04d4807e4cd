//! `epoll`: one thread, non-blocking sockets, Linux's epoll(7).
//!
//! The model of nginx, Redis and mio. The kernel keeps the set of watched
//! sockets, so each wait costs O(ready) rather than O(watched): the loop that
//! holds 10,000 idle connections does no work for them. Level-triggered by
//! default (the kernel reports a socket for as long as it is ready);
//! edge-triggered with `--edge` (reported once per change, so the reactor
//! reads and writes until `EAGAIN` and remembers readiness itself, saving
//! `epoll_ctl` calls when interest changes).
//!
//! Choose it for many connections on one core. One thread means a slow
//! handler call delays every connection; use `reactors` to use every core.

use std::io;
use std::net::TcpListener;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};

/// Longer waits are cut to this; the reactor simply waits again.
const MAX_WAIT: Duration = Duration::from_secs(3600);

use crate::reactor::{Event, Interest, LISTENER, Poller, Reactor};
use crate::{ServeContext, Service, Strategy};

/// The epoll strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epoll {
    /// Register sockets edge-triggered (`EPOLLET`) instead of level-triggered.
    pub edge_triggered: bool,
}

impl Strategy for Epoll {
    fn name(&self) -> &'static str {
        "epoll"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let poller = EpollPoller::new(self.edge_triggered)?;
        Reactor::new(poller, &listener, &*service, cx).run()
    }
}

/// A [`Poller`] over one epoll instance.
pub struct EpollPoller {
    epoll: OwnedFd,
    edge_triggered: bool,
    exclusive_accept: bool,
    ready: Vec<epoll::Event>,
}

impl EpollPoller {
    /// A new epoll instance, edge-triggered if asked.
    pub fn new(edge_triggered: bool) -> io::Result<Self> {
        Ok(EpollPoller::from_fd(EpollPoller::create()?, edge_triggered))
    }

    /// A new epoll fd, for a poller to be built on another thread
    /// ([`EpollPoller::from_fd`]; the poller itself is not `Send`).
    pub fn create() -> io::Result<OwnedFd> {
        Ok(epoll::create(CreateFlags::CLOEXEC)?)
    }

    /// A poller over an epoll fd made by [`EpollPoller::create`].
    pub fn from_fd(epoll: OwnedFd, edge_triggered: bool) -> Self {
        EpollPoller {
            epoll,
            edge_triggered,
            exclusive_accept: false,
            ready: Vec::with_capacity(1024),
        }
    }

    /// For processes sharing one listening socket (`prefork`): registers the
    /// listener with `EPOLLEXCLUSIVE`, so a new connection wakes one waiting
    /// process instead of all of them (the thundering herd).
    pub fn exclusive_accept(mut self) -> Self {
        self.exclusive_accept = true;
        self
    }

    fn flags(&self, token: usize, interest: Interest) -> EventFlags {
        if token == LISTENER && self.exclusive_accept {
            // EPOLLEXCLUSIVE admits only a few companion flags.
            return EventFlags::IN | EventFlags::EXCLUSIVE;
        }
        let mut flags = EventFlags::empty();
        if interest.read {
            flags |= EventFlags::IN | EventFlags::RDHUP;
        }
        if interest.write {
            flags |= EventFlags::OUT;
        }
        if self.edge_triggered {
            flags |= EventFlags::ET;
        }
        flags
    }
}

impl Poller for EpollPoller {
    fn register(&mut self, fd: BorrowedFd<'_>, token: usize, interest: Interest) -> io::Result<()> {
        Ok(epoll::add(
            &self.epoll,
            fd,
            EventData::new_u64(token as u64),
            self.flags(token, interest),
        )?)
    }

    fn reregister(
        &mut self,
        fd: BorrowedFd<'_>,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        Ok(epoll::modify(
            &self.epoll,
            fd,
            EventData::new_u64(token as u64),
            self.flags(token, interest),
        )?)
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.and_then(|t| Timespec::try_from(t.min(MAX_WAIT)).ok());
        self.ready.clear();
        epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut self.ready),
            timeout.as_ref(),
        )?;
        events.clear();
        events.extend(self.ready.iter().map(|ready| {
            let flags = ready.flags;
            let failed = flags.intersects(EventFlags::ERR | EventFlags::HUP);
            Event {
                token: ready.data.u64() as usize,
                readable: failed || flags.intersects(EventFlags::IN | EventFlags::RDHUP),
                writable: failed || flags.contains(EventFlags::OUT),
            }
        }));
        Ok(())
    }

    fn is_edge_triggered(&self) -> bool {
        self.edge_triggered
    }
}
