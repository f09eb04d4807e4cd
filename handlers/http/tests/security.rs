//! Nothing outside the root is reachable, and odd files are refused.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::{SECRET, fixture};
use crate::Flow;

#[test]
fn traversal_is_refused() {
    let f = fixture();
    let cases = [
        ("/../x", 403),
        ("/..", 403),
        ("/%2e%2e/x", 403),
        ("/a/%2E%2E/%2e%2e/x", 403),
        ("/sub/..%2f..%2fescape", 403),
        ("/sub/%2E./hello.txt", 403),
        ("//etc/passwd", 404),
        ("/escape", 403),
        ("/escape_dir/", 403),
        ("/escape_dir/secret.txt", 403),
        ("/hello.txt%00", 400),
        ("/%00/x", 400),
        ("http://host/../escape", 403),
    ];
    for (target, expected) in cases {
        let (flow, resp) = f.get(&format!("GET {target} HTTP/1.1\r\n\r\n"));
        assert_eq!(resp.status, expected, "{target}");
        // A refused path is an answer like any other; only a malformed
        // request ends the connection.
        let closes = expected == 400;
        assert_eq!(flow == Flow::Close, closes, "{target}");
        assert_eq!(
            resp.header("Connection") == Some("close"),
            closes,
            "{target}"
        );
        assert!(
            !resp.body.windows(SECRET.len()).any(|w| w == SECRET),
            "{target}"
        );
    }
    // `.` and empty segments are harmless.
    assert_eq!(f.status("GET /./sub//./inner.txt HTTP/1.1\r\n\r\n"), 200);
    assert_eq!(f.status("GET /sub/%2e/inner.txt HTTP/1.1\r\n\r\n"), 200);
}

#[test]
fn symlinks_inside_the_root_are_followed() {
    let f = fixture();
    std::os::unix::fs::symlink("sub/inner.txt", f.root.path().join("link.txt")).unwrap();
    let (_, resp) = f.get("GET /link.txt HTTP/1.1\r\n\r\n");
    assert_eq!((resp.status, resp.text()), (200, "inner"));
    std::os::unix::fs::symlink("loop", f.root.path().join("loop")).unwrap();
    assert_eq!(f.status("GET /loop HTTP/1.1\r\n\r\n"), 403);
}

#[test]
fn special_files_are_refused() {
    let f = fixture();
    assert_eq!(f.status("GET /fifo HTTP/1.1\r\n\r\n"), 403);
    assert_eq!(f.status("GET /hello.txt/x HTTP/1.1\r\n\r\n"), 404);
    assert_eq!(f.status("GET /hello.txt/ HTTP/1.1\r\n\r\n"), 404);
    assert_eq!(f.status("GET /missing HTTP/1.1\r\n\r\n"), 404);
    let (flow, resp) = f.get("GET /missing.txt HTTP/1.1\r\n\r\n");
    assert_eq!(flow, Flow::Continue, "a 404 keeps the connection open");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(resp.text().contains("404 Not Found"));
}

#[test]
fn unreadable_files_are_forbidden() {
    let f = fixture();
    let path = f.root.path().join("hello.txt");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    // root reads anything: nothing to test then.
    if fs::read(&path).is_ok() {
        return;
    }
    assert_eq!(f.status("GET /hello.txt HTTP/1.1\r\n\r\n"), 403);
}
