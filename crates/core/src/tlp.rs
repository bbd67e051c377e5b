//! Traffic Light Protocol 2.0 levels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::UnknownName;

/// A TLP 2.0 level; the order is from least to most restricted.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Tlp {
    /// TLP:CLEAR (formerly WHITE): no restriction.
    #[default]
    #[serde(rename = "clear", alias = "white")]
    Clear,
    /// TLP:GREEN: the community.
    #[serde(rename = "green")]
    Green,
    /// TLP:AMBER: the organisation and its clients.
    #[serde(rename = "amber")]
    Amber,
    /// TLP:AMBER+STRICT: the organisation only.
    #[serde(rename = "amber+strict")]
    AmberStrict,
    /// TLP:RED: named recipients only.
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    /// Every level, least restricted first.
    pub const ALL: [Tlp; 5] = [
        Self::Clear,
        Self::Green,
        Self::Amber,
        Self::AmberStrict,
        Self::Red,
    ];

    /// The lower-case name (`clear`, `green`, `amber`, `amber+strict`, `red`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Green => "green",
            Self::Amber => "amber",
            Self::AmberStrict => "amber+strict",
            Self::Red => "red",
        }
    }

    /// A small integer that orders the levels, for storage and comparisons in SQL.
    pub fn rank(self) -> i16 {
        match self {
            Self::Clear => 0,
            Self::Green => 1,
            Self::Amber => 2,
            Self::AmberStrict => 3,
            Self::Red => 4,
        }
    }

    /// The inverse of [`Tlp::rank`].
    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| i64::from(t.rank()) == rank)
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let name = lower.strip_prefix("tlp:").unwrap_or(&lower);
        match name {
            "clear" | "white" => Ok(Self::Clear),
            "green" => Ok(Self::Green),
            "amber" => Ok(Self::Amber),
            "amber+strict" | "amber-strict" | "amber_strict" => Ok(Self::AmberStrict),
            "red" => Ok(Self::Red),
            _ => Err(UnknownName {
                field: "tlp",
                value: crate::indicator::truncate(s, 40),
                expected: "clear, green, amber, amber+strict, red",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ranks_round_trip() {
        for t in Tlp::ALL {
            assert_eq!(t.as_str().parse::<Tlp>(), Ok(t));
            assert_eq!(Tlp::from_rank(i64::from(t.rank())), Some(t));
        }
        assert_eq!("TLP:WHITE".parse::<Tlp>(), Ok(Tlp::Clear));
        assert!("purple".parse::<Tlp>().is_err());
        assert!(Tlp::Red > Tlp::Amber);
    }
}
