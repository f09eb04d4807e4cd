//! Measuring the server from the outside, through /proc: memory, CPU,
//! threads, processes and open files of its whole process tree (a forking
//! server is many processes).
//!
//! Memory is proportional set size (PSS, from `smaps_rollup`): each shared
//! page is divided among the processes mapping it, so summing PSS over a
//! prefork or fork server counts its shared code and copy-on-write pages
//! once, where summing RSS would count them once per process.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often CPU time is sampled.
pub const INTERVAL: Duration = Duration::from_millis(250);
/// The shortest pause between two memory samples.
const MEMORY_INTERVAL: Duration = Duration::from_secs(1);

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSample {
    /// Proportional set size summed over the tree, in KiB.
    pub pss_kib: u64,
    /// Resident set size summed over the tree, in KiB.
    pub rss_kib: u64,
    /// User + system CPU of the tree so far, reaped children included.
    pub cpu: Duration,
    /// Threads in the tree.
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
    /// Open file descriptors in the tree.
    pub fds: u64,
}

/// Fields of `/proc/PID/stat` that matter here.
struct Stat {
    parent: u32,
    cpu_ticks: u64,
    reaped_children_ticks: u64,
    threads: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Field 4 (ppid) is index 1 there, utime..cstime 11..14,
    // num_threads 17.
    let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
    let number = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        parent: u32::try_from(number(1)?).ok()?,
        cpu_ticks: number(11)? + number(12)?,
        reaped_children_ticks: number(13)? + number(14)?,
        threads: number(17)?,
    })
}

/// The CPU time of a process's main thread, from `/proc/PID/schedstat`.
fn single_thread_runtime(pid: u32) -> Option<Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// `root` and every process descending from it, with their stats.
fn tree(root: u32) -> io::Result<Vec<(u32, Stat)>> {
    let mut by_pid = HashMap::new();
    // Processes come and go while /proc is listed: an entry that vanished
    // is skipped, not an error.
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            by_pid.insert(pid, stat);
        }
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in &by_pid {
        children.entry(stat.parent).or_default().push(*pid);
    }
    let mut members = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        if let Some(stat) = by_pid.remove(&pid) {
            members.push((pid, stat));
            queue.extend(children.remove(&pid).unwrap_or_default());
        }
    }
    Ok(members)
}

fn kib_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// How much of a process tree to read: the CPU, thread and process counts
/// come from `/proc/PID/stat` and are cheap; the rest costs more the larger
/// the tree and the more descriptors it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// CPU, threads and processes.
    Cpu,
    /// And memory (`smaps_rollup`, which walks each process's page tables).
    Memory,
    /// And open descriptors: listing those of a server holding 10,000
    /// connections costs about 20 ms of CPU, which on a 2-core machine shows
    /// in the latency of the server being measured.
    Everything,
}

/// Reads the process tree rooted at `root`; an error if `root` is gone.
/// What `detail` leaves out reads as 0.
pub fn sample_tree(root: u32, detail: Detail) -> io::Result<TreeSample> {
    let members = tree(root)?;
    if members.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("process {root} is gone"),
        ));
    }
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let mut sample = TreeSample::default();
    let mut ticks = 0;
    let mut exact = Duration::ZERO;
    for (pid, stat) in &members {
        // /proc/PID/stat counts CPU in whole ticks (10 ms), rounded down per
        // process: a thousand forked children each using 5 ms would read as
        // nothing. A single-threaded process's scheduler statistics hold
        // its run time in nanoseconds.
        match (stat.threads, single_thread_runtime(*pid)) {
            (1, Some(runtime)) => exact += runtime,
            _ => ticks += stat.cpu_ticks,
        }
        if *pid == root {
            // Children the root already reaped no longer show in /proc.
            ticks += stat.reaped_children_ticks;
        }
        sample.threads += stat.threads;
        sample.processes += 1;
        if detail == Detail::Cpu {
            continue;
        }
        if let Ok(rollup) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            sample.pss_kib += kib_field(&rollup, "Pss:");
            sample.rss_kib += kib_field(&rollup, "Rss:");
        }
        if detail != Detail::Everything {
            continue;
        }
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
            sample.fds += fds.count() as u64;
        }
    }
    sample.cpu = exact + Duration::from_micros(ticks * 1_000_000 / hz);
    Ok(sample)
}

/// Samples a process tree on a thread of its own until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Vec<(Instant, TreeSample)>>,
}

impl Sampler {
    /// Starts sampling `root`: CPU every [`INTERVAL`], memory as often as
    /// its cost allows, and open descriptors only outside `quiet` (the
    /// measured period).
    pub fn start(root: u32, quiet: (Instant, Instant)) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut samples = Vec::new();
            let mut next_memory = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let began = Instant::now();
                let detail = if began < next_memory {
                    Detail::Cpu
                } else if began < quiet.0 || began >= quiet.1 {
                    Detail::Everything
                } else {
                    Detail::Memory
                };
                match sample_tree(root, detail) {
                    Ok(sample) => samples.push((Instant::now(), sample)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) => log::debug!("sampling process {root}: {e}"),
                }
                let took = began.elapsed();
                if detail != Detail::Cpu {
                    // A costly sample (a tree of 10,000 forked children)
                    // waits long enough to use at most a fifth of a core.
                    next_memory = Instant::now() + MEMORY_INTERVAL.max(took * 4);
                }
                // Sleep in short steps so stopping is prompt.
                let wake = began + INTERVAL.max(took * 4);
                while !flag.load(Ordering::Relaxed) && Instant::now() < wake {
                    thread::sleep(Duration::from_millis(20));
                }
            }
            samples
        });
        Sampler { stop, thread }
    }

    /// Stops sampling and returns the samples taken, oldest first.
    pub fn finish(self) -> Vec<(Instant, TreeSample)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// What a series of samples says about a measured period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// The highest memory, threads, processes and descriptors seen.
    pub peak: TreeSample,
    /// CPU used between the samples nearest the period's ends.
    pub cpu: Duration,
    /// The wall time between those two samples.
    pub wall: Duration,
}

/// Summarises `samples` over the period from `from` to `until`.
pub fn summarise(samples: &[(Instant, TreeSample)], from: Instant, until: Instant) -> Summary {
    let mut summary = Summary::default();
    for (_, s) in samples {
        let peak = &mut summary.peak;
        peak.pss_kib = peak.pss_kib.max(s.pss_kib);
        peak.rss_kib = peak.rss_kib.max(s.rss_kib);
        peak.threads = peak.threads.max(s.threads);
        peak.processes = peak.processes.max(s.processes);
        peak.fds = peak.fds.max(s.fds);
    }
    let nearest = |at: Instant| {
        samples.iter().min_by_key(|(taken, _)| {
            if *taken > at {
                *taken - at
            } else {
                at - *taken
            }
        })
    };
    if let (Some(first), Some(last)) = (nearest(from), nearest(until))
        && last.0 > first.0
    {
        summary.cpu = last.1.cpu.saturating_sub(first.1.cpu);
        summary.wall = last.0 - first.0;
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_counts_this_process_and_its_children() {
        let alone = sample_tree(std::process::id(), Detail::Everything).unwrap();
        assert!(alone.processes >= 1);
        assert!(alone.threads >= 1);
        assert!(alone.pss_kib > 0 && alone.rss_kib >= alone.pss_kib);
        assert!(alone.fds >= 3);
        let without_fds = sample_tree(std::process::id(), Detail::Memory).unwrap();
        assert_eq!(without_fds.fds, 0);
        let mut children: Vec<_> = (0..3)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("5")
                    .spawn()
                    .unwrap()
            })
            .collect();
        let with_children = sample_tree(std::process::id(), Detail::Cpu).unwrap();
        for child in &mut children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert!(with_children.processes >= 4, "{with_children:?}");
    }

    #[test]
    fn summary_takes_cpu_between_the_nearest_samples() {
        let t0 = Instant::now();
        let at = |ms: u64, cpu_ms: u64, pss: u64| {
            (
                t0 + Duration::from_millis(ms),
                TreeSample {
                    pss_kib: pss,
                    cpu: Duration::from_millis(cpu_ms),
                    ..TreeSample::default()
                },
            )
        };
        let samples = [
            at(0, 0, 10),
            at(1000, 100, 50),
            at(2000, 600, 30),
            at(3000, 700, 20),
        ];
        let summary = summarise(
            &samples,
            t0 + Duration::from_millis(1100),
            t0 + Duration::from_millis(1900),
        );
        assert_eq!(summary.cpu, Duration::from_millis(500));
        assert_eq!(summary.wall, Duration::from_secs(1));
        assert_eq!(summary.peak.pss_kib, 50);
    }
}
