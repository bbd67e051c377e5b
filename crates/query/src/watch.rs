//! Watchlists: hunts over indicators rather than text ("tell me when our own domains or
//! address ranges show up in any source").
//!
//! A watchlist is a text of entries, parsed by [`parse_watchlist`]; many watchlists are
//! compiled into one [`WatchSet`], which answers per indicator with hash look-ups only, so
//! its cost does not grow with the number of watches. The syntax and the matching rules
//! are in the [crate docs](crate#watchlists).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use rexist_core::indicator::truncate;
use rexist_core::{IndicatorType, SourceClass, canonicalize};

use crate::error::ParseError;
use crate::matcher::Hit;
use crate::parse::{MAX_REGEX_LEN, REGEX_SIZE_LIMIT, regex_message};

/// Longest accepted watchlist text, in bytes.
pub const MAX_WATCHLIST_LEN: usize = 4 << 20;

/// Largest compiled size of all URL regexes of a [`WatchSet`] together; past it they are
/// run one by one.
const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;

/// An IPv4 or IPv6 network, `address/prefix`, with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// The network of `prefix` leading bits around `addr` (host bits are cleared);
    /// `None` when `prefix` exceeds the address length.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = match addr {
            IpAddr::V4(a) if prefix <= 32 => IpAddr::V4(mask_v4(a.into(), prefix).into()),
            IpAddr::V6(a) if prefix <= 128 => IpAddr::V6(mask_v6(a.into(), prefix).into()),
            _ => return None,
        };
        Some(Self { addr, prefix })
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies inside the network (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        Network::new(ip, self.prefix).is_some_and(|n| n == *self)
    }

    /// The one-address network of `ip`.
    fn host(ip: IpAddr) -> Self {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        Self { addr: ip, prefix }
    }

    /// Parses `address/prefix` (an IPv6 address may be bracketed); `None` if malformed.
    fn parse(s: &str) -> Option<Self> {
        let (addr, len) = s.split_once('/')?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        Network::new(addr.parse().ok()?, len.parse().ok()?)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask_v4(a: u32, prefix: u8) -> u32 {
    a & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(a: u128, prefix: u8) -> u128 {
    a & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// One entry of a watchlist.
///
/// [`parse_watchlist`] never yields `Value` of type `cidr`, `domain` or `asn` (those are
/// `Cidr`, `Domain` and `Asn`); built by hand, such a `Value` matches exactly, and its
/// `Display` re-parses as the wider entry.
#[derive(Debug, Clone)]
pub enum WatchEntry {
    /// Exactly this indicator: type and canonical value.
    Value(IndicatorType, String),
    /// Addresses, sub-networks and URLs with an IP host inside this network.
    Cidr(Network),
    /// This canonical domain and all its sub-domains, as domains, URL hosts and e-mail domains.
    Domain(String),
    /// This autonomous system number.
    Asn(u32),
    /// URLs this regex matches, case-insensitively.
    UrlRegex(Regex),
    /// A CVE reported by a social, news or exchange source (only this
    /// class when given) while no NVD, JVN or KEV source has reported it:
    /// `early-warning:cve`, `early-warning:social`. It depends on what the
    /// store holds, so [`WatchSet::matches`] never reports it; the hunter
    /// asks [`WatchSet::early_warnings`] and checks the store.
    EarlyWarning(Option<SourceClass>),
}

/// The name of the early-warning condition in watchlists.
pub const EARLY_WARNING: &str = "early-warning";

impl PartialEq for WatchEntry {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Value(k, v), Self::Value(k2, v2)) => k == k2 && v == v2,
            (Self::Cidr(n), Self::Cidr(n2)) => n == n2,
            (Self::Domain(d), Self::Domain(d2)) => d == d2,
            (Self::Asn(a), Self::Asn(a2)) => a == a2,
            (Self::UrlRegex(r), Self::UrlRegex(r2)) => r.as_str() == r2.as_str(),
            (Self::EarlyWarning(c), Self::EarlyWarning(c2)) => c == c2,
            _ => false,
        }
    }
}

impl Eq for WatchEntry {}

impl fmt::Display for WatchEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(kind, v) => write!(f, "{kind}:{v}"),
            Self::Cidr(n) => write!(f, "cidr:{n}"),
            Self::Domain(d) => write!(f, "domain:{d}"),
            Self::Asn(n) => write!(f, "asn:AS{n}"),
            Self::EarlyWarning(None) => write!(f, "{EARLY_WARNING}:cve"),
            Self::EarlyWarning(Some(class)) => write!(f, "{EARLY_WARNING}:{class}"),
            Self::UrlRegex(re) => {
                // Slashes delimit the regex in the text form.
                f.write_str("url:/")?;
                let mut escaped = false;
                for c in re.as_str().chars() {
                    if c == '/' && !escaped {
                        f.write_str("\\")?;
                    }
                    escaped = c == '\\' && !escaped;
                    write!(f, "{c}")?;
                }
                f.write_str("/")
            }
        }
    }
}

impl FromStr for WatchEntry {
    type Err = ParseError;

    /// Exactly one entry in watchlist syntax.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = parse_watchlist(s)?;
        match (entries.pop(), entries.is_empty()) {
            (Some(e), true) => Ok(e),
            (None, _) => Err(ParseError::new(0, "empty entry")),
            (Some(_), false) => Err(ParseError::new(0, "more than one entry")),
        }
    }
}

/// Parse a watchlist. See the [crate docs](crate#watchlists) for the syntax.
///
/// # Errors
/// A [`ParseError`] with the byte offset in `text` of the first bad entry.
pub fn parse_watchlist(text: &str) -> Result<Vec<WatchEntry>, ParseError> {
    if text.len() > MAX_WATCHLIST_LEN {
        let at = (0..=MAX_WATCHLIST_LEN)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        return Err(ParseError::new(at, "watchlist too long"));
    }
    let mut entries = Vec::new();
    let mut pos = 0;
    while let Some(c) = text.get(pos..).and_then(|r| r.chars().next()) {
        let rest = &text[pos..];
        if c.is_whitespace() || c == ',' {
            pos += c.len_utf8();
        } else if c == '#' {
            pos += rest.find('\n').unwrap_or(rest.len());
        } else if let Some((entry, len)) = url_regex_entry(rest, pos)? {
            entries.push(entry);
            pos += len;
        } else {
            let len = entry_len(rest);
            entries.push(parse_entry(rest[..len].trim_end(), pos)?);
            pos += len;
        }
    }
    Ok(entries)
}

/// Length of the entry at the start of `rest`: up to a comma, a newline, or a `#` after
/// white space (a `#` inside a value is a URL fragment, not a comment).
fn entry_len(rest: &str) -> usize {
    let mut prev_space = false;
    for (i, c) in rest.char_indices() {
        if c == ',' || c == '\n' || (c == '#' && prev_space) {
            return i;
        }
        prev_space = c.is_whitespace();
    }
    rest.len()
}

/// A `url:/regex/` entry at the start of `rest` (at byte `at` of the text) and its length;
/// `None` if `rest` is another kind of entry. Scanned apart because a regex may hold `,`
/// and `#`.
fn url_regex_entry(rest: &str, at: usize) -> Result<Option<(WatchEntry, usize)>, ParseError> {
    let Some(after) = rest
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("url:"))
        .map(|_| &rest[4..])
    else {
        return Ok(None);
    };
    let Some(body) = after.trim_start_matches([' ', '\t']).strip_prefix('/') else {
        return Ok(None);
    };
    let body_at = rest.len() - body.len();
    // `\/` stands for `/`; the stored source has plain slashes (Display escapes them).
    let mut source = String::new();
    let mut escaped = false;
    let mut close = None;
    for (i, c) in body.char_indices() {
        if c == '\n' {
            break;
        } else if escaped {
            if c != '/' {
                source.push('\\');
            }
            source.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '/' {
            close = Some(i);
            break;
        } else {
            source.push(c);
        }
    }
    let Some(close) = close else {
        return Err(ParseError::new(at, "unterminated regex"));
    };
    if source.is_empty() {
        return Err(ParseError::new(at, "empty regex"));
    }
    if source.len() > MAX_REGEX_LEN {
        return Err(ParseError::new(at, "regex too long"));
    }
    let re = url_regex(&source).map_err(|e| ParseError::new(at, regex_message(&e)))?;
    let tail = &body[close + 1..];
    let trimmed = tail.trim_start_matches([' ', '\t', '\r']);
    if !(trimmed.is_empty() || trimmed.starts_with([',', '\n', '#'])) {
        let tail_at = at + body_at + close + 1 + (tail.len() - trimmed.len());
        return Err(ParseError::new(tail_at, "unexpected text after regex"));
    }
    Ok(Some((WatchEntry::UrlRegex(re), rest.len() - tail.len())))
}

fn url_regex(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
}

/// One trimmed, non-empty entry starting at byte `at`.
fn parse_entry(raw: &str, at: usize) -> Result<WatchEntry, ParseError> {
    let err = |msg: String| ParseError::new(at, msg);
    if let Some((name, value)) = raw.split_once(':') {
        let name = name.trim().to_ascii_lowercase();
        if name == EARLY_WARNING {
            return early_warning(value.trim()).map_err(err);
        }
        let kind = if name == "ip" {
            None
        } else {
            match IndicatorType::from_str(&name) {
                Ok(kind) => Some(kind),
                // `2001:db8::1`, `http://…`: no type prefix.
                Err(_) => return parse_bare(raw, at),
            }
        };
        let value = refang(value.trim());
        if value.is_empty() {
            return Err(err(format!("empty value after '{name}:'")));
        }
        return typed_entry(kind, &value).map_err(err);
    }
    parse_bare(raw, at)
}

/// The condition of an `early-warning:` entry: `cve` (any discussion) or
/// one discussion class.
fn early_warning(condition: &str) -> Result<WatchEntry, String> {
    match condition.to_ascii_lowercase().as_str() {
        "cve" => Ok(WatchEntry::EarlyWarning(None)),
        other => match other.parse::<SourceClass>() {
            Ok(class) if class.is_discussion() => Ok(WatchEntry::EarlyWarning(Some(class))),
            _ => Err(format!(
                "unknown {EARLY_WARNING} condition '{}' (expected cve, social, news or exchange)",
                truncate(condition, 40)
            )),
        },
    }
}

/// A `type:value` entry; `kind` `None` is `ip:` (IPv4 or IPv6).
fn typed_entry(kind: Option<IndicatorType>, value: &str) -> Result<WatchEntry, String> {
    let canon = |kind| canonicalize(kind, value).map_err(|e| e.to_string());
    let Some(kind) = kind else {
        let kind = if value.contains(':') {
            IndicatorType::Ipv6
        } else {
            IndicatorType::Ipv4
        };
        return Ok(WatchEntry::Value(kind, canon(kind)?));
    };
    Ok(match kind {
        IndicatorType::Cidr => {
            WatchEntry::Cidr(Network::parse(&canon(kind)?).ok_or("invalid network")?)
        }
        IndicatorType::Domain => WatchEntry::Domain(canon(kind)?),
        IndicatorType::Asn => WatchEntry::Asn(asn_number(&canon(kind)?).ok_or("invalid asn")?),
        _ => WatchEntry::Value(kind, canon(kind)?),
    })
}

/// An entry without a type prefix: its type is detected.
fn parse_bare(raw: &str, at: usize) -> Result<WatchEntry, ParseError> {
    let value = refang(raw);
    let Some(kind) = IndicatorType::detect(&value) else {
        let msg = match raw.split_once(':') {
            Some((name, _)) if looks_like_type(name) => {
                format!("unknown type '{}'", truncate(name, 40))
            }
            _ => format!("not a recognised indicator: '{}'", truncate(raw, 80)),
        };
        return Err(ParseError::new(at, msg));
    };
    typed_entry(Some(kind), &value).map_err(|msg| ParseError::new(at, msg))
}

/// `sha3` in `sha3:…` is a type name nobody knows; `fe80` in `fe80:…` is a broken address.
fn looks_like_type(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Undoes the usual defanging: `example[.]com`, `hxxp://`, `a[@]b[.]c`.
fn refang(s: &str) -> Cow<'_, str> {
    const SWAPS: [(&str, &str); 11] = [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[@]", "@"),
        ("[at]", "@"),
        ("(at)", "@"),
        ("[/]", "/"),
    ];
    let scheme = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("hxxp"));
    if !scheme && !s.contains(['[', '(', '{']) {
        return Cow::Borrowed(s);
    }
    let mut out = s.to_owned();
    if scheme {
        out.replace_range(..4, "http");
    }
    for (from, to) in SWAPS {
        if out.contains(from) {
            out = out.replace(from, to);
        }
        let upper = from.to_ascii_uppercase();
        if upper != from && out.contains(&upper) {
            out = out.replace(&upper, to);
        }
    }
    Cow::Owned(out)
}

/// `AS64500` → 64500.
fn asn_number(canonical: &str) -> Option<u32> {
    canonical.strip_prefix("AS")?.parse().ok()
}

/// The host of a URL (IPv6 without brackets), without user info or port.
fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(hostport.rsplit_once(':').map_or(hostport, |(h, _)| h))
}

/// An entry of one watch: the watch's index and the index of the entry's label in it.
/// Ordered by watch, then by the entry's first position in the watch's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ref {
    watch: usize,
    label: usize,
}

#[derive(Debug, Clone)]
struct Watch {
    id: u64,
    /// Distinct entry texts, in entry order: what a hit reports.
    labels: Vec<String>,
}

/// Hits keyed by network address, one map per prefix length in use.
#[derive(Debug, Clone)]
struct ByPrefix<A> {
    /// Sorted by prefix length.
    maps: Vec<(u8, HashMap<A, Vec<Ref>>)>,
}

impl<A> Default for ByPrefix<A> {
    fn default() -> Self {
        Self { maps: Vec::new() }
    }
}

impl<A: std::hash::Hash + Eq + Copy> ByPrefix<A> {
    fn insert(&mut self, prefix: u8, addr: A, r: Ref) {
        let i = match self.maps.binary_search_by_key(&prefix, |(p, _)| *p) {
            Ok(i) => i,
            Err(i) => {
                self.maps.insert(i, (prefix, HashMap::new()));
                i
            }
        };
        self.maps[i].1.entry(addr).or_default().push(r);
    }

    /// Every network of at most `prefix` bits that holds `addr`, masked by `mask`.
    fn lookup(&self, addr: A, prefix: u8, mask: fn(A, u8) -> A, found: &mut Vec<Ref>) {
        for (len, map) in self.maps.iter().take_while(|(len, _)| *len <= prefix) {
            if let Some(refs) = map.get(&mask(addr, *len)) {
                found.extend(refs);
            }
        }
    }
}

/// Many watchlists compiled together for matching indicators one at a time.
///
/// [`matches`](Self::matches) costs a few hash look-ups per indicator (one per distinct
/// CIDR prefix length, one per domain label) plus one `RegexSet` run for URLs, whatever
/// the number of watches.
#[derive(Debug, Clone, Default)]
pub struct WatchSet {
    /// In registration order.
    watches: Vec<Watch>,
    /// Type → canonical value → entries.
    exact: HashMap<IndicatorType, HashMap<String, Vec<Ref>>>,
    v4: ByPrefix<u32>,
    v6: ByPrefix<u128>,
    /// Watched domain → entries; looked up with each label suffix of a host.
    domains: HashMap<String, Vec<Ref>>,
    asns: HashMap<u32, Vec<Ref>>,
    /// All distinct URL regexes; `None` when there are none or the set is too big to
    /// compile (then `url_regexes` are run one by one).
    url_set: Option<RegexSet>,
    url_regexes: Vec<Regex>,
    /// Per URL regex (set index): entries.
    url_refs: Vec<Vec<Ref>>,
    /// Early-warning entries with the class they are limited to, if any.
    early: Vec<(Option<SourceClass>, Ref)>,
}

impl WatchSet {
    /// Compile watches, each with its id and entries.
    pub fn new(watches: impl IntoIterator<Item = (u64, Vec<WatchEntry>)>) -> Self {
        let mut set = Self::default();
        let mut url_index: HashMap<String, usize> = HashMap::new();
        for (w, (id, entries)) in watches.into_iter().enumerate() {
            let mut labels: Vec<String> = Vec::new();
            let mut label_index: HashMap<String, usize> = HashMap::new();
            for entry in entries {
                let entry = canonical_entry(entry);
                let text = entry.to_string();
                let label = *label_index.entry(text).or_insert_with_key(|text| {
                    labels.push(text.clone());
                    labels.len() - 1
                });
                let r = Ref { watch: w, label };
                match entry {
                    WatchEntry::Value(kind, v) => {
                        set.exact
                            .entry(kind)
                            .or_default()
                            .entry(v)
                            .or_default()
                            .push(r);
                    }
                    WatchEntry::Cidr(n) => match n.addr {
                        IpAddr::V4(a) => set.v4.insert(n.prefix, a.into(), r),
                        IpAddr::V6(a) => set.v6.insert(n.prefix, a.into(), r),
                    },
                    WatchEntry::Domain(d) => set.domains.entry(d).or_default().push(r),
                    WatchEntry::Asn(n) => set.asns.entry(n).or_default().push(r),
                    WatchEntry::EarlyWarning(class) => set.early.push((class, r)),
                    WatchEntry::UrlRegex(re) => {
                        let next = set.url_regexes.len();
                        let i = *url_index.entry(re.as_str().to_owned()).or_insert(next);
                        if i == next {
                            set.url_regexes.push(re);
                            set.url_refs.push(Vec::new());
                        }
                        set.url_refs[i].push(r);
                    }
                }
            }
            set.watches.push(Watch { id, labels });
        }
        if !set.url_regexes.is_empty() {
            set.url_set = RegexSetBuilder::new(set.url_regexes.iter().map(Regex::as_str))
                .case_insensitive(true)
                .size_limit(REGEX_SET_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SET_SIZE_LIMIT)
                .build()
                .ok();
        }
        set
    }

    /// Number of watches in the set.
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// Whether the set has no watches.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Watches matching one indicator given by type and canonical value, in registration
    /// order; `Hit::terms` lists the text of each entry that matched, in entry order.
    pub fn matches(&self, kind: IndicatorType, value: &str) -> Vec<Hit> {
        let mut found = Vec::new();
        if let Some(refs) = self.exact.get(&kind).and_then(|m| m.get(value)) {
            found.extend(refs);
        }
        match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                let bare = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .unwrap_or(value);
                if let Ok(ip) = bare.parse() {
                    self.network(Network::host(ip), &mut found);
                }
            }
            IndicatorType::Cidr => {
                if let Some(n) = Network::parse(value) {
                    self.network(n, &mut found);
                }
            }
            IndicatorType::Domain => self.domain(value, &mut found),
            IndicatorType::Email => {
                if let Some((_, domain)) = value.rsplit_once('@') {
                    self.domain(domain, &mut found);
                }
            }
            IndicatorType::Url => {
                if let Some(host) = url_host(value) {
                    match host.parse::<IpAddr>() {
                        Ok(ip) => self.network(Network::host(ip), &mut found),
                        Err(_) => self.domain(host, &mut found),
                    }
                }
                self.url(value, &mut found);
            }
            IndicatorType::Asn => {
                if let Some(refs) = asn_number(value).and_then(|n| self.asns.get(&n)) {
                    found.extend(refs);
                }
            }
            _ => {}
        }
        self.hits(found)
    }

    /// Whether any watch has an early-warning entry.
    pub fn has_early_warnings(&self) -> bool {
        !self.early.is_empty()
    }

    /// Watches with an early-warning entry that a CVE report from a source
    /// of `class` satisfies, once the caller has found that no NVD, JVN or
    /// KEV source has reported the CVE; in registration order, with the
    /// entries' text as terms. Nothing for a class that is not discussion.
    pub fn early_warnings(&self, class: SourceClass) -> Vec<Hit> {
        if !class.is_discussion() {
            return Vec::new();
        }
        self.hits(
            self.early
                .iter()
                .filter(|(only, _)| only.is_none_or(|c| c == class))
                .map(|(_, r)| *r)
                .collect(),
        )
    }

    /// Entries whose network holds `net`.
    fn network(&self, net: Network, found: &mut Vec<Ref>) {
        match net.addr {
            IpAddr::V4(a) => self.v4.lookup(a.into(), net.prefix, mask_v4, found),
            IpAddr::V6(a) => self.v6.lookup(a.into(), net.prefix, mask_v6, found),
        }
    }

    /// Entries watching `host` or one of its parent domains.
    fn domain(&self, host: &str, found: &mut Vec<Ref>) {
        if self.domains.is_empty() {
            return;
        }
        // Values are canonical already; this only guards against a caller that is not.
        let host: Cow<'_, str> = if host.bytes().any(|b| b.is_ascii_uppercase()) || !host.is_ascii()
        {
            match canonicalize(IndicatorType::Domain, host) {
                Ok(h) => Cow::Owned(h),
                Err(_) => return,
            }
        } else {
            Cow::Borrowed(host.strip_suffix('.').unwrap_or(host))
        };
        let mut suffix: &str = &host;
        loop {
            if let Some(refs) = self.domains.get(suffix) {
                found.extend(refs);
            }
            match suffix.split_once('.') {
                Some((_, parent)) => suffix = parent,
                None => break,
            }
        }
    }

    fn url(&self, url: &str, found: &mut Vec<Ref>) {
        match &self.url_set {
            Some(set) => {
                for i in &set.matches(url) {
                    found.extend(&self.url_refs[i]);
                }
            }
            None => {
                for (re, refs) in self.url_regexes.iter().zip(&self.url_refs) {
                    if re.is_match(url) {
                        found.extend(refs);
                    }
                }
            }
        }
    }

    /// Entries found → one hit per watch, in registration then entry order.
    fn hits(&self, mut found: Vec<Ref>) -> Vec<Hit> {
        found.sort_unstable();
        found.dedup();
        let mut hits: Vec<Hit> = Vec::new();
        let mut current = None;
        for r in found {
            let watch = &self.watches[r.watch];
            if current != Some(r.watch) {
                current = Some(r.watch);
                hits.push(Hit {
                    hunt: watch.id,
                    terms: Vec::new(),
                });
            }
            if let Some(hit) = hits.last_mut() {
                hit.terms.push(watch.labels[r.label].clone());
            }
        }
        hits
    }
}

/// A hand-built entry in the form the parser would give it, so look-ups by canonical value
/// find it. URL regexes are recompiled case-insensitively when they can be.
fn canonical_entry(entry: WatchEntry) -> WatchEntry {
    match entry {
        WatchEntry::Value(kind, v) => {
            let v = canonicalize(kind, &v).unwrap_or(v);
            WatchEntry::Value(kind, v)
        }
        WatchEntry::Domain(d) => {
            let d = canonicalize(IndicatorType::Domain, &d).unwrap_or(d);
            WatchEntry::Domain(d)
        }
        WatchEntry::UrlRegex(re) => WatchEntry::UrlRegex(url_regex(re.as_str()).unwrap_or(re)),
        other @ (WatchEntry::Cidr(_) | WatchEntry::Asn(_) | WatchEntry::EarlyWarning(_)) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn entries(text: &str) -> Vec<String> {
        parse_watchlist(text)
            .expect("test watchlist parses")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn err(text: &str) -> (usize, String) {
        let e = parse_watchlist(text).expect_err("test watchlist is bad");
        (e.position, e.message)
    }

    fn set(lists: &[&str]) -> WatchSet {
        WatchSet::new(
            lists
                .iter()
                .zip(1u64..)
                .map(|(l, id)| (id, parse_watchlist(l).expect("test watchlist parses"))),
        )
    }

    /// Ids of the watches matching.
    fn ids(set: &WatchSet, kind: IndicatorType, value: &str) -> Vec<u64> {
        set.matches(kind, value)
            .into_iter()
            .map(|h| h.hunt)
            .collect()
    }

    fn hit(set: &WatchSet, kind: IndicatorType, value: &str) -> bool {
        !set.matches(kind, value).is_empty()
    }

    use IndicatorType::{Asn, Cidr, Domain, Email, Ipv4, Ipv6, Md5, Sha256, Url};

    #[test]
    fn syntax_separators_and_comments() {
        let list = "# our estate\n  example.com , 192.0.2.0/24\n\n,, AS64500 # transit\nhttp://x.example.net/#frag\r\n";
        assert_eq!(
            entries(list),
            [
                "domain:example.com",
                "cidr:192.0.2.0/24",
                "asn:AS64500",
                "url:http://x.example.net/#frag",
            ]
        );
        assert!(entries("").is_empty());
        assert!(entries(" \n # only a comment\n,").is_empty());
    }

    #[test]
    fn syntax_prefixed_forms() {
        let list = "ip:192.0.2.1, ip:2001:DB8::1, ipv4:198.51.100.7, ipv6:[2001:db8::2], \
                    cidr:2001:db8::/48, domain:*.Example.CO.JP, asn:64501, asn:AS64502, \
                    url:/login\\.php/, url:HTTP://Evil.example/x, md5:D41D8CD98F00B204E9800998ECF8427E, \
                    email:Bob@Example.com, cve:cve-2024-1234, sha-256:";
        let mut list = list.to_owned();
        list.push_str(SHA256);
        assert_eq!(
            entries(&list),
            [
                "ipv4:192.0.2.1",
                "ipv6:2001:db8::1",
                "ipv4:198.51.100.7",
                "ipv6:2001:db8::2",
                "cidr:2001:db8::/48",
                "domain:example.co.jp",
                "asn:AS64501",
                "asn:AS64502",
                "url:/login\\.php/",
                "url:http://evil.example/x",
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                "email:bob@example.com",
                "cve:CVE-2024-1234",
                &format!("sha256:{SHA256}"),
            ]
        );
    }

    #[test]
    fn syntax_bare_entries_are_detected() {
        assert_eq!(
            entries(
                "192.0.2.1\n2001:db8::/32\n2001:db8::7\nAS13335\n*.example.com\nBücher.DE\nhttps://example.com/a\nbob@example.org\nCVE-2021-44228"
            ),
            [
                "ipv4:192.0.2.1",
                "cidr:2001:db8::/32",
                "ipv6:2001:db8::7",
                "asn:AS13335",
                "domain:example.com",
                "domain:xn--bcher-kva.de",
                "url:https://example.com/a",
                "email:bob@example.org",
                "cve:CVE-2021-44228",
            ]
        );
    }

    #[test]
    fn syntax_defanged_input() {
        assert_eq!(
            entries(
                "example[.]com, hxxps://evil[.]example/x, bob[@]example(.)org, 192.0.2[.]1, domain:a[dot]example[DOT]net"
            ),
            [
                "domain:example.com",
                "url:https://evil.example/x",
                "email:bob@example.org",
                "ipv4:192.0.2.1",
                "domain:a.example.net",
            ]
        );
    }

    #[test]
    fn crate_doc_example_parses() {
        let doc = "# our estate                        # comment: at the start of an entry or after white space
example.com, *.example.co.jp        # bare domain: the domain and its sub-domains
192.0.2.0/24                        # bare network; 2001:db8::/48 too
198.51.100.7                        # bare IP: that address only
AS64500                             # bare AS number
hxxps://evil[.]example/x            # defanged input is accepted
domain:example.net, cidr:10.0.0.0/8, asn:64501, ip:2001:db8::1   # prefixed forms
url:/\\/wp-login\\.php/               # URL regex, case-insensitive; `\\/` for a slash
url:https://example.com/login       # exact URL
email:bob@example.com, cve:CVE-2024-3094   # exact values: also sha256:, md5:, btc:…
early-warning:cve                   # a CVE discussed before NVD, JVN or KEV has it
early-warning:social                # … discussed on social media (also news, exchange)
";
        assert_eq!(entries(doc).len(), 16);
        assert_eq!(entries("IPv4 : 192.0.2.1"), ["ipv4:192.0.2.1"]);
    }

    #[test]
    fn early_warning_entries() {
        assert_eq!(
            entries(
                "early-warning:cve, Early-Warning: Social\nearly-warning:news, early-warning:exchange # chatter"
            ),
            [
                "early-warning:cve",
                "early-warning:social",
                "early-warning:news",
                "early-warning:exchange",
            ]
        );
        for e in parse_watchlist("early-warning:cve, early-warning:news").expect("parses") {
            assert_eq!(e.to_string().parse::<WatchEntry>().as_ref(), Ok(&e));
        }
        assert_eq!(
            err("example.com, early-warning:vulndb"),
            (
                13,
                "unknown early-warning condition 'vulndb' (expected cve, social, news or exchange)"
                    .to_owned()
            )
        );
        assert!(
            err("early-warning:")
                .1
                .contains("unknown early-warning condition ''")
        );
        let s = set(&[
            "early-warning:cve",
            "example.com",
            "early-warning:social, early-warning:news",
            "early-warning:exchange",
        ]);
        assert!(s.has_early_warnings());
        assert!(!set(&["example.com"]).has_early_warnings());
        let ids = |class| -> Vec<u64> { s.early_warnings(class).iter().map(|h| h.hunt).collect() };
        assert_eq!(ids(SourceClass::Social), [1, 3]);
        assert_eq!(ids(SourceClass::News), [1, 3]);
        assert_eq!(ids(SourceClass::Exchange), [1, 4]);
        assert!(ids(SourceClass::Vulndb).is_empty());
        assert!(ids(SourceClass::Feed).is_empty());
        assert_eq!(
            s.early_warnings(SourceClass::News)[1].terms,
            ["early-warning:news"]
        );
        // Never a hit by value alone: it needs the store.
        assert!(s.matches(IndicatorType::Cve, "CVE-2026-1234").is_empty());
    }

    #[test]
    fn cidr_host_bits_are_cleared() {
        assert_eq!(
            entries("cidr:192.0.2.77/24, 2001:db8::1/32"),
            ["cidr:192.0.2.0/24", "cidr:2001:db8::/32"]
        );
        let n = Network::new("10.1.2.3".parse().expect("ip"), 8).expect("valid prefix");
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert!(Network::new("10.1.2.3".parse().expect("ip"), 33).is_none());
    }

    #[test]
    fn url_regexes_keep_commas_hashes_and_slashes() {
        let parsed =
            parse_watchlist("url:/a{1,3}#x/, url: /^https?:\\/\\/x\\.example\\// # c\nexample.com")
                .expect("parses");
        assert_eq!(parsed.len(), 3);
        let WatchEntry::UrlRegex(re) = &parsed[1] else {
            panic!("not a regex: {:?}", parsed[1]);
        };
        assert_eq!(re.as_str(), r"^https?://x\.example/");
        assert_eq!(parsed[1].to_string(), r"url:/^https?:\/\/x\.example\//");
        assert_eq!(parsed[0].to_string(), "url:/a{1,3}#x/");
    }

    #[test]
    fn errors_name_the_entry_and_its_offset() {
        assert_eq!(err("example.com\n  nonsense!").0, 14);
        assert!(err("example.com\n  nonsense!").1.contains("nonsense!"));
        assert_eq!(
            err("a.com, sha3:abcd"),
            (7, "unknown type 'sha3'".to_owned())
        );
        assert_eq!(err("ipv4:192.0.2.256").0, 0);
        assert!(err("ipv4:192.0.2.256").1.contains("invalid ipv4"));
        assert_eq!(err("x.com,cidr:10.0.0.0/33").0, 6);
        assert_eq!(
            err("domain:  , a.com"),
            (0, "empty value after 'domain:'".to_owned())
        );
        assert_eq!(err("a.com\nurl:/unclosed").0, 6);
        assert_eq!(err("url://"), (0, "empty regex".to_owned()));
        assert!(err("url:/(/").1.starts_with("invalid regex"));
        assert_eq!(
            err("url:/x/ y"),
            (8, "unexpected text after regex".to_owned())
        );
        assert_eq!(err("12345").1, "not a recognised indicator: '12345'");
        let long = "a".repeat(MAX_WATCHLIST_LEN + 1);
        assert_eq!(
            err(&long),
            (MAX_WATCHLIST_LEN, "watchlist too long".to_owned())
        );
    }

    #[test]
    fn display_round_trips() {
        let list = "192.0.2.1, 2001:db8::1, 192.0.2.0/24, 2001:db8:1::/48, example.co.jp, AS64500, \
                    url:/evil\\/(a|b),x#y/, url:http://example.com/a#b, email:a@b.example, cve:CVE-2024-1234, \
                    d41d8cd98f00b204e9800998ecf8427e, 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
        for e in parse_watchlist(list).expect("parses") {
            let text = e.to_string();
            assert_eq!(text.parse::<WatchEntry>().as_ref(), Ok(&e), "{text}");
        }
        assert_eq!(
            "a.com, b.com".parse::<WatchEntry>().map_err(|e| e.message),
            Err("more than one entry".to_owned())
        );
    }

    #[test]
    fn exact_values() {
        let s = set(&[
            &format!("sha256:{SHA256}, 192.0.2.1"),
            "md5:d41d8cd98f00b204e9800998ecf8427e",
        ]);
        assert_eq!(ids(&s, Sha256, SHA256), [1]);
        assert_eq!(ids(&s, Md5, "d41d8cd98f00b204e9800998ecf8427e"), [2]);
        assert_eq!(ids(&s, Ipv4, "192.0.2.1"), [1]);
        assert!(!hit(&s, Ipv4, "192.0.2.2"));
        // Exact means the type too.
        assert!(!hit(&s, Md5, &SHA256[..32]));
    }

    #[test]
    fn cidr_addresses() {
        let s = set(&["192.0.2.0/24", "2001:db8:1::/48", "0.0.0.0/0"]);
        assert_eq!(ids(&s, Ipv4, "192.0.2.0"), [1, 3]);
        assert_eq!(ids(&s, Ipv4, "192.0.2.255"), [1, 3]);
        assert_eq!(ids(&s, Ipv4, "192.0.3.0"), [3]);
        assert_eq!(ids(&s, Ipv4, "192.0.1.255"), [3]);
        assert_eq!(ids(&s, Ipv6, "2001:db8:1:ffff::1"), [2]);
        assert!(!hit(&s, Ipv6, "2001:db8:2::1"));
        assert!(!hit(&s, Ipv6, "::ffff:192.0.2.1"));
    }

    #[test]
    fn cidr_networks_must_lie_inside() {
        let s = set(&["192.0.2.0/24", "2001:db8:1::/48"]);
        assert!(hit(&s, Cidr, "192.0.2.0/24"));
        assert!(hit(&s, Cidr, "192.0.2.128/25"));
        assert!(hit(&s, Cidr, "192.0.2.7/32"));
        // Host bits of the indicator do not widen or move it.
        assert!(hit(&s, Cidr, "192.0.2.77/26"));
        assert!(!hit(&s, Cidr, "192.0.2.0/23"));
        assert!(!hit(&s, Cidr, "192.0.0.0/16"));
        assert!(!hit(&s, Cidr, "0.0.0.0/0"));
        assert!(hit(&s, Cidr, "2001:db8:1:8000::/49"));
        assert!(!hit(&s, Cidr, "2001:db8::/32"));
    }

    #[test]
    fn cidr_url_hosts() {
        let s = set(&["192.0.2.0/24", "2001:db8::/32"]);
        assert!(hit(&s, Url, "http://192.0.2.5/x"));
        assert!(hit(&s, Url, "https://user@192.0.2.5:8443/?q=1"));
        assert!(hit(&s, Url, "http://[2001:db8::1]/"));
        assert!(hit(&s, Url, "http://[2001:db8::1]:8080/x"));
        assert!(!hit(&s, Url, "http://192.0.3.5/x"));
        assert!(!hit(&s, Url, "http://example.com/192.0.2.5"));
    }

    #[test]
    fn domains_with_label_boundaries() {
        let s = set(&["example.com", "*.example.co.jp"]);
        assert_eq!(ids(&s, Domain, "example.com"), [1]);
        assert_eq!(ids(&s, Domain, "a.b.example.com"), [1]);
        assert!(!hit(&s, Domain, "notexample.com"));
        assert!(!hit(&s, Domain, "example.com.evil.net"));
        assert!(!hit(&s, Domain, "com"));
        assert_eq!(ids(&s, Domain, "www.example.co.jp"), [2]);
        assert!(!hit(&s, Domain, "co.jp"));
        assert!(hit(&s, Url, "https://login.example.com:8443/x?y#z"));
        assert!(hit(&s, Url, "http://user@example.com@example.com/"));
        assert!(!hit(&s, Url, "http://notexample.com/example.com"));
        assert!(hit(&s, Email, "ceo@mail.example.com"));
        assert!(!hit(&s, Email, "example.com@evil.net"));
        // A caller's non-canonical value is canonicalised before the look-up.
        assert!(hit(&s, Domain, "WWW.Example.COM."));
    }

    #[test]
    fn idn_domains_are_canonicalised() {
        let s = set(&["Bücher.DE"]);
        assert!(hit(&s, Domain, "shop.xn--bcher-kva.de"));
        assert!(hit(&s, Domain, "shop.bücher.de"));
        assert!(hit(&s, Url, "https://xn--bcher-kva.de/"));
        assert!(!hit(&s, Domain, "xn--bcher-kva.de.example"));
    }

    #[test]
    fn asns() {
        let s = set(&["AS64500", "asn:64501"]);
        assert_eq!(ids(&s, Asn, "AS64500"), [1]);
        assert_eq!(ids(&s, Asn, "AS64501"), [2]);
        assert!(!hit(&s, Asn, "AS6450"));
    }

    #[test]
    fn url_regexes_are_case_insensitive() {
        let s = set(&["url:/\\/wp-login\\.php$/", "url:/^https:/"]);
        assert_eq!(ids(&s, Url, "http://example.com/WP-Login.PHP"), [1]);
        assert_eq!(ids(&s, Url, "https://example.com/wp-login.php"), [1, 2]);
        assert!(!hit(&s, Domain, "wp-login.php.example"));
        let hand_built = WatchSet::new([(
            9,
            vec![WatchEntry::UrlRegex(Regex::new("evil").expect("regex"))],
        )]);
        assert_eq!(ids(&hand_built, Url, "http://EVIL.example/"), [9]);
    }

    #[test]
    fn hits_in_registration_order_with_deduped_terms() {
        let s = set(&[
            "url:/example/, example.com, sub.example.com, *.example.com, 192.0.2.0/24",
            "10.0.0.0/8",
            "sub.example.com",
        ]);
        let hits = s.matches(Url, "http://a.sub.example.com/");
        assert_eq!(
            hits,
            [
                Hit {
                    hunt: 1,
                    terms: vec![
                        "url:/example/".to_owned(),
                        "domain:example.com".to_owned(),
                        "domain:sub.example.com".to_owned(),
                    ],
                },
                Hit {
                    hunt: 3,
                    terms: vec!["domain:sub.example.com".to_owned()],
                },
            ]
        );
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert!(WatchSet::new([]).is_empty());
        assert!(
            WatchSet::new([])
                .matches(Url, "http://example.com/")
                .is_empty()
        );
    }

    /// Reference: each entry of each watch checked on its own, without any index.
    fn reference(watches: &[(u64, Vec<WatchEntry>)], kind: IndicatorType, value: &str) -> Vec<Hit> {
        fn inside(net: &Network, ip: IpAddr, prefix: u8) -> bool {
            let bits = |ip: IpAddr| -> Vec<bool> {
                let bytes = match ip {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                bytes
                    .iter()
                    .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
                    .collect()
            };
            let (a, b) = (bits(net.addr()), bits(ip));
            let n = usize::from(net.prefix());
            a.len() == b.len() && prefix >= net.prefix() && a[..n] == b[..n]
        }
        fn entry_matches(e: &WatchEntry, kind: IndicatorType, value: &str) -> bool {
            let host = match kind {
                IndicatorType::Domain => Some(value),
                IndicatorType::Url => url_host(value),
                IndicatorType::Email => value.rsplit_once('@').map(|(_, d)| d),
                _ => None,
            };
            match e {
                WatchEntry::Value(k, v) => *k == kind && v == value,
                WatchEntry::Cidr(n) => match kind {
                    IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                        value.parse().is_ok_and(|ip| inside(n, ip, 128))
                    }
                    IndicatorType::Cidr => value.split_once('/').is_some_and(|(a, p)| {
                        let (Ok(ip), Ok(p)) = (a.parse(), p.parse()) else {
                            return false;
                        };
                        inside(n, ip, p)
                    }),
                    IndicatorType::Url => host
                        .and_then(|h| h.parse().ok())
                        .is_some_and(|ip| inside(n, ip, 128)),
                    _ => false,
                },
                WatchEntry::Domain(d) => {
                    host.is_some_and(|h| h == d || h.ends_with(&format!(".{d}")))
                }
                WatchEntry::Asn(n) => kind == IndicatorType::Asn && value == format!("AS{n}"),
                WatchEntry::UrlRegex(re) => kind == IndicatorType::Url && re.is_match(value),
                WatchEntry::EarlyWarning(_) => false,
            }
        }
        watches
            .iter()
            .filter_map(|(id, entries)| {
                let mut terms: Vec<String> = Vec::new();
                for e in entries.iter().filter(|e| entry_matches(e, kind, value)) {
                    let t = e.to_string();
                    if !terms.contains(&t) {
                        terms.push(t);
                    }
                }
                (!terms.is_empty()).then_some(Hit { hunt: *id, terms })
            })
            .collect()
    }

    const ENTRIES: &[&str] = &[
        "192.0.2.1",
        "192.0.2.0/24",
        "192.0.2.128/25",
        "192.0.0.0/16",
        "0.0.0.0/0",
        "198.51.100.7/32",
        "2001:db8::/32",
        "2001:db8:1::/48",
        "2001:db8::1",
        "example.com",
        "sub.example.com",
        "notexample.com",
        "example.co.jp",
        "AS64500",
        "url:/login/",
        "url:/^https:\\/\\/192/",
        "url:http://example.com/login",
        "email:bob@example.com",
        "cidr:192.0.2.0/24",
    ];

    fn indicator() -> impl Strategy<Value = (IndicatorType, String)> {
        let ipv4 = proptest::sample::select(
            &[
                "192.0.2.1",
                "192.0.2.200",
                "192.0.3.1",
                "198.51.100.7",
                "10.0.0.1",
            ][..],
        )
        .prop_map(|v| (Ipv4, v.to_owned()));
        let ipv6 = proptest::sample::select(
            &[
                "2001:db8::1",
                "2001:db8:1:2::3",
                "2001:db8:2::1",
                "2001:db9::1",
            ][..],
        )
        .prop_map(|v| (Ipv6, v.to_owned()));
        let cidr = proptest::sample::select(
            &[
                "192.0.2.0/24",
                "192.0.2.128/25",
                "192.0.2.1/32",
                "192.0.0.0/16",
                "0.0.0.0/0",
                "2001:db8:1::/64",
                "2001:db8::/31",
            ][..],
        )
        .prop_map(|v| (Cidr, v.to_owned()));
        let host = (
            proptest::sample::select(&["", "a.", "a.sub.", "sub.", "not"][..]),
            proptest::sample::select(&["example.com", "example.co.jp", "example.net"][..]),
        )
            .prop_map(|(p, d)| format!("{p}{d}"));
        let domain = host.clone().prop_map(|h| (Domain, h));
        let email = host.clone().prop_map(|h| (Email, format!("bob@{h}")));
        let url_host = prop_oneof![
            host,
            proptest::sample::select(&["192.0.2.9", "[2001:db8::1]", "198.51.100.7:8080"][..])
                .prop_map(str::to_owned)
        ];
        let url = (
            proptest::sample::select(&["http", "https"][..]),
            url_host,
            proptest::sample::select(&["/", "/login", "/LOGIN?x=1"][..]),
        )
            .prop_map(|(s, h, p)| (Url, format!("{s}://{h}{p}")));
        let asn =
            proptest::sample::select(&["AS64500", "AS64501"][..]).prop_map(|v| (Asn, v.to_owned()));
        prop_oneof![ipv4, ipv6, cidr, domain, email, url, asn]
    }

    proptest! {
        #[test]
        fn watch_set_equals_reference(
            lists in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(ENTRIES), 0..5), 0..6),
            (kind, value) in indicator(),
        ) {
            let watches: Vec<(u64, Vec<WatchEntry>)> = lists
                .iter()
                .zip(10u64..)
                .map(|(l, id)| (id, parse_watchlist(&l.join("\n")).expect("generated lists parse")))
                .collect();
            let set = WatchSet::new(watches.clone());
            prop_assert_eq!(set.matches(kind, &value), reference(&watches, kind, &value));
        }
    }
}
