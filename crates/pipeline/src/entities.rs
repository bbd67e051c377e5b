//! Resolving the threat entities items name to one entity item each, across
//! sources (see [`rexist_core::entity`]).
//!
//! An entity is an item of the built-in [`ENTITIES_SOURCE`], keyed by its
//! class and first name, so two writers naming a new entity at once make
//! one item. Every name any source gave it resolves to it. Its TLP is the
//! least restrictive of the items that name it, and it shows a source's
//! description only when that source's item is at most its TLP, so an
//! actor first named in a TLP:RED event and later in a TLP:CLEAR pulse is
//! visible to everyone without the RED event's words.

use std::collections::HashMap;

use rexist_core::entity::{EntityMention, aliases_in, class, mentions, name_key};
use rexist_core::model::now;
use rexist_core::{
    ENTITIES_SOURCE, Item, ItemId, ItemKind, NewItem, Source, SourceId, SourceSpec, Tlp,
};
use rexist_store::{EntityLink, ItemChange, Store, StoreError};
use serde_json::{Value, json};

type Result<T> = rexist_store::Result<T>;

/// The built-in [`ENTITIES_SOURCE`], made on first use: disabled (nothing
/// runs it), TLP:CLEAR (each entity carries its own TLP).
pub async fn entities_source(store: &dyn Store) -> Result<Source> {
    if let Some(source) = store.source_by_name(ENTITIES_SOURCE).await? {
        return Ok(source);
    }
    store
        .upsert_source(&SourceSpec {
            name: ENTITIES_SOURCE.to_owned(),
            kind: ENTITIES_SOURCE.to_owned(),
            enabled: false,
            confidence: 50,
            tlp: Tlp::Clear,
            tags: Vec::new(),
        })
        .await
}

/// Every name an entity item goes by: its title and `extra.aliases`.
pub fn entity_names(entity: &Item) -> Vec<String> {
    let mut out = vec![entity.content.title.clone()];
    out.extend(aliases_in(&entity.content.extra));
    out
}

/// The names of the entities each of `items` names, at most `max_tlp`:
/// what a hunt's `entity:` compares for stored items (retro-hunts, the
/// hunt preview).
pub async fn names_of_items(
    store: &dyn Store,
    items: &[ItemId],
    max_tlp: Tlp,
) -> Result<HashMap<ItemId, Vec<String>>> {
    let mut out: HashMap<ItemId, Vec<String>> = HashMap::new();
    for (item, entity) in store.entities_of_items(items, max_tlp).await? {
        out.entry(item).or_default().extend(entity_names(&entity));
    }
    Ok(out)
}

/// ATT&CK's page for an id.
pub fn attack_url(id: &str) -> Option<String> {
    let path = match id.as_bytes().first()? {
        b'T' => format!("techniques/{}", id.replace('.', "/")),
        b'G' => format!("groups/{id}"),
        b'S' => format!("software/{id}"),
        b'C' => format!("campaigns/{id}"),
        _ => return None,
    };
    Some(format!("https://attack.mitre.org/{path}/"))
}

/// The keys a mention resolves by, and the names it registers: an attack
/// pattern with an ATT&CK id only by the id and its full name (sub-technique
/// names repeat across techniques: `Domain Account`), anything else by
/// every name.
fn keys_and_names(m: &EntityMention) -> Vec<(String, String)> {
    let names: Vec<&str> = match (&m.kind, &m.attack_id) {
        (ItemKind::AttackPattern, Some(id)) => vec![id.as_str(), m.name.as_str()],
        _ => m.names().collect(),
    };
    names
        .into_iter()
        .map(|n| (name_key(n), n.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Links the new and changed `items` of `source` to the entities they name,
/// making entities not yet known. Returns, per linked item, the names of
/// its entities (what a hunt's `entity:` compares).
pub async fn link_items(
    store: &dyn Store,
    source: SourceId,
    items: &[NewItem],
    changes: &[ItemChange],
) -> Result<HashMap<ItemId, Vec<String>>> {
    let mut found: Vec<(ItemId, Tlp, Vec<EntityMention>)> = Vec::new();
    for (item, change) in items.iter().zip(changes) {
        if matches!(change, ItemChange::Unchanged(_)) || item.kind.is_entity() {
            continue;
        }
        let named = mentions(item.kind, &item.tags, &item.extra);
        if !named.is_empty() {
            found.push((change.id(), item.tlp, named));
        }
    }
    let mut out: HashMap<ItemId, Vec<String>> = HashMap::new();
    if found.is_empty() {
        return Ok(out);
    }
    let home = entities_source(store).await?;
    if home.id == source {
        return Ok(out);
    }
    let seen_at = now();
    let mut links = Vec::new();
    let mut batch = Batch::default();
    for (item, tlp, named) in found {
        for m in named {
            let entity = resolve(store, &home, &mut batch, &m, tlp).await?;
            out.entry(item).or_default().extend(entity_names(&entity));
            links.push(EntityLink {
                entity: entity.id,
                item,
                source,
                is_item: m.is_item,
                seen_at,
            });
        }
    }
    store.link_entities(&links).await?;
    Ok(out)
}

/// Items read per page by [`link_stored`].
const LINK_PAGE: u32 = 500;

/// Links every stored item to the entities it names, page by page (what
/// items stored before entities existed need once); no hunt runs. Returns
/// (items read, items that name an entity).
pub async fn link_stored(store: &dyn Store) -> Result<(u64, u64)> {
    let (mut scanned, mut linked) = (0u64, 0u64);
    let mut before = None;
    loop {
        let page = store
            .search_items(&rexist_store::ItemQuery {
                before,
                limit: LINK_PAGE,
                ..rexist_store::ItemQuery::default()
            })
            .await?;
        let Some(last) = page.items.last() else { break };
        before = Some(last.id);
        scanned += page.items.len() as u64;
        let mut by_source: HashMap<SourceId, (Vec<NewItem>, Vec<ItemChange>)> = HashMap::new();
        for item in page.items {
            let (items, changes) = by_source.entry(item.source_id).or_default();
            items.push(item.content);
            changes.push(ItemChange::Updated(item.id));
        }
        for (source, (items, changes)) in by_source {
            linked += link_items(store, source, &items, &changes).await?.len() as u64;
        }
        if page.next.is_none() {
            break;
        }
    }
    Ok((scanned, linked))
}

/// The entity `m` names (made when new), its names, TLP and description
/// brought up to date with what `m`, stated in an item at `tlp`, adds.
async fn resolve(
    store: &dyn Store,
    home: &Source,
    batch: &mut Batch,
    m: &EntityMention,
    tlp: Tlp,
) -> Result<Item> {
    let cls = class(m.kind);
    let pairs = keys_and_names(m);
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    let cached = keys
        .iter()
        .find_map(|k| batch.known.get(&(cls, k.clone())).copied());
    let id = match cached {
        Some(id) => Some(id),
        None => store.entity_named(cls, &keys).await?,
    };
    let id = if let Some(id) = id {
        id
    } else {
        let key = keys.first().cloned().unwrap_or_default();
        let fresh = new_entity(m, &key, tlp);
        let change = store.upsert_items(home.id, &[fresh]).await?;
        change
            .first()
            .copied()
            .map(ItemChange::id)
            .ok_or_else(|| StoreError::internal("entity upsert returned nothing"))?
    };
    // Keys this batch already registered were offered to the store then: a
    // repeat mention (every pulse of a feed naming one family) writes nothing.
    let fresh: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| !batch.known.contains_key(&(cls, k.clone())))
        .collect();
    for k in keys {
        batch.known.insert((cls, k), id);
    }
    let added = if fresh.is_empty() {
        0
    } else {
        store.add_entity_names(id, cls, &fresh).await?
    };
    let entity = match batch.entities.get(&id) {
        Some(e) => e.clone(),
        None => store
            .item(id)
            .await?
            .ok_or_else(|| StoreError::internal(format!("entity {id} vanished")))?,
    };
    let entity = match merged(&entity, m, tlp, added > 0) {
        Some(content) => {
            store
                .upsert_items(home.id, std::slice::from_ref(&content))
                .await?;
            Item { content, ..entity }
        }
        None => entity,
    };
    batch.entities.insert(id, entity.clone());
    Ok(entity)
}

/// What one call of [`link_items`] has resolved so far.
#[derive(Default)]
struct Batch {
    /// Entity by (class, name key).
    known: HashMap<(&'static str, String), ItemId>,
    /// Entity items as last written.
    entities: HashMap<ItemId, Item>,
}

fn new_entity(m: &EntityMention, key: &str, tlp: Tlp) -> NewItem {
    let technique = m
        .attack_id
        .as_deref()
        .and_then(rexist_core::attack::technique);
    NewItem {
        kind: m.kind,
        external_id: format!("{}:{key}", class(m.kind)),
        title: m.name.clone(),
        body: m.description.clone().unwrap_or_default(),
        url: m.attack_id.as_deref().and_then(attack_url),
        lang: None,
        published_at: None,
        tlp,
        tags: Vec::new(),
        extra: json!({
            "aliases": m.aliases,
            "attack_id": m.attack_id,
            "tactics": technique.map(|t| t.tactics.clone()).unwrap_or_default(),
            "description_tlp": m.description.as_ref().map(|_| tlp.as_str()),
        }),
    }
}

/// The entity's content with what `m` adds, or `None` when it adds nothing.
fn merged(entity: &Item, m: &EntityMention, tlp: Tlp, new_names: bool) -> Option<NewItem> {
    let mut c = entity.content.clone();
    let mut changed = false;
    if tlp < c.tlp {
        c.tlp = tlp;
        changed = true;
    }
    let extra = c.extra.as_object_mut()?;
    let desc_tlp = extra
        .get("description_tlp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Tlp>().ok());
    // A description stays only while it is no more restricted than the entity.
    if desc_tlp.is_some_and(|d| d > c.tlp) {
        c.body.clear();
        extra.insert("description_tlp".into(), Value::Null);
        changed = true;
    }
    if let Some(d) = &m.description
        && tlp <= c.tlp
        && (c.body.is_empty() || desc_tlp.is_some_and(|old| tlp < old))
        && c.body != *d
    {
        c.body.clone_from(d);
        extra.insert("description_tlp".into(), Value::from(tlp.as_str()));
        changed = true;
    }
    if new_names {
        let mut list = aliases_in(&Value::Object(extra.clone()));
        let title_key = name_key(&c.title);
        for n in m.names() {
            let k = name_key(n);
            if k != title_key && !list.iter().any(|a| name_key(a) == k) {
                list.push(n.to_owned());
                changed = true;
            }
        }
        extra.insert("aliases".into(), json!(list));
    }
    if extra.get("attack_id").is_none_or(Value::is_null)
        && let Some(id) = &m.attack_id
    {
        extra.insert("attack_id".into(), Value::from(id.clone()));
        c.url = c.url.or_else(|| attack_url(id));
        changed = true;
    }
    changed.then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_urls() {
        assert_eq!(
            attack_url("T1566.001").as_deref(),
            Some("https://attack.mitre.org/techniques/T1566/001/")
        );
        assert_eq!(
            attack_url("G0007").as_deref(),
            Some("https://attack.mitre.org/groups/G0007/")
        );
        assert_eq!(attack_url("X1"), None);
    }

    #[test]
    fn technique_keys_are_the_id_and_full_name() {
        let m = EntityMention::named(ItemKind::AttackPattern, "T1087.002")
            .unwrap()
            .with_attack();
        let keys: Vec<String> = keys_and_names(&m).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["t1087002", "accountdiscovery:domainaccount"]);
    }
}
