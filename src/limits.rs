//! Runtime limits every strategy enforces, and the connection counter behind
//! `max_connections`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Limits that hold under every strategy. They live in the core (in
/// [`crate::Conn`], [`crate::accept::Acceptor`] and the shared drivers), so a strategy
/// gets them without writing them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most. At the limit the server stops accepting and
    /// new clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// A connection that neither sends nor receives for this long is closed.
    /// `None` keeps silent connections forever.
    pub idle_timeout: Option<Duration>,
    /// Bytes of queued output at which the server stops reading from a peer
    /// until it has read its replies (backpressure).
    pub output_high_water: usize,
    /// Bytes of unconsumed input (a partial message) at which the connection
    /// is closed: no handler needs more to recognise a message.
    pub max_input: usize,
    /// How long a graceful shutdown waits for connections to finish their
    /// pending replies before closing them anyway.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100_000,
            idle_timeout: Some(Duration::from_secs(60)),
            output_high_water: 256 * 1024,
            max_input: 64 * 1024,
            grace: Duration::from_secs(5),
        }
    }
}

/// Counts open connections against [`Limits::max_connections`]. Shared by all
/// threads of a strategy.
#[derive(Debug, Clone)]
pub struct ConnLimiter {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One open connection's place under the limit, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    open: Arc<AtomicUsize>,
}

impl ConnLimiter {
    /// A limiter allowing `max` connections at once.
    pub fn new(max: usize) -> Self {
        ConnLimiter {
            open: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes a place, or `None` at the limit.
    pub fn try_acquire(&self) -> Option<Permit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit {
                open: Arc::clone(&self.open),
            })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_and_returned() {
        let limiter = ConnLimiter::new(2);
        let a = limiter.try_acquire();
        let b = limiter.try_acquire();
        assert!(a.is_some() && b.is_some());
        assert!(limiter.try_acquire().is_none());
        drop(a);
        assert_eq!(limiter.open(), 1);
        assert!(limiter.try_acquire().is_some());
    }
}
