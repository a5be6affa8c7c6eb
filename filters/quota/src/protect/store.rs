//! The partitions' states in shared data: one value per partition (all its counts under one CAS),
//! updated by read-modify-write. Keys are `protect/1/<api>/<version or ->/<consumer or ->`, built
//! from configured names only, so their number is bounded by the configuration.
//!
//! A missing key is created empty with the quota store's insert-if-absent create, then re-read;
//! a corrupt value is read as a fresh state and replaced under its cas.

use filter_core::Host;

use super::machine::{decode, encode, State};
use crate::store::{CounterStore, SharedData, StoreError};

/// Store events, turned into metrics by the filter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// CAS conflicts retried.
    pub conflicts: u64,
    /// Corrupt values read as fresh.
    pub corrupt_resets: u64,
}

/// Why an update was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateError {
    /// The host failed.
    Store(StoreError),
    /// Every attempt met another worker's write.
    Exhausted,
}

/// The typed store of partition states.
#[derive(Debug, Clone, Copy)]
pub struct States {
    /// Attempts per update.
    pub max_attempts: u32,
}

impl States {
    /// Applies `f` to the state under `key` and writes the result, retrying on CAS conflicts
    /// (each attempt runs `f` afresh on the value it replaces). Returns `f`'s result.
    pub fn update<R>(
        &self,
        host: &mut dyn Host,
        key: &str,
        stats: &mut Stats,
        mut f: impl FnMut(&mut State) -> R,
    ) -> Result<R, UpdateError> {
        let store = SharedData;
        // One more round than attempts: creating a missing key takes one.
        for _ in 0..=self.max_attempts.max(1) {
            let Some(stored) = store.load(host, key).map_err(UpdateError::Store)? else {
                // Insert-if-absent, then read what is there.
                store
                    .create(host, key, &encode(&State::default()))
                    .map_err(UpdateError::Store)?;
                continue;
            };
            let mut state = match decode(&stored.data) {
                Some(s) => s,
                None => {
                    stats.corrupt_resets += 1;
                    State::default()
                }
            };
            let result = f(&mut state);
            if store
                .replace(host, key, &encode(&state), stored.version)
                .map_err(UpdateError::Store)?
            {
                return Ok(result);
            }
            stats.conflicts += 1;
        }
        Err(UpdateError::Exhausted)
    }

    /// The state under `key` (fresh if missing or corrupt), without writing.
    pub fn read(&self, host: &mut dyn Host, key: &str) -> State {
        SharedData
            .load(host, key)
            .ok()
            .flatten()
            .and_then(|s| decode(&s.data))
            .unwrap_or_default()
    }
}

/// The shared-data key of a partition.
pub fn key(api: &str, version: Option<&str>, consumer: Option<&str>) -> String {
    [
        "protect/1/",
        api,
        "/",
        version.unwrap_or("-"),
        "/",
        consumer.unwrap_or("-"),
    ]
    .concat()
}
