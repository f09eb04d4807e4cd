//! The concurrency strategies: one file each, all serving any [`Service`].
//!
//! | name        | model | pick it when |
//! |-------------|-------|--------------|
//! | `iterative` | one connection at a time on one thread | teaching, or strictly sequential short exchanges |
//! | `thread`    | a thread per connection, blocking IO | hundreds of connections, simplest mental model |
//! | `pool`      | fixed worker threads fed by a bounded queue | bounded threads and memory, short connections |
//! | `epoll`     | one thread, non-blocking sockets, epoll(7) | thousands of connections on one core |
//! | `async`     | a task per connection on a smol executor, `--workers` threads | many connections on all cores, small runtime |
//! | `tokio`     | a task per connection on tokio's multi-thread runtime | the baseline most Rust services run on |
//!
//! Blocking strategies share [`crate::blocking::BlockingDriver`]; readiness
//! strategies share [`crate::reactor::Reactor`] and supply only a
//! [`crate::reactor::Poller`]; task-per-connection strategies share the
//! connection loop in `strategies/task.rs`. Inside this module `smol` and
//! `tokio` name the strategy modules; the crates are `::smol` and `::tokio`.

use crate::{Error, Server, Service};

pub mod epoll;
pub mod iterative;
pub mod pool;
pub mod smol;
mod task;
pub mod thread;
pub mod tokio;

pub use epoll::Epoll;
pub use iterative::Iterative;
pub use pool::Pool;
pub use smol::Async;
pub use thread::Thread;
pub use tokio::Tokio;

/// Every strategy the `srvkit` command can run, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyKind {
    /// One connection at a time.
    Iterative,
    /// A thread per connection.
    Thread,
    /// Fixed worker threads fed by a bounded queue.
    Pool,
    /// One thread, epoll(7).
    Epoll,
    /// A task per connection on a smol executor.
    Async,
    /// A task per connection on tokio's multi-thread runtime.
    Tokio,
}

/// Settings some strategies take from the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Worker threads or processes (`pool`, `async`, `tokio`); `None` for the
    /// strategy's default.
    pub workers: Option<usize>,
    /// Edge-triggered readiness (`epoll`).
    pub edge_triggered: bool,
}

impl StrategyKind {
    /// Every strategy, in the order `srvkit list` shows them.
    pub const ALL: [StrategyKind; 6] = [
        StrategyKind::Iterative,
        StrategyKind::Thread,
        StrategyKind::Pool,
        StrategyKind::Epoll,
        StrategyKind::Async,
        StrategyKind::Tokio,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Iterative => "iterative",
            StrategyKind::Thread => "thread",
            StrategyKind::Pool => "pool",
            StrategyKind::Epoll => "epoll",
            StrategyKind::Async => "async",
            StrategyKind::Tokio => "tokio",
        }
    }

    /// A one-line description for `srvkit list`.
    pub fn description(self) -> &'static str {
        match self {
            StrategyKind::Iterative => "one connection at a time, blocking IO (the loop server)",
            StrategyKind::Thread => "a thread per connection, blocking IO (ThreadingMixIn)",
            StrategyKind::Pool => "fixed worker threads fed by a bounded queue (--workers)",
            StrategyKind::Epoll => {
                "one thread, non-blocking sockets, epoll (--edge for edge-triggered)"
            }
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
        match self {
            StrategyKind::Iterative => server.serve(&Iterative, service),
            StrategyKind::Thread => server.serve(&Thread, service),
            StrategyKind::Pool => {
                let workers = options.workers.unwrap_or_else(Pool::default_workers);
                server.serve(&Pool { workers }, service)
            }
            StrategyKind::Epoll => server.serve(
                &Epoll {
                    edge_triggered: options.edge_triggered,
                },
                service,
            ),
            StrategyKind::Async => {
                let workers = options.workers.unwrap_or_else(Async::default_workers);
                server.serve(&Async { workers }, service)
            }
            StrategyKind::Tokio => {
                let workers = options.workers.unwrap_or_else(Tokio::default_workers);
                server.serve(&Tokio { workers }, service)
            }
        }
    }
}
