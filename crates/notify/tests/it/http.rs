#![allow(clippy::unwrap_used)]
//! The HTTP kinds against a loopback receiver: the exact request each one
//! makes, how failures are classified, and that no secret leaks.

use std::time::Duration;

use crate::common::{closed_port, config, digest, receiver, single, write_file};
use rexist_notify::{Channel, SendError, webhook_signature};
use serde_json::json;

const SECRET_PATH: &str = "/services/T000/B000/XXXXsecretXXXX";

const SLACK_SINGLE: &str = "rexist hunt \"apt-watch\": <https://news.example/a?x=1|Lazarus targets &lt;banks&gt;>\n\
source: Example News\n\
matched: lazarus, 192.0.2.1\n\
TLP: CLEAR\n\
> the Lazarus group used 192.0.2.1\n\
<http://rexist.local/items/42|open in rexist>\n\
delivery: d-0001";

const MARKDOWN_DIGEST: &str = "rexist hunt \"apt-watch\": 5 new hits\n\
• [Lazarus targets <banks>](https://news.example/a?x=1) — Example News — lazarus, 192.0.2.1\n\
• [ipv4 192.0.2.1](http://rexist.local/indicators/7) (retro-hunt) — feodo — 192.0.2.1\n\
… and 3 more\n\
delivery: d-0002";

/// A channel of `kind` whose URL, read from a file, is `base` + `path`.
fn url_file_channel(kind: &str, dir: &tempfile::TempDir, base: &str, path: &str) -> Channel {
    let mut c = config("soc", kind);
    c.url_file = Some(write_file(dir.path(), "url", &format!("{base}{path}\n")));
    Channel::from_config(&c).unwrap()
}

fn assert_json_post(req: &crate::common::Request, path: &str) {
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, path);
    assert_eq!(
        req.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let agent = req.header("user-agent").unwrap();
    assert_eq!(agent, concat!("rexist/", env!("CARGO_PKG_VERSION")));
}

fn assert_no_secret(err: &SendError, channel: &Channel, secrets: &[&str]) {
    let shown = [format!("{err}"), format!("{err:?}"), format!("{channel:?}")];
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked in {text}");
        }
    }
}

#[tokio::test]
async fn slack_webhook_posts_text() {
    let rx = receiver(200, &[], "ok").await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("slack", &dir, &rx.base, SECRET_PATH);
    assert_eq!(channel.name(), "soc");
    assert_eq!(channel.kind(), "slack");
    channel.send(&single()).await.unwrap();
    let req = rx.only_request();
    assert_json_post(&req, SECRET_PATH);
    assert_eq!(req.json(), json!({ "text": SLACK_SINGLE }));
}

#[tokio::test]
async fn slack_bot_posts_with_bearer_token() {
    let rx = receiver(200, &[], r#"{"ok":true,"ts":"1.2"}"#).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("bot", "slack-bot");
    c.token_file = Some(write_file(dir.path(), "token", "xoxb-test-token\n"));
    c.channel = Some("C0123".to_owned());
    c.api_url = Some(format!("{}/api/", rx.base));
    c.template = Some("{{ hunt }}: {{ total_hits }} ({{ hits | length }} shown)".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&digest()).await.unwrap();
    let req = rx.only_request();
    assert_json_post(&req, "/api/chat.postMessage");
    assert_eq!(req.header("authorization"), Some("Bearer xoxb-test-token"));
    assert_eq!(
        req.json(),
        json!({ "channel": "C0123", "text": "apt-watch: 5 (2 shown)" })
    );
}

async fn slack_bot_error(body: &str, headers: &[(&str, &str)]) -> (SendError, Channel) {
    let rx = receiver(200, headers, body).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("bot", "slack-bot");
    c.token_file = Some(write_file(dir.path(), "token", "xoxb-test-token"));
    c.channel = Some("C0123".to_owned());
    c.api_url = Some(rx.base.clone());
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&single()).await.unwrap_err();
    assert_eq!(rx.requests().len(), 1);
    (err, channel)
}

#[tokio::test]
async fn slack_bot_ok_false_is_an_error() {
    let (err, channel) = slack_bot_error(
        r#"{"ok":false,"error":"ratelimited"}"#,
        &[("retry-after", "30")],
    )
    .await;
    assert!(err.retryable, "{err}");
    assert_eq!(err.retry_after, Some(Duration::from_secs(30)));
    assert!(err.message.contains("ratelimited"), "{err}");
    assert_no_secret(&err, &channel, &["xoxb-test-token"]);

    let (err, channel) = slack_bot_error(r#"{"ok":false,"error":"invalid_auth"}"#, &[]).await;
    assert!(!err.retryable, "{err}");
    assert!(
        err.message
            .starts_with("channel \"bot\": Slack API error invalid_auth from http://127.0.0.1:"),
        "{err}"
    );
    assert_no_secret(&err, &channel, &["xoxb-test-token"]);

    let (err, _) = slack_bot_error(r#"{"ok":false,"error":"channel_not_found"}"#, &[]).await;
    assert!(!err.retryable, "{err}");
}

#[tokio::test]
async fn teams_posts_an_adaptive_card() {
    let rx = receiver(202, &[], "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("teams", "teams");
    c.url_file = Some(write_file(
        dir.path(),
        "url",
        &format!(
            "{}/workflows/abc/triggers/manual/paths/invoke?sig=XXXXsecretXXXX",
            rx.base
        ),
    ));
    c.template = Some(
        "Hunt {{ hunt }}: {{ total_hits }} hits\n{% for h in hits %}- {{ h.title }}{% if h.retro %} (retro){% endif %}\n{% endfor %}"
            .to_owned(),
    );
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&digest()).await.unwrap();
    let req = rx.only_request();
    assert_json_post(
        &req,
        "/workflows/abc/triggers/manual/paths/invoke?sig=XXXXsecretXXXX",
    );
    assert_eq!(
        req.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        { "type": "TextBlock", "text": "Hunt apt-watch: 5 hits", "weight": "Bolder", "size": "Medium", "wrap": true },
                        { "type": "TextBlock", "text": "- Lazarus targets <banks>", "wrap": true },
                        { "type": "TextBlock", "text": "- ipv4 192.0.2.1 (retro)", "wrap": true },
                    ],
                },
            }],
        })
    );
}

#[tokio::test]
async fn teams_error_hidden_in_a_200_is_read() {
    let rx = receiver(
        200,
        &[],
        "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("teams", &dir, &rx.base, "/webhookb2/XXXXsecretXXXX");
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.message.contains("HTTP 429"), "{err}");
}

#[tokio::test]
async fn mattermost_posts_markdown_with_plain_url() {
    let rx = receiver(200, &[], "ok").await;
    let mut c = config("mm", "mattermost");
    c.url = Some(format!("{}/hooks/abc", rx.base));
    c.username = Some("hunter".to_owned());
    c.channel = Some("town-square".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&digest()).await.unwrap();
    let req = rx.only_request();
    assert_json_post(&req, "/hooks/abc");
    assert_eq!(
        req.json(),
        json!({ "text": MARKDOWN_DIGEST, "username": "hunter", "channel": "town-square" })
    );
}

#[tokio::test]
async fn discord_caps_content_and_disables_mentions() {
    let rx = receiver(204, &[], "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("dc", "discord");
    c.url_file = Some(write_file(
        dir.path(),
        "url",
        &format!("{}/api/webhooks/123/XXXXsecretXXXX", rx.base),
    ));
    c.template = Some("{% for i in range(3000) %}é{% endfor %}".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    channel.send(&single()).await.unwrap();
    let req = rx.only_request();
    assert_json_post(&req, "/api/webhooks/123/XXXXsecretXXXX");
    let body = req.json();
    let content = body["content"].as_str().unwrap();
    assert_eq!(content.chars().count(), 2000);
    assert!(content.ends_with("é…"));
    assert_eq!(body["username"], "rexist");
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn discord_default_text_is_markdown() {
    let rx = receiver(204, &[], "").await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("discord", &dir, &rx.base, "/api/webhooks/1/t");
    channel.send(&digest()).await.unwrap();
    assert_eq!(rx.only_request().json()["content"], MARKDOWN_DIGEST);
}

#[tokio::test]
async fn discord_429_body_retry_after_is_honoured() {
    let rx = receiver(
        429,
        &[("retry-after", "1"), ("content-type", "application/json")],
        r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("discord", &dir, &rx.base, "/api/webhooks/1/XXXXsecretXXXX");
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_millis(1500)));
    assert_no_secret(&err, &channel, &["XXXXsecretXXXX"]);
}

#[tokio::test]
async fn webhook_posts_the_message_signed() {
    let rx = receiver(200, &[], "").await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("hook", "webhook");
    c.url = Some(format!("{}/rexist/in", rx.base));
    c.secret_file = Some(write_file(dir.path(), "secret", "s3cret-key\n"));
    let channel = Channel::from_config(&c).unwrap();
    let msg = single();
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    channel.send(&msg).await.unwrap();
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    let req = rx.only_request();
    assert_json_post(&req, "/rexist/in");
    assert_eq!(req.header("x-rexist-delivery"), Some("d-0001"));
    let timestamp: i64 = req.header("x-rexist-timestamp").unwrap().parse().unwrap();
    assert!((before..=after).contains(&timestamp));
    let signature = req.header("x-rexist-signature").unwrap();
    assert_eq!(
        signature,
        webhook_signature(b"s3cret-key", timestamp, &req.body)
    );
    assert!(signature.starts_with("sha256=") && signature.len() == 7 + 64);
    assert_eq!(
        req.json(),
        json!({
            "id": "d-0001",
            "hunt": "apt-watch",
            "digest": false,
            "total_hits": 1,
            "hits": [{
                "object": "item",
                "title": "Lazarus targets <banks>",
                "source": "Example News",
                "url": "https://news.example/a?x=1",
                "link": "http://rexist.local/items/42",
                "terms": ["lazarus", "192.0.2.1"],
                "snippet": "the Lazarus group\nused 192.0.2.1",
                "tlp": "clear",
                "retro": false,
                "matched_at": "2024-05-06T07:08:09Z",
            }],
        })
    );
}

#[tokio::test]
async fn webhook_without_secret_is_unsigned() {
    let rx = receiver(204, &[], "").await;
    let mut c = config("hook", "webhook");
    c.url = Some(format!("{}/in", rx.base));
    Channel::from_config(&c)
        .unwrap()
        .send(&digest())
        .await
        .unwrap();
    let req = rx.only_request();
    assert_eq!(req.header("x-rexist-delivery"), Some("d-0002"));
    assert!(req.header("x-rexist-timestamp").is_some());
    assert_eq!(req.header("x-rexist-signature"), None);
}

async fn failure(status: u16, headers: &[(&str, &str)], body: &str) -> (SendError, Channel) {
    let rx = receiver(status, headers, body).await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("slack", &dir, &rx.base, SECRET_PATH);
    let err = channel.send(&single()).await.unwrap_err();
    assert_eq!(rx.requests().len(), 1);
    (err, channel)
}

#[tokio::test]
async fn server_error_is_retryable_without_secret() {
    let (err, channel) = failure(500, &[], &format!("boom at {SECRET_PATH}")).await;
    assert!(err.retryable);
    assert_eq!(err.retry_after, None);
    assert!(
        err.message
            .starts_with("channel \"soc\": HTTP 500 from http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.message.contains("boom at [redacted]"), "{err}");
    assert_no_secret(&err, &channel, &["XXXXsecretXXXX", "T000/B000"]);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let (err, channel) = failure(429, &[("retry-after", "7")], "rate_limited").await;
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(err.message.contains("HTTP 429") && err.message.contains("rate_limited"));
    assert_no_secret(&err, &channel, &["XXXXsecretXXXX"]);
}

#[tokio::test]
async fn retryable_statuses() {
    for status in [408, 425, 502, 503] {
        let (err, _) = failure(status, &[], "").await;
        assert!(err.retryable, "{status}");
    }
}

#[tokio::test]
async fn client_errors_are_permanent() {
    for (status, body) in [
        (404, "no_service"),
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (410, "channel_is_archived"),
    ] {
        let (err, channel) = failure(status, &[("retry-after", "5")], body).await;
        assert!(!err.retryable, "{status}");
        assert_eq!(err.retry_after, None);
        assert!(err.message.contains(&format!("HTTP {status}")), "{err}");
        assert!(err.message.contains(body), "{err}");
        assert_no_secret(&err, &channel, &["XXXXsecretXXXX"]);
    }
}

#[tokio::test]
async fn long_error_bodies_are_cut() {
    let (err, _) = failure(500, &[], &"z".repeat(5000)).await;
    let excerpt = err.message.rsplit(": ").next().unwrap();
    assert_eq!(excerpt.chars().count(), 200);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (err, _) = failure(302, &[("location", "http://127.0.0.1:1/elsewhere")], "").await;
    assert!(!err.retryable);
    assert!(err.message.contains("HTTP 302"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let addr = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let channel = url_file_channel("slack", &dir, &format!("http://{addr}"), SECRET_PATH);
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        err.message
            .starts_with(&format!("channel \"soc\": cannot connect to http://{addr}")),
        "{err}"
    );
    assert_no_secret(&err, &channel, &["XXXXsecretXXXX", "/services", "T000"]);
}

#[tokio::test]
async fn timeout_is_retryable() {
    let upstream = rexist_testkit::serve(|_, _, _| {
        (
            rexist_testkit::response("200 OK", "", b"ok"),
            Duration::from_secs(5),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("slow", "slack");
    c.url_file = Some(write_file(
        dir.path(),
        "url",
        &format!("{}{SECRET_PATH}", upstream.base),
    ));
    c.timeout = Some("300ms".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&single()).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.message.contains("timed out after 300 ms"), "{err}");
    assert_no_secret(&err, &channel, &["XXXXsecretXXXX"]);
}

#[tokio::test]
async fn bad_template_at_send_is_permanent() {
    let rx = receiver(200, &[], "ok").await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config("soc", "slack");
    c.url_file = Some(write_file(dir.path(), "url", &format!("{}/x", rx.base)));
    // Fine on the sample (one hit), fails on a digest of two.
    c.template =
        Some("{{ hits[0].title }}{% if hits | length > 1 %}{{ 1 / 0 }}{% endif %}".to_owned());
    let channel = Channel::from_config(&c).unwrap();
    let err = channel.send(&digest()).await.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message.starts_with("channel \"soc\": template:"),
        "{err}"
    );
    assert!(rx.requests().is_empty());
}
