//! Subcommands. Each module holds one command's arguments and its run function.

mod bench;
mod bench_exchange;
mod bench_hunt;
mod bench_lookup;
// Times whole downloads from rexist's own loopback server: reading the
// body whole is what is measured, and nothing outside is read.
#[allow(clippy::disallowed_methods)]
mod bench_sharing;
mod bench_ui;
mod config_check;
mod demo;
mod export;
mod extract;
mod hunt;
mod ingest;
mod lookup;
mod ops;
mod serve;
mod source;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use rexist_store::Store;

use crate::config::{self, Config, Flags, LogFormat};

/// rexist: cyber-threat-intelligence aggregation — feeds, MISP, news, hunts, lookup, TAXII, exports.
#[derive(Debug, Parser)]
#[command(name = "rexist", version, about, long_about = None)]
pub struct Cli {
    /// Data directory (SQLite database, caches) [default: ./rexist-data; env `REXIST_DATA_DIR`]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file [default: ./rexist.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web UI, the REST API, /healthz and /metrics.
    Serve(serve::Args),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the SQLite store to a new file while rexist keeps running (PostgreSQL: see docs/operations.md).
    Backup(ops::BackupArgs),
    /// Ask this configuration's server for /healthz; exit 0 when healthy (for container health checks).
    Healthcheck,
    /// Check configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Sources: list them with their health, run one now, enable or disable.
    Source {
        #[command(subcommand)]
        command: source::Command,
    },
    /// Load the bundled sample data for a first look (`--remove` takes it out).
    Demo(demo::Args),
    /// Load data into the store.
    Ingest {
        #[command(subcommand)]
        command: ingest::Command,
    },
    /// Print the indicators found in text on stdin as JSON lines.
    Extract(extract::ExtractArgs),
    /// Rewrite defanged indicators on stdin to their real form (`evil[.]com` → `evil.com`).
    Refang,
    /// Defang the indicators on stdin so they cannot be clicked (`evil.com` → `evil[.]com`).
    Defang,
    /// Hunts: saved queries and watchlists, their hits and alerts.
    Hunt {
        #[command(subcommand)]
        command: hunt::Command,
    },
    /// Everything known about an IP, domain, URL, hash, e-mail or CVE.
    Lookup(lookup::Args),
    /// Write a saved or ad-hoc export (STIX, MISP feed, CSV, firewall lists, RPZ, Suricata, Zeek, hosts).
    Export(export::Args),
    /// User accounts: add, passwd, role, disable, enable, list.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// API tokens: create (printed once), list, revoke.
    Token {
        #[command(subcommand)]
        command: user::TokenCommand,
    },
    /// Measure throughput.
    Bench {
        #[command(subcommand)]
        command: bench::Command,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective settings (secrets hidden).
    Check,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // Filters read stdin and write stdout: no store or logging, and no
    // configuration but `extract`'s `[extract] extra_tlds`.
    match &cli.command {
        Command::Refang => return extract::fang(false),
        Command::Defang => return extract::fang(true),
        Command::Hunt { command } => {
            if let Some(done) = hunt::test_only(command) {
                return done;
            }
        }
        _ => {}
    }
    let flags = Flags {
        data_dir: cli.data_dir.clone(),
        listen: match &cli.command {
            Command::Serve(a) => a.listen,
            _ => None,
        },
    };
    let (config, origin) = config::load(cli.config.as_deref(), &flags)?;
    if let Command::Extract(args) = &cli.command {
        return extract::extract(&config, args);
    }
    if let Command::Config {
        command: ConfigCommand::Check,
    } = &cli.command
    {
        return Ok(config_check::run(&config, &origin));
    }
    if let Command::Healthcheck = &cli.command {
        return ops::healthcheck(&config);
    }
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&config, args).await,
            Command::Migrate => {
                let store = open_store(&config).await?;
                tracing::info!(backend = store.backend().as_str(), "migrations applied");
                say(format_args!(
                    "database is up to date ({})",
                    store.backend().as_str()
                ));
                Ok(ExitCode::SUCCESS)
            }
            Command::Backup(args) => ops::backup(&config, args).await,
            Command::Demo(args) => demo::run(&config, args).await,
            Command::Ingest { command } => ingest::run(&config, command).await,
            Command::Source { command } => source::run(&config, command).await,
            Command::Bench { command } => bench::run(&config, command).await,
            Command::Hunt { command } => hunt::run(&config, command).await,
            Command::Lookup(args) => lookup::run(&config, args).await,
            Command::Export(args) => export::run(&config, args).await,
            Command::User { command } => user::run_user(&config, command).await,
            Command::Token { command } => user::run_token(&config, command).await,
            Command::Config { .. }
            | Command::Healthcheck
            | Command::Extract(_)
            | Command::Refang
            | Command::Defang => Ok(ExitCode::SUCCESS),
        }
    });
    // A store call still running on the blocking pool (a batch a shutdown
    // cut short) gets a moment to commit or roll back, not forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// Ctrl-C and SIGTERM, listened for from creation on: a signal that comes
/// before the first wait is kept, not left to kill the process.
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Starts listening (inside the runtime).
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves at the next Ctrl-C or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
                let received = match s {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !received {
                    std::future::pending::<()>().await;
                }
            }
            tokio::select! {
                () = next(self.interrupt.as_mut()) => {}
                () = next(self.terminate.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Heartbeat, lease and sweep timings: the defaults (heartbeats every
/// 10 s), or scaled from the hidden `REXIST_HEARTBEAT_MS` so tests need not
/// wait a minute for a dead run to be noticed.
pub fn liveness() -> rexist_pipeline::liveness::Liveness {
    env_millis("REXIST_HEARTBEAT_MS").map_or_else(
        rexist_pipeline::liveness::Liveness::default,
        rexist_pipeline::liveness::Liveness::from_heartbeat,
    )
}

/// How long `serve` lets running source runs finish after SIGTERM or
/// Ctrl-C before it cuts them short: 20 s, or the hidden
/// `REXIST_SHUTDOWN_GRACE_MS`.
pub fn shutdown_grace() -> std::time::Duration {
    env_millis("REXIST_SHUTDOWN_GRACE_MS").unwrap_or(std::time::Duration::from_secs(20))
}

/// A positive number of milliseconds from the environment variable `name`;
/// an unusable value is reported and ignored.
fn env_millis(name: &str) -> Option<std::time::Duration> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(std::time::Duration::from_millis(ms)),
        _ => {
            tracing::warn!(variable = name, value = %raw, "not a positive number of milliseconds: ignored");
            None
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Opens the configured store and applies migrations, with one clear error.
/// Reads and bookkeeping go to it; writes go through [`open_ingest`].
///
/// On SQLite every start also marks the runs of dead processes interrupted
/// (a process killed mid-run leaves its run `running`; the heartbeat tells
/// it from a live one next to it). On PostgreSQL only `serve` nodes sweep,
/// so a client whose clock is off cannot cut others' runs short.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    let url = config.database_url()?;
    let store = rexist_store::open_with_replica(
        url.as_ref().map(config::Secret::expose),
        config
            .database_read_url
            .as_ref()
            .map(config::Secret::expose),
        &config.data_dir,
    )
    .await
    .context("cannot open the store")?;
    if store.backend() == rexist_store::Backend::Sqlite {
        if let Err(e) = rexist_pipeline::liveness::sweep_once(&store, liveness().stale_after).await
        {
            tracing::warn!(error = %e, "sweep for interrupted runs failed");
        }
    }
    Ok(store)
}

/// The one way writes enter `store`: warning lists (loaded on first use)
/// and hunts on the way in.
pub fn open_ingest(config: &Config, store: &Arc<dyn Store>) -> Arc<rexist_pipeline::Ingest> {
    let lists = config.clone();
    let loader: rexist_pipeline::hunter::ListsLoader =
        std::sync::Arc::new(move || match lists.warning_lists() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "warning lists not applied");
                None
            }
        });
    rexist_pipeline::Ingest::with_extractor(Arc::clone(store), Some(loader), config.extractor())
}

/// After a command stored data: sends the alerts its hits queued, so a
/// one-off `ingest` or `source run` alerts without a server running. A
/// failure is reported, never fatal: the alerts stay in the outbox.
pub async fn deliver_alerts(config: &Config, store: &Arc<dyn Store>) {
    let channels = match config.channels() {
        Ok(c) if c.is_empty() => return,
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "alerts not sent: channel configuration");
            return;
        }
    };
    let opts = match config.dispatch_options() {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "alerts not sent: [alerts] configuration");
            return;
        }
    };
    let opts = rexist_pipeline::alerts::DispatchOptions {
        lease: liveness().lease,
        ..opts
    };
    let dispatcher = rexist_pipeline::alerts::Dispatcher::new(Arc::clone(store), channels, opts);
    match dispatcher.pass().await {
        Ok(p) if p.sent + p.retried + p.failed > 0 => say(format_args!(
            "alerts: {} sent, {} to retry, {} failed",
            p.sent, p.retried, p.failed
        )),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "alerts not sent"),
    }
}

/// Prints one line of command output. When the reader has gone (`rexist source
/// list | head`), the command ends quietly instead of panicking on `EPIPE`.
pub fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}
