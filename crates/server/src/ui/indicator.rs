//! UI page: an indicator.
//!
//! - `GET /indicators/{id}`: 303 to the indicator page (hits link by id).
//! - `GET /indicators/{type}/{*value}` (`?defang=1`): the lookup answer.
//! - `GET /enrich/{type}/{*value}` (`?provider=`): enrichment, an htmx fragment.
//! - `POST /watchlist` (form `type`, `value`, `hunt`): adds the indicator to a
//!   watch hunt, creating it if needed; an htmx fragment.
//!
//! An indicator above the caller's TLP clearance is answered exactly like an
//! unknown one (404 with the "not seen" page), so its existence does not leak.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Value;
use minijinja::context;
use minijinja::value::Serde;
use rexist_core::{HuntKind, HuntSpec, Indicator, IndicatorId, IndicatorType, Tlp};
use rexist_store::{ErrorKind, StoreError};
use serde::Deserialize;

use super::Ui;
use super::pages::rfc3339;
use super::search::{ViewParams, flag, highlight, store_failed, tlp_class, view_params};
use crate::AppState;
use crate::escape_html;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("ind.title", "Indicator", "指標"),
    ("ind.status", "Status", "状態"),
    ("ind.score", "Score", "スコア"),
    ("ind.factors", "How the score came about", "スコアの内訳"),
    ("ind.first_seen", "First seen", "初観測"),
    ("ind.last_seen", "Last seen", "最終観測"),
    ("ind.expires", "Expires", "有効期限"),
    ("ind.sources", "Sources", "報告元"),
    ("ind.confidence", "Confidence", "確度"),
    ("ind.sightings", "Sightings", "観測数"),
    ("ind.listed", "Still listed", "掲載中"),
    ("ind.retired", "Withdrawn", "取り下げ"),
    ("ind.retract.revoked", "revoked", "失効"),
    ("ind.retract.deleted", "deleted", "削除"),
    ("ind.retract.false_positive", "false positive", "誤検知"),
    ("ind.retract.inactive", "inactive", "無効化"),
    (
        "ind.retract.expired",
        "expired upstream",
        "提供元で期限切れ",
    ),
    ("ind.retract.delisted", "no longer listed", "掲載終了"),
    ("ind.labels", "Labels", "ラベル"),
    (
        "ind.timeline",
        "Timeline of sightings",
        "観測のタイムライン",
    ),
    ("ind.items", "Items that mention it", "言及しているアイテム"),
    ("ind.related", "Related indicators", "関連する指標"),
    ("ind.relation", "Relation", "関係"),
    ("ind.reason", "Why", "理由"),
    (
        "ind.graph",
        "Graph of related indicators",
        "関連指標のグラフ",
    ),
    ("ind.warnings", "Warning lists", "警告リスト"),
    (
        "ind.warning_note",
        "This value is on a warning list: it is probably not malicious.",
        "この値は警告リストに載っています。悪性ではない可能性が高い値です。",
    ),
    ("ind.hunts", "Hunts that matched", "一致したハント"),
    ("ind.early", "Early warning", "早期警戒"),
    (
        "ind.early_lead",
        "First reported {lead} before {authority}.",
        "{authority} より {lead} 早く報告されました。",
    ),
    (
        "ind.early_awaiting.database",
        "Discussed, but not in NVD, JVN or KEV yet.",
        "話題になっていますが、NVD・JVN・KEV にはまだ登録されていません。",
    ),
    (
        "ind.early_awaiting.blocklist",
        "Reported, but on no blocklist yet.",
        "報告されていますが、まだどのブロックリストにも載っていません。",
    ),
    (
        "ind.early_authority_first",
        "{authority} reported it first.",
        "{authority} が最初に報告しました。",
    ),
    (
        "ind.early_rule.database",
        "Measured against the first of NVD, JVN and KEV.",
        "NVD・JVN・KEV のうち最初の登録を基準にしています。",
    ),
    (
        "ind.early_rule.blocklist",
        "Measured against the first blocklist to list it.",
        "最初に掲載したブロックリストを基準にしています。",
    ),
    ("ind.early_class", "Class", "分類"),
    ("ind.early_first", "First report", "最初の報告"),
    ("ind.early_ahead", "Ahead of the authority", "基準より先行"),
    ("ind.enrichment", "Enrichment", "エンリッチメント"),
    ("ind.loading", "Loading…", "読み込み中…"),
    (
        "ind.no_providers",
        "No enrichment provider is configured for this type.",
        "この種類に対応するエンリッチメントのプロバイダーは設定されていません。",
    ),
    ("ind.provider", "Provider", "プロバイダー"),
    ("ind.cached", "cached", "キャッシュ"),
    // Enrichment answers, by `rexist_enrich::Status::as_str`.
    ("enrich.ok", "ok", "成功"),
    ("enrich.not_found", "not found", "該当なし"),
    ("enrich.not_applicable", "not applicable", "対象外"),
    ("enrich.rate_limited", "rate limited", "レート制限"),
    ("enrich.quota_exceeded", "quota exceeded", "利用上限超過"),
    ("enrich.unauthorized", "unauthorized", "認証エラー"),
    ("enrich.timeout", "timed out", "タイムアウト"),
    ("enrich.error", "error", "エラー"),
    (
        "ind.unknown",
        "rexist has no record of this value (or it is above your clearance).",
        "rexist にはこの値の記録がありません(またはあなたの閲覧範囲を超えています)。",
    ),
    ("ind.copy", "Copy defanged", "無害化してコピー"),
    ("ind.copied", "Copied", "コピーしました"),
    ("ind.watch", "Add to watchlist", "ウォッチリストに追加"),
    ("ind.watch_hunt", "Watch hunt", "ウォッチハント"),
    (
        "ind.watch_created",
        "Watch hunt created:",
        "ウォッチハントを作成しました:",
    ),
    (
        "ind.watch_added",
        "Added to watch hunt:",
        "ウォッチハントに追加しました:",
    ),
    (
        "ind.watch_already",
        "Already on watch hunt:",
        "すでにウォッチハントに含まれています:",
    ),
    ("ind.watch_failed", "Not added:", "追加できませんでした:"),
    (
        "ind.watch_bad",
        "the form does not name a valid indicator",
        "フォームの指標が正しくありません",
    ),
    (
        "ind.watch_conflict",
        "the hunt cannot take it",
        "このハントには追加できません",
    ),
    (
        "ind.watch_taken",
        "a hunt of that name exists; choose another name",
        "その名前のハントがすでにあります。別の名前を選んでください",
    ),
    (
        "ind.watch_query",
        "that hunt is a query over items, not a watchlist",
        "そのハントはアイテムへのクエリで、ウォッチリストではありません",
    ),
    ("ind.lifetime", "{days}-day lifetime", "有効期間 {days} 日"),
    ("ind.status.active", "active", "有効"),
    ("ind.status.expired", "expired", "期限切れ"),
    ("ind.status.allowlisted", "allow-listed", "許可リスト"),
    ("ind.status.retired", "retired", "取り下げ済み"),
    ("ind.status.unknown", "unknown", "不明"),
    (
        "ind.related_score",
        "Not reported itself; the score comes from related indicators.",
        "この値自体の報告はありません。スコアは関連する指標によるものです。",
    ),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "indicator.html",
        include_str!("../../templates/indicator.html"),
    ),
    (
        "indicator_enrich.html",
        include_str!("../../templates/indicator_enrich.html"),
    ),
    (
        "indicator_watch.html",
        include_str!("../../templates/indicator_watch.html"),
    ),
];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/indicators/{type}", get(indicator_by_id))
        .route("/indicators/{type}/{*value}", get(indicator_page))
        .route("/enrich/{type}/{*value}", get(enrich))
        .route("/watchlist", post(watch))
}

/// Nodes drawn in the graph besides the centre.
const GRAPH_NODES: usize = 24;
/// Name of the watch hunt the watchlist button fills by default.
const DEFAULT_WATCH: &str = "watchlist";

/// The page of an indicator.
pub fn indicator_href(kind: IndicatorType, value: &str) -> String {
    format!("/indicators/{}/{}", kind.as_str(), crate::url_encode(value))
}

/// `GET /indicators/{id}`: the page of the indicator with that id.
async fn indicator_by_id(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<IndicatorId>() else {
        return ui.error(StatusCode::NOT_FOUND, "err.no_indicator");
    };
    match state.store.indicator_by_id(id).await {
        Ok(Some(r)) if r.tlp <= ui.principal.clearance => {
            Redirect::to(&indicator_href(r.kind, &r.value)).into_response()
        }
        Ok(_) => ui.error(StatusCode::NOT_FOUND, "err.no_indicator"),
        Err(e) => store_failed(&ui, "indicator", &e),
    }
}

/// The indicator named by a path, canonical; or the response to give instead
/// (404 for an unknown type or a value that is not one, 303 to the canonical form).
fn indicator_of(
    ui: &Ui,
    raw_kind: &str,
    value: &str,
    prefix: &str,
) -> Result<Indicator, Box<Response>> {
    let Ok(kind) = raw_kind.parse::<IndicatorType>() else {
        return Err(Box::new(
            ui.error(StatusCode::NOT_FOUND, "err.no_indicator_type"),
        ));
    };
    let Ok(indicator) = Indicator::parse(kind, value) else {
        return Err(Box::new(
            ui.error(StatusCode::NOT_FOUND, "err.not_indicator"),
        ));
    };
    if indicator.value() != value || kind.as_str() != raw_kind {
        let href = indicator_href(kind, indicator.value());
        let href = href.replacen("/indicators/", prefix, 1);
        return Err(Box::new(Redirect::to(&href).into_response()));
    }
    Ok(indicator)
}

/// A sighting timeline as SVG: a bar per source from its first to its latest sighting.
fn timeline(answer: &rexist_lookup::Answer, ui: &Ui) -> Option<String> {
    const WIDTH: i64 = 600;
    const LEFT: i64 = 140;
    const ROW: i64 = 22;
    let first = answer.sources.iter().map(|s| s.first_seen).min()?;
    let last = answer.sources.iter().map(|s| s.last_seen).max()?;
    let span = (last - first).whole_seconds().max(1);
    let x = |t: time::OffsetDateTime| LEFT + (t - first).whole_seconds() * WIDTH / span;
    let rows = i64::try_from(answer.sources.len()).unwrap_or(0);
    let height = rows * ROW + 24;
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {} {height}\" role=\"img\" aria-label=\"{}\">",
        LEFT + WIDTH + 10,
        escape_html(super::i18n::t(ui.lang, "ind.timeline"))
    );
    for (row, s) in (0i64..).zip(&answer.sources) {
        let y = row * ROW + 4;
        let (x1, x2) = (x(s.first_seen), x(s.last_seen));
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><g><title>{}: {} – {} ({})</title>\
             <rect x=\"{x1}\" y=\"{y}\" width=\"{}\" height=\"14\" rx=\"3\"/>\
             <circle cx=\"{x1}\" cy=\"{}\" r=\"4\"/><circle cx=\"{x2}\" cy=\"{}\" r=\"4\"/></g>",
            y + 12,
            escape_html(&s.source),
            escape_html(&s.source),
            ui.locale.time(s.first_seen),
            ui.locale.time(s.last_seen),
            ui.locale
                .number(i64::try_from(s.sightings).unwrap_or(i64::MAX)),
            (x2 - x1).max(2),
            y + 7,
            y + 7,
        );
    }
    let base = rows * ROW + 18;
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"{base}\" class=\"axis\">{}</text>\
         <text x=\"{}\" y=\"{base}\" class=\"axis\" text-anchor=\"end\">{}</text></svg>",
        ui.locale.date(first.date()),
        LEFT + WIDTH,
        ui.locale.date(last.date())
    );
    Some(svg)
}

/// Related indicators as an SVG graph: the indicator in the centre, the
/// others on a circle around it, each a link to its page.
fn graph(answer: &rexist_lookup::Answer, ui: &Ui) -> Option<String> {
    if answer.related.is_empty() {
        return None;
    }
    let nodes: Vec<_> = answer.related.iter().take(GRAPH_NODES).collect();
    let n = f64::from(u32::try_from(nodes.len()).unwrap_or(1));
    let (cx, cy, r) = (360.0_f64, 230.0_f64, 180.0_f64);
    let mut edges = String::new();
    let mut dots = String::new();
    for (i, rel) in (0u32..).zip(&nodes) {
        let angle = std::f64::consts::TAU * f64::from(i) / n - std::f64::consts::FRAC_PI_2;
        let (x, y) = (cx + r * angle.cos(), cy + r * angle.sin());
        let class = if rel.relation == "shared-items" {
            "shared"
        } else {
            "stated"
        };
        let _ = write!(
            edges,
            "<line class=\"{class}\" x1=\"{cx:.1}\" y1=\"{cy:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>"
        );
        let label = short(&rel.value, 28);
        let anchor = if x < cx - 1.0 { "end" } else { "start" };
        let dx = if x < cx - 1.0 { -9.0 } else { 9.0 };
        let _ = write!(
            dots,
            "<a href=\"{}\" class=\"node {}\"><title>{} {} — {}</title>\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"7\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></a>",
            escape_html(&indicator_href(rel.kind, &rel.value)),
            rel.kind.as_str(),
            rel.kind.as_str(),
            escape_html(&rel.value),
            escape_html(&super::i18n::sentence(ui.lang, &rel.reason)),
            x + dx,
            y + 4.0,
            escape_html(&rexist_extract::defang(&label)),
        );
    }
    Some(format!(
        "<svg class=\"graph\" viewBox=\"0 0 720 460\" role=\"img\" aria-label=\"{}\">{edges}\
         <g class=\"centre\"><circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"11\"/>\
         <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>{dots}</svg>",
        escape_html(super::i18n::t(ui.lang, "ind.graph")),
        cy + 28.0,
        escape_html(&rexist_extract::defang(&short(&answer.value, 40))),
    ))
}

/// `s` cut to `max` characters with an ellipsis.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `GET /indicators/{type}/{*value}`
async fn indicator_page(
    State(state): State<AppState>,
    ui: Ui,
    Path((kind, value)): Path<(String, String)>,
    params: Result<Query<ViewParams>, QueryRejection>,
) -> Response {
    let defang = flag(view_params(params).defang.as_deref());
    let indicator = match indicator_of(&ui, &kind, &value, "/indicators/") {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let options = rexist_lookup::Options {
        enrich: false,
        providers: None,
        max_tlp: Some(ui.principal.clearance),
    };
    let answer = match state.lookup.one(indicator.value(), &options).await {
        Ok(a) => a,
        Err(rexist_lookup::LookupError::Invalid(m)) => {
            return ui.error_detail(StatusCode::NOT_FOUND, "err.not_indicator", &m);
        }
        Err(rexist_lookup::LookupError::Store(e)) => return store_failed(&ui, "indicator", &e),
    };
    if answer.kind != indicator.kind() {
        return Redirect::to(&indicator_href(answer.kind, &answer.value)).into_response();
    }
    let value_words = vec![answer.value.clone()];
    let items: Vec<Value> = answer
        .items
        .iter()
        .map(|i| {
            context! {
                id => i.id.to_string(),
                title => i.title.clone(),
                kind => i.kind.as_str(),
                source => i.source.clone(),
                published => i.published_at.map(rfc3339),
                tlp => i.tlp.as_str(),
                tlp_class => tlp_class(i.tlp),
                snippet => i.snippet.as_deref().map(|s| Value::from_safe_string(highlight(s, &value_words))),
            }
        })
        .collect();
    let related: Vec<Value> = answer
        .related
        .iter()
        .map(|r| {
            context! {
                kind => r.kind.as_str(),
                value => if defang { rexist_extract::defang(&r.value) } else { r.value.clone() },
                href => indicator_href(r.kind, &r.value),
                relation => r.relation.clone(),
                reason => r.reason.clone(),
                score => r.score,
                sources => r.sources.clone(),
            }
        })
        .collect();
    let early = answer
        .early_warning
        .as_ref()
        .map(|ew| early_warning(ew, ui.lang));
    let shown = if defang {
        rexist_extract::defang(&answer.value)
    } else {
        answer.value.clone()
    };
    let here = indicator_href(answer.kind, &answer.value);
    let enrich_href = here.replacen("/indicators/", "/enrich/", 1);
    let mut response = ui.render(
        "indicator.html",
        context! {
            kind => answer.kind.as_str(),
            value => answer.value.clone(),
            shown => shown,
            defanged => rexist_extract::defang(&answer.value),
            known => answer.known,
            status => Value::from(Serde(&answer.status)),
            status_reason => answer.status_reason.clone(),
            score => answer.score,
            factors => Value::from(Serde(&answer.score_factors)),
            lifetime_days => answer.lifetime_days,
            expires => answer.expires_at.map(rfc3339),
            first_seen => answer.first_seen.map(rfc3339),
            last_seen => answer.last_seen.map(rfc3339),
            tlp => answer.tlp.map(Tlp::as_str),
            tlp_class => answer.tlp.map(tlp_class),
            sources => Value::from(Serde(&answer.sources)),
            early => early,
            timeline => timeline(&answer, &ui).map(Value::from_safe_string),
            items => items,
            entities => Value::from(Serde(&answer.entities)),
            related => related,
            graph => graph(&answer, &ui).map(Value::from_safe_string),
            warnings => Value::from(Serde(&answer.warnings)),
            hunts => Value::from(Serde(&answer.hunts)),
            enrich_href => enrich_href,
            // One panel per provider, each loading on its own, so a slow one
            // does not hold up the others.
            providers => state.lookup.providers_for(answer.kind),
            defang => defang,
            toggle_href => if defang { here.clone() } else { format!("{here}?defang=1") },
            watch_default => DEFAULT_WATCH,
        },
    );
    if !answer.known {
        // Unknown and above the caller's clearance look the same.
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

/// The early-warning section: one row per class with how far ahead of the
/// authority its first report came, and the sentence above them.
fn early_warning(ew: &rexist_core::EarlyWarning, lang: super::i18n::Lang) -> Value {
    let authority_at = ew.authority_report.as_ref().map(|r| r.at);
    let rows: Vec<Value> = ew
        .by_class
        .iter()
        .map(|r| {
            let ahead = authority_at
                .map(|a| (a - r.at).whole_seconds())
                .filter(|s| *s > 0);
            context! {
                class => r.class.as_str(),
                source => r.source.clone(),
                kind => r.kind.clone(),
                at => rfc3339(r.at),
                ahead => ahead.map(|s| super::i18n::duration(lang, s)),
            }
        })
        .collect();
    let authority = match ew.authority {
        rexist_core::early::Authority::Database => "database",
        rexist_core::early::Authority::Blocklist => "blocklist",
    };
    context! {
        rows => rows,
        authority => authority,
        authority_source => ew.authority_report.as_ref().map(|r| r.source.clone()),
        authority_first => ew.authority_report.is_some() && ew.lead_seconds.is_none(),
        lead => ew.lead_seconds.map(|s| super::i18n::duration(lang, s)),
        awaiting => ew.awaiting_authority,
    }
}

/// One line of an enrichment summary.
fn summary_rows(summary: &serde_json::Value) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) if a.iter().all(serde_json::Value::is_string) => a
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    match summary {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![(String::new(), text(other))],
    }
}

/// `GET /enrich/{type}/{*value}?provider=`: what the providers say, as a fragment.
async fn enrich(
    State(state): State<AppState>,
    ui: Ui,
    Path((kind, value)): Path<(String, String)>,
    params: Result<Query<ViewParams>, QueryRejection>,
) -> Response {
    let provider = view_params(params).provider.filter(|p| !p.is_empty());
    let indicator = match indicator_of(&ui, &kind, &value, "/enrich/") {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let options = rexist_lookup::Options {
        enrich: true,
        providers: provider.map(|p| vec![p]),
        max_tlp: Some(ui.principal.clearance),
    };
    let answer = match state.lookup.one(indicator.value(), &options).await {
        Ok(a) => a,
        Err(rexist_lookup::LookupError::Invalid(m)) => {
            return ui.error_detail(StatusCode::NOT_FOUND, "err.not_indicator", &m);
        }
        Err(rexist_lookup::LookupError::Store(e)) => return store_failed(&ui, "enrich", &e),
    };
    let answers: Vec<Value> = answer
        .enrichment
        .iter()
        .map(|a| {
            context! {
                provider => a.provider.clone(),
                kind => a.kind.clone(),
                status => a.status.as_str(),
                ok => a.status.as_str() == "ok",
                error => a.error.clone(),
                cached => a.cached,
                fetched_at => rfc3339(a.fetched_at),
                elapsed_ms => a.elapsed_ms,
                rows => summary_rows(&a.summary),
            }
        })
        .collect();
    ui.render("indicator_enrich.html", context! { answers => answers })
}

/// The watchlist form.
#[derive(Debug, Deserialize)]
pub struct WatchForm {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    hunt: Option<String>,
}

/// What `POST /watchlist` did.
enum Watched {
    Created,
    Added,
    Already,
}

/// `POST /watchlist`: adds an indicator to a watch hunt (created if needed).
async fn watch(State(state): State<AppState>, ui: Ui, body: axum::body::Bytes) -> Response {
    let outcome = add_to_watch(&state, &ui.principal, &body).await;
    let (status, ctx) = match outcome {
        Ok((how, hunt)) => {
            let (status, key) = match how {
                Watched::Created => (StatusCode::CREATED, "ind.watch_created"),
                Watched::Added => (StatusCode::OK, "ind.watch_added"),
                Watched::Already => (StatusCode::OK, "ind.watch_already"),
            };
            (
                status,
                context! { ok => true, key => key, hunt => hunt.clone(), href => format!("/hunts/{}", crate::url_encode(&hunt)) },
            )
        }
        Err((status, why, detail)) => (
            status,
            context! { ok => false, key => "ind.watch_failed", why => why, message => detail },
        ),
    };
    let mut r = ui.render("indicator_watch.html", ctx);
    *r.status_mut() = status;
    r
}

async fn add_to_watch(
    state: &AppState,
    principal: &crate::auth::Principal,
    body: &[u8],
) -> Result<(Watched, String), (StatusCode, &'static str, String)> {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, "ind.watch_bad", m.to_owned());
    let form: WatchForm = super::serde_urlencoded_form(body).ok_or_else(|| bad(""))?;
    let kind = form
        .kind
        .parse::<IndicatorType>()
        .map_err(|e| bad(&e.to_string()))?;
    let indicator = Indicator::parse(kind, &form.value).map_err(|e| bad(&e.to_string()))?;
    let name = form
        .hunt
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_WATCH)
        .to_owned();
    let entry = format!("{}:{}", indicator.kind().as_str(), indicator.value());
    let store_err = |e: StoreError| {
        tracing::warn!(error = %e, "watchlist: store failed");
        match e.kind() {
            ErrorKind::Invalid | ErrorKind::Conflict => {
                (StatusCode::CONFLICT, "ind.watch_conflict", e.to_string())
            }
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "err.unavailable",
                String::new(),
            ),
        }
    };
    let existing = state.store.hunt_by_name(&name).await.map_err(store_err)?;
    let Some(hunt) = existing else {
        let spec = HuntSpec {
            name: name.clone(),
            kind: HuntKind::Watch,
            definition: entry,
            enabled: true,
            channels: Vec::new(),
            digest_secs: None,
            tlp: HuntSpec::default_tlp(principal.clearance),
        };
        rexist_pipeline::hunter::validate(spec.kind, &spec.definition).map_err(|e| bad(&e))?;
        state.ingest.create_hunt(&spec).await.map_err(store_err)?;
        return Ok((Watched::Created, name));
    };
    // A hunt above the reader's clearance is neither shown nor changed:
    // "already on it" would tell what it watches.
    if !principal.may_read(hunt.spec.tlp) {
        return Err((StatusCode::CONFLICT, "ind.watch_taken", name));
    }
    if hunt.spec.kind != HuntKind::Watch {
        return Err((StatusCode::CONFLICT, "ind.watch_query", name));
    }
    let canonical = |text: &str| -> Vec<String> {
        rexist_query::parse_watchlist(text)
            .map(|es| es.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    let wanted = canonical(&entry);
    let have = canonical(&hunt.spec.definition);
    if !wanted.is_empty() && wanted.iter().all(|w| have.contains(w)) {
        return Ok((Watched::Already, name));
    }
    let mut spec = hunt.spec.clone();
    spec.definition = format!("{}\n{entry}", spec.definition.trim_end());
    rexist_pipeline::hunter::validate(spec.kind, &spec.definition).map_err(|e| bad(&e))?;
    state
        .ingest
        .update_hunt(hunt.id, &spec)
        .await
        .map_err(store_err)?;
    Ok((Watched::Added, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_list_notes_are_shown() {
        let ctx = context! {
            lang => "ja",
            kind => "ipv4",
            value => "10.0.0.1",
            shown => "10.0.0.1",
            known => false,
            warnings => vec![context! {
                list => "rfc1918", title => "Private <networks>", kind => "cidr", entry => "10.0.0.0/8",
            }],
        };
        let html = crate::ui::env()
            .get_template("indicator.html")
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(html.contains("id=\"warnings\""), "{html}");
        assert!(html.contains("Private &lt;networks&gt;"), "{html}");
        assert!(html.contains("警告リスト"), "{html}");
    }
}
