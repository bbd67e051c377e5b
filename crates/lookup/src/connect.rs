//! What a value is connected to by its shape, and the risk that carries.
//!
//! # Links
//! A lookup reads, beside the value itself, the stored indicators its
//! shape points at — whether or not the value itself is stored:
//!
//! | asked | related | relation | hop |
//! |---|---|---|---|
//! | IPv4 / IPv6 address | every stored network it lies in (`/8`–`/32`, `/16`–`/128`) | `contained-in` | 1 |
//! | CIDR | stored wider networks | `contained-in` | 1 |
//! | CIDR (IPv4, `/8` or narrower) | stored addresses and networks inside it | `contains` | 1 |
//! | URL | its host (domain or address) | `host-of` | 1 |
//! | URL | the host's parent domains | `parent-domain` | 2, 3, … |
//! | e-mail address | its domain | `domain-of` | 1 |
//! | e-mail address | the domain's parent domains | `parent-domain` | 2, 3, … |
//! | domain | its parent domains (not the top-level domain) | `parent-domain` | 1, 2, … |
//! | domain or address | stored URLs on it | `url-on` | 1 |
//! | domain | its stored sub-domains, at any depth | `subdomain` | 1 |
//! | domain | stored e-mail addresses at it or at its sub-domains | `email-at` | 1 |
//!
//! Networks are matched in their canonical form (`192.0.2.0/24`); a network
//! stored with host bits set (`192.0.2.7/24`) matches only as written.
//! Sub-domains and addresses are read as one range of the store's
//! reversed-host index each (`moc.elpmaxe.`…, so `notexample.com` is not
//! one of them), at most 50 of each, the fewest labels below the domain
//! first.
//!
//! # Risk from relations
//! Each related indicator `r` that is neither allow-listed nor retired
//! contributes `c = w(relation) × score(r) × 0.5^(hop − 1)` points, for
//! hops 1 and 2 (further ones are listed, not counted). The weights say how
//! much of a neighbour's danger carries over:
//!
//! | relation | w |
//! |---|---|
//! | `host-of` (the URL's host is known bad) | 0.8 |
//! | `domain-of` (the address's domain) | 0.6 |
//! | `contained-in`, `parent-domain`, stated relations (`resolves-to`, `communicates-with`, `drops`, …) | 0.5 |
//! | `contains`, `url-on`, `subdomain`, `email-at` (bad things under the value) | 0.3 |
//! | `shared-items` (named in the same reports) | 0.2 |
//!
//! The contributions combine like independent evidence and are capped:
//! `rel = min(60, 100 × (1 − Π(1 − c/100)))`, and the score becomes
//! `own + (100 − own) × rel / 100` — never lower than the value's own score,
//! at most 60 for a value no source reported, and 0 for an allow-listed
//! value. Each contribution is a `relation` factor of the answer.

use std::net::IpAddr;

use rexist_core::IndicatorType;

use crate::LookupStatus;
use crate::lifecycle::Factor;

/// Most points relations alone can give.
pub const RELATION_CAP: f64 = 60.0;
/// Hops beyond this are listed but add nothing to the score.
const COUNTED_HOPS: u8 = 2;
/// Contributions listed as factors, largest first.
const LISTED_FACTORS: usize = 10;

/// An indicator the value's shape points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its type.
    pub kind: IndicatorType,
    /// Its canonical value (or, for a prefix link, the prefix).
    pub value: String,
    /// `contained-in`, `contains`, `host-of`, `parent-domain`, `domain-of`,
    /// `url-on`, `subdomain`, `email-at`.
    pub relation: &'static str,
    /// Steps from the value asked about.
    pub hop: u8,
}

/// What to read for a value: exact (type, value) pairs and value prefixes.
#[derive(Debug, Default)]
pub struct Links {
    /// Indicators by type and canonical value.
    pub exact: Vec<Link>,
    /// Indicators by type and value prefix (a network's addresses, a host's URLs).
    pub prefixes: Vec<Link>,
    /// Indicators by type whose host is the link's domain or lies below it
    /// (a domain's sub-domains, the addresses at it).
    pub under: Vec<Link>,
}

impl Links {
    fn exact(&mut self, kind: IndicatorType, value: String, relation: &'static str, hop: u8) {
        self.exact.push(Link {
            kind,
            value,
            relation,
            hop,
        });
    }

    fn prefix(&mut self, kind: IndicatorType, value: String, relation: &'static str) {
        self.prefixes.push(Link {
            kind,
            value,
            relation,
            hop: 1,
        });
    }

    fn under(&mut self, kind: IndicatorType, domain: &str, relation: &'static str) {
        self.under.push(Link {
            kind,
            value: domain.to_owned(),
            relation,
            hop: 1,
        });
    }

    /// The parent domains of `host` (without the top-level domain), from
    /// the nearest, starting at `hop`.
    fn parents(&mut self, host: &str, mut hop: u8) {
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if !parent.contains('.') {
                break;
            }
            self.exact(
                IndicatorType::Domain,
                parent.to_owned(),
                "parent-domain",
                hop,
            );
            hop = hop.saturating_add(1);
            rest = parent;
        }
    }

    /// URLs on `host` (as written in a URL: `[v6]` for IPv6).
    fn urls_on(&mut self, host: &str) {
        for scheme in ["http", "https"] {
            self.exact(
                IndicatorType::Url,
                format!("{scheme}://{host}"),
                "url-on",
                1,
            );
            self.prefix(IndicatorType::Url, format!("{scheme}://{host}/"), "url-on");
            self.prefix(IndicatorType::Url, format!("{scheme}://{host}:"), "url-on");
        }
    }

    /// A URL's or an address's host, as its own link at `hop`.
    fn host(&mut self, host: &str, relation: &'static str) {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => self.exact(IndicatorType::Ipv4, ip.to_string(), relation, 1),
            Ok(IpAddr::V6(ip)) => self.exact(IndicatorType::Ipv6, ip.to_string(), relation, 1),
            Err(_) => {
                self.exact(IndicatorType::Domain, host.to_owned(), relation, 1);
                self.parents(host, 2);
            }
        }
    }
}

/// The links of a canonical value of type `kind`.
pub fn links(kind: IndicatorType, value: &str) -> Links {
    let mut l = Links::default();
    match kind {
        IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
            if let Ok(ip) = value.parse::<IpAddr>() {
                networks(&mut l, ip, if ip.is_ipv4() { 32 } else { 128 }, true);
                match ip {
                    IpAddr::V4(_) => l.urls_on(value),
                    IpAddr::V6(_) => l.urls_on(&format!("[{value}]")),
                }
            }
        }
        IndicatorType::Cidr => {
            if let Some((ip, len)) = parse_cidr(value) {
                networks(&mut l, ip, len, false);
                if let (IpAddr::V4(v4), 8..) = (ip, len) {
                    // Addresses and networks inside, by the dotted prefix of
                    // the whole octets; `inside` drops the rest.
                    let octets = v4.octets();
                    let whole = usize::from(len / 8).min(3);
                    let mut prefix = String::new();
                    for o in &octets[..whole] {
                        prefix.push_str(&o.to_string());
                        prefix.push('.');
                    }
                    if len == 32 {
                        prefix = v4.to_string();
                    }
                    l.prefix(IndicatorType::Ipv4, prefix.clone(), "contains");
                    l.prefix(IndicatorType::Cidr, prefix, "contains");
                }
            }
        }
        IndicatorType::Url => {
            if let Some(host) = url_host(value) {
                l.host(host, "host-of");
            }
        }
        IndicatorType::Email => {
            if let Some((_, domain)) = value.rsplit_once('@') {
                l.host(domain, "domain-of");
            }
        }
        IndicatorType::Domain => {
            l.parents(value, 1);
            l.urls_on(value);
            l.under(IndicatorType::Domain, value, "subdomain");
            l.under(IndicatorType::Email, value, "email-at");
        }
        _ => {}
    }
    l
}

/// Whether a stored indicator found through a prefix link really is what
/// the link means (an address inside the network; a URL on the host).
pub fn keeps(asked: IndicatorType, asked_value: &str, found: IndicatorType, value: &str) -> bool {
    match (asked, found) {
        (IndicatorType::Cidr, IndicatorType::Ipv4 | IndicatorType::Cidr) => {
            let (Some((net, len)), Some((inner, inner_len))) = (
                parse_cidr(asked_value),
                parse_cidr(value).or_else(|| value.parse().ok().map(|ip| (ip, 32))),
            ) else {
                return false;
            };
            // Strictly inside: the network itself is not its own content.
            inner_len >= len && contains(net, len, inner) && value != asked_value
        }
        _ => true,
    }
}

/// The host of a domain (itself) or of an e-mail address (after the `@`).
pub fn host_of(kind: IndicatorType, value: &str) -> Option<&str> {
    match kind {
        IndicatorType::Domain => Some(value),
        IndicatorType::Email => value.rsplit_once('@').map(|(_, host)| host),
        _ => None,
    }
}

/// Whether a stored domain or e-mail address lies at or below `domain`:
/// its host is `domain` or ends in `.` and `domain` (so `notexample.com`
/// is not below `example.com`).
pub fn lies_under(domain: &str, kind: IndicatorType, value: &str) -> bool {
    host_of(kind, value).is_some_and(|host| {
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// Labels below `domain` of a host that lies under it (0 for the domain
/// itself), to list the nearest first.
pub fn depth_under(domain: &str, host: &str) -> usize {
    host.len()
        .checked_sub(domain.len())
        .and_then(|n| host.get(..n))
        .map_or(0, |rest| rest.bytes().filter(|&b| b == b'.').count())
}

/// Adds the networks `ip` lies in, widest first, narrower than `len` unless
/// `inclusive` (an address lies in its own `/32`).
fn networks(l: &mut Links, ip: IpAddr, len: u8, inclusive: bool) {
    let (min, max) = if ip.is_ipv4() { (8, 32) } else { (16, 128) };
    let top = if inclusive {
        len
    } else {
        len.saturating_sub(1)
    };
    for n in min..=top.min(max) {
        l.exact(
            IndicatorType::Cidr,
            format!("{}/{n}", network(ip, n)),
            "contained-in",
            1,
        );
    }
}

fn network(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && network(net, len) == network(ip, len)
}

fn parse_cidr(value: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = value.split_once('/')?;
    Some((addr.parse().ok()?, len.parse().ok()?))
}

/// The host of a canonical URL (`[v6]` kept bracketed), without user or port.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// How much of a related indicator's score carries over through `relation`.
pub fn weight(relation: &str) -> f64 {
    match relation {
        "host-of" => 0.8,
        "domain-of" => 0.6,
        "contains" | "url-on" | "subdomain" | "email-at" => 0.3,
        "shared-items" => 0.2,
        // contained-in, parent-domain and every stated relation.
        _ => 0.5,
    }
}

/// One related indicator as the score sees it.
#[derive(Debug, Clone)]
pub struct Neighbour<'a> {
    /// Its value.
    pub value: &'a str,
    /// How it relates.
    pub relation: &'a str,
    /// Steps away.
    pub hop: u8,
    /// Its stored score.
    pub score: u8,
    /// Its stored status.
    pub status: LookupStatus,
}

/// The score of a value whose own score is `own`, raised by its
/// neighbours, with a `relation` factor per contribution (see the module
/// docs for the formula).
pub fn with_relations(
    own: u8,
    allowlisted: bool,
    neighbours: &[Neighbour<'_>],
) -> (u8, Vec<Factor>) {
    if allowlisted {
        return (own, Vec::new());
    }
    let mut parts: Vec<(f64, String)> = neighbours
        .iter()
        .filter(|n| {
            n.hop <= COUNTED_HOPS
                && !matches!(n.status, LookupStatus::Allowlisted | LookupStatus::Retired)
        })
        .map(|n| {
            let decay = 0.5_f64.powi(i32::from(n.hop) - 1);
            let w = weight(n.relation);
            let c = w * f64::from(n.score) * decay;
            let hops = if n.hop > 1 {
                format!(" × {decay} ({} hops)", n.hop)
            } else {
                String::new()
            };
            (
                c,
                format!("{} {} (score {}) × {w}{hops}", n.relation, n.value, n.score),
            )
        })
        .filter(|(c, _)| *c >= 0.5)
        .collect();
    if parts.is_empty() {
        return (own, Vec::new());
    }
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let keep = parts.iter().fold(1.0, |k, (c, _)| k * (1.0 - c / 100.0));
    let rel = (100.0 * (1.0 - keep)).min(RELATION_CAP);
    let own_f = f64::from(own);
    let total = (own_f + (100.0 - own_f) * rel / 100.0).round();
    // Within own..=100 and rounded, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = total.clamp(own_f, 100.0) as u8;
    let mut factors: Vec<Factor> = parts
        .into_iter()
        .take(LISTED_FACTORS)
        .map(|(c, reason)| Factor {
            name: "relation",
            value: (c * 10.0).round() / 10.0,
            reason,
        })
        .collect();
    factors.push(Factor {
        name: "relations",
        value: f64::from(total - own),
        reason: format!(
            "related indicators combined ({:.0} of at most {RELATION_CAP:.0}), applied to the {} points left above {own}",
            rel,
            100 - own
        ),
    });
    (total, factors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(l: &Links) -> Vec<(IndicatorType, &str, &str, u8)> {
        l.exact
            .iter()
            .map(|x| (x.kind, x.value.as_str(), x.relation, x.hop))
            .collect()
    }

    #[test]
    fn an_address_lies_in_every_network_above_it() {
        let l = links(IndicatorType::Ipv4, "45.0.7.7");
        let e = exact(&l);
        assert!(e.contains(&(IndicatorType::Cidr, "45.0.0.0/16", "contained-in", 1)));
        assert!(e.contains(&(IndicatorType::Cidr, "45.0.7.0/24", "contained-in", 1)));
        assert!(e.contains(&(IndicatorType::Cidr, "45.0.7.7/32", "contained-in", 1)));
        assert!(e.contains(&(IndicatorType::Cidr, "45.0.0.0/8", "contained-in", 1)));
        assert!(e.contains(&(IndicatorType::Cidr, "45.0.4.0/22", "contained-in", 1)));
        assert!(e.contains(&(IndicatorType::Url, "http://45.0.7.7", "url-on", 1)));
        let v6 = links(IndicatorType::Ipv6, "2001:db8::1");
        assert!(exact(&v6).contains(&(IndicatorType::Cidr, "2001:db8::/32", "contained-in", 1)));
        assert!(
            v6.prefixes
                .iter()
                .any(|p| p.value == "https://[2001:db8::1]/")
        );
    }

    #[test]
    fn a_network_lies_in_wider_ones_and_contains_narrower() {
        let l = links(IndicatorType::Cidr, "10.1.0.0/16");
        let e = exact(&l);
        assert!(e.contains(&(IndicatorType::Cidr, "10.0.0.0/8", "contained-in", 1)));
        assert!(!e.iter().any(|x| x.1 == "10.1.0.0/16"), "not in itself");
        assert!(
            l.prefixes
                .iter()
                .any(|p| p.kind == IndicatorType::Ipv4 && p.value == "10.1.")
        );
        assert!(keeps(
            IndicatorType::Cidr,
            "10.1.0.0/16",
            IndicatorType::Ipv4,
            "10.1.2.3"
        ));
        assert!(keeps(
            IndicatorType::Cidr,
            "10.1.0.0/16",
            IndicatorType::Cidr,
            "10.1.4.0/24"
        ));
        assert!(!keeps(
            IndicatorType::Cidr,
            "10.1.0.0/16",
            IndicatorType::Cidr,
            "10.1.0.0/16"
        ));
        // A /20 reads its /16's prefix and keeps only what is inside.
        assert!(keeps(
            IndicatorType::Cidr,
            "10.1.16.0/20",
            IndicatorType::Ipv4,
            "10.1.31.9"
        ));
        assert!(!keeps(
            IndicatorType::Cidr,
            "10.1.16.0/20",
            IndicatorType::Ipv4,
            "10.1.32.1"
        ));
    }

    #[test]
    fn a_url_points_at_its_host_and_the_parents() {
        let e = links(IndicatorType::Url, "http://user@a.b.evil.com:8080/x?y");
        assert_eq!(
            exact(&e),
            [
                (IndicatorType::Domain, "a.b.evil.com", "host-of", 1),
                (IndicatorType::Domain, "b.evil.com", "parent-domain", 2),
                (IndicatorType::Domain, "evil.com", "parent-domain", 3),
            ]
        );
        let ip = links(IndicatorType::Url, "https://[2001:db8::1]:443/");
        assert_eq!(
            exact(&ip),
            [(IndicatorType::Ipv6, "2001:db8::1", "host-of", 1)]
        );
        let mail = links(IndicatorType::Email, "x@mail.evil.com");
        assert_eq!(
            exact(&mail)[0],
            (IndicatorType::Domain, "mail.evil.com", "domain-of", 1)
        );
        let d = links(IndicatorType::Domain, "a.evil.co.uk");
        assert!(exact(&d).contains(&(IndicatorType::Domain, "evil.co.uk", "parent-domain", 1)));
        assert!(exact(&d).contains(&(IndicatorType::Domain, "co.uk", "parent-domain", 2)));
        assert!(!exact(&d).iter().any(|x| x.1 == "uk"), "never the TLD");
        assert!(
            links(IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e")
                .exact
                .is_empty()
        );
    }

    #[test]
    fn a_domain_reads_what_lies_below_it_and_nothing_that_only_ends_alike() {
        let l = links(IndicatorType::Domain, "example.com");
        let under: Vec<_> = l
            .under
            .iter()
            .map(|x| (x.kind, x.value.as_str(), x.relation, x.hop))
            .collect();
        assert_eq!(
            under,
            [
                (IndicatorType::Domain, "example.com", "subdomain", 1),
                (IndicatorType::Email, "example.com", "email-at", 1),
            ]
        );
        assert!(
            links(IndicatorType::Url, "http://example.com/")
                .under
                .is_empty()
        );
        assert!(
            links(IndicatorType::Email, "a@example.com")
                .under
                .is_empty()
        );
        let d = IndicatorType::Domain;
        let e = IndicatorType::Email;
        assert!(lies_under("example.com", d, "a.example.com"));
        assert!(lies_under("example.com", d, "b.a.example.com"));
        assert!(lies_under("example.com", d, "example.com"));
        assert!(!lies_under("example.com", d, "notexample.com"));
        assert!(!lies_under("example.com", d, "example.com.evil.net"));
        assert!(lies_under("example.com", e, "x@example.com"));
        assert!(lies_under("example.com", e, "x@mail.example.com"));
        assert!(!lies_under("example.com", e, "x@notexample.com"));
        assert!(!lies_under(
            "example.com",
            IndicatorType::Url,
            "http://a.example.com/"
        ));
        assert_eq!(depth_under("example.com", "example.com"), 0);
        assert_eq!(depth_under("example.com", "a.example.com"), 1);
        assert_eq!(depth_under("example.com", "b.a.example.com"), 2);
        assert!((weight("subdomain") - 0.3).abs() < 1e-9);
        assert!((weight("email-at") - 0.3).abs() < 1e-9);
    }

    #[test]
    fn relations_raise_the_score_with_decay_and_a_cap() {
        let n = |relation, hop, score| Neighbour {
            value: "x",
            relation,
            hop,
            score,
            status: LookupStatus::Active,
        };
        // An unknown URL on a host scored 80: 0.8 × 80 = 64, capped at 60.
        let (s, f) = with_relations(0, false, &[n("host-of", 1, 80)]);
        assert_eq!(s, 60);
        assert!((f[0].value - 64.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.last().unwrap().name, "relations");
        // A parent two hops away counts half: 0.5 × 80 × 0.5 = 20.
        assert_eq!(with_relations(0, false, &[n("parent-domain", 2, 80)]).0, 20);
        // Three hops away: listed by the lookup, not counted.
        assert_eq!(with_relations(0, false, &[n("parent-domain", 3, 80)]).0, 0);
        // Two pieces of evidence combine: 1 − (1 − .4)(1 − .2) = .52.
        let two = [n("contained-in", 1, 80), n("shared-items", 1, 100)];
        assert_eq!(with_relations(0, false, &two).0, 52);
        // A known value keeps its own score and gains on what is left.
        assert_eq!(with_relations(50, false, &two).0, 76);
        // Allow-listed stays as it is; retired neighbours add nothing.
        assert_eq!(with_relations(0, true, &two).0, 0);
        let retired = Neighbour {
            status: LookupStatus::Retired,
            ..n("host-of", 1, 90)
        };
        assert_eq!(with_relations(10, false, &[retired]), (10, Vec::new()));
    }
}
