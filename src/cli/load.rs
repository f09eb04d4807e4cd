//! `srvkit load`: drive one running server and report what it sustained.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use srvkit::load::{self, LoadConfig, Mode, Progress, Workload};

/// The protocol the server under load speaks.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum WorkloadKind {
    /// Send --size bytes, expect them back.
    Echo,
    /// GET --path, expect a 2xx reply with its whole body.
    Http,
}

/// Options of `srvkit load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server to load.
    #[arg(long, default_value = "127.0.0.1:8888", value_parser = super::serve::parse_addr)]
    addr: SocketAddr,
    /// The server's protocol.
    #[arg(long, value_enum, default_value = "echo")]
    workload: WorkloadKind,
    /// Concurrent connections (clients).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    connections: u64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to run before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Bytes per echo request.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    size: u64,
    /// Path of the http request.
    #[arg(long, default_value = "/")]
    path: String,
    /// Loader threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
    /// Total requests per second: an open loop with latency measured from
    /// when each request was due (coordinated-omission corrected).
    #[arg(long)]
    rate: Option<f64>,
    /// Persistent connections, or a new connection per request.
    #[arg(long, value_enum, default_value = "persistent")]
    mode: Mode,
    /// Seconds a connect may keep being retried before it counts as failed.
    #[arg(long, default_value_t = 10.0)]
    connect_deadline: f64,
    /// Seconds a reply may take before it counts as a timeout.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Parses a `--NAME SECS` value, naming the flag when it is not a duration.
pub(super) fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("--{name} {value}: expected a number of seconds"))
}

/// Runs the load and prints the report.
pub fn run(args: LoadArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => return super::bad_argument(message),
    };
    if let Err(e) = srvkit::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let terminal = std::io::stderr().is_terminal();
    let total = config.warmup + config.duration;
    let mut last_completed = 0;
    let mut show = |p: Progress| {
        let line = format!(
            "[{:>4.0}s/{:.0}s] {:>8} req/s  {:>6} connected  {} errors",
            p.elapsed.as_secs_f64(),
            total.as_secs_f64(),
            p.completed - last_completed,
            p.connected,
            p.errors
        );
        last_completed = p.completed;
        if terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
    };
    let report = load::run(&config, &mut show);
    if terminal {
        eprintln!();
    }
    match report {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => super::failure(e),
        },
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => super::failure(format!("load against {}: {e}", args.addr)),
    }
}

fn config(args: &LoadArgs) -> Result<LoadConfig, String> {
    let workload = match args.workload {
        WorkloadKind::Echo => Workload::Echo {
            size: args.size as usize,
        },
        WorkloadKind::Http => Workload::Http {
            path: args.path.clone(),
        },
    };
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(format!(
            "--rate {rate}: expected a positive number of requests per second"
        ));
    }
    let mut config = LoadConfig::new(args.addr, workload);
    config.connections = args.connections as usize;
    config.duration = seconds("duration", args.duration)?;
    config.warmup = seconds("warmup", args.warmup)?;
    config.rate = args.rate;
    config.mode = args.mode;
    config.connect_deadline = seconds("connect-deadline", args.connect_deadline)?;
    config.request_timeout = seconds("timeout", args.timeout)?;
    if let Some(threads) = args.threads {
        config.threads = threads as usize;
    }
    if config.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    Ok(config)
}
