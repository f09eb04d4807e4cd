//! Custom services served inside this process through the library API:
//! shared state, panics, the shutdown handle, generated streaming replies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use srvkit::strategies::{StrategyKind, StrategyOptions};
use srvkit::{Cx, Flow, Handler, Limits, Needs, ProtocolError, Server, Service, ShutdownHandle};

use crate::util::{Spec, connect, echo_round_trip};

/// A server running `service` under `spec` on a thread of this process.
struct InProcess {
    addr: SocketAddr,
    stop: ShutdownHandle,
    done: mpsc::Receiver<Result<(), String>>,
}

impl InProcess {
    fn start<S: Service>(spec: &Spec, service: S) -> Option<InProcess> {
        if !spec.in_process {
            return None;
        }
        let kind = StrategyKind::from_str(spec.name, false).expect("known strategy");
        let mut options = StrategyOptions {
            edge_triggered: spec.args.contains(&"--edge"),
            ..StrategyOptions::default()
        };
        if let Some(i) = spec.args.iter().position(|a| *a == "--workers") {
            options.workers = spec.args[i + 1].parse().ok();
        }
        let limits = Limits {
            grace: Duration::from_secs(5),
            ..Limits::default()
        };
        let server = Server::bind("127.0.0.1:0".parse().unwrap())
            .unwrap()
            .with_limits(limits);
        let addr = server.local_addr().unwrap();
        let stop = server.shutdown_handle();
        let (tx, done) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(
                kind.serve(server, service, &options)
                    .map_err(|e| e.to_string()),
            );
        });
        Some(InProcess { addr, stop, done })
    }

    /// Shuts down and returns how long `serve` took to return.
    fn stop(self) -> Duration {
        let started = Instant::now();
        self.stop.shutdown();
        let result = self
            .done
            .recv_timeout(Duration::from_secs(15))
            .expect("serve returned");
        result.expect("serve succeeded");
        started.elapsed()
    }
}

/// Counts `inc` lines across every connection; replies with the new total.
struct Counter(Arc<AtomicU64>);
struct CounterHandler(Arc<AtomicU64>);

impl Service for Counter {
    type Handler = CounterHandler;
    fn name(&self) -> &'static str {
        "counter"
    }
    fn new_handler(&self, _: SocketAddr) -> CounterHandler {
        CounterHandler(Arc::clone(&self.0))
    }
    fn needs(&self) -> Needs {
        Needs::shared_memory()
    }
}

impl Handler for CounterHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        while let Some(end) = cx.input.bytes().iter().position(|&b| b == b'\n') {
            if &cx.input.bytes()[..end] != b"inc" {
                return Err(ProtocolError::new("expected inc"));
            }
            let total = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            cx.output.write(format!("{total}\n").as_bytes());
            cx.input.consume(end + 1);
        }
        Ok(if cx.input.is_eof() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }
}

pub fn shared_counter_across_50_connections(spec: &Spec) {
    let count = Arc::new(AtomicU64::new(0));
    let Some(server) = InProcess::start(spec, Counter(Arc::clone(&count))) else {
        return;
    };
    let addr = server.addr;
    let clients: Vec<_> = (0..50)
        .map(|_| {
            thread::spawn(move || {
                let stream = connect(addr);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                (0..20)
                    .map(|_| {
                        writer.write_all(b"inc\n").unwrap();
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        line.trim().parse::<u64>().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen: Vec<u64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=1000).collect::<Vec<_>>(),
        "[{}] every increment seen once",
        spec.name
    );
    assert_eq!(count.load(Ordering::SeqCst), 1000);
    server.stop();
}

/// Echoes, but panics on the word "boom".
struct Fragile;
struct FragileHandler;

impl Service for Fragile {
    type Handler = FragileHandler;
    fn name(&self) -> &'static str {
        "fragile"
    }
    fn new_handler(&self, _: SocketAddr) -> FragileHandler {
        FragileHandler
    }
}

impl Handler for FragileHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        let bytes = cx.input.bytes();
        if bytes.windows(4).any(|w| w == b"boom") {
            panic!("fragile handler met a boom (expected by the test)");
        }
        cx.output.write(bytes);
        cx.input.consume(bytes.len());
        Ok(if cx.input.is_eof() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }
}

pub fn handler_panic_closes_only_its_connection(spec: &Spec) {
    let Some(server) = InProcess::start(spec, Fragile) else {
        return;
    };
    let mut bystander = connect(server.addr);
    if spec.concurrent {
        assert_eq!(echo_round_trip(&mut bystander, b"before"), b"before");
    }
    for _ in 0..3 {
        let mut victim = connect(server.addr);
        victim.write_all(b"boom").unwrap();
        let mut rest = Vec::new();
        // Closed without a reply (a reset is fine too).
        let _ = victim.read_to_end(&mut rest);
        assert!(rest.is_empty());
        if !spec.concurrent {
            break;
        }
    }
    if spec.concurrent {
        assert_eq!(echo_round_trip(&mut bystander, b"after"), b"after");
    }
    drop(bystander);
    let mut fresh = connect(server.addr);
    assert_eq!(echo_round_trip(&mut fresh, b"fresh"), b"fresh");
    drop(fresh);
    server.stop();
}

pub fn shutdown_handle_returns_promptly(spec: &Spec) {
    let Some(server) = InProcess::start(spec, srvkit::handlers::Echo) else {
        return;
    };
    let addr = server.addr;
    let mut active = connect(addr);
    assert_eq!(echo_round_trip(&mut active, b"x"), b"x");
    let idle: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    let took = server.stop();
    // Idle connections owe nothing, so there is no reason to wait for the
    // 5 s grace period.
    assert!(
        took < Duration::from_secs(3),
        "[{}] serve took {took:?} to return",
        spec.name
    );
    let mut buf = [0; 1];
    assert_eq!(active.read(&mut buf).unwrap_or(0), 0, "connection closed");
    drop(idle);
    TcpListener::bind(addr).expect("port free after serve returned");
}

/// Answers `gen N\n` with N bytes made on the fly, a chunk per drain.
struct Generator(Arc<AtomicU64>);
struct GeneratorHandler {
    left: u64,
    produced: u64,
    max_queued: Arc<AtomicU64>,
}

impl Service for Generator {
    type Handler = GeneratorHandler;
    fn name(&self) -> &'static str {
        "generator"
    }
    fn new_handler(&self, _: SocketAddr) -> GeneratorHandler {
        GeneratorHandler {
            left: 0,
            produced: 0,
            max_queued: Arc::clone(&self.0),
        }
    }
}

impl Handler for GeneratorHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        if self.left == 0 {
            let Some(end) = cx.input.bytes().iter().position(|&b| b == b'\n') else {
                return Ok(if cx.input.is_eof() {
                    Flow::Close
                } else {
                    Flow::Continue
                });
            };
            let line = std::str::from_utf8(&cx.input.bytes()[..end])
                .map_err(|_| ProtocolError::new("utf-8"))?;
            self.left = line
                .strip_prefix("gen ")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| ProtocolError::new("expected gen N"))?;
            cx.input.consume(end + 1);
        }
        let chunk = (cx.output.room() as u64).min(self.left).min(64 * 1024);
        let bytes: Vec<u8> = (self.produced..self.produced + chunk)
            .map(|i| (i % 251) as u8)
            .collect();
        cx.output.write_vec(bytes);
        self.produced += chunk;
        self.left -= chunk;
        self.max_queued.fetch_max(cx.output.len(), Ordering::SeqCst);
        if self.left > 0 {
            cx.output.resume_when_drained();
        }
        Ok(Flow::Continue)
    }
}

pub fn generated_reply_streams_with_bounded_output(spec: &Spec) {
    let max_queued = Arc::new(AtomicU64::new(0));
    let Some(server) = InProcess::start(spec, Generator(Arc::clone(&max_queued))) else {
        return;
    };
    let total = 8u64 << 20;
    let mut client = connect(server.addr);
    client
        .write_all(format!("gen {total}\n").as_bytes())
        .unwrap();
    let mut received = vec![0; total as usize];
    client.read_exact(&mut received).unwrap();
    assert!(
        received
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8),
        "[{}] generated bytes out of order",
        spec.name
    );
    let high_water = Limits::default().output_high_water as u64;
    let queued = max_queued.load(Ordering::SeqCst);
    assert!(
        queued <= high_water,
        "[{}] {queued} bytes queued at once",
        spec.name
    );
    drop(client);
    server.stop();
}
