//! `usage`: units per consumer and plan over a period, from analytics' usage events (JSON lines,
//! read with analytics' own loader). A request counts as used when quota admitted it
//! (`quota: ok`), as refused when quota refused it (`exceeded`, 429).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use crate::keys::parse_date;
use crate::store::{err, Error};

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array.
    Json,
}

#[derive(Default)]
struct Row {
    requests: u64,
    used: u64,
    refused: u64,
}

/// Prints usage for [from, to).
pub fn run(events: &[PathBuf], from: &str, to: &str, format: Format) -> Result<(), Error> {
    let from_ms = parse_date("--from", from)?.saturating_mul(1000);
    let to_ms = parse_date("--to", to)?.saturating_mul(1000);
    if to_ms <= from_ms {
        return err("--to must be after --from");
    }
    let (events, invalid_lines) = load(events)?;
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.ts_ms >= from_ms && e.ts_ms < to_ms)
    {
        let Some(consumer) = e.consumer.as_deref() else {
            continue;
        };
        let plan = e.plan.as_deref().unwrap_or("").to_string();
        let row = rows.entry((consumer.to_string(), plan)).or_default();
        row.requests += 1;
        match &*e.quota {
            "ok" => row.used += 1,
            "exceeded" => row.refused += 1,
            _ => {}
        }
    }
    match format {
        Format::Json => {
            let out: Vec<_> = rows
                .iter()
                .map(|((c, p), r)| {
                    json!({"consumer": c, "plan": p, "from": from, "to": to,
                           "requests": r.requests, "used": r.used, "refused": r.refused})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| Error(e.to_string()))?
            );
        }
        Format::Csv => {
            println!("consumer,plan,from,to,requests,used,refused");
            for ((c, p), r) in &rows {
                println!(
                    "{c},{p},{from},{to},{},{},{}",
                    r.requests, r.used, r.refused
                );
            }
        }
        Format::Table => {
            println!(
                "{:<16}  {:<10}  {:>10}  {:>10}  {:>10}",
                "CONSUMER", "PLAN", "REQUESTS", "USED", "REFUSED"
            );
            for ((c, p), r) in &rows {
                println!(
                    "{c:<16}  {p:<10}  {:>10}  {:>10}  {:>10}",
                    r.requests, r.used, r.refused
                );
            }
        }
    }
    if invalid_lines > 0 {
        eprintln!("{invalid_lines} lines were not usage events");
    }
    Ok(())
}

type Events = Vec<filter_analytics::event::UsageEvent<'static>>;

/// The events of the files (analytics' own loader) and how many lines were not events.
#[cfg(not(target_arch = "wasm32"))]
fn load(paths: &[PathBuf]) -> Result<(Events, usize), Error> {
    let loaded = filter_analytics::report::load::load_paths(paths)
        .map_err(|e| Error(format!("usage events: {e}")))?;
    Ok((loaded.events, loaded.invalid_lines))
}

/// analytics' event loader is native only.
#[cfg(target_arch = "wasm32")]
fn load(_: &[PathBuf]) -> Result<(Events, usize), Error> {
    err("usage: not available in a wasm32 build")
}
