//! EXIST's legacy API on a store of 20,000 indicators, on SQLite and, when
//! `REXIST_TEST_DATABASE_URL` is set, on PostgreSQL: a filter finds the
//! oldest matches (they used to fall outside a cut to the 5,000 most
//! recently seen before filtering), `count` is right, and an answer cut by
//! the window says so in `X-Rexist-Capped`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, NewItem, NewSighting, Role, Source, SourceSpec, Tlp,
};
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;

use crate::common::backends;

/// Indicators stored in all.
const STORED: u32 = 20_000;
/// The oldest of them, which only `old-list` reports.
const OLD: u32 = 260;
/// Attributes of the old MISP event (old indicators too).
const OLD_ATTRIBUTES: u32 = 120;

async fn source(store: &Arc<dyn Store>, name: &str, kind: &str) -> Source {
    store
        .upsert_source(&SourceSpec {
            name: name.into(),
            kind: kind.into(),
            enabled: true,
            confidence: 70,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap()
}

fn old_domain(n: u32) -> String {
    format!("old-{n:05}.example")
}

/// Indicator `n` (0 the oldest), seen `n` minutes after the start.
fn row(n: u32) -> NewSighting {
    let at = datetime!(2020-01-01 00:00 UTC) + time::Duration::minutes(i64::from(n));
    let value = if n < OLD {
        old_domain(n)
    } else {
        format!("198.{}.{}.{}", 18 + n / 65_536, n / 256 % 256, n % 256)
    };
    let kind = if n < OLD {
        IndicatorType::Domain
    } else {
        IndicatorType::Ipv4
    };
    NewSighting::new(Indicator::parse(kind, &value).unwrap(), at)
}

/// `STORED` indicators, the oldest `OLD` by `old-list` only, the rest by
/// `new-feed`; a MISP event from 2020 whose attributes are the oldest
/// `OLD_ATTRIBUTES`, and a new one with two new attributes.
async fn seed(store: &Arc<dyn Store>) -> (i64, i64) {
    let old_list = source(store, "old-list", "file").await;
    let new_feed = source(store, "new-feed", "file").await;
    let misp = source(store, "misp-main", "misp").await;
    let rows: Vec<NewSighting> = (0..STORED).map(row).collect();
    let (old, new) = rows.split_at(OLD as usize);
    store.upsert_sightings(&old_list, old).await.unwrap();
    for chunk in new.chunks(5_000) {
        store.upsert_sightings(&new_feed, chunk).await.unwrap();
    }
    let event = |ext: &str, title: &str| NewItem {
        kind: ItemKind::Event,
        external_id: ext.into(),
        title: title.into(),
        body: String::new(),
        url: None,
        lang: None,
        published_at: Some(datetime!(2020-01-01 00:00 UTC)),
        tlp: Tlp::Clear,
        tags: vec![],
        extra: json!({"orgc": "NICT", "date": "2020-01-01"}),
    };
    let ids: Vec<i64> = store
        .upsert_items(
            misp.id,
            &[
                event("old-uuid", "Old campaign"),
                event("new-uuid", "New campaign"),
            ],
        )
        .await
        .unwrap()
        .iter()
        .map(|c| c.id().get())
        .collect();
    let attribute = |n: u32, item: i64| NewSighting {
        item_id: Some(rexist_core::ItemId::new(item)),
        labels: vec!["Network activity".into()],
        ..row(n)
    };
    let mut attributes: Vec<NewSighting> =
        (0..OLD_ATTRIBUTES).map(|n| attribute(n, ids[0])).collect();
    attributes.push(attribute(STORED - 1, ids[1]));
    attributes.push(attribute(STORED - 2, ids[1]));
    store.upsert_sightings(&misp, &attributes).await.unwrap();
    (ids[0], ids[1])
}

/// The status, the `X-Rexist-Capped` header and the JSON answer.
async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Option<String>, Value) {
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri(uri)
                .header("host", "rexist.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let capped = res
        .headers()
        .get("x-rexist-capped")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, capped, serde_json::from_slice(&bytes).unwrap())
}

/// An answer that must be complete: 200 and no `X-Rexist-Capped`.
async fn whole(name: &str, app: &axum::Router, uri: &str) -> Value {
    let (status, capped, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{name} {uri}: {body}");
    assert_eq!(capped, None, "{name} {uri}");
    body
}

fn values(body: &Value, field: &str) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_find_the_oldest_of_twenty_thousand_and_caps_are_said() {
    for b in backends().await {
        let name = b.name;
        let (old_event, new_event) = seed(&b.store).await;
        let app = router(
            AppState::new(Arc::clone(&b.store))
                .with_origin(Some("http://rexist.test/"), None)
                .unwrap()
                .with_anonymous(Role::Admin),
        );

        // reputation?source= finds every indicator of the old source.
        let body = whole(name, &app, "/api/reputation/?source=old-list&limit=100").await;
        assert_eq!(body["count"], OLD, "{name}");
        let first = values(&body, "domain");
        assert_eq!(first[0], old_domain(OLD - 1), "{name}: newest first");
        assert_eq!(first.len(), 100);
        assert!(
            body["next"]
                .as_str()
                .unwrap()
                .ends_with("limit=100&offset=100")
        );
        let last = whole(
            name,
            &app,
            "/api/reputation/?source=old-list&limit=100&offset=200",
        )
        .await;
        assert_eq!(
            values(&last, "domain").last().unwrap(),
            &old_domain(0),
            "{name}"
        );
        assert_eq!(last["next"], Value::Null, "{name}");
        let listed_by = last["results"][0]["source"].as_str().unwrap();
        assert!(listed_by.contains("old-list"), "{name}: {listed_by}");
        // With a search and with the exact filter, over the same source.
        let body = whole(
            name,
            &app,
            "/api/reputation/?source=old-list&search=old-0000",
        )
        .await;
        assert_eq!(body["count"], 10, "{name}");
        let body = whole(
            name,
            &app,
            "/api/reputation/?source=old-list&domain=old-00007.example",
        )
        .await;
        assert_eq!(values(&body, "domain"), [old_domain(7)], "{name}");
        assert_eq!(
            whole(
                name,
                &app,
                "/api/reputation/?source=new-feed&domain=old-00007.example"
            )
            .await["count"],
            0,
            "{name}"
        );

        // Everything: more than the window, so the count stops there and says so.
        let (status, capped, body) = get(&app, "/api/reputation/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], 10_000, "{name}");
        assert_eq!(capped.as_deref(), Some("window=10000"), "{name}");
        let (_, capped, body) = get(&app, "/api/reputation/?source=new-feed&offset=9950").await;
        assert_eq!(capped.as_deref(), Some("window=10000"), "{name}");
        assert_eq!(body["next"], Value::Null, "{name}: the window's last page");

        // threatAttribute finds the old event's attributes however old.
        let body = whole(
            name,
            &app,
            &format!("/api/threatAttribute/?event__id={old_event}"),
        )
        .await;
        assert_eq!(body["count"], OLD_ATTRIBUTES, "{name}");
        assert_eq!(body["results"][0]["Event"]["info"], "Old campaign");
        assert_eq!(body["results"][0]["value"], old_domain(OLD_ATTRIBUTES - 1));
        let body = whole(name, &app, "/api/threatAttribute/?limit=1000").await;
        assert_eq!(body["count"], OLD_ATTRIBUTES + 2, "{name}");
        let events: Vec<i64> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Event"]["id"].as_i64().unwrap())
            .collect();
        assert_eq!(&events[..2], [new_event, new_event], "{name}: newest first");
        let body = whole(name, &app, "/api/threatAttribute/?value=old-00003.example").await;
        assert_eq!(values(&body, "value"), [old_domain(3)], "{name}");
        assert_eq!(body["results"][0]["category"], "Network activity");
        let body = whole(
            name,
            &app,
            "/api/threatAttribute/?type=domain&search=old-0001",
        )
        .await;
        assert_eq!(body["count"], 10, "{name}");
        let body = whole(name, &app, "/api/threatAttribute/?type=ip-dst").await;
        assert_eq!(body["count"], 2, "{name}: the new event's addresses");
        let body = whole(
            name,
            &app,
            "/api/threatAttribute/?timestamp_before=2020-01-01T00:05:00Z",
        )
        .await;
        assert_eq!(body["count"], 6, "{name}: minutes 0 to 5, bounds inclusive");
        assert_eq!(
            whole(name, &app, "/api/threatAttribute/?type=sha256").await["count"],
            0,
            "{name}"
        );
        // An event named by id is read whatever its age.
        let body = whole(name, &app, &format!("/api/threatEvent/?id={old_event}")).await;
        assert_eq!(body["count"], 1, "{name}");

        drop(app);
        b.cleanup().await;
    }
}
