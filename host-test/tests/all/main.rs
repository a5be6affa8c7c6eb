//! host-test's own tests: one integration binary driving guest modules built from
//! `host-test/guests/*` (each built once per process).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod features;
mod guests;
mod lifecycle;
mod loading;
mod nginx;
mod raw;
mod stream;
mod trace;
