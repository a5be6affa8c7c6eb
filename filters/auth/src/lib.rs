//! The auth filter (not yet implemented).
