//! Configuration: defaults < config file < `REXIST_*` environment < flags.
//!
//! The file is TOML with unknown keys refused, so a typo is reported with its
//! key and line instead of being ignored. Secrets (a database URL with a
//! password) come from the environment or from files and are never printed:
//! [`Secret`] redacts itself in `Debug` and `Display`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where rexist keeps its data: the SQLite database and caches.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://user@host:5432/db`); unset means the
    /// embedded SQLite store in `data_dir`. Prefer `database_url_file` or the
    /// `REXIST_DATABASE_URL` environment variable when the URL holds a password.
    #[serde(default)]
    pub database_url: Option<Secret>,
    /// File holding the PostgreSQL URL (e.g. a container secret); read at start.
    #[serde(default)]
    pub database_url_file: Option<PathBuf>,
    /// A read-only PostgreSQL streaming replica of `database_url` that
    /// serves lookups, search, TAXII and exports (docs/scaling.md); env
    /// `REXIST_DATABASE_READ_URL`.
    #[serde(default)]
    pub database_read_url: Option<Secret>,
    /// HTTP server settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// Logging settings.
    #[serde(default)]
    pub log: LogConfig,
    /// Whether the built-in catalogue of free feeds (`rexist source list`
    /// shows it) runs without being configured; a `[[source]]` table with the
    /// same name overrides an entry.
    #[serde(default = "default_true")]
    pub default_sources: bool,
    /// `[[source]]` tables: feeds, catalogue overrides.
    #[serde(default, rename = "source")]
    pub sources: Vec<rexist_connectors::source::SourceConfig>,
    /// `[[channel]]` tables: where hunt alerts go (docs/notifiers.md).
    #[serde(default, rename = "channel")]
    pub channels: Vec<rexist_notify::ChannelConfig>,
    /// Alert delivery settings.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Lookup settings: lifetimes, whether warning lists apply.
    #[serde(default)]
    pub lookup: LookupConfig,
    /// Indicator extraction from text: an organisation's internal TLDs.
    #[serde(default)]
    pub extract: ExtractConfig,
    /// Which bundled MISP warning lists to use (`only`, `disable`).
    #[serde(default)]
    pub warninglists: rexist_warnlist::ListSelection,
    /// `[[allowlist]]` tables: local allow-lists, checked like warning lists.
    #[serde(default, rename = "allowlist")]
    pub allowlists: Vec<rexist_warnlist::AllowListConfig>,
    /// `[[enrichment]]` tables: providers a lookup may ask (docs/lookup.md).
    #[serde(default, rename = "enrichment")]
    pub enrichment: Vec<rexist_enrich::EnrichConfig>,
    /// Authentication: anonymous access, clearance per role (docs/sharing.md).
    #[serde(default)]
    pub auth: rexist_server::auth::AuthConfig,
    /// The TAXII 2.1 server: title, page size, collections (docs/taxii.md).
    #[serde(default)]
    pub taxii: rexist_server::taxii::TaxiiConfig,
    /// `[[export]]` tables: saved exports at stable URLs (docs/sharing.md).
    #[serde(default, rename = "export")]
    pub exports: Vec<rexist_server::export::ExportConfig>,
}

/// `[lookup]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// Flag indicators on the bundled MISP warning lists (at ingest and lookup).
    #[serde(default = "default_true")]
    pub warninglists: bool,
    /// Lifetime per indicator type (`ipv4 = "30d"`); unset types keep the defaults.
    #[serde(default)]
    pub lifetimes: std::collections::BTreeMap<String, String>,
}

impl Default for LookupConfig {
    fn default() -> Self {
        Self {
            warninglists: true,
            lifetimes: std::collections::BTreeMap::new(),
        }
    }
}

/// `[extract]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractConfig {
    /// Top-level domains accepted in text besides the public ones, for an
    /// organisation's internal names (`["corp", "lan", "internal"]`). Typed
    /// values (lookup, refang, `ingest file`, watchlists) take any
    /// well-formed name without this.
    #[serde(default)]
    pub extra_tlds: Vec<String>,
}

/// `[alerts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Base URL of this rexist as users reach it, for links in alerts
    /// (`https://rexist.example.org`); no links when unset.
    #[serde(default)]
    pub base_url: Option<String>,
    /// First retry delay of a failed delivery, doubled per attempt (`10s`, `1m`).
    #[serde(default = "default_retry_base")]
    pub retry_base: String,
    /// Longest retry delay.
    #[serde(default = "default_retry_max")]
    pub retry_max: String,
    /// Attempts before an alert is given up as failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How often the outbox is checked for due alerts and digests.
    #[serde(default = "default_poll")]
    pub poll: String,
}

fn default_retry_base() -> String {
    "10s".to_owned()
}

fn default_retry_max() -> String {
    "1h".to_owned()
}

fn default_max_attempts() -> u32 {
    12
}

fn default_poll() -> String {
    "2s".to_owned()
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            retry_base: default_retry_base(),
            retry_max: default_retry_max(),
            max_attempts: default_max_attempts(),
            poll: default_poll(),
        }
    }
}

fn default_true() -> bool {
    true
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port the web UI and API listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL users and peers reach this server at (`https://cti.example.org`,
    /// with a path prefix behind a proxy that adds one): every absolute URL
    /// the server writes (TAXII discovery, EXIST API paging, export links,
    /// alert links) starts with it. Unset, a request's `Host` is used only
    /// when it is a loopback name or the listen address, else the listen
    /// address: an arbitrary `Host` is never reflected.
    #[serde(default)]
    pub public_url: Option<String>,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Log filter in `tracing` syntax: `info`, `rexist=debug,info`, …
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` for people, `json` for log collectors.
    #[serde(default)]
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./rexist-data")
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_log_level() -> String {
    "info,sqlx=warn".to_owned()
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_url: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            database_url: None,
            database_url_file: None,
            database_read_url: None,
            server: ServerConfig::default(),
            log: LogConfig::default(),
            default_sources: true,
            sources: Vec::new(),
            channels: Vec::new(),
            alerts: AlertsConfig::default(),
            lookup: LookupConfig::default(),
            extract: ExtractConfig::default(),
            warninglists: rexist_warnlist::ListSelection::default(),
            allowlists: Vec::new(),
            enrichment: Vec::new(),
            auth: rexist_server::auth::AuthConfig::default(),
            taxii: rexist_server::taxii::TaxiiConfig::default(),
            exports: Vec::new(),
        }
    }
}

impl Config {
    /// The saved exports, checked; the error names the export and the field.
    pub fn export_specs(&self) -> anyhow::Result<Vec<rexist_server::export::ExportSpec>> {
        let mut seen = std::collections::BTreeSet::new();
        self.exports
            .iter()
            .map(|e| {
                if !seen.insert(e.name.as_str()) {
                    anyhow::bail!("export {:?}: defined twice", e.name);
                }
                e.validate().map_err(anyhow::Error::msg)
            })
            .collect()
    }

    /// The TAXII configuration, checked.
    pub fn taxii_config(&self) -> anyhow::Result<rexist_server::taxii::TaxiiConfig> {
        self.taxii
            .validate()
            .map_err(|e| anyhow::anyhow!("[taxii]: {e}"))?;
        Ok(self.taxii.clone())
    }
}

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a setting came from, for `config check`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Environment variables that overrode the file.
    pub env: Vec<&'static str>,
}

/// Overrides given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<SocketAddr>,
}

/// Parses a config file's text; errors name the key and line.
/// The line (1-based) of the key a `source "NAME" (kind …): … `key` …`
/// message names, inside that source's table.
fn source_key_line(text: &str, message: &str) -> Option<usize> {
    let rest = &message[message.find("source \"")? + "source \"".len()..];
    let name = rest.split('"').next()?;
    let key = rest.split('`').nth(1)?;
    let needle = format!("\"{name}\"");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("name") && l.contains(&needle))?;
    // The table runs from its header before `name` to the next header.
    let start = lines[..=at]
        .iter()
        .rposition(|l| l.trim_start().starts_with('['))
        .unwrap_or(0);
    let end = lines[at + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |n| at + 1 + n);
    lines[start..end]
        .iter()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|n| start + n + 1)
}

pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let config: Config = toml::from_str(text).map_err(|e| {
        // toml's message carries "at line N, column M" and the offending key;
        // a key a source's kind does not take is found by the source's name,
        // so point at that key's own line.
        let message = e.to_string();
        if let Some(line) = source_key_line(text, &message) {
            let reason = message
                .lines()
                .find(|l| l.starts_with("source \""))
                .unwrap_or(message.as_str());
            return anyhow::anyhow!("{}: line {line}: {reason}", path.display());
        }
        anyhow::anyhow!("{}: {}", path.display(), message.trim_end())
    })?;
    if let Err(e) = config.validate() {
        let message = format!("{e:#}");
        // Validation messages start with the key (or `source "NAME"`); point at
        // its line as toml does.
        if let Some(name) = message
            .strip_prefix("source \"")
            .and_then(|m| m.split('"').next())
        {
            let needle = format!("\"{name}\"");
            if let Some(n) = text
                .lines()
                .position(|l| l.trim_start().starts_with("name") && l.contains(&needle))
            {
                bail!("{}: line {}: {message}", path.display(), n + 1);
            }
        }
        let key = message.split_whitespace().next().unwrap_or_default();
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let line = text.lines().position(|l| {
            let l = l.trim_start();
            l.strip_prefix(leaf)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        match line {
            Some(n) => bail!("{}: line {}: {message}", path.display(), n + 1),
            None => bail!("{}: {message}", path.display()),
        }
    }
    Ok(config)
}

impl Config {
    /// Checks what can be checked without I/O.
    pub fn validate(&self) -> Result<()> {
        for tld in &self.extract.extra_tlds {
            if !rexist_extract::is_tld_label(tld) {
                bail!(
                    "[extract] extra_tlds: {:?} is not a top-level domain (2-63 letters, or punycode)",
                    tld.chars().take(64).collect::<String>()
                );
            }
        }
        if let Some(url) = &self.database_url {
            check_database_url(url.expose())?;
        }
        if self.database_url.is_some() && self.database_url_file.is_some() {
            bail!("database_url and database_url_file are both set; keep one");
        }
        if let Some(url) = &self.database_read_url {
            let url = url.expose();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "database_read_url {:?} must start with postgres:// (a streaming replica of database_url)",
                    rexist_store::redact_url(url)
                );
            }
            if self.database_url.is_none() && self.database_url_file.is_none() {
                bail!(
                    "database_read_url is set without database_url: a replica needs a PostgreSQL primary"
                );
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| anyhow::anyhow!("log.level {:?}: {e}", self.log.level))?;
        if let Some(url) = &self.server.public_url {
            rexist_server::check_public_url(url)
                .map_err(|e| anyhow::anyhow!("server.public_url: {e}"))?;
        }
        self.resolved_sources()?;
        Ok(())
    }

    /// Every source to run: configured tables, then catalogue entries not
    /// overridden (when `default_sources`), each merged with its defaults.
    pub fn resolved_sources(&self) -> Result<Vec<rexist_connectors::source::ResolvedSource>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for table in &self.sources {
            if table.name == rexist_core::MANUAL_SOURCE {
                bail!(
                    "source {:?}: the name is reserved for what analysts add by hand",
                    table.name
                );
            }
            if table.name == rexist_core::ENTITIES_SOURCE {
                bail!(
                    "source {:?}: the name is reserved for threat entities (actors, malware, techniques)",
                    table.name
                );
            }
            if !seen.insert(table.name.clone()) {
                bail!(
                    "source {:?}: name is used by two [[source]] tables",
                    table.name
                );
            }
            out.push(table.resolve()?);
        }
        if self.default_sources {
            for entry in rexist_connectors::source::CATALOGUE {
                if seen.insert(entry.kind.to_owned()) {
                    out.push(
                        rexist_connectors::source::SourceConfig::from_catalogue(entry).resolve()?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// The `[[channel]]` tables, built: secrets read, templates compiled.
    pub fn channels(&self) -> Result<Vec<rexist_notify::Channel>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for table in &self.channels {
            if !seen.insert(table.name.clone()) {
                bail!(
                    "channel {:?}: name is used by two [[channel]] tables",
                    table.name
                );
            }
            out.push(rexist_notify::Channel::from_config(table)?);
        }
        Ok(out)
    }

    /// The warning lists and allow-lists in force, or `None` when neither is.
    pub fn warning_lists(&self) -> Result<Option<std::sync::Arc<rexist_warnlist::WarningLists>>> {
        if !self.lookup.warninglists && self.allowlists.is_empty() {
            return Ok(None);
        }
        let base = if self.lookup.warninglists {
            rexist_warnlist::WarningLists::bundled()
                .select(&self.warninglists)
                .context("[warninglists]")?
        } else {
            rexist_warnlist::WarningLists::empty()
        };
        let lists = if self.allowlists.is_empty() {
            base
        } else {
            base.with_allowlists(&self.allowlists)
                .context("[[allowlist]]")?
        };
        Ok(Some(std::sync::Arc::new(lists)))
    }

    /// The extractor for text ingested under this configuration.
    pub fn extractor(&self) -> rexist_extract::Extractor {
        rexist_extract::Extractor::default().with_extra_tlds(&self.extract.extra_tlds)
    }

    /// Indicator lifetimes: the defaults with `[lookup.lifetimes]` applied.
    pub fn lifetimes(&self) -> Result<rexist_lookup::Lifetimes> {
        let mut overrides = Vec::new();
        for (kind, value) in &self.lookup.lifetimes {
            let t: rexist_core::IndicatorType = kind
                .parse()
                .map_err(|e| anyhow::anyhow!("lookup.lifetimes.{kind}: {e}"))?;
            let d = rexist_connectors::source::parse_every(value).with_context(|| {
                format!("lookup.lifetimes.{kind}: {value:?} is not a period such as 30d, 12h")
            })?;
            overrides.push((t, d));
        }
        Ok(rexist_lookup::Lifetimes::default().with(overrides))
    }

    /// The enrichment providers of the `[[enrichment]]` tables, or `None`.
    pub fn enricher(&self) -> Result<Option<std::sync::Arc<rexist_enrich::Enricher>>> {
        if self.enrichment.is_empty() {
            return Ok(None);
        }
        Ok(Some(std::sync::Arc::new(rexist_enrich::Enricher::new(
            &self.enrichment,
        )?)))
    }

    /// A lookup over `store` with this configuration's lists, providers and lifetimes.
    pub fn lookup(
        &self,
        store: std::sync::Arc<dyn rexist_store::Store>,
    ) -> Result<rexist_lookup::Lookup> {
        // Answers go to the store too, so every node shares them and a
        // restart keeps them.
        let enricher = if self.enrichment.is_empty() {
            None
        } else {
            let shared = std::sync::Arc::new(rexist_lookup::StoreCache::new(
                std::sync::Arc::clone(&store),
            ));
            Some(std::sync::Arc::new(
                rexist_enrich::Enricher::new(&self.enrichment)?.with_shared_cache(shared),
            ))
        };
        Ok(rexist_lookup::Lookup::new(
            store,
            self.warning_lists()?,
            enricher,
            self.lifetimes()?,
        ))
    }

    /// Where alerts link to: `[alerts] base_url`, else `[server] public_url`.
    pub fn alerts_base_url(&self) -> Option<String> {
        self.alerts
            .base_url
            .clone()
            .or_else(|| self.server.public_url.clone())
    }

    /// Dispatcher settings from `[alerts]`.
    pub fn dispatch_options(&self) -> Result<rexist_pipeline::alerts::DispatchOptions> {
        let a = &self.alerts;
        let duration = |key: &str, value: &str| {
            rexist_connectors::source::parse_every(value).with_context(|| {
                format!("alerts.{key}: {value:?} is not a duration such as 10s, 5m, 1h")
            })
        };
        if a.max_attempts == 0 {
            bail!("alerts.max_attempts: must be at least 1");
        }
        Ok(rexist_pipeline::alerts::DispatchOptions {
            retry_base: duration("retry_base", &a.retry_base)?,
            retry_max: duration("retry_max", &a.retry_max)?,
            max_attempts: a.max_attempts,
            poll: duration("poll", &a.poll)?,
            base_url: self.alerts_base_url(),
            ..rexist_pipeline::alerts::DispatchOptions::default()
        })
    }

    /// The database URL, read from `database_url_file` when that is set.
    pub fn database_url(&self) -> Result<Option<Secret>> {
        if let Some(path) = &self.database_url_file {
            let text = rexist_http::read_secret_file(path, "database_url_file")
                .with_context(|| format!("database_url_file {}", path.display()))?;
            let url = text.expose();
            check_database_url(url)
                .with_context(|| format!("database_url_file {}", path.display()))?;
            return Ok(Some(Secret::new(url)));
        }
        Ok(self.database_url.clone())
    }
}

fn check_database_url(url: &str) -> Result<()> {
    let ok = ["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|p| url.starts_with(p));
    if !ok {
        bail!(
            "database_url {:?} must start with postgres:// (or sqlite:)",
            rexist_store::redact_url(url)
        );
    }
    Ok(())
}

/// Largest configuration file read: a config is a few KiB, even with
/// hundreds of sources.
const CONFIG_FILE_CAP: u64 = 4 * 1024 * 1024;

/// Loads the configuration: the file given (which must exist), else
/// `./rexist.toml` if present, else defaults; then environment and flags.
pub fn load(file: Option<&Path>, flags: &Flags) -> Result<(Config, Origin)> {
    let mut origin = Origin::default();
    let implicit = Path::new("rexist.toml");
    let path = match file {
        Some(p) => Some(p.to_path_buf()),
        None if implicit.exists() => Some(implicit.to_path_buf()),
        None => None,
    };
    let mut config = match &path {
        Some(p) => {
            let text = rexist_http::read_text_file(p, CONFIG_FILE_CAP, "config file")
                .with_context(|| format!("cannot read config file {}", p.display()))?;
            parse(&text, p)?
        }
        None => Config::default(),
    };
    origin.file = path;
    apply_env(&mut config, &mut origin, |k| std::env::var(k).ok())?;
    if let Some(dir) = &flags.data_dir {
        config.data_dir.clone_from(dir);
    }
    if let Some(listen) = flags.listen {
        config.server.listen = listen;
    }
    config.validate()?;
    Ok((config, origin))
}

/// Applies `REXIST_*` environment overrides.
fn apply_env(
    config: &mut Config,
    origin: &mut Origin,
    var: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    if let Some(v) = var("REXIST_DATA_DIR").filter(|v| !v.is_empty()) {
        config.data_dir = PathBuf::from(v);
        origin.env.push("REXIST_DATA_DIR");
    }
    if let Some(v) = var("REXIST_DATABASE_URL").filter(|v| !v.is_empty()) {
        check_database_url(&v).context("REXIST_DATABASE_URL")?;
        config.database_url = Some(Secret::new(v));
        config.database_url_file = None;
        origin.env.push("REXIST_DATABASE_URL");
    }
    if let Some(v) = var("REXIST_DATABASE_READ_URL").filter(|v| !v.is_empty()) {
        config.database_read_url = Some(Secret::new(v));
        origin.env.push("REXIST_DATABASE_READ_URL");
    }
    if let Some(v) = var("REXIST_LISTEN").filter(|v| !v.is_empty()) {
        config.server.listen = v
            .parse()
            .with_context(|| format!("REXIST_LISTEN {v:?} is not an address:port"))?;
        origin.env.push("REXIST_LISTEN");
    }
    if let Some(v) = var("REXIST_PUBLIC_URL").filter(|v| !v.is_empty()) {
        rexist_server::check_public_url(&v)
            .map_err(|e| anyhow::anyhow!("REXIST_PUBLIC_URL: {e}"))?;
        config.server.public_url = Some(v);
        origin.env.push("REXIST_PUBLIC_URL");
    }
    if let Some(v) = var("REXIST_LOG").filter(|v| !v.is_empty()) {
        config.log.level = v;
        origin.env.push("REXIST_LOG");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../rexist.example.toml");
        let config = parse(text, Path::new("rexist.example.toml")).unwrap();
        assert_eq!(config.server.listen, default_listen());
    }

    #[test]
    fn no_source_takes_the_manual_sources_name() {
        let e = parse(
            "[[source]]\nname = \"manual\"\nkind = \"urlhaus\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 2") && e.contains("\"manual\": the name is reserved"),
            "{e}"
        );
    }

    #[test]
    fn extra_tlds_reach_the_extractor_and_are_checked() {
        let config = parse(
            "[extract]\nextra_tlds = [\"corp\", \".LAN\"]\n",
            Path::new("c.toml"),
        )
        .unwrap();
        config.validate().unwrap();
        let found: Vec<String> = config
            .extractor()
            .extract("build01.corp and wiki.lan and readme.md")
            .into_iter()
            .map(|m| m.value)
            .collect();
        assert_eq!(found, ["build01.corp", "wiki.lan"]);
        let bad = parse(
            "[extract]\nextra_tlds = [\"corp lan\"]\n",
            Path::new("c.toml"),
        );
        let err = format!("{:#}", bad.unwrap_err());
        assert!(err.contains("extra_tlds"), "{err}");
    }

    /// The example's `[[source]]` blocks: each uncommented (lines marked
    /// `(or)` left out), with every key named in it (those included).
    fn example_source_blocks() -> Vec<(String, Vec<String>)> {
        let text = include_str!("../rexist.example.toml");
        let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in text.lines() {
            let Some(body) = line.strip_prefix('#') else {
                blocks.extend(current.take());
                continue;
            };
            let body = body.trim_start();
            if body == "[[source]]" {
                blocks.extend(current.take());
                current = Some(("[[source]]\n".to_owned(), Vec::new()));
                continue;
            }
            let Some((table, keys)) = current.as_mut() else {
                continue;
            };
            let (alternative, entry) = match body.strip_prefix("(or)") {
                Some(rest) => (true, rest.trim_start()),
                None => (false, body),
            };
            let Some((key, _)) = entry.split_once('=') else {
                if entry.is_empty() || !entry.starts_with(char::is_alphabetic) {
                    continue;
                }
                blocks.extend(current.take());
                continue;
            };
            let key = key.trim();
            if key.is_empty() || key.contains(' ') {
                continue;
            }
            keys.push(key.to_owned());
            if !alternative {
                table.push_str(entry);
                table.push('\n');
            }
        }
        blocks.extend(current);
        blocks
    }

    /// `rexist.example.toml` shows every source kind with every key it
    /// takes, and each of its examples is a valid table: it cannot drift
    /// from the configuration types.
    #[test]
    fn the_example_shows_every_source_kind_and_key() {
        use rexist_connectors::source::{CATALOGUE, COMMON_KEYS, GENERIC_KINDS, Params};
        let blocks = example_source_blocks();
        let mut kinds = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (table, keys) in &blocks {
            #[derive(Deserialize)]
            struct One {
                source: Vec<rexist_connectors::source::SourceConfig>,
            }
            let one: One = toml::from_str(table).unwrap_or_else(|e| panic!("{table}\n{e}"));
            let kind = one.source[0].kind.clone();
            kinds.entry(kind).or_default().extend(keys.iter().cloned());
        }
        for kind in GENERIC_KINDS {
            let shown = kinds
                .get(*kind)
                .unwrap_or_else(|| panic!("no example table of kind {kind:?}"));
            for key in Params::keys(kind) {
                assert!(shown.contains(&key), "kind {kind:?}: key {key:?} not shown");
            }
        }
        let all: Vec<&String> = kinds.values().flatten().collect();
        for key in COMMON_KEYS {
            assert!(all.iter().any(|k| k == key), "common key {key:?} not shown");
        }
        let text = include_str!("../rexist.example.toml");
        for entry in CATALOGUE {
            assert!(
                text.contains(entry.kind),
                "catalogue kind {:?} not named",
                entry.kind
            );
        }
    }

    #[test]
    fn public_url_is_checked() {
        let c = parse(
            "[server]\npublic_url = \"https://cti.example.org/rexist/\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(
            c.server.public_url.as_deref(),
            Some("https://cti.example.org/rexist/")
        );
        assert_eq!(
            c.alerts_base_url().as_deref(),
            Some("https://cti.example.org/rexist/"),
            "alert links follow the public URL unless [alerts] base_url is set"
        );
        for bad in [
            "cti.example.org",
            "ftp://cti.example.org",
            "https://user:pw@cti.example.org",
            "https://cti.example.org/?x=1",
            "https://",
        ] {
            let err = parse(
                &format!("[server]\npublic_url = {bad:?}\n"),
                Path::new("c.toml"),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("server.public_url"), "{bad}: {err}");
            assert!(!err.contains("pw@"), "no password echoed: {err}");
        }
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse(
            "data_dir = \"x\"\n\n[server]\nlisten = \"127.0.0.1:1\"\nlistn = 3\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("listn"), "{err}");
        assert!(err.contains("c.toml"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse("[server]\nlisten = \"nowhere\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("\ndatabase_url = \"mysql://x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: database_url"), "{err}");
        let err = parse(
            "database_read_url = \"postgres://u:hunter2@replica/x\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 1: database_read_url"), "{err}");
        assert!(err.contains("needs a PostgreSQL primary"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse(
            "database_url = \"postgres://db/x\"\ndatabase_read_url = \"sqlite:r.db\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must start with postgres://"), "{err}");
        let err = parse("[log]\nlevel = \"[[[\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: log.level"), "{err}");
        let err = parse("[log]\nformat = \"xml\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        // A key the source's kind does not take: its own line, and the key.
        let text = "[[source]]\nname = \"a\"\nkind = \"cins\"\n\n[[source]]\nname = \"pulses\"\nkind = \"otx\"\nurl = \"https://otx.example\"\ncolumn = \"url\"\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "c.toml: line 9: source \"pulses\" (kind \"otx\"): unknown field `column`"
            ),
            "{err}"
        );
        let err = parse(
            "[[source]]\nname = \"x\"\nkind = \"gopher\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown kind \"gopher\""), "{err}");
    }

    #[test]
    fn environment_overrides_file_and_secrets_stay_hidden() {
        let mut config = parse("data_dir = \"/from/file\"\n", Path::new("c.toml")).unwrap();
        let mut origin = Origin::default();
        let env = |k: &str| match k {
            "REXIST_DATA_DIR" => Some("/from/env".to_owned()),
            "REXIST_DATABASE_URL" => Some("postgres://u:hunter2@db/x".to_owned()),
            _ => None,
        };
        apply_env(&mut config, &mut origin, env).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/env"));
        assert_eq!(origin.env, ["REXIST_DATA_DIR", "REXIST_DATABASE_URL"]);
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            config.database_url.unwrap().expose(),
            "postgres://u:hunter2@db/x"
        );
    }

    #[test]
    fn sources_merge_catalogue_and_name_their_table() {
        let config = parse(
            "[[source]]\nname = \"urlhaus\"\nkind = \"urlhaus\"\nurl = \"https://mirror.example/u.csv\"\n\n[[source]]\nname = \"mine\"\nkind = \"text\"\nurl = \"https://lists.example/ips.txt\"\ntype = \"ipv4\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let sources = config.resolved_sources().unwrap();
        let urlhaus = sources.iter().find(|s| s.name == "urlhaus").unwrap();
        assert_eq!(
            urlhaus.url, "https://mirror.example/u.csv",
            "a table overrides its entry"
        );
        assert!(
            sources.iter().any(|s| s.name == "feodo"),
            "the rest of the catalogue stays"
        );
        assert!(sources.iter().any(|s| s.name == "mine"));
        let err = parse(
            "[[source]]\nname = \"x\"\nkind = \"csv\"\nurl = \"https://a.example/b\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("csv needs column"),
            "{err}"
        );
        let err = parse("[[source]]\nname = \"x\"\nkind = \"text\"\nurl = \"https://a.example/b\"\ncolour = 1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5") && err.contains("colour"), "{err}");
        let off = parse("default_sources = false\n", Path::new("c.toml")).unwrap();
        assert!(off.resolved_sources().unwrap().is_empty());
    }

    #[test]
    fn database_url_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("url");
        std::fs::write(&path, "postgres://u:pw@db/x\n").unwrap();
        let config = Config {
            database_url_file: Some(path),
            ..Config::default()
        };
        assert_eq!(
            config.database_url().unwrap().unwrap().expose(),
            "postgres://u:pw@db/x"
        );
    }
}
