//! UI pages of exports: the saved exports (configured `[[export]]` tables
//! and those stored through the API or here), their URLs and previews; for
//! admins, a form to define, edit, preview and delete stored ones (the
//! same checks as the API's, in `crate::stored_exports`). Every write is an
//! htmx request (so it carries the CSRF header); the middleware audits it.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use rexist_core::{IndicatorType, Role, Tlp};
use rexist_export::Format;

use super::Ui;
use super::pages::rfc3339;
use crate::AppState;
use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::export::ExportConfig;
use crate::stored_exports::{self, Origin};

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("exp.title", "Exports", "エクスポート"),
    (
        "exp.none",
        "No saved exports: add [[export]] sections to the configuration, or an administrator defines one here.",
        "保存済みのエクスポートはありません。設定に [[export]] を追加するか、管理者がここで定義してください。",
    ),
    ("exp.url", "URL", "URL"),
    ("exp.format", "Format", "形式"),
    ("exp.filters", "Filters", "フィルター"),
    ("exp.preview", "Preview", "プレビュー"),
    ("exp.show_preview", "Show preview", "プレビューを表示"),
    (
        "exp.preview_note",
        "First lines, as you are cleared to see them.",
        "先頭の数行(あなたの閲覧権限の範囲内)。",
    ),
    ("exp.written", "indicators", "件の指標"),
    (
        "exp.too_slow",
        "The preview took too long.",
        "プレビューの生成に時間がかかりすぎました。",
    ),
    ("exp.all", "all", "すべて"),
    ("exp.f.types", "types: {v}", "種類: {v}"),
    ("exp.f.source", "source: {v}", "ソース: {v}"),
    ("exp.f.tag", "label: {v}", "ラベル: {v}"),
    ("exp.f.min_score", "score at least {v}", "スコア {v} 以上"),
    ("exp.f.tlp", "TLP:{v} at most", "TLP:{v} 以下"),
    ("exp.f.active", "active only", "有効なもののみ"),
    (
        "exp.f.since",
        "seen in the last {v} days",
        "過去 {v} 日以内に観測",
    ),
    ("exp.new", "New export", "新しいエクスポート"),
    ("exp.edit", "Edit export", "エクスポートを編集"),
    ("exp.edit_link", "Edit", "編集"),
    ("exp.delete", "Delete", "削除"),
    (
        "exp.delete.confirm",
        "Delete this export? Its URL will answer 404.",
        "このエクスポートを削除しますか?URL は 404 を返すようになります。",
    ),
    ("exp.origin", "Defined in", "定義元"),
    (
        "exp.origin.config",
        "the configuration file",
        "設定ファイル",
    ),
    (
        "exp.origin.stored",
        "rexist, by {who} at {at}",
        "rexist({who}、{at})",
    ),
    (
        "exp.shadowed",
        "Not served: an export of the configuration has this name.",
        "配信されていません:設定ファイルに同名のエクスポートがあります。",
    ),
    ("exp.name", "Name", "名前"),
    (
        "exp.name.help",
        "Letters, digits, '-', '_' or '.'; the URL is /export/NAME.",
        "英数字、'-'、'_'、'.' のみ。URL は /export/名前 になります。",
    ),
    ("exp.description", "Description", "説明"),
    (
        "exp.types",
        "Indicator types (none: all)",
        "指標の種類(未選択ならすべて)",
    ),
    ("exp.source", "Only from source", "ソースで絞り込み"),
    ("exp.tag", "Only with label", "ラベルで絞り込み"),
    (
        "exp.min_score",
        "Minimum score (0–100)",
        "最低スコア(0〜100)",
    ),
    ("exp.tlp", "Most restricted TLP", "最も制限の強い TLP"),
    (
        "exp.tlp.any",
        "up to the reader's clearance",
        "閲覧者の権限まで",
    ),
    (
        "exp.active_only",
        "Active indicators only",
        "有効な指標のみ",
    ),
    (
        "exp.since",
        "Seen within (30d, 12h)",
        "観測期間(30d、12h など)",
    ),
    ("exp.save", "Save", "保存"),
    ("exp.create", "Create", "作成"),
    ("exp.show_draft", "Preview", "プレビュー"),
    ("exp.saved", "Saved.", "保存しました。"),
    ("exp.deleted", "Deleted.", "削除しました。"),
    ("exp.not_saved", "Not saved:", "保存できませんでした:"),
    (
        "exp.draft_note",
        "The first {rows} indicators exactly as the export will serve them to you.",
        "エクスポートが配信する内容そのままの先頭 {rows} 件(あなたの閲覧権限の範囲内)。",
    ),
    (
        "exp.admin_only",
        "Only administrators may define exports.",
        "エクスポートを定義できるのは管理者のみです。",
    ),
    (
        "exp.configured",
        "This export is defined in the configuration file: change it there.",
        "このエクスポートは設定ファイルで定義されています。設定ファイルで変更してください。",
    ),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("exports.html", include_str!("../../templates/exports.html")),
    (
        "exports_preview.html",
        include_str!("../../templates/exports_preview.html"),
    ),
    (
        "exports_form.html",
        include_str!("../../templates/exports_form.html"),
    ),
    (
        "exports_result.html",
        include_str!("../../templates/exports_result.html"),
    ),
];

/// Lines of an export's preview, and characters per line.
const PREVIEW_LINES: usize = 20;
const PREVIEW_LINE_CHARS: usize = 400;
/// How long a preview may take to render.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(5);
/// Indicators a preview of a definition being edited renders.
const DRAFT_ROWS: u32 = 10;

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/exports", get(exports).post(create))
        .route("/exports/new", get(new_form))
        .route("/exports/preview", post(draft_preview))
        .route(
            "/exports/{name}",
            axum::routing::patch(update).delete(remove),
        )
        .route("/exports/{name}/edit", get(edit_form))
        .route("/exports/{name}/preview", get(export_preview))
}

fn unavailable(ui: &Ui, e: &rexist_store::StoreError) -> Response {
    tracing::warn!(error = %e, "ui: store failed");
    ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable")
}

fn word(ui: &Ui, key: &str) -> String {
    super::i18n::t(ui.lang, key).to_owned()
}

fn export_path(spec: &crate::export::ExportSpec) -> String {
    let name = crate::url_encode(&spec.name);
    if spec.format == rexist_export::Format::Misp {
        format!("/export/{name}/manifest.json")
    } else {
        format!("/export/{name}")
    }
}

fn filters(ui: &Ui, spec: &crate::export::ExportSpec) -> Vec<String> {
    let say = |key: &str, value: String| super::i18n::fill(&word(ui, key), &[("v", value)]);
    let mut out = Vec::new();
    if !spec.types.is_empty() {
        let types: Vec<&str> = spec.types.iter().map(|t| t.as_str()).collect();
        out.push(say("exp.f.types", types.join(", ")));
    }
    if let Some(s) = &spec.source {
        out.push(say("exp.f.source", s.clone()));
    }
    if let Some(t) = &spec.tag {
        out.push(say("exp.f.tag", t.clone()));
    }
    if let Some(m) = spec.min_score {
        out.push(say("exp.f.min_score", m.to_string()));
    }
    if let Some(t) = spec.tlp {
        out.push(say("exp.f.tlp", t.as_str().to_uppercase()));
    }
    if spec.active_only {
        out.push(word(ui, "exp.f.active"));
    }
    if let Some(d) = spec.since {
        out.push(say("exp.f.since", d.as_secs().div_ceil(86_400).to_string()));
    }
    if out.is_empty() {
        out.push(word(ui, "exp.all"));
    }
    out
}

/// `GET /exports`: the saved exports (configured and stored), their URLs
/// and a preview each (loaded by htmx); for admins, links to define, edit
/// and delete stored ones.
async fn exports(State(state): State<AppState>, ui: Ui, headers: HeaderMap) -> Response {
    let origin = crate::origin(&state, &headers, &axum::http::Uri::default());
    let all = match stored_exports::all(&state).await {
        Ok(all) => all,
        Err(e) => return unavailable(&ui, &e),
    };
    let rows: Vec<_> = all
        .iter()
        .map(|(found, shadowed)| {
            let spec = &found.spec;
            let stored = match &found.origin {
                Origin::Config => None,
                Origin::Stored(s) => Some(s),
            };
            context! {
                name => spec.name.clone(),
                format => spec.format.as_str(),
                description => spec.description.clone(),
                url => format!("{origin}{}", export_path(spec)),
                filters => filters(&ui, spec),
                stored => stored.is_some(),
                shadowed => *shadowed,
                updated_by => stored.map(|s| s.updated_by.clone()),
                updated_at => stored.map(|s| rfc3339(s.updated_at)),
            }
        })
        .collect();
    ui.render(
        "exports.html",
        context! { exports => rows, is_admin => ui.principal.role >= Role::Admin },
    )
}

/// `GET /exports/{name}/preview`: the first lines of a saved export, as
/// rendered for this reader's clearance (an htmx fragment).
async fn export_preview(
    State(state): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
) -> Response {
    let spec = match stored_exports::find(&state, &name).await {
        Ok(Some(found)) => found.spec,
        Ok(None) => return ui.error(StatusCode::NOT_FOUND, "err.no_export"),
        Err(e) => return unavailable(&ui, &e),
    };
    let preview = tokio::time::timeout(
        PREVIEW_TIMEOUT,
        crate::export::preview(&state, &spec, ui.principal.clearance),
    )
    .await;
    let preview = match preview {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return unavailable(&ui, &e),
        Err(_) => {
            return ui.render(
                "exports_preview.html",
                context! { lines => Vec::<String>::new(), slow => true },
            );
        }
    };
    preview_fragment(&ui, &preview, false)
}

/// The preview fragment: the first lines of what was rendered.
fn preview_fragment(ui: &Ui, preview: &crate::export::Preview, draft: bool) -> Response {
    let text = String::from_utf8_lossy(&preview.head);
    let lines: Vec<String> = text
        .lines()
        .take(PREVIEW_LINES)
        .map(|l| l.chars().take(PREVIEW_LINE_CHARS).collect())
        .collect();
    ui.render(
        "exports_preview.html",
        context! {
            lines => lines,
            more => preview.cut || text.lines().nth(PREVIEW_LINES).is_some(),
            written => preview.written,
            slow => false,
            draft => draft,
            rows => DRAFT_ROWS,
        },
    )
}

/// A form body, each name with its values (checkboxes repeat).
fn fields(body: &[u8]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

/// The form as the configuration's table: empty fields are left out, so
/// they take the table's defaults.
fn config_from(f: &HashMap<String, Vec<String>>) -> Result<ExportConfig, String> {
    let one = |k: &str| {
        f.get(k)
            .and_then(|v| v.first())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let name = one("name").unwrap_or_default();
    let min_score = one("min_score")
        .map(|v| {
            v.parse::<u8>().map_err(|_| {
                format!("export {name:?}: min_score: {v:?} is not a number from 0 to 100")
            })
        })
        .transpose()?;
    Ok(ExportConfig {
        format: one("format").unwrap_or_default(),
        description: one("description"),
        types: f.get("types").cloned().unwrap_or_default(),
        source: one("source"),
        tag: one("tag"),
        min_score,
        tlp: one("tlp"),
        active_only: f.contains_key("active_only"),
        since: one("since"),
        name,
    })
}

/// The form's values and choices.
fn form_context(config: &ExportConfig, editing: Option<&str>) -> minijinja::Value {
    context! {
        editing => editing,
        name => config.name.clone(),
        format => config.format.clone(),
        formats => Format::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        description => config.description.clone(),
        types => IndicatorType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        chosen => config.types.clone(),
        source => config.source.clone(),
        tag => config.tag.clone(),
        min_score => config.min_score,
        tlp => config.tlp.clone(),
        tlps => Tlp::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        active_only => config.active_only,
        since => config.since.clone(),
    }
}

fn admin_only(ui: &Ui) -> Option<Response> {
    (ui.principal.role < Role::Admin).then(|| ui.error(StatusCode::FORBIDDEN, "exp.admin_only"))
}

/// [`admin_only`] for the form actions, whose answer goes in the form's result area
/// under the heading `done`.
fn admin_only_result(ui: &Ui, done: &str) -> Option<Response> {
    (ui.principal.role < Role::Admin).then(|| {
        result(
            ui,
            StatusCode::FORBIDDEN,
            Some(&word(ui, "exp.admin_only")),
            done,
        )
    })
}

/// `GET /exports/new`: the form for a new export (admin).
async fn new_form(ui: Ui) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let config = ExportConfig::new("", "csv");
    ui.render(
        "exports_form.html",
        context! { form => form_context(&config, None) },
    )
}

/// `GET /exports/{name}/edit`: the form over a stored export (admin).
async fn edit_form(State(state): State<AppState>, ui: Ui, Path(name): Path<String>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    if state.exports.iter().any(|e| e.name == name) {
        return ui.error(StatusCode::CONFLICT, "exp.configured");
    }
    let stored = match state.store.stored_export(&name).await {
        Ok(Some(s)) => s,
        Ok(None) => return ui.error(StatusCode::NOT_FOUND, "err.no_export"),
        Err(e) => return unavailable(&ui, &e),
    };
    let Ok(config) = stored_exports::config_of(&stored) else {
        return ui.error(StatusCode::INTERNAL_SERVER_ERROR, "err.unavailable");
    };
    ui.render(
        "exports_form.html",
        context! { form => form_context(&config, Some(&name)) },
    )
}

/// The outcome of a write, for the form's result area.
fn result(ui: &Ui, status: StatusCode, error: Option<&str>, done: &str) -> Response {
    let mut r = ui.render(
        "exports_result.html",
        context! { error => error, done => word(ui, done) },
    );
    *r.status_mut() = status;
    r
}

fn refused(ui: &Ui, e: &ApiError) -> Response {
    result(ui, e.status(), Some(e.message()), "exp.saved")
}

/// Sends the browser to the exports page after a write.
fn back_to_list(ui: &Ui, done: &str) -> Response {
    let mut r = result(ui, StatusCode::OK, None, done);
    r.headers_mut()
        .insert("hx-redirect", HeaderValue::from_static("/exports"));
    r
}

/// `POST /exports`: stores the form as a new export (admin).
async fn create(State(state): State<AppState>, ui: Ui, addr: ClientAddr, body: Bytes) -> Response {
    if let Some(r) = admin_only_result(&ui, "exp.saved") {
        return r;
    }
    let config = match config_from(&fields(&body)) {
        Ok(c) => c,
        Err(e) => return result(&ui, StatusCode::BAD_REQUEST, Some(&e), "exp.saved"),
    };
    match stored_exports::create(&state, &ui.principal, &addr, &config).await {
        Ok(_) => back_to_list(&ui, "exp.saved"),
        Err(e) => refused(&ui, &e),
    }
}

/// `PATCH /exports/{name}`: saves the form over a stored export (admin).
async fn update(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = admin_only_result(&ui, "exp.saved") {
        return r;
    }
    let config = match config_from(&fields(&body)) {
        Ok(c) => c,
        Err(e) => return result(&ui, StatusCode::BAD_REQUEST, Some(&e), "exp.saved"),
    };
    match stored_exports::replace(&state, &ui.principal, &addr, &name, &config).await {
        Ok(_) => back_to_list(&ui, "exp.saved"),
        Err(e) => refused(&ui, &e),
    }
}

/// `DELETE /exports/{name}`: deletes a stored export (admin).
async fn remove(
    State(state): State<AppState>,
    ui: Ui,
    addr: ClientAddr,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = admin_only_result(&ui, "exp.deleted") {
        return r;
    }
    match stored_exports::remove(&state, &ui.principal, &addr, &name).await {
        Ok(()) => back_to_list(&ui, "exp.deleted"),
        Err(e) => refused(&ui, &e),
    }
}

/// `POST /exports/preview`: the first rows of the form's definition as it
/// would be served to this admin, before it is saved (an htmx fragment).
async fn draft_preview(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    if let Some(r) = admin_only_result(&ui, "exp.saved") {
        return r;
    }
    let mut config = match config_from(&fields(&body)) {
        Ok(c) => c,
        Err(e) => return result(&ui, StatusCode::BAD_REQUEST, Some(&e), "exp.saved"),
    };
    // The name only labels the output (comments, headers): a draft may
    // have none yet.
    if config.name.is_empty() {
        "preview".clone_into(&mut config.name);
    }
    let spec = match config.validate() {
        Ok(s) => s,
        Err(e) => return result(&ui, StatusCode::BAD_REQUEST, Some(&e), "exp.saved"),
    };
    let preview = tokio::time::timeout(
        PREVIEW_TIMEOUT,
        crate::export::preview_rows(&state, &spec, ui.principal.clearance, DRAFT_ROWS),
    )
    .await;
    match preview {
        Ok(Ok(p)) => preview_fragment(&ui, &p, true),
        Ok(Err(e)) => unavailable(&ui, &e),
        Err(_) => ui.render(
            "exports_preview.html",
            context! { lines => Vec::<String>::new(), slow => true },
        ),
    }
}
