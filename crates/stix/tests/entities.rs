//! STIX threat-entity objects name themselves, and the objects related to
//! them in the same page name them (the OASIS APT1 report).

#![allow(clippy::unwrap_used)]

use rexist_core::entity::mentions;
use rexist_core::{ItemKind, ItemRecord, Record};
use rexist_stix::parse_objects;

fn items() -> Vec<ItemRecord> {
    let body = rexist_testkit::fixture_bytes(
        "stix/cti-stix2-json-schemas/examples/threat-reports/apt1.json",
    );
    parse_objects(&body)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn named(items: &[ItemRecord], id_prefix: &str) -> Vec<rexist_core::entity::EntityMention> {
    let r = items
        .iter()
        .find(|r| r.item.external_id.starts_with(id_prefix))
        .unwrap_or_else(|| panic!("no {id_prefix}"));
    mentions(r.item.kind, &r.item.tags, &r.item.extra)
}

#[test]
fn entity_objects_name_themselves_with_aliases_and_attack() {
    let items = items();
    let apt1 = named(&items, "intrusion-set--da1065ce");
    // Itself, and the actors it is attributed to in the page.
    let m = apt1.iter().find(|m| m.is_item).unwrap();
    assert_eq!(apt1.iter().filter(|m| m.is_item).count(), 1, "{apt1:?}");
    assert_eq!(m.kind, ItemKind::IntrusionSet);
    assert_eq!(m.name, "APT1");
    assert!(m.aliases.iter().any(|a| a == "Comment Crew"), "{m:?}");
    // ATT&CK knows APT1 as G0006.
    assert_eq!(m.attack_id.as_deref(), Some("G0006"));

    let tool = named(&items, "tool--7de5dfcc");
    let mimikatz = tool.iter().find(|m| m.is_item).unwrap();
    assert_eq!(mimikatz.kind, ItemKind::Tool);
    // ATT&CK's Mimikatz (S0002) is this tool.
    assert_eq!(mimikatz.attack_id.as_deref(), Some("S0002"));
}

#[test]
fn related_objects_in_the_page_name_the_entity() {
    let items = items();
    // The actor is attributed to APT1 and uses MANITSME: it names both.
    let actor = named(&items, "threat-actor--6d179234");
    assert!(actor.iter().any(|m| m.name == "Ugly Gorilla" && m.is_item));
    assert!(
        actor.iter().any(|m| m.name == "APT1" && !m.is_item),
        "{actor:?}"
    );
    assert!(
        actor
            .iter()
            .any(|m| m.name == "MANITSME" && m.kind == ItemKind::Malware)
    );
    // An indicator object that `indicates` the actor names it.
    let indicator = named(&items, "indicator--3f3ff9f1");
    assert!(
        indicator
            .iter()
            .any(|m| m.name == "Ugly Gorilla" && m.kind == ItemKind::ThreatActor && !m.is_item),
        "{indicator:?}"
    );
}
