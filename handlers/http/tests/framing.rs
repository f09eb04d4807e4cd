//! Request framing: errors, keep-alive, pipelining, split input, bodies, EOF
//! and back-pressure.

use super::{Fixture, HELLO, call, fixture, parse_responses, strip_dates};
use crate::handlers::http::request::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_REQUEST_LINE};
use crate::{Cx, Flow, Handler, Input, Output};

#[test]
fn bad_requests_close_with_a_page() {
    let f = fixture();
    let cases: Vec<(String, u16)> = vec![
        ("GARBAGE\r\n\r\n".into(), 400),
        ("NOT AN HTTP REQUEST\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\nNo colon\r\n\r\n".into(), 400),
        ("GET * HTTP/1.1\r\n\r\n".into(), 400),
        ("GET relative HTTP/1.1\r\n\r\n".into(), 400),
        (
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            400,
        ),
        ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".into(), 400),
        ("GET / HTTP/2.0\r\n\r\n".into(), 505),
        ("GET / HTTP/3\r\n\r\n".into(), 505),
        (
            "POST /hello.txt HTTP/1.1\r\nContent-Length: 0\r\n\r\n".into(),
            405,
        ),
        ("get /hello.txt HTTP/1.1\r\n\r\n".into(), 405),
        ("DELETE / HTTP/1.0\r\n\r\n".into(), 405),
    ];
    for (request, status) in cases {
        let (flow, resp) = f.get(&request);
        assert_eq!((flow, resp.status), (Flow::Close, status), "{request:?}");
        assert_eq!(resp.header("Connection"), Some("close"));
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert!(resp.text().contains(&format!("<h1>{status} ")));
        if status == 405 {
            assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
        }
    }
}

#[test]
fn oversized_requests() {
    let f = fixture();
    // A request line that never ends.
    let long = format!("GET /{}", "a".repeat(MAX_REQUEST_LINE + 10));
    assert_eq!(f.get(&long).1.status, 414);

    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..=MAX_HEADERS {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(f.get(&many).1.status, 431);

    let big = format!(
        "GET / HTTP/1.1\r\nX-Big: {}",
        "b".repeat(MAX_HEADER_BYTES + 10)
    );
    let (flow, resp) = f.get(&big);
    assert_eq!((flow, resp.status), (Flow::Close, 431));
}

#[test]
fn keep_alive_by_version() {
    let f = fixture();
    let cases = [
        ("GET /hello.txt HTTP/1.1\r\n\r\n", Flow::Continue, None),
        (
            "GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
            Flow::Close,
            Some("close"),
        ),
        (
            "GET /hello.txt HTTP/1.0\r\n\r\n",
            Flow::Close,
            Some("close"),
        ),
        (
            "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            Flow::Continue,
            Some("keep-alive"),
        ),
        (
            "HEAD /sub HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            Flow::Continue,
            Some("keep-alive"),
        ),
    ];
    for (request, flow, connection) in cases {
        let (got, resp) = f.get(request);
        assert_eq!(
            (got, resp.header("Connection")),
            (flow, connection),
            "{request:?}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let f = fixture();
    let input = b"GET /hello.txt HTTP/1.1\r\n\r\nGET /sub/inner.txt HTTP/1.1\r\n\r\nHEAD /data.bin HTTP/1.1\r\n\r\nGET /hel";
    let (flow, consumed, out) = call(&mut f.handler(), input, false);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(consumed, input.len() - b"GET /hel".len());
    let resp = parse_responses(&out, &[true, true, false]);
    assert_eq!(resp[0].body, HELLO);
    assert_eq!(resp[1].body, b"inner");
    assert_eq!(resp[2].header("Content-Length"), Some("1000"));
}

/// Feeds `input` in two calls split at `k`, handing back the unconsumed tail
/// like the core does; returns everything written.
fn split_run(f: &Fixture, input: &[u8], k: usize) -> Vec<u8> {
    let mut handler = f.handler();
    let (flow, consumed, mut out) = call(&mut handler, &input[..k], false);
    assert_eq!(flow, Flow::Continue, "split at {k}");
    let mut rest = input[consumed..k].to_vec();
    rest.extend_from_slice(&input[k..]);
    let (_, consumed, more) = call(&mut handler, &rest, false);
    assert_eq!(consumed, rest.len(), "split at {k}");
    out.extend_from_slice(&more);
    strip_dates(&out)
}

#[test]
fn a_request_split_anywhere_gives_the_same_response() {
    let f = fixture();
    let input = b"GET /hello.txt HTTP/1.1\r\nHost: example\r\nRange: bytes=0-4\r\n\r\n";
    let whole = split_run(&f, input, input.len());
    assert!(whole.starts_with(b"HTTP/1.1 206 "));
    for k in 0..input.len() {
        assert_eq!(split_run(&f, input, k), whole, "split at {k}");
    }
}

#[test]
fn bodies_are_skipped_wherever_the_input_is_split() {
    let f = fixture();
    let input = b"GET /hello.txt HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /GET /sub/inner.txt HTTP/1.1\r\n\r\n";
    let whole = split_run(&f, input, input.len());
    let responses = parse_responses(&whole, &[true, true]);
    assert_eq!(responses[0].body, HELLO);
    assert_eq!(responses[1].body, b"inner");
    for k in 0..input.len() {
        assert_eq!(split_run(&f, input, k), whole, "split at {k}");
    }
}

#[test]
fn a_body_arriving_over_several_calls() {
    let f = fixture();
    let mut handler = f.handler();
    let (_, consumed, out) = call(
        &mut handler,
        b"GET /hello.txt HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        false,
    );
    assert_eq!(consumed, 50);
    assert_eq!(parse_responses(&out, &[true])[0].body, HELLO);
    let (_, consumed, out) = call(&mut handler, b"defg", false);
    assert_eq!((consumed, out.len()), (4, 0));
    let next = b"hijGET /sub/inner.txt HTTP/1.1\r\n\r\n";
    let (_, consumed, out) = call(&mut handler, next, false);
    assert_eq!(consumed, next.len());
    assert_eq!(parse_responses(&out, &[true])[0].body, b"inner");
}

#[test]
fn eof_answers_complete_requests_then_closes() {
    let f = fixture();
    let input = b"GET /hello.txt HTTP/1.1\r\n\r\nHEAD /hello.txt HTTP/1.1\r\n\r\nGET /sub/inn";
    let (flow, _, out) = call(&mut f.handler(), input, true);
    assert_eq!(flow, Flow::Close);
    assert_eq!(parse_responses(&out, &[true, false]).len(), 2);

    let (flow, _, out) = call(&mut f.handler(), b"", true);
    assert_eq!((flow, out.len()), (Flow::Close, 0));
    let (flow, _, out) = call(&mut f.handler(), b"GET / HTTP/1.1\r\n", true);
    assert_eq!((flow, out.len()), (Flow::Close, 0));
}

#[test]
fn a_full_output_pauses_until_drained() {
    let f = fixture();
    let mut handler = f.handler();
    let first = b"GET /data.bin HTTP/1.1\r\n\r\n";
    let mut rest = first.to_vec();
    rest.extend_from_slice(b"GET /hello.txt HTTP/1.1\r\n\r\nGET /sub/inner.txt HTTP/1.1\r\n\r\n");
    // data.bin alone (1000 bytes) fills this output.
    let mut output = Output::new(512);
    let mut cx = Cx {
        input: Input::new(&rest, true),
        output: &mut output,
    };
    assert_eq!(handler.on_input(&mut cx), Ok(Flow::Continue));
    assert_eq!(cx.input.consumed(), first.len());
    assert!(output.resume_requested());
    let mut all = output.take_all().unwrap();

    // The core calls again once drained, with the unconsumed requests.
    rest.drain(..first.len());
    let mut output = Output::new(512);
    let mut cx = Cx {
        input: Input::new(&rest, true),
        output: &mut output,
    };
    assert_eq!(handler.on_input(&mut cx), Ok(Flow::Close));
    assert!(cx.input.is_empty());
    all.extend(output.take_all().unwrap());
    let responses = parse_responses(&all, &[true, true, true]);
    assert_eq!(responses[0].body.len(), 1000);
    assert_eq!(responses[1].body, HELLO);
    assert_eq!(responses[2].body, b"inner");
}
