//! Parsers for the upstream formats rexist reads: bytes in, records out.
//!
//! Each module turns one upstream format into [`rexist_core::Record`]s (items
//! with their stated indicators, relations) plus [`rexist_core::Rejected`]
//! values for the parts that could not be used, and exposes what a connector
//! needs to pull incrementally (MISP event timestamps, NVD paging, the KEV
//! catalogue version, the highest Exploit-DB id). Parsers return
//! [`rexist_core::ItemRecord`]s; the connector wraps each in
//! [`rexist_core::Record::Item`].
//!
//! Modules: [`misp`] (events, feed manifest, `hashes.csv`), [`rss`] (RSS 2.0,
//! RSS 1.0/RDF, Atom, JVN/JPCERT RDF), [`nvd`] (CVE API 2.0), [`kev`] (CISA
//! KEV, JSON and CSV), [`exploitdb`] (`files_exploits.csv`), [`html`] (HTML to
//! plain text), [`otx`] (OTX pulse pages, indicator export),
//! [`threatconnect`] (v3 indicators and groups, HMAC signing), [`xforce`]
//! (X-Force casefiles, vulnerabilities, entitlement errors), [`social`]
//! (Mastodon, Bluesky, X posts). MyJVN `getVulnOverviewList` is not written
//! yet.
//!
//! What it refuses: any I/O. No sockets, no files, no async, no clocks except
//! where a record has no time of its own. Fetching, caps and retries belong to
//! `rexist-connectors`, which calls these parsers on fetched bodies.
//!
//! Two kinds of failure, kept apart on purpose (STYLE.md, "Errors"):
//! - a body that is not the format at all (truncated JSON, XML that is not
//!   well-formed, bytes that are not the declared encoding) is an
//!   [`Err`]`(`[`FormatError`]`)` naming where it broke;
//! - a bad record inside a good body (a CSV row with the wrong field count, an
//!   event without a uuid) is a [`rexist_core::Rejected`] value next to the
//!   good records, so one bad row never sinks a feed.
//!
//! Where to start: [`misp::parse_events`] for MISP restSearch pages and feed
//! event files.

mod csv_rows;
mod dates;
pub mod error;
pub mod exploitdb;
pub mod html;
pub mod jvn;
pub mod kev;
pub mod misp;
pub mod nvd;
pub mod otx;
pub mod rss;
pub mod social;
pub mod threatconnect;
pub mod xforce;
mod xml;

pub use error::FormatError;
