//! host-test (not yet implemented).
