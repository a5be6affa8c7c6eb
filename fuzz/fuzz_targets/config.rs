//! Configuration readers: every filter's plugin configuration (`Plugin::configure`: auth's
//! `Config::parse`, quota's, analytics' and routing's `config::parse`, then what `configure`
//! builds from it) and the bundle's `gateway` root (`Chain`), each fed the same bytes.
//!
//! Asserts: a refused configuration names a field path and a message (`invalid configuration at
//! `path`: ...`), the same on a second try; an accepted one configures a plugin that runs a
//! request through its stream without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use gateway_fuzz::configure_and_run as run;
    run::<filter_auth::AuthPlugin>(data);
    run::<filter_quota::QuotaPlugin>(data);
    run::<filter_analytics::AnalyticsPlugin>(data);
    run::<filter_routing::RoutingPlugin>(data);
    run::<filter_bundle::GatewayPlugin>(data);
});
