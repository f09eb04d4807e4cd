//! `nonblocking`: one thread, non-blocking sockets, and no readiness API at
//! all: every pass tries to accept and tries every connection in turn (the
//! tutorials' 单进程非阻塞 polling loop).
//!
//! Each pass costs a syscall per connection whether anything happened or
//! not, which is exactly the waste select, poll and epoll were invented to
//! avoid. To not burn a core while idle, a pass that found nothing to do is
//! followed by a sleep that doubles up to [`MAX_BACKOFF`]; any progress resets
//! it. The price is latency: an idle server answers a new request up to
//! `MAX_BACKOFF` late. Choose it to measure that waste, never in production.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::reactor::{Event, Interest, Poller, Reactor, SHUTDOWN};
use crate::{ServeContext, Service, Strategy};

/// The longest sleep after a pass that found nothing to do.
pub const MAX_BACKOFF: Duration = Duration::from_millis(10);
const MIN_BACKOFF: Duration = Duration::from_micros(50);

/// The busy-polling strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nonblocking;

impl Strategy for Nonblocking {
    fn name(&self) -> &'static str {
        "nonblocking"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        Reactor::new(TryEverything::default(), &listener, &*service, cx).run()
    }
}

/// A [`Poller`] that asks the kernel nothing: it reports every registered
/// socket as ready for what it is registered for, so the reactor simply
/// tries it (and gets `EAGAIN` if there was nothing).
#[derive(Debug, Default)]
pub struct TryEverything {
    watched: HashMap<RawFd, (usize, Interest)>,
    shutdown_fd: Option<RawFd>,
    backoff: Duration,
}

impl Poller for TryEverything {
    fn register(&mut self, fd: BorrowedFd<'_>, token: usize, interest: Interest) -> io::Result<()> {
        if token == SHUTDOWN {
            // Reporting this one as "ready" would stop the server; it is
            // checked for real, and doubles as the back-off sleep.
            self.shutdown_fd = Some(fd.as_raw_fd());
        } else {
            self.watched.insert(fd.as_raw_fd(), (token, interest));
        }
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
        if self.shutdown_fd == Some(fd.as_raw_fd()) {
            self.shutdown_fd = None;
        } else {
            self.watched.remove(&fd.as_raw_fd());
        }
        Ok(())
    }

    fn wait(&mut self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        let sleep = timeout.map_or(self.backoff, |t| t.min(self.backoff));
        if let Some(fd) = self.shutdown_fd {
            // SAFETY: the reactor deregisters the shutdown fd before it can be
            // closed, so it is open for this call.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
            rustix::event::poll(&mut fds, Timespec::try_from(sleep).ok().as_ref())?;
            if !fds[0].revents().is_empty() {
                events.push(Event {
                    token: SHUTDOWN,
                    readable: true,
                    writable: false,
                });
            }
        } else if !sleep.is_zero() {
            std::thread::sleep(sleep);
        }
        events.extend(self.watched.values().map(|&(token, interest)| Event {
            token,
            readable: interest.read,
            writable: interest.write,
        }));
        Ok(())
    }

    fn note_progress(&mut self, progressed: bool) {
        self.backoff = if progressed {
            Duration::ZERO
        } else {
            (self.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF)
        };
    }
}
