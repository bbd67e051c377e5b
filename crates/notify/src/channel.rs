//! A built channel: configuration checked, secrets resolved, templates
//! compiled, client ready. Every error of [`Channel::send`] passes through
//! one redaction here, a second line of defence behind the kinds' own care
//! to print endpoints as scheme and host.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};

use crate::config::{ChannelConfig, Secret};
use crate::endpoint::Endpoint;
use crate::error::{ConfigError, SendError};
use crate::rate::RateLimit;
use crate::render::{Style, Templates};
use crate::{Message, discord, email, mattermost, slack, syslog, teams, webhook};

/// Slack's Web API.
const SLACK_API: &str = "https://slack.com/api";
/// CA bundles are small; a larger file is a wrong path.
const CA_FILE_CAP: u64 = 1024 * 1024;

/// A delivery channel ready to send.
pub struct Channel {
    name: String,
    kind: &'static str,
    rate_limit: Option<RateLimit>,
    timeout: Duration,
    templates: Templates,
    transport: Transport,
    /// Strings removed from every error: URLs, tokens, passwords.
    secrets: Vec<String>,
}

enum Transport {
    Slack(slack::Webhook),
    SlackBot(slack::Bot),
    Teams(teams::Teams),
    Mattermost(mattermost::Mattermost),
    Discord(discord::Discord),
    Webhook(webhook::Webhook),
    Email(email::Email),
    Syslog(syslog::Syslog),
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.transport {
            Transport::Slack(t) => t.endpoint.shown().to_owned(),
            Transport::SlackBot(t) => t.endpoint.shown().to_owned(),
            Transport::Teams(t) => t.endpoint.shown().to_owned(),
            Transport::Mattermost(t) => t.endpoint.shown().to_owned(),
            Transport::Discord(t) => t.endpoint.shown().to_owned(),
            Transport::Webhook(t) => t.endpoint.shown().to_owned(),
            Transport::Email(t) => format!("smtp {}", t.relay),
            Transport::Syslog(t) => format!("syslog {}", t.address),
        };
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("target", &target)
            .field("rate_limit", &self.rate_limit)
            .field("timeout", &self.timeout)
            .field("templates", &self.templates)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Checks a `[[channel]]` table and builds the channel, reading its
    /// secrets from the environment or files. No network I/O.
    pub fn from_config(c: &ChannelConfig) -> Result<Channel, ConfigError> {
        c.check_keys()?;
        let kind = crate::KINDS
            .iter()
            .copied()
            .find(|k| *k == c.kind)
            .expect("check_keys accepted the kind");
        let rate_limit = c
            .rate_limit
            .as_deref()
            .map(str::parse::<RateLimit>)
            .transpose()
            .map_err(|e| c.error("rate_limit", e.to_string()))?;
        let timeout = c.timeout()?;
        let templates = Templates::compile(c.template.as_deref(), c.subject_template.as_deref())
            .map_err(|(key, reason)| c.error(key, reason))?;
        let mut secrets = Vec::new();
        let transport = match kind {
            "slack" => {
                let (client, endpoint) = http_target(c, timeout, &mut secrets, false)?;
                Transport::Slack(slack::Webhook { client, endpoint })
            }
            "slack-bot" => {
                let token =
                    c.required_secret("token", None, c.token_env.as_ref(), c.token_file.as_ref())?;
                secrets.push(token.expose().to_owned());
                let api = Secret::new(c.api_url.as_deref().unwrap_or(SLACK_API));
                let api = Endpoint::parse(&api).map_err(|e| c.error("api_url", e))?;
                let channel = c.required("channel", c.channel.as_ref())?.to_owned();
                Transport::SlackBot(slack::Bot {
                    client: client(c, timeout)?,
                    endpoint: api.join("chat.postMessage"),
                    token,
                    channel,
                })
            }
            "teams" => {
                let (client, endpoint) = http_target(c, timeout, &mut secrets, false)?;
                Transport::Teams(teams::Teams { client, endpoint })
            }
            "mattermost" => {
                let (client, endpoint) = http_target(c, timeout, &mut secrets, true)?;
                Transport::Mattermost(mattermost::Mattermost {
                    client,
                    endpoint,
                    username: display_name(c)?,
                    channel: c.channel.as_ref().map(|s| s.trim().to_owned()),
                })
            }
            "discord" => {
                let (client, endpoint) = http_target(c, timeout, &mut secrets, false)?;
                Transport::Discord(discord::Discord {
                    client,
                    endpoint,
                    username: display_name(c)?,
                })
            }
            "webhook" => {
                let (client, endpoint) = http_target(c, timeout, &mut secrets, true)?;
                let secret = c.secret(
                    "secret",
                    None,
                    c.secret_env.as_ref(),
                    c.secret_file.as_ref(),
                )?;
                if let Some(secret) = &secret {
                    secrets.push(secret.expose().to_owned());
                }
                Transport::Webhook(webhook::Webhook {
                    client,
                    endpoint,
                    secret,
                })
            }
            "email" => Transport::Email(email_transport(c, timeout, &mut secrets)?),
            "syslog" => Transport::Syslog(syslog_transport(c)?),
            _ => unreachable!("KINDS lists every kind handled here"),
        };
        // Short strings could match ordinary words of an error message.
        secrets.retain(|s| s.len() >= 4);
        Ok(Channel {
            name: c.name.trim().to_owned(),
            kind,
            rate_limit,
            timeout,
            templates,
            transport,
            secrets,
        })
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channel's kind, one of [`crate::KINDS`].
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// The pace the caller should keep, when configured.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// Delivers one message; a failure says whether to retry.
    pub async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let result = self.deliver(msg).await.map_err(|e| self.redact(e));
        match &result {
            Ok(()) => tracing::debug!(
                channel = %self.name,
                kind = self.kind,
                delivery = %msg.id,
                "alert delivered"
            ),
            Err(e) => tracing::debug!(
                channel = %self.name,
                kind = self.kind,
                delivery = %msg.id,
                retryable = e.retryable,
                error = %e,
                "alert not delivered"
            ),
        }
        result
    }

    async fn deliver(&self, msg: &Message) -> Result<(), SendError> {
        let timeout = self.timeout;
        match &self.transport {
            Transport::Slack(t) => t.send(&self.text(msg, Style::Slack)?, timeout).await,
            Transport::SlackBot(t) => t.send(&self.text(msg, Style::Slack)?, timeout).await,
            Transport::Teams(t) => t.send(&self.text(msg, Style::Markdown)?, timeout).await,
            Transport::Mattermost(t) => t.send(&self.text(msg, Style::Markdown)?, timeout).await,
            Transport::Discord(t) => t.send(&self.text(msg, Style::Markdown)?, timeout).await,
            Transport::Webhook(t) => t.send(msg, timeout).await,
            Transport::Email(t) => {
                let subject = match self.templates.subject(msg) {
                    Some(rendered) => rendered.map_err(|e| template_failed(&e))?,
                    None => crate::render::headline(msg, Style::Plain),
                };
                let body = self.text(msg, Style::Plain)?;
                t.send(msg, &subject, body, timeout).await
            }
            Transport::Syslog(t) => t.send(msg, &self.text(msg, Style::Plain)?, timeout).await,
        }
    }

    /// The body: the template's, else the default in the destination's style.
    fn text(&self, msg: &Message, style: Style) -> Result<String, SendError> {
        if let Some(rendered) = self.templates.body(msg) {
            // Loops in templates leave trailing newlines behind.
            rendered
                .map(|text| text.trim_end().to_owned())
                .map_err(|e| template_failed(&e))
        } else {
            Ok(crate::render::default_text(msg, style))
        }
    }

    /// Names the channel and removes every secret from the message.
    fn redact(&self, mut e: SendError) -> SendError {
        let mut message = format!("channel \"{}\": {}", self.name, e.message);
        for secret in &self.secrets {
            if message.contains(secret.as_str()) {
                message = message.replace(secret.as_str(), "[redacted]");
            }
        }
        e.message = message;
        e
    }
}

fn template_failed(reason: &str) -> SendError {
    SendError::permanent(format!("template: {reason}"))
}

fn client(c: &ChannelConfig, timeout: Duration) -> Result<rexist_http::Client, ConfigError> {
    crate::endpoint::client(timeout).map_err(|e| c.error("kind", e))
}

/// The endpoint of a URL-based kind and its client.
fn http_target(
    c: &ChannelConfig,
    timeout: Duration,
    secrets: &mut Vec<String>,
    plain_allowed: bool,
) -> Result<(rexist_http::Client, Endpoint), ConfigError> {
    let plain = if plain_allowed { c.url.as_ref() } else { None };
    let url = c.required_secret("url", plain, c.url_env.as_ref(), c.url_file.as_ref())?;
    let key = if c.url_env.is_some() {
        "url_env"
    } else if c.url_file.is_some() {
        "url_file"
    } else {
        "url"
    };
    let endpoint = Endpoint::parse(&url).map_err(|e| c.error(key, e))?;
    secrets.push(url.expose().to_owned());
    secrets.extend(endpoint.secrets());
    Ok((client(c, timeout)?, endpoint))
}

fn display_name(c: &ChannelConfig) -> Result<String, ConfigError> {
    match &c.username {
        None => Ok("rexist".to_owned()),
        Some(name) => Ok(c.required("username", Some(name))?.to_owned()),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn email_transport(
    c: &ChannelConfig,
    timeout: Duration,
    secrets: &mut Vec<String>,
) -> Result<email::Email, ConfigError> {
    let host = c.required("smtp_host", c.smtp_host.as_ref())?.to_owned();
    let mode = c.tls.as_deref().map_or("starttls", str::trim);
    let default_port = match mode {
        "starttls" => 587,
        "tls" => 465,
        "none" => 25,
        _ => {
            return Err(c.error("tls", "expected starttls, tls or none"));
        }
    };
    if mode == "none" && !is_loopback(&host) {
        return Err(c.error(
            "tls",
            "none sends mail and passwords in clear: only allowed for a relay on localhost or a loopback address",
        ));
    }
    if mode == "none" && c.ca_file.is_some() {
        return Err(c.error("ca_file", "has no use with tls = \"none\""));
    }
    let port = c.smtp_port.unwrap_or(default_port);
    if port == 0 {
        return Err(c.error("smtp_port", "must not be 0"));
    }
    let from: Mailbox = c
        .required("from", c.from.as_ref())?
        .parse()
        .map_err(|e| c.error("from", format!("not an e-mail address: {e}")))?;
    let to_list = c.to.as_deref().unwrap_or_default();
    if to_list.is_empty() {
        return Err(c.error("to", "give at least one recipient"));
    }
    let to = to_list
        .iter()
        .map(|t| {
            t.trim().parse::<Mailbox>().map_err(|e| {
                c.error(
                    "to",
                    format!(
                        "\"{}\" is not an e-mail address: {e}",
                        t.chars().take(80).collect::<String>()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tls = if mode == "none" {
        Tls::None
    } else {
        let mut params = TlsParameters::builder(host.clone());
        if let Some(path) = &c.ca_file {
            let pem = rexist_http::read_text_file(path, CA_FILE_CAP, "ca_file")
                .map_err(|e| c.error("ca_file", e.reason()))?;
            let cert = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| c.error("ca_file", format!("{path} holds no PEM certificate: {e}")))?;
            // A private relay's CA replaces the system roots rather than
            // joining them: nothing else should vouch for that relay.
            params = params
                .certificate_store(CertificateStore::None)
                .add_root_certificate(cert);
        }
        // rustls needs one process-wide crypto provider; ring is the one
        // the rest of rexist links. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let params = params
            .build_rustls()
            .map_err(|e| c.error("smtp_host", format!("cannot set up TLS: {e}")))?;
        if mode == "tls" {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        }
    };
    let mut builder = AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .tls(tls)
        .timeout(Some(timeout));
    let password = c.secret(
        "password",
        None,
        c.password_env.as_ref(),
        c.password_file.as_ref(),
    )?;
    match (&c.username, password) {
        (Some(user), Some(password)) => {
            secrets.push(password.expose().to_owned());
            builder = builder.credentials(Credentials::new(
                user.trim().to_owned(),
                password.expose().to_owned(),
            ));
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(c.error(
                "password_env",
                "username is set: give password_env or password_file",
            ));
        }
        (None, Some(_)) => return Err(c.error("username", "missing: a password is given")),
    }
    Ok(email::Email {
        transport: builder.build(),
        relay: format!("{host}:{port}"),
        from,
        to,
    })
}

fn syslog_transport(c: &ChannelConfig) -> Result<syslog::Syslog, ConfigError> {
    let address = c.required("address", c.address.as_ref())?.to_owned();
    let valid_address = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !valid_address {
        return Err(c.error("address", "expected host:port, such as 127.0.0.1:514"));
    }
    let protocol = match c.protocol.as_deref().map_or("udp", str::trim) {
        "udp" => syslog::Protocol::Udp,
        "tcp" => syslog::Protocol::Tcp,
        _ => return Err(c.error("protocol", "expected udp or tcp")),
    };
    let facility_name = c.facility.as_deref().map_or("local0", str::trim);
    let facility = syslog::facility(facility_name).ok_or_else(|| {
        c.error(
            "facility",
            "expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security, console, clock or local0 to local7",
        )
    })?;
    let severity_name = c.severity.as_deref().map_or("notice", str::trim);
    let severity = syslog::severity(severity_name).ok_or_else(|| {
        c.error(
            "severity",
            "expected emerg, alert, crit, err, warning, notice, info or debug",
        )
    })?;
    let app_name = c.app_name.as_deref().map_or("rexist", str::trim).to_owned();
    if !syslog::valid_field(&app_name, 48) {
        return Err(c.error(
            "app_name",
            "expected 1 to 48 printable ASCII characters without spaces",
        ));
    }
    let hostname = match &c.hostname {
        Some(h) => {
            let h = h.trim().to_owned();
            if !syslog::valid_field(&h, 255) {
                return Err(c.error(
                    "hostname",
                    "expected 1 to 255 printable ASCII characters without spaces",
                ));
            }
            h
        }
        None => syslog::local_hostname(),
    };
    Ok(syslog::Syslog {
        address,
        protocol,
        pri: facility * 8 + severity,
        hostname,
        app_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pipeline sends from spawned tasks.
    #[test]
    fn channel_and_send_future_are_send() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn future_is_send<F: std::future::Future + Send>(_: F) {}
        let c = ChannelConfig {
            name: "x".into(),
            kind: "syslog".into(),
            address: Some("127.0.0.1:514".into()),
            ..ChannelConfig::default()
        };
        let channel = Channel::from_config(&c).unwrap();
        send_sync(&channel);
        let msg = Message {
            id: "1".into(),
            hunt: "h".into(),
            digest: false,
            total_hits: 0,
            hits: Vec::new(),
        };
        future_is_send(channel.send(&msg));
    }
}
