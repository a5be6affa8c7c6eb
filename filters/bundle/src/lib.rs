//! The bundle: the four gateway filters in one module (`filter_bundle.wasm`).
//!
//! The plugin's `root_id` selects what runs:
//!
//! | root_id | plugin | configuration |
//! |---|---|---|
//! | `auth`, `quota`, `analytics`, `routing` | that filter alone | the filter's own |
//! | `gateway` | the whole chain in one filter context | `{"auth": {...}, "quota": {...}, "analytics": {...}, "routing": {...}}`, each member optional |
//!
//! The `gateway` root runs auth, then quota, then analytics, then routing (responses in reverse),
//! exactly as the four separate filters would, but with one VM per worker instead of four, and
//! one crossing of the host boundary per callback instead of four. Identity still travels in the
//! `x-gateway-*` headers, so each member behaves as it does alone.
//!
//! A host without root ids (ngx_wasm_module, whose `plugin_root_id` is `"0"`) runs the `gateway`
//! root; to run one filter alone there, load that filter's own module.

use filter_core::chain::{factory, Chain, ChainSpec, Factory};

pub use filter_analytics::AnalyticsPlugin;
pub use filter_auth::AuthPlugin;
pub use filter_quota::QuotaPlugin;
pub use filter_routing::RoutingPlugin;

/// The gateway chain: auth, quota, analytics, routing.
pub struct Gateway;

impl ChainSpec for Gateway {
    const NAME: &'static str = "gateway";
    const MEMBERS: &'static [(&'static str, Factory)] = &[
        ("auth", factory::<AuthPlugin>),
        ("quota", factory::<QuotaPlugin>),
        ("analytics", factory::<AnalyticsPlugin>),
        ("routing", factory::<RoutingPlugin>),
    ];
}

/// The `gateway` root's plugin.
pub type GatewayPlugin = Chain<Gateway>;

#[cfg(target_arch = "wasm32")]
// The first root is the one a host without root ids (ngx_wasm_module) runs: the whole chain.
filter_core::export_plugins! {
    "gateway" => GatewayPlugin,
    "auth" => AuthPlugin,
    "quota" => QuotaPlugin,
    "analytics" => AnalyticsPlugin,
    "routing" => RoutingPlugin,
}
