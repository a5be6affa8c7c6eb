//! `kpi-report`: prints a KPI report of collected usage events and optionally writes an SVG
//! chart. See `kpi-report --help` and the crate README.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use filter_analytics::report::{run, Options};
    match Options::parse(std::env::args().skip(1)).and_then(|o| run(&o)) {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kpi-report: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The report is a native tool; the wasm build of the crate only needs the filter.
#[cfg(target_arch = "wasm32")]
fn main() {}
