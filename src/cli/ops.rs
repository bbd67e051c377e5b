//! Operations commands: `rexist backup FILE` and `rexist healthcheck`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{open_store, say};
use crate::config::Config;

/// `rexist backup FILE`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist).
    file: PathBuf,
}

/// Copies the SQLite store to a new file while `serve` keeps running.
pub async fn backup(config: &Config, args: BackupArgs) -> Result<ExitCode> {
    let store = open_store(config).await?;
    let bytes = store
        .backup(&args.file)
        .await
        .with_context(|| format!("backup to {} failed", args.file.display()))?;
    say(format_args!(
        "backup written: {} ({bytes} bytes, checked)",
        args.file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `rexist healthcheck`: asks this configuration's own `/healthz` (for a
/// container's HEALTHCHECK, which has no curl); exit 0 when it answers 200.
pub fn healthcheck(config: &Config) -> Result<ExitCode> {
    let addr = local(config.server.listen);
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("nothing answers on {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::with_capacity(512);
    stream
        .take(4096)
        .read_to_end(&mut head)
        .with_context(|| format!("{addr} did not answer /healthz"))?;
    let head = String::from_utf8_lossy(&head);
    let status = head.split_whitespace().nth(1).unwrap_or("none");
    if status == "200" {
        say(format_args!("healthy: {addr} answered 200"));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("unhealthy: {addr} answered {status} to /healthz");
        Ok(ExitCode::FAILURE)
    }
}

/// The address to reach a server listening on `listen` from this host.
fn local(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}
