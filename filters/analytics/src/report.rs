//! The KPI report (native only): reads collected usage events (JSON lines, as the collector
//! received them) and summarises them as a text table ([`table`]) and an SVG chart ([`svg`]).
//!
//! - [`load`]: reading event files (lines that are not events are counted and skipped);
//! - [`summary`]: per-consumer usage, top APIs and versions, error rates, latency percentiles
//!   and the usage trend in time buckets.
//!
//! The `kpi-report` binary is the command-line front end.

pub mod load;
pub mod summary;
pub mod svg;
pub mod table;

use std::path::PathBuf;
use std::time::Duration;

pub use load::{load_paths, Loaded};
pub use summary::Summary;

/// Options of one report run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Event files or directories (every `*.jsonl`, `*.ndjson` or `*.log` file inside).
    pub inputs: Vec<PathBuf>,
    /// Where to write the SVG chart, if anywhere.
    pub svg: Option<PathBuf>,
    /// Rows in the "top" tables and series in the chart. Default 10.
    pub top: usize,
    /// Trend bucket width; default: chosen so the trend has at most 48 buckets.
    pub bucket: Option<Duration>,
}

/// Usage text of the command.
pub const USAGE: &str = "\
usage: kpi-report [--svg FILE] [--top N] [--bucket SECONDS] EVENTS...

Reads usage events (JSON lines written by the analytics filter's collector) from files or
directories and prints per-consumer usage, top APIs and versions, error rates, latency
percentiles and the usage trend. --svg also writes a chart to FILE.";

impl Options {
    /// Parses command-line arguments (without the program name).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, String> {
        let mut opts = Options {
            inputs: Vec::new(),
            svg: None,
            top: 10,
            bucket: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--svg" => opts.svg = Some(PathBuf::from(value("--svg")?)),
                "--top" => {
                    opts.top = value("--top")?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--top needs a positive number")?;
                }
                "--bucket" => {
                    let secs: u64 = value("--bucket")?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--bucket needs a positive number of seconds")?;
                    opts.bucket = Some(Duration::from_secs(secs));
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
                _ => opts.inputs.push(PathBuf::from(arg)),
            }
        }
        if opts.inputs.is_empty() {
            return Err(format!("no event files given\n{USAGE}"));
        }
        Ok(opts)
    }
}

/// Runs the report: returns the text to print, and writes the SVG if asked.
pub fn run(opts: &Options) -> Result<String, String> {
    let loaded = load_paths(&opts.inputs).map_err(|e| e.to_string())?;
    let summary = Summary::new(&loaded.events, opts.top, opts.bucket);
    let mut text = table::render(&summary, &loaded);
    if let Some(path) = &opts.svg {
        std::fs::write(path, svg::render(&summary))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        text.push_str(&format!("\nChart written to {}\n", path.display()));
    }
    Ok(text)
}
