//! An in-memory [`Host`] for native tests of filter logic.
//!
//! State is per instance (no globals), so tests run in parallel. Several `FakeHost`s can share one
//! [`SharedStore`] to stand for the worker VMs of one Envoy process. The clock only moves when the
//! test moves it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::headers::HeaderMap;
use crate::host::{
    GrpcCall, HeaderKind, Host, HostError, HttpCall, MetricId, MetricKind, SharedValue,
};
use crate::signature::{NativeSignatures, SignatureCheck};

/// Shared data as Envoy keeps it: one map per vm_id, each value with a CAS token.
pub type SharedStore = Rc<RefCell<HashMap<String, SharedValue>>>;

/// A metric as recorded by the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMetric {
    /// Metric name.
    pub name: String,
    /// Kind.
    pub kind: MetricKind,
    /// Counter or gauge value.
    pub value: i64,
    /// Histogram samples.
    pub samples: Vec<u64>,
}

/// What a native signature check answers (see [`Host::verify_signature`]).
pub type SignatureCheckFn = dyn Fn(&SignatureCheck<'_>) -> Option<bool>;

/// A native signature checker standing for the host's.
#[derive(Clone)]
pub struct SignatureVerifier(pub Rc<SignatureCheckFn>);

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureVerifier")
    }
}

/// The fake host.
#[derive(Debug)]
pub struct FakeHost {
    /// Current time; tests set or advance it.
    pub now: SystemTime,
    /// Shared data, possibly shared with other fakes.
    pub shared: SharedStore,
    /// When set, the next this-many `set_shared` calls with a CAS fail with CAS_MISMATCH
    /// (simulating another worker writing in between).
    pub fail_next_cas: u32,
    /// Metrics in definition order.
    pub metrics: Vec<FakeMetric>,
    /// Callouts made, in order, with their tokens.
    pub calls: Vec<(u32, HttpCall)>,
    /// gRPC calls made, in order, with their tokens.
    pub grpc_calls: Vec<(u32, GrpcCall)>,
    /// Whether the host makes gRPC calls (default true; false answers UNIMPLEMENTED, as NGINX).
    pub grpc: bool,
    /// Clusters that exist; a callout to any other fails with BAD_ARGUMENT. Empty means any.
    pub clusters: Vec<String>,
    /// Properties by path joined with `.`.
    pub properties: HashMap<String, Vec<u8>>,
    /// Header maps readable through [`Host::header`].
    pub headers: HashMap<HeaderKind, HeaderMap>,
    /// Native signature checks; `None` (the default) is a host without them.
    pub signature_verifier: Option<SignatureVerifier>,
    /// What [`Host::native_signatures`] answers: `Offered` (Envoy) when a
    /// `signature_verifier` is set, else `Unknown`, unless a test sets it.
    pub native_signatures: Option<NativeSignatures>,
    /// How many signature checks were asked of the host.
    pub signature_checks: Cell<usize>,
    /// Whether a stream may join another context's callout (default true, as Envoy; false as
    /// ngx_wasm_module).
    pub joinable: bool,
    /// Callout tokens joined through [`Host::join_call`], in order.
    pub joined: Vec<u32>,
    next_token: u32,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHost {
    /// A fake at 2026-01-01T00:00:00Z with its own shared store.
    pub fn new() -> Self {
        Self::with_store(SharedStore::default())
    }

    /// A fake using `store` for shared data (one store per simulated Envoy process).
    pub fn with_store(store: SharedStore) -> Self {
        Self {
            now: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            shared: store,
            fail_next_cas: 0,
            metrics: Vec::new(),
            calls: Vec::new(),
            grpc_calls: Vec::new(),
            grpc: true,
            clusters: Vec::new(),
            properties: HashMap::new(),
            headers: HashMap::new(),
            signature_verifier: None,
            native_signatures: None,
            signature_checks: Cell::new(0),
            joinable: true,
            joined: Vec::new(),
            next_token: 0,
        }
    }

    /// Moves the clock forward (or backward, for a negative jump use `set_time`).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Sets the clock to `secs` after the Unix epoch.
    pub fn set_time(&mut self, secs: u64) {
        self.now = UNIX_EPOCH + Duration::from_secs(secs);
    }

    /// The value of a counter or gauge by name.
    pub fn metric(&self, name: &str) -> Option<i64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The samples of a histogram by name.
    pub fn samples(&self, name: &str) -> Option<&[u64]> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.samples.as_slice())
    }

    /// Sets a property (path joined with `.`).
    pub fn set_prop(&mut self, path: &str, value: impl Into<Vec<u8>>) {
        self.properties.insert(path.to_owned(), value.into());
    }
}

impl Host for FakeHost {
    fn now(&self) -> SystemTime {
        self.now
    }

    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError> {
        Ok(self.shared.borrow().get(key).cloned())
    }

    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        let mut store = self.shared.borrow_mut();
        let current = store.get(key).map(|v| v.cas);
        if let Some(cas) = cas {
            if self.fail_next_cas > 0 {
                self.fail_next_cas -= 1;
                return Err(HostError::CasMismatch);
            }
            if current.is_some_and(|c| c != cas) {
                return Err(HostError::CasMismatch);
            }
        }
        let next = current.unwrap_or(0).wrapping_add(1).max(1);
        store.insert(
            key.to_owned(),
            SharedValue {
                data: value.to_vec(),
                cas: next,
            },
        );
        Ok(())
    }

    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError> {
        if let Some(i) = self.metrics.iter().position(|m| m.name == name) {
            return Ok(MetricId(i as u32));
        }
        self.metrics.push(FakeMetric {
            name: name.to_owned(),
            kind,
            value: 0,
            samples: Vec::new(),
        });
        Ok(MetricId(self.metrics.len() as u32 - 1))
    }

    fn increment_metric(&mut self, id: MetricId, delta: i64) {
        if let Some(m) = self.metrics.get_mut(id.0 as usize) {
            // Envoy refuses non-positive counter increments.
            if m.kind == MetricKind::Counter && delta <= 0 {
                return;
            }
            m.value = m.value.saturating_add(delta);
        }
    }

    fn record_metric(&mut self, id: MetricId, value: u64) {
        if let Some(m) = self.metrics.get_mut(id.0 as usize) {
            match m.kind {
                MetricKind::Histogram => m.samples.push(value),
                _ => m.value = i64::try_from(value).unwrap_or(i64::MAX),
            }
        }
    }

    fn http_call(&mut self, call: &HttpCall) -> Result<u32, HostError> {
        let has = |n: &str| call.headers.iter().any(|(k, _)| k == n);
        if !(has(":method") && has(":path") && has(":authority")) {
            return Err(HostError::BadArgument);
        }
        if !self.clusters.is_empty() && !self.clusters.contains(&call.upstream) {
            return Err(HostError::BadArgument);
        }
        // Envoy's HTTP call tokens: 4, 8, 12, ...
        self.next_token += 4;
        self.calls.push((self.next_token, call.clone()));
        Ok(self.next_token)
    }

    fn join_call(&mut self, token: u32) -> bool {
        if self.joinable {
            self.joined.push(token);
        }
        self.joinable
    }

    fn grpc_call(&mut self, call: &GrpcCall) -> Result<u32, HostError> {
        if !self.grpc {
            return Err(HostError::UNIMPLEMENTED);
        }
        if !self.clusters.is_empty() && !self.clusters.contains(&call.upstream) {
            // Envoy: an unknown cluster is a PARSE_FAILURE.
            return Err(HostError::Status(4));
        }
        // Envoy's gRPC call tokens: 5, 9, 13, ...
        let token = 4 * u32::try_from(self.grpc_calls.len()).unwrap_or(0) + 5;
        self.grpc_calls.push((token, call.clone()));
        Ok(token)
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.properties.get(&path.join(".")).cloned()
    }

    fn set_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.properties.insert(path.join("."), value.to_vec());
        Ok(())
    }

    fn header(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        self.headers.get(&kind)?.get(name).map(<[u8]>::to_vec)
    }

    fn verify_signature(&self, check: &SignatureCheck<'_>) -> Option<bool> {
        self.signature_checks.set(self.signature_checks.get() + 1);
        (self.signature_verifier.as_ref()?.0)(check)
    }

    fn native_signatures(&self) -> NativeSignatures {
        self.native_signatures
            .unwrap_or(match self.signature_verifier {
                Some(_) => NativeSignatures::Offered,
                None => NativeSignatures::Unknown,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_data_cas_follows_envoy() {
        let store = SharedStore::default();
        let mut a = FakeHost::with_store(store.clone());
        let mut b = FakeHost::with_store(store);
        assert_eq!(a.get_shared("k").unwrap(), None);
        a.set_shared("k", b"1", None).unwrap();
        let v = b.get_shared("k").unwrap().unwrap();
        a.set_shared("k", b"2", Some(v.cas)).unwrap();
        assert_eq!(
            b.set_shared("k", b"3", Some(v.cas)),
            Err(HostError::CasMismatch)
        );
        assert_eq!(b.get_shared("k").unwrap().unwrap().data, b"2");
    }

    #[test]
    fn counters_refuse_non_positive_increments() {
        let mut h = FakeHost::new();
        let c = h.define_metric(MetricKind::Counter, "c").unwrap();
        let g = h.define_metric(MetricKind::Gauge, "g").unwrap();
        h.increment_metric(c, 2);
        h.increment_metric(c, -1);
        h.increment_metric(g, -3);
        assert_eq!(h.metric("c"), Some(2));
        assert_eq!(h.metric("g"), Some(-3));
        assert_eq!(h.define_metric(MetricKind::Counter, "c").unwrap(), c);
    }

    #[test]
    fn callouts_need_pseudo_headers_and_known_clusters() {
        let mut h = FakeHost::new();
        h.clusters = vec!["jwks".into()];
        let ok = HttpCall::get("jwks", "/keys", Duration::from_secs(1));
        assert_eq!(h.http_call(&ok), Ok(4));
        let mut unknown = ok.clone();
        unknown.upstream = "nope".into();
        assert_eq!(h.http_call(&unknown), Err(HostError::BadArgument));
        let mut bare = ok;
        bare.headers.retain(|(k, _)| k != ":authority");
        assert_eq!(h.http_call(&bare), Err(HostError::BadArgument));
    }
}
