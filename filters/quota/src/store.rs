//! The counter store port and its shared-data implementation.
//!
//! [`CounterStore`] is the only way the filter reaches stored counters: load a value with its
//! version, create it if absent, replace it if the version is unchanged. Everything above it
//! (read-modify-write loops, multi-limit admission) is written against the trait, so another
//! store (for example one shared by several Envoy instances) can be added without touching the
//! rest. The trait is synchronous; a remote store would implement it over a local replica or
//! need an asynchronous variant of the same three operations.
//!
//! [`SharedData`] keeps counters in proxy-wasm shared data, which is shared by every worker VM of
//! one Envoy process with the same vm_id.
//!
//! # Creating a missing key
//!
//! A missing key has no CAS, and a write with cas 0 always wins, so two workers that both see the
//! key missing and both write it can lose an update. Envoy's shared data (proxy-wasm-cpp-host
//! `SharedData::set`) checks a non-zero cas only against an *existing* key and inserts a missing
//! one whatever the cas. [`SharedData::create`] therefore writes with a cas that no live value
//! carries ([`CREATE_CAS`], `u32::MAX`): if the key is missing the write inserts it, and if
//! another worker created it in the meantime the write fails with CAS_MISMATCH instead of
//! overwriting it, which makes create an insert-if-absent. It only ever writes the empty counter,
//! never a charge, and callers re-read after it, so losing the race is harmless and counted.
//! ngx_wasm_module checks every cas, with 0 standing for a missing key: there the first write
//! fails, the key is read, and a write with cas 0 inserts it if it is still missing.
//! The one residual case is a key whose current cas is exactly `u32::MAX` (Envoy's cas counter is
//! process-wide and reaches that value once every 2^32 writes) created in the microseconds between
//! a worker's read and its create; that is documented, not handled.

use filter_core::{Host, HostError};

/// The cas passed when creating a key: a value that no existing key should carry.
pub const CREATE_CAS: u32 = u32::MAX;

/// A stored value and its version (the CAS token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The encoded counter.
    pub data: Vec<u8>,
    /// The version to pass to [`CounterStore::replace`].
    pub version: u32,
}

/// The store misbehaved (a host status other than OK, NOT_FOUND or CAS_MISMATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A host call failed.
    #[error("counter store failed: {0}")]
    Host(HostError),
    /// The host returned a value without a usable version.
    #[error("counter store returned version 0")]
    NoVersion,
}

/// Versioned storage of counters.
pub trait CounterStore {
    /// The value under `key` and its version; `None` if the key does not exist.
    fn load(&self, host: &mut dyn Host, key: &str) -> Result<Option<Stored>, StoreError>;

    /// Stores `value` under `key` only if the key does not exist. Returns whether this call
    /// created it (false: it exists already, and nothing was written).
    fn create(&self, host: &mut dyn Host, key: &str, value: &[u8]) -> Result<bool, StoreError>;

    /// Replaces the value under `key` if its version is still `version`. Returns false (nothing
    /// written) if it changed.
    fn replace(
        &self,
        host: &mut dyn Host,
        key: &str,
        value: &[u8],
        version: u32,
    ) -> Result<bool, StoreError>;
}

/// Counters in proxy-wasm shared data.
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedData;

impl CounterStore for SharedData {
    fn load(&self, host: &mut dyn Host, key: &str) -> Result<Option<Stored>, StoreError> {
        match host.get_shared(key) {
            Ok(Some(v)) if v.cas == 0 => Err(StoreError::NoVersion),
            Ok(Some(v)) => Ok(Some(Stored {
                data: v.data,
                version: v.cas,
            })),
            Ok(None) | Err(HostError::NotFound) => Ok(None),
            Err(e) => Err(StoreError::Host(e)),
        }
    }

    fn create(&self, host: &mut dyn Host, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        match host.set_shared(key, value, Some(CREATE_CAS)) {
            Ok(()) => Ok(true),
            Err(HostError::CasMismatch) => {
                // On Envoy the key exists. ngx_wasm_module checks every cas, 0 for a missing key:
                // there the key may be missing, and a cas of 0 inserts it only if it still is.
                if self.load(host, key)?.is_some() {
                    return Ok(false);
                }
                match host.set_shared(key, value, Some(0)) {
                    Ok(()) => Ok(true),
                    Err(HostError::CasMismatch) => Ok(false),
                    Err(e) => Err(StoreError::Host(e)),
                }
            }
            Err(e) => Err(StoreError::Host(e)),
        }
    }

    fn replace(
        &self,
        host: &mut dyn Host,
        key: &str,
        value: &[u8],
        version: u32,
    ) -> Result<bool, StoreError> {
        if version == 0 {
            // Some(0) would be a blind write.
            return Err(StoreError::NoVersion);
        }
        match host.set_shared(key, value, Some(version)) {
            Ok(()) => Ok(true),
            Err(HostError::CasMismatch) => Ok(false),
            Err(e) => Err(StoreError::Host(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filter_core::fake::SharedStore;
    use filter_core::FakeHost;

    #[test]
    fn create_is_insert_if_absent() {
        let store = SharedStore::default();
        let mut a = FakeHost::with_store(store.clone());
        let mut b = FakeHost::with_store(store);
        assert_eq!(SharedData.load(&mut a, "k"), Ok(None), "missing key");
        assert_eq!(SharedData.create(&mut a, "k", b"1"), Ok(true), "a creates");
        assert_eq!(
            SharedData.create(&mut b, "k", b"2"),
            Ok(false),
            "b's late create does not overwrite"
        );
        let v = SharedData.load(&mut b, "k").unwrap().unwrap();
        assert_eq!(v.data, b"1");
        assert_eq!(SharedData.replace(&mut b, "k", b"3", v.version), Ok(true));
        assert_eq!(
            SharedData.replace(&mut a, "k", b"4", v.version),
            Ok(false),
            "stale version"
        );
        assert_eq!(
            SharedData.replace(&mut a, "k", b"4", 0),
            Err(StoreError::NoVersion),
            "never a blind write"
        );
    }

    /// Why create is not a plain write: a worker that saw the key missing and writes blindly
    /// erases whatever another worker stored in between; the insert-if-absent create does not.
    #[test]
    fn a_blind_create_would_lose_an_update() {
        let store = SharedStore::default();
        let mut a = FakeHost::with_store(store.clone());
        let mut b = FakeHost::with_store(store.clone());
        assert_eq!(
            SharedData.load(&mut a, "k"),
            Ok(None),
            "a sees the key missing"
        );
        b.set_shared("k", b"charged by b", None).unwrap();
        a.set_shared("k", b"empty", None).unwrap();
        assert_eq!(store.borrow()["k"].data, b"empty", "b's charge is gone");

        b.set_shared("j", b"charged by b", None).unwrap();
        assert_eq!(SharedData.create(&mut a, "j", b"empty"), Ok(false));
        assert_eq!(
            store.borrow()["j"].data,
            b"charged by b",
            "b's charge survives"
        );
    }
}
