//! The server crate's integration tests, in one binary: each test file used to
//! link the whole dependency tree on its own, which filled CI's disk.

#![allow(clippy::unwrap_used)]

mod api;
mod common;
mod curation;
mod early;
mod entities;
mod errors;
mod exist;
mod exist_scale;
mod export;
mod graph;
mod hunts;
mod lookup;
mod openapi;
mod search;
mod security;
mod shared_state;
mod stored_exports;
mod taxii;
mod ui;
mod ui_curation;
mod ui_hunts;
mod ui_manage;
mod ui_pages;
mod ui_search;
