//! Upstreams that publish one whole document of items, fetched
//! conditionally: RSS 2.0 / RSS 1.0 (RDF) / Atom news, the CISA KEV
//! catalogue, Exploit-DB's `files_exploits.csv`.

use rexist_core::{ItemRecord, Record, Rejected};

use crate::contract::Expect;
use crate::engine::{Page, Request, RunContext, Upstream};
use crate::http::{Body, Validators};

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RSS 2.0, RSS 1.0 (RDF) or Atom: articles whose text is searched for indicators.
    Rss,
    /// The CISA KEV catalogue (JSON, or CSV when the body is not JSON).
    Kev,
    /// Exploit-DB `files_exploits.csv`.
    ExploitDb,
}

/// A one-document upstream.
#[derive(Debug, Clone)]
pub struct Document {
    /// Where the document is.
    pub url: String,
    /// Which document it is.
    pub kind: Kind,
}

impl Document {
    fn parse(&self, bytes: &[u8]) -> Result<(Vec<ItemRecord>, Vec<Rejected>), String> {
        let parsed = match self.kind {
            Kind::Rss => rexist_formats::rss::parse(bytes).map(|f| (f.records, f.rejected)),
            Kind::Kev if bytes.trim_ascii_start().starts_with(b"{") => {
                rexist_formats::kev::parse_json(bytes).map(|c| (c.records, c.rejected))
            }
            // The CSV form is a text document: one cut short is not trusted
            // (the JSON form's truncation is a parse error).
            Kind::Kev if crate::contract::text_truncated(bytes) => {
                return Err(crate::contract::Untrusted::cut_line().to_string());
            }
            Kind::Kev => rexist_formats::kev::parse_csv(bytes).map(|c| (c.records, c.rejected)),
            Kind::ExploitDb => {
                rexist_formats::exploitdb::parse_csv(bytes).map(|e| (e.records, e.rejected))
            }
        };
        parsed.map_err(|e| e.to_string())
    }
}

impl Upstream for Document {
    type Cursor = Validators;
    type Step = ();

    fn first(&self, _: &RunContext<'_>, cursor: &mut Validators) -> Result<Request<()>, String> {
        let expect = match self.kind {
            Kind::Rss => Expect::Xml,
            Kind::Kev => Expect::Any,
            Kind::ExploitDb => Expect::Text,
        };
        let mut request = Request::get(self.url.clone(), expect, ());
        request.validators = Some(cursor.clone());
        Ok(request)
    }

    fn page(
        &self,
        answer: &Body,
        _: &Request<()>,
        cursor: &mut Validators,
    ) -> Result<Page<()>, String> {
        let (records, rejected) = self.parse(&answer.bytes)?;
        cursor.clone_from(&answer.validators);
        Ok(Page {
            records: records.into_iter().map(Record::Item).collect(),
            rejected,
            retractions: Vec::new(),
            next: None,
            checkpoint: true,
        })
    }
}
