//! What a watchlist matches among everything stored, for the hunt form's
//! live preview and a saved watch hunt's page.
//!
//! Ingest matches each new indicator against every watch hunt's exact
//! values, networks and domains ([`WatchSet`]). The preview goes the other
//! way, from each entry to the stored indicators it can match, with a read
//! in the store per entry: exact values by key, a network by the value
//! ranges its addresses, sub-networks and URLs fall in, a domain by
//! [`Store::indicators_at_or_below`] (its sub-domains and addresses by the
//! reversed-host index, URLs naming it by a scan of the URL rows). Every
//! indicator read is then put to the same [`WatchSet`] ingest uses, so the
//! preview and the hunt agree on what matches, and stops after [`LIMIT`]
//! matches, not after a window of indicators: a match is found however
//! many indicators are stored.
//! Two kinds of entry cannot be read by key: a URL regex reads every
//! stored URL (until the limit), and an early-warning entry asks the
//! store's early-CVE ranking, at most [`rexist_store::MAX_EARLY_CVES`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use rexist_core::{IndicatorRecord, IndicatorType, SourceId, Tlp};
use rexist_query::{Network, WatchEntry, WatchSet};
use rexist_store::{DomainQuery, IndicatorQuery, Store, StoreError};

/// Matches counted before the preview stops and says "or more".
pub const LIMIT: usize = 1000;

/// Rows per store read.
const PAGE: u32 = 1000;

/// Values per exact-key read.
const KEYS: usize = 500;

/// One stored indicator a watchlist matches, with the entries that match it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The indicator.
    pub record: IndicatorRecord,
    /// The entries (as written in canonical form) that match it.
    pub terms: Vec<String>,
}

/// What a watchlist matches: the indicators in value order, and whether the
/// reading stopped at [`LIMIT`] (there may be more).
#[derive(Debug, Default)]
pub struct Matches {
    /// By value, then type.
    pub found: Vec<Found>,
    /// Whether there may be more than `found`.
    pub capped: bool,
}

/// A read in the store that can yield matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Read {
    /// Indicators of a type whose value starts with this.
    Prefix(IndicatorType, String),
    /// What lies at or below a domain.
    Domain(String),
}

/// The prefix ranges holding every address, network and URL host in `net`
/// (in its own family; a superset, the matcher narrows it).
fn network_reads(net: Network) -> Vec<Read> {
    let mut prefixes: Vec<String> = Vec::new();
    match net.addr() {
        IpAddr::V4(a) => {
            let octets = a.octets();
            let whole = usize::from(net.prefix() / 8).min(4);
            let fixed: Vec<String> = octets[..whole].iter().map(u8::to_string).collect();
            let head = if fixed.is_empty() {
                String::new()
            } else {
                format!("{}.", fixed.join("."))
            };
            let rest = net.prefix() % 8;
            if whole == 4 {
                prefixes.push(a.to_string());
            } else if rest == 0 || whole == 3 {
                // A last octet's variants share their leading digits (1,
                // 10, 100): the whole /24 is read and the matcher keeps
                // what is inside.
                prefixes.push(head);
            } else {
                // The next octet's values inside the network, each a range.
                let first = octets[whole];
                let count = 1u16 << (8 - rest);
                for o in u16::from(first)..u16::from(first) + count {
                    prefixes.push(format!("{head}{o}."));
                }
            }
            let mut reads: Vec<Read> = Vec::new();
            for p in prefixes {
                reads.push(Read::Prefix(IndicatorType::Ipv4, p.clone()));
                reads.push(Read::Prefix(IndicatorType::Cidr, p.clone()));
                reads.push(Read::Prefix(IndicatorType::Url, format!("http://{p}")));
                reads.push(Read::Prefix(IndicatorType::Url, format!("https://{p}")));
            }
            reads
        }
        IpAddr::V6(a) => {
            // Canonical text writes a group as itself until the first run
            // of zero groups, which `::` may shorten anywhere: the groups
            // before the first zero are a prefix of every address inside.
            let whole = usize::from(net.prefix() / 16);
            let lead: Vec<String> = a
                .segments()
                .iter()
                .take(whole)
                .take_while(|g| **g != 0)
                .map(|g| format!("{g:x}"))
                .collect();
            let p = if lead.is_empty() {
                String::new()
            } else {
                format!("{}:", lead.join(":"))
            };
            vec![
                Read::Prefix(IndicatorType::Ipv6, p.clone()),
                Read::Prefix(IndicatorType::Cidr, p.clone()),
                Read::Prefix(IndicatorType::Url, format!("http://[{p}")),
                Read::Prefix(IndicatorType::Url, format!("https://[{p}")),
            ]
        }
    }
}

/// Collects what matches, at most [`LIMIT`].
struct Collector<'a> {
    set: &'a WatchSet,
    clearance: Tlp,
    found: BTreeMap<(String, IndicatorType), Found>,
    capped: bool,
}

impl Collector<'_> {
    fn full(&self) -> bool {
        self.found.len() >= LIMIT
    }

    /// Keeps `record` if the watchlist matches it; false once full.
    fn offer(&mut self, record: IndicatorRecord) -> bool {
        if self.full() {
            self.capped = true;
            return false;
        }
        if record.tlp > self.clearance {
            return true;
        }
        let key = (record.value.clone(), record.kind);
        if self.found.contains_key(&key) {
            return true;
        }
        if let Some(hit) = self
            .set
            .matches(record.kind, &record.value)
            .into_iter()
            .next()
        {
            self.found.insert(
                key,
                Found {
                    record,
                    terms: hit.terms,
                },
            );
        }
        true
    }

    /// Adds early-warning terms to `record`'s (keeping it even when full:
    /// the early read is bounded on its own).
    fn early(&mut self, record: IndicatorRecord, terms: Vec<String>) {
        let key = (record.value.clone(), record.kind);
        if let Some(f) = self.found.get_mut(&key) {
            for t in terms {
                if !f.terms.contains(&t) {
                    f.terms.push(t);
                }
            }
        } else if self.full() {
            self.capped = true;
        } else {
            self.found.insert(key, Found { record, terms });
        }
    }
}

/// What `entries` match among the stored indicators the reader may see.
pub async fn matches(
    store: &Arc<dyn Store>,
    entries: Vec<WatchEntry>,
    clearance: Tlp,
) -> Result<Matches, StoreError> {
    let set = WatchSet::new([(1, entries.clone())]);
    let mut exact: Vec<(IndicatorType, String)> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    let mut all_urls = false;
    let mut early = false;
    for entry in entries {
        match entry {
            // Parsed entries are canonical already.
            WatchEntry::Value(kind, value) => exact.push((kind, value)),
            WatchEntry::Asn(n) => exact.push((IndicatorType::Asn, format!("AS{n}"))),
            WatchEntry::Cidr(net) => reads.extend(network_reads(net)),
            WatchEntry::Domain(d) => reads.push(Read::Domain(d)),
            WatchEntry::UrlRegex(_) => all_urls = true,
            WatchEntry::EarlyWarning(_) => early = true,
        }
    }
    if all_urls {
        reads.push(Read::Prefix(IndicatorType::Url, String::new()));
    }
    let mut seen = std::collections::HashSet::new();
    reads.retain(|r| seen.insert(r.clone()));
    let mut c = Collector {
        set: &set,
        clearance,
        found: BTreeMap::new(),
        capped: false,
    };
    'keys: for chunk in exact.chunks(KEYS) {
        for r in store.indicators_by_values(chunk).await? {
            if !c.offer(r) {
                break 'keys;
            }
        }
    }
    for read in reads {
        if c.full() {
            c.capped = true;
            break;
        }
        let mut after = None;
        loop {
            let page = match &read {
                Read::Prefix(kind, prefix) => {
                    store
                        .list_indicators(&IndicatorQuery {
                            kind: Some(*kind),
                            prefix: (!prefix.is_empty()).then(|| prefix.clone()),
                            max_tlp: Some(clearance),
                            after: after.take(),
                            limit: PAGE,
                            ..IndicatorQuery::default()
                        })
                        .await?
                }
                Read::Domain(domain) => {
                    store
                        .indicators_at_or_below(&DomainQuery {
                            domain: domain.clone(),
                            max_tlp: Some(clearance),
                            after: after.take(),
                            limit: PAGE,
                        })
                        .await?
                }
            };
            let mut open = true;
            for r in page.items {
                open = c.offer(r);
                if !open {
                    break;
                }
            }
            match page.next {
                Some(next) if open => after = Some(next),
                _ => break,
            }
        }
    }
    if early && set.has_early_warnings() {
        early_matches(store, &set, &mut c).await?;
    }
    Ok(Matches {
        capped: c.capped,
        found: c.found.into_values().collect(),
    })
}

/// CVEs the watchlist's early-warning entries match: the store ranks the
/// CVEs discussed before their database entry (or still without one), and
/// each is confirmed from its history as the hunter confirms it.
async fn early_matches(
    store: &Arc<dyn Store>,
    set: &WatchSet,
    c: &mut Collector<'_>,
) -> Result<(), StoreError> {
    use rexist_connectors::source::{is_cve_authority, source_class};
    let sources = store.list_sources().await?;
    let ids = |keep: &dyn Fn(&rexist_core::Source) -> bool| -> Vec<SourceId> {
        sources.iter().filter(|s| keep(s)).map(|s| s.id).collect()
    };
    let discussion = ids(&|s| source_class(&s.kind).is_discussion());
    if discussion.is_empty() {
        return Ok(());
    }
    let now = rexist_core::model::now();
    let query = rexist_store::EarlyCveQuery {
        discussion,
        authority: ids(&|s| is_cve_authority(&s.kind)),
        since: time::OffsetDateTime::UNIX_EPOCH,
        pending_from_year: now.year() - 1,
        now,
        max_tlp: c.clearance,
        limit: rexist_store::MAX_EARLY_CVES,
    };
    let ranked = store.early_cves(&query).await?;
    if ranked.len() >= rexist_store::MAX_EARLY_CVES as usize {
        c.capped = true;
    }
    let classes = rexist_pipeline::hunter::SourceClasses::new(&sources);
    let keys: Vec<(IndicatorType, String)> = ranked
        .iter()
        .map(|e| (IndicatorType::Cve, e.value.clone()))
        .collect();
    let records = store.indicators_by_values(&keys).await?;
    let clearance = c.clearance;
    for record in records.into_iter().filter(|r| r.tlp <= clearance) {
        let times = store.report_times(record.id, c.clearance).await?;
        let hit =
            rexist_pipeline::hunter::early_hits(set, &record.value, &times, &classes, now, false)
                .into_iter()
                .next();
        if let Some(hit) = hit {
            c.early(record, hit.terms);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(net: &str) -> Vec<String> {
        let (addr, len) = net.split_once('/').unwrap_or_else(|| panic!("{net}"));
        let net = Network::new(addr.parse().unwrap(), len.parse().unwrap()).unwrap();
        network_reads(net)
            .into_iter()
            .filter_map(|r| match r {
                Read::Prefix(IndicatorType::Ipv4 | IndicatorType::Ipv6, p) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn networks_read_the_value_ranges_of_their_addresses() {
        assert_eq!(prefixes("198.51.100.0/24"), ["198.51.100."]);
        assert_eq!(prefixes("10.0.0.0/8"), ["10."]);
        assert_eq!(prefixes("198.51.100.7/32"), ["198.51.100.7"]);
        assert_eq!(prefixes("198.51.100.128/25"), ["198.51.100."]);
        assert_eq!(
            prefixes("172.16.0.0/14"),
            ["172.16.", "172.17.", "172.18.", "172.19."]
        );
        assert_eq!(prefixes("0.0.0.0/0"), [""]);
        assert_eq!(prefixes("2001:db8::/32"), ["2001:db8:"]);
        assert_eq!(prefixes("2001:db8:0:1::/64"), ["2001:db8:"]);
        assert_eq!(prefixes("::ffff:0:0/96"), [""]);
    }

    #[test]
    fn every_address_inside_lies_in_a_read_range() {
        for (net, inside) in [
            ("172.16.0.0/14", "172.19.255.1"),
            ("198.51.100.128/25", "198.51.100.200"),
            ("2001:db8::/32", "2001:db8::1"),
            ("2001:db8::/32", "2001:db8:ffff:1:2:3:4:5"),
            ("2001:db8:0:1::/64", "2001:db8:0:1::9"),
        ] {
            let ip: IpAddr = inside.parse().unwrap();
            assert!(
                prefixes(net)
                    .iter()
                    .any(|p| ip.to_string().starts_with(p.as_str())),
                "{inside} in {net}"
            );
        }
    }
}
