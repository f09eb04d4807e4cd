//! The concurrency strategies: one file each, all serving any [`Service`].
//!
//! | name          | model | pick it when |
//! |---------------|-------|--------------|
//! | `iterative`   | one connection at a time on one thread | teaching, or strictly sequential short exchanges |
//! | `fork`        | a process per connection | isolation between connections; few, long connections |
//! | `prefork`     | N processes, each an epoll loop on the shared listener | isolation and every core, nginx-style |
//! | `thread`      | a thread per connection, blocking IO | hundreds of connections, simplest mental model |
//! | `pool`        | fixed worker threads fed by a bounded queue | bounded threads and memory, short connections |
//! | `nonblocking` | one thread trying every socket in turn, no readiness API | measuring what readiness APIs save |
//! | `select`      | one thread, select(2); fds above 1024 refused | portability to anything; small servers |
//! | `poll`        | one thread, poll(2) | portable, a few thousand connections |
//! | `epoll`       | one thread, epoll(7), level- or edge-triggered | thousands of connections on one core |
//! | `reactors`    | an epoll loop per core, `SO_REUSEPORT` listener each | many connections on every core |
//!
//! Blocking strategies share [`crate::blocking::BlockingDriver`]; readiness
//! strategies share [`crate::reactor::Reactor`] and supply only a
//! [`crate::reactor::Poller`]; `uring` has a completion loop of its own over
//! [`crate::Conn`] (`strategies/uring/`); task-per-connection strategies share the
//! connection loop in `strategies/task.rs`. Inside this module `smol` and
//! `tokio` name the strategy modules; the crates are `::smol` and `::tokio`.

use crate::{Error, Server, Service};

pub mod epoll;
pub mod fork;
pub mod iterative;
pub mod nonblocking;
pub mod poll;
pub mod pool;
pub mod prefork;
pub mod reactors;
pub mod select;
pub mod smol;
mod task;
pub mod thread;
pub mod tokio;
pub mod uring;

pub use epoll::Epoll;
pub use fork::Fork;
pub use iterative::Iterative;
pub use nonblocking::Nonblocking;
pub use poll::Poll;
pub use pool::Pool;
pub use prefork::Prefork;
pub use reactors::Reactors;
pub use select::Select;
pub use smol::Async;
pub use thread::Thread;
pub use tokio::Tokio;
pub use uring::Uring;

/// Every strategy the `srvkit` command can run, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyKind {
    /// One connection at a time.
    Iterative,
    /// A process per connection.
    Fork,
    /// Worker processes forked at start, each an epoll loop.
    Prefork,
    /// A thread per connection.
    Thread,
    /// Fixed worker threads fed by a bounded queue.
    Pool,
    /// One thread trying every socket in turn.
    Nonblocking,
    /// One thread, select(2).
    Select,
    /// One thread, poll(2).
    Poll,
    /// One thread, epoll(7).
    Epoll,
    /// An epoll loop per core.
    Reactors,
    /// One thread, io_uring.
    Uring,
    /// A task per connection on a smol executor.
    Async,
    /// A task per connection on tokio's multi-thread runtime.
    Tokio,
}

/// Settings some strategies take from the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Worker threads or processes (`pool`, `prefork`, `reactors`, `async`,
    /// `tokio`); `None` for the strategy's default.
    pub workers: Option<usize>,
    /// Edge-triggered readiness (`epoll`).
    pub edge_triggered: bool,
    /// Child processes at most (`fork`).
    pub max_children: Option<usize>,
}

impl StrategyKind {
    /// Every strategy, in the order `srvkit list` shows them.
    pub const ALL: [StrategyKind; 13] = [
        StrategyKind::Iterative,
        StrategyKind::Fork,
        StrategyKind::Prefork,
        StrategyKind::Thread,
        StrategyKind::Pool,
        StrategyKind::Nonblocking,
        StrategyKind::Select,
        StrategyKind::Poll,
        StrategyKind::Epoll,
        StrategyKind::Reactors,
        StrategyKind::Uring,
        StrategyKind::Async,
        StrategyKind::Tokio,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Iterative => "iterative",
            StrategyKind::Fork => "fork",
            StrategyKind::Prefork => "prefork",
            StrategyKind::Thread => "thread",
            StrategyKind::Pool => "pool",
            StrategyKind::Nonblocking => "nonblocking",
            StrategyKind::Select => "select",
            StrategyKind::Poll => "poll",
            StrategyKind::Epoll => "epoll",
            StrategyKind::Reactors => "reactors",
            StrategyKind::Uring => "uring",
            StrategyKind::Async => "async",
            StrategyKind::Tokio => "tokio",
        }
    }

    /// A one-line description for `srvkit list`.
    pub fn description(self) -> &'static str {
        match self {
            StrategyKind::Iterative => "one connection at a time, blocking IO (the loop server)",
            StrategyKind::Fork => "a process per connection (ForkingMixIn; --max-children)",
            StrategyKind::Prefork => {
                "worker processes on a shared listener, epoll each (--workers)"
            }
            StrategyKind::Thread => "a thread per connection, blocking IO (ThreadingMixIn)",
            StrategyKind::Pool => "fixed worker threads fed by a bounded queue (--workers)",
            StrategyKind::Nonblocking => {
                "one thread trying every socket in turn, backing off when idle"
            }
            StrategyKind::Select => "one thread, select(2); at most 1024 fds",
            StrategyKind::Poll => "one thread, poll(2)",
            StrategyKind::Epoll => "one thread, epoll (--edge for edge-triggered)",
            StrategyKind::Reactors => {
                "an epoll loop per core, SO_REUSEPORT listener each (--workers)"
            }
            StrategyKind::Uring => "one thread, completion-based IO through io_uring (Linux 5.11+)",
            StrategyKind::Async => "a task per connection on a smol executor (--workers threads)",
            StrategyKind::Tokio => {
                "a task per connection on tokio's multi-thread runtime (--workers)"
            }
        }
    }

    /// Serves `service` on `server` with this strategy: the one place that maps
    /// a name to a concrete strategy type.
    pub fn serve<S: Service>(
        self,
        server: Server,
        service: S,
        options: &StrategyOptions,
    ) -> Result<(), Error> {
        let workers = options.workers;
        match self {
            StrategyKind::Iterative => server.serve(&Iterative, service),
            StrategyKind::Fork => server.serve(
                &Fork {
                    max_children: options.max_children,
                },
                service,
            ),
            StrategyKind::Prefork => {
                let workers = workers.unwrap_or(Prefork::default().workers);
                server.serve(&Prefork { workers }, service)
            }
            StrategyKind::Thread => server.serve(&Thread, service),
            StrategyKind::Pool => {
                let workers = workers.unwrap_or_else(Pool::default_workers);
                server.serve(&Pool { workers }, service)
            }
            StrategyKind::Nonblocking => server.serve(&Nonblocking, service),
            StrategyKind::Select => server.serve(&Select, service),
            StrategyKind::Poll => server.serve(&Poll, service),
            StrategyKind::Epoll => server.serve(
                &Epoll {
                    edge_triggered: options.edge_triggered,
                },
                service,
            ),
            StrategyKind::Reactors => {
                let workers = workers.unwrap_or(Reactors::default().workers);
                server.serve(&Reactors { workers }, service)
            }
            StrategyKind::Uring => server.serve(&Uring::default(), service),
            StrategyKind::Async => {
                let workers = workers.unwrap_or_else(Async::default_workers);
                server.serve(&Async { workers }, service)
            }
            StrategyKind::Tokio => {
                let workers = workers.unwrap_or_else(Tokio::default_workers);
                server.serve(&Tokio { workers }, service)
            }
        }
    }
}
