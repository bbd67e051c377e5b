//! STIX id → indicator row, for `match[id]` and single-object requests.
//!
//! STIX ids are hashes of an indicator's type and value under the
//! installation's namespace, so the store cannot look them up. The index maps a 64-bit hash of every object id a row
//! yields to the row's id; it is filled once by reading every row and then
//! kept current by reading only the rows added since (rows come in
//! `(added, id)` order, which only grows). A hash collision only adds a
//! candidate row: the objects are still filtered by their real id.
//! Memory: about 50 bytes per object, 15 MB for 100,000 indicators.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use rexist_core::IndicatorId;
use rexist_stix::write::StixIds;
use rexist_store::{ExportQuery, Store, StoreError};
use time::OffsetDateTime;

/// Rows read per store call while filling the index.
const BATCH: u32 = 10_000;

#[derive(Debug, Default)]
struct Inner {
    /// The last row indexed.
    after: Option<(OffsetDateTime, IndicatorId)>,
    /// Hash of a STIX id → the row it belongs to.
    rows: HashMap<u64, IndicatorId>,
    /// Further rows under a hash already taken (collisions, or an SCO two
    /// rows share).
    more: HashMap<u64, Vec<IndicatorId>>,
}

/// The index; see the module docs.
#[derive(Debug, Default)]
pub struct IdIndex {
    inner: Mutex<Inner>,
}

fn hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl IdIndex {
    /// The rows that may yield any of `ids`, after indexing the rows added
    /// since the last call.
    pub async fn rows_for<'a>(
        &self,
        store: &Arc<dyn Store>,
        stix: &StixIds,
        ids: impl IntoIterator<Item = &'a String>,
    ) -> Result<Vec<IndicatorId>, StoreError> {
        let mut after = self.lock().after;
        loop {
            let rows = store
                .export_indicators(&ExportQuery {
                    after,
                    limit: BATCH,
                    ..ExportQuery::default()
                })
                .await?;
            let mut entries = Vec::with_capacity(rows.len() * 4);
            let mut objects = rexist_stix::write::RowObjects::new(*stix);
            for row in &rows {
                objects.write_row(row);
                for obj in objects.iter() {
                    entries.push((hash(obj.id), row.record.id));
                }
            }
            let last = rows.last().map(ExportQuery::cursor);
            {
                let mut inner = self.lock();
                for (h, row) in entries {
                    match inner.rows.get(&h) {
                        None => {
                            inner.rows.insert(h, row);
                        }
                        Some(r) if *r == row => {}
                        Some(_) => {
                            let more = inner.more.entry(h).or_default();
                            if !more.contains(&row) {
                                more.push(row);
                            }
                        }
                    }
                }
                if last > inner.after {
                    inner.after = last;
                }
                after = inner.after;
            }
            if rows.len() < BATCH as usize {
                break;
            }
        }
        let inner = self.lock();
        let mut found = Vec::new();
        for id in ids {
            let h = hash(id);
            found.extend(inner.rows.get(&h).copied());
            found.extend(inner.more.get(&h).into_iter().flatten().copied());
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
