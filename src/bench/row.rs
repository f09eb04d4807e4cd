//! One result row: what a strategy did in one scenario at one connection
//! count, including what it failed to do.

use serde::Serialize;

use super::Scenario;
use crate::load::LoadReport;

/// How a pairing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every connection held, every request answered, no errors.
    Ok,
    /// It served, but not everything asked: the row's note says what held.
    Partial,
    /// It served nothing: it did not start, or answered no request.
    Failed,
}

impl Outcome {
    /// The word used in tables.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        }
    }
}

/// What the server's process tree used, read from /proc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServerUsage {
    /// Memory (PSS, summed over processes) before the load began, in KiB.
    pub idle_pss_kib: u64,
    /// The highest memory (PSS, summed) seen under load, in KiB.
    pub peak_pss_kib: u64,
    /// The highest resident memory (RSS, summed) seen under load, in KiB;
    /// for multi-process servers it counts shared pages more than once.
    pub peak_rss_kib: u64,
    /// Memory the load added, per connection held at the peak, in KiB.
    pub memory_per_connection_kib: Option<f64>,
    /// User + system CPU during the measured period, in seconds.
    pub cpu_secs: f64,
    /// The share of one core the server used during the measured period.
    pub cpu_cores: f64,
    /// Server CPU per completed request, in microseconds.
    pub cpu_us_per_request: Option<f64>,
    /// The most threads seen at once.
    pub peak_threads: u64,
    /// The most processes seen at once.
    pub peak_processes: u64,
    /// The most open file descriptors seen at once.
    pub peak_fds: u64,
}

/// The result of one strategy × handler × scenario × connections pairing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The strategy's name.
    pub strategy: String,
    /// The handler's name.
    pub handler: String,
    /// The scenario.
    pub scenario: Scenario,
    /// Connections asked for.
    pub connections: usize,
    /// Whether it held what was asked.
    pub outcome: Outcome,
    /// In words: what held and what failed.
    pub note: String,
    /// What the load generator measured, if the load ran.
    pub load: Option<LoadReport>,
    /// What the server used, if it ran.
    pub server: Option<ServerUsage>,
    /// The server's process id (gone by the time the row is written).
    pub server_pid: Option<u32>,
}

impl Row {
    /// A row for a pairing whose server never served.
    pub fn failed(
        strategy: &str,
        handler: &str,
        scenario: Scenario,
        connections: usize,
        why: String,
    ) -> Row {
        Row {
            strategy: strategy.into(),
            handler: handler.into(),
            scenario,
            connections,
            outcome: Outcome::Failed,
            note: why,
            load: None,
            server: None,
            server_pid: None,
        }
    }

    /// Completed requests per second (0 without a load).
    pub fn requests_per_sec(&self) -> f64 {
        self.load.as_ref().map_or(0.0, |l| l.requests_per_sec)
    }

    /// 99th-percentile latency in milliseconds, if any request completed.
    pub fn p99_ms(&self) -> Option<f64> {
        let load = self.load.as_ref()?;
        (load.requests > 0).then(|| load.latency.p99_us as f64 / 1000.0)
    }

    /// Server memory per connection in KiB, if measured.
    pub fn memory_per_connection_kib(&self) -> Option<f64> {
        self.server.as_ref()?.memory_per_connection_kib
    }
}
