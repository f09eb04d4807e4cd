//! The core's runtime limits and shutdown, under a strategy.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{ServerProcess, Spec, echo_round_trip, payload, root_arg, web_root};

pub fn never_reading_client_is_bounded(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &["--idle-timeout", "3"]);
    let baseline = server.rss_kib();
    let mut hog = server.connect();
    hog.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = payload(64 * 1024);
    let mut sent = 0usize;
    loop {
        match hog.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("[{}] writing: {e}", spec.name),
        }
        assert!(
            sent < 256 << 20,
            "[{}] the server kept reading from a client that never reads",
            spec.name
        );
    }
    let grown = server.rss_kib().saturating_sub(baseline);
    assert!(
        grown < 32 * 1024,
        "[{}] server memory grew {grown} KiB for one stalled client",
        spec.name
    );
    assert!(
        sent < 64 << 20,
        "[{}] {sent} bytes accepted from a client that never reads",
        spec.name
    );
    // Everyone else is still served (under `iterative`, once the stalled client times out).
    let mut other = server.connect();
    assert_eq!(echo_round_trip(&mut other, b"next"), b"next");
}

pub fn idle_connections_are_closed(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &["--idle-timeout", "1"]);
    let mut talker = server.connect();
    // A connection that keeps talking outlives the timeout...
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(400));
        assert_eq!(echo_round_trip(&mut talker, b"."), b".");
    }
    drop(talker);
    // ...a silent one is closed.
    let mut silent = server.connect();
    let started = Instant::now();
    let mut buf = [0; 8];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(
        n, 0,
        "[{}] expected the server to close the idle connection",
        spec.name
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "[{}] closed too early: {waited:?}",
        spec.name
    );
}

pub fn max_connections_queues_the_rest(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &["--max-connections", "2"]);
    let held = if spec.concurrent { 2 } else { 1 };
    let mut open: Vec<_> = (0..held).map(|_| server.connect()).collect();
    for client in &mut open {
        assert_eq!(echo_round_trip(client, b"in"), b"in");
    }
    let mut waiting = server.connect();
    waiting.write_all(b"queued").unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0; 6];
    assert!(
        waiting.read(&mut buf).is_err(),
        "[{}] served past --max-connections",
        spec.name
    );
    open.pop();
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    waiting.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"queued");
}

/// With file descriptors exhausted, accept fails with EMFILE: the server must
/// back off (not spin) and keep serving the connections it has.
pub fn fd_exhaustion_backs_off(spec: &Spec) {
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=24:24")
        .arg(env!("CARGO_BIN_EXE_srvkit"))
        .args([
            "--strategy",
            spec.name,
            "--handler",
            "echo",
            "--addr",
            "127.0.0.1:0",
        ])
        .args(spec.args);
    let mut server = ServerProcess::spawn(command, format!("{} under prlimit", spec.name));
    let mut clients: Vec<_> = (0..40).map(|_| server.connect()).collect();
    if spec.concurrent {
        assert_eq!(echo_round_trip(&mut clients[0], b"first"), b"first");
    }
    thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(server.pid());
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(server.pid()) - before;
    // 100 ticks is a whole core; a spinning accept loop would use ~all of it.
    assert!(
        used < 30,
        "[{}] server used {used}/100 ticks of CPU while out of fds",
        spec.name
    );
    assert!(server.is_running());
    clients.clear();
    let mut fresh = server.connect();
    assert_eq!(echo_round_trip(&mut fresh, b"recovered"), b"recovered");
}

/// User plus system CPU time of a process, in clock ticks (100 a second).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

pub fn sigterm_finishes_pending_reply_and_exits_zero(spec: &Spec) {
    let dir = web_root();
    let root = root_arg(dir.path());
    let mut server = ServerProcess::start(spec, "http", &["--root", &root]);
    let expected = std::fs::read(dir.path().join("big.bin")).unwrap();
    let mut client = server.connect();
    client
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut start = [0; 16 * 1024];
    client.read_exact(&mut start).unwrap();
    crate::util::signal(server.pid(), rustix::process::Signal::TERM);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    let mut all = start.to_vec();
    all.extend_from_slice(&rest);
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        all[head_end..] == expected[..],
        "[{}] reply cut short by shutdown",
        spec.name
    );
    let status = server.wait(Duration::from_secs(10));
    assert!(status.success(), "[{}] exit status {status}", spec.name);
    TcpListener::bind(server.addr).expect("port is free after shutdown");
}
