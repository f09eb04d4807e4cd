//! `fork`: a process per connection (the tutorials' os.fork server,
//! socketserver's `ForkingMixIn`).
//!
//! The parent only accepts; each connection is served by a child process
//! forked for it, with blocking IO, which then exits. A crash in one child
//! cannot touch another, and the handler needs no thread safety. The costs:
//! a fork per connection (page tables copied, then pages copied on write),
//! a process per open connection, and no memory shared between connections,
//! so services that share state are refused. `--max-children N` (as
//! ForkingMixIn's `max_children`) pauses accepting while N children run.
//!
//! Children are reaped as they exit (SIGCHLD wakes the parent through a
//! pipe), so none lingers as a zombie. The parent keeps its copy of each
//! child's socket: on shutdown it calls `shutdown(SHUT_RD)` on them, which
//! makes the child's blocked read end and lets it finish its pending replies;
//! children still running after the grace period are killed, and all are
//! reaped before `serve` returns.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::accept::{Accepted, Incoming};
use crate::blocking::BlockingDriver;
use crate::limits::Permit;
use crate::process::{ChildExits, describe, ensure_single_threaded, fork_child};
use crate::sys::wait_readable;
use crate::{Error, ServeContext, Service, Strategy};

/// How long accepting pauses when fork itself fails (process limit reached).
const FORK_BACKOFF: Duration = Duration::from_millis(100);
/// How often a parent at the connection limit looks again.
const LIMIT_RECHECK: Duration = Duration::from_millis(20);

/// The process-per-connection strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fork {
    /// Children at most; `None`: only `--max-connections` applies.
    pub max_children: Option<usize>,
}

/// A running child: the parent's copy of its socket, and its place under the
/// connection limit.
struct Child {
    stream: TcpStream,
    _permit: Permit,
}

impl Strategy for Fork {
    fn name(&self) -> &'static str {
        "fork"
    }

    fn shares_memory(&self) -> bool {
        false
    }

    fn probe(&self) -> Result<(), Error> {
        ensure_single_threaded("fork")
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let exits = ChildExits::new()?;
        let mut children: HashMap<Pid, Child> = HashMap::new();
        let mut acceptor = cx.acceptor(&listener, false);
        let mut paused_until: Option<Instant> = None;
        let shutdown = cx.shutdown();
        while !shutdown.is_requested() {
            forget_exited(&exits, &mut children);
            let full = self.max_children.is_some_and(|max| children.len() >= max);
            let now = Instant::now();
            if full || paused_until.is_some_and(|until| now < until) {
                let wait = paused_until.map(|until| until.saturating_duration_since(now));
                wait_readable(&[shutdown.fd(), exits.fd()], wait)?;
                continue;
            }
            paused_until = None;
            match acceptor.accept()? {
                Accepted::Conn(incoming) => {
                    if let Err(e) = spawn(incoming, &*service, cx, &mut children) {
                        log::warn!("fork: {e}; pausing accepts for {FORK_BACKOFF:?}");
                        paused_until = Some(Instant::now() + FORK_BACKOFF);
                    }
                }
                Accepted::WouldBlock => {
                    wait_readable(&[listener.as_fd(), shutdown.fd(), exits.fd()], None)?;
                }
                Accepted::AtLimit => paused_until = Some(now + LIMIT_RECHECK),
                Accepted::Paused(until) => paused_until = Some(until),
            }
        }
        drop(listener);
        stop_children(&exits, &mut children, cx.limits().grace)
    }
}

/// Forks a child to serve `incoming`; the parent keeps its socket copy.
fn spawn<S: Service>(
    incoming: Incoming,
    service: &S,
    cx: &ServeContext,
    children: &mut HashMap<Pid, Child>,
) -> io::Result<()> {
    let mut incoming = Some(incoming);
    // A child whose parent died has nobody to stop it gracefully: kill it.
    let pid = fork_child(Signal::KILL, || {
        // The child: close the parent's copies of other children's sockets,
        // serve this one connection, exit.
        children.clear();
        if let Some(incoming) = incoming.take() {
            BlockingDriver::new(cx).drive(incoming, service);
        }
        0
    })?;
    if let Some(incoming) = incoming {
        let child = Child {
            stream: incoming.stream,
            _permit: incoming.permit,
        };
        children.insert(pid, child);
    }
    Ok(())
}

fn forget_exited(exits: &ChildExits, children: &mut HashMap<Pid, Child>) {
    for (pid, status) in exits.reap() {
        if children.remove(&pid).is_some() && !status.exited() {
            log::debug!(
                "connection process {} ended by {}",
                pid.as_raw_nonzero(),
                describe(status)
            );
        }
    }
}

/// Lets every child finish its pending replies (its blocked read ends), then
/// kills and reaps what is left after `grace`.
fn stop_children(
    exits: &ChildExits,
    children: &mut HashMap<Pid, Child>,
    grace: Duration,
) -> io::Result<()> {
    for child in children.values() {
        let _ = child.stream.shutdown(Shutdown::Read);
    }
    exits.wait_for_all(children, grace)
}
