//! The server under test, run as a child process of its own (its own file
//! descriptors and scheduling), started, checked and always stopped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// Lines of the server's stderr kept to explain a failure.
const KEPT_LINES: usize = 8;
/// How long the server may take to print its startup line and accept.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// A running `srvkit` server; stopped (and its process group killed) when
/// dropped, so no pairing leaves a process behind.
pub struct ServerChild {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stopped: bool,
}

impl ServerChild {
    /// Starts `binary` with `args` (which must bind port 0 and print the
    /// startup line), waits until it accepts a connection, and returns it.
    /// A server that exits or stays silent yields its last error line.
    pub fn start(binary: &Path, args: &[String], cancel: &AtomicBool) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A group of its own: a Ctrl-C at the terminal reaches only the
            // harness, which then stops the server in order; and killing the
            // group reaches every child of a forking server.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            // Drains stderr for the server's whole life: a server logging a
            // line per refused connection must never block on a full pipe.
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut tail) = tail.lock() {
                        if tail.len() == KEPT_LINES {
                            tail.pop_front();
                        }
                        tail.push_back(line);
                    }
                }
            });
        }
        let (first_line, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
                if let Some(line) = lines.next() {
                    let _ = first_line.send(line);
                }
                lines.for_each(drop);
            });
        }
        let mut server = ServerChild {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr_tail,
            stopped: false,
        };
        let deadline = Instant::now() + START_DEADLINE;
        let line = loop {
            if cancel.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            match lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(status) = server.exit_status() {
                        return Err(server.explain_exit(status));
                    }
                }
                Err(_) => {
                    // Give the stderr reader a moment to catch the last words.
                    thread::sleep(Duration::from_millis(100));
                    return Err(match server.exit_status() {
                        Some(status) => server.explain_exit(status),
                        None => format!("no startup line within {}s", START_DEADLINE.as_secs()),
                    });
                }
            }
        };
        server.addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(": ").next())
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| format!("unexpected startup line: {line}"))?;
        loop {
            match TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)) {
                Ok(_) => return Ok(server),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("does not accept connections: {e}"));
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it exited, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The server's last stderr line, if it printed any.
    pub fn last_error(&self) -> Option<String> {
        let tail = self.stderr_tail.lock().ok()?;
        tail.back().cloned()
    }

    fn explain_exit(&self, status: ExitStatus) -> String {
        match self.last_error() {
            Some(line) => format!("server exited ({status}): {line}"),
            None => format!("server exited ({status})"),
        }
    }

    /// Asks the server to shut down (SIGTERM) and waits up to `patience`;
    /// then kills its process group. Returns how it ended: an error if it
    /// had to be killed or exited with a failure.
    pub fn stop(mut self, patience: Duration) -> Result<(), String> {
        self.stopped = true;
        if let Some(status) = self.exit_status() {
            self.kill_group();
            return Err(self.explain_exit(status));
        }
        if let Some(pid) = self.process_id() {
            let _ = kill_process(pid, Signal::TERM);
        }
        let deadline = Instant::now() + patience;
        let result = loop {
            if let Some(status) = self.exit_status() {
                break if status.success() {
                    Ok(())
                } else {
                    Err(self.explain_exit(status))
                };
            }
            if Instant::now() >= deadline {
                break Err(format!(
                    "did not stop within {}s of SIGTERM; killed",
                    patience.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.kill_group();
        result
    }

    fn process_id(&self) -> Option<Pid> {
        Pid::from_raw(i32::try_from(self.child.id()).ok()?)
    }

    /// Kills whatever is left of the server's process group and reaps the
    /// server itself.
    fn kill_group(&mut self) {
        if let Some(pid) = self.process_id() {
            // The group id is the server's pid (process_group(0) above).
            let _ = kill_process_group(pid, Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if !self.stopped {
            self.kill_group();
        }
    }
}
