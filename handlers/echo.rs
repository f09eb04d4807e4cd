//! `echo`: sends back every byte it receives (RFC 862).

use std::net::SocketAddr;

use crate::{Cx, Flow, Handler, ProtocolError, Service};

/// The echo service: every connection gets back exactly the bytes it sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

/// One echo connection. It keeps no state: bytes go straight to the output.
#[derive(Debug, Default)]
pub struct EchoHandler;

impl Service for Echo {
    type Handler = EchoHandler;

    fn name(&self) -> &'static str {
        "echo"
    }

    fn new_handler(&self, _peer: SocketAddr) -> EchoHandler {
        EchoHandler
    }
}

impl Handler for EchoHandler {
    fn on_input(&mut self, cx: &mut Cx<'_>) -> Result<Flow, ProtocolError> {
        let bytes = cx.input.bytes();
        cx.output.write(bytes);
        cx.input.consume(bytes.len());
        // The output's high-water mark stops the strategy reading while the
        // peer is not reading its echoes, so this never grows without bound.
        Ok(if cx.input.is_eof() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, Output};

    #[test]
    fn echoes_and_closes_at_eof() {
        let mut handler = EchoHandler;
        let mut output = Output::new(1024);
        let mut cx = Cx {
            input: Input::new(b"hello", false),
            output: &mut output,
        };
        assert_eq!(handler.on_input(&mut cx), Ok(Flow::Continue));
        assert!(cx.input.is_empty());
        let mut cx = Cx {
            input: Input::new(b"!", true),
            output: &mut output,
        };
        assert_eq!(handler.on_input(&mut cx), Ok(Flow::Close));
        assert_eq!(output.take_all().unwrap(), b"hello!");
    }
}
