#![allow(clippy::unwrap_used)]
//! Configuration errors name the channel and the key, never a secret; the
//! documented examples parse; the rate limiter paces.

use std::time::{Duration, Instant};

use crate::common::{config, write_file};
use rexist_notify::{Channel, ChannelConfig, ConfigError, KINDS, RateLimit, RateLimiter};

/// No test sets it: `std::env::set_var` is unsafe and forbidden here.
const UNSET_VAR: &str = "REXIST_NOTIFY_TEST_SURELY_UNSET_7F3A9C";

fn error(c: &ChannelConfig) -> ConfigError {
    Channel::from_config(c).unwrap_err()
}

#[test]
fn unknown_kind() {
    let err = error(&config("soc", "pager"));
    assert_eq!(err.key, "kind");
    assert!(
        err.to_string().starts_with(
            "channel \"soc\": kind: unknown kind \"pager\" (expected one of slack, slack-bot,"
        ),
        "{err}"
    );
}

#[test]
fn missing_url() {
    let err = error(&config("soc", "slack"));
    assert_eq!(
        err.to_string(),
        "channel \"soc\": url: missing: give url_env or url_file"
    );
    let err = error(&config("mm", "mattermost"));
    assert_eq!(
        err.to_string(),
        "channel \"mm\": url: missing: give url, url_env or url_file"
    );
}

#[test]
fn url_and_url_env_together() {
    let mut c = config("hook", "webhook");
    c.url = Some("http://127.0.0.1:9/x".to_owned());
    c.url_env = Some(UNSET_VAR.to_owned());
    let err = error(&c);
    assert_eq!(
        err.to_string(),
        "channel \"hook\": url: give only one of url, url_env and url_file"
    );
}

#[test]
fn unset_environment_variable() {
    let mut c = config("soc", "slack");
    c.url_env = Some(UNSET_VAR.to_owned());
    assert_eq!(
        error(&c).to_string(),
        format!("channel \"soc\": url_env: environment variable {UNSET_VAR} is not set")
    );
}

#[test]
fn variable_that_is_no_url_is_not_echoed() {
    let path = std::env::var("PATH").unwrap();
    let mut c = config("soc", "slack");
    c.url_env = Some("PATH".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "url_env");
    assert!(!err.to_string().contains(&path), "{err}");
}

#[test]
fn secret_file_errors_name_the_file_not_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("soc", "discord");
    c.url_file = Some(write_file(dir.path(), "url", "not a url XXXXsecretXXXX"));
    let err = error(&c);
    assert_eq!(
        err.to_string(),
        "channel \"soc\": url_file: not a valid URL"
    );

    c.url_file = Some(write_file(dir.path(), "empty", "  \n"));
    assert!(error(&c).to_string().ends_with("is empty"));

    let missing = dir.path().join("missing");
    c.url_file = Some(missing.to_str().unwrap().to_owned());
    let err = error(&c);
    assert!(
        err.to_string().starts_with(&format!(
            "channel \"soc\": url_file: cannot read {}",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn inline_secret_urls_are_refused() {
    let mut c = config("soc", "slack");
    c.url = Some("https://hooks.slack.com/services/T000/B000/XXXX".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "url");
    assert!(err.reason.contains("url_env or url_file"), "{err}");
    assert!(!err.to_string().contains("XXXX"));
}

#[test]
fn keys_foreign_to_the_kind() {
    let mut c = config("soc", "syslog");
    c.address = Some("127.0.0.1:514".to_owned());
    c.smtp_host = Some("mail".to_owned());
    assert_eq!(
        error(&c).to_string(),
        "channel \"soc\": smtp_host: not a key of kind syslog"
    );
    let mut c = config("hook", "webhook");
    c.url = Some("http://127.0.0.1:9/".to_owned());
    c.template = Some("{{ hunt }}".to_owned());
    assert_eq!(error(&c).key, "template");
}

#[test]
fn bad_template() {
    let mut c = config("soc", "syslog");
    c.address = Some("127.0.0.1:514".to_owned());
    c.template = Some("{% for h in hits %}{{ h.title }}".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "template");
    assert!(
        err.to_string()
            .starts_with("channel \"soc\": template: syntax error"),
        "{err}"
    );

    c.template = Some("{{ hnut }}".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "template");
    assert!(err.reason.contains("undefined"), "{err}");
}

#[test]
fn bad_subject_template() {
    let mut c = email_config();
    c.subject_template = Some("{{ hunt ".to_owned());
    assert_eq!(error(&c).key, "subject_template");
}

#[test]
fn bad_rate_limit_and_timeout() {
    let mut c = config("soc", "syslog");
    c.address = Some("127.0.0.1:514".to_owned());
    c.rate_limit = Some("30/fortnight".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "rate_limit");
    assert!(
        err.to_string()
            .starts_with("channel \"soc\": rate_limit: invalid rate limit \"30/fortnight\""),
        "{err}"
    );
    c.rate_limit = Some("30/min".to_owned());
    c.timeout = Some("forever".to_owned());
    assert_eq!(error(&c).key, "timeout");
    c.timeout = Some("2s".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    assert_eq!(
        channel.rate_limit(),
        Some(RateLimit {
            count: 30,
            per: Duration::from_secs(60)
        })
    );
}

fn email_config() -> ChannelConfig {
    let mut c = config("mail", "email");
    c.smtp_host = Some("127.0.0.1".to_owned());
    c.tls = Some("none".to_owned());
    c.from = Some("rexist <rexist@example.org>".to_owned());
    c.to = Some(vec!["soc@example.org".to_owned()]);
    c
}

#[test]
fn email_checks() {
    assert!(Channel::from_config(&email_config()).is_ok());

    let mut c = email_config();
    c.smtp_host = Some("mail.example.org".to_owned());
    let err = error(&c);
    assert_eq!(err.key, "tls");
    assert!(err.reason.contains("loopback"), "{err}");

    let mut c = email_config();
    c.to = Some(vec![]);
    assert_eq!(error(&c).key, "to");

    let mut c = email_config();
    c.to = Some(vec!["not an address".to_owned()]);
    assert_eq!(error(&c).key, "to");

    let mut c = email_config();
    c.from = None;
    assert_eq!(error(&c).to_string(), "channel \"mail\": from: missing");

    let mut c = email_config();
    c.tls = Some("ssl".to_owned());
    assert_eq!(error(&c).key, "tls");

    let mut c = email_config();
    c.username = Some("rexist".to_owned());
    assert_eq!(error(&c).key, "password_env");

    let mut c = email_config();
    c.password_env = Some(UNSET_VAR.to_owned());
    c.username = Some("rexist".to_owned());
    assert_eq!(
        error(&c).to_string(),
        format!("channel \"mail\": password_env: environment variable {UNSET_VAR} is not set")
    );
}

#[test]
fn syslog_checks() {
    let mut c = config("log", "syslog");
    assert_eq!(error(&c).to_string(), "channel \"log\": address: missing");
    c.address = Some("collector".to_owned());
    assert_eq!(error(&c).key, "address");
    c.address = Some("127.0.0.1:514".to_owned());
    c.facility = Some("local9".to_owned());
    assert_eq!(error(&c).key, "facility");
    c.facility = Some("local3".to_owned());
    c.severity = Some("loud".to_owned());
    assert_eq!(error(&c).key, "severity");
    c.severity = Some("info".to_owned());
    c.protocol = Some("sctp".to_owned());
    assert_eq!(error(&c).key, "protocol");
    c.protocol = Some("tcp".to_owned());
    c.app_name = Some("has space".to_owned());
    assert_eq!(error(&c).key, "app_name");
    c.app_name = None;
    assert!(Channel::from_config(&c).is_ok());
}

#[test]
fn slack_bot_needs_token_and_channel() {
    let mut c = config("bot", "slack-bot");
    assert_eq!(
        error(&c).to_string(),
        "channel \"bot\": token: missing: give token_env or token_file"
    );
    c.token_env = Some(UNSET_VAR.to_owned());
    assert_eq!(error(&c).key, "token_env");
}

#[test]
fn empty_name_is_refused() {
    let err = error(&config(" ", "slack"));
    assert_eq!(err.key, "name");
}

#[test]
fn unknown_keys_are_refused_by_serde() {
    let err = toml::from_str::<ChannelConfig>("name = \"a\"\nkind = \"slack\"\nurl_envv = \"X\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("url_envv"), "{err}");
}

/// Every `[[channel]]` example of docs/notifiers.md deserialises, and
/// fails, if at all, only on its secrets (not set in tests).
#[test]
fn documented_examples_parse() {
    #[derive(serde::Deserialize)]
    struct File {
        channel: Vec<ChannelConfig>,
    }
    #[allow(
        clippy::disallowed_methods,
        reason = "a file of this repository, in a test"
    )]
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/notifiers.md"
    ))
    .unwrap();
    let mut kinds = Vec::new();
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.contains("[[channel]]") {
            continue;
        }
        let file: File = toml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        for c in file.channel {
            kinds.push(c.kind.clone());
            match Channel::from_config(&c) {
                Ok(_) => {}
                Err(e) => assert!(
                    e.key.ends_with("_env") || e.key.ends_with("_file"),
                    "{e}\n{block}"
                ),
            }
        }
    }
    for kind in KINDS {
        assert!(kinds.iter().any(|k| k == kind), "no example of {kind}");
    }
}

#[test]
fn rate_limiter_allows_count_then_waits() {
    let mut limiter = RateLimiter::new("3/min".parse().unwrap());
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(limiter.try_acquire(t0), Ok(()));
    }
    let wait = limiter.try_acquire(t0).unwrap_err();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    // Just before the wait is over: still refused, with a shorter wait.
    let early = (t0 + wait).checked_sub(Duration::from_millis(10)).unwrap();
    let again = limiter.try_acquire(early).unwrap_err();
    assert!(again > Duration::ZERO && again < wait);
    // Once over: allowed, and then refused again.
    assert_eq!(limiter.try_acquire(t0 + wait), Ok(()));
    assert!(limiter.try_acquire(t0 + wait).is_err());
    // A full window later the whole burst is back.
    let later = t0 + Duration::from_secs(120);
    for _ in 0..3 {
        assert_eq!(limiter.try_acquire(later), Ok(()));
    }
    assert!(limiter.try_acquire(later).is_err());
}

#[test]
fn rate_limit_syntax() {
    assert_eq!(
        "5/s".parse::<RateLimit>().unwrap(),
        RateLimit {
            count: 5,
            per: Duration::from_secs(1)
        }
    );
    assert_eq!(
        "1000/day".parse::<RateLimit>().unwrap().per,
        Duration::from_secs(86_400)
    );
    assert!("fast".parse::<RateLimit>().is_err());
}
