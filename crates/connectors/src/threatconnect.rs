//! ThreatConnect v3 (INTERFACES.md §4): one run reads, as three steps,
//! indicators modified since the last run's newest `lastModified` (TQL; the
//! whole store on a first run), groups modified since then (event items with
//! their associated indicators), and indicators deleted since then
//! (`/v3/indicators/deleted?deletedSince=`). Each listing is read oldest first,
//! its `next` followed to the end. Every request is signed anew when HMAC
//! signing is configured (the signature covers the exact path and query
//! sent); otherwise the source's `Authorization: TC-Token …` header goes.
//!
//! What the upstream withdrew becomes a retraction: `active: false`
//! (inactive), `falsePositiveFlag: true` (false positive) and every entry of
//! the deleted listing (deleted). The cursor moves only at the end of the
//! run: the three listings are not in one order.

use std::sync::OnceLock;

use rexist_core::model::now;
use rexist_core::{Record, Retraction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream, encode_query, rfc3339};
use crate::http::Body;
use crate::source::Signing;

/// A ThreatConnect account's indicators, groups and deletions.
pub struct ThreatConnect {
    /// API base including `/api` (`https://app.threatconnect.com/api`).
    pub url: String,
    /// `resultLimit` of every listing.
    pub page_size: u32,
    /// The owner (organisation or community) to read, else the account's default.
    pub owner: Option<String>,
    /// HMAC signing (Access ID + secret); `None` when a `TC-Token` header is configured.
    pub signing: Option<Signing>,
    /// The secret, read at the run's first signature (the error names the
    /// file or variable, never the value) and kept for the run: the registry
    /// builds this value anew for every run. Never printed.
    secret: OnceLock<Result<String, String>>,
}

impl std::fmt::Debug for ThreatConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreatConnect")
            .field("url", &self.url)
            .field("page_size", &self.page_size)
            .field("owner", &self.owner)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

impl ThreatConnect {
    /// The upstream of one run.
    pub fn new(
        url: String,
        page_size: u32,
        owner: Option<String>,
        signing: Option<Signing>,
    ) -> Self {
        Self {
            url,
            page_size,
            owner,
            signing,
            secret: OnceLock::new(),
        }
    }
}

/// The newest `lastModified` of the last complete run. Same field as the
/// cursor of earlier versions (`{"last_modified": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TcCursor {
    /// Newest `lastModified` stored; `None` until something was.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_modified: Option<OffsetDateTime>,
    /// The run's window start, fixed when it starts.
    #[serde(skip)]
    since: Option<OffsetDateTime>,
}

/// Which listing a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcStep {
    /// `/v3/indicators`.
    Indicators,
    /// `/v3/groups`.
    Groups,
    /// `/v3/indicators/deleted`.
    Deleted,
}

impl TcStep {
    fn name(self) -> &'static str {
        match self {
            Self::Indicators => "indicators",
            Self::Groups => "groups",
            Self::Deleted => "deleted indicators",
        }
    }
}

/// The path and query of `url` as sent on the wire, which ThreatConnect's
/// HMAC signs byte for byte.
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

impl ThreatConnect {
    /// The first request of `step`, or `None` when the run has no such step
    /// (a first run has nothing to retire, so it skips the deleted listing).
    fn listing(&self, step: TcStep, since: Option<OffsetDateTime>) -> Option<Request<TcStep>> {
        let base = self.url.trim_end_matches('/');
        let limit = self.page_size;
        let mut url = match step {
            TcStep::Indicators | TcStep::Groups => {
                let path = if step == TcStep::Indicators {
                    "indicators?fields=tags&fields=securityLabels"
                } else {
                    "groups?fields=tags&fields=associatedIndicators"
                };
                let mut url = format!(
                    "{base}/v3/{path}&sorting={}&resultLimit={limit}",
                    encode_query("lastModified asc")
                );
                if let Some(s) = since {
                    let tql = format!("lastModified > \"{}\"", rfc3339(s));
                    url = format!("{url}&tql={}", encode_query(&tql));
                }
                url
            }
            TcStep::Deleted => format!(
                "{base}/v3/indicators/deleted?deletedSince={}&resultLimit={limit}",
                encode_query(&rfc3339(since?))
            ),
        };
        if let Some(owner) = &self.owner {
            url = format!("{url}&owner={}", encode_query(owner));
        }
        Some(Request::get(url, Expect::Json, step))
    }

    /// The first request after the listing `step` ended.
    fn after(&self, step: TcStep, since: Option<OffsetDateTime>) -> Option<Request<TcStep>> {
        match step {
            TcStep::Indicators => self.listing(TcStep::Groups, since),
            TcStep::Groups => self.listing(TcStep::Deleted, since),
            TcStep::Deleted => None,
        }
    }
}

/// Most pages one listing is followed for (as before the engine).
const MAX_PAGES: u32 = 1000;

impl Upstream for ThreatConnect {
    type Cursor = TcCursor;
    type Step = TcStep;

    fn max_requests(&self) -> u32 {
        3 * MAX_PAGES
    }

    fn first(&self, _: &RunContext<'_>, cursor: &mut TcCursor) -> Result<Request<TcStep>, String> {
        cursor.since = cursor.last_modified;
        self.listing(TcStep::Indicators, cursor.since)
            .ok_or_else(|| "no ThreatConnect listing to read".to_owned())
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<TcStep>,
        cursor: &mut TcCursor,
    ) -> Result<Page<TcStep>, String> {
        let step = request.step;
        let named = |e: rexist_formats::FormatError| format!("{}: {e}", step.name());
        let (records, rejected, retractions, next, newest): (Vec<Record>, _, _, _, _) = match step {
            TcStep::Indicators => {
                let p = rexist_formats::threatconnect::parse_indicators(&answer.bytes)
                    .map_err(named)?;
                (
                    p.records,
                    p.rejected,
                    p.retractions,
                    p.next,
                    p.max_last_modified,
                )
            }
            TcStep::Groups => {
                let p =
                    rexist_formats::threatconnect::parse_groups(&answer.bytes).map_err(named)?;
                let records = p.records.into_iter().map(Record::Item).collect();
                (records, p.rejected, Vec::new(), p.next, p.max_last_modified)
            }
            TcStep::Deleted => {
                let p = rexist_formats::threatconnect::parse_indicators(&answer.bytes)
                    .map_err(named)?;
                // Everything this listing names is deleted, whatever else it
                // carries: nothing here is a sighting.
                let mut retractions = p.retractions;
                for r in &mut retractions {
                    r.reason = rexist_core::RetractReason::Deleted;
                }
                retractions.extend(p.records.into_iter().filter_map(|r| match r {
                    Record::Sighting(s) => Some(Retraction {
                        indicator: s.indicator,
                        reason: rexist_core::RetractReason::Deleted,
                        at: s.seen_at,
                    }),
                    Record::Item(_) | Record::Relation(_) => None,
                }));
                // A deletion's `lastModified` says nothing about what was
                // read: the cursor is for the other two listings.
                (Vec::new(), p.rejected, retractions, p.next, None)
            }
        };
        if let Some(m) = newest {
            cursor.last_modified = Some(cursor.last_modified.map_or(m, |n| n.max(m)));
        }
        let next = match next {
            Some(n) => Some(Request::get(n, Expect::Json, step)),
            None => self.after(step, cursor.since),
        };
        Ok(Page {
            records,
            rejected,
            retractions,
            next,
            checkpoint: false,
        })
    }

    fn sign(&self, request: &mut Request<TcStep>) -> Result<(), String> {
        let Some(signing) = &self.signing else {
            return Ok(());
        };
        let secret = self
            .secret
            .get_or_init(|| signing.secret())
            .as_ref()
            .map_err(Clone::clone)?;
        let ts = now().unix_timestamp();
        let authorization = rexist_formats::threatconnect::hmac_authorization(
            &signing.access_id,
            secret,
            path_and_query(&request.url),
            "GET",
            ts,
        );
        // Signed just before sending, so the timestamp is fresh; signing
        // again replaces the earlier signature.
        request.headers.retain(|(k, _)| {
            !k.eq_ignore_ascii_case("timestamp") && !k.eq_ignore_ascii_case("authorization")
        });
        request
            .headers
            .push(("Timestamp".to_owned(), ts.to_string()));
        request
            .headers
            .push(("Authorization".to_owned(), authorization));
        Ok(())
    }
}

/// The keys of a `kind = "threatconnect"` source table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Entries per page (default 100).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Owner to pull from (default: every owner the key sees).
    #[serde(default)]
    pub owner: Option<String>,
    /// Access ID of HMAC signing (not secret); with `secret_env` or `secret_file`.
    #[serde(default)]
    pub access_id: Option<String>,
    /// Environment variable holding the HMAC secret key.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret key.
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
}

impl Params {
    /// HMAC signing, when configured; the error names the keys.
    pub fn signing(&self) -> Result<Option<crate::source::Signing>, String> {
        use crate::source::{SecretFrom, Signing};
        match (&self.access_id, &self.secret_env, &self.secret_file) {
            (None, None, None) => Ok(None),
            (Some(id), Some(var), None) => Ok(Some(Signing {
                access_id: id.clone(),
                secret: SecretFrom::Env(var.clone()),
            })),
            (Some(id), None, Some(path)) => Ok(Some(Signing {
                access_id: id.clone(),
                secret: SecretFrom::File(path.clone()),
            })),
            _ => Err(
                "HMAC signing needs access_id and exactly one of secret_env, secret_file"
                    .to_owned(),
            ),
        }
    }

    /// The upstream these keys describe, at `url` (signing checked by `resolve`).
    pub fn upstream(&self, url: String) -> ThreatConnect {
        ThreatConnect::new(
            url,
            self.page_size.unwrap_or(100),
            self.owner.clone(),
            self.signing().ok().flatten(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_part_of_a_url() {
        assert_eq!(
            path_and_query("https://tc.example/api/v3/indicators?tql=a%20b&x=1"),
            "/api/v3/indicators?tql=a%20b&x=1"
        );
        assert_eq!(path_and_query("https://tc.example"), "/");
    }

    #[test]
    fn listings_in_order_and_the_deleted_one_only_with_a_window() {
        let tc = ThreatConnect::new(
            "https://tc.example/api/".into(),
            5,
            Some("Org A".into()),
            None,
        );
        let first = tc.listing(TcStep::Indicators, None).unwrap();
        assert_eq!(
            first.url,
            "https://tc.example/api/v3/indicators?fields=tags&fields=securityLabels&sorting=lastModified%20asc&resultLimit=5&owner=Org%20A"
        );
        assert!(tc.after(TcStep::Groups, None).is_none(), "first run");
        let since = time::macros::datetime!(2025-01-02 03:04:05 UTC);
        let deleted = tc.after(TcStep::Groups, Some(since)).unwrap();
        assert_eq!(deleted.step, TcStep::Deleted);
        assert_eq!(
            deleted.url,
            "https://tc.example/api/v3/indicators/deleted?deletedSince=2025-01-02T03%3A04%3A05Z&resultLimit=5&owner=Org%20A"
        );
        let groups = tc.after(TcStep::Indicators, Some(since)).unwrap();
        assert!(
            groups
                .url
                .contains("/v3/groups?fields=tags&fields=associatedIndicators&sorting="),
            "{}",
            groups.url
        );
        assert!(
            groups
                .url
                .contains("&tql=lastModified%20%3E%20%222025-01-02T03%3A04%3A05Z%22"),
            "{}",
            groups.url
        );
        assert!(tc.after(TcStep::Deleted, Some(since)).is_none());
    }
}
