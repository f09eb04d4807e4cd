//! What a load run measured, and how it is shown to people and machines.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Mode;

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// The slowest request.
    pub max_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microsecond latencies.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }
}

/// Errors by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// Connects refused, after retrying until the connect deadline.
    pub refused: u64,
    /// Connects or replies that took longer than allowed.
    pub timeout: u64,
    /// Connections reset or closed by the server mid-request.
    pub reset: u64,
    /// Replies that did not match what the workload expects.
    pub bad_reply: u64,
    /// Anything else (out of local ports, say).
    pub other: u64,
}

impl ErrorCounts {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.refused + self.timeout + self.reset + self.bad_reply + self.other
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ErrorCounts) {
        self.refused += other.refused;
        self.timeout += other.timeout;
        self.reset += other.reset;
        self.bad_reply += other.bad_reply;
        self.other += other.other;
    }
}

/// The result of one load run (the measured period only; warm-up excluded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// The workload's name (`echo`, `http`).
    pub workload: String,
    /// Persistent or per-request connections.
    pub mode: Mode,
    /// Connections asked for.
    pub connections: usize,
    /// The most connections established at once.
    pub connections_peak: usize,
    /// Connections established when the measurement ended.
    pub connections_held: usize,
    /// Requests sent during the measured period.
    pub requests_sent: u64,
    /// Replies completed (and validated) during the measured period.
    pub requests: u64,
    /// The measured period, in seconds.
    pub duration_secs: f64,
    /// Completed requests per second.
    pub requests_per_sec: f64,
    /// The rate asked for (open loop), requests per second.
    pub target_rate: Option<f64>,
    /// Latency of completed requests; from when each was due, in open loop.
    pub latency: LatencySummary,
    /// Errors during the measured period.
    pub errors: ErrorCounts,
    /// Payload bytes sent and received during the measured period.
    pub bytes_sent: u64,
    /// Payload bytes received during the measured period.
    pub bytes_received: u64,
    /// CPU time (user + system) the load generator used in the measured
    /// period, per completed request, in microseconds: when this approaches
    /// threads × 1 s / req/s, the loader, not the server, was the limit.
    pub loader_cpu_us_per_request: f64,
    /// Loader threads.
    pub threads: usize,
}

fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Persistent => "persistent connections",
            Mode::PerRequest => "a connection per request",
        };
        let rate = self.target_rate.map_or_else(
            || "closed loop".to_string(),
            |r| format!("open loop at {r:.0} req/s"),
        );
        writeln!(
            f,
            "{} load, {mode}, {rate}, {} loader threads",
            self.workload, self.threads
        )?;
        writeln!(
            f,
            "  connections  {} asked, {} peak, {} held at the end",
            self.connections, self.connections_peak, self.connections_held
        )?;
        writeln!(
            f,
            "  requests     {} in {:.2} s = {:.0} req/s ({} sent)",
            self.requests, self.duration_secs, self.requests_per_sec, self.requests_sent
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "  latency      p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p99_us),
            ms(l.p999_us),
            ms(l.max_us)
        )?;
        let e = &self.errors;
        writeln!(
            f,
            "  errors       {} (refused {}, timeout {}, reset {}, bad reply {}, other {})",
            e.total(),
            e.refused,
            e.timeout,
            e.reset,
            e.bad_reply,
            e.other
        )?;
        write!(
            f,
            "  loader CPU   {:.1} us per request",
            self.loader_cpu_us_per_request
        )
    }
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu_time() -> Duration {
    crate::sys::cpu_time(std::process::id()).unwrap_or_default()
}
