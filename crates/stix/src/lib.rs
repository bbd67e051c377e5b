//! STIX 2.1 reading (INTERFACES.md §5): the pattern language
//! ([`parse_pattern`], [`indicators`]) and bundles / TAXII 2.1 envelopes
//! ([`parse_objects`]) turned into rexist records; and writing ([`write`]):
//! export rows to STIX objects and streamed bundles. Pure: bytes in, records
//! out, objects out to a `std::io::Write`, no other I/O, no async.

pub mod bundle;
pub mod error;
pub mod pattern;
pub mod write;

pub use bundle::{Parsed, parse_objects, tlp_of_marking};
pub use error::{PatternError, StixError};
pub use pattern::{
    Comparison, Literal, ObjectPath, ObservationOp, Operator, PathStep, Pattern, Qualifier,
    Reduction, Test, indicators, parse_pattern,
};
