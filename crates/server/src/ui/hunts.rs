//! UI pages: hunts (see the module list in `ui/mod.rs`).
//!
//! - `GET /hunts`: the hunts with their new hits, and the alert channels with
//!   their delivery health
//! - `GET /hunts/new`, `GET /hunts/{name}`: the form, a live preview of what
//!   the query or watchlist matches among stored data, and the hunt's hits
//! - `POST /hunts` (create), `PATCH /hunts/{name}` (save), `DELETE /hunts/{name}`
//! - `POST /hunts/preview`: the preview fragment, typed as the analyst writes
//! - `POST /hunts/{name}/ack`: acknowledges one hit (`id`) or all of them
//! - `POST /channels/{name}/test`: sends a test message through a channel
//!
//! Writes are htmx requests (they carry the CSRF token); validation is the
//! JSON API's ([`crate::hunts::check`]). A hunt above the reader's TLP
//! clearance is not listed and its pages answer 404, as in the API.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::{Value, context};
use rexist_core::{HitId, HitObject, HitTriage, Hunt, HuntKind, HuntSpec, ItemId, SourceId, Tlp};
use rexist_query::{Doc, HuntSet};
use rexist_store::{HitQuery, ItemQuery};

use super::Ui;
use super::pages::rfc3339;
use crate::AppState;
use crate::error::ApiError;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("hunts.title", "Hunts", "ハント"),
    ("hunts.new", "New hunt", "新しいハント"),
    ("hunts.none", "No hunts yet.", "ハントはまだありません。"),
    ("hunts.edit", "Edit hunt", "ハントの編集"),
    ("hunts.name", "Name", "名前"),
    ("hunts.kind", "Type", "種類"),
    ("hunts.kind.query", "Query over items", "アイテムへのクエリ"),
    (
        "hunts.kind.watch",
        "Watchlist over indicators",
        "指標のウォッチリスト",
    ),
    (
        "hunts.definition",
        "Query or watchlist",
        "クエリまたはウォッチリスト",
    ),
    (
        "hunts.definition.help",
        "Query: ransomware lockbit, \"black basta\" -test source:jvn — words are all required, a comma or OR separates alternatives (log4j OR 脆弱性), - excludes. Watchlist: 192.0.2.0/24, domain:example.co.jp, AS64500 (commas or lines).",
        "クエリ例: ransomware lockbit, \"black basta\" -test source:jvn — 空白区切りの語はすべて必要、カンマまたは OR で「いずれか」(log4j OR 脆弱性)、- で除外。ウォッチリスト例: 192.0.2.0/24, domain:example.co.jp, AS64500(カンマまたは改行区切り)。",
    ),
    ("hunts.channels", "Channels", "通知チャネル"),
    (
        "hunts.no_channels",
        "No alert channels are configured ([[channel]] in the configuration).",
        "通知チャネルが設定されていません(設定ファイルの [[channel]])。",
    ),
    ("hunts.digest", "Digest", "ダイジェスト"),
    (
        "hunts.digest.off",
        "off (an alert per hit)",
        "なし(ヒットごとに通知)",
    ),
    (
        "hunts.digest.help",
        "off for an alert per hit, or a period such as 30m, 1h, 1d.",
        "ヒットごとに通知する場合は off、まとめる場合は 30m、1h、1d などの期間。",
    ),
    ("hunts.enabled", "Enabled", "有効"),
    ("hunts.tlp", "TLP", "TLP"),
    (
        "hunts.tlp.help",
        "Readers cleared below this level see neither the hunt nor its hits.",
        "この区分より低い閲覧権限の利用者には、ハントもそのヒットも表示されません。",
    ),
    ("hunts.save", "Save", "保存"),
    ("hunts.create", "Create", "作成"),
    ("hunts.delete", "Delete", "削除"),
    (
        "hunts.delete.confirm",
        "Delete this hunt with its hits and pending alerts?",
        "このハントを、ヒットと未送信の通知とともに削除しますか?",
    ),
    ("hunts.saved", "Saved.", "保存しました。"),
    ("hunts.new_hits", "New hits", "未確認のヒット"),
    ("hunts.preview", "Preview", "プレビュー"),
    (
        "hunts.preview.help",
        "What this hunt matches among stored data, as you type.",
        "入力に合わせて、保存済みのデータのうち一致するものを表示します。",
    ),
    (
        "hunts.preview.items",
        "{n} of the latest {scanned} items match",
        "最新のアイテム {scanned} 件のうち {n} 件が一致",
    ),
    (
        "hunts.preview.indicators",
        "{n} stored indicators match",
        "保存済みの指標 {n} 件が一致",
    ),
    (
        "hunts.preview.indicators_capped",
        "{n} or more stored indicators match (the preview counts no further)",
        "保存済みの指標 {n} 件以上が一致(プレビューはここまで数えます)",
    ),
    (
        "hunts.preview.empty",
        "Type a query or a watchlist.",
        "クエリまたはウォッチリストを入力してください。",
    ),
    (
        "hunts.preview.none",
        "Nothing stored matches.",
        "一致する保存済みデータはありません。",
    ),
    (
        "hunts.preview.more",
        "{n} more not shown",
        "ほか {n} 件は省略",
    ),
    (
        "hunts.error.at",
        "Does not parse at position",
        "解析できません。位置",
    ),
    ("hunts.hits", "Hits", "ヒット"),
    ("hunts.hits.none", "No hits.", "ヒットはありません。"),
    ("hunts.older", "Older hits", "以前のヒット"),
    ("hunts.newest", "Newest hits", "最新のヒット"),
    ("hunts.not_saved", "Not saved:", "保存できませんでした:"),
    (
        "hunts.kind_fixed",
        "The type of a hunt cannot change; create another hunt.",
        "ハントの種類は変更できません。別のハントを作成してください。",
    ),
    (
        "hunts.read_only",
        "You can read this hunt; changing it needs the analyst role.",
        "このハントは閲覧のみできます。変更にはアナリストのロールが必要です。",
    ),
    ("hunts.view", "Hunt", "ハント"),
    ("hunts.an_item", "an item", "アイテム"),
    ("hunts.an_indicator", "an indicator", "指標"),
    ("hunts.ack", "Acknowledge", "確認済みにする"),
    ("hunts.ack_all", "Acknowledge all", "すべて確認済みにする"),
    ("hunts.acked", "Acknowledged", "確認済み"),
    ("hunts.triage", "Triage", "トリアージ"),
    ("hunts.triage.any", "Any state", "すべての状態"),
    ("hunts.triage.new", "New", "未対応"),
    ("hunts.triage.in_progress", "In progress", "対応中"),
    ("hunts.triage.closed", "Closed", "完了"),
    ("hunts.triage.false_positive", "False positive", "誤検知"),
    ("hunts.assignee", "Assignee", "担当者"),
    ("hunts.triage.note", "Note", "メモ"),
    ("hunts.triage.save", "Save", "保存"),
    (
        "hunts.triage.bad_assignee",
        "Assignee: at most 200 characters, no control characters.",
        "担当者は制御文字を含まない 200 文字以内にしてください。",
    ),
    (
        "hunts.triage.note_long",
        "The note is too long.",
        "メモが長すぎます。",
    ),
    (
        "hunts.triage.no_hit",
        "No such hit of this hunt (or it is above your clearance).",
        "このハントにそのヒットはありません(またはあなたの閲覧範囲を超えています)。",
    ),
    (
        "hunts.restricted",
        "(above your TLP clearance)",
        "(閲覧可能な TLP を超えています)",
    ),
    ("hunts.retro", "retro", "遡及"),
    ("hunts.health", "Channel health", "通知チャネルの状態"),
    ("hunts.pending", "Pending", "送信待ち"),
    ("hunts.sent", "Sent", "送信済み"),
    ("hunts.failed", "Failed", "失敗"),
    ("hunts.last_sent", "Last sent", "最終送信"),
    ("hunts.configured", "Configured", "設定あり"),
    (
        "hunts.send_test",
        "Send a test message",
        "テストメッセージを送信",
    ),
    (
        "hunts.test_sent",
        "Test message sent through",
        "テストメッセージを送信しました:",
    ),
    (
        "hunts.test_failed",
        "The test message failed on",
        "テストメッセージの送信に失敗しました:",
    ),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("hunts.html", include_str!("../../templates/hunts.html")),
    (
        "hunts_channel_test.html",
        include_str!("../../templates/hunts_channel_test.html"),
    ),
    (
        "hunts_form.html",
        include_str!("../../templates/hunts_form.html"),
    ),
    (
        "hunts_preview.html",
        include_str!("../../templates/hunts_preview.html"),
    ),
    (
        "hunts_hits.html",
        include_str!("../../templates/hunts_hits.html"),
    ),
    (
        "hunts_result.html",
        include_str!("../../templates/hunts_result.html"),
    ),
    (
        "hunts_view.html",
        include_str!("../../templates/hunts_view.html"),
    ),
];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[(
    "ui/hunts.css",
    "text/css; charset=utf-8",
    include_bytes!("../../assets/ui/hunts.css"),
)];

/// Most recent items the preview matches a query against.
const PREVIEW_ITEMS: u32 = 2000;

/// Rows per store page the preview reads.
const PAGE: u32 = 1000;

/// Matches the preview lists.
const PREVIEW_SHOWN: usize = 20;

/// Hits a hunt's page lists.
const HITS_SHOWN: u32 = 100;

/// New hits counted per hunt on the list (more shows as `N+`).
const NEW_COUNTED: u32 = 1000;

/// Names the UI's own pages take under `/hunts/`.
const RESERVED: &[&str] = &["new", "preview"];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hunts", get(list).post(create))
        .route("/hunts/new", get(new_form))
        .route("/hunts/preview", post(preview))
        .route("/hunts/{name}", get(edit_form).patch(update).delete(remove))
        .route("/hunts/{name}/ack", post(ack))
        .route("/hunts/{name}/hits", post(hits_table))
        .route("/hunts/{name}/triage", post(triage))
        .route("/channels/{name}/test", post(test_channel))
}

/// `POST /channels/{name}/test`: sends a test message through a configured
/// channel and says how it went (a fragment).
async fn test_channel(State(state): State<AppState>, Path(name): Path<String>, ui: Ui) -> Response {
    let Some(channel) = state.notifiers.iter().find(|c| c.name() == name) else {
        return ui.error(StatusCode::NOT_FOUND, "err.no_channel");
    };
    let message = rexist_notify::Message::test(state.base_url.clone());
    let (ok, detail) = match channel.send(&message).await {
        Ok(()) => (true, String::new()),
        // The channel's error names what failed, never its secrets.
        Err(e) => (false, e.to_string()),
    };
    ui.render(
        "hunts_channel_test.html",
        context! { channel => name, ok => ok, detail => detail },
    )
}

fn unavailable(ui: &Ui, e: &impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "hunts page: store failed");
    ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable")
}

/// `GET /hunts`
async fn list(State(state): State<AppState>, ui: Ui) -> Response {
    let hunts = match state.store.list_hunts().await {
        Ok(h) => h,
        Err(e) => return unavailable(&ui, &e),
    };
    let hunts = hunts
        .into_iter()
        .filter(|h| ui.principal.may_read(h.spec.tlp));
    let mut rows = Vec::new();
    for h in hunts {
        let q = HitQuery {
            hunt: Some(h.id),
            acked: Some(false),
            limit: NEW_COUNTED,
            ..HitQuery::default()
        };
        let new = match state.store.list_hits(&q).await {
            Ok(p) => format!(
                "{}{}",
                p.items.len(),
                if p.next.is_some() { "+" } else { "" }
            ),
            Err(e) => return unavailable(&ui, &e),
        };
        rows.push(context! {
            name => h.spec.name,
            kind => h.spec.kind.as_str(),
            definition => h.spec.definition,
            enabled => h.spec.enabled,
            channels => h.spec.channels,
            digest => digest_text(h.spec.digest_secs),
            digest_off => h.spec.digest_secs.is_none(),
            tlp => h.spec.tlp.as_str(),
            new => new,
        });
    }
    let channels = match channel_rows(&state).await {
        Ok(c) => c,
        Err(e) => return unavailable(&ui, &e),
    };
    ui.render(
        "hunts.html",
        context! { hunts => rows, channels => channels },
    )
}

/// Configured channels, then unconfigured ones that have alerts, with health.
async fn channel_rows(state: &AppState) -> Result<Vec<Value>, rexist_store::StoreError> {
    let health = state.store.channel_health().await?;
    let row = |name: &str, configured: bool| {
        let h = health.iter().find(|h| h.channel == name);
        context! {
            name => name,
            configured => configured,
            pending => h.map_or(0, |h| h.pending),
            failed => h.map_or(0, |h| h.failed),
            sent => h.map_or(0, |h| h.sent),
            last_sent => h.and_then(|h| h.last_sent_at).map(rfc3339),
            last_error => h.and_then(|h| h.last_error.clone()),
        }
    };
    let mut out: Vec<Value> = state.channels.iter().map(|c| row(c, true)).collect();
    for h in &health {
        if !state.channels.contains(&h.channel) {
            out.push(row(&h.channel, false));
        }
    }
    Ok(out)
}

fn digest_text(secs: Option<u64>) -> String {
    match secs {
        None => "off".to_owned(),
        Some(s) if s % 86_400 == 0 => format!("{}d", s / 86_400),
        Some(s) if s % 3600 == 0 => format!("{}h", s / 3600),
        Some(s) if s % 60 == 0 => format!("{}m", s / 60),
        Some(s) => format!("{s}s"),
    }
}

/// The form's context for `hunt` (none: a new one); the TLP choices stop
/// at the reader's clearance.
fn form_context(state: &AppState, ui: &Ui, hunt: Option<&Hunt>) -> Value {
    let spec = hunt.map(|h| h.spec.clone());
    let clearance = ui.principal.clearance;
    let tlp = spec
        .as_ref()
        .map_or_else(|| HuntSpec::default_tlp(clearance), |s| s.tlp);
    context! {
        tlp => tlp.as_str(),
        tlps => Tlp::ALL
            .into_iter()
            .filter(|t| *t <= clearance)
            .map(Tlp::as_str)
            .collect::<Vec<_>>(),
        editing => hunt.is_some(),
        name => spec.as_ref().map_or(String::new(), |s| s.name.clone()),
        kind => spec.as_ref().map_or("query", |s| s.kind.as_str()),
        definition => spec.as_ref().map_or(String::new(), |s| s.definition.clone()),
        chosen => spec.as_ref().map_or_else(Vec::new, |s| s.channels.clone()),
        digest => digest_text(spec.as_ref().and_then(|s| s.digest_secs)),
        digest_off => spec.as_ref().is_none_or(|s| s.digest_secs.is_none()),
        enabled => spec.as_ref().is_none_or(|s| s.enabled),
        channels => state.channels.as_ref().clone(),
    }
}

/// `GET /hunts/new` (analysts: a viewer could not save it)
async fn new_form(State(state): State<AppState>, ui: Ui) -> Response {
    if ui.principal.role < rexist_core::Role::Analyst {
        return ui.error(StatusCode::FORBIDDEN, "err.analyst_only");
    }
    let form = form_context(&state, &ui, None);
    ui.render("hunts_form.html", context! { form => form })
}

/// Query of a hunt's page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct HuntPageQuery {
    /// Hits older than this one.
    before: Option<i64>,
}

/// `GET /hunts/{name}`: the form for analysts, a read-only view for
/// viewers; with the preview and a page of hits (`?before=` for older).
async fn edit_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ui: Ui,
    query: Result<axum::extract::Query<HuntPageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let before = query.ok().and_then(|q| q.0.before).map(HitId::new);
    let hunt = match shown_hunt(&state, &ui, &name).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let (hits, older) = match hit_rows(&state, &ui, &hunt, None, before).await {
        Ok(h) => h,
        Err(e) => return unavailable(&ui, &e),
    };
    let preview = preview_context(&state, &ui, hunt.spec.kind, &hunt.spec.definition).await;
    let template = if ui.principal.role >= rexist_core::Role::Analyst {
        "hunts_form.html"
    } else {
        "hunts_view.html"
    };
    ui.render(
        template,
        context! {
            form => form_context(&state, &ui, Some(&hunt)),
            hunt => hunt.spec.name.clone(),
            hits => hits,
            older_href => older.map(|id| format!("{}?before={id}#hits", hunt_path(&hunt.spec.name))),
            newest_href => before.map(|_| format!("{}#hits", hunt_path(&hunt.spec.name))),
            states => HitTriage::ALL.map(HitTriage::as_str),
            preview => preview,
        },
    )
}

/// The hunt named `name` the reader may see, or the page saying why not.
async fn shown_hunt(state: &AppState, ui: &Ui, name: &str) -> Result<Hunt, Response> {
    match visible(state, ui, name).await {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(ui.error(StatusCode::NOT_FOUND, "err.no_hunt")),
        Err(e) => Err(unavailable(ui, &e)),
    }
}

/// The hunt named `name`, if the reader's clearance reaches its TLP.
async fn visible(
    state: &AppState,
    ui: &Ui,
    name: &str,
) -> Result<Option<Hunt>, rexist_store::StoreError> {
    Ok(state
        .store
        .hunt_by_name(name)
        .await?
        .filter(|h| ui.principal.may_read(h.spec.tlp)))
}

/// A page of the hunt's hits, newest first (older than `before`), with
/// what they hit where the caller may read it; and the cursor of the next
/// page.
async fn hit_rows(
    state: &AppState,
    ui: &Ui,
    hunt: &Hunt,
    triage: Option<HitTriage>,
    before: Option<HitId>,
) -> Result<(Vec<Value>, Option<i64>), rexist_store::StoreError> {
    let mut page = state
        .store
        .list_hits(&HitQuery {
            hunt: Some(hunt.id),
            before,
            limit: HITS_SHOWN,
            max_tlp: Some(ui.principal.clearance),
            triage,
            ..HitQuery::default()
        })
        .await?;
    let older = page.next.as_deref().and_then(|n| n.parse::<i64>().ok());
    page.items =
        crate::hunts::visible_hits(state.store.as_ref(), page.items, ui.principal.clearance)
            .await?;
    let item_ids: Vec<ItemId> = page
        .items
        .iter()
        .filter_map(|h| match h.object {
            HitObject::Item(id) => Some(id),
            HitObject::Indicator(_) => None,
        })
        .collect();
    let items: HashMap<ItemId, _> = state
        .store
        .items_by_id(&item_ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let mut rows = Vec::with_capacity(page.items.len());
    for h in page.items {
        let (label, href, readable) = match h.object {
            HitObject::Item(id) => match items.get(&id) {
                Some(i) if ui.principal.may_read(i.content.tlp) => {
                    (i.content.title.clone(), format!("/items/{id}"), true)
                }
                _ => (
                    super::i18n::t(ui.lang, "hunts.an_item").to_owned(),
                    String::new(),
                    false,
                ),
            },
            HitObject::Indicator(id) => match state.store.indicator_by_id(id).await? {
                Some(r) if ui.principal.may_read(r.tlp) => (
                    format!("{}:{}", r.kind, rexist_extract::defang(&r.value)),
                    super::indicator::indicator_href(r.kind, &r.value),
                    true,
                ),
                _ => (
                    super::i18n::t(ui.lang, "hunts.an_indicator").to_owned(),
                    String::new(),
                    false,
                ),
            },
        };
        rows.push(context! {
            id => h.id.get(),
            label => label,
            href => href,
            readable => readable,
            terms => h.terms,
            retro => h.retro,
            at => rfc3339(h.created_at),
            acked => h.acked_at.is_some(),
            acked_by => h.acked_by,
            triage => h.triage.as_str(),
            assignee => h.assignee,
        });
    }
    Ok((rows, older))
}

/// A form body: every value of every field, in order.
fn fields(body: &[u8]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn field<'a>(f: &'a HashMap<String, Vec<String>>, name: &str) -> &'a str {
    f.get(name)
        .and_then(|v| v.first())
        .map_or("", String::as_str)
}

fn kind_of(f: &HashMap<String, Vec<String>>) -> HuntKind {
    if field(f, "kind") == "watch" {
        HuntKind::Watch
    } else {
        HuntKind::Query
    }
}

/// A spec from the form, validated as the JSON API validates it.
/// Without a `tlp` field the hunt gets `tlp` (the default for a new one,
/// its own for an edit).
fn spec_from(
    state: &AppState,
    ui: &Ui,
    f: &HashMap<String, Vec<String>>,
    tlp: Tlp,
) -> Result<HuntSpec, ApiError> {
    let tlp = match field(f, "tlp").trim() {
        "" => tlp,
        t => t
            .parse::<Tlp>()
            .map_err(|e| ApiError::invalid(format!("tlp: {e}")))?,
    };
    crate::hunts::check_tlp(&ui.principal, tlp)?;
    let spec = HuntSpec {
        name: field(f, "name").trim().to_owned(),
        kind: kind_of(f),
        definition: field(f, "definition").to_owned(),
        enabled: f.contains_key("enabled"),
        channels: f.get("channels").cloned().unwrap_or_default(),
        digest_secs: crate::hunts::digest_secs(Some(field(f, "digest").trim()))?,
        tlp,
    };
    crate::hunts::check(state, &spec)?;
    if RESERVED.contains(&spec.name.as_str()) {
        return Err(ApiError::invalid(format!(
            "name: {:?} names a page of the web UI; choose another",
            spec.name
        )));
    }
    Ok(spec)
}

/// The outcome of a write, for the form's result area.
fn result(ui: &Ui, error: Option<&str>) -> Response {
    ui.render(
        "hunts_result.html",
        context! { error => error, saved => error.is_none() },
    )
}

/// Sends the browser to `path` after an htmx write.
fn redirect(ui: &Ui, path: &str) -> Response {
    let mut r = result(ui, None);
    if let Ok(v) = HeaderValue::from_str(path) {
        r.headers_mut().insert("hx-redirect", v);
    }
    r
}

/// A hunt's page (a `/` in the name stays inside one path segment).
fn hunt_path(name: &str) -> String {
    format!("/hunts/{}", crate::url_encode(name).replace('/', "%2F"))
}

/// `POST /hunts`: creates a hunt from the form.
async fn create(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    let f = fields(&body);
    let tlp = HuntSpec::default_tlp(ui.principal.clearance);
    let spec = match spec_from(&state, &ui, &f, tlp) {
        Ok(s) => s,
        Err(e) => return result(&ui, Some(e.message())),
    };
    match state.ingest.create_hunt(&spec).await {
        Ok(h) => redirect(&ui, &hunt_path(&h.spec.name)),
        Err(e) => result(&ui, Some(ApiError::from(e).message())),
    }
}

/// `PATCH /hunts/{name}`: saves the form over the hunt.
async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ui: Ui,
    body: Bytes,
) -> Response {
    let hunt = match visible(&state, &ui, &name).await {
        Ok(Some(h)) => h,
        Ok(None) => return ui.error(StatusCode::NOT_FOUND, "err.no_hunt"),
        Err(e) => return result(&ui, Some(ApiError::from(e).message())),
    };
    let f = fields(&body);
    let spec = match spec_from(&state, &ui, &f, hunt.spec.tlp) {
        Ok(s) if s.kind != hunt.spec.kind => {
            return result(&ui, Some(super::i18n::t(ui.lang, "hunts.kind_fixed")));
        }
        Ok(s) => s,
        Err(e) => return result(&ui, Some(e.message())),
    };
    match state.ingest.update_hunt(hunt.id, &spec).await {
        Ok(Some(h)) if h.spec.name != name => redirect(&ui, &hunt_path(&h.spec.name)),
        Ok(Some(_)) => result(&ui, None),
        Ok(None) => ui.error(StatusCode::NOT_FOUND, "err.no_hunt"),
        Err(e) => result(&ui, Some(ApiError::from(e).message())),
    }
}

/// `DELETE /hunts/{name}`
async fn remove(State(state): State<AppState>, Path(name): Path<String>, ui: Ui) -> Response {
    match visible(&state, &ui, &name).await {
        Ok(Some(h)) => match state.ingest.delete_hunt(h.id).await {
            Ok(_) => redirect(&ui, "/hunts"),
            Err(e) => result(&ui, Some(ApiError::from(e).message())),
        },
        Ok(None) => ui.error(StatusCode::NOT_FOUND, "err.no_hunt"),
        Err(e) => result(&ui, Some(ApiError::from(e).message())),
    }
}

/// `POST /hunts/{name}/ack`: `id` acknowledges one hit, none all of the hunt's.
async fn ack(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ui: Ui,
    body: Bytes,
) -> Response {
    let hunt = match shown_hunt(&state, &ui, &name).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let f = fields(&body);
    let ids: Vec<HitId> = match f.get("id") {
        Some(ids) => match ids.iter().map(|i| i.parse::<i64>()).collect() {
            Ok(ids) => ids_of(ids),
            Err(_) => return ui.error(StatusCode::BAD_REQUEST, "err.bad_hit"),
        },
        None => Vec::new(),
    };
    if let Err(e) = state
        .store
        .ack_hits(&ids, Some(hunt.id), &ui.principal.name)
        .await
    {
        return unavailable(&ui, &e);
    }
    hits_fragment(&state, &ui, &hunt, None).await
}

/// The hits table of `hunt`, only those in `triage` when given.
async fn hits_fragment(
    state: &AppState,
    ui: &Ui,
    hunt: &Hunt,
    triage: Option<HitTriage>,
) -> Response {
    match hit_rows(state, ui, hunt, triage, None).await {
        Ok((hits, _)) => ui.render(
            "hunts_hits.html",
            context! {
                hunt => hunt.spec.name.clone(),
                hits => hits,
                states => HitTriage::ALL.map(HitTriage::as_str),
                shown => triage.map(HitTriage::as_str),
            },
        ),
        Err(e) => unavailable(ui, &e),
    }
}

/// `POST /hunts/{name}/hits`: the hits table, filtered by `triage`.
async fn hits_table(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ui: Ui,
    body: Bytes,
) -> Response {
    let hunt = match shown_hunt(&state, &ui, &name).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let f = fields(&body);
    let triage = match field(&f, "triage") {
        "" => None,
        t => match t.parse::<HitTriage>() {
            Ok(t) => Some(t),
            Err(e) => {
                return ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_request", &e.to_string());
            }
        },
    };
    hits_fragment(&state, &ui, &hunt, triage).await
}

/// `POST /hunts/{name}/triage`: sets hit `id`'s state, assignee and note
/// (analyst), as `POST /api/v1/hits/triage` does.
async fn triage(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ui: Ui,
    body: Bytes,
) -> Response {
    let hunt = match shown_hunt(&state, &ui, &name).await {
        Ok(h) => h,
        Err(page) => return page,
    };
    let f = fields(&body);
    // One hit's own form sends its id; the bulk form every selected one.
    let ids: Result<Vec<HitId>, _> = f
        .get("id")
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| v.trim().parse::<i64>().map(HitId::new))
        .collect();
    let ids = match ids {
        Ok(ids) if !ids.is_empty() && ids.len() <= crate::hunts::MAX_TRIAGE => ids,
        _ => return ui.error(StatusCode::BAD_REQUEST, "err.bad_hit"),
    };
    let status = match field(&f, "status").parse::<HitTriage>() {
        Ok(s) => s,
        Err(e) => {
            return ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_request", &e.to_string());
        }
    };
    let assignee = field(&f, "assignee").trim();
    if !crate::hunts::assignee_ok(assignee) {
        return ui.error(StatusCode::BAD_REQUEST, "hunts.triage.bad_assignee");
    }
    let note = field(&f, "note").trim();
    if note.chars().count() > crate::hunts::MAX_NOTE {
        return ui.error(StatusCode::BAD_REQUEST, "hunts.triage.note_long");
    }
    // Only a hit of this hunt, which the reader may see.
    let ours = match state.store.hits_by_id(&ids).await {
        Ok(hits) => hits.into_iter().filter(|h| h.hunt_id == hunt.id).collect(),
        Err(e) => return unavailable(&ui, &e),
    };
    let ours = match crate::hunts::visible_hits(state.store.as_ref(), ours, ui.principal.clearance)
        .await
    {
        Ok(h) => h,
        Err(e) => return unavailable(&ui, &e),
    };
    if ours.is_empty() {
        return ui.error(StatusCode::NOT_FOUND, "hunts.triage.no_hit");
    }
    let change = rexist_core::TriageChange {
        status: Some(status),
        assignee: Some((!assignee.is_empty()).then(|| assignee.to_owned())),
        note: (!note.is_empty()).then(|| note.to_owned()),
        author: ui.principal.name.clone(),
    };
    let ours: Vec<HitId> = ours.iter().map(|h| h.id).collect();
    if let Err(e) = state.store.triage_hits(&ours, &change).await {
        return unavailable(&ui, &e);
    }
    hits_fragment(&state, &ui, &hunt, None).await
}

fn ids_of(ids: Vec<i64>) -> Vec<HitId> {
    ids.into_iter().map(HitId::new).collect()
}

/// `POST /hunts/preview`: what the form's query or watchlist matches.
async fn preview(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    let f = fields(&body);
    let ctx = preview_context(&state, &ui, kind_of(&f), field(&f, "definition")).await;
    ui.render("hunts_preview.html", context! { preview => ctx })
}

/// A parse error: where, why, and the text around it.
fn parse_error(definition: &str, e: &rexist_query::ParseError) -> Value {
    let at = (0..=e.position.min(definition.len()))
        .rev()
        .find(|&i| definition.is_char_boundary(i))
        .unwrap_or(0);
    let (before, after) = definition.split_at(at);
    let mut rest = after.chars();
    let marked = rest.next().map(String::from).unwrap_or_default();
    context! {
        position => e.position,
        column => before.chars().count() + 1,
        message => e.message.clone(),
        before => before,
        marked => marked,
        after => rest.as_str(),
    }
}

async fn preview_context(state: &AppState, ui: &Ui, kind: HuntKind, definition: &str) -> Value {
    if definition.trim().is_empty() {
        return context! { empty => true };
    }
    let outcome = match kind {
        HuntKind::Query => match rexist_query::parse(definition) {
            Ok(q) => preview_items(state, ui, q).await,
            Err(e) => return context! { error => parse_error(definition, &e) },
        },
        HuntKind::Watch => match rexist_query::parse_watchlist(definition) {
            Ok(w) if w.is_empty() => return context! { empty => true },
            Ok(w) => preview_indicators(state, ui, w).await,
            Err(e) => return context! { error => parse_error(definition, &e) },
        },
    };
    match outcome {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "hunt preview: store failed");
            context! { failed => true }
        }
    }
}

async fn preview_items(
    state: &AppState,
    ui: &Ui,
    query: rexist_query::Query,
) -> Result<Value, rexist_store::StoreError> {
    let names: HashMap<SourceId, String> = state
        .store
        .list_sources()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut items = Vec::new();
    let mut before = None;
    while items.len() < PREVIEW_ITEMS as usize {
        let page = state
            .store
            .search_items(&ItemQuery {
                max_tlp: Some(ui.principal.clearance),
                before,
                limit: PAGE,
                ..ItemQuery::default()
            })
            .await?;
        let more = page.next.is_some();
        before = page.items.last().map(|i| i.id);
        items.extend(page.items);
        if !more || before.is_none() {
            break;
        }
    }
    let clearance = ui.principal.clearance;
    let ids: Vec<_> = items.iter().map(|i| i.id).collect();
    let entities =
        rexist_pipeline::entities::names_of_items(state.store.as_ref(), &ids, clearance).await?;
    let matched = tokio::task::spawn_blocking(move || {
        let set = HuntSet::new([(1, query)]);
        let mut out = Vec::new();
        let mut count = 0usize;
        for i in items.iter().filter(|i| i.content.tlp <= clearance) {
            let c = &i.content;
            let doc = Doc {
                title: &c.title,
                body: &c.body,
                kind: c.kind.as_str(),
                source: names.get(&i.source_id).map_or("", String::as_str),
                tags: &c.tags,
                lang: c.lang.as_deref(),
                tlp: c.tlp.as_str(),
                entities: entities.get(&i.id).map_or(&[], Vec::as_slice),
            };
            if let Some(hit) = set.matches(&doc).into_iter().next() {
                count += 1;
                if out.len() < PREVIEW_SHOWN {
                    out.push(context! {
                        href => format!("/items/{}", i.id),
                        label => c.title.clone(),
                        source => names.get(&i.source_id).cloned().unwrap_or_default(),
                        terms => hit.terms,
                    });
                }
            }
        }
        (out, count, items.len())
    })
    .await
    .map_err(|e| rexist_store::StoreError::internal(format!("preview task: {e}")))?;
    let (shown, count, scanned) = matched;
    Ok(context! {
        what => "items",
        shown => shown,
        count => count,
        more => count.saturating_sub(PREVIEW_SHOWN),
        scanned => scanned,
    })
}

async fn preview_indicators(
    state: &AppState,
    ui: &Ui,
    watch: Vec<rexist_query::WatchEntry>,
) -> Result<Value, rexist_store::StoreError> {
    let found = super::watch::matches(&state.store, watch, ui.principal.clearance).await?;
    let count = found.found.len();
    let shown: Vec<Value> = found
        .found
        .into_iter()
        .take(PREVIEW_SHOWN)
        .map(|f| {
            let r = f.record;
            context! {
                href => super::indicator::indicator_href(r.kind, &r.value),
                label => format!("{}:{}", r.kind, rexist_extract::defang(&r.value)),
                source => format!("TLP:{}", r.tlp.as_str().to_uppercase()),
                terms => f.terms,
            }
        })
        .collect();
    Ok(context! {
        what => "indicators",
        shown => shown,
        count => count,
        capped => found.capped,
        more => count.saturating_sub(PREVIEW_SHOWN),
    })
}
