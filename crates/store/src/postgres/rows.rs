//! Reading rows of the shared column lists (see `decode.rs`) from PostgreSQL.

use rexist_core::{IndicatorRecord, Item, Run, Sighting, Source};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::Result;
use crate::decode::{IndicatorRow, ItemRow, RunRow, SightingRow, SourceRow};

pub(crate) fn source_from_row(r: &PgRow) -> Result<Source> {
    SourceRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: r.try_get(2)?,
        enabled: r.try_get(3)?,
        confidence: i64::from(r.try_get::<i16, _>(4)?),
        tlp: i64::from(r.try_get::<i16, _>(5)?),
        tags: r.try_get(6)?,
        last_run_at: r.try_get(7)?,
        last_success_at: r.try_get(8)?,
        consecutive_failures: i64::from(r.try_get::<i32, _>(9)?),
        last_error: r.try_get(10)?,
        first_run_at: r.try_get(11)?,
    }
    .decode()
}

pub(crate) fn run_from_row(r: &PgRow) -> Result<Run> {
    RunRow {
        id: r.try_get(0)?,
        source_id: r.try_get(1)?,
        started_at: r.try_get(2)?,
        finished_at: r.try_get(3)?,
        outcome: r.try_get(4)?,
        counts: r.try_get(5)?,
        cursor: r.try_get(6)?,
        error: r.try_get(7)?,
    }
    .decode()
}

pub(crate) fn item_from_row(r: &PgRow) -> Result<Item> {
    ItemRow {
        id: r.try_get(0)?,
        source_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        external_id: r.try_get(3)?,
        title: r.try_get(4)?,
        body: r.try_get(5)?,
        url: r.try_get(6)?,
        lang: r.try_get(7)?,
        published_at: r.try_get(8)?,
        tlp: i64::from(r.try_get::<i16, _>(9)?),
        tags: r.try_get(10)?,
        extra: r.try_get(11)?,
        created_at: r.try_get(12)?,
        updated_at: r.try_get(13)?,
    }
    .decode()
}

pub(crate) fn indicator_from_row(r: &PgRow) -> Result<IndicatorRecord> {
    IndicatorRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        value: r.try_get(2)?,
        first_seen: r.try_get(3)?,
        last_seen: r.try_get(4)?,
        sightings: r.try_get(5)?,
        score: i64::from(r.try_get::<i16, _>(6)?),
        tlp: i64::from(r.try_get::<i16, _>(7)?),
        status: r.try_get(8)?,
        status_reason: r.try_get(9)?,
    }
    .decode()
}

pub(crate) fn sighting_from_row(r: &PgRow) -> Result<Sighting> {
    SightingRow {
        id: r.try_get(0)?,
        indicator_id: r.try_get(1)?,
        source_id: r.try_get(2)?,
        item_id: r.try_get(3)?,
        first_seen: r.try_get(4)?,
        last_seen: r.try_get(5)?,
        confidence: i64::from(r.try_get::<i16, _>(6)?),
        tlp: i64::from(r.try_get::<i16, _>(7)?),
        labels: r.try_get(8)?,
        listed: r.try_get(9)?,
        retired_at: r.try_get(10)?,
        retired_reason: r.try_get(11)?,
        expires_at: r.try_get(12)?,
        author: r.try_get(13)?,
    }
    .decode()
}
