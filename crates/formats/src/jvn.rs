//! MyJVN `getVulnOverviewList` (INTERFACES.md §6.12): RSS 1.0 (RDF) whose
//! items carry `sec:identifier` (the JVNDB id), `sec:references` (CVE ids),
//! `sec:cvss` and `sec:cpe`, and a `status:Status` element with the paging
//! counters (`totalRes`, `totalResRet`, `firstRes`) or an error (`errCd`,
//! `errMsg`). Each item becomes a vuln item carrying its CVE sightings.

use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Rejected, Tlp,
};

use crate::dates;
use crate::error::FormatError;
use crate::xml::{self, Element, ns};

const FORMAT: &str = "myjvn overview";
const SEC: &str = "http://jvn.jp/rss/mod_sec/3.0/";
const STATUS: &str = "http://jvndb.jvn.jp/myjvn/Status";

/// One page of `getVulnOverviewList`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JvnPage {
    /// Vulnerability items.
    pub records: Vec<ItemRecord>,
    /// Items that could not be read, with their place.
    pub rejected: Vec<Rejected>,
    /// `totalRes`: items matching the query.
    pub total: u64,
    /// `totalResRet`: items on this page.
    pub returned: u64,
    /// `firstRes`: 1-based position of this page's first item.
    pub first: u64,
}

impl JvnPage {
    /// `startItem` of the next page, if there is one.
    pub fn next_start(&self) -> Option<u64> {
        let next = self.first.saturating_add(self.returned);
        (self.returned > 0 && next <= self.total).then_some(next)
    }
}

fn number(status: &Element, name: &str) -> u64 {
    status
        .attr(None, name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Parses one page; an error status (`errCd`) is an [`FormatError::Upstream`].
pub fn parse_overview(body: &[u8]) -> Result<JvnPage, FormatError> {
    let root = xml::parse(FORMAT, body)?;
    let mut page = JvnPage::default();
    if let Some(status) = root.elements().find(|e| e.is(Some(STATUS), "Status")) {
        let code = status.attr(None, "errCd").unwrap_or_default().trim();
        if !code.is_empty() {
            let message: String = status
                .attr(None, "errMsg")
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(FormatError::Upstream {
                format: FORMAT,
                code: code.to_owned(),
                message,
            });
        }
        page.total = number(status, "totalRes");
        page.returned = number(status, "totalResRet");
        page.first = number(status, "firstRes");
    }
    let lang = root
        .attr(Some(ns::XML), "lang")
        .map(|l| l.split('-').next().unwrap_or(l).to_ascii_lowercase());
    for (i, item) in root
        .elements()
        .filter(|e| e.is(Some(ns::RSS1), "item"))
        .enumerate()
    {
        match read_item(item, lang.as_deref()) {
            Ok(record) => page.records.push(record),
            Err(reason) => page
                .rejected
                .push(Rejected::new(format!("item {}", i + 1), reason)),
        }
    }
    Ok(page)
}

fn read_item(item: &Element, lang: Option<&str>) -> Result<ItemRecord, String> {
    let id = item
        .child_text(Some(SEC), "identifier")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "missing sec:identifier".to_owned())?;
    let title = item.child_text(Some(ns::RSS1), "title").unwrap_or_default();
    let published = item
        .child_text(Some(ns::DCTERMS), "issued")
        .or_else(|| item.child_text(Some(ns::DC), "date"))
        .and_then(|t| dates::any(&t));
    let modified = item.child_text(Some(ns::DCTERMS), "modified");
    let mut sightings = Vec::new();
    let mut references = Vec::new();
    for r in item.all(Some(SEC), "references") {
        let ref_id = r.attr(None, "id").unwrap_or_default().trim().to_owned();
        references.push(serde_json::json!({
            "source": r.attr(None, "source"), "id": ref_id, "url": r.text().trim(),
        }));
        if ref_id.to_ascii_uppercase().starts_with("CVE-") {
            if let Ok(cve) = Indicator::parse(IndicatorType::Cve, &ref_id) {
                sightings.push(NewSighting::new(cve, published.unwrap_or_else(now)));
            }
        }
    }
    let cvss: Vec<serde_json::Value> = item
        .all(Some(SEC), "cvss")
        .map(|c| {
            serde_json::json!({
                "version": c.attr(None, "version"), "score": c.attr(None, "score"),
                "severity": c.attr(None, "severity"), "vector": c.attr(None, "vector"),
            })
        })
        .collect();
    let cpe: Vec<String> = item
        .all(Some(SEC), "cpe")
        .map(|c| c.text().trim().to_owned())
        .collect();
    Ok(ItemRecord {
        item: NewItem {
            kind: ItemKind::Vuln,
            external_id: id,
            title,
            body: item
                .child_text(Some(ns::RSS1), "description")
                .unwrap_or_default(),
            url: item.child_text(Some(ns::RSS1), "link"),
            lang: lang.map(str::to_owned),
            published_at: published,
            tlp: Tlp::Clear,
            tags: Vec::new(),
            extra: serde_json::json!({ "cvss": cvss, "cpe": cpe, "references": references, "modified": modified }),
        },
        sightings,
        relations: Vec::new(),
        extract: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/news/myjvn")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn pages_items_cves_and_paging() {
        let page = parse_overview(&fixture("getVulnOverviewList-page1.xml")).unwrap();
        assert_eq!((page.total, page.returned, page.first), (3, 2, 1));
        assert_eq!(page.next_start(), Some(3));
        assert_eq!(page.records.len(), 2);
        let first = &page.records[0];
        assert_eq!(first.item.external_id, "JVNDB-2025-000001");
        assert_eq!(first.item.kind, ItemKind::Vuln);
        assert_eq!(first.item.lang.as_deref(), Some("ja"));
        assert!(first.item.title.contains("SQLインジェクション"));
        assert_eq!(first.sightings[0].indicator.value(), "CVE-2025-0001");
        assert_eq!(first.item.extra["cvss"][0]["score"], "8.8");
        let last = parse_overview(&fixture("getVulnOverviewList-page2.xml")).unwrap();
        assert_eq!(last.next_start(), None);
    }

    #[test]
    fn error_status_is_an_upstream_error() {
        let err = parse_overview(&fixture("getVulnOverviewList-error.xml")).unwrap_err();
        assert!(
            matches!(err, FormatError::Upstream { ref code, .. } if code == "1001"),
            "{err}"
        );
        assert!(parse_overview(b"<not xml").is_err());
    }
}
