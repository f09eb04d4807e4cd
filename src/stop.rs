//! Shutdown requests: a flag plus a pipe that every waiting loop watches.
//!
//! socketserver polled a flag every half second; here the read end of a pipe
//! becomes readable the moment shutdown is asked for and stays readable, so
//! epoll, poll, select, io_uring and blocking accept loops all wake at once
//! without polling. Writing one byte to a pipe is async-signal-safe, so the
//! same mechanism serves SIGINT/SIGTERM with no signal-handling thread (which
//! the `fork` strategy could not tolerate).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::pipe::PipeFlags;

/// A handle that asks a running server to shut down gracefully; the
/// counterpart of socketserver's `shutdown()`. Cheap to clone; usable from any
/// thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    inner: Arc<StopInner>,
}

#[derive(Debug)]
struct StopInner {
    requested: Arc<AtomicBool>,
    read: OwnedFd,
    write: OwnedFd,
    signals: std::sync::Mutex<Vec<signal_hook::SigId>>,
}

impl ShutdownHandle {
    pub(crate) fn new() -> io::Result<Self> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(ShutdownHandle {
            inner: Arc::new(StopInner {
                requested: Arc::new(AtomicBool::new(false)),
                read,
                write,
                signals: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Asks the server to stop: it stops accepting, lets open connections
    /// finish their pending replies (up to [`crate::Limits::grace`]), closes
    /// them, and `serve` returns.
    pub fn shutdown(&self) {
        self.inner.requested.store(true, Ordering::Release);
        // A full pipe already wakes everyone, so EAGAIN is fine to ignore.
        let _ = rustix::io::write(&self.inner.write, b"x");
    }

    /// Whether shutdown has been asked for.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::Acquire)
    }

    /// An fd that becomes readable, and stays readable, once shutdown is
    /// asked for. Event loops register it next to their sockets.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.read.as_fd()
    }

    /// Sleeps until shutdown is asked for or `timeout` passes; returns whether
    /// it was asked for.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if self.is_requested() {
            return true;
        }
        let mut fds = [PollFd::new(&self.inner.read, PollFlags::IN)];
        let timeout = timeout.and_then(|t| rustix::event::Timespec::try_from(t).ok());
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
        self.is_requested()
    }

    /// Makes the given signals (SIGINT, SIGTERM) request shutdown, for as long
    /// as any clone of this handle lives.
    pub fn shutdown_on_signals(&self, signals: &[i32]) -> io::Result<()> {
        let mut ids = self.inner.signals.lock().unwrap_or_else(|e| e.into_inner());
        for &signal in signals {
            // The flag is registered first, so it is already set when a loop
            // woken by the pipe byte looks at it.
            ids.push(signal_hook::flag::register(
                signal,
                Arc::clone(&self.inner.requested),
            )?);
            let write = self.inner.write.try_clone()?;
            ids.push(signal_hook::low_level::pipe::register_raw(signal, write)?);
        }
        Ok(())
    }
}

impl Drop for StopInner {
    fn drop(&mut self) {
        let ids = self.signals.get_mut().unwrap_or_else(|e| e.into_inner());
        for id in ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn shutdown_wakes_a_waiter_from_another_thread() {
        let handle = ShutdownHandle::new().unwrap();
        assert!(!handle.wait(Some(Duration::from_millis(10))));
        let remote = handle.clone();
        let started = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            remote.shutdown();
        });
        assert!(handle.wait(Some(Duration::from_secs(10))));
        assert!(started.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
    }
}
