//! One pairing: start the server, load it, sample it, stop it, and turn what
//! was seen into a row.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pin;
use super::row::{Outcome, Row, ServerUsage};
use super::sample::{self, Sampler};
use super::server::ServerChild;
use super::{BenchConfig, Observer, Pairing, Scenario};
use crate::handlers::HandlerKind;
use crate::load::{self, LoadConfig, LoadReport, Mode, Workload};

/// Seconds a server gets to finish replies on SIGTERM.
const GRACE_SECS: u64 = 2;
/// How long after SIGTERM a server is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(GRACE_SECS + 8);
/// A reply or connect slower than this counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The share of the asked rate an open-loop run must reach to count as held.
const RATE_HELD: f64 = 0.95;

/// Runs `pairing` and returns its row; only a harness failure (not a server
/// failure) is an error.
pub fn run(
    config: &BenchConfig,
    pairing: &Pairing,
    observer: &mut dyn Observer,
) -> io::Result<Row> {
    let strategy = pairing.strategy.name();
    let handler = config.handler.name();
    let saved_affinity = if config.pin {
        let saved = pin::current_affinity()?;
        pin::pin_current_thread(pin::SERVER_CORE)?;
        Some(saved)
    } else {
        None
    };
    // The server inherits the affinity this thread has while spawning it.
    let started = ServerChild::start(
        &config.server_binary,
        &server_args(config, pairing),
        &config.cancel,
    );
    if config.pin {
        pin::pin_current_thread(pin::LOADER_CORE)?;
    }
    let row = match started {
        Ok(server) => measure(config, pairing, server, observer),
        Err(why) => Row::failed(
            strategy,
            handler,
            pairing.scenario,
            pairing.connections,
            why,
        ),
    };
    if let Some(saved) = saved_affinity {
        pin::restore_affinity(&saved)?;
    }
    Ok(row)
}

fn server_args(config: &BenchConfig, pairing: &Pairing) -> Vec<String> {
    let mut args: Vec<String> = [
        "--strategy",
        pairing.strategy.name(),
        "--handler",
        config.handler.name(),
        "--addr",
        "127.0.0.1:0",
        "--grace",
    ]
    .map(String::from)
    .into();
    args.push(GRACE_SECS.to_string());
    if config.handler == HandlerKind::Http {
        args.push("--root".into());
        args.push(config.root.display().to_string());
    }
    args
}

fn load_config(config: &BenchConfig, pairing: &Pairing, addr: SocketAddr) -> LoadConfig {
    let workload = match config.handler {
        HandlerKind::Echo => Workload::Echo { size: config.size },
        HandlerKind::Http => Workload::Http {
            path: config.path.clone(),
        },
    };
    let mut load = LoadConfig::new(addr, workload);
    load.connections = pairing.connections;
    load.duration = config.duration;
    load.warmup = config.warmup;
    load.connect_deadline = REQUEST_TIMEOUT;
    load.request_timeout = REQUEST_TIMEOUT;
    load.cancel = Some(Arc::clone(&config.cancel));
    load.threads = config
        .threads
        .unwrap_or(if config.pin { 1 } else { load.threads });
    match pairing.scenario {
        Scenario::Throughput => {}
        Scenario::C10k => load.rate = Some(pairing.connections as f64),
        Scenario::Churn => load.mode = Mode::PerRequest,
    }
    load
}

fn measure(
    config: &BenchConfig,
    pairing: &Pairing,
    mut server: ServerChild,
    observer: &mut dyn Observer,
) -> Row {
    let strategy = pairing.strategy.name();
    let handler = config.handler.name();
    let pid = server.pid();
    let idle = sample::sample_tree(pid, sample::Detail::Everything).unwrap_or_default();
    let load_config = load_config(config, pairing, server.addr);
    let load_start = Instant::now();
    let measure_from = load_start + config.warmup;
    let measure_until = measure_from + config.duration;
    let sampler = Sampler::start(pid, (measure_from, measure_until));
    let report = load::run(&load_config, &mut |p| observer.load_progress(p));
    let samples = sampler.finish();
    // A server that died under load says why before it is stopped.
    let died = server.exit_status().map(|_| server.last_error());
    let stopped = server.stop(STOP_PATIENCE);
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            let mut row = Row::failed(
                strategy,
                handler,
                pairing.scenario,
                pairing.connections,
                format!("load generator failed: {e}"),
            );
            row.server_pid = Some(pid);
            return row;
        }
    };
    let summary = sample::summarise(&samples, measure_from, measure_until);
    let held = match load_config.mode {
        Mode::Persistent => report.connections_held,
        Mode::PerRequest => pairing.connections,
    };
    let cpu_cores = if summary.wall.is_zero() {
        0.0
    } else {
        summary.cpu.as_secs_f64() / summary.wall.as_secs_f64()
    };
    let usage = ServerUsage {
        idle_pss_kib: idle.pss_kib,
        peak_pss_kib: summary.peak.pss_kib.max(idle.pss_kib),
        peak_rss_kib: summary.peak.rss_kib.max(idle.rss_kib),
        // Below half the connections asked, the few held say little about
        // the cost of one.
        memory_per_connection_kib: (held > 0 && held * 2 >= pairing.connections)
            .then(|| summary.peak.pss_kib.saturating_sub(idle.pss_kib) as f64 / held as f64),
        cpu_secs: cpu_cores * config.duration.as_secs_f64(),
        cpu_cores,
        cpu_us_per_request: (report.requests_per_sec > 0.0 && !summary.wall.is_zero())
            .then(|| cpu_cores * 1e6 / report.requests_per_sec),
        peak_threads: summary.peak.threads.max(idle.threads),
        peak_processes: summary.peak.processes.max(idle.processes),
        peak_fds: summary.peak.fds.max(idle.fds),
    };
    let (outcome, note) = judge(&report, &load_config, died, stopped);
    Row {
        strategy: strategy.into(),
        handler: handler.into(),
        scenario: pairing.scenario,
        connections: pairing.connections,
        outcome,
        note,
        requests_per_sec_range: (report.requests_per_sec, report.requests_per_sec),
        p99_ms_range: (report.requests > 0).then(|| {
            let p99 = report.latency.p99_us as f64 / 1000.0;
            (p99, p99)
        }),
        load: Some(report),
        server: Some(usage),
        server_pid: Some(pid),
        runs: 1,
    }
}

/// Says in words what held and what did not.
fn judge(
    report: &LoadReport,
    load: &LoadConfig,
    died: Option<Option<String>>,
    stopped: Result<(), String>,
) -> (Outcome, String) {
    let mut problems = Vec::new();
    if let Some(last_words) = died {
        problems.push(match last_words {
            Some(line) => format!("server died under load: {line}"),
            None => "server died under load".into(),
        });
    } else if let Err(why) = stopped {
        problems.push(format!("shutdown: {why}"));
    }
    if load.mode == Mode::Persistent && report.connections_held < load.connections {
        problems.push(format!(
            "held {} of {} connections",
            report.connections_held, load.connections
        ));
    }
    if let Some(rate) = load.rate
        && report.requests_per_sec < rate * RATE_HELD
    {
        problems.push(format!(
            "answered {:.0} of the {rate:.0} req/s asked",
            report.requests_per_sec
        ));
    }
    let e = &report.errors;
    if e.total() > 0 {
        let kinds: Vec<String> = [
            ("refused", e.refused),
            ("timeout", e.timeout),
            ("reset", e.reset),
            ("bad reply", e.bad_reply),
            ("other", e.other),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
        problems.push(format!("{} errors ({})", e.total(), kinds.join(", ")));
    }
    if report.requests == 0 {
        problems.insert(0, "answered no request".into());
        return (Outcome::Failed, problems.join("; "));
    }
    if problems.is_empty() {
        let note = match load.mode {
            Mode::Persistent => format!("held all {} connections, no errors", load.connections),
            Mode::PerRequest => format!(
                "{} connections opened and closed, no errors",
                report.requests
            ),
        };
        (Outcome::Ok, note)
    } else {
        (Outcome::Partial, problems.join("; "))
    }
}
