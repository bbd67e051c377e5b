//! Lookup over a real SQLite store: local knowledge, warning lists,
//! lifecycle, bulk, and enrichment from a loopback provider.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use rexist_core::model::now;
use rexist_core::{
    HitObject, HuntKind, HuntSpec, Indicator, IndicatorType, ItemKind, Mention, NewHit, NewItem,
    NewRelation, NewSighting, RetractReason, Retraction, SourceSpec, Tlp,
};
use rexist_lookup::{Lifetimes, Lookup, LookupError, LookupStatus, Options};
use rexist_store::Store;

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    rexist_store::open(None, dir.path()).await.unwrap()
}

async fn source(store: &Arc<dyn Store>, name: &str, confidence: u8) -> rexist_core::Source {
    store
        .upsert_source(&SourceSpec {
            name: name.into(),
            kind: "test".into(),
            enabled: true,
            confidence,
            tlp: Tlp::Green,
            tags: vec![],
        })
        .await
        .unwrap()
}

async fn kind_source(store: &Arc<dyn Store>, name: &str, kind: &str) -> rexist_core::Source {
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

fn sighting(kind: IndicatorType, value: &str, at: time::OffsetDateTime) -> NewSighting {
    NewSighting {
        labels: vec!["c2".into()],
        ..NewSighting::new(Indicator::parse(kind, value).unwrap(), at)
    }
}

fn lists() -> Arc<rexist_warnlist::WarningLists> {
    Arc::new(rexist_warnlist::WarningLists::bundled().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_answer_joins_sources_items_relations_hunts_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let feed = source(&store, "feed", 70).await;
    let blog = source(&store, "blog", 50).await;
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Domain, "c2.badhost.com", now())],
        )
        .await
        .unwrap();
    let body = "The loader calls c2.badhost.com and drops files from 91.92.93.94 daily.";
    let item = store
        .upsert_items(
            blog.id,
            &[NewItem {
                kind: ItemKind::News,
                external_id: "post-1".into(),
                title: "Loader analysis".into(),
                body: body.into(),
                url: Some("https://blog.example/post-1".into()),
                lang: Some("en".into()),
                published_at: None,
                tlp: Tlp::Clear,
                tags: vec![],
                extra: serde_json::json!({}),
            }],
        )
        .await
        .unwrap()[0]
        .id();
    let at = u32::try_from(body.find("c2.badhost.com").unwrap()).unwrap();
    let ip_at = u32::try_from(body.find("91.92.93.94").unwrap()).unwrap();
    store
        .record_mentions(
            &blog,
            item,
            &[
                Mention {
                    indicator: Indicator::parse(IndicatorType::Domain, "c2.badhost.com").unwrap(),
                    start: at,
                    end: at + 12,
                    defanged: false,
                },
                Mention {
                    indicator: Indicator::parse(IndicatorType::Ipv4, "91.92.93.94").unwrap(),
                    start: ip_at,
                    end: ip_at + 9,
                    defanged: false,
                },
            ],
        )
        .await
        .unwrap();
    store
        .add_relations(
            &feed,
            &[NewRelation {
                from: Indicator::parse(IndicatorType::Domain, "c2.badhost.com").unwrap(),
                to: Indicator::parse(IndicatorType::Ipv4, "198.51.100.20").unwrap(),
                kind: "resolves-to".into(),
                seen_at: now(),
            }],
        )
        .await
        .unwrap();
    let rec = store
        .indicator(IndicatorType::Domain, "c2.badhost.com")
        .await
        .unwrap()
        .unwrap();
    let hunt = store
        .create_hunt(&HuntSpec {
            name: "ours".into(),
            kind: HuntKind::Watch,
            definition: "domain:badhost.com".into(),
            enabled: true,
            channels: vec![],
            digest_secs: None,
            tlp: rexist_core::HuntSpec::DEFAULT_TLP,
        })
        .await
        .unwrap();
    store
        .record_hits(&[NewHit {
            hunt: hunt.id,
            object: HitObject::Indicator(rec.id),
            terms: vec!["domain:badhost.com".into()],
            retro: false,
        }])
        .await
        .unwrap();

    let lookup = Lookup::new(
        Arc::clone(&store),
        Some(lists()),
        None,
        Lifetimes::default(),
    );
    let a = lookup
        .one("hxxp://c2[.]badhost[.]com", &Options::default())
        .await;
    // a URL is not the domain: defanged URL input is read as a URL
    assert_eq!(a.unwrap().kind, IndicatorType::Url);
    let a = lookup
        .one("c2[.]badhost[.]com", &Options::default())
        .await
        .unwrap();
    assert_eq!(
        (a.kind, a.value.as_str(), a.known),
        (IndicatorType::Domain, "c2.badhost.com", true)
    );
    assert_eq!(a.status, LookupStatus::Active);
    let names: Vec<&str> = a.sources.iter().map(|s| s.source.as_str()).collect();
    assert!(
        names.contains(&"feed") && names.contains(&"blog"),
        "{names:?}"
    );
    let feed_report = a.sources.iter().find(|s| s.source == "feed").unwrap();
    assert_eq!(feed_report.confidence, 70);
    assert!(feed_report.labels.contains(&"c2".to_owned()));
    // 70 from the feed, +5 for a second source, fresh; then 0.2 × 50 from
    // the address it shares an item with: 75 + 25 × 0.1 = 77.5. The address
    // it resolves to is on a warning list and adds nothing.
    assert_eq!(a.score, 78, "{:?}", a.score_factors);
    let relation_factors: Vec<&str> = a
        .score_factors
        .iter()
        .filter(|f| f.name == "relation")
        .map(|f| f.reason.as_str())
        .collect();
    assert_eq!(
        relation_factors,
        ["shared-items 91.92.93.94 (score 50) × 0.2"],
        "{:?}",
        a.score_factors
    );
    assert_eq!(a.items.len(), 1);
    assert_eq!(a.items[0].title, "Loader analysis");
    assert!(
        a.items[0]
            .snippet
            .as_deref()
            .unwrap()
            .contains("c2.badhost.com")
    );
    let related: Vec<(&str, &str)> = a
        .related
        .iter()
        .map(|r| (r.value.as_str(), r.relation.as_str()))
        .collect();
    assert!(
        related.contains(&("198.51.100.20", "resolves-to")),
        "{related:?}"
    );
    assert!(
        related.contains(&("91.92.93.94", "shared-items")),
        "{related:?}"
    );
    assert_eq!(a.hunts.len(), 1);
    assert_eq!(a.hunts[0].hunt, "ours");
    // A reader cleared to GREEN reads the indicator, not the AMBER hunt on it.
    let green = lookup
        .one(
            "c2.badhost.com",
            &Options {
                max_tlp: Some(Tlp::Green),
                ..Options::default()
            },
        )
        .await
        .unwrap();
    assert!(green.known);
    assert!(green.hunts.is_empty(), "{:?}", green.hunts);
    assert!(a.warnings.is_empty());
    assert_eq!(a.lifetime_days, 180);

    // documentation addresses are on a warning list: flagged, score 0
    let w = lookup
        .one("198.51.100.20", &Options::default())
        .await
        .unwrap();
    assert!(w.known);
    assert_eq!(w.status, LookupStatus::Allowlisted);
    assert_eq!(w.score, 0);
    assert!(
        w.warnings
            .iter()
            .any(|x| x.list == "rfc5735" && x.kind == "cidr"),
        "{:?}",
        w.warnings
    );
    assert!(
        w.related
            .iter()
            .any(|r| r.value == "c2.badhost.com" && r.reason.contains("inverse"))
    );

    // unknown values and garbage
    let u = lookup.one("8.8.4.4", &Options::default()).await.unwrap();
    assert!(!u.known);
    assert!(u.sources.is_empty());
    assert!(matches!(
        lookup.one("no such thing", &Options::default()).await,
        Err(LookupError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetimes_expire_and_bulk_answers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let feed = source(&store, "feed", 80).await;
    let old = now() - time::Duration::days(45);
    store
        .upsert_sightings(
            &feed,
            &[
                sighting(IndicatorType::Ipv4, "91.92.93.94", old),
                sighting(IndicatorType::Domain, "old.badhost.com", old),
            ],
        )
        .await
        .unwrap();
    let lookup = Lookup::new(
        Arc::clone(&store),
        Some(lists()),
        None,
        Lifetimes::default(),
    );
    let ip = lookup
        .one("91.92.93.94", &Options::default())
        .await
        .unwrap();
    assert_eq!(
        ip.status,
        LookupStatus::Expired,
        "past 30 days, before the sweep"
    );
    assert_eq!(ip.score, 20, "a quarter of 80 at the end of its lifetime");
    let domain = lookup
        .one("old.badhost.com", &Options::default())
        .await
        .unwrap();
    assert_eq!(domain.status, LookupStatus::Active);
    assert!(domain.score < 80 && domain.score > 60, "{}", domain.score);

    // the sweep stores it; a new sighting revives it
    let swept = store
        .expire_indicators(&lookup.lifetimes().all())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Ipv4, "91.92.93.94", now())],
        )
        .await
        .unwrap();
    assert_eq!(
        lookup
            .one("91.92.93.94", &Options::default())
            .await
            .unwrap()
            .status,
        LookupStatus::Active
    );

    let values: Vec<String> = [
        "91.92.93.94",
        "nothing here",
        "old.badhost[.]com",
        "192.0.2.1",
        "8.8.4.4",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let briefs = lookup.bulk(&values, None).await.unwrap();
    assert_eq!(briefs.len(), 5);
    assert!(briefs[0].known);
    assert!(briefs[1].error.is_some() && briefs[1].kind.is_none());
    assert_eq!(briefs[2].value.as_deref(), Some("old.badhost.com"));
    assert!(briefs[2].known);
    assert_eq!(
        briefs[3].status,
        Some(LookupStatus::Allowlisted),
        "listed though unknown"
    );
    assert_eq!(briefs[3].warnings, ["rfc5735"]);
    assert!(!briefs[4].known && briefs[4].warnings.contains(&"public-dns-v4".to_owned()));
    let too_many = vec!["1.1.1.1".to_owned(); rexist_lookup::MAX_BULK + 1];
    assert!(matches!(
        lookup.bulk(&too_many, None).await,
        Err(LookupError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_answers_beside_local_knowledge() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let body = rexist_testkit::fixture_bytes("otx/indicator-IPv4-192.0.2.10-general.json");
    let up = rexist_testkit::serve(move |_, _, _| {
        (
            rexist_testkit::response("200 OK", "Content-Type: application/json\r\n", &body),
            Duration::ZERO,
        )
    })
    .await;
    let key = dir.path().join("otx.key");
    std::fs::write(&key, "secret-otx-key-123").unwrap();
    let enricher = rexist_enrich::Enricher::new(&[rexist_enrich::EnrichConfig {
        name: "otx".into(),
        kind: "otx".into(),
        base_url: Some(up.base.clone()),
        key_file: Some(key.display().to_string()),
        ..rexist_enrich::EnrichConfig::default()
    }])
    .unwrap();
    let lookup = Lookup::new(store, None, Some(Arc::new(enricher)), Lifetimes::default());
    assert_eq!(lookup.providers_for(IndicatorType::Ipv4), ["otx"]);
    assert!(
        lookup.providers_for(IndicatorType::Btc).is_empty(),
        "OTX has nothing on wallets"
    );
    let plain = lookup.one("192.0.2.10", &Options::default()).await.unwrap();
    assert!(
        plain.enrichment.is_empty(),
        "providers are asked only on request"
    );
    assert_eq!(up.hits(), 0);
    let a = lookup
        .one(
            "192.0.2.10",
            &Options {
                enrich: true,
                ..Options::default()
            },
        )
        .await
        .unwrap();
    assert!(!a.known);
    assert_eq!(a.enrichment.len(), 1);
    assert_eq!(a.enrichment[0].provider, "otx");
    assert_eq!(a.enrichment[0].status.as_str(), "ok");
    let json = serde_json::to_string(&a).unwrap();
    assert!(!json.contains("secret-otx-key-123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retracted_sources_show_why_and_stop_counting() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let partner = source(&store, "taxii-partner", 90).await;
    let feed = source(&store, "feed", 40).await;
    for s in [&partner, &feed] {
        store
            .upsert_sightings(
                s,
                &[sighting(IndicatorType::Domain, "evil.badhost.com", now())],
            )
            .await
            .unwrap();
    }
    let lookup = Lookup::new(Arc::clone(&store), None, None, Lifetimes::default());
    let before = lookup
        .one("evil.badhost.com", &Options::default())
        .await
        .unwrap();
    assert_eq!(before.score, 95, "90 + 5 for a second source");
    let at = now() - time::Duration::minutes(5);
    let retract = |reason| Retraction {
        indicator: Indicator::parse(IndicatorType::Domain, "evil.badhost.com").unwrap(),
        reason,
        at,
    };
    store
        .retire_sightings(&partner, &[retract(RetractReason::Revoked)])
        .await
        .unwrap();
    let after = lookup
        .one("evil.badhost.com", &Options::default())
        .await
        .unwrap();
    assert_eq!(after.status, LookupStatus::Active);
    assert_eq!(after.score, 40, "only the source still listing it counts");
    let by = |a: &rexist_lookup::Answer, name: &str| {
        a.sources
            .iter()
            .find(|r| r.source == name)
            .cloned()
            .unwrap()
    };
    let p = by(&after, "taxii-partner");
    assert_eq!(p.retired_reason, Some(RetractReason::Revoked));
    assert_eq!(p.retired_at, Some(at));
    assert!(!p.listed);
    assert_eq!(by(&after, "feed").retired_reason, None);
    let json = serde_json::to_value(&after).unwrap();
    let sources = json["sources"].as_array().unwrap();
    let partner_json = sources
        .iter()
        .find(|s| s["source"] == "taxii-partner")
        .unwrap();
    assert_eq!(partner_json["retired_reason"], "revoked");
    assert!(partner_json["retired_at"].is_string());

    store
        .retire_sightings(&feed, &[retract(RetractReason::FalsePositive)])
        .await
        .unwrap();
    let gone = lookup
        .one("evil.badhost.com", &Options::default())
        .await
        .unwrap();
    assert_eq!(gone.status, LookupStatus::Retired);
    assert_eq!(
        gone.status_reason.as_deref(),
        Some("false_positive by feed")
    );
    assert_eq!(
        gone.score, 45,
        "half the highest confidence, as when unlisted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_connects_networks_hosts_parents_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let drop = source(&store, "drop-list", 80).await;
    let urls = source(&store, "url-feed", 70).await;
    let at = now();
    store
        .upsert_sightings(
            &drop,
            &[
                sighting(IndicatorType::Cidr, "45.0.0.0/16", at),
                sighting(IndicatorType::Domain, "bad-42.xyz", at),
                sighting(IndicatorType::Ipv4, "45.0.9.9", at),
                NewSighting {
                    tlp: Some(Tlp::Red),
                    ..sighting(IndicatorType::Cidr, "45.0.7.0/24", at)
                },
            ],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(
            &urls,
            &[sighting(
                IndicatorType::Url,
                "http://bad-42.xyz/gate.php",
                at,
            )],
        )
        .await
        .unwrap();
    let lookup = Lookup::new(Arc::clone(&store), None, None, Lifetimes::default());
    let green = Options {
        max_tlp: Some(Tlp::Green),
        ..Options::default()
    };
    let rel = |a: &rexist_lookup::Answer| -> Vec<(String, String)> {
        a.related
            .iter()
            .map(|r| (r.value.clone(), r.relation.clone()))
            .collect()
    };

    // An address inside a stored network: unknown itself, related and scored.
    let ip = lookup.one("45.0.7.7", &green).await.unwrap();
    assert!(!ip.known);
    assert_eq!(ip.status, LookupStatus::Unknown);
    let net = ip
        .related
        .iter()
        .find(|r| r.value == "45.0.0.0/16")
        .expect("the /16");
    assert_eq!(net.relation, "contained-in");
    assert_eq!(net.reason, "45.0.7.7 lies in 45.0.0.0/16");
    assert_eq!(net.sources, ["drop-list"]);
    assert!(
        !rel(&ip).iter().any(|r| r.0 == "45.0.7.0/24"),
        "the TLP:RED /24 stays hidden from a GREEN reader: {:?}",
        rel(&ip)
    );
    assert_eq!(net.score, 80);
    assert_eq!(ip.score, 40, "0.5 × 80: {:?}", ip.score_factors);
    assert!(
        ip.score_factors
            .iter()
            .any(|f| f.name == "relation" && f.reason.contains("45.0.0.0/16"))
    );
    let red = lookup.one("45.0.7.7", &Options::default()).await.unwrap();
    assert!(rel(&red).contains(&("45.0.7.0/24".into(), "contained-in".into())));

    // A URL on a known host: the host, with its score carried over.
    let url = lookup.one("hxxp://bad-42[.]xyz/foo", &green).await.unwrap();
    assert_eq!(url.status, LookupStatus::Unknown);
    assert_eq!(rel(&url), [("bad-42.xyz".to_owned(), "host-of".to_owned())]);
    assert_eq!(url.score, 60, "0.8 × 80 = 64, capped at 60");

    // A domain: its URLs; a sub-domain: its parent; an address: its domain.
    let domain = lookup.one("bad-42.xyz", &green).await.unwrap();
    assert!(domain.known);
    assert!(
        rel(&domain).contains(&("http://bad-42.xyz/gate.php".into(), "url-on".into())),
        "{:?}",
        rel(&domain)
    );
    let sub = lookup.one("login.bad-42.xyz", &green).await.unwrap();
    assert_eq!(
        rel(&sub),
        [("bad-42.xyz".to_owned(), "parent-domain".to_owned())]
    );
    let mail = lookup.one("ops@bad-42.xyz", &green).await.unwrap();
    assert_eq!(
        rel(&mail),
        [("bad-42.xyz".to_owned(), "domain-of".to_owned())]
    );

    // A network: what lies inside it.
    let cidr = lookup.one("45.0.0.0/16", &green).await.unwrap();
    assert!(
        rel(&cidr).contains(&("45.0.9.9".into(), "contains".into())),
        "{:?}",
        rel(&cidr)
    );
    assert!(
        !rel(&cidr).iter().any(|r| r.0 == "45.0.0.0/16"),
        "not itself"
    );

    // Bulk says the same, in the same vocabulary.
    let values: Vec<String> = ["45.0.7.7", "http://bad-42.xyz/foo", "203.0.113.250", "no"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let b = lookup.bulk(&values, Some(Tlp::Green)).await.unwrap();
    assert_eq!(b[0].status, Some(LookupStatus::Unknown));
    assert_eq!(b[0].score, Some(40));
    assert_eq!(b[0].related[0].value, "45.0.0.0/16");
    assert_eq!(b[0].related[0].relation, "contained-in");
    assert_eq!(b[1].related[0].relation, "host-of");
    assert_eq!(b[1].score, Some(60));
    assert_eq!(b[2].status, Some(LookupStatus::Unknown));
    assert_eq!(b[2].score, Some(0));
    assert!(b[2].related.is_empty());
    assert_eq!(b[3].status, None);
    let json = serde_json::to_value(&b[2]).unwrap();
    assert_eq!(json["status"], "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_warning_measures_social_and_exchange_leads() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let masto = kind_source(&store, "infosec-exchange", "mastodon").await;
    let nvd = kind_source(&store, "nvd", "nvd").await;
    let otx = kind_source(&store, "otx", "otx").await;
    let urlhaus = kind_source(&store, "urlhaus", "urlhaus").await;
    let t0 = now() - Duration::from_secs(20 * 86_400);
    let year = now().year();
    let (early, pending) = (format!("CVE-{year}-31337"), format!("CVE-{year}-4242"));

    // A post names the CVE at t0 (collected later: the post's time counts);
    // NVD publishes it 3 days 4 hours on.
    let body = format!("PoC for {early} is out, and {pending} is next");
    let post = store
        .upsert_items(
            masto.id,
            &[NewItem {
                kind: ItemKind::Post,
                external_id: "109".into(),
                title: String::new(),
                body: body.clone(),
                url: Some("https://infosec.exchange/@x/109".into()),
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
    let mention = |value: &str| {
        let start = u32::try_from(body.find(value).unwrap()).unwrap();
        Mention {
            indicator: Indicator::parse(IndicatorType::Cve, value).unwrap(),
            start,
            end: start + u32::try_from(value.len()).unwrap(),
            defanged: false,
        }
    };
    store
        .record_mentions(&masto, post, &[mention(&early), mention(&pending)])
        .await
        .unwrap();
    let lead = Duration::from_secs(3 * 86_400 + 4 * 3600);
    store
        .upsert_sightings(&nvd, &[sighting(IndicatorType::Cve, &early, t0 + lead)])
        .await
        .unwrap();
    // An OTX pulse names a domain five hours before URLhaus lists it.
    store
        .upsert_sightings(
            &otx,
            &[sighting(IndicatorType::Domain, "pulse.example", t0)],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(
            &urlhaus,
            &[sighting(
                IndicatorType::Domain,
                "pulse.example",
                t0 + Duration::from_secs(5 * 3600),
            )],
        )
        .await
        .unwrap();
    let lookup = Lookup::new(Arc::clone(&store), None, None, Lifetimes::default());

    let cve = lookup.one(&early, &Options::default()).await.unwrap();
    let ew = cve.early_warning.as_ref().unwrap();
    let json = serde_json::to_value(ew).unwrap();
    assert_eq!(json["first_class"], "social", "{json}");
    assert_eq!(json["authority"], "database");
    assert_eq!(json["authority_report"]["source"], "nvd");
    assert_eq!(json["lead_seconds"], 3 * 86_400 + 4 * 3600);
    assert_eq!(json["awaiting_authority"], false);
    let classes: Vec<(&str, &str, &str)> = json["by_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["class"].as_str().unwrap(),
                r["source"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("social", "infosec-exchange", "mastodon"),
            ("vulndb", "nvd", "nvd")
        ]
    );
    assert_eq!(ew.by_class[0].at, t0, "the post's time, not its collection");

    let waiting = lookup.one(&pending, &Options::default()).await.unwrap();
    let ew = waiting.early_warning.unwrap();
    assert!(ew.awaiting_authority);
    assert_eq!((ew.authority_report, ew.lead_seconds), (None, None));

    let domain = lookup
        .one("pulse[.]example", &Options::default())
        .await
        .unwrap();
    let ew = domain.early_warning.unwrap();
    assert_eq!(ew.first_class, rexist_core::SourceClass::Exchange);
    assert_eq!(ew.authority, rexist_core::early::Authority::Blocklist);
    assert_eq!(ew.authority_report.unwrap().source, "urlhaus");
    assert_eq!(ew.lead_seconds, Some(5 * 3600));

    let unknown = lookup
        .one("CVE-2020-0001", &Options::default())
        .await
        .unwrap();
    assert!(unknown.early_warning.is_none());
    let json = serde_json::to_value(&unknown).unwrap();
    assert!(json["early_warning"].is_null(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_shows_its_subdomains_and_addresses_but_not_look_alikes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let feed = source(&store, "phish-feed", 80).await;
    let at = now();
    store
        .upsert_sightings(
            &feed,
            &[
                sighting(IndicatorType::Domain, "example-corp.com", at),
                sighting(IndicatorType::Domain, "login.example-corp.com", at),
                sighting(IndicatorType::Domain, "a.cdn.example-corp.com", at),
                sighting(IndicatorType::Email, "ceo@mail.example-corp.com", at),
                sighting(IndicatorType::Domain, "notexample-corp.com", at),
                sighting(IndicatorType::Email, "x@notexample-corp.com", at),
                sighting(IndicatorType::Domain, "example-corp.com.evil.net", at),
                NewSighting {
                    tlp: Some(Tlp::Red),
                    ..sighting(IndicatorType::Domain, "secret.example-corp.com", at)
                },
            ],
        )
        .await
        .unwrap();
    let lookup = Lookup::new(Arc::clone(&store), None, None, Lifetimes::default());
    let green = Options {
        max_tlp: Some(Tlp::Green),
        ..Options::default()
    };
    let a = lookup.one("Example-Corp.com", &green).await.unwrap();
    let rel: Vec<(String, String, String)> = a
        .related
        .iter()
        .map(|r| (r.value.clone(), r.relation.clone(), r.reason.clone()))
        .collect();
    let want =
        |v: &str, rel_: &str, reason: &str| (v.to_owned(), rel_.to_owned(), reason.to_owned());
    assert_eq!(
        rel,
        [
            want(
                "login.example-corp.com",
                "subdomain",
                "login.example-corp.com is a sub-domain of example-corp.com"
            ),
            want(
                "a.cdn.example-corp.com",
                "subdomain",
                "a.cdn.example-corp.com is a sub-domain of example-corp.com"
            ),
            want(
                "ceo@mail.example-corp.com",
                "email-at",
                "ceo@mail.example-corp.com is an address at mail.example-corp.com, below example-corp.com"
            ),
        ],
        "nearest first, the look-alikes and the TLP:RED sub-domain left out"
    );
    assert_eq!(a.related[0].sources, ["phish-feed"]);
    // Raised by three neighbours at 0.3 × 80 = 24 each.
    assert!(
        a.score_factors
            .iter()
            .any(|f| f.name == "relations" && f.value > 0.0),
        "{:?}",
        a.score_factors
    );
    assert!(
        a.score_factors
            .iter()
            .any(|f| f.name == "relation"
                && f.reason.starts_with("subdomain login.example-corp.com")),
        "{:?}",
        a.score_factors
    );
    // A sub-domain reads its own sub-domains, not its siblings or parent as such.
    let cdn = lookup.one("cdn.example-corp.com", &green).await.unwrap();
    let cdn_rel: Vec<(&str, &str)> = cdn
        .related
        .iter()
        .map(|r| (r.value.as_str(), r.relation.as_str()))
        .collect();
    assert_eq!(
        cdn_rel,
        [
            ("example-corp.com", "parent-domain"),
            ("a.cdn.example-corp.com", "subdomain"),
        ]
    );
    // A cleared reader sees the TLP:RED one too.
    let red = lookup
        .one("example-corp.com", &Options::default())
        .await
        .unwrap();
    assert!(
        red.related
            .iter()
            .any(|r| r.value == "secret.example-corp.com" && r.relation == "subdomain")
    );
}
