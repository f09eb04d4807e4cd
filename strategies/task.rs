//! The connection loop shared by the task-per-connection strategies (`async`
//! on smol, `tokio`): one `async fn` that drives a [`Conn`] over a
//! non-blocking socket, generic over the runtime's readiness API.
//!
//! The socket stays a plain non-blocking `std::net::TcpStream`, so the
//! syscalls are the core's own (`read`, `write`, `sendfile` through
//! [`crate::Transport`]); the runtime only says when to try again. Each wait
//! races the socket's readiness against the idle timer and the shutdown
//! signal, so a task needs no other timer or sweep.

use std::future::{Future, poll_fn};
use std::io;
use std::net::TcpStream;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::{Conn, Handler, ShutdownHandle};

/// Reads in a row before a task yields, so that one fast sender cannot keep
/// its worker thread from the other tasks (the reactor's `READS_PER_TURN`).
const READS_PER_TURN: usize = 16;

/// Size of the read buffer. There is one per worker thread, not one per
/// connection: an idle connection holds no read buffer at all.
const SCRATCH_SIZE: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A non-blocking socket registered with a runtime's reactor.
///
/// `try_*` run one non-blocking operation on the std socket; an
/// `Err(WouldBlock)` from them tells the runtime the socket is not ready
/// (tokio clears its cached readiness exactly then). `ready` waits until the
/// runtime sees the socket readable (if `read`) or writable (if `write`).
pub(crate) trait ReadySocket {
    /// Runs a read-side operation.
    fn try_read<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R>;
    /// Runs a write-side operation.
    fn try_write<R>(&self, op: impl FnOnce(&TcpStream) -> io::Result<R>) -> io::Result<R>;
    /// Waits for readiness in at least one of the asked directions.
    fn ready(&self, read: bool, write: bool) -> impl Future<Output = io::Result<()>> + Send;
}

/// What ended a wait.
enum Woke {
    Io(io::Result<()>),
    Timer,
    Shutdown,
}

/// Drives `conn` over `socket` until the connection is finished, fails, is
/// idle for `idle`, or is still sending when the task is dropped at the end
/// of the grace period.
///
/// `sleep_until` makes the runtime's timer. `shutdown` completes once the
/// server stops accepting; from then on (or once `stop` says so) the
/// connection reads no more requests and only sends what it owes.
pub(crate) async fn drive<H, S, T, F>(
    socket: &S,
    conn: &mut Conn<H>,
    stop: &ShutdownHandle,
    idle: Option<Duration>,
    sleep_until: impl Fn(Instant) -> T,
    shutdown: F,
) where
    H: Handler,
    S: ReadySocket,
    T: Future<Output = ()>,
    F: Future<Output = ()>,
{
    let peer = conn.peer();
    let mut shutdown = pin!(shutdown);
    let mut stopping = false;
    // One timer per connection, re-armed only when it fires early: arming a
    // timer on every wait would cost a timer-wheel insert and removal per
    // request.
    let mut timer = pin!(idle.map(|idle| sleep_until(Instant::now() + idle)));
    let mut reads = 0;
    loop {
        if !stopping && stop.is_requested() {
            stopping = true;
            conn.finish_input();
        }
        let mut write_blocked = false;
        if conn.wants_write() {
            match socket.try_write(|stream| conn.flush_to(&mut { stream })) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => write_blocked = true,
                Err(e) => {
                    log::debug!("{peer}: {e}");
                    return;
                }
            }
        }
        if conn.is_finished() {
            return;
        }
        let mut read_blocked = false;
        if conn.wants_read() {
            if reads == READS_PER_TURN {
                reads = 0;
                yield_now().await;
                continue;
            }
            match socket.try_read(|stream| read_once(conn, stream)) {
                Ok(_) => {
                    reads += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => read_blocked = true,
                Err(e) => {
                    log::debug!("{peer}: {e}");
                    return;
                }
            }
        }
        reads = 0;
        let woke = {
            let mut io = pin!(socket.ready(read_blocked, write_blocked));
            let waits_for_io = read_blocked || write_blocked;
            poll_fn(|cx| {
                if !stopping && shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Shutdown);
                }
                if let Some(timer) = timer.as_mut().as_pin_mut()
                    && timer.poll(cx).is_ready()
                {
                    return Poll::Ready(Woke::Timer);
                }
                if waits_for_io && let Poll::Ready(result) = io.as_mut().poll(cx) {
                    return Poll::Ready(Woke::Io(result));
                }
                Poll::Pending
            })
            .await
        };
        match woke {
            Woke::Io(Ok(())) => {}
            Woke::Io(Err(e)) => {
                log::debug!("{peer}: {e}");
                return;
            }
            Woke::Shutdown => {
                stopping = true;
                conn.finish_input();
            }
            Woke::Timer => {
                let Some(idle) = idle else { return };
                let now = Instant::now();
                let silent = conn.idle_for(now);
                if silent >= idle {
                    log::debug!("{peer}: idle timeout");
                    return;
                }
                timer.set(Some(sleep_until(now + (idle - silent))));
            }
        }
    }
}

/// One read into this thread's scratch buffer, handed to the handler.
fn read_once<H: Handler>(conn: &mut Conn<H>, stream: &TcpStream) -> io::Result<usize> {
    SCRATCH.with_borrow_mut(|scratch| {
        if scratch.is_empty() {
            scratch.resize(SCRATCH_SIZE, 0);
        }
        conn.read_from(&mut { stream }, scratch)
    })
}

/// Gives the other tasks of this worker thread a turn.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    /// The first.
    Left(A),
    /// The second.
    Right(B),
}

/// Waits for whichever of `a` and `b` finishes first (the first wins a tie);
/// the other is dropped.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}
