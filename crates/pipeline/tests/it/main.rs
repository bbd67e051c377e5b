//! The pipeline crate's integration tests, in one binary: each test file used to
//! link the whole dependency tree on its own, which filled CI's disk.

#![allow(clippy::unwrap_used)]

mod common;
mod compliance;
mod hunter;
mod mastodon;
mod medallion;
mod misp;
mod otx;
mod run;
mod scheduler;
mod search;
mod social;
mod taxii;
mod threatconnect;
mod xforce;
