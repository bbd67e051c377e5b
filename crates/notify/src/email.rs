//! E-mail over SMTP with lettre: STARTTLS by default, implicit TLS, or no
//! TLS for a relay on the loopback interface only. One connection per
//! message; the Message-ID is derived from the delivery id so that a retry
//! after a lost `250` is recognisable as the same mail.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};

use crate::Message;
use crate::error::SendError;

/// Longest subject line.
const SUBJECT_CHARS: usize = 200;

/// An e-mail channel.
pub(crate) struct Email {
    pub(crate) transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, for errors.
    pub(crate) relay: String,
    pub(crate) from: Mailbox,
    pub(crate) to: Vec<Mailbox>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .field(
                "to",
                &self.to.iter().map(ToString::to_string).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The delivery id restricted to characters valid in a Message-ID.
pub(crate) fn message_id(id: &str) -> String {
    let local: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(200)
        .collect();
    format!("<{local}@rexist>")
}

impl Email {
    pub(crate) async fn send(
        &self,
        msg: &Message,
        subject: &str,
        body: String,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let subject =
            crate::render::truncate_chars(&crate::render::one_line(subject), SUBJECT_CHARS);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(&msg.id)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder
            .body(body)
            .map_err(|e| SendError::permanent(format!("cannot build the e-mail: {e}")))?;
        match tokio::time::timeout(timeout, self.transport.send(email)).await {
            Err(_) => Err(SendError::retryable(format!(
                "timed out after {} ms sending through {}",
                timeout.as_millis(),
                self.relay
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e, &self.relay)),
        }
    }
}

/// 4xx replies, timeouts and network failures may pass later; 5xx
/// replies, TLS failures (a certificate the relay will keep presenting) and
/// refused addresses will not.
fn classify(e: &lettre::transport::smtp::Error, relay: &str) -> SendError {
    let message = format!("SMTP error from {relay}: {}", crate::error::chain(e));
    if e.is_transient() || e.is_timeout() {
        SendError::retryable(message)
    } else if e.is_permanent() || e.is_tls() || e.is_client() || certificate_refused(e) {
        SendError::permanent(message)
    } else {
        SendError::retryable(message)
    }
}

/// True when rustls refused the relay's certificate. lettre reports that
/// as a connection error, yet the relay will present the same certificate
/// on every retry.
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let refused = |e: &(dyn std::error::Error + 'static)| {
        matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::PeerIncompatible(_)
                    | rustls::Error::UnsupportedNameType
            )
        )
    };
    let mut current = Some(e);
    while let Some(err) = current {
        if refused(err) {
            return true;
        }
        // `io::Error::source` skips the error it wraps; look inside.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if refused(inner) {
                return true;
            }
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::message_id;

    #[test]
    fn message_id_keeps_safe_characters() {
        assert_eq!(message_id("d-1.a_b"), "<d-1.a_b@rexist>");
        assert_eq!(message_id("a>b\r\nX: y"), "<abXy@rexist>");
    }
}
