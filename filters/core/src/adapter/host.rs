//! [`Host`] implemented with proxy-wasm hostcalls. Calls act on the current effective context.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::raw;
use crate::headers::HeaderMap;
use crate::host::{
    GrpcCall, HeaderKind, Host, HostError, HttpCall, MetricId, MetricKind, SharedValue,
};
use crate::signature::{self, NativeSignatures, SignatureCheck};

thread_local! {
    /// What this VM's host showed about `verify_signature`, once asked (see
    /// [`Host::native_signatures`]): the host does not change under a VM.
    static NATIVE_SIGNATURES: std::cell::Cell<Option<NativeSignatures>> =
        const { std::cell::Cell::new(None) };
}

/// The proxy-wasm host, made anew for each callback.
///
/// The time is read from the host once per callback and reused: a chain of filters in one
/// callback sees one instant, and pays one host call for it.
#[derive(Debug, Default)]
pub struct WasmHost {
    now: std::cell::Cell<Option<SystemTime>>,
}

/// Reads a whole header map; a map that does not exist in this phase, or a malformed one, is empty.
pub fn read_headers(map: u32) -> HeaderMap {
    let bytes = match raw::header_pairs(map) {
        Ok(bytes) => bytes,
        Err(e) => {
            log::debug!("header map {map} unavailable: {e}");
            return HeaderMap::default();
        }
    };
    match HeaderMap::from_wire(bytes) {
        Some(map) => map,
        None => {
            log::warn!("host returned a malformed header map {map}");
            HeaderMap::default()
        }
    }
}

fn map_type(kind: HeaderKind) -> u32 {
    match kind {
        HeaderKind::Request => raw::REQUEST_HEADERS,
        HeaderKind::RequestTrailers => raw::REQUEST_TRAILERS,
        HeaderKind::Response => raw::RESPONSE_HEADERS,
        HeaderKind::ResponseTrailers => raw::RESPONSE_TRAILERS,
    }
}

impl Host for WasmHost {
    fn now(&self) -> SystemTime {
        if let Some(now) = self.now.get() {
            return now;
        }
        let now = match raw::now_nanos() {
            Ok(ns) => UNIX_EPOCH + Duration::from_nanos(ns),
            Err(_) => UNIX_EPOCH,
        };
        self.now.set(Some(now));
        now
    }

    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError> {
        Ok(raw::get_shared(key)?.map(|(data, cas)| SharedValue { data, cas }))
    }

    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        raw::set_shared(key, value, cas.unwrap_or(0))
    }

    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError> {
        let kind = match kind {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Histogram => 2,
        };
        raw::define_metric(kind, name).map(MetricId)
    }

    fn increment_metric(&mut self, id: MetricId, delta: i64) {
        if let Err(e) = raw::increment_metric(id.0, delta) {
            log::debug!("increment of metric {} failed: {e}", id.0);
        }
    }

    fn record_metric(&mut self, id: MetricId, value: u64) {
        if let Err(e) = raw::record_metric(id.0, value) {
            log::debug!("record of metric {} failed: {e}", id.0);
        }
    }

    fn http_call(&mut self, call: &HttpCall) -> Result<u32, HostError> {
        let headers: Vec<(&str, &str)> = call
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = (!call.body.is_empty()).then_some(call.body.as_slice());
        // The SDK's dispatch registers the token with its dispatcher so the response reaches the
        // calling context; it maps BAD_ARGUMENT and INTERNAL_FAILURE to errors.
        let token = proxy_wasm::hostcalls::dispatch_http_call(
            &call.upstream,
            headers,
            body,
            Vec::new(),
            call.timeout,
        )
        .map_err(|status| HostError::from_status(status as u32))?;
        super::joins::made(token, call.max_response_bytes);
        Ok(token)
    }

    fn join_call(&mut self, token: u32) -> bool {
        super::joins::join(token)
    }

    fn grpc_call(&mut self, call: &GrpcCall) -> Result<u32, HostError> {
        // The SDK's dispatch registers the token so the answer reaches this context, but panics
        // on any status but OK, PARSE_FAILURE and INTERNAL_FAILURE. ngx_wasm_module does not
        // implement gRPC calls (the call traps and fails the request): on such hosts the quota
        // filter's global store takes `"protocol": "http"`.
        let token = proxy_wasm::hostcalls::dispatch_grpc_call(
            &call.upstream,
            &call.service,
            &call.method,
            Vec::new(),
            Some(&call.message),
            call.timeout,
        )
        .map_err(|status| HostError::from_status(status as u32))?;
        super::joins::made(token, HttpCall::MAX_RESPONSE_BYTES);
        Ok(token)
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        with_path(path, |p| raw::get_property(p).ok().flatten())
    }

    fn set_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        with_path(path, |p| raw::set_property(p, value))
    }

    fn header(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        raw::header_value(map_type(kind), name).ok().flatten()
    }

    fn native_signatures(&self) -> NativeSignatures {
        NATIVE_SIGNATURES.with(|known| {
            if let Some(known) = known.get() {
                return known;
            }
            let found = NativeSignatures::detect(|path| with_path(path, raw::get_property));
            log::debug!("native signature checks: {found:?}");
            known.set(Some(found));
            found
        })
    }

    fn verify_signature(&self, check: &SignatureCheck<'_>) -> Option<bool> {
        let arguments = signature::encode_arguments(check);
        match raw::call_foreign(signature::FOREIGN_FUNCTION, &arguments) {
            Ok(result) => signature::decode_result(&result),
            Err(e) => {
                log::debug!("host signature check unavailable: {e}");
                None
            }
        }
    }
}

/// Calls `f` with a property path as the ABI takes it (segments joined by NUL), written on the
/// stack when it fits (paths are short and read on every request).
fn with_path<R>(path: &[&str], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 128];
    let len = path
        .iter()
        .map(|s| s.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if len > buf.len() {
        return f(path.join("\0").as_bytes());
    }
    let mut at = 0;
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            at += 1; // the NUL separator, already in `buf`
        }
        if let Some(dst) = buf.get_mut(at..at + segment.len()) {
            dst.copy_from_slice(segment.as_bytes());
        }
        at += segment.len();
    }
    f(buf.get(..len).unwrap_or_default())
}
