//! The filter: [`RoutingPlugin`] (validated configuration and metrics, per VM) and
//! [`RoutingStream`] (per request).
//!
//! On request headers: remove client copies of the output headers, check the request target,
//! resolve the version, apply an allowed override or a canary split, refuse retired versions,
//! then set the version and cluster headers (Envoy re-selects the route through its
//! `cluster_header`) and optionally strip the version segment from `:path`. On response
//! headers: add the version's lifecycle headers and the sticky cookie if one was minted.

use std::cell::Cell;
use std::rc::Rc;
use std::time::SystemTime;

use filter_core::{ConfigError, Decision, HeaderMap, Host, Plugin, Stream};

use crate::canary;
use crate::config::{Config, FULL};
use crate::metrics::Metrics;
use crate::resolve::{resolve, Refusal, MAX_VALUE_LEN};
use crate::sticky::{self, StickyKey};
use crate::target;
use crate::version::is_version_token;

/// Per-VM state.
#[derive(Debug)]
pub struct RoutingPlugin {
    /// The validated configuration.
    pub config: Config,
    metrics: Metrics,
    minted: Cell<u64>,
}

/// Per-request state.
#[derive(Debug)]
pub struct RoutingStream {
    plugin: Rc<RoutingPlugin>,
    /// The version the request was forwarded to.
    version: Option<usize>,
    /// A `Set-Cookie` value to add to the response.
    set_cookie: Option<String>,
}

/// What the request phase decided for a forwarded request.
struct Route {
    /// The version, known to have a cluster.
    version: usize,
    path: Option<String>,
}

impl Plugin for RoutingPlugin {
    const NAME: &'static str = "routing";
    type Stream = RoutingStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        let config = crate::config::parse(config)?;
        let metrics = Metrics::define(host, config.versions.iter().map(|v| v.name.as_str()));
        Ok(Self {
            config,
            metrics,
            minted: Cell::new(0),
        })
    }

    fn new_stream(plugin: &Rc<Self>) -> RoutingStream {
        RoutingStream {
            plugin: Rc::clone(plugin),
            version: None,
            set_cookie: None,
        }
    }
}

// === impl RoutingStream ===

impl Stream for RoutingStream {
    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        _end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let plugin = Rc::clone(&self.plugin);
        let config = &plugin.config;
        headers.remove(&config.cluster_header);
        headers.remove(&config.version_header);
        let now = host.now();
        match self.route(headers, now, host) {
            Ok(route) => {
                if let Some(v) = config.versions.get(route.version) {
                    headers.set(&config.version_header, v.name.as_str());
                    if let Some(cluster) = &v.cluster {
                        headers.set(&config.cluster_header, cluster.as_str());
                    }
                }
                if let Some(path) = route.path {
                    headers.set(":path", path);
                }
                plugin.metrics.request(host, route.version);
                self.version = Some(route.version);
                Decision::Continue
            }
            Err(refusal) => {
                if let Refusal::Retired(i) = refusal {
                    plugin.metrics.request(host, i);
                }
                plugin.metrics.rejected(host, refusal.reason());
                self.set_cookie = None;
                Decision::Respond(refusal.reply(config, now))
            }
        }
    }

    fn reads_response_headers(&self) -> bool {
        // Only replacing an upstream's own lifecycle headers needs to see them.
        self.version
            .and_then(|i| self.plugin.config.versions.get(i))
            .is_some_and(|v| {
                v.response_headers
                    .iter()
                    .any(|(n, _)| *n == "deprecation" || *n == "sunset")
            })
    }

    fn on_response_headers(
        &mut self,
        headers: &mut HeaderMap,
        _end_of_stream: bool,
        _host: &mut dyn Host,
    ) -> Decision {
        let Some(i) = self.version else {
            return Decision::Continue;
        };
        if let Some(v) = self.plugin.config.versions.get(i) {
            // Replace an upstream's own lifecycle headers; keep its other links.
            for name in ["deprecation", "sunset"] {
                if v.response_headers.iter().any(|(n, _)| *n == name) {
                    headers.remove(name);
                }
            }
            for (name, value) in &v.response_headers {
                headers.add(name, value.as_str());
            }
        }
        if let Some(cookie) = self.set_cookie.take() {
            headers.add("set-cookie", cookie);
        }
        Decision::Continue
    }
}

impl RoutingStream {
    fn route(
        &mut self,
        headers: &mut HeaderMap,
        now: SystemTime,
        host: &mut dyn Host,
    ) -> Result<Route, Refusal> {
        let plugin = Rc::clone(&self.plugin);
        let config = &plugin.config;
        let raw_path = headers.path().map(<[u8]>::to_vec);
        let target = target::parse(raw_path.as_deref(), config.max_path_bytes)?;
        let resolved = resolve(config, &target, headers)?;
        let mut version = resolved.version;

        let forced = self.override_version(headers, host)?;
        if let Some(v) = forced {
            if resolved.in_path && !config.strip_prefix && v != resolved.version {
                return Err(Refusal::ConflictingVersions);
            }
            version = v;
        } else if config.is_retired(version, now) {
            // A retired version is not split: its clients learn it is gone.
            return Err(Refusal::Retired(version));
        } else if let Some(c) = config
            .canaries
            .iter()
            .find(|c| c.from == version && (c.explicit || !resolved.explicit))
        {
            let share = canary::share(&c.weight, now);
            if !config.is_retired(c.to, now) && share > 0 {
                let key = if share < FULL {
                    self.sticky_key(headers, now, host)
                } else {
                    None
                };
                if canary::diverts(&c.salt, key.as_ref(), share) {
                    version = c.to;
                    plugin.metrics.diverted(host, version);
                }
            }
        }

        if config
            .versions
            .get(version)
            .is_none_or(|v| v.cluster.is_none())
        {
            return Err(Refusal::Retired(version));
        }
        if config.is_retired(version, now) {
            return Err(Refusal::Retired(version));
        }
        let path =
            (resolved.in_path && config.strip_prefix).then(|| target.without_first_segment());
        if let Some(p) = &path {
            // What the upstream sees must pass the same checks (`/v1/;p=1` -> `/;p=1` does not).
            target::parse(Some(p.as_bytes()), config.max_path_bytes)?;
        }
        Ok(Route { version, path })
    }

    /// The version forced by the override header, when the caller is in an allowed group.
    /// The header is removed either way.
    fn override_version(
        &self,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Result<Option<usize>, Refusal> {
        let config = &self.plugin.config;
        let Some(o) = &config.override_ else {
            return Ok(None);
        };
        if !headers.contains(&o.header) {
            return Ok(None);
        }
        let allowed = headers.get_all(&config.groups_header).any(|value| {
            std::str::from_utf8(value).is_ok_and(|s| {
                s.split(',')
                    .any(|g| o.groups.iter().any(|a| a.as_str() == g.trim()))
            })
        });
        let count = headers.count(&o.header);
        let value = headers
            .get(&o.header)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        headers.remove(&o.header);
        if !allowed {
            self.plugin.metrics.override_ignored(host);
            return Ok(None);
        }
        let name = std::str::from_utf8(&value)
            .ok()
            .map(|s| s.trim_matches([' ', '\t']))
            .filter(|s| count == 1 && s.len() <= MAX_VALUE_LEN && is_version_token(s));
        let v = name
            .and_then(|s| config.find(s))
            .ok_or(Refusal::InvalidOverride)?;
        self.plugin.metrics.override_used(host);
        Ok(Some(v))
    }

    /// The client's sticky key ([`sticky::key`]); a minted one is set as a cookie on the
    /// response.
    fn sticky_key(
        &mut self,
        headers: &HeaderMap,
        now: SystemTime,
        host: &mut dyn Host,
    ) -> Option<StickyKey> {
        let plugin = &self.plugin;
        let key = sticky::key(&plugin.config, headers, now, &plugin.minted)?;
        if let (StickyKey::Minted(k), Some(cookie)) = (&key, &plugin.config.cookie) {
            self.set_cookie = Some(sticky::set_cookie(cookie, k));
            plugin.metrics.cookie_issued(host);
        }
        Some(key)
    }
}

#[cfg(test)]
mod tests;
