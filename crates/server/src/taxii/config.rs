//! The `[taxii]` section of `rexist.toml`: the discovery resource's text,
//! the page size and the collections served under `/taxii2/api/`.

use rexist_core::{IndicatorType, Tlp};
use serde::Deserialize;

/// Largest `max_page` accepted.
pub const MAX_PAGE_CAP: u32 = 10_000;

/// The TAXII 2.1 server's configuration (`[taxii]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxiiConfig {
    /// Title of the discovery and API root resources (default `rexist`).
    #[serde(default = "default_title")]
    pub title: String,
    /// Description of the discovery and API root resources.
    #[serde(default)]
    pub description: Option<String>,
    /// Contact shown in the discovery resource (an e-mail address or URL).
    #[serde(default)]
    pub contact: Option<String>,
    /// Default and largest number of objects per manifest/objects page
    /// (default 1000, at most 10,000).
    #[serde(default = "default_max_page")]
    pub max_page: u32,
    /// The collections (`[[taxii.collection]]`); when none are configured,
    /// [`TaxiiConfig::default_collections`] is served.
    #[serde(default, alias = "collection")]
    pub collections: Vec<CollectionConfig>,
}

/// One collection (`[[taxii.collection]]`): a filtered view of the stored
/// indicators, optionally accepting objects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// The collection's id: a UUID the administrator picks (and keeps, since
    /// clients remember it).
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Human-readable description.
    #[serde(default)]
    pub description: Option<String>,
    /// A short name usable in URLs instead of the id (no `/`).
    #[serde(default)]
    pub alias: Option<String>,
    /// Indicator types served (`ipv4`, `domain`, `sha256`, `cve`, …); empty
    /// serves every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Only indicators reported by this source (by name).
    #[serde(default)]
    pub source: Option<String>,
    /// Only indicators with a sighting carrying this label.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only indicators scoring at least this (0–100).
    #[serde(default)]
    pub min_score: Option<u8>,
    /// The most restricted TLP the collection holds (`clear`, `green`,
    /// `amber`, `amber+strict`, `red`); unset: whatever the reader's
    /// clearance allows.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Only active indicators: not expired, not allow-listed (default true).
    /// Retired ones (withdrawn by every source that reported them) are
    /// served too, as revoked versions, so consumers drop them. Indicators
    /// an analyst marked false positives are served only so, in every
    /// collection.
    #[serde(default = "yes")]
    pub active_only: bool,
    /// Whether analysts and admins may POST objects to it (default false).
    #[serde(default)]
    pub writable: bool,
    /// The source objects sent here by POST are stored as (default
    /// `taxii:<alias or id>`); created when first needed.
    #[serde(default)]
    pub write_source: Option<String>,
}

fn default_title() -> String {
    "rexist".to_owned()
}

fn default_max_page() -> u32 {
    1000
}

fn yes() -> bool {
    true
}

impl Default for TaxiiConfig {
    fn default() -> Self {
        Self {
            title: default_title(),
            description: None,
            contact: None,
            max_page: default_max_page(),
            collections: Vec::new(),
        }
    }
}

/// Whether `s` is a UUID in the 8-4-4-4-12 hex form.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl TaxiiConfig {
    /// Checks the page size, the collections' ids, aliases, types and TLPs.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_page == 0 || self.max_page > MAX_PAGE_CAP {
            return Err(format!(
                "taxii.max_page must be 1..={MAX_PAGE_CAP}, not {}",
                self.max_page
            ));
        }
        if self.title.trim().is_empty() {
            return Err("taxii.title must not be empty".to_owned());
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.collections {
            let at = format!("taxii collection {:?}", c.id);
            if !is_uuid(&c.id) {
                return Err(format!("{at}: id must be a UUID (8-4-4-4-12 hex digits)"));
            }
            if c.title.trim().is_empty() {
                return Err(format!("{at}: title must not be empty"));
            }
            if !names.insert(c.id.to_ascii_lowercase()) {
                return Err(format!("{at}: id used twice"));
            }
            if let Some(a) = &c.alias {
                if a.is_empty() || a.contains('/') || a.contains('?') || a.contains('#') {
                    return Err(format!(
                        "{at}: alias {a:?} must be non-empty, without / ? #"
                    ));
                }
                if !names.insert(a.to_ascii_lowercase()) {
                    return Err(format!(
                        "{at}: alias {a:?} clashes with another id or alias"
                    ));
                }
            }
            c.kinds().map_err(|e| format!("{at}: {e}"))?;
            c.max_tlp().map_err(|e| format!("{at}: {e}"))?;
            if c.min_score.is_some_and(|s| s > 100) {
                return Err(format!("{at}: min_score must be 0..=100"));
            }
            if c.write_source.as_ref().is_some_and(|s| s.trim().is_empty()) {
                return Err(format!("{at}: write_source must not be empty"));
            }
        }
        Ok(())
    }

    /// What is served when no collection is configured: one read-only
    /// collection of every active indicator.
    pub fn default_collections() -> Vec<CollectionConfig> {
        vec![CollectionConfig {
            id: "6b0c8bb5-2b5d-4c1b-9a3e-1f5e0a7c2d41".to_owned(),
            title: "all active indicators".to_owned(),
            description: Some(
                "Every active indicator rexist holds, as far as the reader's clearance allows."
                    .to_owned(),
            ),
            alias: Some("all".to_owned()),
            types: Vec::new(),
            source: None,
            tag: None,
            min_score: None,
            tlp: None,
            active_only: true,
            writable: false,
            write_source: None,
        }]
    }
}

impl CollectionConfig {
    /// The indicator types served (empty: all).
    pub fn kinds(&self) -> Result<Vec<IndicatorType>, String> {
        self.types
            .iter()
            .map(|t| {
                t.parse::<IndicatorType>()
                    .map_err(|e| format!("unknown indicator type {t:?}: {e}"))
            })
            .collect()
    }

    /// The most restricted TLP the collection holds.
    pub fn max_tlp(&self) -> Result<Option<Tlp>, String> {
        self.tlp
            .as_deref()
            .map(|t| t.parse::<Tlp>().map_err(|e| format!("bad tlp {t:?}: {e}")))
            .transpose()
    }

    /// The source objects sent by POST are stored as.
    pub fn write_source_name(&self) -> String {
        self.write_source
            .clone()
            .unwrap_or_else(|| format!("taxii:{}", self.alias.as_deref().unwrap_or(&self.id)))
    }
}
