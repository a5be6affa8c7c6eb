//! The quota filter (in progress).

pub mod admission;
pub mod codec;
pub mod limit;
pub mod store;
pub mod window;
