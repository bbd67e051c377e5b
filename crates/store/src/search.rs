//! An analyst's search: indicators and items filtered, sorted and counted
//! by facet, every filter in one SQL statement both backends run.
//!
//! The statements are built here once, for either dialect (`?N` and one
//! parameter per list element for SQLite, `$N` and arrays for PostgreSQL):
//! only the full-text clause differs by engine. Facet counts read at most
//! [`FACET_SCAN`] matching rows per facet, so a search over millions of
//! indicators costs a bounded read; past it a count is a lower bound and
//! [`Facets::capped`] says so. Every count is within the reader's
//! clearance: rows above it are not read, and a source is counted for an
//! indicator only through a sighting the reader may see.

use std::fmt::Write as _;

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorStatus, IndicatorType, ItemKind, SourceId, Tlp};
use serde::Serialize;

use crate::decode::{INDICATOR_COLUMNS, ITEM_COLUMNS, qualified};
use crate::sharing::{Bind, label_pattern};
use crate::{Result, StoreError};

/// Matching rows each facet count reads at most.
pub const FACET_SCAN: u32 = 100_000;
/// The deepest page a relevance-sorted item search reaches (it pages by offset).
pub const MAX_RELEVANCE_OFFSET: u32 = 10_000;

/// The order of an indicator search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorSort {
    /// By value, then type (the listing's order, cursor-compatible with it).
    #[default]
    Value,
    /// Most recently seen first.
    Newest,
    /// Least recently seen first.
    Oldest,
    /// Highest score first.
    Score,
}

impl IndicatorSort {
    /// Its name in query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Score => "score",
        }
    }
}

impl std::str::FromStr for IndicatorSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "value" => Self::Value,
            "newest" => Self::Newest,
            "oldest" => Self::Oldest,
            "score" => Self::Score,
            other => {
                return Err(format!(
                    "unknown indicator sort {other:?} (expected value, newest, oldest or score)"
                ));
            }
        })
    }
}

/// The order of an item search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemSort {
    /// Newest stored first (the listing's order).
    #[default]
    Newest,
    /// Oldest stored first.
    Oldest,
    /// Best full-text match first; without text, newest first. Pages by
    /// offset, at most [`MAX_RELEVANCE_OFFSET`] deep.
    Relevance,
}

impl ItemSort {
    /// Its name in query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Relevance => "relevance",
        }
    }
}

impl std::str::FromStr for ItemSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "newest" => Self::Newest,
            "oldest" => Self::Oldest,
            "relevance" => Self::Relevance,
            other => {
                return Err(format!(
                    "unknown item sort {other:?} (expected newest, oldest or relevance)"
                ));
            }
        })
    }
}

/// What an indicator search matches; empty lists and `None` match all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorFilter {
    /// Only these types.
    pub kinds: Vec<IndicatorType>,
    /// Only this exact canonical value.
    pub value: Option<String>,
    /// Only values starting with this.
    pub prefix: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<IndicatorStatus>,
    /// Only indicators this source (by name) reported in a sighting the
    /// reader may see, withdrawn sightings included.
    pub source: Option<String>,
    /// Only these TLPs (each at most the clearance to count).
    pub tlps: Vec<Tlp>,
    /// Only indicators carrying this label (as exports' `tag`: a source's
    /// or an analyst's, not one an analyst removed).
    pub label: Option<String>,
    /// Only scores at least this.
    pub min_score: Option<u8>,
    /// Only scores at most this.
    pub max_score: Option<u8>,
    /// Only indicators seen at or after this (their last sighting).
    pub from: Option<time::OffsetDateTime>,
    /// Only indicators seen at or before this (their first sighting).
    pub to: Option<time::OffsetDateTime>,
    /// The reader's clearance: nothing above it matches.
    pub max_tlp: Tlp,
}

/// One page of an indicator search ([`crate::Store::search_indicators`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorSearch {
    /// What matches.
    pub filter: IndicatorFilter,
    /// In what order.
    pub sort: IndicatorSort,
    /// The previous page's `next`.
    pub after: Option<String>,
    /// Page size (capped at 1000, 50 when 0).
    pub limit: u32,
}

/// What an item search matches; empty lists and `None` match all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemFilter {
    /// Full-text query over title and body (see [`crate::fts::TextQuery`]).
    pub text: Option<String>,
    /// Only these kinds.
    pub kinds: Vec<ItemKind>,
    /// Only items of these sources.
    pub sources: Vec<SourceId>,
    /// Only these TLPs.
    pub tlps: Vec<Tlp>,
    /// Only items published (or, without a publication time, stored) at or after this.
    pub from: Option<time::OffsetDateTime>,
    /// … at or before this.
    pub to: Option<time::OffsetDateTime>,
    /// The reader's clearance.
    pub max_tlp: Tlp,
}

/// One page of an item search ([`crate::Store::search_items_by`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemSearch {
    /// What matches.
    pub filter: ItemFilter,
    /// In what order.
    pub sort: ItemSort,
    /// The previous page's `next`.
    pub after: Option<String>,
    /// Page size (capped at 1000, 50 when 0).
    pub limit: u32,
}

/// One value of a facet and how many matches have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    /// The value (a type, kind, source name, TLP or status name).
    pub value: String,
    /// How many matches have it.
    pub count: u64,
}

/// Counts of a search's matches by facet. Each facet counts the matches of
/// every filter but its own, so its other values show what choosing them
/// would find.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Facets {
    /// By indicator type (indicator searches only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<FacetCount>,
    /// By item kind (item searches only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<FacetCount>,
    /// By source name.
    pub sources: Vec<FacetCount>,
    /// By TLP.
    pub tlps: Vec<FacetCount>,
    /// By status (indicator searches only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<FacetCount>,
    /// A facet read [`FACET_SCAN`] rows: its counts are lower bounds.
    pub capped: bool,
}

/// A statement being built, with its parameters.
pub(crate) struct Sql {
    pub pg: bool,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn new(pg: bool) -> Self {
        Self {
            pg,
            binds: Vec::new(),
        }
    }

    /// A placeholder for `b`.
    pub(crate) fn arg(&mut self, b: Bind) -> String {
        self.binds.push(b);
        if self.pg {
            format!("${}", self.binds.len())
        } else {
            format!("?{}", self.binds.len())
        }
    }

    fn int(&mut self, v: i64) -> String {
        self.arg(Bind::Int(v))
    }

    fn text(&mut self, v: &str) -> String {
        self.arg(Bind::Text(v.to_owned()))
    }

    /// `column IN (…)` over `values` (none: no clause).
    fn any_texts(&mut self, column: &str, values: Vec<String>) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        Some(if self.pg {
            format!("{column} = ANY({})", self.arg(Bind::Texts(values)))
        } else {
            let marks: Vec<String> = values.iter().map(|v| self.text(v)).collect();
            format!("{column} IN ({})", marks.join(", "))
        })
    }

    fn any_ints(&mut self, column: &str, values: Vec<i64>) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        Some(if self.pg {
            format!("{column} = ANY({})", self.arg(Bind::Ints(values)))
        } else {
            let marks: Vec<String> = values.into_iter().map(|v| self.int(v)).collect();
            format!("{column} IN ({})", marks.join(", "))
        })
    }
}

/// Indicator facets, each left out of its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    None,
    Kind,
    Status,
    Source,
    Tlp,
}

/// The `WHERE` conditions of `f` over `indicators i`, leaving out `skip`'s.
pub(crate) fn indicator_where(sql: &mut Sql, f: &IndicatorFilter, skip: Skip) -> String {
    let mut c: Vec<String> = Vec::new();
    let clearance = i64::from(f.max_tlp.rank());
    c.push(format!("i.tlp <= {}", sql.int(clearance)));
    if skip != Skip::Kind {
        c.extend(sql.any_texts(
            "i.kind",
            f.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        ));
    }
    if let Some(v) = &f.value {
        c.push(format!("i.value = {}", sql.text(v)));
    }
    if let Some(p) = &f.prefix {
        let (lo, hi) = (sql.text(p), sql.text(&crate::types::prefix_end(p)));
        c.push(format!("i.value >= {lo} AND i.value < {hi}"));
    }
    if skip != Skip::Status {
        c.extend(sql.any_texts(
            "i.status",
            f.statuses.iter().map(|s| s.as_str().to_owned()).collect(),
        ));
    }
    if skip != Skip::Tlp {
        c.extend(sql.any_ints(
            "i.tlp",
            f.tlps.iter().map(|t| i64::from(t.rank())).collect(),
        ));
    }
    if let Some(min) = f.min_score {
        c.push(format!("i.score >= {}", sql.int(i64::from(min))));
    }
    if let Some(max) = f.max_score {
        c.push(format!("i.score <= {}", sql.int(i64::from(max))));
    }
    if let Some(from) = f.from {
        c.push(format!("i.last_seen >= {}", sql.int(unix_micros(from))));
    }
    if let Some(to) = f.to {
        c.push(format!("i.first_seen <= {}", sql.int(unix_micros(to))));
    }
    if skip != Skip::Source
        && let Some(name) = &f.source
    {
        let (n, t) = (sql.text(name), sql.int(clearance));
        c.push(format!(
            "EXISTS (SELECT 1 FROM sightings s JOIN sources src ON src.id = s.source_id \
             WHERE s.indicator_id = i.id AND src.name = {n} AND s.tlp <= {t})"
        ));
    }
    if let Some(tag) = &f.label {
        let (pattern, retired, label) = (
            sql.text(&label_pattern(tag)),
            sql.text(IndicatorStatus::Retired.as_str()),
            sql.text(tag),
        );
        let tlp = sql.int(clearance);
        // As exports' `tag`: an analyst's added label counts, a removed one does not.
        c.push(format!(
            "((EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = i.id AND s.tlp <= {tlp} \
             AND s.labels LIKE {pattern} ESCAPE '\\' AND (s.retired_at IS NULL OR i.status = {retired})) \
             AND NOT EXISTS (SELECT 1 FROM curations c WHERE c.indicator_id = i.id \
             AND c.fact = 'label' AND c.label = {label} AND c.value = 'removed')) \
             OR EXISTS (SELECT 1 FROM curations c WHERE c.indicator_id = i.id \
             AND c.fact = 'label' AND c.label = {label} AND c.value = 'added'))"
        ));
    }
    c.join(" AND ")
}

fn bad_cursor(cursor: &str) -> StoreError {
    StoreError::invalid(format!(
        "invalid page cursor {:?}",
        cursor.chars().take(40).collect::<String>()
    ))
}

/// `(a, b)` of a cursor `tag.a.b`.
fn two_ints(cursor: &str, tag: &str) -> Result<(i64, i64)> {
    let rest = cursor
        .strip_prefix(tag)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or_else(|| bad_cursor(cursor))?;
    let (a, b) = rest.split_once('.').ok_or_else(|| bad_cursor(cursor))?;
    Ok((
        a.parse().map_err(|_| bad_cursor(cursor))?,
        b.parse().map_err(|_| bad_cursor(cursor))?,
    ))
}

/// The statement of one page of `q` (one row more than the page, to know
/// whether another follows).
pub(crate) fn indicator_page_sql(q: &IndicatorSearch, pg: bool) -> Result<(String, Vec<Bind>)> {
    let mut sql = Sql::new(pg);
    let mut w = indicator_where(&mut sql, &q.filter, Skip::None);
    let (order, key) = match q.sort {
        IndicatorSort::Value => ("i.value, i.kind", None),
        IndicatorSort::Newest => (
            "i.last_seen DESC, i.id DESC",
            Some(("n", "i.last_seen", "<")),
        ),
        IndicatorSort::Oldest => ("i.last_seen, i.id", Some(("o", "i.last_seen", ">"))),
        IndicatorSort::Score => ("i.score DESC, i.id DESC", Some(("s", "i.score", "<"))),
    };
    if let Some(after) = q.after.as_deref().filter(|a| !a.is_empty()) {
        match key {
            None => {
                let (value, kind) = crate::decode::decode_cursor(after)?;
                let (v, v2, k) = (sql.text(&value), sql.text(&value), sql.text(&kind));
                let _ = write!(
                    w,
                    " AND (i.value > {v} OR (i.value = {v2} AND i.kind > {k}))"
                );
            }
            Some((tag, column, op)) => {
                let (a, id) = two_ints(after, tag)?;
                let (a, id) = (sql.int(a), sql.int(id));
                let _ = write!(w, " AND ({column}, i.id) {op} ({a}, {id})");
            }
        }
    }
    let limit = crate::types::page_size(q.limit) + 1;
    let cols = qualified("i", INDICATOR_COLUMNS);
    Ok((
        format!("SELECT {cols} FROM indicators i WHERE {w} ORDER BY {order} LIMIT {limit}"),
        sql.binds,
    ))
}

/// The cursor after `r` in `sort`'s order.
pub(crate) fn indicator_cursor(sort: IndicatorSort, r: &rexist_core::IndicatorRecord) -> String {
    match sort {
        IndicatorSort::Value => crate::decode::encode_cursor(&r.value, r.kind),
        IndicatorSort::Newest => format!("n.{}.{}", unix_micros(r.last_seen), r.id.get()),
        IndicatorSort::Oldest => format!("o.{}.{}", unix_micros(r.last_seen), r.id.get()),
        IndicatorSort::Score => format!("s.{}.{}", r.score, r.id.get()),
    }
}

/// The statements counting each indicator facet: (facet, SQL, parameters).
/// Each reads at most [`FACET_SCAN`] matches.
pub(crate) fn indicator_facet_sql(f: &IndicatorFilter, pg: bool) -> Vec<(Skip, String, Vec<Bind>)> {
    let cap = FACET_SCAN;
    let mut out = Vec::new();
    for (skip, column) in [
        (Skip::Kind, "kind"),
        (Skip::Status, "status"),
        (Skip::Tlp, "tlp"),
    ] {
        let mut sql = Sql::new(pg);
        let w = indicator_where(&mut sql, f, skip);
        let text = if pg {
            format!("m.{column}::text")
        } else {
            format!("CAST(m.{column} AS TEXT)")
        };
        out.push((
            skip,
            format!(
                "SELECT {text}, count(*) FROM (SELECT i.{column} FROM indicators i WHERE {w} \
                 LIMIT {cap}) m GROUP BY m.{column}"
            ),
            sql.binds,
        ));
    }
    let mut sql = Sql::new(pg);
    let w = indicator_where(&mut sql, f, Skip::Source);
    let t = sql.int(i64::from(f.max_tlp.rank()));
    out.push((
        Skip::Source,
        format!(
            "SELECT src.name, count(DISTINCT m.id) FROM (SELECT i.id FROM indicators i WHERE {w} \
             LIMIT {cap}) m JOIN sightings s ON s.indicator_id = m.id AND s.tlp <= {t} \
             JOIN sources src ON src.id = s.source_id GROUP BY src.name"
        ),
        sql.binds,
    ));
    out
}

/// Item facets, each left out of its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemSkip {
    None,
    Kind,
    Source,
    Tlp,
}

/// The `WHERE` conditions of `f` over `items it`, leaving out `skip`'s;
/// `None` when the text has nothing searchable (nothing matches).
pub(crate) fn item_where(sql: &mut Sql, f: &ItemFilter, skip: ItemSkip) -> Option<String> {
    let mut c: Vec<String> = Vec::new();
    c.push(format!(
        "it.tlp <= {}",
        sql.int(i64::from(f.max_tlp.rank()))
    ));
    if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let tq = crate::fts::TextQuery::parse(text)?;
        if sql.pg {
            let a = sql.text(&tq.to_tsquery());
            c.push(format!("it.fts @@ to_tsquery('simple', {a})"));
        } else {
            let a = sql.text(&tq.to_fts5());
            c.push(format!(
                "it.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH {a})"
            ));
        }
    }
    if skip != ItemSkip::Kind {
        c.extend(sql.any_texts(
            "it.kind",
            f.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        ));
    }
    if skip != ItemSkip::Source {
        c.extend(sql.any_ints("it.source_id", f.sources.iter().map(|s| s.get()).collect()));
    }
    if skip != ItemSkip::Tlp {
        c.extend(sql.any_ints(
            "it.tlp",
            f.tlps.iter().map(|t| i64::from(t.rank())).collect(),
        ));
    }
    if let Some(from) = f.from {
        c.push(format!(
            "coalesce(it.published_at, it.created_at) >= {}",
            sql.int(unix_micros(from))
        ));
    }
    if let Some(to) = f.to {
        c.push(format!(
            "coalesce(it.published_at, it.created_at) <= {}",
            sql.int(unix_micros(to))
        ));
    }
    Some(c.join(" AND "))
}

/// The statement of one page of `q`; `None` when nothing can match.
pub(crate) fn item_page_sql(q: &ItemSearch, pg: bool) -> Result<Option<(String, Vec<Bind>)>> {
    let text = q
        .filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let parsed_text = match text {
        Some(t) => match crate::fts::TextQuery::parse(t) {
            Some(tq) => Some(tq),
            None => return Ok(None),
        },
        None => None,
    };
    let after = q.after.as_deref().filter(|a| !a.is_empty());
    let parsed = after
        .map(|a| a.parse::<i64>().map_err(|_| bad_cursor(a)))
        .transpose()?;
    let limit = crate::types::page_size(q.limit) + 1;
    let cols = qualified("it", ITEM_COLUMNS);
    let mut sql = Sql::new(pg);
    if q.sort == ItemSort::Relevance
        && let Some(tq) = parsed_text
    {
        let offset = parsed.unwrap_or(0);
        if !(0..=i64::from(MAX_RELEVANCE_OFFSET)).contains(&offset) {
            return Err(StoreError::invalid(format!(
                "a relevance-sorted search pages at most {MAX_RELEVANCE_OFFSET} results deep"
            )));
        }
        if pg {
            let w = item_where(&mut sql, &q.filter, ItemSkip::None).unwrap_or_default();
            let a = sql.text(&tq.to_tsquery());
            return Ok(Some((
                format!(
                    "SELECT {cols} FROM items it WHERE {w} \
                     ORDER BY ts_rank(it.fts, to_tsquery('simple', {a})) DESC, it.id DESC \
                     LIMIT {limit} OFFSET {offset}"
                ),
                sql.binds,
            )));
        }
        // FTS5 ranks only the rows of its own MATCH: the item filter joins them.
        let a = sql.text(&tq.to_fts5());
        let rest = ItemFilter {
            text: None,
            ..q.filter.clone()
        };
        let w = item_where(&mut sql, &rest, ItemSkip::None).unwrap_or_default();
        return Ok(Some((
            format!(
                "SELECT {cols} FROM items_fts JOIN items it ON it.id = items_fts.rowid \
                 WHERE items_fts MATCH {a} AND {w} ORDER BY items_fts.rank, it.id DESC \
                 LIMIT {limit} OFFSET {offset}"
            ),
            sql.binds,
        )));
    }
    let Some(mut w) = item_where(&mut sql, &q.filter, ItemSkip::None) else {
        return Ok(None);
    };
    let order = if q.sort == ItemSort::Oldest {
        if let Some(id) = parsed {
            let _ = write!(w, " AND it.id > {}", sql.int(id));
        }
        "it.id"
    } else {
        if let Some(id) = parsed {
            let _ = write!(w, " AND it.id < {}", sql.int(id));
        }
        "it.id DESC"
    };
    Ok(Some((
        format!("SELECT {cols} FROM items it WHERE {w} ORDER BY {order} LIMIT {limit}"),
        sql.binds,
    )))
}

/// The page and its `next` from rows fetched one over the page size.
pub(crate) fn item_page(
    q: &ItemSearch,
    rows: Vec<rexist_core::Item>,
) -> crate::Page<rexist_core::Item> {
    let limit = crate::types::page_size(q.limit);
    let has_text = q
        .filter
        .text
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    if q.sort == ItemSort::Relevance && has_text {
        let offset: u64 = q.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
        let more = rows.len() > limit as usize;
        let mut items = rows;
        items.truncate(limit as usize);
        let next_offset = offset + items.len() as u64;
        let next = (more && next_offset <= u64::from(MAX_RELEVANCE_OFFSET))
            .then(|| next_offset.to_string());
        return crate::Page { items, next };
    }
    crate::Page::from_overfetch(rows, limit, |i| i.id.to_string())
}

/// The statements counting each item facet: (facet, SQL, parameters).
pub(crate) fn item_facet_sql(f: &ItemFilter, pg: bool) -> Vec<(ItemSkip, String, Vec<Bind>)> {
    let cap = FACET_SCAN;
    let mut out = Vec::new();
    for (skip, column) in [
        (ItemSkip::Kind, "kind"),
        (ItemSkip::Source, "source_id"),
        (ItemSkip::Tlp, "tlp"),
    ] {
        let mut sql = Sql::new(pg);
        let Some(w) = item_where(&mut sql, f, skip) else {
            return Vec::new();
        };
        let text = match (skip, pg) {
            (ItemSkip::Source, _) => "src.name".to_owned(),
            (_, true) => format!("m.{column}::text"),
            (_, false) => format!("CAST(m.{column} AS TEXT)"),
        };
        let join = if skip == ItemSkip::Source {
            " JOIN sources src ON src.id = m.source_id"
        } else {
            ""
        };
        out.push((
            skip,
            format!(
                "SELECT {text}, count(*) FROM (SELECT it.{column} FROM items it WHERE {w} \
                 LIMIT {cap}) m{join} GROUP BY {text}"
            ),
            sql.binds,
        ));
    }
    out
}

/// Files a facet statement's rows (value text, count) into `facets`:
/// TLP ranks become names; largest counts first, then by value.
pub(crate) fn file_facet(facets: &mut Facets, field: FacetField, rows: Vec<(String, i64)>) {
    let mut counts: Vec<FacetCount> = rows
        .into_iter()
        .map(|(value, n)| {
            let value = if field == FacetField::Tlp {
                value
                    .parse::<i64>()
                    .ok()
                    .and_then(Tlp::from_rank)
                    .map_or(value, |t| t.as_str().to_owned())
            } else {
                value
            };
            FacetCount {
                value,
                count: u64::try_from(n).unwrap_or(0),
            }
        })
        .collect();
    if field != FacetField::Source
        && counts.iter().map(|c| c.count).sum::<u64>() >= u64::from(FACET_SCAN)
    {
        facets.capped = true;
    }
    if counts.iter().any(|c| c.count >= u64::from(FACET_SCAN)) {
        facets.capped = true;
    }
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    match field {
        FacetField::Type => facets.types = counts,
        FacetField::Kind => facets.kinds = counts,
        FacetField::Source => facets.sources = counts,
        FacetField::Tlp => facets.tlps = counts,
        FacetField::Status => facets.statuses = counts,
    }
}

/// Which list of [`Facets`] a count goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FacetField {
    Type,
    Kind,
    Source,
    Tlp,
    Status,
}

impl Skip {
    pub(crate) fn field(self) -> FacetField {
        match self {
            Skip::Kind => FacetField::Type,
            Skip::Status => FacetField::Status,
            Skip::Source => FacetField::Source,
            Skip::Tlp | Skip::None => FacetField::Tlp,
        }
    }
}

impl ItemSkip {
    pub(crate) fn field(self) -> FacetField {
        match self {
            ItemSkip::Kind => FacetField::Kind,
            ItemSkip::Source => FacetField::Source,
            ItemSkip::Tlp | ItemSkip::None => FacetField::Tlp,
        }
    }
}

/// Longest name of a saved search.
pub const MAX_SEARCH_NAME: usize = 100;
/// Longest query string a saved search keeps.
pub const MAX_SEARCH_QUERY: usize = 4096;
/// Most saved searches per user.
pub const MAX_SAVED_SEARCHES: u64 = 200;

/// A search a user saved under a name ([`crate::Store::save_search`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SavedSearch {
    /// Its name, unique per user.
    pub name: String,
    /// The search page's query string (`q=…&type=ipv4&…`), without `?`.
    pub query: String,
    /// When it was saved (or last replaced).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub saved_at: time::OffsetDateTime,
}

/// Refuses a blank, over-long or control-character name or query.
pub(crate) fn check_saved(owner: &str, name: &str, query: &str) -> Result<()> {
    if owner.trim().is_empty() {
        return Err(StoreError::invalid("owner: must not be empty"));
    }
    if name.trim().is_empty() || name.len() > MAX_SEARCH_NAME || name.chars().any(char::is_control)
    {
        return Err(StoreError::invalid(format!(
            "name: 1 to {MAX_SEARCH_NAME} bytes, no control characters"
        )));
    }
    if query.len() > MAX_SEARCH_QUERY || query.chars().any(char::is_control) {
        return Err(StoreError::invalid(format!(
            "query: at most {MAX_SEARCH_QUERY} bytes, no control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked() {
        assert_eq!(two_ints("n.5.7", "n").ok(), Some((5, 7)));
        assert!(two_ints("s.5.7", "n").is_err());
        assert!(two_ints("n.5", "n").is_err());
        assert!(two_ints("n.x.7", "n").is_err());
    }

    #[test]
    fn sqlite_lists_get_a_mark_per_value_postgres_one_array() {
        let f = IndicatorFilter {
            kinds: vec![IndicatorType::Ipv4, IndicatorType::Domain],
            max_tlp: Tlp::Green,
            ..IndicatorFilter::default()
        };
        let mut lite = Sql::new(false);
        let w = indicator_where(&mut lite, &f, Skip::None);
        assert!(w.contains("i.kind IN (?2, ?3)"), "{w}");
        let mut pg = Sql::new(true);
        let w = indicator_where(&mut pg, &f, Skip::None);
        assert!(w.contains("i.kind = ANY($2)"), "{w}");
        let mut skipped = Sql::new(true);
        assert!(!indicator_where(&mut skipped, &f, Skip::Kind).contains("kind"));
    }
}
