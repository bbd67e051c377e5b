//! `rexist lookup VALUE [--json | --stix] [--enrich]`: everything known about an
//! indicator; `--file F` looks up one value per line (local knowledge only).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rexist_lookup::{Answer, Options};

use super::say;
use crate::config::Config;

/// Arguments of `lookup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An IP, domain, URL, hash, e-mail address or CVE id; defanged forms are fine.
    #[arg(required_unless_present = "file")]
    pub value: Option<String>,
    /// Look up every line of a file (`-` for stdin) instead, as JSON lines.
    #[arg(long, conflicts_with = "value")]
    pub file: Option<std::path::PathBuf>,
    /// Print the answer as JSON.
    #[arg(long, conflicts_with = "stix")]
    pub json: bool,
    /// Print the answer as a STIX 2.1 bundle (as `?format=stix` in the API).
    #[arg(long, conflicts_with = "file")]
    pub stix: bool,
    /// Also ask the enrichment providers configured in `[[enrichment]]` tables.
    #[arg(long)]
    pub enrich: bool,
    /// Only this provider (repeatable; implies --enrich).
    #[arg(long = "provider", value_name = "NAME")]
    pub providers: Vec<String>,
}

/// Largest list of values read from a file: a few million indicators.
const LIST_FILE_CAP: u64 = 64 * 1024 * 1024;

/// Runs `lookup`.
pub async fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let lookup = config.lookup(std::sync::Arc::clone(&store))?;
    if let Some(path) = &args.file {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading stdin")?
        } else {
            rexist_http::read_text_file(path, LIST_FILE_CAP, "--file")
                .with_context(|| format!("cannot read {}", path.display()))?
        };
        let values: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        for chunk in values.chunks(rexist_lookup::MAX_BULK) {
            for brief in lookup.bulk(chunk, None).await? {
                say(format_args!("{}", serde_json::to_string(&brief)?));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(value) = &args.value else {
        bail!("give a VALUE or --file");
    };
    let options = Options {
        enrich: args.enrich || !args.providers.is_empty(),
        providers: (!args.providers.is_empty()).then(|| args.providers.clone()),
        // The CLI reads the store directly: its user sees everything.
        max_tlp: None,
    };
    let answer = match lookup.one(value, &options).await {
        Ok(a) => a,
        Err(rexist_lookup::LookupError::Invalid(e)) => bail!("{value:?}: {e}"),
        Err(e) => return Err(e.into()),
    };
    if args.stix {
        let ids = rexist_server::export::stix_ids(store.as_ref()).await?;
        let objects = lookup
            .stix_objects(&answer, &ids, None, rexist_core::model::now())
            .await?;
        let bundle = rexist_lookup::stix::bundle(&ids, objects);
        say(format_args!("{}", serde_json::to_string_pretty(&bundle)?));
    } else if args.json {
        say(format_args!("{}", serde_json::to_string_pretty(&answer)?));
    } else {
        print(&answer);
    }
    Ok(ExitCode::SUCCESS)
}

fn day(t: time::OffsetDateTime) -> String {
    super::source::short_time(t)
}

/// `first reported by infosec-exchange (social) 2026-11-02 09:14 UTC, 3
/// days 4 h before nvd`; nothing when no source reported it.
fn early_line(ew: &rexist_core::EarlyWarning) -> Option<String> {
    use rexist_core::early::Authority;
    let first = ew.first()?;
    let t = first.at.to_offset(time::UtcOffset::UTC);
    let mut line = format!(
        "first reported by {} ({}) {:04}-{:02}-{:02} {:02}:{:02} UTC",
        first.source,
        first.class,
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    );
    match (&ew.authority_report, ew.lead_seconds) {
        (Some(authority), Some(lead)) => {
            let _ = write!(
                line,
                ", {} before {}",
                rexist_core::early::lead_words(lead),
                authority.source
            );
        }
        (None, _) if ew.awaiting_authority => line.push_str(match ew.authority {
            Authority::Database => ", no NVD/JVN/KEV entry yet",
            Authority::Blocklist => ", on no blocklist yet",
        }),
        _ => {}
    }
    Some(line)
}

fn print(a: &Answer) {
    say(format_args!("{} {}", a.kind.as_str(), a.value));
    if !a.known {
        say(format_args!("  not seen by any source"));
    }
    let reason = a
        .status_reason
        .as_deref()
        .map_or_else(String::new, |r| format!(" ({r})"));
    say(format_args!("  status: {}{reason}", a.status.as_str()));
    if a.known || a.score > 0 {
        say(format_args!(
            "  score: {}/100  ({})",
            a.score,
            a.score_factors
                .iter()
                .map(|f| format!("{} {}", f.name, f.value))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if a.known {
        if let (Some(first), Some(last)) = (a.first_seen, a.last_seen) {
            say(format_args!("  seen: {} … {}", day(first), day(last)));
        }
        if let Some(exp) = a.expires_at {
            say(format_args!(
                "  expires: {} ({}-day lifetime)",
                day(exp),
                a.lifetime_days
            ));
        }
    }
    if let Some(line) = a.early_warning.as_ref().and_then(early_line) {
        say(format_args!("  early warning: {line}"));
    }
    for e in &a.entities {
        let id = e
            .attack_id
            .as_deref()
            .map(|i| format!(" {i}"))
            .unwrap_or_default();
        say(format_args!("  entity: {} ({}{id})", e.name, e.kind));
    }
    for w in &a.warnings {
        say(format_args!(
            "  warning list: {} — {} ({} {})",
            w.list, w.title, w.kind, w.entry
        ));
    }
    if !a.sources.is_empty() {
        say(format_args!("  sources:"));
        for s in &a.sources {
            let labels = if s.labels.is_empty() {
                String::new()
            } else {
                format!(" [{}]", s.labels.join(", "))
            };
            let state = match (s.retired_reason, s.retired_at) {
                (Some(why), Some(at)) => format!(", retired {}: {}", day(at), why.as_str()),
                _ if !s.listed => ", no longer listed".to_owned(),
                _ => String::new(),
            };
            say(format_args!(
                "    {:<20} confidence {:>3}  TLP:{}  {} sighting(s), last {}{state}{labels}",
                s.source,
                s.confidence,
                s.tlp.as_str().to_uppercase(),
                s.sightings,
                day(s.last_seen),
            ));
        }
    }
    if !a.items.is_empty() {
        say(format_args!("  items:"));
        for i in &a.items {
            say(format_args!("    #{} {} ({})", i.id, i.title, i.source));
            if let Some(s) = &i.snippet {
                say(format_args!("      {s}"));
            }
        }
    }
    if !a.related.is_empty() {
        say(format_args!("  related:"));
        for r in &a.related {
            let sources = if r.sources.is_empty() {
                String::new()
            } else {
                format!("; {}", r.sources.join(", "))
            };
            say(format_args!(
                "    {} {} — {} (score {}{sources})",
                r.kind.as_str(),
                r.value,
                r.reason,
                r.score
            ));
        }
    }
    for h in &a.hunts {
        say(format_args!("  hunt {}: {}", h.hunt, h.terms.join(", ")));
    }
    for e in &a.enrichment {
        let detail = e.error.clone().unwrap_or_else(|| e.summary.to_string());
        say(format_args!(
            "  {} ({}): {:?}{} {}",
            e.provider,
            e.kind,
            e.status,
            if e.cached { " cached" } else { "" },
            rexist_core::indicator::truncate(&detail, 300)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rexist_core::SourceClass;
    use rexist_core::early::{Report, Reported};
    use time::macros::datetime;

    fn report(class: SourceClass, source: &str, kind: &str, at: time::OffsetDateTime) -> Reported {
        Reported {
            report: Report {
                class,
                source: source.to_owned(),
                kind: kind.to_owned(),
                at,
            },
            cve_authority: rexist_core::class::is_cve_authority(kind),
        }
    }

    #[test]
    fn the_early_warning_line_names_the_first_reporter_and_the_lead() {
        let now = datetime!(2026-11-10 00:00 UTC);
        let post = report(
            SourceClass::Social,
            "infosec-exchange",
            "mastodon",
            datetime!(2026-11-02 09:14 UTC),
        );
        let nvd = report(
            SourceClass::Vulndb,
            "nvd",
            "nvd",
            datetime!(2026-11-05 13:14 UTC),
        );
        let line = |reports: &[Reported]| {
            let ew = rexist_core::EarlyWarning::from_reports(
                rexist_core::IndicatorType::Cve,
                "CVE-2026-1234",
                reports,
                true,
                now,
            )
            .unwrap();
            early_line(&ew).unwrap()
        };
        assert_eq!(
            line(&[nvd.clone(), post.clone()]),
            "first reported by infosec-exchange (social) 2026-11-02 09:14 UTC, 3 days 4 h before nvd"
        );
        assert_eq!(
            line(std::slice::from_ref(&post)),
            "first reported by infosec-exchange (social) 2026-11-02 09:14 UTC, no NVD/JVN/KEV entry yet"
        );
        assert_eq!(
            line(&[nvd]),
            "first reported by nvd (vulndb) 2026-11-05 13:14 UTC"
        );
    }
}
