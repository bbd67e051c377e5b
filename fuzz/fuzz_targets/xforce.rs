//! IBM X-Force Exchange case files, vulnerabilities and entitlement errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::xforce;

fuzz_target!(|data: &[u8]| {
    let _ = xforce::parse_casefiles(data);
    let _ = xforce::parse_vulnerabilities(data);
    let _ = xforce::entitlement_error(data);
});
