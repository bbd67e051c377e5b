//! The configuration file: parsed and validated as `rexist serve` does,
//! sources, channels, exports and lookup settings included.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The binary crate has no library target; its config module depends only on
// the workspace's library crates, so it is compiled into this target as is.
#[allow(dead_code, unused_imports)]
#[path = "../../src/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = config::parse(text, std::path::Path::new("rexist.toml")) else {
        return;
    };
    let _ = cfg.validate();
    let _ = cfg.resolved_sources();
    let _ = cfg.channels();
    let _ = cfg.lifetimes();
    let _ = cfg.dispatch_options();
    let _ = cfg.export_specs();
    let _ = cfg.taxii_config();
});
