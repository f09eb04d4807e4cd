//! `uring`: one thread, completion-based IO through Linux's io_uring.
//!
//! Readiness models (epoll) ask "which sockets are ready?" and then make a
//! syscall per read and write. Here the loop *submits* the operations
//! themselves to a ring shared with the kernel and later reaps their
//! completions, so one `io_uring_enter` both submits a batch and waits. The
//! loop blocks in it until a completion arrives or the next timer (idle
//! sweep, accept back-off, grace period) is due; it never busy-waits.
//!
//! - **Accept** is one multishot accept on the listener, and the limiter is
//!   applied to what it yields. Within 64 places of `--max-connections` (and
//!   on kernels before 5.19) single-shot accepts take one client at a time,
//!   so the limit holds exactly; at the limit nothing is armed and clients
//!   wait in the kernel's backlog. Should a burst outrun the multishot
//!   accept's cancellation, the extra connections wait, unread, until a
//!   place frees up. `EMFILE` and friends end the accept, which is re-armed
//!   after [`crate::accept::RESOURCE_BACKOFF`] (the shared policy,
//!   [`crate::accept::AcceptFailure`]).
//! - **Receive** is one multishot receive per connection (single-shot before
//!   Linux 6.0) taking buffers from a shared pool of provided buffers, so a
//!   connection waiting for input holds no buffer. Bytes go to
//!   [`crate::Conn::feed`] and the buffer goes straight back to the pool.
//!   Backpressure: the receive is armed only while the `Conn` wants input;
//!   once it stops wanting (output above the high-water mark), the receive
//!   is cancelled, and bytes the kernel delivered before the cancel landed
//!   wait in a per-connection stash, fed once the output has drained.
//! - **Send**: the `Conn` flushes into a staging buffer of up to 64 KiB
//!   (`sendfile` ranges are read into it), the ring sends from it, and the
//!   buffer is refilled when the send completes. The ring owns the staging
//!   buffer while the send is in flight.
//! - **Closing** cancels the connection's operations; its slot, socket and
//!   buffers are freed only after their last completions arrived.
//!
//! Costs: every byte sent is copied once into the staging buffer (no
//! zero-copy `sendfile`), a fixed 4 MiB receive pool, and a kernel newer
//! than most (5.11+; io_uring is often disabled in containers and by
//! `kernel.io_uring_disabled`, which [`Uring`] reports at startup). Like
//! `epoll`, one slow handler call delays every connection.
//!
//! Choose it to compare completion-based IO with readiness on the same
//! handler, or for many busy connections where syscalls per operation
//! dominate: a batch of sends and receives costs one syscall.

mod ops;
mod slot;

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use rustix::io::Errno;
use rustix::net::SocketFlags;
use slab::Slab;

use crate::accept::{AcceptFailure, RESOURCE_BACKOFF};
use crate::{Error, ServeContext, Service, Strategy};
use ops::{BufPool, Features, GENERATION_MASK, Op, push, token, untoken};
use slot::{Slot, State};

/// The io_uring strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uring {
    /// Use single-shot accepts and receives even where the kernel offers
    /// multishot ones (the fallback for older kernels, kept testable).
    pub single_shot: bool,
}

impl Strategy for Uring {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn probe(&self) -> Result<(), Error> {
        open_ring().map(drop).map_err(|reason| Error::Unsupported {
            strategy: "uring",
            reason,
        })
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let (ring, mut features) = open_ring().map_err(io::Error::other)?;
        if self.single_shot {
            features.accept_multi = false;
            features.recv_multi = false;
        }
        EventLoop {
            ring,
            pool: BufPool::new(),
            features,
            listener: &listener,
            service: &*service,
            cx,
            slots: Slab::new(),
            generation: 0,
            entries: Vec::new(),
            accept: State::Idle,
            accept_multishot: false,
            parked: VecDeque::new(),
            paused_until: None,
            grace_deadline: None,
            forced: false,
            next_sweep: Instant::now(),
        }
        .run()
    }
}

/// A ring and what its kernel supports, or why there is none.
fn open_ring() -> Result<(IoUring, Features), String> {
    let ring = IoUring::builder()
        .setup_cqsize(8192)
        .build(512)
        .map_err(|e| match Errno::from_io_error(&e) {
            Some(Errno::NOSYS) => "the kernel has no io_uring (ENOSYS)".to_string(),
            Some(Errno::PERM | Errno::ACCESS) => format!(
                "io_uring is disabled here ({e}): see sysctl kernel.io_uring_disabled, \
                 or a container's seccomp profile"
            ),
            _ => format!("cannot create an io_uring: {e}"),
        })?;
    let features = ops::features(&ring)?;
    Ok((ring, features))
}

/// Free places under the connection limit below which accepts are
/// single-shot, so the limit holds exactly for bursts of up to this many.
const MULTISHOT_HEADROOM: usize = 64;

struct EventLoop<'a, S: Service> {
    /// Declared before `pool` and `slots`, so the ring goes first.
    ring: IoUring,
    pool: BufPool,
    features: Features,
    listener: &'a TcpListener,
    service: &'a S,
    cx: &'a ServeContext,
    slots: Slab<Slot<S::Handler>>,
    /// The generation of the newest slot, against stale completions.
    generation: u32,
    /// Submissions a connection asked for (kept for the capacity).
    entries: Vec<squeue::Entry>,
    accept: State,
    /// The running accept is multishot.
    accept_multishot: bool,
    /// Accepted beyond the connection limit; served as places free up.
    parked: VecDeque<TcpStream>,
    /// Accepting paused after running out of a resource, until then.
    paused_until: Option<Instant>,
    /// Set once shutdown began: when the grace period ends.
    grace_deadline: Option<Instant>,
    /// The grace period ran out and every connection was closed.
    forced: bool,
    next_sweep: Instant,
}

impl<S: Service> EventLoop<'_, S> {
    fn run(mut self) -> io::Result<()> {
        let result = self.turns();
        if result.is_err() {
            // Operations may still be in flight: leak their buffers rather
            // than free them under the kernel.
            for (_, slot) in self.slots.iter_mut().filter(|(_, s)| s.sending()) {
                slot.leak_staged();
            }
            if self.slots.iter().any(|(_, s)| s.recv != State::Idle) {
                self.pool.leak();
            }
        }
        result
    }

    fn turns(&mut self) -> io::Result<()> {
        let entry = self.pool.provide_all();
        // SAFETY: the pool lives as long as the loop, and the loop returns
        // normally only once no receive (which writes to it) is in flight.
        unsafe { push(&mut self.ring, &entry)? };
        let fd = Fd(self.cx.shutdown().fd().as_raw_fd());
        let poll = opcode::PollAdd::new(fd, rustix::event::PollFlags::IN.bits().into()).build();
        // SAFETY: a poll points to no memory.
        unsafe { push(&mut self.ring, &poll.user_data(token(Op::Shutdown, 0, 0)))? };
        let mut cqes = Vec::with_capacity(1024);
        loop {
            self.update_accept()?;
            let shut = self.grace_deadline.is_some() && self.accept == State::Idle;
            if shut && self.slots.is_empty() {
                return Ok(());
            }
            let grace = self.grace_deadline.filter(|_| !self.forced);
            let wake = [self.paused_until, grace].into_iter().flatten();
            let wake = wake.fold(self.next_sweep, Instant::min);
            let timeout = Timespec::from(wake.saturating_duration_since(Instant::now()));
            match self
                .ring
                .submitter()
                .submit_with_args(1, &SubmitArgs::new().timespec(&timeout))
            {
                Ok(_) => {}
                Err(e) if matches!(Errno::from_io_error(&e), Some(Errno::TIME | Errno::BUSY)) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            cqes.extend(self.ring.completion());
            for cqe in cqes.drain(..) {
                self.complete(&cqe)?;
            }
            let now = Instant::now();
            if now >= self.next_sweep {
                self.sweep_idle(now)?;
            }
            if self.grace_deadline.is_some_and(|at| now >= at) && !self.forced {
                log::warn!(
                    "grace period over: closing {} connection(s)",
                    self.slots.len()
                );
                self.forced = true;
                let keys: Vec<usize> = self.slots.iter().map(|(key, _)| key).collect();
                for key in keys {
                    self.close(key)?;
                }
            }
        }
    }

    fn complete(&mut self, cqe: &cqueue::Entry) -> io::Result<()> {
        let (res, flags) = (cqe.result(), cqe.flags());
        let Some((op, key, generation)) = untoken(cqe.user_data()) else {
            return Ok(());
        };
        let error = || io::Error::from_raw_os_error(-res);
        match op {
            Op::Accept => return self.on_accept(res, flags),
            Op::Shutdown if res < 0 => {
                let reason = format!("cannot watch the shutdown fd: {}", error());
                return Err(io::Error::other(reason));
            }
            Op::Shutdown => self.begin_shutdown()?,
            Op::Provide if res < 0 => log::warn!("io_uring: buffers lost: {}", error()),
            Op::Provide | Op::Cancel => {}
            Op::Recv => self.on_recv(key, generation, res, flags)?,
            Op::Send => {
                if let Some(slot) = self.slots.get_mut(key)
                    && slot.generation == generation
                {
                    slot.sent(res);
                    self.update(key)?;
                }
            }
        }
        Ok(())
    }

    /// Arms the accept when the limits allow it, cancels it when not.
    fn update_accept(&mut self) -> io::Result<()> {
        self.paused_until = self.paused_until.filter(|&until| Instant::now() < until);
        let free = self
            .cx
            .limits()
            .max_connections
            .saturating_sub(self.cx.limiter().open());
        let wanted = self.grace_deadline.is_none()
            && self.paused_until.is_none()
            && self.parked.is_empty()
            && free > 0;
        // Near the limit, accept one at a time: a multishot accept could take
        // a whole burst of clients past it.
        let multishot = self.features.accept_multi && free > MULTISHOT_HEADROOM;
        if self.accept == State::Running && (!wanted || self.accept_multishot && !multishot) {
            // Stop accepting, or turn single-shot (re-armed once this ended).
            self.accept = State::Cancelling;
            // SAFETY: a cancellation points to no memory.
            return unsafe { push(&mut self.ring, &ops::cancel(token(Op::Accept, 0, 0))) };
        }
        if !wanted || self.accept != State::Idle {
            return Ok(());
        }
        let listener = Fd(self.listener.as_raw_fd());
        let flags = SocketFlags::CLOEXEC.bits() as i32;
        let entry = if multishot {
            opcode::AcceptMulti::new(listener).flags(flags).build()
        } else {
            let (addr, len) = (std::ptr::null_mut(), std::ptr::null_mut());
            opcode::Accept::new(listener, addr, len)
                .flags(flags)
                .build()
        };
        self.accept = State::Running;
        self.accept_multishot = multishot;
        // SAFETY: the accept asks for no peer address: it points to no memory.
        unsafe { push(&mut self.ring, &entry.user_data(token(Op::Accept, 0, 0))) }
    }

    fn on_accept(&mut self, res: i32, flags: u32) -> io::Result<()> {
        if !cqueue::more(flags) {
            self.accept = State::Idle;
        }
        if res >= 0 {
            // SAFETY: the kernel just installed this fd for us; nothing else owns it.
            let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(res) });
            if self.grace_deadline.is_none() {
                self.parked.push_back(stream);
                self.admit_parked()?;
                if !self.parked.is_empty() {
                    log::debug!("at the connection limit: {} wait", self.parked.len());
                }
            }
            return Ok(());
        }
        if res == -Errno::CANCELED.raw_os_error() {
            return Ok(());
        }
        let error = io::Error::from_raw_os_error(-res);
        match AcceptFailure::of(&error) {
            AcceptFailure::Retry => {}
            AcceptFailure::Backoff => self.paused_until = Some(Instant::now() + RESOURCE_BACKOFF),
            AcceptFailure::Fatal => return Err(error),
        }
        Ok(())
    }

    /// Serves accepted connections while the limit has room for them.
    fn admit_parked(&mut self) -> io::Result<()> {
        while !self.parked.is_empty() {
            let Some(permit) = self.cx.limiter().try_acquire() else {
                break;
            };
            let Some(stream) = self.parked.pop_front() else {
                break;
            };
            let peer = stream
                .peer_addr()
                .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
            let conn = self.cx.new_conn(self.service.new_handler(peer), peer);
            self.generation = self.generation.wrapping_add(1) & GENERATION_MASK;
            let key = self
                .slots
                .insert(Slot::new(self.generation, stream, conn, permit));
            self.update(key)?;
        }
        Ok(())
    }

    fn on_recv(&mut self, key: usize, generation: u32, res: i32, flags: u32) -> io::Result<()> {
        let buffer = cqueue::buffer_select(flags);
        let slot = self.slots.get_mut(key);
        let slot = slot.filter(|slot| slot.generation == generation);
        let live = slot.is_some();
        if let Some(slot) = slot {
            let bytes = buffer.map_or(&[][..], |id| self.pool.get(id, res.max(0) as usize));
            slot.received(res, bytes, cqueue::more(flags));
        }
        if let Some(id) = buffer {
            let entry = self.pool.provide(id, 1);
            // SAFETY: as for the whole pool in `turns`; the buffer's bytes
            // were copied out above.
            unsafe { push(&mut self.ring, &entry)? };
        }
        if live {
            // After the buffer went back, so a re-armed receive finds it.
            self.update(key)?;
        }
        Ok(())
    }

    /// Moves a connection on after anything happened to it, submits what it
    /// needs, and frees its slot once it is closed and nothing is in flight.
    fn update(&mut self, key: usize) -> io::Result<()> {
        let Some(slot) = self.slots.get_mut(key) else {
            return Ok(());
        };
        let free = slot.step(key, self.features.recv_multi, &mut self.entries);
        for entry in self.entries.drain(..) {
            // SAFETY: a send points into the slot's staging buffer, which
            // `Slot::step` leaves alone while the send runs and which lives
            // until the slot is freed, after the send's completion; a
            // receive's buffers are the pool's (see `turns`); a cancel
            // points to no memory.
            unsafe { push(&mut self.ring, &entry)? };
        }
        if free {
            drop(self.slots.remove(key));
            self.admit_parked()?;
        }
        Ok(())
    }

    fn close(&mut self, key: usize) -> io::Result<()> {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.closing = true;
            self.update(key)?;
        }
        Ok(())
    }

    fn begin_shutdown(&mut self) -> io::Result<()> {
        if self.grace_deadline.is_some() {
            return Ok(());
        }
        self.grace_deadline = Some(Instant::now() + self.cx.limits().grace);
        self.parked.clear();
        let keys: Vec<usize> = self.slots.iter().map(|(key, _)| key).collect();
        for key in keys {
            if let Some(slot) = self.slots.get_mut(key) {
                slot.conn.finish_input();
                slot.stash = Vec::new();
            }
            self.update(key)?;
        }
        Ok(())
    }

    fn sweep_idle(&mut self, now: Instant) -> io::Result<()> {
        let Some(idle) = self.cx.limits().idle_timeout else {
            self.next_sweep = now + Duration::from_secs(3600);
            return Ok(());
        };
        let expired: Vec<usize> = self
            .slots
            .iter()
            .filter(|(_, slot)| !slot.closing && slot.conn.idle_for(now) >= idle)
            .map(|(key, _)| key)
            .collect();
        for key in expired {
            log::debug!("{}: idle timeout", self.slots[key].conn.peer());
            self.close(key)?;
        }
        self.next_sweep = now + (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        Ok(())
    }
}
