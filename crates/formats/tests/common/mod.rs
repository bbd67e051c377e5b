//! Shared helpers for the integration tests: fixture loading.

#![allow(dead_code)]

use std::path::PathBuf;

/// The bytes of `../shared/fixtures/<rel>` as served, unchanged.
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
