//! Answering one parsed request: a file, a directory, or an error.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use httpdate::{fmt_http_date, parse_http_date};

use super::files::{self, Target};
use super::listing;
use super::range::{self, Range};
use super::request::Request;
use super::response::{HTML, Head, Persist, Status, send_error, send_page, send_redirect};
use crate::Output;

/// Writes the response to `req` into `out`; returns what becomes of the
/// connection. A missing or forbidden file keeps it open (browsers ask for
/// `/favicon.ico` on the same connection); other methods close it, since
/// their bodies are not read.
pub fn serve(root: &Path, req: &Request<'_>, out: &mut Output) -> Persist {
    let head_only = req.is_head();
    if req.method != "GET" && !head_only {
        send_error(
            out,
            Status::MethodNotAllowed,
            false,
            Some(("Allow", "GET, HEAD")),
            Persist::Close,
        );
        return Persist::Close;
    }
    match serve_target(root, req, out) {
        Ok(persist) => persist,
        Err(status) => {
            let persist = match status {
                Status::NotFound | Status::Forbidden => req.persist,
                _ => Persist::Close,
            };
            send_error(out, status, head_only, None, persist);
            persist
        }
    }
}

fn serve_target(root: &Path, req: &Request<'_>, out: &mut Output) -> Result<Persist, Status> {
    let target = Target::parse(req.target)?;
    let found = files::resolve(root, &target.segments)?;
    if found.meta.is_file() {
        // As for `open("file/")`, a slash after a file name finds nothing.
        if target.has_trailing_slash() {
            return Err(Status::NotFound);
        }
        // The type comes from the name in the URL, not from where a symlink
        // leads.
        let name = target.segments.last().map_or(&[][..], |s| &s[..]);
        return send_file(&found.path, Path::new(OsStr::from_bytes(name)), req, out);
    }
    if !target.has_trailing_slash() {
        // Relative links in the page only work from a URL ending in `/`.
        send_redirect(
            out,
            &target.with_trailing_slash(),
            req.is_head(),
            req.persist,
        );
        return Ok(req.persist);
    }
    let index = Path::new("index.html");
    match files::lookup(root, &found.path.join(index)) {
        Ok(found) if found.meta.is_file() => return send_file(&found.path, index, req, out),
        Ok(_) | Err(Status::NotFound) => {}
        Err(status) => return Err(status),
    }
    let html =
        listing::render(&found.path, &target.display_dir()).map_err(|e| files::status_for(&e))?;
    send_page(
        out,
        Head::new(Status::Ok),
        HTML,
        html.as_bytes(),
        req.is_head(),
        req.persist,
    );
    Ok(req.persist)
}

/// Sends the file at `path` (or the part the Range asks for), typed by the
/// extension of `name`.
fn send_file(
    path: &Path,
    name: &Path,
    req: &Request<'_>,
    out: &mut Output,
) -> Result<Persist, Status> {
    let (file, meta) = files::open_file(path)?;
    let len = meta.len();
    let modified = meta.modified().ok();
    let persist = req.persist;

    // Compared in whole seconds, the precision of HTTP dates. `None` (before
    // 1970) orders before every date, which is also right.
    if let Some(modified) = modified
        && let Some(Ok(since)) = req.if_modified_since.map(parse_http_date)
        && unix_secs(modified) <= unix_secs(since)
    {
        let mut head = Head::new(Status::NotModified);
        head.header("Last-Modified", fmt_http_date(modified));
        out.write_vec(head.finish(persist));
        return Ok(persist);
    }

    let range = match req.range {
        Some(value) if if_range_matches(req.if_range, modified) => range::parse_range(value, len),
        _ => Range::Whole,
    };
    let (status, start, count) = match range {
        Range::Whole => (Status::Ok, 0, len),
        Range::Part { start, end } => (Status::PartialContent, start, end - start + 1),
        Range::Unsatisfiable => {
            let content_range = format!("bytes */{len}");
            send_error(
                out,
                Status::RangeNotSatisfiable,
                req.is_head(),
                Some(("Content-Range", &content_range)),
                req.persist,
            );
            return Ok(req.persist);
        }
    };

    let mut head = Head::new(status);
    head.header("Content-Type", files::content_type(name))
        .header("Content-Length", count);
    if let Some(modified) = modified {
        head.header("Last-Modified", fmt_http_date(modified));
    }
    head.header("Accept-Ranges", "bytes");
    if status == Status::PartialContent {
        let end = start + count - 1;
        head.header("Content-Range", format!("bytes {start}-{end}/{len}"));
    }
    out.write_vec(head.finish(persist));
    if !req.is_head() {
        out.send_file(file, start, count);
    }
    Ok(persist)
}

/// Whether a Range may be honoured: there is no `If-Range`, or it holds the
/// file's current modification date. An entity tag never matches since we
/// send none.
fn if_range_matches(if_range: Option<&str>, modified: Option<SystemTime>) -> bool {
    let Some(value) = if_range else {
        return true;
    };
    match (parse_http_date(value), modified) {
        (Ok(date), Some(modified)) => unix_secs(date) == unix_secs(modified),
        _ => false,
    }
}

/// Whole seconds since the epoch: HTTP dates have no finer precision.
fn unix_secs(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
