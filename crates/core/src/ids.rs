//! Typed row identifiers, so an item id is never passed where a source id is meant.
//!
//! One generic [`Id`] carries parsing, printing and serde for every kind of
//! row; the marker type only keeps kinds apart at compile time.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A row identifier of the kind `K`.
pub struct Id<K> {
    raw: i64,
    kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// Wraps a raw database id.
    pub const fn new(raw: i64) -> Self {
        Self {
            raw,
            kind: PhantomData,
        }
    }

    /// The raw database id.
    pub const fn get(self) -> i64 {
        self.raw
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<K> Eq for Id<K> {}
impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.raw.cmp(&other.raw)
    }
}
impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.raw)
    }
}
impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}
impl<K> FromStr for Id<K> {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self::new)
    }
}
impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.raw)
    }
}
impl<'de, K> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Self::new)
    }
}

/// Marker kinds of [`Id`].
pub mod kind {
    /// Sources.
    pub enum Source {}
    /// Runs of a source.
    pub enum Run {}
    /// Items.
    pub enum Item {}
    /// Indicators.
    pub enum Indicator {}
    /// Sightings.
    pub enum Sighting {}
    /// Queued jobs.
    pub enum Job {}
    /// Hunts.
    pub enum Hunt {}
    /// Hunt hits.
    pub enum Hit {}
    /// Alerts in the outbox.
    pub enum Alert {}
}

/// Identifies a source.
pub type SourceId = Id<kind::Source>;
/// Identifies one run of a source.
pub type RunId = Id<kind::Run>;
/// Identifies an item.
pub type ItemId = Id<kind::Item>;
/// Identifies an indicator.
pub type IndicatorId = Id<kind::Indicator>;
/// Identifies a sighting.
pub type SightingId = Id<kind::Sighting>;
/// Identifies a job in the queue.
pub type JobId = Id<kind::Job>;
/// Identifies a hunt.
pub type HuntId = Id<kind::Hunt>;
/// Identifies a hit of a hunt.
pub type HitId = Id<kind::Hit>;
/// Identifies an alert in the outbox.
pub type AlertId = Id<kind::Alert>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_parse_and_serialise_as_integers() {
        let id: SourceId = "42".parse().unwrap();
        assert_eq!(id, SourceId::new(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        let back: SourceId = serde_json::from_str("42").unwrap();
        assert_eq!(back, id);
    }
}
