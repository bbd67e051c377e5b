//! `rexist config check`: validate and show the effective configuration.

use std::process::ExitCode;

use crate::config::{Config, Origin};

/// Prints the effective settings; secrets are shown as set or unset, never their value.
pub fn run(config: &Config, origin: &Origin) -> ExitCode {
    match &origin.file {
        Some(f) => println!("config file: {} (valid)", f.display()),
        None => println!("config file: none (defaults)"),
    }
    if !origin.env.is_empty() {
        println!("environment overrides: {}", origin.env.join(", "));
    }
    println!("data_dir = {}", config.data_dir.display());
    let store = match (&config.database_url, &config.database_url_file) {
        (Some(url), _) => format!("postgres ({})", rexist_store::redact_url(url.expose())),
        (None, Some(file)) => format!("postgres (URL from {})", file.display()),
        (None, None) => format!("sqlite ({})", config.data_dir.join("rexist.db").display()),
    };
    println!("store = {store}");
    println!("server.listen = {}", config.server.listen);
    println!("log.level = {}", config.log.level);
    println!("log.format = {}", config.log.format.as_str());
    ExitCode::SUCCESS
}
