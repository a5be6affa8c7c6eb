//! The Grafana dashboard (`envoy-config/grafana-dashboard.json`) only queries metrics and labels
//! the filter really produces.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use filter_analytics::metrics::{HEALTH, LABELLED};
use regex::Regex;
use serde_json::Value;

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn every_query_uses_real_metrics_and_labels() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../envoy-config/grafana-dashboard.json"
    );
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut all = Vec::new();
    exprs(&dash, &mut all);
    assert!(all.len() >= 15, "{} queries", all.len());
    let metric = Regex::new(r"\b((?:gateway|analytics)_[a-z_]+)(\{[^}]*\})?").unwrap();
    let by = Regex::new(r"by \(([^)]*)\)").unwrap();
    let matcher = Regex::new(r"([a-z_]+)\s*(?:=~|!~|!=|=)").unwrap();
    for expr in &all {
        let mut labels_of_expr: Vec<&str> = Vec::new();
        for c in metric.captures_iter(expr) {
            let name = &c[1];
            let base = name.strip_suffix("_bucket").unwrap_or(name);
            let labels: &[&str] = if let Some(m) = LABELLED.iter().find(|m| m.name == base) {
                m.labels
            } else {
                assert!(HEALTH.iter().any(|(n, _)| *n == name), "{name} in {expr}");
                &[]
            };
            if let Some(sel) = c.get(2) {
                for l in matcher.captures_iter(sel.as_str()) {
                    let l = l.get(1).unwrap().as_str();
                    assert!(labels.contains(&l), "{name} has no label {l}: {expr}");
                }
            }
            labels_of_expr.extend(labels);
        }
        for c in by.captures_iter(expr) {
            for l in c[1].split(',').map(str::trim) {
                assert!(l == "le" || labels_of_expr.contains(&l), "by {l} in {expr}");
            }
        }
    }
}
