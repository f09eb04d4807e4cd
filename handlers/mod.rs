//! The protocols srvkit ships. Each is a [`crate::Service`] and runs under every
//! strategy; none of them touches a socket.
//!
//! | name   | what it does |
//! |--------|--------------|
//! | `echo` | sends back every byte it receives |
//! | `http` | a static file server: HTTP/1.1 and 1.0, keep-alive, pipelining, ranges, directory listings |
#![forbid(unsafe_code)]

pub mod echo;
pub mod http;

pub use echo::Echo;
pub use http::Http;

/// The handlers the `srvkit` command can run, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HandlerKind {
    /// Sends back every byte it receives.
    Echo,
    /// Serves static files from `--root` over HTTP/1.1.
    Http,
}

impl HandlerKind {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            HandlerKind::Echo => "echo",
            HandlerKind::Http => "http",
        }
    }

    /// A one-line description for `srvkit list`.
    pub fn description(self) -> &'static str {
        match self {
            HandlerKind::Echo => "sends back every byte it receives (RFC 862)",
            HandlerKind::Http => {
                "static files from --root over HTTP/1.1: keep-alive, pipelining, ranges, listings"
            }
        }
    }

    /// Every handler, in the order `srvkit list` shows them.
    pub const ALL: [HandlerKind; 2] = [HandlerKind::Echo, HandlerKind::Http];
}
