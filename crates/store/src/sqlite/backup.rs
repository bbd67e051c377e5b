//! Online backup of the SQLite store: `VACUUM INTO` a file beside the
//! destination, check it, then rename it into place.
//!
//! `VACUUM INTO` reads the store in one read transaction, so writers carry
//! on (WAL) and the copy is one consistent moment, compacted. A copy is never
//! visible under its final name until it is whole and passes `quick_check`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use crate::{Result, StoreError};

pub(super) async fn run(store: &SqliteStore, dest: &Path) -> Result<u64> {
    if dest.exists() {
        return Err(StoreError::invalid(format!(
            "{} exists: rexist backup never overwrites a file; choose a new name",
            dest.display()
        )));
    }
    let partial = partial_path(dest);
    // A partial copy from an earlier, interrupted backup is ours to replace.
    let _ = std::fs::remove_file(&partial);
    let target = partial.to_string_lossy().into_owned();
    let copied = store
        .read(move |conn| {
            conn.execute("VACUUM INTO ?1", [&target])
                .map(|_| ())
                .map_err(|e| StoreError::unavailable(format!("backup to {target} failed: {e}")))
        })
        .await;
    let checked = copied.and_then(|()| check(&partial));
    match checked.and_then(|()| {
        std::fs::rename(&partial, dest).map_err(|e| {
            StoreError::unavailable(format!(
                "cannot move the backup into place at {}: {e}",
                dest.display()
            ))
        })
    }) {
        Ok(()) => std::fs::metadata(dest)
            .map(|m| m.len())
            .map_err(|e| StoreError::unavailable(format!("{}: {e}", dest.display()))),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// `NAME.partial` in the destination's directory, so the rename is atomic.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// The copy opens and passes SQLite's `quick_check`.
fn check(path: &Path) -> Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::unavailable(format!("the backup does not open: {e}")))?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| StoreError::unavailable(format!("the backup cannot be checked: {e}")))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(StoreError::unavailable(format!(
            "the backup failed SQLite's quick_check: {verdict}"
        )))
    }
}
