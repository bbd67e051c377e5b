//! Hunts end to end: ingest through the ingest service, hits in the outbox,
//! delivery through real loopback receivers (HTTP, SMTP, syslog) by the
//! dispatcher. Exactly one delivery per hit, also when a receiver fails
//! first or the process stops between storing and sending.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rexist_core::model::now;
use rexist_core::{
    HuntKind, HuntSpec, Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting,
    RunCounts, Source, SourceSpec, Tlp,
};
use rexist_notify::{Channel, ChannelConfig};
use rexist_pipeline::Ingest;
use rexist_pipeline::alerts::{DispatchOptions, Dispatcher};
use rexist_pipeline::hunter;
use rexist_store::{AlertQuery, HitQuery, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Mutex;

async fn open(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    rexist_store::open(None, dir.path()).await.unwrap()
}

/// Writes through the ingest service, as every writer does: hunts (read
/// from the store) and warning lists on the way in.
fn writer(store: &Arc<dyn Store>) -> Arc<Ingest> {
    Ingest::new(Arc::clone(store), None)
}

async fn source(store: &Arc<dyn Store>) -> Source {
    store
        .upsert_source(&SourceSpec {
            name: "news".to_owned(),
            kind: "rss".to_owned(),
            enabled: true,
            confidence: 60,
            tlp: Tlp::Clear,
            tags: Vec::new(),
        })
        .await
        .unwrap()
}

fn article(id: &str, title: &str, body: &str) -> ItemRecord {
    ItemRecord::text(NewItem {
        kind: ItemKind::News,
        external_id: id.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        url: Some(format!("https://news.example/{id}")),
        lang: Some("en".to_owned()),
        published_at: None,
        tlp: Tlp::Clear,
        tags: Vec::new(),
        extra: serde_json::json!({}),
    })
}

async fn ingest(store: &Arc<dyn Store>, records: Vec<ItemRecord>) {
    let s = source(store).await;
    let mut counts = RunCounts::default();
    rexist_pipeline::store_items(&writer(store), &s, records, &[], &mut counts)
        .await
        .unwrap();
}

async fn hunt(store: &Arc<dyn Store>, name: &str, kind: HuntKind, def: &str, channel: &str) {
    store
        .create_hunt(&HuntSpec {
            name: name.to_owned(),
            kind,
            definition: def.to_owned(),
            enabled: true,
            channels: vec![channel.to_owned()],
            digest_secs: None,
            tlp: rexist_core::HuntSpec::DEFAULT_TLP,
        })
        .await
        .unwrap();
}

fn fast() -> DispatchOptions {
    DispatchOptions {
        retry_base: Duration::from_millis(5),
        retry_max: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(10),
        ..DispatchOptions::default()
    }
}

/// An HTTP receiver answering 500 to the first `failures` requests, then 200.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<(HeaderMap, serde_json::Value, u16)>>>,
}

async fn receiver(failures: usize) -> Receiver {
    let requests: Arc<Mutex<Vec<(HeaderMap, serde_json::Value, u16)>>> = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let log = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let (log, seen) = (Arc::clone(&log), Arc::clone(&seen));
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let status = if n < failures { 500 } else { 200 };
                let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                log.lock().await.push((headers, json, status));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        requests,
    }
}

fn webhook(url: &str) -> Channel {
    Channel::from_config(&ChannelConfig {
        name: "hook".to_owned(),
        kind: "webhook".to_owned(),
        url: Some(url.to_owned()),
        ..ChannelConfig::default()
    })
    .unwrap()
}

/// Passes until nothing is pending or `limit` passes ran.
async fn drain(d: &Dispatcher, store: &Arc<dyn Store>) {
    for _ in 0..200 {
        d.pass().await.unwrap();
        let pending = store
            .list_alerts(&AlertQuery {
                status: Some(rexist_core::AlertStatus::Pending),
                ..AlertQuery::default()
            })
            .await
            .unwrap();
        if pending.items.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("alerts still pending after 200 passes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_item_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    hunt(
        &store,
        "ransom",
        HuntKind::Query,
        "lockbit, \"black basta\" -test",
        "hook",
    )
    .await;
    let rx = receiver(0).await;
    let d = Dispatcher::new(Arc::clone(&store), vec![webhook(&rx.url)], fast());

    ingest(
        &store,
        vec![
            article(
                "1",
                "LockBit hits a hospital",
                "The LockBit gang claimed it.",
            ),
            article("2", "Weather", "Sunny."),
            article("3", "Black Basta test build", "a test sample"),
        ],
    )
    .await;
    drain(&d, &store).await;
    // the same items again, and a changed one that still matches: no new delivery
    ingest(
        &store,
        vec![
            article(
                "1",
                "LockBit hits a hospital",
                "The LockBit gang claimed it. Update.",
            ),
            article("2", "Weather", "Sunny."),
        ],
    )
    .await;
    drain(&d, &store).await;

    let requests = rx.requests.lock().await;
    assert_eq!(requests.len(), 1, "exactly one delivery");
    let (headers, body, _) = &requests[0];
    assert_eq!(body["hunt"], "ransom");
    assert_eq!(body["hits"][0]["title"], "LockBit hits a hospital");
    assert_eq!(body["hits"][0]["source"], "news");
    assert_eq!(body["hits"][0]["terms"][0], "lockbit");
    assert_eq!(body["hits"][0]["url"], "https://news.example/1");
    assert!(headers.get("x-rexist-delivery").is_some());
    let hits = store.list_hits(&HitQuery::default()).await.unwrap();
    assert_eq!(hits.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_three_times_gets_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    hunt(&store, "ransom", HuntKind::Query, "lockbit", "hook").await;
    let rx = receiver(3).await;
    let d = Dispatcher::new(Arc::clone(&store), vec![webhook(&rx.url)], fast());
    ingest(&store, vec![article("1", "LockBit again", "")]).await;
    drain(&d, &store).await;

    let requests = rx.requests.lock().await;
    let statuses: Vec<u16> = requests.iter().map(|r| r.2).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.0.get("x-rexist-delivery").unwrap().clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one delivery id across retries"
    );
    let health = store.channel_health().await.unwrap();
    assert_eq!(
        (health[0].sent, health[0].pending, health[0].failed),
        (1, 0, 0)
    );
    assert_eq!(health[0].last_error, None, "recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_recovers_fails_the_alert_without_blocking_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    hunt(&store, "ransom", HuntKind::Query, "lockbit", "hook").await;
    let rx = receiver(usize::MAX).await;
    let opts = DispatchOptions {
        max_attempts: 3,
        ..fast()
    };
    let d = Dispatcher::new(Arc::clone(&store), vec![webhook(&rx.url)], opts);
    ingest(&store, vec![article("1", "LockBit again", "")]).await;
    drain(&d, &store).await;
    assert_eq!(rx.requests.lock().await.len(), 3);
    let health = store.channel_health().await.unwrap();
    assert_eq!(health[0].failed, 1);
    assert!(
        health[0].last_error.as_deref().unwrap().contains("500"),
        "{health:?}"
    );
    // ingest goes on regardless
    ingest(&store, vec![article("2", "LockBit once more", "")]).await;
    assert_eq!(
        store
            .list_hits(&HitQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_between_storing_and_sending_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        // the first process stores the hit and stops before any dispatcher ran
        let store = open(&dir).await;
        hunt(&store, "ransom", HuntKind::Query, "lockbit", "hook").await;
        ingest(&store, vec![article("1", "LockBit", "")]).await;
    }
    let rx = receiver(0).await;
    {
        // the second leases it and crashes before sending
        let store = open(&dir).await;
        let leased = store
            .lease_alert("crashed", &["hook"], Duration::from_millis(200))
            .await
            .unwrap();
        assert!(leased.is_some());
    }
    let store = open(&dir).await;
    let d = Dispatcher::new(Arc::clone(&store), vec![webhook(&rx.url)], fast());
    d.pass().await.unwrap();
    assert_eq!(
        rx.requests.lock().await.len(),
        0,
        "still under the crashed lease"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    drain(&d, &store).await;
    d.pass().await.unwrap();
    assert_eq!(rx.requests.lock().await.len(), 1);
}

/// A plain SMTP receiver on loopback; each accepted message's DATA is sent on.
async fn smtp_receiver() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            tx.send(data.take().unwrap()).unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_network_alerts_by_email_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    hunt(
        &store,
        "our-ranges",
        HuntKind::Watch,
        "cidr:198.51.100.0/24, domain:example.co.jp",
        "mail",
    )
    .await;
    let (port, mut mails) = smtp_receiver().await;
    let mail = Channel::from_config(&ChannelConfig {
        name: "mail".to_owned(),
        kind: "email".to_owned(),
        smtp_host: Some("127.0.0.1".to_owned()),
        smtp_port: Some(port),
        tls: Some("none".to_owned()),
        from: Some("rexist@example.org".to_owned()),
        to: Some(vec!["soc@example.org".to_owned()]),
        ..ChannelConfig::default()
    })
    .unwrap();
    let d = Dispatcher::new(Arc::clone(&store), vec![mail], fast());
    let s = source(&store).await;
    let sightings: Vec<NewSighting> = ["198.51.100.7", "203.0.113.9"]
        .iter()
        .map(|v| NewSighting::new(Indicator::parse(IndicatorType::Ipv4, v).unwrap(), now()))
        .collect();
    // twice, as a snapshot feed lists the same values every run
    let w = writer(&store);
    w.sightings(&s, &sightings).await.unwrap();
    w.sightings(&s, &sightings).await.unwrap();
    // and once in an article's text, on a watched sub-domain
    ingest(
        &store,
        vec![article(
            "9",
            "Phishing",
            "lure at login.example.co.jp today",
        )],
    )
    .await;
    drain(&d, &store).await;

    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), mails.recv()).await {
        got.push(m);
    }
    assert_eq!(got.len(), 2, "one mail per watched indicator: {got:#?}");
    let all = got.join("\n");
    assert!(all.contains("198.51.100.7"), "{all}");
    assert!(all.contains("login.example.co.jp"), "{all}");
    assert!(!all.contains("203.0.113.9"));
    assert!(
        all.contains("cidr:198.51.100.0/24"),
        "the matching entry is named: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_hunt_sends_one_syslog_message_per_period() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store
        .create_hunt(&HuntSpec {
            name: "daily".to_owned(),
            kind: HuntKind::Query,
            definition: "ransomware".to_owned(),
            enabled: true,
            channels: vec!["log".to_owned()],
            digest_secs: Some(3600),
            tlp: rexist_core::HuntSpec::DEFAULT_TLP,
        })
        .await
        .unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let log = Channel::from_config(&ChannelConfig {
        name: "log".to_owned(),
        kind: "syslog".to_owned(),
        address: Some(socket.local_addr().unwrap().to_string()),
        ..ChannelConfig::default()
    })
    .unwrap();
    let d = Dispatcher::new(Arc::clone(&store), vec![log], fast());
    ingest(
        &store,
        (0..3)
            .map(|i| article(&i.to_string(), &format!("Ransomware wave {i}"), ""))
            .collect(),
    )
    .await;
    drain(&d, &store).await;
    let mut buf = vec![0u8; 16_384];
    let n = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let record = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        record.starts_with("<13"),
        "local0.notice is PRI 133: {record}"
    );
    assert!(record.contains("hunt=\"daily\""), "{record}");
    assert!(record.contains("hits=\"3\""), "{record}");

    // more hits within the period wait for the next digest
    ingest(&store, vec![article("9", "Ransomware again", "")]).await;
    drain(&d, &store).await;
    let more = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await;
    assert!(more.is_err(), "no second digest within the period");
    assert_eq!(
        store
            .list_hits(&HitQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunts_find_history_and_announce_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let records: Vec<ItemRecord> = (0..2500)
        .map(|i| {
            let body = if i % 100 == 0 {
                "脆弱性を悪用"
            } else {
                "nothing"
            };
            article(&i.to_string(), &format!("item {i}"), body)
        })
        .collect();
    ingest(&store, records).await;
    hunt(&store, "vuln", HuntKind::Query, "脆弱性", "hook").await;
    let h = store.hunt_by_name("vuln").await.unwrap().unwrap();
    let mut progress = Vec::new();
    let summary = hunter::retro(&store, &h, |s| progress.push(s.scanned))
        .await
        .unwrap();
    assert_eq!(summary.scanned, 2500);
    assert_eq!(summary.hits, 25);
    assert_eq!(summary.announced, 25);
    assert_eq!(progress, [1000, 2000, 2500]);
    let hits = store.list_hits(&HitQuery::default()).await.unwrap().items;
    assert!(hits.iter().all(|h| h.retro));
    let alerts = store
        .list_alerts(&AlertQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 1, "one summary, not 25 alerts");
    assert!(alerts[0].digest);
    // again: nothing new
    let again = hunter::retro(&store, &h, |_| {}).await.unwrap();
    assert_eq!((again.hits, again.announced), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_on_a_warning_list_are_flagged_at_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let inner = rexist_store::open(None, dir.path()).await.unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&loads);
    let loader: hunter::ListsLoader = Arc::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Some(Arc::new(rexist_warnlist::WarningLists::bundled().clone()))
    });
    let ingest = Ingest::new(Arc::clone(&inner), Some(loader));
    let store = inner;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        0,
        "lists load on first use only"
    );
    let s = source(&store).await;
    let values = ["192.0.2.44", "91.92.93.94", "8.8.8.8"];
    let sightings: Vec<NewSighting> = values
        .iter()
        .map(|v| NewSighting::new(Indicator::parse(IndicatorType::Ipv4, v).unwrap(), now()))
        .collect();
    ingest.sightings(&s, &sightings).await.unwrap();
    ingest.sightings(&s, &sightings).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let status = |v: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .indicator(IndicatorType::Ipv4, v)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let doc = status("192.0.2.44").await;
    assert_eq!(doc.status, rexist_core::IndicatorStatus::Allowlisted);
    assert_eq!(
        doc.status_reason.as_deref(),
        Some("on warning list rfc5735")
    );
    let dns = status("8.8.8.8").await;
    assert_eq!(
        dns.status_reason.as_deref(),
        Some("on warning list public-dns-v4")
    );
    assert_eq!(
        status("91.92.93.94").await.status,
        rexist_core::IndicatorStatus::Active
    );
}

/// A source of `kind` named after it.
async fn kind_source(store: &Arc<dyn Store>, kind: &str) -> Source {
    store
        .upsert_source(&SourceSpec {
            name: kind.to_owned(),
            kind: kind.to_owned(),
            enabled: true,
            confidence: 60,
            tlp: Tlp::Clear,
            tags: Vec::new(),
        })
        .await
        .unwrap()
}

/// The CVEs a hunt hit, with the terms of each, in value order.
async fn cve_hits(store: &Arc<dyn Store>, hunt: &str) -> Vec<(String, Vec<String>)> {
    let h = store.hunt_by_name(hunt).await.unwrap().unwrap();
    let hits = store
        .list_hits(&HitQuery {
            hunt: Some(h.id),
            limit: 100,
            ..HitQuery::default()
        })
        .await
        .unwrap()
        .items;
    let mut out = Vec::new();
    for hit in hits {
        let rexist_core::HitObject::Indicator(id) = hit.object else {
            panic!("an item hit: {hit:?}");
        };
        let record = store.indicator_by_id(id).await.unwrap().unwrap();
        out.push((record.value, hit.terms));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_warning_hunts_hit_cves_discussed_before_their_database_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let year = now().year();
    let cve = |n: u32| format!("CVE-{year}-{n:04}");
    hunt(
        &store,
        "early",
        HuntKind::Watch,
        "early-warning:cve",
        "hook",
    )
    .await;
    hunt(
        &store,
        "social",
        HuntKind::Watch,
        "early-warning:social",
        "hook",
    )
    .await;
    let news = source(&store).await;
    let post = |id: &str, text: &str| {
        let mut r = article(id, "", text);
        r.item.kind = ItemKind::Post;
        r
    };
    let store_in = |s: Source, records: Vec<ItemRecord>| {
        let store = Arc::clone(&store);
        async move {
            rexist_pipeline::store_items(
                &writer(&store),
                &s,
                records,
                &[],
                &mut RunCounts::default(),
            )
            .await
            .unwrap();
        }
    };

    // No NVD, JVN or KEV source yet: nothing can be said to lack its entry.
    store_in(
        news.clone(),
        vec![article("a1", "Bug", &format!("{} is bad", cve(1111)))],
    )
    .await;
    assert!(cve_hits(&store, "early").await.is_empty());

    let nvd = kind_source(&store, "nvd").await;
    writer(&store)
        .sightings(
            &nvd,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cve, &cve(2222)).unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    // News names a new CVE, one NVD has, an old one and the first again.
    let text = format!(
        "{} is new; {} is patched; CVE-2014-0160 again; {} still open",
        cve(3333),
        cve(2222),
        cve(1111)
    );
    store_in(news.clone(), vec![article("a2", "Roundup", &text)]).await;
    let early_terms = vec!["early-warning:cve".to_owned()];
    assert_eq!(
        cve_hits(&store, "early").await,
        [
            (cve(1111), early_terms.clone()),
            (cve(3333), early_terms.clone())
        ]
    );
    assert!(
        cve_hits(&store, "social").await.is_empty(),
        "news is not social"
    );

    // The same CVE on Mastodon: the social-only hunt hits, the other once only.
    let masto = kind_source(&store, "mastodon").await;
    store_in(
        masto.clone(),
        vec![post("p1", &format!("PoC for {}", cve(3333)))],
    )
    .await;
    assert_eq!(
        cve_hits(&store, "social").await,
        [(cve(3333), vec!["early-warning:social".to_owned()])]
    );
    assert_eq!(cve_hits(&store, "early").await.len(), 2);
    // NVD itself reporting a CVE is no early warning.
    writer(&store)
        .sightings(
            &nvd,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cve, &cve(5555)).unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    assert_eq!(cve_hits(&store, "early").await.len(), 2);

    // A retro-hunt reads history: 4444 was in the news a day before NVD.
    let t0 = now() - time::Duration::days(3);
    writer(&store)
        .sightings(
            &news,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cve, &cve(4444)).unwrap(),
                t0,
            )],
        )
        .await
        .unwrap();
    writer(&store)
        .sightings(
            &nvd,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cve, &cve(4444)).unwrap(),
                t0 + time::Duration::days(1),
            )],
        )
        .await
        .unwrap();
    hunt(
        &store,
        "retro",
        HuntKind::Watch,
        "early-warning:cve",
        "hook",
    )
    .await;
    let h = store.hunt_by_name("retro").await.unwrap().unwrap();
    let summary = hunter::retro(&store, &h, |_| {}).await.unwrap();
    assert_eq!(summary.hits, 3);
    let found: Vec<String> = cve_hits(&store, "retro")
        .await
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(found, [cve(1111), cve(3333), cve(4444)]);
}
