//! The `kpi-report` command on generated events: numbers checked against the generator's own
//! counts, the SVG parsed as XML.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use filter_analytics::event::UsageEvent;
use filter_analytics::measure::{AuthOutcome, Measurement, QuotaOutcome};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator: the same events on every run.
struct Rng(ChaCha8Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }
}

/// Three hours of traffic: alice (heavy, moving from v1 to v2), bob (free plan, throttled),
/// carol (light), and anonymous clients refused by auth. Returns the lines and per-consumer
/// request counts.
fn generate(n: usize) -> (String, BTreeMap<String, usize>) {
    let mut rng = Rng(ChaCha8Rng::seed_from_u64(7));
    let start_ms = 1_767_225_600_000u64;
    let mut out = String::new();
    let mut counts = BTreeMap::new();
    for i in 0..n {
        // Traffic grows over the three hours (density rises linearly).
        let f = ((i as f64 + 0.5) / n as f64).sqrt();
        let ts = start_ms + (f * 3.0 * 3600.0 * 1000.0) as u64;
        let who = match rng.below(10) {
            0..=5 => Some("alice"),
            6..=7 => Some("bob"),
            8 => Some("carol"),
            _ => None,
        };
        let progress = i as u64 * 100 / n as u64;
        let version = if rng.below(100) < progress {
            "v2"
        } else {
            "v1"
        };
        let api = if rng.below(3) == 0 {
            "catalog"
        } else {
            "orders"
        };
        let (status, local, details) = match who {
            None => (401, true, "gateway_missing_credentials"),
            Some("bob") if rng.below(4) == 0 => (429, true, "gateway_quota_exceeded"),
            _ if rng.below(50) == 0 => (503, false, "via_upstream"),
            _ => (200, false, "via_upstream"),
        };
        let upstream_ms = 2 + rng.below(20) + if rng.below(20) == 0 { 200 } else { 0 };
        let m = Measurement {
            time: UNIX_EPOCH + Duration::from_millis(ts),
            request_id: Some(format!("r-{i}").into_bytes()),
            consumer: who.map(|w| w.as_bytes().to_vec()),
            plan: who.map(|w| {
                if w == "bob" {
                    b"free".to_vec()
                } else {
                    b"gold".to_vec()
                }
            }),
            credential: who.map(|_| b"api-key".to_vec()),
            api: api.into(),
            version: who.map(|_| version.as_bytes().to_vec()),
            route: Some(format!("{api}_{version}").into_bytes()),
            method: Some(b"GET".to_vec()),
            path: Some(format!("/{version}/{api}/{}", rng.below(1000)).into_bytes()),
            status: Some(status),
            local,
            details: Some(details.as_bytes().to_vec()),
            auth: if who.is_some() {
                AuthOutcome::Ok
            } else {
                AuthOutcome::Denied
            },
            quota: match (who, status) {
                (_, 429) => QuotaOutcome::Exceeded,
                (Some(_), _) => QuotaOutcome::Ok,
                _ => QuotaOutcome::None,
            },
            request_bytes: Some(200 + rng.below(300)),
            response_bytes: Some(if local { 180 } else { 1000 + rng.below(9000) }),
            duration: Some(Duration::from_micros(if local {
                300
            } else {
                upstream_ms * 1000 + 400
            })),
            upstream: (!local).then(|| Duration::from_millis(upstream_ms)),
        };
        out.push_str(&UsageEvent::from_measurement(&m, true).to_line());
        out.push('\n');
        *counts
            .entry(who.unwrap_or("(anonymous)").to_owned())
            .or_default() += 1;
    }
    (out, counts)
}

fn workdir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_report_counts_what_was_generated_and_draws_a_chart() {
    let dir = workdir("kpi-report");
    let (lines, counts) = generate(5000);
    let cut = lines[..lines.len() / 2].rfind('\n').unwrap() + 1;
    std::fs::write(dir.join("part-1.jsonl"), &lines[..cut]).unwrap();
    // A second file with a junk line and a cut last line, as a crashed collector leaves it.
    std::fs::write(
        dir.join("part-2.jsonl"),
        format!("{}garbage\n{{\"v\":1,\"ts", &lines[cut..]),
    )
    .unwrap();
    let svg = dir.join("kpi.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_kpi-report"))
        .arg("--svg")
        .arg(&svg)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    println!("{text}");
    assert!(text.contains("5000 requests from 2 file(s), 2 invalid line(s) skipped"));
    for (consumer, n) in &counts {
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(consumer.as_str()))
            .unwrap_or_else(|| panic!("no row for {consumer}"));
        let requests: usize = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(requests, *n, "{consumer}: {row}");
    }
    for heading in [
        "Usage per consumer",
        "Top APIs",
        "Top versions",
        "Usage trend",
        "Status classes",
    ] {
        assert!(text.contains(heading), "missing {heading}");
    }
    assert!(text.contains("orders v2") && text.contains("catalog v1"));
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg_text).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    assert!(rects > 50, "bars drawn: {rects}");
    assert!(svg_text.contains("alice") && svg_text.contains("(anonymous)"));
}

#[test]
fn hostile_event_text_keeps_the_chart_valid() {
    let dir = workdir("kpi-report-hostile");
    let line = UsageEvent {
        v: 1,
        ts_ms: 1_767_225_600_000,
        consumer: Some("<b>&\"x\"\u{1}\u{2028}\u{fffd}".into()),
        api: "a<b>".into(),
        status: Some(200),
        status_class: "2xx".into(),
        ..UsageEvent::default()
    }
    .to_line();
    std::fs::write(dir.join("e.jsonl"), format!("{line}\n")).unwrap();
    let svg = dir.join("kpi.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_kpi-report"))
        .args(["--top", "3", "--bucket", "60", "--svg"])
        .arg(&svg)
        .arg(dir.join("e.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    roxmltree::Document::parse(&std::fs::read_to_string(&svg).unwrap()).unwrap();
}

#[test]
fn bad_arguments_exit_with_usage() {
    for args in [&[][..], &["--top", "0", "x"], &["--nope", "x"], &["--svg"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_kpi-report"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kpi-report"))
        .arg("/nonexistent/events.jsonl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/events.jsonl"));
}
