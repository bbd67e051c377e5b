//! Early warning over HTTP: the lookup API's `early_warning`, the indicator
//! page's section in English and Japanese, and the dashboard panel ranking
//! CVEs by lead within the viewer's clearance.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, Mention, NewItem, NewSighting, Role, Source, SourceSpec,
    Tlp,
};
use rexist_server::auth::hash_password;
use rexist_server::{AppState, router};
use rexist_store::Store;
use tower::ServiceExt;

use crate::ui::login;

struct Fixture {
    app: axum::Router,
    cves: [String; 3],
    _dir: tempfile::TempDir,
}

async fn source(store: &Arc<dyn Store>, name: &str, kind: &str, tlp: Tlp) -> Source {
    store
        .upsert_source(&SourceSpec {
            name: name.into(),
            kind: kind.into(),
            enabled: true,
            confidence: 70,
            tlp,
            tags: vec![],
        })
        .await
        .unwrap()
}

fn cve_at(value: &str, at: time::OffsetDateTime) -> NewSighting {
    NewSighting::new(Indicator::parse(IndicatorType::Cve, value).unwrap(), at)
}

/// 1: posted on Mastodon 3 days 4 hours before NVD. 2: in JPCERT's news
/// two days ago, no database entry yet. 3: on an amber Mastodon source
/// five days before NVD.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    for (name, role) in [("ana", Role::Analyst), ("vic", Role::Viewer)] {
        let hash = hash_password(&format!("{name}-password")).unwrap();
        store.create_user(name, &hash, role).await.unwrap();
    }
    let masto = source(&store, "infosec", "mastodon", Tlp::Clear).await;
    let jpcert = source(&store, "jpcert", "jpcert", Tlp::Clear).await;
    let nvd = source(&store, "nvd", "nvd", Tlp::Clear).await;
    let partner = source(&store, "partner-masto", "mastodon", Tlp::Amber).await;
    let t = now();
    let year = t.year();
    let cves = [1001, 1002, 1003].map(|n| format!("CVE-{year}-{n}"));
    let t0 = t - time::Duration::days(4);
    let body = format!("Exploit for {} circulating", cves[0]);
    let post = store
        .upsert_items(
            masto.id,
            &[NewItem {
                kind: ItemKind::Post,
                external_id: "1".into(),
                title: String::new(),
                body: body.clone(),
                url: None,
                lang: Some("en".into()),
                published_at: Some(t0),
                tlp: Tlp::Clear,
                tags: vec![],
                extra: serde_json::json!({}),
            }],
        )
        .await
        .unwrap()[0]
        .id();
    let start = u32::try_from(body.find(&cves[0]).unwrap()).unwrap();
    store
        .record_mentions(
            &masto,
            post,
            &[Mention {
                indicator: Indicator::parse(IndicatorType::Cve, &cves[0]).unwrap(),
                start,
                end: start + 14,
                defanged: false,
            }],
        )
        .await
        .unwrap();
    let lead = time::Duration::days(3) + time::Duration::hours(4);
    let day = time::Duration::days(1);
    store
        .upsert_sightings(
            &nvd,
            &[cve_at(&cves[0], t0 + lead), cve_at(&cves[2], t - day)],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(&jpcert, &[cve_at(&cves[1], t - day * 2)])
        .await
        .unwrap();
    store
        .upsert_sightings(&partner, &[cve_at(&cves[2], t - day * 6)])
        .await
        .unwrap();
    Fixture {
        app: router(AppState::new(store)),
        cves,
        _dir: dir,
    }
}

async fn get(app: &axum::Router, uri: &str, cookie: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    // Templates write `/` as `&#x2f;`.
    let body = String::from_utf8(body.to_vec()).unwrap();
    (status, body.replace("&#x2f;", "/"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_api_says_who_was_first_and_by_how_much() {
    let f = fixture().await;
    let ana = login(&f.app, "ana", "ana-password").await;
    let (status, body) = get(&f.app, &format!("/api/v1/lookup/{}", f.cves[0]), &ana).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ew = &a["early_warning"];
    assert_eq!(ew["first_class"], "social", "{ew}");
    assert_eq!(ew["by_class"][0]["source"], "infosec");
    assert_eq!(ew["by_class"][0]["kind"], "mastodon");
    assert_eq!(ew["by_class"][1]["class"], "vulndb");
    assert_eq!(ew["authority"], "database");
    assert_eq!(ew["authority_report"]["source"], "nvd");
    assert_eq!(ew["lead_seconds"], 3 * 86_400 + 4 * 3600);
    assert_eq!(ew["awaiting_authority"], false);

    let (_, body) = get(&f.app, &format!("/api/v1/lookup/{}", f.cves[1]), &ana).await;
    let a: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(a["early_warning"]["first_class"], "news", "jpcert is news");
    assert_eq!(a["early_warning"]["awaiting_authority"], true);
    assert!(a["early_warning"]["lead_seconds"].is_null());

    // The amber report is the viewer's to miss: NVD is first for them.
    let vic = login(&f.app, "vic", "vic-password").await;
    let (_, body) = get(&f.app, &format!("/api/v1/lookup/{}", f.cves[2]), &vic).await;
    let a: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(a["early_warning"]["first_class"], "vulndb", "{a}");
    assert!(!body.contains("partner-masto"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indicator_page_shows_the_early_warning_in_both_languages() {
    let f = fixture().await;
    let ana = login(&f.app, "ana", "ana-password").await;
    let page = format!("/indicators/cve/{}", f.cves[0]);
    let (status, html) = get(&f.app, &page, &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"early-warning\""), "{html}");
    assert!(
        html.contains("First reported 3 days 4 h before nvd."),
        "{html}"
    );
    assert!(html.contains("<td>social media</td>"), "{html}");
    assert!(html.contains("Measured against the first of NVD, JVN and KEV."));
    let (_, ja) = get(&f.app, &format!("{page}?lang=ja"), &ana).await;
    assert!(ja.contains("早期警戒"), "{ja}");
    assert!(
        ja.contains("nvd より 3日4時間 早く報告されました。"),
        "{ja}"
    );
    assert!(ja.contains("<td>ソーシャルメディア</td>"));

    let (_, html) = get(&f.app, &format!("/indicators/cve/{}", f.cves[1]), &ana).await;
    assert!(
        html.contains("Discussed, but not in NVD, JVN or KEV yet."),
        "{html}"
    );
    let (_, html) = get(&f.app, "/indicators/cve/CVE-2019-0001", &ana).await;
    assert!(
        !html.contains("id=\"early-warning\""),
        "nothing known, nothing to say"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_ranks_early_cves_within_the_clearance() {
    let f = fixture().await;
    let ranked = |html: &str| -> Vec<String> {
        let table = html
            .split("<table id=\"early\">")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .unwrap_or_else(|| panic!("no early table: {html}"));
        table
            .split("class=\"ioc\"")
            .skip(1)
            .filter_map(|cell| cell.split('>').nth(1)?.split('<').next())
            .map(str::to_owned)
            .collect()
    };
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, html) = get(&f.app, "/", &vic).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Seen in social/news before NVD/JVN/KEV"),
        "{html}"
    );
    // 3 days 4 h before NVD, then 2 days without an entry; the amber one is hidden.
    assert_eq!(ranked(&html), [f.cves[0].clone(), f.cves[1].clone()]);
    assert!(html.contains("no database entry yet"), "{html}");
    assert!(html.contains("3 days 4 h"));
    let ana = login(&f.app, "ana", "ana-password").await;
    let (_, html) = get(&f.app, "/?lang=ja", &ana).await;
    assert_eq!(
        ranked(&html),
        [f.cves[2].clone(), f.cves[0].clone(), f.cves[1].clone()]
    );
    assert!(html.contains("データベース未登録"), "{html}");
    assert!(html.contains("<td class=\"n\">5日</td>"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchlist_preview_shows_what_early_warning_would_hit() {
    use crate::ui::{csrf_of, send};
    let f = fixture().await;
    let ana = login(&f.app, "ana", "ana-password").await;
    let (_, _, page) = send(&f.app, "GET", "/hunts/new", &ana, None, "").await;
    let csrf = csrf_of(&page);
    let preview = |definition: &'static str| {
        let (app, ana, csrf) = (f.app.clone(), ana.clone(), csrf.clone());
        async move {
            let form = format!("kind=watch&definition={definition}");
            let (status, _, frag) =
                send(&app, "POST", "/hunts/preview", &ana, Some(&csrf), &form).await;
            assert_eq!(status, StatusCode::OK);
            frag
        }
    };
    let social = preview("early-warning%3Asocial").await;
    assert!(social.contains("data-count=\"2\""), "{social}");
    assert!(social.contains(&f.cves[0]) && social.contains(&f.cves[2]));
    assert!(!social.contains(&f.cves[1]), "news is not social: {social}");
    let any = preview("early-warning%3Acve").await;
    assert!(any.contains("data-count=\"3\""), "{any}");
    let bad = preview("early-warning%3Ablogs").await;
    assert!(
        bad.contains("parse-error") && bad.contains("blogs"),
        "{bad}"
    );
}
