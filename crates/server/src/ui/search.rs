//! UI pages: search (see the module list in `ui/mod.rs`).

use axum::Router;

use crate::AppState;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
