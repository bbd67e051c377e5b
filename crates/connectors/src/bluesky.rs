//! Bluesky public post search, `app.bsky.feed.searchPosts` (`sort=latest`):
//! the posts matching the source's [`Search`] query since the newest stored
//! (`since`, an RFC 3339 time), every page followed with `cursor`, then the
//! cursor moves to the newest post time of the run. Posts become post items
//! whose text is searched for indicators.
//!
//! `since` is inclusive, so the newest post of the last run comes back once
//! more and is stored unchanged.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream, encode_query, rfc3339};
use crate::http::Body;
use crate::search::Search;

/// A Bluesky post search.
#[derive(Debug, Clone)]
pub struct Bluesky {
    /// `AppView` base (`https://public.api.bsky.app`).
    pub url: String,
    /// Posts asked for a page (`limit`, 1–100).
    pub page_size: u32,
    /// What to search for.
    pub search: Search,
}

/// The newest post of the last run (the shape earlier releases stored:
/// `{"newest": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BlueskyCursor {
    /// Time (RFC 3339) of the newest post stored: the next run's `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<String>,
    /// The run's first request, fixed when it starts: each next page is it
    /// plus `cursor`, so `since` stays the run's.
    #[serde(skip)]
    first_url: String,
    /// Pages answered so far this run.
    #[serde(skip)]
    pages: u32,
}

/// Whether cursor `a` is newer than `b`. Cursors are RFC 3339 times whose
/// fraction of a second varies in length, so they are compared as times
/// (as ids only if one does not parse).
pub(crate) fn newer(a: &str, b: &str) -> bool {
    let time = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
    match (time(a), time(b)) {
        (Some(ta), Some(tb)) => ta > tb,
        _ => (a.len(), a) > (b.len(), b),
    }
}

impl Upstream for Bluesky {
    type Cursor = BlueskyCursor;
    type Step = ();

    fn first(
        &self,
        ctx: &RunContext<'_>,
        cursor: &mut BlueskyCursor,
    ) -> Result<Request<()>, String> {
        let query = encode_query(&self.search.query(ctx.hunt_terms)?);
        let mut url = format!(
            "{}/xrpc/app.bsky.feed.searchPosts?q={query}&sort=latest&limit={}",
            self.url.trim_end_matches('/'),
            self.page_size.clamp(1, 100)
        );
        if let Some(t) = &cursor.newest {
            url = format!("{url}&since={}", encode_query(t));
        }
        cursor.first_url.clone_from(&url);
        Ok(Request::get(url, Expect::Json, ()))
    }

    fn page(
        &self,
        answer: &Body,
        _: &Request<()>,
        cursor: &mut BlueskyCursor,
    ) -> Result<Page<()>, String> {
        let posts =
            rexist_formats::social::parse_bluesky(&answer.bytes).map_err(|e| e.to_string())?;
        cursor.pages += 1;
        let page_newest = posts
            .records
            .iter()
            .filter_map(|r| r.item.published_at)
            .max()
            .map(rfc3339)
            .filter(|t| !t.is_empty());
        if let Some(n) = page_newest {
            if cursor.newest.as_deref().is_none_or(|c| newer(&n, c)) {
                cursor.newest = Some(n);
            }
        }
        Ok(crate::search::page(
            posts,
            &cursor.first_url,
            cursor.pages,
            "cursor",
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bluesky_cursors_order_as_times_x_ids_as_numbers() {
        use super::newer;
        use crate::x::newer_id;
        assert!(newer("2025-01-04T00:00:00Z", "2025-01-03T10:00:00.5Z"));
        assert!(!newer("2025-01-03T10:00:00.5Z", "2025-01-04T00:00:00Z"));
        assert!(newer_id("1870000000000000010", "187000000000000009"));
        assert!(!newer_id("99", "100"));
    }
}
