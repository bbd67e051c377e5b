//! X API v2 recent search (INTERFACES.md §6.15): the posts matching the
//! source's [`Search`] query newer than the newest stored (`since_id`),
//! every page followed with `next_token`, then the cursor moves to the
//! newest post of the run (`meta.newest_id`). Posts become post items whose
//! text is searched for indicators. The app token comes from the source's
//! headers (`Authorization: Bearer …`).
//!
//! A first run asks without `since_id`: X's recent search then covers its
//! own window (the last 7 days).

use serde::{Deserialize, Serialize};

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream, encode_query};
use crate::http::Body;
use crate::search::Search;

/// An X recent search.
#[derive(Debug, Clone)]
pub struct X {
    /// API base (`https://api.x.com`).
    pub url: String,
    /// Posts asked for a page (`max_results`, 10–100).
    pub page_size: u32,
    /// What to search for.
    pub search: Search,
}

/// The newest post of the last run (the shape earlier releases stored:
/// `{"newest": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct XCursor {
    /// Id of the newest post stored: the next run's `since_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<String>,
    /// The run's first request, fixed when it starts: each next page is it
    /// plus `next_token`, so `since_id` stays the run's.
    #[serde(skip)]
    first_url: String,
    /// Pages answered so far this run.
    #[serde(skip)]
    pages: u32,
}

/// Whether X id `a` is newer than `b`: ids are 64-bit numbers sent as
/// decimal strings, so they compare by length, then digits.
pub(crate) fn newer_id(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

impl Upstream for X {
    type Cursor = XCursor;
    type Step = ();

    fn first(&self, ctx: &RunContext<'_>, cursor: &mut XCursor) -> Result<Request<()>, String> {
        let query = encode_query(&self.search.query(ctx.hunt_terms)?);
        let mut url = format!(
            "{}/2/tweets/search/recent?query={query}&max_results={}&expansions=author_id&tweet.fields=created_at,lang&user.fields=username",
            self.url.trim_end_matches('/'),
            self.page_size.clamp(10, 100)
        );
        if let Some(id) = &cursor.newest {
            url = format!("{url}&since_id={}", encode_query(id));
        }
        cursor.first_url.clone_from(&url);
        Ok(Request::get(url, Expect::Json, ()))
    }

    fn page(
        &self,
        answer: &Body,
        _: &Request<()>,
        cursor: &mut XCursor,
    ) -> Result<Page<()>, String> {
        let posts = rexist_formats::social::parse_x(&answer.bytes).map_err(|e| e.to_string())?;
        cursor.pages += 1;
        if let Some(n) = posts.newest_id.clone() {
            if cursor.newest.as_deref().is_none_or(|c| newer_id(&n, c)) {
                cursor.newest = Some(n);
            }
        }
        Ok(crate::search::page(
            posts,
            &cursor.first_url,
            cursor.pages,
            "next_token",
        ))
    }
}
