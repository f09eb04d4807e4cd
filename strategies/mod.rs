//! The concurrency strategies: one file each, all serving any [`Service`].
//!
//! | name        | model | pick it when |
//! |-------------|-------|--------------|
//! | `iterative` | one connection at a time on one thread | teaching, or strictly sequential short exchanges |
//! | `thread`    | a thread per connection, blocking IO | hundreds of connections, simplest mental model |
//! | `pool`      | fixed worker threads fed by a bounded queue | bounded threads and memory, short connections |
//! | `epoll`     | one thread, non-blocking sockets, epoll(7) | thousands of connections on one core |
//! | `uring`     | one thread, completion-based IO through io_uring (Linux 5.11+) | busy connections where syscalls per operation dominate |
//!
//! Blocking strategies share [`crate::blocking::BlockingDriver`]; readiness
//! strategies share [`crate::reactor::Reactor`] and supply only a
//! [`crate::reactor::Poller`]. `uring` has a loop of its own: it submits
//! operations and reaps completions instead of waiting for readiness.

use crate::{Error, Server, Service};

pub mod epoll;
pub mod iterative;
pub mod pool;
pub mod thread;
pub mod uring;

pub use epoll::Epoll;
pub use iterative::Iterative;
pub use pool::Pool;
pub use thread::Thread;
pub use uring::Uring;

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
    /// One thread, io_uring.
    Uring,
}

/// Settings some strategies take from the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Worker threads or processes (`pool`); `None` for the strategy's default.
    pub workers: Option<usize>,
    /// Edge-triggered readiness (`epoll`).
    pub edge_triggered: bool,
}

impl StrategyKind {
    /// Every strategy, in the order `srvkit list` shows them.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Iterative,
        StrategyKind::Thread,
        StrategyKind::Pool,
        StrategyKind::Epoll,
        StrategyKind::Uring,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Iterative => "iterative",
            StrategyKind::Thread => "thread",
            StrategyKind::Pool => "pool",
            StrategyKind::Epoll => "epoll",
            StrategyKind::Uring => "uring",
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
            StrategyKind::Uring => "one thread, completion-based IO through io_uring (Linux 5.11+)",
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
            StrategyKind::Uring => server.serve(&Uring::default(), service),
        }
    }
}
