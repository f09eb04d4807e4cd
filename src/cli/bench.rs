//! `srvkit bench`: run the strategy matrix and write tables and charts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use srvkit::bench::{
    self, BenchConfig, BenchError, Observer, Pairing, Row, Scenario, SystemLimits,
};
use srvkit::handlers::HandlerKind;
use srvkit::load::Progress;
use srvkit::strategies::StrategyKind;

/// Options of `srvkit bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Strategies to compare: `all` or a comma-separated list.
    #[arg(long, default_value = "all", value_parser = parse_strategies)]
    strategies: StrategyList,
    /// The protocol every server speaks.
    #[arg(long, value_enum, default_value = "echo")]
    handler: HandlerKind,
    /// What to measure (comma-separated for several): throughput (closed
    /// loop, default 100,1000 connections), c10k (10,000 connections at one
    /// request a second each), churn (a connection per request, default 100).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "throughput")]
    scenario: Vec<Scenario>,
    /// Connection counts, comma-separated (default: per scenario).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    connections: Option<Vec<u64>>,
    /// Seconds measured per pairing.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up per pairing (connections open during it).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Directory for results.json, results.csv, report.md and the SVG charts.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Pin the server to core 0 and the load generator to core 1.
    #[arg(long)]
    pin: bool,
    /// Run the whole matrix this many times; each row is the median run,
    /// with the spread of all runs in the report.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeat: u64,
    /// Bytes per echo request.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    size: u64,
    /// Loader threads (default: one per core, one when pinned).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
    /// Directory the http servers serve.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Path of the http request.
    #[arg(long, default_value = "/")]
    path: String,
}

/// The strategies picked on the command line.
#[derive(Debug, Clone)]
struct StrategyList(Vec<StrategyKind>);

fn parse_strategies(text: &str) -> Result<StrategyList, String> {
    use clap::ValueEnum;
    if text == "all" {
        return Ok(StrategyList(StrategyKind::ALL.to_vec()));
    }
    let mut picked = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = StrategyKind::from_str(name, false).map_err(|_| {
            let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown strategy '{name}' (expected all or some of: {})",
                names.join(", ")
            )
        })?;
        if !picked.contains(&kind) {
            picked.push(kind);
        }
    }
    if picked.is_empty() {
        return Err("no strategy given".into());
    }
    Ok(StrategyList(picked))
}

/// Runs the matrix, draws progress, writes the results. Exit codes: 0 done,
/// 2 a bad argument or a limit the run cannot hold, 130 cancelled (Ctrl-C).
pub fn run(args: BenchArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => return super::bad_argument(message),
    };
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&config.cancel)) {
            return super::failure(format!("cannot handle signals: {e}"));
        }
    }
    if let Err(e) = srvkit::sys::raise_fd_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let limits = SystemLimits::read();
    eprintln!("limits: {limits}");
    let most = config
        .pairings()
        .iter()
        .map(|p| p.connections)
        .max()
        .unwrap_or(0);
    if let Some(warning) = limits.warning(most) {
        eprintln!("warning: {warning}");
    }
    let mut bar = Bar::new(
        config.pairings().len() as u64,
        config.warmup + config.duration,
    );
    let results = match bench::run(&config, &mut bar) {
        Ok(results) => results,
        Err(e @ (BenchError::Limits(_) | BenchError::Config(_))) => {
            bar.bar.finish_and_clear();
            return super::bad_argument(e);
        }
        Err(e) => {
            bar.bar.finish_and_clear();
            return super::failure(e);
        }
    };
    bar.bar.finish_and_clear();
    match bench::write_results(&results, &args.out) {
        Ok(files) => {
            println!("machine: {}", results.machine);
            for row in &results.rows {
                println!("{}", summary(row));
            }
            println!(
                "wrote {} files to {} (report.md has the tables)",
                files.len(),
                args.out.display()
            );
        }
        Err(e) => return super::failure(format!("writing {}: {e}", args.out.display())),
    }
    if results.cancelled {
        eprintln!("srvkit: cancelled; results cover the pairings that finished");
        return ExitCode::from(130);
    }
    ExitCode::SUCCESS
}

fn config(args: &BenchArgs) -> Result<BenchConfig, String> {
    let binary = std::env::current_exe()
        .map_err(|e| format!("cannot find the srvkit executable to start servers: {e}"))?;
    let mut config = BenchConfig::new(binary, args.handler);
    config.strategies = args.strategies.0.clone();
    config.scenarios = args.scenario.clone();
    config.scenarios.dedup();
    config.connections = args
        .connections
        .as_ref()
        .map(|counts| counts.iter().map(|&n| n as usize).collect());
    config.duration = super::load::seconds("duration", args.duration)?;
    config.warmup = super::load::seconds("warmup", args.warmup)?;
    if config.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    config.size = args.size as usize;
    config.path = args.path.clone();
    config.root = args.root.clone();
    config.threads = args.threads.map(|n| n as usize);
    config.pin = args.pin;
    config.repeat = args.repeat as usize;
    config.cancel = Arc::new(AtomicBool::new(false));
    Ok(config)
}

/// One line per row for the terminal.
fn summary(row: &Row) -> String {
    let numbers = match &row.load {
        Some(load) => format!(
            "{:>9.0} req/s  p99 {:>9.2} ms",
            load.requests_per_sec,
            load.latency.p99_us as f64 / 1000.0
        ),
        None => format!("{:>15}  {:>16}", "–", "–"),
    };
    let memory = row.server.as_ref().map_or_else(
        || "–".to_string(),
        |s| format!("{:.1} MiB", s.peak_pss_kib as f64 / 1024.0),
    );
    format!(
        "{:<11} {:<10} {:>6}  {:<7} {numbers}  {memory:>9}  {}",
        row.strategy,
        row.scenario.name(),
        row.connections,
        row.outcome.name(),
        row.note
    )
}

/// A progress bar over the matrix, with the running pairing's live numbers.
struct Bar {
    bar: ProgressBar,
    pairing: String,
    per_pairing: Duration,
    last_completed: u64,
    terminal: bool,
}

impl Bar {
    fn new(total: u64, per_pairing: Duration) -> Bar {
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("[{elapsed_precise}] {bar:24} {pos}/{len} {msg}")
        {
            bar.set_style(style);
        }
        Bar {
            bar,
            pairing: String::new(),
            per_pairing,
            last_completed: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl Observer for Bar {
    fn pairing_started(&mut self, pairing: &Pairing, _index: usize, _total: usize) {
        self.pairing = pairing.to_string();
        self.last_completed = 0;
        self.bar.set_message(format!("{}: starting", self.pairing));
    }

    fn load_progress(&mut self, p: Progress) {
        self.bar.set_message(format!(
            "{}: {:.0}/{:.0}s {} req/s, {} connected, {} errors",
            self.pairing,
            p.elapsed.as_secs_f64(),
            self.per_pairing.as_secs_f64(),
            p.completed - self.last_completed,
            p.connected,
            p.errors
        ));
        self.last_completed = p.completed;
    }

    fn pairing_finished(&mut self, row: &Row) {
        self.bar.inc(1);
        let line = summary(row);
        if self.terminal {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}
