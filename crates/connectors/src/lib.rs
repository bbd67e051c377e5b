//! rexist's collection layer: fetching upstream data safely and turning it
//! into records. A connector knows only its upstream protocol; it never writes
//! to the store (the pipeline does).
//!
//! Start with [`feed`] (generic lists, CSV and JSON feeds, also used by
//! `rexist ingest file`).

pub mod feed;
pub mod http;
pub mod source;
