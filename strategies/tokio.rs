//! `tokio`: a task per connection on tokio's multi-threaded runtime.
//!
//! Tokio is the runtime most Rust network services run on, so this strategy
//! is the yardstick srvkit's own strategies are measured against. `serve`
//! builds a runtime with `--workers` worker threads (default: one per core),
//! accepts on the calling thread and spawns a task per connection; the
//! runtime's work-stealing scheduler spreads the tasks over the workers.
//!
//! Each task drives its [`crate::Conn`] over a non-blocking
//! `std::net::TcpStream` registered with tokio's reactor through
//! `tokio::io::unix::AsyncFd`. Every syscall runs inside `AsyncFd::try_io`,
//! so tokio clears its cached readiness exactly when the syscall returned
//! `EAGAIN` (for `sendfile` too) and never otherwise; waits race readiness
//! against the idle timer and the shutdown signal (the loop lives in
//! `strategies/task.rs`, shared with `async`). The reads and `sendfile`s are
//! the core's own; tokio only says when to try again.
//!
//! **Costs.** A task per connection (its future, a reactor registration, a
//! timer-wheel entry: about 2 KiB of memory per idle connection, measured
//! with 10,000; the read buffer is one per worker thread, not one per
//! connection), a waker round trip per wait, and the runtime's threads. Work stealing keeps the
//! cores busy under uneven load, at the price of atomics on every wake.
//! `serve` shuts the runtime down before it returns: no task or runtime
//! thread outlives it.
//!
//! **When to choose it.** Many connections on all cores, or as the baseline
//! to compare the other strategies with: if a hand-written model is not
//! faster than this, it is not worth its code.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;
use ::tokio::sync::{mpsc, watch};

use super::task::{self, Either, ReadySocket};
use crate::accept::{Accepted, Incoming};
use crate::{ServeContext, Service, Strategy};

/// How soon accepting is tried again at the connection limit.
const LIMIT_RECHECK: Duration = Duration::from_millis(20);
/// Connections accepted in a row before the accept loop yields.
const ACCEPT_BATCH: usize = 256;
/// How long the runtime's shutdown waits for its threads once every task has
/// been dropped; they only have to notice.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// The task-per-connection strategy on tokio.
#[derive(Debug, Clone, Copy)]
pub struct Tokio {
    /// Runtime worker threads.
    pub workers: usize,
}

impl Default for Tokio {
    /// [`Tokio::default_workers`] threads.
    fn default() -> Self {
        Tokio {
            workers: Tokio::default_workers(),
        }
    }
}

impl Tokio {
    /// One per core, tokio's own default.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// What every connection task shares.
struct Shared<S> {
    service: Arc<S>,
    cx: ServeContext,
    /// Set to true when the server stops accepting: every connection then
    /// reads no more requests and only sends what it owes.
    closing: watch::Sender<bool>,
}

impl Strategy for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let runtime = ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers.max(1))
            .thread_name("srvkit-tokio")
            .enable_io()
            .enable_time()
            .build()?;
        let shared = Arc::new(Shared {
            service,
            cx: cx.clone(),
            closing: watch::Sender::new(false),
        });
        let result = runtime.block_on(serve_until_drained(&listener, shared));
        // Drops the tasks still running (cut off by the grace period, or the
        // listener broke), closing their sockets, and joins the workers.
        runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
        result
    }
}

/// Accepts until shutdown, then waits for the connections to finish, at
/// most the grace period.
async fn serve_until_drained<S: Service>(
    listener: &TcpListener,
    shared: Arc<Shared<S>>,
) -> io::Result<()> {
    // Each connection task holds a clone of `alive`; `recv` returns `None`
    // once the last one is dropped.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    {
        let listener_fd = register(listener.as_fd())?;
        let stop_fd = register(shared.cx.shutdown().fd())?;
        accept_until_shutdown(listener, &listener_fd, &stop_fd, &shared, &alive).await?;
    }
    shared.closing.send_replace(true);
    drop(alive);
    let deadline = Instant::now() + shared.cx.limits().grace;
    if let Either::Right(()) = task::race(all_done.recv(), sleep_until(deadline)).await {
        log::warn!(
            "grace period over: closing {} connection(s)",
            shared.cx.limiter().open()
        );
    }
    Ok(())
}

/// Watches a borrowed fd (the listener, the shutdown pipe) for readability.
fn register(fd: BorrowedFd<'_>) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    // SAFETY: `fd` is open for the whole lifetime of the returned `AsyncFd`,
    // which the borrow ties to it, and a `BorrowedFd` always names the same fd.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}

async fn accept_until_shutdown<S: Service>(
    listener: &TcpListener,
    listener_fd: &AsyncFd<BorrowedFd<'_>>,
    stop_fd: &AsyncFd<BorrowedFd<'_>>,
    shared: &Arc<Shared<S>>,
    alive: &mpsc::Sender<()>,
) -> io::Result<()> {
    let shutdown = shared.cx.shutdown();
    let mut acceptor = shared.cx.acceptor(listener, true);
    let mut accepted = 0;
    while !shutdown.is_requested() {
        // Inside `try_io`, so that the listener's readiness is cleared only
        // when `accept4` itself said `EAGAIN`.
        let outcome = listener_fd.try_io(Interest::READABLE, |_| match acceptor.accept() {
            Ok(Accepted::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            other => other,
        });
        match outcome {
            Ok(Accepted::Conn(incoming)) => {
                ::tokio::spawn(connection(Arc::clone(shared), incoming, alive.clone()));
                accepted += 1;
                if accepted == ACCEPT_BATCH {
                    accepted = 0;
                    ::tokio::task::yield_now().await;
                }
            }
            Ok(Accepted::WouldBlock) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                accepted = 0;
                match task::race(listener_fd.readable(), stop_fd.readable()).await {
                    // Readiness is kept: the next `try_io` uses it.
                    Either::Left(ready) => drop(ready?),
                    Either::Right(ready) => drop(ready?),
                }
            }
            Err(e) => return Err(e),
            Ok(Accepted::AtLimit) => {
                let recheck = Instant::now() + LIMIT_RECHECK;
                let _ = task::race(sleep_until(recheck), stop_fd.readable()).await;
            }
            Ok(Accepted::Paused(until)) => {
                let _ = task::race(sleep_until(until), stop_fd.readable()).await;
            }
        }
    }
    Ok(())
}

/// One connection, from accept to close.
async fn connection<S: Service>(
    shared: Arc<Shared<S>>,
    incoming: Incoming,
    alive: mpsc::Sender<()>,
) {
    let Incoming {
        stream,
        peer,
        permit,
    } = incoming;
    // SAFETY: the `AsyncFd` owns the stream, so the fd stays open and is the
    // same one for as long as it is registered.
    let socket = match unsafe { AsyncFd::register(stream) } {
        Ok(socket) => socket,
        Err(e) => {
            log::warn!("{peer}: cannot watch the connection: {e}");
            return;
        }
    };
    let cx = &shared.cx;
    let mut conn = cx.new_conn(shared.service.new_handler(peer), peer);
    let mut closing = shared.closing.subscribe();
    let closing = async move {
        let _ = closing.wait_for(|&closing| closing).await;
    };
    task::drive(
        &socket,
        &mut conn,
        cx.shutdown(),
        cx.limits().idle_timeout,
        sleep_until,
        closing,
    )
    .await;
    // Close the socket before giving back the place under the limit and
    // reporting this task done.
    drop(socket);
    drop(permit);
    drop(alive);
}

async fn sleep_until(at: Instant) {
    ::tokio::time::sleep_until(at.into()).await;
}

impl ReadySocket for AsyncFd<TcpStream> {
    fn try_read<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::READABLE, op)
    }

    fn try_write<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R> {
        self.try_io(Interest::WRITABLE, op)
    }

    fn ready(&self, read: bool, write: bool) -> impl Future<Output = io::Result<()>> + Send {
        let interest = match (read, write) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (false, true) => Interest::WRITABLE,
            // (false, false) is never awaited.
            _ => Interest::READABLE,
        };
        // Returns at once if tokio still holds readiness that `try_io` did
        // not clear; the caller then simply tries again.
        async move { AsyncFd::ready(self, interest).await.map(drop) }
    }
}
