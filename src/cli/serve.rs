//! Running a server: `srvkit [--strategy S] [--handler H] [--addr A] ...`.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use srvkit::handlers::{Echo, HandlerKind, Http};
use srvkit::strategies::{StrategyKind, StrategyOptions};
use srvkit::{BindOptions, Limits, Server};

/// Options for running a server.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Concurrency strategy (see `srvkit list`).
    #[arg(long, value_enum, default_value = "epoll")]
    strategy: StrategyKind,
    /// Protocol to serve (see `srvkit list`).
    #[arg(long, value_enum, default_value = "echo")]
    handler: HandlerKind,
    /// Address to listen on; port 0 picks a free port (printed at startup).
    #[arg(long, default_value = "127.0.0.1:8888", value_parser = parse_addr)]
    addr: SocketAddr,
    /// Worker threads or processes (pool: default 16 per core; prefork,
    /// reactors, async, tokio: default one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    workers: Option<u32>,
    /// Directory the http handler serves.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Open connections at most; at the limit new clients wait in the backlog.
    #[arg(long, default_value_t = Limits::default().max_connections as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Close connections silent for this many seconds (0: never).
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// On SIGINT/SIGTERM, seconds to let connections finish their replies.
    #[arg(long, default_value_t = 5)]
    grace: u64,
    /// Bytes of unsent output at which a connection stops being read.
    #[arg(long, default_value_t = Limits::default().output_high_water)]
    high_water: usize,
    /// Child processes at most (fork); at the limit accepting pauses.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_children: Option<u32>,
    /// Edge-triggered readiness (epoll).
    #[arg(long)]
    edge: bool,
    /// Set SO_REUSEPORT on the listening socket.
    #[arg(long)]
    reuse_port: bool,
}

/// Parses HOST:PORT, resolving a host name.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("{e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| "no address found (expected HOST:PORT)".to_string())
}

/// Binds, prints the startup line, and serves until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    let http = match args.handler {
        HandlerKind::Http => match Http::new(&args.root) {
            Ok(http) => Some(http),
            Err(e) => return super::bad_argument(format!("--root {}: {e}", args.root.display())),
        },
        HandlerKind::Echo => None,
    };
    match srvkit::sys::raise_fd_limit() {
        Ok((before, after)) if before != after => {
            log::info!(
                "open-file limit raised from {} to {}",
                show(before),
                show(after)
            );
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }
    let options = BindOptions {
        reuse_port: args.reuse_port,
        ..BindOptions::default()
    };
    let limits = Limits {
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
        output_high_water: args.high_water.max(1),
        grace: Duration::from_secs(args.grace),
        ..Limits::default()
    };
    let server = match Server::bind_with(args.addr, &options) {
        Ok(server) => server.with_limits(limits),
        Err(e) => return fail(e),
    };
    if let Err(e) = server
        .shutdown_handle()
        .shutdown_on_signals(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
    {
        return fail(e);
    }
    let mut what = format!("{} with {}", args.handler.name(), args.strategy.name());
    if let Some(http) = &http {
        what.push_str(&format!(", root {}", http.root().display()));
    }
    let server = server.on_ready(move |addr| {
        println!("srvkit: listening on {addr}: {what} (Ctrl-C stops)");
        let _ = std::io::stdout().flush();
    });
    let strategy_options = StrategyOptions {
        workers: args.workers.map(|n| n as usize),
        edge_triggered: args.edge,
        max_children: args.max_children.map(|n| n as usize),
    };
    let served = match http {
        Some(http) => args.strategy.serve(server, http, &strategy_options),
        None => args.strategy.serve(server, Echo, &strategy_options),
    };
    match served {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".into(), |n| n.to_string())
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    super::failure(e)
}
