//! `rexist config check`: validate and show the effective configuration.

use std::process::ExitCode;

use super::say;
use crate::config::{Config, Origin};

/// Prints the effective settings; secrets are shown as set or unset, never their value.
pub fn run(config: &Config, origin: &Origin) -> ExitCode {
    match &origin.file {
        Some(f) => say(format_args!("config file: {} (valid)", f.display())),
        None => say(format_args!("config file: none (defaults)")),
    }
    if !origin.env.is_empty() {
        say(format_args!(
            "environment overrides: {}",
            origin.env.join(", ")
        ));
    }
    say(format_args!("data_dir = {}", config.data_dir.display()));
    let store = match (&config.database_url, &config.database_url_file) {
        (Some(url), _) => format!("postgres ({})", rexist_store::redact_url(url.expose())),
        (None, Some(file)) => format!("postgres (URL from {})", file.display()),
        (None, None) => format!("sqlite ({})", config.data_dir.join("rexist.db").display()),
    };
    say(format_args!("store = {store}"));
    say(format_args!("server.listen = {}", config.server.listen));
    say(format_args!(
        "server.public_url = {}",
        config.server.public_url.as_deref().unwrap_or("unset")
    ));
    say(format_args!("log.level = {}", config.log.level));
    say(format_args!("log.format = {}", config.log.format.as_str()));
    let mut ok = true;
    match config.resolved_sources() {
        Ok(sources) => {
            say(format_args!("sources = {}", sources.len()));
            for s in sources {
                let schedule = s
                    .cron
                    .clone()
                    .unwrap_or_else(|| format!("every {} s", s.every.as_secs()));
                say(format_args!(
                    "  {} ({}) {} [{}]{}",
                    s.name,
                    s.kind,
                    rexist_connectors::http::redact(&s.url),
                    schedule,
                    if s.enabled { "" } else { " disabled" }
                ));
            }
        }
        Err(e) => {
            say(format_args!("sources: {e:#}"));
            ok = false;
        }
    }
    match config.dispatch_options() {
        Ok(o) => say(format_args!(
            "alerts: retry {}–{} s, {} attempts, base_url {}",
            o.retry_base.as_secs(),
            o.retry_max.as_secs(),
            o.max_attempts,
            o.base_url.as_deref().unwrap_or("unset")
        )),
        Err(e) => {
            say(format_args!("alerts: {e:#}"));
            ok = false;
        }
    }
    // Building a channel reads its secrets and compiles its templates, so a
    // missing variable or a template typo shows here, not at the first alert.
    match config.channels() {
        Ok(channels) => {
            say(format_args!("channels = {}", channels.len()));
            for c in &channels {
                let limit = c
                    .rate_limit()
                    .map_or_else(String::new, |r| format!(" [{r}]"));
                say(format_args!("  {} ({}){limit}", c.name(), c.kind()));
            }
        }
        Err(e) => {
            say(format_args!("channels: {e:#}"));
            ok = false;
        }
    }
    match config.warning_lists() {
        Ok(Some(l)) => say(format_args!("warning lists = {}", l.lists().len())),
        Ok(None) => say(format_args!("warning lists = off")),
        Err(e) => {
            say(format_args!("warning lists: {e:#}"));
            ok = false;
        }
    }
    if let Err(e) = config.lifetimes() {
        say(format_args!("lookup: {e:#}"));
        ok = false;
    }
    match config.enricher() {
        Ok(Some(e)) => {
            let names: Vec<String> = e
                .providers()
                .into_iter()
                .map(|p| format!("{} ({})", p.name, p.kind))
                .collect();
            say(format_args!("enrichment = {}", names.join(", ")));
        }
        Ok(None) => say(format_args!("enrichment = none")),
        Err(e) => {
            say(format_args!("enrichment: {e:#}"));
            ok = false;
        }
    }
    say(format_args!(
        "auth.anonymous = {}",
        config.auth.anonymous.map_or_else(
            || "none (credentials required)".to_owned(),
            |r| r.to_string()
        )
    ));
    match config.taxii_config() {
        Ok(t) => say(format_args!(
            "taxii collections = {}",
            if t.collections.is_empty() {
                "default (all active indicators)".to_owned()
            } else {
                t.collections
                    .iter()
                    .map(|c| c.title.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        Err(e) => {
            say(format_args!("{e:#}"));
            ok = false;
        }
    }
    match config.export_specs() {
        Ok(e) => say(format_args!(
            "exports = {}",
            if e.is_empty() {
                "none".to_owned()
            } else {
                e.iter()
                    .map(|e| format!("{} ({})", e.name, e.format))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        Err(e) => {
            say(format_args!("{e:#}"));
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
