//! Arbitrary bytes never panic any parser: they parse, or fail with an error.

use proptest::prelude::*;
use rexist_formats::{exploitdb, html, kev, misp, nvd, rss};

/// Bytes biased toward each format's syntax so the parsers get past the
/// first character now and then.
fn body(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(prop::sample::select(seeds), 0..8),
    )
        .prop_map(|(head, noise, tail)| {
            let mut out = head.as_bytes().to_vec();
            out.extend(noise);
            for t in tail {
                out.extend_from_slice(t.as_bytes());
            }
            out
        })
}

const JSON: &[&str] = &[
    "{\"response\":[{\"Event\":{\"uuid\":\"u\",\"Attribute\":[{\"type\":\"ip-dst|port\",\"value\":\"",
    "{\"vulnerabilities\":[{\"cve\":{\"id\":\"CVE-2021-1\"}}],\"totalResults\":",
    "{\"catalogVersion\":\"1\",\"vulnerabilities\":[{\"cveID\":\"",
    "\"}]}}]}",
    "[",
    "{",
    "null",
    "\"timestamp\":\"99999999999999999999\"",
];

const XML: &[&str] = &[
    "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>",
    "<rss><channel><item><title>",
    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><content type=\"xhtml\">",
    "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><item>",
    "</title></item>",
    "&amp;&#x0;&#99999999;&nbsp;",
    "<![CDATA[<p>x</p>]]>",
];

const CSV: &[&str] = &[
    "id,file,description,date_published,author,type,platform,port,date_added,date_updated,verified,codes,tags,aliases,screenshot_url,application_url,source_url\n",
    "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n",
    "1,a,\"b\"\"c\",2025-01-01,,,,,,,1,CVE-2021-44228;X,,,,,\n",
    "\"unterminated",
    "\n\n,,,\r\n",
];

proptest! {
    #[test]
    fn misp_never_panics(b in body(JSON)) {
        let _ = misp::parse_events(&b);
        let _ = misp::parse_manifest(&b);
        let _ = misp::parse_hashes(&b);
    }

    #[test]
    fn nvd_never_panics(b in body(JSON)) {
        let _ = nvd::parse_page(&b);
    }

    #[test]
    fn kev_never_panics(b in body(JSON), c in body(CSV)) {
        let _ = kev::parse_json(&b);
        let _ = kev::parse_csv(&c);
    }

    #[test]
    fn exploitdb_never_panics(c in body(CSV)) {
        let _ = exploitdb::parse_csv(&c);
    }

    #[test]
    fn rss_never_panics(b in body(XML)) {
        let _ = rss::parse(&b);
    }

    #[test]
    fn html_never_panics(s in "(<[a-z/!]{0,3}|&#?[a-z0-9]{0,6};?|[^<&]{0,8}|<script>|</script|<!--){0,40}") {
        let _ = html::to_text(&s);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = "<a>".repeat(100_000);
    assert!(rss::parse(deep.as_bytes()).is_err());
    let deep_json = "[".repeat(100_000);
    assert!(misp::parse_events(deep_json.as_bytes()).is_err());
}
