//! The formats crate's integration tests, in one binary: each test file used to
//! link the whole dependency tree on its own, which filled CI's disk.

#![allow(clippy::unwrap_used)]

mod common;
mod entities;
mod misp;
mod no_panic;
mod no_panic_intel;
mod otx_threatconnect;
mod rss;
mod vulns;
mod xforce_social;
