//! `poll`: one thread, non-blocking sockets, poll(2).
//!
//! select's successor: the watched set is an array of `pollfd` records, so
//! there is no fd-number limit. Like select, every wait hands the whole array
//! to the kernel, which scans all of it: the cost of a wait grows with the
//! number of connections, not with how many are ready, which is what epoll
//! fixed. Portable (POSIX); fine up to a few thousand connections.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::reactor::{Event, Interest, Poller, Reactor};
use crate::{ServeContext, Service, Strategy};

/// The poll strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Poll;

impl Strategy for Poll {
    fn name(&self) -> &'static str {
        "poll"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        Reactor::new(PollPoller::default(), &listener, &*service, cx).run()
    }
}

/// A [`Poller`] over poll(2): the registrations live here and are handed to
/// the kernel in full on every wait.
#[derive(Debug, Default)]
pub struct PollPoller {
    /// (fd, token, interest), in no particular order.
    watched: Vec<(RawFd, usize, Interest)>,
    /// Where each fd sits in `watched`.
    position: HashMap<RawFd, usize>,
}

fn flags(interest: Interest) -> PollFlags {
    let mut flags = PollFlags::empty();
    if interest.read {
        flags |= PollFlags::IN;
    }
    if interest.write {
        flags |= PollFlags::OUT;
    }
    flags
}

impl Poller for PollPoller {
    fn register(&mut self, fd: BorrowedFd<'_>, token: usize, interest: Interest) -> io::Result<()> {
        let fd = fd.as_raw_fd();
        if self.position.contains_key(&fd) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        self.position.insert(fd, self.watched.len());
        self.watched.push((fd, token, interest));
        Ok(())
    }

    fn reregister(
        &mut self,
        fd: BorrowedFd<'_>,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        let index = *self
            .position
            .get(&fd.as_raw_fd())
            .ok_or(io::ErrorKind::NotFound)?;
        self.watched[index] = (fd.as_raw_fd(), token, interest);
        Ok(())
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let index = self
            .position
            .remove(&fd.as_raw_fd())
            .ok_or(io::ErrorKind::NotFound)?;
        self.watched.swap_remove(index);
        if let Some(&(moved, _, _)) = self.watched.get(index) {
            self.position.insert(moved, index);
        }
        Ok(())
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let mut fds: Vec<PollFd<'_>> = self
            .watched
            .iter()
            .map(|&(fd, _, interest)| {
                // SAFETY: the reactor deregisters every fd before closing it,
                // so each registered fd is open for the duration of this call.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                PollFd::from_borrowed_fd(fd, flags(interest))
            })
            .collect();
        let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
        rustix::event::poll(&mut fds, timeout.as_ref())?;
        events.clear();
        for (pollfd, &(_, token, _)) in fds.iter().zip(&self.watched) {
            let ready = pollfd.revents();
            if ready.is_empty() {
                continue;
            }
            let failed = ready.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL);
            events.push(Event {
                token,
                readable: failed || ready.contains(PollFlags::IN),
                writable: failed || ready.contains(PollFlags::OUT),
            });
        }
        Ok(())
    }
}
