//! From request target to file: percent-decoding, confinement to the root,
//! opening, and content types.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use super::response::Status;

/// A request target split into the parts the server uses.
#[derive(Debug)]
pub struct Target<'a> {
    /// The path as sent (still percent-encoded), starting with `/`.
    pub path: &'a str,
    /// The query string without its `?`, if any.
    pub query: Option<&'a str>,
    /// The decoded path segments, without empty and `.` segments.
    pub segments: Vec<Vec<u8>>,
}

impl<'a> Target<'a> {
    /// Splits and decodes a request target: origin-form (`/path?query`) or
    /// absolute-form (`http://host/path`). Anything else is a 400; a `..`
    /// segment, however encoded, is a 403.
    pub fn parse(target: &'a str) -> Result<Target<'a>, Status> {
        let target = target.split_once('#').map_or(target, |(before, _)| before);
        let target = strip_scheme_and_authority(target)?;
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/') {
            return Err(Status::BadRequest);
        }
        let decoded: Vec<u8> = percent_decode_str(path).collect();
        if decoded.contains(&0) {
            return Err(Status::BadRequest);
        }
        let mut segments = Vec::new();
        // Splitting after decoding means an encoded slash separates segments
        // too, so `..%2f` is caught like `../`.
        for segment in decoded.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => return Err(Status::Forbidden),
                _ => segments.push(segment.to_vec()),
            }
        }
        Ok(Target {
            path,
            query,
            segments,
        })
    }

    /// Whether the URL names a directory (ends with `/`).
    pub fn has_trailing_slash(&self) -> bool {
        self.path.ends_with('/')
    }

    /// The URL of the same path with a trailing slash, query kept.
    pub fn with_trailing_slash(&self) -> String {
        // A leading `//` would make the Location a protocol-relative URL
        // pointing at another host.
        let path = format!("/{}/", self.path.trim_start_matches('/'));
        match self.query {
            Some(query) => format!("{path}?{query}"),
            None => path,
        }
    }

    /// The decoded path for display, normalised, ending with `/`.
    pub fn display_dir(&self) -> String {
        let mut shown = String::from("/");
        for segment in &self.segments {
            shown.push_str(&String::from_utf8_lossy(segment));
            shown.push('/');
        }
        shown
    }
}

fn strip_scheme_and_authority(target: &str) -> Result<&str, Status> {
    let bytes = target.as_bytes();
    let scheme_len = if bytes.len() >= 7 && bytes[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else if bytes.len() >= 8 && bytes[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else if target.starts_with('/') {
        return Ok(target);
    } else {
        return Err(Status::BadRequest);
    };
    let rest = &target[scheme_len..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    if authority_end == 0 {
        return Err(Status::BadRequest);
    }
    Ok(&rest[authority_end..])
}

/// What a target resolved to inside the root.
#[derive(Debug)]
pub struct Found {
    /// The canonical path, inside the root.
    pub path: PathBuf,
    /// Its metadata: a regular file or a directory, nothing else.
    pub meta: Metadata,
}

/// Finds `segments` under `root` (which must be canonical), refusing anything
/// that leaves the root through a symlink and anything that is neither a
/// regular file nor a directory.
pub fn resolve(root: &Path, segments: &[Vec<u8>]) -> Result<Found, Status> {
    let mut path = root.to_path_buf();
    for segment in segments {
        path.push(OsStr::from_bytes(segment));
    }
    lookup(root, &path)
}

/// Like [`resolve`], for a path already built under `root`.
pub fn lookup(root: &Path, path: &Path) -> Result<Found, Status> {
    let path = fs::canonicalize(path).map_err(|e| status_for(&e))?;
    if !path.starts_with(root) {
        return Err(Status::Forbidden);
    }
    let meta = fs::metadata(&path).map_err(|e| status_for(&e))?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(Status::Forbidden);
    }
    Ok(Found { path, meta })
}

/// Opens a regular file for sending.
///
/// Opening is non-blocking: should a fifo replace the file after [`resolve`]
/// looked at it, `open` would otherwise wait for a writer and stall the event
/// loop. The flag is cleared again once the file is known to be regular, so
/// that completion-based strategies reading it are not handed `EAGAIN`.
pub fn open_file(path: &Path) -> Result<(File, Metadata), Status> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(|e| status_for(&e))?;
    let meta = file.metadata().map_err(|e| status_for(&e))?;
    if !meta.is_file() {
        return Err(Status::Forbidden);
    }
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())
        .map_err(|e| status_for(&e.into()))?;
    Ok((file, meta))
}

/// The status to answer with when the file system refuses.
pub fn status_for(error: &io::Error) -> Status {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename => {
            Status::NotFound
        }
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        // ELOOP: a symlink cycle is as unservable as a symlink out of the root.
        _ if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Status::Forbidden
        }
        _ => Status::InternalError,
    }
}

/// The `Content-Type` for a file, from its extension.
pub fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(target: &str) -> Result<Vec<String>, Status> {
        Target::parse(target).map(|t| {
            t.segments
                .iter()
                .map(|s| String::from_utf8(s.clone()).unwrap())
                .collect()
        })
    }

    #[test]
    fn decodes_targets() {
        assert_eq!(segments("/"), Ok(vec![]));
        assert_eq!(
            segments("/a%20b/./c//d?x=1#f"),
            Ok(vec!["a b".into(), "c".into(), "d".into()])
        );
        assert_eq!(segments("http://host:80/x?q"), Ok(vec!["x".into()]));
        assert_eq!(segments("HTTPS://host"), Ok(vec![]));
        assert_eq!(
            segments("//etc/passwd"),
            Ok(vec!["etc".into(), "passwd".into()])
        );
        let target = Target::parse("http://h/d?q=1").unwrap();
        assert_eq!((target.path, target.query), ("/d", Some("q=1")));
    }

    #[test]
    fn refuses_bad_targets() {
        assert_eq!(segments("*").unwrap_err(), Status::BadRequest);
        assert_eq!(segments("a/b").unwrap_err(), Status::BadRequest);
        assert_eq!(segments("http:///x").unwrap_err(), Status::BadRequest);
        assert_eq!(segments("/a%00b").unwrap_err(), Status::BadRequest);
        for bad in [
            "/..",
            "/../x",
            "/%2e%2e/x",
            "/a/%2E%2e/b",
            "/a/..%2fb",
            "/a/.%2E",
        ] {
            assert_eq!(segments(bad).unwrap_err(), Status::Forbidden, "{bad}");
        }
    }

    #[test]
    fn redirect_location_stays_on_this_host() {
        let target = Target::parse("//evil.example/dir?x").unwrap();
        assert_eq!(target.with_trailing_slash(), "/evil.example/dir/?x");
        assert_eq!(
            Target::parse("/a/b").unwrap().with_trailing_slash(),
            "/a/b/"
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Path::new("a.txt")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("a.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.png")), "image/png");
        assert_eq!(
            content_type(Path::new("a.zzz-unknown")),
            "application/octet-stream"
        );
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
