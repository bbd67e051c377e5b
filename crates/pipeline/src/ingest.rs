//! The one way data enters the store: store → warning lists → hunt.
//!
//! Every writer — source runs, `rexist ingest file`, TAXII POST, the API —
//! goes through an [`Ingest`], which stores through the [`Store`] (storage
//! only) and then hands what changed to the [`Hunter`], which flags
//! indicators on a warning list or allow-list and records hunt hits. Reads
//! go to the store directly.

use std::sync::Arc;

use rexist_core::{
    ItemId, Mention, NewItem, NewRelation, NewSighting, Retraction, Source, SourceId, UpsertSummary,
};
use rexist_store::{ItemChange, Result, Store};

use crate::hunter::{Hunter, ListsLoader};

/// Stores and hunts: what every writer calls.
pub struct Ingest {
    store: Arc<dyn Store>,
    hunter: Arc<Hunter>,
}

impl Ingest {
    /// Writes into `store`, flagging indicators on the lists `lists` loads
    /// (warning lists, allow-lists) and evaluating the stored hunts.
    pub fn new(store: Arc<dyn Store>, lists: Option<ListsLoader>) -> Arc<Self> {
        Arc::new(Self {
            hunter: Arc::new(Hunter::new(Arc::clone(&store), lists)),
            store,
        })
    }

    /// The store behind it, for reads and bookkeeping (runs, sources).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The hunter, for retro-hunts and previews.
    pub fn hunter(&self) -> &Arc<Hunter> {
        &self.hunter
    }

    /// Upserts items; new and changed ones are hunted.
    pub async fn items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>> {
        let changes = self.store.upsert_items(source, items).await?;
        self.hunter.on_items(source, items, &changes).await?;
        Ok(changes)
    }

    /// Upserts sightings; their indicators are flagged and hunted.
    pub async fn sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary> {
        let summary = self.store.upsert_sightings(source, sightings).await?;
        self.hunter
            .on_indicators(sightings.iter().map(|s| &s.indicator))
            .await?;
        Ok(summary)
    }

    /// Records indicators mentioned in an item's text; they are flagged and hunted.
    pub async fn mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary> {
        let summary = self.store.record_mentions(source, item, mentions).await?;
        self.hunter
            .on_indicators(mentions.iter().map(|m| &m.indicator))
            .await?;
        Ok(summary)
    }

    /// Adds stated relations; both ends are flagged and hunted.
    pub async fn relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64> {
        let n = self.store.add_relations(source, relations).await?;
        self.hunter
            .on_indicators(relations.iter().flat_map(|r| [&r.from, &r.to]))
            .await?;
        Ok(n)
    }

    /// Retires what `source` withdrew (nothing to hunt: nothing new).
    pub async fn retire(&self, source: &Source, retractions: &[Retraction]) -> Result<u64> {
        self.store.retire_sightings(source, retractions).await
    }

    /// Retires `source`'s list sightings a trusted snapshot no longer carries.
    pub async fn delist(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64> {
        self.store.mark_unlisted(source, before).await
    }

    /// Says the hunts changed in this process, so the next write recompiles
    /// them at once (other nodes notice the store's revision within seconds).
    pub async fn hunts_changed(&self) {
        self.hunter.invalidate().await;
    }
}
