//! rexist's domain model: what an indicator, an item, a source, a run and a
//! sighting are, and the canonical form of every indicator type.
//!
//! No I/O happens here. Start with [`Indicator::parse`], the only way to get a
//! canonical indicator value; everything that stores, matches or exports
//! indicators relies on it. Data flows as DESIGN.md describes: connectors make
//! [`NewItem`]s and [`NewSighting`]s, the store upserts them and hands back
//! [`Item`]s, [`IndicatorRecord`]s and [`Sighting`]s.

pub mod attack;
pub mod auth;
pub mod class;
pub mod curation;
pub mod early;
pub mod entity;
pub mod error;
pub mod hunt;
pub mod ids;
pub mod indicator;
pub mod model;
pub mod tlp;

pub use auth::{ApiToken, AuditEntry, NewAudit, NewToken, Role, Scope, User};
pub use class::SourceClass;
pub use curation::{
    Curation, HandLabel, LocalSighting, LocalSightings, Marked, NewLocalSighting, Note, NoteTarget,
    ScoreOverride, TlpRaise,
};
pub use early::EarlyWarning;
pub use error::{InvalidIndicator, UnknownName};
pub use hunt::{
    Alert, AlertStatus, ChannelHealth, HitObject, HitTriage, Hunt, HuntHit, HuntKind, HuntSpec,
    NewHit, TriageChange, TriageEntry,
};
pub use ids::{
    AlertId, HitId, HuntId, Id, IndicatorId, ItemId, JobId, RunId, SightingId, SourceId,
};
pub use indicator::{Indicator, IndicatorType, canonicalize};
pub use model::{
    ENTITIES_SOURCE, ExportRow, IndicatorRecord, IndicatorStatus, Item, ItemKind, ItemRecord,
    MANUAL_SOURCE, Mention, NewItem, NewRelation, NewSighting, Record, Rejected, Relation,
    RetractReason, Retraction, Run, RunCounts, RunOutcome, Sighting, Source, SourceHealth,
    SourceSpec, UpsertSummary,
};
pub use tlp::Tlp;
