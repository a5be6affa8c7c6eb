//! The quota filter (not yet implemented).
