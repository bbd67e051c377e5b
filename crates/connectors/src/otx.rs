//! `AlienVault` OTX (INTERFACES.md §2): subscribed pulses modified since the
//! last run's newest (less an overlap), then those of each chosen user, each
//! listing's `next` followed to its end. A pulse is an event item; its
//! indicators are sightings carrying its tags and malware families.

use rexist_core::Record;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream, encode_query, rfc3339};
use crate::http::Body;

/// Pulses modified this long before the cursor are asked for again: OTX's
/// `modified` clock and ours may differ, and a pulse edited while a run
/// paged could otherwise slip between two runs.
const OVERLAP: time::Duration = time::Duration::minutes(10);

/// An OTX account's pulses.
#[derive(Debug, Clone)]
pub struct Otx {
    /// API base (`https://otx.alienvault.com`).
    pub url: String,
    /// Pulses per page.
    pub page_size: u32,
    /// Users whose pulses are pulled besides the subscribed ones.
    pub users: Vec<String>,
}

/// The newest pulse `modified` of the last complete run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtxCursor {
    /// Newest `modified` stored.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub modified: Option<OffsetDateTime>,
    /// The run's `modified_since`, fixed when it starts.
    #[serde(skip)]
    since: Option<OffsetDateTime>,
}

impl Otx {
    /// The first page of listing `list` (0: subscribed, then each user).
    fn listing(&self, list: usize, since: Option<OffsetDateTime>) -> Option<Request<usize>> {
        let path = match list {
            0 => "subscribed".to_owned(),
            n => format!("user/{}", encode_query(self.users.get(n - 1)?)),
        };
        let base = self.url.trim_end_matches('/');
        let window = since.map_or_else(String::new, |s| {
            // RFC 3339 in UTC (`…Z`) has no character a query must escape.
            format!("&modified_since={}", rfc3339(s - OVERLAP))
        });
        Some(Request::get(
            format!(
                "{base}/api/v1/pulses/{path}?limit={}{window}",
                self.page_size
            ),
            Expect::Json,
            list,
        ))
    }
}

impl Upstream for Otx {
    type Cursor = OtxCursor;
    type Step = usize;

    fn first(&self, _: &RunContext<'_>, cursor: &mut OtxCursor) -> Result<Request<usize>, String> {
        cursor.since = cursor.modified;
        self.listing(0, cursor.since)
            .ok_or_else(|| "no OTX listing to pull".to_owned())
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<usize>,
        cursor: &mut OtxCursor,
    ) -> Result<Page<usize>, String> {
        let pulses = rexist_formats::otx::parse_pulses(&answer.bytes).map_err(|e| e.to_string())?;
        if let Some(m) = pulses.max_modified {
            cursor.modified = Some(cursor.modified.map_or(m, |n| n.max(m)));
        }
        let list = request.step;
        let next = match pulses.next {
            Some(n) => Some(Request::get(n, Expect::Json, list)),
            None => self.listing(list + 1, cursor.since),
        };
        Ok(Page {
            records: pulses.records.into_iter().map(Record::Item).collect(),
            rejected: pulses.rejected,
            retractions: pulses.retractions,
            next,
            // Pulses come newest first: the cursor moves only at the end.
            checkpoint: false,
        })
    }
}

/// The keys of a `kind = "otx"` source table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Pulses per page (default 100).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Also the pulses of these OTX users.
    #[serde(default)]
    pub otx_users: Vec<String>,
}

impl Params {
    /// The upstream these keys describe, at `url`.
    pub fn upstream(&self, url: String) -> Otx {
        Otx {
            url,
            page_size: self.page_size.unwrap_or(100),
            users: self.otx_users.clone(),
        }
    }
}
