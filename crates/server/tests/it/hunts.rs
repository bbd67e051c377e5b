//! Hunts over the REST API: create, validate, preview, patch, hits and
//! acknowledgement, retro-hunts, alerts and channels.

#![allow(clippy::unwrap_used)]

use crate::common::item;
use std::sync::Arc;

use crate::common::call;
use axum::http::StatusCode;
use rexist_server::{AppState, router};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hunts_hits_and_alerts_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let app = router(
        AppState::new(Arc::clone(&store))
            .with_anonymous(rexist_core::Role::Admin)
            .with_channels(vec!["soc".into()]),
    );

    // validation: the error names the field and the position
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "x", "query": "foo (bar"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("query: position 4"),
        "{b}"
    );
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "x", "query": "a", "channels": ["nope"]})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("nope"),
        "{b}"
    );
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "x", "watch": "not an indicator at all"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, "POST", "/api/v1/hunts", Some(json!({"name": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "x", "query": "a", "digest": "soon"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "ransom", "query": "lockbit", "channels": ["soc"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["kind"], "query");
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "ransom", "query": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // preview
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hunts/test",
        Some(json!({"query": "lockbit -test", "text": "LockBit returns"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"match": true, "terms": ["lockbit"]}));

    // ingest through the hunting store: one hit, one pending alert
    let src = crate::common::news_source(&store).await;
    // Written as every writer does, through the ingest service.
    rexist_pipeline::Ingest::new(Arc::clone(&store), None)
        .items(src.id, &[item("1", "LockBit hits"), item("2", "nothing")])
        .await
        .unwrap();
    let (s, b) = call(&app, "GET", "/api/v1/hits?hunt=ransom&acked=false", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    assert_eq!(b["items"][0]["object"], "item");
    let hit_id = b["items"][0]["id"].as_i64().unwrap();
    let (_, b) = call(&app, "GET", "/api/v1/alerts?status=pending", None).await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    assert_eq!(b["items"][0]["channel"], "soc");
    let (_, b) = call(&app, "GET", "/api/v1/channels", None).await;
    assert_eq!(b[0]["channel"], "soc");
    assert_eq!(b[0]["configured"], true);
    assert_eq!(b[0]["pending"], 1);

    // ack
    let (s, _) = call(&app, "POST", "/api/v1/hits/ack", Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hits/ack",
        Some(json!({"ids": [hit_id], "by": "alice"})),
    )
    .await;
    assert_eq!((s, b["acked"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, b) = call(&app, "GET", "/api/v1/hits?acked=false", None).await;
    assert!(b["items"].as_array().unwrap().is_empty());
    let (_, b) = call(&app, "GET", "/api/v1/hits?acked=true", None).await;
    assert_eq!(
        b["items"][0]["acked_by"], "anonymous",
        "the record names the caller, not what the body claims"
    );

    // patch, then a retro-hunt over what is stored
    let (s, b) = call(
        &app,
        "PATCH",
        "/api/v1/hunts/ransom",
        Some(json!({"query": "nothing", "digest": "1h"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["definition"], "nothing");
    assert_eq!(b["digest_secs"], 3600);
    let (s, _) = call(
        &app,
        "PATCH",
        "/api/v1/hunts/ransom",
        Some(json!({"watch": "1.2.3.4"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, "POST", "/api/v1/hunts/ransom/retro", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // The scheduler's workers run it.
    let worker = crate::shared_state::Worker::start(&store, "test");
    let state = crate::shared_state::retro_state(&app, "ransom", "done").await;
    worker.stop().await;
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["scanned"], 2);
    assert_eq!(state["hits"], 1);
    let (_, b) = call(&app, "GET", "/api/v1/hits?hunt=ransom", None).await;
    assert_eq!(b["items"][0]["retro"], true);

    // cursor paging and errors
    let (s, _) = call(&app, "GET", "/api/v1/hits?cursor=abc", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, "GET", "/api/v1/hits?hunt=none", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&app, "GET", "/api/v1/alerts?status=lost", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = call(&app, "DELETE", "/api/v1/hunts/ransom", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&app, "GET", "/api/v1/hunts/ransom", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, b) = call(&app, "GET", "/api/v1/hunts", None).await;
    assert_eq!(b, json!([]));
}

/// Hit triage: state, assignee and notes, filterable, with history; bad
/// input named; viewers cannot change it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_are_triaged_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let app = router(AppState::new(Arc::clone(&store)).with_anonymous(rexist_core::Role::Analyst));
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "ransom", "query": "lockbit"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let src = crate::common::news_source(&store).await;
    rexist_pipeline::Ingest::new(Arc::clone(&store), None)
        .items(
            src.id,
            &[item("1", "LockBit hits"), item("2", "LockBit again")],
        )
        .await
        .unwrap();
    let (_, b) = call(&app, "GET", "/api/v1/hits?triage=new", None).await;
    let ids: Vec<i64> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{b}");
    assert_eq!(b["items"][0]["triage"], "new");

    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hits/triage",
        Some(json!({"ids": ids, "status": "in_progress", "assignee": "carol", "note": "on it"})),
    )
    .await;
    assert_eq!((s, b["triaged"].as_u64()), (StatusCode::OK, Some(2)), "{b}");
    let (_, b) = call(
        &app,
        "GET",
        "/api/v1/hits?assignee=carol&triage=in_progress",
        None,
    )
    .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/hits/triage",
        Some(json!({"ids": [ids[0]], "status": "closed", "note": "contained"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = call(
        &app,
        "GET",
        &format!("/api/v1/hits/{}/triage", ids[0]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["hit"]["triage"], "closed");
    assert_eq!(b["hit"]["acked_by"], "anonymous", "closing acknowledges");
    let notes: Vec<&str> = b["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["on it", "contained"]);
    assert_eq!(
        b["history"][1]["assignee"], "carol",
        "unchanged when absent"
    );

    for (body, want) in [
        (json!({"ids": [], "status": "closed"}), "ids"),
        (json!({"ids": [ids[0]]}), "give a status"),
        (
            json!({"ids": [ids[0]], "status": "done"}),
            "unknown variant",
        ),
        (json!({"ids": [ids[0]], "assignee": "a\u{7}b"}), "assignee"),
    ] {
        let (s, e) = call(&app, "POST", "/api/v1/hits/triage", Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(want),
            "{body}: {e}"
        );
    }
    let (s, e) = call(&app, "GET", "/api/v1/hits?triage=done", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in_progress"),
        "{e}"
    );
    let (s, _) = call(&app, "GET", "/api/v1/hits/424242/triage", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let viewer =
        router(AppState::new(Arc::clone(&store)).with_anonymous(rexist_core::Role::Viewer));
    let (s, _) = call(
        &viewer,
        "POST",
        "/api/v1/hits/triage",
        Some(json!({"ids": [ids[1]], "status": "closed"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
