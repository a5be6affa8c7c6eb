//! The chart: one standalone SVG document with three panels, built as text.
//!
//! 1. Requests over time, stacked by consumer (the top consumers and `(others)`).
//! 2. p95 latency over time (line), with the requests answered with an error as bars.
//! 3. Requests per consumer (horizontal bars, the error share darker).
//!
//! Text from events is XML-escaped, and characters XML cannot carry become `?`.

use std::fmt::Write;

use filter_core::time::format_rfc3339_ms;

use super::summary::Summary;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 180.0;
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// XML-escaped text.
pub fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The first 40 characters.
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A "nice" axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * mag)
}

fn axis(out: &mut String, top: f64, height: f64, max: f64, unit: &str) {
    let plot_w = WIDTH - LEFT - RIGHT;
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + height - height * f64::from(i) / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}{unit}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            if max >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        );
    }
}

fn time_labels(out: &mut String, s: &Summary, y: f64) {
    let n = s.trend.buckets.len();
    if n == 0 {
        return;
    }
    let step = (WIDTH - LEFT - RIGHT) / n as f64;
    let every = n.div_ceil(6).max(1);
    for (i, b) in s.trend.buckets.iter().enumerate().step_by(every) {
        let t = format_rfc3339_ms(b.start_ms);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{y:.1}" text-anchor="middle">{}</text>"#,
            LEFT + step * (i as f64 + 0.5),
            escape(t.get(5..16).unwrap_or(&t))
        );
    }
}

/// The SVG document.
pub fn render(s: &Summary) -> String {
    let consumers = s.consumers.iter().take(s.top).collect::<Vec<_>>();
    let bars_h = 22.0 * consumers.len().max(1) as f64;
    let height = 40.0 + 260.0 + 50.0 + 200.0 + 50.0 + bars_h + 40.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="#fff"/>"##);
    let period = s.span_ms.map_or_else(String::new, |(a, b)| {
        format!("{} to {}", format_rfc3339_ms(a), format_rfc3339_ms(b))
    });
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">API usage: {} requests, {:.1}% errors</text><text x="{:.1}" y="22" text-anchor="end">{}</text>"#,
        s.overall.requests,
        s.overall.error_pct(),
        WIDTH - 10.0,
        escape(&period)
    );

    // Panel 1: stacked requests per bucket.
    let (top1, h1) = (60.0, 240.0);
    let n = s.trend.buckets.len();
    let step = plot_w / n.max(1) as f64;
    let max1 = nice_max(s.trend.buckets.iter().map(|b| b.total()).max().unwrap_or(0) as f64);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">Requests per {} s, by consumer</text>"#,
        top1 - 8.0,
        s.trend.width.as_secs()
    );
    axis(&mut out, top1, h1, max1, "");
    for (i, b) in s.trend.buckets.iter().enumerate() {
        let mut y = top1 + h1;
        for (k, count) in b.by_series.iter().enumerate() {
            let h = h1 * *count as f64 / max1;
            y -= h;
            if *count > 0 {
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {count}</title></rect>"#,
                    LEFT + step * i as f64 + step * 0.1,
                    step * 0.8,
                    PALETTE[k % PALETTE.len()],
                    escape(&short(&s.trend.series[k]))
                );
            }
        }
    }
    time_labels(&mut out, s, top1 + h1 + 16.0);
    for (k, name) in s.trend.series.iter().enumerate() {
        let y = top1 + 10.0 + 18.0 * k as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{y:.1}" dominant-baseline="middle">{}</text>"#,
            WIDTH - RIGHT + 16.0,
            y - 6.0,
            PALETTE[k % PALETTE.len()],
            WIDTH - RIGHT + 34.0,
            escape(&short(name))
        );
    }

    // Panel 2: p95 latency line and error bars.
    let (top2, h2) = (top1 + h1 + 60.0, 180.0);
    let max_p95 = s
        .trend
        .buckets
        .iter()
        .filter_map(|b| b.p95_ms)
        .fold(0.0, f64::max);
    let max2 = nice_max(max_p95);
    let max_err = nice_max(s.trend.buckets.iter().map(|b| b.errors).max().unwrap_or(0) as f64);
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.1}" font-weight="bold">p95 latency (ms, line) and errors (bars, right scale up to {max_err:.0})</text>"##,
        top2 - 8.0
    );
    axis(&mut out, top2, h2, max2, "");
    for i in 0..=4 {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#e15759">{:.0}</text>"##,
            WIDTH - RIGHT + 6.0,
            top2 + h2 - h2 * f64::from(i) / 4.0 + 4.0,
            max_err * f64::from(i) / 4.0
        );
    }
    let mut points = Vec::new();
    for (i, b) in s.trend.buckets.iter().enumerate() {
        let x = LEFT + step * (i as f64 + 0.5);
        let eh = h2 * b.errors as f64 / max_err;
        if b.errors > 0 {
            let _ = writeln!(
                out,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{eh:.1}" fill="#e15759" opacity="0.5"><title>errors: {}</title></rect>"##,
                x - step * 0.3,
                top2 + h2 - eh,
                step * 0.6,
                b.errors
            );
        }
        if let Some(p) = b.p95_ms {
            points.push(format!("{x:.1},{:.1}", top2 + h2 - h2 * p / max2));
        }
    }
    let _ = writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#4e79a7" stroke-width="2"/>"##,
        points.join(" ")
    );
    time_labels(&mut out, s, top2 + h2 + 16.0);

    // Panel 3: requests per consumer.
    let top3 = top2 + h2 + 60.0;
    let max3 = nice_max(consumers.first().map_or(0, |r| r.requests) as f64);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">Requests per consumer (darker: errors)</text>"#,
        top3 - 8.0
    );
    for (i, r) in consumers.iter().enumerate() {
        let y = top3 + 22.0 * i as f64;
        let w = plot_w * r.requests as f64 / max3;
        let ew = plot_w * (r.client_errors + r.server_errors) as f64 / max3;
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{LEFT}" y="{y:.1}" width="{w:.1}" height="16" fill="#4e79a7"/><rect x="{LEFT}" y="{y:.1}" width="{ew:.1}" height="16" fill="#e15759"/><text x="{:.1}" y="{:.1}">{} ({:.1}% errors)</text>"##,
            LEFT - 6.0,
            y + 12.0,
            escape(&short(&r.key)),
            LEFT + w + 6.0,
            y + 12.0,
            r.requests,
            r.error_pct()
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
