//! Process-wide settings a server wants before it starts.

use std::io;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard limit, so thousands of
/// connections work without the user touching `ulimit -n`. Returns the
/// limits before and after (`None` means unlimited).
pub fn raise_fd_limit() -> io::Result<(Option<u64>, Option<u64>)> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok((limit.current, limit.current));
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok((limit.current, limit.maximum))
}
