//! `pool`: a fixed set of worker threads fed through a bounded queue.
//!
//! The accept loop puts connections on a bounded crossbeam channel; `workers`
//! threads take them off and serve each to the end with blocking IO. Thread
//! count, and so memory, is fixed however many clients arrive. When every
//! worker is busy and the queue is full, the accept loop blocks and new
//! clients wait in the kernel backlog: backpressure instead of the unbounded
//! queue of the `threadpool` crate (unmaintained, and its queue grows without
//! limit). The weakness of the model: `workers` long-lived idle connections
//! (keep-alive clients) occupy every worker, and the rest wait.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use crossbeam_channel::{Receiver, bounded, select};

use crate::accept::Incoming;
use crate::blocking::BlockingDriver;
use crate::{ServeContext, Service, Strategy};

/// The thread-pool strategy.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Worker threads.
    pub workers: usize,
}

impl Default for Pool {
    /// [`Pool::default_workers`] workers.
    fn default() -> Self {
        Pool {
            workers: Pool::default_workers(),
        }
    }
}

impl Pool {
    /// 16 per core: the workers spend most of their time blocked on slow
    /// clients, not computing, so far more threads than cores pay off.
    pub fn default_workers() -> usize {
        16 * std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

impl Strategy for Pool {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let workers = self.workers.max(1);
        // A short queue: a connection waiting here is already accepted but not
        // served, so a long queue only hides overload from the client.
        let (queue, jobs) = bounded::<Incoming>(workers);
        let driver = BlockingDriver::new(cx);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (driver, service, jobs) = (&driver, &*service, jobs.clone());
                std::thread::Builder::new()
                    .name("srvkit-worker".into())
                    .stack_size(crate::strategies::thread::STACK_SIZE)
                    .spawn_scoped(scope, move || {
                        for incoming in jobs {
                            driver.drive(incoming, service);
                        }
                    })?;
            }
            let stopping = shutdown_channel(cx, scope);
            let result = driver.accept_loop(&listener, |incoming| {
                select! {
                    send(queue, incoming) -> _ => {}
                    // Shutting down with every worker busy: drop (close) it.
                    recv(stopping) -> _ => {}
                }
            });
            // Closing the queue ends the workers once it is drained.
            drop(queue);
            result
        })
    }
}

/// A channel that disconnects once shutdown is requested, so a blocked
/// `send` can be abandoned.
fn shutdown_channel<'scope>(
    cx: &'scope ServeContext,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Receiver<()> {
    let (tx, rx) = bounded::<()>(0);
    scope.spawn(move || {
        while !cx.shutdown().wait(None) {}
        drop(tx);
    });
    rx
}
