//! `select`: one thread, non-blocking sockets, select(2), the oldest
//! readiness API (the tutorials' select server).
//!
//! Each wait passes bitmaps of fd numbers to the kernel, which scans them all:
//! cost grows with the highest fd, not with activity. The bitmaps are
//! `FD_SETSIZE` (1024) bits, a hard limit of the API: an fd numbered 1024 or
//! more cannot be watched at all (with glibc's `fd_set`, setting it would
//! write past the end of the set). Such a connection is closed at once with a
//! logged reason while every other connection keeps being served. Choose it
//! to see why poll and epoll exist, or on a system that has nothing else.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{FdSetElement, FdSetIter, Timespec, fd_set_insert, fd_set_num_elements};

use crate::reactor::{Event, Interest, Poller, Reactor};
use crate::{ServeContext, Service, Strategy};

/// select(2) cannot watch fds numbered this or higher.
pub const FD_SETSIZE: usize = 1024;

/// The select strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Select;

impl Strategy for Select {
    fn name(&self) -> &'static str {
        "select"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        Reactor::new(SelectPoller::new(), &listener, &*service, cx).run()
    }
}

/// A [`Poller`] over select(2), limited to fds below [`FD_SETSIZE`].
#[derive(Debug)]
pub struct SelectPoller {
    /// Token and interest of each watched fd, indexed by fd number.
    slots: Vec<Option<(usize, Interest)>>,
}

impl Default for SelectPoller {
    fn default() -> Self {
        SelectPoller::new()
    }
}

impl SelectPoller {
    /// A poller watching nothing yet.
    pub fn new() -> Self {
        SelectPoller {
            slots: vec![None; FD_SETSIZE],
        }
    }

    fn slot(&mut self, fd: RawFd) -> io::Result<&mut Option<(usize, Interest)>> {
        usize::try_from(fd)
            .ok()
            .and_then(|fd| self.slots.get_mut(fd))
            .ok_or_else(|| {
                io::Error::other(format!(
                    "fd {fd} is beyond select's FD_SETSIZE ({FD_SETSIZE}); use poll or epoll for more connections"
                ))
            })
    }
}

impl Poller for SelectPoller {
    fn register(&mut self, fd: BorrowedFd<'_>, token: usize, interest: Interest) -> io::Result<()> {
        *self.slot(fd.as_raw_fd())? = Some((token, interest));
        Ok(())
    }

    fn reregister(
        &mut self,
        fd: BorrowedFd<'_>,
        token: usize,
        interest: Interest,
    ) -> io::Result<()> {
        self.register(fd, token, interest)
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        *self.slot(fd.as_raw_fd())? = None;
        Ok(())
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let elements = fd_set_num_elements(FD_SETSIZE, FD_SETSIZE as RawFd);
        let mut readable = vec![FdSetElement::default(); elements];
        let mut writable = vec![FdSetElement::default(); elements];
        let mut nfds = 0;
        for (fd, slot) in self.slots.iter().enumerate() {
            let Some((_, interest)) = slot else { continue };
            if interest.read {
                fd_set_insert(&mut readable, fd as RawFd);
            }
            if interest.write {
                fd_set_insert(&mut writable, fd as RawFd);
            }
            nfds = fd + 1;
        }
        let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
        // SAFETY: the sets hold only registered fds, and the reactor
        // deregisters every fd before closing it, so all are open.
        unsafe {
            rustix::event::select(
                nfds as i32,
                Some(&mut readable),
                Some(&mut writable),
                None,
                timeout.as_ref(),
            )?
        };
        events.clear();
        for fd in FdSetIter::new(&readable) {
            if let Some((token, _)) = self.slots[fd as usize] {
                events.push(Event {
                    token,
                    readable: true,
                    writable: false,
                });
            }
        }
        for fd in FdSetIter::new(&writable) {
            if let Some((token, _)) = self.slots[fd as usize] {
                events.push(Event {
                    token,
                    readable: false,
                    writable: true,
                });
            }
        }
        Ok(())
    }
}
