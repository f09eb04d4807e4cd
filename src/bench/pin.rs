//! `--pin`: the server on one core, the load generator on another. On a
//! 2-core machine an unpinned run lets the scheduler move both sides onto the
//! same core at times, so results drift from run to run; pinned runs are
//! comparable with each other (though not with unpinned ones).

use std::io;

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// The core the server runs on when pinned.
pub const SERVER_CORE: usize = 0;
/// The core the load generator runs on when pinned.
pub const LOADER_CORE: usize = 1;

/// Restricts the calling thread to `core`. Threads and processes it creates
/// afterwards inherit the restriction, which is how the server child and the
/// loader threads get theirs.
pub fn pin_current_thread(core: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(core);
    sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// The calling thread's current set of allowed cores, to restore later.
pub fn current_affinity() -> io::Result<CpuSet> {
    sched_getaffinity(None).map_err(io::Error::from)
}

/// Restores an affinity saved with [`current_affinity`].
pub fn restore_affinity(set: &CpuSet) -> io::Result<()> {
    sched_setaffinity(None, set).map_err(io::Error::from)
}

/// Whether both pinning cores exist for this process.
pub fn available() -> bool {
    current_affinity()
        .map(|set| set.is_set(SERVER_CORE) && set.is_set(LOADER_CORE))
        .unwrap_or(false)
}
