//! The routing filter (not yet implemented).
