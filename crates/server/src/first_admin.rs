//! The first admin: `rexist serve` on a store without users creates `admin`
//! with a random password and leaves that password in
//! `<data dir>/initial-admin-password` (mode 0600), so the first login needs
//! nothing looked up. Changing that user's password (API or CLI) deletes
//! the file; a store that has users never gets one.

use std::io::Write;
use std::path::{Path, PathBuf};

use rexist_core::{NewAudit, Role};
use rexist_store::{Store, StoreError};

use crate::auth::hash_password;

/// The first admin's login name.
pub const USER: &str = "admin";
/// The file, in the data directory, that holds the first admin's password.
pub const FILE_NAME: &str = "initial-admin-password";
/// Length of the generated password: 24 characters of 62 is about 143 bits.
const PASSWORD_LEN: usize = 24;
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What went wrong creating the first admin.
#[derive(Debug, thiserror::Error)]
pub enum FirstAdminError {
    /// The store could not list or create users.
    #[error("first admin: {0}")]
    Store(#[from] StoreError),
    /// The password file could not be written.
    #[error("first admin: cannot write {path}: {source}")]
    File {
        /// The password file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Hashing the password failed.
    #[error("first admin: {0}")]
    Hash(String),
}

/// Where the first admin's password is kept under `data_dir`.
pub fn password_file(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Creates the first admin when the store has no users at all, writing its
/// password to [`password_file`]; returns that file's path, or `None` when
/// users exist (nothing is touched then).
///
/// # Errors
/// The store failing, the file not being writable, or hashing failing; on a
/// failed user creation the file is removed again. When another node on the
/// same database creates the user first, this one writes no file.
pub async fn ensure(
    store: &dyn Store,
    data_dir: &Path,
) -> Result<Option<PathBuf>, FirstAdminError> {
    if !store.list_users().await?.is_empty() {
        return Ok(None);
    }
    let password = random_password();
    let path = password_file(data_dir);
    // The file first: a user whose password is written nowhere would lock
    // everybody out, while a file without a user is removed below.
    write_private(&path, &password).map_err(|source| FirstAdminError::File {
        path: path.clone(),
        source,
    })?;
    let created = async {
        let hash = hash_password(&password).map_err(FirstAdminError::Hash)?;
        store.create_user(USER, &hash, Role::Admin).await?;
        Ok::<_, FirstAdminError>(())
    }
    .await;
    match created {
        Ok(()) => {}
        // Another node sharing the database created it first: its file holds
        // the password, ours would not work.
        Err(FirstAdminError::Store(e)) if e.kind() == rexist_store::ErrorKind::Conflict => {
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    }
    let entry = NewAudit {
        actor: "serve".to_owned(),
        action: "user.add".to_owned(),
        target: Some(USER.to_owned()),
        outcome: "ok".to_owned(),
        address: None,
    };
    if let Err(e) = store.record_audit(&entry).await {
        tracing::warn!(error = %e, "could not write the audit log");
    }
    Ok(Some(path))
}

/// Deletes the first admin's password file after `user`'s password changed,
/// if `user` is the first admin; a missing file is fine.
pub fn password_changed(data_dir: &Path, user: &str) {
    if user != USER {
        return;
    }
    let path = password_file(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            tracing::info!(file = %path.display(), "first admin password changed: file deleted");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot delete the first admin password file");
        }
    }
}

/// A password of [`PASSWORD_LEN`] letters and digits from the OS CSPRNG.
fn random_password() -> String {
    let mut password = String::with_capacity(PASSWORD_LEN);
    let mut bytes = [0u8; 64];
    while password.len() < PASSWORD_LEN {
        crate::auth::random_bytes(&mut bytes);
        // 248 = 4 × 62: rejecting the bytes above keeps every character equally likely.
        for b in bytes.iter().filter(|b| **b < 248) {
            if password.len() == PASSWORD_LEN {
                break;
            }
            password.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
        }
    }
    password
}

/// Writes `password` and a newline to a file created with mode 0600, so it
/// is never readable by others, not even between creation and a chmod.
/// A stale file (a store emptied by hand) is replaced.
fn write_private(path: &Path, password: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{password}")?;
    file.sync_all()
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "reads the small file these tests wrote"
)]
mod tests {
    use super::*;
    use crate::auth::verify_password;

    async fn temp_store(dir: &Path) -> std::sync::Arc<dyn Store> {
        rexist_store::open(None, dir).await.expect("temp store")
    }

    #[test]
    fn passwords_are_long_random_and_alphanumeric() {
        let a = random_password();
        let b = random_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(a.len() >= 20);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn first_start_creates_an_admin_whose_password_is_in_a_private_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = temp_store(dir.path()).await;
        let path = ensure(store.as_ref(), dir.path())
            .await
            .expect("ensure")
            .expect("created");
        assert_eq!(path, dir.path().join(FILE_NAME));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let password = std::fs::read_to_string(&path).expect("read");
        let password = password.trim_end();
        assert!(password.len() >= 20);
        let (user, hash) = store
            .user_credentials(USER)
            .await
            .expect("lookup")
            .expect("admin exists");
        assert_eq!(user.role, Role::Admin);
        assert!(verify_password(password, &hash));

        // A second start changes nothing.
        assert!(
            ensure(store.as_ref(), dir.path())
                .await
                .expect("again")
                .is_none()
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read").trim_end(),
            password
        );
        assert_eq!(store.list_users().await.expect("list").len(), 1);

        password_changed(dir.path(), "someone-else");
        assert!(path.exists());
        password_changed(dir.path(), USER);
        assert!(!path.exists());
        password_changed(dir.path(), USER);
    }

    #[tokio::test]
    async fn a_store_with_users_gets_no_first_admin() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = temp_store(dir.path()).await;
        let hash = hash_password("correct horse battery").expect("hash");
        store
            .create_user("alice", &hash, Role::Viewer)
            .await
            .expect("create");
        assert!(
            ensure(store.as_ref(), dir.path())
                .await
                .expect("ensure")
                .is_none()
        );
        assert!(!dir.path().join(FILE_NAME).exists());
        assert!(
            store
                .user_credentials(USER)
                .await
                .expect("lookup")
                .is_none()
        );
    }
}
