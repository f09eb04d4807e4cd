//! `prefork`: N worker processes forked at start, each running an epoll loop
//! on the one shared listening socket (nginx's master/worker model, the
//! "hybrid" the tutorials end with).
//!
//! The master only supervises: a worker that dies is replaced. Each worker is
//! an independent single-threaded event loop; the listener is registered
//! with `EPOLLEXCLUSIVE`, so a new connection wakes one idle worker rather
//! than every one of them (the thundering herd), and a dying worker loses no
//! queued connection, as the accept queue belongs to the shared socket.
//! Processes share no memory, so services that share state are refused;
//! `--max-connections` is divided evenly among the workers. `--workers N`
//! (default: cores).

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::epoll::EpollPoller;
use crate::process::{ChildExits, describe, ensure_single_threaded, fork_child};
use crate::reactor::Reactor;
use crate::sys::wait_readable;
use crate::{Error, ServeContext, Service, Strategy};

/// A worker that dies sooner than this after starting is replaced only after
/// this long, so a worker failing at startup cannot become a fork storm.
const MIN_WORKER_LIFE: Duration = Duration::from_secs(1);
/// Beyond the grace period, how long the master waits for workers to finish
/// their own drain before killing them.
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// The pre-forked worker processes strategy.
#[derive(Debug, Clone, Copy)]
pub struct Prefork {
    /// Worker processes.
    pub workers: usize,
}

impl Default for Prefork {
    /// One worker per core.
    fn default() -> Self {
        Prefork {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Strategy for Prefork {
    fn name(&self) -> &'static str {
        "prefork"
    }

    fn shares_memory(&self) -> bool {
        false
    }

    fn probe(&self) -> Result<(), Error> {
        ensure_single_threaded("prefork")
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let count = self.workers.max(1);
        let worker_cx = cx.with_own_limiter(cx.limits().max_connections.div_ceil(count));
        let start = || {
            // SIGTERM: a worker orphaned by a crashed master drains gracefully.
            fork_child(Signal::TERM, || {
                let served = EpollPoller::new(false).and_then(|poller| {
                    Reactor::new(poller.exclusive_accept(), &listener, &*service, &worker_cx).run()
                });
                match served {
                    Ok(()) => 0,
                    Err(e) => {
                        log::error!("worker {}: {e}", std::process::id());
                        1
                    }
                }
            })
        };
        let exits = ChildExits::new()?;
        let mut workers: HashMap<Pid, Instant> = HashMap::new();
        let shutdown = cx.shutdown();
        let mut restart_at = Instant::now();
        while !shutdown.is_requested() {
            let now = Instant::now();
            if workers.len() < count && now >= restart_at {
                match start() {
                    Ok(pid) => {
                        workers.insert(pid, now);
                        continue;
                    }
                    Err(e) => {
                        log::warn!("cannot start a worker: {e}");
                        restart_at = now + MIN_WORKER_LIFE;
                    }
                }
            }
            let wait = (workers.len() < count).then(|| restart_at.saturating_duration_since(now));
            wait_readable(&[shutdown.fd(), exits.fd()], wait)?;
            for (pid, status) in exits.reap() {
                let Some(started) = workers.remove(&pid) else {
                    continue;
                };
                if shutdown.is_requested() {
                    continue;
                }
                log::warn!(
                    "worker {} ended ({}); starting another",
                    pid.as_raw_nonzero(),
                    describe(status)
                );
                if started.elapsed() < MIN_WORKER_LIFE {
                    restart_at = Instant::now() + MIN_WORKER_LIFE;
                }
            }
        }
        // The workers saw the same shutdown fd and are draining on their own.
        drop(listener);
        exits.wait_for_all(&mut workers, cx.limits().grace + EXIT_MARGIN)
    }
}
