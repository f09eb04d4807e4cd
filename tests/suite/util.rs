//! Test support: a real `srvkit` process per test, and small clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A strategy as the suite runs it: its command-line name and extra flags.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// Serves several connections at once (all but `iterative`).
    pub concurrent: bool,
    /// Can run inside the test process (threads, not forked processes).
    pub in_process: bool,
}

impl Spec {
    pub const fn new(name: &'static str) -> Spec {
        Spec {
            name,
            args: &[],
            concurrent: true,
            in_process: true,
        }
    }
    pub const fn args(mut self, args: &'static [&'static str]) -> Spec {
        self.args = args;
        self
    }
    pub const fn separate_processes(mut self) -> Spec {
        self.in_process = false;
        self
    }
    pub const fn one_at_a_time(mut self) -> Spec {
        self.concurrent = false;
        self
    }
}

/// A running `srvkit` server process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub label: String,
}

impl ServerProcess {
    /// Starts `srvkit --strategy <spec> --handler <handler> <extra>` on a free port.
    pub fn start(spec: &Spec, handler: &str, extra: &[&str]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_srvkit"));
        command
            .args([
                "--strategy",
                spec.name,
                "--handler",
                handler,
                "--addr",
                "127.0.0.1:0",
            ])
            .args(spec.args)
            .args(extra);
        Self::spawn(command, format!("{} {} {:?}", spec.name, handler, extra))
    }

    pub fn spawn(mut command: Command, label: String) -> ServerProcess {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start srvkit");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("[{label}] no startup line; exit: {:?}", child.wait());
            }
        };
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(": ").next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("[{label}] bad startup line: {line}"));
        ServerProcess { child, addr, label }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_field(self.pid(), "VmRSS:")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("[{}] did not exit within {limit:?}", self.label);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, signal).expect("kill");
}

fn proc_status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Connects with a deadline and sets 20 s read/write timeouts, so a broken
/// server fails a test instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends `payload` and reads back exactly as many bytes (writing from a
/// second thread, so a large payload cannot deadlock on full buffers).
pub fn echo_round_trip(stream: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let to_send = payload.to_vec();
    let sender = thread::spawn(move || writer.write_all(&to_send));
    let mut back = vec![0; payload.len()];
    stream.read_exact(&mut back).expect("read echo");
    sender.join().unwrap().expect("write payload");
    back
}

/// Reads until the peer closes, returning everything.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read to close");
    all
}

/// A pseudo-random payload (so misordered bytes are caught).
pub fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Runs a command (curl, wrk) with a deadline; returns (status, stdout).
pub fn run_tool(program: &str, args: &[&str], limit: Duration) -> (ExitStatus, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (install it; .ci/run does): {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap();
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// A directory tree for the http tests.
pub fn web_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
    std::fs::write(
        root.join("page.html"),
        "<!doctype html><title>t</title><p>page</p>",
    )
    .unwrap();
    std::fs::create_dir(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/a b&c.txt"), "spaced").unwrap();
    std::fs::create_dir(root.join("site")).unwrap();
    std::fs::write(root.join("site/index.html"), "<h1>index</h1>").unwrap();
    std::fs::write(root.join("big.bin"), payload(3 * 1024 * 1024 + 17)).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("escape")).unwrap();
    std::fs::create_dir(root.join("browser")).unwrap();
    std::fs::write(
        root.join("browser/index.html"),
        "<!doctype html><title>srvkit</title><body>\
         <img src=\"pixel.png\" onload=\"document.body.setAttribute('data-loaded','yes')\">",
    )
    .unwrap();
    std::fs::write(root.join("browser/pixel.png"), ONE_PIXEL_PNG).unwrap();
    dir
}

/// A 1x1 transparent PNG.
const ONE_PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

pub fn root_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_string()
}
