//! Reading rows of the shared column lists (see `decode.rs`) from SQLite.

use rexist_core::{IndicatorRecord, Item, Run, Sighting, Source};
use rusqlite::Row;

pub(crate) use crate::decode::{
    INDICATOR_COLUMNS, ITEM_COLUMNS, RUN_COLUMNS, SIGHTING_COLUMNS, SOURCE_COLUMNS, content_hash,
    decode_cursor, encode_cursor,
};
use crate::decode::{IndicatorRow, ItemRow, RunRow, SightingRow, SourceRow};

/// Turns a decoding failure into the error rusqlite's row mappers return.
fn conv<T>(r: crate::Result<T>) -> rusqlite::Result<T> {
    r.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn source_from_row(r: &Row<'_>) -> rusqlite::Result<Source> {
    conv(
        SourceRow {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            enabled: r.get(3)?,
            confidence: r.get(4)?,
            tlp: r.get(5)?,
            tags: r.get(6)?,
            last_run_at: r.get(7)?,
            last_success_at: r.get(8)?,
            consecutive_failures: r.get(9)?,
            last_error: r.get(10)?,
            first_run_at: r.get(11)?,
        }
        .decode(),
    )
}

pub(crate) fn run_from_row(r: &Row<'_>) -> rusqlite::Result<Run> {
    conv(
        RunRow {
            id: r.get(0)?,
            source_id: r.get(1)?,
            started_at: r.get(2)?,
            finished_at: r.get(3)?,
            outcome: r.get(4)?,
            counts: r.get(5)?,
            cursor: r.get(6)?,
            error: r.get(7)?,
        }
        .decode(),
    )
}

pub(crate) fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    conv(
        ItemRow {
            id: r.get(0)?,
            source_id: r.get(1)?,
            kind: r.get(2)?,
            external_id: r.get(3)?,
            title: r.get(4)?,
            body: r.get(5)?,
            url: r.get(6)?,
            lang: r.get(7)?,
            published_at: r.get(8)?,
            tlp: r.get(9)?,
            tags: r.get(10)?,
            extra: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
        }
        .decode(),
    )
}

pub(crate) fn indicator_from_row(r: &Row<'_>) -> rusqlite::Result<IndicatorRecord> {
    conv(
        IndicatorRow {
            id: r.get(0)?,
            kind: r.get(1)?,
            value: r.get(2)?,
            first_seen: r.get(3)?,
            last_seen: r.get(4)?,
            sightings: r.get(5)?,
            score: r.get(6)?,
            tlp: r.get(7)?,
            status: r.get(8)?,
            status_reason: r.get(9)?,
        }
        .decode(),
    )
}

pub(crate) fn sighting_from_row(r: &Row<'_>) -> rusqlite::Result<Sighting> {
    conv(
        SightingRow {
            id: r.get(0)?,
            indicator_id: r.get(1)?,
            source_id: r.get(2)?,
            item_id: r.get(3)?,
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
            confidence: r.get(6)?,
            tlp: r.get(7)?,
            labels: r.get(8)?,
            listed: r.get(9)?,
            retired_at: r.get(10)?,
            retired_reason: r.get(11)?,
            expires_at: r.get(12)?,
            author: r.get(13)?,
        }
        .decode(),
    )
}
