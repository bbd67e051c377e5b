//! IBM X-Force Exchange (INTERFACES.md §3): one run reads public case files,
//! case files shared with the account (their text searched for indicators; a
//! case file stored unchanged is left alone), then vulnerabilities reported
//! in the window from where the last run's ended to now (a first run looks
//! back 30 days), paged by `bookmark` until `total_rows` are read.
//!
//! X-Force answers 402 or 403 for an endpoint the account's tier does not
//! include: that endpoint is skipped, recorded on the run ("shared case
//! files: not entitled (HTTP 402)"), not retried, and the others still run;
//! the run is a success when everything it is entitled to was stored. An
//! account entitled to none of the three fails. The vulnerability window
//! moves only when vulnerabilities were read to the end, so an endpoint
//! skipped today loses nothing once the tier includes it.

use rexist_core::Record;
use rexist_core::model::now;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::contract::Expect;
use crate::engine::{Page, Refusal, Request, RunContext, Upstream, encode_query, rfc3339};
use crate::http::{Body, FetchError};

/// How far back a first run reads vulnerabilities.
const FIRST_RUN: time::Duration = time::Duration::days(30);

/// An X-Force account's case files and vulnerability feed.
#[derive(Debug, Clone)]
pub struct XForce {
    /// API base (`https://api.xforce.ibmcloud.com`, or with `/api`).
    pub url: String,
}

/// Where the last run's vulnerability window ended. Same field as the cursor
/// of earlier versions (`{"vulns_until": "…"}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct XForceCursor {
    /// End of the last vulnerability window read to its end.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub vulns_until: Option<OffsetDateTime>,
}

/// Which endpoint a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/casefiles/public`.
    PublicCaseFiles,
    /// `/casefiles/shared`.
    SharedCaseFiles,
    /// `/vulnerabilities/fulltext`.
    Vulnerabilities,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::PublicCaseFiles => "public case files",
            Self::SharedCaseFiles => "shared case files",
            Self::Vulnerabilities => "vulnerabilities",
        }
    }

    /// The endpoint read after this one.
    fn next(self) -> Option<Self> {
        match self {
            Self::PublicCaseFiles => Some(Self::SharedCaseFiles),
            Self::SharedCaseFiles => Some(Self::Vulnerabilities),
            Self::Vulnerabilities => None,
        }
    }
}

/// Where a request stands in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfStep {
    /// The endpoint read.
    pub endpoint: Endpoint,
    /// This run's vulnerability window (from, until), fixed when it starts.
    pub window: (OffsetDateTime, OffsetDateTime),
    /// Vulnerability rows read so far (against `total_rows`).
    pub read: u64,
    /// Endpoints skipped so far as not entitled.
    pub skipped: u8,
}

impl XForce {
    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    /// A request of this run at `step`: the first page of its endpoint, or
    /// the vulnerability page after `bookmark`.
    fn request(&self, step: XfStep, bookmark: Option<&str>) -> Request<XfStep> {
        let base = self.base();
        let url = match step.endpoint {
            Endpoint::PublicCaseFiles => format!("{base}/casefiles/public"),
            Endpoint::SharedCaseFiles => format!("{base}/casefiles/shared"),
            Endpoint::Vulnerabilities => {
                let (from, until) = step.window;
                let mut url = format!(
                    "{base}/vulnerabilities/fulltext?q={}&startDate={}&endDate={}",
                    encode_query("*"),
                    encode_query(&rfc3339(from)),
                    encode_query(&rfc3339(until))
                );
                if let Some(b) = bookmark {
                    url = format!("{url}&bookmark={}", encode_query(b));
                }
                url
            }
        };
        Request::get(url, Expect::Json, step).header("Accept", "application/json")
    }

    /// The first request of the endpoint after `step`'s, if any.
    fn after(&self, step: XfStep, skipped: u8) -> Option<Request<XfStep>> {
        let endpoint = step.endpoint.next()?;
        Some(self.request(
            XfStep {
                endpoint,
                read: 0,
                skipped,
                ..step
            },
            None,
        ))
    }
}

/// Most vulnerability pages one run reads (as before the engine).
const MAX_PAGES: u32 = 1000;

impl Upstream for XForce {
    type Cursor = XForceCursor;
    type Step = XfStep;

    fn max_requests(&self) -> u32 {
        2 + MAX_PAGES
    }

    fn first(
        &self,
        _: &RunContext<'_>,
        cursor: &mut XForceCursor,
    ) -> Result<Request<XfStep>, String> {
        let until = now();
        let from = cursor.vulns_until.unwrap_or(until - FIRST_RUN);
        let step = XfStep {
            endpoint: Endpoint::PublicCaseFiles,
            window: (from, until),
            read: 0,
            skipped: 0,
        };
        Ok(self.request(step, None))
    }

    fn page(
        &self,
        answer: &Body,
        request: &Request<XfStep>,
        cursor: &mut XForceCursor,
    ) -> Result<Page<XfStep>, String> {
        let step = request.step;
        let named = |e: rexist_formats::FormatError| format!("{}: {e}", step.endpoint.name());
        if step.endpoint != Endpoint::Vulnerabilities {
            let c = rexist_formats::xforce::parse_casefiles(&answer.bytes).map_err(named)?;
            return Ok(Page {
                records: c.records.into_iter().map(Record::Item).collect(),
                rejected: c.rejected,
                retractions: Vec::new(),
                next: self.after(step, step.skipped),
                checkpoint: false,
            });
        }
        let v = rexist_formats::xforce::parse_vulnerabilities(&answer.bytes).map_err(named)?;
        let read = step.read + (v.records.len() + v.rejected.len()) as u64;
        // X-Force keeps returning a bookmark on the last page: an empty page
        // or `total_rows` read ends the window.
        let done =
            v.records.is_empty() && v.rejected.is_empty() || v.total_rows.is_none_or(|t| read >= t);
        let next = match v.bookmark {
            Some(b) if !done => Some(self.request(XfStep { read, ..step }, Some(&b))),
            _ => {
                cursor.vulns_until = Some(step.window.1);
                None
            }
        };
        Ok(Page {
            records: v.records.into_iter().map(Record::Item).collect(),
            rejected: v.rejected,
            retractions: Vec::new(),
            next,
            checkpoint: false,
        })
    }

    fn refused(&self, error: &FetchError, request: &Request<XfStep>) -> Refusal<XfStep> {
        let step = request.step;
        let FetchError::Status {
            status: status @ (402 | 403),
            ..
        } = error
        else {
            return Refusal::Fail;
        };
        // Past an endpoint's first page a refusal is not about the tier; and
        // an account entitled to none of the three is a failed run, not an
        // empty success.
        if step.read > 0 || (step.endpoint.next().is_none() && step.skipped >= 2) {
            return Refusal::Fail;
        }
        Refusal::Skip {
            note: format!("{}: not entitled (HTTP {status})", step.endpoint.name()),
            next: self.after(step, step.skipped + 1),
        }
    }
}

/// The keys of a `kind = "xforce"` source table: the API key as `username`
/// and its password in `password_env` or `password_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// User name of HTTP basic authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the basic-auth password.
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
    /// Environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding a bearer token.
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
}

impl Params {
    /// Basic or bearer authentication from the keys; the error names them.
    pub fn auth(&self) -> Result<Option<crate::source::HttpAuth>, String> {
        crate::source::http_auth(
            self.username.as_deref(),
            (self.password_env.as_deref(), self.password_file.as_deref()),
            (self.token_env.as_deref(), self.token_file.as_deref()),
        )
    }
}
