//! The echo handler under a strategy.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use crate::util::{ServerProcess, Spec, echo_round_trip, payload, read_to_close};

pub fn round_trip(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &[]);
    let mut client = server.connect();
    assert_eq!(echo_round_trip(&mut client, b"hello\n"), b"hello\n");
    assert_eq!(echo_round_trip(&mut client, b"again"), b"again");
}

pub fn one_mebibyte(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &[]);
    let data = payload(1 << 20);
    let mut client = server.connect();
    assert!(
        echo_round_trip(&mut client, &data) == data,
        "1 MiB echo differs"
    );
}

pub fn two_hundred_clients(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &[]);
    let addr = server.addr;
    let clients: Vec<_> = (0..200u32)
        .map(|i| {
            thread::spawn(move || {
                let mut client = crate::util::connect(addr);
                let message = format!("client {i} says {}\n", "x".repeat(i as usize));
                echo_round_trip(&mut client, message.as_bytes()) == message.as_bytes()
            })
        })
        .collect();
    let ok = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(
        ok, 200,
        "[{}] every client gets its own bytes back",
        spec.name
    );
}

pub fn half_close_gets_pending_echo(spec: &Spec) {
    let server = ServerProcess::start(spec, "echo", &[]);
    let mut client = server.connect();
    client.write_all(b"owed before EOF").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    // The server owes the echo, sends it, then closes: read_to_end ends.
    assert_eq!(read_to_close(&mut client), b"owed before EOF");
}

pub fn reset_peers_do_not_hurt_others(spec: &Spec) {
    let mut server = ServerProcess::start(spec, "echo", &[]);
    let mut steady = server.connect();
    for round in 0..20 {
        let mut rude = server.connect();
        rude.write_all(&payload(64 * 1024)).unwrap();
        // SO_LINGER 0: close sends RST instead of FIN.
        socket2::SockRef::from(&rude)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(rude);
        if spec.concurrent {
            let message = format!("round {round}");
            assert_eq!(
                echo_round_trip(&mut steady, message.as_bytes()),
                message.as_bytes()
            );
        }
    }
    if !spec.concurrent {
        drop(steady);
    }
    let mut fresh = server.connect();
    assert_eq!(echo_round_trip(&mut fresh, b"still here"), b"still here");
    assert!(server.is_running());
    let mut buf = [0; 1];
    fresh
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(fresh.read(&mut buf).is_err(), "no stray bytes");
}
