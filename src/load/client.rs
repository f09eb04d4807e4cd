//! The loader's engine: a few threads, each an edge-triggered epoll loop over
//! its share of the clients, each client a small state machine.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, timerfd_create, timerfd_settime,
};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::report::{ErrorCounts, LatencySummary, LoadReport, process_cpu_time};
use super::workload::{Reply, ReplyCheck};
use super::{LoadConfig, Mode, Progress};

/// How often timeouts are checked.
const SWEEP: Duration = Duration::from_millis(100);
/// Pause before retrying a failed connect.
const RETRY: Duration = Duration::from_millis(100);
/// The epoll token of a worker's timer fd (client tokens are indices).
const TIMER: u64 = u64::MAX;
/// How much later than the timer fd the epoll timeout fires, in case a
/// timer fd event is ever missed.
const BACKSTOP: Duration = Duration::from_millis(5);
/// How long in-flight requests may finish after the measured period.
const MAX_DRAIN: Duration = Duration::from_secs(3);

/// Counters every thread adds to, for the progress line.
#[derive(Default)]
struct Live {
    completed: AtomicU64,
    errors: AtomicU64,
    connected: AtomicUsize,
    finished: AtomicUsize,
    /// Set when the caller gives up (an error in another thread).
    abort: AtomicBool,
}

/// The instants that divide a run.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    give_up: Instant,
}

impl Schedule {
    fn measured(&self, at: Instant) -> bool {
        at >= self.measure_from && at < self.measure_until
    }
}

/// What one thread measured.
struct Tally {
    latency: Histogram<u64>,
    sent: u64,
    completed: u64,
    bytes_sent: u64,
    bytes_received: u64,
    errors: ErrorCounts,
    peak: usize,
    held: usize,
}

pub(super) fn run(
    config: &LoadConfig,
    progress: &mut dyn FnMut(Progress),
) -> io::Result<LoadReport> {
    if config.connections == 0 || config.rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "connections and rate must be positive",
        ));
    }
    let threads = config.threads.clamp(1, config.connections);
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let measure_until = measure_from + config.duration;
    let schedule = Schedule {
        start,
        measure_from,
        measure_until,
        give_up: measure_until + config.request_timeout.min(MAX_DRAIN),
    };
    let live = Live::default();
    let (tallies, cpu) = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (config, live) = (config, &live);
                scope.spawn(move || {
                    let result =
                        Worker::new(config, t, threads, schedule, live).and_then(Worker::run);
                    if result.is_err() {
                        live.abort.store(true, Ordering::Relaxed);
                    }
                    live.finished.fetch_add(1, Ordering::Release);
                    result
                })
            })
            .collect();
        let cpu = watch(&schedule, &live, threads, progress);
        let tallies: io::Result<Vec<Tally>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a loader thread panicked")))
            })
            .collect();
        (tallies, cpu)
    });
    Ok(report(config, threads, tallies?, cpu))
}

/// Calls `progress` once a second until the threads finish; returns the CPU
/// time the process used during the measured period.
fn watch(
    schedule: &Schedule,
    live: &Live,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Duration {
    let mut cpu_from = None;
    let mut cpu_until = None;
    let mut next_tick = schedule.start + Duration::from_secs(1);
    while live.finished.load(Ordering::Acquire) < threads {
        let now = Instant::now();
        if cpu_from.is_none() && now >= schedule.measure_from {
            cpu_from = Some(process_cpu_time());
        }
        if cpu_until.is_none() && now >= schedule.measure_until {
            cpu_until = Some(process_cpu_time());
        }
        if now >= next_tick {
            progress(Progress {
                elapsed: now - schedule.start,
                connected: live.connected.load(Ordering::Relaxed),
                completed: live.completed.load(Ordering::Relaxed),
                errors: live.errors.load(Ordering::Relaxed),
            });
            next_tick += Duration::from_secs(1);
        }
        let mut wake = next_tick;
        for at in [
            (cpu_from.is_none(), schedule.measure_from),
            (cpu_until.is_none(), schedule.measure_until),
        ] {
            if at.0 {
                wake = wake.min(at.1);
            }
        }
        thread::sleep(
            wake.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    let until = cpu_until.unwrap_or_else(process_cpu_time);
    until.saturating_sub(cpu_from.unwrap_or_default())
}

fn report(config: &LoadConfig, threads: usize, tallies: Vec<Tally>, cpu: Duration) -> LoadReport {
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
    let mut errors = ErrorCounts::default();
    let (mut sent, mut completed, mut bytes_sent, mut bytes_received, mut peak, mut held) =
        (0, 0, 0, 0, 0, 0);
    for tally in &tallies {
        let _ = latency.add(&tally.latency);
        errors.add(&tally.errors);
        sent += tally.sent;
        completed += tally.completed;
        bytes_sent += tally.bytes_sent;
        bytes_received += tally.bytes_received;
        peak += tally.peak;
        held += tally.held;
    }
    let secs = config.duration.as_secs_f64().max(1e-9);
    LoadReport {
        workload: config.workload.name().to_string(),
        mode: config.mode,
        connections: config.connections,
        connections_peak: peak,
        connections_held: held,
        requests_sent: sent,
        requests: completed,
        duration_secs: secs,
        requests_per_sec: completed as f64 / secs,
        target_rate: config.rate,
        latency: LatencySummary::from_histogram(&latency),
        errors,
        bytes_sent,
        bytes_received,
        loader_cpu_us_per_request: cpu.as_secs_f64() * 1e6 / (completed.max(1) as f64),
        threads,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing in flight; a timer (connect, retry, next due request) may be set.
    Idle,
    Connecting,
    Sending,
    Receiving,
    /// Gave up after the connect deadline.
    Dead,
}

struct Client {
    stream: Option<TcpStream>,
    phase: Phase,
    /// When the timer fires, if set (stale heap entries are ignored).
    wake_at: Option<Instant>,
    /// When the current (or next) request is due; latency runs from here.
    due: Instant,
    /// Whether a request is waiting for the connection to open.
    pending: bool,
    written: usize,
    check: ReplyCheck,
    /// The first connect attempt of the current series (for the deadline).
    connect_series: Option<Instant>,
    /// When the current connect or request began (for timeouts).
    began: Instant,
    readable: bool,
    writable: bool,
}

struct Worker<'a> {
    config: &'a LoadConfig,
    live: &'a Live,
    schedule: Schedule,
    epoll: OwnedFd,
    /// Wakes the loop at the next timer with nanosecond precision: an
    /// epoll timeout has millisecond resolution, which would make open-loop
    /// requests up to a millisecond late and count that as server latency.
    timer: OwnedFd,
    /// The instant `timer` is armed for.
    timer_armed_for: Option<Instant>,
    clients: Vec<Client>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    request: Vec<u8>,
    /// Open loop: time between two requests of one client.
    interval: Option<Duration>,
    scratch: Vec<u8>,
    tally: Tally,
    connected: usize,
    held_recorded: bool,
}

impl<'a> Worker<'a> {
    fn new(
        config: &'a LoadConfig,
        index: usize,
        threads: usize,
        schedule: Schedule,
        live: &'a Live,
    ) -> io::Result<Self> {
        // Clients index, threads; client i of this thread is global client
        // `index + i * threads`, so ramp and open-loop phases interleave.
        let count = (config.connections - index).div_ceil(threads);
        let interval = config
            .rate
            .map(|rate| Duration::from_secs_f64(config.connections as f64 / rate));
        let now = schedule.start;
        let mut worker = Worker {
            config,
            live,
            schedule,
            epoll: epoll::create(CreateFlags::CLOEXEC)?,
            timer: timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?,
            timer_armed_for: None,
            clients: Vec::with_capacity(count),
            timers: BinaryHeap::new(),
            request: config
                .workload
                .request(config.addr, config.mode == Mode::PerRequest),
            interval,
            scratch: vec![0; 64 * 1024],
            tally: Tally {
                latency: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                    .map_err(io::Error::other)?,
                sent: 0,
                completed: 0,
                bytes_sent: 0,
                bytes_received: 0,
                errors: ErrorCounts::default(),
                peak: 0,
                held: 0,
            },
            connected: 0,
            held_recorded: false,
        };
        for i in 0..count {
            let global = index + i * threads;
            let connect_at = if config.ramp_rate == 0 {
                now
            } else {
                now + Duration::from_secs_f64(global as f64 / config.ramp_rate as f64)
            };
            let due = match interval {
                Some(every) => now + every.mul_f64(global as f64 / config.connections as f64),
                None => connect_at,
            };
            worker.clients.push(Client {
                stream: None,
                phase: Phase::Idle,
                wake_at: None,
                due,
                pending: true,
                written: 0,
                check: ReplyCheck::default(),
                connect_series: None,
                began: now,
                readable: false,
                writable: false,
            });
            // Per-request open loop connects when each request is due.
            let first = if config.mode == Mode::PerRequest {
                due.max(connect_at)
            } else {
                connect_at
            };
            worker.set_timer(i, first);
        }
        Ok(worker)
    }

    fn run(mut self) -> io::Result<Tally> {
        epoll::add(
            &self.epoll,
            &self.timer,
            EventData::new_u64(TIMER),
            EventFlags::IN,
        )?;
        let mut ready: Vec<epoll::Event> = Vec::with_capacity(1024);
        let mut next_sweep = Instant::now() + SWEEP;
        loop {
            let now = Instant::now();
            if now >= self.schedule.measure_until && !self.held_recorded {
                self.tally.held = self.connected;
                self.held_recorded = true;
            }
            let cancelled =
                (self.config.cancel.as_ref()).is_some_and(|cancel| cancel.load(Ordering::Relaxed));
            if cancelled
                || self.live.abort.load(Ordering::Relaxed)
                || now >= self.schedule.give_up
                || (now >= self.schedule.measure_until && !self.in_flight())
            {
                break;
            }
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            let wake = [
                Some(next_sweep),
                next_timer,
                Some(self.schedule.measure_until),
                Some(self.schedule.give_up),
            ]
            .into_iter()
            .flatten()
            .filter(|at| *at > now || Some(*at) == next_timer)
            .min()
            .unwrap_or(next_sweep);
            self.arm_timer(wake, now)?;
            // A backstop only: the timer fd wakes the loop on time.
            let timeout = Timespec::try_from(wake.saturating_duration_since(now) + BACKSTOP).ok();
            ready.clear();
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut ready),
                timeout.as_ref(),
            ) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            for event in &ready {
                if event.data.u64() == TIMER {
                    let mut expirations = [0u8; 8];
                    let _ = rustix::io::read(&self.timer, &mut expirations);
                    self.timer_armed_for = None;
                    continue;
                }
                let i = event.data.u64() as usize;
                let flags = event.flags;
                let failed = flags.intersects(EventFlags::ERR | EventFlags::HUP);
                let client = &mut self.clients[i];
                client.readable |= failed || flags.intersects(EventFlags::IN | EventFlags::RDHUP);
                client.writable |= failed || flags.contains(EventFlags::OUT);
                self.advance(i);
            }
            let now = Instant::now();
            while let Some(&Reverse((at, i))) = self.timers.peek() {
                if at > now {
                    break;
                }
                self.timers.pop();
                if self.clients[i].wake_at == Some(at) {
                    self.clients[i].wake_at = None;
                    self.on_timer(i, now);
                }
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + SWEEP;
            }
        }
        // Requests still unanswered when the run ended count as timeouts,
        // including those sent during the warm-up: a server that never
        // answered them stalled through the whole measured period.
        let unanswered = self.clients.iter().filter(|c| {
            matches!(c.phase, Phase::Sending | Phase::Receiving)
                && c.due < self.schedule.measure_until
        });
        self.tally.errors.timeout += unanswered.count() as u64;
        Ok(self.tally)
    }

    /// Arms the timer fd to fire at `wake` (unless it already is).
    fn arm_timer(&mut self, wake: Instant, now: Instant) -> io::Result<()> {
        if self.timer_armed_for == Some(wake) {
            return Ok(());
        }
        // A zero it_value would disarm the timer: fire in a nanosecond instead.
        let after = wake
            .saturating_duration_since(now)
            .max(Duration::from_nanos(1));
        let value = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs() as i64,
                tv_nsec: i64::from(after.subsec_nanos()),
            },
        };
        timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &value)?;
        self.timer_armed_for = Some(wake);
        Ok(())
    }

    fn in_flight(&self) -> bool {
        self.clients.iter().any(|c| {
            matches!(c.phase, Phase::Sending | Phase::Receiving)
                && c.due < self.schedule.measure_until
        })
    }

    fn set_timer(&mut self, i: usize, at: Instant) {
        self.clients[i].wake_at = Some(at);
        self.timers.push(Reverse((at, i)));
    }

    fn on_timer(&mut self, i: usize, now: Instant) {
        let client = &mut self.clients[i];
        if client.phase != Phase::Idle || now >= self.schedule.measure_until {
            return;
        }
        client.pending = true;
        if self.clients[i].stream.is_some() {
            self.start_request(i, now);
            // Edge-triggered: no event will announce what is already
            // writable, so write now.
            self.advance(i);
        } else {
            self.connect(i, now);
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        let socket = match Socket::new(
            Domain::for_address(self.config.addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        ) {
            Ok(socket) => socket,
            Err(e) => return self.connect_failed(i, now, &e),
        };
        let _ = socket.set_tcp_nodelay(true);
        match socket.connect(&self.config.addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => {}
            Err(e) => return self.connect_failed(i, now, &e),
        }
        let stream: TcpStream = socket.into();
        let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        if let Err(e) = epoll::add(
            &self.epoll,
            stream.as_fd(),
            EventData::new_u64(i as u64),
            flags,
        ) {
            return self.connect_failed(i, now, &e.into());
        }
        let client = &mut self.clients[i];
        client.connect_series.get_or_insert(now);
        client.stream = Some(stream);
        client.phase = Phase::Connecting;
        client.began = now;
        client.readable = false;
        client.writable = false;
    }

    fn connect_failed(&mut self, i: usize, now: Instant, e: &io::Error) {
        self.drop_stream(i);
        let client = &mut self.clients[i];
        let series = *client.connect_series.get_or_insert(now);
        if now - series < self.config.connect_deadline && now < self.schedule.measure_until {
            client.phase = Phase::Idle;
            self.set_timer(i, now + RETRY);
            return;
        }
        client.connect_series = None;
        match e.kind() {
            ErrorKind::ConnectionRefused => self.tally.errors.refused += 1,
            ErrorKind::TimedOut => self.tally.errors.timeout += 1,
            _ => self.tally.errors.other += 1,
        }
        self.live.errors.fetch_add(1, Ordering::Relaxed);
        let client = &mut self.clients[i];
        if self.config.mode == Mode::PerRequest && now < self.schedule.measure_until {
            // The next request tries again with a fresh deadline.
            client.phase = Phase::Idle;
            self.set_timer(i, now + RETRY);
        } else {
            client.phase = Phase::Dead;
        }
    }

    /// Moves client `i` as far as its readiness allows.
    fn advance(&mut self, i: usize) {
        loop {
            let now = Instant::now();
            let client = &mut self.clients[i];
            match client.phase {
                Phase::Connecting if client.writable => {
                    let status = client
                        .stream
                        .as_ref()
                        .map(|s| SockRef::from(s).take_error());
                    match status {
                        Some(Ok(None)) => self.connected(i, now),
                        Some(Ok(Some(e)) | Err(e)) => return self.connect_failed(i, now, &e),
                        None => return,
                    }
                }
                Phase::Sending if client.writable => {
                    let Some(stream) = client.stream.as_mut() else {
                        return;
                    };
                    match stream.write(&self.request[client.written..]) {
                        Ok(n) => {
                            client.written += n;
                            if self.schedule.measured(now) {
                                self.tally.bytes_sent += n as u64;
                            }
                            if client.written == self.request.len() {
                                client.phase = Phase::Receiving;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => client.writable = false,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return self.failed(i, now, &e),
                    }
                }
                Phase::Receiving | Phase::Idle if client.readable && client.stream.is_some() => {
                    if !self.receive(i, now) {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Reads once; returns whether to keep going.
    fn receive(&mut self, i: usize, now: Instant) -> bool {
        let client = &mut self.clients[i];
        let Some(stream) = client.stream.as_mut() else {
            return false;
        };
        let n = match stream.read(&mut self.scratch) {
            Ok(0) => {
                // The server closed: an error if a reply was owed.
                let owed = client.phase == Phase::Receiving;
                self.closed(i, now, owed);
                return false;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                client.readable = false;
                return false;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return true,
            Err(e) => {
                self.failed(i, now, &e);
                return false;
            }
        };
        if self.schedule.measured(now) {
            self.tally.bytes_received += n as u64;
        }
        if n < self.scratch.len() {
            // A short read emptied the socket; on Linux, epoll raises a new
            // edge for anything arriving later, so skip the read that would
            // only say EAGAIN.
            client.readable = false;
        }
        if client.phase != Phase::Receiving {
            self.bad_reply(i, now);
            return false;
        }
        match client
            .check
            .feed(&self.config.workload, &self.request, &self.scratch[..n])
        {
            Reply::Partial => true,
            Reply::Complete(used) if used == n => {
                self.completed(i, now);
                true
            }
            Reply::Complete(_) | Reply::Bad => {
                self.bad_reply(i, now);
                false
            }
        }
    }

    fn connected(&mut self, i: usize, now: Instant) {
        self.connected += 1;
        self.tally.peak = self.tally.peak.max(self.connected);
        self.live.connected.fetch_add(1, Ordering::Relaxed);
        let client = &mut self.clients[i];
        client.connect_series = None;
        client.phase = Phase::Idle;
        if self.interval.is_none() && self.config.mode == Mode::Persistent {
            // Closed loop: the first request is due now.
            client.due = now;
        }
        if client.pending {
            self.start_request(i, now);
        }
    }

    /// Sends the due request (or waits for it to become due).
    fn start_request(&mut self, i: usize, now: Instant) {
        let client = &mut self.clients[i];
        if client.due > now {
            let due = client.due;
            return self.set_timer(i, due);
        }
        if client.due >= self.schedule.measure_until {
            client.pending = false;
            return;
        }
        client.pending = false;
        client.phase = Phase::Sending;
        client.written = 0;
        client.check.reset();
        client.began = now;
        if self.schedule.measured(client.due) {
            self.tally.sent += 1;
        }
    }

    fn completed(&mut self, i: usize, now: Instant) {
        let due = self.clients[i].due;
        if self.schedule.measured(due) {
            let micros = (now - due).as_micros().max(1) as u64;
            let _ = self.tally.latency.record(micros);
            self.tally.completed += 1;
        }
        self.live.completed.fetch_add(1, Ordering::Relaxed);
        let next_due = match self.interval {
            Some(every) => due + every,
            None => now,
        };
        let client = &mut self.clients[i];
        client.phase = Phase::Idle;
        client.due = next_due;
        if next_due >= self.schedule.measure_until {
            if self.config.mode == Mode::PerRequest {
                // The run is over for this client: do not leave its last
                // connection open.
                self.drop_stream(i);
            }
            return;
        }
        client.pending = true;
        match self.config.mode {
            Mode::Persistent => self.start_request(i, now),
            Mode::PerRequest => {
                self.drop_stream(i);
                if next_due <= now {
                    self.connect(i, now);
                } else {
                    self.set_timer(i, next_due);
                }
            }
        }
    }

    fn bad_reply(&mut self, i: usize, now: Instant) {
        self.tally.errors.bad_reply += 1;
        self.live.errors.fetch_add(1, Ordering::Relaxed);
        self.replace(i, now);
    }

    fn failed(&mut self, i: usize, now: Instant, e: &io::Error) {
        match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
                self.tally.errors.reset += 1
            }
            ErrorKind::TimedOut => self.tally.errors.timeout += 1,
            _ => self.tally.errors.other += 1,
        }
        self.live.errors.fetch_add(1, Ordering::Relaxed);
        self.replace(i, now);
    }

    /// The server closed the connection.
    fn closed(&mut self, i: usize, now: Instant, owed: bool) {
        if owed {
            self.tally.errors.reset += 1;
            self.live.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.replace(i, now);
    }

    /// Drops the connection and opens another (after a pause), so the load
    /// keeps its number of clients.
    fn replace(&mut self, i: usize, now: Instant) {
        self.drop_stream(i);
        let client = &mut self.clients[i];
        client.phase = Phase::Idle;
        if now < self.schedule.measure_until {
            client.pending = true;
            client.due = client.due.max(now);
            self.set_timer(i, now + RETRY);
        }
    }

    fn drop_stream(&mut self, i: usize) {
        let client = &mut self.clients[i];
        if let Some(stream) = client.stream.take() {
            let _ = epoll::delete(&self.epoll, stream.as_fd());
            if client.phase != Phase::Connecting {
                self.connected -= 1;
                self.live.connected.fetch_sub(1, Ordering::Relaxed);
            }
        }
        client.readable = false;
        client.writable = false;
    }

    /// Times out connects and requests that took too long.
    fn sweep(&mut self, now: Instant) {
        for i in 0..self.clients.len() {
            let client = &self.clients[i];
            let limit = match client.phase {
                Phase::Connecting => self
                    .config
                    .connect_deadline
                    .min(self.config.request_timeout),
                Phase::Sending | Phase::Receiving => self.config.request_timeout,
                _ => continue,
            };
            if now - client.began < limit {
                continue;
            }
            if client.phase == Phase::Connecting {
                let e = io::Error::from(ErrorKind::TimedOut);
                // Give the series no second chance: it already waited `limit`.
                self.clients[i].connect_series = Some(now - self.config.connect_deadline);
                self.connect_failed(i, now, &e);
            } else {
                self.failed(i, now, &io::Error::from(ErrorKind::TimedOut));
            }
        }
    }
}
