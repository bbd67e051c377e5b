//! `rexist export`: writes a saved export (an `[[export]]` table, or one
//! defined from the UI or the API) or an ad-hoc one
//! to a file or stdout — the same bytes the server serves at `/export/NAME`.
//! A MISP feed is a directory (`--out DIR`). The CLI reads the store
//! directly, so every TLP is exported unless `--tlp` caps it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rexist_core::Tlp;
use rexist_export::Format;
use rexist_server::export::{ExportConfig, render_feed_dir, render_to};

use crate::config::Config;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A saved export's name (an `[[export]]` table, or one defined in the UI or API); or give --format.
    #[arg(required_unless_present = "format")]
    pub name: Option<String>,
    /// Ad hoc: `stix`, `misp`, `csv`, `jsonl`, `edl`, `panos`, `rpz`, `suricata`, `zeek`, `hosts`.
    #[arg(long, conflicts_with = "name")]
    pub format: Option<String>,
    /// Ad hoc: only these indicator types (repeatable or comma-separated).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Ad hoc: only indicators reported by this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Ad hoc: only indicators with a sighting labelled so.
    #[arg(long)]
    pub tag: Option<String>,
    /// Ad hoc: only indicators scoring at least this.
    #[arg(long)]
    pub min_score: Option<u8>,
    /// The most restricted TLP to export (caps a saved export's too).
    #[arg(long)]
    pub tlp: Option<Tlp>,
    /// Ad hoc: include expired, allow-listed and retired indicators.
    #[arg(long)]
    pub all: bool,
    /// Ad hoc: only indicators seen within this long (`30d`, `12h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Write here (a directory for `misp`); stdout by default.
    #[arg(long, short)]
    pub out: Option<std::path::PathBuf>,
}

/// Runs `export`.
pub async fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let spec = match (&args.name, &args.format) {
        (Some(name), _) => {
            if let Some(spec) = config.export_specs()?.into_iter().find(|e| e.name == *name) {
                spec
            } else {
                // Not in the file: one defined from the UI or the API.
                let stored = store.stored_export(name).await?.with_context(|| {
                    format!(
                        "no export named {name:?}: neither an [[export]] table nor one defined in the UI or API"
                    )
                })?;
                rexist_server::stored_exports::spec_of(&stored)
                    .map_err(|e| anyhow::anyhow!("stored export {name:?}: {e}"))?
            }
        }
        (None, Some(format)) => ExportConfig {
            name: "rexist".to_owned(),
            format: format.clone(),
            description: None,
            types: args.types.clone(),
            source: args.source.clone(),
            tag: args.tag.clone(),
            min_score: args.min_score,
            tlp: None,
            active_only: !args.all,
            since: args.since.clone(),
        }
        .validate()
        .map_err(|e| anyhow::anyhow!(e.replace("export \"rexist\": ", "--")))?,
        (None, None) => bail!("give an export NAME or --format"),
    };
    let clearance = args.tlp.unwrap_or(Tlp::Red);
    // Streamed page by page into the file or directory: memory stays flat
    // whatever the store holds (a STIX bundle of millions of indicators is
    // gigabytes).
    let rendered = if spec.format == Format::Misp {
        let Some(dir) = &args.out else {
            bail!("a MISP feed is a directory: give --out DIR");
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        render_feed_dir(store.as_ref(), &spec, clearance, dir)
            .await?
            .0
    } else if let Some(path) = &args.out {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let (file, summary) = render_to(store.as_ref(), &spec, clearance, file).await?;
        // A regular file is synced before the export counts as written; a
        // device or pipe (`--out /dev/null`) cannot be, and need not be.
        if file.metadata().is_ok_and(|m| m.is_file()) {
            file.sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        summary
    } else {
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stdout = ClosedPipe {
            inner: std::io::stdout(),
            closed: std::sync::Arc::clone(&closed),
        };
        match render_to(store.as_ref(), &spec, clearance, stdout).await {
            Ok((mut out, summary)) => {
                if let Err(e) = out.flush()
                    && e.kind() != std::io::ErrorKind::BrokenPipe
                {
                    return Err(e).context("writing stdout");
                }
                summary
            }
            // A reader that stopped early (`| head`) is not an error.
            Err(_) if closed.load(std::sync::atomic::Ordering::Relaxed) => {
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(e.into()),
        }
    };
    eprintln!(
        "exported {} indicators as {}{}",
        rendered.written,
        spec.format,
        if rendered.skipped > 0 {
            format!(
                " ({} of types the format cannot express left out)",
                rendered.skipped
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Standard output that remembers whether its reader went away (a broken
/// pipe), so the export's error can be told from a reader that stopped
/// early, which is not one.
struct ClosedPipe {
    inner: std::io::Stdout,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ClosedPipe {
    fn watch<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}

impl Write for ClosedPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.watch(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.watch(r)
    }
}
