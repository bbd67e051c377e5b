//! A MISP feed (INTERFACES.md §1.4): `manifest.json`, then each event file
//! `<uuid>.json` whose manifest `timestamp` is newer than the cursor, oldest
//! first. Each event is an event item whose attributes are sightings;
//! deleted attributes, objects and events and attributes with `to_ids` off
//! are retractions (`rexist_formats::misp`).
//!
//! Events come oldest first, so each stored event is a checkpoint: a failure
//! in the middle resumes after the last event stored. An event file whose
//! `integrity:sha256` does not match the manifest stops the run, never
//! stored.

use std::sync::Arc;

use rexist_core::{Record, Rejected};
use serde::{Deserialize, Serialize};

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream};
use crate::http::Body;

/// A MISP feed directory.
#[derive(Debug, Clone)]
pub struct MispFeed {
    /// The feed directory (`https://www.circl.lu/doc/misp/feed-osint/`).
    pub url: String,
}

/// The newest manifest `timestamp` (epoch seconds) of the events fully
/// stored; the same JSON as before the connectors moved (`{"timestamp":…}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MispFeedCursor {
    /// Events listed with a timestamp up to this are stored; 0 at first.
    #[serde(default)]
    pub timestamp: i64,
}

/// One event file to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Event uuid (the file name).
    pub uuid: String,
    /// Its manifest `timestamp`.
    pub timestamp: i64,
    /// Its manifest `integrity:sha256`, when given.
    pub sha256: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone)]
pub enum FeedStep {
    /// Reading `manifest.json`.
    Manifest,
    /// Reading the `index`th of the event files due, oldest first.
    Event {
        /// Every event file due this run.
        due: Arc<[Due]>,
        /// Which one this request reads.
        index: usize,
    },
}

impl MispFeed {
    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    fn event(&self, due: &Arc<[Due]>, index: usize) -> Option<Request<FeedStep>> {
        let entry = due.get(index)?;
        Some(Request::get(
            format!("{}/{}.json", self.base(), entry.uuid),
            Expect::Json,
            FeedStep::Event {
                due: Arc::clone(due),
                index,
            },
        ))
    }

    fn manifest(&self, answer: &Body, cursor: &MispFeedCursor) -> Result<Page<FeedStep>, String> {
        let manifest =
            rexist_formats::misp::parse_manifest(&answer.bytes).map_err(|e| e.to_string())?;
        let mut due: Vec<Due> = manifest
            .changed_since(cursor.timestamp)
            .map(|e| Due {
                uuid: e.uuid.clone(),
                timestamp: e.timestamp,
                sha256: e.sha256.clone(),
            })
            .collect();
        due.sort_by(|a, b| (a.timestamp, &a.uuid).cmp(&(b.timestamp, &b.uuid)));
        let due: Arc<[Due]> = due.into();
        Ok(Page {
            records: Vec::new(),
            rejected: manifest.rejected,
            retractions: Vec::new(),
            next: self.event(&due, 0),
            checkpoint: false,
        })
    }
}

impl Upstream for MispFeed {
    type Cursor = MispFeedCursor;
    type Step = FeedStep;

    fn first(
        &self,
        _: &RunContext<'_>,
        _: &mut MispFeedCursor,
    ) -> Result<Request<FeedStep>, String> {
        Ok(Request::get(
            format!("{}/manifest.json", self.base()),
            Expect::Json,
            FeedStep::Manifest,
        ))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<FeedStep>,
        cursor: &mut MispFeedCursor,
    ) -> Result<Page<FeedStep>, String> {
        let (due, index) = match &request.step {
            FeedStep::Manifest => return self.manifest(answer, cursor),
            FeedStep::Event { due, index } => (due, *index),
        };
        let entry = due
            .get(index)
            .ok_or_else(|| format!("no event file {index} due"))?;
        if let Some(expected) = &entry.sha256 {
            let actual = rexist_core::indicator::sha256_hex(&answer.bytes);
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(format!(
                    "event {}: sha256 {actual} does not match the manifest's {expected}",
                    entry.uuid
                ));
            }
        }
        let events = rexist_formats::misp::parse_events(&answer.bytes)
            .map_err(|e| format!("event {}: {e}", entry.uuid))?;
        cursor.timestamp = cursor.timestamp.max(entry.timestamp);
        let next = self.event(due, index + 1);
        // The cursor may move past this event only when the next one is
        // newer: two events of the same second must both be stored before
        // the cursor says so, or a failure between them would skip one.
        let checkpoint = due
            .get(index + 1)
            .is_none_or(|n| n.timestamp > entry.timestamp);
        let mut rejected: Vec<Rejected> = events.rejected;
        if events.event_count == 0 {
            rejected.push(Rejected::new(
                format!("event {}", entry.uuid),
                "event file holds no event",
            ));
        }
        Ok(Page {
            records: events.records.into_iter().map(Record::Item).collect(),
            rejected,
            retractions: events.retractions,
            next,
            checkpoint,
        })
    }
}
