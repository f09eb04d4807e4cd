//! Parsing one request head with httparse, and the limits that keep a
//! client from making the server buffer without bound.

use super::response::{Persist, Status};

/// Longest request line accepted (method, target and version), in bytes.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most bytes accepted in the header section after the request line.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head. Strings borrow from the input bytes.
#[derive(Debug)]
pub struct Request<'a> {
    /// Length of the head in bytes, blank line included.
    pub len: usize,
    /// The method, case-sensitive as the RFC says.
    pub method: &'a str,
    /// The request target as sent.
    pub target: &'a str,
    /// What the client asked for the connection after this request.
    pub persist: Persist,
    /// Bytes of body following the head, to be skipped.
    pub body_len: u64,
    /// The `If-Modified-Since` value, if any.
    pub if_modified_since: Option<&'a str>,
    /// The `If-Range` value, if any.
    pub if_range: Option<&'a str>,
    /// The `Range` value, if exactly one was sent.
    pub range: Option<&'a str>,
}

impl Request<'_> {
    /// Whether this is a HEAD request (headers only, no body).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// The outcome of parsing the start of the input.
#[derive(Debug)]
pub enum Parse<'a> {
    /// The head is not complete yet: wait for more bytes.
    Partial,
    /// A complete head.
    Complete(Request<'a>),
    /// The request is broken; answer with this status and close.
    Invalid(Status),
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse<'_> {
    // Servers should ignore empty lines before a request (RFC 9112 2.2), but
    // not an endless stream of them.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    if start > MAX_REQUEST_LINE {
        return Parse::Invalid(Status::BadRequest);
    }
    // The limits are checked before httparse looks at the bytes, so that the
    // answer does not depend on how the request was split across reads.
    let line_end = match buf[start..].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &buf[start..start + i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_REQUEST_LINE {
                return Parse::Invalid(Status::UriTooLong);
            }
            Some(start + i + 1)
        }
        // One more byte may be the line's CR.
        None if buf.len() - start > MAX_REQUEST_LINE + 1 => {
            return Parse::Invalid(Status::UriTooLong);
        }
        None => None,
    };

    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return match line_end {
                Some(end) if buf.len() - end > MAX_HEADER_BYTES => {
                    Parse::Invalid(Status::HeadersTooLarge)
                }
                _ => Parse::Partial,
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Parse::Invalid(Status::HeadersTooLarge),
        Err(httparse::Error::Version) if names_a_version(&buf[start..]) => {
            return Parse::Invalid(Status::VersionNotSupported);
        }
        Err(_) => return Parse::Invalid(Status::BadRequest),
    };
    if let Some(end) = line_end
        && len - end > MAX_HEADER_BYTES
    {
        return Parse::Invalid(Status::HeadersTooLarge);
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Parse::Invalid(Status::BadRequest);
    };

    let mut close = false;
    let mut keep_alive = false;
    let mut body_len = None;
    let mut if_modified_since = None;
    let mut if_range = None;
    let mut ranges = Vec::new();
    for header in req.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // We never read request bodies, so we cannot find where a chunked
            // one ends.
            return Parse::Invalid(Status::BadRequest);
        } else if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = parse_decimal(value.trim_ascii()) else {
                return Parse::Invalid(Status::BadRequest);
            };
            // Repeated Content-Length headers must agree, or the body's end is
            // ambiguous (a request smuggling vector).
            if body_len.is_some_and(|prev| prev != n) {
                return Parse::Invalid(Status::BadRequest);
            }
            body_len = Some(n);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            if_modified_since = std::str::from_utf8(value).ok();
        } else if name.eq_ignore_ascii_case("if-range") {
            if_range = std::str::from_utf8(value).ok();
        } else if name.eq_ignore_ascii_case("range") {
            ranges.push(value);
        }
    }

    let persist = match minor {
        1 if !close => Persist::KeepAlive,
        0 if keep_alive && !close => Persist::KeepAliveEcho,
        _ => Persist::Close,
    };
    let range = match ranges.as_slice() {
        [one] => std::str::from_utf8(one).ok(),
        _ => None,
    };
    Parse::Complete(Request {
        len,
        method,
        target,
        persist,
        body_len: body_len.unwrap_or(0),
        if_modified_since,
        if_range,
        range,
    })
}

/// Whether the third field of the request line starts like a real HTTP
/// version (`HTTP/2.0`, `HTTP/3`): one we do not speak, rather than garbage
/// such as `NOT AN HTTP REQUEST`, which is a plain 400.
fn names_a_version(line: &[u8]) -> bool {
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len());
    line[..end]
        .split(|&b| b == b' ')
        .nth(2)
        .is_some_and(|v| v.len() > 5 && v.starts_with(b"HTTP/") && v[5].is_ascii_digit())
}

/// Parses a non-empty string of ASCII digits; `None` on anything else or on
/// overflow.
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> Request<'_> {
        match parse(bytes) {
            Parse::Complete(req) => req,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    fn invalid(bytes: &[u8]) -> Status {
        match parse(bytes) {
            Parse::Invalid(status) => status,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_simple_request() {
        let bytes = b"GET /a?b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\nnext";
        let req = complete(bytes);
        assert_eq!(req.len, bytes.len() - 4);
        assert_eq!((req.method, req.target), ("GET", "/a?b"));
        assert_eq!(req.persist, Persist::KeepAlive);
        assert_eq!(req.range, Some("bytes=0-1"));
        assert_eq!(req.body_len, 0);
    }

    #[test]
    fn connection_persistence() {
        let persist = |bytes: &[u8]| complete(bytes).persist;
        assert_eq!(persist(b"GET / HTTP/1.1\r\n\r\n"), Persist::KeepAlive);
        assert_eq!(
            persist(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"),
            Persist::Close
        );
        assert_eq!(persist(b"GET / HTTP/1.0\r\n\r\n"), Persist::Close);
        assert_eq!(
            persist(b"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n"),
            Persist::KeepAliveEcho
        );
    }

    #[test]
    fn partial_heads_wait() {
        let bytes = b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for k in 0..bytes.len() {
            assert!(matches!(parse(&bytes[..k]), Parse::Partial), "at {k}");
        }
        assert_eq!(complete(bytes).len, bytes.len());
    }

    #[test]
    fn framing_errors() {
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            complete(b"GET / HTTP/1.1\r\nContent-Length: 7\r\n\r\n").body_len,
            7
        );
        assert_eq!(
            invalid(b"GET / HTTP/2.0\r\n\r\n"),
            Status::VersionNotSupported
        );
        assert_eq!(
            invalid(b"GET / HTTP/3\r\n\r\n"),
            Status::VersionNotSupported
        );
        assert_eq!(invalid(b"GET  / HTTP/1.1\r\n\r\n"), Status::BadRequest);
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Status::BadRequest
        );
    }

    #[test]
    fn errors_do_not_depend_on_where_the_input_was_cut() {
        let cases: [&[u8]; 5] = [
            b"GET / HTTP/2.0\r\n\r\n",
            b"NOT AN HTTP REQUEST\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
        ];
        for bytes in cases {
            let status = invalid(bytes);
            for k in 0..bytes.len() {
                match parse(&bytes[..k]) {
                    Parse::Partial => {}
                    Parse::Invalid(s) => assert_eq!(s, status, "{bytes:?} cut at {k}"),
                    Parse::Complete(_) => panic!("{bytes:?} complete at {k}"),
                }
            }
        }
    }

    #[test]
    fn limits() {
        let mut long = b"GET /".to_vec();
        long.resize(MAX_REQUEST_LINE + 10, b'a');
        assert_eq!(invalid(&long), Status::UriTooLong);
        let mut ok = b"GET /".to_vec();
        ok.resize(MAX_REQUEST_LINE - 9, b'a');
        ok.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        complete(&ok);

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(invalid(&many), Status::HeadersTooLarge);

        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(MAX_HEADER_BYTES + 100, b'b');
        assert_eq!(invalid(&big), Status::HeadersTooLarge);
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(invalid(&big), Status::HeadersTooLarge);
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"+1"), None);
    }
}
