//! Directories, listings, ranges and conditional requests.

use super::{HELLO, HELLO_MTIME, fixture};
use crate::Flow;

#[test]
fn listing_is_sorted_escaped_and_clickable() {
    let f = fixture();
    let (flow, resp) = f.get("GET / HTTP/1.1\r\n\r\n");
    assert_eq!((flow, resp.status), (Flow::Continue, 200));
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = resp.text();
    assert!(html.contains("<title>Index of /</title>"));
    assert!(!html.contains("href=\"../\""));
    assert!(html.contains("<a href=\"a%20b%26%3Cc%3E.txt\">a b&amp;&lt;c&gt;.txt</a>"));
    assert!(html.contains("<a href=\"sub/\">sub/</a>"));
    assert!(html.contains("<a href=\".hidden\">.hidden</a>"));
    assert!(html.contains(">14</td><td>2023-11-14 22:13</td>"), "{html}");
    let names = [
        ".hidden",
        "a%20b",
        "data.bin",
        "escape",
        "hello.txt",
        "site/",
        "sub/",
    ];
    let positions: Vec<usize> = names
        .iter()
        .map(|name| html.find(&format!("href=\"{name}")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));

    // Follow the link as a browser would.
    let start = html.find("href=\"a%20b").unwrap() + "href=\"".len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let (_, file) = f.get(&format!("GET /{href} HTTP/1.1\r\n\r\n"));
    assert_eq!((file.status, file.text()), (200, "weird name"));
}

#[test]
fn names_that_are_not_utf8_still_work() {
    use std::os::unix::ffi::OsStrExt;
    let f = fixture();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(f.root.path().join("sub").join(name), "latin-1").unwrap();
    let (_, resp) = f.get("GET /sub/ HTTP/1.1\r\n\r\n");
    assert!(
        resp.text()
            .contains("<a href=\"caf%E9.txt\">caf\u{fffd}.txt</a>")
    );
    let (_, resp) = f.get("GET /sub/caf%E9.txt HTTP/1.1\r\n\r\n");
    assert_eq!((resp.status, resp.text()), (200, "latin-1"));
}

#[test]
fn subdirectory_listing_links_to_parent() {
    let f = fixture();
    let (_, resp) = f.get("GET /sub/ HTTP/1.1\r\n\r\n");
    let html = resp.text();
    assert!(html.contains("<title>Index of /sub/</title>"));
    assert!(html.contains("<a href=\"../\">../</a>"));
    assert!(html.contains("<a href=\"deeper/\">deeper/</a>"));
    assert!(html.contains("<a href=\"inner.txt\">inner.txt</a>"));
    let (_, resp) = f.get("GET /sub//deeper/ HTTP/1.1\r\n\r\n");
    assert!(resp.text().contains("<title>Index of /sub/deeper/</title>"));
}

#[test]
fn directory_without_slash_redirects() {
    let f = fixture();
    let (flow, resp) = f.get("GET /sub?x=1 HTTP/1.1\r\n\r\n");
    assert_eq!((flow, resp.status), (Flow::Continue, 301));
    assert_eq!(resp.header("Location"), Some("/sub/?x=1"));
    let (_, resp) = f.get("GET /site HTTP/1.1\r\n\r\n");
    assert_eq!(resp.header("Location"), Some("/site/"));
}

#[test]
fn index_html_is_served() {
    let f = fixture();
    let (_, resp) = f.get("GET /site/ HTTP/1.1\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "<h1>site</h1>");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(resp.header("Last-Modified").is_some());
}

#[test]
fn ranges() {
    let f = fixture();
    let range = |spec: &str| f.get(&format!("GET /hello.txt HTTP/1.1\r\nRange: {spec}\r\n\r\n"));

    let (flow, resp) = range("bytes=0-4");
    assert_eq!(
        (flow, resp.status, resp.text()),
        (Flow::Continue, 206, "Hello")
    );
    assert_eq!(resp.header("Content-Range"), Some("bytes 0-4/14"));
    assert_eq!(resp.header("Content-Length"), Some("5"));

    let (_, resp) = range("bytes=-7");
    assert_eq!((resp.status, resp.text()), (206, "world!\n"));
    assert_eq!(resp.header("Content-Range"), Some("bytes 7-13/14"));

    let (_, resp) = range("bytes=7-");
    assert_eq!((resp.status, resp.text()), (206, "world!\n"));
    let (_, resp) = range("bytes=12-1000");
    assert_eq!(
        (resp.status, resp.header("Content-Range")),
        (206, Some("bytes 12-13/14"))
    );

    let (flow, resp) = range("bytes=14-");
    assert_eq!((flow, resp.status), (Flow::Continue, 416));
    assert_eq!(resp.header("Content-Range"), Some("bytes */14"));

    for ignored in ["bytes=0-1,3-4", "bytes=5-1", "lines=1-2", "bytes=x-"] {
        let (_, resp) = range(ignored);
        assert_eq!((resp.status, &resp.body[..]), (200, HELLO), "{ignored}");
    }

    let (_, resp) = f.get("HEAD /hello.txt HTTP/1.1\r\nRange: bytes=1-2\r\n\r\n");
    assert_eq!(
        (resp.status, resp.header("Content-Length")),
        (206, Some("2"))
    );
    assert!(resp.body.is_empty());
}

#[test]
fn if_range_guards_the_range() {
    let f = fixture();
    let with = |if_range: &str| {
        f.get(&format!(
            "GET /hello.txt HTTP/1.1\r\nRange: bytes=0-1\r\nIf-Range: {if_range}\r\n\r\n"
        ))
        .1
        .status
    };
    assert_eq!(with("Tue, 14 Nov 2023 22:13:20 GMT"), 206);
    assert_eq!(with("Tue, 14 Nov 2023 22:13:19 GMT"), 200);
    assert_eq!(with("\"some-etag\""), 200);
}

#[test]
fn if_modified_since() {
    let f = fixture();
    let since = |date: &str| {
        f.get(&format!(
            "GET /hello.txt HTTP/1.1\r\nIf-Modified-Since: {date}\r\n\r\n"
        ))
    };
    let at = |secs: u64| {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
    };

    let (flow, resp) = since(&at(HELLO_MTIME));
    assert_eq!((flow, resp.status), (Flow::Continue, 304));
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("Content-Length"), None);
    assert_eq!(resp.header("Last-Modified"), Some(at(HELLO_MTIME).as_str()));
    assert_eq!(since(&at(HELLO_MTIME + 3600)).1.status, 304);
    assert_eq!(since(&at(HELLO_MTIME - 1)).1.status, 200);
    assert_eq!(since("not a date").1.status, 200);
}
