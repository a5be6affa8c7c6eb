//! The quota filter (in progress).

pub mod limit;
pub mod window;
