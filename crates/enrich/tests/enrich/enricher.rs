//! The enricher as a whole: providers asked together, one failing without
//! sinking the others, `only`, types a provider does not handle, listing,
//! and configuration errors that name the table and key but no secret.

use rexist_core::IndicatorType;
use rexist_enrich::{ConfigError, EnrichConfig, Enricher, Status};
use rexist_testkit::fixture_bytes;

use crate::common::{JSON, KEY, PASSWORD, always, assert_no_secret, secrets, table};

#[tokio::test]
async fn one_failing_provider_does_not_sink_the_others() {
    let s = secrets();
    let good = always(
        "200 OK",
        JSON,
        fixture_bytes("otx/indicator-IPv4-192.0.2.10-general.json"),
    )
    .await;
    let bad = always("500 Internal Server Error", "", b"oops".to_vec()).await;
    let mut otx = table("otx", &good.up.base, &s);
    otx.name = "otx".to_owned();
    let mut xforce = table("xforce", &bad.up.base, &s);
    xforce.name = "xforce".to_owned();
    let mut abuse = table("abuseipdb", &bad.up.base, &s);
    abuse.name = "abuse".to_owned();
    abuse.enabled = Some(false);
    let e = Enricher::new(&[xforce, abuse, otx]).unwrap();

    let answers = e.enrich(IndicatorType::Ipv4, "192.0.2.10", None).await;
    let got: Vec<(&str, Status)> = answers
        .iter()
        .map(|a| (a.provider.as_str(), a.status))
        .collect();
    assert_eq!(got, [("xforce", Status::Error), ("otx", Status::Ok)]);
    assert_no_secret(&answers);

    let listed: Vec<String> = e.providers().into_iter().map(|p| p.name).collect();
    assert_eq!(listed, ["xforce", "otx"], "disabled tables are not listed");
    let otx_types = &e.providers()[1].types;
    assert!(otx_types.contains(&IndicatorType::Cve) && !otx_types.contains(&IndicatorType::Btc));
}

#[tokio::test]
async fn only_and_types_not_handled() {
    let s = secrets();
    let up = always("200 OK", JSON, b"{}".to_vec()).await;
    let mut abuse = table("abuseipdb", &up.up.base, &s);
    abuse.name = "abuse".to_owned();
    let mut otx = table("otx", &up.up.base, &s);
    otx.name = "otx".to_owned();
    let e = Enricher::new(&[abuse, otx]).unwrap();

    // Without `only`, a provider that does not look up domains says nothing.
    let answers = e.enrich(IndicatorType::Domain, "example.com", None).await;
    let names: Vec<&str> = answers.iter().map(|a| a.provider.as_str()).collect();
    assert_eq!(names, ["otx"]);

    // Named, it answers not_applicable; an unknown name is reported too.
    let only = ["abuse".to_owned(), "nope".to_owned()];
    let answers = e
        .enrich(IndicatorType::Domain, "example.com", Some(&only))
        .await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].status, Status::NotApplicable);
    assert_eq!(answers[0].provider, "abuse");
    assert_eq!(answers[1].status, Status::NotApplicable);
    assert_eq!(answers[1].kind, "unknown");
    assert_eq!(up.hits(), 1, "only otx asked, once");

    // No provider for bitcoin addresses at all: no answers, no failure.
    assert!(
        e.enrich(IndicatorType::Btc, "bc1qexample", None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn answers_serialise_with_snake_case_status_and_rfc3339_time() {
    let s = secrets();
    let up = always(
        "404 Not Found",
        JSON,
        fixture_bytes("xforce/error-404.json"),
    )
    .await;
    let e = Enricher::new(&[table("xforce", &up.up.base, &s)]).unwrap();
    let answers = e.enrich(IndicatorType::Ipv4, "192.0.2.99", None).await;
    let v = serde_json::to_value(&answers[0]).unwrap();
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["provider"], "p");
    assert_eq!(v["kind"], "xforce");
    assert_eq!(v["cached"], false);
    let at = v["fetched_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok()
    );
}

fn err(configs: &[EnrichConfig]) -> ConfigError {
    match Enricher::new(configs) {
        Ok(_) => panic!("accepted: {configs:?}"),
        Err(e) => e,
    }
}

#[test]
fn configuration_errors_name_table_and_key() {
    let s = secrets();
    let base = "http://127.0.0.1:9";

    let mut c = table("otx", base, &s);
    c.kind = "greynoise".to_owned();
    let e = err(&[c]);
    assert!(matches!(e, ConfigError::UnknownKind { .. }), "{e}");
    assert!(
        e.to_string().contains("\"p\"") && e.to_string().contains("greynoise"),
        "{e}"
    );

    let mut c = table("otx", base, &s);
    c.key_file = None;
    c.key_env = Some("REXIST_TEST_SURELY_UNSET_VARIABLE_7F3A9C1E".to_owned());
    let e = err(&[c]);
    assert!(
        matches!(e, ConfigError::MissingEnv { key: "key_env", .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("REXIST_TEST_SURELY_UNSET_VARIABLE_7F3A9C1E"),
        "{e}"
    );

    let mut c = table("otx", base, &s);
    c.key_file = None;
    let e = err(&[c]);
    assert!(matches!(e, ConfigError::Missing { .. }), "{e}");

    for (rate, timeout, key) in [
        (Some("4 per minute"), None, "rate_limit"),
        (Some("0/min"), None, "rate_limit"),
        (None, Some("10"), "timeout"),
        (None, Some("0s"), "timeout"),
        (None, Some("soon"), "timeout"),
    ] {
        let mut c = table("virustotal", base, &s);
        c.rate_limit = rate.map(str::to_owned);
        c.timeout = timeout.map(str::to_owned);
        let e = err(&[c]);
        assert!(
            matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
            "{rate:?} {timeout:?}: {e}"
        );
    }

    let mut c = table("otx", base, &s);
    c.cache_ttl = Some("1 fortnight".to_owned());
    assert!(matches!(
        err(&[c]),
        ConfigError::Invalid {
            key: "cache_ttl",
            ..
        }
    ));

    let e = err(&[table("otx", base, &s), table("otx", base, &s)]);
    assert!(matches!(e, ConfigError::DuplicateName { .. }), "{e}");

    let mut c = table("otx", base, &s);
    c.nameservers = Some(vec!["192.0.2.53".to_owned()]);
    let e = err(&[c]);
    assert!(
        matches!(
            e,
            ConfigError::NotForKind {
                key: "nameservers",
                ..
            }
        ),
        "{e}"
    );

    let mut c = table("xforce", base, &s);
    c.password_file = None;
    let e = err(&[c]);
    assert!(matches!(e, ConfigError::Missing { .. }), "{e}");

    let mut c = table("rdap", base, &s);
    c.key_file = Some(s.key.clone());
    assert!(matches!(err(&[c]), ConfigError::NotForKind { .. }));

    let mut c = table("otx", base, &s);
    c.key_file = Some("/nonexistent/rexist/key".to_owned());
    let e = err(&[c]);
    assert!(
        matches!(
            e,
            ConfigError::File {
                key: "key_file",
                ..
            }
        ),
        "{e}"
    );

    let mut c = table("otx", base, &s);
    c.base_url = Some("ftp://example.com/".to_owned());
    assert!(matches!(
        err(&[c]),
        ConfigError::Invalid {
            key: "base_url",
            ..
        }
    ));

    let mut c = table("dns", base, &s);
    c.base_url = None;
    c.nameservers = Some(vec!["not-an-ip".to_owned()]);
    assert!(matches!(
        err(&[c]),
        ConfigError::Invalid {
            key: "nameservers",
            ..
        }
    ));

    let mut c = table("inspect", base, &s);
    c.base_url = None;
    c.max_redirects = Some(11);
    assert!(matches!(
        err(&[c]),
        ConfigError::Invalid {
            key: "max_redirects",
            ..
        }
    ));

    let mut c = table("otx", base, &s);
    c.name = " ".to_owned();
    assert!(matches!(err(&[c]), ConfigError::MissingName { index: 1 }));

    // Unknown keys are refused when the table is read.
    let parsed: Result<EnrichConfig, _> = serde_json::from_value(
        serde_json::json!({"name": "x", "kind": "otx", "api_key": "inline"}),
    );
    assert!(parsed.unwrap_err().to_string().contains("api_key"));
}

#[test]
fn secrets_stay_out_of_errors_and_debug() {
    let s = secrets();
    // A valid key with a table error after it was read.
    let mut c = table("xforce", "http://127.0.0.1:9", &s);
    c.rate_limit = Some("lots".to_owned());
    let e = err(&[c]);
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(KEY) && !shown.contains(PASSWORD), "{shown}");
    }
    let e = Enricher::new(&[table("xforce", "http://127.0.0.1:9", &s)]).unwrap();
    let shown = format!("{e:?}");
    assert!(!shown.contains(KEY) && !shown.contains(PASSWORD), "{shown}");
}

#[tokio::test]
async fn shared_across_tasks() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    let s = secrets();
    let e = std::sync::Arc::new(Enricher::new(&[table("otx", "http://127.0.0.1:9", &s)]).unwrap());
    send_sync(&e);
    let task = {
        let e = std::sync::Arc::clone(&e);
        // What a request handler does: the lookup future must be Send.
        tokio::spawn(async move { e.enrich(IndicatorType::Ipv4, "192.0.2.10", None).await })
    };
    let answers = task.await.unwrap();
    assert_eq!(answers[0].status, Status::Error, "{answers:?}");
    let error = answers[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("cannot connect to 127.0.0.1:9"),
        "{error}"
    );
    assert_no_secret(&answers);
}

#[test]
fn validation_without_secrets_and_disabled_tables() {
    let unset = "REXIST_TEST_SURELY_UNSET_VARIABLE_7F3A9C1E".to_owned();
    let config = EnrichConfig {
        name: "vt".to_owned(),
        kind: "virustotal".to_owned(),
        key_env: Some(unset.clone()),
        ..EnrichConfig::default()
    };
    // Named is enough for `validate`; `new` needs the value.
    config.validate().unwrap();
    assert!(matches!(
        Enricher::new(std::slice::from_ref(&config)),
        Err(ConfigError::MissingEnv { .. })
    ));
    // A disabled table waits for its key without failing the others.
    let disabled = EnrichConfig {
        enabled: Some(false),
        ..config.clone()
    };
    let e = Enricher::new(&[disabled]).unwrap();
    assert!(e.providers().is_empty());
    // But it is still checked.
    let broken = EnrichConfig {
        enabled: Some(false),
        rate_limit: Some("often".to_owned()),
        ..config.clone()
    };
    assert!(matches!(
        Enricher::new(&[broken]),
        Err(ConfigError::Invalid {
            key: "rate_limit",
            ..
        })
    ));
    let no_key = EnrichConfig {
        key_env: None,
        ..config
    };
    assert!(matches!(
        no_key.validate(),
        Err(ConfigError::Missing { .. })
    ));

    let dns = EnrichConfig {
        name: "dns".to_owned(),
        kind: "dns".to_owned(),
        nameservers: Some(vec![
            "192.0.2.53".to_owned(),
            "[2001:db8::53]:5353".to_owned(),
        ]),
        ..EnrichConfig::default()
    };
    dns.validate().unwrap();
    let bad_dns = EnrichConfig {
        nameservers: Some(vec!["dns.example".to_owned()]),
        ..dns
    };
    assert!(matches!(
        bad_dns.validate(),
        Err(ConfigError::Invalid {
            key: "nameservers",
            ..
        })
    ));
}

/// A shared cache in memory, standing in for the store.
#[derive(Default)]
struct Shelf {
    kept: std::sync::Mutex<
        std::collections::HashMap<(String, IndicatorType, String), rexist_enrich::SharedAnswer>,
    >,
}

impl rexist_enrich::SharedCache for Shelf {
    fn get<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
    ) -> rexist_enrich::CacheFuture<'a, Option<rexist_enrich::SharedAnswer>> {
        let hit = self
            .kept
            .lock()
            .unwrap()
            .get(&(provider.to_owned(), kind, value.to_owned()))
            .cloned();
        Box::pin(async move { hit.filter(|a| a.expires_at > time::OffsetDateTime::now_utc()) })
    }

    fn put<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
        answer: rexist_enrich::SharedAnswer,
    ) -> rexist_enrich::CacheFuture<'a, ()> {
        self.kept
            .lock()
            .unwrap()
            .insert((provider.to_owned(), kind, value.to_owned()), answer);
        Box::pin(async {})
    }
}

#[tokio::test]
async fn a_shared_cache_serves_other_enrichers_without_secrets() {
    let s = secrets();
    // An upstream that echoes the key back in its answer.
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture_bytes("otx/indicator-IPv4-192.0.2.10-general.json"))
            .unwrap();
    body["echo"] = serde_json::json!(KEY);
    let up = always("200 OK", JSON, body.to_string().into_bytes()).await;
    let shelf = std::sync::Arc::new(Shelf::default());
    let node = || {
        Enricher::new(&[table("otx", &up.up.base, &s)])
            .unwrap()
            .with_shared_cache(shelf.clone())
    };
    let (node_a, node_b) = (node(), node());
    let first = crate::common::one(&node_a, IndicatorType::Ipv4, "192.0.2.10").await;
    assert_eq!((first.status, first.cached), (Status::Ok, false));
    let asked = up.hits();
    let second = crate::common::one(&node_b, IndicatorType::Ipv4, "192.0.2.10").await;
    assert_eq!(up.hits(), asked, "served from the shared cache");
    assert!(second.cached, "{second:?}");
    assert_eq!(
        (second.summary.clone(), second.fetched_at),
        (first.summary.clone(), first.fetched_at)
    );
    let kept = shelf
        .kept
        .lock()
        .unwrap()
        .values()
        .map(|a| a.json.clone())
        .collect::<Vec<_>>();
    assert_eq!(kept.len(), 1);
    assert!(
        !kept[0].contains(KEY) && kept[0].contains("***"),
        "{}",
        kept[0]
    );

    // A kept answer that cannot be read is asked again, not trusted.
    for answer in shelf.kept.lock().unwrap().values_mut() {
        answer.json = "{not json".to_owned();
    }
    let node_c = node();
    let third = crate::common::one(&node_c, IndicatorType::Ipv4, "192.0.2.10").await;
    assert!(!third.cached && third.status == Status::Ok, "{third:?}");
    assert!(up.hits() > asked);

    // With the cache off, nothing is kept or read.
    let off = std::sync::Arc::new(Shelf::default());
    let mut off_table = table("otx", &up.up.base, &s);
    off_table.cache_ttl = Some("0s".to_owned());
    let e = Enricher::new(&[off_table])
        .unwrap()
        .with_shared_cache(off.clone());
    crate::common::one(&e, IndicatorType::Ipv4, "192.0.2.10").await;
    assert!(off.kept.lock().unwrap().is_empty());
}
