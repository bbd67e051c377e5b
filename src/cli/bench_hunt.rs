//! `rexist bench hunt`: hunts evaluated per item on one thread.
//!
//! Builds `--hunts` hunts — keyword hunts (AND, OR, exclusions), phrases,
//! regexes, CIDR and domain watchlists — and `--items` generated news-sized
//! items (~2.5 KB of text from a 20,000-word vocabulary with a Zipf-like
//! frequency and a few of 10,000 topic words that hunts name, plus five
//! indicators each, some inside watched ranges), then
//! times matching every item against every hunt on the calling thread: the
//! query automaton over title and body, and the watchlists over the item's
//! indicators, as ingest does.

// Figures for people: counts far below 2^52 print exactly enough as f64.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use rexist_core::model::now;
use rexist_core::{Hunt, HuntId, HuntKind, HuntSpec, ItemId, ItemKind, NewItem, Tlp};
use rexist_pipeline::hunter::Compiled;

use super::bench::{mix, thousands};
use super::say;

/// Arguments of `bench hunt`.
#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// Number of hunts.
    #[arg(long, default_value_t = 10_000)]
    hunts: u64,
    /// Number of items.
    #[arg(long, default_value_t = 100_000)]
    items: u64,
}

/// Common words, the bulk of every text.
const VOCABULARY: u64 = 20_000;
/// Topic words after the common ones; each item mentions a few.
const TOPICS: u64 = 10_000;
const SYLLABLES: [&str; 32] = [
    "ka", "ri", "to", "ne", "su", "mo", "la", "vi", "de", "po", "zu", "be", "chi", "ra", "no",
    "te", "xa", "gu", "fi", "ho", "ly", "me", "qua", "sen", "tor", "vex", "nim", "bar", "dal",
    "kor", "pix", "wen",
];

/// Word `i` of the vocabulary: two to four syllables, distinct per `i`.
fn word(i: u64) -> String {
    let mut w = String::new();
    let mut n = i;
    loop {
        w.push_str(SYLLABLES[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    if w.len() < 4 {
        w.push_str("ex");
    }
    w
}

/// A vocabulary index with a Zipf-like skew: small indices are common.
fn zipf(r: u64) -> u64 {
    // The square of a uniform value in [0, 1) skews towards 0; 24-bit fixed point.
    let u = r >> 40;
    (((u * u) >> 24) * VOCABULARY) >> 24
}

/// Hunt `i`: its kind and definition.
fn hunt_definition(i: u64) -> (HuntKind, String) {
    let r = mix(i ^ 0xfeed);
    // Hunts name topic words (actors, products, CVE ids in real life), which
    // few items mention, rather than the common vocabulary.
    let rare = |k: u64| word(VOCABULARY + mix(r.wrapping_add(k)) % TOPICS);
    match i % 40 {
        0..=23 => {
            let q = match r % 4 {
                0 => rare(1),
                1 => format!("{} {}", rare(1), rare(2)),
                2 => format!("{}, {}, {}", rare(1), rare(2), rare(3)),
                _ => format!("{} -{}", rare(1), word(mix(r) % 100)),
            };
            (HuntKind::Query, q)
        }
        24..=31 => (HuntKind::Query, format!("\"{} {}\"", rare(1), rare(2))),
        32..=33 => (HuntKind::Query, format!("/{}[-_ ]?[0-9]{{2,4}}/", rare(1))),
        34..=36 => (
            HuntKind::Watch,
            format!("cidr:10.{}.{}.0/24", r % 256, (r >> 8) % 256),
        ),
        _ => (HuntKind::Watch, format!("domain:{}.example", rare(1))),
    }
}

/// Item `i`: title, ~2.5 KB body, and its indicators.
fn item(i: u64) -> (NewItem, Vec<(rexist_core::IndicatorType, String)>) {
    let mut body = String::with_capacity(2600);
    let mut k = 0u64;
    while body.len() < 2500 {
        body.push_str(&word(zipf(mix(i.wrapping_mul(1000) + k))));
        body.push(if k % 17 == 16 { '.' } else { ' ' });
        k += 1;
        if k % 70 == 0 {
            body.push_str(&word(VOCABULARY + mix(i ^ k) % TOPICS));
            body.push(' ');
        }
    }
    let r = mix(i);
    let indicators = vec![
        (
            rexist_core::IndicatorType::Ipv4,
            format!("10.{}.{}.{}", r % 256, (r >> 8) % 256, (r >> 16) % 256),
        ),
        (
            rexist_core::IndicatorType::Ipv4,
            format!("192.0.2.{}", (r >> 24) % 256),
        ),
        (
            rexist_core::IndicatorType::Domain,
            format!("cdn.{}.example", word(zipf(r >> 3))),
        ),
        (
            rexist_core::IndicatorType::Domain,
            format!("{}.test", word(r % VOCABULARY)),
        ),
        (
            rexist_core::IndicatorType::Url,
            format!("http://{}.example/login", word(zipf(r >> 7))),
        ),
    ];
    let item = NewItem {
        kind: ItemKind::News,
        external_id: i.to_string(),
        title: format!(
            "{} {} {}",
            word(zipf(r)),
            word(zipf(r >> 9)),
            word(zipf(r >> 17))
        ),
        body,
        url: None,
        lang: Some("en".to_owned()),
        published_at: None,
        tlp: Tlp::Clear,
        tags: Vec::new(),
        extra: serde_json::Value::Null,
    };
    (item, indicators)
}

/// Runs `bench hunt`.
pub fn run(args: &HuntArgs) -> Result<ExitCode> {
    if args.hunts == 0 || args.items == 0 {
        bail!("--hunts and --items must be at least 1");
    }
    let at = now();
    let hunts: Vec<Hunt> = (0..args.hunts)
        .map(|i| {
            let (kind, definition) = hunt_definition(i);
            Hunt {
                id: HuntId::new(i64::try_from(i + 1).unwrap_or(i64::MAX)),
                spec: HuntSpec {
                    name: format!("h{i}"),
                    kind,
                    definition,
                    enabled: true,
                    channels: Vec::new(),
                    digest_secs: None,
                    tlp: HuntSpec::DEFAULT_TLP,
                },
                created_at: at,
                updated_at: at,
                last_digest_at: None,
            }
        })
        .collect();
    let kinds = |k: HuntKind| hunts.iter().filter(|h| h.spec.kind == k).count();
    let started = Instant::now();
    let compiled = Compiled::new(&hunts);
    let compile = started.elapsed();
    if compiled.queries.len() + compiled.watches.len() != hunts.len() {
        bail!("some generated hunts did not compile");
    }
    say(format_args!(
        "hunts: {} ({} queries, {} watchlists), compiled in {:.2} s",
        thousands(args.hunts),
        thousands(kinds(HuntKind::Query) as u64),
        thousands(kinds(HuntKind::Watch) as u64),
        compile.as_secs_f64()
    ));
    let generated = Instant::now();
    let items: Vec<_> = (0..args.items).map(item).collect();
    let bytes: usize = items
        .iter()
        .map(|(i, _)| i.title.len() + i.body.len())
        .sum();
    say(format_args!(
        "items: {} ({:.1} MB, {:.0} bytes each), generated in {:.1} s",
        thousands(args.items),
        bytes as f64 / 1e6,
        bytes as f64 / args.items as f64,
        generated.elapsed().as_secs_f64()
    ));
    let started = Instant::now();
    let (mut item_hits, mut watch_hits, mut matched) = (0usize, 0usize, 0u64);
    for (n, (it, indicators)) in items.iter().enumerate() {
        let id = ItemId::new(i64::try_from(n).unwrap_or(i64::MAX));
        let hits = compiled.item_hits(&[(id, it, "bench", &[])], false);
        let watch = compiled.indicator_hits(indicators.iter().map(|(k, v)| (*k, v.as_str())));
        if !hits.is_empty() || !watch.is_empty() {
            matched += 1;
        }
        item_hits += hits.len();
        watch_hits += watch.len();
    }
    let t = started.elapsed().as_secs_f64();
    say(format_args!(
        "hunt: {} items/s on one thread ({:.1} MB/s; {:.2} s; {} items matched, {} query hits, {} watch hits)",
        thousands((args.items as f64 / t) as u64),
        bytes as f64 / 1e6 / t,
        t,
        thousands(matched),
        thousands(item_hits as u64),
        thousands(watch_hits as u64)
    ));
    if let Some(kib) = super::bench::peak_rss_kib() {
        say(format_args!("peak RSS: {} MiB", kib / 1024));
    }
    Ok(ExitCode::SUCCESS)
}
