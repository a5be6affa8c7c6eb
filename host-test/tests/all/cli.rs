//! The CLI: scenario replay (human and JSON output, exit codes) and bench.

use crate::guests::{probe, probe_unknown};
use std::path::Path;
use std::process::Command;

fn scenario() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/probe.json")
        .display()
        .to_string()
}

fn cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_host-test"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn scenario_passes_with_human_output() {
    let m = probe().display().to_string();
    let (code, text) = cli(&["run", &scenario(), "--module", &m, "--module", &m]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ok   step 1 callout allows"), "{text}");
    assert!(text.contains("PASSED: 4 steps, 0 failed"), "{text}");
}

#[test]
fn failed_expectation_exits_1_with_json() {
    let m = probe().display().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/host-test-scratch");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("failing.json");
    let text = std::fs::read_to_string(scenario())
        .unwrap()
        .replace("\"probe_ticks\": 6", "\"probe_ticks\": 7");
    std::fs::write(&p, text).unwrap();
    let (code, out) = cli(&["run", p.to_str().unwrap(), "-m", &m, "-m", &m, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(
        v["steps"][3]["failures"][0],
        "metric probe_ticks: expected 7, got Some(6)"
    );
    assert_eq!(
        v["steps"][0]["outcome"]["upstream"]["headers"][4][0],
        "x-probe"
    );
}

#[test]
fn trace_is_written_as_json() {
    let m = probe().display().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/host-test-scratch");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("probe-trace.json");
    let o = out.to_str().unwrap();
    let (code, text) = cli(&["run", &scenario(), "-m", &m, "-m", &m, "--trace", o]);
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let calls = v.as_array().unwrap();
    assert!(calls
        .iter()
        .any(|e| e["name"] == "proxy_http_call" && e["result"] == 0));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(cli(&["run"]).0, 2);
    assert_eq!(cli(&["nope"]).0, 2);
    assert_eq!(cli(&["run", "/no/such.json"]).0, 2);
}

#[test]
fn bench_reports_deterministic_fuel() {
    let m = probe().display().to_string();
    let run = || {
        let (code, out) = cli(&[
            "bench", "--module", &m, "--config", "name=b", "-n", "50", "--json",
        ]);
        assert_eq!(code, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["requests"], 50);
        let f = &v["filters"][0];
        assert!(f["memory_bytes"].as_u64().unwrap() >= 17 * 65536, "{f}");
        assert_eq!(
            f["memory_growth_bytes"], 0,
            "a steady request keeps nothing"
        );
        f["fuel_per_request"].as_u64().unwrap()
    };
    let fuel = run();
    assert!(fuel > 0);
    assert_eq!(fuel, run(), "fuel is deterministic");
}

#[test]
fn scenario_passes_with_the_wasm32_unknown_unknown_build() {
    let m = probe_unknown().display().to_string();
    let (code, text) = cli(&["run", &scenario(), "--module", &m, "--module", &m]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn bench_a_scenario_answers_its_callouts() {
    let m = probe().display().to_string();
    let (code, out) = cli(&[
        "bench",
        &scenario(),
        "-m",
        &m,
        "-m",
        &m,
        "-n",
        "20",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["filters"].as_array().unwrap().len(), 2);
}

#[test]
fn profile_names_the_guest_functions() {
    let m = probe().display().to_string();
    let (code, out) = cli(&[
        "profile", "--module", &m, "--config", "name=b", "-n", "3000", "--top", "15",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("samples over 3000 requests"), "{out}");
    // The request callback is on the stack of most samples, under its export name.
    let line = out
        .lines()
        .find(|l| l.ends_with(" proxy_on_request_headers"))
        .unwrap_or_else(|| panic!("{out}"));
    let inclusive: f64 = line.split('%').next().unwrap().trim().parse().unwrap();
    assert!(inclusive > 10.0, "{out}");
}

fn format_scenario() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/format.json")
        .display()
        .to_string()
}

/// The scenario format's bytes bodies, header lists, unanswered and timed-out callouts, and
/// the log lines in `--json` and `--trace` output.
#[test]
fn format_scenario_bytes_order_unanswered_calls_and_logs() {
    let m = probe().display().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/host-test-scratch");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("format-trace.json");
    let t = trace.to_str().unwrap();
    let (code, out) = cli(&["run", &format_scenario(), "-m", &m, "--json", "--trace", t]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let step = &v["steps"][0];
    // Headers in the order written, a repeated one kept twice, after the pseudo-headers.
    let names: Vec<&str> = step["outcome"]["upstream"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .filter(|k| !k.starts_with(':'))
        .collect();
    assert_eq!(names, ["x-b", "x-a", "x-b", "x-probe", "x-order"]);
    // Bodies that are not UTF-8 come with their bytes as base64.
    assert_eq!(step["outcome"]["upstream"]["body_base64"], "AP+AQQ==");
    assert_eq!(step["outcome"]["client"]["body_base64"], "gAH/");
    assert!(v["steps"][1]["outcome"]["client"]
        .get("body_base64")
        .is_none());
    // The lines each step logged.
    let logs: Vec<&str> = step["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(
        logs.contains(&"probe request_headers eos=false"),
        "{logs:?}"
    );
    assert!(logs.contains(&"warn line"), "{logs:?}");
    assert_eq!(step["logs"][0]["level"], "info");
    let timed_out = &v["steps"][3]["logs"];
    assert!(
        timed_out
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "probe call response token=4 headers=3 body=24"),
        "{timed_out}"
    );
    // The trace carries each logged line on its proxy_log call.
    let tr: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let lines: Vec<&str> = tr
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "proxy_log")
        .map(|e| e["log"].as_str().unwrap())
        .collect();
    assert!(lines.contains(&"warn: warn line"), "{lines:?}");
    assert!(lines.contains(&"trace: trace line"), "dropped lines too");
}

#[test]
fn bad_bytes_and_conflicting_fields_are_usage_errors() {
    let m = probe().display().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/host-test-scratch");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(format_scenario()).unwrap();
    for (tag, from, to) in [
        ("bad-base64", "\"AP+AQQ==\",\n", "\"AP+A!QQ==\",\n"),
        (
            "two-bodies",
            "\"body_base64\": \"AP+AQQ==\"",
            "\"body_base64\": \"AP+AQQ==\", \"body\": \"x\"",
        ),
        (
            "two-fates",
            "{ \"unanswered\": true }",
            "{ \"unanswered\": true, \"fail\": true }",
        ),
    ] {
        assert!(text.contains(from), "{tag}");
        let p = dir.join(format!("format-{tag}.json"));
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        let (code, out) = cli(&["run", p.to_str().unwrap(), "-m", &m]);
        assert_eq!(code, 2, "{tag}: {out}");
    }
}
