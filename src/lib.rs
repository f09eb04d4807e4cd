//! srvkit: one protocol, every server model.
//!
//! A protocol is written once as a [`Service`] that makes a [`Handler`] per
//! connection. A handler never touches a socket: it is fed the bytes that
//! arrived and writes replies into an output buffer. That lets the same
//! handler run under every [`Strategy`] in [`strategies`], blocking and
//! event-driven alike.
//!
//! ```text
//!   socket ──read──▶ Conn ──Input──▶ Handler::on_input ──▶ Output ──write/sendfile──▶ socket
//!                     ▲ limits: idle timeout, high-water mark, max input, panic isolation
//!   Strategy: accepts, waits (blocking, epoll, ...), moves bytes; ServeContext: limits, shutdown
//! ```
//!
//! - [`Server`] binds a socket and serves a service with a strategy; its
//!   [`ShutdownHandle`] stops it gracefully from any thread.
//! - [`Conn`] is the per-connection glue every strategy shares.
//! - [`blocking`] and [`reactor`] hold the two shared drivers: blocking
//!   thread-per-connection IO, and a readiness event loop over a [`reactor::Poller`].
//!
//! Datagram (UDP) services will get traits of their own beside these; the
//! stream traits do not need to change for them.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod accept;
pub mod bench;
pub mod blocking;
mod buf;
mod conn;
mod error;
mod handler;
mod limits;
pub mod load;
mod process;
pub mod reactor;
mod server;
mod stop;
mod strategy;
pub mod sys;
mod transport;

#[path = "../handlers/mod.rs"]
pub mod handlers;
#[path = "../strategies/mod.rs"]
pub mod strategies;

pub use buf::{Input, Output};
pub use conn::Conn;
pub use error::Error;
pub use handler::{Cx, Flow, Handler, Needs, ProtocolError, Service};
pub use limits::{ConnLimiter, Limits, Permit};
pub use server::{BindOptions, Server, bind_listener};
pub use stop::ShutdownHandle;
pub use strategy::{ServeContext, Strategy};
pub use transport::Transport;

/// The README's code, compiled as a doctest so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
