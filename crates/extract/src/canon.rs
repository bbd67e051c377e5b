//! Canonical forms, shared by the scanner (which builds them) and [`canonicalize`]
//! (which checks them). They match `rexist-core`'s `Indicator::parse`: domains lower
//! case and punycode without trailing dot or `*.`; IPv6 as Rust prints it (RFC 5952);
//! URL scheme and host lower case, the rest verbatim; e-mail lower case; hashes lower
//! case; `CVE-YYYY-NNNN…`; `AS<n>`; bitcoin addresses verbatim; CIDR `addr/len`.

use std::net::Ipv6Addr;

use crate::IocType;
use crate::tld::is_tld;

/// Schemes recognised in URLs (after refanging `hxxp`, `fxp`, …).
pub(crate) const SCHEMES: &[&str] = &[
    "http",
    "https",
    "ftp",
    "ftps",
    "sftp",
    "tcp",
    "udp",
    "ldap",
    "ldaps",
    "ws",
    "wss",
    "rtsp",
    "rtmp",
    "smb",
    "ssh",
    "telnet",
    "irc",
    "ircs",
    "git",
    "svn",
    "socks4",
    "socks4a",
    "socks5",
    "socks5h",
    "stratum+tcp",
    "stratum+ssl",
    "stratum+tls",
    "stratum2+tcp",
    "gopher",
    "mms",
    "rdp",
    "vnc",
    "redis",
    "mongodb",
    "mysql",
    "postgres",
    "postgresql",
    "amqp",
    "mqtt",
    "nntp",
    "imap",
    "imaps",
    "pop3",
    "smtp",
    "smtps",
    "dns",
    "tftp",
    "sip",
    "xmpp",
];

/// The canonical scheme for a written one, and whether it was defanged:
/// `hxxp`/`hXXp`/`HXXPS` → http(s), `fxp` → ftp, `xxxx` → http.
pub(crate) fn map_scheme(raw: &str) -> Option<(&'static str, bool)> {
    if raw.is_empty() || raw.len() > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    for (d, s) in buf.iter_mut().zip(raw.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let lower = &buf[..raw.len()];
    let tx = |c: u8| c == b't' || c == b'x';
    // h[tx][tx]p(s), at least one x: hxxp, hXXps, htxp…
    if lower.len() >= 4 && lower[0] == b'h' && tx(lower[1]) && tx(lower[2]) && lower[3] == b'p' {
        let defanged = lower[1] == b'x' || lower[2] == b'x';
        match &lower[4..] {
            b"" => return Some(("http", defanged)),
            b"s" => return Some(("https", defanged)),
            _ => return None,
        }
    }
    match lower {
        // `fxp`, `ftx`: ftp with a letter blotted out
        b"fxp" | b"ftx" | b"fxx" => return Some(("ftp", true)),
        b"fxps" | b"ftxs" => return Some(("ftps", true)),
        // `xxxx`, `xxxxx`, `xxxxs`, `hxxxp`: schemes blotted out whole
        b"xxxx" | b"hxxxp" | b"xxxp" => return Some(("http", true)),
        b"xxxxs" | b"xxxxx" | b"hxxxps" | b"xxxps" => return Some(("https", true)),
        _ => {}
    }
    SCHEMES
        .iter()
        .find(|s| s.as_bytes() == lower)
        .map(|s| (*s, false))
}

/// Strict dotted quad: four decimal octets ≤ 255, no leading zeros (`010` is ambiguous:
/// octal to some parsers).
pub(crate) fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut k = 0;
    for part in s.as_bytes().split(|&c| c == b'.') {
        if k == 4 || !is_octet(part) {
            return None;
        }
        out[k] = part
            .iter()
            .fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'))
            .try_into()
            .ok()?;
        k += 1;
    }
    (k == 4).then_some(out)
}

/// Whether `part` is a dotted-quad number: 0 to 255 in decimal, no leading zero.
pub(crate) fn is_octet(part: &[u8]) -> bool {
    match *part {
        [a] => a.is_ascii_digit(),
        [a, b] => (b'1'..=b'9').contains(&a) && b.is_ascii_digit(),
        [a, b, c] => {
            (b'1'..=b'9').contains(&a)
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && (a, b, c) <= (b'2', b'5', b'5')
        }
        _ => false,
    }
}

/// IPv6 address (zone and brackets not allowed) in Rust's RFC 5952 form.
pub(crate) fn canonical_ipv6(s: &str) -> Option<String> {
    if !s.contains(':') {
        return None;
    }
    s.parse::<Ipv6Addr>().ok().map(ipv6_text)
}

/// `addr` as `Ipv6Addr`'s `Display` writes it (RFC 5952: lower-case hex without leading
/// zeros, the longest run of two or more zero groups, the first of equals, as `::`,
/// IPv4-mapped addresses as `::ffff:a.b.c.d`), without the formatting machinery, which
/// cost more than finding the address.
pub(crate) fn ipv6_text(addr: Ipv6Addr) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(39);
    if let Some(v4) = addr.to_ipv4_mapped() {
        out.push_str("::ffff:");
        for (k, o) in v4.octets().iter().enumerate() {
            if k > 0 {
                out.push('.');
            }
            out.push_str(itoa::Buffer::new().format(*o));
        }
        return out;
    }
    let g = addr.segments();
    // the longest run of zero groups, the first of equal ones
    let (mut best, mut best_len, mut run) = (0, 0, 0);
    for (k, &x) in g.iter().enumerate() {
        run = if x == 0 { run + 1 } else { 0 };
        if run > best_len {
            best_len = run;
            best = k + 1 - run;
        }
    }
    let push_group = |out: &mut String, x: u16| {
        let mut started = false;
        for shift in [12, 8, 4, 0] {
            let d = usize::from((x >> shift) & 0xf);
            if d != 0 || started || shift == 0 {
                started = true;
                out.push(char::from(HEX[d]));
            }
        }
    };
    let groups = |out: &mut String, part: &[u16]| {
        for (k, &x) in part.iter().enumerate() {
            if k > 0 {
                out.push(':');
            }
            push_group(out, x);
        }
    };
    if best_len > 1 {
        groups(&mut out, &g[..best]);
        out.push_str("::");
        groups(&mut out, &g[best + best_len..]);
    } else {
        groups(&mut out, &g);
    }
    out
}

/// Whether an ASCII lower-case domain is valid: a well-formed name (see
/// [`valid_ascii_name`]) ending in a real TLD.
pub(crate) fn valid_ascii_domain(s: &str) -> bool {
    valid_ascii_name(s) && s.rsplit('.').next().is_some_and(is_tld)
}

/// Whether an ASCII lower-case name is well formed: 2+ labels of `[a-z0-9-]` (1–63 bytes,
/// no leading or trailing hyphen), at most 253 bytes; an underscore may begin or join
/// words of a label below the registrable name (`_jabber._tcp.example.com`,
/// `s1._domainkey.example.com`), never in the last two labels; punycode labels decode.
pub(crate) fn valid_ascii_name(s: &str) -> bool {
    if s.len() > 253 || s.is_empty() {
        return false;
    }
    let mut labels = 0;
    let mut idn = false;
    // the last label holding an underscore, plus one (0: none)
    let mut underscore_in = 0;
    for lb in s.as_bytes().split(|&c| c == b'.') {
        if lb.is_empty() || lb.len() > 63 || lb[0] == b'-' || lb[lb.len() - 1] == b'-' {
            return false;
        }
        for &c in lb {
            if c == b'_' {
                underscore_in = labels + 1;
            } else if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
                return false;
            }
        }
        idn |= lb.starts_with(b"xn--");
        labels += 1;
    }
    if labels < 2 || underscore_in + 2 > labels {
        return false;
    }
    // punycode labels must decode: `xn--zz` is no name
    !idn || idna::domain_to_ascii(s).is_ok_and(|a| a == s)
}

/// Whether `label` has the shape of a top-level domain: 2–63 ASCII letters, or a
/// punycode label. What refanging a typed name accepts beyond the real TLDs.
pub(crate) fn tld_shaped(label: &str) -> bool {
    let b = label.as_bytes();
    (2..=63).contains(&b.len())
        && (b.iter().all(u8::is_ascii_alphabetic)
            || (b.len() > 4
                && b[..4].eq_ignore_ascii_case(b"xn--")
                && b[4..]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-')))
}

/// Canonical form of a (refanged) domain: strip `*.` and a trailing dot, lower-case,
/// IDN to punycode; `None` unless it is a valid name under a real TLD.
#[cfg(test)]
pub(crate) fn canonical_domain(raw: &str) -> Option<String> {
    canonical_name(raw).filter(|s| valid_ascii_domain(s))
}

/// [`canonical_domain`] without the TLD check.
pub(crate) fn canonical_name(raw: &str) -> Option<String> {
    let s = raw.strip_suffix('.').unwrap_or(raw);
    let s = s.strip_prefix("*.").unwrap_or(s);
    let out = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s).ok()?
    };
    valid_ascii_name(&out).then_some(out)
}

/// Whether `local` is an acceptable e-mail local part: `[A-Za-z0-9._%+-]`, 1–64 bytes,
/// no leading, trailing or doubled dot.
pub(crate) fn valid_local_part(local: &str) -> bool {
    let b = local.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0] != b'.'
        && b[b.len() - 1] != b'.'
        && !local.contains("..")
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'))
}

/// Validates `raw`, an already refanged value of type `kind`, and returns its canonical
/// form; `None` if it is not a valid value of that type.
///
/// The canonical form is `rexist-core`'s, which the store applies too; the extractor is
/// stricter about what it reports from prose: names must end in a real TLD and use no
/// underscore, URLs must have a known scheme. Every value [`crate::extract`] emits is a
/// fixed point: `canonicalize(m.kind, &m.value) == Some(m.value)`.
pub fn canonicalize(kind: IocType, raw: &str) -> Option<String> {
    let value = rexist_core::canonicalize(kind, raw).ok()?;
    reportable(kind, &value).then_some(value)
}

/// Whether a canonical value is one the extractor would report from text.
fn reportable(kind: IocType, value: &str) -> bool {
    match kind {
        IocType::Domain => valid_ascii_domain(value),
        IocType::Email => value
            .rsplit_once('@')
            .is_some_and(|(local, domain)| valid_local_part(local) && valid_ascii_domain(domain)),
        IocType::Url => reportable_url(value),
        _ => true,
    }
}

/// A canonical URL with a known scheme and a host that is an address, `localhost` or a
/// name under a real TLD.
fn reportable_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !SCHEMES.contains(&scheme) {
        return false;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = match authority.rsplit_once('@') {
        Some(("", _)) => return false,
        Some((_, h)) => h,
        None => authority,
    };
    if hostport.starts_with('[') {
        return true; // an IPv6 literal, already validated by core
    }
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    host == "localhost" || parse_ipv4(host).is_some() || valid_ascii_domain(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_refang() {
        assert_eq!(map_scheme("hxxp"), Some(("http", true)));
        assert_eq!(map_scheme("hXXps"), Some(("https", true)));
        assert_eq!(map_scheme("HXXPS"), Some(("https", true)));
        assert_eq!(map_scheme("fxp"), Some(("ftp", true)));
        assert_eq!(map_scheme("xxxx"), Some(("http", true)));
        assert_eq!(map_scheme("HTTP"), Some(("http", false)));
        assert_eq!(map_scheme("stratum+tcp"), Some(("stratum+tcp", false)));
        assert_eq!(map_scheme("jndi"), None);
        assert_eq!(map_scheme("hxxpz"), None);
    }

    #[test]
    fn ipv6_text_is_std_display() {
        // every pattern of zero and non-zero groups, with values of every hex width,
        // plus IPv4-mapped and -compatible addresses
        let widths = [0x1, 0x2a, 0x3f0, 0xabcd, 0xffff, 0x0100];
        for mask in 0u16..256 {
            for (w, &v) in widths.iter().enumerate() {
                let g: Vec<u16> = (0..8)
                    .map(|k| {
                        if mask >> k & 1 == 1 {
                            widths[(w + k) % widths.len()].max(v)
                        } else {
                            0
                        }
                    })
                    .collect();
                let addr = Ipv6Addr::new(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
                assert_eq!(ipv6_text(addr), addr.to_string(), "{g:?}");
            }
        }
        for s in [
            "::ffff:1.2.3.4",
            "::ffff:0.0.0.0",
            "::1.2.3.4",
            "::ffff:255.10.100.9",
        ] {
            let addr: Ipv6Addr = s.parse().unwrap();
            assert_eq!(ipv6_text(addr), addr.to_string(), "{s}");
        }
    }

    #[test]
    fn octets_are_0_to_255_without_leading_zeros() {
        for n in 0..1000 {
            assert_eq!(is_octet(n.to_string().as_bytes()), n <= 255, "{n}");
            assert!(!is_octet(format!("0{n}").as_bytes()), "0{n}");
        }
        for bad in ["", "1a", "a", "-1", "+1", " 1", "1000"] {
            assert!(!is_octet(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn ipv4_is_strict() {
        assert_eq!(parse_ipv4("1.2.3.4"), Some([1, 2, 3, 4]));
        assert_eq!(parse_ipv4("0.0.0.0"), Some([0; 4]));
        assert_eq!(parse_ipv4("256.1.1.1"), None);
        assert_eq!(parse_ipv4("01.2.3.4"), None);
        assert_eq!(parse_ipv4("1.2.3"), None);
        assert_eq!(parse_ipv4("1.2.3.4.5"), None);
    }

    #[test]
    fn domains() {
        assert_eq!(canonical_domain("Evil.COM").as_deref(), Some("evil.com"));
        assert_eq!(canonical_domain("*.evil.com.").as_deref(), Some("evil.com"));
        assert_eq!(
            canonical_domain("аррӏе.com").as_deref(),
            Some("xn--80ak6aa92e.com")
        );
        assert_eq!(
            canonical_domain("例子.中国").as_deref(),
            Some("xn--fsqu00a.xn--fiqs8s")
        );
        assert_eq!(canonical_domain("evil.exe"), None);
        assert_eq!(canonical_domain("a_b.com"), None);
        assert_eq!(canonical_domain("-a.com"), None);
        assert_eq!(canonical_domain("com"), None);
        assert_eq!(canonical_domain("xn--zz.com"), None);
    }

    #[test]
    fn canonicalize_each_type() {
        let c = canonicalize;
        assert_eq!(
            c(IocType::Ipv6, "2001:0db8:0000:0000:0000:ff00:0042:8329").as_deref(),
            Some("2001:db8::ff00:42:8329")
        );
        assert_eq!(
            c(IocType::Cidr, "2001:db8:abcd::/48").as_deref(),
            Some("2001:db8:abcd::/48")
        );
        assert_eq!(c(IocType::Cidr, "10.0.0.0/33"), None);
        assert_eq!(
            c(IocType::Url, "HTTPS://Evil.COM/A?b=C").as_deref(),
            Some("https://evil.com/A?b=C")
        );
        assert_eq!(
            c(IocType::Url, "http://[2001:DB8::1]:8080/x").as_deref(),
            Some("http://[2001:db8::1]:8080/x")
        );
        assert_eq!(
            c(IocType::Url, "http://user:pw@evil.com").as_deref(),
            Some("http://user:pw@evil.com")
        );
        assert_eq!(c(IocType::Url, "http://evil.exe/x"), None);
        assert_eq!(
            c(IocType::Email, "A.B@Corp.COM").as_deref(),
            Some("a.b@corp.com")
        );
        assert_eq!(
            c(IocType::Md5, "D41D8CD98F00B204E9800998ECF8427E").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(c(IocType::Sha1, "d41d8cd98f00b204e9800998ecf8427e"), None);
        assert_eq!(
            c(IocType::Cve, "cve-2021-44228").as_deref(),
            Some("CVE-2021-44228")
        );
        assert_eq!(c(IocType::Asn, "ASN 64512").as_deref(), Some("AS64512"));
        assert_eq!(c(IocType::Asn, "13335").as_deref(), Some("AS13335"));
        assert_eq!(
            c(IocType::Btc, "bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2n").as_deref(),
            Some("bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2n")
        );
    }
}
