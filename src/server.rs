//! [`Server`]: binds the listening socket, then serves a [`Service`] with a
//! [`Strategy`]. The counterpart of socketserver's `TCPServer`.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;
use crate::handler::Service;
use crate::limits::Limits;
use crate::stop::ShutdownHandle;
use crate::strategy::{ServeContext, Strategy};

/// How the listening socket is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOptions {
    /// `SO_REUSEADDR`: rebind at once after a restart, despite connections in
    /// TIME_WAIT. On by default.
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: let several sockets (other processes, or one per
    /// reactor thread) listen on the same address. Off by default.
    pub reuse_port: bool,
    /// `TCP_NODELAY` on every accepted connection (Linux inherits it from the
    /// listener): small replies go out at once instead of waiting for Nagle's
    /// algorithm. On by default.
    pub nodelay: bool,
    /// The accept queue's length. `None` asks for the system maximum
    /// (`net.core.somaxconn`), not socketserver's 5: a C10K burst of connects
    /// must not be refused while the server is busy.
    pub backlog: Option<i32>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_address: true,
            reuse_port: false,
            nodelay: true,
            backlog: None,
        }
    }
}

/// Creates a listening socket on `addr` with `options`. Strategies that want
/// a socket of their own per worker (`SO_REUSEPORT`) call this too.
pub fn bind_listener(addr: SocketAddr, options: &BindOptions) -> Result<TcpListener, Error> {
    let bind_error = |source| Error::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(options.reuse_address)?;
    socket.set_reuse_port(options.reuse_port)?;
    socket.set_tcp_nodelay(options.nodelay)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into()).map_err(bind_error)?;
    // The kernel caps the backlog at somaxconn, so "as large as possible" is
    // simply the largest int.
    socket
        .listen(options.backlog.unwrap_or(i32::MAX))
        .map_err(bind_error)?;
    Ok(socket.into())
}

/// A bound listening socket, ready to serve.
///
/// ```no_run
/// use srvkit::{Server, handlers::Echo, strategies::Epoll};
///
/// let server = Server::bind("127.0.0.1:8888".parse()?)?;
/// let stop = server.shutdown_handle(); // call stop.shutdown() from any thread
/// server.serve(&Epoll::default(), Echo)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    listener: TcpListener,
    bind_options: BindOptions,
    limits: Limits,
    shutdown: ShutdownHandle,
    on_ready: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` with the default [`BindOptions`].
    pub fn bind(addr: SocketAddr) -> Result<Server, Error> {
        Server::bind_with(addr, &BindOptions::default())
    }

    /// Binds `addr` with `options`.
    pub fn bind_with(addr: SocketAddr, options: &BindOptions) -> Result<Server, Error> {
        Ok(Server {
            listener: bind_listener(addr, options)?,
            bind_options: options.clone(),
            limits: Limits::default(),
            shutdown: ShutdownHandle::new()?,
            on_ready: None,
        })
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Replaces the runtime limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The runtime limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs `ready` with the bound address once [`Server::serve`] has checked
    /// that the strategy can serve the service, just before serving starts
    /// (the `srvkit` command prints its startup line here, so a refused
    /// strategy never announces itself).
    pub fn on_ready(mut self, ready: impl FnOnce(SocketAddr) + Send + 'static) -> Self {
        self.on_ready = Some(Box::new(ready));
        self
    }

    /// A handle that stops [`Server::serve`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves `service` with `strategy` until shutdown is requested (through
    /// [`Server::shutdown_handle`] or a signal registered on it), then returns
    /// once open connections have had their pending replies, or the grace
    /// period ran out.
    pub fn serve<St: Strategy, S: Service>(self, strategy: &St, service: S) -> Result<(), Error> {
        if service.needs().shared_memory && !strategy.shares_memory() {
            return Err(Error::Incompatible {
                strategy: strategy.name(),
                service: service.name(),
                reason: "the service shares state across connections, and this strategy \
                         serves them from separate processes that cannot see each other's memory",
            });
        }
        strategy.probe()?;
        let local_addr = self.listener.local_addr()?;
        if let Some(ready) = self.on_ready {
            ready(local_addr);
        }
        let cx = ServeContext::new(self.limits, self.shutdown, local_addr, self.bind_options);
        strategy.serve(self.listener, Arc::new(service), &cx)?;
        Ok(())
    }
}
