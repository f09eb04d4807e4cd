//! The load generator behind `srvkit load` and `srvkit bench`: many client
//! connections driven by a few threads, each an epoll loop, measuring what
//! the tutorials measure (requests per second, latency, concurrent users)
//! without becoming the bottleneck or hiding stalls.
//!
//! - Closed loop (default): each connection sends its next request when the
//!   reply to the previous one is complete. Throughput is the server's.
//! - Open loop (`rate`): requests are due at fixed times, spread evenly over
//!   the connections, and latency runs from when a request was *due*, not
//!   when it could be sent. A server that stalls for a second therefore shows
//!   a second of latency for every request due during the stall (the
//!   coordinated-omission correction of wrk2), instead of the single slow
//!   sample a closed loop records.
//! - `PerRequest` mode opens a connection per request, as the tutorials'
//!   clients do: it measures accept, thread spawn and fork.

mod client;
mod report;
mod workload;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use report::{ErrorCounts, LatencySummary, LoadReport};
pub use workload::Workload;

/// Whether connections are kept or opened per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One long-lived connection per client.
    #[default]
    Persistent,
    /// A new connection for every request.
    PerRequest,
}

/// What to run against which server.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub addr: SocketAddr,
    /// The protocol and the request to send.
    pub workload: Workload,
    /// Concurrent connections (clients).
    pub connections: usize,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to run before measuring.
    pub warmup: Duration,
    /// Loader threads, each an epoll loop over its share of the connections.
    pub threads: usize,
    /// Total requests per second (open loop); `None` for a closed loop.
    pub rate: Option<f64>,
    /// Persistent connections or one per request.
    pub mode: Mode,
    /// How long a connection may keep retrying a refused or failed connect
    /// before it counts as an error.
    pub connect_deadline: Duration,
    /// A reply taking longer than this counts as a timeout and the
    /// connection is replaced.
    pub request_timeout: Duration,
    /// Connections opened per second while ramping up (0: all at once).
    pub ramp_rate: usize,
    /// Set from another thread (a Ctrl-C handler, say) to end the run early;
    /// the report then covers what was measured so far.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl LoadConfig {
    /// A closed-loop persistent-connection load with sensible defaults.
    pub fn new(addr: SocketAddr, workload: Workload) -> Self {
        LoadConfig {
            addr,
            workload,
            connections: 100,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rate: None,
            mode: Mode::Persistent,
            connect_deadline: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            ramp_rate: 20_000,
            cancel: None,
        }
    }
}

/// What a progress callback is told about once a second.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Seconds since the load started (warm-up included).
    pub elapsed: Duration,
    /// Connections currently established.
    pub connected: usize,
    /// Requests completed so far (warm-up included).
    pub completed: u64,
    /// Errors so far.
    pub errors: u64,
}

/// Runs the load and reports on the measured period. `progress` is called
/// about once a second from the calling thread.
pub fn run(config: &LoadConfig, progress: &mut dyn FnMut(Progress)) -> io::Result<LoadReport> {
    client::run(config, progress)
}
