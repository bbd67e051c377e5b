#![allow(clippy::unwrap_used)]
//! The syslog kind against UDP and TCP listeners: RFC 5424 fields, PRI,
//! structured data and RFC 6587 octet counting.

use std::time::Duration;

use crate::common::{config, digest, single};
use rexist_notify::Channel;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

const PLAIN_DIGEST: &str = "rexist hunt \"apt-watch\": 5 new hits \
• Lazarus targets <banks> — Example News — lazarus, 192.0.2.1 <http://rexist.local/items/42> \
• ipv4 192.0.2.1 (retro-hunt) — feodo — 192.0.2.1 <http://rexist.local/indicators/7> \
… and 3 more \
delivery: d-0002";

/// Checks the header fields and returns what follows MSGID.
fn split_record(record: &str, pri: &str, hostname: &str, app: &str) -> String {
    let mut fields = record.splitn(7, ' ');
    assert_eq!(fields.next().unwrap(), format!("<{pri}>1"));
    let timestamp = fields.next().unwrap();
    let parsed =
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(timestamp.ends_with('Z') && timestamp.len() == "2024-05-06T07:08:09.123456Z".len());
    let age = time::OffsetDateTime::now_utc() - parsed;
    assert!(age.abs() < time::Duration::minutes(1), "{timestamp}");
    assert_eq!(fields.next().unwrap(), hostname);
    assert_eq!(fields.next().unwrap(), app);
    assert_eq!(fields.next().unwrap(), std::process::id().to_string());
    assert_eq!(fields.next().unwrap(), "hunt-hit");
    fields.next().unwrap().to_owned()
}

#[tokio::test]
async fn udp_datagram_in_rfc5424() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = config("siem", "syslog");
    c.address = Some(socket.local_addr().unwrap().to_string());
    c.hostname = Some("hunter.example".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let mut msg = digest();
    msg.hunt = r#"apt "x" [dprk]\"#.to_owned();
    channel.send(&msg).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let record = std::str::from_utf8(&buf[..n]).unwrap();
    // local0 (16) × 8 + notice (5)
    let rest = split_record(record, "133", "hunter.example", "rexist");
    let text = PLAIN_DIGEST.replace("apt-watch", r#"apt "x" [dprk]\"#);
    assert_eq!(
        rest,
        format!(r#"[rexist@32473 hunt="apt \"x\" [dprk\]\\" delivery="d-0002" hits="5"] {text}"#)
    );
}

#[tokio::test]
async fn udp_datagram_is_capped() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = config("siem", "syslog");
    c.address = Some(socket.local_addr().unwrap().to_string());
    c.template = Some("{% for i in range(5000) %}é{% endfor %}".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&single()).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(n <= 8192 && n > 8000, "{n}");
    assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with('é'));
}

#[tokio::test]
async fn tcp_uses_octet_counting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut c = config("siem", "syslog");
    c.address = Some(listener.local_addr().unwrap().to_string());
    c.protocol = Some("tcp".to_owned());
    c.facility = Some("auth".to_owned());
    c.severity = Some("warning".to_owned());
    c.app_name = Some("rexist-hunt".to_owned());
    c.hostname = Some("h1".to_owned());
    c.template = Some("{{ hunt }}\n{{ hits[0].title }}".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        String::from_utf8(bytes).unwrap()
    });
    channel.send(&single()).await.unwrap();
    let framed = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    let (len, record) = framed.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), record.len());
    // auth (4) × 8 + warning (4)
    let rest = split_record(record, "36", "h1", "rexist-hunt");
    assert_eq!(
        rest,
        r#"[rexist@32473 hunt="apt-watch" delivery="d-0001" hits="1"] apt-watch Lazarus targets <banks>"#
    );
}

#[tokio::test]
async fn tcp_refused_is_retryable() {
    let mut c = config("siem", "syslog");
    c.address = Some(crate::common::closed_port().await);
    c.protocol = Some("tcp".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        err.message
            .starts_with("channel \"siem\": cannot connect to syslog 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn default_hostname_is_usable() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = config("siem", "syslog");
    c.address = Some(socket.local_addr().unwrap().to_string());
    Channel::from_config(&c)
        .unwrap()
        .send(&single())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut buf).await.unwrap();
    let record = std::str::from_utf8(&buf[..n]).unwrap();
    let hostname = record.split(' ').nth(2).unwrap();
    assert!(!hostname.is_empty() && hostname.bytes().all(|b| (33..=126).contains(&b)));
}
