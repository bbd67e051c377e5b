//! `GET /api/v1/graph` on both backends: an indicator's, an entity's and an
//! item's neighbours with their relations, each within the caller's TLP
//! clearance (a node above it is 404, a neighbour above it absent), the
//! relation filter and the limit, and bad node ids answered 400.

use std::sync::Arc;

use axum::http::StatusCode;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, Mention, NewItem, NewRelation, NewSighting, Role,
    SourceSpec, Tlp,
};
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};

use crate::common::{backends, call};

const BODY_A: &str = "The loader calls home to evil.example.com every hour.";

fn ioc(kind: IndicatorType, value: &str) -> Indicator {
    Indicator::parse(kind, value).unwrap()
}

fn event(id: &str, title: &str, body: &str, tlp: Tlp, entities: &Value) -> NewItem {
    NewItem {
        kind: ItemKind::Event,
        external_id: id.into(),
        title: title.into(),
        body: body.into(),
        url: None,
        lang: Some("en".into()),
        published_at: None,
        tlp,
        tags: vec![],
        extra: json!({ "entities": entities.clone() }),
    }
}

/// Ids of what the tests ask about.
struct Seeded {
    green_event: String,
    red_event: String,
}

/// A GREEN event naming `APT Test` and `TestRAT` that states 198.51.100.7 and
/// mentions evil.example.com (which resolves to it), and a RED event
/// naming `Red Actor` and `TestRAT` that states red.example.
async fn seed(app: &AppState) -> Seeded {
    let source = app
        .store
        .upsert_source(&SourceSpec {
            name: "misp-a".into(),
            kind: "misp".into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let changes = app
        .ingest
        .items(
            source.id,
            &[
                event(
                    "a",
                    "Green event",
                    BODY_A,
                    Tlp::Green,
                    &json!([
                        {"kind": "threat-actor", "name": "APT Test"},
                        {"kind": "malware", "name": "TestRAT"}
                    ]),
                ),
                event(
                    "b",
                    "Red event",
                    "",
                    Tlp::Red,
                    &json!([
                        {"kind": "threat-actor", "name": "Red Actor"},
                        {"kind": "malware", "name": "TestRAT"}
                    ]),
                ),
            ],
        )
        .await
        .unwrap();
    let (a, b) = (changes[0].id(), changes[1].id());
    let t = now();
    let stated = |item, indicator, tlp| NewSighting {
        item_id: Some(item),
        tlp: Some(tlp),
        ..NewSighting::new(indicator, t)
    };
    app.ingest
        .sightings(
            &source,
            &[
                stated(a, ioc(IndicatorType::Ipv4, "198.51.100.7"), Tlp::Green),
                stated(b, ioc(IndicatorType::Domain, "red.example"), Tlp::Red),
            ],
        )
        .await
        .unwrap();
    let start = u32::try_from(BODY_A.find("evil").unwrap()).unwrap();
    app.ingest
        .mentions(
            &source,
            a,
            &[Mention {
                indicator: ioc(IndicatorType::Domain, "evil.example.com"),
                start,
                end: start + 16,
                defanged: false,
            }],
        )
        .await
        .unwrap();
    app.ingest
        .relations(
            &source,
            &[NewRelation {
                from: ioc(IndicatorType::Domain, "evil.example.com"),
                to: ioc(IndicatorType::Ipv4, "198.51.100.7"),
                kind: "resolves-to".into(),
                seen_at: t,
            }],
        )
        .await
        .unwrap();
    Seeded {
        green_event: a.to_string(),
        red_event: b.to_string(),
    }
}

/// The edges of an answer as (from, to, relation).
fn edges(g: &Value) -> Vec<(String, String, String)> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
                e["relation"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has_edge(g: &Value, from: &str, to: &str, relation: &str) -> bool {
    edges(g)
        .iter()
        .any(|(f, t, r)| f == from && t == to && r == relation)
}

fn node_ids(g: &Value) -> Vec<String> {
    g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The id of the entity `name` among those an item names.
async fn entity_id(app: &axum::Router, item: &str, name: &str) -> String {
    let (s, detail) = call(app, "GET", &format!("/api/v1/items/{item}"), None).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    let id = detail["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not named: {detail}"))["id"]
        .as_i64()
        .unwrap();
    format!("entity:{id}")
}

fn graph_uri(node: &str, rest: &str) -> String {
    format!(
        "/api/v1/graph?node={}{rest}",
        rexist_server::url_encode(node).replace('/', "%2F")
    )
}

#[tokio::test]
async fn the_graph_pivots_within_the_clearance_on_both_backends() {
    for backend in backends().await {
        pivots(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn pivots(backend: &str, store: &Arc<dyn Store>) {
    let state = AppState::new(Arc::clone(store));
    let ids = seed(&state).await;
    // A viewer is cleared to GREEN, an admin to RED.
    let viewer = router(state.clone().with_anonymous(Role::Viewer));
    let admin = router(state.with_anonymous(Role::Admin));
    let apt = entity_id(&admin, &ids.green_event, "APT Test").await;
    let rat = entity_id(&admin, &ids.green_event, "TestRAT").await;
    let red_actor = entity_id(&admin, &ids.red_event, "Red Actor").await;
    let (green, red) = (
        format!("item:{}", ids.green_event),
        format!("item:{}", ids.red_event),
    );
    let (domain, ip, red_domain) = (
        "indicator:domain:evil.example.com",
        "indicator:ipv4:198.51.100.7",
        "indicator:domain:red.example",
    );

    // An indicator: related indicators by the lookup's relation, the
    // entities naming it, the items reporting it.
    let (s, ind) = call(&viewer, "GET", &graph_uri(domain, ""), None).await;
    assert_eq!(s, StatusCode::OK, "{backend}: {ind}");
    assert_eq!(ind["node"]["id"], domain);
    assert_eq!(ind["node"]["kind"], "indicator");
    assert_eq!(ind["node"]["type"], "domain");
    assert_eq!(ind["node"]["label"], "evil[.]example[.]com");
    assert_eq!(ind["node"]["href"], "/indicators/domain/evil.example.com");
    assert!(
        has_edge(&ind, domain, ip, "resolves-to"),
        "{backend}: {ind}"
    );
    assert!(has_edge(&ind, domain, &apt, "named-by"), "{backend}: {ind}");
    assert!(has_edge(&ind, domain, &rat, "named-by"), "{backend}: {ind}");
    assert!(
        has_edge(&ind, domain, &green, "reported-in"),
        "{backend}: {ind}"
    );
    for r in ["named-by", "reported-in", "resolves-to"] {
        assert!(
            ind["relations"].as_array().unwrap().iter().any(|x| x == r),
            "{backend}: {r} in {ind}"
        );
    }
    let rat_node = ind["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == rat.as_str())
        .unwrap();
    assert_eq!(rat_node["kind"], "entity");
    assert_eq!(rat_node["type"], "malware");
    assert_eq!(rat_node["label"], "TestRAT");

    // The relation filter: only those edges, every relation still listed.
    let (s, filtered) = call(
        &viewer,
        "GET",
        &graph_uri(domain, "&relations=named-by"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{backend}: {filtered}");
    assert!(
        edges(&filtered).iter().all(|ent| ent.2 == "named-by"),
        "{backend}: {filtered}"
    );
    let mut only = node_ids(&filtered);
    only.sort();
    let mut want = vec![apt.clone(), rat.clone()];
    want.sort();
    assert_eq!(only, want, "{backend}");
    assert_eq!(filtered["relations"], ind["relations"]);
    // The limit, with what it left out counted.
    let (_, one) = call(&viewer, "GET", &graph_uri(domain, "&limit=1"), None).await;
    assert_eq!(node_ids(&one).len(), 1, "{backend}: {one}");
    assert!(one["omitted"].as_u64().unwrap() >= 3, "{backend}: {one}");

    // An entity: its indicators, the entities named with it, the items
    // naming it; the RED event's part only for the admin.
    let (s, ent) = call(&viewer, "GET", &graph_uri(&rat, ""), None).await;
    assert_eq!(s, StatusCode::OK, "{backend}: {ent}");
    assert_eq!(ent["node"]["kind"], "entity");
    assert!(has_edge(&ent, &rat, ip, "indicates"), "{backend}: {ent}");
    assert!(
        has_edge(&ent, &rat, domain, "indicates"),
        "{backend}: {ent}"
    );
    assert!(has_edge(&ent, &rat, &apt, "co-named"), "{backend}: {ent}");
    assert!(has_edge(&ent, &green, &rat, "names"), "{backend}: {ent}");
    let seen = node_ids(&ent);
    for above in [red_domain, red_actor.as_str(), red.as_str()] {
        assert!(
            !seen.iter().any(|n| n == above),
            "{backend}: {above} in {ent}"
        );
    }
    let (_, ent) = call(&admin, "GET", &graph_uri(&rat, ""), None).await;
    assert!(
        has_edge(&ent, &rat, red_domain, "indicates"),
        "{backend}: {ent}"
    );
    assert!(
        has_edge(&ent, &rat, &red_actor, "co-named"),
        "{backend}: {ent}"
    );
    assert!(has_edge(&ent, &red, &rat, "names"), "{backend}: {ent}");
    // Only indicates edges when asked for them.
    let (_, ent) = call(
        &admin,
        "GET",
        &graph_uri(&rat, "&relations=indicates"),
        None,
    )
    .await;
    assert!(
        edges(&ent).iter().all(|x| x.2 == "indicates"),
        "{backend}: {ent}"
    );
    assert_eq!(node_ids(&ent).len(), 3, "{backend}: {ent}");

    // An item: what it states, what its text mentions, whom it names.
    let (s, one_item) = call(&viewer, "GET", &graph_uri(&green, ""), None).await;
    assert_eq!(s, StatusCode::OK, "{backend}: {one_item}");
    assert_eq!(one_item["node"]["kind"], "item");
    assert_eq!(one_item["node"]["label"], "Green event");
    assert_eq!(
        one_item["node"]["href"],
        format!("/items/{}", ids.green_event)
    );
    assert!(
        has_edge(&one_item, &green, ip, "states"),
        "{backend}: {one_item}"
    );
    assert!(
        has_edge(&one_item, &green, domain, "mentions"),
        "{backend}: {one_item}"
    );
    assert!(
        has_edge(&one_item, &green, &apt, "names"),
        "{backend}: {one_item}"
    );
    assert!(
        has_edge(&one_item, &green, &rat, "names"),
        "{backend}: {one_item}"
    );
    // An entity asked for as an item is the entity.
    let as_item = rat.replacen("entity:", "item:", 1);
    let (s, one_item) = call(&viewer, "GET", &graph_uri(&as_item, ""), None).await;
    assert_eq!(s, StatusCode::OK, "{backend}: {one_item}");
    assert_eq!(one_item["node"]["id"], rat.as_str());

    // Above the clearance, or not there: 404 like elsewhere.
    for node in [red_domain, red_actor.as_str(), red.as_str()] {
        let (s, body) = call(&viewer, "GET", &graph_uri(node, ""), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{backend}: {node}: {body}");
        let (s, body) = call(&admin, "GET", &graph_uri(node, ""), None).await;
        assert_eq!(s, StatusCode::OK, "{backend}: {node}: {body}");
    }
    let not_entity = green.replacen("item:", "entity:", 1);
    for node in [
        "indicator:domain:never.example",
        not_entity.as_str(),
        "item:999999",
    ] {
        let (s, body) = call(&admin, "GET", &graph_uri(node, ""), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{backend}: {node}: {body}");
    }

    // A node of no known shape: 400 naming it.
    for bad in [
        "actor:1",
        "entity:apt28",
        "item:",
        "indicator:ipv4",
        "indicator:nope:1.2.3.4",
        "indicator:ipv4:not-an-address",
        "nothing",
    ] {
        let (s, body) = call(&viewer, "GET", &graph_uri(bad, ""), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{backend}: {bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("node") && message.contains(bad),
            "{backend}: {message}"
        );
    }
    for bad in [
        "/api/v1/graph",
        "/api/v1/graph?node=",
        "/api/v1/graph?node=item:1&limit=x",
    ] {
        let (s, body) = call(&viewer, "GET", bad, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{backend}: {bad}: {body}");
    }
}
