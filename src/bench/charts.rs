//! SVG charts of a run, one set per scenario: requests per second, p99
//! latency and server memory per connection, by strategy, one bar colour per
//! connection count. Drawn with plotters' SVG backend (no fonts needed).

use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{BenchResults, Outcome, Row, Scenario};

/// Bar colours, one per connection count.
const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];
/// Pixels per strategy along the x axis.
const PER_STRATEGY: u32 = 95;

/// What one chart shows.
struct Metric {
    file: &'static str,
    title: &'static str,
    axis: &'static str,
    value: fn(&Row) -> Option<f64>,
    /// The lowest and highest over repeated runs, drawn as a whisker.
    range: fn(&Row) -> Option<(f64, f64)>,
    label: fn(f64) -> String,
    log_scale: bool,
}

const METRICS: [Metric; 3] = [
    Metric {
        file: "requests",
        title: "requests per second (higher is better)",
        axis: "req/s",
        value: |row| (row.load.is_some()).then(|| row.requests_per_sec()),
        range: |row| (row.runs > 1).then_some(row.requests_per_sec_range),
        label: |v| {
            if v >= 1000.0 {
                format!("{:.1}k", v / 1000.0)
            } else {
                format!("{v:.0}")
            }
        },
        log_scale: false,
    },
    Metric {
        file: "p99",
        title: "p99 latency (lower is better, log scale)",
        axis: "p99 latency, ms",
        value: Row::p99_ms,
        range: |row| row.p99_ms_range.filter(|_| row.runs > 1),
        label: |v| {
            if v >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        },
        log_scale: true,
    },
    Metric {
        file: "memory",
        title: "server memory per connection, PSS (lower is better)",
        axis: "KiB per connection",
        value: Row::memory_per_connection_kib,
        range: |_| None,
        label: |v| format!("{v:.1}"),
        log_scale: false,
    },
];

/// Draws every chart for every scenario in `results` into `dir`; returns the
/// files written.
pub fn draw_all(results: &BenchResults, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut scenarios: Vec<Scenario> = results.rows.iter().map(|r| r.scenario).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let rows: Vec<&Row> = results
            .rows
            .iter()
            .filter(|r| r.scenario == scenario)
            .collect();
        for metric in &METRICS {
            let path = dir.join(chart_file(scenario, metric.file));
            draw(&path, results, scenario, &rows, metric)
                .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The file name of one chart, as the report links it.
pub fn chart_file(scenario: Scenario, metric: &str) -> String {
    format!("{}-{metric}.svg", scenario.name())
}

/// The metric file names, in the order the report shows them.
pub fn metric_files() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|m| m.file)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(
    path: &Path,
    results: &BenchResults,
    scenario: Scenario,
    rows: &[&Row],
    metric: &Metric,
) -> DrawResult {
    let mut strategies: Vec<&str> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for row in rows {
        if !strategies.contains(&row.strategy.as_str()) {
            strategies.push(&row.strategy);
        }
        if !counts.contains(&row.connections) {
            counts.push(row.connections);
        }
    }
    let bars: Vec<Bar> = rows
        .iter()
        .map(|row| Bar {
            slot: strategies
                .iter()
                .position(|s| *s == row.strategy)
                .unwrap_or(0),
            group: counts
                .iter()
                .position(|c| *c == row.connections)
                .unwrap_or(0),
            value: (metric.value)(row).filter(|v| v.is_finite()),
            range: (metric.range)(row),
            outcome: row.outcome,
        })
        .collect();
    let highest = bars
        .iter()
        .filter_map(|b| b.range.map(|r| r.1).or(b.value))
        .fold(0.0, f64::max);
    let title = format!(
        "{} {}: {} ({}{})",
        results.handler,
        scenario,
        metric.title,
        results.machine.cores,
        if results.pinned {
            " cores, pinned"
        } else {
            " cores"
        }
    );
    let chart = Chart {
        path,
        title: &title,
        axis: metric.axis,
        strategies: &strategies,
        counts: &counts,
        bars: &bars,
        label: metric.label,
    };
    if metric.log_scale {
        let lowest = bars
            .iter()
            .filter_map(|b| b.value)
            .filter(|v| *v > 0.0)
            .fold(highest.max(1.0), f64::min);
        let floor = 10f64.powf((lowest / 2.0).max(0.001).log10().floor());
        chart.render(
            (floor..(highest * 3.0).max(floor * 10.0)).log_scale(),
            floor,
        )
    } else {
        chart.render(0.0..(highest * 1.15).max(1.0), 0.0)
    }
}

struct Bar {
    slot: usize,
    group: usize,
    value: Option<f64>,
    range: Option<(f64, f64)>,
    outcome: Outcome,
}

struct Chart<'a> {
    path: &'a Path,
    title: &'a str,
    axis: &'a str,
    strategies: &'a [&'a str],
    counts: &'a [usize],
    bars: &'a [Bar],
    label: fn(f64) -> String,
}

impl Chart<'_> {
    fn render<Y>(&self, y_range: Y, base: f64) -> DrawResult
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let width = (self.strategies.len() as u32 * PER_STRATEGY).max(640) + 120;
        let root = SVGBackend::new(self.path, (width, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let slots = self.strategies.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..slots as f64, y_range)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_label_formatter(&|_| String::new())
            .y_desc(self.axis)
            .y_label_formatter(&|v: &f64| (self.label)(*v))
            .draw()?;
        let groups = self.counts.len().max(1) as f64;
        // Each strategy's slot holds one bar per count and a gap of one.
        let width = 1.0 / (groups + 1.0);
        let span = |bar: &Bar| {
            let left = bar.slot as f64 + width / 2.0 + bar.group as f64 * width;
            (left, left + width)
        };
        for (group, connections) in self.counts.iter().enumerate() {
            let colour = COLOURS[group % COLOURS.len()];
            chart
                .draw_series(
                    self.bars
                        .iter()
                        .filter(|b| b.group == group)
                        .filter_map(|b| Some((b, b.value?)))
                        .map(|(bar, value)| {
                            let (left, right) = span(bar);
                            // A partial row's numbers cover only what it held:
                            // drawn pale so it is not read as a win.
                            let fill = match bar.outcome {
                                Outcome::Ok => colour.filled(),
                                _ => colour.mix(0.3).filled(),
                            };
                            Rectangle::new([(left, base), (right, value)], fill)
                        }),
                )?
                .label(format!("{connections} connections"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        // Whiskers: the spread of repeated runs around the median bar.
        for bar in self.bars {
            let Some((low, high)) = bar.range else {
                continue;
            };
            let (left, right) = span(bar);
            let (middle, cap) = ((left + right) / 2.0, (right - left) / 6.0);
            let low = low.max(base);
            for line in [
                vec![(middle, low), (middle, high)],
                vec![(middle - cap, low), (middle + cap, low)],
                vec![(middle - cap, high), (middle + cap, high)],
            ] {
                chart.draw_series(std::iter::once(PathElement::new(line, BLACK)))?;
            }
        }
        let small = ("sans-serif", 11)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        for bar in self.bars {
            let (left, right) = span(bar);
            let middle = (left + right) / 2.0;
            let (text, at) = match (bar.outcome, bar.value) {
                (Outcome::Failed, _) => ("failed".to_string(), base),
                (Outcome::Partial, Some(value)) => (format!("{}*", (self.label)(value)), value),
                (Outcome::Ok, Some(value)) => ((self.label)(value), value),
                (_, None) => ("n/a".to_string(), base),
            };
            // Above the whisker, where there is one.
            let at = bar.range.map_or(at, |r| r.1.max(at));
            let (x, y) = chart.backend_coord(&(middle, at));
            root.draw(&Text::new(text, (x, y - 2), small.clone()))?;
        }
        let names = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (slot, name) in self.strategies.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(slot as f64 + 0.5, base));
            root.draw(&Text::new(name.to_string(), (x, y + 6), names.clone()))?;
        }
        if self.bars.iter().any(|b| b.outcome == Outcome::Partial) {
            let note = ("sans-serif", 12).into_font().color(&BLACK);
            root.draw(&Text::new(
                "pale bars, *: partial, the strategy did not hold the load (see report.md); whiskers: lowest and highest of repeated runs",
                (90, 36),
                note,
            ))?;
        }
        root.present()?;
        Ok(())
    }
}
