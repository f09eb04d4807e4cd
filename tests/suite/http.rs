//! The http handler under a strategy, driven by raw sockets, curl and wrk.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use crate::util::{ServerProcess, Spec, root_arg, run_tool, web_root};

/// A parsed response: status code, header lines, body.
pub struct Response {
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
}

/// Reads one response from `reader` (the body by Content-Length, none for HEAD).
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> Response {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header has a colon");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = response
        .header("content-length")
        .map(|v| v.parse().expect("numeric content-length"))
        .unwrap_or(0);
    if !head_request && status != 304 {
        response.body = vec![0; length];
        reader.read_exact(&mut response.body).expect("body");
    }
    response
}

/// Sends one raw request on a new connection and reads the response.
pub fn get(server: &ServerProcess, raw_request: &str) -> Response {
    let mut stream = server.connect();
    stream.write_all(raw_request.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream), raw_request.starts_with("HEAD"))
}

fn start(spec: &Spec) -> (ServerProcess, tempfile::TempDir) {
    let dir = web_root();
    let server = ServerProcess::start(spec, "http", &["--root", &root_arg(dir.path())]);
    (server, dir)
}

fn curl(args: &[&str]) -> String {
    let (status, out) = run_tool("curl", args, Duration::from_secs(30));
    assert!(status.success(), "curl {args:?} failed: {status}");
    out
}

pub fn get_and_head_with_curl(spec: &Spec) {
    let (server, _dir) = start(spec);
    let url = format!("http://{}/hello.txt", server.addr);
    assert_eq!(curl(&["-sS", &url]), "hello, world\n");
    let head = curl(&["-sS", "-I", &url]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 13\r\n"), "{head}");
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert!(head.contains("last-modified: "), "{head}");
    assert!(head.contains("date: "), "{head}");
}

pub fn errors_404_405_400_505(spec: &Spec) {
    let (server, _dir) = start(spec);
    let missing = get(&server, "GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("<html"));
    let post = get(
        &server,
        "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(get(&server, "NOT AN HTTP REQUEST\r\n\r\n").status, 400);
    assert_eq!(get(&server, "GET / HTTP/2.0\r\n\r\n").status, 505);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
    assert_eq!(get(&server, &long).status, 414);
}

pub fn keep_alive_and_pipelining(spec: &Spec) {
    let (server, _dir) = start(spec);
    let mut stream = server.connect();
    let requests = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\
                    HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n\
                    GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(requests.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let first = read_response(&mut reader, false);
    let second = read_response(&mut reader, true);
    let third = read_response(&mut reader, false);
    assert_eq!((first.status, second.status, third.status), (200, 200, 200));
    assert_eq!(first.body, b"hello, world\n");
    assert_eq!(second.header("content-length"), Some("42"));
    assert!(third.body.starts_with(b"<!doctype html>"));
    // Still open (keep-alive): one more request on the same connection.
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let last = read_response(&mut reader, false);
    assert_eq!(last.body, b"hello, world\n");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "closed after Connection: close");
}

pub fn range_request(spec: &Spec) {
    let (server, _dir) = start(spec);
    let url = format!("http://{}/hello.txt", server.addr);
    assert_eq!(curl(&["-sS", "-r", "0-4", &url]), "hello");
    assert_eq!(curl(&["-sS", "-r", "-6", &url]), "world\n");
    let partial = get(
        &server,
        "GET /hello.txt HTTP/1.1\r\nRange: bytes=7-\r\n\r\n",
    );
    assert_eq!(partial.status, 206);
    assert_eq!(partial.header("content-range"), Some("bytes 7-12/13"));
    assert_eq!(partial.body, b"world\n");
    let beyond = get(
        &server,
        "GET /hello.txt HTTP/1.1\r\nRange: bytes=500-\r\n\r\n",
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */13"));
}

pub fn traversal_is_refused(spec: &Spec) {
    let (server, _dir) = start(spec);
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/docs/%2E%2E/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/escape/passwd",
        "/hello.txt%00.html",
    ] {
        let response = get(&server, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(
            matches!(response.status, 400 | 403 | 404),
            "[{}] {path} answered {}",
            spec.name,
            response.status
        );
        assert!(
            !String::from_utf8_lossy(&response.body).contains("root:"),
            "{path} leaked /etc/passwd"
        );
    }
}

pub fn large_file_streams_intact(spec: &Spec) {
    let (server, dir) = start(spec);
    let out = dir.path().join("downloaded");
    let url = format!("http://{}/big.bin", server.addr);
    curl(&["-sS", "-o", out.to_str().unwrap(), &url]);
    let expected = std::fs::read(dir.path().join("big.bin")).unwrap();
    assert!(
        std::fs::read(&out).unwrap() == expected,
        "[{}] 3 MiB download differs",
        spec.name
    );
}

pub fn directory_listing_and_index(spec: &Spec) {
    let (server, _dir) = start(spec);
    let listing = get(&server, "GET /docs/ HTTP/1.1\r\n\r\n");
    assert_eq!(listing.status, 200);
    assert!(
        listing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(listing.body).unwrap();
    assert!(html.contains("a b&amp;c.txt"), "{html}");
    // Follow the link the page gives, as a browser would.
    let href = html
        .split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .find(|href| href.contains("c.txt"))
        .expect("a link to the file");
    let url = format!("http://{}/docs/{href}", server.addr);
    assert_eq!(curl(&["-sS", &url]), "spaced");
    let index = get(&server, "GET /site/ HTTP/1.1\r\n\r\n");
    assert_eq!(index.body, b"<h1>index</h1>");
    let redirect = get(&server, "GET /site HTTP/1.1\r\n\r\n");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/site/"));
}

pub fn wrk_load_without_errors(spec: &Spec) {
    let (server, _dir) = start(spec);
    let url = format!("http://{}/hello.txt", server.addr);
    let connections = if spec.concurrent { "16" } else { "1" };
    let (status, out) = run_tool(
        "wrk",
        &["-t1", "-c", connections, "-d1s", "--timeout", "5s", &url],
        Duration::from_secs(30),
    );
    assert!(status.success(), "wrk failed: {out}");
    assert!(
        !out.contains("Non-2xx"),
        "[{}] wrk saw errors:\n{out}",
        spec.name
    );
    assert!(
        !out.contains("Socket errors"),
        "[{}] wrk saw errors:\n{out}",
        spec.name
    );
    let requests: u64 = out
        .split_whitespace()
        .skip_while(|w| *w != "Requests/sec:")
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0);
    assert!(
        requests > 100,
        "[{}] only {requests} req/s:\n{out}",
        spec.name
    );
}

/// A real browser loads a page and the image it refers to.
pub fn browser_loads_page_and_image(spec: &Spec) {
    let (server, dir) = start(spec);
    let profile = dir.path().join("chromium-profile");
    let url = format!("http://{}/browser/", server.addr);
    let (status, dom) = run_tool(
        "chromium",
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            &url,
        ],
        Duration::from_secs(60),
    );
    assert!(status.success(), "[{}] chromium failed: {dom}", spec.name);
    assert!(
        dom.contains("data-loaded=\"yes\""),
        "[{}] the browser did not load the image:\n{dom}",
        spec.name
    );
}
