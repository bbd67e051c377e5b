//! Threat entities in the API: what an entity item adds to `GET
//! /api/v1/items/{id}` (its names, ATT&CK facts, sources, items,
//! indicators, related entities and timeline) and the entities any other
//! item names.

use rexist_core::entity::EntityRef;
use rexist_core::{IndicatorStatus, IndicatorType, Item, ItemId, ItemKind, Tlp};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;

/// Entries of each list an entity answer carries.
pub const ENTITY_LIST: u32 = 100;

/// ATT&CK's facts about an entity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttackFacts {
    /// `T1566.001`, `G0007`, `S0002`.
    pub id: String,
    /// Tactics of a technique (`initial-access`).
    pub tactics: Vec<String>,
    /// ATT&CK's page.
    pub url: Option<String>,
}

/// An item that names an entity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedItem {
    /// Item id.
    #[schema(value_type = i64)]
    pub id: ItemId,
    /// Kind.
    pub kind: ItemKind,
    /// Title.
    pub title: String,
    /// When its upstream published it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<OffsetDateTime>,
    /// Its TLP.
    pub tlp: Tlp,
}

/// An indicator an entity's items state or mention.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedIndicator {
    /// Type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Canonical value.
    pub value: String,
    /// Score.
    pub score: u8,
    /// Status.
    pub status: IndicatorStatus,
    /// Latest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
}

/// A count under a name (a source, a month).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Count {
    /// The source's name, or the month (`YYYY-MM`).
    pub name: String,
    /// How many items.
    pub count: u64,
}

/// An entity named in the same items, with how many it shares.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelatedEntity {
    /// The other entity.
    #[serde(flatten)]
    pub entity: EntityRef,
    /// Items naming both (among this entity's 500 most recent).
    pub shared_items: u64,
}

/// What the store knows of an entity, at the reader's clearance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityView {
    /// Every name that resolves to it, sorted.
    pub names: Vec<String>,
    /// Its other names (the item's `extra.aliases`).
    pub aliases: Vec<String>,
    /// ATT&CK's facts, when it is in ATT&CK.
    pub attack: Option<AttackFacts>,
    /// Sources whose items name it, with how many items.
    pub sources: Vec<Count>,
    /// How many items name it.
    pub items_total: u64,
    /// The items, most recently linked first (at most 100).
    pub items: Vec<LinkedItem>,
    /// Indicators those items state or mention, most recently seen first
    /// (at most 100, from its 500 most recently linked items).
    pub indicators: Vec<LinkedIndicator>,
    /// Entities named in the same items, most shared first (at most 100).
    pub related: Vec<RelatedEntity>,
    /// Items naming it per month of publication (`YYYY-MM`), oldest first.
    pub months: Vec<Count>,
}

/// The view of entity item `entity` for a reader cleared to `clearance`.
pub async fn entity_view(
    state: &AppState,
    entity: &Item,
    clearance: Tlp,
) -> Result<EntityView, ApiError> {
    let facts = state
        .store
        .entity_facts(entity.id, clearance, ENTITY_LIST)
        .await?;
    let r = EntityRef::of(entity);
    let attack = r.attack_id.as_ref().map(|id| AttackFacts {
        id: id.clone(),
        tactics: rexist_core::attack::technique(id)
            .map(|t| t.tactics.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default(),
        url: rexist_pipeline::entities::attack_url(id),
    });
    let count = |(name, count): (String, u64)| Count { name, count };
    Ok(EntityView {
        names: facts.names,
        aliases: r.aliases,
        attack,
        sources: facts.sources.into_iter().map(count).collect(),
        items_total: facts.items_total,
        items: facts
            .items
            .into_iter()
            .map(|i| LinkedItem {
                id: i.id,
                kind: i.content.kind,
                title: i.content.title,
                published_at: i.content.published_at,
                tlp: i.content.tlp,
            })
            .collect(),
        indicators: facts
            .indicators
            .into_iter()
            .map(|i| LinkedIndicator {
                kind: i.kind,
                value: i.value,
                score: i.score,
                status: i.status,
                last_seen: i.last_seen,
            })
            .collect(),
        related: facts
            .related
            .into_iter()
            .map(|(e, n)| RelatedEntity {
                entity: EntityRef::of(&e),
                shared_items: n,
            })
            .collect(),
        months: facts.months.into_iter().map(count).collect(),
    })
}

/// The entities `item` names, at `clearance`.
pub async fn named_by(
    state: &AppState,
    item: ItemId,
    clearance: Tlp,
) -> Result<Vec<EntityRef>, ApiError> {
    Ok(state
        .store
        .entities_of_items(&[item], clearance)
        .await?
        .iter()
        .map(|(_, e)| EntityRef::of(e))
        .collect())
}
