//! Writing a run's results: `results.json` (everything), `results.csv` (one
//! flat line per row), `report.md` (a table per scenario, the machine, the
//! charts) and the SVG charts.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::charts;
use super::{BenchResults, Row, Scenario};

/// Writes every result file into `dir` (created if missing); returns the
/// paths written.
pub fn write_results(results: &BenchResults, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let json = serde_json::to_string_pretty(results).map_err(io::Error::other)?;
    written.push(write(dir, "results.json", &json)?);
    written.push(write(dir, "results.csv", &csv(results))?);
    written.push(write(dir, "report.md", &report(results))?);
    written.extend(charts::draw_all(results, dir)?);
    Ok(written)
}

fn write(dir: &Path, name: &str, text: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, text)?;
    Ok(path)
}

const CSV_COLUMNS: &str = "scenario,strategy,handler,connections,outcome,requests_per_sec,\
p50_ms,p90_ms,p99_ms,p999_ms,max_ms,errors,connections_held,server_idle_pss_kib,\
server_peak_pss_kib,memory_per_connection_kib,server_cpu_cores,server_cpu_us_per_request,\
loader_cpu_us_per_request,peak_threads,peak_processes,peak_fds,runs,requests_per_sec_min,\
requests_per_sec_max,p99_ms_min,p99_ms_max,note";

fn csv(results: &BenchResults) -> String {
    let mut out = String::from(CSV_COLUMNS);
    out.push('\n');
    for row in &results.rows {
        let mut fields = vec![
            row.scenario.name().to_string(),
            row.strategy.clone(),
            row.handler.clone(),
            row.connections.to_string(),
            row.outcome.name().to_string(),
        ];
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        match &row.load {
            Some(load) => fields.extend([
                format!("{:.1}", load.requests_per_sec),
                ms(load.latency.p50_us),
                ms(load.latency.p90_us),
                ms(load.latency.p99_us),
                ms(load.latency.p999_us),
                ms(load.latency.max_us),
                load.errors.total().to_string(),
                load.connections_held.to_string(),
            ]),
            None => fields.extend(std::iter::repeat_n(String::new(), 8)),
        }
        let optional =
            |v: Option<f64>, digits: usize| v.map_or_else(String::new, |v| format!("{v:.digits$}"));
        match &row.server {
            Some(s) => fields.extend([
                s.idle_pss_kib.to_string(),
                s.peak_pss_kib.to_string(),
                optional(s.memory_per_connection_kib, 2),
                format!("{:.3}", s.cpu_cores),
                optional(s.cpu_us_per_request, 2),
            ]),
            None => fields.extend(std::iter::repeat_n(String::new(), 5)),
        }
        fields.push(optional(
            row.load.as_ref().map(|l| l.loader_cpu_us_per_request),
            2,
        ));
        match &row.server {
            Some(s) => fields.extend([
                s.peak_threads.to_string(),
                s.peak_processes.to_string(),
                s.peak_fds.to_string(),
            ]),
            None => fields.extend(std::iter::repeat_n(String::new(), 3)),
        }
        fields.push(row.runs.to_string());
        fields.push(format!("{:.1}", row.requests_per_sec_range.0));
        fields.push(format!("{:.1}", row.requests_per_sec_range.1));
        fields.push(optional(row.p99_ms_range.map(|r| r.0), 3));
        fields.push(optional(row.p99_ms_range.map(|r| r.1), 3));
        fields.push(row.note.clone());
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a field holding a comma, quote or line break (RFC 4180).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn report(results: &BenchResults) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# srvkit bench: {} handler\n", results.handler);
    let _ = writeln!(md, "- Machine: {}", results.machine);
    let _ = writeln!(md, "- Limits: {}", results.limits);
    let _ = writeln!(
        md,
        "- Each pairing: {:.0} s warm-up, then {:.0} s measured; server and load generator {}",
        results.warmup_secs,
        results.duration_secs,
        if results.pinned {
            "pinned to cores 0 and 1"
        } else {
            "unpinned (the scheduler shares the cores)"
        }
    );
    if results.rounds > 1 {
        let _ = writeln!(
            md,
            "- Every pairing ran {} times, in rounds over the whole matrix; each row is the \
             median run (by req/s; by p99 for c10k), with the lowest and highest of all runs \
             in brackets",
            results.rounds
        );
    }
    if results.cancelled {
        let _ = writeln!(
            md,
            "- **Cancelled** (Ctrl-C): only the pairings below finished."
        );
    }
    let _ = writeln!(
        md,
        "\nMemory is PSS summed over the server's processes; memory per connection is \
         (peak − idle) / connections held. Server CPU is in cores (1.00 = one core busy). \
         Loader CPU near its thread count means the load generator, not the server, was the limit.\n"
    );
    let mut scenarios: Vec<Scenario> = results.rows.iter().map(|r| r.scenario).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let _ = writeln!(md, "## {scenario}\n\n{}.\n", scenario.description());
        let _ = writeln!(
            md,
            "| strategy | conns | outcome | req/s | p50 ms | p99 ms | p99.9 ms | errors | memory MiB | KiB/conn | server CPU | server µs/req | loader CPU | threads | procs | note |"
        );
        let _ = writeln!(md, "|{}", "---|".repeat(16));
        for row in results.rows.iter().filter(|r| r.scenario == scenario) {
            let _ = writeln!(md, "{}", table_row(row));
        }
        md.push('\n');
        for metric in charts::metric_files() {
            let file = charts::chart_file(scenario, metric);
            let _ = writeln!(md, "![{scenario} {metric}]({file})\n");
        }
    }
    md
}

fn table_row(row: &Row) -> String {
    let dash = || "–".to_string();
    let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
    let spread = |text: String, range: (f64, f64), digits: usize| {
        if row.runs > 1 {
            format!("{text} ({:.digits$}–{:.digits$})", range.0, range.1)
        } else {
            text
        }
    };
    let (rps, p50, p99, p999, errors, loader) = match &row.load {
        Some(l) => (
            spread(
                format!("{:.0}", l.requests_per_sec),
                row.requests_per_sec_range,
                0,
            ),
            ms(l.latency.p50_us),
            match row.p99_ms_range {
                Some(range) => spread(ms(l.latency.p99_us), range, 2),
                None => ms(l.latency.p99_us),
            },
            ms(l.latency.p999_us),
            l.errors.total().to_string(),
            // Cores the loader kept busy, of the threads it had.
            format!(
                "{:.2}/{}",
                l.loader_cpu_us_per_request * l.requests_per_sec / 1e6,
                l.threads
            ),
        ),
        None => (dash(), dash(), dash(), dash(), dash(), dash()),
    };
    let (memory, per_conn, cpu, cpu_per_request, threads, procs) = match &row.server {
        Some(s) => (
            format!("{:.1}", s.peak_pss_kib as f64 / 1024.0),
            s.memory_per_connection_kib
                .map_or_else(dash, |v| format!("{v:.2}")),
            format!("{:.2}", s.cpu_cores),
            s.cpu_us_per_request
                .map_or_else(dash, |v| format!("{v:.1}")),
            s.peak_threads.to_string(),
            s.peak_processes.to_string(),
        ),
        None => (dash(), dash(), dash(), dash(), dash(), dash()),
    };
    format!(
        "| {} | {} | {} | {rps} | {p50} | {p99} | {p999} | {errors} | {memory} | {per_conn} | {cpu} | {cpu_per_request} | {loader} | {threads} | {procs} | {} |",
        row.strategy,
        row.connections,
        row.outcome.name(),
        row.note.replace('|', "\\|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn the_csv_header_and_rows_have_the_same_number_of_fields() {
        let row = Row::failed("epoll", "echo", Scenario::C10k, 10, "did not start".into());
        let results = BenchResults {
            machine: super::super::Machine::current(),
            limits: super::super::SystemLimits::read(),
            handler: "echo".into(),
            duration_secs: 1.0,
            warmup_secs: 1.0,
            pinned: false,
            rounds: 1,
            cancelled: false,
            rows: vec![row],
        };
        let text = csv(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    }
}
