//! Mastodon timelines (INTERFACES.md §6.14): a hashtag timeline, an
//! account's statuses or any other status listing at `url`. The first run
//! takes the newest page; later runs page forward with `min_id` from the
//! newest post stored until a page comes back empty or moves no further, so
//! nothing posted between two runs is skipped. Posts become post items whose
//! text is searched for indicators (defanged forms included).
//!
//! The `Link` header's `next`/`prev` links are not followed: `min_id` pages
//! are built from the configured URL, so a run never leaves its server.

use rexist_core::Record;
use serde::{Deserialize, Serialize};

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream};
use crate::http::Body;

/// Most statuses Mastodon returns a page (`limit`, INTERFACES.md §6.14).
const MAX_LIMIT: u32 = 40;

/// Most pages one run follows; the next run goes on from the last page stored.
const MAX_PAGES: u32 = 200;

/// A Mastodon status listing.
#[derive(Debug, Clone)]
pub struct Mastodon {
    /// The listing (`https://instance/api/v1/timelines/tag/ioc`).
    pub url: String,
    /// Statuses asked for a page (at most 40).
    pub page_size: u32,
}

/// The newest status of the last run (the shape earlier releases stored:
/// `{"newest_id": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MastodonCursor {
    /// Id of the newest status stored: the next run's `min_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_id: Option<String>,
    /// Whether this run started with no cursor (it takes one page only).
    #[serde(skip)]
    first_run: bool,
}

/// Whether Mastodon id `a` is newer than `b`: ids are decimal numbers of
/// varying length sent as strings, so they compare by length, then digits.
fn newer_id(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

impl Mastodon {
    fn request(&self, min_id: Option<&str>) -> Request<()> {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let limit = self.page_size.min(MAX_LIMIT);
        let url = match min_id {
            // Ids are digits: nothing to escape.
            Some(id) => format!("{}{sep}limit={limit}&min_id={id}", self.url),
            None => format!("{}{sep}limit={limit}", self.url),
        };
        Request::get(url, Expect::Json, ())
    }
}

impl Upstream for Mastodon {
    type Cursor = MastodonCursor;
    type Step = ();

    fn first(
        &self,
        _: &RunContext<'_>,
        cursor: &mut MastodonCursor,
    ) -> Result<Request<()>, String> {
        cursor.first_run = cursor.newest_id.is_none();
        Ok(self.request(cursor.newest_id.as_deref()))
    }

    fn page(
        &self,
        answer: &Body,
        _: &Request<()>,
        cursor: &mut MastodonCursor,
    ) -> Result<Page<()>, String> {
        let posts =
            rexist_formats::social::parse_mastodon(&answer.bytes).map_err(|e| e.to_string())?;
        let moved = match posts.newest_id {
            Some(id) if cursor.newest_id.as_deref().is_none_or(|n| newer_id(&id, n)) => {
                cursor.newest_id = Some(id);
                true
            }
            // No newer status: the timeline did not move forward.
            _ => false,
        };
        let next = (posts.result_count > 0 && moved && !cursor.first_run)
            .then(|| self.request(cursor.newest_id.as_deref()));
        Ok(Page {
            records: posts.records.into_iter().map(Record::Item).collect(),
            rejected: posts.rejected,
            retractions: Vec::new(),
            next,
            // `min_id` pages are the statuses just after the cursor, so every
            // status up to this page's newest is stored once it is.
            checkpoint: true,
        })
    }

    fn max_requests(&self) -> u32 {
        MAX_PAGES
    }
}

/// Entries a page when the table's `page_size` is unset.
pub const PAGE_SIZE: u32 = 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_as_numbers() {
        assert!(newer_id("113800000000000010", "99999999999999999"));
        assert!(!newer_id("99", "100"));
        assert!(!newer_id("5", "5"));
    }

    #[test]
    fn cursors_of_earlier_releases_still_read() {
        let c: MastodonCursor =
            serde_json::from_str(r#"{"newest_id":"113800000000000002"}"#).expect("old cursor");
        assert_eq!(c.newest_id.as_deref(), Some("113800000000000002"));
        let m = Mastodon {
            url: "https://mastodon.example/api/v1/timelines/tag/ioc?local=true".into(),
            page_size: 100,
        };
        assert_eq!(
            m.request(c.newest_id.as_deref()).url,
            "https://mastodon.example/api/v1/timelines/tag/ioc?local=true&limit=40&min_id=113800000000000002"
        );
        assert_eq!(
            serde_json::to_string(&c).expect("cursor"),
            r#"{"newest_id":"113800000000000002"}"#
        );
    }
}
