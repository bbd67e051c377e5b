//! The `dns` provider against a loopback UDP responder that answers from a
//! fixed zone, encoded with hickory-proto.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rexist_core::IndicatorType;
use rexist_enrich::{EnrichConfig, Enricher, Status};
use serde_json::json;
use tokio::net::UdpSocket;

use crate::common::one;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// The zone: `None` is NXDOMAIN, an empty list NOERROR without records.
fn zone(qname: &str, qtype: RecordType) -> Option<Vec<RData>> {
    let rdata = match (qname, qtype) {
        ("c2.malicious.example.", RecordType::A) => vec![RData::A(A(Ipv4Addr::new(192, 0, 2, 10)))],
        ("c2.malicious.example.", RecordType::AAAA) => vec![RData::AAAA(AAAA(
            Ipv6Addr::from_str("2001:db8::dead:beef").unwrap(),
        ))],
        ("c2.malicious.example.", RecordType::MX) => {
            vec![RData::MX(MX::new(10, name("mx.malicious.example.")))]
        }
        ("c2.malicious.example.", RecordType::NS) => vec![
            RData::NS(NS(name("ns1.malicious.example."))),
            RData::NS(NS(name("ns2.malicious.example."))),
        ],
        ("c2.malicious.example.", RecordType::TXT) => vec![RData::TXT(TXT::new(vec![
            "v=spf1 ".to_owned(),
            "-all".to_owned(),
        ]))],
        ("www.malicious.example.", RecordType::CNAME) => {
            vec![RData::CNAME(CNAME(name("c2.malicious.example.")))]
        }
        ("10.2.0.192.in-addr.arpa.", RecordType::PTR) => {
            vec![RData::PTR(PTR(name("c2.malicious.example.")))]
        }
        ("c2.malicious.example." | "www.malicious.example.", _) => Vec::new(),
        _ => return None,
    };
    Some(rdata)
}

/// A UDP responder on 127.0.0.1; `silent` never answers (to time out).
async fn responder(silent: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queries);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            counter.fetch_add(1, Ordering::SeqCst);
            if silent {
                continue;
            }
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let mut reply = Message::new();
            reply
                .set_id(query.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(query.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true);
            for q in query.queries() {
                reply.add_query(q.clone());
                let qname = q.name().to_ascii().to_ascii_lowercase();
                match zone(&qname, q.query_type()) {
                    None => {
                        reply.set_response_code(ResponseCode::NXDomain);
                    }
                    Some(records) => {
                        for rdata in records {
                            reply.add_answer(Record::from_rdata(q.name().clone(), 300, rdata));
                        }
                    }
                }
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), peer).await;
        }
    });
    (addr, queries)
}

fn dns_table(server: SocketAddr, timeout: &str) -> EnrichConfig {
    EnrichConfig {
        name: "dns".to_owned(),
        kind: "dns".to_owned(),
        nameservers: Some(vec![server.to_string()]),
        timeout: Some(timeout.to_owned()),
        ..EnrichConfig::default()
    }
}

#[tokio::test]
async fn domain_records() {
    let (server, queries) = responder(false).await;
    let e = Enricher::new(&[dns_table(server, "2s")]).unwrap();
    let a = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(
        a.summary,
        json!({
            "a": ["192.0.2.10"],
            "aaaa": ["2001:db8::dead:beef"],
            "cname": [],
            "mx": [{"preference": 10, "exchange": "mx.malicious.example"}],
            "ns": ["ns1.malicious.example", "ns2.malicious.example"],
            "txt": ["v=spf1 -all"],
        })
    );
    assert!(a.raw.is_none());
    let asked = queries.load(Ordering::SeqCst);
    assert!(asked >= 6, "one query per record type, got {asked}");

    // Cached: no new query.
    let b = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert!(b.cached);
    assert_eq!(queries.load(Ordering::SeqCst), asked);

    let a = one(&e, IndicatorType::Domain, "www.malicious.example").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["cname"], json!(["c2.malicious.example"]));

    let a = one(&e, IndicatorType::Domain, "nx.malicious.example").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
}

#[tokio::test]
async fn reverse_lookups() {
    let (server, _) = responder(false).await;
    let e = Enricher::new(&[dns_table(server, "2s")]).unwrap();
    let a = one(&e, IndicatorType::Ipv4, "192.0.2.10").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary, json!({"ptr": ["c2.malicious.example"]}));
    let a = one(&e, IndicatorType::Ipv4, "192.0.2.11").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
    // URLs are not a DNS type: nothing to say.
    assert!(
        e.enrich(IndicatorType::Url, "http://c2.malicious.example/", None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let (server, queries) = responder(true).await;
    let e = Enricher::new(&[dns_table(server, "300ms")]).unwrap();
    let started = std::time::Instant::now();
    let a = one(&e, IndicatorType::Domain, "c2.malicious.example").await;
    assert_eq!(a.status, Status::Timeout, "{a:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(queries.load(Ordering::SeqCst) > 0);
}
