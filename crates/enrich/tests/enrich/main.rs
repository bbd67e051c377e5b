#![allow(clippy::unwrap_used)]
//! Every provider against loopback upstreams (HTTP servers, a UDP DNS
//! responder, generated MaxMind DB files); nothing here reaches the internet.

mod common;
mod contract;
mod dns;
mod enricher;
mod geoip;
mod inspect;
