//! The text form of the report: aligned tables a person reads in a terminal.

use std::fmt::Write;

use filter_core::time::format_rfc3339_ms;

use super::load::Loaded;
use super::summary::{pct, Row, Summary};

/// Left-aligns the first column and untitled ones (bars), right-aligns the others.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 || header[i].is_empty() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A key cut to 40 characters with control characters shown as `?`.
fn printable(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                '?'
            } else {
                c
            }
        })
        .take(40)
        .collect();
    if key.chars().count() > 40 {
        s.push('…');
    }
    s
}

fn ms(v: Option<[f64; 3]>, i: usize) -> String {
    v.map_or_else(|| "-".into(), |p| format!("{:.1}", p[i]))
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn usage_rows(rows: &[Row], total: u64, limit: usize) -> Vec<Vec<String>> {
    rows.iter()
        .take(limit)
        .map(|r| {
            vec![
                printable(&r.key),
                r.requests.to_string(),
                format!("{:.1}%", pct(r.requests, total)),
                format!("{:.1}%", r.error_pct()),
                format!("{:.1}%", r.server_error_pct()),
                r.denied.to_string(),
                r.throttled.to_string(),
                ms(r.latency_ms, 0),
                ms(r.latency_ms, 1),
                ms(r.latency_ms, 2),
                bytes(r.request_bytes),
                bytes(r.response_bytes),
            ]
        })
        .collect()
}

const USAGE_HEADER: [&str; 12] = [
    "",
    "requests",
    "share",
    "errors",
    "5xx",
    "denied",
    "429",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "bytes in",
    "bytes out",
];

/// The whole text report.
pub fn render(s: &Summary, loaded: &Loaded) -> String {
    let mut out = String::new();
    let total = s.overall.requests;
    let _ = writeln!(
        out,
        "KPI report: {total} requests from {} file(s){}",
        loaded.files.len(),
        if loaded.invalid_lines > 0 {
            format!(", {} invalid line(s) skipped", loaded.invalid_lines)
        } else {
            String::new()
        }
    );
    if let Some((a, b)) = s.span_ms {
        let _ = writeln!(
            out,
            "Period: {} .. {}",
            format_rfc3339_ms(a),
            format_rfc3339_ms(b)
        );
    }
    let o = &s.overall;
    let _ = writeln!(
        out,
        "Errors: {:.1}% (4xx {:.1}%, 5xx {:.1}%); auth denied {}, quota exceeded {}",
        o.error_pct(),
        pct(o.client_errors, total),
        o.server_error_pct(),
        o.denied,
        o.throttled
    );
    let _ = writeln!(
        out,
        "Latency ms: total p50 {} p95 {} p99 {}; upstream p50 {} p95 {} p99 {}",
        ms(o.latency_ms, 0),
        ms(o.latency_ms, 1),
        ms(o.latency_ms, 2),
        ms(o.upstream_ms, 0),
        ms(o.upstream_ms, 1),
        ms(o.upstream_ms, 2)
    );
    let mut header = USAGE_HEADER;
    for (title, rows, limit) in [
        ("consumer", &s.consumers, usize::MAX),
        ("api", &s.apis, s.top),
        ("api version", &s.versions, s.top),
    ] {
        header[0] = title;
        let heading = match title {
            "consumer" => "Usage per consumer".to_owned(),
            "api" => format!("Top APIs (up to {})", s.top),
            _ => format!("Top versions (up to {})", s.top),
        };
        let _ = writeln!(out, "\n{heading}");
        out.push_str(&table(&header, &usage_rows(rows, total, limit)));
    }
    let _ = writeln!(out, "\nStatus classes");
    let class_rows: Vec<Vec<String>> = s
        .classes
        .iter()
        .map(|(c, n)| vec![c.clone(), n.to_string(), format!("{:.1}%", pct(*n, total))])
        .collect();
    out.push_str(&table(&["class", "requests", "share"], &class_rows));
    let _ = writeln!(
        out,
        "\nUsage trend ({} s buckets; # = requests, scaled)",
        s.trend.width.as_secs()
    );
    let max = s.trend.buckets.iter().map(|b| b.total()).max().unwrap_or(0);
    let trend_rows: Vec<Vec<String>> = s
        .trend
        .buckets
        .iter()
        .map(|b| {
            let bar = if max == 0 {
                0
            } else {
                (b.total() * 40).div_ceil(max) as usize
            };
            vec![
                format_rfc3339_ms(b.start_ms),
                b.total().to_string(),
                b.errors.to_string(),
                b.p95_ms.map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                "#".repeat(bar),
            ]
        })
        .collect();
    out.push_str(&table(
        &["bucket start", "requests", "errors", "p95 ms", ""],
        &trend_rows,
    ));
    out
}
