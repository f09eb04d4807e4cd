//! A line protocol of your own, served under any srvkit strategy.
//!
//! Run: cargo run --example custom_handler -- --strategy thread
//! Try: nc 127.0.0.1 9000   then type lines; `stats` shows shared counters; `quit` leaves.
//!
//! Each line comes back upper-cased. The service counts lines across every
//! connection, so it declares `Needs::shared_memory()`: a process-based
//! strategy would refuse it instead of keeping one counter per process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use srvkit::strategies::{StrategyKind, StrategyOptions};
use srvkit::{Cx, Flow, Handler, Needs, ProtocolError, Server, Service};

/// The service: one per server, shared by every connection.
struct Shout {
    lines: Arc<AtomicU64>,
}

/// The per-connection state machine.
struct ShoutHandler {
    lines: Arc<AtomicU64>,
    mine: u64,
}

impl Service for Shout {
    type Handler = ShoutHandler;

    fn name(&self) -> &'static str {
        "shout"
    }

    fn new_handler(&self, _peer: SocketAddr) -> ShoutHandler {
        ShoutHandler {
            lines: Arc::clone(&self.lines),
            mine: 0,
        }
    }

    fn needs(&self) -> Needs {
        Needs::shared_memory()
    }
}

impl Handler for ShoutHandler {
    fn on_connect(&mut self, cx: &mut Cx<'_>) -> Flow {
        cx.output.write(b"hello; I shout back. `stats` or `quit`\n");
        Flow::Continue
    }

    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        // Answer every whole line; a partial line stays in the input for later.
        while let Some(end) = cx.input.bytes().iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&cx.input.bytes()[..end])
                .trim()
                .to_string();
            cx.input.consume(end + 1);
            match line.as_str() {
                "quit" => {
                    cx.output.write(b"bye\n");
                    return Ok(Flow::Close);
                }
                "stats" => {
                    let all = self.lines.load(Ordering::Relaxed);
                    cx.output
                        .write(format!("you: {} lines, everyone: {all}\n", self.mine).as_bytes());
                }
                _ => {
                    self.mine += 1;
                    self.lines.fetch_add(1, Ordering::Relaxed);
                    cx.output
                        .write(format!("{}\n", line.to_uppercase()).as_bytes());
                }
            }
        }
        if cx.input.bytes().len() > 4096 {
            return Err(ProtocolError::new("line too long"));
        }
        Ok(if cx.input.is_eof() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "epoll")]
    strategy: StrategyKind,
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let server = Server::bind(args.addr)?;
    server
        .shutdown_handle()
        .shutdown_on_signals(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    println!(
        "shout: listening on {} with {}",
        server.local_addr()?,
        args.strategy.name()
    );
    let service = Shout {
        lines: Arc::new(AtomicU64::new(0)),
    };
    args.strategy
        .serve(server, service, &StrategyOptions::default())?;
    Ok(())
}
