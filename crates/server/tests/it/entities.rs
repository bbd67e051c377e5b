//! Threat entities through the API and the UI, on both backends: items that
//! name an actor (an OTX-style pulse, a MISP galaxy tag, a RED event) make
//! one entity item each, listed by kind, shown with its indicators, named by
//! lookup, followed by a hunt from the entity page, and never shown above
//! the reader's clearance.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Role, SourceSpec, Tlp,
};
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::backends;

async fn token(store: &Arc<dyn Store>, name: &str, role: Role) -> String {
    issue_token(
        store.as_ref(),
        &TokenRequest {
            name: name.into(),
            role,
            scopes: vec![],
            expires_days: None,
        },
    )
    .await
    .unwrap()
    .1
}

async fn get(app: &axum::Router, token: &str, uri: &str) -> (StatusCode, Value, String) {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn pulse(id: &str, title: &str, tlp: Tlp, extra: Value, tags: Vec<String>) -> NewItem {
    NewItem {
        kind: ItemKind::Event,
        external_id: id.to_owned(),
        title: title.to_owned(),
        body: String::new(),
        url: None,
        lang: None,
        published_at: Some(now()),
        tlp,
        tags,
        extra,
    }
}

async fn seed(store: &Arc<dyn Store>) {
    let source = store
        .upsert_source(&SourceSpec {
            name: "feed".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 70,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let ingest = rexist_pipeline::Ingest::new(Arc::clone(store), None);
    let ind = |v: &str| {
        let mut s = NewSighting::new(Indicator::parse(IndicatorType::Domain, v).unwrap(), now());
        s.tlp = Some(Tlp::Clear);
        s
    };
    let records = vec![
        ItemRecord {
            item: pulse(
                "p1",
                "Panda phishing wave",
                Tlp::Clear,
                json!({"entities": [
                    {"kind": "threat-actor", "name": "Example Panda"},
                    {"kind": "attack-pattern", "name": "T1566.001", "attack_id": "T1566.001"}
                ]}),
                vec![],
            ),
            sightings: vec![ind("panda-c2.example")],
            relations: vec![],
            extract: false,
        },
        ItemRecord {
            // A MISP-style galaxy tag names the same actor under another spelling.
            item: pulse(
                "p2",
                "Second report",
                Tlp::Clear,
                json!({}),
                vec!["misp-galaxy:threat-actor=\"example-panda\"".into()],
            ),
            sightings: vec![ind("panda-drop.example")],
            relations: vec![],
            extract: false,
        },
        ItemRecord {
            item: pulse(
                "r1",
                "Red only",
                Tlp::Red,
                json!({"entities": [{"kind": "threat-actor", "name": "Hidden Heron",
                                      "description": "secret words"}]}),
                vec![],
            ),
            sightings: vec![],
            relations: vec![],
            extract: false,
        },
    ];
    let mut counts = rexist_core::RunCounts::default();
    rexist_pipeline::store_items(&ingest, &source, records, &[], &mut counts)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_are_listed_shown_looked_up_and_followed_on_both_backends() {
    for backend in backends().await {
        entities_through_api_and_ui(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn entities_through_api_and_ui(backend: &str, store: &Arc<dyn Store>) {
    seed(store).await;
    let analyst = token(store, "alice", Role::Analyst).await;
    let admin = token(store, "root", Role::Admin).await;
    let viewer = token(store, "vic", Role::Viewer).await;
    let app = router(AppState::new(Arc::clone(store)));

    let (status, page, _) = get(&app, &analyst, "/api/v1/items?kind=threat-actor").await;
    assert_eq!(status, StatusCode::OK, "{backend}: {page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Example Panda"],
        "{backend}: one actor for two spellings; RED hidden"
    );
    let panda = page["items"][0]["id"].as_i64().unwrap();
    let (_, red, _) = get(&app, &admin, "/api/v1/items?kind=threat-actor").await;
    assert_eq!(
        red["items"].as_array().unwrap().len(),
        2,
        "{backend}: {red}"
    );

    let (status, detail, _) = get(&app, &analyst, &format!("/api/v1/items/{panda}")).await;
    assert_eq!(status, StatusCode::OK);
    let entity = &detail["entity"];
    assert_eq!(entity["items_total"], 2, "{backend}: {detail}");
    let values: Vec<&str> = entity["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert!(values.contains(&"panda-c2.example") && values.contains(&"panda-drop.example"));
    assert_eq!(entity["sources"][0]["name"], "feed");
    assert_eq!(
        entity["related"][0]["name"],
        "Phishing: Spearphishing Attachment"
    );
    assert_eq!(entity["related"][0]["attack_id"], "T1566.001");

    // A pulse names its entities; lookup names an indicator's.
    let (_, p1) = {
        let (_, list, _) = get(&app, &analyst, "/api/v1/items?q=Panda+phishing").await;
        (0, list["items"][0].clone())
    };
    let (_, p1_detail, _) = get(&app, &analyst, &format!("/api/v1/items/{}", p1["id"])).await;
    let named: Vec<&str> = p1_detail["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(named.len(), 2, "{backend}: {p1_detail}");
    let (_, answer, _) = get(&app, &analyst, "/api/v1/lookup/panda-drop.example").await;
    assert_eq!(
        answer["entities"][0]["name"], "Example Panda",
        "{backend}: {answer}"
    );

    let (_, _, page) = get(&app, &analyst, "/indicators/domain/panda-drop.example").await;
    assert!(
        page.contains("id=\"indicator-entities\"") && page.contains("Example Panda"),
        "{backend}: the indicator page names its actor"
    );

    // The RED actor is not found below RED, by id or through the page.
    let (_, all, _) = get(&app, &admin, "/api/v1/items?kind=threat-actor").await;
    let heron = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Hidden Heron")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, _, _) = get(&app, &analyst, &format!("/api/v1/items/{heron}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, html) = get(&app, &analyst, &format!("/items/{heron}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("secret words"));

    // The entity page; a viewer sees no follow button.
    let (status, _, html) = get(&app, &analyst, &format!("/items/{panda}")).await;
    assert_eq!(status, StatusCode::OK, "{backend}");
    assert!(
        html.contains("id=\"entity-indicators\"") && html.contains("panda-c2"),
        "{html}"
    );
    assert!(html.contains("id=\"follow\""));
    assert!(html.contains("data-node=\"entity:"));
    let (_, _, as_viewer) = get(&app, &viewer, &format!("/items/{panda}")).await;
    assert!(!as_viewer.contains("id=\"follow\""));
    let (_, _, ja) = get(&app, &analyst, &format!("/items/{panda}?lang=ja")).await;
    assert!(ja.contains("攻撃者"), "Japanese kind name");

    // Follow: a hunt `entity:"Example Panda"`, shown on the page and the dashboard.
    let req = Request::builder()
        .method("POST")
        .uri(format!("/entities/{panda}/follow"))
        .header("authorization", format!("Bearer {analyst}"))
        .header("hx-request", "true")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{backend}: {}", res.status());
    assert_eq!(
        res.headers().get("hx-redirect").unwrap(),
        format!("/items/{panda}").as_str()
    );
    let hunts = store.list_hunts().await.unwrap();
    let follow = hunts
        .iter()
        .find(|h| h.spec.name == "follow-examplepanda")
        .unwrap();
    assert_eq!(follow.spec.definition, "entity:\"Example Panda\"");
    let (_, _, html) = get(&app, &analyst, &format!("/items/{panda}")).await;
    assert!(html.contains("id=\"unfollow\""), "{html}");
    let (_, _, dash) = get(&app, &analyst, "/").await;
    assert!(
        dash.contains("id=\"followed\"") && dash.contains("Example Panda"),
        "{dash}"
    );

    // New reports naming it are hunted.
    let source = store.source_by_name("feed").await.unwrap().unwrap();
    let ingest = rexist_pipeline::Ingest::new(Arc::clone(store), None);
    ingest
        .items(
            source.id,
            &[pulse(
                "p3",
                "Third wave",
                Tlp::Clear,
                json!({"entities": [{"kind": "intrusion-set", "name": "EXAMPLE PANDA"}]}),
                vec![],
            )],
        )
        .await
        .unwrap();
    let hits = store
        .list_hits(&rexist_store::HitQuery::default())
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 1, "{backend}: {hits:?}");
}
