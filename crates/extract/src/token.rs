//! Single-token indicators: hashes, bitcoin addresses, CVE ids, AS numbers.
//!
//! Pure functions over bytes; the scanner decides where a token starts and whether its
//! context allows it.

use crate::IocType;

/// The hash type of a hex string of `len` digits.
pub(crate) fn hash_kind(len: usize) -> Option<IocType> {
    match len {
        32 => Some(IocType::Md5),
        40 => Some(IocType::Sha1),
        64 => Some(IocType::Sha256),
        128 => Some(IocType::Sha512),
        _ => None,
    }
}

/// Whether `s` looks like a digest: hex, one case, digits and letters both present.
///
/// A run of only digits is a number, only letters a word (`deadbeef…`) and mixed case
/// a base64 fragment; real digests are none of these.
pub(crate) fn plausible_digest(s: &[u8]) -> bool {
    // Branch-free: in a digest, digit and letter alternate at random, so a `match` per
    // byte mispredicts about every other byte (a twentieth of the whole scan's time).
    let mut seen = 0u8;
    for &c in s {
        seen |= DIGEST_CLASS[usize::from(c)];
    }
    seen & OTHER == 0 && seen & DIGIT != 0 && (seen & LOWER != 0) != (seen & UPPER != 0)
}

const DIGIT: u8 = 1;
const LOWER: u8 = 2;
const UPPER: u8 = 4;
const OTHER: u8 = 8;

#[allow(clippy::cast_possible_truncation)] // i < 256
const fn digest_classes() -> [u8; 256] {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match i as u8 {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' => LOWER,
            b'A'..=b'F' => UPPER,
            _ => OTHER,
        };
        i += 1;
    }
    t
}

/// What each byte is to [`plausible_digest`].
static DIGEST_CLASS: [u8; 256] = digest_classes();

/// Whether `c` is a hyphen a CVE id may be written with (ASCII or Unicode dash).
fn dash_len(s: &str) -> Option<usize> {
    let c = s.chars().next()?;
    match c {
        '-' | '_' | ' ' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}'
        | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => Some(c.len_utf8()),
        _ => None,
    }
}

/// A CVE id starting at `start` (which holds `CVE` in any case): its canonical value and
/// end. Accepts Unicode dashes, `_` and single spaces as separators (`CVE 2021 44228`).
pub(crate) fn parse_cve(text: &str, start: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    if !b.get(start..start + 3)?.eq_ignore_ascii_case(b"cve") {
        return None;
    }
    let mut p = start + 3;
    p += dash_len(text.get(p..)?)?;
    let year = b.get(p..p + 4)?;
    // CVE ids begin in 1999 (core refuses earlier years)
    if !year.iter().all(u8::is_ascii_digit) || !(year == b"1999" || year.starts_with(b"20")) {
        return None;
    }
    let year_start = p;
    p += 4;
    p += dash_len(text.get(p..)?)?;
    let id_start = p;
    while p < b.len() && b[p].is_ascii_digit() && p - id_start < 9 {
        p += 1;
    }
    let id_len = p - id_start;
    if !(4..=8).contains(&id_len) || b.get(p).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    // pushed, not `format!`: the formatting machinery was most of a CVE's cost
    let mut value = String::with_capacity(9 + p - id_start);
    value.push_str("CVE-");
    value.push_str(&text[year_start..year_start + 4]);
    value.push('-');
    value.push_str(&text[id_start..p]);
    Some((value, p))
}

/// An AS number starting at `start`: `AS9009`, `ASN 64512`, `asn:1234`, `AS-1234`.
/// Bare `AS` must be upper case (`As of 2024` is prose) unless digits follow it at once
/// (`as14061`); `ASN` may be any case.
pub(crate) fn parse_asn(b: &[u8], start: usize) -> Option<(String, usize)> {
    let head = b.get(start..start + 2)?;
    // `as14061`: any case when the digits follow at once
    let glued =
        head.eq_ignore_ascii_case(b"as") && b.get(start + 2).is_some_and(u8::is_ascii_digit);
    if head != b"AS" && !glued && !b.get(start..start + 3)?.eq_ignore_ascii_case(b"asn") {
        return None;
    }
    let mut p = start + 2;
    if b.get(p).is_some_and(|c| c.eq_ignore_ascii_case(&b'n')) {
        p += 1;
    }
    if matches!(b.get(p), Some(b':')) {
        p += 1;
    }
    if matches!(b.get(p), Some(b' ' | b'-' | b'#')) {
        p += 1;
    }
    let digits_start = p;
    while p < b.len() && b[p].is_ascii_digit() && p - digits_start <= 10 {
        p += 1;
    }
    let digits = b.get(digits_start..p)?;
    if digits.is_empty() || digits.len() > 10 || digits[0] == b'0' {
        return None;
    }
    if b.get(p)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'/')
        || (b.get(p) == Some(&b'.') && b.get(p + 1).is_some_and(u8::is_ascii_digit))
    {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if n > u64::from(u32::MAX) {
        return None;
    }
    Some((format!("AS{n}"), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_need_one_case_and_digits() {
        assert!(plausible_digest(b"d41d8cd98f00b204e9800998ecf8427e"));
        assert!(plausible_digest(b"D41D8CD98F00B204E9800998ECF8427E"));
        assert!(!plausible_digest(b"D41d8cd98f00b204e9800998ecf8427e"));
        assert!(!plausible_digest(b"12345678901234567890123456789012"));
        assert!(!plausible_digest(b"deadbeefdeadbeefdeadbeefdeadbeef"));
        assert_eq!(hash_kind(40), Some(IocType::Sha1));
        assert_eq!(hash_kind(48), None);
    }

    #[test]
    fn cve_forms() {
        let t = "CVE-2021-44228 x";
        assert_eq!(parse_cve(t, 0), Some(("CVE-2021-44228".into(), 14)));
        assert_eq!(parse_cve("cve-2024-3400", 0).unwrap().0, "CVE-2024-3400");
        assert_eq!(parse_cve("CVE 2021 44228", 0).unwrap().0, "CVE-2021-44228");
        assert_eq!(
            parse_cve("CVE\u{2011}2023\u{2011}34362", 0).unwrap().0,
            "CVE-2023-34362"
        );
        assert_eq!(
            parse_cve("CVE-2024-1234567", 0).unwrap().0,
            "CVE-2024-1234567"
        );
        assert_eq!(parse_cve("CVE-2021-1", 0), None);
        assert_eq!(parse_cve("CVE-1999-0001", 0).unwrap().0, "CVE-1999-0001");
        // found by fuzzing: no CVE year before 1999
        assert_eq!(parse_cve("CVE-1921-45046", 0), None);
        assert_eq!(parse_cve("CVE-2024 block", 0), None);
        assert_eq!(parse_cve("CVE-ID", 0), None);
        assert_eq!(parse_cve("CVE-2021-44228a", 0), None);
    }

    #[test]
    fn asn_forms() {
        assert_eq!(parse_asn(b"AS9009 ", 0), Some(("AS9009".into(), 6)));
        assert_eq!(parse_asn(b"ASN 64512", 0).unwrap().0, "AS64512");
        assert_eq!(parse_asn(b"asn:13335", 0).unwrap().0, "AS13335");
        assert_eq!(parse_asn(b"As of 2024", 0), None);
        assert_eq!(parse_asn(b"AS/400", 0), None);
        assert_eq!(parse_asn(b"AS0", 0), None);
        assert_eq!(parse_asn(b"AS99999999999", 0), None);
        assert_eq!(parse_asn(b"ASIA", 0), None);
    }
}
