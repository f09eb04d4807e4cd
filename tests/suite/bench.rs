//! `srvkit bench` as a user runs it: the built binary, real servers, real
//! files out; a strategy that cannot hold the load still gets a row; limits
//! that cannot hold a run refuse it; Ctrl-C leaves nothing behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::signal;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_srvkit"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run srvkit bench")
}

fn is_alive(pid: u64) -> bool {
    // A zombie has been stopped and only waits to be reaped by its parent.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn rows(out: &Path) -> Vec<Value> {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    json["rows"].as_array().expect("rows").clone()
}

#[test]
fn bench_writes_every_file_and_an_honest_row_for_a_strategy_past_its_limit() {
    let out = tempfile::tempdir().unwrap();
    // select cannot watch descriptors past FD_SETSIZE (1024): it closes
    // those connections, which the row must say.
    let result = bench(&[
        "--strategies",
        "epoll,select",
        "--connections",
        "1100",
        "--duration",
        "1",
        "--warmup",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(stderr.contains("limits: open files"), "{stderr}");
    for file in [
        "results.json",
        "results.csv",
        "report.md",
        "throughput-requests.svg",
        "throughput-p99.svg",
        "throughput-memory.svg",
    ] {
        let len = std::fs::metadata(out.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .len();
        assert!(len > 100, "{file} is only {len} bytes");
    }
    let rows = rows(out.path());
    assert_eq!(rows.len(), 2);
    let epoll = &rows[0];
    assert_eq!(epoll["strategy"], "epoll");
    assert_eq!(epoll["outcome"], "ok", "{epoll}");
    assert_eq!(epoll["load"]["connections_held"], 1100);
    assert!(
        epoll["load"]["requests"].as_u64().unwrap() > 1000,
        "{epoll}"
    );
    assert!(epoll["server"]["peak_pss_kib"].as_u64().unwrap() > 0);
    let select = &rows[1];
    assert_eq!(select["strategy"], "select");
    assert_eq!(select["outcome"], "partial", "{select}");
    let note = select["note"].as_str().unwrap();
    assert!(note.contains("held") && note.contains("of 1100"), "{note}");
    // Both servers were stopped: no process is left behind.
    for row in &rows {
        let pid = row["server_pid"].as_u64().unwrap();
        assert!(
            !is_alive(pid),
            "server {pid} of {} still runs",
            row["strategy"]
        );
    }
    let csv = std::fs::read_to_string(out.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.contains("| epoll | 1100 | ok |"), "{report}");
    assert!(report.contains("| select | 1100 | partial |"), "{report}");
    let chart = std::fs::read_to_string(out.path().join("throughput-requests.svg")).unwrap();
    assert!(
        chart.contains("\nepoll\n") && chart.contains("\nselect\n"),
        "{chart}"
    );
}

#[test]
fn bench_refuses_a_run_the_system_limits_cannot_hold() {
    let out = tempfile::tempdir().unwrap();
    // More connections than this machine has open files or local ports.
    let result = bench(&[
        "--strategies",
        "epoll",
        "--connections",
        "100000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    let message = stderr.lines().last().unwrap_or("");
    assert!(
        message.contains("open-file limit") || message.contains("ip_local_port_range"),
        "{stderr}"
    );
    assert!(!out.path().join("results.json").exists());
}

#[test]
fn bench_rejects_an_unknown_strategy_with_the_valid_names() {
    let result = bench(&["--strategies", "epoll,kqueue"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("kqueue") && stderr.contains("tokio"),
        "{stderr}"
    );
}

/// The server `srvkit bench` (process `parent`) started, once it runs.
fn server_child(parent: u32, limit: Duration) -> u32 {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1));
            if ppid == Some(&parent.to_string()) {
                return pid;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("srvkit bench started no server within {limit:?}");
}

#[test]
fn bench_interrupted_exits_130_and_stops_its_server() {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_srvkit"))
        .args(["bench", "--strategies", "epoll,poll", "--connections", "20"])
        .args(["--duration", "60", "--warmup", "1", "--out"])
        .arg(out.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = server_child(child.id(), Duration::from_secs(20));
    thread::sleep(Duration::from_secs(2));
    signal(child.id(), rustix::process::Signal::INT);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("srvkit bench did not stop on SIGINT");
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(
        !is_alive(u64::from(server)),
        "server {server} outlived the bench"
    );
    // The interrupted run still says what it is: no pairing finished.
    let json = std::fs::read_to_string(out.path().join("results.json")).unwrap();
    assert!(json.contains("\"cancelled\": true"), "{json}");
}
