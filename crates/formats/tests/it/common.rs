//! Shared helpers for the integration tests: fixture loading (from the
//! workspace's test kit).

#![allow(unused_imports)]

/// The bytes of `../shared/fixtures/<rel>` as served, unchanged.
pub use rexist_testkit::fixture_bytes as fixture;
