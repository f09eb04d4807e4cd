//! The `srvkit` command line: listing, bad arguments, a port in use.

use std::process::Command;

use crate::util::{ServerProcess, Spec};

fn srvkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_srvkit"))
        .args(args)
        .output()
        .expect("run srvkit")
}

#[test]
fn list_names_every_strategy_and_handler() {
    let out = srvkit(&["list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "iterative",
        "thread",
        "pool",
        "epoll",
        "async",
        "tokio",
        "echo",
        "http",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
}

#[test]
fn unknown_strategy_is_one_line_and_exit_2() {
    let out = srvkit(&["--strategy", "forky"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("forky") && err.contains("epoll") && err.contains("iterative"),
        "{err}"
    );
}

#[test]
fn unknown_flag_and_bad_number_exit_2() {
    for args in [
        &["--port", "80"][..],
        &["--max-connections", "many"],
        &["--addr", "nowhere"],
    ] {
        let out = srvkit(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8(out.stderr)
                .unwrap()
                .trim_end()
                .lines()
                .count(),
            1
        );
    }
}

#[test]
fn missing_root_is_a_bad_argument() {
    let out = srvkit(&[
        "--handler",
        "http",
        "--root",
        "/no/such/dir",
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/no/such/dir")
    );
}

#[test]
fn port_in_use_names_the_address() {
    let first = ServerProcess::start(&Spec::new("epoll"), "echo", &[]);
    let addr = first.addr.to_string();
    let out = srvkit(&["--addr", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&addr) && err.to_lowercase().contains("in use"),
        "{err}"
    );
}
