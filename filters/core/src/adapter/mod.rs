//! The generic proxy-wasm adapter (in progress).
