//! MISP galaxies and ThreatConnect groups name threat entities.

use rexist_core::ItemKind;
use rexist_core::entity::mentions;
use rexist_formats::{misp, threatconnect};

use crate::common::fixture;

#[test]
fn misp_galaxies_name_actors_and_malware_not_other_galaxies() {
    let page = misp::parse_events(&fixture(
        "misp/pymisp/mispevent_testfiles/existing_event.json",
    ))
    .unwrap();
    let item = &page.records[0].item;
    let named = mentions(item.kind, &item.tags, &item.extra);
    // Sofacy is ATT&CK's APT28: one actor, named as ATT&CK does, with the
    // galaxy's name kept as an alias.
    let actors: Vec<_> = named
        .iter()
        .filter(|m| m.kind == ItemKind::ThreatActor)
        .collect();
    let kinds: Vec<_> = named.iter().map(|m| (m.kind, m.name.as_str())).collect();
    assert_eq!(actors.len(), 1, "{kinds:?}");
    assert_eq!(actors[0].name, "APT28");
    assert!(actors[0].aliases.iter().any(|a| a == "Sofacy"));
    assert!(
        named
            .iter()
            .any(|m| m.kind == ItemKind::Malware && m.name == "CHOPSTICK"),
        "{named:?}"
    );
    // Galaxy clusters and their tags name each entity once; the `tool`
    // galaxy's X-Agent is ATT&CK's CHOPSTICK (S0023), a malware.
    let chopstick: Vec<_> = named.iter().filter(|m| m.name == "CHOPSTICK").collect();
    assert_eq!(chopstick.len(), 1);
    assert_eq!(chopstick[0].attack_id.as_deref(), Some("S0023"));
    assert!(
        chopstick[0]
            .aliases
            .iter()
            .any(|a| rexist_core::entity::name_key(a) == "xagent"),
        "{kinds:?}"
    );
    assert!(!named.iter().any(|m| m.name == "X-Agent"));
    // Workflow tags are not entities.
    assert!(!named.iter().any(|m| m.name.contains("incomplete")));
}

#[test]
fn threatconnect_adversary_groups_are_entities() {
    let body = br#"{"status":"Success","data":[
        {"id":7,"type":"Adversary","name":"Example Panda","description":"A test actor.",
         "dateAdded":"2025-01-02T00:00:00Z","lastModified":"2025-01-03T00:00:00Z"},
        {"id":8,"type":"Incident","name":"Breach at example","dateAdded":"2025-01-02T00:00:00Z"},
        {"id":9,"type":"Campaign","name":"Operation Example","dateAdded":"2025-01-02T00:00:00Z"}]}"#;
    let page = threatconnect::parse_groups(body).unwrap();
    let named = |n: usize| {
        let item = &page.records[n].item;
        mentions(item.kind, &item.tags, &item.extra)
    };
    let adversary = named(0);
    assert_eq!(adversary.len(), 1);
    assert_eq!(adversary[0].kind, ItemKind::ThreatActor);
    assert!(adversary[0].is_item);
    assert_eq!(adversary[0].description.as_deref(), Some("A test actor."));
    assert!(named(1).is_empty(), "an incident is not an entity");
    assert_eq!(named(2)[0].kind, ItemKind::Campaign);
}
