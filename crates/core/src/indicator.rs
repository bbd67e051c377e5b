//! Indicator types and their canonical forms.
//!
//! An indicator exists once per `(type, canonical value)`; everything that
//! stores, matches or exports indicators relies on the value being canonical,
//! so the only way to get an [`Indicator`] is [`Indicator::parse`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::InvalidIndicator;

/// The kinds of indicator rexist models.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorType {
    /// IPv4 address, dotted quad.
    Ipv4,
    /// IPv6 address, RFC 5952 compressed.
    Ipv6,
    /// IPv4 or IPv6 network, `address/prefix`.
    Cidr,
    /// Host name, lower-case ASCII (punycode).
    Domain,
    /// URL with scheme and host.
    Url,
    /// E-mail address.
    Email,
    /// MD5 digest, 32 hex digits.
    Md5,
    /// SHA-1 digest, 40 hex digits.
    Sha1,
    /// SHA-256 digest, 64 hex digits.
    Sha256,
    /// SHA-512 digest, 128 hex digits.
    Sha512,
    /// CVE identifier.
    Cve,
    /// Autonomous system number, `AS<n>`.
    Asn,
    /// Bitcoin address (base58check or bech32/bech32m).
    Btc,
}

impl IndicatorType {
    /// Every type, in a stable order.
    pub const ALL: [IndicatorType; 13] = [
        Self::Ipv4,
        Self::Ipv6,
        Self::Cidr,
        Self::Domain,
        Self::Url,
        Self::Email,
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha512,
        Self::Cve,
        Self::Asn,
        Self::Btc,
    ];

    /// The lower-case name used in the API, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Cidr => "cidr",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Email => "email",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Cve => "cve",
            Self::Asn => "asn",
            Self::Btc => "btc",
        }
    }

    /// Guesses the type of a raw, already refanged value, most specific first.
    ///
    /// Used where a feed or a user gives a value without its type (`ingest file`
    /// without `--type`, lookup); an ambiguous bare number is never guessed.
    pub fn detect(raw: &str) -> Option<IndicatorType> {
        let raw = raw.trim();
        let candidates = [
            Self::Ipv4,
            Self::Ipv6,
            Self::Cidr,
            Self::Md5,
            Self::Sha1,
            Self::Sha256,
            Self::Sha512,
            Self::Cve,
            Self::Url,
            Self::Email,
            Self::Btc,
            Self::Domain,
        ];
        if let Some(t) = candidates
            .into_iter()
            .find(|t| canonicalize(*t, raw).is_ok())
        {
            return Some(t);
        }
        // `AS123` is an ASN; a bare number is not guessed to be one.
        let upper = raw.to_ascii_uppercase();
        if upper.starts_with("AS") && canonicalize(Self::Asn, raw).is_ok() {
            return Some(Self::Asn);
        }
        None
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndicatorType {
    type Err = InvalidIndicator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let t = match lower.as_str() {
            "ipv4" | "ip" | "ip4" | "ipv4-addr" => Self::Ipv4,
            "ipv6" | "ip6" | "ipv6-addr" => Self::Ipv6,
            "cidr" | "network" | "subnet" => Self::Cidr,
            "domain" | "hostname" | "fqdn" | "domain-name" => Self::Domain,
            "url" | "uri" => Self::Url,
            "email" | "email-addr" | "e-mail" => Self::Email,
            "md5" => Self::Md5,
            "sha1" | "sha-1" => Self::Sha1,
            "sha256" | "sha-256" => Self::Sha256,
            "sha512" | "sha-512" => Self::Sha512,
            "cve" => Self::Cve,
            "asn" | "as" => Self::Asn,
            "btc" | "bitcoin" => Self::Btc,
            _ => return Err(InvalidIndicator::UnknownType(truncate(s, 40))),
        };
        Ok(t)
    }
}

/// An indicator value in canonical form, together with its type.
///
/// Deserialising validates and canonicalises, so no invalid value gets in
/// through JSON either.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawIndicator")]
pub struct Indicator {
    #[serde(rename = "type")]
    kind: IndicatorType,
    value: String,
}

/// The wire form of an [`Indicator`] before validation.
#[derive(Deserialize)]
struct RawIndicator {
    #[serde(rename = "type")]
    kind: IndicatorType,
    value: String,
}

impl TryFrom<RawIndicator> for Indicator {
    type Error = InvalidIndicator;

    fn try_from(raw: RawIndicator) -> Result<Self, Self::Error> {
        Indicator::parse(raw.kind, &raw.value)
    }
}

impl Indicator {
    /// Validates `raw` as a `kind` and returns it in canonical form.
    pub fn parse(kind: IndicatorType, raw: &str) -> Result<Self, InvalidIndicator> {
        Ok(Self {
            kind,
            value: canonicalize(kind, raw)?,
        })
    }

    /// Detects the type of `raw` and parses it (see [`IndicatorType::detect`]).
    pub fn detect(raw: &str) -> Result<Self, InvalidIndicator> {
        match IndicatorType::detect(raw) {
            Some(kind) => Self::parse(kind, raw),
            // A dotted quad that fails is a bad IPv4, not an unknown thing: say so.
            None if looks_like_ipv4(raw.trim()) => Self::parse(IndicatorType::Ipv4, raw),
            None => Err(InvalidIndicator::Undetected(truncate(raw, 80))),
        }
    }

    /// The indicator's type.
    pub fn kind(&self) -> IndicatorType {
        self.kind
    }

    /// The canonical value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Splits into type and canonical value.
    pub fn into_parts(self) -> (IndicatorType, String) {
        (self.kind, self.value)
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// Validates `raw` as a `kind` and returns its canonical form.
///
/// Canonical forms: IPv4 dotted quad without leading zeros; IPv6 compressed
/// (RFC 5952); CIDR `address/prefix` with the address canonical as written;
/// domains lower-case punycode without trailing dot or leading `*.`; URLs with
/// lower-case scheme and canonical host, the rest verbatim; e-mail lower-case;
/// hashes lower-case hex; `CVE-YYYY-N…` upper-case; `AS<n>`; bitcoin addresses
/// verbatim (bech32 lower-case) after checksum verification.
pub fn canonicalize(kind: IndicatorType, raw: &str) -> Result<String, InvalidIndicator> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(InvalidIndicator::Empty);
    }
    if raw.len() > MAX_VALUE_LEN {
        return Err(InvalidIndicator::TooLong {
            kind,
            len: raw.len(),
        });
    }
    let invalid = |reason: &'static str| InvalidIndicator::Invalid {
        kind,
        value: truncate(raw, 80),
        reason,
    };
    match kind {
        IndicatorType::Ipv4 => {
            canonical_ipv4(raw).ok_or_else(|| invalid("not a dotted-quad IPv4 address"))
        }
        IndicatorType::Ipv6 => canonical_ipv6(raw).ok_or_else(|| invalid("not an IPv6 address")),
        IndicatorType::Cidr => canonical_cidr(raw).map_err(invalid),
        IndicatorType::Domain => canonical_domain(raw).map_err(invalid),
        IndicatorType::Url => canonical_url(raw).map_err(invalid),
        IndicatorType::Email => canonical_email(raw).map_err(invalid),
        IndicatorType::Md5 => canonical_hex(raw, 32).ok_or_else(|| invalid("not 32 hex digits")),
        IndicatorType::Sha1 => canonical_hex(raw, 40).ok_or_else(|| invalid("not 40 hex digits")),
        IndicatorType::Sha256 => canonical_hex(raw, 64).ok_or_else(|| invalid("not 64 hex digits")),
        IndicatorType::Sha512 => {
            canonical_hex(raw, 128).ok_or_else(|| invalid("not 128 hex digits"))
        }
        IndicatorType::Cve => canonical_cve(raw).ok_or_else(|| invalid("not CVE-YYYY-NNNN")),
        IndicatorType::Asn => canonical_asn(raw).ok_or_else(|| invalid("not an AS number")),
        IndicatorType::Btc => canonical_btc(raw).map_err(invalid),
    }
}

/// Lower-case hex of `bytes`, the canonical form of digests.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn looks_like_ipv4(s: &str) -> bool {
    s.split('.').count() == 4 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Longest value accepted (URLs in the wild rarely exceed 2 KB; 8 KB leaves room).
pub const MAX_VALUE_LEN: usize = 8192;

/// Cuts `s` to at most `max` bytes on a char boundary, for error messages.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn canonical_ipv4(raw: &str) -> Option<String> {
    // `Ipv4Addr::from_str` already refuses leading zeros (octal ambiguity),
    // short forms (`1.2.3`) and surrounding text.
    Ipv4Addr::from_str(raw).ok().map(|a| a.to_string())
}

fn canonical_ipv6(raw: &str) -> Option<String> {
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    Ipv6Addr::from_str(inner).ok().map(|a| a.to_string())
}

fn canonical_cidr(raw: &str) -> Result<String, &'static str> {
    let (addr, len) = raw.split_once('/').ok_or("missing /prefix")?;
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err("prefix length is not a number");
    }
    let len: u8 = len.parse().map_err(|_| "prefix length is not a number")?;
    let ip = IpAddr::from_str(addr).map_err(|_| "address is not an IP address")?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err("prefix length out of range");
    }
    Ok(format!("{ip}/{len}"))
}

/// Canonical host name: lower-case ASCII, IDN labels as punycode, no trailing
/// dot, no leading `*.`; LDH labels (underscore allowed below the TLD, as
/// real DNS names such as `_dmarc.example.com` carry it); an alphabetic TLD.
pub(crate) fn canonical_domain(raw: &str) -> Result<String, &'static str> {
    let mut s = raw.strip_suffix('.').unwrap_or(raw);
    while let Some(rest) = s.strip_prefix("*.") {
        s = rest;
    }
    if s.is_empty() {
        return Err("empty host name");
    }
    let ascii = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s).map_err(|_| "invalid internationalised host name")?
    };
    validate_ascii_domain(&ascii)?;
    // Punycode labels must decode; otherwise `xn--` garbage would be stored.
    if ascii.split('.').any(|l| l.starts_with("xn--")) {
        let (_, result) = idna::domain_to_unicode(&ascii);
        result.map_err(|_| "invalid punycode label")?;
        let again = idna::domain_to_ascii(&ascii).map_err(|_| "invalid punycode label")?;
        if again != ascii {
            return Err("punycode label is not in canonical form");
        }
    }
    Ok(ascii)
}

fn validate_ascii_domain(d: &str) -> Result<(), &'static str> {
    if d.len() > 253 {
        return Err("host name longer than 253 bytes");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("host name needs at least two labels");
    }
    let last = labels.len() - 1;
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err("empty label in host name");
        }
        if label.len() > 63 {
            return Err("label longer than 63 bytes");
        }
        let bytes = label.as_bytes();
        if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return Err("label starts or ends with a hyphen");
        }
        let ok = bytes.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (b == b'_' && i != last)
        });
        if !ok {
            return Err("invalid character in host name");
        }
    }
    let tld = labels[last];
    let tld_ok =
        tld.starts_with("xn--") || (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_lowercase()));
    if !tld_ok {
        return Err("top-level domain is not alphabetic");
    }
    Ok(())
}

/// Canonical host of a URL or an e-mail address: an IP address or a domain.
fn canonical_host(host: &str) -> Result<String, &'static str> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("unclosed IPv6 bracket")?;
        let ip = Ipv6Addr::from_str(inner).map_err(|_| "invalid IPv6 literal")?;
        return Ok(format!("[{ip}]"));
    }
    if let Ok(ip) = Ipv4Addr::from_str(host) {
        return Ok(ip.to_string());
    }
    if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("malformed IPv4 host");
    }
    canonical_domain(host)
}

/// Canonical host of a URL: as [`canonical_host`], and also `localhost`,
/// which reports name in URLs (`http://localhost:8080/shell`) but which is no
/// domain indicator on its own.
fn canonical_url_host(host: &str) -> Result<String, &'static str> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok("localhost".to_owned());
    }
    canonical_host(host)
}

fn canonical_url(raw: &str) -> Result<String, &'static str> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("whitespace or control character in URL");
    }
    let (scheme, rest) = raw.split_once("://").ok_or("missing scheme://")?;
    let scheme_ok = scheme.len() <= 32
        && scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if !scheme_ok {
        return Err("invalid scheme");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // userinfo is kept verbatim: it is part of what the attacker wrote.
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    let (host, port) = split_host_port(hostport)?;
    let host = canonical_url_host(host)?;
    let mut out = String::with_capacity(raw.len());
    out.push_str(&scheme.to_ascii_lowercase());
    out.push_str("://");
    out.push_str(userinfo);
    out.push_str(&host);
    if let Some(port) = port {
        out.push(':');
        out.push_str(port);
    }
    out.push_str(tail);
    Ok(out)
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), &'static str> {
    if hostport.is_empty() {
        return Err("missing host");
    }
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(i) => {
                let after = &hostport[i + 1..];
                match after.strip_prefix(':') {
                    Some(p) => (&hostport[..=i], Some(p)),
                    None if after.is_empty() => (hostport, None),
                    None => return Err("garbage after IPv6 literal"),
                }
            }
            None => return Err("unclosed IPv6 bracket"),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if let Some(p) = port {
        let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        if !valid || p.parse::<u32>().map_or(true, |n| n > 65535) {
            return Err("invalid port");
        }
    }
    Ok((host, port))
}

fn canonical_email(raw: &str) -> Result<String, &'static str> {
    let (local, domain) = raw.rsplit_once('@').ok_or("missing @")?;
    if local.is_empty() || local.len() > 64 {
        return Err("local part empty or longer than 64 bytes");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("misplaced dot in local part");
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    if !local_ok {
        return Err("invalid character in local part");
    }
    let domain = canonical_domain(domain)?;
    Ok(format!("{}@{domain}", local.to_ascii_lowercase()))
}

fn canonical_hex(raw: &str, len: usize) -> Option<String> {
    (raw.len() == len && raw.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| raw.to_ascii_lowercase())
}

fn canonical_cve(raw: &str) -> Option<String> {
    // Reports write CVE ids with Unicode dashes (‐ ‑ ‒ – —) and sometimes spaces.
    let normalised: String = raw
        .chars()
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' | '_' | ' ' => '-',
            c => c,
        })
        .collect();
    let upper = normalised.to_ascii_uppercase();
    let rest = upper.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && year >= "1999";
    let num_ok = (4..=19).contains(&num.len()) && num.bytes().all(|b| b.is_ascii_digit());
    (year_ok && num_ok).then(|| format!("CVE-{year}-{num}"))
}

fn canonical_asn(raw: &str) -> Option<String> {
    let upper = raw.to_ascii_uppercase();
    let digits = upper
        .strip_prefix("ASN")
        .or_else(|| upper.strip_prefix("AS"))
        .unwrap_or(&upper)
        .trim_start_matches([' ', '-', ':']);
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    u32::try_from(n).is_ok().then(|| format!("AS{n}"))
}

fn canonical_btc(raw: &str) -> Result<String, &'static str> {
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("bc1") {
        if raw != lower && raw != raw.to_ascii_uppercase() {
            return Err("bech32 address mixes case");
        }
        return if bech32_valid(&lower) {
            Ok(lower)
        } else {
            Err("bech32 checksum or program invalid")
        };
    }
    if !(raw.starts_with('1') || raw.starts_with('3')) || !(25..=35).contains(&raw.len()) {
        return Err("not a base58 address starting with 1 or 3");
    }
    let decoded = base58_decode(raw).ok_or("invalid base58 character")?;
    if decoded.len() != 25 {
        return Err("base58 payload is not 25 bytes");
    }
    let (payload, checksum) = decoded.split_at(21);
    let digest = Sha256::digest(Sha256::digest(payload));
    if &digest[..4] != checksum {
        return Err("base58check checksum mismatch");
    }
    if payload[0] != 0x00 && payload[0] != 0x05 {
        return Err("unknown base58 version byte");
    }
    Ok(raw.to_owned())
}

fn base58_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out: Vec<u8> = Vec::with_capacity(32);
    for c in s.bytes() {
        let mut carry = u32::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&b| b == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(out);
    Some(full)
}

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// BIP 173 / BIP 350 validation of a lower-case mainnet segwit address.
fn bech32_valid(addr: &str) -> bool {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let Some((hrp, data)) = addr.rsplit_once('1') else {
        return false;
    };
    if hrp != "bc" || data.len() < 6 || addr.len() > 90 {
        return false;
    }
    let Some(values) = data
        .bytes()
        .map(|c| {
            CHARSET
                .iter()
                .position(|&x| x == c)
                .and_then(|p| u8::try_from(p).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let expanded = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|b| b & 31))
        .chain(values.iter().copied());
    let polymod = bech32_polymod(expanded);
    let witness_version = values[0];
    let constant_ok = match witness_version {
        0 => polymod == 1,
        1..=16 => polymod == 0x2bc8_30a3,
        _ => false,
    };
    if !constant_ok {
        return false;
    }
    // Program: 5-bit groups after the version, minus the 6-symbol checksum;
    // at most 4 bits of padding (BIP 173).
    let bits = (values.len() - 1 - 6) * 5;
    if bits % 8 > 4 {
        return false;
    }
    let program_len = bits / 8;
    if !(2..=40).contains(&program_len) {
        return false;
    }
    witness_version != 0 || program_len == 20 || program_len == 32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(kind: IndicatorType, raw: &str) -> Option<String> {
        canonicalize(kind, raw).ok()
    }

    #[test]
    fn ip_forms() {
        assert_eq!(
            canon(IndicatorType::Ipv4, " 10.0.0.1 ").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(canon(IndicatorType::Ipv4, "10.0.0.01"), None);
        assert_eq!(canon(IndicatorType::Ipv4, "256.1.1.1"), None);
        assert_eq!(canon(IndicatorType::Ipv4, "1.2.3"), None);
        assert_eq!(
            canon(
                IndicatorType::Ipv6,
                "2001:0DB8:0000:0000:0000:0000:0000:0001"
            )
            .as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            canon(IndicatorType::Ipv6, "[2001:db8::1]").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(canon(IndicatorType::Ipv6, "12:30"), None);
        assert_eq!(
            canon(IndicatorType::Cidr, "10.0.0.0/8").as_deref(),
            Some("10.0.0.0/8")
        );
        assert_eq!(
            canon(IndicatorType::Cidr, "2001:DB8::/32").as_deref(),
            Some("2001:db8::/32")
        );
        assert_eq!(canon(IndicatorType::Cidr, "10.0.0.0/33"), None);
        assert_eq!(canon(IndicatorType::Cidr, "10.0.0.0/"), None);
    }

    #[test]
    fn domains() {
        assert_eq!(
            canon(IndicatorType::Domain, "Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            canon(IndicatorType::Domain, "*.evil.org").as_deref(),
            Some("evil.org")
        );
        assert_eq!(
            canon(IndicatorType::Domain, "bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(
            canon(IndicatorType::Domain, "例え.jp").as_deref(),
            Some("xn--r8jz45g.jp")
        );
        assert_eq!(
            canon(IndicatorType::Domain, "_dmarc.example.com").as_deref(),
            Some("_dmarc.example.com")
        );
        assert_eq!(canon(IndicatorType::Domain, "localhost"), None);
        assert_eq!(canon(IndicatorType::Domain, "-a.com"), None);
        assert_eq!(canon(IndicatorType::Domain, "a..com"), None);
        assert_eq!(canon(IndicatorType::Domain, "a.c0m"), None);
        assert_eq!(canon(IndicatorType::Domain, "xn--zz.com"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            canon(IndicatorType::Url, "HTTP://Evil.COM:8080/Path?Q=A#F").as_deref(),
            Some("http://evil.com:8080/Path?Q=A#F")
        );
        assert_eq!(
            canon(IndicatorType::Url, "https://[2001:DB8::1]/x").as_deref(),
            Some("https://[2001:db8::1]/x")
        );
        assert_eq!(
            canon(IndicatorType::Url, "http://user@münchen.de/").as_deref(),
            Some("http://user@xn--mnchen-3ya.de/")
        );
        assert_eq!(
            canon(IndicatorType::Url, "http://LOCALHOST:8080/x").as_deref(),
            Some("http://localhost:8080/x")
        );
        assert_eq!(canon(IndicatorType::Domain, "localhost"), None);
        assert_eq!(canon(IndicatorType::Url, "evil.com/x"), None);
        assert_eq!(canon(IndicatorType::Url, "http://evil.com/a b"), None);
        assert_eq!(canon(IndicatorType::Url, "http://evil.com:99999/"), None);
        assert_eq!(canon(IndicatorType::Url, "http://1.2.3/"), None);
    }

    #[test]
    fn emails_hashes_cve_asn() {
        assert_eq!(
            canon(IndicatorType::Email, "Bob.Smith@Evil.com").as_deref(),
            Some("bob.smith@evil.com")
        );
        assert_eq!(canon(IndicatorType::Email, "bob@localhost"), None);
        assert_eq!(canon(IndicatorType::Email, ".bob@evil.com"), None);
        assert_eq!(
            canon(IndicatorType::Md5, "D41D8CD98F00B204E9800998ECF8427E").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(
            canon(IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427"),
            None
        );
        assert_eq!(
            canon(IndicatorType::Cve, "cve-2021-44228").as_deref(),
            Some("CVE-2021-44228")
        );
        assert_eq!(
            canon(IndicatorType::Cve, "CVE\u{2011}2023\u{2011}34362").as_deref(),
            Some("CVE-2023-34362")
        );
        assert_eq!(canon(IndicatorType::Cve, "CVE-21-1"), None);
        assert_eq!(
            canon(IndicatorType::Asn, "asn 64512").as_deref(),
            Some("AS64512")
        );
        assert_eq!(
            canon(IndicatorType::Asn, "AS9009").as_deref(),
            Some("AS9009")
        );
        assert_eq!(canon(IndicatorType::Asn, "AS99999999999"), None);
    }

    #[test]
    fn bitcoin_checksums() {
        // Genesis block coinbase address, BIP 173 and BIP 350 test vectors.
        assert!(canon(IndicatorType::Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_some());
        assert!(canon(IndicatorType::Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").is_none());
        assert!(canon(IndicatorType::Btc, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").is_some());
        assert_eq!(
            canon(
                IndicatorType::Btc,
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
            )
            .as_deref(),
            Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
        );
        assert!(
            canon(
                IndicatorType::Btc,
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"
            )
            .is_none()
        );
        assert!(
            canon(
                IndicatorType::Btc,
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
            )
            .is_some()
        );
        for valid in [
            "38UzaqoN9ZyQEVLJ8e4HYnNQG3ccaGzvTQ",
            "bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2n",
            "bc1qls0azjkmvxpxv6zthprqvtavf3zjcnfm4ru57e",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        ] {
            assert!(canon(IndicatorType::Btc, valid).is_some(), "{valid}");
        }
        for invalid in [
            "1451579fd1841b3a1cb618dc58045573",
            "0A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2m",
            "bc1Qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2n",
        ] {
            assert!(canon(IndicatorType::Btc, invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn detection() {
        let cases = [
            ("1.2.3.4", IndicatorType::Ipv4),
            ("::1", IndicatorType::Ipv6),
            ("10.0.0.0/8", IndicatorType::Cidr),
            ("evil.com", IndicatorType::Domain),
            ("http://evil.com/", IndicatorType::Url),
            ("a@evil.com", IndicatorType::Email),
            ("d41d8cd98f00b204e9800998ecf8427e", IndicatorType::Md5),
            ("CVE-2024-3094", IndicatorType::Cve),
            ("AS13335", IndicatorType::Asn),
        ];
        for (raw, kind) in cases {
            assert_eq!(IndicatorType::detect(raw), Some(kind), "{raw}");
        }
        assert_eq!(IndicatorType::detect("12345"), None);
        let bad_ip = Indicator::detect("1.2.3.999").unwrap_err();
        assert!(bad_ip.reason().starts_with("invalid ipv4"), "{bad_ip}");
        assert_eq!(IndicatorType::detect("not an indicator"), None);
    }

    #[test]
    fn hex_digests() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn type_names_round_trip() {
        for t in IndicatorType::ALL {
            assert_eq!(t.as_str().parse::<IndicatorType>().ok(), Some(t));
        }
        assert!("ssdeepish".parse::<IndicatorType>().is_err());
    }

    fn any_type() -> impl Strategy<Value = IndicatorType> {
        proptest::sample::select(IndicatorType::ALL.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn canonicalising_is_idempotent_and_total(kind in any_type(), raw in "\\PC{0,40}") {
            if let Ok(first) = canonicalize(kind, &raw) {
                prop_assert_eq!(canonicalize(kind, &first), Ok(first.clone()));
            }
        }

        #[test]
        fn plausible_values_are_idempotent(
            kind in any_type(),
            raw in "[a-zA-Z0-9.:/@\\[\\]*_-]{1,40}|[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,2})?|[a-zà-ÿ]{1,8}\\.[a-z]{2,4}|(https?|HXXP)://[A-Za-z0-9.-]{1,12}(:[0-9]{1,5})?/[ -~]{0,12}"
        ) {
            if let Ok(first) = canonicalize(kind, &raw) {
                prop_assert_eq!(canonicalize(kind, &first), Ok(first.clone()));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(kind in any_type(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = canonicalize(kind, &s);
            let _ = IndicatorType::detect(&s);
        }
    }
}
