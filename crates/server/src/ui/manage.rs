//! UI pages: sources (health, run now, enable/disable, run history) and
//! administration (users, tokens, audit log); exports are in `exports.rs`.
//! Every write is an htmx request (so it carries the CSRF header) and
//! answers with a small fragment; the middleware audits it.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use minijinja::value::Serde;
use rexist_core::Role;
use rexist_store::UserChange;
use serde::Deserialize;

use super::Ui;
use super::pages::{rfc3339, source_rows};
use crate::AppState;
use crate::admin::{TokenRequest, check_password_strength, issue_token};
use crate::auth::hash_password;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    (
        "dash.chart_items",
        "New items per day, by kind",
        "種類別の新着アイテム数(日別)",
    ),
    (
        "dash.chart_indicators",
        "New indicators per day, by type",
        "タイプ別の新規指標数(日別)",
    ),
    (
        "dash.chart_sources",
        "New sightings and items per day, by source",
        "ソース別の新規観測・アイテム数(日別)",
    ),
    ("dash.last_30_days", "last 30 days", "過去30日間"),
    ("dash.peak", "peak", "最大"),
    ("dash.other", "other", "その他"),
    ("dash.no_activity", "Nothing yet.", "まだありません。"),
    ("dash.top", "Most sighted indicators", "観測回数の多い指標"),
    ("dash.value", "Value", "値"),
    ("dash.score", "Score", "スコア"),
    ("dash.last_seen", "Last seen", "最終観測"),
    ("src.title", "Sources", "ソース"),
    ("src.manage", "Manage sources", "ソースを管理"),
    ("src.actions", "Actions", "操作"),
    ("src.run", "Run now", "今すぐ実行"),
    ("src.enable", "Enable", "有効にする"),
    ("src.disable", "Disable", "無効にする"),
    (
        "src.queued",
        "Queued: a worker will run it shortly.",
        "キューに追加しました。まもなく実行されます。",
    ),
    (
        "src.already",
        "Already queued or running.",
        "すでにキューにあるか実行中です。",
    ),
    ("src.enabled", "Enabled.", "有効にしました。"),
    ("src.disabled", "Disabled.", "無効にしました。"),
    ("src.runs", "Run history", "実行履歴"),
    ("src.no_runs", "No runs yet.", "実行履歴はまだありません。"),
    ("src.started", "Started", "開始"),
    ("src.finished", "Finished", "終了"),
    ("src.outcome", "Outcome", "結果"),
    ("src.fetched", "Fetched", "取得"),
    ("src.new", "New", "新規"),
    ("src.updated", "Updated", "更新"),
    ("src.rejected", "Rejected", "却下"),
    ("src.error", "Error", "エラー"),
    ("src.older", "Older runs", "以前の実行"),
    ("src.unknown", "No such source.", "そのソースはありません。"),
    (
        "src.admin_only",
        "Only administrators may enable or disable sources.",
        "ソースの有効化・無効化は管理者のみ可能です。",
    ),
    ("adm.title", "Administration", "管理"),
    (
        "adm.forbidden",
        "Only administrators may see this page.",
        "このページは管理者のみ閲覧できます。",
    ),
    ("adm.users", "Users", "ユーザー"),
    ("adm.add_user", "Add user", "ユーザーを追加"),
    ("adm.role", "Role", "ロール"),
    ("adm.state", "State", "状態"),
    ("adm.active", "active", "有効"),
    ("adm.disabled", "disabled", "無効"),
    ("adm.disable", "Disable", "無効にする"),
    ("adm.enable", "Enable", "有効にする"),
    ("adm.set_role", "Change role", "ロールを変更"),
    ("adm.created", "Created", "作成日時"),
    ("adm.saved", "Saved.", "保存しました。"),
    ("acc.title", "Account", "アカウント"),
    ("acc.clearance", "Clearance", "閲覧できるTLP"),
    (
        "acc.change_password",
        "Change your password",
        "パスワードの変更",
    ),
    ("acc.current", "Current password", "現在のパスワード"),
    ("acc.new", "New password", "新しいパスワード"),
    ("acc.repeat", "New password again", "新しいパスワード(確認)"),
    (
        "acc.changed",
        "Password changed; your other sessions were signed out.",
        "パスワードを変更しました。ほかのセッションはログアウトされました。",
    ),
    (
        "acc.wrong",
        "The current password is wrong.",
        "現在のパスワードが正しくありません。",
    ),
    (
        "acc.mismatch",
        "The two new passwords differ.",
        "新しいパスワードが一致しません。",
    ),
    (
        "acc.no_session",
        "Passwords are changed from a signed-in session; an API token has no password.",
        "パスワードはログインしたセッションから変更します。APIトークンにはパスワードがありません。",
    ),
    (
        "acc.first_password",
        "This account still uses the password generated at first start (initial-admin-password in the data directory). Change it here; the file is then deleted.",
        "このアカウントは初回起動時に生成されたパスワード(データディレクトリの initial-admin-password)のままです。ここで変更すると、そのファイルは削除されます。",
    ),
    ("adm.user_added", "User added.", "ユーザーを追加しました。"),
    ("adm.tokens", "API tokens", "APIトークン"),
    ("adm.new_token", "Create token", "トークンを作成"),
    ("adm.expires_days", "Expires in (days)", "有効期限(日)"),
    ("adm.scopes", "Scopes", "スコープ"),
    ("adm.prefix", "Prefix", "プレフィックス"),
    ("adm.expires", "Expires", "有効期限"),
    ("adm.last_used", "Last used", "最終使用"),
    ("adm.revoke", "Revoke", "失効させる"),
    ("adm.revoked", "revoked", "失効済み"),
    ("adm.revoked_msg", "Revoked.", "失効させました。"),
    (
        "adm.secret_once",
        "Copy the secret now: it is never shown again.",
        "今すぐシークレットをコピーしてください。二度と表示されません。",
    ),
    ("adm.audit", "Audit log", "監査ログ"),
    ("adm.actor", "Actor", "実行者"),
    ("adm.action", "Action", "操作"),
    ("adm.target", "Target", "対象"),
    ("adm.address", "Address", "アドレス"),
    ("adm.older", "Older entries", "古いエントリ"),
    ("adm.forever", "never", "無期限"),
    ("adm.failed", "Failed", "失敗しました"),
    ("adm.no_user", "No such user.", "そのユーザーはいません。"),
    (
        "adm.no_token",
        "No live token of that name.",
        "その名前の有効なトークンはありません。",
    ),
    (
        "adm.bad_role",
        "Role: choose viewer, analyst or admin.",
        "ロールは viewer、analyst、admin のいずれかを選んでください。",
    ),
    (
        "adm.bad_name",
        "Name: 1 to 64 characters, no spaces.",
        "名前は空白を含まない 1〜64 文字にしてください。",
    ),
    (
        "adm.bad_disabled",
        "Disabled: expected true or false.",
        "無効化の指定は true または false です。",
    ),
    (
        "adm.nothing",
        "Nothing to change.",
        "変更する項目がありません。",
    ),
    (
        "adm.bad_scopes",
        "Scopes: api, taxii, export or metrics, separated by commas.",
        "スコープは api、taxii、export、metrics をカンマ区切りで指定してください。",
    ),
    (
        "adm.bad_expires",
        "Expires in: a number of days.",
        "有効期限は日数で指定してください。",
    ),
    (
        "acc.weak",
        "The password is not accepted",
        "このパスワードは使用できません",
    ),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("sources.html", include_str!("../../templates/sources.html")),
    (
        "sources_detail.html",
        include_str!("../../templates/sources_detail.html"),
    ),
    ("admin.html", include_str!("../../templates/admin.html")),
    ("account.html", include_str!("../../templates/account.html")),
    (
        "admin_msg.html",
        include_str!("../../templates/admin_msg.html"),
    ),
];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[(
    "ui/manage.css",
    "text/css; charset=utf-8",
    include_bytes!("../../assets/ui/manage.css"),
)];

/// Runs per page of a source's history; audit entries per page.
const PAGE: u32 = 50;

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sources", get(sources))
        .route("/sources/{name}", get(source_detail))
        .route("/sources/{name}/run", post(run_source))
        .route("/sources/{name}/enable", post(enable_source))
        .route("/sources/{name}/disable", post(disable_source))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/admin", get(admin))
        .route("/admin/users", post(add_user))
        .route("/admin/users/{name}", post(change_user))
        .route("/admin/tokens", post(create_token))
        .route("/admin/tokens/{name}/revoke", post(revoke_token))
}

fn unavailable(ui: &Ui, e: &rexist_store::StoreError) -> Response {
    tracing::warn!(error = %e, "ui: store failed");
    ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable")
}

/// A fragment answering an htmx write: a message, optionally a secret.
fn message(ui: &Ui, status: StatusCode, ok: bool, text: &str, secret: Option<&str>) -> Response {
    let mut r = ui.render(
        "admin_msg.html",
        context! { ok => ok, text => text, secret => secret },
    );
    *r.status_mut() = status;
    r
}

fn word(ui: &Ui, key: &str) -> String {
    super::i18n::t(ui.lang, key).to_owned()
}

/// A form body (`application/x-www-form-urlencoded`, as htmx sends it).
fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `GET /sources`: the health table with actions.
async fn sources(State(state): State<AppState>, ui: Ui) -> Response {
    match state.store.list_sources().await {
        Ok(list) => {
            let rows = source_rows(&state, list);
            let configured: Vec<bool> = rows
                .iter()
                .map(|r| state.schedules.contains_key(&r.name))
                .collect();
            ui.render(
                "sources.html",
                context! {
                    sources => minijinja::Value::from(Serde(rows)),
                    configured => configured,
                },
            )
        }
        Err(e) => unavailable(&ui, &e),
    }
}

/// Query of a source's page.
#[derive(Debug, Deserialize)]
struct RunsQuery {
    /// Runs before this id.
    before: Option<i64>,
}

/// `GET /sources/{name}`: the source's health and run history.
async fn source_detail(
    State(state): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Response {
    let source = match state.store.source_by_name(&name).await {
        Ok(Some(s)) => s,
        Ok(None) => return ui.error(StatusCode::NOT_FOUND, "src.unknown"),
        Err(e) => return unavailable(&ui, &e),
    };
    let before = q.before.map(rexist_core::RunId::new);
    let runs = match state.store.list_runs(Some(source.id), before, PAGE).await {
        Ok(r) => r,
        Err(e) => return unavailable(&ui, &e),
    };
    let older = (runs.len() == PAGE as usize)
        .then(|| runs.last().map(|r| r.id.get()))
        .flatten();
    let runs: Vec<_> = runs
        .iter()
        .map(|r| {
            context! {
                id => r.id.get(),
                started => rfc3339(r.started_at),
                finished => r.finished_at.map(rfc3339),
                outcome => r.outcome.as_str(),
                outcome_word => word(&ui, &format!("run.{}", r.outcome.as_str())),
                fetched => r.counts.fetched,
                new => r.counts.new,
                updated => r.counts.updated,
                rejected => r.counts.rejected,
                error => r.error.clone(),
            }
        })
        .collect();
    let row = source_rows(&state, vec![source]);
    ui.render(
        "sources_detail.html",
        context! {
            name => name.clone(),
            configured => state.schedules.contains_key(&name),
            source => minijinja::Value::from(Serde(row)),
            runs => runs,
            older => older,
        },
    )
}

/// Whether `name` is a configured, stored source.
async fn configured(state: &AppState, name: &str) -> Result<bool, rexist_store::StoreError> {
    Ok(state.schedules.contains_key(name) && state.store.source_by_name(name).await?.is_some())
}

/// `POST /sources/{name}/run`: queue a run now (analyst).
async fn run_source(State(state): State<AppState>, ui: Ui, Path(name): Path<String>) -> Response {
    match configured(&state, &name).await {
        Ok(true) => {}
        Ok(false) => {
            return message(
                &ui,
                StatusCode::NOT_FOUND,
                false,
                &word(&ui, "src.unknown"),
                None,
            );
        }
        Err(e) => return unavailable(&ui, &e),
    }
    match rexist_pipeline::scheduler::enqueue_run(&state.store, &name).await {
        Ok(true) => message(
            &ui,
            StatusCode::ACCEPTED,
            true,
            &word(&ui, "src.queued"),
            None,
        ),
        Ok(false) => message(&ui, StatusCode::OK, true, &word(&ui, "src.already"), None),
        Err(e) => unavailable(&ui, &e),
    }
}

async fn toggle(state: &AppState, ui: &Ui, name: &str, enabled: bool) -> Response {
    if ui.principal.role < Role::Admin {
        return message(
            ui,
            StatusCode::FORBIDDEN,
            false,
            &word(ui, "src.admin_only"),
            None,
        );
    }
    match configured(state, name).await {
        Ok(true) => {}
        Ok(false) => {
            return message(
                ui,
                StatusCode::NOT_FOUND,
                false,
                &word(ui, "src.unknown"),
                None,
            );
        }
        Err(e) => return unavailable(ui, &e),
    }
    match state.store.set_source_enabled(name, enabled).await {
        Ok(_) => {
            let key = if enabled {
                "src.enabled"
            } else {
                "src.disabled"
            };
            let mut r = message(ui, StatusCode::OK, true, &word(ui, key), None);
            // The row's state and buttons change: reload the table.
            r.headers_mut()
                .insert("hx-refresh", header::HeaderValue::from_static("true"));
            r
        }
        Err(e) => unavailable(ui, &e),
    }
}

/// `POST /sources/{name}/enable` (admin).
async fn enable_source(
    State(state): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
) -> Response {
    toggle(&state, &ui, &name, true).await
}

/// `POST /sources/{name}/disable` (admin).
async fn disable_source(
    State(state): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
) -> Response {
    toggle(&state, &ui, &name, false).await
}

/// Query of the admin page.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    /// Audit entries before this id.
    before: Option<i64>,
}

fn forbidden(ui: &Ui) -> Option<Response> {
    (ui.principal.role < Role::Admin).then(|| ui.error(StatusCode::FORBIDDEN, "adm.forbidden"))
}

/// The signed-in user of a UI session; `None` for tokens, basic auth and anonymous readers.
fn session_user(ui: &Ui) -> Option<&str> {
    ui.principal
        .csrf
        .is_some()
        .then_some(ui.principal.name.as_str())
}

/// `GET /account`: who is signed in, and the form to change one's password.
async fn account(State(state): State<AppState>, ui: Ui) -> Response {
    let first_password = match (session_user(&ui), &state.data_dir) {
        (Some(user), Some(dir)) => {
            user == crate::first_admin::USER && crate::first_admin::password_file(dir).exists()
        }
        _ => false,
    };
    ui.render(
        "account.html",
        context! {
            clearance => ui.principal.clearance.as_str(),
            first_password => first_password,
        },
    )
}

/// `POST /account/password`: `current`, `password`, `repeat`. The user's
/// sessions end (this one is replaced by a fresh one) and the first admin's
/// password file goes.
async fn change_password(
    State(state): State<AppState>,
    ui: Ui,
    addr: crate::auth::ClientAddr,
    body: Bytes,
) -> Response {
    let Some(user) = session_user(&ui).map(str::to_owned) else {
        return message(
            &ui,
            StatusCode::FORBIDDEN,
            false,
            &word(&ui, "acc.no_session"),
            None,
        );
    };
    let f = form(&body);
    let field = |k: &str| f.get(k).map_or("", String::as_str);
    let (current, password) = (field("current"), field("password"));
    if password != field("repeat") {
        return bad(&ui, &word(&ui, "acc.mismatch"));
    }
    if let Err(e) = check_password_strength(password) {
        return bad(&ui, &format!("{}: {e}", word(&ui, "acc.weak")));
    }
    // The current password is asked for, so a session left open on a
    // shared screen cannot lock its owner out; wrong guesses are throttled
    // and audited like logins.
    let (principal, account) =
        match crate::auth::check_password(&state, &user, current, addr.0.as_deref()).await {
            Ok(Some(checked)) => checked,
            Ok(None) => return bad(&ui, &word(&ui, "acc.wrong")),
            Err(e) => return axum::response::IntoResponse::into_response(e),
        };
    let hash = match hash_password(password) {
        Ok(h) => h,
        Err(e) => return bad(&ui, &e),
    };
    let change = UserChange {
        password_hash: Some(hash),
        role: None,
        disabled: None,
    };
    match state.store.update_user(&user, &change).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message(
                &ui,
                StatusCode::NOT_FOUND,
                false,
                &word(&ui, "adm.no_user"),
                None,
            );
        }
        Err(e) => return store_failed(&ui, &e),
    }
    if let Some(dir) = &state.data_dir {
        crate::first_admin::password_changed(dir, &user);
    }
    let mut r = message(&ui, StatusCode::OK, true, &word(&ui, "acc.changed"), None);
    // The new password ended every session of the user, this one too: sign
    // this browser in again (the password was just checked) so the change
    // does not throw the user out.
    match crate::admin::open_session(&state, principal, account, addr.0.as_deref()).await {
        Ok(session) => {
            if let Ok(v) = header::HeaderValue::from_str(&session.cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.headers_mut()
                .insert("hx-refresh", header::HeaderValue::from_static("true"));
        }
        Err(_) => {
            r.headers_mut()
                .insert("hx-redirect", header::HeaderValue::from_static("/login"));
        }
    }
    r
}

/// `GET /admin`: users, tokens and the audit log (admin).
async fn admin(State(state): State<AppState>, ui: Ui, Query(q): Query<AuditQuery>) -> Response {
    if let Some(r) = forbidden(&ui) {
        return r;
    }
    let loaded = tokio::try_join!(
        state.store.list_users(),
        state.store.list_tokens(),
        state.store.list_audit(q.before, PAGE),
    );
    let (users, tokens, audit) = match loaded {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, &e),
    };
    let users: Vec<_> = users
        .iter()
        .map(|u| {
            context! {
                name => u.name.clone(),
                role => u.role.as_str(),
                disabled => u.disabled,
                created => rfc3339(u.created_at),
            }
        })
        .collect();
    let tokens: Vec<_> = tokens
        .iter()
        .filter(|t| t.kind == "token")
        .map(|t| {
            let scopes: Vec<String> = t
                .scopes
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            context! {
                name => t.name.clone(),
                role => t.role.as_str(),
                scopes => scopes,
                prefix => t.prefix.clone(),
                created => rfc3339(t.created_at),
                expires => t.expires_at.map(rfc3339),
                last_used => t.last_used_at.map(rfc3339),
                revoked => t.revoked,
            }
        })
        .collect();
    let entries: Vec<_> = audit
        .items
        .iter()
        .map(|a| {
            context! {
                at => rfc3339(a.at),
                actor => a.entry.actor.clone(),
                action => a.entry.action.clone(),
                target => a.entry.target.clone(),
                outcome => a.entry.outcome.clone(),
                address => a.entry.address.clone(),
            }
        })
        .collect();
    ui.render(
        "admin.html",
        context! {
            users => users,
            tokens => tokens,
            audit => entries,
            older => audit.next,
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
    )
}

fn bad(ui: &Ui, text: &str) -> Response {
    message(ui, StatusCode::BAD_REQUEST, false, text, None)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn store_failed(ui: &Ui, e: &rexist_store::StoreError) -> Response {
    let status = match e.kind() {
        rexist_store::ErrorKind::Conflict => StatusCode::CONFLICT,
        rexist_store::ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        rexist_store::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        _ => return unavailable(ui, e),
    };
    message(
        ui,
        status,
        false,
        &format!("{}: {e}", word(ui, "adm.failed")),
        None,
    )
}

/// `POST /admin/users`: `name`, `password`, `role` (admin).
async fn add_user(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    if let Some(r) = forbidden(&ui) {
        return r;
    }
    let f = form(&body);
    let name = f.get("name").map_or("", |s| s.trim());
    let password = f.get("password").map_or("", String::as_str);
    let Some(role) = f.get("role").and_then(|r| r.parse::<Role>().ok()) else {
        return bad(&ui, &word(&ui, "adm.bad_role"));
    };
    if !valid_name(name) {
        return bad(&ui, &word(&ui, "adm.bad_name"));
    }
    if let Err(e) = check_password_strength(password) {
        return bad(&ui, &format!("{}: {e}", word(&ui, "acc.weak")));
    }
    let hash = match hash_password(password) {
        Ok(h) => h,
        Err(e) => return bad(&ui, &e),
    };
    match state.store.create_user(name, &hash, role).await {
        Ok(_) => {
            let mut r = message(
                &ui,
                StatusCode::CREATED,
                true,
                &word(&ui, "adm.user_added"),
                None,
            );
            r.headers_mut()
                .insert("hx-refresh", header::HeaderValue::from_static("true"));
            r
        }
        Err(e) => store_failed(&ui, &e),
    }
}

/// `POST /admin/users/{name}`: `role` and/or `disabled` (`true`/`false`) (admin).
async fn change_user(
    State(state): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = forbidden(&ui) {
        return r;
    }
    let f = form(&body);
    let role = match f.get("role").filter(|r| !r.is_empty()) {
        Some(r) => match r.parse::<Role>() {
            Ok(r) => Some(r),
            Err(_) => return bad(&ui, &word(&ui, "adm.bad_role")),
        },
        None => None,
    };
    let disabled = match f.get("disabled").map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        None | Some("") => None,
        Some(_) => return bad(&ui, &word(&ui, "adm.bad_disabled")),
    };
    if role.is_none() && disabled.is_none() {
        return bad(&ui, &word(&ui, "adm.nothing"));
    }
    let change = UserChange {
        password_hash: None,
        role,
        disabled,
    };
    match state.store.update_user(&name, &change).await {
        Ok(Some(_)) => {
            let mut r = message(&ui, StatusCode::OK, true, &word(&ui, "adm.saved"), None);
            r.headers_mut()
                .insert("hx-refresh", header::HeaderValue::from_static("true"));
            r
        }
        Ok(None) => message(
            &ui,
            StatusCode::NOT_FOUND,
            false,
            &word(&ui, "adm.no_user"),
            None,
        ),
        Err(e) => store_failed(&ui, &e),
    }
}

/// `POST /admin/tokens`: `name`, `role`, `scopes` (comma-separated),
/// `expires_days`; the answer shows the secret, this once (admin).
async fn create_token(State(state): State<AppState>, ui: Ui, body: Bytes) -> Response {
    if let Some(r) = forbidden(&ui) {
        return r;
    }
    let f = form(&body);
    let name = f.get("name").map_or("", |s| s.trim()).to_owned();
    if !valid_name(&name) {
        return bad(&ui, &word(&ui, "adm.bad_name"));
    }
    let Some(role) = f.get("role").and_then(|r| r.parse::<Role>().ok()) else {
        return bad(&ui, &word(&ui, "adm.bad_role"));
    };
    let scopes = match f.get("scopes").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => {
            let parsed: Result<Vec<rexist_core::Scope>, _> = s
                .split(',')
                .map(|p| serde_json::from_value(serde_json::Value::String(p.trim().to_owned())))
                .collect();
            match parsed {
                Ok(v) => v,
                Err(_) => return bad(&ui, &word(&ui, "adm.bad_scopes")),
            }
        }
        None => Vec::new(),
    };
    let expires_days = match f
        .get("expires_days")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        Some(d) => match d.parse::<u32>() {
            Ok(d) => Some(d),
            Err(_) => return bad(&ui, &word(&ui, "adm.bad_expires")),
        },
        None => None,
    };
    let req = TokenRequest {
        name,
        role,
        scopes,
        expires_days,
    };
    match issue_token(state.store.as_ref(), &req).await {
        Ok((_, secret)) => message(
            &ui,
            StatusCode::CREATED,
            true,
            &word(&ui, "adm.secret_once"),
            Some(&secret),
        ),
        Err(e) => store_failed(&ui, &e),
    }
}

/// `POST /admin/tokens/{name}/revoke` (admin).
async fn revoke_token(State(state): State<AppState>, ui: Ui, Path(name): Path<String>) -> Response {
    if let Some(r) = forbidden(&ui) {
        return r;
    }
    match state.store.revoke_token("token", &name).await {
        Ok(0) => message(
            &ui,
            StatusCode::NOT_FOUND,
            false,
            &word(&ui, "adm.no_token"),
            None,
        ),
        Ok(_) => message(
            &ui,
            StatusCode::OK,
            true,
            &word(&ui, "adm.revoked_msg"),
            None,
        ),
        Err(e) => store_failed(&ui, &e),
    }
}
