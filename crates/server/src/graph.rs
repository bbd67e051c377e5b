//! `GET /api/v1/graph`: the neighbours of one node of the relation graph —
//! an indicator, a threat entity or an item — one hop, so a client draws a
//! graph and grows it node by node (the UI's `graph.js`).
//!
//! Node ids: `indicator:<type>:<value>`, `entity:<item id>`, `item:<item
//! id>`. What neighbours a node has:
//!
//! - an indicator: the related indicators a lookup finds (by shape, stated
//!   relations, shared items; the lookup's relation names), the entities
//!   named by items that report it (`named-by`), and at most
//!   [`REPORTED_IN`] of those items (`reported-in`);
//! - an entity: the indicators its items state or mention (`indicates`),
//!   the entities named in the same items (`co-named`) and the items that
//!   name it (`names`, an edge from the item);
//! - an item: the indicators it states (`states`) or whose text mentions
//!   them (`mentions`), and the entities it names (`names`).
//!
//! Every read is bounded (the lookup's lists, [`FETCHED`] per entity list),
//! and every node and edge is at most the reader's clearance: a node above
//! it is answered 404 like an unknown one, and a neighbour above it is left
//! out.

use std::collections::{BTreeSet, HashSet};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use rexist_core::entity::EntityRef;
use rexist_core::{Indicator, IndicatorType, Item, ItemId, Tlp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody, query};

/// Neighbours answered when `limit` is absent or 0.
pub const DEFAULT_LIMIT: u32 = 40;
/// Most neighbours answered; a larger `limit` is capped.
pub const MAX_LIMIT: u32 = 100;
/// Most items an indicator's answer names as `reported-in`.
pub const REPORTED_IN: usize = 10;
/// Entries of each of an entity's lists read (indicators, items, related
/// entities), and indicators of an item.
const FETCHED: u32 = 100;

/// Query parameters of `GET /api/v1/graph`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GraphParams {
    /// The node whose neighbours to answer: `indicator:<type>:<value>`
    /// (`indicator:domain:evil.example.com`), `entity:<item id>` or
    /// `item:<item id>`.
    node: Option<String>,
    /// Only neighbours by these relations, comma-separated
    /// (`resolves-to,named-by`); all when absent or empty.
    relations: Option<String>,
    /// Most neighbours: 40 when absent or 0, at most 100 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// An indicator (type, canonical value).
    Indicator,
    /// A threat entity: an actor, intrusion set, malware, tool, campaign or
    /// technique.
    Entity,
    /// An item: news, a post, an event, a vulnerability, an exploit.
    Item,
}

/// A node of the graph.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphNode {
    /// `indicator:<type>:<value>`, `entity:<item id>` or `item:<item id>`:
    /// what to ask for its own neighbours.
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// What to write on it: an indicator's value defanged, an entity's
    /// name, an item's title.
    pub label: String,
    /// Its page in the UI.
    pub href: String,
    /// The indicator's type (`domain`), the entity's kind (`malware`) or
    /// the item's (`news`).
    #[serde(rename = "type")]
    pub subtype: String,
}

/// An edge: `from` relates to `to` by `relation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GraphEdge {
    /// A node id.
    pub from: String,
    /// A node id.
    pub to: String,
    /// `named-by`, `reported-in`, `indicates`, `co-named`, `names`,
    /// `states`, `mentions`, or a lookup's relation between indicators
    /// (`resolves-to`, `contained-in`, `shared-items`, …).
    pub relation: String,
}

/// One node's neighbours.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Graph {
    /// The node asked about.
    pub node: GraphNode,
    /// Its neighbours (not itself), each once, at most `limit`; taken in
    /// turn from each relation, so one large relation does not crowd out
    /// the others.
    pub nodes: Vec<GraphNode>,
    /// The edges between the node and its neighbours.
    pub edges: Vec<GraphEdge>,
    /// Every relation the node has, before `relations` and `limit`
    /// filtered them, sorted: what a client offers to filter by.
    pub relations: Vec<String>,
    /// Neighbours left out by `limit`.
    pub omitted: u64,
}

/// A node named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeRef {
    Indicator(Indicator),
    Entity(ItemId),
    Item(ItemId),
}

const NODE_SHAPES: &str = "indicator:<type>:<value>, entity:<item id> or item:<item id>";

impl NodeRef {
    fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = |why: String| {
            ApiError::invalid(format!(
                "parameter node: {:?} {why} (one of {NODE_SHAPES})",
                short(raw)
            ))
        };
        let (class, rest) = raw
            .split_once(':')
            .ok_or_else(|| bad("is not a node".to_owned()))?;
        let item_id = |rest: &str| {
            rest.parse::<ItemId>()
                .map_err(|_| bad(format!("names no item id: {:?}", short(rest))))
        };
        match class {
            "indicator" => {
                let (kind, value) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("has no type and value".to_owned()))?;
                let kind: IndicatorType = kind.parse().map_err(|e| bad(format!("{e}")))?;
                let indicator = Indicator::parse(kind, value).map_err(|e| bad(format!("{e}")))?;
                Ok(Self::Indicator(indicator))
            }
            "entity" => Ok(Self::Entity(item_id(rest)?)),
            "item" => Ok(Self::Item(item_id(rest)?)),
            _ => Err(bad(format!("is of no known kind {:?}", short(class)))),
        }
    }
}

/// At most 80 characters of what a client sent, for messages.
fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The node of an indicator.
fn indicator_node(kind: IndicatorType, value: &str) -> GraphNode {
    GraphNode {
        id: format!("indicator:{}:{value}", kind.as_str()),
        kind: NodeKind::Indicator,
        label: rexist_extract::defang(value),
        href: crate::ui::indicator::indicator_href(kind, value),
        subtype: kind.as_str().to_owned(),
    }
}

/// The node of an entity.
fn entity_node(e: &EntityRef) -> GraphNode {
    GraphNode {
        id: format!("entity:{}", e.id),
        kind: NodeKind::Entity,
        label: e.name.clone(),
        href: format!("/items/{}", e.id),
        subtype: e.kind.as_str().to_owned(),
    }
}

/// The node of an item (an entity item's is the entity's).
fn item_node(item: &Item) -> GraphNode {
    if item.content.kind.is_entity() {
        return entity_node(&EntityRef::of(item));
    }
    GraphNode {
        id: format!("item:{}", item.id),
        kind: NodeKind::Item,
        label: item.content.title.clone(),
        href: format!("/items/{}", item.id),
        subtype: item.content.kind.as_str().to_owned(),
    }
}

/// A neighbour and the edge that makes it one.
struct Neighbour {
    node: GraphNode,
    edge: GraphEdge,
}

/// The neighbour `node`, with an edge from the centre to it.
fn out_edge(centre: &GraphNode, node: GraphNode, relation: &str) -> Neighbour {
    Neighbour {
        edge: GraphEdge {
            from: centre.id.clone(),
            to: node.id.clone(),
            relation: relation.to_owned(),
        },
        node,
    }
}

/// The neighbour `node`, with an edge from it to the centre.
fn in_edge(centre: &GraphNode, node: GraphNode, relation: &str) -> Neighbour {
    Neighbour {
        edge: GraphEdge {
            from: node.id.clone(),
            to: centre.id.clone(),
            relation: relation.to_owned(),
        },
        node,
    }
}

/// The neighbours of an indicator at `clearance`.
async fn indicator_neighbours(
    state: &AppState,
    indicator: &Indicator,
    clearance: Tlp,
) -> Result<(GraphNode, Vec<Neighbour>), ApiError> {
    let (kind, value) = (indicator.kind(), indicator.value());
    // Unknown and above the reader's clearance answer the same.
    state
        .store
        .indicator(kind, value)
        .await?
        .filter(|r| r.tlp <= clearance)
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {value}")))?;
    let answer = state.lookup.local_answer(indicator, clearance).await?;
    let centre = indicator_node(kind, value);
    let mut out = Vec::new();
    for r in &answer.related {
        out.push(out_edge(
            &centre,
            indicator_node(r.kind, &r.value),
            &r.relation,
        ));
    }
    for e in &answer.entities {
        out.push(out_edge(&centre, entity_node(e), "named-by"));
    }
    // The lookup's items are each at most the clearance already.
    for i in answer.items.iter().take(REPORTED_IN) {
        let node = GraphNode {
            id: format!("item:{}", i.id),
            kind: NodeKind::Item,
            label: i.title.clone(),
            href: format!("/items/{}", i.id),
            subtype: i.kind.as_str().to_owned(),
        };
        out.push(out_edge(&centre, node, "reported-in"));
    }
    Ok((centre, out))
}

/// The neighbours of the entity item `entity` at `clearance`.
async fn entity_neighbours(
    state: &AppState,
    entity: &Item,
    clearance: Tlp,
) -> Result<(GraphNode, Vec<Neighbour>), ApiError> {
    let facts = state
        .store
        .entity_facts(entity.id, clearance, FETCHED)
        .await?;
    let centre = item_node(entity);
    let mut out = Vec::new();
    for i in &facts.indicators {
        out.push(out_edge(
            &centre,
            indicator_node(i.kind, &i.value),
            "indicates",
        ));
    }
    for (e, _) in &facts.related {
        out.push(out_edge(&centre, item_node(e), "co-named"));
    }
    // The entity's own record among its items is the centre itself.
    for i in facts.items.iter().filter(|i| i.id != entity.id) {
        out.push(in_edge(&centre, item_node(i), "names"));
    }
    Ok((centre, out))
}

/// The neighbours of the item `item` (not an entity) at `clearance`.
async fn item_neighbours(
    state: &AppState,
    item: &Item,
    clearance: Tlp,
) -> Result<(GraphNode, Vec<Neighbour>), ApiError> {
    let stated = state
        .store
        .item_sightings(&rexist_store::ItemSightingQuery {
            item: Some(item.id),
            max_tlp: clearance,
            limit: FETCHED,
            ..Default::default()
        })
        .await?;
    // What the text mentions (the item page's links) is told apart from
    // what the item states (an event's attributes) by finding it again.
    let body = item.content.body.clone();
    let extractor = state.ingest.extractor().clone();
    let mentioned: HashSet<(IndicatorType, String)> =
        tokio::task::spawn_blocking(move || extractor.extract(&body))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.kind, m.value))
            .collect();
    let centre = item_node(item);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (_, record) in &stated.items {
        if !seen.insert(record.id) {
            continue;
        }
        let relation = if mentioned.contains(&(record.kind, record.value.clone())) {
            "mentions"
        } else {
            "states"
        };
        out.push(out_edge(
            &centre,
            indicator_node(record.kind, &record.value),
            relation,
        ));
    }
    for e in crate::entities::named_by(state, item.id, clearance).await? {
        out.push(out_edge(&centre, entity_node(&e), "names"));
    }
    Ok((centre, out))
}

/// The item `id` if the reader may read it.
async fn readable(state: &AppState, id: ItemId, clearance: Tlp) -> Result<Option<Item>, ApiError> {
    Ok(state
        .store
        .item(id)
        .await?
        .filter(|i| i.content.tlp <= clearance))
}

/// The graph answer: `neighbours` filtered by `wanted` relations (all when
/// empty) and cut to `limit` nodes, taken in turn from each relation.
fn assemble(
    node: GraphNode,
    neighbours: Vec<Neighbour>,
    wanted: &BTreeSet<String>,
    limit: usize,
) -> Graph {
    let relations: Vec<String> = neighbours
        .iter()
        .map(|n| n.edge.relation.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Groups by relation, in the order relations first appear.
    let mut groups: Vec<(String, std::collections::VecDeque<Neighbour>)> = Vec::new();
    for n in neighbours {
        if n.node.id == node.id || (!wanted.is_empty() && !wanted.contains(&n.edge.relation)) {
            continue;
        }
        match groups.iter_mut().find(|(r, _)| *r == n.edge.relation) {
            Some((_, g)) => g.push_back(n),
            None => groups.push((n.edge.relation.clone(), [n].into())),
        }
    }
    let mut nodes: Vec<GraphNode> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut edges: Vec<GraphEdge> = Vec::new();
    let mut left_out: HashSet<String> = HashSet::new();
    while groups.iter().any(|(_, g)| !g.is_empty()) {
        for (_, g) in &mut groups {
            let Some(n) = g.pop_front() else { continue };
            let known = ids.contains(&n.node.id);
            if !known && nodes.len() >= limit {
                left_out.insert(n.node.id);
                continue;
            }
            if !known {
                ids.insert(n.node.id.clone());
                nodes.push(n.node);
            }
            if !edges.contains(&n.edge) {
                edges.push(n.edge);
            }
        }
    }
    left_out.retain(|id| !ids.contains(id));
    Graph {
        node,
        nodes,
        edges,
        relations,
        omitted: u64::try_from(left_out.len()).unwrap_or(u64::MAX),
    }
}

/// `GET /api/v1/graph`
#[utoipa::path(
    get,
    path = "/api/v1/graph",
    tag = "graph",
    summary = "One node's neighbours in the relation graph",
    description = "The neighbours of one node, one hop: a client draws the graph and grows it by asking for each node it expands. Nodes are `indicator:<type>:<value>`, `entity:<item id>` (an actor, malware, …) or `item:<item id>`. An indicator's neighbours are its related indicators (by the lookup's relations), the entities named by the items reporting it (`named-by`) and up to 10 of those items (`reported-in`); an entity's are its indicators (`indicates`), the entities named with it (`co-named`) and the items naming it (`names`); an item's are the indicators it states (`states`) or mentions in its text (`mentions`) and the entities it names (`names`). Nodes and edges above the caller's clearance are left out.",
    params(GraphParams),
    responses(
        (status = 200, description = "The node, its neighbours and the edges to them.", body = Graph),
        (status = 400, description = "The node is of no known shape, or a parameter is invalid.", body = ErrorBody),
        (status = 404, description = "No such node within the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn graph(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<GraphParams>, QueryRejection>,
) -> Result<Json<Graph>, ApiError> {
    let p = query(params)?;
    let raw = p
        .node
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("parameter node is required ({NODE_SHAPES})")))?;
    let node = NodeRef::parse(&raw)?;
    let wanted: BTreeSet<String> = p
        .relations
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let limit = match p.limit.unwrap_or(0) {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let clearance = principal.clearance;
    let (centre, neighbours) = match node {
        NodeRef::Indicator(i) => indicator_neighbours(&state, &i, clearance).await?,
        NodeRef::Entity(id) => {
            let entity = readable(&state, id, clearance)
                .await?
                .filter(|i| i.content.kind.is_entity())
                .ok_or_else(|| ApiError::not_found(format!("no entity {id}")))?;
            entity_neighbours(&state, &entity, clearance).await?
        }
        NodeRef::Item(id) => {
            let item = readable(&state, id, clearance)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no item {id}")))?;
            // An entity is one node however it is named.
            if item.content.kind.is_entity() {
                entity_neighbours(&state, &item, clearance).await?
            } else {
                item_neighbours(&state, &item, clearance).await?
            }
        }
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(Json(assemble(centre, neighbours, &wanted, limit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, relation: &str) -> Neighbour {
        let node = GraphNode {
            id: id.to_owned(),
            kind: NodeKind::Item,
            label: id.to_owned(),
            href: String::new(),
            subtype: "news".to_owned(),
        };
        Neighbour {
            edge: GraphEdge {
                from: "c".to_owned(),
                to: id.to_owned(),
                relation: relation.to_owned(),
            },
            node,
        }
    }

    fn centre() -> GraphNode {
        n("c", "x").node
    }

    #[test]
    fn node_ids_parse_and_bad_ones_are_named() {
        assert_eq!(
            NodeRef::parse("entity:12").unwrap(),
            NodeRef::Entity(ItemId::new(12))
        );
        assert_eq!(
            NodeRef::parse("item:3").unwrap(),
            NodeRef::Item(ItemId::new(3))
        );
        let NodeRef::Indicator(i) =
            NodeRef::parse("indicator:url:http://Evil.example.com/a:b").unwrap()
        else {
            panic!("not an indicator")
        };
        assert_eq!(i.kind(), IndicatorType::Url);
        assert!(i.value().ends_with("/a:b"), "{}", i.value());
        for bad in [
            "",
            "actor:1",
            "entity:x",
            "item:",
            "indicator:ipv4",
            "indicator:nope:1",
        ] {
            let e = NodeRef::parse(bad).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn the_limit_takes_from_each_relation_in_turn() {
        let mut all: Vec<Neighbour> = (0..10).map(|i| n(&format!("a{i}"), "big")).collect();
        all.push(n("b0", "small"));
        all.push(n("a1", "small"));
        let g = assemble(centre(), all, &BTreeSet::new(), 3);
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a0", "b0", "a1"]);
        // a1 by both relations: both edges, one node.
        assert_eq!(g.edges.len(), 4, "{:?}", g.edges);
        assert_eq!(g.omitted, 8);
        assert_eq!(g.relations, ["big", "small"]);
    }

    #[test]
    fn a_relation_filter_keeps_every_relation_listed() {
        let all = vec![n("a", "big"), n("b", "small"), n("c", "small")];
        let wanted: BTreeSet<String> = ["small".to_owned()].into();
        let g = assemble(centre(), all, &wanted, 40);
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        // The centre is never its own neighbour.
        assert_eq!(ids, ["b"]);
        assert_eq!(g.relations, ["big", "small"]);
        assert_eq!(g.omitted, 0);
    }
}
