//! The two traits a protocol implements: [`Service`] (one per server) and
//! [`Handler`] (one per connection).
//!
//! A handler never touches a socket. The strategy reads bytes, hands them to
//! the handler through [`Cx::input`], and writes whatever the handler put in
//! [`Cx::output`]. That is what lets one protocol run unchanged under blocking
//! threads, readiness loops and completion rings alike (the sans-IO design of
//! rustls, quinn-proto and h11).

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use crate::buf::{Input, Output};

/// Makes one [`Handler`] per connection and holds what the connections share.
///
/// A service is shared by every thread of a strategy, hence `Send + Sync`.
/// State shared across connections lives here (an `Arc<AtomicU64>` counter,
/// a chat room's member list); such a service must say so through
/// [`Service::needs`], so that process-based strategies, where each process
/// would get its own copy, refuse it instead of silently misbehaving.
pub trait Service: Send + Sync + 'static {
    /// The per-connection state machine this service creates.
    type Handler: Handler;

    /// A short name for logs and error messages, such as `"echo"`.
    fn name(&self) -> &'static str;

    /// Creates the handler for a connection accepted from `peer`.
    fn new_handler(&self, peer: SocketAddr) -> Self::Handler;

    /// What this service requires of the strategy that runs it.
    fn needs(&self) -> Needs {
        Needs::default()
    }
}

/// Requirements a [`Service`] places on the strategy running it.
///
/// Checked by [`crate::Server::serve`] before anything is accepted: a mismatch
/// is an [`crate::Error::Incompatible`], never a silent misbehaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Needs {
    /// Every connection must see the same memory (the service holds state
    /// shared across connections). Process-per-connection strategies cannot
    /// provide this.
    pub shared_memory: bool,
}

impl Needs {
    /// Needs for a service whose connections share state in memory.
    pub const fn shared_memory() -> Self {
        Needs {
            shared_memory: true,
        }
    }
}

/// What the connection should do after a handler call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep the connection open.
    Continue,
    /// Stop reading; close once everything in the output has been sent.
    Close,
}

/// Protocol logic for one connection: a state machine fed bytes.
///
/// There is a single entry point, [`Handler::on_input`], called whenever
/// something the handler may care about changed: bytes arrived, the peer
/// finished sending (`cx.input.is_eof()`), or the output drained after the
/// handler asked for that with [`Output::resume_when_drained`]. One entry point
/// instead of separate `data`/`drained`/`eof` callbacks means there is no
/// ordering between callbacks to get wrong: the handler looks at its own state,
/// consumes what it can, writes what it can, and returns.
///
/// A handler must not block: it runs on an event loop's only thread under
/// `epoll`. It may read files (the http handler opens them), but large
/// replies should be queued with [`Output::send_file`] or produced in chunks
/// with [`Output::resume_when_drained`], so memory stays bounded.
pub trait Handler: Send + 'static {
    /// Called once, before any input, with an empty input. A greeting, if the
    /// protocol has one, goes into `cx.output` here.
    fn on_connect(&mut self, cx: &mut Cx<'_>) -> Flow {
        let _ = cx;
        Flow::Continue
    }

    /// Consumes whole messages from `cx.input` (leaving a partial tail for the
    /// next call) and writes replies to `cx.output`.
    ///
    /// Returning an error closes the connection after a best-effort flush of
    /// what was already written (so write the error reply, an HTTP 400 say,
    /// before returning it).
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError>;
}

/// What a handler call may look at and write to.
#[derive(Debug)]
pub struct Cx<'a> {
    /// Bytes received and not consumed yet, and whether the peer has finished.
    pub input: Input<'a>,
    /// Where replies go; the strategy sends them.
    pub output: &'a mut Output,
}

/// A peer broke the protocol; the connection will be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    reason: Cow<'static, str>,
}

impl ProtocolError {
    /// An error with a short human-readable reason (logged at debug level).
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        ProtocolError {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ProtocolError {}
