//! Arbitrary bytes never panic the OTX, ThreatConnect, X-Force and social
//! parsers: they parse, or fail with an error.

use proptest::prelude::*;
use rexist_formats::{otx, social, threatconnect, xforce};

fn body(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(any::<u8>(), 0..128),
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
    "{\"results\":[{\"id\":\"p\",\"indicators\":[{\"type\":\"IPv4\",\"indicator\":\"",
    "{\"status\":\"Success\",\"data\":[{\"id\":1,\"type\":\"File\",\"summary\":\"",
    "{\"rows\":[{\"xfdbid\":1,\"stdcode\":[\"CVE-",
    "{\"casefiles\":[{\"caseFileID\":\"",
    "[{\"id\":\"1\",\"content\":\"<p>",
    "{\"posts\":[{\"uri\":\"at://",
    "{\"data\":[{\"id\":\"1\",\"text\":\"",
    "\"}]}]}",
    "\"rating\":1e999,\"confidence\":-5",
    "[",
    "{",
    "null",
];

proptest! {
    #[test]
    fn parsers_never_panic(b in body(JSON)) {
        let _ = otx::parse_pulses(&b);
        let _ = otx::parse_indicator_export(&b);
        let _ = threatconnect::parse_indicators(&b);
        let _ = threatconnect::parse_groups(&b);
        let _ = xforce::parse_casefiles(&b);
        let _ = xforce::parse_vulnerabilities(&b);
        let _ = xforce::entitlement_error(&b);
        let _ = social::parse_mastodon(&b);
        let _ = social::parse_bluesky(&b);
        let _ = social::parse_x(&b);
    }

    #[test]
    fn link_header_never_panics(s in "(<[^>]{0,20}>?|; ?rel=\"?(next|prev)\"?|,|[^<>,]{0,10}){0,10}") {
        let _ = social::parse_link_header(&s);
        let _ = social::bluesky_web_url(&s, "h");
    }
}
