//! The machine a benchmark ran on, stated beside every result: numbers from
//! a 2-core laptop and a 64-core server are not comparable.

use std::fmt;
use std::fs;

use serde::Serialize;

/// What the results depend on: cores, memory, CPU and kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// CPUs this process may run on.
    pub cores: usize,
    /// Physical memory, in MiB.
    pub memory_mib: u64,
    /// The CPU's model name.
    pub cpu: String,
    /// The kernel's release string.
    pub kernel: String,
}

impl Machine {
    /// Describes the machine this process runs on.
    pub fn current() -> Machine {
        let memory_kib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|name| name.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib: memory_kib / 1024,
            cpu,
            kernel: rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores ({}), {:.1} GiB, Linux {}",
            self.cores,
            self.cpu,
            self.memory_mib as f64 / 1024.0,
            self.kernel
        )
    }
}
