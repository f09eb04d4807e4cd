//! `http`: a static file server.
//!
//! HTTP/1.1 and 1.0, GET and HEAD, keep-alive and pipelining, single byte
//! ranges, `If-Modified-Since`, `index.html` and HTML directory listings.
//! Request bodies are skipped, never read; files are queued with
//! [`crate::Output::send_file`], never read into memory.
//!
//! Paths are confined to the root: `..` segments (however encoded) are
//! refused, and every path is canonicalised and must stay under the
//! canonical root, so a symlink cannot lead out of it.
//!
//! Like every handler this one does not touch sockets, but it does make
//! blocking file-system calls (`stat`, `open`, `readdir`) while answering.

mod files;
mod listing;
mod range;
mod request;
mod response;
mod serve;
#[cfg(test)]
mod tests;

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use request::Parse;
use response::Persist;

use crate::{Cx, Flow, Handler, ProtocolError, Service};

/// The static file service: serves the files under one root directory.
#[derive(Debug, Clone)]
pub struct Http {
    root: Arc<Path>,
}

impl Http {
    /// A service serving the directory `root`, which is canonicalised here
    /// (so symlinks in it are resolved once, at start-up).
    ///
    /// # Errors
    /// If `root` does not exist, cannot be resolved, or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Http> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Http { root: root.into() })
    }

    /// The canonical root directory being served.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Service for Http {
    type Handler = HttpHandler;

    fn name(&self) -> &'static str {
        "http"
    }

    fn new_handler(&self, _peer: SocketAddr) -> HttpHandler {
        HttpHandler {
            root: Arc::clone(&self.root),
            skip: 0,
        }
    }
}

/// One HTTP connection: answers the requests in its input, in order.
#[derive(Debug)]
pub struct HttpHandler {
    root: Arc<Path>,
    /// Body bytes of the last request still to be skipped.
    skip: u64,
}

impl Handler for HttpHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(cx.input.bytes().len() as u64);
                cx.input.consume(n as usize);
                self.skip -= n;
                if self.skip > 0 {
                    break;
                }
            }
            let bytes = cx.input.bytes();
            if bytes.is_empty() {
                break;
            }
            if cx.output.is_full() {
                // Called again once the client has read some of what is
                // queued, with the requests not consumed yet.
                cx.output.resume_when_drained();
                return Ok(Flow::Continue);
            }
            match request::parse(bytes) {
                Parse::Partial => break,
                Parse::Invalid(status) => {
                    response::send_error(cx.output, status, false, None, Persist::Close);
                    return Ok(Flow::Close);
                }
                Parse::Complete(req) => {
                    cx.input.consume(req.len);
                    if !serve::serve(&self.root, &req, cx.output).keeps_open() {
                        return Ok(Flow::Close);
                    }
                    self.skip = req.body_len;
                }
            }
        }
        // At EOF, a partial request left in the input can never complete.
        Ok(if cx.input.is_eof() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }
}
