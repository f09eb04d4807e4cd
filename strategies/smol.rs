//! `async`: a task per connection on a small [smol](https://docs.rs/smol)
//! executor.
//!
//! The first design named async-std; async-std is discontinued upstream in
//! favour of smol, which is built from the same pieces (async-io's reactor,
//! async-executor), so this strategy uses smol directly.
//!
//! Each connection is an `async` task that drives its [`crate::Conn`] over a
//! non-blocking `std::net::TcpStream` wrapped in `smol::Async`: the task
//! tries a syscall, and on `EAGAIN` awaits `readable()` / `writable()`
//! raced against its idle timer and the shutdown signal (the loop lives in
//! `strategies/task.rs`, shared with `tokio`). The reads and `sendfile`s are
//! the core's own; smol only says when to try again.
//!
//! **Executor.** A multi-threaded `smol::Executor` run on `--workers` threads
//! (default: one per core), the serving thread included. A single-threaded
//! `LocalExecutor` would be the `epoll` strategy with extra steps: one slow
//! handler call (an http handler opening a file on a slow disk) would delay
//! every connection, and only one core would work. With one executor shared
//! by a few threads, idle threads steal ready tasks, so the model scales
//! across cores like `tokio` and the two can be compared like for like.
//! `--workers 1` gives the single-threaded variant.
//!
//! **Costs.** A task per connection (its future, a reactor source, a timer
//! entry: about 1.5 KiB of memory per idle connection, measured with 10,000;
//! the read buffer is one per thread, not one per connection) and a waker
//! round trip through async-io's reactor per wait. Smol's reactor is
//! process-global: it starts one helper thread named `async-io` on first use,
//! which outlives `serve` (it holds no sockets and sleeps in `epoll_wait`
//! once this server is gone); the executor threads and every task end before
//! `serve` returns.
//!
//! **When to choose it.** Many connections on all cores with a small runtime,
//! or to see what a task-per-connection runtime costs next to the hand-written
//! `epoll` reactor. It is also the shape to pick when handlers would await
//! other async work (which `Handler` does not offer yet).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::smol::channel::{self, Receiver, Sender};
use ::smol::{Executor, Timer};

use super::task::{self, Either, ReadySocket};
use crate::accept::{Accepted, Incoming};
use crate::{ServeContext, Service, Strategy};

/// How soon accepting is tried again at the connection limit.
const LIMIT_RECHECK: Duration = Duration::from_millis(20);
/// Connections accepted in a row before the accept task yields.
const ACCEPT_BATCH: usize = 256;

/// The task-per-connection strategy on smol.
#[derive(Debug, Clone, Copy)]
pub struct Async {
    /// Executor threads, the thread calling `serve` included.
    pub workers: usize,
}

impl Default for Async {
    /// [`Async::default_workers`] threads.
    fn default() -> Self {
        Async {
            workers: Async::default_workers(),
        }
    }
}

impl Async {
    /// One thread per core: tasks never block, so more threads than cores
    /// would only add context switches.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// What every connection task borrows from `serve`.
struct Shared<'a, S> {
    service: &'a S,
    cx: &'a ServeContext,
    /// Closed when the server stops accepting: every connection then reads
    /// no more requests and only sends what it owes.
    closing: Receiver<()>,
}

impl Strategy for Async {
    fn name(&self) -> &'static str {
        "async"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let (closing_tx, closing) = channel::bounded(1);
        let shared = Shared {
            service: &*service,
            cx,
            closing,
        };
        let ex = Executor::new();
        // Closed once serving is over; the extra executor threads then leave.
        let (done_tx, done) = channel::bounded::<()>(1);
        let result = std::thread::scope(|scope| {
            for _ in 1..self.workers.max(1) {
                let (ex, done) = (&ex, done.clone());
                let spawned = std::thread::Builder::new()
                    .name("srvkit-smol".into())
                    .spawn_scoped(scope, move || {
                        ::smol::block_on(ex.run(async move {
                            let _ = done.recv().await;
                        }))
                    });
                if let Err(e) = spawned {
                    log::warn!("cannot start an executor thread: {e}; going on with fewer");
                    break;
                }
            }
            let result = ::smol::block_on(ex.run(serve_until_drained(&ex, listener, &shared)));
            done_tx.close();
            result
        });
        // Tasks still running were cut off by the grace period (or the
        // listener broke): dropping the executor drops them, closing their
        // sockets, before `serve` returns.
        drop(ex);
        drop(closing_tx);
        result
    }
}

/// Accepts until shutdown, then waits for the connections to finish, at
/// most the grace period.
async fn serve_until_drained<'a, S: Service>(
    ex: &Executor<'a>,
    listener: TcpListener,
    shared: &'a Shared<'a, S>,
) -> io::Result<()> {
    let cx = shared.cx;
    // Each connection task holds a clone of `alive`; `all_done` reports
    // closed once the last one is dropped.
    let (alive, all_done) = channel::bounded::<()>(1);
    {
        // The core already made the listener non-blocking.
        let listener = ::smol::Async::new_nonblocking(listener)?;
        let stop = ::smol::Async::new_nonblocking(cx.shutdown().fd())?;
        accept_until_shutdown(ex, shared, &listener, &stop, &alive).await?;
        // The listener closes here: clients arriving from now on are
        // refused instead of waiting in a backlog nobody accepts from.
    }
    shared.closing.close();
    drop(alive);
    let deadline = Instant::now() + cx.limits().grace;
    if let Either::Right(()) = task::race(all_done.recv(), sleep_until(deadline)).await {
        log::warn!(
            "grace period over: closing {} connection(s)",
            cx.limiter().open()
        );
    }
    Ok(())
}

async fn accept_until_shutdown<'a, S: Service>(
    ex: &Executor<'a>,
    shared: &'a Shared<'a, S>,
    listener: &::smol::Async<TcpListener>,
    stop: &::smol::Async<std::os::fd::BorrowedFd<'_>>,
    alive: &Sender<()>,
) -> io::Result<()> {
    let shutdown = shared.cx.shutdown();
    let mut acceptor = shared.cx.acceptor(listener.get_ref(), true);
    let mut accepted = 0;
    while !shutdown.is_requested() {
        match acceptor.accept()? {
            Accepted::Conn(incoming) => {
                ex.spawn(connection(shared, incoming, alive.clone()))
                    .detach();
                accepted += 1;
                if accepted == ACCEPT_BATCH {
                    accepted = 0;
                    task::yield_now().await;
                }
            }
            Accepted::WouldBlock => {
                accepted = 0;
                // async-io reports readiness that arrives after this call, so
                // nothing is missed between the failed accept and the wait.
                match task::race(listener.readable(), stop.readable()).await {
                    Either::Left(ready) | Either::Right(ready) => ready?,
                }
            }
            Accepted::AtLimit => {
                let _ =
                    task::race(sleep_until(Instant::now() + LIMIT_RECHECK), stop.readable()).await;
            }
            Accepted::Paused(until) => {
                let _ = task::race(sleep_until(until), stop.readable()).await;
            }
        }
    }
    Ok(())
}

/// One connection, from accept to close.
async fn connection<S: Service>(shared: &Shared<'_, S>, incoming: Incoming, alive: Sender<()>) {
    let Incoming {
        stream,
        peer,
        permit,
    } = incoming;
    // Accepted non-blocking (`accept4` with `SOCK_NONBLOCK`).
    let socket = match ::smol::Async::new_nonblocking(stream) {
        Ok(socket) => socket,
        Err(e) => {
            log::warn!("{peer}: cannot watch the connection: {e}");
            return;
        }
    };
    let cx = shared.cx;
    let mut conn = cx.new_conn(shared.service.new_handler(peer), peer);
    let closing = async {
        let _ = shared.closing.recv().await;
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
    Timer::at(at).await;
}

impl ReadySocket for ::smol::Async<TcpStream> {
    fn try_read<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R> {
        op(self.get_ref())
    }

    fn try_write<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R> {
        op(self.get_ref())
    }

    // async-io waits for an event reported after the wait began (its
    // registrations are one-shot), so a wait right after `EAGAIN` is never
    // satisfied by stale readiness.
    async fn ready(&self, read: bool, write: bool) -> io::Result<()> {
        match (read, write) {
            (true, true) => match task::race(self.readable(), self.writable()).await {
                Either::Left(ready) | Either::Right(ready) => ready,
            },
            (true, false) => self.readable().await,
            (false, true) => self.writable().await,
            (false, false) => std::future::pending().await,
        }
    }
}
