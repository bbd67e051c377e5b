//! The `[[channel]]` table as written, and the checks and secret look-ups
//! that turn it into a channel. Keys that do not apply to the kind are
//! refused rather than ignored: a `token_env` on a `slack` channel is a
//! mistake the operator wants to hear about.

use std::time::Duration;

pub(crate) use rexist_http::Secret;
use serde::Deserialize;

use crate::error::ConfigError;

/// Channel settings as written in a `[[channel]]` table of rexist.toml.
///
/// Secrets are never written inline: each is named by `X_env` (an
/// environment variable) or `X_file` (a file whose trimmed content is the
/// secret).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Unique name, used by hunts to pick their channels and in every error.
    pub name: String,
    /// One of [`crate::KINDS`].
    pub kind: String,
    /// Text template (minijinja) of the message body; the context is the
    /// [`crate::Message`] serialised (`hunt`, `total_hits`, `hits`…).
    pub template: Option<String>,
    /// Largest sending rate, such as `30/min`; applied by the caller.
    pub rate_limit: Option<String>,
    /// Delivery timeout, such as `10s`, `500ms` or `1m`; default 10s.
    pub timeout: Option<String>,
    /// mattermost, webhook: endpoint URL when it holds no secret.
    pub url: Option<String>,
    /// slack, teams, mattermost, discord, webhook: variable holding the endpoint URL.
    pub url_env: Option<String>,
    /// slack, teams, mattermost, discord, webhook: file holding the endpoint URL.
    pub url_file: Option<String>,
    /// slack-bot: variable holding the bot token (`xoxb-…`).
    pub token_env: Option<String>,
    /// slack-bot: file holding the bot token.
    pub token_file: Option<String>,
    /// slack-bot: channel id to post to; mattermost: channel override.
    pub channel: Option<String>,
    /// slack-bot: Web API base URL; default `https://slack.com/api`.
    pub api_url: Option<String>,
    /// mattermost, discord: name shown as the poster (default `rexist`);
    /// email: SMTP login.
    pub username: Option<String>,
    /// webhook: variable holding the HMAC signing secret.
    pub secret_env: Option<String>,
    /// webhook: file holding the HMAC signing secret.
    pub secret_file: Option<String>,
    /// email: SMTP relay host name or address.
    pub smtp_host: Option<String>,
    /// email: SMTP port; default 587 (starttls), 465 (tls) or 25 (none).
    pub smtp_port: Option<u16>,
    /// email: `starttls` (default), `tls` (implicit TLS) or `none` (loopback relays only).
    pub tls: Option<String>,
    /// email: variable holding the SMTP password.
    pub password_env: Option<String>,
    /// email: file holding the SMTP password.
    pub password_file: Option<String>,
    /// email: sender address, such as `rexist <rexist@example.org>`.
    pub from: Option<String>,
    /// email: recipient addresses, at least one.
    pub to: Option<Vec<String>>,
    /// email: subject template (minijinja), same context as `template`.
    pub subject_template: Option<String>,
    /// email: PEM file of the certificate authorities to trust instead of
    /// the system's, for private relays.
    pub ca_file: Option<String>,
    /// syslog: collector address, `host:port`.
    pub address: Option<String>,
    /// syslog: `udp` (default) or `tcp`.
    pub protocol: Option<String>,
    /// syslog: facility name; default `local0`.
    pub facility: Option<String>,
    /// syslog: severity name; default `notice`.
    pub severity: Option<String>,
    /// syslog: APP-NAME field; default `rexist`.
    pub app_name: Option<String>,
    /// syslog: HOSTNAME field; default the machine's host name.
    pub hostname: Option<String>,
}

/// Keys each kind accepts besides `name`, `kind`, `rate_limit` and `timeout`.
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "slack" | "teams" => &["template", "url_env", "url_file"],
        "discord" => &["template", "url_env", "url_file", "username"],
        "slack-bot" => &["template", "token_env", "token_file", "channel", "api_url"],
        "mattermost" => &[
            "template", "url", "url_env", "url_file", "username", "channel",
        ],
        "webhook" => &["url", "url_env", "url_file", "secret_env", "secret_file"],
        "email" => &[
            "template",
            "smtp_host",
            "smtp_port",
            "tls",
            "username",
            "password_env",
            "password_file",
            "from",
            "to",
            "subject_template",
            "ca_file",
        ],
        "syslog" => &[
            "template", "address", "protocol", "facility", "severity", "app_name", "hostname",
        ],
        _ => &[],
    }
}

impl ChannelConfig {
    /// Names of the optional keys given.
    fn present_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("template", self.template.is_some()),
            ("rate_limit", self.rate_limit.is_some()),
            ("timeout", self.timeout.is_some()),
            ("url", self.url.is_some()),
            ("url_env", self.url_env.is_some()),
            ("url_file", self.url_file.is_some()),
            ("token_env", self.token_env.is_some()),
            ("token_file", self.token_file.is_some()),
            ("channel", self.channel.is_some()),
            ("api_url", self.api_url.is_some()),
            ("username", self.username.is_some()),
            ("secret_env", self.secret_env.is_some()),
            ("secret_file", self.secret_file.is_some()),
            ("smtp_host", self.smtp_host.is_some()),
            ("smtp_port", self.smtp_port.is_some()),
            ("tls", self.tls.is_some()),
            ("password_env", self.password_env.is_some()),
            ("password_file", self.password_file.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("subject_template", self.subject_template.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("address", self.address.is_some()),
            ("protocol", self.protocol.is_some()),
            ("facility", self.facility.is_some()),
            ("severity", self.severity.is_some()),
            ("app_name", self.app_name.is_some()),
            ("hostname", self.hostname.is_some()),
        ];
        keys.iter()
            .filter(|(_, present)| *present)
            .map(|(key, _)| *key)
            .collect()
    }

    /// Refuses a missing name, an unknown kind and keys foreign to the kind.
    pub(crate) fn check_keys(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::new(&self.name, "name", "must not be empty"));
        }
        if !crate::KINDS.contains(&self.kind.as_str()) {
            return Err(self.error(
                "kind",
                format!(
                    "unknown kind \"{}\" (expected one of {})",
                    self.kind.chars().take(40).collect::<String>(),
                    crate::KINDS.join(", ")
                ),
            ));
        }
        let allowed = allowed_keys(&self.kind);
        for key in self.present_keys() {
            if matches!(key, "rate_limit" | "timeout") || allowed.contains(&key) {
                continue;
            }
            let reason = match (self.kind.as_str(), key) {
                ("slack" | "teams" | "discord", "url") => format!(
                    "a {} webhook URL holds a token: give url_env or url_file instead",
                    self.kind
                ),
                ("webhook", "template") => {
                    "a webhook receives the message as JSON and takes no template".to_owned()
                }
                _ => format!("not a key of kind {}", self.kind),
            };
            return Err(self.error(key, reason));
        }
        Ok(())
    }

    pub(crate) fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.name, key, reason)
    }

    /// The delivery timeout.
    pub(crate) fn timeout(&self) -> Result<Duration, ConfigError> {
        match &self.timeout {
            None => Ok(Duration::from_secs(10)),
            Some(text) => parse_duration(text).ok_or_else(|| {
                self.error(
                    "timeout",
                    format!(
                        "invalid duration \"{}\": expected such as 10s, 500ms or 1m, between 1ms and 10m",
                        text.chars().take(40).collect::<String>()
                    ),
                )
            }),
        }
    }

    /// The secret given as `{base}_env`, `{base}_file` or, where the kind
    /// allows a plain value (`plain` is then passed), `{base}` itself;
    /// `None` when none is given.
    pub(crate) fn secret(
        &self,
        base: &str,
        plain: Option<&String>,
        env: Option<&String>,
        file: Option<&String>,
    ) -> Result<Option<Secret>, ConfigError> {
        let given = [plain.is_some(), env.is_some(), file.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            let keys = if plain.is_some() {
                format!("{base}, {base}_env and {base}_file")
            } else {
                format!("{base}_env and {base}_file")
            };
            return Err(self.error(base, format!("give only one of {keys}")));
        }
        if let Some(value) = plain {
            return Ok(Some(Secret::new(value.trim())));
        }
        if let Some(var) = env {
            let key = format!("{base}_env");
            let value = match std::env::var(var) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(self.error(&key, format!("environment variable {var} is not set")));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(self.error(
                        &key,
                        format!("environment variable {var} is not valid UTF-8"),
                    ));
                }
            };
            let value = value.trim();
            if value.is_empty() {
                return Err(self.error(&key, format!("environment variable {var} is empty")));
            }
            return Ok(Some(Secret::new(value)));
        }
        if let Some(path) = file {
            let key = format!("{base}_file");
            let value = rexist_http::read_secret_file(path, &key)
                .map_err(|e| self.error(&key, e.reason()))?;
            return Ok(Some(value));
        }
        Ok(None)
    }

    /// Like [`Self::secret`], for a secret the kind cannot do without.
    pub(crate) fn required_secret(
        &self,
        base: &str,
        plain: Option<&String>,
        env: Option<&String>,
        file: Option<&String>,
    ) -> Result<Secret, ConfigError> {
        self.secret(base, plain, env, file)?.ok_or_else(|| {
            let keys = if allowed_keys(&self.kind).contains(&base) {
                format!("{base}, {base}_env or {base}_file")
            } else {
                format!("{base}_env or {base}_file")
            };
            self.error(base, format!("missing: give {keys}"))
        })
    }

    /// A required plain key.
    pub(crate) fn required<'a>(
        &self,
        key: &str,
        value: Option<&'a String>,
    ) -> Result<&'a str, ConfigError> {
        match value.map(|v| v.trim()) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(self.error(key, "must not be empty")),
            None => Err(self.error(key, "missing")),
        }
    }
}

/// `10s`, `500ms`, `2m` (or a bare number of seconds), between 1 ms and 10 min.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(number),
        "" | "s" | "sec" => Duration::from_secs(number),
        "m" | "min" => Duration::from_secs(number.checked_mul(60)?),
        _ => return None,
    };
    (Duration::from_millis(1)..=Duration::from_secs(600))
        .contains(&duration)
        .then_some(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        for bad in [
            "",
            "s",
            "0s",
            "11m",
            "1h",
            "-1s",
            "1.5s",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("xoxb-1");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }
}
