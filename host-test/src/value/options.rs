//! What a test chooses about the gateway besides its filters: the host imitated
//! ([`HostProfile`]), the HTTP codec ([`Protocol`]) and a filter's failure policy
//! ([`FailurePolicy`]).

use serde::{Deserialize, Serialize};

/// Which host the harness imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostProfile {
    /// Envoy 1.40 (default).
    #[default]
    Envoy,
    /// Kong's ngx_wasm_module, as abi.md describes its differences: properties are strings
    /// (`response.code_details`, `.flags`, `.grpc_status`, `.trailers` missing), `http_call`
    /// takes `host:port` and reports failures in a `:dispatch_status` response header, no
    /// gRPC (UNIMPLEMENTED), no `on_queue_ready`, request trailers not given to filters,
    /// metric names prefixed `pw:<filter>:`.
    Nginx,
}

/// The HTTP codec between the gateway and the client and between the gateway and the upstream
/// (both sides use the same one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (default), as Envoy's HTTP/1 codec delivers a message: header values without
    /// leading or trailing whitespace, and a body that ends with the message (content-length or
    /// last chunk) reaches the filters as its data (end_of_stream false) and then an empty
    /// end_of_stream callback.
    #[default]
    Http11,
    /// HTTP/2: the last DATA frame carries END_STREAM, so the last body chunk arrives with
    /// end_of_stream true in one callback; header values are passed as given.
    Http2,
}

impl Protocol {
    /// `request.protocol` as Envoy names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http11 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }
}

/// What happens to streams once a filter's VM has trapped (Envoy 1.40 `failure_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailurePolicy {
    /// Every request through the failed VM gets a 503 local reply (Envoy's default).
    #[default]
    FailClosed,
    /// The failed filter is skipped.
    FailOpen,
    /// The VM is recreated on the next request once 1 s (virtual) has passed; 503 before.
    FailReload,
}
