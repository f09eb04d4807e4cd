//! Micro-benchmarks of the handlers' hot paths, without sockets: one request
//! in, the reply produced. `cargo bench --bench handlers`.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use srvkit::handlers::{Echo, Http};
use srvkit::{Cx, Handler, Input, Output, Service};

const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// Feeds `request` to a fresh handler of `service` and returns the bytes
/// queued (file ranges are not read: what is measured is parsing and
/// building the reply).
fn serve_once<S: Service>(service: &S, request: &[u8]) -> u64 {
    let mut handler = service.new_handler(PEER);
    let mut output = Output::new(256 * 1024);
    let mut cx = Cx {
        input: Input::new(request, false),
        output: &mut output,
    };
    let _ = handler.on_input(&mut cx);
    output.len()
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo");
    for size in [64usize, 4096] {
        let payload = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("{size} bytes"), |b| {
            b.iter(|| serve_once(&Echo, black_box(&payload)))
        });
    }
    group.finish();
}

fn http(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temporary directory");
    std::fs::write(root.path().join("index.html"), "<h1>hello</h1>\n").expect("write index.html");
    let http = Http::new(root.path()).expect("http root");
    let mut group = c.benchmark_group("http");
    let cases: [(&str, &[u8]); 3] = [
        (
            "GET small file",
            b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n",
        ),
        (
            "GET missing (404 page)",
            b"GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ),
        ("malformed (400)", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
    ];
    for (name, request) in cases {
        group.bench_function(name, |b| b.iter(|| serve_once(&http, black_box(request))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = echo, http
}
criterion_main!(benches);
