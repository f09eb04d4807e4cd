//! Tests driving [`HttpHandler`] the way a strategy does, against a
//! temporary root.

mod content;
mod framing;
mod security;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use super::{Http, HttpHandler};
use crate::{Cx, Flow, Handler, Input, Output, Service};

pub(super) const HELLO: &[u8] = b"Hello, world!\n";
pub(super) const SECRET: &[u8] = b"top secret";
/// Modification time given to `hello.txt`.
pub(super) const HELLO_MTIME: u64 = 1_700_000_000;

/// A root to serve, and a directory next to it that must stay unreachable.
pub(super) struct Fixture {
    pub root: TempDir,
    pub _outside: TempDir,
    pub http: Http,
}

/// root/
///   hello.txt  data.bin  a b&<c>.txt  .hidden
///   sub/inner.txt  sub/deeper/
///   site/index.html
///   escape -> outside/secret.txt   escape_dir -> outside/
///   fifo
pub(super) fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::write(r.join("hello.txt"), HELLO).unwrap();
    let hello = fs::File::options()
        .write(true)
        .open(r.join("hello.txt"))
        .unwrap();
    hello
        .set_modified(UNIX_EPOCH + Duration::from_secs(HELLO_MTIME))
        .unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    fs::write(r.join("data.bin"), data).unwrap();
    fs::write(r.join("a b&<c>.txt"), "weird name").unwrap();
    fs::write(r.join(".hidden"), "hidden").unwrap();
    fs::create_dir_all(r.join("sub/deeper")).unwrap();
    fs::write(r.join("sub/inner.txt"), "inner").unwrap();
    fs::create_dir(r.join("site")).unwrap();
    fs::write(r.join("site/index.html"), "<h1>site</h1>").unwrap();
    fs::write(outside.path().join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), r.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), r.join("escape_dir")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        r.join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    let http = Http::new(r).unwrap();
    Fixture {
        root,
        _outside: outside,
        http,
    }
}

impl Fixture {
    pub fn handler(&self) -> HttpHandler {
        self.http.new_handler("127.0.0.1:9".parse().unwrap())
    }

    /// Sends one request on a fresh connection; unless the connection is
    /// closing, it must be consumed whole.
    pub fn get(&self, request: &str) -> (Flow, Response) {
        let (flow, consumed, bytes) = call(&mut self.handler(), request.as_bytes(), false);
        if flow == Flow::Continue {
            assert_eq!(consumed, request.len(), "request not consumed");
        }
        let responses = parse_responses(&bytes, &[!request.starts_with("HEAD ")]);
        (flow, responses.into_iter().next().unwrap())
    }

    pub fn status(&self, request: &str) -> u16 {
        self.get(request).1.status
    }
}

/// One `on_input` call: the flow, how many bytes were consumed, and
/// everything written.
pub(super) fn call(handler: &mut HttpHandler, bytes: &[u8], eof: bool) -> (Flow, usize, Vec<u8>) {
    let mut output = Output::new(1 << 20);
    let mut cx = Cx {
        input: Input::new(bytes, eof),
        output: &mut output,
    };
    let flow = handler.on_input(&mut cx).unwrap();
    let consumed = cx.input.consumed();
    (flow, consumed, output.take_all().unwrap())
}

#[derive(Debug)]
pub(super) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Splits `bytes` into responses; `bodies[i]` says whether response `i`
/// carries its body (false for HEAD). Panics on leftover bytes.
pub(super) fn parse_responses(mut bytes: &[u8], bodies: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    for &with_body in bodies {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(len) = parsed.parse(bytes).unwrap() else {
            panic!("incomplete response: {:?}", String::from_utf8_lossy(bytes));
        };
        let status = parsed.code.unwrap();
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8(h.value.to_vec()).unwrap(),
                )
            })
            .collect();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        bytes = &bytes[len..];
        if with_body && status != 304 {
            let n: usize = response.header("Content-Length").unwrap().parse().unwrap();
            response.body = bytes[..n].to_vec();
            bytes = &bytes[n..];
        }
        responses.push(response);
    }
    assert!(
        bytes.is_empty(),
        "unexpected bytes: {:?}",
        String::from_utf8_lossy(bytes)
    );
    responses
}

/// `bytes` with every `Date` header value blanked, for comparisons across
/// seconds.
pub(super) fn strip_dates(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = find(rest, b"\r\nDate: ") {
        let value = at + b"\r\nDate: ".len();
        out.extend_from_slice(&rest[..value]);
        let end = value + find(&rest[value..], b"\r\n").unwrap();
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn new_requires_a_directory() {
    let f = fixture();
    assert_eq!(f.http.root(), f.root.path().canonicalize().unwrap());
    assert_eq!(f.http.name(), "http");
    assert!(Http::new(f.root.path().join("hello.txt")).is_err());
    assert!(Http::new(f.root.path().join("missing")).is_err());
    let relative = Http::new(Path::new(".")).unwrap();
    assert!(relative.root().is_absolute());
}

#[test]
fn get_a_file() {
    let f = fixture();
    let (flow, resp) = f.get("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(flow, Flow::Continue);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, HELLO);
    assert_eq!(resp.header("Server"), Some("srvkit"));
    let date = httpdate::parse_http_date(resp.header("Date").unwrap()).unwrap();
    assert!(SystemTime::now().duration_since(date).unwrap() < Duration::from_secs(5));
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(resp.header("Content-Length"), Some("14"));
    assert_eq!(resp.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(
        resp.header("Last-Modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    assert_eq!(resp.header("Connection"), None);

    let (_, resp) = f.get("GET /data.bin HTTP/1.1\r\n\r\n");
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.body, fs::read(f.root.path().join("data.bin")).unwrap());
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let f = fixture();
    for target in ["/hello.txt", "/", "/missing", "/sub", "/site/"] {
        let (_, get) = f.get(&format!("GET {target} HTTP/1.1\r\n\r\n"));
        let (_, head) = f.get(&format!("HEAD {target} HTTP/1.1\r\n\r\n"));
        assert!(head.body.is_empty());
        let strip = |r: &Response| -> Vec<_> {
            r.headers
                .iter()
                .filter(|(n, _)| n != "Date")
                .cloned()
                .collect()
        };
        assert_eq!(
            (get.status, strip(&get)),
            (head.status, strip(&head)),
            "{target}"
        );
    }
}

#[test]
fn huge_files_are_never_read_into_memory() {
    let f = fixture();
    let big = fs::File::create(f.root.path().join("big.iso")).unwrap();
    big.set_len(6 << 30).unwrap(); // sparse: costs no disk
    let mut handler = f.handler();
    let mut output = Output::new(1 << 16);
    let request = b"GET /big.iso HTTP/1.1\r\n\r\n";
    let mut cx = Cx {
        input: Input::new(request, false),
        output: &mut output,
    };
    assert_eq!(handler.on_input(&mut cx), Ok(Flow::Continue));
    assert!(output.len() > 6 << 30);
    let (_, resp) = f.get("HEAD /big.iso HTTP/1.1\r\n\r\n");
    assert_eq!(resp.header("Content-Length"), Some("6442450944"));
    let (_, resp) = f.get("GET /big.iso HTTP/1.1\r\nRange: bytes=-3\r\n\r\n");
    assert_eq!(resp.status, 206);
    assert_eq!(
        resp.header("Content-Range"),
        Some("bytes 6442450941-6442450943/6442450944")
    );
    assert_eq!(resp.body, [0, 0, 0]);
}
