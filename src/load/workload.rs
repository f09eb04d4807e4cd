//! The protocols the load generator speaks: the request it sends and how it
//! checks that a reply is complete and correct.

use std::net::SocketAddr;

/// The protocol of the server under load, and the request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// Send `size` bytes; the same bytes must come back.
    Echo {
        /// Bytes per request.
        size: usize,
    },
    /// `GET path`; a 2xx reply with its whole body must come back.
    Http {
        /// The path to request, such as `/index.html`.
        path: String,
    },
}

impl Workload {
    /// The workload's name, as `--workload` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Echo { .. } => "echo",
            Workload::Http { .. } => "http",
        }
    }

    /// The bytes of one request. With `close`, an http request asks the
    /// server to close afterwards, so the server (not the loader, which would
    /// run out of local ports) keeps the TIME_WAIT state.
    pub(crate) fn request(&self, addr: SocketAddr, close: bool) -> Vec<u8> {
        match self {
            Workload::Echo { size } => (0..*size).map(|i| b'a' + (i % 26) as u8).collect(),
            Workload::Http { path } => {
                let connection = if close { "Connection: close\r\n" } else { "" };
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: srvkit-load\r\n{connection}\r\n")
                    .into_bytes()
            }
        }
    }
}

/// How far a reply has come.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// More bytes are needed.
    Partial,
    /// The reply is complete; the bytes after the first `n` belong to the next.
    Complete(usize),
    /// The reply is wrong.
    Bad,
}

/// Checks one reply as its bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct ReplyCheck {
    /// Echo: bytes matched so far. Http: body bytes still expected.
    progress: usize,
    /// Http: the head, while incomplete.
    head: Vec<u8>,
    in_body: bool,
}

/// The longest http response head accepted.
const MAX_HEAD: usize = 16 * 1024;

impl ReplyCheck {
    /// Starts checking a new reply.
    pub(crate) fn reset(&mut self) {
        self.progress = 0;
        self.head.clear();
        self.in_body = false;
    }

    /// Feeds received bytes of the reply to `request`.
    pub(crate) fn feed(&mut self, workload: &Workload, request: &[u8], bytes: &[u8]) -> Reply {
        match workload {
            Workload::Echo { .. } => {
                let want = &request[self.progress..];
                let n = want.len().min(bytes.len());
                if bytes[..n] != want[..n] {
                    return Reply::Bad;
                }
                self.progress += n;
                if self.progress == request.len() {
                    Reply::Complete(n)
                } else {
                    Reply::Partial
                }
            }
            Workload::Http { .. } => self.feed_http(bytes),
        }
    }

    fn feed_http(&mut self, bytes: &[u8]) -> Reply {
        let mut used = 0;
        if !self.in_body {
            // Parse from the bytes as they come when the head is in one piece
            // (the common case); copy only a head split across reads.
            let whole: &[u8] = if self.head.is_empty() {
                bytes
            } else {
                self.head.extend_from_slice(bytes);
                &self.head
            };
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let head_len = match response.parse(whole) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => {
                    if self.head.is_empty() {
                        self.head.extend_from_slice(bytes);
                    }
                    return if self.head.len() > MAX_HEAD {
                        Reply::Bad
                    } else {
                        Reply::Partial
                    };
                }
                Err(_) => return Reply::Bad,
            };
            if !matches!(response.code, Some(200..=299)) {
                return Reply::Bad;
            }
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            let Some(length) = length else {
                return Reply::Bad;
            };
            // Where the body starts within `bytes`.
            used = head_len - (whole.len() - bytes.len());
            self.head.clear();
            self.in_body = true;
            self.progress = length;
        }
        let body = (bytes.len() - used).min(self.progress);
        self.progress -= body;
        used += body;
        if self.progress == 0 {
            Reply::Complete(used)
        } else {
            Reply::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> Workload {
        Workload::Http { path: "/".into() }
    }

    #[test]
    fn echo_replies_are_compared_byte_for_byte() {
        let workload = Workload::Echo { size: 4 };
        let request = workload.request("127.0.0.1:1".parse().unwrap(), false);
        let mut check = ReplyCheck::default();
        assert_eq!(
            check.feed(&workload, &request, &request[..1]),
            Reply::Partial
        );
        assert_eq!(
            check.feed(&workload, &request, &request[1..]),
            Reply::Complete(3)
        );
        check.reset();
        assert_eq!(check.feed(&workload, &request, b"zz"), Reply::Bad);
    }

    #[test]
    fn http_replies_complete_at_every_split() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1";
        let whole = reply.len() - "HTTP/1.1".len();
        for split in 1..whole {
            let mut check = ReplyCheck::default();
            let first = check.feed(&http(), b"", &reply[..split]);
            assert_eq!(first, Reply::Partial, "split at {split}");
            let second = check.feed(&http(), b"", &reply[split..]);
            assert_eq!(second, Reply::Complete(whole - split), "split at {split}");
        }
    }

    #[test]
    fn http_errors_are_bad_replies() {
        let mut check = ReplyCheck::default();
        let reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(check.feed(&http(), b"", reply), Reply::Bad);
    }
}
