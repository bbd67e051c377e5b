//! A TAXII 2.1 collection (INTERFACES.md §5): discovery → API root →
//! collection (by id or title), then its objects `added_after` the last
//! run's `X-TAXII-Date-Added-Last`, `next` followed while `more`. Every
//! request carries `Accept: application/taxii+json;version=2.1`.
//!
//! STIX objects become records through `rexist_stix`: indicators (patterns
//! reduced to indicators; an irreducible pattern is kept verbatim on its
//! item), reports, malware, actors and vulnerabilities become items,
//! observables sightings, relationships relations, TLP markings TLP. A
//! revoked indicator's indicators are retractions (`Revoked`); an
//! indicator's `valid_until` is its sightings' `valid_until`.
//!
//! Objects come in `added_after` order, so each stored page is a checkpoint:
//! a failure resumes after the last page stored. The API root named by the
//! discovery resource must be on the server of `url` (credentials go with
//! every request; the engine follows no link elsewhere).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream, encode_query};
use crate::http::{Body, redact};

/// The TAXII 2.1 media type, sent as `Accept` on every TAXII request.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";

/// Most object pages one run reads (and the discovery and collections
/// requests before them).
const MAX_PAGES: u32 = 1000;

/// A TAXII 2.1 collection.
#[derive(Debug, Clone)]
pub struct Taxii {
    /// The discovery resource (`…/taxii2/`) or an API root.
    pub url: String,
    /// The collection, by id or title.
    pub collection: String,
    /// Objects per page (`limit`; the server may cap it).
    pub page_size: u32,
    /// STIX types asked for (`match[type]`); empty for every type.
    pub stix_types: Vec<String>,
}

/// The server's `X-TAXII-Date-Added-Last` of the last page stored, sent back
/// as `added_after`; the same JSON as before the connectors moved
/// (`{"added_after":"…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaxiiCursor {
    /// `None` before anything was added: the whole collection is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_after: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxiiStep {
    /// `url`: a discovery resource, or already the API root.
    Discovery,
    /// The API root's collections.
    Collections {
        /// The API root, ending in `/`.
        root: String,
    },
    /// A page of objects.
    Objects {
        /// The first page's URL (with `limit`, `match[type]`, `added_after`);
        /// the next pages add `next=`.
        first: String,
    },
}

/// `href` (absolute or relative) resolved against `base`'s origin.
fn join_url(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let host = rest.split('/').next().unwrap_or("");
    format!("{scheme}://{host}/{}", href.trim_start_matches('/'))
}

impl Taxii {
    fn get(url: String, step: TaxiiStep) -> Request<TaxiiStep> {
        Request::get(url, Expect::Json, step).header("Accept", TAXII_MEDIA)
    }

    fn json(answer: &Body, url: &str) -> Result<Value, String> {
        serde_json::from_slice(&answer.bytes).map_err(|e| format!("{}: not JSON: {e}", redact(url)))
    }

    /// The API root: the discovery resource's `default`, else its first;
    /// `url` itself when it is not a discovery resource.
    fn root(&self, resource: &Value) -> Result<String, String> {
        let root = match resource.get("api_roots") {
            Some(roots) => {
                let chosen = resource
                    .get("default")
                    .and_then(Value::as_str)
                    .or_else(|| roots.get(0).and_then(Value::as_str))
                    .ok_or_else(|| "the discovery resource names no API root".to_owned())?;
                join_url(&self.url, chosen)
            }
            None => self.url.clone(),
        };
        Ok(format!("{}/", root.trim_end_matches('/')))
    }

    /// The collection's first objects page, from the API root's listing.
    fn objects(&self, root: &str, listing: &Value, cursor: &TaxiiCursor) -> Result<String, String> {
        let wanted = self.collection.as_str();
        let collections = listing
            .get("collections")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let found = collections.iter().find(|c| {
            text(c, "id").as_deref() == Some(wanted) || text(c, "title").as_deref() == Some(wanted)
        });
        let Some(c) = found else {
            let names: Vec<String> = collections
                .iter()
                .filter_map(|c| Some(format!("{} ({})", text(c, "title")?, text(c, "id")?)))
                .collect();
            return Err(format!(
                "no collection {wanted:?} on {} (collections: {})",
                redact(root),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        };
        if c.get("can_read").and_then(Value::as_bool) == Some(false) {
            return Err(format!(
                "collection {wanted:?} cannot be read with these credentials"
            ));
        }
        let id = text(c, "id").unwrap_or_default();
        let mut first = format!(
            "{root}collections/{}/objects/?limit={}",
            encode_query(&id),
            self.page_size
        );
        if !self.stix_types.is_empty() {
            first = format!(
                "{first}&{}={}",
                encode_query("match[type]"),
                encode_query(&self.stix_types.join(","))
            );
        }
        if let Some(s) = &cursor.added_after {
            first = format!("{first}&added_after={}", encode_query(s));
        }
        Ok(first)
    }
}

impl Upstream for Taxii {
    type Cursor = TaxiiCursor;
    type Step = TaxiiStep;

    fn first(&self, _: &RunContext<'_>, _: &mut TaxiiCursor) -> Result<Request<TaxiiStep>, String> {
        Ok(Self::get(self.url.clone(), TaxiiStep::Discovery))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<TaxiiStep>,
        cursor: &mut TaxiiCursor,
    ) -> Result<Page<TaxiiStep>, String> {
        match &request.step {
            TaxiiStep::Discovery => {
                let root = self.root(&Self::json(answer, &request.url)?)?;
                let next = Self::get(
                    format!("{root}collections/"),
                    TaxiiStep::Collections { root },
                );
                Ok(Page::lead(next))
            }
            TaxiiStep::Collections { root } => {
                let listing = Self::json(answer, &request.url)?;
                let first = self.objects(root, &listing, cursor)?;
                Ok(Page::lead(Self::get(
                    first.clone(),
                    TaxiiStep::Objects { first },
                )))
            }
            TaxiiStep::Objects { first } => {
                let parsed = rexist_stix::parse_objects(&answer.bytes).map_err(|e| {
                    let start = String::from_utf8_lossy(
                        answer
                            .bytes
                            .get(..answer.bytes.len().min(120))
                            .unwrap_or_default(),
                    )
                    .into_owned();
                    format!("{e} (body starts {start:?})")
                })?;
                if let Some(last) = answer.header("x-taxii-date-added-last") {
                    cursor.added_after = Some(last.to_owned());
                }
                let next = match (parsed.more, parsed.next) {
                    (true, Some(token)) => Some(Self::get(
                        format!("{first}&next={}", encode_query(&token)),
                        request.step.clone(),
                    )),
                    _ => None,
                };
                Ok(Page {
                    records: parsed.records,
                    rejected: parsed.rejected,
                    retractions: parsed.retractions,
                    next,
                    // Pages come in `added_after` order.
                    checkpoint: true,
                })
            }
        }
    }

    fn max_requests(&self) -> u32 {
        MAX_PAGES + 2
    }
}

/// The keys of a `kind = "taxii"` source table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Objects per page (`limit`, default 100).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// The collection, by id or title (required).
    #[serde(default)]
    pub collection: Option<String>,
    /// Only these STIX object types (`match[type]`), e.g. `["indicator", "report"]`.
    #[serde(default)]
    pub stix_types: Vec<String>,
    /// User name of HTTP basic authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the basic-auth password.
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
    /// Environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding a bearer token.
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
}

impl Params {
    /// Basic or bearer authentication from the keys; the error names them.
    pub fn auth(&self) -> Result<Option<crate::source::HttpAuth>, String> {
        crate::source::http_auth(
            self.username.as_deref(),
            (self.password_env.as_deref(), self.password_file.as_deref()),
            (self.token_env.as_deref(), self.token_file.as_deref()),
        )
    }

    /// Checks the keys without I/O.
    pub fn validate(&self) -> Result<(), String> {
        if self
            .collection
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .is_empty()
        {
            return Err("taxii needs collection (its id or title)".to_owned());
        }
        Ok(())
    }

    /// The upstream these keys describe, at `url`.
    pub fn upstream(&self, url: String) -> Taxii {
        Taxii {
            url,
            collection: self
                .collection
                .clone()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            page_size: self.page_size.unwrap_or(100),
            stix_types: self.stix_types.clone(),
        }
    }
}
