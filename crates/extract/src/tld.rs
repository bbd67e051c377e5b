//! The set of real top-level domains.
//!
//! A domain the extractor emits must end in one: that single rule removes most of the
//! noise a dotted-word scanner would otherwise produce (`e.g`, `System.Diagnostics`,
//! `config.ini`). The list is IANA's, bundled from MISP's warning lists (CC0, see
//! `data/README.md`), plus `onion` (RFC 7686).

use std::sync::OnceLock;

/// IANA root zone, lower case, one per line, sorted.
const IANA_TLDS: &str = include_str!("../data/tlds.txt");

/// Special-use names that are still indicators: Tor hidden services.
const EXTRA_TLDS: &[&str] = &["onion"];

/// Open-addressing hash set of the TLDs: one FNV-1a hash and usually one comparison per
/// look-up, which matters because every dotted word in a text ends in a look-up.
struct Table {
    /// 0 = empty, else index + 1 into `names`.
    slots: Vec<u16>,
    names: Vec<&'static str>,
}

const SLOTS: usize = 4096; // power of two, load factor about 0.35

fn fnv1a(bytes: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    usize::try_from(h).unwrap_or(usize::MAX)
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut names: Vec<&'static str> = IANA_TLDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .chain(EXTRA_TLDS.iter().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.truncate(SLOTS / 2);
        let mut slots = vec![0u16; SLOTS];
        for (i, name) in names.iter().enumerate() {
            let mut h = fnv1a(name.as_bytes()) & (SLOTS - 1);
            while slots[h] != 0 {
                h = (h + 1) & (SLOTS - 1);
            }
            slots[h] = u16::try_from(i + 1).expect("fewer than SLOTS / 2 names");
        }
        Table { slots, names }
    })
}

/// Whether `label` (any ASCII case; punycode for IDN TLDs) is a real top-level domain.
pub(crate) fn is_tld(label: &str) -> bool {
    // The longest TLD is 24 bytes (`xn--vermgensberatung-pwb`); lower-case on the stack.
    let bytes = label.as_bytes();
    if bytes.len() < 2 || bytes.len() > 32 {
        return false;
    }
    let mut buf = [0u8; 32];
    for (d, s) in buf.iter_mut().zip(bytes) {
        *d = s.to_ascii_lowercase();
    }
    let lower = &buf[..bytes.len()];
    let t = table();
    let mut h = fnv1a(lower) & (SLOTS - 1);
    loop {
        let slot = usize::from(t.slots[h]);
        if slot == 0 {
            return false;
        }
        if t.names[slot - 1].as_bytes() == lower {
            return true;
        }
        h = (h + 1) & (SLOTS - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_common_and_idn_tlds() {
        for t in [
            "com",
            "NET",
            "Org",
            "xn--p1ai",
            "xn--fiqs8s",
            "onion",
            "zip",
            "top",
        ] {
            assert!(is_tld(t), "{t}");
        }
        for t in [
            "exe",
            "dll",
            "local",
            "js",
            "json",
            "",
            "c0m",
            "verylongnonexistingtopleveldomainname",
        ] {
            assert!(!is_tld(t), "{t}");
        }
    }
}
