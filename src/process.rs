//! Pieces shared by the process-based strategies (`fork`, `prefork`): a safe
//! way to fork, and noticing and reaping children that exit.
//!
//! fork(2) copies only the calling thread. In a multi-threaded process the
//! child may inherit a lock (the allocator's, say) held by a thread that does
//! not exist in the child, and deadlock on it. So these strategies fork only
//! from a single-threaded process, checked before serving; the `srvkit`
//! binary stays single-threaded for them (its signal handling writes to a
//! pipe and needs no thread).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::pipe::PipeFlags;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};

use crate::Error;
use crate::sys::wait_readable;

/// Fails unless the calling process has exactly one thread.
pub fn ensure_single_threaded(strategy: &'static str) -> Result<(), Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<usize>().ok());
    match threads {
        Some(1) => Ok(()),
        Some(n) => Err(Error::Unsupported {
            strategy,
            reason: format!(
                "it forks, which is only safe in a single-threaded process, and this one has {n} threads \
                 (run it from the srvkit binary, or before starting any thread)"
            ),
        }),
        None => Err(Error::Unsupported {
            strategy,
            reason: "cannot read the thread count from /proc/self/status".into(),
        }),
    }
}

/// Forks; the child runs `child` and exits with the code it returns, never
/// returning here. The parent gets the child's pid. Should the parent die,
/// even by SIGKILL, the child receives `on_parent_death`, so no child
/// outlives its server as an orphan.
///
/// Call only from a single-threaded process ([`ensure_single_threaded`]).
pub fn fork_child(on_parent_death: Signal, child: impl FnOnce() -> i32) -> io::Result<Pid> {
    let parent = rustix::process::getpid();
    // SAFETY: the process-based strategies check that the process is
    // single-threaded before serving and start no threads themselves, so the
    // child is an exact copy of the only thread and may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let watched = rustix::process::set_parent_process_death_signal(Some(on_parent_death));
            // The parent may have died before the line above took effect.
            if watched.is_err() || rustix::process::getppid() != Some(parent) {
                std::process::exit(1);
            }
            std::process::exit(child())
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            Pid::from_raw(child.as_raw()).ok_or_else(|| io::Error::other("fork returned pid 0"))
        }
        Err(errno) => Err(io::Error::from_raw_os_error(errno as i32)),
    }
}

/// Becomes readable when a child exits (SIGCHLD, through a pipe written by
/// the signal handler), and reaps exited children.
#[derive(Debug)]
pub struct ChildExits {
    read: OwnedFd,
    signal: signal_hook::SigId,
}

impl ChildExits {
    /// Starts listening for SIGCHLD.
    pub fn new() -> io::Result<Self> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let signal =
            signal_hook::low_level::pipe::register_raw(signal_hook::consts::SIGCHLD, write)?;
        Ok(ChildExits { read, signal })
    }

    /// Readable when a child may have exited.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Waits up to `grace` for every child in `children` to exit, removing
    /// each as it is reaped; kills and reaps those still running after that.
    pub fn wait_for_all<T>(
        &self,
        children: &mut HashMap<Pid, T>,
        grace: Duration,
    ) -> io::Result<()> {
        let deadline = Instant::now() + grace;
        loop {
            for (pid, _) in self.reap() {
                children.remove(&pid);
            }
            if children.is_empty() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            wait_readable(&[self.fd()], Some(left))?;
        }
        log::warn!("grace period over: killing {} process(es)", children.len());
        for pid in children.keys() {
            let _ = rustix::process::kill_process(*pid, Signal::KILL);
        }
        for (pid, _) in children.drain() {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        }
        Ok(())
    }

    /// Reaps every child that has exited, returning each pid and status.
    pub fn reap(&self) -> Vec<(Pid, WaitStatus)> {
        let mut drain = [0u8; 64];
        while matches!(rustix::io::read(&self.read, &mut drain), Ok(n) if n > 0) {}
        let mut exited = Vec::new();
        while let Ok(Some((pid, status))) = rustix::process::waitpid(None, WaitOptions::NOHANG) {
            exited.push((pid, status));
        }
        exited
    }
}

impl Drop for ChildExits {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.signal);
    }
}

/// Describes how a child ended, for logs.
pub fn describe(status: WaitStatus) -> String {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (_, Some(signal)) => format!("signal {signal}"),
        _ => "unknown status".into(),
    }
}
