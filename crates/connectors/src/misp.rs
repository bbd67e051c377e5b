//! A MISP server (INTERFACES.md §1.2): `POST {url}/events/restSearch` with
//! `timestamp` just past the cursor, paged with `limit`/`page` (1-based).
//! Each event is an event item whose attributes are sightings; deleted
//! attributes and attributes with `to_ids` off are retractions
//! (`rexist_formats::misp`).
//!
//! restSearch does not order events by timestamp across pages, so the
//! cursor, the newest event `timestamp`, moves only when every page was
//! stored: a failed run leaves it, and the next run asks for the same window
//! again (unchanged events are recognised and store nothing).
//!
//! **When paging ends.** restSearch has no total and no cursor: the last page
//! is the one with fewer events than a full page. But a server may cap a page
//! below the `limit` asked for (an instance-wide maximum), and then every
//! page is "short" against `page_size`: ending at the first short page would
//! silently stop after page 1. So a full page is what page 1 actually held:
//! paging goes on while a page holds as many events as page 1 did, and ends
//! at the first page with fewer (an empty page included). Page 1 itself ends
//! the run only when it is empty. The price is one request more when
//! everything fits on a short page 1 (page 2 comes back empty).

use serde::{Deserialize, Serialize};

use crate::contract::Expect;
use crate::engine::{Method, Page, Request, RunContext, Upstream};
use crate::http::Body;
use rexist_core::Record;

/// A MISP server's events.
#[derive(Debug, Clone)]
pub struct Misp {
    /// The server's base URL (`https://misp.internal/`).
    pub url: String,
    /// Events asked for per page (`limit`).
    pub page_size: u32,
}

/// The newest event `timestamp` (epoch seconds) of the last complete run;
/// the same JSON as before the connectors moved (`{"timestamp":…}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MispCursor {
    /// Newest event `timestamp` stored; 0 before the first complete run.
    #[serde(default)]
    pub timestamp: i64,
    /// The run's lower bound, fixed when it starts.
    #[serde(skip)]
    since: i64,
}

/// Where a run is: the page asked for, and how many events page 1 held
/// (what a full page is on this server, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MispStep {
    /// 1-based page number.
    pub page: u32,
    /// Events on page 1, once it is read.
    pub full: Option<usize>,
}

impl Misp {
    fn request(&self, since: i64, step: MispStep) -> Request<MispStep> {
        let mut query = serde_json::json!({
            "returnFormat": "json",
            "limit": self.page_size,
            "page": step.page,
        });
        if since > 0 {
            query["timestamp"] = serde_json::json!(since + 1);
        }
        Request {
            url: format!("{}/events/restSearch", self.url.trim_end_matches('/')),
            method: Method::PostJson(query),
            headers: vec![("Accept".to_owned(), "application/json".to_owned())],
            validators: None,
            expect: Expect::Json,
            step,
        }
    }
}

impl Upstream for Misp {
    type Cursor = MispCursor;
    type Step = MispStep;

    fn first(
        &self,
        _: &RunContext<'_>,
        cursor: &mut MispCursor,
    ) -> Result<Request<MispStep>, String> {
        cursor.since = cursor.timestamp;
        Ok(self.request(
            cursor.since,
            MispStep {
                page: 1,
                full: None,
            },
        ))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<MispStep>,
        cursor: &mut MispCursor,
    ) -> Result<Page<MispStep>, String> {
        let events =
            rexist_formats::misp::parse_events(&answer.bytes).map_err(|e| e.to_string())?;
        if let Some(ts) = events.max_timestamp {
            cursor.timestamp = cursor.timestamp.max(ts);
        }
        let step = request.step;
        let full = step.full.unwrap_or(events.event_count);
        let last = events.event_count == 0 || events.event_count < full;
        let next = (!last).then(|| {
            self.request(
                cursor.since,
                MispStep {
                    page: step.page + 1,
                    full: Some(full),
                },
            )
        });
        Ok(Page {
            records: events.records.into_iter().map(Record::Item).collect(),
            rejected: events.rejected,
            retractions: events.retractions,
            next,
            // Events are not in timestamp order across pages: the cursor
            // moves only at the end of the run.
            checkpoint: false,
        })
    }
}

/// Entries a page when the table's `page_size` is unset.
pub const PAGE_SIZE: u32 = 100;
