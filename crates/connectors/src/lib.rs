//! rexist's collection layer: fetching upstream data safely and turning it
//! into records. A connector knows only its upstream protocol; it never writes
//! to the store (the pipeline's sink does).
//!
//! Start with [`engine`] (the one pull loop and the [`engine::Upstream`]
//! trait a paged upstream implements), [`contract`] (what a trustworthy
//! answer is and how a run ends) and [`connector`] (the registry: one line
//! per upstream). Adding a paged upstream is one module implementing
//! [`engine::Upstream`], one line in [`connector`], its `[[source]]` kind in
//! [`source`], its fixtures and its line in the compliance harness
//! (`crates/pipeline/tests/it/compliance.rs`).

pub mod contract;
pub mod documents;
pub mod engine;
pub mod feed;
pub mod http;
pub mod lists;
pub mod otx;
pub mod source;

use engine::{Connector, Paged};
use source::{Parser, ResolvedSource};

/// The connector of a configured source: one line per upstream. `None` for
/// kinds still run by the pipeline's own loop.
pub fn connector(config: &ResolvedSource) -> Option<Box<dyn Connector>> {
    let url = config.url.clone();
    Some(match &config.parser {
        Parser::Feed(format) => Box::new(lists::List {
            url,
            format: format.clone(),
            snapshot: config.snapshot,
            limits: config.limits,
        }),
        Parser::Rss => Box::new(Paged(documents::Document {
            url,
            kind: documents::Kind::Rss,
        })),
        Parser::Kev => Box::new(Paged(documents::Document {
            url,
            kind: documents::Kind::Kev,
        })),
        Parser::ExploitDb => Box::new(Paged(documents::Document {
            url,
            kind: documents::Kind::ExploitDb,
        })),
        Parser::Otx => Box::new(Paged(otx::Otx {
            url,
            page_size: config.page_size,
            users: config.otx_users.clone(),
        })),
        _ => return None,
    })
}
