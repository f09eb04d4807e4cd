//! `reactors`: N threads, each an independent epoll loop with its own
//! `SO_REUSEPORT` listening socket, sharing nothing (thread-per-core, the
//! model of Seastar, Glommio and nginx's `reuseport` workers).
//!
//! The kernel hashes each incoming connection to one of the N listening
//! sockets, so the reactors never contend on an accept queue or a lock, and a
//! connection lives its whole life on one thread. Costs: a connection stuck on
//! a busy reactor cannot move to an idle one, and state shared across
//! connections needs synchronisation. Choose it to use every core for many
//! connections. `--workers N` sets the number of reactors (default: cores).

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use socket2::SockRef;

use super::epoll::EpollPoller;
use crate::reactor::Reactor;
use crate::{BindOptions, ServeContext, Service, Strategy, bind_listener};

/// The thread-per-core strategy.
#[derive(Debug, Clone, Copy)]
pub struct Reactors {
    /// Reactor threads.
    pub workers: usize,
}

impl Default for Reactors {
    /// One reactor per core.
    fn default() -> Self {
        Reactors {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Strategy for Reactors {
    fn name(&self) -> &'static str {
        "reactors"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        // The server's socket joins the port's reuseport group (Linux allows
        // setting the option after listen) and each further reactor binds a
        // socket of its own beside it.
        SockRef::from(&listener).set_reuse_port(true)?;
        let options = BindOptions {
            reuse_port: true,
            ..cx.bind_options().clone()
        };
        let mut listeners = vec![listener];
        for _ in 1..self.workers.max(1) {
            listeners.push(bind_listener(cx.local_addr(), &options).map_err(io::Error::other)?);
        }
        // Every fd a reactor needs is made before any reactor accepts, so a
        // flood of clients using up the fd limit cannot stop one starting.
        let epolls = listeners
            .iter()
            .map(|_| EpollPoller::create())
            .collect::<io::Result<Vec<_>>>()?;
        std::thread::scope(|scope| {
            let mut running = Vec::new();
            let mut outcome = Ok(());
            for (i, (listener, epoll)) in listeners.iter().zip(epolls).enumerate() {
                let service = &*service;
                let spawned = std::thread::Builder::new()
                    .name(format!("srvkit-reactor-{i}"))
                    .spawn_scoped(scope, move || {
                        let poller = EpollPoller::from_fd(epoll, false);
                        let result = Reactor::new(poller, listener, service, cx).run();
                        if result.is_err() {
                            // One reactor failing stops the others.
                            cx.shutdown().shutdown();
                        }
                        result
                    });
                match spawned {
                    Ok(reactor) => running.push(reactor),
                    Err(e) => {
                        cx.shutdown().shutdown();
                        outcome = Err(e);
                        break;
                    }
                }
            }
            for reactor in running {
                let result = reactor
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a reactor thread panicked")));
                outcome = outcome.and(result);
            }
            outcome
        })
    }
}
