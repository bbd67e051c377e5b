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
use source::{Parser, ResolvedSource};

/// The connector of a configured source: one line per upstream. The match
/// is exhaustive, so a new kind cannot be forgotten here.
pub fn connector(config: &ResolvedSource) -> Box<dyn Connector> {
    let url = config.url.clone();
    match &config.parser {
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
        Parser::Mastodon => Box::new(Paged(mastodon::Mastodon {
            url,
            page_size: config.page_size,
        })),
        Parser::Bluesky => Box::new(Paged(bluesky::Bluesky {
            url,
            page_size: config.page_size,
            search: search::Search {
                query: config.query.clone(),
                from_hunts: config.query_from_hunts,
            },
        })),
        Parser::X => Box::new(Paged(x::X {
            url,
            page_size: config.page_size,
            search: search::Search {
                query: config.query.clone(),
                from_hunts: config.query_from_hunts,
            },
        })),
        Parser::ThreatConnect => Box::new(Paged(threatconnect::ThreatConnect::new(
            url,
            config.page_size,
            config.owner.clone(),
            config.signing.clone(),
        ))),
        Parser::XForce => Box::new(Paged(xforce::XForce { url })),
        Parser::Nvd => Box::new(Paged(nvd::Nvd {
            url,
            page_size: config.page_size,
        })),
        Parser::MyJvn => Box::new(Paged(jvn::MyJvn {
            url,
            page_size: config.page_size,
        })),
        Parser::Misp => Box::new(Paged(misp::Misp {
            url,
            page_size: config.page_size,
        })),
        Parser::MispFeed => Box::new(Paged(misp_feed::MispFeed { url })),
        Parser::Taxii => Box::new(Paged(taxii::Taxii {
            url,
            collection: config.collection.clone().unwrap_or_default(),
            page_size: config.page_size,
            stix_types: config.stix_types.clone(),
        })),
    }
}
