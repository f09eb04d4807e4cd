//! The benchmark harness behind `srvkit bench`: every strategy × handler
//! pairing under the same load, each server a child process of its own,
//! measured from outside (load generator) and inside (/proc), written out as
//! JSON, CSV, a Markdown report and SVG charts.
//!
//! Scenarios, after the questions the C10K write-ups ask:
//! - [`Scenario::Throughput`]: closed loop at N connections: the most
//!   requests per second the server sustains.
//! - [`Scenario::C10k`]: N (10,000) persistent connections, each sending a
//!   request a second (open loop): latency, memory and CPU at scale.
//! - [`Scenario::Churn`]: a new connection per request: the cost of accept,
//!   thread spawn and fork.

mod charts;
mod limits;
mod machine;
mod output;
mod pairing;
mod pin;
mod row;
mod sample;
mod server;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

pub use limits::SystemLimits;
pub use machine::Machine;
pub use output::write_results;
pub use row::{Outcome, Row, ServerUsage};
pub use sample::{Detail, TreeSample, sample_tree};

use crate::handlers::HandlerKind;
use crate::load::Progress;
use crate::strategies::StrategyKind;

/// What a pairing measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Closed loop at N persistent connections: the highest req/s.
    Throughput,
    /// N persistent connections (default 10,000) each sending one request a
    /// second: latency, memory and CPU at scale.
    C10k,
    /// A new connection per request, closed loop: accept, spawn, fork.
    Churn,
}

impl Scenario {
    /// The scenario's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::C10k => "c10k",
            Scenario::Churn => "churn",
        }
    }

    /// Connection counts used when none are given.
    pub fn default_connections(self) -> &'static [usize] {
        match self {
            Scenario::Throughput => &[100, 1000],
            Scenario::C10k => &[10_000],
            Scenario::Churn => &[100],
        }
    }

    /// What the scenario does, for reports.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Throughput => {
                "closed loop: each connection sends its next request as soon as the reply is in"
            }
            Scenario::C10k => {
                "open loop: every connection sends one request a second; latency counts from when \
                 each request was due"
            }
            Scenario::Churn => "closed loop, a new connection for every request",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a benchmark run needs.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The `srvkit` executable started for each server.
    pub server_binary: PathBuf,
    /// Strategies to measure, in order.
    pub strategies: Vec<StrategyKind>,
    /// The protocol every server speaks.
    pub handler: HandlerKind,
    /// Scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// Connection counts; `None` uses each scenario's defaults.
    pub connections: Option<Vec<usize>>,
    /// How long each pairing is measured.
    pub duration: Duration,
    /// How long each pairing runs before measuring.
    pub warmup: Duration,
    /// Bytes per echo request.
    pub size: usize,
    /// The http request's path.
    pub path: String,
    /// The directory http servers serve.
    pub root: PathBuf,
    /// Loader threads; `None`: one per core (one when pinned).
    pub threads: Option<usize>,
    /// Server on one core, loader on another.
    pub pin: bool,
    /// Runs of every pairing, in rounds over the whole matrix; each row is
    /// the median run. On a noisy machine three rounds tame the outliers.
    pub repeat: usize,
    /// Set from another thread (Ctrl-C) to stop after the current pairing's
    /// load, cleaning up its server.
    pub cancel: Arc<AtomicBool>,
}

impl BenchConfig {
    /// A throughput run of every strategy with `handler`, with defaults.
    pub fn new(server_binary: PathBuf, handler: HandlerKind) -> BenchConfig {
        BenchConfig {
            server_binary,
            strategies: StrategyKind::ALL.to_vec(),
            handler,
            scenarios: vec![Scenario::Throughput],
            connections: None,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(2),
            size: 64,
            path: "/".into(),
            root: PathBuf::from("."),
            threads: None,
            pin: false,
            repeat: 1,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Every pairing the run will measure, in order.
    pub fn pairings(&self) -> Vec<Pairing> {
        let mut pairings = Vec::new();
        for &scenario in &self.scenarios {
            let counts = self
                .connections
                .clone()
                .unwrap_or_else(|| scenario.default_connections().to_vec());
            for connections in counts {
                for &strategy in &self.strategies {
                    pairings.push(Pairing {
                        strategy,
                        scenario,
                        connections,
                    });
                }
            }
        }
        pairings
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pairing {
    /// The server's strategy.
    pub strategy: StrategyKind,
    /// What is measured.
    pub scenario: Scenario,
    /// Concurrent connections.
    pub connections: usize,
}

impl fmt::Display for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} x{}",
            self.strategy.name(),
            self.scenario,
            self.connections
        )
    }
}

/// Told about the run as it goes (the CLI draws a progress bar).
pub trait Observer {
    /// A pairing is about to start; `index` counts from 0 of `total`.
    fn pairing_started(&mut self, _pairing: &Pairing, _index: usize, _total: usize) {}
    /// About once a second while a pairing's load runs.
    fn load_progress(&mut self, _progress: Progress) {}
    /// A pairing ended with `row`.
    fn pairing_finished(&mut self, _row: &Row) {}
}

/// An observer that ignores everything.
impl Observer for () {}

/// Everything a run measured, with what it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResults {
    /// The machine.
    pub machine: Machine,
    /// The limits checked before the run.
    pub limits: SystemLimits,
    /// The handler every server ran.
    pub handler: String,
    /// Seconds measured per pairing.
    pub duration_secs: f64,
    /// Seconds of warm-up per pairing.
    pub warmup_secs: f64,
    /// Whether server and loader were pinned to separate cores.
    pub pinned: bool,
    /// Runs of every pairing (`--repeat`).
    pub rounds: usize,
    /// Whether the run was cut short (Ctrl-C): the rows are those finished.
    pub cancelled: bool,
    /// One row per pairing, in the order run.
    pub rows: Vec<Row>,
}

/// Why a run could not start.
#[derive(Debug)]
pub enum BenchError {
    /// A system limit cannot hold the run; the message names it.
    Limits(String),
    /// A bad setting (`--pin` on one core, a missing root).
    Config(String),
    /// The harness itself failed.
    Io(io::Error),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Limits(why) | BenchError::Config(why) => f.write_str(why),
            BenchError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BenchError {}

/// Checks the limits against the largest connection count, then runs every
/// pairing in turn. Each pairing always stops its server before the next
/// begins; a pairing that fails becomes a row saying so.
pub fn run(config: &BenchConfig, observer: &mut dyn Observer) -> Result<BenchResults, BenchError> {
    let pairings = config.pairings();
    if let Err(e) = crate::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let limits = SystemLimits::read();
    let most = pairings.iter().map(|p| p.connections).max().unwrap_or(0);
    limits.check(most).map_err(BenchError::Limits)?;
    if config.pin && !pin::available() {
        return Err(BenchError::Config(format!(
            "--pin needs cores {} and {}, but this process may not use both",
            pin::SERVER_CORE,
            pin::LOADER_CORE
        )));
    }
    if config.handler == HandlerKind::Http && !config.root.is_dir() {
        return Err(BenchError::Config(format!(
            "--root {}: not a directory",
            config.root.display()
        )));
    }
    let mut results = BenchResults {
        machine: Machine::current(),
        limits,
        handler: config.handler.name().into(),
        duration_secs: config.duration.as_secs_f64(),
        warmup_secs: config.warmup.as_secs_f64(),
        pinned: config.pin,
        rounds: config.repeat.max(1),
        cancelled: false,
        rows: Vec::new(),
    };
    let repeat = config.repeat.max(1);
    let mut runs: Vec<Vec<Row>> = vec![Vec::new(); pairings.len()];
    // Rounds over the whole matrix rather than back-to-back repeats, so a
    // slow minute on the machine hurts one run of many strategies instead
    // of every run of one.
    'rounds: for round in 0..repeat {
        for (index, pairing) in pairings.iter().enumerate() {
            if config.cancel.load(Ordering::Relaxed) {
                break 'rounds;
            }
            observer.pairing_started(
                pairing,
                round * pairings.len() + index,
                repeat * pairings.len(),
            );
            let row = pairing::run(config, pairing, observer).map_err(BenchError::Io)?;
            if config.cancel.load(Ordering::Relaxed) {
                // A load cut short measures nothing worth a row.
                break 'rounds;
            }
            observer.pairing_finished(&row);
            runs[index].push(row);
        }
    }
    results.rows = runs.into_iter().filter_map(Row::median_of).collect();
    results.cancelled = config.cancel.load(Ordering::Relaxed);
    Ok(results)
}
