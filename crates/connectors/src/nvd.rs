//! NVD CVE API 2.0 (INTERFACES.md §6.11): CVEs modified since the last run,
//! in `lastModified` windows of at most 120 days (NVD refuses longer ones)
//! from the cursor to now — a first run looks back a week — each window
//! paged by `startIndex` until `totalResults`. Requests are spaced as NVD's
//! rate limits ask: 6 s apart without an `apiKey` header (5 requests per 30
//! s), 0.6 s with one (50 per 30 s).
//!
//! Pages of one window are not in `lastModified` order, so the cursor moves
//! only when a whole window was stored: to that window's end.

use std::time::Duration;

use rexist_core::Record;
use rexist_core::model::now;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream};
use crate::http::Body;

/// Longest `lastModified` window NVD accepts.
const WINDOW: time::Duration = time::Duration::days(120);
/// How far back a first run looks.
const FIRST_RUN: time::Duration = time::Duration::days(7);
/// Most CVEs NVD returns per page.
const MAX_PER_PAGE: u32 = 2000;
/// Between two requests without an API key.
const SPACING: Duration = Duration::from_secs(6);
/// Between two requests with an API key.
const SPACING_KEYED: Duration = Duration::from_millis(600);

/// The NVD CVE API.
#[derive(Debug, Clone)]
pub struct Nvd {
    /// `https://services.nvd.nist.gov/rest/json/cves/2.0`.
    pub url: String,
    /// `resultsPerPage` (at most 2000).
    pub page_size: u32,
}

/// The end of the last `lastModified` window fully stored. Same field as the
/// cursor of earlier versions (`{"last_mod": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NvdCursor {
    /// End of the last window stored; `None` before the first.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_mod: Option<OffsetDateTime>,
}

/// One page of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvdStep {
    /// Window start.
    pub start: OffsetDateTime,
    /// Window end (at most [`WINDOW`] after `start`).
    pub stop: OffsetDateTime,
    /// Where the run ends: its start time.
    pub end: OffsetDateTime,
    /// `startIndex` of this page.
    pub index: u64,
}

/// NVD's date form: extended ISO 8601 with milliseconds and an explicit
/// offset, its `+` already escaped for the query.
fn nvd_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000%2B00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Nvd {
    fn request(&self, step: NvdStep) -> Request<NvdStep> {
        let url = format!(
            "{}?lastModStartDate={}&lastModEndDate={}&resultsPerPage={}&startIndex={}",
            self.url.trim_end_matches('/'),
            nvd_date(step.start),
            nvd_date(step.stop),
            self.page_size.min(MAX_PER_PAGE),
            step.index
        );
        Request::get(url, Expect::Json, step)
    }

    /// The first page of the window starting at `start`.
    fn window(&self, start: OffsetDateTime, end: OffsetDateTime) -> Request<NvdStep> {
        self.request(NvdStep {
            start,
            stop: (start + WINDOW).min(end),
            end,
            index: 0,
        })
    }
}

impl Upstream for Nvd {
    type Cursor = NvdCursor;
    type Step = NvdStep;

    fn first(
        &self,
        _: &RunContext<'_>,
        cursor: &mut NvdCursor,
    ) -> Result<Request<NvdStep>, String> {
        let end = now();
        // A cursor ahead of the clock (the clock went back) asks for nothing new.
        let start = cursor.last_mod.unwrap_or(end - FIRST_RUN).min(end);
        Ok(self.window(start, end))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<NvdStep>,
        cursor: &mut NvdCursor,
    ) -> Result<Page<NvdStep>, String> {
        let step = request.step;
        let page = rexist_formats::nvd::parse_page(&answer.bytes)
            .map_err(|e| format!("startIndex {}: {e}", step.index))?;
        let (next, checkpoint) = if let Some(index) = page.next_start() {
            (Some(self.request(NvdStep { index, ..step })), false)
        } else {
            // The whole window is stored: the next run starts at its end.
            cursor.last_mod = Some(step.stop);
            let next = (step.stop < step.end).then(|| self.window(step.stop, step.end));
            (next, true)
        };
        Ok(Page {
            records: page.records.into_iter().map(Record::Item).collect(),
            rejected: page.rejected,
            retractions: Vec::new(),
            next,
            checkpoint,
        })
    }

    fn spacing(&self, ctx: &RunContext<'_>) -> Duration {
        let keyed = ctx
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("apikey"));
        if keyed { SPACING_KEYED } else { SPACING }
    }
}

/// Entries a page when the table's `page_size` is unset.
pub const PAGE_SIZE: u32 = 2000;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dates_in_nvd_form() {
        assert_eq!(
            nvd_date(datetime!(2024-04-01 13:00:05 +1)),
            "2024-04-01T12:00:05.000%2B00:00"
        );
    }

    #[test]
    fn windows_of_at_most_120_days() {
        let nvd = Nvd {
            url: "https://nvd.example/rest/json/cves/2.0".into(),
            page_size: 5000,
        };
        let end = datetime!(2025-01-01 00:00 UTC);
        let first = nvd.window(end - time::Duration::days(300), end);
        assert_eq!(first.step.stop - first.step.start, WINDOW);
        assert!(
            first.url.contains("resultsPerPage=2000&startIndex=0"),
            "{}",
            first.url
        );
        let last = nvd.window(end - time::Duration::days(60), end);
        assert_eq!(last.step.stop, end);
    }

    #[test]
    fn spaced_as_the_rate_limit_asks_with_and_without_a_key() {
        let nvd = Nvd {
            url: String::new(),
            page_size: 1,
        };
        let fetcher =
            crate::http::Fetcher::new(crate::http::FetchOptions::default()).expect("HTTP client");
        let ctx = |headers| RunContext {
            fetcher: &fetcher,
            headers,
            previous: None,
            hunt_terms: &[],
        };
        assert_eq!(nvd.spacing(&ctx(&[])), Duration::from_secs(6));
        let keyed = [("apiKey".to_owned(), "k".to_owned())];
        assert_eq!(nvd.spacing(&ctx(&keyed)), Duration::from_millis(600));
    }
}
