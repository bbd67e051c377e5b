//! `/healthz` and `/metrics` (Prometheus text exposition format 0.0.4).
//! Every metric name rexist exports is written here.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// Requests answered, by status class.
#[derive(Debug, Default)]
pub struct RequestCounters {
    by_class: [AtomicU64; 5],
}

impl RequestCounters {
    fn record(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts every response by status class.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    state.requests.record(response.status());
    response
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let backend = state.store.backend().as_str();
    match state.store.list_runs(None, None, 1).await {
        Ok(_) => {
            // A failing channel degrades alerting, not rexist: reported, still 200.
            let failing: Vec<String> = state
                .store
                .channel_health()
                .await
                .map(|c| {
                    c.into_iter()
                        .filter(|c| c.last_error.is_some())
                        .map(|c| c.channel)
                        .collect()
                })
                .unwrap_or_default();
            axum::Json(json!({"status": "ok", "backend": backend, "channels_failing": failing}))
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "backend": backend})),
            )
                .into_response()
        }
    }
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header_lines(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (stats, sources) = match tokio::try_join!(state.store.stats(), state.store.list_sources()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response();
        }
    };
    let mut out = String::new();
    header_lines(
        &mut out,
        "rexist_build_info",
        "gauge",
        "Version and store backend of this rexist.",
    );
    let _ = writeln!(
        out,
        "rexist_build_info{{version=\"{}\",backend=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        state.store.backend().as_str()
    );
    header_lines(
        &mut out,
        "rexist_indicators",
        "gauge",
        "Indicators stored, by type.",
    );
    for (kind, n) in &stats.indicators_by_type {
        let _ = writeln!(out, "rexist_indicators{{type=\"{}\"}} {n}", label(kind));
    }
    header_lines(&mut out, "rexist_items", "gauge", "Items stored, by kind.");
    for (kind, n) in &stats.items_by_kind {
        let _ = writeln!(out, "rexist_items{{kind=\"{}\"}} {n}", label(kind));
    }
    header_lines(&mut out, "rexist_sightings", "gauge", "Sightings stored.");
    let _ = writeln!(out, "rexist_sightings {}", stats.sightings);
    header_lines(&mut out, "rexist_sources", "gauge", "Sources registered.");
    let _ = writeln!(out, "rexist_sources {}", stats.sources);
    header_lines(
        &mut out,
        "rexist_jobs_pending",
        "gauge",
        "Jobs queued or running.",
    );
    let _ = writeln!(out, "rexist_jobs_pending {}", stats.jobs_pending);
    header_lines(
        &mut out,
        "rexist_source_consecutive_failures",
        "gauge",
        "Failed runs of a source since its last success.",
    );
    for s in &sources {
        let _ = writeln!(
            out,
            "rexist_source_consecutive_failures{{source=\"{}\"}} {}",
            label(&s.name),
            s.health.consecutive_failures
        );
    }
    header_lines(
        &mut out,
        "rexist_source_last_success_timestamp_seconds",
        "gauge",
        "End of the last successful run of a source, Unix time.",
    );
    for s in &sources {
        if let Some(t) = s.health.last_success_at {
            let _ = writeln!(
                out,
                "rexist_source_last_success_timestamp_seconds{{source=\"{}\"}} {}",
                label(&s.name),
                t.unix_timestamp()
            );
        }
    }
    header_lines(
        &mut out,
        "rexist_source_stale",
        "gauge",
        "1 when a source has run but not succeeded within twice its schedule.",
    );
    let at = rexist_core::model::now();
    for s in &sources {
        if let Some(every) = state.schedules.get(&s.name) {
            let stale = u8::from(s.enabled && s.health.is_stale(*every, at));
            let _ = writeln!(
                out,
                "rexist_source_stale{{source=\"{}\"}} {stale}",
                label(&s.name)
            );
        }
    }
    match state.store.channel_health().await {
        Ok(channels) => {
            header_lines(
                &mut out,
                "rexist_alerts",
                "gauge",
                "Alerts in the outbox, by channel and state.",
            );
            for c in &channels {
                for (status, n) in [
                    ("pending", c.pending),
                    ("sent", c.sent),
                    ("failed", c.failed),
                ] {
                    let _ = writeln!(
                        out,
                        "rexist_alerts{{channel=\"{}\",status=\"{status}\"}} {n}",
                        label(&c.channel)
                    );
                }
            }
            header_lines(
                &mut out,
                "rexist_channel_failing",
                "gauge",
                "1 when a channel's last delivery attempt failed and none succeeded since.",
            );
            for c in &channels {
                let _ = writeln!(
                    out,
                    "rexist_channel_failing{{channel=\"{}\"}} {}",
                    label(&c.channel),
                    u8::from(c.last_error.is_some())
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: channel health failed"),
    }
    header_lines(
        &mut out,
        "rexist_http_responses_total",
        "counter",
        "HTTP responses sent, by status class.",
    );
    for (i, counter) in state.requests.by_class.iter().enumerate() {
        let _ = writeln!(
            out,
            "rexist_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            counter.load(Ordering::Relaxed)
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
