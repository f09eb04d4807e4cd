//! The library's error type.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why a server could not start or stopped with an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The listening address could not be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// Any other IO error while setting up or serving.
    Io(io::Error),
    /// The strategy cannot run on this machine (a kernel without io_uring).
    Unsupported {
        /// The strategy's name.
        strategy: &'static str,
        /// Why it cannot run.
        reason: String,
    },
    /// The strategy cannot run this service (shared state under fork).
    Incompatible {
        /// The strategy's name.
        strategy: &'static str,
        /// The service's name.
        service: &'static str,
        /// Why they do not fit together.
        reason: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Unsupported { strategy, reason } => {
                write!(f, "strategy {strategy} cannot run here: {reason}")
            }
            Error::Incompatible {
                strategy,
                service,
                reason,
            } => write!(f, "strategy {strategy} cannot serve {service}: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
