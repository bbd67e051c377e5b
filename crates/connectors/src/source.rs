//! `[[source]]` tables of the configuration, and the built-in catalogue of
//! free feeds they may name as `kind`.
//!
//! A table names either a catalogue entry (`urlhaus`, `feodo`, …), whose
//! defaults it may override (a local mirror's `url`, `schedule`, `tlp`, …), or
//! a generic kind (`text`, `csv`, `json`, `ndjson`) configured entirely by its
//! keys. Most blocklists are a generic fetcher plus column names (intelmq's
//! `feeds.yaml` shows the same): the catalogue is data, not code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rexist_core::{IndicatorType, Tlp};
use serde::Deserialize;

use crate::feed::{FeedFormat, Layout};

/// One `[[source]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name, used by `rexist source run NAME` and in the API.
    pub name: String,
    /// A catalogue entry (`urlhaus`, `feodo`, …) or a generic kind (`text`, `csv`, `json`, `ndjson`).
    pub kind: String,
    /// Where to fetch from (catalogue entries have a default).
    #[serde(default)]
    pub url: Option<String>,
    /// How often to run: an interval (`30m`, `1h`, `6h`, `1d`) or a cron
    /// expression in UTC (`0 */6 * * *`); catalogue entries have a polite default.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Whether the scheduler runs it (runtime `rexist source enable|disable` wins once set).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Confidence 0–100 given to its sightings.
    #[serde(default)]
    pub confidence: Option<u8>,
    /// TLP of what it brings.
    #[serde(default)]
    pub tlp: Option<Tlp>,
    /// Tags added to everything it brings.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Threat or malware labels added to every sighting (`botnet`, `phishing`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Generic feeds: the indicator type of every value (detected per value if unset).
    #[serde(default, rename = "type")]
    pub indicator_type: Option<IndicatorType>,
    /// `csv`: the column, a 1-based number or a header name.
    #[serde(default)]
    pub column: Option<String>,
    /// `csv`: the field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// `csv`, `json`, `ndjson`: where each entry's confidence (an integer
    /// 0–100) is, a header name or 1-based column number (JSON: a dot path);
    /// it overrides the source's `confidence` for that entry.
    #[serde(default)]
    pub confidence_column: Option<String>,
    /// `csv`, `json`, `ndjson`: columns (or dot paths) whose values become
    /// labels of each entry, split on `,`, lower-cased, `None`/`n/a` dropped;
    /// replaces the catalogue's list (`[]` turns it off).
    #[serde(default)]
    pub label_columns: Option<Vec<String>>,
    /// Generic feeds: the body's charset as a WHATWG label (`shift_jis`,
    /// `euc-jp`, `latin1`, `windows-1252`, `utf-16le`); a byte order mark wins.
    /// Unset: a byte order mark or an XML declaration, else UTF-8.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `json`: dot path to the array of entries (the document itself if unset).
    #[serde(default)]
    pub array: Option<String>,
    /// `json`, `ndjson`: dot path to the value in each entry.
    #[serde(default)]
    pub field: Option<String>,
    /// Whether each fetch is the whole list, so an indicator missing from it is
    /// no longer listed by this source (kept, not deleted).
    #[serde(default)]
    pub snapshot: Option<bool>,
    /// Snapshot lists: the largest share (0–1) the list may shrink by against
    /// the last good run before a run delists nothing and says why (default 0.5).
    #[serde(default)]
    pub max_shrink: Option<f64>,
    /// Lists: the largest share (0–1) of values that may be rejected or
    /// undecodable before an answer is not trusted (default 0.5).
    #[serde(default)]
    pub max_rejected: Option<f64>,
    /// `misp`, `nvd`: entries per page (default 100; NVD 2000).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// `bluesky`, `x`: the search query.
    #[serde(default)]
    pub query: Option<String>,
    /// `bluesky`, `x`: also search for the words and phrases of the enabled
    /// query hunts, so what analysts watch for is what gets collected.
    #[serde(default)]
    pub query_from_hunts: Option<bool>,
    /// `otx`: also the pulses of these OTX users.
    #[serde(default)]
    pub otx_users: Vec<String>,
    /// `threatconnect`: owner to pull from (default: every owner the key sees).
    #[serde(default)]
    pub owner: Option<String>,
    /// `threatconnect`: Access ID of HMAC signing (not secret).
    #[serde(default)]
    pub access_id: Option<String>,
    /// `threatconnect`: environment variable holding the HMAC secret key.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// `threatconnect`: file holding the HMAC secret key.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// `taxii`: the collection, by id or title.
    #[serde(default)]
    pub collection: Option<String>,
    /// `taxii`: only these STIX object types (`match[type]`), e.g. `["indicator", "report"]`.
    #[serde(default)]
    pub stix_types: Vec<String>,
    /// `taxii`: user name of HTTP basic authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// `taxii`: environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `taxii`: file holding the basic-auth password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `taxii`: environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `taxii`: file holding a bearer token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// HTTP headers whose values are read from environment variables, e.g.
    /// `{ "Auth-Key" = "ABUSECH_AUTH_KEY" }`; never written back or logged.
    #[serde(default)]
    pub headers_env: BTreeMap<String, String>,
    /// HTTP headers whose values are read from files (container secrets).
    #[serde(default)]
    pub headers_file: BTreeMap<String, PathBuf>,
}

fn default_true() -> bool {
    true
}

/// What a catalogue entry provides.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueEntry {
    /// The name used as `kind`.
    pub kind: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Default URL.
    pub url: &'static str,
    /// Default schedule: what the upstream asks for or tolerates.
    pub schedule: &'static str,
    /// The generic kind it is built on.
    pub base: &'static str,
    /// CSV column or JSON field.
    pub column: Option<&'static str>,
    /// Indicator type, when the feed has one.
    pub indicator_type: Option<IndicatorType>,
    /// Column of each entry's confidence (0–100), when the feed has one.
    pub confidence_column: Option<&'static str>,
    /// Columns whose values become labels of each entry.
    pub label_columns: &'static [&'static str],
    /// Labels of its sightings.
    pub labels: &'static [&'static str],
    /// Whether a fetch is the whole list.
    pub snapshot: bool,
    /// Default confidence.
    pub confidence: u8,
}

/// The built-in feeds `rexist serve` knows (INTERFACES.md §6). abuse.ch
/// exports work without a key; an `Auth-Key` header may be added with `headers_env`.
pub const CATALOGUE: &[CatalogueEntry] = &[
    CatalogueEntry {
        kind: "urlhaus",
        description: "abuse.ch URLhaus, malware URLs of the last 30 days",
        url: "https://urlhaus.abuse.ch/downloads/csv_recent/",
        schedule: "1h",
        base: "csv",
        column: Some("url"),
        indicator_type: Some(IndicatorType::Url),
        confidence_column: None,
        label_columns: &["threat", "tags"],
        labels: &["malware_download"],
        snapshot: false,
        confidence: 80,
    },
    CatalogueEntry {
        kind: "feodo",
        description: "abuse.ch Feodo Tracker botnet C2 IPs",
        url: "https://feodotracker.abuse.ch/downloads/ipblocklist.csv",
        schedule: "1h",
        base: "csv",
        column: Some("dst_ip"),
        indicator_type: Some(IndicatorType::Ipv4),
        confidence_column: None,
        label_columns: &[],
        labels: &["botnet_cc"],
        snapshot: true,
        confidence: 90,
    },
    CatalogueEntry {
        kind: "threatfox",
        description: "abuse.ch ThreatFox IOCs of the last 48 hours",
        url: "https://threatfox.abuse.ch/export/csv/recent/",
        schedule: "1h",
        base: "csv",
        column: Some("ioc_value"),
        indicator_type: None,
        confidence_column: Some("confidence_level"),
        label_columns: &["threat_type", "malware_printable", "tags"],
        labels: &[],
        snapshot: false,
        confidence: 75,
    },
    CatalogueEntry {
        kind: "sslbl",
        description: "abuse.ch SSLBL malicious certificate SHA-1s",
        url: "https://sslbl.abuse.ch/blacklist/sslblacklist.csv",
        schedule: "1h",
        base: "csv",
        column: Some("SHA1"),
        indicator_type: Some(IndicatorType::Sha1),
        confidence_column: None,
        label_columns: &[],
        labels: &["malicious_certificate"],
        snapshot: true,
        confidence: 90,
    },
    CatalogueEntry {
        kind: "malwarebazaar",
        description: "abuse.ch MalwareBazaar recent samples (SHA-256)",
        url: "https://bazaar.abuse.ch/export/csv/recent/",
        schedule: "1h",
        base: "csv",
        column: Some("sha256_hash"),
        indicator_type: Some(IndicatorType::Sha256),
        confidence_column: None,
        label_columns: &[],
        labels: &["malware"],
        snapshot: false,
        confidence: 90,
    },
    CatalogueEntry {
        kind: "openphish",
        description: "OpenPhish community feed, phishing URLs",
        url: "https://openphish.com/feed.txt",
        schedule: "12h",
        base: "text",
        column: None,
        indicator_type: Some(IndicatorType::Url),
        confidence_column: None,
        label_columns: &[],
        labels: &["phishing"],
        snapshot: true,
        confidence: 70,
    },
    CatalogueEntry {
        kind: "phishtank",
        description: "PhishTank verified online phishing URLs",
        url: "http://data.phishtank.com/data/online-valid.csv",
        schedule: "6h",
        base: "csv",
        column: Some("url"),
        indicator_type: Some(IndicatorType::Url),
        confidence_column: None,
        label_columns: &[],
        labels: &["phishing"],
        snapshot: true,
        confidence: 80,
    },
    CatalogueEntry {
        kind: "cins",
        description: "CINS Army bad-guy IPs",
        url: "https://cinsscore.com/list/ci-badguys.txt",
        schedule: "6h",
        base: "text",
        column: None,
        indicator_type: Some(IndicatorType::Ipv4),
        confidence_column: None,
        label_columns: &[],
        labels: &["scanner"],
        snapshot: true,
        confidence: 60,
    },
    CatalogueEntry {
        kind: "blocklistde",
        description: "blocklist.de attacking IPs",
        url: "https://lists.blocklist.de/lists/all.txt",
        schedule: "6h",
        base: "text",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &["attacker"],
        snapshot: true,
        confidence: 60,
    },
    CatalogueEntry {
        kind: "et",
        description: "Emerging Threats compromised IPs",
        url: "https://rules.emergingthreats.net/blockrules/compromised-ips.txt",
        schedule: "1d",
        base: "text",
        column: None,
        indicator_type: Some(IndicatorType::Ipv4),
        confidence_column: None,
        label_columns: &[],
        labels: &["compromised"],
        snapshot: true,
        confidence: 70,
    },
    CatalogueEntry {
        kind: "kev",
        description: "CISA Known Exploited Vulnerabilities catalogue",
        url: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
        schedule: "6h",
        base: "kev",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &["known_exploited"],
        snapshot: false,
        confidence: 95,
    },
    CatalogueEntry {
        kind: "exploitdb",
        description: "Exploit-DB exploits index",
        url: "https://gitlab.com/exploit-database/exploitdb/-/raw/main/files_exploits.csv",
        schedule: "1d",
        base: "exploitdb",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &["exploit"],
        snapshot: false,
        confidence: 80,
    },
    CatalogueEntry {
        kind: "nvd",
        description: "NVD CVE API 2.0, CVEs modified since the last run",
        url: "https://services.nvd.nist.gov/rest/json/cves/2.0",
        schedule: "2h",
        base: "nvd",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 90,
    },
    CatalogueEntry {
        kind: "jvn",
        description: "JVN iPedia vulnerabilities through MyJVN, Japanese",
        url: "https://jvndb.jvn.jp/myjvn",
        schedule: "6h",
        base: "jvn",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 85,
    },
    CatalogueEntry {
        kind: "jvn-news",
        description: "JVN (Japan Vulnerability Notes) news, Japanese",
        url: "https://jvn.jp/rss/jvn.rdf",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 70,
    },
    CatalogueEntry {
        kind: "jpcert",
        description: "JPCERT/CC alerts and news, Japanese",
        url: "https://www.jpcert.or.jp/rss/jpcert.rdf",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 70,
    },
    CatalogueEntry {
        kind: "ipa",
        description: "IPA security alerts, Japanese",
        url: "https://www.ipa.go.jp/security/rss/alert.rdf",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 70,
    },
    CatalogueEntry {
        kind: "krebs",
        description: "Krebs on Security",
        url: "https://krebsonsecurity.com/feed/",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 60,
    },
    CatalogueEntry {
        kind: "sans-isc",
        description: "SANS Internet Storm Center diaries",
        url: "https://isc.sans.edu/rssfeed.xml",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 60,
    },
    CatalogueEntry {
        kind: "bleepingcomputer",
        description: "BleepingComputer security news",
        url: "https://www.bleepingcomputer.com/feed/",
        schedule: "1h",
        base: "rss",
        column: None,
        indicator_type: None,
        confidence_column: None,
        label_columns: &[],
        labels: &[],
        snapshot: false,
        confidence: 60,
    },
    CatalogueEntry {
        kind: "spamhaus-drop",
        description: "Spamhaus DROP, hijacked netblocks",
        url: "https://www.spamhaus.org/drop/drop_v4.json",
        schedule: "12h",
        base: "ndjson",
        column: Some("cidr"),
        indicator_type: Some(IndicatorType::Cidr),
        confidence_column: None,
        label_columns: &[],
        labels: &["hijacked"],
        snapshot: true,
        confidence: 90,
    },
];

/// Generic kinds a `[[source]]` may name directly.
pub const GENERIC_KINDS: &[&str] = &[
    "text",
    "csv",
    "json",
    "ndjson",
    "rss",
    "kev",
    "nvd",
    "exploitdb",
    "misp-feed",
    "misp",
    "jvn",
    "otx",
    "mastodon",
    "bluesky",
    "x",
    "threatconnect",
    "taxii",
    "xforce",
];

/// The catalogue entry named `kind`.
pub fn catalogue(kind: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.kind == kind)
}

/// A configuration mistake in one `[[source]]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source {name:?}: {message}")]
pub struct SourceError {
    /// The table's `name`.
    pub name: String,
    /// What is wrong, naming the key.
    pub message: String,
}

/// How a fetched body becomes records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parser {
    /// A generic list, CSV or JSON feed of indicators.
    Feed(FeedFormat),
    /// RSS 2.0, RSS 1.0 (RDF) or Atom news: articles whose text is searched for indicators.
    Rss,
    /// The CISA KEV catalogue (JSON, or CSV when the body is not JSON).
    Kev,
    /// An NVD CVE API 2.0 page.
    Nvd,
    /// Exploit-DB `files_exploits.csv`.
    ExploitDb,
    /// A MISP feed: `url` is the feed directory with `manifest.json` and one
    /// `<uuid>.json` per event, fetched when newer than the last run's.
    MispFeed,
    /// A MISP server: `url` is its base URL; events are pulled through
    /// `/events/restSearch`, paged, newer than the last run's.
    Misp,
    /// MyJVN `getVulnOverviewList` (JVN iPedia), paged by `startItem`.
    MyJvn,
    /// `AlienVault` OTX subscribed pulses (`/api/v1/pulses/subscribed`),
    /// `modified_since` the last run's newest pulse, following `next`.
    Otx,
    /// A Mastodon timeline (`url` = e.g. `https://instance/api/v1/timelines/tag/ioc`
    /// or an account's statuses), paged forward with `min_id`.
    Mastodon,
    /// Bluesky public post search (`app.bsky.feed.searchPosts`), `since` the
    /// newest post stored, paged with `cursor`.
    Bluesky,
    /// X API v2 recent search, `since_id` the newest post stored, paged with `next_token`.
    X,
    /// ThreatConnect v3 indicators modified since the last run (TQL), paged
    /// with `next`, each request signed when HMAC signing is configured.
    ThreatConnect,
    /// A TAXII 2.1 collection (`url` = discovery or API root), `added_after`
    /// the last run's `X-TAXII-Date-Added-Last`, paged with `next`.
    Taxii,
    /// IBM X-Force Exchange: public case files, and vulnerabilities reported
    /// since the last run (full-text search, `bookmark` paging).
    XForce,
}

/// HTTP authentication of a source, its secret read at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// Basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Where the password is.
        password: SecretFrom,
    },
    /// A bearer token.
    Bearer(SecretFrom),
}

impl HttpAuth {
    /// The `Authorization` header value, secrets read now; the error names
    /// the key, never the value.
    pub fn header(&self) -> Result<String, String> {
        use base64::Engine as _;
        match self {
            Self::Basic { username, password } => {
                let pass = password.read("password")?;
                let raw = format!("{username}:{pass}");
                Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
            Self::Bearer(token) => Ok(format!("Bearer {}", token.read("token")?)),
        }
    }
}

impl SecretFrom {
    /// The secret, trimmed; `key` names it in errors (`password` → `password_env`).
    pub fn read(&self, key: &str) -> Result<String, String> {
        match self {
            Self::Env(var) => std::env::var(var)
                .map(|v| v.trim().to_owned())
                .map_err(|_| format!("{key}_env: environment variable {var} is not set")),
            Self::File(path) => rexist_http::read_secret_file(path, &format!("{key}_file"))
                .map(|v| v.expose().to_owned())
                .map_err(|e| e.to_string()),
        }
    }
}

impl SourceConfig {
    /// Basic or bearer authentication from the table's keys.
    fn auth(&self) -> Result<Option<HttpAuth>, String> {
        let secret = |env: &Option<String>, file: &Option<PathBuf>, key: &str| match (env, file) {
            (None, None) => Ok(None),
            (Some(v), None) => Ok(Some(SecretFrom::Env(v.clone()))),
            (None, Some(p)) => Ok(Some(SecretFrom::File(p.clone()))),
            (Some(_), Some(_)) => Err(format!("give {key}_env or {key}_file, not both")),
        };
        let password = secret(&self.password_env, &self.password_file, "password")?;
        let token = secret(&self.token_env, &self.token_file, "token")?;
        match (&self.username, password, token) {
            (None, None, None) => Ok(None),
            (Some(u), Some(p), None) => Ok(Some(HttpAuth::Basic {
                username: u.clone(),
                password: p,
            })),
            (None, None, Some(t)) => Ok(Some(HttpAuth::Bearer(t))),
            (Some(_), None, None) => Err("username needs password_env or password_file".to_owned()),
            (None, Some(_), None) => Err("password_env/password_file needs username".to_owned()),
            (_, _, Some(_)) => {
                Err("give username with a password, or a token, not both".to_owned())
            }
        }
    }
}

/// Where a secret is read from, at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFrom {
    /// An environment variable.
    Env(String),
    /// A file (trimmed).
    File(PathBuf),
}

/// HMAC request signing (ThreatConnect Access ID + secret key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    /// The Access ID, sent in the clear.
    pub access_id: String,
    /// Where the secret key is.
    pub secret: SecretFrom,
}

impl Signing {
    /// The secret key, read now; the error names the variable or file, never the value.
    pub fn secret(&self) -> Result<String, String> {
        self.secret.read("secret")
    }
}

/// A source ready to run: configuration merged with its catalogue defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSource {
    /// Name.
    pub name: String,
    /// When a list's answer is trusted to replace the listed set.
    pub limits: crate::contract::SnapshotLimits,
    /// The `kind` as configured.
    pub kind: String,
    /// What to fetch.
    pub url: String,
    /// How often (for a cron schedule, the gap between its next two times).
    pub every: Duration,
    /// The cron expression, when the schedule is one (times in UTC).
    pub cron: Option<String>,
    /// Whether it is enabled by configuration.
    pub enabled: bool,
    /// Confidence 0–100.
    pub confidence: u8,
    /// TLP.
    pub tlp: Tlp,
    /// Tags.
    pub tags: Vec<String>,
    /// Labels of every sighting.
    pub labels: Vec<String>,
    /// How to read the body.
    pub parser: Parser,
    /// Whether a fetch is the whole list.
    pub snapshot: bool,
    /// Entries per page of paged APIs.
    pub page_size: u32,
    /// Search query of `bluesky` and `x` sources.
    pub query: Option<String>,
    /// Whether the search also takes the terms of the enabled query hunts.
    pub query_from_hunts: bool,
    /// ThreatConnect owner.
    pub owner: Option<String>,
    /// OTX users whose pulses are pulled too.
    pub otx_users: Vec<String>,
    /// ThreatConnect HMAC signing: the Access ID and where the secret is.
    pub signing: Option<Signing>,
    /// TAXII collection, by id or title.
    pub collection: Option<String>,
    /// TAXII `match[type]` filter.
    pub stix_types: Vec<String>,
    /// HTTP authentication added to every request.
    pub auth: Option<HttpAuth>,
    /// Header names and where their values come from.
    pub headers_env: BTreeMap<String, String>,
    /// Header names and the files holding their values.
    pub headers_file: BTreeMap<String, PathBuf>,
}

/// Parses `30m`, `1h`, `6h`, `1d`, `90s`.
pub fn parse_every(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl SourceConfig {
    /// A table that only names a catalogue entry, as `serve` enables by default.
    pub fn from_catalogue(entry: &CatalogueEntry) -> Self {
        Self {
            name: entry.kind.to_owned(),
            kind: entry.kind.to_owned(),
            url: None,
            schedule: None,
            enabled: true,
            confidence: None,
            tlp: None,
            tags: Vec::new(),
            labels: Vec::new(),
            indicator_type: None,
            column: None,
            delimiter: None,
            confidence_column: None,
            label_columns: None,
            encoding: None,
            array: None,
            field: None,
            snapshot: None,
            max_shrink: None,
            max_rejected: None,
            page_size: None,
            headers_env: BTreeMap::new(),
            headers_file: BTreeMap::new(),
            query: None,
            query_from_hunts: None,
            otx_users: Vec::new(),
            owner: None,
            access_id: None,
            secret_env: None,
            secret_file: None,
            collection: None,
            stix_types: Vec::new(),
            username: None,
            password_env: None,
            password_file: None,
            token_env: None,
            token_file: None,
        }
    }

    /// Merges catalogue defaults and checks the table, without I/O.
    pub fn resolve(&self) -> Result<ResolvedSource, SourceError> {
        let err = |message: String| SourceError {
            name: self.name.clone(),
            message,
        };
        if self.name.trim().is_empty() {
            return Err(err("name must not be empty".to_owned()));
        }
        let entry = catalogue(&self.kind);
        let base = match entry {
            Some(e) => e.base,
            None if GENERIC_KINDS.contains(&self.kind.as_str()) => self.kind.as_str(),
            None => {
                let known: Vec<&str> = CATALOGUE
                    .iter()
                    .map(|e| e.kind)
                    .chain(GENERIC_KINDS.iter().copied())
                    .collect();
                return Err(err(format!(
                    "unknown kind {:?} (known: {})",
                    self.kind,
                    known.join(", ")
                )));
            }
        };
        let url = self
            .url
            .clone()
            .or_else(|| entry.map(|e| e.url.to_owned()))
            .or_else(|| {
                match base {
                    "otx" => Some("https://otx.alienvault.com"),
                    "bluesky" => Some("https://public.api.bsky.app"),
                    "x" => Some("https://api.x.com"),
                    "threatconnect" => Some("https://app.threatconnect.com/api"),
                    "xforce" => Some("https://api.xforce.ibmcloud.com"),
                    _ => None,
                }
                .map(str::to_owned)
            })
            .ok_or_else(|| err("url is required for this kind".to_owned()))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(format!(
                "url {} must start with http:// or https://",
                crate::http::redact(&url)
            )));
        }
        let schedule = self
            .schedule
            .as_deref()
            .or(entry.map(|e| e.schedule))
            .unwrap_or("6h");
        let (every, cron) = if schedule.trim().contains(char::is_whitespace) {
            let gap = cron_gap(schedule).map_err(|e| {
                err(format!("schedule {schedule:?} is not an interval (30m, 1h, 6h, 1d) or a cron expression: {e}"))
            })?;
            (gap, Some(schedule.trim().to_owned()))
        } else {
            let every = parse_every(schedule)
                .ok_or_else(|| err(format!("schedule {schedule:?} is not an interval (30m, 1h, 6h, 1d) or a cron expression")))?;
            (every, None)
        };
        let column = self
            .column
            .clone()
            .or_else(|| entry.and_then(|e| e.column).map(str::to_owned));
        let delimiter = match self.delimiter {
            Some(c) if c.is_ascii() => u8::try_from(u32::from(c))
                .map_err(|_| err(format!("delimiter {c:?} must be one ASCII character")))?,
            Some(c) => return Err(err(format!("delimiter {c:?} must be one ASCII character"))),
            None => b',',
        };
        let feed_layout = match base {
            "rss" | "kev" | "nvd" | "exploitdb" | "misp-feed" | "misp" | "jvn" | "otx"
            | "mastodon" | "bluesky" | "x" | "threatconnect" | "taxii" | "xforce" => None,
            "text" => Some(Layout::Lines),
            "csv" => Some(match column.as_deref() {
                Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                    let n: usize = c
                        .parse()
                        .map_err(|_| err(format!("column {c:?} is not a number")))?;
                    if n == 0 {
                        return Err(err("column 0: columns count from 1".to_owned()));
                    }
                    Layout::Index(n - 1)
                }
                Some(c) => Layout::Header(c.to_owned()),
                None => {
                    return Err(err(
                        "csv needs column (a 1-based number or a header name)".to_owned()
                    ));
                }
            }),
            "json" => Some(Layout::Json {
                array: self.array.clone().unwrap_or_default(),
                field: self.field.clone().or(column).unwrap_or_default(),
            }),
            _ => Some(Layout::Ndjson {
                field: self
                    .field
                    .clone()
                    .or(column)
                    .ok_or_else(|| err("ndjson needs field".to_owned()))?,
            }),
        };
        let parser = match (feed_layout, base) {
            (Some(layout), _) => {
                let format = FeedFormat {
                    layout,
                    delimiter,
                    kind: self.indicator_type.or(entry.and_then(|e| e.indicator_type)),
                    encoding: self.encoding.clone(),
                    confidence_column: self
                        .confidence_column
                        .clone()
                        .or_else(|| entry.and_then(|e| e.confidence_column).map(str::to_owned)),
                    label_columns: self.label_columns.clone().unwrap_or_else(|| {
                        entry
                            .map(|e| e.label_columns.iter().map(|c| (*c).to_owned()).collect())
                            .unwrap_or_default()
                    }),
                };
                format.validate().map_err(err)?;
                Parser::Feed(format)
            }
            (None, "rss") => Parser::Rss,
            (None, "kev") => Parser::Kev,
            (None, "nvd") => Parser::Nvd,
            (None, "misp-feed") => Parser::MispFeed,
            (None, "misp") => Parser::Misp,
            (None, "jvn") => Parser::MyJvn,
            (None, "otx") => Parser::Otx,
            (None, "mastodon") => Parser::Mastodon,
            (None, "bluesky") => Parser::Bluesky,
            (None, "x") => Parser::X,
            (None, "threatconnect") => Parser::ThreatConnect,
            (None, "taxii") => Parser::Taxii,
            (None, "xforce") => Parser::XForce,
            (None, _) => Parser::ExploitDb,
        };
        if let Some(c) = self.confidence {
            if c > 100 {
                return Err(err(format!("confidence {c} is above 100")));
            }
        }
        let mut labels: Vec<String> = entry
            .map(|e| e.labels.iter().map(|l| (*l).to_owned()).collect())
            .unwrap_or_default();
        labels.extend(self.labels.iter().cloned());
        let share = |key: &str, v: Option<f64>, default: f64| match v {
            None => Ok(default),
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
            Some(x) => Err(err(format!(
                "{key} {x} must be a share from 0 to 1 (0.5 = 50 %)"
            ))),
        };
        let limits = crate::contract::SnapshotLimits {
            max_shrink: share("max_shrink", self.max_shrink, 0.5)?,
            max_rejected: share("max_rejected", self.max_rejected, 0.5)?,
        };
        Ok(ResolvedSource {
            name: self.name.clone(),
            limits,
            kind: self.kind.clone(),
            url,
            every,
            cron,
            enabled: self.enabled,
            confidence: self
                .confidence
                .or(entry.map(|e| e.confidence))
                .unwrap_or(50),
            tlp: self.tlp.unwrap_or(Tlp::Clear),
            tags: self.tags.clone(),
            labels,
            parser,
            snapshot: self.snapshot.or(entry.map(|e| e.snapshot)).unwrap_or(false),
            page_size: match self.page_size {
                Some(0) => return Err(err("page_size must be at least 1".to_owned())),
                Some(n) => n,
                // NVD serves up to 2000 a page and rate-limits requests, not rows.
                None if base == "nvd" => 2000,
                // MyJVN's maxCountItem is at most 50.
                None if base == "jvn" => 50,
                None => 100,
            },
            headers_env: self.headers_env.clone(),
            headers_file: self.headers_file.clone(),
            query: match (base, self.query.as_deref().map(str::trim)) {
                ("bluesky" | "x", None | Some("")) if self.query_from_hunts != Some(true) => {
                    return Err(err(format!(
                        "{base} needs query (the search terms) or query_from_hunts = true"
                    )));
                }
                (_, Some("")) => None,
                (_, q) => q.map(str::to_owned),
            },
            query_from_hunts: self.query_from_hunts.unwrap_or(false),
            owner: self.owner.clone(),
            otx_users: self.otx_users.clone(),
            signing: match (&self.access_id, &self.secret_env, &self.secret_file) {
                (None, None, None) => None,
                (Some(id), Some(var), None) => Some(Signing {
                    access_id: id.clone(),
                    secret: SecretFrom::Env(var.clone()),
                }),
                (Some(id), None, Some(path)) => Some(Signing {
                    access_id: id.clone(),
                    secret: SecretFrom::File(path.clone()),
                }),
                _ => {
                    return Err(err(
                        "HMAC signing needs access_id and exactly one of secret_env, secret_file"
                            .to_owned(),
                    ));
                }
            },
            collection: match (base, self.collection.as_deref().map(str::trim)) {
                ("taxii", None | Some("")) => {
                    return Err(err("taxii needs collection (its id or title)".to_owned()));
                }
                (_, c) => c.map(str::to_owned),
            },
            auth: self.auth().map_err(err)?,
            stix_types: self.stix_types.clone(),
        })
    }
}

/// The gap between the next two times of a cron expression, which also validates it.
fn cron_gap(expression: &str) -> Result<Duration, String> {
    let cron: croner::Cron = expression
        .trim()
        .parse()
        .map_err(|e: croner::errors::CronError| e.to_string())?;
    let now = chrono::Utc::now();
    let first = cron
        .find_next_occurrence(&now, false)
        .map_err(|e| e.to_string())?;
    let second = cron
        .find_next_occurrence(&first, false)
        .map_err(|e| e.to_string())?;
    (second - first).to_std().map_err(|e| e.to_string())
}

impl ResolvedSource {
    /// When the source is due after a run that started at `last`: `every`
    /// later, or the next time of its cron expression.
    pub fn next_run(&self, last: time::OffsetDateTime) -> time::OffsetDateTime {
        let by_interval = last + self.every;
        let Some(expression) = &self.cron else {
            return by_interval;
        };
        let Ok(cron) = expression.parse::<croner::Cron>() else {
            return by_interval;
        };
        let Some(start) = chrono::DateTime::from_timestamp(last.unix_timestamp(), 0) else {
            return by_interval;
        };
        cron.find_next_occurrence(&start, false)
            .ok()
            .and_then(|next| time::OffsetDateTime::from_unix_timestamp(next.timestamp()).ok())
            .unwrap_or(by_interval)
    }

    /// The request headers, with values read from the environment or files now.
    pub fn headers(&self) -> Result<Vec<(String, String)>, SourceError> {
        let err = |message: String| SourceError {
            name: self.name.clone(),
            message,
        };
        let mut out = Vec::new();
        for (header, var) in &self.headers_env {
            let value = std::env::var(var).map_err(|_| {
                err(format!(
                    "header {header}: environment variable {var} is not set"
                ))
            })?;
            out.push((header.clone(), value.trim().to_owned()));
        }
        for (header, path) in &self.headers_file {
            let value = rexist_http::read_secret_file(path, &format!("header {header}"))
                .map_err(|e| err(e.to_string()))?;
            out.push((header.clone(), value.expose().to_owned()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml_kind: &str, extra: &str) -> SourceConfig {
        let mut c = SourceConfig::from_catalogue(&CATALOGUE[0]);
        c.kind = toml_kind.to_owned();
        c.name = format!("{toml_kind}-test");
        if extra == "url" {
            c.url = Some("https://mirror.example/list.csv".to_owned());
        }
        c
    }

    #[test]
    fn every_catalogue_entry_resolves() {
        for entry in CATALOGUE {
            let resolved = SourceConfig::from_catalogue(entry)
                .resolve()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(resolved.url, entry.url);
            assert!(
                resolved.every >= Duration::from_secs(3600),
                "{} polls politely",
                entry.kind
            );
        }
    }

    #[test]
    fn overrides_and_generic_kinds() {
        let mirror = table("urlhaus", "url").resolve().unwrap();
        assert_eq!(mirror.url, "https://mirror.example/list.csv");
        assert!(
            matches!(&mirror.parser, Parser::Feed(f) if f.layout == Layout::Header("url".into()))
        );
        let mut csv = table("csv", "url");
        csv.column = Some("3".into());
        assert!(
            matches!(csv.resolve().unwrap().parser, Parser::Feed(f) if f.layout == Layout::Index(2))
        );
        assert_eq!(table("rss", "url").resolve().unwrap().parser, Parser::Rss);
        let mut bad = table("csv", "url");
        bad.column = None;
        assert!(
            bad.resolve()
                .unwrap_err()
                .to_string()
                .contains("csv needs column")
        );
        let err = table("nope", "url").resolve().unwrap_err().to_string();
        assert!(
            err.contains("unknown kind \"nope\"") && err.contains("urlhaus"),
            "{err}"
        );
        let err = table("text", "").resolve().unwrap_err().to_string();
        assert!(err.contains("url is required"), "{err}");
        let mut slow = table("urlhaus", "");
        slow.schedule = Some("often".into());
        assert!(
            slow.resolve()
                .unwrap_err()
                .to_string()
                .contains("schedule \"often\"")
        );
    }

    #[test]
    fn cron_schedules() {
        let mut c = table("text", "url");
        c.schedule = Some("0 */6 * * *".into());
        let r = c.resolve().unwrap();
        assert_eq!(r.every, Duration::from_secs(6 * 3600));
        let last = time::macros::datetime!(2026-11-24 13:05 UTC);
        assert_eq!(
            r.next_run(last),
            time::macros::datetime!(2026-11-24 18:00 UTC)
        );
        c.schedule = Some("61 * * * *".into());
        let e = c.resolve().unwrap_err().to_string();
        assert!(e.contains("not an interval") && e.contains("cron"), "{e}");
        let interval = table("text", "url").resolve().unwrap();
        assert_eq!(
            interval.next_run(last),
            last + Duration::from_secs(6 * 3600),
            "the default 6h"
        );
    }

    #[test]
    fn schedules() {
        assert_eq!(parse_every("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_every("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_every("0h"), None);
        assert_eq!(parse_every("h"), None);
        assert_eq!(parse_every("5w"), None);
    }
}
