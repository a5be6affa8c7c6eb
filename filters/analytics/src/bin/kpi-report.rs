//! `kpi-report`: see the crate README.
fn main() {}
