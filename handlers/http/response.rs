//! Building responses: status lines, headers, and the small HTML pages for
//! errors and redirects.

use std::fmt::{Display, Write as _};
use std::time::SystemTime;

use crate::Output;

/// The statuses this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200: the whole file or listing follows.
    Ok,
    /// 206: one byte range of the file follows.
    PartialContent,
    /// 301: a directory was asked for without its trailing slash.
    MovedPermanently,
    /// 304: the client's copy is still current.
    NotModified,
    /// 400: the request could not be understood.
    BadRequest,
    /// 403: the path exists but may not be served, or tries to escape the root.
    Forbidden,
    /// 404: nothing at that path.
    NotFound,
    /// 405: a method other than GET or HEAD.
    MethodNotAllowed,
    /// 414: the request line is too long.
    UriTooLong,
    /// 416: the Range starts past the end of the file.
    RangeNotSatisfiable,
    /// 431: too many headers, or too many header bytes.
    HeadersTooLarge,
    /// 500: an unexpected error from the file system.
    InternalError,
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl Status {
    /// The three-digit code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::HeadersTooLarge => 431,
            Status::InternalError => 500,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase sent after the code.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeadersTooLarge => "Request Header Fields Too Large",
            Status::InternalError => "Internal Server Error",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// What happens to the connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// HTTP/1.1 default: stay open, no `Connection` header needed.
    KeepAlive,
    /// HTTP/1.0 client that asked for keep-alive: stay open and say so.
    KeepAliveEcho,
    /// Send `Connection: close` and close after the response.
    Close,
}

impl Persist {
    /// Whether the connection stays open.
    pub fn keeps_open(self) -> bool {
        self != Persist::Close
    }
}

/// A response head being built: status line, then headers, then the blank line.
pub struct Head {
    buf: Vec<u8>,
}

impl Head {
    /// Starts a head with the status line and the `Server` and `Date` headers.
    pub fn new(status: Status) -> Head {
        let mut head = Head {
            buf: Vec::with_capacity(256),
        };
        head.push(format_args!(
            "HTTP/1.1 {} {}\r\n",
            status.code(),
            status.reason()
        ));
        head.header("Server", "srvkit");
        head.header("Date", httpdate::fmt_http_date(SystemTime::now()));
        head
    }

    /// Adds a header. Values come from this server or were validated by
    /// httparse, so they hold no CR or LF.
    pub fn header(&mut self, name: &str, value: impl Display) -> &mut Head {
        self.push(format_args!("{name}: {value}\r\n"));
        self
    }

    /// Adds the `Connection` header `persist` calls for and the blank line
    /// ending the head.
    pub fn finish(mut self, persist: Persist) -> Vec<u8> {
        match persist {
            Persist::KeepAlive => {}
            Persist::KeepAliveEcho => {
                self.header("Connection", "keep-alive");
            }
            Persist::Close => {
                self.header("Connection", "close");
            }
        }
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }

    fn push(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(&mut self.buf, args);
    }
}

/// Queues a response whose body is a small in-memory page (errors, redirects,
/// listings). With `head_only` (HEAD requests) the body is left out but its
/// length is still announced.
pub fn send_page(
    out: &mut Output,
    mut head: Head,
    content_type: &str,
    body: &[u8],
    head_only: bool,
    persist: Persist,
) {
    head.header("Content-Type", content_type)
        .header("Content-Length", body.len());
    let mut bytes = head.finish(persist);
    if !head_only {
        bytes.extend_from_slice(body);
    }
    out.write_vec(bytes);
}

/// Content type of the pages this server generates.
pub const HTML: &str = "text/html; charset=utf-8";

/// Queues an error response with a small HTML page and `Connection: close`.
/// `extra` adds one header, such as `Allow` for a 405.
pub fn send_error(
    out: &mut Output,
    status: Status,
    head_only: bool,
    extra: Option<(&str, &str)>,
    persist: Persist,
) {
    let mut head = Head::new(status);
    if let Some((name, value)) = extra {
        head.header(name, value);
    }
    let title = format!("{} {}", status.code(), status.reason());
    let body = page(&title, &format!("<h1>{title}</h1>\n"));
    send_page(out, head, HTML, body.as_bytes(), head_only, persist);
}

/// Queues a 301 to `location`, which must already be a valid URL path.
pub fn send_redirect(out: &mut Output, location: &str, head_only: bool, persist: Persist) {
    let mut head = Head::new(Status::MovedPermanently);
    head.header("Location", location);
    let target = escape_html(location);
    let body = page(
        "301 Moved Permanently",
        &format!("<h1>Moved Permanently</h1>\n<p><a href=\"{target}\">{target}</a></p>\n"),
    );
    send_page(out, head, HTML, body.as_bytes(), head_only, persist);
}

/// A complete HTML document around `content`, which must already be escaped.
pub fn page(title: &str, content: &str) -> String {
    let mut html = String::with_capacity(200 + content.len());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>td,th{{padding:0 1em 0 0;text-align:left}}.size{{text-align:right}}</style>\n</head>\n\
         <body>\n{content}<hr>\n<address>srvkit</address>\n</body>\n</html>\n"
    );
    html
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_has_status_line_server_date_and_connection() {
        let mut head = Head::new(Status::NotFound);
        head.header("X-Test", 5);
        let text = String::from_utf8(head.finish(Persist::Close)).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nServer: srvkit\r\nDate: "));
        assert!(text.ends_with("X-Test: 5\r\nConnection: close\r\n\r\n"));
        let text = String::from_utf8(Head::new(Status::Ok).finish(Persist::KeepAlive)).unwrap();
        assert!(!text.contains("Connection"));
    }

    #[test]
    fn error_page_announces_its_length_even_for_head() {
        let mut out = Output::new(1 << 16);
        send_error(
            &mut out,
            Status::MethodNotAllowed,
            false,
            Some(("Allow", "GET, HEAD")),
            Persist::Close,
        );
        let full = String::from_utf8(out.take_all().unwrap()).unwrap();
        send_error(
            &mut out,
            Status::MethodNotAllowed,
            true,
            Some(("Allow", "GET, HEAD")),
            Persist::Close,
        );
        let head = String::from_utf8(out.take_all().unwrap()).unwrap();
        let (full_head, body) = full.split_once("\r\n\r\n").unwrap();
        assert!(full_head.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(full_head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(body.contains("<h1>405 Method Not Allowed</h1>"));
        assert!(head.ends_with("\r\n\r\n"));
        assert_eq!(head.len(), full_head.len() + 4);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(escape_html("a b&<c>\"'"), "a b&amp;&lt;c&gt;&quot;&#39;");
    }
}
