//! The UI's pages.

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use rexist_core::{HitObject, Source};
use rexist_store::HitQuery;

use super::Ui;
use crate::AppState;

/// A source as the health table shows it.
#[derive(Debug, serde::Serialize)]
pub struct SourceRow {
    name: String,
    kind: String,
    enabled: bool,
    last_success: Option<String>,
    failures: u32,
    last_error: Option<String>,
    failing: bool,
    stale: bool,
}

/// The health table's rows: failing first, then stale, then by name.
pub fn source_rows(state: &AppState, sources: Vec<Source>) -> Vec<SourceRow> {
    let now = rexist_core::model::now();
    let mut rows: Vec<SourceRow> = sources
        .into_iter()
        .map(|s| {
            let every = state.schedules.get(&s.name).copied();
            let stale = match (every, s.health.last_success_at, s.health.last_run_at) {
                (Some(every), Some(ok), _) => {
                    now - ok > time::Duration::try_from(every * 2).unwrap_or(time::Duration::MAX)
                }
                (Some(_), None, Some(_)) => true,
                _ => false,
            };
            SourceRow {
                failing: s.health.consecutive_failures > 0,
                stale: s.enabled && stale,
                last_success: s.health.last_success_at.map(rfc3339),
                failures: s.health.consecutive_failures,
                last_error: s.health.last_error,
                enabled: s.enabled,
                kind: s.kind,
                name: s.name,
            }
        })
        .collect();
    rows.sort_by(|a, b| (!a.failing, !a.stale, &a.name).cmp(&(!b.failing, !b.stale, &b.name)));
    rows
}

/// RFC 3339, for `<time datetime>`.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `GET /`: the dashboard.
pub async fn dashboard(
    axum::extract::State(state): axum::extract::State<AppState>,
    ui: Ui,
) -> Response {
    let latest = HitQuery {
        limit: 10,
        ..HitQuery::default()
    };
    let loaded = tokio::try_join!(
        state.store.stats(),
        state.store.list_sources(),
        state.store.list_hits(&latest),
        state.store.list_hunts(),
    );
    let (stats, sources, hits, hunts) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: store failed");
            return ui.error(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable");
        }
    };
    let hunt_name = |id| {
        hunts
            .iter()
            .find(|h| h.id == id)
            .map_or_else(String::new, |h| h.spec.name.clone())
    };
    let hits: Vec<_> = hits
        .items
        .into_iter()
        .map(|h| {
            let (object, href) = match h.object {
                HitObject::Item(id) => (format!("item {id}"), format!("/items/{id}")),
                HitObject::Indicator(id) => {
                    (format!("indicator {id}"), format!("/indicators/{id}"))
                }
            };
            context! {
                hunt => hunt_name(h.hunt_id),
                object => object,
                href => href,
                terms => h.terms,
                at => rfc3339(h.created_at),
                acked => h.acked_at.is_some(),
            }
        })
        .collect();
    let total = |rows: &[(String, u64)]| rows.iter().map(|(_, n)| n).sum::<u64>();
    ui.render(
        "dashboard.html",
        context! {
            totals => context! {
                indicators => total(&stats.indicators_by_type),
                items => total(&stats.items_by_kind),
                sightings => stats.sightings,
                sources => stats.sources,
            },
            indicators => stats.indicators_by_type,
            items => stats.items_by_kind,
            hits => hits,
            sources => minijinja::Value::from(minijinja::value::Serde(source_rows(&state, sources))),
        },
    )
}
