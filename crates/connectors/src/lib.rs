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

pub mod bluesky;
pub mod contract;
pub mod documents;
pub mod engine;
pub mod feed;
pub mod http;
pub mod jvn;
pub mod lists;
pub mod mastodon;
pub mod misp;
pub mod misp_feed;
pub mod nvd;
pub mod otx;
pub mod search;
pub mod source;
pub mod taxii;
pub mod threatconnect;
pub mod x;
pub mod xforce;

use engine::{Connector, Paged};
use source::{Params, ResolvedSource};

/// The connector of a configured source: one line per kind. The match is
/// exhaustive, so a new kind cannot be forgotten here.
pub fn connector(config: &ResolvedSource) -> Box<dyn Connector> {
    let url = config.url.clone();
    let document = |kind| {
        Box::new(Paged(documents::Document {
            url: url.clone(),
            kind,
        }))
    };
    match &config.params {
        Params::Text(_) | Params::Csv(_) | Params::Json(_) | Params::Ndjson(_) => {
            // `resolve` built the list once already: it cannot fail here.
            match config.list() {
                Some(list) => Box::new(list),
                None => Box::new(lists::List {
                    url,
                    format: feed::FeedFormat::new(feed::Layout::Lines),
                    snapshot: false,
                    limits: contract::SnapshotLimits::default(),
                }),
            }
        }
        Params::Rss(_) => document(documents::Kind::Rss),
        Params::Kev(_) => document(documents::Kind::Kev),
        Params::ExploitDb(_) => document(documents::Kind::ExploitDb),
        Params::Nvd(p) => Box::new(Paged(nvd::Nvd {
            url,
            page_size: p.page_size(nvd::PAGE_SIZE),
        })),
        Params::Jvn(p) => Box::new(Paged(jvn::MyJvn {
            url,
            page_size: p.page_size(jvn::PAGE_SIZE),
        })),
        Params::MispFeed(_) => Box::new(Paged(misp_feed::MispFeed { url })),
        Params::Misp(p) => Box::new(Paged(misp::Misp {
            url,
            page_size: p.page_size(misp::PAGE_SIZE),
        })),
        Params::Otx(p) => Box::new(Paged(p.upstream(url))),
        Params::Mastodon(p) => Box::new(Paged(mastodon::Mastodon {
            url,
            page_size: p.page_size(mastodon::PAGE_SIZE),
        })),
        Params::Bluesky(p) => Box::new(Paged(bluesky::Bluesky {
            url,
            page_size: p.page_size(),
            search: p.search(),
        })),
        Params::X(p) => Box::new(Paged(x::X {
            url,
            page_size: p.page_size(),
            search: p.search(),
        })),
        Params::ThreatConnect(p) => Box::new(Paged(p.upstream(url))),
        Params::Taxii(p) => Box::new(Paged(p.upstream(url))),
        Params::XForce(_) => Box::new(Paged(xforce::XForce { url })),
    }
}
