//! One behaviour, two backends: every test here runs against a fresh SQLite
//! file and against PostgreSQL (a fresh schema per test, from
//! `REXIST_TEST_DATABASE_URL`). A test that passes on one backend and fails
//! on the other is a bug in the backend, not in the test.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rexist_core::model::now;
use rexist_core::{
    AlertStatus, HitObject, HuntHit, HuntKind, HuntSpec, Indicator, IndicatorRecord,
    IndicatorStatus, IndicatorType, ItemKind, Mention, NewHit, NewItem, NewRelation, NewSighting,
    RetractReason, Retraction, RunCounts, RunOutcome, Source, SourceSpec, Tlp,
};
use rexist_store::postgres::PgStore;
use rexist_store::sqlite::SqliteStore;
use rexist_store::{
    AlertQuery, CachedEnrichment, CurationChange, EntityLink, ErrorKind, HitQuery, IndicatorQuery,
    ItemChange, ItemQuery, NewJob, RetroHunt, RetroStatus, Store, TaxiiStatus,
};
use time::OffsetDateTime;

/// A store under test and what keeps it alive (temp dir) or cleans it up (schema).
struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Harness {
    /// Drops the PostgreSQL schema of a passed test (a failed one is kept to inspect).
    async fn cleanup(self) {
        if let Some((url, schema)) = self.schema {
            drop(self.store);
            rexist_store::postgres::drop_schema(&url, &schema)
                .await
                .expect("drop test schema");
        }
    }
}

async fn sqlite() -> Option<Harness> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    Some(Harness {
        store: Arc::new(store),
        _dir: Some(dir),
        schema: None,
    })
}

static SCHEMA_SEQ: AtomicU32 = AtomicU32::new(0);

async fn postgres() -> Option<Harness> {
    let Ok(url) = std::env::var("REXIST_TEST_DATABASE_URL") else {
        eprintln!(
            "REXIST_TEST_DATABASE_URL not set: PostgreSQL half of the conformance suite skipped"
        );
        return None;
    };
    let schema = format!(
        "rexist_t{}_{}_{}",
        std::process::id(),
        SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed),
        OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );
    let store = PgStore::connect(&url, Some(&schema))
        .await
        .expect("connect postgres");
    store.migrate().await.expect("migrate postgres");
    Some(Harness {
        store: Arc::new(store),
        _dir: None,
        schema: Some((url, schema)),
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let h = super::sqlite().await.expect("sqlite harness");
                    super::$name(h.store.clone()).await;
                    h.cleanup().await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(h) = super::postgres().await {
                        super::$name(h.store.clone()).await;
                        h.cleanup().await;
                    }
                }
            )*
        }
    };
}

conformance!(
    migrations_are_idempotent,
    hits_are_triaged_with_history,
    stix_namespace_is_made_once,
    stored_exports_create_rename_and_delete,
    sources_register_and_toggle,
    runs_record_counts_health_and_cursor,
    reingest_adds_no_sighting_and_moves_last_seen,
    indicators_filter_and_page,
    concurrent_writers_lose_no_update,
    random_batches_match_model,
    items_upsert_and_full_text,
    japanese_words_found_inside_sentences,
    mentions_link_items_and_indicators,
    job_queue_leases,
    stale_runs_are_interrupted_and_live_ones_kept,
    job_leases_renew_and_hand_back,
    stats_count_everything,
    relations_link_indicators_once,
    large_overlapping_batches_do_not_deadlock,
    snapshot_leavers_are_unlisted_not_deleted,
    hunts_create_update_delete,
    hunts_keep_their_tlp_and_hide_hits_and_alerts_above_a_clearance,
    hits_are_stored_once_with_their_alerts,
    digests_and_retro_hits_collect_later,
    alert_outbox_leases_retries_and_fails,
    hits_list_and_acknowledge,
    lookup_reads_related_indicators,
    indicators_expire_revive_and_flag,
    exports_page_in_added_order_with_filters,
    users_tokens_sessions_and_audit,
    dashboard_activity_and_top_indicators,
    early_cves_rank_by_lead_within_clearance,
    retraction_retires_the_sources_sightings_with_reason_and_time,
    indicator_retires_only_when_every_source_withdrew,
    allowlisted_indicator_stays_allowlisted_when_withdrawn,
    resighting_reactivates_a_retired_indicator,
    snapshot_leavers_retire_as_delisted,
    upstream_expiry_retires_sightings,
    indicators_filter_by_source,
    retired_indicator_pages_again_for_taxii,
    item_version_retires_only_the_dropped_stated_sightings,
    item_withdrawal_retires_an_indicator_only_when_nothing_lists_it,
    resighting_in_the_item_lists_it_again,
    deleting_a_source_removes_only_what_it_alone_stored,
    retro_hunts_queue_once_report_progress_and_survive_their_worker,
    taxii_statuses_are_kept_per_root_and_pruned_by_age,
    enrichment_answers_are_shared_until_they_expire,
    connected_reads_exact_prefixed_and_by_id_within_clearance,
    false_positive_marks_survive_reingest_and_leave_exports,
    unmarking_restores_what_holds_now,
    tlp_raise_and_score_override_hold_through_reingest,
    hand_labels_join_exports_and_their_filter,
    notes_and_local_sightings_are_kept_and_go_with_their_indicator,
    manual_sightings_keep_their_first_author,
    connected_reads_hosts_at_or_below_a_domain_nearest_first,
    recent_indicators_filter_count_and_page_in_the_store,
    item_sightings_filter_count_and_page_in_the_store,
    domains_read_at_or_below_with_their_addresses_and_urls,
    indicator_search_filters_sorts_pages_and_counts_facets,
    item_search_filters_sorts_and_counts_facets,
    saved_searches_are_kept_per_owner,
    bulk_curation_changes_many_in_one_call,
    entities_resolve_link_and_read_within_clearance,
);

fn spec(name: &str) -> SourceSpec {
    SourceSpec {
        name: name.to_owned(),
        kind: "file".to_owned(),
        enabled: true,
        confidence: 70,
        tlp: Tlp::Green,
        tags: vec!["test".to_owned()],
    }
}

fn sighting(kind: IndicatorType, value: &str, at: OffsetDateTime) -> NewSighting {
    NewSighting {
        labels: vec!["botnet".to_owned()],
        ..NewSighting::new(Indicator::parse(kind, value).expect("valid indicator"), at)
    }
}

fn ips(range: std::ops::Range<u32>, at: OffsetDateTime) -> Vec<NewSighting> {
    range
        .map(|i| {
            sighting(
                IndicatorType::Ipv4,
                &format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
                at,
            )
        })
        .collect()
}

async fn source(store: &Arc<dyn Store>, name: &str) -> Source {
    store
        .upsert_source(&spec(name))
        .await
        .expect("upsert source")
}

async fn migrations_are_idempotent(store: Arc<dyn Store>) {
    assert_eq!(
        store.migrate().await.unwrap(),
        0,
        "second migrate applies nothing"
    );
}

async fn stix_namespace_is_made_once(store: Arc<dyn Store>) {
    let ns = store.stix_namespace().await.unwrap();
    assert_ne!(ns, 0);
    store.migrate().await.unwrap();
    assert_eq!(store.stix_namespace().await.unwrap(), ns, "kept");
}

/// Two installations draw their STIX ids from different namespaces.
#[tokio::test]
async fn stix_namespaces_differ_between_installations() {
    let a = sqlite().await.unwrap();
    let b = sqlite().await.unwrap();
    assert_ne!(
        a.store.stix_namespace().await.unwrap(),
        b.store.stix_namespace().await.unwrap()
    );
    a.cleanup().await;
    b.cleanup().await;
}

async fn stored_exports_create_rename_and_delete(store: Arc<dyn Store>) {
    use rexist_store::ErrorKind;
    use serde_json::json;
    assert!(store.list_stored_exports().await.unwrap().is_empty());
    let def = json!({"name": "fw", "format": "edl", "types": ["ipv4"], "note": "日本語 \u{0}"});
    let fw = store
        .create_stored_export("fw", &def, "alice")
        .await
        .unwrap();
    assert_eq!(fw.name, "fw");
    assert_eq!(
        fw.definition, def,
        "kept as given, NUL in a string included"
    );
    assert_eq!(
        (fw.created_by.as_str(), fw.updated_by.as_str()),
        ("alice", "alice")
    );
    assert_eq!(fw.created_at, fw.updated_at);
    assert_eq!(store.stored_export("fw").await.unwrap(), Some(fw.clone()));
    assert_eq!(
        store.stored_export("FW").await.unwrap(),
        None,
        "names are exact"
    );
    assert_eq!(store.stored_export("f\0w").await.unwrap(), None);

    // A taken name is a conflict, and the first definition stays.
    let e = store
        .create_stored_export("fw", &json!({"name": "fw", "format": "csv"}), "bob")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(e.to_string().contains("\"fw\""), "{e}");
    assert_eq!(
        store.stored_export("fw").await.unwrap().unwrap().definition,
        def
    );
    let e = store
        .create_stored_export("x", &json!(["not", "an", "object"]), "bob")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    store
        .create_stored_export("a-list", &json!({"name": "a-list", "format": "csv"}), "bob")
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_stored_exports()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["a-list", "fw"], "by name");

    // Update in place, then rename; renaming onto a taken name is refused.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let def2 = json!({"name": "fw", "format": "edl", "min_score": 70});
    let fw2 = store
        .update_stored_export("fw", "fw", &def2, "carol")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fw2.definition, def2);
    assert_eq!(
        (fw2.created_by.as_str(), fw2.updated_by.as_str()),
        ("alice", "carol")
    );
    assert_eq!(fw2.created_at, fw.created_at);
    assert!(fw2.updated_at > fw.updated_at);
    let e = store
        .update_stored_export("fw", "a-list", &def2, "carol")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let renamed = store
        .update_stored_export(
            "fw",
            "edl-high",
            &json!({"name": "edl-high", "format": "edl"}),
            "carol",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "edl-high");
    assert_eq!(store.stored_export("fw").await.unwrap(), None);
    assert_eq!(
        store
            .update_stored_export("nope", "nope", &def2, "carol")
            .await
            .unwrap(),
        None
    );

    assert!(store.delete_stored_export("edl-high").await.unwrap());
    assert!(!store.delete_stored_export("edl-high").await.unwrap());
    assert_eq!(store.list_stored_exports().await.unwrap().len(), 1);
    // Kept across a restart's migrations.
    store.migrate().await.unwrap();
    assert!(store.stored_export("a-list").await.unwrap().is_some());
}

async fn sources_register_and_toggle(store: Arc<dyn Store>) {
    let a = source(&store, "alpha").await;
    assert_eq!(a.name, "alpha");
    assert_eq!(a.tlp, Tlp::Green);
    assert_eq!(a.tags, vec!["test"]);
    let mut changed = spec("alpha");
    changed.confidence = 20;
    let again = store.upsert_source(&changed).await.unwrap();
    assert_eq!(again.id, a.id, "same name, same source");
    assert_eq!(again.confidence, 20);
    source(&store, "beta").await;
    let names: Vec<String> = store
        .list_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(store.set_source_enabled("beta", false).await.unwrap());
    assert!(!store.set_source_enabled("nope", false).await.unwrap());
    assert!(!store.source_by_name("beta").await.unwrap().unwrap().enabled);
    assert_eq!(store.source(a.id).await.unwrap().unwrap().name, "alpha");
    assert!(store.source_by_name("gamma").await.unwrap().is_none());
}

async fn runs_record_counts_health_and_cursor(store: Arc<dyn Store>) {
    let s = source(&store, "feed").await;
    let run = store.start_run(s.id).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Running);
    let mut counts = RunCounts {
        parsed: 10,
        new: 7,
        ..RunCounts::default()
    };
    counts.reject("invalid ipv4: not a dotted-quad IPv4 address");
    let done = store
        .finish_run(run.id, RunOutcome::Success, &counts, Some("etag-1"), None)
        .await
        .unwrap();
    assert_eq!(done.counts, counts);
    assert!(done.finished_at.is_some());
    let health = store.source(s.id).await.unwrap().unwrap().health;
    assert!(health.last_success_at.is_some());
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(
        health.first_run_at,
        Some(run.started_at),
        "first run's start"
    );

    for _ in 0..2 {
        let r = store.start_run(s.id).await.unwrap();
        store
            .finish_run(
                r.id,
                RunOutcome::Failed,
                &RunCounts::default(),
                None,
                Some("HTTP 500"),
            )
            .await
            .unwrap();
    }
    let health = store.source(s.id).await.unwrap().unwrap().health;
    assert_eq!(health.consecutive_failures, 2);
    assert_eq!(health.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(
        store.last_cursor(s.id).await.unwrap().as_deref(),
        Some("etag-1"),
        "failed runs keep the cursor"
    );

    let runs = store.list_runs(Some(s.id), None, 2).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].id > runs[1].id, "newest first");
    let older = store
        .list_runs(Some(s.id), Some(runs[1].id), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].cursor.as_deref(), Some("etag-1"));

    let r = store.start_run(s.id).await.unwrap();
    store
        .finish_run(r.id, RunOutcome::Success, &RunCounts::default(), None, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .source(s.id)
            .await
            .unwrap()
            .unwrap()
            .health
            .consecutive_failures,
        0
    );
}

async fn reingest_adds_no_sighting_and_moves_last_seen(store: Arc<dyn Store>) {
    let s = source(&store, "blocklist").await;
    let t0 = now() - time::Duration::hours(2);
    let batch = ips(0..500, t0);
    let first = store.upsert_sightings(&s, &batch).await.unwrap();
    assert_eq!(
        (first.new, first.unchanged, first.new_indicators),
        (500, 0, 500)
    );

    let t1 = now();
    let again = store.upsert_sightings(&s, &ips(0..500, t1)).await.unwrap();
    assert_eq!(
        (again.new, again.unchanged, again.new_indicators),
        (0, 500, 0)
    );

    let rec = store
        .indicator(IndicatorType::Ipv4, "10.0.0.7")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(rec.sightings, 1, "re-ingest adds no sighting");
    assert_eq!(rec.first_seen, t0);
    assert_eq!(rec.last_seen, t1, "re-ingest moves last_seen");
    assert_eq!(rec.tlp, Tlp::Green, "source default TLP");
    assert_eq!(rec.score, 70, "source default confidence");
    let sightings = store.sightings_of(rec.id).await.unwrap();
    assert_eq!(sightings.len(), 1);
    assert_eq!((sightings[0].first_seen, sightings[0].last_seen), (t0, t1));
    assert_eq!(sightings[0].labels, vec!["botnet"]);
    assert!(sightings[0].listed);

    // An older re-sighting does not move last_seen backwards.
    store.upsert_sightings(&s, &ips(7..8, t0)).await.unwrap();
    let rec = store
        .indicator(IndicatorType::Ipv4, "10.0.0.7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.last_seen, t1);

    // Another source makes a second sighting of the same indicator.
    let other = source(&store, "other").await;
    let second = store
        .upsert_sightings(&other, &ips(7..8, t1))
        .await
        .unwrap();
    assert_eq!((second.new, second.new_indicators), (1, 0));
    let rec = store
        .indicator(IndicatorType::Ipv4, "10.0.0.7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.sightings, 2);

    // Duplicates inside one batch count once.
    let dup = vec![
        sighting(IndicatorType::Domain, "dup.example", t1),
        sighting(IndicatorType::Domain, "dup.example", t1),
    ];
    let d = store.upsert_sightings(&s, &dup).await.unwrap();
    assert_eq!((d.new, d.unchanged, d.new_indicators), (1, 1, 1));
}

async fn indicators_filter_and_page(store: Arc<dyn Store>) {
    let s = source(&store, "mixed").await;
    let t = now();
    let mut batch = ips(0..120, t);
    for d in [
        "evil.com",
        "a.evil.com",
        "b.evil.com",
        "evil.org",
        "benign.net",
    ] {
        batch.push(sighting(IndicatorType::Domain, d, t));
    }
    batch.push(sighting(IndicatorType::Url, "http://evil.com/x", t));
    store.upsert_sightings(&s, &batch).await.unwrap();

    let by_type = |kind| IndicatorQuery {
        kind: Some(kind),
        limit: 1000,
        ..IndicatorQuery::default()
    };
    assert_eq!(
        store
            .list_indicators(&by_type(IndicatorType::Domain))
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    assert_eq!(
        store
            .list_indicators(&by_type(IndicatorType::Ipv4))
            .await
            .unwrap()
            .items
            .len(),
        120
    );

    let exact = IndicatorQuery {
        value: Some("evil.org".into()),
        ..IndicatorQuery::default()
    };
    let page = store.list_indicators(&exact).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].kind, IndicatorType::Domain);

    let prefix = IndicatorQuery {
        prefix: Some("evil.".into()),
        ..IndicatorQuery::default()
    };
    let values: Vec<String> = store
        .list_indicators(&prefix)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.value)
        .collect();
    assert_eq!(values, ["evil.com", "evil.org"]);
    let prefix_any = IndicatorQuery {
        prefix: Some("http://evil".into()),
        ..IndicatorQuery::default()
    };
    assert_eq!(
        store
            .list_indicators(&prefix_any)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Paging visits every indicator once, in value order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let q = IndicatorQuery {
            after: after.clone(),
            limit: 17,
            ..IndicatorQuery::default()
        };
        let page = store.list_indicators(&q).await.unwrap();
        seen.extend(page.items.into_iter().map(|i| i.value));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 126);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    let restricted = IndicatorQuery {
        max_tlp: Some(Tlp::Clear),
        ..IndicatorQuery::default()
    };
    assert!(
        store
            .list_indicators(&restricted)
            .await
            .unwrap()
            .items
            .is_empty(),
        "green data hidden from clear-only"
    );

    let bad = IndicatorQuery {
        after: Some("garbage".into()),
        ..IndicatorQuery::default()
    };
    assert!(store.list_indicators(&bad).await.is_err());
}

async fn concurrent_writers_lose_no_update(store: Arc<dyn Store>) {
    let a = source(&store, "writer-a").await;
    let b = source(&store, "writer-b").await;
    let t = now();
    let mut tasks = Vec::new();
    for (src, offset) in [
        (a.clone(), 0u32),
        (b.clone(), 100),
        (a.clone(), 50),
        (b.clone(), 0),
    ] {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let batch = ips(offset..offset + 300, t);
            let mut total = rexist_core::UpsertSummary::default();
            for chunk in batch.chunks(60) {
                total.add(
                    store
                        .upsert_sightings(&src, chunk)
                        .await
                        .expect("concurrent upsert"),
                );
            }
            total
        }));
    }
    let mut new = 0;
    for t in tasks {
        new += t.await.unwrap().new;
    }
    // Source a covers 0..350, source b covers 0..400: 750 distinct sightings.
    assert_eq!(new, 750);
    let q = IndicatorQuery {
        kind: Some(IndicatorType::Ipv4),
        limit: 1000,
        ..IndicatorQuery::default()
    };
    let all = store.list_indicators(&q).await.unwrap().items;
    assert_eq!(all.len(), 400);
    let total: u64 = all.iter().map(|i| i.sightings).sum();
    assert_eq!(total, 750, "every sighting counted exactly once");
}

/// Random batches against an in-memory model of which sightings exist.
async fn random_batches_match_model(store: Arc<dyn Store>) {
    let sources = [source(&store, "m1").await, source(&store, "m2").await];
    let mut model: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let t = now();
    for _ in 0..25 {
        let which = usize::try_from(next() % 2).unwrap();
        let len = next() % 40;
        let batch: Vec<NewSighting> = (0..len)
            .map(|_| {
                sighting(
                    IndicatorType::Domain,
                    &format!("d{}.example", next() % 60),
                    t,
                )
            })
            .collect();
        let mut expected_new = 0;
        for s in &batch {
            if model.insert((which, s.indicator.value().to_owned())) {
                expected_new += 1;
            }
        }
        let got = store
            .upsert_sightings(&sources[which], &batch)
            .await
            .unwrap();
        assert_eq!(got.new, expected_new);
        assert_eq!(got.new + got.unchanged, len);
    }
    let mut per_value: BTreeMap<String, u64> = BTreeMap::new();
    for (_, v) in &model {
        *per_value.entry(v.clone()).or_default() += 1;
    }
    for (value, count) in per_value {
        let rec = store
            .indicator(IndicatorType::Domain, &value)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.sightings, count, "{value}");
    }
}

fn item(id: &str, title: &str, body: &str) -> NewItem {
    NewItem {
        kind: ItemKind::News,
        external_id: id.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        url: Some(format!("https://news.example/{id}")),
        lang: Some("en".to_owned()),
        published_at: Some(now()),
        tlp: Tlp::Clear,
        tags: vec!["news".to_owned()],
        extra: serde_json::json!({"author": "someone"}),
    }
}

async fn items_upsert_and_full_text(store: Arc<dyn Store>) {
    let s = source(&store, "news").await;
    let items = vec![
        item(
            "1",
            "Log4Shell exploited",
            "Attackers exploit CVE-2021-44228 in Apache Log4j.",
        ),
        item(
            "2",
            "Ransomware wave",
            "A new ransomware family encrypts NAS devices.",
        ),
        item(
            "3",
            "Phishing kit",
            "Kit targets Office365 logins via evil.com lures.",
        ),
    ];
    let changes = store.upsert_items(s.id, &items).await.unwrap();
    assert!(changes.iter().all(|c| matches!(c, ItemChange::New(_))));
    let again = store.upsert_items(s.id, &items).await.unwrap();
    assert!(again.iter().all(|c| matches!(c, ItemChange::Unchanged(_))));
    assert_eq!(again[0].id(), changes[0].id());

    let search = |text: &str| ItemQuery {
        text: Some(text.to_owned()),
        ..ItemQuery::default()
    };
    let titles = |page: rexist_store::Page<rexist_core::Item>| -> Vec<String> {
        page.items.into_iter().map(|i| i.content.title).collect()
    };
    assert_eq!(
        titles(store.search_items(&search("log4j")).await.unwrap()),
        ["Log4Shell exploited"]
    );
    assert_eq!(
        titles(store.search_items(&search("CVE-2021-44228")).await.unwrap()),
        ["Log4Shell exploited"]
    );
    assert_eq!(
        titles(store.search_items(&search("evil.com")).await.unwrap()),
        ["Phishing kit"]
    );
    assert_eq!(
        titles(store.search_items(&search("ransom*")).await.unwrap()),
        ["Ransomware wave"]
    );
    assert!(
        store
            .search_items(&search("ransomware log4j"))
            .await
            .unwrap()
            .items
            .is_empty(),
        "terms are ANDed"
    );
    assert!(
        store
            .search_items(&search("\" OR ( *"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // An update replaces the indexed text.
    let mut changed = items[1].clone();
    "Now it targets routers.".clone_into(&mut changed.body);
    let upd = store.upsert_items(s.id, &[changed]).await.unwrap();
    assert_eq!(upd, vec![ItemChange::Updated(changes[1].id())]);
    assert!(
        store
            .search_items(&search("NAS"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        titles(store.search_items(&search("routers")).await.unwrap()),
        ["Ransomware wave"]
    );
    let stored = store.item(changes[1].id()).await.unwrap().unwrap();
    assert_eq!(
        stored.content.extra,
        serde_json::json!({"author": "someone"})
    );
    assert!(stored.updated_at >= stored.created_at);

    // Newest first, paged.
    let first = store
        .search_items(&ItemQuery {
            limit: 2,
            ..ItemQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let before = first.next.as_deref().unwrap().parse().unwrap();
    let rest = store
        .search_items(&ItemQuery {
            before: Some(before),
            ..ItemQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    let vulns = ItemQuery {
        kind: Some(ItemKind::Vuln),
        ..ItemQuery::default()
    };
    assert!(store.search_items(&vulns).await.unwrap().items.is_empty());
}

async fn japanese_words_found_inside_sentences(store: Arc<dyn Store>) {
    let s = source(&store, "jvn").await;
    let mut ja = item(
        "jvn-1",
        "Apache Struts 2 における脆弱性",
        "攻撃者はこの製品の脆弱性を悪用し、任意のコードを実行する可能性があります。",
    );
    ja.lang = Some("ja".to_owned());
    let other = item("en-1", "Patch Tuesday", "Nothing Japanese here.");
    store.upsert_items(s.id, &[ja, other]).await.unwrap();
    for q in ["脆弱性", "悪用", "任意のコード", "Struts 脆弱性", "脆"] {
        let page = store
            .search_items(&ItemQuery {
                text: Some(q.to_owned()),
                ..ItemQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "query {q}");
        assert_eq!(page.items[0].content.external_id, "jvn-1");
    }
    let none = store
        .search_items(&ItemQuery {
            text: Some("脆弱化".to_owned()),
            ..ItemQuery::default()
        })
        .await
        .unwrap();
    assert!(none.items.is_empty());

    // Alternatives: a comma or the word OR, as in hunts.
    for (q, want) in [
        ("log4j OR 脆弱性", vec!["jvn-1"]),
        ("Patch Tuesday, 脆弱化", vec!["en-1"]),
        ("log4j OR 脆弱性, patch", vec!["en-1", "jvn-1"]),
        ("log4j OR absent", vec![]),
    ] {
        let page = store
            .search_items(&ItemQuery {
                text: Some(q.to_owned()),
                ..ItemQuery::default()
            })
            .await
            .unwrap();
        let mut got: Vec<&str> = page
            .items
            .iter()
            .map(|i| i.content.external_id.as_str())
            .collect();
        got.sort_unstable();
        assert_eq!(got, want, "query {q}");
    }
}

async fn mentions_link_items_and_indicators(store: Arc<dyn Store>) {
    let s = source(&store, "blog").await;
    let ids = store
        .upsert_items(
            s.id,
            &[item("m1", "IOC dump", "C2 at 192.0.2.7 and evil.com")],
        )
        .await
        .unwrap();
    let item_id = ids[0].id();
    let mention = |kind, value: &str, start, end| Mention {
        indicator: Indicator::parse(kind, value).unwrap(),
        start,
        end,
        defanged: false,
    };
    let mentions = vec![
        mention(IndicatorType::Ipv4, "192.0.2.7", 6, 15),
        mention(IndicatorType::Domain, "evil.com", 20, 28),
    ];
    let first = store.record_mentions(&s, item_id, &mentions).await.unwrap();
    assert_eq!((first.new, first.new_indicators), (2, 2));
    let again = store.record_mentions(&s, item_id, &mentions).await.unwrap();
    assert_eq!((again.new, again.unchanged), (0, 2));
    let rec = store
        .indicator(IndicatorType::Domain, "evil.com")
        .await
        .unwrap()
        .unwrap();
    let sightings = store.sightings_of(rec.id).await.unwrap();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].item_id, Some(item_id));
    // The same indicator in a feed (no item) is a separate sighting.
    let feed = store
        .upsert_sightings(&s, &[sighting(IndicatorType::Domain, "evil.com", now())])
        .await
        .unwrap();
    assert_eq!(feed.new, 1);
    assert_eq!(store.sightings_of(rec.id).await.unwrap().len(), 2);
}

async fn job_queue_leases(store: Arc<dyn Store>) {
    let job = |key: Option<&str>| NewJob {
        kind: "source.run".to_owned(),
        payload: r#"{"source":"x"}"#.to_owned(),
        dedup_key: key.map(str::to_owned),
        delay: Duration::ZERO,
    };
    let id = store
        .enqueue_job(&job(Some("run:x")))
        .await
        .unwrap()
        .expect("queued");
    assert!(
        store
            .enqueue_job(&job(Some("run:x")))
            .await
            .unwrap()
            .is_none(),
        "deduplicated"
    );
    assert!(
        store
            .lease_job("w1", &["other.kind"], Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    let leased = store
        .lease_job("w1", &["source.run"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((leased.id, leased.attempts), (id, 1));
    assert!(
        store
            .lease_job("w2", &["source.run"], Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "leased once"
    );
    assert!(
        !store.complete_job(id, "w2").await.unwrap(),
        "only the holder completes"
    );

    // Failing with a retry delay makes it due later, not now.
    assert!(
        store
            .fail_job(id, "w1", "HTTP 503", Some(Duration::from_secs(3600)))
            .await
            .unwrap()
    );
    assert!(
        store
            .lease_job("w2", &["source.run"], Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );

    // An expired lease is taken over by another worker.
    let quick = store
        .enqueue_job(&job(Some("run:y")))
        .await
        .unwrap()
        .unwrap();
    let l1 = store
        .lease_job("w1", &["source.run"], Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l1.id, quick);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let l2 = store
        .lease_job("w2", &["source.run"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((l2.id, l2.attempts), (quick, 2));
    assert!(
        !store.complete_job(quick, "w1").await.unwrap(),
        "the old holder lost its lease"
    );
    assert!(store.complete_job(quick, "w2").await.unwrap());
    assert!(
        store
            .enqueue_job(&job(Some("run:y")))
            .await
            .unwrap()
            .is_some(),
        "a completed key is free again"
    );

    // Failed for good frees the key too.
    let l3 = store
        .lease_job("w3", &["source.run"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(store.fail_job(l3.id, "w3", "gave up", None).await.unwrap());
    assert!(
        store
            .enqueue_job(&job(Some("run:y")))
            .await
            .unwrap()
            .is_some()
    );
}

async fn stale_runs_are_interrupted_and_live_ones_kept(store: Arc<dyn Store>) {
    let s = source(&store, "swept").await;
    let dead = store.start_run(s.id).await.unwrap();
    let live = store.start_run(s.id).await.unwrap();
    let committed = RunCounts {
        parsed: 40_000,
        new: 39_000,
        unchanged: 1000,
        ..RunCounts::default()
    };
    assert!(store.heartbeat_run(dead.id, &committed).await.unwrap());
    // Wide margins: a loaded CI machine may pause for a few hundred ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The live run's process beats again; the dead one's does not.
    assert!(
        store
            .heartbeat_run(live.id, &RunCounts::default())
            .await
            .unwrap()
    );
    let swept = store
        .interrupt_stale_runs(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    let run = &swept[0];
    assert_eq!((run.id, run.outcome), (dead.id, RunOutcome::Interrupted));
    assert_eq!(run.counts, committed, "the counts of its last heartbeat");
    assert!(run.finished_at.is_some());
    assert!(run.cursor.is_none());
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("heartbeat"),
        "{:?}",
        run.error
    );
    let health = store.source(s.id).await.unwrap().unwrap().health;
    assert_eq!(health.consecutive_failures, 0, "not counted as a failure");
    assert!(health.last_success_at.is_none(), "nor as a success");
    // A swept run takes no more heartbeats, and a second sweep finds nothing.
    assert!(
        !store
            .heartbeat_run(dead.id, &RunCounts::default())
            .await
            .unwrap()
    );
    assert!(
        store
            .interrupt_stale_runs(Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store.list_runs(Some(s.id), None, 10).await.unwrap();
    let outcomes: Vec<RunOutcome> = listed.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [RunOutcome::Running, RunOutcome::Interrupted]);

    // A process that was only slow still records how its run really ended.
    let done = store
        .finish_run(dead.id, RunOutcome::Success, &committed, Some("etag"), None)
        .await
        .unwrap();
    assert_eq!(done.outcome, RunOutcome::Success);
    // Interrupting on purpose (a shutdown) leaves the failure count alone too.
    store
        .finish_run(
            live.id,
            RunOutcome::Interrupted,
            &RunCounts::default(),
            None,
            Some("interrupted: shutting down"),
        )
        .await
        .unwrap();
    let health = store.source(s.id).await.unwrap().unwrap().health;
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(
        store.last_cursor(s.id).await.unwrap().as_deref(),
        Some("etag")
    );
}

async fn job_leases_renew_and_hand_back(store: Arc<dyn Store>) {
    let job = NewJob {
        kind: "source.run".to_owned(),
        payload: r#"{"source":"x"}"#.to_owned(),
        dedup_key: Some("source:x".to_owned()),
        delay: Duration::ZERO,
    };
    let id = store.enqueue_job(&job).await.unwrap().expect("queued");
    let leased = store
        .lease_job("w1", &["source.run"], Duration::from_millis(1500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((leased.id, leased.attempts), (id, 1));
    // Renewed before it runs out, the lease outlives its first term.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            store
                .renew_job(id, "w1", Duration::from_millis(1500))
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .lease_job("w2", &["source.run"], Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "a renewed lease holds"
    );
    assert!(
        !store
            .renew_job(id, "w2", Duration::from_secs(60))
            .await
            .unwrap(),
        "only the holder renews"
    );
    assert!(!store.release_job(id, "w2").await.unwrap());
    // Handed back, it is due at once for anyone, the attempt not counted.
    assert!(store.release_job(id, "w1").await.unwrap());
    assert!(!store.release_job(id, "w1").await.unwrap(), "once");
    assert!(
        store.enqueue_job(&job).await.unwrap().is_none(),
        "still queued under its key"
    );
    let again = store
        .lease_job("w2", &["source.run"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (id, 1));
    // A lease not renewed runs out and the job goes to another worker.
    assert!(
        store
            .renew_job(id, "w2", Duration::from_millis(1))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store
        .lease_job("w3", &["source.run"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, id);
    assert!(
        !store
            .renew_job(id, "w2", Duration::from_secs(60))
            .await
            .unwrap()
    );
}

async fn stats_count_everything(store: Arc<dyn Store>) {
    let s = source(&store, "stats").await;
    let t = now();
    let mut batch = ips(0..3, t);
    batch.push(sighting(IndicatorType::Sha256, &"a".repeat(64), t));
    store.upsert_sightings(&s, &batch).await.unwrap();
    store
        .upsert_items(s.id, &[item("s1", "t", "b")])
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats.indicators_by_type,
        vec![("ipv4".to_owned(), 3), ("sha256".to_owned(), 1)]
    );
    assert_eq!(stats.items_by_kind, vec![("news".to_owned(), 1)]);
    assert_eq!((stats.sightings, stats.sources), (4, 1));
}

async fn relations_link_indicators_once(store: Arc<dyn Store>) {
    let s = source(&store, "pdns").await;
    let t0 = now() - time::Duration::days(1);
    let t1 = now();
    let rel = |from: &str, to: &str, at| NewRelation {
        from: Indicator::parse(IndicatorType::Domain, from).unwrap(),
        to: Indicator::parse(IndicatorType::Ipv4, to).unwrap(),
        kind: "resolves-to".to_owned(),
        seen_at: at,
    };
    let first = store
        .add_relations(
            &s,
            &[
                rel("c2.example", "192.0.2.1", t0),
                rel("c2.example", "192.0.2.2", t0),
            ],
        )
        .await
        .unwrap();
    assert_eq!(first, 2);
    // Stating the same relation again (twice in one batch) adds nothing and moves last_seen.
    let again = store
        .add_relations(
            &s,
            &[
                rel("c2.example", "192.0.2.1", t1),
                rel("c2.example", "192.0.2.1", t1),
            ],
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
    let domain = store
        .indicator(IndicatorType::Domain, "c2.example")
        .await
        .unwrap()
        .expect("end stored");
    assert_eq!(
        domain.sightings, 1,
        "stating relations is one sighting of each end"
    );
    let relations = store.relations_of(domain.id).await.unwrap();
    assert_eq!(relations.len(), 2);
    assert_eq!((relations[0].first_seen, relations[0].last_seen), (t0, t1));
    let ip = store
        .indicator(IndicatorType::Ipv4, "192.0.2.2")
        .await
        .unwrap()
        .unwrap();
    let back = store.relations_of(ip.id).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].from, back[0].to), (domain.id, ip.id));
    assert_eq!(back[0].kind, "resolves-to");
}

/// Batches larger than one statement, overlapping and in opposite orders: each
/// writer must still lock rows in one global order, or PostgreSQL aborts one.
async fn large_overlapping_batches_do_not_deadlock(store: Arc<dyn Store>) {
    let a = source(&store, "big-a").await;
    let b = source(&store, "big-b").await;
    let t = now();
    let forward = ips(0..24_000, t);
    let mut backward = forward.clone();
    backward.reverse();
    let mut tasks = Vec::new();
    for (src, batch) in [
        (a.clone(), forward.clone()),
        (b.clone(), backward.clone()),
        (b, forward),
        (a, backward),
    ] {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.upsert_sightings(&src, &batch).await
        }));
    }
    let mut new = 0;
    for task in tasks {
        new += task
            .await
            .unwrap()
            .expect("no deadlock between concurrent writers")
            .new;
    }
    assert_eq!(
        new, 48_000,
        "each of the two sources sights each address once"
    );
}

async fn snapshot_leavers_are_unlisted_not_deleted(store: Arc<dyn Store>) {
    let s = source(&store, "snapshot").await;
    let other = source(&store, "other-feed").await;
    let t0 = now() - time::Duration::hours(1);
    store.upsert_sightings(&s, &ips(0..3, t0)).await.unwrap();
    store
        .upsert_sightings(&other, &ips(0..3, t0))
        .await
        .unwrap();
    // The next snapshot lists only 10.0.0.0 and 10.0.0.1.
    let t1 = now();
    store.upsert_sightings(&s, &ips(0..2, t1)).await.unwrap();
    assert_eq!(store.mark_unlisted(s.id, t1).await.unwrap(), 1);
    let gone = store
        .indicator(IndicatorType::Ipv4, "10.0.0.2")
        .await
        .unwrap()
        .expect("kept");
    let by_source: Vec<(rexist_core::SourceId, bool)> = store
        .sightings_of(gone.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.source_id, x.listed))
        .collect();
    assert!(by_source.contains(&(s.id, false)), "{by_source:?}");
    assert!(
        by_source.contains(&(other.id, true)),
        "another source's listing is untouched"
    );
    assert_eq!(
        store.mark_unlisted(s.id, t1).await.unwrap(),
        0,
        "idempotent"
    );
    // Listed again when it comes back.
    store.upsert_sightings(&s, &ips(2..3, now())).await.unwrap();
    let back = store.sightings_of(gone.id).await.unwrap();
    assert!(back.iter().all(|x| x.listed));
}

fn hunt_spec(name: &str, channels: &[&str], digest: Option<u64>) -> HuntSpec {
    HuntSpec {
        name: name.to_owned(),
        kind: HuntKind::Query,
        definition: "lockbit, \"black basta\"".to_owned(),
        enabled: true,
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        digest_secs: digest,
        tlp: HuntSpec::DEFAULT_TLP,
    }
}

/// Stores `n` items and returns their ids.
async fn some_items(store: &Arc<dyn Store>, n: usize) -> Vec<rexist_core::ItemId> {
    let s = source(store, "news").await;
    let items: Vec<NewItem> = (0..n)
        .map(|i| item(&i.to_string(), &format!("story {i}"), "lockbit again"))
        .collect();
    store
        .upsert_items(s.id, &items)
        .await
        .unwrap()
        .into_iter()
        .map(ItemChange::id)
        .collect()
}

fn hit(hunt: rexist_core::HuntId, item: rexist_core::ItemId, retro: bool) -> NewHit {
    NewHit {
        hunt,
        object: HitObject::Item(item),
        terms: vec!["lockbit".to_owned()],
        retro,
    }
}

async fn hunts_create_update_delete(store: Arc<dyn Store>) {
    let rev0 = store.hunts_revision().await.unwrap();
    let h = store
        .create_hunt(&hunt_spec("ransom", &["soc"], None))
        .await
        .unwrap();
    assert_eq!(h.spec.channels, vec!["soc".to_owned()]);
    assert_eq!(h.spec.kind, HuntKind::Query);
    let rev1 = store.hunts_revision().await.unwrap();
    assert_ne!(rev0, rev1);
    let dup = store
        .create_hunt(&hunt_spec("ransom", &[], None))
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    assert!(dup.to_string().contains("ransom"), "{dup}");

    let mut spec = h.spec.clone();
    spec.enabled = false;
    spec.digest_secs = Some(3600);
    let updated = store.update_hunt(h.id, &spec).await.unwrap().unwrap();
    assert!(!updated.spec.enabled);
    assert_eq!(updated.spec.digest_secs, Some(3600));
    let rev2 = store.hunts_revision().await.unwrap();
    assert_ne!(rev1, rev2, "an update changes the revision");
    assert_eq!(
        store.hunt_by_name("ransom").await.unwrap().unwrap().id,
        h.id
    );
    assert_eq!(store.hunt(h.id).await.unwrap().unwrap().spec, spec);

    let other = store
        .create_hunt(&hunt_spec("other", &[], None))
        .await
        .unwrap();
    let clash = store.update_hunt(other.id, &spec).await.unwrap_err();
    assert_eq!(clash.kind(), ErrorKind::Conflict);
    let names: Vec<String> = store
        .list_hunts()
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.spec.name)
        .collect();
    assert_eq!(names, ["other", "ransom"]);

    let items = some_items(&store, 1).await;
    store
        .record_hits(&[hit(other.id, items[0], false)])
        .await
        .unwrap();
    assert!(store.delete_hunt(other.id).await.unwrap());
    assert!(!store.delete_hunt(other.id).await.unwrap());
    assert!(store.hunt(other.id).await.unwrap().is_none());
    let left = store.list_hits(&HitQuery::default()).await.unwrap();
    assert!(left.items.is_empty(), "hits go with their hunt");
    assert_ne!(store.hunts_revision().await.unwrap(), rev2);
}

async fn hunts_keep_their_tlp_and_hide_hits_and_alerts_above_a_clearance(store: Arc<dyn Store>) {
    let items = some_items(&store, 2).await;
    let amber = store
        .create_hunt(&hunt_spec("amber", &["soc"], None))
        .await
        .unwrap();
    assert_eq!(amber.spec.tlp, Tlp::Amber, "the default is AMBER");
    let red = store
        .create_hunt(&HuntSpec {
            tlp: Tlp::Red,
            ..hunt_spec("red", &["soc"], None)
        })
        .await
        .unwrap();
    assert_eq!(
        store.hunt(red.id).await.unwrap().unwrap().spec.tlp,
        Tlp::Red
    );
    assert_eq!(
        store.hunt_by_name("red").await.unwrap().unwrap().spec.tlp,
        Tlp::Red
    );
    store
        .record_hits(&[hit(amber.id, items[0], false), hit(red.id, items[1], false)])
        .await
        .unwrap();

    let hunts_of = |hits: Vec<HuntHit>| hits.into_iter().map(|h| h.hunt_id).collect::<Vec<_>>();
    let all = store.list_hits(&HitQuery::default()).await.unwrap();
    assert_eq!(hunts_of(all.items), [red.id, amber.id], "no clearance: all");
    for (clearance, seen) in [
        (Tlp::Green, vec![]),
        (Tlp::Amber, vec![amber.id]),
        (Tlp::AmberStrict, vec![amber.id]),
        (Tlp::Red, vec![red.id, amber.id]),
    ] {
        let hits = store
            .list_hits(&HitQuery {
                max_tlp: Some(clearance),
                ..HitQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(hunts_of(hits.items), seen, "hits cleared to {clearance}");
        let alerts = store
            .list_alerts(&AlertQuery {
                max_tlp: Some(clearance),
                ..AlertQuery::default()
            })
            .await
            .unwrap();
        let alert_hunts: Vec<_> = alerts.items.iter().map(|a| a.hunt_id).collect();
        assert_eq!(alert_hunts, seen, "alerts cleared to {clearance}");
    }

    // Lowering a hunt's TLP shows it to the readers it now admits.
    let lowered = store
        .update_hunt(
            red.id,
            &HuntSpec {
                tlp: Tlp::Green,
                ..red.spec.clone()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lowered.spec.tlp, Tlp::Green);
    let green = store
        .list_hits(&HitQuery {
            max_tlp: Some(Tlp::Green),
            ..HitQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(hunts_of(green.items), [red.id]);
}

async fn hits_are_stored_once_with_their_alerts(store: Arc<dyn Store>) {
    let items = some_items(&store, 3).await;
    let loud = store
        .create_hunt(&hunt_spec("loud", &["slack", "mail"], None))
        .await
        .unwrap();
    let quiet = store
        .create_hunt(&hunt_spec("quiet", &[], None))
        .await
        .unwrap();
    let first = store
        .record_hits(&[
            hit(loud.id, items[0], false),
            hit(loud.id, items[1], false),
            hit(quiet.id, items[0], false),
        ])
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].object, HitObject::Item(items[0]));
    // the same pairs again, plus one new: only the new one is stored
    let again = store
        .record_hits(&[hit(loud.id, items[0], false), hit(loud.id, items[2], false)])
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].object, HitObject::Item(items[2]));

    // one alert per hit per channel of the hunt; none for the quiet hunt
    let alerts = store.list_alerts(&AlertQuery::default()).await.unwrap();
    assert_eq!(alerts.items.len(), 6);
    assert!(alerts.items.iter().all(|a| a.hunt_id == loud.id
        && a.status == AlertStatus::Pending
        && !a.digest
        && a.hits.len() == 1
        && a.total_hits == 1));
    let slack = store
        .list_alerts(&AlertQuery {
            channel: Some("slack".to_owned()),
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(slack.items.len(), 3);
    let by_id = store.hits_by_id(&[again[0].id, first[0].id]).await.unwrap();
    assert_eq!(by_id.len(), 2);
    assert!(by_id[0].id < by_id[1].id);

    let unknown = store
        .record_hits(&[hit(rexist_core::HuntId::new(9999), items[0], false)])
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound);
}

async fn digests_and_retro_hits_collect_later(store: Arc<dyn Store>) {
    let items = some_items(&store, 60).await;
    let digest = store
        .create_hunt(&hunt_spec("daily", &["slack"], Some(86_400)))
        .await
        .unwrap();
    let hits: Vec<NewHit> = items.iter().map(|&i| hit(digest.id, i, false)).collect();
    assert_eq!(store.record_hits(&hits).await.unwrap().len(), 60);
    assert!(
        store
            .list_alerts(&AlertQuery::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "a digest hunt alerts only when its digest is queued"
    );
    assert_eq!(store.queue_digest(digest.id, false).await.unwrap(), 60);
    let alerts = store
        .list_alerts(&AlertQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].digest);
    assert_eq!(alerts[0].total_hits, 60);
    assert_eq!(alerts[0].hits.len(), 50, "the listed hits are capped");
    assert!(
        store
            .hunt(digest.id)
            .await
            .unwrap()
            .unwrap()
            .last_digest_at
            .is_some()
    );
    // nothing new: no second digest
    assert_eq!(store.queue_digest(digest.id, false).await.unwrap(), 0);
    assert_eq!(
        store
            .list_alerts(&AlertQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // retro hits of an immediate hunt wait for the retro summary
    let now_hunt = store
        .create_hunt(&hunt_spec("now", &["slack"], None))
        .await
        .unwrap();
    let retro: Vec<NewHit> = items[..5]
        .iter()
        .map(|&i| hit(now_hunt.id, i, true))
        .collect();
    let stored = store.record_hits(&retro).await.unwrap();
    assert!(stored.iter().all(|h| h.retro));
    assert_eq!(
        store
            .list_alerts(&AlertQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(store.queue_digest(now_hunt.id, false).await.unwrap(), 0);
    assert_eq!(store.queue_digest(now_hunt.id, true).await.unwrap(), 5);
    let alerts = store
        .list_alerts(&AlertQuery {
            hunt: Some(now_hunt.id),
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].total_hits, 5);
}

async fn alert_outbox_leases_retries_and_fails(store: Arc<dyn Store>) {
    let items = some_items(&store, 2).await;
    let h = store
        .create_hunt(&hunt_spec("h", &["hook"], None))
        .await
        .unwrap();
    store
        .record_hits(&[hit(h.id, items[0], false), hit(h.id, items[1], false)])
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    assert!(
        store
            .lease_alert("w1", &["other"], lease)
            .await
            .unwrap()
            .is_none()
    );
    let a = store
        .lease_alert("w1", &["hook"], lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.attempts, 1);
    let b = store
        .lease_alert("w2", &["hook"], lease)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.id, b.id, "a leased alert is not handed out twice");
    assert!(
        store
            .lease_alert("w3", &["hook"], lease)
            .await
            .unwrap()
            .is_none()
    );

    // a lost lease cannot complete
    assert!(!store.complete_alert(a.id, "w2").await.unwrap());
    assert!(store.complete_alert(a.id, "w1").await.unwrap());
    assert!(!store.complete_alert(a.id, "w1").await.unwrap());

    // retry later, then immediately due again
    assert!(
        store
            .fail_alert(b.id, "w2", "HTTP 500", Some(Duration::from_secs(3600)))
            .await
            .unwrap()
    );
    assert!(
        store
            .lease_alert("w2", &["hook"], lease)
            .await
            .unwrap()
            .is_none()
    );
    let health = store.channel_health().await.unwrap();
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].channel, "hook");
    assert_eq!(
        (health[0].pending, health[0].sent, health[0].failed),
        (1, 1, 0)
    );
    assert_eq!(health[0].last_error.as_deref(), Some("HTTP 500"));

    // not under this worker's lease any more: nothing changes
    assert!(!store.fail_alert(b.id, "w2", "x", None).await.unwrap());

    // an expired lease is taken back by another worker; a permanent failure ends it
    let h2 = store
        .create_hunt(&hunt_spec("h2", &["hook2"], None))
        .await
        .unwrap();
    store
        .record_hits(&[hit(h2.id, items[0], false)])
        .await
        .unwrap();
    let c = store
        .lease_alert("w1", &["hook2"], Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let c2 = store
        .lease_alert("w2", &["hook2"], lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, c2.id);
    assert_eq!(c2.attempts, 2);
    assert!(
        !store.complete_alert(c.id, "w1").await.unwrap(),
        "the crashed worker lost it"
    );
    assert!(
        store
            .fail_alert(c.id, "w2", "HTTP 404", None)
            .await
            .unwrap()
    );
    let failed = store
        .list_alerts(&AlertQuery {
            status: Some(AlertStatus::Failed),
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("HTTP 404"));
    let pending = store
        .list_alerts(&AlertQuery {
            status: Some(AlertStatus::Pending),
            ..AlertQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, b.id);
}

async fn hits_are_triaged_with_history(store: Arc<dyn Store>) {
    use rexist_core::{HitTriage, TriageChange};
    let items = some_items(&store, 3).await;
    let a = store.create_hunt(&hunt_spec("a", &[], None)).await.unwrap();
    let hits: Vec<NewHit> = items.iter().map(|&i| hit(a.id, i, false)).collect();
    let stored = store.record_hits(&hits).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|h| h.triage == HitTriage::New && h.assignee.is_none())
    );

    let take = TriageChange {
        status: Some(HitTriage::InProgress),
        assignee: Some(Some("alice".into())),
        note: Some("looking".into()),
        author: "alice".into(),
    };
    let ids = [stored[0].id, stored[1].id, rexist_core::HitId::new(999_999)];
    assert_eq!(
        store.triage_hits(&ids, &take).await.unwrap(),
        2,
        "unknown ids skipped"
    );
    let mine = store
        .list_hits(&HitQuery {
            assignee: Some("alice".into()),
            ..HitQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 2);
    assert!(mine.items.iter().all(|h| h.triage == HitTriage::InProgress));
    assert!(
        mine.items.iter().all(|h| h.acked_at.is_none()),
        "not done yet"
    );

    // A note alone keeps the state; closing acknowledges; "" unassigns.
    let note = TriageChange {
        note: Some("benign scanner".into()),
        author: "bob".into(),
        ..TriageChange::default()
    };
    store.triage_hits(&[stored[0].id], &note).await.unwrap();
    let close = TriageChange {
        status: Some(HitTriage::FalsePositive),
        assignee: Some(None),
        author: "bob".into(),
        ..TriageChange::default()
    };
    store.triage_hits(&[stored[0].id], &close).await.unwrap();
    let h = &store.hits_by_id(&[stored[0].id]).await.unwrap()[0];
    assert_eq!(h.triage, HitTriage::FalsePositive);
    assert_eq!(h.assignee, None);
    assert_eq!(h.acked_by.as_deref(), Some("bob"));
    let log = store.hit_triage_log(stored[0].id).await.unwrap();
    let steps: Vec<(HitTriage, Option<&str>, Option<&str>, &str)> = log
        .iter()
        .map(|e| {
            (
                e.status,
                e.assignee.as_deref(),
                e.note.as_deref(),
                e.author.as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                HitTriage::InProgress,
                Some("alice"),
                Some("looking"),
                "alice"
            ),
            (
                HitTriage::InProgress,
                Some("alice"),
                Some("benign scanner"),
                "bob"
            ),
            (HitTriage::FalsePositive, None, None, "bob"),
        ]
    );
    let by_state = |t| HitQuery {
        triage: Some(t),
        ..HitQuery::default()
    };
    for (t, n) in [
        (HitTriage::New, 1),
        (HitTriage::InProgress, 1),
        (HitTriage::FalsePositive, 1),
        (HitTriage::Closed, 0),
    ] {
        assert_eq!(
            store.list_hits(&by_state(t)).await.unwrap().items.len(),
            n,
            "{t:?}"
        );
    }
    assert!(store.hit_triage_log(stored[2].id).await.unwrap().is_empty());
}

async fn hits_list_and_acknowledge(store: Arc<dyn Store>) {
    let items = some_items(&store, 5).await;
    let a = store.create_hunt(&hunt_spec("a", &[], None)).await.unwrap();
    let b = store.create_hunt(&hunt_spec("b", &[], None)).await.unwrap();
    let mut hits: Vec<NewHit> = items.iter().map(|&i| hit(a.id, i, false)).collect();
    hits.push(hit(b.id, items[0], false));
    let stored = store.record_hits(&hits).await.unwrap();

    let page1 = store
        .list_hits(&HitQuery {
            hunt: Some(a.id),
            limit: 3,
            ..HitQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.items.len(), 3);
    assert!(
        page1.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let before = page1.next.as_deref().unwrap().parse().unwrap();
    let page2 = store
        .list_hits(&HitQuery {
            hunt: Some(a.id),
            limit: 3,
            before: Some(before),
            ..HitQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.items.len(), 2);
    assert!(page2.next.is_none());

    assert_eq!(
        store
            .ack_hits(&[stored[0].id], None, "alice")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .ack_hits(&[stored[0].id], None, "alice")
            .await
            .unwrap(),
        0
    );
    // an id of another hunt is not acknowledged under this hunt
    assert_eq!(
        store
            .ack_hits(&[stored[5].id], Some(a.id), "bob")
            .await
            .unwrap(),
        0
    );
    let unacked = |hunt| HitQuery {
        hunt,
        acked: Some(false),
        ..HitQuery::default()
    };
    assert_eq!(
        store
            .list_hits(&unacked(Some(a.id)))
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert_eq!(store.ack_hits(&[], Some(a.id), "bob").await.unwrap(), 4);
    assert_eq!(
        store.list_hits(&unacked(None)).await.unwrap().items.len(),
        1
    );
    let acked = store
        .list_hits(&HitQuery {
            acked: Some(true),
            ..HitQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(acked.len(), 5);
    let first = acked.iter().find(|h| h.id == stored[0].id).unwrap();
    assert_eq!(first.acked_by.as_deref(), Some("alice"));
    assert!(first.acked_at.is_some());
}

async fn lookup_reads_related_indicators(store: Arc<dyn Store>) {
    let s = source(&store, "blog").await;
    let ids: Vec<_> = store
        .upsert_items(
            s.id,
            &[
                item("a", "one", "192.0.2.7 evil.com"),
                item("b", "two", "192.0.2.7 bad.org evil.com"),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(ItemChange::id)
        .collect();
    let m = |kind, value: &str, start| Mention {
        indicator: Indicator::parse(kind, value).unwrap(),
        start,
        end: start + 3,
        defanged: start > 0,
    };
    store
        .record_mentions(
            &s,
            ids[0],
            &[
                m(IndicatorType::Ipv4, "192.0.2.7", 0),
                m(IndicatorType::Domain, "evil.com", 10),
            ],
        )
        .await
        .unwrap();
    store
        .record_mentions(
            &s,
            ids[1],
            &[
                m(IndicatorType::Ipv4, "192.0.2.7", 0),
                m(IndicatorType::Domain, "bad.org", 10),
                m(IndicatorType::Domain, "evil.com", 18),
            ],
        )
        .await
        .unwrap();
    // a feed sighting in no item relates to nothing
    store
        .upsert_sightings(&s, &[sighting(IndicatorType::Domain, "feed.net", now())])
        .await
        .unwrap();
    let ip = store
        .indicator(IndicatorType::Ipv4, "192.0.2.7")
        .await
        .unwrap()
        .unwrap();

    let mentions = store.mentions_of(ip.id, 10).await.unwrap();
    assert_eq!(
        mentions.iter().map(|m| m.item).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );
    assert_eq!(store.mentions_of(ip.id, 1).await.unwrap().len(), 1);

    let related = store.co_occurring(ip.id, 10, Tlp::Red).await.unwrap();
    let pairs: Vec<(String, u64)> = related
        .iter()
        .map(|c| (c.indicator.value.clone(), c.shared_items))
        .collect();
    assert_eq!(
        pairs,
        [("evil.com".to_owned(), 2), ("bad.org".to_owned(), 1)]
    );
    // An item above the reader's clearance adds nothing they can see.
    let mut secret = item(
        "r1",
        "red report",
        "192.0.2.7 with evil.com and secret.example",
    );
    secret.tlp = Tlp::Red;
    let red_id = store.upsert_items(s.id, &[secret]).await.unwrap()[0].id();
    store
        .record_mentions(
            &s,
            red_id,
            &[
                m(IndicatorType::Ipv4, "192.0.2.7", 0),
                m(IndicatorType::Domain, "evil.com", 13),
                m(IndicatorType::Domain, "secret.example", 26),
            ],
        )
        .await
        .unwrap();
    let counts = |tlp| {
        let store = Arc::clone(&store);
        async move {
            store
                .co_occurring(ip.id, 10, tlp)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.indicator.value, c.shared_items))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        counts(Tlp::Amber).await,
        [("evil.com".to_owned(), 2), ("bad.org".to_owned(), 1)]
    );
    assert_eq!(
        counts(Tlp::Red).await,
        [
            ("evil.com".to_owned(), 3),
            ("bad.org".to_owned(), 1),
            ("secret.example".to_owned(), 1)
        ]
    );

    let found = store
        .indicators_by_values(&[
            (IndicatorType::Domain, "evil.com".to_owned()),
            (IndicatorType::Ipv4, "192.0.2.7".to_owned()),
            (IndicatorType::Domain, "unknown.example".to_owned()),
            (IndicatorType::Ipv4, "evil.com".to_owned()),
        ])
        .await
        .unwrap();
    let mut values: Vec<&str> = found.iter().map(|r| r.value.as_str()).collect();
    values.sort_unstable();
    assert_eq!(values, ["192.0.2.7", "evil.com"]);

    let items = store.items_by_id(&[ids[1], ids[0], ids[1]]).await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [ids[0], ids[1]]
    );

    let h = store
        .create_hunt(&hunt_spec("ip", &[], None))
        .await
        .unwrap();
    store
        .record_hits(&[NewHit {
            hunt: h.id,
            object: HitObject::Indicator(ip.id),
            terms: vec!["192.0.2.0/24".to_owned()],
            retro: false,
        }])
        .await
        .unwrap();
    let hits = store.hits_of(HitObject::Indicator(ip.id)).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        store
            .hits_of(HitObject::Item(ids[0]))
            .await
            .unwrap()
            .is_empty()
    );
    // One call gives what the separate calls give.
    let context = store
        .indicator_context(ip.id, 10, 10, Tlp::Red)
        .await
        .unwrap();
    let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    };
    assert!(!context.sightings.is_empty() && !context.mentions.is_empty());
    assert_eq!(context.hits.len(), 1);
    same(
        &context.sightings,
        &store.sightings_of(ip.id).await.unwrap(),
    );
    same(
        &context.mentions,
        &store.mentions_of(ip.id, 10).await.unwrap(),
    );
    same(
        &context.co_occurring,
        &store.co_occurring(ip.id, 10, Tlp::Red).await.unwrap(),
    );
    same(
        &context.relations,
        &store.relations_of(ip.id).await.unwrap(),
    );
    same(&context.hits, &hits);
}

async fn indicators_expire_revive_and_flag(store: Arc<dyn Store>) {
    let s = source(&store, "feed").await;
    let old = now() - time::Duration::days(40);
    store
        .upsert_sightings(
            &s,
            &[
                sighting(IndicatorType::Ipv4, "198.51.100.1", old),
                sighting(IndicatorType::Domain, "old.example", old),
                sighting(IndicatorType::Ipv4, "198.51.100.2", now()),
            ],
        )
        .await
        .unwrap();
    let lifetimes = [
        (IndicatorType::Ipv4, Duration::from_secs(30 * 86_400)),
        (IndicatorType::Domain, Duration::from_secs(180 * 86_400)),
    ];
    assert_eq!(store.expire_indicators(&lifetimes).await.unwrap(), 1);
    assert_eq!(store.expire_indicators(&lifetimes).await.unwrap(), 0);
    let get = |v: &'static str, k| {
        let store = Arc::clone(&store);
        async move { store.indicator(k, v).await.unwrap().unwrap() }
    };
    let expired = get("198.51.100.1", IndicatorType::Ipv4).await;
    assert_eq!(expired.status, rexist_core::IndicatorStatus::Expired);
    assert_eq!(
        expired.status_reason.as_deref(),
        Some("not sighted for 30 days")
    );
    assert_eq!(
        get("old.example", IndicatorType::Domain).await.status,
        rexist_core::IndicatorStatus::Active
    );
    assert_eq!(
        get("198.51.100.2", IndicatorType::Ipv4).await.status,
        rexist_core::IndicatorStatus::Active
    );

    // a new sighting makes it active again
    store
        .upsert_sightings(&s, &[sighting(IndicatorType::Ipv4, "198.51.100.1", now())])
        .await
        .unwrap();
    assert_eq!(
        get("198.51.100.1", IndicatorType::Ipv4).await.status,
        rexist_core::IndicatorStatus::Active
    );

    // a warning-list flag sticks through new sightings and expiry
    let flags = vec![
        (
            IndicatorType::Ipv4,
            "198.51.100.2".to_owned(),
            "warning list rfc5735".to_owned(),
        ),
        (
            IndicatorType::Ipv4,
            "203.0.113.99".to_owned(),
            "unknown is skipped".to_owned(),
        ),
    ];
    assert_eq!(store.flag_indicators(&flags).await.unwrap(), 1);
    assert_eq!(
        store.flag_indicators(&flags).await.unwrap(),
        0,
        "already flagged"
    );
    store
        .upsert_sightings(&s, &[sighting(IndicatorType::Ipv4, "198.51.100.2", now())])
        .await
        .unwrap();
    let flagged = get("198.51.100.2", IndicatorType::Ipv4).await;
    assert_eq!(flagged.status, rexist_core::IndicatorStatus::Allowlisted);
    assert_eq!(
        flagged.status_reason.as_deref(),
        Some("warning list rfc5735")
    );
    assert_eq!(
        store
            .expire_indicators(&[(IndicatorType::Ipv4, Duration::ZERO)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        get("198.51.100.2", IndicatorType::Ipv4).await.status,
        rexist_core::IndicatorStatus::Allowlisted
    );
}

async fn exports_page_in_added_order_with_filters(store: Arc<dyn Store>) {
    let feed_a = source(&store, "feed-a").await;
    let feed_b = source(&store, "feed-b").await;
    let seen = now();
    store
        .upsert_sightings(&feed_a, &ips(0..250, seen))
        .await
        .unwrap();
    let mut red = sighting(IndicatorType::Domain, "red.example", seen);
    red.tlp = Some(Tlp::Red);
    red.labels = vec!["emotet".to_owned()];
    red.confidence = Some(95);
    let mut green = sighting(IndicatorType::Domain, "green.example", seen);
    green.tlp = Some(Tlp::Green);
    green.labels = vec!["emotet-like".to_owned()];
    store
        .upsert_sightings(&feed_b, &[red, green])
        .await
        .unwrap();
    // Re-sighting an early indicator later does not move it in the export order.
    store
        .upsert_sightings(&feed_b, &ips(0..1, seen))
        .await
        .unwrap();

    let mut q = rexist_store::ExportQuery {
        limit: 100,
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let page = store.export_indicators(&q).await.unwrap();
        assert!(page.len() <= 100);
        let Some(last) = page.last() else { break };
        q.after = Some(rexist_store::ExportQuery::cursor(last));
        all.extend(page);
    }
    assert_eq!(all.len(), 252, "every indicator exactly once");
    let ids: BTreeSet<_> = all.iter().map(|r| r.record.id).collect();
    assert_eq!(ids.len(), 252);
    assert!(
        all.windows(2)
            .all(|w| (w[0].added, w[0].record.id) < (w[1].added, w[1].record.id)),
        "pages come in (added, id) order"
    );
    assert!(
        all.iter().all(|r| r.sources.is_empty()),
        "no context unless asked"
    );

    let only = |q: rexist_store::ExportQuery| {
        let store = Arc::clone(&store);
        async move {
            let mut v: Vec<String> = store
                .export_indicators(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.record.value)
                .collect();
            v.sort();
            v
        }
    };
    let domains = rexist_store::ExportQuery {
        kinds: vec![IndicatorType::Domain],
        ..Default::default()
    };
    assert_eq!(
        only(domains.clone()).await,
        ["green.example", "red.example"]
    );
    let cleared = rexist_store::ExportQuery {
        max_tlp: Some(Tlp::Amber),
        ..domains.clone()
    };
    assert_eq!(only(cleared).await, ["green.example"], "TLP:RED left out");
    let tagged = rexist_store::ExportQuery {
        tag: Some("emotet".to_owned()),
        ..Default::default()
    };
    assert_eq!(only(tagged).await, ["red.example"], "labels match whole");
    let by_source = rexist_store::ExportQuery {
        source: Some("feed-b".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        only(by_source).await,
        ["10.0.0.0", "green.example", "red.example"]
    );
    let scored = rexist_store::ExportQuery {
        min_score: Some(90),
        ..domains.clone()
    };
    assert_eq!(only(scored).await, ["red.example"]);
    let later = rexist_store::ExportQuery {
        added_after: Some(now() + time::Duration::hours(1)),
        ..Default::default()
    };
    assert!(only(later).await.is_empty());
    let earlier = rexist_store::ExportQuery {
        added_before: Some(now() - time::Duration::hours(1)),
        ..Default::default()
    };
    assert!(only(earlier).await.is_empty());
    let until_now = rexist_store::ExportQuery {
        added_before: Some(now() + time::Duration::seconds(1)),
        kinds: vec![IndicatorType::Domain],
        ..Default::default()
    };
    assert_eq!(only(until_now).await, ["green.example", "red.example"]);
    let with_context = rexist_store::ExportQuery {
        with_context: true,
        kinds: vec![IndicatorType::Ipv4],
        limit: 1,
        ..Default::default()
    };
    let row = &store.export_indicators(&with_context).await.unwrap()[0];
    assert_eq!(row.record.value, "10.0.0.0");
    assert_eq!(row.sources, ["feed-a", "feed-b"]);
    assert_eq!(row.labels, ["botnet"]);
    let picked = rexist_store::ExportQuery {
        ids: Some(vec![row.record.id]),
        ..Default::default()
    };
    assert_eq!(only(picked).await, ["10.0.0.0"]);
}

async fn users_tokens_sessions_and_audit(store: Arc<dyn Store>) {
    use rexist_core::{NewAudit, NewToken, Role, Scope};
    let alice = store
        .create_user("alice", "$argon2id$hash", Role::Analyst)
        .await
        .unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.role, alice.disabled),
        ("alice", Role::Analyst, false)
    );
    let dup = store
        .create_user("alice", "x", Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    assert_eq!(
        store
            .create_user("with space", "x", Role::Viewer)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    let (user, hash) = store.user_credentials("alice").await.unwrap().unwrap();
    assert_eq!((user.id, hash.as_str()), (alice.id, "$argon2id$hash"));
    assert!(store.user_credentials("bob").await.unwrap().is_none());

    let token = |name: &str, kind: &str, hash: &str| NewToken {
        name: name.to_owned(),
        kind: kind.to_owned(),
        role: Role::Viewer,
        scopes: vec![Scope::Taxii, Scope::Export],
        user: (kind == "session").then(|| "alice".to_owned()),
        hash: hash.to_owned(),
        prefix: "rexist_ab".to_owned(),
        expires_at: None,
        csrf: (kind == "session").then(|| "csrf-1".to_owned()),
    };
    let t = store
        .create_token(&token("fw", "token", "h1"))
        .await
        .unwrap();
    assert_eq!(t.scopes, [Scope::Taxii, Scope::Export]);
    assert_eq!(
        store
            .create_token(&token("fw", "token", "h2"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict,
        "a live token's name is taken"
    );
    let found = store.token_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.role, found.user),
        ("fw", Role::Viewer, None)
    );
    assert!(store.token_by_hash("nope").await.unwrap().is_none());
    store.touch_token(t.id).await.unwrap();
    assert!(store.list_tokens().await.unwrap()[0].last_used_at.is_some());

    // A session acts with its user's current role and dies with the password.
    store
        .create_token(&token("alice", "session", "s1"))
        .await
        .unwrap();
    let s = store.token_by_hash("s1").await.unwrap().unwrap();
    assert_eq!(
        (s.kind.as_str(), s.role, s.csrf.as_deref()),
        ("session", Role::Analyst, Some("csrf-1"))
    );
    store
        .update_user(
            "alice",
            &rexist_store::UserChange {
                role: Some(Role::Admin),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.token_by_hash("s1").await.unwrap().unwrap().role,
        Role::Admin
    );
    store
        .update_user(
            "alice",
            &rexist_store::UserChange {
                password_hash: Some("new".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store.token_by_hash("s1").await.unwrap().is_none(),
        "new password ends sessions"
    );
    store
        .create_token(&token("alice", "session", "s2"))
        .await
        .unwrap();
    assert!(store.end_session("s2").await.unwrap());
    assert!(store.token_by_hash("s2").await.unwrap().is_none());
    assert!(
        store
            .update_user("bob", &rexist_store::UserChange::default())
            .await
            .unwrap()
            .is_none()
    );

    // Expired tokens are refused; revoked ones too, and their name is free again.
    let mut old = token("old", "token", "h3");
    old.expires_at = Some(now() - time::Duration::minutes(1));
    store.create_token(&old).await.unwrap();
    assert!(store.token_by_hash("h3").await.unwrap().is_none());
    assert_eq!(store.revoke_token("token", "fw").await.unwrap(), 1);
    assert_eq!(store.revoke_token("token", "fw").await.unwrap(), 0);
    assert!(store.token_by_hash("h1").await.unwrap().is_none());
    store
        .create_token(&token("fw", "token", "h4"))
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.revoked))
        .collect();
    assert_eq!(
        names,
        [
            ("fw".to_owned(), false),
            ("old".to_owned(), false),
            ("fw".to_owned(), true)
        ],
        "tokens only, newest first, revoked kept"
    );

    for i in 0..3 {
        store
            .record_audit(&NewAudit {
                actor: "alice".to_owned(),
                action: format!("POST /api/v1/hunts/{i}"),
                target: None,
                outcome: "201".to_owned(),
                address: Some("127.0.0.1".to_owned()),
            })
            .await
            .unwrap();
    }
    let page = store.list_audit(None, 2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].entry.action, "POST /api/v1/hunts/2");
    let before: i64 = page.next.unwrap().parse().unwrap();
    let rest = store.list_audit(Some(before), 2).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].entry.action, "POST /api/v1/hunts/0");
    assert!(rest.next.is_none());
    assert_eq!(
        store
            .prune_audit(now() - time::Duration::hours(1))
            .await
            .unwrap(),
        0,
        "recent entries stay"
    );
    assert_eq!(
        store
            .prune_audit(now() + time::Duration::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert!(store.list_audit(None, 10).await.unwrap().items.is_empty());
}

async fn dashboard_activity_and_top_indicators(store: Arc<dyn Store>) {
    let a = source(&store, "dash-a").await;
    let b = source(&store, "dash-b").await;
    let t = now();
    store.upsert_sightings(&a, &ips(0..3, t)).await.unwrap();
    // A second source sights one of them: it becomes the most sighted.
    store.upsert_sightings(&b, &ips(1..2, t)).await.unwrap();
    let red = NewSighting {
        tlp: Some(Tlp::Red),
        ..sighting(IndicatorType::Domain, "secret.example", t)
    };
    store.upsert_sightings(&a, &[red]).await.unwrap();
    let mut secret = item("dash-2", "Secret", "red body");
    secret.tlp = Tlp::Red;
    store
        .upsert_items(a.id, &[item("dash-1", "Open", "clear body"), secret])
        .await
        .unwrap();
    let run = store.start_run(b.id).await.unwrap();
    let counts = RunCounts {
        new: 5,
        ..RunCounts::default()
    };
    store
        .finish_run(run.id, RunOutcome::Success, &counts, None, None)
        .await
        .unwrap();

    let since = t - time::Duration::days(30);
    let today = t.date();
    let green = store.activity(since, Tlp::Green).await.unwrap();
    let sum = |rows: &[rexist_store::DayCount], key: &str| -> u64 {
        rows.iter().filter(|r| r.key == key).map(|r| r.count).sum()
    };
    assert!(green.indicators.iter().all(|r| r.day == today), "{green:?}");
    assert_eq!(sum(&green.indicators, "ipv4"), 3);
    assert_eq!(sum(&green.indicators, "domain"), 0, "red is left out");
    assert_eq!(sum(&green.items, "news"), 1);
    assert_eq!(green.sources.len(), 1, "{:?}", green.sources);
    assert_eq!(
        (
            green.sources[0].key.as_str(),
            green.sources[0].count,
            green.sources[0].day
        ),
        ("dash-b", 5, run.started_at.date())
    );
    let all = store.activity(since, Tlp::Red).await.unwrap();
    assert_eq!(sum(&all.indicators, "domain"), 1);
    assert_eq!(sum(&all.items, "news"), 2);
    let later = store
        .activity(t + time::Duration::days(1), Tlp::Red)
        .await
        .unwrap();
    assert!(later.items.is_empty() && later.indicators.is_empty() && later.sources.is_empty());

    let top = store.top_indicators(2, Tlp::Green).await.unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].value, "10.0.0.1");
    assert_eq!(top[0].sightings, 2);
    let top = store.top_indicators(10, Tlp::Green).await.unwrap();
    assert_eq!(top.len(), 3, "red is left out");
    assert!(top.iter().all(|r| r.tlp <= Tlp::Green));
}

async fn early_cves_rank_by_lead_within_clearance(store: Arc<dyn Store>) {
    let masto = source(&store, "ew-masto").await;
    let news = source(&store, "ew-news").await;
    let misp = source(&store, "ew-misp").await;
    let nvd = source(&store, "ew-nvd").await;
    let t = now();
    let t0 = t - time::Duration::days(10);
    let day = time::Duration::days(1);
    let year = t.year();
    let cve = |n: u32| format!("CVE-{year}-{n:04}");
    let at = |value: &str, when| sighting(IndicatorType::Cve, value, when);
    // 1: posted at t0, collected now (the mention's sighting is now), NVD at t0+3d.
    let mut post = item("ew-post", "PoC for a new bug", &format!("PoC: {}", cve(1)));
    post.published_at = Some(t0);
    let post_id = store.upsert_items(masto.id, &[post]).await.unwrap()[0].id();
    store
        .record_mentions(
            &masto,
            post_id,
            &[Mention {
                indicator: Indicator::parse(IndicatorType::Cve, &cve(1)).unwrap(),
                start: 5,
                end: 18,
                defanged: false,
            }],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(&nvd, &[at(&cve(1), t0 + day * 3)])
        .await
        .unwrap();
    // 2: in the news at t0+1d, no database entry yet.
    // 5: in amber news at t0-5d, NVD at t0.
    let amber = NewSighting {
        tlp: Some(Tlp::Amber),
        ..at(&cve(5), t0 - day * 5)
    };
    store
        .upsert_sightings(&news, &[at(&cve(2), t0 + day), amber])
        .await
        .unwrap();
    // 3: NVD first. 4: an old id nobody's NVD source read. 6: only an
    // exchange, which this query does not count, ahead of NVD.
    store
        .upsert_sightings(&nvd, &[at(&cve(3), t0), at(&cve(5), t0), at(&cve(6), t0)])
        .await
        .unwrap();
    store
        .upsert_sightings(&masto, &[at(&cve(3), t0 + day), at("CVE-2019-0004", t0)])
        .await
        .unwrap();
    store
        .upsert_sightings(&misp, &[at(&cve(6), t0 - day)])
        .await
        .unwrap();

    let query = |max_tlp, authority: Vec<_>| rexist_store::EarlyCveQuery {
        discussion: vec![masto.id, news.id],
        authority,
        since: t - day * 90,
        pending_from_year: year - 1,
        now: t,
        max_tlp,
        limit: 10,
    };
    let ranked = |rows: &[rexist_store::EarlyCve]| -> Vec<String> {
        rows.iter().map(|r| r.value.clone()).collect()
    };
    let green = store
        .early_cves(&query(Tlp::Green, vec![nvd.id]))
        .await
        .unwrap();
    // 2 leads by 9 days so far, 1 by 3: the post's publication time counts.
    assert_eq!(ranked(&green), [cve(2), cve(1)], "{green:?}");
    assert_eq!(
        (
            green[0].first_source,
            green[0].first_at,
            green[0].authority_at
        ),
        (news.id, t0 + day, None)
    );
    assert_eq!(
        (
            green[1].first_source,
            green[1].first_at,
            green[1].authority_source,
            green[1].authority_at
        ),
        (masto.id, t0, Some(nvd.id), Some(t0 + day * 3))
    );
    let red = store
        .early_cves(&query(Tlp::Red, vec![nvd.id]))
        .await
        .unwrap();
    assert_eq!(
        ranked(&red),
        [cve(2), cve(5), cve(1)],
        "amber counts at red"
    );
    let one = rexist_store::EarlyCveQuery {
        limit: 1,
        ..query(Tlp::Red, vec![nvd.id])
    };
    assert_eq!(ranked(&store.early_cves(&one).await.unwrap()), [cve(2)]);
    // Without a database source nothing lacks its entry: only leads count.
    assert!(
        store
            .early_cves(&query(Tlp::Red, Vec::new()))
            .await
            .unwrap()
            .is_empty()
    );
    let later = rexist_store::EarlyCveQuery {
        since: t + time::Duration::seconds(1),
        ..query(Tlp::Red, vec![nvd.id])
    };
    assert!(store.early_cves(&later).await.unwrap().is_empty());

    let id = |value: String| {
        let store = Arc::clone(&store);
        async move {
            store
                .indicator(IndicatorType::Cve, &value)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let times = store
        .report_times(id(cve(1)).await, Tlp::Green)
        .await
        .unwrap();
    assert_eq!(
        times.iter().map(|r| (r.source, r.at)).collect::<Vec<_>>(),
        [(masto.id, t0), (nvd.id, t0 + day * 3)]
    );
    let five = id(cve(5)).await;
    assert_eq!(store.report_times(five, Tlp::Green).await.unwrap().len(), 1);
    assert_eq!(
        store.report_times(five, Tlp::Red).await.unwrap()[0].source,
        news.id
    );
}

fn retraction(
    kind: IndicatorType,
    value: &str,
    reason: RetractReason,
    at: OffsetDateTime,
) -> Retraction {
    Retraction {
        indicator: Indicator::parse(kind, value).expect("valid indicator"),
        reason,
        at,
    }
}

async fn indicator_of(store: &Arc<dyn Store>, kind: IndicatorType, value: &str) -> IndicatorRecord {
    store
        .indicator(kind, value)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{value} is stored"))
}

async fn retraction_retires_the_sources_sightings_with_reason_and_time(store: Arc<dyn Store>) {
    let partner = source(&store, "taxii-partner").await;
    let other = source(&store, "other").await;
    let seen = now() - time::Duration::hours(2);
    let items = some_items(&store, 1).await;
    // The partner reports the domain in its feed and in an item; another source in its feed.
    let mut in_item = sighting(IndicatorType::Domain, "evil.example", seen);
    in_item.item_id = Some(items[0]);
    store
        .upsert_sightings(
            &partner,
            &[
                sighting(IndicatorType::Domain, "evil.example", seen),
                in_item,
            ],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(
            &other,
            &[sighting(IndicatorType::Domain, "evil.example", seen)],
        )
        .await
        .unwrap();
    let at = now() - time::Duration::minutes(10);
    let retired = store
        .retire_sightings(
            &partner,
            &[
                retraction(
                    IndicatorType::Domain,
                    "evil.example",
                    RetractReason::Revoked,
                    at,
                ),
                // Repeated: the first wins. Unknown: nothing stored.
                retraction(
                    IndicatorType::Domain,
                    "evil.example",
                    RetractReason::Deleted,
                    now(),
                ),
                retraction(
                    IndicatorType::Domain,
                    "never-seen.example",
                    RetractReason::Revoked,
                    at,
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(retired, 2, "both of the partner's sightings, in any item");
    assert!(
        store
            .indicator(IndicatorType::Domain, "never-seen.example")
            .await
            .unwrap()
            .is_none(),
        "an unknown indicator is not stored"
    );
    let rec = indicator_of(&store, IndicatorType::Domain, "evil.example").await;
    let sightings = store.sightings_of(rec.id).await.unwrap();
    assert_eq!(sightings.len(), 3, "kept, never deleted");
    for s in &sightings {
        if s.source_id == partner.id {
            assert!(!s.listed);
            assert_eq!(s.retired_reason, Some(RetractReason::Revoked));
            assert_eq!(s.retired_at, Some(at));
        } else {
            assert!(s.listed);
            assert_eq!(s.retired_reason, None);
            assert_eq!(s.retired_at, None);
        }
    }
    assert_eq!(
        rec.status,
        IndicatorStatus::Active,
        "another source still lists it"
    );
    assert_eq!(
        store
            .retire_sightings(
                &partner,
                &[retraction(
                    IndicatorType::Domain,
                    "evil.example",
                    RetractReason::Deleted,
                    now()
                )]
            )
            .await
            .unwrap(),
        0,
        "a retired sighting is not retired again"
    );
    assert_eq!(store.retire_sightings(&partner, &[]).await.unwrap(), 0);
}

async fn indicator_retires_only_when_every_source_withdrew(store: Arc<dyn Store>) {
    let a = source(&store, "feed-a").await;
    let b = source(&store, "feed-b").await;
    let seen = now() - time::Duration::hours(1);
    for s in [&a, &b] {
        store
            .upsert_sightings(s, &[sighting(IndicatorType::Ipv4, "203.0.113.7", seen)])
            .await
            .unwrap();
    }
    let ip = |reason| retraction(IndicatorType::Ipv4, "203.0.113.7", reason, now());
    store
        .retire_sightings(&a, &[ip(RetractReason::FalsePositive)])
        .await
        .unwrap();
    let rec = indicator_of(&store, IndicatorType::Ipv4, "203.0.113.7").await;
    assert_eq!(rec.status, IndicatorStatus::Active);
    assert_eq!(rec.status_reason, None);
    store
        .retire_sightings(&b, &[ip(RetractReason::Revoked)])
        .await
        .unwrap();
    let rec = indicator_of(&store, IndicatorType::Ipv4, "203.0.113.7").await;
    assert_eq!(rec.status, IndicatorStatus::Retired);
    assert_eq!(rec.status_reason.as_deref(), Some("revoked by feed-b"));
    assert_eq!(rec.sightings, 2, "sightings are kept and counted");
    let listed = store
        .list_indicators(&IndicatorQuery {
            status: Some(IndicatorStatus::Retired),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items, vec![rec]);
}

async fn allowlisted_indicator_stays_allowlisted_when_withdrawn(store: Arc<dyn Store>) {
    let s = source(&store, "feed").await;
    store
        .upsert_sightings(&s, &[sighting(IndicatorType::Domain, "google.com", now())])
        .await
        .unwrap();
    store
        .flag_indicators(&[(
            IndicatorType::Domain,
            "google.com".to_owned(),
            "warninglist: top domains".to_owned(),
        )])
        .await
        .unwrap();
    let n = store
        .retire_sightings(
            &s,
            &[retraction(
                IndicatorType::Domain,
                "google.com",
                RetractReason::FalsePositive,
                now(),
            )],
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "the sighting is retired");
    let rec = indicator_of(&store, IndicatorType::Domain, "google.com").await;
    assert_eq!(
        rec.status,
        IndicatorStatus::Allowlisted,
        "allow-listing wins"
    );
    assert_eq!(
        rec.status_reason.as_deref(),
        Some("warninglist: top domains")
    );
    // A new report does not lift the allow-listing either.
    store
        .upsert_sightings(&s, &[sighting(IndicatorType::Domain, "google.com", now())])
        .await
        .unwrap();
    let rec = indicator_of(&store, IndicatorType::Domain, "google.com").await;
    assert_eq!(rec.status, IndicatorStatus::Allowlisted);
}

async fn resighting_reactivates_a_retired_indicator(store: Arc<dyn Store>) {
    let s = source(&store, "otx").await;
    let seen = now() - time::Duration::hours(1);
    let until = now() + time::Duration::days(30);
    let mut first = sighting(IndicatorType::Url, "http://evil.example/x", seen);
    first.valid_until = Some(until - time::Duration::days(10));
    let mut later = first.clone();
    later.valid_until = Some(until);
    // The same report twice in one batch: the latest validity wins.
    store.upsert_sightings(&s, &[later, first]).await.unwrap();
    let rec = indicator_of(&store, IndicatorType::Url, "http://evil.example/x").await;
    let sightings = store.sightings_of(rec.id).await.unwrap();
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].expires_at, Some(until));

    store
        .retire_sightings(
            &s,
            &[retraction(
                IndicatorType::Url,
                "http://evil.example/x",
                RetractReason::Inactive,
                now(),
            )],
        )
        .await
        .unwrap();
    let rec = indicator_of(&store, IndicatorType::Url, "http://evil.example/x").await;
    assert_eq!(rec.status, IndicatorStatus::Retired);
    assert_eq!(rec.status_reason.as_deref(), Some("inactive by otx"));

    // Reported again, with a new validity: listed, unretired, active.
    let mut again = sighting(IndicatorType::Url, "http://evil.example/x", now());
    let until2 = now() + time::Duration::days(60);
    again.valid_until = Some(until2);
    let summary = store.upsert_sightings(&s, &[again]).await.unwrap();
    assert_eq!(summary.unchanged, 1);
    let rec = indicator_of(&store, IndicatorType::Url, "http://evil.example/x").await;
    assert_eq!(rec.status, IndicatorStatus::Active);
    assert_eq!(rec.status_reason, None);
    let back = store.sightings_of(rec.id).await.unwrap();
    assert!(back[0].listed);
    assert_eq!(back[0].retired_at, None);
    assert_eq!(back[0].retired_reason, None);
    assert_eq!(
        back[0].expires_at,
        Some(until2),
        "the latest report's validity"
    );

    // A mention in an item is a report too.
    store
        .retire_sightings(
            &s,
            &[retraction(
                IndicatorType::Url,
                "http://evil.example/x",
                RetractReason::Deleted,
                now(),
            )],
        )
        .await
        .unwrap();
    let items = some_items(&store, 1).await;
    store
        .record_mentions(
            &s,
            items[0],
            &[Mention {
                indicator: Indicator::parse(IndicatorType::Url, "http://evil.example/x").unwrap(),
                start: 0,
                end: 21,
                defanged: false,
            }],
        )
        .await
        .unwrap();
    let rec = indicator_of(&store, IndicatorType::Url, "http://evil.example/x").await;
    assert_eq!(rec.status, IndicatorStatus::Active);
}

async fn snapshot_leavers_retire_as_delisted(store: Arc<dyn Store>) {
    let s = source(&store, "blocklist").await;
    let other = source(&store, "other").await;
    let t0 = now() - time::Duration::hours(1);
    store.upsert_sightings(&s, &ips(0..3, t0)).await.unwrap();
    store
        .upsert_sightings(&other, &ips(2..3, t0))
        .await
        .unwrap();
    let t1 = now();
    store.upsert_sightings(&s, &ips(0..1, t1)).await.unwrap();
    assert_eq!(store.mark_unlisted(s.id, t1).await.unwrap(), 2);
    // 10.0.0.1 was only on this list: retired. 10.0.0.2 another source lists.
    let gone = indicator_of(&store, IndicatorType::Ipv4, "10.0.0.1").await;
    assert_eq!(gone.status, IndicatorStatus::Retired);
    assert_eq!(gone.status_reason.as_deref(), Some("delisted by blocklist"));
    let sightings = store.sightings_of(gone.id).await.unwrap();
    assert_eq!(sightings[0].retired_reason, Some(RetractReason::Delisted));
    assert_eq!(sightings[0].retired_at, Some(t1));
    assert!(!sightings[0].listed);
    let shared = indicator_of(&store, IndicatorType::Ipv4, "10.0.0.2").await;
    assert_eq!(shared.status, IndicatorStatus::Active);
    assert_eq!(
        indicator_of(&store, IndicatorType::Ipv4, "10.0.0.0")
            .await
            .status,
        IndicatorStatus::Active
    );
    assert_eq!(
        store.mark_unlisted(s.id, t1).await.unwrap(),
        0,
        "idempotent"
    );
    // Back on the list: active again.
    store.upsert_sightings(&s, &ips(1..2, now())).await.unwrap();
    let back = indicator_of(&store, IndicatorType::Ipv4, "10.0.0.1").await;
    assert_eq!(back.status, IndicatorStatus::Active);
}

async fn upstream_expiry_retires_sightings(store: Arc<dyn Store>) {
    let s = source(&store, "stix-feed").await;
    let t = now();
    let mut soon = sighting(
        IndicatorType::Sha256,
        &"a".repeat(64),
        t - time::Duration::days(2),
    );
    soon.valid_until = Some(t - time::Duration::days(1));
    let mut later = sighting(
        IndicatorType::Sha256,
        &"b".repeat(64),
        t - time::Duration::days(2),
    );
    later.valid_until = Some(t + time::Duration::days(1));
    let forever = sighting(
        IndicatorType::Sha256,
        &"c".repeat(64),
        t - time::Duration::days(2),
    );
    store
        .upsert_sightings(&s, &[soon, later, forever])
        .await
        .unwrap();
    assert_eq!(store.retire_expired(t).await.unwrap(), 1);
    assert_eq!(store.retire_expired(t).await.unwrap(), 0, "idempotent");
    let a = indicator_of(&store, IndicatorType::Sha256, &"a".repeat(64)).await;
    assert_eq!(a.status, IndicatorStatus::Retired);
    assert_eq!(a.status_reason.as_deref(), Some("expired by stix-feed"));
    let sa = store.sightings_of(a.id).await.unwrap();
    assert_eq!(sa[0].retired_reason, Some(RetractReason::Expired));
    assert_eq!(
        sa[0].retired_at,
        Some(t - time::Duration::days(1)),
        "retired when its validity ended"
    );
    for v in ["b", "c"] {
        let rec = indicator_of(&store, IndicatorType::Sha256, &v.repeat(64)).await;
        assert_eq!(rec.status, IndicatorStatus::Active, "{v}");
    }
    assert_eq!(
        store
            .retire_expired(t + time::Duration::days(2))
            .await
            .unwrap(),
        1
    );
}

async fn indicators_filter_by_source(store: Arc<dyn Store>) {
    let a = source(&store, "feed-a").await;
    let b = source(&store, "feed-b").await;
    store.upsert_sightings(&a, &ips(0..3, now())).await.unwrap();
    store.upsert_sightings(&b, &ips(2..5, now())).await.unwrap();
    store
        .retire_sightings(
            &a,
            &[retraction(
                IndicatorType::Ipv4,
                "10.0.0.0",
                RetractReason::Revoked,
                now(),
            )],
        )
        .await
        .unwrap();
    let values = |q: IndicatorQuery| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_indicators(&q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.value)
                .collect::<Vec<_>>()
        }
    };
    let by = |name: &str| IndicatorQuery {
        source: Some(name.to_owned()),
        ..Default::default()
    };
    assert_eq!(
        values(by("feed-a")).await,
        ["10.0.0.0", "10.0.0.1", "10.0.0.2"],
        "retired sightings included"
    );
    assert_eq!(
        values(by("feed-b")).await,
        ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    );
    assert!(values(by("nobody")).await.is_empty());
    let paged = IndicatorQuery {
        limit: 2,
        ..by("feed-b")
    };
    let first = store.list_indicators(&paged).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = values(IndicatorQuery {
        after: first.next,
        ..paged
    })
    .await;
    assert_eq!(rest, ["10.0.0.4"]);
    assert_eq!(
        values(IndicatorQuery {
            status: Some(IndicatorStatus::Retired),
            ..by("feed-a")
        })
        .await,
        ["10.0.0.0"]
    );
}

async fn retired_indicator_pages_again_for_taxii(store: Arc<dyn Store>) {
    let a = source(&store, "feed-a").await;
    let b = source(&store, "feed-b").await;
    let seen = now() - time::Duration::hours(1);
    let labelled = |v: &str, label: &str| {
        let mut s = sighting(IndicatorType::Domain, v, seen);
        s.labels = vec![label.to_owned()];
        s
    };
    store
        .upsert_sightings(
            &a,
            &[
                labelled("gone.example", "phishing"),
                labelled("shared.example", "old-label"),
            ],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(&b, &[labelled("shared.example", "emotet")])
        .await
        .unwrap();
    let taxii = |added_after| rexist_store::ExportQuery {
        active_only: true,
        with_retired: true,
        with_context: true,
        added_after,
        ..Default::default()
    };
    let before = store.export_indicators(&taxii(None)).await.unwrap();
    assert_eq!(before.len(), 2);
    let cursor = before.iter().map(|r| r.added).max();
    assert!(
        store
            .export_indicators(&taxii(cursor))
            .await
            .unwrap()
            .is_empty(),
        "a client that has everything gets nothing new"
    );
    // Ensure the retirement takes a later clock reading than the insert.
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .retire_sightings(
            &a,
            &[
                retraction(
                    IndicatorType::Domain,
                    "gone.example",
                    RetractReason::Revoked,
                    now(),
                ),
                retraction(
                    IndicatorType::Domain,
                    "shared.example",
                    RetractReason::Revoked,
                    now(),
                ),
            ],
        )
        .await
        .unwrap();
    let again = store.export_indicators(&taxii(cursor)).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "only the retired indicator pages again: {again:?}"
    );
    let gone = &again[0];
    assert_eq!(gone.record.value, "gone.example");
    assert_eq!(gone.record.status, IndicatorStatus::Retired);
    assert!(gone.added > cursor.unwrap());
    assert_eq!(
        gone.sources,
        ["feed-a"],
        "a retired indicator names who had it"
    );
    assert_eq!(gone.labels, ["phishing"]);

    // Exports leave retired indicators out; one still active through another
    // source names only its unretired sightings.
    let export = store
        .export_indicators(&rexist_store::ExportQuery {
            active_only: true,
            with_context: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(export.len(), 1);
    assert_eq!(export[0].record.value, "shared.example");
    assert_eq!(export[0].sources, ["feed-b"]);
    assert_eq!(export[0].labels, ["emotet"]);
    let by_a = store
        .export_indicators(&rexist_store::ExportQuery {
            active_only: true,
            source: Some("feed-a".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        by_a.is_empty(),
        "feed-a withdrew everything it reported: {by_a:?}"
    );
    let tagged = store
        .export_indicators(&rexist_store::ExportQuery {
            tag: Some("old-label".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        tagged.is_empty(),
        "a withdrawn label selects nothing: {tagged:?}"
    );
}

/// A sighting `source` states for `item` (a MISP attribute, a pulse indicator).
fn stated(value: &str, item: rexist_core::ItemId, at: OffsetDateTime) -> NewSighting {
    NewSighting {
        item_id: Some(item),
        ..sighting(IndicatorType::Domain, value, at)
    }
}

/// A domain found in an item's text.
fn mention(value: &str) -> Mention {
    Mention {
        indicator: Indicator::parse(IndicatorType::Domain, value).unwrap(),
        start: 0,
        end: u32::try_from(value.len()).unwrap(),
        defanged: false,
    }
}

fn domains(values: &[&str]) -> Vec<Indicator> {
    values
        .iter()
        .map(|v| Indicator::parse(IndicatorType::Domain, v).unwrap())
        .collect()
}

/// `source`'s sighting of `value` in `item` (`None`: in its feed).
async fn sighting_in(
    store: &Arc<dyn Store>,
    value: &str,
    source: &Source,
    item: Option<rexist_core::ItemId>,
) -> rexist_core::Sighting {
    let rec = indicator_of(store, IndicatorType::Domain, value).await;
    store
        .sightings_of(rec.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.source_id == source.id && s.item_id == item)
        .unwrap_or_else(|| panic!("{} sighted {value} in {item:?}", source.name))
}

async fn item_version_retires_only_the_dropped_stated_sightings(store: Arc<dyn Store>) {
    let otx = source(&store, "otx").await;
    let misp = source(&store, "misp").await;
    let seen = now() - time::Duration::hours(1);
    let items = some_items(&store, 3).await;
    let (pulse, other_pulse, event) = (items[0], items[1], items[2]);
    // The pulse states a, b and d; its text mentions c and d. Another pulse
    // of the same source states b; its feed lists b too.
    store
        .upsert_sightings(
            &otx,
            &[
                stated("a.example", pulse, seen),
                stated("b.example", pulse, seen),
                stated("d.example", pulse, seen),
                stated("b.example", other_pulse, seen),
                sighting(IndicatorType::Domain, "b.example", seen),
            ],
        )
        .await
        .unwrap();
    store
        .record_mentions(&otx, pulse, &[mention("c.example"), mention("d.example")])
        .await
        .unwrap();
    // Another source, in the same item and in its own event.
    store
        .upsert_sightings(
            &misp,
            &[
                stated("b.example", pulse, seen),
                stated("a.example", event, seen),
            ],
        )
        .await
        .unwrap();

    // The pulse's new version states a only.
    let at = now() - time::Duration::minutes(5);
    let n = store
        .retire_item_sightings(
            &otx,
            pulse,
            &domains(&["a.example", "never-seen.example"]),
            RetractReason::Deleted,
            at,
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "b: d, dropped too, is still mentioned in the text");
    let b = sighting_in(&store, "b.example", &otx, Some(pulse)).await;
    assert!(!b.listed);
    assert_eq!(b.retired_reason, Some(RetractReason::Deleted));
    assert_eq!(b.retired_at, Some(at));
    for (value, src, item) in [
        ("a.example", &otx, Some(pulse)),
        ("b.example", &otx, Some(other_pulse)),
        ("b.example", &otx, None),
        ("c.example", &otx, Some(pulse)),
        ("b.example", &misp, Some(pulse)),
        ("a.example", &misp, Some(event)),
    ] {
        let s = sighting_in(&store, value, src, item).await;
        assert!(s.listed, "{} still lists {value} in {item:?}", src.name);
        assert_eq!(s.retired_at, None);
    }
    let d = sighting_in(&store, "d.example", &otx, Some(pulse)).await;
    assert!(
        d.listed,
        "stated and mentioned share a sighting; the text still reports it"
    );
    assert!(
        store
            .indicator(IndicatorType::Domain, "never-seen.example")
            .await
            .unwrap()
            .is_none(),
        "an unknown kept indicator is not stored"
    );
    assert_eq!(
        indicator_of(&store, IndicatorType::Domain, "b.example")
            .await
            .status,
        IndicatorStatus::Active
    );
    assert_eq!(
        store
            .retire_item_sightings(
                &otx,
                pulse,
                &domains(&["a.example"]),
                RetractReason::Deleted,
                now()
            )
            .await
            .unwrap(),
        0,
        "a retired sighting is not retired again"
    );

    // A version that states nothing retires every stated sighting of the
    // item: a here; the mentions and the other source's sighting stay.
    let n = store
        .retire_item_sightings(&otx, pulse, &[], RetractReason::Deleted, now())
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        !sighting_in(&store, "a.example", &otx, Some(pulse))
            .await
            .listed
    );
    for (value, src) in [
        ("c.example", &otx),
        ("d.example", &otx),
        ("b.example", &misp),
    ] {
        assert!(sighting_in(&store, value, src, Some(pulse)).await.listed);
    }
    assert_eq!(
        store
            .retire_item_sightings(&misp, other_pulse, &[], RetractReason::Deleted, now())
            .await
            .unwrap(),
        0,
        "misp states nothing in the other pulse"
    );
    assert!(
        sighting_in(&store, "b.example", &otx, Some(other_pulse))
            .await
            .listed
    );
}

async fn item_withdrawal_retires_an_indicator_only_when_nothing_lists_it(store: Arc<dyn Store>) {
    let otx = source(&store, "otx").await;
    let feed = source(&store, "feed").await;
    let seen = now() - time::Duration::hours(1);
    let items = some_items(&store, 2).await;
    let (pulse, other_pulse) = (items[0], items[1]);
    store
        .upsert_sightings(
            &otx,
            &[
                stated("only.example", pulse, seen),
                stated("twice.example", pulse, seen),
                stated("twice.example", other_pulse, seen),
                stated("listed.example", pulse, seen),
                stated("google.com", pulse, seen),
            ],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Domain, "listed.example", seen)],
        )
        .await
        .unwrap();
    store
        .flag_indicators(&[(
            IndicatorType::Domain,
            "google.com".to_owned(),
            "warninglist: top domains".to_owned(),
        )])
        .await
        .unwrap();
    let taxii = |added_after| rexist_store::ExportQuery {
        active_only: true,
        with_retired: true,
        added_after,
        ..Default::default()
    };
    let cursor = store
        .export_indicators(&taxii(None))
        .await
        .unwrap()
        .iter()
        .map(|r| r.added)
        .max();
    // Ensure the retirement takes a later clock reading than the insert.
    tokio::time::sleep(Duration::from_millis(5)).await;

    let n = store
        .retire_item_sightings(&otx, pulse, &[], RetractReason::Deleted, now())
        .await
        .unwrap();
    assert_eq!(n, 4);
    let only = indicator_of(&store, IndicatorType::Domain, "only.example").await;
    assert_eq!(only.status, IndicatorStatus::Retired);
    assert_eq!(only.status_reason.as_deref(), Some("deleted by otx"));
    for (value, status) in [
        ("twice.example", IndicatorStatus::Active),
        ("listed.example", IndicatorStatus::Active),
        ("google.com", IndicatorStatus::Allowlisted),
    ] {
        assert_eq!(
            indicator_of(&store, IndicatorType::Domain, value)
                .await
                .status,
            status,
            "{value}"
        );
    }
    let again: Vec<String> = store
        .export_indicators(&taxii(cursor))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record.value)
        .collect();
    assert_eq!(again, ["only.example"], "the retired indicator pages again");

    // The other pulse drops it too: nothing lists it any more.
    store
        .retire_item_sightings(
            &otx,
            other_pulse,
            &domains(&["only.example"]),
            RetractReason::Deleted,
            now(),
        )
        .await
        .unwrap();
    let twice = indicator_of(&store, IndicatorType::Domain, "twice.example").await;
    assert_eq!(twice.status, IndicatorStatus::Retired);
    assert_eq!(twice.sightings, 2, "sightings are kept and counted");
}

async fn resighting_in_the_item_lists_it_again(store: Arc<dyn Store>) {
    let otx = source(&store, "otx").await;
    let items = some_items(&store, 1).await;
    let pulse = items[0];
    store
        .upsert_sightings(&otx, &[stated("back.example", pulse, now())])
        .await
        .unwrap();
    store
        .retire_item_sightings(&otx, pulse, &[], RetractReason::Deleted, now())
        .await
        .unwrap();
    assert_eq!(
        indicator_of(&store, IndicatorType::Domain, "back.example")
            .await
            .status,
        IndicatorStatus::Retired
    );
    // The next version states it again.
    let summary = store
        .upsert_sightings(&otx, &[stated("back.example", pulse, now())])
        .await
        .unwrap();
    assert_eq!(summary.unchanged, 1, "the same sighting, not a new one");
    let rec = indicator_of(&store, IndicatorType::Domain, "back.example").await;
    assert_eq!(rec.status, IndicatorStatus::Active);
    assert_eq!(rec.status_reason, None);
    let s = sighting_in(&store, "back.example", &otx, Some(pulse)).await;
    assert!(s.listed);
    assert_eq!(s.retired_at, None);
    assert_eq!(s.retired_reason, None);
}

/// `rexist demo --remove`: a source goes with its items, sightings and
/// relations; an indicator another source also reported stays, recounted.
async fn deleting_a_source_removes_only_what_it_alone_stored(store: Arc<dyn Store>) {
    let demo = source(&store, "demo-feed").await;
    let mut amber = spec("partner");
    amber.tlp = Tlp::Amber;
    let other = store.upsert_source(&amber).await.unwrap();
    let ip = |v: &str| Indicator::parse(IndicatorType::Ipv4, v).unwrap();
    // 192.0.2.1 only the demo reports (in its feed, an item and a relation);
    // 192.0.2.2 the partner reports too, at AMBER.
    let mut clear = sighting(IndicatorType::Ipv4, "192.0.2.2", now());
    clear.tlp = Some(Tlp::Clear);
    store
        .upsert_sightings(
            &demo,
            &[sighting(IndicatorType::Ipv4, "192.0.2.1", now()), clear],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(&other, &[sighting(IndicatorType::Ipv4, "192.0.2.2", now())])
        .await
        .unwrap();
    let demo_item = store
        .upsert_items(demo.id, &[item("d1", "Sample report", "C2 at 192.0.2.1")])
        .await
        .unwrap()[0]
        .id();
    let mention = Mention {
        indicator: ip("192.0.2.1"),
        start: 6,
        end: 15,
        defanged: false,
    };
    store
        .record_mentions(&demo, demo_item, &[mention])
        .await
        .unwrap();
    let kept_item = store
        .upsert_items(other.id, &[item("p1", "Partner report", "Sample too")])
        .await
        .unwrap()[0]
        .id();
    store
        .add_relations(
            &demo,
            &[NewRelation {
                from: ip("192.0.2.1"),
                to: ip("192.0.2.2"),
                kind: "communicates-with".to_owned(),
                seen_at: now(),
            }],
        )
        .await
        .unwrap();
    let before = store
        .indicator(IndicatorType::Ipv4, "192.0.2.2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.tlp, Tlp::Clear, "the lowest report's TLP");
    let only_demo = store
        .indicator(IndicatorType::Ipv4, "192.0.2.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.sightings_of(only_demo.id).await.unwrap().len(),
        2,
        "feed and item"
    );

    assert_eq!(store.delete_source(demo.id).await.unwrap(), 1);

    assert!(store.source_by_name("demo-feed").await.unwrap().is_none());
    assert!(
        store
            .indicator(IndicatorType::Ipv4, "192.0.2.1")
            .await
            .unwrap()
            .is_none(),
        "only the demo reported it"
    );
    assert!(store.sightings_of(only_demo.id).await.unwrap().is_empty());
    assert!(
        store
            .mentions_of(only_demo.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let kept = store
        .indicator(IndicatorType::Ipv4, "192.0.2.2")
        .await
        .unwrap()
        .expect("the partner reported it too");
    assert_eq!(kept.sightings, 1);
    assert_eq!(kept.tlp, Tlp::Amber, "no longer lowered by the demo");
    let left = store.sightings_of(kept.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].source_id, other.id);
    assert!(store.relations_of(kept.id).await.unwrap().is_empty());
    assert!(store.item(demo_item).await.unwrap().is_none());
    assert!(store.item(kept_item).await.unwrap().is_some());
    let found = store
        .search_items(&ItemQuery {
            text: Some("sample".to_owned()),
            ..ItemQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = found.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![kept_item], "the demo item left the full text");
    // Unknown sources delete nothing.
    assert_eq!(store.delete_source(demo.id).await.unwrap(), 0);
}

fn retro_job(hunt: rexist_core::HuntId) -> NewJob {
    NewJob {
        kind: "hunt.retro".to_owned(),
        payload: format!(r#"{{"hunt":{}}}"#, hunt.get()),
        dedup_key: Some(format!("hunt.retro:{}", hunt.get())),
        delay: Duration::ZERO,
    }
}

async fn retro_hunts_queue_once_report_progress_and_survive_their_worker(store: Arc<dyn Store>) {
    let h = store
        .create_hunt(&hunt_spec("retro", &[], None))
        .await
        .unwrap();
    let other = store
        .create_hunt(&hunt_spec("other", &[], None))
        .await
        .unwrap();
    assert!(store.retro_hunts(None).await.unwrap().is_empty());
    let job = store
        .queue_retro_hunt(h.id, &retro_job(h.id))
        .await
        .unwrap()
        .expect("queued");
    let queued = store.retro_hunts(Some(h.id)).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].hunt, queued[0].status, queued[0].scanned),
        (h.id, RetroStatus::Queued, 0)
    );
    assert!(queued[0].started_at.is_none() && queued[0].finished_at.is_none());
    // A second start while the first is queued (or running) is refused and
    // leaves the recorded one alone.
    assert!(
        store
            .queue_retro_hunt(h.id, &retro_job(h.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.retro_hunts(Some(h.id)).await.unwrap(), queued);
    // No retro-hunt for a hunt that does not exist, and no job either.
    let gone = rexist_core::HuntId::new(h.id.get() + other.id.get() + 1000);
    assert!(
        store
            .queue_retro_hunt(gone, &retro_job(gone))
            .await
            .unwrap()
            .is_none()
    );

    // A worker takes the job and reports progress.
    let leased = store
        .lease_job("w1", &["hunt.retro"], Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leased.id, job);
    let started = now();
    let mut running = RetroHunt {
        status: RetroStatus::Running,
        scanned: 1000,
        hits: 3,
        started_at: Some(started),
        ..queued[0].clone()
    };
    store.save_retro_hunt(&running).await.unwrap();
    assert_eq!(
        store.retro_hunts(Some(h.id)).await.unwrap(),
        [running.clone()]
    );
    // Its worker dies: no heartbeat, and the sweep marks it interrupted with
    // the counts of its last one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let swept = store
        .interrupt_stale_retro_hunts(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(
        (
            swept[0].hunt,
            swept[0].status,
            swept[0].scanned,
            swept[0].hits
        ),
        (h.id, RetroStatus::Interrupted, 1000, 3)
    );
    assert!(swept[0].finished_at.is_some());
    assert!(
        swept[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("heartbeat"),
        "{:?}",
        swept[0].error
    );
    assert!(
        store
            .interrupt_stale_retro_hunts(Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    // A live one, whose heartbeat is fresh, is left alone.
    running.scanned = 2000;
    store.save_retro_hunt(&running).await.unwrap();
    assert!(
        store
            .interrupt_stale_retro_hunts(Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    // Its end, with an error that quotes odd input.
    let failed = RetroHunt {
        status: RetroStatus::Failed,
        finished_at: Some(now()),
        error: Some("bad \0 input".to_owned()),
        ..running.clone()
    };
    store.save_retro_hunt(&failed).await.unwrap();
    let read = store.retro_hunts(None).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].status, RetroStatus::Failed);
    assert_eq!(read[0].error.as_deref(), Some("bad  input"));
    assert!(store.complete_job(job, "w1").await.unwrap());
    // Once its job is done a new one may start, counts reset.
    assert!(
        store
            .queue_retro_hunt(h.id, &retro_job(h.id))
            .await
            .unwrap()
            .is_some()
    );
    let again = store.retro_hunts(Some(h.id)).await.unwrap();
    assert_eq!(
        (again[0].status, again[0].scanned),
        (RetroStatus::Queued, 0)
    );
    assert!(again[0].error.is_none() && again[0].started_at.is_none());

    // Progress for another hunt is its own row; a deleted hunt's goes with it
    // and a worker that outlived its hunt writes nothing.
    store
        .save_retro_hunt(&RetroHunt {
            hunt: other.id,
            status: RetroStatus::Done,
            ..again[0].clone()
        })
        .await
        .unwrap();
    let ids: Vec<_> = store
        .retro_hunts(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.hunt)
        .collect();
    assert_eq!(ids, [h.id, other.id]);
    assert!(store.delete_hunt(other.id).await.unwrap());
    assert!(store.retro_hunts(Some(other.id)).await.unwrap().is_empty());
    store
        .save_retro_hunt(&RetroHunt {
            hunt: other.id,
            ..again[0].clone()
        })
        .await
        .unwrap();
    assert_eq!(store.retro_hunts(None).await.unwrap().len(), 1);
}

fn taxii_status(id: &str, root: &str, at: OffsetDateTime) -> TaxiiStatus {
    TaxiiStatus {
        id: id.to_owned(),
        api_root: root.to_owned(),
        status: "complete".to_owned(),
        request_timestamp: at,
        total_count: 3,
        success_count: 2,
        failure_count: 1,
        pending_count: 0,
        successes: serde_json::json!([
            {"id": "indicator--1", "version": "2026-01-01T00:00:00.000Z"},
            {"id": "indicator--2", "version": ""}
        ]),
        failures: serde_json::json!([{"id": "object 2", "version": "", "message": "not STIX \u{0}"}]),
        pendings: serde_json::json!([]),
    }
}

async fn taxii_statuses_are_kept_per_root_and_pruned_by_age(store: Arc<dyn Store>) {
    let week = Duration::from_secs(7 * 86_400);
    let fresh = taxii_status("8a5e2b7c-0000-4000-8000-000000000001", "api", now());
    store.save_taxii_status(&fresh, week).await.unwrap();
    assert_eq!(
        store.taxii_status("api", &fresh.id).await.unwrap(),
        Some(fresh.clone())
    );
    assert!(
        store
            .taxii_status("other", &fresh.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.taxii_status("api", "nope").await.unwrap().is_none());
    assert!(
        store.taxii_status("api", "a\0b").await.unwrap().is_none(),
        "odd ids are simply unknown"
    );
    let bad = TaxiiStatus {
        id: "x\0".to_owned(),
        ..fresh.clone()
    };
    assert_eq!(
        store
            .save_taxii_status(&bad, week)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid
    );
    // One older than the retention goes when the next is written.
    let old = taxii_status(
        "8a5e2b7c-0000-4000-8000-000000000002",
        "api",
        now() - time::Duration::days(8),
    );
    store
        .save_taxii_status(&old, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert!(store.taxii_status("api", &old.id).await.unwrap().is_some());
    let next = taxii_status("8a5e2b7c-0000-4000-8000-000000000003", "api", now());
    store.save_taxii_status(&next, week).await.unwrap();
    assert!(store.taxii_status("api", &old.id).await.unwrap().is_none());
    assert!(
        store
            .taxii_status("api", &fresh.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.taxii_status("api", &next.id).await.unwrap().is_some());
}

async fn enrichment_answers_are_shared_until_they_expire(store: Arc<dyn Store>) {
    let at = now();
    let entry = CachedEnrichment {
        provider: "vt".to_owned(),
        kind: IndicatorType::Domain,
        value: "example.com".to_owned(),
        answer: r#"{"status":"ok","summary":{"malicious":2}}"#.to_owned(),
        fetched_at: at,
        expires_at: at + time::Duration::hours(1),
    };
    assert!(
        store
            .cached_enrichment("vt", IndicatorType::Domain, "example.com", at)
            .await
            .unwrap()
            .is_none()
    );
    store.cache_enrichment(&entry).await.unwrap();
    assert_eq!(
        store
            .cached_enrichment("vt", IndicatorType::Domain, "example.com", at)
            .await
            .unwrap(),
        Some(entry.clone())
    );
    // Keyed by provider, type and value.
    for (p, k, v) in [
        ("otx", IndicatorType::Domain, "example.com"),
        ("vt", IndicatorType::Url, "example.com"),
        ("vt", IndicatorType::Domain, "example.org"),
        ("vt", IndicatorType::Domain, "a\0b"),
    ] {
        assert!(
            store
                .cached_enrichment(p, k, v, at)
                .await
                .unwrap()
                .is_none()
        );
    }
    // Not served once expired.
    let later = at + time::Duration::hours(2);
    assert!(
        store
            .cached_enrichment("vt", IndicatorType::Domain, "example.com", later)
            .await
            .unwrap()
            .is_none()
    );
    // A new answer replaces the old.
    let newer = CachedEnrichment {
        answer: r#"{"status":"not_found"}"#.to_owned(),
        expires_at: at + time::Duration::hours(3),
        ..entry.clone()
    };
    store.cache_enrichment(&newer).await.unwrap();
    assert_eq!(
        store
            .cached_enrichment("vt", IndicatorType::Domain, "example.com", later)
            .await
            .unwrap(),
        Some(newer.clone())
    );
    // Expired rows are pruned; live ones stay.
    let short = CachedEnrichment {
        value: "short.example".to_owned(),
        expires_at: at + time::Duration::minutes(5),
        ..entry.clone()
    };
    store.cache_enrichment(&short).await.unwrap();
    assert_eq!(store.prune_enrichments(later).await.unwrap(), 1);
    assert_eq!(store.prune_enrichments(later).await.unwrap(), 0);
    assert!(
        store
            .cached_enrichment("vt", IndicatorType::Domain, "example.com", later)
            .await
            .unwrap()
            .is_some()
    );
    // Oversized or unstorable answers are refused alike on both backends.
    for bad in [
        CachedEnrichment {
            answer: "x".repeat(rexist_store::MAX_CACHED_ANSWER + 1),
            ..entry.clone()
        },
        CachedEnrichment {
            value: "a\0b".to_owned(),
            ..entry.clone()
        },
    ] {
        let e = store.cache_enrichment(&bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    }
}

/// `database_read_url`: lookups, lists and exports read the replica while
/// writes and the single-row reads a writer acts on stay on the primary.
/// The "replica" is a second, empty schema, so a read that reaches it
/// cannot find what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_replica_serves_lists_lookups_and_exports() {
    let (Some(primary), Some(replica)) = (postgres().await, postgres().await) else {
        return;
    };
    let (url, replica_schema) = replica.schema.clone().unwrap();
    let (_, primary_schema) = primary.schema.clone().unwrap();
    let split: Arc<dyn Store> = Arc::new(
        PgStore::connect(&url, Some(&primary_schema))
            .await
            .unwrap()
            .with_replica(&url, Some(&replica_schema))
            .await
            .unwrap(),
    );
    let s = source(&split, "blocklist").await;
    split.upsert_sightings(&s, &ips(0..3, now())).await.unwrap();

    // On the primary: what was written, and the single-row reads.
    let one = split
        .indicator(IndicatorType::Ipv4, "10.0.0.1")
        .await
        .unwrap()
        .expect("written to the primary");
    assert_eq!(split.sightings_of(one.id).await.unwrap().len(), 1);
    let page = primary
        .store
        .list_indicators(&IndicatorQuery {
            limit: 10,
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);

    // On the replica (empty here): lists, lookups and exports.
    let page = split
        .list_indicators(&IndicatorQuery {
            limit: 10,
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty(), "{page:?}");
    let key = (IndicatorType::Ipv4, "10.0.0.1".to_owned());
    assert!(
        split
            .indicators_by_values(std::slice::from_ref(&key))
            .await
            .unwrap()
            .is_empty()
    );
    let rows = split
        .export_indicators(&rexist_store::ExportQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty());
    drop(split);
    primary.cleanup().await;
    replica.cleanup().await;
}

async fn connected_reads_exact_prefixed_and_by_id_within_clearance(store: Arc<dyn Store>) {
    let a = source(&store, "a").await;
    let b = source(&store, "b").await;
    let at = OffsetDateTime::now_utc();
    let mut batch = vec![
        sighting(IndicatorType::Cidr, "45.0.0.0/16", at),
        sighting(IndicatorType::Domain, "bad.example.com", at),
        NewSighting {
            tlp: Some(Tlp::Red),
            ..sighting(IndicatorType::Cidr, "45.0.7.0/24", at)
        },
    ];
    batch.extend((0..5).map(|i| {
        sighting(
            IndicatorType::Url,
            &format!("http://bad.example.com/{i}"),
            at,
        )
    }));
    batch.push(sighting(
        IndicatorType::Url,
        "http://bad.example.community/x",
        at,
    ));
    store.upsert_sightings(&a, &batch).await.expect("a");
    store
        .upsert_sightings(&b, &[sighting(IndicatorType::Cidr, "45.0.0.0/16", at)])
        .await
        .expect("b");
    let domain = store
        .indicator(IndicatorType::Domain, "bad.example.com")
        .await
        .unwrap()
        .unwrap();
    let q = rexist_store::ConnectedQuery {
        ids: vec![domain.id],
        exact: vec![
            (IndicatorType::Cidr, "45.0.0.0/16".to_owned()),
            (IndicatorType::Cidr, "45.0.7.0/24".to_owned()),
            (IndicatorType::Cidr, "45.1.0.0/16".to_owned()),
            // Asked twice (by id and by value): answered once.
            (IndicatorType::Domain, "bad.example.com".to_owned()),
        ],
        prefixes: vec![(IndicatorType::Url, "http://bad.example.com/".to_owned())],
        per_prefix: 3,
        max_tlp: Tlp::Green,
        ..rexist_store::ConnectedQuery::default()
    };
    let found = store.connected(&q).await.expect("connected");
    let mut values: Vec<&str> = found.iter().map(|c| c.record.value.as_str()).collect();
    values.sort_unstable();
    assert_eq!(
        values,
        [
            "45.0.0.0/16",
            "bad.example.com",
            "http://bad.example.com/0",
            "http://bad.example.com/1",
            "http://bad.example.com/2",
        ],
        "TLP:RED left out, three per prefix in value order, no look-alike prefix"
    );
    let net = found
        .iter()
        .find(|c| c.record.value == "45.0.0.0/16")
        .unwrap();
    assert_eq!(net.sources, ["a", "b"]);
    let red = store
        .connected(&rexist_store::ConnectedQuery {
            max_tlp: Tlp::Red,
            ..q.clone()
        })
        .await
        .unwrap();
    assert!(red.iter().any(|c| c.record.value == "45.0.7.0/24"));
    let empty = store
        .connected(&rexist_store::ConnectedQuery::default())
        .await
        .unwrap();
    assert!(empty.is_empty());
}

fn mark(reason: &str, by: &str) -> rexist_core::Marked {
    rexist_core::Marked {
        reason: reason.to_owned(),
        by: by.to_owned(),
        at: now(),
    }
}

async fn curate(
    store: &Arc<dyn Store>,
    id: rexist_core::IndicatorId,
    change: CurationChange,
) -> IndicatorRecord {
    store
        .curate(id, &change)
        .await
        .unwrap()
        .expect("the indicator exists")
}

/// Values of every export row of `q`.
async fn exported(store: &Arc<dyn Store>, q: rexist_store::ExportQuery) -> Vec<String> {
    store
        .export_indicators(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.record.value)
        .collect()
}

async fn false_positive_marks_survive_reingest_and_leave_exports(store: Arc<dyn Store>) {
    let feed = source(&store, "feed").await;
    let seen = now();
    let both = [
        sighting(IndicatorType::Domain, "fp.example", seen),
        sighting(IndicatorType::Domain, "bad.example", seen),
    ];
    store.upsert_sightings(&feed, &both).await.unwrap();
    let fp = indicator_of(&store, IndicatorType::Domain, "fp.example").await;
    let added = store
        .export_indicators(&rexist_store::ExportQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.record.id == fp.id)
        .unwrap()
        .added;
    assert!(
        store
            .curate(
                rexist_core::IndicatorId::new(999_999),
                &CurationChange::UnmarkFalsePositive
            )
            .await
            .unwrap()
            .is_none(),
        "no such indicator"
    );
    let bad = store
        .curate(
            fp.id,
            &CurationChange::MarkFalsePositive(mark("  ", "alice")),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Invalid);
    assert!(bad.to_string().contains("reason"), "{bad}");

    let marked = curate(
        &store,
        fp.id,
        CurationChange::MarkFalsePositive(mark("our mail relay", "alice")),
    )
    .await;
    assert_eq!(marked.status, IndicatorStatus::FalsePositive);
    assert_eq!(marked.status_reason.as_deref(), Some("our mail relay"));
    let facts = store.curations(&[fp.id, marked.id]).await.unwrap();
    assert_eq!(facts.len(), 1);
    let m = facts[0].1.false_positive.clone().unwrap();
    assert_eq!(
        (m.by.as_str(), m.reason.as_str()),
        ("alice", "our mail relay")
    );

    // Nothing a source does clears the mark.
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Domain, "fp.example", now())],
        )
        .await
        .unwrap();
    let other = source(&store, "other").await;
    store
        .upsert_sightings(
            &other,
            &[sighting(IndicatorType::Domain, "fp.example", now())],
        )
        .await
        .unwrap();
    store
        .flag_indicators(&[(
            IndicatorType::Domain,
            "fp.example".into(),
            "on a list".into(),
        )])
        .await
        .unwrap();
    store
        .retire_sightings(
            &feed,
            &[retraction(
                IndicatorType::Domain,
                "fp.example",
                RetractReason::Revoked,
                now(),
            )],
        )
        .await
        .unwrap();
    store
        .expire_indicators(&[(IndicatorType::Domain, Duration::ZERO)])
        .await
        .unwrap();
    let after = indicator_of(&store, IndicatorType::Domain, "fp.example").await;
    assert_eq!(after.status, IndicatorStatus::FalsePositive);
    assert_eq!(after.status_reason.as_deref(), Some("our mail relay"));
    assert_eq!(after.sightings, 2, "the sightings are still counted");
    let listed = store
        .list_indicators(&IndicatorQuery {
            status: Some(IndicatorStatus::FalsePositive),
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].value, "fp.example");

    // Out of every export, active or not; TAXII reads it as revoked, newer.
    let active = rexist_store::ExportQuery {
        active_only: true,
        ..Default::default()
    };
    assert!(
        !exported(&store, active.clone())
            .await
            .contains(&"fp.example".to_owned())
    );
    let all = exported(&store, rexist_store::ExportQuery::default()).await;
    assert!(!all.contains(&"fp.example".to_owned()), "{all:?}");
    assert!(all.contains(&"bad.example".to_owned()));
    let taxii = store
        .export_indicators(&rexist_store::ExportQuery {
            with_retired: true,
            ..active
        })
        .await
        .unwrap();
    let row = taxii
        .iter()
        .find(|r| r.record.value == "fp.example")
        .unwrap();
    assert_eq!(row.record.status, IndicatorStatus::FalsePositive);
    assert!(
        row.added > added,
        "marking moves added: TAXII readers see it again"
    );
}

async fn unmarking_restores_what_holds_now(store: Arc<dyn Store>) {
    let feed = source(&store, "feed").await;
    let seen = now();
    let values = ["live.example", "listed.example", "gone.example"];
    let sightings: Vec<NewSighting> = values
        .iter()
        .map(|v| sighting(IndicatorType::Domain, v, seen))
        .collect();
    store.upsert_sightings(&feed, &sightings).await.unwrap();
    store
        .flag_indicators(&[(
            IndicatorType::Domain,
            "listed.example".into(),
            "on warning list x".into(),
        )])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for v in values {
        let r = indicator_of(&store, IndicatorType::Domain, v).await;
        curate(
            &store,
            r.id,
            CurationChange::MarkFalsePositive(mark("fp", "bob")),
        )
        .await;
        ids.push(r.id);
    }
    // Marking again replaces the reason and keeps what it had before.
    let again = curate(
        &store,
        ids[1],
        CurationChange::MarkFalsePositive(mark("benign", "carol")),
    )
    .await;
    assert_eq!(again.status_reason.as_deref(), Some("benign"));
    store
        .retire_sightings(
            &feed,
            &[retraction(
                IndicatorType::Domain,
                "gone.example",
                RetractReason::Deleted,
                now(),
            )],
        )
        .await
        .unwrap();

    let live = curate(&store, ids[0], CurationChange::UnmarkFalsePositive).await;
    assert_eq!(
        (live.status, live.status_reason),
        (IndicatorStatus::Active, None)
    );
    let listed = curate(&store, ids[1], CurationChange::UnmarkFalsePositive).await;
    assert_eq!(
        listed.status,
        IndicatorStatus::Allowlisted,
        "the warning list holds again"
    );
    assert_eq!(listed.status_reason.as_deref(), Some("on warning list x"));
    let gone = curate(&store, ids[2], CurationChange::UnmarkFalsePositive).await;
    assert_eq!(
        gone.status,
        IndicatorStatus::Retired,
        "no source lists it any more"
    );
    assert!(
        store.curations(&ids).await.unwrap().is_empty(),
        "the marks are gone"
    );
    // Taking back a mark that is not there changes nothing.
    let twice = curate(&store, ids[0], CurationChange::UnmarkFalsePositive).await;
    assert_eq!(twice.status, IndicatorStatus::Active);
}

async fn tlp_raise_and_score_override_hold_through_reingest(store: Arc<dyn Store>) {
    let feed = source(&store, "feed").await; // TLP:GREEN, confidence 70
    let other = source(&store, "other").await;
    store
        .upsert_sightings(&feed, &[sighting(IndicatorType::Ipv4, "192.0.2.9", now())])
        .await
        .unwrap();
    let r = indicator_of(&store, IndicatorType::Ipv4, "192.0.2.9").await;
    assert_eq!((r.tlp, r.score), (Tlp::Green, 70));

    let raised = curate(
        &store,
        r.id,
        CurationChange::RaiseTlp(Tlp::Amber, mark("customer data", "alice")),
    )
    .await;
    assert_eq!(raised.tlp, Tlp::Amber);
    let overridden = curate(
        &store,
        r.id,
        CurationChange::OverrideScore(5, mark("sinkholed", "alice")),
    )
    .await;
    assert_eq!(overridden.score, 5);
    let mut clear = sighting(IndicatorType::Ipv4, "192.0.2.9", now());
    clear.tlp = Some(Tlp::Clear);
    clear.confidence = Some(99);
    store.upsert_sightings(&other, &[clear]).await.unwrap();
    let after = indicator_of(&store, IndicatorType::Ipv4, "192.0.2.9").await;
    assert_eq!(after.tlp, Tlp::Amber, "no report lowers a raised TLP");
    assert_eq!(after.score, 5, "no report moves an overridden score");
    let visible = store
        .export_indicators(&rexist_store::ExportQuery {
            max_tlp: Some(Tlp::Green),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(visible.is_empty(), "a GREEN reader no longer gets it");

    // A raise below the sightings' TLP leaves their TLP; lowering the raise recomputes.
    let mut amber = sighting(IndicatorType::Ipv4, "192.0.2.10", now());
    amber.tlp = Some(Tlp::Amber);
    store.upsert_sightings(&feed, &[amber]).await.unwrap();
    let ten = indicator_of(&store, IndicatorType::Ipv4, "192.0.2.10").await;
    let low = curate(
        &store,
        ten.id,
        CurationChange::RaiseTlp(Tlp::Clear, mark("x", "y")),
    )
    .await;
    assert_eq!(low.tlp, Tlp::Amber);

    // Deleting another source keeps both.
    store.delete_source(other.id).await.unwrap();
    let kept = indicator_of(&store, IndicatorType::Ipv4, "192.0.2.9").await;
    assert_eq!((kept.tlp, kept.score), (Tlp::Amber, 5));
    let facts = store.curations(&[r.id]).await.unwrap().pop().unwrap().1;
    assert_eq!(facts.tlp.unwrap().tlp, Tlp::Amber);
    assert_eq!(facts.score.unwrap().score, 5);

    let cleared = curate(&store, r.id, CurationChange::ClearTlp).await;
    assert_eq!(cleared.tlp, Tlp::Green);
    let cleared = curate(&store, r.id, CurationChange::ClearScore).await;
    assert_eq!(cleared.score, 70, "the sightings' highest confidence again");
    assert!(store.curations(&[r.id]).await.unwrap().is_empty());
    let bad = store
        .curate(r.id, &CurationChange::OverrideScore(101, mark("x", "y")))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("score"), "{bad}");
}

async fn hand_labels_join_exports_and_their_filter(store: Arc<dyn Store>) {
    let feed = source(&store, "feed").await;
    let mut s = sighting(IndicatorType::Domain, "label.example", now());
    s.labels = vec!["phishing".into(), "botnet".into()];
    store
        .upsert_sightings(
            &feed,
            &[s, sighting(IndicatorType::Domain, "plain.example", now())],
        )
        .await
        .unwrap();
    let r = indicator_of(&store, IndicatorType::Domain, "label.example").await;
    for (label, removed) in [("emotet", false), ("phishing", true)] {
        curate(
            &store,
            r.id,
            CurationChange::Label {
                label: label.into(),
                removed,
                mark: mark("triage", "alice"),
            },
        )
        .await;
    }
    let facts = store.curations(&[r.id]).await.unwrap().pop().unwrap().1;
    let hand: Vec<(&str, bool)> = facts
        .labels
        .iter()
        .map(|l| (l.label.as_str(), l.removed))
        .collect();
    assert_eq!(hand, [("emotet", false), ("phishing", true)]);
    let with_context = rexist_store::ExportQuery {
        with_context: true,
        ..Default::default()
    };
    let rows = store.export_indicators(&with_context).await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.record.value == "label.example")
        .unwrap();
    assert_eq!(row.labels, ["botnet", "emotet"]);
    let by_tag = |tag: &str| rexist_store::ExportQuery {
        tag: Some(tag.to_owned()),
        ..Default::default()
    };
    assert_eq!(exported(&store, by_tag("emotet")).await, ["label.example"]);
    assert!(exported(&store, by_tag("phishing")).await.is_empty());
    assert_eq!(exported(&store, by_tag("botnet")).await.len(), 2);

    curate(&store, r.id, CurationChange::ForgetLabel("phishing".into())).await;
    assert_eq!(
        exported(&store, by_tag("phishing")).await,
        ["label.example"]
    );
    let bad = store
        .curate(r.id, &CurationChange::ForgetLabel(" ".into()))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Invalid);
}

async fn notes_and_local_sightings_are_kept_and_go_with_their_indicator(store: Arc<dyn Store>) {
    use rexist_core::{NewLocalSighting, NoteTarget};
    let feed = source(&store, "feed").await;
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Domain, "noted.example", now())],
        )
        .await
        .unwrap();
    let r = indicator_of(&store, IndicatorType::Domain, "noted.example").await;
    let items = store
        .upsert_items(feed.id, &[item("n1", "An incident", "body")])
        .await
        .unwrap();
    let on_item = NoteTarget::Item(items[0].id());
    let on_ind = NoteTarget::Indicator(r.id);

    let first = store
        .add_note(on_ind, "alice", "seen in proxy logs")
        .await
        .unwrap();
    let second = store
        .add_note(on_ind, "bob", "blocked at the edge")
        .await
        .unwrap();
    store
        .add_note(on_item, "alice", "timeline attached")
        .await
        .unwrap();
    let err = store.add_note(on_ind, "alice", "   ").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("text"), "{err}");
    let notes = store.notes(on_ind, 10).await.unwrap();
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        ["blocked at the edge", "seen in proxy logs"],
        "newest first"
    );
    assert_eq!(notes[0].author, "bob");
    assert_eq!(store.notes(on_ind, 1).await.unwrap().len(), 1);
    assert_eq!(
        store.notes(on_item, 10).await.unwrap()[0].text,
        "timeline attached"
    );
    let (target, note) = store.note(first.id).await.unwrap().unwrap();
    assert_eq!((target, note), (on_ind, first.clone()));
    assert!(store.delete_note(second.id).await.unwrap());
    assert!(!store.delete_note(second.id).await.unwrap());
    assert!(store.note(second.id).await.unwrap().is_none());

    assert_eq!(
        store.local_sightings(r.id, 10).await.unwrap(),
        rexist_core::LocalSightings::default()
    );
    let t0 = now() - time::Duration::hours(2);
    let local = |count, place: Option<&str>, at| NewLocalSighting {
        count,
        place: place.map(str::to_owned),
        seen_at: at,
        author: "alice".to_owned(),
    };
    let one = store
        .add_local_sighting(r.id, &local(3, Some("proxy-1"), t0))
        .await
        .unwrap();
    assert_eq!((one.count, one.place.as_deref()), (3, Some("proxy-1")));
    store
        .add_local_sighting(r.id, &local(2, None, t0 + time::Duration::hours(1)))
        .await
        .unwrap();
    let err = store
        .add_local_sighting(r.id, &local(0, None, t0))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("count"), "{err}");
    let summary = store.local_sightings(r.id, 1).await.unwrap();
    assert_eq!((summary.count, summary.reports), (5, 2));
    assert_eq!(summary.last_seen, Some(t0 + time::Duration::hours(1)));
    assert_eq!(summary.recent.len(), 1);
    assert_eq!(summary.recent[0].count, 2, "most recently seen first");

    // Deleting the only source takes the indicator and all of it away.
    curate(
        &store,
        r.id,
        CurationChange::MarkFalsePositive(mark("x", "y")),
    )
    .await;
    store.delete_source(feed.id).await.unwrap();
    assert!(
        store
            .indicator(IndicatorType::Domain, "noted.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.notes(on_ind, 10).await.unwrap().is_empty());
    assert!(store.notes(on_item, 10).await.unwrap().is_empty());
    assert_eq!(store.local_sightings(r.id, 10).await.unwrap().reports, 0);
    assert!(store.curations(&[r.id]).await.unwrap().is_empty());
}

async fn manual_sightings_keep_their_first_author(store: Arc<dyn Store>) {
    let manual = source(&store, rexist_core::MANUAL_SOURCE).await;
    let key = [(IndicatorType::Domain, "hand.example".to_owned())];
    store
        .upsert_sightings(
            &manual,
            &[sighting(IndicatorType::Domain, "hand.example", now())],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .attribute_sightings(manual.id, None, &key, "alice")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .attribute_sightings(manual.id, None, &key, "bob")
            .await
            .unwrap(),
        0,
        "the first author stays"
    );
    let r = indicator_of(&store, IndicatorType::Domain, "hand.example").await;
    let sightings = store.sightings_of(r.id).await.unwrap();
    assert_eq!(sightings[0].author.as_deref(), Some("alice"));
    let feed = source(&store, "feed").await;
    store
        .upsert_sightings(
            &feed,
            &[sighting(IndicatorType::Domain, "hand.example", now())],
        )
        .await
        .unwrap();
    let authors: BTreeSet<Option<String>> = store
        .sightings_of(r.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.author)
        .collect();
    assert_eq!(authors, BTreeSet::from([None, Some("alice".to_owned())]));
}

async fn connected_reads_hosts_at_or_below_a_domain_nearest_first(store: Arc<dyn Store>) {
    let a = source(&store, "a").await;
    let at = OffsetDateTime::now_utc();
    let batch = vec![
        sighting(IndicatorType::Domain, "example.com", at),
        sighting(IndicatorType::Domain, "b.a.example.com", at),
        sighting(IndicatorType::Domain, "a.example.com", at),
        sighting(IndicatorType::Domain, "z.example.com", at),
        sighting(IndicatorType::Domain, "notexample.com", at),
        sighting(IndicatorType::Domain, "example.com.evil.net", at),
        sighting(IndicatorType::Domain, "example.co", at),
        NewSighting {
            tlp: Some(Tlp::Red),
            ..sighting(IndicatorType::Domain, "red.example.com", at)
        },
        sighting(IndicatorType::Email, "x@example.com", at),
        sighting(IndicatorType::Email, "y@mail.example.com", at),
        sighting(IndicatorType::Email, "z@notexample.com", at),
        // Same host, other types: not read by a domain or e-mail range.
        sighting(IndicatorType::Url, "http://a.example.com/", at),
    ];
    store.upsert_sightings(&a, &batch).await.expect("upsert");
    let under = |per: u32, max_tlp: Tlp| rexist_store::ConnectedQuery {
        under: vec![
            (IndicatorType::Domain, "example.com".to_owned()),
            (IndicatorType::Email, "example.com".to_owned()),
        ],
        per_under: per,
        max_tlp,
        ..rexist_store::ConnectedQuery::default()
    };
    let values = |found: Vec<rexist_store::Connected>| -> Vec<String> {
        let mut v: Vec<String> = found.into_iter().map(|c| c.record.value).collect();
        v.sort_unstable();
        v
    };
    let all = store.connected(&under(50, Tlp::Green)).await.expect("all");
    assert!(all.iter().all(|c| c.sources == ["a"]));
    assert_eq!(
        values(all),
        [
            "a.example.com",
            "b.a.example.com",
            "example.com",
            "x@example.com",
            "y@mail.example.com",
            "z.example.com",
        ],
        "the domain, its sub-domains and addresses at or below it; no look-alike, no URL, not TLP:RED"
    );
    // Three of each: the fewest labels below the domain first, so
    // z.example.com rather than b.a.example.com, which sorts before it in
    // reversed-host order (`moc.elpmaxe.a.b.` < `moc.elpmaxe.z.`).
    assert_eq!(
        values(store.connected(&under(3, Tlp::Green)).await.expect("three")),
        [
            "a.example.com",
            "example.com",
            "x@example.com",
            "y@mail.example.com",
            "z.example.com",
        ]
    );
    let red = store.connected(&under(50, Tlp::Red)).await.expect("red");
    assert!(red.iter().any(|c| c.record.value == "red.example.com"));
    // A sub-domain's range holds only what is below it.
    let below_a = store
        .connected(&rexist_store::ConnectedQuery {
            under: vec![(IndicatorType::Domain, "a.example.com".to_owned())],
            per_under: 50,
            max_tlp: Tlp::Green,
            ..rexist_store::ConnectedQuery::default()
        })
        .await
        .expect("below a");
    assert_eq!(values(below_a), ["a.example.com", "b.a.example.com"]);
    // Stored in a later batch, alongside exact and prefix reads.
    store
        .upsert_sightings(
            &a,
            &[sighting(IndicatorType::Domain, "new.example.com", at)],
        )
        .await
        .expect("later");
    let mixed = store
        .connected(&rexist_store::ConnectedQuery {
            exact: vec![(IndicatorType::Domain, "notexample.com".to_owned())],
            prefixes: vec![(IndicatorType::Url, "http://a.example.com/".to_owned())],
            per_prefix: 5,
            ..under(50, Tlp::Green)
        })
        .await
        .expect("mixed");
    let got = values(mixed);
    for v in [
        "new.example.com",
        "notexample.com",
        "http://a.example.com/",
        "y@mail.example.com",
    ] {
        assert!(got.iter().any(|g| g == v), "{v} in {got:?}");
    }
    assert!(!got.iter().any(|g| g == "z@notexample.com"), "{got:?}");
}

/// Indicators with a `last_seen` each, for the recent listing.
async fn seen_at(store: &Arc<dyn Store>, src: &Source, rows: &[(IndicatorType, &str, i64, Tlp)]) {
    let base = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let batch: Vec<NewSighting> = rows
        .iter()
        .map(|(kind, value, minute, tlp)| NewSighting {
            tlp: Some(*tlp),
            ..sighting(*kind, value, base + time::Duration::minutes(*minute))
        })
        .collect();
    store.upsert_sightings(src, &batch).await.expect("upsert");
}

async fn recent_indicators_filter_count_and_page_in_the_store(store: Arc<dyn Store>) {
    let old = source(&store, "old-list").await;
    let new = source(&store, "new-list").await;
    let (d, url, ip, hash) = (
        IndicatorType::Domain,
        IndicatorType::Url,
        IndicatorType::Ipv4,
        IndicatorType::Sha256,
    );
    let g = Tlp::Green;
    seen_at(
        &store,
        &old,
        &[
            (d, "old-one.example", 1, g),
            (d, "old-two.example", 2, g),
            (ip, "198.51.100.1", 3, g),
            (d, "old-secret.example", 4, Tlp::Red),
        ],
    )
    .await;
    let mut newer: Vec<(IndicatorType, String, i64, Tlp)> = (0..30)
        .map(|n| (d, format!("new-{n:02}.example"), 100 + n, g))
        .collect();
    newer.push((url, "http://new.example/Path".to_owned(), 200, g));
    newer.push((hash, "a".repeat(64), 201, g));
    let newer: Vec<(IndicatorType, &str, i64, Tlp)> = newer
        .iter()
        .map(|(k, v, m, t)| (*k, v.as_str(), *m, *t))
        .collect();
    seen_at(&store, &new, &newer).await;
    let q = |f: &dyn Fn(&mut rexist_store::RecentQuery)| {
        let mut q = rexist_store::RecentQuery {
            kinds: vec![d, url, ip],
            max_tlp: g,
            limit: 50,
            count_up_to: 10_000,
            ..rexist_store::RecentQuery::default()
        };
        f(&mut q);
        q
    };
    let values = |c: &rexist_store::Counted<IndicatorRecord>| -> Vec<String> {
        c.items.iter().map(|r| r.value.clone()).collect()
    };

    // The oldest, by the source that alone reported them: all found, newest first.
    let by_old = store
        .recent_indicators(&q(&|q| q.sources = vec![old.id]))
        .await
        .unwrap();
    assert_eq!(
        values(&by_old),
        ["198.51.100.1", "old-two.example", "old-one.example"]
    );
    assert_eq!((by_old.total, by_old.capped), (3, false));
    // A cleared reader sees the TLP:RED one too, by the same source.
    let red = store
        .recent_indicators(&q(&|q| {
            q.sources = vec![old.id];
            q.max_tlp = Tlp::Red;
        }))
        .await
        .unwrap();
    assert_eq!(red.items[0].value, "old-secret.example");
    assert_eq!(red.total, 4);

    // Types, paging and the count.
    let all = store.recent_indicators(&q(&|_| {})).await.unwrap();
    assert_eq!((all.total, all.capped), (34, false), "hashes left out");
    assert_eq!(all.items[0].value, "http://new.example/Path");
    let page = store
        .recent_indicators(&q(&|q| {
            q.offset = 2;
            q.limit = 3;
        }))
        .await
        .unwrap();
    assert_eq!(
        values(&page),
        ["new-28.example", "new-27.example", "new-26.example"]
    );
    assert_eq!(page.total, 34);
    let capped = store
        .recent_indicators(&q(&|q| q.count_up_to = 10))
        .await
        .unwrap();
    assert_eq!((capped.total, capped.capped), (10, true));
    assert_eq!(capped.items.len(), 34, "the page is not cut by the count");
    let exact = store
        .recent_indicators(&q(&|q| q.count_up_to = 34))
        .await
        .unwrap();
    assert_eq!((exact.total, exact.capped), (34, false));

    // An exact value, and substrings (ASCII case-insensitive, every term).
    let one = store
        .recent_indicators(&q(&|q| q.value = Some("old-two.example".into())))
        .await
        .unwrap();
    assert_eq!(values(&one), ["old-two.example"]);
    let path = store
        .recent_indicators(&q(&|q| q.contains = vec!["PATH".into(), "new.".into()]))
        .await
        .unwrap();
    assert_eq!(values(&path), ["http://new.example/Path"]);
    let terms = store
        .recent_indicators(&q(&|q| q.contains = vec!["new-0".into(), "7".into()]))
        .await
        .unwrap();
    assert_eq!(values(&terms), ["new-07.example"]);
    let none = store
        .recent_indicators(&q(&|q| {
            q.sources = vec![old.id];
            q.kinds = vec![url];
        }))
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
    // An analyst's false positive is not reputation.
    let fp = store.indicator(d, "new-07.example").await.unwrap().unwrap();
    store
        .curate(
            fp.id,
            &CurationChange::MarkFalsePositive(mark("ours", "alice")),
        )
        .await
        .unwrap();
    let after = store
        .recent_indicators(&q(&|q| q.contains = vec!["new-0".into(), "7".into()]))
        .await
        .unwrap();
    assert_eq!((after.items.len(), after.total), (0, 0));
}

async fn item_sightings_filter_count_and_page_in_the_store(store: Arc<dyn Store>) {
    let misp = source(&store, "misp").await;
    let otx = source(&store, "otx").await;
    let event = |ext: &str, kind: ItemKind, tlp: Tlp| NewItem {
        kind,
        external_id: ext.into(),
        title: ext.into(),
        body: String::new(),
        url: None,
        lang: None,
        published_at: None,
        tlp,
        tags: vec![],
        extra: serde_json::json!({}),
    };
    let ids: Vec<rexist_core::ItemId> = store
        .upsert_items(
            misp.id,
            &[
                event("e1", ItemKind::Event, Tlp::Clear),
                event("e2", ItemKind::Event, Tlp::Clear),
                event("red", ItemKind::Event, Tlp::Red),
                event("news", ItemKind::News, Tlp::Clear),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(ItemChange::id)
        .collect();
    let pulse = store
        .upsert_items(otx.id, &[event("p1", ItemKind::Event, Tlp::Clear)])
        .await
        .unwrap()[0]
        .id();
    let base = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let in_item = |item, kind, value: &str, minute: i64| NewSighting {
        item_id: Some(item),
        ..sighting(kind, value, base + time::Duration::minutes(minute))
    };
    let (d, i) = (IndicatorType::Domain, IndicatorType::Ipv4);
    store
        .upsert_sightings(
            &misp,
            &[
                in_item(ids[0], d, "evil.example", 1),
                in_item(ids[0], i, "192.0.2.1", 2),
                in_item(ids[1], d, "evil.example", 3),
                in_item(ids[1], d, "other.example", 4),
                NewSighting {
                    tlp: Some(Tlp::Red),
                    ..in_item(ids[1], d, "hidden.example", 5)
                },
                in_item(ids[2], d, "in-red-event.example", 6),
                in_item(ids[3], d, "in-news.example", 7),
                // A feed sighting, in no item.
                sighting(d, "feed.example", base),
            ],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(&otx, &[in_item(pulse, d, "evil.example", 8)])
        .await
        .unwrap();
    let q = |f: &dyn Fn(&mut rexist_store::ItemSightingQuery)| {
        let mut q = rexist_store::ItemSightingQuery {
            item_kind: Some(ItemKind::Event),
            sources: vec![misp.id],
            max_tlp: Tlp::Green,
            limit: 50,
            count_up_to: 10_000,
            ..rexist_store::ItemSightingQuery::default()
        };
        f(&mut q);
        q
    };
    let rows = |c: &rexist_store::Counted<(rexist_core::Sighting, IndicatorRecord)>| {
        c.items
            .iter()
            .map(|(s, r)| (s.item_id.unwrap(), r.value.clone()))
            .collect::<Vec<_>>()
    };
    let all = store.item_sightings(&q(&|_| {})).await.unwrap();
    assert_eq!(
        rows(&all),
        [
            (ids[1], "other.example".to_owned()),
            (ids[1], "evil.example".to_owned()),
            (ids[0], "192.0.2.1".to_owned()),
            (ids[0], "evil.example".to_owned()),
        ],
        "newest first; no feed, news, OTX, TLP:RED event or TLP:RED sighting"
    );
    assert_eq!((all.total, all.capped), (4, false));
    let (s, rec) = &all.items[1];
    assert_eq!((s.source_id, rec.kind), (misp.id, d));
    let red = store
        .item_sightings(&q(&|q| q.max_tlp = Tlp::Red))
        .await
        .unwrap();
    assert_eq!(red.total, 6);
    let any_source = store
        .item_sightings(&q(&|q| q.sources.clear()))
        .await
        .unwrap();
    assert_eq!(any_source.total, 5, "the OTX pulse's too");

    let in_e1 = store
        .item_sightings(&q(&|q| q.item = Some(ids[0])))
        .await
        .unwrap();
    assert_eq!(in_e1.total, 2);
    let by_id = store
        .item_sightings(&q(&|q| q.sighting = Some(s.id)))
        .await
        .unwrap();
    assert_eq!(rows(&by_id), [(ids[1], "evil.example".to_owned())]);
    let ips = store
        .item_sightings(&q(&|q| q.kinds = vec![i]))
        .await
        .unwrap();
    assert_eq!(rows(&ips), [(ids[0], "192.0.2.1".to_owned())]);
    let evil = store
        .item_sightings(&q(&|q| q.value = Some("evil.example".into())))
        .await
        .unwrap();
    assert_eq!(evil.total, 2);
    let search = store
        .item_sightings(&q(&|q| q.contains = vec!["OTHER".into()]))
        .await
        .unwrap();
    assert_eq!(rows(&search), [(ids[1], "other.example".to_owned())]);
    let window = store
        .item_sightings(&q(&|q| {
            q.seen_after = Some(base + time::Duration::minutes(2));
            q.seen_before = Some(base + time::Duration::minutes(3));
        }))
        .await
        .unwrap();
    assert_eq!(
        rows(&window),
        [
            (ids[1], "evil.example".to_owned()),
            (ids[0], "192.0.2.1".to_owned()),
        ],
        "bounds inclusive"
    );
    let page = store
        .item_sightings(&q(&|q| {
            q.offset = 1;
            q.limit = 2;
            q.count_up_to = 3;
        }))
        .await
        .unwrap();
    assert_eq!(
        rows(&page),
        [
            (ids[1], "evil.example".to_owned()),
            (ids[0], "192.0.2.1".to_owned()),
        ]
    );
    assert_eq!((page.total, page.capped), (3, true));
}

/// Domains and addresses stored before migration 11, and the keys rexist
/// writes for them on insert (both backends must backfill the same ones).
fn host_rows(at: OffsetDateTime) -> Vec<NewSighting> {
    vec![
        sighting(IndicatorType::Domain, "example.com", at),
        sighting(IndicatorType::Domain, "a.example.com", at),
        sighting(IndicatorType::Domain, "xn--bcher-kva.example", at),
        sighting(IndicatorType::Domain, "notexample.com", at),
        sighting(IndicatorType::Email, "x@mail.example.com", at),
        sighting(IndicatorType::Ipv4, "192.0.2.1", at),
    ]
}

const HOST_KEYS: [(&str, Option<&str>); 6] = [
    ("192.0.2.1", None),
    ("a.example.com", Some("moc.elpmaxe.a.")),
    ("example.com", Some("moc.elpmaxe.")),
    ("notexample.com", Some("moc.elpmaxeton.")),
    ("x@mail.example.com", Some("moc.elpmaxe.liam.")),
    ("xn--bcher-kva.example", Some("elpmaxe.avk-rehcb--nx.")),
];

/// What a lookup of `example.com` reads below it, sorted.
async fn below_example_com(store: &Arc<dyn Store>) -> Vec<String> {
    let found = store
        .connected(&rexist_store::ConnectedQuery {
            under: vec![
                (IndicatorType::Domain, "example.com".to_owned()),
                (IndicatorType::Email, "example.com".to_owned()),
            ],
            per_under: 50,
            max_tlp: Tlp::Green,
            ..rexist_store::ConnectedQuery::default()
        })
        .await
        .unwrap();
    let mut v: Vec<String> = found.into_iter().map(|c| c.record.value).collect();
    v.sort_unstable();
    v
}

const BELOW_EXAMPLE_COM: [&str; 3] = ["a.example.com", "example.com", "x@mail.example.com"];

/// Migration 11 on SQLite: the keys of rows stored before it are filled
/// (in Rust, SQLite having no `reverse()`) exactly as inserts write them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keys_of_rows_stored_before_migration_41_are_filled_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rexist.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    store.migrate().await.unwrap();
    let src = source(&store, "a").await;
    store
        .upsert_sightings(&src, &host_rows(OffsetDateTime::now_utc()))
        .await
        .unwrap();
    let keys = |conn: &rusqlite::Connection| -> Vec<(String, Option<String>)> {
        conn.prepare("SELECT value, rhost FROM indicators ORDER BY value")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let want: Vec<(String, Option<String>)> = HOST_KEYS
        .iter()
        .map(|(v, k)| ((*v).to_owned(), k.map(str::to_owned)))
        .collect();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(keys(&conn), want, "as inserted");
    // Back to the schema before migration 11, rows and all.
    conn.execute_batch(
        "DROP INDEX indicators_by_rhost;
         ALTER TABLE indicators DROP COLUMN rhost;
         DELETE FROM schema_migrations WHERE version = 11;",
    )
    .unwrap();
    assert_eq!(store.migrate().await.unwrap(), 1);
    assert_eq!(keys(&conn), want, "as backfilled");
    assert_eq!(below_example_com(&store).await, BELOW_EXAMPLE_COM);
}

/// Migration 11 on PostgreSQL: its SQL backfill (`reverse()`) gives the keys
/// rexist's inserts write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keys_of_rows_stored_before_migration_41_are_filled_postgres() {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let Some(h) = postgres().await else {
        return;
    };
    let (url, schema) = h.schema.clone().unwrap();
    let store = Arc::clone(&h.store);
    let src = source(&store, "a").await;
    store
        .upsert_sightings(&src, &host_rows(OffsetDateTime::now_utc()))
        .await
        .unwrap();
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
    let keys = async |conn: &mut sqlx::PgConnection| -> Vec<(String, Option<String>)> {
        sqlx::query("SELECT value, rhost FROM indicators ORDER BY value")
            .fetch_all(conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let want: Vec<(String, Option<String>)> = HOST_KEYS
        .iter()
        .map(|(v, k)| ((*v).to_owned(), k.map(str::to_owned)))
        .collect();
    assert_eq!(keys(&mut conn).await, want, "as inserted");
    conn.execute(
        "DROP INDEX indicators_by_rhost;
         ALTER TABLE indicators DROP COLUMN rhost;
         DELETE FROM schema_migrations WHERE version = 11;",
    )
    .await
    .unwrap();
    assert_eq!(store.migrate().await.unwrap(), 1);
    assert_eq!(keys(&mut conn).await, want, "as backfilled");
    assert_eq!(below_example_com(&store).await, BELOW_EXAMPLE_COM);
    conn.close().await.unwrap();
    drop(store);
    h.cleanup().await;
}

async fn domains_read_at_or_below_with_their_addresses_and_urls(store: Arc<dyn Store>) {
    let s = source(&store, "hosts").await;
    let t = now();
    let mut batch = vec![
        sighting(IndicatorType::Domain, "example.com", t),
        sighting(IndicatorType::Domain, "a.example.com", t),
        sighting(IndicatorType::Domain, "b.a.example.com", t),
        sighting(IndicatorType::Domain, "badexample.com", t),
        sighting(IndicatorType::Domain, "example.com.evil.org", t),
        sighting(IndicatorType::Email, "x@example.com", t),
        sighting(IndicatorType::Email, "y@mail.example.com", t),
        sighting(IndicatorType::Email, "z@notexample.com", t),
        sighting(IndicatorType::Url, "https://c.example.com/login", t),
        sighting(IndicatorType::Url, "http://example.com:8080/", t),
        sighting(IndicatorType::Url, "https://other.org/", t),
        sighting(IndicatorType::Ipv4, "192.0.2.1", t),
    ];
    // One below it the reader may not see.
    batch.push(NewSighting {
        tlp: Some(Tlp::Red),
        ..sighting(IndicatorType::Domain, "secret.example.com", t)
    });
    // Many rows before them in value order: the read is not a window.
    batch.extend(ips(0..500, t));
    store.upsert_sightings(&s, &batch).await.unwrap();

    let mut values = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .indicators_at_or_below(&rexist_store::DomainQuery {
                domain: "example.com".into(),
                max_tlp: Some(Tlp::Amber),
                after: after.take(),
                limit: 3,
            })
            .await
            .unwrap();
        pages += 1;
        values.extend(page.items.iter().map(|r| r.value.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        values,
        [
            "a.example.com",
            "b.a.example.com",
            "example.com",
            "http://example.com:8080/",
            "https://c.example.com/login",
            "x@example.com",
            "y@mail.example.com",
        ],
        "in value order, TLP:RED and look-alikes left out"
    );
    assert_eq!(pages, 3, "pages of three");
    let below = |domain: &str, max_tlp| {
        let store = Arc::clone(&store);
        let q = rexist_store::DomainQuery {
            domain: domain.into(),
            max_tlp,
            after: None,
            limit: 100,
        };
        async move {
            let page = store.indicators_at_or_below(&q).await.unwrap();
            page.items.into_iter().map(|r| r.value).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        below("a.example.com", Some(Tlp::Amber)).await,
        ["a.example.com", "b.a.example.com"]
    );
    assert!(
        below("example.com", None)
            .await
            .contains(&"secret.example.com".to_owned()),
        "without a clearance, everything"
    );
    let bad = store
        .indicators_at_or_below(&rexist_store::DomainQuery {
            domain: "example.com".into(),
            after: Some("not a cursor".into()),
            ..rexist_store::DomainQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Invalid);
}

fn seen(kind: IndicatorType, value: &str, at: OffsetDateTime, conf: u8, tlp: Tlp) -> NewSighting {
    NewSighting {
        confidence: Some(conf),
        tlp: Some(tlp),
        ..sighting(kind, value, at)
    }
}

async fn search_values(store: &Arc<dyn Store>, q: &rexist_store::IndicatorSearch) -> Vec<String> {
    store
        .search_indicators(q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.value)
        .collect()
}

fn counts(list: &[rexist_store::FacetCount]) -> BTreeMap<String, u64> {
    list.iter().map(|c| (c.value.clone(), c.count)).collect()
}

async fn indicator_search_filters_sorts_pages_and_counts_facets(store: Arc<dyn Store>) {
    use rexist_store::{IndicatorFilter, IndicatorSearch, IndicatorSort};
    let alpha = source(&store, "alpha").await;
    let beta = source(&store, "beta").await;
    let t = now();
    let day = time::Duration::days(1);
    let ip = IndicatorType::Ipv4;
    store
        .upsert_sightings(
            &alpha,
            &[
                seen(ip, "10.0.0.1", t - day * 5, 10, Tlp::Green),
                seen(ip, "10.0.0.2", t - day * 4, 90, Tlp::Green),
                seen(ip, "10.0.0.3", t - day * 3, 50, Tlp::Green),
                seen(ip, "10.0.0.4", t - day * 2, 70, Tlp::Clear),
                seen(
                    IndicatorType::Domain,
                    "evil.example",
                    t - day,
                    60,
                    Tlp::Amber,
                ),
            ],
        )
        .await
        .unwrap();
    // beta reports one green indicator only at red, and one of its own at red.
    store
        .upsert_sightings(
            &beta,
            &[
                seen(ip, "10.0.0.1", t, 20, Tlp::Red),
                seen(IndicatorType::Domain, "secret.example", t, 99, Tlp::Red),
            ],
        )
        .await
        .unwrap();
    let all = |clearance: Tlp| IndicatorFilter {
        max_tlp: clearance,
        ..IndicatorFilter::default()
    };
    let search = |filter: IndicatorFilter, sort: IndicatorSort| IndicatorSearch {
        filter,
        sort,
        after: None,
        limit: 100,
    };
    // Filters combine.
    let ipv4s = IndicatorFilter {
        kinds: vec![ip],
        ..all(Tlp::Red)
    };
    assert_eq!(
        search_values(&store, &search(ipv4s.clone(), IndicatorSort::Value)).await,
        ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    );
    let scored = IndicatorFilter {
        min_score: Some(50),
        max_score: Some(80),
        ..ipv4s.clone()
    };
    assert_eq!(
        search_values(&store, &search(scored, IndicatorSort::Score)).await,
        ["10.0.0.4", "10.0.0.3"]
    );
    let dated = IndicatorFilter {
        from: Some(t - day * 4 - time::Duration::hours(1)),
        to: Some(t - day * 2 - time::Duration::hours(1)),
        ..ipv4s.clone()
    };
    assert_eq!(
        search_values(&store, &search(dated, IndicatorSort::Oldest)).await,
        ["10.0.0.2", "10.0.0.3", "10.0.0.1"],
        "seen within the range: first seen before its end, last seen after its start"
    );
    let clear = IndicatorFilter {
        tlps: vec![Tlp::Clear, Tlp::Amber],
        ..all(Tlp::Red)
    };
    assert_eq!(
        search_values(&store, &search(clear, IndicatorSort::Newest)).await,
        ["evil.example", "10.0.0.4"]
    );
    let by_beta = |clearance| IndicatorFilter {
        source: Some("beta".to_owned()),
        ..all(clearance)
    };
    assert_eq!(
        search_values(&store, &search(by_beta(Tlp::Red), IndicatorSort::Value)).await,
        ["10.0.0.1", "secret.example"]
    );
    assert!(
        search_values(&store, &search(by_beta(Tlp::Green), IndicatorSort::Value))
            .await
            .is_empty(),
        "a source is matched only through sightings the reader may see"
    );
    let labelled = IndicatorFilter {
        label: Some("botnet".to_owned()),
        prefix: Some("10.0.0.".to_owned()),
        ..all(Tlp::Red)
    };
    assert_eq!(
        search_values(&store, &search(labelled, IndicatorSort::Value))
            .await
            .len(),
        4
    );
    // Every order pages through every match once.
    for sort in [
        IndicatorSort::Value,
        IndicatorSort::Newest,
        IndicatorSort::Oldest,
        IndicatorSort::Score,
    ] {
        let whole = search_values(&store, &search(all(Tlp::Red), sort)).await;
        assert_eq!(whole.len(), 6, "{sort:?}");
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .search_indicators(&IndicatorSearch {
                    filter: all(Tlp::Red),
                    sort,
                    after,
                    limit: 4,
                })
                .await
                .unwrap();
            paged.extend(page.items.into_iter().map(|r| r.value));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(paged, whole, "{sort:?}");
    }
    let newest = search_values(&store, &search(all(Tlp::Red), IndicatorSort::Newest)).await;
    assert_eq!(newest.last().map(String::as_str), Some("10.0.0.2"));
    let bad = store
        .search_indicators(&IndicatorSearch {
            after: Some("n.x.1".to_owned()),
            ..search(all(Tlp::Red), IndicatorSort::Newest)
        })
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Invalid);

    // Facets: each counts the other filters' matches, within the clearance.
    let f = store.indicator_facets(&ipv4s).await.unwrap();
    assert_eq!(
        counts(&f.types),
        BTreeMap::from([("domain".to_owned(), 2), ("ipv4".to_owned(), 4)]),
        "the type facet leaves its own filter out"
    );
    assert_eq!(
        counts(&f.statuses),
        BTreeMap::from([("active".to_owned(), 4)])
    );
    assert_eq!(
        counts(&f.tlps),
        BTreeMap::from([("clear".to_owned(), 1), ("green".to_owned(), 3)])
    );
    assert_eq!(
        counts(&f.sources),
        BTreeMap::from([("alpha".to_owned(), 4), ("beta".to_owned(), 1)])
    );
    assert!(!f.capped);
    let green = store.indicator_facets(&all(Tlp::Green)).await.unwrap();
    assert_eq!(
        counts(&green.types),
        BTreeMap::from([("ipv4".to_owned(), 4)]),
        "nothing above the clearance is counted"
    );
    assert!(
        green
            .tlps
            .iter()
            .all(|c| c.value == "clear" || c.value == "green")
    );
    assert_eq!(
        counts(&green.sources),
        BTreeMap::from([("alpha".to_owned(), 4)]),
        "a source seen only above the clearance is not counted"
    );
    // A status filter, after a false-positive mark.
    let one = store.indicator(ip, "10.0.0.3").await.unwrap().unwrap();
    store
        .curate(
            one.id,
            &CurationChange::MarkFalsePositive(rexist_core::Marked {
                reason: "scanner".to_owned(),
                by: "ana".to_owned(),
                at: now(),
            }),
        )
        .await
        .unwrap();
    let fp = IndicatorFilter {
        statuses: vec![IndicatorStatus::FalsePositive],
        ..all(Tlp::Red)
    };
    assert_eq!(
        search_values(&store, &search(fp.clone(), IndicatorSort::Value)).await,
        ["10.0.0.3"]
    );
    let f = store.indicator_facets(&fp).await.unwrap();
    assert_eq!(
        counts(&f.statuses),
        BTreeMap::from([("active".to_owned(), 5), ("false_positive".to_owned(), 1)])
    );
    assert_eq!(counts(&f.types), BTreeMap::from([("ipv4".to_owned(), 1)]));
}

async fn item_search_filters_sorts_and_counts_facets(store: Arc<dyn Store>) {
    use rexist_store::{ItemFilter, ItemSearch, ItemSort};
    let news = source(&store, "news").await;
    let forum = source(&store, "forum").await;
    let mut red = item(
        "r1",
        "Secret ransomware memo",
        "ransomware ransomware inside",
    );
    red.tlp = Tlp::Red;
    let mut old = item("n0", "Old note", "nothing about it");
    old.published_at = Some(now() - time::Duration::days(30));
    store
        .upsert_items(
            news.id,
            &[
                item(
                    "n1",
                    "Ransomware wave",
                    "ransomware ransomware ransomware everywhere",
                ),
                item("n2", "Patch day", "a patch for a ransomware loader"),
                old,
                red,
            ],
        )
        .await
        .unwrap();
    let mut post = item("f1", "Forum chatter", "someone sells ransomware");
    post.kind = ItemKind::Post;
    store.upsert_items(forum.id, &[post]).await.unwrap();
    let titles = |page: rexist_store::Page<rexist_core::Item>| -> Vec<String> {
        page.items.into_iter().map(|i| i.content.title).collect()
    };
    let filter = |clearance| ItemFilter {
        max_tlp: clearance,
        ..ItemFilter::default()
    };
    let search = |filter: ItemFilter, sort| ItemSearch {
        filter,
        sort,
        after: None,
        limit: 100,
    };
    let ransom = ItemFilter {
        text: Some("ransomware".to_owned()),
        ..filter(Tlp::Amber)
    };
    let relevant = titles(
        store
            .search_items_by(&search(ransom.clone(), ItemSort::Relevance))
            .await
            .unwrap(),
    );
    assert_eq!(relevant.len(), 3, "{relevant:?}");
    assert_eq!(relevant[0], "Ransomware wave", "the best match first");
    let newest = titles(
        store
            .search_items_by(&search(ransom.clone(), ItemSort::Newest))
            .await
            .unwrap(),
    );
    assert_eq!(newest, ["Forum chatter", "Patch day", "Ransomware wave"]);
    let oldest = titles(
        store
            .search_items_by(&search(ransom.clone(), ItemSort::Oldest))
            .await
            .unwrap(),
    );
    assert_eq!(oldest, ["Ransomware wave", "Patch day", "Forum chatter"]);
    // Relevance pages by offset and reaches every match once.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .search_items_by(&ItemSearch {
                after,
                limit: 2,
                ..search(ransom.clone(), ItemSort::Relevance)
            })
            .await
            .unwrap();
        paged.extend(page.items.into_iter().map(|i| i.content.title));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, relevant);
    let posts = ItemFilter {
        kinds: vec![ItemKind::Post],
        ..ransom.clone()
    };
    assert_eq!(
        titles(
            store
                .search_items_by(&search(posts.clone(), ItemSort::Newest))
                .await
                .unwrap()
        ),
        ["Forum chatter"]
    );
    let recent = ItemFilter {
        from: Some(now() - time::Duration::days(2)),
        sources: vec![news.id],
        ..filter(Tlp::Amber)
    };
    assert_eq!(
        titles(
            store
                .search_items_by(&search(recent, ItemSort::Oldest))
                .await
                .unwrap()
        ),
        ["Ransomware wave", "Patch day"]
    );
    let f = store.item_facets(&posts).await.unwrap();
    assert_eq!(
        counts(&f.kinds),
        BTreeMap::from([("news".to_owned(), 2), ("post".to_owned(), 1)])
    );
    assert_eq!(
        counts(&f.sources),
        BTreeMap::from([("forum".to_owned(), 1)])
    );
    assert_eq!(counts(&f.tlps), BTreeMap::from([("clear".to_owned(), 1)]));
    let everything = store.item_facets(&filter(Tlp::Amber)).await.unwrap();
    assert_eq!(
        counts(&everything.sources),
        BTreeMap::from([("forum".to_owned(), 1), ("news".to_owned(), 3)]),
        "the red item is not counted"
    );
    assert!(everything.tlps.iter().all(|c| c.value != "red"));
    let with_red = store.item_facets(&filter(Tlp::Red)).await.unwrap();
    assert_eq!(counts(&with_red.tlps).get("red"), Some(&1));
    let nothing = ItemFilter {
        text: Some("...".to_owned()),
        ..filter(Tlp::Red)
    };
    assert!(
        store
            .search_items_by(&search(nothing, ItemSort::Relevance))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn saved_searches_are_kept_per_owner(store: Arc<dyn Store>) {
    let a = store
        .save_search("ana", "ipv4s", "type=ipv4")
        .await
        .unwrap();
    assert_eq!(a.query, "type=ipv4");
    store
        .save_search("ana", "c2", "q=c2&sort=newest")
        .await
        .unwrap();
    store
        .save_search("bob", "ipv4s", "type=ipv6")
        .await
        .unwrap();
    // The same name again replaces it.
    store
        .save_search("ana", "ipv4s", "type=ipv4&min_score=50")
        .await
        .unwrap();
    let ana = store.saved_searches("ana").await.unwrap();
    let names: Vec<(&str, &str)> = ana
        .iter()
        .map(|s| (s.name.as_str(), s.query.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("c2", "q=c2&sort=newest"),
            ("ipv4s", "type=ipv4&min_score=50")
        ]
    );
    assert_eq!(
        store.saved_searches("bob").await.unwrap()[0].query,
        "type=ipv6"
    );
    assert!(store.delete_search("ana", "c2").await.unwrap());
    assert!(!store.delete_search("ana", "c2").await.unwrap());
    assert_eq!(store.saved_searches("ana").await.unwrap().len(), 1);
    let e = store.save_search("ana", " ", "q=x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    for n in 1..rexist_store::search::MAX_SAVED_SEARCHES {
        store
            .save_search("cap", &format!("s{n}"), "q=x")
            .await
            .unwrap();
    }
    store.save_search("cap", "last", "q=x").await.unwrap();
    let e = store
        .save_search("cap", "one-more", "q=x")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    store.save_search("cap", "last", "q=y").await.unwrap();
}

async fn bulk_curation_changes_many_in_one_call(store: Arc<dyn Store>) {
    let s = source(&store, "feed").await;
    store
        .upsert_sightings(&s, &ips(0..30, now()))
        .await
        .unwrap();
    let page = store
        .list_indicators(&IndicatorQuery {
            limit: 1000,
            ..IndicatorQuery::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<_> = page.items.iter().map(|r| r.id).collect();
    ids.push(rexist_core::IndicatorId::new(9_999_999));
    let change = CurationChange::Label {
        label: "campaign-x".to_owned(),
        removed: false,
        mark: rexist_core::Marked {
            reason: "bulk".to_owned(),
            by: "ana".to_owned(),
            at: now(),
        },
    };
    let done = store.curate_many(&ids, &change).await.unwrap();
    assert_eq!(done.len(), 30, "an unknown id is skipped");
    let facts = store.curations(&ids).await.unwrap();
    assert_eq!(facts.len(), 30);
    assert!(
        facts
            .iter()
            .all(|(_, c)| c.labels.iter().any(|l| l.label == "campaign-x"))
    );
    let labelled = rexist_store::IndicatorFilter {
        label: Some("campaign-x".to_owned()),
        max_tlp: Tlp::Red,
        ..rexist_store::IndicatorFilter::default()
    };
    let found = store
        .search_indicators(&rexist_store::IndicatorSearch {
            filter: labelled,
            limit: 100,
            ..rexist_store::IndicatorSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 30, "a hand label is searchable");
    // A bad change is refused before anything is written.
    let bad = CurationChange::Label {
        label: " ".to_owned(),
        removed: false,
        mark: rexist_core::Marked {
            reason: "x".to_owned(),
            by: "ana".to_owned(),
            at: now(),
        },
    };
    assert_eq!(
        store.curate_many(&ids, &bad).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
}

async fn entities_resolve_link_and_read_within_clearance(store: Arc<dyn Store>) {
    let home = source(&store, "entities").await;
    let feed = source(&store, "otx").await;
    let entity = |kind, key: &str, title: &str, tlp| NewItem {
        kind,
        external_id: key.to_owned(),
        title: title.to_owned(),
        body: String::new(),
        url: None,
        lang: None,
        published_at: None,
        tlp,
        tags: Vec::new(),
        extra: serde_json::json!({"aliases": []}),
    };
    let made = store
        .upsert_items(
            home.id,
            &[
                entity(
                    ItemKind::ThreatActor,
                    "actor:examplepanda",
                    "Example Panda",
                    Tlp::Clear,
                ),
                entity(
                    ItemKind::Malware,
                    "software:exampleloader",
                    "ExampleLoader",
                    Tlp::Clear,
                ),
                entity(
                    ItemKind::ThreatActor,
                    "actor:secretbear",
                    "Secret Bear",
                    Tlp::Red,
                ),
            ],
        )
        .await
        .unwrap();
    let (panda, loader, bear) = (made[0].id(), made[1].id(), made[2].id());
    let names = |v: &[&str]| -> Vec<(String, String)> {
        v.iter()
            .map(|n| (rexist_core::entity::name_key(n), (*n).to_owned()))
            .collect()
    };
    assert_eq!(
        store
            .add_entity_names(panda, "actor", &names(&["Example Panda", "PANDA-X"]))
            .await
            .unwrap(),
        2
    );
    // A name already taken keeps its entity; only the new one is added.
    assert_eq!(
        store
            .add_entity_names(bear, "actor", &names(&["example panda", "Secret Bear"]))
            .await
            .unwrap(),
        1
    );
    store
        .add_entity_names(loader, "software", &names(&["ExampleLoader"]))
        .await
        .unwrap();
    let key = |n: &str| vec![rexist_core::entity::name_key(n)];
    assert_eq!(
        store.entity_named("actor", &key("panda x")).await.unwrap(),
        Some(panda)
    );
    assert_eq!(
        store
            .entity_named("actor", &key("EXAMPLE-PANDA"))
            .await
            .unwrap(),
        Some(panda)
    );
    assert_eq!(
        store
            .entity_named("software", &key("Example Panda"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .entity_named(
                "actor",
                &[String::from("nobody"), key("Secret Bear")[0].clone()]
            )
            .await
            .unwrap(),
        Some(bear)
    );

    // Two pulses name the panda and the loader; a RED event names the bear with the panda.
    let mut red = item("e-red", "Red event", "secret");
    red.tlp = Tlp::Red;
    let pulses = store
        .upsert_items(
            feed.id,
            &[
                item("p1", "Pulse one", "x"),
                item("p2", "Pulse two", "y"),
                red,
            ],
        )
        .await
        .unwrap();
    let (p1, p2, pr) = (pulses[0].id(), pulses[1].id(), pulses[2].id());
    let at = now();
    let link = |entity, item| EntityLink {
        entity,
        item,
        source: feed.id,
        is_item: false,
        seen_at: at,
    };
    let links = [
        link(panda, p1),
        link(loader, p1),
        link(panda, p2),
        link(panda, pr),
        link(bear, pr),
    ];
    assert_eq!(store.link_entities(&links).await.unwrap(), 5);
    // Linking again adds nothing.
    assert_eq!(store.link_entities(&links[..2]).await.unwrap(), 0);
    let mut s1 = sighting(IndicatorType::Domain, "panda.example", at);
    s1.item_id = Some(p1);
    s1.tlp = Some(Tlp::Clear);
    let mut s2 = sighting(IndicatorType::Ipv4, "192.0.2.77", at);
    s2.item_id = Some(pr);
    s2.tlp = Some(Tlp::Red);
    store.upsert_sightings(&feed, &[s1, s2]).await.unwrap();

    let of = store
        .entities_of_items(&[p1, p2, pr], Tlp::Clear)
        .await
        .unwrap();
    let pairs: BTreeSet<(i64, String)> = of
        .iter()
        .map(|(i, e)| (i.get(), e.content.title.clone()))
        .collect();
    // The RED entity is not shown below RED; the panda is, for every item.
    assert!(pairs.contains(&(p1.get(), "Example Panda".to_owned())));
    assert!(pairs.contains(&(p1.get(), "ExampleLoader".to_owned())));
    assert!(pairs.contains(&(pr.get(), "Example Panda".to_owned())));
    assert!(!pairs.iter().any(|(_, t)| t == "Secret Bear"));
    assert_eq!(of.len(), 4);

    let facts = store.entity_facts(panda, Tlp::Clear, 10).await.unwrap();
    assert_eq!(facts.names, vec!["Example Panda", "PANDA-X"]);
    // The RED event is neither counted nor listed at CLEAR.
    assert_eq!(facts.items_total, 2);
    assert_eq!(facts.items.len(), 2);
    assert_eq!(facts.sources, vec![("otx".to_owned(), 2)]);
    let values: Vec<&str> = facts.indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values, vec!["panda.example"]);
    let related: Vec<(&str, u64)> = facts
        .related
        .iter()
        .map(|(e, n)| (e.content.title.as_str(), *n))
        .collect();
    assert_eq!(related, vec![("ExampleLoader", 1)]);
    assert_eq!(facts.months.iter().map(|m| m.1).sum::<u64>(), 2);
    assert_eq!(facts.months[0].0.len(), 7, "{:?}", facts.months);

    let red_facts = store.entity_facts(panda, Tlp::Red, 10).await.unwrap();
    assert_eq!(red_facts.items_total, 3);
    assert_eq!(red_facts.indicators.len(), 2);
    assert!(red_facts.related.iter().any(|(e, _)| e.id == bear));

    let domain = store
        .indicator(IndicatorType::Domain, "panda.example")
        .await
        .unwrap()
        .unwrap();
    let named: Vec<String> = store
        .indicator_entities(domain.id, Tlp::Clear)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.content.title)
        .collect();
    assert_eq!(named.len(), 2);
    assert!(named.contains(&"Example Panda".to_owned()));
    let ip = store
        .indicator(IndicatorType::Ipv4, "192.0.2.77")
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .indicator_entities(ip.id, Tlp::Amber)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .indicator_entities(ip.id, Tlp::Red)
            .await
            .unwrap()
            .len(),
        2
    );

    // Deleting the feed takes its links; the entities stay, named by nothing.
    store.delete_source(feed.id).await.unwrap();
    let after = store.entity_facts(panda, Tlp::Red, 10).await.unwrap();
    assert_eq!(after.items_total, 0);
    assert_eq!(after.names.len(), 2);
}

/// Two processes on one SQLite file — `rexist serve` and `rexist demo` or an
/// ingest run beside it — both write. A transaction that reads before it writes
/// must wait for the other writer, not fail at once with "database is locked"
/// (a deferred transaction cannot wait: its snapshot is already stale).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_writers_on_one_file_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rexist.db");
    let first = SqliteStore::open(&path).await.unwrap();
    first.migrate().await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();
    let stores: [Arc<dyn Store>; 2] = [Arc::new(first), Arc::new(second)];
    let mut tasks = Vec::new();
    for (w, store) in stores.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let s = source(&store, &format!("writer-{w}")).await;
            for batch in 0..40 {
                let items: Vec<NewItem> = (0..25)
                    .map(|i| {
                        let id = format!("{w}-{batch}-{i}");
                        item(
                            &id,
                            "Concurrent write",
                            &format!("beacon to 198.51.100.{i}"),
                        )
                    })
                    .collect();
                store.upsert_items(s.id, &items).await?;
            }
            Ok::<_, rexist_store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("a writer failed while the other wrote");
    }
    for (w, store) in stores.iter().enumerate() {
        let s = source(store, &format!("writer-{w}")).await;
        let page = store
            .search_items(&rexist_store::ItemQuery {
                source: Some(s.id),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1000, "writer {w} lost items");
    }
}
