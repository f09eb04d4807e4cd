//! The load generator against real servers: its counts match the server's,
//! its open loop keeps its rate and shows stalls a closed loop hides, and
//! per-request mode works against the iterative server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use srvkit::handlers::echo::EchoHandler;
use srvkit::load::{self, LoadConfig, LoadReport, Workload};
use srvkit::strategies::Epoll;
use srvkit::{Cx, Flow, Handler, ProtocolError, Server, Service, ShutdownHandle};

use crate::util::{ServerProcess, Spec, run_tool};

/// Echo that counts the bytes it receives, and can stall its thread once.
struct Counting {
    received: Arc<AtomicU64>,
    /// Stall for a second when this many bytes have arrived (0: never).
    stall_at: u64,
}

struct CountingHandler {
    received: Arc<AtomicU64>,
    stall_at: u64,
    echo: EchoHandler,
}

impl Service for Counting {
    type Handler = CountingHandler;
    fn name(&self) -> &'static str {
        "counting-echo"
    }
    fn new_handler(&self, _: SocketAddr) -> CountingHandler {
        CountingHandler {
            received: Arc::clone(&self.received),
            stall_at: self.stall_at,
            echo: EchoHandler,
        }
    }
}

impl Handler for CountingHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        let n = cx.input.bytes().len() as u64;
        let before = self.received.fetch_add(n, Ordering::SeqCst);
        if self.stall_at > 0 && before < self.stall_at && before + n >= self.stall_at {
            // Blocks the only thread of the epoll loop: every client stalls.
            thread::sleep(Duration::from_secs(1));
        }
        self.echo.on_input(cx)
    }
}

fn serve_counting(
    stall_at: u64,
) -> (
    SocketAddr,
    Arc<AtomicU64>,
    ShutdownHandle,
    thread::JoinHandle<()>,
) {
    let received = Arc::new(AtomicU64::new(0));
    let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle();
    let service = Counting {
        received: Arc::clone(&received),
        stall_at,
    };
    let serving = thread::spawn(move || server.serve(&Epoll::default(), service).unwrap());
    (addr, received, stop, serving)
}

fn echo_load(addr: SocketAddr, connections: usize, seconds: f64) -> LoadConfig {
    let mut config = LoadConfig::new(addr, Workload::Echo { size: 64 });
    config.connections = connections;
    config.duration = Duration::from_secs_f64(seconds);
    config.warmup = Duration::ZERO;
    config.threads = 2;
    config
}

fn run(config: &LoadConfig) -> LoadReport {
    load::run(config, &mut |_| {}).expect("load runs")
}

#[test]
fn loader_count_matches_what_the_server_received() {
    let (addr, received, stop, serving) = serve_counting(0);
    let report = run(&echo_load(addr, 50, 1.0));
    stop.shutdown();
    serving.join().unwrap();
    assert!(report.requests > 1000, "{report}");
    assert_eq!(report.errors.total(), 0, "{report}");
    assert_eq!(report.requests, report.requests_sent, "{report}");
    assert_eq!(
        received.load(Ordering::SeqCst),
        report.requests_sent * 64,
        "{report}"
    );
    assert_eq!(report.connections_held, 50);
}

#[test]
fn open_loop_keeps_its_rate() {
    let (addr, _, stop, serving) = serve_counting(0);
    let mut config = echo_load(addr, 20, 2.0);
    config.rate = Some(2000.0);
    config.warmup = Duration::from_millis(500);
    let report = run(&config);
    stop.shutdown();
    serving.join().unwrap();
    let achieved = report.requests_per_sec;
    assert!(
        (achieved - 2000.0).abs() < 100.0,
        "asked 2000 req/s, got {achieved:.0}: {report}"
    );
    assert_eq!(report.errors.total(), 0, "{report}");
}

#[test]
fn open_loop_shows_a_stall_that_closed_loop_hides() {
    // A one-second stall after half a second of load.
    let (addr, _, stop, serving) = serve_counting(500 * 64 / 2);
    let mut open = echo_load(addr, 5, 3.0);
    open.rate = Some(500.0);
    let open = run(&open);
    stop.shutdown();
    serving.join().unwrap();
    assert!(
        open.latency.p999_us >= 500_000,
        "open loop must show the stall: {open}"
    );
    assert!(
        open.latency.p99_us >= 500_000,
        "a whole second of requests was late: {open}"
    );

    let (addr, _, stop, serving) = serve_counting(2000 * 64);
    let closed = run(&echo_load(addr, 2, 3.0));
    stop.shutdown();
    serving.join().unwrap();
    assert!(
        closed.latency.max_us >= 500_000,
        "the stall happened: {closed}"
    );
    assert!(
        closed.latency.p999_us < 500_000,
        "closed loop records the stall once per connection: {closed}"
    );
}

#[test]
fn per_request_mode_works_against_iterative() {
    let server = ServerProcess::start(&Spec::new("iterative"), "echo", &[]);
    let addr = server.addr.to_string();
    let (status, out) = run_tool(
        env!("CARGO_BIN_EXE_srvkit"),
        &[
            "load",
            "--addr",
            &addr,
            "--mode",
            "per-request",
            "--connections",
            "4",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(status.success(), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["mode"], "per-request");
    assert!(report["requests"].as_u64().unwrap() > 100, "{out}");
    assert_eq!(report["errors"]["refused"], 0, "{out}");
    assert_eq!(report["errors"]["reset"], 0, "{out}");
    assert_eq!(report["errors"]["bad_reply"], 0, "{out}");
}
