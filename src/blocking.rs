//! The shared driver of blocking strategies (iterative, thread, pool): one
//! thread runs one connection at a time with plain blocking `read`/`write`.
//!
//! A thread blocked in `read` cannot watch a shutdown fd, so shutdown reaches
//! it through the socket: a watcher thread calls `shutdown(SHUT_RD)` on every
//! open connection, which makes the blocked `read` return end-of-input; the
//! handler then finishes its pending replies as if the peer had hung up. After
//! the grace period, `shutdown(SHUT_RDWR)` ends whatever is still writing.
//! The idle timeout is `SO_RCVTIMEO`/`SO_SNDTIMEO`: no timer thread needed.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::accept::{Accepted, Incoming};
use crate::handler::Service;
use crate::strategy::ServeContext;
use crate::sys::wait_readable;

/// How often an accept loop at the connection limit looks again.
const LIMIT_RECHECK: Duration = Duration::from_millis(20);

/// Runs blocking connections and stops them on shutdown.
#[derive(Debug)]
pub struct BlockingDriver<'a> {
    cx: &'a ServeContext,
    open: Mutex<Slab<Arc<TcpStream>>>,
    emptied: Condvar,
}

impl<'a> BlockingDriver<'a> {
    /// A driver for connections of the server described by `cx`.
    pub fn new(cx: &'a ServeContext) -> Self {
        BlockingDriver {
            cx,
            open: Mutex::new(Slab::new()),
            emptied: Condvar::new(),
        }
    }

    /// The server this driver belongs to.
    pub fn context(&self) -> &ServeContext {
        self.cx
    }

    /// Accepts connections until shutdown and passes each to `dispatch`
    /// (which runs it inline, spawns a thread, or queues it for a pool).
    /// Returns once shutdown was requested and every connection registered
    /// with this driver has finished or was cut off at the grace deadline.
    pub fn accept_loop(
        &self,
        listener: &TcpListener,
        mut dispatch: impl FnMut(Incoming),
    ) -> io::Result<()> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("srvkit-stop".into())
                .spawn_scoped(scope, || self.stop_connections_on_shutdown())?;
            let result = self.accept_until_shutdown(listener, &mut dispatch);
            if result.is_err() {
                // Let the watcher thread finish too.
                self.cx.shutdown().shutdown();
            }
            result
        })
    }

    fn accept_until_shutdown(
        &self,
        listener: &TcpListener,
        dispatch: &mut impl FnMut(Incoming),
    ) -> io::Result<()> {
        let shutdown = self.cx.shutdown();
        let mut acceptor = self.cx.acceptor(listener, false);
        while !shutdown.is_requested() {
            match acceptor.accept()? {
                Accepted::Conn(incoming) => dispatch(incoming),
                Accepted::WouldBlock => wait_readable(&[listener.as_fd(), shutdown.fd()], None)?,
                Accepted::AtLimit => {
                    shutdown.wait(Some(LIMIT_RECHECK));
                }
                Accepted::Paused(until) => {
                    shutdown.wait(Some(until.saturating_duration_since(Instant::now())));
                }
            }
        }
        Ok(())
    }

    /// Serves one connection to its end on the calling thread.
    pub fn drive<S: Service>(&self, incoming: Incoming, service: &S) {
        let Incoming {
            stream,
            peer,
            permit,
        } = incoming;
        let stream = Arc::new(stream);
        let Some(key) = self.register(&stream) else {
            return;
        };
        let idle = self.cx.limits().idle_timeout;
        if let Err(e) = stream
            .set_read_timeout(idle)
            .and_then(|()| stream.set_write_timeout(idle))
        {
            log::warn!("{peer}: cannot set socket timeouts: {e}");
        }
        let mut conn = self.cx.new_conn(service.new_handler(peer), peer);
        let mut scratch = vec![0; 16 * 1024];
        let mut socket = &*stream;
        let outcome = loop {
            if conn.wants_write()
                && let Err(e) = conn.flush_to(&mut socket)
            {
                break Err(e);
            }
            if conn.is_finished() {
                break Ok(());
            }
            if !conn.wants_read() {
                break Ok(());
            }
            if let Err(e) = conn.read_from(&mut socket, &mut scratch) {
                break Err(e);
            }
        };
        match outcome {
            Err(e) if is_timeout(&e) => log::debug!("{peer}: idle timeout"),
            Err(e) => log::debug!("{peer}: {e}"),
            Ok(()) => {}
        }
        self.deregister(key);
        drop(stream);
        drop(permit);
    }

    fn register(&self, stream: &Arc<TcpStream>) -> Option<usize> {
        let mut open = self.lock();
        if self.cx.shutdown().is_requested() {
            // Accepted just as shutdown began: nothing was read from it, so
            // nothing is owed.
            let _ = stream.shutdown(Shutdown::Both);
            return None;
        }
        Some(open.insert(Arc::clone(stream)))
    }

    fn deregister(&self, key: usize) {
        let mut open = self.lock();
        open.remove(key);
        if open.is_empty() {
            self.emptied.notify_all();
        }
    }

    fn stop_connections_on_shutdown(&self) {
        let shutdown = self.cx.shutdown();
        while !shutdown.wait(None) {}
        self.shutdown_all(Shutdown::Read);
        let deadline = Instant::now() + self.cx.limits().grace;
        let mut open = self.lock();
        while !open.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(
                    "grace period over: closing {} connection(s) still sending",
                    open.len()
                );
                drop(open);
                self.shutdown_all(Shutdown::Both);
                return;
            }
            open = self
                .emptied
                .wait_timeout(open, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn shutdown_all(&self, how: Shutdown) {
        for (_, stream) in self.lock().iter() {
            // Errors mean the peer is already gone, which is what we want.
            let _ = stream.shutdown(how);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slab<Arc<TcpStream>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
