//! Social media posts: Mastodon timelines, Bluesky `searchPosts`, X API v2
//! recent search.
//!
//! Every post becomes an [`ItemRecord`] of kind `Post` with no stated
//! indicators and `extract: true`: the pipeline finds indicators (defanged
//! too) in its text. External ids: `mastodon:{url}` (the status URL is
//! unique across instances; falls back to `uri`, then `id`),
//! `bluesky:{at-uri}`, `x:{id}`.
//!
//! Paging: Mastodon pages by the `Link` header ([`parse_link_header`]): keep
//! the newest status id ([`Posts::newest_id`]) and ask `min_id=` next run;
//! walk back with `max_id=`. Bluesky gives `cursor`; X gives
//! `meta.next_token` and `meta.newest_id` (the `since_id` of the next run).

use rexist_core::{ItemKind, ItemRecord, NewItem, Rejected, Tlp};
use serde_json::{Map, Value, json};

use crate::dates;
use crate::error::{FormatError, truncate};
use crate::html;

const FORMAT_MASTODON: &str = "mastodon statuses";
const FORMAT_BLUESKY: &str = "bluesky search";
const FORMAT_X: &str = "x search";

/// One page of posts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Posts {
    /// One `Post` item per usable post.
    pub records: Vec<ItemRecord>,
    /// Posts that could not be used (`at` = `post 3`).
    pub rejected: Vec<Rejected>,
    /// Number of posts in the body, usable or not.
    pub result_count: usize,
    /// Newest post id on the page (Mastodon: highest numeric id; X:
    /// `meta.newest_id`).
    pub newest_id: Option<String>,
    /// Oldest post id on the page (Mastodon; X `meta.oldest_id`).
    pub oldest_id: Option<String>,
    /// Bluesky `cursor` / X `meta.next_token`: the next (older) page.
    pub cursor: Option<String>,
}

/// The paging ids of a Mastodon `Link` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPaging {
    /// URL of `rel="next"` (older posts).
    pub next: Option<String>,
    /// URL of `rel="prev"` (newer posts).
    pub prev: Option<String>,
    /// `max_id` of the `next` link.
    pub max_id: Option<String>,
    /// `min_id` (or `since_id`) of the `prev` link.
    pub min_id: Option<String>,
}

/// Parses a `Link: <url>; rel="next", <url>; rel="prev"` header value.
pub fn parse_link_header(value: &str) -> LinkPaging {
    let mut out = LinkPaging::default();
    for part in value.split(',') {
        let part = part.trim();
        let Some(start) = part.find('<') else {
            continue;
        };
        let Some(end) = part[start..].find('>') else {
            continue;
        };
        let url = &part[start + 1..start + end];
        let params = &part[start + end + 1..];
        let rel = params
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("rel="))
            .map(|r| r.trim_matches('"'))
            .next()
            .unwrap_or("");
        match rel {
            "next" => {
                out.max_id = query_param(url, "max_id");
                out.next = Some(url.to_owned());
            }
            "prev" => {
                out.min_id = query_param(url, "min_id").or_else(|| query_param(url, "since_id"));
                out.prev = Some(url.to_owned());
            }
            _ => {}
        }
    }
    out
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn id_of(m: &Map<String, Value>) -> Option<String> {
    match m.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Compares numeric ids as numbers (64-bit snowflakes arrive as strings).
fn id_newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

fn first_line_title(body: &str, fallback: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let title = truncate(line.trim(), 120);
    if title.is_empty() {
        fallback.to_owned()
    } else {
        title
    }
}

/// What one post is made of, before it becomes an item.
struct PostParts<'a> {
    external_id: String,
    title_fallback: String,
    body: String,
    url: Option<String>,
    lang: Option<String>,
    published: Option<&'a str>,
    tags: Vec<String>,
    extra: Value,
}

fn post(p: PostParts<'_>) -> ItemRecord {
    ItemRecord::text(NewItem {
        kind: ItemKind::Post,
        external_id: p.external_id,
        title: first_line_title(&p.body, &p.title_fallback),
        body: p.body,
        url: p.url,
        lang: p.lang,
        published_at: p.published.and_then(dates::any),
        tlp: Tlp::Clear,
        tags: p.tags,
        extra: p.extra,
    })
}

/// Parses a Mastodon timeline page (a JSON array of statuses). A reblog is
/// read as the reblogged status.
pub fn parse_mastodon(body: &[u8]) -> Result<Posts, FormatError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT_MASTODON, &e))?;
    let list = match root {
        Value::Array(list) => list,
        Value::Object(m) if m.contains_key("error") => {
            return Err(FormatError::Upstream {
                format: FORMAT_MASTODON,
                code: "error".into(),
                message: truncate(text(&m, "error").unwrap_or(""), 200),
            });
        }
        _ => {
            return Err(FormatError::Shape {
                format: FORMAT_MASTODON,
                what: "body is not a list of statuses".into(),
            });
        }
    };
    let mut out = Posts {
        result_count: list.len(),
        ..Posts::default()
    };
    for (n, value) in list.into_iter().enumerate() {
        let at = format!("post {}", n + 1);
        let Value::Object(outer) = value else {
            out.rejected
                .push(Rejected::new(at, "status is not an object"));
            continue;
        };
        let Some(page_id) = id_of(&outer) else {
            out.rejected.push(Rejected::new(at, "missing id"));
            continue;
        };
        if out
            .newest_id
            .as_deref()
            .is_none_or(|n| id_newer(&page_id, n))
        {
            out.newest_id = Some(page_id.clone());
        }
        if out
            .oldest_id
            .as_deref()
            .is_none_or(|o| id_newer(o, &page_id))
        {
            out.oldest_id = Some(page_id.clone());
        }
        let m = match outer.get("reblog") {
            Some(Value::Object(r)) => r,
            _ => &outer,
        };
        let key = text(m, "url")
            .or_else(|| text(m, "uri"))
            .map_or_else(|| id_of(m).unwrap_or(page_id), str::to_owned);
        let content = html::to_text(text(m, "content").unwrap_or(""));
        let spoiler = text(m, "spoiler_text").unwrap_or("");
        let body = if spoiler.is_empty() {
            content
        } else {
            format!("{spoiler}\n\n{content}")
        };
        let acct = m
            .get("account")
            .and_then(|a| a.get("acct"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let tags: Vec<String> = m
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let media: Vec<&str> = m
            .get("media_attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("url").and_then(Value::as_str))
            .collect();
        let extra = json!({
            "platform": "mastodon",
            "id": id_of(m),
            "author": acct,
            "author_url": m.get("account").and_then(|a| a.get("url")),
            "sensitive": m.get("sensitive"),
            "edited_at": m.get("edited_at"),
            "media": media,
            "reblogged": outer.get("reblog").is_some_and(Value::is_object),
        });
        let title_fallback = format!("Post by @{acct}");
        out.records.push(post(PostParts {
            external_id: format!("mastodon:{key}"),
            title_fallback,
            body,
            url: text(m, "url").or_else(|| text(m, "uri")).map(str::to_owned),
            lang: text(m, "language").map(str::to_owned),
            published: text(m, "created_at"),
            tags,
            extra,
        }));
    }
    Ok(out)
}

/// The bsky.app URL of a post: `at://{did}/app.bsky.feed.post/{rkey}` by
/// `{handle}` → `https://bsky.app/profile/{handle}/post/{rkey}`.
pub fn bluesky_web_url(at_uri: &str, handle: &str) -> Option<String> {
    let rest = at_uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let did = parts.next()?;
    if parts.next()? != "app.bsky.feed.post" {
        return None;
    }
    let rkey = parts.next().filter(|r| !r.is_empty())?;
    let who = if handle.is_empty() { did } else { handle };
    Some(format!("https://bsky.app/profile/{who}/post/{rkey}"))
}

/// Parses an `app.bsky.feed.searchPosts` answer (`{"posts":[…], "cursor"}`).
pub fn parse_bluesky(body: &[u8]) -> Result<Posts, FormatError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT_BLUESKY, &e))?;
    let Value::Object(mut map) = root else {
        return Err(FormatError::Shape {
            format: FORMAT_BLUESKY,
            what: "body is not an object".into(),
        });
    };
    if let (Some(err), None) = (text(&map, "error"), map.get("posts")) {
        return Err(FormatError::Upstream {
            format: FORMAT_BLUESKY,
            code: truncate(err, 40),
            message: truncate(text(&map, "message").unwrap_or(""), 200),
        });
    }
    let Some(Value::Array(list)) = map.remove("posts") else {
        return Err(FormatError::Shape {
            format: FORMAT_BLUESKY,
            what: "missing \"posts\" list".into(),
        });
    };
    let mut out = Posts {
        result_count: list.len(),
        cursor: text(&map, "cursor").map(str::to_owned),
        ..Posts::default()
    };
    for (n, value) in list.into_iter().enumerate() {
        let at = format!("post {}", n + 1);
        let Value::Object(m) = value else {
            out.rejected
                .push(Rejected::new(at, "post is not an object"));
            continue;
        };
        let Some(uri) = text(&m, "uri") else {
            out.rejected.push(Rejected::new(at, "missing uri"));
            continue;
        };
        let record = m.get("record").and_then(Value::as_object);
        let body = record
            .and_then(|r| text(r, "text"))
            .unwrap_or("")
            .to_owned();
        let handle = m
            .get("author")
            .and_then(|a| a.get("handle"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let created = record
            .and_then(|r| text(r, "createdAt"))
            .or_else(|| text(&m, "indexedAt"));
        let lang = record
            .and_then(|r| r.get("langs"))
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(Value::as_str)
            .map(str::to_owned);
        let extra = json!({
            "platform": "bluesky",
            "uri": uri,
            "cid": m.get("cid"),
            "author": handle,
            "author_did": m.get("author").and_then(|a| a.get("did")),
        });
        let title_fallback = format!("Post by @{handle}");
        out.records.push(post(PostParts {
            external_id: format!("bluesky:{uri}"),
            title_fallback,
            body,
            url: bluesky_web_url(uri, handle),
            lang,
            published: created,
            tags: Vec::new(),
            extra,
        }));
    }
    Ok(out)
}

/// Parses an X API v2 `GET /2/tweets/search/recent` answer (ask for
/// `expansions=author_id`, `tweet.fields=created_at,lang`,
/// `user.fields=username`).
pub fn parse_x(body: &[u8]) -> Result<Posts, FormatError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT_X, &e))?;
    let Value::Object(map) = root else {
        return Err(FormatError::Shape {
            format: FORMAT_X,
            what: "body is not an object".into(),
        });
    };
    let meta = map.get("meta").and_then(Value::as_object);
    let list = match map.get("data") {
        Some(Value::Array(list)) => list.clone(),
        // No results: `{"meta":{"result_count":0}}`.
        None if meta.is_some() => Vec::new(),
        _ => {
            let message = map
                .get("title")
                .or_else(|| map.get("detail"))
                .and_then(Value::as_str);
            return Err(match message {
                Some(m) => FormatError::Upstream {
                    format: FORMAT_X,
                    code: map
                        .get("status")
                        .map_or_else(|| "error".to_owned(), Value::to_string),
                    message: truncate(m, 200),
                },
                None => FormatError::Shape {
                    format: FORMAT_X,
                    what: "missing \"data\" list".into(),
                },
            });
        }
    };
    let users: Vec<&Map<String, Value>> = map
        .get("includes")
        .and_then(|i| i.get("users"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let mut out = Posts {
        result_count: list.len(),
        newest_id: meta.and_then(|m| text(m, "newest_id")).map(str::to_owned),
        oldest_id: meta.and_then(|m| text(m, "oldest_id")).map(str::to_owned),
        cursor: meta.and_then(|m| text(m, "next_token")).map(str::to_owned),
        ..Posts::default()
    };
    for (n, value) in list.into_iter().enumerate() {
        let at = format!("post {}", n + 1);
        let Value::Object(m) = value else {
            out.rejected
                .push(Rejected::new(at, "post is not an object"));
            continue;
        };
        let Some(id) = id_of(&m) else {
            out.rejected.push(Rejected::new(at, "missing id"));
            continue;
        };
        let author_id = text(&m, "author_id");
        let username = author_id
            .and_then(|a| users.iter().find(|u| text(u, "id") == Some(a)))
            .and_then(|u| text(u, "username"));
        let url = Some(match username {
            Some(u) => format!("https://x.com/{u}/status/{id}"),
            None => format!("https://x.com/i/web/status/{id}"),
        });
        let body = text(&m, "text").unwrap_or("").to_owned();
        let extra = json!({
            "platform": "x",
            "id": id,
            "author": username,
            "author_id": author_id,
        });
        let title_fallback = format!("Post {id}");
        out.records.push(post(PostParts {
            external_id: format!("x:{id}"),
            title_fallback,
            body,
            url,
            lang: text(&m, "lang").map(str::to_owned),
            published: text(&m, "created_at"),
            tags: Vec::new(),
            extra,
        }));
    }
    Ok(out)
}
