//! [`Headers`]: an ordered header map with lowercase keys, as Envoy keeps one (request and
//! response headers and trailers, callout headers, gRPC metadata, local-reply headers).

use serde::{Deserialize, Serialize};

/// An ordered header map with lowercase keys, as Envoy keeps it (repeated keys allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }
    /// Builds a map from pairs; keys are lowercased.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Self {
        let mut h = Self::new();
        for (k, v) in pairs {
            h.add(k.as_ref(), v.as_ref());
        }
        h
    }
    /// The first value of `key` (case-insensitive), as Envoy's `get_header_map_value` gives.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        let key = key.to_ascii_lowercase();
        self.0
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Appends a value (Envoy's `addCopy`).
    pub fn add(&mut self, key: &str, value: &str) {
        self.0.push((key.to_ascii_lowercase(), value.to_string()));
    }
    /// Replaces the first value in place and drops the others, or appends (Envoy's `setCopy`).
    pub fn set(&mut self, key: &str, value: &str) {
        let key = key.to_ascii_lowercase();
        match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                self.0[i].1 = value.to_string();
                let mut n = 0;
                self.0.retain(|(k, _)| {
                    let keep = *k != key || n == i;
                    n += 1;
                    keep
                });
            }
            None => self.0.push((key, value.to_string())),
        }
    }
    /// Removes every value of `key`.
    pub fn remove(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.0.retain(|(k, _)| *k != key);
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Envoy's `byteSize()`: the sum of key and value lengths.
    pub fn byte_size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}
