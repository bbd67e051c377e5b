//! What both backends share about threat entities: the link type and what
//! an entity page reads (see migration 13 and [`crate::Store::link_entities`]).

use rexist_core::{IndicatorRecord, Item, ItemId, SourceId};
use time::OffsetDateTime;

/// An item linked to an entity it names (or is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityLink {
    /// The entity's item.
    pub entity: ItemId,
    /// The item that names it.
    pub item: ItemId,
    /// The source of that item.
    pub source: SourceId,
    /// Whether the item is the source's record of the entity itself.
    pub is_item: bool,
    /// When it was named (now, for a new or changed item).
    pub seen_at: OffsetDateTime,
}

/// What the store knows of one entity, at a reader's clearance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityFacts {
    /// Every name that resolves to it, as first written, sorted.
    pub names: Vec<String>,
    /// Sources whose items name it, with how many of their items do.
    pub sources: Vec<(String, u64)>,
    /// Items that name it, most recently linked first, at most the limit.
    pub items: Vec<Item>,
    /// How many items name it in all (at the clearance).
    pub items_total: u64,
    /// Indicators stated in or mentioned by those items, most recently
    /// seen first, at most the limit.
    pub indicators: Vec<IndicatorRecord>,
    /// Entities named in the same items, with how many items they share,
    /// most shared first, at most the limit.
    pub related: Vec<(Item, u64)>,
    /// Items linked per month (`YYYY-MM`, oldest first): the timeline.
    pub months: Vec<(String, u64)>,
}

/// Most entities an indicator's answer names.
pub const MAX_INDICATOR_ENTITIES: u32 = 50;

/// Links read for an entity's indicators and related entities: its most
/// recently linked items, so a page stays bounded for a family named in
/// thousands of reports.
pub(crate) const RECENT_LINKS: u32 = 500;
