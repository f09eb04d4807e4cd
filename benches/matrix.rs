//! A short matrix over every strategy: each started as its own process,
//! loaded with echo at 100 connections for a second, results written to
//! `target/bench-matrix/`. `cargo bench --bench matrix`; for real runs use
//! `srvkit bench`, which has every option.

use std::path::{Path, PathBuf};
use std::time::Duration;

use srvkit::bench::{self, BenchConfig};
use srvkit::handlers::HandlerKind;

fn main() {
    let mut config = BenchConfig::new(
        PathBuf::from(env!("CARGO_BIN_EXE_srvkit")),
        HandlerKind::Echo,
    );
    config.connections = Some(vec![100]);
    config.duration = Duration::from_secs(1);
    config.warmup = Duration::from_millis(500);
    let results = match bench::run(&config, &mut ()) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("matrix: {e}");
            std::process::exit(2);
        }
    };
    for row in &results.rows {
        println!(
            "{:<12} {:>9.0} req/s  {:<8} {}",
            row.strategy,
            row.requests_per_sec(),
            row.outcome.name(),
            row.note
        );
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-matrix");
    match bench::write_results(&results, &out) {
        Ok(files) => println!("wrote {} files to {}", files.len(), out.display()),
        Err(e) => {
            eprintln!("matrix: writing {}: {e}", out.display());
            std::process::exit(1);
        }
    }
}
