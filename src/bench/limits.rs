//! The system limits that decide whether a C10K run can work at all, read
//! before the first pairing so a run fails in a second with the limit to
//! raise instead of after minutes of confusing errors.

use std::fmt;
use std::fs;

use serde::Serialize;

/// File descriptors a process needs besides its connections (stdio, epoll
/// and listening sockets, pipes, /proc files).
const SPARE_FDS: u64 = 64;

/// The limits a run at many connections depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SystemLimits {
    /// Open files per process, soft limit (`ulimit -n`).
    pub open_files_soft: Option<u64>,
    /// Open files per process, hard limit: srvkit raises the soft limit to it.
    pub open_files_hard: Option<u64>,
    /// The longest accept backlog a listener may ask for
    /// (`net.core.somaxconn`).
    pub somaxconn: Option<u64>,
    /// The local ports clients connect from
    /// (`net.ipv4.ip_local_port_range`).
    pub ephemeral_ports: Option<(u16, u16)>,
}

impl SystemLimits {
    /// Reads the limits of this process and machine.
    pub fn read() -> SystemLimits {
        let files = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        let sysctl = |path: &str| fs::read_to_string(path).ok();
        let ports = sysctl("/proc/sys/net/ipv4/ip_local_port_range").and_then(|text| {
            let mut numbers = text.split_whitespace().filter_map(|n| n.parse().ok());
            Some((numbers.next()?, numbers.next()?))
        });
        SystemLimits {
            open_files_soft: files.current,
            open_files_hard: files.maximum,
            somaxconn: sysctl("/proc/sys/net/core/somaxconn").and_then(|t| t.trim().parse().ok()),
            ephemeral_ports: ports,
        }
    }

    /// How many client connections from 127.0.0.1 to one server address
    /// can exist at once: one per ephemeral port.
    pub fn ephemeral_port_count(&self) -> Option<u64> {
        self.ephemeral_ports
            .map(|(low, high)| u64::from(high.saturating_sub(low)) + 1)
    }

    /// Refuses `connections` concurrent connections when a limit cannot hold
    /// them, naming the limit and how to raise it. The load generator and the
    /// server are separate processes, so each needs its own descriptors.
    pub fn check(&self, connections: usize) -> Result<(), String> {
        let connections = connections as u64;
        let needed = connections + SPARE_FDS;
        if let Some(hard) = self.open_files_hard
            && hard < needed
        {
            return Err(format!(
                "{connections} connections need {needed} open files in the loader and again in the server, \
                 but the hard open-file limit is {hard}: raise it (`ulimit -Hn {needed}` as root, \
                 or `nofile` in /etc/security/limits.conf)"
            ));
        }
        if let Some(ports) = self.ephemeral_port_count()
            && ports < connections
        {
            return Err(format!(
                "{connections} connections from 127.0.0.1 need as many local ports, but \
                 net.ipv4.ip_local_port_range allows {ports}: widen it \
                 (`sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"`)"
            ));
        }
        Ok(())
    }

    /// A warning worth printing for `connections`, if any: a short accept
    /// backlog makes connection bursts wait for SYN retransmits.
    pub fn warning(&self, connections: usize) -> Option<String> {
        let backlog = self.somaxconn?;
        (backlog < 1024 && connections as u64 > backlog).then(|| {
            format!(
                "net.core.somaxconn is {backlog}: bursts of connects beyond it wait for SYN retries \
                 (`sysctl -w net.core.somaxconn=4096`)"
            )
        })
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".into(), |v| v.to_string())
}

impl fmt::Display for SystemLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "open files {} (hard {}), somaxconn {}, ephemeral ports ",
            show(self.open_files_soft),
            show(self.open_files_hard),
            show(self.somaxconn),
        )?;
        match self.ephemeral_ports {
            Some((low, high)) => write!(
                f,
                "{low}-{high} ({})",
                self.ephemeral_port_count().unwrap_or(0)
            ),
            None => write!(f, "unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(hard: u64, ports: (u16, u16)) -> SystemLimits {
        SystemLimits {
            open_files_soft: Some(1024),
            open_files_hard: Some(hard),
            somaxconn: Some(4096),
            ephemeral_ports: Some(ports),
        }
    }

    #[test]
    fn ten_thousand_connections_fit_the_machine_defaults() {
        assert_eq!(limits(20_000, (32768, 60999)).check(10_000), Ok(()));
    }

    #[test]
    fn a_low_open_file_limit_is_named() {
        let error = limits(4096, (32768, 60999)).check(10_000).unwrap_err();
        assert!(error.contains("open-file limit is 4096"), "{error}");
    }

    #[test]
    fn a_narrow_port_range_is_named() {
        let error = limits(100_000, (60000, 60999)).check(10_000).unwrap_err();
        assert!(error.contains("ip_local_port_range allows 1000"), "{error}");
    }
}
