//! The contract every HTTP provider keeps, run against each: a normalised
//! summary on 200 (with its credentials sent and the answer cached), and
//! not found, 401, 403, 429 with `Retry-After`, 5xx, malformed JSON, a
//! stalled upstream, the daily quota and the local rate limit each mapped
//! to their status — without leaking the key.

use std::time::Duration;

use base64::Engine;
use rexist_core::IndicatorType;
use rexist_enrich::{Answer, EnrichConfig, Enricher, Status};
use rexist_testkit::{fixture_bytes, response};
use serde_json::json;

use crate::common::{
    JSON, KEY, PASSWORD, Scripted, Secrets, always, always_after, assert_no_secret, local, one,
    scripted, secrets, table,
};

pub struct Case {
    pub kind: &'static str,
    pub itype: IndicatorType,
    pub value: &'static str,
    /// The 200 body.
    pub ok: Vec<u8>,
    /// How this upstream says "unknown": status line and body.
    pub not_found: (&'static str, Vec<u8>),
    /// Substrings the request must contain (compared lower-cased).
    pub sent: Vec<String>,
    /// Checks on the normalised summary.
    pub check: fn(&Answer),
}

fn enricher(
    kind: &str,
    up: &Scripted,
    s: &Secrets,
    edit: impl FnOnce(&mut EnrichConfig),
) -> Enricher {
    let mut config = table(kind, &up.up.base, s);
    edit(&mut config);
    Enricher::new(&[config]).unwrap()
}

pub async fn run(case: Case) {
    let s = secrets();
    let mut seen = Vec::new();
    let (kind, itype, value) = (case.kind, case.itype, case.value);

    // 200: summary, credentials sent, then served from the cache.
    let up = always("200 OK", JSON, case.ok.clone()).await;
    let e = enricher(kind, &up, &s, |_| {});
    let a = one(&e, itype, value).await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!((a.provider.as_str(), a.kind.as_str()), ("p", kind));
    assert!(a.raw.is_some() && a.error.is_none() && !a.cached, "{a:?}");
    (case.check)(&a);
    let request = up.request(0);
    for expected in &case.sent {
        assert!(
            request.contains(&expected.to_ascii_lowercase()),
            "{kind}: request lacks {expected:?}:\n{request}"
        );
    }
    let again = one(&e, itype, value).await;
    assert!(again.cached, "{again:?}");
    assert_eq!(again.summary, a.summary);
    assert_eq!(again.fetched_at, a.fetched_at);
    assert_eq!(up.hits(), 1, "{kind}: a cached answer must not ask again");
    seen.extend([a, again]);

    // Not found.
    let (status, body) = case.not_found.clone();
    let up = always(status, JSON, body).await;
    let a = one(&enricher(kind, &up, &s, |_| {}), itype, value).await;
    assert_eq!(a.status, Status::NotFound, "{kind}: {a:?}");
    seen.push(a);

    // Credentials refused.
    for status in ["401 Unauthorized", "403 Forbidden"] {
        let up = always(
            status,
            JSON,
            br#"{"detail":"Authentication required"}"#.to_vec(),
        )
        .await;
        let a = one(&enricher(kind, &up, &s, |_| {}), itype, value).await;
        assert_eq!(a.status, Status::Unauthorized, "{kind} {status}: {a:?}");
        seen.push(a);
    }

    // 429 with Retry-After: refused at once next time, without a request.
    let up = always(
        "429 Too Many Requests",
        &format!("{JSON}Retry-After: 120\r\n"),
        br#"{"error":"slow down"}"#.to_vec(),
    )
    .await;
    let e = enricher(kind, &up, &s, |_| {});
    let a = one(&e, itype, value).await;
    assert_eq!(a.status, Status::RateLimited, "{kind}: {a:?}");
    assert!(a.error.as_deref().unwrap().contains("120 s"), "{a:?}");
    let b = one(&e, itype, value).await;
    assert_eq!(b.status, Status::RateLimited, "{kind}: {b:?}");
    assert!(
        b.error.as_deref().unwrap().contains("asked us to wait"),
        "{b:?}"
    );
    assert_eq!(up.hits(), 1, "{kind}: a held provider must not be asked");
    seen.extend([a, b]);

    // 5xx.
    let up = always(
        "503 Service Unavailable",
        "",
        b"down for maintenance".to_vec(),
    )
    .await;
    let a = one(&enricher(kind, &up, &s, |_| {}), itype, value).await;
    assert_eq!(a.status, Status::Error, "{kind}: {a:?}");
    assert!(a.error.as_deref().unwrap().contains("HTTP 503"), "{a:?}");
    seen.push(a);

    // Malformed JSON.
    let up = always("200 OK", JSON, br#"{"data": {"truncated": "#.to_vec()).await;
    let a = one(&enricher(kind, &up, &s, |_| {}), itype, value).await;
    assert_eq!(a.status, Status::Error, "{kind}: {a:?}");
    assert!(
        a.error.as_deref().unwrap().contains("malformed JSON"),
        "{a:?}"
    );
    seen.push(a);

    // A stalled upstream.
    let up = always_after("200 OK", JSON, case.ok.clone(), Duration::from_secs(5)).await;
    let e = enricher(kind, &up, &s, |c| c.timeout = Some("300ms".to_owned()));
    let started = std::time::Instant::now();
    let a = one(&e, itype, value).await;
    assert_eq!(a.status, Status::Timeout, "{kind}: {a:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    seen.push(a);

    // Daily quota: the second call is refused without a request.
    let up = always("200 OK", JSON, case.ok.clone()).await;
    let e = enricher(kind, &up, &s, |c| {
        c.daily_quota = Some(1);
        c.cache_ttl = Some("0s".to_owned());
    });
    let a = one(&e, itype, value).await;
    let b = one(&e, itype, value).await;
    assert_eq!(
        (a.status, b.status),
        (Status::Ok, Status::QuotaExceeded),
        "{b:?}"
    );
    assert_eq!(up.hits(), 1);
    seen.extend([a, b]);

    // Local rate limit: refused at once, not queued.
    let up = always("200 OK", JSON, case.ok.clone()).await;
    let e = enricher(kind, &up, &s, |c| {
        c.rate_limit = Some("1/min".to_owned());
        c.cache_ttl = Some("0s".to_owned());
    });
    let a = one(&e, itype, value).await;
    let b = one(&e, itype, value).await;
    assert_eq!(
        (a.status, b.status),
        (Status::Ok, Status::RateLimited),
        "{b:?}"
    );
    assert!(b.elapsed_ms < 100);
    assert_eq!(up.hits(), 1);
    seen.extend([a, b]);

    assert_no_secret(&seen);
}

fn basic_auth() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{PASSWORD}"));
    format!("authorization: basic {token}")
}

#[tokio::test]
async fn xforce_ip_reputation() {
    run(Case {
        kind: "xforce",
        itype: IndicatorType::Ipv4,
        value: "192.0.2.10",
        ok: fixture_bytes("xforce/ipr-192.0.2.10.json"),
        not_found: ("404 Not Found", fixture_bytes("xforce/error-404.json")),
        sent: vec!["get /ipr/192.0.2.10 ".to_owned(), basic_auth()],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["score"], 10);
            assert_eq!(
                s["categories"],
                json!(["Botnet Command and Control Server"])
            );
            assert_eq!(s["country_code"], "ZZ");
            assert_eq!(s["subnets"], json!(["192.0.2.0/24"]));
            assert_eq!(s["asns"], json!(["64496"]));
            assert_eq!(s["history_count"], 2);
        },
    })
    .await;
}

#[tokio::test]
async fn otx_general() {
    run(Case {
        kind: "otx",
        itype: IndicatorType::Ipv4,
        value: "192.0.2.10",
        ok: fixture_bytes("otx/indicator-IPv4-192.0.2.10-general.json"),
        not_found: ("404 Not Found", br#"{"detail":"Not found."}"#.to_vec()),
        sent: vec![
            "get /api/v1/indicators/IPv4/192.0.2.10/general ".to_owned(),
            format!("x-otx-api-key: {KEY}"),
        ],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["pulse_count"], 1);
            assert_eq!(
                s["pulses"][0]["name"],
                "Example Panda phishing infrastructure"
            );
            assert_eq!(s["pulses"][0]["tlp"], "green");
            assert_eq!(s["tags"], json!(["phishing", "japan", "example-panda"]));
            assert_eq!(s["adversaries"], json!(["Example Panda"]));
            assert_eq!(s["malware_families"], json!(["ExampleLoader"]));
            assert_eq!(s["asn"], "AS64496 EXAMPLE-NET");
        },
    })
    .await;
}

#[tokio::test]
async fn virustotal_ip() {
    run(Case {
        kind: "virustotal",
        itype: IndicatorType::Ipv4,
        value: "192.0.2.10",
        ok: local("virustotal-ip_addresses-192.0.2.10.json"),
        not_found: ("404 Not Found", local("virustotal-error-404.json")),
        sent: vec![
            "get /api/v3/ip_addresses/192.0.2.10 ".to_owned(),
            format!("x-apikey: {KEY}"),
        ],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["malicious"], 7);
            assert_eq!(s["last_analysis_stats"]["harmless"], 60);
            assert_eq!(s["reputation"], -12);
            assert_eq!(s["tags"], json!(["botnet"]));
            assert_eq!(s["as_owner"], "EXAMPLE-NET");
            assert_eq!(s["last_analysis_date"], "2025-01-03T00:00:00Z");
        },
    })
    .await;
}

#[tokio::test]
async fn abuseipdb_check() {
    run(Case {
        kind: "abuseipdb",
        itype: IndicatorType::Ipv4,
        value: "192.0.2.10",
        ok: local("abuseipdb-check-192.0.2.10.json"),
        not_found: (
            "404 Not Found",
            br#"{"errors":[{"detail":"Not found","status":404}]}"#.to_vec(),
        ),
        sent: vec![
            "get /api/v2/check?ipaddress=192.0.2.10&maxageindays=90 ".to_owned(),
            format!("key: {KEY}"),
            "accept: application/json".to_owned(),
        ],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["abuse_confidence_score"], 87);
            assert_eq!(s["total_reports"], 42);
            assert_eq!(s["country_code"], "ZZ");
            assert_eq!(s["isp"], "Example Net");
            assert_eq!(s["usage_type"], "Data Center/Web Hosting/Transit");
            assert_eq!(s["last_reported_at"], "2025-01-03T00:00:00+00:00");
        },
    })
    .await;
}

#[tokio::test]
async fn threatfox_search_ioc() {
    run(Case {
        kind: "threatfox",
        itype: IndicatorType::Domain,
        value: "c2.malicious.example",
        ok: local("threatfox-search_ioc-c2.malicious.example.json"),
        not_found: ("200 OK", local("threatfox-no_result.json")),
        sent: vec!["post /api/v1/ ".to_owned(), format!("auth-key: {KEY}")],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["count"], 2);
            assert_eq!(s["malware"], json!(["ExampleLoader"]));
            assert_eq!(s["iocs"][0]["threat_type"], "botnet_cc");
            assert_eq!(s["iocs"][0]["confidence_level"], 100);
        },
    })
    .await;
}

#[tokio::test]
async fn shodan_host() {
    run(Case {
        kind: "shodan",
        itype: IndicatorType::Ipv4,
        value: "192.0.2.10",
        ok: local("shodan-host-192.0.2.10.json"),
        not_found: ("404 Not Found", local("shodan-error-404.json")),
        // The key has to go in the query; the answers must still not show it.
        sent: vec![format!("get /shodan/host/192.0.2.10?key={KEY} ")],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["ports"], json!([22, 443]));
            assert_eq!(s["hostnames"], json!(["c2.malicious.example"]));
            assert_eq!(s["org"], "Example Net");
            assert_eq!(s["vulns"], json!(["CVE-2021-44228", "CVE-2023-0001"]));
            assert_eq!(s["last_update"], "2025-01-03T00:00:00.000000");
        },
    })
    .await;
}

#[tokio::test]
async fn urlscan_search() {
    run(Case {
        kind: "urlscan",
        itype: IndicatorType::Domain,
        value: "c2.malicious.example",
        ok: local("urlscan-search-domain-c2.malicious.example.json"),
        not_found: ("200 OK", local("urlscan-search-empty.json")),
        sent: vec![
            "get /api/v1/search/?q=domain%3Ac2.malicious.example&size=10 ".to_owned(),
            format!("api-key: {KEY}"),
        ],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["total"], 1);
            assert_eq!(s["latest"][0]["time"], "2025-01-03T00:00:00.000Z");
            assert_eq!(
                s["latest"][0]["url"],
                "https://c2.malicious.example/gate.php"
            );
            assert_eq!(s["latest"][0]["malicious"], true);
        },
    })
    .await;
}

#[tokio::test]
async fn rdap_domain() {
    run(Case {
        kind: "rdap",
        itype: IndicatorType::Domain,
        value: "malicious.example",
        ok: local("rdap-domain-malicious.example.json"),
        not_found: ("404 Not Found", local("rdap-error-404.json")),
        sent: vec![
            "get /domain/malicious.example ".to_owned(),
            "accept: application/rdap+json".to_owned(),
        ],
        check: |a| {
            let s = &a.summary;
            assert_eq!(s["registrar"], "Example Registrar, Inc.");
            assert_eq!(s["registrar_iana_id"], "9999");
            assert_eq!(s["abuse_email"], "abuse@registrar.example");
            assert_eq!(s["registration"], "2024-12-30T00:00:00Z");
            assert_eq!(s["expiration"], "2025-12-30T00:00:00Z");
            assert_eq!(s["last_changed"], "2024-12-31T00:00:00Z");
            assert_eq!(s["status"], json!(["client transfer prohibited"]));
            assert_eq!(
                s["nameservers"],
                json!(["ns1.malicious.example", "ns2.malicious.example"])
            );
        },
    })
    .await;
}

#[tokio::test]
async fn rdap_ip() {
    let s = secrets();
    let up = always("200 OK", JSON, local("rdap-ip-192.0.2.10.json")).await;
    let e = Enricher::new(&[table("rdap", &format!("{}/registry/", up.up.base), &s)]).unwrap();
    let a = one(&e, IndicatorType::Ipv4, "192.0.2.10").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert!(up.request(0).starts_with("get /registry/ip/192.0.2.10 "));
    let sum = &a.summary;
    assert_eq!(sum["name"], "TEST-NET-1");
    assert_eq!(sum["handle"], "NET-192-0-2-0-1");
    assert_eq!(sum["start_address"], "192.0.2.0");
    assert_eq!(sum["end_address"], "192.0.2.255");
    assert_eq!(sum["country"], "ZZ");
    assert_eq!(sum["cidrs"], json!(["192.0.2.0/24"]));
    assert_eq!(
        sum["entities"][0]["name"],
        "Internet Assigned Numbers Authority"
    );
    assert_eq!(sum["entities"][1]["email"], "abuse@iana.example");
}

#[tokio::test]
async fn rdap_without_bootstrap_entry_is_not_applicable() {
    let s = secrets();
    let mut config = table("rdap", "http://127.0.0.1:9/", &s);
    config.base_url = None;
    let e = Enricher::new(&[config]).unwrap();
    // No RDAP service for .invalid or for private space: answered locally.
    let a = one(&e, IndicatorType::Domain, "host.invalid").await;
    assert_eq!(a.status, Status::NotApplicable, "{a:?}");
    let a = one(&e, IndicatorType::Ipv4, "10.1.2.3").await;
    assert_eq!(a.status, Status::NotApplicable, "{a:?}");
}

#[tokio::test]
async fn xforce_domain_asks_three_endpoints() {
    let s = secrets();
    let up = scripted(
        |path| match path {
            "/url/c2.malicious.example" => response(
                "200 OK",
                JSON,
                &fixture_bytes("xforce/url-c2.malicious.example.json"),
            ),
            "/resolve/c2.malicious.example" => response(
                "200 OK",
                JSON,
                &fixture_bytes("xforce/resolve-c2.malicious.example.json"),
            ),
            _ => response(
                "404 Not Found",
                JSON,
                &fixture_bytes("xforce/error-404.json"),
            ),
        },
        Duration::ZERO,
    )
    .await;
    let e = Enricher::new(&[table("xforce", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(up.hits(), 3);
    let sum = &a.summary;
    assert_eq!(sum["url"]["score"], 10);
    let mut cats: Vec<String> = serde_json::from_value(sum["url"]["categories"].clone()).unwrap();
    cats.sort();
    assert_eq!(cats, ["Botnet Command and Control Server", "Malware"]);
    assert_eq!(sum["resolve"]["a"], json!(["192.0.2.10"]));
    assert_eq!(sum["resolve"]["mx"], json!(["mx.malicious.example"]));
    assert_eq!(sum["whois"], serde_json::Value::Null);

    // All three unknown: not found. One refused: the whole answer is.
    let up = always(
        "404 Not Found",
        JSON,
        fixture_bytes("xforce/error-404.json"),
    )
    .await;
    let e = Enricher::new(&[table("xforce", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Domain, "unknown.example").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
    let up = scripted(
        |path| {
            if path.starts_with("/whois/") {
                response(
                    "402 Payment Required",
                    JSON,
                    &fixture_bytes("xforce/error-402.json"),
                )
            } else {
                response(
                    "404 Not Found",
                    JSON,
                    &fixture_bytes("xforce/error-404.json"),
                )
            }
        },
        Duration::ZERO,
    )
    .await;
    let e = Enricher::new(&[table("xforce", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert_eq!(a.status, Status::QuotaExceeded, "{a:?}");
    assert!(
        a.error.as_deref().unwrap().contains("not entitled"),
        "{a:?}"
    );
}

#[tokio::test]
async fn xforce_hashes_urls_cves_and_402() {
    let s = secrets();
    let up = scripted(
        |path| {
            let body = match path {
                "/malware/fcd4219244279ec49932bbd8e7702911" => {
                    fixture_bytes("xforce/malware-fcd4219244279ec49932bbd8e7702911.json")
                }
                "/url/https%3A%2F%2Fc2.malicious.example%2Fgate.php" => {
                    fixture_bytes("xforce/url-c2.malicious.example.json")
                }
                "/vulnerabilities/search/CVE-2021-44228" => {
                    fixture_bytes("xforce/vulnerabilities-search-CVE-2021-44228.json")
                }
                "/vulnerabilities/search/CVE-2025-0009" => b"[]".to_vec(),
                _ => {
                    return response(
                        "402 Payment Required",
                        JSON,
                        &fixture_bytes("xforce/error-402.json"),
                    );
                }
            };
            response("200 OK", JSON, &body)
        },
        Duration::ZERO,
    )
    .await;
    let e = Enricher::new(&[table("xforce", &up.up.base, &s)]).unwrap();

    let a = one(&e, IndicatorType::Md5, "fcd4219244279ec49932bbd8e7702911").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["risk"], "high");
    assert_eq!(a.summary["family"], json!(["exampleloader"]));
    assert_eq!(a.summary["cnc_servers"], json!(["c2.malicious.example"]));
    assert_eq!(a.summary["external"]["detection_coverage"], 31);

    let a = one(
        &e,
        IndicatorType::Url,
        "https://c2.malicious.example/gate.php",
    )
    .await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["associated"], json!(["www.c2.malicious.example"]));

    let a = one(&e, IndicatorType::Cve, "CVE-2021-44228").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["title"], "Apache Log4j code execution");
    assert_eq!(a.summary["risk_level"], 10);
    let a = one(&e, IndicatorType::Cve, "CVE-2025-0009").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");

    let a = one(&e, IndicatorType::Sha256, &"ab".repeat(32)).await;
    assert_eq!(a.status, Status::QuotaExceeded, "{a:?}");
    assert_no_secret(&[a]);
}

#[tokio::test]
async fn virustotal_urls_and_domains() {
    let s = secrets();
    let up = scripted(
        |path| {
            if path.starts_with("/api/v3/domains/") {
                response(
                    "200 OK",
                    JSON,
                    &local("virustotal-domains-c2.malicious.example.json"),
                )
            } else if path.starts_with("/api/v3/urls/") {
                response("404 Not Found", JSON, &local("virustotal-error-404.json"))
            } else {
                response(
                    "401 Unauthorized",
                    JSON,
                    &local("virustotal-error-401.json"),
                )
            }
        },
        Duration::ZERO,
    )
    .await;
    let e = Enricher::new(&[table("virustotal", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    let mut cats: Vec<String> = serde_json::from_value(a.summary["categories"].clone()).unwrap();
    cats.sort();
    assert_eq!(cats, ["command and control", "malicious web sites"]);
    assert_eq!(a.summary["registrar"], "Example Registrar, Inc.");

    let a = one(
        &e,
        IndicatorType::Url,
        "http://www.somedomain.com/this/is/my/url",
    )
    .await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
    let expected = "get /api/v3/urls/aHR0cDovL3d3dy5zb21lZG9tYWluLmNvbS90aGlzL2lzL215L3VybA "
        .to_ascii_lowercase();
    assert!(up.request(1).starts_with(&expected), "{}", up.request(1));
    let a = one(&e, IndicatorType::Sha1, &"a".repeat(40)).await;
    assert_eq!(a.status, Status::Unauthorized, "{a:?}");
    assert_no_secret(&[a]);
}

#[tokio::test]
async fn threatfox_hashes_and_refused_keys() {
    let s = secrets();
    let up = always("200 OK", JSON, local("threatfox-unknown_auth_key.json")).await;
    let e = Enricher::new(&[table("threatfox", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Sha256, &"ab".repeat(32)).await;
    assert_eq!(a.status, Status::Unauthorized, "{a:?}");
    let raw = up.requests.lock().unwrap()[0].clone();
    // The body may come in a second packet; when it came, it is a hash search.
    if raw.contains("\"query\"") {
        assert!(raw.contains(r#""query":"search_hash""#), "{raw}");
    }

    let up = always(
        "200 OK",
        JSON,
        br#"{"query_status":"illegal_search_term","data":"x"}"#.to_vec(),
    )
    .await;
    let e = Enricher::new(&[table("threatfox", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Url, "http://c2.malicious.example/").await;
    assert_eq!(a.status, Status::Error, "{a:?}");
    assert!(a.error.as_deref().unwrap().contains("illegal_search_term"));
}

#[tokio::test]
async fn abuseipdb_422_names_the_problem() {
    let s = secrets();
    let up = always(
        "422 Unprocessable Entity",
        JSON,
        local("abuseipdb-error-422.json"),
    )
    .await;
    let e = Enricher::new(&[table("abuseipdb", &up.up.base, &s)]).unwrap();
    let a = one(&e, IndicatorType::Ipv6, "2001:db8::1").await;
    assert_eq!(a.status, Status::Error, "{a:?}");
    assert!(
        a.error
            .as_deref()
            .unwrap()
            .starts_with("HTTP 422 from 127.0.0.1:"),
        "{a:?}"
    );
    assert!(
        up.request(0).contains("ipaddress=2001%3adb8%3a%3a1"),
        "{}",
        up.request(0)
    );
}
