#![allow(clippy::unwrap_used)]
//! The e-mail kind against a minimal SMTP server written here, in clear
//! text, with implicit TLS and with STARTTLS, trusting a self-signed
//! certificate through `ca_file`.

use std::sync::Arc;

use crate::common::{config, single, write_file};
use rexist_notify::{Channel, ChannelConfig};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// What the server received in one session.
#[derive(Debug, Default)]
struct Mail {
    commands: Vec<String>,
    sender: String,
    recipients: Vec<String>,
    data: String,
    tls: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Implicit,
    StartTls,
}

/// How the server answers.
#[derive(Clone, Copy)]
struct Script {
    mode: Mode,
    /// Reply to `RCPT TO`, such as `250 ok` or `550 no such user`.
    rcpt_reply: &'static str,
}

enum Outcome<S> {
    Done,
    Upgrade(S),
}

async fn reply<S: AsyncWrite + Unpin>(stream: &mut S, text: &str) {
    stream.write_all(text.as_bytes()).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    stream.flush().await.unwrap();
}

/// Runs commands until QUIT, or until STARTTLS hands the stream back.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    offer_starttls: bool,
    script: Script,
    mail: &mut Mail,
) -> Outcome<S> {
    let mut stream = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap() == 0 {
            return Outcome::Done;
        }
        let line = line.trim_end().to_owned();
        mail.commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let mut text = String::from("250-test.invalid greets you\r\n");
            if offer_starttls {
                text.push_str("250-STARTTLS\r\n");
            }
            text.push_str("250-AUTH PLAIN LOGIN\r\n250 8BITMIME");
            reply(&mut stream, &text).await;
        } else if upper == "STARTTLS" {
            reply(&mut stream, "220 go ahead").await;
            return Outcome::Upgrade(stream.into_inner());
        } else if upper.starts_with("AUTH PLAIN") {
            reply(&mut stream, "235 authenticated").await;
        } else if upper.starts_with("MAIL FROM:") {
            line["MAIL FROM:".len()..].clone_into(&mut mail.sender);
            reply(&mut stream, "250 ok").await;
        } else if upper.starts_with("RCPT TO:") {
            mail.recipients.push(line["RCPT TO:".len()..].to_owned());
            reply(&mut stream, script.rcpt_reply).await;
        } else if upper == "DATA" {
            reply(&mut stream, "354 end with <CRLF>.<CRLF>").await;
            loop {
                let mut data_line = String::new();
                stream.read_line(&mut data_line).await.unwrap();
                if data_line == ".\r\n" {
                    break;
                }
                let unstuffed = data_line.strip_prefix('.').unwrap_or(&data_line);
                mail.data.push_str(unstuffed);
            }
            reply(&mut stream, "250 queued as 1").await;
        } else if upper == "QUIT" {
            reply(&mut stream, "221 bye").await;
            return Outcome::Done;
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut stream, "250 ok").await;
        } else {
            reply(&mut stream, "502 not implemented").await;
        }
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost: (PEM, acceptor).
fn tls_identity() -> (String, TlsAcceptor) {
    let key =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let pem = key.cert.pem();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![key.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.key_pair.serialize_der().into()),
        )
        .unwrap();
    (pem, TlsAcceptor::from(Arc::new(config)))
}

/// Serves one SMTP session; the mail arrives on the receiver.
async fn smtp_server(
    script: Script,
    acceptor: Option<TlsAcceptor>,
) -> (u16, oneshot::Receiver<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut mail = Mail::default();
        match script.mode {
            Mode::Plain => {
                let mut tcp = tcp;
                reply(&mut tcp, "220 test.invalid ESMTP").await;
                session(tcp, false, script, &mut mail).await;
            }
            Mode::Implicit => {
                let mut tls = acceptor.unwrap().accept(tcp).await.unwrap();
                mail.tls = true;
                reply(&mut tls, "220 test.invalid ESMTP").await;
                session(tls, false, script, &mut mail).await;
            }
            Mode::StartTls => {
                let mut tcp = tcp;
                reply(&mut tcp, "220 test.invalid ESMTP").await;
                if let Outcome::Upgrade(tcp) = session(tcp, true, script, &mut mail).await {
                    let tls = acceptor.unwrap().accept(tcp).await.unwrap();
                    mail.tls = true;
                    session(tls, false, script, &mut mail).await;
                }
            }
        }
        let _ = tx.send(mail);
    });
    (port, rx)
}

fn email_config(port: u16, tls: &str) -> ChannelConfig {
    let mut c = config("mail", "email");
    c.smtp_host = Some("127.0.0.1".to_owned());
    c.smtp_port = Some(port);
    c.tls = Some(tls.to_owned());
    c.from = Some("rexist <rexist@example.org>".to_owned());
    c.to = Some(vec![
        "soc@example.org".to_owned(),
        "Oncall <oncall@example.org>".to_owned(),
    ]);
    c
}

const PLAIN_SINGLE: &str = "rexist hunt \"apt-watch\": Lazarus targets <banks>\r\n\
source: Example News\r\n\
matched: lazarus, 192.0.2.1\r\n\
TLP: CLEAR\r\n\
the Lazarus group used 192.0.2.1\r\n\
original: https://news.example/a?x=1\r\n\
in rexist: http://rexist.local/items/42\r\n\
delivery: d-0001\r\n";

/// Splits DATA into headers (lower-cased names) and body.
fn parse_data(data: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            headers.last_mut().unwrap().1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n == name).map_or_else(
        || panic!("no {name} header in {headers:?}"),
        |(_, v)| v.as_str(),
    )
}

fn assert_mail(mail: &Mail, subject: &str, body: &str) {
    assert_eq!(mail.sender, "<rexist@example.org>");
    assert_eq!(
        mail.recipients,
        ["<soc@example.org>", "<oncall@example.org>"]
    );
    let (headers, got_body) = parse_data(&mail.data);
    assert_eq!(header(&headers, "from"), "rexist <rexist@example.org>");
    assert_eq!(
        header(&headers, "to"),
        "soc@example.org, Oncall <oncall@example.org>"
    );
    assert_eq!(header(&headers, "subject"), subject);
    assert_eq!(header(&headers, "message-id"), "<d-0001@rexist>");
    assert!(header(&headers, "content-type").starts_with("text/plain"));
    header(&headers, "date");
    assert_eq!(got_body, body);
}

#[tokio::test]
async fn plain_relay_on_loopback() {
    let script = Script {
        mode: Mode::Plain,
        rcpt_reply: "250 ok",
    };
    let (port, rx) = smtp_server(script, None).await;
    let channel = Channel::from_config(&email_config(port, "none")).unwrap();
    channel.send(&single()).await.unwrap();
    let mail = rx.await.unwrap();
    assert!(!mail.tls);
    assert!(mail.commands[0].starts_with("EHLO "), "{:?}", mail.commands);
    assert_mail(
        &mail,
        "rexist hunt \"apt-watch\": Lazarus targets <banks>",
        PLAIN_SINGLE,
    );
}

#[tokio::test]
async fn implicit_tls_with_login_and_templates() {
    let (pem, acceptor) = tls_identity();
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        mode: Mode::Implicit,
        rcpt_reply: "250 ok",
    };
    let (port, rx) = smtp_server(script, Some(acceptor)).await;
    let mut c = email_config(port, "tls");
    c.ca_file = Some(write_file(dir.path(), "ca.pem", &pem));
    c.username = Some("rexist".to_owned());
    c.password_file = Some(write_file(dir.path(), "password", "hunter2\n"));
    c.subject_template = Some("[{{ hits[0].tlp | upper }}] {{ hunt }}".to_owned());
    c.template = Some("{% for h in hits %}{{ h.title }} ({{ h.source }})\n{% endfor %}".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&single()).await.unwrap();
    let mail = rx.await.unwrap();
    assert!(mail.tls);
    // base64("\0rexist\0hunter2"), computed with Python.
    assert!(
        mail.commands
            .contains(&"AUTH PLAIN AHJleGlzdABodW50ZXIy".to_owned()),
        "{:?}",
        mail.commands
    );
    assert_mail(
        &mail,
        "[CLEAR] apt-watch",
        "Lazarus targets <banks> (Example News)\r\n",
    );
}

#[tokio::test]
async fn starttls_upgrades_before_mail() {
    let (pem, acceptor) = tls_identity();
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        mode: Mode::StartTls,
        rcpt_reply: "250 ok",
    };
    let (port, rx) = smtp_server(script, Some(acceptor)).await;
    let mut c = email_config(port, "starttls");
    c.ca_file = Some(write_file(dir.path(), "ca.pem", &pem));
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&single()).await.unwrap();
    let mail = rx.await.unwrap();
    assert!(mail.tls);
    let starttls = mail.commands.iter().position(|c| c == "STARTTLS").unwrap();
    let sender = mail
        .commands
        .iter()
        .position(|c| c.starts_with("MAIL FROM"))
        .unwrap();
    assert!(starttls < sender, "{:?}", mail.commands);
    assert_mail(
        &mail,
        "rexist hunt \"apt-watch\": Lazarus targets <banks>",
        PLAIN_SINGLE,
    );
}

#[tokio::test]
async fn untrusted_certificate_is_permanent() {
    let (_, acceptor) = tls_identity();
    let (other_pem, _) = tls_identity();
    let dir = tempfile::tempdir().unwrap();
    let port = tls_listener(acceptor).await;
    let mut c = email_config(port, "tls");
    c.ca_file = Some(write_file(dir.path(), "ca.pem", &other_pem));
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&single()).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(
        err.message
            .starts_with("channel \"mail\": SMTP error from 127.0.0.1:"),
        "{err}"
    );
}

/// A TLS listener that tolerates clients giving up during the handshake.
async fn tls_listener(acceptor: TlsAcceptor) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    port
}

#[tokio::test]
async fn rejected_recipient_is_permanent_and_4xx_retryable() {
    for (rcpt_reply, retryable) in [
        ("550 5.1.1 no such user", false),
        ("451 4.3.0 try later", true),
    ] {
        let script = Script {
            mode: Mode::Plain,
            rcpt_reply,
        };
        let (port, _rx) = smtp_server(script, None).await;
        let channel = Channel::from_config(&email_config(port, "none")).unwrap();
        let err = channel.send(&single()).await.unwrap_err();
        assert_eq!(err.retryable, retryable, "{err}");
    }
}

#[tokio::test]
async fn password_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let addr = crate::common::closed_port().await;
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut c = email_config(port, "none");
    c.username = Some("rexist".to_owned());
    c.password_file = Some(write_file(dir.path(), "password", "XXXXsecretXXXX"));
    c.timeout = Some("2s".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    for text in [format!("{err}"), format!("{err:?}"), format!("{channel:?}")] {
        assert!(!text.contains("XXXXsecretXXXX"), "{text}");
    }
}
