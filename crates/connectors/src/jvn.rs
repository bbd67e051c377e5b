//! MyJVN `getVulnOverviewList` (JVN iPedia, INTERFACES.md §6.12): entries
//! published or updated since the day of the last complete run (a first run
//! looks back a week), paged by `startItem` with `maxCountItem` of at most
//! 50, one second between requests (MyJVN has no published limit; this is
//! gentle). The answer must be XML: an HTML page with HTTP 200 (a
//! maintenance or proxy page) fails the run. The cursor moves only when
//! every page was stored.

use std::time::Duration;

use rexist_core::Record;
use rexist_core::model::now;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream};
use crate::http::Body;

/// How far back a first run looks.
const FIRST_RUN: time::Duration = time::Duration::days(7);
/// Most items MyJVN returns per page.
const MAX_PER_PAGE: u32 = 50;
/// Between two requests.
const SPACING: Duration = Duration::from_secs(1);

/// MyJVN's overview list.
#[derive(Debug, Clone)]
pub struct MyJvn {
    /// `https://jvndb.jvn.jp/myjvn`.
    pub url: String,
    /// `maxCountItem` (at most 50).
    pub page_size: u32,
}

/// When the last complete run started. Same field as the cursor of earlier
/// versions (`{"since": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JvnCursor {
    /// Start of the last complete run; `None` before the first.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub since: Option<OffsetDateTime>,
}

/// One page of the run's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JvnStep {
    /// The day asked from (`datePublishedStart…`).
    pub since: OffsetDateTime,
    /// `startItem` (1-based).
    pub start: u64,
}

impl MyJvn {
    fn request(&self, step: JvnStep) -> Request<JvnStep> {
        let since = step.since;
        let url = format!(
            "{}?method=getVulnOverviewList&feed=hnd&lang=ja&startItem={}&maxCountItem={}\
             &datePublishedStartY={}&datePublishedStartM={}&datePublishedStartD={}",
            self.url.trim_end_matches('/'),
            step.start,
            self.page_size.min(MAX_PER_PAGE),
            since.year(),
            u8::from(since.month()),
            since.day()
        );
        Request::get(url, Expect::Xml, step)
    }
}

impl Upstream for MyJvn {
    type Cursor = JvnCursor;
    type Step = JvnStep;

    fn first(
        &self,
        _: &RunContext<'_>,
        cursor: &mut JvnCursor,
    ) -> Result<Request<JvnStep>, String> {
        let started = now();
        let since = cursor.since.unwrap_or(started - FIRST_RUN);
        // Saved only if the run completes.
        cursor.since = Some(started);
        Ok(self.request(JvnStep { since, start: 1 }))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<JvnStep>,
        _: &mut JvnCursor,
    ) -> Result<Page<JvnStep>, String> {
        let step = request.step;
        let page = rexist_formats::jvn::parse_overview(&answer.bytes)
            .map_err(|e| format!("startItem {}: {e}", step.start))?;
        let next = page
            .next_start()
            .map(|start| self.request(JvnStep { start, ..step }));
        Ok(Page {
            records: page.records.into_iter().map(Record::Item).collect(),
            rejected: page.rejected,
            retractions: Vec::new(),
            next,
            checkpoint: false,
        })
    }

    fn spacing(&self, _: &RunContext<'_>) -> Duration {
        SPACING
    }
}

/// Entries a page when the table's `page_size` is unset.
pub const PAGE_SIZE: u32 = 50;
