//! The export formats, their names, media types and what they can express.

use std::fmt;
use std::str::FromStr;

use rexist_core::IndicatorType;

use crate::error::UnknownFormat;

/// An export format; see the crate docs for each one's exact output.
/// Its schema (`ExportFormat` in the API's OpenAPI document) lists the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(as = ExportFormat, rename_all = "lowercase")]
pub enum Format {
    /// STIX 2.1 bundle (`stix`).
    Stix,
    /// CSV with a header row (`csv`).
    Csv,
    /// One JSON export row per line (`jsonl`).
    Jsonl,
    /// Plain external dynamic list, one value per line (`edl`).
    Edl,
    /// PAN-OS external dynamic list: URLs without their scheme (`panos`).
    Panos,
    /// DNS response policy zone (`rpz`).
    Rpz,
    /// Suricata rules (`suricata`).
    Suricata,
    /// Zeek Intel framework file (`zeek`).
    Zeek,
    /// Hosts file sinkholing domains to `0.0.0.0` (`hosts`).
    Hosts,
    /// MISP feed directory (`misp`); written by [`crate::misp::MispFeed`],
    /// not by [`crate::Writer`].
    Misp,
}

impl Format {
    /// Every format, in a stable order.
    pub const ALL: [Format; 10] = [
        Self::Stix,
        Self::Csv,
        Self::Jsonl,
        Self::Edl,
        Self::Panos,
        Self::Rpz,
        Self::Suricata,
        Self::Zeek,
        Self::Hosts,
        Self::Misp,
    ];

    /// The name it parses from and prints as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stix => "stix",
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Edl => "edl",
            Self::Panos => "panos",
            Self::Rpz => "rpz",
            Self::Suricata => "suricata",
            Self::Zeek => "zeek",
            Self::Hosts => "hosts",
            Self::Misp => "misp",
        }
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Stix => "application/stix+json;version=2.1",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/x-ndjson",
            Self::Rpz => "text/dns",
            Self::Misp => "application/json",
            Self::Edl | Self::Panos | Self::Suricata | Self::Zeek | Self::Hosts => {
                "text/plain; charset=utf-8"
            }
        }
    }

    /// The file name extension (without the dot) for a download.
    pub fn file_extension(self) -> &'static str {
        match self {
            Self::Stix | Self::Misp => "json",
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Edl | Self::Panos | Self::Hosts => "txt",
            Self::Rpz => "zone",
            Self::Suricata => "rules",
            Self::Zeek => "intel",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let f = match lower.as_str() {
            "stix" | "stix2" | "stix2.1" => Self::Stix,
            "csv" => Self::Csv,
            "jsonl" | "ndjson" => Self::Jsonl,
            "edl" | "txt" | "plain" | "fortigate" => Self::Edl,
            "panos" | "pan-os" | "paloalto" => Self::Panos,
            "rpz" => Self::Rpz,
            "suricata" => Self::Suricata,
            "zeek" | "bro" => Self::Zeek,
            "hosts" => Self::Hosts,
            "misp" => Self::Misp,
            _ => {
                let cut: String = s.chars().take(40).collect();
                return Err(UnknownFormat(cut));
            }
        };
        Ok(f)
    }
}

/// Whether `format` can express indicators of type `kind`; rows of other
/// types are skipped (and counted) by [`crate::Writer`].
pub fn applies(format: Format, kind: IndicatorType) -> bool {
    use IndicatorType as T;
    match format {
        Format::Stix | Format::Csv | Format::Jsonl | Format::Misp => true,
        Format::Edl | Format::Panos | Format::Suricata => {
            matches!(kind, T::Ipv4 | T::Ipv6 | T::Cidr | T::Domain | T::Url)
        }
        Format::Rpz => matches!(kind, T::Ipv4 | T::Ipv6 | T::Cidr | T::Domain),
        Format::Zeek => matches!(
            kind,
            T::Ipv4
                | T::Ipv6
                | T::Cidr
                | T::Domain
                | T::Url
                | T::Email
                | T::Md5
                | T::Sha1
                | T::Sha256
                | T::Sha512
        ),
        Format::Hosts => kind == T::Domain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
            assert!(!f.content_type().is_empty());
            assert!(!f.file_extension().is_empty());
        }
        assert_eq!("FortiGate".parse::<Format>(), Ok(Format::Edl));
        let err = "nope".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("edl"), "{err}");
    }

    #[test]
    fn applicability() {
        assert!(applies(Format::Hosts, IndicatorType::Domain));
        assert!(!applies(Format::Hosts, IndicatorType::Ipv4));
        assert!(applies(Format::Rpz, IndicatorType::Cidr));
        assert!(!applies(Format::Rpz, IndicatorType::Url));
        assert!(applies(Format::Edl, IndicatorType::Url));
        assert!(!applies(Format::Edl, IndicatorType::Md5));
        assert!(applies(Format::Zeek, IndicatorType::Sha512));
        assert!(!applies(Format::Zeek, IndicatorType::Cve));
        for k in IndicatorType::ALL {
            assert!(applies(Format::Stix, k));
            assert!(applies(Format::Csv, k));
        }
    }
}
