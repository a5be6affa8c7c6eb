//! The `stats_tags` in `stats_tags.yaml` against every metric name the filter generates, with
//! Envoy's tag-extraction rules reproduced: each regex is matched against the full stat name
//! (`wasmcustom.<name>`); capture group 1 is cut out of the name, capture group 2 is the value.
//! The Envoy configurations in `envoy-config/` carry copies of them: each must be the same list.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use filter_analytics::metrics::{labelled_name, HEALTH, LABELLED, LABEL_KEYS};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsTag {
    tag_name: String,
    regex: String,
}

fn raw_tags() -> Vec<StatsTag> {
    let text = include_str!("../stats_tags.yaml");
    serde_yaml::from_str(text).expect("stats_tags.yaml parses")
}

fn tags() -> Vec<(String, Regex)> {
    raw_tags()
        .into_iter()
        .map(|t| {
            let re = Regex::new(&t.regex).unwrap_or_else(|e| panic!("{}: {e}", t.tag_name));
            (t.tag_name, re)
        })
        .collect()
}

/// Envoy's extraction: the tag-extracted name and the tags in configuration order.
fn extract(tags: &[(String, Regex)], name: &str) -> (String, Vec<(String, String)>) {
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let mut found = Vec::new();
    for (tag, re) in tags {
        if let Some(c) = re.captures(name) {
            let whole = c.get(1).expect("group 1");
            let value = c.get(2).unwrap_or(whole);
            cut.push((whole.start(), whole.end()));
            found.push((tag.clone(), value.as_str().to_owned()));
        }
    }
    cut.sort();
    let mut out = String::new();
    let mut at = 0;
    for (s, e) in cut {
        assert!(s >= at, "overlapping tags in {name}");
        out.push_str(&name[at..s]);
        at = e;
    }
    out.push_str(&name[at..]);
    (out, found)
}

#[test]
fn one_tag_per_label_key() {
    let names: Vec<String> = tags().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, LABEL_KEYS);
}

#[test]
fn every_generated_name_becomes_its_base_name_and_labels() {
    let tags = tags();
    let value_sets: &[&str] = &["alice", "other", "a_b-C9", "-", "_", "2xx", "404", "none"];
    for metric in LABELLED {
        for (i, first) in value_sets.iter().enumerate() {
            // Every label gets a different value to catch swapped captures.
            let values: Vec<String> = metric
                .labels
                .iter()
                .enumerate()
                .map(|(j, _)| {
                    if j == 0 {
                        (*first).to_owned()
                    } else {
                        format!("{}{j}", value_sets[(i + j) % value_sets.len()])
                    }
                })
                .collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let name = labelled_name(metric, &refs);
            for prefix in ["wasmcustom.", ""] {
                let full = format!("{prefix}{name}");
                let (base, found) = extract(&tags, &full);
                assert_eq!(base, format!("{prefix}{}", metric.name), "{full}");
                let mut want: Vec<(String, String)> = metric
                    .labels
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect();
                let mut got = found.clone();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{full}");
            }
        }
    }
}

#[test]
fn unlabelled_and_foreign_stats_get_no_tags() {
    let tags = tags();
    let mut names: Vec<String> = HEALTH
        .iter()
        .map(|(n, _)| format!("wasmcustom.{n}"))
        .collect();
    names.extend(
        [
            "cluster.api_v1.upstream_rq_200",
            "http.ingress.downstream_rq_2xx",
            "wasmcustom.auth_requests_total",
            "wasmcustom.quota_consumer=alice",
            "listener.127.0.0.1_8080.downstream_cx_total",
        ]
        .map(String::from),
    );
    for name in names {
        let (base, found) = extract(&tags, &name);
        assert!(found.is_empty(), "{name} got {found:?}");
        assert_eq!(base, name);
    }
}

/// Every Envoy configuration that loads the analytics filter (alone or in the bundle) has
/// `stats_config.stats_tags`, and every one that has them has exactly `stats_tags.yaml`'s, in
/// the same order (the configurations are templates: their `{{...}}` placeholders are filled
/// with `0` to read them).
#[test]
fn every_envoy_config_carries_the_same_stats_tags() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envoy-config");
    let placeholder = Regex::new(r"\{\{[A-Z][A-Z0-9_]*\}\}").unwrap();
    let want = raw_tags();
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&placeholder.replace_all(&text, "0"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let tags = doc
            .get("stats_config")
            .and_then(|c| c.get("stats_tags"))
            .map(|t| {
                serde_yaml::from_value::<Vec<StatsTag>>(t.clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            });
        let loads_analytics = text.contains("filter_analytics") || text.contains("filter_bundle");
        match tags {
            Some(tags) => {
                assert_eq!(tags, want, "{name}: stats_tags differ from stats_tags.yaml");
                checked.push(name);
            }
            None => assert!(
                !loads_analytics,
                "{name} loads analytics without stats_tags"
            ),
        }
    }
    assert!(
        checked.iter().any(|n| n == "analytics.yaml"),
        "checked: {checked:?}"
    );
}
