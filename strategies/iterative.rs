//! `iterative`: one connection at a time, start to finish (the tutorials'
//! 循环服务器, socketserver's plain `TCPServer`).
//!
//! The accept loop serves each client itself with blocking reads and writes,
//! and only then accepts the next. Simplest possible server, and the
//! baseline the others are measured against: a second client waits in the
//! backlog until the first one leaves, so it suits short request/response
//! exchanges (`--mode per-request` loads), not long-lived connections.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use crate::blocking::BlockingDriver;
use crate::{ServeContext, Service, Strategy};

/// The iterative strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Iterative;

impl Strategy for Iterative {
    fn name(&self) -> &'static str {
        "iterative"
    }

    fn serve<S: Service>(
        &self,
        listener: TcpListener,
        service: Arc<S>,
        cx: &ServeContext,
    ) -> io::Result<()> {
        let driver = BlockingDriver::new(cx);
        driver.accept_loop(&listener, |incoming| driver.drive(incoming, &*service))
    }
}
