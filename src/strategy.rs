//! The [`Strategy`] trait every concurrency model implements, and the
//! [`ServeContext`] the core hands it.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use crate::accept::Acceptor;
use crate::conn::Conn;
use crate::error::Error;
use crate::handler::{Handler, Service};
use crate::limits::{ConnLimiter, Limits};
use crate::server::BindOptions;
use crate::stop::ShutdownHandle;

/// A concurrency model: how connections are accepted, waited on and driven.
///
/// A strategy only accepts, waits and moves bytes. The protocol is the
/// [`Service`]'s; the per-connection glue is [`Conn`]'s; the limits are the
/// core's ([`ServeContext`]).
pub trait Strategy {
    /// The name `srvkit --strategy` knows it by.
    fn name(&self) -> &'static str;

    /// Whether all connections run in one address space, so that a service
    /// holding state shared across connections sees one copy of it.
    /// Process-based strategies return false.
    fn shares_memory(&self) -> bool {
        true
    }

    /// Checks that the strategy can run on this machine (a kernel feature,
    /// say), before anything is accepted.
    fn probe(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Serves connections from `listener` (non-blocking) until
    /// [`ServeContext::shutdown`] is requested, then finishes pending replies
    /// within the grace period and returns. Must not return while any thread
    /// or process it started is still running.
    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()>;
}

/// What the core gives a strategy: the limits, the shutdown signal and the
/// connection counter.
#[derive(Debug, Clone)]
pub struct ServeContext {
    limits: Limits,
    shutdown: ShutdownHandle,
    limiter: ConnLimiter,
    local_addr: SocketAddr,
    bind_options: BindOptions,
}

impl ServeContext {
    pub(crate) fn new(
        limits: Limits,
        shutdown: ShutdownHandle,
        local_addr: SocketAddr,
        bind_options: BindOptions,
    ) -> Self {
        let limiter = ConnLimiter::new(limits.max_connections);
        ServeContext {
            limits,
            shutdown,
            limiter,
            local_addr,
            bind_options,
        }
    }

    /// The same server with its own connection counter allowing `max`
    /// connections: for a worker process, whose memory (and so counter) is
    /// not shared with its siblings.
    pub fn with_own_limiter(&self, max: usize) -> Self {
        ServeContext {
            limiter: ConnLimiter::new(max),
            ..self.clone()
        }
    }

    /// The limits to enforce.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Becomes readable when the server should stop.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// The counter behind [`Limits::max_connections`].
    pub fn limiter(&self) -> &ConnLimiter {
        &self.limiter
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How the server's listening socket was set up; strategies that open a
    /// listener per worker (`SO_REUSEPORT`) set theirs up the same way.
    pub fn bind_options(&self) -> &BindOptions {
        &self.bind_options
    }

    /// An [`Acceptor`] on `listener` applying this server's connection limit.
    pub fn acceptor<'l>(&self, listener: &'l TcpListener, nonblocking: bool) -> Acceptor<'l> {
        Acceptor::new(listener, self.limiter.clone(), nonblocking)
    }

    /// A new [`Conn`] for `handler` under this server's limits, already
    /// started (its `on_connect` has run).
    pub fn new_conn<H: Handler>(&self, handler: H, peer: SocketAddr) -> Conn<H> {
        let mut conn = Conn::new(handler, peer, &self.limits);
        conn.start();
        conn
    }
}
