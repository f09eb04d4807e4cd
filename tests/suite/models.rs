//! Tests of what is particular to one strategy: reaping under `fork`,
//! worker replacement under `prefork`, select's fd limit, `nonblocking`'s
//! idle CPU, `reactors` spreading connections, process strategies refusing
//! shared state.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use srvkit::strategies::{Fork, Prefork, Reactors};
use srvkit::{Cx, Error, Flow, Handler, Needs, ProtocolError, Server, Service};

use crate::util::{ServerProcess, Spec, connect, echo_round_trip, signal};

/// (pid, state) of every process whose parent is `parent`.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let mut fields = after_name.split_whitespace();
        let state = fields.next().unwrap().chars().next().unwrap();
        let ppid: u32 = fields.next().unwrap().parse().unwrap();
        if ppid == parent {
            found.push((pid, state));
        }
    }
    found
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(false)
}

#[test]
fn fork_leaves_no_zombie_and_no_child() {
    let mut server = ServerProcess::start(&Spec::new("fork"), "echo", &[]);
    for i in 0..100 {
        let mut client = server.connect();
        let message = format!("short {i}");
        assert_eq!(
            echo_round_trip(&mut client, message.as_bytes()),
            message.as_bytes()
        );
    }
    let pid = server.pid();
    assert!(
        wait_until(Duration::from_secs(5), || children_of(pid).is_empty()),
        "children left after 100 closed connections: {:?}",
        children_of(pid)
    );
    let mut open: Vec<_> = (0..5).map(|_| server.connect()).collect();
    for client in &mut open {
        assert_eq!(echo_round_trip(client, b"hi"), b"hi");
    }
    let children: Vec<u32> = children_of(pid)
        .into_iter()
        .map(|(child, _)| child)
        .collect();
    assert_eq!(children.len(), 5, "a process per open connection");
    signal(pid, Signal::TERM);
    assert!(server.wait(Duration::from_secs(10)).success());
    assert!(
        children.iter().all(|&child| !is_alive(child)),
        "a child outlived the server"
    );
    drop(open);
}

#[test]
fn fork_max_children_pauses_accepting() {
    let server = ServerProcess::start(&Spec::new("fork"), "echo", &["--max-children", "2"]);
    let mut first = server.connect();
    let mut second = server.connect();
    assert_eq!(echo_round_trip(&mut first, b"1"), b"1");
    assert_eq!(echo_round_trip(&mut second, b"2"), b"2");
    let mut third = server.connect();
    std::io::Write::write_all(&mut third, b"3").unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0; 1];
    assert!(
        std::io::Read::read(&mut third, &mut buf).is_err(),
        "served a third child"
    );
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::io::Read::read_exact(&mut third, &mut buf).unwrap();
    assert_eq!(&buf, b"3");
}

#[test]
fn prefork_replaces_a_killed_worker_and_leaves_no_orphan() {
    let mut server = ServerProcess::start(&Spec::new("prefork"), "echo", &["--workers", "2"]);
    let master = server.pid();
    assert!(wait_until(Duration::from_secs(5), || children_of(master)
        .len()
        == 2));
    let before: Vec<u32> = children_of(master)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    signal(before[0], Signal::KILL);
    let replaced = wait_until(Duration::from_secs(5), || {
        let now: Vec<u32> = children_of(master)
            .into_iter()
            .map(|(pid, _)| pid)
            .collect();
        now.len() == 2 && !now.contains(&before[0])
    });
    assert!(replaced, "workers now: {:?}", children_of(master));
    for i in 0..20 {
        let mut client = server.connect();
        let message = format!("after the kill {i}");
        assert_eq!(
            echo_round_trip(&mut client, message.as_bytes()),
            message.as_bytes()
        );
    }
    let workers: Vec<u32> = children_of(master)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    signal(master, Signal::TERM);
    assert!(server.wait(Duration::from_secs(10)).success());
    assert!(
        workers.iter().all(|&pid| !is_alive(pid)),
        "a worker outlived the master"
    );
}

#[test]
fn prefork_workers_exit_when_the_master_is_killed() {
    let mut server = ServerProcess::start(&Spec::new("prefork"), "echo", &["--workers", "2"]);
    let master = server.pid();
    assert!(wait_until(Duration::from_secs(5), || children_of(master)
        .len()
        == 2));
    let workers: Vec<u32> = children_of(master)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    signal(master, Signal::KILL);
    server.wait(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || workers
            .iter()
            .all(|&pid| !is_alive(pid))),
        "orphaned workers still running"
    );
}

#[test]
fn select_closes_connections_beyond_fd_setsize_and_serves_the_rest() {
    let server = ServerProcess::start(&Spec::new("select"), "echo", &[]);
    let mut clients: Vec<_> = (0..1100).map(|_| server.connect()).collect();
    for client in clients.iter_mut().take(20) {
        assert_eq!(echo_round_trip(client, b"early"), b"early");
    }
    // The last ones got fds above 1023 in the server: closed at once.
    for client in clients.iter_mut().rev().take(20) {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0; 1];
        let n = std::io::Read::read(client, &mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a connection beyond FD_SETSIZE should be closed");
    }
    assert_eq!(echo_round_trip(&mut clients[5], b"still"), b"still");
    clients.clear();
    let mut fresh = server.connect();
    assert_eq!(echo_round_trip(&mut fresh, b"fresh"), b"fresh");
}

#[test]
fn nonblocking_idles_below_five_percent_of_a_core() {
    let server = ServerProcess::start(&Spec::new("nonblocking"), "echo", &[]);
    let mut clients: Vec<_> = (0..10).map(|_| server.connect()).collect();
    for client in &mut clients {
        assert_eq!(echo_round_trip(client, b"."), b".");
    }
    thread::sleep(Duration::from_millis(500));
    let before = crate::limits::cpu_ticks(server.pid());
    thread::sleep(Duration::from_secs(2));
    let used = crate::limits::cpu_ticks(server.pid()) - before;
    // 2 s of a whole core is 200 ticks; 5% is 10.
    assert!(
        used < 10,
        "idle nonblocking server used {used} ticks in 2 s"
    );
    assert_eq!(echo_round_trip(&mut clients[0], b"awake"), b"awake");
}

/// Echo that records which thread created each connection's handler.
struct WhereServed(Arc<Mutex<HashSet<String>>>);

impl Service for WhereServed {
    type Handler = srvkit::handlers::echo::EchoHandler;
    fn name(&self) -> &'static str {
        "where-served"
    }
    fn new_handler(&self, _: SocketAddr) -> Self::Handler {
        let name = thread::current().name().unwrap_or("?").to_string();
        self.0.lock().unwrap().insert(name);
        srvkit::handlers::echo::EchoHandler
    }
}

#[test]
fn reactors_spread_connections_over_several_reactors() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle();
    let service = WhereServed(Arc::clone(&seen));
    let serving = thread::spawn(move || server.serve(&Reactors { workers: 2 }, service));
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let mut client = connect(addr);
            assert_eq!(echo_round_trip(&mut client, b"where"), b"where");
            client
        })
        .collect();
    stop.shutdown();
    serving.join().unwrap().unwrap();
    drop(clients);
    let seen = seen.lock().unwrap();
    assert!(
        seen.len() > 1,
        "all 100 connections on one reactor: {seen:?}"
    );
}

/// A service that shares memory across connections.
struct Shared;
struct SharedHandler;

impl Service for Shared {
    type Handler = SharedHandler;
    fn name(&self) -> &'static str {
        "shared"
    }
    fn new_handler(&self, _: SocketAddr) -> SharedHandler {
        SharedHandler
    }
    fn needs(&self) -> Needs {
        Needs::shared_memory()
    }
}

impl Handler for SharedHandler {
    fn on_input(&mut self, _: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        Ok(Flow::Close)
    }
}

#[test]
fn process_strategies_refuse_shared_state_services() {
    let bind = || Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let refused = bind().serve(&Fork::default(), Shared);
    assert!(
        matches!(
            refused,
            Err(Error::Incompatible {
                strategy: "fork",
                ..
            })
        ),
        "{refused:?}"
    );
    let refused = bind().serve(&Prefork { workers: 2 }, Shared);
    assert!(
        matches!(
            refused,
            Err(Error::Incompatible {
                strategy: "prefork",
                ..
            })
        ),
        "{refused:?}"
    );
    // This test process has threads, so forking in it would be unsafe.
    let refused = bind().serve(&Fork::default(), srvkit::handlers::Echo);
    let message = refused
        .expect_err("fork refuses a multi-threaded process")
        .to_string();
    assert!(message.contains("single-threaded"), "{message}");
}
