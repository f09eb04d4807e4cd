//! `srvkit list`: every strategy and handler, one line each.

use std::process::ExitCode;

use srvkit::handlers::HandlerKind;
use srvkit::strategies::StrategyKind;

/// Prints the strategies and handlers.
pub fn run() -> ExitCode {
    println!("strategies (--strategy):");
    for kind in StrategyKind::ALL {
        println!("  {:<10} {}", kind.name(), kind.description());
    }
    println!("handlers (--handler):");
    for kind in HandlerKind::ALL {
        println!("  {:<10} {}", kind.name(), kind.description());
    }
    ExitCode::SUCCESS
}
