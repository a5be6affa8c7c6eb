//! The `host-test` command line.
//!
//! ```text
//! host-test run SCENARIO.json [--module X.wasm]... [--json] [--trace OUT.json]
//! host-test bench (SCENARIO.json | --module X.wasm [--config STR]...) [--requests N] [--json]
//! host-test profile (SCENARIO.json | --module X.wasm [--config STR]...) [--requests N] [--top N]
//!                  [--fuel [--samples N]] [--callers FUNCTION]
//! ```
//! `run` exits 0 when every expectation holds, 1 when one fails, 2 on a usage or load error.
//! `bench` reports, per filter, fuel per request (deterministic) and wall time per request.
//! `profile` runs the same requests under the sampling profiler ([`crate::sampler`]) and prints
//! the guest functions with the largest share of samples; with `--fuel`, the samples are exact
//! fuel offsets into one request of the first filter (deterministic, see [`crate::sampler`]).

use crate::api::{FilterSpec, Gateway, Harness};
use crate::scenario::{Report, Scenario};
use crate::value::{CallReply, Request, Response};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

const USAGE: &str = "usage:
  host-test run SCENARIO.json [--module X.wasm]... [--json] [--trace OUT.json]
  host-test bench (SCENARIO.json | --module X.wasm [--config STR]...) [--requests N] [--json]
  host-test profile (SCENARIO.json | --module X.wasm [--config STR]...) [--requests N] [--top N]
                   [--fuel [--samples N]] [--callers FUNCTION]";

#[derive(Default)]
struct Args {
    positional: Vec<String>,
    modules: Vec<PathBuf>,
    configs: Vec<String>,
    requests: Option<usize>,
    json: bool,
    trace: Option<PathBuf>,
    top: Option<usize>,
    fuel: bool,
    samples: Option<usize>,
    callers: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(x) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{x} needs a value"));
        match x.as_str() {
            "--module" | "-m" => a.modules.push(PathBuf::from(val()?)),
            "--config" => a.configs.push(val()?),
            "--requests" | "-n" => {
                a.requests = Some(val()?.parse().map_err(|_| "--requests: not a number")?)
            }
            "--json" => a.json = true,
            "--fuel" => a.fuel = true,
            "--callers" => a.callers = Some(val()?),
            "--samples" => a.samples = Some(val()?.parse().map_err(|_| "--samples: not a number")?),
            "--trace" => a.trace = Some(PathBuf::from(val()?)),
            "--top" => a.top = Some(val()?.parse().map_err(|_| "--top: not a number")?),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => a.positional.push(s.to_string()),
        }
    }
    Ok(a)
}

/// Runs the CLI with `args` (without the program name); returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let a = match parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return 2;
        }
    };
    let r = match cmd {
        "run" => run(&a),
        "bench" => bench(&a),
        "profile" => profile(&a),
        _ => Err(USAGE.to_string()),
    };
    r.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        2
    })
}

fn load(a: &Args) -> Result<(Scenario, PathBuf), String> {
    let p = a.positional.first().ok_or("missing SCENARIO.json")?;
    let p = Path::new(p);
    let s = Scenario::load(p).map_err(|e| e.to_string())?;
    let base = p.parent().unwrap_or(Path::new(".")).to_path_buf();
    Ok((s, base))
}

fn run(a: &Args) -> Result<i32, String> {
    let (s, base) = load(a)?;
    let (report, trace) = s
        .run_traced(&base, &a.modules, a.trace.is_some())
        .map_err(|e| e.to_string())?;
    if let (Some(path), Some(t)) = (&a.trace, trace) {
        std::fs::write(path, t).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print_report(&report);
    }
    Ok(if report.passed { 0 } else { 1 })
}

fn print_report(r: &Report) {
    for s in &r.steps {
        let status = s
            .outcome
            .as_ref()
            .map(|o| format!(" -> {}", o.status()))
            .unwrap_or_default();
        let mark = if s.failures.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!("{mark} step {} {}{status}", s.index, s.name);
        for f in &s.failures {
            println!("       {f}");
        }
    }
    let failed = r.steps.iter().filter(|s| !s.failures.is_empty()).count();
    println!(
        "{}: {} steps, {failed} failed",
        if r.passed { "PASSED" } else { "FAILED" },
        r.steps.len()
    );
}

#[derive(Serialize)]
struct FilterCost {
    name: String,
    fuel_per_request: u64,
    /// Fuel per request by the export the host called.
    fuel_per_request_by_export: std::collections::BTreeMap<String, u64>,
    wall_ns_per_request: u64,
    /// Linear memory after the run, bytes (summed over workers).
    memory_bytes: u64,
    /// How much linear memory grew during the measured requests (after the warm-up): above 0,
    /// the filter keeps something per request.
    memory_growth_bytes: u64,
}

#[derive(Serialize)]
struct BenchReport {
    requests: usize,
    filters: Vec<FilterCost>,
    request_wall_ns_mean: u64,
    request_wall_ns_p50: u64,
    request_wall_ns_p99: u64,
}

/// The gateway, request and response `bench` and `profile` repeat, warmed up.
fn bench_setup(a: &Args) -> Result<(Gateway, Request, Response), String> {
    let n = a.requests.unwrap_or(1000).max(1);
    let (mut gw, req, resp) = if a.positional.is_empty() {
        let mut h = Harness::new().any_cluster();
        for (i, m) in a.modules.iter().enumerate() {
            let mut f = FilterSpec::wasm(m);
            if let Some(c) = a.configs.get(i) {
                f = f.config(c.as_bytes());
            }
            h = h.filter(f);
        }
        let h = h.responder_any(|_| Some(CallReply::ok("ok")));
        let gw = h.build().map_err(|e| e.to_string())?;
        (gw, Request::get("/"), Response::ok())
    } else {
        let (s, base) = load(a)?;
        let gw = s
            .harness(&base, &a.modules, false)
            .map_err(|e| e.to_string())?
            .responder_any(|_| Some(CallReply::ok("ok")))
            .build()
            .map_err(|e| e.to_string())?;
        let step = s.steps.iter().find_map(|st| st.request.as_ref());
        let req = step.map_or(Request::get("/"), crate::scenario::request);
        (gw, req, Response::ok())
    };
    for _ in 0..10.min(n) {
        gw.request(req.clone())
            .respond_with(resp.clone())
            .map_err(|e| e.to_string())?;
    }
    Ok((gw, req, resp))
}

fn profile(a: &Args) -> Result<i32, String> {
    if a.fuel {
        return fuel_profile(a);
    }
    crate::sampler::enable();
    let n = a.requests.unwrap_or(2000).max(1);
    let (mut gw, req, resp) = bench_setup(a)?;
    let _ = crate::sampler::take();
    for _ in 0..n {
        gw.request(req.clone())
            .respond_with(resp.clone())
            .map_err(|e| e.to_string())?;
    }
    let samples = crate::sampler::take();
    if samples.total == 0 {
        return Err("no samples: the requests ran too briefly (raise --requests)".into());
    }
    println!("{} samples over {n} requests", samples.total);
    print_samples(&samples, a);
    Ok(0)
}

fn print_samples(samples: &crate::sampler::Samples, a: &Args) {
    let top = a.top.unwrap_or(40);
    if let Some(callee) = &a.callers {
        let pct = |k: u64| 100.0 * k as f64 / samples.total as f64;
        println!("{:>9}  caller -> function", "inclusive");
        for (f, caller, n) in samples.callers(callee).into_iter().take(top) {
            println!("{:>8.1}%  {caller} -> {f}", pct(n));
        }
        return;
    }
    let mut rows: Vec<_> = samples.functions.iter().collect();
    rows.sort_by(|x, y| {
        y.1 .1
            .cmp(&x.1 .1)
            .then(y.1 .0.cmp(&x.1 .0))
            .then(x.0.cmp(y.0))
    });
    let pct = |k: u64| 100.0 * k as f64 / samples.total as f64;
    println!("{:>9} {:>9}  function", "inclusive", "self");
    for (name, (own, incl)) in rows.into_iter().take(top) {
        println!("{:>8.1}% {:>8.1}%  {name}", pct(*incl), pct(*own));
    }
}

/// `profile --fuel`: the stack at evenly spaced fuel offsets into one request of the first
/// filter, each from a fresh gateway warmed up the same way.
fn fuel_profile(a: &Args) -> Result<i32, String> {
    let (mut gw, req, resp) = bench_setup(a)?;
    let name = gw
        .filter_names()
        .into_iter()
        .next()
        .ok_or("no filter to profile")?;
    let before = gw.fuel_used(&name);
    gw.request(req.clone())
        .respond_with(resp.clone())
        .map_err(|e| e.to_string())?;
    let per_request = gw.fuel_used(&name) - before;
    let n = a.samples.unwrap_or(400).clamp(1, 100_000) as u64;
    let mut samples = crate::sampler::Samples::default();
    for i in 0..n {
        let (mut gw, req, resp) = bench_setup(a)?;
        gw.stop_after_fuel(&name, (2 * i + 1) * per_request / (2 * n));
        // The stopped VM fails the request: that is the point.
        let _ = gw.request(req).respond_with(resp);
        if let Some(stack) = gw.take_stop(&name) {
            samples.add(&stack);
        }
    }
    if samples.total == 0 {
        return Err("no samples: the guest never ran out of fuel (no name section?)".into());
    }
    println!(
        "{} fuel per request in {name}; {} samples at exact fuel offsets (deterministic)",
        per_request, samples.total
    );
    print_samples(&samples, a);
    Ok(0)
}

fn bench(a: &Args) -> Result<i32, String> {
    let n = a.requests.unwrap_or(1000).max(1);
    let (mut gw, req, resp) = bench_setup(a)?;
    let names = gw.filter_names();
    let before: Vec<_> = names
        .iter()
        .map(|f| {
            let memory = gw.memory_bytes(f);
            (gw.fuel_used(f), gw.wall_ns(f), gw.fuel_by_export(f), memory)
        })
        .collect();
    let mut walls = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        gw.request(req.clone())
            .respond_with(resp.clone())
            .map_err(|e| e.to_string())?;
        walls.push(t0.elapsed().as_nanos() as u64);
    }
    walls.sort_unstable();
    let filters = names
        .iter()
        .zip(before)
        .map(|(f, (fuel, wall, by_export, memory))| {
            let memory_bytes = gw.memory_bytes(f);
            FilterCost {
                name: f.clone(),
                fuel_per_request: (gw.fuel_used(f) - fuel) / n as u64,
                fuel_per_request_by_export: gw
                    .fuel_by_export(f)
                    .into_iter()
                    .map(|(export, total)| {
                        let earlier = by_export.get(&export).copied().unwrap_or(0);
                        (export, (total - earlier) / n as u64)
                    })
                    .filter(|(_, fuel)| *fuel > 0)
                    .collect(),
                wall_ns_per_request: (gw.wall_ns(f) - wall) / n as u64,
                memory_bytes,
                memory_growth_bytes: memory_bytes.saturating_sub(memory),
            }
        })
        .collect();
    let r = BenchReport {
        requests: n,
        filters,
        request_wall_ns_mean: walls.iter().sum::<u64>() / n as u64,
        request_wall_ns_p50: walls[n / 2],
        request_wall_ns_p99: walls[(n * 99 / 100).min(n - 1)],
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
        );
    } else {
        println!("{} requests", r.requests);
        println!(
            "{:<24} {:>16} {:>16} {:>14} {:>14}",
            "filter", "fuel/request", "wall ns/request", "memory", "memory growth"
        );
        for f in &r.filters {
            println!(
                "{:<24} {:>16} {:>16} {:>14} {:>14}",
                f.name,
                f.fuel_per_request,
                f.wall_ns_per_request,
                f.memory_bytes,
                f.memory_growth_bytes
            );
            for (export, fuel) in &f.fuel_per_request_by_export {
                println!("  {export:<22} {fuel:>16}");
            }
        }
        println!(
            "request wall ns: mean {} p50 {} p99 {}",
            r.request_wall_ns_mean, r.request_wall_ns_p50, r.request_wall_ns_p99
        );
    }
    Ok(0)
}
