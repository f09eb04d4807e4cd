//! The `srvkit` command: run a server, list what is available.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
