//! The UI's pages.

use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use rexist_core::{HitObject, Source};
use rexist_store::{DayCount, HitQuery};

use super::Ui;
use crate::AppState;

/// A source as the health table shows it.
#[derive(Debug, serde::Serialize)]
pub struct SourceRow {
    /// The source's name.
    pub name: String,
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

/// How long the dashboard's counts are served before they are recomputed
/// (in the background: no request waits for a recount once there is one).
const AGGREGATES_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The dashboard's counts that read the whole store.
#[derive(Debug)]
pub struct Aggregates {
    stats: rexist_store::StoreStats,
    activity: rexist_store::Activity,
    top: Vec<rexist_core::IndicatorRecord>,
    early: Vec<EarlyRow>,
    since: time::OffsetDateTime,
}

/// A CVE of the early-warning panel, with its sources named.
#[derive(Debug)]
struct EarlyRow {
    value: String,
    first_source: String,
    first_class: rexist_core::SourceClass,
    first_at: time::OffsetDateTime,
    /// The database that has it, and since when; none while it waits.
    entry: Option<(String, time::OffsetDateTime)>,
}

/// CVEs social media or news had before their NVD, JVN or KEV entry (or
/// still have without one), longest lead first, within `clearance`.
async fn early_cves(
    state: &AppState,
    clearance: rexist_core::Tlp,
    today: time::OffsetDateTime,
) -> Result<Vec<EarlyRow>, rexist_store::StoreError> {
    use rexist_connectors::source::{is_cve_authority, source_class};
    use rexist_core::SourceClass;
    let sources = state.store.list_sources().await?;
    let ids = |keep: &dyn Fn(&Source) -> bool| -> Vec<rexist_core::SourceId> {
        sources.iter().filter(|s| keep(s)).map(|s| s.id).collect()
    };
    let discussion = ids(&|s| {
        matches!(
            source_class(&s.kind),
            SourceClass::Social | SourceClass::News
        )
    });
    if discussion.is_empty() {
        return Ok(Vec::new());
    }
    let query = rexist_store::EarlyCveQuery {
        discussion,
        authority: ids(&|s| is_cve_authority(&s.kind)),
        since: today - time::Duration::days(EARLY_DAYS),
        pending_from_year: today.year() - 1,
        now: today,
        max_tlp: clearance,
        limit: EARLY_CVES,
    };
    let found = state.store.early_cves(&query).await?;
    let by_id: std::collections::HashMap<_, _> = sources.iter().map(|s| (s.id, s)).collect();
    let name = |id| by_id.get(&id).map_or_else(String::new, |s| s.name.clone());
    Ok(found
        .into_iter()
        .map(|c| EarlyRow {
            first_class: by_id
                .get(&c.first_source)
                .map_or(SourceClass::Other, |s| source_class(&s.kind)),
            first_source: name(c.first_source),
            first_at: c.first_at,
            entry: c
                .authority_source
                .zip(c.authority_at)
                .map(|(s, at)| (name(s), at)),
            value: c.value,
        })
        .collect())
}

/// The counts per clearance, with when they were made, and which are being remade.
#[derive(Debug, Default)]
pub struct DashCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<
            rexist_core::Tlp,
            (std::time::Instant, std::sync::Arc<Aggregates>),
        >,
    >,
    refreshing: std::sync::Mutex<std::collections::HashSet<rexist_core::Tlp>>,
}

async fn count(
    state: &AppState,
    clearance: rexist_core::Tlp,
) -> Result<std::sync::Arc<Aggregates>, rexist_store::StoreError> {
    let today = rexist_core::model::now();
    let since = (today - time::Duration::days(i64::from(CHART_DAYS - 1)))
        .replace_time(time::Time::MIDNIGHT);
    let (stats, activity, top, early) = tokio::try_join!(
        state.store.stats(),
        state.store.activity(since, clearance),
        state.store.top_indicators(TOP_INDICATORS, clearance),
        early_cves(state, clearance, today),
    )?;
    let fresh = std::sync::Arc::new(Aggregates {
        stats,
        activity,
        top,
        early,
        since,
    });
    state
        .dashboard
        .entries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(
            clearance,
            (std::time::Instant::now(), std::sync::Arc::clone(&fresh)),
        );
    Ok(fresh)
}

/// The counts for a clearance: cached ones (recounted in the background when
/// stale), or counted now the first time.
async fn aggregates(
    state: &AppState,
    clearance: rexist_core::Tlp,
) -> Result<std::sync::Arc<Aggregates>, rexist_store::StoreError> {
    let cached = state
        .dashboard
        .entries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&clearance)
        .cloned();
    let Some((at, cached)) = cached else {
        return count(state, clearance).await;
    };
    let start = at.elapsed() > AGGREGATES_FOR
        && state
            .dashboard
            .refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(clearance);
    if start {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = count(&state, clearance).await {
                tracing::warn!(error = %e, "dashboard counts not refreshed");
            }
            state
                .dashboard
                .refreshing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&clearance);
        });
    }
    Ok(cached)
}

/// `GET /`: the dashboard.
pub async fn dashboard(
    axum::extract::State(state): axum::extract::State<AppState>,
    ui: Ui,
) -> Response {
    let clearance = ui.principal.clearance;
    let latest = HitQuery {
        limit: 10,
        max_tlp: Some(clearance),
        ..HitQuery::default()
    };
    let loaded = tokio::try_join!(
        aggregates(&state, clearance),
        state.store.list_sources(),
        state.store.list_hits(&latest),
        state.store.list_hunts(),
    );
    let (aggregates, sources, hits, hunts) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: store failed");
            return ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable");
        }
    };
    let (stats, activity, top) = (&aggregates.stats, &aggregates.activity, &aggregates.top);
    let since = aggregates.since;
    let hunt_name = |id| {
        hunts
            .iter()
            .find(|h| h.id == id)
            .map_or_else(String::new, |h| h.spec.name.clone())
    };
    let hits = match crate::hunts::visible_hits(state.store.as_ref(), hits.items, clearance).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: store failed");
            return ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable");
        }
    };
    let hits = match hit_labels(&state, &ui, hits).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: store failed");
            return ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable");
        }
    };
    let hits: Vec<_> = hits
        .into_iter()
        .map(|(h, object, href)| {
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
    let now = rexist_core::model::now();
    let early: Vec<_> = aggregates
        .early
        .iter()
        .map(|r| {
            let lead = r.entry.as_ref().map_or(now, |e| e.1) - r.first_at;
            context! {
                value => r.value.clone(),
                href => crate::ui::indicator::indicator_href(rexist_core::IndicatorType::Cve, &r.value),
                first_source => r.first_source.clone(),
                first_class => r.first_class.as_str(),
                first_at => rfc3339(r.first_at),
                entry_source => r.entry.as_ref().map(|e| e.0.clone()),
                entry_at => r.entry.as_ref().map(|e| rfc3339(e.1)),
                lead => super::i18n::duration(ui.lang, lead.whole_seconds()),
            }
        })
        .collect();
    let followed = match super::entity::followed(&state, clearance).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: store failed");
            return ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable");
        }
    };
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
            indicators => stats.indicators_by_type.clone(),
            items => stats.items_by_kind.clone(),
            hits => hits,
            early => early,
            followed => followed,
            charts => vec![
                chart("dash.chart_items", &activity.items, since.date(), &ui),
                chart("dash.chart_indicators", &activity.indicators, since.date(), &ui),
                chart("dash.chart_sources", &activity.sources, since.date(), &ui),
            ],
            top => top.iter().map(|r| context! {
                kind => r.kind.as_str(),
                value => r.value.clone(),
                sightings => r.sightings,
                score => r.score,
                tlp => r.tlp.as_str(),
                last_seen => rfc3339(r.last_seen),
            }).collect::<Vec<_>>(),
            sources => minijinja::Value::from(minijinja::value::Serde(source_rows(&state, sources))),
        },
    )
}

/// Each hit with what it hit as the reader may see it: an item's title, an
/// indicator's type and defanged value, each with its page; an object above
/// the reader's clearance only as "an item" or "an indicator", unlinked.
async fn hit_labels(
    state: &AppState,
    ui: &Ui,
    hits: Vec<rexist_core::HuntHit>,
) -> Result<Vec<(rexist_core::HuntHit, String, Option<String>)>, rexist_store::StoreError> {
    let clearance = ui.principal.clearance;
    let item_ids: Vec<rexist_core::ItemId> = hits
        .iter()
        .filter_map(|h| match h.object {
            HitObject::Item(id) => Some(id),
            HitObject::Indicator(_) => None,
        })
        .collect();
    let items: std::collections::HashMap<_, _> = state
        .store
        .items_by_id(&item_ids)
        .await?
        .into_iter()
        .filter(|i| i.content.tlp <= clearance)
        .map(|i| (i.id, i.content.title))
        .collect();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let (label, href) = match h.object {
            HitObject::Item(id) => match items.get(&id) {
                Some(title) => (title.clone(), Some(format!("/items/{id}"))),
                None => (super::i18n::t(ui.lang, "hunts.an_item").to_owned(), None),
            },
            HitObject::Indicator(id) => match state.store.indicator_by_id(id).await? {
                Some(r) if r.tlp <= clearance => (
                    format!("{}:{}", r.kind, rexist_extract::defang(&r.value)),
                    Some(super::indicator::indicator_href(r.kind, &r.value)),
                ),
                _ => (
                    super::i18n::t(ui.lang, "hunts.an_indicator").to_owned(),
                    None,
                ),
            },
        };
        out.push((h, label, href));
    }
    Ok(out)
}

/// Days the dashboard's charts cover, today included.
const CHART_DAYS: u16 = 30;
/// Rows of the most-sighted table.
const TOP_INDICATORS: u32 = 10;
/// Days back the early-warning panel looks for newly stored CVEs: JVN can
/// lag weeks behind the first post.
const EARLY_DAYS: i64 = 90;
/// Rows of the early-warning panel.
const EARLY_CVES: u32 = 10;
/// Keys a chart shows by colour; the rest are summed as "other".
const CHART_KEYS: usize = 6;
/// Colours of the keys, then of "other".
const PALETTE: [&str; CHART_KEYS + 1] = [
    "#0b5cad", "#d9822b", "#2e8540", "#b00020", "#6f42c1", "#17a2b8", "#8a94a6",
];
/// The SVG's drawing size (it scales with the page).
const CHART_W: u32 = 600;
const CHART_H: u32 = 120;

/// One bar segment of a chart, in SVG units.
#[derive(Debug, serde::Serialize)]
struct Bar {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    color: &'static str,
    tip: String,
}

/// A stacked bar chart of daily counts as SVG shapes: one bar per day from
/// `first`, stacked by key (the biggest keys in colour, the rest as "other").
fn chart(title: &str, rows: &[DayCount], first: time::Date, ui: &Ui) -> minijinja::Value {
    let (locale, other_word) = (ui.locale, super::i18n::t(ui.lang, "dash.other"));
    let mut totals: Vec<(String, u64)> = Vec::new();
    for r in rows {
        match totals.iter_mut().find(|(k, _)| *k == r.key) {
            Some((_, n)) => *n += r.count,
            None => totals.push((r.key.clone(), r.count)),
        }
    }
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let slot = |key: &str| {
        totals
            .iter()
            .position(|(k, _)| k == key)
            .map_or(CHART_KEYS, |i| i.min(CHART_KEYS))
    };
    // Per day, per slot.
    let mut grid = vec![[0u64; CHART_KEYS + 1]; usize::from(CHART_DAYS)];
    for r in rows {
        let offset = (r.day - first).whole_days();
        if let Some(day) = usize::try_from(offset).ok().and_then(|d| grid.get_mut(d)) {
            day[slot(&r.key)] += r.count;
        }
    }
    let max = grid
        .iter()
        .map(|d| d.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = CHART_W / u32::from(CHART_DAYS);
    let scale = |n: u64| -> u32 {
        u32::try_from(n.saturating_mul(u64::from(CHART_H)) / max).unwrap_or(CHART_H)
    };
    let mut bars = Vec::new();
    for (i, day) in grid.iter().enumerate() {
        let date = first + time::Duration::days(i64::try_from(i).unwrap_or(0));
        let x = u32::try_from(i).unwrap_or(0) * step;
        let mut below = 0u64;
        for (s, &n) in day.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let (top, bottom) = (scale(below + n), scale(below));
            below += n;
            let key = totals
                .get(s)
                .filter(|_| s < CHART_KEYS)
                .map_or(other_word, |(k, _)| k.as_str());
            bars.push(Bar {
                x,
                y: CHART_H - top,
                w: step - 2,
                h: (top - bottom).max(1),
                color: PALETTE[s],
                tip: format!(
                    "{} {key}: {}",
                    locale.date(date),
                    locale.number(i64::try_from(n).unwrap_or(i64::MAX))
                ),
            });
        }
    }
    let mut legend: Vec<_> = totals
        .iter()
        .take(CHART_KEYS)
        .enumerate()
        .map(|(i, (k, n))| context! { key => k, color => PALETTE[i], total => n })
        .collect();
    let other: u64 = totals.iter().skip(CHART_KEYS).map(|(_, n)| n).sum();
    if other > 0 {
        legend.push(context! { key => other_word, color => PALETTE[CHART_KEYS], total => other });
    }
    context! {
        title => title,
        width => CHART_W,
        height => CHART_H,
        max => max,
        first => first.to_string(),
        last => (first + time::Duration::days(i64::from(CHART_DAYS - 1))).to_string(),
        bars => minijinja::Value::from(minijinja::value::Serde(bars)),
        legend => legend,
        empty => rows.is_empty(),
    }
}
