//! UI for curation: what analysts add and say (see `crate::curation`, whose
//! checks and writes these pages share).
//!
//! - `GET /curation/indicators/{type}/{*value}`: the panel the indicator
//!   page loads (htmx): false-positive mark, notes, local sightings, hand
//!   labels, TLP raise and score override, each with its form for analysts;
//!   for a value rexist does not hold, a button that adds it.
//! - `POST /curation/indicators/{type}/{*value}` (form `do` and its
//!   fields): applies one change and answers with the panel again.
//! - `GET /curation/items/{id}`, `POST /curation/items/{id}`: the item
//!   page's panel: notes (written and deleted there), and the indicators an
//!   analyst's event item groups.
//! - `GET /curation/paste`: a box to paste text into; `POST
//!   /curation/paste` lists the indicators found in it to pick from,
//!   `POST /curation/paste/add` adds the picked ones (TLP, labels, a note),
//!   `POST /curation/paste/event` makes an event item of them and opens it.
//!
//! Writes are htmx requests (they carry the CSRF token) and need the
//! analyst role; what is above the reader's clearance answers as unknown.

use std::collections::HashSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::{Value, context};
use rexist_core::{
    Indicator, IndicatorRecord, IndicatorType, ItemKind, LocalSightings, Note, NoteTarget, Tlp,
};

use super::Ui;
use super::pages::rfc3339;
use crate::AppState;
use crate::auth::ClientAddr;
use crate::curation::{self as api, Who};
use crate::error::ApiError;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("nav.add", "Add indicators", "指標を追加"),
    ("ind.status.false_positive", "false positive", "誤検知"),
    ("factor.false_positive", "false positive", "誤検知"),
    ("factor.override", "analyst's score", "アナリストのスコア"),
    ("factor.local", "seen in our network", "自組織での観測"),
    (
        "cur.title",
        "Analysts' notes and verdicts",
        "アナリストのメモと判定",
    ),
    ("cur.loading", "Loading notes…", "メモを読み込み中…"),
    ("cur.unknown", "Not stored yet.", "まだ保存されていません。"),
    ("cur.add_this", "Add this indicator", "この指標を追加"),
    ("cur.fp", "False positive", "誤検知"),
    (
        "cur.fp_marked",
        "Marked a false positive:",
        "誤検知としてマーク済み:",
    ),
    (
        "cur.fp_note",
        "It is left out of every export, TAXII collection and hunt.",
        "すべてのエクスポート、TAXII コレクション、ハントから除外されます。",
    ),
    (
        "cur.fp_mark",
        "Mark as false positive",
        "誤検知としてマーク",
    ),
    ("cur.fp_unmark", "Remove the mark", "マークを外す"),
    ("cur.reason", "Reason", "理由"),
    ("cur.by", "by", "記入者"),
    ("cur.notes", "Notes", "メモ"),
    ("cur.no_notes", "No notes yet.", "メモはまだありません。"),
    ("cur.note_add", "Add note", "メモを追加"),
    ("cur.note_text", "Note", "メモ"),
    ("cur.delete", "Delete", "削除"),
    (
        "cur.local",
        "Seen in our network",
        "自組織のネットワークでの観測",
    ),
    (
        "cur.local_none",
        "Not reported in our network.",
        "自組織のネットワークでの観測報告はありません。",
    ),
    (
        "cur.local_summary",
        "{count} times in {reports} reports, last",
        "{reports} 件の報告で {count} 回、最終",
    ),
    ("cur.count", "Times", "回数"),
    ("cur.where", "Where", "場所"),
    (
        "cur.seen_at",
        "When (RFC 3339, empty: now)",
        "日時 (RFC 3339、空欄は現在)",
    ),
    ("cur.local_add", "Record sighting", "観測を記録"),
    ("cur.labels", "Labels by hand", "手動ラベル"),
    ("cur.label", "Label", "ラベル"),
    ("cur.label_add", "Add label", "ラベルを追加"),
    ("cur.label_remove", "Remove label", "ラベルを除去"),
    ("cur.label_added", "added", "追加"),
    ("cur.label_removed", "removed", "除去"),
    ("cur.forget", "Undo", "取り消す"),
    (
        "cur.no_labels",
        "No labels changed by hand.",
        "手動で変更したラベルはありません。",
    ),
    ("cur.tlp", "TLP raised", "TLP の引き上げ"),
    ("cur.tlp_none", "Not raised.", "引き上げていません。"),
    ("cur.tlp_raise", "Raise TLP", "TLP を引き上げる"),
    ("cur.score", "Score override", "スコアの上書き"),
    ("cur.score_none", "Not overridden.", "上書きしていません。"),
    ("cur.score_set", "Override score", "スコアを上書き"),
    ("cur.clear", "Remove", "解除"),
    ("cur.saved", "Saved.", "保存しました。"),
    ("cur.paste_title", "Add indicators", "指標を追加"),
    (
        "cur.paste_hint",
        "Paste text — a report, an e-mail, a list — to find the indicators in it, then pick which to add.",
        "レポート、メール、リストなどのテキストを貼り付けると指標を抽出します。追加するものを選んでください。",
    ),
    ("cur.paste_text", "Text", "テキスト"),
    ("cur.paste_extract", "Find indicators", "指標を抽出"),
    (
        "cur.paste_none",
        "No indicators found in the text.",
        "テキストに指標は見つかりませんでした。",
    ),
    ("cur.paste_found", "Indicators found", "見つかった指標"),
    ("cur.paste_known", "already stored", "保存済み"),
    ("cur.paste_add", "Add selected", "選択したものを追加"),
    ("cur.paste_added", "Added", "追加しました"),
    ("cur.paste_failed", "Not added", "追加できませんでした"),
    (
        "cur.labels_field",
        "Labels (comma-separated)",
        "ラベル (カンマ区切り)",
    ),
    ("cur.note_field", "Note on each", "それぞれへのメモ"),
    (
        "cur.event",
        "Or group them in an event",
        "またはイベントにまとめる",
    ),
    ("cur.event_title", "Event title", "イベントのタイトル"),
    ("cur.event_create", "Create event", "イベントを作成"),
    (
        "cur.event_indicators",
        "Indicators of this event",
        "このイベントの指標",
    ),
    ("cur.event_author", "Written by", "作成者"),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "curation_indicator.html",
        include_str!("../../templates/curation_indicator.html"),
    ),
    (
        "curation_item.html",
        include_str!("../../templates/curation_item.html"),
    ),
    (
        "curation_paste.html",
        include_str!("../../templates/curation_paste.html"),
    ),
    (
        "curation_paste_found.html",
        include_str!("../../templates/curation_paste_found.html"),
    ),
    (
        "curation_paste_added.html",
        include_str!("../../templates/curation_paste_added.html"),
    ),
];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[(
    "ui/curation.css",
    "text/css; charset=utf-8",
    include_bytes!("../../assets/ui/curation.css"),
)];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/curation/indicators/{type}/{*value}",
            get(indicator_panel).post(indicator_change),
        )
        .route("/curation/items/{id}", get(item_panel).post(item_change))
        .route("/curation/paste", get(paste_page).post(paste_found))
        .route("/curation/paste/add", axum::routing::post(paste_add))
        .route("/curation/paste/event", axum::routing::post(paste_event))
}

/// Indicators one paste lists.
const PASTE_MAX: usize = 500;

/// The form fields of a body, repeated keys kept.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn tlp_class(tlp: Tlp) -> String {
    tlp.as_str().replace('+', "-")
}

fn panel_href(kind: IndicatorType, value: &str) -> String {
    format!(
        "/curation/indicators/{}/{}",
        kind.as_str(),
        crate::url_encode(value)
    )
}

fn notes_ctx(notes: &[Note], ui: &Ui) -> Vec<Value> {
    notes
        .iter()
        .map(|n| {
            context! {
                id => n.id,
                text => n.text.clone(),
                author => n.author.clone(),
                at => rfc3339(n.created_at),
                deletable => ui.principal.role >= rexist_core::Role::Analyst
                    && (n.author == ui.principal.name || ui.principal.role >= rexist_core::Role::Admin),
            }
        })
        .collect()
}

fn local_ctx(local: &LocalSightings) -> Value {
    context! {
        count => local.count,
        reports => local.reports,
        last_seen => local.last_seen.map(rfc3339),
        recent => local.recent.iter().map(|l| context! {
            count => l.count,
            place => l.place.clone(),
            seen_at => rfc3339(l.seen_at),
            author => l.author.clone(),
        }).collect::<Vec<_>>(),
    }
}

/// The indicator's panel, with a message when a change was tried.
async fn render_panel(
    state: &AppState,
    ui: &Ui,
    kind: IndicatorType,
    value: &str,
    message: Option<(bool, String)>,
) -> Response {
    let href = panel_href(kind, value);
    let record = match state.store.indicator(kind, value).await {
        Ok(r) => r.filter(|r| ui.principal.may_read(r.tlp)),
        Err(e) => return store_failed(ui, &e),
    };
    let (ok, text) = message.map_or((true, None), |(ok, m)| (ok, Some(m)));
    let Some(record) = record else {
        return ui.render(
            "curation_indicator.html",
            context! {
                known => false, href => href, kind => kind.as_str(), value => value,
                ok => ok, message => text, tlps => tlps(ui),
            },
        );
    };
    let detail = match panel_detail(state, &record).await {
        Ok(d) => d,
        Err(e) => return store_failed(ui, &e),
    };
    let (curation, notes, local) = detail;
    ui.render(
        "curation_indicator.html",
        context! {
            known => true,
            href => href,
            kind => kind.as_str(),
            value => value,
            ok => ok,
            message => text,
            status => record.status.as_str(),
            tlp => record.tlp.as_str(),
            score => record.score,
            fp => curation.false_positive.as_ref().map(|m| context! {
                reason => m.reason.clone(), by => m.by.clone(), at => rfc3339(m.at),
            }),
            tlp_raise => curation.tlp.as_ref().map(|t| context! {
                tlp => t.tlp.as_str(), tlp_class => tlp_class(t.tlp), reason => t.mark.reason.clone(),
                by => t.mark.by.clone(), at => rfc3339(t.mark.at),
            }),
            score_override => curation.score.as_ref().map(|s| context! {
                score => s.score, reason => s.mark.reason.clone(), by => s.mark.by.clone(), at => rfc3339(s.mark.at),
            }),
            labels => curation.labels.iter().map(|l| context! {
                label => l.label.clone(), removed => l.removed, reason => l.mark.reason.clone(),
                by => l.mark.by.clone(), at => rfc3339(l.mark.at),
            }).collect::<Vec<_>>(),
            notes => notes_ctx(&notes, ui),
            local => local_ctx(&local),
            tlps => tlps(ui),
        },
    )
}

/// The TLPs a caller may choose: up to its clearance.
fn tlps(ui: &Ui) -> Vec<&'static str> {
    Tlp::ALL
        .into_iter()
        .filter(|t| ui.principal.may_read(*t))
        .map(Tlp::as_str)
        .collect()
}

async fn panel_detail(
    state: &AppState,
    record: &IndicatorRecord,
) -> Result<(rexist_core::Curation, Vec<Note>, LocalSightings), rexist_store::StoreError> {
    let ids = [record.id];
    let (curation, notes, local) = tokio::try_join!(
        state.store.curations(&ids),
        state
            .store
            .notes(NoteTarget::Indicator(record.id), crate::api::NOTES),
        state
            .store
            .local_sightings(record.id, crate::api::LOCAL_REPORTS),
    )?;
    Ok((
        curation.into_iter().next().map(|c| c.1).unwrap_or_default(),
        notes,
        local,
    ))
}

fn store_failed(ui: &Ui, e: &rexist_store::StoreError) -> Response {
    tracing::warn!(error = %e, "curation: store failed");
    ui.error(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable")
}

/// The indicator a panel path names, canonical.
fn path_indicator(kind: &str, value: &str) -> Option<Indicator> {
    let kind: IndicatorType = kind.parse().ok()?;
    Indicator::parse(kind, value).ok()
}

/// `GET /curation/indicators/{type}/{*value}`
async fn indicator_panel(
    State(state): State<AppState>,
    ui: Ui,
    Path((kind, value)): Path<(String, String)>,
) -> Response {
    let Some(indicator) = path_indicator(&kind, &value) else {
        return ui.error(StatusCode::NOT_FOUND, "not a valid indicator of this type");
    };
    render_panel(&state, &ui, indicator.kind(), indicator.value(), None).await
}

/// `POST /curation/indicators/{type}/{*value}`: one change, by `do`.
async fn indicator_change(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    Path((kind, value)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(indicator) = path_indicator(&kind, &value) else {
        return ui.error(StatusCode::NOT_FOUND, "not a valid indicator of this type");
    };
    let f = fields(&body);
    let outcome = change(&state, &ui, &addr, &indicator, &f).await;
    let (status, message) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            (true, super::i18n::t(ui.lang, "cur.saved").to_owned()),
        ),
        Err(e) => (e.status(), (false, e.message().to_owned())),
    };
    let mut r = render_panel(
        &state,
        &ui,
        indicator.kind(),
        indicator.value(),
        Some(message),
    )
    .await;
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

/// Applies the change a panel form asks for, through the API's checks.
async fn change(
    state: &AppState,
    ui: &Ui,
    addr: &ClientAddr,
    indicator: &Indicator,
    f: &[(String, String)],
) -> Result<(), ApiError> {
    let text = |name: &str| field(f, name).map(str::to_owned);
    let action = field(f, "do").unwrap_or_default();
    if action == "add" {
        let tlp = text("tlp")
            .map(|t| t.parse::<Tlp>())
            .transpose()
            .map_err(|e| ApiError::invalid(format!("tlp: {e}")))?;
        let _added = api::add_indicator(
            State(state.clone()),
            ui.principal.clone(),
            addr.clone(),
            Ok(axum::Json(api::NewIndicatorBody {
                kind: Some(indicator.kind().as_str().to_owned()),
                value: indicator.value().to_owned(),
                tlp,
                labels: None,
                note: None,
            })),
        )
        .await?;
        return Ok(());
    }
    let record = api::readable(
        state,
        &ui.principal,
        indicator.kind().as_str(),
        indicator.value(),
    )
    .await?;
    let who = Who {
        state,
        principal: &ui.principal,
        addr,
    };
    let reason = || text("reason").unwrap_or_default();
    match action {
        "note" => {
            api::add_note(
                &who,
                record,
                Ok(api::NoteBody {
                    text: text("text").unwrap_or_default(),
                }),
            )
            .await?;
        }
        "delete_note" => {
            let id = text("id")
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| ApiError::invalid("id: not a note id"))?;
            api::delete_note_as(state, &ui.principal, addr, id).await?;
        }
        "fp" => {
            api::mark_false_positive(&who, record, Ok(api::ReasonBody { reason: reason() }))
                .await?;
        }
        "unfp" => {
            api::unmark_false_positive(&who, record).await?;
        }
        "sighting" => {
            let count = text("count")
                .map(|c| {
                    c.parse::<u32>()
                        .map_err(|_| ApiError::invalid(format!("count: {c:?} is not a number")))
                })
                .transpose()?;
            let body = api::LocalSightingBody {
                count,
                place: text("where"),
                seen_at: text("seen_at"),
            };
            api::add_local_sighting(&who, record, Ok(body)).await?;
        }
        "label_add" | "label_remove" => {
            let label = text("label").unwrap_or_default();
            let (add, remove) = if action == "label_add" {
                (Some(vec![label]), None)
            } else {
                (None, Some(vec![label]))
            };
            let body = api::LabelsBody {
                add,
                remove,
                reason: text("reason"),
            };
            api::change_labels(&who, record, Ok(body)).await?;
        }
        "label_forget" => {
            api::forget_label(&who, record, text("label").unwrap_or_default()).await?;
        }
        "tlp" => {
            let tlp = text("tlp")
                .unwrap_or_default()
                .parse::<Tlp>()
                .map_err(|e| ApiError::invalid(format!("tlp: {e}")))?;
            api::raise_tlp(
                &who,
                record,
                Ok(api::TlpBody {
                    tlp,
                    reason: reason(),
                }),
            )
            .await?;
        }
        "untlp" => {
            api::clear_tlp(&who, record).await?;
        }
        "score" => {
            let score = text("score")
                .unwrap_or_default()
                .parse::<u8>()
                .map_err(|_| ApiError::invalid("score: a number from 0 to 100"))?;
            api::override_score(
                &who,
                record,
                Ok(api::ScoreBody {
                    score,
                    reason: reason(),
                }),
            )
            .await?;
        }
        "unscore" => {
            api::clear_score(&who, record).await?;
        }
        other => return Err(ApiError::invalid(format!("do: no such change {other:?}"))),
    }
    Ok(())
}

/// The item's panel, with a message when a change was tried.
async fn render_item_panel(
    state: &AppState,
    ui: &Ui,
    id: &str,
    message: Option<(bool, String)>,
) -> Response {
    let item = match crate::api::readable_item(state, &ui.principal, id).await {
        Ok(i) => i,
        Err(e) => return ui.error(e.status(), e.message()),
    };
    let notes = match state
        .store
        .notes(NoteTarget::Item(item.id), crate::api::NOTES)
        .await
    {
        Ok(n) => n,
        Err(e) => return store_failed(ui, &e),
    };
    // An analyst's event item names its author and the indicators it groups.
    let extra = &item.content.extra;
    let grouped: Vec<Value> = extra["indicators"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|i| {
                    let kind: IndicatorType = i["type"].as_str()?.parse().ok()?;
                    let value = i["value"].as_str()?;
                    Some(context! {
                        kind => kind.as_str(),
                        value => value,
                        href => super::indicator::indicator_href(kind, value),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let (ok, text) = message.map_or((true, None), |(ok, m)| (ok, Some(m)));
    ui.render(
        "curation_item.html",
        context! {
            href => format!("/curation/items/{}", item.id),
            ok => ok,
            message => text,
            notes => notes_ctx(&notes, ui),
            grouped => grouped,
            author => extra["author"].as_str().map(str::to_owned),
        },
    )
}

/// `GET /curation/items/{id}`
async fn item_panel(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> Response {
    render_item_panel(&state, &ui, &id, None).await
}

/// `POST /curation/items/{id}`: writes (`do=note`) or deletes (`do=delete_note`) a note.
async fn item_change(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let outcome: Result<(), ApiError> = async {
        match field(&f, "do").unwrap_or_default() {
            "note" => {
                let _note = api::add_item_note(
                    State(state.clone()),
                    ui.principal.clone(),
                    addr.clone(),
                    Path(id.clone()),
                    Ok(axum::Json(api::NoteBody {
                        text: field(&f, "text").unwrap_or_default().to_owned(),
                    })),
                )
                .await?;
            }
            "delete_note" => {
                crate::api::readable_item(&state, &ui.principal, &id).await?;
                let note = field(&f, "id")
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| ApiError::invalid("id: not a note id"))?;
                api::delete_note_as(&state, &ui.principal, &addr, note).await?;
            }
            other => return Err(ApiError::invalid(format!("do: no such change {other:?}"))),
        }
        Ok(())
    }
    .await;
    let (status, message) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            (true, super::i18n::t(ui.lang, "cur.saved").to_owned()),
        ),
        Err(e) => (e.status(), (false, e.message().to_owned())),
    };
    let mut r = render_item_panel(&state, &ui, &id, Some(message)).await;
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

/// `GET /curation/paste`
async fn paste_page(ui: Ui) -> Response {
    ui.render("curation_paste.html", context! { tlps => tlps(&ui) })
}

/// The indicators in `text`: those the extractor finds (defanged forms
/// too), and each line that is one indicator on its own (typed names need
/// no public TLD there); each once, in order, at most [`PASTE_MAX`].
fn found_in(state: &AppState, text: &str) -> Vec<Indicator> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let extracted = state
        .ingest
        .extractor()
        .extract(text)
        .into_iter()
        .filter_map(|m| Indicator::parse(m.kind, &m.value).ok());
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains(char::is_whitespace))
        .filter_map(|l| rexist_lookup::parse_input(l).ok());
    for i in extracted.chain(lines) {
        if out.len() >= PASTE_MAX {
            break;
        }
        if seen.insert((i.kind(), i.value().to_owned())) {
            out.push(i);
        }
    }
    out
}

/// `POST /curation/paste` (form `text`): the indicators found, to pick from.
async fn paste_found(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    let f = fields(&body);
    let text = field(&f, "text").unwrap_or_default().to_owned();
    let found = found_in(&state, &text);
    let keys: Vec<(IndicatorType, String)> = found
        .iter()
        .map(|i| (i.kind(), i.value().to_owned()))
        .collect();
    let stored: HashSet<(IndicatorType, String)> = if keys.is_empty() {
        HashSet::new()
    } else {
        match state.store.indicators_by_values(&keys).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|r| ui.principal.may_read(r.tlp))
                .map(|r| (r.kind, r.value))
                .collect(),
            Err(e) => return store_failed(&ui, &e),
        }
    };
    let rows: Vec<Value> = found
        .iter()
        .map(|i| {
            context! {
                kind => i.kind().as_str(),
                value => i.value(),
                pick => format!("{}|{}", i.kind().as_str(), i.value()),
                known => stored.contains(&(i.kind(), i.value().to_owned())),
            }
        })
        .collect();
    ui.render(
        "curation_paste_found.html",
        context! { found => rows, tlps => tlps(&ui), text => text },
    )
}

/// The picked `type|value` pairs of a form.
fn picked(f: &[(String, String)]) -> Vec<(String, String)> {
    f.iter()
        .filter(|(k, _)| k == "pick")
        .filter_map(|(_, v)| v.split_once('|'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `POST /curation/paste/add`: adds each picked indicator as the caller's.
async fn paste_add(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let picks = picked(&f);
    let bad = |m: String| {
        let mut r = ui.render("curation_paste_added.html", context! { error => m });
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r
    };
    if picks.is_empty() {
        return bad("pick: choose at least one indicator".to_owned());
    }
    let tlp = match field(&f, "tlp").map(str::parse::<Tlp>).transpose() {
        Ok(t) => t,
        Err(e) => return bad(format!("tlp: {e}")),
    };
    let labels: Vec<String> = field(&f, "labels")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let note = field(&f, "note").map(str::to_owned);
    let mut added = Vec::new();
    let mut failed = Vec::new();
    for (kind, value) in picks {
        let body = api::NewIndicatorBody {
            kind: Some(kind.clone()),
            value: value.clone(),
            tlp,
            labels: Some(labels.clone()),
            note: note.clone(),
        };
        match api::add_indicator(
            State(state.clone()),
            ui.principal.clone(),
            addr.clone(),
            Ok(axum::Json(body)),
        )
        .await
        {
            Ok(_) => {
                let href = kind
                    .parse::<IndicatorType>()
                    .map(|k| super::indicator::indicator_href(k, &value))
                    .unwrap_or_default();
                added.push(context! { kind => kind, value => value, href => href });
            }
            Err(e) => failed
                .push(context! { kind => kind, value => value, why => e.message().to_owned() }),
        }
    }
    let none_added = added.is_empty();
    let mut r = ui.render(
        "curation_paste_added.html",
        context! { added => added, failed => failed },
    );
    if r.status() == StatusCode::OK && none_added {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

/// `POST /curation/paste/event`: an event item grouping the picked
/// indicators, its body the pasted text; opens it.
async fn paste_event(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let indicators: Vec<api::ItemIndicator> = picked(&f)
        .into_iter()
        .map(|(kind, value)| api::ItemIndicator {
            kind: Some(kind),
            value,
        })
        .collect();
    let tlp = match field(&f, "tlp").map(str::parse::<Tlp>).transpose() {
        Ok(t) => t,
        Err(e) => return paste_error(&ui, &format!("tlp: {e}")),
    };
    let body = api::NewItemBody {
        kind: Some(ItemKind::Event),
        title: field(&f, "title").unwrap_or_default().to_owned(),
        body: field(&f, "text").map(str::to_owned),
        tlp,
        tags: None,
        indicators: Some(indicators),
    };
    match api::add_item(
        State(state),
        ui.principal.clone(),
        addr,
        Ok(axum::Json(body)),
    )
    .await
    {
        Ok((_, axum::Json(item))) => {
            let href = format!("/items/{}", item.id());
            let mut r = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&href) {
                r.headers_mut().insert("hx-redirect", v);
            }
            r
        }
        Err(e) => paste_error(&ui, e.message()),
    }
}

fn paste_error(ui: &Ui, message: &str) -> Response {
    let mut r = ui.render("curation_paste_added.html", context! { error => message });
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}
