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
    /// How often the pairing was run (`--repeat`); the row is the median
    /// run (by req/s; by p99 latency for c10k).
    pub runs: usize,
    /// The lowest and highest req/s over the runs.
    pub requests_per_sec_range: (f64, f64),
    /// The lowest and highest p99 latency over the runs, in milliseconds.
    pub p99_ms_range: Option<(f64, f64)>,
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
            runs: 1,
            requests_per_sec_range: (0.0, 0.0),
            p99_ms_range: None,
        }
    }

    /// The median of several runs of one pairing, with the spread of all.
    pub fn median_of(mut runs: Vec<Row>) -> Option<Row> {
        let scenario = runs.first()?.scenario;
        // Worst first, so an even count picks the worse of the middle two.
        let key = |row: &Row| match scenario {
            Scenario::C10k => -row.p99_ms().unwrap_or(f64::INFINITY),
            Scenario::Throughput | Scenario::Churn => row.requests_per_sec(),
        };
        runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        let count = runs.len();
        let rates = runs.iter().map(Row::requests_per_sec);
        let rate_range = rates.fold((f64::INFINITY, 0.0f64), |(low, high), r| {
            (low.min(r), high.max(r))
        });
        let p99s: Vec<f64> = runs.iter().filter_map(Row::p99_ms).collect();
        let p99_range = (!p99s.is_empty()).then(|| {
            p99s.iter().fold((f64::INFINITY, 0.0f64), |(low, high), p| {
                (low.min(*p), high.max(*p))
            })
        });
        let mut median = runs.swap_remove((count - 1) / 2);
        median.runs = count;
        median.requests_per_sec_range = rate_range;
        median.p99_ms_range = p99_range;
        Some(median)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{ErrorCounts, LatencySummary, Mode};

    fn run(rate: f64, p99_us: u64) -> Row {
        let mut row = Row::failed("epoll", "echo", Scenario::Throughput, 10, String::new());
        row.outcome = Outcome::Ok;
        row.load = Some(LoadReport {
            workload: "echo".into(),
            mode: Mode::Persistent,
            connections: 10,
            connections_peak: 10,
            connections_held: 10,
            requests_sent: 1,
            requests: 1,
            duration_secs: 1.0,
            requests_per_sec: rate,
            target_rate: None,
            latency: LatencySummary {
                p99_us,
                ..LatencySummary::default()
            },
            errors: ErrorCounts::default(),
            bytes_sent: 0,
            bytes_received: 0,
            loader_cpu_us_per_request: 1.0,
            threads: 1,
        });
        row
    }

    #[test]
    fn the_median_run_is_chosen_by_rate_with_the_spread_of_all() {
        let median =
            Row::median_of(vec![run(300.0, 1000), run(100.0, 9000), run(200.0, 5000)]).unwrap();
        assert_eq!(median.requests_per_sec(), 200.0);
        assert_eq!(median.runs, 3);
        assert_eq!(median.requests_per_sec_range, (100.0, 300.0));
        assert_eq!(median.p99_ms_range, Some((1.0, 9.0)));
    }

    #[test]
    fn c10k_takes_the_median_by_p99_and_an_even_count_the_worse_middle() {
        let mut runs = vec![
            run(100.0, 1000),
            run(100.0, 4000),
            run(100.0, 2000),
            run(100.0, 3000),
        ];
        for row in &mut runs {
            row.scenario = Scenario::C10k;
        }
        let median = Row::median_of(runs).unwrap();
        assert_eq!(median.p99_ms(), Some(3.0));
    }
}
