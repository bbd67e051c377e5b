//! One list entry, checked and brought into the form the index compares.
//!
//! Upstream quirks handled here (see `INTERFACES.md` §1.6): hostname entries
//! may start with `.`, carry upper case or be IDNs (`.vakıfbank.com`); cidr
//! entries may be single addresses or upper-case IPv6 (`2001:DB8::/32`);
//! regex entries are PHP `preg_match` patterns with delimiters and flags
//! (`/^(security|noc)\@.*$/i`).

use std::net::IpAddr;

use rexist_core::{IndicatorType, canonicalize};

use crate::list::ListKind;

/// An entry ready for the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `string`: the entry, ASCII lower-case.
    Exact(String),
    /// `substring`: the entry, ASCII lower-case (matching ignores ASCII case).
    Substring(String),
    /// `hostname`: lower-case punycode without leading or trailing dots.
    Host(String),
    /// `cidr`: the network, host bits cleared.
    Network { addr: IpAddr, len: u8 },
    /// `regex`: a pattern for the `regex` crate.
    Pattern(String),
}

/// Why an entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadEntry(pub(crate) String);

/// Checks and normalises `raw` as an entry of a `kind` list.
///
/// `strict` (allow-lists from configuration) also refuses what upstream data
/// gets away with: a network with host bits set (`10.0.0.1/8`), which in a
/// hand-written list is more likely a typo than a network.
pub(crate) fn parse(kind: ListKind, raw: &str, strict: bool) -> Result<Entry, BadEntry> {
    let entry = raw.trim();
    if entry.is_empty() {
        return Err(BadEntry("empty entry".into()));
    }
    match kind {
        ListKind::String => Ok(Entry::Exact(entry.to_ascii_lowercase())),
        ListKind::Substring => Ok(Entry::Substring(entry.to_ascii_lowercase())),
        ListKind::Hostname => host(entry, strict).map(Entry::Host),
        ListKind::Cidr => network(entry, strict).map(|(addr, len)| Entry::Network { addr, len }),
        ListKind::Regex => {
            let pattern = translate_pcre(entry)?;
            // Compiled alone first so that one bad pattern is reported by
            // itself instead of failing the whole set.
            regex::Regex::new(&pattern).map_err(|e| BadEntry(regex_error(&e)))?;
            Ok(Entry::Pattern(pattern))
        }
    }
}

fn host(entry: &str, strict: bool) -> Result<String, BadEntry> {
    let mut h = entry.trim_matches('.');
    while let Some(rest) = h.strip_prefix("*.") {
        h = rest;
    }
    if h.is_empty() {
        return Err(BadEntry("empty host name".into()));
    }
    if let Ok(canonical) = canonicalize(IndicatorType::Domain, h) {
        return Ok(canonical);
    }
    if strict {
        // Allow-lists may name a single label (`corp`, `internal`) but not junk.
        let label_ok = h.len() <= 63
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label_ok {
            return Ok(h.to_ascii_lowercase());
        }
        let reason = canonicalize(IndicatorType::Domain, h)
            .err()
            .map_or_else(|| "not a host name".to_owned(), |e| e.reason());
        return Err(BadEntry(reason));
    }
    // Upstream entries that are not strict host names (single labels such as
    // TLDs, odd characters) are compared as written, lower-cased.
    Ok(h.to_ascii_lowercase())
}

/// Parses `addr` or `addr/len`; clears host bits unless `strict`.
pub(crate) fn network(entry: &str, strict: bool) -> Result<(IpAddr, u8), BadEntry> {
    let (addr, len) = match entry.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (entry, None),
    };
    let addr = addr.trim();
    let inner = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: IpAddr = inner
        .parse()
        .map_err(|_| BadEntry("not an IP address or network".into()))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => {
            let l = l.trim();
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BadEntry("prefix length is not a number".into()));
            }
            let l: u8 = l
                .parse()
                .map_err(|_| BadEntry("prefix length is not a number".into()))?;
            if l > max {
                return Err(BadEntry(format!("prefix length {l} is longer than {max}")));
            }
            l
        }
    };
    let masked = mask_ip(ip, len);
    if strict && masked != ip {
        return Err(BadEntry(format!(
            "host bits set (did you mean {masked}/{len}?)"
        )));
    }
    Ok((masked, len))
}

pub(crate) fn mask_ip(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(mask_v4(u32::from(a), len).into()),
        IpAddr::V6(a) => IpAddr::V6(mask_v6(u128::from(a), len).into()),
    }
}

pub(crate) fn mask_v4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len.min(32))))
    }
}

pub(crate) fn mask_v6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

/// PHP `preg_match` delimiters seen in, or plausible for, MISP lists. Bracket
/// pairs are not treated as delimiters: `(a|b)` is more likely an undelimited
/// group than a `(`-delimited pattern.
const DELIMITERS: &[char] = &['/', '#', '~', '!', '%', '@', ';', ',', '|', '+'];

/// Turns a MISP (PCRE) pattern into one for the `regex` crate: strips
/// delimiters, maps flags to inline flags. Undelimited patterns pass as is.
pub(crate) fn translate_pcre(entry: &str) -> Result<String, BadEntry> {
    let Some(delim) = entry.chars().next().filter(|c| DELIMITERS.contains(c)) else {
        return Ok(entry.to_owned());
    };
    let body_and_flags = &entry[delim.len_utf8()..];
    let Some(end) = body_and_flags.rfind(delim) else {
        return Ok(entry.to_owned());
    };
    let body = &body_and_flags[..end];
    let flags = &body_and_flags[end + delim.len_utf8()..];
    if !flags.chars().all(|c| c.is_ascii_alphabetic()) {
        // Not a delimited pattern after all (`/a/b/c`-like text): take it whole.
        return Ok(entry.to_owned());
    }
    let mut inline = String::new();
    let mut anchored = false;
    for flag in flags.chars() {
        match flag {
            'i' | 'm' | 's' | 'x' | 'U' => {
                if !inline.contains(flag) {
                    inline.push(flag);
                }
            }
            // `u` (UTF-8) is the regex crate's default; `g` is JavaScript's
            // "global", meaningless for a yes/no match; `D` (dollar matches
            // only at the end) is the regex crate's `$` without `m`.
            'u' | 'g' | 'D' => {}
            'A' => anchored = true,
            other => {
                return Err(BadEntry(format!("unsupported pattern flag {other:?}")));
            }
        }
    }
    let mut out = String::with_capacity(body.len() + 8);
    if !inline.is_empty() {
        out.push_str("(?");
        out.push_str(&inline);
        out.push(')');
    }
    if anchored {
        out.push_str("^(?:");
        out.push_str(body);
        out.push(')');
    } else {
        out.push_str(body);
    }
    Ok(out)
}

/// The regex crate's error, on one line and short: it spans several lines
/// with a caret diagram otherwise.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim()
        .trim_start_matches("error: ");
    format!(
        "pattern not supported: {}",
        rexist_core::indicator::truncate(last, 120)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: ListKind, raw: &str) -> Entry {
        parse(kind, raw, false).unwrap()
    }

    #[test]
    fn pcre_delimiters_and_flags() {
        assert_eq!(
            translate_pcre(r"/^(security|noc)\@.*\..*$/i").unwrap(),
            r"(?i)^(security|noc)\@.*\..*$"
        );
        assert_eq!(
            translate_pcre("/55501([0-9]{2})/g").unwrap(),
            "55501([0-9]{2})"
        );
        assert_eq!(translate_pcre("#a/b#").unwrap(), "a/b");
        assert_eq!(translate_pcre("/x/A").unwrap(), "^(?:x)");
        assert_eq!(translate_pcre("^plain$").unwrap(), "^plain$");
        assert_eq!(translate_pcre("(a|b)").unwrap(), "(a|b)");
        assert!(translate_pcre("/x/e").is_err());
    }

    #[test]
    fn entries_normalised() {
        assert_eq!(
            ok(ListKind::Hostname, ".EihBank.com"),
            Entry::Host("eihbank.com".into())
        );
        assert_eq!(
            ok(ListKind::Hostname, ".vakıfbank.com"),
            Entry::Host("xn--vakfbank-vkb.com".into())
        );
        assert_eq!(ok(ListKind::Hostname, "COM"), Entry::Host("com".into()));
        assert_eq!(ok(ListKind::String, "AAA"), Entry::Exact("aaa".into()));
        assert_eq!(
            ok(ListKind::Cidr, "2001:DB8::/32"),
            Entry::Network {
                addr: "2001:db8::".parse().unwrap(),
                len: 32
            }
        );
        assert_eq!(
            ok(ListKind::Cidr, "8.8.8.8"),
            Entry::Network {
                addr: "8.8.8.8".parse().unwrap(),
                len: 32
            }
        );
        assert_eq!(
            ok(ListKind::Cidr, "10.1.2.3/8"),
            Entry::Network {
                addr: "10.0.0.0".parse().unwrap(),
                len: 8
            }
        );
        assert!(parse(ListKind::Cidr, "10.1.2.3/8", true).is_err());
        assert!(parse(ListKind::Cidr, "10.0.0.0/33", false).is_err());
        assert!(parse(ListKind::Cidr, "300.0.0.0/8", false).is_err());
        assert!(parse(ListKind::Substring, "  ", false).is_err());
        assert!(parse(ListKind::Regex, "/(?<=a)b/", false).is_err());
    }
}
