//! `rexist demo [--remove]`: loads the bundled sample data set
//! (`data/demo/sample.json`: synthetic, documentation values only) into the
//! configured store, so a new install's dashboard, search, lookups and hunt
//! pages show something; `--remove` takes it out again.
//!
//! Everything is written through the pipeline's [`Ingest`], as a source run
//! would: warning lists flag the documentation addresses, and the two demo
//! hunts, created first, record their hits on the way in. Loading twice adds
//! nothing (items keep their external ids, hunts are found by name).
//! Removing deletes exactly the sources and hunts named in the data set,
//! never a source or hunt of another name.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use rexist_core::model::now;
use rexist_core::{
    HuntKind, HuntSpec, Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewRelation,
    NewSighting, RunCounts, RunOutcome, Source, SourceSpec, Tlp,
};
use rexist_pipeline::{Ingest, store_items};
use rexist_store::{HitQuery, Store};
use serde::Deserialize;

use super::say;
use crate::config::Config;

/// The bundled data set.
const SAMPLE: &str = include_str!("../../data/demo/sample.json");

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove the sample data (the `demo-*` sources of the data set and the demo hunts) instead.
    #[arg(long)]
    remove: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// The data set's shape (see `data/demo/README.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    #[serde(rename = "_comment")]
    _comment: String,
    sources: Vec<SampleSource>,
    hunts: Vec<SampleHunt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleSource {
    name: String,
    kind: String,
    confidence: u8,
    tlp: Tlp,
    /// Feed sightings (in no item).
    indicators: Vec<SampleIndicator>,
    /// Relations the source states outside any item.
    relations: Vec<SampleRelation>,
    items: Vec<SampleItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleIndicator {
    #[serde(rename = "type")]
    kind: IndicatorType,
    value: String,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleRelation {
    from: SampleIndicator,
    to: SampleIndicator,
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleItem {
    kind: ItemKind,
    /// External id: what makes a second load add nothing.
    id: String,
    title: String,
    body: String,
    #[serde(default)]
    url: Option<String>,
    lang: String,
    #[serde(with = "time::serde::rfc3339")]
    published: time::OffsetDateTime,
    tags: Vec<String>,
    /// Indicators the item states (a MISP event's attributes, a pulse's indicators).
    #[serde(default)]
    indicators: Vec<SampleIndicator>,
    #[serde(default)]
    relations: Vec<SampleRelation>,
    /// Whether indicators are also extracted from the text (as for news).
    #[serde(default = "extract_default")]
    extract: bool,
}

fn extract_default() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleHunt {
    name: String,
    kind: HuntKind,
    definition: String,
}

fn sample() -> Result<Sample> {
    serde_json::from_str(SAMPLE).context("bundled sample data (data/demo/sample.json)")
}

impl SampleIndicator {
    fn indicator(&self) -> Result<Indicator> {
        Indicator::parse(self.kind, &self.value)
            .with_context(|| format!("sample {} {:?}", self.kind.as_str(), self.value))
    }

    fn sighting(&self, at: time::OffsetDateTime) -> Result<NewSighting> {
        Ok(NewSighting {
            labels: self.labels.clone(),
            ..NewSighting::new(self.indicator()?, at)
        })
    }
}

impl SampleRelation {
    fn relation(&self, at: time::OffsetDateTime) -> Result<NewRelation> {
        Ok(NewRelation {
            from: self.from.indicator()?,
            to: self.to.indicator()?,
            kind: self.kind.clone(),
            seen_at: at,
        })
    }
}

/// What a load or a removal changed, as printed.
#[derive(Debug, serde::Serialize)]
struct Summary {
    /// `loaded` or `removed`.
    action: &'static str,
    indicators: u64,
    items: u64,
    hunts: u64,
    /// Hits of the demo hunts (after a load; 0 after a removal).
    hits: u64,
    store: String,
}

/// Runs `demo`.
pub async fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let sample = sample()?;
    let store = super::open_store(config).await?;
    let ingest = super::open_ingest(config, &store);
    let before = totals(&store).await?;
    let (action, hunts, hits) = if args.remove {
        let hunts = remove(&ingest, &sample).await?;
        ("removed", hunts, 0)
    } else {
        let hunts = load(&ingest, &sample).await?;
        ("loaded", hunts, count_hits(&store, &sample).await?)
    };
    let after = totals(&store).await?;
    let summary = Summary {
        action,
        indicators: before.0.abs_diff(after.0),
        items: before.1.abs_diff(after.1),
        hunts,
        hits,
        // The file only when it is the data directory's (a URL may hold a password).
        store: match (store.backend(), config.database_url()?) {
            (rexist_store::Backend::Sqlite, None) => {
                format!("sqlite ({})", config.data_dir.join("rexist.db").display())
            }
            (backend, _) => backend.as_str().to_owned(),
        },
    };
    if args.json {
        say(format_args!("{}", serde_json::to_string(&summary)?));
    } else if args.remove {
        say(format_args!(
            "demo: removed {} indicators, {} items, {} hunts from {}",
            summary.indicators, summary.items, summary.hunts, summary.store
        ));
    } else {
        say(format_args!(
            "demo: loaded {} indicators, {} items, {} hunts ({} hits) into {}{}",
            summary.indicators,
            summary.items,
            summary.hunts,
            summary.hits,
            summary.store,
            if summary.indicators + summary.items + summary.hunts == 0 {
                " (already loaded: nothing new)"
            } else {
                ""
            }
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Stored indicators and items, all sources.
async fn totals(store: &Arc<dyn Store>) -> Result<(u64, u64)> {
    let stats = store.stats().await?;
    Ok((
        stats.indicators_by_type.iter().map(|(_, n)| n).sum(),
        stats.items_by_kind.iter().map(|(_, n)| n).sum(),
    ))
}

/// Creates the missing demo hunts (first, so the load is hunted), then
/// stores each source as one recorded run; returns how many hunts were new.
async fn load(ingest: &Arc<Ingest>, sample: &Sample) -> Result<u64> {
    let store = ingest.store();
    let mut new_hunts = 0;
    for h in &sample.hunts {
        if store.hunt_by_name(&h.name).await?.is_none() {
            ingest
                .create_hunt(&HuntSpec {
                    name: h.name.clone(),
                    kind: h.kind,
                    definition: h.definition.clone(),
                    enabled: true,
                    channels: Vec::new(),
                    digest_secs: None,
                    tlp: rexist_core::HuntSpec::DEFAULT_TLP,
                })
                .await
                .with_context(|| format!("demo hunt {}", h.name))?;
            new_hunts += 1;
        }
    }
    for s in &sample.sources {
        let source = ensure_source(store, s).await?;
        let run = store.start_run(source.id).await?;
        let mut counts = RunCounts::default();
        let stored = load_source(ingest, &source, s, &mut counts).await;
        let outcome = if stored.is_ok() {
            RunOutcome::Success
        } else {
            RunOutcome::Failed
        };
        let error = stored.as_ref().err().map(|e| format!("{e:#}"));
        store
            .finish_run(run.id, outcome, &counts, None, error.as_deref())
            .await?;
        stored.with_context(|| format!("loading {}", s.name))?;
    }
    Ok(new_hunts)
}

async fn ensure_source(store: &Arc<dyn Store>, s: &SampleSource) -> Result<Source> {
    if let Some(existing) = store.source_by_name(&s.name).await? {
        return Ok(existing);
    }
    Ok(store
        .upsert_source(&SourceSpec {
            name: s.name.clone(),
            kind: s.kind.clone(),
            enabled: true,
            confidence: s.confidence,
            tlp: s.tlp,
            tags: vec!["sample-data".to_owned()],
        })
        .await?)
}

async fn load_source(
    ingest: &Arc<Ingest>,
    source: &Source,
    s: &SampleSource,
    counts: &mut RunCounts,
) -> Result<()> {
    let at = now();
    let records = s
        .items
        .iter()
        .map(|i| {
            Ok(ItemRecord {
                item: NewItem {
                    kind: i.kind,
                    external_id: i.id.clone(),
                    title: i.title.clone(),
                    body: i.body.clone(),
                    url: i.url.clone(),
                    lang: Some(i.lang.clone()),
                    published_at: Some(i.published),
                    tlp: s.tlp,
                    tags: i.tags.clone(),
                    extra: serde_json::json!({ "sample_data": true }),
                },
                sightings: i
                    .indicators
                    .iter()
                    .map(|x| x.sighting(at))
                    .collect::<Result<_>>()?,
                relations: i
                    .relations
                    .iter()
                    .map(|r| r.relation(at))
                    .collect::<Result<_>>()?,
                extract: i.extract,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    counts.parsed = u64::try_from(s.indicators.len() + s.items.len()).unwrap_or(u64::MAX);
    store_items(ingest, source, records, &[], counts)
        .await
        .map_err(anyhow::Error::msg)?;
    let sightings = s
        .indicators
        .iter()
        .map(|x| x.sighting(at))
        .collect::<Result<Vec<_>>>()?;
    if !sightings.is_empty() {
        let summary = ingest.sightings(source, &sightings).await?;
        counts.new += summary.new;
        counts.unchanged += summary.unchanged;
    }
    let relations = s
        .relations
        .iter()
        .map(|r| r.relation(at))
        .collect::<Result<Vec<_>>>()?;
    if !relations.is_empty() {
        ingest.relations(source, &relations).await?;
    }
    Ok(())
}

/// Hits of the demo hunts, acknowledged or not.
async fn count_hits(store: &Arc<dyn Store>, sample: &Sample) -> Result<u64> {
    let mut n = 0;
    for h in &sample.hunts {
        let Some(hunt) = store.hunt_by_name(&h.name).await? else {
            continue;
        };
        let mut before = None;
        loop {
            let page = store
                .list_hits(&HitQuery {
                    hunt: Some(hunt.id),
                    before,
                    limit: 1000,
                    ..HitQuery::default()
                })
                .await?;
            n += page.items.len() as u64;
            match (page.next, page.items.last()) {
                (Some(_), Some(last)) => before = Some(last.id),
                _ => break,
            }
        }
    }
    Ok(n)
}

/// Deletes the data set's sources and hunts; returns how many hunts went.
async fn remove(ingest: &Arc<Ingest>, sample: &Sample) -> Result<u64> {
    let store = ingest.store();
    let mut hunts = 0;
    for h in &sample.hunts {
        if let Some(hunt) = store.hunt_by_name(&h.name).await? {
            if ingest.delete_hunt(hunt.id).await? {
                hunts += 1;
            }
        }
    }
    for s in &sample.sources {
        if let Some(source) = store.source_by_name(&s.name).await? {
            store
                .delete_source(source.id)
                .await
                .with_context(|| format!("removing {}", s.name))?;
        }
    }
    Ok(hunts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled set parses, is labelled, and uses documentation values only.
    #[test]
    fn sample_is_labelled_and_uses_documentation_values() {
        let sample = sample().unwrap();
        let mut indicators = 0;
        for s in &sample.sources {
            assert!(s.name.starts_with("demo-"), "{}", s.name);
            indicators += s.indicators.len();
            for i in &s.items {
                let text = format!("{} {}", i.title, i.body);
                assert!(
                    text.contains("Sample data") || text.contains("サンプルデータ"),
                    "{} is not labelled as sample data",
                    i.id
                );
                indicators += i.indicators.len();
            }
            let all = s
                .indicators
                .iter()
                .chain(s.items.iter().flat_map(|i| &i.indicators))
                .chain(
                    s.relations
                        .iter()
                        .chain(s.items.iter().flat_map(|i| &i.relations))
                        .flat_map(|r| [&r.from, &r.to]),
                );
            for x in all {
                let v = x.indicator().unwrap().value().to_owned();
                let documentation = match x.kind {
                    IndicatorType::Ipv4 => ["192.0.2.", "198.51.100.", "203.0.113."]
                        .iter()
                        .any(|p| v.starts_with(p)),
                    IndicatorType::Ipv6 => v.starts_with("2001:db8:"),
                    IndicatorType::Domain | IndicatorType::Url | IndicatorType::Email => [
                        ".example.com",
                        ".example.net",
                        ".example.org",
                        "@example.com",
                    ]
                    .iter()
                    .any(|d| v.contains(d)),
                    _ => true,
                };
                assert!(documentation, "{v} is not a documentation value");
            }
        }
        assert!(indicators >= 200, "a few hundred indicators: {indicators}");
        assert!(SAMPLE.len() < 200_000);
        assert_eq!(sample.hunts.len(), 2);
    }
}
