//! `thread`: a thread per connection (socketserver's `ThreadingMixIn`, the
//! tutorials' Thread server).
//!
//! Each accepted connection gets its own thread running blocking reads and
//! writes, so handlers are simple and a slow client delays nobody else. The
//! cost is a thread per connection: a stack (kept small here, see
//! [`STACK_SIZE`]), a kernel task, and scheduler work that grows with
//! the number of connections. Fine for hundreds of connections; at ten
//! thousand, memory and context switches favour the event loops.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use crate::blocking::BlockingDriver;
use crate::{ServeContext, Service, Strategy};

/// Stack size of connection threads. The default 2 MiB is mostly untouched
/// virtual memory, but it bounds how many threads fit in the address space and
/// costs page tables; handlers need little, as they do no blocking IO of their
/// own. 256 KiB leaves room for a panic message to be printed.
pub const STACK_SIZE: usize = 256 * 1024;

/// The thread-per-connection strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thread;

impl Strategy for Thread {
    fn name(&self) -> &'static str {
        "thread"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let driver = BlockingDriver::new(cx);
        // Scoped threads: leaving the scope joins every connection thread, so
        // `serve` cannot return while one is still running.
        std::thread::scope(|scope| {
            driver.accept_loop(&listener, |incoming| {
                let (driver, service) = (&driver, &*service);
                let spawned = std::thread::Builder::new()
                    .name("srvkit-conn".into())
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(scope, move || driver.drive(incoming, service));
                if let Err(e) = spawned {
                    // The connection is dropped (closed); the server goes on.
                    log::warn!("cannot start a connection thread: {e}");
                }
            })
        })
    }
}
