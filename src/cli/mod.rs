//! Command-line parsing and dispatch.

mod bench;
mod list;
mod load;
mod logger;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// srvkit: one protocol implementation, every server model.
#[derive(Debug, Parser)]
#[command(name = "srvkit", version, args_conflicts_with_subcommands = true)]
#[command(about = "Run a network protocol under any concurrency strategy")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: serve::ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every strategy and handler with a one-line description.
    List,
    /// Drive a running server with many clients; report req/s, latency, errors.
    Load(load::LoadArgs),
    /// Start each strategy in turn, load it, and write tables and charts.
    Bench(bench::BenchArgs),
}

/// Parses the command line and runs it. Bad arguments: one line on stderr
/// and exit code 2; runtime failures: one line and exit code 1.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    logger::init();
    match cli.command {
        Some(Command::List) => list::run(),
        Some(Command::Load(args)) => load::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        None => serve::run(cli.serve),
    }
}

/// Prints a clap error as a single line (help and version as clap prints them).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.to_string();
    let line: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    eprintln!(
        "srvkit: {} (see srvkit --help)",
        line.join("; ").trim_start_matches("error: ")
    );
    ExitCode::from(2)
}

/// Reports a runtime failure: one line, exit code 1.
fn failure(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("srvkit: {message}");
    ExitCode::FAILURE
}

/// Reports a bad argument found after parsing (a missing --root directory).
fn bad_argument(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("srvkit: {message}");
    ExitCode::from(2)
}
