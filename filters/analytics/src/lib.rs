//! The analytics filter (not yet implemented).
