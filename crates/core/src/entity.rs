//! Threat entities: threat actors, intrusion sets, malware, tools, campaigns
//! and attack patterns, named by many sources under many names.
//!
//! Parsers state what an item names in `extra.entities` (a list of
//! [`EntityMention`]); [`mentions`] reads that list, and MISP galaxy tags
//! (`misp-galaxy:threat-actor="Sofacy"`) on any item, into one list. The
//! pipeline resolves each mention to one entity item across sources: names
//! and aliases match case-insensitively and ignoring spaces, hyphens and
//! underscores ([`name_key`]), within a [`class`] (a threat actor and an
//! intrusion set of the same name are one entity; so are a malware and a
//! tool), and ATT&CK's own names and aliases ([`crate::attack`]) join the
//! names each source uses.

use serde::{Deserialize, Serialize};

use crate::attack;
use crate::model::ItemKind;

/// The `extra` key under which parsers list the entities an item names.
pub const EXTRA_KEY: &str = "entities";

/// Longest entity name kept; longer ones are not names.
pub const MAX_NAME: usize = 200;

/// An entity an item names, or is (a STIX threat-actor object, a
/// ThreatConnect Adversary group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityMention {
    /// Entity kind: one of [`ItemKind::ENTITIES`].
    pub kind: ItemKind,
    /// The name the source uses.
    pub name: String,
    /// Other names the source gives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// What the source says it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The ATT&CK id the source gives (`T1566.001`, `G0007`, `S0002`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_id: Option<String>,
    /// Whether the item is the source's record of the entity itself.
    #[serde(default, rename = "self", skip_serializing_if = "std::ops::Not::not")]
    pub is_item: bool,
}

impl EntityMention {
    /// A mention of `name` as a `kind`, with nothing else known.
    pub fn named(kind: ItemKind, name: &str) -> Option<Self> {
        let name = clean(name)?;
        kind.is_entity().then(|| Self {
            kind,
            name,
            aliases: Vec::new(),
            description: None,
            attack_id: None,
            is_item: false,
        })
    }

    /// The mention with ATT&CK's knowledge added: the ATT&CK name of an id,
    /// ATT&CK's aliases of a name, the technique's name for an id. An
    /// attack pattern named only by its id gets the technique's name.
    #[must_use]
    pub fn with_attack(mut self) -> Self {
        if self.kind == ItemKind::AttackPattern {
            let id = self
                .attack_id
                .clone()
                .or_else(|| attack::technique_id_in(&self.name));
            if let Some(t) = id.as_deref().and_then(attack::technique) {
                self.attack_id = Some(t.id.to_owned());
                let full = t.full_name();
                if self.name != full {
                    let old = std::mem::replace(&mut self.name, full);
                    push_alias(&mut self.aliases, &old);
                }
                push_alias(&mut self.aliases, t.id);
            }
            return self;
        }
        let found = self
            .attack_id
            .as_deref()
            .and_then(attack::object)
            .or_else(|| {
                std::iter::once(&self.name)
                    .chain(&self.aliases)
                    .find_map(|n| attack::object_named(class(self.kind), n))
            });
        if let Some(o) = found {
            self.attack_id = Some(o.id.to_owned());
            // Sources disagree on malware versus tool (MISP's `tool` galaxy
            // holds backdoors); ATT&CK's word settles it. Actors keep the
            // source's kind: a threat actor is not renamed an intrusion set.
            if class(self.kind) == "software" {
                self.kind = o.kind;
            }
            let old = std::mem::replace(&mut self.name, o.name.to_owned());
            push_alias(&mut self.aliases, &old);
            for a in &o.aliases {
                push_alias(&mut self.aliases, a);
            }
            let key = name_key(&self.name);
            self.aliases.retain(|a| name_key(a) != key);
        }
        self
    }

    /// Every name it goes by: the name, then the aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

fn push_alias(aliases: &mut Vec<String>, name: &str) {
    if let Some(name) = clean(name)
        && !aliases.iter().any(|a| name_key(a) == name_key(&name))
    {
        aliases.push(name);
    }
}

/// A name trimmed, inner whitespace collapsed; `None` when empty or too long.
fn clean(name: &str) -> Option<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty() && name.len() <= MAX_NAME).then_some(name)
}

/// The key names match by: lower case, without spaces, hyphens, underscores
/// or dots, so `APT 28`, `apt-28` and `APT28` are one name.
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The namespace names resolve in: threat actors and intrusion sets are
/// one (`actor`), malware and tools one (`software`).
pub fn class(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::ThreatActor | ItemKind::IntrusionSet => "actor",
        ItemKind::Malware | ItemKind::Tool => "software",
        ItemKind::Campaign => "campaign",
        ItemKind::AttackPattern => "attack-pattern",
        _ => "none",
    }
}

/// The entity kind a MISP galaxy type stands for (`threat-actor`,
/// `mitre-intrusion-set`, `ransomware`, …); `None` for galaxies that are
/// not threat entities (sectors, countries, tea matrices).
pub fn misp_galaxy_kind(galaxy: &str) -> Option<ItemKind> {
    let g = galaxy.trim().to_ascii_lowercase();
    let g = g
        .strip_prefix("mitre-enterprise-attack-")
        .or_else(|| g.strip_prefix("mitre-mobile-attack-"))
        .or_else(|| g.strip_prefix("mitre-pre-attack-"))
        .or_else(|| g.strip_prefix("mitre-"))
        .unwrap_or(&g);
    Some(match g {
        "threat-actor" | "microsoft-activity-group" => ItemKind::ThreatActor,
        "intrusion-set" => ItemKind::IntrusionSet,
        "malware" | "malpedia" | "ransomware" | "botnet" | "rat" | "banker" | "stealer"
        | "backdoor" | "android" | "exploit-kit" => ItemKind::Malware,
        "tool" => ItemKind::Tool,
        "campaign" => ItemKind::Campaign,
        "attack-pattern" => ItemKind::AttackPattern,
        _ => return None,
    })
}

/// A MISP galaxy cluster as a mention: MITRE galaxies write
/// `"Spearphishing Attachment - T1566.001"` and `"APT28 - G0007"`, so a
/// trailing ATT&CK id becomes the mention's id.
pub fn from_misp_cluster(
    galaxy: &str,
    value: &str,
    synonyms: &[String],
    description: Option<&str>,
) -> Option<EntityMention> {
    let kind = misp_galaxy_kind(galaxy)?;
    let (name, id) = match value.rsplit_once(" - ") {
        Some((name, id)) if attack::is_attack_id(id.trim()) => (name, Some(id.trim().to_owned())),
        _ => (value, None),
    };
    let mut m = EntityMention::named(kind, name)?;
    m.attack_id = id;
    for s in synonyms {
        push_alias(&mut m.aliases, s);
    }
    m.description = description
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    Some(m)
}

/// What `extra` and `tags` of an item name, ATT&CK knowledge added, one
/// mention per entity (the first wins; later ones add aliases).
pub fn mentions(kind: ItemKind, tags: &[String], extra: &serde_json::Value) -> Vec<EntityMention> {
    if kind.is_entity() {
        return Vec::new();
    }
    let mut out: Vec<EntityMention> = Vec::new();
    let stated = extra
        .get(EXTRA_KEY)
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_value::<EntityMention>(v.clone()).ok())
        .filter(|m| m.kind.is_entity())
        .filter_map(|m| {
            let name = clean(&m.name)?;
            Some(EntityMention { name, ..m })
        });
    let tagged = tags.iter().filter_map(|t| {
        let rest = t.trim().strip_prefix("misp-galaxy:")?;
        let (galaxy, value) = rest.split_once('=')?;
        from_misp_cluster(galaxy, value.trim().trim_matches('"'), &[], None)
    });
    for m in stated.chain(tagged).map(EntityMention::with_attack) {
        let same = out.iter_mut().find(|o| {
            class(o.kind) == class(m.kind)
                && o.names()
                    .any(|a| m.names().any(|b| name_key(a) == name_key(b)))
        });
        match same {
            Some(o) => {
                for a in m.names() {
                    push_alias(&mut o.aliases, a);
                }
                o.aliases.retain(|a| name_key(a) != name_key(&o.name));
                o.is_item |= m.is_item;
                if o.description.is_none() {
                    o.description = m.description;
                }
            }
            None => out.push(m),
        }
    }
    out
}

/// An entity as other answers name it (lookup, an item's entities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityRef {
    /// The entity item's id (`/api/v1/items/{id}`).
    #[schema(value_type = i64)]
    pub id: crate::ItemId,
    /// Its kind.
    pub kind: ItemKind,
    /// Its name.
    pub name: String,
    /// Other names sources and ATT&CK give it.
    pub aliases: Vec<String>,
    /// Its ATT&CK id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack_id: Option<String>,
}

impl EntityRef {
    /// The reference to an entity item.
    pub fn of(entity: &crate::Item) -> Self {
        let extra = &entity.content.extra;
        Self {
            id: entity.id,
            kind: entity.content.kind,
            name: entity.content.title.clone(),
            aliases: aliases_in(extra),
            attack_id: extra
                .get("attack_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// The aliases an entity item keeps in its `extra.aliases`.
pub fn aliases_in(extra: &serde_json::Value) -> Vec<String> {
    extra
        .get("aliases")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A mention list as the JSON value parsers put under [`EXTRA_KEY`].
pub fn to_extra(mentions: &[EntityMention]) -> serde_json::Value {
    serde_json::to_value(mentions).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_match_ignoring_case_spaces_and_hyphens() {
        assert_eq!(name_key("APT 28"), name_key("apt-28"));
        assert_eq!(name_key("Fancy_Bear"), "fancybear");
        assert_ne!(name_key("APT28"), name_key("APT29"));
    }

    #[test]
    fn attack_joins_a_groups_names() {
        let m = EntityMention::named(ItemKind::ThreatActor, "Fancy Bear")
            .unwrap()
            .with_attack();
        assert_eq!(m.name, "APT28");
        assert_eq!(m.attack_id.as_deref(), Some("G0007"));
        assert!(m.aliases.iter().any(|a| a == "Sofacy"));
        assert!(m.aliases.iter().any(|a| a == "Fancy Bear"));
        // Kind stays what the source said.
        assert_eq!(m.kind, ItemKind::ThreatActor);
    }

    #[test]
    fn a_technique_id_gets_its_name() {
        let m = EntityMention::named(ItemKind::AttackPattern, "T1566.001")
            .unwrap()
            .with_attack();
        assert_eq!(m.name, "Phishing: Spearphishing Attachment");
        assert_eq!(m.attack_id.as_deref(), Some("T1566.001"));
        let unknown = EntityMention::named(ItemKind::AttackPattern, "T9999")
            .unwrap()
            .with_attack();
        assert_eq!(unknown.name, "T9999");
        assert_eq!(unknown.attack_id, None);
    }

    #[test]
    fn misp_clusters_and_tags() {
        let m = from_misp_cluster(
            "mitre-attack-pattern",
            "Spearphishing Attachment - T1566.001",
            &[],
            None,
        )
        .unwrap()
        .with_attack();
        assert_eq!(m.attack_id.as_deref(), Some("T1566.001"));
        assert!(from_misp_cluster("sector", "Finance", &[], None).is_none());
        assert!(from_misp_cluster("tea-matrix", "Milk in tea", &[], None).is_none());
        let tags = vec![
            "misp-galaxy:threat-actor=\"Sofacy\"".to_owned(),
            "misp-galaxy:mitre-malware=\"CHOPSTICK - S0023\"".to_owned(),
            "tlp:white".to_owned(),
        ];
        let extra = json!({"entities": [{"kind": "threat-actor", "name": "APT 28"}]});
        let got = mentions(ItemKind::Event, &tags, &extra);
        // APT 28 and Sofacy are one actor (ATT&CK G0007); CHOPSTICK is malware.
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].name, "APT28");
        assert_eq!(got[1].kind, ItemKind::Malware);
        assert_eq!(got[1].attack_id.as_deref(), Some("S0023"));
    }

    #[test]
    fn bad_entries_are_skipped() {
        let extra = json!({"entities": [
            {"kind": "news", "name": "x"},
            {"kind": "malware", "name": "   "},
            {"kind": "nonsense", "name": "y"},
            "not an object",
            {"kind": "malware", "name": "Emotet"}
        ]});
        let got = mentions(ItemKind::Event, &[], &extra);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "Emotet");
        // Entity items name nothing themselves.
        assert!(mentions(ItemKind::Malware, &[], &extra).is_empty());
    }
}
