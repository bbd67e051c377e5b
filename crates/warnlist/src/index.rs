//! The compiled form of a set of lists: one lookup structure per kind, shared
//! by all lists of that kind, so a check costs a few lookups however many
//! lists and entries there are.
//!
//! - `string`: one hash map, entry → lists.
//! - `hostname`: one hash map; a host is looked up, then each of its label
//!   suffixes (`a.b.example.com`, `b.example.com`, `example.com`, `com`).
//! - `cidr`: per address family, per prefix length present, a hash map from
//!   masked network to lists; an address is masked once per length.
//! - `substring`: one Aho-Corasick automaton over every entry of every list.
//! - `regex`: one `RegexSet` over every pattern of every list.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::RegexSet;
use rexist_core::IndicatorType;

use crate::entry::{self, BadEntry, Entry};
use crate::list::{ListKind, WarningList, type_bit, type_mask};

/// A list to compile: its description and its entries as written.
pub(crate) struct ListInput {
    pub(crate) meta: WarningList,
    pub(crate) entries: Vec<String>,
}

/// An entry that could not be compiled, before it becomes a public `Skipped`.
pub(crate) struct Rejected {
    pub(crate) list: usize,
    pub(crate) entry: String,
    pub(crate) reason: String,
}

/// Which list an indexed entry belongs to, and the entry's text.
#[derive(Debug, Clone, Copy)]
struct Owner {
    list: u32,
    entry: u32,
}

/// The compiled lookup structures of a set of lists.
pub(crate) struct Index {
    /// The lists, in input order; a list's number is its position here.
    pub(crate) lists: Vec<WarningList>,
    /// Per list: bit mask of the indicator types it checks (see `type_bit`).
    masks: Vec<u16>,
    /// Entry texts reported in matches, for kinds whose lookup key is not the
    /// entry as written (`cidr`, `regex`).
    texts: Vec<Box<str>>,
    /// `string` entries, lower-case → lists.
    exact: HashMap<Box<str>, Vec<u32>>,
    /// `hostname` entries, normalised → lists.
    hosts: HashMap<Box<str>, Vec<u32>>,
    /// `substring` entries of all lists.
    substrings: Option<Substrings>,
    /// `regex` entries of all lists.
    regexes: Option<Regexes>,
    /// `cidr` entries, IPv4.
    v4: PrefixTable<u32>,
    /// `cidr` entries, IPv6.
    v6: PrefixTable<u128>,
}

struct Substrings {
    automaton: AhoCorasick,
    /// Per pattern id: the pattern (lower-case) and the lists that have it.
    patterns: Vec<(Box<str>, Vec<u32>)>,
}

struct Regexes {
    set: RegexSet,
    /// Per pattern id: owning list and the entry as written.
    owners: Vec<Owner>,
}

/// Networks of one address family by prefix length.
struct PrefixTable<A> {
    /// Longest prefix first, so the most specific entry of a list is found first.
    by_len: Vec<(u8, HashMap<A, Vec<Owner>>)>,
}

trait Bits: Copy + Eq + Hash {
    fn masked(self, len: u8) -> Self;
}

impl Bits for u32 {
    fn masked(self, len: u8) -> Self {
        entry::mask_v4(self, len)
    }
}

impl Bits for u128 {
    fn masked(self, len: u8) -> Self {
        entry::mask_v6(self, len)
    }
}

impl<A: Bits> PrefixTable<A> {
    fn from_map(map: BTreeMap<u8, HashMap<A, Vec<Owner>>>) -> Self {
        Self {
            by_len: map.into_iter().rev().collect(),
        }
    }

    fn lookup(&self, addr: A, max_len: u8, hit: &mut impl FnMut(Owner)) {
        for (len, nets) in &self.by_len {
            if *len > max_len {
                continue;
            }
            if let Some(owners) = nets.get(&addr.masked(*len)) {
                owners.iter().copied().for_each(&mut *hit);
            }
        }
    }
}

fn push_unique(lists: &mut Vec<u32>, list: u32) {
    if !lists.contains(&list) {
        lists.push(list);
    }
}

fn push_owner<A: Bits>(
    map: &mut BTreeMap<u8, HashMap<A, Vec<Owner>>>,
    net: A,
    len: u8,
    owner: Owner,
) {
    let owners = map.entry(len).or_default().entry(net).or_default();
    if !owners.iter().any(|o| o.list == owner.list) {
        owners.push(owner);
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 lists and entries")
}

impl Index {
    /// Compiles `inputs`. A bad entry is returned as a [`Rejected`] and left
    /// out; `strict` is passed to [`entry::parse`]. Each list's `entries`
    /// count is set to the number of entries kept.
    pub(crate) fn build(inputs: Vec<ListInput>, strict: bool) -> (Self, Vec<Rejected>) {
        let mut lists = Vec::with_capacity(inputs.len());
        let mut masks = Vec::with_capacity(inputs.len());
        let mut texts: Vec<Box<str>> = Vec::new();
        let mut exact: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut hosts: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut substring_ids: HashMap<Box<str>, usize> = HashMap::new();
        let mut substrings: Vec<(Box<str>, Vec<u32>)> = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_owners: Vec<Owner> = Vec::new();
        let mut v4: BTreeMap<u8, HashMap<u32, Vec<Owner>>> = BTreeMap::new();
        let mut v6: BTreeMap<u8, HashMap<u128, Vec<Owner>>> = BTreeMap::new();
        let mut rejected = Vec::new();

        for (n, input) in inputs.into_iter().enumerate() {
            let ListInput { mut meta, entries } = input;
            let list = to_u32(n);
            let mut kept = 0usize;
            for raw in entries {
                let parsed = match entry::parse(meta.kind, &raw, strict) {
                    Ok(parsed) => parsed,
                    Err(BadEntry(reason)) => {
                        rejected.push(Rejected {
                            list: n,
                            entry: raw,
                            reason,
                        });
                        continue;
                    }
                };
                kept += 1;
                match parsed {
                    Entry::Exact(e) => push_unique(exact.entry(e.into()).or_default(), list),
                    Entry::Host(h) => push_unique(hosts.entry(h.into()).or_default(), list),
                    Entry::Substring(s) => {
                        let id = *substring_ids.entry(s.as_str().into()).or_insert_with(|| {
                            substrings.push((s.into(), Vec::new()));
                            substrings.len() - 1
                        });
                        push_unique(&mut substrings[id].1, list);
                    }
                    Entry::Pattern(p) => {
                        patterns.push(p);
                        pattern_owners.push(Owner {
                            list,
                            entry: to_u32(texts.len()),
                        });
                        texts.push(raw.trim().into());
                    }
                    Entry::Network { addr, len } => {
                        let owner = Owner {
                            list,
                            entry: to_u32(texts.len()),
                        };
                        texts.push(raw.trim().into());
                        match addr {
                            IpAddr::V4(a) => push_owner(&mut v4, u32::from(a), len, owner),
                            IpAddr::V6(a) => push_owner(&mut v6, u128::from(a), len, owner),
                        }
                    }
                }
            }
            meta.entries = kept;
            masks.push(type_mask(&meta.types));
            lists.push(meta);
        }

        let substrings = (!substrings.is_empty()).then(|| {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(substrings.iter().map(|(p, _)| p.as_bytes()))
                .expect("non-empty substring patterns within aho-corasick's limits");
            Substrings {
                automaton,
                patterns: substrings,
            }
        });

        let regexes = if patterns.is_empty() {
            None
        } else {
            // Every pattern compiled alone, so the set should too; if it does
            // not (size limits), its patterns are reported rather than lost.
            match regex::RegexSetBuilder::new(&patterns)
                .size_limit(64 << 20)
                .build()
            {
                Ok(set) => Some(Regexes {
                    set,
                    owners: pattern_owners,
                }),
                Err(e) => {
                    for owner in pattern_owners {
                        rejected.push(Rejected {
                            list: owner.list as usize,
                            entry: texts[owner.entry as usize].to_string(),
                            reason: format!("pattern set not supported: {e}"),
                        });
                        lists[owner.list as usize].entries -= 1;
                    }
                    None
                }
            }
        };

        let index = Self {
            lists,
            masks,
            texts,
            exact,
            hosts,
            substrings,
            regexes,
            v4: PrefixTable::from_map(v4),
            v6: PrefixTable::from_map(v6),
        };
        (index, rejected)
    }

    /// Calls `hit(list, entry)` for every entry matching `value`, for lists of
    /// the kinds in `kinds` (a mask of `ListKind::bit`) that check `kind`.
    /// A list may be reported more than once; its most specific entry first.
    pub(crate) fn check(
        &self,
        kind: IndicatorType,
        value: &str,
        kinds: u8,
        hit: &mut impl FnMut(usize, &str),
    ) {
        let tbit = type_bit(kind);
        let mut report = |list: u32, entry: &str| {
            let list = list as usize;
            if self.masks[list] & tbit != 0 {
                hit(list, entry);
            }
        };
        let wants = |k: ListKind| kinds & k.bit() != 0;
        let needs_lower = wants(ListKind::String) || wants(ListKind::Hostname);
        let lower = if needs_lower {
            ascii_lower(value)
        } else {
            Cow::Borrowed(value)
        };

        if wants(ListKind::String) {
            if let Some((entry, lists)) = self.exact.get_key_value(lower.as_ref()) {
                for list in lists {
                    report(*list, entry);
                }
            }
        }
        if wants(ListKind::Hostname) {
            let host = match kind {
                IndicatorType::Url => url_host(&lower),
                IndicatorType::Email => lower.rsplit_once('@').map(|(_, d)| d),
                _ => Some(lower.as_ref()),
            };
            if let Some(host) = host {
                self.check_host(host, &mut report);
            }
        }
        if wants(ListKind::Cidr) {
            self.check_ip(kind, value, &mut report);
        }
        if wants(ListKind::Substring) {
            if let Some(subs) = &self.substrings {
                for m in subs.automaton.find_overlapping_iter(value) {
                    let (pattern, lists) = &subs.patterns[m.pattern().as_usize()];
                    for list in lists {
                        report(*list, pattern);
                    }
                }
            }
        }
        if wants(ListKind::Regex) {
            if let Some(re) = &self.regexes {
                for id in &re.set.matches(value) {
                    let owner = re.owners[id];
                    report(owner.list, &self.texts[owner.entry as usize]);
                }
            }
        }
    }

    fn check_host(&self, host: &str, report: &mut impl FnMut(u32, &str)) {
        let host = host.strip_suffix('.').unwrap_or(host);
        // An IP literal has no parent domains: `2.3.4` is not one of `1.2.3.4`.
        let is_ip = host.contains(':') || host.parse::<Ipv4Addr>().is_ok();
        let mut rest = host;
        loop {
            if let Some((entry, lists)) = self.hosts.get_key_value(rest) {
                for list in lists {
                    report(*list, entry);
                }
            }
            if is_ip {
                break;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
        }
    }

    fn check_ip(&self, kind: IndicatorType, value: &str, report: &mut impl FnMut(u32, &str)) {
        let (addr, len) = match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => match parse_ip(value) {
                Some(ip) => (ip, None),
                None => return,
            },
            IndicatorType::Cidr => match entry::network(value, false) {
                Ok((ip, len)) => (ip, Some(len)),
                Err(_) => return,
            },
            IndicatorType::Url => match url_host(value).and_then(parse_ip) {
                Some(ip) => (ip, None),
                None => return,
            },
            _ => return,
        };
        let mut by_owner = |o: Owner| report(o.list, &self.texts[o.entry as usize]);
        match addr {
            IpAddr::V4(a) => self
                .v4
                .lookup(u32::from(a), len.unwrap_or(32), &mut by_owner),
            IpAddr::V6(a) => self
                .v6
                .lookup(u128::from(a), len.unwrap_or(128), &mut by_owner),
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    inner.parse().ok()
}

/// `s` in ASCII lower case, borrowed when it already is.
fn ascii_lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The host of a canonical URL (`scheme://[userinfo@]host[:port]/…`), without
/// the brackets of an IPv6 literal.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(bracketed) = hostport.strip_prefix('[') {
        return bracketed.split_once(']').map(|(h, _)| h);
    }
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("http://evil.com/x"), Some("evil.com"));
        assert_eq!(url_host("https://u:p@evil.com:8443?q"), Some("evil.com"));
        assert_eq!(url_host("http://[2001:db8::1]:80/"), Some("2001:db8::1"));
        assert_eq!(url_host("http://192.0.2.1#f"), Some("192.0.2.1"));
        assert_eq!(url_host("evil.com/x"), None);
        assert_eq!(url_host("http:///x"), None);
    }
}
