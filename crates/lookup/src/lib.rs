//! rexist's Lookup: "what is this?" for an IP, domain, URL, hash, e-mail or
//! CVE — everything collected about it, judged for freshness and trust, with
//! warning-list notes and, on request, what enrichment providers say.
//!
//! Start with [`Lookup::one`]; [`Lookup::bulk`] answers up to
//! [`MAX_BULK`] values at once from the local store only. The type is
//! detected from raw input, defanged forms included (`hxxp://evil[.]com`).
//! Scores and lifetimes are documented in [`lifecycle`].

mod cache;
pub mod connect;
pub mod lifecycle;
pub mod stix;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rexist_core::early::{Report, Reported};
use rexist_core::model::now;
use rexist_core::{
    Curation, EarlyWarning, Indicator, IndicatorRecord, IndicatorStatus, IndicatorType,
    LocalSightings, Marked, RetractReason, SourceClass, SourceId, Tlp,
};
use rexist_store::{Store, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

pub use cache::StoreCache;
pub use lifecycle::{Factor, Lifetimes};

/// Most values one bulk lookup takes.
pub const MAX_BULK: usize = 10_000;
/// Most values one bulk lookup answered in STIX takes: each runs the whole
/// single lookup (related indicators, sightings per source, verdict), tens
/// of queries apiece, where a JSON bulk answer is one index probe a value.
pub const MAX_STIX_BULK: usize = 1_000;
/// Items listed per answer.
const ITEMS: u32 = 20;
/// Related indicators listed per answer.
const RELATED: u32 = 25;
/// Local sighting reports listed per answer.
const LOCAL: u32 = 20;
/// The confidence a local sighting counts with in the score.
pub const LOCAL_CONFIDENCE: u8 = 90;
/// Local reports that count in the score: repetition stops adding at 51
/// sightings.
const LOCAL_SCORED: u64 = 60;
/// A domain's stored sub-domains listed per answer, and as many addresses at it.
const UNDER: u32 = 50;

/// Why a lookup could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The input is not an indicator rexist knows how to read.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a lookup says of a value: its stored status, or `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LookupStatus {
    /// Stored and seen recently enough to act on.
    Active,
    /// Stored, past its lifetime without a new sighting.
    Expired,
    /// On a warning list or allow-list (stored or not).
    Allowlisted,
    /// Stored, and every source that reported it withdrew it.
    Retired,
    /// Stored, and an analyst marked it a false positive (the answer's
    /// `false_positive` says who, when and why).
    FalsePositive,
    /// Not stored (or above the reader's clearance), and on no list.
    Unknown,
}

impl LookupStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Allowlisted => "allowlisted",
            Self::Retired => "retired",
            Self::FalsePositive => "false_positive",
            Self::Unknown => "unknown",
        }
    }
}

impl From<IndicatorStatus> for LookupStatus {
    fn from(s: IndicatorStatus) -> Self {
        match s {
            IndicatorStatus::Active => Self::Active,
            IndicatorStatus::Expired => Self::Expired,
            IndicatorStatus::Allowlisted => Self::Allowlisted,
            IndicatorStatus::Retired => Self::Retired,
            IndicatorStatus::FalsePositive => Self::FalsePositive,
        }
    }
}

/// A source that reported the indicator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceReport {
    /// Source name.
    pub source: String,
    /// Connector kind.
    pub kind: String,
    /// Highest confidence of its sightings.
    pub confidence: u8,
    /// Least restrictive TLP of its sightings.
    pub tlp: Tlp,
    /// Labels of its sightings.
    pub labels: Vec<String>,
    /// Sightings by this source (in items and in its feed).
    pub sightings: usize,
    /// Whether its feed still lists it.
    pub listed: bool,
    /// Why the source withdrew it (`revoked`, `deleted`, `false_positive`,
    /// `inactive`, `expired`, `delisted`), when every one of its sightings
    /// is retired; the latest withdrawal's.
    pub retired_reason: Option<RetractReason>,
    /// When the source withdrew it, with `retired_reason`.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retired_at: Option<OffsetDateTime>,
    /// Its first sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: OffsetDateTime,
    /// Its latest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
}

/// An item that mentions the indicator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemRef {
    /// Item id.
    #[schema(value_type = i64)]
    pub id: rexist_core::ItemId,
    /// Title.
    pub title: String,
    /// Item kind.
    pub kind: rexist_core::ItemKind,
    /// Source name.
    pub source: String,
    /// Link to the original.
    pub url: Option<String>,
    /// When upstream published it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<OffsetDateTime>,
    /// The text around the mention.
    pub snippet: Option<String>,
    /// TLP of the item.
    pub tlp: Tlp,
}

/// An indicator related to the one looked up, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Related {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Its canonical value.
    pub value: String,
    /// `contained-in`, `contains`, `host-of`, `parent-domain`,
    /// `domain-of`, `url-on`, `subdomain`, `email-at` (by the value's
    /// shape, see [`connect`]),
    /// `shared-items`, or a stated relation such as `resolves-to`.
    pub relation: String,
    /// In words: "45.0.7.7 lies in 45.0.0.0/16", "in 3 of the same items",
    /// "resolves-to, stated by misp-a".
    pub reason: String,
    /// Its stored score.
    pub score: u8,
    /// Its stored status.
    pub status: LookupStatus,
    /// The sources that report it (for connections and stated relations;
    /// empty for `shared-items`, whose items say where it came from).
    pub sources: Vec<String>,
}

/// A related indicator in a bulk answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BriefRelated {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Its canonical value.
    pub value: String,
    /// How it relates (see [`Related::relation`]).
    pub relation: String,
    /// Its stored score.
    pub score: u8,
}

/// A hunt that matched the indicator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HuntMatch {
    /// Hunt name.
    pub hunt: String,
    /// The watchlist entries that matched.
    pub terms: Vec<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// A warning-list or allow-list the value is on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Warning {
    /// The list's short name (`rfc5735`, or an allow-list's name).
    pub list: String,
    /// Its title.
    pub title: String,
    /// How it matched (`cidr`, `hostname`, …).
    pub kind: String,
    /// The entry that matched.
    pub entry: String,
}

/// Everything known about one indicator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// What was asked, as given.
    pub query: String,
    /// Detected type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Canonical value.
    pub value: String,
    /// Whether rexist has stored it.
    pub known: bool,
    /// `active`, `expired`, `allowlisted` (also for an unknown value on a
    /// list), `retired` (every source that reported it withdrew it),
    /// `false_positive` (an analyst marked it so) or `unknown`.
    pub status: LookupStatus,
    /// Why it is expired, allow-listed, retired (`revoked by taxii-partner`)
    /// or a false positive (the analyst's reason).
    pub status_reason: Option<String>,
    /// Who marked it a false positive, when and why (with `status`
    /// `false_positive`).
    pub false_positive: Option<Marked>,
    /// 0–100; see [`lifecycle`], raised by related indicators (see
    /// [`connect`]) — also for a value not stored.
    pub score: u8,
    /// How the score came about.
    pub score_factors: Vec<Factor>,
    /// Its type's lifetime, in days.
    pub lifetime_days: u64,
    /// When it expires without a new sighting.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// First sighting.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_seen: Option<OffsetDateTime>,
    /// Latest sighting.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<OffsetDateTime>,
    /// Least restrictive TLP among its sightings.
    pub tlp: Option<Tlp>,
    /// Every source that reported it.
    pub sources: Vec<SourceReport>,
    /// Which class of source reported it first and how long before the
    /// authority (a CVE's NVD, JVN or KEV entry; the first blocklist for
    /// anything else); none when no source the reader may see reported it.
    pub early_warning: Option<EarlyWarning>,
    /// Threat entities (actors, malware, techniques, …) named by the items
    /// that report it, most recently linked first.
    pub entities: Vec<rexist_core::entity::EntityRef>,
    /// Items that mention it, newest first.
    pub items: Vec<ItemRef>,
    /// Related indicators with the reason for each: by shape (networks,
    /// hosts, parent domains), stated relations and shared items.
    pub related: Vec<Related>,
    /// Hunts it matched.
    pub hunts: Vec<HuntMatch>,
    /// Where it was seen in the organisation's own network, apart from
    /// what sources report; they count in the score as a listing source at
    /// confidence 90, one sighting per report.
    pub local_sightings: LocalSightings,
    /// Warning lists and allow-lists it is on.
    pub warnings: Vec<Warning>,
    /// What enrichment providers say (only when asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub enrichment: Vec<rexist_enrich::Answer>,
}

/// A line of a bulk answer: the local verdict only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Brief {
    /// What was asked.
    pub query: String,
    /// Detected type, if any.
    #[serde(rename = "type")]
    pub kind: Option<IndicatorType>,
    /// Canonical value, if the input is an indicator.
    pub value: Option<String>,
    /// Why the input is not an indicator.
    pub error: Option<String>,
    /// Whether rexist has stored it.
    pub known: bool,
    /// As in a single lookup: `active`, `expired`, `allowlisted`,
    /// `retired`, `false_positive` or `unknown` (none when the input is not
    /// an indicator).
    pub status: Option<LookupStatus>,
    /// The score as a single lookup computes it from the stored score and
    /// the related indicators (none when the input is not an indicator).
    pub score: Option<u8>,
    /// Latest sighting.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<OffsetDateTime>,
    /// Number of sightings.
    pub sightings: u64,
    /// Names of the lists it is on.
    pub warnings: Vec<String>,
    /// Stored indicators its shape points at (networks it lies in, a
    /// URL's host, parent domains); no prefix or sub-domain reads in bulk.
    pub related: Vec<BriefRelated>,
}

/// What to add to an answer beyond local knowledge.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Ask the enrichment providers.
    pub enrich: bool,
    /// Only these providers (by name).
    pub providers: Option<Vec<String>>,
    /// The asker's clearance: data marked more restricted is left out, and an
    /// indicator above it is answered as unknown.
    pub max_tlp: Option<Tlp>,
}

/// Answers lookups.
pub struct Lookup {
    store: Arc<dyn Store>,
    lists: Option<Arc<rexist_warnlist::WarningLists>>,
    enricher: Option<Arc<rexist_enrich::Enricher>>,
    lifetimes: Lifetimes,
}

/// Reads raw input as an indicator: trimmed, refanged, type detected.
pub fn parse_input(raw: &str) -> Result<Indicator, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("empty value".to_owned());
    }
    let refanged = rexist_extract::refang(trimmed);
    Indicator::detect(&refanged).map_err(|e| e.to_string())
}

impl Lookup {
    /// Lookups over `store`, with optional warning lists and enrichment.
    pub fn new(
        store: Arc<dyn Store>,
        lists: Option<Arc<rexist_warnlist::WarningLists>>,
        enricher: Option<Arc<rexist_enrich::Enricher>>,
        lifetimes: Lifetimes,
    ) -> Self {
        Self {
            store,
            lists,
            enricher,
            lifetimes,
        }
    }

    /// Names of the configured enrichment providers that answer for `kind`.
    pub fn providers_for(&self, kind: IndicatorType) -> Vec<String> {
        self.enricher.as_ref().map_or_else(Vec::new, |e| {
            e.providers()
                .into_iter()
                .filter(|p| p.types.contains(&kind))
                .map(|p| p.name)
                .collect()
        })
    }

    /// The lifetimes in force.
    pub fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    fn warnings(&self, kind: IndicatorType, value: &str) -> Vec<Warning> {
        let Some(lists) = &self.lists else {
            return Vec::new();
        };
        lists
            .check(kind, value)
            .into_iter()
            .map(|m| Warning {
                list: m.list,
                title: m.title,
                kind: m.kind.as_str().to_owned(),
                entry: m.entry,
            })
            .collect()
    }

    /// Everything known about `raw`.
    pub async fn one(&self, raw: &str, options: &Options) -> Result<Answer, LookupError> {
        let indicator = parse_input(raw).map_err(LookupError::Invalid)?;
        let (kind, value) = (indicator.kind(), indicator.value().to_owned());
        let enrichment = async {
            match (&self.enricher, options.enrich) {
                (Some(e), true) => e.enrich(kind, &value, options.providers.as_deref()).await,
                _ => Vec::new(),
            }
        };
        let (local, enrichment) = tokio::join!(
            self.local(raw, kind, &value, options.max_tlp.unwrap_or(Tlp::Red)),
            enrichment
        );
        let mut answer = local?;
        answer.enrichment = enrichment;
        Ok(answer)
    }

    /// What is stored about `indicator` (no enrichment, no type
    /// detection: the caller names the type), at `max_tlp`.
    pub async fn local_answer(
        &self,
        indicator: &Indicator,
        max_tlp: Tlp,
    ) -> Result<Answer, LookupError> {
        let value = indicator.value();
        self.local(value, indicator.kind(), value, max_tlp).await
    }

    async fn local(
        &self,
        raw: &str,
        kind: IndicatorType,
        value: &str,
        max_tlp: Tlp,
    ) -> Result<Answer, LookupError> {
        let at = now();
        let lifetime = self.lifetimes.of(kind);
        let warnings = self.warnings(kind, value);
        let record = self
            .store
            .indicator(kind, value)
            .await?
            .filter(|r| r.tlp <= max_tlp);
        let mut answer = Answer {
            query: raw.to_owned(),
            kind,
            value: value.to_owned(),
            known: record.is_some(),
            status: LookupStatus::Unknown,
            status_reason: None,
            false_positive: None,
            score: 0,
            score_factors: Vec::new(),
            lifetime_days: lifetime.as_secs() / 86_400,
            expires_at: None,
            first_seen: None,
            last_seen: None,
            tlp: None,
            sources: Vec::new(),
            early_warning: None,
            entities: Vec::new(),
            items: Vec::new(),
            related: Vec::new(),
            hunts: Vec::new(),
            local_sightings: LocalSightings::default(),
            warnings,
            enrichment: Vec::new(),
        };
        if !answer.warnings.is_empty() {
            answer.status = LookupStatus::Allowlisted;
            answer.status_reason = Some(format!("on warning list {}", answer.warnings[0].list));
        }
        let links = connect::links(kind, value);
        let mut stated = Vec::new();
        let mut co = Vec::new();
        if let Some(record) = &record {
            let ids = [record.id];
            let (context, sources, report_times, curation, local, entities) = tokio::try_join!(
                self.store
                    .indicator_context(record.id, ITEMS, RELATED, max_tlp),
                self.store.list_sources(),
                self.store.report_times(record.id, max_tlp),
                self.store.curations(&ids),
                self.store.local_sightings(record.id, LOCAL),
                self.store.indicator_entities(record.id, max_tlp),
            )?;
            answer.entities = entities
                .iter()
                .map(rexist_core::entity::EntityRef::of)
                .collect();
            let curation = curation.into_iter().next().map(|c| c.1).unwrap_or_default();
            let rexist_store::IndicatorContext {
                sightings,
                mentions,
                co_occurring,
                relations,
                hits,
            } = context;
            let sightings: Vec<_> = sightings.into_iter().filter(|s| s.tlp <= max_tlp).collect();
            answer.early_warning = early_warning(kind, value, &report_times, &sources, at);
            let names: HashMap<SourceId, (String, String)> = sources
                .into_iter()
                .map(|s| (s.id, (s.name, s.kind)))
                .collect();
            let allowlisted = answer.status == LookupStatus::Allowlisted
                || record.status == IndicatorStatus::Allowlisted;
            let (score, factors) = curated_score(
                &curation,
                &sightings,
                &local,
                record.last_seen,
                at,
                lifetime,
                allowlisted,
            );
            answer.score = score;
            answer.score_factors = factors;
            answer.local_sightings = local;
            let expires = record.last_seen
                + time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX);
            answer.expires_at = Some(expires);
            // The analyst's mark stands over a warning list's word.
            if record.status == IndicatorStatus::FalsePositive {
                answer.status = LookupStatus::FalsePositive;
                answer.status_reason.clone_from(&record.status_reason);
                answer.false_positive = curation.false_positive;
            } else if answer.status != LookupStatus::Allowlisted {
                answer.status = record.status.into();
                answer.status_reason.clone_from(&record.status_reason);
                // The sweep runs hourly; between sweeps the answer is already right.
                if record.status == IndicatorStatus::Active && expires < at {
                    answer.status = LookupStatus::Expired;
                    answer.status_reason =
                        Some(format!("not sighted for {} days", answer.lifetime_days));
                }
            }
            answer.first_seen = Some(record.first_seen);
            answer.last_seen = Some(record.last_seen);
            answer.tlp = Some(record.tlp);
            answer.sources = source_reports(&sightings, &names);
            answer.items = self.items(&mentions, &sightings, &names).await?;
            answer.items.retain(|i| i.tlp <= max_tlp);
            // A stated relation shows only when the reader sees a sighting of
            // this indicator by the source that stated it.
            let visible: HashSet<SourceId> = sightings.iter().map(|s| s.source_id).collect();
            stated = relations
                .into_iter()
                .filter(|r| visible.contains(&r.source_id))
                .take(RELATED as usize)
                .map(|r| {
                    let (other, direction) = if r.from == record.id {
                        (r.to, "")
                    } else {
                        (r.from, " (inverse)")
                    };
                    let source = names.get(&r.source_id).map_or("?", |n| n.0.as_str());
                    (other, r.kind, format!("{direction}, stated by {source}"))
                })
                .collect();
            co = co_occurring
                .into_iter()
                .filter(|c| c.indicator.tlp <= max_tlp)
                .collect();
            answer.hunts = self.hunt_matches(hits, max_tlp).await?;
        }
        let query = rexist_store::ConnectedQuery {
            ids: stated.iter().map(|s| s.0).collect(),
            exact: links
                .exact
                .iter()
                .map(|l| (l.kind, l.value.clone()))
                .collect(),
            prefixes: links
                .prefixes
                .iter()
                .map(|l| (l.kind, l.value.clone()))
                .collect(),
            per_prefix: RELATED,
            under: links
                .under
                .iter()
                .map(|l| (l.kind, l.value.clone()))
                .collect(),
            per_under: UNDER,
            max_tlp,
        };
        let found = self.store.connected(&query).await?;
        answer.related = related(kind, value, record.as_ref(), &links, &stated, &co, &found);
        // Shared items (up to 25, weight 0.2) keep their stored status,
        // which the flagging sweep sets: checking each costs more than the
        // lookup.
        for r in &mut answer.related {
            if r.relation != "shared-items" {
                (r.status, r.score) = self.neighbour(r.kind, &r.value, r.status, r.score);
            } else if r.status == LookupStatus::FalsePositive {
                r.score = 0;
            }
        }
        let neighbours: Vec<connect::Neighbour<'_>> = answer
            .related
            .iter()
            .map(|r| connect::Neighbour {
                value: &r.value,
                relation: &r.relation,
                hop: hop_of(&links, r),
                score: r.score,
                status: r.status,
            })
            .collect();
        // An analyst's verdict (a false positive, an overridden score) is
        // not raised by neighbours.
        let fixed = matches!(
            answer.status,
            LookupStatus::Allowlisted | LookupStatus::FalsePositive
        ) || answer.score_factors.iter().any(|f| f.name == "override");
        let (score, factors) = connect::with_relations(answer.score, fixed, &neighbours);
        answer.score = score;
        answer.score_factors.extend(factors);
        Ok(answer)
    }

    /// A related indicator's status and score as its own lookup answers
    /// them: on a warning list it is allow-listed with score 0, and a false
    /// positive scores 0, so neither carries risk over.
    fn neighbour(
        &self,
        kind: IndicatorType,
        value: &str,
        status: LookupStatus,
        score: u8,
    ) -> (LookupStatus, u8) {
        if status == LookupStatus::FalsePositive {
            (status, 0)
        } else if self.warnings(kind, value).is_empty() {
            (status, score)
        } else {
            (LookupStatus::Allowlisted, 0)
        }
    }

    /// The hunts `hits` belong to, by name; hunts above the reader's
    /// clearance are left out with their hits.
    async fn hunt_matches(
        &self,
        hits: Vec<rexist_core::HuntHit>,
        max_tlp: Tlp,
    ) -> Result<Vec<HuntMatch>, LookupError> {
        // Hunt names only when a hunt matched: most indicators have no hits.
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let names: HashMap<_, _> = self
            .store
            .list_hunts()
            .await?
            .into_iter()
            .filter(|h| h.spec.tlp <= max_tlp)
            .map(|h| (h.id, h.spec.name))
            .collect();
        Ok(hits
            .into_iter()
            .filter_map(|h| {
                Some(HuntMatch {
                    hunt: names.get(&h.hunt_id)?.clone(),
                    terms: h.terms,
                    at: h.created_at,
                })
            })
            .collect())
    }

    async fn items(
        &self,
        mentions: &[rexist_store::MentionRef],
        sightings: &[rexist_core::Sighting],
        names: &HashMap<SourceId, (String, String)>,
    ) -> Result<Vec<ItemRef>, LookupError> {
        // Items that mention it in their text, then items that state it
        // (a MISP event's attribute), newest first, deduplicated.
        let mut ids: Vec<rexist_core::ItemId> = mentions.iter().map(|m| m.item).collect();
        let mut stated: Vec<_> = sightings.iter().filter_map(|s| s.item_id).collect();
        stated.sort_unstable_by(|a, b| b.cmp(a));
        ids.extend(stated);
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids.truncate(ITEMS as usize);
        let items = self.store.items_by_id(&ids).await?;
        let by_id: HashMap<_, _> = items.into_iter().map(|i| (i.id, i)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|item| {
                let mention = mentions.iter().find(|m| m.item == item.id);
                ItemRef {
                    id: item.id,
                    title: item.content.title.clone(),
                    kind: item.content.kind,
                    source: names
                        .get(&item.source_id)
                        .map(|n| n.0.clone())
                        .unwrap_or_default(),
                    url: item.content.url.clone(),
                    published_at: item.content.published_at,
                    snippet: mention
                        .map(|m| snippet(&item.content.body, m.start as usize, m.end as usize)),
                    tlp: item.content.tlp,
                }
            })
            .collect())
    }

    /// The local verdict on many values at once (at most [`MAX_BULK`]).
    /// Indicators above `max_tlp` are answered as unknown.
    pub async fn bulk(
        &self,
        raws: &[String],
        max_tlp: Option<Tlp>,
    ) -> Result<Vec<Brief>, LookupError> {
        if raws.len() > MAX_BULK {
            return Err(LookupError::Invalid(format!(
                "{} values given; a bulk lookup takes at most {MAX_BULK}",
                raws.len()
            )));
        }
        let parsed: Vec<Result<Indicator, String>> = raws.iter().map(|r| parse_input(r)).collect();
        // Each value and what its shape points at (no prefix reads: a
        // bulk answer stays index probes only), each key once.
        let links: Vec<Option<connect::Links>> = parsed
            .iter()
            .map(|p| p.as_ref().ok().map(|i| connect::links(i.kind(), i.value())))
            .collect();
        let mut wanted: HashSet<(IndicatorType, &str)> = HashSet::new();
        for (p, l) in parsed.iter().zip(&links) {
            if let (Ok(i), Some(l)) = (p, l) {
                wanted.insert((i.kind(), i.value()));
                wanted.extend(l.exact.iter().map(|x| (x.kind, x.value.as_str())));
            }
        }
        let keys: Vec<(IndicatorType, String)> =
            wanted.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        let found = self.store.indicators_by_values(&keys).await?;
        let by_key: HashMap<(IndicatorType, &str), &IndicatorRecord> = found
            .iter()
            .filter(|r| max_tlp.is_none_or(|m| r.tlp <= m))
            .map(|r| ((r.kind, r.value.as_str()), r))
            .collect();
        // An overridden score stands as the analyst set it.
        let ids: Vec<rexist_core::IndicatorId> = by_key.values().map(|r| r.id).collect();
        let overridden: HashSet<rexist_core::IndicatorId> = self
            .store
            .curations(&ids)
            .await?
            .into_iter()
            .filter(|(_, c)| c.score.is_some())
            .map(|(id, _)| id)
            .collect();
        Ok(raws
            .iter()
            .zip(parsed)
            .zip(links)
            .map(|((raw, p), links)| match (p, links) {
                (Ok(i), Some(links)) => {
                    let warnings: Vec<String> = self
                        .warnings(i.kind(), i.value())
                        .into_iter()
                        .map(|w| w.list)
                        .collect();
                    let record = by_key.get(&(i.kind(), i.value()));
                    let status = match record {
                        Some(r) if r.status == IndicatorStatus::FalsePositive => {
                            LookupStatus::FalsePositive
                        }
                        _ if !warnings.is_empty() => LookupStatus::Allowlisted,
                        Some(r) => r.status.into(),
                        None => LookupStatus::Unknown,
                    };
                    let mut related: Vec<(BriefRelated, u8, LookupStatus)> = Vec::new();
                    for l in &links.exact {
                        if let Some(r) = by_key.get(&(l.kind, l.value.as_str()))
                            && !related
                                .iter()
                                .any(|x| x.0.value == r.value && x.0.kind == r.kind)
                        {
                            let (status, score) =
                                self.neighbour(r.kind, &r.value, r.status.into(), r.score);
                            related.push((
                                BriefRelated {
                                    kind: r.kind,
                                    value: r.value.clone(),
                                    relation: l.relation.to_owned(),
                                    score,
                                },
                                l.hop,
                                status,
                            ));
                        }
                    }
                    let neighbours: Vec<connect::Neighbour<'_>> = related
                        .iter()
                        .map(|(r, hop, status)| connect::Neighbour {
                            value: &r.value,
                            relation: &r.relation,
                            hop: *hop,
                            score: r.score,
                            status: *status,
                        })
                        .collect();
                    let false_positive = status == LookupStatus::FalsePositive;
                    let own = if warnings.is_empty() && !false_positive {
                        record.map_or(0, |r| r.score)
                    } else {
                        0
                    };
                    let fixed = !warnings.is_empty()
                        || false_positive
                        || record.is_some_and(|r| overridden.contains(&r.id));
                    let (score, _) = connect::with_relations(own, fixed, &neighbours);
                    Brief {
                        query: raw.clone(),
                        kind: Some(i.kind()),
                        value: Some(i.value().to_owned()),
                        error: None,
                        known: record.is_some(),
                        status: Some(status),
                        score: Some(score),
                        last_seen: record.map(|r| r.last_seen),
                        sightings: record.map_or(0, |r| r.sightings),
                        warnings,
                        related: related.into_iter().map(|r| r.0).collect(),
                    }
                }
                (p, _) => Brief {
                    query: raw.clone(),
                    kind: None,
                    value: None,
                    error: p.err(),
                    known: false,
                    status: None,
                    score: None,
                    last_seen: None,
                    sightings: 0,
                    warnings: Vec::new(),
                    related: Vec::new(),
                },
            })
            .collect())
    }
}

/// The score of a stored indicator with what analysts said of it: 0 for
/// a false positive, the override when one is set, else the computed
/// score (see [`lifecycle`]) with each local sighting report counted as a
/// listed sighting at [`LOCAL_CONFIDENCE`] by a source of its own.
fn curated_score(
    curation: &Curation,
    sightings: &[rexist_core::Sighting],
    local: &LocalSightings,
    last_seen: OffsetDateTime,
    at: OffsetDateTime,
    lifetime: std::time::Duration,
    allowlisted: bool,
) -> (u8, Vec<Factor>) {
    if let Some(m) = &curation.false_positive {
        return (
            0,
            vec![Factor {
                name: "false_positive",
                value: 0.0,
                reason: format!("marked a false positive by {}: {}", m.by, m.reason),
            }],
        );
    }
    if let Some(o) = &curation.score {
        return (
            o.score,
            vec![Factor {
                name: "override",
                value: f64::from(o.score),
                reason: format!("set by {}: {}", o.mark.by, o.mark.reason),
            }],
        );
    }
    if local.reports == 0 {
        return lifecycle::score(sightings, last_seen, at, lifetime, allowlisted);
    }
    let seen = local.last_seen.unwrap_or(last_seen);
    let mut all = sightings.to_vec();
    all.extend(
        (0..local.reports.min(LOCAL_SCORED)).map(|_| rexist_core::Sighting {
            id: rexist_core::SightingId::new(0),
            indicator_id: rexist_core::IndicatorId::new(0),
            // No stored source has id 0: the local reports corroborate as one source.
            source_id: SourceId::new(0),
            item_id: None,
            first_seen: seen,
            last_seen: seen,
            confidence: LOCAL_CONFIDENCE,
            tlp: Tlp::Clear,
            labels: Vec::new(),
            listed: true,
            retired_at: None,
            retired_reason: None,
            expires_at: None,
            author: None,
        }),
    );
    let (score, mut factors) =
        lifecycle::score(&all, last_seen.max(seen), at, lifetime, allowlisted);
    factors.push(Factor {
        name: "local",
        value: f64::from(LOCAL_CONFIDENCE),
        reason: format!(
            "seen {} times in our own network ({} reports), counted as a source at confidence {LOCAL_CONFIDENCE}",
            local.count, local.reports
        ),
    });
    (score, factors)
}

/// Who reported (`kind`, `value`) first and how long before the authority,
/// from each source's first report; sources are classed by their kind
/// through the connector catalogue.
fn early_warning(
    kind: IndicatorType,
    value: &str,
    times: &[rexist_store::ReportTime],
    sources: &[rexist_core::Source],
    at: time::OffsetDateTime,
) -> Option<EarlyWarning> {
    use rexist_connectors::source::{is_cve_authority, source_class};
    let by_id: HashMap<SourceId, &rexist_core::Source> =
        sources.iter().map(|s| (s.id, s)).collect();
    let reports: Vec<Reported> = times
        .iter()
        .filter_map(|t| {
            let s = by_id.get(&t.source)?;
            Some(Reported {
                report: Report {
                    class: source_class(&s.kind),
                    source: s.name.clone(),
                    kind: s.kind.clone(),
                    at: t.at,
                },
                cve_authority: is_cve_authority(&s.kind),
            })
        })
        .collect();
    let configured = sources.iter().any(|s| {
        if kind == IndicatorType::Cve {
            is_cve_authority(&s.kind)
        } else {
            source_class(&s.kind) == SourceClass::Feed
        }
    });
    EarlyWarning::from_reports(kind, value, &reports, configured, at)
}

/// The related entries of an answer: stated relations, then what the
/// value's shape points at, then what shares items with it; each once.
fn related(
    kind: IndicatorType,
    value: &str,
    record: Option<&IndicatorRecord>,
    links: &connect::Links,
    stated: &[(rexist_core::IndicatorId, String, String)],
    co: &[rexist_store::CoOccurrence],
    found: &[rexist_store::Connected],
) -> Vec<Related> {
    let by_id: HashMap<_, _> = found.iter().map(|c| (c.record.id, c)).collect();
    let mut out: Vec<Related> = Vec::new();
    let mut seen: HashSet<(IndicatorType, String)> = HashSet::new();
    seen.insert((kind, value.to_owned()));
    let mut push = |out: &mut Vec<Related>,
                    record: &IndicatorRecord,
                    sources: &[String],
                    relation: &str,
                    reason: String| {
        if seen.insert((record.kind, record.value.clone())) {
            out.push(Related {
                kind: record.kind,
                value: record.value.clone(),
                relation: relation.to_owned(),
                reason,
                score: record.score,
                status: record.status.into(),
                sources: sources.to_vec(),
            });
        }
    };
    for (id, relation, how) in stated {
        if let Some(c) = by_id.get(id) {
            let reason = format!("{relation}{how}");
            push(&mut out, &c.record, &c.sources, relation, reason);
        }
    }
    let own = record.map(|r| r.id);
    for l in &links.exact {
        if let Some(c) = found.iter().find(|c| {
            c.record.kind == l.kind && c.record.value == l.value && Some(c.record.id) != own
        }) {
            let reason = shape_reason(l.relation, value, &c.record.value);
            push(&mut out, &c.record, &c.sources, l.relation, reason);
        }
    }
    for l in &links.prefixes {
        for c in found.iter().filter(|c| {
            c.record.kind == l.kind
                && c.record.value.starts_with(&l.value)
                && Some(c.record.id) != own
                && connect::keeps(kind, value, c.record.kind, &c.record.value)
        }) {
            let reason = shape_reason(l.relation, value, &c.record.value);
            push(&mut out, &c.record, &c.sources, l.relation, reason);
        }
    }
    for l in &links.under {
        let mut below: Vec<(usize, &rexist_store::Connected)> = found
            .iter()
            .filter(|c| {
                c.record.kind == l.kind
                    && Some(c.record.id) != own
                    && connect::lies_under(&l.value, c.record.kind, &c.record.value)
            })
            .map(|c| {
                let host = connect::host_of(c.record.kind, &c.record.value).unwrap_or_default();
                (connect::depth_under(&l.value, host), c)
            })
            .collect();
        // The nearest first, as the store chose them.
        below.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.record.value.cmp(&b.1.record.value)));
        for (_, c) in below {
            let reason = shape_reason(l.relation, value, &c.record.value);
            push(&mut out, &c.record, &c.sources, l.relation, reason);
        }
    }
    // Co-occurring indicators come with their records; their items say
    // where they came from.
    for c in co {
        let reason = format!(
            "in {} of the same item{}",
            c.shared_items,
            if c.shared_items == 1 { "" } else { "s" }
        );
        push(&mut out, &c.indicator, &[], "shared-items", reason);
    }
    out
}

/// A shape relation in words.
fn shape_reason(relation: &str, asked: &str, other: &str) -> String {
    match relation {
        "contained-in" => format!("{asked} lies in {other}"),
        "contains" => format!("{other} lies in {asked}"),
        "host-of" => format!("{other} is the URL's host"),
        "domain-of" => format!("{other} is the address's domain"),
        "parent-domain" => format!("{other} is a parent domain"),
        "url-on" => format!("a URL on {asked}"),
        "subdomain" => format!("{other} is a sub-domain of {asked}"),
        "email-at" => match other.rsplit_once('@') {
            Some((_, host)) if host != asked => {
                format!("{other} is an address at {host}, below {asked}")
            }
            _ => format!("{other} is an address at {asked}"),
        },
        _ => relation.to_owned(),
    }
}

/// How many steps away a related entry is: a shape link's own hop, else 1.
fn hop_of(links: &connect::Links, r: &Related) -> u8 {
    links
        .exact
        .iter()
        .find(|l| l.kind == r.kind && l.value == r.value && l.relation == r.relation)
        .map_or(1, |l| l.hop)
}

fn source_reports(
    sightings: &[rexist_core::Sighting],
    names: &HashMap<SourceId, (String, String)>,
) -> Vec<SourceReport> {
    let mut by_source: Vec<SourceReport> = Vec::new();
    let mut index: HashMap<SourceId, usize> = HashMap::new();
    // Per source: whether any sighting is unretired, and its latest retirement.
    let mut live: HashSet<SourceId> = HashSet::new();
    let mut retired: HashMap<SourceId, (OffsetDateTime, RetractReason)> = HashMap::new();
    for s in sightings {
        let at = *index.entry(s.source_id).or_insert_with(|| {
            let (name, kind) = names.get(&s.source_id).cloned().unwrap_or_default();
            by_source.push(SourceReport {
                source: name,
                kind,
                confidence: 0,
                tlp: s.tlp,
                labels: Vec::new(),
                sightings: 0,
                listed: false,
                retired_reason: None,
                retired_at: None,
                first_seen: s.first_seen,
                last_seen: s.last_seen,
            });
            by_source.len() - 1
        });
        let r = &mut by_source[at];
        r.confidence = r.confidence.max(s.confidence);
        r.tlp = r.tlp.min(s.tlp);
        r.sightings += 1;
        r.listed |= s.listed;
        match (s.retired_at, s.retired_reason) {
            (Some(t), Some(why)) => {
                retired
                    .entry(s.source_id)
                    .and_modify(|e| {
                        if t > e.0 {
                            *e = (t, why);
                        }
                    })
                    .or_insert((t, why));
            }
            _ => {
                live.insert(s.source_id);
            }
        }
        r.first_seen = r.first_seen.min(s.first_seen);
        r.last_seen = r.last_seen.max(s.last_seen);
        for l in &s.labels {
            if !r.labels.contains(l) {
                r.labels.push(l.clone());
            }
        }
    }
    for (id, at) in index {
        if let (false, Some((t, why))) = (live.contains(&id), retired.get(&id)) {
            by_source[at].retired_at = Some(*t);
            by_source[at].retired_reason = Some(*why);
        }
    }
    by_source.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
    by_source
}

/// About 160 bytes of `body` around `start..end`, on character boundaries.
fn snippet(body: &str, start: usize, end: usize) -> String {
    let mut from = start.saturating_sub(80).min(body.len());
    while !body.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = end.saturating_add(80).min(body.len());
    while !body.is_char_boundary(to) {
        to += 1;
    }
    let text = body[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{}{text}{}",
        if from > 0 { "…" } else { "" },
        if to < body.len() { "…" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_refanged_and_detected() {
        assert_eq!(
            parse_input(" hxxp://evil[.]com/x ").unwrap().value(),
            "http://evil.com/x"
        );
        assert_eq!(
            parse_input("192.0.2[.]1").unwrap().kind(),
            IndicatorType::Ipv4
        );
        assert_eq!(
            parse_input("CVE-2021-44228").unwrap().kind(),
            IndicatorType::Cve
        );
        assert!(parse_input("").is_err());
        assert!(
            parse_input("hello there")
                .unwrap_err()
                .contains("hello there")
        );
    }

    #[test]
    fn typed_names_need_no_public_tld() {
        for (raw, kind, value) in [
            (
                "login[.]phish[.]example",
                IndicatorType::Domain,
                "login.phish.example",
            ),
            ("intranet[.]local", IndicatorType::Domain, "intranet.local"),
            (
                "hxxps://host[.]corp/x",
                IndicatorType::Url,
                "https://host.corp/x",
            ),
            (
                "hxxp://evil.example/x",
                IndicatorType::Url,
                "http://evil.example/x",
            ),
            (
                "login.phish.example",
                IndicatorType::Domain,
                "login.phish.example",
            ),
        ] {
            let got = parse_input(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!((got.kind(), got.value()), (kind, value), "{raw}");
        }
    }

    #[test]
    fn snippets_stay_on_char_boundaries() {
        let body = "脆弱性".repeat(60) + " evil.com " + &"攻撃".repeat(60);
        let at = body.find("evil.com").unwrap();
        let s = snippet(&body, at, at + 8);
        assert!(s.contains("evil.com"));
        assert!(s.starts_with('…') && s.ends_with('…'));
        assert_eq!(snippet("x evil.com", 2, 10), "x evil.com");
    }
}
