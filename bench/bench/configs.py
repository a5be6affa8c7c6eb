"""Envoy's YAML for each case: the gateway under test, with the case's filters before its router,
and the upstream answering every request.
"""

from __future__ import annotations

import json

from bench.cases import AUDIENCE, DIST, ISSUER, RLS_CLUSTER, Filters, NativeChain, Wasm


def wasm_filter(f: Wasm) -> str:
    """One wasm filter entry; `f.module` is a file in dist/ or an absolute path."""
    value = json.dumps(json.dumps(f.config, separators=(",", ":")))
    return f"""
          - name: bench.{f.name}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: {f.name}
                root_id: {f.root_id}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {value}
                vm_config:
                  vm_id: bench-{f.name}
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {DIST / f.module}}}}}"""


def native_chain(chain: NativeChain) -> str:
    jwks = json.dumps(json.dumps(chain.jwks))
    return f"""
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                bench:
                  issuer: {ISSUER}
                  audiences: [{AUDIENCE}]
                  local_jwks: {{inline_string: {jwks}}}
                  forward: false
              rules:
              - match: {{prefix: /}}
                requires: {{provider_name: bench}}
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: bench
              token_bucket: {{max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s}}
              filter_enabled: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}
              filter_enforced: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}
              enable_x_ratelimit_headers: DRAFT_VERSION_03"""


def http_filters(filters: Filters) -> str:
    """A case's filters as entries of http_filters."""
    return "".join(wasm_filter(f) if isinstance(f, Wasm) else native_chain(f) for f in filters)


def gateway_yaml(listen: int, admin: int, upstream: int, filters: Filters, rls: int | None = None) -> str:
    """The gateway under test, running `filters` before its router; with `rls`, also the rate limit
    service's cluster (HTTP/2 for gRPC) at that port."""
    clusters = "".join(
        f"""
  - name: {name}
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: {name}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]"""
        for name in ("api_v1", "api_v2", "collector")
    )
    if rls is not None:
        clusters += f"""
  - name: {RLS_CLUSTER}
    type: STATIC
    connect_timeout: 0.25s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: {RLS_CLUSTER}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {rls}}}}}}}}}]}}]"""
    return f"""admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: bench
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: api
              domains: ["*"]
              routes:
              - match:
                  prefix: "/"
                  headers: [{{name: x-gateway-cluster, string_match: {{safe_regex: {{regex: "api_[a-z0-9_]+"}}}}}}]
                route: {{cluster_header: x-gateway-cluster}}
              - match: {{prefix: "/"}}
                route: {{cluster: api_v1}}
          http_filters:{http_filters(filters)}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:{clusters}
"""


def upstream_yaml(listen: int, admin: int) -> str:
    return f"""admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: upstream
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""
