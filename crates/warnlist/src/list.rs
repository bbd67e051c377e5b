//! What a warning list is: its wire form ([`RawList`]), its kind, its
//! description once loaded ([`WarningList`]) and which indicator types it checks.

use std::fmt;
use std::str::FromStr;

use rexist_core::{IndicatorType, UnknownName};
use serde::{Deserialize, Serialize};

/// How a list's entries are compared with a value (MISP's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// Exact, case-insensitive equality with the whole value.
    String,
    /// The entry occurs anywhere in the value, case-insensitively.
    Substring,
    /// The value's host is the entry or a sub-domain of it.
    Hostname,
    /// The value's address (or network) lies inside the entry's network.
    Cidr,
    /// The entry, a PCRE-style pattern, matches somewhere in the value.
    Regex,
}

impl ListKind {
    /// Every kind, in a stable order.
    pub const ALL: [ListKind; 5] = [
        Self::String,
        Self::Substring,
        Self::Hostname,
        Self::Cidr,
        Self::Regex,
    ];

    /// The lower-case name used in list files and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Substring => "substring",
            Self::Hostname => "hostname",
            Self::Cidr => "cidr",
            Self::Regex => "regex",
        }
    }

    /// The indicator types this kind can check at all; also the types a list
    /// of this kind checks when it names no `matching_attributes`.
    pub fn compatible_types(self) -> &'static [IndicatorType] {
        use IndicatorType as T;
        match self {
            Self::Cidr => &[T::Ipv4, T::Ipv6, T::Cidr, T::Url],
            Self::Hostname => &[T::Domain, T::Url, T::Email],
            Self::String | Self::Substring | Self::Regex => &IndicatorType::ALL,
        }
    }

    pub(crate) fn bit(self) -> u8 {
        match self {
            Self::String => 1,
            Self::Substring => 2,
            Self::Hostname => 4,
            Self::Cidr => 8,
            Self::Regex => 16,
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                field: "warning list kind",
                value: rexist_core::indicator::truncate(s, 40),
                expected: "string, substring, hostname, cidr, regex",
            })
    }
}

/// A `list.json` file of MISP/misp-warninglists, as written.
///
/// Unknown fields are ignored rather than refused (upstream's schema forbids
/// them, but a newer upstream field should not make a whole list unusable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawList {
    /// Human-readable title (`"List of RFC 5735 CIDR blocks"`).
    pub name: String,
    /// Upstream version, an integer (often `YYYYMMDD`).
    pub version: u64,
    /// What the list holds and why it warns.
    pub description: String,
    /// How entries are compared.
    #[serde(rename = "type")]
    pub kind: ListKind,
    /// The entries.
    pub list: Vec<String>,
    /// MISP attribute types the list applies to; absent or empty = every type
    /// its kind can check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matching_attributes: Vec<String>,
}

/// A loaded list: what it is, not its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarningList {
    /// Short name: the directory name of a bundled list (`"rfc5735"`), or the
    /// `name` of an allow-list. Used to enable and disable lists.
    pub name: String,
    /// The list's own `name` field (`"List of RFC 5735 CIDR blocks"`).
    pub title: String,
    /// Upstream version (0 for allow-lists).
    pub version: u64,
    /// The list's description.
    pub description: String,
    /// How entries are compared.
    pub kind: ListKind,
    /// Entries in effect: those given, minus those reported by
    /// [`crate::WarningLists::skipped`].
    pub entries: usize,
    /// MISP attribute types as written in the list (empty for allow-lists).
    pub matching_attributes: Vec<String>,
    /// The rexist indicator types this list checks, derived from
    /// `matching_attributes` and `kind` as the crate documentation describes.
    pub types: Vec<IndicatorType>,
}

/// The rexist indicator types one MISP attribute type stands for.
///
/// Composite types (`filename|md5`, `ip-dst|port`, `domain|ip`) stand for the
/// union of their parts, as MISP checks each part of a composite value.
/// Types rexist does not model (`ssdeep`, `phone-number`, …) stand for none.
pub fn misp_attribute_types(attribute: &str) -> Vec<IndicatorType> {
    let mut out = Vec::new();
    for part in attribute.split('|') {
        for t in misp_simple_type(part.trim()) {
            if !out.contains(t) {
                out.push(*t);
            }
        }
    }
    out
}

fn misp_simple_type(attribute: &str) -> &'static [IndicatorType] {
    use IndicatorType as T;
    match attribute.to_ascii_lowercase().as_str() {
        "ip-src" | "ip-dst" | "ip" => &[T::Ipv4, T::Ipv6, T::Cidr],
        "domain" | "hostname" => &[T::Domain],
        "url" | "uri" | "link" => &[T::Url],
        "email"
        | "email-src"
        | "email-dst"
        | "email-reply-to"
        | "target-email"
        | "whois-registrant-email"
        | "dns-soa-email" => &[T::Email],
        "md5" | "malware-sample" | "x509-fingerprint-md5" => &[T::Md5],
        "sha1" | "x509-fingerprint-sha1" => &[T::Sha1],
        "sha256" | "x509-fingerprint-sha256" => &[T::Sha256],
        "sha512" => &[T::Sha512],
        "as" => &[T::Asn],
        "btc" => &[T::Btc],
        "vulnerability" => &[T::Cve],
        _ => &[],
    }
}

/// The types a MISP list checks: its mapped `matching_attributes` (or all
/// types when it has none) restricted to what its kind can check; a `cidr`
/// list that checks addresses also checks URLs whose host is an IP literal.
pub(crate) fn misp_list_types(
    kind: ListKind,
    matching_attributes: &[String],
) -> Vec<IndicatorType> {
    let compatible = kind.compatible_types();
    if matching_attributes.is_empty() {
        return compatible.to_vec();
    }
    let mut wanted: Vec<IndicatorType> = matching_attributes
        .iter()
        .flat_map(|a| misp_attribute_types(a))
        .collect();
    if kind == ListKind::Cidr
        && wanted
            .iter()
            .any(|t| matches!(t, IndicatorType::Ipv4 | IndicatorType::Ipv6))
    {
        wanted.push(IndicatorType::Url);
    }
    compatible
        .iter()
        .copied()
        .filter(|t| wanted.contains(t))
        .collect()
}

/// Bit of an indicator type in a type mask.
pub(crate) fn type_bit(t: IndicatorType) -> u16 {
    let pos = IndicatorType::ALL
        .iter()
        .position(|x| *x == t)
        .expect("every type is in IndicatorType::ALL");
    1 << pos
}

/// Index of an indicator type in [`IndicatorType::ALL`].
pub(crate) fn type_index(t: IndicatorType) -> usize {
    IndicatorType::ALL
        .iter()
        .position(|x| *x == t)
        .expect("every type is in IndicatorType::ALL")
}

pub(crate) fn type_mask(types: &[IndicatorType]) -> u16 {
    types.iter().fold(0, |m, t| m | type_bit(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    fn attrs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn attribute_mapping() {
        assert_eq!(
            misp_attribute_types("ip-dst|port"),
            [T::Ipv4, T::Ipv6, T::Cidr]
        );
        assert_eq!(misp_attribute_types("filename|sha256"), [T::Sha256]);
        assert_eq!(
            misp_attribute_types("domain|ip"),
            [T::Domain, T::Ipv4, T::Ipv6, T::Cidr]
        );
        assert_eq!(misp_attribute_types("AS"), [T::Asn]);
        assert_eq!(misp_attribute_types("vulnerability"), [T::Cve]);
        assert!(misp_attribute_types("ssdeep").is_empty());
        assert!(misp_attribute_types("phone-number").is_empty());
    }

    #[test]
    fn list_types_follow_kind_and_attributes() {
        // A cidr list for addresses also checks IP-literal URL hosts.
        assert_eq!(
            misp_list_types(ListKind::Cidr, &attrs(&["ip-src", "domain|ip"])),
            [T::Ipv4, T::Ipv6, T::Cidr, T::Url]
        );
        // `domain|ip` on a hostname list means the domain part only.
        assert_eq!(
            misp_list_types(ListKind::Hostname, &attrs(&["domain|ip", "hostname"])),
            [T::Domain]
        );
        assert_eq!(
            misp_list_types(ListKind::Hostname, &attrs(&["domain", "url"])),
            [T::Domain, T::Url]
        );
        assert_eq!(
            misp_list_types(
                ListKind::String,
                &attrs(&["md5", "filename|sha1", "ssdeep"])
            ),
            [T::Md5, T::Sha1]
        );
        assert_eq!(misp_list_types(ListKind::Regex, &[]), IndicatorType::ALL);
        assert_eq!(
            misp_list_types(ListKind::Hostname, &[]),
            [T::Domain, T::Url, T::Email]
        );
        assert!(misp_list_types(ListKind::Regex, &attrs(&["phone-number"])).is_empty());
    }

    #[test]
    fn kind_names_round_trip() {
        for k in ListKind::ALL {
            assert_eq!(k.as_str().parse::<ListKind>().ok(), Some(k));
        }
        assert!("glob".parse::<ListKind>().is_err());
    }
}
