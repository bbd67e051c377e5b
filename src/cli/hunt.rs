//! `rexist hunt add | list | show | edit | rm | test | hits | ack | retro |
//! alerts | channels | notify-test`: saved hunts, their hits, and the alerts
//! that announce them.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rexist_core::{AlertStatus, HitId, HitObject, Hunt, HuntKind, HuntSpec, Tlp};
use rexist_pipeline::hunter;
use rexist_store::{AlertQuery, HitQuery, Store};

use super::say;
use crate::config::Config;

/// `hunt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Save a hunt: a QUERY over items, or with `--watch` a watchlist over indicators.
    Add(AddArgs),
    /// Hunts with their kind, state, channels and unacknowledged hits.
    List {
        /// One JSON object per hunt.
        #[arg(long)]
        json: bool,
    },
    /// Change a hunt: its query or watchlist, channels, digest, or state.
    Edit(EditArgs),
    /// Delete a hunt with its hits and pending alerts.
    Rm {
        /// The hunt's name.
        name: String,
    },
    /// Say whether TEXT matches QUERY: prints `match` and the terms that hit, or `no match`.
    Test {
        /// The hunt query, e.g. `ransomware lockbit, "black cat" -test`.
        query: String,
        /// The text to test.
        #[arg(long)]
        text: String,
    },
    /// Hits, newest first (unacknowledged ones unless `--all`).
    Hits(HitsArgs),
    /// Acknowledge hits by id, or every unacknowledged hit with `--all`.
    Ack(AckArgs),
    /// Run a hunt over everything already stored; its hits are marked retro.
    Retro {
        /// The hunt's name.
        name: String,
    },
    /// Alerts in the outbox, newest first.
    Alerts {
        /// Only `pending`, `sent` or `failed` alerts.
        #[arg(long)]
        status: Option<String>,
        /// Only alerts to this channel.
        #[arg(long)]
        channel: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Configured channels with their delivery health.
    Channels,
    /// Send a test message through a channel now.
    NotifyTest {
        /// The channel's name (a `[[channel]]` table).
        channel: String,
    },
}

/// Arguments of `hunt add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Unique name.
    pub name: String,
    /// The query (`lockbit, "black basta" -test source:jvn`); omit with `--watch`.
    pub query: Option<String>,
    /// Watchlist entries instead of a query, separated by commas or newlines
    /// (`192.0.2.0/24, domain:example.co.jp, AS64500, url:/login\.example/`).
    #[arg(long, conflicts_with = "query")]
    pub watch: Option<String>,
    /// Read the watchlist from a file (one entry per line, `#` comments).
    #[arg(long, conflicts_with_all = ["query", "watch"])]
    pub watch_file: Option<std::path::PathBuf>,
    /// Channel to alert (repeatable), as named by a `[[channel]]` table.
    #[arg(long = "channel", value_name = "NAME")]
    pub channels: Vec<String>,
    /// Send at most one digest per period (`1h`, `1d`) instead of an alert per hit.
    #[arg(long, value_name = "PERIOD")]
    pub digest: Option<String>,
    /// Save it disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Who may see the hunt, its hits and alerts: readers cleared to at
    /// least this TLP (`clear`, `green`, `amber`, `amber+strict`, `red`).
    #[arg(long, value_name = "TLP", default_value_t = HuntSpec::DEFAULT_TLP)]
    pub tlp: Tlp,
}

/// Arguments of `hunt edit`.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// The hunt's name.
    pub name: String,
    /// New query (query hunts).
    #[arg(long)]
    pub query: Option<String>,
    /// New watchlist entries (watch hunts).
    #[arg(long)]
    pub watch: Option<String>,
    /// Replace the channels (repeatable); `--no-channels` removes them all.
    #[arg(long = "channel", value_name = "NAME")]
    pub channels: Vec<String>,
    /// Remove every channel.
    #[arg(long, conflicts_with = "channels")]
    pub no_channels: bool,
    /// Digest period (`1h`); `off` for an alert per hit.
    #[arg(long, value_name = "PERIOD")]
    pub digest: Option<String>,
    /// Evaluate it again.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Stop evaluating it (its hits stay).
    #[arg(long)]
    pub disable: bool,
    /// New TLP: readers cleared below it see neither the hunt nor its hits.
    #[arg(long, value_name = "TLP")]
    pub tlp: Option<Tlp>,
}

/// Arguments of `hunt hits`.
#[derive(Debug, clap::Args)]
pub struct HitsArgs {
    /// Only hits of this hunt.
    pub name: Option<String>,
    /// Acknowledged hits too.
    #[arg(long)]
    pub all: bool,
    /// How many to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// One JSON object per hit.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hunt ack`.
#[derive(Debug, clap::Args)]
pub struct AckArgs {
    /// Hit ids, as `hunt hits` prints them.
    pub ids: Vec<i64>,
    /// Every unacknowledged hit (of `--hunt`, or of all hunts).
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// Only hits of this hunt.
    #[arg(long, value_name = "NAME")]
    pub hunt: Option<String>,
    /// Who acknowledges, for the record [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
}

/// Runs `hunt test`, which needs neither configuration nor store.
pub fn test_only(command: &Command) -> Option<Result<ExitCode>> {
    match command {
        Command::Test { query, text } => Some(test(query, text)),
        _ => None,
    }
}

/// Runs a `hunt` subcommand.
pub async fn run(config: &Config, command: Command) -> Result<ExitCode> {
    match command {
        Command::Test { query, text } => test(&query, &text),
        Command::Add(args) => add(config, args).await,
        Command::List { json } => list(config, json).await,
        Command::Edit(args) => edit(config, args).await,
        Command::Rm { name } => {
            let store = super::open_store(config).await?;
            let hunt = find(&store, &name).await?;
            store.delete_hunt(hunt.id).await?;
            say(format_args!("deleted hunt {name}"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Hits(args) => hits(config, args).await,
        Command::Ack(args) => ack(config, args).await,
        Command::Retro { name } => retro(config, &name).await,
        Command::Alerts {
            status,
            channel,
            limit,
        } => alerts(config, status.as_deref(), channel, limit).await,
        Command::Channels => channels(config).await,
        Command::NotifyTest { channel } => notify_test(config, &channel).await,
    }
}

fn invalid_query(query: &str, e: &rexist_query::ParseError) -> anyhow::Error {
    // Point at the position under the query, as compilers do.
    let column = query.get(..e.position).map_or(0, |p| p.chars().count());
    anyhow::anyhow!("invalid query at {e}\n  {query}\n  {}^", " ".repeat(column))
}

fn test(query: &str, text: &str) -> Result<ExitCode> {
    let parsed = rexist_query::parse(query).map_err(|e| invalid_query(query, &e))?;
    match rexist_query::test(&parsed, text) {
        Some(terms) => {
            say(format_args!("match"));
            for term in terms {
                say(format_args!("  {term}"));
            }
        }
        None => say(format_args!("no match")),
    }
    Ok(ExitCode::SUCCESS)
}

async fn find(store: &Arc<dyn Store>, name: &str) -> Result<Hunt> {
    if let Some(h) = store.hunt_by_name(name).await? {
        Ok(h)
    } else {
        {
            let names: Vec<String> = store
                .list_hunts()
                .await?
                .into_iter()
                .map(|h| h.spec.name)
                .collect();
            if names.is_empty() {
                bail!("no hunt named {name:?} (there are no hunts; add one with `rexist hunt add`)")
            }
            bail!("no hunt named {name:?} (hunts: {})", names.join(", "))
        }
    }
}

/// Checks a definition, with a caret under a query's error position.
fn check_definition(kind: HuntKind, definition: &str) -> Result<()> {
    match kind {
        HuntKind::Query => rexist_query::parse(definition)
            .map(|_| ())
            .map_err(|e| invalid_query(definition, &e)),
        HuntKind::Watch => hunter::validate(kind, definition)
            .map_err(|e| anyhow::anyhow!("invalid watchlist: {e}")),
    }
}

/// Channel names must be configured, so no alert waits for a channel that never comes.
fn check_channels(config: &Config, channels: &[String]) -> Result<()> {
    let known: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
    for c in channels {
        if !known.contains(&c.as_str()) {
            if known.is_empty() {
                bail!(
                    "--channel {c}: no [[channel]] tables are configured (see docs/notifiers.md)"
                );
            }
            bail!(
                "--channel {c}: no such channel (channels: {})",
                known.join(", ")
            );
        }
    }
    Ok(())
}

fn parse_digest(value: &str) -> Result<Option<u64>> {
    if value.eq_ignore_ascii_case("off") || value == "0" {
        return Ok(None);
    }
    rexist_connectors::source::parse_every(value)
        .map(|d| Some(d.as_secs()))
        .with_context(|| {
            format!("--digest {value:?}: expected a period such as 30m, 1h, 1d, or off")
        })
}

/// Largest watchlist read from a file.
const WATCH_FILE_CAP: u64 = 16 * 1024 * 1024;

async fn add(config: &Config, args: AddArgs) -> Result<ExitCode> {
    let (kind, definition) = match (args.query, args.watch, args.watch_file) {
        (Some(q), None, None) => (HuntKind::Query, q),
        (None, Some(w), None) => (HuntKind::Watch, w),
        (None, None, Some(path)) => (
            HuntKind::Watch,
            rexist_http::read_text_file(&path, WATCH_FILE_CAP, "--watch-file")
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        _ => bail!("give a QUERY, or a watchlist with --watch or --watch-file"),
    };
    if args.name.trim().is_empty() {
        bail!("the hunt name must not be empty");
    }
    check_definition(kind, &definition)?;
    check_channels(config, &args.channels)?;
    let digest_secs = match &args.digest {
        Some(d) => parse_digest(d)?,
        None => None,
    };
    let store = super::open_store(config).await?;
    let hunt = store
        .create_hunt(&HuntSpec {
            name: args.name,
            kind,
            definition,
            enabled: !args.disabled,
            channels: args.channels,
            digest_secs,
            tlp: args.tlp,
        })
        .await?;
    say(format_args!(
        "added {} hunt {} (id {})",
        hunt.spec.kind, hunt.spec.name, hunt.id
    ));
    Ok(ExitCode::SUCCESS)
}

async fn edit(config: &Config, args: EditArgs) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let hunt = find(&store, &args.name).await?;
    let mut spec = hunt.spec.clone();
    match (args.query, args.watch) {
        (Some(_), Some(_)) => bail!("give --query or --watch, not both"),
        (Some(q), None) if spec.kind == HuntKind::Query => spec.definition = q,
        (None, Some(w)) if spec.kind == HuntKind::Watch => spec.definition = w,
        (Some(_), None) => bail!("hunt {} is a watch hunt: use --watch", spec.name),
        (None, Some(_)) => bail!("hunt {} is a query hunt: use --query", spec.name),
        (None, None) => {}
    }
    check_definition(spec.kind, &spec.definition)?;
    if args.no_channels {
        spec.channels.clear();
    } else if !args.channels.is_empty() {
        check_channels(config, &args.channels)?;
        spec.channels = args.channels;
    }
    if let Some(d) = &args.digest {
        spec.digest_secs = parse_digest(d)?;
    }
    if args.enable {
        spec.enabled = true;
    }
    if args.disable {
        spec.enabled = false;
    }
    if let Some(tlp) = args.tlp {
        spec.tlp = tlp;
    }
    store.update_hunt(hunt.id, &spec).await?;
    say(format_args!("updated hunt {}", spec.name));
    Ok(ExitCode::SUCCESS)
}

fn one_line(s: &str) -> String {
    rexist_core::indicator::truncate(&s.split_whitespace().collect::<Vec<_>>().join(" "), 60)
}

async fn list(config: &Config, json: bool) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let hunts = store.list_hunts().await?;
    if json {
        for h in &hunts {
            say(format_args!("{}", serde_json::to_string(h)?));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if hunts.is_empty() {
        say(format_args!(
            "no hunts (add one with `rexist hunt add NAME QUERY`)"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    say(format_args!(
        "{:<20} {:<6} {:<8} {:>6} {:<16} DEFINITION",
        "NAME", "KIND", "STATE", "NEW", "CHANNELS"
    ));
    for h in &hunts {
        let new = store
            .list_hits(&HitQuery {
                hunt: Some(h.id),
                acked: Some(false),
                limit: 1000,
                ..HitQuery::default()
            })
            .await?;
        let count = if new.next.is_some() {
            "1000+".to_owned()
        } else {
            new.items.len().to_string()
        };
        let mut channels = h.spec.channels.join(",");
        if let Some(d) = h.spec.digest_secs {
            channels = format!("{channels} (digest {})", super::source::humantime(d));
        }
        say(format_args!(
            "{:<20} {:<6} {:<8} {:>6} {:<16} {}",
            h.spec.name,
            h.spec.kind.as_str(),
            if h.spec.enabled {
                "enabled"
            } else {
                "disabled"
            },
            count,
            if channels.is_empty() {
                "-".to_owned()
            } else {
                channels
            },
            one_line(&h.spec.definition)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn hits(config: &Config, args: HitsArgs) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let hunt = match &args.name {
        Some(n) => Some(find(&store, n).await?),
        None => None,
    };
    let names: std::collections::HashMap<_, _> = store
        .list_hunts()
        .await?
        .into_iter()
        .map(|h| (h.id, h.spec.name))
        .collect();
    let page = store
        .list_hits(&HitQuery {
            hunt: hunt.map(|h| h.id),
            acked: (!args.all).then_some(false),
            limit: args.limit,
            ..HitQuery::default()
        })
        .await?;
    if args.json {
        for h in &page.items {
            say(format_args!("{}", serde_json::to_string(h)?));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if page.items.is_empty() {
        say(format_args!("no hits"));
        return Ok(ExitCode::SUCCESS);
    }
    say(format_args!(
        "{:>7} {:<20} {:<20} {:<5} {:<40} TERMS",
        "ID", "TIME", "HUNT", "ACK", "OBJECT"
    ));
    for h in &page.items {
        let object = match h.object {
            HitObject::Item(id) => store.item(id).await?.map_or_else(
                || format!("item {id}"),
                |i| format!("item {id}: {}", one_line(&i.content.title)),
            ),
            HitObject::Indicator(id) => store.indicator_by_id(id).await?.map_or_else(
                || format!("indicator {id}"),
                |i| format!("{} {}", i.kind, i.value),
            ),
        };
        let mut terms = h.terms.join(" ");
        if h.retro {
            terms.push_str(" (retro)");
        }
        say(format_args!(
            "{:>7} {:<20} {:<20} {:<5} {:<40} {}",
            h.id,
            super::source::short_time(h.created_at),
            names.get(&h.hunt_id).map_or("?", String::as_str),
            if h.acked_at.is_some() { "yes" } else { "no" },
            rexist_core::indicator::truncate(&object, 60),
            terms
        ));
    }
    if page.next.is_some() {
        say(format_args!("… more: raise --limit"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn ack(config: &Config, args: AckArgs) -> Result<ExitCode> {
    if args.ids.is_empty() && !args.all {
        bail!("give hit ids (see `rexist hunt hits`) or --all");
    }
    let store = super::open_store(config).await?;
    let hunt = match &args.hunt {
        Some(n) => Some(find(&store, n).await?.id),
        None => None,
    };
    let by = args
        .by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".to_owned());
    let ids: Vec<HitId> = args.ids.into_iter().map(HitId::new).collect();
    let n = store.ack_hits(&ids, hunt, &by).await?;
    say(format_args!("acknowledged {n} hit(s)"));
    Ok(ExitCode::SUCCESS)
}

async fn retro(config: &Config, name: &str) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let hunt = find(&store, name).await?;
    let stats = store.stats().await?;
    let total: u64 = match hunt.spec.kind {
        HuntKind::Query => stats.items_by_kind.iter().map(|(_, n)| n).sum(),
        HuntKind::Watch => stats.indicators_by_type.iter().map(|(_, n)| n).sum(),
    };
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Recorded in the store like a worker's, so `GET /api/v1/hunts/{name}`
    // on any node shows it.
    let options = hunter::RetroOptions {
        heartbeat: super::liveness().heartbeat,
        cancel: None,
    };
    let summary = hunter::retro_recorded(&store, &hunt, options, |s| {
        bar.set_position(s.scanned);
        bar.set_message(format!("{} hits", s.hits));
    })
    .await?;
    bar.finish_and_clear();
    if let Some(e) = summary.error {
        anyhow::bail!("retro-hunt {name} failed: {e}");
    }
    say(format_args!(
        "retro-hunt {name}: scanned {} {}, {} new hit(s), {} announced",
        summary.scanned,
        if hunt.spec.kind == HuntKind::Query {
            "items"
        } else {
            "indicators"
        },
        summary.hits,
        summary.announced
    ));
    super::deliver_alerts(config, &store).await;
    Ok(ExitCode::SUCCESS)
}

async fn alerts(
    config: &Config,
    status: Option<&str>,
    channel: Option<String>,
    limit: u32,
) -> Result<ExitCode> {
    let status = status
        .map(str::parse::<AlertStatus>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--status: {e}"))?;
    let store = super::open_store(config).await?;
    let page = store
        .list_alerts(&AlertQuery {
            status,
            channel,
            limit,
            ..AlertQuery::default()
        })
        .await?;
    if page.items.is_empty() {
        say(format_args!("no alerts"));
        return Ok(ExitCode::SUCCESS);
    }
    say(format_args!(
        "{:>7} {:<20} {:<16} {:<8} {:>4} {:>5} ERROR",
        "ID", "CREATED", "CHANNEL", "STATUS", "HITS", "TRIES"
    ));
    for a in &page.items {
        say(format_args!(
            "{:>7} {:<20} {:<16} {:<8} {:>4} {:>5} {}",
            a.id,
            super::source::short_time(a.created_at),
            a.channel,
            a.status.as_str(),
            a.total_hits,
            a.attempts,
            a.last_error.as_deref().unwrap_or("")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn channels(config: &Config) -> Result<ExitCode> {
    let built = config.channels()?;
    let store = super::open_store(config).await?;
    let health = store.channel_health().await?;
    if built.is_empty() && health.is_empty() {
        say(format_args!(
            "no channels (add [[channel]] tables; see docs/notifiers.md)"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    say(format_args!(
        "{:<16} {:<11} {:>7} {:>6} {:>6} {:<20} LAST ERROR",
        "NAME", "KIND", "PENDING", "SENT", "FAILED", "LAST SENT"
    ));
    let mut names: Vec<String> = built.iter().map(|c| c.name().to_owned()).collect();
    for h in &health {
        if !names.contains(&h.channel) {
            names.push(h.channel.clone());
        }
    }
    for name in names {
        let kind = built
            .iter()
            .find(|c| c.name() == name)
            .map_or("(not configured)", |c| c.kind());
        let h = health
            .iter()
            .find(|h| h.channel == name)
            .cloned()
            .unwrap_or_default();
        say(format_args!(
            "{:<16} {:<11} {:>7} {:>6} {:>6} {:<20} {}",
            name,
            kind,
            h.pending,
            h.sent,
            h.failed,
            h.last_sent_at
                .map_or_else(|| "-".to_owned(), super::source::short_time),
            h.last_error.as_deref().unwrap_or("")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn notify_test(config: &Config, name: &str) -> Result<ExitCode> {
    let channels = config.channels()?;
    let Some(channel) = channels.iter().find(|c| c.name() == name) else {
        let names: Vec<&str> = channels.iter().map(rexist_notify::Channel::name).collect();
        bail!("no channel named {name:?} (channels: {})", names.join(", "))
    };
    let message = rexist_notify::Message::test(config.alerts_base_url());
    match channel.send(&message).await {
        Ok(()) => {
            say(format_args!(
                "sent a test message through {name} ({})",
                channel.kind()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("{name}: {e}"),
    }
}
