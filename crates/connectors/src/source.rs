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

use rexist_core::{IndicatorType, SourceClass, Tlp};
use serde::Deserialize;

/// One `[[source]]` table: the keys every source has, and its kind's own
/// ([`Params`], tagged by `kind`). A key its kind does not take is an error
/// that names the key and, through the TOML reader, the table's line.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Unique name, used by `rexist source run NAME` and in the API.
    pub name: String,
    /// A catalogue entry (`urlhaus`, `feodo`, …) or a generic kind (`text`, `csv`, `misp`, …).
    pub kind: String,
    /// Where to fetch from (catalogue entries and hosted services have a default).
    pub url: Option<String>,
    /// How often to run: an interval (`30m`, `1h`, `6h`, `1d`) or a cron
    /// expression in UTC (`0 */6 * * *`); catalogue entries have a polite default.
    pub schedule: Option<String>,
    /// Whether the scheduler runs it (runtime `rexist source enable|disable` wins once set).
    pub enabled: bool,
    /// Confidence 0–100 given to its sightings.
    pub confidence: Option<u8>,
    /// TLP of what it brings: the floor of every item and sighting it stores.
    pub tlp: Option<Tlp>,
    /// Tags added to everything it brings.
    pub tags: Vec<String>,
    /// Threat or malware labels added to every sighting (`botnet`, `phishing`).
    pub labels: Vec<String>,
    /// HTTP headers whose values are read from environment variables, e.g.
    /// `{ "Auth-Key" = "ABUSECH_AUTH_KEY" }`; never written back or logged.
    /// A value is sent as read: an `Authorization` variable holds the whole
    /// value, prefix included (`Bearer …`, `TC-Token …`).
    pub headers_env: BTreeMap<String, String>,
    /// HTTP headers whose values are read from files (container secrets).
    pub headers_file: BTreeMap<String, PathBuf>,
    /// The keys of its kind.
    pub params: Params,
}

/// The keys every `[[source]]` table may have, whatever its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonKeys {
    name: String,
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    confidence: Option<u8>,
    #[serde(default)]
    tlp: Option<Tlp>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    headers_env: BTreeMap<String, String>,
    #[serde(default)]
    headers_file: BTreeMap<String, PathBuf>,
}

/// Names of the keys every table may have.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "schedule",
    "enabled",
    "confidence",
    "tlp",
    "tags",
    "labels",
    "headers_env",
    "headers_file",
];

impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let mut common = serde_json::Map::new();
        for key in COMMON_KEYS {
            if let Some(v) = table.remove(*key) {
                common.insert((*key).to_owned(), v);
            }
        }
        let common: CommonKeys =
            serde_json::from_value(serde_json::Value::Object(common)).map_err(D::Error::custom)?;
        let params = Params::from_table(&common.kind, table).map_err(|e| {
            D::Error::custom(format!(
                "source {:?} (kind {:?}): {e}",
                common.name, common.kind
            ))
        })?;
        Ok(Self {
            name: common.name,
            kind: common.kind,
            url: common.url,
            schedule: common.schedule,
            enabled: common.enabled,
            confidence: common.confidence,
            tlp: common.tlp,
            tags: common.tags,
            labels: common.labels,
            headers_env: common.headers_env,
            headers_file: common.headers_file,
            params,
        })
    }
}

fn default_true() -> bool {
    true
}

/// The keys of a kind that takes none beyond the common ones (`rss`, `kev`,
/// `exploitdb`, `misp-feed`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The keys of a paged kind that takes only `page_size` (`misp`, `nvd`,
/// `jvn`, `mastodon`; each module names its default `PAGE_SIZE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Entries per page.
    #[serde(default)]
    pub page_size: Option<u32>,
}

impl Paging {
    /// Entries per page, `default` when unset.
    pub fn page_size(&self, default: u32) -> u32 {
        self.page_size.unwrap_or(default)
    }
}

/// A source kind's own keys: one variant per generic kind, each variant's
/// struct in its connector's module. A catalogue entry takes the keys of the
/// kind it is built on.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// A plain list, one value a line.
    Text(crate::lists::ListParams),
    /// A CSV file, one column of values.
    Csv(crate::lists::ListParams),
    /// A JSON document with an array of entries.
    Json(crate::lists::ListParams),
    /// One JSON object a line.
    Ndjson(crate::lists::ListParams),
    /// RSS 2.0, RSS 1.0 (RDF) or Atom news.
    Rss(NoParams),
    /// The CISA KEV catalogue.
    Kev(NoParams),
    /// Exploit-DB's `files_exploits.csv`.
    ExploitDb(NoParams),
    /// NVD CVE API 2.0.
    Nvd(Paging),
    /// MyJVN `getVulnOverviewList`.
    Jvn(Paging),
    /// A MISP feed directory.
    MispFeed(NoParams),
    /// A MISP server (`restSearch`).
    Misp(Paging),
    /// `AlienVault` OTX pulses.
    Otx(crate::otx::Params),
    /// A Mastodon timeline.
    Mastodon(Paging),
    /// Bluesky post search.
    Bluesky(crate::search::Params),
    /// X recent search.
    X(crate::search::Params),
    /// ThreatConnect v3.
    ThreatConnect(crate::threatconnect::Params),
    /// A TAXII 2.1 collection.
    Taxii(crate::taxii::Params),
    /// IBM X-Force Exchange.
    XForce(crate::xforce::Params),
}

/// The generic kinds a `[[source]]` may name (catalogue entries are built on them).
pub const GENERIC_KINDS: &[&str] = &[
    "text",
    "csv",
    "json",
    "ndjson",
    "rss",
    "kev",
    "exploitdb",
    "nvd",
    "jvn",
    "misp-feed",
    "misp",
    "otx",
    "mastodon",
    "bluesky",
    "x",
    "threatconnect",
    "taxii",
    "xforce",
];

/// The generic kind `kind` names: itself, or the base of its catalogue entry.
pub fn base_kind(kind: &str) -> Option<&'static str> {
    catalogue(kind)
        .map(|e| e.base)
        .or_else(|| GENERIC_KINDS.iter().find(|k| **k == kind).copied())
}

/// The class of a configured kind (a catalogue entry or a generic kind):
/// its base kind's ([`SourceClass::of_base`]); `file` (`rexist ingest
/// file`) is a feed, anything else `other`.
pub fn source_class(kind: &str) -> SourceClass {
    SourceClass::of_base(base_kind(kind).unwrap_or(kind))
}

/// Whether a configured kind is NVD, JVN or KEV: a CVE's database entry
/// ([`rexist_core::class::is_cve_authority`]).
pub fn is_cve_authority(kind: &str) -> bool {
    base_kind(kind).is_some_and(rexist_core::class::is_cve_authority)
}

fn known_kinds() -> String {
    CATALOGUE
        .iter()
        .map(|e| e.kind)
        .chain(GENERIC_KINDS.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Params {
    /// The kind's keys from what is left of a table once the common keys
    /// are taken; the error names the key that does not apply.
    pub fn from_table(
        kind: &str,
        keys: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        fn read<T: serde::de::DeserializeOwned>(
            keys: serde_json::Map<String, serde_json::Value>,
        ) -> Result<T, String> {
            serde_json::from_value(serde_json::Value::Object(keys)).map_err(|e| e.to_string())
        }
        let base = base_kind(kind)
            .ok_or_else(|| format!("unknown kind {kind:?} (known: {})", known_kinds()))?;
        let list = |keys| -> Result<crate::lists::ListParams, String> {
            let p: crate::lists::ListParams = read(keys)?;
            match p.misplaced(base) {
                Some(k) => Err(format!(
                    "key `{k}` does not apply to a {base} list (its keys: {})",
                    crate::lists::ListParams::keys(base).join(", ")
                )),
                None => Ok(p),
            }
        };
        Ok(match base {
            "text" => Self::Text(list(keys)?),
            "csv" => Self::Csv(list(keys)?),
            "json" => Self::Json(list(keys)?),
            "ndjson" => Self::Ndjson(list(keys)?),
            "rss" => Self::Rss(read(keys)?),
            "kev" => Self::Kev(read(keys)?),
            "exploitdb" => Self::ExploitDb(read(keys)?),
            "nvd" => Self::Nvd(read(keys)?),
            "jvn" => Self::Jvn(read(keys)?),
            "misp-feed" => Self::MispFeed(read(keys)?),
            "misp" => Self::Misp(read(keys)?),
            "otx" => Self::Otx(read(keys)?),
            "mastodon" => Self::Mastodon(read(keys)?),
            "bluesky" => Self::Bluesky(read(keys)?),
            "x" => Self::X(read(keys)?),
            "threatconnect" => Self::ThreatConnect(read(keys)?),
            "taxii" => Self::Taxii(read(keys)?),
            _ => Self::XForce(read(keys)?),
        })
    }

    /// The keys a table of `kind` may have beyond the common ones (for
    /// `rexist config check`, the docs, and the test that keeps
    /// `rexist.example.toml` complete).
    pub fn keys(kind: &str) -> Vec<String> {
        match base_kind(kind) {
            Some(base @ ("text" | "csv" | "json" | "ndjson")) => {
                crate::lists::ListParams::keys(base)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }
            Some(base) => {
                // serde names a struct's fields when one is unknown.
                let probe =
                    serde_json::Map::from_iter([("\u{1}".to_owned(), serde_json::Value::Null)]);
                // ("expected `a`", "expected `a` or `b`", "expected one of
                // `a`, `b`, `c`", "there are no fields").
                match Self::from_table(base, probe) {
                    Err(e) => e
                        .split_once("expected ")
                        .map(|(_, names)| {
                            names
                                .split('`')
                                .skip(1)
                                .step_by(2)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    Ok(_) => Vec::new(),
                }
            }
            None => Vec::new(),
        }
    }

    /// The keys of `base` with nothing set.
    fn empty(base: &str) -> Self {
        Self::from_table(base, serde_json::Map::new()).unwrap_or(Self::Rss(NoParams::default()))
    }

    /// Whether a run asks for the terms of the enabled query hunts.
    pub fn wants_hunt_terms(&self) -> bool {
        matches!(self, Self::Bluesky(p) | Self::X(p) if p.query_from_hunts)
    }

    /// Whether each answer is the whole list (snapshot lists only).
    pub fn snapshot(&self) -> bool {
        matches!(self, Self::Text(p) | Self::Csv(p) | Self::Json(p) | Self::Ndjson(p) if p.snapshot == Some(true))
    }

    /// The layout name of a list kind.
    fn layout(&self) -> Option<&'static str> {
        match self {
            Self::Text(_) => Some("text"),
            Self::Csv(_) => Some("csv"),
            Self::Json(_) => Some("json"),
            Self::Ndjson(_) => Some("ndjson"),
            _ => None,
        }
    }

    /// A list kind's keys.
    fn list_params(&self) -> Option<&crate::lists::ListParams> {
        match self {
            Self::Text(p) | Self::Csv(p) | Self::Json(p) | Self::Ndjson(p) => Some(p),
            _ => None,
        }
    }

    /// Checks the keys without I/O, and builds what a run needs, so a
    /// mistake is found at load time.
    fn validate(&self, url: &str) -> Result<Option<HttpAuth>, String> {
        if let (Some(layout), Some(p)) = (self.layout(), self.list_params()) {
            p.list(layout, url.to_owned())?;
        }
        let page_size = match self {
            Self::Nvd(p) | Self::Jvn(p) | Self::Misp(p) | Self::Mastodon(p) => p.page_size,
            Self::Otx(p) => p.page_size,
            Self::Bluesky(p) | Self::X(p) => p.page_size,
            Self::ThreatConnect(p) => p.page_size,
            Self::Taxii(p) => p.page_size,
            _ => None,
        };
        if page_size == Some(0) {
            return Err("page_size must be at least 1".to_owned());
        }
        match self {
            Self::Bluesky(p) | Self::X(p) => p.validate().map(|()| None),
            Self::ThreatConnect(p) => p.signing().map(|_| None),
            Self::Taxii(p) => {
                p.validate()?;
                p.auth()
            }
            Self::XForce(p) => p.auth(),
            _ => Ok(None),
        }
    }
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

/// Basic or bearer authentication from a table's `username`,
/// `password_env` / `password_file` and `token_env` / `token_file`; the
/// error names the keys, never a value.
pub fn http_auth(
    username: Option<&str>,
    password: (Option<&str>, Option<&std::path::Path>),
    token: (Option<&str>, Option<&std::path::Path>),
) -> Result<Option<HttpAuth>, String> {
    let secret =
        |(env, file): (Option<&str>, Option<&std::path::Path>), key: &str| match (env, file) {
            (None, None) => Ok(None),
            (Some(v), None) => Ok(Some(SecretFrom::Env(v.to_owned()))),
            (None, Some(p)) => Ok(Some(SecretFrom::File(p.to_owned()))),
            (Some(_), Some(_)) => Err(format!("give {key}_env or {key}_file, not both")),
        };
    let password = secret(password, "password")?;
    let token = secret(token, "token")?;
    match (username, password, token) {
        (None, None, None) => Ok(None),
        (Some(u), Some(p), None) => Ok(Some(HttpAuth::Basic {
            username: u.to_owned(),
            password: p,
        })),
        (None, None, Some(t)) => Ok(Some(HttpAuth::Bearer(t))),
        (Some(_), None, None) => Err("username needs password_env or password_file".to_owned()),
        (None, Some(_), None) => Err("password_env/password_file needs username".to_owned()),
        (_, _, Some(_)) => Err("give username with a password, or a token, not both".to_owned()),
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
    /// The kind's own keys, catalogue defaults merged and checked.
    pub params: Params,
    /// HTTP authentication added to every request.
    pub auth: Option<HttpAuth>,
    /// Header names and where their values come from.
    pub headers_env: BTreeMap<String, String>,
    /// Header names and the files holding their values.
    pub headers_file: BTreeMap<String, PathBuf>,
}

impl ResolvedSource {
    /// The list a list source reads (its format, snapshot and limits).
    pub fn list(&self) -> Option<crate::lists::List> {
        let layout = self.params.layout()?;
        self.params
            .list_params()?
            .list(layout, self.url.clone())
            .ok()
    }
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
            headers_env: BTreeMap::new(),
            headers_file: BTreeMap::new(),
            params: Params::empty(entry.base),
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
        let base = base_kind(&self.kind).ok_or_else(|| {
            err(format!(
                "unknown kind {:?} (known: {})",
                self.kind,
                known_kinds()
            ))
        })?;
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
        // A catalogue list's column, type, snapshot and metadata columns sit
        // under what the table says.
        let params = match (&self.params, entry) {
            (Params::Text(p), Some(e)) => Params::Text(p.clone().with_defaults(e)),
            (Params::Csv(p), Some(e)) => Params::Csv(p.clone().with_defaults(e)),
            (Params::Json(p), Some(e)) => Params::Json(p.clone().with_defaults(e)),
            (Params::Ndjson(p), Some(e)) => Params::Ndjson(p.clone().with_defaults(e)),
            (p, _) => p.clone(),
        };
        let auth = params.validate(&url).map_err(err)?;
        if let Some(c) = self.confidence {
            if c > 100 {
                return Err(err(format!("confidence {c} is above 100")));
            }
        }
        let mut labels: Vec<String> = entry
            .map(|e| e.labels.iter().map(|l| (*l).to_owned()).collect())
            .unwrap_or_default();
        labels.extend(self.labels.iter().cloned());
        Ok(ResolvedSource {
            name: self.name.clone(),
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
            params,
            auth,
            headers_env: self.headers_env.clone(),
            headers_file: self.headers_file.clone(),
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
    use crate::feed::Layout;

    /// A `[[source]]` table read as the configuration reads it.
    fn parse(text: &str) -> Result<SourceConfig, String> {
        toml::from_str::<SourceConfig>(text).map_err(|e| e.to_string())
    }

    fn table(kind: &str, extra: &str) -> SourceConfig {
        parse(&format!(
            "name = \"{kind}-test\"\nkind = \"{kind}\"\n{}{extra}\n",
            "url = \"https://mirror.example/list.csv\"\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn layout(r: &ResolvedSource) -> Option<Layout> {
        r.list().map(|l| l.format.layout)
    }

    #[test]
    fn every_kind_has_a_class() {
        // A new generic kind or catalogue entry must say what kind of voice
        // it is, or early warning counts it as `other`.
        for kind in CATALOGUE
            .iter()
            .map(|e| e.kind)
            .chain(GENERIC_KINDS.iter().copied())
        {
            assert_ne!(source_class(kind), SourceClass::Other, "{kind}");
        }
        assert_eq!(source_class("jvn-news"), SourceClass::News);
        assert_eq!(source_class("urlhaus"), SourceClass::Feed);
        assert_eq!(source_class("spamhaus-drop"), SourceClass::Feed);
        assert_eq!(source_class("kev"), SourceClass::Vulndb);
        assert_eq!(source_class("file"), SourceClass::Feed);
        assert_eq!(source_class("demo: OTX pulses"), SourceClass::Other);
        let authorities: Vec<&str> = CATALOGUE
            .iter()
            .map(|e| e.kind)
            .filter(|k| is_cve_authority(k))
            .collect();
        assert_eq!(authorities, ["kev", "nvd", "jvn"]);
        assert!(!is_cve_authority("exploitdb"));
        assert!(!is_cve_authority("jvn-news"));
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
        let mirror = table("urlhaus", "").resolve().unwrap();
        assert_eq!(mirror.url, "https://mirror.example/list.csv");
        assert_eq!(layout(&mirror), Some(Layout::Header("url".into())));
        assert!(mirror.params.snapshot() == catalogue("urlhaus").unwrap().snapshot);
        let csv = table("csv", "column = \"3\"").resolve().unwrap();
        assert_eq!(layout(&csv), Some(Layout::Index(2)));
        assert!(matches!(
            table("rss", "").resolve().unwrap().params,
            Params::Rss(_)
        ));
        let bad = table("csv", "").resolve().unwrap_err().to_string();
        assert!(bad.contains("csv needs column"), "{bad}");
        let err = parse("name = \"n\"\nkind = \"nope\"\n").unwrap_err();
        assert!(
            err.contains("unknown kind \"nope\"") && err.contains("urlhaus"),
            "{err}"
        );
        let err = parse("name = \"t\"\nkind = \"text\"\n")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("url is required"), "{err}");
        let slow = table("urlhaus", "schedule = \"often\"")
            .resolve()
            .unwrap_err();
        assert!(slow.to_string().contains("schedule \"often\""), "{slow}");
    }

    #[test]
    fn keys_that_do_not_apply_to_the_kind_are_errors_naming_key_and_line() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)] // read for its error
        struct Config {
            source: Vec<SourceConfig>,
        }
        let text = "# sources\n\n[[source]]\nname = \"a\"\nkind = \"otx\"\n\n[[source]]\nname = \"b\"\nkind = \"otx\"\ncolumn = \"url\"\n";
        let err = toml::from_str::<Config>(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `column`"), "{err}");
        assert!(err.contains("source \"b\" (kind \"otx\")"), "{err}");
        // A list key that another layout takes is named with the layout's keys.
        let err = parse("name = \"c\"\nkind = \"cins\"\ncolumn = \"2\"\n").unwrap_err();
        assert!(
            err.contains("key `column` does not apply to a text list"),
            "{err}"
        );
        let err = parse("name = \"m\"\nkind = \"misp-feed\"\npage_size = 5\n").unwrap_err();
        assert!(err.contains("unknown field `page_size`"), "{err}");
        assert!(
            parse("name = \"m\"\nkind = \"misp\"\nurl = \"https://m.example\"\npage_size = 5\n")
                .is_ok()
        );
        // Kinds that need a key say which.
        let err = table("taxii", "").resolve().unwrap_err().to_string();
        assert!(err.contains("collection"), "{err}");
        let err = table("x", "").resolve().unwrap_err().to_string();
        assert!(err.contains("query"), "{err}");
        let err = table("threatconnect", "access_id = \"a\"")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret_env"), "{err}");
        let err = table("feodo", "max_shrink = 2.0")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_shrink 2 must be a share"), "{err}");
    }

    #[test]
    fn every_kind_names_its_keys() {
        assert_eq!(Params::keys("otx"), ["page_size", "otx_users"]);
        assert!(Params::keys("misp-feed").is_empty());
        assert!(Params::keys("taxii").contains(&"collection".to_owned()));
        assert!(Params::keys("urlhaus").contains(&"column".to_owned()));
        assert!(!Params::keys("cins").contains(&"column".to_owned()));
        for kind in GENERIC_KINDS {
            let _ = Params::keys(kind);
        }
    }

    #[test]
    fn cron_schedules() {
        let r = table("text", "schedule = \"0 */6 * * *\"")
            .resolve()
            .unwrap();
        assert_eq!(r.every, Duration::from_secs(6 * 3600));
        let last = time::macros::datetime!(2026-11-24 13:05 UTC);
        assert_eq!(
            r.next_run(last),
            time::macros::datetime!(2026-11-24 18:00 UTC)
        );
        let e = table("text", "schedule = \"61 * * * *\"")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an interval") && e.contains("cron"), "{e}");
        let interval = table("text", "").resolve().unwrap();
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
