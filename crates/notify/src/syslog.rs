//! Syslog in the RFC 5424 format, over UDP (one datagram per message) or
//! TCP with octet-counting framing (RFC 6587), so that a SIEM can pick hunt
//! hits up with the rest of its logs. Structured data carries the hunt, the
//! delivery id and the hit count for filtering without parsing the text.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::Message;
use crate::error::SendError;

/// Largest datagram sent: receivers must accept 480 bytes and should
/// accept 2048; common collectors take 8 KiB.
const UDP_BYTES: usize = 8 * 1024;
/// SD-ID: `rexist` under the example private enterprise number of RFC 5612.
const SD_ID: &str = "rexist@32473";

/// Transport to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Udp,
    Tcp,
}

/// A syslog channel.
#[derive(Debug)]
pub(crate) struct Syslog {
    /// `host:port`, resolved at each send so a collector may move.
    pub(crate) address: String,
    pub(crate) protocol: Protocol,
    /// PRI: facility × 8 + severity.
    pub(crate) pri: u8,
    pub(crate) hostname: String,
    pub(crate) app_name: String,
}

/// Facility numbers by name (RFC 5424 §6.2.1 and the usual aliases).
pub(crate) fn facility(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "ntp" => 12,
        "security" | "audit" => 13,
        "console" => 14,
        "solaris-cron" | "clock" => 15,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// Severity numbers by name.
pub(crate) fn severity(name: &str) -> Option<u8> {
    Some(match name {
        "emerg" | "emergency" | "panic" => 0,
        "alert" => 1,
        "crit" | "critical" => 2,
        "err" | "error" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "info" | "informational" => 6,
        "debug" => 7,
        _ => return None,
    })
}

/// True for a valid HOSTNAME or APP-NAME: printable US-ASCII without spaces.
pub(crate) fn valid_field(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| (33..=126).contains(&b))
}

/// The machine's host name, or `-` (NILVALUE) when it has none usable.
pub(crate) fn local_hostname() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| valid_field(h, 255))
        .unwrap_or_else(|| "-".to_owned())
}

/// An SD-PARAM value with `"`, `\` and `]` escaped; control characters
/// become spaces so one record stays on one line.
pub(crate) fn escape_param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One RFC 5424 record.
pub(crate) fn format_record(
    pri: u8,
    at: OffsetDateTime,
    hostname: &str,
    app_name: &str,
    procid: u32,
    msg: &Message,
    text: &str,
) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let timestamp = at
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_else(|_| "-".to_owned());
    let mut record = format!("<{pri}>1 {timestamp} {hostname} {app_name} {procid} hunt-hit ");
    let _ = write!(
        record,
        "[{SD_ID} hunt=\"{}\" delivery=\"{}\" hits=\"{}\"] ",
        escape_param(&msg.hunt),
        escape_param(&msg.id),
        msg.total_hits
    );
    // Collectors split records on newlines whatever the framing.
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    record.push_str(&flat);
    record
}

impl Syslog {
    pub(crate) async fn send(
        &self,
        msg: &Message,
        text: &str,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let record = format_record(
            self.pri,
            OffsetDateTime::now_utc(),
            &self.hostname,
            &self.app_name,
            std::process::id(),
            msg,
            text,
        );
        match tokio::time::timeout(timeout, self.deliver(&record)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::retryable(format!(
                "timed out after {} ms sending to syslog {}",
                timeout.as_millis(),
                self.address
            ))),
        }
    }

    async fn deliver(&self, record: &str) -> Result<(), SendError> {
        let target = self.resolve().await?;
        let fail = |what: &str, e: &std::io::Error| {
            SendError::retryable(format!("{what} syslog {}: {e}", self.address))
        };
        match self.protocol {
            Protocol::Udp => {
                let local: SocketAddr = if target.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let socket = UdpSocket::bind(local)
                    .await
                    .map_err(|e| fail("cannot open a socket for", &e))?;
                let datagram = crate::render::truncate_bytes(record, UDP_BYTES);
                socket
                    .send_to(datagram.as_bytes(), target)
                    .await
                    .map_err(|e| fail("cannot send to", &e))?;
            }
            Protocol::Tcp => {
                let mut stream = TcpStream::connect(target)
                    .await
                    .map_err(|e| fail("cannot connect to", &e))?;
                let frame = format!("{} {record}", record.len());
                stream
                    .write_all(frame.as_bytes())
                    .await
                    .map_err(|e| fail("cannot send to", &e))?;
                stream
                    .shutdown()
                    .await
                    .map_err(|e| fail("cannot close the connection to", &e))?;
            }
        }
        Ok(())
    }

    async fn resolve(&self) -> Result<SocketAddr, SendError> {
        let mut addresses = tokio::net::lookup_host(self.address.as_str())
            .await
            .map_err(|e| {
                SendError::retryable(format!("cannot resolve syslog {}: {e}", self.address))
            })?;
        addresses.next().ok_or_else(|| {
            SendError::retryable(format!("syslog {} resolves to no address", self.address))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(hunt: &str) -> Message {
        Message {
            id: "d-1".into(),
            hunt: hunt.into(),
            digest: false,
            total_hits: 1,
            hits: vec![],
        }
    }

    #[test]
    fn escapes_sd_param_values() {
        assert_eq!(escape_param(r#"a"b\c]d[e"#), r#"a\"b\\c\]d[e"#);
        assert_eq!(escape_param("x\ny\tz"), "x y z");
        assert_eq!(escape_param("é"), "é");
    }

    #[test]
    fn formats_a_record() {
        let at = time::macros::datetime!(2024-05-06 07:08:09.123456789 +02:00);
        let record = format_record(
            133,
            at,
            "host",
            "rexist",
            42,
            &message(r#"apt "x"]"#),
            "line one\nline two",
        );
        assert_eq!(
            record,
            r#"<133>1 2024-05-06T05:08:09.123456Z host rexist 42 hunt-hit [rexist@32473 hunt="apt \"x\"\]" delivery="d-1" hits="1"] line one line two"#
        );
    }

    #[test]
    fn names_map_to_numbers() {
        assert_eq!(facility("local0"), Some(16));
        assert_eq!(facility("local7"), Some(23));
        assert_eq!(facility("kern"), Some(0));
        assert_eq!(facility("nope"), None);
        assert_eq!(severity("notice"), Some(5));
        assert_eq!(severity("warning"), Some(4));
        assert!(valid_field("rexist", 48));
        assert!(!valid_field("has space", 48));
        assert!(!valid_field("", 48));
    }
}
